//! IMA, measure only (Linux's security/integrity/ima, without a policy
//! language or a TPM): the measurement list of PCR 10, what kexec adds to
//! it, its securityfs files, and its journey to the next kernel.
//!
//! - Boot: the list the previous kernel handed over (SETUP_IMA) is
//!   restored first, without re-extending anything, then this boot's
//!   `boot_aggregate` is added (ima_init's order).
//! - kexec_file_load measures the kernel and the initramfs (ima-ng, SHA-256
//!   of the file, its path) and the command line ("kexec-cmdline", ima-buf),
//!   as Linux does when its policy asks; and asks for the hand-over buffer,
//!   sized for the list plus room for what comes after the load.
//! - `kexec -e`: a reboot notifier writes the list as it is then into that
//!   buffer (kexec_update_segment), so late events are not lost.
//!
//! Unlike Linux, an event whose template hash is already in the list is
//! recorded again (Linux drops it, "hash_exists"): every load and every
//! boot is its own event here, which is what a log of kexec hops needs.
//! The library (libs/ima) owns every format.

use kexec_core::SuffixDigest;
use abi::Errno;
use alloc::string::String;
use core::sync::atomic::{AtomicUsize, Ordering};
use ima::{Entry, MeasurementList};
use kexec_core::{HandoverKind, HandoverRequest};
use spin::Mutex;

use crate::fs::kernfs::{register, text, KernelFile};
use crate::kexec::handover::{kexec_free_handover_buffer, kexec_get_handover_buffer};

static LIST: Mutex<MeasurementList> = Mutex::new(MeasurementList::new());

/// Room for events after the load, in bytes (CONFIG_IMA_KEXEC_EXTRA_MEMORY_KB;
/// kexos: `ima_kexec_extra_kb=N` on the command line).
static EXTRA: AtomicUsize = AtomicUsize::new(DEFAULT_EXTRA_KB << 10);
const DEFAULT_EXTRA_KB: usize = 16;

/// The event name of a line written to the kexos event file.
pub const USER_EVENT: &str = "kexos-event";

/// Restore the previous kernel's list, add boot_aggregate, install the
/// files and the reboot notifier. After kexec::handover::init.
pub fn init(cmdline: &str) {
    for arg in cmdline.split_whitespace() {
        if let Some(kb) = arg.strip_prefix("ima_kexec_extra_kb=") {
            match kb.parse::<usize>() {
                Ok(kb) if kb <= 1 << 20 => EXTRA.store(kb << 10, Ordering::Relaxed),
                _ => info!("ima: ima_kexec_extra_kb={:?} ignored (KiB, at most 1 GiB)", kb),
            }
        }
    }
    restore_kexec_buffer(cmdline);
    LIST.lock().add(Entry::boot_aggregate());
    register(&[&ASCII, &BINARY, &COUNT, &EVENT]);
    if crate::boot::test_hooks_enabled() {
        register(&[&TEST_HOOK]);
    }
    crate::kexec::notifier::register_reboot_notifier(crate::kexec::notifier::IMA, write_kexec_buffer);
}

/// ima_load_kexec_buffer: the list the previous kernel left, if any; the
/// buffer is freed whether or not it could be restored.
fn restore_kexec_buffer(cmdline: &str) {
    let Ok((addr, size)) = kexec_get_handover_buffer(HandoverKind::Ima) else {
        if crate::crash::vmcore::is_capture_kernel(cmdline) {
            info!("ima: no measurement list from the crashed kernel (a capture kernel gets none, as in Linux): this list starts at this boot");
        } else if crate::boot::entered_by_kexec() {
            info!("ima: the previous kernel passed no measurement list (no SETUP_IMA): this list starts at this boot");
        }
        return;
    };
    // SAFETY: the buffer was checked (RAM, page aligned, overlapping nothing
    // else) and reserved at boot; nothing writes it until it is freed below.
    let bytes = unsafe { core::slice::from_raw_parts(crate::mm::phys_to_virt(addr) as *const u8, size as usize) };
    match ima::restore(bytes) {
        Ok(entries) => {
            let n = entries.len();
            let mut list = LIST.lock();
            for e in entries {
                list.add(e);
            }
            info!("ima: restored {} measurements from the previous kernel's list at {:#x}", n, addr);
        }
        Err(e) => info!("ima: the previous kernel's measurement list at {:#x} was not restored: {}", addr, e),
    }
    let _ = kexec_free_handover_buffer(HandoverKind::Ima);
}

/// Add one measurement.
fn add(e: Entry) {
    LIST.lock().add(e);
}

/// A file's SHA-256, the hash states kept at a suffix and a cut, and the
/// nanoseconds it took.
pub type FileDigest = ([u8; 32], Option<SuffixDigest>, u64);

/// The hash half of measuring a file kexec read (KEXEC_KERNEL_CHECK,
/// KEXEC_INITRAMFS_CHECK): its SHA-256, the hash state kept on the way at
/// `suffix` (where the file's tail that is a whole segment starts, see
/// KexecFileOps::suffix_offset; 0 for the initrd, which is a whole segment)
/// and at `cut` (where purgatory's two CPUs split that segment's check,
/// kexec_core::cuts_for_two_cpus), so that the segment reuses the digest,
/// and the nanoseconds it took. Touches nothing but `data`: kexec_file_load
/// runs it on the helper CPU (arch::smp).
pub fn digest_file(data: &[u8], suffix: Option<usize>, cut: Option<usize>) -> FileDigest {
    let t0 = crate::time::now_ns();
    let kept = suffix.and_then(|offset| SuffixDigest::of_cut(data, offset, cut));
    let sha256 = kept.map_or_else(|| ima::file_digest(data), |k| k.known.sha256);
    (sha256, kept, crate::time::now_ns() - t0)
}

