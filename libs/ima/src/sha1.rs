//! SHA-1 (FIPS 180-4, sections 5.1.1, 6.1.2) for the template hash, with
//! its 80 rounds as a loop.
//!
//! Why not the sha1 crate: its only portable block function has the 80
//! rounds unrolled, and IMA hashes a few dozen bytes per measurement. Under
//! TCG every instruction a boot runs for the first time is translated once,
//! and every boot hashes its boot_aggregate, so the unrolled rounds cost each
//! boot far more than hashing does (docs/benchmarks.md, "What is left of a
//! kexec'd boot: translation"). The crate stays a dev-dependency, and the
//! tests check this code against it.

/// The initial hash value (5.3.1).
const H0: [u32; 5] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0];

/// SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h = H0;
    let (blocks, rest) = data.as_chunks::<64>();
    for block in blocks {
        compress(&mut h, block);
    }
    // Padding (5.1.1): 0x80, zeros, the length in bits as a big-endian u64,
    // in one block or, when fewer than 9 bytes are left in it, two.
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let end = if rest.len() < 56 { 64 } else { 128 };
    let bits = (data.len() as u64).wrapping_mul(8);
    tail[end - 8..end].copy_from_slice(&bits.to_be_bytes());
    for block in tail[..end].as_chunks::<64>().0 {
        compress(&mut h, block);
    }
    let mut out = [0u8; 20];
    for (o, w) in out.as_chunks_mut::<4>().0.iter_mut().zip(h) {
        *o = w.to_be_bytes();
    }
    out
}

/// One block (6.1.2), the message schedule kept as 16 words in a ring.
fn compress(h: &mut [u32; 5], block: &[u8; 64]) {
    let mut w = [0u32; 16];
    for (w, b) in w.iter_mut().zip(block.as_chunks::<4>().0) {
        *w = u32::from_be_bytes(*b);
    }
    let [mut a, mut b, mut c, mut d, mut e] = *h;
    for t in 0..80 {
        let wt = if t < 16 {
            w[t]
        } else {
            let x = (w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^ w[t & 15]).rotate_left(1);
            w[t & 15] = x;
            x
        };
        // f_t and K_t (4.1.1, 4.2.1).
        let (f, k) = match t / 20 {
            0 => ((b & c) | (!b & d), 0x5a82_7999),
            1 => (b ^ c ^ d, 0x6ed9_eba1),
            2 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
            _ => (b ^ c ^ d, 0xca62_c1d6),
        };
        let temp = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(wt);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = temp;
    }
    for (h, v) in h.iter_mut().zip([a, b, c, d, e]) {
        *h = h.wrapping_add(v);
    }
}
