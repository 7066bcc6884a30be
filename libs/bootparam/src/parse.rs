//! Reading a zero page handed to us (kexos entered through the 64-bit boot
//! protocol) into owned values: command line, initrd, e820 (including
//! SETUP_E820_EXT nodes), ACPI RSDP and the setup_data list. A thin layer
//! over the borrowed, heap-free [`ZeroPage`] and [`SetupDataWalk`], which
//! hold every rule.

use alloc::vec::Vec;

use crate::e820::E820Entry;
use crate::setup_type::SETUP_E820_EXT;
use crate::walk::{SetupDataInfo, SetupDataWalk};
use crate::zero_page::ZeroPage;
use crate::{BootParamError, BootParams};

/// What a kernel needs from the zero page it was entered with.
#[derive(Clone, Debug)]
pub struct ParsedBootParams {
    /// The zero page itself.
    pub params: BootParams,
    /// Boot protocol version of the header (as the loader copied it).
    pub version: u16,
    /// `type_of_loader`.
    pub type_of_loader: u8,
    /// Physical address of the NUL-terminated command line, if any.
    pub cmdline_pa: Option<u64>,
    /// `cmdline_size`: maximum command line length (excluding the NUL).
    pub cmdline_size: u32,
    /// Initrd `(address, size)` if one was passed.
    pub ramdisk: Option<(u64, u64)>,
    /// The zero page's e820 table followed by every SETUP_E820_EXT entry.
    pub e820: Vec<E820Entry>,
    /// `acpi_rsdp_addr` if non-zero.
    pub acpi_rsdp: Option<u64>,
    /// The setup_data list in list order.
    pub setup_data: Vec<SetupDataInfo>,
    /// True if `sentinel` (0x1ef) was set, so the ext_* fields and
    /// acpi_rsdp_addr were ignored ([`ZeroPage::sentinel_set`]).
    pub sentinel_set: bool,
}

/// Walk the setup_data list from `head` ([`SetupDataWalk`]) into a list.
/// `read(pa, buf)` fills `buf` from physical memory and returns false if
/// the range is not readable.
pub fn parse_setup_data(
    head: u64,
    read: &mut impl FnMut(u64, &mut [u8]) -> bool,
) -> Result<Vec<SetupDataInfo>, BootParamError> {
    SetupDataWalk::new(head, read).collect()
}

