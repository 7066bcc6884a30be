use std::string::ToString;
use std::vec::Vec;

use goblin::elf::program_header::{PT_LOAD, PT_NOTE};
use goblin::elf::Elf;

use super::*;
use crate::testutil::FakeMem;
use crate::{
    build_elf_headers, write_prstatus_note, write_vmcoreinfo_note, NoteRange, CRASH_NOTE_BYTES,
    MAX_PHNUM, VMCOREINFO_BYTES,
};

const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;
const ELFCOREHDR: u64 = 0x140_0000;
const CPU0_NOTE: u64 = 0x30_0000;
const CPU1_NOTE: u64 = CPU0_NOTE + CRASH_NOTE_BYTES as u64;
const VMCOREINFO_NOTE: u64 = 0x30_1000;
const MARKER_PHYS: u64 = 0x1a3_4567;
const MARKER: &[u8] = b"KEXOS-KDUMP-MARKER";
const TEXT: &str = "OSRELEASE=0.1.0\nPAGESIZE=4096\nSYMBOL(_stext)=ffffffff81000000\n";
const LOADS: [(u64, u64); 4] = [
    (0x1000, 0x9_fc00),
    (0x10_0000, 0x12_3456),
    (0x12_3457, 0x100_0000),
    (0x180_0000, 0x200_0000),
];
/// The PT_LOADs' p_offset in /proc/vmcore, worked out by hand from Linux's rules.
const FILE_OFFSETS: [u64; 4] = [0x2000, 0xa_1000, 0xc_5457, 0xfa_2000];
const FILE_SIZE: u64 = 0xfa_2000 + 0x80_0000;

fn regs() -> CoreRegs {
    CoreRegs {
        rip: 0xffff_ffff_8100_1234,
        rsp: 0xffff_c900_0000_7f00,
        rax: 5,
        cs: 0x10,
        ..Default::default()
    }
}

/// 32 MiB of first-kernel RAM: a crash region [16 MiB, 24 MiB) holding the
/// ELF core header, a byte excluded at 0x123456, two CPU notes (CPU 1's all
/// zeros: it never saved its registers), a VMCOREINFO note and a marker.
fn first_kernel() -> FakeMem {
    let ram = [(0x10_0000, 0x200_0000), (0x1000, 0x9_fc00)];
    let exclude = [(0x100_0000, 0x180_0000), (0x12_3456, 0x12_3457)];
    let notes = [
        NoteRange {
            phys: CPU0_NOTE,
            size: CRASH_NOTE_BYTES as u64,
        },
        NoteRange {
            phys: CPU1_NOTE,
            size: CRASH_NOTE_BYTES as u64,
        },
        NoteRange {
            phys: VMCOREINFO_NOTE,
            size: VMCOREINFO_BYTES as u64,
        },
    ];
    let mut mem = FakeMem::new(0x200_0000);
    mem.put(
        ELFCOREHDR,
        &build_elf_headers(&ram, &exclude, &notes, PAGE_OFFSET),
    );
    let mut cpu0 = [0u8; CRASH_NOTE_BYTES];
    write_prstatus_note(&mut cpu0, &regs(), 1);
    mem.put(CPU0_NOTE, &cpu0);
    mem.put(CPU1_NOTE, &[0u8; CRASH_NOTE_BYTES]);
    let mut info = [0u8; VMCOREINFO_BYTES];
    write_vmcoreinfo_note(&mut info, TEXT).unwrap();
    mem.put(VMCOREINFO_NOTE, &info);
    mem.put(MARKER_PHYS, MARKER);
    mem
}

/// `len` bytes of `mem` at `phys`.
fn mem_bytes(mem: &FakeMem, phys: u64, len: usize) -> Vec<u8> {
    let mut v = std::vec![0u8; len];
    assert!(mem.read(phys, &mut v));
    v
}

/// The whole file, read in odd-sized pieces.
fn read_all(v: &Vmcore, mem: &FakeMem) -> Vec<u8> {
    let sizes = [1usize, 7, 4093, 65537, 3, (1 << 20) + 5];
    let mut file = Vec::new();
    let mut buf = std::vec![0u8; *sizes.iter().max().unwrap()];
    for i in 0.. {
        let want = &mut buf[..sizes[i % sizes.len()]];
        let n = v.read_at(file.len() as u64, want, mem).unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= want.len());
        file.extend_from_slice(&want[..n]);
    }
    file
}

