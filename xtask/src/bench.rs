//! The issue 3 figures of `cargo xtask bench`. Issue 3: kexec from the kexos shell into
//! the Linux fixture, side by side with Linux doing the same (the fixture Linux booted directly,
//! kexec'ing the same bzImage, initramfs and command line with Debian's `kexec -s -l`, in the
//! same QEMU machine).
//!
//! Kernel-side figures are parsed from the serial console; the others are host wall-clock times
//! between two console lines (to the precision of one read of QEMU's stdout pipe), labelled as
//! such. A figure that is not available (kernel side not done yet, a step failed) is `n/a`.
//!
//! How the Linux figures are taken (the fixture's busybox `date` has no `%N`, `/proc/uptime`
//! and busybox `time` only have 10 ms, and kexec-tools 2.0.25 has no `-d` for `kexec_file_load`
//! debug output, which needs Linux 6.7 anyway): the script ([`boot::linux::kexec_script`])
//! enables the ftrace events `syscalls/sys_{enter,exit}_kexec_file_load` and prints their trace
//! lines, so the syscall's duration is exit minus enter timestamp (guest clock, microseconds),
//! the same span kexos logs for its own `kexec_file_load`. It also writes a line to `/dev/kmsg`
//! right before and after the `kexec -s -l` command, whose printk timestamps on the console give
//! the whole command's guest time (exec of the dynamically linked `kexec` included).
//!
//! Issue 4 (kexos kexec'ing kexos) is in bench_self.rs.

use kexec_core::purgatory_abi::RegionHash;
use std::path::Path;
use std::time::Duration;

use kexos_tests::{linux_markers, LinuxFixture, Machine};

/// The command line Linux gets in the bench (no `quiet`: its banner is the first console line).
pub const APPEND: &str = "console=ttyS0";

/// One printed figure: kexos's value and, where there is one, Linux's for the same step.
pub struct Figure {
    pub label: &'static str,
    pub value: Option<String>,
    /// Linux's value ([`linux_kexec_linux`]); None: n/a.
    pub linux: Option<String>,
}

impl Figure {
    fn new(label: &'static str) -> Self {
        Figure {
            label,
            value: None,
            linux: None,
        }
    }
}

/// Row indices of [`kexec_into_linux`]'s figures (shared with [`linux_kexec_linux`]).
pub mod row {
    pub const LOAD: usize = 0;
    pub const LOAD_CMD_HOST: usize = 1;
    pub const LOAD_CMD_GUEST: usize = 2;
    pub const EXEC_TO_PURGATORY: usize = 3;
    pub const PURGATORY_LOG: usize = 4;
    pub const PURGATORY_HOST: usize = 5;
    pub const EXEC_TO_BANNER: usize = 6;
    pub const BANNER_TO_INIT: usize = 7;
    pub const COUNT: usize = 8;
}

/// The figure rows, all n/a.
pub fn figures() -> Vec<Figure> {
    let f = vec![
        Figure::new("kexec_file_load syscall (guest clock)"),
        Figure::new("`kexec -s -l` command (host time)"),
        Figure::new("`kexec -s -l` command (guest clock)"),
        Figure::new("`kexec -e` -> purgatory entry (host time)"),
        Figure::new("purgatory verify (purgatory log)"),
        Figure::new("purgatory verify (host time)"),
        Figure::new("`kexec -e` -> 'Linux version' (host time)"),
        Figure::new("'Linux version' -> /init (host time)"),
    ];
    debug_assert_eq!(f.len(), row::COUNT);
    f
}

pub(crate) fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// The `<N>` of a `... loaded <path> in <N> us` kernel log line, if there is one in `log`.
/// (No regex: the line holds `loaded` and ends with ` us`; N is the word before ` us`.)
pub fn parse_load_us(log: &str) -> Option<String> {
    log.lines().find_map(|l| {
        let l = l.trim_end();
        if !l.contains("kexec_file: loaded") && !(l.contains("loaded") && l.contains("kexec")) {
            return None;
        }
        let rest = l.strip_suffix(" us")?;
        let n = rest.rsplit(' ').next()?;
        n.chars()
            .all(|c| c.is_ascii_digit() || c == '.')
            .then(|| n.to_string())
    })
}

/// `purgatory: hashed <bytes> bytes in <cycles> cycles (<block function>)` -> (bytes, cycles).
pub fn parse_hashed(line: &str) -> Option<(u64, u64)> {
    let rest = line.split("purgatory: hashed ").nth(1)?;
    let mut w = rest.split_whitespace();
    let bytes = w.next()?.parse().ok()?;
    if w.next()? != "bytes" || w.next()? != "in" {
        return None;
    }
    let cycles = w.next()?.parse().ok()?;
    Some((bytes, cycles))
}

