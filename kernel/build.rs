//! Embeds into the kernel:
//! - the purgatory object (built by purgatory/build.sh, which
//!   `cargo xtask build` runs first);
//! - the builtin trusted keyring and the blacklist (Linux's
//!   CONFIG_SYSTEM_TRUSTED_KEYS / CONFIG_SYSTEM_BLACKLIST_HASH_LIST), and the
//!   default of kexec.sig_enforce (CONFIG_KEXEC_SIG_FORCE), from the
//!   environment `cargo xtask build --trusted-cert/--blacklist/--sig-enforce` sets:
//!   KEXOS_TRUSTED_CERTS (DER certificate paths, one per line),
//!   KEXOS_BLACKLIST (SHA-256 certificate fingerprints, hex, one per line),
//!   KEXOS_SIG_ENFORCE ("1" or unset). Unset: an empty keyring.
use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let obj = std::env::var("KEXOS_PURGATORY").map(PathBuf::from).unwrap_or_else(|_| {
        let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
        manifest.join("../target/purgatory/purgatory.o")
    });
    let obj = obj.canonicalize().unwrap_or_else(|_| {
        panic!("purgatory object {} not found: run purgatory/build.sh (cargo xtask build does)", obj.display())
    });
    println!("cargo:rerun-if-changed={}", obj.display());
    println!("cargo:rerun-if-env-changed=KEXOS_PURGATORY");
    println!("cargo:rustc-env=KEXOS_PURGATORY_OBJ={}", obj.display());
    keyring();
}

fn lines(var: &str) -> Vec<String> {
    println!("cargo:rerun-if-env-changed={var}");
    std::env::var(var).unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

fn keyring() {
    let mut src = String::from("/// DER X.509 certificates of the builtin trusted keyring (file name, bytes).\npub static TRUSTED_CERTS: &[(&str, &[u8])] = &[\n");
    for path in lines("KEXOS_TRUSTED_CERTS") {
        let p = PathBuf::from(&path).canonicalize().unwrap_or_else(|_| panic!("trusted certificate {path} not found"));
        let der = std::fs::read(&p).unwrap();
        assert!(der.first() == Some(&0x30), "{}: not a DER certificate (xtask converts PEM)", p.display());
        println!("cargo:rerun-if-changed={}", p.display());
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        writeln!(src, "    ({name:?}, include_bytes!({:?})),", p.display().to_string()).unwrap();
    }
    src.push_str("];\n/// SHA-256 fingerprints of refused certificates.\npub static BLACKLIST: &[[u8; 32]] = &[\n");
    for fp in lines("KEXOS_BLACKLIST") {
        assert!(fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit()), "blacklist entry {fp:?}: not 64 hex digits");
        let bytes: Vec<String> = (0..32).map(|i| format!("0x{}", &fp[2 * i..2 * i + 2])).collect();
        writeln!(src, "    [{}],", bytes.join(", ")).unwrap();
    }
    src.push_str("];\n");
    println!("cargo:rerun-if-env-changed=KEXOS_SIG_ENFORCE");
    let enforce = std::env::var("KEXOS_SIG_ENFORCE").is_ok_and(|v| v == "1");
    writeln!(src, "/// kexec.sig_enforce's build-time default.\npub const SIG_ENFORCE_DEFAULT: bool = {enforce};").unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("keyring.rs");
    std::fs::write(out, src).unwrap();
}
