//! Walking an entry list the way relocate_kernel does. [`EntryWalk`] is
//! the model of kernel/src/kexec/relocate_kernel.s: the register contract
//! and the meaning of every entry kind are written once, in that file's
//! header, and this walk follows it step for step. Where the assembly
//! would do something harmful (write from physical address 0, read entries
//! at address 0, loop for ever) the walk returns a [`WalkError`] instead,
//! and [`check_entry_list`], which the kernel runs right before the jump,
//! makes sure the assembly never runs a list the walk rejects.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::entry::{
    EntryList, PhysMem, IND_ADDR_MASK, IND_DESTINATION, IND_DONE, IND_INDIRECTION, IND_SOURCE,
    IND_ZERO, ZERO_PAGE,
};
use crate::types::{normalize, PhysAddr, PhysRange, PAGE_SIZE};

/// An entry list relocate_kernel must not run. `slot` is the physical
/// address an entry was read from (`None`: the head, passed in a register).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// No IND_DONE within the allowed number of entries (a loop).
    TooManySteps {
        /// The bound.
        max: usize,
    },
    /// IND_SOURCE or IND_ZERO before any IND_DESTINATION (or after the
    /// destination ran off the address space): relocate_kernel would
    /// write at physical address 0.
    NoDestination {
        /// The entry.
        entry: u64,
        /// Where it was read.
        slot: Option<u64>,
    },
    /// An entry other than IND_INDIRECTION or IND_DONE as the head: there
    /// is no page to read the next entry from (relocate_kernel would read
    /// it at physical address 0).
    NoIndirection {
        /// The head.
        entry: u64,
    },
    /// Not exactly one entry kind in the flag bits, or address bits on
    /// IND_DONE or IND_ZERO.
    BadEntry {
        /// The entry.
        entry: u64,
        /// Where it was read.
        slot: Option<u64>,
    },
    /// [`check_entry_list`]: an entry slot outside the list's own
    /// indirection pages.
    ForeignSlot {
        /// The slot's address.
        slot: u64,
    },
    /// [`check_entry_list`]: a source page the list does not own.
    ForeignSource {
        /// The source page.
        src: u64,
        /// Its destination page.
        dest: u64,
    },
    /// [`check_entry_list`]: a page written outside every segment.
    OutsideSegments {
        /// The destination page.
        dest: u64,
    },
    /// [`check_entry_list`]: a source page that is another page's
    /// destination, or an indirection page that is a destination: an
    /// earlier copy could overwrite it before it is read.
    Clobbered {
        /// The page at risk.
        page: u64,
    },
}

struct Slot(Option<u64>);

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pa) => write!(f, "at {:#x}", pa),
            None => f.write_str("(the head)"),
        }
    }
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WalkError::TooManySteps { max } => write!(f, "no IND_DONE within {} entries", max),
            WalkError::NoDestination { entry, slot } => write!(
                f,
                "entry {:#x} {} writes a page before any IND_DESTINATION (it would land at physical 0)",
                entry,
                Slot(slot)
            ),
            WalkError::NoIndirection { entry } => {
                write!(f, "head {:#x} is neither IND_INDIRECTION nor IND_DONE", entry)
            }
            WalkError::BadEntry { entry, slot } => {
                write!(f, "entry {:#x} {} has unknown or conflicting flags", entry, Slot(slot))
            }
            WalkError::ForeignSlot { slot } => {
                write!(f, "entry slot {:#x} is outside the list's indirection pages", slot)
            }
            WalkError::ForeignSource { src, dest } => write!(
                f,
                "source page {:#x} for {:#x} is not one of the image's source pages",
                src, dest
            ),
            WalkError::OutsideSegments { dest } => {
                write!(f, "page {:#x} would be written outside every segment", dest)
            }
            WalkError::Clobbered { page } => write!(
                f,
                "page {:#x} is read by the walk but is also a destination",
                page
            ),
        }
    }
}

/// One page operation of an entry list, as relocate_kernel performs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Copy source page `src` to destination page `dest`.
    Copy {
        /// Destination page.
        dest: u64,
        /// Source page.
        src: u64,
    },
    /// Zero destination page `dest` (IND_ZERO).
    Zero {
        /// Destination page.
        dest: u64,
    },
}

/// Walks an entry list from `head` (processed as the first entry) the way
/// kernel/src/kexec/relocate_kernel.s does (see its header), one page
/// operation at a time. Entries are read at each step, so a caller may
/// write memory between steps (the simulator does, to catch a copy
/// clobbering a later entry).
#[derive(Clone, Debug)]
pub struct EntryWalk {
    entry: u64,
    /// Where `entry` was read (None: the head).
    slot: Option<u64>,
    ptr: Option<u64>,
    dest: Option<u64>,
    max_steps: usize,
    steps_left: usize,
}

