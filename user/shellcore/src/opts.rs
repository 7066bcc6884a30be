//! Option parsing for builtins.
//!
//! - [`parse_short`]: flag-only commands (`ls -la /tmp`, `uname -sr`).
//! - [`Parser`]: commands with long options and option values, in the style of
//!   the `lexopt` crate (`kexec -s -l IMAGE --initrd=F --append "a b"`).
//!
//! GNU-style: options and operands may be interleaved, clusters like `-la` are
//! split, `--` ends the options and a lone `-` is an operand.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A set of single-character ASCII flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(u128);

impl Flags {
    pub fn has(self, c: char) -> bool {
        (c as u32) < 128 && self.0 & (1u128 << c as u32) != 0
    }
    pub fn set(&mut self, c: char) {
        if (c as u32) < 128 {
            self.0 |= 1u128 << c as u32;
        }
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A bad option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptError {
    /// `-x` with `x` not allowed.
    Unknown(char),
    /// `--word` not allowed (carries the whole argument).
    UnknownLong(String),
    /// An option that needs a value got none (carries `-x` or `--name`).
    MissingValue(String),
    /// `--name=value` for an option that takes no value (carries `--name`).
    UnexpectedValue(String),
    /// An operand the command does not take.
    Extra(String),
}

impl fmt::Display for OptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptError::Unknown(c) => write!(f, "invalid option -- '{c}'"),
            OptError::UnknownLong(s) => write!(f, "unrecognized option '{s}'"),
            OptError::MissingValue(o) => write!(f, "option '{o}' requires an argument"),
            OptError::UnexpectedValue(o) => write!(f, "option '{o}' doesn't allow an argument"),
            OptError::Extra(a) => write!(f, "extra operand '{a}'"),
        }
    }
}

/// One item from a [`Parser`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg<'a> {
    /// `-x` (also each letter of a cluster `-xyz`).
    Short(char),
    /// `--name` or `--name=value` (the value is fetched with [`Parser::value`]).
    Long(&'a str),
    /// An operand.
    Value(&'a str),
}

impl Arg<'_> {
    /// An [`OptError`] saying this argument is not accepted.
    pub fn unexpected(self) -> OptError {
        match self {
            Arg::Short(c) => OptError::Unknown(c),
            Arg::Long(n) => OptError::UnknownLong(alloc::format!("--{n}")),
            Arg::Value(v) => OptError::Extra(v.into()),
        }
    }
}

/// An option parser over argv (without argv\[0\]):
///
/// ```
/// use shellcore::opts::{Arg, Parser};
/// let argv = ["-l", "/boot/k", "--append=quiet", "-s"];
/// let mut p = Parser::new(&argv);
/// let (mut load, mut append, mut image) = (false, "", "");
/// while let Some(arg) = p.next().unwrap() {
///     match arg {
///         Arg::Short('l') | Arg::Long("load") => load = true,
///         Arg::Long("append") => append = p.value().unwrap(),
///         Arg::Short('s') => {}
///         Arg::Value(v) => image = v,
///         other => panic!("{}", other.unexpected()),
///     }
/// }
/// assert!(load);
/// assert_eq!((append, image), ("quiet", "/boot/k"));
/// ```
pub struct Parser<'a, S: AsRef<str>> {
    args: &'a [S],
    pos: usize,
    /// Rest of a short-option cluster still to return (`"bc"` after `-a` of `-abc`).
    cluster: Option<&'a str>,
    /// The `value` of the last `--name=value`, not yet taken, and `--name`.
    long_value: Option<(&'a str, &'a str)>,
    /// Last short option returned (for error messages).
    last_short: char,
    only_operands: bool,
}

impl<'a, S: AsRef<str>> Parser<'a, S> {
    pub fn new(args: &'a [S]) -> Self {
        Parser {
            args,
            pos: 0,
            cluster: None,
            long_value: None,
            last_short: '?',
            only_operands: false,
        }
    }

    /// The next option or operand; `Ok(None)` at the end.
    /// Fails if the previous `--name=value` had its value left untaken.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Arg<'a>>, OptError> {
        if let Some((name, _)) = self.long_value.take() {
            return Err(OptError::UnexpectedValue(alloc::format!("--{name}")));
        }
        if let Some(rest) = self.cluster.take() {
            return Ok(Some(self.short(rest)));
        }
        loop {
            let Some(a) = self.args.get(self.pos) else {
                return Ok(None);
            };
            let a = a.as_ref();
            self.pos += 1;
            if self.only_operands || a == "-" || !a.starts_with('-') {
                return Ok(Some(Arg::Value(a)));
            }
            if a == "--" {
                self.only_operands = true;
                continue;
            }
            if let Some(long) = a.strip_prefix("--") {
                return Ok(Some(match long.split_once('=') {
                    Some((name, value)) => {
                        self.long_value = Some((name, value));
                        Arg::Long(name)
                    }
                    None => Arg::Long(long),
                }));
            }
            return Ok(Some(self.short(&a[1..])));
        }
    }

    fn short(&mut self, cluster: &'a str) -> Arg<'a> {
        let c = cluster.chars().next().unwrap_or('?');
        let rest = &cluster[c.len_utf8()..];
        if !rest.is_empty() {
            self.cluster = Some(rest);
        }
        self.last_short = c;
        Arg::Short(c)
    }

    /// The value of the option just returned: `--name=value`, `--name value`,
    /// `-xvalue` or `-x value`.
    pub fn value(&mut self) -> Result<&'a str, OptError> {
        if let Some((_, v)) = self.long_value.take() {
            return Ok(v);
        }
        if let Some(rest) = self.cluster.take() {
            return Ok(rest);
        }
        match self.args.get(self.pos) {
            Some(v) => {
                self.pos += 1;
                Ok(v.as_ref())
            }
            None => Err(OptError::MissingValue(self.describe_last())),
        }
    }

    fn describe_last(&self) -> String {
        // The previous argument is the option that wanted the value.
        match self
            .pos
            .checked_sub(1)
            .and_then(|i| self.args.get(i))
            .map(|a| a.as_ref())
        {
            Some(a) if a.starts_with("--") => a.into(),
            _ => alloc::format!("-{}", self.last_short),
        }
    }
}

