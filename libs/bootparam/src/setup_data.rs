//! The `setup_data` list (bootparam.h): nodes `{u64 next; u32 type; u32 len;
//! u8 data[len]}` linked by physical address from `hdr.setup_data`.

use alloc::vec::Vec;

use crate::e820::E820Entry;
use crate::setup_type::SETUP_E820_EXT;

/// Bytes before a node's payload (`next`, `type`, `len`).
pub const SETUP_DATA_HEADER_SIZE: usize = 16;

/// Nodes start 8-byte aligned so the kernel reads `next` naturally aligned.
const NODE_ALIGN: usize = 8;

/// A list of setup_data nodes to lay out at a physical address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetupDataChain {
    nodes: Vec<(u32, Vec<u8>)>,
}

impl SetupDataChain {
    /// An empty chain.
    pub fn new() -> SetupDataChain {
        SetupDataChain::default()
    }

    /// Append a node of type `typ` ([`crate::setup_type`]) carrying `data`.
    pub fn push(&mut self, typ: u32, data: Vec<u8>) {
        self.nodes.push((typ, data));
    }

    /// Append a SETUP_E820_EXT node holding `entries` (packed, 20 bytes each).
    pub fn push_e820_ext(&mut self, entries: &[E820Entry]) {
        let data = entries.iter().flat_map(|e| e.to_bytes()).collect();
        self.push(SETUP_E820_EXT, data);
    }

    /// True if no node was added.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes [`SetupDataChain::encode_at`] produces.
    pub fn encoded_len(&self) -> usize {
        self.nodes
            .iter()
            .map(|(_, d)| align8(SETUP_DATA_HEADER_SIZE + d.len()))
            .sum()
    }

    /// Lay the nodes out back to back (each 8-byte aligned relative to
    /// `base_pa`, which the caller aligns to at least 8) for loading at
    /// physical address `base_pa`, in push order; the last node's `next` is
    /// `tail_next` (0, or an existing list to keep). Returns the bytes and
    /// the physical address of the first node (`tail_next` when empty), the
    /// value for `hdr.setup_data`. None if a payload exceeds u32 or an
    /// address overflows.
    pub fn encode_at(&self, base_pa: u64, tail_next: u64) -> Option<(Vec<u8>, u64)> {
        let mut out = Vec::with_capacity(self.encoded_len());
        for (i, (typ, data)) in self.nodes.iter().enumerate() {
            let len = u32::try_from(data.len()).ok()?;
            let size = align8(SETUP_DATA_HEADER_SIZE + data.len());
            let next = if i + 1 == self.nodes.len() {
                tail_next
            } else {
                let next_off = u64::try_from(out.len() + size).ok()?;
                base_pa.checked_add(next_off)?
            };
            let start = out.len();
            out.extend_from_slice(&next.to_le_bytes());
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(data);
            out.resize(start + size, 0);
        }
        let head = if self.nodes.is_empty() {
            tail_next
        } else {
            base_pa
        };
        Some((out, head))
    }
}

fn align8(n: usize) -> usize {
    n.div_ceil(NODE_ALIGN) * NODE_ALIGN
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::{u32_at, u64_at};
    use crate::setup_type::*;

    #[test]
    fn chain_layout() {
        let mut c = SetupDataChain::new();
        assert_eq!(c.encode_at(0x1000, 0x77).unwrap(), (vec![], 0x77));
        c.push(SETUP_RNG_SEED, vec![0xab; 5]);
        c.push(SETUP_IMA, vec![1; 16]);
        assert_eq!(c.encoded_len(), 24 + 32);
        let (b, head) = c.encode_at(0x8000, 0).unwrap();
        assert_eq!(head, 0x8000);
        assert_eq!(b.len(), 56);
        assert_eq!(u64_at(&b, 0), 0x8000 + 24);
        assert_eq!(u32_at(&b, 8), 9);
        assert_eq!(u32_at(&b, 12), 5);
        assert_eq!(&b[16..21], &[0xab; 5]);
        assert_eq!(&b[21..24], &[0; 3]);
        assert_eq!(u64_at(&b, 24), 0);
        assert_eq!(u32_at(&b, 32), 8);
        assert_eq!(u32_at(&b, 36), 16);
        assert_eq!(SETUP_INDIRECT, 0x8000_0000);
        assert_eq!(SETUP_KEXEC_KHO, 10);
        assert_eq!(SETUP_TYPE_MAX, 0x8000_000a);
    }

    #[test]
    fn e820_ext_node() {
        let mut c = SetupDataChain::new();
        let e = E820Entry {
            addr: 0x1000,
            size: 0x2000,
            typ: 1,
        };
        c.push_e820_ext(&[e, e, e]);
        let (b, _) = c.encode_at(0, 0x5000).unwrap();
        assert_eq!(u64_at(&b, 0), 0x5000);
        assert_eq!(u32_at(&b, 8), SETUP_E820_EXT);
        assert_eq!(u32_at(&b, 12), 60);
        assert_eq!(E820Entry::parse_array(&b[16..76]), [e, e, e]);
    }
}
