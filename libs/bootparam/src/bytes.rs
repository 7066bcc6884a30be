//! Little-endian reads and writes that never panic. Reads are the
//! workspace's one bounds-checked reader (`le_bytes`), with the boot
//! protocol's rule on top: a field past the end of a short header reads as 0.

/// `N` bytes at `off`, or zeros when the range is outside `b`.
pub(crate) fn get<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    le_bytes::array(b, off).unwrap_or([0; N])
}

/// Write `v` at `off`; returns false (writing nothing) when out of range.
pub(crate) fn put(b: &mut [u8], off: usize, v: &[u8]) -> bool {
    match off.checked_add(v.len()).and_then(|end| b.get_mut(off..end)) {
        Some(s) => {
            s.copy_from_slice(v);
            true
        }
        None => false,
    }
}

pub(crate) fn u8_at(b: &[u8], off: usize) -> u8 {
    get::<1>(b, off)[0]
}
pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(get(b, off))
}
pub(crate) fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(get(b, off))
}

/// A little-endian integer field type.
pub(crate) trait Le: Copy {
    fn read(b: &[u8], off: usize) -> Self;
    fn write(self, b: &mut [u8], off: usize) -> bool;
}

macro_rules! le {
    ($($t:ty),*) => {$(
        impl Le for $t {
            fn read(b: &[u8], off: usize) -> Self {
                <$t>::from_le_bytes(get(b, off))
            }
            fn write(self, b: &mut [u8], off: usize) -> bool {
                put(b, off, &self.to_le_bytes())
            }
        }
    )*};
}
le!(u8, u16, u32, u64);
