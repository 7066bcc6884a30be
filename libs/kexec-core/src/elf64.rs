//! The ELF64 loader: boots an x86_64 ELF kernel (kexos's own ELF, or any
//! ET_EXEC kernel with a 64-bit boot-protocol entry) through the SAME
//! handoff as bzImage64: purgatory jumps to the entry with RSI = physical
//! address of boot_params, RBX = 0, identity mapped, interrupts off.
//!
//! # What is accepted (probe)
//! `\x7fELF`, ELFCLASS64, little endian, EV_CURRENT, EM_X86_64, **ET_EXEC
//! only** (an ET_DYN is linked at 0 and expects a loader to apply its dynamic
//! relocations; kexec places images physically and never relocates code),
//! at least one PT_LOAD with memsz > 0, every PT_LOAD inside the file with
//! filesz <= memsz, PT_LOADs disjoint in physical (p_paddr) space, and an
//! entry point inside the file data of a PT_LOAD. Each failure has its own
//! [`Elf64Error`] (ENOEXEC).
//!
//! # The image
//! The PT_LOADs are one block laid out by p_paddr: `[image_start, mem_end)`
//! with `image_start` = the lowest p_paddr. It becomes ONE segment
//! ("kernel") starting at `image_start` rounded down to a page: the file
//! bytes of every PT_LOAD at `p_paddr - start`, zeros in between, bufsz up to
//! the last file byte, memsz = the page-aligned end of the last PT_LOAD
//! (bss included), so the bss costs no source pages (IND_ZERO). When the
//! file already holds exactly that layout (same p_offset - p_paddr for every
//! PT_LOAD, zeros in the gaps: what lld produces for kexos) the segment
//! borrows the file instead of copying it.
//!
//! # Where the entry is (in this order)
//! 1. the symbol **`kexos_boot64`** in `.symtab` (a link-time virtual address,
//!    translated to physical through the PT_LOAD that contains it);
//! 2. else an ELF note (PT_NOTE segment, or SHT_NOTE section if there is no
//!    PT_NOTE) named **"kexos"**, type **1** ([`KEXOS_NOTE_BOOT64`]), whose
//!    descriptor is `u64 offset` of the entry from `image_start`,
//!    optionally followed by `u64 flags` ([`KEXOS_NOTE_FLAG_FIXED`]) and
//!    `u64 init_size` (bytes from `image_start` the kernel needs; memsz is
//!    raised to it);
//! 3. else `e_entry`: a virtual address inside a PT_LOAD's [p_vaddr,
//!    p_vaddr + p_memsz) translated to physical, or else already a physical
//!    address inside a PT_LOAD's p_paddr range (Linux's vmlinux sets e_entry
//!    to the physical startup_64).
//!
//! If both the symbol and the note exist they must agree. `e_entry` must be
//! inside a PT_LOAD even when it is not used (for kexos it is the
//! bootloader_api `_start` of the first boot from disk).
//!
//! # Where the image goes ([`Elf64Placement`])
//! A kexos ELF (symbol or note found) is **relocatable**: the block lands at
//! a 2 MiB-aligned address at or above 16 MiB, top down (like bzImage64's
//! kernel segment), and the entry moves with it: `entry = load +
//! (entry_phys - start)`. The note's FIXED flag, and every ELF that is not
//! identified as kexos, load **at p_paddr exactly** (what kexec-tools'
//! elf-x86_64 loader does): the block must then lie in usable memory (or the
//! crash region). [`elf64_load_with`] overrides the choice.
//!
//! # boot_params
//! Built like bzImage64's (command line + elfcorehdr room, initrd, e820,
//! ACPI RSDP, setup_data, type_of_loader 0xD0, loadflags 0), except that an
//! ELF has no setup header to copy: the header is zero but for "HdrS",
//! boot_flag 0xAA55, version 2.15, cmdline_size ([`ELF64_CMDLINE_SIZE`]),
//! kernel_alignment 2 MiB, relocatable_kernel, xloadflags (KERNEL_64 |
//! CAN_BE_LOADED_ABOVE_4G) and init_size (the kernel segment's memsz).
//!
//! Segment order: purgatory, boot_params, kernel, initrd (Linux's), after
//! the ELF core headers for a crash image ([`crate::crash_load_segments`]);
//! with fixed placement the kernel comes first so the other searches avoid it.

use alloc::vec::Vec;
use core::fmt;

use abi::Errno;
use bootparam::{xloadflags, BootParams};
use goblin::container::{Container, Ctx, Endian};
use goblin::elf::program_header::ProgramHeader;
use goblin::elf::section_header::SectionHeader;
use goblin::elf::sym::Symtab;
use goblin::elf::Elf;

