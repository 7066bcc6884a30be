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

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
pub use boot::linux::{markers as linux_markers, LinuxFixture};
pub use boot::{AddSpec, Firmware};

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
/// Default OVMF location (Debian/Ubuntu package `ovmf`).
pub const DEFAULT_OVMF: &str = "/usr/share/ovmf/OVMF.fd";
/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

pub mod vmcore;

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

/// How the serial port is wired to QEMU's stdio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Plain `-serial stdio`: for pipes (tests, scripts).
    Pipe,
    /// `-chardev stdio,mux=on,signal=off`: for a terminal. QEMU puts the tty in raw mode,
    /// Ctrl-C goes to the guest, Ctrl-A X quits QEMU.
    Interactive,
}

/// The QEMU command line kexos boots with (shared by xtask and the harness).
pub fn qemu_command(
    image: &Path,
    fw: Firmware,
    mem: &str,
    console: Console,
    extra: &[String],
) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.args(["-accel", "tcg", "-machine", "q35", "-m", mem]);
    cmd.args(["-display", "none", "-monitor", "none", "-no-reboot"]);
    match console {
        Console::Pipe => cmd.args(["-serial", "stdio"]),
        Console::Interactive => cmd.args([
            "-chardev",
            "stdio,id=console,mux=on,signal=off",
            "-serial",
            "chardev:console",
        ]),
    };
    cmd.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    // snapshot=on: the image is never written and several QEMUs may boot the same file.
    cmd.arg("-drive")
        .arg(format!("format=raw,snapshot=on,file={}", image.display()));
    if fw == Firmware::Uefi {
        cmd.arg("-bios").arg(ovmf_path());
    }
    cmd.args(extra);
    cmd
}

/// QEMU booting a Linux bzImage directly (`-kernel`, `-initrd`, `-append`), with the same
/// machine as kexos (TCG, q35, `-no-reboot`, serial on stdio, isa-debug-exit).
pub fn qemu_linux_command(
    kernel: &Path,
    initrd: &Path,
    append: &str,
    mem: &str,
    extra: &[String],
) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.args(["-accel", "tcg", "-machine", "q35", "-m", mem]);
    cmd.args(["-display", "none", "-monitor", "none", "-no-reboot"]);
    cmd.args(["-serial", "stdio"]);
    cmd.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    cmd.arg("-kernel").arg(kernel);
    cmd.arg("-initrd").arg(initrd);
    cmd.arg("-append").arg(append);
    cmd.args(extra);
    cmd
}

/// What a QEMU exit status means under the isa-debug-exit convention (status = value << 1 | 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QemuExit {
    /// Status 1: the guest wrote 0 to port 0xf4 (poweroff).
    PowerOff,
    /// Status 3: the guest wrote 1 to port 0xf4 (kernel panic).
    Panic,
    /// Status 0: the guest reset the machine (QEMU runs with `-no-reboot`), or QEMU was quit
    /// from its console (Ctrl-A X).
    Reset,
    /// Any other status (QEMU error, other debug-exit value).
    Code(i32),
    /// Killed by a signal (e.g. the harness killed it).
    Signal,
}

impl QemuExit {
    /// Classifies a QEMU exit status.
    pub fn from_status(s: ExitStatus) -> Self {
        match s.code() {
            Some(0) => QemuExit::Reset,
            Some(1) => QemuExit::PowerOff,
            Some(3) => QemuExit::Panic,
            Some(c) => QemuExit::Code(c),
            None => QemuExit::Signal,
        }
    }

