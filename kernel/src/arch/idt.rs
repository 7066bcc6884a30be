//! The IDT: CPU exceptions and the two device interrupts.
//!
//! An exception from ring 3 kills the current process (the kernel goes on);
//! one from ring 0 prints vector, error code, RIP, CR2 and a backtrace, then
//! boots the crash kernel if one is loaded, else panics.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};

use super::pic;

/// What the CPU told us about an exception.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    pub vector: u8,
    pub name: &'static str,
    pub error: Option<u64>,
    pub rip: u64,
    pub cs: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub ss: u64,
    /// The faulting linear address (page faults only).
    pub cr2: Option<u64>,
    /// The interrupted code's frame pointer, for the backtrace.
    pub rbp: u64,
    /// The general registers as the entry stub stored them (user_regs_struct
    /// order, see [`KEXOS_EXCEPTION_GPRS`]); None for vectors without a stub.
    pub gprs: Option<[u64; 15]>,
}

impl Fault {
    pub fn is_from_user(&self) -> bool {
        self.cs & 3 == 3
    }
    /// The signal Linux would deliver for this exception (arch/x86/kernel/traps.c).
    pub fn signal(&self) -> (i32, &'static str) {
        match self.vector {
            0 | 16 | 19 => (8, "SIGFPE"),
            1 | 3 => (5, "SIGTRAP"),
            6 => (4, "SIGILL"),
            17 => (7, "SIGBUS"),
            _ => (11, "SIGSEGV"),
        }
    }
}

/// Set by the first kernel fault: a second one is handled without a backtrace.
static IN_KERNEL_FAULT: AtomicBool = AtomicBool::new(false);

/// Whether a kernel fault was reported (with its backtrace) already.
pub fn in_kernel_fault() -> bool {
    IN_KERNEL_FAULT.load(Ordering::SeqCst)
}

/// Timer ticks since interrupts were enabled (100 Hz).
pub static TICKS: AtomicU64 = AtomicU64::new(0);

/// The interrupted code's RBP: with frame pointers forced on, the handler's
/// prologue pushed it at [rbp].
#[inline(always)]
fn interrupted_rbp() -> u64 {
    let rbp: u64;
    // SAFETY: reads the frame pointer register only.
    unsafe { core::arch::asm!("mov {}, rbp", out(reg) rbp) };
    // SAFETY: rbp is this handler's frame base; [rbp] is the saved RBP.
    unsafe { *(rbp as *const u64) }
}

fn fault(vector: u8, name: &'static str, frame: &InterruptStackFrame, error: Option<u64>, rbp: u64) -> Fault {
    let cr2 = (vector == 14).then(Cr2::read_raw);
    Fault {
        vector,
        name,
        error,
        rip: frame.instruction_pointer.as_u64(),
        cs: frame.code_segment.0 as u64,
        rsp: frame.stack_pointer.as_u64(),
        rflags: frame.cpu_flags.bits(),
        ss: frame.stack_segment.0 as u64,
        cr2,
        rbp,
        // Copied now, before anything can fault again and overwrite them.
        // Not on the helper CPU: its IDT has no stubs (load_helper).
        gprs: (matches!(vector, 0 | 6 | 8 | 12 | 13 | 14) && !super::smp::on_helper()).then(exception_gprs),
    }
}

fn handle(f: Fault) {
    if f.is_from_user() {
        // Cycle forced by the hardware: a ring-3 exception enters here and must end its process.
        crate::proc::kill_current(f)
    }
    kernel_fault(f)
}

/// An exception in the kernel itself: report everything we know, then boot
/// the crash kernel if one is loaded, else panic.
pub fn kernel_fault(f: Fault) -> ! {
    if super::smp::on_helper() {
        // If it was running a job, the boot CPU panics in turn (arch::smp::join).
        super::smp::helper_fault(|| {
            report(&f, "on the helper CPU");
            super::backtrace::print(f.rip, f.rbp);
        })
    }
    // The registers first: printing may fault again. (Cycle forced by the
    // hardware: a kernel exception enters here and must reach kexec's crash path.)
    crate::kexec::save_crash_regs(&super::crash::fault_regs(&f));
    let nested = IN_KERNEL_FAULT.swap(true, Ordering::SeqCst);
    report(&f, "in kernel");
    if nested {
        // Faulted while reporting a fault: straight to the crash kernel.
        crate::klog::emergency_print(format_args!("kexos: fault while handling a kernel fault\n"));
    } else {
        super::backtrace::print(f.rip, f.rbp);
    }
    crate::kexec::crash_kexec();
    panic!("fatal exception {} ({}) at {:#x}", f.vector, f.name, f.rip)
}

