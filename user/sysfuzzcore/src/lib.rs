//! The core of `/bin/sysfuzz SEED COUNT` (issue 12): a deterministic
//! generator of random syscalls with edge-case arguments, and the guards
//! that keep a call from ending the run or the machine without finding a
//! kernel bug.
//!
//! Every implemented syscall number and some unimplemented ones are drawn;
//! each argument comes from a pool for its kind: file descriptors (valid,
//! closed, negative, huge), user buffers (NULL, 1, kernel addresses,
//! non-canonical, unmapped, the last bytes of a page whose successor is
//! unmapped, the fuzzer's scratch area), lengths (0, 1, page sizes, 2^31,
//! u64::MAX, ...), paths (scratch files, read-only system files, empty,
//! too long, unterminated at the edge of a page) and flags (every bit).
//!
//! Guards, each a rewrite of the drawn call (counted, never silent):
//! - exit/exit_group become getpid; execve only with paths that cannot
//!   run (the real programs are not in the path pool);
//! - reboot never carries both magics unless the run allows it;
//! - the console (fds 0-2) is replaced by /dev/null for read, write,
//!   ioctl, dup and dup2 (a read would wait for input, a write would spray
//!   the console, a copy would allow both), and close never takes fds 0-2;
//! - anything that writes memory writes only the scratch area (or addresses
//!   that must fail); mmap MAP_FIXED and munmap only touch the playground
//!   region; brk only queries or asks for what must fail;
//! - paths outside the scratch directory are opened read-only and never
//!   unlinked or created (so /boot, /sbin/init, /sys/kernel/... survive).

#![no_std]

extern crate alloc;

use abi::nr;

/// x86-64's page size.
pub const PAGE: u64 = 4096;

/// A splitmix64 generator: the same seed gives the same calls everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// Where the fuzzer's memory and files are (set up by the program).
#[derive(Clone, Debug)]
pub struct Env {
    /// A mapped, writable area the kernel may write into.
    pub scratch: u64,
    pub scratch_len: u64,
    /// The first byte of an unmapped page that follows a mapped one.
    pub page_end: u64,
    /// A mapped region mmap(MAP_FIXED) and munmap may replace or remove.
    pub playground: u64,
    pub playground_len: u64,
    /// NUL-terminated paths in memory: scratch files (mutable) first.
    pub scratch_paths: alloc::vec::Vec<u64>,
    /// NUL-terminated paths the fuzzer may only read.
    pub readonly_paths: alloc::vec::Vec<u64>,
    /// A path of more than PATH_MAX bytes, NUL-terminated.
    pub long_path: u64,
    /// fds the fuzzer opened (scratch files, /dev/null, read-only files).
    pub fds: alloc::vec::Vec<i32>,
    /// An fd of /dev/null (the console's stand-in).
    pub null_fd: i32,
    /// Allow reboot with valid magics and kexec jumps (never by default).
    pub allow_reboot: bool,
}

/// One syscall to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub nr: u64,
    pub args: [u64; 6],
    /// A guard rewrote something the generator drew.
    pub guarded: bool,
}

/// Numbers with no implementation in kexos (must be ENOSYS): a sample of
/// Linux's real ones and out-of-range values.
pub const UNIMPLEMENTED: [u64; 8] = [13, 56, 57, 101, 322, 400, 0x4000_0000, u64::MAX];

/// The implemented numbers the generator draws (exit, exit_group and
/// execve are handled by the guards).
pub const IMPLEMENTED: [u64; 29] = [
    nr::READ,
    nr::WRITE,
    nr::OPEN,
    nr::CLOSE,
    nr::STAT,
    nr::FSTAT,
    nr::LSTAT,
    nr::LSEEK,
    nr::MMAP,
    nr::MUNMAP,
    nr::BRK,
    nr::IOCTL,
    nr::DUP,
    nr::DUP2,
    nr::GETPID,
    nr::EXECVE,
    nr::EXIT,
    nr::UNAME,
    nr::GETCWD,
    nr::CHDIR,
    nr::MKDIR,
    nr::UNLINK,
    nr::SYSLOG,
    nr::REBOOT,
    nr::GETDENTS64,
    nr::CLOCK_GETTIME,
    nr::OPENAT,
    nr::NEWFSTATAT,
    nr::KEXEC_FILE_LOAD,
];

