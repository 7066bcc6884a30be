//! The crash kernel (kdump) reservation: choosing its place
//! ([`plan_crash_region`], kernel/crash_reserve.c
//! `reserve_crashkernel_generic` on x86) and the memory map the capture
//! kernel boots with ([`crash_memmap`], arch/x86/kernel/crash.c
//! `crash_setup_memmap_entries`).
//!
//! # Placement rules (x86 Linux, with kexos's choices)
//! * The size is rounded up to a page.
//! * Without an offset: the HIGHEST start that is a multiple of
//!   [`CRASH_ALIGN`] (16 MiB) such that `[start, start + size)` lies inside
//!   one free-RAM region ([`RegionKind::Ram`] only), ends at or below
//!   `limit` and is `is_free`. Linux's memblock allocates top down, so this
//!   is where Linux puts it. The start is at least [`CRASH_ALIGN`]: Linux
//!   searches from 0, but memblock never hands out the first page, and the
//!   next 16 MiB-aligned address is 16 MiB.
//! * `limit` is [`CRASH_ADDR_LOW_MAX`] by default; for `crashkernel=...,high`
//!   the caller passes `u64::MAX` (x86's real cap is 64 TiB). Linux falls
//!   back from low to high memory (and back) when the first search fails;
//!   that retry is the caller's.
//! * With an offset (`crashkernel=SIZE@OFFSET`): exactly
//!   `[offset, offset + size)`. The offset must be a multiple of
//!   [`CRASH_ALIGN`]: Linux asks memblock for a CRASH_ALIGN-aligned block
//!   inside exactly that window, which only succeeds at an aligned base
//!   (older x86 code used 1 MiB here; the generic code since 6.7 uses
//!   CRASH_ALIGN). `limit` does not apply to a fixed offset (as in Linux).

use alloc::vec::Vec;
use core::fmt;

use crate::{MemoryMap, Region, RegionKind, FRAME_SIZE};

/// x86 CRASH_ALIGN: alignment of the crash kernel region (16 MiB).
pub const CRASH_ALIGN: u64 = 16 << 20;
/// x86_64 CRASH_ADDR_LOW_MAX: by default the region lies below 4 GiB.
pub const CRASH_ADDR_LOW_MAX: u64 = 4 << 30;

/// Why no crash kernel region could be chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrashPlanError {
    /// Size 0.
    ZeroSize,
    /// The (page-rounded) size is at least all of RAM.
    LargerThanRam { size: u64, ram: u64 },
    /// `@offset` is not a multiple of [`CRASH_ALIGN`].
    OffsetNotAligned { offset: u64 },
    /// `[start, end)` (the `@offset` window) is not inside one free-RAM region.
    OffsetNotRam { start: u64, end: u64 },
    /// `[start, end)` (the `@offset` window) is RAM but already in use.
    OffsetInUse { start: u64, end: u64 },
    /// No free-RAM region holds `size` bytes from a CRASH_ALIGN boundary
    /// below `limit`; `largest` is the longest such stretch there is.
    NoAlignedRange { size: u64, limit: u64, largest: u64 },
    /// Aligned RAM windows of `size` bytes exist below `limit`
    /// (`candidates` of them) but every one overlaps memory in use.
    AllInUse {
        size: u64,
        limit: u64,
        candidates: u64,
    },
}

impl CrashPlanError {
    /// The errno: a bad request EINVAL, memory in use EBUSY, no room ENOMEM.
    pub fn errno(&self) -> abi::Errno {
        match self {
            CrashPlanError::ZeroSize
            | CrashPlanError::LargerThanRam { .. }
            | CrashPlanError::OffsetNotAligned { .. }
            | CrashPlanError::OffsetNotRam { .. } => abi::Errno::EINVAL,
            CrashPlanError::OffsetInUse { .. } => abi::Errno::EBUSY,
            CrashPlanError::NoAlignedRange { .. } | CrashPlanError::AllInUse { .. } => {
                abi::Errno::ENOMEM
            }
        }
    }
}

/// `bytes` in MiB, with two decimals when not whole.
struct Mib(u64);

impl fmt::Display for Mib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: u64 = 1 << 20;
        let (whole, rest) = (self.0 / MIB, self.0 % MIB);
        if rest == 0 {
            write!(f, "{whole} MiB")
        } else {
            let hundredths = (u128::from(rest) * 100 / u128::from(MIB)) as u64;
            write!(f, "{whole}.{hundredths:02} MiB")
        }
    }
}

