//! Hostile purgatory objects: every truncation of a real ET_REL (assembled
//! by `as`) is an error, and random byte flips never panic (goblin parses
//! it; the relocation pass bounds-checks every section and offset).

use super::*;
use crate::entry::tests::Rng;
use crate::testutil::purgatory;
use crate::{KimageKind, PhysRange};
use abi::Errno;

const MIB: u64 = 1 << 20;

fn view() -> MemoryView {
    MemoryView::new([PhysRange::new(MIB, 64 * MIB)], &[])
}

/// Load `obj` anywhere above 0x3000, top down (the one call of the loader).
fn load<'a>(k: &mut Kimage<'a>, v: &MemoryView, obj: &[u8]) -> Result<PhysAddr, KexecError> {
    let place = KexecBuf::new("purgatory", SegmentBuf::Borrowed(&[]), 0)
        .min(0x3000)
        .top_down(true);
    kexec_load_purgatory(k, v, obj, place)
}

#[test]
fn every_truncation_is_an_error_and_leaves_no_segment() {
    let obj = purgatory();
    let v = view();
    let mut k = Kimage::new(KimageKind::Normal);
    load(&mut k, &v, &obj).unwrap();
    for cut in 0..obj.len() {
        let mut k = Kimage::new(KimageKind::Normal);
        let e =
            load(&mut k, &v, &obj[..cut]).expect_err(&format!("prefix of {cut} bytes accepted"));
        let want = if cut == 0 {
            Errno::EINVAL
        } else {
            Errno::ENOEXEC
        };
        assert_eq!(e.errno(), want, "{cut}: {e}");
        assert!(k.segments().is_empty(), "{cut}");
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let seed = purgatory();
    let v = view();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut loaded = 0;
    for _ in 0..3000 {
        let mut obj = seed.clone();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(obj.len() as u64) as usize;
            obj[at] ^= 1 << rng.below(8);
        }
        let mut k = Kimage::new(KimageKind::Normal);
        match load(&mut k, &v, &obj) {
            Ok(_) => {
                loaded += 1;
                // Symbol access on what loaded is bounds checked too.
                let sym = purgatory_abi::ENTRY64_REGS;
                let _ = k.purgatory_get_symbol(sym.name, sym.size);
            }
            Err(_) => assert!(k.segments().is_empty()),
        }
    }
    println!("{loaded} of 3000 mutants loaded");
}
