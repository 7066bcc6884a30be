//! The build check of the purgatory object (target/purgatory/purgatory.o,
//! linked by purgatory/build.sh) against the contract in purgatory_abi, run by
//! `cargo xtask build` before the kernel embeds the object:
//!
//! - ELF64 little-endian ET_REL, EM_X86_64, `e_entry` = 0;
//! - relocation types only R_X86_64_{NONE,64,32,PC32,PLT32} (what the
//!   kernel applies), and no R_X86_64_32S, which the kernel accepts but which
//!   overflows once the purgatory sits at or above 2 GiB;
//! - no undefined and no SHN_COMMON symbol;
//! - every `purgatory_abi::PATCHABLE_SYMBOLS` entry defined once, STB_GLOBAL
//!   STT_OBJECT, with exactly the ABI's `st_size`, in a PROGBITS section;
//! - `purgatory_abi::ENTRY_SYMBOL` STB_GLOBAL STT_FUNC at offset 0 of the
//!   first executable section;
//! - kexec-core (the kernel's own loader) places and relocates it above
//!   4 GiB and patches every ABI symbol with its ABI size.
//!
//! The SIMD/FPU-instruction check needs a disassembler and stays in build.sh.

use std::path::Path;

use anyhow::{bail, Context, Result};
use goblin::elf::header::{EM_X86_64, ET_REL};
use goblin::elf::section_header::{SHF_EXECINSTR, SHT_PROGBITS};
use goblin::elf::sym::{STB_GLOBAL, STT_FUNC, STT_OBJECT};
use goblin::elf::Elf;
use kexec_core::purgatory::reloc::*;
use kexec_core::{kexec_load_purgatory, Kimage, KimageKind, MemoryView, PhysRange};
use kexec_core::{purgatory_abi as abi, KexecBuf, SegmentBuf};

const SHN_UNDEF: usize = 0;
const SHN_COMMON: usize = 0xfff2;

/// Checks the object at `path` (see the module documentation).
pub fn check_file(path: &Path) -> Result<()> {
    let obj = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    check_object(&obj).with_context(|| format!("{}: purgatory contract check", path.display()))
}

/// Checks one purgatory object against purgatory_abi.
pub fn check_object(obj: &[u8]) -> Result<()> {
    let elf = Elf::parse(obj).context("not an ELF object")?;
    let h = &elf.header;
    if !elf.is_64 || !elf.little_endian || h.e_type != ET_REL || h.e_machine != EM_X86_64 {
        bail!("not an ELF64 little-endian x86_64 ET_REL");
    }
    if h.e_entry != 0 {
        bail!("e_entry is {:#x}, expected 0", h.e_entry);
    }
    check_relocations(&elf)?;
    check_symbols(&elf)?;
    check_kernel_loads_it(obj)
}

fn check_relocations(elf: &Elf<'_>) -> Result<()> {
    let allowed = [
        R_X86_64_NONE,
        R_X86_64_64,
        R_X86_64_32,
        R_X86_64_PC32,
        R_X86_64_PLT32,
    ];
    for (_, relocs) in &elf.shdr_relocs {
        for r in relocs.iter() {
            if r.r_type == R_X86_64_32S {
                bail!("R_X86_64_32S present (breaks a placement above 2 GiB; build with code-model=large)");
            }
            if !allowed.contains(&r.r_type) {
                bail!("relocation type {} the kernel rejects", r.r_type);
            }
        }
    }
    Ok(())
}

