//! The kernel <-> purgatory contract, written down once.
//!
//! The purgatory (purgatory/) is one ET_REL x86_64 object that runs between
//! the old kernel's `relocate_kernel` and the next kernel. The kernel
//! (kexec-core's `kexec_load_purgatory`) places and relocates it, then
//! patches its parameters into named `.data` symbols, the way Linux's
//! `kexec_purgatory_get_set_symbol` does: a patched symbol must be
//! `STB_GLOBAL`, defined in a section with file bytes (not `SHT_NOBITS`), and
//! its `st_size` must equal the number of bytes written. `relocate_kernel`
//! finally jumps to [`ENTRY_SYMBOL`] with the registers described in
//! purgatory/src/entry.s.
//!
//! Everything both sides must agree on is here: every symbol name, every
//! exact size ([`PATCHABLE_SYMBOLS`]), the table layouts ([`ShaRegion`],
//! [`EntryRegs`]), the [flags](FLAG_NO_VERIFY) and the little-endian byte
//! images the kernel writes. The kernel side (libs/kexec-core), the
//! bare-metal purgatory and its host-tested core (purgatory/, purgatory/core)
//! and the build check that verifies the produced object (xtask) all use
//! these definitions; the documentation points here.
//!
//! # The tables
//!
//! Slot `i` of [`SHA_REGIONS`] and of [`REGION_DIGESTS`] describes kexec
//! segment `i` (the kernel has at most [`MAX_REGIONS`] segments, Linux's
//! `KEXEC_SEGMENT_MAX`). A slot whose [`ShaRegion::len`] is 0 is skipped, not a
//! terminator: a segment that is not checksummed (the purgatory itself) or
//! does not exist leaves its slot all zero, and later slots still count.
//! `ShaRegion { start: mem, len: bufsz }` covers the segment's data only:
//! kexos does not hash the zero tail beyond `bufsz` (relocate_kernel zeroes
//! it, and Linux's purgatory would spend tens of milliseconds hashing zeros).
//!
//! # Two verification modes
//!
//! - Total (Linux's purgatory, [`FLAG_PER_REGION`] clear):
//!   [`SHA256_DIGEST`] is the SHA-256 of the concatenated data of the
//!   non-empty regions, in slot order. After a mismatch the purgatory hashes
//!   each region that has a [`REGION_DIGESTS`] entry on its own, to name the
//!   bad segment.
//! - Per region ([`FLAG_PER_REGION`] set): every non-empty region is checked
//!   against its own [`REGION_DIGESTS`] entry (one SHA-256 pass on each side,
//!   and every bad segment is named); [`SHA256_DIGEST`] is ignored. A
//!   non-empty region without a digest is a refusal. A region's SHA-256
//!   starts from its [`REGION_PREFIXES`] entry when the object has that
//!   table and the entry is not [`RegionPrefix::NONE`]: the state after
//!   the bytes of the file that come before the region (the kernel hashed
//!   the whole file once, for IMA), so the digest is the file's. A region
//!   with a [`REGION_CUTS`] entry is checked in two pieces that two CPUs
//!   can share (see there and [`SECOND_CPU`]).
//!
//! The kernel chooses: when the object defines [`FLAGS`] (kexos's purgatory
//! does) it sets [`FLAG_PER_REGION`] and fills [`REGION_DIGESTS`], leaving
//! [`SHA256_DIGEST`] zero; a purgatory without [`FLAGS`] (Linux-style) gets
//! the total digest only.
//!
//! # Which digest
//!
//! SHA-256 unless [`FLAG_XXH64`] is set (per-region mode only): then every
//! [`REGION_DIGESTS`] slot is [`RegionHash::Xxh64`]'s image of the region
//! (see [`xxh64_slot`]) and no slot has a prefix. XXH64 is not
//! cryptographic: it finds what the check is for (Linux: memory corrupted
//! between the load and the jump, by DMA or a crashing kernel), not a
//! forgery by someone who can write the digests too. kexos uses it only when
//! the caller of kexec_file_load asks (`KEXEC_FILE_XXH64_DIGEST`).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

mod regs;

pub use regs::{entry_regs_offset, EntryRegs};

