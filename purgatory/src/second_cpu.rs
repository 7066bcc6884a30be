//! A second CPU for the check (purgatory_abi::SECOND_CPU): the start-up IPIs
//! to libs/ap-boot's code, one job, and an INIT to park it again before the
//! next kernel. purgatory_core::split decides what the job hashes.

use core::arch::asm;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use ap_boot::{ApParams, ApicBase, Ipi};
use purgatory_core::{Console, SecondCpu};

/// The second CPU's job: a `&(dyn Fn() + Sync)` on the boot CPU's stack.
static JOB: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
/// Where the job is (`WAITING` until the second CPU claims it).
static STATE: AtomicU32 = AtomicU32::new(WAITING);
const WAITING: u32 = 0;
const RUNNING: u32 = 1;
const DONE: u32 = 2;
/// The boot CPU took the job back: the second CPU never claimed it.
const TAKEN_BACK: u32 = 3;

/// The second CPU's stack: its job hashes, as the boot CPU does on its
/// 16 KiB (entry.s).
const AP_STACK_SIZE: usize = 16 * 1024;
#[repr(C, align(16))]
struct Stack([u8; AP_STACK_SIZE]);
static mut AP_STACK: Stack = Stack([0; AP_STACK_SIZE]);

/// Whether this code runs on the second CPU (its stack is AP_STACK): the
/// panic handler's question.
pub fn on_second_cpu() -> bool {
    let rsp: u64;
    // SAFETY: reads the stack pointer only.
    unsafe { asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags)) };
    let base = &raw const AP_STACK as u64;
    rsp > base && rsp <= base + AP_STACK_SIZE as u64
}

/// CR4.PCIDE (bit 17) and CR4.LA57 (bit 12): the start-up code enters long
/// mode with 4-level paging and sets CR4 once there, where LA57 cannot be
/// changed and PCIDE needs CR3's low bits clear (SDM vol. 3A, 4.5 and 4.10.1).
const CR4_LA57_PCIDE: u64 = (1 << 12) | (1 << 17);

/// The second CPU, if the parameters and the machine allow one.
pub struct Ap {
    page: u64,
    lapic: u64,
    tsc_per_us: u64,
    /// Where to say that the second CPU was given up on.
    uart: crate::Uart,
}

impl Ap {
    /// A second CPU started from `page`, or why there is none (`page` 0:
    /// the kernel did not offer one, which needs no message).
    pub fn new(page: u64, tsc_khz: u64, uart: crate::Uart) -> Result<Ap, Option<&'static str>> {
        if page == 0 {
            return Err(None);
        }
        if !page.is_multiple_of(4096) || page > ap_boot::LAST_STARTUP_PAGE {
            return Err(Some("the start-up page is not a page below 1 MiB"));
        }
        if tsc_khz == 0 {
            return Err(Some("no TSC frequency for the start-up IPIs' wait"));
        }
        let base = ApicBase(read_msr(ApicBase::MSR));
        if !base.enabled() || base.x2apic() || !base.bsp() {
            return Err(Some("the local APIC is off, in x2APIC mode, or this is not the bootstrap processor"));
        }
        if read_cr3() >= ap_boot::PML4_LIMIT {
            return Err(Some("the identity map's root is above 4 GiB, out of the start-up code's reach"));
        }
        if base.registers() >= 1 << 32 {
            return Err(Some("the local APIC's registers are above 4 GiB, beyond what the identity map surely covers"));
        }
        if crate::read_cr4() & CR4_LA57_PCIDE != 0 {
            return Err(Some("5-level paging or PCIDs are on, which the start-up code cannot enter"));
        }
        Ok(Ap { page, lapic: base.registers(), tsc_per_us: tsc_khz.div_ceil(1000), uart })
    }

    fn send(&self, ipi: Ipi) {
        // What the IPI announces (the start-up page, the job, its state) must
        // be written before the ICR write: Release stores keep only earlier
        // accesses before them, and the compiler may move plain stores past
        // volatile ones.
        core::sync::atomic::fence(Ordering::SeqCst);
        let (high, low) = ipi.icr();
        let reg = |off: usize| (self.lapic + off as u64) as *mut u32;
        // SAFETY: the LAPIC's register page is identity-mapped (the map
        // covers the first 4 GiB) and these are its ICR registers.
        unsafe {
            reg(ap_boot::reg::ICR_HIGH).write_volatile(high);
            reg(ap_boot::reg::ICR_LOW).write_volatile(low);
            for _ in 0..ap_boot::reg::ICR_WAIT_READS {
                if reg(ap_boot::reg::ICR_LOW).read_volatile() & ap_boot::reg::ICR_PENDING == 0 {
                    break;
                }
                core::hint::spin_loop();
            }
        }
    }

    fn delay_us(&self, us: u64) {
        let end = crate::rdtsc() + self.tsc_per_us * us;
        while crate::rdtsc() < end {
            core::hint::spin_loop();
        }
    }

    /// INIT, then two start-up IPIs at the installed code (SDM vol. 3A,
    /// 9.4.4); every other CPU sits in wait-for-SIPI since the kernel's
    /// jump, the INIT makes sure of it.
    fn start(&self) {
        let params = ApParams {
            pml4: read_cr3(),
            cr4: crate::read_cr4(),
            cr0: read_cr0(),
            stack: (&raw const AP_STACK as u64) + AP_STACK_SIZE as u64,
            entry: purgatory_ap_main as *const () as u64,
        };
        // SAFETY: the kernel gave us this page below 1 MiB for the code
        // (purgatory_abi::SECOND_CPU), identity-mapped; nothing else runs.
        unsafe { ap_boot::install(self.page as *mut u8, self.page, &params) };
        self.send(Ipi::InitAllButSelf);
        for _ in 0..2 {
            self.send(Ipi::StartupAllButSelf((self.page >> 12) as u8));
            self.delay_us(ap_boot::SIPI_DELAY_US);
        }
    }
}

