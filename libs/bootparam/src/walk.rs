//! The one walk over the setup_data list (bootparam.h: nodes
//! `{u64 next; u32 type; u32 len; u8 data[len]}` linked by physical address
//! from `hdr.setup_data`), without a heap: a kernel entered through the boot
//! protocol runs it before it has an allocator.
//!
//! Physical memory is read through `read(pa, buf)`, which fills `buf` from
//! physical address `pa` and returns false if any byte of the range is not
//! readable (outside RAM, outside what the caller has mapped).

use crate::e820::{E820Entry, E820_ENTRY_SIZE};
use crate::setup_data::SETUP_DATA_HEADER_SIZE;
use crate::setup_type::SETUP_E820_EXT;
use crate::BootParamError;

/// Most setup_data nodes followed. Linux sets no limit; every loader we
/// know of passes a handful (kexec_file: E820_EXT, EFI, RNG seed, IMA,
/// KHO), so more than this is a damaged or hostile list.
pub const MAX_SETUP_DATA_NODES: usize = 64;

/// Largest SETUP_E820_EXT payload read (64 KiB = 3276 entries; Linux's
/// E820_MAX_ENTRIES is at most 3200 + 128).
pub const MAX_E820_EXT_LEN: u32 = 64 * 1024;

/// One node of the setup_data list, its bounds checked (the payload does
/// not wrap the address space).
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

impl SetupDataInfo {
    /// Exclusive end of the node (header and payload).
    pub fn end(&self) -> u64 {
        // Checked when the node was read: data_pa + len does not overflow.
        self.data_pa + u64::from(self.len)
    }

    /// Read the first `buf.len()` payload bytes (the whole of a fixed-size
    /// payload such as SETUP_IMA's `{u64 addr; u64 size}`). Errors if the
    /// payload is shorter than `buf` or not readable.
    pub fn read_payload(
        &self,
        mut read: impl FnMut(u64, &mut [u8]) -> bool,
        buf: &mut [u8],
    ) -> Result<(), BootParamError> {
        if buf.len() > self.len as usize {
            return Err(BootParamError::BadSetupDataLen {
                pa: self.pa,
                len: self.len,
            });
        }
        if !read(self.data_pa, buf) {
            return Err(BootParamError::UnreadableSetupData { pa: self.data_pa });
        }
        Ok(())
    }

    /// The e820 entries of a SETUP_E820_EXT node (a packed array of 20-byte
    /// entries; a trailing partial entry is ignored, as Linux divides the
    /// length by the entry size), read one at a time. Errors up front for
    /// another node type or a payload over [`MAX_E820_EXT_LEN`]; an
    /// unreadable entry ends the iteration with an error.
    pub fn e820_entries<R: FnMut(u64, &mut [u8]) -> bool>(
        &self,
        read: R,
    ) -> Result<E820ExtEntries<R>, BootParamError> {
        if self.typ != SETUP_E820_EXT || self.len > MAX_E820_EXT_LEN {
            return Err(BootParamError::BadSetupDataLen {
                pa: self.pa,
                len: self.len,
            });
        }
        Ok(E820ExtEntries {
            read,
            pa: self.data_pa,
            left: self.len as usize / E820_ENTRY_SIZE,
        })
    }
}

/// Iterator over the setup_data list from `hdr.setup_data`: yields every
/// node in list order, or one error and then nothing. Errors: a node whose
/// header cannot be read (a `next` out of range), a payload that wraps the
/// address space, a `next` pointing back at a node already seen (a loop),
/// more than [`MAX_SETUP_DATA_NODES`] nodes.
pub struct SetupDataWalk<R> {
    read: R,
    next: u64,
    seen: [u64; MAX_SETUP_DATA_NODES],
    count: usize,
    failed: bool,
}

impl<R: FnMut(u64, &mut [u8]) -> bool> SetupDataWalk<R> {
    /// Walk the list whose first node is at physical `head` (0: empty).
    pub fn new(head: u64, read: R) -> SetupDataWalk<R> {
        SetupDataWalk {
            read,
            next: head,
            seen: [0; MAX_SETUP_DATA_NODES],
            count: 0,
            failed: false,
        }
    }

