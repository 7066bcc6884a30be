//! ELF64 loader tests: crafted ELF files (a byte writer below, and real
//! `as` + `ld`/`rust-lld` output with a kexos-style linker script), probe
//! rejections, entry resolution, placement, zero tails, a full plan
//! relocated through the entry list, and the real kexos kernel if built.

use super::*;
use elf_exec::PT_INTERP;
use crate::bzimage64::tests::fake_bzimage;
use crate::entry::tests::{FakeMem, ListAlloc};
use crate::entry::{kimage_load_segments, relocate_simulate, PhysMem};
use crate::loader::probe_image;
use crate::plan::{kexec_file_plan, DigestsAt, KnownDigests};
use crate::sanity::SanityLimits;
use crate::testutil::purgatory;
use crate::{BzImage64, BzImageError, MemoryView};
use abi::Errno;
use bootparam::{e820_from_memmap, E820Entry, LOADER_TYPE_KEXEC};
use memmap::{MemoryMap, Region, RegionKind::*};
use purgatory_abi::{EntryRegs, ShaRegion, ENTRY64_REGS, SHA_REGIONS};
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;
const KVMA: u64 = 0xffff_ffff_8000_0000;

// ---------------------------------------------------------------------------
// A goblin-free ELF writer.

#[derive(Clone)]
struct Load {
    vaddr: u64,
    paddr: u64,
    data: Vec<u8>,
    memsz: u64,
}

#[derive(Clone)]
struct Note {
    name: Vec<u8>,
    typ: u32,
    desc: Vec<u8>,
}

#[derive(Clone)]
struct ElfBuilder {
    class: u8,
    data_enc: u8,
    version: u8,
    e_type: u16,
    machine: u16,
    entry: u64,
    loads: Vec<Load>,
    /// (name, value, st_shndx)
    symbols: Vec<(&'static str, u64, u16)>,
    notes: Vec<Note>,
    /// Notes in an SHT_NOTE section instead of a PT_NOTE segment.
    notes_in_section: bool,
    /// PT_NOTE p_align (4 or 8).
    note_align: u64,
    /// Lay PT_LOADs out in the file exactly as in memory (borrowable);
    /// else pack them 16-byte aligned (a copy is needed).
    mirror_layout: bool,
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed | 1)
        .collect()
}

/// A kexos-shaped image linked at 0xffffffff80200000, p_paddr 0x200000:
/// text (0x3000), rodata (0x1000), data 0x800 + bss up to 0x5000.
fn kexos_like() -> ElfBuilder {
    ElfBuilder {
        class: 2,
        data_enc: 1,
        version: 1,
        e_type: 2,
        machine: 62,
        entry: KVMA + 0x200000 + 0x1000, // `_start`, the bootloader_api entry
        loads: vec![
            Load {
                vaddr: KVMA + 0x200000,
                paddr: 0x200000,
                data: pattern(0x2f00, 1),
                memsz: 0x2f00,
            },
            Load {
                vaddr: KVMA + 0x203000,
                paddr: 0x203000,
                data: pattern(0x1000, 2),
                memsz: 0x1000,
            },
            Load {
                vaddr: KVMA + 0x204000,
                paddr: 0x204000,
                data: pattern(0x800, 3),
                memsz: 0x5000,
            },
        ],
        symbols: vec![
            ("_start", KVMA + 0x201000, 1),
            ("kexos_boot64", KVMA + 0x200200, 1),
        ],
        notes: vec![],
        notes_in_section: false,
        note_align: 4,
        mirror_layout: true,
    }
}

/// The note every Linux vmlinux has (include/linux/elfnote.h: name "Linux").
fn linux_note() -> Note {
    Note { name: b"Linux\0".to_vec(), typ: 6, desc: b"6.1\0".to_vec() }
}

/// A generic kernel: linked and loaded at 32 MiB, e_entry its first byte + 0x40, with a
/// Linux note (what makes an ELF without a kexos entry a kernel).
fn generic() -> ElfBuilder {
    ElfBuilder {
        entry: 0x200_0040,
        loads: vec![
            Load {
                vaddr: 0x200_0000,
                paddr: 0x200_0000,
                data: pattern(0x1800, 4),
                memsz: 0x1800,
            },
            Load {
                vaddr: 0x200_2000,
                paddr: 0x200_2000,
                data: pattern(0x100, 5),
                memsz: 0x3000,
            },
        ],
        symbols: vec![],
        notes: vec![linux_note()],
        ..kexos_like()
    }
}