impl EntryWalk {
    /// A walk of at most `max_steps` entries (the head and IND_DONE count).
    pub fn new(head: u64, max_steps: usize) -> EntryWalk {
        EntryWalk {
            entry: head,
            slot: None,
            ptr: None,
            dest: None,
            max_steps,
            steps_left: max_steps,
        }
    }

    /// The next page operation, or `None` at IND_DONE; entries are read
    /// from physical memory.
    pub fn next(&mut self, mem: &impl PhysMem) -> Result<Option<Step>, WalkError> {
        self.next_with(|slot| {
            let mut word = [0u8; 8];
            mem.read(PhysAddr(slot), &mut word);
            Some(u64::from_le_bytes(word))
        })
    }

    /// [`EntryWalk::next`] with entries read by `read(slot)`; `None` from
    /// it ends the walk with [`WalkError::ForeignSlot`].
    pub fn next_with(
        &mut self,
        mut read: impl FnMut(u64) -> Option<u64>,
    ) -> Result<Option<Step>, WalkError> {
        loop {
            if self.steps_left == 0 {
                return Err(WalkError::TooManySteps {
                    max: self.max_steps,
                });
            }
            self.steps_left -= 1;
            let (entry, slot) = (self.entry, self.slot);
            let addr = entry & IND_ADDR_MASK;
            let bad = WalkError::BadEntry { entry, slot };
            let mut step = None;
            match entry & !IND_ADDR_MASK {
                IND_DESTINATION => self.dest = Some(addr),
                IND_INDIRECTION => self.ptr = Some(addr),
                IND_DONE if addr == 0 => return Ok(None),
                kind @ (IND_SOURCE | IND_ZERO) => {
                    if kind == IND_ZERO && addr != 0 {
                        return Err(bad);
                    }
                    let dest = self.dest.ok_or(WalkError::NoDestination { entry, slot })?;
                    self.dest = dest.checked_add(PAGE_SIZE);
                    step = Some(if kind == IND_SOURCE {
                        Step::Copy { dest, src: addr }
                    } else {
                        Step::Zero { dest }
                    });
                }
                _ => return Err(bad),
            }
            let p = self.ptr.ok_or(WalkError::NoIndirection { entry })?;
            self.entry = read(p).ok_or(WalkError::ForeignSlot { slot: p })?;
            self.slot = Some(p);
            self.ptr = Some(p.wrapping_add(8));
            if step.is_some() {
                return Ok(step);
            }
        }
    }
}

/// What relocate_kernel does with the list, on a fake memory: walk from
/// `head`, copy each source page to the destination, zero a page per
/// IND_ZERO, stop at IND_DONE. Returns the number of pages written.
pub fn relocate_simulate(
    head: u64,
    mem: &mut impl PhysMem,
    max_steps: usize,
) -> Result<u64, WalkError> {
    let mut walk = EntryWalk::new(head, max_steps);
    let mut written = 0u64;
    let mut page = vec![0u8; PAGE_SIZE as usize];
    while let Some(step) = walk.next(&*mem)? {
        match step {
            Step::Copy { dest, src } => {
                mem.read(PhysAddr(src), &mut page);
                mem.write(PhysAddr(dest), &page);
            }
            Step::Zero { dest } => mem.write(PhysAddr(dest), &ZERO_PAGE),
        }
        written += 1;
    }
    Ok(written)
}