/// Number of slots of the region table and of the per-region digest table
/// (Linux's `KEXEC_SEGMENT_MAX`).
pub const MAX_REGIONS: usize = 16;

/// A SHA-256 digest.
pub type Sha256Digest = [u8; SHA256_DIGEST_SIZE];

/// Bytes of one SHA-256 digest.
pub const SHA256_DIGEST_SIZE: usize = 32;

/// The "not provided" value of a [`REGION_DIGESTS`] slot.
pub const NO_DIGEST: Sha256Digest = [0; SHA256_DIGEST_SIZE];

/// [`FLAGS`] bit 0: skip verification and enter the next kernel
/// (kexec-tools' `--no-checks`). Wins over every other bit.
pub const FLAG_NO_VERIFY: u64 = 1 << 0;

/// [`FLAGS`] bit 1: per-region mode (see the crate documentation).
pub const FLAG_PER_REGION: u64 = 1 << 1;

/// [`FLAGS`] bit 2, with [`FLAG_SSE2`]: the loading kernel hashed with
/// SHA-NI (libs/sha256), so the purgatory does too if CPUID has it, else
/// with the SSE2 block function. See [`block_function`].
pub const FLAG_SHA_NI: u64 = 1 << 2;

/// [`FLAGS`] bit 3, with [`FLAG_PER_REGION`]: the region digests are XXH64,
/// not SHA-256 ([`RegionHash::Xxh64`]).
pub const FLAG_XXH64: u64 = 1 << 3;

/// [`FLAGS`] bit 4: the loading kernel hashed with an SSE block function
/// (SSE2, or SHA-NI with [`FLAG_SHA_NI`]), so the purgatory may too: it
/// enables SSE itself (CR4.OSFXSR) and restores CR4 before entering the
/// next kernel. Clear (`clearcpuid=sse2`): the portable block function.
/// Other bits are reserved and ignored.
pub const FLAG_SSE2: u64 = 1 << 4;

/// The block-function bits of [`FLAGS`] for a kernel that hashes with
/// `b`; the inverse of [`block_function`].
#[cfg(any(test, feature = "hash"))]
pub const fn block_function_flags(b: sha256::Backend) -> u64 {
    match b {
        sha256::Backend::Portable => 0,
        sha256::Backend::Sse2 => FLAG_SSE2,
        sha256::Backend::ShaNi => FLAG_SSE2 | FLAG_SHA_NI,
    }
}

/// The block function a purgatory with these [`FLAGS`] asks for: the
/// loading kernel's ([`block_function_flags`]), which `use_backend` then
/// takes as far as the CPU has it. [`FLAG_SHA_NI`] alone (no
/// [`FLAG_SSE2`]) is not a combination the kernel writes: portable.
#[cfg(any(test, feature = "hash"))]
pub const fn block_function(flags: u64) -> sha256::Backend {
    match (flags & FLAG_SSE2 != 0, flags & FLAG_SHA_NI != 0) {
        (false, _) => sha256::Backend::Portable,
        (true, false) => sha256::Backend::Sse2,
        (true, true) => sha256::Backend::ShaNi,
    }
}

/// The function a [`REGION_DIGESTS`] slot holds the value of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RegionHash {
    /// SHA-256 (FIPS 180-4), the slot is the digest: Linux's, the default.
    #[default]
    Sha256,
    /// XXH64 with seed 0 (the xxHash specification), the slot is
    /// [`xxh64_slot`]: a few instructions per 8 bytes where SHA-256 takes
    /// about 53 per byte (22 times faster in purgatory under TCG); not
    /// cryptographic.
    Xxh64,
}

impl RegionHash {
    /// Every function, the default first.
    pub const ALL: [RegionHash; 2] = [RegionHash::Sha256, RegionHash::Xxh64];

    /// The function `kexec --digest=<name>` names.
    pub fn from_name(name: &str) -> Option<RegionHash> {
        RegionHash::ALL.into_iter().find(|h| h.name() == name)
    }

