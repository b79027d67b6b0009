//! Local image store: content-addressed blobs, one unpacked directory per
//! layer (used as overlayfs lower dirs) and an `images.json` index.

mod fsat;
pub mod reference;
pub mod rfc3339;
pub mod sha256;
pub mod unpack;
mod unpack_entry;

pub use reference::{parse_reference, Reference, ReferenceError};
pub use unpack::{unpack_layer, UnpackError, UnpackStats};
