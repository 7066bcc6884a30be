//! machine_kexec: the hardware half of kexec (arch/x86/kernel/machine_kexec_64.c),
//! for normal and crash images.
//!
//! At load time [`ControlPages::prepare`] allocates, away from every
//! destination, the pages the jump needs: one for a copy of relocate_kernel,
//! one for its stack, and identity-mapped page tables covering all memory.
//! At `kexec -e`, [`machine_kexec`] quiesces the CPU, switches to those
//! tables and jumps into the copy, which walks the entry list and enters
//! purgatory. Nothing can fail once the jump starts.

use abi::Errno;
use alloc::vec::Vec;
use memmap::Region;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::{FrameAllocator, PageTable, PhysFrame, Size4KiB};
use x86_64::PhysAddr;

use crate::mm::{frame, paging, phys_to_virt, PAGE_SIZE};

core::arch::global_asm!(include_str!("relocate_kernel.s"));

extern "C" {
    static kexos_relocate_kernel: u8;
    static kexos_relocate_kernel_end: u8;
}

/// Frames for the jump, none inside a destination range, so the copy loop
/// can never overwrite its own code, stack or page tables.
pub struct ControlPages {
    /// relocate_kernel's code page; its stack is the next page.
    code: u64,
    /// Root of the identity map.
    pml4: u64,
    /// Every frame we own (freed on drop unless the jump happened).
    owned: Vec<u64>,
}

/// Where control pages come from.
trait ControlFrames: FrameAllocator<Size4KiB> {
    /// Two physically contiguous frames (relocate_kernel's code and stack).
    fn code_pair(&mut self) -> Option<u64>;
    /// Frames that belong to the control pages and must be freed with them.
    fn take_owned(&mut self) -> Vec<u64>;
    /// The identity map's root, so that purgatory can start its second CPU
    /// on it when it is below ap_boot::PML4_LIMIT (the start-up code loads
    /// CR3 in 32-bit form). By default the next frame: crash images place
    /// their whole stretch below 4 GiB when the region reaches there.
    fn root_frame(&mut self) -> Option<u64> {
        self.allocate_frame().map(|f| f.start_address().as_u64())
    }
}

/// Hands out zeroed frames that avoid `avoid`; rejects are kept aside so the
/// allocator cannot return them again, and freed afterwards.
struct AvoidingFrames<'a> {
    avoid: &'a [(u64, u64)],
    owned: Vec<u64>,
    rejected: Vec<u64>,
}

impl AvoidingFrames<'_> {
    fn clashes(&self, pa: u64, len: u64) -> bool {
        self.avoid.iter().any(|&(s, e)| pa < e && pa + len > s)
    }
}

// SAFETY: every frame returned is freshly allocated, zeroed and unique.
unsafe impl FrameAllocator<Size4KiB> for AvoidingFrames<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        loop {
            let pa = frame::alloc_zeroed()?;
            if self.clashes(pa, PAGE_SIZE) {
                self.rejected.push(pa);
                continue;
            }
            self.owned.push(pa);
            return Some(PhysFrame::containing_address(PhysAddr::new(pa)));
        }
    }
}

impl ControlFrames for AvoidingFrames<'_> {
    fn root_frame(&mut self) -> Option<u64> {
        while let Some(pa) = frame::alloc_zeroed_below(ap_boot::PML4_LIMIT) {
            if !self.clashes(pa, PAGE_SIZE) {
                self.owned.push(pa);
                return Some(pa);
            }
            self.rejected.push(pa);
        }
        self.allocate_frame().map(|f| f.start_address().as_u64())
    }
    fn code_pair(&mut self) -> Option<u64> {
        loop {
            let pa = frame::alloc_contiguous(2, PAGE_SIZE)?;
            if self.clashes(pa, 2 * PAGE_SIZE) {
                self.rejected.extend([pa, pa + PAGE_SIZE]);
                continue;
            }
            self.owned.extend([pa, pa + PAGE_SIZE]);
            return Some(pa);
        }
    }
    fn take_owned(&mut self) -> Vec<u64> {
        core::mem::take(&mut self.owned)
    }
}