    /// The name purgatory prints (`purgatory: <name> ok`) and `kexec
    /// --digest=` takes.
    pub const fn name(self) -> &'static str {
        match self {
            RegionHash::Sha256 => "sha256",
            RegionHash::Xxh64 => "xxh64",
        }
    }

    /// Which function a purgatory with these [`FLAGS`] checks: XXH64 only in
    /// per-region mode.
    pub const fn from_flags(flags: u64) -> RegionHash {
        if flags & FLAG_PER_REGION != 0 && flags & FLAG_XXH64 != 0 {
            RegionHash::Xxh64
        } else {
            RegionHash::Sha256
        }
    }

    /// The [`FLAG_XXH64`] bit for this function.
    pub const fn flag(self) -> u64 {
        match self {
            RegionHash::Sha256 => 0,
            RegionHash::Xxh64 => FLAG_XXH64,
        }
    }

    /// The line purgatory prints when every region matches, up to `, entering
    /// kernel at 0x...`.
    pub const fn ok_line(self) -> &'static str {
        match self {
            RegionHash::Sha256 => "purgatory: sha256 ok",
            RegionHash::Xxh64 => "purgatory: xxh64 ok",
        }
    }
}

/// Purgatory's last line when a region's digest differs from what is in memory (then it
/// halts: the next kernel never starts).
pub const REFUSE_MISMATCH: &str = "purgatory: digest mismatch, refusing to boot";

/// Purgatory's last line when its parameters cannot check every region (a region beyond the
/// address space, a region without a digest, or a SHA-256 prefix with another function):
/// nothing was hashed, and it halts.
pub const REFUSE_UNCHECKABLE: &str = "purgatory: these parameters cannot check every segment, refusing to boot";

/// The tag that fills an XXH64 slot after the value, so that no XXH64 slot
/// is [`NO_DIGEST`] (whatever the value) and a memory dump says what it is.
pub const XXH64_SLOT_TAG: [u8; 24] = *b"xxh64 region digest\0\0\0\0\0";

/// A [`REGION_DIGESTS`] slot holding an XXH64 value: the value little
/// endian, then [`XXH64_SLOT_TAG`].
pub const fn xxh64_slot(value: u64) -> Sha256Digest {
    let mut out = [0u8; SHA256_DIGEST_SIZE];
    let v = value.to_le_bytes();
    let mut i = 0;
    while i < 8 {
        out[i] = v[i];
        i += 1;
    }
    while i < SHA256_DIGEST_SIZE {
        out[i] = XXH64_SLOT_TAG[i - 8];
        i += 1;
    }
    out
}

/// The purgatory's entry point: a `STB_GLOBAL` `STT_FUNC` at offset 0 of the
/// object's first executable section, which is also `e_entry` (0).
pub const ENTRY_SYMBOL: &str = "purgatory_start";

/// Optional, never patched: the top of a Linux purgatory's own stack. When
/// the object defines it, the kernel puts its address in
/// [`EntryRegs::rsp`]; otherwise `rsp` stays 0, which kexos's purgatory reads
/// as "keep my stack" (kexos's purgatory does not define it).
pub const STACK_END_SYMBOL: &str = "stack_end";

/// A `.data` object the kernel may patch: its name and exact `st_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatchableSymbol {
    /// The ELF symbol name.
    pub name: &'static str,
    /// Its exact `st_size` in bytes.
    pub size: usize,
}

/// `[ShaRegion; MAX_REGIONS]` (256 bytes): slot `i` = segment `i`'s data,
/// `{start: mem, len: bufsz}`, physical; `len == 0` = skipped. Encoded by
/// [`ShaRegion::table_to_bytes`].
pub const SHA_REGIONS: PatchableSymbol = PatchableSymbol {
    name: "purgatory_sha_regions",
    size: REGION_TABLE_SIZE,
};

/// `[u8; 32]`: SHA-256 over the concatenated data of the non-empty regions,
/// in slot order (total mode); zero and ignored in per-region mode.
pub const SHA256_DIGEST: PatchableSymbol = PatchableSymbol {
    name: "purgatory_sha256_digest",
    size: SHA256_DIGEST_SIZE,
};

/// `[[u8; 32]; MAX_REGIONS]` (512 bytes): slot `i` = SHA-256 of region `i`,
/// resumed from its [`REGION_PREFIXES`] entry if it has one (else of the
/// region alone), or with [`FLAG_XXH64`] the [`xxh64_slot`] of region `i`;
/// [`NO_DIGEST`] = not provided. Encoded by [`region_digests_to_bytes`].
pub const REGION_DIGESTS: PatchableSymbol = PatchableSymbol {
    name: "purgatory_region_digests",
    size: REGION_DIGEST_TABLE_SIZE,
};

