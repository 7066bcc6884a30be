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

/// Why the next kernel refuses a hand-over buffer it was passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandoverRefusal {
    /// addr + size wraps.
    Wraps,
    /// Size 0.
    Empty,
    /// Address or size not a multiple of 4096.
    Unaligned,
    /// Not inside one RAM region of the memory map.
    NotRam,
    /// Shares a page with a range already in use.
    Overlaps {
        /// The range in use.
        start: u64,
        /// Its end (exclusive).
        end: u64,
    },
    /// A second buffer of a kind already taken.
    Duplicate,
}

impl core::fmt::Display for HandoverRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HandoverRefusal::Wraps => write!(f, "its range wraps around the address space"),
            HandoverRefusal::Empty => write!(f, "it is empty"),
            HandoverRefusal::Unaligned => write!(f, "it is not page aligned"),
            HandoverRefusal::NotRam => write!(f, "it is not inside RAM"),
            HandoverRefusal::Overlaps { start, end } => write!(f, "it overlaps {start:#x}..{end:#x}, which is in use"),
            HandoverRefusal::Duplicate => write!(f, "a buffer of this kind was already taken"),
        }
    }
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

    /// One past the last byte (None if it wraps).
    pub fn end(&self) -> Option<u64> {
        self.addr.checked_add(self.size)
    }

    /// Can the next kernel keep this buffer? It must be non-empty, page
    /// aligned (kexec segments are: the frame allocator then reserves and
    /// frees exactly its pages), inside RAM (`in_ram(start, end)`), and
    /// share no page with anything in `in_use` (the kernel image, the zero
    /// page, setup_data, the initrd, buffers accepted before it), which a
    /// bad or hostile loader could point it at.
    pub fn check(&self, in_ram: impl Fn(u64, u64) -> bool, in_use: &[(u64, u64)]) -> Result<(), HandoverRefusal> {
        const PAGE: u64 = 4096;
        let end = self.end().ok_or(HandoverRefusal::Wraps)?;
        if self.size == 0 {
            return Err(HandoverRefusal::Empty);
        }
        if !self.addr.is_multiple_of(PAGE) || !self.size.is_multiple_of(PAGE) {
            return Err(HandoverRefusal::Unaligned);
        }
        if !in_ram(self.addr, end) {
            return Err(HandoverRefusal::NotRam);
        }
        let page_down = |a: u64| a & !(PAGE - 1);
        let page_up = |a: u64| a.saturating_add(PAGE - 1) & !(PAGE - 1);
        match in_use.iter().find(|&&(s, e)| e > s && page_down(s) < end && page_up(e) > self.addr) {
            Some(&(start, end)) => Err(HandoverRefusal::Overlaps { start, end }),
            None => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_next_kernel_keeps_only_sane_buffers() {
        let ram = |s: u64, e: u64| s >= MIB && e <= 64 * MIB;
        let in_use = [(2 * MIB, 2 * MIB + 100), (8 * MIB + 4096 * 3 + 8, 8 * MIB + 4096 * 4)];
        let b = |addr, size| HandoverBuffer { kind: HandoverKind::Ima, addr, size };
        assert_eq!(b(4 * MIB, 8192).check(ram, &in_use), Ok(()));
        assert_eq!(b(4 * MIB, 0).check(ram, &in_use), Err(HandoverRefusal::Empty));
        assert_eq!(b(4 * MIB + 8, 4096).check(ram, &in_use), Err(HandoverRefusal::Unaligned));
        assert_eq!(b(4 * MIB, 4000).check(ram, &in_use), Err(HandoverRefusal::Unaligned));
        assert_eq!(b(u64::MAX - 4095, 8192).check(ram, &in_use), Err(HandoverRefusal::Wraps));
        assert_eq!(b(64 * MIB, 4096).check(ram, &in_use), Err(HandoverRefusal::NotRam));
        // The page with the tail of a range in use, and the page holding its start.
        assert!(matches!(b(2 * MIB, 4096).check(ram, &in_use), Err(HandoverRefusal::Overlaps { .. })));
        assert!(matches!(b(8 * MIB, 4 * 4096).check(ram, &in_use), Err(HandoverRefusal::Overlaps { .. })));
        assert_eq!(b(8 * MIB, 3 * 4096).check(ram, &in_use), Ok(()), "the page before is free");
        assert_eq!(b(2 * MIB + 4096, 4096).check(ram, &in_use), Ok(()), "the page after is free");
        assert!(HandoverRefusal::Overlaps { start: 1, end: 2 }.to_string().contains("0x1..0x2"));
    }
}
