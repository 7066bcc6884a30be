//! Hand-over buffers (the 2016 series), this kernel's side of both ends:
//!
//! - At load, [`requests`]: the buffers every normal image carries for the
//!   next kernel (IMA's measurement list, this kernel's log for
//!   /proc/last_kmsg; with `kexec_test`, a test buffer).
//! - At boot, kexec_get_handover_buffer / kexec_free_handover_buffer: what
//!   the previous kernel left for us, found in setup_data and checked by
//!   boot::from_boot_params, reserved from the frame allocator until the
//!   subsystem that owns it (IMA) has read it and frees it. While held,
//!   each is a line of /proc/iomem.

use abi::Errno;
use alloc::vec::Vec;
use kexec_core::handover::kind_name;
use kexec_core::{HandoverBuffer, HandoverKind, HandoverRequest};
use memmap::IomemChild;
use spin::Mutex;

use crate::mm::frame;

static HELD: Mutex<Vec<HandoverBuffer>> = Mutex::new(Vec::new());

/// The kexos buffer the `kexec_test` hook hands over ("test").
pub const TEST_KIND: HandoverKind = HandoverKind::Kexos(0x7465_7374);
const TEST_BUFFER_SIZE: u64 = 8192;

/// The hand-over buffers of a normal (not crash) load, in the order they
/// are added (before the loader, as Linux adds IMA's).
pub fn requests() -> Result<Vec<HandoverRequest>, Errno> {
    let mut out = alloc::vec![crate::ima::kexec_buffer_request()?, crate::last_kmsg::kexec_buffer_request()];
    if crate::boot::test_hooks_enabled() {
        let data = alloc::format!("handed over by the kexos booted with: {}\n", crate::boot::cmdline()).into_bytes();
        let data = data[..data.len().min(TEST_BUFFER_SIZE as usize)].to_vec();
        out.push(HandoverRequest { kind: TEST_KIND, label: "test_buffer", data, size: TEST_BUFFER_SIZE });
    }
    Ok(out)
}

/// Take over the buffers the boot context kept (once, at boot).
pub fn init() {
    let held: Vec<HandoverBuffer> = crate::boot::handover_buffers().collect();
    for b in &held {
        info!("kexec: holding hand-over buffer {} at {:#x}..{:#x} from the previous kernel", kind_name(b.kind), b.addr, b.addr + b.size);
    }
    *HELD.lock() = held;
    crate::fs::procfs::register_iomem_children(iomem_children);
}

/// The text of a held buffer (up to its first NUL: the test buffer and
/// last_kmsg hold text, then zeros); ENOENT when there is none.
pub fn held_text(kind: HandoverKind) -> Result<Vec<u8>, Errno> {
    let (addr, size) = kexec_get_handover_buffer(kind)?;
    // SAFETY: held, so checked and reserved at boot and not yet freed (HELD
    // is only shrunk by kexec_free_handover_buffer); read-only.
    let bytes = unsafe { core::slice::from_raw_parts(crate::mm::phys_to_virt(addr) as *const u8, size as usize) };
    Ok(bytes.split(|&b| b == 0).next().unwrap_or(&[]).to_vec())
}

/// kexec_get_handover_buffer: where the previous kernel's buffer of `kind`
/// is, as (physical address, size); ENOENT if it passed none (or it was
/// refused at boot, or already freed).
pub fn kexec_get_handover_buffer(kind: HandoverKind) -> Result<(u64, u64), Errno> {
    HELD.lock().iter().find(|b| b.kind == kind).map(|b| (b.addr, b.size)).ok_or(Errno::ENOENT)
}

/// kexec_free_handover_buffer: give the buffer's pages to the frame
/// allocator; ENOENT if there is none.
pub fn kexec_free_handover_buffer(kind: HandoverKind) -> Result<(), Errno> {
    let b = {
        let mut held = HELD.lock();
        let i = held.iter().position(|b| b.kind == kind).ok_or(Errno::ENOENT)?;
        held.remove(i)
    };
    // Page aligned and sharing no page with anything else in use: checked
    // at boot (HandoverBuffer::check) before it was reserved.
    frame::release(b.addr, b.addr + b.size);
    info!("kexec: hand-over buffer {} freed ({} KiB back to the frame allocator)", kind_name(kind), b.size >> 10);
    Ok(())
}

fn iomem_children() -> Vec<IomemChild> {
    HELD.lock()
        .iter()
        .map(|b| IomemChild {
            start: b.addr,
            end: b.addr + b.size,
            name: match b.kind {
                HandoverKind::Ima => "IMA kexec buffer",
                TEST_KIND => "Kexec hand-over buffer (test)",
                crate::last_kmsg::KIND => "Kexec hand-over buffer (last_kmsg)",
                HandoverKind::Kexos(_) => "Kexec hand-over buffer",
            },
        })
        .collect()
}
