//! Building a [`Vmcore`] from the ELF core header in old memory (Linux's
//! parse_crash_elf64_headers, merge_note_headers_elf64 and
//! process_ptload_program_headers_elf64).

use alloc::vec::Vec;

use super::{Chunk, OldMemory, Vmcore, VmcoreError, MAX_NOTES_BYTES, MAX_NOTE_SEGMENT};
use crate::bytes::{align_down, align_up, put_u16, put_u64};
use crate::elf::{
    off, Ehdr, Phdr, EHDR_SIZE, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_X86_64, ET_CORE, EV_CURRENT,
    PHDR_SIZE, PT_LOAD, PT_NOTE,
};
use crate::headers::MAX_PHNUM;
use crate::notes::note_segment_size;
use crate::PAGE_SIZE;

/// A zeroed buffer of `len` bytes, or NoMemory.
fn zeroed(len: usize) -> Result<Vec<u8>, VmcoreError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| VmcoreError::NoMemory { bytes: len })?;
    v.resize(len, 0);
    Ok(v)
}

/// Read `len` bytes of old memory at `phys`.
fn read_old(mem: &dyn OldMemory, phys: u64, len: usize) -> Result<Vec<u8>, VmcoreError> {
    let mut buf = zeroed(len)?;
    if phys.checked_add(len as u64).is_none() {
        return Err(VmcoreError::Overflow {
            what: "read address",
        });
    }
    if !mem.read(phys, &mut buf) {
        return Err(VmcoreError::Unreadable {
            phys,
            len: len as u64,
        });
    }
    Ok(buf)
}

/// `Some(v)` or the Overflow error for `what`.
fn checked(v: Option<u64>, what: &'static str) -> Result<u64, VmcoreError> {
    v.ok_or(VmcoreError::Overflow { what })
}

/// Linux's sanity checks on the ELF header of a core file.
fn validate(e: &Ehdr) -> Result<(), VmcoreError> {
    use VmcoreError::*;
    let id = &e.ident;
    if id[..4] != ELFMAG {
        return Err(BadMagic);
    }
    if id[off::CLASS] != ELFCLASS64 {
        return Err(NotElf64 {
            class: id[off::CLASS],
        });
    }
    if id[off::DATA] != ELFDATA2LSB {
        return Err(NotLittleEndian {
            data: id[off::DATA],
        });
    }
    if id[off::IDENT_VERSION] != EV_CURRENT || e.e_version != u32::from(EV_CURRENT) {
        return Err(BadVersion);
    }
    if e.e_type != ET_CORE {
        return Err(NotCore { e_type: e.e_type });
    }
    if e.e_machine != EM_X86_64 {
        return Err(WrongMachine {
            e_machine: e.e_machine,
        });
    }
    if usize::from(e.e_ehsize) != EHDR_SIZE {
        return Err(BadEhsize(e.e_ehsize));
    }
    if usize::from(e.e_phentsize) != PHDR_SIZE {
        return Err(BadPhentsize(e.e_phentsize));
    }
    if e.e_phoff < EHDR_SIZE as u64 {
        return Err(BadPhoff(e.e_phoff));
    }
    match usize::from(e.e_phnum) {
        0 => Err(NoPhdrs),
        n if n > MAX_PHNUM => Err(TooManyPhdrs {
            phnum: e.e_phnum,
            max: MAX_PHNUM,
        }),
        _ => Ok(()),
    }
}

/// Read and validate the ELF header at `elfcorehdr`; returns its bytes too.
fn read_ehdr(elfcorehdr: u64, mem: &dyn OldMemory) -> Result<([u8; EHDR_SIZE], Ehdr), VmcoreError> {
    let mut bytes = [0u8; EHDR_SIZE];
    if elfcorehdr.checked_add(EHDR_SIZE as u64).is_none() {
        return Err(VmcoreError::Overflow { what: "elfcorehdr" });
    }
    if !mem.read(elfcorehdr, &mut bytes) {
        return Err(VmcoreError::Unreadable {
            phys: elfcorehdr,
            len: EHDR_SIZE as u64,
        });
    }
    let ehdr = Ehdr::read(&bytes);
    validate(&ehdr)?;
    Ok((bytes, ehdr))
}

/// Read the program headers of a validated header.
fn read_phdrs(elfcorehdr: u64, e: &Ehdr, mem: &dyn OldMemory) -> Result<Vec<Phdr>, VmcoreError> {
    let at = checked(elfcorehdr.checked_add(e.e_phoff), "e_phoff")?;
    let n = usize::from(e.e_phnum);
    let raw = read_old(mem, at, n * PHDR_SIZE)?;
    let mut phdrs = Vec::new();
    phdrs
        .try_reserve_exact(n)
        .map_err(|_| VmcoreError::NoMemory {
            bytes: n * PHDR_SIZE,
        })?;
    phdrs.extend((0..n).filter_map(|i| Phdr::read(&raw, i * PHDR_SIZE)));
    Ok(phdrs)
}

/// Read every PT_NOTE and concatenate their real contents (each cut at its
/// terminator, as update_note_header_size_elf64; empty ones contribute
/// nothing).
fn merge_notes(phdrs: &[Phdr], mem: &dyn OldMemory) -> Result<Vec<u8>, VmcoreError> {
    let mut merged = Vec::new();
    for p in phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
        if p.p_memsz > MAX_NOTE_SEGMENT {
            let (phys, size, max) = (p.p_offset, p.p_memsz, MAX_NOTE_SEGMENT);
            return Err(VmcoreError::NoteTooBig { phys, size, max });
        }
        let seg = read_old(mem, p.p_offset, p.p_memsz as usize)?;
        let real = note_segment_size(&seg);
        let size = (merged.len() + real) as u64;
        if size > MAX_NOTES_BYTES {
            return Err(VmcoreError::NotesTooBig {
                size,
                max: MAX_NOTES_BYTES,
            });
        }
        merged
            .try_reserve(real)
            .map_err(|_| VmcoreError::NoMemory {
                bytes: size as usize,
            })?;
        merged.extend_from_slice(&seg[..real]);
    }
    Ok(merged)
}

