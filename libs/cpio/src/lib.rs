//! cpio "newc" (`070701`) and "crc" (`070702`) archives, as used by the Linux
//! initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! * [`entries`] is a zero-copy reader: every [`Entry`] borrows its name and
//!   data from the archive. Several archives concatenated with NUL padding
//!   between them (as the kernel accepts) read as one stream.
//! * [`Writer`] produces a newc archive.
//!
//! Layout of one member: a 110-byte ASCII header (6-byte magic, 13 fields of
//! 8 hex digits), the NUL-terminated name, padding to a multiple of 4, the
//! data, padding to a multiple of 4. The last member is `TRAILER!!!`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod entry;
mod error;
mod header;
mod reader;
mod writer;

pub use entry::Entry;
pub use error::Error;
pub use reader::{entries, Entries};
pub use writer::Writer;

/// Magic of the "newc" format (no checksum).
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
/// Magic of the "crc" format (newc plus a byte-sum of the data).
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Size of the ASCII header.
pub const HEADER_LEN: usize = 110;
/// Name of the member that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// Round `n` up to a multiple of 4, `None` on overflow.
pub(crate) fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

#[cfg(test)]
mod tests;
