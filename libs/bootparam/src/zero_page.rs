//! A zero page read in place (no copy, no heap): what a kernel entered
//! through the 64-bit boot protocol takes from it before it has an
//! allocator. [`crate::parse_boot_params`] is the owning layer over this.

use crate::bytes::{u32_at, u64_at, u8_at};
use crate::e820::{E820Entry, E820_ENTRY_SIZE};
use crate::header::SetupHeader;
use crate::params::offsets::{
    ACPI_RSDP_ADDR, E820_ENTRIES, E820_TABLE, EXT_CMD_LINE_PTR, EXT_RAMDISK_IMAGE,
    EXT_RAMDISK_SIZE, SENTINEL,
};
use crate::params::{BOOT_PARAMS_SIZE, E820_MAX_ENTRIES_ZEROPAGE};
use crate::walk::SetupDataWalk;
use crate::BootParamError;

/// Longest command line scanned when `cmdline_size` is larger (or absurd).
pub const MAX_CMDLINE_LEN: u64 = 64 * 1024;
/// Command line limit of protocols before 2.06, which had no `cmdline_size`
/// (boot.rst: "the maximum command line size is 255 characters").
const LEGACY_CMDLINE_LEN: u64 = 255;

/// A borrowed, read-only view of a 4096-byte zero page.
#[derive(Clone, Copy, Debug)]
pub struct ZeroPage<'a>(&'a [u8]);

impl<'a> ZeroPage<'a> {
    /// View the first 4096 bytes of `b`.
    pub fn new(b: &'a [u8]) -> Result<ZeroPage<'a>, BootParamError> {
        match b.get(..BOOT_PARAMS_SIZE) {
            Some(zp) => Ok(ZeroPage(zp)),
            None => Err(BootParamError::TooShort {
                what: "boot_params",
                need: BOOT_PARAMS_SIZE,
                have: b.len(),
            }),
        }
    }

    /// The 4096 bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The embedded setup header.
    pub fn hdr(&self) -> SetupHeader<'a> {
        // 4096 bytes reach past SETUP_HEADER_END.
        SetupHeader::over(self.0)
    }

    /// True if `sentinel` (0x1ef) is set: a loader copied a whole header
    /// over the zero page without clearing it, so the ext_* fields and
    /// acpi_rsdp_addr are garbage and read as 0 here (Linux's
    /// sanitize_boot_params).
    pub fn sentinel_set(&self) -> bool {
        u8_at(self.0, SENTINEL) != 0
    }

    /// High 32 bits from an ext_* field, 0 when the sentinel rules them out.
    fn ext(&self, off: usize) -> u64 {
        if self.sentinel_set() {
            0
        } else {
            u64::from(u32_at(self.0, off)) << 32
        }
    }

    /// Physical address of the NUL-terminated command line, if any.
    pub fn cmdline_pa(&self) -> Option<u64> {
        let pa = u64::from(self.hdr().cmd_line_ptr()) | self.ext(EXT_CMD_LINE_PTR);
        (pa != 0).then_some(pa)
    }

    /// Most command line bytes to read (without the NUL): `cmdline_size`
    /// capped at [`MAX_CMDLINE_LEN`], or 255 when it is 0 (protocol < 2.06).
    pub fn cmdline_max_len(&self) -> u64 {
        match u64::from(self.hdr().cmdline_size()) {
            0 => LEGACY_CMDLINE_LEN,
            n => n.min(MAX_CMDLINE_LEN),
        }
    }

    /// The command line's `(address, length)` without the NUL: the bytes up
    /// to the first NUL, the first unreadable byte, or
    /// [`ZeroPage::cmdline_max_len`], whichever comes first.
    pub fn cmdline(&self, mut read: impl FnMut(u64, &mut [u8]) -> bool) -> Option<(u64, u64)> {
        let pa = self.cmdline_pa()?;
        let mut len = 0;
        let mut b = [0u8; 1];
        while len < self.cmdline_max_len()
            && pa.checked_add(len).is_some_and(|a| read(a, &mut b))
            && b[0] != 0
        {
            len += 1;
        }
        Some((pa, len))
    }

    /// The initrd `(address, size)` if one was passed.
    pub fn ramdisk(&self) -> Option<(u64, u64)> {
        let hdr = self.hdr();
        let pa = u64::from(hdr.ramdisk_image()) | self.ext(EXT_RAMDISK_IMAGE);
        let size = u64::from(hdr.ramdisk_size()) | self.ext(EXT_RAMDISK_SIZE);
        (pa != 0 && size != 0).then_some((pa, size))
    }

    /// `acpi_rsdp_addr` (protocol 2.14) if set and not ruled out by the sentinel.
    pub fn acpi_rsdp(&self) -> Option<u64> {
        let pa = if self.sentinel_set() {
            0
        } else {
            u64_at(self.0, ACPI_RSDP_ADDR)
        };
        (pa != 0).then_some(pa)
    }

