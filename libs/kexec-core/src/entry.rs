//! The entry list relocate_kernel walks (kernel/kexec_core.c:
//! kimage_add_entry, kimage_alloc_page, kimage_load_normal_segment,
//! kimage_terminate).
//!
//! What each entry kind means (Linux's four flags and kexos's `IND_ZERO`,
//! which lets a segment's zero tail cost one entry per page and no source
//! page) is written once, in the header of kernel/src/kexec/relocate_kernel.s;
//! [`crate::walk::EntryWalk`] is its model. This file builds lists.
//!
//! An indirection page holds 512 slots: up to 511 entries, then the chain
//! (`next | IND_INDIRECTION`) in the last slot; IND_DONE may sit in the last
//! slot of the final page. The list head relocate_kernel receives is
//! `first_page | IND_INDIRECTION`.
//!
//! The source-page invariant (kimage_alloc_page): every source page is
//! either its own destination or not the destination of any segment, and
//! indirection pages are no destination at all. The in-place copy can then
//! never overwrite a page it has yet to read. An allocated page that is some
//! not-yet-loaded page's destination is kept aside until that page is
//! loaded (it becomes its own source); one that is an already-loaded page's
//! destination takes over that page's data (swap) and the old source page,
//! which is not a destination, is reused.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;

use purgatory_abi::RegionHasher;

use crate::digest::{digest_mode, load_digested, store_digests, DigestMode, Digests};
use crate::error::KexecError;
use crate::kimage::{Kimage, KimageKind};
use crate::segment::KexecSegment;
use crate::types::{normalize, PhysAddr, PhysRange, PAGE_SIZE};
pub use crate::walk::{check_entry_list, loaded_page, relocate_simulate, EntryWalk, Step, WalkError};

// The entry kinds; their meaning: kernel/src/kexec/relocate_kernel.s.
/// Set the destination page.
pub const IND_DESTINATION: u64 = 0x1;
/// Continue with the entries of this page.
pub const IND_INDIRECTION: u64 = 0x2;
/// End of the list.
pub const IND_DONE: u64 = 0x4;
/// Copy this page to the destination page.
pub const IND_SOURCE: u64 = 0x8;
/// kexos: zero the destination page (no source page).
pub const IND_ZERO: u64 = 0x10;
/// The address bits of an entry.
pub const IND_ADDR_MASK: u64 = !(PAGE_SIZE - 1);
/// u64 slots per indirection page (511 entries + the chain slot).
pub const ENTRY_SLOTS: usize = (PAGE_SIZE / 8) as usize;

/// Where pages for source data and indirection come from (the kernel's
/// frame allocator; a fake on the host).
pub trait PageAlloc {
    /// One free 4 KiB page, or None when memory is exhausted.
    fn alloc_page(&mut self) -> Option<PhysAddr>;
    /// Give a page back.
    fn free_page(&mut self, pa: PhysAddr);
    /// Take the page at `pa` itself if it is free (false otherwise). A
    /// segment page whose destination frame is free is written straight
    /// there and needs no entry: relocate_kernel has nothing to move for it.
    fn alloc_page_at(&mut self, _pa: PhysAddr) -> bool {
        false
    }
}

/// Physical memory access (the kernel's direct map; a fake on the host).
pub trait PhysMem {
    /// Copy `bytes` to physical `pa`.
    fn write(&mut self, pa: PhysAddr, bytes: &[u8]);
    /// Fill `buf` from physical `pa`.
    fn read(&self, pa: PhysAddr, buf: &mut [u8]);
    /// Zero the page at `pa`.
    fn zero(&mut self, pa: PhysAddr) {
        self.write(pa, &ZERO_PAGE);
    }
}

/// Host model of physical memory for replaying a plan (tests, fuzzing):
/// page-granular and sparse; bytes never written read as 0xAA, so a zero
/// that matters must have been written.
#[derive(Clone, Debug, Default)]
pub struct SparseMem {
    pages: BTreeMap<u64, Vec<u8>>,
}

impl SparseMem {
    /// (page address, offset in it, bytes of `len` left from `done` that fit).
    fn span(pa: PhysAddr, done: usize, len: usize) -> (u64, usize, usize) {
        let a = pa.0 + done as u64;
        let off = (a % PAGE_SIZE) as usize;
        (a - off as u64, off, (PAGE_SIZE as usize - off).min(len - done))
    }
}

