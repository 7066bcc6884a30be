//! The format-independent middle of kexec_file_load: after the probe chose
//! a loader (and the syscall read the initrd and checked the command line),
//! run the loader, check the segment list, store the digests.

use alloc::vec::Vec;

use crate::digest::kexec_calculate_store_digests;
use crate::error::KexecError;
use crate::handover::HandoverRequest;
use crate::kimage::{Kimage, KimageKind};
use crate::loader::{KexecFileOps, LoadContext, LoadSummary};
use crate::sanity::{sanity_check_segment_list, SanityLimits};

/// When the segment digests are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestsAt {
    /// Here, at the end of the plan (kexec_calculate_store_digests), SHA-256:
    /// the host tools and tests, which then copy with
    /// [`crate::kimage_load_segments`] or [`crate::kimage_load_crash_segments`].
    Plan,
    /// Later, while the segments are copied
    /// ([`crate::kimage_load_segments_digested`],
    /// [`crate::kimage_load_crash_segments_digested`]), so each checksummed
    /// byte is read once: the kernel's normal and crash loads. With the
    /// function purgatory checks them with (`KEXEC_FILE_XXH64_DIGEST`), fixed
    /// here, before any digest exists.
    Copy(purgatory_abi::RegionHash),
}

/// Digests the caller computed while it read the files (IMA's pass), which
/// the digest step reuses instead of hashing the segments again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownDigests {
    /// The kernel file's SHA-256, and its state after the first `offset`
    /// bytes, where the loader's [`KexecFileOps::suffix_offset`] says a
    /// segment holding the rest of the file starts.
    pub kernel: Option<SuffixDigest>,
    /// The initrd file's SHA-256 (`offset` 0: the segment is the whole file).
    pub initrd: Option<SuffixDigest>,
}

/// See [`KnownDigests::kernel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuffixDigest {
    /// Where the suffix starts (a multiple of 64).
    pub offset: usize,
    /// What the image records for the segment holding the suffix: the
    /// whole file's SHA-256, the hash's state after `offset` bytes, and the
    /// state at a cut further in where purgatory may split its check between
    /// two CPUs (purgatory_abi::REGION_CUTS; NONE: none).
    pub known: crate::digest::KnownDigest,
}

impl SuffixDigest {
    /// SHA-256 of `file`, keeping the state after its first `offset` bytes
    /// on the way (one pass): None if `offset` is past the end or not a
    /// multiple of 64.
    pub fn of(file: &[u8], offset: usize) -> Option<SuffixDigest> {
        Self::of_cut(file, offset, None)
    }

    /// [`SuffixDigest::of`], also keeping the state at the file offset
    /// `cut` when it is a multiple of 64 strictly between `offset` and the
    /// end (else no cut: the check is not split).
    pub fn of_cut(file: &[u8], offset: usize, cut: Option<usize>) -> Option<SuffixDigest> {
        use purgatory_abi::RegionPrefix;
        use sha256::Sha256;
        let (head, tail) = (file.get(..offset)?, &file[offset..]);
        let mut h = Sha256::new();
        h.update(head);
        let prefix = RegionPrefix::capture(&h)?;
        let cut = cut.filter(|&c| c > offset && c < file.len()).map(|c| c - offset);
        let state_at_cut = match cut {
            Some(c) => {
                h.update(&tail[..c]);
                RegionPrefix::capture(&h).unwrap_or(RegionPrefix::NONE)
            }
            None => RegionPrefix::NONE,
        };
        h.update(&tail[cut.unwrap_or(0)..]);
        Some(SuffixDigest { offset, known: crate::digest::KnownDigest { sha256: h.finalize(), prefix, cut: state_at_cut } })
    }

    /// A whole file's SHA-256 computed elsewhere (offset 0, no cut).
    pub fn whole(sha256: purgatory_abi::Sha256Digest) -> SuffixDigest {
        SuffixDigest { offset: 0, known: crate::digest::KnownDigest::whole(sha256) }
    }
}

/// Where IMA's pass should keep a cut so that purgatory's two CPUs check
/// equal shares (purgatory_abi::REGION_CUTS): in the larger of the kernel
/// segment (`loaded` bytes, [`crate::KexecFileOps::loaded_len`]) and the
/// initrd, half of their sum into it, as a file offset rounded down to a
/// block. Only a kernel segment that is the file after `suffix` can be cut
/// (IMA's pass hashes the file); without one (ELF64) only the initrd is,
/// and the kernel's bytes still count. Returns (kernel cut, initrd cut), at
/// most one of them. The small segments (boot_params, ...) go to whichever
/// CPU has less.
pub fn cuts_for_two_cpus(loaded: usize, suffix: Option<usize>, initrd_len: usize) -> (Option<usize>, Option<usize>) {
    let half = ((loaded + initrd_len) / 2) & !63;
    if half == 0 {
        return (None, None);
    }
    match suffix {
        Some(s) if loaded >= initrd_len && half < loaded => (Some(s + half), None),
        _ if initrd_len > loaded && half < initrd_len => (None, Some(half)),
        _ => (None, None),
    }
}

