//! A normalized physical memory map.

use alloc::vec::Vec;

use crate::RegionKind;

/// A range of physical addresses `[start, end)` of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    /// Exclusive.
    pub end: u64,
    pub kind: RegionKind,
}

impl Region {
    /// A region `[start, end)`.
    pub const fn new(start: u64, end: u64, kind: RegionKind) -> Region {
        Region { start, end, kind }
    }

    /// Bytes covered (0 if `end <= start`).
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True if the region covers nothing.
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Does the region hold `addr`?
    pub const fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// Sorted, non-overlapping regions with adjacent same-kind regions merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryMap {
    regions: Vec<Region>,
}

impl MemoryMap {
    /// Normalize raw firmware regions: drop empty ones, sort, resolve
    /// overlaps (the higher-priority kind wins: Persistent > Unusable >
    /// AcpiNvs > AcpiReclaim > Reserved > Bootloader > Ram) and merge
    /// adjacent or overlapping regions of the same kind. Holes stay holes.
    pub fn from_regions(regions: impl IntoIterator<Item = Region>) -> MemoryMap {
        let mut events: Vec<(u64, bool, RegionKind)> = Vec::new();
        for r in regions.into_iter().filter(|r| !r.is_empty()) {
            events.push((r.start, true, r.kind));
            events.push((r.end, false, r.kind));
        }
        events.sort_unstable_by_key(|e| e.0);
        let mut counts = [0usize; 7];
        let mut map = MemoryMap::default();
        let mut i = 0;
        while let Some(&(pos, _, _)) = events.get(i) {
            while let Some(&(_, open, kind)) = events.get(i).filter(|e| e.0 == pos) {
                let c = &mut counts[kind.index()];
                *c = if open { *c + 1 } else { c.saturating_sub(1) };
                i += 1;
            }
            let top = RegionKind::ALL.iter().rev().find(|k| counts[k.index()] > 0);
            if let (Some(&kind), Some(&(next, _, _))) = (top, events.get(i)) {
                map.push(Region::new(pos, next, kind));
            }
        }
        map
    }

    /// Append a region that starts at or after the last one, merging.
    fn push(&mut self, r: Region) {
        if r.is_empty() {
            return;
        }
        match self.regions.last_mut() {
            Some(last) if last.kind == r.kind && last.end >= r.start => {
                last.end = last.end.max(r.end)
            }
            _ => self.regions.push(r),
        }
    }

    /// The regions, sorted by address.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Bytes of `kind`.
    pub fn total(&self, kind: RegionKind) -> u64 {
        self.regions
            .iter()
            .filter(|r| r.kind == kind)
            .map(Region::len)
            .sum()
    }

