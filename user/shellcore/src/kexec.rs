//! The `kexec` builtin's logic: kexec-tools compatible option parsing, the
//! command line handed to the next kernel, kexec_file_load(2) flags and the
//! exact messages. The bare-metal side (`init/src/builtins/kexec.rs`) only
//! opens files, reads sysfs and makes the syscalls.
//!
//! ```text
//! kexec [-s] -l IMAGE [--initrd=FILE] [--append=STR | --command-line=STR] [--reuse-cmdline] [-d] [--digest=xxh64]
//! kexec -p IMAGE ...         load a crash kernel (KEXEC_FILE_ON_CRASH)
//! kexec [-f] IMAGE ...       load, then execute at once
//! kexec -u [-p]              unload
//! kexec -e                   execute the loaded image
//! kexec -S|--status [-p]     is an image loaded (exit 0) or not (exit 1)
//! kexec --corrupt-segment=N  test only
//! ```

use crate::opts::{Arg, OptError, Parser};
use abi::kexec::{
    KEXEC_FILE_DEBUG, KEXEC_FILE_NO_INITRAMFS, KEXEC_FILE_ON_CRASH, KEXEC_FILE_UNLOAD, KEXEC_FILE_XXH64_DIGEST,
};
use abi::Errno;
use purgatory_abi::RegionHash;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The running kernel's command line (`--reuse-cmdline`).
pub const PROC_CMDLINE: &str = "/proc/cmdline";
/// "1\n" when a normal image is loaded, "0\n" otherwise.
pub const SYS_KEXEC_LOADED: &str = "/sys/kernel/kexec_loaded";
/// Same for the crash image (`-p`).
pub const SYS_KEXEC_CRASH_LOADED: &str = "/sys/kernel/kexec_crash_loaded";
/// The human reason of the last kexec_file_load failure (kexos extension).
pub const SYS_KEXEC_LAST_ERROR: &str = "/sys/kernel/kexec_last_error";
/// Test only (kernel booted with `kexec_test`): writing "N\n" flips a byte of
/// segment N of the loaded image after its digest was computed.
pub const SYS_KEXEC_TEST_CORRUPT: &str = "/sys/kernel/kexec_test_corrupt";

/// Synopsis for the builtin table (one line per form; `help` prints each).
pub const USAGE: &str =
    "kexec [-s] -l|-p IMAGE [--initrd=FILE] [--append=STR] [--reuse-cmdline] [-d] [--digest=xxh64]\n\
                         kexec -e | -u [-p] | -S [-p]";

/// Printed after a usage error.
pub const HINT: &str = "Try 'kexec --help' for more information.";

/// kexec-tools' message for `kexec -e` with nothing loaded.
pub const NOTHING_LOADED: &str = "kexec: Nothing has been loaded!";

/// `kexec --help`.
pub const HELP: &str = "\
Usage: kexec [OPTION]... [IMAGE]
Load a Linux bzImage with kexec_file_load(2) and boot into it.

 -l, --load IMAGE        load IMAGE to be run by 'kexec -e'
 -p, --load-panic IMAGE  load IMAGE as the crash kernel (KEXEC_FILE_ON_CRASH);
                         with -u or -S: act on the crash image
 -f, --force IMAGE       load IMAGE and execute it at once (also: no option)
 -e, --exec              execute the loaded image (reboot(LINUX_REBOOT_CMD_KEXEC))
 -u, --unload            unload the image (KEXEC_FILE_UNLOAD)
 -S, --status            exit 0 if an image is loaded, 1 if not
 -s, --kexec-file-syscall
                         use kexec_file_load(2) (the only way kexos loads; accepted)
 -d, --debug             KEXEC_FILE_DEBUG: the kernel logs the probe and segments
     --initrd=FILE       the initramfs (alias --ramdisk); without it
                         KEXEC_FILE_NO_INITRAMFS is passed
     --append=STR        the next kernel's command line (alias --command-line;
                         the last one wins)
     --reuse-cmdline     start from /proc/cmdline minus BOOT_IMAGE= (and
                         crashkernel= with -p); --append text is added after it
     --digest=NAME       what purgatory checks the segments with: sha256
                         (default, Linux's) or xxh64 (KEXEC_FILE_XXH64_DIGEST,
                         kexos only: finds corruption, not tampering, in a
                         small fraction of the time)
     --corrupt-segment=N TEST ONLY: flip a byte of loaded segment N after its
                         digest (kernel booted with kexec_test); purgatory must
                         then refuse to boot
 -h, --help              this text
Options take their value as --opt=VALUE or --opt VALUE.
";

