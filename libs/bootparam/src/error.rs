//! Errors of the boot-protocol views and parsers.

use core::fmt;

/// What went wrong reading or building boot-protocol structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootParamError {
    /// A buffer is shorter than the structure it must hold.
    TooShort {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The setup_data list is longer than the parser accepts.
    SetupDataTooLong {
        /// The node limit.
        max_nodes: usize,
    },
    /// A setup_data `next` points back at a node already visited.
    SetupDataLoop {
        /// Physical address of the node seen twice.
        pa: u64,
    },
    /// `e820_entries` says more than the zero page's 128-entry table holds.
    BadE820Count {
        /// The `e820_entries` byte.
        count: u8,
    },
    /// A setup_data node could not be read at this physical address.
    UnreadableSetupData {
        /// Physical address of the node (or its payload).
        pa: u64,
    },
    /// A setup_data node's length is implausible.
    BadSetupDataLen {
        /// Physical address of the node.
        pa: u64,
        /// Its `len` field.
        len: u32,
    },
}

impl fmt::Display for BootParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BootParamError::TooShort { what, need, have } => {
                write!(f, "{what}: need {need} bytes, have {have}")
            }
            BootParamError::SetupDataTooLong { max_nodes } => {
                write!(f, "setup_data list longer than {max_nodes} nodes")
            }
            BootParamError::SetupDataLoop { pa } => {
                write!(f, "setup_data list loops back to the node at {pa:#x}")
            }
            BootParamError::BadE820Count { count } => {
                write!(
                    f,
                    "e820_entries is {count}, the zero page holds at most 128"
                )
            }
            BootParamError::UnreadableSetupData { pa } => {
                write!(f, "setup_data at {pa:#x} is not readable")
            }
            BootParamError::BadSetupDataLen { pa, len } => {
                write!(f, "setup_data at {pa:#x} has implausible len {len:#x}")
            }
        }
    }
}
