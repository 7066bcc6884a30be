//! Test helpers: a fake first-kernel physical memory.

use std::cell::Cell;
use std::vec::Vec;

use crate::OldMemory;

/// The recognizable content of fake RAM at `phys`.
pub(crate) fn pattern(phys: u64) -> u8 {
    (phys as u8) ^ ((phys >> 12) as u8).wrapping_mul(37) ^ ((phys >> 20) as u8)
}

/// Fake old memory: readable below `top` except in `holes`; `pattern`
/// bytes overlaid with `blobs` (later blobs win). Counts reads.
pub(crate) struct FakeMem {
    pub top: u64,
    pub holes: Vec<(u64, u64)>,
    pub blobs: Vec<(u64, Vec<u8>)>,
    pub reads: Cell<usize>,
}

impl FakeMem {
    /// Readable [0, top), no blobs.
    pub fn new(top: u64) -> FakeMem {
        FakeMem {
            top,
            holes: Vec::new(),
            blobs: Vec::new(),
            reads: Cell::new(0),
        }
    }

    /// Place `bytes` at `phys`.
    pub fn put(&mut self, phys: u64, bytes: &[u8]) {
        self.blobs.push((phys, bytes.to_vec()));
    }

    /// The byte a read of `phys` returns.
    pub fn byte(&self, phys: u64) -> u8 {
        let mut b = [0u8];
        assert!(self.read(phys, &mut b));
        b[0]
    }
}

impl OldMemory for FakeMem {
    fn read(&self, phys: u64, buf: &mut [u8]) -> bool {
        self.reads.set(self.reads.get() + 1);
        let Some(end) = phys.checked_add(buf.len() as u64) else {
            return false;
        };
        if end > self.top || self.holes.iter().any(|&(s, e)| s < end && phys < e) {
            return false;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = pattern(phys + i as u64);
        }
        for (at, data) in &self.blobs {
            let (s, e) = (phys.max(*at), end.min(at + data.len() as u64));
            if s < e {
                let dst = &mut buf[(s - phys) as usize..(e - phys) as usize];
                dst.copy_from_slice(&data[(s - at) as usize..(e - at) as usize]);
            }
        }
        true
    }
}
