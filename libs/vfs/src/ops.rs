//! Namespace operations: create, mkdir, symlink, unlink, rmdir.

use alloc::collections::BTreeMap;
use alloc::string::String;

use abi::Errno;

use crate::node::{Contents, Data, Node};
use crate::walk::Budget;
use crate::{path, Ino, NodeKind, Vfs, ROOT_INO};

impl Vfs {
    /// Create an empty regular file. `EEXIST` if the name exists (even as a
    /// dangling symlink), `ENOENT` if the parent is missing, `ENOTDIR` if it
    /// is not a directory.
    pub fn create(&mut self, path: &str, mode: u32) -> Result<Ino, Errno> {
        self.insert(path, Data::File(Contents::default()), mode)
    }

    /// A regular file whose bytes are `data`, borrowed, not copied (memory
    /// the caller keeps for good, such as the initramfs image the kernel
    /// booted with). Reads and kexec see it like any file; the first write or
    /// truncate makes a private copy. `EEXIST` if the name exists.
    pub fn add_static_file(
        &mut self,
        path: &str,
        mode: u32,
        data: &'static [u8],
    ) -> Result<Ino, Errno> {
        self.insert(path, Data::File(Contents::Static(data)), mode)
    }

    /// Create a directory (errors as [`Vfs::create`]).
    pub fn mkdir(&mut self, path: &str, mode: u32) -> Result<Ino, Errno> {
        self.insert(path, Data::Dir(BTreeMap::new()), mode)
    }

