//! One helper CPU for the kernel's two long passes over a kernel file.
//!
//! kexec_file_load hashes the kernel file twice with SHA-256: IMA over the
//! file, Authenticode over the PE image less its checksum and signature.
//! The two byte strings differ from the first block on, so the passes share
//! nothing; [`join`] runs one of them on a second CPU while the boot CPU
//! runs the other. Nothing else runs there: the helper has no process, takes
//! no device interrupt and waits in `hlt` for the next job.
//!
//! Bring-up (Intel SDM vol. 3A, 9.4.4 "MP Initialization Example"): a
//! broadcast INIT, then two start-up IPIs with the page of libs/ap-boot's start-up code
//! below 1 MiB. No ACPI MADT: the first AP to reach the trampoline claims it
//! and the others halt there. Like Linux on CPUs of family 6 and later
//! (`init_udelay` = 0 in arch/x86/kernel/smpboot.c), kexos does not wait
//! the 10 ms the MP specification asks for after INIT, only 10 us after
//! each start-up IPI; the boot does not wait for the helper either: the
//! first kexec_file_load ([`startup_page`], else the first [`join`]) waits
//! for it a little, then runs without it.
//!
//! Every kexec and every crash (machine_kexec::jump) parks the APs with an
//! INIT, the wait-for-SIPI state the next kernel starts them from, as it
//! would after firmware; purgatory may start one again for its check
//! (kexec_core::offer_second_cpu). A capture kernel, or `nosmp` on the
//! command line, runs on one CPU (kdump kernels boot with `nr_cpus=1`: a dump
//! needs no second CPU, and the region it runs in is small), and so does a kexos
//! that is not running on the bootstrap processor (an INIT sent to the BSP
//! resets the machine, SDM 9.4.1) or finds its LAPIC in x2APIC mode.
//!
//! Page tables change only between jobs (the crash region's protection,
//! mm::protect): the helper flushes its TLB before each job instead of
//! taking shootdown IPIs.

use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};
use x86_64::instructions::interrupts;
use x86_64::registers::control::{Cr0, Cr3, Cr3Flags, Cr4};
use x86_64::structures::paging::PhysFrame;
use x86_64::PhysAddr;

use super::pic;
use super::stack::{GuardedStack, FAULT_STACK_SIZE};

/// The vector of the IPIs between the two CPUs ("a job is posted", "a job is
/// done"); their handler only acknowledges them.
pub const IPI_VECTOR: u8 = 0xf0;

/// The helper's stack: its jobs are hash passes, which need little.
const HELPER_STACK_SIZE: usize = 16 * 1024;

/// The helper's stack and its double-fault stack (guard pages unmapped by
/// mm::paging like the boot CPU's).
pub static HELPER_STACK: GuardedStack<HELPER_STACK_SIZE> = GuardedStack::new();
pub static HELPER_FAULT_STACK: GuardedStack<FAULT_STACK_SIZE> = GuardedStack::new();

/// APs were sent INIT/SIPI: they must be parked before a kexec.
static STARTED: AtomicBool = AtomicBool::new(false);
/// The helper checked in and waits for jobs.
static ONLINE: AtomicBool = AtomicBool::new(false);
/// A join is in progress (one at a time; a nested one runs inline).
static BUSY: AtomicBool = AtomicBool::new(false);
/// When the start-up IPIs went out (TSC), for the first join's wait.
static STARTED_TSC: AtomicU64 = AtomicU64::new(0);
/// The page the start-up code is in (0: not installed).
static TRAMPOLINE: AtomicU64 = AtomicU64::new(0);
/// The first join waited for the helper already.
static WAITED: AtomicBool = AtomicBool::new(false);
/// Panics and faults on the helper so far (see helper_fault).
static DYING: AtomicU32 = AtomicU32::new(0);
static BOOT_APIC_ID: AtomicU32 = AtomicU32::new(0);
static HELPER_APIC_ID: AtomicU32 = AtomicU32::new(0);
/// The posted job, taken by the helper.
static JOB: AtomicPtr<Job> = AtomicPtr::new(core::ptr::null_mut());
/// The job the helper runs, for its panic path.
static RUNNING: AtomicPtr<Job> = AtomicPtr::new(core::ptr::null_mut());

const PENDING: u8 = 0;
const DONE: u8 = 1;
const DIED: u8 = 2;

/// A closure on the boot CPU's stack, run once by the helper.
struct Job {
    run: unsafe fn(*mut ()),
    data: *mut (),
    state: AtomicU8,
}

/// Whether `join` has a second CPU.
fn helper_online() -> bool {
    ONLINE.load(Ordering::Acquire)
}