use crate::crash::crash_load_segments;
use crate::error::{KexecError, SegmentError};
use crate::handoff::{self, check_cmdline, CmdlineFit};
use crate::kimage::{Kimage, KimageKind};
use crate::loader::{KexecFileOps, LoadContext, LoadSummary, ProbeError};
use crate::segment::{KexecBuf, SegmentBuf};
use crate::types::{align_down, page_align, PhysAddr, PhysRange, PAGE_SIZE};

/// Alignment of a relocatable ELF image (2 MiB: kexos maps itself with
/// large pages; Linux's CONFIG_PHYSICAL_ALIGN default).
pub const ELF64_KERNEL_ALIGN: u64 = 0x20_0000;
/// Lowest address of a relocatable ELF image (16 MiB, Linux's default
/// pref_address, above ISA DMA).
pub const ELF64_MIN_LOAD_ADDR: u64 = 0x100_0000;
/// cmdline_size for ELF kernels: Linux's x86 COMMAND_LINE_SIZE - 1.
pub const ELF64_CMDLINE_SIZE: u32 = 2047;
/// Boot protocol version written into the made-up setup header (2.15).
pub const ELF64_BOOT_PROTOCOL: u16 = 0x020f;
/// The symbol naming kexos's 64-bit boot-protocol entry.
pub const KEXOS_BOOT64_SYMBOL: &str = "kexos_boot64";
/// The note name (without its NUL).
pub const KEXOS_NOTE_NAME: &[u8] = b"kexos";
/// The note type whose descriptor is `u64 offset [, u64 flags [, u64 init_size]]`.
pub const KEXOS_NOTE_BOOT64: u32 = 1;
/// Note flag: load at p_paddr exactly (not relocatable).
pub const KEXOS_NOTE_FLAG_FIXED: u64 = 1;

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const SHDR_SIZE: usize = 64;
const SYM_SIZE: usize = 24;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const EV_CURRENT: u8 = 1;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_NOTE: u32 = 7;
const SHN_UNDEF: usize = 0;
/// goblin reads every table as little-endian ELF64 (EI_CLASS and EI_DATA
/// are checked first).
const CTX: Ctx = Ctx {
    container: Container::Big,
    le: Endian::Little,
};

/// Which rule gave the entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntrySource {
    /// The `kexos_boot64` symbol.
    Symbol,
    /// The "kexos" note.
    Note,
    /// `e_entry`.
    ElfEntry,
}

impl fmt::Display for EntrySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntrySource::Symbol => "symbol kexos_boot64",
            EntrySource::Note => "kexos note entry",
            EntrySource::ElfEntry => "e_entry",
        })
    }
}

/// Where the image goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elf64Placement {
    /// Any 2 MiB-aligned address >= 16 MiB, top down; the entry moves along.
    Relocatable,
    /// At the lowest p_paddr (page aligned down), as linked.
    Fixed,
}

/// Why a file is not a loadable ELF64 kernel, or its load parameters are bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Elf64Error {
    /// No `\x7fELF` magic.
    NotElf,
    /// Shorter than an ELF64 header.
    TooShort { len: usize },
    /// EI_CLASS is not ELFCLASS64.
    NotElf64 { class: u8 },
    /// EI_DATA is not little endian.
    NotLittleEndian { data: u8 },
    /// EI_VERSION / e_version is not EV_CURRENT.
    BadVersion { version: u32 },
    /// e_machine is not EM_X86_64.
    NotX86_64 { machine: u16 },
    /// e_type is not ET_EXEC.
    NotExecutable { e_type: u16 },
    /// The program header table is malformed or outside the file.
    BadProgramHeaders {
        phoff: u64,
        phnum: u16,
        phentsize: u16,
    },
    /// No PT_LOAD with memsz > 0.
    NoLoadSegment,
    /// A PT_LOAD's file bytes are outside the file.
    LoadOutsideFile {
        index: usize,
        offset: u64,
        filesz: u64,
        len: usize,
    },
    /// A PT_LOAD has filesz > memsz.
    FileszOverMemsz {
        index: usize,
        filesz: u64,
        memsz: u64,
    },
    /// A PT_LOAD's address range wraps around.
    LoadWraps { index: usize },
    /// Two PT_LOADs overlap physically (program header indices).
    LoadsOverlap { first: usize, second: usize },
    /// The PT_LOADs are spread so far apart that the image would be mostly gap.
    ImageTooSparse { extent: u64, file_len: usize },
    /// The entry point is not in the file data of any PT_LOAD.
    EntryNotLoaded { source: EntrySource, addr: u64 },
    /// `kexos_boot64` and the kexos note give different entries (offsets
    /// from the image start).
    EntriesDisagree { symbol: u64, note: u64 },
    /// The section header table is malformed or outside the file.
    BadSectionHeaders {
        shoff: u64,
        shnum: u64,
        shentsize: u16,
    },
    /// The symbol or string table (section index) is malformed.
    BadSymtab { index: usize },
    /// A note is malformed.
    BadNote { reason: &'static str },
    /// cmdline_len (with NUL) > cmdline_size.
    CmdlineTooLong { len: u64, max: u32 },
    /// cmdline_len + 30 > cmdline_size: no room for `elfcorehdr=`.
    CmdlineNoRoom { len: u64, max: u32 },
    /// Fixed placement, but `[start, end)` is not usable memory (or not in
    /// the crash region).
    FixedNotUsable { start: u64, end: u64 },
}

