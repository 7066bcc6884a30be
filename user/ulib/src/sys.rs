//! Typed syscall wrappers. Errors come back as [`Errno`]; unknown error
//! numbers map to `EIO` (use [`crate::raw`] to see the raw value).
//!
//! Paths are `&str`; they are copied into a NUL-terminated buffer (a path with
//! an interior NUL is `EINVAL`).
//!
//! Every wrapper here is safe: the pointers go to the kernel through the
//! primitives in `call.rs`, which take Rust references of the size each call
//! uses. Only the calls that change the address space are `unsafe fn`s
//! ([`mmap`], [`munmap`], [`brk`]).

use crate::call::{self, Fill, PathCall, Scalar, StatCall, STAT_SIZE};
use crate::raw::syscall6;
use abi::fs::Stat;
use abi::nr;
use abi::Errno;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::CStr;

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
/// `EINVAL` if `s` contains a NUL.
pub fn with_cstr<R>(s: &str, f: impl FnOnce(&CStr) -> R) -> SysResult<R> {
    let b = s.as_bytes();
    if b.len() < 256 {
        let mut buf = [0u8; 256];
        buf[..b.len()].copy_from_slice(b);
        let c = CStr::from_bytes_with_nul(&buf[..=b.len()]).map_err(|_| Errno::EINVAL)?;
        Ok(f(c))
    } else {
        let mut v = Vec::with_capacity(b.len() + 1);
        v.extend_from_slice(b);
        v.push(0);
        let c = CStr::from_bytes_with_nul(&v).map_err(|_| Errno::EINVAL)?;
        Ok(f(c))
    }
}

pub fn read(fd: i32, buf: &mut [u8]) -> SysResult {
    check(call::fill(Fill::Read(fd), buf))
}

