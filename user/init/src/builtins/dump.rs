//! Crash-dump tools: crash, hexdump, grep, dd. They stream their input in
//! large reads, so they work on a /proc/vmcore of hundreds of MiB; the
//! formatting and matching logic is in shellcore (`hexdump`, `grep`, `dd`).
use super::{usage_error, Builtin};
use crate::shell::Shell;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use shellcore::dd::{self, Stats};
use shellcore::grep::{output_line, Hit, Mode, Searcher};
use shellcore::hexdump::{self, HexDump};
use shellcore::num::human;
use shellcore::opts::parse_short;
use ulib::abi::fs::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, SEEK_SET, S_IFMT, S_IFREG};
use ulib::abi::nr::CLOCK_MONOTONIC;
use ulib::io::STDIN;
use ulib::{eprint, eprintln, sys, Errno};

/// The size of each read (hexdump, grep).
const CHUNK: usize = 256 * 1024;
/// Buffered output is written out past this size.
const OUT_FLUSH: usize = 64 * 1024;
/// Writing "c" here crashes the kernel (Linux's sysrq 'c').
const SYSRQ_TRIGGER: &str = "/proc/sysrq-trigger";

pub const COMMANDS: &[Builtin] = &[
    Builtin {
        name: "crash",
        usage: "crash",
        help: "crash the kernel on purpose (echo c > /proc/sysrq-trigger)",
        run: crash,
    },
    Builtin {
        name: "hexdump",
        usage: "hexdump [-C] [-s OFFSET] [-n LENGTH] FILE",
        help: "show a file in hex and ASCII (hexdump -C)",
        run: hexdump,
    },
    Builtin {
        name: "grep",
        usage: "grep [-F] [-a] [-c] [-b] [-o] [-q] PATTERN [FILE...]",
        help: "find a fixed string (lines; -c count, -o -b offsets, -q status)",
        run: grep,
    },
    Builtin {
        name: "dd",
        usage: "dd if=FILE [of=FILE] [bs=N] [count=N] [skip=N]",
        help: "copy blocks and report the throughput",
        run: dd,
    },
];

fn crash(sh: &mut Shell, args: &[String]) -> i32 {
    if let Some(x) = args.get(1) {
        return usage_error("crash", format_args!("extra operand '{x}'"));
    }
    let fd = match sys::open(SYSRQ_TRIGGER, O_WRONLY, 0) {
        Ok(fd) => fd,
        Err(e) => return sh.fail("crash", SYSRQ_TRIGGER, e),
    };
    let res = sys::write(fd, b"c");
    let _ = sys::close(fd);
    match res {
        Ok(_) => eprintln!("crash: the kernel did not crash"),
        Err(e) => eprintln!("crash: {SYSRQ_TRIGGER}: {}", e.message()),
    }
    1
}

/// read(2), retried on EINTR.
fn read_some(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match sys::read(fd, buf) {
            Err(Errno::EINTR) => {}
            r => return r,
        }
    }
}

/// Write out and clear `out`.
fn flush(fd: i32, out: &mut Vec<u8>) -> Result<(), Errno> {
    let r = sys::write_all(fd, out);
    out.clear();
    r
}

/// Open `path` for reading; `None` or `-` is standard input (not to be closed).
fn open_input(path: Option<&str>) -> Result<i32, Errno> {
    match path {
        None | Some("-") => Ok(STDIN),
        Some(p) => sys::open(p, O_RDONLY, 0),
    }
}

fn close_input(fd: i32) {
    if fd != STDIN {
        let _ = sys::close(fd);
    }
}

/// Monotonic nanoseconds (0 if the clock fails).
fn now_ns() -> u64 {
    sys::clock_gettime(CLOCK_MONOTONIC).map_or(0, |t| t.sec as u64 * 1_000_000_000 + t.nsec as u64)
}

/// The size of a regular file that reports one (/proc files may say 0).
fn regular_size(fd: i32) -> Option<u64> {
    let st = sys::fstat(fd).ok()?;
    (st.st_mode & S_IFMT == S_IFREG && st.st_size > 0).then_some(st.st_size as u64)
}

/// Move the input to `off`: lseek, or read and discard when the input
/// cannot seek. Returns the offset reached.
fn skip_input(fd: i32, off: u64) -> Result<u64, Errno> {
    if off == 0 {
        return Ok(0);
    }
    match sys::lseek(fd, i64::try_from(off).map_err(|_| Errno::EINVAL)?, SEEK_SET) {
        Err(Errno::ESPIPE) => {}
        r => return r,
    }
    let mut buf = alloc::vec![0u8; CHUNK];
    let mut done = 0;
    while done < off {
        let want = (off - done).min(CHUNK as u64) as usize;
        match read_some(fd, &mut buf[..want])? {
            0 => break,
            n => done += n as u64,
        }
    }
    Ok(done)
}