    fn node(&mut self, pa: u64) -> Result<SetupDataInfo, BootParamError> {
        if self.seen[..self.count].contains(&pa) {
            return Err(BootParamError::SetupDataLoop { pa });
        }
        if self.count == MAX_SETUP_DATA_NODES {
            return Err(BootParamError::SetupDataTooLong {
                max_nodes: MAX_SETUP_DATA_NODES,
            });
        }
        let mut h = [0u8; SETUP_DATA_HEADER_SIZE];
        if !(self.read)(pa, &mut h) {
            return Err(BootParamError::UnreadableSetupData { pa });
        }
        let next = crate::bytes::u64_at(&h, 0);
        let typ = crate::bytes::u32_at(&h, 8);
        let len = crate::bytes::u32_at(&h, 12);
        let data_pa = pa
            .checked_add(SETUP_DATA_HEADER_SIZE as u64)
            .filter(|d| d.checked_add(u64::from(len)).is_some())
            .ok_or(BootParamError::BadSetupDataLen { pa, len })?;
        self.seen[self.count] = pa;
        self.count += 1;
        self.next = next;
        Ok(SetupDataInfo {
            pa,
            typ,
            len,
            data_pa,
        })
    }
}

impl<R: FnMut(u64, &mut [u8]) -> bool> Iterator for SetupDataWalk<R> {
    type Item = Result<SetupDataInfo, BootParamError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next == 0 {
            return None;
        }
        let r = self.node(self.next);
        self.failed = r.is_err();
        Some(r)
    }
}

/// The entries of one SETUP_E820_EXT node ([`SetupDataInfo::e820_entries`]).
pub struct E820ExtEntries<R> {
    read: R,
    pa: u64,
    left: usize,
}

