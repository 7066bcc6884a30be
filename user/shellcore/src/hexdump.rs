//! `hexdump -C` (util-linux's canonical format), streaming:
//!
//! ```text
//! 00000000  7f 45 4c 46 02 01 01 00  00 00 00 00 00 00 00 00  |.ELF............|
//! *
//! 00000040  78 79 7a                                          |xyz|
//! 00000043
//! ```
//!
//! A 16-byte line identical to the previous one is replaced by one `*`
//! (until a different line); a short last line is never squeezed; the
//! offset after the last byte ends the dump.

use crate::num::parse_size;
use crate::opts::{Arg, Parser};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Bytes per line.
pub const LINE: usize = 16;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append `%08x\n` (the final offset line).
pub fn offset_line(addr: u64, out: &mut Vec<u8>) {
    push_offset(addr, out);
    out.push(b'\n');
}

fn push_offset(addr: u64, out: &mut Vec<u8>) {
    let digits = (64 - addr.leading_zeros() as usize).div_ceil(4).max(8);
    for i in (0..digits).rev() {
        out.push(HEX[(addr >> (4 * i)) as usize & 0xf]);
    }
}

/// Append one canonical line for up to 16 bytes at `addr`; the hex columns
/// of a short line are padded so that `|` stays in column 60.
pub fn canonical_line(addr: u64, bytes: &[u8], out: &mut Vec<u8>) {
    push_offset(addr, out);
    out.extend_from_slice(b"  ");
    for i in 0..LINE {
        match bytes.get(i) {
            Some(&b) => {
                out.extend_from_slice(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize], b' '])
            }
            None => out.extend_from_slice(b"   "),
        }
        if i == 7 {
            out.push(b' ');
        }
    }
    out.extend_from_slice(b" |");
    out.extend(
        bytes
            .iter()
            .map(|&b| if (0x20..0x7f).contains(&b) { b } else { b'.' }),
    );
    out.extend_from_slice(b"|\n");
}

/// A streaming `hexdump -C`: [`feed`](Self::feed) data as it is read, then
/// [`finish`](Self::finish).
pub struct HexDump {
    /// Offset of the first byte of `pending`.
    addr: u64,
    pending: [u8; LINE],
    len: usize,
    /// The last full line printed (for squeezing).
    prev: Option<[u8; LINE]>,
    /// A `*` was printed for the current run of identical lines.
    starred: bool,
    fed: bool,
}

impl HexDump {
    /// A dump whose first byte is at offset `start` (`hexdump -s`).
    pub fn new(start: u64) -> Self {
        HexDump {
            addr: start,
            pending: [0; LINE],
            len: 0,
            prev: None,
            starred: false,
            fed: false,
        }
    }

    /// Format `data`, appending complete lines to `out`.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        self.fed |= !data.is_empty();
        if self.len > 0 {
            let n = (LINE - self.len).min(data.len());
            self.pending[self.len..self.len + n].copy_from_slice(&data[..n]);
            self.len += n;
            data = &data[n..];
            if self.len < LINE {
                return;
            }
            let line = self.pending;
            self.full_line(&line, out);
            self.len = 0;
        }
        let (lines, rest) = data.as_chunks::<LINE>();
        for line in lines {
            self.full_line(line, out);
        }
        self.pending[..rest.len()].copy_from_slice(rest);
        self.len = rest.len();
    }

    fn full_line(&mut self, line: &[u8; LINE], out: &mut Vec<u8>) {
        if self.prev.as_ref() == Some(line) {
            if !self.starred {
                out.extend_from_slice(b"*\n");
                self.starred = true;
            }
        } else {
            canonical_line(self.addr, line, out);
            self.prev = Some(*line);
            self.starred = false;
        }
        self.addr += LINE as u64;
    }

    /// The short last line, then the final offset (only if any data was fed).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.len > 0 {
            canonical_line(self.addr, &self.pending[..self.len], out);
            self.addr += self.len as u64;
            self.len = 0;
        }
        if self.fed {
            offset_line(self.addr, out);
        }
    }
}

/// `hexdump [-C] [-s OFFSET] [-n LENGTH] [FILE]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub skip: u64,
    pub length: Option<u64>,
    /// `None`: standard input.
    pub file: Option<String>,
}