pub fn write(fd: i32, buf: &[u8]) -> SysResult {
    check(call::write(fd, buf))
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

fn path_call(c: PathCall, path: &str) -> SysResult {
    check(with_cstr(path, |p| call::path(c, p))?)
}

pub fn open(path: &str, flags: u32, mode: u32) -> SysResult<i32> {
    path_call(PathCall::Open { flags, mode }, path).map(|fd| fd as i32)
}

pub fn openat(dirfd: i32, path: &str, flags: u32, mode: u32) -> SysResult<i32> {
    path_call(PathCall::Openat { dirfd, flags, mode }, path).map(|fd| fd as i32)
}

pub fn close(fd: i32) -> SysResult<()> {
    check(call::scalar(Scalar::Close(fd))).map(drop)
}

pub fn dup(fd: i32) -> SysResult<i32> {
    check(call::scalar(Scalar::Dup(fd))).map(|v| v as i32)
}

pub fn dup2(old: i32, new: i32) -> SysResult<i32> {
    check(call::scalar(Scalar::Dup2(old, new))).map(|v| v as i32)
}

pub fn lseek(fd: i32, off: i64, whence: u32) -> SysResult<u64> {
    check(call::scalar(Scalar::Lseek(fd, off, whence))).map(|v| v as u64)
}

fn stat_call(c: StatCall<'_>) -> SysResult<Stat> {
    let mut buf = [0u8; STAT_SIZE];
    check(call::stat(c, &mut buf))?;
    Ok(Stat::from_bytes(&buf))
}

pub fn fstat(fd: i32) -> SysResult<Stat> {
    stat_call(StatCall::Fstat(fd))
}

/// stat(2): follows symlinks.
pub fn stat(path: &str) -> SysResult<Stat> {
    with_cstr(path, |p| stat_call(StatCall::Stat(p)))?
}

pub fn newfstatat(dirfd: i32, path: &str, flags: u32) -> SysResult<Stat> {
    with_cstr(path, |p| stat_call(StatCall::Newfstatat(dirfd, p, flags)))?
}

/// Fill `buf` with `linux_dirent64` records; 0 at the end of the directory.
/// Decode with [`abi::fs::dirents`].
pub fn getdents64(fd: i32, buf: &mut [u8]) -> SysResult {
    check(call::fill(Fill::Getdents64(fd), buf))
}

/// The current program break (`brk(0)`, which changes nothing).
pub fn program_break() -> usize {
    call::scalar(Scalar::BrkQuery) as usize
}

/// brk(2) as the kernel does it: returns the new break, or the old one on failure.
/// `brk(0)` queries the current break (see [`program_break`]).
///
/// # Safety
/// Lowering the break unmaps `[addr, old break)`: nothing may use memory in
/// that range afterwards (the ulib allocator only uses memory below the
/// break it set itself). Raising it maps fresh zeroed pages nobody uses.
pub unsafe fn brk(addr: usize) -> usize {
    // SAFETY: brk(2) reads and writes none of our memory; what it unmaps is
    // the caller's responsibility (# Safety above).
    unsafe { syscall6(nr::BRK, addr as u64, 0, 0, 0, 0, 0) as usize }
}

/// Raw mmap(2).
///
/// # Safety
/// With `MAP_FIXED` it can replace existing mappings: nothing may use memory
/// in `[addr, addr + len)` afterwards. A file mapping must follow the rules
/// of the memory it creates (e.g. no `&mut` to a shared mapping others write).
pub unsafe fn mmap(addr: usize, len: usize, prot: u64, flags: u64, fd: i32, off: u64) -> SysResult {
    // SAFETY: mmap(2) reads and writes none of our memory; what a MAP_FIXED
    // mapping replaces is the caller's responsibility (# Safety above).
    check(unsafe {
        syscall6(
            nr::MMAP,
            addr as u64,
            len as u64,
            prot,
            flags,
            fd as u64,
            off,
        )
    })
}

/// A fresh private anonymous read/write mapping of `len` bytes.
pub fn mmap_anon(len: usize) -> SysResult<*mut u8> {
    use abi::mm::*;
    // SAFETY: without MAP_FIXED the kernel places the mapping in a range no
    // existing mapping uses (address 0 is no hint), so no memory in use
    // changes; the new pages are private and zeroed.
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
    // SAFETY: munmap(2) touches no memory but the range, which the caller
    // gives up (# Safety above).
    check(unsafe { syscall6(nr::MUNMAP, addr as u64, len as u64, 0, 0, 0, 0) }).map(drop)
}

pub fn getpid() -> usize {
    call::scalar(Scalar::Getpid) as usize
}

/// execve(2): only returns on failure.
pub fn execve(path: &str, argv: &[&str], envp: &[&str]) -> Errno {
    let (Some(a), Some(e)) = (call::CStrArray::new(argv), call::CStrArray::new(envp)) else {
        return Errno::EINVAL;
    };
    match with_cstr(path, |p| call::execve(p, &a, &e)).and_then(check) {
        Ok(_) => Errno::EIO, // execve does not return on success
        Err(e) => e,
    }
}

/// exit_group(2).
pub fn exit(code: i32) -> ! {
    call::scalar(Scalar::ExitGroup(code));
    call::scalar(Scalar::Exit(code));
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
    check(call::uname(&mut u.0))?;
    Ok(u)
}

pub fn getcwd() -> SysResult<String> {
    let mut buf = alloc::vec![0u8; abi::fs::PATH_MAX];
    let n = check(call::fill(Fill::Getcwd, &mut buf))?;
    // Linux returns the length including the NUL; be lenient and stop at the first NUL.
    let end = buf[..n.min(buf.len())]
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(n.min(buf.len()));
    buf.truncate(end);
    String::from_utf8(buf).map_err(|_| Errno::EINVAL)
}

pub fn chdir(path: &str) -> SysResult<()> {
    path_call(PathCall::Chdir, path).map(drop)
}

pub fn mkdir(path: &str, mode: u32) -> SysResult<()> {
    path_call(PathCall::Mkdir { mode }, path).map(drop)
}

pub fn unlink(path: &str) -> SysResult<()> {
    path_call(PathCall::Unlink, path).map(drop)
}

/// syslog(2) with a buffer (e.g. `SYSLOG_ACTION_READ_ALL`).
pub fn syslog(action: u64, buf: &mut [u8]) -> SysResult {
    check(call::fill(Fill::Syslog(action), buf))
}

/// syslog(2) without a buffer (e.g. `SYSLOG_ACTION_SIZE_BUFFER`).
pub fn syslog_query(action: u64) -> SysResult {
    check(call::scalar(Scalar::SyslogQuery(action)))
}

/// reboot(2) with Linux's magic numbers; `cmd` is e.g.
/// [`abi::reboot::LINUX_REBOOT_CMD_POWER_OFF`]. Returns only on failure
/// (or for commands such as kexec that the kernel may refuse).
pub fn reboot(cmd: u32) -> SysResult<()> {
    check(call::scalar(Scalar::Reboot(cmd))).map(drop)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

pub fn clock_gettime(clock: u64) -> SysResult<Timespec> {
    let mut ts = [0i64; 2];
    check(call::clock_gettime(clock, &mut ts))?;
    Ok(Timespec {
        sec: ts[0],
        nsec: ts[1],
    })
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
    check(call::kexec_file_load(kernel_fd, initrd_fd, cmdline, flags)).map(drop)
}