fn kexos_note(desc: &[u64]) -> Note {
    Note {
        name: b"kexos\0".to_vec(),
        typ: KEXOS_NOTE_BOOT64,
        desc: desc.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn pad(v: &mut Vec<u8>, align: usize) {
    while !v.len().is_multiple_of(align) {
        v.push(0);
    }
}

impl ElfBuilder {
    fn without_symbols(mut self) -> Self {
        self.symbols.clear();
        self
    }
    fn with_note(mut self, n: Note) -> Self {
        self.notes.push(n);
        self
    }

    fn note_bytes(&self) -> Vec<u8> {
        let a = self.note_align as usize;
        let mut out = Vec::new();
        for n in &self.notes {
            out.extend_from_slice(&(n.name.len() as u32).to_le_bytes());
            out.extend_from_slice(&(n.desc.len() as u32).to_le_bytes());
            out.extend_from_slice(&n.typ.to_le_bytes());
            out.extend_from_slice(&n.name);
            pad(&mut out, a);
            out.extend_from_slice(&n.desc);
            pad(&mut out, a);
        }
        out
    }

    fn build(&self) -> Vec<u8> {
        let pt_note = !self.notes.is_empty() && !self.notes_in_section;
        let phnum = self.loads.len() + usize::from(pt_note);
        let mut f = vec![0u8; 64 + phnum * 56];
        pad(&mut f, 0x1000);
        // PT_LOAD data.
        let base = self.loads.iter().map(|l| l.paddr).min().unwrap_or(0) & !0xfff;
        let mut offsets = Vec::new();
        let data_start = f.len() as u64;
        for l in &self.loads {
            let off = if self.mirror_layout {
                data_start + (l.paddr - base)
            } else {
                pad(&mut f, 16);
                f.len() as u64
            };
            if f.len() < off as usize {
                f.resize(off as usize, 0);
            }
            f.truncate(off as usize);
            f.extend_from_slice(&l.data);
            offsets.push(off);
        }
        // Notes.
        pad(&mut f, 8);
        let note_off = f.len() as u64;
        let notes = self.note_bytes();
        f.extend_from_slice(&notes);
        // Symbols and strings.
        pad(&mut f, 8);
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 24];
        for (name, value, shndx) in &self.symbols {
            let st_name = strtab.len() as u32;
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
            let mut s = [0u8; 24];
            s[0..4].copy_from_slice(&st_name.to_le_bytes());
            s[4] = 0x10; // STB_GLOBAL, STT_NOTYPE
            s[6..8].copy_from_slice(&shndx.to_le_bytes());
            s[8..16].copy_from_slice(&value.to_le_bytes());
            symtab.extend_from_slice(&s);
        }
        let symtab_off = f.len() as u64;
        f.extend_from_slice(&symtab);
        let strtab_off = f.len() as u64;
        f.extend_from_slice(&strtab);
        pad(&mut f, 8);
        // Section headers: null, .symtab, .strtab [, .note].
        let shoff = f.len() as u64;
        let mut shdrs: Vec<[u8; 64]> = vec![[0; 64]];
        let shdr = |typ: u32, off: u64, size: u64, link: u32, align: u64, entsize: u64| {
            let mut s = [0u8; 64];
            s[4..8].copy_from_slice(&typ.to_le_bytes());
            s[24..32].copy_from_slice(&off.to_le_bytes());
            s[32..40].copy_from_slice(&size.to_le_bytes());
            s[40..44].copy_from_slice(&link.to_le_bytes());
            s[48..56].copy_from_slice(&align.to_le_bytes());
            s[56..64].copy_from_slice(&entsize.to_le_bytes());
            s
        };
        if !self.symbols.is_empty() {
            shdrs.push(shdr(2, symtab_off, symtab.len() as u64, 2, 8, 24));
            shdrs.push(shdr(3, strtab_off, strtab.len() as u64, 0, 1, 0));
        }
        if !self.notes.is_empty() && self.notes_in_section {
            shdrs.push(shdr(7, note_off, notes.len() as u64, 0, self.note_align, 0));
        }
        for s in &shdrs {
            f.extend_from_slice(s);
        }
        // ELF header.
        f[0..4].copy_from_slice(b"\x7fELF");
        f[4] = self.class;
        f[5] = self.data_enc;
        f[6] = self.version;
        f[16..18].copy_from_slice(&self.e_type.to_le_bytes());
        f[18..20].copy_from_slice(&self.machine.to_le_bytes());
        f[20..24].copy_from_slice(&u32::from(self.version).to_le_bytes());
        f[24..32].copy_from_slice(&self.entry.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        if shdrs.len() > 1 {
            f[40..48].copy_from_slice(&shoff.to_le_bytes());
            f[60..62].copy_from_slice(&(shdrs.len() as u16).to_le_bytes());
        }
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        // Program headers.
        let mut ph = 64;
        let mut put_ph = |f: &mut Vec<u8>, v: [u64; 6], typ: u32, flags: u32, align: u64| {
            f[ph..ph + 4].copy_from_slice(&typ.to_le_bytes());
            f[ph + 4..ph + 8].copy_from_slice(&flags.to_le_bytes());
            for (i, x) in v.iter().enumerate() {
                f[ph + 8 + i * 8..ph + 16 + i * 8].copy_from_slice(&x.to_le_bytes());
            }
            f[ph + 48..ph + 56].copy_from_slice(&align.to_le_bytes());
            ph += 56;
        };
        for (l, off) in self.loads.iter().zip(&offsets) {
            let v = [*off, l.vaddr, l.paddr, l.data.len() as u64, l.memsz];
            put_ph(&mut f, [v[0], v[1], v[2], v[3], v[4], 0], 1, 5, 0x1000);
        }
        if pt_note {
            put_ph(
                &mut f,
                [note_off, 0, 0, notes.len() as u64, notes.len() as u64, 0],
                4,
                4,
                self.note_align,
            );
        }
        f
    }
}

fn ph_off(i: usize) -> usize {
    64 + i * 56
}
fn patch(mut f: Vec<u8>, off: usize, v: &[u8]) -> Vec<u8> {
    f[off..off + v.len()].copy_from_slice(v);
    f
}

// ---------------------------------------------------------------------------
// Probe.

#[test]
fn probe_accepts_kexos_and_generic_elfs() {
    let info = elf64_parse(&kexos_like().build()).unwrap();
    assert_eq!(info.entry_source, EntrySource::Symbol);
    assert_eq!(info.entry_offset, 0x200);
    assert_eq!(info.placement, Elf64Placement::Relocatable);
    assert!(info.is_kexos());
    assert_eq!(
        (info.image_start, info.data_end, info.mem_end),
        (0x200000, 0x204800, 0x209000)
    );
    assert_eq!((info.bufsz(), info.memsz()), (0x4800, 0x9000));
    assert_eq!(info.loads.len(), 3);

    let info = elf64_parse(&generic().build()).unwrap();
    assert_eq!(info.entry_source, EntrySource::ElfEntry);
    assert_eq!(info.entry_offset, 0x40);
    assert_eq!(info.placement, Elf64Placement::Fixed);
    assert!(!info.is_kexos());
}

#[test]
fn every_probe_rejection_has_its_reason() {
    let good = || kexos_like().build();
    let one_load = |l: Load| ElfBuilder {
        loads: vec![l],
        ..generic()
    };
    let cases: Vec<(Vec<u8>, Elf64Error, &str)> = vec![
        (
            fake_bzimage(4096, 1 << 20),
            Elf64Error::Header(HeaderError::NotElf),
            "not an ELF file",
        ),
        (vec![], Elf64Error::Header(HeaderError::NotElf), "not an ELF file"),
        (
            good()[..40].to_vec(),
            Elf64Error::Header(HeaderError::TooShort { len: 40 }),
            "too short",
        ),
        (
            patch(good(), 4, &[1]),
            Elf64Error::Header(HeaderError::NotElf64 { class: 1 }),
            "ELF class 1 is not ELFCLASS64",
        ),
        (
            patch(good(), 5, &[2]),
            Elf64Error::Header(HeaderError::NotLittleEndian { data: 2 }),
            "not little endian",
        ),
        (
            patch(good(), 6, &[0]),
            Elf64Error::Header(HeaderError::BadVersion { version: 0 }),
            "ELF version 0",
        ),
        (
            patch(good(), 20, &[7]),
            Elf64Error::Header(HeaderError::BadVersion { version: 7 }),
            "ELF version 7",
        ),
        (
            patch(good(), 18, &0x28u16.to_le_bytes()),
            Elf64Error::Header(HeaderError::NotX86_64 { machine: 0x28 }),
            "machine 0x28 is not x86_64",
        ),
        (
            patch(good(), 16, &3u16.to_le_bytes()),
            Elf64Error::Header(HeaderError::NotExecutable { e_type: 3 }),
            "ET_DYN",
        ),
        (
            patch(good(), 16, &1u16.to_le_bytes()),
            Elf64Error::Header(HeaderError::NotExecutable { e_type: 1 }),
            "ELF type 1 is not ET_EXEC",
        ),
        (
            patch(good(), 54, &32u16.to_le_bytes()),
            Elf64Error::Header(HeaderError::BadProgramHeaders {
                phoff: 64,
                phnum: 3,
                phentsize: 32,
            }),
            "bad program header table",
        ),
        (
            patch(good(), 32, &0xff_ffffu64.to_le_bytes()),
            Elf64Error::Header(HeaderError::BadProgramHeaders {
                phoff: 0xff_ffff,
                phnum: 3,
                phentsize: 56,
            }),
            "bad program header table",
        ),
        (
            patch(good(), 56, &0u16.to_le_bytes()),
            Elf64Error::NoLoadSegment,
            "no PT_LOAD",
        ),
        // Every PT_LOAD made a PT_NULL.
        (
            patch(
                patch(patch(good(), ph_off(0), &[0]), ph_off(1), &[0]),
                ph_off(2),
                &[0],
            ),
            Elf64Error::NoLoadSegment,
            "no PT_LOAD",
        ),
        // An empty PT_LOAD does not count.
        (
            one_load(Load {
                vaddr: 0x200_0000,
                paddr: 0x200_0000,
                data: vec![],
                memsz: 0,
            })
            .build(),
            Elf64Error::NoLoadSegment,
            "no PT_LOAD",
        ),
        (
            patch(good(), ph_off(1) + 8, &0x10_0000u64.to_le_bytes()),
            Elf64Error::LoadOutsideFile {
                index: 1,
                offset: 0x10_0000,
                filesz: 0x1000,
                len: good().len(),
            },
            "outside the",
        ),
        (
            patch(good(), ph_off(2) + 40, &0x10u64.to_le_bytes()),
            Elf64Error::FileszOverMemsz {
                index: 2,
                filesz: 0x800,
                memsz: 0x10,
            },
            "filesz 0x800 > memsz 0x10",
        ),
        (
            patch(good(), ph_off(2) + 24, &(u64::MAX - 0x100).to_le_bytes()),
            Elf64Error::LoadWraps { index: 2 },
            "wraps",
        ),
        (
            patch(good(), ph_off(1) + 24, &0x202000u64.to_le_bytes()),
            Elf64Error::LoadsOverlap {
                first: 0,
                second: 1,
            },
            "PT_LOAD 0 and 1 overlap",
        ),
        (
            patch(good(), ph_off(2) + 24, &0x4000_0000u64.to_le_bytes()),
            Elf64Error::ImageTooSparse {
                extent: 0x4000_0800 - 0x200000,
                file_len: good().len(),
            },
            "span",
        ),
        // e_entry in the bss, and nowhere at all.
        (
            patch(good(), 24, &(KVMA + 0x208000).to_le_bytes()),
            Elf64Error::EntryNotLoaded {
                source: EntrySource::ElfEntry,
                addr: KVMA + 0x208000,
            },
            "e_entry 0xffffffff80208000 is not in the file data of any PT_LOAD",
        ),
        (
            patch(good(), 24, &0u64.to_le_bytes()),
            Elf64Error::EntryNotLoaded {
                source: EntrySource::ElfEntry,
                addr: 0,
            },
            "e_entry 0x0",
        ),
        (
            ElfBuilder {
                symbols: vec![("kexos_boot64", KVMA + 0x300000, 1)],
                ..kexos_like()
            }
            .build(),
            Elf64Error::EntryNotLoaded {
                source: EntrySource::Symbol,
                addr: KVMA + 0x300000,
            },
            "symbol kexos_boot64 0xffffffff80300000",
        ),
        (
            kexos_like()
                .without_symbols()
                .with_note(kexos_note(&[0x4900]))
                .build(),
            Elf64Error::EntryNotLoaded {
                source: EntrySource::Note,
                addr: 0x204900,
            },
            "kexos note entry 0x204900",
        ),
        (
            kexos_like().with_note(kexos_note(&[0x400])).build(),
            Elf64Error::EntriesDisagree {
                symbol: 0x200,
                note: 0x400,
            },
            "disagree",
        ),
        (
            kexos_like()
                .with_note(Note {
                    desc: vec![0; 4],
                    ..kexos_note(&[])
                })
                .build(),
            Elf64Error::BadNote {
                reason: "the kexos note's descriptor is not 8, 16 or 24 bytes",
            },
            "bad note",
        ),
        // A PT_NOTE too short for the note it starts.
        (
            patch(
                kexos_like().with_note(kexos_note(&[0x200])).build(),
                ph_off(3) + 32,
                &0x10u64.to_le_bytes(),
            ),
            Elf64Error::BadNote {
                reason: "a note runs past the end of its segment or section",
            },
            "runs past",
        ),
    ];
    for (img, want, text) in cases {
        let e = elf64_probe(&img).unwrap_err();
        assert_eq!(e, want, "{text}");
        assert_eq!(e.errno(), Errno::ENOEXEC);
        let msg = e.to_string();
        assert!(msg.contains(text), "{msg:?} lacks {text:?}");
        // Through the loader trait and KexecError the name is added once.
        let pe = Elf64.probe(&img).unwrap_err();
        assert_eq!(pe.to_string(), msg);
        assert_eq!(KexecError::from(e).to_string(), format!("elf64: {msg}"));
    }
}

#[test]
fn malformed_section_tables() {
    let good = kexos_like().build();
    let shoff = le_bytes::u64_at(&good, 40).unwrap() as usize;
    // Section headers past the end of the file.
    let e = elf64_probe(&patch(good.clone(), 40, &(1u64 << 40).to_le_bytes())).unwrap_err();
    assert!(
        matches!(e, Elf64Error::BadSectionHeaders { shnum: 3, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("bad section header table"));
    let e = elf64_probe(&patch(good.clone(), 58, &40u16.to_le_bytes())).unwrap_err();
    assert!(matches!(
        e,
        Elf64Error::BadSectionHeaders { shentsize: 40, .. }
    ));
    // A symtab with the wrong entsize, or linked to a non-STRTAB section.
    let e = elf64_probe(&patch(good.clone(), shoff + 64 + 56, &[16])).unwrap_err();
    assert_eq!(e, Elf64Error::BadSymtab { index: 1 });
    let e = elf64_probe(&patch(good.clone(), shoff + 64 + 40, &[0])).unwrap_err();
    assert_eq!(e, Elf64Error::BadSymtab { index: 1 });
    assert_eq!(e.to_string(), "section 1: bad symbol or string table");
    // Extended section numbering (e_shnum 0, count in section 0's sh_size).
    let ext = patch(
        patch(good.clone(), 60, &[0, 0]),
        shoff + 32,
        &3u64.to_le_bytes(),
    );
    assert_eq!(elf64_parse(&ext).unwrap().entry_source, EntrySource::Symbol);
    // No section headers at all: the symbol is gone, and with no note nothing says it is a
    // kernel.
    let stripped = patch(good, 40, &0u64.to_le_bytes());
    assert_eq!(elf64_parse(&stripped).unwrap_err(), Elf64Error::NotAKernel);
}

#[test]
fn loaders_table_picks_each_format_and_reports_both_reasons() {
    let loaders: [&dyn KexecFileOps; 2] = [&BzImage64, &Elf64];
    let bz = fake_bzimage(8192, 1 << 20);
    let elf = kexos_like().build();
    assert_eq!(probe_image(&loaders, &bz).unwrap().name(), "bzImage64");
    assert_eq!(probe_image(&loaders, &elf).unwrap().name(), "elf64");
    // Each format fails the other's probe.
    assert_eq!(Elf64.probe(&bz), Err(ProbeError::Elf64(Elf64Error::Header(HeaderError::NotElf))));
    assert!(matches!(
        BzImage64.probe(&elf),
        Err(ProbeError::BzImage(BzImageError::NoMagic { .. }))
    ));
    // An ELF whose bytes at 0x202 happen to read "HdrS" still fails on boot_flag.
    let tricky = patch(elf.clone(), 0x202, b"HdrS");
    assert_eq!(
        BzImage64.probe(&tricky),
        Err(ProbeError::BzImage(BzImageError::BadBootFlag { found: 0 }))
    );
    // Neither: ENOEXEC with both reasons.
    let e = probe_image(&loaders, &[0x55u8; 4096]).err().unwrap();
    assert_eq!(e.errno(), Errno::ENOEXEC);
    assert_eq!(
        e.to_string(),
        "no loader accepts the image: bzImage64: not a bzImage: no \"HdrS\" magic at 0x202; \
         elf64: not an ELF file (no \\x7fELF magic)"
    );
    let arm = patch(elf, 18, &0x28u16.to_le_bytes());
    let e = probe_image(&loaders, &arm).err().unwrap();
    assert!(
        e.to_string()
            .ends_with("; elf64: machine 0x28 is not x86_64"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// Entry resolution.

#[test]
fn entry_comes_from_symbol_then_note_then_e_entry() {
    // Symbol (a link address, translated through its PT_LOAD).
    let info = elf64_parse(&kexos_like().build()).unwrap();
    assert_eq!(
        (info.entry_source, info.entry_offset),
        (EntrySource::Symbol, 0x200)
    );
    // Symbol and note agreeing: the symbol wins, the note's flags still apply.
    let both = kexos_like().with_note(kexos_note(&[0x200, 0, 0x10_0000]));
    let info = elf64_parse(&both.build()).unwrap();
    assert_eq!(
        (info.entry_source, info.entry_offset),
        (EntrySource::Symbol, 0x200)
    );
    assert_eq!(info.memsz(), 0x10_0000, "init_size raises memsz");
    // The note alone, in a PT_NOTE (4- and 8-byte aligned) or a section.
    for (in_section, align) in [(false, 4), (false, 8), (true, 4), (true, 8)] {
        let b = ElfBuilder {
            notes_in_section: in_section,
            note_align: align,
            ..kexos_like().without_symbols()
        }
        .with_note(Note {
            name: b"GNU\0".to_vec(),
            typ: 1,
            desc: vec![9; 20],
        })
        .with_note(Note {
            typ: 2,
            ..kexos_note(&[0x300])
        })
        .with_note(kexos_note(&[0x1234]));
        let info = elf64_parse(&b.build()).unwrap();
        assert_eq!(
            (info.entry_source, info.entry_offset),
            (EntrySource::Note, 0x1234),
            "section {in_section} align {align}"
        );
        assert_eq!(info.placement, Elf64Placement::Relocatable);
    }
    // The note's FIXED flag.
    let fixed = kexos_like()
        .without_symbols()
        .with_note(kexos_note(&[0x200, KEXOS_NOTE_FLAG_FIXED]));
    assert_eq!(
        elf64_parse(&fixed.build()).unwrap().placement,
        Elf64Placement::Fixed
    );
    // No symbol, no kexos note: refused unless a Linux note says it is a kernel; then
    // e_entry (virtual, translated).
    let bare = kexos_like().without_symbols();
    assert_eq!(elf64_parse(&bare.build()).unwrap_err(), Elf64Error::NotAKernel);
    let info = elf64_parse(&bare.with_note(linux_note()).build()).unwrap();
    assert_eq!(
        (info.entry_source, info.entry_offset),
        (EntrySource::ElfEntry, 0x1000)
    );
    // An undefined kexos_boot64 is no symbol.
    let undef = ElfBuilder {
        symbols: vec![("kexos_boot64", 0, 0)],
        notes: vec![linux_note()],
        ..kexos_like()
    };
    assert_eq!(
        elf64_parse(&undef.build()).unwrap().entry_source,
        EntrySource::ElfEntry
    );
    // Linux vmlinux style: e_entry is already physical.
    let vmlinux = ElfBuilder {
        entry: 0x200_0100,
        loads: vec![Load {
            vaddr: KVMA + 0x200_0000,
            paddr: 0x200_0000,
            data: pattern(0x1000, 6),
            memsz: 0x4000,
        }],
        ..generic()
    };
    let info = elf64_parse(&vmlinux.build()).unwrap();
    assert_eq!(info.entry_offset, 0x100);
}

// ---------------------------------------------------------------------------
// Loading.

fn ctx_with<'c>(view: &'c MemoryView, e820: &'c [E820Entry], purg: &'c [u8]) -> LoadContext<'c> {
    LoadContext {
        view,
        e820,
        acpi_rsdp: None,
        purgatory: purg,
        tsc_khz: None,
        crash: None,
    }
}

/// For crash images (ignored otherwise): one page of headers, a flat map.
fn flat_512m() -> MemoryMap {
    MemoryMap::from_regions([Region::new(0, 512 * MIB, Ram)])
}

fn load_with<'k>(
    kind: KimageKind,
    view: &MemoryView,
    kernel: &'k [u8],
    cmdline: &[u8],
    placement: Option<Elf64Placement>,
) -> Result<(Kimage<'k>, LoadSummary), KexecError> {
    let purg = purgatory();
    let map = flat_512m();
    let ctx = LoadContext {
        crash: Some(crate::CrashSetup {
            elf_headers: b"\x7fELF",
            memmap: &map,
        }),
        ..ctx_with(view, &[], &purg)
    };
    let mut image = Kimage::new(kind);
    let s = elf64_load_with(&mut image, &ctx, kernel, None, cmdline, placement)?;
    Ok((image, s))
}

fn view_256m() -> MemoryView {
    MemoryView::new([PhysRange::new(MIB, 256 * MIB)], &[])
}

fn seg<'i, 'a>(image: &'i Kimage<'a>, label: &str) -> &'i crate::KexecSegment<'a> {
    image.segments().iter().find(|s| s.label == label).unwrap()
}

#[test]
fn relocatable_placement_moves_the_entry_and_borrows_the_file() {
    let file = kexos_like().build();
    let (image, s) = load_with(KimageKind::Normal, &view_256m(), &file, b"x\0", None).unwrap();
    let labels: Vec<_> = image.segments().iter().map(|s| s.label).collect();
    assert_eq!(labels, ["purgatory", "boot_params", "kernel"]);
    let k = seg(&image, "kernel");
    assert_eq!(k.mem.0 % (2 * MIB), 0);
    assert!(k.mem.0 >= ELF64_MIN_LOAD_ADDR);
    assert!(k.mem.0 + k.memsz <= 256 * MIB);
    assert!(k.mem.0 >= 250 * MIB, "top down: {}", k.mem);
    assert_eq!(s.kernel, k.mem);
    assert_eq!(s.kernel_entry, PhysAddr(k.mem.0 + 0x200));
    assert_eq!(s.loader, "elf64");
    assert_eq!((k.bufsz(), k.memsz), (0x4800, 0x9000));
    // What purgatory's two CPUs share is planned before the load: the loader says the size.
    assert_eq!(Elf64.loaded_len(&file), k.bufsz() as usize);
    assert!(file.len() > 0x4800, "the file has more than its segment");
    assert_eq!(
        k.buf.as_slice().as_ptr(),
        file[0x1000..].as_ptr(),
        "the file already has the memory layout: borrowed"
    );
    assert!(matches!(k.buf, SegmentBuf::Borrowed(_)));
    let regs = EntryRegs::from_bytes(&image.purgatory_get_symbol_array(ENTRY64_REGS.name).unwrap());
    assert_eq!(regs.rip, k.mem.0 + 0x200);
    assert_eq!(regs.rsi, s.boot_params.unwrap().0);
    assert_eq!(regs.rbx, 0);

    // The made-up setup header.
    let bp = BootParams::from_bytes(seg(&image, "boot_params").buf.as_slice()).unwrap();
    let h = bp.hdr();
    assert!(h.has_magic());
    assert_eq!(h.boot_flag(), 0xaa55);
    assert_eq!(h.version(), 0x020f);
    assert_eq!(h.type_of_loader(), LOADER_TYPE_KEXEC);
    assert_eq!(h.loadflags(), 0);
    assert_eq!(h.cmdline_size(), ELF64_CMDLINE_SIZE);
    assert_eq!(h.kernel_alignment(), 2 << 20);
    assert_eq!(h.relocatable_kernel(), 1);
    assert_eq!(h.xloadflags(), 3);
    assert_eq!(h.init_size(), 0x9000);
    assert_eq!(h.setup_sects(), 0);
    assert_eq!(bp.cmd_line_ptr(), s.boot_params.unwrap().0 + 4096);

    // The note's entry and init_size, relocated the same way.
    let file = kexos_like()
        .without_symbols()
        .with_note(kexos_note(&[0x1010, 0, 0x40_0000]))
        .build();
    let (image, s) = load_with(KimageKind::Normal, &view_256m(), &file, b"\0", None).unwrap();
    let k = seg(&image, "kernel");
    assert_eq!(k.memsz, 0x40_0000);
    assert_eq!(s.kernel_entry, PhysAddr(k.mem.0 + 0x1010));
}

#[test]
fn packed_file_is_copied_with_zero_gaps_and_a_zero_tail() {
    // Packed PT_LOADs (file offsets unrelated to p_paddr), a hole between
    // text and data, bss in the middle (rodata) and at the end (data).
    let mut b = kexos_like();
    b.mirror_layout = false;
    b.loads[1].memsz = 0x1000;
    b.loads[1].data.truncate(0x900); // rodata: 0x700 bytes of bss
    let file = b.build();
    let info = elf64_parse(&file).unwrap();
    let (image, _) = load_with(KimageKind::Normal, &view_256m(), &file, b"\0", None).unwrap();
    let k = seg(&image, "kernel");
    assert!(matches!(k.buf, SegmentBuf::Owned(_)));
    assert_eq!(k.bufsz(), 0x4800, "up to the last file byte");
    assert_eq!(Elf64.loaded_len(&file), 0x4800, "packed or not");
    assert_eq!(k.memsz, 0x9000, "bss included, page aligned");
    let buf = k.buf.as_slice();
    for l in &info.loads {
        let at = (l.paddr - 0x200000) as usize;
        let src = &file[l.offset as usize..(l.offset + l.filesz) as usize];
        assert_eq!(&buf[at..at + src.len()], src, "PT_LOAD {}", l.index);
    }
    assert!(buf[0x2f00..0x3000].iter().all(|&x| x == 0), "gap");
    assert!(buf[0x3900..0x4000].iter().all(|&x| x == 0), "middle bss");

    // The zero tail costs no source pages: the entry list zeroes it.
    let mut order: Vec<u64> = (MIB / 4096..(200 * MIB) / 4096).map(|p| p * 4096).collect();
    order.reverse();
    let mut alloc = ListAlloc::new(order);
    let mut mem = FakeMem::default();
    let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
    let data_pages: u64 = image
        .segments()
        .iter()
        .map(|s| s.bufsz().div_ceil(4096))
        .sum();
    assert_eq!(list.source_pages.len() as u64, data_pages);
    relocate_simulate(list.head, &mut mem, 1 << 16).unwrap();
    let mut got = vec![0u8; k.memsz as usize];
    mem.read(k.mem, &mut got);
    assert_eq!(&got[..buf.len()], buf);
    assert!(got[buf.len()..].iter().all(|&x| x == 0), "bss zeroed");
    // A gap that is not zero in a mirrored file forces a copy too.
    let mut m = kexos_like().build();
    m[0x1000 + 0x2f10] = 0xcc;
    let (image, _) = load_with(KimageKind::Normal, &view_256m(), &m, b"\0", None).unwrap();
    let k = seg(&image, "kernel");
    assert!(matches!(k.buf, SegmentBuf::Owned(_)));
    assert_eq!(k.buf.as_slice()[0x2f10], 0);
}

#[test]
fn fixed_placement_loads_at_p_paddr() {
    // A generic ELF goes where it was linked, the kernel segment first.
    let file = generic().build();
    let (image, s) = load_with(KimageKind::Normal, &view_256m(), &file, b"\0", None).unwrap();
    let labels: Vec<_> = image.segments().iter().map(|s| s.label).collect();
    assert_eq!(labels, ["kernel", "purgatory", "boot_params"]);
    let k = seg(&image, "kernel");
    assert_eq!(k.mem, PhysAddr(0x200_0000));
    assert_eq!((k.bufsz(), k.memsz), (0x2100, 0x5000));
    assert_eq!(s.kernel_entry, PhysAddr(0x200_0040));
    let bp = BootParams::from_bytes(seg(&image, "boot_params").buf.as_slice()).unwrap();
    assert_eq!(bp.hdr().relocatable_kernel(), 0);
    // ... unless the caller asks for relocation.
    let (image, s) = load_with(
        KimageKind::Normal,
        &view_256m(),
        &file,
        b"\0",
        Some(Elf64Placement::Relocatable),
    )
    .unwrap();
    let k = seg(&image, "kernel");
    assert_ne!(k.mem, PhysAddr(0x200_0000));
    assert_eq!(k.mem.0 % (2 * MIB), 0);
    assert_eq!(s.kernel_entry, PhysAddr(k.mem.0 + 0x40));
    // A kexos ELF forced to a p_paddr that is not memory (64 TiB up).
    let mut kx = kexos_like();
    for l in &mut kx.loads {
        l.paddr += 0x4000_0000_0000;
    }
    let kx = kx.build();
    let e = load_with(
        KimageKind::Normal,
        &view_256m(),
        &kx,
        b"\0",
        Some(Elf64Placement::Fixed),
    )
    .unwrap_err();
    assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
    assert_eq!(
        e.to_string(),
        "elf64: the image must load at its p_paddr [0x400000200000, 0x400000209000), \
         which is not usable memory"
    );
    // ... but it is relocatable by default, wherever p_paddr points.
    let (_, s) = load_with(KimageKind::Normal, &view_256m(), &kx, b"\0", None).unwrap();
    assert_eq!(s.kernel_entry.0 % (2 * MIB), 0x200);
    // Fixed below usable memory, and outside a crash region.
    let low = MemoryView::new([PhysRange::new(64 * MIB, 256 * MIB)], &[]);
    let e = load_with(KimageKind::Normal, &low, &file, b"\0", None).unwrap_err();
    assert_eq!(
        e,
        KexecError::Elf64(Elf64Error::FixedNotUsable {
            start: 0x200_0000,
            end: 0x200_5000
        })
    );
    let region = PhysRange::new(128 * MIB, 192 * MIB);
    let e = load_with(
        KimageKind::Crash { region },
        &view_256m(),
        &file,
        b"\0",
        None,
    )
    .unwrap_err();
    assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
}

#[test]
fn crash_load_stays_in_region_and_prefixes_elfcorehdr() {
    let region = PhysRange::new(128 * MIB, 192 * MIB);
    let file = kexos_like().build();
    let (image, s) = load_with(
        KimageKind::Crash { region },
        &view_256m(),
        &file,
        b"console=ttyS0\0",
        None,
    )
    .unwrap();
    for seg in image.segments() {
        assert!(region.contains_range(&seg.dest_range()), "{}", seg.label);
    }
    assert_eq!(image.cmdline, b"elfcorehdr=0x8000000 console=ttyS0\0");
    assert_eq!(s.cmdline.unwrap().1, image.cmdline.len() as u64);
}

#[test]
fn crash_elf_load_on_512m() {
    use crate::crash::tests::{check_crash_load, fake_headers, plan_crash, qemu_512m, REGION};
    let map = qemu_512m();
    let headers = fake_headers();
    // kexos's ELF: relocatable, after purgatory and boot_params.
    let file = kexos_like().build();
    let p = plan_crash(&file, &headers, &map, REGION, true).unwrap();
    assert_eq!(p.sum.loader, "elf64");
    check_crash_load(&p, &headers, &map);
    let labels: Vec<_> = p.image.segments().iter().map(|s| s.label).collect();
    assert_eq!(labels, ["elfcorehdr", "purgatory", "boot_params", "kernel"]);
    assert_eq!(p.sum.kernel.0 % ELF64_KERNEL_ALIGN, 0);
    // A generic ELF linked inside the region loads at p_paddr, first.
    let fixed = ElfBuilder {
        entry: 0x1900_0040,
        loads: vec![Load {
            vaddr: 0x1900_0000,
            paddr: 0x1900_0000,
            data: pattern(0x1800, 9),
            memsz: 0x3000,
        }],
        ..generic()
    }
    .build();
    let p = plan_crash(&fixed, &headers, &map, REGION, true).unwrap();
    check_crash_load(&p, &headers, &map);
    let labels: Vec<_> = p.image.segments().iter().map(|s| s.label).collect();
    assert_eq!(labels, ["kernel", "elfcorehdr", "purgatory", "boot_params"]);
    assert_eq!(p.sum.kernel_entry, PhysAddr(0x1900_0040));
    // Without the crash setup: EINVAL.
    let e = plan_crash(&file, &headers, &map, REGION, false)
        .err()
        .unwrap();
    assert_eq!(e, KexecError::NoCrashSetup);
    assert_eq!(e.errno(), Errno::EINVAL);
}

#[test]
fn command_line_limits() {
    let file = kexos_like().build();
    let v = view_256m();
    assert!(load_with(KimageKind::Normal, &v, &file, &[b'a'; 2017], None).is_ok());
    let e = load_with(KimageKind::Normal, &v, &file, &[b'a'; 2018], None).unwrap_err();
    assert_eq!(
        e,
        KexecError::Elf64(Elf64Error::CmdlineNoRoom {
            len: 2018,
            max: 2047
        })
    );
    assert_eq!(e.errno(), Errno::EINVAL);
    let e = load_with(KimageKind::Normal, &v, &file, &[b'a'; 2048], None).unwrap_err();
    assert_eq!(
        e,
        KexecError::Elf64(Elf64Error::CmdlineTooLong {
            len: 2048,
            max: 2047
        })
    );
    assert!(e
        .to_string()
        .starts_with("elf64: kernel command line too long"));
    // A probe failure stops the load with ENOEXEC; no memory, EADDRNOTAVAIL.
    let e = load_with(KimageKind::Normal, &v, &[0u8; 100], b"\0", None).unwrap_err();
    assert_eq!(e.errno(), Errno::ENOEXEC);
    let big = kexos_like()
        .without_symbols()
        .with_note(kexos_note(&[0x200, 0, 512 * MIB]))
        .build();
    let e = load_with(KimageKind::Normal, &v, &big, b"\0", None).unwrap_err();
    assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
    assert!(e.to_string().contains("kernel"), "{e}");
}

// ---------------------------------------------------------------------------
// The full path: loaders table, plan, entry list, relocation, boot_params.

use memmap::examples::qemu_512m;

struct Planned<'a> {
    image: Kimage<'a>,
    sum: LoadSummary,
    mem: FakeMem,
    e820: Vec<E820Entry>,
}

fn plan_and_relocate<'a>(
    kernel: &'a [u8],
    initrd: Option<&'a [u8]>,
    cmdline: &[u8],
) -> Result<Planned<'a>, KexecError> {
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
    let loaders: [&dyn KexecFileOps; 2] = [&BzImage64, &Elf64];
    let ops = probe_image(&loaders, kernel)?;
    assert_eq!(ops.name(), "elf64");
    let limits = SanityLimits::from_memmap(&map);
    let (image, sum) = kexec_file_plan(
        ops,
        KimageKind::Normal,
        &ctx,
        kernel,
        initrd,
        KnownDigests::NONE,
        cmdline,
        &limits,
        Vec::new(), DigestsAt::Plan,
    )?;
    for s in image.segments() {
        assert!(view.contains(&s.dest_range()), "{} outside RAM", s.label);
    }
    // Pages handed out top down collide with the top-down destinations.
    let mut order: Vec<u64> = view
        .ranges()
        .iter()
        .flat_map(|r| (r.start / 4096..r.end / 4096).map(|p| p * 4096))
        .collect();
    order.reverse();
    let mut alloc = ListAlloc::new(order);
    let mut mem = FakeMem::default();
    let list = kimage_load_segments(&image, &mut alloc, &mut mem)?;
    relocate_simulate(list.head, &mut mem, 1 << 20).unwrap();
    Ok(Planned {
        image,
        sum,
        mem,
        e820,
    })
}

#[test]
fn plan_a_full_elf_load_on_512m_and_relocate_it() {
    let mut b = kexos_like();
    b.mirror_layout = false;
    let kernel = b.build();
    let info = elf64_parse(&kernel).unwrap();
    let initrd: Vec<u8> = (0..3 * MIB as usize).map(|i| (i % 253) as u8).collect();
    let cmdline = b"console=ttyS0 token=e1f64\0";
    let Planned {
        image,
        sum,
        mem,
        e820,
    } = plan_and_relocate(&kernel, Some(&initrd), cmdline).unwrap();

    let labels: Vec<_> = image.segments().iter().map(|s| s.label).collect();
    assert_eq!(labels, ["purgatory", "boot_params", "kernel", "initrd"]);
    let k = seg(&image, "kernel");
    let bp = seg(&image, "boot_params");
    let rd = seg(&image, "initrd");
    assert_eq!(k.mem.0 % (2 * MIB), 0);
    assert!(k.mem.0 >= 16 * MIB);
    assert_eq!(sum.kernel_entry, PhysAddr(k.mem.0 + 0x200));
    assert_eq!(image.start, seg(&image, "purgatory").mem);

    // Each PT_LOAD where the kernel expects it, relative to the load address,
    // and the bss zeroed over memory that held garbage (0xAA).
    for l in &info.loads {
        let mut got = vec![0u8; l.memsz as usize];
        mem.read(PhysAddr(k.mem.0 + (l.paddr - 0x200000)), &mut got);
        let src = &kernel[l.offset as usize..(l.offset + l.filesz) as usize];
        assert_eq!(&got[..src.len()], src, "PT_LOAD {}", l.index);
        assert!(
            got[src.len()..].iter().all(|&x| x == 0),
            "PT_LOAD {} bss",
            l.index
        );
    }
    let mut code = [0u8; 16];
    mem.read(sum.kernel_entry, &mut code);
    assert_eq!(code, kernel[info.loads[0].offset as usize + 0x200..][..16]);

    // Purgatory's registers and digests cover the kernel's data only.
    let regs = EntryRegs::from_bytes(&image.purgatory_get_symbol_array(ENTRY64_REGS.name).unwrap());
    assert_eq!(regs.rip, sum.kernel_entry.0);
    assert_eq!(regs.rsi, bp.mem.0);
    let regions = image.purgatory_get_symbol_array(SHA_REGIONS.name).unwrap();
    let r2 = ShaRegion::table_from_bytes(&regions)[2];
    assert_eq!(
        r2,
        ShaRegion {
            start: k.mem.0,
            len: 0x4800
        }
    );

    // boot_params as the next kernel reads it.
    let parsed = crate::testutil::read_boot_params(&mem, bp.mem);
    assert!(parsed.params.hdr().has_magic());
    assert_eq!(parsed.version, 0x020f);
    assert_eq!(parsed.type_of_loader, LOADER_TYPE_KEXEC);
    assert_eq!(parsed.cmdline_size, 2047);
    assert_eq!(parsed.ramdisk, Some((rd.mem.0, 3 * MIB)));
    assert_eq!(parsed.acpi_rsdp, Some(0xf5a40));
    assert_eq!(parsed.e820, e820);
    assert_eq!(parsed.setup_data.len(), 0, "no setup_data node");
    assert!(!parsed.sentinel_set);
    let mut text = vec![0u8; cmdline.len()];
    mem.read(PhysAddr(parsed.cmdline_pa.unwrap()), &mut text);
    assert_eq!(text, cmdline);
    let mut rd_back = vec![0u8; initrd.len()];
    mem.read(rd.mem, &mut rd_back);
    assert_eq!(rd_back, initrd);
}

// ---------------------------------------------------------------------------
// Real toolchain output: the linker-script recipe kexos's kernel should use.

/// A kexos-style kernel: `_start` (bootloader entry) and `kexos_boot64` at
/// +0x200 in .text.boot, rodata, data, a big bss, the "kexos" note.
const KEXOS_LIKE_S: &str = r#"
    .section .text.boot, "ax"
    .globl _start
_start:
    jmp _start
    .org 0x200, 0xcc
    .globl kexos_boot64
kexos_boot64:
    lea boot_stack_top(%rip), %rsp
    hlt
    .text
    .globl rust_main
rust_main:
    .fill 0x1800, 1, 0x90
    ret

    .section .rodata
banner: .asciz "kexos"
    .section .data
counter: .quad 42
    .section .bss
    .balign 4096
boot_pml4: .skip 4096
boot_stack: .skip 0x4000
boot_stack_top:

    .section .note.kexos, "a", @note
    .balign 4
    .long 6              /* namesz: "kexos\0" */
    .long 8              /* descsz: u64 offset */
    .long 1              /* KEXOS_NOTE_BOOT64 */
    .asciz "kexos"
    .balign 4
    .quad kexos_boot64 - _start
"#;

/// The recommended kernel/linker.ld shape: every output section AT(its
/// address - KERNEL_VMA), so p_paddr = p_vaddr - 0xffffffff80000000; the
/// note kept (before /DISCARD/) in rodata and in a PT_NOTE.
const KEXOS_LIKE_LD: &str = r#"
ENTRY(_start)
KERNEL_VMA = 0xffffffff80000000;
PHDRS {
    text   PT_LOAD FLAGS(5);
    rodata PT_LOAD FLAGS(4);
    data   PT_LOAD FLAGS(6);
    note   PT_NOTE FLAGS(4);
}
SECTIONS {
    . = KERNEL_VMA + 0x200000;
    __kernel_start = .;
    .text : AT(ADDR(.text) - KERNEL_VMA) ALIGN(4K) {
        *(.text.boot .text.boot.*)
        *(.text .text.*)
    } :text
    .rodata : AT(ADDR(.rodata) - KERNEL_VMA) ALIGN(4K) {
        *(.rodata .rodata.*)
    } :rodata
    .note.kexos : AT(ADDR(.note.kexos) - KERNEL_VMA) ALIGN(4) {
        KEEP(*(.note.kexos))
    } :rodata :note
    .data : AT(ADDR(.data) - KERNEL_VMA) ALIGN(4K) {
        *(.data .data.*)
    } :data
    .bss (NOLOAD) : AT(ADDR(.bss) - KERNEL_VMA) ALIGN(4K) {
        *(.bss .bss.*)
        *(COMMON)
        . = ALIGN(4K);
    } :data
    __kernel_end = .;
    ASSERT(kexos_boot64 == __kernel_start + 0x200, "kexos_boot64 must be at +0x200")
    /DISCARD/ : { *(.comment) *(.note .note.*) }
}
"#;

fn tmpdir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("kexec-core-elf64-{}-{tag}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Link KEXOS_LIKE_S with KEXOS_LIKE_LD using `linker` (+ args).
fn link_kexos_like(linker: &Path, pre_args: &[&str]) -> Vec<u8> {
    let dir = tmpdir("ld");
    std::fs::write(dir.join("k.o"), crate::assemble::assemble("kexos-like", KEXOS_LIKE_S)).unwrap();
    std::fs::write(dir.join("k.ld"), KEXOS_LIKE_LD).unwrap();
    run(Command::new(linker)
        .args(pre_args)
        .args([
            "-static",
            "-nostdlib",
            "--no-relax",
            "-z",
            "max-page-size=4096",
            "-T",
        ])
        .arg(dir.join("k.ld"))
        .arg("-o")
        .arg(dir.join("k.elf"))
        .arg(dir.join("k.o")));
    let elf = std::fs::read(dir.join("k.elf")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    elf
}

fn rust_lld() -> Option<PathBuf> {
    let out = Command::new("rustc")
        .arg("--print")
        .arg("sysroot")
        .output()
        .ok()?;
    let sysroot = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    let rustlib = sysroot.join("lib/rustlib");
    std::fs::read_dir(&rustlib)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/rust-lld"))
        .find(|p| p.exists())
}

#[test]
fn toolchain_built_kexos_style_elf_loads_relocatably() {
    let mut linkers = vec![("ld", PathBuf::from("ld"), vec![])];
    // rust-lld links the kernel itself, so the pinned toolchain has it.
    let lld = rust_lld().expect(
        "rust-lld not found in the toolchain's sysroot (it links the kernel): \
         run `rustup toolchain install` in the repository root",
    );
    linkers.push(("rust-lld", lld, vec!["-flavor", "gnu"]));
    for (name, path, args) in linkers {
        let elf = link_kexos_like(&path, &args);
        let info = elf64_parse(&elf).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.entry_source, EntrySource::Symbol, "{name}");
        assert_eq!(info.entry_offset, 0x200, "{name}");
        assert_eq!(info.image_start, 0x200000, "{name}: p_paddr from AT()");
        assert_eq!(info.placement, Elf64Placement::Relocatable, "{name}");
        // The note is there too (and agrees, or the parse would have failed).
        let no_sym = patch(elf.clone(), 40, &0u64.to_le_bytes());
        let n = elf64_parse(&no_sym).unwrap();
        assert_eq!(
            (n.entry_source, n.entry_offset),
            (EntrySource::Note, 0x200),
            "{name}: PT_NOTE"
        );
        assert!(info.mem_end - info.image_start >= 0x5000, "{name}: bss");
        let p = plan_and_relocate(&elf, None, b"hop=1\0").unwrap();
        let k = seg(&p.image, "kernel");
        assert_eq!(p.sum.kernel_entry, PhysAddr(k.mem.0 + 0x200), "{name}");
        assert!(
            matches!(k.buf, SegmentBuf::Borrowed(_)),
            "{name}: linker output is used in place"
        );
        let mut code = [0u8; 7];
        p.mem.read(p.sum.kernel_entry, &mut code);
        assert_eq!(
            &code[..3],
            [0x48, 0x8d, 0x25],
            "{name}: lea ...(%rip), %rsp"
        );
    }
}

// ---------------------------------------------------------------------------
// The real kexos kernel ELF (built by `cargo xtask build`, which
// `cargo xtask test` runs before the host tests; fails if it is missing).

/// /boot/kexos.elf as xtask built it (debug, or release after `--release`): the stripped file
/// kexec loads, which keeps one symbol, kexos_boot64.
fn built_kexos_kernel() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/images/kexos.elf");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the kexos kernel is not built ({}: {e}): run `cargo xtask build` first \
             (`cargo xtask test` builds it before the host tests)",
            path.display()
        )
    })
}