impl Elf64Error {
    /// Format problems ENOEXEC, command line EINVAL, a fixed address that
    /// is not usable EADDRNOTAVAIL (like any other placement failure).
    pub fn errno(&self) -> Errno {
        match self {
            Elf64Error::CmdlineTooLong { .. } | Elf64Error::CmdlineNoRoom { .. } => Errno::EINVAL,
            Elf64Error::FixedNotUsable { .. } => Errno::EADDRNOTAVAIL,
            _ => Errno::ENOEXEC,
        }
    }
}

impl fmt::Display for Elf64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Elf64Error::NotElf => f.write_str("not an ELF file (no \\x7fELF magic)"),
            Elf64Error::TooShort { len } => write!(
                f,
                "file is too short for an ELF64 header ({len} bytes, need {EHDR_SIZE})"
            ),
            Elf64Error::NotElf64 { class } => write!(f, "ELF class {class} is not ELFCLASS64"),
            Elf64Error::NotLittleEndian { data } => {
                write!(f, "ELF data encoding {data} is not little endian")
            }
            Elf64Error::BadVersion { version } => write!(f, "ELF version {version} is not 1"),
            Elf64Error::NotX86_64 { machine } => {
                write!(f, "machine {machine:#x} is not x86_64")
            }
            Elf64Error::NotExecutable { e_type } => match e_type {
                ET_DYN => f.write_str(
                    "ET_DYN (position-independent) kernels are not supported, need ET_EXEC",
                ),
                t => write!(f, "ELF type {t} is not ET_EXEC"),
            },
            Elf64Error::BadProgramHeaders {
                phoff,
                phnum,
                phentsize,
            } => write!(
                f,
                "bad program header table ({phnum} entries of {phentsize} bytes at {phoff:#x})"
            ),
            Elf64Error::NoLoadSegment => f.write_str("no PT_LOAD segment"),
            Elf64Error::LoadOutsideFile {
                index,
                offset,
                filesz,
                len,
            } => write!(
                f,
                "PT_LOAD {index} data [{offset:#x}, +{filesz:#x}) is outside the {len}-byte file"
            ),
            Elf64Error::FileszOverMemsz {
                index,
                filesz,
                memsz,
            } => write!(
                f,
                "PT_LOAD {index} has filesz {filesz:#x} > memsz {memsz:#x}"
            ),
            Elf64Error::LoadWraps { index } => {
                write!(f, "PT_LOAD {index} wraps around the address space")
            }
            Elf64Error::LoadsOverlap { first, second } => {
                write!(f, "PT_LOAD {first} and {second} overlap physically")
            }
            Elf64Error::ImageTooSparse { extent, file_len } => write!(
                f,
                "PT_LOADs span {extent:#x} bytes of file data, far more than the {file_len}-byte file"
            ),
            Elf64Error::EntryNotLoaded { source, addr } => write!(
                f,
                "{source} {addr:#x} is not in the file data of any PT_LOAD"
            ),
            Elf64Error::EntriesDisagree { symbol, note } => write!(
                f,
                "symbol kexos_boot64 (offset {symbol:#x}) and the kexos note (offset {note:#x}) disagree"
            ),
            Elf64Error::BadSectionHeaders {
                shoff,
                shnum,
                shentsize,
            } => write!(
                f,
                "bad section header table ({shnum} entries of {shentsize} bytes at {shoff:#x})"
            ),
            Elf64Error::BadSymtab { index } => {
                write!(f, "section {index}: bad symbol or string table")
            }
            Elf64Error::BadNote { reason } => write!(f, "bad note: {reason}"),
            Elf64Error::CmdlineTooLong { len, max } => write!(
                f,
                "kernel command line too long ({len} bytes with NUL, max {max})"
            ),
            Elf64Error::CmdlineNoRoom { len, max } => write!(
                f,
                "command line of {len} bytes leaves no room for elfcorehdr= ({} + {len} > {max})",
                handoff::MAX_ELFCOREHDR_STR_LEN
            ),
            Elf64Error::FixedNotUsable { start, end } => write!(
                f,
                "the image must load at its p_paddr [{start:#x}, {end:#x}), which is not usable memory"
            ),
        }
    }
}