/// Parse hexdump's arguments (without argv\[0\]); the error is the message
/// after `hexdump: `.
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Args, String> {
    let mut p = Parser::new(args);
    let mut a = Args::default();
    while let Some(arg) = p.next().map_err(|e| format!("{e}"))? {
        match arg {
            Arg::Short('C') => {}
            Arg::Short('s') => {
                let v = p.value().map_err(|e| format!("{e}"))?;
                a.skip = parse_size(v).ok_or_else(|| format!("failed to parse offset: '{v}'"))?;
            }
            Arg::Short('n') => {
                let v = p.value().map_err(|e| format!("{e}"))?;
                a.length =
                    Some(parse_size(v).ok_or_else(|| format!("failed to parse length: '{v}'"))?);
            }
            Arg::Value(v) if a.file.is_none() => a.file = Some(v.into()),
            other => return Err(format!("{}", other.unexpected())),
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(start: u64, chunks: &[&[u8]]) -> String {
        let mut h = HexDump::new(start);
        let mut out = Vec::new();
        for c in chunks {
            h.feed(c, &mut out);
        }
        h.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn short_line_is_padded() {
        assert_eq!(
            dump(0, &[b"hello"]),
            "00000000  68 65 6c 6c 6f                                    |hello|\n00000005\n"
        );
    }

    #[test]
    fn full_line_and_ascii() {
        let data: Vec<u8> = (0x30..0x40).collect();
        assert_eq!(
            dump(0, &[&data]),
            "00000000  30 31 32 33 34 35 36 37  38 39 3a 3b 3c 3d 3e 3f  |0123456789:;<=>?|\n\
             00000010\n"
        );
        let odd = [0u8, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff];
        assert!(dump(0, &[&odd]).contains("|.. ~...|"));
    }

    #[test]
    fn squeeze_repeated_lines() {
        // util-linux: 16 zeros, 48 bytes "A..P" x3, "xyz".
        let mut data = alloc::vec![0u8; 16];
        for _ in 0..3 {
            data.extend_from_slice(b"ABCDEFGHIJKLMNOP");
        }
        data.extend_from_slice(b"xyz");
        let want = "\
00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
00000010  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|
*
00000040  78 79 7a                                          |xyz|
00000043
";
        assert_eq!(dump(0, &[&data]), want);
        // Same output whatever the chunking.
        let bytewise: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(dump(0, &bytewise), want);
        let sevens: Vec<&[u8]> = data.chunks(7).collect();
        assert_eq!(dump(0, &sevens), want);
    }

    #[test]
    fn squeeze_to_end_and_short_tail_not_squeezed() {
        let z32 = [0u8; 32];
        assert_eq!(
            dump(0, &[&z32]),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00000020\n"
        );
        // util-linux prints the 5-byte tail, without a `*` before it.
        let out = dump(0, &[&[0u8; 21]]);
        assert_eq!(
            out.lines().nth(1).unwrap(),
            "00000010  00 00 00 00 00                                    |.....|"
        );
        assert_eq!(out.lines().count(), 3);
        // A run restarts after a different line.
        let mut d = alloc::vec![0u8; 48];
        d[16] = 1;
        let out = dump(0, &[&d]);
        assert_eq!(
            out.lines().map(|l| &l[..8]).collect::<Vec<_>>(),
            ["00000000", "00000010", "00000020", "00000030"]
        );
    }

    #[test]
    fn start_offset_and_empty() {
        assert_eq!(
            dump(3, &[b"abc"]),
            "00000003  61 62 63                                          |abc|\n00000006\n"
        );
        assert_eq!(dump(0, &[]), "");
        assert_eq!(dump(100, &[]), "");
        let mut out = Vec::new();
        offset_line(5, &mut out);
        offset_line(0x1_2345_6789, &mut out);
        assert_eq!(out, b"00000005\n123456789\n");
    }

    #[test]
    fn args() {
        let a = parse_args(&["-C", "-s", "0x10", "-n", "1K", "/proc/vmcore"]).unwrap();
        assert_eq!(
            a,
            Args {
                skip: 16,
                length: Some(1024),
                file: Some("/proc/vmcore".into())
            }
        );
        let a = parse_args(&["-n64", "f"]).unwrap();
        assert_eq!((a.skip, a.length), (0, Some(64)));
        assert_eq!(parse_args::<&str>(&[]).unwrap(), Args::default());
        assert_eq!(parse_args(&["-x"]).unwrap_err(), "invalid option -- 'x'");
        assert_eq!(
            parse_args(&["-s", "zz"]).unwrap_err(),
            "failed to parse offset: 'zz'"
        );
        assert_eq!(
            parse_args(&["-n"]).unwrap_err(),
            "option '-n' requires an argument"
        );
        assert_eq!(parse_args(&["a", "b"]).unwrap_err(), "extra operand 'b'");
    }
}
