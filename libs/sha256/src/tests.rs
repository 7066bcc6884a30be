extern crate std;

use std::string::ToString;
use std::vec::Vec;

use super::*;
use sha2::Digest as _;

fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8).collect()
}

fn reference(d: &[u8]) -> Digest {
    sha2::Sha256::digest(d).into()
}

/// Whether this host can run the SHA-NI tests. Without SHA-NI they fail, unless
/// KEXOS_SKIP_SHA_NI=1 says to skip them (printed, never silent).
fn host_has_sha_ni(test: &str) -> bool {
    if cpu_has_sha_ni() {
        return true;
    }
    assert!(
        std::env::var("KEXOS_SKIP_SHA_NI").is_ok_and(|v| v == "1"),
        "{test}: this CPU has no SHA-NI (CPUID sha, ssse3, sse4.1); set KEXOS_SKIP_SHA_NI=1 to skip"
    );
    std::eprintln!("SKIPPED {test}: no SHA-NI on this CPU (KEXOS_SKIP_SHA_NI=1)");
    false
}

#[test]
fn known_answers() {
    // FIPS 180-4 examples (NIST CSRC "SHA256.pdf"): "abc" and the two-block message.
    let abc = Sha256::digest(b"abc");
    assert_eq!(abc[..4], [0xba, 0x78, 0x16, 0xbf]);
    assert_eq!(abc[28..], [0xf2, 0x00, 0x15, 0xad]);
    let two = Sha256::digest(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
    assert_eq!(two[..4], [0x24, 0x8d, 0x6a, 0x61]);
    assert_eq!(Sha256::digest(b""), reference(b""));
}

#[test]
fn every_length_around_the_padding_edges_matches_sha2() {
    for len in (0..200).chain([1000, 4095, 4096, 4097, 65_536 + 55]) {
        let d = data(len, len as u32);
        assert_eq!(Sha256::digest(&d), reference(&d), "len {len}");
    }
}

#[test]
fn updates_in_any_pieces_give_the_same_digest() {
    let d = data(10_000, 7);
    for piece in [1, 3, 63, 64, 65, 127, 4096] {
        let mut h = Sha256::new();
        d.chunks(piece).for_each(|c| h.update(c));
        assert_eq!(h.finalize(), reference(&d), "pieces of {piece}");
    }
}

#[test]
fn a_hasher_resumes_from_a_block_boundary() {
    let d = data(100_000, 3);
    for cut in [0, 64, 512, 17 * 1024, 99_968] {
        let mut h = Sha256::new();
        h.update(&d[..cut]);
        let (state, blocks) = h.at_block_boundary().expect("a multiple of 64 bytes");
        assert_eq!(blocks, cut as u64 / 64);
        let mut r = Sha256::resume(state, blocks);
        r.update(&d[cut..]);
        assert_eq!(r.finalize(), reference(&d), "cut at {cut}");
    }
    let mut h = Sha256::new();
    h.update([1u8; 100]);
    assert_eq!(h.at_block_boundary(), None);
}

/// `f` gives sha2's chaining value for 1 to 256 blocks from four start states.
fn agrees_with_sha2(name: &str, f: unsafe fn(&mut [u32; 8], &[[u8; BLOCK]])) {
    for n in [1usize, 2, 3, 17, 256] {
        let d = data(n * BLOCK, n as u32);
        let (blocks, _) = d.as_chunks::<BLOCK>();
        for start in [H0, [0; 8], [u32::MAX; 8], [1, 2, 3, 4, 5, 6, 7, 8]] {
            let mut portable = start;
            sha2::block_api::compress256(&mut portable, blocks);
            let mut ours = start;
            // SAFETY: the callers check what `f` needs of the CPU; every x86_64 host OS enables
            // SSE, and the XMM registers are caller-saved in the SysV ABI.
            unsafe { f(&mut ours, blocks) };
            assert_eq!(ours, portable, "{name}: {n} blocks from {start:x?}");
        }
    }
}

#[test]
fn sha_ni_and_portable_block_functions_agree() {
    if host_has_sha_ni("sha_ni_and_portable_block_functions_agree") {
        agrees_with_sha2("SHA-NI", ni::compress);
    }
}

#[test]
fn xmm_and_portable_block_functions_agree() {
    agrees_with_sha2("SSE2", xmm::compress);
    let mut none = H0;
    // SAFETY: SSE is enabled on every x86_64 host; no block is read.
    unsafe { xmm::compress(&mut none, &[]) };
    assert_eq!(none, H0);
}

#[test]
fn a_hosted_build_hashes_with_sha_ni_when_the_cpu_has_it() {
    if !host_has_sha_ni("a_hosted_build_hashes_with_sha_ni_when_the_cpu_has_it") {
        return;
    }
    // No test in this binary calls `use_*`, so the default choice stands.
    assert_eq!(backend(), Backend::ShaNi);
    let d = data(1 << 20, 9);
    assert_eq!(Sha256::digest(&d), reference(&d));
}

#[test]
fn the_choice_lines() {
    assert_eq!(Choice::ShaNi.to_string(), "sha256: SHA-NI block function (CPUID sha, ssse3, sse4.1)");
    assert_eq!(Choice::ShaNiCleared.to_string(), "sha256: SSE2 block function (clearcpuid=sha_ni)");
    assert_eq!(Choice::NoShaNi.to_string(), "sha256: SSE2 block function (CPUID has no SHA-NI)");
    assert_eq!(Choice::Sse2Cleared.to_string(), "sha256: portable block function (clearcpuid=sse2)");
}

#[test]
fn the_choice_is_the_fastest_the_cpu_and_the_command_line_allow() {
    let none = |_: &str| false;
    let only = |name: &'static str| move |f: &str| f == name;
    assert_eq!(Choice::decide(true, none), Choice::ShaNi);
    assert_eq!(Choice::decide(false, none), Choice::NoShaNi);
    assert_eq!(Choice::decide(true, only(CLEARCPUID_SHA_NI)), Choice::ShaNiCleared);
    assert_eq!(Choice::decide(false, only(CLEARCPUID_SHA_NI)), Choice::NoShaNi);
    // Clearing SSE2 rules out SHA-NI too: its block function needs SSE.
    assert_eq!(Choice::decide(true, only(CLEARCPUID_SSE2)), Choice::Sse2Cleared);
    assert_eq!(Choice::decide(false, only(CLEARCPUID_SSE2)), Choice::Sse2Cleared);
    assert_eq!(Choice::decide(true, |_| true), Choice::Sse2Cleared);
    let backends = [Choice::ShaNi, Choice::NoShaNi, Choice::ShaNiCleared, Choice::Sse2Cleared].map(Choice::backend);
    assert_eq!(backends, [Backend::ShaNi, Backend::Sse2, Backend::Sse2, Backend::Portable]);
    assert_eq!(backends.map(Backend::uses_xmm), [true, true, true, false]);
}
