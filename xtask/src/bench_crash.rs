//! The issue 5 figures of `cargo xtask bench`: crash dumps.
//!
//! - panic -> the capture kexos's prompt: host time from the arrival of the `KERNEL PANIC` line
//!   to the capture kernel's prompt, split at `starting the capture kernel` and `purgatory:
//!   sha256 ok`, and the guest-side pieces the logs give (purgatory's hashing, from its TSC cycle
//!   count, plus the capture kernel's own `boot to prompt`);
//! - /proc/vmcore read throughput in that capture kernel (`dd if=/proc/vmcore of=/dev/null
//!   bs=1M`, as dd reports it on the guest clock);
//! - panic -> Linux's first line (`Linux version`), Linux (the fixture) as the capture kernel;
//! - the smallest `crashkernel=` with which a kexos capture kernel boots to its prompt and has a
//!   /proc/vmcore, tried in descending sizes.
//!
//! Every machine boots the release kernel from a UEFI image under TCG, crashes on purpose with
//! `echo panic > /sys/kernel/kexec_test_crash` (hence `kexec_test` on every command line), and
//! leaves its console log in `target/test-logs/bench-crash*.log`. A figure that cannot be taken
//! is `n/a` with the reason.

use kexec_core::purgatory_abi::RegionHash;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kexos_tests::{
    linux_markers, markers, Artifacts, BootOptions, Firmware, LinuxFixture, Machine,
};

use crate::bench::{parse_hashed, parse_tsc_mhz, secs};

/// Makes the first kernel panic (needs `kexec_test` on its command line).
const PANIC_CMD: &str = "echo panic > /sys/kernel/kexec_test_crash";
/// Printed by the first kernel's crash path right before it jumps to purgatory.
const CAPTURE_START: &str = kexos_tests::markers::CAPTURE_START;
/// Printed by purgatory once every segment checked out.
const SHA_OK: &str = RegionHash::Sha256.ok_line();
/// Logged by the capture kexos once /proc/vmcore is set up.
const VMCORE_LINE: &str = "crash: capture kernel: /proc/vmcore is ";
/// Loads kexos as the crash kernel (the capture kernel's command line is `bench=capture`).
const KEXOS_LOAD: &str =
    "kexec -s -p /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=\"bench=capture\"";
/// The capture Linux's command line (what kdump-tools gives it, plus the serial console).
const LINUX_APPEND: &str = "console=ttyS0 nr_cpus=1 reset_devices irqpoll panic=-1";
/// `crashkernel=` and `--mem` of the kexos -> kexos figures.
const KEXOS_CRASHKERNEL: &str = "64M";
const KEXOS_MEM: &str = "256M";
/// The same for kexos -> Linux (the fixture's capture Linux needs this much).
const LINUX_CRASHKERNEL: &str = "160M";
const LINUX_MEM: &str = "512M";
/// Time allowed for each step (boot, load, panic -> prompt) of the figures.
const STEP: Duration = Duration::from_secs(180);
/// Time allowed for reading the whole /proc/vmcore.
const DD_TIMEOUT: Duration = Duration::from_secs(900);
/// `crashkernel=` sizes (MiB) tried for the smallest that works, descending.
pub const CRASHKERNEL_SIZES: &[u32] = &[32, 24, 16, 12, 10, 8, 6, 4];
/// The goal of issue 5 for the smallest `crashkernel=` of a kexos capture kernel.
const GOAL_MIB: u32 = 16;
/// Time allowed for one attempt of the `crashkernel=` search (boot, load, crash, capture).
const ATTEMPT: Duration = Duration::from_secs(120);

/// The kernel's report of a crash load: `kexec_file: loaded <path> (<loader>) as the crash
/// kernel in <us> us; <usage>`.
#[derive(Debug, PartialEq)]
pub struct CrashLoad {
    pub us: u64,
    /// `segments and control pages use X KiB of the Y MiB crash kernel region; ...`.
    pub usage: String,
}

/// Finds the crash-load line in `log`.
pub fn parse_crash_load(log: &str) -> Option<CrashLoad> {
    let rest = log
        .lines()
        .find_map(|l| l.split(" as the crash kernel in ").nth(1))?;
    let (us, usage) = rest.split_once(" us")?;
    let usage = usage.trim_start_matches(';').trim().to_string();
    Some(CrashLoad {
        us: us.trim().parse().ok()?,
        usage,
    })
}

