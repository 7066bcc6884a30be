//! Little-endian writes that never panic: what does not fit is dropped. The
//! crash path writes notes with these, so they must not allocate or panic.
//! Reads go through the workspace's one bounds-checked reader, `le_bytes`.

/// Copy `src` to `buf[off..]`, dropping what does not fit.
pub(crate) fn put(buf: &mut [u8], off: usize, src: &[u8]) {
    if let Some(dst) = buf.get_mut(off..) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

/// Write a little-endian u16 at `off`.
pub(crate) fn put_u16(buf: &mut [u8], off: usize, v: u16) {
    put(buf, off, &v.to_le_bytes());
}

/// Write a little-endian u32 at `off`.
pub(crate) fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    put(buf, off, &v.to_le_bytes());
}

/// Write a little-endian u64 at `off`.
pub(crate) fn put_u64(buf: &mut [u8], off: usize, v: u64) {
    put(buf, off, &v.to_le_bytes());
}

/// `v` rounded up to a multiple of `align` (a power of two), `None` on overflow.
pub(crate) fn align_up(v: u64, align: u64) -> Option<u64> {
    Some(v.checked_add(align - 1)? & !(align - 1))
}

/// `v` rounded down to a multiple of `align` (a power of two).
pub(crate) fn align_down(v: u64, align: u64) -> u64 {
    v & !(align - 1)
}
