//! Path resolution: components, `.`/`..`, symlinks (at most
//! [`MAX_SYMLINKS`] per lookup).

use abi::fs::NAME_MAX;
use abi::Errno;

use crate::node::Data;
use crate::{path, Ino, NodeKind, Vfs, MAX_SYMLINKS, ROOT_INO};

/// Counts symlinks followed during one lookup.
#[derive(Debug, Default)]
pub(crate) struct Budget(u32);

impl Budget {
    /// Account for one more symlink; `ELOOP` past the limit.
    pub fn spend(&mut self) -> Result<(), Errno> {
        self.0 += 1;
        if self.0 > MAX_SYMLINKS {
            Err(Errno::ELOOP)
        } else {
            Ok(())
        }
    }
}

impl Vfs {
    /// Resolve `path` (absolute; a relative path starts at `/`), following
    /// symlinks everywhere. Errors: `ENOENT`, `ENOTDIR`, `ELOOP`,
    /// `ENAMETOOLONG`.
    pub fn lookup(&self, path: &str) -> Result<Ino, Errno> {
        path::check(path)?;
        self.resolve(ROOT_INO, path, true, &mut Budget::default())
    }

    /// Like [`Vfs::lookup`] but a symlink in the last component is returned
    /// itself (lstat, unlink, readlink).
    pub fn lookup_nofollow(&self, path: &str) -> Result<Ino, Errno> {
        path::check(path)?;
        self.resolve(ROOT_INO, path, false, &mut Budget::default())
    }

    /// Resolve `path` starting at directory `start` (or at `/` when it is
    /// absolute). A trailing slash demands a directory and follows a final
    /// symlink, as in Linux.
    pub(crate) fn resolve(
        &self,
        start: Ino,
        path: &str,
        follow: bool,
        budget: &mut Budget,
    ) -> Result<Ino, Errno> {
        let trailing_slash = path.len() > 1 && path.ends_with('/');
        let follow = follow || trailing_slash;
        let mut cur = if path.starts_with('/') {
            ROOT_INO
        } else {
            start
        };
        let mut comps = path.split('/').filter(|c| !c.is_empty()).peekable();
        while let Some(comp) = comps.next() {
            let last = comps.peek().is_none();
            cur = self.step(cur, comp, follow || !last, budget)?;
        }
        if trailing_slash && self.try_kind(cur)? != NodeKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// One component from directory `dir`.
    fn step(&self, dir: Ino, comp: &str, follow: bool, budget: &mut Budget) -> Result<Ino, Errno> {
        if comp.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let children = self.dir(dir)?;
        let child = match comp {
            "." => return Ok(dir),
            ".." => return self.parent(dir),
            name => *children.get(name).ok_or(Errno::ENOENT)?,
        };
        match &self.node(child)?.data {
            Data::Symlink(target) if follow => {
                budget.spend()?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                self.resolve(dir, target, true, budget)
            }
            _ => Ok(child),
        }
    }

    /// Resolve all but the last component of `path`, which must name a
    /// directory; returns it and the last component (possibly `""`, `.` or
    /// `..`). `ENAMETOOLONG` for a last component over NAME_MAX.
    pub(crate) fn resolve_parent<'p>(
        &self,
        start: Ino,
        path: &'p str,
        budget: &mut Budget,
    ) -> Result<(Ino, &'p str), Errno> {
        path::check(path)?;
        let (parent, name) = path::split_parent(path);
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let parent = if parent == "." { "" } else { parent };
        let dir = self.resolve(start, parent, true, budget)?;
        self.dir(dir)?;
        Ok((dir, name))
    }