/// `ima: measured A (N KiB) and the initramfs (M KiB) in T us` -> (KiB in all, us).
pub fn parse_ima_measured(log: &str) -> Option<(f64, f64)> {
    let line = log.lines().find(|l| l.contains("ima: measured "))?;
    let mut kib = 0.0;
    for part in line.split(" KiB)").take_while(|p| p.contains('(')) {
        kib += part.rsplit('(').next()?.trim().parse::<f64>().ok()?;
    }
    let us = line.rsplit("KiB) in ").next()?.trim().strip_suffix(" us")?.parse().ok()?;
    Some((kib, us))
}

/// The TSC frequency in MHz of the first kexos TSC line in `log` (bootstats::tsc).
pub fn parse_tsc_mhz(log: &str) -> Option<f64> {
    bootstats::tsc::tsc_lines(log).next()?.0.parse().ok()
}

/// What `kexec -l`/`-p` gets appended for `hash`: nothing for SHA-256 (the default), else
/// ` --digest=<name>`.
pub fn digest_option(hash: RegionHash) -> String {
    match hash {
        RegionHash::Sha256 => String::new(),
        other => format!(" --digest={}", other.name()),
    }
}

/// Loads the fixture with `kexec -s -l`, runs `kexec -e` and times each step until Linux's
/// /init runs (the kexos column of [`figures`]). Returns the figures and, if a step failed, why
/// the rest are n/a.
pub fn kexec_into_linux(m: &mut Machine, hash: RegionHash) -> (Vec<Figure>, Option<String>) {
    let mut f = figures();
    let ok = hash.ok_line();
    let why = (|| -> Result<(), String> {
        let cmd = format!(
            "kexec -s -l /boot/vmlinuz --initrd=/boot/initrd.img --append=\"{APPEND}\"{}",
            digest_option(hash)
        );
        m.send_line(&cmd).map_err(|e| e.to_string())?;
        let (_, t0) = m
            .expect_timed(&format!("{cmd}\n"), Duration::from_secs(30))
            .map_err(|_| "no echo of the kexec -l command".to_string())?;
        let out = m
            .expect_prompt(Duration::from_secs(180))
            .map_err(|_| "no prompt within 180 s after kexec -l".to_string())?;
        let t1 = m.match_time();
        f[row::LOAD_CMD_HOST].value = Some(secs(t1.saturating_sub(t0)));
        // The whole syscall, as Linux's column (ftrace enter/exit): the load phases' total.
        // (`loaded ... in N us` starts after IMA and verify_sig.)
        let total = out.lines().find_map(|l| {
            kexec_core::phases::total_us(&kexec_core::phases::parse_phases(l, kexec_core::phases::LOAD_PHASES))
        });
        f[row::LOAD].value = total.map(|us| format!("{us} us (kernel log, load phases' total)"));
        if let Some(l) = out.lines().find(|l| l.contains("kexec_file_load failed")) {
            return Err(format!("load failed: {}", l.trim()));
        }
        m.send_line("kexec -e").map_err(|e| e.to_string())?;
        let (_, te) = m
            .expect_timed("kexec -e\n", Duration::from_secs(30))
            .map_err(|_| "no echo of kexec -e".to_string())?;
        let (_, tp) = m
            .expect_timed("purgatory: ", Duration::from_secs(60))
            .map_err(|_| "no purgatory output within 60 s of kexec -e".to_string())?;
        f[row::EXEC_TO_PURGATORY].value = Some(secs(tp.saturating_sub(te)));
        let line = m
            .expect_line("purgatory: hashed ", Duration::from_secs(120))
            .map_err(|_| "no `purgatory: hashed` line".to_string())?;
        let (_, tok) = m
            .expect_timed(ok, Duration::from_secs(30))
            .map_err(|_| format!("no `{ok}`"))?;
        f[row::PURGATORY_HOST].value = Some(format!(
            "{} (first purgatory line -> {} ok)",
            secs(tok.saturating_sub(tp)),
            hash.name()
        ));
        if let Some((bytes, cycles)) = parse_hashed(&format!("purgatory: hashed {line}")) {
            let mib = bytes as f64 / (1024.0 * 1024.0);
            f[row::PURGATORY_LOG].value = Some(match parse_tsc_mhz(&m.transcript()) {
                Some(mhz) => format!(
                    "{:.1} ms ({mib:.1} MiB, {cycles} TSC cycles at {mhz} MHz)",
                    cycles as f64 / (mhz * 1000.0)
                ),
                None => format!("{cycles} TSC cycles for {mib:.1} MiB (TSC frequency not logged)"),
            });
        }
        let (_, tl) = m
            .expect_timed(linux_markers::BANNER, Duration::from_secs(120))
            .map_err(|_| "no 'Linux version' within 120 s of purgatory".to_string())?;
        f[row::EXEC_TO_BANNER].value = Some(secs(tl.saturating_sub(te)));
        let (_, ti) = m
            .expect_timed(linux_markers::INIT_UP, Duration::from_secs(120))
            .map_err(|_| "Linux did not reach /init within 120 s".to_string())?;
        f[row::BANNER_TO_INIT].value = Some(secs(ti.saturating_sub(tl)));
        let _ = m.wait_exit(Duration::from_secs(60));
        Ok(())
    })()
    .err();
    (f, why)
}

