//! The boot context: what the kernel needs to know about the machine,
//! whichever way it was entered: the `bootloader` crate's BootInfo on the
//! first boot ([`from_bootloader`]), the x86 64-bit boot protocol's
//! boot_params after a kexec ([`from_boot_params`], entered from
//! arch/boot64.s). Built before the heap exists, so it uses fixed-size
//! storage; the zero page and setup_data are read with bootparam's
//! heap-free ZeroPage and SetupDataWalk. This module owns the boot context
//! the rest of the kernel reads: memory map, reserved ranges, initrd, RSDP
//! and (decoded once the heap exists, [`init_cmdline`]) the command line.

use alloc::string::String;
use bootloader_api::info::{MemoryRegionKind, Optional};
use bootparam::{BootParamError, E820Entry, HandoverBuffer, HandoverRefusal, ZeroPage, BOOT_PARAMS_SIZE};
use bootparam::tsc::HandedTsc;
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
    /// Booted through the boot protocol: the command line boot_params
    /// points at (`len` bytes without the NUL; reserved in the frame
    /// allocator, read through the direct map).
    BootParams { phys: u64, len: u64 },
}

/// Hand-over buffers one boot takes from the previous kernel (more are
/// refused, and logged).
pub const MAX_HANDOVER: usize = 8;

/// Physical ranges the frame allocator must never hand out, beyond the
/// memory map's own non-RAM regions and the initrd: every setup_data node
/// the walk accepts, plus the image (two ranges), zero page and command
/// line, and the hand-over buffers until they are freed.
pub const MAX_RESERVED: usize = bootparam::MAX_SETUP_DATA_NODES + 8 + MAX_HANDOVER;

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
    reserved: [(u64, u64); MAX_RESERVED],
    reserved_count: usize,
    /// Boot protocol only: where the image was loaded and how big it is in
    /// memory, RAM the boot page tables could not reach, setup_data nodes.
    image: Option<(u64, u64)>,
    /// Boot protocol only: the bytes of the image kept reserved (the image
    /// less the boot page directories given back).
    image_kept: u64,
    ram_ignored: u64,
    setup_data_nodes: usize,
    /// Boot protocol only: bytes boot64.s mapped, and whether with 1 GiB pages.
    boot_map: (u64, bool),
    /// Boot protocol only: the first malformed part of boot_params (skipped).
    error: Option<BootParamError>,
    /// Boot protocol only: hand-over buffers from setup_data, each kept
    /// (reserved) or refused with the reason.
    handover: [Option<(HandoverBuffer, Result<(), HandoverRefusal>)>; MAX_HANDOVER],
    /// Hand-over buffers beyond MAX_HANDOVER (not taken).
    handover_ignored: usize,
    /// Boot protocol only: the TSC frequency nodes the kexec'ing kernel
    /// passed (SETUP_KEXOS_TSC_KHZ).
    tsc: HandedTsc,
}

