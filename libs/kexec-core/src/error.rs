//! KexecError: every failure of the kexec core, each mapped to the errno
//! Linux's kexec_file_load returns for it (`.errno()`), and printable with
//! the reason a user needs.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use abi::Errno;

use crate::bzimage64::BzImageError;
use crate::elf64::Elf64Error;
use crate::hole::HoleError;
use crate::loader::ProbeError;
use crate::purgatory::PurgatoryError;
use crate::sanity::SanityError;

/// A malformed placement request (a loader bug or a hostile header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentError {
    /// memsz is 0.
    Empty,
    /// memsz rounded up to a page overflows.
    SizeOverflow,
    /// The alignment is not a power of two.
    BadAlign(u64),
}

/// Everything that can go wrong planning or loading a kexec image.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KexecError {
    /// A 17th segment (EINVAL).
    TooManySegments {
        /// The segment that did not fit.
        label: &'static str,
        /// KEXEC_SEGMENT_MAX.
        max: usize,
    },
    /// A malformed placement request (EINVAL).
    BadSegment {
        /// The segment.
        label: &'static str,
        /// What is wrong.
        reason: SegmentError,
    },
    /// No memory hole (EADDRNOTAVAIL). Boxed: the diagnosis is the largest error by far,
    /// and every `Result<_, KexecError>` on the load path would otherwise carry its size.
    NoHole(Box<HoleError>),
    /// sanity_check_segment_list (EINVAL or EADDRNOTAVAIL).
    Sanity(SanityError),
    /// No loader accepted the image (ENOEXEC); each loader's reason.
    NoLoader {
        /// (loader name, why it said no), in probe order.
        reasons: Vec<(&'static str, ProbeError)>,
    },
    /// The bzImage64 loader (ENOEXEC or EINVAL).
    BzImage(BzImageError),
    /// The ELF64 loader (ENOEXEC, EINVAL or EADDRNOTAVAIL).
    Elf64(Elf64Error),
    /// Purgatory loading, relocation or symbols (ENOEXEC or EINVAL).
    Purgatory(PurgatoryError),
    /// A page allocation failed (ENOMEM).
    NoMemory {
        /// What the page was for.
        what: &'static str,
    },
    /// The page allocator returned an address that is not page aligned (EINVAL).
    BadPage(u64),
    /// A crash image was loaded without the running kernel's crash setup
    /// (ELF core headers and memory map) in the load context (EINVAL).
    NoCrashSetup,
    /// A hand-over buffer that cannot be added (EINVAL).
    Handover {
        /// Which buffer.
        kind: crate::handover::HandoverKind,
        /// Why not.
        why: &'static str,
    },
}

impl KexecError {
    /// The errno Linux returns for this failure.
    pub fn errno(&self) -> Errno {
        match self {
            KexecError::TooManySegments { .. } | KexecError::BadSegment { .. } => Errno::EINVAL,
            KexecError::NoHole(_) => Errno::EADDRNOTAVAIL,
            KexecError::Sanity(e) => e.errno(),
            KexecError::NoLoader { .. } => Errno::ENOEXEC,
            KexecError::BzImage(e) => e.errno(),
            KexecError::Elf64(e) => e.errno(),
            KexecError::Purgatory(e) => e.errno(),
            KexecError::NoMemory { .. } => Errno::ENOMEM,
            KexecError::BadPage(_) | KexecError::NoCrashSetup | KexecError::Handover { .. } => Errno::EINVAL,
        }
    }
}

impl fmt::Display for KexecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KexecError::TooManySegments { label, max } => {
                write!(
                    f,
                    "too many segments: {label} would be number {}, max {max}",
                    max + 1
                )
            }
            KexecError::BadSegment { label, reason } => match reason {
                SegmentError::Empty => write!(f, "segment {label}: memsz is 0"),
                SegmentError::SizeOverflow => write!(f, "segment {label}: memsz overflows"),
                SegmentError::BadAlign(a) => {
                    write!(f, "segment {label}: alignment {a:#x} is not a power of two")
                }
            },
            KexecError::NoHole(e) => e.fmt(f),
            KexecError::Sanity(e) => e.fmt(f),
            KexecError::NoLoader { reasons } => {
                f.write_str("no loader accepts the image")?;
                for (i, (name, why)) in reasons.iter().enumerate() {
                    write!(f, "{}{name}: {why}", if i == 0 { ": " } else { "; " })?;
                }
                Ok(())
            }
            KexecError::BzImage(e) => write!(f, "bzImage64: {e}"),
            KexecError::Elf64(e) => write!(f, "elf64: {e}"),
            KexecError::Purgatory(e) => write!(f, "purgatory: {e}"),
            KexecError::NoMemory { what } => write!(f, "out of memory allocating {what}"),
            KexecError::BadPage(pa) => write!(f, "page allocator returned unaligned {pa:#x}"),
            KexecError::NoCrashSetup => f.write_str(
                "crash load without ELF core headers and memory map (no crash setup given)",
            ),
            KexecError::Handover { kind, why } => {
                write!(f, "hand-over buffer ({}): {why}", crate::handover::kind_name(*kind))
            }
        }
    }
}

impl From<Box<HoleError>> for KexecError {
    fn from(e: Box<HoleError>) -> Self {
        KexecError::NoHole(e)
    }
}
impl From<SanityError> for KexecError {
    fn from(e: SanityError) -> Self {
        KexecError::Sanity(e)
    }
}
impl From<BzImageError> for KexecError {
    fn from(e: BzImageError) -> Self {
        KexecError::BzImage(e)
    }
}
impl From<Elf64Error> for KexecError {
    fn from(e: Elf64Error) -> Self {
        KexecError::Elf64(e)
    }
}
impl From<PurgatoryError> for KexecError {
    fn from(e: PurgatoryError) -> Self {
        KexecError::Purgatory(e)
    }
}
