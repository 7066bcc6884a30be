//! Legacy interrupt routing: the 8259 PICs remapped to vectors 32..47 and
//! delivered through the local APIC's LINT0 in "virtual wire" mode
//! (Intel MP spec 1.4, section 3.6.2.2), plus the PIT as a 100 Hz tick.
//! kexos needs only two device interrupts: the timer and COM1.

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
const PIT_HZ: u32 = 1_193_182;
pub const TICK_HZ: u32 = 100;

const IA32_APIC_BASE: u32 = 0x1b;

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
    let div = PIT_HZ / TICK_HZ;
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

/// Firmware may leave the LAPIC with its timer running or LINT0 masked: put
/// it in virtual-wire mode so the PIC's INTR reaches the CPU, with every
/// local source masked. (If the APIC is globally disabled in the MSR, the PIC
/// is wired straight to the CPU and there is nothing to do.)
fn lapic_virtual_wire() {
    // SAFETY: reading the APIC base MSR has no side effects.
    let base = unsafe { x86_64::registers::model_specific::Msr::new(IA32_APIC_BASE).read() };
    if base & (1 << 11) == 0 {
        return;
    }
    let mmio = crate::mm::phys_to_virt(base & 0xffff_f000) as *mut u32;
    let write = |reg: usize, v: u32| {
        // SAFETY: the LAPIC page is mapped uncached in the direct map
        // (mm::paging maps non-RAM as UC) and `reg` is a valid register offset.
        unsafe { mmio.byte_add(reg).write_volatile(v) }
    };
    write(0x80, 0); // TPR: accept everything
    write(0x320, 1 << 16); // LVT timer: masked
    write(0x340, 1 << 16); // LVT perf counters: masked
    write(0x370, 1 << 16); // LVT error: masked
    write(0x350, 0x700); // LVT LINT0: ExtINT, unmasked (the PIC)
    write(0x360, 0x400); // LVT LINT1: NMI
    write(0xf0, 0x100 | SPURIOUS_VECTOR as u32); // SVR: APIC enabled
}
