//! ELF64 x86-64 executables, read in one place.
//!
//! - [`read_exec_header`]: the identification, header and program-header checks every
//!   ET_EXEC this kernel runs or loads must pass. The kexec ELF64 loader
//!   (kexec-core's `elf64_parse`) and exec share it.
//! - [`exec_plan`]: what exec (Linux's binfmt_elf, for a static program) maps: each PT_LOAD's
//!   pages, permissions and file bytes, the entry and where brk starts. The kernel only maps
//!   the plan (kernel/src/proc/elf.rs).
//!
//! goblin reads the header and the program header table (bounds-checked); the section
//! headers and symbols are not read here: exec needs none of them.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod binfmt;
mod header;

pub use binfmt::{exec_plan, ExecError, ExecPlan, ExecSegment, UserLimits, KEXOS_USER};
pub use header::{
    load_headers, read_exec_header, slice, ExecHeader, HeaderError, CTX, EHDR_SIZE, ELFCLASS64, ELFDATA2LSB,
    EM_X86_64, ET_DYN, ET_EXEC, EV_CURRENT, PHDR_SIZE, PT_INTERP, PT_LOAD, PT_NOTE,
};

#[cfg(test)]
mod tests;
