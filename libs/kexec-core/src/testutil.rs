//! Test helpers: purgatory objects (assembled with [`crate::assemble`]) and boot_params reads.

use crate::assemble::assemble;

/// Which contract symbols a test purgatory defines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// Linux-style: no `FLAGS` (total digest mode), a global `stack_end`.
    Linux,
    /// Like kexos's purgatory/ object: every patchable symbol, `stack_end`
    /// local (rsp 0 keeps its own stack).
    Kexos,
    /// A kexos purgatory from before `REGION_PREFIXES` (per-region digests,
    /// no prefixes).
    KexosWithoutPrefixes,
}

/// A purgatory whose contract symbols (names, sizes) come from
/// purgatory_abi, plus relocation fixtures: r64/r32/r32s/rpc32/rplt/rnone/
/// rbss are relocated fields whose expected values the tests compute from
/// `verify` and `bss_var`. The `.text` layout is fixed (the tests count its
/// bytes): lea (7) + call (5) + jmp (6), then `verify`.
fn purgatory_source(style: Style) -> String {
    use core::fmt::Write as _;
    use purgatory_abi::{
        entry_regs_offset, ENTRY64_REGS, ENTRY_SYMBOL, FLAGS, PATCHABLE_SYMBOLS, REGION_CUTS, REGION_PREFIXES,
        SECOND_CPU, STACK_END_SYMBOL,
    };
    let (entry, regs, stack_end) = (ENTRY_SYMBOL, ENTRY64_REGS.name, STACK_END_SYMBOL);
    let rip = entry_regs_offset::RIP;
    let mut s = format!(
        "    .text
    .globl {entry}
{entry}:
    lea {stack_end}(%rip), %rsp
    call verify
    jmp *{regs}+{rip}(%rip)
    .globl verify
verify:
    ret

    .data
    .balign 8
"
    );
    for sym in PATCHABLE_SYMBOLS {
        // Linux's has none of kexos's extensions; the older kexos one no
        // prefixes, nor the cuts that came after them.
        let linux_lacks = [FLAGS, REGION_CUTS, SECOND_CPU].contains(&sym);
        let older_lacks = [REGION_PREFIXES, REGION_CUTS].contains(&sym);
        if (style == Style::Linux && linux_lacks) || (style == Style::KexosWithoutPrefixes && older_lacks) {
            continue;
        }
        sym.write_gnu_as(&mut s).unwrap();
    }
    s.push_str(RELOCATION_FIXTURES);
    if style == Style::Linux {
        writeln!(s, "    .globl {stack_end}").unwrap();
    }
    writeln!(s, "{stack_end}:").unwrap();
    s
}

/// The relocated fields and the `.bss` (4 KiB aligned: bss_var, a stack).
const RELOCATION_FIXTURES: &str = r#"    .balign 8
    .globl r64
    .size r64, 8
r64: .quad verify + 5
    .globl r32
    .size r32, 4
r32: .long 0
    .reloc r32, R_X86_64_32, verify + 3
    .globl r32s
    .size r32s, 4
r32s: .long 0
    .reloc r32s, R_X86_64_32S, verify - 8
    .globl rpc32
    .size rpc32, 4
rpc32: .long verify - .
    .globl rplt
    .size rplt, 4
rplt: .long 0
    .reloc rplt, R_X86_64_PLT32, verify - 4
    .globl rnone
    .size rnone, 4
rnone: .long 0x11223344
    .reloc rnone, R_X86_64_NONE, verify
    .globl rbss
    .size rbss, 8
rbss: .quad bss_var

    .bss
    .balign 4096
    .globl bss_var
    .size bss_var, 8
bss_var: .skip 8
stack: .skip 4096 - 8
"#;

/// The standard (Linux-style) test purgatory object.
pub(crate) fn purgatory() -> Vec<u8> {
    assemble("purgatory", &purgatory_source(Style::Linux))
}

/// The shape of kexos's purgatory/ object: every patchable symbol (so
/// digests are per region), no global `stack_end`.
pub(crate) fn kexos_style_purgatory() -> Vec<u8> {
    let src = purgatory_source(Style::Kexos);
    assert!(!src.contains(".globl stack_end"));
    assemble("kexos-purgatory", &src)
}

/// [`kexos_style_purgatory`] without `REGION_PREFIXES`.
pub(crate) fn kexos_style_purgatory_without_prefixes() -> Vec<u8> {
    assemble("kexos-purgatory-no-prefixes", &purgatory_source(Style::KexosWithoutPrefixes))
}

/// boot_params at `at` in `mem` as the next kernel reads it (setup_data followed).
pub(crate) fn read_boot_params(mem: &impl crate::PhysMem, at: crate::PhysAddr) -> bootparam::ParsedBootParams {
    let mut zp = vec![0u8; 4096];
    mem.read(at, &mut zp);
    bootparam::parse_boot_params(&zp, |pa, b| {
        mem.read(crate::PhysAddr(pa), b);
        true
    })
    .unwrap()
}
