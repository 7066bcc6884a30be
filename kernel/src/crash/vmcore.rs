//! The capture kernel's half (Linux's fs/proc/vmcore.c): `elfcorehdr=` on
//! the command line says this kernel was started by a crash; /proc/vmcore
//! is then the crashed kernel's memory as an ELF core file, read on demand
//! from the old memory (which this kernel's memory map does not give it as
//! RAM, so it is never allocated).

use abi::Errno;
use alloc::sync::Arc;
use elfcore::{OldMemory, Vmcore};
use spin::Once;
use vfs::SpecialContents;

use crate::mm::phys_to_virt;

static VMCORE: Once<Vmcore> = Once::new();

/// The first kernel's memory, through the direct map: below max(4 GiB, top
/// of our own memory map) it is mapped since boot; above, it is mapped
/// read-only on first access.
struct OldMem;

impl OldMemory for OldMem {
    fn read(&self, phys: u64, buf: &mut [u8]) -> bool {
        if buf.is_empty() {
            return true;
        }
        let Some(end) = phys.checked_add(buf.len() as u64) else { return false };
        if crate::mm::paging::ensure_direct_mapped(phys, end).is_err() {
            return false;
        }
        // SAFETY: mapped (ensured above); old memory is nobody's in this kernel.
        unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(phys) as *const u8, buf.as_mut_ptr(), buf.len()) };
        true
    }
}

/// `elfcorehdr=[size@]addr` (Linux's setup_elfcorehdr; the size is ignored
/// here too: the header says how big it is).
fn elfcorehdr(cmdline: &str) -> Option<Result<u64, ()>> {
    let value = cmdline::get(cmdline, "elfcorehdr")?.value?;
    let addr = value.rsplit('@').next().unwrap_or(value);
    Some(cmdline::memparse(addr).ok().filter(|(_, rest)| rest.is_empty()).map(|(a, _)| a).ok_or(()))
}

/// Whether `cmdline` makes this a capture kernel (it names elfcorehdr=).
pub fn is_capture_kernel(cmdline: &str) -> bool {
    elfcorehdr(cmdline).is_some()
}

/// At boot: if this is a capture kernel, parse the crashed kernel's ELF core
/// headers and say so.
pub fn init(cmdline: &str) {
    let addr = match elfcorehdr(cmdline) {
        None => return,
        Some(Ok(a)) => a,
        Some(Err(())) => {
            info!("crash: bad elfcorehdr= on the command line; no /proc/vmcore");
            return;
        }
    };
    let vmcore = match Vmcore::from_old_memory(addr, &OldMem) {
        Ok(v) => v,
        Err(e) => {
            info!("crash: capture kernel, but the ELF core header at {:#x} is unusable: {}; no /proc/vmcore", addr, e);
            return;
        }
    };
    info!(
        "crash: capture kernel: /proc/vmcore is {} MiB ({} MiB of the crashed kernel's memory in {} ranges, ELF core header at {:#x})",
        vmcore.size() >> 20,
        vmcore.ram_bytes() >> 20,
        vmcore.loads(),
        addr
    );
    // One NT_PRSTATUS per CPU that saved its registers; which one crashed is
    // not recorded (Linux's notes say nothing either), so with several CPUs
    // the line names the first note's.
    let cpus = elfcore::notes(vmcore.notes_bytes()).filter(|&(name, ty, _)| name == b"CORE" && ty == elfcore::NT_PRSTATUS).count();
    if let Some((pid, regs)) = vmcore.prstatus() {
        let which = if cpus > 1 { alloc::format!(" (first of {} CPU notes)", cpus) } else { alloc::string::String::new() };
        info!("crash: the crashed kernel stopped at rip={:#x} rsp={:#x} (pid {}){}", regs.rip, regs.rsp, pid, which);
    }
    protect_old_memory(&vmcore);
    VMCORE.call_once(|| vmcore);
}

/// The dump's memory, read-only and cached in our direct map: a bug here
/// cannot change it, and reads run at memory speed.
fn protect_old_memory(vmcore: &Vmcore) {
    let own: alloc::vec::Vec<(u64, u64)> =
        crate::mm::memory_map().regions().iter().filter(|r| r.kind.is_ram()).map(|r| (r.start, r.end)).collect();
    let t0 = crate::time::now_ns();
    let mut ok = true;
    for (start, end) in vmcore.phys_ranges() {
        // Never our own RAM (a header that lies about it must not make us
        // fault on ourselves).
        if own.iter().any(|&(s, e)| s < end && e > start) {
            info!("crash: a PT_LOAD [{:#x}-{:#x}) overlaps this kernel's own memory; left writable", start, end);
            continue;
        }
        ok &= crate::mm::paging::ensure_direct_mapped(start, end).is_ok()
            && crate::mm::protect::set_direct_map_old_memory(start, end);
    }
    if !ok {
        info!("crash: could not map all of the old memory read-only (no memory for page tables)");
    }
    info!("crash: old memory mapped read-only in {} us", (crate::time::now_ns() - t0) / 1000);
}

/// The first old-memory range of the dump (for the `oldmem` test hook).
pub fn first_range() -> Option<(u64, u64)> {
    VMCORE.get()?.phys_ranges().next()
}

pub fn present() -> bool {
    VMCORE.get().is_some()
}

/// /proc/vmcore as an open file sees it.
struct VmcoreFile(&'static Vmcore);

impl SpecialContents for VmcoreFile {
    fn len(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.0.read_at(offset, buf, &OldMem).map_err(|e| e.errno())
    }
}

pub fn contents() -> Result<Arc<dyn SpecialContents>, Errno> {
    Ok(Arc::new(VmcoreFile(VMCORE.get().ok_or(Errno::ENOENT)?)))
}