/// `kexos: exception N (name) <where>: error=.. rip=.. rsp=.. cr2=..`, past the console lock.
fn report(f: &Fault, place: &str) {
    crate::klog::emergency_print(format_args!(
        "\nkexos: exception {} ({}) {}: error={:#x} rip={:#x} rsp={:#x} cr2={:#x}\n",
        f.vector,
        f.name,
        place,
        f.error.unwrap_or(0),
        f.rip,
        f.rsp,
        f.cr2.unwrap_or(0)
    ));
}

macro_rules! handlers {
    ($( $fn:ident($vec:expr, $name:expr $(, $err:ident)?); )*) => { $(
        handlers!(@one $fn, $vec, $name $(, $err)?);
    )* };
    (@one $fn:ident, $vec:expr, $name:expr) => {
        extern "x86-interrupt" fn $fn(frame: InterruptStackFrame) {
            let rbp = interrupted_rbp();
            handle(fault($vec, $name, &frame, None, rbp));
        }
    };
    (@one $fn:ident, $vec:expr, $name:expr, err) => {
        extern "x86-interrupt" fn $fn(frame: InterruptStackFrame, code: u64) {
            let rbp = interrupted_rbp();
            handle(fault($vec, $name, &frame, Some(code), rbp));
        }
    };
}

handlers! {
    divide_error(0, "divide error");
    debug(1, "debug");
    breakpoint(3, "breakpoint");
    overflow(4, "overflow");
    bound_range(5, "bound range exceeded");
    invalid_opcode(6, "invalid opcode");
    device_not_available(7, "device not available");
    invalid_tss(10, "invalid TSS", err);
    segment_not_present(11, "segment not present", err);
    stack_segment(12, "stack segment fault", err);
    general_protection(13, "general protection fault", err);
    x87_fp(16, "x87 floating point");
    alignment_check(17, "alignment check", err);
    simd_fp(19, "SIMD floating point");
    virtualization(20, "virtualization");
    control_protection(21, "control protection", err);
}

extern "x86-interrupt" fn page_fault(frame: InterruptStackFrame, code: PageFaultErrorCode) {
    let rbp = interrupted_rbp();
    handle(fault(14, "page fault", &frame, Some(code.bits()), rbp));
}

extern "x86-interrupt" fn double_fault(frame: InterruptStackFrame, code: u64) -> ! {
    // Runs on its own IST stack: the kernel stack may be exhausted.
    let rbp = interrupted_rbp();
    kernel_fault(fault(8, "double fault", &frame, Some(code), rbp))
}

extern "x86-interrupt" fn machine_check(frame: InterruptStackFrame) -> ! {
    kernel_fault(fault(18, "machine check", &frame, None, 0))
}

extern "x86-interrupt" fn nmi(_frame: InterruptStackFrame) {
    crate::klog::emergency_print(format_args!("kexos: NMI received\n"));
}

extern "x86-interrupt" fn timer(_frame: InterruptStackFrame) {
    TICKS.fetch_add(1, Ordering::Relaxed);
    pic::eoi(pic::IRQ_TIMER);
}

extern "x86-interrupt" fn com1(_frame: InterruptStackFrame) {
    crate::console::irq();
    pic::eoi(pic::IRQ_COM1);
}

/// Interrupts on vectors kexos never programmed (e.g. one the previous kernel
/// left pending in the LAPIC when it kexec'd us): counted, acknowledged, ignored.
pub static UNEXPECTED: AtomicU64 = AtomicU64::new(0);

extern "x86-interrupt" fn unexpected_interrupt(_frame: InterruptStackFrame) {
    UNEXPECTED.fetch_add(1, Ordering::Relaxed);
    pic::lapic_eoi();
}

/// PIC IRQ7/IRQ15 and the LAPIC spurious vector: no EOI for spurious interrupts.
extern "x86-interrupt" fn spurious(_frame: InterruptStackFrame) {}