const KERNEL: u64 = 0xffff_ffff_8000_0000;
const NON_CANONICAL: u64 = 0x0000_8000_0000_0000;
const HIGH_USER: u64 = 0x0000_7fff_ffff_f000;

/// Lengths worth trying.
const LENGTHS: [u64; 14] = [0, 1, 7, 8, 64, 4095, 4096, 4097, 65536, 1 << 20, 1 << 31, u32::MAX as u64, i64::MAX as u64, u64::MAX];

impl Env {
    /// A pointer the kernel may READ from (or must refuse).
    fn in_ptr(&self, r: &mut Rng) -> u64 {
        match r.below(10) {
            0 => 0,
            1 => 1,
            2 => KERNEL + r.below(1 << 20),
            3 => NON_CANONICAL + r.below(PAGE),
            4 => HIGH_USER,
            5 => self.page_end - 1 - r.below(16),
            6 => u64::MAX - r.below(8),
            _ => self.scratch + r.below(self.scratch_len),
        }
    }

    /// A pointer the kernel may WRITE to: the same, but valid ones only in
    /// the scratch area.
    fn out_ptr(&self, r: &mut Rng) -> u64 {
        self.in_ptr(r)
    }

    fn len(&self, r: &mut Rng) -> u64 {
        if r.one_in(3) {
            r.below(256)
        } else {
            r.pick(&LENGTHS)
        }
    }

    fn fd(&self, r: &mut Rng) -> u64 {
        match r.below(8) {
            0 => r.pick(&[-1i64, -100, i32::MIN as i64, 1 << 31, 4096]) as u64,
            1 => r.below(16),
            2 => u64::MAX,
            _ => r.pick(&self.fds) as u64,
        }
    }

    /// A path pointer; `mutable` says the call may change the file system.
    fn path(&self, r: &mut Rng, mutable: bool) -> u64 {
        match r.below(10) {
            0 => 0,
            1 => KERNEL,
            2 => self.long_path,
            3 => self.page_end - 3, // "abc" with no NUL before the unmapped page
            4 if !mutable => r.pick(&self.readonly_paths),
            _ => r.pick(&self.scratch_paths),
        }
    }

    fn flags(&self, r: &mut Rng) -> u64 {
        match r.below(5) {
            0 => 0,
            1 => u64::MAX,
            2 => 1 << r.below(64),
            _ => r.next_u64() & 0xffff_ffff,
        }
    }

    fn offset(&self, r: &mut Rng) -> u64 {
        r.pick(&[0, 1, 4096, 1 << 20, 1 << 30, i64::MAX as u64, u64::MAX, (-1i64) as u64, (-4096i64) as u64])
    }
}

