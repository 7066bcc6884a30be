//! One archive member.

use abi::fs::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

/// A member of a cpio archive, borrowing from the archive bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path inside the archive, with a leading `./` or `/` removed.
    pub name: &'a str,
    pub ino: u32,
    /// File type (`S_IF*`) and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    /// File contents; for a symlink the link target.
    pub data: &'a [u8],
}

impl Entry<'_> {
    /// The `S_IFMT` part of the mode.
    pub fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }
    /// The permission bits (including setuid/setgid/sticky).
    pub fn permissions(&self) -> u32 {
        self.mode & !S_IFMT
    }
    /// Is this a directory?
    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }
    /// Is this a regular file?
    pub fn is_file(&self) -> bool {
        self.file_type() == S_IFREG
    }
    /// Is this a symbolic link (its target is in `data`)?
    pub fn is_symlink(&self) -> bool {
        self.file_type() == S_IFLNK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_mode(mode: u32) -> Entry<'static> {
        Entry {
            name: "x",
            ino: 1,
            mode,
            uid: 0,
            gid: 0,
            nlink: 1,
            mtime: 0,
            data: b"",
        }
    }

    #[test]
    fn type_helpers() {
        assert!(with_mode(S_IFDIR | 0o755).is_dir());
        assert!(with_mode(S_IFREG | 0o644).is_file());
        assert!(with_mode(S_IFLNK | 0o777).is_symlink());
        let chr = with_mode(abi::fs::S_IFCHR | 0o600);
        assert!(!chr.is_dir() && !chr.is_file() && !chr.is_symlink());
        assert_eq!(with_mode(S_IFREG | 0o4755).permissions(), 0o4755);
    }
}
