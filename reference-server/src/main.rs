//! `reference-server` binary.
fn main() {}
