//! The places where ulib hands pointers to the kernel.
//!
//! Each primitive takes an enum naming the only calls it may issue and takes
//! the memory those calls touch as Rust references of the size they need, so
//! its `SAFETY` argument covers a closed list that can be checked against the
//! man pages right here. [`crate::sys`] builds the public, safe wrappers on
//! these; the calls that change the address space (mmap, munmap, brk) stay
//! `unsafe fn`s there.

use crate::raw::syscall6;
use abi::nr;
use abi::reboot::{LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2};
use alloc::vec::Vec;
use core::ffi::CStr;

/// sizeof(struct stat) on x86_64 (abi::fs::Stat asserts it is 144).
pub(crate) const STAT_SIZE: usize = core::mem::size_of::<abi::fs::Stat>();

/// Calls that take only integers: they neither read nor write this
/// process's memory nor change its address space.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scalar {
    Close(i32),
    Dup(i32),
    Dup2(i32, i32),
    Lseek(i32, i64, u32),
    Getpid,
    /// brk(2) with 0, below any valid break: only reports the current break.
    BrkQuery,
    /// syslog(2) with a NULL buffer of length 0.
    SyslogQuery(u64),
    /// reboot(2) with Linux's magic numbers and a NULL `arg`.
    Reboot(u32),
    ExitGroup(i32),
    Exit(i32),
}

pub(crate) fn scalar(c: Scalar) -> i64 {
    use Scalar::*;
    let (n, a1, a2, a3) = match c {
        Close(fd) => (nr::CLOSE, fd as u64, 0, 0),
        Dup(fd) => (nr::DUP, fd as u64, 0, 0),
        Dup2(old, new) => (nr::DUP2, old as u64, new as u64, 0),
        Lseek(fd, off, whence) => (nr::LSEEK, fd as u64, off as u64, whence as u64),
        Getpid => (nr::GETPID, 0, 0, 0),
        BrkQuery => (nr::BRK, 0, 0, 0),
        SyslogQuery(action) => (nr::SYSLOG, action, 0, 0),
        Reboot(cmd) => (
            nr::REBOOT,
            LINUX_REBOOT_MAGIC1 as u64,
            LINUX_REBOOT_MAGIC2 as u64,
            cmd as u64,
        ),
        ExitGroup(code) => (nr::EXIT_GROUP, code as u64, 0, 0),
        Exit(code) => (nr::EXIT, code as u64, 0, 0),
    };
    // SAFETY: no argument above is a pointer the kernel dereferences:
    // close, dup, dup2, lseek, getpid, exit and exit_group take integers;
    // brk(0) asks for a break below the program's data, which brk(2) refuses
    // by returning the current one, so it maps and unmaps nothing;
    // syslog gets a length of 0, so it copies no byte to its NULL buffer;
    // reboot's fourth argument (`arg`, 0 here) is read only by
    // LINUX_REBOOT_CMD_RESTART2, which fails with EFAULT on NULL (reboot(2)).
    // None of the others maps or unmaps memory of this process.
    unsafe { syscall6(n, a1, a2, a3, 0, 0, 0) }
}

/// Calls that write at most their length argument of bytes into their
/// buffer argument and read none of this process's memory.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fill {
    /// read(2) from this fd.
    Read(i32),
    /// getdents64(2) of this directory fd.
    Getdents64(i32),
    /// syslog(2) with this action (READ, READ_ALL, READ_CLEAR copy at most
    /// `len` bytes; the other actions do not touch the buffer).
    Syslog(u64),
    /// getcwd(2) (ERANGE, nothing written, when the path does not fit).
    Getcwd,
}

