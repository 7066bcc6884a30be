//! The PE/COFF header of `kexos.bzImage`, there for Authenticode only: a
//! signed bzImage is a PE image with a certificate table (Linux's
//! verify_pefile.c, sbsign). It sits in the boot sector before the setup
//! header, where Linux's EFI-stub header sits: "MZ" at 0, e_lfanew at 0x3c,
//! the PE header at 0x40, one `.text` section covering the payload.
//!
//! kexos has no EFI stub: the header declares no entry point and subsystem
//! 0 (unknown), so no firmware will try to run it as an EFI application.
//! Layout: PE/COFF specification (Microsoft), sections 2 (MS-DOS stub), 3.3
//! (COFF file header), 3.4 (optional header), 4 (section table).

/// e_lfanew's offset in the MS-DOS header.
const E_LFANEW: usize = 0x3c;
/// Where the PE header starts (just after the 64-byte MS-DOS header).
pub const PE_OFFSET: usize = 0x40;
/// IMAGE_FILE_MACHINE_AMD64.
const MACHINE_AMD64: u16 = 0x8664;
/// IMAGE_FILE_EXECUTABLE_IMAGE | IMAGE_FILE_LARGE_ADDRESS_AWARE | IMAGE_FILE_DEBUG_STRIPPED.
const CHARACTERISTICS: u16 = 0x0002 | 0x0020 | 0x0200;
/// PE32+ optional header: fixed part and 16 data directories.
const OPT_FIXED: usize = 112;
const DATA_DIRS: usize = 16;
const OPT_SIZE: usize = OPT_FIXED + DATA_DIRS * 8;
/// Section header size.
const SECTION_SIZE: usize = 40;
/// File and section alignment (the payload starts at a 512-byte boundary).
pub const FILE_ALIGNMENT: usize = 0x200;
const SECTION_ALIGNMENT: usize = 0x1000;
/// IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE.
const TEXT_FLAGS: u32 = 0x20 | 0x2000_0000 | 0x4000_0000 | 0x8000_0000;

/// The end of the PE header and section table (must stay before 0x1f1).
pub const PE_END: usize = PE_OFFSET + 24 + OPT_SIZE + SECTION_SIZE;
const _: () = assert!(PE_END <= 0x1f1, "the PE header must end before the setup header");

/// Write the header into `img`, whose first `headers` bytes are the setup
/// area and the rest (a multiple of FILE_ALIGNMENT) the payload, which
/// needs `init_size` bytes of memory.
pub fn write(img: &mut [u8], headers: usize, init_size: u32) {
    let payload = img.len() - headers;
    debug_assert!(headers.is_multiple_of(FILE_ALIGNMENT) && payload.is_multiple_of(FILE_ALIGNMENT));
    let put = |img: &mut [u8], off: usize, bytes: &[u8]| img[off..off + bytes.len()].copy_from_slice(bytes);
    put(img, 0, b"MZ");
    put(img, E_LFANEW, &(PE_OFFSET as u32).to_le_bytes());
    let coff = PE_OFFSET;
    put(img, coff, b"PE\0\0");
    put(img, coff + 4, &MACHINE_AMD64.to_le_bytes());
    put(img, coff + 6, &1u16.to_le_bytes()); // NumberOfSections
    put(img, coff + 20, &(OPT_SIZE as u16).to_le_bytes());
    put(img, coff + 22, &CHARACTERISTICS.to_le_bytes());
    let opt = coff + 24;
    let vsize = (init_size as usize).max(payload);
    let text_rva = SECTION_ALIGNMENT;
    let image_size = (text_rva + vsize).next_multiple_of(SECTION_ALIGNMENT);
    put(img, opt, &0x20bu16.to_le_bytes()); // PE32+
    put(img, opt + 4, &(payload as u32).to_le_bytes()); // SizeOfCode
    put(img, opt + 20, &(text_rva as u32).to_le_bytes()); // BaseOfCode; no entry point
    put(img, opt + 32, &(SECTION_ALIGNMENT as u32).to_le_bytes());
    put(img, opt + 36, &(FILE_ALIGNMENT as u32).to_le_bytes());
    put(img, opt + 56, &(image_size as u32).to_le_bytes()); // SizeOfImage
    put(img, opt + 60, &(headers as u32).to_le_bytes()); // SizeOfHeaders
    put(img, opt + 108, &(DATA_DIRS as u32).to_le_bytes()); // NumberOfRvaAndSizes
    let sec = opt + OPT_SIZE;
    put(img, sec, b".text\0\0\0");
    put(img, sec + 8, &(vsize as u32).to_le_bytes());
    put(img, sec + 12, &(text_rva as u32).to_le_bytes());
    put(img, sec + 16, &(payload as u32).to_le_bytes()); // SizeOfRawData
    put(img, sec + 20, &(headers as u32).to_le_bytes()); // PointerToRawData
    put(img, sec + 36, &TEXT_FLAGS.to_le_bytes());
}
