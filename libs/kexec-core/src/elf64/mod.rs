//! The ELF64 loader: boots an x86_64 ELF kernel (kexos's own ELF, or any
//! ET_EXEC kernel with a 64-bit boot-protocol entry) through the SAME
//! handoff as bzImage64: purgatory jumps to the entry with RSI = physical
//! address of boot_params, RBX = 0, identity mapped, interrupts off.
//!
//! # What is accepted (probe)
//! `\x7fELF`, ELFCLASS64, little endian, EV_CURRENT, EM_X86_64, **ET_EXEC
//! only** (an ET_DYN is linked at 0 and expects a loader to apply its dynamic
//! relocations; kexec places images physically and never relocates code),
//! at least one PT_LOAD with memsz > 0, every PT_LOAD inside the file with
//! filesz <= memsz, PT_LOADs disjoint in physical (p_paddr) space, and an
//! entry point inside the file data of a PT_LOAD, no PT_INTERP, every
//! PT_LOAD below 2^52. And it must be a kernel: a kexos entry (below), or a
//! Linux/Xen ELF note with the image at or above 1 MiB (what a vmlinux has;
//! a static user program has an ELF entry too, and `kexec -e` would jump
//! into it). Each failure has its own [`Elf64Error`] (ENOEXEC).
//!
//! # The image
//! The PT_LOADs are one block laid out by p_paddr: `[image_start, mem_end)`
//! with `image_start` = the lowest p_paddr. It becomes ONE segment
//! ("kernel") starting at `image_start` rounded down to a page: the file
//! bytes of every PT_LOAD at `p_paddr - start`, zeros in between, bufsz up to
//! the last file byte, memsz = the page-aligned end of the last PT_LOAD
//! (bss included), so the bss costs no source pages (IND_ZERO). When the
//! file already holds exactly that layout (same p_offset - p_paddr for every
//! PT_LOAD, zeros in the gaps: what lld produces for kexos) the segment
//! borrows the file instead of copying it.
//!
//! # Where the entry is (in this order)
//! 1. the symbol **`kexos_boot64`** in `.symtab` (a link-time virtual address,
//!    translated to physical through the PT_LOAD that contains it);
//! 2. else an ELF note (PT_NOTE segment, or SHT_NOTE section if there is no
//!    PT_NOTE) named **"kexos"**, type **1** ([`KEXOS_NOTE_BOOT64`]), whose
//!    descriptor is `u64 offset` of the entry from `image_start`,
//!    optionally followed by `u64 flags` ([`KEXOS_NOTE_FLAG_FIXED`]) and
//!    `u64 init_size` (bytes from `image_start` the kernel needs; memsz is
//!    raised to it);
//! 3. else `e_entry`: a virtual address inside a PT_LOAD's [p_vaddr,
//!    p_vaddr + p_memsz) translated to physical, or else already a physical
//!    address inside a PT_LOAD's p_paddr range (Linux's vmlinux sets e_entry
//!    to the physical startup_64).
//!
//! If both the symbol and the note exist they must agree. `e_entry` must be
//! inside a PT_LOAD even when it is not used (for kexos it is the
//! bootloader_api `_start` of the first boot from disk).
//!
//! # Where the image goes ([`Elf64Placement`])
//! A kexos ELF (symbol or note found) is **relocatable**: the block lands at
//! a 2 MiB-aligned address at or above 16 MiB, top down (like bzImage64's
//! kernel segment), and the entry moves with it: `entry = load +
//! (entry_phys - start)`. The note's FIXED flag, and every ELF that is not
//! identified as kexos, load **at p_paddr exactly** (what kexec-tools'
//! elf-x86_64 loader does): the block must then lie in usable memory (or the
//! crash region). [`elf64_load_with`] overrides the choice.
//!
//! # boot_params
//! Built like bzImage64's (command line + elfcorehdr room, initrd, e820,
//! ACPI RSDP, setup_data, type_of_loader 0xD0, loadflags 0), except that an
//! ELF has no setup header to copy: the header is zero but for "HdrS",
//! boot_flag 0xAA55, version 2.15, cmdline_size ([`ELF64_CMDLINE_SIZE`]),
//! kernel_alignment 2 MiB, relocatable_kernel, xloadflags (KERNEL_64 |
//! CAN_BE_LOADED_ABOVE_4G) and init_size (the kernel segment's memsz).
//!
//! Segment order: purgatory, boot_params, kernel, initrd (Linux's), after
//! the ELF core headers for a crash image ([`crate::crash_load_segments`]);
//! with fixed placement the kernel comes first so the other searches avoid it.

use alloc::vec::Vec;

use bootparam::{xloadflags, BootParams};

