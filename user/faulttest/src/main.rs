//! faulttest: proves the kernel validates user memory and survives bad
//! programs. `faulttest MODE`; see [`USAGE`].
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

extern crate alloc;

mod checks;
mod faults;
mod simd;

use ulib::{println, sys};

ulib::entry!(main);

const USAGE: &str = "usage: faulttest MODE
  efault     syscalls with bad user pointers must return -EFAULT
  enosys     unknown syscall numbers must return -ENOSYS
  brk        grow the heap by 1 MiB with brk, use it, shrink it
  mmap       anonymous mmap of 1 MiB, use it, munmap (and bad munmaps)
  heap       exercise the allocator (brk heap, mmap for big blocks)
  null       read address 0             (must be killed: page fault)
  kwrite     write 0xffffffff80000000   (must be killed: page fault)
  gp         execute cli in ring 3      (must be killed: general protection)
  ud         execute ud2                (must be killed: invalid opcode)
  munmapped  touch a page after munmap  (must be killed: page fault)
  simd       kexec_file_load keeps XMM state, and the next program starts clean
  exit N     exit with status N";

fn main(args: &[&str]) -> i32 {
    match args.get(1..).unwrap_or(&[]) {
        ["efault"] => checks::efault(),
        ["enosys"] => checks::enosys(),
        ["brk"] => checks::brk(),
        ["mmap"] => checks::mmap(),
        ["heap"] => checks::heap(),
        ["null"] => faults::null(),
        ["kwrite"] => faults::kwrite(),
        ["gp"] => faults::gp(),
        ["ud"] => faults::ud(),
        ["munmapped"] => faults::munmapped(),
        ["simd"] => simd::simd(),
        ["simd-fresh", failed] => simd::simd_fresh(failed),
        ["exit", n] => match n.parse::<i32>() {
            Ok(n) => sys::exit(n),
            Err(_) => {
                println!("faulttest: exit: bad status '{n}'");
                2
            }
        },
        _ => {
            println!("{USAGE}");
            2
        }
    }
}
