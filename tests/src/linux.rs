//! The Linux fixture in scenarios: finding it (or skipping, see [`crate::skip`]), booting it
//! directly, having it kexec a host file, following its boot; and the kexos files a Linux
//! guest kexecs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

use crate::skip::skip_or_fail;
use crate::{
    linux_markers, qemu_linux_command, Artifacts, BootOptions, Firmware, LinuxFixture, Machine,
    QemuExit, RETRY_SUFFIX, ROOT_ENV,
};

/// The Linux fixture, for a scenario that needs it. When it is missing this fails, telling the
/// user to run `cargo xtask fixtures`, unless `KEXOS_SKIP_LINUX=1`: then it writes the skip
/// marker `target/test-logs/<scenario>.skipped` and returns `None` (return `Ok(())` from the
/// scenario; xtask reports it as skipped).
pub fn linux_fixture() -> Result<Option<LinuxFixture>> {
    let root = std::env::var_os(ROOT_ENV).ok_or_else(|| {
        anyhow!("{ROOT_ENV} is not set: Linux scenarios need the fixture; run `cargo xtask test`")
    })?;
    let root = PathBuf::from(root);
    let fixture = LinuxFixture::at(&root);
    if fixture.is_complete() {
        return Ok(Some(fixture));
    }
    let why = format!(
        "the Linux fixture is missing ({} and the rest of {}): `cargo xtask fixtures` fetches it \
         with apt-get (Debian/Ubuntu, network needed)",
        fixture.kernel.display(),
        fixture.dir.display()
    );
    skip_or_fail(&why)?;
    Ok(None)
}

/// Like [`linux_fixture`], for a scenario where Linux itself kexecs: also needs Debian's
/// kexec-tools in the fixture ([`LinuxFixture::has_kexec`]). Fails when it is missing, or skips
/// (returns None) with `KEXOS_SKIP_LINUX=1`.
pub fn linux_kexec_fixture() -> Result<Option<LinuxFixture>> {
    let Some(fx) = linux_fixture()? else {
        return Ok(None);
    };
    if fx.has_kexec() {
        return Ok(Some(fx));
    }
    let why = format!(
        "Debian's kexec-tools is missing from the Linux fixture ({} does not list a complete \
         {} tree): `cargo xtask fixtures` fetches it with apt-get and says why it could not",
        fx.kexec_files.display(),
        fx.kexec_root.display()
    );
    skip_or_fail(&why)?;
    Ok(None)
}

/// The IMA Linux (`target/fixtures/linux-ima/`, built by `cargo xtask fixtures`) booting with
/// the Linux fixture's initramfs and kexec-tools ([`boot::linux::ImaLinux::fixture`]), for a
/// scenario that needs a Linux with `CONFIG_IMA_KEXEC`. Fails when it is missing, with the
/// reason xtask recorded, or skips (returns None) with `KEXOS_SKIP_LINUX=1`.
pub fn ima_linux_fixture() -> Result<Option<LinuxFixture>> {
    let Some(fx) = linux_kexec_fixture()? else {
        return Ok(None);
    };
    let root = std::env::var_os(ROOT_ENV).map(PathBuf::from).context(ROOT_ENV)?;
    let ima = boot::linux::ImaLinux::at(&root);
    if ima.is_complete() {
        return Ok(Some(ima.fixture(&fx)));
    }
    let why = format!(
        "the IMA Linux is missing ({}): {}; `cargo xtask fixtures` builds it from Debian's \
         linux-source package",
        ima.kernel.display(),
        recorded_reason(&ima.error_file)
    );
    skip_or_fail(&why)?;
    Ok(None)
}

/// Why xtask could not provide a fixture, as it recorded it in `error_file` (one line).
pub(crate) fn recorded_reason(error_file: &Path) -> String {
    match std::fs::read_to_string(error_file).unwrap_or_default().trim() {
        "" => "xtask recorded no reason".to_string(),
        r => r.to_string(),
    }
}

/// How long the first Linux of a scenario may take from QEMU's start to its `/init`'s first
/// line before [`Machine::boot_first_linux`] calls it hung. It takes 2-10 s on the 2-core CI
/// machine, two scenarios at a time.
pub const FIRST_LINUX_UP: Duration = Duration::from_secs(60);

/// On the command line of a Linux that kexos kexecs in the scenarios, all but
/// `kexec_into_linux` (which checks that Linux brings up both CPUs after kexos parked its
/// helper): Linux then runs on one CPU, as it did in every scenario before kexos used two. On
/// two TCG CPUs one kexec'd Linux in about ninety stopped in its i8042 set-up with its clock
/// standing still (docs/benchmarks.md, "Two CPUs"); not understood, and no scenario but that
/// one is about Linux's CPUs.
pub const LINUX_ONE_CPU: &str = "nr_cpus=1";

