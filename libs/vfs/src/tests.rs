//! End-to-end: an initramfs built by the cpio writer, unpacked, used
//! through open/read/getdents/close with an fd table.

use abi::fs::{dirents, O_CREAT, O_DIRECTORY, O_RDONLY, O_WRONLY};
use alloc::vec::Vec;

use crate::{path, FdTable, OpenFile, Vfs};
use abi::Errno;

fn initramfs() -> Vec<u8> {
    let mut w = cpio::Writer::new();
    for d in ["/bin", "/etc", "/boot", "/sbin", "/dev", "/tmp", "/proc"] {
        w.add_dir(d, 0o755);
    }
    w.add_file("/sbin/init", 0o755, b"\x7fELF init");
    w.add_file("/etc/rc", 0o644, b"");
    w.add_file("/boot/cmdline", 0o644, b"console=ttyS0 quiet");
    w.add_file("/boot/kexos.elf", 0o644, &[0x5a; 10_000]);
    w.finish()
}

#[test]
fn boot_flow() {
    let mut v = Vfs::new();
    assert_eq!(v.unpack_cpio(&initramfs()), Ok(11));
    v.add_special("/proc/meminfo", 1, 0o444).unwrap();
    let mut fds: FdTable<OpenFile> = FdTable::new(16);

    let p = path::normalize("/boot", "cmdline").unwrap();
    let f = v.open(&p, O_RDONLY, 0).unwrap();
    let fd = fds.alloc(f).unwrap();
    let mut buf = [0u8; 64];
    let n = v.read(fds.get_mut(fd).unwrap(), &mut buf).unwrap();
    assert_eq!(&buf[..n], b"console=ttyS0 quiet");

    let kernel = v.lookup("/boot/kexos.elf").unwrap();
    assert_eq!(v.file_data(kernel).unwrap().len(), 10_000);
    let w = v.open("/boot/kexos.elf", O_WRONLY, 0).unwrap();
    let wfd = fds.alloc(w).unwrap();
    assert_eq!(v.writers(kernel), 1, "kexec_file_load would see ETXTBSY");
    let closed = fds.close(wfd).unwrap();
    v.close(closed);
    assert_eq!(v.writers(kernel), 0);

    let d = v.open("/proc", O_RDONLY | O_DIRECTORY, 0).unwrap();
    let dfd = fds.alloc(d).unwrap();
    let mut dbuf = [0u8; 256];
    let n = v.getdents64(fds.get_mut(dfd).unwrap(), &mut dbuf).unwrap();
    let names: Vec<&[u8]> = dirents(&dbuf[..n]).map(|d| d.name).collect();
    assert_eq!(names, [&b"."[..], b"..", b"meminfo"]);

    let t = v.open("/tmp/out", O_WRONLY | O_CREAT, 0o644).unwrap();
    let tfd = fds.alloc(t).unwrap();
    assert_eq!(v.write(fds.get_mut(tfd).unwrap(), b"log"), Ok(3));
    assert_eq!(fds.len(), 3);
    for f in fds.drain() {
        v.close(f);
    }
    assert_eq!(v.open_count(kernel), 0);
    assert_eq!(v.file_data(v.lookup("/tmp/out").unwrap()), Ok(&b"log"[..]));
    assert_eq!(
        v.open("/sbin/init/", O_RDONLY, 0).unwrap_err(),
        Errno::ENOTDIR
    );
}
