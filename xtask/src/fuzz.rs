//! `cargo xtask fuzz [TARGET] [--seconds N] [--smoke]`: libFuzzer through
//! cargo-fuzz over every parser of untrusted input (tests/fuzz/, one target
//! each). Steps: cargo-fuzz present (installed if missing), the build's
//! outputs present (`build` if not), the data directory the targets read
//! (target/fuzz/data: the purgatory object and the trusted keyring), the seed
//! corpora (target/fuzz/corpus/TARGET, xtask/src/fuzz_seeds.rs), one
//! instrumented build of every target, then each target in turn, its log in
//! target/fuzz/logs/TARGET.log, a crashing input in target/fuzz/artifacts/TARGET/.
//!
//! libFuzzer runs with `-timeout` (a hang is a finding), `-rss_limit_mb` (so is
//! running out of memory) and a per-target `-max_len`. Without `--smoke`, what
//! libFuzzer finds interesting is kept in target/fuzz/grown/TARGET and fed to
//! the next run; `--smoke` starts from the seeds alone each time.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cli::Opts;
use crate::{describe, status_ok, Xtask};

/// A fuzz target (a `[[bin]]` of tests/fuzz/Cargo.toml) and its `-max_len`.
pub(crate) struct Target {
    pub(crate) name: &'static str,
    /// Largest input: big enough for the real files it takes (kexos.elf is
    /// 2 MiB), small enough to keep executions fast.
    pub(crate) max_len: usize,
    pub(crate) what: &'static str,
}

const KIB: usize = 1024;

pub(crate) const TARGETS: &[Target] = &[
    Target { name: "bzimage_plan", max_len: 256 * KIB, what: "bzImage64 probe + kexec_file_plan (normal, crash, hand-over)" },
    Target { name: "elf64_plan", max_len: 4096 * KIB, what: "ELF64 probe + kexec_file_plan" },
    Target { name: "exec_elf", max_len: 256 * KIB, what: "exec's ELF checks and load plan (any file a user execs)" },
    Target { name: "purgatory_reloc", max_len: 128 * KIB, what: "purgatory ET_REL load + relocation + symbols, then a plan" },
    Target { name: "cpio_newc", max_len: 1024 * KIB, what: "cpio newc/crc reader" },
    Target { name: "initramfs_unpack", max_len: 1024 * KIB, what: "initramfs unpack into the VFS + a walk of the tree" },
    Target { name: "cmdline", max_len: 4 * KIB, what: "command-line parameters, memparse, crashkernel= + placement" },
    Target { name: "boot_params", max_len: 64 * KIB, what: "boot_params + setup_data walk + hand-over buffers" },
    Target { name: "vmcore", max_len: 256 * KIB, what: "/proc/vmcore from ELF core headers in old memory + reads" },
    Target { name: "kexec_sig", max_len: 256 * KIB, what: "Authenticode and appended PKCS#7 against the keyring" },
    Target { name: "ima_restore", max_len: 64 * KIB, what: "IMA measurement-list restore + dump round trip" },
    Target { name: "sha256", max_len: 64 * KIB, what: "libs/sha256 (SSE2, SHA-NI if this host has it, portable) against sha2, in pieces, resumed" },
];

/// Seconds per target without `--seconds`.
const DEFAULT_SECONDS: u64 = 60;
const SMOKE_SECONDS: u64 = 5;
/// One input running longer than this is a hang.
const TIMEOUT_SECONDS: u64 = 10;
/// A target using more memory than this is out of memory.
const RSS_LIMIT_MB: u64 = 2048;

/// What one libFuzzer run ended with.
#[derive(Debug, Default)]
struct RunStats {
    executions: u64,
    cov: u64,
    ft: u64,
    corpus: u64,
    seconds: f64,
    /// None: no finding. Else "crash", "timeout", "oom", ... and the artifact.
    finding: Option<String>,
}

