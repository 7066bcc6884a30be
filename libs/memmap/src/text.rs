//! `/proc/iomem` and `/proc/meminfo` text.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::{MemoryMap, Region};

/// A resource nested under System RAM in `/proc/iomem`
/// (e.g. "Kernel code", "Crash kernel").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IomemChild {
    pub start: u64,
    /// Exclusive.
    pub end: u64,
    pub name: &'static str,
}

impl MemoryMap {
    /// `/proc/iomem` text: one `start-end : name` line per region (inclusive
    /// end, at least 8 hex digits), adjacent regions with the same name
    /// joined (RAM and boot-loader RAM are both "System RAM"). Each child is
    /// listed, indented by two spaces, under every System RAM line it
    /// overlaps, clipped to it; children outside RAM are not shown.
    pub fn iomem(&self, children: &[IomemChild]) -> String {
        let mut sorted: Vec<IomemChild> = children
            .iter()
            .copied()
            .filter(|c| c.start < c.end)
            .collect();
        sorted.sort_by_key(|c| (c.start, c.end));
        let mut out = String::new();
        for r in self.display_regions() {
            line(&mut out, 0, r.start, r.end, r.kind.iomem_name());
            if !r.kind.is_ram() {
                continue;
            }
            for c in sorted.iter().filter(|c| c.start < r.end && r.start < c.end) {
                line(&mut out, 1, c.start.max(r.start), c.end.min(r.end), c.name);
            }
        }
        out
    }

    /// Regions with neighbours of the same iomem name joined.
    fn display_regions(&self) -> Vec<Region> {
        let mut out: Vec<Region> = Vec::new();
        for &r in self.regions() {
            match out.last_mut() {
                Some(last)
                    if last.end == r.start && last.kind.iomem_name() == r.kind.iomem_name() =>
                {
                    last.end = r.end;
                }
                _ => out.push(r),
            }
        }
        out
    }
}

/// One `/proc/iomem` line for `[start, end)` (non-empty).
fn line(out: &mut String, depth: usize, start: u64, end: u64, name: &str) {
    for _ in 0..depth {
        out.push_str("  ");
    }
    let _ = writeln!(
        out,
        "{:08x}-{:08x} : {}",
        start,
        end.saturating_sub(1),
        name
    );
}

/// `/proc/meminfo` text: MemTotal, MemFree and MemAvailable (= free) in kB,
/// in Linux's `%-16s%8lu kB` layout.
pub fn meminfo(total_bytes: u64, free_bytes: u64) -> String {
    let mut out = String::new();
    for (label, bytes) in [
        ("MemTotal:", total_bytes),
        ("MemFree:", free_bytes),
        ("MemAvailable:", free_bytes),
    ] {
        let _ = writeln!(out, "{:<16}{:>8} kB", label, bytes / 1024);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RegionKind::*;

    #[test]
    fn iomem_snapshot() {
        let mut m = MemoryMap::from_regions([
            Region::new(0, 0x1000, Reserved),
            Region::new(0x1000, 0x9fc00, Ram),
            Region::new(0x9fc00, 0xa0000, Reserved),
            Region::new(0xf0000, 0x100000, Reserved),
            Region::new(0x100000, 0x7fe0000, Ram),
            Region::new(0x7fe0000, 0x8000000, AcpiReclaim),
            Region::new(0xfeffc000, 0xff000000, Reserved),
            Region::new(0xfffc0000, 0x1_0000_0000, Reserved),
            Region::new(0x1_0000_0000, 0x1_4000_0000, Ram),
        ]);
        m.carve(0x200000, 0x400000, Bootloader);
        let text = m.iomem(&[
            IomemChild {
                start: 0x3000000,
                end: 0x5000000,
                name: "Crash kernel",
            },
            IomemChild {
                start: 0x200000,
                end: 0x280000,
                name: "Kernel code",
            },
            IomemChild {
                start: 0x280000,
                end: 0x2c0000,
                name: "Kernel data",
            },
            IomemChild {
                start: 0x8000,
                end: 0x8000,
                name: "empty",
            },
            IomemChild {
                start: 0xfeffc000,
                end: 0xfeffd000,
                name: "not RAM",
            },
        ]);
        let expect = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000f0000-000fffff : Reserved
00100000-07fdffff : System RAM
  00200000-0027ffff : Kernel code
  00280000-002bffff : Kernel data
  03000000-04ffffff : Crash kernel
07fe0000-07ffffff : ACPI Tables
feffc000-feffffff : Reserved
fffc0000-ffffffff : Reserved
100000000-13fffffff : System RAM
";
        assert_eq!(text, expect);
    }

    #[test]
    fn iomem_child_clipped_to_each_ram_line() {
        let m = MemoryMap::from_regions([
            Region::new(0x1000, 0x2000, Ram),
            Region::new(0x2000, 0x3000, Reserved),
            Region::new(0x3000, 0x4000, Ram),
        ]);
        let text = m.iomem(&[IomemChild {
            start: 0x1800,
            end: 0x3800,
            name: "X",
        }]);
        assert_eq!(
            text,
            "00001000-00001fff : System RAM\n  00001800-00001fff : X\n\
             00002000-00002fff : Reserved\n\
             00003000-00003fff : System RAM\n  00003000-000037ff : X\n"
        );
        assert_eq!(MemoryMap::default().iomem(&[]), "");
    }

    #[test]
    fn meminfo_layout() {
        assert_eq!(
            meminfo(128 << 20, 100 << 20),
            "MemTotal:         131072 kB\nMemFree:          102400 kB\nMemAvailable:     102400 kB\n"
        );
        let big = meminfo(u64::MAX, 0);
        assert!(big.starts_with("MemTotal:       18014398509481983 kB\n"));
    }
}
