//! The x86 64-bit boot protocol handoff every x86 loader shares
//! (arch/x86/kernel/kexec-bzimage64.c: setup_cmdline, setup_initrd,
//! setup_boot_parameters, setup_e820_entries (or, for a crash image, the
//! map [`crate::crash_load_segments`] stored), the purgatory and
//! entry64_regs part of bzImage64_load): purgatory placement, the
//! boot_params + command line + setup_data block, the initrd, and the
//! registers purgatory loads before it jumps to the kernel's 64-bit entry
//! (RSI = boot_params, RBX = 0).
//!
//! The loaders differ only in where the kernel goes, where its entry is and
//! what the setup header in boot_params says (copied from a bzImage; made up
//! for an ELF kernel).

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use bootparam::{BootParams, E820Entry, SetupDataChain};
use purgatory_abi::{EntryRegs, ENTRY64_REGS, STACK_END_SYMBOL};

use crate::error::{KexecError, SegmentError};
use crate::kimage::{Kimage, KimageKind};
use crate::loader::LoadContext;
use crate::purgatory::{kexec_load_purgatory, PurgatoryError};
use crate::segment::{KexecBuf, SegmentBuf};
use crate::types::{PhysAddr, PAGE_SIZE};

/// Lowest purgatory address (kexec-bzimage64.c MIN_PURGATORY_ADDR).
pub const MIN_PURGATORY_ADDR: u64 = 0x3000;
/// Lowest boot_params address (MIN_BOOTPARAM_ADDR).
pub const MIN_BOOTPARAM_ADDR: u64 = 0x3000;
/// Lowest initrd address (MIN_INITRD_LOAD_ADDR, 16 MiB).
pub const MIN_INITRD_LOAD_ADDR: u64 = 0x100_0000;
/// Room reserved after the command line for `elfcorehdr=0x<64-bit> `
/// (MAX_ELFCOREHDR_STR_LEN), checked for normal loads too.
pub const MAX_ELFCOREHDR_STR_LEN: u64 = 30;

/// Why a command line does not fit the kernel's `cmdline_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmdlineFit {
    /// Longer (with its NUL) than cmdline_size.
    TooLong,
    /// Fits, but leaves no room for `elfcorehdr=`.
    NoRoom,
}

/// Linux's two command line checks (bzImage64_load), in its order.
pub(crate) fn check_cmdline(cmdline_len: u64, cmdline_size: u32) -> Result<(), CmdlineFit> {
    if cmdline_len > u64::from(cmdline_size) {
        return Err(CmdlineFit::TooLong);
    }
    if cmdline_len + MAX_ELFCOREHDR_STR_LEN > u64::from(cmdline_size) {
        return Err(CmdlineFit::NoRoom);
    }
    Ok(())
}

/// Purgatory: anywhere above 0x3000, top down. Returns its entry.
pub(crate) fn load_purgatory(
    image: &mut Kimage<'_>,
    ctx: &LoadContext<'_>,
) -> Result<PhysAddr, KexecError> {
    kexec_load_purgatory(
        image,
        ctx.view,
        ctx.purgatory,
        KexecBuf::new("purgatory", SegmentBuf::Borrowed(&[]), 0)
            .min(MIN_PURGATORY_ADDR)
            .top_down(true),
    )
}

/// The placed (still zero) boot_params block: boot_params, the command
/// line (+ elfcorehdr room), the setup_data nodes.
#[derive(Debug)]
pub(crate) struct ParamsBlock {
    index: usize,
    /// Physical address of boot_params.
    pub(crate) addr: PhysAddr,
    params_cmdline_sz: u64,
    chain: SetupDataChain,
    e820_rest_len: usize,
}

/// The memory map the next kernel gets: a crash image's restricted map
/// (setup_boot_parameters: crash_setup_memmap_entries), else the context's.
fn next_e820<'i>(image: &'i Kimage<'_>, ctx: &'i LoadContext<'_>) -> &'i [E820Entry] {
    image.crash_e820.as_deref().unwrap_or(ctx.e820)
}

