//! Whole-archive tests: round trips, concatenation, truncation, system cpio.

use super::*;
use abi::fs::{S_IFDIR, S_IFLNK, S_IFREG};
use alloc::string::String;
use alloc::vec::Vec;

fn sample() -> Vec<u8> {
    let mut w = Writer::new();
    w.add_dir("/etc", 0o755);
    w.add_file("/etc/rc", 0o644, b"echo hi\n");
    w.add_file("/sbin/init", 0o755, &[0x7f, b'E', b'L', b'F', 1, 2]);
    w.add_file("empty", 0o600, b"");
    w.add_symlink("/bin/sh", "/sbin/init");
    w.finish()
}

/// Offset just past the (4-aligned) trailer of a single archive.
fn trailer_end(archive: &[u8]) -> usize {
    // The last non-NUL byte is the final '!' of "TRAILER!!!"; then its NUL.
    align4(archive.iter().rposition(|&b| b != 0).unwrap() + 2).unwrap()
}

fn names(archive: &[u8]) -> Vec<String> {
    entries(archive)
        .map(|e| String::from(e.unwrap().name))
        .collect()
}

#[test]
fn roundtrip() {
    let archive = sample();
    assert_eq!(archive.len() % 512, 0);
    let all: Vec<Entry> = entries(&archive).collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].name, "etc");
    assert_eq!(all[0].mode, S_IFDIR | 0o755);
    assert_eq!(all[0].nlink, 2);
    assert!(all[0].is_dir());
    assert_eq!(all[1].name, "etc/rc");
    assert_eq!(all[1].data, b"echo hi\n");
    assert_eq!(all[1].mode, S_IFREG | 0o644);
    assert_eq!(all[1].nlink, 1);
    assert_eq!(all[2].data, &[0x7f, b'E', b'L', b'F', 1, 2]);
    assert!(all[3].is_file() && all[3].data.is_empty());
    assert!(all[4].is_symlink());
    assert_eq!(all[4].mode, S_IFLNK | 0o777);
    assert_eq!(all[4].data, b"/sbin/init");
    let mut inos: Vec<u32> = all.iter().map(|e| e.ino).collect();
    inos.sort();
    inos.dedup();
    assert_eq!(inos.len(), 5, "inode numbers are unique");
}

#[test]
fn permission_bits_only() {
    let mut w = Writer::new();
    w.add_file("f", S_IFDIR | 0o4755, b"");
    let a = w.finish();
    let e = entries(&a).next().unwrap().unwrap();
    assert_eq!(e.mode, S_IFREG | 0o4755);
}

#[test]
fn concatenated_archives() {
    let mut a = sample();
    a.extend_from_slice(&[0u8; 4 * 7]);
    let mut w = Writer::new();
    w.add_file("second", 0o644, b"2");
    a.extend_from_slice(&w.finish());
    let n = names(&a);
    assert_eq!(n.len(), 6);
    assert_eq!(n[5], "second");
}

#[test]
fn concatenated_without_512_padding() {
    // Archives that end right after their trailer (4-aligned) also chain.
    let mut first = Vec::new();
    let mut w = Writer::new();
    w.add_file("one", 0o644, b"1");
    let full = w.finish();
    first.extend_from_slice(&full[..trailer_end(&full)]);
    first.extend_from_slice(&full);
    assert_eq!(names(&first), ["one", "one"]);
}

#[test]
fn misaligned_second_archive() {
    let mut a = sample();
    let end = a.len();
    a.extend_from_slice(b"\0\0\x01");
    let r: Vec<_> = entries(&a).collect();
    assert_eq!(r.len(), 6);
    assert_eq!(r[5], Err(Error::BadPadding { offset: end + 2 }));
}

#[test]
fn garbage_after_trailer() {
    let mut a = sample();
    let end = a.len();
    a.extend_from_slice(b"junk");
    let last = entries(&a).last().unwrap();
    assert_eq!(last, Err(Error::BadMagic { offset: end }));
}

#[test]
fn truncated_at_every_offset() {
    let archive = sample();
    let trailer_end = trailer_end(&archive);
    for cut in 0..=archive.len() {
        let results: Vec<_> = entries(&archive[..cut]).collect();
        let errors: Vec<_> = results.iter().filter_map(|r| (*r).err()).collect();
        if cut == 0 || cut >= trailer_end {
            assert!(errors.is_empty(), "cut {cut}: {errors:?}");
            assert_eq!(results.len(), if cut == 0 { 0 } else { 5 });
        } else {
            assert_eq!(errors.len(), 1, "cut {cut}");
            assert!(results.last().unwrap().is_err(), "error is last");
            assert!(
                matches!(errors[0], Error::Truncated { .. } | Error::BadMagic { .. }),
                "cut {cut}: {:?}",
                errors[0]
            );
        }
    }
}

#[test]
fn corrupted_at_every_offset_never_panics() {
    let archive = sample();
    for i in 0..archive.len() {
        for v in [0u8, b'0', b'f', b'F', b'z', 0xff, b'/'] {
            let mut a = archive.clone();
            a[i] = v;
            let _ = entries(&a).count();
        }
    }
}

#[test]
fn huge_sizes_do_not_overflow() {
    let mut a = sample();
    // filesize of the first member (field 7, offset 6 + 6*8) = FFFFFFFF.
    a[54..62].copy_from_slice(b"FFFFFFFF");
    let r: Vec<_> = entries(&a).collect();
    assert!(matches!(r[0], Err(Error::Truncated { .. })));
    let mut a = sample();
    a[94..102].copy_from_slice(b"FFFFFFFF"); // namesize
    assert!(matches!(
        entries(&a).next(),
        Some(Err(Error::Truncated { offset: 110, .. }))
    ));
}

