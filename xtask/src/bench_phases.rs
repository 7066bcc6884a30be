//! Issue 13: the kexec-into-Linux figures over [`RUNS`] runs each, kexos and Linux measured in
//! the same bench run (min / median / max, and the ratio of the medians), then where kexos's
//! time goes: the kernel's `load phases` and `exec phases` lines and purgatory's `phases` line
//! (formats: kexec_core::phases), as medians over the runs.
//!
//! One kexos run is [`bench::kexec_into_linux`] in a fresh boot (release kernel, UEFI, 512M);
//! one Linux run is [`bench::linux_kexec_linux`] (the fixture Linux kexec'ing itself with
//! Debian's kexec-tools). A fresh machine each time, so no run sees another's loaded image.

use std::path::Path;
use std::time::Duration;

use kexec_core::phases::{parse_phases, total_us, EXEC_PHASES, LOAD_PHASES};
use kexec_core::purgatory_abi::PURGATORY_PHASES;
use kexec_core::purgatory_abi::RegionHash;
use kexos_tests::{Firmware, LinuxFixture, Machine};

use crate::bench::{self, row};

/// Runs of each side.
pub const RUNS: usize = 3;

/// min, median, max of `v` (None when empty).
pub fn min_median_max(v: &[f64]) -> Option<(f64, f64, f64)> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = match n {
        0 => return None,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    };
    Some((s[0], median, s[n - 1]))
}

/// The leading number of a figure string ("442123 us (kernel log)", "0.651 s").
fn number(s: Option<&str>) -> Option<f64> {
    s?.split_whitespace().next()?.parse().ok()
}

