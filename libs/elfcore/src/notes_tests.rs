use super::*;
use std::vec::Vec;

fn u32le(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

fn u64le(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// Registers whose every value is distinct (register i holds 0x1111_0000 + i).
pub(crate) fn sample_regs() -> CoreRegs {
    let mut a = [0u64; CoreRegs::COUNT];
    for (i, v) in a.iter_mut().enumerate() {
        *v = 0xdead_0000_1111_0000 + i as u64;
    }
    CoreRegs::from_array(a)
}

#[test]
fn crash_note_sizes_match_linux() {
    // note_buf_t: 2 headers (24) + "CORE\0" padded (8) + elf_prstatus (336).
    assert_eq!(CRASH_NOTE_BYTES, 368);
    assert_eq!(VMCOREINFO_MAX_TEXT, 4096 - 12 - 12 - 12);
}

#[test]
fn prstatus_note_exact_bytes() {
    let mut buf = [0xffu8; CRASH_NOTE_BYTES];
    let regs = sample_regs();
    write_prstatus_note(&mut buf, &regs, 4242);
    assert_eq!(
        (u32le(&buf, 0), u32le(&buf, 4), u32le(&buf, 8)),
        (5, 336, NT_PRSTATUS)
    );
    assert_eq!(&buf[12..20], b"CORE\0\0\0\0");
    let desc = &buf[20..20 + 336];
    assert_eq!(u32le(desc, 32), 4242, "pr_pid at offset 32");
    for i in 0..27 {
        assert_eq!(
            u64le(desc, 112 + 8 * i),
            0xdead_0000_1111_0000 + i as u64,
            "pr_reg[{i}]"
        );
    }
    assert_eq!(u64le(desc, 112 + 16 * 8), regs.rip);
    // Everything else in elf_prstatus is zero (pr_fpvalid at 328 included).
    assert!(desc[..32]
        .iter()
        .chain(&desc[36..112])
        .chain(&desc[328..])
        .all(|&b| b == 0));
    // The terminator (and the garbage that was there) is zeroed.
    assert!(buf[356..].iter().all(|&b| b == 0));
}

#[test]
fn prstatus_note_round_trip() {
    let mut buf = [0u8; CRASH_NOTE_BYTES];
    let regs = sample_regs();
    write_prstatus_note(&mut buf, &regs, 7);
    let mut it = notes(&buf);
    let (name, t, desc) = it.next().unwrap();
    assert_eq!(
        (name, t, desc.len()),
        (&b"CORE"[..], NT_PRSTATUS, PRSTATUS_BYTES)
    );
    assert_eq!(parse_prstatus(desc), Some((7, regs)));
    assert!(it.next().is_none());
    assert!(!it.malformed());
    assert_eq!(note_segment_size(&buf), 356);
}

#[test]
fn parse_prstatus_wants_336_bytes() {
    assert_eq!(parse_prstatus(&[0u8; 335]), None);
    assert_eq!(parse_prstatus(&[0u8; 337]), None);
    assert_eq!(parse_prstatus(&[0u8; 336]), Some((0, CoreRegs::default())));
}

#[test]
fn vmcoreinfo_note_exact_bytes() {
    let mut buf = [0xaau8; VMCOREINFO_BYTES];
    let text = "OSRELEASE=0.1.0\nPAGESIZE=4096\nKERNELOFFSET=0\n";
    write_vmcoreinfo_note(&mut buf, text).unwrap();
    assert_eq!(
        (u32le(&buf, 0), u32le(&buf, 4), u32le(&buf, 8)),
        (11, text.len() as u32, 0)
    );
    assert_eq!(&buf[12..24], b"VMCOREINFO\0\0");
    assert_eq!(&buf[24..24 + text.len()], text.as_bytes());
    assert!(buf[24 + text.len()..].iter().all(|&b| b == 0));
    let v: Vec<_> = notes(&buf).collect();
    assert_eq!(v, [(&b"VMCOREINFO"[..], 0, text.as_bytes())]);
}

#[test]
fn vmcoreinfo_too_long() {
    let mut buf = [0u8; VMCOREINFO_BYTES];
    let max = "x".repeat(VMCOREINFO_MAX_TEXT);
    write_vmcoreinfo_note(&mut buf, &max).unwrap();
    assert_eq!(notes(&buf).next().unwrap().2.len(), VMCOREINFO_MAX_TEXT);
    assert!(
        buf[VMCOREINFO_BYTES - 12..].iter().all(|&b| b == 0),
        "terminator kept"
    );
    let e = write_vmcoreinfo_note(&mut buf, &"x".repeat(VMCOREINFO_MAX_TEXT + 1)).unwrap_err();
    assert_eq!(
        e,
        NoteError::TooLong {
            need: 4100,
            room: 4096
        }
    );
    assert_eq!(e.errno(), abi::Errno::EINVAL);
    assert_eq!(
        std::format!("{e}"),
        "note needs 4100 bytes, buffer has 4096"
    );
}

/// A note with `name` (NUL added), `t`, `desc`, padded.
fn note(name: &str, t: u32, desc: &[u8]) -> Vec<u8> {
    let len = 12 + (name.len() + 4) / 4 * 4 + desc.len().div_ceil(4) * 4;
    assert!(write_note(&mut [0u8; 12], name, t, desc).is_err());
    let mut v = std::vec![0xeeu8; len + 12];
    assert_eq!(write_note(&mut v, name, t, desc), Ok(len + 12));
    v.truncate(len);
    v
}

#[test]
fn notes_iterates_several_and_stops_at_terminator() {
    let mut seg = note("CORE", 1, &[1, 2, 3]);
    seg.extend(note("VMCOREINFO", 0, b"A=1\n"));
    seg.extend([0u8; 12]);
    seg.extend(note("AFTER", 9, b"x"));
    let v: Vec<_> = notes(&seg).collect();
    assert_eq!(
        v,
        [
            (&b"CORE"[..], 1, &[1u8, 2, 3][..]),
            (&b"VMCOREINFO"[..], 0, &b"A=1\n"[..])
        ]
    );
    // 12 + "CORE\0" (8) + 3 padded (4), then 12 + "VMCOREINFO\0" (12) + 4.
    assert_eq!(note_segment_size(&seg), 24 + 28);
}

#[test]
fn notes_malformed_and_tails() {
    let good = note("CORE", 1, &[9; 5]);
    // Desc running past the end: malformed.
    let mut it = notes(&good[..good.len() - 4]);
    assert!(it.next().is_none() && it.malformed());
    // Missing final padding only: accepted.
    let v: Vec<_> = notes(&good[..good.len() - 3]).collect();
    assert_eq!(v.len(), 1);
    // A short zero tail ends cleanly, a short non-zero tail is malformed.
    let mut seg = good.clone();
    seg.extend([0u8; 5]);
    let mut it = notes(&seg);
    assert_eq!(it.by_ref().count(), 1);
    assert!(!it.malformed());
    seg.push(1);
    let mut it = notes(&seg);
    assert_eq!(it.by_ref().count(), 1);
    assert!(it.malformed());
    // Empty input: nothing, not malformed.
    assert!(notes(&[]).next().is_none());
}

#[test]
fn segment_size_drops_note_past_end_like_linux() {
    let mut seg = note("CORE", 1, &[0; 336]);
    let one = seg.len();
    seg.extend(note("CORE", 1, &[0; 336]));
    // The second note is cut: Linux keeps only the first.
    assert_eq!(note_segment_size(&seg[..seg.len() - 1]), one);
    assert_eq!(note_segment_size(&seg), 2 * one);
    assert_eq!(note_segment_size(&[0u8; 368]), 0);
    // A huge descsz does not overflow.
    let mut bad = note("CORE", 1, &[]);
    bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(note_segment_size(&bad), 0);
    assert!(notes(&bad).next().is_none());
}
