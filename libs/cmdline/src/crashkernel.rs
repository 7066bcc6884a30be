//! `crashkernel=`: how much memory to reserve for a crash (kdump) kernel,
//! and where (kernel/crash_reserve.c `parse_crashkernel`).
//!
//! # Syntaxes
//! * `crashkernel=SIZE[@OFFSET]`: SIZE bytes, at OFFSET if given (sizes are
//!   [`memparse`](crate::memparse) numbers: `0x` hex, leading-`0` octal,
//!   suffixes `K M G T P E`);
//! * `crashkernel=START-[END]:SIZE[,START-[END]:SIZE...][@OFFSET]`: the
//!   first entry whose range holds the amount of System RAM applies
//!   (`START <= ram < END`, a missing END is unbounded). Like Linux, the RAM
//!   amount is first rounded up to 128 MiB (firmware keeps a little, so a
//!   "512M" machine has slightly less; `512M-:64M` must still match it);
//! * `crashkernel=SIZE,high`: SIZE bytes anywhere (not only below 4 GiB).
//!
//! # Which one counts (Linux's `get_last_crashkernel`)
//! The LAST plain `crashkernel=` (one not ending in `,high`, `,low` or
//! `,cma`) wins. Only if there is none does the last `crashkernel=...,high`
//! apply; the last `crashkernel=...,low` is then checked for syntax (an
//! invalid one is an error, as in Linux) but its size is not returned:
//! kexos does not reserve a second, low region. `,cma` entries are ignored.
//! A `,low` without a `,high` is an error (Linux: EINVAL, no reservation).
//!
//! # Differences from Linux
//! * The whole value is checked: every range entry (also those after the one
//!   that applies) and anything after the size or offset. Linux stops at the
//!   matching entry and skips any text up to `@`.
//! * A range entry's size is checked against RAM only for the entry that
//!   applies (Linux also rejects an earlier, non-matching entry whose size is
//!   at least the RAM).
//! * `@0` means "no offset" (as in Linux, where a zero base means "choose"):
//!   [`CrashkernelRequest::offset`] is then `None`.

use alloc::string::{String, ToString};
use core::fmt;

use crate::memparse::{memparse, MemparseError};
use crate::params::params;

/// What `crashkernel=` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashkernelRequest {
    /// Bytes to reserve (non-zero, smaller than System RAM).
    pub size: u64,
    /// A fixed physical base (`@OFFSET`, non-zero), else `None`: choose.
    pub offset: Option<u64>,
    /// `,high`: may be placed above 4 GiB.
    pub high: bool,
}

/// Why a `crashkernel=` value is rejected. Every variant is EINVAL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrashkernelError {
    /// `crashkernel=` with nothing after the `=`.
    Empty,
    /// No size where one is expected; `text` is what is there instead.
    BadSize { text: String },
    /// A size or offset does not fit in 64 bits.
    Overflow { text: String },
    /// No number after `@`; `text` is what follows the `@`.
    BadOffset { text: String },
    /// Unexpected text after the size or offset.
    TrailingGarbage { text: String },
    /// `,something` that is not `,high` (or `,low`/`,cma`).
    UnknownSuffix { suffix: String },
    /// `@OFFSET` together with `,high`/`,low` (`text`: the whole value).
    OffsetWithSuffix { text: String },
    /// The range syntax together with `,high`/`,low` (`text`: the whole value).
    RangesWithSuffix { text: String },
    /// A malformed `START-[END]:SIZE` entry.
    BadRange {
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The size is not smaller than System RAM.
    TooLarge { size: u64, system_ram: u64 },
    /// `crashkernel=...,low` without any `crashkernel=...,high`.
    LowWithoutHigh,
}

impl CrashkernelError {
    /// The errno (Linux's parse_crashkernel returns -EINVAL for all of them).
    pub fn errno(&self) -> abi::Errno {
        abi::Errno::EINVAL
    }
}

