//! kexec scenarios (issue 3): from the kexos shell, kexec_file_load the Debian bzImage of the
//! Linux fixture and boot it; the error paths; purgatory's digest check.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.
//!
//! The machines boot kexos on UEFI with the fixture at /boot/vmlinuz and /boot/initrd.img
//! (as `cargo xtask run` does). The fixture's /init prints markers (boot::linux::markers) and
//! powers off; [`Machine::expect_linux_boot`] follows it to QEMU's exit.

use std::time::Duration;

use anyhow::Result;
use kexos_tests::{
    linux_fixture, linux_markers, markers, random_token, BootOptions, Firmware, LinuxFixture,
    Machine,
};

/// Linux under TCG after kexec: ~3 s to /init when booted directly; allow plenty.
const LINUX_TIMEOUT: Duration = Duration::from_secs(120);
/// Loading ~16 MB through the VFS and hashing it under TCG.
const LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// `kexec --status` output (shellcore::kexec::status_message).
const LOADED: &str = "kexec: an image is loaded";
const NOT_LOADED: &str = "kexec: no image is loaded";
/// Start of every kexec_file_load error line (shellcore::kexec::load_error).
const LOAD_FAILED: &str = "kexec_file_load failed: ";

/// Boots kexos (UEFI) with the fixture in its initramfs and `append` as its command line.
fn boot_with_linux(fx: &LinuxFixture, append: &str) -> Result<Machine> {
    let mut m = Machine::boot(BootOptions {
        append: append.into(),
        ..BootOptions::new(Firmware::Uefi).with_linux(fx)
    })?;
    m.cmd_timeout = LOAD_TIMEOUT;
    Ok(m)
}

/// The `kexec -s -l` command loading the fixture with `cmdline` (plus extra options).
fn load_cmd(cmdline: &str, extra: &str) -> String {
    format!("kexec -s -l /boot/vmlinuz --initrd=/boot/initrd.img --append=\"{cmdline}\"{extra}")
}

/// Loads the fixture with `cmdline` and checks it worked. Returns the command's output.
fn load_linux(m: &mut Machine, cmdline: &str, extra: &str) -> Result<String> {
    let cmd = load_cmd(cmdline, extra);
    let out = m.run(&cmd)?;
    m.check_lacks(&cmd, &out, LOAD_FAILED)?;
    m.check_lacks(&cmd, &out, "kexec: /")?; // an open error
    m.check_lacks(&cmd, &out, markers::PANIC)?;
    let st = m.run("kexec --status")?;
    m.check_contains("kexec --status after a load", &st, LOADED)?;
    Ok(out)
}

/// Types `kexec -e` and follows Linux's boot to the power-off.
fn exec_into_linux(m: &mut Machine, cmdline: &str, version: &str) -> Result<()> {
    m.send_line("kexec -e")?;
    m.expect("kexec -e\n", Duration::from_secs(30))?;
    m.expect_linux_boot(cmdline, version, LINUX_TIMEOUT)?;
    m.assert_absent(markers::PANIC)?;
    m.assert_absent("purgatory: digest mismatch")
}

/// A fresh Linux command line with a random token, for a Linux on one CPU
/// ([`kexos_tests::LINUX_ONE_CPU`]).
fn linux_cmdline(prefix: &str) -> String {
    format!("console=ttyS0 {} kexos_token={}", kexos_tests::LINUX_ONE_CPU, random_token(prefix))
}

/// (a) The heart of issue 3: load the Debian bzImage with our initrd and command line from the
/// shell, `kexec -e`, and Linux boots, runs our /init, sees exactly our command line and
/// powers off.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn kexec_into_linux() -> Result<()> {
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    let version = fx.version()?;
    let mut m = boot_with_linux(&fx, "")?;
    // Both CPUs: Linux starts the one kexos parked (kernel/src/arch/smp.rs).
    let cmdline = format!("console=ttyS0 kexos_token={}", random_token("kexec-"));
    load_linux(&mut m, &cmdline, "")?;
    exec_into_linux(&mut m, &cmdline, &version)?;
    // The handover went through purgatory's check.
    let log = m.transcript();
    m.check(
        log.contains(kexos_tests::markers::PURGATORY_SHA256_OK),
        "no `purgatory: sha256 ok` before Linux",
    )?;
    m.check_contains("Linux", &log, &format!("smp: Brought up 1 node, {} CPUs", kexos_tests::CPUS))?;
    m.check_second_cpu_share("kexec into Linux", &log)?;
    check_phases(&mut m, &log)
}

