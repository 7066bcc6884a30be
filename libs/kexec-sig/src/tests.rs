//! Host tests of the parsers' refusals (each errno from a crafted input).
//! Full sign-and-verify fixtures (keys, chains, sbsign cross-checks) are
//! the next slice; the real Debian chain is checked end to end in QEMU
//! (tests/tests/signed_kexec.rs).

use alloc::vec;
use alloc::vec::Vec;

use abi::Errno;

use crate::{appended, hash::HashAlgo, oid, pefile::PeFile, pkcs7, Keyring};

/// A minimal PE32+: MZ, PE header at 0x40, 16 data directories, one
/// section of 0x200 bytes at 0x200 (SizeOfHeaders 0x200).
fn pe() -> Vec<u8> {
    let mut b = vec![0u8; 0x400];
    b[..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    b[0x40..0x44].copy_from_slice(b"PE\0\0");
    b[0x46..0x48].copy_from_slice(&1u16.to_le_bytes());
    let opt = 0x58;
    b[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
    b[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes());
    b[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
    let sec = opt + 112 + 128;
    b[sec..sec + 5].copy_from_slice(b".text");
    b[sec + 16..sec + 20].copy_from_slice(&0x200u32.to_le_bytes());
    b[sec + 20..sec + 24].copy_from_slice(&0x200u32.to_le_bytes());
    b[0x200..].fill(0xcc);
    b
}

const CERT_DIRENT: usize = 0x58 + 112 + 4 * 8;

fn with_table(mut b: Vec<u8>, table: &[u8], dir_size: usize) -> Vec<u8> {
    let at = b.len();
    b.extend_from_slice(table);
    b[CERT_DIRENT..CERT_DIRENT + 4].copy_from_slice(&(at as u32).to_le_bytes());
    b[CERT_DIRENT + 4..CERT_DIRENT + 8].copy_from_slice(&(dir_size as u32).to_le_bytes());
    b
}

fn wrapper(len: u32, revision: u16, ty: u16, body: &[u8]) -> Vec<u8> {
    let mut w = Vec::new();
    w.extend_from_slice(&len.to_le_bytes());
    w.extend_from_slice(&revision.to_le_bytes());
    w.extend_from_slice(&ty.to_le_bytes());
    w.extend_from_slice(body);
    w
}

fn errno(r: Result<crate::Verified, crate::SigError>) -> Errno {
    r.expect_err("must not verify").errno()
}

#[test]
fn pe_digest_leaves_out_checksum_and_cert_entry() {
    let b = pe();
    let d = PeFile::parse(&b).unwrap().digest(HashAlgo::Sha256).unwrap();
    let mut c = b.clone();
    c[0x58 + 64] ^= 0xff; // CheckSum
    c[CERT_DIRENT + 4] ^= 0; // unchanged entry
    assert_eq!(PeFile::parse(&c).unwrap().digest(HashAlgo::Sha256).unwrap(), d);
    let mut s = b.clone();
    s[0x300] ^= 1; // section data
    assert_ne!(PeFile::parse(&s).unwrap().digest(HashAlgo::Sha256).unwrap(), d);
}

#[test]
fn pe_refusals_have_linux_errnos() {
    let k = Keyring::new("test");
    assert_eq!(errno(crate::verify_pe(&pe(), &k)), Errno::ENODATA, "unsigned");
    assert_eq!(errno(crate::verify_pe(&pe()[..0x100], &k)), Errno::ELIBBAD, "truncated headers");
    let mut nomz = pe();
    nomz[0] = b'X';
    assert_eq!(errno(crate::verify_pe(&nomz, &k)), Errno::ELIBBAD, "no MZ");
    // A table past the end of the file, and one inside the headers.
    let mut past = with_table(pe(), &wrapper(16, 0x200, 2, &[0x30, 0x06, 0, 0, 0, 0, 0, 0]), 16);
    past[CERT_DIRENT + 4..CERT_DIRENT + 8].copy_from_slice(&0x1000u32.to_le_bytes());
    assert_eq!(errno(crate::verify_pe(&past, &k)), Errno::ELIBBAD, "table past EOF");
    let mut early = with_table(pe(), &wrapper(16, 0x200, 2, &[0x30, 0x06, 0, 0, 0, 0, 0, 0]), 16);
    early[CERT_DIRENT..CERT_DIRENT + 4].copy_from_slice(&0x100u32.to_le_bytes());
    assert_eq!(errno(crate::verify_pe(&early, &k)), Errno::ELIBBAD, "table before SizeOfHeaders");
    let big = with_table(pe(), &wrapper(24, 0x200, 2, &[0x30, 0x06, 0, 0, 0, 0, 0, 0]), 16);
    assert_eq!(errno(crate::verify_pe(&big, &k)), Errno::ELIBBAD, "wrapper longer than the table");
    for (rev, ty) in [(0x100, 2), (0x200, 1)] {
        let w = with_table(pe(), &wrapper(16, rev, ty, &[0x30, 0x06, 0, 0, 0, 0, 0, 0]), 16);
        assert_eq!(errno(crate::verify_pe(&w, &k)), Errno::ENOTSUPP, "revision {rev:#x} type {ty}");
    }
    // Malformed DER inside a good wrapper: EBADMSG; a length form of 2^24+: EMSGSIZE.
    let bad = with_table(pe(), &wrapper(16, 0x200, 2, &[0x30, 0x06, 0x06, 0x01, 0xff, 0xff, 0, 0]), 16);
    assert_eq!(errno(crate::verify_pe(&bad, &k)), Errno::EBADMSG, "malformed DER");
    let huge = with_table(pe(), &wrapper(16, 0x200, 2, &[0x30, 0x84, 0, 0, 0, 0, 0, 0]), 16);
    assert_eq!(errno(crate::verify_pe(&huge, &k)), Errno::EMSGSIZE, "long length form");
}

#[test]
fn unpadded_directory_size_is_accepted_like_pesign() {
    // A 14-byte wrapper in a 14-byte directory (pesign) and in 16 (sbsign)
    // both reach the PKCS#7 parser (EBADMSG here, not ELIBBAD).
    let body = [0x30, 0x04, 0x02, 0x01, 0x00, 0x00];
    for dir in [14, 16] {
        let mut t = wrapper(14, 0x200, 2, &body);
        t.resize(dir, 0);
        let img = with_table(pe(), &t, dir);
        assert_eq!(errno(crate::verify_pe(&img, &Keyring::new("t"))), Errno::EBADMSG, "dir size {dir}");
    }
}

#[test]
fn appended_trailer_refusals() {
    let k = Keyring::new("test");
    assert_eq!(errno(crate::verify_appended(b"plain file", &k)), Errno::ENODATA);
    let good = appended::append(b"payload", &[0x30, 0x03, 0x02, 0x01, 0x00]).unwrap();
    let split = appended::split(&good).unwrap();
    assert_eq!(split.payload, b"payload");
    assert_eq!(split.pkcs7, &[0x30, 0x03, 0x02, 0x01, 0x00]);
    let ms_at = good.len() - appended::MODULE_SIG_MARKER.len() - appended::MODULE_SIG_SIZE;
    let mut id = good.clone();
    id[ms_at + 2] = 1;
    assert_eq!(errno(crate::verify_appended(&id, &k)), Errno::ENOPKG, "id_type 1");
    let mut params = good.clone();
    params[ms_at] = 1;
    assert_eq!(errno(crate::verify_appended(&params, &k)), Errno::EBADMSG, "non-zero algo");
    let mut len = good.clone();
    len[ms_at + 8..ms_at + 12].copy_from_slice(&1000u32.to_be_bytes());
    assert_eq!(errno(crate::verify_appended(&len, &k)), Errno::EBADMSG, "sig_len too long");
    assert_eq!(errno(crate::verify_appended(&good, &k)), Errno::EBADMSG, "not a ContentInfo");
}

#[test]
fn only_sha2_hashes() {
    assert_eq!(HashAlgo::from_oid(&oid::SHA1).unwrap_err().errno(), Errno::ENOPKG);
    assert_eq!(HashAlgo::from_oid(&oid::SHA256).unwrap(), HashAlgo::Sha256);
    assert_eq!(HashAlgo::from_oid(&oid::SHA512).unwrap().output_len(), 64);
}

#[test]
fn hostile_bytes_never_panic() {
    let k = Keyring::new("test");
    let base = with_table(pe(), &wrapper(16, 0x200, 2, &[0x30, 0x06, 0x06, 0x01, 0x2a, 0x04, 0, 0]), 16);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..3000 {
        let mut b = base.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let i = x as usize % b.len();
            b[i] ^= (x >> 24) as u8 | 1;
        }
        let _ = crate::verify_pe(&b, &k);
        let _ = crate::verify_appended(&b, &k);
        let _ = pkcs7::Message::parse(&b[0x400..]);
    }
    for n in 0..base.len() {
        let _ = crate::verify_pe(&base[..n], &k);
    }
}

/// Issue 12 (found writing the kexec_sig fuzz target, which now checks every
/// hashed range): a PE with at most 4 data directories has no
/// certificate-table entry, and with SizeOfHeaders just past its directories
/// the entry's offset lay beyond SizeOfHeaders: hashed_ranges returned the
/// reversed range 240..201 and digest() panicked slicing it. It is ELIBBAD
/// now; verify_pe, which stops at the missing signature first, says ENODATA.
#[test]
fn pe_without_a_certificate_entry_has_no_digest() {
    let mut b = pe();
    let opt = 0x58;
    for dirs in [0u32, 4] {
        // SizeOfHeaders just past the directories (cursor + dirs * 8 + 1).
        let header_size = opt + 112 + dirs as usize * 8 + 1;
        b[opt + 60..opt + 64].copy_from_slice(&(header_size as u32).to_le_bytes());
        b[opt + 108..opt + 112].copy_from_slice(&dirs.to_le_bytes());
        b[0x46..0x48].copy_from_slice(&0u16.to_le_bytes());
        let pe = PeFile::parse(&b).unwrap();
        assert_eq!(pe.hashed_ranges().unwrap_err().errno(), Errno::ELIBBAD);
        assert_eq!(pe.digest(HashAlgo::Sha256).unwrap_err().errno(), Errno::ELIBBAD);
        assert_eq!(errno(crate::verify_pe(&b, &Keyring::new("k"))), Errno::ENODATA);
    }
}
