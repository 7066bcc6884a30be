//! Time from the TSC, calibrated once against the PIT (8254) channel 2 on
//! the first boot; a kexec'd kexos takes the frequency the previous one
//! passed on.

use bootparam::tsc::{HandedTsc, TscRefusal};
use bootstats::tsc::{IgnoredNodes, TscLine, TscSource};
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

static ENTRY_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Record the TSC at kernel entry: every timestamp is relative to it.
pub fn mark_kernel_entry() {
    ENTRY_TSC.store(crate::arch::rdtsc(), Ordering::Relaxed);
}

/// Calibration window. Short, because it is paid on every boot that was not
/// handed a usable frequency: first boots, kexos kexec'd by Linux.
const CALIBRATE_MS: u64 = 5;
const PIT_HZ: u64 = 1_193_182;

/// How this boot got its TSC frequency (see [`init`]).
#[derive(Clone, Copy, Debug)]
pub struct TscInit {
    source: TscSource,
    /// The kexec'ing kernel's frequency, refused, and why.
    refused: Option<TscRefusal>,
    /// TSC nodes after the first (ignored).
    later: usize,
}

/// Set the TSC frequency: the one the kexec'ing kexos passed on (`handed`,
/// from the boot context) if it is usable, since the TSC's rate does not
/// change across a kexec; else measured against the PIT. Log it with
/// [`log_frequency`].
pub fn init(handed: HandedTsc) -> TscInit {
    let (source, refused) = match handed.khz() {
        Ok(Some(khz)) => {
            TSC_HZ.store(khz * 1000, Ordering::Relaxed);
            (TscSource::PassedOn, None)
        }
        Ok(None) => (calibrate(), None),
        Err(why) => (calibrate(), Some(why)),
    };
    TscInit { source, refused, later: handed.later() }
}

/// The `time:` lines of every boot: why the previous kernel's frequency
/// was refused and how many more nodes it passed, if so; then the frequency
/// and where it came from (the bench and the scenarios read that line,
/// bootstats::tsc).
pub fn log_frequency(t: TscInit) {
    if let Some(why) = t.refused {
        info!("{}{why}", bootstats::tsc::REFUSED_PREFIX);
    }
    if t.later > 0 {
        info!("{}", IgnoredNodes(t.later));
    }
    let khz = tsc_hz() / 1000;
    info!("{}", TscLine { khz, source: t.source });
}

/// Measure the TSC frequency by letting PIT channel 2 count down
/// CALIBRATE_MS milliseconds (mode 0: OUT2, read in port 0x61 bit 5,
/// goes high at terminal count).
fn calibrate() -> TscSource {
    let count = PIT_HZ * CALIBRATE_MS / 1000;
    // SAFETY: ports 0x42/0x43/0x61 are the PIT channel 2 and its gate; the
    // speaker output is kept off.
    let cycles = unsafe {
        let mut ctl = Port::<u8>::new(0x61);
        let mut cmd = Port::<u8>::new(0x43);
        let mut ch2 = Port::<u8>::new(0x42);
        let v = ctl.read();
        ctl.write((v & !0x02) & !0x01); // gate low, speaker off
        cmd.write(0b1011_0000); // channel 2, lobyte/hibyte, mode 0, binary
        ch2.write(count as u8);
        ch2.write((count >> 8) as u8);
        let start = crate::arch::rdtsc();
        ctl.write((v & !0x02) | 0x01); // gate high: start counting
        let mut spins = 0u64;
        while ctl.read() & 0x20 == 0 {
            spins += 1;
            if spins > 100_000_000 {
                break;
            }
        }
        crate::arch::rdtsc() - start
    };
    let hz = (cycles * 1000 / CALIBRATE_MS).max(1_000_000);
    TSC_HZ.store(hz, Ordering::Relaxed);
    TscSource::Calibrated
}

/// The TSC frequency in Hz (0 before [`init`]).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// The TSC frequency in kHz, once known: what purgatory's timing line and
/// the next kernel (bootparam::tsc) get.
pub fn tsc_khz() -> Option<u64> {
    Some(tsc_hz() / 1000).filter(|&khz| khz > 0)
}

/// Nanoseconds since kernel entry (0 before [`init`]).
pub fn now_ns() -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return 0;
    }
    let delta = crate::arch::rdtsc().wrapping_sub(ENTRY_TSC.load(Ordering::Relaxed));
    ((delta as u128) * 1_000_000_000 / hz as u128) as u64
}

/// TSC cycles since kernel entry at the end of each boot step
/// (bootstats::STEPS; 0: not reached). Cycles, not time: the first steps
/// end before [`init`] knows the TSC frequency.
static STEP_CYCLES: [AtomicU64; bootstats::STEPS.len()] = [const { AtomicU64::new(0) }; bootstats::STEPS.len()];

/// The boot step `step` (one of bootstats::STEPS) ends now.
pub fn mark(step: &str) {
    if let Some(i) = bootstats::STEPS.iter().position(|s| *s == step) {
        let delta = crate::arch::rdtsc().wrapping_sub(ENTRY_TSC.load(Ordering::Relaxed));
        STEP_CYCLES[i].store(delta, Ordering::Relaxed);
    }
}

/// The boot steps marked so far, in microseconds since kernel entry.
pub fn timeline() -> bootstats::Timeline {
    let hz = TSC_HZ.load(Ordering::Relaxed).max(1);
    let mut t = bootstats::Timeline::new();
    for (i, c) in STEP_CYCLES.iter().enumerate() {
        t.us[i] = ((c.load(Ordering::Relaxed) as u128) * 1_000_000 / hz as u128) as u64;
    }
    t
}