/// Issue 13: the load, the exec and purgatory each logged their phases, every step of the flow
/// is there, and the steps add up to the total (each truncated to a microsecond).
fn check_phases(m: &mut Machine, log: &str) -> Result<()> {
    use kexec_core::phases::{parse_phases, EXEC_PHASES, LOAD_PHASES};
    use kexec_core::purgatory_abi::PURGATORY_PHASES;
    let wanted: [(&str, &[&str]); 3] = [
        (LOAD_PHASES, &["read", "probe", "ima|verify_sig", "ima", "place", "copy+digest", "control", "total"]),
        (EXEC_PHASES, &["check", "notifiers", "total"]),
        (PURGATORY_PHASES, &["relocate_kernel", "verify"]),
    ];
    // The kernel file's two SHA-256 passes ran side by side (kernel/src/arch/smp.rs).
    m.check_contains("the load", log, "on the helper CPU, verify_sig ")?;
    for (prefix, names) in wanted {
        let line = log.lines().find(|l| l.contains(prefix)).unwrap_or("");
        let got = parse_phases(line, prefix);
        let got_names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        m.check(got_names == names, format!("`{prefix}` lists {got_names:?}, not {names:?}"))?;
        if let Some((_, total)) = got.iter().find(|(n, _)| n == "total") {
            let sum: u64 = got.iter().filter(|(n, _)| n != "total").map(|(_, us)| us).sum();
            let steps = got.len() as u64;
            m.check(sum <= *total && total - sum <= steps, format!("`{prefix}` steps add up to {sum} us, total {total} us"))?;
        }
    }
    Ok(())
}

/// (b) A failed load (ENOEXEC) leaves the previously loaded image loaded and intact.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn garbage_image_keeps_previous() -> Result<()> {
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    let version = fx.version()?;
    let mut m = boot_with_linux(&fx, "")?;
    let cmdline = linux_cmdline("first-");
    load_linux(&mut m, &cmdline, "")?;

    m.run("echo garbage > /tmp/junk")?;
    let junk_cmdline = linux_cmdline("junk-");
    let cmd = format!("kexec -s -l /tmp/junk --append=\"{junk_cmdline}\"");
    let out = m.run(&cmd)?;
    m.check_contains(
        &cmd,
        &out,
        "kexec_file_load failed: ENOEXEC (Exec format error)",
    )?;
    let st = m.run("kexec --status")?;
    m.check_contains("kexec --status after a failed load", &st, LOADED)?;

    // The first image boots, with the first command line.
    exec_into_linux(&mut m, &cmdline, &version)
}

/// (c) `kexec -e` with nothing loaded fails cleanly and the shell goes on; `kexec -u` with
/// nothing loaded succeeds silently (KEXEC_FILE_UNLOAD returns 0).
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn kexec_e_without_image() -> Result<()> {
    let mut m = Machine::boot(BootOptions::new(Firmware::Uefi))?;
    let st = m.run("kexec --status")?;
    m.check_contains("kexec --status at boot", &st, NOT_LOADED)?;
    let out = m.run("kexec -e")?;
    m.check(
        out.contains("Nothing has been loaded")
            || out.contains("reboot(LINUX_REBOOT_CMD_KEXEC) failed"),
        format_args!("`kexec -e` with nothing loaded printed {out:?}, expected an error"),
    )?;
    let out = m.run("kexec -u")?;
    m.check_lacks("kexec -u with nothing loaded", &out, "failed")?;
    let out = m.run("echo still-alive")?;
    m.check_contains("command after kexec -e", &out, "still-alive")?;
    m.assert_absent("purgatory:")?;
    m.assert_absent(linux_markers::BANNER)?;
    m.assert_absent(markers::PANIC)?;
    m.poweroff()
}

/// (d) `kexec -u` drops a loaded image; then `kexec -e` fails cleanly.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn kexec_unload() -> Result<()> {
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    let mut m = boot_with_linux(&fx, "")?;
    load_linux(&mut m, &linux_cmdline("unload-"), "")?;
    let out = m.run("kexec -u")?;
    m.check_lacks("kexec -u", &out, "failed")?;
    let st = m.run("kexec --status")?;
    m.check_contains("kexec --status after kexec -u", &st, NOT_LOADED)?;
    let out = m.run("kexec -e")?;
    m.check(
        out.contains("Nothing has been loaded")
            || out.contains("reboot(LINUX_REBOOT_CMD_KEXEC) failed"),
        format_args!("`kexec -e` after unload printed {out:?}, expected an error"),
    )?;
    let out = m.run("echo still-alive")?;
    m.check_contains("command after kexec -e", &out, "still-alive")?;
    // Loading again after an unload works.
    load_linux(&mut m, &linux_cmdline("reload-"), "")?;
    m.assert_absent(linux_markers::BANNER)?;
    m.assert_absent(markers::PANIC)?;
    m.poweroff()
}

/// Picks the kernel's segment from the `kexec -d` output: the segment with the largest memsz
/// (the kernel's memsz is its init_size, tens of MB; the initrd is ~2 MB, boot_params and
/// purgatory a few pages). Segment lines are any lines naming `segment` with an index and a
/// `memsz=0x...` field, as Linux's KEXEC_FILE_DEBUG prints them.
fn kernel_segment(debug_out: &str) -> Option<u32> {
    debug_out
        .lines()
        .filter_map(|l| {
            let lower = l.to_ascii_lowercase();
            let seg = lower.find("segment")?;
            let after = &lower[seg + "segment".len()..];
            let digits: String = after
                .trim_start_matches(['[', ' ', '#'])
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let index: u32 = digits.parse().ok()?;
            let memsz = lower.split("memsz=").nth(1)?;
            let hex = memsz.trim_start_matches("0x");
            let hex: String = hex.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            Some((index, u64::from_str_radix(&hex, 16).ok()?))
        })
        .max_by_key(|&(_, memsz)| memsz)
        .map(|(i, _)| i)
}

