//! Inodes.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::fs::{DT_CHR, DT_DIR, DT_LNK, DT_REG, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG};

use crate::Ino;

/// What an inode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file held in memory.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A regular file whose contents the kernel generates at open time
    /// (procfs); the number identifies the generator.
    Special(u32),
    /// A character device node (`st_rdev` in Linux's encoding); the kernel
    /// gives it its behaviour (/dev/null, /dev/zero, /dev/console).
    CharDev(u32),
}

impl NodeKind {
    /// The `S_IF*` type bits.
    pub fn type_bits(self) -> u32 {
        match self {
            NodeKind::File | NodeKind::Special(_) => S_IFREG,
            NodeKind::Dir => S_IFDIR,
            NodeKind::Symlink => S_IFLNK,
            NodeKind::CharDev(_) => S_IFCHR,
        }
    }

    /// The `d_type` of a `linux_dirent64`.
    pub fn d_type(self) -> u8 {
        match self {
            NodeKind::File | NodeKind::Special(_) => DT_REG,
            NodeKind::Dir => DT_DIR,
            NodeKind::Symlink => DT_LNK,
            NodeKind::CharDev(_) => DT_CHR,
        }
    }
}

/// A regular file's bytes: owned, or borrowed from memory the kernel keeps
/// for good (e.g. the initramfs image it booted with) until the first write
/// copies them (copy-on-write), so serving such a file costs no copy. Owned
/// bytes are shared with any [`FileBytes`] taken from them; a write while
/// one is alive copies them first, so the reader keeps what it took.
#[derive(Clone, Debug)]
pub(crate) enum Contents {
    Owned(Arc<Vec<u8>>),
    Static(&'static [u8]),
}

impl Default for Contents {
    fn default() -> Contents {
        Contents::Owned(Arc::new(Vec::new()))
    }
}

impl core::ops::Deref for Contents {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Contents::Owned(v) => v,
            Contents::Static(s) => s,
        }
    }
}

impl Contents {
    /// The bytes, made owned and unshared (and so writable) first if they
    /// were borrowed or are held by a [`FileBytes`]. `ENOSPC` if the copy
    /// cannot be allocated.
    pub fn make_mut(&mut self) -> Result<&mut Vec<u8>, abi::Errno> {
        let shared = match self {
            Contents::Static(s) => Some(*s),
            Contents::Owned(v) if Arc::strong_count(v) > 1 => Some(&v[..]),
            Contents::Owned(_) => None,
        };
        if let Some(bytes) = shared {
            let mut v = Vec::new();
            v.try_reserve_exact(bytes.len()).map_err(|_| abi::Errno::ENOSPC)?;
            v.extend_from_slice(bytes);
            *self = Contents::Owned(Arc::new(v));
        }
        match self {
            Contents::Owned(v) => Arc::get_mut(v).ok_or(abi::Errno::ENOSPC),
            Contents::Static(_) => unreachable!("converted above"),
        }
    }

    /// The bytes as they are now, without copying them.
    pub fn snapshot(&self) -> FileBytes {
        match self {
            Contents::Owned(v) => FileBytes(Snapshot::Shared(v.clone())),
            Contents::Static(s) => FileBytes(Snapshot::Static(s)),
        }
    }
}

/// A file's contents at one moment, taken without a copy
/// ([`crate::Vfs::file_bytes`]): later writes to the file do not change it
/// (kernel_read_file's stable view, for the kexec loader).
#[derive(Clone, Debug)]
pub struct FileBytes(Snapshot);

#[derive(Clone, Debug)]
enum Snapshot {
    Shared(Arc<Vec<u8>>),
    Static(&'static [u8]),
}

impl core::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Snapshot::Shared(v) => v,
            Snapshot::Static(s) => s,
        }
    }
}

/// The contents of an inode.
#[derive(Clone, Debug)]
pub(crate) enum Data {
    File(Contents),
    Dir(BTreeMap<String, Ino>),
    Symlink(String),
    Special(u32),
    CharDev(u32),
}

/// One inode. It lives while a directory entry names it (`linked`) or an
/// [`crate::OpenFile`] refers to it (`opens > 0`).
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub data: Data,
    /// Permission bits (no type bits).
    pub mode: u32,
    /// Containing directory (for `..`); the root is its own parent.
    pub parent: Ino,
    /// Still named by a directory entry.
    pub linked: bool,
    /// Open file objects referring to this inode.
    pub opens: u32,
    /// Of those, how many were opened for writing.
    pub writers: u32,
    /// Modification time in seconds (from the archive; 0 otherwise).
    pub mtime: u64,
}

impl Node {
    /// A fresh, linked node.
    pub fn new(data: Data, mode: u32, parent: Ino) -> Node {
        Node {
            data,
            mode: mode & 0o7777,
            parent,
            linked: true,
            opens: 0,
            writers: 0,
            mtime: 0,
        }
    }

    /// The public kind of this node.
    pub fn kind(&self) -> NodeKind {
        match self.data {
            Data::File(_) => NodeKind::File,
            Data::Dir(_) => NodeKind::Dir,
            Data::Symlink(_) => NodeKind::Symlink,
            Data::Special(id) => NodeKind::Special(id),
            Data::CharDev(rdev) => NodeKind::CharDev(rdev),
        }
    }

    /// The children, if this is a directory.
    pub fn children(&self) -> Option<&BTreeMap<String, Ino>> {
        match &self.data {
            Data::Dir(c) => Some(c),
            _ => None,
        }
    }

    /// Bytes reported as `st_size`.
    pub fn size(&self) -> u64 {
        match &self.data {
            Data::File(d) => d.len() as u64,
            Data::Symlink(t) => t.len() as u64,
            Data::Dir(_) | Data::Special(_) | Data::CharDev(_) => 0,
        }
    }

    /// May the node be dropped from the inode table?
    pub fn is_unused(&self) -> bool {
        !self.linked && self.opens == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let n = Node::new(Data::Special(3), 0o100444, 1);
        assert_eq!(n.mode, 0o444);
        assert_eq!(n.kind(), NodeKind::Special(3));
        assert_eq!(n.kind().type_bits(), S_IFREG);
        assert_eq!(NodeKind::Symlink.d_type(), DT_LNK);
        assert_eq!(NodeKind::Dir.type_bits(), S_IFDIR);
        assert!(!n.is_unused());
        assert_eq!(Node::new(Data::Symlink("abc".into()), 0o777, 1).size(), 3);
    }
}
