//! Character devices: the serial console under its names, /dev/null and
//! /dev/zero, with Linux's semantics (drivers/char/mem.c, tty): the VFS
//! holds their nodes (mode, st_rdev), an open one is a [`Device`] fd.

use abi::fs::{Stat, S_IFCHR};
use abi::Errno;

/// What an open character device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// COM1, as fds 0-2 of every process and /dev/ttyS0.
    Serial,
    /// /dev/console: the same port under the console's number.
    Console,
    /// Reads end at once; writes vanish.
    Null,
    /// Reads give zeros; writes vanish.
    Zero,
}

/// Linux's device numbers (Documentation/admin-guide/devices.txt), in
/// st_rdev's encoding for majors and minors below 256.
const fn makedev(major: u32, minor: u32) -> u32 {
    (major << 8) | minor
}

/// The nodes made in /dev at boot: (path, device, permission bits).
pub const NODES: [(&str, Device, u32); 4] = [
    ("/dev/console", Device::Console, 0o600),
    ("/dev/ttyS0", Device::Serial, 0o620),
    ("/dev/null", Device::Null, 0o666),
    ("/dev/zero", Device::Zero, 0o666),
];

impl Device {
    pub const fn rdev(self) -> u32 {
        match self {
            Device::Serial => makedev(4, 64),
            Device::Console => makedev(5, 1),
            Device::Null => makedev(1, 3),
            Device::Zero => makedev(1, 5),
        }
    }

    /// The device a node's st_rdev names; ENXIO for one kexos has no driver for.
    pub fn from_rdev(rdev: u32) -> Result<Device, Errno> {
        NODES.iter().map(|&(_, d, _)| d).find(|d| d.rdev() == rdev).ok_or(Errno::ENXIO)
    }

    fn mode(self) -> u32 {
        NODES.iter().find(|&&(_, d, _)| d == self).map_or(0o600, |&(_, _, m)| m)
    }

    pub fn is_console(self) -> bool {
        matches!(self, Device::Serial | Device::Console)
    }

    /// lseek(2): ESPIPE on a tty; /dev/null and /dev/zero stay at 0 (null_lseek).
    pub fn lseek(self) -> Result<u64, Errno> {
        if self.is_console() {
            Err(Errno::ESPIPE)
        } else {
            Ok(0)
        }
    }

    /// read(2) of `out.len()` bytes from a device that is not the console
    /// (the console blocks, see syscall::fs): 0 from /dev/null, zeros from /dev/zero.
    pub fn read_now(self, out: &mut [u8]) -> usize {
        match self {
            Device::Zero => {
                out.fill(0);
                out.len()
            }
            _ => 0,
        }
    }

    pub fn stat(self) -> Stat {
        Stat { st_mode: S_IFCHR | self.mode(), st_rdev: self.rdev().into(), st_blksize: 4096, st_nlink: 1, ..Default::default() }
    }
}

/// Make the /dev nodes (at boot, before init runs).
pub fn install(fs: &mut vfs::Vfs) {
    let _ = fs.mkdir_all("/dev");
    for (path, dev, mode) in NODES {
        // A node the initramfs brought under that name is replaced.
        let _ = fs.unlink(path);
        if let Err(e) = fs.add_char_dev(path, dev.rdev(), mode) {
            info!("fs: cannot create {}: {:?}", path, e);
        }
    }
}
