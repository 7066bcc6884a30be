//! The kernel's stacks. One process runs at a time, so one kernel stack is
//! enough: boot code runs on it, and it doubles as the syscall/interrupt stack
//! (TSS.RSP0) once user space runs. Every process exit resets it to the top.
//! Each stack sits above a guard page that is left unmapped (see mm::paging),
//! so an overflow faults instead of corrupting memory.

use core::cell::UnsafeCell;

/// Kernel stack size (not counting the guard page).
pub const KERNEL_STACK_SIZE: usize = 64 * 1024;
/// Double-fault (IST) stack size.
pub const FAULT_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(4096))]
pub struct GuardedStack<const N: usize> {
    pub guard: [u8; 4096],
    stack: UnsafeCell<[u8; N]>,
}

// SAFETY: the stack memory is only ever used as a CPU stack.
unsafe impl<const N: usize> Sync for GuardedStack<N> {}

impl<const N: usize> GuardedStack<N> {
    pub const fn new() -> Self {
        Self { guard: [0; 4096], stack: UnsafeCell::new([0; N]) }
    }
    /// The initial stack pointer (16-byte aligned, the highest address).
    pub fn top(&self) -> u64 {
        self.stack.get() as u64 + N as u64
    }
    /// The guard page's address.
    pub fn guard_page(&self) -> u64 {
        self.guard.as_ptr() as u64
    }
}

pub static KERNEL_STACK: GuardedStack<KERNEL_STACK_SIZE> = GuardedStack::new();
pub static FAULT_STACK: GuardedStack<FAULT_STACK_SIZE> = GuardedStack::new();
/// The crash path's stack (crash_kexec switches to it: the stack it was
/// called on may be the one that overflowed).
pub static CRASH_STACK: GuardedStack<FAULT_STACK_SIZE> = GuardedStack::new();

/// The top of the kernel stack is kept free as a hand-off area for
/// [`reset_and_call`]: syscalls and interrupts start below it.
const HANDOFF_SIZE: u64 = 1024;

/// Where the kernel stack starts for syscalls, interrupts (TSS.RSP0) and
/// every fresh kernel context.
pub fn kernel_stack_top() -> u64 {
    KERNEL_STACK.top() - HANDOFF_SIZE
}

/// Switch to a fresh kernel stack and call `f(arg)`; never returns.
/// Used once at boot (to leave the boot loader's stack) and on every process
/// exit or exec (to drop the old process's kernel frames). `arg` travels in
/// the hand-off area, which no live frame uses, so copying it there cannot
/// clobber the caller's own stack.
pub fn reset_and_call<T>(arg: T, f: fn(T) -> !) -> ! {
    struct Call<T> {
        arg: T,
        f: fn(T) -> !,
    }
    extern "C" fn trampoline<T>(call: *mut Call<T>) -> ! {
        // SAFETY: `call` points at the copy in the hand-off area, written
        // below and read exactly once, before anything can reuse it.
        let Call { arg, f } = unsafe { core::ptr::read(call) };
        f(arg)
    }
    const { assert!(core::mem::size_of::<Call<T>>() as u64 <= HANDOFF_SIZE) };
    let call = core::mem::ManuallyDrop::new(Call { arg, f });
    let dst = kernel_stack_top() as *mut Call<T>;
    // SAFETY: the hand-off area is reserved for this and is mapped; the new
    // stack pointer is 16-byte aligned, below the area.
    unsafe {
        core::ptr::copy_nonoverlapping(&*call as *const Call<T>, dst, 1);
        core::arch::asm!(
            "mov rsp, {stack}",
            "xor ebp, ebp",
            "call {tramp}",
            "ud2",
            stack = in(reg) kernel_stack_top(),
            tramp = sym trampoline::<T>,
            in("rdi") dst,
            options(noreturn)
        )
    }
}

/// Leave the bootloader's stack: continue `kmain(ctx)` on our own stack.
pub fn run_on_boot_stack(ctx: &'static crate::boot::BootContext, kmain: fn(&'static crate::boot::BootContext) -> !) -> ! {
    reset_and_call(ctx, kmain)
}
