//! Scenario files (TOML): the model, validation with precise errors, and lowering into a
//! [`LoadPlan`](crate::engine::plan::LoadPlan).
