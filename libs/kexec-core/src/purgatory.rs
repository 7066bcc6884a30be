//! Purgatory: the small ET_REL x86_64 object that runs between
//! relocate_kernel and the next kernel (kernel/kexec_file.c:
//! kexec_load_purgatory, kexec_purgatory_setup_kbuf/_sechdrs,
//! kexec_apply_relocations, kexec_purgatory_get_set_symbol;
//! arch/x86/kernel/machine_kexec_64.c: arch_kexec_apply_relocations_add).
//!
//! Layout: every SHF_ALLOC section with data is packed into the segment's
//! buffer at its alignment, in section order; SHT_NOBITS sections follow in
//! memory only (memsz). RELA relocations of x86_64 types NONE, 64, 32, 32S,
//! PC32 and PLT32 are applied against defined symbols and section symbols;
//! any other type, SHT_REL, an undefined (SHN_UNDEF) or common symbol is
//! ENOEXEC. The segment is excluded from the digest: symbols are patched
//! after it is placed.
//!
//! Build note for purgatory/: code must avoid GOT relocations (e.g. Rust
//! `-C relocation-model=static -C code-model=large`, or position-independent
//! code that only uses PC32/PLT32); R_X86_64_32/32S overflow once purgatory
//! is placed above 4 GiB, which is rejected, not truncated.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use abi::Errno;
use goblin::elf::header::{EM_X86_64, ET_REL};
use goblin::elf::section_header::{
    SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, SHT_REL, SHT_RELA, SHT_SYMTAB,
};
use goblin::elf::sym::STB_GLOBAL;
use goblin::elf::Elf;

use crate::error::KexecError;
use crate::kimage::Kimage;
use crate::memview::MemoryView;
use crate::segment::{KexecBuf, SegmentBuf};
use crate::types::{align_up, PhysAddr};

/// x86_64 relocation types purgatory may use.
pub mod reloc {
    /// No relocation.
    pub const R_X86_64_NONE: u32 = 0;
    /// S + A, 64 bits.
    pub const R_X86_64_64: u32 = 1;
    /// S + A - P, 32 bits.
    pub const R_X86_64_PC32: u32 = 2;
    /// L + A - P, 32 bits (treated as PC32: purgatory has no PLT).
    pub const R_X86_64_PLT32: u32 = 4;
    /// S + A, zero-extended 32 bits.
    pub const R_X86_64_32: u32 = 10;
    /// S + A, sign-extended 32 bits.
    pub const R_X86_64_32S: u32 = 11;
}

const SHN_UNDEF: usize = 0;
const SHN_ABS: usize = 0xfff1;
const SHN_COMMON: usize = 0xfff2;

/// What is wrong with the purgatory object or a symbol access.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PurgatoryError {
    /// No purgatory object at all (EINVAL, as Linux for kexec_purgatory_size 0).
    Empty,
    /// goblin could not parse it (ENOEXEC).
    Parse(String),
    /// Not a little-endian ELF64 x86_64 ET_REL (ENOEXEC).
    NotRelocatable { e_type: u16, e_machine: u16 },
    /// A section's data lies outside the file, or sizes overflow (ENOEXEC).
    BadSection { index: usize },
    /// A section alignment that is not a power of two (ENOEXEC).
    BadAlign { index: usize, align: u64 },
    /// SHT_REL relocations are not supported on x86_64 (ENOEXEC).
    RelNotSupported { index: usize },
    /// A relocation section's sh_info/sh_link is invalid (ENOEXEC).
    BadRelocSection { index: usize },
    /// A relocation names a symbol index past the symbol table (ENOEXEC).
    BadSymbolIndex { index: usize },
    /// A relocation against an undefined symbol (ENOEXEC).
    UndefinedSymbol { name: String },
    /// A relocation against a common symbol (ENOEXEC).
    CommonSymbol { name: String },
    /// A symbol in a section index past the section table (ENOEXEC).
    InvalidSection { name: String, shndx: usize },
    /// A relocation type kexos does not apply (ENOEXEC).
    UnknownRelocation { r_type: u32, symbol: String },
    /// The relocated value does not fit the field (ENOEXEC).
    Overflow {
        r_type: u32,
        value: u64,
        symbol: String,
    },
    /// A relocation outside its section (ENOEXEC).
    RelocOutOfSection { section: usize, offset: u64 },
    /// e_entry is in no executable section (ENOEXEC).
    EntryNotInText { entry: u64 },
    /// Symbol access before purgatory was loaded (EINVAL).
    NotLoaded,
    /// No defined STB_GLOBAL symbol of that name (EINVAL).
    SymbolNotFound { name: String },
    /// st_size differs from the bytes given (EINVAL).
    SymbolSize {
        name: String,
        st_size: u64,
        len: usize,
    },
    /// The symbol is in a NOBITS section: nothing to get or set (EINVAL).
    SymbolInBss { name: String },
}