/// One PT_LOAD (memsz > 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSegment {
    /// Program header index.
    pub index: usize,
    /// p_offset.
    pub offset: u64,
    /// p_vaddr.
    pub vaddr: u64,
    /// p_paddr.
    pub paddr: u64,
    /// p_filesz.
    pub filesz: u64,
    /// p_memsz.
    pub memsz: u64,
}

impl LoadSegment {
    fn vaddr_contains(&self, a: u64) -> bool {
        a >= self.vaddr && a - self.vaddr < self.memsz
    }
    fn paddr_in_data(&self, a: u64) -> bool {
        a >= self.paddr && a - self.paddr < self.filesz
    }
}

/// What [`elf64_parse`] found: everything the load needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elf64Info {
    /// The PT_LOADs with memsz > 0, by p_paddr.
    pub loads: Vec<LoadSegment>,
    /// e_entry as in the file.
    pub e_entry: u64,
    /// Lowest p_paddr.
    pub image_start: u64,
    /// Highest p_paddr + p_filesz (the last file byte + 1).
    pub data_end: u64,
    /// Highest p_paddr + p_memsz (bss included).
    pub mem_end: u64,
    /// Physical entry as linked, minus `image_start`.
    pub entry_offset: u64,
    /// Which rule gave the entry.
    pub entry_source: EntrySource,
    /// The note's init_size (0 without one).
    pub init_size: u64,
    /// The placement the file asks for (see the module docs).
    pub placement: Elf64Placement,
}

impl Elf64Info {
    /// Is this a kexos ELF (symbol or note)?
    pub fn is_kexos(&self) -> bool {
        self.entry_source != EntrySource::ElfEntry
    }
    /// The kernel segment's first byte: `image_start` rounded down to a page.
    pub fn segment_start(&self) -> u64 {
        align_down(self.image_start, PAGE_SIZE)
    }
    /// The kernel segment's bufsz.
    pub fn bufsz(&self) -> u64 {
        self.data_end - self.segment_start()
    }
    /// The kernel segment's memsz (page aligned; at least init_size).
    pub fn memsz(&self) -> u64 {
        let end = self
            .mem_end
            .max(self.image_start.saturating_add(self.init_size));
        page_align(end - self.segment_start()).unwrap_or(u64::MAX)
    }
}

/// `file[off .. off + len]`, if it is inside the file.
fn slice(file: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    file.get(start..end)
}

/// The section header table, read by goblin once it is known to lie inside
/// the file (`shoff` 0: none; `shnum` 0: extended numbering, the count is
/// section 0's sh_size).
fn section_headers(
    kernel: &[u8],
    shoff: u64,
    shnum: u16,
    shentsize: u16,
) -> Result<Vec<SectionHeader>, Elf64Error> {
    if shoff == 0 {
        return Ok(Vec::new());
    }
    let bad = |shnum| Elf64Error::BadSectionHeaders {
        shoff,
        shnum,
        shentsize,
    };
    if usize::from(shentsize) != SHDR_SIZE {
        return Err(bad(u64::from(shnum)));
    }
    let parse = |table: &[u8], n: u64| {
        SectionHeader::parse_from(table, 0, n as usize, CTX).map_err(|_| bad(n))
    };
    let mut shnum = u64::from(shnum);
    if shnum == 0 {
        let s0 = slice(kernel, shoff, SHDR_SIZE as u64).ok_or(bad(0))?;
        shnum = parse(s0, 1)?.first().map_or(0, |s| s.sh_size);
    }
    let table = shnum
        .checked_mul(SHDR_SIZE as u64)
        .and_then(|len| slice(kernel, shoff, len))
        .ok_or(bad(shnum))?;
    if shnum == 0 {
        return Ok(Vec::new());
    }
    parse(table, shnum)
}