/// dd's final report: `268435456 bytes (268 MB, 256 MiB) copied, 1.18453 s, 453 MB/s`.
#[derive(Debug, PartialEq)]
pub struct DdStats {
    pub bytes: u64,
    pub secs: f64,
    /// The rate as dd printed it (`453 MB/s`).
    pub rate: String,
}

/// Finds dd's report line in `out`.
pub fn parse_dd(out: &str) -> Option<DdStats> {
    let line = out.lines().find(|l| l.contains(" copied, "))?;
    let bytes = line.split_whitespace().next()?.parse().ok()?;
    let rest = line.split(" copied, ").nth(1)?;
    let (time, rate) = rest.split_once(", ")?;
    Some(DdStats {
        bytes,
        secs: time.trim().strip_suffix(" s")?.trim().parse().ok()?,
        rate: rate.trim().to_string(),
    })
}

/// The `N` of the capture kernel's `crash: capture kernel: /proc/vmcore is N MiB (...)`.
pub fn parse_vmcore_mib(log: &str) -> Option<u64> {
    let rest = &log[log.find(VMCORE_LINE)? + VMCORE_LINE.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The milliseconds of the first `kexos: boot to prompt N ms` line in `log`.
pub fn parse_boot_to_prompt(log: &str) -> Option<f64> {
    let rest = &log[log.find(markers::BOOT_TO_PROMPT)? + markers::BOOT_TO_PROMPT.len()..];
    rest[..rest.find(" ms")?].trim().parse().ok()
}

/// What the console shows from the crash on: after the first kernel's `starting the capture
/// kernel` line if it printed one (the capture kernel's part), else after its first `KERNEL
/// PANIC` (if the first kernel never jumped), else all of it.
pub fn after_crash(log: &str) -> &str {
    if let Some(i) = log.find(CAPTURE_START) {
        let rest = &log[i..];
        return &rest[rest.find('\n').map_or(rest.len(), |n| n + 1)..];
    }
    log.find(markers::PANIC).map_or(log, |i| &log[i..])
}

/// Why a crash attempt stopped: the last console words of `log` after the crash
/// ([`after_crash`]): a panic or exception line with the line after it, else the last printable
/// line. (Unlike `bench::last_words`, this must skip the panic the bench causes itself.)
pub fn last_words(log: &str) -> String {
    let printable = crate::bench::printable;
    let serial = log
        .split("\n----- qemu stderr -----\n")
        .next()
        .unwrap_or("");
    let jumped = serial.contains(CAPTURE_START);
    let lines: Vec<String> = after_crash(serial)
        .lines()
        .map(printable)
        .filter(|l| !l.is_empty() && !l.starts_with("kexos:/"))
        .collect();
    let words = lines
        .iter()
        .position(|l| l.contains("PANIC") || l.contains("panicked") || l.contains("exception "))
        .map(|i| {
            lines[i..]
                .iter()
                .take(2)
                .cloned()
                .collect::<Vec<_>>()
                .join(" / ")
        })
        .or_else(|| lines.last().cloned());
    match (jumped, words) {
        (true, Some(w)) => format!("capture kernel: {w}"),
        (true, None) => format!("nothing after `{CAPTURE_START}`"),
        (false, Some(w)) => format!("no capture kernel started: {w}"),
        (false, None) => "no console output".into(),
    }
}

/// A kexos machine booted with `crashkernel=` and `kexec_test`, for one figure.
fn spawn(
    artifacts: &Artifacts,
    name: &str,
    mem: &str,
    crashkernel: &str,
    linux: Option<&LinuxFixture>,
) -> Result<Machine, String> {
    let mut opts = BootOptions {
        name: name.into(),
        mem: mem.into(),
        append: format!("crashkernel={crashkernel} kexec_test"),
        ..BootOptions::new(Firmware::Uefi)
    };
    if let Some(fx) = linux {
        opts = opts.with_linux(fx);
    }
    let image = opts.build_image(artifacts).map_err(|e| format!("{e:#}"))?;
    let log: PathBuf = artifacts.target("test-logs").join(format!("{name}.log"));
    let mut m = Machine::spawn_image(name, &image, Firmware::Uefi, mem, &[], Some(log))
        .map_err(|e| format!("{e:#}"))?;
    m.print_on_failure = false;
    Ok(m)
}

/// Waits for the first prompt and checks that `crashkernel=` reserved the region.
fn first_boot(m: &mut Machine, timeout: Duration) -> Result<(), String> {
    m.expect_prompt(timeout)
        .map_err(|_| format!("first boot: {}", plain_last_line(&m.transcript())))?;
    let log = m.transcript();
    if !log.contains("crashkernel reserved: ") {
        let why = log
            .lines()
            .find(|l| l.contains("crashkernel"))
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| "no `crashkernel reserved` line".into());
        return Err(format!("first boot: {why}"));
    }
    Ok(())
}

/// The last non-empty console line (for a first boot that reached no prompt).
fn plain_last_line(log: &str) -> String {
    log.split("\n----- qemu stderr -----\n")
        .next()
        .unwrap_or("")
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_control()).collect::<String>())
        .map(|l| l.trim().to_string())
        .rfind(|l| !l.is_empty())
        .unwrap_or_else(|| "no console output".into())
}