/// The general registers at the last exception entry, in user_regs_struct
/// order (r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi),
/// stored by the entry stubs below for the crash notes.
#[no_mangle]
static mut KEXOS_EXCEPTION_GPRS: [u64; 15] = [0; 15];

/// A copy of [`KEXOS_EXCEPTION_GPRS`].
pub fn exception_gprs() -> [u64; 15] {
    // SAFETY: a plain read of a static only the entry stubs write, on the
    // boot CPU only (the helper CPU's IDT has no stubs).
    unsafe { core::ptr::read_volatile(&raw const KEXOS_EXCEPTION_GPRS) }
}

/// Entry stubs for the exceptions a crash starts from: an x86-interrupt
/// handler cannot see the interrupted code's general registers (its
/// prologue saves them where it likes), so each stub stores all of them with
/// RIP-relative moves, which touch neither the stack nor RFLAGS, then jumps
/// to the handler with the CPU's frame exactly as delivered.
macro_rules! gpr_stubs {
    ($( $stub:ident => $handler:ident; )*) => { $(
        core::arch::global_asm!(
            ".pushsection .text",
            concat!(".global ", stringify!($stub)),
            concat!(stringify!($stub), ":"),
            "mov [rip + {g}], r15",
            "mov [rip + {g} + 8], r14",
            "mov [rip + {g} + 16], r13",
            "mov [rip + {g} + 24], r12",
            "mov [rip + {g} + 32], rbp",
            "mov [rip + {g} + 40], rbx",
            "mov [rip + {g} + 48], r11",
            "mov [rip + {g} + 56], r10",
            "mov [rip + {g} + 64], r9",
            "mov [rip + {g} + 72], r8",
            "mov [rip + {g} + 80], rax",
            "mov [rip + {g} + 88], rcx",
            "mov [rip + {g} + 96], rdx",
            "mov [rip + {g} + 104], rsi",
            "mov [rip + {g} + 112], rdi",
            "jmp {h}",
            ".popsection",
            g = sym KEXOS_EXCEPTION_GPRS,
            h = sym $handler,
        );
        extern "C" {
            fn $stub();
        }
    )* };
}

gpr_stubs! {
    kexos_stub_divide_error => divide_error;
    kexos_stub_invalid_opcode => invalid_opcode;
    kexos_stub_double_fault => double_fault;
    kexos_stub_stack_segment => stack_segment;
    kexos_stub_general_protection => general_protection;
    kexos_stub_page_fault => page_fault;
}

/// `stub`'s address, for an IDT entry.
fn addr(stub: unsafe extern "C" fn()) -> x86_64::VirtAddr {
    x86_64::VirtAddr::new(stub as usize as u64)
}

/// The IDT, filled in place by [`init`]. Its initial value is in the image (`new` is a
/// `const fn`), so boot does not build 4 KiB on the stack and copy it: under TCG the unrolled
/// construction was code QEMU translates at every boot (docs/benchmarks.md, "What is left of a
/// kexec'd boot: translation").
static mut IDT: InterruptDescriptorTable = InterruptDescriptorTable::new();

/// Sets every vector's handler.
fn fill(idt: &mut InterruptDescriptorTable) {
    for vector in pic::IRQ_BASE..=255 {
        idt[vector].set_handler_fn(unexpected_interrupt);
    }
    // SAFETY: the stubs end in a jump to the handler of the same signature.
    unsafe { idt.divide_error.set_handler_addr(addr(kexos_stub_divide_error)) };
    idt.debug.set_handler_fn(debug);
    idt.non_maskable_interrupt.set_handler_fn(nmi);
    idt.breakpoint.set_handler_fn(breakpoint);
    idt.overflow.set_handler_fn(overflow);
    idt.bound_range_exceeded.set_handler_fn(bound_range);
    // SAFETY: as above.
    unsafe { idt.invalid_opcode.set_handler_addr(addr(kexos_stub_invalid_opcode)) };
    idt.device_not_available.set_handler_fn(device_not_available);
    // SAFETY: the IST index names a stack set up in gdt::TSS.
    unsafe {
        idt.double_fault.set_handler_addr(addr(kexos_stub_double_fault)).set_stack_index(super::gdt::DOUBLE_FAULT_IST);
    }
    idt.invalid_tss.set_handler_fn(invalid_tss);
    idt.segment_not_present.set_handler_fn(segment_not_present);
    // SAFETY: as above.
    unsafe { idt.stack_segment_fault.set_handler_addr(addr(kexos_stub_stack_segment)) };
    // SAFETY: as above.
    unsafe { idt.general_protection_fault.set_handler_addr(addr(kexos_stub_general_protection)) };
    // SAFETY: as above.
    unsafe { idt.page_fault.set_handler_addr(addr(kexos_stub_page_fault)) };
    idt.x87_floating_point.set_handler_fn(x87_fp);
    idt.alignment_check.set_handler_fn(alignment_check);
    idt.machine_check.set_handler_fn(machine_check);
    idt.simd_floating_point.set_handler_fn(simd_fp);
    idt.virtualization.set_handler_fn(virtualization);
    idt.cp_protection_exception.set_handler_fn(control_protection);
    idt[pic::IRQ_BASE + pic::IRQ_TIMER].set_handler_fn(timer);
    idt[pic::IRQ_BASE + pic::IRQ_COM1].set_handler_fn(com1);
    idt[pic::IRQ_BASE + 7].set_handler_fn(spurious);
    idt[pic::IRQ_BASE + 15].set_handler_fn(spurious);
    idt[pic::SPURIOUS_VECTOR].set_handler_fn(spurious);
    idt[super::smp::IPI_VECTOR].set_handler_fn(smp_ipi);
}

