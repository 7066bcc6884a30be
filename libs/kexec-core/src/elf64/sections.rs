//! The section header table and the `.symtab` lookup (for `kexos_boot64`).

use alloc::vec::Vec;

use goblin::elf::section_header::SectionHeader;
use goblin::elf::sym::Symtab;

use super::{slice, Elf64Error, CTX, SHDR_SIZE, SHN_UNDEF, SHT_STRTAB, SHT_SYMTAB, SYM_SIZE};

/// The section header table, read by goblin once it is known to lie inside
/// the file (`shoff` 0: none; `shnum` 0: extended numbering, the count is
/// section 0's sh_size).
pub(super) fn section_headers(
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
pub(super) fn find_symbol(
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
