//! The issue 10 figures of `cargo xtask bench` ([`signature_figures`]): how long
//! kexec_file_load spends verifying the Debian kernel's Authenticode signature (the release
//! kernel trusts the Debian Secure Boot CA for the bench), and the whole signed load against
//! the same kernel from the -unsigned package (which skips everything but finding no
//! certificate table). Three runs each, min/median/max, guest clock. Where the time goes: the
//! signed kexos.bzImage (test key, ~1.4 MiB) is verified too, and the two sizes give the
//! per-MiB cost (the Authenticode hash) and the fixed cost (PKCS#7, RSA-2048, the chain).

use std::path::Path;
use std::time::Duration;

use boot::linux::LinuxFixture;
use kexos_tests::{Artifacts, BootOptions, Firmware, Machine};

use crate::bench::parse_load_us;

const RUNS: usize = 3;

/// (verify_sig, signed load, unsigned load, verify_sig of the small kexos image) in microseconds.
type Runs = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

/// `... signature verified in <N> us: ...` -> N.
fn parse_verify_us(out: &str) -> Option<f64> {
    let rest = &out[out.find("signature verified in ")? + "signature verified in ".len()..];
    rest.split(' ').next()?.parse().ok()
}

/// `min / median / max ms` of microsecond figures.
pub(crate) fn stats(v: &mut [f64]) -> String {
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
    opts.add.push((artifacts.signed_bzimage.clone(), "/boot/kexos.signed.bzImage".into()));
    let small_size = crate::file_size(&artifacts.signed_bzimage).unwrap_or(0) as f64;
    let run = || -> Result<Runs, String> {
        let image = opts.build_image(&artifacts).map_err(|e| format!("{e:#}"))?;
        let mut m = Machine::spawn_image("bench-sig", &image, Firmware::Uefi, "512M", &[], Some(artifacts.target("test-logs").join("bench-sig.log")))
            .map_err(|e| format!("{e:#}"))?;
        m.print_on_failure = false;
        m.cmd_timeout = Duration::from_secs(120);
        m.expect_prompt(Duration::from_secs(120)).map_err(|_| "no prompt".to_string())?;
        let (mut verify, mut signed, mut unsigned, mut small) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let out = m.run("kexec -s -l /boot/kexos.signed.bzImage --initrd=/boot/initrd.img").map_err(|e| format!("{e:#}"))?;
            small.push(parse_verify_us(&out).ok_or_else(|| format!("kexos.signed.bzImage did not verify: {out:?}"))?);
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
        Ok((verify, signed, unsigned, small))
    };
    match run() {
        Ok((mut verify, mut signed, mut unsigned, mut small)) => {
            let size = crate::file_size(&fx.kernel).unwrap_or(0) as f64;
            let med = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (mv, ms, mu, msm) = (med(&mut verify), med(&mut signed), med(&mut unsigned), med(&mut small));
            let mib = |b: f64| b / 1048576.0;
            // Two sizes, one line: verify = fixed + size * per_mib.
            let per_mib = (mv - msm) / (mib(size) - mib(small_size)).max(1e-9);
            let fixed = msm - per_mib * mib(small_size);
            println!("  verify_sig (Authenticode, {:.1} MiB):    {}  ({:.0} MiB/s overall)", mib(size), stats(&mut verify), mib(size) / (mv / 1e6));
            println!("  verify_sig (kexos.bzImage, {:.1} MiB):    {}", mib(small_size), stats(&mut small));
            println!("  where it goes (fit over the two sizes):  {:.1} ms per MiB hashed ({:.0} MiB/s), {:.1} ms fixed (PKCS#7 parse, RSA-2048 signer + chain)", per_mib / 1e3, 1e6 / per_mib.max(1e-9), fixed / 1e3);
            // The kernel's "loaded ... in N us" starts after verify_sig (load.rs), so a signed
            // kexec_file_load costs load + verify.
            println!("  load after the check, signed kernel:    {}", stats(&mut signed));
            println!("  load after the check, unsigned kernel:  {}", stats(&mut unsigned));
            println!("  signed kexec_file_load (medians):       {:.1} ms = {:.1} verify_sig + {:.1} load; unsigned {:.1} ms", (ms + mv) / 1e3, mv / 1e3, ms / 1e3, mu / 1e3);
        }
        Err(why) => println!("  n/a: {why}"),
    }
}
