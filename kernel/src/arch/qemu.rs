//! Leaving the machine: QEMU's isa-debug-exit device, ACPI-style power off, reset.

use x86_64::instructions::port::Port;

/// Status written to isa-debug-exit (port 0xf4); QEMU exits with (value << 1) | 1.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum ExitCode {
    /// Orderly power off: QEMU exits with 1 (xtask reports success).
    Success = 0,
    /// Kernel panic: QEMU exits with 3.
    Failure = 1,
}

/// End the virtual machine with `code`; on hardware without the debug-exit
/// device, fall back to the ACPI PM1a S5 write QEMU's q35 firmware sets up.
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: port writes to the debug-exit and PM registers only end the machine.
    unsafe {
        Port::<u32>::new(0xf4).write(code as u32);
        // ICH9 (q35) PMBASE 0x600: PM1a_CNT = 0x604, SLP_EN | SLP_TYP(S5=0).
        Port::<u16>::new(0x604).write(0x2000);
    }
    super::halt_forever()
}

/// Reset the machine (reboot(LINUX_REBOOT_CMD_RESTART)).
pub fn reset() -> ! {
    // SAFETY: the reset-control register (0xcf9) and the keyboard controller
    // reset pulse both just reset the machine.
    unsafe {
        Port::<u8>::new(0xcf9).write(0x06);
        Port::<u8>::new(0x64).write(0xfe);
    }
    // Last resort: a triple fault (load an empty IDT and trap).
    let empty = x86_64::structures::DescriptorTablePointer { limit: 0, base: x86_64::VirtAddr::new(0) };
    // SAFETY: we want the machine to reset; nothing runs after this.
    unsafe {
        x86_64::instructions::tables::lidt(&empty);
        core::arch::asm!("int3");
    }
    super::halt_forever()
}
