//! Checked access to user memory. The kernel never dereferences a user
//! pointer: every access walks the process's page tables, requires a user
//! mapping (and a writable one to write), and copies through the direct map.
//! A bad pointer is EFAULT, never a kernel fault.

use abi::Errno;
use alloc::string::String;
use alloc::vec::Vec;
use x86_64::structures::paging::PageTableFlags as F;

use super::paging::{AddressSpace, USER_TOP};
use super::{phys_to_virt, PAGE_SIZE};

/// How a range will be accessed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    /// Kernel filling a fresh image (ELF loading): ignores read-only-ness.
    Load,
}

impl AddressSpace {
    /// Visit `[addr, addr+len)` page by page as direct-map slices.
    fn walk(&self, addr: u64, len: usize, access: Access, mut f: impl FnMut(*mut u8, usize, usize)) -> Result<(), Errno> {
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        if end > USER_TOP {
            return Err(Errno::EFAULT);
        }
        // Check the whole range first, so a failed write changes nothing.
        let mut va = addr & !(PAGE_SIZE - 1);
        while va < end {
            let (_, flags) = self.translate(va).ok_or(Errno::EFAULT)?;
            if !flags.contains(F::USER_ACCESSIBLE) || (access == Access::Write && !flags.contains(F::WRITABLE)) {
                return Err(Errno::EFAULT);
            }
            va += PAGE_SIZE;
        }
        let mut done = 0usize;
        while done < len {
            let va = addr + done as u64;
            let chunk = ((PAGE_SIZE - va % PAGE_SIZE) as usize).min(len - done);
            let (pa, _) = self.translate(va).ok_or(Errno::EFAULT)?;
            f(phys_to_virt(pa) as *mut u8, done, chunk);
            done += chunk;
        }
        Ok(())
    }

    /// Check that `[addr, addr+len)` is user memory, writable if `write`,
    /// before a call with side effects (e.g. blocking on the console).
    pub fn check_user(&self, addr: u64, len: usize, write: bool) -> Result<(), Errno> {
        let access = if write { Access::Write } else { Access::Read };
        self.walk(addr, len, access, |_, _, _| {})
    }

    pub fn copy_from_user(&self, addr: u64, out: &mut [u8]) -> Result<(), Errno> {
        let dst = out.as_mut_ptr();
        // SAFETY: `walk` hands us direct-map pointers to `chunk` mapped bytes.
        self.walk(addr, out.len(), Access::Read, |p, off, n| unsafe { core::ptr::copy_nonoverlapping(p, dst.add(off), n) })
    }

    pub fn copy_to_user(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        // SAFETY: as above.
        self.walk(addr, data.len(), Access::Write, |p, off, n| unsafe { core::ptr::copy_nonoverlapping(data.as_ptr().add(off), p, n) })
    }

    /// Fill user memory regardless of its write permission (image loading).
    pub fn load_bytes(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        // SAFETY: as above.
        self.walk(addr, data.len(), Access::Load, |p, off, n| unsafe { core::ptr::copy_nonoverlapping(data.as_ptr().add(off), p, n) })
    }

    pub fn read_val<const N: usize>(&self, addr: u64) -> Result<[u8; N], Errno> {
        let mut b = [0u8; N];
        self.copy_from_user(addr, &mut b)?;
        Ok(b)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.read_val::<8>(addr)?))
    }

    /// A NUL-terminated string of at most `max` bytes (without the NUL):
    /// longer is ENAMETOOLONG (Linux's strncpy_from_user + getname rule), a
    /// bad pointer EFAULT, invalid UTF-8 EINVAL.
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<String, Errno> {
        let mut bytes = Vec::new();
        let mut va = addr;
        loop {
            let chunk = (PAGE_SIZE - va % PAGE_SIZE) as usize;
            let mut buf = [0u8; PAGE_SIZE as usize];
            self.copy_from_user(va, &mut buf[..chunk])?;
            if let Some(n) = buf[..chunk].iter().position(|&c| c == 0) {
                bytes.extend_from_slice(&buf[..n]);
                break;
            }
            bytes.extend_from_slice(&buf[..chunk]);
            if bytes.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            va += chunk as u64;
        }
        if bytes.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        String::from_utf8(bytes).map_err(|_| Errno::EINVAL)
    }

    /// A NULL-terminated array of string pointers (argv), bounded like Linux's
    /// MAX_ARG_STRINGS/E2BIG.
    pub fn read_argv(&self, addr: u64) -> Result<Vec<String>, Errno> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        let mut total = 0;
        for i in 0.. {
            let p = self.read_u64(addr + i * 8)?;
            if p == 0 {
                break;
            }
            let s = self.read_cstr(p, abi::fs::PATH_MAX)?;
            total += s.len() + 1;
            if out.len() >= 1024 || total > 128 * 1024 {
                return Err(Errno::E2BIG);
            }
            out.push(s);
        }
        Ok(out)
    }
}
