//! The kexos file system as pure logic: an in-memory tree ([`Vfs`]), open
//! file objects ([`OpenFile`]), path normalization ([`path`]) and the
//! per-process descriptor table ([`FdTable`]).
//!
//! Nothing here locks or touches hardware; the kernel wraps a [`Vfs`] in a
//! lock and translates the `Result<_, Errno>` values into syscall returns.
//! Semantics follow Linux (ramfs/tmpfs) where the two can be compared.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod fdtable;
mod io;
mod node;
mod open;
mod ops;
pub mod path;
mod special;
mod tree;
mod unpack;
mod walk;

pub use abi::Errno;
pub use fdtable::FdTable;
pub use node::{FileBytes, NodeKind};
pub use open::OpenFile;
pub use special::SpecialContents;
pub use tree::Vfs;

/// An inode number.
pub type Ino = u64;
/// Inode number of `/`.
pub const ROOT_INO: Ino = 1;
/// Largest regular file (`write` past it fails with `EFBIG`).
pub const MAX_FILE_SIZE: u64 = 1 << 30;
/// Symbolic links followed in one lookup before `ELOOP` (Linux's MAXSYMLINKS).
pub const MAX_SYMLINKS: u32 = 40;
/// `st_blksize` reported by `stat`.
pub const BLOCK_SIZE: i64 = 4096;

#[cfg(test)]
mod tests;