/// What `kexec` was asked to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Action {
    /// `-l` / `-p`: load (kexec_file_load).
    #[default]
    Load,
    /// `-f` or an IMAGE without an action option: load, then execute.
    LoadExec,
    /// `-u`: kexec_file_load(-1, -1, 0, NULL, UNLOAD [| ON_CRASH]).
    Unload,
    /// `-e`: reboot(LINUX_REBOOT_CMD_KEXEC).
    Exec,
    /// `-S` / `--status`.
    Status,
    /// `--corrupt-segment=N` (test only).
    CorruptSegment(u32),
    /// `-h` / `--help`.
    Help,
}

/// A parsed `kexec` command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request<'a> {
    pub action: Action,
    /// `-p`: the crash image.
    pub crash: bool,
    pub image: Option<&'a str>,
    pub initrd: Option<&'a str>,
    /// `--append` / `--command-line` (the last one given).
    pub append: Option<&'a str>,
    pub reuse_cmdline: bool,
    /// `-d`.
    pub debug: bool,
    /// `--digest=NAME` (the last one given).
    pub digest: RegionHash,
}

/// A bad `kexec` command line (print `kexec: {self}` then [`HINT`]; status 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    Opt(OptError),
    /// A load without IMAGE.
    NoImage,
    /// Two actions, e.g. `-l` and `-e`.
    Conflict(&'static str, &'static str),
    /// A load-only option (`--initrd`, `--append`, ...) with another action.
    LoadOnly(&'static str),
    /// `--corrupt-segment` with something that is not a decimal number.
    BadSegment(String),
    /// `--digest` with neither `sha256` nor `xxh64`.
    BadDigest(String),
}