impl fmt::Display for CrashkernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("crashkernel: ")?;
        match self {
            CrashkernelError::Empty => f.write_str("empty value"),
            CrashkernelError::BadSize { text } => write!(f, "expected a size at \"{text}\""),
            CrashkernelError::Overflow { text } => {
                write!(f, "\"{text}\" does not fit in 64 bits")
            }
            CrashkernelError::BadOffset { text } => {
                write!(f, "expected an offset after '@' at \"{text}\"")
            }
            CrashkernelError::TrailingGarbage { text } => write!(f, "unexpected \"{text}\""),
            CrashkernelError::UnknownSuffix { suffix } => {
                write!(
                    f,
                    "unknown suffix \"{suffix}\" (expected \",high\" or \",low\")"
                )
            }
            CrashkernelError::OffsetWithSuffix { text } => {
                write!(
                    f,
                    "\"{text}\": @offset cannot be combined with ,high or ,low"
                )
            }
            CrashkernelError::RangesWithSuffix { text } => write!(
                f,
                "\"{text}\": the range syntax cannot be combined with ,high or ,low"
            ),
            CrashkernelError::BadRange { entry, reason } => {
                write!(f, "bad range entry \"{entry}\": {reason}")
            }
            CrashkernelError::TooLarge { size, system_ram } => write!(
                f,
                "size {size:#x} is not smaller than System RAM ({system_ram:#x} bytes)"
            ),
            CrashkernelError::LowWithoutHigh => {
                f.write_str("crashkernel=...,low given without crashkernel=...,high")
            }
        }
    }
}

/// Linux rounds the RAM amount up to this before matching ranges.
const RANGE_RAM_ROUND: u64 = 128 << 20;

/// Which family a `crashkernel=` value belongs to, by how it ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Plain,
    High,
    Low,
    Cma,
}

fn family(value: &str) -> Family {
    if value.ends_with(",high") {
        Family::High
    } else if value.ends_with(",low") {
        Family::Low
    } else if value.ends_with(",cma") {
        Family::Cma
    } else {
        Family::Plain
    }
}

/// Parse the `crashkernel=` that applies on `cmdline` for a machine with
/// `system_ram` bytes of System RAM (see the module docs for the rules).
/// `Ok(None)`: no `crashkernel=`, no range matches, or the size is 0.
pub fn parse_crashkernel(
    cmdline: &str,
    system_ram: u64,
) -> Result<Option<CrashkernelRequest>, CrashkernelError> {
    let mut plain = None;
    let mut high = None;
    let mut low = None;
    for p in params(cmdline).filter(|p| p.key == "crashkernel") {
        // A bare `crashkernel` is not a `crashkernel=` (Linux looks for the `=`).
        let Some(value) = p.value else { continue };
        match family(value) {
            Family::Plain => plain = Some(value),
            Family::High => high = Some(value),
            Family::Low => low = Some(value),
            Family::Cma => {}
        }
    }
    let req = if let Some(v) = plain {
        parse_plain(v, system_ram)?
    } else if let Some(v) = high {
        let size = parse_suffixed(v, ",high")?;
        if let Some(l) = low {
            parse_suffixed(l, ",low")?;
        }
        Some(CrashkernelRequest {
            size,
            offset: None,
            high: true,
        })
    } else if low.is_some() {
        return Err(CrashkernelError::LowWithoutHigh);
    } else {
        None
    };
    match req {
        Some(r) if r.size == 0 => Ok(None),
        Some(r) if r.size >= system_ram => Err(CrashkernelError::TooLarge {
            size: r.size,
            system_ram,
        }),
        r => Ok(r),
    }
}

/// memparse with the errors named after the text.
fn size(text: &str) -> Result<(u64, &str), CrashkernelError> {
    memparse(text).map_err(|e| match e {
        MemparseError::Overflow => CrashkernelError::Overflow {
            text: text.to_string(),
        },
        _ => CrashkernelError::BadSize {
            text: text.to_string(),
        },
    })
}

/// `@OFFSET` (the text after the `@`), which must end the value.
fn offset(text: &str) -> Result<Option<u64>, CrashkernelError> {
    let (off, rest) = memparse(text).map_err(|e| match e {
        MemparseError::Overflow => CrashkernelError::Overflow {
            text: text.to_string(),
        },
        _ => CrashkernelError::BadOffset {
            text: text.to_string(),
        },
    })?;
    if !rest.is_empty() {
        return Err(CrashkernelError::TrailingGarbage {
            text: rest.to_string(),
        });
    }
    Ok((off != 0).then_some(off))
}

