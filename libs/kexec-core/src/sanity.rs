//! sanity_check_segment_list (kernel/kexec_core.c), one rule per check, in
//! Linux's order, so the errno matches when several rules are broken.

use core::fmt;

use crate::kimage::{Kimage, KimageKind};
use crate::types::{page_count, PAGE_OFFSET_MASK};
use abi::Errno;
use memmap::MemoryMap;

/// The machine facts the checks need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SanityLimits {
    /// `KEXEC_DESTINATION_MEMORY_LIMIT`: a segment must end below it.
    pub dest_limit: u64,
    /// `totalram_pages()`: RAM pages of the running system.
    pub total_ram_pages: u64,
}

/// x86_64 `KEXEC_DESTINATION_MEMORY_LIMIT`: `MAXMEM - 1` with 4-level
/// paging (MAX_PHYSMEM_BITS 46, 64 TiB).
pub const X86_64_KEXEC_DESTINATION_MEMORY_LIMIT: u64 = (1 << 46) - 1;

impl SanityLimits {
    /// x86_64 limits for a machine with memory map `map`: Linux's fixed
    /// destination limit, and the RAM pages (free and boot-loader owned).
    pub fn from_memmap(map: &MemoryMap) -> SanityLimits {
        let ram: u64 = map
            .regions()
            .iter()
            .filter(|r| r.kind.is_ram())
            .map(|r| r.len())
            .sum();
        SanityLimits {
            dest_limit: X86_64_KEXEC_DESTINATION_MEMORY_LIMIT,
            total_ram_pages: ram / crate::PAGE_SIZE,
        }
    }
}

/// A rule of the segment list that does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SanityError {
    /// mem or mem + memsz not page aligned (EADDRNOTAVAIL).
    Unaligned { index: usize, mem: u64, memsz: u64 },
    /// mem + memsz wraps (Linux: mstart > mend) (EADDRNOTAVAIL).
    Wraps { index: usize, mem: u64, memsz: u64 },
    /// The segment ends at or above the destination limit (EADDRNOTAVAIL).
    AboveLimit { index: usize, end: u64, limit: u64 },
    /// Two segments' destinations overlap (EINVAL).
    Overlap { first: usize, second: usize },
    /// bufsz > memsz (EINVAL).
    BufTooBig {
        index: usize,
        bufsz: u64,
        memsz: u64,
    },
    /// One segment is over half of RAM (EINVAL).
    SegmentTooLarge {
        index: usize,
        pages: u64,
        ram_pages: u64,
    },
    /// All segments together are over half of RAM (EINVAL).
    TotalTooLarge { pages: u64, ram_pages: u64 },
    /// A crash segment lies outside the reservation (EADDRNOTAVAIL).
    OutsideCrashRegion { index: usize, mem: u64, memsz: u64 },
}

impl SanityError {
    /// Linux's errno for the rule.
    pub fn errno(&self) -> Errno {
        match self {
            SanityError::Unaligned { .. }
            | SanityError::Wraps { .. }
            | SanityError::AboveLimit { .. }
            | SanityError::OutsideCrashRegion { .. } => Errno::EADDRNOTAVAIL,
            SanityError::Overlap { .. }
            | SanityError::BufTooBig { .. }
            | SanityError::SegmentTooLarge { .. }
            | SanityError::TotalTooLarge { .. } => Errno::EINVAL,
        }
    }
}

