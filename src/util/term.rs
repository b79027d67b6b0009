//! The size of the terminal behind a descriptor.

use std::os::fd::RawFd;

/// Columns and rows of the terminal on `fd`; 80×24 when it cannot say.
pub fn size_of(fd: RawFd) -> (usize, usize) {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize it is given.
    let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0;
    match ok && size.ws_col > 0 && size.ws_row > 0 {
        true => (size.ws_col as usize, size.ws_row as usize),
        false => (80, 24),
    }
}
