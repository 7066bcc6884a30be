//! The measurement list (ima_measurements) and its two securityfs views.

use alloc::string::String;
use alloc::vec::Vec;

use crate::entry::Entry;

/// Every measurement, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MeasurementList {
    entries: Vec<Entry>,
    binary_size: usize,
}

impl MeasurementList {
    /// An empty list.
    pub const fn new() -> MeasurementList {
        MeasurementList { entries: Vec::new(), binary_size: 0 }
    }

    /// Append a measurement (ima_add_template_entry, without a TPM).
    pub fn add(&mut self, e: Entry) {
        self.binary_size += e.binary_len();
        self.entries.push(e);
    }

    /// The measurements.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of measurements (`runtime_measurements_count`).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No measurements yet?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of binary_runtime_measurements (ima_get_binary_runtime_size
    /// without the kexec header).
    pub fn binary_size(&self) -> usize {
        self.binary_size
    }

    /// `ascii_runtime_measurements`.
    pub fn ascii(&self) -> String {
        self.entries.iter().map(Entry::ascii).collect()
    }

    /// `binary_runtime_measurements`.
    pub fn binary(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.binary_size);
        for e in &self.entries {
            e.write_binary(&mut out);
        }
        out
    }
}