impl fmt::Display for SanityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SanityError::Unaligned { index, mem, memsz } => write!(
                f,
                "segment {index} [{mem:#x}+{memsz:#x}] is not page aligned"
            ),
            SanityError::Wraps { index, mem, memsz } => {
                write!(f, "segment {index} [{mem:#x}+{memsz:#x}] wraps around")
            }
            SanityError::AboveLimit { index, end, limit } => write!(
                f,
                "segment {index} ends at {end:#x}, above the destination limit {limit:#x}"
            ),
            SanityError::Overlap { first, second } => {
                write!(f, "segments {first} and {second} overlap")
            }
            SanityError::BufTooBig {
                index,
                bufsz,
                memsz,
            } => write!(f, "segment {index} has bufsz {bufsz:#x} > memsz {memsz:#x}"),
            SanityError::SegmentTooLarge {
                index,
                pages,
                ram_pages,
            } => write!(
                f,
                "segment {index} needs {pages} pages, more than half of RAM ({ram_pages} pages)"
            ),
            SanityError::TotalTooLarge { pages, ram_pages } => write!(
                f,
                "segments need {pages} pages in total, more than half of RAM ({ram_pages} pages)"
            ),
            SanityError::OutsideCrashRegion { index, mem, memsz } => write!(
                f,
                "crash segment {index} [{mem:#x}+{memsz:#x}] is outside the crash kernel region"
            ),
        }
    }
}

