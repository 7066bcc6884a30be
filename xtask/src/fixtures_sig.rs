//! The signed-kexec fixtures (issue 10), next to the Linux fixture in
//! `target/fixtures/linux/`:
//! - `vmlinuz-unsigned`: the same kernel from Debian's `-unsigned` package
//!   (no certificate table);
//! - `debian-secure-boot-ca.der`: Debian's Secure Boot CA, the vendor
//!   certificate compiled into shim (package `shim-signed`, file
//!   `usr/lib/shim/shimx64.efi.signed`), found by scanning the binary for a
//!   DER certificate whose subject and issuer are `CN=Debian Secure Boot CA`
//!   (kexec-linux-facts.md section 9). The signed fixture kernel chains to it.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use boot::linux::LinuxFixture;

use super::{download, extract, find_files, install, write_atomic};

/// Debian's shim, whose vendor certificate is the CA.
const SHIM_PACKAGE: &str = "shim-signed";
/// The CA's subject (and issuer: it is self-signed).
pub const DEBIAN_CA_SUBJECT: &str = "CN=Debian Secure Boot CA";

/// Fetch what is missing (everything with `force`).
pub fn ensure(f: &LinuxFixture, work: &Path, root: bool, force: bool) -> Result<()> {
    if force || !f.kernel_unsigned.is_file() {
        fetch_unsigned(f, work, root)?;
    }
    if force || !f.debian_ca.is_file() {
        fetch_ca(f, work, root)?;
    }
    Ok(())
}

fn fetch_unsigned(f: &LinuxFixture, work: &Path, root: bool) -> Result<()> {
    let signed = fs::read_to_string(f.dir.join("package")).context("reading the fixture's package file")?;
    let pkg = format!("{}-unsigned", signed.split_whitespace().next().context("empty package file")?);
    eprintln!("xtask: fetching the unsigned kernel: apt-get download {pkg}");
    let debs = work.join("debs");
    fs::create_dir_all(&debs)?;
    let deb = download(&pkg, &debs, root)?;
    let x = work.join("x-unsigned");
    extract(&deb, &x, &["./boot/vmlinuz-*"])?;
    let mut found = Vec::new();
    find_files(&x.join("boot"), "vmlinuz-", &mut found)?;
    let [vmlinuz] = found.as_slice() else {
        bail!("{} holds {} boot/vmlinuz-* files, expected one", deb.display(), found.len());
    };
    install(vmlinuz, &f.kernel_unsigned)?;
    let _ = fs::remove_dir_all(&x);
    let _ = fs::remove_file(&deb);
    Ok(())
}

fn fetch_ca(f: &LinuxFixture, work: &Path, root: bool) -> Result<()> {
    eprintln!("xtask: fetching Debian's Secure Boot CA: apt-get download {SHIM_PACKAGE}");
    let debs = work.join("debs");
    fs::create_dir_all(&debs)?;
    let deb = download(SHIM_PACKAGE, &debs, root)?;
    let x = work.join("x-shim");
    extract(&deb, &x, &["./usr/lib/shim/shimx64.efi.signed"])?;
    let shim = x.join("usr/lib/shim/shimx64.efi.signed");
    let bin = fs::read(&shim).with_context(|| format!("reading {}", shim.display()))?;
    let der = find_ca(&bin).with_context(|| format!("no {DEBIAN_CA_SUBJECT} certificate in {}", shim.display()))?;
    write_atomic(&f.debian_ca, der)?;
    eprintln!("xtask: {DEBIAN_CA_SUBJECT}: {} bytes from {SHIM_PACKAGE}", der.len());
    let _ = fs::remove_dir_all(&x);
    let _ = fs::remove_file(&deb);
    Ok(())
}

/// The first DER certificate in `bin` that is self-signed by the Debian CA's name.
fn find_ca(bin: &[u8]) -> Option<&[u8]> {
    (0..bin.len().saturating_sub(4)).find_map(|i| {
        // SEQUENCE with a two-byte length: every certificate of this size.
        if bin[i] != 0x30 || bin[i + 1] != 0x82 {
            return None;
        }
        let len = 4 + ((bin[i + 2] as usize) << 8 | bin[i + 3] as usize);
        let der = bin.get(i..i + len)?;
        let c = kexec_sig::Cert::from_der(der).ok()?;
        (c.subject() == DEBIAN_CA_SUBJECT && c.issuer() == DEBIAN_CA_SUBJECT).then_some(der)
    })
}
