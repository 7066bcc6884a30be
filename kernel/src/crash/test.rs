//! Test-only crash triggers (/sys/kernel/kexec_test_crash, present only
//! with `kexec_test` on the command line): each makes the kernel die a
//! different way, so the scenarios can check every road into the crash
//! kernel. Also a marker the scenarios look for in the dump.

use abi::Errno;
use core::cell::UnsafeCell;

/// A marker in kernel memory at a known physical address.
#[repr(C, align(4096))]
struct Marker(UnsafeCell<[u8; 256]>);
// SAFETY: written only by the marker command, under the VFS lock.
unsafe impl Sync for Marker {}
static MARKER: Marker = Marker(UnsafeCell::new([0; 256]));

/// What the `gp` crash leaves in R12 ("KEXOS-GP").
pub const GP_R12: u64 = u64::from_le_bytes(*b"KEXOS-GP");

/// `marker TEXT`, or a crash kind: `panic`, `oops` (kernel write through
/// NULL), `wp` (write into the write-protected crash kernel region), `gp`
/// (non-canonical address), `stack` (kernel stack overflow: a double fault),
/// `heap` (scribble over the whole heap, then allocate: the crash path must
/// get by without it), `helper-panic` and `helper-oops` (a panic and a NULL
/// write on the helper CPU, arch::smp: the boot CPU must take the crash path).
pub fn command(text: &str) -> Result<(), Errno> {
    let text = text.trim_end_matches(['\n', '\0']);
    if let Some(m) = text.strip_prefix("marker ") {
        return set_marker(m.as_bytes());
    }
    info!("crash test: {}", text);
    match text {
        "panic" => panic!("crash test: panic on request"),
        // What sysrq-c does.
        "oops" => crate::fs::procfs::crash_by_null_write(),
        // SAFETY (both): deliberate faults, in asm because the accesses are
        // undefined behaviour in Rust; the handler never returns.
        "gp" => unsafe {
            // A known value in R12, which the crash notes must show.
            core::arch::asm!("mov al, byte ptr [{0}]", in(reg) 0x8000_0000_0000_0000u64, in("r12") GP_R12, out("al") _)
        },
        "wp" => {
            let (start, _) = super::region().ok_or(Errno::ENXIO)?;
            let va = crate::mm::phys_to_virt(start + 0x1000);
            unsafe { core::arch::asm!("mov byte ptr [{0}], 1", in(reg) va) }
        }
        "helper-panic" => {
            crate::arch::smp::join(|| (), || panic!("crash test: panic on the helper CPU"));
        }
        "helper-oops" => {
            crate::arch::smp::join(|| (), crate::fs::procfs::crash_by_null_write);
        }
        "stack" => {
            recurse(0);
        }
        // In a capture kernel: write into the dump's memory, which is
        // read-only here.
        "oldmem" => {
            let (start, _) = super::vmcore::first_range().ok_or(Errno::ENXIO)?;
            let va = crate::mm::phys_to_virt(start);
            // SAFETY: a deliberate write to a read-only page; it faults.
            unsafe { core::arch::asm!("mov byte ptr [{0}], 1", in(reg) va) }
        }
        "heap" => {
            let (start, size) = crate::mm::heap::bounds();
            // SAFETY: deliberately destroys the heap (free-list nodes
            // included); nothing after this returns to a caller.
            unsafe { core::ptr::write_bytes(start as *mut u8, 0xa5, size) };
            let v: alloc::vec::Vec<u8> = alloc::vec::Vec::with_capacity(4096);
            core::hint::black_box(v);
        }
        _ => return Err(Errno::EINVAL),
    }
    Err(Errno::EINVAL)
}

fn set_marker(m: &[u8]) -> Result<(), Errno> {
    // SAFETY: see Marker's Sync.
    let buf = unsafe { &mut *MARKER.0.get() };
    if m.is_empty() || m.len() > buf.len() {
        return Err(Errno::EINVAL);
    }
    buf.fill(0);
    buf[..m.len()].copy_from_slice(m);
    let va = buf.as_ptr() as u64;
    let pa = crate::boot::translate(crate::mm::paging::kernel_pml4(), va).ok_or(Errno::EFAULT)?;
    info!("crash test: marker at phys {:#x} ({} bytes)", pa, m.len());
    Ok(())
}

/// Unbounded recursion with a frame the optimizer cannot remove: runs into
/// the kernel stack's guard page.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    recurse(depth + 1).wrapping_add(frame[(depth % 64) as usize])
}
