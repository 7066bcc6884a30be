//! Hardware-independent half of the kexos purgatory.
//!
//! The purgatory is the small program that runs between the old kernel's
//! `relocate_kernel` trampoline and the next kernel's entry point. The kexos
//! kernel patches its parameters into named `.data` symbols of the purgatory
//! object before loading it; that contract (names, sizes, layouts, byte
//! encodings) is libs/purgatory-abi's, re-exported here. This crate holds
//! everything about verification that needs no hardware: which regions are
//! hashed, the SHA-256 (or XXH64) pass, the decision to boot or refuse, and every line
//! printed on the serial console. The bare-metal crate one directory up only
//! supplies physical memory, the UART and the clock, so the whole decision
//! logic is unit-tested on the host.
#![cfg_attr(not(test), no_std)]
// The only unsafe code is one layout check in the tests.
#![cfg_attr(not(test), forbid(unsafe_code))]

use purgatory_abi::{RegionHash, RegionHasher};
use sha256::Sha256;

pub mod split;

pub use split::{OneCpu, SecondCpu};

// The contract (names, sizes, layouts, flags) is purgatory-abi's; re-exported
// so the purgatory binary needs one dependency.
pub use purgatory_abi;
pub use purgatory_abi::{
    EntryRegs, RegionPrefix, Sha256Digest, ShaRegion, FLAG_NO_VERIFY, FLAG_PER_REGION, MAX_REGIONS,
    NO_DIGEST, REFUSE_MISMATCH, REFUSE_UNCHECKABLE,
};

/// Everything the kernel patched in, copied out of the purgatory's `.data`.
#[derive(Clone, Debug)]
pub struct Params {
    pub regions: [ShaRegion; MAX_REGIONS],
    pub digest: Sha256Digest,
    pub region_digests: [Sha256Digest; MAX_REGIONS],
    /// Per-region mode: the state each region's hash starts from.
    pub region_prefixes: [RegionPrefix; MAX_REGIONS],
    /// Per-region mode: where a region is cut in two pieces ([`split`]).
    pub region_cuts: [RegionPrefix; MAX_REGIONS],
    pub flags: u64,
    /// `entry64_regs.rip`, only printed.
    pub entry_rip: u64,
    /// purgatory_abi::TIMING: [TSC kHz, TSC at the jump]; 0 = unknown.
    pub timing: [u64; 2],
    /// The TSC when purgatory started.
    pub entry_tsc: u64,
}

/// Where messages go. The purgatory's implementation is a polled 16550.
pub trait Console {
    fn write_bytes(&mut self, bytes: &[u8]);

    fn write_str(&mut self, s: &str) {
        self.write_bytes(s.as_bytes());
    }
}

/// Read access to physical memory.
pub trait PhysMemory {
    /// Feed the `region.len` bytes at physical address `region.start` to
    /// `sink`, in order, in one or more chunks. Only called for regions that
    /// passed [`check_regions`].
    fn feed<F: FnMut(&[u8])>(&self, region: ShaRegion, sink: F);
}

/// `0x` followed by the value in lowercase hex without leading zeros.
pub fn write_hex<C: Console + ?Sized>(con: &mut C, value: u64) {
    let mut buf = [0u8; 18];
    let len = fmt_hex(value, &mut buf);
    con.write_bytes(&buf[..len]);
}

/// Decimal, no separators.
pub fn write_dec<C: Console + ?Sized>(con: &mut C, value: u64) {
    let mut buf = [0u8; 20];
    let len = fmt_dec(value, &mut buf);
    con.write_bytes(&buf[..len]);
}

/// Bytes as lowercase hex pairs, no prefix (the usual digest notation).
pub fn write_hex_bytes<C: Console + ?Sized>(con: &mut C, bytes: &[u8]) {
    for &b in bytes {
        con.write_bytes(&[HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Formats `0x<hex>` into `buf`, returns the length used.
pub fn fmt_hex(value: u64, buf: &mut [u8; 18]) -> usize {
    let digits = if value == 0 {
        1
    } else {
        (64 - value.leading_zeros() as usize).div_ceil(4)
    };
    buf[0] = b'0';
    buf[1] = b'x';
    for i in 0..digits {
        let nibble = (value >> (4 * (digits - 1 - i))) & 0xf;
        buf[2 + i] = HEX[nibble as usize];
    }
    2 + digits
}

/// Formats `value` in decimal into `buf`, returns the length used.
pub fn fmt_dec(mut value: u64, buf: &mut [u8; 20]) -> usize {
    let mut tmp = [0u8; 20];
    let mut n = 0;
    loop {
        tmp[n] = b'0' + (value % 10) as u8;
        n += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for i in 0..n {
        buf[i] = tmp[n - 1 - i];
    }
    n
}

/// Why a region table is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadRegion {
    pub index: usize,
    pub region: ShaRegion,
}

/// Summary of a usable region table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionSummary {
    /// Non-empty entries.
    pub count: usize,
    /// Sum of their lengths.
    pub total_len: u64,
}

/// Non-empty entries of the table with their indices, in index order: the
/// regions that are hashed. An entry with `len == 0` is unused; a kernel that
/// fills the table from index 0 sees the usual "zero terminates" semantics.
pub fn active_regions(
    table: &[ShaRegion; MAX_REGIONS],
) -> impl Iterator<Item = (usize, ShaRegion)> + '_ {
    table
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, r)| r.len != 0)
}

