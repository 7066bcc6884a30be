//! Segments (`struct kexec_segment`) and placement requests (`struct kexec_buf`).

use alloc::vec::Vec;

use crate::types::{PhysAddr, PhysRange, PAGE_SIZE};

/// A segment's contents: borrowed from the kernel/initrd file the syscall
/// read (no copy of tens of MB), or owned (boot_params, purgatory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentBuf<'a> {
    /// Bytes owned by someone else that outlive the image plan.
    Borrowed(&'a [u8]),
    /// Bytes built by a loader; may be patched after placement.
    Owned(Vec<u8>),
}

impl SegmentBuf<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            SegmentBuf::Borrowed(b) => b,
            SegmentBuf::Owned(v) => v,
        }
    }
    /// Length in bytes (the segment's bufsz).
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }
    /// True when there is no data (a zero-filled segment).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One loaded segment: `bufsz` bytes of data at physical `mem`, followed by
/// zeros up to `memsz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexecSegment<'a> {
    /// Short name for logs ("kernel", "initrd", "boot_params", "purgatory").
    pub label: &'static str,
    /// Data; `bufsz` is its length.
    pub buf: SegmentBuf<'a>,
    /// Destination physical address (page aligned once placed by add_buffer).
    pub mem: PhysAddr,
    /// Destination size in bytes, a multiple of PAGE_SIZE after add_buffer.
    pub memsz: u64,
    /// Included in the purgatory digest? False for purgatory itself and for
    /// hand-over buffers rewritten after load (Linux: skip_checksum).
    pub checksum: bool,
}

impl KexecSegment<'_> {
    /// Bytes of data.
    pub fn bufsz(&self) -> u64 {
        self.buf.len() as u64
    }
    /// `[mem, mem + memsz)`, saturating at the top of the address space.
    pub fn dest_range(&self) -> PhysRange {
        PhysRange::new(self.mem.0, self.mem.0.saturating_add(self.memsz))
    }
    /// The owned buffer for patching, if the buffer is owned.
    pub fn buf_mut(&mut self) -> Option<&mut Vec<u8>> {
        match &mut self.buf {
            SegmentBuf::Owned(v) => Some(v),
            SegmentBuf::Borrowed(_) => None,
        }
    }
}

/// The one placement request (`struct kexec_buf`): every segment (kernel,
/// initrd, boot_params, purgatory, ELF core headers, hand-over buffers) and
/// every other physical stretch the load needs (a crash image's control
/// pages) is asked for with one of these, and [`locate_mem_hole`] reads it.
/// `buf_max` is INCLUSIVE (the highest address the last byte may have), as
/// in Linux, so `u64::MAX` means "anywhere".
///
/// [`locate_mem_hole`]: crate::locate_mem_hole
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexecBuf<'a> {
    /// Name for logs and errors.
    pub label: &'static str,
    /// The data (bufsz = its length).
    pub buffer: SegmentBuf<'a>,
    /// Destination size; rounded up to PAGE_SIZE by add_buffer.
    pub memsz: u64,
    /// Alignment of the destination (power of two); raised to PAGE_SIZE.
    pub buf_align: u64,
    /// Lowest start address.
    pub buf_min: u64,
    /// Highest address of the last byte (inclusive).
    pub buf_max: u64,
    /// Search from the top of memory down (else bottom up).
    pub top_down: bool,
    /// A fixed destination chosen by the caller (Linux: kbuf->mem !=
    /// KEXEC_BUF_MEM_UNKNOWN); sanity_check_segment_list still applies.
    pub mem: Option<PhysAddr>,
    /// Left out of the purgatory digest (the 2016 hand-over series'
    /// `skip_checksum`): purgatory itself, and buffers rewritten after the
    /// load.
    pub skip_checksum: bool,
}

impl<'a> KexecBuf<'a> {
    /// A request with Linux's defaults: page alignment, anywhere in
    /// [0, u64::MAX], bottom up, checksummed.
    pub fn new(label: &'static str, buffer: SegmentBuf<'a>, memsz: u64) -> KexecBuf<'a> {
        KexecBuf {
            label,
            buffer,
            memsz,
            buf_align: PAGE_SIZE,
            buf_min: 0,
            buf_max: u64::MAX,
            top_down: false,
            mem: None,
            skip_checksum: false,
        }
    }
    /// Set the alignment.
    pub fn align(mut self, a: u64) -> Self {
        self.buf_align = a;
        self
    }
    /// Set the lowest start address.
    pub fn min(mut self, m: u64) -> Self {
        self.buf_min = m;
        self
    }
    /// Set the highest address of the last byte (inclusive).
    pub fn max(mut self, m: u64) -> Self {
        self.buf_max = m;
        self
    }
    /// Search top down.
    pub fn top_down(mut self, t: bool) -> Self {
        self.top_down = t;
        self
    }
    /// Exclude from the digest.
    pub fn skip_checksum(mut self) -> Self {
        self.skip_checksum = true;
        self
    }
    /// Use a fixed destination.
    pub fn at(mut self, mem: PhysAddr) -> Self {
        self.mem = Some(mem);
        self
    }
}

impl KexecBuf<'_> {
    /// The same request without its data: what an error keeps to say which
    /// constraint could not be met.
    pub fn placement(&self) -> KexecBuf<'static> {
        KexecBuf {
            label: self.label,
            buffer: SegmentBuf::Borrowed(&[]),
            memsz: self.memsz,
            buf_align: self.buf_align,
            buf_min: self.buf_min,
            buf_max: self.buf_max,
            top_down: self.top_down,
            mem: self.mem,
            skip_checksum: self.skip_checksum,
        }
    }
}
