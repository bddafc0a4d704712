//! What the subcommands print on standard output. `print!` panics when the reader has gone away
//! (`stampede rescore … | head`): a closed pipe is not an error of the command, whose results are
//! already on disk, so these writers stop printing quietly instead. Any other write error (a full
//! disk under a redirect) is reported once on standard error.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output has failed: nothing more is printed, and a failure is reported once.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `args` to standard output; see the module docs for what happens when it cannot.
pub fn write(args: fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!(
                "warning: cannot write to standard output ({e}); the results on disk are complete"
            );
        }
    }
}

/// `print!` that survives a closed pipe ([`write`](fn@write)).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::stdout::write(format_args!($($arg)*)) };
}

/// `println!` that survives a closed pipe ([`write`](fn@write)).
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::stdout::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::stdout::write(format_args!("{}\n", format_args!($($arg)*))) };
}