/// Runs a `kexec -s -p` command; returns the kernel's report, or the failure message.
fn load(m: &mut Machine, cmd: &str) -> Result<CrashLoad, String> {
    let out = m.run(cmd).map_err(|_| {
        format!(
            "load: no prompt after `kexec -s -p`: {}",
            plain_last_line(&m.transcript())
        )
    })?;
    if let Some(l) = out.lines().find(|l| l.contains("failed")) {
        return Err(format!("load: {}", l.trim()));
    }
    parse_crash_load(&out)
        .ok_or_else(|| format!("load: no `as the crash kernel` line: {:?}", out.trim()))
}

/// The guest-side pieces of panic -> next kernel: purgatory's hashing (from its cycle count and
/// the TSC frequency the first kernel logged), plus `boot_ms` if given.
fn guest_pieces(log: &str, boot_ms: Option<f64>) -> String {
    let tail = after_crash(log);
    let purg = tail.lines().find_map(parse_hashed);
    let mhz = parse_tsc_mhz(log);
    match (purg, mhz, boot_ms) {
        (Some((bytes, cycles)), Some(mhz), Some(ms)) => {
            let p = cycles as f64 / (mhz * 1000.0);
            let mib = bytes as f64 / (1024.0 * 1024.0);
            format!(
                "{:.1} ms (purgatory {p:.1} ms for {mib:.1} MiB at {mhz} MHz \
                 + capture kernel's boot to prompt {ms:.1} ms) (guest time)",
                p + ms
            )
        }
        (Some((bytes, cycles)), Some(mhz), None) => format!(
            "purgatory {:.1} ms for {:.1} MiB ({cycles} TSC cycles at {mhz} MHz) (guest time)",
            cycles as f64 / (mhz * 1000.0),
            bytes as f64 / (1024.0 * 1024.0)
        ),
        (_, _, Some(ms)) => format!(
            "n/a (capture kernel's boot to prompt {ms:.1} ms; purgatory cycles or TSC MHz not logged)"
        ),
        _ => "n/a (purgatory cycles or TSC MHz not logged)".into(),
    }
}

