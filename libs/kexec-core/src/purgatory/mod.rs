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

mod error;
pub mod reloc;
mod symbols;

pub use error::PurgatoryError;
use reloc::apply_one;

const SHN_UNDEF: usize = 0;
const SHN_ABS: usize = 0xfff1;
const SHN_COMMON: usize = 0xfff2;

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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile_tests;
