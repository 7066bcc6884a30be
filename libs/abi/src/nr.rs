//! x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
pub const READ: u64 = 0;
pub const WRITE: u64 = 1;
pub const OPEN: u64 = 2;
pub const CLOSE: u64 = 3;
pub const STAT: u64 = 4;
pub const FSTAT: u64 = 5;
pub const LSTAT: u64 = 6;
pub const LSEEK: u64 = 8;
pub const MMAP: u64 = 9;
pub const MUNMAP: u64 = 11;
pub const BRK: u64 = 12;
pub const IOCTL: u64 = 16;
pub const DUP: u64 = 32;
pub const DUP2: u64 = 33;
pub const GETPID: u64 = 39;
pub const EXECVE: u64 = 59;
pub const EXIT: u64 = 60;
pub const UNAME: u64 = 63;
pub const GETCWD: u64 = 79;
pub const CHDIR: u64 = 80;
pub const MKDIR: u64 = 83;
pub const UNLINK: u64 = 87;
pub const REBOOT: u64 = 169;
pub const GETDENTS64: u64 = 217;
pub const CLOCK_GETTIME: u64 = 228;
pub const EXIT_GROUP: u64 = 231;
pub const OPENAT: u64 = 257;
pub const NEWFSTATAT: u64 = 262;
pub const KEXEC_FILE_LOAD: u64 = 320;
/// syslog(2) (klogctl): `dmesg` reads the kernel log ring buffer with it.
pub const SYSLOG: u64 = 103;

/// syslog(2) actions used by `dmesg` (include/linux/syslog.h).
pub const SYSLOG_ACTION_READ_ALL: u64 = 3;
pub const SYSLOG_ACTION_SIZE_BUFFER: u64 = 10;
/// clock ids for clock_gettime (include/uapi/linux/time.h).
pub const CLOCK_REALTIME: u64 = 0;
pub const CLOCK_MONOTONIC: u64 = 1;
pub const CLOCK_BOOTTIME: u64 = 7;
