//! Reference chat server (skeleton).
