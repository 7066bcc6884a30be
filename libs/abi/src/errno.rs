//! Linux errno values. Syscalls return `-(errno as i64)`.

macro_rules! errnos {
    ($($name:ident = $val:expr, $msg:expr;)*) => {
        /// A Linux error number (asm-generic/errno-base.h and errno.h).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(i32)]
        #[non_exhaustive]
        pub enum Errno { $($name = $val,)* }

        impl Errno {
            /// The symbolic name, e.g. `"ENOENT"`.
            pub const fn name(self) -> &'static str {
                match self { $(Errno::$name => stringify!($name),)* }
            }
            /// The C library's `strerror` text, e.g. `"No such file or directory"`.
            pub const fn message(self) -> &'static str {
                match self { $(Errno::$name => $msg,)* }
            }
            /// The errno for a positive number, if kexos knows it.
            pub const fn from_raw(v: i32) -> Option<Errno> {
                match v { $($val => Some(Errno::$name),)* _ => None }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Invalid cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "Too many open files in system";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ETXTBSY = 26, "Text file busy";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    ERANGE = 34, "Numerical result out of range";
    ENAMETOOLONG = 36, "File name too long";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many levels of symbolic links";
    ENODATA = 61, "No data available";
    EOVERFLOW = 75, "Value too large for defined data type";
    EBADMSG = 74, "Bad message";
    ELIBBAD = 80, "Accessing a corrupted shared library";
    EMSGSIZE = 90, "Message too long";
    ENOPKG = 65, "Package not installed";
    EOPNOTSUPP = 95, "Operation not supported";
    EADDRNOTAVAIL = 99, "Cannot assign requested address";
    ENOKEY = 126, "Required key not available";
    EKEYREJECTED = 129, "Key was rejected by service";
    // Kernel-internal (include/linux/errno.h), but kexec_file_load returns
    // it for an unsupported WIN_CERTIFICATE; glibc prints "Unknown error 524".
    ENOTSUPP = 524, "Operation is not supported";
}

impl Errno {
    /// The value a syscall returns for this error: `-errno`.
    pub const fn to_ret(self) -> i64 {
        -(self as i32 as i64)
    }
    /// Decode a raw syscall return: negative values in Linux's error range
    /// (-4095..=-1) are errors.
    pub fn from_ret(ret: i64) -> Result<u64, i32> {
        if (-4095..0).contains(&ret) {
            Err((-ret) as i32)
        } else {
            Ok(ret as u64)
        }
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn values_match_linux() {
        assert_eq!(Errno::ENOENT as i32, 2);
        assert_eq!(Errno::ETXTBSY as i32, 26);
        assert_eq!(Errno::ENOSYS as i32, 38);
        assert_eq!(Errno::EADDRNOTAVAIL as i32, 99);
        assert_eq!(Errno::EKEYREJECTED as i32, 129);
        assert_eq!(Errno::EFAULT.to_ret(), -14);
        assert_eq!(Errno::from_raw(9), Some(Errno::EBADF));
        assert_eq!(Errno::from_ret(-2), Err(2));
        assert_eq!(Errno::from_ret(5), Ok(5));
        assert_eq!(Errno::ENOENT.name(), "ENOENT");
    }
}
