//! `cargo xtask test`: build, host unit tests, then the QEMU scenarios; PASS/FAIL/SKIP lines
//! and the final `N passed, M failed[, K skipped]` line.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};
use boot::Firmware;

use crate::cli::Opts;
use crate::{describe, Xtask};

impl Xtask {
    pub(crate) fn test(&self, o: &Opts) -> Result<ExitCode> {
        let started = Instant::now();
        let mut results = Results::default();
        // The scenarios' kernel trusts Debian's Secure Boot CA (signed_kexec.rs).
        let mut bo = o.clone();
        bo.extra_trusted = self.linux_fixture().map(|f| vec![f.debian_ca]).unwrap_or_default();
        // A build failure is a failed test run, reported like the others.
        if let Err(e) = self.build(&bo) {
            eprintln!("xtask: build failed: {e:#}");
            results.record("build", false, true);
            return Ok(results.finish(started));
        }
        self.prerequisites(Firmware::Uefi)?;
        self.signing_tools()?;
        // The Linux scenarios need the fixture (build fetched it already unless --no-linux).
        let _ = self.linux_fixture();
        let _ = self.ima_linux();
        self.sha_ni_qemu();

        // clippy over every workspace, warnings denied; not when --filter asks for some
        // scenarios only.
        if o.filter.is_none() {
            eprintln!("\nxtask: lint (clippy, warnings denied)");
            match self.lint(&bo) {
                Ok(dirty) if dirty.is_empty() => results.record("clippy (host, kernel, purgatory, user)", true, true),
                Ok(dirty) => results.record(&format!("clippy (warnings in: {})", dirty.join(", ")), false, true),
                Err(e) => {
                    eprintln!("xtask: lint could not run: {e:#}");
                    results.record("clippy (could not run)", false, true);
                }
            }
        }

        eprintln!("\nxtask: host unit tests (cargo test --workspace)");
        let mut cmd = self.cargo(&self.root);
        // --no-fail-fast: report every failing test binary, not just the first.
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
        let before = results.passed;
        let unit = run_libtest(cmd, &mut results, None)?;
        let n = results.passed - before;
        if unit.success {
            results
                .lines
                .push((format!("host unit tests ({n} passed)"), "PASS"));
        }
        results.step("host unit tests", unit);

        // Every parser's fuzz target for a few seconds on its seeds (cargo xtask fuzz --smoke);
        // not when --filter asks for some scenarios only.
        if o.filter.is_some() {
            eprintln!("\nxtask: --filter given: no fuzz smoke run (`cargo xtask fuzz --smoke` runs it)");
        } else {
            eprintln!("\nxtask: fuzz smoke run (cargo xtask fuzz --smoke)");
            match self.fuzz_targets(&Opts { smoke: true, ..Opts::default() }) {
                Ok(failed) => results.record(&format!("fuzz smoke ({} targets, {failed} with findings)", crate::fuzz::TARGETS.len()), failed == 0, true),
                Err(e) => {
                    eprintln!("xtask: fuzz smoke run failed: {e:#}");
                    results.record("fuzz smoke (could not run)", false, true);
                }
            }
        }

        let files = self.scenario_files()?;
        eprintln!(
            "\nxtask: QEMU scenarios from tests/tests/{{{}}}.rs (at most 2 machines at once)",
            files.join(",")
        );
        // Scenarios that skip themselves (KEXOS_SKIP_LINUX=1) or boot their first Linux twice
        // leave a marker here.
        let logs = self.target("test-logs");
        if let Ok(rd) = std::fs::read_dir(&logs) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(kexos_tests::SKIP_SUFFIX)
                    || name.ends_with(kexos_tests::RETRY_SUFFIX)
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let mut cmd = self.cargo(&self.root);
        cmd.args(["test", "-p", "kexos-tests", "--no-fail-fast"]);
        for f in &files {
            cmd.args(["--test", f]);
        }
        cmd.args(["--", "--ignored", "--test-threads=2"]);
        if let Some(f) = &o.filter {
            cmd.arg(f);
        }
        cmd.env(kexos_tests::ROOT_ENV, &self.root);
        // Scenario errors are anyhow errors with context; their backtraces are noise.
        cmd.env("RUST_LIB_BACKTRACE", "0");
        let before = results.passed + results.failed;
        let scen = run_libtest(cmd, &mut results, Some(&logs))?;
        if scen.success && results.passed + results.failed == before {
            results.record(
                "QEMU scenarios: none ran (does --filter match any test name?)",
                false,
                true,
            );
        }
        results.step("QEMU scenarios", scen);
        Ok(results.finish(started))
    }

