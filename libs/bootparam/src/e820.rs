//! E820 entries (`struct boot_e820_entry`, packed: u64 addr, u64 size, u32 type).

use alloc::vec::Vec;
use memmap::MemoryMap;

use crate::bytes::{u32_at, u64_at};

/// Bytes per packed e820 entry.
pub const E820_ENTRY_SIZE: usize = 20;

/// One e820 range `[addr, addr + size)` of type `typ` ([`crate::e820_type`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    /// Start address.
    pub addr: u64,
    /// Length in bytes.
    pub size: u64,
    /// E820 type: 1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable, 7 persistent.
    pub typ: u32,
}

impl E820Entry {
    /// The packed 20-byte encoding.
    pub fn to_bytes(&self) -> [u8; E820_ENTRY_SIZE] {
        let mut b = [0u8; E820_ENTRY_SIZE];
        b[0..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..16].copy_from_slice(&self.size.to_le_bytes());
        b[16..20].copy_from_slice(&self.typ.to_le_bytes());
        b
    }

    /// Decode a packed entry (missing bytes read as zero).
    pub fn from_bytes(b: &[u8]) -> E820Entry {
        E820Entry {
            addr: u64_at(b, 0),
            size: u64_at(b, 8),
            typ: u32_at(b, 16),
        }
    }

    /// Decode consecutive packed entries; a trailing partial entry is ignored.
    pub fn parse_array(b: &[u8]) -> Vec<E820Entry> {
        b.as_chunks::<E820_ENTRY_SIZE>()
            .0
            .iter()
            .map(|c| E820Entry::from_bytes(c))
            .collect()
    }

    /// Exclusive end, saturating.
    pub fn end(&self) -> u64 {
        self.addr.saturating_add(self.size)
    }
}

/// The e820 table to hand a next kernel for `map`: free and boot-loader RAM
/// are both E820_RAM (1), ACPI 3, NVS 4, unusable 5, persistent 7, reserved 2
/// ([`memmap::RegionKind::to_e820`]). Adjacent entries of one type merge.
pub fn e820_from_memmap(map: &MemoryMap) -> Vec<E820Entry> {
    let mut out: Vec<E820Entry> = Vec::new();
    for r in map.regions() {
        let typ = r.kind.to_e820();
        match out.last_mut() {
            Some(last) if last.typ == typ && last.end() == r.start => {
                last.size = r.end - last.addr;
            }
            _ => out.push(E820Entry {
                addr: r.start,
                size: r.len(),
                typ,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use memmap::{Region, RegionKind::*};

    #[test]
    fn packed_roundtrip() {
        let e = E820Entry {
            addr: 0x1122_3344_5566_7788,
            size: 0x1000,
            typ: 4,
        };
        let b = e.to_bytes();
        assert_eq!(&b[16..], &[4, 0, 0, 0]);
        assert_eq!(E820Entry::from_bytes(&b), e);
        assert_eq!(E820Entry::parse_array(&[b, b].concat()[..39]).len(), 1);
    }

    #[test]
    fn from_memmap_types_and_merge() {
        let m = MemoryMap::from_regions([
            Region::new(0, 0x9f000, Ram),
            Region::new(0x9f000, 0x100000, Reserved),
            Region::new(0x100000, 0x200000, Ram),
            Region::new(0x200000, 0x300000, Bootloader),
            Region::new(0x300000, 0x400000, Ram),
            Region::new(0x400000, 0x401000, AcpiReclaim),
            Region::new(0x401000, 0x402000, AcpiNvs),
            Region::new(0x402000, 0x403000, Unusable),
            Region::new(0x1_0000_0000, 0x1_1000_0000, Persistent),
        ]);
        let e = e820_from_memmap(&m);
        let t: Vec<(u64, u64, u32)> = e.iter().map(|e| (e.addr, e.size, e.typ)).collect();
        assert_eq!(
            t,
            [
                (0, 0x9f000, 1),
                (0x9f000, 0x61000, 2),
                (0x100000, 0x300000, 1),
                (0x400000, 0x1000, 3),
                (0x401000, 0x1000, 4),
                (0x402000, 0x1000, 5),
                (0x1_0000_0000, 0x1000_0000, 7),
            ]
        );
    }
}
