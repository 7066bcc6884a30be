//! Numbers on the command line and in messages:
//!
//! - [`parse_size`] -- `hexdump -s/-n` (util-linux: `0x` hex, leading-`0` octal,
//!   `K`/`M`/`G` suffixes);
//! - [`parse_dd_number`] -- dd's `bs=`/`count=`/`skip=` (decimal, `c w b K kB M MB ...`);
//! - [`human`] and [`human_rate`] -- gnulib `human_readable` as coreutils dd uses it
//!   (`1.0 MB`, `188 MiB`, `26.6 MB/s`);
//! - [`fmt_g`] -- C's `%g` (`8.3256e-05`, `0.000822924`, `1.23457`).

use alloc::format;
use alloc::string::String;

/// The multiplier of a size suffix: `K`/`k`/`KiB` = 1024, `KB`/`kB` = 1000,
/// likewise `M`, `G`, `T`, `P`, `E`; `""` = 1. With `dd`, also `c` = 1,
/// `w` = 2 and `b` = 512.
fn suffix(s: &str, dd: bool) -> Option<u64> {
    match s {
        "" => return Some(1),
        "c" if dd => return Some(1),
        "w" if dd => return Some(2),
        "b" if dd => return Some(512),
        _ => {}
    }
    let mut chars = s.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    let power = "KMGTPE".find(letter)? as u32 + 1;
    let base: u64 = match chars.as_str() {
        "" | "iB" => 1024,
        "B" => 1000,
        _ => return None,
    };
    base.checked_pow(power)
}

/// Split `s` into its leading digits (in `radix`) and the rest.
fn digits(s: &str, radix: u32) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_digit(radix)).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let v = u64::from_str_radix(&s[..end], radix).ok()?;
    Some((v, &s[end..]))
}

/// A size for `hexdump -s`/`-n`: decimal, `0x` hex or `0` octal, with an
/// optional suffix (`K`, `KiB`, `KB`, `M`, ...). `None` if invalid or too big.
pub fn parse_size(s: &str) -> Option<u64> {
    let (v, rest) = if let Some(hex) = s.strip_prefix("0x").or(s.strip_prefix("0X")) {
        digits(hex, 16)?
    } else if s.len() > 1 && s.starts_with('0') && s.as_bytes()[1].is_ascii_digit() {
        digits(&s[1..], 8)?
    } else {
        digits(s, 10)?
    };
    v.checked_mul(suffix(rest, false)?)
}

/// A number for dd's operands: decimal with an optional suffix (`c`, `w`,
/// `b`, `K`, `kB`, `KiB`, `M`, ...), as coreutils accepts.
pub fn parse_dd_number(s: &str) -> Option<u64> {
    let (v, rest) = digits(s, 10)?;
    v.checked_mul(suffix(rest, true)?)
}

const SI_UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
const IEC_UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

fn units(base: u64) -> &'static [&'static str; 7] {
    if base == 1024 {
        &IEC_UNITS
    } else {
        &SI_UNITS
    }
}

/// `n` bytes as gnulib's `human_readable(n, human_autoscale |
/// human_round_to_nearest | human_space_before_unit | human_B [| human_SI])`
/// with `base` 1000 or 1024: `512 B`, `1.0 kB`, `105 MB`, `188 MiB`.
/// Values below 10 units get one decimal; rounding is to nearest, ties to even.
pub fn human(n: u64, base: u64) -> String {
    let (mut amt, mut tenths, mut rounding) = (n, 0u64, 0u64);
    let mut exp = 0usize;
    let mut decimal = None;
    if base <= amt {
        loop {
            // `rounding`: 0 exact, 1 below half, 2 half, 3 above half (of a tenth).
            let r10 = (amt % base) * 10 + tenths;
            let r2 = (r10 % base) * 2 + (rounding >> 1);
            amt /= base;
            tenths = r10 / base;
            rounding = if r2 < base {
                u64::from(r2 + rounding != 0)
            } else {
                2 + u64::from(base < r2 + rounding)
            };
            exp += 1;
            if !(base <= amt && exp < 6) {
                break;
            }
        }
        if amt < 10 {
            if 2 < rounding + (tenths & 1) {
                tenths += 1;
                rounding = 0;
                if tenths == 10 {
                    amt += 1;
                    tenths = 0;
                }
            }
            if amt < 10 {
                decimal = Some(tenths);
                tenths = 0;
                rounding = 0;
            }
        }
    }
    if 5 < tenths + u64::from(0 < rounding + (amt & 1)) {
        amt += 1;
        if amt == base && exp < 6 {
            exp += 1;
            amt = 1;
            decimal = Some(0);
        }
    }
    let unit = units(base)[exp];
    match decimal {
        Some(t) => format!("{amt}.{t} {unit}"),
        None => format!("{amt} {unit}"),
    }
}

