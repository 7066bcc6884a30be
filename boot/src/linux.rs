//! The Linux test fixture: where `cargo xtask fixtures` keeps a real Debian bzImage, and the
//! busybox initramfs it boots with.
//!
//! Layout under `target/fixtures/linux/` (see [`LinuxFixture`]):
//! - `vmlinuz`    the bzImage from Debian's current `linux-image-*-cloud-amd64` package
//! - `version`    its `uname -r` (e.g. `6.1.0-56-cloud-amd64`), one line
//! - `package`    `<package> <version>` it came from, one line (informational)
//! - `busybox`    the static busybox binary from Debian's `busybox-static`
//! - `initrd.img` the cpio newc initramfs built by [`initramfs`] (rebuilt by every xtask run, so
//!   a change of [`INIT_SCRIPT`] takes effect without downloading anything again)
//!
//! The initramfs's `/init` prints the [`markers`] on the console (`console=ttyS0`), runs
//! `/etc/kexos-test.sh` if a test added one, then powers the machine off.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::Initramfs;

/// Console markers printed by the fixture's `/init` (and Linux's own banner).
pub mod markers {
    /// Start of Linux's first console line (`Linux version 6.1.0-... (debian-kernel@...) ...`).
    pub const BANNER: &str = "Linux version ";
    /// `/init` started (proc, sysfs and devtmpfs are mounted).
    pub const INIT_UP: &str = "KEXOS-LINUX-INIT: up";
    /// Followed by the contents of `/proc/cmdline`, then a newline.
    pub const CMDLINE: &str = "KEXOS-LINUX-CMDLINE: ";
    /// Followed by `uname -r`, then a newline.
    pub const UNAME: &str = "KEXOS-LINUX-UNAME: ";
    /// Printed by `/init`: Linux ran our initramfs.
    pub const INITRD_OK: &str = "KEXOS-LINUX-INITRD: ok";
    /// `/etc/kexos-test.sh` is about to run.
    pub const TEST_START: &str = "KEXOS-LINUX-TEST: start";
    /// Followed by the exit status of `/etc/kexos-test.sh`.
    pub const TEST_STATUS: &str = "KEXOS-LINUX-TEST: status ";
    /// `/init` is about to run `poweroff -f`.
    pub const POWEROFF: &str = "KEXOS-LINUX-INIT: poweroff";
}

/// Where a test script added to the initramfs must go to be run by `/init`.
pub const TEST_SCRIPT: &str = "/etc/kexos-test.sh";

/// Busybox applets linked in `/bin` (all symlinks to `/bin/busybox`).
pub const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "mount", "poweroff", "reboot", "uname", "tr", "grep", "sleep", "ls",
    "dmesg",
];

/// The fixture's `/init`.
pub const INIT_SCRIPT: &str = r#"#!/bin/busybox sh
# kexos Linux test fixture (built by boot/src/linux.rs): prints the markers the QEMU scenarios
# look for, runs /etc/kexos-test.sh if present, then powers off.
export PATH=/bin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
# The kernel opens /dev/console for init if it exists; make sure we write to it.
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
echo "KEXOS-LINUX-INIT: up"
echo "KEXOS-LINUX-CMDLINE: $(cat /proc/cmdline)"
echo "KEXOS-LINUX-UNAME: $(uname -r)"
echo "KEXOS-LINUX-INITRD: ok"
if [ -f /etc/kexos-test.sh ]; then
    echo "KEXOS-LINUX-TEST: start"
    sh /etc/kexos-test.sh
    echo "KEXOS-LINUX-TEST: status $?"
fi
echo "KEXOS-LINUX-INIT: poweroff"
poweroff -f
sleep 10
echo "KEXOS-LINUX-INIT: poweroff failed"
"#;

/// The busybox initramfs: `/init` ([`INIT_SCRIPT`]), `/bin/busybox` and its [`APPLETS`],
/// empty `/proc`, `/sys`, `/dev`, `/etc`, `/tmp`, `/root`. Add files (e.g. [`TEST_SCRIPT`]) to
/// the result before writing it.
pub fn initramfs(busybox: &Path) -> Result<Initramfs> {
    let mut fs = Initramfs::new();
    for d in [
        "/bin", "/sbin", "/proc", "/sys", "/dev", "/etc", "/tmp", "/root",
    ] {
        fs.dir(d)?;
    }
    fs.file_from_host("/bin/busybox", busybox, 0o755)?;
    for a in APPLETS {
        fs.symlink(&format!("/bin/{a}"), "busybox")?;
    }
    fs.file("/init", 0o755, INIT_SCRIPT.as_bytes().to_vec())?;
    Ok(fs)
}

