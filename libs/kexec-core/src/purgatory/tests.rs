//! Purgatory loading: layout, entry and every relocation type, symbol
//! get/set rules, rejections and malformed objects.

use super::*;
use crate::assemble::assemble;
use crate::testutil::purgatory;
use crate::{KimageKind, PhysRange};
use abi::Errno;
use purgatory_abi::{EntryRegs, ENTRY64_REGS, STACK_END_SYMBOL};

const MIB: u64 = 1 << 20;
/// Linux's pbuf in bzImage64_load: anywhere above 0x3000, top down.
fn place() -> KexecBuf<'static> {
    KexecBuf::new("purgatory", SegmentBuf::Borrowed(&[]), 0)
        .min(0x3000)
        .top_down(true)
}

fn view(start: u64, end: u64) -> MemoryView {
    MemoryView::new([PhysRange::new(start, end)], &[])
}

fn u32_of(k: &Kimage<'_>, name: &str) -> u32 {
    u32::from_le_bytes(k.purgatory_get_symbol(name, 4).unwrap().try_into().unwrap())
}
fn u64_of(k: &Kimage<'_>, name: &str) -> u64 {
    u64::from_le_bytes(k.purgatory_get_symbol(name, 8).unwrap().try_into().unwrap())
}

#[test]
fn layout_entry_and_each_relocation_type() {
    let obj = purgatory();
    let mut k = Kimage::new(KimageKind::Normal);
    let start = kexec_load_purgatory(&mut k, &view(MIB, 64 * MIB), &obj, place()).unwrap();
    let seg = &k.segments()[0];
    assert_eq!(seg.label, "purgatory");
    assert!(!seg.checksum);
    // .bss is 4 KiB aligned, so the segment is too; bss is memsz only.
    assert_eq!(seg.mem.0 % 4096, 0);
    assert_eq!(seg.memsz, seg.bufsz().div_ceil(4096) * 4096 + 4096);
    assert!(
        seg.mem.0 + seg.memsz <= 64 * MIB && seg.mem.0 >= 62 * MIB,
        "top down: {}",
        seg.mem
    );
    // e_entry 0 = start of .text, the first section packed.
    assert_eq!(start, seg.mem);
    assert_eq!(k.start, start);

    let verify = k.purgatory_symbol_addr("verify").unwrap().0;
    assert_eq!(verify, start.0 + 18, "lea (7) + call (5) + jmp (6)");
    let addr = |n| k.purgatory_symbol_addr(n).unwrap().0;
    assert_eq!(u64_of(&k, "r64"), verify + 5, "R_X86_64_64");
    assert_eq!(u64::from(u32_of(&k, "r32")), verify + 3, "R_X86_64_32");
    assert_eq!(
        i64::from(u32_of(&k, "r32s") as i32),
        (verify - 8) as i64,
        "R_X86_64_32S"
    );
    assert_eq!(
        u32_of(&k, "rpc32") as i32 as i64,
        verify as i64 - addr("rpc32") as i64,
        "PC32"
    );
    assert_eq!(
        u32_of(&k, "rplt") as i32 as i64,
        verify as i64 - 4 - addr("rplt") as i64,
        "PLT32"
    );
    assert_eq!(u32_of(&k, "rnone"), 0x1122_3344, "R_X86_64_NONE");
    let bss = addr("bss_var");
    assert_eq!(u64_of(&k, "rbss"), bss, "64 against .bss");
    assert_eq!(bss, seg.mem.0 + seg.bufsz().div_ceil(4096) * 4096);
    assert_eq!(addr(STACK_END_SYMBOL), bss + 4096);
    // The code's own PC32 (lea stack_end(%rip)) points at stack_end.
    let code = &seg.buf.as_slice()[..7];
    let disp = i32::from_le_bytes(code[3..7].try_into().unwrap()) as i64;
    assert_eq!((start.0 + 7) as i64 + disp, addr(STACK_END_SYMBOL) as i64);
}

#[test]
fn symbols_get_and_set_follow_linux_rules() {
    let obj = purgatory();
    let mut k = Kimage::new(KimageKind::Normal);
    kexec_load_purgatory(&mut k, &view(MIB, 64 * MIB), &obj, place()).unwrap();
    let regs = EntryRegs {
        rip: 0x1234_5678,
        rsi: 0x9000,
        ..Default::default()
    };
    k.purgatory_set_symbol(ENTRY64_REGS.name, &regs.to_bytes())
        .unwrap();
    let got = EntryRegs::from_bytes(&k.purgatory_get_symbol_array(ENTRY64_REGS.name).unwrap());
    assert_eq!(got, regs);
    let err = |r: Result<(), KexecError>| r.unwrap_err();
    let e = err(k.purgatory_set_symbol(ENTRY64_REGS.name, &[0; 8]));
    assert!(matches!(
        e,
        KexecError::Purgatory(PurgatoryError::SymbolSize {
            st_size,
            len: 8,
            ..
        }) if st_size == ENTRY64_REGS.size as u64
    ));
    assert_eq!(e.errno(), Errno::EINVAL);
    let e = err(k.purgatory_set_symbol("bss_var", &[0; 8]));
    assert!(matches!(
        e,
        KexecError::Purgatory(PurgatoryError::SymbolInBss { .. })
    ));
    assert_eq!(e.errno(), Errno::EINVAL);
    // Local symbols are not visible; unknown names neither.
    assert_eq!(
        err(k.purgatory_set_symbol("stack", &[])).errno(),
        Errno::EINVAL
    );
    assert_eq!(
        err(k.purgatory_set_symbol("nope", &[])).errno(),
        Errno::EINVAL
    );
    let fresh = Kimage::new(KimageKind::Normal);
    assert_eq!(
        fresh.purgatory_symbol_addr("verify").unwrap_err().errno(),
        Errno::EINVAL
    );
}

