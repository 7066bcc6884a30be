//! `cargo xtask`: build, run, debug, test and benchmark kexos. See `cargo xtask --help`.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use boot::linux::LinuxFixture;
use boot::{AddSpec, Firmware};
use kexos_tests::{markers, qemu_command, Console, Machine, QemuExit};

mod bench;
mod bench_crash;
mod fixtures;
mod purgatory;

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
    bench     Boot the release UEFI image, kexec into Linux; then have Linux kexec the same
              payload with Debian's kexec-tools; print times and sizes side by side; then the
              self-kexec (issue 4) and crash-dump (issue 5) figures
    fixtures  Fetch the Linux fixture if it is not cached (target/fixtures/linux/): a Debian
              cloud bzImage (apt-get download), a busybox initramfs for it, and Debian's
              kexec-tools with its libraries (initrd-kexec.img: Linux that can kexec).
              build/run/test/bench do this by themselves when they need it
    help      Print this help

OPTIONS (build, run, gdb):
    --release             Build the kernel in release mode (user programs are always release)
    --append \"ARGS\"       First boot's kernel command line (stored as /boot/cmdline)
    --add HOST:GUEST      Put host file HOST at GUEST in the initramfs (repeatable)
    --no-linux            Leave Linux out of the initramfs (default: the fixture's bzImage
                          and initramfs at /boot/vmlinuz and /boot/initrd.img, ~16 MiB)
    --linux PATH          Use this bzImage as /boot/vmlinuz instead of the fixture's
    --linux-initrd PATH   Use this file as /boot/initrd.img instead of the fixture's
OPTIONS (run, gdb):
    --bios                Boot the BIOS image with SeaBIOS (default: UEFI image with OVMF;
                          BIOS loads the initramfs at ~1 MiB/s: add --no-linux to boot fast)
    --mem SIZE            Guest memory, QEMU -m syntax (default: 512M)
    --no-build            Do not run cargo; reuse the built kernel and user programs
                          (the initramfs and images are still refreshed for --append/--add)
OPTIONS (test):
    --release             Test the release kernel
    --filter TEXT         Only run the QEMU scenarios whose name contains TEXT
    --include-wip         Also run the scenario files not enabled yet (WIP_SCENARIOS in
                          xtask/src/main.rs)
OPTIONS (bench):
    --only crash          Only the crash-dump figures (issue 5): panic -> capture prompt,
                          panic -> Linux, /proc/vmcore throughput, smallest crashkernel=
OPTIONS (fixtures):
    --force               Download again even if cached

ENVIRONMENT:
    KEXOS_OVMF            OVMF firmware image (default /usr/share/ovmf/OVMF.fd)
    KEXOS_TEST_VERBOSE=1  Echo every test machine's serial output live (test)
    KEXOS_SKIP_LINUX=1    If the Linux fixture is not cached, do not fetch it, and report the
                          scenarios that need it as skipped instead of failed
    KEXOS_LINUX_PACKAGE   Debian package to take the bzImage from (fixtures; default: the
                          dependency of linux-image-cloud-amd64, i.e. Debian's current one)

CONSOLE (run):
    Typed keys go to kexos unbuffered (QEMU puts the terminal in raw mode).
    Quit with the shell's `poweroff` (or `reboot`), or press Ctrl-A then X.
    Ctrl-C is passed to the guest. `run` exits 0 after poweroff, reboot or Ctrl-A X,
    and 1 with a message if the kernel panics.
";

const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// Scenario files (`tests/tests/<name>.rs`) that `cargo xtask test` does not run unless
/// `--include-wip` is given: scenarios written ahead of the code they test. Remove a name to
/// enable its file in the default run (and CI).
const WIP_SCENARIOS: &[&str] = &[];

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
    no_linux: bool,
    linux: Option<PathBuf>,
    linux_initrd: Option<PathBuf>,
    include_wip: bool,
    force: bool,
    only: Option<String>,
}

fn parse(cmd: &str, args: &[String]) -> Result<Opts> {
    let allowed: &[&str] = match cmd {
        "build" => &[
            "--release",
            "--append",
            "--add",
            "--no-linux",
            "--linux",
            "--linux-initrd",
        ],
        "run" | "gdb" => &[
            "--release",
            "--append",
            "--add",
            "--bios",
            "--mem",
            "--no-build",
            "--no-linux",
            "--linux",
            "--linux-initrd",
        ],
        "test" => &["--release", "--filter", "--include-wip"],
        "bench" => &["--only"],
        "fixtures" => &["--force"],
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
            "--no-linux" => o.no_linux = true,
            "--linux" => o.linux = Some(PathBuf::from(value()?)),
            "--linux-initrd" => o.linux_initrd = Some(PathBuf::from(value()?)),
            "--include-wip" => o.include_wip = true,
            "--force" => o.force = true,
            "--only" => o.only = Some(value()?),
            _ => unreachable!("flag {flag} allowed but not handled"),
        }
    }
    if o.no_linux && (o.linux.is_some() || o.linux_initrd.is_some()) {
        bail!("--no-linux cannot be combined with --linux or --linux-initrd");
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
        "bench" => x.bench(&opts),
        "fixtures" => x.fixtures_cmd(&opts),
        _ => unreachable!(),
    }
}

