//! The builtin command table. Each family lives in its own module and
//! exports `COMMANDS`; add a family by adding it to [`TABLES`].
use crate::shell::Shell;
use alloc::string::String;

mod basic;
mod dump;
mod fs;
mod kexec;
mod sys;

/// One builtin command.
pub struct Builtin {
    pub name: &'static str,
    /// Synopsis shown by `help`, e.g. `ls [-l] [-a] [PATH...]`; several
    /// forms are separated by newlines.
    pub usage: &'static str,
    /// One-line description shown by `help`.
    pub help: &'static str,
    /// Runs with the full argv (`args[0]` is the name); returns the exit status.
    pub run: fn(&mut Shell, &[String]) -> i32,
}

/// Every builtin family, in `help` order.
pub const TABLES: &[&[Builtin]] = &[
    basic::COMMANDS,
    fs::COMMANDS,
    sys::COMMANDS,
    kexec::COMMANDS,
    dump::COMMANDS,
];

pub fn all() -> impl Iterator<Item = &'static Builtin> {
    TABLES.iter().flat_map(|t| t.iter())
}

pub fn find(name: &str) -> Option<&'static Builtin> {
    all().find(|b| b.name == name)
}

/// Report a bad option like coreutils (`ls: invalid option -- 'x'`); status 2.
pub fn usage_error(name: &str, e: impl core::fmt::Display) -> i32 {
    let b = find(name);
    ulib::eprintln!("{name}: {e}");
    if let Some(b) = b {
        for (i, form) in b.usage.lines().enumerate() {
            ulib::eprintln!("{} {form}", if i == 0 { "usage:" } else { "      " });
        }
    }
    2
}
