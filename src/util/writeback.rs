//! Starting a small file's writeback before it replaces another by rename.
//!
//! ext4 (`auto_da_alloc`, the default) flushes a file's delayed blocks
//! inside `rename` when the rename replaces an existing file, which was
//! measured at ~4 ms per save on this kind of VM. Starting the writeback
//! ourselves first (`sync_file_range(SYNC_FILE_RANGE_WRITE)`: submit, do not
//! wait) gives the same crash behaviour (the data is on its way before the
//! new name is) at ~30 µs, and the rename then has nothing left to flush.

use std::fs::File;
use std::os::fd::AsRawFd;

/// Submits `file`'s dirty pages for writeback without waiting. Best-effort:
/// a filesystem that does not support it only loses the speed-up.
pub fn start_writeback(file: &File) {
    // SAFETY: sync_file_range only reads the fd, which `file` keeps open.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}
