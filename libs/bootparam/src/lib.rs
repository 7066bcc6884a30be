//! The Linux x86 boot protocol (Documentation/arch/x86/boot.rst,
//! arch/x86/include/uapi/asm/bootparam.h), as byte-exact views and builders:
//!
//! - [`SetupHeader`]: a read-only view of the setup header inside a bzImage
//!   (or inside a zero page), every field at its documented offset.
//! - [`BootParams`]: the 4096-byte "zero page" handed to a 64-bit kernel in
//!   RSI, with typed setters for what a boot loader fills in (kexec).
//! - [`E820Entry`] and [`e820_from_memmap`]: the firmware memory map.
//! - [`SetupDataChain`]: the `setup_data` linked list (SETUP_E820_EXT, ...);
//!   [`handover`] and [`tsc`] are kexos's own nodes.
//! - [`ZeroPage`] and [`SetupDataWalk`]: the other direction, for a kernel
//!   entered through this protocol, read in place without a heap (the
//!   kernel's boot path); [`parse_boot_params`] is the owning layer over
//!   them (kexec-core's tests).
//!
//! Everything is explicit little-endian serialization over byte arrays:
//! no `repr(C)` transmutes, no unsafe, and no accessor can panic (reads
//! outside the buffer yield 0, writes outside it are dropped; the fixed
//! offsets are checked at compile time against the buffer sizes).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod bytes;
mod e820;
mod error;
pub mod handover;
mod header;
mod params;
mod parse;
mod setup_data;
pub mod tsc;
mod walk;
mod zero_page;

pub use e820::{e820_from_memmap, E820Entry, E820_ENTRY_SIZE};
pub use error::BootParamError;
pub use handover::{HandoverBuffer, HandoverKind, HandoverRefusal};
pub use header::{
    offsets as hdr, SetupHeader, SETUP_HEADER_END, SETUP_HEADER_FIELDS, SETUP_HEADER_START,
};
pub use params::{offsets as bp, BootParams, BOOT_PARAMS_SIZE, E820_MAX_ENTRIES_ZEROPAGE};
pub use parse::{parse_boot_params, parse_setup_data, ParsedBootParams};
pub use setup_data::{SetupDataChain, SETUP_DATA_HEADER_SIZE};
pub use walk::{
    E820ExtEntries, SetupDataInfo, SetupDataWalk, MAX_E820_EXT_LEN, MAX_SETUP_DATA_NODES,
};
pub use zero_page::{ZeroPage, MAX_CMDLINE_LEN};

/// `header` magic at 0x202: "HdrS".
pub const HDRS_MAGIC: u32 = u32::from_le_bytes(*b"HdrS");
/// `boot_flag` at 0x1fe.
pub const BOOT_FLAG: u16 = 0xAA55;
/// `type_of_loader` for kexec: loader ID 0xD, version 0 (boot.rst
/// "type_of_loader": 0xD = kexec-tools; Linux's kexec_file sets `0x0D << 4`).
pub const LOADER_TYPE_KEXEC: u8 = 0xD0;
/// Each setup sector is 512 bytes; `setup_sects == 0` means 4 (boot.rst).
pub const SECTOR_SIZE: usize = 512;

/// `loadflags` bits (boot.rst "loadflags").
pub mod loadflags {
    /// Bit 0: protected-mode code is loaded at 0x100000 (a bzImage).
    pub const LOADED_HIGH: u8 = 1 << 0;
    /// Bit 1: set by the kernel when KASLR was used.
    pub const KASLR_FLAG: u8 = 1 << 1;
    /// Bit 5: suppress early messages.
    pub const QUIET_FLAG: u8 = 1 << 5;
    /// Bit 6: obsolete.
    pub const KEEP_SEGMENTS: u8 = 1 << 6;
    /// Bit 7: heap_end_ptr is valid.
    pub const CAN_USE_HEAP: u8 = 1 << 7;
}

