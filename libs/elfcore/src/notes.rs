//! ELF notes: the crash notes the first kernel writes (NT_PRSTATUS per CPU,
//! VMCOREINFO) and a reader for note segments.
//!
//! A note is a 12-byte header (n_namesz, n_descsz, n_type, u32 each), the
//! name with its NUL padded to 4 bytes, then the desc padded to 4 bytes
//! (Linux's `Elf64_Nhdr` notes, include/uapi/linux/elf.h). A note buffer ends
//! with an all-zero header, which is where Linux's vmcore stops reading.

use core::fmt;

use abi::Errno;

use crate::bytes::{put, put_u32};
use crate::regs::CoreRegs;
use le_bytes::u32_at;

/// Note type of the registers of one CPU (`NT_PRSTATUS`).
pub const NT_PRSTATUS: u32 = 1;
/// Name of NT_PRSTATUS notes (`NN_PRSTATUS`).
pub const CORE_NAME: &str = "CORE";
/// Name of the VMCOREINFO note (type 0).
pub const VMCOREINFO_NAME: &str = "VMCOREINFO";

/// Size of x86_64 `struct elf_prstatus`, the desc of an NT_PRSTATUS note.
pub const PRSTATUS_BYTES: usize = 336;
/// Offset of `pr_pid` in `struct elf_prstatus`.
pub const PR_PID_OFFSET: usize = 32;
/// Offset of `pr_reg` (a [`CoreRegs`]) in `struct elf_prstatus`.
pub const PR_REG_OFFSET: usize = 112;

/// Size of a note header.
const NHDR: usize = 12;

/// `n` rounded up to 4 (note fields are 4-byte aligned).
const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// Bytes of a note (header, padded name with NUL, padded desc).
const fn note_bytes(name_len: usize, desc_len: usize) -> usize {
    NHDR + pad4(name_len + 1) + pad4(desc_len)
}

/// Bytes of one CPU's crash-note buffer: an NT_PRSTATUS note ("CORE", desc =
/// x86_64 `struct elf_prstatus`, 336 bytes, pr_reg at offset 112, pr_pid at
/// offset 32) followed by an empty (all-zero) terminating note header,
/// rounded up to 8. Linux's `note_buf_t` equivalent (368 bytes).
pub const CRASH_NOTE_BYTES: usize = (note_bytes(CORE_NAME.len(), PRSTATUS_BYTES) + NHDR + 7) & !7;

/// Size of the VMCOREINFO note buffer.
pub const VMCOREINFO_BYTES: usize = 4096;
/// Longest VMCOREINFO text that fits [`VMCOREINFO_BYTES`] with the note
/// header, the name and the terminator (4060 bytes).
pub const VMCOREINFO_MAX_TEXT: usize =
    VMCOREINFO_BYTES - NHDR - pad4(VMCOREINFO_NAME.len() + 1) - NHDR;

/// A note that does not fit its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteError {
    /// The note plus its terminator needs `need` bytes; the buffer has `room`.
    TooLong {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        room: usize,
    },
}

impl NoteError {
    /// The errno for this failure (EINVAL).
    pub fn errno(&self) -> Errno {
        Errno::EINVAL
    }
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteError::TooLong { need, room } => {
                write!(f, "note needs {need} bytes, buffer has {room}")
            }
        }
    }
}

/// Write a note header and the NUL-terminated name at `buf[0..]`; returns
/// the offset of the desc. Never panics (out-of-range bytes are dropped).
fn put_header(buf: &mut [u8], name: &str, n_type: u32, desc_len: usize) -> usize {
    put_u32(buf, 0, (name.len() + 1) as u32);
    put_u32(buf, 4, desc_len as u32);
    put_u32(buf, 8, n_type);
    put(buf, NHDR, name.as_bytes());
    NHDR + pad4(name.len() + 1)
}

/// Write one note (`name`, `n_type`, `desc`) followed by an empty
/// terminating note into `buf`, zeroing the rest. Returns the bytes used,
/// terminator included.
pub fn write_note(
    buf: &mut [u8],
    name: &str,
    n_type: u32,
    desc: &[u8],
) -> Result<usize, NoteError> {
    let need = note_bytes(name.len(), desc.len()) + NHDR;
    if need > buf.len() || desc.len() > u32::MAX as usize {
        return Err(NoteError::TooLong {
            need,
            room: buf.len(),
        });
    }
    buf.fill(0);
    let off = put_header(buf, name, n_type, desc.len());
    put(buf, off, desc);
    Ok(need)
}