/// The printk timestamp (seconds) of the console line holding `text`: `[    2.588662] text`.
pub fn printk_time(log: &str, text: &str) -> Option<f64> {
    log.lines().find(|l| l.contains(text)).and_then(|l| {
        let inner = l.trim_start().strip_prefix('[')?;
        inner.split(']').next()?.trim().parse().ok()
    })
}

/// The `kexec_file_load` ftrace lines the script printed: (enter timestamp, exit timestamp,
/// return value) in seconds, e.g. from
/// `kexec-85 [000] ...1.  2.769537: sys_kexec_file_load(kernel_fd: 3, ...)` and
/// `kexec-85 [000] ...1.  4.216077: sys_kexec_file_load -> 0x0`.
pub fn parse_trace(log: &str) -> Option<(f64, f64, String)> {
    let stamp = |l: &str| -> Option<f64> {
        let before = l.split(": sys_kexec_file_load").next()?;
        before.split_whitespace().last()?.parse().ok()
    };
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(linux_markers::TRACE) && l.contains(": sys_kexec_file_load"))
        .collect();
    let enter = lines.iter().find(|l| l.contains("sys_kexec_file_load("))?;
    let exit = lines
        .iter()
        .find(|l| l.contains("sys_kexec_file_load -> "))?;
    let ret = exit.rsplit("-> ").next()?.trim().to_string();
    Some((stamp(enter)?, stamp(exit)?, ret))
}

/// The Linux column: boots the fixture Linux directly (same QEMU machine as kexos's bench:
/// TCG, q35, 512M; SeaBIOS `-kernel`/`-initrd`) with the kexec initramfs, whose script loads
/// the same bzImage, initramfs and command line ([`APPEND`]) with Debian's `kexec -s -l`, then
/// runs `kexec -e`. Fills the `linux` values of `f`; returns why it stopped early, if it did.
/// The initramfs goes to `<target>/bench/linux-kexec-initrd.img`, the log to
/// `<target>/test-logs/<name>.log`.
pub fn linux_kexec_linux(fx: &LinuxFixture, target: &Path, name: &str, f: &mut [Figure]) -> Option<String> {
    use linux_markers as lm;
    let na = "n/a (Linux's purgatory prints nothing)";
    for r in [
        row::EXEC_TO_PURGATORY,
        row::PURGATORY_LOG,
        row::PURGATORY_HOST,
    ] {
        f[r].linux = Some(na.into());
    }
    if !fx.has_kexec() {
        return Some(
            "Debian's kexec-tools is not in the fixture (see `cargo xtask fixtures`)".into(),
        );
    }
    let initrd = target.join("bench/linux-kexec-initrd.img");
    let log = target.join("test-logs").join(format!("{name}.log"));
    let mut m = match Machine::spawn_linux_kexec(
        name,
        fx,
        &fx.kernel,
        Some(&fx.initrd),
        APPEND,
        &initrd,
        Some(log),
    ) {
        Ok(m) => m,
        Err(e) => return Some(format!("{e:#}")),
    };
    m.print_on_failure = false;
    let to = Duration::from_secs(120);
    let why = (|| -> Result<(), String> {
        m.expect(lm::BANNER, to)
            .map_err(|_| "the first Linux printed no banner".to_string())?;
        let (_, t0) = m
            .expect_timed(lm::KEXEC_LOAD, to)
            .map_err(|_| "the first Linux did not reach its kexec script".to_string())?;
        let (_, t1) = m
            .expect_timed(lm::KEXEC_LOAD_STATUS, to)
            .map_err(|_| "no status after `kexec -s -l`".to_string())?;
        let status = m.expect("\n", to).map_err(|e| e.to_string())?;
        f[row::LOAD_CMD_HOST].linux = Some(secs(t1.saturating_sub(t0)));
        m.expect(lm::TRACE_END, to)
            .map_err(|_| "no end of the trace lines".to_string())?;
        let log = m.transcript();
        if let (Some(a), Some(b)) = (
            printk_time(&log, lm::KMSG_BEFORE),
            printk_time(&log, lm::KMSG_AFTER),
        ) {
            f[row::LOAD_CMD_GUEST].linux = Some(format!("{:.3} s (printk timestamps)", b - a));
        }
        f[row::LOAD].linux = Some(match parse_trace(&log) {
            Some((a, b, ret)) => format!(
                "{:.0} us (ftrace sys_enter/exit){}",
                (b - a) * 1e6,
                if ret == "0x0" {
                    String::new()
                } else {
                    format!(", returned {ret}")
                }
            ),
            None => "n/a (no ftrace kexec_file_load events in this kernel)".into(),
        });
        if status.trim() != "0" {
            return Err(format!(
                "`kexec -s -l` under Linux exited with {}",
                status.trim()
            ));
        }
        let (_, te) = m
            .expect_timed(lm::KEXEC_EXEC, to)
            .map_err(|_| "no `kexec -e` marker".to_string())?;
        let (_, tl) = m
            .expect_timed(lm::BANNER, to)
            .map_err(|_| "no 'Linux version' within 120 s of `kexec -e`".to_string())?;
        f[row::EXEC_TO_BANNER].linux = Some(secs(tl.saturating_sub(te)));
        let (_, ti) = m
            .expect_timed(lm::INIT_UP, to)
            .map_err(|_| "the next Linux did not reach /init within 120 s".to_string())?;
        f[row::BANNER_TO_INIT].linux = Some(secs(ti.saturating_sub(tl)));
        let _ = m.wait_exit(Duration::from_secs(60));
        Ok(())
    })()
    .err();
    why
}