struct Xtask {
    root: PathBuf,
    /// The Linux fixture, once looked for (None inside: unavailable).
    fixture: std::cell::OnceCell<Option<LinuxFixture>>,
}

/// What `build` produced.
struct Built {
    /// Kernel ELF with debug info (for gdb).
    kernel: PathBuf,
    /// Stripped copy: /boot/kexos.elf and the ELF the bootloader loads.
    stripped: PathBuf,
    initramfs: PathBuf,
    /// The initramfs has /boot/vmlinuz.
    with_linux: bool,
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

fn skip_linux() -> bool {
    std::env::var(kexos_tests::SKIP_LINUX_ENV).is_ok_and(|v| v == "1")
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
        Ok(Xtask {
            root,
            fixture: std::cell::OnceCell::new(),
        })
    }

    /// The Linux fixture, fetched if it is not cached (once per xtask run). When it cannot be
    /// obtained, prints one line saying why and returns None.
    fn linux_fixture(&self) -> Option<LinuxFixture> {
        self.fixture
            .get_or_init(|| {
                let cached = LinuxFixture::at(&self.root);
                let downloaded = [&cached.kernel, &cached.version_file, &cached.busybox]
                    .iter()
                    .all(|p| p.is_file());
                if skip_linux() && !downloaded {
                    eprintln!(
                        "xtask: Linux fixture not cached and {}=1: not fetching it (no /boot/vmlinuz; Linux scenarios are skipped)",
                        kexos_tests::SKIP_LINUX_ENV
                    );
                    return None;
                }
                match fixtures::ensure(&self.root, false) {
                    Ok(out) => {
                        if let Some(t) = out.fetched_in {
                            eprintln!(
                                "xtask: Linux fixture {} fetched in {t:.1} s ({})",
                                out.fixture.version().unwrap_or_default(),
                                out.fixture.dir.display()
                            );
                        }
                        if let Some(e) = &out.kexec_error {
                            eprintln!(
                                "xtask: Debian's kexec-tools unavailable for the Linux fixture ({e}): the scenarios where Linux kexecs FAIL unless {}=1",
                                kexos_tests::SKIP_LINUX_ENV
                            );
                        }
                        Some(out.fixture)
                    }
                    Err(e) => {
                        eprintln!(
                            "xtask: Linux fixture unavailable ({e:#}): no /boot/vmlinuz in the initramfs, and the Linux scenarios FAIL unless {}=1",
                            kexos_tests::SKIP_LINUX_ENV
                        );
                        None
                    }
                }
            })
            .clone()
    }

