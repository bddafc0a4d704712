//! Measures argon2id password hashes per second at a few costs, on one core and on all cores, to pick
//! the server's default KDF cost. Every register and every login costs one hash, so this number caps
//! sign-ups + logins per second.
//!
//! `cargo run --release -p reference-server --example kdf_cost`

use std::time::{Duration, Instant};

use reference_server::KdfParams;
use reference_server::auth::Auth;

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{cores} cores; hashing for ~2 s per setting");
    println!(
        "{:>10} {:>6} {:>12} {:>14}",
        "memory KiB", "passes", "ms per hash", "hashes/s (all)"
    );
    for (memory_kib, iterations) in [
        (8, 1),
        (4 * 1024, 1),
        (12 * 1024, 2),
        (19 * 1024, 2),
        (46 * 1024, 1),
        (64 * 1024, 3),
    ] {
        let kdf = KdfParams {
            memory_kib,
            iterations,
        };
        let auth = std::sync::Arc::new(Auth::new(kdf, b"0123456789abcdef").unwrap());
        // One at a time: latency of one login.
        let start = Instant::now();
        let mut one = 0u32;
        while start.elapsed() < Duration::from_secs(1) {
            auth.hash_password("correct horse battery").await.unwrap();
            one += 1;
        }
        let per_hash = start.elapsed().as_secs_f64() * 1000.0 / f64::from(one);
        // As many at once as there are cores: the server's ceiling.
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..cores {
            let auth = auth.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0u32;
                while start.elapsed() < Duration::from_secs(1) {
                    auth.hash_password("correct horse battery").await.unwrap();
                    n += 1;
                }
                n
            }));
        }
        let mut all = 0u32;
        for task in tasks {
            all += task.await.unwrap();
        }
        let rate = f64::from(all) / start.elapsed().as_secs_f64();
        println!("{memory_kib:>10} {iterations:>6} {per_hash:>12.2} {rate:>14.0}");
    }
}
