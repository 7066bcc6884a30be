//! Where a kexec's time goes, step by step (issue 13): the kernel marks the
//! end of each step of the flow with a clock reading and logs one line; the
//! bench reads the same line back with [`parse_phases`]. The line format is
//! defined here only.
//!
//! `kexec_file: load phases: read 120 us, ima 184021 us, ..., total 385115 us`
//!
//! A name marked twice (the kernel file and the initrd are both read) adds up.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// What precedes the list in a log line.
pub const LOAD_PHASES: &str = "kexec_file: load phases: ";
/// The steps of `kexec -e` before relocate_kernel (the jump itself and
/// purgatory report their own, see purgatory-abi's TIMING); after a crash,
/// the steps from the panic (or fatal exception) to the jump.
pub const EXEC_PHASES: &str = "kexec: exec phases: ";

/// Durations of named steps, in the order they first ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhaseLog {
    phases: Vec<(&'static str, u64)>,
    last_ns: u64,
    start_ns: u64,
}

impl PhaseLog {
    /// Start timing at clock reading `now_ns`.
    pub fn start(now_ns: u64) -> PhaseLog {
        PhaseLog { phases: Vec::new(), last_ns: now_ns, start_ns: now_ns }
    }

    /// Step `name` ended at `now_ns` (it began where the previous one ended).
    pub fn mark(&mut self, name: &'static str, now_ns: u64) {
        let took = now_ns.saturating_sub(self.last_ns);
        self.last_ns = now_ns.max(self.last_ns);
        match self.phases.iter_mut().find(|(n, _)| *n == name) {
            Some((_, ns)) => *ns += took,
            None => self.phases.push((name, took)),
        }
    }

    /// Nanoseconds from the start to the last mark.
    pub fn total_ns(&self) -> u64 {
        self.last_ns - self.start_ns
    }

    /// The steps and their nanoseconds.
    pub fn phases(&self) -> &[(&'static str, u64)] {
        &self.phases
    }

    /// `read 120 us, ..., total 385115 us` (microseconds, truncated).
    pub fn format(&self) -> String {
        format!("{}", PhaseList { phases: &self.phases, total_ns: self.total_ns() })
    }
}

/// The list part of a phase line, written without allocating (the crash
/// path prints it after a panic): `name N us, ..., total N us`.
pub struct PhaseList<'a> {
    /// Steps and their nanoseconds, in order.
    pub phases: &'a [(&'a str, u64)],
    /// Nanoseconds from the start to the end of the last step.
    pub total_ns: u64,
}

impl core::fmt::Display for PhaseList<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (name, ns) in self.phases {
            write!(f, "{} {} us, ", name, ns / 1000)?;
        }
        write!(f, "total {} us", self.total_ns / 1000)
    }
}

/// The (name, microseconds) pairs of a line holding `prefix` followed by
/// [`PhaseLog::format`]'s output; empty if there is none.
pub fn parse_phases(line: &str, prefix: &str) -> Vec<(String, u64)> {
    let Some(list) = line.split(prefix).nth(1) else {
        return Vec::new();
    };
    list.split(", ")
        .filter_map(|item| {
            let (name, us) = item.trim().strip_suffix(" us")?.rsplit_once(' ')?;
            Some((String::from(name), us.parse().ok()?))
        })
        .collect()
}

/// The `total` of a list [`parse_phases`] returned, in microseconds.
pub fn total_us(phases: &[(String, u64)]) -> Option<u64> {
    phases.iter().find(|(n, _)| n == "total").map(|(_, us)| *us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_add_up_and_read_back() {
        let mut p = PhaseLog::start(1_000);
        p.mark("read", 11_000);
        p.mark("ima", 2_011_000);
        p.mark("read", 2_016_500);
        p.mark("copy+digest", 3_016_500);
        assert_eq!(p.total_ns(), 3_015_500);
        let line = alloc::format!("[ 1.0] {}{}", LOAD_PHASES, p.format());
        assert_eq!(p.format(), "read 15 us, ima 2000 us, copy+digest 1000 us, total 3015 us");
        let got = parse_phases(&line, LOAD_PHASES);
        let want: Vec<(String, u64)> =
            [("read", 15), ("ima", 2000), ("copy+digest", 1000), ("total", 3015)].iter().map(|(n, v)| (String::from(*n), *v)).collect();
        assert_eq!(got, want);
        assert_eq!(total_us(&got), Some(3015));
        assert!(parse_phases("kexec_file: loaded x in 5 us", LOAD_PHASES).is_empty());
    }

    #[test]
    fn a_clock_that_goes_back_costs_nothing() {
        let mut p = PhaseLog::start(500);
        p.mark("a", 400);
        p.mark("b", 600);
        assert_eq!(p.phases(), &[("a", 0), ("b", 100)]);
        assert_eq!(p.total_ns(), 100);
    }
}