/// `l` without control characters and ANSI escape sequences (ESC [ ... letter), trimmed.
pub fn printable(l: &str) -> String {
    let mut out = String::new();
    let mut it = l.chars();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            for c in it.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ima_line() {
        let log = "[    0.244825] ima: measured /boot/signed.bzImage (1579 KiB) and the initramfs (5443 KiB) in 116332 us\n";
        assert_eq!(parse_ima_measured(log), Some((7022.0, 116332.0)));
        assert_eq!(parse_ima_measured("ima: measured /x (12 KiB) in 5 us"), Some((12.0, 5.0)));
        assert_eq!(parse_ima_measured("nothing"), None);
    }

    #[test]
    fn load_line() {
        let log = "[    1.000000] kexec_file: probe bzImage64: ok\n\
                   [    1.200000] kexec_file: loaded /boot/vmlinuz in 183456 us\n";
        assert_eq!(parse_load_us(log).as_deref(), Some("183456"));
        assert_eq!(parse_load_us("kexec_file: image unloaded\n"), None);
    }

    #[test]
    fn hashed_line() {
        assert_eq!(
            parse_hashed("purgatory: hashed 9437184 bytes in 123456789 cycles"),
            Some((9437184, 123456789))
        );
        assert_eq!(parse_hashed("purgatory: verifying 4 regions"), None);
    }

    #[test]
    fn printk_stamp() {
        let log =
            "x\n[    2.588662] kexos-kexec: before load\n[    4.174671] kexos-kexec: after load\n";
        assert_eq!(printk_time(log, "before load"), Some(2.588662));
        assert_eq!(printk_time(log, "after load"), Some(4.174671));
        assert_eq!(printk_time(log, "nothing"), None);
    }

    #[test]
    fn trace_lines() {
        let log = "KEXOS-LINUX-KEXEC: trace kexec-85      [000] ...1.     2.769537: sys_kexec_file_load(kernel_fd: 3, initrd_fd: 4, cmdline_len: 2b, cmdline_ptr: 55719df732a0, flags: 0)\n\
KEXOS-LINUX-KEXEC: trace kexec-85      [000] ...1.     4.216077: sys_kexec_file_load -> 0x0\n";
        let (a, b, r) = parse_trace(log).unwrap();
        assert_eq!((a, b, r.as_str()), (2.769537, 4.216077, "0x0"));
        assert_eq!(parse_trace("KEXOS-LINUX-KEXEC: trace end\n"), None);
    }
    #[test]
    fn tsc_line() {
        // The refusal line before it names the TSC but is no frequency.
        let log = format!(
            "[ 0.001] {}5 kHz is outside 1000..=100000000 kHz\n[ 0.006] time: TSC 2994.500 MHz (calibrated against the PIT)\n",
            bootstats::tsc::REFUSED_PREFIX
        );
        assert_eq!(parse_tsc_mhz(&log), Some(2994.5));
        assert_eq!(parse_tsc_mhz("nothing\n"), None);
    }
}
