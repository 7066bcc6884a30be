//! Three log lines every kexos boot writes, and their parsers (the bench and
//! the QEMU scenarios read them back):
//!
//! - [`MemBreakdown`]: where the machine's memory went, in KiB, from the
//!   allocators' own counts:
//!   `mm: KiB: ram 43008 + firmware 6144 = 49152; kernel 1876, initramfs 248, loader 3692, boot 0, low 636, bitmap 4, page tables 28, crashkernel 0, heap 9216 (ramfs 12), other 12, free 27296`
//!   The parts after `;` add up to `ram` exactly.
//! - [`Timeline`]: microseconds from kernel entry at each boot step:
//!   `boot: timeline us: console 12, tsc 5100, mm 5400, ...`
//!
//! and the TSC frequency line ([`tsc`]), `time: TSC 2612.653 MHz (...)`.
#![no_std]

use core::fmt;

pub mod tsc;

/// The prefix of the memory breakdown line.
pub const MEM_PREFIX: &str = "mm: KiB: ";
/// The prefix of the boot timeline line.
pub const TIMELINE_PREFIX: &str = "boot: timeline us: ";

/// Where RAM went at the end of boot, in bytes (printed in KiB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemBreakdown {
    /// RAM the firmware reported (usable + the boot loader's).
    pub ram: u64,
    /// Non-RAM the firmware keeps below the top of RAM (ACPI, runtime
    /// services, reserved): not in `ram`.
    pub firmware: u64,
    /// The kernel image in memory (text, data, bss, boot page tables).
    pub kernel: u64,
    /// The initramfs as loaded (kept: it is /boot/initramfs.cpio).
    pub initramfs: u64,
    /// The boot loader's other RAM (first boot: its page tables, boot info,
    /// stack, the kernel file's pages outside the image).
    pub loader: u64,
    /// What the boot protocol handed over (zero page, command line,
    /// setup_data, hand-over buffers), after a kexec.
    pub boot: u64,
    /// RAM below 1 MiB, never allocated.
    pub low: u64,
    /// The frame allocator's bitmap.
    pub bitmap: u64,
    /// The kernel's own page tables.
    pub page_tables: u64,
    /// The crash kernel region (`crashkernel=`).
    pub crashkernel: u64,
    /// The kernel heap.
    pub heap: u64,
    /// Heap bytes the ramfs files hold (part of `heap`).
    pub ramfs: u64,
    /// Frames allocated by the rest of boot.
    pub other: u64,
    /// Free frames.
    pub free: u64,
}

/// A part of the breakdown (name, bytes), in printing order; `ramfs` is
/// printed inside `heap`.
const PARTS: usize = 11;

impl MemBreakdown {
    fn parts(&self) -> [(&'static str, u64); PARTS] {
        [
            ("kernel", self.kernel),
            ("initramfs", self.initramfs),
            ("loader", self.loader),
            ("boot", self.boot),
            ("low", self.low),
            ("bitmap", self.bitmap),
            ("page tables", self.page_tables),
            ("crashkernel", self.crashkernel),
            ("heap", self.heap),
            ("other", self.other),
            ("free", self.free),
        ]
    }

    fn set(&mut self, name: &str, v: u64) -> Option<()> {
        let f = match name {
            "kernel" => &mut self.kernel,
            "initramfs" => &mut self.initramfs,
            "loader" => &mut self.loader,
            "boot" => &mut self.boot,
            "low" => &mut self.low,
            "bitmap" => &mut self.bitmap,
            "page tables" => &mut self.page_tables,
            "crashkernel" => &mut self.crashkernel,
            "heap" => &mut self.heap,
            "other" => &mut self.other,
            "free" => &mut self.free,
            _ => return None,
        };
        *f = v;
        Some(())
    }

    /// The sum of the parts (everything but `ram`, `firmware`, `ramfs`).
    pub fn sum_of_parts(&self) -> u64 {
        self.parts().iter().map(|p| p.1).sum()
    }

    /// Fill `other` so the parts add up to `ram` (None if they exceed it:
    /// something is counted twice).
    pub fn with_other_as_rest(mut self) -> Option<MemBreakdown> {
        self.other = 0;
        self.other = self.ram.checked_sub(self.sum_of_parts())?;
        Some(self)
    }

    /// Parse the text after [`MEM_PREFIX`] (values in KiB, returned in bytes).
    pub fn parse(text: &str) -> Option<MemBreakdown> {
        let mut b = MemBreakdown::default();
        let (head, tail) = text.trim().split_once("; ")?;
        let (ram, rest) = head.strip_prefix("ram ")?.split_once(" + firmware ")?;
        let (firmware, total) = rest.split_once(" = ")?;
        b.ram = kib(ram)?;
        b.firmware = kib(firmware)?;
        if kib(total)? != b.ram + b.firmware {
            return None;
        }
        let mut seen = 0;
        for part in tail.split(", ") {
            let (name, value) = part
                .rsplit_once(' ')
                .filter(|_| !part.ends_with(')'))
                .map_or_else(
                    || {
                        // "heap N (ramfs M)"
                        let (h, r) = part.strip_suffix(')')?.split_once(" (ramfs ")?;
                        b.ramfs = kib(r)?;
                        h.rsplit_once(' ')
                    },
                    Some,
                )?;
            b.set(name, kib(value)?)?;
            seen += 1;
        }
        (seen == PARTS).then_some(b)
    }
}

fn kib(s: &str) -> Option<u64> {
    s.parse::<u64>().ok()?.checked_mul(1024)
}

impl fmt::Display for MemBreakdown {
    /// The line after [`MEM_PREFIX`]; every value rounded down to KiB
    /// (the parts are page multiples, so they still add up).
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let k = |v: u64| v >> 10;
        write!(
            f,
            "ram {} + firmware {} = {}; ",
            k(self.ram),
            k(self.firmware),
            k(self.ram + self.firmware)
        )?;
        for (i, (name, v)) in self.parts().iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{name} {}", k(*v))?;
            if *name == "heap" {
                write!(f, " (ramfs {})", k(self.ramfs))?;
            }
        }
        Ok(())
    }
}

