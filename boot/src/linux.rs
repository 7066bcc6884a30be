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
//! - `kexec/`     Debian's `kexec-tools` for the fixture Linux: `sbin/kexec`, every shared
//!   library `ldd` lists for it under `lib/x86_64-linux-gnu/`, and the dynamic loader at its
//!   absolute path (`lib64/ld-linux-x86-64.so.2`); `kexec.files` lists their guest paths (written
//!   last: the tree is complete when it exists), `kexec.package` the package and the `ldd` output
//! - `initrd-kexec.img` the second initramfs variant ([`LinuxFixture::kexec_initramfs`]): the
//!   busybox initramfs plus the `kexec/` tree, the fixture's own `vmlinuz` and `initrd.img` at
//!   [`KEXEC_KERNEL`] and [`KEXEC_INITRD`] (so Linux can kexec into Linux), and no test script.
//!   Scenarios build their own variant with extra files and a script
//!   ([`LinuxFixture::build_kexec_initrd`]). The default `initrd.img` stays small.
//!
//! The initramfs's `/init` prints the [`markers`] on the console (`console=ttyS0`), runs
//! `/etc/kexos-test.sh` if a test added one, then powers the machine off. Test scripts are
//! made of fragments ([`ima_script`], [`kexec_script`]): each is a complete `sh` script that
//! only exits on failure, so `format!("{}{}", ima_script(), kexec_script(..))` runs both.
//!
//! The IMA Linux ([`ImaLinux`], `target/fixtures/linux-ima/`): a Linux built from Debian's
//! kernel source with `CONFIG_IMA_KEXEC` (Debian's own kernels lack it), by `cargo xtask
//! fixtures` (cached per machine, see `xtask/src/fixtures_ima.rs`). It boots with this
//! fixture's busybox initramfs and kexec-tools ([`ImaLinux::fixture`]).

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
    /// [`kexec_script`](super::kexec_script): `kexec -s -l` is about to run (followed by the
    /// command line used, then a newline).
    pub const KEXEC_LOAD: &str = "KEXOS-LINUX-KEXEC: load ";
    /// Followed by the exit status of `kexec -s -l`.
    pub const KEXEC_LOAD_STATUS: &str = "KEXOS-LINUX-KEXEC: load status ";
    /// `kexec -e` is about to run: the next console line should be Linux's
    /// `kexec_core: Starting new kernel`, then the next kernel's first line.
    pub const KEXEC_EXEC: &str = "KEXOS-LINUX-KEXEC: exec";
    /// Followed by the exit status of a `kexec -e` that returned (it never should).
    pub const KEXEC_EXEC_FAILED: &str = "KEXOS-LINUX-KEXEC: exec failed ";
    /// Written to `/dev/kmsg` right before and right after `kexec -s -l` (so the console shows
    /// them with Linux's printk timestamps: `[    1.234567] kexos-kexec: before load`).
    pub const KMSG_BEFORE: &str = "kexos-kexec: before load";
    /// See [`KMSG_BEFORE`].
    pub const KMSG_AFTER: &str = "kexos-kexec: after load";
    /// Precedes the ftrace lines of the `kexec_file_load` syscall (enter and exit events, with
    /// the trace clock in seconds), printed after the load when tracefs has them.
    pub const TRACE: &str = "KEXOS-LINUX-KEXEC: trace ";
    /// Printed after the trace lines (also when there were none).
    pub const TRACE_END: &str = "KEXOS-LINUX-KEXEC: trace end";
    /// [`ima_script`](super::ima_script): followed by one line of the running kernel's
    /// `/proc/config.gz` naming a symbol of [`ImaLinux::REQUIRED`](super::ImaLinux::REQUIRED)
    /// (`CONFIG_IMA_KEXEC=y`), once per line found.
    pub const CONFIG: &str = "KEXOS-LINUX-CONFIG: ";
    /// [`ima_script`](super::ima_script): the lines of
    /// [`IMA_LIST`](super::IMA_LIST) follow, up to [`IMA_END`].
    pub const IMA_BEGIN: &str = "KEXOS-LINUX-IMA: begin";
    /// Follows the measurement list, with the exit status of its `cat`.
    pub const IMA_END: &str = "KEXOS-LINUX-IMA: end ";
    /// [`ima_policy_script`](super::ima_policy_script): followed by the exit status of the
    /// write to IMA's policy file.
    pub const IMA_POLICY_STATUS: &str = "KEXOS-LINUX-IMA: policy status ";
}