impl PhysMem for SparseMem {
    fn write(&mut self, pa: PhysAddr, bytes: &[u8]) {
        let mut done = 0;
        while done < bytes.len() {
            let (page, off, n) = Self::span(pa, done, bytes.len());
            let p = self.pages.entry(page).or_insert_with(|| vec![0xaa; PAGE_SIZE as usize]);
            p[off..off + n].copy_from_slice(&bytes[done..done + n]);
            done += n;
        }
    }

    fn read(&self, pa: PhysAddr, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let (page, off, n) = Self::span(pa, done, buf.len());
            match self.pages.get(&page) {
                Some(p) => buf[done..done + n].copy_from_slice(&p[off..off + n]),
                None => buf[done..done + n].fill(0xaa),
            }
            done += n;
        }
    }
}

pub(crate) static ZERO_PAGE: [u8; PAGE_SIZE as usize] = [0; PAGE_SIZE as usize];

/// A built entry list and every page the image now owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryList {
    /// What relocate_kernel gets: `first indirection page | IND_INDIRECTION`.
    pub head: u64,
    /// Number of entries including IND_DONE (not counting chain slots).
    pub entries: usize,
    /// The indirection pages, in chain order.
    pub indirection_pages: Vec<PhysAddr>,
    /// Source pages holding segment data (some are their own destination).
    pub source_pages: Vec<PhysAddr>,
    /// Pages written at load time straight into their destination frame
    /// (taken with [`PageAlloc::alloc_page_at`], or kept aside and then
    /// reached): no entry moves them.
    pub direct_pages: Vec<PhysAddr>,
    /// Pages kept aside because they are destinations (Linux's
    /// `image->dest_pages`); hold them until unload so nothing the kernel
    /// still needs lands there before the jump.
    pub reserved_pages: Vec<PhysAddr>,
}

impl EntryList {
    /// Every page the list owns.
    pub fn pages(&self) -> impl Iterator<Item = PhysAddr> + '_ {
        self.indirection_pages
            .iter()
            .chain(&self.source_pages)
            .chain(&self.direct_pages)
            .chain(&self.reserved_pages)
            .copied()
    }

    /// Return every page to the allocator (unload, or a failed load).
    pub fn free(self, alloc: &mut impl PageAlloc) {
        for pa in self.pages() {
            alloc.free_page(pa);
        }
    }
}

struct Builder<'x, A: PageAlloc, M: PhysMem> {
    alloc: &'x mut A,
    mem: &'x mut M,
    dests: Vec<PhysRange>,
    entries: Vec<u64>,
    /// Destination page -> index of the IND_SOURCE entry loading it.
    source_for_dest: BTreeMap<u64, usize>,
    /// Allocated pages that are a destination not yet loaded.
    kept: BTreeSet<u64>,
    /// Every page held, for cleanup on failure.
    owned: BTreeSet<u64>,
    /// Pages written in place (see [`EntryList::direct_pages`]).
    direct: Vec<u64>,
}

