//! The issue 3 and 4 figures of `cargo xtask bench`. Issue 3: kexec from the kexos shell into
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
//! Issue 4 ([`self_kexec`]): kexos kexec'ing kexos from a small initramfs (no Linux fixture),
//! `kexec -e` to the next prompt against Linux's own `kexec -e`, the load times of both kexos
//! images, their sizes, and the smallest `--mem` for a 3-hop chain.

use std::path::Path;
use std::time::{Duration, Instant};

use kexos_tests::{linux_markers, Artifacts, BootOptions, Firmware, LinuxFixture, Machine};

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
/// /init runs (the kexos column of [`figures`]). Returns the figures and, if a step failed, why
/// the rest are n/a.
pub fn kexec_into_linux(m: &mut Machine) -> (Vec<Figure>, Option<String>) {
    let mut f = figures();
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
        f[row::LOAD_CMD_HOST].value = Some(secs(t1.saturating_sub(t0)));
        f[row::LOAD].value = parse_load_us(&out).map(|n| format!("{n} us (kernel log)"));
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
            .expect_timed("purgatory: sha256 ok", Duration::from_secs(30))
            .map_err(|_| "no `purgatory: sha256 ok`".to_string())?;
        f[row::PURGATORY_HOST].value = Some(format!(
            "{} (first purgatory line -> sha256 ok)",
            secs(tok.saturating_sub(tp))
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
/// `<target>/test-logs/bench-linux-kexec.log`.
pub fn linux_kexec_linux(fx: &LinuxFixture, target: &Path, f: &mut [Figure]) -> Option<String> {
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
    let log = target.join("test-logs/bench-linux-kexec.log");
    let mut m = match Machine::spawn_linux_kexec(
        "bench-linux-kexec",
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

/// Memory sizes tried for the smallest `--mem` of a 3-hop self-kexec chain, ascending.
pub const CHAIN_MEMS: &[u32] = &[32, 40, 48, 64, 96, 128];
/// Time allowed for one attempt of the memory search (boot plus three hops).
const ATTEMPT: Duration = Duration::from_secs(60);

/// The figure in seconds of a [`secs`] string (`"1.456 s"`).
fn secs_of(s: Option<&str>) -> Option<f64> {
    s?.strip_suffix(" s")?.parse().ok()
}

/// The rest of the first line of `log` after `pat`.
fn line_after<'a>(log: &'a str, pat: &str) -> Option<&'a str> {
    let rest = &log[log.find(pat)? + pat.len()..];
    Some(rest.lines().next().unwrap_or("").trim())
}

/// What OVMF prints when it stops for good (an exception dump; no bootable disk found).
const FIRMWARE_STOPS: [&str; 2] = ["X64 Exception Type", "No bootable option or device"];

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

/// Why a machine stopped: the kernel's panic line, or else the last printable console line.
fn last_words(log: &str) -> String {
    let lines: Vec<String> = log
        .split("\n----- qemu stderr -----\n")
        .next()
        .unwrap_or("")
        .lines()
        .map(printable)
        .filter(|l| !l.is_empty() && !l.starts_with("kexos:/"))
        .collect();
    // OVMF found nothing to boot, or its exception dump (first line; had kexos started?).
    if let Some(l) = lines.iter().find(|l| l.contains(FIRMWARE_STOPS[1])) {
        return format!("{l} (the firmware, OVMF, did not start the boot loader)");
    }
    if let Some(l) = lines.iter().find(|l| l.contains(FIRMWARE_STOPS[0])) {
        let who = if log.contains(" booting\n") {
            "after kexos started"
        } else if log.contains("BdsDxe: starting") {
            "in the boot loader (UEFI stage), before kexos started"
        } else {
            "in the firmware (OVMF), before the boot loader started"
        };
        return format!("{} {who}", l.trim_matches(|c| c == '!' || c == ' '));
    }
    lines
        .iter()
        .position(|l| l.contains("PANIC") || l.contains("panicked"))
        .map(|i| {
            lines[i..]
                .iter()
                .take(2)
                .cloned()
                .collect::<Vec<_>>()
                .join(" / ")
        })
        .or_else(|| lines.last().cloned())
        .unwrap_or_else(|| "no console output".into())
}

/// Boots `image` with `mem` of RAM and does 3 self-kexec hops (`/boot/kexos.bzImage` with
/// `/boot/initramfs.cpio`), each checked by its command line, all within [`ATTEMPT`]. Returns
/// the first boot's `mm:` line, or why it failed.
fn chain_attempt(image: &Path, mem: u32, logs: &Path) -> Result<String, String> {
    let name = format!("bench-mem-{mem}M");
    let mut m = Machine::spawn_image(
        &name,
        image,
        Firmware::Uefi,
        &format!("{mem}M"),
        &[],
        Some(logs.join(format!("{name}.log"))),
    )
    .map_err(|e| format!("{e:#}"))?;
    m.print_on_failure = false;
    let deadline = Instant::now() + ATTEMPT;
    let left = || deadline.saturating_duration_since(Instant::now());
    let res = (|| -> Result<String, String> {
        let stopped = |m: &Machine, what: &str| format!("{what}: {}", last_words(&m.transcript()));
        // Firmware exceptions hang the machine: look for one while waiting for the prompt.
        loop {
            let tick = left().min(Duration::from_millis(500));
            match m.expect_prompt(tick) {
                Ok(_) => break,
                Err(e) if e.to_string().contains("timed out") && !tick.is_zero() => {
                    let log = m.transcript();
                    if FIRMWARE_STOPS.iter().any(|f| log.contains(f)) {
                        return Err(stopped(&m, "first boot"));
                    }
                }
                Err(_) => return Err(stopped(&m, "first boot")),
            }
        }
        let mm = line_after(&m.transcript(), "mm: ")
            .map(|l| format!("mm: {l}"))
            .unwrap_or_default();
        for hop in 1..=3 {
            m.cmd_timeout = left();
            let append = format!("hop={hop}");
            let out = m
                .run(&format!(
                    "kexec -s -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=\"{append}\""
                ))
                .map_err(|_| stopped(&m, &format!("hop {hop} load")))?;
            if out.contains("failed") || !out.contains("(bzImage64) in ") {
                let why = out
                    .lines()
                    .find(|l| l.contains("failed"))
                    .unwrap_or(out.trim());
                return Err(format!("hop {hop} load: {}", why.trim()));
            }
            m.send_line("kexec -e").map_err(|e| e.to_string())?;
            m.expect("boot: entered via boot protocol", left())
                .and_then(|_| m.expect_prompt(left()))
                .map_err(|_| stopped(&m, &format!("hop {hop}")))?;
            m.cmd_timeout = left();
            let cmdline = m
                .run("cat /proc/cmdline")
                .map_err(|_| stopped(&m, &format!("hop {hop}")))?;
            if cmdline.trim() != append {
                return Err(format!("hop {hop}: /proc/cmdline is {:?}", cmdline.trim()));
            }
        }
        Ok(mm)
    })();
    m.kill();
    res
}

/// The issue 4 figures: a self-kexec (`kexec -e` -> next kexos prompt, host and guest time),
/// `kexec_file_load` of kexos.bzImage and kexos.elf, the image sizes, and the smallest `--mem`
/// with which a 3-hop chain works. Boots a small image (the default layout without the Linux
/// fixture, as the scenarios do) built from the release kernel `stripped` under `root/target`.
/// `issue3` are the kexec-into-Linux figures, for the comparison. Prints everything; a figure
/// that could not be taken is n/a with the reason.
pub fn self_kexec(root: &Path, stripped: &Path, issue3: Option<&[Figure]>) {
    let started = Instant::now();
    let artifacts = Artifacts::at(root);
    let logs = artifacts.target("test-logs");
    let opts = BootOptions {
        name: "bench-self-kexec".into(),
        ..BootOptions::new(Firmware::Uefi)
    };
    println!("self-kexec (issue 4; release kernel, UEFI, TCG, initramfs without Linux)");
    let image = match opts.build_image(&artifacts) {
        Ok(i) => i,
        Err(e) => {
            println!("  n/a: {e:#}");
            return;
        }
    };
    let initramfs = image.with_file_name("initramfs.cpio");
    let bz = artifacts.target("bench/kexos.bzImage");
    let size = |p: &Path| {
        crate::file_size(p)
            .map(crate::kib)
            .unwrap_or_else(|_| "n/a".into())
    };
    let bz_size = match boot::bzimage::build(stripped, &bz) {
        Ok(_) => size(&bz),
        Err(e) => format!("n/a ({e:#})"),
    };
    println!(
        "  image sizes:                          kexos.bzImage {bz_size}, kexos.elf (stripped) {}, initramfs.cpio {}",
        size(stripped),
        size(&initramfs)
    );

    // One machine: load kexos.elf, then kexos.bzImage (which replaces it), then `kexec -e`.
    let mut m = match Machine::spawn_image(
        "bench-self-kexec",
        &image,
        Firmware::Uefi,
        "512M",
        &[],
        Some(logs.join("bench-self-kexec.log")),
    ) {
        Ok(m) => m,
        Err(e) => {
            println!("  n/a: {e:#}");
            return;
        }
    };
    m.print_on_failure = false;
    let to = Duration::from_secs(60);
    let mut load = [None, None];
    let mut exec: Option<(Duration, String)> = None;
    let why = (|| -> Result<(), String> {
        m.expect_prompt(to)
            .map_err(|_| "no first prompt".to_string())?;
        let images = [
            ("/boot/kexos.elf", "elf64"),
            ("/boot/kexos.bzImage", "bzImage64"),
        ];
        for (i, (file, loader)) in images.into_iter().enumerate() {
            let out = m
                .run(&format!(
                    "kexec -s -l {file} --initrd=/boot/initramfs.cpio --append=\"bench={loader}\""
                ))
                .map_err(|e| e.to_string())?;
            if !out.contains(&format!("({loader}) in ")) {
                return Err(format!("loading {file}: {}", out.trim()));
            }
            load[i] = parse_load_us(&out);
        }
        m.send_line("kexec -e").map_err(|e| e.to_string())?;
        let (_, te) = m
            .expect_timed("kexec -e\n", to)
            .map_err(|_| "no echo of kexec -e".to_string())?;
        let hashed = m
            .expect_line("purgatory: hashed ", to)
            .map_err(|_| "no `purgatory: hashed` line".to_string())?;
        m.expect("boot: entered via boot protocol", to)
            .map_err(|_| "the next kexos did not start".to_string())?;
        m.expect_prompt(to)
            .map_err(|_| "the next kexos reached no prompt".to_string())?;
        let tp = m.match_time();
        let ms = m
            .expect_line(kexos_tests::markers::BOOT_TO_PROMPT, to)
            .map_err(|_| "no `boot to prompt` line from the next kexos".to_string())?;
        let ms: Option<f64> = ms.trim().strip_suffix(" ms").and_then(|n| n.parse().ok());
        let purg = parse_hashed(&format!("purgatory: hashed {hashed}"));
        let mhz = parse_tsc_mhz(&m.transcript());
        let guest = match (ms, purg, mhz) {
            (Some(ms), Some((bytes, cycles)), Some(mhz)) => {
                let p = cycles as f64 / (mhz * 1000.0);
                let mib = bytes as f64 / (1024.0 * 1024.0);
                format!(
                    "{:.1} ms (purgatory {p:.1} ms for {mib:.1} MiB at {mhz} MHz \
                     + next kernel's boot to prompt {ms:.1} ms)",
                    p + ms
                )
            }
            (Some(ms), _, _) => {
                format!("n/a (boot to prompt {ms} ms; purgatory cycles or TSC MHz not logged)")
            }
            _ => "n/a (no `boot to prompt` figure)".into(),
        };
        exec = Some((tp.saturating_sub(te), guest));
        let _ = m.poweroff();
        Ok(())
    })()
    .err();
    m.kill();
    drop(m);
    let load_fig = |v: &Option<String>| {
        v.as_ref()
            .map_or("n/a".into(), |n| format!("{n} us (kernel log)"))
    };
    println!(
        "  kexec_file_load kexos.bzImage:        {}",
        load_fig(&load[1])
    );
    println!(
        "  kexec_file_load kexos.elf:            {}",
        load_fig(&load[0])
    );
    match &exec {
        Some((host, guest)) => {
            println!(
                "  `kexec -e` -> next kexos prompt:      {} (host time)",
                secs(*host)
            );
            println!("                                        {guest} (guest time)");
            let fig = |r: usize| issue3.and_then(|f| f.get(r));
            let k2l = fig(row::EXEC_TO_BANNER).and_then(|f| secs_of(f.value.as_deref()));
            let l2l = fig(row::EXEC_TO_BANNER).and_then(|f| secs_of(f.linux.as_deref()));
            let fmt = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.3} s"));
            println!(
                "  compare (host time, `kexec -e` -> first line of the next kernel): kexos -> Linux {}, Linux -> Linux {}",
                fmt(k2l),
                fmt(l2l)
            );
            if let Some(l2l) = l2l.filter(|&v| v > 0.0) {
                println!(
                    "  kexos -> kexos prompt / Linux -> Linux 'Linux version': {:.1}% (goal: a small fraction)",
                    100.0 * host.as_secs_f64() / l2l
                );
            }
        }
        None => println!("  `kexec -e` -> next kexos prompt:      n/a"),
    }
    if let Some(why) = why {
        println!("  (self-kexec stopped early: {why})");
    }

    // The smallest --mem for a 3-hop chain: binary search over CHAIN_MEMS (assumes that a chain
    // that works with some memory works with more).
    let mut tried: Vec<(u32, Result<String, String>)> = Vec::new();
    let (mut lo, mut hi) = (0, CHAIN_MEMS.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let r = chain_attempt(&image, CHAIN_MEMS[mid], &logs);
        let ok = r.is_ok();
        tried.push((CHAIN_MEMS[mid], r));
        if ok {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    tried.sort_by_key(|t| t.0);
    match CHAIN_MEMS.get(lo) {
        Some(mem) => {
            let mm = tried
                .iter()
                .find(|t| t.0 == *mem)
                .and_then(|t| t.1.as_ref().ok())
                .filter(|s| !s.is_empty())
                .map(|s| format!(" (first boot: {s})"))
                .unwrap_or_default();
            println!(
                "  smallest --mem for a 3-hop self-kexec chain: {mem}M{mm} (goal <= 64M: {})",
                if *mem <= 64 { "yes" } else { "NO" }
            );
        }
        None => println!(
            "  smallest --mem for a 3-hop self-kexec chain: n/a (none of {}M works)",
            CHAIN_MEMS.last().unwrap_or(&0)
        ),
    }
    for (mem, r) in &tried {
        match r {
            Ok(_) => println!("    {mem}M: ok"),
            Err(e) => println!("    {mem}M: fails: {e}"),
        }
    }
    if lo == 0 {
        println!("    ({}M is the smallest size tried)", CHAIN_MEMS[0]);
    }
    println!(
        "  (logs: target/test-logs/bench-self-kexec.log, bench-mem-<N>M.log; {:.0} s for the self-kexec figures)",
        started.elapsed().as_secs_f64()
    );
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
    fn stop_reasons() {
        let ovmf = "!!!! X64 Exception Type - 0E(#PF - Page-Fault)  CPU Apic ID - 00000000 !!!!\nRIP - 1\n";
        assert_eq!(
            last_words(ovmf),
            "X64 Exception Type - 0E(#PF - Page-Fault)  CPU Apic ID - 00000000 in the firmware (OVMF), before the boot loader started"
        );
        let panic = "[ 0.1] kexos 0.1.0 (release) booting\nKERNEL PANIC: out of memory\n  at mm.rs:1\nmore\n";
        assert_eq!(
            last_words(panic),
            "KERNEL PANIC: out of memory / at mm.rs:1"
        );
        assert_eq!(
            last_words("a\nkexos:/# \n\x1b[2J\x1b[=3hlast line\n"),
            "last line"
        );
        let bds = "BdsDxe: No bootable option or device was found.\nBdsDxe: Press any key to enter the Boot Manager Menu.\n";
        assert!(last_words(bds).starts_with("BdsDxe: No bootable option"));
        assert_eq!(secs_of(Some("1.456 s")), Some(1.456));
        assert_eq!(secs_of(Some("n/a")), None);
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