/// Figures 1 and 3: kexos -> kexos on one machine. Prints its lines.
fn kexos_capture(artifacts: &Artifacts) {
    let name = "bench-crash";
    let label = format!("crashkernel={KEXOS_CRASHKERNEL}, --mem {KEXOS_MEM}");
    let mut m = match spawn(artifacts, name, KEXOS_MEM, KEXOS_CRASHKERNEL, None) {
        Ok(m) => m,
        Err(e) => {
            println!("  panic -> capture kexos prompt:        n/a ({e})");
            println!("  /proc/vmcore read (kexos capture):    n/a ({e})");
            return;
        }
    };
    m.cmd_timeout = STEP;
    let mut loaded: Option<CrashLoad> = None;
    let mut capture: Option<[Duration; 4]> = None;
    let mut guest = String::new();
    let mut vmcore_mib = None;
    let mut dd: Option<Result<(DdStats, Duration), String>> = None;
    let why = (|| -> Result<(), String> {
        first_boot(&mut m, STEP)?;
        loaded = Some(load(&mut m, KEXOS_LOAD)?);
        m.send_line(PANIC_CMD).map_err(|e| e.to_string())?;
        let stopped = |m: &Machine, what: &str| format!("{what}: {}", last_words(&m.transcript()));
        let (_, t0) = m
            .expect_timed(markers::PANIC, STEP)
            .map_err(|_| stopped(&m, "no KERNEL PANIC"))?;
        let (_, t1) = m
            .expect_timed(CAPTURE_START, STEP)
            .map_err(|_| stopped(&m, "no `starting the capture kernel`"))?;
        let (_, t2) = m
            .expect_timed(SHA_OK, STEP)
            .map_err(|_| stopped(&m, "no `purgatory: sha256 ok`"))?;
        m.expect(VMCORE_LINE, STEP)
            .map_err(|_| stopped(&m, "no /proc/vmcore line from the capture kernel"))?;
        m.expect_prompt(STEP)
            .map_err(|_| stopped(&m, "no capture kernel prompt"))?;
        let t3 = m.match_time();
        capture = Some([t0, t1, t2, t3]);
        // `boot to prompt` is logged at the first console read, usually just after the prompt.
        if parse_boot_to_prompt(after_crash(&m.transcript())).is_none() {
            let _ = m.expect(markers::BOOT_TO_PROMPT, Duration::from_secs(30));
            let _ = m.expect(" ms", Duration::from_secs(30));
        }
        let log = m.transcript();
        let ms = parse_boot_to_prompt(after_crash(&log));
        guest = guest_pieces(&log, ms);
        vmcore_mib = parse_vmcore_mib(&log);

        // Figure 3: read the whole dump.
        m.cmd_timeout = DD_TIMEOUT;
        let cmd = "dd if=/proc/vmcore of=/dev/null bs=1M";
        m.send_line(cmd).map_err(|e| e.to_string())?;
        let r = (|| {
            let (_, ts) = m
                .expect_timed(&format!("{cmd}\n"), STEP)
                .map_err(|_| "no echo of the dd command".to_string())?;
            let out = m
                .expect_prompt(DD_TIMEOUT)
                .map_err(|_| format!("no prompt within {} s of dd", DD_TIMEOUT.as_secs()))?;
            let host = m.match_time().saturating_sub(ts);
            parse_dd(&out)
                .map(|s| (s, host))
                .ok_or_else(|| format!("no dd report: {:?}", out.trim()))
        })();
        dd = Some(r);
        m.cmd_timeout = STEP;
        let _ = m.poweroff();
        Ok(())
    })()
    .err();
    m.kill();
    drop(m);

    match &loaded {
        Some(l) => println!(
            "  kexec -s -p kexos.bzImage:            {} us (kernel log; {label}); {}",
            l.us, l.usage
        ),
        None => println!("  kexec -s -p kexos.bzImage:            n/a"),
    }
    match capture {
        Some([t0, t1, t2, t3]) => {
            println!(
                "  panic -> capture kexos prompt:        {} (host time, 'KERNEL PANIC' -> prompt)",
                secs(t3.saturating_sub(t0))
            );
            println!(
                "                                        = {} -> '{CAPTURE_START}' + {} -> 'sha256 ok' + {} -> prompt (host time)",
                secs(t1.saturating_sub(t0)),
                secs(t2.saturating_sub(t1)),
                secs(t3.saturating_sub(t2))
            );
            println!("                                        {guest}");
        }
        None => println!("  panic -> capture kexos prompt:        n/a"),
    }
    let size = vmcore_mib.map_or(String::new(), |n| format!("/proc/vmcore {n} MiB; "));
    match &dd {
        Some(Ok((s, host))) => println!(
            "  /proc/vmcore read (kexos capture):    {} ({size}dd bs=1M: {} bytes in {} s, guest clock; {:.1} MiB/s; the command took {} host time)",
            s.rate,
            s.bytes,
            s.secs,
            if s.secs > 0.0 { s.bytes as f64 / s.secs / (1024.0 * 1024.0) } else { f64::INFINITY },
            secs(*host)
        ),
        Some(Err(e)) => println!("  /proc/vmcore read (kexos capture):    n/a ({e})"),
        None => println!("  /proc/vmcore read (kexos capture):    n/a"),
    }
    if let Some(why) = why {
        println!("  (kexos -> kexos crash stopped early: {why})");
    }
}