#[test]
fn real_kexos_kernel_elf() {
    let file = built_kexos_kernel();
    let info = elf64_parse(&file).unwrap();
    println!(
        "kexos ELF: entry via {} at +{:#x}, image {:#x}..{:#x} (data to {:#x}), placement {:?}",
        info.entry_source,
        info.entry_offset,
        info.image_start,
        info.mem_end,
        info.data_end,
        info.placement
    );
    assert!(matches!(
        BzImage64.probe(&file),
        Err(ProbeError::BzImage(_))
    ));
    // The stripped kernel kept kexos_boot64 (it has no kexos note): never
    // the generic-ELF path.
    assert_eq!(
        info.entry_source,
        EntrySource::Symbol,
        "the built kernel lost its kexos_boot64 entry"
    );
    // The kernel promises the entry at +0x200 too.
    assert_eq!(info.entry_offset, 0x200);
    assert_eq!(info.placement, Elf64Placement::Relocatable);
    let p = plan_and_relocate(&file, None, b"console=ttyS0\0").unwrap();
    let k = seg(&p.image, "kernel");
    assert_eq!(p.sum.kernel_entry, PhysAddr(k.mem.0 + 0x200));
    assert_eq!(k.mem.0 % (2 * MIB), 0);
    for l in &info.loads {
        let mut got = vec![0u8; l.memsz as usize];
        p.mem
            .read(PhysAddr(k.mem.0 + (l.paddr - info.image_start)), &mut got);
        let src = &file[l.offset as usize..(l.offset + l.filesz) as usize];
        assert_eq!(&got[..src.len()], src);
        assert!(got[src.len()..].iter().all(|&x| x == 0));
    }
}

