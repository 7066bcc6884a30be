//! The bzImage64 loader (arch/x86/kernel/kexec-bzimage64.c): probe, and
//! load as four segments in Linux's order: purgatory, boot_params block,
//! kernel, initrd (a crash image has the ELF core headers before them).

use core::fmt;

use abi::Errno;
use bootparam::{loadflags, xloadflags, BootParams, SetupHeader};

use crate::crash::crash_load_segments;
use crate::error::KexecError;
use crate::handoff::{self, check_cmdline, CmdlineFit};
use crate::kimage::Kimage;
use crate::loader::{KexecFileOps, LoadContext, LoadSummary, ProbeError};
use crate::segment::{KexecBuf, SegmentBuf};
use crate::types::PhysAddr;

pub use crate::handoff::{
    MAX_ELFCOREHDR_STR_LEN, MIN_BOOTPARAM_ADDR, MIN_INITRD_LOAD_ADDR, MIN_PURGATORY_ADDR,
};
/// Lowest kernel address (MIN_KERNEL_LOAD_ADDR, 1 MiB).
pub const MIN_KERNEL_LOAD_ADDR: u64 = 0x10_0000;
/// Oldest accepted boot protocol: 2.12 (xloadflags).
pub const MIN_PROTOCOL: u16 = 0x020c;
/// The 64-bit entry is 0x200 past the load address (boot.rst "64-bit BOOT PROTOCOL").
pub const STARTUP_64_OFFSET: u64 = 0x200;

/// Why a file is not a loadable bzImage64, or its load parameters are bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BzImageError {
    /// Shorter than two sectors.
    TooShort { len: usize },
    /// No "HdrS" at 0x202.
    NoMagic { found: [u8; 4] },
    /// boot_flag is not 0xAA55.
    BadBootFlag { found: u16 },
    /// Boot protocol older than 2.12.
    ProtocolTooOld { version: u16 },
    /// LOADED_HIGH clear: a zImage.
    NotLoadedHigh { loadflags: u8 },
    /// XLF_KERNEL_64 clear.
    NoKernel64 { xloadflags: u16 },
    /// XLF_CAN_BE_LOADED_ABOVE_4G clear.
    NotAbove4G { xloadflags: u16 },
    /// The file ends inside the real-mode part.
    Truncated { len: usize, kern16_size: usize },
    /// kernel_alignment is not a power of two (kexos: Linux misplaces it).
    BadKernelAlignment { align: u32 },
    /// PAGE_ALIGN(init_size) smaller than the protected-mode payload.
    InitSizeTooSmall { init_size: u32, payload: u64 },
    /// cmdline_len (with NUL) > cmdline_size.
    CmdlineTooLong { len: u64, max: u32 },
    /// cmdline_len + 30 > cmdline_size: no room for `elfcorehdr=`.
    CmdlineNoRoom { len: u64, max: u32 },
}

impl BzImageError {
    /// Linux's errno: format problems ENOEXEC, command line and size EINVAL.
    pub fn errno(&self) -> Errno {
        match self {
            BzImageError::CmdlineTooLong { .. }
            | BzImageError::CmdlineNoRoom { .. }
            | BzImageError::InitSizeTooSmall { .. } => Errno::EINVAL,
            _ => Errno::ENOEXEC,
        }
    }
}

