//! Multi-agent collaboration: assigning tasks to agents.
pub mod assign;
pub mod hungarian;