impl<A: PageAlloc, M: PhysMem> Builder<'_, A, M> {
    fn is_dest(&self, pa: u64) -> bool {
        let page = PhysRange::new(pa, pa.saturating_add(PAGE_SIZE));
        self.dests.iter().any(|d| d.overlaps(&page))
    }

    /// kimage_alloc_page: a page for `destination` (None: an indirection
    /// page) that keeps the source-page invariant.
    fn alloc_page(&mut self, destination: Option<u64>) -> Result<u64, KexecError> {
        if let Some(d) = destination {
            if self.kept.remove(&d) {
                return Ok(d);
            }
        }
        loop {
            let what = if destination.is_some() {
                "a kexec source page"
            } else {
                "a kexec indirection page"
            };
            let pa = self
                .alloc
                .alloc_page()
                .ok_or(KexecError::NoMemory { what })?
                .0;
            if pa & !IND_ADDR_MASK != 0 {
                self.alloc.free_page(PhysAddr(pa));
                return Err(KexecError::BadPage(pa));
            }
            self.owned.insert(pa);
            if Some(pa) == destination || !self.is_dest(pa) {
                return Ok(pa);
            }
            if let Some(&idx) = self.source_for_dest.get(&pa) {
                // An already-loaded page wants to go to `pa`: move its data
                // there (now its own destination) and reuse its old source
                // page, which by the invariant is no destination.
                let old = self.entries[idx] & IND_ADDR_MASK;
                let mut tmp = vec![0u8; PAGE_SIZE as usize];
                self.mem.read(PhysAddr(old), &mut tmp);
                self.mem.write(PhysAddr(pa), &tmp);
                self.entries[idx] = pa | IND_SOURCE;
                return Ok(old);
            }
            // A destination of a page not loaded yet: keep it for that page.
            self.kept.insert(pa);
        }
    }

    /// Where the data for destination page `dest` goes: `None` when it is
    /// written in place (its own frame, free or kept aside for it),
    /// otherwise a source page that relocate_kernel copies from.
    fn place_page(&mut self, dest: u64) -> Result<Option<u64>, KexecError> {
        if self.kept.remove(&dest) {
            return Ok(None);
        }
        if self.alloc.alloc_page_at(PhysAddr(dest)) {
            self.owned.insert(dest);
            return Ok(None);
        }
        self.alloc_page(Some(dest)).map(Some)
    }

    /// kimage_load_normal_segment: every data page goes to its destination
    /// frame when that is free, otherwise to a source page with an entry;
    /// `hash` sees the data as it is copied (one pass for copy and digest).
    /// The entry list only says where relocate_kernel's pointer must be:
    /// an IND_DESTINATION comes before a copy or zero whose page does not
    /// follow the previous one.
    fn load_segment(&mut self, mem: u64, data: &[u8], memsz: u64, mut hash: Option<&mut RegionHasher>) -> Result<(), KexecError> {
        let mut cursor = None;
        let mut dest = mem;
        for chunk in data.chunks(PAGE_SIZE as usize) {
            if let Some(h) = hash.as_deref_mut() {
                h.update(chunk);
            }
            let target = match self.place_page(dest)? {
                None => {
                    self.direct.push(dest);
                    dest
                }
                Some(src) => {
                    if cursor != Some(dest) {
                        self.entries.push(dest | IND_DESTINATION);
                    }
                    self.source_for_dest.insert(dest, self.entries.len());
                    self.entries.push(src | IND_SOURCE);
                    cursor = Some(dest + PAGE_SIZE);
                    src
                }
            };
            self.mem.write(PhysAddr(target), chunk);
            if chunk.len() < PAGE_SIZE as usize {
                // The data's last page is zero padded (kimage_load_normal_segment).
                self.mem.write(PhysAddr(target + chunk.len() as u64), &ZERO_PAGE[chunk.len()..]);
            }
            dest += PAGE_SIZE;
        }
        // The zero tail: zeroed now where the frame is free (or kept aside
        // for it), so `kexec -e` has nothing to do for it; else IND_ZERO.
        let data_pages = (data.len() as u64).div_ceil(PAGE_SIZE);
        let zero_pages = (memsz / PAGE_SIZE).saturating_sub(data_pages);
        for _ in 0..zero_pages {
            if self.kept.remove(&dest) || self.alloc.alloc_page_at(PhysAddr(dest)) {
                self.owned.insert(dest);
                self.direct.push(dest);
                self.mem.zero(PhysAddr(dest));
            } else {
                if cursor != Some(dest) {
                    self.entries.push(dest | IND_DESTINATION);
                }
                self.entries.push(IND_ZERO);
                cursor = Some(dest + PAGE_SIZE);
            }
            dest += PAGE_SIZE;
        }
        Ok(())
    }

    /// Write the entries into indirection pages; returns (head, pages).
    fn write_pages(&mut self) -> Result<(u64, Vec<PhysAddr>), KexecError> {
        let n = self.entries.len();
        // p pages hold 511 * p + 1 entries (IND_DONE may take the last slot).
        let pages_needed = (n.saturating_sub(1)).div_ceil(ENTRY_SLOTS - 1).max(1);
        // Allocate all first: a swap during allocation rewrites entries.
        let mut pages = Vec::with_capacity(pages_needed);
        for _ in 0..pages_needed {
            pages.push(self.alloc_page(None)?);
        }
        let mut next = 0usize;
        let mut slots = vec![0u64; ENTRY_SLOTS];
        for (k, &page) in pages.iter().enumerate() {
            slots.fill(0);
            let remaining = n - next;
            let last = k + 1 == pages.len();
            let take = if last {
                remaining.min(ENTRY_SLOTS)
            } else {
                ENTRY_SLOTS - 1
            };
            slots[..take].copy_from_slice(&self.entries[next..next + take]);
            next += take;
            if !last {
                slots[ENTRY_SLOTS - 1] = pages[k + 1] | IND_INDIRECTION;
            }
            let bytes: Vec<u8> = slots.iter().flat_map(|s| s.to_le_bytes()).collect();
            self.mem.write(PhysAddr(page), &bytes);
        }
        debug_assert_eq!(next, n);
        let head = pages.first().map_or(0, |p| p | IND_INDIRECTION);
        Ok((head, pages.into_iter().map(PhysAddr).collect()))
    }
}