#[test]
fn bad_hex() {
    let mut a = sample();
    a[6 + 8 + 2] = b'x'; // mode of the first member
    let r: Vec<_> = entries(&a).collect();
    assert_eq!(
        r,
        [Err(Error::BadHex {
            offset: 0,
            field: "mode"
        })]
    );
}

#[test]
fn bad_names() {
    let mut a = sample();
    a[94..102].copy_from_slice(b"00000000"); // namesize 0
    assert_eq!(entries(&a).next(), Some(Err(Error::BadName { offset: 0 })));
    let mut a = sample();
    a[110 + 3] = b'x'; // "etc\0" -> "etcx": no terminating NUL
    assert_eq!(entries(&a).next(), Some(Err(Error::BadName { offset: 0 })));
}

#[test]
fn dot_entry_and_prefixes() {
    let mut w = Writer::new();
    w.try_add(".", S_IFDIR | 0o755, b"").unwrap();
    w.try_add("./a", S_IFREG | 0o644, b"").unwrap();
    w.try_add("//b", S_IFREG | 0o644, b"").unwrap();
    let a = w.finish();
    assert_eq!(names(&a), ["a", "b"]);
}

#[test]
fn lowercase_hex_and_crc_format() {
    // Hand-built "crc" member with lower-case hex: data "ab" sums to 0xc3.
    let mut a = Vec::new();
    let mut push = |magic: &str, mode: u32, name: &str, data: &[u8], check: u32| {
        a.extend_from_slice(magic.as_bytes());
        for v in [
            1,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            check,
        ] {
            a.extend_from_slice(alloc::format!("{v:08x}").as_bytes());
        }
        a.extend_from_slice(name.as_bytes());
        a.push(0);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a.extend_from_slice(data);
        while a.len() % 4 != 0 {
            a.push(0);
        }
    };
    push("070702", 0o100644, "f", b"ab", 0xc3);
    push("070702", 0o100644, "g", b"ab", 0xc4);
    push("070702", 0, TRAILER, b"", 0);
    let r: Vec<_> = entries(&a).collect();
    assert_eq!(r[0].as_ref().unwrap().data, b"ab");
    assert_eq!(
        r[1],
        Err(Error::BadChecksum {
            offset: 116,
            expected: 0xc4,
            actual: 0xc3
        })
    );
}

/// Where the tests that cross-check against GNU cpio stop when it is missing.
const NO_CPIO: &str = "GNU cpio not found in PATH; these tests cross-check the reader and \
    writer against it: install it (apt-get install cpio; .ci/run does)";

/// Build an archive with the system `cpio` from a temporary directory.
/// Panics with what went wrong (and how to get cpio when it is missing).
fn system_cpio(format: &str) -> Vec<u8> {
    use std::io::Write;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::process::{Command, Stdio};
    let dir =
        std::env::temp_dir().join(alloc::format!("kexos-cpio-{}-{format}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("etc/sub")).unwrap();
    std::fs::write(dir.join("etc/rc"), b"echo from system cpio\n").unwrap();
    std::fs::write(dir.join("big"), vec![0xa5u8; 5000]).unwrap();
    std::fs::set_permissions(dir.join("big"), std::fs::Permissions::from_mode(0o640)).unwrap();
    symlink("etc/rc", dir.join("link")).unwrap();
    let list = "./etc\n./etc/sub\n./etc/rc\n./big\n./link\n";
    let mut child = Command::new("cpio")
        .args(["-o", "-H", format, "--quiet"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{NO_CPIO} (spawning cpio: {e})"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "cpio -o -H {format} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The tree `system_cpio` archives (and testdata/gnu-*.cpio hold).
fn check_gnu_archive(archive: &[u8]) {
    let all: Vec<Entry> = entries(archive).collect::<Result<_, _>>().unwrap();
    let n: Vec<&str> = all.iter().map(|e| e.name).collect();
    assert_eq!(n, ["etc", "etc/sub", "etc/rc", "big", "link"]);
    assert!(all[0].is_dir() && all[1].is_dir());
    assert_eq!(all[2].data, b"echo from system cpio\n");
    assert_eq!(all[3].data.len(), 5000);
    assert!(all[3].data.iter().all(|&b| b == 0xa5));
    assert_eq!(all[3].mode, S_IFREG | 0o640);
    assert!(all[4].is_symlink());
    assert_eq!(all[4].data, b"etc/rc");
}

#[test]
fn system_cpio_newc() {
    check_gnu_archive(&system_cpio("newc"));
}

#[test]
fn system_cpio_crc() {
    check_gnu_archive(&system_cpio("crc"));
}

// The same tree archived once by GNU cpio 2.13 (`cpio -o -H newc|crc -R 0:0`,
// mtimes 2026-01-01), so the reader is checked against GNU output even
// where the tool is not installed.
#[test]
fn gnu_cpio_newc_fixture() {
    check_gnu_archive(include_bytes!("../testdata/gnu-newc.cpio"));
}

#[test]
fn gnu_cpio_crc_fixture() {
    check_gnu_archive(include_bytes!("../testdata/gnu-crc.cpio"));
}

#[test]
fn system_cpio_reads_our_archive() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("cpio")
        .args(["-i", "-t", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{NO_CPIO} (spawning cpio: {e})"));
    child.stdin.take().unwrap().write_all(&sample()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "etc\netc/rc\nsbin/init\nempty\nbin/sh\n"
    );
}
