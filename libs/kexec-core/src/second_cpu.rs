//! Offering purgatory a second CPU for its check
//! (purgatory_abi::SECOND_CPU): the page below 1 MiB it may start one from.
//!
//! Crash images get one too. The page is then the crashed kernel's memory,
//! but not the dump's: the ELF core headers leave out the first MiB, whose
//! RAM the capture kernel gets as its own (memmap::CAPTURE_LOW_END, Linux's
//! x86 layout).
//! The crashed kernel's other CPUs were put in wait-for-SIPI by an INIT
//! before the jump, the state purgatory starts them from.

use bootparam::{e820_type::E820_RAM, E820Entry};
use purgatory_abi::SECOND_CPU;

use crate::kimage::{Kimage, KimageKind};

/// Why purgatory gets no second CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSecondCpu {
    /// A crash image, and the page is not RAM in the capture kernel's
    /// memory map (reserved, a hole, or no map: a bug). Below 1 MiB that is
    /// the only way it could be wrong: the dump leaves that memory out.
    NotCaptureRam,
    /// Not a page-aligned address a start-up IPI can name
    /// (ap_boot::LAST_STARTUP_PAGE, below 1 MiB), or page 0 (the real-mode
    /// interrupt table).
    BadPage,
    /// A segment's destination covers the page.
    SegmentThere,
    /// This purgatory has no SECOND_CPU symbol.
    NotSupported,
}

impl core::fmt::Display for NoSecondCpu {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            NoSecondCpu::NotCaptureRam => "the start-up page is not RAM in the capture kernel's memory map",
            NoSecondCpu::BadPage => "the start-up page is not a page between 4 KiB and 1 MiB",
            NoSecondCpu::SegmentThere => "a segment is loaded over the start-up page",
            NoSecondCpu::NotSupported => "this purgatory cannot use a second CPU",
        })
    }
}

/// Tell purgatory it may start a second CPU from `page`: RAM below 1 MiB
/// that nothing of the image uses and the caller's own second CPU answered
/// from. Call after placement (the segments' destinations are known).
pub fn offer_second_cpu(image: &mut Kimage<'_>, page: u64) -> Result<(), NoSecondCpu> {
    let capture_ram = match image.kind() {
        KimageKind::Normal => None,
        KimageKind::Crash { .. } => Some(image.crash_e820.as_deref().unwrap_or(&[])),
    };
    check_page(page, &image.destinations(), capture_ram)?;
    image.purgatory_set_symbol(SECOND_CPU.name, &page.to_le_bytes()).map_err(|_| NoSecondCpu::NotSupported)
}

/// [`offer_second_cpu`]'s rule for `page`, given the image's segment
/// destinations and, for a crash image, the capture kernel's e820.
fn check_page(page: u64, destinations: &[crate::PhysRange], capture_ram: Option<&[E820Entry]>) -> Result<(), NoSecondCpu> {
    if page == 0 || !page.is_multiple_of(4096) || page > ap_boot::LAST_STARTUP_PAGE {
        return Err(NoSecondCpu::BadPage);
    }
    if let Some(e820) = capture_ram {
        let holds = |e: &E820Entry| e.typ == E820_RAM && e.addr <= page && page + 4096 <= e.addr.saturating_add(e.size);
        if !e820.iter().any(holds) {
            return Err(NoSecondCpu::NotCaptureRam);
        }
    }
    if covers(destinations, page) {
        return Err(NoSecondCpu::SegmentThere);
    }
    Ok(())
}

