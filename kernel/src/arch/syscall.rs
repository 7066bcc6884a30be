//! `syscall`/`sysret` set-up and the Rust side of the entry stub.

use x86_64::registers::model_specific::{Efer, EferFlags, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::VirtAddr;

/// The registers of a process at its `syscall` instruction, as pushed by
/// syscall_entry.s. Handlers read arguments here and the dispatcher writes
/// the result to `rax`.
#[repr(C)]
#[derive(Debug)]
pub struct SyscallFrame {
    pub rax: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub r10: u64,
    pub r8: u64,
    pub r9: u64,
    pub rcx: u64,
    pub r11: u64,
    pub user_rsp: u64,
}

static mut USER_RSP: u64 = 0;
static mut KERNEL_RSP: u64 = 0;

core::arch::global_asm!(
    include_str!("syscall_entry.s"),
    user_rsp = sym USER_RSP,
    kernel_rsp = sym KERNEL_RSP,
    // Cycle forced by the hardware: the SYSCALL entry must call the dispatcher.
    dispatch = sym crate::syscall::dispatch,
);

extern "C" {
    fn kexos_syscall_entry();
    fn kexos_enter_user(rip: u64, rsp: u64, cs: u64, ss: u64) -> !;
}

pub fn init() {
    let s = super::gdt::selectors();
    // SAFETY: written once at boot, before any syscall can run.
    unsafe { KERNEL_RSP = super::stack::kernel_stack_top() };
    // SAFETY: enabling SCE and NXE is what the rest of the kernel expects;
    // the STAR selectors are in the order SYSRET requires (checked by Star::write).
    unsafe {
        Efer::update(|f| *f |= EferFlags::SYSTEM_CALL_EXTENSIONS | EferFlags::NO_EXECUTE_ENABLE);
        Star::write(s.user_code, s.user_data, s.kernel_code, s.kernel_data).expect("GDT order for STAR");
    }
    LStar::write(VirtAddr::new(kexos_syscall_entry as *const () as u64));
    SFMask::write(RFlags::INTERRUPT_FLAG | RFlags::DIRECTION_FLAG | RFlags::TRAP_FLAG | RFlags::ALIGNMENT_CHECK);
}

/// Enter ring 3 at `rip` with stack `rsp` in the current address space.
///
/// # Safety
/// The current page tables must map `rip` and `rsp` for user access, and the
/// kernel stack must hold nothing the kernel still needs.
pub unsafe fn enter_user(rip: u64, rsp: u64) -> ! {
    let s = super::gdt::selectors();
    // The general registers are cleared in kexos_enter_user; the SIMD ones here.
    super::simd::reset_user_simd();
    // SAFETY: forwarded contract.
    unsafe { kexos_enter_user(rip, rsp, s.user_code.0 as u64, s.user_data.0 as u64) }
}
