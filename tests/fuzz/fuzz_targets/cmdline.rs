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
            if let Ok((n, rest)) = cmdline::memparse(v) {
                assert!(rest.len() <= v.len());
                let _ = n;
            } else if let Err(e) = cmdline::memparse(v) {
                let _ = (e.errno(), e.to_string());
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
                    Ok((start, end)) => assert!(start < end && end - start >= req.size, "{start:#x}..{end:#x} for {req:?}"),
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
