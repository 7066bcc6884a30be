//! What the fuzz targets share: the input layouts (documented here, written
//! by `cargo xtask fuzz`'s seed builder in xtask/src/fuzz_seeds.rs), a fake
//! physical memory made from the input, the files the running kernel would
//! have (the purgatory object, the builtin keyring) and the load plan as the
//! kernel runs it (kernel/src/kexec/file.rs and load.rs), over QEMU's 512 MiB
//! memory map.
//!
//! Every target calls the library's real entry point; nothing here re-implements
//! a parser. What a target checks besides "no panic" is said in the target.

use std::path::PathBuf;
use std::sync::OnceLock;


use kexec_core::purgatory_abi::RegionHash;
use kexec_core::{
    check_entry_list, kexec_file_plan, DigestsAt, kimage_crash_digest_mode, kimage_load_crash_segments,
    kimage_load_crash_segments_digested, kimage_load_segments, kimage_load_segments_digested, probe_image, relocate_simulate, CrashSetup, HandoverKind, HandoverRequest, KexecFileOps,
    Kimage, KimageKind, LoadContext, LoadSummary, MemoryView, PageAlloc, PhysAddr, PhysMem,
    PhysRange, SanityLimits, PAGE_SIZE,
};

/// Environment variable naming the data directory xtask prepares
/// (target/fuzz/data: `purgatory.o`, `trusted/*.der`).
pub const DATA_ENV: &str = "KEXOS_FUZZ_DATA";

/// `KEXOS_FUZZ_VERBOSE=1`: targets say what each input led to (to check
/// that the seeds reach deep, or to read a reproduced finding).
pub fn verbose() -> bool {
    static V: OnceLock<bool> = OnceLock::new();
    *V.get_or_init(|| std::env::var_os("KEXOS_FUZZ_VERBOSE").is_some_and(|v| v == "1"))
}

/// The data directory: `$KEXOS_FUZZ_DATA`, else target/fuzz/data of the repository.
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/fuzz/data")),
    }
}

/// A file of the data directory, or the process ends with a message saying
/// how to make it (a set-up error, not a finding).
fn data_file(name: &str) -> Vec<u8> {
    let p = data_dir().join(name);
    match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "kexos-fuzz: cannot read {} ({e}): run the targets through `cargo xtask fuzz`, which prepares it",
                p.display()
            );
            std::process::exit(2);
        }
    }
}

/// The real purgatory object (purgatory/build.sh's target/purgatory/purgatory.o,
/// copied to the data directory), as the kernel embeds it.
pub fn purgatory() -> &'static [u8] {
    static P: OnceLock<Vec<u8>> = OnceLock::new();
    P.get_or_init(|| data_file("purgatory.o"))
}

/// The builtin trusted keyring: every `trusted/*.der` of the data directory
/// (the test CA, and Debian's Secure Boot CA when the Linux fixture is there).
pub fn keyring() -> &'static kexec_sig::Keyring {
    static K: OnceLock<kexec_sig::Keyring> = OnceLock::new();
    K.get_or_init(|| {
        let dir = data_dir().join("trusted");
        let mut k = kexec_sig::Keyring::new(".builtin_trusted_keys");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.sort();
        for p in names {
            let der = std::fs::read(&p).unwrap_or_default();
            if let Err(e) = k.add_der(&der) {
                eprintln!("kexos-fuzz: {}: {e}", p.display());
                std::process::exit(2);
            }
        }
        k
    })
}

/// Physical memory made of the input: `bytes` at physical `base`, nothing
/// else readable. The boot_params and vmcore inputs are
/// `fuzz_input::MemoryInput`s.
#[derive(Clone, Copy, Debug)]
pub struct FlatMemory<'a> {
    pub base: u64,
    pub bytes: &'a [u8],
}

impl<'a> FlatMemory<'a> {
    /// The input split by `fuzz_input::MemoryInput`; None if shorter than the base.
    pub fn from_input(data: &'a [u8]) -> Option<FlatMemory<'a>> {
        let m = fuzz_input::MemoryInput::split(data)?;
        Some(FlatMemory { base: m.base, bytes: m.bytes })
    }

    /// Fill `buf` from physical `pa`; false if any byte is outside the memory.
    pub fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
        let Some(off) = pa.checked_sub(self.base) else { return false };
        let Ok(off) = usize::try_from(off) else { return false };
        match off.checked_add(buf.len()).and_then(|end| self.bytes.get(off..end)) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
}

impl elfcore::OldMemory for FlatMemory<'_> {
    fn read(&self, phys: u64, buf: &mut [u8]) -> bool {
        FlatMemory::read(self, phys, buf)
    }
}

