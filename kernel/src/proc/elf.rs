//! Loading a static ELF64 executable into a fresh address space: libs/elf-exec plans it
//! (the header checks kexec's ELF64 loader uses too), this maps the plan.

use abi::Errno;
use elf_exec::{exec_plan, KEXOS_USER};

use crate::mm::paging::{AddressSpace, UserPerm};
use crate::mm::PAGE_SIZE;

pub struct Loaded {
    pub entry: u64,
    /// First page after the highest segment: where the heap (brk) starts.
    pub brk_start: u64,
}

/// Map `data`'s PT_LOAD segments into `space`. A file that is not a program we can run is
/// ENOEXEC (ENOMEM if too large), like Linux's binfmt_elf, and the reason is logged.
pub fn load(path: &str, data: &[u8], space: &mut AddressSpace) -> Result<Loaded, Errno> {
    let plan = exec_plan(data, &KEXOS_USER).map_err(|e| {
        info!("exec: {path}: {e} ({})", e.errno().name());
        e.errno()
    })?;
    for s in &plan.segments {
        let perm = UserPerm { write: s.write, exec: s.exec };
        let (first, end) = s.pages();
        for va in (first..end).step_by(PAGE_SIZE as usize) {
            space.map_page(va, perm)?;
        }
        // Inside the file: exec_plan checked it.
        space.load_bytes(s.vaddr, s.data(data).ok_or(Errno::ENOEXEC)?)?;
    }
    Ok(Loaded { entry: plan.entry, brk_start: plan.brk_start })
}