/// Where a test script added to the initramfs must go to be run by `/init`.
pub const TEST_SCRIPT: &str = "/etc/kexos-test.sh";

/// Busybox applets linked in `/bin` (all symlinks to `/bin/busybox`).
pub const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "mount", "poweroff", "reboot", "uname", "tr", "grep", "sleep", "ls",
    "dmesg",
];

/// Extra busybox applets linked in the kexec variant ([`LinuxFixture::kexec_initramfs`]).
pub const KEXEC_APPLETS: &[&str] = &[
    "time", "date", "cut", "sed", "head", "tail", "wc", "mkdir", "sync", "test", "[",
];

/// Guest path of `kexec` in the kexec variant.
pub const KEXEC_BIN: &str = "/sbin/kexec";
/// Guest path of the fixture's bzImage in the kexec variant.
pub const KEXEC_KERNEL: &str = "/boot/vmlinuz";
/// Guest path of the fixture's (plain) initramfs in the kexec variant.
pub const KEXEC_INITRD: &str = "/boot/initrd.img";

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

/// `s` as one shell word (single-quoted, `'` escaped as `'\''`).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A `/etc/kexos-test.sh` that loads `image` (a guest path) with `initrd` (a guest path, or
/// none) and the command line `append` through Debian's `kexec -s -l` (i.e. Linux's
/// `kexec_file_load`), then runs `kexec -e`. It prints the [`markers`] `KEXEC_*` on the
/// console, writes [`markers::KMSG_BEFORE`]/[`markers::KMSG_AFTER`] to `/dev/kmsg` around the
/// load (printk timestamps, microseconds of guest time), and when tracefs has the
/// `kexec_file_load` syscall events, prints their trace lines after [`markers::TRACE`]
/// (the syscall's own duration, from the exit event's timestamp minus the enter event's).
/// A failed load exits with kexec's status (so `/init` reports it and powers off).
pub fn kexec_script(image: &str, initrd: Option<&str>, append: &str) -> String {
    let mut cmd = format!("{KEXEC_BIN} -s -l {}", shell_quote(image));
    if let Some(i) = initrd {
        cmd.push_str(&format!(" --initrd={}", shell_quote(i)));
    }
    cmd.push_str(&format!(" --append={}", shell_quote(append)));
    format!(
        r#"# Written by boot::linux::kexec_script: Linux loads the next kernel with Debian's
# kexec-tools (kexec -s: the kexec_file_load syscall), then jumps into it.
export PATH=/sbin:/bin
T=/sys/kernel/tracing
mount -t tracefs tracefs $T 2>/dev/null
traced=0
if [ -w $T/events/syscalls/sys_enter_kexec_file_load/enable ]; then
    echo 1 > $T/events/syscalls/sys_enter_kexec_file_load/enable
    echo 1 > $T/events/syscalls/sys_exit_kexec_file_load/enable
    echo 1 > $T/tracing_on
    traced=1
fi
echo {load_line}
echo "{before}" > /dev/kmsg
{cmd}
st=$?
echo "{after}" > /dev/kmsg
echo "{status}$st"
if [ $traced = 1 ]; then
    grep kexec_file_load $T/trace | while read -r l; do echo "{trace}$l"; done
fi
echo "{trace_end}"
[ $st = 0 ] || exit $st
echo "{exec}"
{kexec} -e
echo "{failed}$?"
exit 1
"#,
        load_line = shell_quote(&format!("{}{cmd}", markers::KEXEC_LOAD)),
        before = markers::KMSG_BEFORE,
        after = markers::KMSG_AFTER,
        status = markers::KEXEC_LOAD_STATUS,
        trace = markers::TRACE,
        trace_end = markers::TRACE_END,
        exec = markers::KEXEC_EXEC,
        failed = markers::KEXEC_EXEC_FAILED,
        kexec = KEXEC_BIN,
    )
}

/// IMA's measurement list in text form, in securityfs.
pub const IMA_LIST: &str = "/sys/kernel/security/ima/ascii_runtime_measurements";
/// Where securityfs is mounted.
pub const SECURITYFS: &str = "/sys/kernel/security";

