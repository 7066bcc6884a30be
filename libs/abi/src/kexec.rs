//! kexec_file_load(2) flags (include/uapi/linux/kexec.h).
pub const KEXEC_FILE_UNLOAD: u64 = 0x1;
pub const KEXEC_FILE_ON_CRASH: u64 = 0x2;
pub const KEXEC_FILE_NO_INITRAMFS: u64 = 0x4;
pub const KEXEC_FILE_DEBUG: u64 = 0x8;
/// kexos's own, not Linux's (a high bit, clear of the flags Linux keeps
/// adding from the bottom): purgatory checks the segments with XXH64
/// instead of SHA-256. Not cryptographic; it finds memory corrupted between
/// the load and the jump (what the check is for) for a small fraction of
/// SHA-256's time. `kexec --digest=xxh64`.
pub const KEXEC_FILE_XXH64_DIGEST: u64 = 1 << 31;
/// kexos: what purgatory will check the loaded image with, `sha256\n` or
/// `xxh64\n` (purgatory_abi::RegionHash's names); empty when none is loaded.
pub const SYS_KEXEC_DIGEST: &str = "/sys/kernel/kexec_digest";
/// The same for the crash image.
pub const SYS_KEXEC_CRASH_DIGEST: &str = "/sys/kernel/kexec_crash_digest";
/// Every flag kexos implements; other bits are EINVAL.
pub const KEXEC_FILE_FLAGS: u64 =
    KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH | KEXEC_FILE_NO_INITRAMFS | KEXEC_FILE_DEBUG | KEXEC_FILE_XXH64_DIGEST;