    /// The scenario files to run (names of `tests/tests/*.rs`).
    fn scenario_files(&self) -> Result<Vec<String>> {
        let dir = self.root.join("tests/tests");
        let mut all = Vec::new();
        for e in std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "rs") {
                if let Some(stem) = p.file_stem() {
                    all.push(stem.to_string_lossy().into_owned());
                }
            }
        }
        all.sort();
        Ok(all)
    }
}

/// Test outcomes collected from libtest's output.
#[derive(Default)]
struct Results {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Scenarios that passed after booting their first Linux twice (the reason is in `lines`).
    retried: usize,
    /// (name, PASS/FAIL/SKIP) for each scenario, and failed unit tests / steps.
    lines: Vec<(String, &'static str)>,
}

impl Results {
    fn record(&mut self, name: &str, ok: bool, show: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        if show || !ok {
            self.lines
                .push((name.to_string(), if ok { "PASS" } else { "FAIL" }));
        }
    }

    fn record_skip(&mut self, name: &str) {
        self.skipped += 1;
        self.lines.push((name.to_string(), "SKIP"));
    }

    /// A cargo step whose failure was not explained by a failed test (e.g. a compile error)
    /// counts as one failure.
    fn step(&mut self, name: &str, r: StepResult) {
        if !r.success && r.failed == 0 {
            self.record(
                &format!("{name} (cargo failed before reporting test results)"),
                false,
                true,
            );
        }
    }

    fn finish(&self, started: Instant) -> ExitCode {
        println!(
            "\n===== kexos test results ({:.0} s) =====",
            started.elapsed().as_secs_f64()
        );
        for (name, what) in &self.lines {
            println!("{what} {name}");
        }
        let retried = match self.retried {
            0 => String::new(),
            n => format!(" ({n} after booting their first Linux twice)"),
        };
        if self.skipped > 0 {
            println!(
                "{} passed{retried}, {} failed, {} skipped",
                self.passed, self.failed, self.skipped
            );
        } else {
            println!("{} passed{retried}, {} failed", self.passed, self.failed);
        }
        if self.failed == 0 && self.passed > 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

struct StepResult {
    success: bool,
    failed: usize,
}

/// Runs a `cargo test` command, passing its output through, and records every
/// `test NAME ... ok|FAILED` line. Scenario results (`skip_markers` given: the directory where
/// scenarios that skipped themselves leave `<name>.skipped`) get their own PASS/FAIL/SKIP lines.
fn run_libtest(
    mut cmd: Command,
    results: &mut Results,
    skip_markers: Option<&Path>,
) -> Result<StepResult> {
    let scenarios = skip_markers.is_some();
    cmd.stdout(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {}", describe(&cmd)))?;
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut failed = 0;
    for line in out.lines() {
        let line = line?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test ") {
            if let Some((name, outcome)) = rest.rsplit_once(" ... ") {
                let ok = match outcome.trim() {
                    "ok" => true,
                    o if o.starts_with("FAILED") => false,
                    _ => continue, // ignored, bench
                };
                if !ok {
                    failed += 1;
                }
                let shown = if scenarios {
                    name.to_string()
                } else {
                    format!("unit test {name}")
                };
                let skipped = ok
                    && skip_markers.is_some_and(|d| {
                        d.join(format!(
                            "{}{}",
                            name.replace("::", "-"),
                            kexos_tests::SKIP_SUFFIX
                        ))
                        .is_file()
                    });
                if skipped {
                    println!("SKIP {name}");
                    results.record_skip(&shown);
                    continue;
                }
                let retry = skip_markers
                    .map(|d| d.join(format!("{}{}", name.replace("::", "-"), kexos_tests::RETRY_SUFFIX)))
                    .and_then(|m| std::fs::read_to_string(m).ok());
                if let Some(why) = retry {
                    // Reported whatever the outcome: a hung first Linux is worth knowing about.
                    let line = format!("{name}: its first Linux was booted twice: {}", why.trim());
                    println!("RETRY {line}");
                    results.retried += usize::from(ok);
                    results.lines.push((line, "RETRY"));
                }
                if scenarios {
                    println!("{} {name}", if ok { "PASS" } else { "FAIL" });
                }
                results.record(&shown, ok, scenarios);
            }
        }
    }
    let status = child.wait()?;
    Ok(StepResult {
        success: status.success(),
        failed,
    })
}
