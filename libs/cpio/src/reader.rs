//! Zero-copy iteration over the members of one or more archives.

use crate::header::Header;
use crate::{align4, Entry, Error, HEADER_LEN, TRAILER};

/// Iterate over the members of `archive` (see [`Entries`]).
pub fn entries(archive: &[u8]) -> Entries<'_> {
    Entries {
        archive,
        pos: 0,
        state: State::Between,
    }
}

/// Iterator over the members of a cpio stream, yielding `Result<Entry, Error>`.
///
/// * The stream may hold several archives, each ended by `TRAILER!!!`, with
///   NUL bytes between them; each archive must start 4-byte aligned.
/// * Input that ends after a trailer (or that is empty or all NULs) ends
///   cleanly; input that ends inside an archive is [`Error::Truncated`].
/// * Names lose a leading `./` or `/`; the `.` member is skipped.
/// * After an error the iterator yields `None` forever.
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    archive: &'a [u8],
    pos: usize,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first archive or after a trailer: NUL padding may follow.
    Between,
    /// Inside an archive: a header must follow.
    Inside,
    /// Finished (end of input or after an error).
    Done,
}

/// One parsed member: header, raw name, data, offset of the next member.
struct Member<'a> {
    header: Header,
    name: &'a str,
    data: &'a [u8],
    next: usize,
}

impl<'a> Entries<'a> {
    /// Byte offset of the next header to be read.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Skip NUL padding between archives; false at end of input.
    fn skip_padding(&mut self) -> Result<bool, Error> {
        while self.archive.get(self.pos) == Some(&0) {
            self.pos += 1;
        }
        if self.pos >= self.archive.len() {
            return Ok(false);
        }
        if !self.pos.is_multiple_of(4) {
            return Err(Error::BadPadding { offset: self.pos });
        }
        Ok(true)
    }

    /// Parse the member starting at `offset`.
    fn member(&self, offset: usize) -> Result<Member<'a>, Error> {
        let header = Header::parse(self.archive, offset)?;
        let name_start = offset + HEADER_LEN;
        let name_len = header.namesize as usize;
        let name_end = name_start
            .checked_add(name_len)
            .ok_or(Error::BadName { offset })?;
        let raw_name = self
            .archive
            .get(name_start..name_end)
            .ok_or(Error::Truncated {
                offset: name_start,
                need: name_len,
            })?;
        let name = decode_name(raw_name).ok_or(Error::BadName { offset })?;
        let too_big = Error::Truncated {
            offset: name_end,
            need: usize::MAX,
        };
        let data_start = align4(name_end).ok_or(too_big)?;
        let data_end = data_start
            .checked_add(header.filesize as usize)
            .ok_or(too_big)?;
        let need = data_end - name_end;
        if data_end > self.archive.len() {
            return Err(Error::Truncated {
                offset: name_end,
                need,
            });
        }
        let data = self
            .archive
            .get(data_start..data_end)
            .ok_or(Error::Truncated {
                offset: name_end,
                need,
            })?;
        check_sum(&header, data, offset)?;
        let next = align4(data_end)
            .unwrap_or(usize::MAX)
            .min(self.archive.len());
        Ok(Member {
            header,
            name,
            data,
            next,
        })
    }

    /// Advance by one member; `None` means "nothing to yield yet".
    fn step(&mut self) -> Result<Option<Entry<'a>>, Error> {
        if self.state == State::Between {
            if !self.skip_padding()? {
                self.state = State::Done;
                return Ok(None);
            }
            self.state = State::Inside;
        }
        let m = self.member(self.pos)?;
        self.pos = m.next;
        if m.name == TRAILER {
            self.state = State::Between;
            return Ok(None);
        }
        let name = strip_name(m.name);
        if name.is_empty() || name == "." {
            return Ok(None);
        }
        let h = m.header;
        Ok(Some(Entry {
            name,
            ino: h.ino,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            nlink: h.nlink,
            mtime: h.mtime,
            data: m.data,
        }))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.state != State::Done {
            match self.step() {
                Ok(Some(entry)) => return Some(Ok(entry)),
                Ok(None) => continue,
                Err(e) => {
                    self.state = State::Done;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

impl core::iter::FusedIterator for Entries<'_> {}

/// The name without its NUL; `None` unless it is non-empty UTF-8 ending in
/// exactly one NUL.
fn decode_name(raw: &[u8]) -> Option<&str> {
    let (&last, name) = raw.split_last()?;
    if last != 0 || name.is_empty() || name.contains(&0) {
        return None;
    }
    core::str::from_utf8(name).ok()
}

/// Remove any leading `./` and `/` prefixes.
fn strip_name(mut name: &str) -> &str {
    loop {
        if let Some(rest) = name.strip_prefix("./") {
            name = rest;
        } else if let Some(rest) = name.strip_prefix('/') {
            name = rest;
        } else {
            return name;
        }
    }
}

/// For the "crc" format, a regular file's data bytes must sum to the check
/// field (GNU cpio writes 0 for other member types; Linux checks nothing).
fn check_sum(header: &Header, data: &[u8], offset: usize) -> Result<(), Error> {
    if !header.crc || header.mode & abi::fs::S_IFMT != abi::fs::S_IFREG {
        return Ok(());
    }
    let actual = data.iter().fold(0u32, |acc, &b| acc.wrapping_add(b as u32));
    if actual != header.check {
        return Err(Error::BadChecksum {
            offset,
            expected: header.check,
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(decode_name(b"abc\0"), Some("abc"));
        assert_eq!(decode_name(b"abc"), None);
        assert_eq!(decode_name(b"\0"), None);
        assert_eq!(decode_name(b""), None);
        assert_eq!(decode_name(b"a\0b\0"), None);
        assert_eq!(decode_name(b"\xff\0"), None);
        assert_eq!(strip_name("./etc/rc"), "etc/rc");
        assert_eq!(strip_name("/etc"), "etc");
        assert_eq!(strip_name("."), ".");
        assert_eq!(strip_name("./"), "");
        assert_eq!(strip_name("etc/./x"), "etc/./x");
    }

    #[test]
    fn empty_and_zero_input_end_cleanly() {
        assert_eq!(entries(b"").count(), 0);
        assert_eq!(entries(&[0u8; 512]).count(), 0);
    }

    #[test]
    fn garbage_is_bad_magic_once() {
        let mut it = entries(b"hello world");
        assert_eq!(it.next(), Some(Err(Error::BadMagic { offset: 0 })));
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None);
    }
}
