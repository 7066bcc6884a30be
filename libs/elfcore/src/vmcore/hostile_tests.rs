//! Hostile ELF core headers for the /proc/vmcore reader: every truncation
//! (the header, the program headers, a note segment ending where old memory
//! does) is an error, and random byte flips never panic, in parsing or in
//! reading the file that results.

use std::format;
use std::vec::Vec;

use super::*;
use crate::testutil::FakeMem;
use crate::{build_elf_headers, write_prstatus_note, CoreRegs, NoteRange, CRASH_NOTE_BYTES};

const HDR: u64 = 0x80_0000;
const NOTE: u64 = 0x30_0000;

fn header() -> Vec<u8> {
    let notes = [NoteRange {
        phys: NOTE,
        size: CRASH_NOTE_BYTES as u64,
    }];
    build_elf_headers(
        &[(0x1000, 0x9_f000), (0x10_0000, 0x40_0000)],
        &[],
        &notes,
        0,
    )
}

fn note() -> [u8; CRASH_NOTE_BYTES] {
    let mut n = [0u8; CRASH_NOTE_BYTES];
    write_prstatus_note(&mut n, &CoreRegs::default(), 1);
    n
}

/// Bytes the reader needs: the ELF header and every program header.
fn needed(hdr: &[u8]) -> usize {
    64 + 56 * usize::from(u16::from_le_bytes([hdr[56], hdr[57]]))
}

#[test]
fn every_truncated_header_is_an_error() {
    let hdr = header();
    let mut mem = FakeMem::new(HDR + hdr.len() as u64);
    mem.put(NOTE, &note());
    mem.put(HDR, &hdr);
    assert!(Vmcore::from_old_memory(HDR, &mem).is_ok());
    for cut in 0..needed(&hdr) {
        // Old memory ends `cut` bytes into the header.
        mem.top = HDR + cut as u64;
        let e =
            Vmcore::from_old_memory(HDR, &mem).expect_err(&format!("header cut at {cut} accepted"));
        assert!(matches!(e, VmcoreError::Unreadable { .. }), "{cut}: {e:?}");
    }
}

#[test]
fn every_truncated_note_segment_is_an_error() {
    let hdr = header();
    // The note segment is the last thing in readable memory.
    let at = 0x20_0000 - CRASH_NOTE_BYTES as u64;
    let notes = [NoteRange {
        phys: at,
        size: CRASH_NOTE_BYTES as u64,
    }];
    let hdr2 = build_elf_headers(&[(0x1000, 0x9_f000)], &[], &notes, 0);
    assert_eq!(needed(&hdr2), needed(&hdr) - 56);
    let mut mem = FakeMem::new(0x20_0000);
    mem.put(at, &note());
    mem.put(0x10_0000, &hdr2);
    assert!(Vmcore::from_old_memory(0x10_0000, &mem).is_ok());
    for cut in 0..CRASH_NOTE_BYTES as u64 {
        mem.top = at + cut;
        let e = Vmcore::from_old_memory(0x10_0000, &mem)
            .expect_err(&format!("note cut at {cut} accepted"));
        assert!(matches!(e, VmcoreError::Unreadable { .. }), "{cut}: {e:?}");
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let (hdr, note) = (header(), note());
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut below = |n: u64| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    };
    let mut parsed = 0;
    for _ in 0..3000 {
        let (mut h, mut n) = (hdr.clone(), note.to_vec());
        for _ in 0..1 + below(6) {
            if below(4) == 0 {
                let at = below(n.len() as u64) as usize;
                n[at] ^= 1 << below(8);
            } else {
                let at = below(needed(&hdr) as u64) as usize;
                h[at] ^= 1 << below(8);
            }
        }
        let mut mem = FakeMem::new(0x100_0000);
        mem.put(NOTE, &n);
        mem.put(HDR, &h);
        let Ok(v) = Vmcore::from_old_memory(HDR, &mem) else {
            continue;
        };
        parsed += 1;
        // The merged notes are parsed too (NT_PRSTATUS, VMCOREINFO).
        let _ = (v.prstatus(), v.vmcoreinfo());
        let mut buf = [0u8; 300];
        for off in [0, v.size() / 2, v.size().saturating_sub(7), u64::MAX - 3] {
            let _ = v.read_at(off, &mut buf, &mem);
        }
    }
    assert!(parsed > 100, "{parsed}");
}