/// The command line of the first Linux in [`linux_kexec_into`] and `cargo xtask bench`.
pub const LINUX_KEXEC_FIRST_APPEND: &str = "console=ttyS0";

/// Where a host file goes in the kexec initramfs: the fixture's own bzImage and initramfs are
/// already there ([`boot::linux::KEXEC_KERNEL`], [`boot::linux::KEXEC_INITRD`]); anything else
/// is added as `/boot/<file name>` (`/boot/next-<file name>` if that name is taken).
fn kexec_guest_path(fx: &LinuxFixture, host: &Path, extra: &mut Vec<(PathBuf, String)>) -> String {
    if host == fx.kernel {
        return boot::linux::KEXEC_KERNEL.to_string();
    }
    if host == fx.initrd {
        return boot::linux::KEXEC_INITRD.to_string();
    }
    let name = host
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "next".into());
    let mut guest = format!("/boot/{name}");
    if guest == boot::linux::KEXEC_KERNEL
        || guest == boot::linux::KEXEC_INITRD
        || extra.iter().any(|(_, g)| *g == guest)
    {
        guest = format!("/boot/next-{name}");
    }
    extra.push((host.to_path_buf(), guest.clone()));
    guest
}

impl Machine {
    /// Boots the first Linux of a scenario, the one QEMU boots directly (`cmd` builds its
    /// command line; kexos has no part in it yet), and follows it to its `/init`: the banner
    /// naming `version`, then [`linux_markers::INIT_UP`]. The log goes to `log`.
    ///
    /// This is the harness's one retry. On two TCG CPUs the Debian kernel has stopped for good
    /// short of its `/init` (docs/testing.md, "A first Linux that hangs"), once when QEMU
    /// booted it directly; the cause is not known, and such a boot says nothing about kexos. So
    /// a first Linux that is still running after [`FIRST_LINUX_UP`] without reaching `/init` is
    /// killed and booted once more, loudly: `RETRY` on stderr, its log kept as
    /// `<name>.first-linux-hung.log`, and the marker `<name>`[`crate::RETRY_SUFFIX`] with the
    /// reason, from which xtask reports the scenario as passed after a retry. Anything else
    /// fails at once: a wrong banner, QEMU exiting, a second hang, and every Linux that kexos
    /// kexecs or boots after a crash.
    pub fn boot_first_linux(
        name: &str,
        cmd: impl Fn() -> Command,
        log: Option<PathBuf>,
        version: &str,
    ) -> Result<Self> {
        let marker = std::env::var_os(ROOT_ENV).map(|root| {
            Path::new(&root)
                .join("target/test-logs")
                .join(format!("{name}{RETRY_SUFFIX}"))
        });
        Self::boot_first_linux_within(name, cmd, log, marker, version, FIRST_LINUX_UP)
    }

    /// [`Machine::boot_first_linux`] with the retry marker at `marker` and `up` for
    /// [`FIRST_LINUX_UP`].
    pub(crate) fn boot_first_linux_within(
        name: &str,
        cmd: impl Fn() -> Command,
        log: Option<PathBuf>,
        marker: Option<PathBuf>,
        version: &str,
        up: Duration,
    ) -> Result<Self> {
        let mut m = Self::spawn_command(name, cmd(), log.clone())?;
        let Some(why) = m.first_linux_up(version, up)? else {
            return Ok(m);
        };
        let hung_log = log.as_ref().map(|l| l.with_extension("first-linux-hung.log"));
        m.log_path = hung_log.clone();
        m.failed = false;
        drop(m);
        let saved = hung_log.map_or(String::new(), |l| format!(" (its log: {})", l.display()));
        let reason = format!("{why}{saved}");
        eprintln!("RETRY {name}: {reason}; booting it once more");
        if let Some(marker) = marker {
            std::fs::create_dir_all(marker.parent().context("the marker's directory")?)?;
            std::fs::write(&marker, format!("{reason}\n"))?;
        }
        let mut m = Self::spawn_command(name, cmd(), log)?;
        match m.first_linux_up(version, up)? {
            None => Ok(m),
            Some(again) => Err(m.fail(anyhow!(
                "{name}: the first Linux hung twice: {reason}; then {again}"
            ))),
        }
    }

