//! `kexos.bzImage`: the kernel ELF in Linux's bzImage format, so that any
//! x86 64-bit boot protocol loader (kexos's own `kexec -s`, Linux's
//! kexec_file_load, kexec-tools) can load it (Documentation/arch/x86/boot.rst).
//!
//! File layout:
//! - the setup area, `(SETUP_SECTS + 1) * 512` bytes: the setup header at
//!   0x1f1..0x26c (protocol 2.15), a 16-bit stub that halts (kexos has no
//!   real-mode or 32-bit entry: the jump at 0x200 lands on it), the version
//!   string;
//! - a PE/COFF header in the boot sector (boot/src/pe.rs), so that the
//!   image can carry an Authenticode signature as Linux's bzImages do;
//! - the payload: the kernel's PT_LOAD segments flattened to their memory
//!   layout, from the first segment's `p_paddr` (file bytes only; `.bss`,
//!   the boot page tables and the boot stack are covered by `init_size`).
//!
//! The loader copies the payload to a 2 MiB-aligned address and enters it
//! at +0x200, where the kernel's linker script puts `kexos_boot64`
//! (kernel/src/arch/boot64.s) with RSI = boot_params. The payload's
//! +0x100 holds the kernel_info ("LToP") that `kernel_info_offset` names.

use std::path::Path;

use anyhow::{anyhow, bail, ensure, Context, Result};
use bootparam::hdr;
use goblin::elf::header::{EI_CLASS, EI_DATA, ELFCLASS64, ELFDATA2LSB, EM_X86_64};
use goblin::elf::program_header::{ProgramHeader, PT_LOAD};
use goblin::elf::Elf;

/// Setup sectors after the boot sector: the header and the stub fit in one.
pub const SETUP_SECTS: u8 = 1;
/// Bytes before the payload (Linux's `kern16_size`).
pub const SETUP_SIZE: usize = (SETUP_SECTS as usize + 1) * 512;
/// Boot protocol 2.15 (kernel_info).
pub const PROTOCOL_VERSION: u16 = 0x020f;
/// The kernel maps itself with 2 MiB pages: any 2 MiB-aligned address works.
pub const KERNEL_ALIGNMENT: u32 = 0x20_0000;
/// Where a loader that honours it puts the kernel (16 MiB, as Linux's default).
pub const PREF_ADDRESS: u64 = 0x100_0000;
/// Longest command line, excluding the NUL (Linux's COMMAND_LINE_SIZE - 1).
pub const CMDLINE_SIZE: u32 = 4095;
/// Offset of the 64-bit entry in the payload (boot.rst, 64-bit boot protocol).
pub const ENTRY_64_OFFSET: usize = 0x200;
/// Offset of kernel_info in the payload (boot64.s puts it there).
pub const KERNEL_INFO_OFFSET: usize = 0x100;
/// End of the 2.15 setup header; the jump at 0x200 skips to it.
const HEADER_END: usize = bootparam::SETUP_HEADER_END;
/// A 16-bit stub at the jump's target: cli; hlt; jmp back to the hlt.
const REAL_MODE_STUB: [u8; 4] = [0xfa, 0xf4, 0xeb, 0xfd];
/// The version string (`kernel_version` points at it, minus 0x200).
const VERSION_AT: usize = 0x280;

/// What a kexos bzImage says about itself (from its setup header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BzImageInfo {
    /// Size of the whole file.
    pub file_len: u64,
    /// `setup_sects`.
    pub setup_sects: u8,
    /// Protocol version, e.g. 0x020f.
    pub version: u16,
    /// `loadflags`.
    pub loadflags: u8,
    /// `xloadflags`.
    pub xloadflags: u16,
    /// Bytes after the setup area.
    pub payload_len: u64,
    /// Memory the kernel needs from its load address (text..end of bss).
    pub init_size: u32,
    /// `kernel_alignment`.
    pub kernel_alignment: u32,
    /// `pref_address`.
    pub pref_address: u64,
    /// `cmdline_size`.
    pub cmdline_size: u32,
}

/// One PT_LOAD of the kernel ELF: the ELF64 loader's own description.
pub use kexec_core::elf64::LoadSegment;

