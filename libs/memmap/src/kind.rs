//! Region kinds and their firmware encodings.

/// What a range of physical addresses is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// Usable RAM.
    Ram,
    /// Reserved by firmware or hardware.
    Reserved,
    /// ACPI tables; RAM once the tables are parsed.
    AcpiReclaim,
    /// ACPI non-volatile storage; must be preserved.
    AcpiNvs,
    /// Memory with errors.
    Unusable,
    /// Persistent (NVDIMM) memory.
    Persistent,
    /// RAM the boot loader reports as its own (page tables, boot info, the
    /// kernel image): not free at first, but bootloader 0.11 reports a whole
    /// span this way, so the kernel frees what its page tables do not reach
    /// (`memmap::boot_tables`).
    Bootloader,
}

impl RegionKind {
    /// From an E820 type: 1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable,
    /// 7 (and legacy 12) persistent; anything else reserved.
    pub fn from_e820(ty: u32) -> RegionKind {
        match ty {
            1 => RegionKind::Ram,
            3 => RegionKind::AcpiReclaim,
            4 => RegionKind::AcpiNvs,
            5 => RegionKind::Unusable,
            7 | 12 => RegionKind::Persistent,
            _ => RegionKind::Reserved,
        }
    }

    /// The E820 type to hand to a next kernel. [`RegionKind::Bootloader`]
    /// is RAM (1): the next kernel may use it.
    pub fn to_e820(self) -> u32 {
        match self {
            RegionKind::Ram | RegionKind::Bootloader => 1,
            RegionKind::Reserved => 2,
            RegionKind::AcpiReclaim => 3,
            RegionKind::AcpiNvs => 4,
            RegionKind::Unusable => 5,
            RegionKind::Persistent => 7,
        }
    }

    /// From an EFI memory type: loader/boot-services code and data and
    /// conventional memory (1, 2, 3, 4, 7) are RAM; 8 unusable, 9 ACPI
    /// reclaim, 10 ACPI NVS, 14 persistent; anything else reserved.
    pub fn from_uefi(ty: u32) -> RegionKind {
        match ty {
            1..=4 | 7 => RegionKind::Ram,
            8 => RegionKind::Unusable,
            9 => RegionKind::AcpiReclaim,
            10 => RegionKind::AcpiNvs,
            14 => RegionKind::Persistent,
            _ => RegionKind::Reserved,
        }
    }

    /// The name Linux shows in `/proc/iomem`.
    pub fn iomem_name(self) -> &'static str {
        match self {
            RegionKind::Ram | RegionKind::Bootloader => "System RAM",
            RegionKind::Reserved => "Reserved",
            RegionKind::AcpiReclaim => "ACPI Tables",
            RegionKind::AcpiNvs => "ACPI Non-volatile Storage",
            RegionKind::Unusable => "Unusable memory",
            RegionKind::Persistent => "Persistent Memory",
        }
    }

    /// Is this RAM (free or boot-loader owned)?
    pub fn is_ram(self) -> bool {
        matches!(self, RegionKind::Ram | RegionKind::Bootloader)
    }

    /// All kinds, lowest priority first: where two overlap the later one
    /// wins. Firmware kinds are ordered by E820 number (as Linux's e820
    /// sanitizer does) and beat Bootloader, which beats Ram.
    pub(crate) const ALL: [RegionKind; 7] = [
        RegionKind::Ram,
        RegionKind::Bootloader,
        RegionKind::Reserved,
        RegionKind::AcpiReclaim,
        RegionKind::AcpiNvs,
        RegionKind::Unusable,
        RegionKind::Persistent,
    ];

    /// Position in [`RegionKind::ALL`].
    pub(crate) fn index(self) -> usize {
        match self {
            RegionKind::Ram => 0,
            RegionKind::Bootloader => 1,
            RegionKind::Reserved => 2,
            RegionKind::AcpiReclaim => 3,
            RegionKind::AcpiNvs => 4,
            RegionKind::Unusable => 5,
            RegionKind::Persistent => 6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e820_roundtrip() {
        for ty in [1, 2, 3, 4, 5, 7] {
            assert_eq!(RegionKind::from_e820(ty).to_e820(), ty);
        }
        assert_eq!(RegionKind::from_e820(12), RegionKind::Persistent);
        assert_eq!(RegionKind::from_e820(0), RegionKind::Reserved);
        assert_eq!(RegionKind::from_e820(99), RegionKind::Reserved);
        assert_eq!(RegionKind::Bootloader.to_e820(), 1);
    }

    #[test]
    fn uefi() {
        use RegionKind::*;
        let expect = [
            Reserved,
            Ram,
            Ram,
            Ram,
            Ram,
            Reserved,
            Reserved,
            Ram,
            Unusable,
            AcpiReclaim,
            AcpiNvs,
            Reserved,
            Reserved,
            Reserved,
            Persistent,
            Reserved,
        ];
        for (ty, kind) in expect.iter().enumerate() {
            assert_eq!(RegionKind::from_uefi(ty as u32), *kind, "type {ty}");
        }
        assert_eq!(RegionKind::from_uefi(0x8000_0000), Reserved);
    }

    #[test]
    fn ordering_tables_agree() {
        for (i, k) in RegionKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
        let firmware: alloc::vec::Vec<u32> =
            RegionKind::ALL[2..].iter().map(|k| k.to_e820()).collect();
        assert!(firmware.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(RegionKind::Bootloader.iomem_name(), "System RAM");
        assert!(RegionKind::Bootloader.is_ram() && !RegionKind::AcpiReclaim.is_ram());
    }
}
