//! Hand-over buffers for the next kernel, done generically (the 2016
//! series "kexec: buffer hand-over for the next kernel", which Linux never
//! merged in this form; facts section 7).
//!
//! - At load, [`Kimage::kexec_add_handover_buffer`] adds a segment the next
//!   kernel keeps: top-down, left out of purgatory's digests
//!   (`skip_checksum`), backed by source pages for its whole size so it can
//!   be rewritten later. The boot_params block then carries a setup_data
//!   node for it ([`bootparam::handover`]).
//! - After the load, [`kexec_update_segment`] rewrites its contents through
//!   the entry list's source pages (a reboot notifier does this at
//!   `kexec -e`). Checksummed segments can never be changed this way.
//! - In the next kernel, the buffers are found in setup_data
//!   ([`bootparam::HandoverBuffer::find_all`]).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use abi::Errno;
pub use bootparam::handover::{HandoverBuffer, HandoverKind};

use crate::entry::{EntryList, PhysMem};
use crate::error::KexecError;
use crate::kimage::{Kimage, KimageKind, SegmentInfo};
use crate::memview::MemoryView;
use crate::segment::{KexecBuf, SegmentBuf};
use crate::types::{page_align, PhysAddr, PAGE_SIZE};
use crate::walk::{EntryWalk, Step};

/// A hand-over buffer to add at load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoverRequest {
    /// Which buffer.
    pub kind: HandoverKind,
    /// Segment label (`kexec -d`).
    pub label: &'static str,
    /// Initial contents (may be empty).
    pub data: Vec<u8>,
    /// Size to reserve (rounded up to a page; at least `data.len()`).
    pub size: u64,
}

/// A printable name for a kind.
pub fn kind_name(kind: HandoverKind) -> String {
    match kind {
        HandoverKind::Ima => "IMA measurement list".into(),
        HandoverKind::Kexos(tag) => match core::str::from_utf8(&tag.to_be_bytes()) {
            // Tags are four letters by convention ("klog", "test").
            Ok(name) if name.bytes().all(|b| b.is_ascii_graphic()) => alloc::format!("kexos buffer \"{name}\" ({tag:#x})"),
            _ => alloc::format!("kexos buffer {tag:#x}"),
        },
    }
}

impl<'a> Kimage<'a> {
    /// kexec_add_handover_buffer: reserve a segment for the next kernel.
    /// EINVAL for a crash image (a capture kernel gets none, as in Linux),
    /// for a second buffer of the same kind, or for data longer than size.
    pub fn kexec_add_handover_buffer(&mut self, req: HandoverRequest, view: &MemoryView) -> Result<PhysAddr, KexecError> {
        let refuse = |why: &'static str| KexecError::Handover { kind: req.kind, why };
        if matches!(self.kind(), KimageKind::Crash { .. }) {
            return Err(refuse("not passed to a crash kernel"));
        }
        if self.handover.iter().any(|h| h.kind == req.kind) {
            return Err(refuse("already added to this image"));
        }
        if req.data.len() as u64 > req.size {
            return Err(refuse("initial data longer than the buffer"));
        }
        let size = page_align(req.size.max(1)).ok_or(refuse("size overflows"))?;
        // Data for every page: each gets a source page that a later update
        // can rewrite (a zero tail would become IND_ZERO, with nothing to write).
        let mut data = req.data;
        data.resize(size as usize, 0);
        let index = self.segments().len();
        let kbuf = KexecBuf::new(req.label, SegmentBuf::Owned(data), size).top_down(true).skip_checksum();
        let at = self.add_buffer(kbuf, view)?;
        self.handover.push(Handover { kind: req.kind, segment: index });
        Ok(at)
    }

    /// The hand-over buffers added so far, with their placement.
    pub fn handover_buffers(&self) -> Vec<HandoverBuffer> {
        self.handover
            .iter()
            .map(|h| {
                let s = &self.segments()[h.segment];
                HandoverBuffer { kind: h.kind, addr: s.mem.0, size: s.memsz }
            })
            .collect()
    }

    /// Which segment holds the buffer of `kind`.
    pub fn handover_segment(&self, kind: HandoverKind) -> Option<usize> {
        self.handover.iter().find(|h| h.kind == kind).map(|h| h.segment)
    }
}

/// A hand-over buffer's segment index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handover {
    pub(crate) kind: HandoverKind,
    pub(crate) segment: usize,
}

/// Why kexec_update_segment refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateError {
    /// No segment starts at `load_addr` with `memsz` (EINVAL).
    NoSuchSegment {
        /// Requested start.
        load_addr: u64,
        /// Requested size.
        memsz: u64,
    },
    /// The segment is checksummed: purgatory would refuse it (EINVAL).
    Checksummed(&'static str),
    /// More bytes than the segment holds (EINVAL).
    TooLong {
        /// Bytes given.
        len: usize,
        /// The segment's memsz.
        memsz: u64,
    },
    /// A destination page without a source page (EINVAL).
    NotBacked(u64),
    /// The entry list could not be walked (EINVAL).
    BadList(String),
}