/// Rejects a region whose end lies beyond the 64-bit address space or whose
/// length cannot be a slice length (`> isize::MAX`); otherwise counts.
pub fn check_regions(table: &[ShaRegion; MAX_REGIONS]) -> Result<RegionSummary, BadRegion> {
    let mut summary = RegionSummary {
        count: 0,
        total_len: 0,
    };
    for (index, region) in active_regions(table) {
        // The last byte is start + len - 1; it must not wrap.
        let end_ok = region.start.checked_add(region.len - 1).is_some();
        if !end_ok || region.len > isize::MAX as u64 {
            return Err(BadRegion { index, region });
        }
        summary.count += 1;
        summary.total_len = summary.total_len.saturating_add(region.len);
    }
    Ok(summary)
}

/// SHA-256 over the concatenation of the given regions' bytes.
pub fn digest_regions<M: PhysMemory + ?Sized>(
    mem: &M,
    regions: impl Iterator<Item = ShaRegion>,
) -> Sha256Digest {
    digest_from(mem, Sha256::new(), regions)
}

/// One region's slot image with `hash` (purgatory_abi::FLAG_XXH64): the
/// SHA-256 continued from `prefix`, or the region's XXH64 slot (the caller
/// refuses a prefix with XXH64). The hasher the kernel's copy used too.
pub fn region_slot<M: PhysMemory + ?Sized>(mem: &M, hash: RegionHash, prefix: &RegionPrefix, region: ShaRegion) -> Sha256Digest {
    let mut h = match hash {
        RegionHash::Sha256 => RegionHasher::sha256_from(prefix),
        other => RegionHasher::new(other),
    };
    mem.feed(region, |chunk| h.update(chunk));
    h.finalize()
}

fn digest_from<M: PhysMemory + ?Sized>(
    mem: &M,
    mut hasher: Sha256,
    regions: impl Iterator<Item = ShaRegion>,
) -> Sha256Digest {
    for region in regions {
        mem.feed(region, |chunk| hasher.update(chunk));
    }
    hasher.finalize()
}

/// What a provided per-region digest says about one region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionCheck {
    NotProvided,
    Match,
    Mismatch,
}

/// Compares one region's digest with its (maybe absent) expected value.
pub fn region_check(expected: &Sha256Digest, actual: &Sha256Digest) -> RegionCheck {
    if *expected == NO_DIGEST {
        RegionCheck::NotProvided
    } else if expected == actual {
        RegionCheck::Match
    } else {
        RegionCheck::Mismatch
    }
}

/// Outcome of [`verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Load `entry64_regs` and jump.
    Boot,
    /// Halt forever.
    Refuse,
}

/// The purgatory's whole job, minus the jump: check the patched parameters,
/// hash, compare, print what happened. `clock` returns a monotonic cycle
/// count (the TSC on the machine) used only for the "hashed ... in" line.
/// On one CPU; [`verify_on`] may use a second.
pub fn verify<M, C, T>(p: &Params, mem: &M, con: &mut C, clock: T) -> Decision
where
    M: PhysMemory + Sync + ?Sized,
    C: Console + ?Sized,
    T: FnMut() -> u64,
{
    verify_on(p, mem, con, clock, &mut OneCpu)
}

/// [`verify`], with a second CPU for part of the per-region check when
/// `cpus` gives one ([`split`]).
pub fn verify_on<M, C, T, S>(p: &Params, mem: &M, con: &mut C, mut clock: T, cpus: &mut S) -> Decision
where
    M: PhysMemory + Sync + ?Sized,
    C: Console + ?Sized,
    T: FnMut() -> u64,
    S: SecondCpu + ?Sized,
{
    if p.flags & FLAG_NO_VERIFY != 0 {
        con.write_str("purgatory: verification skipped (flags ");
        write_hex(con, p.flags);
        con.write_str("), entering kernel at ");
        write_hex(con, p.entry_rip);
        con.write_str("\n");
        return Decision::Boot;
    }

    let summary = match check_regions(&p.regions) {
        Ok(s) => s,
        Err(bad) => {
            con.write_str("purgatory: bad region ");
            write_dec(con, bad.index as u64);
            con.write_str(" (start ");
            write_hex(con, bad.region.start);
            con.write_str(", len ");
            write_hex(con, bad.region.len);
            con.write_str("): beyond the address space\n");
            refuse(con, REFUSE_UNCHECKABLE);
            return Decision::Refuse;
        }
    };

    con.write_str("purgatory: verifying ");
    write_dec(con, summary.count as u64);
    con.write_str(" regions (");
    write_dec(con, summary.total_len.div_ceil(1024));
    con.write_str(" KiB)\n");

    if p.flags & FLAG_PER_REGION != 0 {
        return verify_per_region(p, summary, mem, con, clock, cpus);
    }

    let t0 = clock();
    let actual = digest_regions(mem, active_regions(&p.regions).map(|(_, r)| r));
    let cycles = clock().wrapping_sub(t0);

    if actual == p.digest {
        boot_ok(p, RegionHash::Sha256, summary, cycles, con);
        return Decision::Boot;
    }

    con.write_str("purgatory: expected sha256 ");
    write_hex_bytes(con, &p.digest);
    con.write_str("\npurgatory: computed sha256 ");
    write_hex_bytes(con, &actual);
    con.write_str("\n");
    report_bad_regions(p, mem, con);
    refuse(con, REFUSE_MISMATCH);
    Decision::Refuse
}