/// Copy every segment of a normal image into its destination frames when
/// they are free, otherwise into source pages, and build the entry list
/// (kimage_load_segment + kimage_terminate). All segments must be placed
/// first. On failure every page taken is freed.
pub fn kimage_load_segments(
    image: &Kimage<'_>,
    alloc: &mut impl PageAlloc,
    mem: &mut impl PhysMem,
) -> Result<EntryList, KexecError> {
    let mut b = Builder::new(image, alloc, mem);
    let result = (|| {
        for s in image.segments() {
            b.load_segment(s.mem.0, s.buf.as_slice(), s.memsz, None)?;
        }
        Ok(())
    })();
    b.finish(result)
}

/// [`kimage_load_segments`] with the digests (kexec_calculate_store_digests)
/// computed as the data is copied: each checksummed byte is read once, for
/// both. The purgatory segment is loaded last, once its digest symbols are
/// stored; the entry order does not matter to relocate_kernel (no two
/// segments overlap). A segment whose digest the caller knows
/// ([`Kimage::kexec_known_digest`]: the initrd, or bzImage64's kernel
/// segment through its prefix) is only copied.
pub fn kimage_load_segments_digested(
    image: &mut Kimage<'_>,
    alloc: &mut impl PageAlloc,
    mem: &mut impl PhysMem,
) -> Result<(EntryList, Digests), KexecError> {
    let mode = digest_mode(image)?;
    let mut b = Builder::new(image, alloc, mem);
    let mut d = Digests::EMPTY;
    let result = load_digested(image, mode, |s, hash| b.load_segment(s.mem.0, s.buf.as_slice(), s.memsz, hash));
    let result = result.and_then(|digests| {
        d = digests;
        store_digests(image, mode, &d)?;
        if let Some(p) = image.purgatory_segment().and_then(|i| image.segments().get(i)) {
            b.load_segment(p.mem.0, p.buf.as_slice(), p.memsz, None)?;
        }
        Ok(())
    });
    Ok((b.finish(result)?, d))
}

impl<'x, A: PageAlloc, M: PhysMem> Builder<'x, A, M> {
    fn new(image: &Kimage<'_>, alloc: &'x mut A, mem: &'x mut M) -> Self {
        Builder {
            alloc,
            mem,
            dests: normalize(image.destinations()),
            entries: Vec::new(),
            source_for_dest: BTreeMap::new(),
            kept: BTreeSet::new(),
            owned: BTreeSet::new(),
            direct: Vec::new(),
        }
    }

    /// Terminate the list and write it (kimage_terminate), or on any error
    /// (`loaded`'s or the list's own) free every page taken.
    fn finish(mut self, loaded: Result<(), KexecError>) -> Result<EntryList, KexecError> {
        let written = loaded.and_then(|()| {
            self.entries.push(IND_DONE);
            self.write_pages()
        });
        match written {
            Ok((head, indirection_pages)) => {
                let source_pages = self
                    .entries
                    .iter()
                    .filter(|e| *e & IND_SOURCE != 0)
                    .map(|e| PhysAddr(e & IND_ADDR_MASK))
                    .collect();
                Ok(EntryList {
                    head,
                    entries: self.entries.len(),
                    indirection_pages,
                    source_pages,
                    direct_pages: self.direct.iter().copied().map(PhysAddr).collect(),
                    reserved_pages: self.kept.iter().copied().map(PhysAddr).collect(),
                })
            }
            Err(e) => {
                for &pa in &self.owned {
                    self.alloc.free_page(PhysAddr(pa));
                }
                Err(e)
            }
        }
    }
}

/// Crash images have no entry list: their segments are written straight
/// into the reservation at load time (kimage_load_crash_segment), zero
/// tails included. For an image planned with its digests
/// ([`crate::DigestsAt::Plan`]).
pub fn kimage_load_crash_segments(image: &Kimage<'_>, mem: &mut impl PhysMem) {
    if !matches!(image.kind(), KimageKind::Crash { .. }) {
        return;
    }
    for s in image.segments() {
        write_crash_segment(s, mem, None);
    }
}

/// Checks, before anything of an old crash image is overwritten, that
/// [`kimage_load_crash_segments_digested`] can store this image's digests:
/// its purgatory has every symbol they go to. Returns how it verifies.
pub fn kimage_crash_digest_mode(image: &mut Kimage<'_>) -> Result<DigestMode, KexecError> {
    let mode = digest_mode(image)?;
    store_digests(image, mode, &Digests::EMPTY)?;
    Ok(mode)
}