impl KnownDigests {
    /// Nothing known: every checksummed segment is hashed.
    pub const NONE: KnownDigests = KnownDigests { kernel: None, initrd: None };

    /// Only the initrd's digest.
    pub fn initrd(sha256: Option<purgatory_abi::Sha256Digest>) -> KnownDigests {
        KnownDigests { initrd: sha256.map(SuffixDigest::whole), ..Self::NONE }
    }
}

/// Steps 12, 13 and 15 of kexec_file_load (facts section 1): the hand-over
/// buffers (where Linux adds IMA's, before the loader), `ops.load`,
/// `sanity_check_segment_list`, and the digests if `at` says so. `known`
/// digests (IMA's) are reused for the segments that hold those bytes. The
/// caller then builds the entry list ([`crate::kimage_load_segments`], or
/// [`crate::kimage_load_segments_digested`] with [`DigestsAt::Copy`]) or,
/// for a crash image, writes the segments
/// ([`crate::kimage_load_crash_segments`] / `_digested`).
#[allow(clippy::too_many_arguments)]
pub fn kexec_file_plan<'a>(
    ops: &dyn KexecFileOps,
    kind: KimageKind,
    ctx: &LoadContext<'_>,
    kernel: &'a [u8],
    initrd: Option<&'a [u8]>,
    known: KnownDigests,
    cmdline: &[u8],
    limits: &SanityLimits,
    handover: Vec<HandoverRequest>,
    at: DigestsAt,
) -> Result<(Kimage<'a>, LoadSummary), KexecError> {
    let mut image = Kimage::new(kind);
    for (file, k) in [(Some(kernel), known.kernel), (initrd, known.initrd)] {
        if let (Some(rest), Some(k)) = (file.and_then(|f| k.and_then(|k| f.get(k.offset..))), k) {
            image.kexec_known_digest(rest, k.known);
        }
    }
    for h in handover {
        image.kexec_add_handover_buffer(h, ctx.view)?;
    }
    let summary = ops.load(&mut image, ctx, kernel, initrd, cmdline)?;
    sanity_check_segment_list(&image, limits)?;
    match at {
        DigestsAt::Plan => {
            kexec_calculate_store_digests(&mut image)?;
        }
        DigestsAt::Copy(hash) => image.region_hash = hash,
    }
    Ok((image, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bzimage64::tests::fake_bzimage;
    use crate::entry::tests::{FakeMem, ListAlloc};
    use crate::entry::{kimage_load_segments, relocate_simulate, PhysMem};
    use crate::loader::probe_image;
    use crate::testutil::purgatory;
    use crate::{BzImage64, KexecFileOps, MemoryView, PhysAddr, PhysRange, PAGE_SIZE};
    use bootparam::{e820_from_memmap, LOADER_TYPE_KEXEC};
    use purgatory_abi::{
        EntryRegs, ShaRegion, ENTRY64_REGS, FLAGS, FLAG_PER_REGION, FLAG_SHA_NI, FLAG_SSE2, REGION_DIGESTS, SHA256_DIGEST,
        SHA_REGIONS, STACK_END_SYMBOL,
    };
    use sha256::Sha256;

    const MIB: u64 = 1 << 20;

    use memmap::examples::qemu_512m;
    #[test]
    fn plan_a_full_bzimage_load_on_512m_and_relocate_it() {
        let map = qemu_512m();
        let avoid = [PhysRange::new(0, MIB), PhysRange::new(0x1000000, 0x1400000)];
        let view = MemoryView::from_memmap(&map, &avoid);
        let e820 = e820_from_memmap(&map);
        let purg = purgatory();
        let ctx = LoadContext {
            view: &view,
            e820: &e820,
            acpi_rsdp: Some(0xf5a40),
            purgatory: &purg,
            tsc_khz: None,
            crash: None,
        };
        let kernel = fake_bzimage(8 * MIB as usize, 48 << 20);
        let initrd: Vec<u8> = (0..20 * MIB as usize).map(|i| (i % 251) as u8).collect();
        let cmdline = b"console=ttyS0 token=f00dfeed\0";
        let limits = SanityLimits::from_memmap(&map);

        let bz = BzImage64;
        let loaders: [&dyn KexecFileOps; 1] = [&bz];
        let ops = probe_image(&loaders, &kernel).unwrap();
        let (mut image, sum) = kexec_file_plan(
            ops,
            KimageKind::Normal,
            &ctx,
            &kernel,
            Some(&initrd),
            KnownDigests::NONE,
            cmdline,
            &limits,
            Vec::new(), DigestsAt::Plan,
        )
        .unwrap();

        // Segments in Linux's order, where Linux would put them.
        let segs = image.segments();
        let labels: Vec<_> = segs.iter().map(|s| s.label).collect();
        assert_eq!(labels, ["purgatory", "boot_params", "kernel", "initrd"]);
        for s in segs {
            assert!(
                view.contains(&s.dest_range()),
                "{} at {} outside usable RAM",
                s.label,
                s.mem
            );
        }
        let (p, bp, k, rd) = (&segs[0], &segs[1], &segs[2], &segs[3]);
        assert!(
            p.mem.0 + p.memsz <= 0x1ffe0000 && p.mem.0 >= 0x1ffe0000 - 4 * PAGE_SIZE,
            "purgatory top-down"
        );
        assert_eq!(bp.memsz, 8192);
        assert_eq!(k.mem.0 % (2 * MIB), 0, "kernel_alignment");
        assert!(k.mem.0 >= 16 * MIB, "pref_address");
        assert_eq!(k.memsz, 48 << 20);
        assert_eq!(k.bufsz(), 8 * MIB);
        assert_eq!(
            k.buf.as_slice().as_ptr(),
            kernel[28 * 512..].as_ptr(),
            "kernel borrowed, not copied"
        );
        assert!(rd.mem.0 >= 16 * MIB && rd.mem.0 % PAGE_SIZE == 0);
        assert_eq!(rd.buf.as_slice().as_ptr(), initrd.as_ptr());
        assert_eq!(sum.kernel_entry, PhysAddr(k.mem.0 + 0x200));
        assert_eq!(sum.initrd, Some((rd.mem, 20 * MIB)));
        assert_eq!(image.start, p.mem);
        assert_eq!(image.cmdline, cmdline);

        // Purgatory's registers: startup_64, RSI = boot_params, own stack.
        let regs =
            EntryRegs::from_bytes(&image.purgatory_get_symbol_array(ENTRY64_REGS.name).unwrap());
        assert_eq!(regs.rip, k.mem.0 + 0x200);
        assert_eq!(regs.rsi, bp.mem.0);
        assert_eq!(regs.rbx, 0);
        assert_eq!(
            regs.rsp,
            image.purgatory_symbol_addr(STACK_END_SYMBOL).unwrap().0
        );

        // Digests: per-segment data regions (no zero tails), excluding purgatory.
        let regions = image.purgatory_get_symbol_array(SHA_REGIONS.name).unwrap();
        let mut want = [ShaRegion::EMPTY; purgatory_abi::MAX_REGIONS];
        for i in 1..4 {
            want[i] = ShaRegion {
                start: segs[i].mem.0,
                len: segs[i].bufsz(),
            };
        }
        assert_eq!(regions, ShaRegion::table_to_bytes(&want));
        // A Linux-style purgatory (no purgatory_flags) gets Linux's single
        // total digest, and no per-region table.
        let digests = image
            .purgatory_get_symbol(REGION_DIGESTS.name, REGION_DIGESTS.size)
            .unwrap();
        assert!(
            digests.iter().all(|&b| b == 0),
            "total mode: no per-region digests"
        );
        let mut all = Sha256::new();
        for s in &segs[1..] {
            all.update(s.buf.as_slice());
        }
        let total = image
            .purgatory_get_symbol(SHA256_DIGEST.name, SHA256_DIGEST.size)
            .unwrap();
        assert_eq!(total, all.finalize().as_slice());

        // Build the entry list from pages handed out top-down (they collide
        // with the top-down destinations), relocate, and read the result
        // back as Linux would.
        let mut order: Vec<u64> = view
            .ranges()
            .iter()
            .flat_map(|r| (r.start / PAGE_SIZE..r.end / PAGE_SIZE).map(|p| p * PAGE_SIZE))
            .collect();
        order.reverse();
        let mut alloc = ListAlloc::new(order);
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        // Every data page has a source page or is in place; some zero-tail
        // pages (whose frames the allocator offered first) are in place too.
        let held = (list.source_pages.len() + list.direct_pages.len()) as u64;
        let memsz_pages: u64 = image.segments().iter().map(|s| s.memsz / PAGE_SIZE).sum();
        assert!((1 + 2 + 8 * MIB / PAGE_SIZE + 20 * MIB / PAGE_SIZE..=memsz_pages).contains(&held), "{held}");
        relocate_simulate(list.head, &mut mem, 1 << 20).unwrap();
        for s in image.segments() {
            let mut got = vec![0u8; s.memsz as usize];
            mem.read(s.mem, &mut got);
            assert_eq!(&got[..s.buf.len()], s.buf.as_slice(), "{}", s.label);
            assert!(
                got[s.buf.len()..].iter().all(|&b| b == 0),
                "{} zero tail",
                s.label
            );
        }
        let parsed = crate::testutil::read_boot_params(&mem, bp.mem);
        assert_eq!(parsed.type_of_loader, LOADER_TYPE_KEXEC);
        assert_eq!(parsed.params.hdr().loadflags(), 0);
        assert_eq!(parsed.params.hdr().init_size(), 48 << 20, "header copied");
        assert_eq!(parsed.ramdisk, Some((rd.mem.0, 20 * MIB)));
        assert_eq!(parsed.acpi_rsdp, Some(0xf5a40));
        assert_eq!(parsed.e820, e820);
        assert_eq!(
            parsed.setup_data.len(),
            0,
            "no setup_data: 10 e820 entries fit in the zero page"
        );
        let cl = parsed.cmdline_pa.unwrap();
        assert_eq!(cl, bp.mem.0 + 4096);
        let mut text = vec![0u8; cmdline.len()];
        mem.read(PhysAddr(cl), &mut text);
        assert_eq!(text, cmdline);

        // A corrupted byte after the digest is what purgatory would catch.
        image.segment_mut(1).unwrap().buf_mut().unwrap()[100] ^= 1;
        let again = crate::digest::compute_digests(&image, crate::digest::DigestMode::Total);
        assert_ne!(&again.digest[..], &total[..]);
    }

    #[test]
    fn kexos_purgatory_without_stack_end() {
        let map = qemu_512m();
        let view = MemoryView::from_memmap(&map, &[]);
        let e820 = e820_from_memmap(&map);
        let purg = crate::testutil::kexos_style_purgatory();
        let ctx = LoadContext {
            view: &view,
            e820: &e820,
            acpi_rsdp: None,
            purgatory: &purg,
            tsc_khz: None,
            crash: None,
        };
        let kernel = fake_bzimage(4096, 1 << 20);
        let limits = SanityLimits::from_memmap(&map);
        let (image, _) = kexec_file_plan(
            &BzImage64,
            KimageKind::Normal,
            &ctx,
            &kernel,
            None,
            KnownDigests::NONE,
            b"\0",
            &limits,
            Vec::new(), DigestsAt::Plan,
        )
        .unwrap();
        let regs =
            EntryRegs::from_bytes(&image.purgatory_get_symbol_array(ENTRY64_REGS.name).unwrap());
        assert_eq!(regs.rsp, 0, "purgatory keeps its own stack");
        // kexos's purgatory has purgatory_flags: one SHA pass per segment,
        // per-region verification, no total digest.
        let flags = image.purgatory_get_symbol_array(FLAGS.name).unwrap();
        assert_eq!(u64::from_le_bytes(flags) & FLAG_PER_REGION, FLAG_PER_REGION);
        // The purgatory hashes as this process does (SHA-NI on a host that has it, else SSE2).
        let want = purgatory_abi::block_function_flags(sha256::backend());
        assert!(want != 0 || !cfg!(target_arch = "x86_64"), "a hosted x86_64 build hashes with SSE");
        assert_eq!(u64::from_le_bytes(flags) & (FLAG_SHA_NI | FLAG_SSE2), want);
        // Every way, whatever this host has.
        use crate::digest::per_region_flags;
        use sha256::Backend::{Portable, ShaNi, Sse2};
        use purgatory_abi::{RegionHash, FLAG_XXH64};
        let sha = RegionHash::Sha256;
        assert_eq!(per_region_flags(0, ShaNi, sha), FLAG_PER_REGION | FLAG_SSE2 | FLAG_SHA_NI);
        assert_eq!(per_region_flags(0, Sse2, sha), FLAG_PER_REGION | FLAG_SSE2);
        assert_eq!(per_region_flags(FLAG_SHA_NI | FLAG_SSE2, Portable, sha), FLAG_PER_REGION);
        assert_eq!(per_region_flags(FLAG_SHA_NI, Sse2, sha), FLAG_PER_REGION | FLAG_SSE2, "a stale SHA-NI bit is cleared");
        assert_eq!(per_region_flags(1, Portable, sha), 1 | FLAG_PER_REGION);
        assert_eq!(per_region_flags(FLAG_XXH64, Portable, sha), FLAG_PER_REGION, "a stale XXH64 bit is cleared");
        for b in [ShaNi, Sse2] {
            assert_eq!(per_region_flags(0, b, RegionHash::Xxh64), FLAG_PER_REGION | FLAG_XXH64, "no SSE for XXH64");
        }
        assert_eq!(
            image
                .purgatory_get_symbol(SHA256_DIGEST.name, SHA256_DIGEST.size)
                .unwrap(),
            [0; 32]
        );
        let digests = image
            .purgatory_get_symbol(REGION_DIGESTS.name, REGION_DIGESTS.size)
            .unwrap();
        let kernel_slot = image
            .segments()
            .iter()
            .position(|s| s.label == "kernel")
            .unwrap();
        assert_eq!(
            &digests[kernel_slot * 32..kernel_slot * 32 + 32],
            Sha256::digest(image.segments()[kernel_slot].buf.as_slice()).as_slice()
        );
    }

    /// The initrd's digest, computed by the caller over the file (IMA), is what purgatory
    /// gets for the initrd segment: taken as given (a deliberately wrong one shows it was not
    /// recomputed), and used only for the segment borrowing exactly those bytes.
    #[test]
    fn a_known_initrd_digest_is_reused_not_recomputed() {
        let map = qemu_512m();
        let view = MemoryView::from_memmap(&map, &[]);
        let e820 = e820_from_memmap(&map);
        let purg = crate::testutil::kexos_style_purgatory();
        let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: None, purgatory: &purg, tsc_khz: None, crash: None };
        let kernel = fake_bzimage(4096, 1 << 20);
        let initrd: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let limits = SanityLimits::from_memmap(&map);
        let slot_digest = |known: Option<[u8; 32]>| {
            let (image, _) = kexec_file_plan(
                &BzImage64,
                KimageKind::Normal,
                &ctx,
                &kernel,
                Some(&initrd),
                KnownDigests::initrd(known),
                b"\0",
                &limits,
                Vec::new(), DigestsAt::Plan,
            )
            .unwrap();
            let digests = image.purgatory_get_symbol(REGION_DIGESTS.name, REGION_DIGESTS.size).unwrap();
            let at = |label: &str| {
                let i = image.segments().iter().position(|s| s.label == label).unwrap();
                digests[i * 32..i * 32 + 32].to_vec()
            };
            (at("initrd"), at("kernel"))
        };
        let real: [u8; 32] = Sha256::digest(&initrd);
        let (computed, kernel_digest) = slot_digest(None);
        assert_eq!(computed, real);
        assert_eq!(slot_digest(Some(real)), (real.to_vec(), kernel_digest.clone()));
        let (reused, kernel_again) = slot_digest(Some([0xab; 32]));
        assert_eq!(reused, [0xab; 32], "the known digest is used as given");
        assert_eq!(kernel_again, kernel_digest, "and for the initrd segment only");
    }

    /// What the copy-and-digest tests load: QEMU's 512 MiB machine, a 300 KB
    /// bzImage (2 MiB init_size) and a 200 KB initrd.
    struct CopyFixture {
        map: memmap::MemoryMap,
        e820: Vec<bootparam::E820Entry>,
        kernel: Vec<u8>,
        initrd: Vec<u8>,
        limits: SanityLimits,
    }

    fn copy_fixture() -> CopyFixture {
        let map = qemu_512m();
        CopyFixture {
            e820: e820_from_memmap(&map),
            kernel: fake_bzimage(300_000, 2 << 20),
            initrd: (0..200_000u32).map(|i| (i * 7) as u8).collect(),
            limits: SanityLimits::from_memmap(&map),
            map,
        }
    }

    /// Issue 13: copying and hashing in one pass (place, then
    /// kimage_load_segments_digested) leaves physical memory exactly as
    /// planning the digests first (DigestsAt::Plan) and copying after, for both purgatory
    /// styles, with no known digest, IMA's of the initrd, and IMA's of both
    /// files, and with some destination frames free (written in place) and
    /// some not. With IMA's digest of the bzImage and its state after the
    /// setup sectors, the kernel segment gets both, and resuming from the
    /// state over the loaded segment gives the digest (what purgatory
    /// checks); a Linux-style purgatory (total digest) or one without the
    /// prefix table gets no prefix, and the kernel segment is hashed.
    #[test]
    fn one_pass_copy_and_digest_gives_the_same_memory_as_two() {
        use crate::entry::{kimage_load_segments_digested, SparseMem};
        use purgatory_abi::RegionPrefix;
        let CopyFixture { map, e820, kernel, initrd, limits } = copy_fixture();
        let view = MemoryView::from_memmap(&map, &[PhysRange::new(0, MIB)]);
        let initrd_sha256 = Some(Sha256::digest(&initrd));
        let suffix = SuffixDigest::of(&kernel, BzImage64.suffix_offset(&kernel).unwrap()).unwrap();
        let knowns = [KnownDigests::NONE, KnownDigests::initrd(initrd_sha256), KnownDigests { kernel: Some(suffix), initrd: initrd_sha256.map(SuffixDigest::whole) }];
        let purgatories = [
            (purgatory(), false),
            (crate::testutil::kexos_style_purgatory(), true),
            (crate::testutil::kexos_style_purgatory_without_prefixes(), false),
        ];
        for (purg, resumes) in purgatories {
            for known in knowns {
                let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: None, purgatory: &purg, tsc_khz: None, crash: None };
                let plan = |at| kexec_file_plan(&BzImage64, KimageKind::Normal, &ctx, &kernel, Some(&initrd), known, b"x=1\0", &limits, Vec::new(), at);
                let (two, _) = plan(DigestsAt::Plan).unwrap();
                let (mut one, _) = plan(DigestsAt::Copy(purgatory_abi::RegionHash::Sha256)).unwrap();
                // Every other destination page free; sources from 2 MiB up.
                let dests: Vec<u64> = two.destinations().iter().flat_map(|r| (r.start / PAGE_SIZE..r.end / PAGE_SIZE).map(|p| p * PAGE_SIZE)).collect();
                let alloc = || ListAlloc::new((0..4096).map(|i| 2 * MIB + i * PAGE_SIZE).collect()).with_free_at(dests.iter().copied().step_by(2));
                let (mut mem_two, mut mem_one) = (SparseMem::default(), SparseMem::default());
                let list_two = kimage_load_segments(&two, &mut alloc(), &mut mem_two).unwrap();
                let (list_one, digests) = kimage_load_segments_digested(&mut one, &mut alloc(), &mut mem_one).unwrap();
                assert!(!list_one.direct_pages.is_empty() && !list_one.source_pages.is_empty());
                assert!(digests == crate::compute_digests(&two, digests_mode(&two)), "digests differ");
                relocate_simulate(list_two.head, &mut mem_two, 1 << 20).unwrap();
                relocate_simulate(list_one.head, &mut mem_one, 1 << 20).unwrap();
                for s in two.segments() {
                    let (mut a, mut b) = (vec![0u8; s.memsz as usize], vec![0u8; s.memsz as usize]);
                    mem_two.read(s.mem, &mut a);
                    mem_one.read(s.mem, &mut b);
                    assert!(a == b, "{} differs", s.label);
                }
                let k = two.segments().iter().position(|s| s.label == "kernel").unwrap();
                if known.kernel.is_none() || !resumes {
                    assert_eq!(digests.prefixes[k], RegionPrefix::NONE);
                    continue;
                }
                assert_eq!((digests.prefixes[k], digests.segment_digests[k]), (suffix.known.prefix, suffix.known.sha256));
                let s = &two.segments()[k];
                let mut loaded = vec![0u8; s.bufsz() as usize];
                mem_one.read(s.mem, &mut loaded);
                let mut r = digests.prefixes[k].resume();
                r.update(&loaded);
                assert_eq!(r.finalize(), suffix.known.sha256, "purgatory's check of the kernel segment");
                let others = two.segments().iter().enumerate().filter(|(i, t)| *i != k && t.checksum);
                assert!(others.clone().count() >= 2 && others.clone().all(|(i, _)| digests.prefixes[i] == RegionPrefix::NONE));
            }
        }
    }

    /// `KEXEC_FILE_XXH64_DIGEST`: every checksummed segment gets the XXH64
    /// slot of its loaded bytes, hashed while copied (IMA's SHA-256 digests
    /// are not reused, no prefix), and the purgatory is told; a Linux-style
    /// purgatory, which checks one total SHA-256 only, makes it EINVAL.
    #[test]
    fn xxh64_digests_are_of_the_loaded_bytes() {
        use crate::entry::{kimage_load_segments_digested, SparseMem};
        use purgatory_abi::{RegionHash, RegionHasher, RegionPrefix, FLAG_XXH64};
        let CopyFixture { map, e820, kernel, initrd, limits } = copy_fixture();
        let view = MemoryView::from_memmap(&map, &[PhysRange::new(0, MIB)]);
        let suffix = SuffixDigest::of(&kernel, BzImage64.suffix_offset(&kernel).unwrap()).unwrap();
        let known = KnownDigests { kernel: Some(suffix), initrd: Some(SuffixDigest::whole(Sha256::digest(&initrd))) };
        let alloc = || ListAlloc::new((0..8192).map(|i| 2 * MIB + i * PAGE_SIZE).collect());
        let purg = crate::testutil::kexos_style_purgatory();
        let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: None, purgatory: &purg, tsc_khz: None, crash: None };
        let (mut image, _) = kexec_file_plan(&BzImage64, KimageKind::Normal, &ctx, &kernel, Some(&initrd), known, b"x=1\0", &limits, Vec::new(), DigestsAt::Copy(RegionHash::Xxh64)).unwrap();
        let mut mem = SparseMem::default();
        let (list, d) = kimage_load_segments_digested(&mut image, &mut alloc(), &mut mem).unwrap();
        relocate_simulate(list.head, &mut mem, 1 << 20).unwrap();
        assert_eq!(d.hash, RegionHash::Xxh64);
        let flags = u64::from_le_bytes(image.purgatory_get_symbol_array(purgatory_abi::FLAGS.name).unwrap());
        assert_eq!(flags & (FLAG_PER_REGION | FLAG_XXH64), FLAG_PER_REGION | FLAG_XXH64);
        let checked: Vec<usize> = (0..image.segments().len()).filter(|&i| image.segments()[i].checksum && Some(i) != image.purgatory_segment()).collect();
        assert!(checked.len() >= 3, "kernel, initrd, boot_params at least");
        for &i in &checked {
            let s = &image.segments()[i];
            let mut loaded = vec![0u8; s.bufsz() as usize];
            mem.read(s.mem, &mut loaded);
            let mut h = RegionHasher::new(RegionHash::Xxh64);
            h.update(&loaded);
            assert_eq!(d.segment_digests[i], h.finalize(), "segment {}", s.label);
            assert!(!d.reused[i] && d.prefixes[i] == RegionPrefix::NONE, "{}: nothing of IMA's", s.label);
        }
        let stored = image.purgatory_get_symbol_array::<{ purgatory_abi::REGION_DIGESTS.size }>(purgatory_abi::REGION_DIGESTS.name).unwrap();
        assert_eq!(stored, purgatory_abi::region_digests_to_bytes(&d.segment_digests));

        let linux = purgatory();
        let ctx = LoadContext { purgatory: &linux, ..ctx };
        let (mut image, _) = kexec_file_plan(&BzImage64, KimageKind::Normal, &ctx, &kernel, Some(&initrd), known, b"x=1\0", &limits, Vec::new(), DigestsAt::Copy(RegionHash::Xxh64)).unwrap();
        let e = kimage_load_segments_digested(&mut image, &mut alloc(), &mut SparseMem::default()).unwrap_err();
        assert_eq!(e.errno(), abi::Errno::EINVAL);
        assert!(e.to_string().contains("cannot check xxh64"), "{e}");
    }

    #[test]
    fn a_suffix_digest_is_the_files_sha256() {
        let file: Vec<u8> = (0..70_000u32).map(|i| (i ^ (i >> 9)) as u8).collect();
        let whole: [u8; 32] = Sha256::digest(&file);
        let k = SuffixDigest::of(&file, 17 * 1024).unwrap();
        assert_eq!((k.known.sha256, k.offset, k.known.prefix.blocks), (whole, 17 * 1024, 17 * 1024 / 64));
        assert_eq!(SuffixDigest::of(&file, 0).unwrap().known.sha256, whole);
        assert_eq!(SuffixDigest::of(&file, 100), None, "not a block boundary");
        assert_eq!(SuffixDigest::of(&file, 70_016), None, "past the end");
    }

    /// A cut kept in IMA's pass (purgatory_abi::REGION_CUTS) reaches
    /// purgatory's table for the segment holding the suffix: the loaded
    /// bytes before it, hashed from the prefix, give its state, and the
    /// bytes after it, hashed from that state, give the file's digest. A
    /// purgatory without the table gets the digest and prefix, no cut. The
    /// kernel segment (a suffix of the bzImage) and the initrd (a whole
    /// file, the kexos self-kexec case) alike.
    #[test]
    fn a_cut_splits_a_segments_check_in_two() {
        use purgatory_abi::RegionPrefix;
        let CopyFixture { kernel, initrd, .. } = copy_fixture();
        let offset = BzImage64.suffix_offset(&kernel).unwrap();
        let (kcut, icut) = cuts_for_two_cpus(BzImage64.loaded_len(&kernel), Some(offset), initrd.len());
        assert!(kcut.is_some() && icut.is_none(), "the kernel is the larger: {kcut:?} {icut:?}");
        let suffix = SuffixDigest::of_cut(&kernel, offset, kcut).unwrap();
        assert_eq!(suffix.known.sha256, SuffixDigest::of(&kernel, offset).unwrap().known.sha256, "a cut changes no digest");
        let whole_initrd = SuffixDigest::whole(Sha256::digest(&initrd));
        check_cut(KnownDigests { kernel: Some(suffix), initrd: Some(whole_initrd) }, "kernel", kcut.unwrap() - offset);
        // The initrd cut half-way, the kernel's digest without a cut.
        let half = (initrd.len() / 2) & !63;
        let initrd_cut = SuffixDigest::of_cut(&initrd, 0, Some(half)).unwrap();
        assert_eq!((initrd_cut.known.prefix, initrd_cut.known.sha256), (RegionPrefix::NONE, whole_initrd.known.sha256));
        let plain_kernel = SuffixDigest::of(&kernel, offset).unwrap();
        check_cut(KnownDigests { kernel: Some(plain_kernel), initrd: Some(initrd_cut) }, "initrd", half);
    }

    /// Loads the copy fixture with `known` through the kernel's digesting
    /// copy and checks that the segment `label` (only) has a cut `at` bytes
    /// in that resumes to its digest; and that a purgatory without the
    /// table gets none.
    fn check_cut(known: KnownDigests, label: &str, at: usize) {
        use crate::entry::{kimage_load_segments_digested, SparseMem};
        use purgatory_abi::{RegionHash, RegionPrefix};
        let CopyFixture { map, e820, kernel, initrd, limits } = copy_fixture();
        let view = MemoryView::from_memmap(&map, &[PhysRange::new(0, MIB)]);
        for (purg, takes_cuts) in [(crate::testutil::kexos_style_purgatory(), true), (crate::testutil::kexos_style_purgatory_without_prefixes(), false)] {
            let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: None, purgatory: &purg, tsc_khz: None, crash: None };
            let (mut image, _) = kexec_file_plan(&BzImage64, KimageKind::Normal, &ctx, &kernel, Some(&initrd), known, b"x=1\0", &limits, Vec::new(), DigestsAt::Copy(RegionHash::Sha256)).unwrap();
            let alloc = || ListAlloc::new((0..8192).map(|i| 2 * MIB + i * PAGE_SIZE).collect());
            let mut mem = SparseMem::default();
            let (list, d) = kimage_load_segments_digested(&mut image, &mut alloc(), &mut mem).unwrap();
            relocate_simulate(list.head, &mut mem, 1 << 20).unwrap();
            let k = image.segments().iter().position(|s| s.label == label).unwrap();
            assert!(d.cuts.iter().enumerate().all(|(i, c)| i == k || *c == RegionPrefix::NONE), "{label}");
            if !takes_cuts {
                assert_eq!(d.cuts[k], RegionPrefix::NONE);
                continue;
            }
            let stored = image.purgatory_get_symbol_array::<{ purgatory_abi::REGION_CUTS.size }>(purgatory_abi::REGION_CUTS.name).unwrap();
            assert_eq!(RegionPrefix::table_from_bytes(&stored), d.cuts);
            let s = &image.segments()[k];
            let mut loaded = vec![0u8; s.bufsz() as usize];
            mem.read(s.mem, &mut loaded);
            assert_eq!(((d.cuts[k].blocks - d.prefixes[k].blocks) * 64) as usize, at, "{label}");
            let mut h = d.prefixes[k].resume();
            h.update(&loaded[..at]);
            assert_eq!(RegionPrefix::capture(&h), Some(d.cuts[k]), "purgatory's first piece of the {label}");
            let mut h = d.cuts[k].resume();
            h.update(&loaded[at..]);
            assert_eq!(h.finalize(), d.segment_digests[k], "purgatory's second piece of the {label}");
        }
    }

    #[test]
    fn cuts_balance_the_two_cpus() {
        // The Debian kernel (13.5 MiB, 17 KiB of setup) and its initrd (1.9 MiB).
        let kernel_segment = 13_500_000 - 17 * 1024;
        let (k, i) = cuts_for_two_cpus(kernel_segment, Some(17 * 1024), 1_900_000);
        let first = k.unwrap() - 17 * 1024;
        assert!(i.is_none() && first % 64 == 0);
        assert!((first as i64 - (kernel_segment - first + 1_900_000) as i64).abs() < 128, "{first}");
        // kexos: an 860 KiB kernel, a 2 MiB initramfs: the initramfs is cut.
        let (k, i) = cuts_for_two_cpus(880_640 - 16_384, Some(16_384), 2 << 20);
        assert_eq!(k, None);
        assert_eq!(i, Some(((880_640 - 16_384 + (2 << 20)) / 2) & !63));
        // No suffix (ELF64: its segment is hashed as copied): only the initrd can be cut, and
        // the kernel's bytes count. A 1.6 MiB kexos.elf and a 3.4 MiB initramfs: the first
        // 2.5 MiB of the initramfs on one CPU, the rest and the kernel on the other.
        let (elf, initramfs) = (1600 << 10, 3400 << 10);
        assert_eq!(cuts_for_two_cpus(elf, None, initramfs), (None, Some(((elf + initramfs) / 2) & !63)));
        // Equal halves need no cut (one each), and neither does a lone kernel.
        assert_eq!(cuts_for_two_cpus(1 << 20, None, 1 << 20), (None, None));
        assert_eq!(cuts_for_two_cpus(1 << 20, None, 0), (None, None));
        assert_eq!(cuts_for_two_cpus(36, Some(64), 0), (None, None), "nothing to share");
    }

    #[test]
    fn a_cut_is_kept_only_inside_the_suffix() {
        let file: Vec<u8> = (0..70_000u32).map(|i| (i ^ (i >> 9)) as u8).collect();
        let none = purgatory_abi::RegionPrefix::NONE;
        // Before or at the suffix, at or past the end, not on a block.
        for bad in [0, 1000, 1024, 35_000, 70_000, 80_000] {
            let k = SuffixDigest::of_cut(&file, 1024, Some(bad)).unwrap();
            assert_eq!((k.known.cut, k.known.sha256), (none, Sha256::digest(&file)), "{bad}");
        }
        let k = SuffixDigest::of_cut(&file, 1024, Some(35_008)).unwrap();
        assert_eq!(k.known.cut.blocks, 35_008 / 64);
        assert_eq!(k.known.sha256, Sha256::digest(&file));
    }

    /// The mode a planned image's purgatory was given.
    fn digests_mode(image: &Kimage<'_>) -> crate::DigestMode {
        match image.purgatory_get_symbol_array::<8>(purgatory_abi::FLAGS.name) {
            Ok(_) => crate::DigestMode::PerRegion,
            Err(_) => crate::DigestMode::Total,
        }
    }

    /// Issue 12, found by the bzimage_plan fuzz target: an image whose own
    /// setup header says ramdisk_image 0xffffffff, ramdisk_size 249, loaded
    /// without an initrd, handed the next kernel that bogus initrd (the header
    /// is copied from the file and only an initrd overwrote those fields).
    /// The loader writes them always: zero without an initrd.
    #[test]
    fn the_files_own_ramdisk_fields_never_reach_the_next_kernel() {
        let map = qemu_512m();
        let view = MemoryView::from_memmap(&map, &[]);
        let e820 = e820_from_memmap(&map);
        let purg = purgatory();
        let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: None, purgatory: &purg, tsc_khz: None, crash: None };
        let mut kernel = fake_bzimage(4096, 1 << 20);
        kernel[bootparam::hdr::RAMDISK_IMAGE..][..4].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
        kernel[bootparam::hdr::RAMDISK_SIZE..][..4].copy_from_slice(&249u32.to_le_bytes());
        let limits = SanityLimits::from_memmap(&map);
        let zero_page_ramdisk = |initrd: Option<&[u8]>| {
            let (image, sum) =
                kexec_file_plan(&BzImage64, KimageKind::Normal, &ctx, &kernel, initrd, KnownDigests::NONE, b"\0", &limits, Vec::new(), DigestsAt::Plan).unwrap();
            let bp = image.segments().iter().find(|s| Some(s.mem) == sum.boot_params).unwrap();
            let zp = bootparam::ZeroPage::new(&bp.buf.as_slice()[..4096]).unwrap();
            (zp.ramdisk(), sum.initrd.map(|(at, len)| (at.0, len)))
        };
        assert_eq!(zero_page_ramdisk(None), (None, None));
        let (got, placed) = zero_page_ramdisk(Some(b"an initrd"));
        assert_eq!(got, placed);
        assert!(got.is_some());
    }
}
