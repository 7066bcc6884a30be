//! The issue 11 figures of `cargo xtask bench` ([`measurement_figures`]), on the release kernel
//! booted with `kexec_test` (its `/sys/kernel/kexec_test_ima` hook) and the Linux fixture:
//!
//! - what IMA adds to kexec_file_load: hashing the kernel and initramfs files as they are read
//!   (the kernel's `ima: measured ... in N us` line), against the load itself. The initrd
//!   segment's digest reuses IMA's hash of the same bytes, so the initramfs is hashed once; the
//!   kernel segment is a part of the file, hashed again for purgatory.
//! - the reboot-time update: IMA's reboot notifier writing a list of 10, 1000 and 10000
//!   events into the hand-over segment (`ima: N measurements (B bytes) passed ... in T us`),
//!   run through the hook's `update` as `kexec -e` runs it.
//!
//! Three runs each, min / median / max, guest clock.

use std::path::Path;
use std::time::Duration;

use boot::linux::LinuxFixture;
use kexos_tests::{Artifacts, BootOptions, Firmware, Machine};

use crate::bench::{parse_ima_measured, parse_load_us};
use crate::bench_sig::stats;

const RUNS: usize = 3;
const SIZES: [usize; 3] = [10, 1000, 10000];
/// Room for 10000 events of ~125 bytes after the load.
const APPEND: &str = "kexec_test ima_kexec_extra_kb=2048";
const HOOK: &str = "/sys/kernel/kexec_test_ima";

/// The number after `key` and before the next space in the first line holding `key`.
fn number_after(out: &str, key: &str) -> Option<f64> {
    let rest = &out[out.find(key)? + key.len()..];
    rest.split(' ').next()?.parse().ok()
}

/// Boot the release kernel with the fixture; measure loads, then updates of growing lists.
pub fn measurement_figures(root: &Path, fx: &LinuxFixture) {
    println!("measured kexec (issue 11; release kernel, UEFI, TCG; min / median / max of {RUNS})");
    let artifacts = Artifacts::at(root);
    let opts = BootOptions {
        name: "bench-ima".into(),
        append: APPEND.into(),
        ..BootOptions::new(Firmware::Uefi).with_linux(fx)
    };
    let run = || -> Result<(), String> {
        let e = |e: anyhow::Error| format!("{e:#}");
        let image = opts.build_image(&artifacts).map_err(e)?;
        let log = artifacts.target("test-logs").join("bench-ima.log");
        let mut m = Machine::spawn_image("bench-ima", &image, Firmware::Uefi, "512M", &[], Some(log)).map_err(e)?;
        m.print_on_failure = false;
        m.cmd_timeout = Duration::from_secs(300);
        m.expect_prompt(Duration::from_secs(120)).map_err(e)?;
        let (mut measure, mut load) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let out = m.run("kexec -s -l /boot/vmlinuz --initrd=/boot/initrd.img --append=console=ttyS0").map_err(e)?;
            measure.push(parse_ima_measured(&out).map(|(_, us)| us).ok_or_else(|| format!("no IMA measurement line in {out:?}"))?);
            load.push(parse_load_us(&out).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no load time in {out:?}"))?);
        }
        let bytes = crate::file_size(&fx.kernel).unwrap_or(0) + crate::file_size(&fx.initrd).unwrap_or(0);
        let mib = bytes as f64 / 1048576.0;
        let mut sorted = measure.clone();
        sorted.sort_by(f64::total_cmp);
        let speed = mib / (sorted[RUNS / 2] / 1e6);
        let initrd_mib = crate::file_size(&fx.initrd).unwrap_or(0) as f64 / 1048576.0;
        let mut load_sorted = load.clone();
        load_sorted.sort_by(f64::total_cmp);
        println!("  IMA hashing kernel + initramfs ({mib:.1} MiB): {}  ({speed:.0} MiB/s)", stats(&mut measure));
        println!("  the load after it (kexec_file: loaded):   {}", stats(&mut load));
        println!(
            "  IMA's passes against the load (medians): +{:.0}% of CPU time (on two CPUs they run beside verify_sig, not before the load); the initrd segment reuses IMA's digest, saving a {initrd_mib:.1} MiB pass (~{:.0} ms)",
            100.0 * sorted[RUNS / 2] / load_sorted[RUNS / 2].max(1.0),
            initrd_mib / speed * 1e3
        );
        println!("  reboot-time update of the IMA segment (kexec -e's notifier):");
        for n in SIZES {
            m.run(&format!("echo fill {n} > {HOOK}")).map_err(e)?;
            let (mut t, mut b) = (Vec::new(), 0.0);
            for _ in 0..RUNS {
                let out = m.run(&format!("echo update > {HOOK}")).map_err(e)?;
                let written = number_after(&out, "ima: ").ok_or_else(|| format!("no update line in {out:?}"))?;
                if written as usize != n {
                    return Err(format!("{n} events: the update wrote {written}: {out:?}"));
                }
                b = number_after(&out, "measurements (").ok_or_else(|| format!("no byte count in {out:?}"))?;
                t.push(number_after(&out, " in ").ok_or_else(|| format!("no time in {out:?}"))?);
            }
            println!("    {n:>5} events, {:>9} bytes: {}", b as u64, stats(&mut t));
        }
        let _ = m.poweroff();
        Ok(())
    };
    if let Err(why) = run() {
        println!("  n/a: {why}");
    }
}