impl<R: FnMut(u64, &mut [u8]) -> bool> Iterator for E820ExtEntries<R> {
    type Item = Result<E820Entry, BootParamError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let mut b = [0u8; E820_ENTRY_SIZE];
        if !(self.read)(self.pa, &mut b) {
            self.left = 0;
            return Some(Err(BootParamError::UnreadableSetupData { pa: self.pa }));
        }
        self.left -= 1;
        // No overflow: the node's payload end was checked by the walk.
        self.pa += E820_ENTRY_SIZE as u64;
        Some(Ok(E820Entry::from_bytes(&b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup_type::*;
    use crate::SetupDataChain;

    /// Physical memory: `bytes` at `base`, nothing else.
    fn window(base: u64, bytes: &[u8]) -> impl Fn(u64, &mut [u8]) -> bool + Copy + '_ {
        move |pa, buf| {
            let Some(off) = pa.checked_sub(base).and_then(|o| usize::try_from(o).ok()) else {
                return false;
            };
            match off
                .checked_add(buf.len())
                .and_then(|end| bytes.get(off..end))
            {
                Some(s) => {
                    buf.copy_from_slice(s);
                    true
                }
                None => false,
            }
        }
    }

    fn node(next: u64, typ: u32, len: u32) -> Vec<u8> {
        let mut n = next.to_le_bytes().to_vec();
        n.extend_from_slice(&typ.to_le_bytes());
        n.extend_from_slice(&len.to_le_bytes());
        n
    }

    #[test]
    fn walks_nodes_in_order_and_reads_payloads() {
        let e = E820Entry {
            addr: 0x1_0000_0000,
            size: 0x4000_0000,
            typ: 1,
        };
        let mut c = SetupDataChain::new();
        c.push_e820_ext(&[e, e]);
        c.push(
            SETUP_IMA,
            [0x11u64.to_le_bytes(), 0x22u64.to_le_bytes()].concat(),
        );
        let (mem, head) = c.encode_at(0x7000, 0).unwrap();
        let read = window(0x7000, &mem);
        let nodes: Vec<_> = SetupDataWalk::new(head, read).map(Result::unwrap).collect();
        assert_eq!(nodes.len(), 2);
        assert_eq!(
            (nodes[0].pa, nodes[0].typ, nodes[0].len),
            (0x7000, SETUP_E820_EXT, 40)
        );
        assert_eq!(nodes[0].end(), 0x7000 + 16 + 40);
        let got: Vec<_> = nodes[0]
            .e820_entries(read)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, [e, e]);
        let mut ima = [0u8; 16];
        nodes[1].read_payload(read, &mut ima).unwrap();
        assert_eq!(ima[..8], 0x11u64.to_le_bytes());
        assert_eq!(ima[8..], 0x22u64.to_le_bytes());
        assert!(nodes[1].e820_entries(read).is_err());
        assert!(nodes[1].read_payload(read, &mut [0u8; 17]).is_err());
        assert_eq!(SetupDataWalk::new(0, read).count(), 0);
    }

    #[test]
    fn a_loop_is_an_error_and_ends_the_walk() {
        // 0x1000 -> 0x1010 -> 0x1000.
        let mem = [node(0x1010, 9, 0), node(0x1000, 9, 0)].concat();
        let mut w = SetupDataWalk::new(0x1000, window(0x1000, &mem));
        assert!(w.next().unwrap().is_ok());
        assert!(w.next().unwrap().is_ok());
        assert_eq!(
            w.next(),
            Some(Err(BootParamError::SetupDataLoop { pa: 0x1000 }))
        );
        assert_eq!(w.next(), None);
        // A node pointing at itself.
        let me = node(0x2000, 9, 0);
        let got: Vec<_> = SetupDataWalk::new(0x2000, window(0x2000, &me)).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], Err(BootParamError::SetupDataLoop { pa: 0x2000 }));
    }

    /// `n` distinct nodes at 0x10, 0x20, ... linked in order.
    fn chain_of(n: u64) -> Vec<u8> {
        (1..=n)
            .flat_map(|i| node(if i == n { 0 } else { (i + 1) * 16 }, 9, 0))
            .collect()
    }

    #[test]
    fn too_many_distinct_nodes_is_an_error() {
        let max = MAX_SETUP_DATA_NODES;
        let mem = chain_of(max as u64);
        let got: Vec<_> = SetupDataWalk::new(0x10, window(0x10, &mem)).collect();
        assert_eq!(got.len(), max);
        assert!(got.iter().all(Result::is_ok));
        let mem = chain_of(max as u64 + 1);
        let got: Vec<_> = SetupDataWalk::new(0x10, window(0x10, &mem)).collect();
        assert_eq!(got.len(), max + 1);
        assert!(got[..max].iter().all(Result::is_ok));
        assert_eq!(
            got[max],
            Err(BootParamError::SetupDataTooLong { max_nodes: max })
        );
    }

    #[test]
    fn next_out_of_range_is_an_error() {
        let mem = [node(0xdead_0000, 9, 0), node(0, 9, 0)].concat();
        let got: Vec<_> = SetupDataWalk::new(0x1000, window(0x1000, &mem)).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[1],
            Err(BootParamError::UnreadableSetupData { pa: 0xdead_0000 })
        );
        // A header cut short by the end of readable memory.
        let got: Vec<_> = SetupDataWalk::new(0x1000, window(0x1000, &mem[..12])).collect();
        assert_eq!(
            got,
            [Err(BootParamError::UnreadableSetupData { pa: 0x1000 })]
        );
        // A header at the very top of the address space.
        let all = |_: u64, b: &mut [u8]| {
            b.fill(0);
            true
        };
        let top = u64::MAX - 8;
        let got: Vec<_> = SetupDataWalk::new(top, all).collect();
        assert_eq!(
            got,
            [Err(BootParamError::BadSetupDataLen { pa: top, len: 0 })]
        );
    }

    #[test]
    fn oversized_len_is_an_error() {
        // A payload that wraps the address space.
        let hdr = node(0, SETUP_E820_EXT, u32::MAX);
        let top = u64::MAX - 20;
        let read = |pa: u64, b: &mut [u8]| {
            pa == top && b.len() <= hdr.len() && {
                b.copy_from_slice(&hdr[..b.len()]);
                true
            }
        };
        let got: Vec<_> = SetupDataWalk::new(top, read).collect();
        assert_eq!(
            got,
            [Err(BootParamError::BadSetupDataLen {
                pa: top,
                len: u32::MAX
            })]
        );
        // An E820_EXT node over the limit, or longer than readable memory.
        let mut mem = node(0, SETUP_E820_EXT, MAX_E820_EXT_LEN + 20);
        let big = SetupDataWalk::new(0x1000, window(0x1000, &mem))
            .next()
            .unwrap()
            .unwrap();
        assert!(big.e820_entries(window(0x1000, &mem)).is_err());
        mem[12..16].copy_from_slice(&60u32.to_le_bytes());
        mem.extend_from_slice(&[0xaa; 30]); // one whole entry, then 10 bytes
        let short = SetupDataWalk::new(0x1000, window(0x1000, &mem))
            .next()
            .unwrap()
            .unwrap();
        let got: Vec<_> = short.e820_entries(window(0x1000, &mem)).unwrap().collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert_eq!(
            got[1],
            Err(BootParamError::UnreadableSetupData {
                pa: 0x1000 + 16 + 20
            })
        );
    }
}