/// The fixture files under `target/fixtures/linux/`.
#[derive(Clone, Debug)]
pub struct LinuxFixture {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// The bzImage.
    pub kernel: PathBuf,
    /// The busybox initramfs.
    pub initrd: PathBuf,
    /// File holding the kernel's `uname -r`.
    pub version_file: PathBuf,
    /// The static busybox binary.
    pub busybox: PathBuf,
}

impl LinuxFixture {
    /// The fixture paths under `<root>/target/fixtures/linux`.
    pub fn at(root: &Path) -> Self {
        let dir = root.join("target/fixtures/linux");
        LinuxFixture {
            kernel: dir.join("vmlinuz"),
            initrd: dir.join("initrd.img"),
            version_file: dir.join("version"),
            busybox: dir.join("busybox"),
            dir,
        }
    }

    /// Whether every file is there (the downloaded part and the built initrd).
    pub fn is_complete(&self) -> bool {
        [
            &self.kernel,
            &self.initrd,
            &self.version_file,
            &self.busybox,
        ]
        .iter()
        .all(|p| p.is_file())
    }

    /// The kernel's `uname -r`, from the `version` file.
    pub fn version(&self) -> Result<String> {
        use anyhow::Context;
        let v = std::fs::read_to_string(&self.version_file)
            .with_context(|| format!("reading {}", self.version_file.display()))?;
        Ok(v.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Entry, Source};

    #[test]
    fn init_script_prints_every_marker() {
        for m in [
            markers::INIT_UP,
            markers::CMDLINE.trim_end(),
            markers::UNAME.trim_end(),
            markers::INITRD_OK,
            markers::TEST_START,
            markers::TEST_STATUS.trim_end(),
            markers::POWEROFF,
        ] {
            assert!(INIT_SCRIPT.contains(&format!("echo \"{m}")), "{m}");
        }
        assert!(INIT_SCRIPT.starts_with("#!/bin/busybox sh\n"));
        assert!(INIT_SCRIPT.contains(TEST_SCRIPT));
        assert!(INIT_SCRIPT.contains("poweroff -f"));
    }

    #[test]
    fn initramfs_layout() {
        let dir = std::env::temp_dir().join(format!("kexos-boot-linux-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bb = dir.join("busybox");
        std::fs::write(&bb, b"\x7fELF fake").unwrap();
        let fs = initramfs(&bb).unwrap();
        let get = |p: &str| fs.entries().find(|(q, _)| *q == p).map(|(_, e)| e.clone());
        match get("/init") {
            Some(Entry::File {
                mode,
                source: Source::Bytes(b),
            }) => {
                assert_eq!(mode, 0o755);
                assert_eq!(b, INIT_SCRIPT.as_bytes());
            }
            other => panic!("/init: {other:?}"),
        }
        assert!(matches!(
            get("/bin/busybox"),
            Some(Entry::File { mode: 0o755, .. })
        ));
        for a in APPLETS {
            match get(&format!("/bin/{a}")) {
                Some(Entry::Symlink { target }) => assert_eq!(target, "busybox"),
                other => panic!("/bin/{a}: {other:?}"),
            }
        }
        for d in ["/proc", "/sys", "/dev"] {
            assert!(matches!(get(d), Some(Entry::Dir { .. })), "{d}");
        }
        // The archive is a valid newc archive with `init` at the top level.
        let cpio = fs.to_cpio().unwrap();
        assert_eq!(&cpio[..6], b"070701");
        assert!(crate::tests::contains(&cpio, b"init\0"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn fixture_paths() {
        let f = LinuxFixture::at(Path::new("/r"));
        assert_eq!(f.kernel, Path::new("/r/target/fixtures/linux/vmlinuz"));
        assert_eq!(f.initrd, Path::new("/r/target/fixtures/linux/initrd.img"));
        assert!(!f.is_complete());
    }
}
