//! `cargo xtask run` and `cargo xtask gdb`: boot the built image in QEMU on this terminal.

use std::io::IsTerminal;
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use boot::Firmware;
use kexos_tests::{qemu_command, Console, QemuExit};

use crate::cli::Opts;
use crate::{describe, in_path, is_debian_like, is_root, status_ok, Xtask};

impl Xtask {
    /// Makes sure QEMU (and OVMF for UEFI) are installed; installs them as root on
    /// Debian/Ubuntu, otherwise fails with the command to run.
    pub(crate) fn prerequisites(&self, fw: Firmware) -> Result<()> {
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
            // No recommends, as .ci/run installs them: qemu-system-x86 recommends
            // qemu-system-gui, whose audio and display modules the SHA-NI fixture QEMU (another
            // build) would find in the machine's module directory (boot::qemu).
            status_ok(
                Command::new("apt-get")
                    .args(["install", "-y", "--no-install-recommends", "qemu-system-x86", "ovmf"])
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )?;
            if in_path(kexos_tests::QEMU)
                && (fw == Firmware::Bios || kexos_tests::ovmf_path().is_file())
            {
                return Ok(());
            }
            bail!("{what} still missing after apt-get install");
        }
        bail!("{what} not found; install with: sudo apt-get install -y qemu-system-x86 ovmf");
    }

    /// The tools the signature cross-checks run (libs/kexec-sign): sbsign and sbverify
    /// (sbsigntool) and openssl. Installed as root on Debian/Ubuntu, otherwise named.
    pub(crate) fn signing_tools(&self) -> Result<()> {
        let need = [("sbsign", "sbsigntool"), ("sbverify", "sbsigntool"), ("openssl", "openssl")];
        ensure_packages(&need, "the signature cross-checks need them")
    }

    pub(crate) fn run(&self, o: &Opts, gdb: bool) -> Result<ExitCode> {
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
        let emulator = if o.sha_ni {
            self.sha_ni_qemu();
            kexos_tests::Emulator::sha_ni(&self.root).map_err(|e| anyhow::anyhow!(e))?
        } else {
            kexos_tests::Emulator::System
        };
        let mut cmd = qemu_command(
            &emulator,
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
}

/// Makes sure every `(what, package)` of `need` is there: `what` is a program looked up in
/// `PATH`, or an absolute path (a header, a library) that must exist. The missing ones'
/// packages are installed with apt-get as root on Debian/Ubuntu (`why` says who needs them),
/// otherwise this fails naming them.
pub(crate) fn ensure_packages(need: &[(&str, &str)], why: &str) -> Result<()> {
    let present = |what: &str| {
        if what.starts_with('/') {
            std::path::Path::new(what).exists()
        } else {
            in_path(what)
        }
    };
    let mut missing: Vec<&str> = Vec::new();
    for (what, pkg) in need {
        if !present(what) && !missing.contains(pkg) {
            missing.push(pkg);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if is_root() && is_debian_like() && in_path("apt-get") {
        eprintln!("xtask: installing {} with apt-get ({why})", missing.join(" "));
        status_ok(Command::new("apt-get").arg("update"))?;
        status_ok(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        let still: Vec<&str> = need.iter().filter(|(w, _)| !present(w)).map(|(w, _)| *w).collect();
        if !still.is_empty() {
            bail!("{} still missing after apt-get install {}", still.join(", "), missing.join(" "));
        }
        return Ok(());
    }
    bail!(
        "{} not installed ({why}); install with: sudo apt-get install -y {}",
        missing.join(" "),
        missing.join(" ")
    );
}
