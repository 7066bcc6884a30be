//! System builtins: dmesg, uname, reboot, poweroff.
use super::{usage_error, Builtin};
use crate::shell::Shell;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use shellcore::opts::parse_short;
use ulib::abi::nr::{SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_SIZE_BUFFER};
use ulib::abi::reboot::{LINUX_REBOOT_CMD_POWER_OFF, LINUX_REBOOT_CMD_RESTART};
use ulib::abi::uts;
use ulib::{eprintln, sys};

pub const COMMANDS: &[Builtin] = &[
    Builtin {
        name: "dmesg",
        usage: "dmesg",
        help: "print the kernel log",
        run: dmesg,
    },
    Builtin {
        name: "uname",
        usage: "uname [-asnrvm]",
        help: "print system information",
        run: uname,
    },
    Builtin {
        name: "reboot",
        usage: "reboot",
        help: "restart the machine",
        run: reboot,
    },
    Builtin {
        name: "poweroff",
        usage: "poweroff",
        help: "power the machine off",
        run: poweroff,
    },
];

fn dmesg(sh: &mut Shell, _args: &[String]) -> i32 {
    let size = match sys::syslog_query(SYSLOG_ACTION_SIZE_BUFFER) {
        Ok(n) => n.max(1),
        Err(e) => {
            eprintln!("dmesg: {}", e.message());
            return 1;
        }
    };
    let mut buf = alloc::vec![0u8; size];
    let n = match sys::syslog(SYSLOG_ACTION_READ_ALL, &mut buf) {
        Ok(n) => n.min(buf.len()),
        Err(e) => {
            eprintln!("dmesg: {}", e.message());
            return 1;
        }
    };
    let mut out = sh.out();
    out.write_bytes(&buf[..n]);
    if n > 0 && buf[n - 1] != b'\n' {
        out.write_bytes(b"\n");
    }
    0
}

fn uname(sh: &mut Shell, args: &[String]) -> i32 {
    let (flags, extra) = match parse_short(&args[1..], "asnrvm") {
        Ok(v) => v,
        Err(e) => return usage_error("uname", e),
    };
    if let Some(x) = extra.first() {
        return usage_error("uname", format_args!("extra operand '{x}'"));
    }
    let u = match sys::uname() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("uname: {}", e.message());
            return 1;
        }
    };
    // Output order is fixed, as in coreutils: -s -n -r -v -m.
    let fields = [
        ('s', uts::SYSNAME),
        ('n', uts::NODENAME),
        ('r', uts::RELEASE),
        ('v', uts::VERSION),
        ('m', uts::MACHINE),
    ];
    let all = flags.has('a');
    let mut picked: Vec<&str> = fields
        .iter()
        .filter(|(c, _)| all || flags.has(*c))
        .map(|&(_, i)| u.field(i))
        .collect();
    if picked.is_empty() {
        picked.push(u.sysname());
    }
    let _ = writeln!(sh.out(), "{}", picked.join(" "));
    0
}

fn reboot(_sh: &mut Shell, _args: &[String]) -> i32 {
    do_reboot("reboot", LINUX_REBOOT_CMD_RESTART)
}

fn poweroff(_sh: &mut Shell, _args: &[String]) -> i32 {
    do_reboot("poweroff", LINUX_REBOOT_CMD_POWER_OFF)
}

fn do_reboot(name: &str, cmd: u32) -> i32 {
    match sys::reboot(cmd) {
        Ok(()) => eprintln!("{name}: the kernel returned"),
        Err(e) => eprintln!("{name}: {}", e.message()),
    }
    1
}