impl UpdateError {
    /// The errno (the series: -EINVAL for all of these).
    pub fn errno(&self) -> Errno {
        Errno::EINVAL
    }
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateError::NoSuchSegment { load_addr, memsz } => {
                write!(f, "no segment at {load_addr:#x} with memsz {memsz:#x}")
            }
            UpdateError::Checksummed(l) => write!(f, "segment {l} is checksummed: only hand-over segments can be updated"),
            UpdateError::TooLong { len, memsz } => write!(f, "{len} bytes do not fit in a segment of {memsz:#x}"),
            UpdateError::NotBacked(p) => write!(f, "destination page {p:#x} has no source page"),
            UpdateError::BadList(e) => write!(f, "entry list: {e}"),
        }
    }
}

/// kexec_update_segment: write `buffer` (zero-filled to memsz) into the
/// pages of the segment at `load_addr` with `memsz`: its source pages,
/// found by walking `list`, and its pages written in place. Returns the
/// pages written.
pub fn kexec_update_segment<M: PhysMem>(
    list: &EntryList,
    segments: &[SegmentInfo],
    buffer: &[u8],
    load_addr: PhysAddr,
    memsz: u64,
    mem: &mut M,
    max_steps: usize,
) -> Result<usize, UpdateError> {
    let seg = segments
        .iter()
        .find(|s| s.mem == load_addr && s.memsz == memsz)
        .ok_or(UpdateError::NoSuchSegment { load_addr: load_addr.0, memsz })?;
    if seg.checksum {
        return Err(UpdateError::Checksummed(seg.label));
    }
    if buffer.len() as u64 > memsz {
        return Err(UpdateError::TooLong { len: buffer.len(), memsz });
    }
    let range = seg.mem.0..seg.mem.0 + seg.memsz;
    let mut page = vec![0u8; PAGE_SIZE as usize];
    let mut put = |dest: u64, at: u64, mem: &mut M| {
        let off = (dest - seg.mem.0) as usize;
        page.fill(0);
        if off < buffer.len() {
            let n = buffer.len().min(off + PAGE_SIZE as usize) - off;
            page[..n].copy_from_slice(&buffer[off..off + n]);
        }
        mem.write(PhysAddr(at), &page);
    };
    let mut written = 0usize;
    for &PhysAddr(dest) in list.direct_pages.iter().filter(|p| range.contains(&p.0)) {
        put(dest, dest, mem);
        written += 1;
    }
    let mut walk = EntryWalk::new(list.head, max_steps);
    loop {
        match walk.next(mem) {
            Ok(Some(Step::Copy { dest, src })) if range.contains(&dest) => {
                put(dest, src, mem);
                written += 1;
            }
            Ok(Some(Step::Zero { dest })) if range.contains(&dest) => return Err(UpdateError::NotBacked(dest)),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return Err(UpdateError::BadList(alloc::format!("{e}"))),
        }
    }
    let pages = (seg.memsz / PAGE_SIZE) as usize;
    if written != pages {
        return Err(UpdateError::BadList(alloc::format!("{written} of {pages} pages of {} found", seg.label)));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bzimage64::tests::fake_bzimage;
    use crate::digest::{compute_digests, DigestMode};
    use crate::entry::tests::{FakeMem, ListAlloc};
    use crate::entry::{kimage_load_segments, relocate_simulate};
    use crate::loader::LoadContext;
    use crate::sanity::SanityLimits;
    use crate::{kexec_file_plan, BzImage64, DigestsAt, KnownDigests, PhysRange};
    use bootparam::e820_from_memmap;
    use memmap::examples::qemu_512m;

    const MIB: u64 = 1 << 20;

    fn ima_request(data: &[u8]) -> HandoverRequest {
        HandoverRequest { kind: HandoverKind::Ima, label: "ima_buffer", data: data.to_vec(), size: 3 * PAGE_SIZE + 10 }
    }

    #[test]
    fn kinds_are_named_for_people() {
        assert_eq!(kind_name(HandoverKind::Ima), "IMA measurement list");
        assert_eq!(kind_name(HandoverKind::Kexos(u32::from_be_bytes(*b"klog"))), "kexos buffer \"klog\" (0x6b6c6f67)");
        assert_eq!(kind_name(HandoverKind::Kexos(7)), "kexos buffer 0x7");
    }

    #[test]
    fn a_handover_buffer_is_placed_passed_in_setup_data_left_out_of_digests_and_updatable() {
        let map = qemu_512m();
        let view = MemoryView::from_memmap(&map, &[PhysRange::new(0, MIB)]);
        let e820 = e820_from_memmap(&map);
        let purg = crate::testutil::purgatory();
        let ctx = LoadContext { view: &view, e820: &e820, acpi_rsdp: None, purgatory: &purg, tsc_khz: None, crash: None };
        let kernel = fake_bzimage(64 * 1024, 4 * MIB as u32);
        let limits = SanityLimits::from_memmap(&map);
        let (image, _) =
            kexec_file_plan(&BzImage64, KimageKind::Normal, &ctx, &kernel, None, KnownDigests::NONE, b"x\0", &limits, vec![ima_request(b"first")], DigestsAt::Plan).unwrap();
        let idx = image.handover_segment(HandoverKind::Ima).unwrap();
        let seg = &image.segments()[idx];
        assert_eq!((idx, seg.label, seg.memsz, seg.checksum), (0, "ima_buffer", 4 * PAGE_SIZE, false));
        assert_eq!(seg.dest_range().end, 0x1ffe0000, "top down, at the top of RAM");
        let d = compute_digests(&image, DigestMode::PerRegion);
        assert_eq!(d.sha_regions[idx].len, 0, "not in purgatory's table");
        assert!(d.sha_regions.iter().filter(|r| r.len != 0).count() >= 2);

        let mut alloc = ListAlloc::new((0x100..0x1ffe0).rev().map(|p| p * PAGE_SIZE).collect());
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        let table = image.into_table();
        assert_eq!(table[idx].handover, Some(HandoverKind::Ima));
        let (at, size) = (table[idx].mem, table[idx].memsz);

        // Rewritten after the load (a reboot notifier's job), then relocated.
        let new: Vec<u8> = (0..3 * PAGE_SIZE as usize + 7).map(|i| (i % 253) as u8).collect();
        assert_eq!(kexec_update_segment(&list, &table, &new, at, size, &mut mem, 1 << 20), Ok(4));
        // Refusals: another address, another size, too long, a checksummed segment.
        let e = |r: Result<usize, UpdateError>| r.unwrap_err();
        assert!(matches!(e(kexec_update_segment(&list, &table, &new, PhysAddr(at.0 + PAGE_SIZE), size, &mut mem, 1 << 20)), UpdateError::NoSuchSegment { .. }));
        assert!(matches!(e(kexec_update_segment(&list, &table, &new, at, size - PAGE_SIZE, &mut mem, 1 << 20)), UpdateError::NoSuchSegment { .. }));
        let long = vec![1u8; size as usize + 1];
        assert_eq!(e(kexec_update_segment(&list, &table, &long, at, size, &mut mem, 1 << 20)).errno(), Errno::EINVAL);
        let k = table.iter().find(|s| s.label == "kernel").unwrap();
        assert_eq!(e(kexec_update_segment(&list, &table, b"x", k.mem, k.memsz, &mut mem, 1 << 20)), UpdateError::Checksummed("kernel"));

        relocate_simulate(list.head, &mut mem, 1 << 20).unwrap();
        let mut got = vec![0u8; size as usize];
        mem.read(at, &mut got);
        assert_eq!(&got[..new.len()], &new[..]);
        assert!(got[new.len()..].iter().all(|&b| b == 0), "the rest zeroed");

        // The next kernel finds it through setup_data, as Linux finds SETUP_IMA.
        let bp = table.iter().find(|s| s.label == "boot_params").unwrap();
        let parsed = crate::testutil::read_boot_params(&mem, bp.mem);
        let found = HandoverBuffer::find_all(&parsed.setup_data, |pa, b| {
            mem.read(PhysAddr(pa), b);
            true
        })
        .unwrap();
        assert_eq!(found, [HandoverBuffer { kind: HandoverKind::Ima, addr: at.0, size }]);
        assert_eq!(parsed.setup_data[0].typ, bootparam::setup_type::SETUP_IMA);
    }

    #[test]
    fn refusals() {
        let view = MemoryView::new([PhysRange::new(0, 64 * MIB)], &[]);
        let mut crash = Kimage::new(KimageKind::Crash { region: PhysRange::new(32 * MIB, 48 * MIB) });
        let e = crash.kexec_add_handover_buffer(ima_request(b""), &view).unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(e.to_string().contains("not passed to a crash kernel"), "{e}");
        let mut k = Kimage::new(KimageKind::Normal);
        k.kexec_add_handover_buffer(ima_request(b"a"), &view).unwrap();
        assert!(k.kexec_add_handover_buffer(ima_request(b"b"), &view).unwrap_err().to_string().contains("already added"));
        let big = HandoverRequest { size: 1, ..ima_request(b"too long") };
        let mut k2 = Kimage::new(KimageKind::Normal);
        assert_eq!(k2.kexec_add_handover_buffer(big, &view).unwrap_err().errno(), Errno::EINVAL);
        // A kexos buffer gets kexos's own setup_data type.
        let mut k3 = Kimage::new(KimageKind::Normal);
        let req = HandoverRequest { kind: HandoverKind::Kexos(7), label: "kx", data: vec![], size: 1 };
        k3.kexec_add_handover_buffer(req, &view).unwrap();
        let (typ, payload) = k3.handover_buffers()[0].to_setup_data();
        assert_eq!((typ, payload.len()), (bootparam::setup_type::SETUP_KEXOS_HANDOVER, 24));
    }
}
