//! Typed syscall wrappers. Errors come back as [`Errno`]; unknown error
//! numbers map to `EIO` (use [`crate::raw`] to see the raw value).
//!
//! Paths are `&str`; they are copied into a NUL-terminated buffer (a path with
//! an interior NUL is `EINVAL`).

use crate::raw::*;
use abi::fs::Stat;
use abi::nr;
use abi::Errno;
use alloc::string::String;
use alloc::vec::Vec;

pub type SysResult<T = usize> = Result<T, Errno>;

/// The [`Errno`] for a positive raw error number (`EIO` if unknown).
pub fn errno(raw: i32) -> Errno {
    Errno::from_raw(raw).unwrap_or(Errno::EIO)
}

/// Decode a raw syscall return value.
pub fn check(ret: i64) -> SysResult {
    match Errno::from_ret(ret) {
        Ok(v) => Ok(v as usize),
        Err(e) => Err(errno(e)),
    }
}

/// Call `f` with a NUL-terminated copy of `s` (on the stack when short).
pub fn with_cstr<R>(s: &str, f: impl FnOnce(*const u8) -> R) -> SysResult<R> {
    let b = s.as_bytes();
    if b.contains(&0) {
        return Err(Errno::EINVAL);
    }
    if b.len() < 256 {
        let mut buf = [0u8; 256];
        buf[..b.len()].copy_from_slice(b);
        Ok(f(buf.as_ptr()))
    } else {
        let mut v = Vec::with_capacity(b.len() + 1);
        v.extend_from_slice(b);
        v.push(0);
        Ok(f(v.as_ptr()))
    }
}

pub fn read(fd: i32, buf: &mut [u8]) -> SysResult {
    check(unsafe {
        syscall3(
            nr::READ,
            fd as u64,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
        )
    })
}

pub fn write(fd: i32, buf: &[u8]) -> SysResult {
    check(unsafe { syscall3(nr::WRITE, fd as u64, buf.as_ptr() as u64, buf.len() as u64) })
}

