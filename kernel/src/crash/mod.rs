//! Crash dumps, the first kernel's half (Linux's kernel/crash_reserve.c and
//! kernel/crash_core.c):
//! - `crashkernel=` reserves a region at boot ([`reserve`]);
//! - the crash notes and VMCOREINFO ([`notes`]) that the capture kernel
//!   finds through the ELF core headers ([`elf_headers`]);
//! - the test hooks ([`test`]).
//!
//! Loading the crash image, its state and the jump into it
//! (crash_kexec, which the panic and fatal-exception paths call) are
//! kexec's (kexec/crash_image.rs, kexec/crash_kexec.rs); the capture
//! kernel's half, /proc/vmcore, is [`vmcore`].

mod files;
pub use files::install as install_files;
pub mod notes;
pub mod test;
pub mod vmcore;

use alloc::vec::Vec;
use abi::Errno;
use core::sync::atomic::{AtomicU64, Ordering};
use memmap::{IomemChild, Region};

use crate::boot::BootContext;
use crate::mm::frame;
use crate::PHYS_OFFSET;

/// The crash kernel region `[start, end)`, if `crashkernel=` reserved one
/// (end == start: none). Shrinking moves the end.
static REGION_START: AtomicU64 = AtomicU64::new(0);
static REGION_END: AtomicU64 = AtomicU64::new(0);

pub fn region() -> Option<(u64, u64)> {
    let (start, end) = (REGION_START.load(Ordering::SeqCst), REGION_END.load(Ordering::SeqCst));
    (end > start).then_some((start, end))
}

/// Linux's crash_shrink_memory, the region's half: give the tail of the
/// region back to the frame allocator; EINVAL to grow; the new size is
/// rounded up to a page. The caller (kexec::crash_shrink) holds the kexec
/// lock and has made sure no crash image lives in the region.
pub fn shrink_region(new_size: u64) -> Result<(), Errno> {
    let (start, end) = region().unwrap_or((0, 0));
    let new_size = new_size.checked_next_multiple_of(crate::mm::PAGE_SIZE).ok_or(Errno::EINVAL)?;
    let old_size = end - start;
    if new_size >= old_size {
        return if new_size == old_size { Ok(()) } else { Err(Errno::EINVAL) };
    }
    REGION_END.store(start + new_size, Ordering::SeqCst);
    frame::release(start + new_size, end);
    info!(
        "crashkernel: shrunk to {} KiB; {} KiB given back to the system",
        new_size >> 10,
        (old_size - new_size) >> 10
    );
    Ok(())
}

/// `/proc/iomem`'s "Crash kernel" line, under System RAM.
pub fn iomem_children() -> Vec<IomemChild> {
    region().map(|(start, end)| IomemChild { start, end, name: "Crash kernel" }).into_iter().collect()
}

/// Linux's reserve_crashkernel: called once the frame allocator knows what
/// the boot left in use, before the heap takes its share. Logs where the
/// region went, or why there is none; a bad value reserves nothing.
pub fn reserve(ctx: &BootContext, regions: &[Region]) {
    // A stray non-UTF-8 byte elsewhere must not cost the reservation.
    let text = alloc::string::String::from_utf8_lossy(ctx.cmdline_bytes());
    let req = match cmdline::parse_crashkernel(&text, frame::total_ram()) {
        Ok(Some(req)) => req,
        Ok(None) => return,
        Err(e) => {
            info!("crashkernel: {}; nothing reserved", e);
            return;
        }
    };
    let limit = if req.high { u64::MAX } else { memmap::CRASH_ADDR_LOW_MAX };
    let mut plan = memmap::plan_crash_region(regions, req.size, req.offset, limit, frame::range_free);
    // Like Linux: a plain crashkernel=SIZE that finds no room below 4 GiB
    // tries above before giving up. (Linux also reserves low memory for the
    // capture kernel's DMA then; we do not, as for `,high`.)
    let mut fell_back = false;
    if plan.is_err() && req.offset.is_none() && !req.high {
        let above_4g = |s: u64, e: u64| s >= memmap::CRASH_ADDR_LOW_MAX && frame::range_free(s, e);
        if let Ok(r) = memmap::plan_crash_region(regions, req.size, None, u64::MAX, above_4g) {
            plan = Ok(r);
            fell_back = true;
        }
    }
    match plan {
        Ok((start, end)) => {
            frame::reserve(start, end);
            REGION_START.store(start, Ordering::SeqCst);
            REGION_END.store(end, Ordering::SeqCst);
            info!(
                "crashkernel reserved: {:#018x} - {:#018x} ({} MB){}",
                start,
                end,
                (end - start) >> 20,
                if fell_back { " above 4 GiB: no room below" } else { "" }
            );
        }
        Err(e) => info!("crashkernel: cannot reserve {} MiB: {}; nothing reserved", req.size >> 20, e),
    }
}

/// The ELF core headers a crash image carries (Linux's
/// crash_prepare_elf64_headers): one PT_LOAD per range of this kernel's
/// RAM, minus the first MiB and the crash region (the capture kernel's own
/// memory), and PT_NOTEs pointing at the crash notes and VMCOREINFO, which
/// stay in this kernel's memory and are filled when it crashes.
pub fn elf_headers() -> Vec<u8> {
    // Filled here, not at boot: only a kernel with a crash image needs it.
    notes::init_vmcoreinfo();
    let map = crate::mm::memory_map();
    let ram: Vec<(u64, u64)> = map.regions().iter().filter(|r| r.kind.is_ram()).map(|r| (r.start, r.end)).collect();
    let mut exclude = alloc::vec![(0, memmap::CAPTURE_LOW_END)];
    exclude.extend(region());
    let notes = notes::ranges();
    let kernel = kernel_map();
    let loads = elfcore::usable_ranges(&ram, &exclude).len();
    if notes.len() + kernel.len() + loads > elfcore::MAX_PHNUM {
        info!("crash: {} memory ranges exceed the ELF core header's {} entries: the dump will miss some", loads, elfcore::MAX_PHNUM);
    }
    elfcore::build_elf_headers_with_kernel(&ram, &exclude, &notes, PHYS_OFFSET, &kernel)
}

/// The kernel image as physically contiguous stretches (under the boot
/// loader it is not one block; guard pages are unmapped), for the PT_LOADs
/// that let a debugger read the dump at link addresses.
fn kernel_map() -> Vec<elfcore::KernelMap> {
    extern "C" {
        static __kernel_start: u8;
        static __kernel_end: u8;
    }
    // SAFETY: only the linker symbols' addresses are taken.
    let (start, end) = unsafe { (&__kernel_start as *const u8 as u64, &__kernel_end as *const u8 as u64) };
    let pml4 = crate::mm::paging::kernel_pml4();
    let mut out: Vec<elfcore::KernelMap> = Vec::new();
    for va in (start..end).step_by(crate::mm::PAGE_SIZE as usize) {
        let Some(pa) = crate::boot::translate(pml4, va) else { continue };
        match out.last_mut() {
            Some(k) if k.vaddr + k.len == va && k.paddr + k.len == pa => k.len += crate::mm::PAGE_SIZE,
            _ => out.push(elfcore::KernelMap { vaddr: va, paddr: pa, len: crate::mm::PAGE_SIZE }),
        }
    }
    out
}