/// The value of symbol `name` in the first SHT_SYMTAB, if defined.
fn find_symbol(
    kernel: &[u8],
    sections: &[SectionHeader],
    name: &str,
) -> Result<Option<u64>, Elf64Error> {
    let Some((index, symtab)) = sections
        .iter()
        .enumerate()
        .find(|(_, s)| s.sh_type == SHT_SYMTAB)
    else {
        return Ok(None);
    };
    let bad = Elf64Error::BadSymtab { index };
    if symtab.sh_entsize != SYM_SIZE as u64 {
        return Err(bad);
    }
    let syms = slice(kernel, symtab.sh_offset, symtab.sh_size).ok_or(bad)?;
    let strtab = sections
        .get(symtab.sh_link as usize)
        .filter(|s| s.sh_type == SHT_STRTAB)
        .ok_or(bad)?;
    let strs = slice(kernel, strtab.sh_offset, strtab.sh_size).ok_or(bad)?;
    let count = syms.len() / SYM_SIZE;
    if count == 0 {
        return Ok(None);
    }
    let table = Symtab::parse(syms, 0, count, CTX).map_err(|_| bad)?;
    for sym in table.iter() {
        // By hand, not goblin's Strtab: a name need not be UTF-8 to not match.
        let Some(tail) = strs.get(sym.st_name..) else {
            return Err(bad);
        };
        let n = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
        if &tail[..n] == name.as_bytes() && sym.st_shndx != SHN_UNDEF {
            return Ok(Some(sym.st_value));
        }
    }
    Ok(None)
}

/// The descriptor of the first note named `name` with type `typ` in a note
/// area (`align` is 4 or 8). By hand with the shared reader, not goblin's
/// note iterator: that one rejects names that are not UTF-8 and trailing
/// bytes shorter than a note header, which this walker skips (as it always
/// has: a kernel that loaded before still loads).
fn find_note<'f>(
    mut area: &'f [u8],
    align: u64,
    name: &[u8],
    typ: u32,
) -> Result<Option<&'f [u8]>, Elf64Error> {
    // Name at 12; descriptor and next note at the next `align` boundary
    // (the 8-byte form is GNU property notes', readelf's rule).
    let padded = |n: u64| n.div_ceil(align) * align;
    let truncated = Elf64Error::BadNote {
        reason: "a note runs past the end of its segment or section",
    };
    while let (Some(namesz), Some(descsz), Some(ntype)) = (
        le_bytes::u32_at(area, 0),
        le_bytes::u32_at(area, 4),
        le_bytes::u32_at(area, 8),
    ) {
        let (namesz, descsz) = (u64::from(namesz), u64::from(descsz));
        let nbytes = slice(area, 12, namesz).ok_or(truncated)?;
        let desc_off = padded(12 + namesz);
        let desc = slice(area, desc_off, descsz).ok_or(truncated)?;
        let next = padded(desc_off + descsz).min(area.len() as u64) as usize;
        let n = nbytes.strip_suffix(&[0]).unwrap_or(nbytes);
        if n == name && ntype == typ {
            return Ok(Some(desc));
        }
        area = area.get(next..).unwrap_or(&[]);
    }
    Ok(None)
}

