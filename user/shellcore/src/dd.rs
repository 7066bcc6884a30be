//! `dd if=FILE [of=FILE] [bs=N] [count=N] [skip=N]`: operands and the final
//! report, as coreutils dd prints it on stderr:
//!
//! ```text
//! 2+1 records in
//! 2+1 records out
//! 1048576 bytes (1.0 MB, 1.0 MiB) copied, 0.000822924 s, 1.3 GB/s
//! ```

use crate::num::{fmt_g, human, human_rate, parse_dd_number};
use alloc::format;
use alloc::string::String;

/// Default block size, as coreutils.
pub const DEFAULT_BS: u64 = 512;

/// The operands. `None` for `input`/`output` means stdin/stdout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    pub input: Option<String>,
    pub output: Option<String>,
    /// Read (and write) size.
    pub bs: u64,
    /// Input blocks to copy (`None`: to the end).
    pub count: Option<u64>,
    /// Input blocks to skip first.
    pub skip: u64,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            input: None,
            output: None,
            bs: DEFAULT_BS,
            count: None,
            skip: 0,
        }
    }
}

impl Args {
    /// Bytes to skip in the input.
    pub fn skip_bytes(&self) -> Option<u64> {
        self.skip.checked_mul(self.bs)
    }
}

/// Parse dd's operands (without argv\[0\]). The error is coreutils' message
/// after `dd: `.
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Args, String> {
    let mut a = Args::default();
    for arg in args {
        let arg = arg.as_ref();
        let Some((key, value)) = arg.split_once('=') else {
            return Err(format!("unrecognized operand '{arg}'"));
        };
        let number = || parse_dd_number(value).ok_or_else(|| format!("invalid number: '{value}'"));
        match key {
            "if" => a.input = Some(value.into()),
            "of" => a.output = Some(value.into()),
            "bs" => match number()? {
                0 => return Err(format!("invalid number: '{value}'")),
                n => a.bs = n,
            },
            "count" => a.count = Some(number()?),
            "skip" => a.skip = number()?,
            _ => return Err(format!("unrecognized operand '{arg}'")),
        }
    }
    Ok(a)
}

/// Records and bytes moved: `full+partial records in/out`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub full_in: u64,
    pub partial_in: u64,
    pub full_out: u64,
    pub partial_out: u64,
    /// Bytes written.
    pub bytes: u64,
}

impl Stats {
    /// Count one read of `n` (> 0) bytes with block size `bs`.
    pub fn read(&mut self, n: u64, bs: u64) {
        if n == bs {
            self.full_in += 1;
        } else {
            self.partial_in += 1;
        }
    }

    /// Count one write of `n` bytes.
    pub fn wrote(&mut self, n: u64, bs: u64) {
        if n == bs {
            self.full_out += 1;
        } else {
            self.partial_out += 1;
        }
        self.bytes += n;
    }

    /// The three report lines (each ending in `\n`), `elapsed_ns` measured
    /// from just before the first read to after the last write.
    pub fn report(&self, elapsed_ns: u64) -> String {
        let n = self.bytes;
        let (si, iec) = (human(n, 1000), human(n, 1024));
        let copied = if si.ends_with(" B") {
            format!("{n} byte{} copied", if n == 1 { "" } else { "s" })
        } else if iec.ends_with(" B") {
            format!("{n} bytes ({si}) copied")
        } else {
            format!("{n} bytes ({si}, {iec}) copied")
        };
        format!(
            "{}+{} records in\n{}+{} records out\n{copied}, {} s, {}\n",
            self.full_in,
            self.partial_in,
            self.full_out,
            self.partial_out,
            fmt_g(elapsed_ns as f64 / 1e9),
            human_rate(n, elapsed_ns),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands() {
        let a = parse_args(&[
            "if=/proc/vmcore",
            "of=/dev/null",
            "bs=1M",
            "count=3",
            "skip=2",
        ])
        .unwrap();
        assert_eq!(
            a,
            Args {
                input: Some("/proc/vmcore".into()),
                output: Some("/dev/null".into()),
                bs: 1 << 20,
                count: Some(3),
                skip: 2,
            }
        );
        assert_eq!(a.skip_bytes(), Some(2 << 20));
        assert_eq!(parse_args::<&str>(&[]).unwrap(), Args::default());
        assert_eq!(parse_args(&["count=0"]).unwrap().count, Some(0));
        assert_eq!(parse_args(&["bs=0"]).unwrap_err(), "invalid number: '0'");
        assert_eq!(parse_args(&["bs=x"]).unwrap_err(), "invalid number: 'x'");
        assert_eq!(
            parse_args(&["foo"]).unwrap_err(),
            "unrecognized operand 'foo'"
        );
        assert_eq!(
            parse_args(&["conv=sync"]).unwrap_err(),
            "unrecognized operand 'conv=sync'"
        );
    }

    #[test]
    fn records() {
        let mut s = Stats::default();
        for n in [2, 2, 1] {
            s.read(n, 2);
            s.wrote(n, 2);
        }
        assert_eq!(
            (s.full_in, s.partial_in, s.full_out, s.partial_out, s.bytes),
            (2, 1, 2, 1, 5)
        );
    }

    #[test]
    fn reports_like_coreutils() {
        // Lines printed by coreutils 9.1 dd.
        let s = Stats {
            full_in: 2,
            partial_in: 1,
            full_out: 2,
            partial_out: 1,
            bytes: 5,
        };
        assert_eq!(
            s.report(42_270),
            "2+1 records in\n2+1 records out\n5 bytes copied, 4.227e-05 s, 118 kB/s\n"
        );
        let s = Stats {
            full_in: 1,
            full_out: 1,
            bytes: 1_048_576,
            ..Default::default()
        };
        assert!(s
            .report(822_924)
            .ends_with("1048576 bytes (1.0 MB, 1.0 MiB) copied, 0.000822924 s, 1.3 GB/s\n"));
        let s = Stats {
            bytes: 1000,
            ..Default::default()
        };
        assert!(s
            .report(37_600)
            .ends_with("1000 bytes (1.0 kB) copied, 3.76e-05 s, 26.6 MB/s\n"));
        let s = Stats {
            bytes: 1,
            ..Default::default()
        };
        assert!(s
            .report(30_207)
            .ends_with("1 byte copied, 3.0207e-05 s, 33.1 kB/s\n"));
        let s = Stats::default();
        assert_eq!(
            s.report(0),
            "0+0 records in\n0+0 records out\n0 bytes copied, 0 s, Infinity B/s\n"
        );
        let s = Stats {
            bytes: 536_870_912,
            ..Default::default()
        };
        assert!(s
            .report(1_184_530_000)
            .ends_with("536870912 bytes (537 MB, 512 MiB) copied, 1.18453 s, 453 MB/s\n"));
    }
}
