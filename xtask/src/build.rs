//! `cargo xtask build`: user programs, the purgatory, the kernel, its stripped copy, the
//! initramfs and both disk images.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use boot::{AddSpec, Firmware};

use crate::cli::Opts;
use crate::{describe, file_size, kib, status_ok, Xtask};

const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// What `build` produced.
pub(crate) struct Built {
    /// Kernel ELF with its symbols, and debug info in a debug build (for gdb).
    pub(crate) kernel: PathBuf,
    /// Stripped copy (only `kexos_boot64` kept): /boot/kexos.elf and the ELF the bootloader loads.
    pub(crate) stripped: PathBuf,
    pub(crate) initramfs: PathBuf,
    /// The initramfs has /boot/vmlinuz.
    pub(crate) with_linux: bool,
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

    /// A `cargo` command in `dir` with a clean environment (see [`CARGO_ENV_BLOCKLIST`]).
    /// The repository's rust-toolchain.toml applies because `dir` is inside the repository.
    pub(crate) fn cargo(&self, dir: &Path) -> Command {
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
        crate::purgatory::check_file(&self.target("purgatory").join("purgatory.o"))
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

    pub(crate) fn build(&self, o: &Opts) -> Result<Built> {
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
            let keyring = self.keyring_env(o, &o.extra_trusted)?;
            eprintln!(
                "xtask: kernel keyring: {} trusted certificates, {} blacklisted, sig_enforce {}",
                keyring.trusted.len(),
                keyring.blacklist.len(),
                if keyring.sig_enforce { "on" } else { "off" }
            );
            let mut cmd = self.cargo(&self.root.join("kernel"));
            keyring.apply(&mut cmd);
            cmd.arg("build")
                .arg("--target-dir")
                .arg(self.target("kernel"));
            if o.release {
                cmd.arg("--release");
            }
            status_ok(&mut cmd)?;
            std::fs::create_dir_all(&images)?;
            let tmp = images.join("kexos.elf.tmp");
            // Everything but the one symbol our ELF64 loader looks the entry up by: every
            // self-kexec carries and hashes /boot/kexos.elf with the rest of the initramfs.
            status_ok(
                Command::new(self.llvm_objcopy()?)
                    .arg("--strip-all")
                    .arg(format!("--keep-symbol={}", kexec_core::elf64::KEXOS_BOOT64_SYMBOL))
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
        // Test programs, in /bin when built.
        let bin: Vec<PathBuf> = ["faulttest", "sysfuzz"].iter().map(|b| self.user_bin(b)).filter(|p| p.is_file()).collect();
        let kexos = self.kexos_images(&stripped, &images)?;
        let mut add = self.linux_adds(o)?;
        if o.sign {
            // Replaces the unsigned copies Layout puts there.
            for (host, guest) in [(&kexos.signed_bzimage, "/boot/kexos.bzImage"), (&kexos.signed_elf, "/boot/kexos.elf")] {
                add.push(AddSpec { host: host.clone(), guest: guest.into() });
            }
        }
        let with_linux = add.iter().any(|a| a.guest == "/boot/vmlinuz");
        add.extend(o.add.iter().cloned());
        let layout = boot::Layout {
            init,
            kernel: stripped.clone(),
            cmdline: o.append.clone(),
            bin,
            add,
        };
        let initramfs = boot::build_images(
            &layout,
            &[],
            &stripped,
            &images,
            &[Firmware::Uefi, Firmware::Bios],
        )?;
        eprintln!(
            "xtask: kernel {} ({} stripped), initramfs {}{}{}, images in {} ({:.1} s)",
            kib(file_size(&kernel)?),
            kib(file_size(&stripped)?),
            kib(file_size(&initramfs)?),
            if with_linux {
                " (with /boot/vmlinuz)"
            } else {
                " (no Linux)"
            },
            if o.sign { ", /boot/kexos.{bzImage,elf} signed" } else { "" },
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
}