    /// Whether this counts as a successful run (poweroff or reset).
    pub fn is_success(self) -> bool {
        matches!(self, QemuExit::PowerOff | QemuExit::Reset)
    }
}

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
    /// Extra QEMU arguments, appended last.
    pub extra_qemu_args: Vec<String>,
    /// Time allowed from QEMU start to the first shell prompt ([`Machine::boot`]).
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
            extra_qemu_args: Vec::new(),
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
    /// The initramfs has the default layout plus `/bin/faulttest` and `add`.
    pub fn build_image(&self, artifacts: &Artifacts) -> Result<PathBuf> {
        let dir = artifacts.target("test-images").join(&self.name);
        let mut bin = Vec::new();
        if artifacts.faulttest.is_file() {
            bin.push(artifacts.faulttest.clone());
        }
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
        boot::build_images(&layout, &artifacts.kernel, &dir, &[self.firmware])
            .with_context(|| format!("building the disk image for {}", self.name))?;
        Ok(boot::image_path(&dir, self.firmware))
    }
}

#[derive(Default)]
struct Transcript {
    /// Serial output with `\r` removed.
    out: Vec<u8>,
    /// QEMU's own stderr.
    err: Vec<u8>,
    /// The serial reader saw EOF (QEMU exited or closed stdout).
    eof: bool,
    /// (length of `out` after a read, when that read returned): when each byte arrived.
    arrivals: Vec<(usize, Instant)>,
}

struct Shared {
    t: Mutex<Transcript>,
    cv: Condvar,
}

/// A running QEMU with the kexos console on its stdio.
pub struct Machine {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    readers: Vec<JoinHandle<()>>,
    /// Byte offset in the transcript after the last match.
    pos: usize,
    log_path: Option<PathBuf>,
    started: Instant,
    failed: bool,
    printed: bool,
    exit: Option<QemuExit>,
    /// Bytes sent after a command by [`Machine::send_line`] (default `"\r"`, the Enter key).
    pub line_ending: String,
    /// Timeout for [`Machine::run`] and [`Machine::expect_prompt`] after a command.
    pub cmd_timeout: Duration,
    /// Print the whole transcript on a failure (default true; `cargo xtask bench` turns it off).
    pub print_on_failure: bool,
}

fn spawn_reader(
    shared: Arc<Shared>,
    mut src: impl Read + Send + 'static,
    is_err: bool,
    verbose: bool,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            let mut t = shared.t.lock().unwrap();
            if n == 0 {
                if !is_err {
                    t.eof = true;
                }
                shared.cv.notify_all();
                return;
            }
            if verbose {
                let _ = std::io::stderr().write_all(&buf[..n]);
            }
            if is_err {
                t.err.extend_from_slice(&buf[..n]);
            } else {
                t.out
                    .extend(buf[..n].iter().copied().filter(|&b| b != b'\r'));
                let len = t.out.len();
                t.arrivals.push((len, Instant::now()));
            }
            shared.cv.notify_all();
        }
    })
}

/// Finds the first shell prompt (`kexos:/...# `, on one line) in `hay`; returns (start, end).
pub fn find_prompt(hay: &[u8]) -> Option<(usize, usize)> {
    let start_pat = markers::PROMPT_START.as_bytes();
    let mut from = 0;
    while let Some(s) = find(&hay[from..], start_pat).map(|i| i + from) {
        let rest = &hay[s + start_pat.len()..];
        let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        if let Some(e) = find(&rest[..line_end], markers::PROMPT_END.as_bytes()) {
            return Some((s, s + start_pat.len() + e + markers::PROMPT_END.len()));
        }
        from = s + 1;
    }
    None
}

