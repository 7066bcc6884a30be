//! The hardware half of crash_kexec (Linux's arch/x86/kernel/crash.c and
//! crash_setup_regs): the crashing CPU's registers. The jump into the crash
//! image is kexec's (kexec/machine_kexec.rs).

use elfcore::CoreRegs;

use super::idt::Fault;

/// The caller's registers (Linux's crash_setup_regs without an exception
/// frame), for a panic outside an exception. RIP is this point in the
/// caller, since the function is always inlined.
#[inline(always)]
pub fn current_regs() -> CoreRegs {
    // orig_rax -1: not in a system call (as Linux's crash_setup_regs).
    let mut r = CoreRegs { orig_rax: u64::MAX, ..CoreRegs::default() };
    let p = &mut r as *mut CoreRegs;
    // SAFETY: stores registers into `r` (27 u64 fields, repr(C), in
    // user_regs_struct order); the register holding `p` reads as `p`.
    unsafe {
        core::arch::asm!(
            "mov [{p} + 0*8], r15",
            "mov [{p} + 1*8], r14",
            "mov [{p} + 2*8], r13",
            "mov [{p} + 3*8], r12",
            "mov [{p} + 4*8], rbp",
            "mov [{p} + 5*8], rbx",
            "mov [{p} + 6*8], r11",
            "mov [{p} + 7*8], r10",
            "mov [{p} + 8*8], r9",
            "mov [{p} + 9*8], r8",
            "mov [{p} + 10*8], rax",
            "mov [{p} + 11*8], rcx",
            "mov [{p} + 12*8], rdx",
            "mov [{p} + 13*8], rsi",
            "mov [{p} + 14*8], rdi",
            "lea {t}, [rip]",
            "mov [{p} + 16*8], {t}",
            "mov {t:x}, cs",
            "mov [{p} + 17*8], {t}",
            "pushfq",
            "pop {t}",
            "mov [{p} + 18*8], {t}",
            "mov [{p} + 19*8], rsp",
            "mov {t:x}, ss",
            "mov [{p} + 20*8], {t}",
            p = in(reg) p,
            t = out(reg) _,
        );
    }
    r
}

/// The faulting code's registers: RIP, CS, RFLAGS, RSP and SS from the
/// exception frame, the general registers as the entry stub stored them
/// (idt.rs; exceptions without a stub report 0 for those, not made-up values).
pub fn fault_regs(f: &Fault) -> CoreRegs {
    let g = f.gprs.unwrap_or([0; 15]);
    CoreRegs {
        r15: g[0],
        r14: g[1],
        r13: g[2],
        r12: g[3],
        rbp: f.rbp,
        rbx: g[5],
        r11: g[6],
        r10: g[7],
        r9: g[8],
        r8: g[9],
        rax: g[10],
        rcx: g[11],
        rdx: g[12],
        rsi: g[13],
        rdi: g[14],
        orig_rax: u64::MAX,
        rip: f.rip,
        cs: f.cs,
        eflags: f.rflags,
        rsp: f.rsp,
        ss: f.ss,
        ..CoreRegs::default()
    }
}