/// One kexos -> kexos crash for the issue 13 figures: boot as [`kexos_capture`] does, load
/// kexos as the crash kernel, panic; host time from 'KERNEL PANIC' to the capture kernel's
/// prompt, and the whole log (for the phase lines).
pub(crate) fn panic_to_capture_prompt(artifacts: &Artifacts, name: &str, hash: RegionHash) -> Result<(Duration, String), String> {
    let mut m = spawn(artifacts, name, KEXOS_MEM, KEXOS_CRASHKERNEL, None)?;
    m.cmd_timeout = STEP;
    let r = (|| {
        first_boot(&mut m, STEP)?;
        load(&mut m, &format!("{KEXOS_LOAD}{}", crate::bench::digest_option(hash)))?;
        m.send_line(PANIC_CMD).map_err(|e| e.to_string())?;
        let (_, t0) = m.expect_timed(markers::PANIC, STEP).map_err(|_| "no KERNEL PANIC".to_string())?;
        m.expect(hash.ok_line(), STEP).map_err(|_| format!("no `{}`", hash.ok_line()))?;
        m.expect(VMCORE_LINE, STEP).map_err(|_| "no /proc/vmcore line from the capture kernel".to_string())?;
        m.expect_prompt(STEP).map_err(|_| "no capture kernel prompt".to_string())?;
        Ok((m.match_time().saturating_sub(t0), m.transcript()))
    })();
    let _ = m.poweroff();
    m.kill();
    r
}

/// Figure 2: kexos -> Linux. Prints its lines.
fn linux_capture(artifacts: &Artifacts, fx: Option<&LinuxFixture>, no_fixture: &str) {
    const LABEL: &str = "  panic -> Linux 'Linux version':       ";
    let Some(fx) = fx else {
        println!("{LABEL}n/a ({no_fixture})");
        return;
    };
    let name = "bench-crash-linux";
    let mut m = match spawn(artifacts, name, LINUX_MEM, LINUX_CRASHKERNEL, Some(fx)) {
        Ok(m) => m,
        Err(e) => {
            println!("{LABEL}n/a ({e})");
            return;
        }
    };
    m.cmd_timeout = STEP;
    let mut loaded = None;
    let mut times = None;
    let why = (|| -> Result<(), String> {
        first_boot(&mut m, STEP)?;
        let cmd = format!(
            "kexec -s -p /boot/vmlinuz --initrd=/boot/initrd.img --append=\"{LINUX_APPEND}\""
        );
        loaded = Some(load(&mut m, &cmd)?);
        m.send_line(PANIC_CMD).map_err(|e| e.to_string())?;
        let stopped = |m: &Machine, what: &str| format!("{what}: {}", last_words(&m.transcript()));
        let (_, t0) = m
            .expect_timed(markers::PANIC, STEP)
            .map_err(|_| stopped(&m, "no KERNEL PANIC"))?;
        let (_, t1) = m
            .expect_timed(SHA_OK, STEP)
            .map_err(|_| stopped(&m, "no `purgatory: sha256 ok`"))?;
        let (_, t2) = m
            .expect_timed(linux_markers::BANNER, STEP)
            .map_err(|_| stopped(&m, "no 'Linux version'"))?;
        times = Some([t0, t1, t2]);
        Ok(())
    })()
    .err();
    let log = m.transcript();
    m.kill();
    drop(m);
    match times {
        Some([t0, t1, t2]) => {
            println!(
                "{LABEL}{} (host time, 'KERNEL PANIC' -> 'Linux version')",
                secs(t2.saturating_sub(t0))
            );
            println!(
                "                                        = {} -> 'sha256 ok' + {} -> 'Linux version' (host time)",
                secs(t1.saturating_sub(t0)),
                secs(t2.saturating_sub(t1))
            );
            println!(
                "                                        {}",
                guest_pieces(&log, None)
            );
        }
        None => println!("{LABEL}n/a"),
    }
    if let Some(l) = &loaded {
        println!(
            "                                        (kexec -s -p vmlinuz + initrd.img: {} us, kernel log; crashkernel={LINUX_CRASHKERNEL}, --mem {LINUX_MEM}; {})",
            l.us, l.usage
        );
    }
    if let Some(why) = why {
        println!("  (kexos -> Linux crash stopped early: {why})");
    }
}

