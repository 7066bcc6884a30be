//! open(2) and open-file bookkeeping.

use alloc::string::String;
use alloc::sync::Arc;

use abi::fs::{
    O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR,
    O_TRUNC, O_WRONLY,
};
use abi::Errno;

use crate::node::{Contents, Data};
use crate::walk::Budget;
use crate::{Ino, NodeKind, Vfs, ROOT_INO};

/// An open file description (what a file descriptor refers to).
///
/// Obtain one from [`Vfs::open`] and give it back with [`Vfs::close`]; the
/// file system counts open files and writers per inode.
#[derive(Debug)]
pub struct OpenFile {
    pub ino: Ino,
    /// Byte offset; for a directory the index of the next entry.
    pub offset: u64,
    pub readable: bool,
    pub writable: bool,
    /// O_APPEND: every write goes to the end.
    pub append: bool,
    /// Contents of a [`NodeKind::Special`] file, set by the kernel after
    /// open; reads, `lseek` and `fstat` use it.
    pub snapshot: Option<Arc<dyn crate::SpecialContents>>,
}

/// Access requested by open flags.
struct Access {
    read: bool,
    write: bool,
}

impl Access {
    fn from_flags(flags: u32) -> Result<Access, Errno> {
        if flags & O_PATH != 0 {
            return Ok(Access {
                read: false,
                write: false,
            });
        }
        match flags & O_ACCMODE {
            O_RDONLY => Ok(Access {
                read: true,
                write: false,
            }),
            O_WRONLY => Ok(Access {
                read: false,
                write: true,
            }),
            O_RDWR => Ok(Access {
                read: true,
                write: true,
            }),
            _ => Err(Errno::EINVAL),
        }
    }
}

impl Vfs {
    /// Linux open(2) on an absolute path: O_RDONLY/O_WRONLY/O_RDWR, O_CREAT
    /// (`mode` = permission bits), O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY,
    /// O_NOFOLLOW and O_PATH (neither readable nor writable).
    ///
    /// Errors: `EINVAL` (access mode 3), `EEXIST` (O_CREAT|O_EXCL on an
    /// existing name), `ENOTDIR` (O_DIRECTORY on a non-directory), `EISDIR`
    /// (write access, O_TRUNC or O_CREAT on a directory), `EACCES` (write
    /// access or O_TRUNC to a special file without owner write permission), `ELOOP` (O_NOFOLLOW on a
    /// symlink), and the lookup errors.
    pub fn open(&mut self, path: &str, flags: u32, mode: u32) -> Result<OpenFile, Errno> {
        let access = Access::from_flags(flags)?;
        let ino = self.open_lookup(path, flags, mode)?;
        let kind = self.try_kind(ino)?;
        if flags & O_PATH == 0 {
            let mode = self.try_stat(ino)?.st_mode;
            self.check_open(kind, mode, flags, &access)?;
            if flags & O_TRUNC != 0 && kind == NodeKind::File {
                self.truncate(ino, 0)?;
            }
        } else if flags & O_DIRECTORY != 0 && kind != NodeKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        let file = OpenFile {
            ino,
            offset: 0,
            readable: access.read,
            writable: access.write,
            append: flags & O_APPEND != 0,
            snapshot: None,
        };
        self.count_open(&file)?;
        Ok(file)
    }

    /// Release an open file. Dropping an unlinked inode happens here.
    pub fn close(&mut self, f: OpenFile) {
        if let Some(node) = self.nodes.get_mut(&f.ino) {
            node.opens = node.opens.saturating_sub(1);
            if f.writable {
                node.writers = node.writers.saturating_sub(1);
            }
        }
        self.release_if_unused(f.ino);
    }

    /// A second open file sharing nothing but the inode (same flags and
    /// offset), counted like a fresh open.
    pub fn dup(&mut self, f: &OpenFile) -> Result<OpenFile, Errno> {
        let copy = OpenFile {
            ino: f.ino,
            offset: f.offset,
            readable: f.readable,
            writable: f.writable,
            append: f.append,
            snapshot: f.snapshot.clone(),
        };
        self.count_open(&copy)?;
        Ok(copy)
    }

    /// Open files currently writable on `ino` (0 for an unknown inode).
    pub fn writers(&self, ino: Ino) -> u32 {
        self.nodes.get(&ino).map_or(0, |n| n.writers)
    }

    /// Open files (of any mode) currently on `ino`.
    pub fn open_count(&self, ino: Ino) -> u32 {
        self.nodes.get(&ino).map_or(0, |n| n.opens)
    }

    /// Register an open file with its inode.
    fn count_open(&mut self, f: &OpenFile) -> Result<(), Errno> {
        let node = self.node_mut(f.ino)?;
        node.opens = node.opens.checked_add(1).ok_or(Errno::ENFILE)?;
        if f.writable {
            node.writers = node.writers.checked_add(1).ok_or(Errno::ENFILE)?;
        }
        Ok(())
    }