impl BootContext {
    fn empty(loader: &'static str, entry_cr3: u64) -> BootContext {
        BootContext {
            regions: [Region { start: 0, end: 0, kind: RegionKind::Reserved }; MAX_REGIONS],
            region_count: 0,
            initrd: None,
            rsdp: None,
            cmdline: CmdlineSource::InitramfsFile,
            entry_cr3,
            loader,
            reserved: [(0, 0); MAX_RESERVED],
            reserved_count: 0,
            image: None,
            image_kept: 0,
            ram_ignored: 0,
            setup_data_nodes: 0,
            boot_map: (0, false),
            error: None,
            handover: [None; MAX_HANDOVER],
            handover_ignored: 0,
            tsc: HandedTsc::default(),
        }
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.region_count]
    }

    /// Ranges the frame allocator must keep (page-granular, see mm::frame).
    pub fn reserved(&self) -> &[(u64, u64)] {
        &self.reserved[..self.reserved_count]
    }

    /// The kernel command line, available before the heap (crashkernel=
    /// is needed while the frame allocator is set up): the bytes boot_params
    /// points at, or /boot/cmdline inside the initramfs (the last member of
    /// that name wins, as when the archive is unpacked). Trailing NULs and
    /// newlines are not stripped here.
    pub fn cmdline_bytes(&self) -> &'static [u8] {
        match self.cmdline {
            CmdlineSource::BootParams { phys, len } => phys_bytes(phys, len),
            CmdlineSource::InitramfsFile => {
                let Some((pa, len)) = self.initrd else { return &[] };
                let archive = phys_bytes(pa, len);
                cpio::entries(archive)
                    .map_while(Result::ok)
                    .filter(|e| e.name == "boot/cmdline" && e.is_file())
                    .last()
                    .map_or(&[], |e| e.data)
            }
        }
    }

    /// The bytes of RAM the running kernel image occupies: its text, data,
    /// bss and boot page tables, whole pages (the boot loader maps each
    /// page of the image to its own frame; the boot protocol's image is
    /// what [`from_boot_params`] kept reserved).
    pub fn kernel_image_bytes(&self) -> u64 {
        if self.image.is_some() {
            return self.image_kept;
        }
        // SAFETY: only the addresses of linker symbols are taken.
        let (start, end) = unsafe { (&__kernel_start as *const u8 as u64, &__kernel_end as *const u8 as u64) };
        end.next_multiple_of(4096) - (start & !4095)
    }

    /// On a first boot, the page tables the boot loader handed over (the
    /// frame allocator reads from them what it still uses); None after a
    /// kexec, whose boot protocol says exactly what is in use.
    pub fn loader_tables(&self) -> Option<u64> {
        self.image.is_none().then_some(self.entry_cr3)
    }

    /// The pages the initramfs touches, in bytes (0 without one).
    pub fn initrd_page_bytes(&self) -> u64 {
        self.initrd.map_or(0, |(pa, len)| (pa + len).next_multiple_of(4096) - (pa & !4095))
    }

    /// The initramfs image as loaded by the boot loader.
    pub fn initrd_bytes(&self) -> Option<&'static [u8]> {
        let (pa, len) = self.initrd?;
        Some(phys_bytes(pa, len))
    }

    /// Hand-over buffers the previous kernel passed that this one keeps
    /// (reserved until kexec::handover frees them).
    pub fn handover_buffers(&self) -> impl Iterator<Item = HandoverBuffer> + '_ {
        self.handover.iter().flatten().filter(|(_, r)| r.is_ok()).map(|&(b, _)| b)
    }

    /// The TSC frequency nodes the kexec'ing kernel passed (time::init
    /// takes the frequency, or says why not).
    pub fn handed_tsc(&self) -> HandedTsc {
        self.tsc
    }

    /// Check the hand-over buffers found in setup_data once the memory map
    /// and everything else in use is known; reserve the ones kept.
    fn take_handover_buffers(&mut self) {
        for i in 0..MAX_HANDOVER {
            let Some((b, _)) = self.handover[i] else { break };
            let duplicate = self.handover[..i].iter().flatten().any(|(o, r)| r.is_ok() && o.kind == b.kind);
            let mut in_use = [(0, 0); MAX_RESERVED + 1];
            let n = self.reserved_count;
            in_use[..n].copy_from_slice(self.reserved());
            in_use[n] = self.initrd.map_or((0, 0), |(pa, len)| (pa, pa.saturating_add(len)));
            let in_ram = |s: u64, e: u64| self.regions().iter().any(|r| r.kind == RegionKind::Ram && r.start <= s && e <= r.end);
            let verdict = if duplicate { Err(HandoverRefusal::Duplicate) } else { b.check(in_ram, &in_use[..=n]) };
            if verdict.is_ok() {
                self.reserve(b.addr, b.addr + b.size);
            }
            self.handover[i] = Some((b, verdict));
        }
    }

    /// Keep the first error for log_summary (the boot log has no console yet).
    fn note_error(&mut self, e: BootParamError) {
        self.error.get_or_insert(e);
    }

    fn push_region(&mut self, r: Region) {
        if self.region_count < MAX_REGIONS && r.end > r.start {
            self.regions[self.region_count] = r;
            self.region_count += 1;
        }
    }

    fn reserve(&mut self, start: u64, end: u64) {
        // Out of slots is a bug in MAX_RESERVED, not a boot failure: the
        // checks below keep the count far lower.
        if self.reserved_count < MAX_RESERVED && end > start {
            self.reserved[self.reserved_count] = (start, end);
            self.reserved_count += 1;
        }
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
        let mut ctx = BootContext::empty("bootloader", cr3);
        ctx.rsdp = info.rsdp_addr.into_option();
        for r in info.memory_regions.iter().take(MAX_REGIONS) {
            ctx.push_region(Region { start: r.start, end: r.end, kind: region_kind(r.kind) });
        }
        if let Optional::Some(va) = info.ramdisk_addr {
            let len = info.ramdisk_len;
            ctx.initrd = physical_range(cr3, va, len).map(|pa| (pa, len));
        }
        ctx
    })
}

