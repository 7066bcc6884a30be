//! ELF core files for kdump, host-testable:
//!
//! - [`CoreRegs`]: x86_64 `struct user_regs_struct`, the registers of a note;
//! - crash notes ([`write_prstatus_note`], [`write_vmcoreinfo_note`]) that the
//!   first kernel fills in, and their reader ([`notes`], [`parse_prstatus`]);
//! - the first kernel's ELF core header ([`build_elf_headers`], Linux's
//!   `crash_prepare_elf64_headers` in kernel/crash_core.c);
//! - the capture kernel's `/proc/vmcore` ([`Vmcore`], Linux's fs/proc/vmcore.c):
//!   the header parsed from old memory, notes merged, PT_LOADs laid out on
//!   page-rounded chunks, and reads served through [`OldMemory`].
//!
//! Errors carry `.errno()`, the value Linux returns for the same failure.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod bytes;
pub mod elf;
mod headers;
mod notes;
mod regs;
mod vmcore;

pub use headers::{
    build_elf_headers, build_elf_headers_with_kernel, usable_ranges, KernelMap, NoteRange,
    MAX_PHNUM,
};
pub use notes::{
    note_segment_size, notes, parse_prstatus, write_note, write_prstatus_note,
    write_vmcoreinfo_note, NoteError, Notes, CORE_NAME, CRASH_NOTE_BYTES, NT_PRSTATUS,
    PRSTATUS_BYTES, PR_PID_OFFSET, PR_REG_OFFSET, VMCOREINFO_BYTES, VMCOREINFO_MAX_TEXT,
    VMCOREINFO_NAME,
};
pub use regs::CoreRegs;
pub use vmcore::{OldMemory, Vmcore, VmcoreError, MAX_NOTES_BYTES, MAX_NOTE_SEGMENT};

/// Page size of the /proc/vmcore layout (x86_64).
pub const PAGE_SIZE: u64 = 4096;

#[cfg(test)]
mod testutil;