/// Place each PT_LOAD in its page-rounded chunk after `data_start`: sets the
/// new p_offsets, returns the chunks (empty ones left out) and the file size.
fn layout_loads(loads: &mut [Phdr], data_start: u64) -> Result<(Vec<Chunk>, u64), VmcoreError> {
    let mut chunks = Vec::new();
    let bytes = loads.len() * core::mem::size_of::<Chunk>();
    chunks
        .try_reserve_exact(loads.len())
        .map_err(|_| VmcoreError::NoMemory { bytes })?;
    let mut off = data_start;
    for p in loads {
        let paddr = p.p_offset;
        let start = align_down(paddr, PAGE_SIZE);
        let end = checked(paddr.checked_add(p.p_memsz), "PT_LOAD end")?;
        let end = checked(align_up(end, PAGE_SIZE), "PT_LOAD end")?;
        p.p_offset = checked(off.checked_add(paddr - start), "file offset")?;
        let file_end = checked(off.checked_add(end - start), "file size")?;
        if file_end > off {
            chunks.push(Chunk {
                file_start: off,
                file_end,
                phys: start,
            });
        }
        off = file_end;
    }
    Ok((chunks, off))
}

/// The /proc/vmcore header: the original ELF header with e_phnum set (and
/// e_phoff 64, no sections), the merged PT_NOTE at `notes_off`, the PT_LOADs.
fn build_header(
    orig: &[u8; EHDR_SIZE],
    notes: u64,
    notes_off: u64,
    loads: &[Phdr],
) -> Result<Vec<u8>, VmcoreError> {
    let phnum = 1 + loads.len();
    let mut h = zeroed(EHDR_SIZE + phnum * PHDR_SIZE)?;
    h[..EHDR_SIZE].copy_from_slice(orig);
    put_u64(&mut h, off::PHOFF, EHDR_SIZE as u64);
    put_u64(&mut h, off::SHOFF, 0);
    for f in [off::SHENTSIZE, off::SHNUM, off::SHSTRNDX] {
        put_u16(&mut h, f, 0);
    }
    put_u16(&mut h, off::PHNUM, phnum as u16);
    let note = Phdr {
        p_type: PT_NOTE,
        p_offset: notes_off,
        p_filesz: notes,
        p_memsz: notes,
        p_align: 4,
        ..Phdr::default()
    };
    note.write(&mut h, EHDR_SIZE);
    for (i, p) in loads.iter().enumerate() {
        p.write(&mut h, EHDR_SIZE + (i + 1) * PHDR_SIZE);
    }
    Ok(h)
}

impl Vmcore {
    /// Build /proc/vmcore from the ELF core header at physical `elfcorehdr`.
    ///
    /// Reads and validates the ELF header, then the program headers, then
    /// every PT_NOTE (p_memsz bytes at p_offset), each cut to its real size
    /// (notes up to n_namesz == 0, a note running past p_memsz dropped) and
    /// merged into one PT_NOTE. Program headers other than PT_NOTE and
    /// PT_LOAD are dropped; PT_LOADs keep their fields except p_offset.
    /// See the module documentation for the layout.
    pub fn from_old_memory(elfcorehdr: u64, mem: &dyn OldMemory) -> Result<Vmcore, VmcoreError> {
        let (orig, ehdr) = read_ehdr(elfcorehdr, mem)?;
        let phdrs = read_phdrs(elfcorehdr, &ehdr, mem)?;
        let notes = merge_notes(&phdrs, mem)?;
        let mut loads: Vec<Phdr> = phdrs.into_iter().filter(|p| p.p_type == PT_LOAD).collect();
        if loads.is_empty() {
            return Err(VmcoreError::NoLoad);
        }
        let header_len = (EHDR_SIZE + (1 + loads.len()) * PHDR_SIZE) as u64;
        let elfsz = checked(align_up(header_len, PAGE_SIZE), "header size")?;
        let notes_sz = checked(align_up(notes.len() as u64, PAGE_SIZE), "notes size")?;
        let notes_end = elfsz + notes_sz;
        let (chunks, size) = layout_loads(&mut loads, notes_end)?;
        let header = build_header(&orig, notes.len() as u64, elfsz, &loads)?;
        let ram_bytes = distinct_bytes(&loads);
        Ok(Vmcore {
            header,
            elfsz,
            notes,
            notes_end,
            chunks,
            size,
            ram_bytes,
            loads: loads.len(),
        })
    }
}

/// Bytes of physical memory the PT_LOADs cover, each byte once (the
/// kernel-map PT_LOAD repeats RAM another PT_LOAD holds).
fn distinct_bytes(loads: &[Phdr]) -> u64 {
    let mut r: Vec<(u64, u64)> = loads
        .iter()
        .map(|p| (p.p_paddr, p.p_paddr.saturating_add(p.p_memsz)))
        .collect();
    r.sort_unstable();
    let (mut total, mut reach) = (0u64, 0u64);
    for (s, e) in r {
        let s = s.max(reach);
        if e > s {
            total = total.saturating_add(e - s);
            reach = e;
        }
    }
    total
}