/// Write the whole buffer (retrying short writes). A write of 0 bytes is `EIO`.
pub fn write_all(fd: i32, mut buf: &[u8]) -> SysResult<()> {
    while !buf.is_empty() {
        match write(fd, buf) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => buf = &buf[n.min(buf.len())..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub fn open(path: &str, flags: u32, mode: u32) -> SysResult<i32> {
    let r = with_cstr(path, |p| unsafe {
        syscall3(nr::OPEN, p as u64, flags as u64, mode as u64)
    })?;
    check(r).map(|fd| fd as i32)
}

pub fn openat(dirfd: i32, path: &str, flags: u32, mode: u32) -> SysResult<i32> {
    let r = with_cstr(path, |p| unsafe {
        syscall4(
            nr::OPENAT,
            dirfd as i64 as u64,
            p as u64,
            flags as u64,
            mode as u64,
        )
    })?;
    check(r).map(|fd| fd as i32)
}

pub fn close(fd: i32) -> SysResult<()> {
    check(unsafe { syscall1(nr::CLOSE, fd as u64) }).map(drop)
}

pub fn dup(fd: i32) -> SysResult<i32> {
    check(unsafe { syscall1(nr::DUP, fd as u64) }).map(|v| v as i32)
}

pub fn dup2(old: i32, new: i32) -> SysResult<i32> {
    check(unsafe { syscall2(nr::DUP2, old as u64, new as u64) }).map(|v| v as i32)
}

pub fn lseek(fd: i32, off: i64, whence: u32) -> SysResult<u64> {
    check(unsafe { syscall3(nr::LSEEK, fd as u64, off as u64, whence as u64) }).map(|v| v as u64)
}

pub fn fstat(fd: i32) -> SysResult<Stat> {
    let mut buf = [0u8; 144];
    check(unsafe { syscall2(nr::FSTAT, fd as u64, buf.as_mut_ptr() as u64) })?;
    Ok(Stat::from_bytes(&buf))
}

/// stat(2): follows symlinks.
pub fn stat(path: &str) -> SysResult<Stat> {
    let mut buf = [0u8; 144];
    check(with_cstr(path, |p| unsafe {
        syscall2(nr::STAT, p as u64, buf.as_mut_ptr() as u64)
    })?)?;
    Ok(Stat::from_bytes(&buf))
}

pub fn newfstatat(dirfd: i32, path: &str, flags: u32) -> SysResult<Stat> {
    let mut buf = [0u8; 144];
    check(with_cstr(path, |p| unsafe {
        syscall4(
            nr::NEWFSTATAT,
            dirfd as i64 as u64,
            p as u64,
            buf.as_mut_ptr() as u64,
            flags as u64,
        )
    })?)?;
    Ok(Stat::from_bytes(&buf))
}

/// Fill `buf` with `linux_dirent64` records; 0 at the end of the directory.
/// Decode with [`abi::fs::dirents`].
pub fn getdents64(fd: i32, buf: &mut [u8]) -> SysResult {
    check(unsafe {
        syscall3(
            nr::GETDENTS64,
            fd as u64,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
        )
    })
}

/// brk(2) as the kernel does it: returns the new break, or the old one on failure.
/// `brk(0)` queries the current break.
pub fn brk(addr: usize) -> usize {
    unsafe { syscall1(nr::BRK, addr as u64) as usize }
}

/// Raw mmap(2).
///
/// # Safety
/// With `MAP_FIXED` it can replace existing mappings.
pub unsafe fn mmap(addr: usize, len: usize, prot: u64, flags: u64, fd: i32, off: u64) -> SysResult {
    check(unsafe {
        syscall6(
            nr::MMAP,
            addr as u64,
            len as u64,
            prot,
            flags,
            fd as i64 as u64,
            off,
        )
    })
}

/// A fresh private anonymous read/write mapping of `len` bytes.
pub fn mmap_anon(len: usize) -> SysResult<*mut u8> {
    use abi::mm::*;
    unsafe {
        mmap(
            0,
            len,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        )
    }
    .map(|a| a as *mut u8)
}

/// # Safety
/// Nothing may use the unmapped range afterwards.
pub unsafe fn munmap(addr: usize, len: usize) -> SysResult<()> {
    check(unsafe { syscall2(nr::MUNMAP, addr as u64, len as u64) }).map(drop)
}

pub fn getpid() -> usize {
    unsafe { syscall0(nr::GETPID) as usize }
}

/// execve(2): only returns on failure.
pub fn execve(path: &str, argv: &[&str], envp: &[&str]) -> Errno {
    fn cstrings(v: &[&str]) -> Option<Vec<Vec<u8>>> {
        v.iter()
            .map(|s| (!s.as_bytes().contains(&0)).then(|| [s.as_bytes(), &[0]].concat()))
            .collect()
    }
    let (Some(a), Some(e)) = (cstrings(argv), cstrings(envp)) else {
        return Errno::EINVAL;
    };
    let ptrs = |v: &Vec<Vec<u8>>| -> Vec<*const u8> {
        v.iter()
            .map(|s| s.as_ptr())
            .chain(core::iter::once(core::ptr::null()))
            .collect()
    };
    let (ap, ep) = (ptrs(&a), ptrs(&e));
    let r = with_cstr(path, |p| unsafe {
        syscall3(nr::EXECVE, p as u64, ap.as_ptr() as u64, ep.as_ptr() as u64)
    });
    match r.and_then(check) {
        Ok(_) => Errno::EIO, // execve does not return on success
        Err(e) => e,
    }
}

/// exit_group(2).
pub fn exit(code: i32) -> ! {
    unsafe {
        syscall1(nr::EXIT_GROUP, code as u64);
        syscall1(nr::EXIT, code as u64);
    }
    loop {
        core::hint::spin_loop();
    }
}

/// `struct utsname`.
pub struct Utsname(pub [u8; abi::uts::UTSNAME_SIZE]);

impl Utsname {
    /// Field by index ([`abi::uts::SYSNAME`] ...).
    pub fn field(&self, i: usize) -> &str {
        abi::uts::field(&self.0, i)
    }
    pub fn sysname(&self) -> &str {
        self.field(abi::uts::SYSNAME)
    }
    pub fn nodename(&self) -> &str {
        self.field(abi::uts::NODENAME)
    }
    pub fn release(&self) -> &str {
        self.field(abi::uts::RELEASE)
    }
    pub fn version(&self) -> &str {
        self.field(abi::uts::VERSION)
    }
    pub fn machine(&self) -> &str {
        self.field(abi::uts::MACHINE)
    }
}

pub fn uname() -> SysResult<Utsname> {
    let mut u = Utsname([0; abi::uts::UTSNAME_SIZE]);
    check(unsafe { syscall1(nr::UNAME, u.0.as_mut_ptr() as u64) })?;
    Ok(u)
}

pub fn getcwd() -> SysResult<String> {
    let mut buf = alloc::vec![0u8; abi::fs::PATH_MAX];
    let n = check(unsafe { syscall2(nr::GETCWD, buf.as_mut_ptr() as u64, buf.len() as u64) })?;
    // Linux returns the length including the NUL; be lenient and stop at the first NUL.
    let end = buf[..n.min(buf.len())]
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(n.min(buf.len()));
    buf.truncate(end);
    String::from_utf8(buf).map_err(|_| Errno::EINVAL)
}

pub fn chdir(path: &str) -> SysResult<()> {
    check(with_cstr(path, |p| unsafe {
        syscall1(nr::CHDIR, p as u64)
    })?)
    .map(drop)
}

pub fn mkdir(path: &str, mode: u32) -> SysResult<()> {
    check(with_cstr(path, |p| unsafe {
        syscall2(nr::MKDIR, p as u64, mode as u64)
    })?)
    .map(drop)
}

pub fn unlink(path: &str) -> SysResult<()> {
    check(with_cstr(path, |p| unsafe {
        syscall1(nr::UNLINK, p as u64)
    })?)
    .map(drop)
}

/// syslog(2) with a buffer (e.g. `SYSLOG_ACTION_READ_ALL`).
pub fn syslog(action: u64, buf: &mut [u8]) -> SysResult {
    check(unsafe {
        syscall3(
            nr::SYSLOG,
            action,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
        )
    })
}

/// syslog(2) without a buffer (e.g. `SYSLOG_ACTION_SIZE_BUFFER`).
pub fn syslog_query(action: u64) -> SysResult {
    check(unsafe { syscall3(nr::SYSLOG, action, 0, 0) })
}

/// reboot(2) with Linux's magic numbers; `cmd` is e.g.
/// [`abi::reboot::LINUX_REBOOT_CMD_POWER_OFF`]. Returns only on failure
/// (or for commands such as kexec that the kernel may refuse).
pub fn reboot(cmd: u32) -> SysResult<()> {
    use abi::reboot::*;
    check(unsafe {
        syscall4(
            nr::REBOOT,
            LINUX_REBOOT_MAGIC1 as u64,
            LINUX_REBOOT_MAGIC2 as u64,
            cmd as u64,
            0,
        )
    })
    .map(drop)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

pub fn clock_gettime(clock: u64) -> SysResult<Timespec> {
    let mut ts = Timespec::default();
    check(unsafe { syscall2(nr::CLOCK_GETTIME, clock, &mut ts as *mut Timespec as u64) })?;
    Ok(ts)
}

/// kexec_file_load(2).
///
/// `initrd_fd` is ignored by the kernel with `KEXEC_FILE_NO_INITRAMFS` (pass
/// -1 then). `cmdline` is passed as is and must already end with its NUL:
/// cmdline_len = `cmdline.len()` (the kernel answers EINVAL when the last
/// byte is not NUL); `None` passes cmdline_len 0 and a NULL pointer, as
/// kexec-tools does without a command line and for `KEXEC_FILE_UNLOAD`.
pub fn kexec_file_load(
    kernel_fd: i32,
    initrd_fd: i32,
    cmdline: Option<&[u8]>,
    flags: u64,
) -> SysResult<()> {
    let (len, ptr) = cmdline.map_or((0, 0), |c| (c.len() as u64, c.as_ptr() as u64));
    check(unsafe {
        syscall5(
            nr::KEXEC_FILE_LOAD,
            kernel_fd as i64 as u64,
            initrd_fd as i64 as u64,
            len,
            ptr,
            flags,
        )
    })
    .map(drop)
}