/// The PT_LOAD segments of a little-endian ELF64 file, in file order
/// (read with goblin).
pub fn load_segments(elf: &[u8]) -> Result<Vec<LoadSegment>> {
    let h = Elf::parse_header(elf).map_err(|_| anyhow!("not an ELF file"))?;
    ensure!(
        h.e_ident[EI_CLASS] == ELFCLASS64 && h.e_ident[EI_DATA] == ELFDATA2LSB,
        "not a little-endian ELF64 file"
    );
    ensure!(h.e_machine == EM_X86_64, "not an x86_64 ELF file");
    let ctx = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    let phentsize = u64::from(h.e_phentsize);
    ensure!(phentsize >= 56, "bad e_phentsize {phentsize}");
    let mut out = Vec::new();
    for i in 0..u64::from(h.e_phnum) {
        let ph = i
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(h.e_phoff))
            .and_then(|o| usize::try_from(o).ok())
            .and_then(|o| ProgramHeader::parse(elf, o, 1, ctx).ok())
            .and_then(|v| v.into_iter().next())
            .context("ELF truncated")?;
        if ph.p_type != PT_LOAD {
            continue;
        }
        let seg = LoadSegment {
            index: i as usize,
            offset: ph.p_offset,
            vaddr: ph.p_vaddr,
            paddr: ph.p_paddr,
            filesz: ph.p_filesz,
            memsz: ph.p_memsz,
        };
        ensure!(seg.filesz <= seg.memsz, "PT_LOAD {i}: p_filesz > p_memsz");
        ensure!(
            seg.offset
                .checked_add(seg.filesz)
                .is_some_and(|e| e <= elf.len() as u64),
            "PT_LOAD {i} lies outside the file"
        );
        out.push(seg);
    }
    ensure!(!out.is_empty(), "the ELF has no PT_LOAD segment");
    Ok(out)
}

/// The flattened payload and the memory extent (`init_size` before page
/// alignment) of a kernel ELF.
pub fn flatten(elf: &[u8]) -> Result<(Vec<u8>, u64)> {
    let segs = load_segments(elf)?;
    let base = segs.iter().map(|s| s.paddr).min().unwrap();
    let first = segs.iter().find(|s| s.paddr == base).unwrap();
    let delta = first.vaddr.wrapping_sub(first.paddr);
    let mut file_end = 0u64;
    let mut mem_end = 0u64;
    for s in &segs {
        // The payload is placed by physical layout but runs at its link
        // address: both must agree segment by segment.
        ensure!(
            s.vaddr.wrapping_sub(s.paddr) == delta,
            "PT_LOAD at {:#x}: p_vaddr - p_paddr differs from the first segment's; link the kernel with AT(ADDR - KERNEL_VMA)",
            s.vaddr
        );
        file_end = file_end.max(s.paddr - base + s.filesz);
        mem_end = mem_end.max(s.paddr - base + s.memsz);
    }
    ensure!(
        mem_end <= 1 << 30,
        "kernel image of {mem_end:#x} bytes is absurd"
    );
    let mut payload = vec![0u8; file_end as usize];
    let mut sorted = segs.clone();
    sorted.sort_by_key(|s| s.paddr);
    for w in sorted.windows(2) {
        ensure!(
            w[0].paddr + w[0].memsz <= w[1].paddr,
            "PT_LOAD segments overlap at {:#x}",
            w[1].paddr
        );
    }
    for s in &segs {
        let at = (s.paddr - base) as usize;
        payload[at..at + s.filesz as usize]
            .copy_from_slice(&elf[s.offset as usize..(s.offset + s.filesz) as usize]);
    }
    Ok((payload, mem_end))
}