/// First occurrence of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Machine {
    /// Builds the per-test image and starts QEMU, without waiting for anything.
    pub fn spawn(opts: &BootOptions) -> Result<Self> {
        let artifacts = Artifacts::from_env()?;
        let image = opts.build_image(&artifacts)?;
        let log = artifacts
            .target("test-logs")
            .join(format!("{}.log", opts.name));
        Self::spawn_image(
            &opts.name,
            &image,
            opts.firmware,
            &opts.mem,
            &opts.extra_qemu_args,
            Some(log),
        )
    }

    /// Builds the per-test image, starts QEMU and waits (up to `opts.timeout`) for the prompt.
    pub fn boot(opts: BootOptions) -> Result<Self> {
        let mut m = Self::spawn(&opts)?;
        m.expect_prompt(opts.timeout)
            .context("booting to the shell prompt")?;
        Ok(m)
    }

    /// Starts QEMU on an existing disk image (used by `cargo xtask bench`).
    pub fn spawn_image(
        name: &str,
        image: &Path,
        fw: Firmware,
        mem: &str,
        extra: &[String],
        log_path: Option<PathBuf>,
    ) -> Result<Self> {
        if fw == Firmware::Uefi && !ovmf_path().is_file() {
            bail!(
                "OVMF not found at {} (apt-get install ovmf, or set {OVMF_ENV})",
                ovmf_path().display()
            );
        }
        let cmd = qemu_command(image, fw, mem, Console::Pipe, extra);
        Self::spawn_command(name, cmd, log_path)
    }

    /// Boots Linux directly with QEMU's `-kernel`/`-initrd`/`-append` (SeaBIOS, no kexos):
    /// used to check that the Linux fixture itself is good. The log goes to
    /// `target/test-logs/<name>.log` when `KEXOS_ROOT` is set.
    pub fn spawn_linux_direct(
        name: &str,
        kernel: &Path,
        initrd: &Path,
        append: &str,
        mem: &str,
    ) -> Result<Self> {
        let log = std::env::var_os(ROOT_ENV)
            .map(|r| Path::new(&r).join(format!("target/test-logs/{name}.log")));
        let cmd = qemu_linux_command(kernel, initrd, append, mem, &[]);
        Self::spawn_command(name, cmd, log)
    }

    /// Starts `cmd` (a QEMU command line with the serial console on stdio) with piped stdio.
    pub fn spawn_command(name: &str, mut cmd: Command, log_path: Option<PathBuf>) -> Result<Self> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| {
            format!("starting {QEMU} (is it installed? apt-get install qemu-system-x86)")
        })?;
        let shared = Arc::new(Shared {
            t: Mutex::new(Transcript::default()),
            cv: Condvar::new(),
        });
        let verbose = std::env::var(VERBOSE_ENV).is_ok_and(|v| v == "1");
        let readers = vec![
            spawn_reader(shared.clone(), child.stdout.take().unwrap(), false, verbose),
            spawn_reader(shared.clone(), child.stderr.take().unwrap(), true, verbose),
        ];
        Ok(Machine {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            shared,
            readers,
            pos: 0,
            log_path,
            started: Instant::now(),
            failed: false,
            printed: false,
            exit: None,
            line_ending: "\r".into(),
            cmd_timeout: Duration::from_secs(60),
            print_on_failure: true,
        })
    }

    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Time since QEMU was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The whole serial transcript so far (plus QEMU's stderr, if any).
    pub fn transcript(&self) -> String {
        let t = self.shared.t.lock().unwrap();
        let mut s = String::from_utf8_lossy(&t.out).into_owned();
        if !t.err.is_empty() {
            s.push_str("\n----- qemu stderr -----\n");
            s.push_str(&String::from_utf8_lossy(&t.err));
        }
        s
    }

    /// Records a failure: prints the whole transcript once and returns the error.
    fn fail(&mut self, err: anyhow::Error) -> anyhow::Error {
        self.failed = true;
        if self.print_on_failure {
            self.print_log();
        }
        err
    }

    fn print_log(&mut self) {
        if self.printed {
            return;
        }
        self.printed = true;
        let log = self.transcript();
        eprintln!(
            "===== serial log of {} ({:.1} s) =====\n{log}\n===== end of serial log of {} =====",
            self.name,
            self.elapsed().as_secs_f64(),
            self.name
        );
        if let Some(p) = &self.log_path {
            eprintln!("(saved to {})", p.display());
        }
    }

    /// Waits until the transcript after the last match satisfies `matcher` (which returns the
    /// match's (start, end) in the slice it is given). Returns the text from the last match up
    /// to and including this one.
    fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        matcher: impl Fn(&[u8]) -> Option<(usize, usize)>,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let shared = self.shared.clone();
        let mut t = shared.t.lock().unwrap();
        loop {
            if let Some((_, end)) = matcher(&t.out[self.pos..]) {
                let text = String::from_utf8_lossy(&t.out[self.pos..self.pos + end]).into_owned();
                self.pos += end;
                return Ok(text);
            }
            if t.eof {
                drop(t);
                let status = self.child.wait().ok().map(QemuExit::from_status);
                self.exit = status;
                let err = anyhow!(
                    "{}: QEMU exited ({status:?}) while waiting for {what}",
                    self.name
                );
                return Err(self.fail(err));
            }
            let now = Instant::now();
            if now >= deadline {
                drop(t);
                let err = anyhow!(
                    "{}: timed out after {:.0} s waiting for {what}",
                    self.name,
                    timeout.as_secs_f64()
                );
                return Err(self.fail(err));
            }
            t = shared.cv.wait_timeout(t, deadline - now).unwrap().0;
        }
    }

    /// Waits for `pat` (a plain substring) in the output after the last match. Returns the text
    /// from the last match up to and including `pat`.
    pub fn expect(&mut self, pat: &str, timeout: Duration) -> Result<String> {
        let needle = pat.as_bytes().to_vec();
        self.wait_for(&format!("`{}`", pat.escape_debug()), timeout, |h| {
            find(h, &needle).map(|i| (i, i + needle.len()))
        })
    }

    /// Like [`Machine::expect`], and also returns when (since QEMU started) the end of the match
    /// arrived on the serial port, to the precision of one read of the pipe. Unlike
    /// [`Machine::elapsed`] after `expect`, this is exact even if the text arrived long before.
    pub fn expect_timed(&mut self, pat: &str, timeout: Duration) -> Result<(String, Duration)> {
        let text = self.expect(pat, timeout)?;
        Ok((text, self.match_time()))
    }

    /// When (since QEMU started) the end of the last match arrived on the serial port.
    pub fn match_time(&self) -> Duration {
        let t = self.shared.t.lock().unwrap();
        let offset = self.pos;
        let i = t.arrivals.partition_point(|&(len, _)| len < offset);
        match t.arrivals.get(i) {
            Some(&(_, at)) => at.saturating_duration_since(self.started),
            None => self.started.elapsed(),
        }
    }

    /// Waits for `pat`, then returns the rest of its line (without the newline).
    pub fn expect_line(&mut self, pat: &str, timeout: Duration) -> Result<String> {
        self.expect(pat, timeout)?;
        let rest = self.expect("\n", timeout)?;
        Ok(rest.trim_end_matches('\n').to_string())
    }

    /// Watches the output after the last match for `within`: fails as soon as `pat` appears.
    /// Returns Ok when the time is up or QEMU exits without printing it (does not move the
    /// match position).
    pub fn expect_none(&mut self, pat: &str, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        let needle = pat.as_bytes().to_vec();
        let shared = self.shared.clone();
        let mut t = shared.t.lock().unwrap();
        loop {
            if find(&t.out[self.pos..], &needle).is_some() {
                drop(t);
                let err = anyhow!(
                    "{}: `{}` appeared on the serial console (it must not within {:.0} s)",
                    self.name,
                    pat.escape_debug(),
                    within.as_secs_f64()
                );
                return Err(self.fail(err));
            }
            let now = Instant::now();
            if t.eof || now >= deadline {
                return Ok(());
            }
            t = shared.cv.wait_timeout(t, deadline - now).unwrap().0;
        }
    }

    /// Kills QEMU now (e.g. after checking a guest that halts forever). Returns once the output
    /// is drained.
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.exit = Some(QemuExit::Signal);
            for r in self.readers.drain(..) {
                let _ = r.join();
            }
        }
    }

    /// Waits for the shell prompt `kexos:<cwd># `. Returns the text up to and including it.
    pub fn expect_prompt(&mut self, timeout: Duration) -> Result<String> {
        self.wait_for("the shell prompt `kexos:<cwd># `", timeout, find_prompt)
    }

    /// Checks, without waiting, that `pat` has not appeared anywhere in the transcript.
    pub fn assert_absent(&mut self, pat: &str) -> Result<()> {
        let found = find(&self.shared.t.lock().unwrap().out, pat.as_bytes()).is_some();
        if found {
            let err = anyhow!("{}: unexpected `{pat}` in the serial output", self.name);
            return Err(self.fail(err));
        }
        Ok(())
    }

    /// Writes raw bytes to the serial console.
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let res = match self.stdin.as_mut() {
            Some(s) => s.write_all(bytes).and_then(|_| s.flush()),
            None => Err(std::io::Error::other("stdin closed")),
        };
        res.map_err(|e| {
            let err = anyhow!("{}: writing to the serial console: {e}", self.name);
            self.fail(err)
        })
    }

    /// Types `line` followed by Enter ([`Machine::line_ending`]).
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(self.line_ending.as_bytes());
        self.send(&bytes)
    }

    /// Runs a shell command: types it, waits for its echo and for the next prompt, and returns
    /// the output in between (without the echo line and the prompt).
    pub fn run(&mut self, cmd: &str) -> Result<String> {
        self.send_line(cmd)?;
        let timeout = self.cmd_timeout;
        self.expect(&format!("{cmd}\n"), timeout)
            .with_context(|| format!("echo of `{cmd}`"))?;
        let out = self
            .expect_prompt(timeout)
            .with_context(|| format!("prompt after `{cmd}`"))?;
        let (start, _) = find_prompt(out.as_bytes()).expect("the prompt was just matched");
        Ok(out[..start].to_string())
    }

    /// Field `name` (e.g. `MemTotal`) of the guest's `/proc/meminfo`, in kB.
    pub fn meminfo_kb(&mut self, name: &str) -> Result<u64> {
        let out = self.run("cat /proc/meminfo")?;
        out.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no {name} in {out:?}"))
    }

    /// Runs `cmd` and checks its output contains `want`. Returns the output.
    pub fn run_expect(&mut self, cmd: &str, want: &str) -> Result<String> {
        let out = self.run(cmd)?;
        if !out.contains(want) {
            let err = anyhow!(
                "{}: `{cmd}` printed {out:?}, expected it to contain {want:?}",
                self.name
            );
            return Err(self.fail(err));
        }
        Ok(out)
    }

    /// Records a failed check made by the caller (prints the log) and returns it as an error.
    pub fn check(&mut self, ok: bool, msg: impl std::fmt::Display) -> Result<()> {
        if ok {
            return Ok(());
        }
        let err = anyhow!("{}: {msg}", self.name);
        Err(self.fail(err))
    }

    /// Waits up to `timeout` for QEMU to exit; kills it on timeout (and fails).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<QemuExit> {
        if let Some(e) = self.exit {
            return Ok(e);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Let the readers drain the last output before anyone looks at it.
                    for r in self.readers.drain(..) {
                        let _ = r.join();
                    }
                    let e = QemuExit::from_status(status);
                    self.exit = Some(e);
                    return Ok(e);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let err = anyhow!(
                        "{}: QEMU did not exit within {:.0} s",
                        self.name,
                        timeout.as_secs_f64()
                    );
                    return Err(self.fail(err));
                }
                Err(e) => {
                    let err = anyhow!("{}: waiting for QEMU: {e}", self.name);
                    return Err(self.fail(err));
                }
            }
        }
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

    /// Types `poweroff`, and checks the kernel logs `kexos: power off` and QEMU exits with the
    /// poweroff status.
    pub fn poweroff(&mut self) -> Result<()> {
        self.send_line("poweroff")?;
        let t = self.cmd_timeout;
        self.expect(markers::POWER_OFF, t)?;
        let e = self.wait_exit(t)?;
        self.check(
            e == QemuExit::PowerOff,
            format_args!("after poweroff QEMU exited with {e:?}, expected PowerOff (status 1)"),
        )
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        drop(self.stdin.take());
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        if let Some(p) = &self.log_path {
            if let Some(d) = p.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            let _ = std::fs::write(p, self.transcript());
        }
        if std::thread::panicking() || (self.failed && self.print_on_failure) {
            self.print_log();
        }
    }
}

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

