//! kexos on a CPU with the SHA extensions (issue 13: "use SHA-NI when CPUID has it"). Debian's
//! QEMU 7.2, which every other scenario runs on, does not emulate them; these run on the
//! fixture QEMU from bookworm-backports with `-cpu max` (boot::qemu, `cargo xtask fixtures`).
//!
//! What must hold there: the kernel picks SHA-NI and says so once; every SHA-256 of a signed
//! self-kexec goes through it (Authenticode, IMA's measurement, the segment digests) and
//! agrees with the host's sha2: the signature verifies, IMA's line matches the host's digest
//! of the file, and purgatory, which continues the kernel segment's hash from the state the
//! kernel captured, finds every segment intact, also with SHA-NI. `clearcpuid=sha_ni` gives
//! the SSE2 block function in the kernel and in purgatory. A crash kernel is verified with
//! SHA-NI too.
//!
//! On Debian's QEMU (no SHA-NI) the same holds for the SSE2 block function, and
//! `clearcpuid=sse2` gives the portable one in both.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::{anyhow, Result};
use kexos_tests::ima::{ima_ng_file, measurements};
use kexos_tests::{random_token, Artifacts, BootOptions, Emulator, Firmware, Machine};

const HOP: Duration = Duration::from_secs(180);
use sha256::{Backend, Choice, CLEARCPUID_SHA_NI, CLEARCPUID_SSE2};

fn boot_on_sha_ni(append: &str, add: Vec<(std::path::PathBuf, String)>) -> Result<(Machine, Artifacts)> {
    let a = Artifacts::from_env()?;
    boot_on(Emulator::sha_ni(&a.root).map_err(|e| anyhow!(e))?, append, add)
}

fn boot_on(emulator: Emulator, append: &str, add: Vec<(std::path::PathBuf, String)>) -> Result<(Machine, Artifacts)> {
    let a = Artifacts::from_env()?;
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.emulator = emulator;
    opts.append = append.into();
    opts.add = add;
    let mut m = Machine::boot(opts)?;
    m.cmd_timeout = HOP;
    Ok((m, a))
}

/// How many times the kernel logged `choice`.
fn count(m: &Machine, choice: Choice) -> usize {
    m.transcript().matches(&choice.to_string()).count()
}

