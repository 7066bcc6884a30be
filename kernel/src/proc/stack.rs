//! The initial user stack, laid out as Linux's ELF loader does
//! (System V AMD64 ABI, section 3.4.1): argc, argv[], NULL, envp[] (empty),
//! NULL, auxv pairs ending in AT_NULL, with RSP 16-byte aligned at argc.

use abi::Errno;
use alloc::string::String;
use alloc::vec::Vec;

use crate::mm::paging::{AddressSpace, UserPerm};
use crate::mm::PAGE_SIZE;

/// Top of the user stack (leaves the last canonical pages unmapped).
pub const STACK_TOP: u64 = 0x7fff_ffff_0000;
pub const STACK_SIZE: u64 = 256 * 1024;
/// Anonymous mmap regions are placed below the stack, top-down.
pub const MMAP_TOP: u64 = STACK_TOP - STACK_SIZE - 0x1000_0000;

const AT_NULL: u64 = 0;
const AT_PAGESZ: u64 = 6;
const AT_ENTRY: u64 = 9;

pub fn build(space: &mut AddressSpace, argv: &[String], entry: u64) -> Result<u64, Errno> {
    let perm = UserPerm { write: true, exec: false };
    let mut va = STACK_TOP - STACK_SIZE;
    while va < STACK_TOP {
        space.map_page(va, perm)?;
        va += PAGE_SIZE;
    }
    // Strings first, at the very top.
    let mut sp = STACK_TOP;
    let mut ptrs = Vec::with_capacity(argv.len());
    for arg in argv.iter().rev() {
        sp -= arg.len() as u64 + 1;
        space.load_bytes(sp, arg.as_bytes())?;
        space.load_bytes(sp + arg.len() as u64, &[0])?;
        ptrs.push(sp);
    }
    ptrs.reverse();
    let mut words: Vec<u64> = Vec::new();
    words.push(argv.len() as u64);
    words.extend(&ptrs);
    words.push(0); // argv terminator
    words.push(0); // envp terminator
    words.extend([AT_PAGESZ, PAGE_SIZE, AT_ENTRY, entry, AT_NULL, 0]);
    sp &= !15;
    if words.len() % 2 == 1 {
        sp -= 8;
    }
    sp -= words.len() as u64 * 8;
    if STACK_TOP - sp > STACK_SIZE / 2 {
        return Err(Errno::E2BIG);
    }
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    space.load_bytes(sp, &bytes)?;
    Ok(sp)
}