    /// The first Linux's banner (naming `version`) and its `/init`'s first line, within `up` of
    /// QEMU's start. Ok(None) when both came; Ok(Some(why)) when QEMU is still running without
    /// them (a hang); Err for anything else.
    fn first_linux_up(&mut self, version: &str, up: Duration) -> Result<Option<String>> {
        use linux_markers as lm;
        let left = |m: &Machine| up.saturating_sub(m.elapsed());
        let banner = match self.expect_line(lm::BANNER, left(self)) {
            Ok(b) => b,
            Err(_) if self.exit.is_none() => return Ok(Some(self.hang_report("printed no banner"))),
            Err(e) => return Err(e.context("the first Linux's banner")),
        };
        self.check(
            banner.starts_with(&format!("{version} ")),
            format_args!("Linux banner `Linux version {banner}` does not name {version}"),
        )?;
        match self.expect(lm::INIT_UP, left(self)) {
            Ok(_) => Ok(None),
            Err(_) if self.exit.is_none() => Ok(Some(self.hang_report("did not reach its /init"))),
            Err(e) => Err(e.context("the first Linux's /init")),
        }
    }

    /// "the first Linux, booted by QEMU directly, `what` in N s; its last line: `...`".
    fn hang_report(&self, what: &str) -> String {
        let log = self.transcript();
        let last = log.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        format!(
            "the first Linux, booted by QEMU directly, {what} in {:.0} s; its last line: `{}`",
            self.elapsed().as_secs_f64(),
            last.trim()
        )
    }

    /// Boots the fixture Linux directly (QEMU's `-kernel`, SeaBIOS; command line
    /// [`LINUX_KEXEC_FIRST_APPEND`]) with the kexec variant of its initramfs, written to
    /// `initrd_out`. That initramfs also holds `image` and `initrd` (host files) and, as
    /// `/etc/kexos-test.sh`, [`boot::linux::kexec_script`]: `kexec -s -l <image>
    /// --initrd=<initrd> --append=<append>`, then `kexec -e`. Nothing is checked: the bench
    /// follows this Linux itself, the scenarios boot it with [`linux_kexec_into`]. The serial
    /// log is saved to `log`.
    pub fn spawn_linux_kexec(
        name: &str,
        fx: &LinuxFixture,
        image: &Path,
        initrd: Option<&Path>,
        append: &str,
        initrd_out: &Path,
        log: Option<PathBuf>,
    ) -> Result<Self> {
        linux_kexec_initrd(fx, "", image, initrd, append, initrd_out)?;
        Self::spawn_command(name, linux_kexec_command(fx, initrd_out), log)
    }

    /// Follows the first Linux of [`Machine::spawn_linux_kexec`], once it is up
    /// ([`Machine::boot_first_linux`]), to `kexec -e`: its `/init` with
    /// [`LINUX_KEXEC_FIRST_APPEND`], the load (`kexec -s -l` exiting with 0), and the `kexec -e`
    /// marker. Every step has up to `timeout`.
    pub fn expect_linux_kexec(&mut self, timeout: Duration) -> Result<()> {
        use linux_markers as lm;
        let got = self.expect_line(lm::CMDLINE, timeout)?;
        self.check(
            got == LINUX_KEXEC_FIRST_APPEND,
            format_args!(
                "the first Linux's /proc/cmdline is {got:?}, expected {LINUX_KEXEC_FIRST_APPEND:?}"
            ),
        )?;
        self.expect(lm::TEST_START, timeout)?;
        let cmd = self.expect_line(lm::KEXEC_LOAD, timeout)?;
        let status = self
            .expect_line(lm::KEXEC_LOAD_STATUS, timeout)
            .with_context(|| format!("Linux running `{cmd}`"))?;
        self.check(
            status.trim() == "0",
            format_args!(
                "under Linux, `{cmd}` exited with status {status} (see its message above)"
            ),
        )?;
        self.expect(lm::KEXEC_EXEC, timeout)
            .context("the `kexec -e` marker")?;
        Ok(())
    }

    /// Follows a Linux boot of the fixture (direct or after kexec) to its end: Linux's banner
    /// naming `version`, the fixture's `/init` markers, `/proc/cmdline` exactly `cmdline`,
    /// `uname -r` exactly `version`, the initrd marker, then the ACPI power-off (QEMU exits with
    /// status 0). Every step has up to `timeout`.
    pub fn expect_linux_boot(
        &mut self,
        cmdline: &str,
        version: &str,
        timeout: Duration,
    ) -> Result<()> {
        use linux_markers as lm;
        let banner = self
            .expect_line(lm::BANNER, timeout)
            .context("Linux's banner")?;
        self.check(
            banner.starts_with(&format!("{version} ")),
            format_args!("Linux banner `Linux version {banner}` does not name {version}"),
        )?;
        self.expect(lm::INIT_UP, timeout)
            .context("the fixture's /init")?;
        self.expect_linux_init(cmdline, version, timeout)
    }

