//! VmcoreError: why /proc/vmcore cannot be built or read.

use core::fmt;

use abi::Errno;

/// A malformed ELF core header, unreadable old memory, or a limit hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VmcoreError {
    /// Old memory at `phys` (`len` bytes) cannot be read (EIO).
    Unreadable {
        /// First physical address of the read.
        phys: u64,
        /// Its length.
        len: u64,
    },
    /// e_ident does not start with "\x7fELF" (EINVAL).
    BadMagic,
    /// EI_CLASS is not ELFCLASS64 (EINVAL).
    NotElf64 {
        /// The EI_CLASS found.
        class: u8,
    },
    /// EI_DATA is not little endian (EINVAL).
    NotLittleEndian {
        /// The EI_DATA found.
        data: u8,
    },
    /// EI_VERSION or e_version is not EV_CURRENT (EINVAL).
    BadVersion,
    /// e_type is not ET_CORE (EINVAL).
    NotCore {
        /// The e_type found.
        e_type: u16,
    },
    /// e_machine is not EM_X86_64 (EINVAL).
    WrongMachine {
        /// The e_machine found.
        e_machine: u16,
    },
    /// e_ehsize is not 64 (EINVAL).
    BadEhsize(u16),
    /// e_phentsize is not 56 (EINVAL).
    BadPhentsize(u16),
    /// e_phoff points into the ELF header (EINVAL).
    BadPhoff(u64),
    /// e_phnum is 0 (EINVAL).
    NoPhdrs,
    /// More program headers than fit 1 MiB, or PN_XNUM (EINVAL).
    TooManyPhdrs {
        /// The e_phnum found.
        phnum: u16,
        /// The most accepted.
        max: usize,
    },
    /// No PT_LOAD: nothing to dump (EINVAL).
    NoLoad,
    /// A PT_NOTE larger than the per-segment limit (EINVAL).
    NoteTooBig {
        /// Its p_offset.
        phys: u64,
        /// Its p_memsz.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The merged notes exceed their limit (EINVAL).
    NotesTooBig {
        /// Bytes the notes would take.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A program header's offsets or sizes overflow 64 bits (EINVAL).
    Overflow {
        /// Which computation.
        what: &'static str,
    },
    /// A buffer could not be allocated (ENOMEM).
    NoMemory {
        /// Its size.
        bytes: usize,
    },
}

impl VmcoreError {
    /// The errno for this failure: EIO for unreadable memory, ENOMEM for a
    /// failed allocation, EINVAL for everything malformed.
    pub fn errno(&self) -> Errno {
        match self {
            VmcoreError::Unreadable { .. } => Errno::EIO,
            VmcoreError::NoMemory { .. } => Errno::ENOMEM,
            _ => Errno::EINVAL,
        }
    }
}

impl fmt::Display for VmcoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use VmcoreError::*;
        match self {
            Unreadable { phys, len } => {
                write!(f, "cannot read old memory {phys:#x}+{len:#x}")
            }
            BadMagic => f.write_str("ELF core header: bad magic"),
            NotElf64 { class } => write!(f, "ELF core header: class {class}, not ELFCLASS64"),
            NotLittleEndian { data } => {
                write!(f, "ELF core header: data {data}, not little endian")
            }
            BadVersion => f.write_str("ELF core header: version is not EV_CURRENT"),
            NotCore { e_type } => write!(f, "ELF core header: e_type {e_type}, not ET_CORE"),
            WrongMachine { e_machine } => {
                write!(f, "ELF core header: e_machine {e_machine}, not EM_X86_64")
            }
            BadEhsize(v) => write!(f, "ELF core header: e_ehsize {v}, not 64"),
            BadPhentsize(v) => write!(f, "ELF core header: e_phentsize {v}, not 56"),
            BadPhoff(v) => write!(f, "ELF core header: e_phoff {v:#x} inside the ELF header"),
            NoPhdrs => f.write_str("ELF core header: no program headers"),
            TooManyPhdrs { phnum, max } => {
                write!(f, "ELF core header: {phnum} program headers, at most {max}")
            }
            NoLoad => f.write_str("ELF core header: no PT_LOAD"),
            NoteTooBig { phys, size, max } => {
                write!(f, "PT_NOTE at {phys:#x}: {size:#x} bytes, at most {max:#x}")
            }
            NotesTooBig { size, max } => write!(f, "notes: {size:#x} bytes, at most {max:#x}"),
            Overflow { what } => write!(f, "ELF core header: {what} overflows"),
            NoMemory { bytes } => write!(f, "cannot allocate {bytes} bytes"),
        }
    }
}
