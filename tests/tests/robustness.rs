//! Robustness (issue 12): the character devices, and Linux's errno where kexos used to
//! differ, as the shell can show them. The host tests in libs/kexec-core pin every case
//! (read_file.rs, bzimage64.rs, elf64/tests.rs); these check that the kernel uses them.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use anyhow::Result;
use kexos_tests::{linux_fixture, BootOptions, Firmware, Machine};

const FAILED: &str = "kexec_file_load failed: ";

/// `kexec -s -l FILE` must fail with `errno` and leave `reason` in kexec_last_error.
fn refused(m: &mut Machine, file: &str, errno: &str, reason: &str) -> Result<()> {
    let cmd = format!("kexec -s -l {file} --append=x");
    let out = m.run(&cmd)?;
    m.check_contains(&cmd, &out, &format!("{FAILED}{errno}"))?;
    let why = m.run("cat /sys/kernel/kexec_last_error")?;
    m.check_contains(&format!("kexec_last_error after {cmd}"), &why, reason)
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn devices_and_linux_errnos() -> Result<()> {
    // The Debian kernel gives a bzImage whose setup is larger than a few KiB (kexos's own is
    // 1 KiB, no shorter than the probe's minimum).
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    let mut m = Machine::boot(BootOptions::new(Firmware::Uefi).with_linux(&fx))?;
    // /dev: the nodes, with Linux's numbers.
    let ls = m.run("ls -l /dev")?;
    for name in ["console", "null", "ttyS0", "zero"] {
        m.check(
            ls.lines().any(|l| l.starts_with('c') && l.ends_with(&format!(" {name}"))),
            format_args!("no character device {name} in `ls -l /dev`: {ls:?}"),
        )?;
    }
    m.run_expect("stat /dev/null", "character special file")?;
    // /dev/null swallows writes and reads empty; /dev/zero reads zeros.
    let out = m.run("echo discarded > /dev/null")?;
    m.check(out.trim().is_empty(), format_args!("writing /dev/null printed {out:?}"))?;
    let out = m.run("cat /dev/null")?;
    m.check(out.trim().is_empty(), format_args!("/dev/null read {out:?}"))?;
    let out = m.run("dd if=/dev/zero of=/tmp/z bs=4096 count=3")?;
    m.check_contains("dd from /dev/zero", &out, "12288 bytes")?;
    let out = m.run("hexdump -C /tmp/z")?;
    m.check(
        out.starts_with("00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00")
            && out.contains("\n*\n")
            && out.contains("00003000"),
        format_args!("/dev/zero gave {out:?}"),
    )?;
    m.run_expect("dd if=/boot/initramfs.cpio of=/dev/null bs=64K", "records out")?;
    // /dev/console writes reach the console.
    m.run_expect("echo to-the-console > /dev/console", "to-the-console")?;
    // kexec_file_load of a character device: EINVAL, not a regular file (Linux's
    // kernel_read_file).
    refused(&mut m, "/dev/null", "EINVAL", "not a regular file")?;
    refused(&mut m, "/dev/zero", "EINVAL", "not a regular file")?;
    // A static user program is not a kernel: ENOEXEC with the reason, never a jump into it.
    refused(&mut m, "/sbin/init", "ENOEXEC", "not a kernel")?;
    // A truncated bzImage passes the probe and is refused by the loader (ENOEXEC), Linux's order.
    m.run("dd if=/boot/vmlinuz of=/tmp/short bs=4096 count=2")?;
    refused(&mut m, "/tmp/short", "ENOEXEC", "bzImage truncated")?;
    let st = m.run("kexec --status")?;
    m.check_contains("kexec --status", &st, "kexec: no image is loaded")?;
    m.poweroff()
}
