//! The seed corpora of `cargo xtask fuzz` (target/fuzz/corpus/TARGET/), made
//! at fuzz time from what the build and the fixtures left (kexos's images,
//! the purgatory object, the initramfs, the Debian kernel and its initrd) and
//! from small files made here with the project's own writers (a boot_params
//! block from a host plan, ELF core headers, an IMA list dump, signed images).
//! The load and memory inputs are written with libs/fuzz-input, which the targets
//! read them with.

use std::path::Path;

use anyhow::{Context, Result};
use fuzz_input::load_flags::{COPY_XXH64, CRASH, HANDOVER, KNOWN_INITRD_DIGEST, KNOWN_KERNEL_DIGEST};
use fuzz_input::{LoadInput, MemoryInput};
use kexec_core::{
    kexec_file_plan, BzImage64, DigestsAt, HandoverKind, HandoverRequest, KimageKind, LoadContext,
    MemoryView, PhysRange, SanityLimits,
};

use crate::Xtask;

/// A seed: file name and contents.
pub(crate) type Seed = (String, Vec<u8>);

/// A load input (libs/fuzz-input, the layout the targets read). An empty `initrd` is none.
fn load_input(flags: u8, cmdline: &[u8], initrd: &[u8], kernel: &[u8]) -> Vec<u8> {
    let input = LoadInput { flags, cmdline, initrd: (!initrd.is_empty()).then_some(initrd), kernel };
    input.to_bytes().expect("a seed's command line under 64 KiB and initrd under 4 GiB")
}

fn memory_input(base: u64, bytes: &[u8]) -> Vec<u8> {
    MemoryInput { base, bytes }.to_bytes()
}

/// The files the build and the fixtures left, read once.
struct Files {
    bzimage: Option<Vec<u8>>,
    signed_bzimage: Option<Vec<u8>>,
    elf: Option<Vec<u8>>,
    signed_elf: Option<Vec<u8>>,
    purgatory: Vec<u8>,
    initramfs: Option<Vec<u8>>,
    vmlinuz: Option<Vec<u8>>,
    vmlinuz_unsigned: Option<Vec<u8>>,
    linux_initrd: Option<Vec<u8>>,
    /// Other real cpio archives: test images, GNU cpio's own output (libs/cpio/testdata).
    cpios: Vec<(String, Vec<u8>)>,
}

fn read_opt(p: &Path) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

const MIB: u64 = 1 << 20;

