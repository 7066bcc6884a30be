//! kexos's kexec_file_load core, host-testable and format-aware:
//!
//! - [`Kimage`], [`KexecSegment`], [`KexecBuf`], [`Kimage::add_buffer`]
//!   (kexec_add_buffer) over a [`MemoryView`] with [`locate_mem_hole`];
//! - [`sanity_check_segment_list`];
//! - the loaders table ([`KexecFileOps`], [`probe_image`]) and the
//!   [`BzImage64`] and [`Elf64`] loaders, which share one handoff (the x86
//!   64-bit boot protocol: purgatory enters the kernel with RSI = boot_params);
//! - crash (kdump) loads: the ELF core headers segment, `elfcorehdr=` and
//!   the capture kernel's restricted e820 ([`crash_load_segments`]);
//! - purgatory loading/relocation/symbols ([`kexec_load_purgatory`]) and
//!   digests ([`kexec_calculate_store_digests`]);
//! - the entry list relocate_kernel walks ([`kimage_load_segments`], with the
//!   source-page invariant), its walk as relocate_kernel performs it
//!   ([`walk::EntryWalk`], [`relocate_simulate`]) and the check the kernel
//!   runs before the jump ([`check_entry_list`]).
//!
//! Every error is a [`KexecError`] whose `.errno()` is what Linux returns.
//! Names follow Linux (kernel/kexec_core.c, kernel/kexec_file.c,
//! arch/x86/kernel/kexec-bzimage64.c) so the two can be read side by side.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod bzimage64;
pub mod crash;
pub mod digest;
pub mod phases;
pub mod elf64;
pub mod entry;
mod error;
mod handoff;
pub mod handover;
pub mod hole;
mod kimage;
pub mod loader;
mod memview;
mod plan;
pub mod purgatory;
pub mod read_file;
pub mod sanity;
mod second_cpu;
mod segment;
pub mod sig;
mod types;
pub mod walk;

pub use bzimage64::{BzImage64, BzImageError};
pub use crash::{crash_load_segments, ELFCOREHDR_LABEL, ELF_CORE_HEADER_ALIGN};
pub use digest::{compute_digests, kexec_calculate_store_digests, DigestMode, Digests, KnownDigest};
pub use elf64::{Elf64, Elf64Error, Elf64Info, Elf64Placement, EntrySource};
pub use entry::{
    check_entry_list, kimage_crash_digest_mode, kimage_load_crash_segments, kimage_load_crash_segments_digested, kimage_load_segments, kimage_load_segments_digested, relocate_simulate,
    EntryList, PageAlloc, PhysMem, SparseMem, IND_DESTINATION, IND_DONE, IND_INDIRECTION, IND_SOURCE,
    IND_ZERO,
};
pub use error::{KexecError, SegmentError};
pub use handover::{kexec_update_segment, HandoverBuffer, HandoverKind, HandoverRequest, UpdateError};
pub use hole::{locate_mem_hole, HoleError, HoleReason};
pub use kimage::{Kimage, KimageKind, SegmentInfo};
pub use loader::{probe_image, CrashSetup, KexecFileOps, LoadContext, LoadSummary, ProbeError};
pub use memview::MemoryView;
pub use plan::{cuts_for_two_cpus, kexec_file_plan, DigestsAt, KnownDigests, SuffixDigest};
pub use purgatory::{kexec_load_purgatory, PurgatoryError};
pub use read_file::{kernel_read_file_check, FdFile, ReadFileError, KEXEC_FILE_SIZE_MAX};
/// The kernel <-> purgatory contract (names, sizes, layouts, flags).
pub use purgatory_abi;
pub use purgatory_abi::{EntryRegs, ShaRegion};
pub use sanity::{sanity_check_segment_list, SanityError, SanityLimits};
pub use second_cpu::{offer_second_cpu, NoSecondCpu};
pub use segment::{KexecBuf, KexecSegment, SegmentBuf};
pub use sig::{Lockdown, RefusedBy, SigError, SigPolicy, SigVerdict, Verified};
/// The signature verifiers and the keyring (re-exported for the kernel).
pub use kexec_sig;
pub use types::{
    align_down, align_up, page_align, page_count, PhysAddr, PhysRange, KEXEC_SEGMENT_MAX, PAGE_SIZE,
};

#[cfg(test)]
mod testutil;
#[cfg(any(test, feature = "assemble"))]
pub mod assemble;
