//! `kexec --digest=xxh64` (KEXEC_FILE_XXH64_DIGEST, issue 13): purgatory checks the segments
//! with XXH64 instead of SHA-256. The choice is said in the load's log, purgatory names it,
//! it still catches a flipped byte, and it works for a crash kernel too.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::{Context, Result};
use kexec_core::purgatory_abi::{RegionHash, SECOND_CPU_LINE};
use kexos_tests::{markers, random_token, BootOptions, Firmware, Machine};

const HOP: Duration = Duration::from_secs(180);
const IMAGE: &str = "/boot/kexos.bzImage";
/// What the kernel logs for every load that asked for XXH64, `-d` or not.
const CHOSEN: &str = kexec_core::digest::XXH64_CHOSEN;

/// kexos with the test hooks and `append` added.
fn boot(append: &str) -> Result<Machine> {
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.append = format!("kexec_test {append}").trim_end().to_string();
    Machine::boot(opts)
}

/// `kexec -s <how> IMAGE --digest=xxh64 -d` with the running initramfs; the load must succeed
/// and say XXH64, in the user-space trace and the kernel's log. Returns what was printed.
fn load_xxh64(m: &mut Machine, how: &str, append: &str) -> Result<String> {
    let cmd = format!("kexec -s {how} {IMAGE} --initrd=/boot/initramfs.cpio --append=\"{append}\" --digest=xxh64 -d");
    let out = m.run(&cmd)?;
    m.check_lacks(&cmd, &out, "failed")?;
    m.check_contains(&cmd, &out, "DEBUG|XXH64_DIGEST)")?;
    m.check_contains(&cmd, &out, CHOSEN)?;
    // XXH64 checks a kexos faster than purgatory could start the second CPU, crash image or not.
    m.check_contains(&cmd, &out, "kexec_file: purgatory's check: one CPU (xxh64 is faster on one)")?;
    Ok(out)
}

/// `/sys/kernel/kexec_digest` (or `kexec_crash_digest`).
fn abi_digest_file(crash: bool) -> &'static str {
    if crash {
        abi::kexec::SYS_KEXEC_CRASH_DIGEST
    } else {
        abi::kexec::SYS_KEXEC_DIGEST
    }
}

/// The armed image's digest, as sysfs and `kexec -S` say it: `name`.
fn check_armed(m: &mut Machine, crash: bool, name: &str) -> Result<()> {
    let text = m.run(&format!("cat {}", abi_digest_file(crash)))?;
    m.check(text.trim() == name, format_args!("{}: {text:?}, expected {name}", abi_digest_file(crash)))?;
    let status = m.run(if crash { "kexec -S -p" } else { "kexec -S" })?;
    m.check_contains("kexec -S", &status, &format!("is loaded (purgatory checks it with {name})"))
}

/// The index of the segment labelled `kernel` in a `-d` segment table.
fn kernel_segment(debug_out: &str) -> Option<u32> {
    debug_out.lines().find_map(|l| {
        let (head, rest) = l.split_once("segment[")?;
        let (index, rest) = rest.split_once("]: ")?;
        (head.ends_with("kexec_file: ") && rest.starts_with("kernel ")).then(|| index.parse().ok())?
    })
}

/// A self-kexec checked with XXH64: purgatory hashes every checksummed byte with it and says
/// so, and the next kexos boots with our command line. The choice is per load: a load
/// without the option, before it and in the next kexos, says nothing of XXH64, and that
/// next kexos's own kexec is checked with SHA-256 again.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn xxh64_self_kexec_end_to_end() -> Result<()> {
    let mut m = boot("")?;
    // Nothing loaded: the file is empty.
    let none = m.run(&format!("cat {}", abi_digest_file(false)))?;
    m.check(none.trim().is_empty(), format_args!("kexec_digest before any load: {none:?}"))?;
    let plain = |append: &str| format!("kexec -s -l {IMAGE} --initrd=/boot/initramfs.cpio --append=\"{append}\"");
    let out = m.run(&plain("x"))?;
    m.check_lacks("a load without --digest", &out, "XXH64")?;
    check_armed(&mut m, false, "sha256")?;
    let append = format!("token={}", random_token("xxh64-"));
    load_xxh64(&mut m, "-l", &append)?;
    check_armed(&mut m, false, "xxh64")?;
    m.exec_into_kexos_checked(IMAGE, &append, HOP, RegionHash::Xxh64)?;
    let log = m.transcript();
    let hashed = log
        .split("purgatory: hashed ")
        .nth(1)
        .and_then(|r| r.lines().next())
        .context("no `purgatory: hashed` line")?;
    m.check(hashed.ends_with(" cycles (xxh64)"), format_args!("purgatory's line: {hashed:?}"))?;
    m.assert_absent(kexos_tests::markers::PURGATORY_SHA256_OK)?;
    m.assert_absent(SECOND_CPU_LINE)?;
    // The next kexos loads kexos again without the option: SHA-256, on two CPUs.
    let again = format!("token={}", random_token("sha256-"));
    let out = m.run(&plain(&again))?;
    m.check_lacks("a load without --digest", &out, "XXH64")?;
    m.exec_into_kexos(IMAGE, &again, HOP)?;
    let log = m.transcript();
    m.check_contains("the SHA-256 hop", &log, SECOND_CPU_LINE)?;
    m.poweroff()
}

/// A byte flipped in the loaded kernel segment after its XXH64 was taken: purgatory names the
/// segment and the function, refuses, and no kexos starts.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn xxh64_catches_a_corrupted_segment() -> Result<()> {
    let mut m = boot("")?;
    let out = load_xxh64(&mut m, "-l", "never-booted")?;
    let seg = kernel_segment(&out).with_context(|| format!("no kernel segment in {out:?}"))?;
    let cmd = format!("kexec --corrupt-segment={seg}");
    let out = m.run(&cmd)?;
    m.check_lacks(&cmd, &out, "failed")?;
    m.send_line("kexec -e")?;
    m.expect(&format!("purgatory: xxh64 mismatch in segment {seg} "), HOP)?;
    m.expect(markers::PURGATORY_REFUSES, Duration::from_secs(30))?;
    m.expect_none("boot: entered via boot protocol", Duration::from_secs(10))?;
    m.kill();
    Ok(())
}

/// A crash kernel loaded with XXH64: after the panic, its purgatory checks it with XXH64 and
/// the capture kernel reaches its prompt.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn xxh64_capture_kernel_after_a_panic() -> Result<()> {
    let mut m = boot("crashkernel=64M")?;
    let append = format!("token={}", random_token("xxh64-crash-"));
    let out = load_xxh64(&mut m, "-p", &append)?;
    m.check_contains("kexec -p", &out, "as the crash kernel")?;
    check_armed(&mut m, true, "xxh64")?;
    m.send_line("crash")?;
    m.expect(markers::CAPTURE_START, HOP)?;
    m.expect(RegionHash::Xxh64.ok_line(), HOP)?;
    m.expect_prompt(HOP)?;
    m.run_expect("cat /proc/cmdline", &append)?;
    m.assert_absent(kexos_tests::markers::PURGATORY_SHA256_OK)?;
    m.assert_absent(SECOND_CPU_LINE)?;
    m.poweroff()
}