/// `hashed B bytes in C cycles (F)`, F the SHA-256 block function or
/// `xxh64`; the phases; `<hash> ok, entering kernel at`.
fn boot_ok<C: Console + ?Sized>(p: &Params, hash: RegionHash, summary: RegionSummary, cycles: u64, con: &mut C) {
    con.write_str("purgatory: hashed ");
    write_dec(con, summary.total_len);
    con.write_str(" bytes in ");
    write_dec(con, cycles);
    con.write_str(" cycles (");
    con.write_str(match hash {
        RegionHash::Sha256 => sha256::backend().name(),
        RegionHash::Xxh64 => hash.name(),
    });
    con.write_str(")\n");
    write_phases(p, cycles, con);
    con.write_str(hash.ok_line());
    con.write_str(", entering kernel at ");
    write_hex(con, p.entry_rip);
    con.write_str("\n");
}

/// `purgatory: phases: relocate_kernel N us, verify N us` when the kernel
/// gave the TSC frequency (and, for the first, the TSC at its jump).
fn write_phases<C: Console + ?Sized>(p: &Params, verify_cycles: u64, con: &mut C) {
    let [khz, jump] = p.timing;
    if khz == 0 {
        return;
    }
    let us = |cycles: u64| (cycles / khz) * 1000 + (cycles % khz) * 1000 / khz;
    con.write_str(purgatory_abi::PURGATORY_PHASES);
    if jump != 0 && p.entry_tsc >= jump {
        con.write_str("relocate_kernel ");
        write_dec(con, us(p.entry_tsc - jump));
        con.write_str(" us, ");
    }
    con.write_str("verify ");
    write_dec(con, us(verify_cycles));
    con.write_str(" us\n");
}

/// `purgatory: <before><hash name><after><i> (start .., len ..)`.
fn write_what_segment<C: Console + ?Sized>(con: &mut C, before: &str, hash: RegionHash, after: &str, i: usize, region: ShaRegion) {
    con.write_str("purgatory: ");
    con.write_str(before);
    con.write_str(hash.name());
    write_segment(con, after, i, region);
}

fn write_segment<C: Console + ?Sized>(con: &mut C, what: &str, i: usize, region: ShaRegion) {
    con.write_str(what);
    write_dec(con, i as u64);
    con.write_str(" (start ");
    write_hex(con, region.start);
    con.write_str(", len ");
    write_hex(con, region.len);
    con.write_str(")\n");
}

/// [`FLAG_PER_REGION`]: one pass, each region against its own digest, with
/// the function [`RegionHash::from_flags`] names.
fn verify_per_region<M, C, T, S>(
    p: &Params,
    summary: RegionSummary,
    mem: &M,
    con: &mut C,
    mut clock: T,
    cpus: &mut S,
) -> Decision
where
    M: PhysMemory + Sync + ?Sized,
    C: Console + ?Sized,
    T: FnMut() -> u64,
    S: SecondCpu + ?Sized,
{
    let hash = RegionHash::from_flags(p.flags);
    let mut unusable = 0usize;
    for (i, region) in active_regions(&p.regions) {
        if p.region_digests[i] == NO_DIGEST {
            unusable += 1;
            write_what_segment(con, "no ", hash, " for segment ", i, region);
        } else if hash != RegionHash::Sha256 && p.region_prefixes[i] != RegionPrefix::NONE {
            // A prefix is a SHA-256 state: with XXH64 the parameters disagree.
            unusable += 1;
            con.write_str("purgatory: a ");
            con.write_str(RegionHash::Sha256.name());
            con.write_str(" prefix with ");
            con.write_str(hash.name());
            write_segment(con, " for segment ", i, region);
        }
    }
    let pieces = match split::pieces(p, hash) {
        Ok(pieces) => Some(pieces),
        Err(split::BadCut { slot }) => {
            unusable += 1;
            con.write_str("purgatory: a cut ");
            con.write_str(hash.name());
            write_segment(con, " cannot check, in segment ", slot, p.regions[slot]);
            None
        }
    };
    let (pieces, n) = match pieces {
        Some(pieces) if unusable == 0 => pieces,
        _ => {
            refuse(con, REFUSE_UNCHECKABLE);
            return Decision::Refuse;
        }
    };
    let t0 = clock();
    let checked = split::check_all(mem, hash, &pieces[..n], cpus);
    let cycles = clock().wrapping_sub(t0);
    if checked.on_two_cpus {
        con.write_str(purgatory_abi::SECOND_CPU_LINE);
        write_dec(con, checked.second_cpu_bytes);
        con.write_str(" of ");
        write_dec(con, summary.total_len);
        con.write_str(" bytes\n");
    }
    let mut bad = 0usize;
    for (i, region) in active_regions(&p.regions).filter(|(i, _)| checked.bad[*i]) {
        bad += 1;
        write_what_segment(con, "", hash, " mismatch in segment ", i, region);
    }
    if bad == 0 {
        boot_ok(p, hash, summary, cycles, con);
        Decision::Boot
    } else {
        refuse(con, REFUSE_MISMATCH);
        Decision::Refuse
    }
}

/// After a total mismatch: hash each region that has an expected digest and
/// name every one that differs.
fn report_bad_regions<M, C>(p: &Params, mem: &M, con: &mut C)
where
    M: PhysMemory + ?Sized,
    C: Console + ?Sized,
{
    let mut provided = 0usize;
    let mut bad = 0usize;
    for (i, region) in active_regions(&p.regions) {
        let expected = &p.region_digests[i];
        if *expected == NO_DIGEST {
            continue;
        }
        provided += 1;
        let actual = region_slot(mem, RegionHash::Sha256, &p.region_prefixes[i], region);
        if region_check(expected, &actual) == RegionCheck::Mismatch {
            bad += 1;
            write_what_segment(con, "", RegionHash::Sha256, " mismatch in segment ", i, region);
        }
    }
    if provided == 0 {
        con.write_str(
            "purgatory: no per-segment digests provided, cannot tell which segment is bad\n",
        );
    } else if bad == 0 {
        con.write_str(
            "purgatory: every provided per-segment digest matches (bad total digest, or an unchecked segment)\n",
        );
    }
}