// ---------------------------------------------------------------------------
// Hostile input: mutated headers never panic, and what parses also loads
// or fails with an error.

#[test]
fn mutated_headers_never_panic() {
    use crate::entry::tests::Rng;
    let seeds = [
        kexos_like()
            .with_note(kexos_note(&[0x200, 0, 0x8000]))
            .build(),
        ElfBuilder {
            notes_in_section: true,
            note_align: 8,
            ..kexos_like().with_note(kexos_note(&[0x200]))
        }
        .build(),
        generic().build(),
    ];
    let view = view_256m();
    let purg = purgatory();
    let ctx = ctx_with(&view, &[], &purg);
    let mut rng = Rng(0x5eed_e1f6_4000_0001);
    let (mut parsed, mut loaded) = (0, 0);
    for i in 0..3000 {
        let mut f = seeds[i % seeds.len()].clone();
        // Header, program headers, and the tables at the end of the file.
        let shoff = le_bytes::u64_at(&f, 40).unwrap() as usize;
        for _ in 0..1 + rng.below(4) {
            let at = match rng.below(3) {
                0 => rng.below(64) as usize,
                1 => 64 + rng.below(4 * 56) as usize,
                _ => {
                    (shoff.min(f.len() - 1))
                        + rng.below(256) as usize % (f.len() - shoff.min(f.len() - 1))
                }
            };
            let v = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                _ => rng.next() as u8,
            };
            f[at] = v;
        }
        if elf64_parse(&f).is_ok() {
            parsed += 1;
            let mut image = Kimage::new(KimageKind::Normal);
            if elf64_load(&mut image, &ctx, &f, None, b"\0").is_ok() {
                loaded += 1;
            }
        }
    }
    println!("{parsed} of 3000 mutants parsed, {loaded} loaded");
    assert!(parsed > 100 && loaded > 50, "{parsed} {loaded}");
}

