//! /proc: files whose contents the kernel generates when they are opened.

use alloc::format;
use alloc::string::String;
use abi::Errno;
use alloc::sync::Arc;
use alloc::vec::Vec;
use memmap::IomemChild;
use vfs::SpecialContents;
use vfs::Vfs;

const CMDLINE: u32 = 1;
const MEMINFO: u32 = 2;
const IOMEM: u32 = 3;
const VERSION: u32 = 4;
const UPTIME: u32 = 5;
const SYSRQ_TRIGGER: u32 = 6;
const VMCORE: u32 = 7;

const FILES: &[(&str, u32, u32)] = &[
    ("/proc/cmdline", CMDLINE, 0o444),
    ("/proc/meminfo", MEMINFO, 0o444),
    ("/proc/iomem", IOMEM, 0o444),
    ("/proc/version", VERSION, 0o444),
    ("/proc/uptime", UPTIME, 0o444),
    ("/proc/sysrq-trigger", SYSRQ_TRIGGER, 0o200),
];

pub fn install(fs: &mut Vfs) {
    let _ = fs.mkdir_all("/proc");
    for &(path, id, mode) in FILES {
        if let Err(e) = fs.add_special(path, id, mode) {
            info!("procfs: cannot create {}: {:?}", path, e);
        }
    }
    // Only a capture kernel has a dump to offer (as in Linux).
    if crate::crash::vmcore::present() {
        if let Err(e) = fs.add_special("/proc/vmcore", VMCORE, 0o400) {
            info!("procfs: cannot create /proc/vmcore: {:?}", e);
        }
    }
}

/// What an opener of special file `id` reads: a text generated now, or for
/// /proc/vmcore a view of the crashed kernel's memory.
pub fn contents(id: u32) -> Result<Arc<dyn SpecialContents>, Errno> {
    if id == VMCORE {
        return crate::crash::vmcore::contents();
    }
    Ok(Arc::new(generate(id)))
}

pub fn version() -> String {
    format!(
        "kexos version {} ({}) #1 {}",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        "x86_64"
    )
}

/// The current contents of special file `id` (procfs or sysfs).
pub fn generate(id: u32) -> Vec<u8> {
    if id >= super::sysfs::FIRST_ID {
        return super::sysfs::generate(id);
    }
    let text = match id {
        // Linux prints the command line followed by a newline.
        CMDLINE => format!("{}\n", crate::boot::cmdline()),
        MEMINFO => memmap::meminfo(crate::mm::frame::total_ram(), crate::mm::frame::free_bytes()),
        IOMEM => crate::mm::memory_map().iomem(&iomem_children()),
        VERSION => format!("{}\n", version()),
        UPTIME => {
            let ns = crate::time::now_ns();
            format!("{}.{:02} 0.00\n", ns / 1_000_000_000, (ns / 10_000_000) % 100)
        }
        _ => String::new(),
    };
    text.into_bytes()
}

fn iomem_children() -> Vec<IomemChild> {
    crate::crash::iomem_children()
}

/// A write to procfs file `id`; only /proc/sysrq-trigger accepts one.
pub fn write(id: u32, data: &[u8]) -> Result<usize, Errno> {
    if id >= super::sysfs::FIRST_ID {
        return super::sysfs::write(id, data);
    }
    if id != SYSRQ_TRIGGER {
        return Err(Errno::EACCES);
    }
    // Like Linux's write_sysrq_trigger, only the first character counts.
    if let Some(&key) = data.first() {
        sysrq(key);
    }
    Ok(data.len())
}

/// Magic SysRq keys (Documentation/admin-guide/sysrq.rst).
fn sysrq(key: u8) {
    match key {
        b'c' => {
            info!("sysrq: Trigger a crash");
            crash_by_null_write()
        }
        b'b' => {
            info!("sysrq: Resetting");
            crate::arch::qemu::reset()
        }
        b'o' => {
            info!("sysrq: Power Off");
            crate::arch::qemu::exit(crate::arch::qemu::ExitCode::Success)
        }
        b'\n' => {}
        _ => info!("sysrq: HELP : reboot(b) crash(c) poweroff(o)"),
    }
}

/// sysrq-c: a kernel write through a NULL pointer, as Linux's sysrq_handle_crash
/// does, so the whole kernel-fault path (exception -> report -> panic) runs.
pub fn crash_by_null_write() {
    // SAFETY: deliberately faults; the page-fault handler never returns here.
    // Written in asm because a NULL write is undefined behaviour in Rust.
    unsafe { core::arch::asm!("mov byte ptr [{0}], 1", in(reg) 0u64) };
}
