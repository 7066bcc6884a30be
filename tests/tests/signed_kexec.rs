//! Signed kexec with a real chain (issue 10): kexos is built (by `cargo xtask test`) with the
//! Debian Secure Boot CA in its builtin trusted keyring.
//! - Debian's signed cloud kernel verifies to the Debian CA under `lockdown=integrity` and
//!   boots; a copy with one byte changed is EKEYREJECTED (the digest mismatch named); the
//!   `-unsigned` package's kernel is EPERM under lockdown, loads (with the log line) without
//!   it, and is ENODATA under `kexec.sig_enforce=1`. The loaded image survives every refusal.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use kexec_sig::{pefile::PeFile, HashAlgo};
use kexos_tests::{linux_fixture, random_token, Artifacts, BootOptions, Firmware, LinuxFixture, Machine};

const LOAD_TIMEOUT: Duration = Duration::from_secs(180);
const LINUX_TIMEOUT: Duration = Duration::from_secs(120);
const LOAD_FAILED: &str = "kexec_file_load failed: ";
const DEBIAN_SIGNER: &str = "CN=Debian Secure Boot Signer 2022 - linux";
const DEBIAN_CA: &str = "CN=Debian Secure Boot CA";

fn cat_is(m: &mut Machine, path: &str, want: &str) -> Result<()> {
    let out = m.run(&format!("cat {path}"))?;
    m.check(
        out.trim_end_matches('\n') == want,
        format_args!("cat {path}: {out:?}, expected exactly {want:?}"),
    )
}

/// The fixture's kernel with one byte of its payload flipped (a byte the Authenticode digest
/// covers: checked on the host before the guest sees it).
fn tampered_copy(fx: &LinuxFixture, dir: &std::path::Path) -> Result<PathBuf> {
    let signed = std::fs::read(&fx.kernel)?;
    let mut bad = signed.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x01;
    let d = |img: &[u8]| PeFile::parse(img).and_then(|p| p.digest(HashAlgo::Sha256)).map_err(|e| anyhow::anyhow!("{e}"));
    anyhow::ensure!(d(&signed)? != d(&bad)?, "byte {at:#x} is not covered by the Authenticode digest");
    std::fs::create_dir_all(dir)?;
    let p = dir.join("vmlinuz-tampered");
    std::fs::write(&p, bad)?;
    Ok(p)
}

fn boot_linux_set(fx: &LinuxFixture, append: &str, extra: Vec<(PathBuf, String)>) -> Result<Machine> {
    let mut opts = BootOptions::new(Firmware::Uefi).with_linux(fx);
    opts.append = append.into();
    opts.add.push((fx.kernel_unsigned.clone(), "/boot/vmlinuz-unsigned".into()));
    opts.add.extend(extra);
    let mut m = Machine::boot(opts)?;
    m.cmd_timeout = LOAD_TIMEOUT;
    Ok(m)
}

fn load_linux_cmd(image: &str, cmdline: &str) -> String {
    format!("kexec -s -l {image} --initrd=/boot/initrd.img --append=\"{cmdline}\"")
}

/// `kexos.elf` etc. fail the same way: errno line, then the reason with the policy.
fn refused(m: &mut Machine, cmd: &str, errno: &str, why: &[&str]) -> Result<()> {
    let out = m.run(cmd)?;
    m.check_contains(cmd, &out, &format!("{LOAD_FAILED}{errno}"))?;
    for w in why {
        m.check_contains(cmd, &out, w)?;
    }
    Ok(())
}

