use super::*;
use goblin::elf::program_header::{PT_LOAD, PT_NOTE};
use goblin::elf::Elf;
use std::vec;

const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;

#[test]
fn qemu_512m_map() {
    let ram = [(0x100000, 0x1ffe_0000), (0, 0x9fc00)];
    let exclude = [(0x1800_0000, 0x1c00_0000), (0, 0x100000)];
    let notes = [
        NoteRange {
            phys: 0x1f00_0000,
            size: 368,
        },
        NoteRange {
            phys: 0x1f00_0170,
            size: 368,
        },
        NoteRange {
            phys: 0x1f10_0000,
            size: 4096,
        },
    ];
    let bytes = build_elf_headers(&ram, &exclude, &notes, PAGE_OFFSET);
    assert_eq!(bytes.len(), 64 + 5 * 56);
    let elf = Elf::parse(&bytes).unwrap();
    let h = &elf.header;
    assert_eq!(h.e_type, goblin::elf::header::ET_CORE);
    assert_eq!(h.e_machine, goblin::elf::header::EM_X86_64);
    assert_eq!(
        (h.e_phoff, h.e_phentsize, h.e_phnum, h.e_ehsize),
        (64, 56, 5, 64)
    );
    assert_eq!(h.e_version, 1);
    assert!(elf.is_64 && elf.little_endian);
    let ph = &elf.program_headers;
    for (p, n) in ph.iter().zip(&notes) {
        assert_eq!(p.p_type, PT_NOTE);
        assert_eq!((p.p_offset, p.p_paddr, p.p_vaddr), (n.phys, n.phys, 0));
        assert_eq!((p.p_filesz, p.p_memsz), (n.size, n.size));
    }
    let loads: vec::Vec<_> = ph.iter().filter(|p| p.p_type == PT_LOAD).collect();
    assert_eq!(loads.len(), 2);
    let want = [(0x100000u64, 0x1800_0000u64), (0x1c00_0000, 0x1ffe_0000)];
    for (p, (s, e)) in loads.iter().zip(want) {
        assert_eq!((p.p_offset, p.p_paddr, p.p_vaddr), (s, s, PAGE_OFFSET + s));
        assert_eq!(
            (p.p_filesz, p.p_memsz, p.p_align, p.p_flags),
            (e - s, e - s, 0, 7)
        );
    }
}

#[test]
fn usable_ranges_sorts_merges_and_cuts() {
    let ram = [
        (0x5000, 0x8000),
        (0x1000, 0x3000),
        (0x2000, 0x4000),
        (0x4000, 0x4800),
        (9, 9),
    ];
    assert_eq!(
        usable_ranges(&ram, &[]),
        [(0x1000, 0x4800), (0x5000, 0x8000)]
    );
    // An exclude inside a range, one over a gap, one empty, overlapping ones.
    let ex = [
        (0x2000, 0x2001),
        (0x4400, 0x5800),
        (0x7000, 0x7000),
        (0x1000, 0x1800),
        (0x1700, 0x1900),
    ];
    assert_eq!(
        usable_ranges(&ram, &ex),
        [(0x1900, 0x2000), (0x2001, 0x4400), (0x5800, 0x8000)]
    );
    assert!(usable_ranges(&ram, &[(0, u64::MAX)]).is_empty());
    assert_eq!(
        usable_ranges(&[(0, u64::MAX)], &[(1, 2)]),
        [(0, 1), (2, u64::MAX)]
    );
}

#[test]
fn header_with_no_ram_and_phnum_cap() {
    let bytes = build_elf_headers(&[], &[], &[], 0);
    assert_eq!(bytes.len(), 64);
    assert_eq!(u16::from_le_bytes([bytes[56], bytes[57]]), 0);
    let ram: vec::Vec<(u64, u64)> = (0..20_000u64)
        .map(|i| (i * 0x2000, i * 0x2000 + 0x1000))
        .collect();
    let bytes = build_elf_headers(&ram, &[], &[NoteRange { phys: 0, size: 1 }], 0);
    assert_eq!(bytes.len(), 64 + MAX_PHNUM * 56);
    assert!(bytes.len() <= 1 << 20);
    assert_eq!(
        usize::from(u16::from_le_bytes([bytes[56], bytes[57]])),
        MAX_PHNUM
    );
}

#[test]
fn kernel_map_loads_come_after_notes_with_link_addresses() {
    let ram = [(0x100000, 0x1000_0000)];
    let notes = [NoteRange {
        phys: 0x300000,
        size: 368,
    }];
    let kernel = [
        KernelMap {
            vaddr: 0xffff_ffff_8020_0000,
            paddr: 0x200000,
            len: 0x10_0000,
        },
        // An empty stretch is dropped.
        KernelMap {
            vaddr: 0xffff_ffff_8030_0000,
            paddr: 0x900000,
            len: 0,
        },
        KernelMap {
            vaddr: 0xffff_ffff_8030_0000,
            paddr: 0x800000,
            len: 0x2000,
        },
    ];
    let bytes = build_elf_headers_with_kernel(&ram, &[(0, 0x100000)], &notes, PAGE_OFFSET, &kernel);
    let elf = Elf::parse(&bytes).unwrap();
    let ph = &elf.program_headers;
    let kinds: vec::Vec<_> = ph.iter().map(|p| p.p_type).collect();
    assert_eq!(kinds, [PT_NOTE, PT_LOAD, PT_LOAD, PT_LOAD]);
    assert_eq!(
        (ph[1].p_vaddr, ph[1].p_paddr, ph[1].p_offset, ph[1].p_memsz),
        (0xffff_ffff_8020_0000, 0x200000, 0x200000, 0x10_0000)
    );
    assert_eq!(
        (ph[2].p_vaddr, ph[2].p_paddr),
        (0xffff_ffff_8030_0000, 0x800000)
    );
    assert_eq!(
        (ph[3].p_paddr, ph[3].p_vaddr),
        (0x100000, PAGE_OFFSET + 0x100000)
    );
    // Without a kernel map it is build_elf_headers.
    assert_eq!(
        build_elf_headers_with_kernel(&ram, &[], &notes, PAGE_OFFSET, &[]),
        build_elf_headers(&ram, &[], &notes, PAGE_OFFSET)
    );
}