/// Crash images: control pages come from a free stretch of the crash
/// region itself (Linux's kimage_alloc_crash_control_pages), so they are
/// reserved memory the crashing kernel never hands out. Nothing is owned:
/// the region is the crash image's.
struct RegionFrames {
    next: u64,
    end: u64,
}

impl RegionFrames {
    fn take(&mut self, pages: u64) -> Option<u64> {
        let pa = self.next;
        let end = pa.checked_add(pages * PAGE_SIZE)?;
        if end > self.end {
            return None;
        }
        self.next = end;
        // SAFETY: reserved crash-region frames handed to us by the caller,
        // mapped (writable) in the direct map.
        unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, (pages * PAGE_SIZE) as usize) };
        Some(pa)
    }
}

// SAFETY: each frame of the stretch is handed out once, zeroed.
unsafe impl FrameAllocator<Size4KiB> for RegionFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        self.take(1).map(|pa| PhysFrame::containing_address(PhysAddr::new(pa)))
    }
}

impl ControlFrames for RegionFrames {
    fn code_pair(&mut self) -> Option<u64> {
        self.take(2)
    }
    fn take_owned(&mut self) -> Vec<u64> {
        Vec::new()
    }
}

impl Drop for AvoidingFrames<'_> {
    fn drop(&mut self) {
        for &pa in &self.rejected {
            frame::free(pa);
        }
    }
}

impl ControlPages {
    /// `destinations`: every segment's [mem, mem+memsz). `regions`: the
    /// memory map (the identity map covers all of it and at least 4 GiB).
    pub fn prepare(destinations: &[(u64, u64)], regions: &[Region]) -> Result<ControlPages, Errno> {
        let mut frames = AvoidingFrames { avoid: destinations, owned: Vec::new(), rejected: Vec::new() };
        match Self::build(&mut frames, regions) {
            Ok((code, pml4)) => Ok(ControlPages { code, pml4, owned: frames.take_owned() }),
            Err(e) => {
                for pa in frames.owned.drain(..) {
                    frame::free(pa);
                }
                Err(e)
            }
        }
    }

    /// Control pages for a crash image, built in `[start, start +
    /// pages_needed * 4 KiB)`, a stretch of the crash region no segment uses.
    pub fn prepare_in(start: u64, regions: &[Region]) -> Result<ControlPages, Errno> {
        let end = start + Self::pages_needed(regions) * PAGE_SIZE;
        let mut frames = RegionFrames { next: start, end };
        let (code, pml4) = Self::build(&mut frames, regions)?;
        Ok(ControlPages { code, pml4, owned: Vec::new() })
    }

    /// Upper bound of the pages [`ControlPages::prepare_in`] uses: code and
    /// stack, the PML4, and the identity map's PDPTs and page directories
    /// (2 MiB pages, see paging::map_physical).
    pub fn pages_needed(regions: &[Region]) -> u64 {
        let top = paging::physical_map_top(regions);
        2 + 1 + top.div_ceil(512 << 30) + top.div_ceil(1 << 30)
    }

    fn build(frames: &mut impl ControlFrames, regions: &[Region]) -> Result<(u64, u64), Errno> {
        // Code + stack: two contiguous frames.
        let code = frames.code_pair().ok_or(Errno::ENOMEM)?;
        let pml4 = frames.root_frame().ok_or(Errno::ENOMEM)?;
        // SAFETY: a fresh, unused table.
        let mut m = unsafe { paging::mapper(pml4) };
        paging::map_physical(&mut m, regions, 0, false, frames)?;
        // The kernel half too: machine_kexec is still running from it when
        // it loads CR3, before it jumps to the identity-mapped copy.
        // SAFETY: both are page tables in the direct map; the new one is ours.
        unsafe {
            let kernel = &*(phys_to_virt(paging::kernel_pml4()) as *const PageTable);
            let new = &mut *(phys_to_virt(pml4) as *mut PageTable);
            for i in 256..512 {
                new[i] = kernel[i].clone();
            }
        }
        // relocate_kernel's code into the control page.
        // SAFETY: linker symbols delimit the assembled routine; the control
        // page is ours and mapped in the direct map.
        unsafe {
            let start = &kexos_relocate_kernel as *const u8;
            let len = (&kexos_relocate_kernel_end as *const u8).offset_from(start) as usize;
            assert!(len <= PAGE_SIZE as usize, "relocate_kernel outgrew its page");
            core::ptr::copy_nonoverlapping(start, phys_to_virt(code) as *mut u8, len);
        }
        Ok((code, pml4))
    }