// The input layouts are libs/fuzz-input's, shared with the seed maker (xtask).
pub use fuzz_input::{load_flags, LoadInput, LOAD_HEADER};

const MIB: u64 = 1 << 20;
/// The TSC frequency every fuzzed load passes on (bootparam::tsc).
const TSC_KHZ: u64 = 2_612_653;
/// The crashkernel= region of a crash load (what `crashkernel=64M` gets on 512 MiB).
pub const CRASH_REGION: (u64, u64) = (0x1400_0000, 0x1800_0000);
/// The kernel's direct-map offset (for the ELF core headers' p_vaddr).
const PHYS_OFFSET: u64 = 0xffff_8880_0000_0000;

/// What a load needs from the running kernel, made once: QEMU's 512 MiB map,
/// below 1 MiB avoided (kernel/src/kexec/load.rs), the e820 handed on, the ELF
/// core headers of a crash load (a PT_LOAD per RAM range outside the region).
struct Machine {
    map: memmap::MemoryMap,
    view: MemoryView,
    crash_view: MemoryView,
    e820: Vec<bootparam::E820Entry>,
    elf_headers: Vec<u8>,
    limits: SanityLimits,
}

fn machine() -> &'static Machine {
    static M: OnceLock<Machine> = OnceLock::new();
    M.get_or_init(|| {
        let map = memmap::examples::qemu_512m();
        let view = MemoryView::from_memmap(&map, &[PhysRange::new(0, MIB)]);
        let crash_view = MemoryView::new([PhysRange::new(CRASH_REGION.0, CRASH_REGION.1)], &[]);
        let e820 = bootparam::e820_from_memmap(&map);
        let ram: Vec<(u64, u64)> = view.ranges().iter().map(|r| (r.start, r.end)).collect();
        let notes = [elfcore::NoteRange { phys: 0x20_0000, size: elfcore::CRASH_NOTE_BYTES as u64 }];
        let elf_headers = elfcore::build_elf_headers(&ram, &[CRASH_REGION], &notes, PHYS_OFFSET);
        let limits = SanityLimits::from_memmap(&map);
        Machine { map, view, crash_view, e820, elf_headers, limits }
    })
}

/// What [`run_load`] did, for a target's own checks.
#[derive(Debug)]
pub enum LoadOutcome {
    /// The syscall refuses before the loader runs (empty kernel, command
    /// line without its NUL).
    Refused,
    /// No loader accepts the file.
    NotProbed,
    /// The plan failed with this errno.
    Failed(abi::Errno),
    /// Planned: the segments' destinations.
    Planned(Vec<PhysRange>),
}

/// In per-region mode, purgatory's check passes for every checksummed
/// segment of a planned image: SHA-256 resumed from the segment's prefix
/// over its data is its digest (the reused digests of IMA's pass included).
fn check_region_digests(image: &kexec_core::Kimage<'_>) {
    use kexec_core::purgatory_abi::{RegionPrefix, FLAGS, REGION_DIGESTS, REGION_PREFIXES};
    if image.purgatory_get_symbol(FLAGS.name, FLAGS.size).is_err() {
        return;
    }
    let digests = image.purgatory_get_symbol(REGION_DIGESTS.name, REGION_DIGESTS.size).expect("per-region digests");
    // A purgatory without the table hashes every region from the start.
    let prefixes = match image.purgatory_get_symbol(REGION_PREFIXES.name, REGION_PREFIXES.size) {
        Ok(table) => RegionPrefix::table_from_bytes(table.as_slice().try_into().expect("REGION_PREFIXES has its exact size")),
        Err(_) => [RegionPrefix::NONE; kexec_core::purgatory_abi::MAX_REGIONS],
    };
    for (i, s) in image.segments().iter().enumerate().filter(|(_, s)| s.checksum) {
        let mut h = prefixes[i].resume();
        h.update(s.buf.as_slice());
        let got: [u8; 32] = h.finalize().into();
        assert_eq!(&got[..], &digests[i * 32..][..32], "segment {} ({}) fails purgatory's check", i, s.label);
    }
}

