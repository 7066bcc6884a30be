//! read, write, lseek, getdents64, fstat, truncate on open files.

use abi::fs::{dirent64_push, Stat, SEEK_CUR, SEEK_END, SEEK_SET};
use abi::Errno;

use crate::node::Data;
use crate::{Ino, OpenFile, Vfs};

impl Vfs {
    /// Read at `f.offset` into `buf` and advance; 0 at end of file.
    /// `EBADF` if not opened for reading, `EISDIR` for a directory. A special
    /// file reads its `snapshot` (empty if the kernel set none).
    pub fn read(&self, f: &mut OpenFile, buf: &mut [u8]) -> Result<usize, Errno> {
        if !f.readable {
            return Err(Errno::EBADF);
        }
        let src: &[u8] = match &self.node(f.ino).map_err(|_| Errno::EBADF)?.data {
            Data::File(d) => &d[..],
            Data::Special(_) => {
                let n = match &f.snapshot {
                    Some(s) => s.read_at(f.offset, buf)?,
                    None => 0,
                };
                f.offset += n as u64;
                return Ok(n);
            }
            Data::Dir(_) => return Err(Errno::EISDIR),
            // The kernel serves device nodes itself; the VFS holds no data.
            Data::Symlink(_) | Data::CharDev(_) => return Err(Errno::EINVAL),
        };
        let start = usize::try_from(f.offset)
            .unwrap_or(usize::MAX)
            .min(src.len());
        let avail = src.get(start..).unwrap_or(&[]);
        let n = avail.len().min(buf.len());
        buf.get_mut(..n)
            .ok_or(Errno::EFAULT)?
            .copy_from_slice(avail.get(..n).unwrap_or(&[]));
        f.offset = (start + n) as u64;
        Ok(n)
    }

    /// Write `data` at `f.offset` (at the end with O_APPEND) and advance,
    /// zero-filling any gap. `EBADF` if not opened for writing; `EFBIG` at
    /// [`MAX_FILE_SIZE`](crate::MAX_FILE_SIZE) (see [`Vfs::set_max_file_size`]; a write crossing
    /// it is shortened); `ENOSPC` if
    /// memory runs out.
    pub fn write(&mut self, f: &mut OpenFile, data: &[u8]) -> Result<usize, Errno> {
        if !f.writable {
            return Err(Errno::EBADF);
        }
        let max = self.max_file_size;
        let file = match &mut self.node_mut(f.ino).map_err(|_| Errno::EBADF)?.data {
            Data::File(d) => d.make_mut()?,
            Data::Dir(_) => return Err(Errno::EISDIR),
            Data::Special(_) => return Err(Errno::EACCES),
            Data::Symlink(_) | Data::CharDev(_) => return Err(Errno::EINVAL),
        };
        let offset = if f.append {
            file.len() as u64
        } else {
            f.offset
        };
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= max {
            return Err(Errno::EFBIG);
        }
        // Both are below 1 GiB here, so the casts are lossless.
        let n = data.len().min((max - offset) as usize);
        let start = offset as usize;
        let end = start + n;
        if end > file.len() {
            file.try_reserve(end - file.len())
                .map_err(|_| Errno::ENOSPC)?;
            file.resize(end, 0);
        }
        let dst = file.get_mut(start..end).ok_or(Errno::EFBIG)?;
        dst.copy_from_slice(data.get(..n).unwrap_or(&[]));
        f.offset = end as u64;
        Ok(n)
    }

