//! Legacy interrupt routing: the 8259 PICs remapped to vectors 32..47 and
//! delivered through the local APIC's LINT0 in "virtual wire" mode
//! (Intel MP spec 1.4, section 3.6.2.2), plus the PIT as a 100 Hz tick.
//! kexos needs only two device interrupts: the timer and COM1.

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

pub const IRQ_BASE: u8 = 32;
pub const IRQ_TIMER: u8 = 0;
pub const IRQ_COM1: u8 = 4;
/// The LAPIC's spurious-interrupt vector.
pub const SPURIOUS_VECTOR: u8 = 0xff;

const PIC1_CMD: u16 = 0x20;
const PIC1_DATA: u16 = 0x21;
const PIC2_CMD: u16 = 0xa0;
const PIC2_DATA: u16 = 0xa1;
pub const TICK_HZ: u32 = 100;

/// Direct-map address of the LAPIC registers, 0 when the APIC is disabled.
static LAPIC: AtomicU64 = AtomicU64::new(0);

fn lapic_write(reg: usize, v: u32) {
    let base = LAPIC.load(Ordering::Relaxed);
    if base != 0 {
        // SAFETY: the LAPIC page is mapped uncached in the direct map
        // (mm::paging maps non-RAM as UC) and `reg` is a valid register offset.
        unsafe { (base as *mut u32).byte_add(reg).write_volatile(v) }
    }
}

fn lapic_read(reg: usize) -> u32 {
    let base = LAPIC.load(Ordering::Relaxed);
    if base == 0 {
        return 0;
    }
    // SAFETY: as in lapic_write.
    unsafe { (base as *const u32).byte_add(reg).read_volatile() }
}

/// Acknowledge an interrupt the LAPIC delivered (harmless when none is in service).
pub fn lapic_eoi() {
    lapic_write(0xb0, 0);
}

fn outb(port: u16, v: u8) {
    // SAFETY: only called on the PIC/PIT ports, which have no memory effects.
    unsafe { Port::<u8>::new(port).write(v) }
}

pub fn init() {
    // ICW1: init + ICW4 needed; ICW2: vector offsets; ICW3: cascade on IRQ2; ICW4: 8086 mode.
    outb(PIC1_CMD, 0x11);
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, IRQ_BASE);
    outb(PIC2_DATA, IRQ_BASE + 8);
    outb(PIC1_DATA, 4);
    outb(PIC2_DATA, 2);
    outb(PIC1_DATA, 1);
    outb(PIC2_DATA, 1);
    // Unmask timer, cascade and COM1 only.
    outb(PIC1_DATA, !((1 << IRQ_TIMER) | (1 << 2) | (1 << IRQ_COM1)));
    outb(PIC2_DATA, 0xff);
    // PIT channel 0, mode 3 (square wave), lobyte/hibyte.
    let div = super::pit::PIT_HZ as u32 / TICK_HZ;
    outb(0x43, 0x36);
    outb(0x40, div as u8);
    outb(0x40, (div >> 8) as u8);
    lapic_virtual_wire();
}

/// Acknowledge an interrupt from the PIC.
pub fn eoi(irq: u8) {
    if irq >= 8 {
        outb(PIC2_CMD, 0x20);
    }
    outb(PIC1_CMD, 0x20);
}

/// Mask every PIC line (before handing the machine to another kernel).
pub fn mask_all() {
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
}

/// Firmware, or the kernel that kexec'd us, may leave the LAPIC with its
/// timer running, LINT0 masked, or interrupts still in service or pending
/// (Linux's timer vector, for one). Put it in virtual-wire mode so the PIC's
/// INTR reaches the CPU, with every local source masked, and drain what the
/// previous owner left in service, as Linux's setup_local_APIC does.
/// (If the APIC is globally disabled in the MSR, the PIC is wired straight
/// to the CPU and there is nothing to do.)
fn lapic_virtual_wire() {
    let base = apic_base();
    if !base.enabled() {
        return;
    }
    // Through the direct map (main.rs's PHYS_OFFSET); arch sits below mm.
    LAPIC.store(crate::PHYS_OFFSET + base.registers(), Ordering::Relaxed);
    lapic_write(0x80, 0); // TPR: accept everything
    lapic_write(0x320, 1 << 16); // LVT timer: masked
    lapic_write(0x340, 1 << 16); // LVT perf counters: masked
    lapic_write(0x370, 1 << 16); // LVT error: masked
    lapic_write(0x350, 0x700); // LVT LINT0: ExtINT, unmasked (the PIC)
    lapic_write(0x360, 0x400); // LVT LINT1: NMI
    lapic_write(0xf0, 0x100 | SPURIOUS_VECTOR as u32); // SVR: APIC enabled
    // ISR: 8 registers of 32 bits at 0x100..0x170. Each EOI retires the
    // highest-priority in-service vector; 256 EOIs retire them all.
    for _ in 0..256 {
        if (0..8).all(|i| lapic_read(0x100 + i * 0x10) == 0) {
            break;
        }
        lapic_eoi();
    }
}

/// Whether the LAPIC is enabled and mapped (set by [`init`]).
pub fn lapic_enabled() -> bool {
    LAPIC.load(Ordering::Relaxed) != 0
}

/// IA32_APIC_BASE (libs/ap-boot reads its bits).
pub fn apic_base() -> ap_boot::ApicBase {
    // SAFETY: reading the APIC base MSR has no side effects.
    ap_boot::ApicBase(unsafe { x86_64::registers::model_specific::Msr::new(ap_boot::ApicBase::MSR).read() })
}

/// This CPU's local APIC ID (ID register, bits 31:24 in xAPIC mode).
pub fn lapic_id() -> u32 {
    lapic_read(0x20) >> 24
}

/// The inter-processor interrupts kexos sends (libs/ap-boot owns their
/// encodings: purgatory sends them too).
pub use ap_boot::Ipi;

/// Send `ipi` and wait until the LAPIC has delivered it (delivery status,
/// ICR bit 12; at most about a million reads: a LAPIC that never clears it
/// must not hang the crash path). Takes no lock: the crash path parks CPUs
/// with it.
pub fn send_ipi(ipi: Ipi) {
    // Whatever the IPI announces (a posted job, its result) must be visible
    // before the ICR write: this fence keeps the compiler from moving the
    // volatile store above the atomic ones before it.
    core::sync::atomic::fence(Ordering::SeqCst);
    let (high, low) = ipi.icr();
    lapic_write(ap_boot::reg::ICR_HIGH, high);
    lapic_write(ap_boot::reg::ICR_LOW, low);
    for _ in 0..ap_boot::reg::ICR_WAIT_READS {
        if !lapic_enabled() || lapic_read(ap_boot::reg::ICR_LOW) & ap_boot::reg::ICR_PENDING == 0 {
            break;
        }
        core::hint::spin_loop();
    }
}

/// The helper CPU's LAPIC after its INIT: software-enabled (SVR), so that
/// it accepts fixed IPIs, with every local interrupt source masked. It
/// takes no device interrupt: LINT0 stays masked (the PIC is the boot CPU's).
pub fn enable_helper_lapic() {
    lapic_write(0x80, 0); // TPR: accept everything
    for lvt in [0x320, 0x340, 0x350, 0x360, 0x370] {
        lapic_write(lvt, 1 << 16);
    }
    lapic_write(0xf0, 0x100 | SPURIOUS_VECTOR as u32);
}
