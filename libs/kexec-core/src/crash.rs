//! Crash (kdump) loads: the ELF core headers segment and the capture
//! kernel's memory map (arch/x86/kernel/crash.c `crash_load_segments` and
//! `crash_setup_memmap_entries`).
//!
//! The running kernel builds its ELF core headers (ET_CORE: one PT_LOAD per
//! System RAM range outside the crash region and low 1 MiB, PT_NOTEs for
//! crash notes and vmcoreinfo) and passes them with its memory map in
//! [`LoadContext::crash`]. A loader calls [`crash_load_segments`] before it
//! loads purgatory (Linux's order in bzImage64_load), which
//!
//! 1. adds a copy of the headers (a few KiB; the loader trait does not tie
//!    the context's lifetime to the image's) as the segment "elfcorehdr": page aligned
//!    ([`ELF_CORE_HEADER_ALIGN`]), bottom up in the crash region (so at its
//!    start when nothing else is there yet), **checksummed** like every
//!    segment but purgatory (Linux skips it only with CONFIG_CRASH_HOTPLUG,
//!    which rewrites it after load; kexos has no hotplug);
//! 2. records its address in [`Kimage::elf_load_addr`], which the handoff
//!    turns into the `elfcorehdr=0x<addr> ` command-line prefix;
//! 3. stores the capture kernel's e820 in [`Kimage::crash_e820`]
//!    ([`memmap::crash_memmap`]: low 1 MiB RAM, ACPI/NVS/reserved, the crash
//!    region minus the headers), which boot_params gets instead of
//!    [`LoadContext::e820`].
//!
//! The headers are excluded from the capture kernel's RAM by their whole
//! segment, `[mem, mem + memsz)` (page granular); Linux excludes exactly
//! `elf_headers_sz` bytes and drops a sub-page remainder, so the two differ
//! only by the unused tail of the last header page.

use crate::error::KexecError;
use crate::kimage::{Kimage, KimageKind};
use crate::loader::LoadContext;
use crate::segment::{KexecBuf, SegmentBuf};

/// ELF_CORE_HEADER_ALIGN: the elfcorehdr segment's alignment.
pub const ELF_CORE_HEADER_ALIGN: u64 = 4096;

/// The segment label of the ELF core headers.
pub const ELFCOREHDR_LABEL: &str = "elfcorehdr";

