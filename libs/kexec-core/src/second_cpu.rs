//! Offering purgatory a second CPU for its check
//! (purgatory_abi::SECOND_CPU): the page below 1 MiB it may start one from.

use purgatory_abi::SECOND_CPU;

use crate::kimage::{Kimage, KimageKind};

/// Why purgatory gets no second CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSecondCpu {
    /// A crash image: the crashed kernel's CPUs are left alone, as kdump
    /// kernels boot with one (and the page would be the dump's memory).
    CrashImage,
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
            NoSecondCpu::CrashImage => "a crash image leaves the other CPUs alone",
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
    if image.kind() != KimageKind::Normal {
        return Err(NoSecondCpu::CrashImage);
    }
    if page == 0 || !page.is_multiple_of(4096) || page > ap_boot::LAST_STARTUP_PAGE {
        return Err(NoSecondCpu::BadPage);
    }
    if covers(&image.destinations(), page) {
        return Err(NoSecondCpu::SegmentThere);
    }
    image.purgatory_set_symbol(SECOND_CPU.name, &page.to_le_bytes()).map_err(|_| NoSecondCpu::NotSupported)
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
    fn a_segment_over_the_page_keeps_purgatory_on_one_cpu() {
        let r = |start, end| crate::PhysRange { start, end };
        let dests = [r(0x9e000, 0x9e001), r(0x20_0000, 0x30_0000)];
        assert!(covers(&dests, 0x9e000));
        assert!(!covers(&dests, 0x9d000) && !covers(&dests, 0x9f000));
        assert!(covers(&[r(0x9d000, 0xa0000)], 0x9f000));
        assert!(!covers(&[r(0x9f000 + 4096, 0xa1000)], 0x9f000), "ends are exclusive");
    }
}
