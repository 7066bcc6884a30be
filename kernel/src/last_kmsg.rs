//! The previous kernel's log, handed over (a second, non-IMA user of the
//! hand-over API, and what Android calls /proc/last_kmsg): every normal
//! load reserves a buffer the size of the log ring; at `kexec -e` a reboot
//! notifier copies the ring into it, so the next kexos can show how this
//! one ended, up to its last reboot notifier's line.
//!
//! The buffer holds the log's text, then zeros (the rest of the segment,
//! zero-filled at load). The next kernel keeps the buffer (it is listed in
//! /proc/iomem) and serves it, without copying, as /proc/last_kmsg.

use alloc::vec::Vec;
use kexec_core::{HandoverKind, HandoverRequest};

use crate::fs::kernfs::{register, KernelFile};
use crate::kexec::handover::{held_text, kexec_get_handover_buffer};
use crate::kexec::notifier;

/// The buffer's kexos setup_data tag ("klog").
pub const KIND: HandoverKind = HandoverKind::Kexos(u32::from_be_bytes(*b"klog"));

/// The hand-over buffer of a normal load: empty now, as large as the log.
pub fn kexec_buffer_request() -> HandoverRequest {
    HandoverRequest { kind: KIND, label: "last_kmsg", data: Vec::new(), size: crate::klog::CAPACITY as u64 }
}

/// At boot: serve what the previous kernel left, if anything; hand this
/// kernel's log over at `kexec -e`.
pub fn init() {
    if kexec_get_handover_buffer(KIND).is_ok() {
        register(&[&LAST_KMSG]);
    }
    notifier::register_reboot_notifier(notifier::LAST_KMSG, write_kexec_buffer);
}

static LAST_KMSG: KernelFile = KernelFile {
    path: "/proc/last_kmsg",
    mode: 0o400,
    read: || Ok(alloc::sync::Arc::new(held_text(KIND)?)),
    write: None,
};

/// At `kexec -e`: the log ring as it is now into the loaded image's buffer.
fn write_kexec_buffer() {
    let Some((addr, memsz)) = crate::kexec::handover_segment(KIND) else { return };
    let mut text = alloc::vec![0u8; crate::klog::CAPACITY];
    let n = crate::klog::read_all(&mut text);
    match crate::kexec::kexec_update_segment(&text[..n], addr, memsz) {
        Ok(_) => info!("kexec: {} bytes of this kernel's log passed to the next kernel at {:#x}", n, addr),
        Err(e) => info!("kexec: the log was not passed to the next kernel: {}", e.name()),
    }
}
