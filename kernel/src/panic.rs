//! The panic path: print, then end the machine with a failure status.
//! (The crash-kernel issue hooks in here: jump to the loaded crash image.)

use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    x86_64::instructions::interrupts::disable();
    // The console lock may be held by the code that panicked: bypass it.
    console::emergency_print(format_args!("\nKERNEL PANIC: {}\n", info));
    crate::arch::backtrace::print_current();
    crate::arch::qemu::exit(crate::arch::qemu::ExitCode::Failure)
}

use crate::console;
