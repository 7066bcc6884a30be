//! lib/cmdline.c `memparse`: a size with an optional binary suffix.

use core::fmt;

/// Why [`memparse`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemparseError {
    /// The text does not start with a number.
    NoDigits,
    /// The number (after applying the suffix) does not fit in 64 bits.
    Overflow,
}

impl MemparseError {
    /// The errno a kernel parameter handler reports.
    pub fn errno(&self) -> abi::Errno {
        match self {
            MemparseError::NoDigits => abi::Errno::EINVAL,
            MemparseError::Overflow => abi::Errno::ERANGE,
        }
    }
}

impl fmt::Display for MemparseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemparseError::NoDigits => f.write_str("memparse: expected a number"),
            MemparseError::Overflow => f.write_str("memparse: value does not fit in 64 bits"),
        }
    }
}

/// Parse a size like Linux's `memparse`: a number in `simple_strtoull` base 0
/// (`0x` hex, a leading `0` octal, else decimal), then an optional suffix
/// `K`, `M`, `G`, `T`, `P` or `E` (either case, powers of 1024). Returns the
/// value and the unparsed rest (e.g. `"@16M"`), which is the caller's.
pub fn memparse(s: &str) -> Result<(u64, &str), MemparseError> {
    let (value, rest) = parse_number(s)?;
    let shift = match rest.as_bytes().first().map(u8::to_ascii_uppercase) {
        Some(b'K') => 10,
        Some(b'M') => 20,
        Some(b'G') => 30,
        Some(b'T') => 40,
        Some(b'P') => 50,
        Some(b'E') => 60,
        _ => return Ok((value, rest)),
    };
    if value.leading_zeros() < shift {
        return Err(MemparseError::Overflow);
    }
    Ok((value << shift, rest.get(1..).unwrap_or("")))
}

/// `simple_strtoull(s, &end, 0)`, reporting overflow instead of wrapping.
fn parse_number(s: &str) -> Result<(u64, &str), MemparseError> {
    let b = s.as_bytes();
    let hex = b.first() == Some(&b'0')
        && matches!(b.get(1), Some(b'x' | b'X'))
        && b.get(2).is_some_and(u8::is_ascii_hexdigit);
    let (radix, start) = match (hex, b.first()) {
        (true, _) => (16, 2),
        (false, Some(b'0')) => (8, 0),
        _ => (10, 0),
    };
    let digits = s.get(start..).unwrap_or("");
    let len = digits
        .bytes()
        .take_while(|c| (*c as char).is_digit(radix))
        .count();
    if len == 0 {
        return Err(MemparseError::NoDigits);
    }
    let mut value: u64 = 0;
    for c in digits.bytes().take(len) {
        let d = u64::from((c as char).to_digit(radix).unwrap_or(0));
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(d))
            .ok_or(MemparseError::Overflow)?;
    }
    Ok((value, digits.get(len..).unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers() {
        assert_eq!(memparse("0"), Ok((0, "")));
        assert_eq!(memparse("4096"), Ok((4096, "")));
        assert_eq!(memparse("0x1000"), Ok((0x1000, "")));
        assert_eq!(memparse("0XfF"), Ok((255, "")));
        assert_eq!(
            memparse("010"),
            Ok((8, "")),
            "octal, as simple_strtoull base 0"
        );
        assert_eq!(memparse("09"), Ok((0, "9")));
        assert_eq!(memparse("0x"), Ok((0, "x")));
        assert_eq!(memparse("0xg"), Ok((0, "xg")));
        assert_eq!(memparse("18446744073709551615"), Ok((u64::MAX, "")));
    }

    #[test]
    fn suffixes() {
        assert_eq!(memparse("1K"), Ok((1024, "")));
        assert_eq!(memparse("1k"), Ok((1024, "")));
        assert_eq!(memparse("256M"), Ok((256 << 20, "")));
        assert_eq!(memparse("2G"), Ok((2 << 30, "")));
        assert_eq!(memparse("3t"), Ok((3 << 40, "")));
        assert_eq!(memparse("1P"), Ok((1 << 50, "")));
        assert_eq!(memparse("15E"), Ok((15 << 60, "")));
        assert_eq!(memparse("0x10M"), Ok((16 << 20, "")));
        assert_eq!(memparse("0x1e"), Ok((0x1e, "")), "e is a hex digit here");
        assert_eq!(memparse("256M@16M"), Ok((256 << 20, "@16M")));
        assert_eq!(memparse("64Mx"), Ok((64 << 20, "x")));
        assert_eq!(memparse("5MB"), Ok((5 << 20, "B")));
        assert_eq!(memparse("12,rest"), Ok((12, ",rest")));
    }

    #[test]
    fn errors() {
        assert_eq!(memparse(""), Err(MemparseError::NoDigits));
        assert_eq!(memparse("M"), Err(MemparseError::NoDigits));
        assert_eq!(memparse("-1"), Err(MemparseError::NoDigits));
        assert_eq!(memparse(" 1"), Err(MemparseError::NoDigits));
        assert_eq!(memparse("é"), Err(MemparseError::NoDigits));
        assert_eq!(
            memparse("18446744073709551616"),
            Err(MemparseError::Overflow)
        );
        assert_eq!(
            memparse("0x10000000000000000"),
            Err(MemparseError::Overflow)
        );
        assert_eq!(memparse("16E"), Err(MemparseError::Overflow));
        assert_eq!(memparse("16777216T"), Err(MemparseError::Overflow));
        assert_eq!(memparse("16777215T"), Ok((16777215 << 40, "")));
        assert_eq!(MemparseError::Overflow.errno(), abi::Errno::ERANGE);
        assert_eq!(
            MemparseError::NoDigits.to_string(),
            "memparse: expected a number"
        );
    }
}
