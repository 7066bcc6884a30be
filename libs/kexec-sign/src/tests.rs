//! Signed fixtures made at test time, checked by kexec-sig's verifier:
//! every key type and hash, a CA -> intermediate -> signer chain, both PE
//! wrapper conventions, appended signatures, and the refusals only a real
//! signature can reach.

use abi::Errno;
use kexec_sig::{verify_appended, verify_pe, HashAlgo, Keyring, SigError};

use crate::cert::{CertSpec, Identity};
use crate::key::KeyKind;
use crate::pe::{sign_pe, sign_pe_with, WrapperLength};
use crate::pki::{child, rng, root, TestPki};
use crate::{appended::sign_appended, Signer};

/// A small PE32+ image: headers to 0x200, .text [0x200, +0x400),
/// .data [0x600, +0x200), then 0x37 bytes of trailing data (so the file
/// needs padding before a certificate table).
pub(crate) fn tiny_pe() -> Vec<u8> {
    let mut b = vec![0u8; 0x837];
    b[..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    b[0x40..0x44].copy_from_slice(b"PE\0\0");
    let coff = 0x44;
    b[coff..coff + 2].copy_from_slice(&0x8664u16.to_le_bytes());
    b[coff + 2..coff + 4].copy_from_slice(&2u16.to_le_bytes());
    b[coff + 16..coff + 18].copy_from_slice(&0xf0u16.to_le_bytes());
    let opt = 0x58;
    b[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
    b[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes()); // SizeOfHeaders
    b[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes()); // NumberOfRvaAndSizes
    let secs = opt + 112 + 16 * 8;
    for (i, (name, at, size)) in [(b".text\0\0\0", 0x200u32, 0x400u32), (b".data\0\0\0", 0x600, 0x200)].iter().enumerate() {
        let s = secs + i * 40;
        b[s..s + 8].copy_from_slice(*name);
        b[s + 8..s + 12].copy_from_slice(&size.to_le_bytes());
        b[s + 12..s + 16].copy_from_slice(&(at + 0x1000).to_le_bytes());
        b[s + 16..s + 20].copy_from_slice(&size.to_le_bytes());
        b[s + 20..s + 24].copy_from_slice(&at.to_le_bytes());
    }
    for (i, x) in b[0x200..].iter_mut().enumerate() {
        *x = (i * 7 + 3) as u8;
    }
    b
}

fn errno<T>(r: Result<T, SigError>) -> Errno {
    match r {
        Ok(_) => panic!("expected a refusal"),
        Err(e) => e.errno(),
    }
}

fn keyring(certs: &[&[u8]]) -> Keyring {
    let mut k = Keyring::new(".builtin_trusted_keys");
    for c in certs {
        k.add_der(c).unwrap();
    }
    k
}

fn signer(identity: &Identity, chain: &[&Identity], hash: HashAlgo) -> Signer {
    Signer {
        identity: identity.clone(),
        chain: chain.iter().map(|i| i.cert.clone()).collect(),
        hash,
        include_certs: true,
    }
}

/// CA -> intermediate -> signer, each of `kind`.
fn chain(seed: u64, kind: KeyKind, hash: HashAlgo) -> (Identity, Identity, Identity) {
    let mut r = rng(seed);
    let ca = root(&mut r, kind, "CN=test root", hash).unwrap();
    let mid = child(&mut r, &ca, kind, &CertSpec { subject: "CN=test intermediate", serial: 10, ca: true, hash }).unwrap();
    let leaf = child(&mut r, &mid, kind, &CertSpec { subject: "CN=test leaf", serial: 11, ca: false, hash }).unwrap();
    (ca, mid, leaf)
}

#[test]
fn every_key_type_and_hash_verifies_through_a_chain() {
    let cases = [
        (KeyKind::Rsa(2048), HashAlgo::Sha256),
        (KeyKind::Rsa(3072), HashAlgo::Sha384),
        (KeyKind::Rsa(4096), HashAlgo::Sha512),
        (KeyKind::P256, HashAlgo::Sha256),
        (KeyKind::P256, HashAlgo::Sha512),
        (KeyKind::P384, HashAlgo::Sha384),
    ];
    for (i, (kind, hash)) in cases.into_iter().enumerate() {
        let (ca, mid, leaf) = chain(100 + i as u64, kind, hash);
        let s = signer(&leaf, &[&mid], hash);
        let k = keyring(&[&ca.cert]);
        let pe = sign_pe(&tiny_pe(), &s).unwrap();
        let v = verify_pe(&pe, &k).unwrap_or_else(|e| panic!("{kind:?}/{hash:?} PE: {e}"));
        assert_eq!((v.format, v.algo), ("Authenticode", hash));
        assert!(v.signer.contains("test leaf") && v.trusted.contains("test root"), "{v:?}");
        let elf = sign_appended(b"\x7fELF kernel bytes", &s).unwrap();
        let v = verify_appended(&elf, &k).unwrap_or_else(|e| panic!("{kind:?}/{hash:?} appended: {e}"));
        assert_eq!(v.digest, hash.digest(b"\x7fELF kernel bytes"));
        // The intermediate is trusted as well as the root.
        verify_pe(&pe, &keyring(&[&mid.cert])).unwrap();
        // Without the intermediate in the message the chain does not reach the root.
        let short = Signer { chain: vec![], ..s.clone() };
        let e = verify_pe(&sign_pe(&tiny_pe(), &short).unwrap(), &k).unwrap_err();
        assert_eq!(e.errno(), Errno::ENOKEY, "{e}");
    }
}

#[test]
fn pe_layout_is_sbsigns_and_both_wrapper_lengths_verify() {
    let pki = TestPki::generate().unwrap();
    let s = signer(&pki.signer, &[], HashAlgo::Sha256);
    let k = keyring(&[&pki.ca]);
    let img = tiny_pe();
    let signed = sign_pe(&img, &s).unwrap();
    let pe = kexec_sig::pefile::PeFile::parse(&signed).unwrap();
    let (at, size) = pe.cert_table.unwrap();
    assert_eq!(at, img.len().div_ceil(8) * 8, "table after the image padded to 8");
    assert_eq!((size % 8, at + size), (0, signed.len()), "table rounded to 8, at the end");
    let dw = u32::from_le_bytes(signed[at..at + 4].try_into().unwrap()) as usize;
    assert!(dw <= size && size - dw < 8, "dwLength {dw:#x} is the exact wrapper length");
    assert_eq!(signed[..img.len()].len(), img.len());
    let sum = u32::from_le_bytes(signed[pe.checksum_offset..][..4].try_into().unwrap());
    assert_eq!(sum, crate::pe::pe_checksum(&signed, pe.checksum_offset));
    verify_pe(&signed, &k).unwrap();
    let padded = sign_pe_with(&img, &s, WrapperLength::Padded).unwrap();
    let dw = u32::from_le_bytes(padded[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(dw, size, "pesign style: dwLength includes the padding");
    verify_pe(&padded, &k).unwrap();
    // Reproducible: the same input and key give the same bytes.
    assert_eq!(sign_pe(&img, &s).unwrap(), signed);
    assert_eq!(TestPki::generate().unwrap().ca, pki.ca);
    // Signing twice is refused.
    assert!(sign_pe(&signed, &s).unwrap_err().to_string().contains("already signed"));
    assert!(sign_appended(&sign_appended(b"x", &s).unwrap(), &s).is_err());
}

#[test]
fn real_signature_refusals_have_linux_errnos() {
    let pki = TestPki::generate().unwrap();
    let s = signer(&pki.signer, &[], HashAlgo::Sha256);
    let k = keyring(&[&pki.ca]);
    let signed = sign_pe(&tiny_pe(), &s).unwrap();
    let pe = kexec_sig::pefile::PeFile::parse(&signed).unwrap();
    let (at, size) = pe.cert_table.unwrap();

    let mut cksum = signed.clone();
    cksum[pe.checksum_offset] ^= 0xff;
    verify_pe(&cksum, &k).expect("the checksum is not hashed");

    let mut text = signed.clone();
    text[0x300] ^= 1;
    let e = verify_pe(&text, &k).unwrap_err();
    assert_eq!(e.errno(), Errno::EKEYREJECTED);
    assert!(e.to_string().contains("sha256"), "names the hash: {e}");

    let mut trailing = signed.clone();
    trailing.extend_from_slice(&[0u8; 16]);
    assert_eq!(errno(verify_pe(&trailing, &k)), Errno::EKEYREJECTED, "data after the table shifts the hashed tail");

    // A second WIN_CERTIFICATE (here from an untrusted key) is ignored.
    let other = TestPki { ca: vec![], signer: chain(7, KeyKind::P256, HashAlgo::Sha256).2 };
    let second = sign_pe(&tiny_pe(), &signer(&other.signer, &[], HashAlgo::Sha256)).unwrap();
    let (at2, size2) = kexec_sig::pefile::PeFile::parse(&second).unwrap().cert_table.unwrap();
    let mut two = signed.clone();
    two.extend_from_slice(&second[at2..at2 + size2]);
    two[pe.cert_dirent_offset + 4..pe.cert_dirent_offset + 8].copy_from_slice(&((size + size2) as u32).to_le_bytes());
    verify_pe(&two, &k).expect("only the first certificate counts");
    // ... and a first one from an untrusted key is not rescued by a second.
    assert_eq!(errno(verify_pe(&second, &k)), Errno::ENOKEY, "unknown key");

    let mut rev = signed.clone();
    rev[at + 4] = 0x01;
    assert_eq!(errno(verify_pe(&rev, &k)), Errno::ENOTSUPP, "revision 1.0");

    let mut cut = signed.clone();
    cut.truncate(at + size - 8);
    assert_eq!(errno(verify_pe(&cut, &k)), Errno::ELIBBAD, "truncated table");

    let fp = |der: &[u8]| kexec_sig::hash::sha256(der);
    for (who, der) in [("signer", &pki.signer.cert), ("CA", &pki.ca)] {
        let mut bl = keyring(&[&pki.ca]);
        bl.blacklist(fp(der));
        let e = verify_pe(&signed, &bl).unwrap_err();
        assert_eq!(e.errno(), Errno::EKEYREJECTED, "blacklisted {who}: {e}");
        let e = verify_appended(&sign_appended(b"elf", &s).unwrap(), &bl).unwrap_err();
        assert_eq!(e.errno(), Errno::EKEYREJECTED, "blacklisted {who}, appended: {e}");
    }

    // sign-file's default: no certificates in the message. Then the signer's
    // own certificate must be the trusted key (Linux looks it up by issuer
    // and serial).
    let bare = Signer { include_certs: false, ..s.clone() };
    let elf = sign_appended(b"elf", &bare).unwrap();
    assert_eq!(errno(verify_appended(&elf, &k)), Errno::ENOKEY);
    verify_appended(&elf, &keyring(&[&pki.signer.cert])).unwrap();

    // RSA outside 2048-4096 bits: Linux's public-key layer has no such key (ENOPKG).
    let (small_ca, _, small_leaf) = chain(5, KeyKind::Rsa(1024), HashAlgo::Sha256);
    let small = sign_pe(&tiny_pe(), &signer(&small_leaf, &[], HashAlgo::Sha256)).unwrap();
    let e = verify_pe(&small, &keyring(&[&small_ca.cert])).unwrap_err();
    assert_eq!(e.errno(), Errno::ENOPKG, "RSA-1024: {e}");

    let mut payload = sign_appended(b"elf payload", &s).unwrap();
    payload[1] ^= 1;
    assert_eq!(errno(verify_appended(&payload, &k)), Errno::EKEYREJECTED, "appended payload changed");
}
