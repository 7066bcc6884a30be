//! The encoders against the restore (Linux's rules) and known layouts.

use alloc::vec::Vec;

use sha2::Digest as _;

use crate::kexec::{dump, kexec_buffer_size, restore, KexecHeader, RestoreError, KEXEC_HDR_SIZE, MAX_TEMPLATE_NAME_LEN};
use crate::{Entry, MeasurementList};

fn list() -> MeasurementList {
    let mut l = MeasurementList::new();
    l.add(Entry::boot_aggregate());
    l.add(Entry::ima_ng(&sha2::Sha256::digest(b"kernel").into(), "/boot/kexos.bzImage"));
    l.add(Entry::ima_buf("kexec-cmdline", b"console=ttyS0 token=x"));
    l
}

/// src/sha1.rs against the sha1 crate: every length across the one- and
/// two-block padding cases and several blocks, and FIPS 180-2's examples.
#[test]
fn sha1_matches_the_sha1_crate() {
    let data: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    for n in 0..data.len() {
        let want: [u8; 20] = sha1::Sha1::digest(&data[..n]).into();
        assert_eq!(crate::sha1::sha1(&data[..n]), want, "length {n}");
    }
    assert_eq!(crate::entry::hex(&crate::sha1::sha1(b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
    let two = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_eq!(crate::entry::hex(&crate::sha1::sha1(two)), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

#[test]
fn ima_ng_layout_and_hash_are_linuxs() {
    let e = Entry::ima_ng(&[0xab; 32], "/bin/x");
    let data = e.template_data();
    // d-ng: u32 40, "sha256:" NUL, 32 bytes; n-ng: u32 7, "/bin/x" NUL.
    assert_eq!(&data[..4], &40u32.to_le_bytes());
    assert_eq!(&data[4..12], b"sha256:\0");
    assert_eq!(&data[44..48], &7u32.to_le_bytes());
    assert_eq!(&data[48..], b"/bin/x\0");
    let want: [u8; 20] = sha1::Sha1::digest(&data).into();
    assert_eq!(e.template_hash, want);
    let line = e.ascii();
    assert_eq!(line, alloc::format!("10 {} ima-ng sha256:{} /bin/x\n", crate::entry::hex(&want), "ab".repeat(32)));
    let mut bin = Vec::new();
    e.write_binary(&mut bin);
    assert_eq!(bin.len(), e.binary_len());
    assert_eq!(&bin[..4], &10u32.to_le_bytes());
    assert_eq!(&bin[24..28], &6u32.to_le_bytes());
    assert_eq!(&bin[28..34], b"ima-ng");
    assert_eq!(&bin[34..38], &(data.len() as u32).to_le_bytes());
}

#[test]
fn ima_buf_shows_the_buffer_in_hex() {
    let e = Entry::ima_buf("kexec-cmdline", b"ro");
    let d = crate::entry::hex(&sha2::Sha256::digest(b"ro"));
    assert!(e.ascii().ends_with(&alloc::format!(" ima-buf sha256:{d} kexec-cmdline 726f\n")), "{}", e.ascii());
}

#[test]
fn dump_and_restore_round_trip() {
    let l = list();
    let size = kexec_buffer_size(l.binary_size(), 64 * 1024).unwrap();
    assert_eq!(size % 4096, 0);
    assert!(size >= KEXEC_HDR_SIZE + l.binary_size() + 64 * 1024);
    let d = dump(l.entries(), size);
    assert_eq!((d.written, d.dropped), (3, 0));
    let h = KexecHeader::from_bytes(&d.bytes).unwrap();
    assert_eq!((h.version, h.count, h.buffer_size as usize), (1, 3, KEXEC_HDR_SIZE + l.binary_size()));
    assert_eq!(&d.bytes[KEXEC_HDR_SIZE..], &l.binary()[..], "records = binary_runtime_measurements");
    let mut seg = d.bytes.clone();
    seg.resize(size, 0);
    assert_eq!(restore(&seg).unwrap(), l.entries());
    assert_eq!(restore(&[]).unwrap(), Vec::new());
}

#[test]
fn overflow_keeps_whole_records_and_says_so() {
    let l = list();
    let first_two = l.entries()[0].binary_len() + l.entries()[1].binary_len();
    let d = dump(l.entries(), KEXEC_HDR_SIZE + first_two + 10);
    assert_eq!((d.written, d.dropped), (2, 1));
    assert_eq!(KexecHeader::from_bytes(&d.bytes).unwrap().count, 2);
    assert_eq!(restore(&d.bytes).unwrap(), &l.entries()[..2]);
    let d = dump(l.entries(), KEXEC_HDR_SIZE);
    assert_eq!((d.written, d.bytes.len()), (0, KEXEC_HDR_SIZE));
}

#[test]
fn restore_refuses_what_linux_refuses() {
    let l = list();
    let good = dump(l.entries(), 1 << 20).bytes;
    let e = |b: &[u8]| restore(b).unwrap_err();
    let mut v2 = good.clone();
    v2[0] = 2;
    assert_eq!(e(&v2), RestoreError::Version(2));
    assert_eq!(e(&v2).errno(), abi::Errno::EINVAL);
    // A record cut in the middle (buffer_size says so).
    let mut cut = good.clone();
    let short = (good.len() - 5) as u64;
    cut[8..16].copy_from_slice(&short.to_le_bytes());
    assert!(matches!(e(&cut), RestoreError::Truncated { record: 2, .. }), "{:?}", e(&cut));
    // buffer_size past the segment.
    let mut past = good.clone();
    past[8..16].copy_from_slice(&(good.len() as u64 + 1).to_le_bytes());
    assert!(matches!(e(&past), RestoreError::BufferSize { .. }));
    // count smaller than the records: the last counted must end at buffer_size.
    let mut fewer = good.clone();
    fewer[16..24].copy_from_slice(&2u64.to_le_bytes());
    assert!(matches!(e(&fewer), RestoreError::TrailingBytes { count: 2, .. }));
    // count larger than the records: the walk stops at buffer_size (Linux).
    let mut more = good.clone();
    more[16..24].copy_from_slice(&9u64.to_le_bytes());
    assert_eq!(restore(&more).unwrap().len(), 3);
    // Template "ima", a too-long name, unknown fields.
    for (name, err) in [
        ("ima", RestoreError::Template("ima".into())),
        ("d-ng|bogus", RestoreError::Template("d-ng|bogus".into())),
    ] {
        let mut one = Entry::ima_ng(&[1; 32], "/x");
        one.template = name.into();
        let b = dump(&[one], 4096).bytes;
        assert_eq!(e(&b), err);
    }
    let mut long = Entry::ima_ng(&[1; 32], "/x");
    long.template = "d-ng|".repeat(MAX_TEMPLATE_NAME_LEN / 5 + 1);
    assert!(matches!(e(&dump(&[long], 4096).bytes), RestoreError::NameTooLong(_)));
    // Template data with a field missing.
    let mut missing = Entry::ima_ng(&[1; 32], "/x");
    missing.fields.pop();
    assert!(matches!(e(&dump(&[missing], 4096).bytes), RestoreError::Truncated { what: "template data", .. }));
}

#[test]
fn hostile_buffers_never_panic() {
    let good = dump(list().entries(), 1 << 20).bytes;
    for i in 0..good.len() {
        for bit in [0x01u8, 0x80, 0xff] {
            let mut b = good.clone();
            b[i] ^= bit;
            let _ = restore(&b);
            let _ = restore(&b[..i]);
        }
    }
}
