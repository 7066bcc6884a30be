//! The per-region check shared between two CPUs.
//!
//! A region's SHA-256 is one chain of blocks, so one region is one CPU's
//! work unless the kernel cut it ([`purgatory_abi::REGION_CUTS`]): then the
//! bytes before the cut are checked against the chaining value the kernel
//! kept there (IMA's pass over the file kept it), and the bytes after it,
//! resumed from that value, against the region's digest. Every byte is
//! still checked once, and each piece can run on either CPU.
//!
//! [`pieces`] turns the tables into pieces, [`share`] gives each piece a
//! CPU (the longest first, each to the CPU with less so far), and
//! [`check_all`] runs them through a [`SecondCpu`].

use core::sync::atomic::{AtomicU8, Ordering};

use purgatory_abi::{RegionHash, RegionPrefix, Sha256Digest, ShaRegion, MAX_REGIONS};

use crate::{active_regions, region_slot, Params, PhysMemory};

/// At most one cut per region.
pub const MAX_PIECES: usize = 2 * MAX_REGIONS;

/// What a piece's bytes must hash to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The chaining value after them (a cut region's first piece).
    State(RegionPrefix),
    /// The region's slot (the whole region, or a cut region's second piece).
    Slot(Sha256Digest),
}

/// Bytes of one region, the hash state they continue, and what they must give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The region (kexec segment) slot these bytes belong to.
    pub slot: usize,
    /// The bytes.
    pub bytes: ShaRegion,
    /// The SHA-256 state before them ([`RegionPrefix::NONE`]: none).
    pub from: RegionPrefix,
    /// What they must hash to.
    pub expect: Expect,
}

/// A cut that cannot be checked (the caller refuses the parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadCut {
    /// The region's slot.
    pub slot: usize,
}

/// The pieces of every active region, in slot order (a cut region's two
/// pieces one after the other). A cut must be SHA-256's, lie strictly inside
/// its region, after its prefix.
pub fn pieces(p: &Params, hash: RegionHash) -> Result<([Piece; MAX_PIECES], usize), BadCut> {
    let none = Piece { slot: 0, bytes: ShaRegion::EMPTY, from: RegionPrefix::NONE, expect: Expect::Slot([0; 32]) };
    let mut out = [none; MAX_PIECES];
    let mut n = 0;
    for (i, region) in active_regions(&p.regions) {
        let (from, cut) = (p.region_prefixes[i], p.region_cuts[i]);
        let whole = Piece { slot: i, bytes: region, from, expect: Expect::Slot(p.region_digests[i]) };
        if cut == RegionPrefix::NONE {
            out[n] = whole;
            n += 1;
            continue;
        }
        let head = cut
            .blocks
            .checked_sub(from.blocks)
            .and_then(|b| b.checked_mul(64))
            .filter(|&len| len != 0 && len < region.len && hash == RegionHash::Sha256)
            .ok_or(BadCut { slot: i })?;
        out[n] = Piece { bytes: ShaRegion { start: region.start, len: head }, expect: Expect::State(cut), ..whole };
        out[n + 1] = Piece { bytes: ShaRegion { start: region.start + head, len: region.len - head }, from: cut, ..whole };
        n += 2;
    }
    Ok((out, n))
}

/// Which CPU (0: this one, 1: the second) checks each of `pieces`: the
/// longest piece first, each to the CPU with fewer bytes so far (ties to
/// this one). Also the bytes each CPU gets.
pub fn share(pieces: &[Piece]) -> ([u8; MAX_PIECES], [u64; 2]) {
    let mut cpu = [0u8; MAX_PIECES];
    let mut load = [0u64; 2];
    let mut order = [0usize; MAX_PIECES];
    for (k, o) in order.iter_mut().enumerate() {
        *o = k;
    }
    let order = &mut order[..pieces.len()];
    // A stable sort by length, longest first (insertion sort: at most 32).
    for i in 1..order.len() {
        let mut j = i;
        while j > 0 && pieces[order[j - 1]].bytes.len < pieces[order[j]].bytes.len {
            order.swap(j - 1, j);
            j -= 1;
        }
    }
    for &k in order.iter() {
        let c = usize::from(load[1] < load[0]);
        cpu[k] = c as u8;
        load[c] += pieces[k].bytes.len;
    }
    (cpu, load)
}

/// Whether `piece`'s bytes in memory give what it expects.
pub fn check_piece<M: PhysMemory + ?Sized>(mem: &M, hash: RegionHash, piece: &Piece) -> bool {
    match piece.expect {
        Expect::Slot(want) => region_slot(mem, hash, &piece.from, piece.bytes) == want,
        Expect::State(want) => {
            let mut h = piece.from.resume();
            mem.feed(piece.bytes, |chunk| h.update(chunk));
            RegionPrefix::capture(&h) == Some(want)
        }
    }
}

/// A second CPU for the check, if the machine gives one.
pub trait SecondCpu {
    /// Run `ours` here and `theirs` on the second CPU at the same time.
    /// Returns whether `theirs` ran to its end there; if not (no second
    /// CPU, or it never started), the caller runs `theirs` itself.
    fn beside(&mut self, ours: &mut dyn FnMut(), theirs: &(dyn Fn() + Sync)) -> bool;
}

/// No second CPU: `ours` runs, `theirs` is left to the caller.
pub struct OneCpu;

impl SecondCpu for OneCpu {
    fn beside(&mut self, ours: &mut dyn FnMut(), _: &(dyn Fn() + Sync)) -> bool {
        ours();
        false
    }
}

/// A piece's outcome.
const NOT_RUN: u8 = 0;
const MATCH: u8 = 1;
const MISMATCH: u8 = 2;

/// What [`check_all`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Per slot: some piece of the region did not match.
    pub bad: [bool; MAX_REGIONS],
    /// The second CPU checked its share.
    pub on_two_cpus: bool,
    /// Bytes given to the second CPU.
    pub second_cpu_bytes: u64,
}

/// Check every piece, the second CPU's share on it when `cpus` has one.
pub fn check_all<M, S>(mem: &M, hash: RegionHash, pieces: &[Piece], cpus: &mut S) -> Checked
where
    M: PhysMemory + Sync + ?Sized,
    S: SecondCpu + ?Sized,
{
    let (cpu, load) = share(pieces);
    let results: [AtomicU8; MAX_PIECES] = [const { AtomicU8::new(NOT_RUN) }; MAX_PIECES];
    let run = |which: u8| {
        for (k, piece) in pieces.iter().enumerate().filter(|(k, _)| cpu[*k] == which) {
            let ok = check_piece(mem, hash, piece);
            results[k].store(if ok { MATCH } else { MISMATCH }, Ordering::Release);
        }
    };
    let on_two_cpus = load[1] != 0 && cpus.beside(&mut || run(0), &|| run(1));
    if !on_two_cpus {
        if load[1] == 0 {
            run(0);
        }
        run(1);
    }
    let mut bad = [false; MAX_REGIONS];
    for (k, piece) in pieces.iter().enumerate() {
        if results[k].load(Ordering::Acquire) != MATCH {
            bad[piece.slot] = true;
        }
    }
    Checked { bad, on_two_cpus, second_cpu_bytes: if on_two_cpus { load[1] } else { 0 } }
}