    /// Permission-style checks once the inode is known.
    ///
    /// A special file is writable only if its mode grants the owner write
    /// (like /proc/sysrq-trigger, 0200): the kernel consumes what is written.
    fn check_open(
        &self,
        kind: NodeKind,
        mode: u32,
        flags: u32,
        access: &Access,
    ) -> Result<(), Errno> {
        let wants_write = access.write || flags & O_TRUNC != 0;
        match kind {
            NodeKind::Symlink => Err(Errno::ELOOP),
            NodeKind::Dir if flags & O_CREAT != 0 || wants_write => Err(Errno::EISDIR),
            NodeKind::Dir => Ok(()),
            _ if flags & O_DIRECTORY != 0 => Err(Errno::ENOTDIR),
            NodeKind::Special(_) if wants_write && mode & 0o200 == 0 => Err(Errno::EACCES),
            NodeKind::File | NodeKind::Special(_) | NodeKind::CharDev(_) => Ok(()),
        }
    }

    /// Find (or with O_CREAT create) the inode `open` works on.
    fn open_lookup(&mut self, path: &str, flags: u32, mode: u32) -> Result<Ino, Errno> {
        let follow = flags & O_NOFOLLOW == 0;
        if flags & O_CREAT == 0 || flags & O_PATH != 0 {
            return if follow {
                self.lookup(path)
            } else {
                self.lookup_nofollow(path)
            };
        }
        if flags & O_EXCL != 0 {
            return match self.lookup_nofollow(path) {
                Ok(_) => Err(Errno::EEXIST),
                Err(Errno::ENOENT) => self.create(path, mode),
                Err(e) => Err(e),
            };
        }
        self.open_create(path, mode, follow)
    }

