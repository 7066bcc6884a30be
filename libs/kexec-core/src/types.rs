//! Physical addresses, ranges and page arithmetic.

use alloc::vec::Vec;
use core::fmt;

/// Bytes per page; kexec works in whole pages (segments, entry list).
pub const PAGE_SIZE: u64 = 4096;
/// Mask of the in-page offset bits.
pub const PAGE_OFFSET_MASK: u64 = PAGE_SIZE - 1;
/// Most segments a kimage holds (include/linux/kexec.h KEXEC_SEGMENT_MAX).
pub const KEXEC_SEGMENT_MAX: usize = 16;

/// A physical address. Distinct from virtual addresses by type: kexec
/// plans destinations in physical memory the next kernel will see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct PhysAddr(pub u64);

impl PhysAddr {
    /// The raw value.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
    /// `self + n`, or None on overflow.
    pub fn checked_add(self, n: u64) -> Option<PhysAddr> {
        self.0.checked_add(n).map(PhysAddr)
    }
    /// Is the address a multiple of [`PAGE_SIZE`]?
    pub const fn is_page_aligned(self) -> bool {
        self.0 & PAGE_OFFSET_MASK == 0
    }
}

impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// Physical range `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhysRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl PhysRange {
    /// `[start, end)`.
    pub const fn new(start: u64, end: u64) -> PhysRange {
        PhysRange { start, end }
    }
    /// `[start, start + len)`, None on overflow.
    pub fn from_len(start: u64, len: u64) -> Option<PhysRange> {
        start.checked_add(len).map(|end| PhysRange { start, end })
    }
    /// Length in bytes (0 when empty).
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    /// True when nothing is covered.
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    /// Do the two ranges share a byte?
    pub const fn overlaps(&self, o: &PhysRange) -> bool {
        self.start < o.end && o.start < self.end
    }
    /// Is `o` entirely inside `self`?
    pub const fn contains_range(&self, o: &PhysRange) -> bool {
        self.start <= o.start && o.end <= self.end
    }
}

impl fmt::Display for PhysRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}-{:#x}]", self.start, self.end.wrapping_sub(1))
    }
}

/// `v` rounded up to a multiple of `align` (a power of two), None on overflow.
pub fn align_up(v: u64, align: u64) -> Option<u64> {
    let mask = align.checked_sub(1)?;
    v.checked_add(mask).map(|x| x & !mask)
}

/// `v` rounded down to a multiple of `align` (a power of two; 0 acts as 1).
pub const fn align_down(v: u64, align: u64) -> u64 {
    v & !align.wrapping_sub(1)
}

/// `v` rounded up to a page, None on overflow (Linux's PAGE_ALIGN).
pub fn page_align(v: u64) -> Option<u64> {
    align_up(v, PAGE_SIZE)
}

/// Pages needed to hold `bytes` (Linux's PAGE_COUNT), saturating.
pub const fn page_count(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE_SIZE)
}

/// Sort and merge `ranges`, dropping empty ones.
pub fn normalize(mut ranges: Vec<PhysRange>) -> Vec<PhysRange> {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_unstable();
    let mut out: Vec<PhysRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// `ranges` (normalized) minus every range in `holes`; result normalized.
pub fn subtract(ranges: &[PhysRange], holes: &[PhysRange]) -> Vec<PhysRange> {
    let holes = normalize(holes.to_vec());
    let mut out = Vec::with_capacity(ranges.len());
    for r in ranges {
        let mut cur = r.start;
        for h in holes.iter().filter(|h| h.overlaps(r)) {
            if h.start > cur {
                out.push(PhysRange::new(cur, h.start));
            }
            cur = cur.max(h.end);
        }
        if cur < r.end {
            out.push(PhysRange::new(cur, r.end));
        }
    }
    normalize(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_helpers() {
        assert_eq!(align_up(0x1001, 0x1000), Some(0x2000));
        assert_eq!(align_up(0x1000, 0x1000), Some(0x1000));
        assert_eq!(align_up(u64::MAX, 0x1000), None);
        assert_eq!(align_up(5, 0), None);
        assert_eq!(align_down(0x1fff, 0x1000), 0x1000);
        assert_eq!(page_align(1), Some(4096));
        assert_eq!(page_count(4097), 2);
        assert!(PhysAddr(0x3000).is_page_aligned());
        assert_eq!(PhysAddr(u64::MAX).checked_add(1), None);
    }

    #[test]
    fn range_algebra() {
        let r = |a, b| PhysRange::new(a, b);
        assert_eq!(
            normalize(vec![r(10, 20), r(0, 5), r(15, 30), r(7, 7)]),
            [r(0, 5), r(10, 30)]
        );
        assert_eq!(
            subtract(
                &[r(0, 100), r(200, 300)],
                &[r(10, 20), r(90, 210), r(250, 260)]
            ),
            [r(0, 10), r(20, 90), r(210, 250), r(260, 300)]
        );
        assert!(r(0, 10).overlaps(&r(9, 11)) && !r(0, 10).overlaps(&r(10, 11)));
        assert_eq!(r(0x1000, 0x2000).to_string(), "[0x1000-0x1fff]");
    }
}
