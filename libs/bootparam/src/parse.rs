//! Reading a zero page handed to us (kexos entered through the 64-bit boot
//! protocol): command line, initrd, e820 (including SETUP_E820_EXT nodes),
//! ACPI RSDP and the setup_data list.

use alloc::vec;
use alloc::vec::Vec;

use crate::bytes::{u32_at, u64_at, u8_at};
use crate::e820::E820Entry;
use crate::params::offsets::SENTINEL;
use crate::setup_data::SETUP_DATA_HEADER_SIZE;
use crate::setup_type::SETUP_E820_EXT;
use crate::{BootParamError, BootParams};

/// Largest setup_data list followed before giving up (a loop guard).
pub const MAX_SETUP_DATA_NODES: usize = 256;
/// Largest SETUP_E820_EXT payload read (64 KiB = 3276 entries).
const MAX_E820_EXT_LEN: u32 = 64 * 1024;

/// One node of the setup_data list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupDataInfo {
    /// Physical address of the node header.
    pub pa: u64,
    /// Its type ([`crate::setup_type`]).
    pub typ: u32,
    /// Payload length.
    pub len: u32,
    /// Physical address of the payload (`pa + 16`).
    pub data_pa: u64,
}

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
    /// acpi_rsdp_addr were ignored (Linux's sanitize_boot_params: a loader
    /// that copied a header over the zero page without zeroing it).
    pub sentinel_set: bool,
}

/// Walk the setup_data list from `head`. `read(pa, buf)` fills `buf` from
/// physical memory and returns false if the range is not readable.
pub fn parse_setup_data(
    head: u64,
    read: &mut impl FnMut(u64, &mut [u8]) -> bool,
) -> Result<Vec<SetupDataInfo>, BootParamError> {
    let mut out = Vec::new();
    let mut pa = head;
    while pa != 0 {
        if out.len() == MAX_SETUP_DATA_NODES {
            return Err(BootParamError::SetupDataTooLong {
                max_nodes: MAX_SETUP_DATA_NODES,
            });
        }
        let mut h = [0u8; SETUP_DATA_HEADER_SIZE];
        if !read(pa, &mut h) {
            return Err(BootParamError::UnreadableSetupData { pa });
        }
        let next = u64_at(&h, 0);
        let typ = u32_at(&h, 8);
        let len = u32_at(&h, 12);
        let data_pa = pa
            .checked_add(SETUP_DATA_HEADER_SIZE as u64)
            .filter(|d| d.checked_add(u64::from(len)).is_some())
            .ok_or(BootParamError::BadSetupDataLen { pa, len })?;
        out.push(SetupDataInfo {
            pa,
            typ,
            len,
            data_pa,
        });
        pa = next;
    }
    Ok(out)
}

/// Parse a zero page (`zero_page` holds its 4096 bytes), following
/// setup_data nodes through `read` (see [`parse_setup_data`]).
pub fn parse_boot_params(
    zero_page: &[u8],
    mut read: impl FnMut(u64, &mut [u8]) -> bool,
) -> Result<ParsedBootParams, BootParamError> {
    let params = BootParams::from_bytes(zero_page)?;
    let b = params.as_bytes();
    let hdr = params.hdr();
    let sentinel_set = u8_at(b, SENTINEL) != 0;
    let ext = |off: usize| {
        if sentinel_set {
            0
        } else {
            u64::from(u32_at(b, off))
        }
    };
    let cmdline = u64::from(hdr.cmd_line_ptr()) | ext(crate::bp::EXT_CMD_LINE_PTR) << 32;
    let rd_addr = u64::from(hdr.ramdisk_image()) | ext(crate::bp::EXT_RAMDISK_IMAGE) << 32;
    let rd_size = u64::from(hdr.ramdisk_size()) | ext(crate::bp::EXT_RAMDISK_SIZE) << 32;
    let rsdp = if sentinel_set {
        0
    } else {
        params.acpi_rsdp_addr()
    };

    let setup_data = parse_setup_data(hdr.setup_data(), &mut read)?;
    let mut e820 = params.e820_table();
    for node in setup_data.iter().filter(|n| n.typ == SETUP_E820_EXT) {
        if node.len > MAX_E820_EXT_LEN {
            return Err(BootParamError::BadSetupDataLen {
                pa: node.pa,
                len: node.len,
            });
        }
        let mut data = vec![0u8; node.len as usize];
        if !read(node.data_pa, &mut data) {
            return Err(BootParamError::UnreadableSetupData { pa: node.data_pa });
        }
        e820.extend(E820Entry::parse_array(&data));
    }

    Ok(ParsedBootParams {
        version: hdr.version(),
        type_of_loader: hdr.type_of_loader(),
        cmdline_pa: (cmdline != 0).then_some(cmdline),
        cmdline_size: hdr.cmdline_size(),
        ramdisk: (rd_addr != 0 && rd_size != 0).then_some((rd_addr, rd_size)),
        e820,
        acpi_rsdp: (rsdp != 0).then_some(rsdp),
        setup_data,
        sentinel_set,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
        // A node pointing at itself.
        let mut node = vec![0u8; 16];
        node[..8].copy_from_slice(&0x5000u64.to_le_bytes());
        let mem = Phys(BTreeMap::from([(0x5000, node)]));
        let mut rd = |pa: u64, b: &mut [u8]| mem.read(pa, b);
        assert!(matches!(
            parse_setup_data(0x5000, &mut rd),
            Err(BootParamError::SetupDataTooLong { .. })
        ));
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
