//! The kexos user-space runtime (no_std, x86_64 Linux syscall ABI).
//!
//! - [`raw`] -- `syscall0..syscall6`;
//! - [`sys`] -- typed wrappers returning `Result<_, Errno>`;
//! - [`entry!`] -- defines `_start`, which decodes argc/argv from the initial
//!   stack and calls `main(&[&str]) -> i32`, then `exit_group`;
//! - a global allocator on `brk` (large blocks on anonymous `mmap`);
//! - a panic handler (message on stderr, exit status 101);
//! - [`print!`], [`println!`], [`eprint!`], [`eprintln!`] and [`io::FdWriter`].
//!
//! Unsafe code: the `asm!` of [`raw::syscall6`]; the few `call.rs`
//! primitives that pass pointers to the kernel (each names the calls it may
//! make and takes the memory they use as references); start-up's reading of
//! the initial stack ([`rt`]); the allocator ([`heap`]). Every block carries
//! a `// SAFETY:` argument; clippy enforces it.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

extern crate alloc;

mod call;
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
            // SAFETY: `_start` passes RSP as the kernel set it at the ELF
            // entry (before realigning it), i.e. the initial stack pointer.
            unsafe { $crate::rt::start(sp, main) }
        }
    };
}
