//! kexec: the generic half (Linux's kernel/kexec_core.c + kexec_file.c).
//!
//! Data path: syscall (file.rs) -> fd -> file bytes -> probe -> loader ->
//! segments -> purgatory + digests (kexec_core library) -> entry list and
//! control pages (load.rs, with hand-over buffers) -> reboot(KEXEC) ->
//! reboot notifiers (which may kexec_update_segment a hand-over buffer) ->
//! machine_kexec -> relocate_kernel -> purgatory -> next kernel.

mod crash_image;
mod crash_kexec;
pub mod file;
pub mod handover;
mod load;
pub mod machine_kexec;
pub mod notifier;
pub mod sig;
pub mod sysfs;

use abi::Errno;
use alloc::string::String;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use spin::Mutex;

/// The loaded image, if any (Linux's kexec_image).
static IMAGE: Mutex<Option<load::LoadedImage>> = Mutex::new(None);
/// The loaded crash image, if any (Linux's kexec_crash_image).
static CRASH_IMAGE: Mutex<Option<crash_image::CrashImage>> = Mutex::new(None);
/// The armed crash image's jump target, outside any lock: the crash path
/// may interrupt a holder of CRASH_IMAGE's. CRASH_CODE == 0: none armed.
static CRASH_CODE: AtomicU64 = AtomicU64::new(0);
static CRASH_PML4: AtomicU64 = AtomicU64::new(0);
static CRASH_ENTRY: AtomicU64 = AtomicU64::new(0);
/// Held while a load, unload or kexec is in progress (Linux's kexec_lock):
/// a second caller gets EBUSY instead of waiting.
static BUSY: AtomicBool = AtomicBool::new(false);
/// /proc/sys/kernel/kexec_load_disabled: once set, every kexec_file_load
/// (UNLOAD included) is EPERM.
static LOAD_DISABLED: AtomicBool = AtomicBool::new(false);
/// Why the last load failed, for /sys/kernel/kexec_last_error.
static LAST_ERROR: Mutex<String> = Mutex::new(String::new());

/// Is kexec_file_load turned off for good?
pub fn load_disabled() -> bool {
    LOAD_DISABLED.load(Ordering::Acquire)
}

/// Turn kexec_file_load off until the next boot (one way).
fn disable_load() {
    if !LOAD_DISABLED.swap(true, Ordering::AcqRel) {
        info!("kexec: kexec_load_disabled set: no more kexec_file_load until the next boot");
    }
}

/// RAII form of kexec_trylock()/kexec_unlock().
pub struct KexecLock(());

impl KexecLock {
    pub fn try_acquire() -> Result<KexecLock, Errno> {
        BUSY.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).map(|_| KexecLock(())).map_err(|_| Errno::EBUSY)
    }
}

impl Drop for KexecLock {
    fn drop(&mut self) {
        BUSY.store(false, Ordering::Release);
    }
}

pub fn loaded() -> bool {
    IMAGE.lock().is_some()
}

/// What purgatory will check the loaded image (or the crash image) with.
pub fn loaded_digest(crash: bool) -> Option<kexec_core::purgatory_abi::RegionHash> {
    if crash {
        CRASH_IMAGE.lock().as_ref().map(|i| i.region_hash)
    } else {
        IMAGE.lock().as_ref().map(|i| i.region_hash)
    }
}

/// Whether a crash image occupies the region (armed or being replaced).
pub fn crash_image_loaded() -> bool {
    CRASH_IMAGE.lock().is_some()
}

pub fn crash_loaded() -> bool {
    crash_jump().is_some()
}

/// (relocate_kernel's page, identity map root, purgatory entry) of the
/// armed crash image. Lock-free, for the crash path.
pub fn crash_jump() -> Option<(u64, u64, u64)> {
    let code = CRASH_CODE.load(Ordering::SeqCst);
    (code != 0).then(|| (code, CRASH_PML4.load(Ordering::SeqCst), CRASH_ENTRY.load(Ordering::SeqCst)))
}

fn arm_crash(image: &crash_image::CrashImage) {
    let (code, pml4, entry) = image.jump_target();
    CRASH_PML4.store(pml4, Ordering::SeqCst);
    CRASH_ENTRY.store(entry, Ordering::SeqCst);
    CRASH_CODE.store(code, Ordering::SeqCst);
}

fn disarm_crash() {
    CRASH_CODE.store(0, Ordering::SeqCst);
}

pub use crash_kexec::{crash_kexec, save_crash_regs};

/// Writing /sys/kernel/kexec_crash_size (Linux's crash_shrink_memory):
/// EBUSY while kexec is busy, ENOENT while a crash image is loaded (it
/// lives in the region), else crash::shrink_region.
pub fn crash_shrink(new_size: u64) -> Result<(), Errno> {
    let _lock = KexecLock::try_acquire()?;
    if crash_image_loaded() {
        return Err(Errno::ENOENT);
    }
    crate::crash::shrink_region(new_size)
}

pub fn last_error() -> String {
    let e = LAST_ERROR.lock();
    if e.is_empty() {
        String::new()
    } else {
        alloc::format!("{}\n", e)
    }
}

/// Record (and log) why a load failed; `errno` is what the caller sees.
fn fail(errno: Errno, reason: String) -> Errno {
    info!("kexec_file: {} ({})", reason, errno.name());
    *LAST_ERROR.lock() = reason;
    errno
}