    /// Reposition `f`: SEEK_SET, SEEK_CUR or SEEK_END. `EINVAL` for another
    /// `whence`, a negative or overflowing result, or SEEK_END on a
    /// directory; `EBADF` for an O_PATH file. Seeking past the end is allowed.
    pub fn lseek(&self, f: &mut OpenFile, off: i64, whence: u32) -> Result<u64, Errno> {
        if !f.readable && !f.writable {
            return Err(Errno::EBADF);
        }
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => f.offset,
            SEEK_END => self.end_of(f)?,
            _ => return Err(Errno::EINVAL),
        };
        let new = i128::from(base) + i128::from(off);
        if new < 0 || new > i128::from(i64::MAX) {
            return Err(Errno::EINVAL);
        }
        f.offset = new as u64;
        Ok(f.offset)
    }

    /// The size SEEK_END is relative to.
    fn end_of(&self, f: &OpenFile) -> Result<u64, Errno> {
        match &self.node(f.ino).map_err(|_| Errno::EBADF)?.data {
            Data::File(d) => Ok(d.len() as u64),
            Data::Special(_) => Ok(f.snapshot.as_ref().map_or(0, |s| s.len())),
            Data::Dir(_) | Data::Symlink(_) | Data::CharDev(_) => Err(Errno::EINVAL),
        }
    }

    /// Fill `out` with `linux_dirent64` records starting at entry `f.offset`
    /// (see [`Vfs::readdir_entry`]) and advance. Returns the bytes written,
    /// 0 at the end. `ENOTDIR` for a non-directory, `EBADF` for an O_PATH
    /// file, `EINVAL` if `out` cannot hold even the next record.
    pub fn getdents64(&self, f: &mut OpenFile, out: &mut [u8]) -> Result<usize, Errno> {
        if !f.readable {
            return Err(Errno::EBADF);
        }
        let mut used = 0;
        loop {
            let index = usize::try_from(f.offset).unwrap_or(usize::MAX);
            let Some((name, ino, d_type)) = self.readdir_entry(f.ino, index)? else {
                break;
            };
            let next = i64::try_from(index.saturating_add(1)).unwrap_or(i64::MAX);
            if !dirent64_push(out, &mut used, ino, next, d_type, name.as_bytes()) {
                if used == 0 {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            f.offset = next as u64;
        }
        Ok(used)
    }

    /// `stat` of an open file; a special file's size is its snapshot length.
    pub fn fstat(&self, f: &OpenFile) -> Stat {
        let mut st = self.stat(f.ino);
        if let (Ok(crate::NodeKind::Special(_)), Some(snap)) = (self.try_kind(f.ino), &f.snapshot) {
            st.st_size = i64::try_from(snap.len()).unwrap_or(i64::MAX);
            st.st_blocks = i64::try_from(snap.len().div_ceil(512)).unwrap_or(i64::MAX);
        }
        st
    }

    /// Set the size of regular file `ino`, zero-filling when it grows.
    /// `EISDIR` for a directory, `EACCES` for a special file, `EINVAL` for a
    /// symlink, `EFBIG` beyond [`MAX_FILE_SIZE`](crate::MAX_FILE_SIZE), `ENOSPC` without memory.
    pub fn truncate(&mut self, ino: Ino, len: u64) -> Result<(), Errno> {
        let max = self.max_file_size;
        let file = match &mut self.node_mut(ino)?.data {
            Data::File(d) => d.make_mut()?,
            Data::Dir(_) => return Err(Errno::EISDIR),
            Data::Special(_) => return Err(Errno::EACCES),
            Data::Symlink(_) => return Err(Errno::EINVAL),
            // O_TRUNC on a device is ignored, as Linux does for non-regular files.
            Data::CharDev(_) => return Ok(()),
        };
        if len > max {
            return Err(Errno::EFBIG);
        }
        let len = len as usize;
        if len > file.len() {
            file.try_reserve(len - file.len())
                .map_err(|_| Errno::ENOSPC)?;
        }
        file.resize(len, 0);
        if len < file.capacity() / 2 {
            file.shrink_to_fit();
        }
        Ok(())
    }

    /// ftruncate(2): like [`Vfs::truncate`] but `EINVAL` unless `f` is
    /// open for writing.
    pub fn ftruncate(&mut self, f: &OpenFile, len: u64) -> Result<(), Errno> {
        if !f.writable {
            return Err(Errno::EINVAL);
        }
        self.truncate(f.ino, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_FILE_SIZE;
    use abi::fs::{dirents, DT_DIR, DT_LNK, DT_REG, O_APPEND, O_PATH, O_RDONLY, O_RDWR, O_WRONLY};
    use alloc::string::String;
    use alloc::sync::Arc;
    use alloc::vec::Vec;

    #[test]
    fn file_bytes_are_shared_until_a_write_copies_them() {
        let mut v = Vfs::new();
        v.write_file("/k", 0o644, b"kernel v1").unwrap();
        let mut f = v.open("/k", O_RDWR, 0).unwrap();
        let taken = v.file_bytes(f.ino).unwrap();
        assert_eq!(taken.as_ptr(), v.file_data(f.ino).unwrap().as_ptr(), "no copy");
        assert_eq!(v.write(&mut f, b"KERNEL"), Ok(6));
        assert_eq!(&taken[..], b"kernel v1", "the snapshot keeps what it took");
        assert_eq!(v.file_data(f.ino), Ok(&b"KERNEL v1"[..]));
        drop(taken);
        // Unshared again: a write goes in place.
        let before = v.file_data(f.ino).unwrap().as_ptr();
        assert_eq!(v.write(&mut f, b"!"), Ok(1));
        assert_eq!(v.file_data(f.ino).unwrap().as_ptr(), before);
        // Borrowed (initramfs) bytes are served as they are.
        static ARCHIVED: &[u8] = b"from the archive";
        v.add_static_file("/s", 0o644, ARCHIVED).unwrap();
        let s = v.lookup("/s").unwrap();
        assert_eq!(v.file_bytes(s).unwrap().as_ptr(), ARCHIVED.as_ptr());
        assert_eq!(v.file_bytes(v.lookup("/").unwrap()).unwrap_err(), Errno::EISDIR);
    }

    #[test]
    fn read_write_seek() {
        let mut v = Vfs::new();
        v.write_file("/f", 0o644, b"hello world").unwrap();
        let mut f = v.open("/f", O_RDWR, 0).unwrap();
        let mut buf = [0u8; 5];
        assert_eq!(v.read(&mut f, &mut buf), Ok(5));
        assert_eq!(&buf, b"hello");
        assert_eq!(v.write(&mut f, b"_"), Ok(1));
        assert_eq!(v.lseek(&mut f, 0, SEEK_CUR), Ok(6));
        assert_eq!(v.read(&mut f, &mut buf), Ok(5));
        assert_eq!(&buf, b"world");
        assert_eq!(v.read(&mut f, &mut buf), Ok(0));
        assert_eq!(v.file_data(f.ino), Ok(&b"hello_world"[..]));
        assert_eq!(v.lseek(&mut f, -5, SEEK_END), Ok(6));
        assert_eq!(v.lseek(&mut f, 2, SEEK_SET), Ok(2));
        assert_eq!(v.lseek(&mut f, -3, SEEK_CUR), Err(Errno::EINVAL));
        assert_eq!(v.lseek(&mut f, 0, 3), Err(Errno::EINVAL));
        assert_eq!(v.lseek(&mut f, i64::MAX, SEEK_END), Err(Errno::EINVAL));
        assert_eq!(f.offset, 2, "failed seeks leave the offset alone");
        assert_eq!(v.lseek(&mut f, 100, SEEK_SET), Ok(100));
        assert_eq!(v.read(&mut f, &mut buf), Ok(0));
    }

    #[test]
    fn sparse_growth_and_append() {
        let mut v = Vfs::new();
        let mut f = v.open("/f", O_WRONLY | abi::fs::O_CREAT, 0o644).unwrap();
        v.lseek(&mut f, 4, SEEK_SET).unwrap();
        assert_eq!(v.write(&mut f, b"ab"), Ok(2));
        assert_eq!(v.file_data(f.ino), Ok(&b"\0\0\0\0ab"[..]));
        let mut a = v.open("/f", O_WRONLY | O_APPEND, 0).unwrap();
        v.lseek(&mut a, 0, SEEK_SET).unwrap();
        assert_eq!(v.write(&mut a, b"cd"), Ok(2));
        assert_eq!(a.offset, 8);
        assert_eq!(v.file_data(f.ino), Ok(&b"\0\0\0\0abcd"[..]));
        assert_eq!(v.write(&mut a, b""), Ok(0));
    }

    #[test]
    fn bad_descriptors() {
        let mut v = Vfs::new();
        v.write_file("/f", 0o644, b"x").unwrap();
        let mut r = v.open("/f", O_RDONLY, 0).unwrap();
        let mut w = v.open("/f", O_WRONLY, 0).unwrap();
        let mut p = v.open("/f", O_PATH, 0).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(v.write(&mut r, b"x"), Err(Errno::EBADF));
        assert_eq!(v.read(&mut w, &mut buf), Err(Errno::EBADF));
        assert_eq!(v.read(&mut p, &mut buf), Err(Errno::EBADF));
        assert_eq!(v.lseek(&mut p, 0, SEEK_SET), Err(Errno::EBADF));
        assert_eq!(v.ftruncate(&r, 0), Err(Errno::EINVAL));
        let mut d = v.open("/", O_RDONLY, 0).unwrap();
        assert_eq!(v.read(&mut d, &mut buf), Err(Errno::EISDIR));
        assert_eq!(v.lseek(&mut d, 0, SEEK_END), Err(Errno::EINVAL));
        assert_eq!(v.getdents64(&mut r, &mut [0u8; 64]), Err(Errno::ENOTDIR));
    }

    #[test]
    fn size_limit() {
        let mut v = Vfs::new();
        assert_eq!(v.max_file_size(), MAX_FILE_SIZE);
        let mut f = v.open("/big", O_WRONLY | abi::fs::O_CREAT, 0o644).unwrap();
        v.lseek(&mut f, MAX_FILE_SIZE as i64, SEEK_SET).unwrap();
        assert_eq!(v.write(&mut f, b"x"), Err(Errno::EFBIG));
        assert_eq!(v.truncate(f.ino, MAX_FILE_SIZE + 1), Err(Errno::EFBIG));
        // The same edge with a small limit (no 1 GiB allocation in tests).
        v.set_max_file_size(1000);
        v.lseek(&mut f, 1000, SEEK_SET).unwrap();
        assert_eq!(v.write(&mut f, b"x"), Err(Errno::EFBIG));
        v.lseek(&mut f, 998, SEEK_SET).unwrap();
        assert_eq!(v.write(&mut f, b"xyz"), Ok(2));
        assert_eq!(v.fstat(&f).st_size, 1000);
        assert_eq!(v.truncate(f.ino, 1001), Err(Errno::EFBIG));
        v.ftruncate(&f, 3).unwrap();
        assert_eq!(v.file_data(f.ino), Ok(&b"\0\0\0"[..]));
    }

    #[test]
    fn truncate_kinds() {
        let mut v = Vfs::new();
        let f = v.write_file("/f", 0o644, b"abcdef").unwrap();
        v.truncate(f, 2).unwrap();
        assert_eq!(v.file_data(f), Ok(&b"ab"[..]));
        v.truncate(f, 4).unwrap();
        assert_eq!(v.file_data(f), Ok(&b"ab\0\0"[..]));
        assert_eq!(v.truncate(crate::ROOT_INO, 0), Err(Errno::EISDIR));
        let s = v.add_special("/s", 1, 0o444).unwrap();
        assert_eq!(v.truncate(s, 0), Err(Errno::EACCES));
        let l = v.symlink("/l", "/f").unwrap();
        assert_eq!(v.truncate(l, 0), Err(Errno::EINVAL));
        assert_eq!(v.truncate(999, 0), Err(Errno::ENOENT));
    }

    #[test]
    fn special_snapshot() {
        let mut v = Vfs::new();
        v.add_special("/meminfo", 4, 0o444).unwrap();
        let mut f = v.open("/meminfo", O_RDONLY, 0).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(
            v.read(&mut f, &mut buf),
            Ok(0),
            "no snapshot yet reads empty"
        );
        assert_eq!(v.stat(f.ino).st_size, 0);
        f.snapshot = Some(Arc::new(b"MemTotal: 1 kB\n".to_vec()));
        assert_eq!(v.fstat(&f).st_size, 15);
        assert_eq!(
            v.stat(f.ino).st_size,
            0,
            "stat by path reports 0 like procfs"
        );
        assert_eq!(v.read(&mut f, &mut buf[..4]), Ok(4));
        assert_eq!(v.read(&mut f, &mut buf), Ok(11));
        assert_eq!(&buf[..11], b"otal: 1 kB\n");
        assert_eq!(v.lseek(&mut f, -3, SEEK_END), Ok(12));
    }

    fn listing(v: &Vfs, dir: &str, bufsize: usize) -> Vec<(String, u64, u8, i64)> {
        let mut vfs = v.clone();
        let mut f = vfs.open(dir, O_RDONLY, 0).unwrap();
        let mut all = Vec::new();
        let mut buf = alloc::vec![0u8; bufsize];
        let mut calls = 0;
        loop {
            let n = vfs.getdents64(&mut f, &mut buf).unwrap();
            calls += 1;
            if n == 0 {
                break;
            }
            for d in dirents(&buf[..n]) {
                all.push((
                    String::from_utf8(d.name.to_vec()).unwrap(),
                    d.ino,
                    d.d_type,
                    d.off,
                ));
            }
        }
        assert!(calls >= 2);
        all
    }

    #[test]
    fn getdents_small_buffers() {
        let mut v = Vfs::new();
        v.mkdir("/d", 0o755).unwrap();
        for name in ["zeta", "alpha", "m", "a-much-longer-name-than-the-others"] {
            v.create(&alloc::format!("/d/{name}"), 0o644).unwrap();
        }
        v.mkdir("/d/sub", 0o755).unwrap();
        v.symlink("/d/link", "zeta").unwrap();
        let d = v.lookup("/d").unwrap();
        let expect = [
            ".",
            "..",
            "a-much-longer-name-than-the-others",
            "alpha",
            "link",
            "m",
            "sub",
            "zeta",
        ];
        for size in [56, 64, 100, 4096] {
            let all = listing(&v, "/d", size);
            let names: Vec<&str> = all.iter().map(|e| e.0.as_str()).collect();
            assert_eq!(names, expect, "buffer {size}");
            assert_eq!(all[0].1, d);
            assert_eq!(all[1].1, crate::ROOT_INO);
            assert_eq!(all[4].2, DT_LNK);
            assert_eq!(all[6].2, DT_DIR);
            assert_eq!(all[7].2, DT_REG);
            let offs: Vec<i64> = all.iter().map(|e| e.3).collect();
            assert_eq!(offs, [1, 2, 3, 4, 5, 6, 7, 8]);
        }
        // A buffer too small for the next (long) entry after progress.
        let mut f = v.open("/d", O_RDONLY, 0).unwrap();
        let mut buf = [0u8; 48];
        assert_eq!(v.getdents64(&mut f, &mut buf), Ok(48));
        assert_eq!(v.getdents64(&mut f, &mut buf), Err(Errno::EINVAL));
        assert_eq!(f.offset, 2);
        assert_eq!(v.getdents64(&mut f, &mut [0u8; 0]), Err(Errno::EINVAL));
        // Rewind works.
        v.lseek(&mut f, 0, SEEK_SET).unwrap();
        assert_eq!(v.getdents64(&mut f, &mut [0u8; 24]), Ok(24));
    }
}
