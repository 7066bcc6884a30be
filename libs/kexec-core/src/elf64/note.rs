//! The "kexos" ELF note (type [`KEXOS_NOTE_BOOT64`]): where it is looked
//! for and how a note area is walked.

use goblin::elf::program_header::ProgramHeader;
use goblin::elf::section_header::SectionHeader;

use super::{slice, Elf64Error, PT_NOTE, SHT_NOTE};

/// The note name (without its NUL).
pub const KEXOS_NOTE_NAME: &[u8] = b"kexos";
/// The note type whose descriptor is `u64 offset [, u64 flags [, u64 init_size]]`.
pub const KEXOS_NOTE_BOOT64: u32 = 1;
/// Note flag: load at p_paddr exactly (not relocatable).
pub const KEXOS_NOTE_FLAG_FIXED: u64 = 1;

/// The descriptor of the first note named `name` with type `typ` in a note
/// area (`align` is 4 or 8). By hand with the shared reader, not goblin's
/// note iterator: that one rejects names that are not UTF-8 and trailing
/// bytes shorter than a note header, which this walker skips (as it always
/// has: a kernel that loaded before still loads).
fn find_note<'f>(
    mut area: &'f [u8],
    align: u64,
    wanted: &dyn Fn(&[u8], u32) -> bool,
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
        if wanted(n, ntype) {
            return Ok(Some(desc));
        }
        area = area.get(next..).unwrap_or(&[]);
    }
    Ok(None)
}

/// The descriptor of the first note `wanted` accepts (name without its
/// NUL, type): PT_NOTE segments first, then SHT_NOTE sections.
fn first_note<'f>(
    kernel: &'f [u8],
    phdrs: &[ProgramHeader],
    sections: &[SectionHeader],
    wanted: &dyn Fn(&[u8], u32) -> bool,
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
        let found = find_note(area, note_align(align), wanted)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The kexos note's descriptor.
pub(super) fn kexos_note<'f>(
    kernel: &'f [u8],
    phdrs: &[ProgramHeader],
    sections: &[SectionHeader],
) -> Result<Option<&'f [u8]>, Elf64Error> {
    first_note(kernel, phdrs, sections, &|name, typ| name == KEXOS_NOTE_NAME && typ == KEXOS_NOTE_BOOT64)
}

/// Names of the notes a Linux vmlinux carries (include/linux/elfnote.h's
/// "Linux" notes, and the "Xen" notes of its PVH entry): the sign that an
/// ELF without a kexos entry is a kernel, not a user program.
pub const KERNEL_NOTE_NAMES: [&[u8]; 2] = [b"Linux", b"Xen"];

/// Whether the file carries a Linux or Xen note.
pub(super) fn has_kernel_note(
    kernel: &[u8],
    phdrs: &[ProgramHeader],
    sections: &[SectionHeader],
) -> Result<bool, Elf64Error> {
    Ok(first_note(kernel, phdrs, sections, &|name, _| KERNEL_NOTE_NAMES.contains(&name))?.is_some())
}
