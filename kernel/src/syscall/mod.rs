//! The syscall table. Linux x86_64 numbers and calling convention; every
//! handler returns `Result<u64, Errno>` and the dispatcher is the one place
//! where an error becomes a negative errno. Unknown numbers are ENOSYS.

mod fs;
mod mm;
mod sys;

use abi::{nr, Errno};

use crate::arch::syscall::SyscallFrame;

pub type SysResult = Result<u64, Errno>;

/// Called from syscall_entry.s with the saved user registers. The user's
/// XMM registers survive the call, whatever the kernel hashed with SHA-NI.
pub extern "C" fn dispatch(f: &mut SyscallFrame) {
    crate::arch::simd::preserving_user_simd(|| syscall(f));
}

fn syscall(f: &mut SyscallFrame) {
    let (a0, a1, a2, a3, a4, a5) = (f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9);
    let result: SysResult = match f.rax {
        nr::READ => fs::sys_read(a0, a1, a2),
        nr::WRITE => fs::sys_write(a0, a1, a2),
        nr::OPEN => fs::sys_openat(abi::fs::AT_FDCWD as u64, a0, a1, a2),
        nr::CLOSE => fs::sys_close(a0),
        nr::STAT => fs::sys_newfstatat(abi::fs::AT_FDCWD as u64, a0, a1, 0),
        nr::FSTAT => fs::sys_fstat(a0, a1),
        nr::LSTAT => fs::sys_newfstatat(abi::fs::AT_FDCWD as u64, a0, a1, abi::fs::AT_SYMLINK_NOFOLLOW as u64),
        nr::LSEEK => fs::sys_lseek(a0, a1, a2),
        nr::MMAP => mm::sys_mmap(a0, a1, a2, a3, a4, a5),
        nr::MUNMAP => mm::sys_munmap(a0, a1),
        nr::BRK => mm::sys_brk(a0),
        nr::DUP => fs::sys_dup(a0),
        nr::DUP2 => fs::sys_dup2(a0, a1),
        nr::GETPID => sys::sys_getpid(),
        nr::EXECVE => sys::sys_execve(a0, a1, a2),
        nr::EXIT | nr::EXIT_GROUP => sys::sys_exit(a0),
        nr::UNAME => sys::sys_uname(a0),
        nr::GETCWD => fs::sys_getcwd(a0, a1),
        nr::CHDIR => fs::sys_chdir(a0),
        nr::MKDIR => fs::sys_mkdir(a0, a1),
        nr::UNLINK => fs::sys_unlink(a0),
        nr::SYSLOG => sys::sys_syslog(a0, a1, a2),
        nr::REBOOT => sys::sys_reboot(a0, a1, a2, a3),
        nr::GETDENTS64 => fs::sys_getdents64(a0, a1, a2),
        nr::CLOCK_GETTIME => sys::sys_clock_gettime(a0, a1),
        nr::OPENAT => fs::sys_openat(a0, a1, a2, a3),
        nr::NEWFSTATAT => fs::sys_newfstatat(a0, a1, a2, a3),
        // Hundreds of ms of hashing and copying: with interrupts on.
        nr::KEXEC_FILE_LOAD => crate::arch::with_interrupts(|| crate::kexec::file::sys_kexec_file_load(a0, a1, a2, a3, a4)),
        _ => Err(Errno::ENOSYS),
    };
    f.rax = match result {
        Ok(v) => v,
        Err(e) => e.to_ret() as u64,
    };
}
