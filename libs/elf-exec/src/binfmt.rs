//! [`exec_plan`]: what exec maps for a static x86-64 program, as Linux's binfmt_elf
//! (load_elf_binary) would, without an interpreter.

use alloc::vec::Vec;
use core::fmt;

use abi::Errno;

use crate::header::{load_headers, read_exec_header, HeaderError};

const PAGE: u64 = 4096;

/// The part of a user address space a program's PT_LOADs may use, and how much memory one
/// image may map. Made with [`UserLimits::new`], which checks them at compile time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserLimits {
    min: u64,
    limit: u64,
    max_total: u64,
}

impl UserLimits {
    /// Segments in `[min, limit)` (both page aligned, `min` above 0), at most `max_total`
    /// bytes of pages in all. Panics (at compile time in a `const`) otherwise.
    pub const fn new(min: u64, limit: u64, max_total: u64) -> UserLimits {
        assert!(min > 0 && min.is_multiple_of(PAGE) && limit.is_multiple_of(PAGE) && min < limit);
        UserLimits { min, limit, max_total }
    }

    /// Lowest address a segment may use.
    pub const fn min(&self) -> u64 {
        self.min
    }

    /// Highest address + 1 a segment may use.
    pub const fn limit(&self) -> u64 {
        self.limit
    }

    /// Most bytes of pages (each segment's [`ExecSegment::pages`]) one image may map.
    pub const fn max_total(&self) -> u64 {
        self.max_total
    }
}

/// kexos's user address space (kernel/src/proc): the page at 0 stays unmapped; programs end
/// well below the stack and far from the end of the canonical lower half (a `syscall` in the
/// last page would make `sysret` fault in ring 0 on a non-canonical RIP); 1 GiB of pages at
/// most.
pub const KEXOS_USER: UserLimits = UserLimits::new(0x1000, 0x7000_0000_0000, 1 << 30);

/// One PT_LOAD to map: the pages of `[vaddr, vaddr + memsz)`, the file's
/// `[offset, offset + filesz)` copied to `vaddr`, the rest zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecSegment {
    /// Program header index.
    pub index: usize,
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    /// PF_W.
    pub write: bool,
    /// PF_X.
    pub exec: bool,
}

impl ExecSegment {
    /// The file bytes to copy to `vaddr`: always Some for a segment [`exec_plan`] returned.
    pub fn data<'a>(&self, file: &'a [u8]) -> Option<&'a [u8]> {
        crate::header::slice(file, self.offset, self.filesz)
    }

    /// The first byte of the first page and the end of the last page the segment touches
    /// (one page for memsz 0 at an address that is not page aligned, as the kernel maps it).
    pub fn pages(&self) -> (u64, u64) {
        let end = self.vaddr.saturating_add(self.memsz);
        (self.vaddr & !(PAGE - 1), end.checked_next_multiple_of(PAGE).unwrap_or(!(PAGE - 1)))
    }
}

/// What exec maps for a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecPlan {
    /// Every PT_LOAD, in program header order (memsz 0 included).
    pub segments: Vec<ExecSegment>,
    /// e_entry.
    pub entry: u64,
    /// The first page after the highest segment: where the heap (brk) starts.
    pub brk_start: u64,
}

/// Why a file cannot be exec'd. [`ExecError::errno`] is Linux's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecError {
    /// Not an x86-64 ELF64 ET_EXEC.
    Header(HeaderError),
    /// A PT_INTERP: a dynamically linked program, and kexos has no program interpreter.
    HasInterpreter { index: usize },
    /// A PT_LOAD's file bytes are outside the file, or past its memory size.
    BadFileData { index: usize, offset: u64, filesz: u64, memsz: u64 },
    /// A PT_LOAD outside `[min, limit)` of [`UserLimits`] (or wrapping around).
    OutsideUserSpace { index: usize, vaddr: u64, memsz: u64 },
    /// The PT_LOADs' pages add up to more than [`UserLimits::max_total`].
    TooLarge { max: u64 },
    /// No PT_LOAD with memory.
    NoLoadSegment,
    /// e_entry is below the lowest user address or at or above the image's end.
    EntryOutside { entry: u64 },
}

impl ExecError {
    /// ENOEXEC for a file that is not a program we can run, ENOMEM for one too large.
    pub fn errno(&self) -> Errno {
        match self {
            ExecError::TooLarge { .. } => Errno::ENOMEM,
            _ => Errno::ENOEXEC,
        }
    }
}

impl From<HeaderError> for ExecError {
    fn from(e: HeaderError) -> Self {
        ExecError::Header(e)
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExecError::Header(e) => e.fmt(f),
            ExecError::HasInterpreter { index } => write!(
                f,
                "program header {index} is PT_INTERP: a dynamically linked program (kexos runs static programs only)"
            ),
            ExecError::BadFileData { index, offset, filesz, memsz } => write!(
                f,
                "PT_LOAD {index}: file data [{offset:#x}, +{filesz:#x}) is outside the file or larger than memsz {memsz:#x}"
            ),
            ExecError::OutsideUserSpace { index, vaddr, memsz } => {
                write!(f, "PT_LOAD {index}: [{vaddr:#x}, +{memsz:#x}) is outside the program's part of the address space")
            }
            ExecError::TooLarge { max } => write!(f, "the PT_LOADs' pages add up to more than {} MiB", max >> 20),
            ExecError::NoLoadSegment => f.write_str("no PT_LOAD segment"),
            ExecError::EntryOutside { entry } => write!(f, "entry {entry:#x} is outside the image (below its lowest address or past its end)"),
        }
    }
}

/// Checks `file` as a static x86-64 program and says what to map. Only the header and the
/// program header table are read.
pub fn exec_plan(file: &[u8], limits: &UserLimits) -> Result<ExecPlan, ExecError> {
    let h = read_exec_header(file)?;
    let mut segments = Vec::new();
    let (mut top, mut total) = (0u64, 0u64);
    for load in load_headers(&h.phdrs) {
        let (index, ph) = load.map_err(|index| ExecError::HasInterpreter { index })?;
        let s = ExecSegment {
            index,
            vaddr: ph.p_vaddr,
            memsz: ph.p_memsz,
            offset: ph.p_offset,
            filesz: ph.p_filesz,
            write: ph.is_write(),
            exec: ph.is_executable(),
        };
        if s.filesz > s.memsz || s.data(file).is_none() {
            return Err(ExecError::BadFileData { index, offset: s.offset, filesz: s.filesz, memsz: s.memsz });
        }
        let end = s.vaddr.checked_add(s.memsz);
        if s.vaddr < limits.min || end.is_none_or(|e| e > limits.limit) {
            return Err(ExecError::OutsideUserSpace { index, vaddr: s.vaddr, memsz: s.memsz });
        }
        // Pages, not p_memsz: that is what the kernel maps (many tiny PT_LOADs each
        // crossing a page boundary would map far more than their memsz).
        let (first, end) = s.pages();
        total = total.saturating_add(end - first);
        if total > limits.max_total {
            return Err(ExecError::TooLarge { max: limits.max_total });
        }
        top = top.max(s.vaddr + s.memsz);
        segments.push(s);
    }
    if segments.iter().all(|s| s.memsz == 0) {
        return Err(ExecError::NoLoadSegment);
    }
    let entry = h.header.e_entry;
    if entry < limits.min || entry >= top {
        return Err(ExecError::EntryOutside { entry });
    }
    Ok(ExecPlan { segments, entry, brk_start: top.next_multiple_of(PAGE) })
}
