//! File-system ABI: open flags, modes, `struct stat`, `linux_dirent64`.

pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_ACCMODE: u32 = 3;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_PATH: u32 = 0o10000000;

/// `dirfd` meaning "relative to the current directory" (openat etc.).
pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_EMPTY_PATH: u32 = 0x1000;

pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;

pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_IFSOCK: u32 = 0o140000;

/// `d_type` values in `linux_dirent64`.
pub const DT_UNKNOWN: u8 = 0;
pub const DT_CHR: u8 = 2;
pub const DT_DIR: u8 = 4;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;

/// Longest path accepted (PATH_MAX, including the NUL).
pub const PATH_MAX: usize = 4096;
/// Longest single name (NAME_MAX).
pub const NAME_MAX: usize = 255;

/// x86_64 `struct stat` (arch/x86/include/uapi/asm/stat.h), 144 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_nlink: u64,
    pub st_mode: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub __pad0: u32,
    pub st_rdev: u64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime: u64,
    pub st_atime_nsec: u64,
    pub st_mtime: u64,
    pub st_mtime_nsec: u64,
    pub st_ctime: u64,
    pub st_ctime_nsec: u64,
    pub __unused: [i64; 3],
}
const _: () = assert!(core::mem::size_of::<Stat>() == 144);
const _: () = assert!(core::mem::offset_of!(Stat, st_size) == 48);

impl Stat {
    /// The bytes as they are laid out in user memory.
    pub fn to_bytes(&self) -> [u8; 144] {
        let mut out = [0u8; 144];
        let words: [u64; 18] = [
            self.st_dev,
            self.st_ino,
            self.st_nlink,
            (self.st_mode as u64) | ((self.st_uid as u64) << 32),
            (self.st_gid as u64) | ((self.__pad0 as u64) << 32),
            self.st_rdev,
            self.st_size as u64,
            self.st_blksize as u64,
            self.st_blocks as u64,
            self.st_atime,
            self.st_atime_nsec,
            self.st_mtime,
            self.st_mtime_nsec,
            self.st_ctime,
            self.st_ctime_nsec,
            self.__unused[0] as u64,
            self.__unused[1] as u64,
            self.__unused[2] as u64,
        ];
        for (i, w) in words.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out
    }
    /// Parse the 144-byte user layout.
    pub fn from_bytes(b: &[u8; 144]) -> Stat {
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
        Stat {
            st_dev: w(0),
            st_ino: w(1),
            st_nlink: w(2),
            st_mode: w(3) as u32,
            st_uid: (w(3) >> 32) as u32,
            st_gid: w(4) as u32,
            __pad0: (w(4) >> 32) as u32,
            st_rdev: w(5),
            st_size: w(6) as i64,
            st_blksize: w(7) as i64,
            st_blocks: w(8) as i64,
            st_atime: w(9),
            st_atime_nsec: w(10),
            st_mtime: w(11),
            st_mtime_nsec: w(12),
            st_ctime: w(13),
            st_ctime_nsec: w(14),
            __unused: [w(15) as i64, w(16) as i64, w(17) as i64],
        }
    }
}

/// `struct linux_dirent64` header: d_ino u64, d_off i64, d_reclen u16,
/// d_type u8, then the NUL-terminated name; records are 8-byte aligned.
pub const DIRENT64_HEADER: usize = 19;

/// Size of one `linux_dirent64` record holding `name_len` name bytes.
pub const fn dirent64_reclen(name_len: usize) -> usize {
    (DIRENT64_HEADER + name_len + 1 + 7) & !7
}

/// Append one `linux_dirent64` record to `out` if it fits in `cap` bytes.
/// Returns false (and appends nothing) when it does not fit.
pub fn dirent64_push(
    out: &mut [u8],
    used: &mut usize,
    ino: u64,
    off: i64,
    d_type: u8,
    name: &[u8],
) -> bool {
    let reclen = dirent64_reclen(name.len());
    if *used + reclen > out.len() {
        return false;
    }
    let rec = &mut out[*used..*used + reclen];
    rec.fill(0);
    rec[0..8].copy_from_slice(&ino.to_le_bytes());
    rec[8..16].copy_from_slice(&off.to_le_bytes());
    rec[16..18].copy_from_slice(&(reclen as u16).to_le_bytes());
    rec[18] = d_type;
    rec[19..19 + name.len()].copy_from_slice(name);
    *used += reclen;
    true
}

/// One decoded `linux_dirent64` record.
#[derive(Debug, PartialEq, Eq)]
pub struct Dirent<'a> {
    pub ino: u64,
    pub off: i64,
    pub d_type: u8,
    pub name: &'a [u8],
}

/// Iterate over the records getdents64 wrote into `buf`.
pub fn dirents(buf: &[u8]) -> impl Iterator<Item = Dirent<'_>> {
    let mut pos = 0usize;
    core::iter::from_fn(move || {
        if pos + DIRENT64_HEADER > buf.len() {
            return None;
        }
        let rec = &buf[pos..];
        let reclen = u16::from_le_bytes([rec[16], rec[17]]) as usize;
        if reclen < DIRENT64_HEADER || reclen > rec.len() {
            return None;
        }
        let name_area = &rec[19..reclen];
        let nlen = name_area
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(name_area.len());
        pos += reclen;
        Some(Dirent {
            ino: u64::from_le_bytes(rec[0..8].try_into().unwrap()),
            off: i64::from_le_bytes(rec[8..16].try_into().unwrap()),
            d_type: rec[18],
            name: &name_area[..nlen],
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn stat_roundtrip() {
        let s = Stat {
            st_ino: 7,
            st_mode: S_IFREG | 0o644,
            st_size: 1234,
            st_uid: 3,
            ..Default::default()
        };
        assert_eq!(Stat::from_bytes(&s.to_bytes()), s);
        assert_eq!(&s.to_bytes()[48..56], &1234u64.to_le_bytes());
    }
    #[test]
    fn dirent_roundtrip() {
        let mut buf = [0u8; 64];
        let mut used = 0;
        assert!(dirent64_push(&mut buf, &mut used, 5, 1, DT_REG, b"init"));
        assert_eq!(used, 24);
        assert!(dirent64_push(&mut buf, &mut used, 6, 2, DT_DIR, b"etc"));
        assert!(!dirent64_push(
            &mut buf,
            &mut used,
            7,
            3,
            DT_DIR,
            b"a-very-long-name-that-does-not-fit"
        ));
        let v: [_; 2] = {
            let mut it = dirents(&buf[..used]);
            [it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(
            v[0],
            Dirent {
                ino: 5,
                off: 1,
                d_type: DT_REG,
                name: b"init"
            }
        );
        assert_eq!(v[1].name, b"etc");
    }
}