    /// Create a symbolic link at `path` pointing at `target` (not checked).
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<Ino, Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        self.insert(path, Data::Symlink(String::from(target)), 0o777)
    }

    /// Create a special file whose contents the kernel generates (procfs).
    /// `EEXIST` if the name is taken.
    pub fn add_special(&mut self, path: &str, id: u32, mode: u32) -> Result<Ino, Errno> {
        self.insert(path, Data::Special(id), mode)
    }

    /// Create the character device node `path` with device number `rdev`
    /// (Linux's encoding, e.g. `(1 << 8) | 3` for /dev/null) and permission
    /// bits `mode`. `EEXIST` if the name is taken.
    pub fn add_char_dev(&mut self, path: &str, rdev: u32, mode: u32) -> Result<Ino, Errno> {
        self.insert(path, Data::CharDev(rdev), mode)
    }

    /// Create `path` and any missing parents as directories (mode 0755),
    /// following symlinks to existing directories. Returns the directory.
    /// `ENOTDIR` if a component exists and is not a directory.
    pub fn mkdir_all(&mut self, path: &str) -> Result<Ino, Errno> {
        path::check(path)?;
        let mut cur = ROOT_INO;
        for comp in path::components(path) {
            let mut budget = Budget::default();
            cur = match self.resolve(cur, comp, true, &mut budget) {
                Ok(ino) => ino,
                Err(Errno::ENOENT) if self.child(cur, comp)?.is_none() => {
                    self.link_new(cur, comp, Data::Dir(BTreeMap::new()), 0o755)?
                }
                Err(e) => return Err(e),
            };
            self.dir(cur)?;
        }
        Ok(cur)
    }

    /// Create or replace the contents of a regular file (the mode is set only
    /// when the file is created). `EISDIR`/`EINVAL` if `path` names a
    /// directory or another non-file.
    pub fn write_file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<Ino, Errno> {
        let (ino, d) = self.file_to_replace(path, mode)?;
        // The new contents are built aside: out of memory (ENOSPC) leaves the
        // old ones, not an empty file.
        let mut new = alloc::vec::Vec::new();
        new.try_reserve_exact(data.len()).map_err(|_| Errno::ENOSPC)?;
        new.extend_from_slice(data);
        *d.make_mut()? = new;
        Ok(ino)
    }

    /// [`Vfs::write_file`] with `data` borrowed, not copied (memory the
    /// caller keeps for good, as for [`Vfs::add_static_file`]): nothing is
    /// allocated for the bytes, so this never fails with `ENOSPC`.
    pub fn write_file_static(&mut self, path: &str, mode: u32, data: &'static [u8]) -> Result<Ino, Errno> {
        let (ino, d) = self.file_to_replace(path, mode)?;
        *d = Contents::Static(data);
        Ok(ino)
    }

    /// The regular file at `path`, created with `mode` if it does not exist,
    /// and its contents; `EISDIR`/`EINVAL` for a directory or another non-file.
    fn file_to_replace(&mut self, path: &str, mode: u32) -> Result<(Ino, &mut Contents), Errno> {
        let ino = match self.lookup(path) {
            Ok(ino) => ino,
            Err(Errno::ENOENT) => self.create(path, mode)?,
            Err(e) => return Err(e),
        };
        match &mut self.node_mut(ino)?.data {
            Data::File(d) => Ok((ino, d)),
            Data::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Remove a non-directory name (a symlink itself, not its target).
    /// `EISDIR` for a directory. Open files stay readable until closed.
    pub fn unlink(&mut self, path: &str) -> Result<(), Errno> {
        let (dir, name) = self.resolve_parent(ROOT_INO, path, &mut Budget::default())?;
        if matches!(name, "" | "." | "..") {
            return Err(Errno::EISDIR);
        }
        let ino = self.child(dir, name)?.ok_or(Errno::ENOENT)?;
        if self.try_kind(ino)? == NodeKind::Dir {
            return Err(Errno::EISDIR);
        }
        self.remove_entry(dir, name, ino)
    }

    /// Remove an empty directory: `ENOTDIR` if not a directory, `ENOTEMPTY`
    /// if it has entries, `EBUSY` for `/`, `EINVAL` for a final `.`.
    pub fn rmdir(&mut self, path: &str) -> Result<(), Errno> {
        let (dir, name) = self.resolve_parent(ROOT_INO, path, &mut Budget::default())?;
        match name {
            "" => return Err(Errno::EBUSY),
            "." => return Err(Errno::EINVAL),
            ".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let ino = self.child(dir, name)?.ok_or(Errno::ENOENT)?;
        if !self.dir(ino)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.remove_entry(dir, name, ino)
    }

    /// Create a node named by the last component of `path`.
    fn insert(&mut self, path: &str, data: Data, mode: u32) -> Result<Ino, Errno> {
        let (dir, name) = self.resolve_parent(ROOT_INO, path, &mut Budget::default())?;
        if self.child(dir, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        self.link_new(dir, name, data, mode)
    }

    /// Allocate a node and enter it as `name` in `dir` (which must not have it).
    pub(crate) fn link_new(
        &mut self,
        dir: Ino,
        name: &str,
        data: Data,
        mode: u32,
    ) -> Result<Ino, Errno> {
        if matches!(name, "" | "." | "..") {
            return Err(Errno::EEXIST);
        }
        self.dir(dir)?;
        let ino = self.alloc(Node::new(data, mode, dir));
        self.dir_mut(dir)?.insert(String::from(name), ino);
        Ok(ino)
    }

    /// Remove `name` (naming `ino`) from `dir` and free `ino` if unused.
    fn remove_entry(&mut self, dir: Ino, name: &str, ino: Ino) -> Result<(), Errno> {
        self.dir_mut(dir)?.remove(name);
        self.node_mut(ino)?.linked = false;
        self.release_if_unused(ino);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::fs::{O_RDONLY, S_IFDIR, S_IFLNK};

    #[test]
    fn static_file_is_borrowed_until_written() {
        static IMAGE: [u8; 5] = *b"cpio!";
        let mut v = Vfs::new();
        v.mkdir_all("/boot").unwrap();
        let ino = v
            .add_static_file("/boot/initramfs.cpio", 0o444, &IMAGE)
            .unwrap();
        assert_eq!(v.kind(ino), NodeKind::File);
        assert_eq!(v.stat(ino).st_size, 5);
        // Zero-copy: the very same memory.
        assert_eq!(v.file_data(ino).unwrap().as_ptr(), IMAGE.as_ptr());
        let mut f = v.open("/boot/initramfs.cpio", O_RDONLY, 0).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(v.read(&mut f, &mut buf), Ok(5));
        assert_eq!(&buf[..5], b"cpio!");
        v.close(f);
        // A write copies first; the static bytes never change.
        let mut w = v
            .open("/boot/initramfs.cpio", abi::fs::O_WRONLY, 0)
            .unwrap();
        assert_eq!(v.write(&mut w, b"X"), Ok(1));
        v.close(w);
        assert_eq!(v.file_data(ino).unwrap(), b"Xpio!");
        assert_eq!(&IMAGE, b"cpio!");
        assert_eq!(
            v.add_static_file("/boot/initramfs.cpio", 0o444, &IMAGE),
            Err(Errno::EEXIST)
        );
    }

    #[test]
    fn create_errors() {
        let mut v = Vfs::new();
        let f = v.create("/f", 0o644).unwrap();
        assert_eq!(v.lookup("/f"), Ok(f));
        assert_eq!(v.create("/f", 0o644), Err(Errno::EEXIST));
        assert_eq!(v.create("/nope/f", 0o644), Err(Errno::ENOENT));
        assert_eq!(v.create("/f/g", 0o644), Err(Errno::ENOTDIR));
        assert_eq!(v.create("/", 0o644), Err(Errno::EEXIST));
        assert_eq!(v.mkdir("/.", 0o755), Err(Errno::EEXIST));
        assert_eq!(v.mkdir("/f/..", 0o755), Err(Errno::ENOTDIR));
        assert_eq!(
            v.create(&alloc::format!("/{}", "x".repeat(256)), 0),
            Err(Errno::ENAMETOOLONG)
        );
        v.symlink("/dangling", "/nowhere").unwrap();
        assert_eq!(v.create("/dangling", 0o644), Err(Errno::EEXIST));
        assert_eq!(v.symlink("/empty", ""), Err(Errno::ENOENT));
    }

    #[test]
    fn mkdir_and_nlink() {
        let mut v = Vfs::new();
        let d = v.mkdir("/d", 0o700).unwrap();
        assert_eq!(v.stat(d).st_mode, S_IFDIR | 0o700);
        v.mkdir("/d/e", 0o755).unwrap();
        v.create("/d/f", 0o644).unwrap();
        assert_eq!(v.stat(d).st_nlink, 3);
        assert_eq!(v.stat(ROOT_INO).st_nlink, 3);
        assert_eq!(v.mkdir("/d", 0o755), Err(Errno::EEXIST));
    }

    #[test]
    fn mkdir_all_cases() {
        let mut v = Vfs::new();
        let c = v.mkdir_all("/a/b/c").unwrap();
        assert_eq!(v.lookup("/a/b/c"), Ok(c));
        assert_eq!(v.mkdir_all("/a/b/c/"), Ok(c));
        assert_eq!(v.mkdir_all("/"), Ok(ROOT_INO));
        v.symlink("/l", "/a/b").unwrap();
        let d = v.mkdir_all("/l/d").unwrap();
        assert_eq!(v.lookup("/a/b/d"), Ok(d));
        v.create("/a/f", 0o644).unwrap();
        assert_eq!(v.mkdir_all("/a/f/g"), Err(Errno::ENOTDIR));
        v.symlink("/dl", "/missing").unwrap();
        assert_eq!(v.mkdir_all("/dl/x"), Err(Errno::ENOENT));
        v.symlink("/loop", "/loop").unwrap();
        assert_eq!(v.mkdir_all("/loop/x"), Err(Errno::ELOOP));
    }

    #[test]
    fn specials_and_symlinks() {
        let mut v = Vfs::new();
        v.mkdir("/proc", 0o555).unwrap();
        let s = v.add_special("/proc/iomem", 7, 0o444).unwrap();
        assert_eq!(v.kind(s), NodeKind::Special(7));
        assert_eq!(v.add_special("/proc/iomem", 8, 0o444), Err(Errno::EEXIST));
        assert_eq!(v.file_data(s), Err(Errno::EINVAL));
        let l = v.symlink("/link", "/proc/iomem").unwrap();
        assert_eq!(v.stat(l).st_mode, S_IFLNK | 0o777);
        assert_eq!(v.stat(l).st_size, 11);
        assert_eq!(v.symlink_target(l), Ok("/proc/iomem"));
        assert_eq!(v.symlink_target(s), Err(Errno::EINVAL));
        assert_eq!(v.lookup("/link"), Ok(s));
    }

    #[test]
    fn char_devices_are_nodes_without_data() {
        let mut v = Vfs::new();
        v.mkdir("/dev", 0o755).unwrap();
        let null = v.add_char_dev("/dev/null", (1 << 8) | 3, 0o666).unwrap();
        assert_eq!(v.kind(null), NodeKind::CharDev(0x103));
        let st = v.stat(null);
        assert_eq!(st.st_mode, abi::fs::S_IFCHR | 0o666);
        assert_eq!((st.st_rdev, st.st_size), (0x103, 0));
        assert_eq!(v.add_char_dev("/dev/null", 0x105, 0o666), Err(Errno::EEXIST));
        // Not a regular file: kexec_file_load's read of it is EINVAL, as Linux's.
        assert_eq!(v.file_data(null), Err(Errno::EINVAL));
        // It opens, also with O_TRUNC (ignored); the VFS itself moves no bytes.
        let mut f = v.open("/dev/null", abi::fs::O_RDWR | abi::fs::O_TRUNC, 0).unwrap();
        assert_eq!(v.read(&mut f, &mut [0; 4]), Err(Errno::EINVAL));
        assert_eq!(v.write(&mut f, b"x"), Err(Errno::EINVAL));
        v.close(f);
        assert_eq!(v.open("/dev/null", abi::fs::O_DIRECTORY, 0).err(), Some(Errno::ENOTDIR));
    }

    #[test]
    fn write_file_replaces() {
        let mut v = Vfs::new();
        let a = v.write_file("/x", 0o600, b"first").unwrap();
        assert_eq!(v.write_file("/x", 0o644, b"2nd").unwrap(), a);
        assert_eq!(v.file_data(a), Ok(&b"2nd"[..]));
        assert_eq!(v.stat(a).st_mode & 0o777, 0o600);
        assert_eq!(v.write_file("/", 0o644, b""), Err(Errno::EISDIR));
    }

    #[test]
    fn unlink_and_rmdir() {
        let mut v = Vfs::new();
        v.mkdir_all("/d/e").unwrap();
        let f = v.create("/d/f", 0o644).unwrap();
        v.symlink("/d/l", "/d/e").unwrap();
        assert_eq!(v.unlink("/d/e"), Err(Errno::EISDIR));
        assert_eq!(v.unlink("/"), Err(Errno::EISDIR));
        assert_eq!(v.unlink("/d/nope"), Err(Errno::ENOENT));
        assert_eq!(v.rmdir("/d"), Err(Errno::ENOTEMPTY));
        assert_eq!(v.rmdir("/d/f"), Err(Errno::ENOTDIR));
        assert_eq!(v.rmdir("/"), Err(Errno::EBUSY));
        assert_eq!(v.rmdir("/d/."), Err(Errno::EINVAL));
        assert_eq!(v.rmdir("/d/e/.."), Err(Errno::ENOTEMPTY));
        v.unlink("/d/l").unwrap();
        assert!(
            v.lookup("/d/e").is_ok(),
            "unlinking a symlink keeps its target"
        );
        v.unlink("/d/f").unwrap();
        assert!(!v.exists(f));
        assert_eq!(v.lookup("/d/f"), Err(Errno::ENOENT));
        v.rmdir("/d/e").unwrap();
        v.rmdir("/d").unwrap();
        assert_eq!(v.inode_count(), 1);
    }

    #[test]
    fn unlinked_open_file_lives_until_close() {
        let mut v = Vfs::new();
        let ino = v.write_file("/f", 0o644, b"data").unwrap();
        let mut f = v.open("/f", O_RDONLY, 0).unwrap();
        v.unlink("/f").unwrap();
        assert_eq!(v.lookup("/f"), Err(Errno::ENOENT));
        let mut buf = [0u8; 8];
        assert_eq!(v.read(&mut f, &mut buf), Ok(4));
        assert_eq!(v.fstat(&f).st_nlink, 0);
        v.close(f);
        assert!(!v.exists(ino));
        // The name can be reused meanwhile.
        v.create("/f", 0o644).unwrap();
    }
}
