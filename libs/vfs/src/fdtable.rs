//! Per-process file descriptor table.

use alloc::vec::Vec;

use abi::Errno;

/// File descriptors `0..max_fds` mapping to `T` (e.g. an open file).
#[derive(Clone, Debug)]
pub struct FdTable<T> {
    slots: Vec<Option<T>>,
    max: usize,
    used: usize,
}

impl<T> FdTable<T> {
    /// An empty table allowing descriptors `0..max_fds` (capped at `i32::MAX`).
    pub fn new(max_fds: usize) -> FdTable<T> {
        FdTable {
            slots: Vec::new(),
            max: max_fds.min(i32::MAX as usize),
            used: 0,
        }
    }

    /// Install `value` at the lowest free descriptor. `EMFILE` when full.
    pub fn alloc(&mut self, value: T) -> Result<i32, Errno> {
        let fd = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.slots.len() < self.max => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => return Err(Errno::EMFILE),
        };
        self.put(fd, value);
        Ok(fd as i32)
    }

    /// Install `value` at `fd` (dup2-style), returning what was there.
    /// `EBADF` if `fd` is negative or not below `max_fds`.
    pub fn alloc_at(&mut self, fd: i32, value: T) -> Result<Option<T>, Errno> {
        let idx = self.index(fd)?;
        if idx >= self.slots.len() {
            self.slots.resize_with(idx + 1, || None);
        }
        let old = self.slots.get_mut(idx).and_then(Option::take);
        if old.is_some() {
            self.used -= 1;
        }
        self.put(idx, value);
        Ok(old)
    }

    /// The object behind `fd`; `EBADF` if negative, out of range or closed.
    pub fn get(&self, fd: i32) -> Result<&T, Errno> {
        let idx = self.index(fd)?;
        self.slots
            .get(idx)
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    /// Mutable access to the object behind `fd` (errors as [`FdTable::get`]).
    pub fn get_mut(&mut self, fd: i32) -> Result<&mut T, Errno> {
        let idx = self.index(fd)?;
        self.slots
            .get_mut(idx)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// Remove and return the object behind `fd` (`EBADF` if none).
    pub fn close(&mut self, fd: i32) -> Result<T, Errno> {
        let idx = self.index(fd)?;
        let value = self
            .slots
            .get_mut(idx)
            .and_then(Option::take)
            .ok_or(Errno::EBADF)?;
        self.used -= 1;
        Ok(value)
    }

    /// Remove every object, in descriptor order (process exit).
    pub fn drain(&mut self) -> Vec<T> {
        self.used = 0;
        core::mem::take(&mut self.slots)
            .into_iter()
            .flatten()
            .collect()
    }

    /// Number of open descriptors.
    pub fn len(&self) -> usize {
        self.used
    }

    /// True when no descriptor is open.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// The descriptor limit.
    pub fn max_fds(&self) -> usize {
        self.max
    }

    /// Open descriptors and their objects, in order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|v| (i as i32, v)))
    }

    fn index(&self, fd: i32) -> Result<usize, Errno> {
        usize::try_from(fd)
            .ok()
            .filter(|&i| i < self.max)
            .ok_or(Errno::EBADF)
    }

    fn put(&mut self, idx: usize, value: T) {
        if let Some(slot) = self.slots.get_mut(idx) {
            *slot = Some(value);
            self.used += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_and_emfile() {
        let mut t = FdTable::new(3);
        assert!(t.is_empty());
        assert_eq!(t.alloc('a'), Ok(0));
        assert_eq!(t.alloc('b'), Ok(1));
        assert_eq!(t.alloc('c'), Ok(2));
        assert_eq!(t.alloc('d'), Err(Errno::EMFILE));
        assert_eq!(t.close(1), Ok('b'));
        assert_eq!(t.close(1), Err(Errno::EBADF));
        assert_eq!(t.alloc('e'), Ok(1));
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(1), Ok(&'e'));
    }

    #[test]
    fn bad_fds() {
        let mut t: FdTable<u8> = FdTable::new(4);
        assert_eq!(t.get(-1), Err(Errno::EBADF));
        assert_eq!(t.get(0), Err(Errno::EBADF));
        assert_eq!(t.get(4), Err(Errno::EBADF));
        assert_eq!(t.get_mut(i32::MIN), Err(Errno::EBADF));
        assert_eq!(t.close(-100), Err(Errno::EBADF));
        assert_eq!(t.alloc_at(4, 1), Err(Errno::EBADF));
        assert_eq!(t.alloc_at(-1, 1), Err(Errno::EBADF));
        assert_eq!(FdTable::<u8>::new(0).alloc(1), Err(Errno::EMFILE));
    }

    #[test]
    fn alloc_at_and_drain() {
        let mut t = FdTable::new(8);
        assert_eq!(t.alloc_at(2, "err"), Ok(None));
        assert_eq!(t.alloc("x"), Ok(0));
        assert_eq!(t.alloc_at(2, "err2"), Ok(Some("err")));
        assert_eq!(t.len(), 2);
        *t.get_mut(0).unwrap() = "y";
        assert_eq!(t.alloc("z"), Ok(1));
        assert_eq!(t.alloc("w"), Ok(3));
        let v: Vec<_> = t.iter().map(|(fd, s)| (fd, *s)).collect();
        assert_eq!(v, [(0, "y"), (1, "z"), (2, "err2"), (3, "w")]);
        assert_eq!(t.drain(), ["y", "z", "err2", "w"]);
        assert_eq!(t.len(), 0);
        assert_eq!(t.alloc("again"), Ok(0));
    }
}
