//! [`Machine`]: one QEMU process with the serial console on piped stdio, the reader threads
//! that collect its transcript, its exit, and the log saved when it is dropped.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::{
    ovmf_path, qemu_command, Artifacts, BootOptions, Console, Emulator, Firmware, QemuExit, OVMF_ENV, QEMU,
    VERBOSE_ENV,
};

#[derive(Default)]
pub(crate) struct Transcript {
    /// Serial output with `\r` removed.
    pub(crate) out: Vec<u8>,
    /// QEMU's own stderr.
    pub(crate) err: Vec<u8>,
    /// The serial reader saw EOF (QEMU exited or closed stdout).
    pub(crate) eof: bool,
    /// (length of `out` after a read, when that read returned): when each byte arrived.
    pub(crate) arrivals: Vec<(usize, Instant)>,
}

pub(crate) struct Shared {
    pub(crate) t: Mutex<Transcript>,
    pub(crate) cv: Condvar,
}

/// A running QEMU with the kexos console on its stdio.
pub struct Machine {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) readers: Vec<JoinHandle<()>>,
    /// Byte offset in the transcript after the last match.
    pub(crate) pos: usize,
    pub(crate) log_path: Option<PathBuf>,
    pub(crate) started: Instant,
    pub(crate) failed: bool,
    pub(crate) printed: bool,
    pub(crate) exit: Option<QemuExit>,
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

impl Machine {
    /// Builds the per-test image and starts QEMU, without waiting for anything.
    pub fn spawn(opts: &BootOptions) -> Result<Self> {
        let artifacts = Artifacts::from_env()?;
        let image = opts.build_image(&artifacts)?;
        let log = artifacts
            .target("test-logs")
            .join(format!("{}.log", opts.name));
        Self::spawn_image_on(
            &opts.emulator,
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
        Self::spawn_image_on(&Emulator::System, name, image, fw, mem, extra, log_path)
    }

    /// [`Machine::spawn_image`] on `emulator`.
    pub fn spawn_image_on(
        emulator: &Emulator,
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
        let cmd = qemu_command(emulator, image, fw, mem, Console::Pipe, extra);
        Self::spawn_command(name, cmd, log_path)
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
    pub(crate) fn fail(&mut self, err: anyhow::Error) -> anyhow::Error {
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
