//! The signature check of kexec_file_load (libs/kexec-sig through the loaders'
//! verify_sig, as kernel/src/kexec/sig.rs calls it): Authenticode for a PE
//! bzImage (PE headers, the certificate table, PKCS#7 SignedData with
//! SpcIndirectDataContent, the chain, the image digest) and the appended
//! PKCS#7 of an ELF (the module_signature trailer, the detached message),
//! against the builtin keyring (the test CA, and Debian's CA when present);
//! then the same parsers one by one, as the signer and the tests use them
//! (PeFile's signature, hashed ranges and digest, the appended-signature
//! split, the PKCS#7 message and its certificates).
#![no_main]

use kexec_core::kexec_sig::{appended, pefile::PeFile, pkcs7::Message, HashAlgo};
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
    if let Ok(pe) = PeFile::parse(data) {
        if let Ok(sig) = pe.signature() {
            if let Ok(m) = Message::parse(sig) {
                for c in m.certificates() {
                    let _ = (c.label(), c.subject(), c.issuer(), c.key_algo());
                }
            }
        }
        if let Ok(ranges) = pe.hashed_ranges() {
            for r in &ranges {
                assert!(r.start <= r.end && r.end <= data.len(), "hashed range {r:?} of a {}-byte file", data.len());
            }
        }
        let _ = pe.digest(HashAlgo::Sha256);
    }
    if let Ok(a) = appended::split(data) {
        let _ = Message::parse(a.pkcs7).map(|m| m.certificates().len());
    }
});
