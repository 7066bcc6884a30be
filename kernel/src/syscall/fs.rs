//! File syscalls: read, write, openat, close, lseek, fstat, newfstatat,
//! getdents64, getcwd, chdir, mkdir, unlink.

use abi::fs::*;
use abi::Errno;
use alloc::string::String;
use alloc::vec;
use core::sync::atomic::{AtomicBool, Ordering};

use super::SysResult;
use crate::fs::dev::Device;
use crate::fs::{self as kfs, File};
use crate::proc::{with_current, Process};

/// Linux's cap on one read or write.
const MAX_RW_COUNT: usize = 0x7fff_f000;

/// Bytes moved per step of a large read or write.
const CHUNK: usize = 64 * 1024;

fn fd_num(fd: u64) -> Result<i32, Errno> {
    i32::try_from(fd as i64).map_err(|_| Errno::EBADF)
}

/// Resolve a user path against `dirfd` (AT_FDCWD or an open directory) to an
/// absolute, normalized path.
fn resolve(p: &Process, dirfd: u64, path: u64) -> Result<String, Errno> {
    let path = p.space.read_cstr(path, PATH_MAX - 1)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let base = if path.starts_with('/') || dirfd as i32 == AT_FDCWD {
        p.cwd.clone()
    } else {
        match p.fds.get(fd_num(dirfd)?)? {
            File::Node(_, dir_path) => dir_path.clone(),
            File::Device(_) => return Err(Errno::ENOTDIR),
        }
    };
    vfs::path::normalize(&base, &path)
}