impl PurgatoryError {
    /// Linux's errno.
    pub fn errno(&self) -> Errno {
        match self {
            PurgatoryError::Empty
            | PurgatoryError::NotLoaded
            | PurgatoryError::SymbolNotFound { .. }
            | PurgatoryError::SymbolSize { .. }
            | PurgatoryError::SymbolInBss { .. } => Errno::EINVAL,
            _ => Errno::ENOEXEC,
        }
    }
}

impl fmt::Display for PurgatoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PurgatoryError::*;
        match self {
            Empty => write!(f, "no purgatory object"),
            Parse(e) => write!(f, "bad ELF: {e}"),
            NotRelocatable { e_type, e_machine } => write!(
                f,
                "not a little-endian ELF64 x86_64 ET_REL (e_type {e_type}, e_machine {e_machine})"
            ),
            BadSection { index } => write!(f, "section {index} lies outside the file"),
            BadAlign { index, align } => {
                write!(
                    f,
                    "section {index} alignment {align:#x} is not a power of two"
                )
            }
            RelNotSupported { index } => {
                write!(f, "SHT_REL section {index} is not supported on x86_64")
            }
            BadRelocSection { index } => {
                write!(f, "relocation section {index} has a bad sh_info/sh_link")
            }
            BadSymbolIndex { index } => {
                write!(f, "relocation against symbol index {index} past the table")
            }
            UndefinedSymbol { name } => write!(f, "undefined symbol: {name}"),
            CommonSymbol { name } => write!(f, "symbol '{name}' in common section"),
            InvalidSection { name, shndx } => {
                write!(f, "invalid section {shndx} for symbol {name}")
            }
            UnknownRelocation { r_type, symbol } => {
                write!(f, "unknown rela relocation: type {r_type} against {symbol}")
            }
            Overflow {
                r_type,
                value,
                symbol,
            } => write!(
                f,
                "overflow in relocation type {r_type} value {value:#x} against {symbol}"
            ),
            RelocOutOfSection { section, offset } => {
                write!(f, "relocation at {offset:#x} is outside section {section}")
            }
            EntryNotInText { entry } => {
                write!(f, "entry point {entry:#x} is in no executable section")
            }
            NotLoaded => write!(f, "purgatory is not loaded"),
            SymbolNotFound { name } => write!(f, "no global symbol {name}"),
            SymbolSize { name, st_size, len } => {
                write!(
                    f,
                    "symbol {name} size mismatch: expected {st_size} actual {len}"
                )
            }
            SymbolInBss { name } => write!(f, "symbol {name} is in a bss section"),
        }
    }
}

/// A section after placement.
#[derive(Clone, Copy, Debug, Default)]
struct Placed {
    /// Final physical address (original sh_addr for non-alloc sections).
    addr: u64,
    /// Offset in the segment buffer (alloc, non-NOBITS only).
    offset: u64,
    size: u64,
    alloc: bool,
    nobits: bool,
}

#[derive(Clone, Debug)]
struct GlobalSym {
    name: String,
    shndx: usize,
    value: u64,
    size: u64,
}

/// What the image keeps about its purgatory (Linux's `purgatory_info`).
#[derive(Clone, Debug)]
pub(crate) struct PurgatoryInfo {
    pub(crate) segment: usize,
    sections: Vec<Placed>,
    globals: Vec<GlobalSym>,
}

fn perr(e: PurgatoryError) -> KexecError {
    KexecError::Purgatory(e)
}