/// Physical memory read through the boot page tables' direct map, which
/// covers `[0, mapped)`.
struct BootPhys {
    mapped: u64,
}

impl BootPhys {
    fn bytes(&self, pa: u64, len: u64) -> Option<&'static [u8]> {
        let end = pa.checked_add(len)?;
        if end > self.mapped {
            return None;
        }
        // SAFETY: boot64.s maps [0, mapped) at PHYS_OFFSET; nothing writes
        // these ranges while the boot context is built (interrupts are off,
        // no allocator exists yet).
        Some(unsafe { core::slice::from_raw_parts((PHYS_OFFSET + pa) as *const u8, len as usize) })
    }
    /// The reader bootparam's walks take: copy `buf.len()` bytes from `pa`.
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
        self.bytes(pa, buf.len() as u64).map(|b| buf.copy_from_slice(b)).is_some()
    }
}

/// A kexec'd boot (or any 64-bit boot protocol loader): build the boot
/// context from the zero page at physical `bp`. `load` is where the image
/// was loaded, `mapped` how much physical memory boot64.s mapped at
/// PHYS_OFFSET. Runs on the boot stack with no heap: everything is read
/// in place, and whatever must outlive this (command line, setup_data,
/// the zero page, the image itself) is reserved for the frame allocator.
pub fn from_boot_params(bp: u64, load: u64, mapped: u64) -> &'static BootContext {
    let (cr3, _) = x86_64::registers::control::Cr3::read_raw();
    let cr3 = cr3.start_address().as_u64();
    CONTEXT.call_once(|| {
        let mem = BootPhys { mapped };
        let mut ctx = BootContext::empty("boot protocol", cr3);
        // The image: [load, load + init_size) holds text, data, bss and the
        // boot page tables (entry_cr3), all of it in use.
        // SAFETY: only the addresses of linker symbols are taken.
        let (start, end, pool, pool_end) = unsafe {
            (
                &__kernel_start as *const u8 as u64,
                &__kernel_end as *const u8 as u64,
                &kexos_boot64_pd_pool as *const u8 as u64,
                &kexos_boot64_pd_pool_end as *const u8 as u64,
            )
        };
        let size = end - start;
        ctx.image = Some((load, size));
        // Except the page directories boot64.s did not need (all of them
        // with 1 GiB pages): those go back to the allocator.
        ctx.boot_map = (mapped, boot_map_uses_1g_pages(cr3));
        let used = if ctx.boot_map.1 { 0 } else { (mapped >> 30) * 4096 };
        let (pool, pool_end) = (load + (pool - start), load + (pool_end - start));
        ctx.reserve(load, pool + used);
        ctx.reserve(pool_end, load + size);
        ctx.image_kept = (pool + used - load) + (load + size - pool_end);
        let Some(zp) = mem.bytes(bp, BOOT_PARAMS_SIZE as u64).and_then(|b| ZeroPage::new(b).ok()) else {
            // Nothing to go on; an empty context boots to the "no memory" panic.
            return ctx;
        };
        ctx.reserve(bp, bp + BOOT_PARAMS_SIZE as u64);
        let read = |pa, buf: &mut [u8]| mem.read(pa, buf);
        // Memory map: the zero page's table, then every SETUP_E820_EXT node.
        // A malformed part is skipped (and logged by log_summary): whatever
        // else the loader passed may still boot us.
        match zp.e820_table() {
            Ok(table) => add_e820(&mut ctx, table, mapped),
            Err(e) => ctx.note_error(e),
        }
        for node in zp.setup_data(read) {
            let node = match node {
                Ok(node) => node,
                Err(e) => {
                    ctx.note_error(e);
                    break;
                }
            };
            ctx.setup_data_nodes += 1;
            ctx.reserve(node.pa, node.end());
            match HandoverBuffer::from_setup_data(&node, read) {
                Ok(Some(b)) => match ctx.handover.iter_mut().find(|h| h.is_none()) {
                    Some(slot) => *slot = Some((b, Ok(()))),
                    None => ctx.handover_ignored += 1,
                },
                Ok(None) => {}
                Err(e) => ctx.note_error(e),
            }
            ctx.tsc.note(&node, read);
            if node.typ == bootparam::setup_type::SETUP_E820_EXT {
                match node.e820_entries(read) {
                    Ok(entries) => add_e820_ext(&mut ctx, entries, mapped),
                    Err(e) => ctx.note_error(e),
                }
            }
        }
        ctx.cmdline = match zp.cmdline(read) {
            Some((phys, len)) => {
                ctx.reserve(phys, phys + len + 1);
                CmdlineSource::BootParams { phys, len }
            }
            None => CmdlineSource::BootParams { phys: 0, len: 0 },
        };
        ctx.initrd = zp.ramdisk().filter(|&(rd, len)| mem.bytes(rd, len).is_some());
        ctx.rsdp = zp.acpi_rsdp();
        ctx.take_handover_buffers();
        ctx
    })
}

