//! Signed-kexec policy scenarios (issue 10): lockdown, kexec.sig_enforce and
//! kexec_load_disabled, with the unsigned kexos.bzImage (no certificate table: ENODATA). It
//! loads with a log line when nothing enforces it, and is refused under lockdown (EPERM) or
//! sig_enforce (ENODATA, the verification's own errno). Every refusal keeps the loaded image,
//! and says which check failed and what policy did. Signed images: signed_kexec.rs.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::Result;
use kexos_tests::{BootOptions, Firmware, Machine};

const HOP: Duration = Duration::from_secs(120);
const LOAD: &str = "kexec -s -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=next";
const UNSIGNED: &str = "/boot/kexos.bzImage: signature not verified: \
                        unsigned image: no certificate table in the PE header (ENODATA)";

/// A one-line file's contents must be exactly `want` (a substring match would also accept a
/// kernel log line printed meanwhile).
fn cat_is(m: &mut Machine, path: &str, want: &str) -> Result<()> {
    let out = m.run(&format!("cat {path}"))?;
    m.check(
        out.trim_end_matches('\n') == want,
        format_args!("cat {path}: {out:?}, expected exactly {want:?}"),
    )
}

/// What every boot starts with: not locked down, kexec_file_load allowed.
fn check_unrestricted(m: &mut Machine) -> Result<()> {
    cat_is(
        m,
        "/sys/kernel/security/lockdown",
        "[none] integrity confidentiality",
    )?;
    cat_is(m, "/proc/sys/kernel/kexec_load_disabled", "0")
}

fn boot(append: &str) -> Result<Machine> {
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.append = append.into();
    Machine::boot(opts)
}

/// `lockdown=integrity` at boot: the securityfs file says so, an unverified image is EPERM
/// with Linux's lockdown message, and the level only goes up.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn lockdown_refuses_unverified_images() -> Result<()> {
    let mut m = boot("lockdown=integrity")?;
    m.run_expect("dmesg", "Kernel is locked down from command line")?;
    m.run_expect(
        "cat /sys/kernel/security/lockdown",
        "none [integrity] confidentiality",
    )?;
    let out = m.run(LOAD)?;
    m.check_contains(
        LOAD,
        &out,
        "kexec_file_load failed: EPERM (Operation not permitted)",
    )?;
    m.check_contains(LOAD, &out, UNSIGNED)?;
    m.check_contains(
        LOAD,
        &out,
        "refused: lockdown=integrity (Lockdown: kexec of unsigned images is restricted",
    )?;
    cat_is(&mut m, "/sys/kernel/kexec_loaded", "0")?;
    // Only up: the same level or a lower one is EPERM, an unknown one EINVAL.
    for (level, err) in [
        ("none", "Operation not permitted"),
        ("integrity", "Operation not permitted"),
        ("bogus", "Invalid argument"),
    ] {
        let cmd = format!("echo {level} > /sys/kernel/security/lockdown");
        let out = m.run(&cmd)?;
        m.check_contains(&cmd, &out, &format!("echo: write error: {err}"))?;
    }
    m.run("echo confidentiality > /sys/kernel/security/lockdown")?;
    m.run_expect(
        "cat /sys/kernel/security/lockdown",
        "none integrity [confidentiality]",
    )?;
    let out = m.run(LOAD)?;
    m.check_contains(LOAD, &out, "refused: lockdown=confidentiality")?;
    m.poweroff()
}

/// With nothing enforced an unverified image loads and the log says so; raising lockdown at
/// run time then refuses the next load, and kexec_load_disabled (one way) refuses every
/// kexec_file_load, UNLOAD included. The image loaded first survives all of it and boots.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn refusals_keep_the_loaded_image() -> Result<()> {
    let mut m = boot("")?;
    check_unrestricted(&mut m)?;
    let out = m.run(LOAD)?;
    m.check_lacks(LOAD, &out, "kexec_file_load failed")?;
    m.check_contains(
        LOAD,
        &out,
        &format!("{UNSIGNED}; not enforced, the load goes on"),
    )?;
    cat_is(&mut m, "/sys/kernel/kexec_loaded", "1")?;

    m.run("echo integrity > /sys/kernel/security/lockdown")?;
    m.run_expect("dmesg", "Kernel is locked down from securityfs")?;
    let out = m.run(LOAD)?;
    m.check_contains(
        LOAD,
        &out,
        "kexec_file_load failed: EPERM (Operation not permitted)",
    )?;
    cat_is(&mut m, "/sys/kernel/kexec_loaded", "1")?;

    // kexec_load_disabled: 0 cannot be written, 1 sticks, then everything is EPERM first.
    let out = m.run("echo 0 > /proc/sys/kernel/kexec_load_disabled")?;
    m.check_contains("echo 0", &out, "echo: write error: Invalid argument")?;
    m.run("echo 1 > /proc/sys/kernel/kexec_load_disabled")?;
    cat_is(&mut m, "/proc/sys/kernel/kexec_load_disabled", "1")?;
    let out = m.run("echo 0 > /proc/sys/kernel/kexec_load_disabled")?;
    m.check_contains(
        "echo 0 after 1",
        &out,
        "echo: write error: Invalid argument",
    )?;
    for cmd in ["kexec -u", "kexec -u -p", LOAD] {
        let out = m.run(cmd)?;
        m.check_contains(
            cmd,
            &out,
            "kexec_file_load failed: EPERM (Operation not permitted)",
        )?;
        m.check_contains(cmd, &out, "kexec_load_disabled is set")?;
    }
    cat_is(&mut m, "/sys/kernel/kexec_loaded", "1")?;

    // kexec -e is not a load: the image kept through every refusal boots.
    m.send_line("kexec -e")?;
    m.expect(kexos_tests::markers::PURGATORY_SHA256_OK, HOP)?;
    m.expect("boot: entered via boot protocol", HOP)?;
    m.expect_prompt(HOP)?;
    cat_is(&mut m, "/proc/cmdline", "next")?;
    // A new boot starts unlocked, with kexec_file_load allowed.
    check_unrestricted(&mut m)?;
    m.poweroff()
}

/// `kexec.sig_enforce=1`: every verification error is fatal with its own errno
/// (ENODATA here: unsigned), even without lockdown; a crash load too, although the crash region
/// would have room for it (the check comes before placement).
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn sig_enforce_refuses_with_the_verification_errno() -> Result<()> {
    let mut m = boot("kexec.sig_enforce=1 crashkernel=64M")?;
    m.run_expect(
        "dmesg",
        "kexec.sig_enforce=1: only images whose signature verifies load",
    )?;
    for cmd in [
        LOAD.to_string(),
        "kexec -s -p /boot/kexos.bzImage --initrd=/boot/initramfs.cpio".into(),
    ] {
        let out = m.run(&cmd)?;
        m.check_contains(
            &cmd,
            &out,
            "kexec_file_load failed: ENODATA (No data available)",
        )?;
        m.check_contains(&cmd, &out, UNSIGNED)?;
        m.check_contains(
            &cmd,
            &out,
            "refused: kexec.sig_enforce=1 (Enforced kernel signature verification failed)",
        )?;
    }
    cat_is(&mut m, "/sys/kernel/kexec_loaded", "0")?;
    cat_is(&mut m, "/sys/kernel/kexec_crash_loaded", "0")?;
    m.poweroff()
}
