//! /proc: files whose contents the kernel generates when they are opened.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use memmap::IomemChild;
use vfs::Vfs;

const CMDLINE: u32 = 1;
const MEMINFO: u32 = 2;
const IOMEM: u32 = 3;
const VERSION: u32 = 4;
const UPTIME: u32 = 5;

const FILES: &[(&str, u32)] = &[
    ("/proc/cmdline", CMDLINE),
    ("/proc/meminfo", MEMINFO),
    ("/proc/iomem", IOMEM),
    ("/proc/version", VERSION),
    ("/proc/uptime", UPTIME),
];

pub fn install(fs: &mut Vfs) {
    let _ = fs.mkdir_all("/proc");
    for &(path, id) in FILES {
        if let Err(e) = fs.add_special(path, id, 0o444) {
            info!("procfs: cannot create {}: {:?}", path, e);
        }
    }
}

pub fn version() -> String {
    format!(
        "kexos version {} ({}) #1 {}",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        "x86_64"
    )
}

/// The current contents of procfs file `id`.
pub fn generate(id: u32) -> Vec<u8> {
    let text = match id {
        // Linux prints the command line followed by a newline.
        CMDLINE => format!("{}\n", super::cmdline()),
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
    Vec::new()
}