use crate::crash::crash_load_segments;
use crate::error::{KexecError, SegmentError};
use crate::handoff::{self, check_cmdline, CmdlineFit};
use crate::kimage::{Kimage, KimageKind};
use crate::loader::{KexecFileOps, LoadContext, LoadSummary, ProbeError};
use crate::segment::{KexecBuf, SegmentBuf};
use crate::types::{PhysAddr, PhysRange};

mod error;
mod note;
mod parse;
mod sections;

pub use elf_exec::HeaderError;
pub use error::Elf64Error;
pub use note::{KEXOS_NOTE_BOOT64, KEXOS_NOTE_FLAG_FIXED, KEXOS_NOTE_NAME};
pub use parse::{
    elf64_parse, Elf64Info, Elf64Placement, EntrySource, LoadSegment, KEXOS_BOOT64_SYMBOL,
};

/// Alignment of a relocatable ELF image (2 MiB: kexos maps itself with
/// large pages; Linux's CONFIG_PHYSICAL_ALIGN default).
pub const ELF64_KERNEL_ALIGN: u64 = 0x20_0000;
/// Lowest address of a relocatable ELF image (16 MiB, Linux's default
/// pref_address, above ISA DMA).
pub const ELF64_MIN_LOAD_ADDR: u64 = 0x100_0000;
/// cmdline_size for ELF kernels: Linux's x86 COMMAND_LINE_SIZE - 1.
pub const ELF64_CMDLINE_SIZE: u32 = 2047;
/// Boot protocol version written into the made-up setup header (2.15).
pub const ELF64_BOOT_PROTOCOL: u16 = 0x020f;

// The ELF constants and reader exec shares (libs/elf-exec); the section and symbol
// ones only this loader needs.
use elf_exec::{slice, CTX, PT_NOTE};
const SHDR_SIZE: usize = 64;
const SYM_SIZE: usize = 24;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_NOTE: u32 = 7;
const SHN_UNDEF: usize = 0;

/// The probe: [`elf64_parse`] succeeds.
pub fn elf64_probe(kernel: &[u8]) -> Result<(), Elf64Error> {
    elf64_parse(kernel).map(|_| ())
}

/// The kernel segment's contents: the file itself when it already holds
/// the memory layout (same p_offset - p_paddr everywhere, zeros between),
/// else a copy laid out by p_paddr.
fn image_buffer<'a>(kernel: &'a [u8], info: &Elf64Info) -> Result<SegmentBuf<'a>, KexecError> {
    let start = info.segment_start();
    let bufsz = info.bufsz() as usize;
    let data: Vec<&LoadSegment> = info.loads.iter().filter(|l| l.filesz > 0).collect();
    let borrowable = data.first().and_then(|first| {
        let base = first.offset.checked_sub(first.paddr - start)?;
        if data
            .iter()
            .any(|l| l.offset.checked_sub(l.paddr - start) != Some(base))
        {
            return None;
        }
        let window = slice(kernel, base, bufsz as u64)?;
        // Every byte not covered by a PT_LOAD's file data must be zero.
        let mut pos = 0usize;
        for l in &data {
            let at = (l.paddr - start) as usize;
            if window[pos..at].iter().any(|&b| b != 0) {
                return None;
            }
            pos = at + l.filesz as usize;
        }
        Some(window)
    });
    if let Some(window) = borrowable {
        return Ok(SegmentBuf::Borrowed(window));
    }
    let mut buf = Vec::new();
    buf.try_reserve_exact(bufsz)
        .map_err(|_| KexecError::NoMemory { what: "ELF image" })?;
    buf.resize(bufsz, 0);
    for l in data {
        let at = (l.paddr - start) as usize;
        // In the file (checked by elf64_parse).
        if let Some(src) = slice(kernel, l.offset, l.filesz) {
            buf[at..at + src.len()].copy_from_slice(src);
        }
    }
    Ok(SegmentBuf::Owned(buf))
}

/// The ELF64 loader (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Elf64;

impl KexecFileOps for Elf64 {
    fn name(&self) -> &'static str {
        "elf64"
    }

    fn probe(&self, kernel: &[u8]) -> Result<(), ProbeError> {
        elf64_probe(kernel).map_err(ProbeError::Elf64)
    }

    /// The kernel segment: from the first PT_LOAD's page to the last file
    /// byte a PT_LOAD maps (not the symbol and section tables after it).
    fn loaded_len(&self, kernel: &[u8]) -> usize {
        elf64_parse(kernel).map_or(kernel.len(), |info| info.bufsz() as usize)
    }

    /// Linux's appended signature (module_signature.h), as s390's kexec
    /// checks its images: x86 Linux has no ELF kexec_file loader.
    fn verify_sig(&self, kernel: &[u8], keyring: &kexec_sig::Keyring) -> Result<crate::Verified, crate::SigError> {
        kexec_sig::verify_appended(kernel, keyring)
    }

    fn load<'a>(
        &self,
        image: &mut Kimage<'a>,
        ctx: &LoadContext<'_>,
        kernel: &'a [u8],
        initrd: Option<&'a [u8]>,
        cmdline: &[u8],
    ) -> Result<LoadSummary, KexecError> {
        elf64_load(image, ctx, kernel, initrd, cmdline)
    }
}