/// [`EntryRegs`] (136 bytes, Linux's `struct kexec_entry64_regs`): the
/// registers the purgatory loads before `jmp *rip`. The kernel sets
/// `rip` = the next kernel's 64-bit entry, `rsi` = boot_params, `rbx` = 0 and
/// `rsp` as [`STACK_END_SYMBOL`] says.
pub const ENTRY64_REGS: PatchableSymbol = PatchableSymbol {
    name: "entry64_regs",
    size: EntryRegs::SIZE,
};

/// `u16`: I/O port of a 16550 UART the previous kernel initialised
/// (kexos's purgatory defaults to 0x3f8 and only polls and writes it);
/// 0 = silent. The kexos kernel leaves the default.
pub const SERIAL_PORT: PatchableSymbol = PatchableSymbol {
    name: "purgatory_serial_port",
    size: 2,
};

/// `u64`, little endian: [`FLAG_NO_VERIFY`], [`FLAG_PER_REGION`], [`FLAG_SHA_NI`],
/// [`FLAG_XXH64`], [`FLAG_SSE2`]. Optional
/// for the kernel: its presence selects per-region mode.
pub const FLAGS: PatchableSymbol = PatchableSymbol {
    name: "purgatory_flags",
    size: 8,
};

/// `[u64; 2]`, little endian: the TSC frequency in kHz and the TSC value
/// when the old kernel jumped to relocate_kernel, so purgatory can say how
/// long the jump (relocate_kernel's copies) and its own verification took:
/// one [`PURGATORY_PHASES`] line. Optional for the kernel; 0 = unknown
/// (nothing is printed for it).
pub const TIMING: PatchableSymbol = PatchableSymbol {
    name: "purgatory_timing",
    size: 16,
};

/// `[RegionPrefix; MAX_REGIONS]` (640 bytes): slot `i` = the SHA-256 state
/// region `i`'s hash starts from, all zero = SHA-256's initial state (a
/// region hashed on its own). Per-region mode only. With a prefix, slot `i`
/// of [`REGION_DIGESTS`] is the digest of some longer byte string that ends
/// with the region, e.g. the whole bzImage file IMA measured, whose last
/// part is the kernel segment: the kernel then reuses IMA's digest instead
/// of hashing the segment again. Encoded by [`RegionPrefix::table_to_bytes`].
pub const REGION_PREFIXES: PatchableSymbol = PatchableSymbol {
    name: "purgatory_region_prefixes",
    size: RegionPrefix::SIZE * MAX_REGIONS,
};

/// `[RegionPrefix; MAX_REGIONS]` (640 bytes), per-region SHA-256 mode
/// only: slot `i` = where region `i` is cut in two, so that two CPUs can
/// check it; all zero = not cut. The entry is the SHA-256 state after the
/// bytes up to the cut, counted like the region's prefix (its `blocks`
/// include the prefix's), so the cut lies `(cut.blocks -
/// prefix.blocks) * 64` bytes into the region, strictly inside it. The
/// bytes before the cut, hashed from the region's prefix, must give this
/// state; the bytes after it, hashed from this state, must give slot `i`
/// of [`REGION_DIGESTS`]. Any other cut is a refusal ([`REFUSE_UNCHECKABLE`]).
/// Encoded by [`RegionPrefix::table_to_bytes`]. Optional for the kernel.
pub const REGION_CUTS: PatchableSymbol = PatchableSymbol {
    name: "purgatory_region_cuts",
    size: RegionPrefix::SIZE * MAX_REGIONS,
};

/// `u64`, little endian: the physical address of a RAM page below 1 MiB
/// that no segment, control page or next-kernel data uses, where purgatory
/// may put the start-up code (libs/ap-boot) for a second CPU to share the
/// check; 0 = one CPU. The kernel sets it only when its own second CPU
/// answered from that page; for a crash image only when the page is RAM in
/// the capture kernel's memory map (below 1 MiB, never in the dump) and the
/// control pages are below 4 GiB. Purgatory then
/// sends the start-up IPIs, and INIT to every other CPU once the check is
/// done, before it enters the next kernel. Optional for the kernel.
pub const SECOND_CPU: PatchableSymbol = PatchableSymbol {
    name: "purgatory_second_cpu",
    size: 8,
};

