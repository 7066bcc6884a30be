//! File-system builtins: ls, cat, cd, pwd, mkdir, rm, stat.
use super::{usage_error, Builtin};
use crate::shell::Shell;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use shellcore::fmt::{is_dir, join, ls_long, stat_text};
use shellcore::opts::parse_short;
use ulib::abi::fs::{dirents, Stat, O_DIRECTORY, O_RDONLY};
use ulib::{eprintln, sys, Errno};

pub const COMMANDS: &[Builtin] = &[
    Builtin {
        name: "ls",
        usage: "ls [-l] [-a] [PATH...]",
        help: "list directory contents",
        run: ls,
    },
    Builtin {
        name: "cat",
        usage: "cat FILE...",
        help: "print files",
        run: cat,
    },
    Builtin {
        name: "cd",
        usage: "cd [DIR]",
        help: "change the current directory (default /)",
        run: cd,
    },
    Builtin {
        name: "pwd",
        usage: "pwd",
        help: "print the current directory",
        run: pwd,
    },
    Builtin {
        name: "mkdir",
        usage: "mkdir [-p] DIR...",
        help: "create directories",
        run: mkdir,
    },
    Builtin {
        name: "rm",
        usage: "rm [-f] FILE...",
        help: "remove files",
        run: rm,
    },
    Builtin {
        name: "stat",
        usage: "stat FILE...",
        help: "show file metadata",
        run: stat,
    },
];

fn ls(sh: &mut Shell, args: &[String]) -> i32 {
    let (flags, mut paths) = match parse_short(&args[1..], "la1") {
        Ok(v) => v,
        Err(e) => return usage_error("ls", e),
    };
    let (long, all) = (flags.has('l'), flags.has('a'));
    if paths.is_empty() {
        paths.push(".");
    }
    let mut status = 0;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for p in &paths {
        match sys::stat(p) {
            Ok(st) if is_dir(st.st_mode) => dirs.push(*p),
            Ok(st) => files.push((String::from(*p), st)),
            Err(e) => status = sh.fail("ls", p, e).max(2),
        }
    }
    // Operands that are files first, as one listing, then each directory.
    let mut printed = !files.is_empty();
    print_entries(sh, &files, long);
    let headers = paths.len() > 1;
    for d in dirs {
        if printed {
            let _ = sh.out().write_str("\n");
        }
        if headers {
            let _ = writeln!(sh.out(), "{d}:");
        }
        printed = true;
        if let Err((what, e)) = list_dir(sh, d, long, all) {
            status = status.max(sh.fail("ls", &what, e));
        }
    }
    status
}

/// The sorted entries of a directory (with `.`/`..` when `all`).
fn read_dir(path: &str, all: bool) -> Result<Vec<String>, Errno> {
    let fd = sys::open(path, O_RDONLY | O_DIRECTORY, 0)?;
    let mut names = Vec::new();
    let mut buf = alloc::vec![0u8; 4096];
    let res = loop {
        match sys::getdents64(fd, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                for d in dirents(&buf[..n]) {
                    names.push(String::from_utf8_lossy(d.name).into_owned());
                }
            }
            Err(e) => break Err(e),
        }
    };
    let _ = sys::close(fd);
    res?;
    if all {
        for dot in ["..", "."] {
            if !names.iter().any(|n| n == dot) {
                names.insert(0, String::from(dot));
            }
        }
    } else {
        names.retain(|n| !n.starts_with('.'));
    }
    names.sort_unstable();
    Ok(names)
}

fn list_dir(sh: &mut Shell, path: &str, long: bool, all: bool) -> Result<(), (String, Errno)> {
    let names = read_dir(path, all).map_err(|e| (String::from(path), e))?;
    if !long {
        let mut out = sh.out();
        for n in &names {
            let _ = writeln!(out, "{n}");
        }
        return Ok(());
    }
    let mut entries = Vec::with_capacity(names.len());
    for n in names {
        let full = join(path, &n);
        match sys::stat(&full) {
            Ok(st) => entries.push((n, st)),
            Err(e) => {
                sh.fail("ls", &full, e);
            }
        }
    }
    print_entries(sh, &entries, true);
    Ok(())
}

