//! `struct boot_params`, the 4096-byte "zero page" (bootparam.h,
//! Documentation/arch/x86/zero-page.rst), as a byte array with typed setters.

use alloc::vec;
use alloc::vec::Vec;

use crate::bytes::{put, u32_at, u64_at, u8_at, Le};
use crate::e820::{E820Entry, E820_ENTRY_SIZE};
use crate::header::{SetupHeader, SETUP_HEADER_END, SETUP_HEADER_START};
use crate::BootParamError;

/// Size of the zero page.
pub const BOOT_PARAMS_SIZE: usize = 4096;
/// e820 entries that fit in the zero page (`E820_MAX_ENTRIES_ZEROPAGE`);
/// the rest go in SETUP_E820_EXT setup_data.
pub const E820_MAX_ENTRIES_ZEROPAGE: usize = 128;

/// Offsets of the boot_params fields outside the setup header (zero-page.rst).
pub mod offsets {
    /// `screen_info` (0x40 bytes).
    pub const SCREEN_INFO: usize = 0x000;
    /// `screen_info.ext_mem_k` (u16): KiB of RAM above 1 MiB, capped at 0xfc00.
    pub const EXT_MEM_K: usize = 0x002;
    /// `apm_bios_info`.
    pub const APM_BIOS_INFO: usize = 0x040;
    /// `tboot_addr` (u64).
    pub const TBOOT_ADDR: usize = 0x058;
    /// `ist_info`.
    pub const IST_INFO: usize = 0x060;
    /// `acpi_rsdp_addr` (u64), protocol 2.14+.
    pub const ACPI_RSDP_ADDR: usize = 0x070;
    /// `hd0_info`.
    pub const HD0_INFO: usize = 0x080;
    /// `hd1_info`.
    pub const HD1_INFO: usize = 0x090;
    /// `sys_desc_table`.
    pub const SYS_DESC_TABLE: usize = 0x0a0;
    /// `olpc_ofw_header`.
    pub const OLPC_OFW_HEADER: usize = 0x0b0;
    /// `ext_ramdisk_image` (u32): initrd address bits 63..32.
    pub const EXT_RAMDISK_IMAGE: usize = 0x0c0;
    /// `ext_ramdisk_size` (u32): initrd size bits 63..32.
    pub const EXT_RAMDISK_SIZE: usize = 0x0c4;
    /// `ext_cmd_line_ptr` (u32): command line address bits 63..32.
    pub const EXT_CMD_LINE_PTR: usize = 0x0c8;
    /// `cc_blob_address` (u32).
    pub const CC_BLOB_ADDRESS: usize = 0x13c;
    /// `edid_info`.
    pub const EDID_INFO: usize = 0x140;
    /// `efi_info` (0x20 bytes).
    pub const EFI_INFO: usize = 0x1c0;
    /// `alt_mem_k` (u32): KiB of RAM above 1 MiB.
    pub const ALT_MEM_K: usize = 0x1e0;
    /// `scratch` (u32).
    pub const SCRATCH: usize = 0x1e4;
    /// `e820_entries` (u8).
    pub const E820_ENTRIES: usize = 0x1e8;
    /// `eddbuf_entries` (u8).
    pub const EDDBUF_ENTRIES: usize = 0x1e9;
    /// `edd_mbr_sig_buf_entries` (u8).
    pub const EDD_MBR_SIG_BUF_ENTRIES: usize = 0x1ea;
    /// `kbd_status` (u8).
    pub const KBD_STATUS: usize = 0x1eb;
    /// `secure_boot` (u8).
    pub const SECURE_BOOT: usize = 0x1ec;
    /// `sentinel` (u8): a loader that copies a whole header over it without
    /// clearing it makes the kernel distrust the ext_* fields.
    pub const SENTINEL: usize = 0x1ef;
    /// `hdr`: the setup header.
    pub const HDR: usize = 0x1f1;
    /// `edd_mbr_sig_buffer` (16 x u32).
    pub const EDD_MBR_SIG_BUFFER: usize = 0x290;
    /// `e820_table` (128 x 20 bytes).
    pub const E820_TABLE: usize = 0x2d0;
    /// `eddbuf`.
    pub const EDDBUF: usize = 0xd00;
}