/// Build the bzImage bytes from a kernel ELF image, checked by
/// [`probe_info`] (kexec-core's bzImage64 probe).
pub fn build_bytes(elf: &[u8]) -> Result<Vec<u8>> {
    let (mut payload, mem_end) = flatten(elf)?;
    // Whole file-aligned units for the PE section (the padding is inside init_size).
    payload.resize(payload.len().next_multiple_of(crate::pe::FILE_ALIGNMENT), 0);
    ensure!(
        payload.len() > ENTRY_64_OFFSET,
        "payload of {} bytes has no 64-bit entry at {ENTRY_64_OFFSET:#x}",
        payload.len()
    );
    ensure!(
        payload[KERNEL_INFO_OFFSET..KERNEL_INFO_OFFSET + 4] == *b"LToP",
        "no kernel_info (\"LToP\") at payload offset {KERNEL_INFO_OFFSET:#x}: is kexos_boot64 (arch/boot64.s) first in the image?"
    );
    let init_size =
        u32::try_from(mem_end.next_multiple_of(4096)).context("init_size over 4 GiB")?;

    let mut img = vec![0u8; SETUP_SIZE];
    let put = |img: &mut Vec<u8>, off: usize, bytes: &[u8]| {
        img[off..off + bytes.len()].copy_from_slice(bytes)
    };
    put(&mut img, hdr::SETUP_SECTS, &[SETUP_SECTS]);
    put(&mut img, hdr::ROOT_FLAGS, &0u16.to_le_bytes());
    let syssize = u32::try_from(payload.len().div_ceil(16))?;
    put(&mut img, hdr::SYSSIZE, &syssize.to_le_bytes());
    put(&mut img, hdr::VID_MODE, &0xffffu16.to_le_bytes()); // "normal"
    put(
        &mut img,
        hdr::BOOT_FLAG,
        &bootparam::BOOT_FLAG.to_le_bytes(),
    );
    // Short jump over the header; its offset byte doubles as the header length.
    put(&mut img, hdr::JUMP, &[0xeb, (HEADER_END - 0x202) as u8]);
    put(&mut img, hdr::HEADER, &bootparam::HDRS_MAGIC.to_le_bytes());
    put(&mut img, hdr::VERSION, &PROTOCOL_VERSION.to_le_bytes());
    put(
        &mut img,
        hdr::KERNEL_VERSION,
        &((VERSION_AT - 0x200) as u16).to_le_bytes(),
    );
    put(
        &mut img,
        hdr::LOADFLAGS,
        &[bootparam::loadflags::LOADED_HIGH],
    );
    put(&mut img, hdr::SETUP_MOVE_SIZE, &0x8000u16.to_le_bytes());
    put(&mut img, hdr::CODE32_START, &0x10_0000u32.to_le_bytes());
    put(
        &mut img,
        hdr::INITRD_ADDR_MAX,
        &0x7fff_ffffu32.to_le_bytes(),
    );
    put(
        &mut img,
        hdr::KERNEL_ALIGNMENT,
        &KERNEL_ALIGNMENT.to_le_bytes(),
    );
    put(&mut img, hdr::RELOCATABLE_KERNEL, &[1]);
    put(
        &mut img,
        hdr::MIN_ALIGNMENT,
        &[KERNEL_ALIGNMENT.trailing_zeros() as u8],
    );
    let xlf =
        bootparam::xloadflags::XLF_KERNEL_64 | bootparam::xloadflags::XLF_CAN_BE_LOADED_ABOVE_4G;
    put(&mut img, hdr::XLOADFLAGS, &xlf.to_le_bytes());
    put(&mut img, hdr::CMDLINE_SIZE, &CMDLINE_SIZE.to_le_bytes());
    put(&mut img, hdr::PAYLOAD_OFFSET, &0u32.to_le_bytes()); // not compressed
    put(&mut img, hdr::PAYLOAD_LENGTH, &0u32.to_le_bytes());
    put(&mut img, hdr::PREF_ADDRESS, &PREF_ADDRESS.to_le_bytes());
    put(&mut img, hdr::INIT_SIZE, &init_size.to_le_bytes());
    put(
        &mut img,
        hdr::KERNEL_INFO_OFFSET,
        &(KERNEL_INFO_OFFSET as u32).to_le_bytes(),
    );
    put(&mut img, HEADER_END, &REAL_MODE_STUB);
    let version = format!("kexos {}\0", env!("CARGO_PKG_VERSION"));
    put(&mut img, VERSION_AT, version.as_bytes());
    img.extend_from_slice(&payload);
    crate::pe::write(&mut img, SETUP_SIZE, init_size);
    // What any loader of ours will check first: the real probe, and the
    // Authenticode parser that a signature check runs.
    probe_info(&img).context("the built bzImage fails kexec-core's bzImage64 probe")?;
    kexec_sig::pefile::PeFile::parse(&img)
        .and_then(|pe| pe.hashed_ranges())
        .map_err(|e| anyhow!("the built bzImage's PE header: {e}"))?;
    Ok(img)
}

