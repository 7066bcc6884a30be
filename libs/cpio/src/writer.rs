//! newc archive writer.

use alloc::vec::Vec;

use abi::fs::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

use crate::header::Header;
use crate::{Error, TRAILER};

/// Builds a newc (`070701`) archive in memory.
///
/// Every member gets a fresh inode number (starting at 1); directories have
/// nlink 2, everything else 1; uid, gid and mtime are 0. Leading `/` are
/// removed from paths (the reader strips them anyway).
#[derive(Clone, Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
    next_ino: u32,
}

impl Writer {
    /// An empty archive.
    pub fn new() -> Writer {
        Writer {
            out: Vec::new(),
            next_ino: 1,
        }
    }

    /// Add a directory; `mode` holds permission bits (`S_IFDIR` is added).
    ///
    /// # Panics
    /// If `path` is empty after removing leading `/`, contains NUL, or is
    /// longer than 4 GiB (see [`Writer::try_add`]).
    pub fn add_dir(&mut self, path: &str, mode: u32) {
        must(self.try_add(path, S_IFDIR | (mode & !S_IFMT), b""));
    }

    /// Add a regular file; `mode` holds permission bits (`S_IFREG` is added).
    ///
    /// # Panics
    /// As [`Writer::add_dir`], or if `data` is 4 GiB or larger.
    pub fn add_file(&mut self, path: &str, mode: u32, data: &[u8]) {
        must(self.try_add(path, S_IFREG | (mode & !S_IFMT), data));
    }

    /// Add a symbolic link (mode 0777) pointing at `target`.
    ///
    /// # Panics
    /// As [`Writer::add_dir`].
    pub fn add_symlink(&mut self, path: &str, target: &str) {
        must(self.try_add(path, S_IFLNK | 0o777, target.as_bytes()));
    }

    /// Add a member with a full `mode` (type and permission bits).
    pub fn try_add(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), Error> {
        let name = path.trim_start_matches('/');
        if name.is_empty() || name.contains('\0') {
            return Err(Error::BadName {
                offset: self.out.len(),
            });
        }
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        let ino = self.next_ino;
        self.member(ino, mode, nlink, name, data)?;
        self.next_ino = self.next_ino.wrapping_add(1).max(1);
        Ok(())
    }

    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True if nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Append the trailer, pad to a multiple of 512 bytes and return the archive.
    pub fn finish(mut self) -> Vec<u8> {
        // The trailer name and empty data always fit.
        let _ = self.member(0, 0, 1, TRAILER, b"");
        let len = self.out.len().next_multiple_of(512);
        self.out.resize(len, 0);
        self.out
    }

    /// Append one header + name + data with padding.
    fn member(
        &mut self,
        ino: u32,
        mode: u32,
        nlink: u32,
        name: &str,
        data: &[u8],
    ) -> Result<(), Error> {
        let namesize = fit_u32("name", name.len() + 1)?;
        let filesize = fit_u32("data", data.len())?;
        let header = Header {
            ino,
            mode,
            nlink,
            namesize,
            filesize,
            ..Header::default()
        };
        header.write(&mut self.out);
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad4();
        self.out.extend_from_slice(data);
        self.pad4();
        Ok(())
    }

    fn pad4(&mut self) {
        let len = self.out.len().next_multiple_of(4);
        self.out.resize(len, 0);
    }
}

/// Turn a writer error into the documented panic.
fn must(r: Result<(), Error>) {
    if let Err(e) = r {
        panic!("{e}");
    }
}

fn fit_u32(what: &'static str, len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::TooLarge { what, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mut w = Writer::new();
        w.add_file("/a", 0o644, b"xyz");
        let out = w.finish();
        assert_eq!(out.len(), 512);
        assert_eq!(&out[..6], b"070701");
        // header 110 + "a\0" = 112 (aligned), then data "xyz" + 1 pad.
        assert_eq!(&out[110..112], b"a\0");
        assert_eq!(&out[112..116], b"xyz\0");
        assert_eq!(&out[116..122], b"070701");
        assert_eq!(&out[116 + 110..116 + 121], b"TRAILER!!!\0");
        assert!(out[116 + 124..].iter().all(|&b| b == 0));
    }

    #[test]
    fn bad_names_rejected() {
        let mut w = Writer::new();
        assert_eq!(
            w.try_add("/", S_IFDIR, b""),
            Err(Error::BadName { offset: 0 })
        );
        assert_eq!(
            w.try_add("a\0b", S_IFREG, b""),
            Err(Error::BadName { offset: 0 })
        );
        assert!(w.is_empty());
    }

    #[test]
    #[should_panic]
    fn add_with_bad_name_panics() {
        Writer::new().add_dir("", 0o755);
    }
}
