//! The slice of the Linux x86_64 ABI that kexos implements, shared by the
//! kernel, user space and the host-tested libraries.
//!
//! Values are Linux's (include/uapi/asm-generic/errno-base.h, errno.h,
//! arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/linux/*.h) so that
//! programs and tests written against Linux read the same numbers here.
#![no_std]
#![forbid(unsafe_code)]

mod errno;
pub mod fs;
pub mod kexec;
pub mod mm;
pub mod nr;
pub mod reboot;
pub mod uts;

pub use errno::Errno;
