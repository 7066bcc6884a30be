//! QEMU harness for kexos scenarios.
//!
//! A [`Machine`] is one QEMU process booting a per-test disk image, with its serial console on
//! piped stdin/stdout. A reader thread accumulates everything the guest prints (the
//! *transcript*, with `\r` removed); [`Machine::expect`] waits for a substring after the last
//! match, [`Machine::run`] types a shell command and returns its output.
//!
//! On any failure the whole transcript is printed (libtest shows it under the failing test) and
//! every machine's transcript is saved to `target/test-logs/<name>.log`.
//!
//! The scenarios need the artifacts `cargo xtask build` makes; `cargo xtask test` builds them
//! and passes the repository root in `KEXOS_ROOT` (see [`Artifacts::from_env`]).
//!
//! Linux scenarios also need the Linux fixture (`cargo xtask fixtures`, see [`boot::linux`]):
//! [`linux_fixture`] returns it, fails when it is missing, or, with `KEXOS_SKIP_LINUX=1`,
//! marks the scenario as skipped (xtask counts those separately).

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
pub use boot::linux::{markers as linux_markers, LinuxFixture};
pub use boot::{AddSpec, Firmware};

mod console;
mod hexdump;
pub mod bootstats_check;
pub mod ima;
mod linux;
mod machine;
mod options;
mod qemu;
mod skip;
pub mod vmcore;

pub use console::{find, find_prompt, last_tsc_mhz};
pub use hexdump::parse_hexdump;
pub use linux::{
    ima_linux_fixture, kexos_host_files, linux_fixture, linux_kexec_fixture, linux_kexec_into,
    linux_kexec_into_with, FIRST_LINUX_UP, LINUX_KEXEC_FIRST_APPEND, LINUX_ONE_CPU,
};
pub use machine::Machine;
pub use options::BootOptions;
pub use qemu::{qemu_command, qemu_linux_command, set_mem_prealloc, Console, Emulator, QemuExit, CPUS};

/// Environment variable naming the repository root whose `target/` holds the built artifacts.
pub const ROOT_ENV: &str = "KEXOS_ROOT";
/// Environment variable overriding the OVMF firmware path.
pub const OVMF_ENV: &str = "KEXOS_OVMF";
/// Environment variable: when set to `1`, the guest's serial output is echoed to stderr live.
pub const VERBOSE_ENV: &str = "KEXOS_TEST_VERBOSE";
/// Environment variable: when `1`, scenarios that need the Linux fixture are skipped (not
/// failed) if it is missing.
pub const SKIP_LINUX_ENV: &str = "KEXOS_SKIP_LINUX";
/// A scenario that skips itself writes `target/test-logs/<name>` + this suffix (with the
/// reason); xtask then reports it as skipped instead of passed.
pub const SKIP_SUFFIX: &str = ".skipped";
/// A scenario whose first Linux hung before its `/init` and was booted once more
/// ([`Machine::boot_first_linux`]) writes `target/test-logs/<name>` + this suffix (with the
/// reason); xtask then reports it as passed after a retry.
pub const RETRY_SUFFIX: &str = ".first-linux-retried";
/// Default OVMF location (Debian/Ubuntu package `ovmf`).
pub const DEFAULT_OVMF: &str = "/usr/share/ovmf/OVMF.fd";
/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// Console markers from docs/contracts.md.
pub mod markers {
    /// Logged by the kernel right before it execs init.
    pub const KERNEL_READY: &str = "kexos: starting /sbin/init";
    /// Logged by the kernel on poweroff.
    pub const POWER_OFF: &str = "kexos: power off";
    /// Printed by the kernel when it panics.
    pub const PANIC: &str = "KERNEL PANIC:";
    /// Logged by the kernel when it resets the machine.
    pub const RESTART: &str = "kexos: restart";
    /// Logged by the kernel at the first console read by user space (followed by `<N.NNN> ms`).
    pub const BOOT_TO_PROMPT: &str = "kexos: boot to prompt ";
    /// Printed by purgatory once every segment matched its SHA-256 (the default check).
    pub const PURGATORY_SHA256_OK: &str = kexec_core::purgatory_abi::RegionHash::Sha256.ok_line();
    /// Purgatory's last line when a segment's digest does not match (then it halts).
    pub const PURGATORY_REFUSES: &str = kexec_core::purgatory_abi::REFUSE_MISMATCH;
    /// Logged by a crashing kernel right before it jumps to its capture kernel's purgatory.
    pub const CAPTURE_START: &str = "kexos: crash: starting the capture kernel";
    /// Start of the shell prompt `kexos:<cwd># ` (cwd is always absolute).
    pub const PROMPT_START: &str = "kexos:/";
    /// End of the shell prompt.
    pub const PROMPT_END: &str = "# ";
}