/// Kexos-shaped files whose section header table is the last thing in the
/// file: every proper prefix cuts something the probe reads.
fn hostile_seeds() -> Vec<Vec<u8>> {
    let noted = |desc: &[u64]| kexos_like().with_note(kexos_note(desc));
    // Notes in an SHT_NOTE section, PT_LOADs packed (copied, not borrowed).
    let packed = ElfBuilder {
        notes_in_section: true,
        note_align: 8,
        mirror_layout: false,
        ..noted(&[0x200])
    };
    vec![noted(&[0x200, 0, 0x8000]).build(), packed.build()]
}

#[test]
fn every_truncation_is_an_error_from_probe_and_load() {
    let view = view_256m();
    let purg = purgatory();
    let ctx = ctx_with(&view, &[], &purg);
    for seed in hostile_seeds() {
        assert!(elf64_probe(&seed).is_ok());
        for cut in 0..seed.len() {
            let f = &seed[..cut];
            let e = elf64_probe(f).expect_err(&format!("prefix of {cut} bytes accepted"));
            assert_eq!(e.errno(), Errno::ENOEXEC, "{cut}: {e}");
            let mut image = Kimage::new(KimageKind::Normal);
            let e = elf64_load(&mut image, &ctx, f, None, b"\0").unwrap_err();
            assert_eq!(e.errno(), Errno::ENOEXEC, "{cut}: {e}");
        }
    }
}

