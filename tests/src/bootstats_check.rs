//! The kernel's boot memory breakdown (`mm: KiB: ...`) and boot timeline (`boot: timeline us:
//! ...`) lines, read back from a booted machine and checked against what else it says.

use anyhow::{anyhow, Result};
use bootstats::{MemBreakdown, Timeline, MEM_PREFIX, TIMELINE_PREFIX};

use crate::{markers, Machine};

/// The text after the last `pat` in `log`, to the end of its line.
fn last_line_after<'a>(log: &'a str, pat: &str) -> Option<&'a str> {
    let rest = &log[log.rfind(pat)? + pat.len()..];
    Some(rest.lines().next().unwrap_or("").trim())
}

/// Whether the last `pat` in `log` is followed by the end of its line.
fn line_complete(log: &str, pat: &str) -> bool {
    log.rfind(pat).is_some_and(|i| log[i..].contains('\n'))
}

/// The most recent boot's memory breakdown in `log` (None: no line, or one that does not parse).
pub fn last_breakdown(log: &str) -> Option<MemBreakdown> {
    MemBreakdown::parse(last_line_after(log, MEM_PREFIX)?)
}

/// The most recent boot's timeline in `log`.
pub fn last_timeline(log: &str) -> Option<Timeline> {
    Timeline::parse(last_line_after(log, TIMELINE_PREFIX)?)
}

/// Check the breakdown and timeline of the boot `m` is at (at its prompt): both lines parse;
/// the parts add up to the RAM, which is /proc/meminfo's MemTotal; the initramfs part is the
/// pages of the initramfs the kernel logged; the ramfs holds no heap (files borrow from the
/// initramfs); nothing but the named parts took memory at boot (`other` under 1 MiB); the
/// timeline's prompt mark is the `boot to prompt` figure. Returns both.
pub fn check_boot_stats(m: &mut Machine) -> Result<(MemBreakdown, Timeline)> {
    // The timeline comes after the prompt (the kernel logs it once init reads the console), so
    // it may be missing or half arrived: wait for it and its end. A check that read half a line
    // failed self_kexec_chain_in_48m once ("console 1537, tsc 6721, mm 11980, page tables").
    if !line_complete(&m.transcript(), TIMELINE_PREFIX) {
        m.expect(TIMELINE_PREFIX, std::time::Duration::from_secs(10))?;
        m.expect("\n", std::time::Duration::from_secs(10))?;
    }
    let log = m.transcript();
    let line = last_line_after(&log, MEM_PREFIX)
        .unwrap_or("(none)")
        .to_string();
    let b = MemBreakdown::parse(&line)
        .ok_or_else(|| anyhow!("no parsable `{MEM_PREFIX}` line: {line:?}"))?;
    m.check(
        b.sum_of_parts() == b.ram,
        format_args!(
            "the parts add up to {} KiB, RAM is {} KiB: {line}",
            b.sum_of_parts() >> 10,
            b.ram >> 10
        ),
    )?;
    let total = m.meminfo_kb("MemTotal")? * 1024;
    m.check(
        b.ram == total,
        format_args!(
            "breakdown RAM {} KiB, MemTotal {} KiB",
            b.ram >> 10,
            total >> 10
        ),
    )?;
    // "boot: initramfs at 0x..., N bytes": its pages.
    let initrd = last_line_after(&log, "boot: initramfs at ")
        .and_then(|l| l.strip_suffix(" bytes"))
        .and_then(|l| l.split_once(", "))
        .and_then(|(a, n)| {
            Some((
                u64::from_str_radix(a.strip_prefix("0x")?, 16).ok()?,
                n.parse::<u64>().ok()?,
            ))
        });
    let pages = initrd.map_or(0, |(pa, len)| {
        (pa + len).next_multiple_of(4096) - (pa & !4095)
    });
    m.check(
        b.initramfs == pages,
        format_args!(
            "breakdown initramfs {} bytes, the kernel's initramfs spans {pages} bytes of pages",
            b.initramfs
        ),
    )?;
    m.check(
        b.ramfs == 0,
        format_args!("the ramfs holds {} bytes of heap at boot: {line}", b.ramfs),
    )?;
    m.check(
        b.other < 1 << 20,
        format_args!(
            "{} KiB taken at boot by nothing named: {line}",
            b.other >> 10
        ),
    )?;
    m.check(
        b.kernel > 0 && b.heap > 0 && b.bitmap > 0 && b.page_tables > 0 && b.free > 0,
        format_args!("a part that cannot be empty is: {line}"),
    )?;
    let tline = last_line_after(&log, TIMELINE_PREFIX)
        .unwrap_or("(none)")
        .to_string();
    let t = Timeline::parse(&tline)
        .ok_or_else(|| anyhow!("no parsable `{TIMELINE_PREFIX}` line: {tline:?}"))?;
    let ms: f64 = last_line_after(&log, markers::BOOT_TO_PROMPT)
        .and_then(|l| l.strip_suffix(" ms"))
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| anyhow!("no `{}` line", markers::BOOT_TO_PROMPT))?;
    let prompt_us = t.us[bootstats::STEPS.len() - 1] as f64;
    m.check(
        t.us[0] > 0 && (prompt_us - ms * 1000.0).abs() < 1000.0,
        format_args!("timeline {tline} against boot to prompt {ms} ms"),
    )?;
    Ok((b, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_arrived_line_is_not_complete() {
        let half = "kexos:/# [ 0.04] boot: timeline us: console 1537, tsc 6721, mm 11980, page tables";
        assert!(!line_complete(half, TIMELINE_PREFIX));
        assert!(line_complete(&format!("{half} 19095\n"), TIMELINE_PREFIX));
        assert!(!line_complete("kexos:/# ", TIMELINE_PREFIX));
        // The last one counts: an earlier boot's whole line does not stand for this one's.
        assert!(!line_complete(&format!("{half} 1\n{half}"), TIMELINE_PREFIX));
    }
}