fn print_entries(sh: &Shell, entries: &[(String, Stat)], long: bool) {
    let mut out = sh.out();
    if long {
        for l in ls_long(entries) {
            let _ = writeln!(out, "{l}");
        }
    } else {
        for (n, _) in entries {
            let _ = writeln!(out, "{n}");
        }
    }
}

fn cat(sh: &mut Shell, args: &[String]) -> i32 {
    if args.len() < 2 {
        eprintln!("cat: missing operand");
        return 1;
    }
    let mut status = 0;
    let mut buf = alloc::vec![0u8; 4096];
    for path in &args[1..] {
        let fd = match sys::open(path, O_RDONLY, 0) {
            Ok(fd) => fd,
            Err(e) => {
                status = sh.fail("cat", path, e);
                continue;
            }
        };
        loop {
            match sys::read(fd, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Err(e) = sys::write_all(sh.stdout, &buf[..n]) {
                        status = sh.fail("cat", "write error", e);
                        break;
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => {
                    status = sh.fail("cat", path, e);
                    break;
                }
            }
        }
        let _ = sys::close(fd);
    }
    status
}

fn cd(sh: &mut Shell, args: &[String]) -> i32 {
    if args.len() > 2 {
        eprintln!("cd: too many arguments");
        return 1;
    }
    let dir = args.get(1).map_or("/", String::as_str);
    match sys::chdir(dir) {
        Ok(()) => 0,
        Err(e) => sh.fail("cd", dir, e),
    }
}

fn pwd(sh: &mut Shell, _args: &[String]) -> i32 {
    match sys::getcwd() {
        Ok(cwd) => {
            let _ = writeln!(sh.out(), "{cwd}");
            0
        }
        Err(e) => {
            eprintln!("pwd: {}", e.message());
            1
        }
    }
}

fn mkdir(sh: &mut Shell, args: &[String]) -> i32 {
    let (flags, dirs) = match parse_short(&args[1..], "p") {
        Ok(v) => v,
        Err(e) => return usage_error("mkdir", e),
    };
    if dirs.is_empty() {
        eprintln!("mkdir: missing operand");
        return 1;
    }
    let mut status = 0;
    for d in dirs {
        let res = if flags.has('p') {
            mkdir_parents(d)
        } else {
            sys::mkdir(d, 0o755)
        };
        if let Err(e) = res {
            status = sh.fail("mkdir", d, e);
        }
    }
    status
}

/// `mkdir -p`: create every missing component; existing directories are fine.
fn mkdir_parents(path: &str) -> Result<(), Errno> {
    let mut end = 0;
    while end < path.len() {
        end = path[end + 1..]
            .find('/')
            .map_or(path.len(), |i| end + 1 + i);
        let prefix = &path[..end];
        if prefix.is_empty() || prefix.ends_with('/') {
            continue;
        }
        match sys::mkdir(prefix, 0o755) {
            Ok(()) => {}
            Err(Errno::EEXIST) => match sys::stat(prefix) {
                Ok(st) if is_dir(st.st_mode) => {}
                Ok(_) => return Err(Errno::ENOTDIR),
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn rm(sh: &mut Shell, args: &[String]) -> i32 {
    let (flags, files) = match parse_short(&args[1..], "f") {
        Ok(v) => v,
        Err(e) => return usage_error("rm", e),
    };
    let force = flags.has('f');
    if files.is_empty() && !force {
        eprintln!("rm: missing operand");
        return 1;
    }
    let mut status = 0;
    for f in files {
        match sys::unlink(f) {
            Ok(()) => {}
            Err(Errno::ENOENT) if force => {}
            Err(e) => status = sh.fail("rm", f, e),
        }
    }
    status
}

fn stat(sh: &mut Shell, args: &[String]) -> i32 {
    if args.len() < 2 {
        eprintln!("stat: missing operand");
        return 1;
    }
    let mut status = 0;
    for p in &args[1..] {
        match sys::stat(p) {
            Ok(st) => {
                let _ = sh.out().write_str(&stat_text(p, &st));
            }
            Err(e) => status = sh.fail("stat", p, e),
        }
    }
    status
}
