//! libs/sha256, the hasher every byte of a kexec'd file goes through (IMA, Authenticode,
//! segment digests, purgatory), against sha2: any message, fed in pieces of any size, and
//! stopped at a block boundary then resumed (RegionPrefix's path), gives sha2's digest, with
//! each block function: this differential-fuzzes our SSE2 assembly (libs/sha256/src/xmm.rs)
//! and, on a host with SHA-NI, our SHA-NI assembly (src/ni.rs; SSE2 again on a host without).
//!
//! Input: `[u8 piece - 1][u16 cut][message]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::Digest as _;

fuzz_target!(|data: &[u8]| {
    let [p, c0, c1, msg @ ..] = data else { return };
    let piece = usize::from(*p) + 1;
    let want: [u8; 32] = sha2::Sha256::digest(msg).into();
    for b in [sha256::Backend::Sse2, sha256::Backend::ShaNi, sha256::Backend::Portable] {
        // SAFETY: a hosted x86_64 process: the OS has enabled SSE and keeps its XMM state, and
        // the XMM registers are caller-saved.
        unsafe { sha256::use_backend(b) };
        check(piece, [*c0, *c1], msg, &want);
    }
});

fn check(piece: usize, cut: [u8; 2], msg: &[u8], want: &[u8; 32]) {
    let mut h = sha256::Sha256::new();
    msg.chunks(piece).for_each(|c| h.update(c));
    assert_eq!(&h.finalize(), want, "in pieces of {piece} ({})", sha256::backend().name());

    let cut = usize::from(u16::from_le_bytes(cut)).min(msg.len()) / 64 * 64;
    let mut h = sha256::Sha256::new();
    h.update(&msg[..cut]);
    let (state, blocks) = h.at_block_boundary().expect("a whole number of blocks");
    assert_eq!(blocks, (cut / 64) as u64);
    let mut r = sha256::Sha256::resume(state, blocks);
    msg[cut..].chunks(piece).for_each(|c| r.update(c));
    assert_eq!(&r.finalize(), want, "resumed after {cut} bytes ({})", sha256::backend().name());
}