/// Start the helper CPU, unless told not to. Once, on the boot CPU, after
/// the kernel page tables, the LAPIC (arch::init_interrupts) and the SIMD
/// set-up, whose CR4 the helper copies.
pub fn init(cmdline: &str, capture_kernel: bool) {
    if let Some(arg) = cmdline.split_whitespace().find(|a| matches!(*a, "nosmp" | "nr_cpus=1" | "maxcpus=0" | "maxcpus=1")) {
        info!("smp: one CPU ({} on the command line)", arg);
        return;
    }
    if capture_kernel {
        info!("smp: one CPU (a capture kernel leaves the crashed kernel's CPUs alone)");
        return;
    }
    if !pic::lapic_enabled() {
        info!("smp: one CPU (the local APIC is disabled)");
        return;
    }
    let base = pic::apic_base();
    if !base.bsp() {
        info!("smp: one CPU (this is not the bootstrap processor: an INIT would reset the machine)");
        return;
    }
    if base.x2apic() {
        info!("smp: one CPU (the local APIC is in x2APIC mode, which kexos does not drive)");
        return;
    }
    let Some(page) = trampoline_page() else {
        info!("smp: one CPU (no free RAM page below 1 MiB for the AP start-up code)");
        return;
    };
    let Some(pml4) = boot_tables() else {
        info!("smp: one CPU (no page-table frames below 4 GiB for the AP start-up code)");
        return;
    };
    BOOT_APIC_ID.store(pic::lapic_id(), Ordering::Relaxed);
    // Stop whatever the APs run (firmware's parking loop, the previous
    // kernel's halt loop) before their code's page may be overwritten.
    pic::send_ipi(pic::Ipi::InitAllButSelf);
    STARTED.store(true, Ordering::Release);
    install_trampoline(page, pml4);
    info!("smp: starting a helper CPU (start-up code at {:#x}); used once it checks in", page);
    STARTED_TSC.store(super::rdtsc(), Ordering::Relaxed);
    // Two start-up IPIs (9.4.4), each followed by a short wait; an AP that
    // is already running ignores the second.
    let vector = (page >> 12) as u8;
    for _ in 0..2 {
        pic::send_ipi(pic::Ipi::StartupAllButSelf(vector));
        delay_us(ap_boot::SIPI_DELAY_US);
    }
}

/// Busy-wait `us` microseconds on the TSC.
fn delay_us(us: u64) {
    let end = super::rdtsc() + crate::time::tsc_hz() / 1_000_000 * us;
    while super::rdtsc() < end {
        core::hint::spin_loop();
    }
}

/// The highest RAM page below 1 MiB (not page 0: the real-mode IVT and BIOS
/// data) that nothing the boot context reserves overlaps.
fn trampoline_page() -> Option<u64> {
    let map = crate::mm::memory_map();
    let reserved = crate::boot::reserved();
    (1..0x9f_u64).rev().map(|n| n << 12).find(|&pa| {
        let end = pa + 0x1000;
        map.regions().iter().any(|r| r.kind == memmap::RegionKind::Ram && r.start <= pa && end <= r.end)
            && !reserved.iter().any(|&(s, e)| s < end && pa < e)
    })
}

/// Page tables for the way into long mode: the first 2 MiB identity-mapped
/// (one large page) and the kernel half shared with the kernel's tables.
/// Three frames below 4 GiB (CR3 is loaded in 32-bit form), kept for good:
/// an AP that lost the claim halts in the trampoline and may run it again.
fn boot_tables() -> Option<u64> {
    let mut frames = [0u64; 3];
    for i in 0..frames.len() {
        let Some(f) = crate::mm::frame::alloc_zeroed_below(ap_boot::PML4_LIMIT) else {
            // One CPU then: give back what this took.
            frames[..i].iter().for_each(|&f| crate::mm::frame::free(f));
            return None;
        };
        frames[i] = f;
    }
    let [pml4, pdpt, pd] = frames;
    let table = |pa: u64| crate::mm::phys_to_virt(pa) as *mut u64;
    let kernel = table(crate::mm::paging::kernel_pml4());
    // SAFETY: the three frames are ours, zeroed, and in the direct map; the
    // kernel PML4 is only read.
    unsafe {
        table(pd).write(0x83); // 2 MiB page at 0: present, writable, PS
        table(pdpt).write(pd | 0x3);
        table(pml4).write(pdpt | 0x3);
        for i in 256..512 {
            table(pml4).add(i).write(kernel.add(i).read());
        }
    }
    Some(pml4)
}

