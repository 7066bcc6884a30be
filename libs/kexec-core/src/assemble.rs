//! Host test support (std): x86_64 GNU `as` source into an ET_REL object, with the system
//! assembler. kexec-core's tests build their purgatory objects with it; xtask's purgatory
//! checks reach it through the `assemble` feature.

extern crate std;

use alloc::format;
use alloc::vec::Vec;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Assemble `src` (GNU `as`, 64-bit) and return the object file's bytes. `name` labels the
/// scratch directory. Panics with `as`'s message if it fails: a test's own source is wrong.
pub fn assemble(name: &str, src: &str) -> Vec<u8> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("kexec-core-{}-{name}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (s, o) = (dir.join("p.s"), dir.join("p.o"));
    std::fs::write(&s, src).unwrap();
    let out = Command::new("as").arg("--64").arg("-o").arg(&o).arg(&s).output().expect("run as");
    assert!(out.status.success(), "as failed: {}", std::string::String::from_utf8_lossy(&out.stderr));
    let obj = std::fs::read(&o).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    obj
}
