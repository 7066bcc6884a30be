//! [`Elf64Error`]: why a file is not a loadable ELF64 kernel, with its errno.

use core::fmt;

use abi::Errno;

use elf_exec::HeaderError;

use super::EntrySource;
use crate::handoff;

/// Why a file is not a loadable ELF64 kernel, or its load parameters are bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Elf64Error {
    /// Not an x86-64 ELF64 ET_EXEC, or its program header table is bad (the checks exec
    /// shares: libs/elf-exec).
    Header(HeaderError),
    /// No PT_LOAD with memsz > 0.
    NoLoadSegment,
    /// A PT_LOAD's file bytes are outside the file.
    LoadOutsideFile {
        index: usize,
        offset: u64,
        filesz: u64,
        len: usize,
    },
    /// A PT_LOAD has filesz > memsz.
    FileszOverMemsz {
        index: usize,
        filesz: u64,
        memsz: u64,
    },
    /// A PT_LOAD's address range wraps around.
    LoadWraps { index: usize },
    /// Two PT_LOADs overlap physically (program header indices).
    LoadsOverlap { first: usize, second: usize },
    /// The PT_LOADs are spread so far apart that the image would be mostly gap.
    ImageTooSparse { extent: u64, file_len: usize },
    /// The entry point is not in the file data of any PT_LOAD.
    EntryNotLoaded { source: EntrySource, addr: u64 },
    /// `kexos_boot64` and the kexos note give different entries (offsets
    /// from the image start).
    EntriesDisagree { symbol: u64, note: u64 },
    /// The section header table is malformed or outside the file.
    BadSectionHeaders {
        shoff: u64,
        shnum: u64,
        shentsize: u16,
    },
    /// The symbol or string table (section index) is malformed.
    BadSymtab { index: usize },
    /// A note is malformed.
    BadNote { reason: &'static str },
    /// cmdline_len (with NUL) > cmdline_size.
    CmdlineTooLong { len: u64, max: u32 },
    /// cmdline_len + 30 > cmdline_size: no room for `elfcorehdr=`.
    CmdlineNoRoom { len: u64, max: u32 },
    /// Fixed placement, but `[start, end)` is not usable memory (or not in
    /// the crash region).
    FixedNotUsable { start: u64, end: u64 },
    /// A PT_INTERP: a dynamically linked user program.
    HasInterpreter { index: usize },
    /// A PT_LOAD ends beyond the 52-bit physical address space.
    BeyondPhysical { index: usize, end: u64 },
    /// No kexos entry (symbol or note) and no Linux/Xen note: nothing says
    /// this is a kernel (a static user program has an ELF entry too).
    NotAKernel,
    /// Not a kexos ELF, and its lowest p_paddr is below 1 MiB, where no
    /// 64-bit kernel is linked (real-mode memory, the BIOS).
    BelowOneMiB { start: u64 },
}

impl From<HeaderError> for Elf64Error {
    fn from(e: HeaderError) -> Self {
        Elf64Error::Header(e)
    }
}

impl Elf64Error {
    /// Format problems ENOEXEC, command line EINVAL, a fixed address that
    /// is not usable EADDRNOTAVAIL (like any other placement failure).
    pub fn errno(&self) -> Errno {
        match self {
            Elf64Error::CmdlineTooLong { .. } | Elf64Error::CmdlineNoRoom { .. } => Errno::EINVAL,
            Elf64Error::FixedNotUsable { .. } => Errno::EADDRNOTAVAIL,
            _ => Errno::ENOEXEC,
        }
    }
}

impl fmt::Display for Elf64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Elf64Error::Header(e) => e.fmt(f),
            Elf64Error::NoLoadSegment => f.write_str("no PT_LOAD segment"),
            Elf64Error::LoadOutsideFile {
                index,
                offset,
                filesz,
                len,
            } => write!(
                f,
                "PT_LOAD {index} data [{offset:#x}, +{filesz:#x}) is outside the {len}-byte file"
            ),
            Elf64Error::FileszOverMemsz {
                index,
                filesz,
                memsz,
            } => write!(
                f,
                "PT_LOAD {index} has filesz {filesz:#x} > memsz {memsz:#x}"
            ),
            Elf64Error::LoadWraps { index } => {
                write!(f, "PT_LOAD {index} wraps around the address space")
            }
            Elf64Error::LoadsOverlap { first, second } => {
                write!(f, "PT_LOAD {first} and {second} overlap physically")
            }
            Elf64Error::ImageTooSparse { extent, file_len } => write!(
                f,
                "PT_LOADs span {extent:#x} bytes of file data, far more than the {file_len}-byte file"
            ),
            Elf64Error::EntryNotLoaded { source, addr } => write!(
                f,
                "{source} {addr:#x} is not in the file data of any PT_LOAD"
            ),
            Elf64Error::EntriesDisagree { symbol, note } => write!(
                f,
                "symbol kexos_boot64 (offset {symbol:#x}) and the kexos note (offset {note:#x}) disagree"
            ),
            Elf64Error::BadSectionHeaders {
                shoff,
                shnum,
                shentsize,
            } => write!(
                f,
                "bad section header table ({shnum} entries of {shentsize} bytes at {shoff:#x})"
            ),
            Elf64Error::BadSymtab { index } => {
                write!(f, "section {index}: bad symbol or string table")
            }
            Elf64Error::BadNote { reason } => write!(f, "bad note: {reason}"),
            Elf64Error::CmdlineTooLong { len, max } => write!(
                f,
                "kernel command line too long ({len} bytes with NUL, max {max})"
            ),
            Elf64Error::CmdlineNoRoom { len, max } => write!(
                f,
                "command line of {len} bytes leaves no room for elfcorehdr= ({} + {len} > {max})",
                handoff::MAX_ELFCOREHDR_STR_LEN
            ),
            Elf64Error::FixedNotUsable { start, end } => write!(
                f,
                "the image must load at its p_paddr [{start:#x}, {end:#x}), which is not usable memory"
            ),
            Elf64Error::HasInterpreter { index } => write!(
                f,
                "program header {index} is PT_INTERP: a dynamically linked program, not a kernel"
            ),
            Elf64Error::BeyondPhysical { index, end } => write!(
                f,
                "PT_LOAD {index} ends at physical {end:#x}, beyond the 52-bit physical address space"
            ),
            Elf64Error::NotAKernel => f.write_str(
                "not a kernel: no kexos entry (symbol kexos_boot64 or a kexos note) and no Linux or Xen ELF note",
            ),
            Elf64Error::BelowOneMiB { start } => write!(
                f,
                "not a kernel: its lowest p_paddr {start:#x} is below 1 MiB"
            ),
        }
    }
}