fn check_align(index: usize, a: u64) -> Result<u64, KexecError> {
    match a {
        0 => Ok(1),
        a if a.is_power_of_two() => Ok(a),
        a => Err(perr(PurgatoryError::BadAlign { index, align: a })),
    }
}

/// Load, place and relocate purgatory into `image` (kexec_load_purgatory).
/// As in Linux, the caller's `kbuf` says where (buf_min, buf_max, top_down,
/// or a fixed `mem`); this fills in the rest (data, sizes, alignment, and
/// skip_checksum: purgatory does not hash itself). Sets `image.start` to
/// the rebased entry and returns it.
pub fn kexec_load_purgatory<'a>(
    image: &mut Kimage<'a>,
    view: &MemoryView,
    object: &[u8],
    mut kbuf: KexecBuf<'a>,
) -> Result<PhysAddr, KexecError> {
    if object.is_empty() {
        return Err(perr(PurgatoryError::Empty));
    }
    let elf = Elf::parse(object).map_err(|e| perr(PurgatoryError::Parse(e.to_string())))?;
    let h = &elf.header;
    if h.e_type != ET_REL || h.e_machine != EM_X86_64 || !elf.is_64 || !elf.little_endian {
        return Err(perr(PurgatoryError::NotRelocatable {
            e_type: h.e_type,
            e_machine: h.e_machine,
        }));
    }
    let shdrs = &elf.section_headers;

    // kexec_purgatory_setup_kbuf: sizes and alignment.
    let (mut bufsz, mut buf_align, mut bss_sz, mut bss_align) = (0u64, 1u64, 0u64, 1u64);
    let overflow = |index| perr(PurgatoryError::BadSection { index });
    for (i, s) in shdrs.iter().enumerate() {
        if s.sh_flags & u64::from(SHF_ALLOC) == 0 {
            continue;
        }
        let a = check_align(i, s.sh_addralign)?;
        if s.sh_type != SHT_NOBITS {
            buf_align = buf_align.max(a);
            bufsz = align_up(bufsz, a)
                .and_then(|b| b.checked_add(s.sh_size))
                .ok_or(overflow(i))?;
        } else {
            bss_align = bss_align.max(a);
            bss_sz = align_up(bss_sz, a)
                .and_then(|b| b.checked_add(s.sh_size))
                .ok_or(overflow(i))?;
        }
    }
    bufsz = align_up(bufsz, bss_align).ok_or(overflow(0))?;
    let memsz = bufsz.checked_add(bss_sz).ok_or(overflow(0))?;
    let buf_align = buf_align.max(bss_align);
    let bufsz_usize = usize::try_from(bufsz).map_err(|_| overflow(0))?;

    let segment = image.segments().len();
    kbuf.buffer = SegmentBuf::Owned(Vec::new());
    kbuf.memsz = memsz.max(1);
    kbuf.buf_align = buf_align;
    kbuf.skip_checksum = true;
    let mem = image.add_buffer(kbuf, view)?;
    let result = setup_and_relocate(&elf, object, mem.0, bufsz_usize);
    let (buf, sections, start) = match result {
        Ok(v) => v,
        Err(e) => {
            image.truncate_segments(segment);
            return Err(e);
        }
    };
    if let Some(s) = image.segment_mut(segment) {
        s.buf = SegmentBuf::Owned(buf);
    }

    let mut globals = Vec::new();
    for sym in elf.syms.iter() {
        if sym.st_bind() != STB_GLOBAL {
            continue;
        }
        let name = elf.strtab.get_at(sym.st_name).unwrap_or("").to_string();
        globals.push(GlobalSym {
            name,
            shndx: sym.st_shndx,
            value: sym.st_value,
            size: sym.st_size,
        });
    }
    image.purgatory = Some(PurgatoryInfo {
        segment,
        sections,
        globals,
    });
    image.start = PhysAddr(start);
    Ok(PhysAddr(start))
}