/// The number after `key` in `line` ("cov: 123").
fn field(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Read a libFuzzer log: the last status line's `#N`, `cov:`, `ft:`, `corp:`;
/// `stat::number_of_executed_units` when it printed its final stats; and what
/// went wrong, if anything.
fn parse_log(log: &str, status: Option<i32>) -> RunStats {
    let mut s = RunStats::default();
    for line in log.lines() {
        if line.starts_with('#') && line.contains(" cov: ") {
            s.executions = line[1..].split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(s.executions);
            s.cov = field(line, " cov:").unwrap_or(s.cov);
            s.ft = field(line, " ft:").unwrap_or(s.ft);
            s.corpus = field(line, " corp:").unwrap_or(s.corpus);
        }
        if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            s.executions = n.trim().parse().unwrap_or(s.executions);
        }
    }
    let kind = if log.contains("ERROR: libFuzzer: timeout") || log.contains("ALARM: working on the last Unit") {
        Some("hang (-timeout)")
    } else if log.contains("ERROR: libFuzzer: out-of-memory") || log.contains("memory allocation of") {
        Some("out of memory")
    } else if log.contains("panicked at") {
        Some("panic")
    } else if log.contains("ERROR: libFuzzer: deadly signal") {
        Some("crash (deadly signal)")
    } else if status != Some(0) {
        Some("libFuzzer failed")
    } else {
        None
    };
    s.finding = kind.map(|k| {
        let artifact = log.lines().find_map(|l| l.split("Test unit written to ").nth(1)).map(str::trim);
        // "thread '..' panicked at FILE:LINE:COL:" and the message on the next line.
        let mut lines = log.lines().skip_while(|l| !l.contains("panicked at"));
        let panic = lines.next().map(str::trim);
        let mut msg = k.to_string();
        if let Some(p) = panic {
            msg.push_str(&format!(": {p}"));
            if let Some(m) = lines.next().map(str::trim).filter(|m| !m.is_empty() && !m.starts_with("stack backtrace")) {
                msg.push_str(&format!(" {m}"));
            }
        }
        if let Some(a) = artifact {
            msg.push_str(&format!(" (input: {a})"));
        }
        msg
    });
    s
}

impl Xtask {
    /// cargo-fuzz, installed with `cargo install cargo-fuzz --locked` if missing.
    fn ensure_cargo_fuzz(&self) -> Result<()> {
        let present = self
            .cargo(&self.root)
            .args(["fuzz", "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if present {
            return Ok(());
        }
        eprintln!("xtask: cargo-fuzz is missing: installing it with `cargo install cargo-fuzz --locked`");
        status_ok(self.cargo(&self.root).args(["install", "cargo-fuzz", "--locked"]))
            .context("cargo-fuzz (the libFuzzer driver `cargo xtask fuzz` needs) is not installed and could not be installed")
    }

    /// The build outputs the seeds come from; `build` makes them if any is missing.
    fn ensure_fuzz_inputs(&self) -> Result<()> {
        let images = self.target("images");
        let needed = [
            images.join("kexos.bzImage"),
            images.join("kexos.elf"),
            images.join("kexos.signed.bzImage"),
            images.join("kexos.signed.elf"),
            images.join("initramfs.cpio"),
            self.target("purgatory").join("purgatory.o"),
        ];
        if let Some(missing) = needed.iter().find(|p| !p.is_file()) {
            eprintln!("xtask: {} is missing: building kexos first (cargo xtask build)", missing.display());
            self.build(&Opts::default())?;
        }
        Ok(())
    }

    /// target/fuzz/data: the purgatory object and the keyring the targets read.
    fn fuzz_data(&self) -> Result<PathBuf> {
        let data = self.target("fuzz").join("data");
        let trusted = data.join("trusted");
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&trusted)?;
        std::fs::copy(self.target("purgatory").join("purgatory.o"), data.join("purgatory.o")).context("copying the purgatory object")?;
        std::fs::copy(self.test_ca()?, trusted.join("00-test-ca.der"))?;
        let debian = self.target("fixtures").join("linux").join("debian-secure-boot-ca.der");
        if debian.is_file() {
            std::fs::copy(&debian, trusted.join("01-debian-secure-boot-ca.der"))?;
        }
        Ok(data)
    }

