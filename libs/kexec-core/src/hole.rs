//! kexec_locate_mem_hole: find a destination for a segment.
//!
//! Linux walks System RAM (top down in reverse, or bottom up), clamps each
//! range to [buf_min, buf_max], aligns, and steps a page at a time past
//! existing segments. kexos subtracts the existing segments first and tests
//! each free gap once, which finds the same or a better fit, and on failure
//! says WHY (the constraint, the largest free gap, the sizes): Linux's bare
//! EADDRNOTAVAIL is a known complaint.

use alloc::boxed::Box;
use core::fmt;

use crate::segment::KexecBuf;
use crate::types::{align_down, align_up, subtract, PhysAddr, PhysRange};

/// Why no hole was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HoleReason {
    /// buf_min > buf_max, or memsz bigger than the window itself.
    EmptyWindow,
    /// No usable memory at all inside [buf_min, buf_max].
    NoMemoryInWindow,
    /// Every free gap in the window is smaller than memsz.
    TooLarge,
    /// A gap is large enough but not once the start is aligned.
    Alignment,
}

/// EADDRNOTAVAIL with the facts needed to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoleError {
    /// The request (without its data).
    pub req: KexecBuf<'static>,
    /// The diagnosis.
    pub reason: HoleReason,
    /// The largest free gap inside the window, if any.
    pub largest_gap: Option<PhysRange>,
    /// Free bytes inside the window in total.
    pub free_in_window: u64,
    /// Set when the search was confined to a crash reservation.
    pub crash_region: Option<PhysRange>,
}

impl fmt::Display for HoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.req;
        write!(
            f,
            "no memory hole for {} (memsz {:#x}, align {:#x}, window [{:#x}-{:#x}], {})",
            r.label,
            r.memsz,
            r.buf_align,
            r.buf_min,
            r.buf_max,
            if r.top_down { "top-down" } else { "bottom-up" }
        )?;
        if let Some(c) = self.crash_region {
            write!(f, " inside crash region {c}")?;
        }
        match self.reason {
            HoleReason::EmptyWindow => write!(f, ": the window itself is smaller than memsz"),
            HoleReason::NoMemoryInWindow => {
                write!(f, ": no free RAM in the window (other segments and reserved ranges cover it)")
            }
            HoleReason::TooLarge => match self.largest_gap {
                Some(g) => write!(
                    f,
                    ": largest free gap is {:#x} bytes at {g} ({:#x} free in total, fragmented)",
                    g.len(),
                    self.free_in_window
                ),
                None => write!(f, ": no free gap"),
            },
            HoleReason::Alignment => write!(
                f,
                ": free gaps are large enough but none fits once aligned to {:#x} (largest {:#x} bytes at {})",
                r.buf_align,
                self.largest_gap.map_or(0, |g| g.len()),
                self.largest_gap.unwrap_or_default()
            ),
        }
    }
}

