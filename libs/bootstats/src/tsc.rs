//! The TSC frequency line every boot writes:
//! `time: TSC 2612.653 MHz (calibrated against the PIT)`, or, in a kexos a
//! kexos kexec'd, `... MHz (passed on by the previous kernel, not calibrated again)`;
//! and the two lines before it when the previous kernel's frequency is not
//! used ([`REFUSED_PREFIX`], [`IgnoredNodes`]).

use core::fmt;

/// The prefix of the line.
pub const TSC_PREFIX: &str = "time: TSC ";

/// The prefix of the line saying why the previous kernel's frequency is
/// not used (the reason follows: bootparam::tsc::TscRefusal).
pub const REFUSED_PREFIX: &str = "time: the TSC frequency the previous kernel passed is not used: ";

/// The line counting the TSC frequency nodes after the first (ignored).
pub struct IgnoredNodes(pub usize);

impl fmt::Display for IgnoredNodes {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "time: {} more TSC frequency nodes from the previous kernel ignored (the first one counts)", self.0)
    }
}

/// Where the frequency came from: the text in brackets ending the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TscSource {
    /// Measured against the PIT.
    Calibrated,
    /// The kexec'ing kexos's (bootparam::tsc).
    PassedOn,
}

impl TscSource {
    /// The line's ending.
    pub const fn text(self) -> &'static str {
        match self {
            TscSource::Calibrated => "(calibrated against the PIT)",
            TscSource::PassedOn => "(passed on by the previous kernel, not calibrated again)",
        }
    }
}

/// The line's text after the log timestamp.
pub struct TscLine {
    /// The frequency in kHz.
    pub khz: u64,
    /// Where it came from.
    pub source: TscSource,
}

impl fmt::Display for TscLine {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{TSC_PREFIX}{}.{:03} MHz {}", self.khz / 1000, self.khz % 1000, self.source.text())
    }
}

/// Every TSC line in `log`, in order: its MHz figure as printed
/// ("2612.653") and where the frequency came from (None for an ending this
/// parser does not know). A line that only mentions the prefix later on
/// (a shell echoing it, say) is not one.
pub fn tsc_lines(log: &str) -> impl Iterator<Item = (&str, Option<TscSource>)> {
    log.lines().filter_map(|l| {
        // The prefix starts the line or follows the log timestamp `[ ... ] `.
        let text = l.split_once("] ").filter(|(stamp, _)| stamp.starts_with('[')).map_or(l, |(_, t)| t);
        let rest = text.strip_prefix(TSC_PREFIX)?;
        let (mhz, ending) = rest.split_once(" MHz ")?;
        let source = [TscSource::Calibrated, TscSource::PassedOn].into_iter().find(|s| ending == s.text());
        Some((mhz, source))
    })
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    extern crate std;
    use super::*;
    use alloc::format;
    use alloc::vec::Vec;

    #[test]
    fn lines_are_written_and_read_back() {
        let a = TscLine { khz: 2_612_053, source: TscSource::Calibrated };
        let b = TscLine { khz: 2_612_053, source: TscSource::PassedOn };
        assert_eq!(format!("{a}"), "time: TSC 2612.053 MHz (calibrated against the PIT)");
        let log = format!(
            "[ 0.007] {a}\n[ 0.1] {REFUSED_PREFIX}5 kHz is outside 1000..=100000000 kHz\n[ 0.1] {}\n[ 0.004] {b}\n{b}\n[ 0.2] time: TSC 1.000 MHz (from nowhere)\nkexos:/# echo {b}\n",
            IgnoredNodes(2)
        );
        assert!(log.contains("time: 2 more TSC frequency nodes from the previous kernel ignored (the first one counts)"));
        let got: Vec<_> = tsc_lines(&log).collect();
        assert_eq!(
            got,
            [
                ("2612.053", Some(TscSource::Calibrated)),
                ("2612.053", Some(TscSource::PassedOn)),
                ("2612.053", Some(TscSource::PassedOn)),
                ("1.000", None)
            ]
        );
        assert_eq!(tsc_lines("kexos booting\n").count(), 0);
    }
}