/// kexec_purgatory_setup_sechdrs + kexec_apply_relocations.
fn setup_and_relocate(
    elf: &Elf<'_>,
    object: &[u8],
    mem: u64,
    bufsz: usize,
) -> Result<(Vec<u8>, Vec<Placed>, u64), KexecError> {
    let shdrs = &elf.section_headers;
    let mut buf = vec![0u8; bufsz];
    let mut placed = vec![Placed::default(); shdrs.len()];
    let mut offset = 0u64;
    let mut bss_addr = mem + bufsz as u64;
    let entry = elf.header.e_entry;
    let mut start: Option<u64> = None;
    for (i, s) in shdrs.iter().enumerate() {
        let p = &mut placed[i];
        p.addr = s.sh_addr;
        p.size = s.sh_size;
        p.nobits = s.sh_type == SHT_NOBITS;
        if s.sh_flags & u64::from(SHF_ALLOC) == 0 {
            continue;
        }
        p.alloc = true;
        let a = check_align(i, s.sh_addralign)?;
        if p.nobits {
            bss_addr =
                align_up(bss_addr, a).ok_or(perr(PurgatoryError::BadSection { index: i }))?;
            p.addr = bss_addr;
            bss_addr = bss_addr.wrapping_add(s.sh_size);
            continue;
        }
        offset = align_up(offset, a).ok_or(perr(PurgatoryError::BadSection { index: i }))?;
        // The first executable section holding e_entry defines the entry.
        if start.is_none()
            && s.sh_flags & u64::from(SHF_EXECINSTR) != 0
            && entry >= s.sh_addr
            && entry - s.sh_addr < s.sh_size
        {
            start = Some(mem + offset + (entry - s.sh_addr));
        }
        let bad = || perr(PurgatoryError::BadSection { index: i });
        let src_end = s.sh_offset.checked_add(s.sh_size).ok_or_else(bad)?;
        let src = object
            .get(
                usize::try_from(s.sh_offset).map_err(|_| bad())?
                    ..usize::try_from(src_end).map_err(|_| bad())?,
            )
            .ok_or_else(bad)?;
        let dst_end = (offset as usize).checked_add(src.len()).ok_or_else(bad)?;
        buf.get_mut(offset as usize..dst_end)
            .ok_or_else(bad)?
            .copy_from_slice(src);
        p.addr = mem + offset;
        p.offset = offset;
        offset += s.sh_size;
    }
    let start = start.ok_or(perr(PurgatoryError::EntryNotInText { entry }))?;

    let symtab_index = shdrs.iter().rposition(|s| s.sh_type == SHT_SYMTAB);
    for (relsec_index, relocs) in &elf.shdr_relocs {
        let relsec = &shdrs[*relsec_index];
        let bad_rel = perr(PurgatoryError::BadRelocSection {
            index: *relsec_index,
        });
        let target = relsec.sh_info as usize;
        if target >= shdrs.len() || relsec.sh_link as usize >= shdrs.len() {
            return Err(bad_rel);
        }
        if !placed[target].alloc {
            continue; // e.g. .rela.debug_*
        }
        if relsec.sh_type == SHT_REL {
            return Err(perr(PurgatoryError::RelNotSupported {
                index: *relsec_index,
            }));
        }
        if relsec.sh_type != SHT_RELA || Some(relsec.sh_link as usize) != symtab_index {
            return Err(bad_rel);
        }
        let sec = placed[target];
        if sec.nobits {
            return Err(perr(PurgatoryError::RelocOutOfSection {
                section: target,
                offset: 0,
            }));
        }
        for r in relocs.iter() {
            apply_one(elf, &placed, &mut buf, target, &sec, &r)?;
        }
    }
    Ok((buf, placed, start))
}

fn symbol_name(elf: &Elf<'_>, sym: &goblin::elf::Sym) -> String {
    match elf.strtab.get_at(sym.st_name) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => elf
            .section_headers
            .get(sym.st_shndx)
            .and_then(|s| elf.shdr_strtab.get_at(s.sh_name))
            .unwrap_or("?")
            .to_string(),
    }
}

