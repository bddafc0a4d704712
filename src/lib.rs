//! stampede (skeleton).