    pub(crate) fn fuzz(&self, o: &Opts) -> Result<ExitCode> {
        Ok(if self.fuzz_targets(o)? == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    }

    /// Runs the targets `o` names (all by default); returns how many had a finding.
    pub(crate) fn fuzz_targets(&self, o: &Opts) -> Result<usize> {
        let started = Instant::now();
        let targets: Vec<&Target> = match o.positional.first() {
            None => TARGETS.iter().collect(),
            Some(name) => match TARGETS.iter().find(|t| t.name == name) {
                Some(t) => vec![t],
                None => bail!(
                    "no fuzz target `{name}`; the targets are: {}",
                    TARGETS.iter().map(|t| t.name).collect::<Vec<_>>().join(" ")
                ),
            },
        };
        let seconds = o.seconds.unwrap_or(if o.smoke { SMOKE_SECONDS } else { DEFAULT_SECONDS });
        self.ensure_cargo_fuzz()?;
        self.ensure_fuzz_inputs()?;
        let data = self.fuzz_data()?;
        let fuzz = self.target("fuzz");
        for t in &targets {
            let dir = fuzz.join("corpus").join(t.name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            for (name, bytes) in self.fuzz_seeds(t.name, t.max_len)? {
                std::fs::write(dir.join(&name), bytes)?;
            }
        }

        eprintln!("xtask: building the fuzz targets (cargo fuzz build, tests/fuzz)");
        let t_build = Instant::now();
        let build_dir = fuzz.join("build");
        let mut build = self.cargo(&self.root);
        build
            .args(["fuzz", "build", "--release", "--debug-assertions", "--sanitizer", "none", "--fuzz-dir"])
            .arg(self.root.join("tests/fuzz"))
            .arg("--target-dir")
            .arg(&build_dir);
        if let [t] = targets.as_slice() {
            build.arg(t.name);
        }
        status_ok(&mut build)?;
        let build_s = t_build.elapsed().as_secs_f64();
        let bin_dir = build_dir.join(host_triple()?).join("release");

        let mut failed = 0;
        let mut rows = Vec::new();
        for t in &targets {
            eprintln!("xtask: fuzzing {} for {seconds} s ({})", t.name, t.what);
            let stats = self.fuzz_one(t, &bin_dir.join(t.name), &data, seconds, o.smoke)?;
            if stats.finding.is_some() {
                failed += 1;
            }
            rows.push((t.name, stats));
        }

        println!(
            "{:<18} {:>7} {:>12} {:>9} {:>6} {:>7} {:>6}  result",
            "target", "time s", "executions", "exec/s", "cov", "ft", "corpus"
        );
        for (name, s) in &rows {
            println!(
                "{:<18} {:>7.1} {:>12} {:>9.0} {:>6} {:>7} {:>6}  {}",
                name,
                s.seconds,
                s.executions,
                s.executions as f64 / s.seconds.max(0.001),
                s.cov,
                s.ft,
                s.corpus,
                s.finding.as_deref().unwrap_or("ok")
            );
        }
        println!(
            "fuzz{}: {} passed, {failed} failed (build {build_s:.1} s, total {:.1} s; logs in {})",
            if o.smoke { " smoke" } else { "" },
            rows.len() - failed,
            started.elapsed().as_secs_f64(),
            fuzz.join("logs").display()
        );
        Ok(failed)
    }

    /// One libFuzzer run of `bin` for `seconds`.
    fn fuzz_one(&self, t: &Target, bin: &Path, data: &Path, seconds: u64, smoke: bool) -> Result<RunStats> {
        let fuzz = self.target("fuzz");
        let grown = fuzz.join(if smoke { "smoke" } else { "grown" }).join(t.name);
        if smoke {
            let _ = std::fs::remove_dir_all(&grown);
        }
        let artifacts = fuzz.join("artifacts").join(t.name);
        let logs = fuzz.join("logs");
        for d in [&grown, &artifacts, &logs] {
            std::fs::create_dir_all(d)?;
        }
        let log_path = logs.join(format!("{}.log", t.name));
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = Command::new(bin);
        cmd.arg(&grown)
            .arg(fuzz.join("corpus").join(t.name))
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-timeout={TIMEOUT_SECONDS}"))
            .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
            .arg(format!("-max_len={}", t.max_len))
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .env(DATA_ENV, data)
            .stdout(Stdio::null())
            .stderr(log);
        let t0 = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("running {}", describe(&cmd)))?;
        // libFuzzer stops by itself; this only guards against a run that cannot
        // (loading a huge corpus, a hang the -timeout alarm does not catch).
        let deadline = Duration::from_secs(seconds + 4 * TIMEOUT_SECONDS + 60);
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break Some(s);
            }
            if t0.elapsed() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let mut stats = parse_log(&text, status.and_then(|s| s.code()));
        stats.seconds = t0.elapsed().as_secs_f64();
        if status.is_none() {
            stats.finding = Some(format!("killed after {} s: libFuzzer did not stop", deadline.as_secs()));
        }
        if let Some(f) = &stats.finding {
            eprintln!("xtask: {}: {f}; log {}", t.name, log_path.display());
        }
        Ok(stats)
    }
}