/// Write the NT_PRSTATUS note for `regs` (and `pid` in pr_pid, every other
/// field zero, as Linux's crash_save_cpu) + terminator into `buf`.
///
/// Does not allocate or panic (it runs on the crash path, with a possibly
/// corrupted heap): plain byte writes only.
pub fn write_prstatus_note(buf: &mut [u8; CRASH_NOTE_BYTES], regs: &CoreRegs, pid: u32) {
    buf.fill(0);
    let desc = put_header(buf, CORE_NAME, NT_PRSTATUS, PRSTATUS_BYTES);
    put_u32(buf, desc + PR_PID_OFFSET, pid);
    regs.write_le(buf, desc + PR_REG_OFFSET);
}

/// Write a "VMCOREINFO" note (type 0, desc = `text`, Linux's format of
/// "KEY=value\n" lines) + terminator into `buf`. Fails if `text` is longer
/// than [`VMCOREINFO_MAX_TEXT`].
pub fn write_vmcoreinfo_note(
    buf: &mut [u8; VMCOREINFO_BYTES],
    text: &str,
) -> Result<(), NoteError> {
    write_note(buf, VMCOREINFO_NAME, 0, text.as_bytes()).map(|_| ())
}

/// Iterate the notes of a note segment: see [`Notes`].
pub fn notes(bytes: &[u8]) -> Notes<'_> {
    Notes {
        bytes,
        pos: 0,
        malformed: false,
    }
}

/// Iterator over the notes of a note segment, yielding (name without its
/// NUL, n_type, desc). It stops at a note with n_namesz == 0 (a terminator),
/// at the end of the bytes, or at a malformed note (one whose name or desc
/// runs past the end, or a non-zero tail shorter than a header), after which
/// [`Notes::malformed`] is true. The last note may lack its desc padding.
#[derive(Clone, Debug)]
pub struct Notes<'a> {
    bytes: &'a [u8],
    pos: usize,
    malformed: bool,
}

impl<'a> Notes<'a> {
    /// Whether iteration stopped at a malformed note.
    pub fn malformed(&self) -> bool {
        self.malformed
    }

    /// Stop iterating; `bad` marks the stop as malformed.
    fn stop(&mut self, bad: bool) -> Option<(&'a [u8], u32, &'a [u8])> {
        self.pos = self.bytes.len();
        self.malformed |= bad;
        None
    }
}

impl<'a> Iterator for Notes<'a> {
    type Item = (&'a [u8], u32, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        if rest.len() < NHDR {
            let bad = rest.iter().any(|&b| b != 0);
            return self.stop(bad);
        }
        let (namesz, descsz, n_type) = (u32_at(rest, 0)?, u32_at(rest, 4)?, u32_at(rest, 8)?);
        if namesz == 0 {
            return self.stop(false);
        }
        let name_end = NHDR as u64 + u64::from(namesz);
        let desc_off = NHDR as u64 + pad4_u64(namesz);
        let desc_end = desc_off + u64::from(descsz);
        if desc_end > rest.len() as u64 {
            return self.stop(true);
        }
        let name = &rest[NHDR..name_end as usize];
        let desc = &rest[desc_off as usize..desc_end as usize];
        let next = (desc_off + pad4_u64(descsz)).min(rest.len() as u64);
        self.pos += next as usize;
        Some((trim_nuls(name), n_type, desc))
    }
}

/// A u32 note field rounded up to 4, without overflow.
fn pad4_u64(v: u32) -> u64 {
    (u64::from(v) + 3) & !3
}

/// `name` without its trailing NULs.
fn trim_nuls(name: &[u8]) -> &[u8] {
    let len = name.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &name[..len]
}

/// The real size of a note segment read from old memory, Linux's
/// `update_note_header_size_elf64`: whole notes (header, padded name, padded
/// desc) up to the first one with n_namesz == 0, dropping a note that would
/// run past the end of `bytes` (and everything after it).
pub fn note_segment_size(bytes: &[u8]) -> usize {
    let mut real = 0u64;
    let max = bytes.len() as u64;
    while let (Some(namesz), Some(descsz)) = (
        u32_at(bytes, real as usize),
        u32_at(bytes, real as usize + 4),
    ) {
        if namesz == 0 {
            break;
        }
        let size = NHDR as u64 + pad4_u64(namesz) + pad4_u64(descsz);
        if real + size > max {
            break;
        }
        real += size;
    }
    real as usize
}

/// Decode an NT_PRSTATUS desc (x86_64 `struct elf_prstatus`, exactly
/// [`PRSTATUS_BYTES`] long): (pr_pid, pr_reg).
pub fn parse_prstatus(desc: &[u8]) -> Option<(u32, CoreRegs)> {
    if desc.len() != PRSTATUS_BYTES {
        return None;
    }
    Some((
        u32_at(desc, PR_PID_OFFSET)?,
        CoreRegs::read_le(desc, PR_REG_OFFSET)?,
    ))
}

#[cfg(test)]
#[path = "notes_tests.rs"]
mod tests;
