//! From a probed image to something machine_kexec can jump to: placement
//! (the loader), sanity checks, digests, source pages + entry list, control
//! pages. Everything format-specific lives in the kexec_core library; this
//! file only provides the machine: frames, the direct map, the memory map.

use abi::Errno;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use kexec_core::entry::{self, EntryList, PageAlloc, PhysMem, WalkError, IND_ADDR_MASK, IND_SOURCE};
use kexec_core::{HandoverRequest, KexecError, KexecFileOps, KimageKind, LoadContext, MemoryView, PhysAddr, PhysRange, SegmentInfo};

use super::machine_kexec::{self, ControlPages};
use crate::mm::{self, frame, phys_to_virt, PAGE_SIZE};
use crate::time::now_ns;
use kexec_core::phases::PhaseLog;
use kexec_core::DigestsAt;
use kexec_core::purgatory_abi::{RegionHash, TIMING};

/// The purgatory object, built by purgatory/build.sh.
pub(super) static PURGATORY: &[u8] = include_bytes!(env!("KEXOS_PURGATORY_OBJ"));

/// The loaders table, probed in order (Linux's kexec_file_loaders[]).
static LOADERS: &[&dyn KexecFileOps] = &[&kexec_core::bzimage64::BzImage64, &kexec_core::Elf64];

/// Memory below 1 MiB is never a destination (Linux keeps it for the
/// real-mode trampoline and firmware structures).
const LOW_MEMORY_END: u64 = 0x10_0000;

/// Runs of frames in use at least this long are placed around when the
/// image fits elsewhere (smaller ones, page tables and such, are not worth
/// the fragmentation).
const BUSY_RUN: u64 = 1 << 20;

pub struct LoadRequest<'a> {
    pub kernel: &'a [u8],
    pub kernel_path: &'a str,
    pub initrd: Option<&'a [u8]>,
    /// What IMA's pass over the files computed, reused for their segments.
    pub known: kexec_core::KnownDigests,
    /// Including its trailing NUL, or empty.
    pub cmdline: &'a [u8],
    /// What the signature check found, for the debug report.
    pub signature: &'a str,
    pub debug: bool,
    /// What purgatory checks the segments with (`KEXEC_FILE_XXH64_DIGEST`).
    pub region_hash: RegionHash,
    /// [`second_cpu_page`], taken once per load: the cut IMA's pass kept
    /// and the offer to purgatory follow the same answer.
    pub second_cpu: Result<u64, String>,
}

/// A loaded, ready-to-run image (what Linux keeps in kexec_image).
pub struct LoadedImage {
    entries: EntryList,
    control: ControlPages,
    /// Purgatory's physical entry point.
    start: u64,
    segments: Vec<SegmentInfo>,
    /// Where, until the jump, the purgatory's TIMING jump-TSC field is held
    /// (physical); None for a purgatory without TIMING.
    jump_tsc_at: Option<u64>,
    /// What purgatory checks the segments with (/sys/kernel/kexec_digest).
    pub(super) region_hash: RegionHash,
}

/// The kernel's frame allocator, as the entry-list builder sees it.
struct Frames;

impl PageAlloc for Frames {
    fn alloc_page(&mut self) -> Option<PhysAddr> {
        frame::alloc().map(PhysAddr)
    }
    fn free_page(&mut self, pa: PhysAddr) {
        frame::free(pa.0)
    }
    /// A destination frame is taken for the image only while a floor of
    /// free memory (an eighth of RAM, at least 4 MiB) stays for the running
    /// kernel: a loaded image may wait long for `kexec -e`. Below it, data
    /// pages go through source pages (the same memory) and zero tails wait
    /// for relocate_kernel (no memory).
    fn alloc_page_at(&mut self, pa: PhysAddr) -> bool {
        let floor = (frame::total_ram() / 8).max(4 << 20);
        frame::free_bytes() > floor && frame::alloc_at(pa.0)
    }
}

/// Physical memory through the direct map.
pub(super) struct DirectMap;