#[test]
fn round_trip_through_goblin() {
    let mem = first_kernel();
    let v = Vmcore::from_old_memory(ELFCOREHDR, &mem).unwrap();
    assert_eq!((v.size(), v.loads()), (FILE_SIZE, 4));
    assert_eq!(v.ram_bytes(), LOADS.iter().map(|(s, e)| e - s).sum::<u64>());
    let file = read_all(&v, &mem);
    assert_eq!(file.len() as u64, FILE_SIZE);

    let elf = Elf::parse(&file).unwrap();
    assert_eq!(elf.header.e_type, goblin::elf::header::ET_CORE);
    assert_eq!(elf.header.e_machine, goblin::elf::header::EM_X86_64);
    assert_eq!((elf.header.e_phnum, elf.header.e_phoff), (5, 64));
    let ph = &elf.program_headers;
    let note = &ph[0];
    assert_eq!(note.p_type, PT_NOTE);
    assert_eq!((note.p_offset, note.p_align, note.p_paddr), (4096, 4, 0));
    assert_eq!(note.p_filesz, v.notes_bytes().len() as u64);
    assert!(
        file[64 + 5 * 56..4096].iter().all(|&b| b == 0),
        "header padding"
    );
    assert!(
        file[4096 + note.p_filesz as usize..8192]
            .iter()
            .all(|&b| b == 0),
        "notes padding"
    );

    for (i, p) in ph[1..].iter().enumerate() {
        let (s, e) = LOADS[i];
        assert_eq!(p.p_type, PT_LOAD);
        assert_eq!(
            (p.p_offset, p.p_paddr, p.p_vaddr),
            (FILE_OFFSETS[i], s, PAGE_OFFSET + s)
        );
        assert_eq!((p.p_filesz, p.p_memsz, p.p_flags), (e - s, e - s, 7));
        // The whole page-rounded chunk is old memory, padding included.
        let (start, end) = (s & !0xfff, (e + 0xfff) & !0xfff);
        let want = mem_bytes(&mem, start, (end - start) as usize);
        let at = (p.p_offset - (s - start)) as usize;
        assert!(file[at..at + want.len()] == want[..], "PT_LOAD {i} data");
    }
    let last = &ph[4];
    let at = (last.p_offset + (MARKER_PHYS - last.p_paddr)) as usize;
    assert_eq!(&file[at..at + MARKER.len()], MARKER);

    // The notes: CPU 1's empty buffer is gone, CPU 0's and VMCOREINFO stay.
    let notes_seg = &file[4096..4096 + note.p_filesz as usize];
    assert_eq!(notes_seg, v.notes_bytes());
    assert_eq!(notes_seg.len(), 356 + 12 + 12 + TEXT.len().div_ceil(4) * 4);
    let got: Vec<_> = elf
        .iter_note_headers(&file)
        .unwrap()
        .map(|n| n.unwrap())
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].name, got[0].n_type), ("CORE", 1));
    assert_eq!(
        (got[1].name, got[1].n_type, got[1].desc),
        ("VMCOREINFO", 0, TEXT.as_bytes())
    );
    assert_eq!(crate::parse_prstatus(got[0].desc), Some((1, regs())));
    assert_eq!(v.prstatus(), Some((1, regs())));
    assert_eq!(v.vmcoreinfo(), Some(TEXT));
}

#[test]
fn read_at_eof_and_short_reads() {
    let mem = first_kernel();
    let v = Vmcore::from_old_memory(ELFCOREHDR, &mem).unwrap();
    let mut buf = [0u8; 64];
    for off in [FILE_SIZE, FILE_SIZE + 1, u64::MAX] {
        assert_eq!(v.read_at(off, &mut buf, &mem), Ok(0));
    }
    assert_eq!(v.read_at(FILE_SIZE - 1, &mut buf, &mem), Ok(1));
    assert_eq!(buf[0], mem.byte(0x1ff_ffff));
    assert_eq!(v.read_at(0, &mut [], &mem), Ok(0));
}

#[test]
fn read_at_one_memory_read_per_chunk() {
    let mem = first_kernel();
    let v = Vmcore::from_old_memory(ELFCOREHDR, &mem).unwrap();
    let mut big = std::vec![0u8; 8 << 20];
    mem.reads.set(0);
    assert_eq!(v.read_at(FILE_OFFSETS[3], &mut big, &mem), Ok(8 << 20));
    assert_eq!(mem.reads.get(), 1);
    // Across the boundary of chunks 3 and 4: two reads.
    mem.reads.set(0);
    let mut buf = [0u8; 20];
    assert_eq!(v.read_at(FILE_OFFSETS[3] - 10, &mut buf, &mem), Ok(20));
    assert_eq!(mem.reads.get(), 2);
    assert_eq!(buf[..10], mem_bytes(&mem, 0xff_fff6, 10)[..]);
    assert_eq!(buf[10..], mem_bytes(&mem, 0x180_0000, 10)[..]);
    // Header and notes need no memory at all.
    mem.reads.set(0);
    assert_eq!(v.read_at(0, &mut buf, &mem), Ok(20));
    assert_eq!(v.read_at(4096, &mut buf, &mem), Ok(20));
    assert_eq!(mem.reads.get(), 0);
}

