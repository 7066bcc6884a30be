//! The physical memory map: region kinds and their E820/UEFI codes
//! ([`RegionKind`]), a normalized map ([`MemoryMap`]), the text of
//! `/proc/iomem` and `/proc/meminfo`, and a bitmap frame allocator
//! ([`FrameBitmap`]) that works before the kernel has a heap.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod bitmap;
mod kind;
mod map;
mod text;

pub use bitmap::{FrameBitmap, FrameError};
pub use kind::RegionKind;
pub use map::{MemoryMap, Region};
pub use text::{meminfo, IomemChild};

/// Size of a physical frame.
pub const FRAME_SIZE: u64 = 4096;