/// Draw the next call, guards applied.
pub fn next_call(r: &mut Rng, env: &Env) -> Call {
    let nr = if r.one_in(12) { r.pick(&UNIMPLEMENTED) } else { r.pick(&IMPLEMENTED) };
    let mut a = [0u64; 6];
    for x in a.iter_mut() {
        *x = r.next_u64();
    }
    // Never leave the run: exit becomes getpid.
    if matches!(nr, nr::EXIT | nr::EXIT_GROUP) {
        return Call { nr: nr::GETPID, args: a, guarded: true };
    }
    let mut guarded = false;
    match nr {
        nr::READ | nr::WRITE => {
            a[0] = env.fd(r);
            a[1] = if nr == nr::READ { env.out_ptr(r) } else { env.in_ptr(r) };
            a[2] = env.len(r);
        }
        nr::OPEN => {
            a[1] = env.flags(r);
            a[2] = r.below(0o10000);
            a[0] = env.path(r, open_mutates(a[1]));
        }
        nr::OPENAT => {
            a[0] = if r.one_in(2) { (-100i64) as u64 } else { env.fd(r) };
            a[2] = env.flags(r);
            a[3] = r.below(0o10000);
            a[1] = env.path(r, open_mutates(a[2]));
        }
        nr::CLOSE | nr::DUP | nr::FSTAT => {
            a[0] = env.fd(r);
            a[1] = env.out_ptr(r);
        }
        nr::DUP2 => {
            a[0] = env.fd(r);
            a[1] = env.fd(r);
        }
        nr::STAT | nr::LSTAT => {
            a[0] = env.path(r, false);
            a[1] = env.out_ptr(r);
        }
        nr::NEWFSTATAT => {
            a[0] = if r.one_in(2) { (-100i64) as u64 } else { env.fd(r) };
            a[1] = env.path(r, false);
            a[2] = env.out_ptr(r);
            a[3] = env.flags(r);
        }
        nr::LSEEK => {
            a[0] = env.fd(r);
            a[1] = env.offset(r);
            a[2] = r.below(6);
        }
        nr::MMAP => {
            a[0] = if r.one_in(2) { env.playground + r.below(env.playground_len / PAGE) * PAGE } else { r.pick(&[0, KERNEL, NON_CANONICAL, 1, HIGH_USER]) };
            a[1] = env.len(r);
            a[2] = r.below(8);
            a[3] = env.flags(r);
            a[4] = env.fd(r);
            a[5] = env.offset(r);
        }
        nr::MUNMAP => {
            a[0] = if r.one_in(2) { env.playground + r.below(env.playground_len / PAGE) * PAGE } else { r.pick(&[0, 1, KERNEL, NON_CANONICAL, HIGH_USER, !(PAGE - 1)]) };
            a[1] = env.len(r);
        }
        nr::BRK => a[0] = r.pick(&[0, KERNEL, NON_CANONICAL, u64::MAX, HIGH_USER]),
        nr::IOCTL => {
            a[0] = env.fd(r);
            a[1] = r.next_u64() & 0xffff_ffff;
            a[2] = env.out_ptr(r);
        }
        nr::EXECVE => {
            a[0] = env.path(r, true);
            a[1] = env.in_ptr(r);
            a[2] = env.in_ptr(r);
        }
        nr::UNAME => a[0] = env.out_ptr(r),
        nr::GETCWD => {
            a[0] = env.out_ptr(r);
            a[1] = env.len(r);
        }
        nr::CHDIR | nr::UNLINK => a[0] = env.path(r, true),
        nr::MKDIR => {
            a[0] = env.path(r, true);
            a[1] = r.below(0o10000);
        }
        nr::SYSLOG => {
            a[0] = r.below(12);
            a[1] = env.out_ptr(r);
            a[2] = env.len(r);
        }
        nr::REBOOT => {
            a[0] = if r.one_in(2) { 0xfee1_dead } else { r.next_u64() };
            a[1] = if r.one_in(2) { 672_274_793 } else { r.next_u64() };
            let any = r.next_u64();
            a[2] = r.pick(&[0x0123_4567, 0x4321_fedc, 0xcdef_0123, 0x4558_4543, 0x89ab_cdef, any]);
            a[3] = env.in_ptr(r);
        }
        nr::GETDENTS64 => {
            a[0] = env.fd(r);
            a[1] = env.out_ptr(r);
            a[2] = env.len(r);
        }
        nr::CLOCK_GETTIME => {
            a[0] = r.pick(&[0, 1, 7, 2, 3, 11, u64::MAX]);
            a[1] = env.out_ptr(r);
        }
        nr::KEXEC_FILE_LOAD => {
            a[0] = env.fd(r);
            a[1] = env.fd(r);
            a[2] = env.len(r);
            a[3] = env.in_ptr(r);
            a[4] = env.flags(r) & if r.one_in(2) { 0xf } else { u64::MAX };
        }
        _ => {}
    }
    guard(nr, &mut a, env, &mut guarded);
    Call { nr, args: a, guarded }
}

/// Whether open flags may change a file (write access, create, truncate).
fn open_mutates(flags: u64) -> bool {
    use abi::fs::{O_CREAT, O_TRUNC};
    flags & 3 != 0 || flags & u64::from(O_CREAT | O_TRUNC) != 0
}