/// Place the boot_params block for a command line of `cmdline_len` bytes
/// (with its NUL): setup_data nodes for the e820 entries beyond 128
/// (SETUP_E820_EXT), one per hand-over buffer, one for the TSC frequency;
/// 16-byte aligned, above 0x3000, top down.
pub(crate) fn add_params_block(
    image: &mut Kimage<'_>,
    ctx: &LoadContext<'_>,
    cmdline_len: u64,
) -> Result<ParamsBlock, KexecError> {
    let mut e820_rest_len = 0;
    let mut chain = SetupDataChain::new();
    let e820 = next_e820(image, ctx);
    if e820.len() > bootparam::E820_MAX_ENTRIES_ZEROPAGE {
        let rest = &e820[bootparam::E820_MAX_ENTRIES_ZEROPAGE..];
        e820_rest_len = rest.len();
        chain.push_e820_ext(rest);
    }
    // One node per hand-over buffer (already placed: they come first).
    for b in image.handover_buffers() {
        let (typ, payload) = b.to_setup_data();
        chain.push(typ, payload);
    }
    if let Some(khz) = ctx.tsc_khz {
        let (typ, payload) = bootparam::tsc::tsc_khz_setup_data(khz);
        chain.push(typ, payload);
    }
    let params_cmdline_sz =
        (bootparam::BOOT_PARAMS_SIZE as u64 + cmdline_len + MAX_ELFCOREHDR_STR_LEN).div_ceil(16)
            * 16;
    let bp_bufsz = params_cmdline_sz + chain.encoded_len() as u64;
    let index = image.segments().len();
    let addr = image.add_buffer(
        KexecBuf::new(
            "boot_params",
            SegmentBuf::Owned(vec![0; bp_bufsz as usize]),
            bp_bufsz,
        )
        .align(16)
        .min(MIN_BOOTPARAM_ADDR)
        .top_down(true),
        ctx.view,
    )?;
    Ok(ParamsBlock {
        index,
        addr,
        params_cmdline_sz,
        chain,
        e820_rest_len,
    })
}

/// The initrd, page aligned, above 16 MiB, top down (an empty one is none).
pub(crate) fn add_initrd<'a>(
    image: &mut Kimage<'a>,
    ctx: &LoadContext<'_>,
    initrd: Option<&'a [u8]>,
) -> Result<Option<(PhysAddr, u64)>, KexecError> {
    match initrd.filter(|i| !i.is_empty()) {
        Some(rd) => {
            let at = image.add_buffer(
                KexecBuf::new("initrd", SegmentBuf::Borrowed(rd), rd.len() as u64)
                    .align(PAGE_SIZE)
                    .min(MIN_INITRD_LOAD_ADDR)
                    .top_down(true),
                ctx.view,
            )?;
            Ok(Some((at, rd.len() as u64)))
        }
        None => Ok(None),
    }
}

