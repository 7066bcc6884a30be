//! `grep -F`: a streaming fixed-string searcher over bytes.
//!
//! Input is fed in chunks of any size ([`Searcher::feed`]); matches that
//! straddle chunk boundaries are found, offsets are absolute, and only the
//! current line is ever held (and only when whole lines are printed), so
//! `grep -c` over a file of hundreds of MiB needs no more than its read buffer.
//!
//! A line is the bytes between two `\n` (any bytes, NUL included: `-a` is
//! always on). Matches never span lines; a pattern containing `\n` matches
//! nothing; the empty pattern matches every line. `-o` reports non-overlapping
//! matches left to right ("aaa" in "aaaa" once, at 0), as GNU and busybox grep.

use alloc::vec::Vec;

/// What the caller wants to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Matching lines ([`Hit::Line`]).
    Lines,
    /// Only the number of matching lines (`-c`).
    Count,
    /// Every match ([`Hit::Match`], `-o`).
    Only,
    /// Stop at the first match (`-q`).
    Quiet,
}

/// A result, with absolute byte offsets from the start of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit<'a> {
    /// A matching line, without its `\n`, starting at `offset`.
    Line { offset: u64, text: &'a [u8] },
    /// A match (its bytes are the pattern) at `offset`.
    Match { offset: u64 },
}

/// A streaming fixed-string search over one input.
pub struct Searcher {
    pat: Vec<u8>,
    mode: Mode,
    /// The pattern can match (non-empty, no `\n`).
    can_match: bool,
    /// Absolute offset of the next byte to be fed.
    pos: u64,
    /// The last (< pattern length) bytes fed of the current line that may
    /// still start a match; they end at `pos`.
    carry: Vec<u8>,
    /// No match may start before this (matches do not overlap).
    next_ok: u64,
    line_start: u64,
    line_hit: bool,
    /// The current line so far, in [`Mode::Lines`], when it spans chunks.
    line: Vec<u8>,
    /// Matching lines completed so far.
    lines: u64,
}