/// The kexos note's descriptor: PT_NOTE segments first, else SHT_NOTE sections.
fn kexos_note<'f>(
    kernel: &'f [u8],
    phdrs: &[ProgramHeader],
    sections: &[SectionHeader],
) -> Result<Option<&'f [u8]>, Elf64Error> {
    let outside = Elf64Error::BadNote {
        reason: "a note area is outside the file",
    };
    let note_align = |a: u64| if a == 8 { 8 } else { 4 };
    let areas = phdrs
        .iter()
        .filter(|p| p.p_type == PT_NOTE)
        .map(|p| (p.p_offset, p.p_filesz, p.p_align))
        .chain(
            sections
                .iter()
                .filter(|s| s.sh_type == SHT_NOTE)
                .map(|s| (s.sh_offset, s.sh_size, s.sh_addralign)),
        );
    for (offset, size, align) in areas {
        let area = slice(kernel, offset, size).ok_or(outside)?;
        let found = find_note(area, note_align(align), KEXOS_NOTE_NAME, KEXOS_NOTE_BOOT64)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Parse and check `kernel` (the probe, and everything the load needs).
pub fn elf64_parse(kernel: &[u8]) -> Result<Elf64Info, Elf64Error> {
    if kernel.get(..4) != Some(b"\x7fELF") {
        return Err(Elf64Error::NotElf);
    }
    if kernel.len() < EHDR_SIZE {
        return Err(Elf64Error::TooShort { len: kernel.len() });
    }
    if kernel[4] != ELFCLASS64 {
        return Err(Elf64Error::NotElf64 { class: kernel[4] });
    }
    if kernel[5] != ELFDATA2LSB {
        return Err(Elf64Error::NotLittleEndian { data: kernel[5] });
    }
    if kernel[6] != EV_CURRENT {
        return Err(Elf64Error::BadVersion {
            version: u32::from(kernel[6]),
        });
    }
    // The identification bytes are checked above; goblin reads the rest.
    let h = Elf::parse_header(kernel).map_err(|_| Elf64Error::TooShort { len: kernel.len() })?;
    if h.e_version != u32::from(EV_CURRENT) {
        return Err(Elf64Error::BadVersion {
            version: h.e_version,
        });
    }
    if h.e_machine != EM_X86_64 {
        return Err(Elf64Error::NotX86_64 {
            machine: h.e_machine,
        });
    }
    if h.e_type != ET_EXEC {
        return Err(Elf64Error::NotExecutable { e_type: h.e_type });
    }
    let e_entry = h.e_entry;

    // Program headers.
    let (phoff, phentsize, phnum) = (h.e_phoff, h.e_phentsize, h.e_phnum);
    let bad_ph = Elf64Error::BadProgramHeaders {
        phoff,
        phnum,
        phentsize,
    };
    if phnum > 0 && usize::from(phentsize) != PHDR_SIZE {
        return Err(bad_ph);
    }
    let table = slice(kernel, phoff, u64::from(phnum) * PHDR_SIZE as u64).ok_or(bad_ph)?;
    let phdrs = ProgramHeader::parse(table, 0, usize::from(phnum), CTX).map_err(|_| bad_ph)?;
    let mut loads = Vec::new();
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type != PT_LOAD {
            continue;
        }
        let l = LoadSegment {
            index,
            offset: ph.p_offset,
            vaddr: ph.p_vaddr,
            paddr: ph.p_paddr,
            filesz: ph.p_filesz,
            memsz: ph.p_memsz,
        };
        if l.filesz > l.memsz {
            return Err(Elf64Error::FileszOverMemsz {
                index,
                filesz: l.filesz,
                memsz: l.memsz,
            });
        }
        if slice(kernel, l.offset, l.filesz).is_none() {
            return Err(Elf64Error::LoadOutsideFile {
                index,
                offset: l.offset,
                filesz: l.filesz,
                len: kernel.len(),
            });
        }
        if l.paddr.checked_add(l.memsz).is_none() || l.vaddr.checked_add(l.memsz).is_none() {
            return Err(Elf64Error::LoadWraps { index });
        }
        if l.memsz > 0 {
            loads.push(l);
        }
    }
    if loads.is_empty() {
        return Err(Elf64Error::NoLoadSegment);
    }
    loads.sort_by_key(|l| l.paddr);
    for w in loads.windows(2) {
        if w[1].paddr < w[0].paddr + w[0].memsz {
            return Err(Elf64Error::LoadsOverlap {
                first: w[0].index,
                second: w[1].index,
            });
        }
    }
    let image_start = loads[0].paddr;
    let mem_end = loads.iter().map(|l| l.paddr + l.memsz).max().unwrap_or(0);
    let data_end = loads
        .iter()
        .filter(|l| l.filesz > 0)
        .map(|l| l.paddr + l.filesz)
        .max()
        .unwrap_or(image_start);
    // The segment buffer spans the file data and the gaps between: refuse
    // layouts where the gaps dwarf the file (a hostile header asking for
    // gigabytes of zeros).
    let extent = data_end - align_down(image_start, PAGE_SIZE);
    let slack = loads.len() as u64 * ELF64_KERNEL_ALIGN;
    if extent > (kernel.len() as u64).saturating_add(slack) {
        return Err(Elf64Error::ImageTooSparse {
            extent,
            file_len: kernel.len(),
        });
    }

    // Entry points: a link address through the PT_LOAD that holds it.
    let virt_to_phys = |va: u64| {
        loads
            .iter()
            .find(|l| l.vaddr_contains(va))
            .map(|l| va - l.vaddr + l.paddr)
    };
    let loaded = |pa: u64| loads.iter().any(|l| l.paddr_in_data(pa));
    let e_entry_phys = virt_to_phys(e_entry)
        .filter(|&pa| loaded(pa))
        .or(Some(e_entry).filter(|&pa| loaded(pa)))
        .ok_or(Elf64Error::EntryNotLoaded {
            source: EntrySource::ElfEntry,
            addr: e_entry,
        })?;

    let sections = section_headers(kernel, h.e_shoff, h.e_shnum, h.e_shentsize)?;
    let symbol = match find_symbol(kernel, &sections, KEXOS_BOOT64_SYMBOL)? {
        Some(va) => Some(
            virt_to_phys(va)
                .filter(|&pa| loaded(pa))
                .ok_or(Elf64Error::EntryNotLoaded {
                    source: EntrySource::Symbol,
                    addr: va,
                })?
                - image_start,
        ),
        None => None,
    };
    let (mut note_offset, mut flags, mut init_size) = (None, 0, 0);
    if let Some(desc) = kexos_note(kernel, &phdrs, &sections)? {
        if !matches!(desc.len(), 8 | 16 | 24) {
            return Err(Elf64Error::BadNote {
                reason: "the kexos note's descriptor is not 8, 16 or 24 bytes",
            });
        }
        let word = |i: usize| le_bytes::u64_at(desc, i * 8);
        let off = word(0).unwrap_or(0);
        if !image_start.checked_add(off).is_some_and(loaded) {
            return Err(Elf64Error::EntryNotLoaded {
                source: EntrySource::Note,
                addr: image_start.wrapping_add(off),
            });
        }
        note_offset = Some(off);
        // Absent words (a shorter descriptor) are 0.
        flags = word(1).unwrap_or(0);
        init_size = word(2).unwrap_or(0);
    }
    let (entry_offset, entry_source) = match (symbol, note_offset) {
        (Some(s), Some(n)) if s != n => {
            return Err(Elf64Error::EntriesDisagree { symbol: s, note: n })
        }
        (Some(s), _) => (s, EntrySource::Symbol),
        (None, Some(n)) => (n, EntrySource::Note),
        (None, None) => (e_entry_phys - image_start, EntrySource::ElfEntry),
    };
    let placement = if entry_source == EntrySource::ElfEntry || flags & KEXOS_NOTE_FLAG_FIXED != 0 {
        Elf64Placement::Fixed
    } else {
        Elf64Placement::Relocatable
    };
    Ok(Elf64Info {
        loads,
        e_entry,
        image_start,
        data_end,
        mem_end,
        entry_offset,
        entry_source,
        init_size,
        placement,
    })
}