    /// The entry `name` of directory `dir`, with `""` and `.` naming `dir`
    /// itself and `..` its parent. `None` if absent.
    pub(crate) fn child(&self, dir: Ino, name: &str) -> Result<Option<Ino>, Errno> {
        let children = self.dir(dir)?;
        Ok(match name {
            "" | "." => Some(dir),
            ".." => Some(self.parent(dir)?),
            n => children.get(n).copied(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Vfs {
        let mut v = Vfs::new();
        v.mkdir_all("/a/b/c").unwrap();
        v.create("/a/b/file", 0o644).unwrap();
        v.symlink("/a/abs", "/a/b").unwrap();
        v.symlink("/a/rel", "b/c").unwrap();
        v.symlink("/a/up", "../a/b/file").unwrap();
        v.symlink("/a/dangling", "nowhere").unwrap();
        v
    }

    #[test]
    fn plain_lookup() {
        let v = tree();
        assert_eq!(v.lookup("/"), Ok(ROOT_INO));
        assert_eq!(v.lookup("//"), Ok(ROOT_INO));
        let c = v.lookup("/a/b/c").unwrap();
        assert_eq!(v.lookup("/a/./b//c/"), Ok(c));
        assert_eq!(v.lookup("/a/b/c/../c"), Ok(c));
        assert_eq!(v.lookup("/../a/b/c"), Ok(c));
        assert_eq!(v.lookup("a/b/c"), Ok(c));
        assert_eq!(v.lookup("/a/x"), Err(Errno::ENOENT));
        assert_eq!(v.lookup("/a/b/file/x"), Err(Errno::ENOTDIR));
        assert_eq!(v.lookup("/a/b/file/"), Err(Errno::ENOTDIR));
        assert_eq!(v.lookup("/a/b/file/."), Err(Errno::ENOTDIR));
        assert_eq!(v.lookup(""), Err(Errno::ENOENT));
    }

    #[test]
    fn symlinks() {
        let v = tree();
        let b = v.lookup("/a/b").unwrap();
        let c = v.lookup("/a/b/c").unwrap();
        let file = v.lookup("/a/b/file").unwrap();
        assert_eq!(v.lookup("/a/abs"), Ok(b));
        assert_eq!(v.lookup("/a/abs/c"), Ok(c));
        assert_eq!(v.lookup("/a/rel"), Ok(c));
        assert_eq!(v.lookup("/a/up"), Ok(file));
        // `..` after a symlink is physical: /a/abs/.. is /a, not /.
        assert_eq!(v.lookup("/a/abs/c/../.."), v.lookup("/a"));
        assert_eq!(v.lookup("/a/dangling"), Err(Errno::ENOENT));
        let link = v.lookup_nofollow("/a/dangling").unwrap();
        assert_eq!(v.kind(link), NodeKind::Symlink);
        assert_ne!(v.lookup_nofollow("/a/abs"), Ok(b));
        assert_eq!(v.lookup_nofollow("/a/abs/"), Ok(b));
        assert_eq!(v.lookup_nofollow("/a/abs/c"), Ok(c));
    }

    #[test]
    fn loops() {
        let mut v = Vfs::new();
        v.symlink("/x", "/y").unwrap();
        v.symlink("/y", "/x").unwrap();
        v.symlink("/self", "self").unwrap();
        assert_eq!(v.lookup("/x"), Err(Errno::ELOOP));
        assert_eq!(v.lookup("/self/a"), Err(Errno::ELOOP));
        assert!(v.lookup_nofollow("/x").is_ok());
        // A chain of exactly 40 links resolves; 41 does not.
        v.mkdir("/d", 0o755).unwrap();
        v.symlink("/l0", "/d").unwrap();
        for i in 1..=40 {
            v.symlink(&alloc::format!("/l{i}"), &alloc::format!("/l{}", i - 1))
                .unwrap();
        }
        assert_eq!(v.lookup("/l39"), v.lookup("/d"));
        assert_eq!(v.lookup("/l40"), Err(Errno::ELOOP));
    }

    #[test]
    fn long_names() {
        let v = tree();
        let long = alloc::format!("/a/{}", "n".repeat(256));
        assert_eq!(v.lookup(&long), Err(Errno::ENAMETOOLONG));
        let ok = alloc::format!("/a/{}", "n".repeat(255));
        assert_eq!(v.lookup(&ok), Err(Errno::ENOENT));
        let huge = "/a".repeat(2048);
        assert_eq!(v.lookup(&huge), Err(Errno::ENAMETOOLONG));
    }
}