    /// relocate_kernel's code page and the identity map's root, for a jump
    /// that must not touch the heap (the crash path keeps them in atomics).
    pub fn jump_target(&self) -> (u64, u64) {
        (self.code, self.pml4)
    }

    /// Physical pages used, for the debug listing.
    pub fn count(&self) -> usize {
        self.owned.len()
    }
}

impl Drop for ControlPages {
    fn drop(&mut self) {
        for &pa in &self.owned {
            frame::free(pa);
        }
    }
}

/// Jump into the loaded image: `head` is the entry list's first entry,
/// `entry` purgatory's physical entry point. The caller has run the reboot
/// notifiers; this quiesces the CPU and never returns.
pub fn machine_kexec(control: &ControlPages, head: u64, entry: u64) -> ! {
    jump(control.code, control.pml4, head, entry)
}

/// The entry list of a crash image: its segments were written at load time,
/// so relocate_kernel only sees IND_DONE and goes straight to purgatory.
pub const CRASH_HEAD: u64 = 0x4;

/// Quiesce the CPU, switch to the identity map `pml4` and enter
/// relocate_kernel's copy at `code`. Allocates nothing and takes no lock:
/// the crash path calls it with a possibly corrupted heap.
pub fn jump(code: u64, pml4: u64, head: u64, entry: u64) -> ! {
    x86_64::instructions::interrupts::disable();
    // No device of ours does DMA; silence interrupt sources the next kernel
    // will set up itself. The LAPIC stays in virtual-wire mode, the state
    // Linux expects to inherit.
    crate::arch::pic::mask_all();
    // The other CPUs back to wait-for-SIPI, where the next kernel expects them.
    crate::arch::smp::park_others();
    // SAFETY: the identity tables map all memory and the kernel half, so
    // execution continues here after the switch; the control page holds
    // relocate_kernel, whose register contract (relocate_kernel.s) is met
    // below. From here on the old kernel is gone.
    unsafe {
        Cr3::write(PhysFrame::containing_address(PhysAddr::new(pml4)), Cr3Flags::empty());
        core::arch::asm!(
            "jmp {code}",
            code = in(reg) code,
            in("rdi") head,
            in("rsi") code,
            in("rdx") entry,
            options(noreturn)
        )
    }
}

/// Linux's machine_crash_shutdown + machine_kexec for a crash image: move to
/// the crash stack (the current one may have overflowed), quiesce, enter
/// relocate_kernel at `code` under the identity map `pml4`, which finds an
/// empty entry list and starts purgatory at `entry`. Never returns;
/// allocates nothing.
pub fn machine_crash_kexec(code: u64, pml4: u64, entry: u64) -> ! {
    x86_64::instructions::interrupts::disable();
    extern "C" fn on_crash_stack(code: u64, pml4: u64, entry: u64) -> ! {
        jump(code, pml4, CRASH_HEAD, entry)
    }
    // SAFETY: CRASH_STACK is used by nothing else; the call never returns.
    unsafe {
        core::arch::asm!(
            "mov rsp, {stack}",
            "xor ebp, ebp",
            "call {f}",
            "ud2",
            stack = in(reg) crate::arch::stack::CRASH_STACK.top(),
            f = sym on_crash_stack,
            in("rdi") code,
            in("rsi") pml4,
            in("rdx") entry,
            options(noreturn)
        )
    }
}
