//! The crash trigger (Linux's __crash_kexec and crash_save_cpu): the panic
//! and fatal-exception paths call it; it boots the armed crash image
//! (kexec/mod.rs keeps its jump target) through machine_kexec.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kexec_core::phases::{PhaseList, EXEC_PHASES};

/// Set when the first registers are saved: a fault while reporting a
/// crash must not overwrite the registers of the crash itself.
static REGS_SAVED: AtomicBool = AtomicBool::new(false);
/// Set when crash_kexec starts: it runs at most once.
static STARTED: AtomicBool = AtomicBool::new(false);
/// The clock when the crash's registers were saved (the panic or fault).
static CRASH_NS: AtomicU64 = AtomicU64::new(0);

/// Record `regs` as the crashing CPU's NT_PRSTATUS (Linux's crash_save_cpu),
/// unless a crash already did. No allocation, no lock.
pub fn save_crash_regs(regs: &elfcore::CoreRegs) {
    if super::crash_jump().is_none() || REGS_SAVED.swap(true, Ordering::SeqCst) {
        return;
    }
    CRASH_NS.store(crate::time::now_ns(), Ordering::SeqCst);
    crate::crash::notes::save_prstatus(regs, crate::proc::current_pid_unlocked());
}

/// Linux's __crash_kexec: if a crash image is loaded, boot it. Returns only
/// if there is none (or a crash is already on its way). Runs with a
/// possibly corrupted heap and stack: no allocation, no lock, and the jump
/// happens on a stack of its own.
pub fn crash_kexec() {
    let Some((code, pml4, entry)) = super::crash_jump() else { return };
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    if !REGS_SAVED.load(Ordering::SeqCst) {
        save_crash_regs(&crate::arch::crash::current_regs());
    }
    // From the panic (or fault) to here: its report and backtrace.
    let report = crate::time::now_ns().saturating_sub(CRASH_NS.load(Ordering::SeqCst));
    let phases = PhaseList { phases: &[("report", report)], total_ns: report };
    crate::klog::emergency_print(format_args!("{}{}\n", EXEC_PHASES, phases));
    crate::klog::emergency_print(format_args!("kexos: crash: starting the capture kernel (purgatory at {:#x})\n", entry));
    super::machine_kexec::machine_crash_kexec(code, pml4, entry)
}
