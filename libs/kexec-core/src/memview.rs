//! The memory a kexec destination may use.

use alloc::vec::Vec;
use memmap::MemoryMap;

use crate::types::{align_down, align_up, normalize, subtract, PhysRange, PAGE_SIZE};

/// Physical ranges where segment destinations may go: the RAM the next
/// kernel is handed at jump time, minus whatever the running kernel still
/// needs until the jump (the caller's `avoid` list: e.g. its own image while
/// it runs, pages it cannot give up, the crash reservation for a normal
/// image). Sorted, disjoint, page-aligned inward. Already placed segments
/// are subtracted at search time by [`crate::Kimage::add_buffer`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryView {
    ranges: Vec<PhysRange>,
}

impl MemoryView {
    /// `ram` minus `avoid`, shrunk to whole pages.
    pub fn new(ram: impl IntoIterator<Item = PhysRange>, avoid: &[PhysRange]) -> MemoryView {
        let ram = normalize(ram.into_iter().collect());
        let ranges = subtract(&ram, avoid)
            .into_iter()
            .filter_map(|r| {
                let start = align_up(r.start, PAGE_SIZE)?;
                let end = align_down(r.end, PAGE_SIZE);
                (start < end).then_some(PhysRange::new(start, end))
            })
            .collect();
        MemoryView { ranges }
    }

    /// Every RAM region of `map` (free and boot-loader RAM alike: both are
    /// RAM for the next kernel, [`memmap::RegionKind::is_ram`]) minus `avoid`.
    pub fn from_memmap(map: &MemoryMap, avoid: &[PhysRange]) -> MemoryView {
        let ram = map
            .regions()
            .iter()
            .filter(|r| r.kind.is_ram())
            .map(|r| PhysRange::new(r.start, r.end));
        MemoryView::new(ram, avoid)
    }

    /// The usable ranges, ascending.
    pub fn ranges(&self) -> &[PhysRange] {
        &self.ranges
    }

    /// Total usable bytes.
    pub fn total(&self) -> u64 {
        self.ranges.iter().map(PhysRange::len).sum()
    }

    /// Is `r` entirely inside one usable range?
    pub fn contains(&self, r: &PhysRange) -> bool {
        self.ranges.iter().any(|u| u.contains_range(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memmap::{Region, RegionKind::*};

    #[test]
    fn from_memmap_keeps_ram_drops_avoid_and_partial_pages() {
        let m = MemoryMap::from_regions([
            Region::new(0, 0x9fc00, Ram),
            Region::new(0x9fc00, 0x100000, Reserved),
            Region::new(0x100000, 0x200000, Bootloader),
            Region::new(0x200000, 0x8000000, Ram),
            Region::new(0x8000000, 0x8001000, AcpiReclaim),
        ]);
        let v = MemoryView::from_memmap(&m, &[PhysRange::new(0x400800, 0x500000)]);
        assert_eq!(
            v.ranges(),
            [
                PhysRange::new(0, 0x9f000),
                PhysRange::new(0x100000, 0x400000),
                PhysRange::new(0x500000, 0x8000000)
            ]
        );
        assert!(v.contains(&PhysRange::new(0x100000, 0x101000)));
        assert!(!v.contains(&PhysRange::new(0x3ff000, 0x401000)));
        assert_eq!(v.total(), 0x9f000 + 0x300000 + 0x7b00000);
    }
}