/// The boot steps the timeline marks, in order.
pub const STEPS: [&str; 10] = [
    "console",
    "tsc",
    "mm",
    "page tables",
    "initramfs",
    "files",
    "keys",
    "ima",
    "init",
    "prompt",
];

/// Microseconds from kernel entry at the end of each of [`STEPS`] (0: not
/// reached).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    pub us: [u64; STEPS.len()],
}

impl Timeline {
    pub const fn new() -> Timeline {
        Timeline {
            us: [0; STEPS.len()],
        }
    }

    /// Record step `name` at `us` (unknown names are ignored).
    pub fn mark(&mut self, name: &str, us: u64) {
        if let Some(i) = STEPS.iter().position(|s| *s == name) {
            self.us[i] = us;
        }
    }

    /// Each step's own time: from the previous step's mark (kernel entry for
    /// the first) to its own, in microseconds, with the step's name.
    pub fn durations(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        STEPS.iter().enumerate().map(|(i, s)| {
            (
                *s,
                self.us[i].saturating_sub(if i == 0 { 0 } else { self.us[i - 1] }),
            )
        })
    }

    /// Parse the text after [`TIMELINE_PREFIX`]: every step, in order,
    /// never going back in time.
    pub fn parse(text: &str) -> Option<Timeline> {
        let mut t = Timeline::default();
        let mut n = 0;
        for (i, part) in text.trim().split(", ").enumerate() {
            let (name, v) = part.rsplit_once(' ')?;
            if STEPS.get(i) != Some(&name) {
                return None;
            }
            t.us[i] = v.parse().ok()?;
            if i > 0 && t.us[i] < t.us[i - 1] {
                return None;
            }
            n += 1;
        }
        (n == STEPS.len()).then_some(t)
    }
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, s) in STEPS.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{s} {}", self.us[i])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    fn sample() -> MemBreakdown {
        MemBreakdown {
            ram: 42 << 20,
            firmware: 6 << 20,
            kernel: 1876 << 10,
            initramfs: 248 << 10,
            loader: 3 << 20,
            boot: 0,
            low: 636 << 10,
            bitmap: 4 << 10,
            page_tables: 28 << 10,
            crashkernel: 0,
            heap: 9 << 20,
            ramfs: 12 << 10,
            other: 0,
            free: 0,
        }
    }

    #[test]
    fn breakdown_round_trips_and_adds_up() {
        let mut b = sample();
        b.free = 20 << 20;
        let b = b.with_other_as_rest().unwrap();
        assert_eq!(b.sum_of_parts(), b.ram);
        assert_eq!(
            b.other,
            (42 << 20) - ((1876 + 248 + 3072 + 636 + 4 + 28 + 9216 + 20480) << 10)
        );
        let line = b.to_string();
        assert!(
            line.starts_with(
                "ram 43008 + firmware 6144 = 49152; kernel 1876, initramfs 248, loader 3072,"
            ),
            "{line}"
        );
        assert!(line.contains(", heap 9216 (ramfs 12), other "), "{line}");
        assert_eq!(MemBreakdown::parse(&line), Some(b));
    }

    #[test]
    fn breakdown_refuses_what_does_not_add_up() {
        let mut b = sample();
        b.free = 40 << 20; // more than the RAM left
        assert_eq!(b.with_other_as_rest(), None);
        let line = sample().with_other_as_rest().unwrap().to_string();
        assert_eq!(
            MemBreakdown::parse(&line.replace("= 49152", "= 49151")),
            None
        );
        assert_eq!(MemBreakdown::parse(&line.replace(", free 0", "")), None);
        assert_eq!(
            MemBreakdown::parse(&line.replace("bitmap", "bitmaps")),
            None
        );
        assert_eq!(
            MemBreakdown::parse("ram x + firmware 1 = 1; kernel 1"),
            None
        );
    }

    #[test]
    fn timeline_round_trips_in_order() {
        let mut t = Timeline::default();
        for (i, s) in STEPS.iter().enumerate() {
            t.mark(s, 100 * (i as u64 + 1));
        }
        t.mark("no such step", 1);
        let line = t.to_string();
        assert!(
            line.starts_with("console 100, tsc 200, mm 300, page tables 400,"),
            "{line}"
        );
        assert_eq!(Timeline::parse(&line), Some(t));
        assert!(t.durations().all(|(_, d)| d == 100));
        // Out of order or missing steps are refused.
        assert_eq!(Timeline::parse(&line.replace("tsc 200", "tsc 50")), None);
        assert_eq!(Timeline::parse(&line.replace(", prompt 1000", "")), None);
        assert_eq!(Timeline::parse(&line.replace("mm 300", "heap 300")), None);
    }
}
