//! exec's ELF checks (libs/elf-exec `exec_plan`, what kernel/src/proc/elf.rs maps for any
//! file a user execs, and the header checks kexec's ELF64 loader shares): a plan must
//! only name file bytes inside the file and pages inside the user limits, hold the entry,
//! and start brk above every segment; every refusal has an errno and a message.
//! Input: a file (kexos's user programs are the seeds).
#![no_main]

use elf_exec::{exec_plan, UserLimits};
use libfuzzer_sys::fuzz_target;

/// The kernel's limits (kernel/src/proc/elf.rs).
const LIMITS: UserLimits = UserLimits { min: 0x1000, limit: 0x7000_0000_0000, max_total: 1 << 30 };

fuzz_target!(|data: &[u8]| {
    match exec_plan(data, &LIMITS) {
        Ok(plan) => {
            let mut total = 0u64;
            for s in &plan.segments {
                let (first, end) = s.pages();
                assert!(first >= LIMITS.min && end <= LIMITS.limit && first <= end, "{s:?}");
                assert!(plan.brk_start >= end, "brk {:#x} below {s:?}", plan.brk_start);
                assert_eq!(s.data(data).len() as u64, s.filesz);
                assert!(s.filesz <= s.memsz);
                total += s.memsz;
            }
            assert!(total <= LIMITS.max_total);
            assert!(plan.brk_start % 4096 == 0 && plan.entry >= LIMITS.min && plan.entry < plan.brk_start);
        }
        Err(e) => {
            let _ = (e.errno(), e.to_string());
        }
    }
});