    fn fixtures_cmd(&self, o: &Opts) -> Result<ExitCode> {
        let out = fixtures::ensure(&self.root, o.force)
            .context("fetching the Linux fixture (needs apt-get, Debian/Ubuntu, network)")?;
        let f = &out.fixture;
        match out.fetched_in {
            Some(t) => println!("xtask: fetched in {t:.1} s"),
            None => println!("xtask: cached (use --force to download again)"),
        }
        let package = std::fs::read_to_string(f.dir.join("package")).unwrap_or_default();
        println!("Linux fixture in {}:", f.dir.display());
        println!(
            "  vmlinuz     {} (uname -r {}, package {})",
            kib(file_size(&f.kernel)?),
            f.version()?,
            package.trim()
        );
        println!(
            "  initrd.img  {} (busybox, /init prints KEXOS-LINUX-* markers)",
            kib(file_size(&f.initrd)?)
        );
        println!("  busybox     {}", kib(file_size(&f.busybox)?));
        match &out.kexec_error {
            None => {
                let files = f.kexec_guest_files()?;
                let mut total = 0;
                for (h, _) in &files {
                    total += file_size(h)?;
                }
                let package =
                    std::fs::read_to_string(f.dir.join("kexec.package")).unwrap_or_default();
                println!(
                    "  kexec/      {} ({}; {} files: {})",
                    kib(total),
                    package.lines().next().unwrap_or("kexec-tools"),
                    files.len(),
                    files
                        .iter()
                        .map(|(_, g)| g.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                println!(
                    "  initrd-kexec.img  {} (initrd.img + kexec/ + /boot/vmlinuz + /boot/initrd.img)",
                    kib(file_size(&f.kexec_initrd)?)
                );
            }
            Some(e) => println!("  kexec-tools: unavailable ({e})"),
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The `/boot/vmlinuz` and `/boot/initrd.img` additions for the default initramfs.
    fn linux_adds(&self, o: &Opts) -> Result<Vec<AddSpec>> {
        if o.no_linux {
            return Ok(Vec::new());
        }
        for (flag, p) in [("--linux", &o.linux), ("--linux-initrd", &o.linux_initrd)] {
            if let Some(p) = p {
                if !p.is_file() {
                    bail!("{flag} {}: not a file", p.display());
                }
            }
        }
        let fx = if o.linux.is_none() || o.linux_initrd.is_none() {
            self.linux_fixture()
        } else {
            None
        };
        let kernel = o.linux.clone().or(fx.as_ref().map(|f| f.kernel.clone()));
        let initrd = o
            .linux_initrd
            .clone()
            .or(fx.as_ref().map(|f| f.initrd.clone()));
        let mut adds = Vec::new();
        if let Some(k) = kernel {
            adds.push(AddSpec {
                host: k,
                guest: "/boot/vmlinuz".into(),
            });
        }
        if let Some(i) = initrd {
            adds.push(AddSpec {
                host: i,
                guest: "/boot/initrd.img".into(),
            });
        }
        Ok(adds)
    }

    fn target(&self, sub: &str) -> PathBuf {
        self.root.join("target").join(sub)
    }

    /// A `cargo` command in `dir` with a clean environment (see [`CARGO_ENV_BLOCKLIST`]).
    /// The repository's rust-toolchain.toml applies because `dir` is inside the repository.
    fn cargo(&self, dir: &Path) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(dir);
        clean_env(&mut cmd);
        cmd
    }

    /// Builds the purgatory object (`purgatory/build.sh` -> target/purgatory/purgatory.o),
    /// which the kernel's build.rs embeds, and checks it against purgatory_abi
    /// (xtask/src/purgatory.rs). build.sh's report is shown only if it fails.
    fn build_purgatory(&self) -> Result<()> {
        let script = self.root.join("purgatory/build.sh");
        if !script.is_file() {
            return Ok(());
        }
        eprintln!("xtask: building the purgatory (purgatory/build.sh)");
        let mut cmd = Command::new("bash");
        cmd.arg(&script).current_dir(&self.root);
        clean_env(&mut cmd);
        let out = cmd
            .output()
            .with_context(|| format!("running {}", describe(&cmd)))?;
        if !out.status.success() {
            eprint!("{}", String::from_utf8_lossy(&out.stdout));
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            bail!("{} failed ({})", describe(&cmd), out.status);
        }
        purgatory::check_file(&self.target("purgatory").join("purgatory.o"))
    }
}

/// Removes from `cmd`'s environment what a nested cargo must not inherit from the outer
/// `cargo xtask` (see [`CARGO_ENV_BLOCKLIST`]).
fn clean_env(cmd: &mut Command) {
    for v in CARGO_ENV_BLOCKLIST {
        cmd.env_remove(v);
    }
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CARGO_PKG_") {
            cmd.env_remove(k);
        }
    }
}

impl Xtask {
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
            self.build_purgatory()?;
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
        let mut add = self.linux_adds(o)?;
        let with_linux = add.iter().any(|a| a.guest == "/boot/vmlinuz");
        add.extend(o.add.iter().cloned());
        let layout = boot::Layout {
            init,
            kernel: stripped.clone(),
            cmdline: o.append.clone(),
            bin: if faulttest.is_file() {
                vec![faulttest]
            } else {
                vec![]
            },
            add,
        };
        let initramfs = boot::build_images(
            &layout,
            &stripped,
            &images,
            &[Firmware::Uefi, Firmware::Bios],
        )?;
        eprintln!(
            "xtask: kernel {} ({} stripped), initramfs {}{}, images in {} ({:.1} s)",
            kib(file_size(&kernel)?),
            kib(file_size(&stripped)?),
            kib(file_size(&initramfs)?),
            if with_linux {
                " (with /boot/vmlinuz)"
            } else {
                " (no Linux)"
            },
            images.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(Built {
            kernel,
            stripped,
            initramfs,
            with_linux,
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
        // The Linux scenarios need the fixture (build fetched it already unless --no-linux).
        let _ = self.linux_fixture();

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

        let (files, wip) = self.scenario_files(o.include_wip)?;
        eprintln!(
            "\nxtask: QEMU scenarios from tests/tests/{{{}}}.rs (at most 2 machines at once){}",
            files.join(","),
            if wip.is_empty() {
                String::new()
            } else {
                format!("; not enabled yet (--include-wip): {}", wip.join(", "))
            }
        );
        // Scenarios that skip themselves (KEXOS_SKIP_LINUX=1) leave a marker here.
        let logs = self.target("test-logs");
        if let Ok(rd) = std::fs::read_dir(&logs) {
            for e in rd.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .ends_with(kexos_tests::SKIP_SUFFIX)
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
        for w in &wip {
            results.notes.push(format!(
                "not run: tests/tests/{w}.rs (WIP; --include-wip runs it)"
            ));
        }
        Ok(results.finish(started))
    }

    /// The scenario files to run (names of `tests/tests/*.rs`) and the WIP ones left out.
    fn scenario_files(&self, include_wip: bool) -> Result<(Vec<String>, Vec<String>)> {
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
        let (wip, run): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|f| !include_wip && WIP_SCENARIOS.contains(&f.as_str()));
        Ok((run, wip))
    }

    fn bench(&self, opts: &Opts) -> Result<ExitCode> {
        if let Some(only) = opts.only.as_deref().filter(|o| *o != "crash") {
            bail!("--only takes `crash`, not `{only}`");
        }
        let o = Opts {
            release: true,
            ..Opts::default()
        };
        let built = self.build(&o)?;
        self.prerequisites(Firmware::Uefi)?;
        let no_fixture = "no Linux fixture; see above";
        if opts.only.is_some() {
            let fx = LinuxFixture::at(&self.root);
            bench_crash::crash_dumps(&self.root, built.with_linux.then_some(&fx), no_fixture);
            return Ok(ExitCode::SUCCESS);
        }
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
        let kexec = if built.with_linux {
            m.print_on_failure = false;
            let (figures, why) = bench::kexec_into_linux(&mut m);
            Some((figures, why))
        } else {
            m.poweroff()?;
            None
        };
        drop(m);

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
            "  initramfs:                                 {}{}",
            kib(file_size(&built.initramfs)?),
            if built.with_linux {
                " (with the Linux fixture)"
            } else {
                ""
            }
        );
        let Some((mut figures, why)) = kexec else {
            println!("kexec into Linux: n/a (no Linux fixture; see above)");
            bench::self_kexec(&self.root, &built.stripped, None);
            bench_crash::crash_dumps(&self.root, None, no_fixture);
            return Ok(ExitCode::SUCCESS);
        };
        // The same payload kexec'd by Linux itself (Debian's kexec-tools), in the same machine.
        let fx = LinuxFixture::at(&self.root);
        let linux_why = bench::linux_kexec_linux(&fx, &self.target(""), &mut figures);
        let kexec_package = std::fs::read_to_string(fx.dir.join("kexec.package"))
            .ok()
            .and_then(|p| p.lines().next().map(str::to_string))
            .unwrap_or_else(|| "kexec-tools".into());
        println!(
            "kexec into Linux {} (vmlinuz {}, initrd {}, --append=\"{}\"; QEMU TCG, q35, 512M)",
            fx.version().unwrap_or_else(|_| "?".into()),
            file_size(&fx.kernel).map(kib).unwrap_or_default(),
            file_size(&fx.initrd).map(kib).unwrap_or_default(),
            bench::APPEND
        );
        let linux_head = format!(
            "Linux {} ({kexec_package} -s)",
            fx.version().unwrap_or_default()
        );
        let w0 = figures.iter().map(|f| f.label.len()).max().unwrap_or(0) + 1;
        let w1 = figures
            .iter()
            .map(|f| f.value.as_deref().unwrap_or("n/a").len())
            .max()
            .unwrap_or(0)
            .max("kexos (shell kexec)".len());
        println!(
            "  {:<w0$}  {:<w1$}  {linux_head}",
            "", "kexos (shell kexec)"
        );
        for f in &figures {
            println!(
                "  {:<w0$}  {:<w1$}  {}",
                format!("{}:", f.label),
                f.value.as_deref().unwrap_or("n/a"),
                f.linux.as_deref().unwrap_or("n/a")
            );
        }
        println!("  (logs: target/test-logs/bench.log, target/test-logs/bench-linux-kexec.log; host times are between the arrivals of two console lines)");
        if let Some(why) = why {
            println!("  (kexos stopped early: {why})");
        }
        if let Some(why) = linux_why {
            println!("  (Linux stopped early: {why})");
        }
        bench::self_kexec(&self.root, &built.stripped, Some(&figures));
        bench_crash::crash_dumps(&self.root, Some(&fx), no_fixture);
        Ok(ExitCode::SUCCESS)
    }
}

/// Test outcomes collected from libtest's output.
#[derive(Default)]
struct Results {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// (name, PASS/FAIL/SKIP) for each scenario, and failed unit tests / steps.
    lines: Vec<(String, &'static str)>,
    /// Printed after the lines.
    notes: Vec<String>,
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
        for n in &self.notes {
            println!("note: {n}");
        }
        if self.skipped > 0 {
            println!(
                "{} passed, {} failed, {} skipped",
                self.passed, self.failed, self.skipped
            );
        } else {
            println!("{} passed, {} failed", self.passed, self.failed);
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