/// A `/etc/kexos-test.sh` fragment: mounts securityfs (unless it is already), prints the
/// lines of the running kernel's `/proc/config.gz` (when it has one) that set a symbol of
/// [`ImaLinux::REQUIRED`] after [`markers::CONFIG`], then [`IMA_LIST`] between
/// [`markers::IMA_BEGIN`] and [`markers::IMA_END`] (followed by `cat`'s status). Never exits.
pub fn ima_script() -> String {
    let symbols = ImaLinux::REQUIRED.join("|");
    format!(
        r#"# Written by boot::linux::ima_script: the running kernel's IMA options and its
# measurement list, between markers.
export PATH=/sbin:/bin
grep -q " {sfs} " /proc/mounts || mount -t securityfs securityfs {sfs}
if [ -e /proc/config.gz ]; then
    busybox zcat /proc/config.gz | grep -E '^CONFIG_({symbols})=' | while read -r l; do echo "{config}$l"; done
fi
echo "{begin}"
cat {list}
echo "{end}$?"
"#,
        sfs = SECURITYFS,
        config = markers::CONFIG,
        begin = markers::IMA_BEGIN,
        list = IMA_LIST,
        end = markers::IMA_END,
    )
}

/// IMA's policy file in securityfs. Without `CONFIG_IMA_WRITE_POLICY` it can be written once.
pub const IMA_POLICY: &str = "/sys/kernel/security/ima/policy";

/// The policy a Linux that kexecs loads ([`ima_policy_script`]): measure what
/// `kexec_file_load` reads and its command line (KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK,
/// KEXEC_CMDLINE), nothing else. Linux's default policy measures nothing.
pub const IMA_KEXEC_POLICY: &[&str] = &[
    "measure func=KEXEC_KERNEL_CHECK",
    "measure func=KEXEC_INITRAMFS_CHECK",
    "measure func=KEXEC_CMDLINE",
];

/// A `/etc/kexos-test.sh` fragment: mounts securityfs (unless it is already) and writes
/// `rules` to [`IMA_POLICY`] in one write, then prints [`markers::IMA_POLICY_STATUS`] with its
/// status; exits with that status if it failed.
pub fn ima_policy_script(rules: &[&str]) -> String {
    format!(
        r#"# Written by boot::linux::ima_policy_script: IMA's policy, written once.
export PATH=/sbin:/bin
grep -q " {sfs} " /proc/mounts || mount -t securityfs securityfs {sfs}
echo -e '{rules}' > {policy}
st=$?
echo "{status}$st"
[ $st = 0 ] || exit $st
"#,
        sfs = SECURITYFS,
        rules = rules.join("\\n"),
        policy = IMA_POLICY,
        status = markers::IMA_POLICY_STATUS,
    )
}

/// The IMA Linux under `target/fixtures/linux-ima/` (see the module documentation). The
/// kernel is all it has: it boots with [`LinuxFixture`]'s initramfs and kexec-tools.
#[derive(Clone, Debug)]
pub struct ImaLinux {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// The bzImage.
    pub kernel: PathBuf,
    /// The `.config` it was built with.
    pub config: PathBuf,
    /// Its `uname -r`, one line.
    pub version_file: PathBuf,
    /// What it was built from: `<source package> <package version> <config fragment hash>`,
    /// one line (written last: the rest is complete when it exists).
    pub key_file: PathBuf,
    /// Why xtask could not build it, one line (absent when it could).
    pub error_file: PathBuf,
}

