//! Process and machine calls: getpid, execve, exit, uname, syslog, clock_gettime, reboot.

use abi::reboot::*;
use abi::{nr, uts, Errno};

use super::SysResult;
use crate::proc::{self, with_current};

pub fn sys_getpid() -> SysResult {
    Ok(with_current(|p| p.pid) as u64)
}

pub fn sys_exit(status: u64) -> SysResult {
    proc::exit_current(status as i32)
}

pub fn sys_execve(path: u64, argv: u64, _envp: u64) -> SysResult {
    let (path, argv) = with_current(|p| -> Result<_, Errno> {
        let path = p.space.read_cstr(path, abi::fs::PATH_MAX - 1)?;
        let argv = p.space.read_argv(argv)?;
        Ok((vfs::path::normalize(&p.cwd, &path)?, argv))
    })?;
    Err(proc::exec(path, argv))
}

pub fn sys_uname(buf: u64) -> SysResult {
    let release = concat!(env!("CARGO_PKG_VERSION"), "-kexos");
    let version = if cfg!(debug_assertions) { "#1 kexos debug build" } else { "#1 kexos release build" };
    let u = uts::utsname(["kexos", "kexos", release, version, "x86_64", "(none)"]);
    with_current(|p| p.space.copy_to_user(buf, &u))?;
    Ok(0)
}

/// syslog(2) as `dmesg` uses it: READ_ALL copies the log, SIZE_BUFFER sizes it.
pub fn sys_syslog(action: u64, buf: u64, len: u64) -> SysResult {
    match action {
        nr::SYSLOG_ACTION_READ_ALL => {
            let len = len as i64;
            if len < 0 {
                return Err(Errno::EINVAL);
            }
            let mut tmp = alloc::vec![0u8; (len as usize).min(crate::klog::CAPACITY)];
            with_current(|p| p.space.check_user(buf, tmp.len(), true))?;
            let n = crate::klog::read_all(&mut tmp);
            with_current(|p| p.space.copy_to_user(buf, &tmp[..n]))?;
            Ok(n as u64)
        }
        nr::SYSLOG_ACTION_SIZE_BUFFER => Ok(crate::klog::CAPACITY as u64),
        0 | 1 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_clock_gettime(clock: u64, tp: u64) -> SysResult {
    match clock {
        nr::CLOCK_REALTIME | nr::CLOCK_MONOTONIC | nr::CLOCK_BOOTTIME => {}
        _ => return Err(Errno::EINVAL),
    }
    let ns = crate::time::now_ns();
    let mut ts = [0u8; 16];
    ts[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    ts[8..].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    with_current(|p| p.space.copy_to_user(tp, &ts))?;
    Ok(0)
}

/// reboot(2) (kernel/reboot.c): both magic numbers are checked first.
pub fn sys_reboot(magic1: u64, magic2: u64, cmd: u64, _arg: u64) -> SysResult {
    let magic2_ok = [LINUX_REBOOT_MAGIC2, LINUX_REBOOT_MAGIC2A, LINUX_REBOOT_MAGIC2B, LINUX_REBOOT_MAGIC2C].contains(&(magic2 as u32));
    if magic1 as u32 != LINUX_REBOOT_MAGIC1 || !magic2_ok {
        return Err(Errno::EINVAL);
    }
    const CAD_ON: u32 = 0x89ab_cdef;
    const CAD_OFF: u32 = 0;
    match cmd as u32 {
        LINUX_REBOOT_CMD_RESTART => {
            info!("kexos: restart");
            crate::arch::qemu::reset()
        }
        LINUX_REBOOT_CMD_POWER_OFF | LINUX_REBOOT_CMD_HALT => {
            info!("kexos: power off");
            crate::arch::qemu::exit(crate::arch::qemu::ExitCode::Success)
        }
        // Returns only on failure (EINVAL: nothing loaded; EBUSY).
        LINUX_REBOOT_CMD_KEXEC => Err(crate::kexec::kernel_kexec()),
        CAD_ON | CAD_OFF => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