/// The limit for messages: "below 4096 MiB", or "anywhere".
struct Below(u64);

impl fmt::Display for Below {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            u64::MAX => f.write_str("anywhere in RAM"),
            l => write!(f, "below {}", Mib(l)),
        }
    }
}

impl fmt::Display for CrashPlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("crashkernel: ")?;
        match *self {
            CrashPlanError::ZeroSize => f.write_str("size is 0"),
            CrashPlanError::LargerThanRam { size, ram } => write!(
                f,
                "{} is not smaller than the {} of RAM",
                Mib(size),
                Mib(ram)
            ),
            CrashPlanError::OffsetNotAligned { offset } => write!(
                f,
                "offset {offset:#x} ({}) is not a multiple of {}",
                Mib(offset),
                Mib(CRASH_ALIGN)
            ),
            CrashPlanError::OffsetNotRam { start, end } => write!(
                f,
                "[{start:#x}-{:#x}] ({} at {}) is not inside one free System RAM region",
                end.wrapping_sub(1),
                Mib(end.wrapping_sub(start)),
                Mib(start)
            ),
            CrashPlanError::OffsetInUse { start, end } => write!(
                f,
                "[{start:#x}-{:#x}] ({} at {}) is already in use",
                end.wrapping_sub(1),
                Mib(end.wrapping_sub(start)),
                Mib(start)
            ),
            CrashPlanError::NoAlignedRange {
                size,
                limit,
                largest,
            } => write!(
                f,
                "no {}-aligned free RAM of {} {}: the largest is {}",
                Mib(CRASH_ALIGN),
                Mib(size),
                Below(limit),
                Mib(largest)
            ),
            CrashPlanError::AllInUse {
                size,
                limit,
                candidates,
            } => write!(
                f,
                "all {candidates} {}-aligned RAM windows of {} {} are in use",
                Mib(CRASH_ALIGN),
                Mib(size),
                Below(limit)
            ),
        }
    }
}