/// Append e820 entries. RAM beyond what the boot page tables map is left
/// out (the allocator would hand it out before the kernel's own tables
/// exist) and counted.
fn add_e820(ctx: &mut BootContext, entries: impl Iterator<Item = E820Entry>, mapped: u64) {
    for e in entries {
        let Some(end) = e.addr.checked_add(e.size) else { continue };
        let (start, kind) = (e.addr, RegionKind::from_e820(e.typ));
        let end = if kind == RegionKind::Ram && end > mapped {
            ctx.ram_ignored += end - start.max(mapped);
            end.min(mapped).max(start)
        } else {
            end
        };
        ctx.push_region(Region { start, end, kind });
    }
}

/// [`add_e820`] for a SETUP_E820_EXT node, whose entries are read one by
/// one: an unreadable one ends the node (noted).
fn add_e820_ext(ctx: &mut BootContext, entries: impl Iterator<Item = Result<E820Entry, BootParamError>>, mapped: u64) {
    let mut failed = None;
    let ok = entries.map_while(|e| e.map_err(|e| failed = Some(e)).ok());
    add_e820(ctx, ok, mapped);
    if let Some(e) = failed {
        ctx.note_error(e);
    }
}

extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
    static kexos_boot64_pd_pool: u8;
    static kexos_boot64_pd_pool_end: u8;
}

/// Did boot64.s map physical memory with 1 GiB pages (PDPT entry 0 of the
/// direct map has PS set)?
fn boot_map_uses_1g_pages(cr3: u64) -> bool {
    // SAFETY: the boot page tables live in the kernel image, inside the
    // direct map boot64.s built; a read-only walk.
    unsafe {
        let pml4 = (PHYS_OFFSET + cr3) as *const u64;
        let pdpt = *pml4.add(256) & 0x000f_ffff_ffff_f000;
        *((PHYS_OFFSET + pdpt) as *const u64) & 0x80 != 0
    }
}

/// Bytes of a boot-time range kept reserved for good (the boot_params
/// command line, the initramfs), through the direct map. Empty for a null
/// range.
fn phys_bytes(phys: u64, len: u64) -> &'static [u8] {
    if phys == 0 || len == 0 {
        return &[];
    }
    // SAFETY: the range was reserved in from_boot_params (the command line)
    // or by the frame allocator for the initrd, so nothing else ever writes
    // it, and the kernel's direct map covers all RAM.
    unsafe { core::slice::from_raw_parts((PHYS_OFFSET + phys) as *const u8, len as usize) }
}

/// Hand-over buffers the previous kernel passed and this one kept.
pub fn handover_buffers() -> impl Iterator<Item = HandoverBuffer> {
    CONTEXT.get().into_iter().flat_map(|c| c.handover_buffers())
}