/// Copy libs/ap-boot's start-up code to `page` for the helper.
fn install_trampoline(page: u64, pml4: u64) {
    let p = ap_boot::ApParams {
        pml4,
        cr4: Cr4::read_raw(),
        cr0: Cr0::read_raw(),
        stack: HELPER_STACK.top(),
        entry: kexos_ap_main as *const () as u64,
    };
    // SAFETY: `page` is RAM below 1 MiB that nothing uses (trampoline_page)
    // and is in the direct map.
    unsafe { ap_boot::install(crate::mm::phys_to_virt(page) as *mut u8, page, &p) };
    TRAMPOLINE.store(page, Ordering::Relaxed);
}

/// The helper's first Rust code, on HELPER_STACK, under the trampoline's
/// page tables.
extern "C" fn kexos_ap_main() -> ! {
    // SAFETY: the kernel's tables map everything this CPU runs from now on
    // (the kernel half is the same as the trampoline tables'). Until the
    // GDT and IDT loads below, GDTR and IDTR still name the trampoline's
    // GDT and the real-mode IVT: an NMI in that window would triple-fault
    // (nothing sends one).
    unsafe {
        Cr3::write(PhysFrame::containing_address(PhysAddr::new(crate::mm::paging::kernel_pml4())), Cr3Flags::empty());
    }
    super::gdt::init_helper();
    super::idt::load_helper();
    pic::enable_helper_lapic();
    HELPER_APIC_ID.store(pic::lapic_id(), Ordering::Relaxed);
    ONLINE.store(true, Ordering::Release);
    info!("smp: helper CPU online (APIC ID {})", pic::lapic_id());
    loop {
        interrupts::disable();
        let job = JOB.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if job.is_null() {
            // sti; hlt: an IPI between the check and the hlt still wakes it.
            interrupts::enable_and_hlt();
            continue;
        }
        // From the swap on, a death reports the job (helper_died).
        RUNNING.store(job, Ordering::Relaxed);
        interrupts::enable();
        // The boot CPU may have changed the kernel's mappings since the
        // last job (mm::protect): drop every TLB entry, global ones too.
        crate::mm::protect::flush_global_tlb();
        // SAFETY: `job` is the boot CPU's, which waits for its state to
        // leave PENDING before it drops it: run once, then touched no more
        // (RUNNING is cleared, with interrupts off, before the state says DONE).
        unsafe {
            ((*job).run)((*job).data);
            interrupts::disable();
            RUNNING.store(core::ptr::null_mut(), Ordering::Relaxed);
            (*job).state.store(DONE, Ordering::Release);
        }
        pic::send_ipi(pic::Ipi::Fixed { dest: BOOT_APIC_ID.load(Ordering::Relaxed), vector: IPI_VECTOR });
    }
}

/// Run `a` here and `b` on the helper CPU at the same time, and return both
/// results; both run here, one after the other, without a helper. `b` must
/// not need the current process (the helper has none) or a lock that `a`
/// holds until it returns.
pub fn join<RA, RB, B>(a: impl FnOnce() -> RA, b: B) -> (RA, RB)
where
    B: FnOnce() -> RB + Send,
    RB: Send,
{
    wait_for_helper_once();
    if !helper_online() || BUSY.swap(true, Ordering::Acquire) {
        let ra = a();
        return (ra, b());
    }
    let mut slot = Slot { f: Some(b), out: None };
    let job = Job { run: run_slot::<B, RB>, data: (&raw mut slot).cast(), state: AtomicU8::new(PENDING) };
    let posted = (&raw const job).cast_mut();
    JOB.store(posted, Ordering::Release);
    pic::send_ipi(pic::Ipi::Fixed { dest: HELPER_APIC_ID.load(Ordering::Relaxed), vector: IPI_VECTOR });
    let ra = a();
    let state = wait(&job);
    BUSY.store(false, Ordering::Release);
    if state == DIED {
        panic!("the helper CPU died running a job (its report is above)");
    }
    (ra, slot.out.take().expect("the job ran"))
}

/// The boot does not wait for the helper to check in (under 1 ms after the
/// start-up IPIs, under TCG): the first [`startup_page`] or join waits for
/// it, up to 50 ms after the IPIs, and says so if it never came. Later
/// calls do not wait.
fn wait_for_helper_once() {
    if !STARTED.load(Ordering::Acquire) || WAITED.swap(true, Ordering::Relaxed) {
        return;
    }
    let deadline = STARTED_TSC.load(Ordering::Relaxed) + crate::time::tsc_hz() / 20;
    while !helper_online() && super::rdtsc() < deadline {
        core::hint::spin_loop();
    }
    if !helper_online() {
        info!("smp: no helper CPU checked in within 50 ms of the start-up IPIs: one CPU until one does");
    }
}

