//! Embeds the purgatory object (built by purgatory/build.sh, which
//! `cargo xtask build` runs first) into the kernel.
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
}