    /// The rest of [`Machine::expect_linux_boot`], once the fixture's `/init` is up (e.g. after
    /// [`Machine::boot_first_linux`]): `/proc/cmdline` exactly `cmdline`, `uname -r` exactly
    /// `version`, the initrd marker, then the ACPI power-off. Every step has up to `timeout`.
    pub fn expect_linux_init(
        &mut self,
        cmdline: &str,
        version: &str,
        timeout: Duration,
    ) -> Result<()> {
        use linux_markers as lm;
        let got = self.expect_line(lm::CMDLINE, timeout)?;
        self.check(
            got == cmdline,
            format_args!("Linux's /proc/cmdline is {got:?}, expected exactly {cmdline:?}"),
        )?;
        let got = self.expect_line(lm::UNAME, timeout)?;
        self.check(
            got == version,
            format_args!("Linux's uname -r is {got:?}, expected {version:?}"),
        )?;
        self.expect(lm::INITRD_OK, timeout)?;
        self.expect(lm::POWEROFF, timeout)?;
        self.expect("reboot: Power down", timeout)
            .context("Linux powering off")?;
        let e = self.wait_exit(timeout)?;
        self.check(
            e == QemuExit::Reset,
            format_args!("after Linux's power-off QEMU exited with {e:?}, expected status 0 (ACPI power-off)"),
        )
    }
}

/// Boots the fixture Linux, which loads `image` (a host file: a bzImage such as the fixture's
/// own `vmlinuz` or, for issue 4, `kexos.bzImage`) with `initrd` (host file) and the command
/// line `append` using Debian's `kexec -s -l` (Linux's own `kexec_file_load`), then runs
/// `kexec -e`. Checks the first Linux up to `kexec -e` ([`Machine::expect_linux_kexec`]) and
/// returns the machine: the caller then checks what the next kernel prints (e.g.
/// [`Machine::expect_linux_boot`] for Linux, [`Machine::expect_prompt`] for kexos).
/// The machine is named after the current test; its initramfs goes to
/// `target/test-images/<name>/linux-kexec-initrd.img`.
/// Returns None when the scenario must be skipped (see [`linux_kexec_fixture`]).
pub fn linux_kexec_into(
    image: &Path,
    initrd: Option<&Path>,
    append: &str,
) -> Result<Option<Machine>> {
    let Some(fx) = linux_kexec_fixture()? else {
        return Ok(None);
    };
    linux_kexec_into_with(&fx, "", image, initrd, append).map(Some)
}

/// [`linux_kexec_into`] with a given fixture (e.g. [`ima_linux_fixture`]) whose first Linux
/// runs `prelude` (a script fragment) before its `kexec -s -l`.
pub fn linux_kexec_into_with(
    fx: &LinuxFixture,
    prelude: &str,
    image: &Path,
    initrd: Option<&Path>,
    append: &str,
) -> Result<Machine> {
    let name = BootOptions::default().name;
    let root = std::env::var_os(ROOT_ENV)
        .map(PathBuf::from)
        .context(ROOT_ENV)?;
    let out = root
        .join("target/test-images")
        .join(&name)
        .join("linux-kexec-initrd.img");
    let log = root.join("target/test-logs").join(format!("{name}.log"));
    linux_kexec_initrd(fx, prelude, image, initrd, append, &out)?;
    let command = || linux_kexec_command(fx, &out);
    let mut m = Machine::boot_first_linux(&name, command, Some(log), &fx.version()?)?;
    m.expect_linux_kexec(Duration::from_secs(120))?;
    Ok(m)
}

/// Writes the kexec variant of the fixture's initramfs to `initrd_out`: it also holds `image`
/// and `initrd` (host files) and, as `/etc/kexos-test.sh`, `prelude` then
/// [`boot::linux::kexec_script`] (`kexec -s -l <image> --initrd=<initrd> --append=<append>`,
/// then `kexec -e`).
fn linux_kexec_initrd(
    fx: &LinuxFixture,
    prelude: &str,
    image: &Path,
    initrd: Option<&Path>,
    append: &str,
    initrd_out: &Path,
) -> Result<()> {
    let mut extra = Vec::new();
    let image_guest = kexec_guest_path(fx, image, &mut extra);
    let initrd_guest = initrd.map(|i| kexec_guest_path(fx, i, &mut extra));
    let script = format!(
        "{prelude}{}",
        boot::linux::kexec_script(&image_guest, initrd_guest.as_deref(), append)
    );
    fx.build_kexec_initrd(&extra, Some(&script), initrd_out)
        .with_context(|| format!("building {}", initrd_out.display()))?;
    Ok(())
}