/// Parse a zero page (`zero_page` holds its 4096 bytes), following
/// setup_data nodes through `read` (see [`parse_setup_data`]).
pub fn parse_boot_params(
    zero_page: &[u8],
    mut read: impl FnMut(u64, &mut [u8]) -> bool,
) -> Result<ParsedBootParams, BootParamError> {
    let zp = ZeroPage::new(zero_page)?;
    let setup_data = parse_setup_data(zp.hdr().setup_data(), &mut read)?;
    let mut e820: Vec<E820Entry> = zp.e820_table()?.collect();
    for node in setup_data.iter().filter(|n| n.typ == SETUP_E820_EXT) {
        for e in node.e820_entries(&mut read)? {
            e820.push(e?);
        }
    }
    Ok(ParsedBootParams {
        version: zp.hdr().version(),
        type_of_loader: zp.hdr().type_of_loader(),
        cmdline_pa: zp.cmdline_pa(),
        cmdline_size: zp.hdr().cmdline_size(),
        ramdisk: zp.ramdisk(),
        e820,
        acpi_rsdp: zp.acpi_rsdp(),
        setup_data,
        sentinel_set: zp.sentinel_set(),
        params: BootParams::from_bytes(zero_page)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bp::SENTINEL;
    use crate::setup_type::*;
    use crate::SetupDataChain;
    use std::collections::BTreeMap;

    /// A sparse fake physical memory.
    struct Phys(BTreeMap<u64, Vec<u8>>);
    impl Phys {
        fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
            for (&base, bytes) in &self.0 {
                if pa >= base && pa + buf.len() as u64 <= base + bytes.len() as u64 {
                    let o = (pa - base) as usize;
                    buf.copy_from_slice(&bytes[o..o + buf.len()]);
                    return true;
                }
            }
            false
        }
    }

    fn entries(n: u64) -> Vec<E820Entry> {
        (0..n)
            .map(|i| E820Entry {
                addr: i << 21,
                size: 1 << 20,
                typ: 1,
            })
            .collect()
    }

    #[test]
    fn roundtrip_through_builder() {
        let all = entries(140);
        let mut bp = BootParams::new();
        bp.set_version(0x020f);
        bp.set_type_of_loader(crate::LOADER_TYPE_KEXEC);
        bp.set_cmdline_size(2047);
        bp.set_cmd_line_ptr(0x1_0000_1000);
        bp.set_ramdisk(0x3000_0000, 20 << 20);
        bp.set_acpi_rsdp_addr(0xf_5a40);
        let rest = bp.set_e820_table(&all);
        let mut chain = SetupDataChain::new();
        chain.push_e820_ext(rest);
        chain.push(SETUP_RNG_SEED, vec![7; 32]);
        let (sd, head) = chain.encode_at(0x9000, 0).unwrap();
        bp.set_setup_data(head);
        let mem = Phys(BTreeMap::from([(0x9000, sd)]));

        let p = parse_boot_params(bp.as_bytes(), |pa, b| mem.read(pa, b)).unwrap();
        assert_eq!(p.version, 0x020f);
        assert_eq!(p.type_of_loader, 0xd0);
        assert_eq!(p.cmdline_pa, Some(0x1_0000_1000));
        assert_eq!(p.cmdline_size, 2047);
        assert_eq!(p.ramdisk, Some((0x3000_0000, 20 << 20)));
        assert_eq!(p.acpi_rsdp, Some(0xf_5a40));
        assert_eq!(p.e820, all);
        assert_eq!(p.setup_data.len(), 2);
        assert_eq!(p.setup_data[0].typ, SETUP_E820_EXT);
        assert_eq!(p.setup_data[1].typ, SETUP_RNG_SEED);
        assert_eq!(p.setup_data[1].len, 32);
        assert!(!p.sentinel_set);
    }

    #[test]
    fn sentinel_drops_ext_fields() {
        let mut bp = BootParams::new();
        bp.set_cmd_line_ptr(0x1_0000_1000);
        bp.set_acpi_rsdp_addr(0xe0000);
        bp.write_bytes(SENTINEL, &[0xff]);
        let p = parse_boot_params(bp.as_bytes(), |_, _| false).unwrap();
        assert!(p.sentinel_set);
        assert_eq!(p.cmdline_pa, Some(0x1000));
        assert_eq!(p.acpi_rsdp, None);
    }

    #[test]
    fn bad_lists_are_errors_not_panics() {
        // A node pointing at itself (a list longer than the limit: see
        // walk.rs's too_many_distinct_nodes_is_an_error).
        let mut node = vec![0u8; 16];
        node[..8].copy_from_slice(&0x5000u64.to_le_bytes());
        let mem = Phys(BTreeMap::from([(0x5000, node)]));
        let mut rd = |pa: u64, b: &mut [u8]| mem.read(pa, b);
        assert_eq!(
            parse_setup_data(0x5000, &mut rd),
            Err(BootParamError::SetupDataLoop { pa: 0x5000 })
        );
        assert_eq!(
            parse_setup_data(0x6000, &mut rd),
            Err(BootParamError::UnreadableSetupData { pa: 0x6000 })
        );
        // Address overflow.
        let mut hdr = [0u8; 16];
        hdr[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        let top = u64::MAX - 20;
        let mut rd2 = |pa: u64, b: &mut [u8]| {
            pa == top && {
                b.copy_from_slice(&hdr[..b.len()]);
                true
            }
        };
        assert!(matches!(
            parse_setup_data(top, &mut rd2),
            Err(BootParamError::BadSetupDataLen { .. })
        ));
        assert!(parse_boot_params(&[0u8; 100], |_, _| true).is_err());
    }
}