/// Check every segment rule; see [`SanityError`] for each rule's errno.
pub fn sanity_check_segment_list(
    image: &Kimage<'_>,
    limits: &SanityLimits,
) -> Result<(), SanityError> {
    let segs = image.segments();
    // Destinations must be page aligned and inside the addressable range:
    // relocate_kernel copies whole pages and the identity map covers pages.
    for (index, s) in segs.iter().enumerate() {
        let (mem, memsz) = (s.mem.0, s.memsz);
        let Some(end) = mem.checked_add(memsz) else {
            return Err(SanityError::Wraps { index, mem, memsz });
        };
        if mem & PAGE_OFFSET_MASK != 0 || end & PAGE_OFFSET_MASK != 0 {
            return Err(SanityError::Unaligned { index, mem, memsz });
        }
        if end >= limits.dest_limit {
            return Err(SanityError::AboveLimit {
                index,
                end,
                limit: limits.dest_limit,
            });
        }
    }
    // Overlapping destinations would make the copy order matter and break
    // the source-page invariant.
    for (i, a) in segs.iter().enumerate() {
        for (j, b) in segs.iter().enumerate().skip(i + 1) {
            if a.dest_range().overlaps(&b.dest_range()) {
                return Err(SanityError::Overlap {
                    first: i,
                    second: j,
                });
            }
        }
    }
    // The data must fit in the destination.
    for (index, s) in segs.iter().enumerate() {
        if s.bufsz() > s.memsz {
            return Err(SanityError::BufTooBig {
                index,
                bufsz: s.bufsz(),
                memsz: s.memsz,
            });
        }
    }
    // Source pages are allocated from the running kernel's RAM before the
    // jump: more than half of RAM is sure to fail (or starve the system).
    let half = limits.total_ram_pages / 2;
    let mut total = 0u64;
    for (index, s) in segs.iter().enumerate() {
        let pages = page_count(s.memsz);
        if pages > half {
            return Err(SanityError::SegmentTooLarge {
                index,
                pages,
                ram_pages: limits.total_ram_pages,
            });
        }
        total = total.saturating_add(pages);
        if total > half {
            return Err(SanityError::TotalTooLarge {
                pages: total,
                ram_pages: limits.total_ram_pages,
            });
        }
    }
    // A crash kernel may only use its reservation: the rest is the dump.
    if let KimageKind::Crash { region } = image.kind() {
        for (index, s) in segs.iter().enumerate() {
            if !region.contains_range(&s.dest_range()) {
                return Err(SanityError::OutsideCrashRegion {
                    index,
                    mem: s.mem.0,
                    memsz: s.memsz,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{KexecBuf, SegmentBuf};
    use crate::{MemoryView, PhysAddr, PhysRange};

    const MIB: u64 = 1 << 20;
    const LIM: SanityLimits = SanityLimits {
        dest_limit: 1 << 40,
        total_ram_pages: 64 * MIB / 4096,
    };

    fn image(kind: KimageKind, segs: &[(u64, usize, u64)]) -> Kimage<'static> {
        let view = MemoryView::new([PhysRange::new(0, 1 << 40)], &[]);
        let mut k = Kimage::new(kind);
        for &(mem, bufsz, memsz) in segs {
            // Fixed destinations bypass the hole search: the checks see them raw.
            let kb = KexecBuf::new("t", SegmentBuf::Owned(vec![0; bufsz]), memsz).at(PhysAddr(mem));
            k.add_buffer(kb, &view).unwrap();
        }
        k
    }

    fn check(kind: KimageKind, segs: &[(u64, usize, u64)]) -> Result<(), SanityError> {
        sanity_check_segment_list(&image(kind, segs), &LIM)
    }

    #[test]
    fn accepts_a_good_list() {
        assert_eq!(
            check(
                KimageKind::Normal,
                &[(MIB, 10, 4096), (2 * MIB, 4096, 8192)]
            ),
            Ok(())
        );
    }

    #[test]
    fn each_rule_and_its_errno() {
        use Errno::*;
        let n = KimageKind::Normal;
        let e = check(n, &[(MIB + 8, 1, 4096)]).unwrap_err();
        assert!(matches!(e, SanityError::Unaligned { index: 0, .. }) && e.errno() == EADDRNOTAVAIL);
        let e = check(n, &[(u64::MAX - 4095, 1, 8192)]).unwrap_err();
        assert!(matches!(e, SanityError::Wraps { .. }) && e.errno() == EADDRNOTAVAIL);
        let e = check(n, &[(MIB, 1, 4096), ((1 << 40) - 4096, 1, 4096)]).unwrap_err();
        assert_eq!(
            e,
            SanityError::AboveLimit {
                index: 1,
                end: 1 << 40,
                limit: 1 << 40
            }
        );
        assert_eq!(e.errno(), EADDRNOTAVAIL);
        let e = check(
            n,
            &[(MIB, 1, 8192), (3 * MIB, 1, 4096), (MIB + 4096, 1, 4096)],
        )
        .unwrap_err();
        assert_eq!(
            e,
            SanityError::Overlap {
                first: 0,
                second: 2
            }
        );
        assert_eq!(e.errno(), EINVAL);
        let e = check(n, &[(MIB, 4097, 4096)]).unwrap_err();
        assert!(
            matches!(
                e,
                SanityError::BufTooBig {
                    bufsz: 4097,
                    memsz: 4096,
                    ..
                }
            ) && e.errno() == EINVAL
        );
        let e = check(n, &[(MIB, 0, 32 * MIB + 4096)]).unwrap_err();
        assert!(matches!(e, SanityError::SegmentTooLarge { .. }) && e.errno() == EINVAL);
        let e = check(n, &[(MIB, 0, 16 * MIB), (32 * MIB, 0, 16 * MIB + 4096)]).unwrap_err();
        assert!(matches!(e, SanityError::TotalTooLarge { .. }) && e.errno() == EINVAL);
        // Exactly half is fine.
        assert_eq!(
            check(n, &[(MIB, 0, 16 * MIB), (32 * MIB, 0, 16 * MIB)]),
            Ok(())
        );
    }

    #[test]
    fn errno_order_follows_linux() {
        // Unaligned (EADDRNOTAVAIL) wins over overlap (EINVAL) and bufsz.
        let e = check(
            KimageKind::Normal,
            &[(MIB, 9000, 4096), (MIB, 1, 4096), (5 * MIB + 1, 1, 4096)],
        );
        assert_eq!(e.unwrap_err().errno(), Errno::EADDRNOTAVAIL);
        // Overlap wins over bufsz > memsz.
        let e = check(KimageKind::Normal, &[(MIB, 9000, 4096), (MIB, 1, 4096)]);
        assert!(matches!(e, Err(SanityError::Overlap { .. })));
    }

    #[test]
    fn crash_segments_stay_in_region() {
        let region = PhysRange::new(16 * MIB, 32 * MIB);
        let k = KimageKind::Crash { region };
        assert_eq!(
            check(k, &[(16 * MIB, 1, 4096), (32 * MIB - 4096, 1, 4096)]),
            Ok(())
        );
        let e = check(k, &[(32 * MIB - 4096, 1, 8192)]).unwrap_err();
        assert!(matches!(
            e,
            SanityError::OutsideCrashRegion { index: 0, .. }
        ));
        assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
    }
}