fn hexdump(sh: &mut Shell, args: &[String]) -> i32 {
    let a = match hexdump::parse_args(&args[1..]) {
        Ok(a) => a,
        Err(e) => return usage_error("hexdump", e),
    };
    if a.length == Some(0) {
        return 0;
    }
    let name = a.file.as_deref().unwrap_or("-");
    let fd = match open_input(a.file.as_deref()) {
        Ok(fd) => fd,
        Err(e) => return sh.fail("hexdump", name, e),
    };
    let status = hexdump_fd(sh, fd, name, a.skip, a.length);
    close_input(fd);
    status
}

fn hexdump_fd(sh: &Shell, fd: i32, name: &str, skip: u64, length: Option<u64>) -> i32 {
    let mut out = Vec::with_capacity(OUT_FLUSH + 128);
    // Like util-linux: skipping a whole regular file prints its size.
    if let Some(size) = regular_size(fd).filter(|&s| skip >= s) {
        hexdump::offset_line(size, &mut out);
        return flush(sh.stdout, &mut out).map_or(1, |_| 0);
    }
    let start = match skip_input(fd, skip) {
        Ok(s) => s,
        Err(e) => return sh.fail("hexdump", name, e),
    };
    let mut h = HexDump::new(start);
    let mut buf = alloc::vec![0u8; CHUNK];
    let mut left = length.unwrap_or(u64::MAX);
    let mut status = 0;
    while left > 0 {
        let want = left.min(CHUNK as u64) as usize;
        let n = match read_some(fd, &mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                status = sh.fail("hexdump", name, e);
                break;
            }
        };
        left -= n as u64;
        h.feed(&buf[..n], &mut out);
        if out.len() >= OUT_FLUSH && flush(sh.stdout, &mut out).is_err() {
            return 1;
        }
    }
    h.finish(&mut out);
    if flush(sh.stdout, &mut out).is_err() {
        return 1;
    }
    status
}

/// grep's exit status: 0 found, 1 not found, 2 error.
fn grep(sh: &mut Shell, args: &[String]) -> i32 {
    let (flags, ops) = match parse_short(&args[1..], "Facboq") {
        Ok(v) => v,
        Err(e) => return usage_error("grep", e),
    };
    let Some((pat, files)) = ops.split_first() else {
        return usage_error("grep", "missing pattern");
    };
    let mode = match (flags.has('q'), flags.has('c'), flags.has('o')) {
        (true, _, _) => Mode::Quiet,
        (_, true, _) => Mode::Count,
        (_, _, true) => Mode::Only,
        _ => Mode::Lines,
    };
    let files: &[&str] = if files.is_empty() { &["-"] } else { files };
    let (mut found, mut error) = (false, false);
    for f in files {
        let label = (files.len() > 1).then_some(*f);
        match grep_file(sh, f, pat.as_bytes(), mode, label, flags.has('b')) {
            Ok(true) if mode == Mode::Quiet => return 0,
            Ok(hit) => found |= hit,
            Err(()) => error = true,
        }
    }
    if error {
        2
    } else if found {
        0
    } else {
        1
    }
}

/// Search one file; `Ok(found)`, or `Err` after printing the error.
fn grep_file(
    sh: &Shell,
    path: &str,
    pat: &[u8],
    mode: Mode,
    label: Option<&str>,
    offsets: bool,
) -> Result<bool, ()> {
    let name = if path == "-" {
        "(standard input)"
    } else {
        path
    };
    let fd = open_input(Some(path)).map_err(|e| {
        sh.fail("grep", name, e);
    })?;
    let res = grep_fd(sh, fd, name, Searcher::new(pat, mode), pat, label, offsets);
    close_input(fd);
    res
}

