//! The first kernel's ELF core header (Linux's crash_prepare_elf64_headers,
//! kernel/crash_core.c): what `elfcorehdr=` points the capture kernel at.

use alloc::vec::Vec;

use crate::elf::{write_core_ehdr, Phdr, EHDR_SIZE, PF_R, PF_W, PF_X, PHDR_SIZE, PT_LOAD, PT_NOTE};

/// Largest ELF core header (ehdr + phdrs) either side accepts: 1 MiB.
pub(crate) const MAX_HEADER_BYTES: usize = 1 << 20;
/// Most program headers in a header of at most 1 MiB (18723).
pub const MAX_PHNUM: usize = (MAX_HEADER_BYTES - EHDR_SIZE) / PHDR_SIZE;

/// A note buffer in the first kernel's physical memory (one CPU's crash
/// notes, or the VMCOREINFO note): becomes one PT_NOTE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoteRange {
    /// Physical address of the buffer.
    pub phys: u64,
    /// Its size in bytes (the whole buffer; the reader finds the real size).
    pub size: u64,
}

/// Sort and merge half-open ranges, dropping empty ones; touching ranges merge.
fn normalize(ranges: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = ranges.iter().copied().filter(|(s, e)| s < e).collect();
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The maximal half-open ranges of `ram` (possibly unsorted or overlapping)
/// that are in no range of `exclude`, sorted. Empty ranges are dropped.
pub fn usable_ranges(ram: &[(u64, u64)], exclude: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let exclude = normalize(exclude);
    let mut out = Vec::new();
    for (mut start, end) in normalize(ram) {
        // Excludes are sorted: cut each RAM range left to right.
        for &(xs, xe) in &exclude {
            if xe <= start || xs >= end {
                continue;
            }
            if xs > start {
                out.push((start, xs));
            }
            start = start.max(xe);
        }
        if start < end {
            out.push((start, end));
        }
    }
    out
}

/// A stretch of the kernel image: `len` bytes mapped at virtual `vaddr`,
/// physically contiguous from `paddr`. Becomes a PT_LOAD with the kernel's
/// own virtual address, so a debugger reads statics at their link address
/// (Linux's need_kernel_map PT_LOAD for _text.._end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelMap {
    pub vaddr: u64,
    pub paddr: u64,
    pub len: u64,
}

/// [`build_elf_headers`] plus one PT_LOAD per `kernel` stretch, placed after
/// the PT_NOTEs and before the RAM PT_LOADs (Linux's order). The kernel's
/// bytes then appear twice in the dump, as in Linux's.
pub fn build_elf_headers_with_kernel(
    ram: &[(u64, u64)],
    exclude: &[(u64, u64)],
    notes: &[NoteRange],
    phys_offset: u64,
    kernel: &[KernelMap],
) -> Vec<u8> {
    let kernel_phdrs = kernel.iter().filter(|k| k.len > 0).map(|k| Phdr {
        p_type: PT_LOAD,
        p_flags: PF_R | PF_W | PF_X,
        p_offset: k.paddr,
        p_vaddr: k.vaddr,
        p_paddr: k.paddr,
        p_filesz: k.len,
        p_memsz: k.len,
        p_align: 0,
    });
    headers_from(notes, kernel_phdrs, ram, exclude, phys_offset)
}

/// The ELF core header of the first kernel: ET_CORE, ELFCLASS64, little
/// endian, EM_X86_64, EV_CURRENT, e_phoff 64, e_phentsize 56.
///
/// One PT_NOTE per `notes` entry (p_offset = p_paddr = phys, p_filesz =
/// p_memsz = size, p_vaddr 0), then one PT_LOAD per range of
/// [`usable_ranges`]`(ram, exclude)`: p_flags RWX, p_offset = p_paddr =
/// start, p_vaddr = phys_offset + start (wrapping), p_filesz = p_memsz =
/// length, p_align 0. Returns the header followed by the program headers.
///
/// At most [`MAX_PHNUM`] program headers are written (what the capture
/// kernel accepts): ranges past that are left out.
pub fn build_elf_headers(
    ram: &[(u64, u64)],
    exclude: &[(u64, u64)],
    notes: &[NoteRange],
    phys_offset: u64,
) -> Vec<u8> {
    headers_from(notes, core::iter::empty(), ram, exclude, phys_offset)
}

fn headers_from(
    notes: &[NoteRange],
    kernel_phdrs: impl Iterator<Item = Phdr>,
    ram: &[(u64, u64)],
    exclude: &[(u64, u64)],
    phys_offset: u64,
) -> Vec<u8> {
    let note_phdrs = notes.iter().map(|n| Phdr {
        p_type: PT_NOTE,
        p_offset: n.phys,
        p_paddr: n.phys,
        p_filesz: n.size,
        p_memsz: n.size,
        ..Phdr::default()
    });
    let load_phdrs = usable_ranges(ram, exclude)
        .into_iter()
        .map(|(start, end)| Phdr {
            p_type: PT_LOAD,
            p_flags: PF_R | PF_W | PF_X,
            p_offset: start,
            p_vaddr: phys_offset.wrapping_add(start),
            p_paddr: start,
            p_filesz: end - start,
            p_memsz: end - start,
            p_align: 0,
        });
    let phdrs: Vec<Phdr> = note_phdrs
        .chain(kernel_phdrs)
        .chain(load_phdrs)
        .take(MAX_PHNUM)
        .collect();
    let mut buf = alloc::vec![0u8; EHDR_SIZE + phdrs.len() * PHDR_SIZE];
    write_core_ehdr(&mut buf, phdrs.len() as u16);
    for (i, p) in phdrs.iter().enumerate() {
        p.write(&mut buf, EHDR_SIZE + i * PHDR_SIZE);
    }
    buf
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
