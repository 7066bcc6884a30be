//! The 110-byte ASCII header.

use crate::{Error, HEADER_LEN, MAGIC_CRC, MAGIC_NEWC};

/// Field names in header order (after the 6-byte magic).
const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// The decoded numeric fields of a header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Header {
    /// True for the "crc" format (070702): `check` is the data byte sum.
    pub crc: bool,
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    pub devmajor: u32,
    pub devminor: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
    pub namesize: u32,
    pub check: u32,
}

impl Header {
    /// Parse the header at `offset` in `archive`.
    pub fn parse(archive: &[u8], offset: usize) -> Result<Header, Error> {
        let rest = archive.get(offset..).unwrap_or(&[]);
        let crc = match_magic(rest).ok_or(Error::BadMagic { offset })?;
        let raw = rest.get(..HEADER_LEN).ok_or(Error::Truncated {
            offset,
            need: HEADER_LEN,
        })?;
        let mut v = [0u32; 13];
        for (i, (slot, field)) in v.iter_mut().zip(FIELDS).enumerate() {
            let start = 6 + i * 8;
            let digits = raw.get(start..start + 8).ok_or(Error::Truncated {
                offset,
                need: HEADER_LEN,
            })?;
            *slot = parse_hex8(digits).ok_or(Error::BadHex { offset, field })?;
        }
        let [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check] =
            v;
        Ok(Header {
            crc,
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            filesize,
            devmajor,
            devminor,
            rdevmajor,
            rdevminor,
            namesize,
            check,
        })
    }

    /// Append the header in newc form (magic `070701`, or `070702` if `crc`).
    pub fn write(&self, out: &mut alloc::vec::Vec<u8>) {
        out.extend_from_slice(if self.crc { MAGIC_CRC } else { MAGIC_NEWC });
        let fields = [
            self.ino,
            self.mode,
            self.uid,
            self.gid,
            self.nlink,
            self.mtime,
            self.filesize,
            self.devmajor,
            self.devminor,
            self.rdevmajor,
            self.rdevminor,
            self.namesize,
            self.check,
        ];
        for value in fields {
            push_hex8(out, value);
        }
    }
}

/// Which magic `rest` starts with: `Some(crc)`. A partial magic at the end
/// of input counts as a match (the caller then reports truncation).
fn match_magic(rest: &[u8]) -> Option<bool> {
    let n = rest.len().min(6);
    let head = rest.get(..n)?;
    if MAGIC_NEWC.starts_with(head) {
        Some(false)
    } else if MAGIC_CRC.starts_with(head) {
        Some(true)
    } else {
        None
    }
}

/// Exactly 8 hex digits (either case) to a u32.
fn parse_hex8(digits: &[u8]) -> Option<u32> {
    if digits.len() != 8 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &c| {
        let d = (c as char).to_digit(16)?;
        Some((acc << 4) | d)
    })
}

/// Append `value` as 8 upper-case hex digits (what GNU cpio writes).
fn push_hex8(out: &mut alloc::vec::Vec<u8>, value: u32) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for shift in (0..8).rev() {
        out.push(HEX[((value >> (shift * 4)) & 0xf) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn hex8() {
        assert_eq!(parse_hex8(b"0000001f"), Some(31));
        assert_eq!(parse_hex8(b"FFFFFFFF"), Some(u32::MAX));
        assert_eq!(parse_hex8(b"0000001g"), None);
        assert_eq!(parse_hex8(b"+0000001"), None);
        assert_eq!(parse_hex8(b"0001"), None);
    }

    #[test]
    fn write_parse_roundtrip() {
        let h = Header {
            ino: 7,
            mode: 0o100644,
            nlink: 1,
            filesize: 0xdead,
            namesize: 5,
            ..Default::default()
        };
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out.len(), HEADER_LEN);
        assert_eq!(Header::parse(&out, 0), Ok(h));
    }

    #[test]
    fn errors() {
        let mut out = Vec::new();
        Header::default().write(&mut out);
        assert_eq!(
            Header::parse(&out[..50], 0),
            Err(Error::Truncated {
                offset: 0,
                need: 110
            })
        );
        assert_eq!(
            Header::parse(&out[..3], 0),
            Err(Error::Truncated {
                offset: 0,
                need: 110
            })
        );
        assert_eq!(
            Header::parse(b"0707", 0),
            Err(Error::Truncated {
                offset: 0,
                need: 110
            })
        );
        assert_eq!(
            Header::parse(b"0708", 0),
            Err(Error::BadMagic { offset: 0 })
        );
        assert_eq!(
            Header::parse(&out, 200),
            Err(Error::Truncated {
                offset: 200,
                need: 110
            })
        );
        out[14 + 3] = b'z'; // inside "mode"
        assert_eq!(
            Header::parse(&out, 0),
            Err(Error::BadHex {
                offset: 0,
                field: "mode"
            })
        );
        out[0] = b'1';
        assert_eq!(Header::parse(&out, 0), Err(Error::BadMagic { offset: 0 }));
    }
}