/// [`kimage_load_crash_segments`] for an image planned without digests
/// ([`crate::DigestsAt::Copy`]): each checksummed byte is hashed as it is
/// written, and purgatory is written last, once its digests are stored.
/// After [`kimage_crash_digest_mode`] succeeded on the image this cannot
/// fail.
pub fn kimage_load_crash_segments_digested(
    image: &mut Kimage<'_>,
    mode: DigestMode,
    mem: &mut impl PhysMem,
) -> Result<Digests, KexecError> {
    if !matches!(image.kind(), KimageKind::Crash { .. }) {
        return Ok(Digests::EMPTY);
    }
    let Ok(d) = load_digested(image, mode, |s, hash| {
        write_crash_segment(s, mem, hash);
        Ok::<(), core::convert::Infallible>(())
    });
    store_digests(image, mode, &d)?;
    if let Some(p) = image.purgatory_segment().and_then(|i| image.segments().get(i)) {
        write_crash_segment(p, mem, None);
    }
    Ok(d)
}

/// One crash segment into the reservation, a page at a time (each page
/// hashed into `hash` right after it is written), then its zero tail.
fn write_crash_segment(s: &KexecSegment<'_>, mem: &mut impl PhysMem, mut hash: Option<&mut RegionHasher>) {
    let data = s.buf.as_slice();
    let mut at = s.mem.0;
    for chunk in data.chunks(PAGE_SIZE as usize) {
        mem.write(PhysAddr(at), chunk);
        if let Some(h) = hash.as_deref_mut() {
            h.update(chunk);
        }
        at += chunk.len() as u64;
    }
    let end = s.mem.0.saturating_add(s.memsz);
    while at < end {
        let n = (end - at).min(PAGE_SIZE - at % PAGE_SIZE);
        mem.write(PhysAddr(at), &ZERO_PAGE[..n as usize]);
        at += n;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::segment::{KexecBuf, SegmentBuf};
    use crate::MemoryView;

    /// The host model of physical memory the tests use.
    pub(crate) type FakeMem = super::SparseMem;

    /// Hands out pages in a given order; tracks what is outstanding.
    pub(crate) struct ListAlloc {
        pub order: Vec<u64>,
        pub out: BTreeSet<u64>,
        pub freed: Vec<u64>,
        /// Pages `alloc_page_at` may take (free, but never in `order`).
        pub at: BTreeSet<u64>,
    }
    impl ListAlloc {
        /// Pages are handed out in `order`.
        pub fn new(mut order: Vec<u64>) -> Self {
            order.reverse();
            ListAlloc {
                order,
                out: BTreeSet::new(),
                freed: vec![],
                at: BTreeSet::new(),
            }
        }
        /// Also free: `pages`, taken only by address.
        pub fn with_free_at(mut self, pages: impl IntoIterator<Item = u64>) -> Self {
            self.at.extend(pages);
            self
        }
    }
    impl PageAlloc for ListAlloc {
        fn alloc_page(&mut self) -> Option<PhysAddr> {
            if let Some(p) = self.freed.pop() {
                self.out.insert(p);
                return Some(PhysAddr(p));
            }
            let p = self.order.pop()?;
            self.out.insert(p);
            Some(PhysAddr(p))
        }
        fn free_page(&mut self, pa: PhysAddr) {
            assert!(self.out.remove(&pa.0), "double free {pa}");
        }
        fn alloc_page_at(&mut self, pa: PhysAddr) -> bool {
            self.at.remove(&pa.0) && self.out.insert(pa.0)
        }
    }

    /// xorshift64*: deterministic randomness without a crate.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const P: u64 = PAGE_SIZE;

    fn image_at<'a>(segs: &[(u64, &'a [u8], u64)]) -> Kimage<'a> {
        let view = MemoryView::new([PhysRange::new(0, 1 << 40)], &[]);
        let mut k = Kimage::new(KimageKind::Normal);
        for &(mem, data, memsz) in segs {
            k.add_buffer(
                KexecBuf::new("t", SegmentBuf::Borrowed(data), memsz).at(PhysAddr(mem)),
                &view,
            )
            .unwrap();
        }
        k
    }

    fn entries_of(list: &EntryList, mem: &FakeMem) -> Vec<u64> {
        let mut out = vec![];
        for (k, &page) in list.indirection_pages.iter().enumerate() {
            for slot in 0..ENTRY_SLOTS {
                let mut w = [0u8; 8];
                mem.read(PhysAddr(page.0 + slot as u64 * 8), &mut w);
                let e = u64::from_le_bytes(w);
                if slot == ENTRY_SLOTS - 1 && k + 1 < list.indirection_pages.len() {
                    assert_eq!(e, list.indirection_pages[k + 1].0 | IND_INDIRECTION);
                } else if e != 0 {
                    out.push(e);
                }
            }
        }
        out
    }

    /// The invariant, checked on the written list.
    fn assert_invariant(image: &Kimage<'_>, list: &EntryList, mem: &FakeMem) {
        let dests = image.destinations();
        let is_dest = |pa: u64| {
            dests
                .iter()
                .any(|d| d.overlaps(&PhysRange::new(pa, pa + P)))
        };
        for p in &list.indirection_pages {
            assert!(!is_dest(p.0), "indirection page {p} is a destination");
        }
        let mut dest = 0;
        for e in entries_of(list, mem) {
            if e & IND_DESTINATION != 0 {
                dest = e & IND_ADDR_MASK;
            } else if e & IND_SOURCE != 0 {
                let src = e & IND_ADDR_MASK;
                assert!(
                    src == dest || !is_dest(src),
                    "source {src:#x} for {dest:#x} is another destination"
                );
                dest += P;
            } else if e & IND_ZERO != 0 {
                dest += P;
            }
        }
    }

    fn assert_memory_matches(image: &Kimage<'_>, mem: &FakeMem) {
        for s in image.segments() {
            let mut got = vec![0u8; s.memsz as usize];
            mem.read(s.mem, &mut got);
            let data = s.buf.as_slice();
            assert_eq!(&got[..data.len()], data, "segment at {} data", s.mem);
            assert!(
                got[data.len()..].iter().all(|&b| b == 0),
                "segment at {} tail not zero",
                s.mem
            );
        }
    }

    #[test]
    fn encoding_of_a_small_list() {
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let image = image_at(&[(0x10_0000, &data, 5 * P)]);
        let mut alloc = ListAlloc::new(vec![0x9000, 0xa000, 0xb000]);
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        assert_eq!(list.head, 0xb000 | IND_INDIRECTION);
        assert_eq!(
            entries_of(&list, &mem),
            [
                0x10_0000 | IND_DESTINATION,
                0x9000 | IND_SOURCE,
                0xa000 | IND_SOURCE,
                IND_ZERO,
                IND_ZERO,
                IND_ZERO,
                IND_DONE
            ]
        );
        // The data's last page is padded with zeros, not left as garbage.
        let mut tail = [0u8; 8];
        mem.read(PhysAddr(0xa000 + 5000 - 4096), &mut tail);
        assert_eq!(tail, [0; 8]);
        assert_eq!(relocate_simulate(list.head, &mut mem, 1000), Ok(5));
        assert_memory_matches(&image, &mem);
    }

    #[test]
    fn zero_tail_needs_no_source_pages() {
        // 64 MiB of zeros after one page of data: one source page.
        let data = [7u8; 100];
        let image = image_at(&[(1 << 30, &data, 64 << 20)]);
        let mut alloc = ListAlloc::new((1..100).map(|i| i * P).collect());
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        assert_eq!(list.source_pages.len(), 1);
        // DEST, one SOURCE, 16383 ZERO, DONE: 33 indirection pages.
        assert_eq!(list.entries, 16386);
        assert_eq!(list.indirection_pages.len(), 33);
        let e = entries_of(&list, &mem);
        assert!(e[2..16385].iter().all(|&x| x == IND_ZERO));
    }

    #[test]
    fn chains_across_indirection_pages() {
        // 1100 data pages -> 1100 sources + DEST + DONE = 1102 entries: 3 pages.
        let data = vec![0x5au8; 1100 * P as usize];
        let image = image_at(&[(1 << 32, &data, 1100 * P)]);
        let mut alloc = ListAlloc::new((1..2000).map(|i| i * P).collect());
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        assert_eq!(list.entries, 1102);
        assert_eq!(list.indirection_pages.len(), 3);
        assert_eq!(entries_of(&list, &mem).len(), 1102);
        assert_eq!(relocate_simulate(list.head, &mut mem, 10_000), Ok(1100));
        assert_memory_matches(&image, &mem);
    }

    #[test]
    fn done_may_take_the_last_slot() {
        // 510 sources + DEST + DONE = 512 entries: exactly one page.
        let data = vec![1u8; 510 * P as usize];
        let image = image_at(&[(1 << 32, &data, 510 * P)]);
        let mut alloc = ListAlloc::new((1..600).map(|i| i * P).collect());
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        assert_eq!((list.entries, list.indirection_pages.len()), (512, 1));
        assert_eq!(relocate_simulate(list.head, &mut mem, 10_000), Ok(510));
        // One more: 513 entries need a second page.
        let data = vec![1u8; 511 * P as usize];
        let image = image_at(&[(1 << 32, &data, 511 * P)]);
        let mut alloc = ListAlloc::new((1..600).map(|i| i * P).collect());
        let list = kimage_load_segments(&image, &mut alloc, &mut FakeMem::default()).unwrap();
        assert_eq!((list.entries, list.indirection_pages.len()), (513, 2));
    }

    #[test]
    fn free_destination_frames_are_written_in_place_and_only_the_rest_moves() {
        // Pages 10..16, data for 5 of them, a one-page zero tail. Frames
        // 10, 11, 13 and 14 are free: they are written where they belong;
        // 12 is not (a source page and an IND_DESTINATION for it), and 15's
        // tail zero needs its own IND_DESTINATION after the gap.
        let data: Vec<u8> = (0..5 * P as usize - 100).map(|i| (i % 251) as u8).collect();
        let image = image_at(&[(10 * P, &data, 6 * P)]);
        let mut alloc = ListAlloc::new(vec![50 * P, 51 * P]).with_free_at([10 * P, 11 * P, 13 * P, 14 * P]);
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        let direct: Vec<u64> = list.direct_pages.iter().map(|p| p.0).collect();
        assert_eq!(direct, vec![10 * P, 11 * P, 13 * P, 14 * P]);
        assert_eq!(
            entries_of(&list, &mem),
            vec![(12 * P) | IND_DESTINATION, (50 * P) | IND_SOURCE, (15 * P) | IND_DESTINATION, IND_ZERO, IND_DONE]
        );
        assert_invariant(&image, &list, &mem);
        let segs = [PhysRange::new(10 * P, 16 * P)];
        assert_eq!(check_entry_list(&list, &segs, &mem), Ok(2));
        assert_eq!(loaded_page(&list, 11 * P, &mem, 100), Some(11 * P), "in place");
        assert_eq!(loaded_page(&list, 12 * P, &mem, 100), Some(50 * P), "its source page");
        assert_eq!(loaded_page(&list, 15 * P, &mem, 100), None, "zeroed, nothing loaded");
        assert_eq!(relocate_simulate(list.head, &mut mem, 100), Ok(2));
        assert_memory_matches(&image, &mem);
        // Unloading gives every page back, the in-place ones included.
        list.free(&mut alloc);
        assert!(alloc.out.is_empty());
    }

    #[test]
    fn a_segment_entirely_in_place_has_no_entry() {
        // Three data pages and a two-page zero tail, every frame free: all
        // five are written (the tail zeroed) at load, and the list is empty.
        let data = vec![7u8; 3 * P as usize];
        let image = image_at(&[(20 * P, &data, 5 * P)]);
        let mut alloc = ListAlloc::new(vec![50 * P]).with_free_at((20..25).map(|i| i * P));
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        assert_eq!(entries_of(&list, &mem), vec![IND_DONE]);
        assert_eq!((list.source_pages.len(), list.direct_pages.len()), (0, 5));
        assert_memory_matches(&image, &mem);
    }

    #[test]
    fn page_that_is_a_later_destination_is_kept_aside_then_used_in_place() {
        // Segment at pages 10..12. The allocator first offers page 11 (a
        // destination not loaded yet), then 50, 51...
        let data = vec![3u8; 2 * P as usize];
        let image = image_at(&[(10 * P, &data, 2 * P)]);
        let mut alloc = ListAlloc::new(vec![11 * P, 50 * P, 51 * P, 52 * P]);
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        let e = entries_of(&list, &mem);
        assert_eq!(e[1], (50 * P) | IND_SOURCE, "page 10 from a free page");
        assert_eq!(e[2], IND_DONE, "page 11 needs no entry");
        assert_eq!(list.direct_pages, vec![PhysAddr(11 * P)], "page 11 written in place");
        assert_invariant(&image, &list, &mem);
        assert_eq!(relocate_simulate(list.head, &mut mem, 100), Ok(1));
        assert_memory_matches(&image, &mem);
    }

    #[test]
    fn page_that_is_an_earlier_destination_swaps() {
        // Two segments: A at page 10 (loaded first from page 50), B at page 20.
        // The allocator then offers page 10 for B: A's data moves to page 10
        // (own destination) and page 50 is reused for B.
        let a = vec![0xaau8; 100];
        let b = vec![0xbbu8; 100];
        let image = image_at(&[(10 * P, &a, P), (20 * P, &b, P)]);
        let mut alloc = ListAlloc::new(vec![50 * P, 10 * P, 60 * P]);
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        let e = entries_of(&list, &mem);
        assert_eq!(e[1], (10 * P) | IND_SOURCE);
        assert_eq!(e[3], (50 * P) | IND_SOURCE);
        assert_invariant(&image, &list, &mem);
        relocate_simulate(list.head, &mut mem, 100).unwrap();
        assert_memory_matches(&image, &mem);
    }

    #[test]
    fn allocator_offering_only_destinations_first() {
        // Every destination page is offered first, in reverse, before any
        // free page: all must end up kept aside or used in place.
        let d1: Vec<u8> = (0..3 * P as usize).map(|i| (i * 7) as u8).collect();
        let d2: Vec<u8> = (0..2 * P as usize + 5).map(|i| (i * 13) as u8).collect();
        let image = image_at(&[(100 * P, &d1, 4 * P), (200 * P, &d2, 6 * P)]);
        let mut order: Vec<u64> = (100..104).chain(200..206).rev().map(|i| i * P).collect();
        order.extend((300..320).map(|i| i * P));
        let mut alloc = ListAlloc::new(order);
        let mut mem = FakeMem::default();
        let list = kimage_load_segments(&image, &mut alloc, &mut mem).unwrap();
        assert_invariant(&image, &list, &mem);
        relocate_simulate(list.head, &mut mem, 1000).unwrap();
        assert_memory_matches(&image, &mem);
        // Pages of the zero tails kept aside are zeroed in place, not reserved for nothing.
        assert!(list.direct_pages.contains(&PhysAddr(103 * P)));
        assert!(list.reserved_pages.is_empty());
    }

    #[test]
    fn random_layouts_relocate_to_the_intended_memory() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..300 {
            // A 512-page physical space shared by destinations and the allocator.
            let nseg = 1 + rng.below(5) as usize;
            let mut datas = vec![];
            let mut layout = vec![];
            let mut cursor = rng.below(8);
            for _ in 0..nseg {
                let bufsz = rng.below(6 * P) as usize;
                let pages = (bufsz as u64).div_ceil(P).max(1) + rng.below(4);
                datas.push((0..bufsz).map(|_| rng.next() as u8).collect::<Vec<u8>>());
                layout.push((cursor * P, pages * P));
                cursor += pages + rng.below(20);
            }
            // Destinations in random order.
            let mut segs: Vec<(u64, &[u8], u64)> = layout
                .iter()
                .zip(&datas)
                .map(|(&(m, sz), d)| (m, d.as_slice(), sz))
                .collect();
            for i in (1..segs.len()).rev() {
                segs.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let image = image_at(&segs);
            let mut order: Vec<u64> = (0..cursor + 64).map(|i| i * P).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let mut alloc = ListAlloc::new(order);
            let mut mem = FakeMem::default();
            let list = kimage_load_segments(&image, &mut alloc, &mut mem)
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_invariant(&image, &list, &mem);
            relocate_simulate(list.head, &mut mem, 100_000).unwrap();
            assert_memory_matches(&image, &mem);
            let held: BTreeSet<u64> = list.pages().map(|p| p.0).collect();
            assert_eq!(
                held, alloc.out,
                "round {round}: pages held = pages allocated"
            );
        }
    }

    #[test]
    fn out_of_memory_frees_everything() {
        let data = vec![1u8; 8 * P as usize];
        let image = image_at(&[(100 * P, &data, 8 * P)]);
        let mut alloc = ListAlloc::new(vec![100 * P, P, 2 * P, 3 * P]);
        let e = kimage_load_segments(&image, &mut alloc, &mut FakeMem::default()).unwrap_err();
        assert_eq!(e.errno(), abi::Errno::ENOMEM);
        assert!(alloc.out.is_empty(), "leaked {:?}", alloc.out);
        let mut alloc = ListAlloc::new(vec![0x1001]);
        let e = kimage_load_segments(&image, &mut alloc, &mut FakeMem::default()).unwrap_err();
        assert_eq!(e, KexecError::BadPage(0x1001));
        assert!(alloc.out.is_empty());
    }

    #[test]
    fn crash_segments_written_directly() {
        let view = MemoryView::new([], &[]);
        let region = PhysRange::new(0x100_0000, 0x200_0000);
        let mut k = Kimage::new(KimageKind::Crash { region });
        k.add_buffer(
            KexecBuf::new("k", SegmentBuf::Owned(vec![9; 10]), 3 * P),
            &view,
        )
        .unwrap();
        let mut mem = FakeMem::default();
        kimage_load_crash_segments(&k, &mut mem);
        assert_memory_matches(&k, &mem);
    }
}