use offsets::*;

const _: () = assert!(HDR == SETUP_HEADER_START);
const _: () = assert!(SETUP_HEADER_END <= EDD_MBR_SIG_BUFFER);
const _: () = assert!(E820_TABLE + E820_MAX_ENTRIES_ZEROPAGE * E820_ENTRY_SIZE == 0xcd0);
const _: () = assert!(0xcd0 <= EDDBUF && EDDBUF < BOOT_PARAMS_SIZE);

/// The zero page: always exactly [`BOOT_PARAMS_SIZE`] bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct BootParams {
    bytes: Vec<u8>,
}

impl core::fmt::Debug for BootParams {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BootParams")
            .field("cmd_line_ptr", &self.cmd_line_ptr())
            .field("ramdisk", &(self.ramdisk_image(), self.ramdisk_size()))
            .field("e820_entries", &self.e820_entries())
            .finish_non_exhaustive()
    }
}

impl Default for BootParams {
    fn default() -> Self {
        BootParams::new()
    }
}

impl BootParams {
    /// An all-zero zero page.
    pub fn new() -> BootParams {
        BootParams {
            bytes: vec![0; BOOT_PARAMS_SIZE],
        }
    }

    /// A copy of the first 4096 bytes of `b`.
    pub fn from_bytes(b: &[u8]) -> Result<BootParams, BootParamError> {
        match b.get(..BOOT_PARAMS_SIZE) {
            Some(s) => Ok(BootParams { bytes: s.to_vec() }),
            None => Err(BootParamError::TooShort {
                what: "boot_params",
                need: BOOT_PARAMS_SIZE,
                have: b.len(),
            }),
        }
    }

