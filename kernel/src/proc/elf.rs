//! Loading a static ELF64 executable into a fresh address space.

use abi::Errno;
use goblin::elf::{header, program_header, Elf};

use crate::mm::paging::{AddressSpace, UserPerm};
use crate::mm::PAGE_SIZE;

/// Lowest address a segment may use (the NULL page stays unmapped).
const USER_MIN: u64 = 0x1000;
/// Highest address + 1 a segment may use: well below the stack, and far from
/// the end of the canonical lower half (a `syscall` in the last page would
/// make `sysret` fault in ring 0 on a non-canonical RIP).
pub const USER_IMAGE_LIMIT: u64 = 0x7000_0000_0000;
/// Refuse images that would take more memory than this.
const MAX_IMAGE: u64 = 1 << 30;

pub struct Loaded {
    pub entry: u64,
    /// First page after the highest segment: where the heap (brk) starts.
    pub brk_start: u64,
}

/// Parse `data` as an x86_64 static executable and map its PT_LOAD segments.
/// Format problems are ENOEXEC, like Linux's binfmt_elf.
pub fn load(data: &[u8], space: &mut AddressSpace) -> Result<Loaded, Errno> {
    let elf = Elf::parse(data).map_err(|_| Errno::ENOEXEC)?;
    if !elf.is_64 || !elf.little_endian || elf.header.e_machine != header::EM_X86_64 {
        return Err(Errno::ENOEXEC);
    }
    if elf.header.e_type != header::ET_EXEC {
        return Err(Errno::ENOEXEC);
    }
    let mut top = 0u64;
    let mut total = 0u64;
    for ph in elf.program_headers.iter().filter(|p| p.p_type == program_header::PT_LOAD) {
        let end = ph.p_vaddr.checked_add(ph.p_memsz).ok_or(Errno::ENOEXEC)?;
        let file_end = ph.p_offset.checked_add(ph.p_filesz).ok_or(Errno::ENOEXEC)?;
        if ph.p_filesz > ph.p_memsz || file_end > data.len() as u64 || ph.p_vaddr < USER_MIN || end > USER_IMAGE_LIMIT {
            return Err(Errno::ENOEXEC);
        }
        total += ph.p_memsz;
        if total > MAX_IMAGE {
            return Err(Errno::ENOMEM);
        }
        let perm = UserPerm { write: ph.is_write(), exec: ph.is_executable() };
        let mut va = ph.p_vaddr & !(PAGE_SIZE - 1);
        while va < end {
            space.map_page(va, perm)?;
            va += PAGE_SIZE;
        }
        space.load_bytes(ph.p_vaddr, &data[ph.p_offset as usize..file_end as usize])?;
        top = top.max(end);
    }
    if top == 0 || elf.entry < USER_MIN || elf.entry >= top {
        return Err(Errno::ENOEXEC);
    }
    Ok(Loaded { entry: elf.entry, brk_start: top.next_multiple_of(PAGE_SIZE) })
}
