//! x86_64 relocation types purgatory may use, and their application
//! (arch_kexec_apply_relocations_add).

use alloc::string::{String, ToString};

use goblin::elf::Elf;

use super::{perr, Placed, PurgatoryError, SHN_ABS, SHN_COMMON, SHN_UNDEF};
use crate::error::KexecError;

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
pub(super) fn apply_one(
    elf: &Elf<'_>,
    placed: &[Placed],
    buf: &mut [u8],
    target: usize,
    sec: &Placed,
    r: &goblin::elf::Reloc,
) -> Result<(), KexecError> {
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