/// Find `req.memsz` bytes aligned to `req.buf_align` inside
/// `[req.buf_min, req.buf_max]` in `candidates` (sorted usable ranges), not
/// overlapping `taken` (existing segment destinations). `memsz` and
/// `buf_align` are taken as given: [`Kimage::add_buffer`] rounds them to
/// pages first; `req.mem` and `req.buffer` are not looked at.
///
/// The diagnosis is boxed: it is by far the largest error on the load path.
///
/// [`Kimage::add_buffer`]: crate::Kimage::add_buffer
pub fn locate_mem_hole(
    candidates: &[PhysRange],
    taken: &[PhysRange],
    req: &KexecBuf<'_>,
) -> Result<PhysAddr, Box<HoleError>> {
    let align = req.buf_align.max(1);
    let free = subtract(candidates, taken);
    // Each free gap clamped to the window, as inclusive [lo, hi].
    let clamped = free.iter().filter_map(|r| {
        let lo = r.start.max(req.buf_min);
        let hi = r.end.checked_sub(1)?.min(req.buf_max);
        (lo <= hi).then_some((lo, hi))
    });
    let fits = |&(lo, hi): &(u64, u64)| -> Option<u64> {
        let len = (hi - lo).checked_add(1)?; // None only for the full 2^64 space
        if req.memsz == 0 || len < req.memsz {
            return None;
        }
        if req.top_down {
            let start = align_down(hi - (req.memsz - 1), align);
            (start >= lo).then_some(start)
        } else {
            let start = align_up(lo, align)?;
            let last = start.checked_add(req.memsz - 1)?;
            (last <= hi).then_some(start)
        }
    };
    let found = if req.top_down {
        clamped
            .clone()
            .collect::<alloc::vec::Vec<_>>()
            .iter()
            .rev()
            .find_map(fits)
    } else {
        clamped.clone().find_map(|g| fits(&g))
    };
    if let Some(start) = found {
        return Ok(PhysAddr(start));
    }

    // Diagnose.
    let mut largest: Option<PhysRange> = None;
    let mut total = 0u64;
    for (lo, hi) in clamped {
        let g = PhysRange::new(lo, hi.saturating_add(1));
        total = total.saturating_add(g.len());
        if largest.is_none_or(|l| g.len() > l.len()) {
            largest = Some(g);
        }
    }
    let window = req
        .buf_max
        .checked_sub(req.buf_min)
        .map(|w| w.saturating_add(1));
    let reason = match (window, largest) {
        (None, _) => HoleReason::EmptyWindow,
        (Some(w), _) if w < req.memsz => HoleReason::EmptyWindow,
        (_, None) => HoleReason::NoMemoryInWindow,
        (_, Some(g)) if g.len() < req.memsz => HoleReason::TooLarge,
        _ => HoleReason::Alignment,
    };
    Err(Box::new(HoleError {
        req: req.placement(),
        reason,
        largest_gap: largest,
        free_in_window: total,
        crash_region: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    const MIB: u64 = 1 << 20;

    fn r(a: u64, b: u64) -> PhysRange {
        PhysRange::new(a, b)
    }
    fn req(memsz: u64, align: u64, top_down: bool) -> KexecBuf<'static> {
        KexecBuf::new("test", crate::SegmentBuf::Borrowed(&[]), memsz)
            .align(align)
            .top_down(top_down)
    }

    #[test]
    fn fits_top_down_and_bottom_up() {
        let ram = [r(0x1000, 0x9f000), r(MIB, 64 * MIB)];
        assert_eq!(
            locate_mem_hole(&ram, &[], &req(MIB, 4096, true)),
            Ok(PhysAddr(63 * MIB))
        );
        assert_eq!(
            locate_mem_hole(&ram, &[], &req(MIB, 4096, false)),
            Ok(PhysAddr(MIB))
        );
        // Small enough for low memory: bottom up picks it.
        assert_eq!(
            locate_mem_hole(&ram, &[], &req(0x2000, 4096, false)),
            Ok(PhysAddr(0x1000))
        );
    }

    #[test]
    fn window_and_alignment() {
        let ram = [r(0, 64 * MIB)];
        let mut q = req(4 * MIB, 2 * MIB, true);
        q.buf_max = 32 * MIB - 1;
        assert_eq!(locate_mem_hole(&ram, &[], &q), Ok(PhysAddr(28 * MIB)));
        q.buf_max = 33 * MIB; // last byte may be at 33 MiB: start aligned down to 28 MiB.
        assert_eq!(locate_mem_hole(&ram, &[], &q), Ok(PhysAddr(28 * MIB)));
        let mut q = req(MIB, 16 * MIB, false);
        q.buf_min = MIB + 1;
        assert_eq!(locate_mem_hole(&ram, &[], &q), Ok(PhysAddr(16 * MIB)));
    }

    #[test]
    fn skips_existing_segments_and_fragmentation() {
        let ram = [r(0, 16 * MIB)];
        let taken = [r(15 * MIB, 16 * MIB), r(8 * MIB, 9 * MIB)];
        assert_eq!(
            locate_mem_hole(&ram, &taken, &req(6 * MIB, 4096, true)),
            Ok(PhysAddr(9 * MIB))
        );
        // 7 MiB fits only in [0, 8M).
        assert_eq!(
            locate_mem_hole(&ram, &taken, &req(7 * MIB, 4096, true)),
            Ok(PhysAddr(MIB))
        );
        // 9 MiB: 14 MiB free in total but fragmented.
        let e = locate_mem_hole(&ram, &taken, &req(9 * MIB, 4096, true)).unwrap_err();
        assert_eq!(e.reason, HoleReason::TooLarge);
        assert_eq!(e.largest_gap, Some(r(0, 8 * MIB)));
        assert_eq!(e.free_in_window, 14 * MIB);
        let msg = e.to_string();
        assert!(msg.contains("largest free gap is 0x800000 bytes"), "{msg}");
    }

    #[test]
    fn no_hole_reasons() {
        let ram = [r(MIB, 3 * MIB + 4096)];
        // Alignment: 2 MiB fits in the 2 MiB+4K gap only at 1 MiB+..., not 2M-aligned past 3M.
        let e = locate_mem_hole(&ram, &[], &req(2 * MIB, 2 * MIB, true)).unwrap_err();
        assert_eq!(e.reason, HoleReason::Alignment);
        let mut q = req(4096, 4096, true);
        q.buf_min = 16 * MIB;
        assert_eq!(
            locate_mem_hole(&ram, &[], &q).unwrap_err().reason,
            HoleReason::NoMemoryInWindow
        );
        q.buf_max = 16 * MIB + 10;
        assert_eq!(
            locate_mem_hole(&ram, &[], &q).unwrap_err().reason,
            HoleReason::EmptyWindow
        );
        q.buf_max = 0;
        assert_eq!(
            locate_mem_hole(&ram, &[], &q).unwrap_err().reason,
            HoleReason::EmptyWindow
        );
        assert!(locate_mem_hole(&[], &[], &req(4096, 4096, false)).is_err());
    }

    #[test]
    fn extremes_do_not_overflow() {
        let ram = [r(u64::MAX - 0xfff, u64::MAX)];
        let q = req(0x1000, 0x1000, false);
        assert!(locate_mem_hole(&ram, &[], &q).is_err());
        let ram = [r(0, u64::MAX)];
        assert_eq!(
            locate_mem_hole(&ram, &[], &req(0x1000, 0x1000, false)),
            Ok(PhysAddr(0))
        );
        let top = locate_mem_hole(&ram, &[], &req(0x1000, 0x1000, true)).unwrap();
        assert_eq!(top, PhysAddr(u64::MAX - 0x1fff));
    }
}
