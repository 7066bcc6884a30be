//! The TSC frequency a kexec'ing kexos passes to the next kernel, so that
//! it need not calibrate the TSC again: a SETUP_KEXOS_TSC_KHZ node whose
//! payload is `{u64 khz}` (kHz, as Linux's `tsc_khz`). Linux ignores the
//! type; a kernel that gets no such node (first boot, kexec'd by Linux)
//! calibrates as before.
//!
//! The TSC's rate does not change across a kexec (same machine, same
//! CPU), so the next kernel's clock keeps the first boot's calibration.
//! [`HandedTsc`] is how the next kernel reads the nodes: the first counts,
//! and a malformed or implausible one is refused with a [`TscRefusal`].

use alloc::vec::Vec;
use core::ops::RangeInclusive;

use crate::setup_type::SETUP_KEXOS_TSC_KHZ;
use crate::walk::SetupDataInfo;
use crate::BootParamError;

/// The frequencies a kernel takes from the node, in kHz (1 MHz..=100 GHz):
/// anything else is a corrupt node, and the kernel calibrates instead.
pub const PLAUSIBLE_TSC_KHZ: RangeInclusive<u64> = 1_000..=100_000_000;

/// The node's type and payload for a TSC running at `khz`.
pub fn tsc_khz_setup_data(khz: u64) -> (u32, Vec<u8>) {
    (SETUP_KEXOS_TSC_KHZ, khz.to_le_bytes().to_vec())
}

/// The frequency in a SETUP_KEXOS_TSC_KHZ node (None for other types).
/// A payload shorter than 8 bytes is an error.
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

/// The TSC nodes a kernel found in its setup_data: the first one counts,
/// readable or not; later ones are only counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandedTsc {
    first: Option<Result<u64, BootParamError>>,
    later: usize,
}

/// Why a kernel does not use the frequency it was passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TscRefusal {
    /// Outside [`PLAUSIBLE_TSC_KHZ`] (kHz).
    Implausible(u64),
    /// The node could not be read.
    Malformed(BootParamError),
}

impl core::fmt::Display for TscRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TscRefusal::Implausible(khz) => write!(
                f,
                "{khz} kHz is outside {}..={} kHz",
                PLAUSIBLE_TSC_KHZ.start(),
                PLAUSIBLE_TSC_KHZ.end()
            ),
            TscRefusal::Malformed(e) => write!(f, "its node is malformed: {e}"),
        }
    }
}

impl HandedTsc {
    /// Take `node` into account if it is a TSC node.
    pub fn note(&mut self, node: &SetupDataInfo, read: impl FnMut(u64, &mut [u8]) -> bool) {
        let Some(khz) = tsc_khz_from_setup_data(node, read).transpose() else { return };
        match self.first {
            None => self.first = Some(khz),
            Some(_) => self.later += 1,
        }
    }

    /// TSC nodes after the first (ignored).
    pub fn later(&self) -> usize {
        self.later
    }

    /// The frequency to use (kHz): None if no node was passed, the refusal
    /// if the first one is unusable.
    pub fn khz(&self) -> Result<Option<u64>, TscRefusal> {
        match self.first {
            None => Ok(None),
            Some(Err(e)) => Err(TscRefusal::Malformed(e)),
            Some(Ok(khz)) if PLAUSIBLE_TSC_KHZ.contains(&khz) => Ok(Some(khz)),
            Some(Ok(khz)) => Err(TscRefusal::Implausible(khz)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SetupDataChain, SetupDataWalk};
    use alloc::string::ToString;

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
        assert!(PLAUSIBLE_TSC_KHZ.contains(&1_000));
        assert!(PLAUSIBLE_TSC_KHZ.contains(&2_612_653));
        assert!(PLAUSIBLE_TSC_KHZ.contains(&100_000_000));
        assert!(!PLAUSIBLE_TSC_KHZ.contains(&100_000_001));
    }

    /// What a kernel makes of the TSC nodes `payloads` (among other nodes).
    fn handed(payloads: &[Vec<u8>]) -> HandedTsc {
        let mut chain = SetupDataChain::new();
        for p in payloads {
            chain.push(crate::setup_type::SETUP_RNG_SEED, alloc::vec![7; 8]);
            chain.push(SETUP_KEXOS_TSC_KHZ, p.clone());
        }
        let (head, read) = encoded(&chain);
        let mut h = HandedTsc::default();
        for n in nodes(head, &read) {
            h.note(&n, &read);
        }
        h
    }

    #[test]
    fn the_first_node_counts_and_a_bad_one_is_refused_with_its_reason() {
        let khz = |k: u64| k.to_le_bytes().to_vec();
        assert_eq!(handed(&[]).khz(), Ok(None));
        assert_eq!(handed(&[khz(2_612_653)]).khz(), Ok(Some(2_612_653)));
        let two = handed(&[khz(2_612_653), khz(1_000_000)]);
        assert_eq!((two.khz(), two.later()), (Ok(Some(2_612_653)), 1));
        let low = handed(&[khz(5)]).khz().unwrap_err();
        assert_eq!(low, TscRefusal::Implausible(5));
        assert_eq!(low.to_string(), "5 kHz is outside 1000..=100000000 kHz");
        // A short first node is refused, not skipped for the good one after it.
        let short = handed(&[alloc::vec![1, 2, 3, 4], khz(2_612_653)]);
        assert!(matches!(short.khz(), Err(TscRefusal::Malformed(BootParamError::BadSetupDataLen { len: 4, .. }))));
        assert_eq!(short.later(), 1);
        assert!(short.khz().unwrap_err().to_string().starts_with("its node is malformed: setup_data at "));
    }
}