impl PhysMem for DirectMap {
    fn write(&mut self, pa: PhysAddr, bytes: &[u8]) {
        // SAFETY: the builder only writes pages it was handed by `Frames`,
        // which are ours and mapped in the direct map.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), phys_to_virt(pa.0) as *mut u8, bytes.len()) }
    }
    fn zero(&mut self, pa: PhysAddr) {
        // SAFETY: as write: a whole page the builder owns.
        unsafe { core::ptr::write_bytes(phys_to_virt(pa.0) as *mut u8, 0, PAGE_SIZE as usize) }
    }
    fn read(&self, pa: PhysAddr, buf: &mut [u8]) {
        // SAFETY: reads of RAM through the direct map.
        unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(pa.0) as *const u8, buf.as_mut_ptr(), buf.len()) }
    }
}

pub(super) type LoadError = (Errno, String);

pub(super) fn kexec_err(e: KexecError) -> LoadError {
    (e.errno(), format!("{}", e))
}

/// The machine-independent part of every load (kexec_core's plan: loader,
/// sanity checks) over this machine's memory map, placing segments in
/// `view`; `crash` is set for a crash image. Digests are left to the copy
/// (DigestsAt::Copy, with the function the caller chose): normal and crash
/// loads both hash as they write.
pub(super) fn plan<'a>(
    ops: &dyn KexecFileOps,
    req: &LoadRequest<'a>,
    kind: KimageKind,
    view: &MemoryView,
    crash: Option<kexec_core::CrashSetup<'_>>,
    handover: Vec<HandoverRequest>,
) -> Result<(kexec_core::Kimage<'a>, kexec_core::LoadSummary), LoadError> {
    let map = mm::memory_map();
    let e820 = bootparam::e820_from_memmap(map);
    let ctx = LoadContext { view, e820: &e820, acpi_rsdp: crate::boot::rsdp(), purgatory: PURGATORY, tsc_khz: tsc_khz_to_pass(), crash };
    let limits = kexec_core::SanityLimits::from_memmap(map);
    kexec_core::kexec_file_plan(ops, kind, &ctx, req.kernel, req.initrd, req.known, req.cmdline, &limits, handover, DigestsAt::Copy(req.region_hash)).map_err(kexec_err)
}

/// Probe every loader; the first that accepts wins (ENOEXEC if none does,
/// with every loader's reason).
pub fn probe(kernel: &[u8], path: &str) -> Result<&'static dyn KexecFileOps, LoadError> {
    kexec_core::probe_image(LOADERS, kernel).map_err(|e| (e.errno(), format!("no loader accepts {}: {}", path, e)))
}

impl LoadedImage {
    /// Place the segments, copy them (into their destination frames where
    /// those are free) while hashing them, build the entry list, prepare
    /// the control pages; each step is marked in `phases`.
    pub fn load(ops: &dyn KexecFileOps, req: &LoadRequest, phases: &mut PhaseLog) -> Result<LoadedImage, LoadError> {
        let t0 = now_ns();
        let map = mm::memory_map();
        let low = PhysRange::from_len(0, LOW_MEMORY_END).expect("low memory range");
        let handover = || super::handover::requests().map_err(|e| (e, String::from("no room to size the hand-over buffers")));
        // First around the memory this kernel uses (so the segments can be
        // written in place and relocate_kernel has nothing to move), then,
        // if they do not fit there, anywhere in RAM as Linux places them.
        let busy: Vec<PhysRange> = core::iter::once(low).chain(frame::used_runs(BUSY_RUN).into_iter().map(|(s, e)| PhysRange::new(s, e))).collect();
        let around = MemoryView::from_memmap(map, &busy);
        let (mut image, summary) = match plan(ops, req, KimageKind::Normal, &around, None, handover()?) {
            Err((Errno::EADDRNOTAVAIL, _)) => plan(ops, req, KimageKind::Normal, &MemoryView::from_memmap(map, &[low]), None, handover()?)?,
            other => other?,
        };
        phases.mark("place", now_ns());
        let timing = set_purgatory_tsc_khz(&mut image);
        let mut second_cpu = offer_second_cpu(&mut image, &req.second_cpu);
        let dests: Vec<(u64, u64)> = image.destinations().iter().map(|r| (r.start, r.end)).collect();
        let (entries, digests) = entry::kimage_load_segments_digested(&mut image, &mut Frames, &mut DirectMap).map_err(kexec_err)?;
        phases.mark("copy+digest", now_ns());
        let jump_tsc_at = timing.then(|| jump_tsc_slot(&image, &entries)).flatten();
        let control = match ControlPages::prepare(&dests, map.regions()) {
            Ok(c) => c,
            Err(e) => {
                entries.free(&mut Frames);
                return Err((e, String::from("no memory for the control pages")));
            }
        };
        phases.mark("control", now_ns());
        // The root is below 4 GiB whenever a frame there was free
        // (ControlFrames::root_frame); if not, purgatory stays on one CPU
        // and says so, and -d must not promise two.
        if control.jump_target().1 >= ap_boot::PML4_LIMIT && req.second_cpu.is_ok() {
            second_cpu = String::from(ROOT_ABOVE_4G);
        }
        let final_cmdline = image.cmdline.clone();
        let segments = image.into_table();
        let us = (now_ns() - t0) / 1000;
        if req.debug {
            debug_report(ops.name(), req, &summary, &segments, &entries, &control, &final_cmdline);
            report_second_cpu(&second_cpu);
        }
        digest_report(&segments, &digests, req.debug);
        info!("kexec_file: loaded {} ({}) in {} us", req.kernel_path, ops.name(), us);
        info!("{}{}", kexec_core::phases::LOAD_PHASES, phases.format());
        Ok(LoadedImage { entries, control, start: summary.purgatory_entry.0, segments, jump_tsc_at, region_hash: digests.hash })
    }

