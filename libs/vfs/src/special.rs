//! Contents of a special (procfs/sysfs) file, as its opener sees them.
//!
//! Most special files are small texts generated at open time (a `Vec<u8>`);
//! some are views of something large that is read on demand, such as
//! /proc/vmcore (the previous kernel's memory), which never fits in a buffer.

use abi::Errno;
use alloc::vec::Vec;

/// What reads, `lseek(SEEK_END)` and `fstat` of an open special file use.
pub trait SpecialContents: Send + Sync {
    /// Size in bytes.
    fn len(&self) -> u64;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copy bytes at `offset` into `buf`; 0 at or past the end.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno>;
}

impl SpecialContents for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.as_slice().len());
        let avail = &self[start..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        Ok(n)
    }
}

impl core::fmt::Debug for dyn SpecialContents {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SpecialContents({} bytes)", self.len())
    }
}