/// Split `args` (without argv\[0\]) into flags from `allowed` and operands.
pub fn parse_short<'a, S: AsRef<str>>(
    args: &'a [S],
    allowed: &str,
) -> Result<(Flags, Vec<&'a str>), OptError> {
    let mut flags = Flags::default();
    let mut operands = Vec::new();
    let mut only_operands = false;
    for a in args {
        let a = a.as_ref();
        if only_operands || a == "-" || !a.starts_with('-') {
            operands.push(a);
        } else if a == "--" {
            only_operands = true;
        } else if a.starts_with("--") {
            return Err(OptError::UnknownLong(a.into()));
        } else {
            for c in a[1..].chars() {
                if !allowed.contains(c) {
                    return Err(OptError::Unknown(c));
                }
                flags.set(c);
            }
        }
    }
    Ok((flags, operands))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn clusters_and_operands() {
        let args = ["-la", "/tmp", "-a", "x"];
        let (f, ops) = parse_short(&args, "la").unwrap();
        assert!(f.has('l') && f.has('a') && !f.has('x'));
        assert_eq!(ops, vec!["/tmp", "x"]);
    }

    #[test]
    fn double_dash_and_lone_dash() {
        let args = ["-l", "--", "-a", "-"];
        let (f, ops) = parse_short(&args, "la").unwrap();
        assert!(f.has('l') && !f.has('a'));
        assert_eq!(ops, vec!["-a", "-"]);
        let none: [&str; 0] = [];
        let (f, ops) = parse_short(&none, "la").unwrap();
        assert!(f.is_empty() && ops.is_empty());
    }

    fn collect(
        args: &[&str],
        valued: &[Arg],
    ) -> Result<Vec<(Arg<'static>, Option<String>)>, OptError> {
        // Leak to get 'static items: fine in tests.
        let args: &'static [String] = Vec::leak(args.iter().map(|s| s.to_string()).collect());
        let mut p = Parser::new(args);
        let mut out = Vec::new();
        while let Some(a) = p.next()? {
            let v = if valued.contains(&a) {
                Some(p.value()?.to_string())
            } else {
                None
            };
            out.push((a, v));
        }
        Ok(out)
    }

    #[test]
    fn parser_kexec_style() {
        let got = collect(
            &[
                "-s",
                "-l",
                "/boot/k.elf",
                "--initrd=/boot/i",
                "--append",
                "console=ttyS0 quiet",
                "-e",
            ],
            &[Arg::Long("initrd"), Arg::Long("append")],
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                (Arg::Short('s'), None),
                (Arg::Short('l'), None),
                (Arg::Value("/boot/k.elf"), None),
                (Arg::Long("initrd"), Some("/boot/i".into())),
                (Arg::Long("append"), Some("console=ttyS0 quiet".into())),
                (Arg::Short('e'), None),
            ]
        );
    }

    #[test]
    fn parser_clusters_values_and_dashes() {
        let got = collect(
            &["-sl", "-ofile", "-o", "-x", "--", "-e", "-"],
            &[Arg::Short('o')],
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                (Arg::Short('s'), None),
                (Arg::Short('l'), None),
                (Arg::Short('o'), Some("file".into())),
                (Arg::Short('o'), Some("-x".into())),
                (Arg::Value("-e"), None),
                (Arg::Value("-"), None),
            ]
        );
        // Empty value with `=`.
        let got = collect(&["--append="], &[Arg::Long("append")]).unwrap();
        assert_eq!(got, vec![(Arg::Long("append"), Some(String::new()))]);
    }

    #[test]
    fn parser_errors() {
        assert_eq!(
            collect(&["--append"], &[Arg::Long("append")]),
            Err(OptError::MissingValue("--append".into()))
        );
        assert_eq!(
            collect(&["-o"], &[Arg::Short('o')]),
            Err(OptError::MissingValue("-o".into()))
        );
        assert_eq!(
            collect(&["--load=x"], &[]),
            Err(OptError::UnexpectedValue("--load".into()))
        );
        assert_eq!(
            OptError::MissingValue("--initrd".into()).to_string(),
            "option '--initrd' requires an argument"
        );
        assert_eq!(
            Arg::Long("bogus").unexpected().to_string(),
            "unrecognized option '--bogus'"
        );
        assert_eq!(
            Arg::Value("x").unexpected().to_string(),
            "extra operand 'x'"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(parse_short(&["-lz"], "la"), Err(OptError::Unknown('z')));
        assert_eq!(
            parse_short(&["--all"], "la"),
            Err(OptError::UnknownLong("--all".into()))
        );
        assert_eq!(OptError::Unknown('z').to_string(), "invalid option -- 'z'");
        assert_eq!(parse_short(&["-é"], "la"), Err(OptError::Unknown('é')));
    }
}