/// What starts purgatory's timing line: then `relocate_kernel N us, verify
/// N us` (kexec_core::phases reads it).
pub const PURGATORY_PHASES: &str = "purgatory: phases: ";

/// Purgatory's line when a second CPU did part of the check: then `S of T
/// bytes`, S the second CPU's share.
pub const SECOND_CPU_LINE: &str = "purgatory: second CPU checked ";

/// What purgatory prints instead when it gave up on the second CPU (then
/// `did not claim its share within 200 ms` or `did not finish its share in
/// time`, and `: this CPU checks it`); the first CPU checks that share.
pub const SECOND_CPU_GAVE_UP_LINE: &str = "purgatory: the second CPU ";

/// Every symbol the kexos purgatory must define as a `STB_GLOBAL`
/// `STT_OBJECT` with exactly this `st_size`, in a section with file bytes.
pub const PATCHABLE_SYMBOLS: [PatchableSymbol; 10] = [
    SHA_REGIONS,
    SHA256_DIGEST,
    REGION_DIGESTS,
    REGION_PREFIXES,
    REGION_CUTS,
    ENTRY64_REGS,
    SERIAL_PORT,
    FLAGS,
    TIMING,
    SECOND_CPU,
];

/// Bytes of the [`SHA_REGIONS`] table.
pub const REGION_TABLE_SIZE: usize = ShaRegion::SIZE * MAX_REGIONS;

/// Bytes of the [`REGION_DIGESTS`] table.
pub const REGION_DIGEST_TABLE_SIZE: usize = SHA256_DIGEST_SIZE * MAX_REGIONS;

impl PatchableSymbol {
    /// The symbol as GNU `as` data (`.globl`, `.type @object`, `.size`, a
    /// zero-filled label), for assembling objects that follow the contract
    /// (test fixtures of the loader and of the build check).
    pub fn write_gnu_as<W: fmt::Write>(&self, w: &mut W) -> fmt::Result {
        let (name, size) = (self.name, self.size);
        writeln!(w, "    .globl {name}")?;
        writeln!(w, "    .type {name}, @object")?;
        writeln!(w, "    .size {name}, {size}")?;
        writeln!(w, "{name}: .zero {size}")
    }
}

/// One physical range to hash (Linux's `struct kexec_sha_region`).
/// `len == 0` marks a skipped slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShaRegion {
    /// Physical start.
    pub start: u64,
    /// Length in bytes (0 = skipped slot).
    pub len: u64,
}

impl ShaRegion {
    /// A skipped slot.
    pub const EMPTY: ShaRegion = ShaRegion { start: 0, len: 0 };

    /// Bytes of one entry: `start` then `len`, little endian.
    pub const SIZE: usize = 16;

    /// Little-endian image of one entry.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        out[..8].copy_from_slice(&self.start.to_le_bytes());
        out[8..].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Decodes one entry.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> ShaRegion {
        let mut w = [0u64; 2];
        for (word, chunk) in w.iter_mut().zip(b.as_chunks::<8>().0) {
            *word = u64::from_le_bytes(*chunk);
        }
        ShaRegion {
            start: w[0],
            len: w[1],
        }
    }

    /// Little-endian image of a whole table, as patched into [`SHA_REGIONS`].
    pub fn table_to_bytes(table: &[ShaRegion; MAX_REGIONS]) -> [u8; REGION_TABLE_SIZE] {
        let mut out = [0u8; REGION_TABLE_SIZE];
        for (chunk, r) in out
            .as_chunks_mut::<{ Self::SIZE }>()
            .0
            .iter_mut()
            .zip(table)
        {
            *chunk = r.to_bytes();
        }
        out
    }

    /// Decodes a whole [`SHA_REGIONS`] table.
    pub fn table_from_bytes(b: &[u8; REGION_TABLE_SIZE]) -> [ShaRegion; MAX_REGIONS] {
        let mut out = [ShaRegion::EMPTY; MAX_REGIONS];
        for (r, chunk) in out.iter_mut().zip(b.as_chunks::<{ Self::SIZE }>().0) {
            *r = ShaRegion::from_bytes(chunk);
        }
        out
    }
}

