//! mmap/munmap ABI (include/uapi/asm-generic/mman-common.h).
pub const PROT_NONE: u64 = 0;
pub const PROT_READ: u64 = 1;
pub const PROT_WRITE: u64 = 2;
pub const PROT_EXEC: u64 = 4;
pub const MAP_SHARED: u64 = 0x01;
pub const MAP_PRIVATE: u64 = 0x02;
pub const MAP_FIXED: u64 = 0x10;
pub const MAP_ANONYMOUS: u64 = 0x20;
/// The page size; mmap lengths and addresses are in these units.
/// (The raw mmap syscall returns -errno on failure, not C's `(void *)-1`.)
pub const PAGE_SIZE: u64 = 4096;
