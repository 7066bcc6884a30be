//! Time from the TSC, calibrated once against the PIT (8254) channel 2 on
//! the first boot; a kexec'd kexos takes the frequency the previous one
//! passed on.

use bootparam::tsc::{HandedTsc, TscRefusal};
use bootstats::tsc::{IgnoredNodes, TscLine, TscSource};
use core::sync::atomic::{AtomicU64, Ordering};
use crate::arch::pit::{Channel2, Sample, PIT_HZ};

static ENTRY_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Record the TSC at kernel entry: every timestamp is relative to it.
pub fn mark_kernel_entry() {
    ENTRY_TSC.store(crate::arch::rdtsc(), Ordering::Relaxed);
}

/// Calibration window. Short, because it is paid on every boot that was not
/// handed a usable frequency: first boots, kexos kexec'd by Linux.
const CALIBRATE_MS: u64 = 5;
/// Counter readings taken at the start of the window (the narrowest counts).
const START_SAMPLES: usize = 5;
/// TSC cycles a reading at the end may be wider than twice the start's.
const NARROW_SLACK: u64 = 2_000;
/// Readings before calibration gives up (a PIT that does not count).
const MAX_SAMPLES: usize = 1_000_000;

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

/// Measure the TSC frequency against PIT channel 2 over CALIBRATE_MS:
/// the narrowest of a few counter readings at the start, then the first
/// reading after the window that is not much wider (a wide one was
/// interrupted: the host descheduled the vCPU, an SMI), each dated by the
/// TSC in its middle. Being preempted between two readings costs nothing;
/// only the readings' widths limit the precision.
fn calibrate() -> TscSource {
    // SAFETY: calibrate runs once, at boot, before anything else uses the PIT's channel 2.
    let mut pit = unsafe { Channel2::start() };
    let mut first = pit.sample();
    for _ in 1..START_SAMPLES {
        let s = pit.sample();
        if s.width < first.width {
            first = s;
        }
    }
    let window = (PIT_HZ * CALIBRATE_MS / 1000) as u16;
    let narrow = first.width.saturating_mul(2).saturating_add(NARROW_SLACK);
    let mut best: Option<Sample> = None;
    for _ in 0..MAX_SAMPLES {
        let s = pit.sample();
        let ticks = first.count.wrapping_sub(s.count);
        if ticks < window {
            continue;
        }
        if best.is_none_or(|b| s.width < b.width) {
            best = Some(s);
        }
        // Narrow enough, or no narrow one before the count nears its wrap.
        if s.width <= narrow || ticks >= 8 * window {
            break;
        }
    }
    // Without a counting PIT (none, or gated off) the count never moves:
    // 1 MHz, the lowest frequency the kernel accepts, keeps time going.
    let hz = best.map_or(0, |end| {
        let ticks = u64::from(first.count.wrapping_sub(end.count));
        ((end.tsc.wrapping_sub(first.tsc) as u128 * PIT_HZ as u128) / ticks as u128) as u64
    });
    TSC_HZ.store(hz.max(1_000_000), Ordering::Relaxed);
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
