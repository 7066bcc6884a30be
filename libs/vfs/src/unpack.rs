//! Unpacking an initramfs (cpio newc) into the tree.

use abi::fs::{S_IFDIR, S_IFLNK, S_IFREG};
use abi::Errno;
use cpio::Entry;

use crate::{path, NodeKind, Vfs, ROOT_INO};

impl Vfs {
    /// Unpack a cpio newc/crc stream (possibly several concatenated
    /// archives) like Linux's initramfs: parents are created as needed
    /// (0755), an existing directory is kept (its mode updated), a later
    /// file or symlink replaces an earlier one (an existing file keeps its
    /// inode and gets the new contents), and a member whose type differs
    /// from what is there replaces it (an empty directory included).
    ///
    /// Members that cannot be applied (device nodes, FIFOs, a path through a
    /// regular file, a non-empty directory in the way) are skipped as Linux
    /// does. Returns the number of members applied. A malformed archive
    /// stops with the cpio error; members before it stay unpacked.
    pub fn unpack_cpio(&mut self, archive: &[u8]) -> Result<usize, cpio::Error> {
        self.unpack_cpio_reporting(archive, |_, _| {})
    }

    /// [`Vfs::unpack_cpio`], calling `skipped(name, errno)` for every member
    /// that could not be applied (e.g. `ENOSPC` when memory runs out), so the
    /// caller can say which files are missing and why.
    pub fn unpack_cpio_reporting(&mut self, archive: &[u8], skipped: impl FnMut(&str, Errno)) -> Result<usize, cpio::Error> {
        self.unpack_with(archive, skipped, |v, path, mode, data| v.write_file(path, mode, data))
    }

    /// [`Vfs::unpack_cpio_reporting`] for an archive the caller keeps for
    /// good (the initramfs the kernel booted with): regular files borrow
    /// their bytes from the archive instead of copying them (the first write
    /// to one makes its private copy), so unpacking allocates only the
    /// tree, and a file never fails for lack of memory.
    pub fn unpack_cpio_borrowing(&mut self, archive: &'static [u8], skipped: impl FnMut(&str, Errno)) -> Result<usize, cpio::Error> {
        self.unpack_with(archive, skipped, |v, path, mode, data| v.write_file_static(path, mode, data))
    }

    fn unpack_with<'a>(
        &mut self,
        archive: &'a [u8],
        mut skipped: impl FnMut(&str, Errno),
        store: impl Fn(&mut Vfs, &str, u32, &'a [u8]) -> Result<crate::Ino, Errno>,
    ) -> Result<usize, cpio::Error> {
        let mut applied = 0;
        for entry in cpio::entries(archive) {
            let entry = entry?;
            match self.apply_entry(&entry, &store) {
                Ok(()) => applied += 1,
                Err(e) => skipped(entry.name, e),
            }
        }
        Ok(applied)
    }

    /// Create or replace what one archive member describes.
    fn apply_entry<'a>(
        &mut self,
        e: &Entry<'a>,
        store: &impl Fn(&mut Vfs, &str, u32, &'a [u8]) -> Result<crate::Ino, Errno>,
    ) -> Result<(), Errno> {
        let path = path::normalize("/", e.name)?;
        let want = match e.file_type() {
            S_IFDIR => NodeKind::Dir,
            S_IFREG => NodeKind::File,
            S_IFLNK => NodeKind::Symlink,
            _ => return Err(Errno::EOPNOTSUPP),
        };
        if path != "/" {
            self.mkdir_all(path::split_parent(&path).0)?;
            self.clear_for(&path, want)?;
        }
        let ino = match want {
            NodeKind::Dir => match self.lookup_nofollow(&path) {
                Ok(ino) => ino,
                Err(_) => self.mkdir(&path, e.permissions())?,
            },
            NodeKind::Symlink => {
                let target = core::str::from_utf8(e.data).map_err(|_| Errno::EINVAL)?;
                self.symlink(&path, target)?
            }
            _ => {
                // A new file that cannot be written whole (ENOSPC) is not left
                // behind empty: a missing /sbin/init says more than a broken one.
                // (An existing one keeps its old contents: see write_file.)
                let existed = self.lookup_nofollow(&path).is_ok();
                match store(self, &path, e.permissions(), e.data) {
                    Ok(ino) => ino,
                    Err(err) => {
                        if !existed {
                            let _ = self.unlink(&path);
                        }
                        return Err(err);
                    }
                }
            }
        };
        self.set_mode(ino, e.permissions())?;
        self.set_mtime(ino, u64::from(e.mtime))
    }

