//! kexec_file_load(2) flags (include/uapi/linux/kexec.h).
pub const KEXEC_FILE_UNLOAD: u64 = 0x1;
pub const KEXEC_FILE_ON_CRASH: u64 = 0x2;
pub const KEXEC_FILE_NO_INITRAMFS: u64 = 0x4;
pub const KEXEC_FILE_DEBUG: u64 = 0x8;
/// Every flag kexos implements; other bits are EINVAL.
pub const KEXEC_FILE_FLAGS: u64 =
    KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH | KEXEC_FILE_NO_INITRAMFS | KEXEC_FILE_DEBUG;