/// With `kexec --digest=xxh64` (DigestsAt::Copy): purgatory is told XXH64,
/// and every checksummed segment's slot is the XXH64 of what the copy left
/// in memory (what purgatory will read).
fn check_xxh64_slots(image: &Kimage<'_>, mem: &PageMem) {
    use kexec_core::purgatory_abi::{RegionHasher, FLAGS, FLAG_XXH64, REGION_DIGESTS};
    let flags = image.purgatory_get_symbol(FLAGS.name, FLAGS.size).expect("the real purgatory has flags");
    assert!(u64::from_le_bytes(flags.try_into().expect("8 bytes")) & FLAG_XXH64 != 0, "purgatory not told XXH64");
    let digests = image.purgatory_get_symbol(REGION_DIGESTS.name, REGION_DIGESTS.size).expect("per-region digests");
    let purgatory = image.purgatory_segment();
    for (i, s) in image.segments().iter().enumerate().filter(|&(i, s)| s.checksum && Some(i) != purgatory) {
        let mut loaded = vec![0u8; s.buf.len()];
        mem.read(s.mem, &mut loaded);
        let mut h = RegionHasher::new(RegionHash::Xxh64);
        h.update(&loaded);
        assert_eq!(&h.finalize()[..], &digests[i * 32..][..32], "segment {} ({}) fails purgatory's XXH64 check", i, s.label);
    }
}

/// kexec_file_load as the kernel runs it, up to the plan (probe with
/// `loaders`, the plan with the loader that accepted it, over [`machine`]),
/// with `purgatory` as the embedded object. Checks what must hold of any
/// plan: every segment inside the memory it may use, no two overlapping,
/// errors with an errno and a message.
pub fn run_load(loaders: &[&dyn KexecFileOps], input: &LoadInput<'_>, purgatory: &[u8]) -> LoadOutcome {
    if input.kernel.is_empty() || input.cmdline.last().is_some_and(|&b| b != 0) {
        return LoadOutcome::Refused;
    }
    let ops = match probe_image(loaders, input.kernel) {
        Ok(ops) => ops,
        Err(e) => {
            assert_eq!(e.errno(), abi::Errno::ENOEXEC, "{e}");
            let msg = e.to_string();
            if verbose() {
                eprintln!("kexos-fuzz: not probed: {msg}");
            }
            return LoadOutcome::NotProbed;
        }
    };
    let m = machine();
    let crash = input.flags & load_flags::CRASH != 0;
    let (kind, view, crash_setup) = if crash {
        let region = PhysRange::new(CRASH_REGION.0, CRASH_REGION.1);
        let setup = CrashSetup { elf_headers: &m.elf_headers, memmap: &m.map };
        (KimageKind::Crash { region }, &m.crash_view, Some(setup))
    } else {
        (KimageKind::Normal, &m.view, None)
    };
    let ctx = LoadContext { view, e820: &m.e820, acpi_rsdp: Some(0xf_5a40), purgatory, tsc_khz: Some(TSC_KHZ), crash: crash_setup };
    let handover = if input.flags & load_flags::HANDOVER != 0 && !crash {
        let list = ima::dump(&[ima::Entry::boot_aggregate()], usize::MAX).bytes;
        vec![
            HandoverRequest { kind: HandoverKind::Ima, label: "ima", size: list.len() as u64 + 16384, data: list },
            HandoverRequest { kind: HandoverKind::Kexos(u32::from_be_bytes(*b"test")), label: "test_buffer", data: vec![7; 100], size: 8192 },
        ]
    } else {
        Vec::new()
    };
    let handover_count = handover.len();
    let digest = match input.initrd {
        Some(rd) if input.flags & load_flags::KNOWN_INITRD_DIGEST != 0 => Some(ima::file_digest(rd)),
        _ => None,
    };
    let kernel_digest = (input.flags & load_flags::KNOWN_KERNEL_DIGEST != 0)
        .then(|| ops.suffix_offset(input.kernel))
        .flatten()
        .and_then(|offset| kexec_core::SuffixDigest::of(input.kernel, offset));
    let known = kexec_core::KnownDigests { kernel: kernel_digest, initrd: digest.map(kexec_core::SuffixDigest::whole) };
    let at = if input.flags & load_flags::COPY_XXH64 != 0 { DigestsAt::Copy(RegionHash::Xxh64) } else { DigestsAt::Plan };
    match kexec_file_plan(ops, kind, &ctx, input.kernel, input.initrd, known, input.cmdline, &m.limits, handover, at) {
        Ok((mut image, summary)) => {
            let dests = image.destinations();
            for s in image.segments() {
                let r = s.dest_range();
                assert!(view.contains(&r), "{} at {:?} outside the usable memory", s.label, r);
                assert!(s.bufsz() <= s.memsz, "{}: bufsz {} > memsz {}", s.label, s.bufsz(), s.memsz);
            }
            let mut sorted = dests.clone();
            sorted.sort_by_key(|r| r.start);
            for w in sorted.windows(2) {
                assert!(w[0].end <= w[1].start, "segments overlap: {:?} {:?}", w[0], w[1]);
            }
            assert_eq!(image.start, summary.purgatory_entry);
            // Purgatory starts inside itself and enters the kernel inside the kernel.
            let inside = |label: &str, pa: PhysAddr| {
                image.segments().iter().any(|s| s.label == label && s.dest_range().start <= pa.0 && pa.0 < s.dest_range().end)
            };
            assert!(inside("purgatory", summary.purgatory_entry), "purgatory entry {} outside purgatory", summary.purgatory_entry);
            assert!(inside("kernel", summary.kernel_entry), "kernel entry {} outside the kernel", summary.kernel_entry);
            if at == DigestsAt::Plan {
                check_region_digests(&image);
            }
            if let Some(mem) = check_memory(&mut image, view, at) {
                if at != DigestsAt::Plan {
                    check_xxh64_slots(&image, &mem);
                }
                check_boot_params(&image, &summary, &mem, &m.e820, handover_count);
            }
            if verbose() {
                eprintln!("kexos-fuzz: planned ({}, flags {:#x}): {:?}", summary.loader, input.flags, image.segments().iter().map(|s| (s.label, s.mem.0, s.memsz)).collect::<Vec<_>>());
            }
            LoadOutcome::Planned(dests)
        }
        Err(e) => {
            let msg = e.to_string();
            if verbose() {
                eprintln!("kexos-fuzz: plan failed ({}): {msg}", e.errno().name());
            }
            LoadOutcome::Failed(e.errno())
        }
    }
}

