//! The byte layouts of kexos's fuzz inputs. The fuzz targets (tests/fuzz) split an input
//! with these; `cargo xtask fuzz` writes its seeds with the same code, so the two can never
//! disagree about a flag or a field.
//!
//! - A load input: `[u8 flags][u16 LE cmdline_len][u32 LE initrd_len][cmdline][initrd][kernel]`.
//! - A memory input: `[u64 LE base][bytes at physical base]`.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

/// Flags of a load input (its first byte).
pub mod load_flags {
    /// A crash (kdump) load: `kexec -s -p`, into a 64 MiB crashkernel= region.
    pub const CRASH: u8 = 1 << 0;
    /// Hand-over buffers requested (IMA's list and a kexos buffer), as every
    /// normal load of the kernel does.
    pub const HANDOVER: u8 = 1 << 1;
    /// The initrd's SHA-256 is passed in (the kernel's IMA hashed it).
    pub const KNOWN_INITRD_DIGEST: u8 = 1 << 2;
    /// The kernel file's SHA-256 and its state where the loader's last
    /// segment starts are passed in (the kernel's IMA pass kept them).
    pub const KNOWN_KERNEL_DIGEST: u8 = 1 << 3;
    /// `kexec --digest=xxh64`, loaded as the kernel loads (DigestsAt::Copy:
    /// hashed while copied); purgatory's XXH64 check must pass on the
    /// memory the copy left.
    pub const COPY_XXH64: u8 = 1 << 4;
}

/// Bytes before the files in a load input.
pub const LOAD_HEADER: usize = 7;

/// A kexec_file_load call: the flags and the three files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadInput<'a> {
    /// [`load_flags`].
    pub flags: u8,
    /// With its NUL, as the syscall copies it (or empty).
    pub cmdline: &'a [u8],
    /// None for an empty one (KEXEC_FILE_NO_INITRAMFS: the kernel refuses
    /// an empty file with EINVAL before loading).
    pub initrd: Option<&'a [u8]>,
    pub kernel: &'a [u8],
}

impl<'a> LoadInput<'a> {
    /// Reads any input of at least [`LOAD_HEADER`] bytes: lengths are cut to what the input
    /// holds, and the kernel file is the rest.
    pub fn split(data: &'a [u8]) -> Option<LoadInput<'a>> {
        let (h, rest) = data.split_first_chunk::<LOAD_HEADER>()?;
        let cmdline_len = usize::from(u16::from_le_bytes([h[1], h[2]])).min(rest.len());
        let (cmdline, rest) = rest.split_at(cmdline_len);
        let initrd_len = (u32::from_le_bytes([h[3], h[4], h[5], h[6]]) as usize).min(rest.len());
        let (initrd, kernel) = rest.split_at(initrd_len);
        Some(LoadInput { flags: h[0], cmdline, initrd: (!initrd.is_empty()).then_some(initrd), kernel })
    }

    /// The input [`LoadInput::split`] reads back as `self`. None if the command line is
    /// longer than 64 KiB or the initrd than 4 GiB.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let initrd = self.initrd.unwrap_or(&[]);
        let cmdline_len = u16::try_from(self.cmdline.len()).ok()?;
        let initrd_len = u32::try_from(initrd.len()).ok()?;
        let mut v = Vec::with_capacity(LOAD_HEADER + self.cmdline.len() + initrd.len() + self.kernel.len());
        v.push(self.flags);
        v.extend_from_slice(&cmdline_len.to_le_bytes());
        v.extend_from_slice(&initrd_len.to_le_bytes());
        v.extend_from_slice(self.cmdline);
        v.extend_from_slice(initrd);
        v.extend_from_slice(self.kernel);
        Some(v)
    }
}

/// A memory input: `bytes` at physical `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryInput<'a> {
    pub base: u64,
    pub bytes: &'a [u8],
}

impl<'a> MemoryInput<'a> {
    /// `[u64 LE base][bytes]`; None if shorter than the base.
    pub fn split(data: &'a [u8]) -> Option<MemoryInput<'a>> {
        let (b, bytes) = data.split_first_chunk::<8>()?;
        Some(MemoryInput { base: u64::from_le_bytes(*b), bytes })
    }

    /// The input [`MemoryInput::split`] reads back as `self`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + self.bytes.len());
        v.extend_from_slice(&self.base.to_le_bytes());
        v.extend_from_slice(self.bytes);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_input_reads_back_as_written() {
        let l = LoadInput { flags: load_flags::CRASH | load_flags::COPY_XXH64, cmdline: b"x\0", initrd: Some(b"init"), kernel: b"kernel" };
        let bytes = l.to_bytes().unwrap();
        assert_eq!(&bytes[..LOAD_HEADER], &[0x11, 2, 0, 4, 0, 0, 0]);
        assert_eq!(LoadInput::split(&bytes), Some(l));
        let none = LoadInput { initrd: None, ..l };
        assert_eq!(LoadInput::split(&none.to_bytes().unwrap()), Some(none));
    }

    #[test]
    fn lengths_past_the_end_are_cut() {
        let l = LoadInput::split(&[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'a', b'b']).unwrap();
        assert_eq!((l.cmdline, l.initrd, l.kernel), (&b"ab"[..], None, &b""[..]));
        assert_eq!(LoadInput::split(&[0; LOAD_HEADER - 1]), None);
        let long = [0u8; 0x1_0000];
        assert_eq!(LoadInput { flags: 0, cmdline: &long, initrd: None, kernel: &[] }.to_bytes(), None);
    }

    #[test]
    fn a_memory_input_reads_back_as_written() {
        let m = MemoryInput { base: 0x1000_2000, bytes: b"boot_params" };
        assert_eq!(MemoryInput::split(&m.to_bytes()), Some(m));
        assert_eq!(MemoryInput::split(&[1; 7]), None);
    }
}
