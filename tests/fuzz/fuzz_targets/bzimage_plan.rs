//! bzImage64: the probe and the whole load plan (kexec_core::kexec_file_plan:
//! hand-over buffers, purgatory, boot_params, kernel, initrd, sanity checks,
//! digests), normal or crash, over QEMU's 512 MiB map with the real purgatory.
//! Input: `kexos_fuzz::LoadInput` (flags, command line, initrd, kernel image).
#![no_main]

use kexec_core::{BzImage64, KexecFileOps};
use kexos_fuzz::{purgatory, run_load, LoadInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = LoadInput::split(data) else { return };
    let loaders: [&dyn KexecFileOps; 1] = [&BzImage64];
    run_load(&loaders, &input, purgatory());
});
