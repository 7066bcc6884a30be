//! The measurement list handed to the next kernel (ima_kexec.c,
//! ima_template.c): a 24-byte header, then whole binary records.
//!
//! ```text
//! struct ima_kexec_hdr { u16 version = 1; u16 _reserved0; u32 _reserved1;
//!                        u64 buffer_size;   /* header included */
//!                        u64 count; };
//! ```
//!
//! [`dump`] writes what fits in the hand-over segment, whole records only
//! (Linux's dump can end in a cut record; the restore then fails), and
//! says how many it dropped. [`restore`] follows
//! ima_restore_measurement_list: version 1 only, template "ima" refused,
//! every record's fields present and the last one ending exactly at
//! `buffer_size`; it also bounds `buffer_size` by the buffer it is given,
//! which Linux trusts.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use abi::Errno;

use crate::entry::{template_fields, Entry, TPM_DIGEST_SIZE};

/// sizeof(struct ima_kexec_hdr).
pub const KEXEC_HDR_SIZE: usize = 24;
/// The only version Linux restores.
pub const KEXEC_HDR_VERSION: u16 = 1;
/// MAX_TEMPLATE_NAME_LEN in Linux 6.12 (ima_template.c): the sizeof of its
/// longest format string; a name this long or longer is refused.
pub const MAX_TEMPLATE_NAME_LEN: usize = "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode".len() + 1;
const PAGE_SIZE: usize = 4096;

/// The header's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KexecHeader {
    /// 1.
    pub version: u16,
    /// Header plus records, in bytes.
    pub buffer_size: u64,
    /// Records.
    pub count: u64,
}

impl KexecHeader {
    /// The 24 bytes.
    pub fn to_bytes(self) -> [u8; KEXEC_HDR_SIZE] {
        let mut b = [0; KEXEC_HDR_SIZE];
        b[..2].copy_from_slice(&self.version.to_le_bytes());
        b[8..16].copy_from_slice(&self.buffer_size.to_le_bytes());
        b[16..].copy_from_slice(&self.count.to_le_bytes());
        b
    }

    /// Read a header (None if `b` is shorter than one).
    pub fn from_bytes(b: &[u8]) -> Option<KexecHeader> {
        let h = b.get(..KEXEC_HDR_SIZE)?;
        Some(KexecHeader {
            version: u16::from_le_bytes([h[0], h[1]]),
            buffer_size: u64::from_le_bytes(h[8..16].try_into().ok()?),
            count: u64::from_le_bytes(h[16..24].try_into().ok()?),
        })
    }
}

/// The hand-over segment's size for a list of `list_bytes` binary bytes
/// with `extra` bytes of room for events after the load (Linux:
/// CONFIG_IMA_KEXEC_EXTRA_MEMORY_KB, half a page if 0): header + list +
/// room, page aligned.
pub fn kexec_buffer_size(list_bytes: usize, extra: usize) -> Option<usize> {
    let extra = if extra == 0 { PAGE_SIZE / 2 } else { extra };
    let n = list_bytes.checked_add(KEXEC_HDR_SIZE)?.checked_add(extra)?;
    n.checked_next_multiple_of(PAGE_SIZE)
}

/// What [`dump`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dump {
    /// Header and records, `buffer_size` bytes.
    pub bytes: Vec<u8>,
    /// Records written (the header's count).
    pub written: usize,
    /// Records that did not fit (the newest ones).
    pub dropped: usize,
}

/// Write `entries` into at most `capacity` bytes: the oldest whole records
/// that fit, and a header that says exactly what is there.
pub fn dump(entries: &[Entry], capacity: usize) -> Dump {
    let mut bytes = Vec::from([0u8; KEXEC_HDR_SIZE]);
    let mut written = 0;
    for e in entries {
        if bytes.len() + e.binary_len() > capacity {
            break;
        }
        e.write_binary(&mut bytes);
        written += 1;
    }
    let hdr = KexecHeader { version: KEXEC_HDR_VERSION, buffer_size: bytes.len() as u64, count: written as u64 };
    bytes[..KEXEC_HDR_SIZE].copy_from_slice(&hdr.to_bytes());
    if capacity < KEXEC_HDR_SIZE {
        bytes.clear();
    }
    Dump { bytes, written, dropped: entries.len() - written }
}