impl From<OptError> for UsageError {
    fn from(e: OptError) -> Self {
        UsageError::Opt(e)
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Opt(e) => e.fmt(f),
            UsageError::NoImage => f.write_str("no kernel image specified"),
            UsageError::Conflict(a, b) => write!(f, "options {a} and {b} cannot be combined"),
            UsageError::LoadOnly(o) => {
                write!(f, "option {o} is only valid when loading (-l or -p)")
            }
            UsageError::BadSegment(v) => write!(f, "invalid segment number '{v}'"),
            UsageError::BadDigest(v) => {
                write!(f, "unknown digest '{v}' (")?;
                for (i, h) in RegionHash::ALL.iter().enumerate() {
                    write!(f, "{}{}", if i == 0 { "" } else { " or " }, h.name())?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Parse `kexec`'s arguments (without argv\[0\]). Options and the IMAGE may
/// come in any order; `-h` returns [`Action::Help`] at once.
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Request<'_>, UsageError> {
    let mut p = Parser::new(args);
    let mut r = Request::default();
    // The action and the option that chose it (for conflict messages).
    let mut action: Option<(Action, &'static str)> = None;
    let mut crash_opt: Option<&'static str> = None;
    let mut load_opt: Option<&'static str> = None;
    fn set(
        action: &mut Option<(Action, &'static str)>,
        a: Action,
        name: &'static str,
    ) -> Result<(), UsageError> {
        match *action {
            Some((old, _)) if old == a => Ok(()),
            Some((_, old_name)) => Err(UsageError::Conflict(old_name, name)),
            None => {
                *action = Some((a, name));
                Ok(())
            }
        }
    }
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Short('h') | Arg::Long("help") => {
                return Ok(Request {
                    action: Action::Help,
                    ..Request::default()
                })
            }
            Arg::Short('l') | Arg::Long("load") => set(&mut action, Action::Load, "-l")?,
            Arg::Short('f') | Arg::Long("force") => set(&mut action, Action::LoadExec, "-f")?,
            Arg::Short('u') | Arg::Long("unload") => set(&mut action, Action::Unload, "-u")?,
            Arg::Short('e') | Arg::Long("exec") => set(&mut action, Action::Exec, "-e")?,
            Arg::Short('S') | Arg::Long("status") => set(&mut action, Action::Status, "-S")?,
            Arg::Long("corrupt-segment") => {
                let v = p.value()?;
                let n = parse_decimal(v).ok_or_else(|| UsageError::BadSegment(v.into()))?;
                set(&mut action, Action::CorruptSegment(n), "--corrupt-segment")?;
            }
            Arg::Short('p') | Arg::Long("load-panic") => {
                r.crash = true;
                crash_opt = Some("-p");
            }
            Arg::Short('s') | Arg::Long("kexec-file-syscall") => {}
            Arg::Short('d') | Arg::Long("debug") => r.debug = true,
            Arg::Long("initrd") | Arg::Long("ramdisk") => {
                r.initrd = Some(p.value()?);
                load_opt.get_or_insert("--initrd");
            }
            Arg::Long("append") | Arg::Long("command-line") => {
                r.append = Some(p.value()?);
                load_opt.get_or_insert("--append");
            }
            Arg::Long("reuse-cmdline") => {
                r.reuse_cmdline = true;
                load_opt.get_or_insert("--reuse-cmdline");
            }
            Arg::Long("digest") => {
                let v = p.value()?;
                r.digest = RegionHash::from_name(v).ok_or_else(|| UsageError::BadDigest(v.into()))?;
                load_opt.get_or_insert("--digest");
            }
            Arg::Value(v) if r.image.is_none() => r.image = Some(v),
            other => return Err(other.unexpected().into()),
        }
    }
    r.action = match action {
        Some((a, _)) => a,
        // `kexec -p IMAGE`: a crash load. `kexec IMAGE`: kexec-tools loads
        // and shuts down into it; kexos has no shutdown, so load and execute.
        None if r.crash => Action::Load,
        None if r.image.is_some() => Action::LoadExec,
        None => return Err(UsageError::NoImage),
    };
    let action_name = action.map_or("-f", |(_, n)| n);
    match r.action {
        Action::Load | Action::LoadExec => {
            if r.crash && r.action == Action::LoadExec {
                return Err(UsageError::Conflict("-p", action_name));
            }
            if r.image.is_none() {
                return Err(UsageError::NoImage);
            }
        }
        _ => {
            if let Some(img) = r.image {
                return Err(OptError::Extra(img.into()).into());
            }
            if let Some(o) = load_opt {
                return Err(UsageError::LoadOnly(o));
            }
            if let (Some(p), Action::Exec | Action::CorruptSegment(_)) = (crash_opt, r.action) {
                return Err(UsageError::Conflict(p, action_name));
            }
        }
    }
    Ok(r)
}

fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Request<'_> {
    /// The kexec_file_load(2) flags for this request: loads get
    /// `NO_INITRAMFS` without `--initrd`, `-u` gets `UNLOAD`, `-p` adds
    /// `ON_CRASH`, `-d` adds `DEBUG`, `--digest=xxh64` adds `XXH64_DIGEST`.
    /// 0 for actions that make no such call.
    pub fn flags(&self) -> u64 {
        let mut f = match self.action {
            Action::Load | Action::LoadExec if self.initrd.is_none() => KEXEC_FILE_NO_INITRAMFS,
            Action::Load | Action::LoadExec => 0,
            Action::Unload => KEXEC_FILE_UNLOAD,
            _ => return 0,
        };
        if self.crash {
            f |= KEXEC_FILE_ON_CRASH;
        }
        if self.debug {
            f |= KEXEC_FILE_DEBUG;
        }
        if self.digest == RegionHash::Xxh64 {
            f |= KEXEC_FILE_XXH64_DIGEST;
        }
        f
    }

    /// The command line for the next kernel, `None` when no command-line
    /// option was given (then the call passes cmdline_len 0 and NULL).
    /// `proc_cmdline` is the raw text of [`PROC_CMDLINE`], read by the caller
    /// only when `reuse_cmdline` is set.
    pub fn cmdline(&self, proc_cmdline: Option<&str>) -> Option<String> {
        let reused = match (self.reuse_cmdline, proc_cmdline) {
            (true, Some(t)) => Some(reused_cmdline(t, self.crash)),
            (true, None) => Some(String::new()),
            (false, _) => None,
        };
        compose_cmdline(reused.as_deref(), self.append)
    }

    /// [`Request::cmdline`] as the syscall wants it: NUL-terminated, so
    /// cmdline_len = `.len()` = text length + 1.
    pub fn cmdline_arg(&self, proc_cmdline: Option<&str>) -> Option<Vec<u8>> {
        self.cmdline(proc_cmdline).map(|s| nul_terminated(&s))
    }

    /// The sysfs file naming what purgatory checks the (crash) image with.
    pub fn digest_file(&self) -> &'static str {
        if self.crash {
            abi::kexec::SYS_KEXEC_CRASH_DIGEST
        } else {
            abi::kexec::SYS_KEXEC_DIGEST
        }
    }

    /// The sysfs file telling whether the (crash) image is loaded.
    pub fn loaded_file(&self) -> &'static str {
        if self.crash {
            SYS_KEXEC_CRASH_LOADED
        } else {
            SYS_KEXEC_LOADED
        }
    }
}