    /// The zero page's own e820 table (`e820_entries` entries). An
    /// `e820_entries` above 128 is an error: the table holds no more.
    pub fn e820_table(&self) -> Result<impl Iterator<Item = E820Entry> + 'a, BootParamError> {
        let count = u8_at(self.0, E820_ENTRIES);
        if usize::from(count) > E820_MAX_ENTRIES_ZEROPAGE {
            return Err(BootParamError::BadE820Count { count });
        }
        let table = self
            .0
            .get(E820_TABLE..E820_TABLE + usize::from(count) * E820_ENTRY_SIZE)
            .unwrap_or(&[]);
        Ok(table
            .as_chunks::<E820_ENTRY_SIZE>()
            .0
            .iter()
            .map(|e| E820Entry::from_bytes(e)))
    }

    /// The setup_data list, walked through `read` ([`SetupDataWalk`]).
    pub fn setup_data<R: FnMut(u64, &mut [u8]) -> bool>(&self, read: R) -> SetupDataWalk<R> {
        SetupDataWalk::new(self.hdr().setup_data(), read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BootParams, SetupDataChain};

    #[test]
    fn short_buffers_are_errors() {
        assert!(matches!(
            ZeroPage::new(&[0u8; 4095]),
            Err(BootParamError::TooShort {
                need: 4096,
                have: 4095,
                ..
            })
        ));
        let zp = ZeroPage::new(&[0u8; 5000]).unwrap();
        assert_eq!(zp.as_bytes().len(), 4096);
        assert_eq!(
            (zp.cmdline_pa(), zp.ramdisk(), zp.acpi_rsdp()),
            (None, None, None)
        );
        assert_eq!(zp.e820_table().unwrap().count(), 0);
        assert_eq!(zp.setup_data(|_, _| true).count(), 0);
    }

    #[test]
    fn e820_count_beyond_the_table_is_an_error() {
        let e = E820Entry {
            addr: 0x100000,
            size: 0x1000,
            typ: 1,
        };
        let mut bp = BootParams::new();
        bp.set_e820_table(&[e; 128]);
        let zp = ZeroPage::new(bp.as_bytes()).unwrap();
        assert_eq!(zp.e820_table().unwrap().count(), 128);
        for count in [129u8, 200, 255] {
            bp.write_bytes(E820_ENTRIES, &[count]);
            let zp = ZeroPage::new(bp.as_bytes()).unwrap();
            assert_eq!(
                zp.e820_table().err(),
                Some(BootParamError::BadE820Count { count })
            );
        }
    }

    #[test]
    fn cmdline_stops_at_nul_limit_or_unreadable_byte() {
        let text = b"console=ttyS0 quiet\0garbage";
        let read = |pa: u64, b: &mut [u8]| match pa.checked_sub(0x2000) {
            Some(o) if (o as usize) < text.len() => {
                b[0] = text[o as usize];
                true
            }
            _ => false,
        };
        let mut bp = BootParams::new();
        bp.set_cmd_line_ptr(0x2000);
        bp.set_cmdline_size(2047);
        let zp = ZeroPage::new(bp.as_bytes()).unwrap();
        assert_eq!(zp.cmdline(read), Some((0x2000, 19)));
        bp.set_cmdline_size(7);
        assert_eq!(
            ZeroPage::new(bp.as_bytes()).unwrap().cmdline(read),
            Some((0x2000, 7))
        );
        // No NUL before memory ends: the readable bytes.
        bp.set_cmd_line_ptr(0x2000 + 20);
        bp.set_cmdline_size(0);
        let zp = ZeroPage::new(bp.as_bytes()).unwrap();
        assert_eq!(zp.cmdline_max_len(), 255);
        assert_eq!(zp.cmdline(read), Some((0x2014, 7)));
        bp.set_cmdline_size(u32::MAX);
        assert_eq!(
            ZeroPage::new(bp.as_bytes()).unwrap().cmdline_max_len(),
            MAX_CMDLINE_LEN
        );
        // At the top of the address space the scan stops instead of wrapping.
        bp.set_cmd_line_ptr(u64::MAX);
        let all = |_: u64, b: &mut [u8]| {
            b[0] = b'x';
            true
        };
        assert_eq!(
            ZeroPage::new(bp.as_bytes()).unwrap().cmdline(all),
            Some((u64::MAX, 1))
        );
    }

    #[test]
    fn setup_data_starts_at_the_header_field() {
        let mut c = SetupDataChain::new();
        c.push(crate::setup_type::SETUP_RNG_SEED, vec![1; 8]);
        let (mem, head) = c.encode_at(0x3000, 0).unwrap();
        let mut bp = BootParams::new();
        bp.set_setup_data(head);
        let read = |pa: u64, b: &mut [u8]| {
            let o = pa.wrapping_sub(0x3000) as usize;
            mem.get(o..o.saturating_add(b.len()))
                .map(|s| b.copy_from_slice(s))
                .is_some()
        };
        let zp = ZeroPage::new(bp.as_bytes()).unwrap();
        let nodes: Vec<_> = zp.setup_data(read).collect();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].unwrap().len, 8);
        // A self-loop in the header's list is found.
        let bad = node_at(0x3000);
        bp.set_setup_data(0x3000);
        let zp = ZeroPage::new(bp.as_bytes()).unwrap();
        let looped = |pa: u64, b: &mut [u8]| {
            pa == 0x3000 && {
                b.copy_from_slice(&bad[..b.len()]);
                true
            }
        };
        assert_eq!(
            zp.setup_data(looped).last(),
            Some(Err(BootParamError::SetupDataLoop { pa: 0x3000 }))
        );
    }

    fn node_at(next: u64) -> Vec<u8> {
        let mut n = next.to_le_bytes().to_vec();
        n.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0]);
        n
    }
}
