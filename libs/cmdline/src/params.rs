//! Splitting the command line (lib/cmdline.c `next_arg`, kernel/params.c
//! `parse_args`).

/// One parameter: `key` or `key=value`, quotes removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    pub key: &'a str,
    /// `None` for a bare word; `Some("")` for `key=`.
    pub value: Option<&'a str>,
}

/// Iterator over the kernel parameters of a command line (see [`params`]).
#[derive(Clone, Debug)]
pub struct Params<'a> {
    rest: &'a str,
}

/// The kernel parameters of `cmdline`, split like Linux's `next_arg`:
///
/// * parameters are separated by whitespace;
/// * double quotes group: `foo="a b"` is key `foo`, value `a b`, and
///   `"foo bar"` is the bare word `foo bar`;
/// * the first `=` (not at the very start) separates key and value;
/// * a bare `--` ends the kernel parameters (see [`init_args`]).
pub fn params(cmdline: &str) -> Params<'_> {
    Params {
        rest: skip_spaces(cmdline),
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let (param, rest) = next_arg(self.rest);
        if param.key == "--" && param.value.is_none() {
            self.rest = "";
            return None;
        }
        self.rest = rest;
        Some(param)
    }
}

impl core::iter::FusedIterator for Params<'_> {}

/// Everything after the first bare `--` (leading whitespace removed), which
/// Linux hands to init; `""` if there is none.
pub fn init_args(cmdline: &str) -> &str {
    let mut rest = skip_spaces(cmdline);
    while !rest.is_empty() {
        let (param, next) = next_arg(rest);
        if param.key == "--" && param.value.is_none() {
            return next;
        }
        rest = next;
    }
    ""
}

/// The last occurrence of `key` (later parameters override earlier ones).
pub fn get<'a>(cmdline: &'a str, key: &str) -> Option<Param<'a>> {
    params(cmdline).filter(|p| p.key == key).last()
}

/// Is boolean parameter `key` on? Decided by its last occurrence: a bare
/// `key` is true; `key=value` follows kstrtobool (`1`/`y`/`Y`/`on` true,
/// anything else false). Absent is false.
pub fn has_flag(cmdline: &str, key: &str) -> bool {
    match get(cmdline, key) {
        None => false,
        Some(Param { value: None, .. }) => true,
        Some(Param { value: Some(v), .. }) => strtobool(v),
    }
}

/// Whether a `clearcpuid=` parameter names CPU feature `name` (Linux's
/// x86 `clearcpuid=`: a comma-separated list of /proc/cpuinfo flag names,
/// which may be given several times; every occurrence counts).
pub fn clears_cpu_feature(cmdline: &str, name: &str) -> bool {
    params(cmdline)
        .filter(|p| p.key == "clearcpuid")
        .filter_map(|p| p.value)
        .any(|v| v.split(',').any(|f| f == name))
}

/// kstrtobool's notion of "true".
fn strtobool(v: &str) -> bool {
    let b = v.as_bytes();
    match b.first() {
        Some(b'1' | b'y' | b'Y') => true,
        Some(b'o' | b'O') => matches!(b.get(1), Some(b'n' | b'N')),
        _ => false,
    }
}

/// Linux's isspace for the ASCII range.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn skip_spaces(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8))
}

/// Split one parameter off the front of `args` (which starts with a
/// non-space), returning it and the rest with leading spaces skipped.
fn next_arg(args: &str) -> (Param<'_>, &str) {
    let quoted = args.starts_with('"');
    let args = if quoted {
        args.get(1..).unwrap_or("")
    } else {
        args
    };
    let bytes = args.as_bytes();
    let mut in_quote = quoted;
    let mut equals = None;
    let mut end = bytes.len();
    for (i, &c) in bytes.iter().enumerate() {
        if is_space(c) && !in_quote {
            end = i;
            break;
        }
        if equals.is_none() && c == b'=' && i > 0 {
            equals = Some(i);
        }
        if c == b'"' {
            in_quote = !in_quote;
        }
    }
    // All cut points sit next to ASCII bytes, so the slicing is on char
    // boundaries; `get` keeps it panic-free regardless.
    let word = args.get(..end).unwrap_or("");
    let rest = skip_spaces(args.get(end..).unwrap_or(""));
    let ends_in_quote = word.ends_with('"');
    let param = match equals {
        None => {
            let key = if quoted && ends_in_quote {
                strip_last(word)
            } else {
                word
            };
            Param { key, value: None }
        }
        Some(eq) => {
            let key = word.get(..eq).unwrap_or("");
            let mut value = word.get(eq + 1..).unwrap_or("");
            let value_quoted = value.starts_with('"');
            if value_quoted {
                value = value.get(1..).unwrap_or("");
            }
            if (value_quoted || quoted) && ends_in_quote && !value.is_empty() {
                value = strip_last(value);
            }
            Param {
                key,
                value: Some(value),
            }
        }
    };
    (param, rest)
}