/// Split a kernel command line into words the way lib/cmdline.c `next_arg`
/// does: blanks separate words except inside double quotes.
pub fn cmdline_words(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    core::iter::from_fn(move || {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if rest.is_empty() {
            return None;
        }
        let mut quoted = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                !quoted && c.is_ascii_whitespace()
            })
            .map_or(rest.len(), |(i, _)| i);
        let (w, r) = rest.split_at(end);
        rest = r;
        Some(w)
    })
}

/// A parameter's name: the word up to `=`, without a leading `"`.
fn param_key(word: &str) -> &str {
    let w = word.strip_prefix('"').unwrap_or(word);
    w.split_once('=')
        .map_or(w, |(k, _)| k)
        .trim_end_matches('"')
}

/// `/proc/cmdline` text as `--reuse-cmdline` uses it: without its trailing
/// newline, without `BOOT_IMAGE=...` (set by boot loaders) and, for a crash
/// kernel, without `crashkernel=...`. Words are re-joined with one space.
pub fn reused_cmdline(proc_cmdline: &str, crash: bool) -> String {
    let mut out = String::new();
    for w in cmdline_words(proc_cmdline.trim_end_matches(['\n', '\0'])) {
        let key = param_key(w);
        if key == "BOOT_IMAGE" || (crash && key == "crashkernel") {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// kexec-tools `concat_cmdline`: the reused line, a space, the appended text
/// (no space when either is empty). `None` when neither was given.
pub fn compose_cmdline(reused: Option<&str>, append: Option<&str>) -> Option<String> {
    match (reused, append) {
        (None, None) => None,
        (Some(s), None) | (None, Some(s)) => Some(s.into()),
        (Some(""), Some(a)) => Some(a.into()),
        (Some(r), Some("")) => Some(r.into()),
        (Some(r), Some(a)) => Some(format!("{r} {a}")),
    }
}

/// `s` followed by its NUL terminator (kexec_file_load's cmdline_len counts it).
pub fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

/// The text of a kexos reason file ([`SYS_KEXEC_LAST_ERROR`]) without its
/// trailing newline; `None` when it says nothing.
pub fn clean_reason(raw: &str) -> Option<&str> {
    let r = raw.trim_end_matches(['\n', '\r', '\0', ' ', '\t']);
    (!r.is_empty()).then_some(r)
}

/// `kexec_file_load failed: ENOEXEC (Exec format error)[: <reason>]`.
pub fn load_error(e: Errno, reason: Option<&str>) -> String {
    let mut s = format!("kexec_file_load failed: {} ({})", e.name(), e.message());
    if let Some(r) = reason.and_then(clean_reason) {
        s.push_str(": ");
        s.push_str(r);
    }
    s
}

/// `kexec: reboot(LINUX_REBOOT_CMD_KEXEC) failed: EINVAL (Invalid argument)`.
pub fn reboot_error(e: Errno) -> String {
    format!(
        "kexec: reboot(LINUX_REBOOT_CMD_KEXEC) failed: {} ({})",
        e.name(),
        e.message()
    )
}

/// `kexec: /sys/kernel/kexec_test_corrupt: No such file or directory`, plus a
/// hint when the file is missing (the kernel was not booted with kexec_test).
pub fn corrupt_error(e: Errno, opening: bool) -> String {
    let mut s = if opening {
        format!("kexec: {SYS_KEXEC_TEST_CORRUPT}: {}", e.message())
    } else {
        format!(
            "kexec: --corrupt-segment failed: {} ({})",
            e.name(),
            e.message()
        )
    };
    if opening && e == Errno::ENOENT {
        s.push_str(" (boot the kernel with kexec_test)");
    }
    s
}

/// What to write to [`SYS_KEXEC_TEST_CORRUPT`] for `--corrupt-segment=N`.
pub fn corrupt_payload(segment: u32) -> String {
    format!("{segment}\n")
}

/// Parse a `kexec_loaded` file: `Some(true)` for a non-zero number.
pub fn parse_loaded(text: &str) -> Option<bool> {
    text.trim().parse::<u64>().ok().map(|v| v != 0)
}

/// The `--status` line of a loaded image, with what purgatory checks it
/// with (the text of [`Request::digest_file`], if it names a function).
pub fn status_line(crash: bool, digest_text: Option<&str>) -> String {
    let base = status_message(true, crash);
    match digest_text.and_then(|t| RegionHash::from_name(t.trim())) {
        Some(h) => format!("{base} (purgatory checks it with {})", h.name()),
        None => String::from(base),
    }
}

/// The `--status` line.
pub fn status_message(loaded: bool, crash: bool) -> &'static str {
    match (loaded, crash) {
        (true, false) => "kexec: an image is loaded",
        (false, false) => "kexec: no image is loaded",
        (true, true) => "kexec: a crash image is loaded",
        (false, true) => "kexec: no crash image is loaded",
    }
}

/// `NO_INITRAMFS|DEBUG` (`0` for none; unknown bits in hex).
pub fn flag_names(flags: u64) -> String {
    const NAMES: [(u64, &str); 5] = [
        (KEXEC_FILE_UNLOAD, "UNLOAD"),
        (KEXEC_FILE_ON_CRASH, "ON_CRASH"),
        (KEXEC_FILE_NO_INITRAMFS, "NO_INITRAMFS"),
        (KEXEC_FILE_DEBUG, "DEBUG"),
        (KEXEC_FILE_XXH64_DIGEST, "XXH64_DIGEST"),
    ];
    let mut parts: Vec<String> = NAMES
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| String::from(*n))
        .collect();
    let known = NAMES.iter().fold(0, |a, (b, _)| a | b);
    if flags & !known != 0 {
        parts.push(format!("{:#x}", flags & !known));
    }
    if parts.is_empty() {
        return "0".into();
    }
    parts.join("|")
}

/// The `-d` trace of the call, e.g.
/// `kexec_file_load(kernel_fd=3, initrd_fd=-1, cmdline_len=6, cmdline="quiet", flags=0xc NO_INITRAMFS|DEBUG)`.
pub fn debug_call(kernel_fd: i32, initrd_fd: i32, cmdline: Option<&[u8]>, flags: u64) -> String {
    let (len, text) = match cmdline {
        Some(c) => {
            let t = String::from_utf8_lossy(c.strip_suffix(&[0]).unwrap_or(c));
            (c.len(), format!("{t:?}"))
        }
        None => (0, String::from("NULL")),
    };
    format!(
        "kexec_file_load(kernel_fd={kernel_fd}, initrd_fd={initrd_fd}, cmdline_len={len}, \
         cmdline={text}, flags={flags:#x} {})",
        flag_names(flags)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use alloc::string::ToString;

    /// Parse a whole shell line (`kexec ...`) through the shell tokenizer.
    fn line(l: &str) -> Vec<String> {
        let c = parse(l).unwrap().unwrap();
        assert_eq!(c.argv[0], "kexec");
        c.argv[1..].to_vec()
    }

    fn req(l: &str) -> Request<'static> {
        let argv: &'static [String] = Vec::leak(line(l));
        parse_args(argv).unwrap()
    }

    fn err(l: &str) -> String {
        parse_args(&line(l)).unwrap_err().to_string()
    }

    #[test]
    fn load_full() {
        let r = req("kexec -s -l /boot/vmlinuz --initrd=/boot/initrd.img --append=\"console=ttyS0 token=abc\" -d");
        assert_eq!(
            r,
            Request {
                action: Action::Load,
                crash: false,
                image: Some("/boot/vmlinuz"),
                initrd: Some("/boot/initrd.img"),
                append: Some("console=ttyS0 token=abc"),
                reuse_cmdline: false,
                debug: true,
                digest: RegionHash::Sha256,
            }
        );
        assert_eq!(r.flags(), KEXEC_FILE_DEBUG);
        assert_eq!(r.cmdline(None).as_deref(), Some("console=ttyS0 token=abc"));
    }

    #[test]
    fn value_forms_and_quoting() {
        for l in [
            "kexec -l K --initrd I --append 'a b  c'",
            "kexec -l K --initrd=I --append=\"a b  c\"",
            "kexec --append \"a b  c\" --ramdisk=I -l K",
            "kexec K -l --command-line='a b  c' --initrd I",
            "kexec -sl K --initrd=I --append=a\\ b\\ \\ c",
        ] {
            let r = req(l);
            assert_eq!(r.action, Action::Load, "{l}");
            assert_eq!(r.image, Some("K"), "{l}");
            assert_eq!(r.initrd, Some("I"), "{l}");
            assert_eq!(r.append, Some("a b  c"), "{l}");
        }
        // A value that looks like an option is still the value.
        assert_eq!(req("kexec -l K --append -x").append, Some("-x"));
        // `--` ends the options: an image named like an option.
        assert_eq!(req("kexec -l -- -weird").image, Some("-weird"));
        // Empty append is a command line of its own (a lone NUL).
        let r = req("kexec -l K --append=");
        assert_eq!(r.cmdline_arg(None), Some(vec![0]));
    }

    #[test]
    fn append_and_command_line_last_wins() {
        assert_eq!(
            req("kexec -l K --append=a --command-line=b").append,
            Some("b")
        );
        assert_eq!(
            req("kexec -l K --command-line=b --append a").append,
            Some("a")
        );
        assert_eq!(req("kexec -l K --initrd=x --initrd=y").initrd, Some("y"));
    }

    #[test]
    fn flags() {
        let f = |l: &str| req(l).flags();
        assert_eq!(f("kexec -l K"), KEXEC_FILE_NO_INITRAMFS);
        assert_eq!(f("kexec -s -l K --initrd=I"), 0);
        assert_eq!(
            f("kexec -l K -d"),
            KEXEC_FILE_NO_INITRAMFS | KEXEC_FILE_DEBUG
        );
        assert_eq!(
            f("kexec -p K"),
            KEXEC_FILE_ON_CRASH | KEXEC_FILE_NO_INITRAMFS
        );
        assert_eq!(f("kexec -l -p K --initrd I"), KEXEC_FILE_ON_CRASH);
        assert_eq!(f("kexec -u"), KEXEC_FILE_UNLOAD);
        assert_eq!(f("kexec -u -p"), KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH);
        assert_eq!(f("kexec -p -u"), KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH);
        assert_eq!(f("kexec -ud"), KEXEC_FILE_UNLOAD | KEXEC_FILE_DEBUG);
        assert_eq!(f("kexec K"), KEXEC_FILE_NO_INITRAMFS);
        assert_eq!(f("kexec -e"), 0);
        assert_eq!(f("kexec --status"), 0);
        assert_eq!(f("kexec -l K --digest=xxh64"), KEXEC_FILE_NO_INITRAMFS | KEXEC_FILE_XXH64_DIGEST);
        assert_eq!(f("kexec -p K --initrd=I --digest xxh64"), KEXEC_FILE_ON_CRASH | KEXEC_FILE_XXH64_DIGEST);
        assert_eq!(f("kexec -l K --digest=xxh64 --digest=sha256"), KEXEC_FILE_NO_INITRAMFS, "the last one wins");
        assert_eq!(parse_args(&["-l", "K", "--digest=md5"]), Err(UsageError::BadDigest("md5".into())));
        assert_eq!(parse_args(&["-u", "--digest=xxh64"]), Err(UsageError::LoadOnly("--digest")));
        assert_eq!(UsageError::BadDigest("md5".into()).to_string(), "unknown digest 'md5' (sha256 or xxh64)");
    }

    #[test]
    fn actions() {
        assert_eq!(req("kexec -e").action, Action::Exec);
        assert_eq!(req("kexec --exec").action, Action::Exec);
        assert_eq!(req("kexec -u").action, Action::Unload);
        assert_eq!(req("kexec --unload -s").action, Action::Unload);
        assert_eq!(req("kexec -S").action, Action::Status);
        let r = req("kexec --status -p");
        assert_eq!((r.action, r.crash), (Action::Status, true));
        assert_eq!(r.loaded_file(), SYS_KEXEC_CRASH_LOADED);
        assert_eq!(req("kexec -S").loaded_file(), SYS_KEXEC_LOADED);
        let r = req("kexec -p K --initrd=I");
        assert_eq!(
            (r.action, r.crash, r.image),
            (Action::Load, true, Some("K"))
        );
        assert_eq!(req("kexec --load-panic K").action, Action::Load);
        assert_eq!(req("kexec K").action, Action::LoadExec);
        assert_eq!(req("kexec -f K --initrd=I").action, Action::LoadExec);
        assert_eq!(req("kexec -l -l K").action, Action::Load);
        assert_eq!(
            req("kexec --corrupt-segment=3").action,
            Action::CorruptSegment(3)
        );
        assert_eq!(
            req("kexec --corrupt-segment 0").action,
            Action::CorruptSegment(0)
        );
        // -h wins, even over bad options after it.
        assert_eq!(req("kexec -h").action, Action::Help);
        assert_eq!(req("kexec -l K --help --bogus").action, Action::Help);
    }

    #[test]
    fn usage_errors() {
        assert_eq!(err("kexec"), "no kernel image specified");
        assert_eq!(err("kexec -l"), "no kernel image specified");
        assert_eq!(err("kexec -p --initrd=I"), "no kernel image specified");
        assert_eq!(err("kexec -d"), "no kernel image specified");
        assert_eq!(err("kexec -l K L"), "extra operand 'L'");
        assert_eq!(err("kexec -e K"), "extra operand 'K'");
        assert_eq!(err("kexec -l K -e"), "options -l and -e cannot be combined");
        assert_eq!(err("kexec -u -S"), "options -u and -S cannot be combined");
        assert_eq!(err("kexec -p -e"), "options -p and -e cannot be combined");
        assert_eq!(err("kexec -p -f K"), "options -p and -f cannot be combined");
        assert_eq!(
            err("kexec -e --append=x"),
            "option --append is only valid when loading (-l or -p)"
        );
        assert_eq!(
            err("kexec -u --initrd x"),
            "option --initrd is only valid when loading (-l or -p)"
        );
        assert_eq!(
            err("kexec -S --reuse-cmdline"),
            "option --reuse-cmdline is only valid when loading (-l or -p)"
        );
        assert_eq!(err("kexec -x"), "invalid option -- 'x'");
        assert_eq!(err("kexec --bogus"), "unrecognized option '--bogus'");
        assert_eq!(
            err("kexec -l K --initrd"),
            "option '--initrd' requires an argument"
        );
        assert_eq!(
            err("kexec -l K --append"),
            "option '--append' requires an argument"
        );
        assert_eq!(
            err("kexec -e --exec=1"),
            "option '--exec' doesn't allow an argument"
        );
        assert_eq!(
            err("kexec --corrupt-segment=x"),
            "invalid segment number 'x'"
        );
        assert_eq!(
            err("kexec --corrupt-segment=-1"),
            "invalid segment number '-1'"
        );
        assert_eq!(err("kexec --corrupt-segment="), "invalid segment number ''");
        assert_eq!(
            err("kexec --corrupt-segment"),
            "option '--corrupt-segment' requires an argument"
        );
        assert_eq!(
            err("kexec -p --corrupt-segment=1"),
            "options -p and --corrupt-segment cannot be combined"
        );
    }

    #[test]
    fn words_follow_next_arg() {
        let w: Vec<&str> = cmdline_words("  a b=\"x y\"  \"c d\"\te\n").collect();
        assert_eq!(w, vec!["a", "b=\"x y\"", "\"c d\"", "e"]);
        assert_eq!(cmdline_words("   ").count(), 0);
        assert_eq!(param_key("BOOT_IMAGE=/vmlinuz"), "BOOT_IMAGE");
        assert_eq!(param_key("\"crashkernel=1 2\""), "crashkernel");
        assert_eq!(param_key("quiet"), "quiet");
    }

    #[test]
    fn reuse_cmdline_filters() {
        let proc = "BOOT_IMAGE=/boot/vmlinuz-6.1 root=/dev/vda1 crashkernel=256M  console=ttyS0\n";
        assert_eq!(
            reused_cmdline(proc, false),
            "root=/dev/vda1 crashkernel=256M console=ttyS0"
        );
        assert_eq!(reused_cmdline(proc, true), "root=/dev/vda1 console=ttyS0");
        // Only whole parameter names match; quotes and init args survive.
        assert_eq!(
            reused_cmdline("BOOT_IMAGEX=1 xBOOT_IMAGE=2 a=\"q r\" -- BOOT", false),
            "BOOT_IMAGEX=1 xBOOT_IMAGE=2 a=\"q r\" -- BOOT"
        );
        assert_eq!(reused_cmdline("BOOT_IMAGE=/k\n", false), "");
        assert_eq!(reused_cmdline("", true), "");
        assert_eq!(
            reused_cmdline("crashkernel=1G,high crashkernel=72M,low x", true),
            "x"
        );
    }

    #[test]
    fn cmdline_composition() {
        assert_eq!(compose_cmdline(None, None), None);
        assert_eq!(compose_cmdline(Some("a b"), None).as_deref(), Some("a b"));
        assert_eq!(compose_cmdline(None, Some("x")).as_deref(), Some("x"));
        assert_eq!(
            compose_cmdline(Some("a b"), Some("x y")).as_deref(),
            Some("a b x y")
        );
        assert_eq!(compose_cmdline(Some(""), Some("x")).as_deref(), Some("x"));
        assert_eq!(compose_cmdline(Some("a"), Some("")).as_deref(), Some("a"));

        let proc = Some("BOOT_IMAGE=/k root=/dev/vda crashkernel=128M\n");
        let r = req("kexec -l K --reuse-cmdline --append=\"tok=42 quiet\"");
        assert_eq!(
            r.cmdline(proc).as_deref(),
            Some("root=/dev/vda crashkernel=128M tok=42 quiet")
        );
        let r = req("kexec -p K --reuse-cmdline --append=irqpoll");
        assert_eq!(r.cmdline(proc).as_deref(), Some("root=/dev/vda irqpoll"));
        let r = req("kexec -l K --reuse-cmdline");
        assert_eq!(
            r.cmdline(proc).as_deref(),
            Some("root=/dev/vda crashkernel=128M")
        );
        // No command-line option: no command line at all (len 0, NULL).
        let r = req("kexec -l K");
        assert_eq!(r.cmdline(proc), None);
        assert_eq!(r.cmdline_arg(proc), None);
    }

    #[test]
    fn nul_termination_and_length() {
        let r = req("kexec -l K --append=\"console=ttyS0 x\"");
        let arg = r.cmdline_arg(None).unwrap();
        assert_eq!(arg, b"console=ttyS0 x\0");
        assert_eq!(arg.len(), "console=ttyS0 x".len() + 1);
        assert_eq!(arg.last(), Some(&0));
        assert_eq!(arg.iter().filter(|&&b| b == 0).count(), 1);
        assert_eq!(nul_terminated(""), vec![0]);
        assert_eq!(nul_terminated("é").len(), 3);
    }

    #[test]
    fn messages() {
        assert_eq!(
            load_error(
                Errno::ENOEXEC,
                Some("no loader accepts /boot/x: bzImage64: bad boot_flag 0x0000\n")
            ),
            "kexec_file_load failed: ENOEXEC (Exec format error): no loader accepts /boot/x: bzImage64: bad boot_flag 0x0000"
        );
        assert_eq!(
            load_error(Errno::EPERM, None),
            "kexec_file_load failed: EPERM (Operation not permitted)"
        );
        assert_eq!(
            load_error(Errno::EPERM, Some("\n")),
            "kexec_file_load failed: EPERM (Operation not permitted)"
        );
        assert_eq!(clean_reason("x\r\n\n"), Some("x"));
        assert_eq!(clean_reason(""), None);
        assert_eq!(
            reboot_error(Errno::EINVAL),
            "kexec: reboot(LINUX_REBOOT_CMD_KEXEC) failed: EINVAL (Invalid argument)"
        );
        assert_eq!(
            corrupt_error(Errno::ENOENT, true),
            "kexec: /sys/kernel/kexec_test_corrupt: No such file or directory (boot the kernel with kexec_test)"
        );
        assert_eq!(
            corrupt_error(Errno::EINVAL, false),
            "kexec: --corrupt-segment failed: EINVAL (Invalid argument)"
        );
        assert_eq!(corrupt_payload(2), "2\n");
        assert_eq!(parse_loaded("1\n"), Some(true));
        assert_eq!(parse_loaded("0\n"), Some(false));
        assert_eq!(parse_loaded("junk"), None);
        assert_eq!(status_message(true, false), "kexec: an image is loaded");
        assert_eq!(status_line(false, Some("xxh64\n")), "kexec: an image is loaded (purgatory checks it with xxh64)");
        assert_eq!(status_line(true, Some("sha256\n")), "kexec: a crash image is loaded (purgatory checks it with sha256)");
        assert_eq!(status_line(false, None), "kexec: an image is loaded", "an older kernel without the file");
        assert_eq!(status_line(false, Some("")), "kexec: an image is loaded");
        assert_eq!(status_message(false, false), "kexec: no image is loaded");
        assert_eq!(status_message(true, true), "kexec: a crash image is loaded");
        assert_eq!(
            status_message(false, true),
            "kexec: no crash image is loaded"
        );
        assert!(HELP.contains("--corrupt-segment=N TEST ONLY"));
        assert!(USAGE.lines().all(|l| l.starts_with("kexec ")));
    }

    #[test]
    fn debug_trace() {
        assert_eq!(flag_names(0), "0");
        assert_eq!(flag_names(0xc), "NO_INITRAMFS|DEBUG");
        assert_eq!(flag_names(0x3), "UNLOAD|ON_CRASH");
        assert_eq!(flag_names(0x14), "NO_INITRAMFS|0x10");
        assert_eq!(flag_names(0x8000_0004), "NO_INITRAMFS|XXH64_DIGEST");
        assert_eq!(
            debug_call(3, -1, Some(b"a \"b\"\0"), 0xc),
            "kexec_file_load(kernel_fd=3, initrd_fd=-1, cmdline_len=6, cmdline=\"a \\\"b\\\"\", flags=0xc NO_INITRAMFS|DEBUG)"
        );
        assert_eq!(
            debug_call(3, 4, None, 0x8),
            "kexec_file_load(kernel_fd=3, initrd_fd=4, cmdline_len=0, cmdline=NULL, flags=0x8 DEBUG)"
        );
    }
}
