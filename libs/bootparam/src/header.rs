//! The setup header (`struct setup_header`, boot.rst "THE REAL-MODE KERNEL
//! HEADER"): a read-only view at its absolute offsets inside a bzImage or a
//! zero page, plus the matching setters on [`BootParams`].

use crate::bytes::Le;
use crate::{BootParamError, BootParams};

/// First byte of the setup header (`setup_sects`), in the image and in boot_params.
pub const SETUP_HEADER_START: usize = 0x1f1;
/// One past the last field kexos knows (`kernel_info_offset`, protocol 2.15).
pub const SETUP_HEADER_END: usize = 0x26c;

macro_rules! setup_header_fields {
    ($( $(#[$doc:meta])* $get:ident, $set:ident: $ty:ident @ $OFF:ident = $off:literal; )*) => {
        /// Absolute offsets of the setup header fields (boot.rst tables).
        pub mod offsets {
            $( $(#[$doc])* pub const $OFF: usize = $off; )*
        }

        /// Every setup header field as (name, absolute offset, size), in layout order.
        pub const SETUP_HEADER_FIELDS: &[(&str, usize, usize)] = &[
            $( (stringify!($get), $off, core::mem::size_of::<$ty>()), )*
        ];

        impl SetupHeader<'_> {
            $( $(#[$doc])* pub fn $get(&self) -> $ty { <$ty as Le>::read(self.0, $off) } )*
        }

        impl BootParams {
            $( #[doc = concat!("Set `hdr.", stringify!($get), "` (offset ", stringify!($off), ").")]
               pub fn $set(&mut self, v: $ty) { v.write(self.bytes_mut(), $off); } )*
        }
        // Every field lies inside the header's byte range.
        $( const _: () = assert!($off >= SETUP_HEADER_START
               && $off + core::mem::size_of::<$ty>() <= SETUP_HEADER_END); )*
    };
}

setup_header_fields! {
    /// 0x1f1 u8: size of the setup in 512-byte sectors; 0 means 4.
    setup_sects, set_setup_sects: u8 @ SETUP_SECTS = 0x1f1;
    /// 0x1f2 u16: if set, the root is mounted read-only (obsolete).
    root_flags, set_root_flags: u16 @ ROOT_FLAGS = 0x1f2;
    /// 0x1f4 u32: size of the 32-bit code in 16-byte paragraphs.
    syssize, set_syssize: u32 @ SYSSIZE = 0x1f4;
    /// 0x1f8 u16: obsolete.
    ram_size, set_ram_size: u16 @ RAM_SIZE = 0x1f8;
    /// 0x1fa u16: video mode control.
    vid_mode, set_vid_mode: u16 @ VID_MODE = 0x1fa;
    /// 0x1fc u16: default root device number (obsolete).
    root_dev, set_root_dev: u16 @ ROOT_DEV = 0x1fc;
    /// 0x1fe u16: 0xAA55.
    boot_flag, set_boot_flag: u16 @ BOOT_FLAG = 0x1fe;
    /// 0x200 u16: a short jump; its second byte (0x201) is the offset from
    /// 0x202 to the end of the header.
    jump, set_jump: u16 @ JUMP = 0x200;
    /// 0x202 u32: magic "HdrS".
    header, set_header: u32 @ HEADER = 0x202;
    /// 0x206 u16: boot protocol version, e.g. 0x020f.
    version, set_version: u16 @ VERSION = 0x206;
    /// 0x208 u32: boot loader hook (obsolete).
    realmode_swtch, set_realmode_swtch: u32 @ REALMODE_SWTCH = 0x208;
    /// 0x20c u16: load-low segment (obsolete).
    start_sys_seg, set_start_sys_seg: u16 @ START_SYS_SEG = 0x20c;
    /// 0x20e u16: pointer to the kernel version string, minus 0x200.
    kernel_version, set_kernel_version: u16 @ KERNEL_VERSION = 0x20e;
    /// 0x210 u8: boot loader identifier (kexec: 0xD0).
    type_of_loader, set_type_of_loader: u8 @ TYPE_OF_LOADER = 0x210;
    /// 0x211 u8: boot protocol option flags ([`crate::loadflags`]).
    loadflags, set_loadflags: u8 @ LOADFLAGS = 0x211;
    /// 0x212 u16: move-to-high-memory size (with hooks).
    setup_move_size, set_setup_move_size: u16 @ SETUP_MOVE_SIZE = 0x212;
    /// 0x214 u32: 32-bit entry point.
    code32_start, set_code32_start: u32 @ CODE32_START = 0x214;
    /// 0x218 u32: initrd load address, low 32 bits.
    ramdisk_image, set_ramdisk_image: u32 @ RAMDISK_IMAGE = 0x218;
    /// 0x21c u32: initrd size, low 32 bits.
    ramdisk_size, set_ramdisk_size: u32 @ RAMDISK_SIZE = 0x21c;
    /// 0x220 u32: do not use.
    bootsect_kludge, set_bootsect_kludge: u32 @ BOOTSECT_KLUDGE = 0x220;
    /// 0x224 u16: free memory after the setup end.
    heap_end_ptr, set_heap_end_ptr: u16 @ HEAP_END_PTR = 0x224;
    /// 0x226 u8: extended boot loader version.
    ext_loader_ver, set_ext_loader_ver: u8 @ EXT_LOADER_VER = 0x226;
    /// 0x227 u8: extended boot loader ID.
    ext_loader_type, set_ext_loader_type: u8 @ EXT_LOADER_TYPE = 0x227;
    /// 0x228 u32: command line address, low 32 bits.
    cmd_line_ptr, set_cmd_line_ptr_lo: u32 @ CMD_LINE_PTR = 0x228;
    /// 0x22c u32: highest legal initrd address (ignored with XLF_CAN_BE_LOADED_ABOVE_4G).
    initrd_addr_max, set_initrd_addr_max: u32 @ INITRD_ADDR_MAX = 0x22c;
    /// 0x230 u32: physical address alignment required for the kernel.
    kernel_alignment, set_kernel_alignment: u32 @ KERNEL_ALIGNMENT = 0x230;
    /// 0x234 u8: whether the kernel is relocatable.
    relocatable_kernel, set_relocatable_kernel: u8 @ RELOCATABLE_KERNEL = 0x234;
    /// 0x235 u8: minimum alignment, as a power of two.
    min_alignment, set_min_alignment: u8 @ MIN_ALIGNMENT = 0x235;
    /// 0x236 u16: extended boot protocol flags ([`crate::xloadflags`]).
    xloadflags, set_xloadflags: u16 @ XLOADFLAGS = 0x236;
    /// 0x238 u32: maximum command line size, excluding the NUL.
    cmdline_size, set_cmdline_size: u32 @ CMDLINE_SIZE = 0x238;
    /// 0x23c u32: hardware subarchitecture.
    hardware_subarch, set_hardware_subarch: u32 @ HARDWARE_SUBARCH = 0x23c;
    /// 0x240 u64: subarchitecture-specific data.
    hardware_subarch_data, set_hardware_subarch_data: u64 @ HARDWARE_SUBARCH_DATA = 0x240;
    /// 0x248 u32: offset of the compressed payload from the protected-mode code.
    payload_offset, set_payload_offset: u32 @ PAYLOAD_OFFSET = 0x248;
    /// 0x24c u32: length of the compressed payload.
    payload_length, set_payload_length: u32 @ PAYLOAD_LENGTH = 0x24c;
    /// 0x250 u64: physical address of the first setup_data node (0 = none).
    setup_data, set_setup_data: u64 @ SETUP_DATA = 0x250;
    /// 0x258 u64: preferred load address for a relocatable kernel.
    pref_address, set_pref_address: u64 @ PREF_ADDRESS = 0x258;
    /// 0x260 u32: linear memory the kernel needs from its load address
    /// during initialization (the kexec kernel segment's memsz).
    init_size, set_init_size: u32 @ INIT_SIZE = 0x260;
    /// 0x264 u32: offset of the EFI handover entry point.
    handover_offset, set_handover_offset: u32 @ HANDOVER_OFFSET = 0x264;
    /// 0x268 u32: offset of kernel_info from the protected-mode code.
    kernel_info_offset, set_kernel_info_offset: u32 @ KERNEL_INFO_OFFSET = 0x268;
}

/// A read-only view of the setup header at its absolute offsets (0x1f1..)
/// in a bzImage file or a zero page.
#[derive(Clone, Copy, Debug)]
pub struct SetupHeader<'a>(&'a [u8]);

impl<'a> SetupHeader<'a> {
    /// View the header inside `image` (the file or zero page from offset 0).
    /// The bytes must reach [`SETUP_HEADER_END`].
    pub fn new(image: &'a [u8]) -> Result<SetupHeader<'a>, BootParamError> {
        if image.len() < SETUP_HEADER_END {
            return Err(BootParamError::TooShort {
                what: "setup header",
                need: SETUP_HEADER_END,
                have: image.len(),
            });
        }
        Ok(SetupHeader(image))
    }

    /// A view without the length check (reads past the end yield 0).
    pub(crate) fn over(bytes: &'a [u8]) -> SetupHeader<'a> {
        SetupHeader(bytes)
    }

    /// The bytes the view reads (from offset 0 of the image).
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }

    /// `setup_sects`, with the protocol's "0 means 4" applied.
    pub fn setup_sects_effective(&self) -> u8 {
        match self.setup_sects() {
            0 => 4,
            n => n,
        }
    }

    /// Size of the real-mode part: `(setup_sects + 1) * 512`; the 32/64-bit
    /// code starts at this file offset (Linux's `kern16_size`).
    pub fn kern16_size(&self) -> usize {
        (usize::from(self.setup_sects_effective()) + 1) * crate::SECTOR_SIZE
    }

    /// End of the header as the image declares it: `0x202 + byte[0x201]`
    /// (boot.rst: the jump at 0x200 skips over the header).
    pub fn declared_end(&self) -> usize {
        0x202 + usize::from(crate::bytes::u8_at(self.0, 0x201))
    }

    /// Is the "HdrS" magic present?
    pub fn has_magic(&self) -> bool {
        self.header() == crate::HDRS_MAGIC
    }
}

#[cfg(test)]
mod tests {
    use super::offsets::*;
    use super::*;

    #[test]
    fn fields_are_packed_contiguously_from_0x1f1_to_0x26c() {
        let mut at = SETUP_HEADER_START;
        for &(name, off, size) in SETUP_HEADER_FIELDS {
            assert_eq!(off, at, "field {name} is not where the previous one ends");
            at += size;
        }
        assert_eq!(at, SETUP_HEADER_END);
    }

    #[test]
    fn offsets_match_boot_rst() {
        // Spot checks straight from the boot.rst header table.
        assert_eq!(SETUP_SECTS, 0x1f1);
        assert_eq!(SYSSIZE, 0x1f4);
        assert_eq!(BOOT_FLAG, 0x1fe);
        assert_eq!(JUMP, 0x200);
        assert_eq!(HEADER, 0x202);
        assert_eq!(VERSION, 0x206);
        assert_eq!(TYPE_OF_LOADER, 0x210);
        assert_eq!(LOADFLAGS, 0x211);
        assert_eq!(CODE32_START, 0x214);
        assert_eq!(RAMDISK_IMAGE, 0x218);
        assert_eq!(RAMDISK_SIZE, 0x21c);
        assert_eq!(CMD_LINE_PTR, 0x228);
        assert_eq!(INITRD_ADDR_MAX, 0x22c);
        assert_eq!(KERNEL_ALIGNMENT, 0x230);
        assert_eq!(RELOCATABLE_KERNEL, 0x234);
        assert_eq!(MIN_ALIGNMENT, 0x235);
        assert_eq!(XLOADFLAGS, 0x236);
        assert_eq!(CMDLINE_SIZE, 0x238);
        assert_eq!(PAYLOAD_OFFSET, 0x248);
        assert_eq!(PAYLOAD_LENGTH, 0x24c);
        assert_eq!(SETUP_DATA, 0x250);
        assert_eq!(PREF_ADDRESS, 0x258);
        assert_eq!(INIT_SIZE, 0x260);
        assert_eq!(HANDOVER_OFFSET, 0x264);
        assert_eq!(KERNEL_INFO_OFFSET, 0x268);
    }

    #[test]
    fn view_reads_little_endian_and_rejects_short() {
        let mut img = vec![0u8; 1024];
        img[0x1f1] = 0;
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        img[0x260..0x264].copy_from_slice(&0x0123_4567u32.to_le_bytes());
        img[0x201] = 0x6a;
        let h = SetupHeader::new(&img).unwrap();
        assert!(h.has_magic());
        assert_eq!(h.version(), 0x020f);
        assert_eq!(h.init_size(), 0x0123_4567);
        assert_eq!(h.setup_sects_effective(), 4);
        assert_eq!(h.kern16_size(), 5 * 512);
        assert_eq!(h.declared_end(), 0x26c);
        assert!(matches!(
            SetupHeader::new(&img[..0x26b]),
            Err(BootParamError::TooShort {
                need: 0x26c,
                have: 0x26b,
                ..
            })
        ));
    }
}