pub(crate) fn fill(c: Fill, buf: &mut [u8]) -> i64 {
    let (p, len) = (buf.as_mut_ptr() as u64, buf.len() as u64);
    let (n, a1, a2, a3) = match c {
        Fill::Read(fd) => (nr::READ, fd as u64, p, len),
        Fill::Getdents64(fd) => (nr::GETDENTS64, fd as u64, p, len),
        Fill::Syslog(action) => (nr::SYSLOG, action, p, len),
        Fill::Getcwd => (nr::GETCWD, p, len, 0),
    };
    // SAFETY: each call above is passed `p`/`len` as its buffer and length
    // and writes at most `len` bytes from `p` (see [`Fill`]); `buf` is an
    // exclusive borrow of exactly `len` bytes for the whole call, and any
    // byte is a valid u8. Nothing else is a pointer.
    unsafe { syscall6(n, a1, a2, a3, 0, 0, 0) }
}

/// write(2): the kernel reads at most `buf.len()` bytes of `buf`.
pub(crate) fn write(fd: i32, buf: &[u8]) -> i64 {
    // SAFETY: write(2) only reads `count` bytes from `buf`; the slice is
    // borrowed (so readable and unchanged) for `buf.len()` == `count` bytes
    // during the call.
    unsafe {
        syscall6(
            nr::WRITE,
            fd as u64,
            buf.as_ptr() as u64,
            buf.len() as u64,
            0,
            0,
            0,
        )
    }
}

/// Calls whose only pointer argument is a path they read up to its NUL.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PathCall {
    Open { flags: u32, mode: u32 },
    Openat { dirfd: i32, flags: u32, mode: u32 },
    Chdir,
    Mkdir { mode: u32 },
    Unlink,
}

pub(crate) fn path(c: PathCall, path: &CStr) -> i64 {
    let p = path.as_ptr() as u64;
    let (n, a1, a2, a3, a4) = match c {
        PathCall::Open { flags, mode } => (nr::OPEN, p, flags as u64, mode as u64, 0),
        PathCall::Openat { dirfd, flags, mode } => {
            (nr::OPENAT, dirfd as u64, p, flags as u64, mode as u64)
        }
        PathCall::Chdir => (nr::CHDIR, p, 0, 0, 0),
        PathCall::Mkdir { mode } => (nr::MKDIR, p, mode as u64, 0, 0),
        PathCall::Unlink => (nr::UNLINK, p, 0, 0, 0),
    };
    // SAFETY: each call reads the string at `p` up to its NUL and nothing
    // else of ours (open(2), chdir(2), mkdir(2), unlink(2)); `path` is a
    // borrowed, NUL-terminated CStr for the whole call. The other arguments
    // are integers; none of these calls writes our memory.
    unsafe { syscall6(n, a1, a2, a3, a4, 0, 0) }
}

