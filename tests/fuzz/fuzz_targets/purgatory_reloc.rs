//! Purgatory: the input is the ET_REL object the kernel would embed.
//! kexec_load_purgatory lays out its sections, applies its RELA relocations
//! and finds its symbols (placed above 4 GiB, as xtask's build check does,
//! then every purgatory_abi symbol set and read back); then a whole bzImage64
//! plan with it (boot_params, entry registers and digests are written into
//! the purgatory's symbols).
#![no_main]

use kexec_core::purgatory_abi::PATCHABLE_SYMBOLS;
use kexec_core::{
    kexec_load_purgatory, BzImage64, KexecBuf, KexecFileOps, Kimage, KimageKind, MemoryView,
    PhysRange, SegmentBuf,
};
use kexos_fuzz::{run_load, small_bzimage, LoadInput};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    let view = MemoryView::new([PhysRange::new(5 << 30, 6 << 30)], &[]);
    let mut image = Kimage::new(KimageKind::Normal);
    let place = KexecBuf::new("purgatory", SegmentBuf::Borrowed(&[]), 0).min(0x3000).top_down(true);
    match kexec_load_purgatory(&mut image, &view, data, place) {
        Ok(entry) => {
            let seg = &image.segments()[image.purgatory_segment().expect("purgatory segment")];
            let r = seg.dest_range();
            assert!(r.start <= entry.0 && entry.0 < r.end, "entry {entry} outside purgatory {r:?}");
            for s in PATCHABLE_SYMBOLS {
                let bytes = vec![0xa5; s.size];
                if image.purgatory_set_symbol(s.name, &bytes).is_ok() {
                    assert_eq!(image.purgatory_get_symbol(s.name, s.size).expect("read back"), bytes);
                }
                let _ = image.purgatory_symbol_addr(s.name);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            if kexos_fuzz::verbose() {
                eprintln!("kexos-fuzz: purgatory: {} {msg}", e.errno().name());
            }
            return;
        }
    }
    static KERNEL: OnceLock<Vec<u8>> = OnceLock::new();
    let kernel = KERNEL.get_or_init(|| small_bzimage(8192));
    let input = LoadInput { flags: 0, cmdline: b"console=ttyS0\0", initrd: Some(b"initrd"), kernel };
    let loaders: [&dyn KexecFileOps; 1] = [&BzImage64];
    run_load(&loaders, &input, data);
});