    /// Remove whatever sits at `path` unless it can be reused for `want`
    /// (a directory for a directory, a file for a file).
    fn clear_for(&mut self, path: &str, want: NodeKind) -> Result<(), Errno> {
        let Ok(ino) = self.lookup_nofollow(path) else {
            return Ok(());
        };
        match self.try_kind(ino)? {
            have if have == want && want != NodeKind::Symlink => Ok(()),
            _ if ino == ROOT_INO => Err(Errno::EBUSY),
            NodeKind::Dir => self.rmdir(path),
            _ => self.unlink(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpio::Writer;

    #[test]
    fn borrowing_unpack_copies_no_file_bytes() {
        let mut w = Writer::new();
        w.add_file("/etc/rc", 0o644, b"echo hi");
        w.add_file("/sbin/init", 0o755, &[7u8; 5000]);
        w.add_file("/etc/rc", 0o600, b"later member wins");
        let archive: &'static [u8] = alloc::boxed::Box::leak(w.finish().into_boxed_slice());
        let mut copied = Vfs::new();
        copied.unpack_cpio(archive).unwrap();
        let mut v = Vfs::new();
        assert_eq!(v.unpack_cpio_borrowing(archive, |_, _| panic!("nothing skipped")).unwrap(), 3);
        assert_eq!(copied.file_heap_bytes(), 5000 + b"later member wins".len() as u64);
        assert_eq!(v.file_heap_bytes(), 0);
        let rc = v.lookup("/etc/rc").unwrap();
        assert_eq!(v.file_data(rc).unwrap(), b"later member wins");
        assert_eq!(v.stat(rc).st_mode & 0o777, 0o600);
        let init = v.lookup("/sbin/init").unwrap();
        // Borrowed: the bytes are the archive's own.
        let d = v.file_data(init).unwrap();
        assert!(archive.as_ptr_range().contains(&d.as_ptr()));
        assert_eq!(d, copied.file_data(copied.lookup("/sbin/init").unwrap()).unwrap());
        // The first write makes a private copy; the archive is untouched.
        let mut f = v.open("/etc/rc", abi::fs::O_WRONLY | abi::fs::O_APPEND, 0).unwrap();
        v.write(&mut f, b"!").unwrap();
        v.close(f);
        assert_eq!(v.file_data(rc).unwrap(), b"later member wins!");
        assert!(v.file_heap_bytes() >= 18);
        assert_eq!(cpio::entries(archive).filter_map(Result::ok).filter(|e| e.data == b"later member wins").count(), 1);
    }

    #[test]
    fn skipped_members_are_reported() {
        let mut w = Writer::new();
        w.add_dir("/d", 0o755);
        w.add_file("/d/ok", 0o644, b"x");
        w.add_file("/f", 0o644, b"a file");
        w.add_file("/f/child", 0o644, b"under a file: cannot be created");
        let archive = w.finish();
        let mut v = Vfs::new();
        let mut skipped = alloc::vec::Vec::new();
        let n = v
            .unpack_cpio_reporting(&archive, |name, e| {
                skipped.push((alloc::string::String::from(name), e))
            })
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].0, "f/child");
    }

    #[test]
    fn unpack_writer_archive() {
        let mut w = Writer::new();
        w.add_dir("/etc", 0o755);
        w.add_file("/etc/rc", 0o644, b"echo hi\n");
        w.add_file("/sbin/init", 0o755, b"\x7fELF");
        w.add_symlink("/bin/sh", "/sbin/init");
        w.add_dir("/tmp", 0o1777);
        let archive = w.finish();
        let mut v = Vfs::new();
        assert_eq!(v.unpack_cpio(&archive), Ok(5));
        let rc = v.lookup("/etc/rc").unwrap();
        assert_eq!(v.file_data(rc), Ok(&b"echo hi\n"[..]));
        assert_eq!(v.stat(rc).st_mode, S_IFREG | 0o644);
        let init = v.lookup("/sbin/init").unwrap();
        assert_eq!(v.lookup("/bin/sh"), Ok(init));
        assert_eq!(v.stat(v.lookup("/sbin").unwrap()).st_mode, S_IFDIR | 0o755);
        assert_eq!(v.stat(v.lookup("/tmp").unwrap()).st_mode, S_IFDIR | 0o1777);
        assert_eq!(
            v.symlink_target(v.lookup_nofollow("/bin/sh").unwrap()),
            Ok("/sbin/init")
        );
    }

    #[test]
    fn later_members_win() {
        let mut w = Writer::new();
        w.add_file("a", 0o644, b"old");
        w.add_dir("d", 0o700);
        w.add_file("f-then-dir", 0o644, b"x");
        w.add_symlink("l", "a");
        let mut archive = w.finish();
        let first_len = archive.len();
        let mut w = Writer::new();
        w.add_file("a", 0o600, b"new!");
        w.add_dir("d", 0o755);
        w.add_dir("f-then-dir", 0o755);
        w.add_symlink("l", "d");
        w.add_file("d/inner", 0o644, b"");
        archive.extend_from_slice(&w.finish());
        let mut v = Vfs::new();
        let before = v.unpack_cpio(&archive[..first_len]).unwrap();
        assert_eq!(before, 4);
        let a = v.lookup("/a").unwrap();
        assert_eq!(v.unpack_cpio(&archive), Ok(9));
        assert_eq!(v.lookup("/a"), Ok(a), "file replaced in place");
        assert_eq!(v.file_data(a), Ok(&b"new!"[..]));
        assert_eq!(v.stat(a).st_mode & 0o7777, 0o600);
        assert_eq!(v.kind(v.lookup("/f-then-dir").unwrap()), NodeKind::Dir);
        assert_eq!(v.lookup("/l"), v.lookup("/d"));
        assert_eq!(v.stat(v.lookup("/d").unwrap()).st_mode & 0o777, 0o755);
        assert!(v.lookup("/l/inner").is_ok());
    }

    #[test]
    fn skipped_and_errors() {
        let mut w = Writer::new();
        w.try_add("dev/console", abi::fs::S_IFCHR | 0o600, b"")
            .unwrap();
        w.add_file("f", 0o644, b"");
        w.add_file("f/under-a-file", 0o644, b"");
        w.add_file("../../escape", 0o644, b"e");
        let archive = w.finish();
        let mut v = Vfs::new();
        assert_eq!(v.unpack_cpio(&archive), Ok(2));
        assert_eq!(v.lookup("/dev/console"), Err(Errno::ENOENT));
        assert_eq!(v.file_data(v.lookup("/escape").unwrap()), Ok(&b"e"[..]));
        let err = v.unpack_cpio(&archive[..200]).unwrap_err();
        assert!(matches!(err, cpio::Error::Truncated { .. }));
        assert_eq!(err.errno(), Errno::EINVAL);
    }
}