/// A transfer rate as coreutils dd prints it: gnulib's floating-point path
/// (always at least `k`; one decimal unless that makes more than 4 characters),
/// e.g. `0.0 kB/s`, `6.1 MB/s`, `26.6 MB/s`, `118 kB/s`, `1.3 GB/s`;
/// `Infinity B/s` when no time elapsed.
pub fn human_rate(bytes: u64, ns: u64) -> String {
    if ns == 0 {
        return String::from("Infinity B/s");
    }
    let mut damt = bytes as f64 * (1e9 / ns as f64);
    let (mut e, mut exp) = (1f64, 0usize);
    loop {
        e *= 1000.0;
        exp += 1;
        if !(e * 1000.0 <= damt && exp < 6) {
            break;
        }
    }
    damt /= e;
    let mut s = format!("{damt:.1}");
    if s.len() > 4 {
        s = format!("{damt:.0}");
    }
    format!("{s} {}/s", SI_UNITS[exp])
}

/// C's `printf("%g", v)` (precision 6) for finite non-negative `v`.
pub fn fmt_g(v: f64) -> String {
    if v == 0.0 {
        return String::from("0");
    }
    let e = format!("{v:.5e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let fixed = format!("{v:.*}", (5 - exp) as usize);
        return String::from(strip_zeros(&fixed));
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{}e{sign}{:02}", strip_zeros(mantissa), exp.unsigned_abs())
}

/// `1.2300` -> `1.23`, `5.000` -> `5`; strings without a point are kept.
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("0x1F"), Some(31));
        assert_eq!(parse_size("0X10"), Some(16));
        assert_eq!(parse_size("010"), Some(8)); // octal, like util-linux and busybox
        assert_eq!(parse_size("4K"), Some(4096));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("1KiB"), Some(1024));
        assert_eq!(parse_size("1KB"), Some(1000));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("0x10M"), Some(16 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        for bad in [
            "",
            "x",
            "-1",
            "1Q",
            "1b",
            "0x",
            "08",
            "1 K",
            "99999999999999999999",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_size("16E"), None); // overflow
    }

    #[test]
    fn dd_numbers() {
        assert_eq!(parse_dd_number("512"), Some(512));
        assert_eq!(parse_dd_number("010"), Some(10)); // decimal in dd
        assert_eq!(parse_dd_number("64K"), Some(65536));
        assert_eq!(parse_dd_number("64k"), Some(65536));
        assert_eq!(parse_dd_number("1kB"), Some(1000));
        assert_eq!(parse_dd_number("1M"), Some(1 << 20));
        assert_eq!(parse_dd_number("1MB"), Some(1_000_000));
        assert_eq!(parse_dd_number("2b"), Some(1024));
        assert_eq!(parse_dd_number("3w"), Some(6));
        assert_eq!(parse_dd_number("7c"), Some(7));
        for bad in ["", "0x10", "K", "1X", "-5"] {
            assert_eq!(parse_dd_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn human_like_coreutils_dd() {
        // Pairs printed by coreutils 9.1 dd for these byte counts.
        let cases: &[(u64, &str, &str)] = &[
            (512, "512 B", "512 B"),
            (1000, "1.0 kB", "1000 B"),
            (1024, "1.0 kB", "1.0 KiB"),
            (1_048_576, "1.0 MB", "1.0 MiB"),
            (104_857_600, "105 MB", "100 MiB"),
            (196_608_000, "197 MB", "188 MiB"),
            (9_950_000, "10 MB", "9.5 MiB"),  // 9.95: a tie, to even
            (9_850_000, "9.8 MB", "9.4 MiB"), // 9.85: a tie, to even
            (9_960_000, "10 MB", "9.5 MiB"),
            (10_239, "10 kB", "10 KiB"),
            (1023, "1.0 kB", "1023 B"),
            (999_999, "1.0 MB", "977 KiB"),
            (536_870_912, "537 MB", "512 MiB"),
            (0, "0 B", "0 B"),
        ];
        for &(n, si, iec) in cases {
            assert_eq!(human(n, 1000), si, "{n}");
            assert_eq!(human(n, 1024), iec, "{n}");
        }
    }

    #[test]
    fn rates() {
        // From coreutils 9.1 dd runs (bytes, elapsed ns, printed rate).
        assert_eq!(human_rate(512, 83_256), "6.1 MB/s");
        assert_eq!(human_rate(1000, 37_600), "26.6 MB/s");
        assert_eq!(human_rate(5, 42_270), "118 kB/s");
        assert_eq!(human_rate(3, 50_836), "59.0 kB/s");
        assert_eq!(human_rate(1_048_576, 822_924), "1.3 GB/s");
        assert_eq!(human_rate(104_857_600, 4_365_440), "24.0 GB/s");
        assert_eq!(human_rate(0, 33_713), "0.0 kB/s");
        assert_eq!(human_rate(1, 0), "Infinity B/s");
    }

    #[test]
    fn printf_g() {
        assert_eq!(fmt_g(8.3256e-05), "8.3256e-05");
        assert_eq!(fmt_g(0.000822924), "0.000822924");
        assert_eq!(fmt_g(0.0001), "0.0001");
        assert_eq!(fmt_g(1.234567), "1.23457");
        assert_eq!(fmt_g(12.5), "12.5");
        assert_eq!(fmt_g(2.0), "2");
        assert_eq!(fmt_g(123456.7), "123457");
        assert_eq!(fmt_g(1234567.0), "1.23457e+06");
        assert_eq!(fmt_g(0.0), "0");
        assert_eq!(fmt_g(9.999996), "10");
    }
}