/// One kexos run: the load (ms), `kexec -e` -> Linux banner (s) and the phase lines.
struct KexosRun {
    load_ms: f64,
    exec_s: f64,
    phases: Vec<(&'static str, Vec<(String, u64)>)>,
}

/// Log names: `bench-phases-<what>-N`, with `-xxh64` before N for the XXH64 runs.
fn run_name(what: &str, hash: RegionHash, i: usize) -> String {
    match hash {
        RegionHash::Sha256 => format!("bench-phases{what}-{i}"),
        other => format!("bench-phases{what}-{}-{i}", other.name()),
    }
}

fn kexos_run(image: &Path, logs: &Path, i: usize, hash: RegionHash) -> Result<KexosRun, String> {
    let name = run_name("", hash, i);
    let log = logs.join(format!("{name}.log"));
    let mut m = Machine::spawn_image(&name, image, Firmware::Uefi, "512M", &[], Some(log))
        .map_err(|e| format!("{e:#}"))?;
    m.print_on_failure = false;
    m.expect_prompt(Duration::from_secs(120))
        .map_err(|_| "no prompt".to_string())?;
    let (f, why) = bench::kexec_into_linux(&mut m, hash);
    if let Some(why) = why {
        return Err(why);
    }
    let log = m.transcript();
    let phases = phase_lines(&log);
    // The whole syscall, as Linux's ftrace enter/exit span: the load phases' total (the
    // `loaded ... in N us` figure covers only place -> control).
    let total = total_us(&phases[0].1).map(|us| us as f64).ok_or("no load phases line")?;
    let exec_s = number(f[row::EXEC_TO_BANNER].value.as_deref()).ok_or("no exec figure")?;
    // The next kernel to its first line: what is left of `kexec -e` -> banner after
    // `kexec -e` -> purgatory's first line and purgatory's lines (all host time).
    let before: Option<f64> = [row::EXEC_TO_PURGATORY, row::PURGATORY_HOST].iter().map(|&r| number(f[r].value.as_deref())).sum();
    let mut phases = phases;
    if let Some(b) = before {
        phases.push(("next", vec![(String::from("to 'Linux version' (host)"), ((exec_s - b).max(0.0) * 1e6) as u64)]));
    }
    Ok(KexosRun { load_ms: total / 1000.0, exec_s, phases })
}

/// The phase lines of a log: load, exec, purgatory.
fn phase_lines(log: &str) -> Vec<(&'static str, Vec<(String, u64)>)> {
    let line = |prefix: &str| log.lines().find(|l| l.contains(prefix)).map(|l| parse_phases(l, prefix)).unwrap_or_default();
    vec![("load", line(LOAD_PHASES)), ("exec", line(EXEC_PHASES)), ("purgatory", line(PURGATORY_PHASES))]
}

/// One kexos -> kexos run in `image` (the default layout without Linux, as the self-kexec
/// bench): load kexos.bzImage, `kexec -e`, host time to the next kexos's prompt.
fn self_run(image: &Path, logs: &Path, i: usize, hash: RegionHash) -> Result<KexosRun, String> {
    let name = run_name("-self", hash, i);
    let mut m = Machine::spawn_image(&name, image, Firmware::Uefi, "512M", &[], Some(logs.join(format!("{name}.log"))))
        .map_err(|e| format!("{e:#}"))?;
    m.print_on_failure = false;
    load_self(&mut m, hash)?;
    let (te, tok) = exec_self(&mut m, hash)?;
    let tp = m.match_time();
    let exec_s = tp.saturating_sub(te).as_secs_f64();
    let mut phases = phase_lines(&m.transcript());
    phases.push(("next", vec![(String::from("to prompt (host)"), tp.saturating_sub(tok).as_micros() as u64)]));
    let _ = m.poweroff();
    m.kill();
    let total = total_us(&phases[0].1).map(|us| us as f64).ok_or("no load phases line")?;
    Ok(KexosRun { load_ms: total / 1000.0, exec_s, phases })
}

/// How long each step of a self-kexec run may take.
const SELF_STEP: Duration = Duration::from_secs(60);

/// A self-kexec run's first half: the first prompt, then kexos.bzImage loaded with the image's
/// initramfs and purgatory's `hash`.
pub(crate) fn load_self(m: &mut Machine, hash: RegionHash) -> Result<(), String> {
    m.expect_prompt(SELF_STEP).map_err(|_| "no prompt".to_string())?;
    let cmd = format!("kexec -s -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=bench{}", bench::digest_option(hash));
    let out = m.run(&cmd).map_err(|e| e.to_string())?;
    if !out.contains("(bzImage64) in ") {
        return Err(format!("load: {}", out.trim()));
    }
    Ok(())
}

/// The second half: `kexec -e`, then the next kexos's prompt. Returns when (since QEMU
/// started) the echo of `kexec -e` and purgatory's ok line arrived; the prompt's is
/// `m.match_time()`.
pub(crate) fn exec_self(m: &mut Machine, hash: RegionHash) -> Result<(Duration, Duration), String> {
    m.send_line("kexec -e").map_err(|e| e.to_string())?;
    let (_, te) = m.expect_timed("kexec -e\n", SELF_STEP).map_err(|_| "no echo of kexec -e".to_string())?;
    let (_, tok) = m.expect_timed(hash.ok_line(), SELF_STEP).map_err(|_| format!("no `{}`", hash.ok_line()))?;
    m.expect("boot: entered via boot protocol", SELF_STEP).map_err(|_| "the next kexos did not start".to_string())?;
    m.expect_prompt(SELF_STEP).map_err(|_| "the next kexos reached no prompt".to_string())?;
    Ok((te, tok))
}

/// The capture kernel's command line in the Linux kdump run (as bench_crash's).
const KDUMP_APPEND: &str = "console=ttyS0 nr_cpus=1 reset_devices irqpoll panic=-1";
/// What the kdump script prints with the status of its `kexec -s -p`.
const KDUMP_STATUS: &str = "kexos-bench: kdump load status ";

/// One Linux kdump run: the fixture Linux (crashkernel=160M, 512M) loads itself as the crash
/// kernel with Debian's `kexec -s -p`, then crashes with sysrq-c; host time from
/// `sysrq: Trigger a crash` to the capture kernel's banner.
fn linux_kdump_run(fx: &LinuxFixture, target: &Path, i: usize) -> Result<f64, String> {
    use kexos_tests::linux_markers::BANNER;
    let script = format!(
        "export PATH=/sbin:/bin\n/sbin/kexec -s -p {} --initrd={} --append=\"{KDUMP_APPEND}\"\necho \"{KDUMP_STATUS}$?\"\n\
         # Let the serial port drain before the crash stops the machine.\nsleep 1\necho c > /proc/sysrq-trigger\nexit 1\n",
        boot::linux::KEXEC_KERNEL,
        boot::linux::KEXEC_INITRD
    );
    let name = format!("bench-phases-kdump-{i}");
    let initrd = target.join("bench").join(format!("{name}.img"));
    fx.build_kexec_initrd(&[], Some(&script), &initrd).map_err(|e| format!("{e:#}"))?;
    let cmd = kexos_tests::qemu_linux_command(&fx.kernel, &initrd, "console=ttyS0 crashkernel=160M", "512M", &[]);
    let log = target.join("test-logs").join(format!("{name}.log"));
    let mut m = Machine::spawn_command(&name, cmd, Some(log)).map_err(|e| format!("{e:#}"))?;
    m.print_on_failure = false;
    let to = Duration::from_secs(180);
    let r = (|| {
        m.expect(BANNER, to).map_err(|_| "no first banner".to_string())?;
        let status = m.expect_line(KDUMP_STATUS, to).map_err(|_| "no kdump load status".to_string())?;
        if status.trim() != "0" {
            return Err(format!("`kexec -s -p` exited with {}", status.trim()));
        }
        let (_, t0) = m.expect_timed("sysrq: Trigger a crash", to).map_err(|_| "no sysrq crash".to_string())?;
        let (_, t1) = m.expect_timed(BANNER, to).map_err(|_| "no capture kernel banner".to_string())?;
        Ok(t1.saturating_sub(t0).as_secs_f64())
    })();
    m.kill();
    r
}

/// One Linux run: its kexec_file_load (ms, ftrace) and `kexec -e` -> banner (s).
fn linux_run(fx: &LinuxFixture, target: &Path, i: usize) -> Result<(f64, f64), String> {
    let mut f = bench::figures();
    if let Some(why) = bench::linux_kexec_linux(fx, target, &format!("bench-phases-linux-{i}"), &mut f) {
        return Err(why);
    }
    let load = number(f[row::LOAD].linux.as_deref()).ok_or("no ftrace load figure")?;
    let exec = number(f[row::EXEC_TO_BANNER].linux.as_deref()).ok_or("no exec figure")?;
    Ok((load / 1000.0, exec))
}

fn fmt3((a, b, c): (f64, f64, f64), unit: &str, prec: usize) -> String {
    format!("{a:.prec$} / {b:.prec$} / {c:.prec$} {unit}")
}

/// Attempts a series may take beyond [`RUNS`] to make up for runs that stopped, so that every
/// figure still rests on [`RUNS`] runs when the host hiccups (a Linux boot under TCG that never
/// reaches its script, say). Each stopped run is printed with its reason; its log keeps its
/// own attempt number.
pub const SPARE_ATTEMPTS: usize = 2;

/// One figure's runs: what it has, and how many attempts it made.
struct Series<T> {
    what: String,
    runs: Vec<T>,
    attempts: usize,
}

impl<T> Series<T> {
    fn new(what: String) -> Self {
        Series { what, runs: Vec::new(), attempts: 0 }
    }

