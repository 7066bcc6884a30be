//! kexos on a CPU with the SHA extensions (issue 13: "use SHA-NI when CPUID has it"). Debian's
//! QEMU 7.2, which every other scenario runs on, does not emulate them; these run on the
//! fixture QEMU from bookworm-backports with `-cpu max` (boot::qemu, `cargo xtask fixtures`).
//!
//! What must hold there: the kernel picks SHA-NI and says so once; every SHA-256 of a signed
//! self-kexec goes through it (Authenticode, IMA's measurement, the segment digests) and
//! agrees with the host's sha2: the signature verifies, IMA's line matches the host's digest
//! of the file, and purgatory, which continues the kernel segment's hash from the state the
//! kernel captured, finds every segment intact, also with SHA-NI. `clearcpuid=sha_ni` keeps
//! the portable code in the kernel and in purgatory.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::{anyhow, Result};
use kexos_tests::ima::{ima_ng_file, measurements};
use kexos_tests::{random_token, Artifacts, BootOptions, Emulator, Firmware, Machine};

const HOP: Duration = Duration::from_secs(180);
const CHOSEN_SHA_NI: &str = "sha256: SHA-NI block function (CPUID sha, ssse3, sse4.1)";
const CHOSEN_PORTABLE: &str = "sha256: portable block function (clearcpuid=sha_ni)";

fn boot_on_sha_ni(append: &str, add: Vec<(std::path::PathBuf, String)>) -> Result<(Machine, Artifacts)> {
    let a = Artifacts::from_env()?;
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.emulator = Emulator::sha_ni(&a.root).map_err(|e| anyhow!(e))?;
    opts.append = append.into();
    opts.add = add;
    let mut m = Machine::boot(opts)?;
    m.cmd_timeout = HOP;
    Ok((m, a))
}

/// How many times `line` is in the transcript.
fn count(m: &Machine, line: &str) -> usize {
    m.transcript().matches(line).count()
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn sha_ni_hashes_a_signed_self_kexec_end_to_end() -> Result<()> {
    let a = Artifacts::from_env()?;
    let image = "/boot/signed.bzImage";
    let (mut m, a) = boot_on_sha_ni("lockdown=integrity", vec![(a.signed_bzimage.clone(), image.into())])?;
    let n = count(&m, CHOSEN_SHA_NI);
    m.check(n == 1, format_args!("the kernel logged {CHOSEN_SHA_NI:?} {n} times, expected once"))?;

    let append = format!("lockdown=integrity token={}", random_token("sha-ni-"));
    let cmd = format!("kexec -d -s -l {image} --initrd=/boot/initramfs.cpio --append=\"{append}\"");
    let out = m.run(&cmd)?;
    m.check_lacks(&cmd, &out, "kexec_file_load failed")?;
    // Authenticode's digest, computed with SHA-NI, matches the one the host signer signed.
    m.check_contains(&cmd, &out, &format!("{image}: Authenticode signature verified in "))?;
    // The kernel segment's digest is IMA's pass, resumed by purgatory after the setup sectors.
    m.check_contains(&cmd, &out, "kexec_file: SHA-256 (SHA-NI) taken from IMA's pass for segment[")?;
    m.check_contains(&cmd, &out, "(the file after its first ")?;
    // IMA's digest of the file is the host's.
    let want = ima_ng_file(&std::fs::read(&a.signed_bzimage)?, image);
    let list = measurements(&mut m)?;
    m.check(list.contains(&want), format_args!("IMA's list {list:?} lacks the host's line {want:?}"))?;

    m.exec_into_kexos(image, &append, HOP)?;
    let log = m.transcript();
    m.check(
        log.contains(" cycles (SHA-NI)") && log.contains("purgatory: sha256 ok"),
        format_args!("purgatory did not verify with SHA-NI"),
    )?;
    let n = count(&m, CHOSEN_SHA_NI);
    m.check(n == 2, format_args!("after the hop {CHOSEN_SHA_NI:?} is logged {n} times, expected twice"))?;
    m.poweroff()
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn clearcpuid_sha_ni_keeps_the_portable_block_function() -> Result<()> {
    let (mut m, _) = boot_on_sha_ni("clearcpuid=sha_ni", Vec::new())?;
    let n = count(&m, CHOSEN_PORTABLE);
    m.check(n == 1, format_args!("the kernel logged {CHOSEN_PORTABLE:?} {n} times, expected once"))?;
    let image = "/boot/kexos.bzImage";
    let cmd = format!("kexec -d -s -l {image} --initrd=/boot/initramfs.cpio --append=\"x\"");
    let out = m.run(&cmd)?;
    m.check_lacks(&cmd, &out, "kexec_file_load failed")?;
    m.check_contains(&cmd, &out, "kexec_file: SHA-256 (portable) taken from IMA's pass for segment[")?;
    m.exec_into_kexos(image, "x", HOP)?;
    let log = m.transcript();
    m.check(
        log.contains(" cycles (portable)") && !log.contains("(SHA-NI)"),
        format_args!("with clearcpuid=sha_ni purgatory still used SHA-NI, or said nothing"),
    )?;
    m.poweroff()
}