/// Test hook: flip one byte of segment `index`'s loaded data after its
/// digest was computed, so purgatory's verification must catch it: the
/// first, or the last with `last`.
pub fn test_corrupt_segment(index: usize, last: bool) -> Result<(), Errno> {
    if !crate::boot::test_hooks_enabled() {
        return Err(Errno::EPERM);
    }
    let _lock = KexecLock::try_acquire()?;
    let image = IMAGE.lock();
    let image = image.as_ref().ok_or(Errno::ENOENT)?;
    image.corrupt_segment(index, last)?;
    info!("kexec: test hook: corrupted the {} byte of segment {}", if last { "last" } else { "first" }, index);
    Ok(())
}

/// Test hook: segment to corrupt at `kexec -e` after every other reboot
/// notifier (a hand-over segment's contents are rewritten by its owner's
/// notifier, so only a late flip reaches purgatory). usize::MAX: none.
static LATE_CORRUPT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(usize::MAX);

/// Test hook: corrupt segment `index` at `kexec -e`, last.
pub fn test_corrupt_segment_at_exec(index: usize) -> Result<(), Errno> {
    if !crate::boot::test_hooks_enabled() {
        return Err(Errno::EPERM);
    }
    let image = IMAGE.lock();
    let image = image.as_ref().ok_or(Errno::ENOENT)?;
    if index >= image.segment_count() {
        return Err(Errno::EINVAL);
    }
    LATE_CORRUPT.store(index, Ordering::SeqCst);
    info!("kexec: test hook: segment {} will be corrupted at kexec -e, after the reboot notifiers", index);
    Ok(())
}

/// The reboot notifier behind [`test_corrupt_segment_at_exec`].
pub fn test_corrupt_late() {
    let index = LATE_CORRUPT.swap(usize::MAX, Ordering::SeqCst);
    if index == usize::MAX {
        return;
    }
    if let Some(image) = IMAGE.lock().as_ref() {
        match image.corrupt_segment(index, false) {
            Ok(()) => info!("kexec: test hook: corrupted one byte of segment {} after the reboot notifiers", index),
            Err(e) => info!("kexec: test hook: segment {} not corrupted: {}", index, e.name()),
        }
    }
}

/// Test hook: put a source before any destination in the loaded image's
/// entry list, which the check before the jump must refuse.
pub fn test_corrupt_entries() -> Result<(), Errno> {
    if !crate::boot::test_hooks_enabled() {
        return Err(Errno::EPERM);
    }
    let _lock = KexecLock::try_acquire()?;
    let image = IMAGE.lock();
    let entry = image.as_ref().ok_or(Errno::ENOENT)?.corrupt_entries()?;
    info!("kexec: test hook: first entry of the list is now {:#x} (a source before any destination)", entry);
    Ok(())
}

/// The loaded image's hand-over segment of `kind`, as (load address, memsz).
pub fn handover_segment(kind: kexec_core::HandoverKind) -> Option<(u64, u64)> {
    IMAGE.lock().as_ref()?.handover_segment(kind)
}

/// kexec_update_segment (the 2016 series): rewrite the contents of the
/// loaded image's hand-over segment at `load_addr` with `memsz` (the rest
/// zero-filled). ENOENT with no image loaded, EINVAL for a range that is
/// not a hand-over segment or a buffer longer than it. A reboot notifier
/// calls it at `kexec -e`; it takes no kexec lock (kernel_kexec holds it),
/// and a load cannot run while IMAGE is locked here.
pub fn kexec_update_segment(buffer: &[u8], load_addr: u64, memsz: u64) -> Result<usize, Errno> {
    let image = IMAGE.lock();
    let image = image.as_ref().ok_or(Errno::ENOENT)?;
    image.update_segment(buffer, load_addr, memsz).map_err(|e| {
        info!("kexec: kexec_update_segment refused: {}", e);
        e.errno()
    })
}

/// reboot(LINUX_REBOOT_CMD_KEXEC): run the loaded image. Returns only on
/// failure: EINVAL when nothing is loaded or when its entry list fails the
/// check below (the image stays loaded), EBUSY while a load is running.
pub fn kernel_kexec() -> Errno {
    let lock = match KexecLock::try_acquire() {
        Ok(l) => l,
        Err(e) => return e,
    };
    let mut phases = kexec_core::phases::PhaseLog::start(crate::time::now_ns());
    {
        let slot = IMAGE.lock();
        let Some(image) = slot.as_ref() else { return Errno::EINVAL };
        // The final list: nothing changes it from here (the kexec lock is
        // held, and reboot notifiers may update segment data, never
        // entries), so relocate_kernel runs only a list its model accepts.
        if let Err(e) = image.check_entries() {
            info!("kexec_core: not starting the new kernel: its entry list fails the check before the jump: {}", e);
            return Errno::EINVAL;
        }
    }
    phases.mark("check", crate::time::now_ns());
    info!("kexec_core: Starting new kernel");
    // With the image still in IMAGE, so a notifier can update its segments.
    notifier::run_reboot_notifiers();
    phases.mark("notifiers", crate::time::now_ns());
    // relocate_kernel and purgatory report theirs (purgatory: phases: ...).
    info!("{}{}", kexec_core::phases::EXEC_PHASES, phases.format());
    let Some(image) = IMAGE.lock().take() else { return Errno::EINVAL };
    core::mem::forget(lock); // held for good: this kernel ends here
    image.execute()
}