    fn wants_more(&self) -> bool {
        self.runs.len() < RUNS && self.attempts < RUNS + SPARE_ATTEMPTS
    }

    /// One more attempt (numbered from 0), if the series wants one; prints why it stopped.
    fn attempt(&mut self, run: impl FnOnce(usize) -> Result<T, String>) {
        if !self.wants_more() {
            return;
        }
        let i = self.attempts;
        self.attempts += 1;
        match run(i) {
            Ok(r) => self.runs.push(r),
            Err(e) => println!("  ({} run {i} stopped: {e})", self.what),
        }
    }
}

/// kexos's runs with one purgatory digest: into Linux, into kexos, panic into a capture kexos.
struct KexosSide {
    hash: RegionHash,
    linux: Series<KexosRun>,
    selfs: Series<KexosRun>,
    crashes: Series<KexosRun>,
}

impl KexosSide {
    fn new(hash: RegionHash) -> Self {
        let tag = match hash {
            RegionHash::Sha256 => String::new(),
            other => format!(" ({})", other.name()),
        };
        KexosSide {
            hash,
            linux: Series::new(format!("kexos{tag}")),
            selfs: Series::new(format!("kexos -> kexos{tag}")),
            crashes: Series::new(format!("kexos crash{tag}")),
        }
    }

