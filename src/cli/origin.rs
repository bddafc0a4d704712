//! Where a flag's value came from: the command line, or its `STAMPEDE_*` variable. Error messages
//! name the variable when the value came from there, since the command line shows nothing wrong.
//!
//! Reads the clap definition (for each flag's variable) and the process's arguments and
//! environment; it decides nothing else.

use std::ffi::OsString;

use clap::CommandFactory;

use super::args::Cli;

/// The variable `flag` (e.g. `--time-scale`) of the subcommand in `argv` was read from: when the
/// flag is not on the command line and its variable is set. `argv` starts with the program name.
pub fn env_origin(flag: &str, argv: &[OsString]) -> Option<String> {
    let long = flag.strip_prefix("--")?;
    let cli = Cli::command();
    // The subcommand is the first argument: no global flag precedes it.
    let sub = argv.get(1).and_then(|s| s.to_str())?;
    let command = cli.find_subcommand(sub)?;
    let arg = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?;
    let var = arg.get_env()?.to_str()?.to_owned();
    let given = argv.iter().skip(2).filter_map(|a| a.to_str()).any(|a| {
        a == flag
            || a.strip_prefix(flag)
                .is_some_and(|rest| rest.starts_with('='))
    });
    (!given && std::env::var_os(&var).is_some()).then_some(var)
}

/// A clap error about a value, saying which variable the value came from when it came from one:
/// `invalid value 'x' for '--max-users <N>' (from STAMPEDE_MAX_USERS)`. `None` when the value came
/// from the command line (clap's message is then complete as it is).
pub fn clap_error_with_origin(error: &clap::Error, argv: &[OsString]) -> Option<String> {
    let clap::error::ContextValue::String(arg) = error.get(clap::error::ContextKind::InvalidArg)?
    else {
        return None;
    };
    let flag = arg.split_whitespace().next()?;
    let var = env_origin(flag, argv)?;
    let text = error.to_string();
    let quoted = format!("'{arg}'");
    text.contains(&quoted)
        .then(|| text.replacen(&quoted, &format!("{quoted} (from {var})"), 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("stampede")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn a_flag_on_the_command_line_is_not_from_the_environment() {
        // PATH is set everywhere; a flag whose variable is unset or which has none gives None.
        assert_eq!(
            env_origin("--time-scale", &argv(&["run", "--time-scale", "2"])),
            None
        );
        assert_eq!(
            env_origin("--time-scale", &argv(&["run", "--time-scale=2"])),
            None
        );
        assert_eq!(env_origin("--void-retries", &argv(&["bracket"])), None);
        assert_eq!(env_origin("--nonsense", &argv(&["run"])), None);
        assert_eq!(env_origin("--time-scale", &argv(&[])), None);
    }
}