/// Free-RAM ranges of `regions`, sorted, adjacent ones merged.
fn ram_ranges(regions: &[Region]) -> Vec<(u64, u64)> {
    let mut ram: Vec<(u64, u64)> = regions
        .iter()
        .filter(|r| r.kind == RegionKind::Ram && !r.is_empty())
        .map(|r| (r.start, r.end))
        .collect();
    ram.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ram.len());
    for (s, e) in ram {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Choose the crash kernel region `[start, end)` (see the module docs):
/// `size` rounded up to a page; at exactly `offset` if given, else the
/// highest [`CRASH_ALIGN`]-aligned start >= [`CRASH_ALIGN`] with the whole
/// range in one free-RAM region, ending at or below `limit`, and
/// `is_free(start, end)`. `regions` are a memory map's regions
/// ([`MemoryMap::regions`]); only [`RegionKind::Ram`] counts.
pub fn plan_crash_region(
    regions: &[Region],
    size: u64,
    offset: Option<u64>,
    limit: u64,
    is_free: impl Fn(u64, u64) -> bool,
) -> Result<(u64, u64), CrashPlanError> {
    if size == 0 {
        return Err(CrashPlanError::ZeroSize);
    }
    let ram_total: u64 = regions
        .iter()
        .filter(|r| r.kind.is_ram())
        .map(Region::len)
        .sum();
    let size = size
        .checked_next_multiple_of(FRAME_SIZE)
        .filter(|&s| s < ram_total)
        .ok_or(CrashPlanError::LargerThanRam {
            size,
            ram: ram_total,
        })?;
    let ram = ram_ranges(regions);

    if let Some(start) = offset {
        if start % CRASH_ALIGN != 0 {
            return Err(CrashPlanError::OffsetNotAligned { offset: start });
        }
        let end = start
            .checked_add(size)
            .ok_or(CrashPlanError::OffsetNotRam {
                start,
                end: u64::MAX,
            })?;
        if !ram.iter().any(|&(s, e)| s <= start && end <= e) {
            return Err(CrashPlanError::OffsetNotRam { start, end });
        }
        if !is_free(start, end) {
            return Err(CrashPlanError::OffsetInUse { start, end });
        }
        return Ok((start, end));
    }

    let mut largest = 0;
    let mut candidates = 0;
    for &(s, e) in ram.iter().rev() {
        let lo = s.max(CRASH_ALIGN).next_multiple_of(CRASH_ALIGN);
        let hi = e.min(limit);
        if lo >= hi {
            continue;
        }
        largest = largest.max(hi - lo);
        if hi - lo < size {
            continue;
        }
        // Aligned starts from the highest down to `lo`.
        let mut start = (hi - size) / CRASH_ALIGN * CRASH_ALIGN;
        loop {
            candidates += 1;
            if is_free(start, start + size) {
                return Ok((start, start + size));
            }
            if start < lo + CRASH_ALIGN {
                break;
            }
            start -= CRASH_ALIGN;
        }
    }
    if candidates == 0 {
        Err(CrashPlanError::NoAlignedRange {
            size,
            limit,
            largest,
        })
    } else {
        Err(CrashPlanError::AllInUse {
            size,
            limit,
            candidates,
        })
    }
}

/// The end of the low memory a capture kernel gets as its own RAM (the RAM
/// parts of `[0, 1 MiB)`, [`crash_memmap`]) and the crashed kernel's ELF
/// core headers leave out of the dump, as on Linux/x86.
pub const CAPTURE_LOW_END: u64 = 1 << 20;

/// The memory map a crash (capture) kernel boots with (Linux's
/// `crash_setup_memmap_entries`): the System RAM parts of `[0, 1 MiB)` as
/// RAM (the capture kernel needs low memory for its trampolines); every
/// ACPI (reclaim), ACPI NVS and Reserved region as it is (so it can find
/// its tables and leave firmware's memory alone); and the crash region
/// `[region.0, region.1)` minus every `exclude` range (the ELF core
/// headers, which it must not overwrite) as RAM, leaving out any piece
/// smaller than a page. Nothing else: the rest of the first kernel's RAM is
/// what the capture kernel dumps (through the ELF headers), not memory it
/// may use. The crash region is RAM here whatever `map` calls it (the first
/// kernel may have relabelled its reservation, e.g. Reserved, to keep its
/// allocator out). Sorted, same-kind neighbours merged.
pub fn crash_memmap(map: &MemoryMap, region: (u64, u64), exclude: &[(u64, u64)]) -> MemoryMap {
    let mut out: Vec<Region> = Vec::new();
    let mut keep = |start: u64, end: u64, kind: RegionKind| {
        for (s, e) in minus(alloc::vec![(start, end)], region) {
            out.push(Region::new(s, e, kind));
        }
    };
    for r in map.regions() {
        if r.kind.is_ram() && r.start < CAPTURE_LOW_END {
            keep(r.start, r.end.min(CAPTURE_LOW_END), RegionKind::Ram);
        }
        if matches!(
            r.kind,
            RegionKind::AcpiReclaim | RegionKind::AcpiNvs | RegionKind::Reserved
        ) {
            keep(r.start, r.end, r.kind);
        }
    }
    let pieces = exclude
        .iter()
        .fold(alloc::vec![region], |pieces, &x| minus(pieces, x));
    out.extend(
        pieces
            .into_iter()
            .filter(|&(s, e)| e.saturating_sub(s) >= FRAME_SIZE)
            .map(|(s, e)| Region::new(s, e, RegionKind::Ram)),
    );
    MemoryMap::from_regions(out)
}

/// `pieces` (half-open ranges) without `[x.0, x.1)`; empty pieces dropped.
fn minus(pieces: Vec<(u64, u64)>, x: (u64, u64)) -> Vec<(u64, u64)> {
    let (xs, xe) = x;
    if xs >= xe {
        return pieces;
    }
    pieces
        .into_iter()
        .flat_map(|(s, e)| [(s, e.min(xs)), (s.max(xe), e)])
        .filter(|&(s, e)| s < e)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegionKind::*;

    const MIB: u64 = 1 << 20;

    use crate::examples::qemu_512m;
    /// Not free: the first kernel's heap at 440..460 MiB and single pages
    /// at 100 and 300 MiB.
    fn busy(s: u64, e: u64) -> bool {
        let used = [
            (440 * MIB, 460 * MIB),
            (300 * MIB, 300 * MIB + 4096),
            (100 * MIB, 100 * MIB + 4096),
        ];
        used.iter().all(|&(us, ue)| e <= us || s >= ue)
    }

    fn all_free(_: u64, _: u64) -> bool {
        true
    }

    #[test]
    fn highest_aligned_free_range() {
        let m = qemu_512m();
        let r = m.regions();
        // RAM ends at 0x1ffe0000: the highest 16 MiB-aligned 64 MiB window
        // ends at or below it.
        assert_eq!(
            plan_crash_region(r, 64 * MIB, None, CRASH_ADDR_LOW_MAX, all_free),
            Ok((0x1b00_0000, 0x1f00_0000))
        );
        // The heap at 440..460 MiB and the page at 300 MiB push it down.
        assert_eq!(
            plan_crash_region(r, 64 * MIB, None, CRASH_ADDR_LOW_MAX, busy),
            Ok((368 * MIB, 432 * MIB))
        );
        assert_eq!(
            plan_crash_region(r, 128 * MIB, None, CRASH_ADDR_LOW_MAX, busy),
            Ok((304 * MIB, 432 * MIB))
        );
        // Size rounded up to a page.
        assert_eq!(
            plan_crash_region(r, 64 * MIB - 100, None, CRASH_ADDR_LOW_MAX, all_free),
            Ok((0x1b00_0000, 0x1f00_0000))
        );
        // A limit caps the end.
        assert_eq!(
            plan_crash_region(r, 64 * MIB, None, 256 * MIB, busy),
            Ok((192 * MIB, 256 * MIB))
        );
        assert_eq!(
            plan_crash_region(r, 64 * MIB, None, u64::MAX, all_free),
            Ok((0x1b00_0000, 0x1f00_0000))
        );
        // Never below 16 MiB, even when only that would fit.
        let low = MemoryMap::from_regions([
            Region::new(MIB, 40 * MIB, Ram),
            Region::new(0x1ffe0000, 0x20000000, Reserved),
        ]);
        assert_eq!(
            plan_crash_region(low.regions(), 16 * MIB, None, CRASH_ADDR_LOW_MAX, all_free),
            Ok((16 * MIB, 32 * MIB))
        );
        assert_eq!(
            plan_crash_region(low.regions(), 16 * MIB, None, CRASH_ADDR_LOW_MAX, |s, _| s
                != 16 * MIB),
            Err(CrashPlanError::AllInUse {
                size: 16 * MIB,
                limit: CRASH_ADDR_LOW_MAX,
                candidates: 1
            })
        );
    }

    #[test]
    fn only_free_ram_counts() {
        // Bootloader (the running kernel) and reserved memory are not
        // candidates even if is_free says yes; two adjacent Ram regions
        // in a raw list count as one.
        let regions = [
            Region::new(16 * MIB, 48 * MIB, Ram),
            Region::new(48 * MIB, 80 * MIB, Ram),
            Region::new(80 * MIB, 160 * MIB, Bootloader),
        ];
        assert_eq!(
            plan_crash_region(&regions, 64 * MIB, None, u64::MAX, all_free),
            Ok((16 * MIB, 80 * MIB))
        );
        let e = plan_crash_region(&regions, 80 * MIB, None, u64::MAX, all_free).unwrap_err();
        assert_eq!(
            e,
            CrashPlanError::NoAlignedRange {
                size: 80 * MIB,
                limit: u64::MAX,
                largest: 64 * MIB
            }
        );
        assert_eq!(e.errno(), abi::Errno::ENOMEM);
        assert_eq!(
            e.to_string(),
            "crashkernel: no 16 MiB-aligned free RAM of 80 MiB anywhere in RAM: the largest is 64 MiB"
        );
    }

    #[test]
    fn fixed_offset() {
        let m = qemu_512m();
        let r = m.regions();
        assert_eq!(
            plan_crash_region(r, 64 * MIB, Some(32 * MIB), CRASH_ADDR_LOW_MAX, busy),
            Ok((32 * MIB, 96 * MIB))
        );
        // The limit does not apply to a fixed offset.
        assert_eq!(
            plan_crash_region(r, 64 * MIB, Some(192 * MIB), 128 * MIB, busy),
            Ok((192 * MIB, 256 * MIB))
        );
        let e =
            plan_crash_region(r, 64 * MIB, Some(33 * MIB), CRASH_ADDR_LOW_MAX, busy).unwrap_err();
        assert_eq!(e, CrashPlanError::OffsetNotAligned { offset: 33 * MIB });
        assert_eq!(e.errno(), abi::Errno::EINVAL);
        assert_eq!(
            e.to_string(),
            "crashkernel: offset 0x2100000 (33 MiB) is not a multiple of 16 MiB"
        );
        // 16 MiB holds the running kernel (Bootloader), not free RAM.
        let e =
            plan_crash_region(r, 64 * MIB, Some(16 * MIB), CRASH_ADDR_LOW_MAX, busy).unwrap_err();
        assert_eq!(
            e,
            CrashPlanError::OffsetNotRam {
                start: 16 * MIB,
                end: 80 * MIB
            }
        );
        // Past the end of RAM.
        let e =
            plan_crash_region(r, 64 * MIB, Some(480 * MIB), CRASH_ADDR_LOW_MAX, busy).unwrap_err();
        assert_eq!(
            e.to_string(),
            "crashkernel: [0x1e000000-0x21ffffff] (64 MiB at 480 MiB) is not inside one free System RAM region"
        );
        // Address 0 is never RAM for the region (low memory is split).
        assert!(matches!(
            plan_crash_region(r, 64 * MIB, Some(0), CRASH_ADDR_LOW_MAX, busy),
            Err(CrashPlanError::OffsetNotRam { .. })
        ));
        // Overlapping the heap.
        let e =
            plan_crash_region(r, 64 * MIB, Some(400 * MIB), CRASH_ADDR_LOW_MAX, busy).unwrap_err();
        assert_eq!(
            e,
            CrashPlanError::OffsetInUse {
                start: 400 * MIB,
                end: 464 * MIB
            }
        );
        assert_eq!(e.errno(), abi::Errno::EBUSY);
        assert!(e.to_string().contains("already in use"), "{e}");
        // Wrapping around the address space.
        assert!(matches!(
            plan_crash_region(r, 64 * MIB, Some(u64::MAX - 15 * MIB), u64::MAX, busy),
            Err(CrashPlanError::OffsetNotAligned { .. })
        ));
        assert_eq!(
            plan_crash_region(r, 64 * MIB, Some(!(CRASH_ALIGN - 1)), u64::MAX, busy),
            Err(CrashPlanError::OffsetNotRam {
                start: !(CRASH_ALIGN - 1),
                end: u64::MAX
            })
        );
    }

    #[test]
    fn bad_sizes_and_no_room() {
        let m = qemu_512m();
        let r = m.regions();
        let e = plan_crash_region(r, 0, None, CRASH_ADDR_LOW_MAX, busy).unwrap_err();
        assert_eq!(e, CrashPlanError::ZeroSize);
        assert_eq!(e.errno(), abi::Errno::EINVAL);
        let ram = m.total(Ram) + m.total(Bootloader);
        let e = plan_crash_region(r, 512 * MIB, None, CRASH_ADDR_LOW_MAX, busy).unwrap_err();
        assert_eq!(
            e,
            CrashPlanError::LargerThanRam {
                size: 512 * MIB,
                ram
            }
        );
        assert_eq!(
            e.to_string(),
            "crashkernel: 512 MiB is not smaller than the 511.49 MiB of RAM"
        );
        assert!(matches!(
            plan_crash_region(r, u64::MAX, None, u64::MAX, busy),
            Err(CrashPlanError::LargerThanRam { .. })
        ));
        // 400 MiB fits in RAM but not from a 16 MiB boundary under 0x1ffe0000
        // (20 MiB..511.9 MiB: the largest aligned stretch is 32..511.87 MiB).
        let e = plan_crash_region(r, 490 * MIB, None, CRASH_ADDR_LOW_MAX, all_free).unwrap_err();
        assert_eq!(
            e,
            CrashPlanError::NoAlignedRange {
                size: 490 * MIB,
                limit: CRASH_ADDR_LOW_MAX,
                largest: 0x1ffe0000 - 32 * MIB
            }
        );
        assert_eq!(
            e.to_string(),
            "crashkernel: no 16 MiB-aligned free RAM of 490 MiB below 4096 MiB: the largest is 479.87 MiB"
        );
        // Fits, but everything is in use.
        let e = plan_crash_region(r, 256 * MIB, None, CRASH_ADDR_LOW_MAX, busy).unwrap_err();
        assert_eq!(
            e,
            CrashPlanError::AllInUse {
                size: 256 * MIB,
                limit: CRASH_ADDR_LOW_MAX,
                candidates: 14
            }
        );
        assert_eq!(e.errno(), abi::Errno::ENOMEM);
        assert_eq!(
            e.to_string(),
            "crashkernel: all 14 16 MiB-aligned RAM windows of 256 MiB below 4096 MiB are in use"
        );
        // A limit below all RAM.
        assert!(matches!(
            plan_crash_region(r, 16 * MIB, None, 16 * MIB, all_free),
            Err(CrashPlanError::NoAlignedRange { largest: 0, .. })
        ));
    }

    #[test]
    fn capture_kernel_memmap() {
        let m = qemu_512m();
        let region = (0x1800_0000, 0x1c00_0000);
        let hdr = (0x1800_0000, 0x1800_2000);
        let got = crash_memmap(&m, region, &[hdr]);
        assert_eq!(
            got.regions(),
            [
                Region::new(0, 0x9fc00, Ram),
                Region::new(0x9fc00, 0xa0000, Reserved),
                Region::new(0xf0000, 0x100000, Reserved),
                Region::new(0x1800_2000, 0x1c00_0000, Ram),
                Region::new(0x1ffe0000, 0x20000000, Reserved),
                Region::new(0xb0000000, 0xc0000000, Reserved),
                Region::new(0xfed1c000, 0xfed20000, Reserved),
                Region::new(0xfeffc000, 0xff000000, Reserved),
                Region::new(0xfffc0000, 0x1_0000_0000, Reserved),
            ]
        );
        // No exclusion: the whole region.
        let got = crash_memmap(&m, region, &[]);
        assert_eq!(got.regions()[3], Region::new(0x1800_0000, 0x1c00_0000, Ram));
        // Headers in the middle split it; pieces under a page are dropped.
        let got = crash_memmap(
            &m,
            region,
            &[
                (0x1a00_0000, 0x1a00_1000),
                (0x1800_0800, 0x1800_1000),
                (0x1bff_f800, 0x1c00_0000),
                (5, 5),
            ],
        );
        let ram: Vec<_> = got
            .regions()
            .iter()
            .filter(|r| r.start >= 0x1800_0000 && r.kind == Ram)
            .copied()
            .collect();
        assert_eq!(
            ram,
            [
                Region::new(0x1800_1000, 0x1a00_0000, Ram),
                Region::new(0x1a00_1000, 0x1bff_f800, Ram),
            ]
        );
        // The first kernel may have labelled its reservation Reserved: the
        // region is still RAM for the capture kernel, the rest as is.
        let mut carved = m.clone();
        carved.carve(region.0, region.1, Reserved);
        assert_eq!(
            crash_memmap(&carved, region, &[hdr]),
            crash_memmap(&m, region, &[hdr])
        );
        let mut wide = m.clone();
        wide.carve(region.0 - MIB, region.1 + MIB, Reserved);
        let got = crash_memmap(&wide, region, &[hdr]);
        assert_eq!(
            got.regions()[3..6],
            [
                Region::new(region.0 - MIB, region.0, Reserved),
                Region::new(0x1800_2000, 0x1c00_0000, Ram),
                Region::new(region.1, region.1 + MIB, Reserved),
            ]
        );
        // ACPI and NVS are kept as they are, Unusable/Persistent and high
        // RAM are not; low RAM includes boot-loader RAM, clipped at 1 MiB.
        let m = MemoryMap::from_regions([
            Region::new(0, 0x1000, Bootloader),
            Region::new(0x1000, 0x80000, Ram),
            Region::new(0x80000, 0x200000, Ram),
            Region::new(0x200000, 0x300000, Unusable),
            Region::new(0x300000, 0x10000000, Ram),
            Region::new(0x7fe0000, 0x7ff0000, AcpiReclaim),
            Region::new(0x7ff0000, 0x8000000, AcpiNvs),
            Region::new(0x1000_0000, 0x1100_0000, Persistent),
        ]);
        let got = crash_memmap(&m, (0x100_0000, 0x200_0000), &[]);
        assert_eq!(
            got.regions(),
            [
                Region::new(0, 0x100000, Ram),
                Region::new(0x100_0000, 0x200_0000, Ram),
                Region::new(0x7fe0000, 0x7ff0000, AcpiReclaim),
                Region::new(0x7ff0000, 0x8000000, AcpiNvs),
            ]
        );
    }
}
