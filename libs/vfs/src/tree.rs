//! The inode table and read-only queries on it.

use alloc::collections::BTreeMap;
use alloc::string::String;

use abi::fs::Stat;
use abi::Errno;

use crate::node::{Data, FileBytes, Node};
use crate::{Ino, NodeKind, BLOCK_SIZE, MAX_FILE_SIZE, ROOT_INO};

/// `st_dev` of every inode.
pub const DEV: u64 = 1;

/// An in-memory file system tree (like Linux's ramfs).
#[derive(Clone, Debug)]
pub struct Vfs {
    pub(crate) nodes: BTreeMap<Ino, Node>,
    next_ino: Ino,
    pub(crate) max_file_size: u64,
}

impl Default for Vfs {
    fn default() -> Self {
        Vfs::new()
    }
}

impl Vfs {
    /// A tree holding only `/` (mode 0755).
    pub fn new() -> Vfs {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            ROOT_INO,
            Node::new(Data::Dir(BTreeMap::new()), 0o755, ROOT_INO),
        );
        Vfs {
            nodes,
            next_ino: ROOT_INO + 1,
            max_file_size: MAX_FILE_SIZE,
        }
    }

    /// The node `ino`, or `ENOENT` if there is none.
    pub(crate) fn node(&self, ino: Ino) -> Result<&Node, Errno> {
        self.nodes.get(&ino).ok_or(Errno::ENOENT)
    }

    /// The node `ino` for modification, or `ENOENT`.
    pub(crate) fn node_mut(&mut self, ino: Ino) -> Result<&mut Node, Errno> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    /// The children of directory `ino` (`ENOTDIR` otherwise).
    pub(crate) fn dir(&self, ino: Ino) -> Result<&BTreeMap<String, Ino>, Errno> {
        self.node(ino)?.children().ok_or(Errno::ENOTDIR)
    }

    /// The children of directory `ino` for modification.
    pub(crate) fn dir_mut(&mut self, ino: Ino) -> Result<&mut BTreeMap<String, Ino>, Errno> {
        match &mut self.node_mut(ino)?.data {
            Data::Dir(c) => Ok(c),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Add a node and return its fresh inode number.
    pub(crate) fn alloc(&mut self, node: Node) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, node);
        ino
    }

    /// Drop `ino` from the table once it is neither linked nor open.
    pub(crate) fn release_if_unused(&mut self, ino: Ino) {
        if ino != ROOT_INO && self.nodes.get(&ino).is_some_and(Node::is_unused) {
            self.nodes.remove(&ino);
        }
    }

    /// Lower the largest allowed file size (default and upper bound
    /// [`MAX_FILE_SIZE`]).
    pub fn set_max_file_size(&mut self, bytes: u64) {
        self.max_file_size = bytes.min(MAX_FILE_SIZE);
    }

    /// The largest allowed file size.
    pub fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// Number of live inodes (including unlinked-but-open ones).
    pub fn inode_count(&self) -> usize {
        self.nodes.len()
    }

    /// Does `ino` exist?
    pub fn exists(&self, ino: Ino) -> bool {
        self.nodes.contains_key(&ino)
    }

    /// The kind of `ino`, or `ENOENT` for an unknown inode.
    pub fn try_kind(&self, ino: Ino) -> Result<NodeKind, Errno> {
        Ok(self.node(ino)?.kind())
    }

    /// The kind of `ino`. An unknown inode reads as an empty
    /// [`NodeKind::File`] (every accessor then fails with `ENOENT`); use
    /// [`Vfs::try_kind`] to tell the difference.
    pub fn kind(&self, ino: Ino) -> NodeKind {
        self.try_kind(ino).unwrap_or(NodeKind::File)
    }

    /// `stat` of `ino`, or `ENOENT`.
    pub fn try_stat(&self, ino: Ino) -> Result<Stat, Errno> {
        let node = self.node(ino)?;
        let size = node.size();
        Ok(Stat {
            st_dev: DEV,
            st_ino: ino,
            st_nlink: self.nlink(ino, node),
            st_mode: node.kind().type_bits() | node.mode,
            st_rdev: match node.kind() {
                NodeKind::CharDev(rdev) => rdev.into(),
                _ => 0,
            },
            st_size: i64::try_from(size).unwrap_or(i64::MAX),
            st_blksize: BLOCK_SIZE,
            st_blocks: blocks(size),
            st_mtime: node.mtime,
            st_ctime: node.mtime,
            st_atime: node.mtime,
            ..Stat::default()
        })
    }

    /// `stat` of `ino` (a zeroed `Stat` with `st_ino` set if it is unknown;
    /// see [`Vfs::try_stat`]).
    pub fn stat(&self, ino: Ino) -> Stat {
        self.try_stat(ino).unwrap_or(Stat {
            st_ino: ino,
            ..Stat::default()
        })
    }

    /// Link count: 2 + subdirectories for a directory, else 1 (0 once unlinked).
    fn nlink(&self, ino: Ino, node: &Node) -> u64 {
        match node.children() {
            Some(children) => {
                let subdirs = children
                    .values()
                    .filter(|c| self.try_kind(**c) == Ok(NodeKind::Dir))
                    .count();
                let own = if node.linked || ino == ROOT_INO { 2 } else { 0 };
                own + subdirs as u64
            }
            None => u64::from(node.linked),
        }
    }

    /// The contents of regular file `ino`, borrowed (zero-copy).
    /// `EISDIR` for a directory, `EINVAL` for symlinks and special files,
    /// `ENOENT` for an unknown inode.
    /// The bytes of regular file `ino` as they are now, shared, not copied:
    /// a later write to the file copies them instead (`EISDIR`/`EINVAL` as
    /// [`Vfs::file_data`]).
    pub fn file_bytes(&self, ino: Ino) -> Result<FileBytes, Errno> {
        match &self.node(ino)?.data {
            Data::File(d) => Ok(d.snapshot()),
            Data::Dir(_) => Err(Errno::EISDIR),
            Data::Symlink(_) | Data::Special(_) | Data::CharDev(_) => Err(Errno::EINVAL),
        }
    }

    pub fn file_data(&self, ino: Ino) -> Result<&[u8], Errno> {
        match &self.node(ino)?.data {
            Data::File(d) => Ok(&d[..]),
            Data::Dir(_) => Err(Errno::EISDIR),
            Data::Symlink(_) | Data::Special(_) | Data::CharDev(_) => Err(Errno::EINVAL),
        }
    }

    /// Heap bytes regular files hold (their owned buffers' capacity);
    /// borrowed contents (see [`Vfs::add_static_file`]) count nothing.
    pub fn file_heap_bytes(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| match &n.data {
                Data::File(crate::node::Contents::Owned(v)) => v.capacity() as u64,
                _ => 0,
            })
            .sum()
    }

    /// The target of symlink `ino` (`EINVAL` if it is not a symlink).
    pub fn symlink_target(&self, ino: Ino) -> Result<&str, Errno> {
        match &self.node(ino)?.data {
            Data::Symlink(t) => Ok(t),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The directory containing `ino` (the root is its own parent).
    pub fn parent(&self, ino: Ino) -> Result<Ino, Errno> {
        Ok(self.node(ino)?.parent)
    }

    /// Entry `index` of directory `ino`: 0 is `.`, 1 is `..`, then the
    /// children sorted by name; `Ok(None)` past the end. `ENOTDIR` if `ino`
    /// is not a directory.
    pub fn readdir_entry(
        &self,
        ino: Ino,
        index: usize,
    ) -> Result<Option<(String, Ino, u8)>, Errno> {
        let node = self.node(ino)?;
        let children = node.children().ok_or(Errno::ENOTDIR)?;
        let dt = abi::fs::DT_DIR;
        Ok(match index {
            0 => Some((String::from("."), ino, dt)),
            1 => Some((String::from(".."), node.parent, dt)),
            i => children.iter().nth(i - 2).map(|(name, &child)| {
                let d_type = self
                    .try_kind(child)
                    .map_or(abi::fs::DT_UNKNOWN, NodeKind::d_type);
                (name.clone(), child, d_type)
            }),
        })
    }

    /// Set the permission bits of `ino` (chmod).
    pub fn set_mode(&mut self, ino: Ino, mode: u32) -> Result<(), Errno> {
        self.node_mut(ino)?.mode = mode & 0o7777;
        Ok(())
    }

    /// Set the modification time of `ino` (seconds).
    pub fn set_mtime(&mut self, ino: Ino, mtime: u64) -> Result<(), Errno> {
        self.node_mut(ino)?.mtime = mtime;
        Ok(())
    }
}

/// 512-byte blocks used by `size` bytes, as `st_blocks` counts them.
fn blocks(size: u64) -> i64 {
    i64::try_from(size.div_ceil(512)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::fs::{S_IFDIR, S_IFREG};

    #[test]
    fn fresh_tree() {
        let v = Vfs::new();
        let st = v.stat(ROOT_INO);
        assert_eq!(st.st_ino, ROOT_INO);
        assert_eq!(st.st_mode, S_IFDIR | 0o755);
        assert_eq!(st.st_nlink, 2);
        assert_eq!(st.st_blksize, 4096);
        assert_eq!(v.kind(ROOT_INO), NodeKind::Dir);
        assert_eq!(v.parent(ROOT_INO), Ok(ROOT_INO));
        assert_eq!(v.readdir_entry(ROOT_INO, 0).unwrap().unwrap().0, ".");
        assert_eq!(v.readdir_entry(ROOT_INO, 1).unwrap().unwrap().1, ROOT_INO);
        assert_eq!(v.readdir_entry(ROOT_INO, 2), Ok(None));
        assert_eq!(v.file_data(ROOT_INO), Err(Errno::EISDIR));
    }

    #[test]
    fn unknown_inode() {
        let v = Vfs::new();
        assert_eq!(v.try_kind(99), Err(Errno::ENOENT));
        assert_eq!(v.kind(99), NodeKind::File);
        assert_eq!(v.file_data(99), Err(Errno::ENOENT));
        assert_eq!(v.try_stat(99), Err(Errno::ENOENT));
        assert_eq!(v.stat(99).st_ino, 99);
        assert_eq!(v.readdir_entry(99, 0), Err(Errno::ENOENT));
    }

    #[test]
    fn stat_of_file() {
        let mut v = Vfs::new();
        let ino = v.create("/f", 0o640).unwrap();
        let mut f = v.open("/f", abi::fs::O_WRONLY, 0).unwrap();
        v.write(&mut f, &[1; 513]).unwrap();
        let st = v.stat(ino);
        assert_eq!(st.st_mode, S_IFREG | 0o640);
        assert_eq!(st.st_size, 513);
        assert_eq!(st.st_blocks, 2);
        assert_eq!(st.st_nlink, 1);
        assert_eq!(blocks(0), 0);
        assert_eq!(blocks(512), 1);
    }
}
