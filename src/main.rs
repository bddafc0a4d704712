//! `stampede` binary.
fn main() {}