/// The last line before purgatory halts: [`REFUSE_MISMATCH`] or [`REFUSE_UNCHECKABLE`].
fn refuse<C: Console + ?Sized>(con: &mut C, line: &str) {
    con.write_str(line);
    con.write_str("\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Physical memory `[base, base + bytes.len())`, fed in `chunk`-byte pieces.
    struct FakeMem {
        base: u64,
        bytes: Vec<u8>,
        chunk: usize,
        reads: AtomicUsize,
    }

    impl FakeMem {
        fn new(base: u64, size: usize) -> Self {
            let bytes = (0..size).map(|i| (i * 7 + 3) as u8).collect();
            FakeMem {
                base,
                bytes,
                chunk: 7,
                reads: AtomicUsize::new(0),
            }
        }
        fn slice(&self, r: ShaRegion) -> &[u8] {
            let off = (r.start - self.base) as usize;
            &self.bytes[off..off + r.len as usize]
        }
    }

    impl PhysMemory for FakeMem {
        fn feed<F: FnMut(&[u8])>(&self, region: ShaRegion, mut sink: F) {
            self.reads.fetch_add(1, Ordering::Relaxed);
            for c in self.slice(region).chunks(self.chunk) {
                sink(c);
            }
        }
    }

    /// Panics on any access: for paths that must not hash.
    struct NoMem;
    impl PhysMemory for NoMem {
        fn feed<F: FnMut(&[u8])>(&self, _: ShaRegion, _: F) {
            panic!("memory read");
        }
    }

    #[derive(Default)]
    struct Out(Vec<u8>);
    impl Console for Out {
        fn write_bytes(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
    }
    impl Out {
        fn text(&self) -> String {
            String::from_utf8(self.0.clone()).unwrap()
        }
    }

    fn sha(data: &[u8]) -> Sha256Digest {
        Sha256::digest(data)
    }

    fn clock() -> impl FnMut() -> u64 {
        let mut t = 1000;
        move || {
            t += 500;
            t
        }
    }

    const BASE: u64 = 0x8000_0000;

    /// Three regions in the fake memory, with the correct total digest and
    /// per-region digests.
    fn setup() -> (FakeMem, Params) {
        let mem = FakeMem::new(BASE, 0x4000);
        let mut regions = [ShaRegion::EMPTY; MAX_REGIONS];
        regions[0] = ShaRegion {
            start: BASE + 0x100,
            len: 0x1000,
        };
        regions[1] = ShaRegion {
            start: BASE + 0x2000,
            len: 0x33,
        };
        regions[2] = ShaRegion {
            start: BASE + 0x3000,
            len: 0x400,
        };
        let mut all = Vec::new();
        let mut region_digests = [NO_DIGEST; MAX_REGIONS];
        for i in 0..3 {
            all.extend_from_slice(mem.slice(regions[i]));
            region_digests[i] = sha(mem.slice(regions[i]));
        }
        let p = Params {
            regions,
            digest: sha(&all),
            region_digests,
            region_prefixes: [RegionPrefix::NONE; MAX_REGIONS],
            region_cuts: [RegionPrefix::NONE; MAX_REGIONS],
            flags: 0,
            entry_rip: 0x100_0200,
            timing: [0, 0],
            entry_tsc: 0,
        };
        (mem, p)
    }

    #[test]
    fn hex_and_decimal_formatting() {
        let hex = |v| {
            let mut b = [0; 18];
            let n = fmt_hex(v, &mut b);
            String::from_utf8(b[..n].to_vec()).unwrap()
        };
        assert_eq!(hex(0), "0x0");
        assert_eq!(hex(0xf), "0xf");
        assert_eq!(hex(0x10), "0x10");
        assert_eq!(hex(0x100_0200), "0x1000200");
        assert_eq!(hex(0xdead_beef_0000_0001), "0xdeadbeef00000001");
        assert_eq!(hex(u64::MAX), "0xffffffffffffffff");
        let dec = |v| {
            let mut b = [0; 20];
            let n = fmt_dec(v, &mut b);
            String::from_utf8(b[..n].to_vec()).unwrap()
        };
        assert_eq!(dec(0), "0");
        assert_eq!(dec(7), "7");
        assert_eq!(dec(1024), "1024");
        assert_eq!(dec(u64::MAX), "18446744073709551615");
        let mut o = Out::default();
        write_hex_bytes(&mut o, &[0x00, 0xab, 0x7f]);
        assert_eq!(o.text(), "00ab7f");
    }

    #[test]
    fn sha256_known_answers() {
        let mem = FakeMem {
            base: 0,
            bytes: b"abc".to_vec(),
            chunk: 1,
            reads: AtomicUsize::new(0),
        };
        let d = digest_regions(&mem, [ShaRegion { start: 0, len: 3 }].into_iter());
        assert_eq!(
            d[..],
            hex_literal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")[..]
        );
        let d = digest_regions(&NoMem, core::iter::empty());
        assert_eq!(
            d[..],
            hex_literal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")[..]
        );
    }

    fn hex_literal(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn zero_length_entries_are_unused_not_terminators() {
        let mut t = [ShaRegion::EMPTY; MAX_REGIONS];
        t[0] = ShaRegion {
            start: 0x1000,
            len: 0x10,
        };
        t[1] = ShaRegion {
            start: 0x5000,
            len: 0,
        };
        t[3] = ShaRegion {
            start: 0x2000,
            len: 0x20,
        };
        let idx: Vec<_> = active_regions(&t).map(|(i, _)| i).collect();
        assert_eq!(idx, [0, 3]);
        assert_eq!(
            check_regions(&t),
            Ok(RegionSummary {
                count: 2,
                total_len: 0x30
            })
        );
        assert_eq!(
            check_regions(&[ShaRegion::EMPTY; MAX_REGIONS]),
            Ok(RegionSummary {
                count: 0,
                total_len: 0
            })
        );
    }

    #[test]
    fn region_bounds() {
        let mut t = [ShaRegion::EMPTY; MAX_REGIONS];
        // Ends exactly at the top of the address space: fine.
        t[0] = ShaRegion {
            start: u64::MAX - 0xfff,
            len: 0x1000,
        };
        assert!(check_regions(&t).is_ok());
        t[2] = ShaRegion {
            start: u64::MAX - 0xfff,
            len: 0x1001,
        };
        assert_eq!(
            check_regions(&t),
            Err(BadRegion {
                index: 2,
                region: t[2]
            })
        );
        let mut t = [ShaRegion::EMPTY; MAX_REGIONS];
        t[5] = ShaRegion {
            start: 0,
            len: 1 << 63,
        };
        assert_eq!(check_regions(&t).unwrap_err().index, 5);
    }

    /// Both modes boot on one pass over the regions: the total digest (Linux's layout, the
    /// per-region digests untouched) and per region (kexos's kernel, the total not looked at).
    #[test]
    fn good_digests_boot_in_both_modes() {
        let (mem, total) = setup();
        let mut per_region = total.clone();
        per_region.flags = FLAG_PER_REGION;
        per_region.digest = [0xee; 32];
        for p in [total, per_region] {
            let mut o = Out::default();
            let reads = mem.reads.load(Ordering::Relaxed);
            assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Boot, "flags {:#x}", p.flags);
            assert_eq!(
                o.text(),
                format!(
                    "purgatory: verifying 3 regions (6 KiB)\n\
                     purgatory: hashed 5171 bytes in 500 cycles ({})\n\
                     purgatory: sha256 ok, entering kernel at 0x1000200\n",
                    sha256::backend().name()
                )
            );
            assert_eq!(mem.reads.load(Ordering::Relaxed) - reads, 3, "flags {:#x}", p.flags);
        }
    }

    #[test]
    fn with_the_tsc_frequency_the_phases_are_printed() {
        let (mem, mut p) = setup();
        // 2 GHz; the jump 3 ms before purgatory started; hashing takes 500
        // cycles in the fake clock (0 us).
        p.timing = [2_000_000, 10_000_000];
        p.entry_tsc = 16_000_000;
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Boot);
        assert!(o.text().contains(&format!("purgatory: hashed 5171 bytes in 500 cycles ({})\npurgatory: phases: relocate_kernel 3000 us, verify 0 us\npurgatory: sha256 ok", sha256::backend().name())), "{}", o.text());
        // No jump TSC (a crash image): only the verification.
        p.timing = [1_000, 0];
        let mut o = Out::default();
        verify(&p, &mem, &mut o, clock());
        assert!(o.text().contains("purgatory: phases: verify 500 us\n"), "{}", o.text());
    }

    #[test]
    fn chunking_does_not_change_the_digest() {
        let (mut mem, p) = setup();
        for chunk in [1, 63, 64, 65, 4096] {
            mem.chunk = chunk;
            let d = digest_regions(&mem, active_regions(&p.regions).map(|(_, r)| r));
            assert_eq!(d, p.digest, "chunk {chunk}");
        }
    }

    #[test]
    fn kib_rounds_up() {
        let mem = FakeMem::new(0, 100);
        let mut regions = [ShaRegion::EMPTY; MAX_REGIONS];
        regions[0] = ShaRegion { start: 0, len: 100 };
        let p = Params {
            regions,
            digest: sha(&mem.bytes),
            region_digests: [NO_DIGEST; MAX_REGIONS],
            region_prefixes: [RegionPrefix::NONE; MAX_REGIONS],
            region_cuts: [RegionPrefix::NONE; MAX_REGIONS],
            flags: 0,
            entry_rip: 0,
            timing: [0, 0],
            entry_tsc: 0,
        };
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Boot);
        assert!(
            o.text()
                .starts_with("purgatory: verifying 1 regions (1 KiB)\n"),
            "{}",
            o.text()
        );
    }

    #[test]
    fn skip_flag_boots_without_reading_memory() {
        let (_, mut p) = setup();
        p.flags = FLAG_NO_VERIFY;
        p.digest = [0x55; 32];
        let mut o = Out::default();
        assert_eq!(verify(&p, &NoMem, &mut o, clock()), Decision::Boot);
        assert_eq!(
            o.text(),
            "purgatory: verification skipped (flags 0x1), entering kernel at 0x1000200\n"
        );
    }

    #[test]
    fn other_flag_bits_do_not_skip() {
        let (mem, mut p) = setup();
        p.flags = 1 << 63 | 1 << 2;
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Boot);
        assert!(o.text().contains("sha256 ok"));
    }

    /// A region whose digest is that of a longer string ending with it
    /// (the whole bzImage IMA measured, of which the region is the kernel
    /// segment): verified from its prefix state, and a flipped byte in the
    /// region is still named.
    #[test]
    fn per_region_mode_resumes_from_a_prefix() {
        let (mut mem, mut p) = setup();
        p.flags = FLAG_PER_REGION;
        let header: Vec<u8> = (0..1024u32).map(|i| (i * 3) as u8).collect();
        let mut h = Sha256::new();
        h.update(&header);
        p.region_prefixes[2] = RegionPrefix::capture(&h).unwrap();
        h.update(mem.slice(p.regions[2]));
        p.region_digests[2] = h.finalize();
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Boot, "{}", o.text());
        // Without the prefix the same digest is a mismatch.
        let mut q = p.clone();
        q.region_prefixes[2] = RegionPrefix::NONE;
        assert_eq!(verify(&q, &mem, &mut Out::default(), clock()), Decision::Refuse);
        mem.bytes[0x33ff] ^= 1;
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Refuse);
        assert!(o.text().contains("purgatory: sha256 mismatch in segment 2"), "{}", o.text());
    }

    /// A second CPU made of a host thread: `theirs` really runs beside `ours`.
    struct Thread {
        ran: usize,
    }
    impl SecondCpu for Thread {
        fn beside(&mut self, ours: &mut dyn FnMut(), theirs: &(dyn Fn() + Sync)) -> bool {
            self.ran += 1;
            std::thread::scope(|s| {
                s.spawn(theirs);
                ours();
            });
            true
        }
    }

    /// A second CPU given up on after it ran its share (it finished past
    /// the deadline): the caller runs that share again, same results.
    struct Late;
    impl SecondCpu for Late {
        fn beside(&mut self, ours: &mut dyn FnMut(), theirs: &(dyn Fn() + Sync)) -> bool {
            theirs();
            ours();
            false
        }
    }

    /// Region 0 (0x1000 bytes) resumed from a 1 KiB prefix and cut 0x800
    /// bytes in, as the kernel cuts the kernel segment for two CPUs.
    fn cut_setup() -> (FakeMem, Params) {
        let (mem, mut p) = setup();
        p.flags = FLAG_PER_REGION;
        let header = [0x5au8; 1024];
        let mut h = Sha256::new();
        h.update(header);
        p.region_prefixes[0] = RegionPrefix::capture(&h).unwrap();
        let region = mem.slice(p.regions[0]).to_vec();
        h.update(&region[..0x800]);
        p.region_cuts[0] = RegionPrefix::capture(&h).unwrap();
        h.update(&region[0x800..]);
        p.region_digests[0] = h.finalize();
        (mem, p)
    }

    #[test]
    fn a_cut_region_is_checked_in_two_pieces_on_two_cpus() {
        let (mut mem, p) = cut_setup();
        let (pieces, n) = split::pieces(&p, RegionHash::Sha256).unwrap();
        assert_eq!(n, 4, "region 0 in two pieces, regions 1 and 2 whole");
        assert_eq!((pieces[0].bytes.len, pieces[1].bytes.start), (0x800, p.regions[0].start + 0x800));
        let (cpu, load) = split::share(&pieces[..n]);
        assert_eq!(load, [0x800 + 0x400, 0x800 + 0x33], "{:?}", &cpu[..n]);
        let mut two = Thread { ran: 0 };
        let mut o = Out::default();
        assert_eq!(verify_on(&p, &mem, &mut o, clock(), &mut two), Decision::Boot, "{}", o.text());
        assert_eq!(two.ran, 1);
        assert!(o.text().contains("purgatory: second CPU checked 2099 of 5171 bytes\n"), "{}", o.text());
        // On one CPU, or with a second given up on: the same verdict, no such line.
        for one in [&mut OneCpu as &mut dyn SecondCpu, &mut Late] {
            let mut o = Out::default();
            assert_eq!(verify_on(&p, &mem, &mut o, clock(), one), Decision::Boot, "{}", o.text());
            assert!(!o.text().contains("second CPU"), "{}", o.text());
        }
        // A byte before the cut and a byte after it: each is caught, on either CPU.
        for at in [0x100, 0x100 + 0x7ff, 0x100 + 0x800, 0x100 + 0xfff] {
            mem.bytes[at] ^= 1;
            for (cpus_two, cpus) in [(true, &mut Thread { ran: 0 } as &mut dyn SecondCpu), (false, &mut OneCpu), (false, &mut Late)] {
                let mut o = Out::default();
                assert_eq!(verify_on(&p, &mem, &mut o, clock(), cpus), Decision::Refuse, "byte {at:#x}");
                assert!(o.text().contains("purgatory: sha256 mismatch in segment 0 (start 0x80000100, len 0x1000)\n"), "{}", o.text());
                assert_eq!(o.text().contains("purgatory: second CPU checked 2099 of 5171 bytes\n"), cpus_two, "{}", o.text());
                assert!(!o.text().contains("segment 1") && !o.text().contains("segment 2"), "{}", o.text());
            }
            mem.bytes[at] ^= 1;
        }
    }

    /// A second CPU that says it ran its share but did not: a piece nobody
    /// checked is not a match.
    struct Liar;
    impl SecondCpu for Liar {
        fn beside(&mut self, ours: &mut dyn FnMut(), _: &(dyn Fn() + Sync)) -> bool {
            ours();
            true
        }
    }

    #[test]
    fn a_piece_nobody_checked_refuses_the_boot() {
        let (mem, p) = cut_setup();
        let mut o = Out::default();
        assert_eq!(verify_on(&p, &mem, &mut o, clock(), &mut Liar), Decision::Refuse, "{}", o.text());
        // The second CPU's share: region 0's second piece and region 1.
        assert!(o.text().contains("mismatch in segment 0 ") && o.text().contains("mismatch in segment 1 "), "{}", o.text());
        assert!(!o.text().contains("mismatch in segment 2 "), "{}", o.text());
    }

    #[test]
    fn a_cut_that_cannot_be_checked_is_refused_before_hashing() {
        let (_, p) = cut_setup();
        let prefix = p.region_prefixes[0];
        let at = |blocks: u64| RegionPrefix { blocks, ..p.region_cuts[0] };
        // At the prefix (nothing before the cut), at the region's end, past
        // it, before the prefix; and any cut with XXH64.
        for (cut, flags) in [
            (at(prefix.blocks), p.flags),
            (at(prefix.blocks + 0x1000 / 64), p.flags),
            (at(prefix.blocks + 0x2000 / 64), p.flags),
            (at(prefix.blocks - 1), p.flags),
            (p.region_cuts[0], p.flags | purgatory_abi::FLAG_XXH64),
        ] {
            let mut q = p.clone();
            q.region_cuts[0] = cut;
            q.flags = flags;
            if flags & purgatory_abi::FLAG_XXH64 != 0 {
                q.region_prefixes[0] = RegionPrefix::NONE;
            }
            let mut o = Out::default();
            assert_eq!(verify_on(&q, &NoMem, &mut o, clock(), &mut Thread { ran: 0 }), Decision::Refuse, "{cut:?}");
            assert!(o.text().contains("cannot check, in segment 0 (start 0x80000100, len 0x1000)\n"), "{}", o.text());
            assert!(o.text().ends_with(&format!("{REFUSE_UNCHECKABLE}\n")), "{}", o.text());
        }
        // A cut with a wrong state is a mismatch, not a refusal of the parameters.
        let (mem, mut q) = cut_setup();
        q.region_cuts[0].state[3] ^= 1;
        let mut o = Out::default();
        assert_eq!(verify_on(&q, &mem, &mut o, clock(), &mut Thread { ran: 0 }), Decision::Refuse);
        assert!(o.text().contains("purgatory: sha256 mismatch in segment 0"), "{}", o.text());
    }

    #[test]
    fn the_longest_pieces_are_shared_first() {
        let piece = |len: u64| split::Piece {
            slot: 0,
            bytes: ShaRegion { start: 0x1000, len },
            from: RegionPrefix::NONE,
            expect: split::Expect::Slot(NO_DIGEST),
        };
        // The Debian kernel cut in two beside its initrd and boot_params.
        let p = [piece(7_000), piece(6_500), piece(2_000), piece(16)];
        let (cpu, load) = split::share(&p);
        assert_eq!((&cpu[..4], load), (&[0, 1, 1, 0][..], [7_016, 8_500]));
        // Nothing to share: all on this CPU.
        assert_eq!(split::share(&p[..1]).1, [7_000, 0]);
        assert_eq!(split::share(&[]).1, [0, 0]);
    }

    /// With either function (SHA-256 slots, or XXH64's with FLAG_XXH64).
    #[test]
    fn per_region_mode_names_every_bad_segment() {
        for hash in RegionHash::ALL {
            let (mut mem, mut p) = if hash == RegionHash::Xxh64 { xxh64_setup() } else { setup() };
            p.flags |= FLAG_PER_REGION;
            mem.bytes[0x100] ^= 1;
            mem.bytes[0x2032] ^= 1;
            let mut o = Out::default();
            assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Refuse);
            let name = hash.name();
            assert_eq!(
                o.text(),
                format!(
                    "purgatory: verifying 3 regions (6 KiB)\n\
                     purgatory: {name} mismatch in segment 0 (start 0x80000100, len 0x1000)\n\
                     purgatory: {name} mismatch in segment 1 (start 0x80002000, len 0x33)\n\
                     {REFUSE_MISMATCH}\n"
                )
            );
        }
    }

    #[test]
    fn per_region_mode_needs_every_digest() {
        let (_, mut p) = setup();
        p.flags = FLAG_PER_REGION;
        p.region_digests[2] = NO_DIGEST;
        let mut o = Out::default();
        assert_eq!(verify(&p, &NoMem, &mut o, clock()), Decision::Refuse);
        assert_eq!(
            o.text(),
            format!(
                "purgatory: verifying 3 regions (6 KiB)\n\
                 purgatory: no sha256 for segment 2 (start 0x80003000, len 0x400)\n\
                 {REFUSE_UNCHECKABLE}\n"
            )
        );
    }

    /// FLAG_XXH64: the slots are the regions' XXH64 images; one pass, the
    /// `xxh64` lines, every bad segment named (per_region_mode_names_every_bad_segment),
    /// SHA-256 slots refused.
    fn xxh64_setup() -> (FakeMem, Params) {
        let (mem, mut p) = setup();
        p.flags = FLAG_PER_REGION | purgatory_abi::FLAG_XXH64;
        for i in 0..3 {
            let mut h = RegionHasher::new(RegionHash::Xxh64);
            h.update(mem.slice(p.regions[i]));
            p.region_digests[i] = h.finalize();
        }
        (mem, p)
    }

    #[test]
    fn xxh64_mode_boots_on_one_pass() {
        let (mem, p) = xxh64_setup();
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Boot);
        assert_eq!(
            o.text(),
            "purgatory: verifying 3 regions (6 KiB)\n\
             purgatory: hashed 5171 bytes in 500 cycles (xxh64)\n\
             purgatory: xxh64 ok, entering kernel at 0x1000200\n"
        );
        assert_eq!(mem.reads.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn xxh64_mode_refuses_sha256_slots_and_prefixes() {
        let (mem, mut p) = setup();
        p.flags = FLAG_PER_REGION | purgatory_abi::FLAG_XXH64;
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Refuse, "SHA-256 slots read as XXH64");
        assert!(o.text().contains("purgatory: xxh64 mismatch in segment 1"), "{}", o.text());

        let (_, mut p) = xxh64_setup();
        p.region_prefixes[1] = RegionPrefix { state: [1; 8], blocks: 2 };
        p.region_digests[2] = NO_DIGEST;
        let mut o = Out::default();
        assert_eq!(verify(&p, &NoMem, &mut o, clock()), Decision::Refuse);
        assert_eq!(
            o.text(),
            format!(
                "purgatory: verifying 3 regions (6 KiB)\n\
                 purgatory: a sha256 prefix with xxh64 for segment 1 (start 0x80002000, len 0x33)\n\
                 purgatory: no xxh64 for segment 2 (start 0x80003000, len 0x400)\n\
                 {REFUSE_UNCHECKABLE}\n"
            )
        );
    }

    #[test]
    fn xxh64_needs_per_region_mode() {
        let (mem, mut p) = setup();
        p.flags = purgatory_abi::FLAG_XXH64;
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Boot, "total mode: SHA-256");
        assert!(o.text().contains("purgatory: sha256 ok"), "{}", o.text());
    }

    #[test]
    fn skip_wins_over_per_region() {
        let (_, mut p) = setup();
        p.flags = FLAG_NO_VERIFY | FLAG_PER_REGION;
        let mut o = Out::default();
        assert_eq!(verify(&p, &NoMem, &mut o, clock()), Decision::Boot);
        assert!(o.text().contains("verification skipped (flags 0x3)"));
    }

    #[test]
    fn corrupted_segment_is_named_and_refused() {
        let (mut mem, p) = setup();
        // Flip one byte inside region 1 after the digests were taken.
        mem.bytes[0x2010] ^= 0x40;
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Refuse);
        let text = o.text();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "purgatory: verifying 3 regions (6 KiB)");
        assert!(lines[1].starts_with("purgatory: expected sha256 "));
        assert!(lines[2].starts_with("purgatory: computed sha256 "));
        assert_eq!(lines[1].len(), "purgatory: expected sha256 ".len() + 64);
        assert_eq!(
            &lines[3..],
            [
                "purgatory: sha256 mismatch in segment 1 (start 0x80002000, len 0x33)",
                REFUSE_MISMATCH,
            ]
        );
        assert!(!text.contains("entering kernel"));
    }

    #[test]
    fn every_bad_segment_is_named() {
        let (mut mem, p) = setup();
        mem.bytes[0x100] ^= 1;
        mem.bytes[0x33ff] ^= 1;
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Refuse);
        let text = o.text();
        assert!(text.contains("mismatch in segment 0 (start 0x80000100, len 0x1000)\n"));
        assert!(!text.contains("segment 1 "));
        assert!(text.contains("mismatch in segment 2 (start 0x80003000, len 0x400)\n"));
        assert!(text.ends_with(&format!("{REFUSE_MISMATCH}\n")));
    }

    #[test]
    fn segments_without_digest_are_not_accused() {
        let (mut mem, mut p) = setup();
        mem.bytes[0x100] ^= 1; // region 0 is bad...
        p.region_digests[0] = NO_DIGEST; // ...but has no digest of its own
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Refuse);
        let text = o.text();
        assert!(!text.contains("mismatch in segment"));
        assert!(text.contains("every provided per-segment digest matches"));
        assert!(text.ends_with(&format!("{REFUSE_MISMATCH}\n")));
    }

    #[test]
    fn no_per_segment_digests_at_all() {
        let (mut mem, mut p) = setup();
        mem.bytes[0x3000] ^= 1;
        p.region_digests = [NO_DIGEST; MAX_REGIONS];
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Refuse);
        let text = o.text();
        assert!(
            text.contains("no per-segment digests provided, cannot tell which segment is bad\n")
        );
        assert!(text.ends_with(&format!("{REFUSE_MISMATCH}\n")));
    }

    #[test]
    fn wrong_expected_total_with_good_segments() {
        let (mem, mut p) = setup();
        p.digest[31] ^= 1;
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Refuse);
        assert!(o
            .text()
            .contains("every provided per-segment digest matches"));
    }

    #[test]
    fn region_order_matters() {
        let (mem, mut p) = setup();
        p.regions.swap(0, 2);
        p.region_digests.swap(0, 2);
        let mut o = Out::default();
        assert_eq!(verify(&p, &mem, &mut o, clock()), Decision::Refuse);
        // Each region is intact on its own.
        assert!(o
            .text()
            .contains("every provided per-segment digest matches"));
    }

    #[test]
    fn bad_region_is_refused_before_hashing() {
        let (_, mut p) = setup();
        p.regions[4] = ShaRegion {
            start: u64::MAX,
            len: 2,
        };
        let mut o = Out::default();
        assert_eq!(verify(&p, &NoMem, &mut o, clock()), Decision::Refuse);
        assert_eq!(
            o.text(),
            format!(
                "purgatory: bad region 4 (start 0xffffffffffffffff, len 0x2): beyond the address space\n\
                 {REFUSE_UNCHECKABLE}\n"
            )
        );
    }

    #[test]
    fn region_check_decisions() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_eq!(region_check(&NO_DIGEST, &a), RegionCheck::NotProvided);
        assert_eq!(region_check(&a, &a), RegionCheck::Match);
        assert_eq!(region_check(&a, &b), RegionCheck::Mismatch);
    }
}