/// The probe: [`elf64_parse`] succeeds.
pub fn elf64_probe(kernel: &[u8]) -> Result<(), Elf64Error> {
    elf64_parse(kernel).map(|_| ())
}

/// The kernel segment's contents: the file itself when it already holds
/// the memory layout (same p_offset - p_paddr everywhere, zeros between),
/// else a copy laid out by p_paddr.
fn image_buffer<'a>(kernel: &'a [u8], info: &Elf64Info) -> Result<SegmentBuf<'a>, KexecError> {
    let start = info.segment_start();
    let bufsz = info.bufsz() as usize;
    let data: Vec<&LoadSegment> = info.loads.iter().filter(|l| l.filesz > 0).collect();
    let borrowable = data.first().and_then(|first| {
        let base = first.offset.checked_sub(first.paddr - start)?;
        if data
            .iter()
            .any(|l| l.offset.checked_sub(l.paddr - start) != Some(base))
        {
            return None;
        }
        let window = slice(kernel, base, bufsz as u64)?;
        // Every byte not covered by a PT_LOAD's file data must be zero.
        let mut pos = 0usize;
        for l in &data {
            let at = (l.paddr - start) as usize;
            if window[pos..at].iter().any(|&b| b != 0) {
                return None;
            }
            pos = at + l.filesz as usize;
        }
        Some(window)
    });
    if let Some(window) = borrowable {
        return Ok(SegmentBuf::Borrowed(window));
    }
    let mut buf = Vec::new();
    buf.try_reserve_exact(bufsz)
        .map_err(|_| KexecError::NoMemory { what: "ELF image" })?;
    buf.resize(bufsz, 0);
    for l in data {
        let at = (l.paddr - start) as usize;
        // In the file (checked by elf64_parse).
        if let Some(src) = slice(kernel, l.offset, l.filesz) {
            buf[at..at + src.len()].copy_from_slice(src);
        }
    }
    Ok(SegmentBuf::Owned(buf))
}

/// The ELF64 loader (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Elf64;

impl KexecFileOps for Elf64 {
    fn name(&self) -> &'static str {
        "elf64"
    }

    fn probe(&self, kernel: &[u8]) -> Result<(), ProbeError> {
        elf64_probe(kernel).map_err(ProbeError::Elf64)
    }

    fn load<'a>(
        &self,
        image: &mut Kimage<'a>,
        ctx: &LoadContext<'_>,
        kernel: &'a [u8],
        initrd: Option<&'a [u8]>,
        cmdline: &[u8],
    ) -> Result<LoadSummary, KexecError> {
        elf64_load(image, ctx, kernel, initrd, cmdline)
    }
}