impl SecondCpu for Ap {
    fn beside(&mut self, ours: &mut dyn FnMut(), theirs: &(dyn Fn() + Sync)) -> bool {
        let job: &(dyn Fn() + Sync) = theirs;
        JOB.store((&raw const job).cast_mut().cast(), Ordering::Release);
        STATE.store(WAITING, Ordering::Release);
        self.start();
        let t0 = crate::rdtsc();
        ours();
        let ours_took = crate::rdtsc() - t0;
        // Not claimed 200 ms after the start-up IPIs (under TCG it takes
        // well under 1 ms): take it back. Claimed but not done after ten
        // times this CPU's own share plus a second: give up on it (the
        // caller hashes its share again). Both only bound a broken CPU; a
        // slow host must not trip them.
        let claim_by = t0 + self.tsc_per_us * 200_000;
        let done_by = crate::rdtsc() + 10 * ours_took + self.tsc_per_us * 1_000_000;
        let gave_up = loop {
            let now = crate::rdtsc();
            match STATE.load(Ordering::Acquire) {
                DONE => break None,
                WAITING if now > claim_by => {
                    if STATE.compare_exchange(WAITING, TAKEN_BACK, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                        break Some("did not claim its share within 200 ms");
                    }
                }
                RUNNING if now > done_by => break Some("did not finish its share in time"),
                _ => core::hint::spin_loop(),
            }
        };
        let ran = gave_up.is_none();
        if let Some(why) = gave_up {
            // Said once, before the verdict: the first CPU checks that share.
            self.uart.write_str(purgatory_core::purgatory_abi::SECOND_CPU_GAVE_UP_LINE);
            self.uart.write_str(why);
            self.uart.write_str(": this CPU checks it\n");
        }
        // Every other CPU back to wait-for-SIPI, where the next kernel
        // starts them from, before `job` goes out of scope.
        self.send(Ipi::InitAllButSelf);
        if !ran {
            // A CPU that was given up on may finish the instruction it is
            // in before the INIT takes it (a vCPU thread the host has
            // descheduled): give it time before its job's data is reused.
            self.delay_us(10_000);
        }
        ran
    }
}

/// The second CPU's first Rust code, on AP_STACK, under purgatory's
/// identity map, interrupts off, no IDT: it runs the job once and halts
/// until the boot CPU's INIT.
extern "C" fn purgatory_ap_main() -> ! {
    if STATE.compare_exchange(WAITING, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_ok() {
        let job = JOB.load(Ordering::Acquire).cast::<&(dyn Fn() + Sync)>();
        // SAFETY: the boot CPU stored a pointer to its `job` before the
        // start-up IPIs and keeps it alive until it sees DONE or parks this
        // CPU with an INIT.
        unsafe { (*job)() };
        STATE.store(DONE, Ordering::Release);
    }
    crate::halt_forever()
}

fn read_msr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: the callers read IA32_APIC_BASE, which has no side effects, at CPL 0.
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

fn read_cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 at CPL 0 has no side effect.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

fn read_cr0() -> u64 {
    let v: u64;
    // SAFETY: reading CR0 at CPL 0 has no side effect.
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}