/// Whether another kernel started this one through the boot protocol (a
/// kexec), not the bootloader.
pub fn entered_by_kexec() -> bool {
    CONTEXT.get().is_some_and(|c| c.image.is_some())
}

/// Ranges the frame allocator must never hand out (empty when entered by
/// the bootloader, whose own regions say what it occupies).
pub fn reserved() -> &'static [(u64, u64)] {
    CONTEXT.get().map(|c| c.reserved()).unwrap_or(&[])
}

/// The ACPI RSDP the firmware reported, if any.
pub fn rsdp() -> Option<u64> {
    CONTEXT.get()?.rsdp
}

/// The kernel command line of this boot, as /proc/cmdline shows it and
/// kexec's test hooks read it (set by [`init_cmdline`]).
static CMDLINE: Once<String> = Once::new();

/// The kernel command line of this boot ("" before [`init_cmdline`]).
pub fn cmdline() -> &'static str {
    CMDLINE.get().map(|s| s.as_str()).unwrap_or("")
}

/// `kexec_test` on the command line enables the test-only hooks
/// (/sys/kernel/kexec_test_corrupt, /sys/kernel/kexec_test_crash).
pub fn test_hooks_enabled() -> bool {
    static TEST_HOOKS: Once<bool> = Once::new();
    *TEST_HOOKS.call_once(|| cmdline().split_whitespace().any(|w| w == "kexec_test"))
}

/// Decode the command line once the heap exists: invalid UTF-8 replaced,
/// trailing newlines and NULs (a /boot/cmdline file's, a NUL-padded
/// buffer's) dropped.
pub fn init_cmdline(ctx: &BootContext) {
    let text = String::from_utf8_lossy(ctx.cmdline_bytes());
    CMDLINE.call_once(|| String::from(text.trim_end_matches(['\n', '\0'])));
    info!("Command line: {}", cmdline());
}

extern "C" {
    /// Set by boot64.s: 0 if .bss arrived zeroed, else 1 + the offset of its
    /// first non-zero qword.
    static kexos_boot_bss_dirty: u64;
}

/// Log what we booted with (after the heap exists).
pub fn log_summary(ctx: &BootContext) {
    info!("boot: entered via {}, {} memory regions, rsdp {:#x}", ctx.loader, ctx.region_count, ctx.rsdp.unwrap_or(0));
    if let Some((load, size)) = ctx.image {
        // SAFETY: written once by boot64.s before any Rust code ran.
        match unsafe { kexos_boot_bss_dirty } {
            0 => info!("boot: .bss arrived zeroed (the loader zero-filled the segment tail)"),
            n => info!("boot: .bss was NOT zero on entry (first non-zero byte near offset {:#x}): the loader did not zero-fill the segment tail", n - 1),
        }
        info!(
            "boot: kernel image at {:#x}..{:#x} ({} KiB with bss and boot page tables), {} setup_data nodes",
            load,
            load + size,
            size >> 10,
            ctx.setup_data_nodes
        );
        let (mapped, huge) = ctx.boot_map;
        info!("boot: boot page tables mapped {} GiB of physical memory with {} pages", mapped >> 30, if huge { "1 GiB" } else { "2 MiB" });
    }
    if let Some(e) = ctx.error {
        info!("boot: boot_params: {}; that part was skipped", e);
    }
    for (b, verdict) in ctx.handover.iter().flatten() {
        let what = kexec_core::handover::kind_name(b.kind);
        match verdict {
            Ok(()) => {} // kexec::handover logs what it holds
            Err(why) => info!("boot: hand-over buffer {} at {:#x} ({:#x} bytes) refused: {}", what, b.addr, b.size, why),
        }
    }
    if ctx.handover_ignored != 0 {
        info!("boot: {} more hand-over buffers ignored (this kernel takes {})", ctx.handover_ignored, MAX_HANDOVER);
    }
    if ctx.ram_ignored != 0 {
        info!("boot: ignoring {} MiB of RAM above what the boot page tables map", ctx.ram_ignored >> 20);
    }
    match ctx.initrd {
        Some((pa, len)) => info!("boot: initramfs at {:#x}, {} bytes", pa, len),
        None => info!("boot: no initramfs: the root file system is empty"),
    }
}
