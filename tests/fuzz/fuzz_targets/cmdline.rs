//! The kernel command line (libs/cmdline): parameters as lib/cmdline.c
//! splits them, lookups, the init arguments, memparse on every value, and
//! crashkernel= for several RAM sizes, with the region it asks for placed on
//! QEMU's 512 MiB map (libs/memmap plan_crash_region), as kernel/src/crash
//! reserves it. The text is the input made UTF-8 as the kernel does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for p in cmdline::params(&text) {
        let _ = p.key.len();
        if let Some(v) = p.value {
            match cmdline::memparse(v) {
                Ok((_, rest)) => assert!(v.ends_with(rest) && rest.len() < v.len(), "memparse({v:?}) left {rest:?}"),
                Err(e) => {
                    let _ = (e.errno(), e.to_string());
                }
            }
        }
    }
    let _ = cmdline::init_args(&text);
    for key in ["crashkernel", "console", "lockdown", "ima_kexec_extra_kb", "kexec.sig_enforce"] {
        let _ = cmdline::get(&text, key);
        let _ = cmdline::has_flag(&text, key);
    }
    let map = memmap::examples::qemu_512m();
    for ram in [512 << 20, 4 << 30, 1 << 40, u64::MAX] {
        match cmdline::parse_crashkernel(&text, ram) {
            Ok(Some(req)) => {
                assert!(req.size > 0 && req.size < ram);
                let limit = if req.high { u64::MAX } else { memmap::CRASH_ADDR_LOW_MAX };
                match memmap::plan_crash_region(map.regions(), req.size, req.offset, limit, |_, _| true) {
                    Ok((start, end)) => {
                        assert!(start < end && end - start >= req.size, "{start:#x}..{end:#x} for {req:?}");
                        assert!(req.offset.is_none_or(|o| o == start), "{start:#x}..{end:#x} not at the offset asked for: {req:?}");
                        assert!(end <= limit || req.offset.is_some(), "{start:#x}..{end:#x} above the limit {limit:#x}");
                        assert!(map.regions().iter().any(|r| r.kind == memmap::RegionKind::Ram && r.start <= start && end <= r.end), "{start:#x}..{end:#x} not in one RAM region");
                    }
                    Err(e) => {
                        let _ = (e.errno(), e.to_string());
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                let _ = (e.errno(), e.to_string());
            }
        }
    }
});
