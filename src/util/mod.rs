//! Small helpers shared by several modules.

pub mod time;
pub mod writeback;