/// The [`REGION_DIGESTS`] image: the digests one after the other.
pub fn region_digests_to_bytes(
    digests: &[Sha256Digest; MAX_REGIONS],
) -> [u8; REGION_DIGEST_TABLE_SIZE] {
    let mut out = [0u8; REGION_DIGEST_TABLE_SIZE];
    for (chunk, d) in out
        .as_chunks_mut::<SHA256_DIGEST_SIZE>()
        .0
        .iter_mut()
        .zip(digests)
    {
        *chunk = *d;
    }
    out
}

/// A SHA-256 computation stopped at a block boundary (FIPS 180-4, section
/// 6.2.2: the chaining value `H` after `blocks` 64-byte blocks). The image
/// is `H[0..8]` then `blocks`, little endian: the RustCrypto `sha2` core's
/// own serialization, so the feature `sha2` converts without arithmetic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegionPrefix {
    /// The chaining value.
    pub state: [u32; 8],
    /// 64-byte blocks hashed so far.
    pub blocks: u64,
}

impl RegionPrefix {
    /// No prefix: the region is hashed from SHA-256's initial state.
    pub const NONE: RegionPrefix = RegionPrefix { state: [0; 8], blocks: 0 };

    /// Bytes of one entry.
    pub const SIZE: usize = 40;

    /// Bytes hashed before the region.
    pub fn hashed_bytes(&self) -> u64 {
        self.blocks * 64
    }

    /// Little-endian image of one entry.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        for (chunk, w) in out[..32].as_chunks_mut::<4>().0.iter_mut().zip(self.state) {
            *chunk = w.to_le_bytes();
        }
        out[32..].copy_from_slice(&self.blocks.to_le_bytes());
        out
    }

    /// Decodes one entry.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> RegionPrefix {
        let mut state = [0u32; 8];
        for (w, chunk) in state.iter_mut().zip(b[..32].as_chunks::<4>().0) {
            *w = u32::from_le_bytes(*chunk);
        }
        let mut blocks = [0u8; 8];
        blocks.copy_from_slice(&b[32..]);
        RegionPrefix { state, blocks: u64::from_le_bytes(blocks) }
    }

    /// Little-endian image of a whole table, as patched into [`REGION_PREFIXES`].
    pub fn table_to_bytes(table: &[RegionPrefix; MAX_REGIONS]) -> [u8; Self::SIZE * MAX_REGIONS] {
        let mut out = [0u8; Self::SIZE * MAX_REGIONS];
        for (chunk, p) in out.as_chunks_mut::<{ Self::SIZE }>().0.iter_mut().zip(table) {
            *chunk = p.to_bytes();
        }
        out
    }

    /// Decodes a whole [`REGION_PREFIXES`] table.
    pub fn table_from_bytes(b: &[u8; Self::SIZE * MAX_REGIONS]) -> [RegionPrefix; MAX_REGIONS] {
        let mut out = [RegionPrefix::NONE; MAX_REGIONS];
        for (p, chunk) in out.iter_mut().zip(b.as_chunks::<{ Self::SIZE }>().0) {
            *p = RegionPrefix::from_bytes(chunk);
        }
        out
    }
}

// Also in this crate's own tests (the hashers are dev-dependencies), so
// that `cargo test -p purgatory-abi` alone runs their tests.
#[cfg(any(test, feature = "hash"))]
mod prefix_sha256;
#[cfg(any(test, feature = "hash"))]
mod region_hasher;
#[cfg(any(test, feature = "hash"))]
pub use region_hasher::RegionHasher;

const _: () = assert!(core::mem::size_of::<ShaRegion>() == ShaRegion::SIZE);
const _: () = assert!(core::mem::offset_of!(ShaRegion, start) == 0);
const _: () = assert!(core::mem::offset_of!(ShaRegion, len) == 8);
const _: () = assert!(core::mem::size_of::<[ShaRegion; MAX_REGIONS]>() == REGION_TABLE_SIZE);
const _: () = assert!(REGION_TABLE_SIZE == 256 && REGION_DIGEST_TABLE_SIZE == 512);

#[cfg(test)]
mod tests;