fn load_err(src: &str, v: &MemoryView) -> KexecError {
    let obj = assemble("bad", src);
    let mut k = Kimage::new(KimageKind::Normal);
    let e = kexec_load_purgatory(&mut k, v, &obj, place()).unwrap_err();
    assert!(k.segments().is_empty(), "failed load leaves no segment");
    e
}

#[test]
fn rejections_are_enoexec_with_names() {
    let v = view(MIB, 64 * MIB);
    let e = load_err(".text\nf: call missing_fn\n", &v);
    assert_eq!(
        e,
        KexecError::Purgatory(PurgatoryError::UndefinedSymbol {
            name: "missing_fn".into()
        })
    );
    assert_eq!(e.errno(), Errno::ENOEXEC);
    let e = load_err(".text\nf: ret\n.reloc f, R_X86_64_GOTPCREL, f\n", &v);
    assert!(
        matches!(
            &e,
            KexecError::Purgatory(PurgatoryError::UnknownRelocation { r_type: 9, .. })
        ),
        "{e:?}"
    );
    assert_eq!(e.errno(), Errno::ENOEXEC);
    assert!(
        e.to_string().contains("unknown rela relocation: type 9"),
        "{e}"
    );
    let e = load_err(".text\nf: ret\n.data\n.quad f - .\n", &v);
    assert!(
        matches!(
            &e,
            KexecError::Purgatory(PurgatoryError::UnknownRelocation { r_type: 24, .. })
        ),
        "{e:?}"
    );
    let e = load_err(".text\nf: ret\n.comm cvar, 8, 8\n.data\n.quad cvar\n", &v);
    assert_eq!(
        e,
        KexecError::Purgatory(PurgatoryError::CommonSymbol {
            name: "cvar".into()
        })
    );
}

#[test]
fn thirty_two_bit_relocations_overflow_above_4g() {
    let v = view(5 << 30, 6 << 30);
    let e = load_err(".text\nf: ret\n.data\n.long f\n", &v);
    assert!(
        matches!(
            e,
            KexecError::Purgatory(PurgatoryError::Overflow { r_type: 10, .. })
        ),
        "{e:?}"
    );
    assert_eq!(e.errno(), Errno::ENOEXEC);
    let e = load_err(
        ".text\nf: ret\n.data\nx: .long 0\n.reloc x, R_X86_64_32S, f\n",
        &v,
    );
    assert!(
        matches!(
            e,
            KexecError::Purgatory(PurgatoryError::Overflow { r_type: 11, .. })
        ),
        "{e:?}"
    );
    // 64-bit and PC-relative relocations are fine up there.
    let obj = assemble(
        "high",
        ".text\nf: call g\n.globl g\ng: ret\n.data\n.quad g\n",
    );
    let mut k = Kimage::new(KimageKind::Normal);
    assert!(kexec_load_purgatory(&mut k, &v, &obj, place()).unwrap().0 >= 5 << 30);
}

#[test]
fn malformed_objects() {
    let v = view(MIB, 64 * MIB);
    let mut k = Kimage::new(KimageKind::Normal);
    let e = kexec_load_purgatory(&mut k, &v, &[], place()).unwrap_err();
    assert_eq!(e.errno(), Errno::EINVAL);
    let e = kexec_load_purgatory(&mut k, &v, b"\x7fELF garbage", place()).unwrap_err();
    assert_eq!(e.errno(), Errno::ENOEXEC);
    let mut obj = purgatory();
    obj[18] = 3; // e_machine = EM_386
    let e = kexec_load_purgatory(&mut k, &v, &obj, place()).unwrap_err();
    assert!(matches!(
        e,
        KexecError::Purgatory(PurgatoryError::NotRelocatable { e_machine: 3, .. })
    ));
    let mut obj = purgatory();
    obj[16] = 2; // e_type = ET_EXEC
    assert_eq!(
        kexec_load_purgatory(&mut k, &v, &obj, place())
            .unwrap_err()
            .errno(),
        Errno::ENOEXEC
    );
    // Truncated: section data past the end of the file.
    let obj = purgatory();
    for cut in [64, obj.len() / 2, obj.len() - 1] {
        let r = kexec_load_purgatory(&mut k, &v, &obj[..cut], place());
        assert!(r.is_err(), "cut at {cut} accepted");
    }
    assert!(k.segments().is_empty());
    // No room: EADDRNOTAVAIL from add_buffer.
    let e =
        kexec_load_purgatory(&mut k, &view(MIB, MIB + 4096), &purgatory(), place()).unwrap_err();
    assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
}
