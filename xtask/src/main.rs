//! `cargo xtask`: build, run, debug, test and benchmark kexos. See `cargo xtask --help`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use boot::linux::{ImaLinux, LinuxFixture};

use crate::cli::{help, parse, Opts};

mod bench;
mod bench_cmd;
mod bench_crash;
mod bench_ima;
mod bench_phases;
mod bench_self;
mod bench_sha;
mod bench_sig;
mod bench_translate;
mod build;
mod cli;
mod fixtures;
mod fuzz;
mod fuzz_seeds;
mod keys;
mod lint;
mod purgatory;
mod run;
mod sign;
mod test_runner;

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        print!("{}", help());
        return Ok(ExitCode::FAILURE);
    };
    if matches!(cmd.as_str(), "help" | "-h" | "--help") {
        print!("{}", help());
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
        "sign" => x.sign_cmd(&opts),
        "fuzz" => x.fuzz(&opts),
        "lint" => x.lint_cmd(&opts),
        _ => unreachable!(),
    }
}

struct Xtask {
    root: PathBuf,
    /// The Linux fixture, once looked for (None inside: unavailable).
    fixture: std::cell::OnceCell<Option<LinuxFixture>>,
    /// The IMA Linux, once looked for (None inside: unavailable).
    ima_linux: std::cell::OnceCell<Option<ImaLinux>>,
}

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
            ima_linux: std::cell::OnceCell::new(),
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

    /// The IMA Linux (`fixtures::ima`), built if the machine's cache does not have it (once per
    /// xtask run). When it cannot be had, prints one line saying why and returns None.
    fn ima_linux(&self) -> Option<ImaLinux> {
        self.ima_linux
            .get_or_init(|| {
                let cached = ImaLinux::at(&self.root);
                if skip_linux() && !cached.is_complete() {
                    eprintln!(
                        "xtask: IMA Linux not built and {}=1: not building it (the IMA Linux scenarios are skipped)",
                        kexos_tests::SKIP_LINUX_ENV
                    );
                    return None;
                }
                match fixtures::ima::ensure(&self.root, false) {
                    Ok(out) => Some(out.ima),
                    Err(e) => {
                        eprintln!(
                            "xtask: IMA Linux unavailable ({e:#}): the IMA Linux scenarios FAIL unless {}=1",
                            kexos_tests::SKIP_LINUX_ENV
                        );
                        None
                    }
                }
            })
            .clone()
    }

    /// The SHA-NI QEMU (`fixtures::qemu`), fetched if missing. When it cannot be had, prints
    /// one line saying why (the SHA-NI scenario then fails with the recorded reason).
    pub(crate) fn sha_ni_qemu(&self) {
        if let Err(e) = fixtures::qemu::ensure(&self.root, false) {
            eprintln!("xtask: SHA-NI QEMU unavailable ({e:#}): the SHA-NI scenarios FAIL");
        }
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
        println!(
            "  vmlinuz-unsigned  {} (the same kernel from the -unsigned package)",
            kib(file_size(&f.kernel_unsigned)?)
        );
        println!(
            "  debian-secure-boot-ca.der  {} bytes ({}, from shim-signed)",
            file_size(&f.debian_ca)?,
            fixtures::sig::DEBIAN_CA_SUBJECT
        );
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
        let qemu_ok = match fixtures::qemu::ensure(&self.root, o.force) {
            Ok(q) => {
                let key = std::fs::read_to_string(&q.key_file).unwrap_or_default();
                println!("SHA-NI QEMU in {}:", q.dir.display());
                println!("  {} (-cpu {}; {})", q.binary().display(), boot::qemu::CPU, key.split_whitespace().collect::<Vec<_>>().join(", "));
                true
            }
            Err(e) => {
                println!("  SHA-NI QEMU: unavailable ({e:#})");
                false
            }
        };
        match fixtures::ima::ensure(&self.root, o.force) {
            Ok(out) => {
                let ima = &out.ima;
                println!("IMA Linux in {}:", ima.dir.display());
                println!(
                    "  bzImage     {} (uname -r {}, {}; {})",
                    kib(file_size(&ima.kernel)?),
                    ima.version()?,
                    out.key,
                    match out.built_in {
                        Some(t) => format!("built in {t:.1} s"),
                        None => "cached".to_string(),
                    }
                );
                println!("  config      the .config ({})", out.entry.display());
                Ok(if qemu_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }
            Err(e) => {
                println!("  IMA Linux: unavailable ({e:#})");
                Ok(ExitCode::FAILURE)
            }
        }
    }

    fn target(&self, sub: &str) -> PathBuf {
        self.root.join("target").join(sub)
    }
}