impl fmt::Display for BzImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BzImageError::TooShort { len } => {
                write!(
                    f,
                    "file is too short to be a bzImage ({len} bytes, need 1024)"
                )
            }
            BzImageError::NoMagic { .. } => write!(f, "not a bzImage: no \"HdrS\" magic at 0x202"),
            BzImageError::BadBootFlag { found } => write!(f, "bad boot_flag {found:#06x}"),
            BzImageError::ProtocolTooOld { version } => write!(
                f,
                "boot protocol {}.{:02} is older than 2.12",
                version >> 8,
                version & 0xff
            ),
            BzImageError::NotLoadedHigh { loadflags } => {
                write!(
                    f,
                    "zImage, not a bzImage (loadflags {loadflags:#04x} lacks LOADED_HIGH)"
                )
            }
            BzImageError::NoKernel64 { xloadflags } => {
                write!(
                    f,
                    "not a bzImage64: XLF_KERNEL_64 is not set (xloadflags {xloadflags:#06x})"
                )
            }
            BzImageError::NotAbove4G { xloadflags } => write!(
                f,
                "XLF_CAN_BE_LOADED_ABOVE_4G is not set (xloadflags {xloadflags:#06x})"
            ),
            BzImageError::Truncated { len, kern16_size } => write!(
                f,
                "bzImage truncated: {len} bytes, the setup alone is {kern16_size}"
            ),
            BzImageError::BadKernelAlignment { align } => {
                write!(f, "kernel_alignment {align:#x} is not a power of two")
            }
            BzImageError::InitSizeTooSmall { init_size, payload } => write!(
                f,
                "init_size {init_size:#x} (page aligned in 32 bits, as Linux does: {:#x}) is smaller than the {payload:#x}-byte payload",
                init_size_memsz(init_size)
            ),
            BzImageError::CmdlineTooLong { len, max } => {
                write!(
                    f,
                    "kernel command line too long ({len} bytes with NUL, max {max})"
                )
            }
            BzImageError::CmdlineNoRoom { len, max } => write!(
                f,
                "command line of {len} bytes leaves no room for elfcorehdr= ({} + {len} > {max})",
                MAX_ELFCOREHDR_STR_LEN
            ),
        }
    }
}

/// bzImage64_probe, check by check in Linux's order (each ENOEXEC). A
/// truncated file passes: Linux finds that in the loader, after the initrd
/// was read and the command line copied (so their errors win), and so do we
/// ([`bzimage64_load`]).
pub fn bzimage64_probe(kernel: &[u8]) -> Result<(), BzImageError> {
    // The kernel is at least two sectors (and the header fits in them).
    if kernel.len() < 2 * bootparam::SECTOR_SIZE {
        return Err(BzImageError::TooShort { len: kernel.len() });
    }
    let hdr = SetupHeader::new(kernel).map_err(|_| BzImageError::TooShort { len: kernel.len() })?;
    if !hdr.has_magic() {
        return Err(BzImageError::NoMagic {
            found: hdr.header().to_le_bytes(),
        });
    }
    if hdr.boot_flag() != bootparam::BOOT_FLAG {
        return Err(BzImageError::BadBootFlag {
            found: hdr.boot_flag(),
        });
    }
    // xloadflags exist from 2.12 on.
    if hdr.version() < MIN_PROTOCOL {
        return Err(BzImageError::ProtocolTooOld {
            version: hdr.version(),
        });
    }
    if hdr.loadflags() & loadflags::LOADED_HIGH == 0 {
        return Err(BzImageError::NotLoadedHigh {
            loadflags: hdr.loadflags(),
        });
    }
    // We enter at startup_64 (load + 0x200) and may place it above 4 GiB.
    if hdr.xloadflags() & xloadflags::XLF_KERNEL_64 == 0 {
        return Err(BzImageError::NoKernel64 {
            xloadflags: hdr.xloadflags(),
        });
    }
    if hdr.xloadflags() & xloadflags::XLF_CAN_BE_LOADED_ABOVE_4G == 0 {
        return Err(BzImageError::NotAbove4G {
            xloadflags: hdr.xloadflags(),
        });
    }
    // kexos never runs 5-level paging, so Linux's XLF_5LEVEL check does not apply.
    Ok(())
}

/// Linux's `PAGE_ALIGN(header->init_size)`: the macro computes in the type
/// of its argument, a u32, so an init_size within a page of 4 GiB wraps to
/// 0 (and then fails the init_size check, EINVAL, as in Linux).
fn init_size_memsz(init_size: u32) -> u64 {
    u64::from(init_size.wrapping_add(0xfff) & !0xfff)
}

/// The bzImage64 loader.
#[derive(Clone, Copy, Debug, Default)]
pub struct BzImage64;