/// `SIZE[@OFFSET]` or the range list.
fn parse_plain(v: &str, system_ram: u64) -> Result<Option<CrashkernelRequest>, CrashkernelError> {
    if v.is_empty() {
        return Err(CrashkernelError::Empty);
    }
    if v.contains(':') {
        return parse_ranges(v, system_ram);
    }
    let (sz, rest) = size(v)?;
    let (off, rest) = match rest.strip_prefix('@') {
        Some(o) => match o.find(',') {
            // `64M@16M,high`-like is classified by its ending; `64M@16M,x` lands here.
            Some(comma) => (offset(&o[..comma])?, &o[comma..]),
            None => (offset(o)?, ""),
        },
        None => (None, rest),
    };
    if let Some(suffix) = rest.strip_prefix(',') {
        let name = suffix.split('@').next().unwrap_or("");
        let known = matches!(name, "high" | "low" | "cma");
        if known && (off.is_some() || suffix.contains('@')) {
            return Err(CrashkernelError::OffsetWithSuffix {
                text: v.to_string(),
            });
        }
        return Err(CrashkernelError::UnknownSuffix {
            suffix: rest.to_string(),
        });
    }
    if !rest.is_empty() {
        return Err(CrashkernelError::TrailingGarbage {
            text: rest.to_string(),
        });
    }
    Ok(Some(CrashkernelRequest {
        size: sz,
        offset: off,
        high: false,
    }))
}

/// `SIZE,high` / `SIZE,low`: the size.
fn parse_suffixed(v: &str, suffix: &str) -> Result<u64, CrashkernelError> {
    let body = v.strip_suffix(suffix).unwrap_or(v);
    if body.contains(':') {
        return Err(CrashkernelError::RangesWithSuffix {
            text: v.to_string(),
        });
    }
    if body.contains('@') && !body.starts_with('@') {
        return Err(CrashkernelError::OffsetWithSuffix {
            text: v.to_string(),
        });
    }
    let (sz, rest) = size(body)?;
    if !rest.is_empty() {
        return Err(CrashkernelError::TrailingGarbage {
            text: rest.to_string(),
        });
    }
    Ok(sz)
}

/// `START-[END]:SIZE[,...][@OFFSET]`.
fn parse_ranges(v: &str, system_ram: u64) -> Result<Option<CrashkernelRequest>, CrashkernelError> {
    let (list, off) = match v.split_once('@') {
        Some((list, o)) => (list, offset(o)?),
        None => (v, None),
    };
    let total = system_ram
        .div_ceil(RANGE_RAM_ROUND)
        .saturating_mul(RANGE_RAM_ROUND);
    let mut chosen = None;
    for entry in list.split(',') {
        let (start, end, sz) = parse_range_entry(entry)?;
        if chosen.is_none() && start <= total && end.is_none_or(|e| total < e) {
            chosen = Some(sz);
        }
    }
    Ok(chosen.map(|size| CrashkernelRequest {
        size,
        offset: off,
        high: false,
    }))
}