    /// The 4096 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The 4096 bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// A view of the embedded setup header.
    pub fn hdr(&self) -> SetupHeader<'_> {
        // The buffer is always BOOT_PARAMS_SIZE bytes, past SETUP_HEADER_END.
        SetupHeader::over(&self.bytes)
    }

    /// Read any little-endian field at `off` (u8/u16/u32/u64).
    pub fn get_u64(&self, off: usize) -> u64 {
        u64_at(&self.bytes, off)
    }

    /// Write raw bytes at `off`; false if they do not fit in the page.
    pub fn write_bytes(&mut self, off: usize, v: &[u8]) -> bool {
        put(&mut self.bytes, off, v)
    }

    /// Copy the setup header from a bzImage as Linux's kexec does: from
    /// 0x1f1 up to `0x202 + image[0x201]` (boot.rst: "the end of the setup
    /// header can be calculated as 0x0202 + the value of the byte at
    /// 0x0201"). kexos clamps the copy to 0x290 (where `edd_mbr_sig_buffer`
    /// starts), so a hostile jump byte cannot reach the e820 table; Linux
    /// copies up to 0x301 unchecked. Returns the bytes copied.
    pub fn copy_setup_header(&mut self, image: &[u8]) -> Result<usize, BootParamError> {
        let hdr = SetupHeader::new(image)?;
        let end = hdr.declared_end().min(EDD_MBR_SIG_BUFFER).min(image.len());
        let src = image.get(HDR..end).unwrap_or(&[]);
        put(&mut self.bytes, HDR, src);
        Ok(src.len())
    }

    /// Command line address: `hdr.cmd_line_ptr` low 32 bits and
    /// `ext_cmd_line_ptr` the high 32 (boot.rst, protocol 2.02 / 2.12).
    pub fn set_cmd_line_ptr(&mut self, pa: u64) {
        self.set_cmd_line_ptr_lo(pa as u32);
        ((pa >> 32) as u32).write(&mut self.bytes, EXT_CMD_LINE_PTR);
    }

    /// The 64-bit command line address (ignoring the sentinel rule).
    pub fn cmd_line_ptr(&self) -> u64 {
        u64::from(self.hdr().cmd_line_ptr()) | (u64::from(self.ext_cmd_line_ptr()) << 32)
    }

    /// `ext_cmd_line_ptr` (0x0c8).
    pub fn ext_cmd_line_ptr(&self) -> u32 {
        u32_at(&self.bytes, EXT_CMD_LINE_PTR)
    }

    /// Initrd address and size, split into the header's low halves and
    /// `ext_ramdisk_image`/`ext_ramdisk_size` (Linux's setup_initrd).
    pub fn set_ramdisk(&mut self, pa: u64, size: u64) {
        self.set_ramdisk_image(pa as u32);
        self.set_ramdisk_size(size as u32);
        ((pa >> 32) as u32).write(&mut self.bytes, EXT_RAMDISK_IMAGE);
        ((size >> 32) as u32).write(&mut self.bytes, EXT_RAMDISK_SIZE);
    }

    /// The 64-bit initrd address.
    pub fn ramdisk_image(&self) -> u64 {
        u64::from(self.hdr().ramdisk_image())
            | (u64::from(u32_at(&self.bytes, EXT_RAMDISK_IMAGE)) << 32)
    }

    /// The 64-bit initrd size.
    pub fn ramdisk_size(&self) -> u64 {
        u64::from(self.hdr().ramdisk_size())
            | (u64::from(u32_at(&self.bytes, EXT_RAMDISK_SIZE)) << 32)
    }

    /// `acpi_rsdp_addr` (0x070); 0 means "find it yourself".
    pub fn set_acpi_rsdp_addr(&mut self, pa: u64) {
        pa.write(&mut self.bytes, ACPI_RSDP_ADDR);
    }

    /// `acpi_rsdp_addr` (0x070).
    pub fn acpi_rsdp_addr(&self) -> u64 {
        u64_at(&self.bytes, ACPI_RSDP_ADDR)
    }

    /// `e820_entries` (0x1e8).
    pub fn e820_entries(&self) -> u8 {
        u8_at(&self.bytes, E820_ENTRIES)
    }

    /// Fill `e820_table` with the first 128 entries and set `e820_entries`;
    /// returns the entries that did not fit (they belong in a
    /// SETUP_E820_EXT node). Also sets `ext_mem_k`/`alt_mem_k` from the RAM
    /// entry that covers 1 MiB, as Linux's setup_boot_parameters does.
    pub fn set_e820_table<'e>(&mut self, entries: &'e [E820Entry]) -> &'e [E820Entry] {
        let n = entries.len().min(E820_MAX_ENTRIES_ZEROPAGE);
        let (here, rest) = entries.split_at(n);
        let table = E820_TABLE..E820_TABLE + E820_MAX_ENTRIES_ZEROPAGE * E820_ENTRY_SIZE;
        if let Some(t) = self.bytes.get_mut(table) {
            t.fill(0);
        }
        for (i, e) in here.iter().enumerate() {
            put(
                &mut self.bytes,
                E820_TABLE + i * E820_ENTRY_SIZE,
                &e.to_bytes(),
            );
        }
        (n as u8).write(&mut self.bytes, E820_ENTRIES);
        self.set_mem_k(entries);
        rest
    }

    /// Linux: for the RAM entry with start <= 1 MiB < end, mem_k = KiB from
    /// 1 MiB to its last byte; ext_mem_k capped at 0xfc00, alt_mem_k at u32.
    fn set_mem_k(&mut self, entries: &[E820Entry]) {
        const MIB: u64 = 0x100000;
        for e in entries
            .iter()
            .filter(|e| e.typ == crate::e820_type::E820_RAM)
        {
            let Some(last) = e.addr.checked_add(e.size).and_then(|x| x.checked_sub(1)) else {
                continue;
            };
            if e.addr <= MIB && last > MIB {
                let mem_k = (last >> 10) - (MIB >> 10);
                (mem_k.min(0xfc00) as u16).write(&mut self.bytes, EXT_MEM_K);
                (mem_k.min(0xffff_ffff) as u32).write(&mut self.bytes, ALT_MEM_K);
            }
        }
    }

    /// The entries in the zero page's table ([`crate::ZeroPage::e820_table`]).
    pub fn e820_table(&self) -> Result<Vec<E820Entry>, BootParamError> {
        Ok(crate::ZeroPage::new(&self.bytes)?.e820_table()?.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdr;

    #[test]
    fn zero_page_offsets_match_zero_page_rst() {
        assert_eq!(ACPI_RSDP_ADDR, 0x070);
        assert_eq!(EXT_RAMDISK_IMAGE, 0x0c0);
        assert_eq!(EXT_RAMDISK_SIZE, 0x0c4);
        assert_eq!(EXT_CMD_LINE_PTR, 0x0c8);
        assert_eq!(E820_ENTRIES, 0x1e8);
        assert_eq!(SENTINEL, 0x1ef);
        assert_eq!(HDR, 0x1f1);
        assert_eq!(E820_TABLE, 0x2d0);
    }

    #[test]
    fn high_addresses_split_into_ext_fields() {
        let mut bp = BootParams::new();
        bp.set_cmd_line_ptr(0x1_2345_6000);
        bp.set_ramdisk(0x2_0000_1000, 0x1_0000_0010);
        let b = bp.as_bytes();
        assert_eq!(u32_at(b, hdr::CMD_LINE_PTR), 0x2345_6000);
        assert_eq!(u32_at(b, 0x0c8), 1);
        assert_eq!(u32_at(b, hdr::RAMDISK_IMAGE), 0x1000);
        assert_eq!(u32_at(b, 0x0c0), 2);
        assert_eq!(u32_at(b, hdr::RAMDISK_SIZE), 0x10);
        assert_eq!(u32_at(b, 0x0c4), 1);
        assert_eq!(bp.cmd_line_ptr(), 0x1_2345_6000);
        assert_eq!(bp.ramdisk_image(), 0x2_0000_1000);
        assert_eq!(bp.ramdisk_size(), 0x1_0000_0010);
        bp.set_acpi_rsdp_addr(0xe0000);
        assert_eq!(u64_at(bp.as_bytes(), 0x70), 0xe0000);
    }

    #[test]
    fn setup_header_copy_follows_jump_byte_and_is_clamped() {
        let mut img = vec![0xeeu8; 2048];
        img[0x201] = 0x6a; // 0x202 + 0x6a = 0x26c
        let mut bp = BootParams::new();
        assert_eq!(bp.copy_setup_header(&img).unwrap(), 0x26c - 0x1f1);
        assert_eq!(bp.as_bytes()[0x1f0], 0);
        assert_eq!(bp.as_bytes()[0x1f1], 0xee);
        assert_eq!(bp.as_bytes()[0x26b], 0xee);
        assert_eq!(bp.as_bytes()[0x26c], 0);
        img[0x201] = 0xff; // would reach 0x301
        let mut bp = BootParams::new();
        assert_eq!(bp.copy_setup_header(&img).unwrap(), 0x290 - 0x1f1);
        assert_eq!(bp.as_bytes()[0x290], 0);
        assert!(bp.copy_setup_header(&img[..0x200]).is_err());
    }

    #[test]
    fn e820_table_overflow_is_returned() {
        let entries: Vec<E820Entry> = (0..130u64)
            .map(|i| E820Entry {
                addr: i << 20,
                size: 1 << 19,
                typ: 1 + (i % 2) as u32,
            })
            .collect();
        let mut bp = BootParams::new();
        let rest = bp.set_e820_table(&entries);
        assert_eq!(rest.len(), 2);
        assert_eq!(bp.e820_entries(), 128);
        assert_eq!(bp.e820_table().unwrap(), entries[..128]);
        // Entry 5 at 0x2d0 + 5 * 20.
        assert_eq!(u64_at(bp.as_bytes(), 0x2d0 + 100), 5 << 20);
        assert_eq!(u32_at(bp.as_bytes(), 0x2d0 + 100 + 16), 2);
    }

    #[test]
    fn mem_k_from_ram_over_1mib() {
        let mut bp = BootParams::new();
        bp.set_e820_table(&[
            E820Entry {
                addr: 0,
                size: 0x9f000,
                typ: 1,
            },
            E820Entry {
                addr: 0x100000,
                size: 0x1ff00000,
                typ: 1,
            },
        ]);
        // 0x100000 is the start: start <= 1 MiB and end > 1 MiB.
        let mem_k = ((0x2000_0000u64 - 1) >> 10) - 1024;
        assert_eq!(u32_at(bp.as_bytes(), ALT_MEM_K) as u64, mem_k);
        assert_eq!(
            u16::from_le_bytes([bp.as_bytes()[2], bp.as_bytes()[3]]),
            0xfc00
        );
    }
}