/// For a crash image: load the ELF core headers from `ctx.crash` into the
/// crash region, set `image.elf_load_addr` and `image.crash_e820` (see the
/// module docs). EINVAL ([`KexecError::NoCrashSetup`]) without `ctx.crash`;
/// EADDRNOTAVAIL naming the crash region if the headers do not fit. A
/// normal image is left alone.
pub fn crash_load_segments(
    image: &mut Kimage<'_>,
    ctx: &LoadContext<'_>,
) -> Result<(), KexecError> {
    let KimageKind::Crash { region } = image.kind() else {
        return Ok(());
    };
    let crash = ctx.crash.ok_or(KexecError::NoCrashSetup)?;
    let headers = crash.elf_headers;
    let mem = image.add_buffer(
        KexecBuf::new(
            ELFCOREHDR_LABEL,
            SegmentBuf::Owned(headers.to_vec()),
            headers.len() as u64,
        )
        .align(ELF_CORE_HEADER_ALIGN)
        .top_down(false),
        ctx.view,
    )?;
    let memsz = image.segments().last().map_or(0, |s| s.memsz);
    image.elf_load_addr = Some(mem);
    let map = memmap::crash_memmap(
        crash.memmap,
        (region.start, region.end),
        &[(mem.0, mem.0 + memsz)],
    );
    image.crash_e820 = Some(bootparam::e820_from_memmap(&map));
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bzimage64::tests::fake_bzimage;
    use crate::entry::kimage_load_crash_segments;
    use crate::entry::tests::FakeMem;
    use crate::entry::PhysMem;
    use crate::loader::{probe_image, CrashSetup, LoadSummary};
    use crate::plan::{kexec_file_plan, DigestsAt, KnownDigests};
    use crate::sanity::SanityLimits;
    use crate::testutil::purgatory;
    use crate::{BzImage64, Elf64, KexecFileOps, MemoryView, PhysAddr, PhysRange, PAGE_SIZE};
    use abi::Errno;
    use bootparam::{e820_from_memmap, parse_boot_params, E820Entry};
    use memmap::{MemoryMap, RegionKind::*};

    const MIB: u64 = 1 << 20;
    /// The crash region the tests reserve: 64 MiB at 384 MiB.
    pub(crate) const REGION: PhysRange = PhysRange {
        start: 0x1800_0000,
        end: 0x1c00_0000,
    };

    /// QEMU's e820 for -m 512 with its ACPI tables and NVS below the top of
    /// RAM (where OVMF puts them), the running kexos at 16..20 MiB.
    pub(crate) fn qemu_512m() -> MemoryMap {
        let mut map = memmap::examples::qemu_512m();
        map.carve(0x1ffe0000, 0x1fff0000, AcpiReclaim);
        map.carve(0x1fff0000, 0x20000000, AcpiNvs);
        map
    }
    /// Stand-in ELF core headers: 5000 bytes (two pages once placed).
    pub(crate) fn fake_headers() -> Vec<u8> {
        let mut h: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        h[..4].copy_from_slice(b"\x7fELF");
        h
    }

    /// What a crash plan produced, written out as kimage_load_crash_segments does.
    pub(crate) struct CrashPlanned<'a> {
        pub image: crate::Kimage<'a>,
        pub sum: LoadSummary,
        pub mem: FakeMem,
    }

    /// Probe, plan a crash load of `kernel` with `region` on the 512 MiB
    /// map (view: all usable RAM but low memory and the running kernel),
    /// and write the segments into fake memory.
    pub(crate) fn plan_crash<'a>(
        kernel: &'a [u8],
        headers: &'a [u8],
        map: &'a MemoryMap,
        region: PhysRange,
        with_setup: bool,
    ) -> Result<CrashPlanned<'a>, KexecError> {
        plan_crash_with(&purgatory(), kernel, headers, map, region, with_setup)
    }

    /// [`plan_crash`] with the purgatory `purg`.
    pub(crate) fn plan_crash_with<'a>(
        purg: &[u8],
        kernel: &'a [u8],
        headers: &'a [u8],
        map: &'a MemoryMap,
        region: PhysRange,
        with_setup: bool,
    ) -> Result<CrashPlanned<'a>, KexecError> {
        let avoid = [PhysRange::new(0, MIB), PhysRange::new(0x1000000, 0x1400000)];
        let view = MemoryView::from_memmap(map, &avoid);
        let e820 = e820_from_memmap(map);
        let ctx = LoadContext {
            view: &view,
            e820: &e820,
            acpi_rsdp: Some(0xf5a40),
            purgatory: purg,
            tsc_khz: None,
            crash: with_setup.then_some(CrashSetup {
                elf_headers: headers,
                memmap: map,
            }),
        };
        let loaders: [&dyn KexecFileOps; 2] = [&BzImage64, &Elf64];
        let ops = probe_image(&loaders, kernel)?;
        let limits = SanityLimits::from_memmap(map);
        let (image, sum) = kexec_file_plan(
            ops,
            KimageKind::Crash { region },
            &ctx,
            kernel,
            None,
            KnownDigests::NONE,
            b"console=ttyS0\0",
            &limits,
            Vec::new(), DigestsAt::Plan,
        )?;
        let mut mem = FakeMem::default();
        kimage_load_crash_segments(&image, &mut mem);
        Ok(CrashPlanned { image, sum, mem })
    }

    /// Everything a crash load must satisfy, for either loader.
    pub(crate) fn check_crash_load(p: &CrashPlanned<'_>, headers: &[u8], map: &MemoryMap) {
        let image = &p.image;
        // Every segment inside the crash region.
        for s in image.segments() {
            assert!(
                REGION.contains_range(&s.dest_range()),
                "{} at {} outside the crash region",
                s.label,
                s.mem
            );
        }
        // The headers: exactly the given bytes, page aligned, at the bottom
        // of the region (first placed, bottom up), checksummed.
        let hdr = image
            .segments()
            .iter()
            .find(|s| s.label == ELFCOREHDR_LABEL)
            .expect("an elfcorehdr segment");
        assert_eq!(hdr.buf.as_slice(), headers);
        assert_eq!(hdr.mem, PhysAddr(REGION.start));
        assert_eq!(hdr.memsz, 2 * PAGE_SIZE);
        assert!(hdr.checksum, "elfcorehdr is in the digest");
        assert_eq!(image.elf_load_addr, Some(hdr.mem));
        let mut got = vec![0u8; hdr.memsz as usize];
        p.mem.read(hdr.mem, &mut got);
        assert_eq!(&got[..headers.len()], headers);
        assert!(got[headers.len()..].iter().all(|&b| b == 0), "zero tail");
        // Linux's order: elfcorehdr before purgatory.
        let labels: Vec<_> = image.segments().iter().map(|s| s.label).collect();
        let at = |l: &str| labels.iter().position(|x| *x == l).unwrap();
        assert!(at(ELFCOREHDR_LABEL) < at("purgatory"), "{labels:?}");

        // The command line starts with elfcorehdr=0x<its address>.
        let want = format!("elfcorehdr={:#x} console=ttyS0\0", hdr.mem.0);
        assert_eq!(image.cmdline, want.as_bytes());

        // boot_params as the capture kernel reads it from memory.
        let bp = p.sum.boot_params.unwrap();
        let mut zp = vec![0u8; 4096];
        p.mem.read(bp, &mut zp);
        let parsed = parse_boot_params(&zp, |pa, b| {
            p.mem.read(PhysAddr(pa), b);
            true
        })
        .unwrap();
        let (cl, len) = p.sum.cmdline.unwrap();
        let mut text = vec![0u8; len as usize];
        p.mem.read(cl, &mut text);
        assert_eq!(text, want.as_bytes());
        assert_eq!(parsed.cmdline_pa, Some(cl.0));
        // e820: low 1 MiB RAM + reserved/ACPI + the region minus the headers.
        let e = |addr: u64, end: u64, typ: u32| E820Entry {
            addr,
            size: end - addr,
            typ,
        };
        let expect = vec![
            e(0, 0x9fc00, 1),
            e(0x9fc00, 0xa0000, 2),
            e(0xf0000, 0x100000, 2),
            e(REGION.start + 2 * PAGE_SIZE, REGION.end, 1),
            e(0x1ffe0000, 0x1fff0000, 3),
            e(0x1fff0000, 0x20000000, 4),
            e(0xb0000000, 0xc0000000, 2),
            e(0xfed1c000, 0xfed20000, 2),
            e(0xfeffc000, 0xff000000, 2),
            e(0xfffc0000, 0x1_0000_0000, 2),
        ];
        assert_eq!(parsed.e820, expect);
        assert_eq!(image.crash_e820.as_deref(), Some(&expect[..]));
        assert_ne!(parsed.e820, e820_from_memmap(map), "not the full map");
        assert_eq!(parsed.acpi_rsdp, Some(0xf5a40));
    }

    #[test]
    fn crash_bzimage_load() {
        let map = qemu_512m();
        let headers = fake_headers();
        let kernel = fake_bzimage(4096, 16 << 20);
        let p = plan_crash(&kernel, &headers, &map, REGION, true).unwrap();
        assert_eq!(p.sum.loader, "bzImage64");
        check_crash_load(&p, &headers, &map);
        let labels: Vec<_> = p.image.segments().iter().map(|s| s.label).collect();
        assert_eq!(
            labels,
            ["elfcorehdr", "purgatory", "boot_params", "kernel"],
            "Linux's order"
        );
    }

    /// Issue 13: a crash load planned without digests and written with
    /// kimage_load_crash_segments_digested (each byte hashed as it is
    /// written, purgatory last) leaves the region exactly as planning the
    /// digests first and writing after, for both purgatory styles.
    #[test]
    fn crash_one_pass_write_and_digest_gives_the_same_region_as_two() {
        use crate::entry::{kimage_crash_digest_mode, kimage_load_crash_segments_digested};
        use crate::loader::LoadContext;
        let map = qemu_512m();
        let headers = fake_headers();
        let kernel = fake_bzimage(300_000, 4 << 20);
        let initrd: Vec<u8> = (0..200_000u32).map(|i| (i * 13) as u8).collect();
        let view = MemoryView::from_memmap(&map, &[PhysRange::new(0, MIB)]);
        let e820 = e820_from_memmap(&map);
        let limits = SanityLimits::from_memmap(&map);
        for purg in [purgatory(), crate::testutil::kexos_style_purgatory()] {
            let crash = Some(CrashSetup { elf_headers: &headers, memmap: &map });
            let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: None, purgatory: &purg, tsc_khz: None, crash };
            let plan = |at| {
                let kind = crate::KimageKind::Crash { region: REGION };
                kexec_file_plan(&BzImage64, kind, &ctx, &kernel, Some(&initrd), KnownDigests::NONE, b"x=1\0", &limits, Vec::new(), at)
            };
            let (two, _) = plan(DigestsAt::Plan).unwrap();
            let (mut one, _) = plan(DigestsAt::Copy(purgatory_abi::RegionHash::Sha256)).unwrap();
            let (mut mem_two, mut mem_one) = (FakeMem::default(), FakeMem::default());
            kimage_load_crash_segments(&two, &mut mem_two);
            let mode = kimage_crash_digest_mode(&mut one).unwrap();
            let digests = kimage_load_crash_segments_digested(&mut one, mode, &mut mem_one).unwrap();
            assert!(digests == crate::compute_digests(&two, mode), "digests differ");
            for s in two.segments() {
                let (mut a, mut b) = (vec![0u8; s.memsz as usize], vec![0u8; s.memsz as usize]);
                mem_two.read(s.mem, &mut a);
                mem_one.read(s.mem, &mut b);
                assert!(a == b, "{} differs", s.label);
            }
        }
    }

    #[test]
    fn crash_load_needs_the_crash_setup() {
        let map = qemu_512m();
        let headers = fake_headers();
        let kernel = fake_bzimage(4096, 16 << 20);
        let e = plan_crash(&kernel, &headers, &map, REGION, false)
            .err()
            .unwrap();
        assert_eq!(e, KexecError::NoCrashSetup);
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(e.to_string().contains("crash"), "{e}");
    }

    #[test]
    fn crash_region_too_small() {
        let map = qemu_512m();
        let headers = fake_headers();
        // 16 MiB of init_size does not fit an 8 MiB region.
        let kernel = fake_bzimage(4096, 16 << 20);
        let small = PhysRange::new(REGION.start, REGION.start + 8 * MIB);
        let e = plan_crash(&kernel, &headers, &map, small, true)
            .err()
            .unwrap();
        assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
        let msg = e.to_string();
        assert!(
            msg.contains("no memory hole for kernel") && msg.contains("inside crash region"),
            "{msg}"
        );
        // Not even the headers fit a one-page region.
        let tiny = PhysRange::new(REGION.start, REGION.start + PAGE_SIZE);
        let e = plan_crash(&kernel, &headers, &map, tiny, true)
            .err()
            .unwrap();
        assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
        let msg = e.to_string();
        assert!(
            msg.contains("no memory hole for elfcorehdr") && msg.contains("inside crash region"),
            "{msg}"
        );
    }

    #[test]
    fn normal_images_are_unchanged() {
        let map = qemu_512m();
        let headers = fake_headers();
        let view = MemoryView::from_memmap(&map, &[]);
        let purg = purgatory();
        let ctx = LoadContext {
            view: &view,
            e820: &[],
            acpi_rsdp: None,
            purgatory: &purg,
            tsc_khz: None,
            crash: Some(CrashSetup {
                elf_headers: &headers,
                memmap: &map,
            }),
        };
        let mut image = Kimage::new(KimageKind::Normal);
        crash_load_segments(&mut image, &ctx).unwrap();
        assert!(image.segments().is_empty());
        assert_eq!(image.elf_load_addr, None);
        assert_eq!(image.crash_e820, None);
    }
}