/// Why a handed-over list was not restored (Linux: -EINVAL, and the
/// messages are Linux's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// Header version other than 1.
    Version(u16),
    /// `count` of ULONG_MAX.
    TooMany(u64),
    /// `buffer_size` smaller than the header or larger than the segment.
    BufferSize {
        /// The header's value.
        buffer_size: u64,
        /// The segment's size.
        segment: usize,
    },
    /// A record field that does not fit, at a byte offset.
    Truncated {
        /// Record number (0-based).
        record: u64,
        /// Which part ("entry header", "template data").
        what: &'static str,
        /// Offset in the buffer.
        at: usize,
    },
    /// Bytes left after the last record.
    TrailingBytes {
        /// Record count.
        count: u64,
        /// Unused bytes before buffer_size.
        left: usize,
    },
    /// A template name of MAX_TEMPLATE_NAME_LEN bytes or more.
    NameTooLong(usize),
    /// The "ima" template (or one with unknown fields).
    Template(String),
}

impl RestoreError {
    /// Linux's errno for all of them.
    pub fn errno(&self) -> Errno {
        Errno::EINVAL
    }
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreError::Version(v) => write!(f, "attempting to restore a incompatible measurement list (version {v})"),
            RestoreError::TooMany(n) => write!(f, "attempting to restore too many measurements ({n})"),
            RestoreError::BufferSize { buffer_size, segment } => {
                write!(f, "buffer_size {buffer_size} outside [{KEXEC_HDR_SIZE}, segment size {segment}]")
            }
            RestoreError::Truncated { record, what, at } => write!(f, "record {record}: {what} truncated at offset {at}"),
            RestoreError::TrailingBytes { count, left } => {
                write!(f, "{left} bytes after the last of {count} records, before buffer_size")
            }
            RestoreError::NameTooLong(n) => write!(f, "attempting to restore a template name that is too long ({n} bytes)"),
            RestoreError::Template(t) => write!(f, "attempting to restore an unsupported template \"{t}\" failed"),
        }
    }
}

/// A cursor over `buf[..end]`, reading ima_parse_buf's fields.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn var(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// Restore a handed-over list from the `segment` bytes it was found in.
/// An empty or too-short buffer is an empty list (Linux returns 0).
pub fn restore(segment: &[u8]) -> Result<Vec<Entry>, RestoreError> {
    let Some(h) = KexecHeader::from_bytes(segment) else { return Ok(Vec::new()) };
    if h.version != KEXEC_HDR_VERSION {
        return Err(RestoreError::Version(h.version));
    }
    if h.count == u64::MAX {
        return Err(RestoreError::TooMany(h.count));
    }
    let end = usize::try_from(h.buffer_size)
        .ok()
        .filter(|&e| (KEXEC_HDR_SIZE..=segment.len()).contains(&e))
        .ok_or(RestoreError::BufferSize { buffer_size: h.buffer_size, segment: segment.len() })?;
    let mut c = Cursor { buf: &segment[..end], at: KEXEC_HDR_SIZE };
    let mut out = Vec::new();
    let mut n = 0u64;
    while c.at < end && n < h.count {
        let trunc = |what, at| RestoreError::Truncated { record: n, what, at };
        let start = c.at;
        let pcr = c.u32().ok_or(trunc("entry header", start))?;
        let digest: [u8; TPM_DIGEST_SIZE] = c.take(TPM_DIGEST_SIZE).ok_or(trunc("entry header", start))?.try_into().unwrap_or([0; 20]);
        let name = c.var().ok_or(trunc("entry header", start))?;
        let data = c.var().ok_or(trunc("entry header", start))?;
        n += 1;
        if n == h.count && c.at != end {
            return Err(RestoreError::TrailingBytes { count: h.count, left: end - c.at });
        }
        if name.len() >= MAX_TEMPLATE_NAME_LEN {
            return Err(RestoreError::NameTooLong(name.len()));
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let ids = match template_fields(&name) {
            Some(ids) if name != "ima" => ids,
            _ => return Err(RestoreError::Template(name)),
        };
        let mut d = Cursor { buf: data, at: 0 };
        let mut fields = Vec::with_capacity(ids.len());
        for _ in &ids {
            let at = start + d.at;
            fields.push(d.var().ok_or(RestoreError::Truncated { record: n - 1, what: "template data", at })?.to_vec());
        }
        if d.at != data.len() {
            return Err(RestoreError::Truncated { record: n - 1, what: "template data (bytes after the last field)", at: start });
        }
        // The SHA-1 slot is taken as it came (Linux recomputes only the other banks).
        out.push(Entry { pcr, template_hash: digest, template: name, fields });
    }
    Ok(out)
}