/// Build `out` from the kernel ELF at `kernel_elf` (rewritten only if its
/// contents change).
pub fn build(kernel_elf: &Path, out: &Path) -> Result<BzImageInfo> {
    let elf =
        std::fs::read(kernel_elf).with_context(|| format!("reading {}", kernel_elf.display()))?;
    let img = build_bytes(&elf)
        .with_context(|| format!("making a bzImage of {}", kernel_elf.display()))?;
    let info = probe_info(&img)?;
    crate::write_if_changed(out, &img)?;
    Ok(info)
}

/// Read a bzImage's setup header, checked by the real loader's probe
/// (kexec-core's bzImage64_probe, what `kexec -s` runs) plus kexos's own
/// layout: a payload after the setup area, all of it inside init_size.
pub fn probe_info(image: &[u8]) -> Result<BzImageInfo> {
    kexec_core::bzimage64::bzimage64_probe(image).map_err(|e| anyhow!("{e}"))?;
    let h = bootparam::SetupHeader::new(image).map_err(|e| anyhow!("{e}"))?;
    let setup = h.kern16_size();
    if image.len() <= setup {
        bail!(
            "{} bytes: the file ends inside its {setup}-byte setup area",
            image.len()
        );
    }
    let payload_len = (image.len() - setup) as u64;
    ensure!(
        u64::from(h.init_size()) >= payload_len,
        "init_size {:#x} smaller than the {payload_len:#x}-byte payload",
        h.init_size()
    );
    Ok(BzImageInfo {
        file_len: image.len() as u64,
        setup_sects: h.setup_sects(),
        version: h.version(),
        loadflags: h.loadflags(),
        xloadflags: h.xloadflags(),
        payload_len,
        init_size: h.init_size(),
        kernel_alignment: h.kernel_alignment(),
        pref_address: h.pref_address(),
        cmdline_size: h.cmdline_size(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 with kexos's layout: text (stub, kernel_info at
    /// +0x100, entry at +0x200), rodata, data + bss; p_paddr = p_vaddr - VMA.
    fn fake_kernel() -> Vec<u8> {
        const VMA: u64 = 0xffff_ffff_8000_0000;
        let segs: [(u64, Vec<u8>, u64); 3] = [
            (0xffff_ffff_8020_0000, text(), 0x2345),
            (0xffff_ffff_8020_3000, vec![0x52; 0x800], 0x800),
            (0xffff_ffff_8020_4000, vec![0xda; 0x100], 0x9000),
        ];
        let phoff = 64u64;
        let mut elf = vec![0u8; 0x1000];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2; // ELFCLASS64
        elf[5] = 1; // little endian
        elf[6] = 1;
        elf[0x10..0x12].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        elf[0x12..0x14].copy_from_slice(&62u16.to_le_bytes()); // x86_64
        elf[0x18..0x20].copy_from_slice(&0xffff_ffff_8020_1234u64.to_le_bytes()); // e_entry: not the boot64 one
        elf[0x20..0x28].copy_from_slice(&phoff.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&(segs.len() as u16).to_le_bytes());
        for (i, (vaddr, bytes, memsz)) in segs.iter().enumerate() {
            let off = elf.len().next_multiple_of(0x1000) as u64;
            elf.resize(off as usize, 0);
            elf.extend_from_slice(bytes);
            let ph = phoff as usize + i * 56;
            elf[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
            elf[ph + 8..ph + 16].copy_from_slice(&off.to_le_bytes());
            elf[ph + 16..ph + 24].copy_from_slice(&vaddr.to_le_bytes());
            elf[ph + 24..ph + 32].copy_from_slice(&(vaddr - VMA).to_le_bytes());
            elf[ph + 32..ph + 40].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
            elf[ph + 40..ph + 48].copy_from_slice(&memsz.to_le_bytes());
        }
        elf
    }

    fn text() -> Vec<u8> {
        let mut t = vec![0x90; 0x2345];
        t[..2].copy_from_slice(&[0x0f, 0x0b]);
        t[0x100..0x104].copy_from_slice(b"LToP");
        t[0x200] = 0xfa; // cli: the entry
        t
    }

    fn u16le(b: &[u8], off: usize) -> u16 {
        u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
    }
    fn u32le(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
    }
    fn u64le(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
    }

    #[test]
    fn header_fields_sit_at_their_boot_rst_offsets() {
        let img = build_bytes(&fake_kernel()).unwrap();
        // Offsets written out from boot.rst's header table, not from bootparam.
        assert_eq!(img[0x1f1], 1, "setup_sects");
        assert_eq!(u16le(&img, 0x1fe), 0xaa55, "boot_flag");
        assert_eq!(img[0x200], 0xeb, "jump opcode");
        assert_eq!(
            0x202 + img[0x201] as usize,
            0x26c,
            "jump target = end of the 2.15 header"
        );
        assert_eq!(&img[0x202..0x206], b"HdrS");
        assert_eq!(u16le(&img, 0x206), 0x020f, "version");
        assert_eq!(img[0x211], 0x01, "loadflags: LOADED_HIGH");
        assert_eq!(u32le(&img, 0x230), 0x20_0000, "kernel_alignment");
        assert_eq!(img[0x234], 1, "relocatable_kernel");
        assert_eq!(img[0x235], 21, "min_alignment");
        assert_eq!(
            u16le(&img, 0x236),
            0x3,
            "xloadflags: KERNEL_64 | CAN_BE_LOADED_ABOVE_4G"
        );
        assert_eq!(u32le(&img, 0x238), 4095, "cmdline_size");
        assert_eq!(u64le(&img, 0x258), 0x100_0000, "pref_address");
        assert_eq!(
            u32le(&img, 0x260),
            0xd000,
            "init_size: text..end of bss, page aligned"
        );
        assert_eq!(u32le(&img, 0x268), 0x100, "kernel_info_offset");
        let payload_len = img.len() - 1024;
        assert_eq!(
            u32le(&img, 0x1f4) as usize,
            payload_len.div_ceil(16),
            "syssize"
        );
        assert_eq!(
            &img[0x26c..0x270],
            &[0xfa, 0xf4, 0xeb, 0xfd],
            "16-bit halt stub at the jump target"
        );
        let v = 0x200 + u16le(&img, 0x20e) as usize;
        assert!(img[v..].starts_with(b"kexos "), "kernel_version string");
    }

    #[test]
    fn pe_header_frames_the_payload_for_authenticode() {
        let img = build_bytes(&fake_kernel()).unwrap();
        assert_eq!(&img[..2], b"MZ");
        assert_eq!(u32le(&img, 0x3c), 0x40, "e_lfanew");
        assert_eq!(&img[0x40..0x44], b"PE\0\0");
        assert_eq!(u16le(&img, 0x58), 0x20b, "PE32+");
        let pe = kexec_sig::pefile::PeFile::parse(&img).unwrap();
        assert_eq!(pe.header_size, SETUP_SIZE, "SizeOfHeaders = the setup area");
        assert_eq!(pe.cert_table, None, "built unsigned");
        // The digest covers the whole file but the checksum and the
        // certificate-table entry, each byte once.
        let ranges = pe.hashed_ranges().unwrap();
        let covered: usize = ranges.iter().map(|r| r.len()).sum();
        assert_eq!(covered, img.len() - 4 - 8);
        assert_eq!(ranges.last().unwrap().end, img.len());
    }

    #[test]
    fn payload_is_the_segments_in_memory_layout() {
        let elf = fake_kernel();
        let img = build_bytes(&elf).unwrap();
        let payload = &img[SETUP_SIZE..];
        let segs = load_segments(&elf).unwrap();
        let base = segs[0].paddr;
        assert_eq!(base, 0x20_0000);
        let mut covered = vec![false; payload.len()];
        for s in &segs {
            let at = (s.paddr - base) as usize;
            let file = &elf[s.offset as usize..(s.offset + s.filesz) as usize];
            assert_eq!(
                &payload[at..at + file.len()],
                file,
                "segment at {:#x}",
                s.paddr
            );
            covered[at..at + file.len()]
                .iter_mut()
                .for_each(|c| *c = true);
        }
        // Gaps between segments are zero; the payload ends with the last
        // file byte (no bss), padded to the PE file alignment.
        assert!(payload.iter().zip(&covered).all(|(&b, &c)| c || b == 0));
        let file_end = segs[2].paddr - base + segs[2].filesz;
        assert_eq!(payload.len() as u64, file_end.next_multiple_of(512));
        assert_eq!(&payload[0x100..0x104], b"LToP");
        assert_eq!(payload[ENTRY_64_OFFSET], 0xfa);
        let info = probe_info(&img).unwrap();
        assert_eq!(info.payload_len, payload.len() as u64);
        assert!(u64::from(info.init_size) >= segs[2].paddr - base + segs[2].memsz);
    }

    #[test]
    fn kexec_cores_bzimage64_probe_accepts_it() {
        let img = build_bytes(&fake_kernel()).unwrap();
        kexec_core::bzimage64::bzimage64_probe(&img).unwrap();
        let info = probe_info(&img).unwrap();
        assert_eq!(
            info,
            BzImageInfo {
                file_len: img.len() as u64,
                setup_sects: 1,
                version: 0x020f,
                loadflags: 1,
                xloadflags: 3,
                payload_len: (img.len() - 1024) as u64,
                init_size: 0xd000,
                kernel_alignment: 0x20_0000,
                pref_address: 0x100_0000,
                cmdline_size: 4095,
            }
        );
    }

    #[test]
    fn rejects_elfs_it_cannot_place() {
        let mut elf = fake_kernel();
        // Break the kernel_info marker: the entry layout is not kexos's.
        let text_off = 0x1000;
        elf[text_off + 0x100] = b'X';
        assert!(build_bytes(&elf)
            .unwrap_err()
            .to_string()
            .contains("kernel_info"));
        // p_paddr not following p_vaddr for the second segment.
        let mut elf = fake_kernel();
        let ph = 64 + 56;
        let p = u64le(&elf, ph + 24) + 0x1000;
        elf[ph + 24..ph + 32].copy_from_slice(&p.to_le_bytes());
        assert!(build_bytes(&elf)
            .unwrap_err()
            .to_string()
            .contains("p_vaddr - p_paddr"));
        assert!(build_bytes(b"not an elf").is_err());
    }

    #[test]
    fn probe_info_rejects_what_linux_rejects() {
        let good = build_bytes(&fake_kernel()).unwrap();
        let mut bad = good.clone();
        bad[0x236] = 0x1; // no XLF_CAN_BE_LOADED_ABOVE_4G
        assert!(probe_info(&bad).is_err());
        assert!(kexec_core::bzimage64::bzimage64_probe(&bad).is_err());
        let mut bad = good.clone();
        bad[0x1fe] = 0;
        assert!(probe_info(&bad).is_err());
        assert!(probe_info(&good[..1024]).is_err());
    }

    #[test]
    fn truncated_or_flipped_elfs_are_errors_not_panics() {
        let elf = fake_kernel();
        // The last PT_LOAD's data ends the file: every prefix cuts something.
        for cut in 0..elf.len() {
            assert!(build_bytes(&elf[..cut]).is_err(), "prefix of {cut} bytes");
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut f = elf.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly the headers: that is where a parser can go wrong.
                let at = (x >> 8) as usize % if x & 1 == 0 { 64 + 3 * 56 } else { f.len() };
                f[at] ^= 1 << (x % 8);
            }
            let _ = build_bytes(&f);
        }
    }

    /// The real kernel as xtask built it (debug, or release after
    /// `--release`; `cargo xtask test` builds before the host tests): the
    /// bzImage is well formed and the 64-bit entry is where the kernel's
    /// symbol table says. Fails if the kernel is not built.
    #[test]
    fn real_kernel() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kernel/x86_64-unknown-none");
        let paths = ["debug", "release"].map(|p| dir.join(p).join("kexos"));
        let elf = paths
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .unwrap_or_else(|| {
                panic!(
                    "the kexos kernel is not built ({} and {} are missing): run `cargo xtask \
                 build` first (`cargo xtask test` builds it before the host tests)",
                    paths[0].display(),
                    paths[1].display()
                )
            });
        let img = build_bytes(&elf).unwrap();
        kexec_core::bzimage64::bzimage64_probe(&img).unwrap();
        let info = probe_info(&img).unwrap();
        let segs = load_segments(&elf).unwrap();
        assert_eq!(segs[0].paddr, 0x20_0000, "p_paddr = p_vaddr - KERNEL_VMA");
        let mem_end = segs.iter().map(|s| s.paddr + s.memsz).max().unwrap() - segs[0].paddr;
        assert_eq!(u64::from(info.init_size), mem_end.next_multiple_of(4096));
        // cli; cld at the entry (arch/boot64.s).
        assert_eq!(&img[SETUP_SIZE + ENTRY_64_OFFSET..][..2], &[0xfa, 0xfc]);
    }
}
