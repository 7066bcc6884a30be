use alloc::vec;
use alloc::vec::Vec;

use abi::Errno;

use crate::*;

const LIMITS: UserLimits = KEXOS_USER;

/// One program header: (p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz).
type Ph = (u32, u32, u64, u64, u64, u64);

/// An ELF64 x86-64 ET_EXEC with these program headers right after the header, then
/// `body` zero bytes.
fn elf(entry: u64, phdrs: &[Ph], body: usize) -> Vec<u8> {
    let mut f = vec![0u8; EHDR_SIZE];
    f[..4].copy_from_slice(b"\x7fELF");
    (f[4], f[5], f[6]) = (ELFCLASS64, ELFDATA2LSB, EV_CURRENT);
    f[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
    f[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&entry.to_le_bytes());
    f[32..40].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes());
    f[52..54].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    f[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
    for &(ty, flags, off, va, filesz, memsz) in phdrs {
        for w in [u64::from(ty) | u64::from(flags) << 32, off, va, va, filesz, memsz, 0x1000] {
            f.extend_from_slice(&w.to_le_bytes());
        }
    }
    f.resize(f.len() + body, 0);
    f
}

const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// A program like kexos's user binaries: text, then data + bss.
fn program() -> Vec<u8> {
    elf(0x40_1000, &[(PT_LOAD, PF_R | PF_X, 0x1000, 0x40_1000, 0x800, 0x800), (PT_LOAD, PF_R | PF_W, 0x2000, 0x40_3000, 0x100, 0x2345)], 0x3000)
}

#[test]
fn a_static_program_is_planned_as_its_program_headers_say() {
    let p = exec_plan(&program(), &LIMITS).unwrap();
    assert_eq!(p.entry, 0x40_1000);
    assert_eq!(p.brk_start, 0x40_6000);
    assert_eq!(p.segments.len(), 2);
    let (text, data) = (p.segments[0], p.segments[1]);
    assert_eq!((text.write, text.exec, text.pages()), (false, true, (0x40_1000, 0x40_2000)));
    assert_eq!((data.write, data.exec, data.pages()), (true, false, (0x40_3000, 0x40_6000)));
    assert_eq!(data.data(&program()).map(<[u8]>::len), Some(0x100));
}

#[test]
fn every_header_check_has_its_error() {
    let good = program();
    let with = |at: usize, bytes: &[u8]| {
        let mut f = good.clone();
        f[at..at + bytes.len()].copy_from_slice(bytes);
        exec_plan(&f, &LIMITS).unwrap_err()
    };
    let h = |e| ExecError::Header(e);
    assert_eq!(with(0, b"\x7fELG"), h(HeaderError::NotElf));
    assert_eq!(exec_plan(&good[..40], &LIMITS), Err(h(HeaderError::TooShort { len: 40 })));
    assert_eq!(with(4, &[1]), h(HeaderError::NotElf64 { class: 1 }));
    assert_eq!(with(5, &[2]), h(HeaderError::NotLittleEndian { data: 2 }));
    assert_eq!(with(6, &[0]), h(HeaderError::BadVersion { version: 0 }));
    assert_eq!(with(20, &[2]), h(HeaderError::BadVersion { version: 2 }));
    assert_eq!(with(18, &40u16.to_le_bytes()), h(HeaderError::NotX86_64 { machine: 40 }));
    assert_eq!(with(16, &ET_DYN.to_le_bytes()), h(HeaderError::NotExecutable { e_type: ET_DYN }));
    let bad_ph = h(HeaderError::BadProgramHeaders { phoff: 64, phnum: 2, phentsize: 32 });
    assert_eq!(with(54, &32u16.to_le_bytes()), bad_ph);
    assert_eq!(
        with(32, &0xffff_ffffu64.to_le_bytes()),
        h(HeaderError::BadProgramHeaders { phoff: 0xffff_ffff, phnum: 2, phentsize: 56 })
    );
    for e in [h(HeaderError::NotElf), bad_ph] {
        assert_eq!(e.errno(), Errno::ENOEXEC);
    }
}

#[test]
fn segments_must_lie_in_the_file_and_in_user_space() {
    let one = |ph: Ph| exec_plan(&elf(0x40_1000, &[ph], 0x2000), &LIMITS).unwrap_err();
    assert_eq!(
        one((PT_LOAD, PF_R, 0x1000, 0x40_1000, 0x2000, 0x1000)),
        ExecError::BadFileData { index: 0, offset: 0x1000, filesz: 0x2000, memsz: 0x1000 }
    );
    assert_eq!(
        one((PT_LOAD, PF_R, 0x1000, 0x40_1000, 0x5000, 0x5000)),
        ExecError::BadFileData { index: 0, offset: 0x1000, filesz: 0x5000, memsz: 0x5000 }
    );
    assert_eq!(
        one((PT_LOAD, PF_R, u64::MAX, 0x40_1000, 2, 2)),
        ExecError::BadFileData { index: 0, offset: u64::MAX, filesz: 2, memsz: 2 }
    );
    assert_eq!(one((PT_LOAD, PF_R, 0, 0, 0x10, 0x10)), ExecError::OutsideUserSpace { index: 0, vaddr: 0, memsz: 0x10 });
    let top = LIMITS.limit() - 0x1000;
    assert_eq!(one((PT_LOAD, PF_R, 0, top, 0x10, 0x2000)), ExecError::OutsideUserSpace { index: 0, vaddr: top, memsz: 0x2000 });
    assert_eq!(
        one((PT_LOAD, PF_R, 0, 0x40_1000, 0, u64::MAX)),
        ExecError::OutsideUserSpace { index: 0, vaddr: 0x40_1000, memsz: u64::MAX }
    );
}

#[test]
fn too_much_memory_is_enomem_and_an_interpreter_enoexec() {
    let huge = elf(0x40_1000, &[(PT_LOAD, PF_R | PF_X, 0, 0x40_0000, 0x10, 0x3000_0000), (PT_LOAD, PF_R | PF_W, 0, 0x1000_0000_0000, 0, 0x3000_0000)], 0x10);
    let e = exec_plan(&huge, &LIMITS).unwrap_err();
    assert_eq!((e, e.errno()), (ExecError::TooLarge { max: 1 << 30 }, Errno::ENOMEM));
    let dynamic = elf(0x40_1000, &[(PT_INTERP, PF_R, 0x100, 0, 0x10, 0x10), (PT_LOAD, PF_R | PF_X, 0, 0x40_0000, 0x10, 0x2000)], 0x200);
    let e = exec_plan(&dynamic, &LIMITS).unwrap_err();
    assert_eq!((e, e.errno()), (ExecError::HasInterpreter { index: 0 }, Errno::ENOEXEC));
}

/// max_total counts the pages the kernel maps, not p_memsz: 300 two-byte PT_LOADs that
/// each cross a page boundary map 600 pages.
#[test]
fn the_memory_limit_counts_pages() {
    let ph: Vec<Ph> = (0..300).map(|i| (PT_LOAD, PF_R, 0, 0x40_0fff + i * 0x2000, 0, 2)).collect();
    let small = UserLimits::new(0x1000, 0x7000_0000_0000, 599 * 4096);
    assert_eq!(exec_plan(&elf(0x40_0fff, &ph, 0x10), &small), Err(ExecError::TooLarge { max: 599 * 4096 }));
    let enough = UserLimits::new(0x1000, 0x7000_0000_0000, 600 * 4096);
    let plan = exec_plan(&elf(0x40_0fff, &ph, 0x10), &enough).unwrap();
    assert_eq!(plan.segments[0].pages(), (0x40_0000, 0x40_2000));
    // memsz 0 at an address that is not page aligned: the page the kernel maps.
    let s = ExecSegment { memsz: 0, vaddr: 0x40_0800, ..plan.segments[0] };
    assert_eq!(s.pages(), (0x40_0000, 0x40_1000));
    assert_eq!(ExecSegment { offset: u64::MAX, filesz: 2, ..s }.data(&[0; 8]), None);
}

#[test]
fn the_entry_must_be_inside_the_image() {
    let ph = [(PT_LOAD, PF_R | PF_X, 0, 0x40_0000, 0x10, 0x2000)];
    assert_eq!(exec_plan(&elf(0x40_2000, &ph, 0x10), &LIMITS), Err(ExecError::EntryOutside { entry: 0x40_2000 }));
    assert_eq!(exec_plan(&elf(0x10, &ph, 0x10), &LIMITS), Err(ExecError::EntryOutside { entry: 0x10 }));
    assert!(exec_plan(&elf(0x40_1fff, &ph, 0x10), &LIMITS).is_ok());
    let empty = [(PT_LOAD, PF_R, 0, 0x40_0000, 0, 0), (4, PF_R, 0, 0, 0, 0)];
    assert_eq!(exec_plan(&elf(0x40_0000, &empty, 0x10), &LIMITS), Err(ExecError::NoLoadSegment));
}

#[test]
fn every_error_says_what_is_wrong() {
    let e = ExecError::HasInterpreter { index: 3 };
    assert_eq!(alloc::format!("{e}"), "program header 3 is PT_INTERP: a dynamically linked program (kexos runs static programs only)");
    let e = ExecError::Header(HeaderError::NotExecutable { e_type: ET_DYN });
    assert_eq!(alloc::format!("{e}"), "ET_DYN (position-independent) images are not supported, need ET_EXEC");
}
