//! The ELF64 pieces of a core file: constants, the ELF header fields a core
//! file uses, and program headers (little endian, x86_64).

use crate::bytes::{put, put_u16, put_u32, put_u64};
use le_bytes::{u16_at, u32_at, u64_at};

/// Size of `Elf64_Ehdr`.
pub const EHDR_SIZE: usize = 64;
/// Size of `Elf64_Phdr`.
pub const PHDR_SIZE: usize = 56;
/// `ELFMAG`.
pub const ELFMAG: [u8; 4] = *b"\x7fELF";
/// `EI_CLASS` value for 64-bit files.
pub const ELFCLASS64: u8 = 2;
/// `EI_DATA` value for little endian.
pub const ELFDATA2LSB: u8 = 1;
/// `EV_CURRENT`.
pub const EV_CURRENT: u8 = 1;
/// `e_type` of a core file.
pub const ET_CORE: u16 = 4;
/// `e_machine` of x86_64.
pub const EM_X86_64: u16 = 62;
/// Loadable segment.
pub const PT_LOAD: u32 = 1;
/// Note segment.
pub const PT_NOTE: u32 = 4;
/// Segment flags: executable, writable, readable.
pub const PF_X: u32 = 1;
/// Writable.
pub const PF_W: u32 = 2;
/// Readable.
pub const PF_R: u32 = 4;

/// Offsets of the ELF header fields kexos reads or writes.
pub(crate) mod off {
    pub const CLASS: usize = 4;
    pub const DATA: usize = 5;
    pub const IDENT_VERSION: usize = 6;
    pub const TYPE: usize = 16;
    pub const MACHINE: usize = 18;
    pub const VERSION: usize = 20;
    pub const PHOFF: usize = 32;
    pub const SHOFF: usize = 40;
    pub const EHSIZE: usize = 52;
    pub const PHENTSIZE: usize = 54;
    pub const PHNUM: usize = 56;
    pub const SHENTSIZE: usize = 58;
    pub const SHNUM: usize = 60;
    pub const SHSTRNDX: usize = 62;
}

/// Write a fresh x86_64 ET_CORE header with `phnum` program headers right
/// after it (as crash_prepare_elf64_headers) into `buf[..64]`.
pub(crate) fn write_core_ehdr(buf: &mut [u8], phnum: u16) {
    put(buf, 0, &ELFMAG);
    put(buf, off::CLASS, &[ELFCLASS64, ELFDATA2LSB, EV_CURRENT]);
    put_u16(buf, off::TYPE, ET_CORE);
    put_u16(buf, off::MACHINE, EM_X86_64);
    put_u32(buf, off::VERSION, u32::from(EV_CURRENT));
    put_u64(buf, off::PHOFF, EHDR_SIZE as u64);
    put_u16(buf, off::EHSIZE, EHDR_SIZE as u16);
    put_u16(buf, off::PHENTSIZE, PHDR_SIZE as u16);
    put_u16(buf, off::PHNUM, phnum);
}

/// An `Elf64_Phdr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Phdr {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_paddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

impl Phdr {
    /// Decode the 56 bytes at `buf[off..]`.
    pub fn read(buf: &[u8], off: usize) -> Option<Phdr> {
        let at = |d: usize| off.checked_add(d);
        Some(Phdr {
            p_type: u32_at(buf, off)?,
            p_flags: u32_at(buf, at(4)?)?,
            p_offset: u64_at(buf, at(8)?)?,
            p_vaddr: u64_at(buf, at(16)?)?,
            p_paddr: u64_at(buf, at(24)?)?,
            p_filesz: u64_at(buf, at(32)?)?,
            p_memsz: u64_at(buf, at(40)?)?,
            p_align: u64_at(buf, at(48)?)?,
        })
    }

    /// Encode into the 56 bytes at `buf[off..]`.
    pub fn write(&self, buf: &mut [u8], off: usize) {
        put_u32(buf, off, self.p_type);
        put_u32(buf, off + 4, self.p_flags);
        put_u64(buf, off + 8, self.p_offset);
        put_u64(buf, off + 16, self.p_vaddr);
        put_u64(buf, off + 24, self.p_paddr);
        put_u64(buf, off + 32, self.p_filesz);
        put_u64(buf, off + 40, self.p_memsz);
        put_u64(buf, off + 48, self.p_align);
    }
}

/// The ELF header fields /proc/vmcore checks, decoded from 64 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ehdr {
    pub ident: [u8; 16],
    pub e_type: u16,
    pub e_machine: u16,
    pub e_version: u32,
    pub e_phoff: u64,
    pub e_ehsize: u16,
    pub e_phentsize: u16,
    pub e_phnum: u16,
}

impl Ehdr {
    /// Decode the first 64 bytes of `buf`.
    pub fn read(buf: &[u8; EHDR_SIZE]) -> Ehdr {
        let u16f = |o| u16_at(buf, o).unwrap_or(0);
        let mut ident = [0u8; 16];
        ident.copy_from_slice(&buf[..16]);
        Ehdr {
            ident,
            e_type: u16f(off::TYPE),
            e_machine: u16f(off::MACHINE),
            e_version: u32_at(buf, off::VERSION).unwrap_or(0),
            e_phoff: u64_at(buf, off::PHOFF).unwrap_or(0),
            e_ehsize: u16f(off::EHSIZE),
            e_phentsize: u16f(off::PHENTSIZE),
            e_phnum: u16f(off::PHNUM),
        }
    }
}
