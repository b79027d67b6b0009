//! Small helpers shared by several modules.

pub mod suggest;
pub mod template;
pub mod time;
pub mod writeback;