/// arch_kexec_apply_relocations_add for one entry.
fn apply_one(
    elf: &Elf<'_>,
    placed: &[Placed],
    buf: &mut [u8],
    target: usize,
    sec: &Placed,
    r: &goblin::elf::Reloc,
) -> Result<(), KexecError> {
    use reloc::*;
    let sym = elf
        .syms
        .get(r.r_sym)
        .ok_or(perr(PurgatoryError::BadSymbolIndex { index: r.r_sym }))?;
    let name = || symbol_name(elf, &sym);
    let sec_base = match sym.st_shndx {
        SHN_UNDEF => return Err(perr(PurgatoryError::UndefinedSymbol { name: name() })),
        SHN_COMMON => return Err(perr(PurgatoryError::CommonSymbol { name: name() })),
        SHN_ABS => 0,
        i if i >= placed.len() => {
            return Err(perr(PurgatoryError::InvalidSection {
                name: name(),
                shndx: i,
            }))
        }
        i => placed[i].addr,
    };
    let value = sym
        .st_value
        .wrapping_add(sec_base)
        .wrapping_add(r.r_addend.unwrap_or(0) as u64);
    let address = sec.addr.wrapping_add(r.r_offset);
    let (bytes, width): ([u8; 8], usize) = match r.r_type {
        R_X86_64_NONE => return Ok(()),
        R_X86_64_64 => (value.to_le_bytes(), 8),
        R_X86_64_32 => {
            let v = u32::try_from(value).map_err(|_| overflow(r.r_type, value, name()))?;
            (u64::from(v).to_le_bytes(), 4)
        }
        R_X86_64_32S => {
            let v = i32::try_from(value as i64).map_err(|_| overflow(r.r_type, value, name()))?;
            ((v as i64 as u64).to_le_bytes(), 4)
        }
        R_X86_64_PC32 | R_X86_64_PLT32 => {
            // Linux truncates silently; a displacement past +-2 GiB is a
            // broken purgatory, so kexos rejects it.
            let rel = value.wrapping_sub(address);
            let v = i32::try_from(rel as i64).map_err(|_| overflow(r.r_type, rel, name()))?;
            ((v as i64 as u64).to_le_bytes(), 4)
        }
        other => {
            return Err(perr(PurgatoryError::UnknownRelocation {
                r_type: other,
                symbol: name(),
            }))
        }
    };
    let out_of_section = || {
        perr(PurgatoryError::RelocOutOfSection {
            section: target,
            offset: r.r_offset,
        })
    };
    if r.r_offset
        .checked_add(width as u64)
        .is_none_or(|end| end > sec.size)
    {
        return Err(out_of_section());
    }
    let at = (sec.offset + r.r_offset) as usize;
    buf.get_mut(at..at + width)
        .ok_or_else(out_of_section)?
        .copy_from_slice(&bytes[..width]);
    Ok(())
}

fn overflow(r_type: u32, value: u64, symbol: String) -> KexecError {
    perr(PurgatoryError::Overflow {
        r_type,
        value,
        symbol,
    })
}