/// "A job is posted" / "a job is done" (arch::smp): waking the CPU from
/// `hlt` was the point; acknowledge it.
extern "x86-interrupt" fn smp_ipi(_frame: InterruptStackFrame) {
    pic::lapic_eoi();
}

/// The helper CPU's IDT (arch::smp): the same handlers, but without the
/// entry stubs, which store into the one [`KEXOS_EXCEPTION_GPRS`] that the
/// boot CPU's crash notes read.
/// In .bss (uninitialised): `init` copies the boot CPU's table into it.
static mut HELPER_IDT: core::mem::MaybeUninit<InterruptDescriptorTable> = core::mem::MaybeUninit::uninit();

/// The boot CPU's table with the stubbed vectors pointing at their handlers.
fn fill_helper(idt: &mut InterruptDescriptorTable) {
    idt.divide_error.set_handler_fn(divide_error);
    idt.invalid_opcode.set_handler_fn(invalid_opcode);
    // SAFETY: the IST index names a stack set up in gdt::HELPER_TSS.
    unsafe { idt.double_fault.set_handler_fn(double_fault).set_stack_index(super::gdt::DOUBLE_FAULT_IST) };
    idt.stack_segment_fault.set_handler_fn(stack_segment);
    idt.general_protection_fault.set_handler_fn(general_protection);
    idt.page_fault.set_handler_fn(page_fault);
}

/// Fills both IDTs and loads the boot CPU's. Once, on the boot CPU, before interrupts are enabled.
pub fn init() {
    // This runs once (arch::init_cpu), on the only CPU, with interrupts disabled and before
    // any exception can be taken through the IDT: nothing else reads or writes IDT while it
    // is filled, and nothing writes it after `load`.
    let idt: *mut InterruptDescriptorTable = &raw mut IDT;
    // SAFETY: as above; the pointer is the static's own, valid and aligned for 'static.
    let idt: &'static mut InterruptDescriptorTable = unsafe { &mut *idt };
    fill(idt);
    let helper: *mut InterruptDescriptorTable = (&raw mut HELPER_IDT).cast();
    // SAFETY: as above; the helper CPU loads it only after this (arch::smp::init
    // runs later). The copy initialises it; the type is plain data.
    unsafe {
        core::ptr::copy_nonoverlapping(idt as *const InterruptDescriptorTable, helper, 1);
        fill_helper(&mut *helper);
    }
    load();
}

/// Load the helper CPU's IDT, on the helper CPU.
pub fn load_helper() {
    let idt: *const InterruptDescriptorTable = (&raw const HELPER_IDT).cast();
    // SAFETY: initialised by `init`, before the helper starts; never written after.
    let idt: &'static InterruptDescriptorTable = unsafe { &*idt };
    idt.load();
}

/// Load the boot CPU's IDT (from [`init`]).
fn load() {
    let idt: *const InterruptDescriptorTable = &raw const IDT;
    // SAFETY: after `init`, nothing writes IDT; a shared reference to the static is sound.
    let idt: &'static InterruptDescriptorTable = unsafe { &*idt };
    idt.load();
}
