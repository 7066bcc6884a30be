//! The kexos user-space runtime (no_std, x86_64 Linux syscall ABI).
//!
//! - [`raw`] -- `syscall0..syscall6`;
//! - [`sys`] -- typed wrappers returning `Result<_, Errno>`;
//! - [`entry!`] -- defines `_start`, which decodes argc/argv from the initial
//!   stack and calls `main(&[&str]) -> i32`, then `exit_group`;
//! - a global allocator on `brk` (large blocks on anonymous `mmap`);
//! - a panic handler (message on stderr, exit status 101);
//! - [`print!`], [`println!`], [`eprint!`], [`eprintln!`] and [`io::FdWriter`].
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod heap;
pub mod io;
pub mod raw;
pub mod rt;
pub mod sys;

pub use abi;
pub use abi::Errno;

/// Define the program entry point: `ulib::entry!(main);` with
/// `fn main(args: &[&str]) -> i32`. The return value is the exit status.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// ELF entry point: RSP points at argc (Linux initial stack layout).
        #[unsafe(no_mangle)]
        #[unsafe(naked)]
        #[unsafe(link_section = ".text._start")]
        pub unsafe extern "C" fn _start() -> ! {
            core::arch::naked_asm!(
                "xor ebp, ebp",
                "mov rdi, rsp",
                "and rsp, -16",
                "call {start}",
                "ud2",
                start = sym __ulib_start,
            );
        }

        unsafe extern "C" fn __ulib_start(sp: *const usize) -> ! {
            let main: fn(&[&str]) -> i32 = $main;
            // SAFETY: `sp` is the initial stack pointer set up by the kernel.
            unsafe { $crate::rt::start(sp, main) }
        }
    };
}
