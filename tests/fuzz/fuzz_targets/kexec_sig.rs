//! The signature check of kexec_file_load (libs/kexec-sig through the loaders'
//! verify_sig, as kernel/src/kexec/sig.rs calls it): Authenticode for a PE
//! bzImage (PE headers, the certificate table, PKCS#7 SignedData with
//! SpcIndirectDataContent, the chain, the image digest) and the appended
//! PKCS#7 of an ELF (the module_signature trailer, the detached message),
//! against the builtin keyring (the test CA, and Debian's CA when present).
#![no_main]

use kexec_core::{BzImage64, Elf64, KexecFileOps};
use kexos_fuzz::keyring;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kr = keyring();
    let loaders: [&dyn KexecFileOps; 2] = [&BzImage64, &Elf64];
    for ops in loaders {
        match ops.verify_sig(data, kr) {
            Ok(v) => {
                assert!(!v.digest.is_empty());
                if kexos_fuzz::verbose() {
                    eprintln!("kexos-fuzz: {}: verified: {v:?}", ops.name());
                }
            }
            Err(e) => {
                let msg = e.to_string();
                if kexos_fuzz::verbose() {
                    eprintln!("kexos-fuzz: {}: {} {msg}", ops.name(), e.errno().name());
                }
            }
        }
    }
});