/// The environment variable naming the data directory (tests/fuzz/src/lib.rs).
const DATA_ENV: &str = "KEXOS_FUZZ_DATA";

/// The host's target triple (cargo-fuzz builds for it, into TARGET_DIR/TRIPLE/release).
fn host_triple() -> Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|s| s.trim().to_string())
        .context("no host line in rustc -vV")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_run_and_a_panic_are_read_from_the_log() {
        let ok = "INFO: Seed: 1\n#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                  #4096\tpulse  cov: 40 ft: 55 corp: 7/90b lim: 4 exec/s: 2048 rss: 31Mb\n\
                  #9000\tDONE   cov: 42 ft: 60 corp: 9/99b lim: 4 exec/s: 4500 rss: 31Mb\n\
                  Done 9000 runs in 2 second(s)\nstat::number_of_executed_units: 9001\n";
        let s = parse_log(ok, Some(0));
        assert_eq!((s.executions, s.cov, s.ft, s.corpus), (9001, 42, 60, 9));
        assert!(s.finding.is_none());
        let bad = "#500\tNEW    cov: 12 ft: 13 corp: 2/3b\nthread '<unnamed>' panicked at libs/x.rs:1:2:\nattempt to add with overflow\n\
                   ==123== ERROR: libFuzzer: deadly signal\nTest unit written to target/fuzz/artifacts/x/crash-abc\n";
        let s = parse_log(bad, Some(77));
        assert_eq!(s.executions, 500);
        let f = s.finding.unwrap();
        assert!(f.starts_with("panic: thread '<unnamed>' panicked at libs/x.rs:1:2: attempt to add with overflow"), "{f}");
        assert!(f.ends_with("(input: target/fuzz/artifacts/x/crash-abc)"), "{f}");
        let s = parse_log("==1== ERROR: libFuzzer: out-of-memory (used: 2100Mb; exceeds: 2048Mb)\n", Some(71));
        assert_eq!(s.finding.as_deref(), Some("out of memory"));
        let s = parse_log("ALARM: working on the last Unit for 11 seconds\n==1== ERROR: libFuzzer: timeout after 11 seconds\n", Some(70));
        assert_eq!(s.finding.as_deref(), Some("hang (-timeout)"));
    }
}
