//! Little-endian integers read out of byte slices, bounds checked: a read
//! that does not fit (including an offset whose end overflows `usize`) is
//! `None`, never a panic. The one such reader of the workspace: ELF fields
//! goblin does not cover (notes, the capture kernel's vmcore reader, which
//! must not allocate), and the boot protocol's fields (libs/bootparam).
#![no_std]

/// The `N` bytes at `off`, if `b` holds them.
pub fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// The byte at `off`.
pub fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

/// The little-endian u16 at `off`.
pub fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    array(b, off).map(u16::from_le_bytes)
}

/// The little-endian u32 at `off`.
pub fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_le_bytes)
}

/// The little-endian u64 at `off`.
pub fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    array(b, off).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: [u8; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];

    #[test]
    fn reads_little_endian() {
        assert_eq!(u8_at(&B, 8), Some(9));
        assert_eq!(u16_at(&B, 0), Some(0x0201));
        assert_eq!(u32_at(&B, 1), Some(0x0504_0302));
        assert_eq!(u64_at(&B, 1), Some(0x0908_0706_0504_0302));
        assert_eq!(array::<3>(&B, 6), Some([7, 8, 9]));
    }

    #[test]
    fn out_of_range_is_none_at_every_offset() {
        for off in [9, 10, usize::MAX - 7, usize::MAX - 1, usize::MAX] {
            assert_eq!(u8_at(&B, off), None, "{off}");
            assert_eq!(u16_at(&B, off), None, "{off}");
            assert_eq!(u32_at(&B, off), None, "{off}");
            assert_eq!(u64_at(&B, off), None, "{off}");
        }
        assert_eq!(u16_at(&B, 8), None);
        assert_eq!(u32_at(&B, 6), None);
        assert_eq!(u64_at(&B, 2), None);
        assert_eq!(u64_at(&[], 0), None);
        assert_eq!(array::<0>(&B, 9), Some([]));
    }
}