impl KexecFileOps for BzImage64 {
    fn name(&self) -> &'static str {
        "bzImage64"
    }

    fn probe(&self, kernel: &[u8]) -> Result<(), ProbeError> {
        bzimage64_probe(kernel).map_err(ProbeError::BzImage)
    }

    /// The protected-mode kernel: everything after the setup sectors
    /// ((setup_sects + 1) * 512 bytes), the kernel segment's data.
    fn suffix_offset(&self, kernel: &[u8]) -> Option<usize> {
        let k = SetupHeader::new(kernel).ok()?.kern16_size();
        (k <= kernel.len() && k % 64 == 0).then_some(k)
    }

    /// Authenticode, as Linux's kexec_kernel_verify_pe_sig.
    fn verify_sig(&self, kernel: &[u8], keyring: &kexec_sig::Keyring) -> Result<crate::Verified, crate::SigError> {
        kexec_sig::verify_pe(kernel, keyring)
    }

    fn load<'a>(
        &self,
        image: &mut Kimage<'a>,
        ctx: &LoadContext<'_>,
        kernel: &'a [u8],
        initrd: Option<&'a [u8]>,
        cmdline: &[u8],
    ) -> Result<LoadSummary, KexecError> {
        bzimage64_load(image, ctx, kernel, initrd, cmdline)
    }
}

