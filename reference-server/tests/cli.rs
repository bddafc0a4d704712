//! The binary's own behaviour on bad configuration: one `error: …` line, exit 2, no backtrace, and
//! nothing served.

use std::process::Command;

fn server(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(args)
        // Backtraces are what a panic or an `anyhow` error would print; none may appear.
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .output()
        .expect("reference-server runs")
}

fn refused(args: &[&str], needle: &str) {
    let out = server(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{args:?}: one error line, got {stderr}");
    assert!(errors[0].contains(needle), "{args:?}: {stderr}");
    assert!(!stderr.contains("backtrace"), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
}

#[test]
fn a_short_jwt_secret_is_refused_with_what_is_allowed() {
    refused(&["--jwt-secret", "short"], "at least 16 bytes");
}

#[test]
fn a_files_directory_that_is_a_file_is_refused_with_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    refused(
        &[
            "--listen",
            "127.0.0.1:0",
            "--jwt-secret",
            "0123456789abcdef0123",
            "--files-dir",
            file.to_str().unwrap(),
        ],
        "not-a-dir",
    );
}

#[test]
fn a_listen_address_in_use_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    refused(
        &[
            "--listen",
            &addr,
            "--jwt-secret",
            "0123456789abcdef0123",
            "--files-dir",
            tmp.path().to_str().unwrap(),
        ],
        &addr,
    );
}
