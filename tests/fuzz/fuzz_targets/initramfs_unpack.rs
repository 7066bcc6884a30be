//! The initramfs unpack (libs/vfs `Vfs::unpack_cpio_reporting`, what the kernel
//! runs at boot), then a walk of the resulting tree: every directory listed,
//! every node stat'ed, every file read, every path looked up (symlinks followed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfs::{NodeKind, Vfs, ROOT_INO};

fuzz_target!(|data: &[u8]| {
    let mut fs = Vfs::new();
    let _ = fs.unpack_cpio_reporting(data, |name, e| {
        let _ = (name.len(), e.name(), e.message());
    });
    // Depth-first over the tree, bounded by the number of inodes.
    let mut stack = vec![(ROOT_INO, String::from(""))];
    let mut seen = 0;
    while let Some((ino, path)) = stack.pop() {
        seen += 1;
        assert!(seen <= fs.inode_count() + 1, "the tree has a cycle");
        let _ = fs.try_stat(ino);
        match fs.try_kind(ino) {
            Ok(NodeKind::Dir) => {
                for i in 2.. {
                    match fs.readdir_entry(ino, i) {
                        Ok(Some((name, child, _))) => stack.push((child, format!("{path}/{name}"))),
                        _ => break,
                    }
                }
            }
            Ok(NodeKind::File) => {
                let _ = fs.file_data(ino);
            }
            Ok(NodeKind::Symlink) => {
                let _ = fs.symlink_target(ino);
            }
            _ => {}
        }
        if !path.is_empty() {
            assert_eq!(fs.lookup_nofollow(&path), Ok(ino), "{path}");
            let _ = fs.lookup(&path);
        }
    }
});
