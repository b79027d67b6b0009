//! Small helpers shared by several modules.

pub mod suggest;
pub mod time;
pub mod writeback;
