//! The issue 3 figures of `cargo xtask bench`: kexec from the kexos shell into the Linux fixture.
//!
//! Kernel-side figures are parsed from the serial console; the others are host wall-clock times
//! between two console lines (to the precision of one read of QEMU's stdout pipe), labelled as
//! such. A figure that is not available (kernel side not done yet, a step failed) is `n/a`.

use std::time::Duration;

use kexos_tests::{linux_markers, Machine};

/// The command line Linux gets in the bench (no `quiet`: its banner is the first console line).
pub const APPEND: &str = "console=ttyS0";

/// One printed figure.
pub struct Figure {
    pub label: &'static str,
    pub value: Option<String>,
}

fn secs(d: Duration) -> String {
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

/// `purgatory: hashed <bytes> bytes in <cycles> cycles` -> (bytes, cycles).
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

/// A TSC frequency in MHz if the kernel logged one (a line with `TSC`/`tsc` and `MHz`).
pub fn parse_tsc_mhz(log: &str) -> Option<f64> {
    log.lines()
        .filter(|l| l.to_ascii_lowercase().contains("tsc") && l.contains("MHz"))
        .find_map(|l| {
            let before = l.split("MHz").next()?;
            before.split_whitespace().last()?.parse().ok()
        })
}

/// Loads the fixture with `kexec -s -l`, runs `kexec -e` and times each step until Linux's
/// /init runs. Returns the figures and, if a step failed, why the rest are n/a.
pub fn kexec_into_linux(m: &mut Machine) -> (Vec<Figure>, Option<String>) {
    let mut f = vec![
        Figure {
            label: "kexec_file_load (kernel log)",
            value: None,
        },
        Figure {
            label: "`kexec -s -l` command (host time)",
            value: None,
        },
        Figure {
            label: "`kexec -e` -> purgatory entry (host time)",
            value: None,
        },
        Figure {
            label: "purgatory verify (purgatory log)",
            value: None,
        },
        Figure {
            label: "purgatory verify (host time)",
            value: None,
        },
        Figure {
            label: "`kexec -e` -> 'Linux version' (host time)",
            value: None,
        },
        Figure {
            label: "'Linux version' -> /init (host time)",
            value: None,
        },
    ];
    let why = (|| -> Result<(), String> {
        let cmd =
            format!("kexec -s -l /boot/vmlinuz --initrd=/boot/initrd.img --append=\"{APPEND}\"");
        m.send_line(&cmd).map_err(|e| e.to_string())?;
        let (_, t0) = m
            .expect_timed(&format!("{cmd}\n"), Duration::from_secs(30))
            .map_err(|_| "no echo of the kexec -l command".to_string())?;
        let out = m
            .expect_prompt(Duration::from_secs(180))
            .map_err(|_| "no prompt within 180 s after kexec -l".to_string())?;
        let t1 = m.match_time();
        f[1].value = Some(secs(t1.saturating_sub(t0)));
        f[0].value = parse_load_us(&out).map(|n| format!("{n} us"));
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
        f[2].value = Some(secs(tp.saturating_sub(te)));
        let line = m
            .expect_line("purgatory: hashed ", Duration::from_secs(120))
            .map_err(|_| "no `purgatory: hashed` line".to_string())?;
        let (_, tok) = m
            .expect_timed("purgatory: sha256 ok", Duration::from_secs(30))
            .map_err(|_| "no `purgatory: sha256 ok`".to_string())?;
        f[4].value = Some(format!(
            "{} (first purgatory line -> sha256 ok)",
            secs(tok.saturating_sub(tp))
        ));
        if let Some((bytes, cycles)) = parse_hashed(&format!("purgatory: hashed {line}")) {
            let mib = bytes as f64 / (1024.0 * 1024.0);
            f[3].value = Some(match parse_tsc_mhz(&m.transcript()) {
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
        f[5].value = Some(secs(tl.saturating_sub(te)));
        let (_, ti) = m
            .expect_timed(linux_markers::INIT_UP, Duration::from_secs(120))
            .map_err(|_| "Linux did not reach /init within 120 s".to_string())?;
        f[6].value = Some(secs(ti.saturating_sub(tl)));
        let _ = m.wait_exit(Duration::from_secs(60));
        Ok(())
    })()
    .err();
    (f, why)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn tsc_line() {
        assert_eq!(
            parse_tsc_mhz("[ 0.1] kexos: TSC 2994.5 MHz\n"),
            Some(2994.5)
        );
        assert_eq!(parse_tsc_mhz("nothing\n"), None);
    }
}
