//! The QEMU command lines kexos and the Linux fixture boot with, and what QEMU's exit status
//! means.

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};

use boot::qemu::ShaNiQemu;

use crate::{ovmf_path, Firmware, QEMU};

/// How the serial port is wired to QEMU's stdio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Plain `-serial stdio`: for pipes (tests, scripts).
    Pipe,
    /// `-chardev stdio,mux=on,signal=off`: for a terminal. QEMU puts the tty in raw mode,
    /// Ctrl-C goes to the guest, Ctrl-A X quits QEMU.
    Interactive,
}

/// No network card. kexos has no network driver, and the Linux fixture does
/// not use one; QEMU's default NIC only costs memory and time: OVMF loads its
/// iPXE option ROM, whose driver keeps about 0.5 MiB of boot-services memory,
/// enough to stop the boot loader at 48 MiB (docs/benchmarks.md, "The memory
/// floor"). Both command lines drop it, so kexos and Linux are compared on the
/// same machine.
const NO_NIC: [&str; 2] = ["-nic", "none"];

/// Whether QEMU populates all guest RAM before the guest starts (`-mem-prealloc`), on every
/// command line this process builds, kexos's and Linux's alike. Off for tests; `cargo xtask
/// bench` turns it on. The reason: on a host that backs guest RAM lazily, the guest's first
/// write to each 4 KiB page costs a host page fault (about 13 us on the 2-core CI machine,
/// itself a VM). That cost lands in whichever phase first touches the page, not in the phase's
/// own work: it made kexos's `copy+digest` range 86-295 ms over three runs of the same load
/// (docs/benchmarks.md, "Guest RAM is populated before each boot").
static PREALLOC: AtomicBool = AtomicBool::new(false);

/// See [`PREALLOC`]; applies to the commands built after the call.
pub fn set_mem_prealloc(on: bool) {
    PREALLOC.store(on, Ordering::Relaxed);
}

/// CPUs in every machine, kexos's and Linux's alike: kexos hashes on the second one while the
/// first checks a signature (kernel/src/arch/smp.rs).
pub const CPUS: usize = 2;

/// The machine both command lines share: TCG, q35, [`CPUS`] CPUs, `mem` of RAM (populated up
/// front when [`set_mem_prealloc`] says so), no display or monitor, no reboot, no NIC.
fn machine(cmd: &mut Command, mem: &str) {
    cmd.args(["-accel", "tcg", "-machine", "q35", "-m", mem]);
    cmd.arg("-smp").arg(CPUS.to_string());
    if PREALLOC.load(Ordering::Relaxed) {
        cmd.arg("-mem-prealloc");
    }
    cmd.args(["-display", "none", "-monitor", "none", "-no-reboot"]);
    cmd.args(NO_NIC);
}

/// Which QEMU runs a kexos machine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Emulator {
    /// The machine's `qemu-system-x86_64` (Debian 12: QEMU 7.2) with its default CPU, qemu64:
    /// no SHA-NI, so kexos hashes with the SSE2 block function.
    #[default]
    System,
    /// The fixture QEMU whose TCG emulates SHA-NI, with `-cpu max` ([`ShaNiQemu`]).
    ShaNi(ShaNiQemu),
}

impl Emulator {
    /// The SHA-NI QEMU of the repository at `repo`, if `cargo xtask` fetched it; else why not
    /// (the reason xtask recorded).
    pub fn sha_ni(repo: &Path) -> Result<Emulator, String> {
        let q = ShaNiQemu::at(repo);
        if q.is_complete() {
            return Ok(Emulator::ShaNi(q));
        }
        Err(format!(
            "the SHA-NI QEMU is missing ({}): {}; `cargo xtask fixtures` fetches it from \
             bookworm-backports",
            q.binary().display(),
            crate::linux::recorded_reason(&q.error_file)
        ))
    }

    fn command(&self) -> Command {
        match self {
            Emulator::System => Command::new(QEMU),
            Emulator::ShaNi(q) => q.command(),
        }
    }
}

/// The QEMU command line kexos boots with (shared by xtask and the harness).
pub fn qemu_command(
    emulator: &Emulator,
    image: &Path,
    fw: Firmware,
    mem: &str,
    console: Console,
    extra: &[String],
) -> Command {
    let mut cmd = emulator.command();
    machine(&mut cmd, mem);
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
    machine(&mut cmd, mem);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn qemu_exit_mapping() {
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
    fn mem_prealloc_reaches_both_command_lines() {
        let has = |c: &Command| c.get_args().any(|a| a == "-mem-prealloc");
        let p = Path::new("x");
        let kexos = || qemu_command(&Emulator::System, p, Firmware::Uefi, "512M", Console::Pipe, &[]);
        let linux = || qemu_linux_command(p, p, "console=ttyS0", "512M", &[]);
        assert!(!has(&kexos()) && !has(&linux()), "off by default (tests)");
        set_mem_prealloc(true);
        let (k, l) = (kexos(), linux());
        set_mem_prealloc(false);
        assert!(has(&k) && has(&l), "both sides of a comparison get it");
    }
}