/// (e) A byte flipped in a loaded segment after its digest was computed: purgatory reports
/// the mismatch and never enters Linux. The byte is the kernel segment's last: after the cut,
/// in the piece purgatory's second CPU checks (the longest piece stays on the first).
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn corrupted_segment_is_caught() -> Result<()> {
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    let mut m = boot_with_linux(&fx, "kexec_test")?;
    let out = load_linux(&mut m, &linux_cmdline("corrupt-"), " -d")?;
    // Linux's (and kexos's) bzImage64 order is purgatory, boot_params, kernel, initrd: the
    // kernel is segment 2 unless the debug table says otherwise.
    let seg = kernel_segment(&out).unwrap_or(2);
    m.check_contains("kexec -d", &out, "kexec_file: purgatory's check: two CPUs (start-up page 0x")?;
    let cmd = format!("echo {seg}:last > /sys/kernel/kexec_test_corrupt");
    m.run_expect(&cmd, &format!("corrupted the last byte of segment {seg}"))?;
    m.send_line("kexec -e")?;
    m.expect("kexec -e\n", Duration::from_secs(30))?;
    m.expect(kexec_core::purgatory_abi::SECOND_CPU_LINE, LINUX_TIMEOUT)?;
    m.expect(&format!("purgatory: sha256 mismatch in segment {seg} "), LINUX_TIMEOUT)?;
    // The share was the one whose second piece of the kernel goes to the second CPU
    // (purgatory-core's the_longest_pieces_are_shared_first pins which piece goes where).
    let log = m.transcript();
    m.check_second_cpu_share("the corrupted kexec", &log)?;
    m.expect(markers::PURGATORY_REFUSES, Duration::from_secs(30))?;
    // Purgatory halts: Linux must never start.
    m.expect_none(linux_markers::BANNER, Duration::from_secs(15))?;
    m.assert_absent(linux_markers::INIT_UP)?;
    m.kill();
    Ok(())
}

/// (f) kexec_file_load's error cases reachable from the shell.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn kexec_load_errors() -> Result<()> {
    let mut m = Machine::boot(BootOptions::new(Firmware::Uefi))?;
    // A directory is not a regular file: EINVAL.
    let out = m.run("kexec -s -l /boot")?;
    m.check_contains(
        "kexec -s -l /boot",
        &out,
        "kexec_file_load failed: EINVAL (Invalid argument)",
    )?;
    // An empty file: EINVAL.
    m.run("echo -n > /tmp/empty")?;
    let out = m.run("kexec -s -l /tmp/empty")?;
    m.check_contains(
        "kexec -s -l /tmp/empty",
        &out,
        "kexec_file_load failed: EINVAL (Invalid argument)",
    )?;
    // A missing file: the shell's open error, no syscall.
    let out = m.run("kexec -s -l /nope")?;
    m.check_contains(
        "kexec -s -l /nope",
        &out,
        "kexec: /nope: No such file or directory",
    )?;
    // A file open for writing (the redirection holds /tmp/w open while kexec runs): ETXTBSY,
    // which Linux checks before the file's contents.
    m.run("echo garbage > /tmp/w")?;
    let out = m.run("kexec -s -l /tmp/w >> /tmp/w")?;
    m.check_contains(
        "kexec -s -l /tmp/w >> /tmp/w",
        &out,
        "kexec_file_load failed: ETXTBSY (Text file busy)",
    )?;
    // Garbage: ENOEXEC with a reason.
    let out = m.run("kexec -s -l /tmp/w")?;
    m.check_contains(
        "kexec -s -l /tmp/w",
        &out,
        "kexec_file_load failed: ENOEXEC (Exec format error): ",
    )?;
    let st = m.run("kexec --status")?;
    m.check_contains("kexec --status after failed loads", &st, NOT_LOADED)?;
    m.assert_absent(markers::PANIC)?;
    m.poweroff()
}

#[test]
fn kernel_segment_from_debug_output() {
    let linux_style = "\
kexec_file: Loading segment 0: buf=0x00000000f2a3c000 bufsz=0x5000 mem=0x1ffea000 memsz=0x6000
kexec_file: Loading segment 1: buf=0x00000000d0c4a000 bufsz=0x1240 mem=0x1ffe8000 memsz=0x2000
kexec_file: Loading segment 2: buf=0x00000000f1b59000 bufsz=0xd5a400 mem=0x1d000000 memsz=0x2c14000
kexec_file: Loading segment 3: buf=0x00000000c8e43000 bufsz=0x1e4e00 mem=0x1ce1a000 memsz=0x1e5000
";
    assert_eq!(kernel_segment(linux_style), Some(2));
    let table =
        "segment[1]: buf=.. bufsz=0x1000 mem=0x1000 memsz=0x3000000\nsegment[0] memsz=0x1000\n";
    assert_eq!(kernel_segment(table), Some(1));
    assert_eq!(kernel_segment("nothing here"), None);
}
