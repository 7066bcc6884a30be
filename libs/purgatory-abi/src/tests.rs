use super::*;

#[test]
fn contract_sizes() {
    let sizes: Vec<_> = PATCHABLE_SYMBOLS.iter().map(|s| s.size).collect();
    assert_eq!(sizes, [256, 32, 512, 640, 640, 136, 2, 8, 16, 8]);
    assert_eq!(EntryRegs::ZERO.to_bytes().len(), 136);
    assert_eq!(
        ShaRegion::table_to_bytes(&[ShaRegion::EMPTY; MAX_REGIONS]).len(),
        256
    );
    assert_eq!(
        region_digests_to_bytes(&[NO_DIGEST; MAX_REGIONS]).len(),
        512
    );
}

#[test]
fn region_prefix_images_round_trip() {
    let p = RegionPrefix { state: [1, 2, 3, 0xdead_beef, 5, 6, 7, 8], blocks: 0x0102_0304_0506 };
    let b = p.to_bytes();
    assert_eq!(b[12..16], 0xdead_beefu32.to_le_bytes());
    assert_eq!(b[32..], 0x0102_0304_0506u64.to_le_bytes());
    assert_eq!(RegionPrefix::from_bytes(&b), p);
    let mut table = [RegionPrefix::NONE; MAX_REGIONS];
    table[3] = p;
    let img = RegionPrefix::table_to_bytes(&table);
    assert!(img[..120].iter().all(|&x| x == 0));
    assert_eq!(RegionPrefix::table_from_bytes(&img), table);
}

#[test]
fn names_are_linux_and_kexos_names() {
    let names: Vec<_> = PATCHABLE_SYMBOLS.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "purgatory_sha_regions",
            "purgatory_sha256_digest",
            "purgatory_region_digests",
            "purgatory_region_prefixes",
            "purgatory_region_cuts",
            "entry64_regs",
            "purgatory_serial_port",
            "purgatory_flags",
            "purgatory_timing",
            "purgatory_second_cpu",
        ]
    );
    assert_eq!(ENTRY_SYMBOL, "purgatory_start");
    assert_eq!(STACK_END_SYMBOL, "stack_end");
    for (i, a) in names.iter().enumerate() {
        assert!(!names[i + 1..].contains(a), "{a} twice");
        assert!(![ENTRY_SYMBOL, STACK_END_SYMBOL].contains(a));
    }
    assert_eq!((FLAG_NO_VERIFY, FLAG_PER_REGION), (1, 2));
}

#[test]
fn byte_encodings_are_little_endian_in_field_order() {
    let mut t = [ShaRegion::EMPTY; MAX_REGIONS];
    t[1] = ShaRegion {
        start: 0x1122_3344_5566_7788,
        len: 0x99,
    };
    let b = ShaRegion::table_to_bytes(&t);
    assert_eq!(&b[16..24], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(&b[24..32], &0x99u64.to_le_bytes());
    assert!(b[..16].iter().chain(&b[32..]).all(|&x| x == 0));
    assert_eq!(ShaRegion::table_from_bytes(&b), t);

    let regs = EntryRegs {
        rsi: 0x9000,
        rip: 0x100_0200,
        rsp: 5,
        ..EntryRegs::ZERO
    };
    let b = regs.to_bytes();
    let at = |off: usize| &b[off..off + 8];
    assert_eq!(at(entry_regs_offset::RSI), &0x9000u64.to_le_bytes());
    assert_eq!(&b[entry_regs_offset::RIP..], &0x100_0200u64.to_le_bytes());
    assert_eq!(at(entry_regs_offset::RSP), &5u64.to_le_bytes());
    assert_eq!(EntryRegs::from_bytes(&b), regs);
}

/// Every field lands at its `entry_regs_offset`, which is also its offset in
/// the repr(C) struct (checked at compile time in regs.rs): the byte image
/// is the in-memory layout the purgatory reads.
#[test]
fn entry_regs_image_matches_the_offsets() {
    let regs = EntryRegs {
        rax: 1,
        rcx: 2,
        rdx: 3,
        rbx: 4,
        rsp: 5,
        rbp: 6,
        rsi: 7,
        rdi: 8,
        r8: 9,
        r9: 10,
        r10: 11,
        r11: 12,
        r12: 13,
        r13: 14,
        r14: 15,
        r15: 16,
        rip: 17,
    };
    use entry_regs_offset::*;
    let offsets = [
        RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15, RIP,
    ];
    let b = regs.to_bytes();
    for (i, off) in offsets.into_iter().enumerate() {
        assert_eq!(
            b[off..off + 8],
            (i as u64 + 1).to_le_bytes(),
            "offset {off}"
        );
    }
    assert_eq!(EntryRegs::from_bytes(&b), regs);
    assert_eq!(EntryRegs::default(), EntryRegs::ZERO);
}

#[test]
fn region_digest_table_is_slot_ordered() {
    let mut d = [NO_DIGEST; MAX_REGIONS];
    d[3] = [0xab; 32];
    let b = region_digests_to_bytes(&d);
    assert!(b[96..128].iter().all(|&x| x == 0xab));
    assert!(b[..96].iter().chain(&b[128..]).all(|&x| x == 0));
}

#[test]
fn gnu_as_definition() {
    let mut s = String::new();
    FLAGS.write_gnu_as(&mut s).unwrap();
    assert_eq!(
        s,
        "    .globl purgatory_flags\n    .type purgatory_flags, @object\n    \
         .size purgatory_flags, 8\npurgatory_flags: .zero 8\n"
    );
}

#[test]
fn region_hash_flags_and_names() {
    assert_eq!(RegionHash::from_flags(0), RegionHash::Sha256);
    assert_eq!(RegionHash::from_flags(FLAG_XXH64), RegionHash::Sha256, "XXH64 needs per-region mode");
    assert_eq!(RegionHash::from_flags(FLAG_PER_REGION | FLAG_XXH64), RegionHash::Xxh64);
    assert_eq!(RegionHash::from_flags(FLAG_PER_REGION | FLAG_SHA_NI), RegionHash::Sha256);
    assert_eq!(RegionHash::from_name("md5"), None);
    for h in RegionHash::ALL {
        assert_eq!(RegionHash::from_name(h.name()), Some(h));
        assert_eq!(RegionHash::from_flags(FLAG_PER_REGION | h.flag()), h);
        assert_eq!(h.ok_line(), format!("purgatory: {} ok", h.name()));
    }
    assert_eq!(FLAG_XXH64 & (FLAG_NO_VERIFY | FLAG_PER_REGION | FLAG_SHA_NI), 0);
}

#[test]
fn block_function_flags_round_trip() {
    use sha256::Backend::{Portable, ShaNi, Sse2};
    for b in [Portable, Sse2, ShaNi] {
        assert_eq!(block_function(block_function_flags(b)), b);
        assert_eq!(block_function(block_function_flags(b) | FLAG_PER_REGION | FLAG_XXH64), b);
        assert_eq!(block_function_flags(b) & (FLAG_NO_VERIFY | FLAG_PER_REGION | FLAG_XXH64), 0);
    }
    assert_eq!(block_function(FLAG_SHA_NI), Portable, "SHA-NI needs SSE");
    let bits = [FLAG_NO_VERIFY, FLAG_PER_REGION, FLAG_SHA_NI, FLAG_XXH64, FLAG_SSE2];
    assert_eq!(bits.iter().fold(0, |a, b| a | b).count_ones(), 5, "every flag its own bit");
}
