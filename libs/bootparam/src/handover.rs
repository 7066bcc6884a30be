//! Hand-over buffers as setup_data nodes: how a kexec'ing kernel tells the
//! next one where a buffer it kept for it is. IMA's measurement list uses
//! Linux's own SETUP_IMA `{u64 addr; u64 size}` (arch/x86/kernel/
//! kexec-bzimage64.c setup_ima_state), so a Linux with CONFIG_IMA_KEXEC
//! restores it; every other kexos buffer is a SETUP_KEXOS_HANDOVER node
//! `{u32 tag; u32 reserved; u64 addr; u64 size}`, which Linux ignores.

use alloc::vec::Vec;

use crate::setup_type::{SETUP_IMA, SETUP_KEXOS_HANDOVER};
use crate::walk::SetupDataInfo;
use crate::BootParamError;

/// Which buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HandoverKind {
    /// IMA's measurement list (SETUP_IMA).
    Ima,
    /// A kexos buffer with this tag (SETUP_KEXOS_HANDOVER).
    Kexos(u32),
}

/// A buffer found in the setup_data list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandoverBuffer {
    /// Which one.
    pub kind: HandoverKind,
    /// Physical address.
    pub addr: u64,
    /// Size in bytes (the segment's, page aligned).
    pub size: u64,
}

impl HandoverBuffer {
    /// The node's type and payload.
    pub fn to_setup_data(&self) -> (u32, Vec<u8>) {
        let mut p = Vec::with_capacity(24);
        let typ = match self.kind {
            HandoverKind::Ima => SETUP_IMA,
            HandoverKind::Kexos(tag) => {
                p.extend_from_slice(&tag.to_le_bytes());
                p.extend_from_slice(&0u32.to_le_bytes());
                SETUP_KEXOS_HANDOVER
            }
        };
        p.extend_from_slice(&self.addr.to_le_bytes());
        p.extend_from_slice(&self.size.to_le_bytes());
        (typ, p)
    }

    /// Read the node if it is a hand-over buffer (None for other types).
    pub fn from_setup_data(
        node: &SetupDataInfo,
        read: impl FnMut(u64, &mut [u8]) -> bool,
    ) -> Result<Option<HandoverBuffer>, BootParamError> {
        let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        match node.typ {
            SETUP_IMA => {
                let mut b = [0u8; 16];
                node.read_payload(read, &mut b)?;
                Ok(Some(HandoverBuffer { kind: HandoverKind::Ima, addr: u64_at(&b, 0), size: u64_at(&b, 8) }))
            }
            SETUP_KEXOS_HANDOVER => {
                let mut b = [0u8; 24];
                node.read_payload(read, &mut b)?;
                let tag = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                Ok(Some(HandoverBuffer { kind: HandoverKind::Kexos(tag), addr: u64_at(&b, 8), size: u64_at(&b, 16) }))
            }
            _ => Ok(None),
        }
    }

    /// Every hand-over buffer in a setup_data list, in list order.
    pub fn find_all(
        nodes: &[SetupDataInfo],
        mut read: impl FnMut(u64, &mut [u8]) -> bool,
    ) -> Result<Vec<HandoverBuffer>, BootParamError> {
        let mut out = Vec::new();
        for n in nodes {
            if let Some(b) = HandoverBuffer::from_setup_data(n, &mut read)? {
                out.push(b);
            }
        }
        Ok(out)
    }
}