/// The list half of a file's measurement: its ima-ng entry.
pub fn record(sha256: &[u8; 32], path: &str) {
    add(Entry::ima_ng(sha256, path));
}

/// ima_kexec_cmdline: the command line without its NUL; nothing for an
/// empty one (as Linux).
pub fn measure_kexec_cmdline(cmdline: &[u8]) {
    let bytes = cmdline.strip_suffix(&[0]).unwrap_or(cmdline);
    if !bytes.is_empty() {
        add(Entry::ima_buf("kexec-cmdline", bytes));
    }
}

/// The hand-over buffer for a kexec load (ima_add_kexec_buffer): today's
/// list, in a segment with room for the events that come after the load.
pub fn kexec_buffer_request() -> Result<HandoverRequest, Errno> {
    let list = LIST.lock();
    let extra = EXTRA.load(Ordering::Relaxed);
    let size = ima::kexec_buffer_size(list.binary_size(), extra).ok_or(Errno::ENOMEM)?;
    let data = ima::dump(list.entries(), size).bytes;
    Ok(HandoverRequest { kind: HandoverKind::Ima, label: "ima_buffer", data, size: size as u64 })
}

/// The sizing the debug report prints.
pub fn kexec_buffer_report() -> String {
    let list = LIST.lock();
    alloc::format!(
        "ima: kexec buffer for {} measurements ({} bytes now) plus {} KiB for events after the load",
        list.len(),
        list.binary_size(),
        EXTRA.load(Ordering::Relaxed) >> 10
    )
}

/// At `kexec -e`: the whole list as it is now, into the loaded image's
/// IMA segment; what does not fit is logged.
fn write_kexec_buffer() {
    let Some((addr, memsz)) = crate::kexec::handover_segment(HandoverKind::Ima) else { return };
    let t0 = crate::time::now_ns();
    let list = LIST.lock();
    let dump = ima::dump(list.entries(), memsz as usize);
    let result = crate::kexec::kexec_update_segment(&dump.bytes, addr, memsz);
    let us = (crate::time::now_ns() - t0) / 1000;
    match result {
        Ok(_) => info!("ima: {} measurements ({} bytes) passed to the next kernel at {:#x} in {} us", dump.written, dump.bytes.len(), addr, us),
        Err(e) => info!("ima: measurement list not passed to the next kernel: {}", e.name()),
    }
    if dump.dropped != 0 {
        info!(
            "ima: {} measurements did not fit in the {} KiB kexec buffer and are not passed on (boot with ima_kexec_extra_kb= larger)",
            dump.dropped,
            memsz >> 10
        );
    }
}

static ASCII: KernelFile = KernelFile {
    path: "/sys/kernel/security/ima/ascii_runtime_measurements",
    mode: 0o440,
    read: || text(LIST.lock().ascii()),
    write: None,
};
static BINARY: KernelFile = KernelFile {
    path: "/sys/kernel/security/ima/binary_runtime_measurements",
    mode: 0o440,
    read: || Ok(alloc::sync::Arc::new(LIST.lock().binary())),
    write: None,
};
static COUNT: KernelFile = KernelFile {
    path: "/sys/kernel/security/ima/runtime_measurements_count",
    mode: 0o440,
    read: || text(alloc::format!("{}\n", LIST.lock().len())),
    write: None,
};
/// kexos: each write is one ima-buf event "kexos-event" holding the bytes
/// written (a trailing newline dropped), e.g. a marker before `kexec -e`.
static EVENT: KernelFile = KernelFile {
    path: "/sys/kernel/security/ima/kexos_event",
    mode: 0o200,
    read: || text(String::new()),
    write: Some(write_event),
};

fn write_event(data: &[u8]) -> Result<usize, Errno> {
    let bytes = data.strip_suffix(b"\n").unwrap_or(data);
    if bytes.is_empty() {
        return Err(Errno::EINVAL);
    }
    add(Entry::ima_buf(USER_EVENT, bytes));
    Ok(data.len())
}

/// Test hook (`kexec_test`), for the bench: `fill N` adds ima-buf events
/// until the list holds N; `update` runs the reboot-time update now (it
/// rewrites only the loaded image's IMA segment, as `kexec -e` would).
static TEST_HOOK: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_test_ima",
    mode: 0o200,
    read: || text(String::new()),
    write: Some(write_test_hook),
};

fn write_test_hook(data: &[u8]) -> Result<usize, Errno> {
    let cmd = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
    if cmd == "update" {
        write_kexec_buffer();
    } else if let Some(n) = cmd.strip_prefix("fill ") {
        let n: usize = n.trim().parse().map_err(|_| Errno::EINVAL)?;
        let mut list = LIST.lock();
        while list.len() < n {
            let event = alloc::format!("bench event {:06}", list.len());
            list.add(Entry::ima_buf(USER_EVENT, event.as_bytes()));
        }
        info!("ima: the list holds {} measurements ({} bytes)", list.len(), list.binary_size());
    } else {
        return Err(Errno::EINVAL);
    }
    Ok(data.len())
}
