//! `cargo xtask`: build, run, debug, test and benchmark kexos. See `cargo xtask --help`.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use boot::{AddSpec, Firmware};
use kexos_tests::{markers, qemu_command, Console, Machine, QemuExit};

const HELP: &str = "\
cargo xtask: build, run, debug, test and benchmark kexos

USAGE:
    cargo xtask <COMMAND> [OPTIONS]

COMMANDS:
    build     Build user programs, the kernel, the initramfs and both disk images
              (target/images/{kexos-uefi.img,kexos-bios.img,initramfs.cpio,kexos.elf})
    run       Build, then boot in QEMU with the serial console on this terminal
    gdb       Like run, but QEMU waits for gdb on :1234 (-s -S); prints the gdb command
    test      Build, run the host unit tests, then the QEMU scenarios (tests/tests/*.rs)
    bench     Boot the release UEFI image and print boot time and sizes
    help      Print this help

OPTIONS (build, run, gdb):
    --release             Build the kernel in release mode (user programs are always release)
    --append \"ARGS\"       First boot's kernel command line (stored as /boot/cmdline)
    --add HOST:GUEST      Put host file HOST at GUEST in the initramfs (repeatable)
OPTIONS (run, gdb):
    --bios                Boot the BIOS image with SeaBIOS (default: UEFI image with OVMF)
    --mem SIZE            Guest memory, QEMU -m syntax (default: 512M)
    --no-build            Do not run cargo; reuse the built kernel and user programs
                          (the initramfs and images are still refreshed for --append/--add)
OPTIONS (test):
    --release             Test the release kernel
    --filter TEXT         Only run the QEMU scenarios whose name contains TEXT

ENVIRONMENT:
    KEXOS_OVMF            OVMF firmware image (default /usr/share/ovmf/OVMF.fd)
    KEXOS_TEST_VERBOSE=1  Echo every test machine's serial output live (test)

CONSOLE (run):
    Typed keys go to kexos unbuffered (QEMU puts the terminal in raw mode).
    Quit with the shell's `poweroff` (or `reboot`), or press Ctrl-A then X.
    Ctrl-C is passed to the guest. `run` exits 0 after poweroff, reboot or Ctrl-A X,
    and 1 with a message if the kernel panics.
";

const KERNEL_TARGET: &str = "x86_64-unknown-none";

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Parsed command-line options (each command accepts a subset, checked in `parse`).
#[derive(Default, Debug)]
struct Opts {
    release: bool,
    bios: bool,
    mem: Option<String>,
    append: String,
    add: Vec<AddSpec>,
    no_build: bool,
    filter: Option<String>,
}

fn parse(cmd: &str, args: &[String]) -> Result<Opts> {
    let allowed: &[&str] = match cmd {
        "build" => &["--release", "--append", "--add"],
        "run" | "gdb" => &[
            "--release",
            "--append",
            "--add",
            "--bios",
            "--mem",
            "--no-build",
        ],
        "test" => &["--release", "--filter"],
        "bench" => &[],
        _ => bail!("unknown command `{cmd}` (see `cargo xtask --help`)"),
    };
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if flag == "-h" || flag == "--help" {
            print!("{HELP}");
            std::process::exit(0);
        }
        if !allowed.contains(&flag) {
            bail!("`cargo xtask {cmd}` does not take `{arg}` (see `cargo xtask --help`)");
        }
        let mut value = || -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value")),
            }
        };
        match flag {
            "--release" => o.release = true,
            "--bios" => o.bios = true,
            "--no-build" => o.no_build = true,
            "--mem" => o.mem = Some(value()?),
            "--append" => o.append = value()?,
            "--add" => o.add.push(value()?.parse()?),
            "--filter" => o.filter = Some(value()?),
            _ => unreachable!("flag {flag} allowed but not handled"),
        }
    }
    Ok(o)
}

fn real_main() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        print!("{HELP}");
        return Ok(ExitCode::FAILURE);
    };
    if matches!(cmd.as_str(), "help" | "-h" | "--help") {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    }
    let opts = parse(cmd, &args[1..])?;
    let x = Xtask::new()?;
    match cmd.as_str() {
        "build" => {
            x.build(&opts)?;
            Ok(ExitCode::SUCCESS)
        }
        "run" => x.run(&opts, false),
        "gdb" => x.run(&opts, true),
        "test" => x.test(&opts),
        "bench" => x.bench(),
        _ => unreachable!(),
    }
}

struct Xtask {
    root: PathBuf,
}

/// What `build` produced.
struct Built {
    /// Kernel ELF with debug info (for gdb).
    kernel: PathBuf,
    /// Stripped copy: /boot/kexos.elf and the ELF the bootloader loads.
    stripped: PathBuf,
    initramfs: PathBuf,
}

/// Environment variables a nested cargo must not inherit from the outer `cargo xtask`
/// (flags and target settings meant for the host build would break the bare-metal builds).
const CARGO_ENV_BLOCKLIST: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "RUSTC",
    "RUSTDOC",
    "CARGO_BUILD_RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "CARGO_MAKEFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "OUT_DIR",
];

fn status_ok(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{} failed ({status})", describe(cmd));
    }
    Ok(())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    if let Some(d) = cmd.get_current_dir() {
        s.push_str(&format!(" (in {})", d.display()));
    }
    s
}

fn file_size(p: &Path) -> Result<u64> {
    Ok(std::fs::metadata(p)
        .with_context(|| format!("{}", p.display()))?
        .len())
}

fn kib(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

fn in_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn is_debian_like() -> bool {
    std::fs::read_to_string("/etc/os-release")
        .map(|s| {
            s.lines().any(|l| {
                (l.starts_with("ID=") || l.starts_with("ID_LIKE="))
                    && (l.contains("debian") || l.contains("ubuntu"))
            })
        })
        .unwrap_or(false)
        || Path::new("/etc/debian_version").exists()
}

impl Xtask {
    fn new() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask has no parent directory")?
            .to_path_buf();
        Ok(Xtask { root })
    }

    fn target(&self, sub: &str) -> PathBuf {
        self.root.join("target").join(sub)
    }

    /// A `cargo` command in `dir` with a clean environment (see [`CARGO_ENV_BLOCKLIST`]).
    /// The repository's rust-toolchain.toml applies because `dir` is inside the repository.
    fn cargo(&self, dir: &Path) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(dir);
        for v in CARGO_ENV_BLOCKLIST {
            cmd.env_remove(v);
        }
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CARGO_PKG_") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    fn kernel_elf(&self, release: bool) -> PathBuf {
        let profile = if release { "release" } else { "debug" };
        self.target("kernel")
            .join(KERNEL_TARGET)
            .join(profile)
            .join("kexos")
    }

    fn user_bin(&self, name: &str) -> PathBuf {
        self.target("user")
            .join(KERNEL_TARGET)
            .join("release")
            .join(name)
    }

    fn llvm_objcopy(&self) -> Result<PathBuf> {
        let out = |args: &[&str]| -> Result<String> {
            let mut cmd = Command::new("rustc");
            cmd.args(args).current_dir(&self.root).env_remove("RUSTC");
            let o = cmd
                .output()
                .with_context(|| format!("running {}", describe(&cmd)))?;
            if !o.status.success() {
                bail!(
                    "{} failed: {}",
                    describe(&cmd),
                    String::from_utf8_lossy(&o.stderr).trim()
                );
            }
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        };
        let sysroot = out(&["--print", "sysroot"])?;
        let vv = out(&["-vV"])?;
        let host = vv
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .context("no host line in rustc -vV")?;
        let p = Path::new(sysroot.trim())
            .join("lib/rustlib")
            .join(host.trim())
            .join("bin/llvm-objcopy");
        if !p.is_file() {
            bail!("{} not found: run `rustup toolchain install` in {} (the toolchain needs llvm-tools)", p.display(), self.root.display());
        }
        Ok(p)
    }

    fn build(&self, o: &Opts) -> Result<Built> {
        let started = Instant::now();
        let images = self.target("images");
        let kernel = self.kernel_elf(o.release);
        let stripped = images.join("kexos.elf");
        if !o.no_build {
            let user_dir = self.root.join("user");
            if !user_dir.join("Cargo.toml").is_file() {
                bail!(
                    "{} has no Cargo.toml yet: nothing to build for user space",
                    user_dir.display()
                );
            }
            eprintln!("xtask: building user programs");
            status_ok(
                self.cargo(&user_dir)
                    .args(["build", "--release", "--target-dir"])
                    .arg(self.target("user")),
            )?;
            eprintln!(
                "xtask: building the kernel ({})",
                if o.release { "release" } else { "debug" }
            );
            let mut cmd = self.cargo(&self.root.join("kernel"));
            cmd.arg("build")
                .arg("--target-dir")
                .arg(self.target("kernel"));
            if o.release {
                cmd.arg("--release");
            }
            status_ok(&mut cmd)?;
            std::fs::create_dir_all(&images)?;
            let tmp = images.join("kexos.elf.tmp");
            status_ok(
                Command::new(self.llvm_objcopy()?)
                    .arg("--strip-debug")
                    .arg(&kernel)
                    .arg(&tmp),
            )?;
            let data = std::fs::read(&tmp)?;
            std::fs::remove_file(&tmp)?;
            boot::write_if_changed(&stripped, &data)?;
        }
        for p in [&kernel, &stripped] {
            if !p.is_file() {
                bail!("{} is missing: build without --no-build first", p.display());
            }
        }
        let init = self.user_bin("init");
        if !init.is_file() {
            bail!(
                "{} is missing: build without --no-build first",
                init.display()
            );
        }
        let faulttest = self.user_bin("faulttest");
        let layout = boot::Layout {
            init,
            kernel: stripped.clone(),
            cmdline: o.append.clone(),
            bin: if faulttest.is_file() {
                vec![faulttest]
            } else {
                vec![]
            },
            add: o.add.clone(),
        };
        let initramfs = boot::build_images(
            &layout,
            &stripped,
            &images,
            &[Firmware::Uefi, Firmware::Bios],
        )?;
        eprintln!(
            "xtask: kernel {} ({} stripped), initramfs {}, images in {} ({:.1} s)",
            kib(file_size(&kernel)?),
            kib(file_size(&stripped)?),
            kib(file_size(&initramfs)?),
            images.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(Built {
            kernel,
            stripped,
            initramfs,
        })
    }

    /// Makes sure QEMU (and OVMF for UEFI) are installed; installs them as root on
    /// Debian/Ubuntu, otherwise fails with the command to run.
    fn prerequisites(&self, fw: Firmware) -> Result<()> {
        let ovmf = kexos_tests::ovmf_path();
        let missing_qemu = !in_path(kexos_tests::QEMU);
        let missing_ovmf = fw == Firmware::Uefi && !ovmf.is_file();
        if !missing_qemu && !missing_ovmf {
            return Ok(());
        }
        if missing_ovmf && std::env::var_os(kexos_tests::OVMF_ENV).is_some() {
            bail!(
                "{}={} does not exist",
                kexos_tests::OVMF_ENV,
                ovmf.display()
            );
        }
        let what = match (missing_qemu, missing_ovmf) {
            (true, true) => format!("{} and OVMF ({})", kexos_tests::QEMU, ovmf.display()),
            (true, false) => kexos_tests::QEMU.to_string(),
            _ => format!("OVMF ({})", ovmf.display()),
        };
        if is_root() && is_debian_like() && in_path("apt-get") {
            eprintln!("xtask: {what} missing; installing qemu-system-x86 and ovmf with apt-get");
            status_ok(Command::new("apt-get").arg("update"))?;
            status_ok(Command::new("apt-get").args(["install", "-y", "qemu-system-x86", "ovmf"]))?;
            if in_path(kexos_tests::QEMU)
                && (fw == Firmware::Bios || kexos_tests::ovmf_path().is_file())
            {
                return Ok(());
            }
            bail!("{what} still missing after apt-get install");
        }
        bail!("{what} not found; install with: sudo apt-get install -y qemu-system-x86 ovmf");
    }

    fn run(&self, o: &Opts, gdb: bool) -> Result<ExitCode> {
        let fw = if o.bios {
            Firmware::Bios
        } else {
            Firmware::Uefi
        };
        let built = self.build(o)?;
        self.prerequisites(fw)?;
        let image = boot::image_path(&self.target("images"), fw);
        let mut extra = Vec::new();
        if gdb {
            extra.extend(["-s".to_string(), "-S".to_string()]);
        }
        let interactive = std::io::stdin().is_terminal();
        let console = if interactive {
            Console::Interactive
        } else {
            Console::Pipe
        };
        let mut cmd = qemu_command(
            &image,
            fw,
            o.mem.as_deref().unwrap_or("512M"),
            console,
            &extra,
        );
        if gdb {
            eprintln!("xtask: QEMU is waiting for gdb. In another terminal, run:");
            eprintln!(
                "    gdb {} -ex 'target remote :1234'",
                built.kernel.display()
            );
            eprintln!("  (the kernel runs at its link address, so these symbols apply as is;");
            eprintln!("   use hardware breakpoints before the kernel is mapped: `hbreak kexos::kmain`, `continue`)");
        }
        if interactive {
            eprintln!(
                "xtask: booting {} ({}); quit with `poweroff` or Ctrl-A X",
                image.display(),
                fw.name()
            );
        }
        eprintln!("xtask: {}", describe(&cmd));
        let status = cmd
            .status()
            .with_context(|| format!("starting {}", kexos_tests::QEMU))?;
        match QemuExit::from_status(status) {
            QemuExit::PowerOff | QemuExit::Reset => Ok(ExitCode::SUCCESS),
            QemuExit::Panic => {
                eprintln!("xtask: kexos panicked (QEMU exit status 3)");
                Ok(ExitCode::FAILURE)
            }
            QemuExit::Code(c) => {
                eprintln!("xtask: QEMU exited with status {c}");
                Ok(ExitCode::FAILURE)
            }
            QemuExit::Signal => {
                eprintln!("xtask: QEMU was killed by a signal ({status})");
                Ok(ExitCode::FAILURE)
            }
        }
    }

    fn test(&self, o: &Opts) -> Result<ExitCode> {
        let started = Instant::now();
        let mut results = Results::default();
        // A build failure is a failed test run, reported like the others.
        if let Err(e) = self.build(o) {
            eprintln!("xtask: build failed: {e:#}");
            results.record("build", false, true);
            return Ok(results.finish(started));
        }
        self.prerequisites(Firmware::Uefi)?;

        eprintln!("\nxtask: host unit tests (cargo test --workspace)");
        let mut cmd = self.cargo(&self.root);
        cmd.args(["test", "--workspace"]);
        let before = results.passed;
        let unit = run_libtest(cmd, &mut results, false)?;
        let n = results.passed - before;
        if unit.success {
            results
                .lines
                .push((format!("host unit tests ({n} passed)"), true));
        }
        results.step("host unit tests", unit);

        eprintln!("\nxtask: QEMU scenarios (at most 2 machines at once)");
        let mut cmd = self.cargo(&self.root);
        cmd.args([
            "test",
            "-p",
            "kexos-tests",
            "--test",
            "foundation",
            "--",
            "--ignored",
            "--test-threads=2",
        ]);
        if let Some(f) = &o.filter {
            cmd.arg(f);
        }
        cmd.env(kexos_tests::ROOT_ENV, &self.root);
        // Scenario errors are anyhow errors with context; their backtraces are noise.
        cmd.env("RUST_LIB_BACKTRACE", "0");
        let before = results.passed + results.failed;
        let scen = run_libtest(cmd, &mut results, true)?;
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

    fn bench(&self) -> Result<ExitCode> {
        let o = Opts {
            release: true,
            ..Opts::default()
        };
        let built = self.build(&o)?;
        self.prerequisites(Firmware::Uefi)?;
        let image = boot::image_path(&self.target("images"), Firmware::Uefi);
        let mut m = Machine::spawn_image(
            "bench",
            &image,
            Firmware::Uefi,
            "512M",
            &[],
            Some(self.target("test-logs").join("bench.log")),
        )?;
        let to = Duration::from_secs(120);
        m.expect(markers::KERNEL_READY, to)?;
        let t_ready = m.elapsed();
        m.expect_prompt(to)?;
        let t_prompt = m.elapsed();
        // The kernel logs the figure at the first console read, i.e. usually just after the
        // prompt: look for the whole line, waiting for it if it has not arrived yet.
        let figure = |log: &str| {
            let rest = &log[log.find(markers::BOOT_TO_PROMPT)? + markers::BOOT_TO_PROMPT.len()..];
            let end = rest.find(" ms")?;
            Some(rest[..end].trim().to_string())
        };
        if figure(&m.transcript()).is_none() {
            m.expect(markers::BOOT_TO_PROMPT, to)?;
            m.expect(" ms", to)?;
        }
        let figure = figure(&m.transcript()).unwrap_or_else(|| "?".into());
        m.poweroff()?;

        let kernel = file_size(&built.kernel)?;
        println!("kexos bench (release kernel, UEFI, TCG)");
        println!("  kernel entry -> shell prompt (kernel log):  {figure} ms");
        println!(
            "  host wall time, QEMU start -> '{}': {:.3} s",
            markers::KERNEL_READY,
            t_ready.as_secs_f64()
        );
        println!(
            "  host wall time, QEMU start -> prompt:      {:.3} s",
            t_prompt.as_secs_f64()
        );
        println!(
            "  kernel ELF (release, with debug info):     {} ({} bytes; target < 1 MiB: {})",
            kib(kernel),
            kernel,
            if kernel < 1 << 20 { "yes" } else { "NO" }
        );
        println!(
            "  kernel ELF stripped (/boot/kexos.elf):     {}",
            kib(file_size(&built.stripped)?)
        );
        println!(
            "  initramfs:                                 {}",
            kib(file_size(&built.initramfs)?)
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Test outcomes collected from libtest's output.
#[derive(Default)]
struct Results {
    passed: usize,
    failed: usize,
    /// (name, passed) for each scenario, and failed unit tests / steps.
    lines: Vec<(String, bool)>,
}

impl Results {
    fn record(&mut self, name: &str, ok: bool, show: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        if show || !ok {
            self.lines.push((name.to_string(), ok));
        }
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
        for (name, ok) in &self.lines {
            println!("{} {name}", if *ok { "PASS" } else { "FAIL" });
        }
        println!("{} passed, {} failed", self.passed, self.failed);
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
/// `test NAME ... ok|FAILED` line. Scenario results get their own PASS/FAIL lines.
fn run_libtest(mut cmd: Command, results: &mut Results, scenarios: bool) -> Result<StepResult> {
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
