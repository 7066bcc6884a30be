//! The few /sys/kernel files kexec users expect (Linux's kernel/ksysfs.c),
//! plus kexos's own kexec diagnostics.

use abi::Errno;
use alloc::format;
use alloc::vec::Vec;
use vfs::Vfs;

/// Special-file ids of this module start here (procfs uses smaller ones).
pub const FIRST_ID: u32 = 100;
const KEXEC_LOADED: u32 = 100;
const KEXEC_CRASH_LOADED: u32 = 101;
const KEXEC_LAST_ERROR: u32 = 102;
const KEXEC_TEST_CORRUPT: u32 = 103;
const KEXEC_CRASH_SIZE: u32 = 104;
const KEXEC_TEST_CRASH: u32 = 105;

pub fn install(fs: &mut Vfs) {
    let _ = fs.mkdir_all("/sys/kernel");
    let mut files = alloc::vec![
        ("/sys/kernel/kexec_loaded", KEXEC_LOADED, 0o444),
        ("/sys/kernel/kexec_crash_loaded", KEXEC_CRASH_LOADED, 0o444),
        ("/sys/kernel/kexec_last_error", KEXEC_LAST_ERROR, 0o444),
        ("/sys/kernel/kexec_crash_size", KEXEC_CRASH_SIZE, 0o644),
    ];
    // Test-only hook, present only when asked for on the command line.
    if crate::kexec::test_hooks_enabled() {
        files.push(("/sys/kernel/kexec_test_corrupt", KEXEC_TEST_CORRUPT, 0o200));
        files.push(("/sys/kernel/kexec_test_crash", KEXEC_TEST_CRASH, 0o200));
    }
    for (path, id, mode) in files {
        if let Err(e) = fs.add_special(path, id, mode) {
            info!("sysfs: cannot create {}: {:?}", path, e);
        }
    }
}

pub fn generate(id: u32) -> Vec<u8> {
    let text = match id {
        KEXEC_LOADED => format!("{}\n", crate::kexec::loaded() as u8),
        KEXEC_CRASH_LOADED => format!("{}\n", crate::kexec::crash_loaded() as u8),
        KEXEC_LAST_ERROR => crate::kexec::last_error(),
        // Linux's kexec_crash_size: the reservation's size in bytes.
        KEXEC_CRASH_SIZE => format!("{}\n", crate::crash::region().map_or(0, |(s, e)| e - s)),
        _ => alloc::string::String::new(),
    };
    text.into_bytes()
}

pub fn write(id: u32, data: &[u8]) -> Result<usize, Errno> {
    match id {
        KEXEC_TEST_CORRUPT => {
            let text = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
            // `list`: the entry list; a number: that segment's data.
            if text == "list" {
                crate::kexec::test_corrupt_entries()?;
            } else {
                crate::kexec::test_corrupt_segment(text.parse::<usize>().map_err(|_| Errno::EINVAL)?)?;
            }
            Ok(data.len())
        }
        KEXEC_CRASH_SIZE => {
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
            crate::kexec::crash_shrink(size)?;
            Ok(data.len())
        }
        KEXEC_TEST_CRASH => {
            let text = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
            crate::crash::test::command(text)?;
            Ok(data.len())
        }
        _ => Err(Errno::EACCES),
    }
}