/// Where the data for destination page `dest` is held until the jump: the
/// page itself when it was written in place, else the source page the walk
/// copies to it. None if the list loads nothing there (or is bad).
pub fn loaded_page(list: &EntryList, dest: u64, mem: &impl PhysMem, max_steps: usize) -> Option<u64> {
    if list.direct_pages.contains(&PhysAddr(dest)) {
        return Some(dest);
    }
    let mut walk = EntryWalk::new(list.head, max_steps);
    loop {
        match walk.next(mem) {
            Ok(Some(Step::Copy { dest: d, src })) if d == dest => return Some(src),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

fn sorted(pages: impl Iterator<Item = PhysAddr>) -> Vec<u64> {
    let mut v: Vec<u64> = pages.map(|p| p.0).collect();
    v.sort_unstable();
    v
}

/// The check the kernel runs over the final list right before the jump:
/// the whole walk of `list` without writing anything, with entries read
/// only from the list's own indirection pages (at most one entry per slot
/// they hold), and every page operation keeping the source-page invariant
/// (entry.rs) inside `segments` (each segment's `[mem, mem + memsz)`):
/// each page written lies in a segment, each source page is one of the
/// list's and is its own destination or no segment's, and no indirection
/// page is a destination. Returns the number of pages relocate_kernel
/// will write; a list that passes can be run by relocate_kernel without
/// touching memory outside the segments.
pub fn check_entry_list(
    list: &EntryList,
    segments: &[PhysRange],
    mem: &impl PhysMem,
) -> Result<u64, WalkError> {
    let dests = normalize(segments.to_vec());
    // Both are page aligned (kexec_add_buffer), so a page that overlaps a
    // range lies inside it.
    let in_dests = |pa: u64| {
        let i = dests.partition_point(|r| r.end <= pa);
        dests.get(i).is_some_and(|r| r.start <= pa)
    };
    let pages = sorted(list.indirection_pages.iter().copied());
    if let Some(&page) = pages.iter().find(|&&p| in_dests(p)) {
        return Err(WalkError::Clobbered { page });
    }
    let sources = sorted(list.source_pages.iter().copied());
    // The head, every entry, and the chain slot of all pages but the last
    // (a head that is IND_DONE: one).
    let max = (list.entries + list.indirection_pages.len()).max(1);
    let mut walk = EntryWalk::new(list.head, max);
    let read = |slot: u64| {
        pages.binary_search(&(slot & IND_ADDR_MASK)).ok()?;
        let mut word = [0u8; 8];
        mem.read(PhysAddr(slot), &mut word);
        Some(u64::from_le_bytes(word))
    };
    let mut written = 0;
    while let Some(step) = walk.next_with(read)? {
        let dest = match step {
            Step::Copy { dest, src } => {
                if sources.binary_search(&src).is_err() {
                    return Err(WalkError::ForeignSource { src, dest });
                }
                if src != dest && in_dests(src) {
                    return Err(WalkError::Clobbered { page: src });
                }
                dest
            }
            Step::Zero { dest } => dest,
        };
        if !in_dests(dest) {
            return Err(WalkError::OutsideSegments { dest });
        }
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::kimage_load_segments;
    use crate::entry::tests::{FakeMem, ListAlloc};
    use crate::kimage::{Kimage, KimageKind};
    use crate::segment::{KexecBuf, SegmentBuf};
    use crate::MemoryView;

    const P: u64 = PAGE_SIZE;

    fn put(mem: &mut FakeMem, pa: u64, entries: &[u64]) {
        let bytes: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
        mem.write(PhysAddr(pa), &bytes);
    }

    /// A hand-written list in one indirection page at 0x5000.
    fn list_of(entries: &[u64], sources: &[u64]) -> (EntryList, FakeMem) {
        let mut mem = FakeMem::default();
        put(&mut mem, 0x5000, entries);
        let list = EntryList {
            head: 0x5000 | IND_INDIRECTION,
            entries: entries.len(),
            indirection_pages: vec![PhysAddr(0x5000)],
            source_pages: sources.iter().copied().map(PhysAddr).collect(),
            direct_pages: vec![],
            reserved_pages: vec![],
        };
        (list, mem)
    }

    const SEG: PhysRange = PhysRange::new(0x10_0000, 0x10_0000 + 2 * P);

    #[test]
    fn simulator_rejects_garbage() {
        let mut mem = FakeMem::default();
        assert_eq!(
            relocate_simulate(IND_SOURCE | 0x1000, &mut mem, 10),
            Err(WalkError::NoDestination {
                entry: IND_SOURCE | 0x1000,
                slot: None
            })
        );
        assert_eq!(
            relocate_simulate(IND_DESTINATION, &mut mem, 10),
            Err(WalkError::NoIndirection {
                entry: IND_DESTINATION
            })
        );
        // A page chaining to itself.
        put(&mut mem, 0x5000, &[0x5000 | IND_INDIRECTION]);
        assert_eq!(
            relocate_simulate(0x5000 | IND_INDIRECTION, &mut mem, 50),
            Err(WalkError::TooManySteps { max: 50 })
        );
    }

    #[test]
    fn source_before_any_destination_is_rejected() {
        // relocate_kernel.s would copy page 0x9000 to physical address 0.
        let (list, mut mem) = list_of(&[0x9000 | IND_SOURCE, IND_DONE], &[0x9000]);
        let want = WalkError::NoDestination {
            entry: 0x9000 | IND_SOURCE,
            slot: Some(0x5000),
        };
        assert_eq!(check_entry_list(&list, &[SEG], &mem), Err(want));
        assert_eq!(relocate_simulate(list.head, &mut mem, 10), Err(want));
        // IND_ZERO too.
        let (list, mem) = list_of(&[IND_ZERO, IND_DONE], &[]);
        assert!(matches!(
            check_entry_list(&list, &[SEG], &mem),
            Err(WalkError::NoDestination { .. })
        ));
    }

    #[test]
    fn unknown_or_conflicting_flags_are_rejected() {
        for bad in [
            0,                                     // no kind (Linux would skip it)
            0x9000 | 0x20,                         // unknown flag
            0x9000 | IND_SOURCE | 0x800,           // unknown bit with a kind
            0x9000 | IND_SOURCE | IND_DESTINATION, // two kinds
            0x9000 | IND_ZERO,                     // IND_ZERO with an address
            0x9000 | IND_DONE,                     // IND_DONE with an address
        ] {
            let (list, mem) = list_of(&[SEG.start | IND_DESTINATION, bad, IND_DONE], &[0x9000]);
            assert_eq!(
                check_entry_list(&list, &[SEG], &mem),
                Err(WalkError::BadEntry {
                    entry: bad,
                    slot: Some(0x5008)
                }),
                "{bad:#x}"
            );
        }
        assert_eq!(
            relocate_simulate(0x20, &mut FakeMem::default(), 10),
            Err(WalkError::BadEntry {
                entry: 0x20,
                slot: None
            })
        );
    }

    #[test]
    fn a_good_list_passes_and_counts_pages() {
        let entries = [
            SEG.start | IND_DESTINATION,
            0x9000 | IND_SOURCE,
            IND_ZERO,
            IND_DONE,
        ];
        let (list, mem) = list_of(&entries, &[0x9000]);
        assert_eq!(check_entry_list(&list, &[SEG], &mem), Ok(2));
        // The crash image's head: nothing to do.
        let done = EntryList {
            head: IND_DONE,
            ..EntryList::default()
        };
        assert_eq!(check_entry_list(&done, &[], &mem), Ok(0));
    }

    #[test]
    fn reads_and_writes_outside_the_image_are_rejected() {
        let dest = SEG.start | IND_DESTINATION;
        // A source page the list does not own.
        let (list, mem) = list_of(&[dest, 0xa000 | IND_SOURCE, IND_DONE], &[0x9000]);
        assert_eq!(
            check_entry_list(&list, &[SEG], &mem),
            Err(WalkError::ForeignSource {
                src: 0xa000,
                dest: SEG.start
            })
        );
        // Past the segment's end.
        let (list, mem) = list_of(&[dest, IND_ZERO, IND_ZERO, IND_ZERO, IND_DONE], &[]);
        assert_eq!(
            check_entry_list(&list, &[SEG], &mem),
            Err(WalkError::OutsideSegments {
                dest: SEG.start + 2 * P
            })
        );
        // A chain into a page that is not one of the list's.
        let (list, mem) = list_of(&[dest, 0x7000 | IND_INDIRECTION], &[]);
        assert_eq!(
            check_entry_list(&list, &[SEG], &mem),
            Err(WalkError::ForeignSlot { slot: 0x7000 })
        );
        // A source that is another page's destination.
        let src = SEG.start + P;
        let (list, mem) = list_of(&[dest, src | IND_SOURCE, IND_DONE], &[src]);
        assert_eq!(
            check_entry_list(&list, &[SEG], &mem),
            Err(WalkError::Clobbered { page: src })
        );
        // An indirection page inside a segment.
        let seg = PhysRange::new(0x5000, 0x6000);
        let (list, mem) = list_of(&[0x5000 | IND_DESTINATION, IND_ZERO, IND_DONE], &[]);
        assert_eq!(
            check_entry_list(&list, &[seg], &mem),
            Err(WalkError::Clobbered { page: 0x5000 })
        );
        // Longer than the list says: a loop within its own page.
        let (mut list, mem) = list_of(&[dest, IND_ZERO, 0x5000 | IND_INDIRECTION], &[]);
        list.entries = 3;
        assert_eq!(
            check_entry_list(&list, &[SEG], &mem),
            Err(WalkError::TooManySteps { max: 4 })
        );
    }

    #[test]
    fn every_built_list_passes_with_the_tight_bound() {
        // One to three indirection pages, with zero tails.
        for pages in [1u64, 300, 510, 511, 1100] {
            let data = vec![0x5au8; (pages * P) as usize];
            let view = MemoryView::new([PhysRange::new(0, 1 << 40)], &[]);
            let mut k = Kimage::new(KimageKind::Normal);
            k.add_buffer(
                KexecBuf::new("t", SegmentBuf::Borrowed(&data), (pages + 3) * P)
                    .at(PhysAddr(1 << 32)),
                &view,
            )
            .unwrap();
            let mut alloc = ListAlloc::new((1..3000).map(|i| i * P).collect());
            let mut mem = FakeMem::default();
            let list = kimage_load_segments(&k, &mut alloc, &mut mem).unwrap();
            assert_eq!(
                check_entry_list(&list, &k.destinations(), &mem),
                Ok(pages + 3),
                "{pages} pages"
            );
        }
    }
}