/// A tiny kexos-shaped ELF64 kernel: ET_EXEC, one PT_LOAD of 4 KiB at
/// 16 MiB physical (linked at -2 GiB + 16 MiB) with 8 KiB of bss, kernel_info
/// ("LToP") at +0x100 and the 64-bit entry at +0x200; a PT_NOTE with the kexos
/// boot64 note if `note`, a .symtab with `kexos_boot64` if `symbol`.
pub(crate) fn tiny_elf(note: bool, symbol: bool) -> Vec<u8> {
    const PADDR: u64 = 0x100_0000;
    const VADDR: u64 = 0xffff_ffff_8000_0000 + PADDR;
    let mut f = vec![0u8; 0x2000];
    // .text: kernel_info, then cli; hlt; jmp at the entry.
    f[0x1100..0x1104].copy_from_slice(b"LToP");
    f[0x1200..0x1204].copy_from_slice(&[0xfa, 0xf4, 0xeb, 0xfd]);
    // The note: "kexos", type 1, the entry's offset from the image start.
    let mut note_bytes = Vec::new();
    note_bytes.extend_from_slice(&6u32.to_le_bytes());
    note_bytes.extend_from_slice(&8u32.to_le_bytes());
    note_bytes.extend_from_slice(&1u32.to_le_bytes());
    note_bytes.extend_from_slice(b"kexos\0\0\0");
    note_bytes.extend_from_slice(&0x200u64.to_le_bytes());
    let note_off = f.len() as u64;
    f.extend_from_slice(&note_bytes);
    // .symtab (null + kexos_boot64), .strtab, .shstrtab.
    let sym_off = f.len().next_multiple_of(8) as u64;
    f.resize(sym_off as usize, 0);
    f.extend_from_slice(&[0u8; 24]);
    let mut sym = [0u8; 24];
    sym[0..4].copy_from_slice(&1u32.to_le_bytes());
    sym[4] = 0x12; // STB_GLOBAL, STT_FUNC
    sym[6..8].copy_from_slice(&1u16.to_le_bytes()); // .text
    sym[8..16].copy_from_slice(&(VADDR + 0x200).to_le_bytes());
    f.extend_from_slice(&sym);
    let str_off = f.len() as u64;
    let strtab = b"\0kexos_boot64\0";
    f.extend_from_slice(strtab);
    let shstr_off = f.len() as u64;
    let shstrtab = b"\0.text\0.note.kexos\0.symtab\0.strtab\0.shstrtab\0";
    f.extend_from_slice(shstrtab);
    let sh_off = f.len().next_multiple_of(8) as u64;
    f.resize(sh_off as usize, 0);
    // name, type, flags, addr, offset, size, link, info, align, entsize
    type Shdr = (u32, u32, u64, u64, u64, u64, u32, u32, u64, u64);
    let mut sections: Vec<Shdr> = vec![
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (1, 1, 6, VADDR, 0x1000, 0x1000, 0, 0, 4096, 0),
    ];
    if note {
        sections.push((7, 7, 2, 0, note_off, note_bytes.len() as u64, 0, 0, 4, 0));
    }
    if symbol {
        let strndx = sections.len() as u32 + 1;
        sections.push((19, 2, 0, 0, sym_off, 48, strndx, 1, 8, 24));
        sections.push((27, 3, 0, 0, str_off, strtab.len() as u64, 0, 0, 1, 0));
    }
    sections.push((35, 3, 0, 0, shstr_off, shstrtab.len() as u64, 0, 0, 1, 0));
    for s in &sections {
        let mut h = [0u8; 64];
        h[0..4].copy_from_slice(&s.0.to_le_bytes());
        h[4..8].copy_from_slice(&s.1.to_le_bytes());
        h[8..16].copy_from_slice(&s.2.to_le_bytes());
        h[16..24].copy_from_slice(&s.3.to_le_bytes());
        h[24..32].copy_from_slice(&s.4.to_le_bytes());
        h[32..40].copy_from_slice(&s.5.to_le_bytes());
        h[40..44].copy_from_slice(&s.6.to_le_bytes());
        h[44..48].copy_from_slice(&s.7.to_le_bytes());
        h[48..56].copy_from_slice(&s.8.to_le_bytes());
        h[56..64].copy_from_slice(&s.9.to_le_bytes());
        f.extend_from_slice(&h);
    }
    // The ELF header and the program headers.
    let phnum: u16 = if note { 2 } else { 1 };
    let mut e = [0u8; 64];
    e[0..4].copy_from_slice(b"\x7fELF");
    e[4] = 2; // ELFCLASS64
    e[5] = 1; // little endian
    e[6] = 1; // EV_CURRENT
    e[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..32].copy_from_slice(&(VADDR + 0x200).to_le_bytes());
    e[32..40].copy_from_slice(&64u64.to_le_bytes());
    e[40..48].copy_from_slice(&sh_off.to_le_bytes());
    e[52..54].copy_from_slice(&64u16.to_le_bytes());
    e[54..56].copy_from_slice(&56u16.to_le_bytes());
    e[56..58].copy_from_slice(&phnum.to_le_bytes());
    e[58..60].copy_from_slice(&64u16.to_le_bytes());
    e[60..62].copy_from_slice(&(sections.len() as u16).to_le_bytes());
    e[62..64].copy_from_slice(&(sections.len() as u16 - 1).to_le_bytes());
    f[..64].copy_from_slice(&e);
    // type, flags, offset, vaddr, paddr, filesz, memsz, align
    let mut phdrs = vec![(1u32, 7u32, 0x1000u64, VADDR, PADDR, 0x1000u64, 0x3000u64, 0x1000u64)];
    if note {
        let n = note_bytes.len() as u64;
        phdrs.push((4, 4, note_off, 0, 0, n, n, 4));
    }
    for (i, p) in phdrs.iter().enumerate() {
        let at = 64 + i * 56;
        f[at..at + 4].copy_from_slice(&p.0.to_le_bytes());
        f[at + 4..at + 8].copy_from_slice(&p.1.to_le_bytes());
        f[at + 8..at + 16].copy_from_slice(&p.2.to_le_bytes());
        f[at + 16..at + 24].copy_from_slice(&p.3.to_le_bytes());
        f[at + 24..at + 32].copy_from_slice(&p.4.to_le_bytes());
        f[at + 32..at + 40].copy_from_slice(&p.5.to_le_bytes());
        f[at + 40..at + 48].copy_from_slice(&p.6.to_le_bytes());
        f[at + 48..at + 56].copy_from_slice(&p.7.to_le_bytes());
    }
    f
}

