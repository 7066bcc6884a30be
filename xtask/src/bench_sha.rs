//! The SHA-256 figures of `cargo xtask bench` ([`sha256_figures`], issue 13: "measure the
//! block functions under TCG and on the CPU features present"): how fast the kernel's IMA pass
//! and purgatory's check hash, guest clock, with each block function on each emulator:
//!
//! - Debian's QEMU 7.2, default CPU (no SHA-NI): SSE2, what every other figure uses, then the
//!   portable code (`clearcpuid=sse2`);
//! - the SHA-NI QEMU 10 with `-cpu max`: SHA-NI, then SSE2 (`clearcpuid=sha_ni`).
//!
//! Each: boot, `kexec -s -l /boot/kexos.bzImage` with the initramfs, `kexec -e`; the kernel's
//! `ima: measured ... in N us` line and purgatory's `hashed B bytes in C cycles (...)` line,
//! divided by the logged TSC frequency, give MiB/s.

use std::path::Path;
use std::time::Duration;

use kexos_tests::{Artifacts, BootOptions, Emulator, Firmware, Machine};
use sha256::{Choice, CLEARCPUID_SHA_NI, CLEARCPUID_SSE2};

use crate::bench::{parse_hashed, parse_ima_measured, parse_tsc_mhz};

/// One configuration's figures, or why there are none.
fn measure(root: &Path, name: &str, emulator: Emulator, append: &str) -> Result<String, String> {
    let e = |e: anyhow::Error| format!("{e:#}");
    let artifacts = Artifacts::at(root);
    let opts = BootOptions { name: name.into(), append: append.into(), ..BootOptions::new(Firmware::Uefi) };
    let image = opts.build_image(&artifacts).map_err(e)?;
    let log = artifacts.target("test-logs").join(format!("{name}.log"));
    let mut m = Machine::spawn_image_on(&emulator, name, &image, Firmware::Uefi, "512M", &[], Some(log)).map_err(e)?;
    m.print_on_failure = false;
    m.cmd_timeout = Duration::from_secs(300);
    let to = Duration::from_secs(180);
    m.expect_prompt(to).map_err(e)?;
    let log = m.transcript();
    let chosen = [Choice::NoShaNi, Choice::ShaNiCleared, Choice::Sse2Cleared, Choice::ShaNi]
        .into_iter()
        .find(|c| log.contains(&c.to_string()));
    let out = m.run("kexec -s -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=bench").map_err(e)?;
    let (kib, us) = parse_ima_measured(&out).ok_or_else(|| format!("no `ima: measured` line in {out:?}"))?;
    m.send_line("kexec -e").map_err(e)?;
    let hashed = m.expect_line("purgatory: hashed ", to).map_err(e)?;
    let (bytes, cycles) = parse_hashed(&format!("purgatory: hashed {hashed}")).ok_or("no purgatory figure")?;
    m.expect_prompt(to).map_err(e)?;
    let mhz = parse_tsc_mhz(&m.transcript()).ok_or("no TSC frequency line")?;
    let _ = m.poweroff();
    let mib_s = |mib: f64, s: f64| if s > 0.0 { mib / s } else { 0.0 };
    let ima = mib_s(kib / 1024.0, us / 1e6);
    let purg = mib_s(bytes as f64 / 1048576.0, cycles as f64 / (mhz * 1e6));
    Ok(format!(
        "IMA {ima:.0} MiB/s ({:.1} MiB), purgatory {purg:.0} MiB/s ({:.1} MiB, {:.1} cycles/byte)  [{}]",
        kib / 1024.0,
        bytes as f64 / 1048576.0,
        cycles as f64 / bytes.max(1) as f64,
        chosen.map_or_else(|| "no choice logged".into(), |c| c.to_string())
    ))
}

/// Prints the figures of every configuration (one run each: the hashing rate varies little).
pub fn sha256_figures(root: &Path) {
    println!("SHA-256 block functions (issue 13; release kernel, UEFI, TCG; guest clock, one run each)");
    let sha_ni = Emulator::sha_ni(root);
    let no_sse2 = format!("clearcpuid={CLEARCPUID_SSE2}");
    let no_sha_ni = format!("clearcpuid={CLEARCPUID_SHA_NI}");
    let configs: [(String, &str, Result<Emulator, String>, &str); 4] = [
        ("QEMU 7.2, default CPU (no SHA-NI)".into(), "bench-sha-sse2", Ok(Emulator::System), ""),
        (format!("QEMU 7.2, default CPU, {no_sse2}"), "bench-sha-portable", Ok(Emulator::System), &no_sse2),
        ("QEMU 10, -cpu max, SHA-NI".into(), "bench-sha-ni", sha_ni.clone(), ""),
        (format!("QEMU 10, -cpu max, {no_sha_ni}"), "bench-sha-ni-off", sha_ni, &no_sha_ni),
    ];
    for (label, name, emulator, append) in configs {
        let figures = emulator.and_then(|em| measure(root, name, em, append));
        match figures {
            Ok(f) => println!("  {label:<40} {f}"),
            Err(why) => println!("  {label:<40} n/a ({why})"),
        }
    }
    println!("  (logs: target/test-logs/bench-sha-*.log; under TCG each SHA-NI instruction is a call into QEMU's C helpers)");
}