/// Load with the placement the file asks for. `cmdline` includes its NUL
/// (or is empty).
pub fn elf64_load<'a>(
    image: &mut Kimage<'a>,
    ctx: &LoadContext<'_>,
    kernel: &'a [u8],
    initrd: Option<&'a [u8]>,
    cmdline: &[u8],
) -> Result<LoadSummary, KexecError> {
    elf64_load_with(image, ctx, kernel, initrd, cmdline, None)
}

/// Load, overriding the placement if `placement` is given.
pub fn elf64_load_with<'a>(
    image: &mut Kimage<'a>,
    ctx: &LoadContext<'_>,
    kernel: &'a [u8],
    initrd: Option<&'a [u8]>,
    cmdline: &[u8],
    placement: Option<Elf64Placement>,
) -> Result<LoadSummary, KexecError> {
    let info = elf64_parse(kernel)?;
    let placement = placement.unwrap_or(info.placement);
    let cmdline_len = cmdline.len() as u64;
    check_cmdline(cmdline_len, ELF64_CMDLINE_SIZE).map_err(|fit| match fit {
        CmdlineFit::TooLong => Elf64Error::CmdlineTooLong {
            len: cmdline_len,
            max: ELF64_CMDLINE_SIZE,
        },
        CmdlineFit::NoRoom => Elf64Error::CmdlineNoRoom {
            len: cmdline_len,
            max: ELF64_CMDLINE_SIZE,
        },
    })?;
    let memsz = info.memsz();
    let kbuf = KexecBuf::new("kernel", image_buffer(kernel, &info)?, memsz);

    // Fixed: the kernel goes first, at p_paddr, so the later searches avoid
    // it. Relocatable: in Linux's order, after purgatory and boot_params.
    let (first, later) = match placement {
        Elf64Placement::Fixed => {
            let start = info.segment_start();
            let range = PhysRange::new(start, start.saturating_add(memsz));
            let usable = match image.kind() {
                KimageKind::Normal => ctx.view.contains(&range),
                KimageKind::Crash { region } => region.contains_range(&range),
            };
            if !usable {
                return Err(Elf64Error::FixedNotUsable {
                    start: range.start,
                    end: range.end,
                }
                .into());
            }
            (Some(kbuf.at(PhysAddr(start))), None)
        }
        Elf64Placement::Relocatable => (
            None,
            Some(
                kbuf.align(ELF64_KERNEL_ALIGN)
                    .min(ELF64_MIN_LOAD_ADDR)
                    .top_down(true),
            ),
        ),
    };
    let first = first.map(|k| image.add_buffer(k, ctx.view)).transpose()?;
    // A crash image: the ELF core headers before purgatory (Linux's order).
    crash_load_segments(image, ctx)?;
    let purgatory_entry = handoff::load_purgatory(image, ctx)?;
    let block = handoff::add_params_block(image, ctx, cmdline_len)?;
    let bp_addr = block.addr;
    let later = later.map(|k| image.add_buffer(k, ctx.view)).transpose()?;
    let kernel_addr = first.or(later).ok_or(KexecError::BadSegment {
        label: "kernel",
        reason: SegmentError::Empty,
    })?;
    let initrd_placed = handoff::add_initrd(image, ctx, initrd)?;

    // An ELF has no setup header: make up what the boot protocol needs.
    let mut bp = BootParams::new();
    bp.set_boot_flag(bootparam::BOOT_FLAG);
    bp.set_header(bootparam::HDRS_MAGIC);
    bp.set_version(ELF64_BOOT_PROTOCOL);
    bp.set_cmdline_size(ELF64_CMDLINE_SIZE);
    bp.set_kernel_alignment(ELF64_KERNEL_ALIGN as u32);
    bp.set_relocatable_kernel(u8::from(placement == Elf64Placement::Relocatable));
    bp.set_xloadflags(xloadflags::XLF_KERNEL_64 | xloadflags::XLF_CAN_BE_LOADED_ABOVE_4G);
    bp.set_init_size(u32::try_from(memsz).unwrap_or(u32::MAX));
    let kernel_entry =
        PhysAddr(kernel_addr.0 + (info.image_start - info.segment_start()) + info.entry_offset);
    let cmdline_placed =
        handoff::finish_handoff(image, ctx, block, bp, cmdline, initrd_placed, kernel_entry)?;

    Ok(LoadSummary {
        loader: "elf64",
        kernel: kernel_addr,
        kernel_entry,
        boot_params: Some(bp_addr),
        cmdline: Some(cmdline_placed),
        initrd: initrd_placed,
        purgatory_entry,
    })
}

#[cfg(test)]
#[path = "elf64_tests.rs"]
mod tests;