/// One attempt of the `crashkernel=` search: boot with `crashkernel=<mib>M`, load kexos as the
/// crash kernel, panic, reach the capture prompt and see /proc/vmcore, within [`ATTEMPT`].
/// Returns the kernel's load report, or why it failed.
fn crashkernel_attempt(artifacts: &Artifacts, mib: u32) -> Result<CrashLoad, String> {
    let name = format!("bench-crashkernel-{mib}M");
    let mut m = spawn(artifacts, &name, KEXOS_MEM, &format!("{mib}M"), None)?;
    let deadline = Instant::now() + ATTEMPT;
    let left = || deadline.saturating_duration_since(Instant::now());
    let res = (|| -> Result<CrashLoad, String> {
        first_boot(&mut m, left())?;
        m.cmd_timeout = left();
        let loaded = load(&mut m, KEXOS_LOAD)?;
        m.send_line(PANIC_CMD).map_err(|e| e.to_string())?;
        let stopped = |m: &Machine| last_words(&m.transcript());
        m.expect(markers::PANIC, left())
            .and_then(|_| m.expect(CAPTURE_START, left()))
            .and_then(|_| m.expect_prompt(left()))
            .map_err(|_| stopped(&m))?;
        m.cmd_timeout = left();
        let out = m.run("ls /proc/vmcore").map_err(|_| stopped(&m))?;
        if !out.contains("vmcore") || out.contains("No such") {
            return Err(format!(
                "capture kernel: `ls /proc/vmcore` printed {:?}",
                out.trim()
            ));
        }
        Ok(loaded)
    })();
    m.kill();
    res
}

/// Figure 4: the smallest working `crashkernel=`, sizes descending, stopping at the first
/// failure. Prints its lines.
fn smallest_crashkernel(artifacts: &Artifacts) {
    let mut tried: Vec<(u32, Result<CrashLoad, String>)> = Vec::new();
    for &mib in CRASHKERNEL_SIZES {
        let r = crashkernel_attempt(artifacts, mib);
        let ok = r.is_ok();
        tried.push((mib, r));
        if !ok {
            break;
        }
    }
    let smallest = tried.iter().rev().find(|t| t.1.is_ok());
    match smallest {
        Some((mib, Ok(l))) => {
            println!(
                "  smallest crashkernel= for a kexos capture kernel: {mib}M (--mem {KEXOS_MEM}; goal <= {GOAL_MIB} MiB: {})",
                if *mib <= GOAL_MIB { "yes" } else { "NO" }
            );
            println!("    at {mib}M the kernel reports: {}", l.usage);
        }
        _ => println!(
            "  smallest crashkernel= for a kexos capture kernel: n/a (none of the sizes tried works, {}M the largest)",
            CRASHKERNEL_SIZES[0]
        ),
    }
    for (mib, r) in &tried {
        match r {
            Ok(_) => println!("    {mib}M: ok"),
            Err(e) => println!("    {mib}M: fails: {e}"),
        }
    }
    if tried.iter().all(|t| t.1.is_ok()) {
        println!(
            "    ({}M is the smallest size tried)",
            CRASHKERNEL_SIZES.last().unwrap_or(&0)
        );
    }
}