struct Slot<F, R> {
    f: Option<F>,
    out: Option<R>,
}

/// # Safety
/// `data` points at a live `Slot<F, R>` that nothing else touches.
unsafe fn run_slot<F: FnOnce() -> R, R>(data: *mut ()) {
    // SAFETY: forwarded.
    let slot = unsafe { &mut *data.cast::<Slot<F, R>>() };
    if let Some(f) = slot.f.take() {
        slot.out = Some(f());
    }
}

/// Wait until the helper marks the job: in `hlt`, which its IPI (or any
/// interrupt, the 100 Hz tick at the latest) ends, when the caller runs with
/// interrupts on; else spinning, so that no interrupt handler runs where the
/// caller did not expect one.
fn wait(job: &Job) -> u8 {
    let enabled = interrupts::are_enabled();
    loop {
        interrupts::disable();
        if let Some(s) = outcome(job) {
            if enabled {
                interrupts::enable();
            }
            return s;
        }
        if enabled {
            interrupts::enable_and_hlt();
        } else {
            core::hint::spin_loop();
        }
    }
}

/// The job's end, if it has one: DONE or DIED as the helper marked it; else,
/// once the helper went offline (helper_died), the job runs here if the
/// helper never took it, or counts as DIED if it did.
fn outcome(job: &Job) -> Option<u8> {
    let s = job.state.load(Ordering::Acquire);
    if s != PENDING {
        return Some(s);
    }
    if helper_online() {
        return None;
    }
    let posted = (job as *const Job).cast_mut();
    if JOB.compare_exchange(posted, core::ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire).is_ok() {
        // SAFETY: the job was never taken, so nothing else touches its data.
        unsafe { (job.run)(job.data) };
        return Some(DONE);
    }
    Some(DIED)
}

/// The page below 1 MiB a purgatory may start the second CPU from, when
/// one answered there: this kernel's start-up page, which the frame
/// allocator never hands out (it is below 1 MiB) and which no kernel data
/// lives in. None with one CPU, or while the helper is offline.
pub fn startup_page() -> Option<u64> {
    // Right after boot the helper may not have checked in yet: the same
    // wait the first join makes, so that both see the same answer.
    wait_for_helper_once();
    let page = TRAMPOLINE.load(Ordering::Relaxed);
    (helper_online() && page != 0).then_some(page)
}

/// Whether this code runs on the helper CPU (its stacks are its own).
pub fn on_helper() -> bool {
    let rsp: u64;
    // SAFETY: reads the stack pointer only.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags)) };
    let within = |s: u64, size: usize| rsp > s && rsp <= s + 4096 + size as u64;
    within(HELPER_STACK.guard_page(), HELPER_STACK_SIZE) || within(HELPER_FAULT_STACK.guard_page(), FAULT_STACK_SIZE)
}

/// A panic or fault on the helper CPU: `report` prints it, the first time
/// only (a fault while reporting skips straight on; a third entry just
/// stops), then [`helper_died`].
pub fn helper_fault(report: impl FnOnce()) -> ! {
    match DYING.fetch_add(1, Ordering::SeqCst) {
        0 => report(),
        1 => {}
        _ => super::halt_forever(),
    }
    helper_died()
}

/// After a panic or fault on the helper: it is gone for later joins. If it
/// was running a job, the boot CPU is told and panics in `join` (and takes
/// the crash path from there); a job posted but not taken, the boot CPU
/// runs itself.
fn helper_died() -> ! {
    interrupts::disable();
    ONLINE.store(false, Ordering::Release);
    let job = RUNNING.load(Ordering::Relaxed);
    if !job.is_null() {
        // SAFETY: RUNNING is set only while the job's owner waits for its
        // state to leave PENDING, which this store ends.
        unsafe { (*job).state.store(DIED, Ordering::Release) };
    }
    // Wake a boot CPU waiting in hlt (outcome() sees the helper offline).
    pic::send_ipi(pic::Ipi::Fixed { dest: BOOT_APIC_ID.load(Ordering::Relaxed), vector: IPI_VECTOR });
    super::halt_forever()
}

/// Put every other CPU back in wait-for-SIPI (an INIT IPI), the state a
/// kernel starts its APs from. Before every jump to another kernel, crash
/// or not: allocates nothing and takes no lock.
pub fn park_others() {
    if STARTED.load(Ordering::Acquire) && !on_helper() {
        ONLINE.store(false, Ordering::Release);
        pic::send_ipi(pic::Ipi::InitAllButSelf);
    }
}