impl ImaLinux {
    /// Symbols the build must end up with (`CONFIG_<symbol>=y` in its `.config`, checked by
    /// xtask after `make olddefconfig`, and by the scenarios in the running kernel's
    /// `/proc/config.gz`).
    pub const REQUIRED: &'static [&'static str] = &[
        "IMA",
        "IMA_KEXEC",
        "KEXEC_FILE",
        "BLK_DEV_INITRD",
        "RD_GZIP",
        "IMA_DEFAULT_HASH_SHA256",
        "IKCONFIG_PROC",
    ];

    /// The paths under `<root>/target/fixtures/linux-ima`.
    pub fn at(root: &Path) -> Self {
        let dir = root.join("target/fixtures/linux-ima");
        ImaLinux {
            kernel: dir.join("bzImage"),
            config: dir.join("config"),
            version_file: dir.join("version"),
            key_file: dir.join("key"),
            error_file: dir.join("error"),
            dir,
        }
    }

    /// Whether the kernel, its `.config`, `version` and `key` are there.
    pub fn is_complete(&self) -> bool {
        [&self.kernel, &self.config, &self.version_file, &self.key_file]
            .iter()
            .all(|p| p.is_file())
    }

    /// The kernel's `uname -r`.
    pub fn version(&self) -> Result<String> {
        read_version(&self.version_file)
    }

    /// The symbols of [`ImaLinux::REQUIRED`] that `config` (a `.config`'s text) does not set
    /// to `y`.
    pub fn missing_symbols(config: &str) -> Vec<&'static str> {
        ImaLinux::REQUIRED
            .iter()
            .copied()
            .filter(|s| {
                let want = format!("CONFIG_{s}=y");
                !config.lines().any(|l| l.trim() == want)
            })
            .collect()
    }

    /// `base` (the Debian fixture: busybox, initramfs, kexec-tools) booting this kernel.
    pub fn fixture(&self, base: &LinuxFixture) -> LinuxFixture {
        base.with_kernel(&self.kernel, &self.version_file)
    }
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
    /// Debian's kexec-tools and its libraries, as a tree of guest paths (`sbin/kexec`, ...).
    pub kexec_root: PathBuf,
    /// The guest paths under [`LinuxFixture::kexec_root`], one a line (written last).
    pub kexec_files: PathBuf,
    /// The default kexec variant of the initramfs (see the module documentation).
    pub kexec_initrd: PathBuf,
    /// The same kernel from Debian's `-unsigned` package (no Authenticode signature).
    pub kernel_unsigned: PathBuf,
    /// Debian's Secure Boot CA (DER), from shim-signed: the signed kernel chains to it.
    pub debian_ca: PathBuf,
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
            kexec_root: dir.join("kexec"),
            kexec_files: dir.join("kexec.files"),
            kexec_initrd: dir.join("initrd-kexec.img"),
            kernel_unsigned: dir.join("vmlinuz-unsigned"),
            debian_ca: dir.join("debian-secure-boot-ca.der"),
            dir,
        }
    }

    /// Whether Debian's kexec-tools is there ([`LinuxFixture::kexec_files`] exists and every
    /// file it lists too).
    pub fn has_kexec(&self) -> bool {
        self.kexec_guest_files()
            .is_ok_and(|fs| !fs.is_empty() && fs.iter().all(|(h, _)| h.is_file()))
    }

    /// (host path, guest path) of every file of the kexec-tools tree.
    pub fn kexec_guest_files(&self) -> Result<Vec<(PathBuf, String)>> {
        use anyhow::Context;
        let list = std::fs::read_to_string(&self.kexec_files)
            .with_context(|| format!("reading {}", self.kexec_files.display()))?;
        Ok(list
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('/'))
            .map(|g| (self.kexec_root.join(&g[1..]), g.to_string()))
            .collect())
    }

    /// The kexec variant of the fixture's initramfs: [`initramfs`] plus [`KEXEC_APPLETS`],
    /// Debian's `kexec` with its libraries and loader, the fixture's bzImage at
    /// [`KEXEC_KERNEL`] and its plain initramfs at [`KEXEC_INITRD`] (build that one first),
    /// then `extra` (host path, guest path; the guest file is executable if the host file is)
    /// and `script` as [`TEST_SCRIPT`].
    pub fn kexec_initramfs(
        &self,
        extra: &[(PathBuf, String)],
        script: Option<&str>,
    ) -> Result<Initramfs> {
        let mut fs = initramfs(&self.busybox)?;
        for a in KEXEC_APPLETS {
            fs.symlink(&format!("/bin/{a}"), "busybox")?;
        }
        for (host, guest) in self.kexec_guest_files()? {
            fs.file_from_host(&guest, &host, 0o755)?;
        }
        fs.file_from_host(KEXEC_KERNEL, &self.kernel, 0o644)?;
        fs.file_from_host(KEXEC_INITRD, &self.initrd, 0o644)?;
        for (host, guest) in extra {
            fs.add(&crate::AddSpec {
                host: host.clone(),
                guest: guest.clone(),
            })?;
        }
        if let Some(s) = script {
            fs.file(TEST_SCRIPT, 0o755, s.as_bytes().to_vec())?;
        }
        Ok(fs)
    }

    /// Writes [`LinuxFixture::kexec_initramfs`]`(extra, script)` to `out` (only if its
    /// contents changed). Returns its size.
    pub fn build_kexec_initrd(
        &self,
        extra: &[(PathBuf, String)],
        script: Option<&str>,
        out: &Path,
    ) -> Result<u64> {
        self.kexec_initramfs(extra, script)?.write(out)
    }

    /// The same fixture (busybox, initramfs, kexec-tools, signing files) with another kernel
    /// and its `uname -r` file: the kernel that boots first, and the one the kexec variant holds
    /// at [`KEXEC_KERNEL`].
    pub fn with_kernel(&self, kernel: &Path, version_file: &Path) -> LinuxFixture {
        LinuxFixture {
            kernel: kernel.to_path_buf(),
            version_file: version_file.to_path_buf(),
            ..self.clone()
        }
    }

    /// Writes the plain initramfs ([`initramfs`]) with `script` as [`TEST_SCRIPT`] to `out`
    /// (only if its contents changed). Returns its size.
    pub fn build_initrd(&self, script: &str, out: &Path) -> Result<u64> {
        let mut fs = initramfs(&self.busybox)?;
        fs.file(TEST_SCRIPT, 0o755, script.as_bytes().to_vec())?;
        fs.write(out)
    }

    /// Whether every file is there (the downloaded part and the built initrd).
    pub fn is_complete(&self) -> bool {
        [
            &self.kernel,
            &self.initrd,
            &self.version_file,
            &self.busybox,
            &self.kernel_unsigned,
            &self.debian_ca,
        ]
        .iter()
        .all(|p| p.is_file())
    }

    /// The kernel's `uname -r`, from the `version` file.
    pub fn version(&self) -> Result<String> {
        read_version(&self.version_file)
    }
}

