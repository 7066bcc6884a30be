//! IMA's measurement list, measure-only, byte-compatible with Linux
//! (security/integrity/ima): entries of the `ima-ng` and `ima-buf`
//! templates with their template hashes ([`entry`]), the two securityfs
//! views `ascii_runtime_measurements` and `binary_runtime_measurements`
//! ([`list`]), and the buffer a kexec hands to the next kernel: the dump
//! written at `kexec -e` and the restore the next kernel runs, with
//! Linux's ima_restore_measurement_list rules ([`kexec`]).
//!
//! Native byte order is little endian (x86), which is also what
//! `ima_canonical_fmt` would write.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod entry;
pub mod kexec;
pub mod list;
pub mod sha1;

pub use entry::{file_digest, Entry, IMA_PCR, TPM_DIGEST_SIZE};
pub use kexec::{dump, kexec_buffer_size, restore, Dump, KexecHeader, RestoreError, KEXEC_HDR_SIZE};
pub use list::MeasurementList;

#[cfg(test)]
mod tests;