#[test]
fn random_byte_flips_anywhere_never_panic() {
    use crate::entry::tests::Rng;
    let view = view_256m();
    let purg = purgatory();
    let ctx = ctx_with(&view, &[], &purg);
    let mut seeds = hostile_seeds();
    seeds.push(generic().build());
    let mut rng = Rng(0x0e1f_f11b_5eed_0002);
    for i in 0..4000 {
        let mut f = seeds[i % seeds.len()].clone();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(f.len() as u64) as usize;
            f[at] ^= 1 << rng.below(8);
        }
        // A cut as well, one time in four.
        if rng.below(4) == 0 {
            f.truncate(rng.below(f.len() as u64) as usize);
        }
        if elf64_probe(&f).is_ok() {
            let mut image = Kimage::new(KimageKind::Normal);
            let _ = elf64_load(&mut image, &ctx, &f, None, b"\0");
        }
    }
}

/// What is not a kernel is refused at the probe (ENOEXEC, with the reason), so `kexec -e`
/// can never jump into a user program: no kexos entry and no Linux/Xen note, a PT_INTERP,
/// a PT_LOAD beyond 2^52, a non-kexos image below 1 MiB. Real static programs too when the
/// machine has them (Debian's busybox-static, kexos's own init).
#[test]
fn user_programs_and_other_non_kernels_are_refused() {
    let errno_of = |f: &[u8]| elf64_probe(f).unwrap_err().errno();
    // A static program's shape: ET_EXEC at 4 MiB, an entry inside, no notes.
    let program = ElfBuilder { notes: vec![], ..generic() };
    assert_eq!(elf64_probe(&program.build()), Err(Elf64Error::NotAKernel));
    assert_eq!(errno_of(&program.build()), Errno::ENOEXEC);
    // A GNU build-id note does not make a kernel; a Xen note (PVH entry) does.
    let gnu = Note { name: b"GNU\0".to_vec(), typ: 3, desc: vec![0xab; 20] };
    assert_eq!(elf64_probe(&program.clone().with_note(gnu).build()), Err(Elf64Error::NotAKernel));
    let xen = Note { name: b"Xen\0".to_vec(), typ: 18, desc: 0x100_0000u32.to_le_bytes().to_vec() };
    assert_eq!(elf64_probe(&program.clone().with_note(xen).build()), Ok(()));
    // PT_INTERP: the Linux note's PT_NOTE turned into one.
    let file = generic().build();
    let phoff = u64::from_le_bytes(file[32..40].try_into().unwrap()) as usize;
    let note_ph = (0..usize::from(u16::from_le_bytes([file[56], file[57]])))
        .map(|i| phoff + i * 56)
        .find(|&at| u32::from_le_bytes(file[at..at + 4].try_into().unwrap()) == PT_NOTE)
        .unwrap();
    let interp = patch(file.clone(), note_ph, &PT_INTERP.to_le_bytes());
    let e = elf64_probe(&interp).unwrap_err();
    assert!(matches!(e, Elf64Error::HasInterpreter { .. }), "{e}");
    assert!(e.to_string().contains("PT_INTERP"), "{e}");
    // Beyond the physical address space (a vmlinux's virtual addresses as p_paddr).
    let mut far = ElfBuilder { mirror_layout: false, ..generic() };
    far.loads[1].paddr = KVMA + 0x200_2000;
    let e = elf64_probe(&far.build()).unwrap_err();
    assert!(matches!(e, Elf64Error::BeyondPhysical { index: _, end } if end == KVMA + 0x200_5000), "{e}");
    // A non-kexos image in the first MiB.
    let mut low = ElfBuilder { mirror_layout: false, ..generic() };
    low.entry = 0x8_0040;
    low.loads.truncate(1);
    low.loads[0].vaddr = 0x8_0000;
    low.loads[0].paddr = 0x8_0000;
    assert_eq!(elf64_probe(&low.build()), Err(Elf64Error::BelowOneMiB { start: 0x8_0000 }));
    // kexos itself may be linked anywhere (it is relocatable).
    assert_eq!(elf64_probe(&kexos_like().build()), Ok(()));
    // Real static programs, where this machine has them.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for p in [
        PathBuf::from("/bin/busybox"),
        root.join("target/user/x86_64-unknown-none/release/init"),
    ] {
        if let Ok(f) = std::fs::read(&p) {
            assert_eq!(errno_of(&f), Errno::ENOEXEC, "{} was accepted", p.display());
        }
    }
}
