//! [`BootOptions`]: what one test machine boots, and its per-test disk image.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::{AddSpec, Artifacts, Emulator, Firmware, LinuxFixture};

/// Everything needed to boot one test machine.
#[derive(Clone, Debug)]
pub struct BootOptions {
    /// Name of the machine: log file `target/test-logs/<name>.log`, image directory
    /// `target/test-images/<name>/`. Defaults to the current thread's name (libtest names it
    /// after the test).
    pub name: String,
    /// UEFI (OVMF) or BIOS (SeaBIOS).
    pub firmware: Firmware,
    /// QEMU `-m` value.
    pub mem: String,
    /// First boot's kernel command line (written to `/boot/cmdline`).
    pub append: String,
    /// Extra initramfs files (host path, absolute guest path).
    pub add: Vec<(PathBuf, String)>,
    /// Initramfs paths left out of the default layout (e.g. `/boot/kexos.elf`, to fit a small
    /// machine).
    pub remove: Vec<String>,
    /// Extra QEMU arguments, appended last.
    pub extra_qemu_args: Vec<String>,
    /// Which QEMU (and CPU model) runs the machine.
    pub emulator: Emulator,
    /// Time allowed from QEMU start to the first shell prompt ([`Machine::boot`](crate::Machine::boot)).
    pub timeout: Duration,
}

impl Default for BootOptions {
    fn default() -> Self {
        let name = std::thread::current()
            .name()
            .unwrap_or("machine")
            .replace("::", "-");
        BootOptions {
            name,
            firmware: Firmware::Uefi,
            mem: "512M".into(),
            append: String::new(),
            add: Vec::new(),
            remove: Vec::new(),
            extra_qemu_args: Vec::new(),
            emulator: Emulator::System,
            timeout: Duration::from_secs(120),
        }
    }
}

impl BootOptions {
    /// Defaults for `firmware`, with a boot timeout that suits it (BIOS loads the kernel and
    /// ramdisk at roughly 1 s per MiB under TCG).
    pub fn new(firmware: Firmware) -> Self {
        let timeout = match firmware {
            Firmware::Uefi => Duration::from_secs(120),
            Firmware::Bios => Duration::from_secs(240),
        };
        BootOptions {
            firmware,
            timeout,
            ..Self::default()
        }
    }

    /// Puts the Linux fixture in the initramfs at `/boot/vmlinuz` and `/boot/initrd.img`, as
    /// `cargo xtask run` does.
    pub fn with_linux(mut self, fixture: &LinuxFixture) -> Self {
        self.add
            .push((fixture.kernel.clone(), "/boot/vmlinuz".into()));
        self.add
            .push((fixture.initrd.clone(), "/boot/initrd.img".into()));
        self
    }

    /// Builds this machine's initramfs and disk image from `artifacts`; returns the image path.
    /// The initramfs has the default layout plus `/bin/faulttest` and `add`, less `remove`.
    pub fn build_image(&self, artifacts: &Artifacts) -> Result<PathBuf> {
        let dir = artifacts.target("test-images").join(&self.name);
        let bin: Vec<PathBuf> = [&artifacts.faulttest, &artifacts.sysfuzz]
            .into_iter()
            .filter(|p| p.is_file())
            .cloned()
            .collect();
        let layout = boot::Layout {
            init: artifacts.init.clone(),
            kernel: artifacts.kernel.clone(),
            cmdline: self.append.clone(),
            bin,
            add: self
                .add
                .iter()
                .map(|(h, g)| AddSpec {
                    host: h.clone(),
                    guest: g.clone(),
                })
                .collect(),
        };
        boot::build_images(&layout, &self.remove, &artifacts.kernel, &dir, &[self.firmware])
            .with_context(|| format!("building the disk image for {}", self.name))?;
        Ok(boot::image_path(&dir, self.firmware))
    }
}