#[test]
fn unreadable_memory_is_a_short_read_then_eio() {
    let mut mem = first_kernel();
    mem.holes.push((0x190_0000, 0x190_1000));
    let v = Vmcore::from_old_memory(ELFCOREHDR, &mem).unwrap();
    let at = FILE_OFFSETS[3] + 0x10_0000;
    let mut buf = [0u8; 4096];
    assert_eq!(v.read_at(at - 10, &mut buf, &mem), Ok(10));
    assert_eq!(buf[..10], mem_bytes(&mem, 0x190_0000 - 10, 10)[..]);
    // A large read stops at the first unreadable page.
    let mut big = std::vec![0u8; 1 << 20];
    assert_eq!(v.read_at(at - 0x3456, &mut big, &mem), Ok(0x3456));
    assert_eq!(
        big[..0x3456],
        mem_bytes(&mem, 0x190_0000 - 0x3456, 0x3456)[..]
    );
    let e = v.read_at(at, &mut buf, &mem).unwrap_err();
    assert_eq!(
        e,
        VmcoreError::Unreadable {
            phys: 0x190_0000,
            len: 4096
        }
    );
    assert_eq!(e.errno(), abi::Errno::EIO);
    assert_eq!(e.to_string(), "cannot read old memory 0x1900000+0x1000");
}

/// Program header `i` of a header built by build_elf_headers.
fn phdr_at(i: usize) -> usize {
    64 + i * 56
}

/// Append a program header of type `p_type` and bump e_phnum.
fn push_phdr(hdr: &mut Vec<u8>, p: crate::elf::Phdr) {
    let at = hdr.len();
    hdr.resize(at + 56, 0);
    p.write(hdr, at);
    let n = u16::from_le_bytes([hdr[56], hdr[57]]) + 1;
    hdr[56..58].copy_from_slice(&n.to_le_bytes());
}

#[test]
fn other_phdrs_dropped_and_overrunning_note_dropped() {
    let mut cpu0 = [0u8; CRASH_NOTE_BYTES];
    write_prstatus_note(&mut cpu0, &regs(), 3);
    // The note segment claims 300 bytes, the note inside takes 356: dropped.
    let mut hdr = build_elf_headers(
        &[(0x10_0000, 0x20_0000)],
        &[],
        &[NoteRange {
            phys: CPU0_NOTE,
            size: 300,
        }],
        0,
    );
    push_phdr(
        &mut hdr,
        crate::elf::Phdr {
            p_type: 0x6474_e551,
            p_offset: 0x55,
            ..Default::default()
        },
    );
    // Move the program headers to e_phoff 128: the output still has 64.
    hdr.splice(64..64, [0xcc; 64]);
    hdr[32..40].copy_from_slice(&128u64.to_le_bytes());
    let mut mem = FakeMem::new(0x100_0000);
    mem.put(CPU0_NOTE, &cpu0);
    mem.put(0x80_0000, &hdr);
    let v = Vmcore::from_old_memory(0x80_0000, &mem).unwrap();
    assert_eq!(
        (v.loads(), v.notes_bytes().len(), v.prstatus()),
        (1, 0, None)
    );
    assert_eq!(v.vmcoreinfo(), None);
    let file = read_all(&v, &mem);
    assert_eq!(file.len(), 4096 + 0x10_0000, "no notes: no notes page");
    let elf = Elf::parse(&file).unwrap();
    assert_eq!((elf.header.e_phnum, elf.header.e_phoff), (2, 64));
    let ph = &elf.program_headers;
    assert_eq!(
        (ph[0].p_type, ph[0].p_offset, ph[0].p_filesz),
        (PT_NOTE, 4096, 0)
    );
    assert_eq!((ph[1].p_type, ph[1].p_offset), (PT_LOAD, 4096));
}

