//! The issue 4 figures of `cargo xtask bench` ([`self_kexec`]): kexos kexec'ing kexos from a
//! small initramfs (no Linux fixture), `kexec -e` to the next prompt against Linux's own
//! `kexec -e`, the load times of both kexos images, their sizes, and the smallest `--mem` for a
//! 3-hop chain.

use std::path::Path;
use std::time::{Duration, Instant};

use kexos_tests::{Artifacts, BootOptions, Firmware, Machine};

use bootstats::{MemBreakdown, Timeline};

use crate::bench::{parse_hashed, parse_load_us, parse_tsc_mhz, printable, row, secs, Figure};

/// A memory breakdown in MiB, one decimal: `42.0 MiB RAM (+ 6.0 firmware): kernel 1.6, ...`.
pub fn breakdown_mib(b: &MemBreakdown) -> String {
    let m = |v: u64| format!("{:.1}", v as f64 / (1 << 20) as f64);
    format!(
        "{} MiB RAM (+ {} firmware): kernel {}, initramfs {}, boot loader {}, boot protocol {}, \
         below 1 MiB {}, frame bitmap {}, page tables {}, crashkernel {}, heap {} (ramfs {}), \
         other {}, free {}",
        m(b.ram),
        m(b.firmware),
        m(b.kernel),
        m(b.initramfs),
        m(b.loader),
        m(b.boot),
        m(b.low),
        m(b.bitmap),
        m(b.page_tables),
        m(b.crashkernel),
        m(b.heap),
        m(b.ramfs),
        m(b.other),
        m(b.free)
    )
}

/// A boot timeline as each step's own time in ms: `console 1.3, tsc 5.0, ...`.
pub fn timeline_ms(t: &Timeline) -> String {
    t.durations()
        .map(|(s, us)| format!("{s} {:.1}", us as f64 / 1000.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Memory sizes tried for the smallest `--mem` of a 3-hop self-kexec chain, ascending.
pub const CHAIN_MEMS: &[u32] = &[32, 40, 48, 56, 64, 96, 128];
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
/// the first boot's memory breakdown (None if it logged none), or why it failed.
fn chain_attempt(image: &Path, mem: u32, logs: &Path) -> Result<Option<MemBreakdown>, String> {
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
    let res = (|| -> Result<Option<MemBreakdown>, String> {
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
        let mm = line_after(&m.transcript(), bootstats::MEM_PREFIX).and_then(MemBreakdown::parse);
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
    let mut next_timeline: Option<Timeline> = None;
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
        let te_log = m.transcript().len();
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
        let _ = m.expect(bootstats::TIMELINE_PREFIX, to);
        let _ = m.expect("\n", to);
        if let Some(t) = line_after(&m.transcript()[te_log..], bootstats::TIMELINE_PREFIX).and_then(Timeline::parse) {
            next_timeline = Some(t);
        }
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
            if let Some(t) = &next_timeline {
                println!("  next kexos's boot steps (guest ms):    {}", timeline_ms(t));
            }
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
    let mut tried: Vec<(u32, Result<Option<MemBreakdown>, String>)> = Vec::new();
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
            println!(
                "  smallest --mem for a 3-hop self-kexec chain: {mem}M (goal 48M: {})",
                if *mem <= 48 { "yes" } else { "NO" }
            );
            let first = tried.iter().find(|t| t.0 == *mem).and_then(|t| t.1.as_ref().ok().cloned().flatten());
            match first {
                Some(b) => println!("    first boot at {mem}M: {}", breakdown_mib(&b)),
                None => println!("    first boot at {mem}M: no memory breakdown logged"),
            }
        }
        None => println!(
            "  smallest --mem for a 3-hop self-kexec chain: n/a (none of {}M works)",
            CHAIN_MEMS.last().unwrap_or(&0)
        ),
    }
    // What the UEFI stage of the boot loader must allocate: the FAT type decides how much
    // boot-services memory OVMF's FAT driver keeps (docs/benchmarks.md, "The memory floor").
    let loaded = crate::file_size(stripped).unwrap_or(0) + crate::file_size(&initramfs).unwrap_or(0);
    println!(
        "    UEFI image: kernel + initramfs {}, FAT partition {} (48M needs FAT12, see boot::esp)",
        crate::kib(loaded),
        boot::uefi_fat_type(&image).unwrap_or_else(|e| format!("unknown ({e:#})"))
    );
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
}