    /// Free RAM (kind [`RegionKind::Ram`] only).
    pub fn usable_ram(&self) -> impl Iterator<Item = Region> + '_ {
        self.regions
            .iter()
            .filter(|r| r.kind == RegionKind::Ram)
            .copied()
    }

    /// The end of the highest region of any kind (0 for an empty map).
    pub fn max_phys(&self) -> u64 {
        self.regions.last().map_or(0, |r| r.end)
    }

    /// The end of the highest RAM (free or boot-loader) region.
    pub fn max_ram(&self) -> u64 {
        self.regions
            .iter()
            .filter(|r| r.kind.is_ram())
            .map(|r| r.end)
            .max()
            .unwrap_or(0)
    }

    /// The kind at `addr`, if it is mapped.
    pub fn kind_at(&self, addr: u64) -> Option<RegionKind> {
        self.regions
            .iter()
            .find(|r| r.contains(addr))
            .map(|r| r.kind)
    }

    /// Relabel `[start, end)` as `kind` wherever the map covers it (holes
    /// stay holes), regardless of priority; e.g. the kernel image or a crash
    /// kernel reservation inside RAM.
    pub fn carve(&mut self, start: u64, end: u64, kind: RegionKind) {
        if start >= end {
            return;
        }
        let old = core::mem::take(&mut self.regions);
        for r in old {
            if r.end <= start || r.start >= end {
                self.push(r);
                continue;
            }
            self.push(Region::new(r.start, start.max(r.start), r.kind));
            self.push(Region::new(start.max(r.start), end.min(r.end), kind));
            self.push(Region::new(end.min(r.end), r.end, r.kind));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegionKind::*;

    fn r(start: u64, end: u64, kind: RegionKind) -> Region {
        Region::new(start, end, kind)
    }

    fn map(v: &[Region]) -> Vec<Region> {
        MemoryMap::from_regions(v.iter().copied())
            .regions()
            .to_vec()
    }

    #[test]
    fn sort_drop_empty_merge() {
        let m = map(&[
            r(0x2000, 0x3000, Ram),
            r(0x1000, 0x2000, Ram),
            r(0x5000, 0x5000, Reserved),
            r(0, 0x800, Ram),
        ]);
        assert_eq!(m, [r(0, 0x800, Ram), r(0x1000, 0x3000, Ram)]);
        assert_eq!(
            map(&[r(0, 0x3000, Ram), r(0x1000, 0x2000, Ram)]),
            [r(0, 0x3000, Ram)]
        );
        assert_eq!(map(&[r(10, 5, Ram)]), []);
        assert!(MemoryMap::from_regions([]).regions().is_empty());
    }

    #[test]
    fn overlap_priority() {
        // Reserved punched into RAM.
        assert_eq!(
            map(&[r(0, 0x10000, Ram), r(0x4000, 0x6000, Reserved)]),
            [
                r(0, 0x4000, Ram),
                r(0x4000, 0x6000, Reserved),
                r(0x6000, 0x10000, Ram)
            ]
        );
        // Bootloader beats Ram but loses to ACPI.
        assert_eq!(
            map(&[
                r(0, 0x8000, Bootloader),
                r(0x1000, 0x9000, Ram),
                r(0x7000, 0xa000, AcpiReclaim)
            ]),
            [r(0, 0x7000, Bootloader), r(0x7000, 0xa000, AcpiReclaim)]
        );
        // Order of input does not matter.
        assert_eq!(
            map(&[
                r(0x7000, 0xa000, AcpiReclaim),
                r(0x1000, 0x9000, Ram),
                r(0, 0x8000, Bootloader)
            ]),
            [r(0, 0x7000, Bootloader), r(0x7000, 0xa000, AcpiReclaim)]
        );
        // Unusable beats Reserved, Persistent beats all.
        assert_eq!(
            map(&[
                r(0, 100, Reserved),
                r(50, 150, Unusable),
                r(140, 160, Persistent),
                r(0, 200, AcpiNvs)
            ]),
            [
                r(0, 50, AcpiNvs),
                r(50, 140, Unusable),
                r(140, 160, Persistent),
                r(160, 200, AcpiNvs)
            ]
        );
    }

    #[test]
    fn extreme_addresses() {
        let m =
            MemoryMap::from_regions([r(0, u64::MAX, Ram), r(u64::MAX - 10, u64::MAX, Reserved)]);
        assert_eq!(
            m.regions(),
            [
                r(0, u64::MAX - 10, Ram),
                r(u64::MAX - 10, u64::MAX, Reserved)
            ]
        );
        assert_eq!(m.max_phys(), u64::MAX);
        assert_eq!(m.max_ram(), u64::MAX - 10);
    }

    #[test]
    fn queries() {
        let m = MemoryMap::from_regions([
            r(0, 0x9f000, Ram),
            r(0x9f000, 0x100000, Reserved),
            r(0x100000, 0x800000, Ram),
            r(0x800000, 0x900000, Bootloader),
            r(0xfffc0000, 0x1_0000_0000, Reserved),
        ]);
        assert_eq!(m.total(Ram), 0x9f000 + 0x700000);
        assert_eq!(m.total(Bootloader), 0x100000);
        assert_eq!(m.usable_ram().count(), 2);
        assert_eq!(m.max_phys(), 0x1_0000_0000);
        assert_eq!(m.max_ram(), 0x900000);
        assert_eq!(m.kind_at(0x9f000), Some(Reserved));
        assert_eq!(m.kind_at(0x900000), None);
    }

    #[test]
    fn carve_relabels() {
        let mut m = MemoryMap::from_regions([r(0, 0x1000, Ram), r(0x2000, 0x10000, Ram)]);
        m.carve(0x4000, 0x6000, Bootloader);
        assert_eq!(
            m.regions(),
            [
                r(0, 0x1000, Ram),
                r(0x2000, 0x4000, Ram),
                r(0x4000, 0x6000, Bootloader),
                r(0x6000, 0x10000, Ram)
            ]
        );
        // Across a hole: only covered parts are relabelled.
        m.carve(0x800, 0x3000, Reserved);
        assert_eq!(
            &m.regions()[..3],
            [
                r(0, 0x800, Ram),
                r(0x800, 0x1000, Reserved),
                r(0x2000, 0x3000, Reserved)
            ]
        );
        // Relabelling back merges neighbours.
        m.carve(0, 0x10000, Ram);
        assert_eq!(m.regions(), [r(0, 0x1000, Ram), r(0x2000, 0x10000, Ram)]);
        m.carve(5, 5, Reserved);
        m.carve(0x20000, 0x30000, Reserved);
        assert_eq!(m.regions().len(), 2);
        // Carving Ram out of a reservation works regardless of priority.
        m.carve(0x2000, 0x3000, Unusable);
        m.carve(0x2000, 0x3000, Ram);
        assert_eq!(m.regions(), [r(0, 0x1000, Ram), r(0x2000, 0x10000, Ram)]);
    }
}