/// Parse a small valid header after `edit`.
fn parse_with(edit: impl FnOnce(&mut Vec<u8>)) -> Result<Vmcore, VmcoreError> {
    let notes = [NoteRange {
        phys: CPU0_NOTE,
        size: CRASH_NOTE_BYTES as u64,
    }];
    let mut hdr = build_elf_headers(&[(0x10_0000, 0x20_0000)], &[], &notes, 0);
    edit(&mut hdr);
    let mut mem = FakeMem::new(0x100_0000);
    mem.put(CPU0_NOTE, &[0u8; CRASH_NOTE_BYTES]);
    mem.put(0x80_0000, &hdr);
    Vmcore::from_old_memory(0x80_0000, &mem)
}

fn set(hdr: &mut [u8], off: usize, v: &[u8]) {
    hdr[off..off + v.len()].copy_from_slice(v);
}

/// A byte patch: (offset, bytes).
type Patch = (usize, Vec<u8>);

/// The `n` low bytes of `v`, little endian.
fn le(v: u64, n: usize) -> Vec<u8> {
    v.to_le_bytes()[..n].to_vec()
}

#[test]
fn malformed_headers() {
    use VmcoreError::*;
    assert!(parse_with(|_| ()).is_ok());
    let (note, load) = (phdr_at(0), phdr_at(1));
    // (expected error, byte patches (offset, bytes) to the valid header)
    let cases: Vec<(VmcoreError, Vec<Patch>)> = std::vec![
        (BadMagic, std::vec![(1, b"X".to_vec())]),
        (NotElf64 { class: 1 }, std::vec![(4, le(1, 1))]),
        (NotLittleEndian { data: 2 }, std::vec![(5, le(2, 1))]),
        (BadVersion, std::vec![(6, le(0, 1))]),
        (BadVersion, std::vec![(20, le(2, 4))]),
        (NotCore { e_type: 2 }, std::vec![(16, le(2, 2))]),
        (WrongMachine { e_machine: 3 }, std::vec![(18, le(3, 2))]),
        (BadEhsize(52), std::vec![(52, le(52, 2))]),
        (BadPhentsize(32), std::vec![(54, le(32, 2))]),
        (BadPhoff(0), std::vec![(32, le(0, 8))]),
        (NoPhdrs, std::vec![(56, le(0, 2))]),
        (
            TooManyPhdrs {
                phnum: 0xffff,
                max: MAX_PHNUM
            },
            std::vec![(56, le(0xffff, 2))]
        ),
        (
            TooManyPhdrs {
                phnum: 18724,
                max: MAX_PHNUM
            },
            std::vec![(56, le(18724, 2))]
        ),
        (
            Unreadable {
                phys: 0x1080_0000,
                len: 112
            },
            std::vec![(32, le(0x1000_0000, 8))]
        ),
        (
            Overflow { what: "e_phoff" },
            std::vec![(32, le(u64::MAX, 8))]
        ),
        (NoLoad, std::vec![(load, le(0, 4))]),
        (
            NoteTooBig {
                phys: CPU0_NOTE,
                size: 2 << 20,
                max: 1 << 20
            },
            std::vec![(note + 40, le(2 << 20, 8))]
        ),
        (
            Unreadable {
                phys: 0x500_0000,
                len: 368
            },
            std::vec![(note + 8, le(0x500_0000, 8))]
        ),
        (
            Overflow {
                what: "PT_LOAD end"
            },
            std::vec![(load + 8, le(u64::MAX - 10, 8))]
        ),
        (
            Overflow {
                what: "PT_LOAD end"
            },
            std::vec![(load + 8, le(u64::MAX - 0xfff, 8)), (load + 40, le(1, 8))],
        ),
    ];
    for (want, patches) in cases {
        let e = parse_with(|h| {
            for (off, bytes) in &patches {
                set(h, *off, bytes);
            }
        })
        .map(|_| ())
        .unwrap_err();
        assert_eq!(e, want);
        let errno = if matches!(e, Unreadable { .. }) {
            abi::Errno::EIO
        } else {
            abi::Errno::EINVAL
        };
        assert_eq!(e.errno(), errno, "{e}");
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn unreadable_or_overflowing_elfcorehdr() {
    let mem = FakeMem::new(0x100_0000);
    let e = Vmcore::from_old_memory(0x500_0000, &mem)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        e,
        VmcoreError::Unreadable {
            phys: 0x500_0000,
            len: 64
        }
    );
    let e = Vmcore::from_old_memory(u64::MAX - 8, &mem)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e, VmcoreError::Overflow { what: "elfcorehdr" });
    assert_eq!(e.to_string(), "ELF core header: elfcorehdr overflows");
}