/// A signed PE kept small: its headers and its certificate table only (the
/// table moved right after the headers, the directory entry pointing there),
/// so the message, the certificates and the chain are checked at full speed;
/// the image digest then fails (the sections are gone).
fn shrink_signed_pe(file: &[u8]) -> Option<Vec<u8>> {
    let pe = kexec_sig::pefile::PeFile::parse(file).ok()?;
    let (off, size) = pe.cert_table?;
    let at = pe.header_size.next_multiple_of(8);
    let mut out = file[..pe.header_size].to_vec();
    out.resize(at, 0);
    out.extend_from_slice(file.get(off..off + size)?);
    let d = pe.cert_dirent_offset;
    out[d..d + 4].copy_from_slice(&(at as u32).to_le_bytes());
    out[d + 4..d + 8].copy_from_slice(&(size as u32).to_le_bytes());
    Some(out)
}

/// An appended-signature file kept small: the first 4 KiB of its payload
/// with its signature (which then no longer matches: the chain is checked).
fn shrink_appended(file: &[u8]) -> Option<Vec<u8>> {
    let a = kexec_sig::appended::split(file).ok()?;
    kexec_sig::appended::append(&a.payload[..a.payload.len().min(4096)], a.pkcs7).ok()
}

/// A small initramfs with every member kind the unpacker handles.
fn small_cpio() -> Result<Vec<u8>> {
    let mut fs = boot::Initramfs::new();
    fs.dir("/etc")?;
    fs.file("/etc/rc", 0o644, b"echo hello\n".to_vec())?;
    fs.file("/sbin/init", 0o755, vec![0x7f; 64])?;
    fs.symlink("/bin/sh", "/sbin/init")?;
    fs.symlink("/boot/loop", "../boot/loop")?;
    fs.file("/boot/cmdline", 0o644, b"console=ttyS0 crashkernel=64M\n".to_vec())?;
    fs.to_cpio()
}

/// A boot_params block as a kexec load leaves it: a host plan of the small
/// bzImage on a machine whose map needs SETUP_E820_EXT, with IMA's and a
/// kexos hand-over buffer (SETUP_IMA, SETUP_KEXOS_HANDOVER nodes) and the
/// TSC frequency (SETUP_KEXOS_TSC_KHZ).
/// Returns `[u64 address][the block]`.
fn boot_params_block(purgatory: &[u8], kernel: &[u8], ext: bool, handover: bool) -> Result<Vec<u8>> {
    use memmap::{MemoryMap, Region, RegionKind};
    let mut regions = vec![Region::new(0, 0x9fc00, RegionKind::Ram), Region::new(0x10_0000, 0x1ffe_0000, RegionKind::Ram)];
    if ext {
        // 140 small reserved holes above 512 MiB: more than the zero page's 128 entries.
        for i in 0..140u64 {
            let at = 0x2000_0000 + i * 0x2_0000;
            regions.push(Region::new(at, at + 0x1000, RegionKind::Reserved));
            regions.push(Region::new(at + 0x1000, at + 0x2_0000, RegionKind::Ram));
        }
    }
    let map = MemoryMap::from_regions(regions);
    let view = MemoryView::from_memmap(&map, &[PhysRange::new(0, MIB)]);
    let e820 = bootparam::e820_from_memmap(&map);
    let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: Some(0xf_5a40), purgatory, tsc_khz: handover.then_some(2_612_653), crash: None };
    let mut requests = Vec::new();
    if handover {
        let list = ima::dump(&[ima::Entry::boot_aggregate()], usize::MAX).bytes;
        requests.push(HandoverRequest { kind: HandoverKind::Ima, label: "ima", size: list.len() as u64 + 16384, data: list });
        requests.push(HandoverRequest { kind: HandoverKind::Kexos(u32::from_be_bytes(*b"klog")), label: "klog", data: vec![1; 64], size: 4096 });
    }
    let limits = SanityLimits::from_memmap(&map);
    let (image, summary) = kexec_file_plan(
        &BzImage64,
        KimageKind::Normal,
        &ctx,
        kernel,
        Some(b"initrd"),
        kexec_core::KnownDigests::NONE,
        b"console=ttyS0 ima_kexec_extra_kb=4\0",
        &limits,
        requests,
        DigestsAt::Plan,
    )
    .map_err(|e| anyhow::anyhow!("host plan for the boot_params seed: {e}"))?;
    let at = summary.boot_params.context("no boot_params in the plan")?;
    let seg = image.segments().iter().find(|s| s.mem == at).context("no boot_params segment")?;
    Ok(memory_input(at.0, seg.buf.as_slice()))
}

