//! kernel_read_file's checks on the fds kexec_file_load is given
//! (fs/kernel_read_file.c, kernel_read_file_from_fd), in Linux's order,
//! so that user space sees the same errno for the same file.

use core::fmt;

use abi::Errno;

/// Largest kernel or initrd file read: Linux's KEXEC_FILE_SIZE_MAX,
/// min(4 GiB, SSIZE_MAX). A file below it that memory cannot hold is ENOMEM.
pub const KEXEC_FILE_SIZE_MAX: u64 = 4 << 30;

/// What the checks need to know about an open file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdFile {
    /// Opened for reading (FMODE_READ).
    pub readable: bool,
    /// A regular file (not a directory, device, ...).
    pub regular: bool,
    /// Writers that hold it open now (deny_write_access fails with any).
    pub writers: u32,
    /// Its size in bytes.
    pub size: u64,
}

/// Why the file cannot be read for kexec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFileError {
    /// Not open for reading: EBADF.
    NotReadable,
    /// Not a regular file: EINVAL.
    NotRegular,
    /// Open for writing somewhere: ETXTBSY.
    OpenForWriting { writers: u32 },
    /// Empty: EINVAL.
    Empty,
    /// Larger than [`KEXEC_FILE_SIZE_MAX`]: EFBIG.
    TooLarge { size: u64 },
}

impl ReadFileError {
    pub fn errno(&self) -> Errno {
        match self {
            ReadFileError::NotReadable => Errno::EBADF,
            ReadFileError::NotRegular | ReadFileError::Empty => Errno::EINVAL,
            ReadFileError::OpenForWriting { .. } => Errno::ETXTBSY,
            ReadFileError::TooLarge { .. } => Errno::EFBIG,
        }
    }
}

impl fmt::Display for ReadFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadFileError::NotReadable => f.write_str("not open for reading"),
            ReadFileError::NotRegular => f.write_str("not a regular file"),
            ReadFileError::OpenForWriting { writers } => write!(f, "open for writing ({writers} writer(s))"),
            ReadFileError::Empty => f.write_str("empty"),
            ReadFileError::TooLarge { size } => {
                write!(f, "{size} bytes, more than the {KEXEC_FILE_SIZE_MAX}-byte limit")
            }
        }
    }
}

/// The checks, in kernel_read_file's order: EBADF, EINVAL (not regular),
/// ETXTBSY, EINVAL (empty), EFBIG.
pub fn kernel_read_file_check(f: &FdFile) -> Result<(), ReadFileError> {
    if !f.readable {
        return Err(ReadFileError::NotReadable);
    }
    if !f.regular {
        return Err(ReadFileError::NotRegular);
    }
    if f.writers > 0 {
        return Err(ReadFileError::OpenForWriting { writers: f.writers });
    }
    if f.size == 0 {
        return Err(ReadFileError::Empty);
    }
    if f.size > KEXEC_FILE_SIZE_MAX {
        return Err(ReadFileError::TooLarge { size: f.size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: FdFile = FdFile { readable: true, regular: true, writers: 0, size: 4096 };

    #[test]
    fn each_check_and_linux_order() {
        assert_eq!(kernel_read_file_check(&OK), Ok(()));
        let errno = |f: FdFile| kernel_read_file_check(&f).unwrap_err().errno();
        assert_eq!(errno(FdFile { readable: false, ..OK }), Errno::EBADF);
        assert_eq!(errno(FdFile { regular: false, ..OK }), Errno::EINVAL);
        assert_eq!(errno(FdFile { writers: 1, ..OK }), Errno::ETXTBSY);
        assert_eq!(errno(FdFile { size: 0, ..OK }), Errno::EINVAL);
        assert_eq!(errno(FdFile { size: KEXEC_FILE_SIZE_MAX + 1, ..OK }), Errno::EFBIG);
        // Linux reads files up to 4 GiB (memory permitting): 2-4 GiB is no longer EFBIG.
        assert_eq!(kernel_read_file_check(&FdFile { size: 3 << 30, ..OK }), Ok(()));
        assert_eq!(kernel_read_file_check(&FdFile { size: KEXEC_FILE_SIZE_MAX, ..OK }), Ok(()));
        // The order: a writer wins over emptiness (deny_write_access comes before i_size),
        // a device over everything after it, an unreadable fd over everything.
        assert_eq!(errno(FdFile { writers: 1, size: 0, ..OK }), Errno::ETXTBSY);
        assert_eq!(errno(FdFile { regular: false, writers: 1, size: 0, ..OK }), Errno::EINVAL);
        assert_eq!(errno(FdFile { readable: false, regular: false, ..OK }), Errno::EBADF);
        assert!(ReadFileError::TooLarge { size: 5 << 30 }.to_string().contains("4294967296-byte limit"));
    }
}
