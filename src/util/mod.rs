//! Small helpers shared by several modules.

pub mod atomic;
pub mod suggest;
pub mod template;
pub mod time;