impl Kimage<'_> {
    fn purgatory_find(&self, name: &str) -> Result<(&PurgatoryInfo, GlobalSym), KexecError> {
        let pi = self
            .purgatory
            .as_ref()
            .ok_or(perr(PurgatoryError::NotLoaded))?;
        let not_found = || {
            perr(PurgatoryError::SymbolNotFound {
                name: name.to_string(),
            })
        };
        let sym = pi
            .globals
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(not_found)?;
        if sym.shndx == SHN_UNDEF || sym.shndx >= pi.sections.len() {
            return Err(not_found());
        }
        Ok((pi, sym.clone()))
    }

    /// Where a purgatory symbol will be after the jump
    /// (kexec_purgatory_get_symbol_addr), NOBITS symbols included.
    pub fn purgatory_symbol_addr(&self, name: &str) -> Result<PhysAddr, KexecError> {
        let (pi, sym) = self.purgatory_find(name)?;
        Ok(PhysAddr(
            pi.sections[sym.shndx].addr.wrapping_add(sym.value),
        ))
    }

    /// Locate `len` bytes of a symbol's initial data in the purgatory buffer.
    fn purgatory_symbol_range(
        &self,
        name: &str,
        len: usize,
    ) -> Result<(usize, core::ops::Range<usize>), KexecError> {
        let (pi, sym) = self.purgatory_find(name)?;
        if sym.size != len as u64 {
            return Err(perr(PurgatoryError::SymbolSize {
                name: name.to_string(),
                st_size: sym.size,
                len,
            }));
        }
        let sec = pi.sections[sym.shndx];
        if sec.nobits {
            return Err(perr(PurgatoryError::SymbolInBss {
                name: name.to_string(),
            }));
        }
        if !sec.alloc || sym.value.checked_add(sym.size).is_none_or(|e| e > sec.size) {
            return Err(perr(PurgatoryError::SymbolNotFound {
                name: name.to_string(),
            }));
        }
        let start = (sec.offset + sym.value) as usize;
        Ok((pi.segment, start..start + len))
    }

    /// Read a purgatory symbol's bytes (kexec_purgatory_get_set_symbol, get).
    pub fn purgatory_get_symbol(&self, name: &str, len: usize) -> Result<Vec<u8>, KexecError> {
        let (seg, range) = self.purgatory_symbol_range(name, len)?;
        self.segments()
            .get(seg)
            .and_then(|s| s.buf.as_slice().get(range))
            .map(<[u8]>::to_vec)
            .ok_or(perr(PurgatoryError::SymbolNotFound {
                name: name.to_string(),
            }))
    }

    /// Read a purgatory symbol of exactly `N` bytes (a size from
    /// purgatory_abi), as an array.
    pub fn purgatory_get_symbol_array<const N: usize>(
        &self,
        name: &str,
    ) -> Result<[u8; N], KexecError> {
        let bytes = self.purgatory_get_symbol(name, N)?;
        <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
            perr(PurgatoryError::SymbolSize {
                name: name.to_string(),
                st_size: N as u64,
                len: bytes.len(),
            })
        })
    }

    /// Overwrite a purgatory symbol (kexec_purgatory_get_set_symbol, set):
    /// STB_GLOBAL, st_size == bytes.len(), not in a NOBITS section.
    pub fn purgatory_set_symbol(&mut self, name: &str, bytes: &[u8]) -> Result<(), KexecError> {
        let (seg, range) = self.purgatory_symbol_range(name, bytes.len())?;
        self.segment_mut(seg)
            .and_then(|s| s.buf_mut())
            .and_then(|b| b.get_mut(range))
            .ok_or(perr(PurgatoryError::SymbolNotFound {
                name: name.to_string(),
            }))?
            .copy_from_slice(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assemble, purgatory};
    use crate::{KimageKind, PhysRange};
    use purgatory_abi::{EntryRegs, ENTRY64_REGS, STACK_END_SYMBOL};

    const MIB: u64 = 1 << 20;
    /// Linux's pbuf in bzImage64_load: anywhere above 0x3000, top down.
    fn place() -> KexecBuf<'static> {
        KexecBuf::new("purgatory", SegmentBuf::Borrowed(&[]), 0)
            .min(0x3000)
            .top_down(true)
    }

    fn view(start: u64, end: u64) -> MemoryView {
        MemoryView::new([PhysRange::new(start, end)], &[])
    }

    fn u32_of(k: &Kimage<'_>, name: &str) -> u32 {
        u32::from_le_bytes(k.purgatory_get_symbol(name, 4).unwrap().try_into().unwrap())
    }
    fn u64_of(k: &Kimage<'_>, name: &str) -> u64 {
        u64::from_le_bytes(k.purgatory_get_symbol(name, 8).unwrap().try_into().unwrap())
    }

    #[test]
    fn layout_entry_and_each_relocation_type() {
        let obj = purgatory();
        let mut k = Kimage::new(KimageKind::Normal);
        let start = kexec_load_purgatory(&mut k, &view(MIB, 64 * MIB), &obj, place()).unwrap();
        let seg = &k.segments()[0];
        assert_eq!(seg.label, "purgatory");
        assert!(!seg.checksum);
        // .bss is 4 KiB aligned, so the segment is too; bss is memsz only.
        assert_eq!(seg.mem.0 % 4096, 0);
        assert_eq!(seg.memsz, seg.bufsz().div_ceil(4096) * 4096 + 4096);
        assert!(
            seg.mem.0 + seg.memsz <= 64 * MIB && seg.mem.0 >= 62 * MIB,
            "top down: {}",
            seg.mem
        );
        // e_entry 0 = start of .text, the first section packed.
        assert_eq!(start, seg.mem);
        assert_eq!(k.start, start);

        let verify = k.purgatory_symbol_addr("verify").unwrap().0;
        assert_eq!(verify, start.0 + 18, "lea (7) + call (5) + jmp (6)");
        let addr = |n| k.purgatory_symbol_addr(n).unwrap().0;
        assert_eq!(u64_of(&k, "r64"), verify + 5, "R_X86_64_64");
        assert_eq!(u64::from(u32_of(&k, "r32")), verify + 3, "R_X86_64_32");
        assert_eq!(
            i64::from(u32_of(&k, "r32s") as i32),
            (verify - 8) as i64,
            "R_X86_64_32S"
        );
        assert_eq!(
            u32_of(&k, "rpc32") as i32 as i64,
            verify as i64 - addr("rpc32") as i64,
            "PC32"
        );
        assert_eq!(
            u32_of(&k, "rplt") as i32 as i64,
            verify as i64 - 4 - addr("rplt") as i64,
            "PLT32"
        );
        assert_eq!(u32_of(&k, "rnone"), 0x1122_3344, "R_X86_64_NONE");
        let bss = addr("bss_var");
        assert_eq!(u64_of(&k, "rbss"), bss, "64 against .bss");
        assert_eq!(bss, seg.mem.0 + seg.bufsz().div_ceil(4096) * 4096);
        assert_eq!(addr(STACK_END_SYMBOL), bss + 4096);
        // The code's own PC32 (lea stack_end(%rip)) points at stack_end.
        let code = &seg.buf.as_slice()[..7];
        let disp = i32::from_le_bytes(code[3..7].try_into().unwrap()) as i64;
        assert_eq!((start.0 + 7) as i64 + disp, addr(STACK_END_SYMBOL) as i64);
    }

    #[test]
    fn symbols_get_and_set_follow_linux_rules() {
        let obj = purgatory();
        let mut k = Kimage::new(KimageKind::Normal);
        kexec_load_purgatory(&mut k, &view(MIB, 64 * MIB), &obj, place()).unwrap();
        let regs = EntryRegs {
            rip: 0x1234_5678,
            rsi: 0x9000,
            ..Default::default()
        };
        k.purgatory_set_symbol(ENTRY64_REGS.name, &regs.to_bytes())
            .unwrap();
        let got = EntryRegs::from_bytes(&k.purgatory_get_symbol_array(ENTRY64_REGS.name).unwrap());
        assert_eq!(got, regs);
        let err = |r: Result<(), KexecError>| r.unwrap_err();
        let e = err(k.purgatory_set_symbol(ENTRY64_REGS.name, &[0; 8]));
        assert!(matches!(
            e,
            KexecError::Purgatory(PurgatoryError::SymbolSize {
                st_size,
                len: 8,
                ..
            }) if st_size == ENTRY64_REGS.size as u64
        ));
        assert_eq!(e.errno(), Errno::EINVAL);
        let e = err(k.purgatory_set_symbol("bss_var", &[0; 8]));
        assert!(matches!(
            e,
            KexecError::Purgatory(PurgatoryError::SymbolInBss { .. })
        ));
        assert_eq!(e.errno(), Errno::EINVAL);
        // Local symbols are not visible; unknown names neither.
        assert_eq!(
            err(k.purgatory_set_symbol("stack", &[])).errno(),
            Errno::EINVAL
        );
        assert_eq!(
            err(k.purgatory_set_symbol("nope", &[])).errno(),
            Errno::EINVAL
        );
        let fresh = Kimage::new(KimageKind::Normal);
        assert_eq!(
            fresh.purgatory_symbol_addr("verify").unwrap_err().errno(),
            Errno::EINVAL
        );
    }

    fn load_err(src: &str, v: &MemoryView) -> KexecError {
        let obj = assemble("bad", src);
        let mut k = Kimage::new(KimageKind::Normal);
        let e = kexec_load_purgatory(&mut k, v, &obj, place()).unwrap_err();
        assert!(k.segments().is_empty(), "failed load leaves no segment");
        e
    }

    #[test]
    fn rejections_are_enoexec_with_names() {
        let v = view(MIB, 64 * MIB);
        let e = load_err(".text\nf: call missing_fn\n", &v);
        assert_eq!(
            e,
            KexecError::Purgatory(PurgatoryError::UndefinedSymbol {
                name: "missing_fn".into()
            })
        );
        assert_eq!(e.errno(), Errno::ENOEXEC);
        let e = load_err(".text\nf: ret\n.reloc f, R_X86_64_GOTPCREL, f\n", &v);
        assert!(
            matches!(
                &e,
                KexecError::Purgatory(PurgatoryError::UnknownRelocation { r_type: 9, .. })
            ),
            "{e:?}"
        );
        assert_eq!(e.errno(), Errno::ENOEXEC);
        assert!(
            e.to_string().contains("unknown rela relocation: type 9"),
            "{e}"
        );
        let e = load_err(".text\nf: ret\n.data\n.quad f - .\n", &v);
        assert!(
            matches!(
                &e,
                KexecError::Purgatory(PurgatoryError::UnknownRelocation { r_type: 24, .. })
            ),
            "{e:?}"
        );
        let e = load_err(".text\nf: ret\n.comm cvar, 8, 8\n.data\n.quad cvar\n", &v);
        assert_eq!(
            e,
            KexecError::Purgatory(PurgatoryError::CommonSymbol {
                name: "cvar".into()
            })
        );
    }

    #[test]
    fn thirty_two_bit_relocations_overflow_above_4g() {
        let v = view(5 << 30, 6 << 30);
        let e = load_err(".text\nf: ret\n.data\n.long f\n", &v);
        assert!(
            matches!(
                e,
                KexecError::Purgatory(PurgatoryError::Overflow { r_type: 10, .. })
            ),
            "{e:?}"
        );
        assert_eq!(e.errno(), Errno::ENOEXEC);
        let e = load_err(
            ".text\nf: ret\n.data\nx: .long 0\n.reloc x, R_X86_64_32S, f\n",
            &v,
        );
        assert!(
            matches!(
                e,
                KexecError::Purgatory(PurgatoryError::Overflow { r_type: 11, .. })
            ),
            "{e:?}"
        );
        // 64-bit and PC-relative relocations are fine up there.
        let obj = assemble(
            "high",
            ".text\nf: call g\n.globl g\ng: ret\n.data\n.quad g\n",
        );
        let mut k = Kimage::new(KimageKind::Normal);
        assert!(kexec_load_purgatory(&mut k, &v, &obj, place()).unwrap().0 >= 5 << 30);
    }

    #[test]
    fn malformed_objects() {
        let v = view(MIB, 64 * MIB);
        let mut k = Kimage::new(KimageKind::Normal);
        let e = kexec_load_purgatory(&mut k, &v, &[], place()).unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        let e = kexec_load_purgatory(&mut k, &v, b"\x7fELF garbage", place()).unwrap_err();
        assert_eq!(e.errno(), Errno::ENOEXEC);
        let mut obj = purgatory();
        obj[18] = 3; // e_machine = EM_386
        let e = kexec_load_purgatory(&mut k, &v, &obj, place()).unwrap_err();
        assert!(matches!(
            e,
            KexecError::Purgatory(PurgatoryError::NotRelocatable { e_machine: 3, .. })
        ));
        let mut obj = purgatory();
        obj[16] = 2; // e_type = ET_EXEC
        assert_eq!(
            kexec_load_purgatory(&mut k, &v, &obj, place())
                .unwrap_err()
                .errno(),
            Errno::ENOEXEC
        );
        // Truncated: section data past the end of the file.
        let obj = purgatory();
        for cut in [64, obj.len() / 2, obj.len() - 1] {
            let r = kexec_load_purgatory(&mut k, &v, &obj[..cut], place());
            assert!(r.is_err(), "cut at {cut} accepted");
        }
        assert!(k.segments().is_empty());
        // No room: EADDRNOTAVAIL from add_buffer.
        let e =
            kexec_load_purgatory(&mut k, &view(MIB, MIB + 4096), &purgatory(), place()).unwrap_err();
        assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
    }
}

#[cfg(test)]
#[path = "purgatory_hostile_tests.rs"]
mod hostile_tests;
