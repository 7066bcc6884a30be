//! ELF64: the probe (elf64_parse: program headers, the kexos note and symbol,
//! the entry) and the whole load plan with the ELF64 loader, normal or crash,
//! over QEMU's 512 MiB map with the real purgatory.
//! Input: `kexos_fuzz::LoadInput` (flags, command line, initrd, kernel image).
#![no_main]

use kexec_core::{Elf64, KexecFileOps};
use kexos_fuzz::{purgatory, run_load, LoadInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = LoadInput::split(data) else { return };
    // What the probe says must agree with what the plan's own probe says.
    let probed = kexec_core::elf64::elf64_probe(input.kernel);
    if let Ok(info) = kexec_core::elf64::elf64_parse(input.kernel) {
        let _ = (info.segment_start(), info.bufsz());
    }
    let loaders: [&dyn KexecFileOps; 1] = [&Elf64];
    let out = run_load(&loaders, &input, purgatory());
    if matches!(out, kexos_fuzz::LoadOutcome::NotProbed) {
        assert!(probed.is_err() || input.kernel.is_empty());
    }
});
