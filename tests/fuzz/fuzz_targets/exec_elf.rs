//! exec's ELF checks (libs/elf-exec `exec_plan`, what kernel/src/proc/elf.rs maps for any
//! file a user execs, and the header checks kexec's ELF64 loader shares): a plan must
//! only name file bytes inside the file and pages inside the kernel's user limits
//! (elf_exec::KEXOS_USER), no more pages in all than they allow, hold the entry, and start
//! brk above every segment; every refusal has an errno and a message.
//! Input: a file (kexos's user programs are the seeds).
#![no_main]

use elf_exec::{exec_plan, KEXOS_USER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = KEXOS_USER;
    match exec_plan(data, &limits) {
        Ok(plan) => {
            let mut total = 0u64;
            for s in &plan.segments {
                let (first, end) = s.pages();
                assert!(first >= limits.min() && end <= limits.limit() && first <= end, "{s:?}");
                assert!(plan.brk_start >= end, "brk {:#x} below {s:?}", plan.brk_start);
                assert_eq!(s.data(data).map(<[u8]>::len), Some(s.filesz as usize));
                assert!(s.filesz <= s.memsz);
                total += end - first;
            }
            assert!(total <= limits.max_total(), "{total:#x} bytes of pages");
            assert!(plan.brk_start % 4096 == 0 && plan.entry >= limits.min() && plan.entry < plan.brk_start);
        }
        Err(e) => {
            let _ = (e.errno(), e.to_string());
        }
    }
});
