//! The notes the ELF core headers point at (Linux's per-CPU crash_notes and
//! vmcoreinfo_note). They live in this kernel's own memory (.bss), each in
//! one page-aligned buffer within a single page (the kernel image need not
//! be physically contiguous): the crash path fills the crash note without
//! allocating, and the capture kernel reads both through the PT_NOTEs.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use elfcore::{CoreRegs, NoteRange, CRASH_NOTE_BYTES, VMCOREINFO_BYTES};

use crate::mm::paging;
use crate::PHYS_OFFSET;

#[repr(C, align(4096))]
struct NoteBuf<const N: usize>(UnsafeCell<[u8; N]>);

// SAFETY: written at load time (VMCOREINFO) under the kexec lock, and by
// the crash path, which runs once with interrupts off on the only CPU.
unsafe impl<const N: usize> Sync for NoteBuf<N> {}

const _: () = assert!(CRASH_NOTE_BYTES <= 4096 && VMCOREINFO_BYTES <= 4096);

static CRASH_NOTES: NoteBuf<CRASH_NOTE_BYTES> = NoteBuf(UnsafeCell::new([0; CRASH_NOTE_BYTES]));
static VMCOREINFO: NoteBuf<VMCOREINFO_BYTES> = NoteBuf(UnsafeCell::new([0; VMCOREINFO_BYTES]));

extern "C" {
    static __kernel_start: u8;
    static __build_id_note_start: u8;
    static __build_id_note_end: u8;
}

/// Physical address of a kernel-image object.
fn phys_of<T>(obj: &T) -> u64 {
    let va = obj as *const T as u64;
    crate::boot::translate(paging::kernel_pml4(), va).expect("kernel image page not mapped")
}

/// Where the notes are, for the PT_NOTE headers.
pub fn ranges() -> Vec<NoteRange> {
    alloc::vec![
        NoteRange { phys: phys_of(&CRASH_NOTES), size: CRASH_NOTE_BYTES as u64 },
        NoteRange { phys: phys_of(&VMCOREINFO), size: VMCOREINFO_BYTES as u64 },
    ]
}

/// The crash path's write: NT_PRSTATUS for the boot CPU, the only one that
/// takes the crash path (a panic or fault on the helper CPU, arch::smp, while
/// it runs a job makes the boot CPU panic; the helper's registers are only
/// printed).
pub fn save_prstatus(regs: &CoreRegs, pid: u32) {
    // SAFETY: see NoteBuf's Sync; nothing else writes this buffer.
    elfcore::write_prstatus_note(unsafe { &mut *CRASH_NOTES.0.get() }, regs, pid);
}

/// This kernel's GNU build id (from `--build-id`), as hex.
pub fn build_id() -> Option<String> {
    // SAFETY: the linker delimits the build-id note inside .rodata.
    let note = unsafe {
        let start = &__build_id_note_start as *const u8;
        let len = (&__build_id_note_end as *const u8).offset_from(start) as usize;
        core::slice::from_raw_parts(start, len)
    };
    let (_, _, desc) = elfcore::notes(note).find(|(name, ty, _)| *name == b"GNU" && *ty == 3)?;
    Some(desc.iter().map(|b| format!("{:02x}", b)).collect())
}

/// Fill VMCOREINFO (Linux's crash_save_vmcoreinfo_init): what a dump
/// reader needs to interpret the first kernel's memory. Written when a crash
/// image is loaded, so the crash path has nothing to format.
pub fn init_vmcoreinfo() {
    // SAFETY: only the symbol's address is taken.
    let text_va = unsafe { &__kernel_start as *const u8 as u64 };
    let mut text = format!(
        "OSRELEASE={}\nPAGESIZE=4096\nPAGE_OFFSET={:x}\nSYMBOL(_text)={:x}\nKERNEL_TEXT_PHYS={:x}\n",
        env!("CARGO_PKG_VERSION"),
        PHYS_OFFSET,
        text_va,
        crate::boot::translate(paging::kernel_pml4(), text_va).unwrap_or(0),
    );
    // The kernel log ring, with the dying kernel's last words in it.
    let (ring, size, buf, written) = crate::klog::ring_layout();
    text.push_str(&format!(
        "SYMBOL(kexos_log_ring)={:x}\nSIZE(kexos_log_ring)={}\nOFFSET(kexos_log_ring.buf)={}\nOFFSET(kexos_log_ring.written)={}\n",
        ring, size, buf, written
    ));
    if let Some(id) = build_id() {
        text.insert_str(0, &format!("BUILD-ID={}\n", id));
    }
    text.insert_str(0, "OS=kexos\n");
    // SAFETY: see NoteBuf's Sync.
    if let Err(e) = elfcore::write_vmcoreinfo_note(unsafe { &mut *VMCOREINFO.0.get() }, &text) {
        info!("crash: VMCOREINFO does not fit: {:?}", e);
    }
}
