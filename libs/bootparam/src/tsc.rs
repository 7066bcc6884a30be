//! The TSC frequency a kexec'ing kexos passes to the next kernel, so that
//! it need not calibrate the TSC again: a SETUP_KEXOS_TSC_KHZ node whose
//! payload is `{u64 khz}` (kHz, as Linux's `tsc_khz`). Linux ignores the
//! type; a kernel that gets no such node (first boot, kexec'd by Linux)
//! calibrates as before.
//!
//! The TSC's rate does not change across a kexec (same machine, same
//! CPU), so the next kernel's clock keeps the first boot's calibration.

use alloc::vec::Vec;
use core::ops::RangeInclusive;

use crate::setup_type::SETUP_KEXOS_TSC_KHZ;
use crate::walk::SetupDataInfo;
use crate::BootParamError;

/// The frequencies a kernel takes from the node, in kHz (1 MHz..100 GHz):
/// anything else is a corrupt node, and the kernel calibrates instead.
pub const PLAUSIBLE_TSC_KHZ: RangeInclusive<u64> = 1_000..=100_000_000;

/// The node's type and payload for a TSC running at `khz`.
pub fn tsc_khz_setup_data(khz: u64) -> (u32, Vec<u8>) {
    (SETUP_KEXOS_TSC_KHZ, khz.to_le_bytes().to_vec())
}

/// The frequency in a SETUP_KEXOS_TSC_KHZ node (None for other types).
/// A payload shorter than 8 bytes is an error; the range is the caller's
/// to check against [`PLAUSIBLE_TSC_KHZ`], so that it can say what it got.
pub fn tsc_khz_from_setup_data(
    node: &SetupDataInfo,
    read: impl FnMut(u64, &mut [u8]) -> bool,
) -> Result<Option<u64>, BootParamError> {
    if node.typ != SETUP_KEXOS_TSC_KHZ {
        return Ok(None);
    }
    let mut b = [0u8; 8];
    node.read_payload(read, &mut b)?;
    Ok(Some(u64::from_le_bytes(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SetupDataChain, SetupDataWalk};

    const BASE: u64 = 0x9_0000;

    /// `chain` encoded at BASE, and a reader of those bytes.
    fn encoded(chain: &SetupDataChain) -> (u64, impl Fn(u64, &mut [u8]) -> bool) {
        let (bytes, head) = chain.encode_at(BASE, 0).unwrap();
        let read = move |pa: u64, buf: &mut [u8]| {
            let off = (pa - BASE) as usize;
            bytes.get(off..off + buf.len()).map(|s| buf.copy_from_slice(s)).is_some()
        };
        (head, read)
    }

    fn nodes(head: u64, read: &impl Fn(u64, &mut [u8]) -> bool) -> Vec<SetupDataInfo> {
        SetupDataWalk::new(head, read).collect::<Result<Vec<_>, _>>().unwrap()
    }

    #[test]
    fn the_frequency_survives_the_round_trip_and_other_nodes_are_not_it() {
        let mut chain = SetupDataChain::new();
        chain.push(crate::setup_type::SETUP_RNG_SEED, alloc::vec![7; 8]);
        let (typ, payload) = tsc_khz_setup_data(2_612_653);
        chain.push(typ, payload);
        let (head, read) = encoded(&chain);
        let nodes = nodes(head, &read);
        assert_eq!(tsc_khz_from_setup_data(&nodes[0], &read), Ok(None));
        assert_eq!(tsc_khz_from_setup_data(&nodes[1], &read), Ok(Some(2_612_653)));
    }

    #[test]
    fn a_short_payload_is_an_error_not_a_frequency() {
        let mut chain = SetupDataChain::new();
        chain.push(SETUP_KEXOS_TSC_KHZ, alloc::vec![1, 2, 3, 4]);
        let (head, read) = encoded(&chain);
        let nodes = nodes(head, &read);
        assert!(matches!(
            tsc_khz_from_setup_data(&nodes[0], &read),
            Err(BootParamError::BadSetupDataLen { len: 4, .. })
        ));
    }

    #[test]
    fn plausible_means_1_mhz_to_100_ghz() {
        assert!(!PLAUSIBLE_TSC_KHZ.contains(&0));
        assert!(!PLAUSIBLE_TSC_KHZ.contains(&999));
        assert!(PLAUSIBLE_TSC_KHZ.contains(&2_612_653));
        assert!(!PLAUSIBLE_TSC_KHZ.contains(&100_000_001));
    }
}
