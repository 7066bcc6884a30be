//! The second emulator: a QEMU whose TCG emulates the SHA extensions, so that kexos's SHA-NI
//! path (libs/sha256) runs somewhere. Debian 12's QEMU 7.2 does not emulate them
//! (`-cpu max,sha-ni=on,enforce`: "TCG doesn't support requested feature: CPUID.07H:EBX.sha-ni");
//! bookworm-backports' QEMU 10 does. `cargo xtask fixtures` (and `cargo xtask test`) unpack
//! that package here with `apt-get download` and `dpkg-deb`, through a private apt source list:
//! the machine's QEMU and apt configuration stay as they are.
//!
//! Layout under `target/fixtures/qemu-sha-ni/`:
//! - `root/`   the unpacked packages ([`PACKAGES`]): `usr/bin/qemu-system-x86_64`, its modules
//!   under `usr/lib/x86_64-linux-gnu/qemu/`, its firmware blobs under `usr/share/qemu/`
//! - `key`     `<package>=<version>` per line, written last: the tree is complete when it exists
//! - `error`   why xtask could not fetch it, one line (absent when it could)

use std::path::{Path, PathBuf};
use std::process::Command;

/// The packages unpacked into `root/`: the binary, its loadable modules, its firmware blobs.
pub const PACKAGES: &[&str] = &["qemu-system-x86", "qemu-system-common", "qemu-system-data"];

/// The CPU model that has SHA-NI under this QEMU's TCG (and every other feature TCG emulates).
pub const CPU: &str = "max";

/// Where the fixture QEMU lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShaNiQemu {
    /// `target/fixtures/qemu-sha-ni`.
    pub dir: PathBuf,
    /// The unpacked packages.
    pub root: PathBuf,
    /// `<package>=<version>` lines, written last.
    pub key_file: PathBuf,
    /// Why xtask could not fetch it.
    pub error_file: PathBuf,
}

impl ShaNiQemu {
    /// The paths under `<repo>/target/fixtures/qemu-sha-ni`.
    pub fn at(repo: &Path) -> Self {
        let dir = repo.join("target/fixtures/qemu-sha-ni");
        ShaNiQemu {
            root: dir.join("root"),
            key_file: dir.join("key"),
            error_file: dir.join("error"),
            dir,
        }
    }

    /// The emulator binary.
    pub fn binary(&self) -> PathBuf {
        self.root.join("usr/bin/qemu-system-x86_64")
    }

    /// Whether the unpacked tree is complete (its key written, its binary there).
    pub fn is_complete(&self) -> bool {
        self.key_file.is_file() && self.binary().is_file()
    }

    /// A command running this QEMU: its own modules (`QEMU_MODULE_DIR`: it refuses the
    /// machine's, which come from another build) and firmware directory, then the machine's
    /// (for the blobs `qemu-system-data` leaves to other packages). No `-cpu`.
    ///
    /// `-audio none`: without an audio backend QEMU 10 probes for one by loading modules
    /// (`audio-pa`, ...). [`PACKAGES`] has none, so it looks in the machine's module directory
    /// next, and where the machine's QEMU came with `qemu-system-gui` (apt's recommends) it
    /// finds 7.2's `audio-pa.so`, refuses it and aborts (`module_load_dso: Assertion
    /// 'QTAILQ_EMPTY(&dso_init_list)' failed`). No scenario uses sound.
    pub fn base_command(&self) -> Command {
        let mut c = Command::new(self.binary());
        c.env("QEMU_MODULE_DIR", self.root.join("usr/lib/x86_64-linux-gnu/qemu"));
        c.args(["-audio", "none"]);
        c.arg("-L").arg(self.root.join("usr/share/qemu"));
        c.args(["-L", "/usr/share/qemu"]);
        c
    }

    /// [`ShaNiQemu::base_command`] with `-cpu max`: what the scenarios run.
    pub fn command(&self) -> Command {
        let mut c = self.base_command();
        c.args(["-cpu", CPU]);
        c
    }
}
