//! Crash images (KEXEC_FILE_ON_CRASH, Linux's kexec_crash_image): placed
//! only inside the crashkernel= region and written there at load time (no
//! entry list: after a crash nothing may be allocated or copied), with the
//! control pages in a free stretch of the same region. Once loaded, the
//! whole region is read-only in this kernel's direct map, so a buggy kernel
//! cannot damage what it will need to be rescued.
//!
//! Better than Linux: the new image is planned completely before the old
//! one is touched, so a load that fails (bad file, region too small) leaves
//! the previous crash image loaded and armed. Like a normal load, each
//! checksummed byte is hashed as it is written into the region (one pass).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use kexec_core::{locate_mem_hole, CrashSetup, KexecBuf, KimageKind, MemoryView, PhysRange, SegmentBuf, SegmentInfo};

use super::load::{DirectMap, LoadError, LoadRequest};
use super::machine_kexec::ControlPages;
use crate::mm::{self, protect, PAGE_SIZE};
use crate::time::now_ns;
use kexec_core::phases::PhaseLog;

pub struct CrashImage {
    region: (u64, u64),
    /// The stretch of the region holding the control pages.
    control_range: (u64, u64),
    control: ControlPages,
    /// Purgatory's physical entry point.
    start: u64,
    segments: Vec<SegmentInfo>,
    /// What purgatory checks the segments with (/sys/kernel/kexec_crash_digest).
    pub(super) region_hash: kexec_core::purgatory_abi::RegionHash,
}

impl CrashImage {
    /// Plan, then (only if planning succeeded) disarm the old image through
    /// `disarm`, write the new one into the region and protect it.
    pub fn load(req: &LoadRequest, ops: &dyn kexec_core::KexecFileOps, region: (u64, u64), phases: &mut PhaseLog, disarm: impl FnOnce()) -> Result<CrashImage, LoadError> {
        let t0 = crate::time::now_ns();
        let map = mm::memory_map();
        let crash_range = PhysRange::new(region.0, region.1);
        let view = MemoryView::new([crash_range], &[]);
        let headers = crate::crash::elf_headers();
        let crash = CrashSetup { elf_headers: &headers, memmap: map };
        let (mut image, summary) = super::load::plan(ops, req, KimageKind::Crash { region: crash_range }, &view, Some(crash), alloc::vec::Vec::new())?;
        // Purgatory's timing line: only its verification (the jump TSC is
        // not written at crash time, which touches nothing it can avoid).
        super::load::set_purgatory_tsc_khz(&mut image);
        // The digests are computed while the segments are written (one pass
        // over the data); whether purgatory can take them is checked now,
        // while the old image is still armed.
        let mode = kexec_core::kimage_crash_digest_mode(&mut image).map_err(super::load::kexec_err)?;
        phases.mark("place", now_ns());
        // Linux's kimage_alloc_crash_control_pages: a free stretch of the
        // region, after the segments; below 4 GiB if the region reaches
        // there, where purgatory's second CPU can start on their page tables.
        let pages = ControlPages::pages_needed(map.regions());
        let hole = |max: u64| {
            let hole = KexecBuf::new("control pages", SegmentBuf::Borrowed(&[]), pages * PAGE_SIZE).min(region.0).max(max).top_down(true);
            locate_mem_hole(&[crash_range], &image.destinations(), &hole)
        };
        let ctrl = match hole(region.1.min(ap_boot::PML4_LIMIT).saturating_sub(1)).or_else(|_| hole(region.1.saturating_sub(1))) {
            Ok(pa) => pa.0,
            Err(e) => return Err((abi::Errno::ENOMEM, format!("{}: reserve more with crashkernel=", e))),
        };
        let control_range = (ctrl, ctrl + pages * PAGE_SIZE);
        // A second CPU for purgatory's check as for a normal load: its
        // start-up page is below 1 MiB, which the dump leaves out.
        let second_cpu = if control_range.1 <= ap_boot::PML4_LIMIT || req.second_cpu.is_err() {
            super::load::offer_second_cpu(&mut image, &req.second_cpu)
        } else {
            String::from(super::load::ROOT_ABOVE_4G)
        };

        // The point of no return: the old image's memory gets overwritten.
        disarm();
        protect::set_direct_map_writable(region.0, region.1, true);
        // Cannot fail: kimage_crash_digest_mode stored digests in every
        // symbol above. Were it to, the old image is gone and this one is
        // refused, both said in the log.
        let digests = match kexec_core::kimage_load_crash_segments_digested(&mut image, mode, &mut DirectMap) {
            Ok(d) => d,
            Err(e) => {
                protect::set_direct_map_writable(region.0, region.1, false);
                return Err(super::load::kexec_err(e));
            }
        };
        phases.mark("copy+digest", now_ns());
        let control = ControlPages::prepare_in(ctrl, map.regions())
            .map_err(|e| (e, String::from("control pages did not fit their stretch (a bug)")))?;
        // All of it, control pages included: they were written above and are
        // only used through the identity map, at crash time (Linux leaves its
        // control page writable because it copies relocate_kernel there then).
        let protected = protect::set_direct_map_writable(region.0, region.1, false)
            && (region.0..region.1).step_by(PAGE_SIZE as usize).all(|pa| !protect::direct_map_writable(pa));
        if !protected {
            info!("kexec_file: could not write-protect the whole crash kernel region (no memory for page tables)");
        }
        phases.mark("control", now_ns());
        let final_cmdline = image.cmdline.clone();
        let segments = image.into_table();
        let us = (crate::time::now_ns() - t0) / 1000;
        if req.debug {
            super::load::report(ops.name(), req, &summary, &segments, &final_cmdline);
            info!("kexec_file: control pages [{:#x}-{:#x})", control_range.0, control_range.1);
            super::load::report_second_cpu(&second_cpu);
        }
        super::load::digest_report(&segments, &digests, req.debug);
        let img = CrashImage { region, control_range, control, start: summary.purgatory_entry.0, segments, region_hash: digests.hash };
        info!("kexec_file: loaded {} ({}) as the crash kernel in {} us; {}", req.kernel_path, ops.name(), us, img.usage());
        info!("{}{}", kexec_core::phases::LOAD_PHASES, phases.format());
        Ok(img)
    }

    /// (relocate_kernel's page, identity map root, purgatory entry).
    pub fn jump_target(&self) -> (u64, u64, u64) {
        let (code, pml4) = self.control.jump_target();
        (code, pml4, self.start)
    }

    /// How much of the region the image uses: the field question behind
    /// every crashkernel= trial and error.
    fn usage(&self) -> String {
        let used: u64 = self.segments.iter().map(|s| s.memsz.next_multiple_of(PAGE_SIZE)).sum::<u64>()
            + (self.control_range.1 - self.control_range.0);
        let size = self.region.1 - self.region.0;
        format!(
            "segments and control pages use {} KiB of the {} MiB crash kernel region; {} KiB are left for the capture kernel to run in",
            used >> 10,
            size >> 20,
            size.saturating_sub(used) >> 10
        )
    }

    /// Make the region writable again (before it is reused or unloaded).
    pub fn unprotect(&self) {
        protect::set_direct_map_writable(self.region.0, self.region.1, true);
    }
}
