//! The kernel side of the file system: one global `vfs::Vfs` (the ramfs
//! root, unpacked from the initramfs at boot) behind a lock, the console as
//! a file, and the kernel's own files (kernfs: /proc, /sys), whose
//! contents their owners make at open time.

pub mod dev;
pub mod kernfs;
pub mod procfs;

use abi::Errno;
use alloc::string::String;
use spin::Mutex;
use vfs::{NodeKind, OpenFile, Vfs};

use crate::boot::BootContext;

pub static VFS: Mutex<Option<Vfs>> = Mutex::new(None);

/// Run `f` on the file system.
pub fn with<R>(f: impl FnOnce(&mut Vfs) -> R) -> R {
    f(VFS.lock().as_mut().expect("fs::init not run"))
}

/// The root file system: the initramfs the boot context points at, unpacked.
pub fn init(ctx: &BootContext) {
    let mut fs = Vfs::new();
    if let Some(archive) = ctx.initrd_bytes() {
        let t0 = crate::time::now_ns();
        // The archive stays in memory for good (/boot/initramfs.cpio):
        // its files borrow their bytes from it, nothing is copied.
        match fs.unpack_cpio_borrowing(archive, |name, e| info!("fs: initramfs member {} not unpacked: {} ({})", name, e.name(), e.message())) {
            Ok(n) => info!("fs: unpacked {} initramfs entries ({} KiB) in {} us", n, archive.len() >> 10, (crate::time::now_ns() - t0) / 1000),
            Err(e) => info!("fs: initramfs is damaged, kept what came before the error: {}", e),
        }
        expose_initramfs(&mut fs, archive);
    }
    dev::install(&mut fs);
    *VFS.lock() = Some(fs);
}

/// fs's own kernel files (/proc); kexec and crash register theirs.
pub fn install_kernel_files() {
    procfs::install();
}

/// The initramfs this kernel booted with, as /boot/initramfs.cpio, served
/// from the memory it was loaded into (no copy), so `kexec --initrd=` can
/// hand it to the next kernel at every hop of a chain.
const INITRAMFS_FILE: &str = "/boot/initramfs.cpio";

fn expose_initramfs(fs: &mut Vfs, archive: &'static [u8]) {
    let _ = fs.mkdir_all("/boot");
    // The kernel's own image of the archive wins over a file of that name inside it.
    let _ = fs.unlink(INITRAMFS_FILE);
    if let Err(e) = fs.add_static_file(INITRAMFS_FILE, 0o444, archive) {
        info!("fs: cannot expose {}: {:?}", INITRAMFS_FILE, e);
    }
}

/// What a file descriptor refers to.
pub enum File {
    /// A character device: the serial console (fds 0, 1, 2 of every
    /// process), /dev/null, /dev/zero.
    Device(dev::Device),
    /// A file or directory of the VFS, with the absolute path it was opened by
    /// (openat relative to a directory fd needs it).
    Node(OpenFile, String),
}

/// open(2) on an absolute, normalized path: kernel files get their contents now.
pub fn open(path: &str, flags: u32, mode: u32) -> Result<File, Errno> {
    with(|fs| {
        let mut f = fs.open(path, flags, mode)?;
        match fs.kind(f.ino) {
            NodeKind::Special(id) => f.snapshot = Some(kernfs::open(id)?),
            // The VFS only checked the open; the kernel serves the device.
            NodeKind::CharDev(rdev) => {
                fs.close(f);
                return Ok(File::Device(dev::Device::from_rdev(rdev)?));
            }
            _ => {}
        }
        Ok(File::Node(f, String::new()))
    })
}

/// write(2) to a VFS file: kernel files with write permission are consumed
/// by their owner, everything else goes to the ramfs.
pub fn write(f: &mut OpenFile, data: &[u8]) -> Result<usize, Errno> {
    match with(|fs| fs.kind(f.ino)) {
        NodeKind::Special(id) => kernfs::write(id, data),
        _ => with(|fs| fs.write(f, data)),
    }
}

/// close(2): the VFS must see it to keep its writer counts right.
pub fn close(file: File) {
    if let File::Node(f, _) = file {
        with(|fs| fs.close(f));
    }
}