/// Debian's real chain under lockdown: the keyring lists the CA, the signed kernel verifies
/// (`-d` names the signer and the digest the host computes), a one-byte change and the
/// unsigned package are refused while the loaded image stays, and Linux boots.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn debian_signed_kernel_boots_under_lockdown() -> Result<()> {
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    let a = Artifacts::from_env()?;
    let tampered = tampered_copy(&fx, &a.target("test-images").join("signed-debian-files"))?;
    let digest = PeFile::parse(&std::fs::read(&fx.kernel)?)
        .and_then(|p| p.digest(HashAlgo::Sha256))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let digest_hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let mut m = boot_linux_set(&fx, "lockdown=integrity", vec![(tampered, "/boot/vmlinuz-tampered".into())])?;
    let keys = m.run("cat /sys/kernel/security/kexec_keys")?;
    m.check_contains("kexec_keys", &keys, &format!("subject=\"{DEBIAN_CA}\" issuer=\"{DEBIAN_CA}\""))?;

    let cmdline = format!("console=ttyS0 {} kexos_token={}", kexos_tests::LINUX_ONE_CPU, random_token("sig-"));
    let load = format!("{} -d", load_linux_cmd("/boot/vmlinuz", &cmdline));
    let out = m.run(&load)?;
    m.check_lacks(&load, &out, LOAD_FAILED)?;
    m.check_contains(&load, &out, "Authenticode signature verified in ")?;
    m.check_contains(&load, &out, &format!("signer {DEBIAN_SIGNER}"))?;
    m.check_contains(&load, &out, &format!("trusted key {DEBIAN_CA}"))?;
    m.check_contains(&load, &out, &format!("signature: Authenticode by {DEBIAN_SIGNER}"))?;
    m.check_contains(&load, &out, &format!("sha256 digest {digest_hex}"))?;
    cat_is(&mut m, "/sys/kernel/kexec_loaded", "1")?;

    refused(
        &mut m,
        &load_linux_cmd("/boot/vmlinuz-tampered", "x"),
        "EPERM",
        &["/boot/vmlinuz-tampered: signature not verified: sha256 digest mismatch over the PE image (Authenticode): computed ",
          &format!("signed {digest_hex} (EKEYREJECTED); refused: lockdown=integrity")],
    )?;
    refused(
        &mut m,
        &load_linux_cmd("/boot/vmlinuz-unsigned", "x"),
        "EPERM",
        &["/boot/vmlinuz-unsigned: signature not verified: unsigned image: no certificate table in the PE header (ENODATA); refused: lockdown=integrity"],
    )?;
    cat_is(&mut m, "/sys/kernel/kexec_loaded", "1")?;
    m.send_line("kexec -e")?;
    m.expect_linux_boot(&cmdline, &fx.version()?, LINUX_TIMEOUT)?;
    Ok(())
}

/// The same tampered copy without lockdown but with `kexec.sig_enforce=1`: the verification's
/// own errno (EKEYREJECTED), and the unsigned kernel ENODATA; without either switch the
/// unsigned kernel loads and the log says it was not verified.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn unsigned_kernel_loads_only_when_nothing_enforces() -> Result<()> {
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    let a = Artifacts::from_env()?;
    let tampered = tampered_copy(&fx, &a.target("test-images").join("signed-debian-files-2"))?;
    let mut m = boot_linux_set(&fx, "kexec.sig_enforce=1", vec![(tampered, "/boot/vmlinuz-tampered".into())])?;
    refused(
        &mut m,
        &load_linux_cmd("/boot/vmlinuz-unsigned", "x"),
        "ENODATA",
        &["unsigned image: no certificate table in the PE header (ENODATA); refused: kexec.sig_enforce=1 (Enforced kernel signature verification failed)"],
    )?;
    refused(
        &mut m,
        &load_linux_cmd("/boot/vmlinuz-tampered", "x"),
        "EKEYREJECTED",
        &["digest mismatch over the PE image (Authenticode)", "refused: kexec.sig_enforce=1"],
    )?;
    cat_is(&mut m, "/sys/kernel/kexec_loaded", "0")?;
    m.poweroff()?;

    let mut m = boot_linux_set(&fx, "", Vec::new())?;
    let cmd = load_linux_cmd("/boot/vmlinuz-unsigned", "console=ttyS0");
    let out = m.run(&cmd)?;
    m.check_lacks(&cmd, &out, LOAD_FAILED)?;
    m.check_contains(
        &cmd,
        &out,
        "/boot/vmlinuz-unsigned: signature not verified: unsigned image: no certificate table in the PE header (ENODATA); not enforced, the load goes on",
    )?;
    cat_is(&mut m, "/sys/kernel/kexec_loaded", "1")?;
    m.poweroff()
}
