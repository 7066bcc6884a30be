//! Command-line parsing: words, quoting, escapes, comments and output redirection.
//!
//! Rules (a small subset of POSIX sh):
//! - words are separated by unquoted blanks (space, tab, CR, LF);
//! - `'...'` groups literally; `"..."` groups, with `\"`, `\\`, `\$` and `` \` ``
//!   escaped inside; quotes may appear mid-word (`--append="a b"` is the single
//!   word `--append=a b`) and `''` is an empty word;
//! - an unquoted backslash makes the next character literal;
//! - an unquoted `#` at the start of a word starts a comment;
//! - an unquoted `>` or `>>` redirects standard output, with or without blanks
//!   around it (`echo x>/tmp/f`). The last redirection wins.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// One lexical token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// `>`
    RedirOut,
    /// `>>`
    RedirAppend,
}

/// Where a command's standard output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub path: String,
    /// `>>` (append) rather than `>` (truncate).
    pub append: bool,
}

/// A parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    /// The words; may be empty when the line is only a redirection (`> f`).
    pub argv: Vec<String>,
    pub redirect: Option<Redirect>,
}

/// Why a line could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A `'` or `"` was not closed.
    UnterminatedQuote(char),
    /// `>` or `>>` with no file name after it; carries what followed
    /// (`None` = end of line).
    MissingRedirectTarget(Option<&'static str>),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnterminatedQuote(q) => write!(f, "syntax error: unterminated quote {q}"),
            ParseError::MissingRedirectTarget(None) => {
                f.write_str("syntax error near unexpected token `newline'")
            }
            ParseError::MissingRedirectTarget(Some(t)) => {
                write!(f, "syntax error near unexpected token `{t}'")
            }
        }
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Split a line into tokens.
pub fn tokenize(line: &str) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    let mut word = String::new();
    // A word has started even if it is still empty (`''`).
    let mut in_word = false;
    let mut chars = line.chars().peekable();

    macro_rules! end_word {
        () => {
            if in_word {
                out.push(Token::Word(core::mem::take(&mut word)));
                in_word = false;
            }
        };
    }

    while let Some(c) = chars.next() {
        match c {
            c if is_blank(c) => end_word!(),
            '#' if !in_word => break,
            '>' => {
                end_word!();
                if chars.peek() == Some(&'>') {
                    chars.next();
                    out.push(Token::RedirAppend);
                } else {
                    out.push(Token::RedirOut);
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(ParseError::UnterminatedQuote('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some(e) => {
                                word.push('\\');
                                word.push(e);
                            }
                            None => return Err(ParseError::UnterminatedQuote('"')),
                        },
                        Some(c) => word.push(c),
                        None => return Err(ParseError::UnterminatedQuote('"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                // A trailing backslash stands for itself.
                word.push(chars.next().unwrap_or('\\'));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(Token::Word(word));
    }
    Ok(out)
}

/// Parse a line into a command. `Ok(None)` for blank lines and comments.
pub fn parse(line: &str) -> Result<Option<Command>, ParseError> {
    let mut cmd = Command::default();
    let mut any = false;
    let mut toks = tokenize(line)?.into_iter();
    while let Some(t) = toks.next() {
        any = true;
        match t {
            Token::Word(w) => cmd.argv.push(w),
            Token::RedirOut | Token::RedirAppend => {
                let append = t == Token::RedirAppend;
                match toks.next() {
                    Some(Token::Word(path)) => cmd.redirect = Some(Redirect { path, append }),
                    Some(Token::RedirOut) => {
                        return Err(ParseError::MissingRedirectTarget(Some(">")))
                    }
                    Some(Token::RedirAppend) => {
                        return Err(ParseError::MissingRedirectTarget(Some(">>")))
                    }
                    None => return Err(ParseError::MissingRedirectTarget(None)),
                }
            }
        }
    }
    Ok(any.then_some(cmd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn words(line: &str) -> Vec<String> {
        parse(line).unwrap().unwrap().argv
    }
    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn blanks_split_words() {
        assert_eq!(words("  ls   -l\t/tmp  "), w(&["ls", "-l", "/tmp"]));
        assert_eq!(words("echo a\r\n"), w(&["echo", "a"]));
    }

    #[test]
    fn empty_and_comments() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("   \t "), Ok(None));
        assert_eq!(parse("# a comment"), Ok(None));
        assert_eq!(parse("   # indented comment"), Ok(None));
        assert_eq!(words("echo hi # trailing"), w(&["echo", "hi"]));
        assert_eq!(words("echo a#b"), w(&["echo", "a#b"]));
        assert_eq!(words("echo '#not'"), w(&["echo", "#not"]));
        assert_eq!(words("echo \\#x"), w(&["echo", "#x"]));
    }

    #[test]
    fn quotes_group() {
        assert_eq!(
            words("kexec --append=\"a b\" -l x"),
            w(&["kexec", "--append=a b", "-l", "x"])
        );
        assert_eq!(words("echo 'a  b' \"c d\""), w(&["echo", "a  b", "c d"]));
        assert_eq!(words("echo 'it''s'"), w(&["echo", "its"]));
        assert_eq!(words("echo \"it's\""), w(&["echo", "it's"]));
        assert_eq!(words("echo '\"'"), w(&["echo", "\""]));
        assert_eq!(words("echo '' x"), w(&["echo", "", "x"]));
        assert_eq!(words("echo \"\""), w(&["echo", ""]));
        assert_eq!(words("echo 'a\\b'"), w(&["echo", "a\\b"]));
    }

    #[test]
    fn backslash_escapes() {
        assert_eq!(words("echo a\\ b"), w(&["echo", "a b"]));
        assert_eq!(words("echo \\'x"), w(&["echo", "'x"]));
        assert_eq!(words("echo \"a\\\"b\\\\c\\n\""), w(&["echo", "a\"b\\c\\n"]));
        assert_eq!(words("echo \\>f"), w(&["echo", ">f"]));
        assert_eq!(words("echo x\\"), w(&["echo", "x\\"]));
    }

    #[test]
    fn unterminated_quotes() {
        assert_eq!(parse("echo 'abc"), Err(ParseError::UnterminatedQuote('\'')));
        assert_eq!(parse("echo \"abc"), Err(ParseError::UnterminatedQuote('"')));
        assert_eq!(
            parse("echo \"abc\\"),
            Err(ParseError::UnterminatedQuote('"'))
        );
    }

    #[test]
    fn redirections() {
        let r = |p: &str, append| {
            Some(Redirect {
                path: p.to_string(),
                append,
            })
        };
        for line in [
            "echo x > /tmp/f",
            "echo x >/tmp/f",
            "echo x>/tmp/f",
            "echo x> /tmp/f",
        ] {
            let c = parse(line).unwrap().unwrap();
            assert_eq!(c.argv, w(&["echo", "x"]), "{line}");
            assert_eq!(c.redirect, r("/tmp/f", false), "{line}");
        }
        let c = parse("echo a b >> log").unwrap().unwrap();
        assert_eq!(
            (c.argv, c.redirect),
            (w(&["echo", "a", "b"]), r("log", true))
        );
        let c = parse("echo x>>log").unwrap().unwrap();
        assert_eq!(c.redirect, r("log", true));
        let c = parse("> /tmp/empty").unwrap().unwrap();
        assert!(c.argv.is_empty());
        assert_eq!(c.redirect, r("/tmp/empty", false));
        let c = parse("echo x >a >b").unwrap().unwrap();
        assert_eq!(c.redirect, r("b", false));
        let c = parse("echo '>' \">>\" > \"my file\"").unwrap().unwrap();
        assert_eq!(c.argv, w(&["echo", ">", ">>"]));
        assert_eq!(c.redirect, r("my file", false));
    }

    #[test]
    fn redirection_errors() {
        assert_eq!(
            parse("echo x >"),
            Err(ParseError::MissingRedirectTarget(None))
        );
        assert_eq!(
            parse("echo x >> # c"),
            Err(ParseError::MissingRedirectTarget(None))
        );
        assert_eq!(
            parse("echo x > >> f"),
            Err(ParseError::MissingRedirectTarget(Some(">>")))
        );
        assert_eq!(
            ParseError::MissingRedirectTarget(None).to_string(),
            "syntax error near unexpected token `newline'"
        );
    }

    #[test]
    fn tokens() {
        assert_eq!(
            tokenize("a>>b>c").unwrap(),
            vec![
                Token::Word("a".into()),
                Token::RedirAppend,
                Token::Word("b".into()),
                Token::RedirOut,
                Token::Word("c".into())
            ]
        );
    }
}