/// Whether one of `destinations` covers a byte of the 4 KiB page at `page`.
fn covers(destinations: &[crate::PhysRange], page: u64) -> bool {
    destinations.iter().any(|r| r.start < page + 4096 && page < r.end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bzimage64::tests::fake_bzimage;
    use crate::loader::LoadContext;
    use crate::sanity::SanityLimits;
    use crate::{kexec_file_plan, BzImage64, DigestsAt, KnownDigests, MemoryView};
    use bootparam::e820_from_memmap;

    fn plan_with(purgatory: &[u8], f: impl FnOnce(&mut Kimage<'_>)) {
        let map = memmap::examples::qemu_512m();
        let view = MemoryView::from_memmap(&map, &[crate::PhysRange { start: 0, end: 0x10_0000 }]);
        let e820 = e820_from_memmap(&map);
        let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: None, purgatory, tsc_khz: None, crash: None };
        let kernel = fake_bzimage(4096, 1 << 20);
        let limits = SanityLimits::from_memmap(&map);
        let (mut image, _) = kexec_file_plan(&BzImage64, crate::KimageKind::Normal, &ctx, &kernel, None, KnownDigests::NONE, b"\0", &limits, Vec::new(), DigestsAt::Plan).unwrap();
        f(&mut image);
    }

    #[test]
    fn the_page_is_patched_only_when_nothing_is_there() {
        let purg = crate::testutil::kexos_style_purgatory();
        plan_with(&purg, |image| {
            offer_second_cpu(image, 0x9f000).unwrap();
            assert_eq!(image.purgatory_get_symbol_array::<8>(SECOND_CPU.name).unwrap(), 0x9f000u64.to_le_bytes());
            for bad in [0, 0x9f001, 0x10_0000, 1 << 32] {
                assert_eq!(offer_second_cpu(image, bad), Err(NoSecondCpu::BadPage), "{bad:#x}");
            }
        });
        // A Linux-style purgatory has no such symbol.
        plan_with(&crate::testutil::purgatory(), |image| {
            assert_eq!(offer_second_cpu(image, 0x9f000), Err(NoSecondCpu::NotSupported));
        });
    }

    #[test]
    fn a_crash_image_gets_a_page_only_in_the_capture_kernels_ram() {
        let e = |addr: u64, end: u64, typ: u32| E820Entry { addr, size: end - addr, typ };
        // The capture kernel's e820 as crash.rs builds it: low RAM up to the
        // EBDA, reserved above, then the crash region.
        let capture = [e(0, 0x9fc00, 1), e(0x9fc00, 0xa0000, 2), e(0xf0000, 0x10_0000, 2), e(0x1800_0000, 0x1c00_0000, 1)];
        assert_eq!(check_page(0x9e000, &[], Some(&capture)), Ok(()));
        assert_eq!(check_page(0x1000, &[], Some(&capture)), Ok(()));
        // Straddles the end of RAM, is reserved, or the map has no low RAM.
        assert_eq!(check_page(0x9f000, &[], Some(&capture)), Err(NoSecondCpu::NotCaptureRam));
        assert_eq!(check_page(0xf0000, &[], Some(&capture)), Err(NoSecondCpu::NotCaptureRam));
        assert_eq!(check_page(0x9e000, &[], Some(&capture[1..])), Err(NoSecondCpu::NotCaptureRam));
        assert_eq!(check_page(0x9e000, &[], Some(&[])), Err(NoSecondCpu::NotCaptureRam));
        // A normal image's next kernel owns all of RAM.
        assert_eq!(check_page(0xf0000, &[], None), Ok(()));
        // Real crash plans: their e820 is the capture kernel's. A kexos
        // purgatory gets the page; a Linux-style one has no SECOND_CPU.
        use crate::crash::tests::{fake_headers, plan_crash_with, qemu_512m, REGION};
        let (map, headers, kernel) = (qemu_512m(), fake_headers(), fake_bzimage(4096, 1 << 20));
        let purg = crate::testutil::kexos_style_purgatory();
        let mut p = plan_crash_with(&purg, &kernel, &headers, &map, REGION, true).unwrap();
        assert_eq!(offer_second_cpu(&mut p.image, 0x9f000), Err(NoSecondCpu::NotCaptureRam));
        offer_second_cpu(&mut p.image, 0x9e000).unwrap();
        assert_eq!(p.image.purgatory_get_symbol_array::<8>(SECOND_CPU.name).unwrap(), 0x9e000u64.to_le_bytes());
        let mut p = plan_crash_with(&crate::testutil::purgatory(), &kernel, &headers, &map, REGION, true).unwrap();
        assert_eq!(offer_second_cpu(&mut p.image, 0x9e000), Err(NoSecondCpu::NotSupported));
        // A crash image without the capture kernel's map (a bug) gets no page.
        p.image.crash_e820 = None;
        assert_eq!(offer_second_cpu(&mut p.image, 0x9e000), Err(NoSecondCpu::NotCaptureRam));
    }

    #[test]
    fn a_segment_over_the_page_keeps_purgatory_on_one_cpu() {
        let r = |start, end| crate::PhysRange { start, end };
        let dests = [r(0x9e000, 0x9e001), r(0x20_0000, 0x30_0000)];
        assert!(covers(&dests, 0x9e000));
        assert!(!covers(&dests, 0x9d000) && !covers(&dests, 0x9f000));
        assert!(covers(&[r(0x9d000, 0xa0000)], 0x9f000));
        assert!(!covers(&[r(0x9f000 + 4096, 0xa1000)], 0x9f000), "ends are exclusive");
    }
}
