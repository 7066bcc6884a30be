//! Reading a guest's `/proc/vmcore` over the serial console (with kexos's `hexdump -C`) and
//! parsing it with goblin, a reader independent of kexos's own: shared by the crash scenarios.

use anyhow::{anyhow, Result};
use goblin::elf::header::{EM_X86_64, ET_CORE};
use goblin::elf::program_header::{ProgramHeader, PT_LOAD, PT_NOTE};
use goblin::elf::Header;

use crate::{parse_hexdump, Machine};

/// `hexdump -C -s off -n len /proc/vmcore` in the guest, parsed; exactly `len` bytes.
pub fn read(m: &mut Machine, off: u64, len: u64) -> Result<Vec<u8>> {
    let out = m.run(&format!("hexdump -C -s {off} -n {len} /proc/vmcore"))?;
    let (start, bytes) = parse_hexdump(&out)?;
    m.check(
        start == off && bytes.len() as u64 == len,
        format_args!(
            "hexdump of {len} bytes at {off:#x} gave {} at {start:#x}",
            bytes.len()
        ),
    )?;
    Ok(bytes)
}

/// The ELF header and program headers, from the file's first page. Checks what every
/// /proc/vmcore is: an x86-64 ELF core file whose headers fit that page, with one (merged)
/// PT_NOTE followed by PT_LOADs only.
pub fn headers(m: &mut Machine) -> Result<(Header, Vec<ProgramHeader>)> {
    let head = read(m, 0, 4096)?;
    let hdr = goblin::elf::Elf::parse_header(&head).map_err(|e| anyhow!("ELF header: {e}"))?;
    m.check(
        hdr.e_type == ET_CORE
            && hdr.e_machine == EM_X86_64
            && hdr.e_phentsize == 56
            && hdr.e_phoff == 64
            && 64 + usize::from(hdr.e_phnum) * 56 <= head.len(),
        format_args!("not an x86-64 ELF core with its headers in the first page: {hdr:?}"),
    )?;
    let ctx = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    let phdrs = ProgramHeader::parse(&head, hdr.e_phoff as usize, hdr.e_phnum as usize, ctx)
        .map_err(|e| anyhow!("program headers: {e}"))?;
    m.check(
        phdrs.len() >= 2
            && phdrs[0].p_type == PT_NOTE
            && phdrs[1..].iter().all(|p| p.p_type == PT_LOAD),
        format_args!("expected one PT_NOTE then PT_LOADs: {phdrs:#x?}"),
    )?;
    Ok((hdr, phdrs))
}

/// One ELF note.
pub struct Note {
    /// Without its NUL.
    pub name: Vec<u8>,
    /// n_type.
    pub ty: u32,
    /// The descriptor, without padding.
    pub desc: Vec<u8>,
}

/// ELF notes, parsed by hand (goblin's note iterator wants the whole file), up to a zero
/// `n_namesz` or a note that would run past the end. Returns the notes and the bytes they
/// span: in a merged PT_NOTE every byte belongs to a note (no terminators, no padding beyond
/// 4-byte alignment), so the span must be the segment's size.
pub fn parse_notes(b: &[u8]) -> (Vec<Note>, usize) {
    let mut notes = Vec::new();
    let mut at = 0;
    let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as usize;
    while b.len() - at >= 12 {
        let (namesz, descsz, ty) = (word(at), word(at + 4), word(at + 8) as u32);
        if namesz == 0 {
            break;
        }
        let name_end = at + 12 + namesz.next_multiple_of(4);
        let desc_end = name_end + descsz.next_multiple_of(4);
        if desc_end > b.len() {
            break;
        }
        let name = &b[at + 12..at + 12 + namesz];
        notes.push(Note {
            name: name.strip_suffix(&[0]).unwrap_or(name).to_vec(),
            ty,
            desc: b[name_end..name_end + descsz].to_vec(),
        });
        at = desc_end;
    }
    (notes, at)
}

/// The little-endian u64 at `off` of `b`.
pub fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

#[cfg(test)]
mod tests {
    #[test]
    fn notes_parse_and_span() {
        let mut b = Vec::new();
        for (name, ty, desc) in [
            (&b"CORE\0"[..], 1u32, vec![7u8; 6]),
            (b"VMCOREINFO\0", 0, b"A=1\n".to_vec()),
        ] {
            b.extend_from_slice(&(name.len() as u32).to_le_bytes());
            b.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            b.extend_from_slice(&ty.to_le_bytes());
            b.extend_from_slice(name);
            b.resize(b.len().next_multiple_of(4), 0);
            b.extend_from_slice(&desc);
            b.resize(b.len().next_multiple_of(4), 0);
        }
        let len = b.len();
        b.extend_from_slice(&[0; 12]);
        let (notes, span) = super::parse_notes(&b);
        assert_eq!(span, len);
        assert_eq!(notes.len(), 2);
        assert_eq!(
            (notes[0].name.as_slice(), notes[0].ty, notes[0].desc.len()),
            (&b"CORE"[..], 1, 6)
        );
        assert_eq!(notes[1].desc, b"A=1\n");
    }
}
