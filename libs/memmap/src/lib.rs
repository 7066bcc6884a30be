//! The physical memory map: region kinds and their E820/UEFI codes
//! ([`RegionKind`]), a normalized map ([`MemoryMap`]), the text of
//! `/proc/iomem` and `/proc/meminfo`, and a bitmap frame allocator
//! ([`FrameBitmap`]) that works before the kernel has a heap, and the crash
//! kernel reservation: where it goes ([`plan_crash_region`]) and the memory
//! map the capture kernel gets ([`crash_memmap`]), and the frames the boot
//! loader's page tables still use ([`boot_tables`]).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod bitmap;
pub mod boot_tables;
mod crash;
pub mod examples;
mod kind;
mod map;
mod text;

pub use bitmap::{FrameBitmap, FrameError};
pub use crash::{crash_memmap, plan_crash_region, CrashPlanError, CAPTURE_LOW_END, CRASH_ADDR_LOW_MAX, CRASH_ALIGN};
pub use kind::RegionKind;
pub use map::{MemoryMap, Region};
pub use text::{meminfo, IomemChild};

/// Size of a physical frame.
pub const FRAME_SIZE: u64 = 4096;