/// Purgatory's `hashed ... cycles (<block function>)` ending.
fn purgatory_used(b: Backend) -> String {
    format!(" cycles ({})", b.name())
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn sha_ni_hashes_a_signed_self_kexec_end_to_end() -> Result<()> {
    let a = Artifacts::from_env()?;
    let image = "/boot/signed.bzImage";
    let (mut m, a) = boot_on_sha_ni("lockdown=integrity", vec![(a.signed_bzimage.clone(), image.into())])?;
    let n = count(&m, Choice::ShaNi);
    m.check(n == 1, format_args!("the kernel logged {:?} {n} times, expected once", Choice::ShaNi.to_string()))?;

    let append = format!("lockdown=integrity token={}", random_token("sha-ni-"));
    let cmd = format!("kexec -d -s -l {image} --initrd=/boot/initramfs.cpio --append=\"{append}\"");
    let out = m.run(&cmd)?;
    m.check_lacks(&cmd, &out, "kexec_file_load failed")?;
    // Authenticode's digest, computed with SHA-NI, matches the one the host signer signed.
    m.check_contains(&cmd, &out, &format!("{image}: Authenticode signature verified in "))?;
    // The kernel segment's digest is IMA's pass, resumed by purgatory after the setup sectors.
    m.check_contains(&cmd, &out, &format!("kexec_file: SHA-256 ({}) taken from IMA's pass for segment[", Backend::ShaNi.name()))?;
    m.check_contains(&cmd, &out, "(the file after its first ")?;
    // IMA's digest of the file is the host's.
    let want = ima_ng_file(&std::fs::read(&a.signed_bzimage)?, image);
    let list = measurements(&mut m)?;
    m.check(list.contains(&want), format_args!("IMA's list {list:?} lacks the host's line {want:?}"))?;

    m.exec_into_kexos(image, &append, HOP)?;
    let log = m.transcript();
    m.check(
        log.contains(&purgatory_used(Backend::ShaNi)) && log.contains(kexos_tests::markers::PURGATORY_SHA256_OK),
        format_args!("purgatory did not verify with SHA-NI"),
    )?;
    let n = count(&m, Choice::ShaNi);
    m.check(n == 2, format_args!("after the hop the SHA-NI choice is logged {n} times, expected twice"))?;
    m.poweroff()
}

/// Boots on `emulator` with `append`, checks the kernel's `choice` line, self-kexecs with
/// `kexec -d` and checks that the kernel segment's digest and purgatory's check used
/// `choice`'s block function, and only it.
fn self_kexec_hashes_with(emulator: Emulator, append: &str, choice: Choice) -> Result<()> {
    let (mut m, _) = boot_on(emulator, append, Vec::new())?;
    let n = count(&m, choice);
    m.check(n == 1, format_args!("the kernel logged {:?} {n} times, expected once", choice.to_string()))?;
    let b = choice.backend();
    let image = "/boot/kexos.bzImage";
    let cmd = format!("kexec -d -s -l {image} --initrd=/boot/initramfs.cpio --append=\"{append}\"");
    let out = m.run(&cmd)?;
    m.check_lacks(&cmd, &out, "kexec_file_load failed")?;
    m.check_contains(&cmd, &out, &format!("kexec_file: SHA-256 ({}) taken from IMA's pass for segment[", b.name()))?;
    m.exec_into_kexos(image, append, HOP)?;
    let log = m.transcript();
    let others = [Backend::Portable, Backend::Sse2, Backend::ShaNi].into_iter().filter(|&o| o != b);
    let also: Vec<_> = others.filter(|&o| log.contains(&purgatory_used(o))).collect();
    m.check(
        log.contains(&purgatory_used(b)) && also.is_empty() && log.contains(kexos_tests::markers::PURGATORY_SHA256_OK),
        format_args!("with {append:?} purgatory did not verify with {} alone (also: {also:?})", b.name()),
    )?;
    let n = count(&m, choice);
    m.check(n == 2, format_args!("after the hop {:?} is logged {n} times, expected twice", choice.to_string()))?;
    m.poweroff()
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn clearcpuid_sha_ni_falls_back_to_the_sse2_block_function() -> Result<()> {
    let a = Artifacts::from_env()?;
    let emulator = Emulator::sha_ni(&a.root).map_err(|e| anyhow!(e))?;
    self_kexec_hashes_with(emulator, &format!("clearcpuid={CLEARCPUID_SHA_NI}"), Choice::ShaNiCleared)
}

/// Debian's QEMU has no SHA-NI: both kernels and purgatory hash with SSE2.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn without_sha_ni_the_sse2_block_function_hashes_a_self_kexec() -> Result<()> {
    self_kexec_hashes_with(Emulator::System, "x", Choice::NoShaNi)
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn clearcpuid_sse2_keeps_the_portable_block_function() -> Result<()> {
    self_kexec_hashes_with(Emulator::System, &format!("clearcpuid={CLEARCPUID_SSE2}"), Choice::Sse2Cleared)
}

/// The crash path with SHA-NI: the crash load hashes the segments as it writes them into the
/// region (SHA-NI), the dying kernel jumps with whatever it had in XMM, and purgatory checks
/// the capture kernel with SHA-NI before it boots. First, `faulttest simd` checks that the
/// programs' XMM registers never see the kernel's hashing.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn sha_ni_verifies_the_capture_kernel_after_a_panic() -> Result<()> {
    let (mut m, _) = boot_on_sha_ni("crashkernel=64M kexec_test", Vec::new())?;
    // No XMM value reaches a program that is not its own: not the kernel's across a
    // kexec_file_load (it hashes with SHA-NI in the syscall), not the previous program's at
    // its start.
    m.run_expect("faulttest simd", "faulttest: simd PASS")?;
    let cmd = "kexec -s -p /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=\"kexec_test\"";
    let out = m.run(cmd)?;
    m.check_contains(cmd, &out, "(bzImage64) as the crash kernel")?;
    m.check_lacks(cmd, &out, "failed")?;
    m.send_line("echo panic > /sys/kernel/kexec_test_crash")?;
    m.expect("KERNEL PANIC: ", HOP)?;
    let verdict = m.expect(kexos_tests::markers::PURGATORY_SHA256_OK, HOP)?;
    m.check(verdict.contains(&purgatory_used(Backend::ShaNi)), format_args!("purgatory did not verify the capture kernel with SHA-NI: {verdict:?}"))?;
    m.expect("crash: capture kernel: /proc/vmcore is", HOP)?;
    m.expect_prompt(HOP)?;
    let n = count(&m, Choice::ShaNi);
    m.check(n == 2, format_args!("the SHA-NI choice is logged {n} times, expected by both kernels"))?;
    m.poweroff()
}