/// The issue 5 figures. `root` holds the release build (`target/images/kexos.elf`, the user
/// programs); `linux` is the fixture for the kexos -> Linux figure, or None with `no_linux`
/// saying why (that figure is then n/a). Prints everything.
pub fn crash_dumps(root: &Path, linux: Option<&LinuxFixture>, no_linux: &str) {
    let started = Instant::now();
    let artifacts = Artifacts::at(root);
    println!("crash dumps (issue 5; release kernel, UEFI, TCG, `echo panic > /sys/kernel/kexec_test_crash`)");
    kexos_capture(&artifacts);
    linux_capture(&artifacts, linux, no_linux);
    smallest_crashkernel(&artifacts);
    println!(
        "  (logs: target/test-logs/bench-crash.log, bench-crash-linux.log, bench-crashkernel-<N>M.log; host times are between the arrivals of two console lines; {:.0} s for the crash-dump figures)",
        started.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_load_line() {
        let log = "kexec -s -p /boot/kexos.bzImage\n[    0.506537] kexec_file: loaded /boot/kexos.bzImage (bzImage64) as the crash kernel in 28507 us; segments and control pages use 4740 KiB of the 64 MiB crash kernel region; 60796 KiB are left for the capture kernel to run in\n";
        assert_eq!(
            parse_crash_load(log),
            Some(CrashLoad {
                us: 28507,
                usage: "segments and control pages use 4740 KiB of the 64 MiB crash kernel region; 60796 KiB are left for the capture kernel to run in".into()
            })
        );
        assert_eq!(
            parse_crash_load("kexec_file_load failed: ENOMEM (Out of memory)\n"),
            None
        );
    }

    #[test]
    fn dd_report() {
        let out = "256+0 records in\n256+0 records out\n268435456 bytes (268 MB, 256 MiB) copied, 1.18453 s, 227 MB/s\n";
        assert_eq!(
            parse_dd(out),
            Some(DdStats {
                bytes: 268435456,
                secs: 1.18453,
                rate: "227 MB/s".into()
            })
        );
        let tiny = "0+1 records in\n0+1 records out\n5 bytes copied, 4.227e-05 s, 118 kB/s\n";
        assert_eq!(
            parse_dd(tiny).map(|s| (s.bytes, s.secs)),
            Some((5, 4.227e-05))
        );
        assert_eq!(
            parse_dd("dd: failed to open '/proc/vmcore': No such file or directory\n"),
            None
        );
    }

    #[test]
    fn capture_lines() {
        let log = "[ 0.06] kexos: boot to prompt 62.417 ms\nKERNEL PANIC: test\nkexos: crash: starting the capture kernel (purgatory at 0x1bff4000)\n\
                   purgatory: hashed 1234567 bytes in 1000 cycles\n[ 0.01] crash: capture kernel: /proc/vmcore is 192 MiB (191 MiB of ...)\n\
                   kexos:/# [ 0.05] kexos: boot to prompt 48.5 ms\n";
        assert_eq!(parse_vmcore_mib(log), Some(192));
        assert_eq!(parse_boot_to_prompt(log), Some(62.417));
        assert_eq!(parse_boot_to_prompt(after_crash(log)), Some(48.5));
        assert!(after_crash(log).starts_with("purgatory: hashed"));
        assert_eq!(after_crash("a\nKERNEL PANIC: x\n"), "KERNEL PANIC: x\n");
    }

    #[test]
    fn crash_stop_reasons() {
        let first = "kexos:/# echo panic > x\nKERNEL PANIC: kexec_test\nbacktrace:\n  #0 0x1\n";
        let capture = format!(
            "{first}kexos: crash: starting the capture kernel (purgatory at 0x1)\npurgatory: sha256 ok\n\
             [ 0.0] kexos 0.1.0 (release) booting\nKERNEL PANIC: out of memory\n  at mm.rs:1\n"
        );
        assert_eq!(
            last_words(&capture),
            "capture kernel: KERNEL PANIC: out of memory / at mm.rs:1"
        );
        assert_eq!(
            last_words(first),
            "no capture kernel started: KERNEL PANIC: kexec_test / backtrace:"
        );
        let hung = format!("{first}kexos: crash: starting the capture kernel (purgatory at 0x1)\npurgatory: verifying 4 regions\n\x1b[2J\n");
        assert_eq!(
            last_words(&hung),
            "capture kernel: purgatory: verifying 4 regions"
        );
        let silent = format!("{first}kexos: crash: starting the capture kernel (purgatory at 0x1)\n\n----- qemu stderr -----\nqemu: x\n");
        assert_eq!(
            last_words(&silent),
            "nothing after `kexos: crash: starting the capture kernel`"
        );
        assert_eq!(plain_last_line("a\nb\n\n"), "b");
    }
}
