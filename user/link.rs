//! The build script of every user program (each Cargo.toml says `build = "../link.rs"`): link
//! with user/user.ld (absolute path, so the cwd of rustc does not matter).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let script = std::path::Path::new(&dir).join("../user.ld");
    let script = script.canonicalize().unwrap_or(script);
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
}
