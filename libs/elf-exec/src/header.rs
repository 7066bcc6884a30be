//! [`read_exec_header`]: an x86-64 ELF64 ET_EXEC's header and program header table
//! (System V gABI, "ELF Header" and "Program Header"), with a precise error per check.

use alloc::vec::Vec;
use core::fmt;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::Header;
use goblin::elf::program_header::ProgramHeader;
use goblin::elf64::header::Header as Header64;
use goblin::elf64::program_header::ProgramHeader as ProgramHeader64;

/// Bytes of an ELF64 header.
pub const EHDR_SIZE: usize = 64;
/// Bytes of an ELF64 program header.
pub const PHDR_SIZE: usize = 56;
pub const ELFCLASS64: u8 = 2;
pub const ELFDATA2LSB: u8 = 1;
pub const EV_CURRENT: u8 = 1;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
pub const EM_X86_64: u16 = 62;
pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_NOTE: u32 = 4;

/// goblin reads every table as little-endian ELF64 (EI_CLASS and EI_DATA are checked first).
pub const CTX: Ctx = Ctx { container: Container::Big, le: Endian::Little };

// read_exec_header views the header and program headers through goblin's `elf64` types, which
// are the file's own layout in the host's byte order: little endian, as every file it accepts.
const _: () = assert!(cfg!(target_endian = "little"));

/// An ELF64 header's bytes, aligned for goblin's zero-copy view of them.
#[repr(C, align(8))]
struct AlignedHeader([u8; EHDR_SIZE]);

/// `file[off .. off + len]`, if it is inside the file.
pub fn slice(file: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    file.get(start..end)
}

/// Why a file is not an x86-64 ELF64 executable. All are ENOEXEC, for exec as for kexec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// No `\x7fELF` magic.
    NotElf,
    /// Shorter than an ELF64 header.
    TooShort { len: usize },
    /// EI_CLASS is not ELFCLASS64.
    NotElf64 { class: u8 },
    /// EI_DATA is not little endian.
    NotLittleEndian { data: u8 },
    /// EI_VERSION / e_version is not EV_CURRENT.
    BadVersion { version: u32 },
    /// e_machine is not EM_X86_64.
    NotX86_64 { machine: u16 },
    /// e_type is not ET_EXEC.
    NotExecutable { e_type: u16 },
    /// The program header table is malformed or outside the file.
    BadProgramHeaders { phoff: u64, phnum: u16, phentsize: u16 },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HeaderError::NotElf => f.write_str("not an ELF file (no \\x7fELF magic)"),
            HeaderError::TooShort { len } => {
                write!(f, "file is too short for an ELF64 header ({len} bytes, need {EHDR_SIZE})")
            }
            HeaderError::NotElf64 { class } => write!(f, "ELF class {class} is not ELFCLASS64"),
            HeaderError::NotLittleEndian { data } => write!(f, "ELF data encoding {data} is not little endian"),
            HeaderError::BadVersion { version } => write!(f, "ELF version {version} is not 1"),
            HeaderError::NotX86_64 { machine } => write!(f, "machine {machine:#x} is not x86_64"),
            HeaderError::NotExecutable { e_type: ET_DYN } => {
                f.write_str("ET_DYN (position-independent) images are not supported, need ET_EXEC")
            }
            HeaderError::NotExecutable { e_type } => write!(f, "ELF type {e_type} is not ET_EXEC"),
            HeaderError::BadProgramHeaders { phoff, phnum, phentsize } => {
                write!(f, "bad program header table ({phnum} entries of {phentsize} bytes at {phoff:#x})")
            }
        }
    }
}

/// The PT_LOAD program headers with their indices, in file order; `Err(index)` where a
/// PT_INTERP comes, which exec and kexec both refuse (a dynamically linked program: neither
/// has an interpreter to run, and no kernel has one). In order, so that each caller still
/// reports the first bad header first.
pub fn load_headers(phdrs: &[ProgramHeader]) -> impl Iterator<Item = Result<(usize, &ProgramHeader), usize>> {
    phdrs.iter().enumerate().filter_map(|(i, ph)| match ph.p_type {
        PT_INTERP => Some(Err(i)),
        PT_LOAD => Some(Ok((i, ph))),
        _ => None,
    })
}

/// What [`read_exec_header`] read: the header and every program header, in file order.
#[derive(Clone, Debug)]
pub struct ExecHeader {
    pub header: Header,
    pub phdrs: Vec<ProgramHeader>,
}

/// Checks `file`'s identification and header (x86-64, ELF64, little endian, version 1,
/// ET_EXEC) and reads its program header table (entries of exactly [`PHDR_SIZE`] bytes, all
/// inside the file). Nothing else of the file is read.
pub fn read_exec_header(file: &[u8]) -> Result<ExecHeader, HeaderError> {
    if file.get(..4) != Some(b"\x7fELF") {
        return Err(HeaderError::NotElf);
    }
    if file.len() < EHDR_SIZE {
        return Err(HeaderError::TooShort { len: file.len() });
    }
    if file[4] != ELFCLASS64 {
        return Err(HeaderError::NotElf64 { class: file[4] });
    }
    if file[5] != ELFDATA2LSB {
        return Err(HeaderError::NotLittleEndian { data: file[5] });
    }
    if file[6] != EV_CURRENT {
        return Err(HeaderError::BadVersion { version: u32::from(file[6]) });
    }
    // The identification bytes are checked above. goblin's ELF64 types are read with one copy
    // each, not field by field: scroll's per-field reads were code QEMU translates at a
    // kexec'd boot's first exec (docs/benchmarks.md, "What is left of a kexec'd boot:
    // translation").
    let mut raw = AlignedHeader([0; EHDR_SIZE]);
    raw.0.copy_from_slice(&file[..EHDR_SIZE]);
    let header = Header::from(*Header64::from_bytes(&raw.0));
    if header.e_version != u32::from(EV_CURRENT) {
        return Err(HeaderError::BadVersion { version: header.e_version });
    }
    if header.e_machine != EM_X86_64 {
        return Err(HeaderError::NotX86_64 { machine: header.e_machine });
    }
    if header.e_type != ET_EXEC {
        return Err(HeaderError::NotExecutable { e_type: header.e_type });
    }
    let (phoff, phentsize, phnum) = (header.e_phoff, header.e_phentsize, header.e_phnum);
    let bad = HeaderError::BadProgramHeaders { phoff, phnum, phentsize };
    if phnum > 0 && usize::from(phentsize) != PHDR_SIZE {
        return Err(bad);
    }
    let table = slice(file, phoff, u64::from(phnum) * PHDR_SIZE as u64).ok_or(bad)?;
    // `table` holds exactly phnum entries, so from_bytes's length check cannot fail.
    let phdrs = ProgramHeader64::from_bytes(table, usize::from(phnum)).into_iter().map(ProgramHeader::from).collect();
    Ok(ExecHeader { header, phdrs })
}