/// A small bzImage64 in kexos's shape (one setup sector, protocol 2.15,
/// 64-bit, above-4G capable, 2 MiB aligned, `payload` bytes, 1 MiB init_size):
/// the kernel of the purgatory target's loads.
pub fn small_bzimage(payload: usize) -> Vec<u8> {
    use bootparam::hdr;
    let mut b = vec![0u8; 1024 + payload];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(hdr::SETUP_SECTS, &[1]);
    put(hdr::BOOT_FLAG, &bootparam::BOOT_FLAG.to_le_bytes());
    put(hdr::HEADER, &bootparam::HDRS_MAGIC.to_le_bytes());
    put(hdr::VERSION, &0x020fu16.to_le_bytes());
    put(hdr::LOADFLAGS, &[bootparam::loadflags::LOADED_HIGH]);
    put(hdr::KERNEL_ALIGNMENT, &0x20_0000u32.to_le_bytes());
    put(hdr::RELOCATABLE_KERNEL, &[1]);
    let xlf = bootparam::xloadflags::XLF_KERNEL_64 | bootparam::xloadflags::XLF_CAN_BE_LOADED_ABOVE_4G;
    put(hdr::XLOADFLAGS, &xlf.to_le_bytes());
    put(hdr::CMDLINE_SIZE, &2047u32.to_le_bytes());
    put(hdr::PREF_ADDRESS, &0x100_0000u64.to_le_bytes());
    put(hdr::INIT_SIZE, &(1u32 << 20).to_le_bytes());
    b
}

/// Sparse physical memory (kexec-core's host model): never-written bytes read as 0xaa, so
/// a segment byte nobody wrote shows.
type PageMem = kexec_core::SparseMem;

/// Pages handed out top down from the usable memory, as a frame allocator
/// would: they collide with the (also top-down) destinations, which is
/// what the entry list must cope with.
struct TopDown<'v> {
    ranges: &'v [PhysRange],
    /// Next range (from the end) and the next page in it.
    at: Option<(usize, u64)>,
    freed: Vec<PhysAddr>,
}

impl PageAlloc for TopDown<'_> {
    fn alloc_page(&mut self) -> Option<PhysAddr> {
        if let Some(p) = self.freed.pop() {
            return Some(p);
        }
        loop {
            let (i, next) = self.at?;
            let r = self.ranges[i];
            if next >= r.start.next_multiple_of(PAGE_SIZE) && next + PAGE_SIZE <= r.end {
                self.at = Some((i, next - PAGE_SIZE));
                return Some(PhysAddr(next));
            }
            self.at = i.checked_sub(1).map(|j| (j, (self.ranges[j].end - PAGE_SIZE) & !(PAGE_SIZE - 1)));
        }
    }
    fn free_page(&mut self, pa: PhysAddr) {
        self.freed.push(pa);
    }
}

/// Most memory a plan may span for [`check_memory`] to run it (bigger plans,
/// kexos.bzImage and the Linux kernel, are only planned: the walk would
/// dominate the run; 4 MiB still takes several indirection pages).
const CHECKED_MEMSZ: u64 = 4 << 20;