/// The QEMU command line of the first Linux with the kexec initramfs `initrd_out`
/// ([`linux_kexec_initrd`]) and [`LINUX_KEXEC_FIRST_APPEND`].
fn linux_kexec_command(fx: &LinuxFixture, initrd_out: &Path) -> Command {
    qemu_linux_command(&fx.kernel, initrd_out, LINUX_KEXEC_FIRST_APPEND, "512M", &[])
}

/// kexos.bzImage and a kexos initramfs (the default layout, without the Linux fixture), built
/// on the host under `target/test-images/<name>/`, for a Linux guest to kexec. Returns
/// (bzImage, initramfs).
pub fn kexos_host_files(artifacts: &Artifacts, name: &str) -> Result<(PathBuf, PathBuf)> {
    let opts = BootOptions {
        name: name.into(),
        ..BootOptions::new(Firmware::Uefi)
    };
    let image = opts.build_image(artifacts)?;
    let dir = image.parent().context("image directory")?;
    let bz = dir.join("kexos.bzImage");
    boot::bzimage::build(&artifacts.kernel, &bz)?;
    Ok((bz, dir.join("initramfs.cpio")))
}

#[cfg(test)]
mod tests {
    //! [`Machine::boot_first_linux`]'s retry, with `sh` standing in for QEMU: a "Linux" that
    //! hangs sleeps without printing, a good one prints the banner and the `/init` marker.

    use std::cell::Cell;

    use super::*;

    // Far more than `sh` needs to print two lines, also on a loaded machine.
    const UP: Duration = Duration::from_secs(5);
    const GOOD: &str = "echo 'Linux version 6.1.0-test (x)'; echo KEXOS-LINUX-INIT: up; exec sleep 30";
    const HANG: &str = "echo 'early boot line'; exec sleep 30";

    /// Runs boot_first_linux_within over the scripts in `runs` (one per boot, the last repeated);
    /// returns the result, how many boots it made, and the marker's text.
    fn boot(name: &str, runs: &[&str]) -> (Result<Machine>, usize, Option<String>) {
        let dir = std::env::temp_dir().join(format!("kexos-first-linux-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let marker = dir.join(format!("{name}{RETRY_SUFFIX}"));
        let boots = Cell::new(0);
        let cmd = || {
            let script = runs[boots.get().min(runs.len() - 1)];
            boots.set(boots.get() + 1);
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            c
        };
        let log = Some(dir.join(format!("{name}.log")));
        let r = Machine::boot_first_linux_within(name, cmd, log, Some(marker.clone()), "6.1.0-test", UP);
        (r, boots.get(), std::fs::read_to_string(&marker).ok())
    }

    #[test]
    fn a_first_linux_that_comes_up_is_booted_once() {
        let (r, boots, marker) = boot("up", &[GOOD]);
        assert!(r.is_ok(), "{:?}", r.err());
        assert_eq!((boots, marker), (1, None));
    }

    #[test]
    fn a_hung_first_linux_is_booted_once_more_and_says_so() {
        let (r, boots, marker) = boot("hung-once", &[HANG, GOOD]);
        assert!(r.is_ok(), "{:?}", r.err());
        assert_eq!(boots, 2);
        let marker = marker.expect("the retry marker");
        assert!(marker.contains("printed no banner"), "{marker}");
        assert!(marker.contains("`early boot line`"), "{marker}");
        assert!(marker.contains("hung-once.first-linux-hung.log"), "{marker}");
    }

    #[test]
    fn a_first_linux_that_hangs_twice_fails() {
        let (r, boots, marker) = boot("hung-twice", &[HANG]);
        let e = format!("{:#}", r.err().expect("an error"));
        assert!(e.contains("hung twice"), "{e}");
        assert_eq!(boots, 2);
        assert!(marker.is_some());
    }

    #[test]
    fn a_first_linux_that_exits_or_names_another_version_is_not_booted_again() {
        for (name, script, expect) in [
            ("exits", "echo 'Linux version 6.1.0-test (x)'", "QEMU exited"),
            ("other-version", "echo 'Linux version 9.9 (x)'; exec sleep 30", "does not name"),
        ] {
            let (r, boots, marker) = boot(name, &[script, GOOD]);
            let e = format!("{:#}", r.err().expect("an error"));
            assert!(e.contains(expect), "{name}: {e}");
            assert_eq!((boots, marker), (1, None), "{name}");
        }
    }
}
