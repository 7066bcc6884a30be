//! `kexec`: load a kernel with kexec_file_load(2) and boot into it.
//!
//! Option parsing, the command line and every message live in
//! `shellcore::kexec` (host-tested); this file opens files, reads sysfs and
//! makes the syscalls.
use super::Builtin;
use crate::shell::{read_file, Shell};
use alloc::string::String;
use core::fmt::Write;
use shellcore::kexec::{
    clean_reason, corrupt_error, corrupt_payload, debug_call, load_error, parse_args, parse_loaded,
    reboot_error, status_line, status_message, Action, Request, HELP, HINT, NOTHING_LOADED, PROC_CMDLINE,
    SYS_KEXEC_LAST_ERROR, SYS_KEXEC_LOADED, SYS_KEXEC_TEST_CORRUPT, USAGE,
};
use ulib::abi::fs::{O_RDONLY, O_WRONLY};
use ulib::abi::reboot::LINUX_REBOOT_CMD_KEXEC;
use ulib::{eprintln, sys};

pub const COMMANDS: &[Builtin] = &[Builtin {
    name: "kexec",
    usage: USAGE,
    help: "load a kernel and boot into it (kexec -h for options)",
    run: kexec,
}];

fn kexec(sh: &mut Shell, args: &[String]) -> i32 {
    let req = match parse_args(&args[1..]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kexec: {e}");
            eprintln!("{HINT}");
            return 2;
        }
    };
    match req.action {
        Action::Help => {
            let _ = sh.out().write_str(HELP);
            0
        }
        Action::Load => load(sh, &req),
        Action::LoadExec => match load(sh, &req) {
            0 => exec(),
            s => s,
        },
        Action::Unload => {
            if req.debug {
                eprintln!("kexec: {}", debug_call(-1, -1, None, req.flags()));
            }
            let r = sys::kexec_file_load(-1, -1, None, req.flags());
            report_load(r, req.debug)
        }
        Action::Exec => exec(),
        Action::Status => status(sh, &req),
        Action::CorruptSegment(n) => corrupt(n),
    }
}

fn load(sh: &mut Shell, req: &Request) -> i32 {
    let Some(image) = req.image else {
        return 2; // parse_args never returns a load without an image
    };
    let proc_cmdline = if req.reuse_cmdline {
        match read_file(PROC_CMDLINE) {
            Ok(t) => Some(t),
            Err(e) => return sh.fail("kexec", PROC_CMDLINE, e),
        }
    } else {
        None
    };
    let cmdline = req.cmdline_arg(proc_cmdline.as_deref());
    let kernel_fd = match sys::open(image, O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(e) => return sh.fail("kexec", image, e),
    };
    let initrd_fd = match req.initrd.map(|p| (p, sys::open(p, O_RDONLY, 0))) {
        None => -1,
        Some((_, Ok(fd))) => fd,
        Some((p, Err(e))) => {
            let _ = sys::close(kernel_fd);
            return sh.fail("kexec", p, e);
        }
    };
    let flags = req.flags();
    if req.debug {
        eprintln!(
            "kexec: {}",
            debug_call(kernel_fd, initrd_fd, cmdline.as_deref(), flags)
        );
    }
    let r = sys::kexec_file_load(kernel_fd, initrd_fd, cmdline.as_deref(), flags);
    let _ = sys::close(kernel_fd);
    if initrd_fd >= 0 {
        let _ = sys::close(initrd_fd);
    }
    report_load(r, req.debug)
}

/// Print a failed kexec_file_load with the kernel's reason, if it gave one.
fn report_load(r: sys::SysResult<()>, debug: bool) -> i32 {
    match r {
        Ok(()) => {
            if debug {
                eprintln!("kexec: kexec_file_load succeeded");
            }
            0
        }
        Err(e) => {
            let reason = read_file(SYS_KEXEC_LAST_ERROR).ok();
            eprintln!(
                "{}",
                load_error(e, reason.as_deref().and_then(clean_reason))
            );
            1
        }
    }
}

fn exec() -> i32 {
    // kexec-tools refuses before rebooting; a kernel without the file still
    // answers reboot(LINUX_REBOOT_CMD_KEXEC) with EINVAL when nothing is loaded.
    if read_file(SYS_KEXEC_LOADED)
        .ok()
        .and_then(|t| parse_loaded(&t))
        == Some(false)
    {
        eprintln!("{NOTHING_LOADED}");
        return 1;
    }
    // Builtins write through `FdWriter`s that flush when dropped and the
    // print macros write at once: nothing of ours is still buffered here.
    match sys::reboot(LINUX_REBOOT_CMD_KEXEC) {
        Ok(()) => eprintln!("kexec: reboot(LINUX_REBOOT_CMD_KEXEC) returned"),
        Err(e) => eprintln!("{}", reboot_error(e)),
    }
    1
}

fn status(sh: &mut Shell, req: &Request) -> i32 {
    let path = req.loaded_file();
    let text = match read_file(path) {
        Ok(t) => t,
        Err(e) => return sh.fail("kexec", path, e),
    };
    let loaded = parse_loaded(&text).unwrap_or(false);
    let line = if loaded {
        status_line(req.crash, read_file(req.digest_file()).ok().as_deref())
    } else {
        String::from(status_message(false, req.crash))
    };
    let _ = writeln!(sh.out(), "{}", line);
    if loaded {
        0
    } else {
        1
    }
}

fn corrupt(segment: u32) -> i32 {
    let fd = match sys::open(SYS_KEXEC_TEST_CORRUPT, O_WRONLY, 0) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("{}", corrupt_error(e, true));
            return 1;
        }
    };
    let r = sys::write_all(fd, corrupt_payload(segment).as_bytes());
    let _ = sys::close(fd);
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}", corrupt_error(e, false));
            1
        }
    }
}