/// What the kernel does with a plan next: a normal image's entry list
/// (kimage_load_segments, pages from a top-down allocator), which the
/// pre-jump model must accept (check_entry_list) and whose walk
/// (relocate_simulate) must leave every segment's bytes, zero tail included,
/// at its destination; a crash image written in place.
fn check_memory(image: &mut Kimage<'_>, view: &MemoryView, digests_at: DigestsAt) -> Option<PageMem> {
    let total: u64 = image.segments().iter().map(|s| s.memsz).sum();
    if total > CHECKED_MEMSZ {
        return None;
    }
    let mut mem = PageMem::default();
    match image.kind() {
        KimageKind::Normal => {
            let ranges = view.ranges();
            let at = ranges.len().checked_sub(1).map(|i| (i, (ranges[i].end - PAGE_SIZE) & !(PAGE_SIZE - 1)));
            let mut alloc = TopDown { ranges, at, freed: Vec::new() };
            let list = match digests_at {
                DigestsAt::Plan => kimage_load_segments(image, &mut alloc, &mut mem),
                DigestsAt::Copy(_) => kimage_load_segments_digested(image, &mut alloc, &mut mem).map(|(list, _)| list),
            }
            .expect("entry list for a planned image");
            let segs: Vec<PhysRange> = image.segments().iter().map(|s| s.dest_range()).collect();
            let pages = check_entry_list(&list, &segs, &mem).expect("the pre-jump check accepts the list");
            let written = relocate_simulate(list.head, &mut mem, 1 << 24).expect("relocate_kernel's walk");
            assert_eq!(pages, written);
        }
        KimageKind::Crash { .. } if digests_at == DigestsAt::Plan => kimage_load_crash_segments(image, &mut mem),
        KimageKind::Crash { .. } => {
            let mode = kimage_crash_digest_mode(image).expect("the real purgatory takes per-region digests");
            kimage_load_crash_segments_digested(image, mode, &mut mem).expect("cannot fail after the mode was stored");
        }
    }
    let mut got = Vec::new();
    for s in image.segments() {
        got.resize(s.memsz as usize, 0);
        mem.read(s.mem, &mut got);
        let (data, tail) = got.split_at(s.buf.len());
        assert!(data == s.buf.as_slice(), "{}: the bytes at {} are not the segment's", s.label, s.mem);
        assert!(tail.iter().all(|&b| b == 0), "{}: zero tail not zeroed", s.label);
    }
    Some(mem)
}

/// The boot_params a plan left in memory, read back as the next kernel reads
/// it (bootparam::parse_boot_params): the command line the image says, the
/// initrd where it was placed, the memory map it was given (a crash image's
/// own), the RSDP, kexec's loader type, one setup_data node per hand-over buffer,
/// and one with the TSC frequency.
fn check_boot_params(image: &Kimage<'_>, summary: &LoadSummary, mem: &PageMem, e820: &[bootparam::E820Entry], handover: usize) {
    let Some(bp) = summary.boot_params else { return };
    let mut zp = vec![0u8; bootparam::BOOT_PARAMS_SIZE];
    mem.read(bp, &mut zp);
    let p = bootparam::parse_boot_params(&zp, |pa, b| {
        mem.read(PhysAddr(pa), b);
        true
    })
    .expect("the next kernel parses the boot_params we wrote");
    let (cl, len) = summary.cmdline.expect("a command line");
    assert_eq!(p.cmdline_pa, Some(cl.0));
    let mut text = vec![0u8; len as usize];
    mem.read(cl, &mut text);
    assert_eq!(text, image.cmdline, "command line");
    assert_eq!(p.ramdisk, summary.initrd.map(|(at, n)| (at.0, n)), "initrd");
    assert_eq!(p.e820, image.crash_e820.as_deref().unwrap_or(e820), "e820");
    assert_eq!(p.acpi_rsdp, Some(0xf_5a40));
    assert_eq!(p.type_of_loader, bootparam::LOADER_TYPE_KEXEC);
    let read = |pa: u64, b: &mut [u8]| {
        mem.read(PhysAddr(pa), b);
        true
    };
    let buffers = bootparam::HandoverBuffer::find_all(&p.setup_data, read).expect("hand-over nodes");
    assert_eq!(buffers.len(), handover, "hand-over buffers in setup_data");
    for b in &buffers {
        assert!(image.segments().iter().any(|s| s.mem.0 == b.addr && s.memsz == b.size), "hand-over buffer {b:?} is no segment");
    }
    let tsc: Vec<u64> = p.setup_data.iter().filter_map(|n| bootparam::tsc::tsc_khz_from_setup_data(n, read).expect("TSC node")).collect();
    assert_eq!(tsc, [TSC_KHZ], "the TSC frequency, once, in setup_data");
}