/// `s` without its last byte (an ASCII quote).
fn strip_last(s: &str) -> &str {
    s.get(..s.len().saturating_sub(1)).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn clearcpuid_lists_are_read_like_linux() {
        assert!(clears_cpu_feature("console=ttyS0 clearcpuid=sha_ni", "sha_ni"));
        assert!(clears_cpu_feature("clearcpuid=avx2,sha_ni quiet", "sha_ni"));
        assert!(clears_cpu_feature("clearcpuid=pcid clearcpuid=sha_ni", "sha_ni"));
        assert!(!clears_cpu_feature("clearcpuid=avx2", "sha_ni"));
        assert!(!clears_cpu_feature("clearcpuid=sha_nix", "sha_ni"));
        assert!(!clears_cpu_feature("sha_ni clearcpuid", "sha_ni"));
        assert!(!clears_cpu_feature("", "sha_ni"));
    }

    fn p<'a>(key: &'a str, value: Option<&'a str>) -> Param<'a> {
        Param { key, value }
    }

    fn all(s: &str) -> Vec<Param<'_>> {
        params(s).collect()
    }

    #[test]
    fn simple() {
        assert_eq!(
            all("console=ttyS0,115200 quiet  root=/dev/ram0\tinit=/sbin/init"),
            [
                p("console", Some("ttyS0,115200")),
                p("quiet", None),
                p("root", Some("/dev/ram0")),
                p("init", Some("/sbin/init")),
            ]
        );
        assert_eq!(all("a=b=c"), [p("a", Some("b=c"))]);
        assert_eq!(all("key="), [p("key", Some(""))]);
        assert_eq!(all("=x"), [p("=x", None)]);
        assert_eq!(all("=a=b"), [p("=a", Some("b"))]);
    }

    #[test]
    fn empty_and_spaces() {
        assert!(all("").is_empty());
        assert!(all("   \t\n ").is_empty());
        assert_eq!(all("  a   b  "), [p("a", None), p("b", None)]);
        assert_eq!(all("a\n"), [p("a", None)]);
    }

    #[test]
    fn quoting() {
        assert_eq!(all(r#"foo="a b" c"#), [p("foo", Some("a b")), p("c", None)]);
        assert_eq!(all(r#""foo bar" x"#), [p("foo bar", None), p("x", None)]);
        assert_eq!(all(r#""foo=bar baz""#), [p("foo", Some("bar baz"))]);
        assert_eq!(all(r#"foo="""#), [p("foo", Some(""))]);
        assert_eq!(all(r#"a="b"#), [p("a", Some("b"))]);
        assert_eq!(
            all(r#"a="unterminated x y"#),
            [p("a", Some("unterminated x y"))]
        );
        assert_eq!(all(r#"dy="ab"c"#), [p("dy", Some("ab\"c"))]);
        assert_eq!(all(r#"""#), [p("", None)]);
        assert_eq!(
            all("ключ=значение é"),
            [p("ключ", Some("значение")), p("é", None)]
        );
    }

    #[test]
    fn dashes() {
        let c = "quiet -- single --verbose x=1";
        assert_eq!(all(c), [p("quiet", None)]);
        assert_eq!(init_args(c), "single --verbose x=1");
        assert_eq!(init_args("a b"), "");
        assert_eq!(init_args("--"), "");
        assert_eq!(init_args("a --x -- b"), "b");
        assert_eq!(
            all("a --=1 b"),
            [p("a", None), p("--", Some("1")), p("b", None)]
        );
        assert_eq!(get("x=1 -- x=2", "x"), Some(p("x", Some("1"))));
    }

    #[test]
    fn lookups() {
        let c = "console=tty0 console=ttyS0 quiet debug=0 loud=on nokaslr=";
        assert_eq!(get(c, "console"), Some(p("console", Some("ttyS0"))));
        assert_eq!(get(c, "cons"), None);
        assert!(has_flag(c, "quiet"));
        assert!(!has_flag(c, "debug"));
        assert!(has_flag(c, "loud"));
        assert!(!has_flag(c, "nokaslr"));
        assert!(!has_flag(c, "missing"));
        assert!(!has_flag("", "quiet"));
        assert!(has_flag("quiet=0 quiet", "quiet"));
    }
}