    /// O_CREAT without O_EXCL: open the existing file, or create it; a
    /// dangling symlink in the last component creates its target (Linux).
    fn open_create(&mut self, path: &str, mode: u32, follow: bool) -> Result<Ino, Errno> {
        let mut budget = Budget::default();
        let mut start = ROOT_INO;
        let mut path = String::from(path);
        loop {
            let (dir, name) = self.resolve_parent(start, &path, &mut budget)?;
            let Some(ino) = self.child(dir, name)? else {
                if path.ends_with('/') {
                    return Err(Errno::EISDIR);
                }
                return self.link_new(dir, name, Data::File(Contents::default()), mode);
            };
            match &self.node(ino)?.data {
                Data::Symlink(target) if follow => {
                    budget.spend()?;
                    start = dir;
                    path = target.clone();
                }
                Data::Dir(_) if path.ends_with('/') => return Err(Errno::EISDIR),
                _ if path.ends_with('/') => return Err(Errno::ENOTDIR),
                _ => return Ok(ino),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Vfs {
        let mut v = Vfs::new();
        v.mkdir("/d", 0o755).unwrap();
        v.write_file("/d/f", 0o644, b"hello").unwrap();
        v.add_special("/d/s", 1, 0o444).unwrap();
        v.symlink("/d/l", "/d/f").unwrap();
        v.symlink("/d/dangling", "/d/new").unwrap();
        v
    }

    #[test]
    fn access_modes() {
        let mut v = setup();
        let r = v.open("/d/f", O_RDONLY, 0).unwrap();
        assert!(r.readable && !r.writable && !r.append);
        let w = v.open("/d/f", O_WRONLY | O_APPEND, 0).unwrap();
        assert!(!w.readable && w.writable && w.append);
        let rw = v.open("/d/f", O_RDWR, 0).unwrap();
        assert!(rw.readable && rw.writable);
        assert_eq!(v.open("/d/f", 3, 0).unwrap_err(), Errno::EINVAL);
        let p = v.open("/d/f", O_PATH | O_RDWR, 0).unwrap();
        assert!(!p.readable && !p.writable);
        assert_eq!(v.writers(r.ino), 2);
        assert_eq!(v.open_count(r.ino), 4);
        for f in [r, w, rw, p] {
            v.close(f);
        }
        assert_eq!(v.writers(v.lookup("/d/f").unwrap()), 0);
    }

    #[test]
    fn creat_excl_trunc() {
        let mut v = setup();
        let f = v.open("/d/new2", O_WRONLY | O_CREAT, 0o600).unwrap();
        assert_eq!(v.stat(f.ino).st_mode & 0o7777, 0o600);
        assert_eq!(
            v.open("/d/new2", O_WRONLY | O_CREAT | O_EXCL, 0)
                .unwrap_err(),
            Errno::EEXIST
        );
        assert_eq!(
            v.open("/d/l", O_RDONLY | O_CREAT | O_EXCL, 0).unwrap_err(),
            Errno::EEXIST
        );
        let again = v.open("/d/new2", O_RDWR | O_CREAT, 0o644).unwrap();
        assert_eq!(again.ino, f.ino);
        assert_eq!(
            v.open("/nope/x", O_CREAT | O_WRONLY, 0).unwrap_err(),
            Errno::ENOENT
        );
        assert_eq!(
            v.open("/d/f/x", O_CREAT | O_WRONLY, 0).unwrap_err(),
            Errno::ENOTDIR
        );
        assert_eq!(
            v.open("/d/newdir/", O_CREAT | O_WRONLY, 0).unwrap_err(),
            Errno::EISDIR
        );
        let t = v.open("/d/f", O_WRONLY | O_TRUNC, 0).unwrap();
        assert_eq!(v.file_data(t.ino), Ok(&b""[..]));
        assert_eq!(
            v.open("/d/missing", O_RDONLY, 0).unwrap_err(),
            Errno::ENOENT
        );
    }

    #[test]
    fn creat_through_symlinks() {
        let mut v = setup();
        let f = v.open("/d/l", O_RDWR | O_CREAT, 0).unwrap();
        assert_eq!(Ok(f.ino), v.lookup("/d/f"));
        let n = v.open("/d/dangling", O_WRONLY | O_CREAT, 0o640).unwrap();
        assert_eq!(v.lookup("/d/new"), Ok(n.ino));
        assert_eq!(
            v.open("/d/dangling", O_WRONLY | O_CREAT | O_NOFOLLOW, 0)
                .unwrap_err(),
            Errno::ELOOP
        );
    }

    #[test]
    fn directories() {
        let mut v = setup();
        let d = v.open("/d", O_RDONLY | O_DIRECTORY, 0).unwrap();
        assert!(d.readable);
        assert_eq!(v.open("/d", O_WRONLY, 0).unwrap_err(), Errno::EISDIR);
        assert_eq!(v.open("/d", O_RDWR, 0).unwrap_err(), Errno::EISDIR);
        assert_eq!(
            v.open("/d", O_RDONLY | O_TRUNC, 0).unwrap_err(),
            Errno::EISDIR
        );
        assert_eq!(
            v.open("/d", O_RDONLY | O_CREAT, 0).unwrap_err(),
            Errno::EISDIR
        );
        assert_eq!(
            v.open("/d/", O_RDONLY | O_CREAT, 0).unwrap_err(),
            Errno::EISDIR
        );
        assert_eq!(
            v.open("/d/f", O_RDONLY | O_DIRECTORY, 0).unwrap_err(),
            Errno::ENOTDIR
        );
        assert_eq!(
            v.open("/d/f", O_PATH | O_DIRECTORY, 0).unwrap_err(),
            Errno::ENOTDIR
        );
        assert_eq!(v.open("/d/f/", O_RDONLY, 0).unwrap_err(), Errno::ENOTDIR);
        assert!(v.open("/", O_PATH | O_DIRECTORY, 0).is_ok());
    }

    #[test]
    fn writable_special_needs_owner_write() {
        let mut v = Vfs::new();
        v.mkdir_all("/proc").unwrap();
        v.add_special("/proc/ro", 1, 0o444).unwrap();
        v.add_special("/proc/trigger", 2, 0o200).unwrap();
        assert_eq!(v.open("/proc/ro", O_WRONLY, 0).unwrap_err(), Errno::EACCES);
        let f = v.open("/proc/trigger", O_WRONLY | O_TRUNC, 0).unwrap();
        assert!(f.writable);
        assert_eq!(v.writers(f.ino), 1);
        v.close(f);
    }

    #[test]
    fn specials_and_nofollow() {
        let mut v = setup();
        let s = v.open("/d/s", O_RDONLY, 0).unwrap();
        assert_eq!(v.kind(s.ino), NodeKind::Special(1));
        assert_eq!(v.open("/d/s", O_WRONLY, 0).unwrap_err(), Errno::EACCES);
        assert_eq!(v.open("/d/s", O_RDWR, 0).unwrap_err(), Errno::EACCES);
        assert_eq!(
            v.open("/d/s", O_RDONLY | O_TRUNC, 0).unwrap_err(),
            Errno::EACCES
        );
        assert_eq!(
            v.open("/d/l", O_RDONLY | O_NOFOLLOW, 0).unwrap_err(),
            Errno::ELOOP
        );
        let p = v.open("/d/l", O_PATH | O_NOFOLLOW, 0).unwrap();
        assert_eq!(v.kind(p.ino), NodeKind::Symlink);
    }

    #[test]
    fn writer_counting_and_dup() {
        let mut v = setup();
        let ino = v.lookup("/d/f").unwrap();
        assert_eq!(v.writers(ino), 0);
        let a = v.open("/d/f", O_WRONLY, 0).unwrap();
        let b = v.dup(&a).unwrap();
        let r = v.open("/d/f", O_RDONLY, 0).unwrap();
        assert_eq!(v.writers(ino), 2);
        v.close(a);
        assert_eq!(v.writers(ino), 1);
        v.close(b);
        v.close(r);
        assert_eq!(v.writers(ino), 0);
        assert_eq!(v.open_count(ino), 0);
        assert_eq!(v.writers(12345), 0);
    }
}