/// One `START-[END]:SIZE`.
fn parse_range_entry(entry: &str) -> Result<(u64, Option<u64>, u64), CrashkernelError> {
    let bad = |reason| CrashkernelError::BadRange {
        entry: entry.to_string(),
        reason,
    };
    if entry.is_empty() {
        return Err(bad("empty entry"));
    }
    fn number<'t>(
        text: &'t str,
        entry: &str,
        reason: &'static str,
    ) -> Result<(u64, &'t str), CrashkernelError> {
        memparse(text).map_err(|e| match e {
            MemparseError::Overflow => CrashkernelError::Overflow {
                text: text.to_string(),
            },
            _ => CrashkernelError::BadRange {
                entry: entry.to_string(),
                reason,
            },
        })
    }
    let (start, rest) = number(entry, entry, "expected a start size")?;
    let rest = rest
        .strip_prefix('-')
        .ok_or_else(|| bad("expected '-' after the start"))?;
    let (end, rest) = if rest.starts_with(':') {
        (None, rest)
    } else {
        let (end, rest) = number(rest, entry, "expected an end size or ':' after '-'")?;
        if end <= start {
            return Err(bad("the end is not above the start"));
        }
        (Some(end), rest)
    };
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| bad("expected ':' after the range"))?;
    let (sz, rest) = number(rest, entry, "expected a size after ':'")?;
    if !rest.is_empty() {
        return Err(bad("unexpected text after the size"));
    }
    Ok((start, end, sz))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1 << 20;
    const G: u64 = 1 << 30;
    /// Slightly under 512 MiB, like QEMU -m 512 after firmware's share.
    const RAM: u64 = 512 * M - 0x60400;

    fn req(size: u64, offset: Option<u64>, high: bool) -> Option<CrashkernelRequest> {
        Some(CrashkernelRequest { size, offset, high })
    }

    fn p(cmdline: &str) -> Result<Option<CrashkernelRequest>, CrashkernelError> {
        parse_crashkernel(cmdline, RAM)
    }

    #[test]
    fn absent() {
        assert_eq!(p(""), Ok(None));
        assert_eq!(p("console=ttyS0 quiet"), Ok(None));
        assert_eq!(p("crashkernel"), Ok(None), "bare word is not crashkernel=");
        assert_eq!(p("xcrashkernel=64M"), Ok(None));
        assert_eq!(p("-- crashkernel=64M"), Ok(None), "init argument");
        assert_eq!(p("crashkernel=64M,cma"), Ok(None));
    }

    #[test]
    fn sizes_and_suffixes() {
        assert_eq!(p("crashkernel=64M"), Ok(req(64 * M, None, false)));
        assert_eq!(p("crashkernel=64m"), Ok(req(64 * M, None, false)));
        assert_eq!(p("crashkernel=65536K"), Ok(req(64 * M, None, false)));
        assert_eq!(p("crashkernel=0x4000000"), Ok(req(64 * M, None, false)));
        assert_eq!(p("crashkernel=4096"), Ok(req(4096, None, false)));
        assert_eq!(
            parse_crashkernel("crashkernel=1G", 4 * G),
            Ok(req(G, None, false))
        );
        assert_eq!(
            parse_crashkernel("crashkernel=1T", 1 << 50),
            Ok(req(1 << 40, None, false))
        );
        assert_eq!(
            parse_crashkernel("crashkernel=1P", u64::MAX),
            Ok(req(1 << 50, None, false))
        );
        assert_eq!(
            parse_crashkernel("crashkernel=1E", u64::MAX),
            Ok(req(1 << 60, None, false))
        );
        assert_eq!(
            p("quiet crashkernel=\"128M\" console=ttyS0"),
            Ok(req(128 * M, None, false)),
            "quotes"
        );
        assert_eq!(p("crashkernel=0"), Ok(None), "size 0");
        assert_eq!(p("crashkernel=0M@16M"), Ok(None));
    }

    #[test]
    fn offsets() {
        assert_eq!(
            p("crashkernel=64M@16M"),
            Ok(req(64 * M, Some(16 * M), false))
        );
        assert_eq!(
            p("crashkernel=64M@0x1000000"),
            Ok(req(64 * M, Some(16 * M), false))
        );
        assert_eq!(
            p("crashkernel=64M@0"),
            Ok(req(64 * M, None, false)),
            "base 0 = choose"
        );
        assert_eq!(
            p("crashkernel=64M@"),
            Err(CrashkernelError::BadOffset { text: "".into() })
        );
        assert_eq!(
            p("crashkernel=64M@x"),
            Err(CrashkernelError::BadOffset { text: "x".into() })
        );
        assert_eq!(
            p("crashkernel=64M@16Mx"),
            Err(CrashkernelError::TrailingGarbage { text: "x".into() })
        );
        assert_eq!(
            p("crashkernel=64M@16E"),
            Err(CrashkernelError::Overflow { text: "16E".into() })
        );
    }

    #[test]
    fn ranges() {
        let r = "crashkernel=0-512M:64M,512M-2G:128M,2G-:256M";
        // 511.6 MiB rounds up to 512 MiB, which is in the second range.
        assert_eq!(p(r), Ok(req(128 * M, None, false)));
        assert_eq!(parse_crashkernel(r, 256 * M), Ok(req(64 * M, None, false)));
        assert_eq!(
            parse_crashkernel(r, 2 * G),
            Ok(req(256 * M, None, false)),
            "start is inclusive, end exclusive"
        );
        assert_eq!(
            parse_crashkernel(r, 64 * G),
            Ok(req(256 * M, None, false)),
            "open end"
        );
        // Rounding to 128 MiB: 130 MiB counts as 256 MiB.
        assert_eq!(
            parse_crashkernel("crashkernel=256M-:32M", 130 * M),
            Ok(req(32 * M, None, false))
        );
        assert_eq!(
            parse_crashkernel("crashkernel=256M-:32M", 128 * M),
            Ok(None),
            "no range matches"
        );
        assert_eq!(
            p("crashkernel=1G-4G:128M,4G-:256M"),
            Ok(None),
            "no range matches"
        );
        assert_eq!(
            p("crashkernel=256M-:64M@32M"),
            Ok(req(64 * M, Some(32 * M), false))
        );
        assert_eq!(
            p("crashkernel=0-1G:64M,1G-:128M@0x3000000"),
            Ok(req(64 * M, Some(48 * M), false))
        );
        assert_eq!(p("crashkernel=0-:0"), Ok(None), "size 0");
        // Only the matching entry's size is held against RAM.
        assert_eq!(
            p("crashkernel=0-1G:64M,1G-:2G"),
            Ok(req(64 * M, None, false))
        );
    }

    #[test]
    fn bad_ranges() {
        let bad = |v: &str, entry: &str, why: &str| {
            let e = p(&format!("crashkernel={v}")).unwrap_err();
            match &e {
                CrashkernelError::BadRange { entry: got, reason } => {
                    assert_eq!(got, entry, "{v}");
                    assert!(reason.contains(why), "{v}: {reason}");
                }
                other => panic!("{v}: {other:?}"),
            }
            assert_eq!(e.errno(), abi::Errno::EINVAL);
            assert!(e.to_string().contains(entry), "{e}");
        };
        bad("x-1G:64M", "x-1G:64M", "start");
        bad("1G:64M", "1G:64M", "'-'");
        bad("1G-x:64M", "1G-x:64M", "end");
        bad("1G-1G:64M", "1G-1G:64M", "not above");
        bad("2G-1G:64M", "2G-1G:64M", "not above");
        bad("0-1G,1G-:64M", "0-1G", "':'");
        bad("0-1G:64M,,1G-:128M", "", "empty");
    }

    #[test]
    fn high_and_low() {
        assert_eq!(
            parse_crashkernel("crashkernel=1G,high", 8 * G),
            Ok(req(G, None, true))
        );
        assert_eq!(
            parse_crashkernel("crashkernel=1G,high crashkernel=256M,low", 8 * G),
            Ok(req(G, None, true))
        );
        // A plain crashkernel= takes precedence over ,high wherever it is.
        assert_eq!(
            parse_crashkernel("crashkernel=128M crashkernel=1G,high", 8 * G),
            Ok(req(128 * M, None, false))
        );
        assert_eq!(
            parse_crashkernel("crashkernel=1G,high crashkernel=128M", 8 * G),
            Ok(req(128 * M, None, false))
        );
        // The last ,high wins among ,high entries.
        assert_eq!(
            parse_crashkernel("crashkernel=1G,high crashkernel=2G,high", 8 * G),
            Ok(req(2 * G, None, true))
        );
        assert_eq!(p("crashkernel=0,high"), Ok(None));
        // An invalid ,low is an error even though its size is not used.
        assert_eq!(
            parse_crashkernel("crashkernel=1G,high crashkernel=x,low", 8 * G),
            Err(CrashkernelError::BadSize { text: "x".into() })
        );
        assert_eq!(
            p("crashkernel=64M,low"),
            Err(CrashkernelError::LowWithoutHigh)
        );
        // A ,low next to a plain entry is ignored, even if invalid.
        assert_eq!(
            p("crashkernel=64M crashkernel=x,low"),
            Ok(req(64 * M, None, false))
        );
    }

    #[test]
    fn last_one_wins() {
        assert_eq!(
            p("crashkernel=64M console=ttyS0 crashkernel=96M@32M"),
            Ok(req(96 * M, Some(32 * M), false))
        );
        assert_eq!(
            p("crashkernel=96M@32M crashkernel=64M"),
            Ok(req(64 * M, None, false))
        );
        // An earlier bad value does not matter; a later one does.
        assert_eq!(
            p("crashkernel=junk crashkernel=64M"),
            Ok(req(64 * M, None, false))
        );
        assert!(p("crashkernel=64M crashkernel=junk").is_err());
        // The last one decides even when it reserves nothing.
        assert_eq!(p("crashkernel=64M crashkernel=0"), Ok(None));
    }

    #[test]
    fn bad_values() {
        use CrashkernelError::*;
        let cases: &[(&str, CrashkernelError, &str)] = &[
            ("crashkernel=", Empty, "empty value"),
            (
                "crashkernel=M",
                BadSize { text: "M".into() },
                "expected a size at \"M\"",
            ),
            (
                "crashkernel=@16M",
                BadSize {
                    text: "@16M".into(),
                },
                "\"@16M\"",
            ),
            (
                "crashkernel=,high",
                BadSize { text: "".into() },
                "expected a size",
            ),
            (
                "crashkernel=64MB",
                TrailingGarbage { text: "B".into() },
                "unexpected \"B\"",
            ),
            (
                "crashkernel=64M-",
                TrailingGarbage { text: "-".into() },
                "\"-\"",
            ),
            (
                "crashkernel=16E",
                Overflow { text: "16E".into() },
                "64 bits",
            ),
            (
                "crashkernel=64M,foo",
                UnknownSuffix {
                    suffix: ",foo".into(),
                },
                "\",foo\"",
            ),
            (
                "crashkernel=64M@16M,foo",
                UnknownSuffix {
                    suffix: ",foo".into(),
                },
                "\",foo\"",
            ),
            (
                "crashkernel=64M@16M,high",
                OffsetWithSuffix {
                    text: "64M@16M,high".into(),
                },
                "@offset cannot be combined",
            ),
            (
                "crashkernel=64M,high@16M",
                OffsetWithSuffix {
                    text: "64M,high@16M".into(),
                },
                "@offset",
            ),
            (
                "crashkernel=512M-:64M,high",
                RangesWithSuffix {
                    text: "512M-:64M,high".into(),
                },
                "range syntax",
            ),
            (
                "crashkernel=64Mx,high",
                TrailingGarbage { text: "x".into() },
                "\"x\"",
            ),
            (
                "crashkernel=512M",
                TooLarge {
                    size: 512 * M,
                    system_ram: RAM,
                },
                "not smaller than System RAM",
            ),
            (
                "crashkernel=0-:512M",
                TooLarge {
                    size: 512 * M,
                    system_ram: RAM,
                },
                "not smaller",
            ),
            (
                "crashkernel=0-1G:64M,",
                BadRange {
                    entry: "".into(),
                    reason: "empty entry",
                },
                "bad range entry \"\": empty entry",
            ),
            (
                "crashkernel=0-1G:64Mx",
                BadRange {
                    entry: "0-1G:64Mx".into(),
                    reason: "unexpected text after the size",
                },
                "0-1G:64Mx",
            ),
            (
                "crashkernel=0-1G:",
                BadRange {
                    entry: "0-1G:".into(),
                    reason: "expected a size after ':'",
                },
                "size after",
            ),
            (
                "crashkernel=0-1G:64M@",
                BadOffset { text: "".into() },
                "after '@'",
            ),
            (
                "crashkernel=0-1G:64M@1M,x",
                TrailingGarbage { text: ",x".into() },
                "\",x\"",
            ),
            (
                "crashkernel=0-99E:64M",
                Overflow {
                    text: "99E:64M".into(),
                },
                "64 bits",
            ),
        ];
        for (cmdline, want, text) in cases {
            let got = p(cmdline);
            assert_eq!(got.as_ref(), Err(want), "{cmdline}");
            let e = got.unwrap_err();
            assert_eq!(e.errno(), abi::Errno::EINVAL);
            let msg = e.to_string();
            assert!(msg.starts_with("crashkernel: "), "{msg}");
            assert!(msg.contains(text), "{cmdline}: {msg} lacks {text}");
        }
    }
}