/// Fill `bp` (whose setup header the loader prepared) now that every
/// address is known, write the block, set purgatory's entry64_regs to jump
/// to `entry` with RSI = boot_params, and record the final command line in
/// `image.cmdline`. Returns the command line's address and length (with NUL).
pub(crate) fn finish_handoff(
    image: &mut Kimage<'_>,
    ctx: &LoadContext<'_>,
    block: ParamsBlock,
    mut bp: BootParams,
    cmdline: &[u8],
    initrd: Option<(PhysAddr, u64)>,
    entry: PhysAddr,
) -> Result<(PhysAddr, u64), KexecError> {
    // ramdisk_image/ramdisk_size are the loader's to write, and zero without
    // an initrd (boot.rst: "write (obligatory)"): never the image file's own
    // values, which copy_setup_header brought along.
    let (rd_at, rd_len) = initrd.map_or((0, 0), |(at, len)| (at.0, len));
    bp.set_ramdisk(rd_at, rd_len);
    let mut final_cmdline = Vec::new();
    if let (KimageKind::Crash { .. }, Some(elf)) = (image.kind(), image.elf_load_addr) {
        final_cmdline.extend_from_slice(format!("elfcorehdr={:#x} ", elf.0).as_bytes());
    }
    final_cmdline.extend_from_slice(cmdline.strip_suffix(&[0]).unwrap_or(cmdline));
    final_cmdline.push(0);
    let cmdline_pa = block.addr.0 + bootparam::BOOT_PARAMS_SIZE as u64;
    bp.set_cmd_line_ptr(cmdline_pa);
    // Boot loader ID 0xD (kexec), and no loadflags (Linux clears them all).
    bp.set_type_of_loader(bootparam::LOADER_TYPE_KEXEC);
    bp.set_loadflags(0);
    bp.set_acpi_rsdp_addr(ctx.acpi_rsdp.unwrap_or(0));
    let rest = bp.set_e820_table(next_e820(image, ctx));
    debug_assert_eq!(rest.len(), block.e820_rest_len);
    let (sd_bytes, sd_head) = block
        .chain
        .encode_at(block.addr.0 + block.params_cmdline_sz, 0)
        .ok_or(KexecError::BadSegment {
            label: "boot_params",
            reason: SegmentError::SizeOverflow,
        })?;
    bp.set_setup_data(sd_head);

    // Purgatory jumps to the 64-bit entry with RSI = boot_params, RBX = 0
    // (BSP), on purgatory's own stack: Linux's `stack_end` if the object
    // has one, else 0, which kexos's purgatory reads as "keep my stack".
    let mut regs = EntryRegs::from_bytes(&image.purgatory_get_symbol_array(ENTRY64_REGS.name)?);
    regs.rbx = 0;
    regs.rsi = block.addr.0;
    regs.rip = entry.0;
    regs.rsp = match image.purgatory_symbol_addr(STACK_END_SYMBOL) {
        Ok(pa) => pa.0,
        Err(KexecError::Purgatory(PurgatoryError::SymbolNotFound { .. })) => 0,
        Err(e) => return Err(e),
    };
    image.purgatory_set_symbol(ENTRY64_REGS.name, &regs.to_bytes())?;

    if let Some(buf) = image.segment_mut(block.index).and_then(|s| s.buf_mut()) {
        buf[..bootparam::BOOT_PARAMS_SIZE].copy_from_slice(bp.as_bytes());
        let c = bootparam::BOOT_PARAMS_SIZE;
        buf[c..c + final_cmdline.len()].copy_from_slice(&final_cmdline);
        let s = block.params_cmdline_sz as usize;
        buf[s..s + sd_bytes.len()].copy_from_slice(&sd_bytes);
    }
    let len = final_cmdline.len() as u64;
    image.cmdline = final_cmdline;
    Ok((PhysAddr(cmdline_pa), len))
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use crate::bzimage64::tests::fake_bzimage;
    use crate::entry::tests::{FakeMem, ListAlloc};
    use crate::entry::{kimage_load_segments, relocate_simulate};
    use crate::sanity::SanityLimits;
    use crate::{kexec_file_plan, BzImage64, DigestsAt, KnownDigests, MemoryView, PhysMem, PhysRange};
    use bootparam::setup_type::SETUP_KEXOS_TSC_KHZ;
    use memmap::examples::qemu_512m;

    const MIB: u64 = 1 << 20;

    /// Load a bzImage with `tsc_khz` in the context, relocate it, and read the next kernel's
    /// boot_params: the TSC frequency it finds in setup_data, if any.
    fn handed_tsc_khz(tsc_khz: Option<u64>) -> Option<u64> {
        let map = qemu_512m();
        let view = MemoryView::from_memmap(&map, &[PhysRange::new(0, MIB)]);
        let e820 = bootparam::e820_from_memmap(&map);
        let purg = crate::testutil::purgatory();
        let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: None, purgatory: &purg, tsc_khz, crash: None };
        let kernel = fake_bzimage(64 * 1024, 4 * MIB as u32);
        let limits = SanityLimits::from_memmap(&map);
        let (image, summary) =
            kexec_file_plan(&BzImage64, KimageKind::Normal, &ctx, &kernel, None, KnownDigests::NONE, b"x\0", &limits, vec![], DigestsAt::Plan).unwrap();
        let mut alloc = ListAlloc::new((0x100..0x1ffe0).rev().map(|p| p * PAGE_SIZE).collect());
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        relocate_simulate(list.head, &mut mem, 1 << 20).unwrap();
        let parsed = crate::testutil::read_boot_params(&mem, summary.boot_params.unwrap());
        let mut found = parsed.setup_data.iter().filter_map(|n| {
            bootparam::tsc::tsc_khz_from_setup_data(n, |pa, b| {
                mem.read(PhysAddr(pa), b);
                true
            })
            .unwrap()
        });
        let khz = found.next();
        assert_eq!(found.next(), None, "one node at most");
        assert_eq!(khz.is_some(), parsed.setup_data.iter().any(|n| n.typ == SETUP_KEXOS_TSC_KHZ));
        khz
    }

    #[test]
    fn the_tsc_frequency_reaches_the_next_kernel_when_known() {
        assert_eq!(handed_tsc_khz(Some(2_612_653)), Some(2_612_653));
        assert_eq!(handed_tsc_khz(None), None);
    }
}
