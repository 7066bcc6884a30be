//! /proc: files whose contents the kernel generates when they are opened.

use abi::Errno;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use memmap::IomemChild;
use spin::Mutex;

use super::kernfs::{register, text, KernelFile};

/// Linux prints the command line followed by a newline.
static CMDLINE: KernelFile = KernelFile {
    path: "/proc/cmdline",
    mode: 0o444,
    read: || text(format!("{}\n", crate::boot::cmdline())),
    write: None,
};
static MEMINFO: KernelFile = KernelFile {
    path: "/proc/meminfo",
    mode: 0o444,
    read: || text(memmap::meminfo(crate::mm::frame::total_ram(), crate::mm::frame::free_bytes())),
    write: None,
};
static IOMEM: KernelFile = KernelFile {
    path: "/proc/iomem",
    mode: 0o444,
    read: || text(crate::mm::memory_map().iomem(&iomem_children())),
    write: None,
};
static VERSION: KernelFile = KernelFile {
    path: "/proc/version",
    mode: 0o444,
    read: || text(format!("{}\n", version())),
    write: None,
};
static UPTIME: KernelFile = KernelFile {
    path: "/proc/uptime",
    mode: 0o444,
    read: || {
        let ns = crate::time::now_ns();
        text(format!("{}.{:02} 0.00\n", ns / 1_000_000_000, (ns / 10_000_000) % 100))
    },
    write: None,
};
static SYSRQ_TRIGGER: KernelFile = KernelFile {
    path: "/proc/sysrq-trigger",
    mode: 0o200,
    read: || text(String::new()),
    write: Some(write_sysrq_trigger),
};

/// fs's own /proc files (the others are registered by their owners).
pub fn install() {
    let _ = super::with(|fs| fs.mkdir_all("/proc"));
    register(&[&CMDLINE, &MEMINFO, &IOMEM, &VERSION, &UPTIME, &SYSRQ_TRIGGER]);
}

/// Who adds lines under the memory map's in /proc/iomem (crash: its region).
static IOMEM_CHILDREN: Mutex<Vec<IomemChildren>> = Mutex::new(Vec::new());

/// Lines to nest under the memory map's, asked at every read.
pub type IomemChildren = fn() -> Vec<IomemChild>;

/// Add `children` to what /proc/iomem shows.
pub fn register_iomem_children(children: IomemChildren) {
    IOMEM_CHILDREN.lock().push(children);
}

fn iomem_children() -> Vec<IomemChild> {
    let providers = IOMEM_CHILDREN.lock().clone();
    providers.iter().flat_map(|p| p()).collect()
}

pub fn version() -> String {
    format!(
        "kexos version {} ({}) #1 {}",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        "x86_64"
    )
}

/// Like Linux's write_sysrq_trigger, only the first character counts.
fn write_sysrq_trigger(data: &[u8]) -> Result<usize, Errno> {
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
