//! Reader and writer errors.

use core::fmt;

/// Why an archive could not be read (or a member could not be written).
/// Offsets are byte offsets into the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// No `070701`/`070702` magic where a header must start.
    BadMagic { offset: usize },
    /// The archive ends early: `need` bytes were required starting at `offset`.
    Truncated { offset: usize, need: usize },
    /// A header field is not 8 hex digits.
    BadHex { offset: usize, field: &'static str },
    /// The name is empty, not NUL-terminated, has an inner NUL or is not UTF-8.
    BadName { offset: usize },
    /// A following archive does not start on a 4-byte boundary.
    BadPadding { offset: usize },
    /// A "crc" (070702) regular file whose data does not sum to its check field.
    BadChecksum {
        offset: usize,
        expected: u32,
        actual: u32,
    },
    /// Writer: a name or data does not fit the 32-bit size fields.
    TooLarge { what: &'static str, len: usize },
}

impl Error {
    /// The errno a system call reports for a malformed archive.
    pub fn errno(&self) -> abi::Errno {
        abi::Errno::EINVAL
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::BadMagic { offset } => write!(f, "cpio: bad magic at offset {offset:#x}"),
            Error::Truncated { offset, need } => {
                write!(f, "cpio: truncated at offset {offset:#x}: {need} bytes needed there")
            }
            Error::BadHex { offset, field } => {
                write!(f, "cpio: bad hex in field {field} of header at offset {offset:#x}")
            }
            Error::BadName { offset } => write!(f, "cpio: bad name in member at offset {offset:#x}"),
            Error::BadPadding { offset } => {
                write!(f, "cpio: archive at offset {offset:#x} is not 4-byte aligned")
            }
            Error::BadChecksum { offset, expected, actual } => write!(
                f,
                "cpio: checksum mismatch in member at offset {offset:#x}: header {expected:#x}, data {actual:#x}"
            ),
            Error::TooLarge { what, len } => write!(f, "cpio: {what} too large ({len} bytes)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_errno() {
        let e = Error::Truncated {
            offset: 16,
            need: 110,
        };
        assert_eq!(
            e.to_string(),
            "cpio: truncated at offset 0x10: 110 bytes needed there"
        );
        assert_eq!(e.errno(), abi::Errno::EINVAL);
        let e = Error::BadHex {
            offset: 0,
            field: "mode",
        };
        assert_eq!(
            e.to_string(),
            "cpio: bad hex in field mode of header at offset 0x0"
        );
    }
}
