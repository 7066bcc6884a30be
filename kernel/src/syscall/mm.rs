//! brk, and anonymous mmap/munmap. Pages are mapped eagerly (zeroed).

use abi::mm::*;
use abi::Errno;

use super::SysResult;
use crate::mm::paging::UserPerm;
use crate::proc::with_current;

const PAGE: u64 = PAGE_SIZE;
/// Largest heap or single mapping a process may have.
const MAX_REGION: u64 = 1 << 30;

fn page_up(v: u64) -> Option<u64> {
    v.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1))
}

/// brk(2): returns the new break, or the old one when the request fails (Linux semantics).
pub fn sys_brk(addr: u64) -> SysResult {
    with_current(|p| {
        if addr < p.brk_start || addr - p.brk_start > MAX_REGION {
            return Ok(p.brk);
        }
        let (old_top, new_top) = (page_up(p.brk).unwrap_or(p.brk), page_up(addr).unwrap_or(addr));
        if new_top > old_top {
            let mut va = old_top;
            while va < new_top {
                if p.space.map_page(va, UserPerm { write: true, exec: false }).is_err() {
                    p.space.unmap_range(old_top, va); // roll back
                    return Ok(p.brk);
                }
                va += PAGE;
            }
        } else {
            p.space.unmap_range(new_top, old_top);
        }
        p.brk = addr;
        Ok(addr)
    })
}

pub fn sys_mmap(addr: u64, len: u64, prot: u64, flags: u64, _fd: u64, off: u64) -> SysResult {
    if flags & MAP_ANONYMOUS == 0 {
        return Err(Errno::ENODEV); // file mappings are not supported
    }
    let kind = flags & (MAP_SHARED | MAP_PRIVATE);
    if kind == 0 || kind == (MAP_SHARED | MAP_PRIVATE) || len == 0 || !off.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    if len > MAX_REGION {
        return Err(Errno::ENOMEM);
    }
    let perm = UserPerm { write: prot & PROT_WRITE != 0, exec: prot & PROT_EXEC != 0 };
    with_current(|p| {
        let start = if flags & MAP_FIXED != 0 {
            if !addr.is_multiple_of(PAGE) {
                return Err(Errno::EINVAL);
            }
            if addr.checked_add(len).is_none_or(|e| e > crate::mm::paging::USER_TOP) {
                return Err(Errno::ENOMEM);
            }
            addr
        } else {
            let start = p.mmap_next.checked_sub(len).ok_or(Errno::ENOMEM)?;
            if start < page_up(p.brk).unwrap_or(p.brk) + MAX_REGION {
                return Err(Errno::ENOMEM);
            }
            p.mmap_next = start;
            start
        };
        if flags & MAP_FIXED != 0 {
            p.space.unmap_range(start, start + len);
        }
        let mut va = start;
        while va < start + len {
            if let Err(e) = p.space.map_page(va, perm) {
                p.space.unmap_range(start, va);
                return Err(e);
            }
            va += PAGE;
        }
        Ok(start)
    })
}

/// munmap(2): unaligned address or zero length is EINVAL; unmapped pages in
/// the range are fine (Linux semantics).
pub fn sys_munmap(addr: u64, len: u64) -> SysResult {
    if !addr.is_multiple_of(PAGE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len).ok_or(Errno::EINVAL)?;
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    if end > crate::mm::paging::USER_TOP {
        return Err(Errno::EINVAL);
    }
    with_current(|p| p.space.unmap_range(addr, end));
    Ok(0)
}
