//! The boot context: what the kernel needs to know about the machine,
//! whichever way it was entered. Today that is the `bootloader` crate's
//! BootInfo; the kexec issue adds the x86 boot protocol (boot_params).
//! Built before the heap exists, so it uses fixed-size storage.

use bootloader_api::info::{MemoryRegionKind, Optional};
use memmap::{Region, RegionKind};
use spin::Once;
use x86_64::structures::paging::{OffsetPageTable, PageTable, Translate};
use x86_64::VirtAddr;

use crate::PHYS_OFFSET;

/// Enough for OVMF's ~120 unmerged regions with room to spare.
pub const MAX_REGIONS: usize = 512;

/// Where the kernel command line comes from.
#[derive(Clone, Copy, Debug)]
pub enum CmdlineSource {
    /// First boot from the disk image: BootInfo carries no command line, so
    /// xtask stores it in the initramfs as /boot/cmdline.
    InitramfsFile,
}

pub struct BootContext {
    regions: [Region; MAX_REGIONS],
    region_count: usize,
    /// The initramfs, physically contiguous: (physical address, length).
    pub initrd: Option<(u64, u64)>,
    pub rsdp: Option<u64>,
    pub cmdline: CmdlineSource,
    /// The page tables we were entered with (used to find our own physical pages).
    pub entry_cr3: u64,
    /// Who started us, for the log.
    pub loader: &'static str,
}

impl BootContext {
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.region_count]
    }
}

static CONTEXT: Once<BootContext> = Once::new();

fn region_kind(kind: MemoryRegionKind) -> RegionKind {
    match kind {
        MemoryRegionKind::Usable => RegionKind::Ram,
        MemoryRegionKind::Bootloader => RegionKind::Bootloader,
        MemoryRegionKind::UnknownUefi(t) => RegionKind::from_uefi(t),
        MemoryRegionKind::UnknownBios(t) => RegionKind::from_e820(t),
        _ => RegionKind::Reserved,
    }
}

/// The physical address behind a virtual one in the page tables at `cr3`.
pub fn translate(cr3: u64, va: u64) -> Option<u64> {
    // SAFETY: the bootloader maps all physical memory at PHYS_OFFSET and
    // `cr3` is a valid PML4; we only read the tables.
    let pml4 = unsafe { &mut *((PHYS_OFFSET + cr3) as *mut PageTable) };
    // SAFETY: as above; the mapper is used for a read-only walk.
    let mapper = unsafe { OffsetPageTable::new(pml4, VirtAddr::new(PHYS_OFFSET)) };
    mapper.translate_addr(VirtAddr::new(va)).map(|pa| pa.as_u64())
}

/// The physical range behind a virtually contiguous buffer, if it is
/// physically contiguous too.
fn physical_range(cr3: u64, va: u64, len: u64) -> Option<u64> {
    let start = translate(cr3, va)?;
    let mut off = 0x1000 - (va & 0xfff);
    while off < len {
        if translate(cr3, va + off)? != start + off {
            return None;
        }
        off += 0x1000;
    }
    Some(start)
}

pub fn from_bootloader(info: &'static mut bootloader_api::BootInfo) -> &'static BootContext {
    let (cr3, _) = x86_64::registers::control::Cr3::read_raw();
    let cr3 = cr3.start_address().as_u64();
    assert_eq!(info.physical_memory_offset, Optional::Some(PHYS_OFFSET), "bootloader ignored the direct-map offset");
    CONTEXT.call_once(|| {
        let mut ctx = BootContext {
            regions: [Region { start: 0, end: 0, kind: RegionKind::Reserved }; MAX_REGIONS],
            region_count: 0,
            initrd: None,
            rsdp: info.rsdp_addr.into_option(),
            cmdline: CmdlineSource::InitramfsFile,
            entry_cr3: cr3,
            loader: "bootloader",
        };
        for r in info.memory_regions.iter().take(MAX_REGIONS) {
            ctx.regions[ctx.region_count] = Region { start: r.start, end: r.end, kind: region_kind(r.kind) };
            ctx.region_count += 1;
        }
        if let Optional::Some(va) = info.ramdisk_addr {
            let len = info.ramdisk_len;
            ctx.initrd = physical_range(cr3, va, len).map(|pa| (pa, len));
        }
        ctx
    })
}

/// The ACPI RSDP the firmware reported, if any.
pub fn rsdp() -> Option<u64> {
    CONTEXT.get()?.rsdp
}

/// Log what we booted with (after the heap exists).
pub fn log_summary(ctx: &BootContext) {
    info!("boot: entered via {}, {} memory regions, rsdp {:#x}", ctx.loader, ctx.region_count, ctx.rsdp.unwrap_or(0));
    match ctx.initrd {
        Some((pa, len)) => info!("boot: initramfs at {:#x}, {} bytes", pa, len),
        None => info!("boot: no initramfs: the root file system is empty"),
    }
}