/// `xloadflags` bits (boot.rst "xloadflags", protocol 2.12+).
pub mod xloadflags {
    /// Bit 0: the kernel has the legacy 64-bit entry point at 0x200.
    pub const XLF_KERNEL_64: u16 = 1 << 0;
    /// Bit 1: kernel, boot_params, cmdline and ramdisk may be above 4 GiB.
    pub const XLF_CAN_BE_LOADED_ABOVE_4G: u16 = 1 << 1;
    /// Bit 2: 32-bit EFI handover entry at handover_offset.
    pub const XLF_EFI_HANDOVER_32: u16 = 1 << 2;
    /// Bit 3: 64-bit EFI handover entry at handover_offset + 0x200.
    pub const XLF_EFI_HANDOVER_64: u16 = 1 << 3;
    /// Bit 4: the kernel supports kexec EFI boot with EFI runtime support.
    pub const XLF_EFI_KEXEC: u16 = 1 << 4;
    /// Bit 5: the kernel can be started with 5-level paging enabled.
    pub const XLF_5LEVEL: u16 = 1 << 5;
    /// Bit 6: 5-level paging is enabled (set by the kernel).
    pub const XLF_5LEVEL_ENABLED: u16 = 1 << 6;
    /// Bit 7: memory encryption support.
    pub const XLF_MEM_ENCRYPTION: u16 = 1 << 7;
}

/// `setup_data` types (bootparam.h).
pub mod setup_type {
    /// Terminator / none.
    pub const SETUP_NONE: u32 = 0;
    /// More e820 entries than fit in the zero page: an array of 20-byte entries.
    pub const SETUP_E820_EXT: u32 = 1;
    /// A flattened device tree.
    pub const SETUP_DTB: u32 = 2;
    /// PCI option ROMs.
    pub const SETUP_PCI: u32 = 3;
    /// EFI setup data (fw_vendor, tables, smbios).
    pub const SETUP_EFI: u32 = 4;
    /// Apple device properties.
    pub const SETUP_APPLE_PROPERTIES: u32 = 5;
    /// Jailhouse hypervisor data.
    pub const SETUP_JAILHOUSE: u32 = 6;
    /// Confidential-computing blob.
    pub const SETUP_CC_BLOB: u32 = 7;
    /// IMA measurement list hand-over: `{u64 addr; u64 size}`.
    pub const SETUP_IMA: u32 = 8;
    /// Random seed bytes.
    pub const SETUP_RNG_SEED: u32 = 9;
    /// Kexec HandOver: `{u64 fdt_addr, fdt_size, scratch_addr, scratch_size}`.
    pub const SETUP_KEXEC_KHO: u32 = 10;
    /// Highest plain type.
    pub const SETUP_ENUM_MAX: u32 = SETUP_KEXEC_KHO;
    /// Flag: the payload is a `setup_indirect {u32 type; u32 reserved; u64 len; u64 addr}`.
    pub const SETUP_INDIRECT: u32 = 1 << 31;
    /// Highest valid type value.
    pub const SETUP_TYPE_MAX: u32 = SETUP_ENUM_MAX | SETUP_INDIRECT;
    /// kexos's own hand-over buffers: `{u32 tag; u32 reserved; u64 addr;
    /// u64 size}` ([`crate::handover`]). Far above Linux's types and below
    /// SETUP_INDIRECT; Linux ignores types it does not know.
    pub const SETUP_KEXOS_HANDOVER: u32 = 0x6b78_0001;
    /// The kexec'ing kexos's TSC frequency: `{u64 khz}` ([`crate::tsc`]).
    pub const SETUP_KEXOS_TSC_KHZ: u32 = 0x6b78_0002;
}

/// E820 types (arch/x86/include/asm/e820/types.h).
pub mod e820_type {
    /// Usable RAM.
    pub const E820_RAM: u32 = 1;
    /// Reserved.
    pub const E820_RESERVED: u32 = 2;
    /// ACPI reclaimable.
    pub const E820_ACPI: u32 = 3;
    /// ACPI NVS.
    pub const E820_NVS: u32 = 4;
    /// Unusable.
    pub const E820_UNUSABLE: u32 = 5;
    /// Persistent memory.
    pub const E820_PMEM: u32 = 7;
}