/// Load with the placement the file asks for. `cmdline` includes its NUL
/// (or is empty).
pub fn elf64_load<'a>(
    image: &mut Kimage<'a>,
    ctx: &LoadContext<'_>,
    kernel: &'a [u8],
    initrd: Option<&'a [u8]>,
    cmdline: &[u8],
) -> Result<LoadSummary, KexecError> {
    elf64_load_with(image, ctx, kernel, initrd, cmdline, None)
}

/// Load, overriding the placement if `placement` is given.
pub fn elf64_load_with<'a>(
    image: &mut Kimage<'a>,
    ctx: &LoadContext<'_>,
    kernel: &'a [u8],
    initrd: Option<&'a [u8]>,
    cmdline: &[u8],
    placement: Option<Elf64Placement>,
) -> Result<LoadSummary, KexecError> {
    let info = elf64_parse(kernel)?;
    let placement = placement.unwrap_or(info.placement);
    let cmdline_len = cmdline.len() as u64;
    check_cmdline(cmdline_len, ELF64_CMDLINE_SIZE).map_err(|fit| match fit {
        CmdlineFit::TooLong => Elf64Error::CmdlineTooLong {
            len: cmdline_len,
            max: ELF64_CMDLINE_SIZE,
        },
        CmdlineFit::NoRoom => Elf64Error::CmdlineNoRoom {
            len: cmdline_len,
            max: ELF64_CMDLINE_SIZE,
        },
    })?;
    let memsz = info.memsz();
    let kbuf = KexecBuf::new("kernel", image_buffer(kernel, &info)?, memsz);

    // Fixed: the kernel goes first, at p_paddr, so the later searches avoid
    // it. Relocatable: in Linux's order, after purgatory and boot_params.
    let (first, later) = match placement {
        Elf64Placement::Fixed => {
            let start = info.segment_start();
            let range = PhysRange::new(start, start.saturating_add(memsz));
            let usable = match image.kind() {
                KimageKind::Normal => ctx.view.contains(&range),
                KimageKind::Crash { region } => region.contains_range(&range),
            };
            if !usable {
                return Err(Elf64Error::FixedNotUsable {
                    start: range.start,
                    end: range.end,
                }
                .into());
            }
            (Some(kbuf.at(PhysAddr(start))), None)
        }
        Elf64Placement::Relocatable => (
            None,
            Some(
                kbuf.align(ELF64_KERNEL_ALIGN)
                    .min(ELF64_MIN_LOAD_ADDR)
                    .top_down(true),
            ),
        ),
    };
    let first = first.map(|k| image.add_buffer(k, ctx.view)).transpose()?;
    // A crash image: the ELF core headers before purgatory (Linux's order).
    crash_load_segments(image, ctx)?;
    let purgatory_entry = handoff::load_purgatory(image, ctx)?;
    let block = handoff::add_params_block(image, ctx, cmdline_len)?;
    let bp_addr = block.addr;
    let later = later.map(|k| image.add_buffer(k, ctx.view)).transpose()?;
    let kernel_addr = first.or(later).ok_or(KexecError::BadSegment {
        label: "kernel",
        reason: SegmentError::Empty,
    })?;
    let initrd_placed = handoff::add_initrd(image, ctx, initrd)?;

    // An ELF has no setup header: make up what the boot protocol needs.
    let mut bp = BootParams::new();
    bp.set_boot_flag(bootparam::BOOT_FLAG);
    bp.set_header(bootparam::HDRS_MAGIC);
    bp.set_version(ELF64_BOOT_PROTOCOL);
    bp.set_cmdline_size(ELF64_CMDLINE_SIZE);
    bp.set_kernel_alignment(ELF64_KERNEL_ALIGN as u32);
    bp.set_relocatable_kernel(u8::from(placement == Elf64Placement::Relocatable));
    bp.set_xloadflags(xloadflags::XLF_KERNEL_64 | xloadflags::XLF_CAN_BE_LOADED_ABOVE_4G);
    bp.set_init_size(u32::try_from(memsz).unwrap_or(u32::MAX));
    let kernel_entry =
        PhysAddr(kernel_addr.0 + (info.image_start - info.segment_start()) + info.entry_offset);
    let cmdline_placed =
        handoff::finish_handoff(image, ctx, block, bp, cmdline, initrd_placed, kernel_entry)?;

    Ok(LoadSummary {
        loader: "elf64",
        kernel: kernel_addr,
        kernel_entry,
        boot_params: Some(bp_addr),
        cmdline: Some(cmdline_placed),
        initrd: initrd_placed,
        purgatory_entry,
    })
}

#[cfg(test)]
mod tests;