/// Old memory with the first kernel's ELF core header at `base`, its crash
/// notes (NT_PRSTATUS, VMCOREINFO) one page up, and RAM PT_LOADs inside it.
fn vmcore_memory(base: u64, with_kernel: bool) -> Vec<u8> {
    use elfcore::{CoreRegs, NoteRange, CRASH_NOTE_BYTES, VMCOREINFO_BYTES};
    let len = 0x8000u64;
    let note_at = base + 0x1000;
    let mut prstatus = [0u8; CRASH_NOTE_BYTES];
    let regs = CoreRegs { rip: 0xffff_ffff_8010_0000, rsp: 0xffff_8880_0100_0000, ..CoreRegs::default() };
    elfcore::write_prstatus_note(&mut prstatus, &regs, 1);
    let mut info = [0u8; VMCOREINFO_BYTES];
    let _ = elfcore::write_vmcoreinfo_note(&mut info, "OSRELEASE=kexos\nPAGESIZE=4096\nNUMBER(phys_base)=0\n");
    let notes = [
        NoteRange { phys: note_at, size: CRASH_NOTE_BYTES as u64 },
        NoteRange { phys: note_at + 0x400, size: VMCOREINFO_BYTES as u64 },
    ];
    let ram = [(base, base + len)];
    let hdr = if with_kernel {
        let k = [elfcore::KernelMap { vaddr: 0xffff_ffff_8000_0000, paddr: base + 0x4000, len: 0x2000 }];
        elfcore::build_elf_headers_with_kernel(&ram, &[], &notes, 0xffff_8880_0000_0000, &k)
    } else {
        elfcore::build_elf_headers(&ram, &[(base + 0x6000, base + 0x7000)], &notes, 0xffff_8880_0000_0000)
    };
    let mut mem = vec![0u8; len as usize];
    mem[..hdr.len()].copy_from_slice(&hdr);
    mem[0x1000..0x1000 + CRASH_NOTE_BYTES].copy_from_slice(&prstatus);
    mem[0x1400..0x1400 + VMCOREINFO_BYTES].copy_from_slice(&info);
    for (i, b) in mem[0x2000..].iter_mut().enumerate() {
        *b = (i % 253) as u8;
    }
    memory_input(base, &mem)
}