/// The rewrites that keep the run alive (see the module docs).
fn guard(nr: u64, a: &mut [u64; 6], env: &Env, guarded: &mut bool) {
    let mut set = |slot: &mut u64, v: u64| {
        if *slot != v {
            *slot = v;
            *guarded = true;
        }
    };
    let console = |fd: u64| fd <= 2;
    match nr {
        nr::READ | nr::WRITE | nr::IOCTL if console(a[0]) => set(&mut a[0], env.null_fd as u64),
        nr::CLOSE if console(a[0]) => set(&mut a[0], env.null_fd as u64),
        // A copy of a console fd would let later calls read (and wait for
        // input) or write to the console through it.
        nr::DUP if console(a[0]) => set(&mut a[0], env.null_fd as u64),
        nr::DUP2 if console(a[0]) || console(a[1]) => {
            let off_console = |fd: u64| if console(fd) { env.null_fd as u64 } else { fd };
            let (from, to) = (off_console(a[0]), off_console(a[1]));
            set(&mut a[0], from);
            set(&mut a[1], to);
        }
        nr::REBOOT if !env.allow_reboot && a[0] as u32 == 0xfee1_dead => set(&mut a[0], 0xfee1_deae),
        nr::MMAP if a[3] & 0x10 != 0 && !env.in_playground(a[0], a[1]) => {
            let without_fixed = a[3] & !0x10;
            set(&mut a[3], without_fixed)
        }
        nr::MUNMAP if env.overlaps_own(a[0], a[1]) => set(&mut a[0], KERNEL),
        // open/openat of a read-only path with mutating flags: read-only.
        nr::OPEN if env.readonly_paths.contains(&a[0]) && open_mutates(a[1]) => set(&mut a[1], 0),
        nr::OPENAT if env.readonly_paths.contains(&a[1]) && open_mutates(a[2]) => set(&mut a[2], 0),
        _ => {}
    }
}

impl Env {
    fn in_playground(&self, addr: u64, len: u64) -> bool {
        let len = len.checked_add(PAGE - 1).map_or(u64::MAX, |l| l & !(PAGE - 1));
        addr >= self.playground && addr.checked_add(len).is_some_and(|e| e <= self.playground + self.playground_len)
    }

    /// Would munmap(addr, len) reach memory the fuzzer itself uses? Only
    /// the playground and addresses that must fail are allowed.
    fn overlaps_own(&self, addr: u64, len: u64) -> bool {
        let end = addr.saturating_add(len.max(1));
        let user_top = 0x0000_8000_0000_0000;
        addr < user_top && end > 0 && !self.in_playground(addr, len)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::vec;

    fn env() -> Env {
        Env {
            scratch: 0x1000_0000,
            scratch_len: 0x1_0000,
            page_end: 0x2000_1000,
            playground: 0x3000_0000,
            playground_len: 0x10_0000,
            scratch_paths: vec![0x1000_0000, 0x1000_0100],
            readonly_paths: vec![0x1000_0200, 0x1000_0300],
            long_path: 0x1000_1000,
            fds: vec![3, 4, 5],
            null_fd: 5,
            allow_reboot: false,
        }
    }

    #[test]
    fn same_seed_same_calls_other_seed_other_calls() {
        let e = env();
        let run = |seed| {
            let mut r = Rng::new(seed);
            (0..1000).map(|_| next_call(&mut r, &e)).collect::<alloc::vec::Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn guards_hold_for_many_calls() {
        let e = env();
        let mut r = Rng::new(42);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200_000 {
            let c = next_call(&mut r, &e);
            seen.insert(c.nr);
            let [a0, a1, _a2, a3, ..] = c.args;
            match c.nr {
                nr::READ | nr::WRITE | nr::CLOSE | nr::IOCTL => assert!(a0 > 2, "{c:?}"),
                nr::DUP2 => assert!(a0 > 2 && a1 > 2, "{c:?}"),
                nr::DUP => assert!(a0 > 2, "{c:?}"),
                nr::REBOOT => assert_ne!(a0 as u32, 0xfee1_dead, "{c:?}"),
                nr::MMAP if a3 & 0x10 != 0 => assert!(e.in_playground(a0, c.args[1]), "{c:?}"),
                nr::MUNMAP => assert!(!e.overlaps_own(a0, a1), "{c:?}"),
                nr::OPEN if e.readonly_paths.contains(&a0) => assert!(!open_mutates(a1), "{c:?}"),
                nr::OPENAT if e.readonly_paths.contains(&a1) => assert!(!open_mutates(c.args[2]), "{c:?}"),
                nr::EXIT | nr::EXIT_GROUP => unreachable!(),
                _ => {}
            }
        }
        // Every number is drawn, implemented or not.
        for n in IMPLEMENTED.iter().chain(UNIMPLEMENTED.iter()).filter(|&&n| n != nr::EXIT) {
            assert!(seen.contains(n), "{n} never drawn");
        }
    }

    #[test]
    fn rng_spreads() {
        let mut r = Rng::new(7);
        let mut hits = [0u32; 10];
        for _ in 0..10_000 {
            hits[r.below(10) as usize] += 1;
        }
        assert!(hits.iter().all(|&h| (800..1200).contains(&h)), "{hits:?}");
    }
}