fn grep_fd(
    sh: &Shell,
    fd: i32,
    name: &str,
    mut s: Searcher,
    pat: &[u8],
    label: Option<&str>,
    offsets: bool,
) -> Result<bool, ()> {
    let mut out = Vec::with_capacity(OUT_FLUSH + 4096);
    let emit_into = |out: &mut Vec<u8>, h: Hit<'_>| match h {
        Hit::Line { offset, text } => output_line(label, offsets.then_some(offset), text, out),
        Hit::Match { offset } => output_line(label, offsets.then_some(offset), pat, out),
    };
    let mut buf = alloc::vec![0u8; CHUNK];
    let mut res = Ok(());
    loop {
        let n = match read_some(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                res = Err(sh.fail("grep", name, e));
                break;
            }
        };
        if !s.feed(&buf[..n], &mut |h| emit_into(&mut out, h)) {
            return Ok(true); // -q: found
        }
        if out.len() >= OUT_FLUSH {
            let _ = flush(sh.stdout, &mut out);
        }
    }
    s.finish(&mut |h| emit_into(&mut out, h));
    if s.mode() == Mode::Count {
        output_line(
            label,
            None,
            s.matched_lines().to_string().as_bytes(),
            &mut out,
        );
    }
    let _ = flush(sh.stdout, &mut out);
    res.map(|_| s.found()).map_err(drop)
}

/// Where dd writes (of=/dev/null is the kernel's /dev/null, as in Linux).
struct Sink {
    fd: i32,
    close: bool,
}

fn dd(sh: &mut Shell, args: &[String]) -> i32 {
    let a = match dd::parse_args(&args[1..]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("dd: {e}");
            return 1;
        }
    };
    let iname = a.input.as_deref().unwrap_or("standard input");
    let ifd = match open_input(a.input.as_deref()) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("dd: failed to open '{iname}': {}", e.message());
            return 1;
        }
    };
    let status = dd_from(sh, &a, ifd, iname);
    close_input(ifd);
    status
}

fn dd_from(sh: &Shell, a: &dd::Args, ifd: i32, iname: &str) -> i32 {
    if dd_skip(a, ifd, iname).is_err() {
        return 1;
    }
    let oname = a.output.as_deref().unwrap_or("standard output");
    let sink = match a.output.as_deref() {
        None => Sink {
            fd: sh.stdout,
            close: false,
        },
        Some(p) => match sys::open(p, O_WRONLY | O_CREAT | O_TRUNC, 0o644) {
            Ok(fd) => Sink { fd, close: true },
            Err(e) => {
                eprintln!("dd: failed to open '{p}': {}", e.message());
                return 1;
            }
        },
    };
    let status = match block_buffer(a.bs) {
        Some(mut buf) => {
            let t0 = now_ns();
            let (stats, status) = dd_copy(a, ifd, iname, &sink, oname, &mut buf);
            eprint!("{}", stats.report(now_ns().saturating_sub(t0)));
            status
        }
        None => {
            eprintln!(
                "dd: memory exhausted by input buffer of size {} bytes ({})",
                a.bs,
                human(a.bs, 1024)
            );
            1
        }
    };
    if let Sink { fd, close: true } = sink {
        let _ = sys::close(fd);
    }
    status
}

/// `skip=N`: seek (or read past) N blocks; warns like coreutils when a
/// regular file is shorter.
fn dd_skip(a: &dd::Args, ifd: i32, iname: &str) -> Result<(), ()> {
    if a.skip == 0 {
        return Ok(());
    }
    let off = a.skip_bytes().unwrap_or(u64::MAX);
    if let Err(e) = skip_input(ifd, off) {
        eprintln!("dd: {iname}: cannot skip: {}", e.message());
        return Err(());
    }
    if regular_size(ifd).is_some_and(|size| off > size) {
        eprintln!("dd: {iname}: cannot skip to specified offset");
    }
    Ok(())
}

/// The `bs`-byte buffer, or `None` if it cannot be allocated.
fn block_buffer(bs: u64) -> Option<Vec<u8>> {
    let bs = usize::try_from(bs).ok()?;
    let mut v = Vec::new();
    v.try_reserve_exact(bs).ok()?;
    v.resize(bs, 0);
    Some(v)
}

/// The copy loop: one read of `bs` per record, written as read.
fn dd_copy(
    a: &dd::Args,
    ifd: i32,
    iname: &str,
    sink: &Sink,
    oname: &str,
    buf: &mut [u8],
) -> (Stats, i32) {
    let mut st = Stats::default();
    while a.count.is_none_or(|c| st.full_in + st.partial_in < c) {
        let n = match read_some(ifd, buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                eprintln!("dd: error reading '{iname}': {}", e.message());
                return (st, 1);
            }
        };
        st.read(n as u64, a.bs);
        if let Err(e) = sys::write_all(sink.fd, &buf[..n]) {
            eprintln!("dd: error writing '{oname}': {}", e.message());
            return (st, 1);
        }
        st.wrote(n as u64, a.bs);
    }
    (st, 0)
}