/// bzImage64_load. `cmdline` includes its NUL (or is empty).
pub fn bzimage64_load<'a>(
    image: &mut Kimage<'a>,
    ctx: &LoadContext<'_>,
    kernel: &'a [u8],
    initrd: Option<&'a [u8]>,
    cmdline: &[u8],
) -> Result<LoadSummary, KexecError> {
    bzimage64_probe(kernel)?;
    let hdr = SetupHeader::new(kernel).map_err(|_| BzImageError::TooShort { len: kernel.len() })?;
    let kern16_size = hdr.kern16_size();
    if kernel.len() < kern16_size {
        return Err(BzImageError::Truncated {
            len: kernel.len(),
            kern16_size,
        }
        .into());
    }
    let cmdline_len = cmdline.len() as u64;
    let cmdline_size = hdr.cmdline_size();
    // Room for "elfcorehdr=0x... " even for a normal load, as Linux checks.
    check_cmdline(cmdline_len, cmdline_size).map_err(|fit| match fit {
        CmdlineFit::TooLong => BzImageError::CmdlineTooLong {
            len: cmdline_len,
            max: cmdline_size,
        },
        CmdlineFit::NoRoom => BzImageError::CmdlineNoRoom {
            len: cmdline_len,
            max: cmdline_size,
        },
    })?;
    let align = hdr.kernel_alignment();
    if !(align == 0 || align.is_power_of_two()) {
        return Err(BzImageError::BadKernelAlignment { align }.into());
    }
    let payload = &kernel[kern16_size..];
    let kernel_memsz = init_size_memsz(hdr.init_size());
    if kernel_memsz < payload.len() as u64 {
        return Err(BzImageError::InitSizeTooSmall {
            init_size: hdr.init_size(),
            payload: payload.len() as u64,
        }
        .into());
    }

    // 0. A crash image: the ELF core headers, first (Linux: crash_load_segments
    //    before purgatory), and the capture kernel's restricted e820.
    crash_load_segments(image, ctx)?;

    // 1. Purgatory: anywhere above 0x3000, top down.
    let purgatory_entry = handoff::load_purgatory(image, ctx)?;

    // 2. One block: boot_params, the command line (+ elfcorehdr room), the
    //    setup_data nodes (E820_EXT beyond 128 entries).
    let block = handoff::add_params_block(image, ctx, cmdline_len)?;
    let bp_addr = block.addr;

    // 3. The protected-mode kernel: memsz from init_size (the kernel
    //    decompresses and sets up in place), alignment kernel_alignment.
    let kernel_addr = image.add_buffer(
        KexecBuf::new("kernel", SegmentBuf::Borrowed(payload), kernel_memsz)
            .align(u64::from(align))
            .min(hdr.pref_address().max(MIN_KERNEL_LOAD_ADDR))
            .top_down(true),
        ctx.view,
    )?;

    // 4. The initrd, high.
    let initrd_placed = handoff::add_initrd(image, ctx, initrd)?;

    // boot_params starts from the image's own setup header; purgatory
    // enters startup_64 (load + 0x200).
    let mut bp = BootParams::new();
    bp.copy_setup_header(kernel)
        .map_err(|_| BzImageError::TooShort { len: kernel.len() })?;
    let kernel_entry = PhysAddr(kernel_addr.0 + STARTUP_64_OFFSET);
    let cmdline_placed =
        handoff::finish_handoff(image, ctx, block, bp, cmdline, initrd_placed, kernel_entry)?;

    Ok(LoadSummary {
        loader: "bzImage64",
        kernel: kernel_addr,
        kernel_entry,
        boot_params: Some(bp_addr),
        cmdline: Some(cmdline_placed),
        initrd: initrd_placed,
        purgatory_entry,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bootparam::hdr;

    /// A bzImage-shaped file: setup_sects 27, protocol 2.15, 64-bit and
    /// above-4G capable, 2 MiB aligned, `payload` bytes of protected-mode
    /// code, init_size `init_size`.
    pub(crate) fn fake_bzimage(payload: usize, init_size: u32) -> Vec<u8> {
        let setup_sects = 27u8;
        let kern16 = (setup_sects as usize + 1) * 512;
        let mut img = vec![0u8; kern16 + payload];
        let mut put = |off: usize, v: &[u8]| img[off..off + v.len()].copy_from_slice(v);
        put(hdr::SETUP_SECTS, &[setup_sects]);
        put(hdr::BOOT_FLAG, &0xaa55u16.to_le_bytes());
        put(hdr::JUMP, &[0xeb, 0x6a]);
        put(hdr::HEADER, b"HdrS");
        put(hdr::VERSION, &0x020fu16.to_le_bytes());
        put(hdr::LOADFLAGS, &[loadflags::LOADED_HIGH]);
        put(hdr::KERNEL_ALIGNMENT, &0x20_0000u32.to_le_bytes());
        put(hdr::RELOCATABLE_KERNEL, &[1]);
        put(hdr::XLOADFLAGS, &0x7fu16.to_le_bytes());
        put(hdr::CMDLINE_SIZE, &2047u32.to_le_bytes());
        put(hdr::PREF_ADDRESS, &0x100_0000u64.to_le_bytes());
        put(hdr::INIT_SIZE, &init_size.to_le_bytes());
        for (i, b) in img[kern16..].iter_mut().enumerate() {
            *b = (i as u8) ^ 0x5c;
        }
        img
    }

    pub(crate) fn with(mut img: Vec<u8>, off: usize, v: &[u8]) -> Vec<u8> {
        img[off..off + v.len()].copy_from_slice(v);
        img
    }

    #[test]
    fn probe_accepts_a_good_image() {
        assert_eq!(bzimage64_probe(&fake_bzimage(4096, 1 << 20)), Ok(()));
    }

    #[test]
    fn every_probe_rejection_has_its_reason() {
        let good = || fake_bzimage(4096, 1 << 20);
        let cases: Vec<(Vec<u8>, BzImageError, &str)> = vec![
            (
                vec![0; 1023],
                BzImageError::TooShort { len: 1023 },
                "too short",
            ),
            (
                with(good(), hdr::HEADER, b"HdrX"),
                BzImageError::NoMagic { found: *b"HdrX" },
                "HdrS",
            ),
            (
                with(good(), hdr::BOOT_FLAG, &[0, 0]),
                BzImageError::BadBootFlag { found: 0 },
                "bad boot_flag 0x0000",
            ),
            (
                with(good(), hdr::VERSION, &0x020bu16.to_le_bytes()),
                BzImageError::ProtocolTooOld { version: 0x020b },
                "2.11 is older than 2.12",
            ),
            (
                with(good(), hdr::LOADFLAGS, &[0]),
                BzImageError::NotLoadedHigh { loadflags: 0 },
                "zImage",
            ),
            (
                with(good(), hdr::XLOADFLAGS, &2u16.to_le_bytes()),
                BzImageError::NoKernel64 { xloadflags: 2 },
                "XLF_KERNEL_64",
            ),
            (
                with(good(), hdr::XLOADFLAGS, &1u16.to_le_bytes()),
                BzImageError::NotAbove4G { xloadflags: 1 },
                "XLF_CAN_BE_LOADED_ABOVE_4G",
            ),
        ];
        for (img, want, text) in cases {
            let e = bzimage64_probe(&img).unwrap_err();
            assert_eq!(e, want);
            assert_eq!(e.errno(), Errno::ENOEXEC);
            assert!(e.to_string().contains(text), "{e} lacks {text}");
        }
        // Truncation is the loader's check (Linux's order), not the probe's.
        assert_eq!(bzimage64_probe(&good()[..10000]), Ok(()));
    }
}

#[cfg(test)]
mod load_tests {
    use super::tests::{fake_bzimage, with};
    use bootparam::hdr;
    use super::*;
    use crate::kimage::KimageKind;
    use crate::loader::CrashSetup;
    use crate::testutil::purgatory;
    use crate::{MemoryView, PhysRange};
    use bootparam::{parse_boot_params, E820Entry};
    use memmap::{MemoryMap, Region, RegionKind};

    const MIB: u64 = 1 << 20;

    fn load(
        kind: KimageKind,
        view: &MemoryView,
        e820: &[E820Entry],
        kernel: &[u8],
        cmdline: &[u8],
    ) -> Result<(Kimage<'static>, LoadSummary), KexecError> {
        let purg = purgatory();
        // For crash images (ignored otherwise): one page of headers, a flat map.
        let map = MemoryMap::from_regions([Region::new(0, 512 * MIB, RegionKind::Ram)]);
        let ctx = LoadContext {
            view,
            e820,
            acpi_rsdp: None,
            purgatory: &purg,
            tsc_khz: None,
            crash: Some(CrashSetup {
                elf_headers: b"\x7fELF",
                memmap: &map,
            }),
        };
        let kernel: &'static [u8] = Box::leak(kernel.to_vec().into_boxed_slice());
        let mut image = Kimage::new(kind);
        let s = bzimage64_load(&mut image, &ctx, kernel, None, cmdline)?;
        Ok((image, s))
    }

    fn view() -> MemoryView {
        MemoryView::new([PhysRange::new(MIB, 256 * MIB)], &[])
    }

    #[test]
    fn command_line_limits() {
        let k = fake_bzimage(4096, 1 << 20);
        // cmdline_size 2047: 2017 bytes (with NUL) is the longest accepted.
        let ok = [b'a'; 2017];
        assert!(load(KimageKind::Normal, &view(), &[], &k, &ok).is_ok());
        let e = load(KimageKind::Normal, &view(), &[], &k, &[b'a'; 2018]).unwrap_err();
        assert_eq!(
            e,
            KexecError::BzImage(BzImageError::CmdlineNoRoom {
                len: 2018,
                max: 2047
            })
        );
        assert_eq!(e.errno(), Errno::EINVAL);
        let e = load(KimageKind::Normal, &view(), &[], &k, &[b'a'; 2048]).unwrap_err();
        assert_eq!(
            e,
            KexecError::BzImage(BzImageError::CmdlineTooLong {
                len: 2048,
                max: 2047
            })
        );
        assert_eq!(e.errno(), Errno::EINVAL);
        // No command line at all: an empty string.
        let (img, s) = load(KimageKind::Normal, &view(), &[], &k, b"").unwrap();
        assert_eq!(img.cmdline, b"\0");
        assert_eq!(s.cmdline.unwrap().1, 1);
    }

    /// Linux's bzImage64_load checks truncation first (ENOEXEC), before the command line
    /// (EINVAL); the generic code's own command-line errors (no NUL, EFAULT) come earlier
    /// still, since the probe lets a truncated image through.
    #[test]
    fn truncation_is_found_by_the_loader_first() {
        let good = || fake_bzimage(4096, 1 << 20);
        let cases = [
            (good()[..10000].to_vec(), 10000, 28 * 512),
            // setup_sects 0 means 4: a 2048-byte file is then truncated (needs 2560).
            (with(good(), hdr::SETUP_SECTS, &[0])[..2048].to_vec(), 2048, 5 * 512),
        ];
        let long = [b'x'; 4000];
        for (img, len, kern16_size) in cases {
            for cmdline in [&b"\0"[..], &long[..]] {
                let e = load(KimageKind::Normal, &view(), &[], &img, cmdline).unwrap_err();
                assert_eq!(e, KexecError::BzImage(BzImageError::Truncated { len, kern16_size }));
                assert_eq!(e.errno(), Errno::ENOEXEC);
                assert!(e.to_string().contains("truncated"), "{e}");
            }
        }
        // 5 * 512 bytes with setup_sects 0 is enough for the check.
        let img = with(good(), hdr::SETUP_SECTS, &[0])[..2560].to_vec();
        assert!(load(KimageKind::Normal, &view(), &[], &img, b"\0").is_ok());
    }

    /// init_size near 4 GiB: Linux's PAGE_ALIGN on the u32 wraps to 0, so the init_size check
    /// refuses it (EINVAL), where a 64-bit align would end in EADDRNOTAVAIL.
    #[test]
    fn init_size_page_aligns_in_32_bits_as_linux() {
        assert_eq!(init_size_memsz(0xffff_ffff), 0);
        assert_eq!(init_size_memsz(0xffff_f001), 0);
        assert_eq!(init_size_memsz(0xffff_f000), 0xffff_f000);
        assert_eq!(init_size_memsz(1), 0x1000);
        let k = fake_bzimage(8192, 0xffff_ffff);
        let e = load(KimageKind::Normal, &view(), &[], &k, b"\0").unwrap_err();
        assert_eq!(e, KexecError::BzImage(BzImageError::InitSizeTooSmall { init_size: 0xffff_ffff, payload: 8192 }));
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(e.to_string().contains("page aligned in 32 bits"), "{e}");
    }

    #[test]
    fn loader_errors() {
        let mut k = fake_bzimage(8192, 4096);
        let e = load(KimageKind::Normal, &view(), &[], &k, b"\0").unwrap_err();
        assert_eq!(
            e,
            KexecError::BzImage(BzImageError::InitSizeTooSmall {
                init_size: 4096,
                payload: 8192
            })
        );
        assert_eq!(e.errno(), Errno::EINVAL);
        k = fake_bzimage(4096, 1 << 20);
        k[bootparam::hdr::KERNEL_ALIGNMENT..][..4].copy_from_slice(&0x30_0000u32.to_le_bytes());
        let e = load(KimageKind::Normal, &view(), &[], &k, b"\0").unwrap_err();
        assert_eq!(e.errno(), Errno::ENOEXEC);
        // Probe failures also stop load with ENOEXEC.
        let e = load(KimageKind::Normal, &view(), &[], &[0u8; 4096], b"\0").unwrap_err();
        assert_eq!(e.errno(), Errno::ENOEXEC);
        // Too little memory: EADDRNOTAVAIL saying which segment and why.
        let small = MemoryView::new([PhysRange::new(MIB, 20 * MIB)], &[]);
        let k = fake_bzimage(4096, 32 << 20);
        let e = load(KimageKind::Normal, &small, &[], &k, b"\0").unwrap_err();
        assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
        let msg = e.to_string();
        assert!(
            msg.contains("no memory hole for kernel (memsz 0x2000000"),
            "{msg}"
        );
    }

    #[test]
    fn many_e820_entries_go_to_setup_data() {
        let e820: Vec<E820Entry> = (0..200u64)
            .map(|i| E820Entry {
                addr: i * 2 * MIB,
                size: MIB,
                typ: 1 + (i as u32 % 2),
            })
            .collect();
        let k = fake_bzimage(4096, 1 << 20);
        let (img, s) = load(KimageKind::Normal, &view(), &e820, &k, b"x\0").unwrap();
        let bp = img.segments()[1].buf.as_slice();
        let base = s.boot_params.unwrap().0;
        let parsed = parse_boot_params(&bp[..4096], |pa, buf| {
            let Some(off) = pa.checked_sub(base).map(|o| o as usize) else {
                return false;
            };
            match bp.get(off..off + buf.len()) {
                Some(src) => {
                    buf.copy_from_slice(src);
                    true
                }
                None => false,
            }
        })
        .unwrap();
        assert_eq!(parsed.params.e820_entries(), 128);
        assert_eq!(parsed.setup_data.len(), 1);
        assert_eq!(
            parsed.setup_data[0].typ,
            bootparam::setup_type::SETUP_E820_EXT
        );
        assert_eq!(parsed.setup_data[0].len, 72 * 20);
        assert_eq!(parsed.e820, e820);
    }

    #[test]
    fn crash_load_prefixes_elfcorehdr_and_stays_in_region() {
        let region = PhysRange::new(256 * MIB, 384 * MIB);
        let k = fake_bzimage(4096, 1 << 20);
        let (img, _) = load(
            KimageKind::Crash { region },
            &view(),
            &[],
            &k,
            b"console=ttyS0\0",
        )
        .unwrap();
        assert_eq!(img.cmdline, b"elfcorehdr=0x10000000 console=ttyS0\0");
        for s in img.segments() {
            assert!(
                region.contains_range(&s.dest_range()),
                "{} outside",
                s.label
            );
        }
    }
}
