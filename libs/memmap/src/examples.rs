//! Memory maps of real machines, for tests across the crates (the kexec
//! planners, the crash reservation) and for reading alongside the code.

use crate::{MemoryMap, Region, RegionKind::*};

/// QEMU q35's e820 for `-m 512M`, with the running kexos kernel (loaded by
/// the boot loader) at 16..20 MiB.
pub fn qemu_512m() -> MemoryMap {
    MemoryMap::from_regions([
        Region::new(0, 0x9fc00, Ram),
        Region::new(0x9fc00, 0xa0000, Reserved),
        Region::new(0xf0000, 0x100000, Reserved),
        Region::new(0x100000, 0x1ffe0000, Ram),
        Region::new(0x1000000, 0x1400000, Bootloader),
        Region::new(0x1ffe0000, 0x20000000, Reserved),
        Region::new(0xb0000000, 0xc0000000, Reserved),
        Region::new(0xfed1c000, 0xfed20000, Reserved),
        Region::new(0xfeffc000, 0xff000000, Reserved),
        Region::new(0xfffc0000, 0x1_0000_0000, Reserved),
    ])
}