/// Paths of the built artifacts, by the layout in docs/contracts.md.
#[derive(Clone, Debug)]
pub struct Artifacts {
    /// Repository root.
    pub root: PathBuf,
    /// The stripped kernel ELF xtask made (`target/images/kexos.elf`), the one images boot.
    pub kernel: PathBuf,
    /// `/sbin/init`.
    pub init: PathBuf,
    /// `/bin/faulttest`.
    pub faulttest: PathBuf,
    /// `/bin/sysfuzz`.
    pub sysfuzz: PathBuf,
    /// kexos.bzImage and kexos.elf signed with the test key (`target/images/kexos.signed.*`,
    /// made by every `cargo xtask build`; the test CA is in the kernel's keyring by default).
    pub signed_bzimage: PathBuf,
    /// See `signed_bzimage`.
    pub signed_elf: PathBuf,
}

impl Artifacts {
    /// The artifacts under `root/target`.
    pub fn at(root: &Path) -> Self {
        let user = root.join("target/user/x86_64-unknown-none/release");
        Artifacts {
            root: root.to_path_buf(),
            kernel: root.join("target/images/kexos.elf"),
            init: user.join("init"),
            faulttest: user.join("faulttest"),
            sysfuzz: user.join("sysfuzz"),
            signed_bzimage: root.join("target/images/kexos.signed.bzImage"),
            signed_elf: root.join("target/images/kexos.signed.elf"),
        }
    }

    /// The artifacts named by `KEXOS_ROOT`. Fails (never skips) when it is not set or the
    /// artifacts are missing, telling the user to run `cargo xtask test`.
    pub fn from_env() -> Result<Self> {
        let root = std::env::var_os(ROOT_ENV).ok_or_else(|| {
            anyhow!("{ROOT_ENV} is not set: QEMU scenarios need the kernel and user programs built; run `cargo xtask test`")
        })?;
        let a = Self::at(Path::new(&root));
        for p in [&a.kernel, &a.init] {
            if !p.is_file() {
                bail!(
                    "missing artifact {}: run `cargo xtask test` (or `cargo xtask build` first)",
                    p.display()
                );
            }
        }
        Ok(a)
    }

    /// `target/<sub>` under the root.
    pub fn target(&self, sub: &str) -> PathBuf {
        self.root.join("target").join(sub)
    }
}

/// The OVMF image to use for UEFI boots (`KEXOS_OVMF` or [`DEFAULT_OVMF`]).
pub fn ovmf_path() -> PathBuf {
    std::env::var_os(OVMF_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OVMF))
}

/// One `start-end : name` line of `/proc/iomem` (kexos's or Linux's, indented or not; `end`
/// inclusive, hex): returns (start, end exclusive, name), or None for any other line.
pub fn iomem_line(line: &str) -> Option<(u64, u64, &str)> {
    let (range, name) = line.split_once(" : ")?;
    let (s, e) = range.trim().split_once('-')?;
    let s = u64::from_str_radix(s, 16).ok()?;
    let e = u64::from_str_radix(e, 16).ok()?.checked_add(1)?;
    Some((s, e, name.trim()))
}

/// A token unlikely to appear by chance in the serial output (for command-line checks).
pub fn random_token(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("{prefix}{:012x}", h.finish() & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_root_fails_with_hint() {
        if std::env::var_os(ROOT_ENV).is_none() {
            let e = Artifacts::from_env().unwrap_err().to_string();
            assert!(e.contains("cargo xtask test"), "{e}");
        }
    }

    #[test]
    fn iomem_lines() {
        assert_eq!(
            iomem_line("  0c000000-0fffffff : Crash kernel"),
            Some((0xc00_0000, 0x1000_0000, "Crash kernel"))
        );
        assert_eq!(
            iomem_line("00100000-7ffdffff : System RAM"),
            Some((0x10_0000, 0x7ffe_0000, "System RAM"))
        );
        assert_eq!(iomem_line("kexos:/# "), None);
        assert_eq!(iomem_line("0-ffffffffffffffff : all"), None);
        assert_eq!(iomem_line("zz-10 : x"), None);
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(random_token("t"), random_token("t"));
    }
}
