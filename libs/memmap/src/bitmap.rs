//! A physical frame allocator over caller-provided bitmap storage.

use alloc::vec::Vec;
use core::fmt;

use crate::FRAME_SIZE;

/// Why [`FrameBitmap::free`] refused an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame is already free (double free) or was never handed out.
    NotAllocated,
    /// The address is not at a frame boundary.
    Misaligned,
    /// The address lies outside the frames this bitmap manages.
    OutOfRange,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameError::NotAllocated => "frame is not allocated",
            FrameError::Misaligned => "address is not frame aligned",
            FrameError::OutOfRange => "address outside the managed range",
        })
    }
}

/// One bit per 4 KiB frame starting at `base`: 1 = used or reserved,
/// 0 = free. The storage is borrowed so the kernel can place it in physical
/// memory before it has a heap.
#[derive(Debug)]
pub struct FrameBitmap<'a> {
    bits: &'a mut [u64],
    base: u64,
    frames: usize,
    free: usize,
    /// No free frame lies in a word below this index.
    hint: usize,
}

impl<'a> FrameBitmap<'a> {
    /// Manage `frames` frames at `base`, `base + 4096`, ... with every frame
    /// reserved. An unaligned `base` is rounded up to a frame boundary (the
    /// partial first frame is dropped). `frames` is capped to what `bits`
    /// can hold and to the address space.
    pub fn new(bits: &'a mut [u64], base: u64, frames: usize) -> FrameBitmap<'a> {
        let (base, frames) = match base.checked_next_multiple_of(FRAME_SIZE) {
            Some(b) if b != base => (b, frames.saturating_sub(1)),
            Some(b) => (b, frames),
            None => (!(FRAME_SIZE - 1), 0),
        };
        let addressable = usize::try_from((u64::MAX - base) / FRAME_SIZE).unwrap_or(usize::MAX);
        let frames = frames.min(bits.len().saturating_mul(64)).min(addressable);
        bits.fill(u64::MAX);
        FrameBitmap {
            bits,
            base,
            frames,
            free: 0,
            hint: 0,
        }
    }

    /// Words of storage needed for `frames` frames.
    pub const fn storage_words(frames: usize) -> usize {
        frames.div_ceil(64)
    }

    /// Frames managed.
    pub fn total_frames(&self) -> usize {
        self.frames
    }

    /// Frames currently free.
    pub fn free_frames(&self) -> usize {
        self.free
    }

    /// Physical address of frame 0.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Mark the whole frames inside `[start, end)` free (rounded inward).
    pub fn release(&mut self, start: u64, end: u64) {
        let first = self.frame_ceil(start);
        let last = self.frame_floor(end);
        if first < last {
            self.set_range(first, last, false);
        }
    }

    /// Mark every frame touching `[start, end)` used (rounded outward).
    pub fn reserve(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let first = self.frame_floor(start);
        let last = self.frame_ceil(end);
        if first < last {
            self.set_range(first, last, true);
        }
    }

    /// Allocate one frame; returns its physical address.
    pub fn alloc(&mut self) -> Option<u64> {
        let frame = self
            .find_free(self.hint, self.frames)
            .or_else(|| self.find_free(0, self.frames))?;
        self.take(frame, 1);
        Some(self.addr(frame))
    }

    /// Allocate the frame at `addr` itself, if it is free (kexec places a
    /// segment page straight into its destination frame this way). False
    /// when it is in use or outside the bitmap.
    pub fn alloc_at(&mut self, addr: u64) -> bool {
        match self.frame_of(addr) {
            Ok(frame) if !self.is_used(frame) => {
                self.take(frame, 1);
                true
            }
            _ => false,
        }
    }

    /// The runs of at least `min_frames` used frames, as `[start, end)`
    /// physical ranges, ascending (kexec places segments around them, where
    /// it can write them in place).
    pub fn used_runs(&self, min_frames: usize) -> Vec<(u64, u64)> {
        let mut runs = Vec::new();
        let mut start = None;
        let mut f = 0;
        while f < self.frames {
            let word = self.bits[f / 64];
            // Whole words at once when they are all free or all used.
            let step = if f % 64 == 0 && f + 64 <= self.frames && (word == 0 || word == u64::MAX) { 64 } else { 1 };
            let used = self.is_used(f);
            match (used, start) {
                (true, None) => start = Some(f),
                (false, Some(s)) => {
                    if f - s >= min_frames {
                        runs.push((self.addr(s), self.addr(f)));
                    }
                    start = None;
                }
                _ => {}
            }
            f += step;
        }
        if let Some(s) = start.filter(|&s| self.frames - s >= min_frames) {
            runs.push((self.addr(s), self.addr(self.frames)));
        }
        runs
    }

    /// Allocate one frame whose end is at or below `limit` (e.g. 4 GiB for
    /// 32-bit DMA or the real-mode trampoline below 1 MiB).
    pub fn alloc_below(&mut self, limit: u64) -> Option<u64> {
        let end = self.frame_floor(limit);
        let frame = self.find_free(0, end)?;
        self.take(frame, 1);
        Some(self.addr(frame))
    }

    /// Allocate `count` contiguous frames whose first address is a multiple
    /// of `align` (a power of two; values below 4096 mean 4096). `None` for
    /// `count == 0`, a bad alignment or no fitting run.
    pub fn alloc_contiguous(&mut self, count: usize, align: u64) -> Option<u64> {
        if count == 0 || !align.is_power_of_two() {
            return None;
        }
        let align = align.max(FRAME_SIZE);
        let mut frame = self.next_aligned(0, align)?;
        while frame.checked_add(count)? <= self.frames {
            match (frame..frame + count).find(|&f| self.is_used(f)) {
                None => {
                    self.take(frame, count);
                    return Some(self.addr(frame));
                }
                Some(used) => {
                    let next_free = self.find_free(used + 1, self.frames)?;
                    frame = self.next_aligned(next_free, align)?;
                }
            }
        }
        None
    }

    /// Return the frame at `addr`. Freeing a frame that is not in use
    /// reports [`FrameError::NotAllocated`] and changes nothing.
    pub fn free(&mut self, addr: u64) -> Result<(), FrameError> {
        let frame = self.frame_of(addr)?;
        if !self.is_used(frame) {
            return Err(FrameError::NotAllocated);
        }
        self.set_range(frame, frame + 1, false);
        Ok(())
    }

    /// Return `count` frames starting at `addr`; all must be in use, else
    /// nothing changes.
    pub fn free_contiguous(&mut self, addr: u64, count: usize) -> Result<(), FrameError> {
        let first = self.frame_of(addr)?;
        let end = first
            .checked_add(count)
            .filter(|&e| e <= self.frames)
            .ok_or(FrameError::OutOfRange)?;
        if (first..end).any(|f| !self.is_used(f)) {
            return Err(FrameError::NotAllocated);
        }
        self.set_range(first, end, false);
        Ok(())
    }

    /// Is the frame at `addr` free? (`false` outside the managed range.)
    pub fn is_free(&self, addr: u64) -> bool {
        self.frame_of(addr).is_ok_and(|f| !self.is_used(f))
    }

    // ---- internals -------------------------------------------------------

    fn addr(&self, frame: usize) -> u64 {
        self.base + frame as u64 * FRAME_SIZE
    }

    /// Frame index of an exact frame address.
    fn frame_of(&self, addr: u64) -> Result<usize, FrameError> {
        let off = addr.checked_sub(self.base).ok_or(FrameError::OutOfRange)?;
        if off % FRAME_SIZE != 0 {
            return Err(FrameError::Misaligned);
        }
        usize::try_from(off / FRAME_SIZE)
            .ok()
            .filter(|&f| f < self.frames)
            .ok_or(FrameError::OutOfRange)
    }

    /// Index of the first frame starting at or after `addr`, clamped to `0..=frames`.
    fn frame_ceil(&self, addr: u64) -> usize {
        let off = addr.saturating_sub(self.base);
        self.clamp(off / FRAME_SIZE + u64::from(!off.is_multiple_of(FRAME_SIZE)))
    }

    /// Index of the frame containing `addr`, clamped to `0..=frames`.
    fn frame_floor(&self, addr: u64) -> usize {
        self.clamp(addr.saturating_sub(self.base) / FRAME_SIZE)
    }

    fn clamp(&self, frame: u64) -> usize {
        usize::try_from(frame)
            .unwrap_or(usize::MAX)
            .min(self.frames)
    }

    /// First frame index >= `from` whose address is a multiple of `align`.
    fn next_aligned(&self, from: usize, align: u64) -> Option<usize> {
        let addr = self
            .base
            .checked_add((from as u64).checked_mul(FRAME_SIZE)?)?;
        let aligned = addr.checked_next_multiple_of(align)?;
        usize::try_from((aligned - self.base) / FRAME_SIZE).ok()
    }

    fn is_used(&self, frame: usize) -> bool {
        self.bits
            .get(frame / 64)
            .is_none_or(|w| w & (1 << (frame % 64)) != 0)
    }

    /// First free frame in `[from, end)`, scanning a word at a time.
    fn find_free(&self, from: usize, end: usize) -> Option<usize> {
        let end = end.min(self.frames);
        let mut word = from / 64;
        while word * 64 < end {
            let mut bits = *self.bits.get(word)?;
            if word == from / 64 {
                bits |= (1u64 << (from % 64)) - 1; // ignore frames below `from`
            }
            if bits != u64::MAX {
                let frame = word * 64 + bits.trailing_ones() as usize;
                return (frame < end).then_some(frame);
            }
            word += 1;
        }
        None
    }

    /// Mark `count` free frames at `frame` used and move the hint.
    fn take(&mut self, frame: usize, count: usize) {
        self.set_range(frame, frame + count, true);
        if frame / 64 == self.hint {
            self.hint = (frame + count) / 64;
        }
    }

    /// Set (used) or clear (free) frames `[first, last)`, keeping the free
    /// count exact and the hint conservative.
    fn set_range(&mut self, first: usize, last: usize, used: bool) {
        let mut f = first;
        while f < last {
            let word = f / 64;
            let bit = f % 64;
            let n = (64 - bit).min(last - f);
            let mask = if n == 64 {
                u64::MAX
            } else {
                ((1u64 << n) - 1) << bit
            };
            let Some(w) = self.bits.get_mut(word) else {
                return;
            };
            let before = (*w & mask).count_ones() as usize;
            if used {
                *w |= mask;
                self.free -= n - before;
            } else {
                *w &= !mask;
                self.free += before;
                self.hint = self.hint.min(word);
            }
            f += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    const MB: u64 = 1 << 20;

    #[test]
    fn starts_reserved() {
        let mut store = vec![0u64; FrameBitmap::storage_words(100)];
        assert_eq!(store.len(), 2);
        let mut b = FrameBitmap::new(&mut store, 0, 100);
        assert_eq!(b.total_frames(), 100);
        assert_eq!(b.free_frames(), 0);
        assert_eq!(b.alloc(), None);
        b.release(0, 100 * 4096);
        assert_eq!(b.free_frames(), 100);
        b.release(0, u64::MAX);
        assert_eq!(
            b.free_frames(),
            100,
            "frames past the end are never released"
        );
    }

    #[test]
    fn alloc_at_takes_exactly_that_frame_once() {
        let mut store = vec![0u64; 3];
        let mut b = FrameBitmap::new(&mut store, MB, 130);
        b.release(0, u64::MAX);
        assert!(b.alloc_at(MB + 5 * 4096));
        assert_eq!(b.free_frames(), 129);
        assert!(!b.alloc_at(MB + 5 * 4096), "already taken");
        assert!(!b.alloc_at(MB + 5 * 4096 + 8), "misaligned");
        assert!(!b.alloc_at(MB - 4096), "below the bitmap");
        assert!(!b.alloc_at(MB + 130 * 4096), "past its end");
        assert_eq!(b.free_frames(), 129);
        let all: Vec<u64> = (0..129).map(|_| b.alloc().unwrap()).collect();
        assert!(!all.contains(&(MB + 5 * 4096)), "never handed out again");
        b.free(MB + 5 * 4096).unwrap();
        assert_eq!(b.free_frames(), 1);
    }

    #[test]
    fn used_runs_finds_the_long_ones() {
        let mut store = vec![0u64; 4];
        let mut b = FrameBitmap::new(&mut store, MB, 256);
        b.release(0, u64::MAX);
        b.reserve(MB + 3 * 4096, MB + 5 * 4096); // 2 frames
        b.reserve(MB + 60 * 4096, MB + 200 * 4096); // 140 frames, across words
        b.reserve(MB + 250 * 4096, MB + 256 * 4096); // 6 frames up to the end
        assert_eq!(b.used_runs(3), vec![(MB + 60 * 4096, MB + 200 * 4096), (MB + 250 * 4096, MB + 256 * 4096)]);
        assert_eq!(b.used_runs(1).len(), 3);
        assert_eq!(b.used_runs(141), vec![]);
    }

    #[test]
    fn exhaustion_and_reuse() {
        let mut store = vec![0u64; 3];
        let mut b = FrameBitmap::new(&mut store, MB, 130);
        b.release(0, u64::MAX);
        let mut got: Vec<u64> = (0..130).map(|_| b.alloc().unwrap()).collect();
        assert_eq!(b.alloc(), None);
        assert_eq!(b.free_frames(), 0);
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 130);
        assert_eq!(got[0], MB);
        assert_eq!(got[129], MB + 129 * 4096);
        b.free(MB + 77 * 4096).unwrap();
        assert_eq!(b.alloc(), Some(MB + 77 * 4096));
        for a in got {
            b.free(a).unwrap();
        }
        assert_eq!(b.free_frames(), 130);
    }

    #[test]
    fn release_rounds_inward_reserve_outward() {
        let mut store = vec![0u64; 1];
        let mut b = FrameBitmap::new(&mut store, 0, 16);
        b.release(100, 3 * 4096 + 5); // only frames 1 and 2 are whole
        assert_eq!(b.free_frames(), 2);
        assert!(!b.is_free(0) && b.is_free(4096) && b.is_free(8192) && !b.is_free(3 * 4096));
        b.release(0, 16 * 4096);
        b.reserve(4095, 4097); // touches frames 0 and 1
        assert_eq!(b.free_frames(), 14);
        b.reserve(5 * 4096, 5 * 4096); // empty range: nothing
        assert_eq!(b.free_frames(), 14);
        b.reserve(4096, 2 * 4096); // already reserved: count unchanged
        assert_eq!(b.free_frames(), 14);
        b.release(1, 4095); // less than a frame: nothing
        assert_eq!(b.free_frames(), 14);
        let a = b.alloc().unwrap();
        assert_eq!(a, 2 * 4096);
    }

    #[test]
    fn double_free_and_bad_addresses() {
        let mut store = vec![0u64; 1];
        let mut b = FrameBitmap::new(&mut store, 0x10000, 8);
        b.release(0x10000, 0x18000);
        let a = b.alloc().unwrap();
        assert_eq!(b.free(a), Ok(()));
        assert_eq!(b.free(a), Err(FrameError::NotAllocated));
        assert_eq!(b.free_frames(), 8, "double free does not corrupt the count");
        assert_eq!(b.free(a + 1), Err(FrameError::Misaligned));
        assert_eq!(b.free(0x1000), Err(FrameError::OutOfRange));
        assert_eq!(b.free(0x18000), Err(FrameError::OutOfRange));
        assert_eq!(b.free(!0xfff), Err(FrameError::OutOfRange));
        assert_eq!(
            FrameError::NotAllocated.to_string(),
            "frame is not allocated"
        );
    }

    #[test]
    fn contiguous_and_aligned() {
        let mut store = vec![0u64; FrameBitmap::storage_words(1024)];
        let mut b = FrameBitmap::new(&mut store, 0, 1024);
        b.release(0, 1024 * 4096);
        b.reserve(0, 4096); // frame 0 used
        let a = b.alloc_contiguous(4, 4096).unwrap();
        assert_eq!(a, 4096);
        let big = b.alloc_contiguous(16, 64 * 1024).unwrap();
        assert_eq!(big % (64 * 1024), 0);
        assert_eq!(big, 64 * 1024);
        for f in 0..16 {
            assert!(!b.is_free(big + f * 4096));
        }
        let huge = b.alloc_contiguous(512, 2 * MB).unwrap();
        assert_eq!(huge, 2 * MB);
        assert_eq!(
            b.alloc_contiguous(512, 2 * MB),
            None,
            "the other 2 MiB slot is partly used"
        );
        assert_eq!(b.alloc_contiguous(0, 4096), None);
        assert_eq!(b.alloc_contiguous(1, 3000), None);
        assert_eq!(b.alloc_contiguous(2000, 4096), None);
        assert_eq!(
            b.alloc_contiguous(1, 1),
            Some(5 * 4096),
            "small alignments mean 4 KiB"
        );
        b.free_contiguous(huge, 512).unwrap();
        assert_eq!(b.free_contiguous(huge, 512), Err(FrameError::NotAllocated));
        assert_eq!(b.free_contiguous(huge, 10_000), Err(FrameError::OutOfRange));
        assert_eq!(b.alloc_contiguous(512, 2 * MB), Some(2 * MB));
    }

    #[test]
    fn contiguous_skips_holes() {
        let mut store = vec![0u64; 1];
        let mut b = FrameBitmap::new(&mut store, 0, 64);
        b.release(0, 3 * 4096);
        b.release(4 * 4096, 10 * 4096);
        assert_eq!(b.alloc_contiguous(4, 4096), Some(4 * 4096));
        assert_eq!(b.alloc_contiguous(3, 4096), Some(0));
        assert_eq!(b.alloc_contiguous(3, 4096), None);
        assert_eq!(b.alloc_contiguous(2, 4096), Some(8 * 4096));
    }

    #[test]
    fn unaligned_base() {
        let mut store = vec![0u64; 1];
        let mut b = FrameBitmap::new(&mut store, 0x1800, 8);
        b.release(0, u64::MAX);
        assert_eq!(b.base(), 0x2000);
        assert_eq!(b.total_frames(), 7);
        assert_eq!(b.alloc(), Some(0x2000));
        assert_eq!(b.alloc_contiguous(1, 0x4000), Some(0x4000));
        assert_eq!(b.alloc_contiguous(2, 0x2000), Some(0x6000));
        assert!(!b.is_free(0x2000) && b.is_free(0x3000) && !b.is_free(0x1800));
    }

    #[test]
    fn alloc_below_limit() {
        let mut store = vec![0u64; 2];
        let mut b = FrameBitmap::new(&mut store, 0, 128);
        b.release(10 * 4096, 128 * 4096);
        assert_eq!(b.alloc_below(12 * 4096), Some(10 * 4096));
        assert_eq!(b.alloc_below(12 * 4096), Some(11 * 4096));
        assert_eq!(b.alloc_below(12 * 4096), None);
        assert_eq!(b.alloc_below(12 * 4096 + 4095), None);
        assert_eq!(b.alloc_below(u64::MAX), Some(12 * 4096));
    }

    #[test]
    fn hint_wraps_around() {
        let mut store = vec![0u64; 4];
        let mut b = FrameBitmap::new(&mut store, 0, 256);
        b.release(0, 256 * 4096);
        let all: Vec<u64> = (0..256).map(|_| b.alloc().unwrap()).collect();
        b.free(all[3]).unwrap();
        b.free(all[200]).unwrap();
        assert_eq!(b.alloc(), Some(all[3]));
        assert_eq!(b.alloc(), Some(all[200]));
        assert_eq!(b.alloc(), None);
    }

    #[test]
    fn capped_storage_and_big_maps() {
        let mut store = vec![0u64; 1];
        let b = FrameBitmap::new(&mut store, 0, 1000);
        assert_eq!(b.total_frames(), 64);
        let mut store = vec![0u64; 1];
        let b = FrameBitmap::new(&mut store, u64::MAX - 3 * 4096, 64);
        assert_eq!(b.total_frames(), 2);
        // 16 GiB worth of frames, released and allocated quickly.
        let frames = 4 << 20;
        let mut store = vec![0u64; FrameBitmap::storage_words(frames)];
        let mut b = FrameBitmap::new(&mut store, 0, frames);
        b.release(0, (frames as u64) * 4096);
        b.reserve(0, MB);
        assert_eq!(b.free_frames(), frames - 256);
        for _ in 0..100_000 {
            b.alloc().unwrap();
        }
        assert_eq!(b.free_frames(), frames - 256 - 100_000);
    }
}
