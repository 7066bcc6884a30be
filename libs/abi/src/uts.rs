//! `struct utsname` (include/uapi/linux/utsname.h): six 65-byte fields.
pub const UTS_FIELD: usize = 65;
pub const UTSNAME_SIZE: usize = UTS_FIELD * 6;
/// Field indices in order: sysname, nodename, release, version, machine, domainname.
pub const SYSNAME: usize = 0;
pub const NODENAME: usize = 1;
pub const RELEASE: usize = 2;
pub const VERSION: usize = 3;
pub const MACHINE: usize = 4;
pub const DOMAINNAME: usize = 5;

/// Build the 390-byte utsname image from six strings (each truncated to 64 bytes).
pub fn utsname(fields: [&str; 6]) -> [u8; UTSNAME_SIZE] {
    let mut out = [0u8; UTSNAME_SIZE];
    for (i, f) in fields.iter().enumerate() {
        let b = f.as_bytes();
        let n = b.len().min(UTS_FIELD - 1);
        out[i * UTS_FIELD..i * UTS_FIELD + n].copy_from_slice(&b[..n]);
    }
    out
}

/// Read field `i` of a utsname image as text (up to its NUL).
pub fn field(buf: &[u8; UTSNAME_SIZE], i: usize) -> &str {
    let f = &buf[i * UTS_FIELD..(i + 1) * UTS_FIELD];
    let n = f.iter().position(|&c| c == 0).unwrap_or(f.len());
    core::str::from_utf8(&f[..n]).unwrap_or("?")
}