/// With `KEXOS_SKIP_LINUX=1`, marks the current scenario as skipped because of `why` (writes
/// `target/test-logs/<scenario>.skipped`) and returns Ok; otherwise fails with `why`.
fn skip_or_fail(why: &str) -> Result<()> {
    if !std::env::var(SKIP_LINUX_ENV).is_ok_and(|v| v == "1") {
        bail!("{why}; or set {SKIP_LINUX_ENV}=1 to skip the Linux scenarios");
    }
    let root = std::env::var_os(ROOT_ENV)
        .map(PathBuf::from)
        .context(ROOT_ENV)?;
    let name = BootOptions::default().name;
    let marker = root
        .join("target/test-logs")
        .join(format!("{name}{SKIP_SUFFIX}"));
    if let Some(d) = marker.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&marker, format!("{why}\n"))?;
    eprintln!("SKIPPED {name}: {why} ({SKIP_LINUX_ENV}=1)");
    Ok(())
}

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
    /// Boots the fixture Linux directly (as [`Machine::spawn_linux_direct`], command line
    /// [`LINUX_KEXEC_FIRST_APPEND`]) with the kexec variant of its initramfs, written to
    /// `initrd_out`. That initramfs also holds `image` and `initrd` (host files) and, as
    /// `/etc/kexos-test.sh`, [`boot::linux::kexec_script`]: `kexec -s -l <image>
    /// --initrd=<initrd> --append=<append>`, then `kexec -e`. Nothing is checked yet (see
    /// [`Machine::expect_linux_kexec`]). The serial log is saved to `log`.
    pub fn spawn_linux_kexec(
        name: &str,
        fx: &LinuxFixture,
        image: &Path,
        initrd: Option<&Path>,
        append: &str,
        initrd_out: &Path,
        log: Option<PathBuf>,
    ) -> Result<Self> {
        let mut extra = Vec::new();
        let image_guest = kexec_guest_path(fx, image, &mut extra);
        let initrd_guest = initrd.map(|i| kexec_guest_path(fx, i, &mut extra));
        let script = boot::linux::kexec_script(&image_guest, initrd_guest.as_deref(), append);
        fx.build_kexec_initrd(&extra, Some(&script), initrd_out)
            .with_context(|| format!("building {}", initrd_out.display()))?;
        let cmd = qemu_linux_command(
            &fx.kernel,
            initrd_out,
            LINUX_KEXEC_FIRST_APPEND,
            "512M",
            &[],
        );
        Self::spawn_command(name, cmd, log)
    }

    /// Follows the first Linux of [`Machine::spawn_linux_kexec`] up to `kexec -e`: its banner
    /// naming `version`, its `/init` with [`LINUX_KEXEC_FIRST_APPEND`], the load (`kexec -s -l`
    /// exiting with 0), and the `kexec -e` marker. Every step has up to `timeout`.
    pub fn expect_linux_kexec(&mut self, version: &str, timeout: Duration) -> Result<()> {
        use linux_markers as lm;
        let banner = self
            .expect_line(lm::BANNER, timeout)
            .context("the first Linux's banner")?;
        self.check(
            banner.starts_with(&format!("{version} ")),
            format_args!("Linux banner `Linux version {banner}` does not name {version}"),
        )?;
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
    let name = BootOptions::default().name;
    let root = std::env::var_os(ROOT_ENV)
        .map(PathBuf::from)
        .context(ROOT_ENV)?;
    let out = root
        .join("target/test-images")
        .join(&name)
        .join("linux-kexec-initrd.img");
    let log = root.join("target/test-logs").join(format!("{name}.log"));
    let mut m = Machine::spawn_linux_kexec(&name, &fx, image, initrd, append, &out, Some(log))?;
    m.expect_linux_kexec(&fx.version()?, Duration::from_secs(120))?;
    Ok(Some(m))
}

