//! The issue 10 figures of `cargo xtask bench` ([`signature_figures`]): how long
//! kexec_file_load spends verifying the Debian kernel's Authenticode signature (the release
//! kernel trusts the Debian Secure Boot CA for the bench), and the whole signed load against
//! the same kernel from the -unsigned package (which skips everything but finding no
//! certificate table). Three runs each, min/median/max, guest clock.

use std::path::Path;
use std::time::Duration;

use boot::linux::LinuxFixture;
use kexos_tests::{Artifacts, BootOptions, Firmware, Machine};

use crate::bench::parse_load_us;

const RUNS: usize = 3;

/// (verify_sig, signed load, unsigned load) times in microseconds.
type Runs = (Vec<f64>, Vec<f64>, Vec<f64>);

/// `... signature verified in <N> us: ...` -> N.
fn parse_verify_us(out: &str) -> Option<f64> {
    let rest = &out[out.find("signature verified in ")? + "signature verified in ".len()..];
    rest.split(' ').next()?.parse().ok()
}

fn stats(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "n/a".into();
    }
    v.sort_by(f64::total_cmp);
    format!("{:.1} / {:.1} / {:.1} ms", v[0] / 1e3, v[v.len() / 2] / 1e3, v[v.len() - 1] / 1e3)
}

/// Boot the release kernel with both Debian kernels and load each [`RUNS`] times.
pub fn signature_figures(root: &Path, fx: &LinuxFixture) {
    println!("signed kexec (issue 10; release kernel, UEFI, TCG; min / median / max of {RUNS})");
    let artifacts = Artifacts::at(root);
    let mut opts = BootOptions { name: "bench-sig".into(), ..BootOptions::new(Firmware::Uefi).with_linux(fx) };
    opts.add.push((fx.kernel_unsigned.clone(), "/boot/vmlinuz-unsigned".into()));
    let run = || -> Result<Runs, String> {
        let image = opts.build_image(&artifacts).map_err(|e| format!("{e:#}"))?;
        let mut m = Machine::spawn_image("bench-sig", &image, Firmware::Uefi, "512M", &[], Some(artifacts.target("test-logs").join("bench-sig.log")))
            .map_err(|e| format!("{e:#}"))?;
        m.print_on_failure = false;
        m.cmd_timeout = Duration::from_secs(120);
        m.expect_prompt(Duration::from_secs(120)).map_err(|_| "no prompt".to_string())?;
        let (mut verify, mut signed, mut unsigned) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            for (path, is_signed) in [("/boot/vmlinuz", true), ("/boot/vmlinuz-unsigned", false)] {
                let out = m.run(&format!("kexec -s -l {path} --initrd=/boot/initrd.img --append=console=ttyS0")).map_err(|e| format!("{e:#}"))?;
                let load: f64 = parse_load_us(&out).and_then(|s| s.parse().ok()).ok_or_else(|| format!("{path}: no load time in {out:?}"))?;
                if is_signed {
                    verify.push(parse_verify_us(&out).ok_or_else(|| format!("{path} did not verify: {out:?}"))?);
                    signed.push(load);
                } else {
                    unsigned.push(load);
                }
            }
        }
        let _ = m.poweroff();
        Ok((verify, signed, unsigned))
    };
    match run() {
        Ok((mut verify, mut signed, mut unsigned)) => {
            let size = crate::file_size(&fx.kernel).unwrap_or(0) as f64;
            let med = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (mv, ms, mu) = (med(&mut verify), med(&mut signed), med(&mut unsigned));
            println!("  verify_sig (Authenticode, {:.1} MiB):    {}  ({:.0} MiB/s: one SHA-256 pass over the image dominates; PKCS#7 + RSA-2048 chain is the rest)", size / 1048576.0, stats(&mut verify), size / 1048576.0 / (mv / 1e6));
            println!("  kexec_file_load, signed kernel:         {}", stats(&mut signed));
            println!("  kexec_file_load, unsigned kernel:       {}", stats(&mut unsigned));
            println!("  signed - unsigned (medians):            {:.1} ms (verify_sig's median: {:.1} ms)", (ms - mu) / 1e3, mv / 1e3);
        }
        Err(why) => println!("  n/a: {why}"),
    }
}