/// A fixture's `version` file: one `uname -r` line.
fn read_version(file: &Path) -> Result<String> {
    use anyhow::Context;
    let v = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(v.trim().to_string())
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
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn kexec_script_loads_then_execs() {
        let s = kexec_script("/boot/kexos.bzImage", Some("/boot/i.cpio"), "token=x 'q'");
        let load = format!(
            "{KEXEC_BIN} -s -l '/boot/kexos.bzImage' --initrd='/boot/i.cpio' --append={}\n",
            shell_quote("token=x 'q'")
        );
        assert!(s.contains(&load), "{s}");
        let l = s.find(&load).unwrap();
        let e = s.find(&format!("{KEXEC_BIN} -e")).unwrap();
        assert!(l < e);
        for m in [
            markers::KEXEC_LOAD,
            markers::KEXEC_LOAD_STATUS,
            markers::KEXEC_EXEC,
            markers::KEXEC_EXEC_FAILED,
            markers::KMSG_BEFORE,
            markers::KMSG_AFTER,
            markers::TRACE,
            markers::TRACE_END,
        ] {
            assert!(s.contains(m), "{m}");
        }
        // A failed load stops before `kexec -e`.
        assert!(s.contains("[ $st = 0 ] || exit $st"));
        assert!(!kexec_script("/k", None, "").contains("--initrd"));
    }

    #[test]
    fn kexec_variant_layout() {
        let dir = std::env::temp_dir().join(format!("kexos-boot-kexec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = LinuxFixture::at(&dir);
        std::fs::create_dir_all(f.kexec_root.join("sbin")).unwrap();
        std::fs::create_dir_all(f.kexec_root.join("lib64")).unwrap();
        for (p, d) in [
            (&f.busybox, "bb"),
            (&f.kernel, "bz"),
            (&f.initrd, "rd"),
            (&f.kexec_root.join("sbin/kexec"), "kx"),
            (&f.kexec_root.join("lib64/ld-linux-x86-64.so.2"), "ld"),
        ] {
            std::fs::write(p, d).unwrap();
        }
        assert!(!f.has_kexec());
        std::fs::write(&f.kexec_files, "/sbin/kexec\n/lib64/ld-linux-x86-64.so.2\n").unwrap();
        assert!(f.has_kexec());
        let extra_host = dir.join("kexos.bzImage");
        std::fs::write(&extra_host, "kexos").unwrap();
        let fs = f
            .kexec_initramfs(
                &[(extra_host.clone(), "/boot/kexos.bzImage".into())],
                Some("echo hi\n"),
            )
            .unwrap();
        let get = |p: &str| fs.entries().find(|(q, _)| *q == p).map(|(_, e)| e.clone());
        let host_of = |p: &str| match get(p) {
            Some(Entry::File {
                source: Source::Host(h),
                ..
            }) => h,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(host_of(KEXEC_BIN), f.kexec_root.join("sbin/kexec"));
        assert_eq!(
            host_of("/lib64/ld-linux-x86-64.so.2"),
            f.kexec_root.join("lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(host_of(KEXEC_KERNEL), f.kernel);
        assert_eq!(host_of(KEXEC_INITRD), f.initrd);
        assert_eq!(host_of("/boot/kexos.bzImage"), extra_host);
        assert!(matches!(get("/init"), Some(Entry::File { .. })));
        match get(TEST_SCRIPT) {
            Some(Entry::File {
                source: Source::Bytes(b),
                ..
            }) => assert_eq!(b, b"echo hi\n"),
            other => panic!("{other:?}"),
        }
        for a in KEXEC_APPLETS.iter().chain(APPLETS) {
            assert!(
                matches!(get(&format!("/bin/{a}")), Some(Entry::Symlink { .. })),
                "{a}"
            );
        }
        // Without a script there is no test script; the default initramfs has no kexec.
        let plain = f.kexec_initramfs(&[], None).unwrap();
        assert!(plain.entries().all(|(p, _)| p != TEST_SCRIPT));
        assert!(initramfs(&f.busybox)
            .unwrap()
            .entries()
            .all(|(p, _)| p != KEXEC_BIN));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ima_script_reports_config_and_list() {
        let s = ima_script();
        assert!(s.contains(&format!("mount -t securityfs securityfs {SECURITYFS}")));
        assert!(s.contains(&format!("cat {IMA_LIST}\n")));
        let begin = s.find(markers::IMA_BEGIN).unwrap();
        let cat = s.find(&format!("cat {IMA_LIST}")).unwrap();
        let end = s.find(&format!("{}$?", markers::IMA_END)).unwrap();
        assert!(begin < cat && cat < end);
        assert!(s.contains("^CONFIG_(IMA|IMA_KEXEC|KEXEC_FILE|"), "{s}");
        assert!(s.contains(markers::CONFIG));
        // A fragment: it never exits, so a kexec fragment can follow it.
        assert!(!s.contains("exit"));
    }

    #[test]
    fn ima_policy_script_writes_every_rule_once() {
        let s = ima_policy_script(IMA_KEXEC_POLICY);
        let write = format!(
            "echo -e 'measure func=KEXEC_KERNEL_CHECK\\nmeasure func=KEXEC_INITRAMFS_CHECK\\nmeasure func=KEXEC_CMDLINE' > {IMA_POLICY}\n"
        );
        assert!(s.contains(&write), "{s}");
        assert_eq!(s.matches(IMA_POLICY).count(), 1);
        assert!(s.contains(&format!("echo \"{}$st\"", markers::IMA_POLICY_STATUS)));
        assert!(s.contains("[ $st = 0 ] || exit $st"));
    }

    #[test]
    fn ima_paths_and_config_check() {
        let root = Path::new("/r");
        let ima = ImaLinux::at(root);
        assert_eq!(ima.kernel, Path::new("/r/target/fixtures/linux-ima/bzImage"));
        assert_eq!(ima.config, Path::new("/r/target/fixtures/linux-ima/config"));
        assert!(!ima.is_complete());
        let f = ima.fixture(&LinuxFixture::at(root));
        assert_eq!(f.kernel, ima.kernel);
        assert_eq!(f.version_file, ima.version_file);
        assert_eq!(f.busybox, LinuxFixture::at(root).busybox);
        assert_eq!(f.kexec_files, LinuxFixture::at(root).kexec_files);
        let all: String = ImaLinux::REQUIRED
            .iter()
            .map(|s| format!("CONFIG_{s}=y\n"))
            .collect();
        assert!(ImaLinux::missing_symbols(&all).is_empty());
        let without = all.replace("CONFIG_IMA_KEXEC=y", "# CONFIG_IMA_KEXEC is not set");
        assert_eq!(ImaLinux::missing_symbols(&without), ["IMA_KEXEC"]);
        // CONFIG_IMA=y alone is not CONFIG_IMA_KEXEC=y, and vice versa.
        assert_eq!(
            ImaLinux::missing_symbols("CONFIG_IMA_KEXEC=y\n").first(),
            Some(&"IMA")
        );
    }

    #[test]
    fn fixture_paths() {
        let f = LinuxFixture::at(Path::new("/r"));
        assert_eq!(f.kernel, Path::new("/r/target/fixtures/linux/vmlinuz"));
        assert_eq!(f.initrd, Path::new("/r/target/fixtures/linux/initrd.img"));
        assert_eq!(
            f.kexec_initrd,
            Path::new("/r/target/fixtures/linux/initrd-kexec.img")
        );
        assert!(!f.is_complete());
        assert!(!f.has_kexec());
    }
}