impl Xtask {
    fn fuzz_files(&self) -> Result<Files> {
        let images = self.target("images");
        let linux = self.target("fixtures").join("linux");
        let purgatory_path = self.target("purgatory").join("purgatory.o");
        let purgatory = std::fs::read(&purgatory_path).with_context(|| format!("reading {}", purgatory_path.display()))?;
        let mut cpios = Vec::new();
        for dir in [self.target("test-images"), self.root.join("libs/cpio/testdata")] {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            let mut paths: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for p in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "cpio")) {
                if let Some(b) = read_opt(&p) {
                    let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
                    cpios.push((name, b));
                }
            }
        }
        Ok(Files {
            bzimage: read_opt(&images.join("kexos.bzImage")),
            signed_bzimage: read_opt(&images.join("kexos.signed.bzImage")),
            elf: read_opt(&images.join("kexos.elf")),
            signed_elf: read_opt(&images.join("kexos.signed.elf")),
            purgatory,
            initramfs: read_opt(&images.join("initramfs.cpio")),
            vmlinuz: read_opt(&linux.join("vmlinuz")),
            vmlinuz_unsigned: read_opt(&linux.join("vmlinuz-unsigned")),
            linux_initrd: read_opt(&linux.join("initrd.img")),
            cpios,
        })
    }

    /// Every target's seeds, each cut to the target's `max_len` (libFuzzer
    /// would cut them when reading; cutting here keeps the corpus small).
    pub(crate) fn fuzz_seeds(&self, target: &str, max_len: usize) -> Result<Vec<Seed>> {
        let f = self.fuzz_files()?;
        let signer = self.test_signer()?;
        let small_elf = tiny_elf(true, true);
        let small_bz = boot::bzimage::build_bytes(&small_elf).context("the small bzImage seed")?;
        let cpio = small_cpio()?;
        let cmdline = b"console=ttyS0 token=f00dfeed\0";
        let mut seeds: Vec<Seed> = Vec::new();
        let mut add = |name: &str, bytes: Vec<u8>| seeds.push((name.to_string(), bytes));
        match target {
            "bzimage_plan" => {
                add("small", load_input(0, cmdline, &cpio, &small_bz));
                add("small-handover", load_input(HANDOVER | KNOWN_INITRD_DIGEST, cmdline, &cpio, &small_bz));
                add("small-known-digests", load_input(KNOWN_INITRD_DIGEST | KNOWN_KERNEL_DIGEST, cmdline, &cpio, &small_bz));
                add("small-crash-known-digests", load_input(CRASH | KNOWN_KERNEL_DIGEST, cmdline, &cpio, &small_bz));
                add("small-crash", load_input(CRASH, cmdline, &cpio, &small_bz));
                add("small-copy-xxh64", load_input(HANDOVER | KNOWN_INITRD_DIGEST | KNOWN_KERNEL_DIGEST | COPY_XXH64, cmdline, &cpio, &small_bz));
                add("small-crash-copy-xxh64", load_input(CRASH | COPY_XXH64, cmdline, &cpio, &small_bz));
                add("small-signed", load_input(0, b"\0", b"", &kexec_sign::sign(&small_bz, &signer)?));
                for (name, file, flags) in [
                    ("kexos.bzImage", &f.bzimage, HANDOVER),
                    ("kexos.signed.bzImage", &f.signed_bzimage, CRASH | KNOWN_KERNEL_DIGEST),
                    ("vmlinuz", &f.vmlinuz, HANDOVER | KNOWN_INITRD_DIGEST | KNOWN_KERNEL_DIGEST),
                    ("vmlinuz-unsigned", &f.vmlinuz_unsigned, 0),
                ] {
                    if let Some(k) = file {
                        add(name, load_input(flags, cmdline, &cpio, k));
                    }
                }
            }
            "elf64_plan" => {
                add("tiny-note-symbol", load_input(HANDOVER, cmdline, &cpio, &small_elf));
                add("tiny-note", load_input(0, cmdline, b"", &tiny_elf(true, false)));
                add("tiny-symbol", load_input(CRASH, cmdline, &cpio, &tiny_elf(false, true)));
                add("tiny-note-symbol-xxh64", load_input(COPY_XXH64, cmdline, &cpio, &small_elf));
                add("tiny-e_entry", load_input(KNOWN_INITRD_DIGEST, b"\0", &cpio, &tiny_elf(false, false)));
                add("tiny-signed", load_input(0, cmdline, b"", &kexec_sign::sign(&small_elf, &signer)?));
                for (name, file, flags) in [("kexos.elf", &f.elf, HANDOVER), ("kexos.signed.elf", &f.signed_elf, CRASH)] {
                    if let Some(k) = file {
                        add(name, load_input(flags, cmdline, &cpio, k));
                    }
                }
            }
            "purgatory_reloc" => add("purgatory.o", f.purgatory.clone()),
            "exec_elf" => {
                // kexos's user programs as the initramfs carries them, and kernel-shaped ELFs
                // (refused: outside user space).
                if let Some(archive) = &f.initramfs {
                    for e in cpio::entries(archive).map_while(Result::ok) {
                        let name = e.name.trim_start_matches("./").trim_start_matches('/');
                        let program = name.starts_with("bin/") || name.starts_with("sbin/");
                        if e.is_file() && program && e.data.starts_with(b"\x7fELF") {
                            add(&name.replace('/', "-"), e.data.to_vec());
                        }
                    }
                }
                add("tiny-kernel", small_elf.clone());
            }
            "cpio_newc" | "initramfs_unpack" => {
                add("small.cpio", cpio.clone());
                let mut two = cpio.clone();
                two.extend_from_slice(&[0; 12]);
                two.extend_from_slice(&small_cpio()?);
                add("concatenated.cpio", two);
                for (name, file) in [("initramfs.cpio", &f.initramfs), ("linux-initrd.img", &f.linux_initrd)] {
                    if let Some(b) = file {
                        add(name, b.clone());
                    }
                }
                for (name, b) in &f.cpios {
                    add(name, b.clone());
                }
            }
            "cmdline" => {
                for (i, line) in [
                    "console=ttyS0 crashkernel=64M",
                    "crashkernel=512M-2G:64M,2G-:128M@16M init=/sbin/init -- -s single",
                    "crashkernel=256M,high crashkernel=72M,low quiet",
                    "crashkernel=1G@0x40000000 crashkernel=32M,cma",
                    "lockdown=integrity kexec.sig_enforce=1 ima_kexec_extra_kb=4 \"quoted param=a b\" x=",
                    "mem=0x1fffffffK memmap=64M$0x10000000 size=16E overflow=99999999999999999999G",
                ]
                .iter()
                .enumerate()
                {
                    add(&format!("line-{i}"), line.as_bytes().to_vec());
                }
            }
            "boot_params" => {
                let bz = f.bzimage.as_deref().unwrap_or(&small_bz);
                add("plan-ext-handover", boot_params_block(&f.purgatory, &small_bz, true, true)?);
                add("plan-plain", boot_params_block(&f.purgatory, bz, false, false)?);
                add("plan-handover", boot_params_block(&f.purgatory, &small_bz, false, true)?);
            }
            "vmcore" => {
                add("headers", vmcore_memory(0x100_0000, false));
                add("headers-kernel-map", vmcore_memory(0x7f00_0000, true));
            }
            "kexec_sig" => {
                add("small.signed.bzImage", kexec_sign::sign(&small_bz, &signer)?);
                add("small.signed.elf", kexec_sign::sign(&small_elf, &signer)?);
                add("small.bzImage", small_bz.clone());
                for (name, file) in [("kexos.signed.bzImage", &f.signed_bzimage), ("vmlinuz", &f.vmlinuz)] {
                    if let Some(s) = file.as_deref().and_then(shrink_signed_pe) {
                        add(&format!("{name}-headers-and-signature"), s);
                    }
                }
                if let Some(s) = f.signed_elf.as_deref().and_then(shrink_appended) {
                    add("kexos.signed.elf-4k-and-signature", s);
                }
            }
            "sha256" => {
                add("abc", b"\0\0\0abc".to_vec());
                // Pieces of 7 bytes, resumed after 1024 bytes, over the small archive.
                add("cpio-pieces-cut", [&[6u8, 0x00, 0x04][..], &cpio].concat());
                add("purgatory.o-whole-blocks", [&[63u8, 0xff, 0xff][..], &f.purgatory[..f.purgatory.len().min(60 * 1024)]].concat());
            }
            "ima_restore" => {
                let entries = [
                    ima::Entry::boot_aggregate(),
                    ima::Entry::file(b"kernel bytes", "/boot/vmlinuz"),
                    ima::Entry::file(b"initramfs bytes", "/boot/initrd.img"),
                    ima::Entry::ima_buf("kexec-cmdline", b"console=ttyS0"),
                ];
                add("list", ima::dump(&entries, usize::MAX).bytes);
                add("list-cut", ima::dump(&entries, 300).bytes);
                add("empty", ima::dump(&[], usize::MAX).bytes);
            }
            other => anyhow::bail!("no seeds for fuzz target {other}"),
        }
        for (_, b) in &mut seeds {
            b.truncate(max_len);
        }
        Ok(seeds)
    }
}
