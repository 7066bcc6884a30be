//! The capture kernel's /proc/vmcore (Linux fs/proc/vmcore.c): the first
//! kernel's ELF core header parsed from old memory, its notes merged into one
//! PT_NOTE, and a file served from page-rounded chunks of old memory.
//!
//! File layout, as Linux's:
//!
//! ```text
//! [0, elfsz)                     ehdr, merged PT_NOTE phdr, PT_LOAD phdrs, zeros
//! [elfsz, elfsz + notes_sz)      merged notes, zeros up to a page
//! then per PT_LOAD, in order     old memory [rounddown(p_offset), roundup(p_offset + p_memsz))
//! ```
//! with elfsz = roundup(64 + e_phnum * 56, 4096) and notes_sz the notes
//! rounded up to 4096; each PT_LOAD's p_offset points at its first byte
//! inside its chunk.

mod error;
mod parse;

use alloc::vec::Vec;

pub use error::VmcoreError;

use crate::notes::{notes, parse_prstatus, CORE_NAME, NT_PRSTATUS, VMCOREINFO_NAME};
use crate::regs::CoreRegs;
use crate::PAGE_SIZE;

/// Largest PT_NOTE read from old memory (1 MiB).
pub const MAX_NOTE_SEGMENT: u64 = 1 << 20;
/// Largest merged note buffer (16 MiB: 368-byte CPU notes for 45000 CPUs).
pub const MAX_NOTES_BYTES: u64 = 16 << 20;

/// Reads old (first-kernel) physical memory.
pub trait OldMemory {
    /// Fill `buf` from physical address `phys`; false if the range cannot be
    /// read. /proc/vmcore reads may span many pages.
    fn read(&self, phys: u64, buf: &mut [u8]) -> bool;
}

/// A run of the file served from old memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chunk {
    /// File offset of its first byte.
    file_start: u64,
    /// File offset past its last byte.
    file_end: u64,
    /// Physical address of its first byte (page aligned).
    phys: u64,
}

/// The /proc/vmcore file: see the module documentation for its layout.
#[derive(Clone, Debug)]
pub struct Vmcore {
    /// ELF header and program headers (zeros follow up to `elfsz`).
    header: Vec<u8>,
    /// End of the header part: roundup(header.len(), 4096).
    elfsz: u64,
    /// The merged notes (zeros follow up to `notes_end`).
    notes: Vec<u8>,
    /// End of the notes part.
    notes_end: u64,
    /// The PT_LOAD chunks, contiguous and sorted by file offset.
    chunks: Vec<Chunk>,
    /// Total file size.
    size: u64,
    /// Sum of the PT_LOADs' p_memsz.
    ram_bytes: u64,
    /// Number of PT_LOADs.
    loads: usize,
}

impl Vmcore {
    /// Total file size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes of first-kernel memory covered by PT_LOADs (sum of p_memsz).
    pub fn ram_bytes(&self) -> u64 {
        self.ram_bytes
    }

    /// Number of PT_LOADs.
    pub fn loads(&self) -> usize {
        self.loads
    }

    /// The old memory the PT_LOADs cover, as page-aligned physical ranges
    /// `[start, end)` in file order (the kernel-map PT_LOAD repeats RAM).
    pub fn phys_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.chunks.iter().map(|c| (c.phys, c.phys + (c.file_end - c.file_start)))
    }

    /// The merged notes, as served in the PT_NOTE segment.
    pub fn notes_bytes(&self) -> &[u8] {
        &self.notes
    }

    /// Read the file at `offset` into `buf`; returns the bytes read, 0 at or
    /// after EOF. The header and notes come from the Vmcore's own buffers
    /// (padding reads as zeros), PT_LOAD data from `mem`, one `mem.read` per
    /// chunk touched. If old memory cannot be read, the bytes before the
    /// first unreadable page are returned (a short read; the failed range is
    /// retried page by page to find it), or `Err(Unreadable)` (EIO) if that
    /// is the first page. Does not allocate.
    pub fn read_at(
        &self,
        offset: u64,
        buf: &mut [u8],
        mem: &dyn OldMemory,
    ) -> Result<usize, VmcoreError> {
        let mut done = 0;
        while done < buf.len() {
            let pos = offset.saturating_add(done as u64);
            if pos >= self.size {
                break;
            }
            match self.read_piece(pos, &mut buf[done..], mem) {
                // No progress would loop forever: cannot happen, but stop.
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// Read from `pos` (< size) up to the end of its region; returns the
    /// bytes read (at least one).
    fn read_piece(
        &self,
        pos: u64,
        out: &mut [u8],
        mem: &dyn OldMemory,
    ) -> Result<usize, VmcoreError> {
        if pos < self.elfsz {
            return Ok(copy_padded(&self.header, pos, self.elfsz, out));
        }
        if pos < self.notes_end {
            return Ok(copy_padded(
                &self.notes,
                pos - self.elfsz,
                self.notes_end - self.elfsz,
                out,
            ));
        }
        let i = self.chunks.partition_point(|c| c.file_end <= pos);
        let c = self.chunks.get(i).ok_or(VmcoreError::Overflow {
            what: "file offset",
        })?;
        let n = (c.file_end - pos).min(out.len() as u64) as usize;
        let phys = c.phys + (pos - c.file_start);
        if mem.read(phys, &mut out[..n]) {
            return Ok(n);
        }
        match read_pages(phys, &mut out[..n], mem) {
            0 => Err(VmcoreError::Unreadable {
                phys,
                len: n as u64,
            }),
            done => Ok(done),
        }
    }

    /// The crashing CPU's pr_pid and registers: the first NT_PRSTATUS note
    /// that decodes.
    pub fn prstatus(&self) -> Option<(u32, CoreRegs)> {
        notes(&self.notes)
            .filter(|(name, t, _)| *name == CORE_NAME.as_bytes() && *t == NT_PRSTATUS)
            .find_map(|(_, _, desc)| parse_prstatus(desc))
    }

    /// The VMCOREINFO text (without trailing NULs), if there is such a note
    /// and it is UTF-8.
    pub fn vmcoreinfo(&self) -> Option<&str> {
        let (_, _, desc) =
            notes(&self.notes).find(|(name, _, _)| *name == VMCOREINFO_NAME.as_bytes())?;
        let len = desc.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        core::str::from_utf8(&desc[..len]).ok()
    }
}

/// After a failed read of `out.len()` bytes at `phys`: read page by page
/// and return how many bytes precede the first unreadable page.
fn read_pages(phys: u64, out: &mut [u8], mem: &dyn OldMemory) -> usize {
    let mut done = 0;
    while done < out.len() {
        let at = phys + done as u64;
        let to_boundary = (PAGE_SIZE - at % PAGE_SIZE) as usize;
        let n = to_boundary.min(out.len() - done);
        if !mem.read(at, &mut out[done..done + n]) {
            break;
        }
        done += n;
    }
    done
}

/// Copy the region bytes `src[from..end]` into `out`, reading zeros past
/// `src`; returns the bytes copied (`min(out.len(), end - from)`).
fn copy_padded(src: &[u8], from: u64, end: u64, out: &mut [u8]) -> usize {
    let n = (end - from).min(out.len() as u64) as usize;
    let out = &mut out[..n];
    let avail = usize::try_from(from)
        .ok()
        .and_then(|f| src.get(f..))
        .unwrap_or(&[]);
    let k = avail.len().min(n);
    out[..k].copy_from_slice(&avail[..k]);
    out[k..].fill(0);
    n
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile_tests;