pub fn sys_read(fd: u64, buf: u64, len: u64) -> SysResult {
    let fd = fd_num(fd)?;
    let len = len as usize;
    let device = with_current(|p| -> Result<Option<Device>, Errno> {
        let device = match p.fds.get(fd)? {
            File::Device(d) => Some(*d),
            File::Node(..) => None,
        };
        p.space.check_user(buf, len, true)?;
        Ok(device)
    })?;
    match device {
        Some(d) if d.is_console() => return read_console(buf, len),
        Some(d) => return read_device(d, buf, len),
        None => {}
    }
    let mut done = 0;
    while done < len {
        let mut tmp = vec![0u8; CHUNK.min(len - done)];
        let n = with_current(|p| -> Result<usize, Errno> {
            let File::Node(f, _) = p.fds.get_mut(fd)? else { return Err(Errno::EBADF) };
            let n = kfs::with(|vfs| vfs.read(f, &mut tmp))?;
            p.space.copy_to_user(buf + done as u64, &tmp[..n])?;
            Ok(n)
        });
        match n {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done as u64)
}

/// /dev/null and /dev/zero: what they give, copied out a chunk at a time.
fn read_device(d: Device, buf: u64, len: usize) -> SysResult {
    let len = len.min(MAX_RW_COUNT);
    let mut tmp = vec![0u8; CHUNK.min(len)];
    let mut done = 0;
    while done < len {
        let want = CHUNK.min(len - done);
        let n = d.read_now(&mut tmp[..want]);
        if n == 0 {
            break;
        }
        with_current(|p| p.space.copy_to_user(buf + done as u64, &tmp[..n]))?;
        done += n;
    }
    Ok(done as u64)
}

fn read_console(buf: u64, len: usize) -> SysResult {
    static FIRST: AtomicBool = AtomicBool::new(true);
    if FIRST.swap(false, Ordering::Relaxed) {
        let ns = crate::time::now_ns();
        crate::time::mark("prompt");
        info!("kexos: boot to prompt {}.{:03} ms", ns / 1_000_000, (ns / 1000) % 1000);
        info!("{}{}", bootstats::TIMELINE_PREFIX, crate::time::timeline());
    }
    let mut tmp = vec![0u8; len.min(4096)];
    let n = crate::console::read(&mut tmp);
    with_current(|p| p.space.copy_to_user(buf, &tmp[..n]))?;
    Ok(n as u64)
}

pub fn sys_write(fd: u64, buf: u64, len: u64) -> SysResult {
    let fd = fd_num(fd)?;
    let len = len as usize;
    // /dev/null and /dev/zero take everything without reading it (Linux's
    // write_null); the buffer must still be the caller's memory.
    let sink = with_current(|p| -> Result<bool, Errno> {
        Ok(matches!(p.fds.get(fd)?, File::Device(d) if !d.is_console()))
    })?;
    if sink {
        // Linux caps one read or write at MAX_RW_COUNT (INT_MAX & PAGE_MASK).
        let len = len.min(MAX_RW_COUNT);
        with_current(|p| p.space.check_user(buf, len, false))?;
        return Ok(len as u64);
    }
    let mut done = 0;
    while done < len || len == 0 {
        let mut tmp = vec![0u8; CHUNK.min(len - done)];
        let r = with_current(|p| -> Result<usize, Errno> {
            let file = p.fds.get_mut(fd)?;
            p.space.copy_from_user(buf + done as u64, &mut tmp)?;
            match file {
                // Only the console gets here: /dev/null and /dev/zero returned above.
                File::Device(_) => {
                    crate::console::write_bytes(&tmp);
                    Ok(tmp.len())
                }
                File::Node(f, _) => kfs::write(f, &tmp),
            }
        });
        match r {
            Ok(n) if len == 0 || n == 0 => {
                done += n;
                break;
            }
            Ok(n) => done += n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done as u64)
}

pub fn sys_openat(dirfd: u64, path: u64, flags: u64, mode: u64) -> SysResult {
    with_current(|p| {
        let path = resolve(p, dirfd, path)?;
        // Check for a free slot first: an open for writing must not be
        // counted as a writer and then dropped on EMFILE.
        if p.fds.len() >= crate::proc::MAX_FDS {
            return Err(Errno::EMFILE);
        }
        let file = match kfs::open(&path, flags as u32, mode as u32 & 0o7777)? {
            File::Node(f, _) => File::Node(f, path),
            other => other,
        };
        Ok(p.fds.alloc(file)? as u64)
    })
}

/// A second descriptor for the same file. Note: the copy gets its own file
/// offset (Linux shares one open file description); enough for redirection,
/// where the original is closed right after.
fn dup_file(file: &File) -> Result<File, Errno> {
    Ok(match file {
        File::Device(d) => File::Device(*d),
        File::Node(f, path) => File::Node(kfs::with(|vfs| vfs.dup(f))?, path.clone()),
    })
}

pub fn sys_dup(fd: u64) -> SysResult {
    with_current(|p| {
        let copy = dup_file(p.fds.get(fd_num(fd)?)?)?;
        if p.fds.len() >= crate::proc::MAX_FDS {
            kfs::close(copy);
            return Err(Errno::EMFILE);
        }
        Ok(p.fds.alloc(copy)? as u64)
    })
}

pub fn sys_dup2(old: u64, new: u64) -> SysResult {
    with_current(|p| {
        let (old, new) = (fd_num(old)?, fd_num(new)?);
        let copy = dup_file(p.fds.get(old)?)?;
        if old == new {
            kfs::close(copy);
            return Ok(new as u64);
        }
        if new < 0 || new as usize >= crate::proc::MAX_FDS {
            kfs::close(copy);
            return Err(Errno::EBADF);
        }
        if let Some(previous) = p.fds.alloc_at(new, copy)? {
            kfs::close(previous);
        }
        Ok(new as u64)
    })
}

pub fn sys_close(fd: u64) -> SysResult {
    let file = with_current(|p| p.fds.close(fd_num(fd)?))?;
    kfs::close(file);
    Ok(0)
}

pub fn sys_lseek(fd: u64, off: u64, whence: u64) -> SysResult {
    with_current(|p| match p.fds.get_mut(fd_num(fd)?)? {
        File::Device(d) => d.lseek(),
        File::Node(f, _) => kfs::with(|vfs| vfs.lseek(f, off as i64, whence as u32)),
    })
}

pub fn sys_fstat(fd: u64, buf: u64) -> SysResult {
    with_current(|p| {
        let st = match p.fds.get(fd_num(fd)?)? {
            File::Device(d) => d.stat(),
            File::Node(f, _) => kfs::with(|vfs| vfs.fstat(f)),
        };
        p.space.copy_to_user(buf, &st.to_bytes())?;
        Ok(0)
    })
}

pub fn sys_newfstatat(dirfd: u64, path: u64, buf: u64, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & AT_EMPTY_PATH != 0 && with_current(|p| p.space.read_cstr(path, PATH_MAX - 1))?.is_empty() {
        return sys_fstat(dirfd, buf);
    }
    with_current(|p| {
        let path = resolve(p, dirfd, path)?;
        let st = kfs::with(|vfs| -> Result<Stat, Errno> {
            let ino = if flags & AT_SYMLINK_NOFOLLOW != 0 { vfs.lookup_nofollow(&path)? } else { vfs.lookup(&path)? };
            Ok(vfs.stat(ino))
        })?;
        p.space.copy_to_user(buf, &st.to_bytes())?;
        Ok(0)
    })
}

pub fn sys_getdents64(fd: u64, buf: u64, len: u64) -> SysResult {
    with_current(|p| {
        let len = (len as usize).min(CHUNK);
        p.space.check_user(buf, len, true)?;
        let File::Node(f, _) = p.fds.get_mut(fd_num(fd)?)? else { return Err(Errno::ENOTDIR) };
        let mut tmp = vec![0u8; len];
        let n = kfs::with(|vfs| vfs.getdents64(f, &mut tmp))?;
        p.space.copy_to_user(buf, &tmp[..n])?;
        Ok(n as u64)
    })
}

/// getcwd(2): returns the length including the NUL; ERANGE if it does not fit.
pub fn sys_getcwd(buf: u64, size: u64) -> SysResult {
    with_current(|p| {
        let mut bytes = p.cwd.clone().into_bytes();
        bytes.push(0);
        if bytes.len() as u64 > size {
            return Err(Errno::ERANGE);
        }
        p.space.copy_to_user(buf, &bytes)?;
        Ok(bytes.len() as u64)
    })
}

pub fn sys_chdir(path: u64) -> SysResult {
    with_current(|p| {
        let path = resolve(p, AT_FDCWD as u64, path)?;
        kfs::with(|vfs| -> Result<(), Errno> {
            let ino = vfs.lookup(&path)?;
            match vfs.kind(ino) {
                vfs::NodeKind::Dir => Ok(()),
                _ => Err(Errno::ENOTDIR),
            }
        })?;
        p.cwd = path;
        Ok(0)
    })
}

pub fn sys_mkdir(path: u64, mode: u64) -> SysResult {
    with_current(|p| {
        let path = resolve(p, AT_FDCWD as u64, path)?;
        kfs::with(|vfs| vfs.mkdir(&path, mode as u32 & 0o7777))?;
        Ok(0)
    })
}

pub fn sys_unlink(path: u64) -> SysResult {
    with_current(|p| {
        let path = resolve(p, AT_FDCWD as u64, path)?;
        kfs::with(|vfs| vfs.unlink(&path))?;
        Ok(0)
    })
}
