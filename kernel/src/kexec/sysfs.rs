//! kexec's /sys/kernel files (Linux's kernel/ksysfs.c), plus kexos's own
//! kexec diagnostics and, with `kexec_test`, its test hooks.

use abi::Errno;
use alloc::format;

use crate::fs::kernfs::{register, text, KernelFile};

static KEXEC_LOADED: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_loaded",
    mode: 0o444,
    read: || text(format!("{}\n", super::loaded() as u8)),
    write: None,
};
static KEXEC_CRASH_LOADED: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_crash_loaded",
    mode: 0o444,
    read: || text(format!("{}\n", super::crash_loaded() as u8)),
    write: None,
};
/// kexos: what purgatory will check the loaded image with (abi::kexec).
static KEXEC_DIGEST: KernelFile = KernelFile {
    path: abi::kexec::SYS_KEXEC_DIGEST,
    mode: 0o444,
    read: || text(digest_text(false)),
    write: None,
};
static KEXEC_CRASH_DIGEST: KernelFile = KernelFile {
    path: abi::kexec::SYS_KEXEC_CRASH_DIGEST,
    mode: 0o444,
    read: || text(digest_text(true)),
    write: None,
};

/// `sha256\n` or `xxh64\n`; empty when no such image is loaded.
fn digest_text(crash: bool) -> alloc::string::String {
    super::loaded_digest(crash).map_or_else(alloc::string::String::new, |h| format!("{}\n", h.name()))
}

/// kexos: why the last load failed, in words.
static KEXEC_LAST_ERROR: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_last_error",
    mode: 0o444,
    read: || text(super::last_error()),
    write: None,
};
/// Linux's kexec_crash_size: the reservation's size in bytes; writing a
/// smaller one gives the tail back (crash_shrink_memory).
static KEXEC_CRASH_SIZE: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_crash_size",
    mode: 0o644,
    read: || text(format!("{}\n", crate::crash::region().map_or(0, |(s, e)| e - s))),
    write: Some(write_crash_size),
};
/// Linux's kernel.kexec_load_disabled sysctl: 0, or 1 for good. Only 1
/// may be written (proc_dointvec_minmax with min = max = 1): 0 is EINVAL.
static KEXEC_LOAD_DISABLED: KernelFile = KernelFile {
    path: "/proc/sys/kernel/kexec_load_disabled",
    mode: 0o644,
    read: || text(format!("{}\n", super::load_disabled() as u8)),
    write: Some(write_load_disabled),
};
/// Test hook: `list` corrupts the entry list, a number N that segment's
/// first data byte, `N:last` its last, `N@exec` segment N's data at `kexec
/// -e` after the reboot notifiers.
static KEXEC_TEST_CORRUPT: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_test_corrupt",
    mode: 0o200,
    read: || text(alloc::string::String::new()),
    write: Some(write_test_corrupt),
};

/// Test hook: the `kexec_test` hand-over buffer the previous kernel left
/// (its text; ENOENT when none); writing `free` frees it.
static KEXEC_TEST_HANDOVER: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_test_handover",
    mode: 0o600,
    read: || Ok(alloc::sync::Arc::new(super::handover::held_text(super::handover::TEST_KIND)?)),
    write: Some(write_test_handover),
};

/// Test hook: writing N makes the next kexec_file_load fail its Nth
/// fallible allocation (0: only count them); reading says how many the
/// last such call passed (mm/fail.rs).
static KEXEC_TEST_FAIL_ALLOC: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_test_fail_alloc",
    mode: 0o600,
    read: || text(alloc::format!("{}\n", crate::mm::fail::last_points())),
    write: Some(write_fail_alloc),
};

/// Test hook: writing N (kHz) makes later loads pass N to the next kernel
/// as the TSC frequency instead of this kernel's, `off` this kernel's again;
/// reading says which (so a scenario can watch the next kernel refuse one).
static KEXEC_TEST_TSC_KHZ: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_test_tsc_khz",
    mode: 0o600,
    read: || text(super::load::test_tsc_khz().map_or_else(|| alloc::string::String::from("off\n"), |khz| format!("{khz}\n"))),
    write: Some(write_test_tsc_khz),
};

fn write_test_tsc_khz(data: &[u8]) -> Result<usize, Errno> {
    let text = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
    let khz = match text {
        "off" => None,
        n => Some(n.parse::<u64>().map_err(|_| Errno::EINVAL)?),
    };
    super::load::set_test_tsc_khz(khz)?;
    Ok(data.len())
}

fn write_fail_alloc(data: &[u8]) -> Result<usize, Errno> {
    let n = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim().parse::<u64>().map_err(|_| Errno::EINVAL)?;
    crate::mm::fail::set_pending(n);
    Ok(data.len())
}

fn write_test_handover(data: &[u8]) -> Result<usize, Errno> {
    if data.trim_ascii() != b"free" {
        return Err(Errno::EINVAL);
    }
    super::handover::kexec_free_handover_buffer(super::handover::TEST_KIND)?;
    Ok(data.len())
}

pub fn install() {
    register(&[&KEXEC_LOADED, &KEXEC_CRASH_LOADED, &KEXEC_DIGEST, &KEXEC_CRASH_DIGEST, &KEXEC_LAST_ERROR, &KEXEC_CRASH_SIZE, &KEXEC_LOAD_DISABLED]);
    if crate::boot::test_hooks_enabled() {
        register(&[&KEXEC_TEST_CORRUPT, &KEXEC_TEST_HANDOVER, &KEXEC_TEST_FAIL_ALLOC, &KEXEC_TEST_TSC_KHZ]);
        super::notifier::register_reboot_notifier(super::notifier::TEST_CORRUPT, super::test_corrupt_late);
    }
}

fn write_load_disabled(data: &[u8]) -> Result<usize, Errno> {
    let text = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
    if text.parse::<i64>().map_err(|_| Errno::EINVAL)? != 1 {
        return Err(Errno::EINVAL);
    }
    super::disable_load();
    Ok(data.len())
}

fn write_crash_size(data: &[u8]) -> Result<usize, Errno> {
    let text = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
    // kstrtoul(buf, 0): decimal, 0x hex or 0 octal.
    let size = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        u64::from_str_radix(&text[1..], 8)
    } else {
        text.parse::<u64>()
    }
    .map_err(|_| Errno::EINVAL)?;
    super::crash_shrink(size)?;
    Ok(data.len())
}

fn write_test_corrupt(data: &[u8]) -> Result<usize, Errno> {
    let text = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
    if text == "list" {
        super::test_corrupt_entries()?;
    } else if let Some(index) = text.strip_suffix("@exec") {
        super::test_corrupt_segment_at_exec(index.parse::<usize>().map_err(|_| Errno::EINVAL)?)?;
    } else {
        let (index, last) = match text.strip_suffix(":last") {
            Some(index) => (index, true),
            None => (text, false),
        };
        super::test_corrupt_segment(index.parse::<usize>().map_err(|_| Errno::EINVAL)?, last)?;
    }
    Ok(data.len())
}