/// Parses `hexdump -C` output (util-linux/busybox canonical format, as kexos's `hexdump`
/// prints it): `%08x  xx xx ...  |ascii|` lines, `*` for lines equal to the previous one, and a
/// final line with the end offset. Returns (first offset, bytes).
pub fn parse_hexdump(text: &str) -> Result<(u64, Vec<u8>)> {
    let mut start = None;
    let mut out: Vec<u8> = Vec::new();
    let mut prev: Vec<u8> = Vec::new();
    let mut squeezed = false;
    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if line == "*" {
            squeezed = true;
            continue;
        }
        let (off, rest) = line.split_once(' ').unwrap_or((line, ""));
        let off = u64::from_str_radix(off, 16).with_context(|| format!("hexdump line {line:?}"))?;
        let base = *start.get_or_insert(off);
        if squeezed {
            while base + (out.len() as u64) < off {
                out.extend_from_slice(&prev);
            }
            squeezed = false;
        }
        anyhow::ensure!(
            base + out.len() as u64 == off,
            "hexdump offset {off:#x} out of order"
        );
        let hex = rest.split('|').next().unwrap_or("");
        let bytes = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16))
            .collect::<Result<Vec<u8>, _>>()
            .with_context(|| format!("hexdump line {line:?}"))?;
        out.extend_from_slice(&bytes);
        if !bytes.is_empty() {
            prev = bytes;
        }
    }
    Ok((start.unwrap_or(0), out))
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
    #[test]
    fn hexdump_parse_squeezed() {
        let text = "00000010  7f 45 4c 46 00 00 00 00  00 00 00 00 00 00 00 00  |.ELF............|\n\
                    00000020  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
                    *\n\
                    00000050  01 02 03                                          |...|\n\
                    00000053\n";
        let (start, bytes) = super::parse_hexdump(text).unwrap();
        assert_eq!(start, 0x10);
        assert_eq!(bytes.len(), 0x43);
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert!(bytes[16..0x40].iter().all(|&b| b == 0));
        assert_eq!(&bytes[0x40..], [1, 2, 3]);
    }

    use super::*;

    #[test]
    fn prompt_matching() {
        assert_eq!(find_prompt(b"hello\nkexos:/# "), Some((6, 15)));
        assert_eq!(find_prompt(b"kexos:/tmp/a b# x"), Some((0, 16)));
        // A kernel log line is not a prompt, nor is a prompt split over lines.
        assert_eq!(find_prompt(b"kexos: /sbin/init (pid 1) exited\n"), None);
        assert_eq!(find_prompt(b"kexos:/\n# "), None);
        assert_eq!(find_prompt(b"kexos:/\nkexos:/# "), Some((8, 17)));
    }

    #[test]
    fn qemu_exit_mapping() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            QemuExit::from_status(ExitStatus::from_raw(1 << 8)),
            QemuExit::PowerOff
        );
        assert_eq!(
            QemuExit::from_status(ExitStatus::from_raw(3 << 8)),
            QemuExit::Panic
        );
        assert_eq!(
            QemuExit::from_status(ExitStatus::from_raw(0)),
            QemuExit::Reset
        );
        assert_eq!(
            QemuExit::from_status(ExitStatus::from_raw(9)),
            QemuExit::Signal
        );
        assert!(!QemuExit::Panic.is_success());
    }

    #[test]
    fn missing_root_fails_with_hint() {
        if std::env::var_os(ROOT_ENV).is_none() {
            let e = Artifacts::from_env().unwrap_err().to_string();
            assert!(e.contains("cargo xtask test"), "{e}");
        }
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(random_token("t"), random_token("t"));
    }
}
