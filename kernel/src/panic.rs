//! The panic path: print, then boot the crash kernel if one is loaded, else
//! end the machine with a failure status.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::klog;

/// Set by the first panic: a panic while panicking skips the backtrace.
static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    x86_64::instructions::interrupts::disable();
    if crate::arch::smp::on_helper() {
        // If it was running a job, the boot CPU panics in turn (arch::smp::join).
        crate::arch::smp::helper_fault(|| klog::emergency_print(format_args!("\nKERNEL PANIC on the helper CPU: {}\n", info)))
    }
    crate::kexec::save_crash_regs(&crate::arch::crash::current_regs());
    let nested = PANICKING.swap(true, Ordering::SeqCst);
    // The console lock may be held by the code that panicked: bypass it.
    klog::emergency_print(format_args!("\nKERNEL PANIC: {}\n", info));
    // A kernel fault printed its own backtrace before panicking.
    if !nested && !crate::arch::idt::in_kernel_fault() {
        crate::arch::backtrace::print_current();
    }
    crate::kexec::crash_kexec();
    crate::arch::qemu::exit(crate::arch::qemu::ExitCode::Failure)
}
