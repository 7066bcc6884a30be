//! [`elf64_parse`]: the header and program header checks, the entry
//! resolution (symbol, note, e_entry) and what the load needs ([`Elf64Info`]).

use alloc::vec::Vec;
use core::fmt;

use elf_exec::{load_headers, read_exec_header, ExecHeader};

use super::note::{has_kernel_note, kexos_note, KEXOS_NOTE_FLAG_FIXED};
use super::sections::{find_symbol, section_headers};
use super::{slice, Elf64Error, ELF64_KERNEL_ALIGN};

/// x86-64's largest physical address width (MAXPHYADDR is at most 52).
const MAX_PHYS: u64 = 1 << 52;
/// The lowest physical address a non-kexos kernel may be linked at.
const MIN_KERNEL_PADDR: u64 = 0x10_0000;
use crate::types::{align_down, page_align, PAGE_SIZE};

/// The symbol naming kexos's 64-bit boot-protocol entry.
pub const KEXOS_BOOT64_SYMBOL: &str = "kexos_boot64";

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

/// Parse and check `kernel` (the probe, and everything the load needs).
pub fn elf64_parse(kernel: &[u8]) -> Result<Elf64Info, Elf64Error> {
    // The checks exec makes too: x86-64 ELF64 ET_EXEC, the program header table.
    let ExecHeader { header: h, phdrs } = read_exec_header(kernel)?;
    let e_entry = h.e_entry;
    let mut loads = Vec::new();
    for load in load_headers(&phdrs) {
        let (index, ph) = load.map_err(|index| Elf64Error::HasInterpreter { index })?;
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
        if l.paddr + l.memsz > MAX_PHYS {
            return Err(Elf64Error::BeyondPhysical { index, end: l.paddr + l.memsz });
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
        (None, None) => {
            // Nothing kexos: it must look like a Linux vmlinux.
            if !has_kernel_note(kernel, &phdrs, &sections)? {
                return Err(Elf64Error::NotAKernel);
            }
            if image_start < MIN_KERNEL_PADDR {
                return Err(Elf64Error::BelowOneMiB { start: image_start });
            }
            (e_entry_phys - image_start, EntrySource::ElfEntry)
        }
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