    /// Walk the final entry list as relocate_kernel will, with its model
    /// (kexec_core::check_entry_list): Err names the entry it refuses, and
    /// relocate_kernel must then not run.
    pub fn check_entries(&self) -> Result<u64, WalkError> {
        let segments: Vec<PhysRange> = self.segments.iter().map(|s| PhysRange::new(s.mem.0, s.mem.0 + s.memsz)).collect();
        entry::check_entry_list(&self.entries, &segments, &DirectMap)
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The hand-over segment of `kind`, as (load address, memsz).
    pub fn handover_segment(&self, kind: kexec_core::HandoverKind) -> Option<(u64, u64)> {
        self.segments.iter().find(|s| s.handover == Some(kind)).map(|s| (s.mem.0, s.memsz))
    }

    /// kexec_update_segment through this image's entry list.
    pub fn update_segment(&self, buffer: &[u8], load_addr: u64, memsz: u64) -> Result<usize, kexec_core::UpdateError> {
        kexec_core::kexec_update_segment(&self.entries, &self.segments, buffer, PhysAddr(load_addr), memsz, &mut DirectMap, max_steps())
    }

    /// Test hook: make the list's first entry (segment 0's IND_DESTINATION)
    /// an IND_SOURCE, so a source comes before any destination: what
    /// relocate_kernel would copy to physical 0. Returns the new entry.
    pub fn corrupt_entries(&self) -> Result<u64, Errno> {
        let page = *self.entries.indirection_pages.first().ok_or(Errno::ENOENT)?;
        let slot = phys_to_virt(page.0) as *mut u64;
        // SAFETY: the list's first indirection page, owned by this image and
        // mapped in the direct map; slot 0 is an aligned u64.
        unsafe {
            let bad = (*slot & IND_ADDR_MASK) | IND_SOURCE;
            *slot = bad;
            Ok(bad)
        }
    }

    /// Hand the machine over. Never returns.
    pub fn execute(self) -> Errno {
        let me = core::mem::ManuallyDrop::new(self);
        if let Some(pa) = me.jump_tsc_at {
            // SAFETY: 8 bytes inside a page of this image's purgatory segment
            // (in place or its source page), owned by the image, in the
            // direct map; the segment is not checksummed.
            unsafe { core::ptr::write_unaligned(phys_to_virt(pa) as *mut u64, crate::arch::rdtsc()) };
        }
        machine_kexec::machine_kexec(&me.control, me.entries.head, me.start)
    }

    /// Test hook: flip segment `index`'s first data byte, or its last with
    /// `last` (where it is held until the jump: in place or its source page).
    pub fn corrupt_segment(&self, index: usize, last: bool) -> Result<(), Errno> {
        let seg = self.segments.get(index).ok_or(Errno::EINVAL)?;
        if seg.bufsz == 0 {
            return Err(Errno::ENOENT);
        }
        let byte = seg.mem.0 + if last { seg.bufsz - 1 } else { 0 };
        let page = byte & !(PAGE_SIZE - 1);
        let held = entry::loaded_page(&self.entries, page, &DirectMap, max_steps()).ok_or(Errno::ENOENT)?;
        // SAFETY: the page holding that byte until the jump (in place or its
        // source page), owned by this image, in the direct map.
        unsafe { *(phys_to_virt(held + byte % PAGE_SIZE) as *mut u8) ^= 0xff };
        Ok(())
    }
}

/// Bound of a walk of an image's list: it can't hold more entries than RAM
/// has pages.
fn max_steps() -> usize {
    (frame::total_ram() / PAGE_SIZE) as usize + 1024
}

/// Test hook (`/sys/kernel/kexec_test_tsc_khz`): the TSC frequency (kHz)
/// later loads pass to the next kernel instead of this one's; NO_TEST_TSC
/// when not set.
static TEST_TSC_KHZ: AtomicU64 = AtomicU64::new(NO_TEST_TSC);
const NO_TEST_TSC: u64 = u64::MAX;

/// Set (Some) or clear (None) the test hook's frequency; EINVAL for the
/// one value it cannot hold.
pub(super) fn set_test_tsc_khz(khz: Option<u64>) -> Result<(), Errno> {
    if khz == Some(NO_TEST_TSC) {
        return Err(Errno::EINVAL);
    }
    TEST_TSC_KHZ.store(khz.unwrap_or(NO_TEST_TSC), Ordering::Relaxed);
    Ok(())
}

/// The test hook's frequency, if set.
pub(super) fn test_tsc_khz() -> Option<u64> {
    Some(TEST_TSC_KHZ.load(Ordering::Relaxed)).filter(|&khz| khz != NO_TEST_TSC)
}

/// The TSC frequency the next kernel gets (bootparam::tsc).
fn tsc_khz_to_pass() -> Option<u64> {
    test_tsc_khz().or_else(crate::time::tsc_khz)
}

/// Give purgatory the TSC frequency for its timing line; false for a
/// purgatory without the TIMING symbol (it then prints none).
pub(super) fn set_purgatory_tsc_khz(image: &mut kexec_core::Kimage<'_>) -> bool {
    let khz = crate::time::tsc_khz().unwrap_or(0);
    image.purgatory_set_symbol(TIMING.name, &[khz.to_le_bytes(), [0; 8]].concat()).is_ok()
}

/// `-d`'s reason when purgatory's page tables are out of the start-up
/// code's reach (it loads CR3 in 32-bit form).
pub(super) const ROOT_ABOVE_4G: &str = "one CPU (the control pages' page-table root is above 4 GiB, out of the start-up code's reach)";

/// `-d`'s line on how many CPUs purgatory's check will have.
pub(super) fn report_second_cpu(what: &str) {
    info!("kexec_file: purgatory's check: {}", what);
}

/// The start-up page purgatory may start a second CPU from, or why it gets
/// none (`kexec -d` says it): this kernel's own page, while its helper is
/// online, for loads checked with SHA-256, crash loads included. Taken once
/// per load (LoadRequest::second_cpu), for the cut IMA's pass keeps
/// (file.rs) and the offer ([`offer_second_cpu`]) alike.
pub(super) fn second_cpu_page(hash: RegionHash) -> Result<u64, String> {
    let page = crate::arch::smp::startup_page().ok_or_else(|| String::from("this kernel runs on one"))?;
    if hash != RegionHash::Sha256 {
        // Measured (docs/benchmarks.md): XXH64 checks a kexos in 2 ms, less
        // than starting a CPU and translating its code costs under TCG.
        return Err(format!("{} is faster on one", hash.name()));
    }
    Ok(page)
}

/// Let purgatory start a second CPU (purgatory_abi::SECOND_CPU) when
/// [`second_cpu_page`] gave a page and the image allows it
/// (kexec_core::offer_second_cpu); what `-d` says.
pub(super) fn offer_second_cpu(image: &mut kexec_core::Kimage<'_>, page: &Result<u64, String>) -> String {
    let page = match page {
        Ok(page) => *page,
        Err(why) => return format!("one CPU ({})", why),
    };
    match kexec_core::offer_second_cpu(image, page) {
        Ok(()) => format!("two CPUs (start-up page {:#x})", page),
        Err(why) => format!("one CPU ({})", why),
    }
}

/// Where the loaded image holds purgatory's jump-TSC field (TIMING[1]).
fn jump_tsc_slot(image: &kexec_core::Kimage<'_>, entries: &EntryList) -> Option<u64> {
    let dest = image.purgatory_symbol_addr(TIMING.name).ok()?.0 + 8;
    let page = dest & !(PAGE_SIZE - 1);
    // The field must not straddle a page (it is 8-aligned in .data).
    if dest % PAGE_SIZE > PAGE_SIZE - 8 {
        return None;
    }
    entry::loaded_page(entries, page, &DirectMap, max_steps()).map(|held| held + dest % PAGE_SIZE)
}

impl Drop for LoadedImage {
    fn drop(&mut self) {
        core::mem::take(&mut self.entries).free(&mut Frames);
    }
}

/// KEXEC_FILE_DEBUG: what Linux's kexec_dprintk prints, segment table included.
fn debug_report(loader: &str, req: &LoadRequest, s: &kexec_core::LoadSummary, segments: &[SegmentInfo], entries: &EntryList, control: &ControlPages, final_cmdline: &[u8]) {
    report(loader, req, s, segments, final_cmdline);
    info!("kexec_file: {}", crate::ima::kexec_buffer_report());
    info!(
        "kexec_file: purgatory entry 0x{:x}, head 0x{:x}, {} entries, {} pages written in place, {} source + {} indirection pages, {} control pages",
        s.purgatory_entry.0,
        entries.head,
        entries.entries,
        entries.direct_pages.len(),
        entries.source_pages.len(),
        entries.indirection_pages.len(),
        control.count()
    );
}

/// Which segment digests the load took from IMA's pass instead of hashing
/// (`debug` only), and, always, that purgatory will check XXH64 if asked:
/// the weaker check is never silent.
pub(super) fn digest_report(segments: &[SegmentInfo], d: &kexec_core::Digests, debug: bool) {
    if d.hash == RegionHash::Xxh64 {
        // Never reused: IMA's digests are SHA-256 (kexec_core::digest::reusable_digest).
        info!("{}: purgatory checks for corruption, not tampering; every checksummed segment hashed while copied", kexec_core::digest::XXH64_CHOSEN);
        return;
    }
    if !debug {
        return;
    }
    let reused: Vec<String> = segments
        .iter()
        .enumerate()
        .filter(|(i, _)| d.reused.get(*i) == Some(&true))
        .map(|(i, s)| match d.prefixes[i].hashed_bytes() {
            0 => format!("segment[{}] {} (the whole file)", i, s.label),
            n => format!("segment[{}] {} (the file after its first {} bytes)", i, s.label, n),
        })
        .collect();
    let how = sha256::backend().name();
    if reused.is_empty() {
        info!("kexec_file: every checksummed segment hashed while copied (SHA-256, {how})");
    } else {
        info!("kexec_file: SHA-256 ({how}) taken from IMA's pass for {}; the rest hashed while copied", reused.join(", "));
    }
}

/// The part of the debug report every image has: where things went.
pub(super) fn report(loader: &str, req: &LoadRequest, s: &kexec_core::LoadSummary, segments: &[SegmentInfo], final_cmdline: &[u8]) {
    info!("kexec_file: {} probe accepted {} ({} bytes)", loader, req.kernel_path, req.kernel.len());
    info!("kexec_file: {}", req.signature);
    info!("kexec_file: kernel at {:#x}, entry {:#x}", s.kernel.0, s.kernel_entry.0);
    if let Some(bp) = s.boot_params {
        info!("kexec_file: boot_params at {:#x}", bp.0);
    }
    if let Some((pa, len)) = s.initrd {
        info!("kexec_file: initrd at {:#x}, {} bytes", pa.0, len);
    }
    let cmdline = String::from_utf8_lossy(final_cmdline.strip_suffix(&[0]).unwrap_or(final_cmdline));
    info!("kexec_file: Final command line is: {}", cmdline);
    info!("kexec_file: nr_segments = {}", segments.len());
    for (i, seg) in segments.iter().enumerate() {
        info!(
            "kexec_file: segment[{}]: {:<11} bufsz=0x{:08x} mem=0x{:09x} memsz=0x{:08x}{}",
            i,
            seg.label,
            seg.bufsz,
            seg.mem.0,
            seg.memsz,
            match (seg.handover, seg.checksum) {
                (Some(k), _) => format!(" (hand-over: {}, not checksummed)", kexec_core::handover::kind_name(k)),
                (None, false) => String::from(" (not checksummed)"),
                (None, true) => String::new(),
            }
        );
    }
}