    fn wants_more(&self, with_self: bool) -> bool {
        self.linux.wants_more() || self.crashes.wants_more() || (with_self && self.selfs.wants_more())
    }

    /// One attempt of each series that still wants runs.
    fn run(&mut self, image: &Path, self_image: Option<&Path>, root: &Path) {
        let logs = root.join("target").join("test-logs");
        let artifacts = kexos_tests::Artifacts::at(root);
        let hash = self.hash;
        self.crashes.attempt(|i| {
            crate::bench_crash::panic_to_capture_prompt(&artifacts, &run_name("-crash", hash, i), hash)
                .map(|(d, log)| KexosRun { load_ms: 0.0, exec_s: d.as_secs_f64(), phases: phase_lines(&log) })
        });
        self.linux.attempt(|i| kexos_run(image, &logs, i, hash));
        if let Some(img) = self_image {
            self.selfs.attempt(|i| self_run(img, &logs, i, hash));
        }
    }

    /// The ratio rows against Linux's runs (`linux`: load ms, exec s) and kdump's.
    fn print_rows(&self, linux: &[(f64, f64)], kdumps: &[f64]) {
        // (figure, kexos's values, Linux's, unit, decimals, goal)
        type Row<'a> = (&'a str, Vec<f64>, Vec<f64>, &'a str, usize, &'a str);
        let rows: [Row; 2] = [
            (
                "kexec_file_load syscall (whole)",
                self.linux.runs.iter().map(|r| r.load_ms).collect(),
                linux.iter().map(|r| r.0).collect(),
                "ms",
                1,
                "<= 0.25x",
            ),
            (
                "`kexec -e` -> 'Linux version' (host)",
                self.linux.runs.iter().map(|r| r.exec_s).collect(),
                linux.iter().map(|r| r.1).collect(),
                "s",
                3,
                "<= 0.40x",
            ),
        ];
        for (label, k, l, unit, prec, goal) in rows {
            let (Some(k), Some(l)) = (min_median_max(&k), min_median_max(&l)) else {
                println!("  {label:<40} n/a");
                continue;
            };
            println!(
                "  {label:<40} kexos {:<28} Linux {:<28} {:.2}x [{goal}]",
                fmt3(k, unit, prec),
                fmt3(l, unit, prec),
                k.1 / l.1
            );
        }
        let l2l = min_median_max(&linux.iter().map(|r| r.1).collect::<Vec<_>>());
        match (min_median_max(&self.selfs.runs.iter().map(|r| r.exec_s).collect::<Vec<_>>()), l2l) {
            (Some(k), Some(l)) => println!(
                "  {:<40} kexos {:<28} Linux -> Linux 'Linux version' {:.3} s: {:.1}% [<= 3%]",
                "`kexec -e` -> next kexos prompt (host)",
                fmt3(k, "s", 3),
                l.1,
                100.0 * k.1 / l.1
            ),
            _ => println!("  `kexec -e` -> next kexos prompt: n/a"),
        }
        match (min_median_max(&self.crashes.runs.iter().map(|r| r.exec_s).collect::<Vec<_>>()), min_median_max(kdumps)) {
            (Some(k), Some(l)) => println!(
                "  {:<40} kexos {:<28} Linux kdump (sysrq-c -> capture banner) {}: {:.1}% [<= 3%]",
                "panic -> capture kexos prompt (host)",
                fmt3(k, "s", 3),
                fmt3(l, "s", 3),
                100.0 * k.1 / l.1
            ),
            _ => println!("  panic -> capture prompt: n/a"),
        }
    }

    fn print_breakdowns(&self) {
        println!("  where kexos's time goes, kexec into Linux:");
        print_breakdown(&self.linux.runs);
        println!("  where kexos's time goes, kexec into kexos:");
        print_breakdown(&self.selfs.runs);
        println!("  where kexos's time goes, crash into the capture kexos:");
        print_breakdown(&self.crashes.runs);
    }
}

