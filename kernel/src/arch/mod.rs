//! Everything that needs the x86_64 hardware directly.

pub mod backtrace;
pub mod crash;
pub mod gdt;
pub mod idt;
pub mod pic;
pub mod qemu;
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