#[test]
fn merged_notes_limit() {
    // 17 PT_NOTEs of 1 MiB, each one full note: 17 MiB of notes.
    let mut seg = std::vec![0u8; 1 << 20];
    crate::write_note(&mut seg, "CORE", 1, &std::vec![7u8; (1 << 20) - 20 - 12]).unwrap();
    seg[4..8].copy_from_slice(&((1u32 << 20) - 20).to_le_bytes());
    let notes = [NoteRange {
        phys: 0x10_0000,
        size: 1 << 20,
    }; 17];
    let hdr = build_elf_headers(&[(0x10_0000, 0x20_0000)], &[], &notes, 0);
    let mut mem = FakeMem::new(0x100_0000);
    mem.put(0x10_0000, &seg);
    mem.put(0x80_0000, &hdr);
    let e = Vmcore::from_old_memory(0x80_0000, &mem)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        e,
        VmcoreError::NotesTooBig {
            size: 17 << 20,
            max: MAX_NOTES_BYTES
        }
    );
    // 16 of them fit.
    let hdr = build_elf_headers(&[(0x10_0000, 0x20_0000)], &[], &notes[..16], 0);
    mem.put(0x80_0000, &hdr);
    let v = Vmcore::from_old_memory(0x80_0000, &mem).unwrap();
    assert_eq!(v.notes_bytes().len(), 16 << 20);
    assert_eq!(v.size(), 4096 + (16 << 20) + 0x10_0000);
}

#[test]
fn empty_and_unaligned_loads_follow_linux_layout() {
    let mut hdr = build_elf_headers(&[(0x10_0000, 0x10_1000)], &[], &[], 0);
    for (phys, size) in [(0x20_0000u64, 0u64), (0x30_0010, 0), (0x40_0000, 0x1000)] {
        let p = crate::elf::Phdr {
            p_type: 1,
            p_offset: phys,
            p_paddr: phys,
            p_filesz: size,
            p_memsz: size,
            ..Default::default()
        };
        push_phdr(&mut hdr, p);
    }
    let mut mem = FakeMem::new(0x100_0000);
    mem.put(0x80_0000, &hdr);
    let v = Vmcore::from_old_memory(0x80_0000, &mem).unwrap();
    // No notes: data starts right after the header page. An empty load at a
    // page boundary takes no room; one inside a page takes that page.
    assert_eq!((v.loads(), v.size(), v.ram_bytes()), (4, 0x4000, 0x2000));
    let file = read_all(&v, &mem);
    let elf = Elf::parse(&file).unwrap();
    let offs: Vec<u64> = elf.program_headers[1..]
        .iter()
        .map(|p| p.p_offset)
        .collect();
    assert_eq!(offs, [0x1000, 0x2000, 0x2010, 0x3000]);
    assert_eq!(file[0x2000..0x3000], mem_bytes(&mem, 0x30_0000, 0x1000)[..]);
    assert_eq!(file[0x3000..], mem_bytes(&mem, 0x40_0000, 0x1000)[..]);
}

#[test]
fn kernel_map_load_is_served_and_counted_once() {
    let mut mem = first_kernel();
    let ram = [(0x10_0000, 0x200_0000)];
    let kernel = [crate::KernelMap {
        vaddr: 0xffff_ffff_8020_0000,
        paddr: 0x1a3_4000,
        len: 0x2000,
    }];
    let notes = [NoteRange {
        phys: CPU0_NOTE,
        size: CRASH_NOTE_BYTES as u64,
    }];
    let hdr = crate::build_elf_headers_with_kernel(&ram, &[], &notes, PAGE_OFFSET, &kernel);
    mem.put(ELFCOREHDR, &hdr);
    let v = Vmcore::from_old_memory(ELFCOREHDR, &mem).unwrap();
    assert_eq!(v.loads(), 2);
    // The kernel stretch repeats RAM the RAM PT_LOAD covers: counted once.
    assert_eq!(v.ram_bytes(), 0x200_0000 - 0x10_0000);
    let ranges: Vec<(u64, u64)> = v.phys_ranges().collect();
    assert_eq!(ranges, [(0x1a3_4000, 0x1a3_6000), (0x10_0000, 0x200_0000)]);
    let file = read_all(&v, &mem);
    let elf = Elf::parse(&file).unwrap();
    let k = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == PT_LOAD && p.p_vaddr == 0xffff_ffff_8020_0000)
        .unwrap();
    // The marker at 0x1a3_4567 is readable through the kernel's virtual mapping.
    let off = (k.p_offset + (MARKER_PHYS - k.p_paddr)) as usize;
    assert_eq!(&file[off..off + MARKER.len()], MARKER);
}
