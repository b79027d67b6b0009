//! Small helpers shared by several modules.

pub mod atomic;
pub mod filter;
pub mod records;
pub mod suggest;
pub mod tail;
pub mod template;
pub mod term;
pub mod ticked;
pub mod time;