/// Calls that fill one x86_64 `struct stat` (abi::fs::Stat, 144 bytes).
#[derive(Clone, Copy, Debug)]
pub(crate) enum StatCall<'a> {
    Fstat(i32),
    Stat(&'a CStr),
    Newfstatat(i32, &'a CStr, u32),
}

pub(crate) fn stat(c: StatCall<'_>, out: &mut [u8; STAT_SIZE]) -> i64 {
    let o = out.as_mut_ptr() as u64;
    let (n, a1, a2, a3, a4) = match c {
        StatCall::Fstat(fd) => (nr::FSTAT, fd as u64, o, 0, 0),
        StatCall::Stat(p) => (nr::STAT, p.as_ptr() as u64, o, 0, 0),
        StatCall::Newfstatat(dirfd, p, flags) => (
            nr::NEWFSTATAT,
            dirfd as u64,
            p.as_ptr() as u64,
            o,
            flags as u64,
        ),
    };
    // SAFETY: stat(2), fstat(2) and newfstatat(2) read their path (a
    // borrowed, NUL-terminated CStr alive for the call) up to its NUL and
    // write exactly sizeof(struct stat) == STAT_SIZE bytes at `o`, which is
    // an exclusive borrow of that many bytes; any bytes are valid there.
    unsafe { syscall6(n, a1, a2, a3, a4, 0, 0) }
}

/// uname(2) into a `struct utsname`.
pub(crate) fn uname(out: &mut [u8; abi::uts::UTSNAME_SIZE]) -> i64 {
    // SAFETY: uname(2) writes exactly sizeof(struct utsname) ==
    // UTSNAME_SIZE bytes at its argument, an exclusive borrow of that size.
    unsafe { syscall6(nr::UNAME, out.as_mut_ptr() as u64, 0, 0, 0, 0, 0) }
}

/// clock_gettime(2) into a `struct timespec` (two i64s, 16 bytes).
pub(crate) fn clock_gettime(clock: u64, out: &mut [i64; 2]) -> i64 {
    // SAFETY: clock_gettime(2) writes one `struct timespec` (tv_sec and
    // tv_nsec, 8 bytes each on x86_64) at its second argument; `out` is an
    // exclusive borrow of two i64s, for which any bits are valid.
    unsafe {
        syscall6(
            nr::CLOCK_GETTIME,
            clock,
            out.as_mut_ptr() as u64,
            0,
            0,
            0,
            0,
        )
    }
}

/// kexec_file_load(2); `cmdline` is passed with its exact length.
pub(crate) fn kexec_file_load(
    kernel_fd: i32,
    initrd_fd: i32,
    cmdline: Option<&[u8]>,
    flags: u64,
) -> i64 {
    let (len, ptr) = cmdline.map_or((0, 0), |c| (c.len() as u64, c.as_ptr() as u64));
    // SAFETY: kexec_file_load(2) reads `cmdline_len` bytes at `cmdline` and
    // no other memory of ours (the images come through the fds): here either
    // a borrowed slice of exactly `len` bytes, or NULL with length 0.
    unsafe {
        syscall6(
            nr::KEXEC_FILE_LOAD,
            kernel_fd as u64,
            initrd_fd as u64,
            len,
            ptr,
            flags,
            0,
        )
    }
}

/// A NULL-terminated array of pointers to NUL-terminated strings, as
/// execve(2) takes for `argv` and `envp`.
///
/// Invariant: `ptrs` holds one pointer to the start of each buffer in
/// `bufs`, in order, then NULL; each buffer ends with its only NUL. The
/// buffers are never changed after construction, and moving a `Vec` does not
/// move its heap data, so the pointers stay valid as long as `self` lives.
pub(crate) struct CStrArray {
    bufs: Vec<Vec<u8>>,
    ptrs: Vec<*const u8>,
}

impl CStrArray {
    /// `None` if a string contains a NUL.
    pub(crate) fn new(strs: &[&str]) -> Option<CStrArray> {
        let bufs: Vec<Vec<u8>> = strs
            .iter()
            .map(|s| (!s.as_bytes().contains(&0)).then(|| [s.as_bytes(), &[0]].concat()))
            .collect::<Option<_>>()?;
        let ptrs = bufs
            .iter()
            .map(|b| b.as_ptr())
            .chain(core::iter::once(core::ptr::null()))
            .collect();
        Some(CStrArray { bufs, ptrs })
    }

    fn as_ptr(&self) -> *const *const u8 {
        debug_assert_eq!(self.ptrs.len(), self.bufs.len() + 1);
        self.ptrs.as_ptr()
    }
}

/// execve(2); returns only on failure.
pub(crate) fn execve(path: &CStr, argv: &CStrArray, envp: &CStrArray) -> i64 {
    // SAFETY: execve(2) reads `path` up to its NUL and the two
    // NULL-terminated pointer arrays with the strings they point to (each up
    // to its NUL); all three are borrowed for the call and well formed (the
    // CStrArray invariant). It writes none of our memory; on success this
    // process image is replaced and the call does not return.
    unsafe {
        syscall6(
            nr::EXECVE,
            path.as_ptr() as u64,
            argv.as_ptr() as u64,
            envp.as_ptr() as u64,
            0,
            0,
            0,
        )
    }
}