impl Searcher {
    pub fn new(pat: &[u8], mode: Mode) -> Self {
        Searcher {
            pat: pat.into(),
            mode,
            can_match: !pat.is_empty() && !pat.contains(&b'\n'),
            pos: 0,
            carry: Vec::new(),
            next_ok: 0,
            line_start: 0,
            line_hit: false,
            line: Vec::new(),
            lines: 0,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Matching lines so far (all of them after [`finish`](Self::finish)).
    pub fn matched_lines(&self) -> u64 {
        self.lines
    }

    /// Whether anything matched so far.
    pub fn found(&self) -> bool {
        self.lines > 0 || self.line_hit
    }

    /// Search the next chunk. Returns `false` when the caller can stop
    /// reading ([`Mode::Quiet`] found a match).
    pub fn feed<F: FnMut(Hit<'_>)>(&mut self, chunk: &[u8], emit: &mut F) -> bool {
        let base = self.pos;
        if self.pat.is_empty() && !chunk.is_empty() {
            self.line_hit = true;
        }
        self.straddling(chunk, emit);
        if self.stop() {
            return false;
        }
        let mut i = (self.next_ok.saturating_sub(base) as usize).min(chunk.len());
        let mut seg = 0; // where the current line starts in `chunk`
        while i < chunk.len() {
            let rest = &chunk[i..];
            let found = if self.wants_matches() {
                find2(rest, b'\n', self.pat[0])
            } else {
                find1(rest, b'\n')
            };
            let Some(k) = found else { break };
            let j = i + k;
            if chunk[j] == b'\n' {
                self.end_line(&chunk[seg..j], base + j as u64, emit);
                seg = j + 1;
                i = j + 1;
            } else if chunk[j..].starts_with(&self.pat) {
                self.hit(base + j as u64, emit);
                if self.stop() {
                    return false;
                }
                i = j + self.pat.len();
            } else {
                i = j + 1;
            }
        }
        if self.mode == Mode::Lines {
            self.line.extend_from_slice(&chunk[seg..]);
        }
        self.pos = base + chunk.len() as u64;
        self.keep_carry(&chunk[seg..]);
        true
    }

    /// End of input: the last line, if it has no `\n`.
    pub fn finish<F: FnMut(Hit<'_>)>(&mut self, emit: &mut F) {
        if self.pos > self.line_start && self.line_hit {
            self.lines += 1;
            if self.mode == Mode::Lines {
                emit(Hit::Line {
                    offset: self.line_start,
                    text: &self.line,
                });
            }
        }
        self.line.clear();
        self.carry.clear();
        self.line_start = self.pos;
        self.line_hit = false;
    }

    fn stop(&self) -> bool {
        self.mode == Mode::Quiet && self.line_hit
    }

    /// Whether to look for matches at all (after the first one of a line,
    /// only `-o` needs the others).
    fn wants_matches(&self) -> bool {
        self.can_match && (!self.line_hit || self.mode == Mode::Only)
    }

    fn hit<F: FnMut(Hit<'_>)>(&mut self, offset: u64, emit: &mut F) {
        self.line_hit = true;
        self.next_ok = offset + self.pat.len() as u64;
        if self.mode == Mode::Only {
            emit(Hit::Match { offset });
        }
    }

    /// A `\n` at `nl`; `tail` is the line's part in the current chunk.
    fn end_line<F: FnMut(Hit<'_>)>(&mut self, tail: &[u8], nl: u64, emit: &mut F) {
        if self.line_hit {
            self.lines += 1;
            if self.mode == Mode::Lines {
                let offset = self.line_start;
                if self.line.is_empty() {
                    emit(Hit::Line { offset, text: tail });
                } else {
                    self.line.extend_from_slice(tail);
                    emit(Hit::Line {
                        offset,
                        text: &self.line,
                    });
                }
            }
        }
        self.line.clear();
        self.carry.clear();
        self.line_start = nl + 1;
        self.line_hit = self.pat.is_empty();
    }

    /// Matches that start in `carry` (the end of the previous chunks) and
    /// end in `chunk`.
    fn straddling<F: FnMut(Hit<'_>)>(&mut self, chunk: &[u8], emit: &mut F) {
        if self.carry.is_empty() || !self.wants_matches() {
            return;
        }
        let m = self.pat.len();
        let head = &chunk[..(m - 1).min(chunk.len())];
        let head = head
            .iter()
            .position(|&c| c == b'\n')
            .map_or(head, |n| &head[..n]);
        let mut win = core::mem::take(&mut self.carry);
        let clen = win.len();
        win.extend_from_slice(head);
        let carry_start = self.pos - clen as u64;
        for s in 0..clen {
            let at = carry_start + s as u64;
            if at >= self.next_ok && self.wants_matches() && win[s..].starts_with(&self.pat) {
                self.hit(at, emit);
                if self.stop() {
                    break;
                }
            }
        }
        win.truncate(clen);
        self.carry = win;
    }

    /// Keep the bytes at the end of the current line that may start a
    /// match completed by the next chunk. `line_tail` is the current line's
    /// part of the chunk just fed (it ends at `pos`).
    fn keep_carry(&mut self, line_tail: &[u8]) {
        if !self.wants_matches() {
            self.carry.clear();
            return;
        }
        let keep = self.pat.len() - 1;
        self.carry
            .extend_from_slice(&line_tail[line_tail.len().saturating_sub(keep)..]);
        let start = self.pos - self.carry.len() as u64;
        let unusable = self.next_ok.saturating_sub(start) as usize;
        let drop = unusable
            .max(self.carry.len().saturating_sub(keep))
            .min(self.carry.len());
        self.carry.drain(..drop);
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Nonzero iff a byte of `v` is zero; the lowest flagged byte is the first zero.
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

fn word(h: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(h[i..i + 8].try_into().unwrap())
}

/// The first `a` in `h` (eight bytes at a time).
pub fn find1(h: &[u8], a: u8) -> Option<usize> {
    let va = LO * a as u64;
    let mut i = 0;
    while i + 8 <= h.len() {
        let z = zero_bytes(word(h, i) ^ va);
        if z != 0 {
            return Some(i + z.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    h[i..].iter().position(|&c| c == a).map(|p| i + p)
}

/// The first `a` or `b` in `h`.
pub fn find2(h: &[u8], a: u8, b: u8) -> Option<usize> {
    let (va, vb) = (LO * a as u64, LO * b as u64);
    let mut i = 0;
    while i + 8 <= h.len() {
        let w = word(h, i);
        let z = zero_bytes(w ^ va) | zero_bytes(w ^ vb);
        if z != 0 {
            return Some(i + z.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    h[i..].iter().position(|&c| c == a || c == b).map(|p| i + p)
}

/// Append one output line: `[NAME:][OFFSET:]TEXT\n` (`grep -b` puts the
/// byte offset after the file name, as GNU grep).
pub fn output_line(name: Option<&str>, offset: Option<u64>, text: &[u8], out: &mut Vec<u8>) {
    if let Some(n) = name {
        out.extend_from_slice(n.as_bytes());
        out.push(b':');
    }
    if let Some(o) = offset {
        out.extend_from_slice(alloc::format!("{o}:").as_bytes());
    }
    out.extend_from_slice(text);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    /// Run over `data` cut into chunks of `size`; hits as strings.
    fn run(pat: &str, mode: Mode, data: &[u8], size: usize) -> (Vec<String>, u64) {
        let mut s = Searcher::new(pat.as_bytes(), mode);
        let mut hits = Vec::new();
        let mut emit = |h: Hit<'_>| {
            hits.push(match h {
                Hit::Line { offset, text } => {
                    alloc::format!("{offset}:{}", String::from_utf8_lossy(text))
                }
                Hit::Match { offset } => alloc::format!("{offset}"),
            })
        };
        for c in data.chunks(size.max(1)) {
            if !s.feed(c, &mut emit) {
                return (hits, u64::MAX);
            }
        }
        s.finish(&mut emit);
        (hits, s.matched_lines())
    }

    /// Same result for every chunk size from 1 to the whole input.
    fn all_sizes(pat: &str, mode: Mode, data: &[u8]) -> (Vec<String>, u64) {
        let whole = run(pat, mode, data, data.len());
        for size in 1..=data.len() + 1 {
            assert_eq!(run(pat, mode, data, size), whole, "chunk size {size}");
        }
        whole
    }

    const TEXT: &[u8] = b"xaaaay\nfoo aaa aaa\nnone\naaa";

    #[test]
    fn lines_with_offsets() {
        // GNU grep -b aaa: 0:xaaaay, 7:foo aaa aaa, 24:aaa.
        let (hits, n) = all_sizes("aaa", Mode::Lines, TEXT);
        assert_eq!(hits, ["0:xaaaay", "7:foo aaa aaa", "24:aaa"]);
        assert_eq!(n, 3);
    }

    #[test]
    fn only_matching_non_overlapping() {
        // GNU grep -ob aaa: 1, 11, 15, 24.
        assert_eq!(
            all_sizes("aaa", Mode::Only, TEXT),
            (
                alloc::vec!["1".into(), "11".into(), "15".into(), "24".into()],
                3
            )
        );
        assert_eq!(all_sizes("aaa", Mode::Only, b"aaaa").0, ["0"]);
        assert_eq!(all_sizes("aa", Mode::Only, b"aaaaa").0, ["0", "2"]);
        assert_eq!(all_sizes("abab", Mode::Only, b"abababab").0, ["0", "4"]);
    }

    #[test]
    fn count_lines_not_matches() {
        assert_eq!(all_sizes("aaa", Mode::Count, TEXT), (alloc::vec![], 3));
        assert_eq!(all_sizes("a", Mode::Count, b"aaaa\naa\n\nb\na").1, 3);
        assert_eq!(all_sizes("zz", Mode::Count, TEXT).1, 0);
    }

    #[test]
    fn straddles_boundaries() {
        let mut data = alloc::vec![b'.'; 300];
        data[98..104].copy_from_slice(b"KEXOS!");
        data[200..206].copy_from_slice(b"KEXOS!");
        for size in [1, 2, 3, 50, 99, 100, 101, 102, 103, 256] {
            assert_eq!(
                run("KEXOS!", Mode::Only, &data, size).0,
                ["98", "200"],
                "size {size}"
            );
        }
        // Not across a newline.
        assert_eq!(all_sizes("ab", Mode::Count, b"a\nb a\nb").1, 0);
    }

    #[test]
    fn binary_and_nul() {
        let data = b"\0\0ELF\0core\nCORE\0\xff\xfeELF\0";
        assert_eq!(all_sizes("ELF\0", Mode::Only, data).0, ["2", "18"]);
        assert_eq!(all_sizes("\0", Mode::Count, data).1, 2);
        let (hits, _) = all_sizes("core", Mode::Lines, data);
        assert_eq!(hits, [String::from("0:\0\0ELF\0core")]);
    }

    #[test]
    fn last_line_and_empty_pattern() {
        assert_eq!(all_sizes("", Mode::Count, b"a\n\nb\n").1, 3);
        assert_eq!(all_sizes("", Mode::Count, b"a\nb").1, 2);
        assert_eq!(all_sizes("", Mode::Count, b"").1, 0);
        assert_eq!(all_sizes("", Mode::Only, b"ab\n").0.len(), 0);
        assert_eq!(
            all_sizes("", Mode::Lines, b"x\n\ny").0,
            ["0:x", "2:", "3:y"]
        );
        assert_eq!(all_sizes("a\nb", Mode::Count, b"a\nb").1, 0);
    }

    #[test]
    fn quiet_stops_early() {
        let mut s = Searcher::new(b"needle", Mode::Quiet);
        let mut emit = |_: Hit<'_>| panic!("quiet emits nothing");
        assert!(s.feed(b"hay hay nee", &mut emit));
        assert!(!s.feed(b"dle hay", &mut emit));
        assert!(s.found());
        let mut s = Searcher::new(b"needle", Mode::Quiet);
        assert!(s.feed(b"hay", &mut emit));
        s.finish(&mut emit);
        assert!(!s.found());
    }

    #[test]
    fn long_line_across_chunks_is_printed_whole() {
        let mut data = alloc::vec![b'x'; 1000];
        data[990..993].copy_from_slice(b"hit");
        data.extend_from_slice(b"\nno\n");
        let (hits, n) = run("hit", Mode::Lines, &data, 64);
        assert_eq!(n, 1);
        assert_eq!(hits[0].len(), 2 + 1000);
    }

    #[test]
    fn big_stream_counts() {
        // ~4 MiB in 256 KiB chunks with a match straddling every boundary.
        let chunk = 256 * 1024;
        let mut data = alloc::vec![0u8; 16 * chunk];
        let mut want = Vec::new();
        for k in 1..16 {
            let at = k * chunk - 3;
            data[at..at + 7].copy_from_slice(b"VMCORE\n");
            want.push(alloc::format!("{at}"));
        }
        let (hits, n) = run("VMCORE", Mode::Only, &data, chunk);
        assert_eq!((hits, n), (want, 15));
        assert_eq!(run("VMCORE", Mode::Count, &data, chunk).1, 15);
    }

    #[test]
    fn finders() {
        let h = b"0123456789abcdef\nxyz";
        assert_eq!(find1(h, b'\n'), Some(16));
        assert_eq!(find1(h, b'z'), Some(19));
        assert_eq!(find1(h, b'Q'), None);
        assert_eq!(find2(h, b'\n', b'9'), Some(9));
        assert_eq!(find2(h, b'y', b'\n'), Some(16));
        assert_eq!(find2(&[0x80, 0x81, 0x01, 0], 0, 1), Some(2));
        for i in 0..40 {
            let mut v = alloc::vec![0xffu8; 40];
            v[i] = 0;
            assert_eq!(find1(&v, 0), Some(i));
            assert_eq!(find2(&v, 7, 0), Some(i));
        }
    }

    #[test]
    fn output_lines() {
        let mut out = Vec::new();
        output_line(None, None, b"text", &mut out);
        output_line(Some("f"), Some(11), b"aaa", &mut out);
        output_line(None, Some(0), b"", &mut out);
        assert_eq!(out, b"text\nf:11:aaa\n0:\n");
    }
}
