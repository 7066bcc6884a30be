//! Everything that needs the x86_64 hardware directly.

pub mod backtrace;
pub mod crash;
pub mod gdt;
pub mod idt;
pub mod pic;
pub mod pit;
pub mod qemu;
pub mod simd;
pub mod smp;
pub mod stack;
pub mod syscall;

/// CPU state every later step relies on: our GDT/TSS, the IDT, NX, syscall MSRs.
pub fn init_cpu() {
    gdt::init();
    idt::init();
    syscall::init();
}

/// Route device interrupts (PIC behind the LAPIC's virtual wire) and enable them.
pub fn init_interrupts() {
    pic::init();
    x86_64::instructions::interrupts::enable();
    // Anything the previous kernel left pending arrives right here.
    let n = idt::UNEXPECTED.load(core::sync::atomic::Ordering::Relaxed);
    if n > 0 {
        info!("irq: ignored {} interrupt(s) on vectors kexos does not use (left pending before we started)", n);
    }
}

/// Run `f` with interrupts enabled, then clear IF again if it was clear.
/// Syscalls enter with IF clear (SFMASK); this is for a long one that takes
/// no lock an interrupt handler takes (the handlers take only the console's
/// input ring and a try_lock of its port, which every other taker holds
/// with interrupts off). The tick keeps counting, and under TCG the work
/// runs about a fifth faster: with a timer interrupt pending behind IF=0,
/// QEMU re-checks it at every return to its main loop, about 600,000 times
/// a second while the kernel hashes (docs/benchmarks.md).
pub fn with_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let was_enabled = x86_64::instructions::interrupts::are_enabled();
    x86_64::instructions::interrupts::enable();
    let r = f();
    if !was_enabled {
        x86_64::instructions::interrupts::disable();
    }
    r
}

/// Read the time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no side effects; CR4.TSD is clear in ring 0.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Stop this CPU for good.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
