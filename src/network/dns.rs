//! The embedded DNS resolver: placeholder until the server lands.

use std::path::Path;

/// Starts the resolver for `root` if it is not running.
pub fn ensure_server(_root: &Path) -> std::io::Result<()> {
    Ok(())
}
