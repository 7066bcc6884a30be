//! Test helpers: assemble purgatory objects with the system assembler.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Assemble x86_64 GNU `as` source into an ET_REL object.
pub(crate) fn assemble(name: &str, src: &str) -> Vec<u8> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("kexec-core-{}-{name}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let s = dir.join("p.s");
    let o = dir.join("p.o");
    std::fs::write(&s, src).unwrap();
    let out = Command::new("as")
        .arg("--64")
        .arg("-o")
        .arg(&o)
        .arg(&s)
        .output()
        .expect("run as");
    assert!(
        out.status.success(),
        "as failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let obj = std::fs::read(&o).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    obj
}

/// A purgatory with every symbol kexos uses, plus relocation fixtures:
/// r64/r32/r32s/rpc32/rplt/rnone/rbss are relocated fields whose expected
/// values the tests compute from `verify` and `bss_var`.
pub(crate) const PURGATORY_S: &str = r#"
    .text
    .globl purgatory_start
purgatory_start:
    lea stack_end(%rip), %rsp
    call verify
    jmp *entry64_regs+128(%rip)
    .globl verify
verify:
    ret

    .data
    .balign 8
    .globl entry64_regs
    .size entry64_regs, 136
entry64_regs: .zero 136
    .globl purgatory_sha_regions
    .size purgatory_sha_regions, 256
purgatory_sha_regions: .zero 256
    .globl purgatory_zero_regions
    .size purgatory_zero_regions, 256
purgatory_zero_regions: .zero 256
    .globl purgatory_region_digests
    .size purgatory_region_digests, 512
purgatory_region_digests: .zero 512
    .globl purgatory_sha256_digest
    .size purgatory_sha256_digest, 32
purgatory_sha256_digest: .zero 32
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
    .globl stack_end
stack_end:
"#;

/// The standard test purgatory object.
pub(crate) fn purgatory() -> Vec<u8> {
    assemble("purgatory", PURGATORY_S)
}

/// The shape of kexos's purgatory/ object: no `stack_end` (rsp 0 keeps its
/// own stack), no `purgatory_zero_regions`, and a `purgatory_flags` word
/// (so digests are per region).
pub(crate) fn kexos_style_purgatory() -> Vec<u8> {
    let src = PURGATORY_S
        .replace(
            "purgatory_sha256_digest: .zero 32\n",
            "purgatory_sha256_digest: .zero 32\n    .globl purgatory_flags\n    .size purgatory_flags, 8\npurgatory_flags: .quad 0\n",
        )
        .replace("    .globl stack_end\nstack_end:\n", "stack_end:\n")
        .replace("    .globl purgatory_zero_regions\n", "")
        .replace("    .size purgatory_zero_regions, 256\n", "");
    assert!(!src.contains(".globl stack_end"));
    assert!(!src.contains(".globl purgatory_zero_regions"));
    assemble("kexos-purgatory", &src)
}
