//! A reader or writer that calls a function after each read or write: how
//! long file work (hashing, writing or unpacking a layer) keeps a build's
//! live view ticking without a thread beside it.

use std::io::{self, Read, Write};

pub struct Ticked<T, F> {
    inner: T,
    tick: F,
}

impl<T, F: Fn()> Ticked<T, F> {
    pub fn new(inner: T, tick: F) -> Ticked<T, F> {
        Ticked { inner, tick }
    }
}

impl<T: Read, F: Fn()> Read for Ticked<T, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.tick)();
        Ok(n)
    }
}

impl<T: Write, F: Fn()> Write for Ticked<T, F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        (self.tick)();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn bytes_pass_through_and_each_call_ticks() {
        let ticks = Cell::new(0);
        let count = || ticks.set(ticks.get() + 1);
        let mut out = Ticked::new(Vec::new(), count);
        out.write_all(b"ab").unwrap();
        out.write_all(b"c").unwrap();
        assert_eq!(out.inner, b"abc");
        assert_eq!(ticks.get(), 2);
        let mut read = String::new();
        Ticked::new(&b"xyz"[..], count)
            .read_to_string(&mut read)
            .unwrap();
        assert_eq!(read, "xyz");
        assert!(ticks.get() >= 3, "a read ticks, the final empty one too");
    }
}