/// Run both sides [`RUNS`] times (interleaved, so that a slow spell of the host touches every
/// series alike; with up to [`SPARE_ATTEMPTS`] more for a series whose runs stopped) and print
/// the table and the breakdown: kexos with purgatory's default SHA-256, then with
/// `kexec --digest=xxh64`, against the same Linux runs.
pub fn phase_figures(image: &Path, self_image: Option<&Path>, fx: &LinuxFixture, root: &Path) {
    let target = &root.join("target");
    let mut sha = KexosSide::new(RegionHash::Sha256);
    let mut xxh = KexosSide::new(RegionHash::Xxh64);
    let mut linux = Series::new("Linux".to_string());
    let mut kdumps = Series::new("Linux kdump".to_string());
    let with_self = self_image.is_some();
    while sha.wants_more(with_self) || xxh.wants_more(with_self) || linux.wants_more() || kdumps.wants_more() {
        sha.run(image, self_image, root);
        xxh.run(image, self_image, root);
        kdumps.attempt(|i| linux_kdump_run(fx, target, i));
        linux.attempt(|i| linux_run(fx, target, i));
    }
    let (linux, kdumps) = (linux.runs, kdumps.runs);
    println!(
        "kexec into Linux, {} kexos runs ({} with --digest=xxh64) and {} Linux runs in this bench run (min / median / max; ratio of medians, goal in brackets)",
        sha.linux.runs.len(),
        xxh.linux.runs.len(),
        linux.len()
    );
    sha.print_rows(&linux, &kdumps);
    println!("  (kexos's syscall includes IMA measuring both files on every load; Linux without an IMA policy measures nothing)");
    println!("  the same with `kexec --digest=xxh64` (KEXEC_FILE_XXH64_DIGEST: purgatory checks XXH64, not SHA-256), same Linux runs:");
    xxh.print_rows(&linux, &kdumps);
    sha.print_breakdowns();
    println!("  where kexos's time goes with --digest=xxh64:");
    xxh.print_breakdowns();
    if let Some(self_image) = self_image {
        crate::bench_translate::print(self_image, &target.join("test-logs"));
    }
    println!("  (logs: target/test-logs/bench-phases-N.log, bench-phases-xxh64-N.log, bench-translate*.log, bench-phases-linux-N.log, bench-phases-kdump-N.log)");
}

/// Median (min-max) of every phase, in the order the kernel logged them.
fn print_breakdown(runs: &[KexosRun]) {
    let Some(first) = runs.first() else { return };
    println!("    (median (min-max) over the runs, us)");
    for (k, (what, names)) in first.phases.iter().enumerate() {
        let items: Vec<String> = names
            .iter()
            .map(|(name, _)| {
                let v: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| {
                        r.phases
                            .get(k)?
                            .1
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|p| p.1 as f64)
                    })
                    .collect();
                match min_median_max(&v) {
                    Some((a, b, c)) => format!("{name} {b:.0} ({a:.0}-{c:.0})"),
                    None => format!("{name} n/a"),
                }
            })
            .collect();
        println!(
            "    {what:<10} {}",
            if items.is_empty() {
                "n/a (no phase line)".into()
            } else {
                items.join(", ")
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_makes_up_for_stopped_runs_within_its_spares() {
        // Run 1 stops: attempt 3 replaces it, and the series then has RUNS runs.
        let mut s = Series::new("t".into());
        while s.wants_more() {
            s.attempt(|i| if i == 1 { Err("stopped".into()) } else { Ok(i) });
        }
        assert_eq!((s.runs, s.attempts), (vec![0, 2, 3], RUNS + 1));
        // Every run stops: the series gives up after RUNS + SPARE_ATTEMPTS attempts.
        let mut s = Series::<usize>::new("t".into());
        for _ in 0..10 {
            s.attempt(|_| Err("stopped".into()));
        }
        assert_eq!((s.runs.len(), s.attempts), (0, RUNS + SPARE_ATTEMPTS));
    }

    #[test]
    fn medians() {
        assert_eq!(min_median_max(&[]), None);
        assert_eq!(min_median_max(&[3.0, 1.0, 2.0]), Some((1.0, 2.0, 3.0)));
        assert_eq!(min_median_max(&[4.0, 1.0, 2.0, 3.0]), Some((1.0, 2.5, 4.0)));
    }

    #[test]
    fn figure_numbers() {
        assert_eq!(number(Some("442123 us (kernel log)")), Some(442123.0));
        assert_eq!(number(Some("0.651 s")), Some(0.651));
        assert_eq!(number(Some("n/a (no ftrace)")), None);
        assert_eq!(number(None), None);
    }
}