fn check_symbols(elf: &Elf<'_>) -> Result<()> {
    let name_of = |s: &goblin::elf::Sym| elf.strtab.get_at(s.st_name).unwrap_or("");
    for (i, s) in elf.syms.iter().enumerate().skip(1) {
        match s.st_shndx {
            SHN_UNDEF => bail!("undefined symbol {}", name_of(&s)),
            SHN_COMMON => bail!("SHN_COMMON symbol {} (index {i})", name_of(&s)),
            _ => {}
        }
    }
    let find = |name: &str, kind: u8| -> Result<goblin::elf::Sym> {
        let mut found = elf.syms.iter().filter(|s| name_of(s) == name);
        let s = found
            .next()
            .with_context(|| format!("symbol {name} missing"))?;
        if found.next().is_some() {
            bail!("symbol {name} defined more than once");
        }
        if s.st_bind() != STB_GLOBAL {
            bail!("{name} is not STB_GLOBAL");
        }
        if s.st_type() != kind {
            bail!("{name} has type {}, expected {kind}", s.st_type());
        }
        Ok(s)
    };
    for want in abi::PATCHABLE_SYMBOLS {
        let s = find(want.name, STT_OBJECT)?;
        let section = elf.section_headers.get(s.st_shndx);
        if section.is_none_or(|sh| sh.sh_type != SHT_PROGBITS) {
            bail!(
                "{} is not in a PROGBITS section (section {})",
                want.name,
                s.st_shndx
            );
        }
        if s.st_size != want.size as u64 {
            bail!(
                "{} has size {}, expected {} (purgatory_abi)",
                want.name,
                s.st_size,
                want.size
            );
        }
    }
    let entry = find(abi::ENTRY_SYMBOL, STT_FUNC)?;
    let first_exec = elf
        .section_headers
        .iter()
        .position(|sh| sh.sh_flags & u64::from(SHF_EXECINSTR) != 0)
        .context("no executable section")?;
    if entry.st_shndx != first_exec || entry.st_value != 0 {
        bail!(
            "{} is at {}:{:#x}, not at offset 0 of section {first_exec}",
            abi::ENTRY_SYMBOL,
            entry.st_shndx,
            entry.st_value
        );
    }
    Ok(())
}

/// What the kernel does with it, above 4 GiB where a 32-bit absolute
/// relocation would overflow: place, relocate, patch every ABI symbol.
fn check_kernel_loads_it(obj: &[u8]) -> Result<()> {
    let view = MemoryView::new([PhysRange::new(5 << 30, 6 << 30)], &[]);
    let mut image = Kimage::new(KimageKind::Normal);
    let place = KexecBuf::new("purgatory", SegmentBuf::Borrowed(&[]), 0)
        .min(0x3000)
        .top_down(true);
    let entry = kexec_load_purgatory(&mut image, &view, obj, place)
        .map_err(|e| anyhow::anyhow!("the kernel's loader rejects it: {e}"))?;
    if entry.0 < 5 << 30 {
        bail!("placed at {entry}, expected above 5 GiB");
    }
    for want in abi::PATCHABLE_SYMBOLS {
        image
            .purgatory_set_symbol(want.name, &vec![0; want.size])
            .map_err(|e| anyhow::anyhow!("the kernel cannot patch {}: {e}", want.name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal purgatory following the ABI, with `edit` applied to its
    /// source, assembled with the system `as`.
    fn object(edit: impl Fn(String) -> String) -> Vec<u8> {
        let entry = abi::ENTRY_SYMBOL;
        let mut src = format!(
            "    .text\n    .globl {entry}\n    .type {entry}, @function\n{entry}:\n    ret\n    .data\n    .balign 8\n"
        );
        for s in abi::PATCHABLE_SYMBOLS {
            s.write_gnu_as(&mut src).unwrap();
        }
        kexec_core::assemble::assemble("xtask-purgatory", &edit(src))
    }

    fn err(edit: impl Fn(String) -> String) -> String {
        format!("{:#}", check_object(&object(edit)).unwrap_err())
    }

    #[test]
    fn an_object_following_the_abi_passes() {
        check_object(&object(|s| s)).unwrap();
    }

    #[test]
    fn each_contract_violation_is_named() {
        let (flags, regs, entry) = (abi::FLAGS.name, abi::ENTRY64_REGS.name, abi::ENTRY_SYMBOL);
        let e = err(|s| s.replace(&format!(".size {flags}, 8"), &format!(".size {flags}, 4")));
        assert!(
            e.contains(&format!("{flags} has size 4, expected 8")),
            "{e}"
        );
        let name = abi::SHA_REGIONS.name;
        let e = err(|s| s.replace(name, "renamed"));
        assert!(e.contains(&format!("symbol {name} missing")), "{e}");
        let e = err(|s| s.replace(&format!("    .globl {regs}\n"), ""));
        assert!(e.contains(&format!("{regs} is not STB_GLOBAL")), "{e}");
        let e = err(|s| s.replace(&format!("{entry}:\n"), &format!("    nop\n{entry}:\n")));
        assert!(e.contains("not at offset 0 of section"), "{e}");
        let e = err(|s| s + "    .quad missing_fn\n");
        assert!(e.contains("undefined symbol missing_fn"), "{e}");
        let e = err(|s| s + &format!("x: .long 0\n    .reloc x, R_X86_64_32S, {entry}\n"));
        assert!(e.contains("R_X86_64_32S present"), "{e}");
        let e = err(|s| s + &format!("    .long {entry}\n"));
        assert!(e.contains("the kernel's loader rejects it"), "{e}");
    }
}
