//! Modes that check syscall results and print one line per check:
//! `faulttest: <call> -> <result> ok|FAIL`, then `faulttest: <mode> PASS|FAIL`.
use core::fmt;
use ulib::abi::fs::{O_DIRECTORY, O_RDONLY};
use ulib::abi::mm::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use ulib::abi::nr;
use ulib::raw::*;
use ulib::{println, sys, Errno};

/// A kernel-half address (start of the direct map region on Linux).
const KADDR: u64 = 0xffff_8000_0000_0000;
/// A non-canonical address.
const NONCANON: u64 = 0x0000_8000_0000_0000;
const MIB: usize = 1 << 20;

/// A raw syscall return value, printed as `-ENAME` for errors.
struct Ret(i64);

impl fmt::Display for Ret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Errno::from_ret(self.0) {
            Err(e) => match Errno::from_raw(e) {
                Some(e) => write!(f, "-{}", e.name()),
                None => write!(f, "-{e}"),
            },
            Ok(v) => write!(f, "{v:#x}"),
        }
    }
}

/// Counts the checks of one mode.
struct Checker {
    failed: u32,
}

impl Checker {
    fn new() -> Self {
        Checker { failed: 0 }
    }

    fn report(&mut self, call: impl fmt::Display, ret: i64, ok: bool) {
        println!(
            "faulttest: {call} -> {} {}",
            Ret(ret),
            if ok { "ok" } else { "FAIL" }
        );
        if !ok {
            self.failed += 1;
        }
    }

    fn expect_err(&mut self, call: impl fmt::Display, ret: i64, e: Errno) {
        self.report(call, ret, ret == e.to_ret());
    }

    fn expect(&mut self, call: impl fmt::Display, ret: i64, want: i64) {
        self.report(call, ret, ret == want);
    }

    fn fail(&mut self, what: fmt::Arguments) {
        println!("faulttest: {what} FAIL");
        self.failed += 1;
    }

    fn finish(self, mode: &str) -> i32 {
        if self.failed == 0 {
            println!("faulttest: {mode} PASS");
            0
        } else {
            println!("faulttest: {mode} FAIL ({} failed)", self.failed);
            1
        }
    }
}

/// A syscall argument in [`EFAULT_CALLS`].
#[derive(Clone, Copy)]
enum Arg {
    /// An integer, or a pointer to no memory of this process (NULL, a
    /// kernel-half or a non-canonical address).
    V(u64),
    /// A writable 144-byte buffer (one struct stat).
    StatBuf,
    /// An fd open on "/".
    DirFd,
    /// An empty, NULL-terminated pointer array (execve's argv and envp).
    NoStrings,
}
use Arg::*;

/// Calls that must fail with EFAULT, in the order they are printed.
const EFAULT_CALLS: [(&str, u64, [Arg; 3]); 13] = [
    ("write(1, NULL, 10)", nr::WRITE, [V(1), V(0), V(10)]),
    ("write(1, kernel, 10)", nr::WRITE, [V(1), V(KADDR), V(10)]),
    (
        "write(1, noncanonical, 10)",
        nr::WRITE,
        [V(1), V(NONCANON), V(10)],
    ),
    ("read(0, kernel, 10)", nr::READ, [V(0), V(KADDR), V(10)]),
    (
        "open(kernel, O_RDONLY)",
        nr::OPEN,
        [V(KADDR), V(O_RDONLY as u64), V(0)],
    ),
    (
        "open(NULL, O_RDONLY)",
        nr::OPEN,
        [V(0), V(O_RDONLY as u64), V(0)],
    ),
    ("stat(NULL, buf)", nr::STAT, [V(0), StatBuf, V(0)]),
    ("uname(NULL)", nr::UNAME, [V(0), V(0), V(0)]),
    ("fstat(1, kernel)", nr::FSTAT, [V(1), V(KADDR), V(0)]),
    ("getcwd(kernel, 64)", nr::GETCWD, [V(KADDR), V(64), V(0)]),
    (
        "clock_gettime(MONOTONIC, NULL)",
        nr::CLOCK_GETTIME,
        [V(nr::CLOCK_MONOTONIC), V(0), V(0)],
    ),
    (
        "getdents64(dir, kernel, 4096)",
        nr::GETDENTS64,
        [DirFd, V(KADDR), V(4096)],
    ),
    (
        "execve(kernel, argv, envp)",
        nr::EXECVE,
        [V(KADDR), NoStrings, NoStrings],
    ),
];

pub fn efault() -> i32 {
    let mut c = Checker::new();
    let mut stat_buf = [0u8; 144];
    let no_strings: [u64; 1] = [0];
    let mut dir = None;
    'calls: for (what, n, args) in EFAULT_CALLS {
        let mut a = [0u64; 3];
        for (v, arg) in a.iter_mut().zip(args) {
            *v = match arg {
                V(v) => v,
                StatBuf => stat_buf.as_mut_ptr() as u64,
                NoStrings => no_strings.as_ptr() as u64,
                DirFd => match dir.get_or_insert_with(|| sys::open("/", O_RDONLY | O_DIRECTORY, 0))
                {
                    Ok(fd) => *fd as u64,
                    Err(e) => {
                        c.fail(format_args!("open(\"/\") for getdents64 -> -{}", e.name()));
                        continue 'calls;
                    }
                },
            };
        }
        // SAFETY: by construction of EFAULT_CALLS, every pointer argument is
        // either `V`, i.e. no memory of this process (the kernel has nothing
        // of ours to read or write and must return EFAULT), or one of the two
        // live locals above, valid for what the call may do with it:
        // `stat_buf` is writable for a whole struct stat, `no_strings` is a
        // readable empty argv/envp. (Were execve to succeed against its
        // kernel-address path, the image would be replaced, not corrupted.)
        let r = unsafe { syscall3(n, a[0], a[1], a[2]) };
        c.expect_err(what, r, Errno::EFAULT);
    }
    if let Some(Ok(fd)) = dir {
        let _ = sys::close(fd);
    }
    c.finish("efault")
}

pub fn enosys() -> i32 {
    let mut c = Checker::new();
    for n in [335u64, 999, 100_000, u64::MAX] {
        // SAFETY: kexos implements none of these numbers (its table in
        // kernel/src/syscall/mod.rs stops at 320), so the call only returns
        // ENOSYS and touches nothing.
        let r = unsafe { syscall0(n) };
        if n == u64::MAX {
            c.expect_err(format_args!("syscall {n:#x}"), r, Errno::ENOSYS);
        } else {
            c.expect_err(format_args!("syscall {n}"), r, Errno::ENOSYS);
        }
    }
    c.finish("enosys")
}

pub fn brk() -> i32 {
    let mut c = Checker::new();
    let cur = sys::program_break();
    println!("faulttest: brk(0) -> {cur:#x}");
    let want = cur + MIB;
    // SAFETY: raising the break unmaps nothing. (Nothing in this function
    // allocates, so the allocator does not move the break meanwhile.)
    let got = unsafe { sys::brk(want) };
    c.expect("brk(+1 MiB)", got as i64, want as i64);
    if got == want {
        // SAFETY: [cur, want) was just mapped by brk, zeroed and readable and
        // writable; the allocator never uses memory above the break it set
        // (`cur` or below), and the slice is dropped before the break is
        // lowered again.
        let mem = unsafe { core::slice::from_raw_parts_mut(cur as *mut u8, MIB) };
        if mem.iter().any(|&b| b != 0) {
            c.fail(format_args!("new brk memory is not zeroed"));
        }
        for (i, b) in mem.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        if mem.iter().enumerate().any(|(i, &b)| b != (i % 251) as u8) {
            c.fail(format_args!("brk memory readback"));
        } else {
            println!("faulttest: wrote and read back 1 MiB at {cur:#x} ok");
        }
    }
    // SAFETY: lowers the break to `cur`, unmapping only what this function
    // added above `cur`, which nothing refers to any more (the allocator uses
    // no memory above the break it last set, which is at most `cur`).
    let back = unsafe { sys::brk(cur) };
    c.expect("brk(back)", back as i64, cur as i64);
    // SAFETY: brk(2) refuses a break below the program's data and returns
    // the current one, unmapping nothing; that is what this checks. A kernel
    // that honoured it would unmap this program's own image, a kernel bug the
    // process would not survive (the scenario then sees no PASS line).
    let low = unsafe { sys::brk(0x1000) };
    c.expect("brk(0x1000) refused", low as i64, cur as i64);
    c.finish("brk")
}

pub fn mmap() -> i32 {
    let mut c = Checker::new();
    let prot = PROT_READ | PROT_WRITE;
    let flags = MAP_PRIVATE | MAP_ANONYMOUS;
    // SAFETY: anonymous and not MAP_FIXED: the kernel picks an unused range,
    // so no existing memory changes.
    let r = unsafe { syscall6(nr::MMAP, 0, MIB as u64, prot, flags, u64::MAX, 0) };
    let ok = Errno::from_ret(r).is_ok() && r % 4096 == 0 && r != 0;
    c.report("mmap(NULL, 1 MiB, RW, PRIVATE|ANON)", r, ok);
    if !ok {
        return c.finish("mmap");
    }
    let addr = r as u64;
    {
        // SAFETY: the kernel just mapped [addr, addr + 1 MiB) read/write for
        // this process only; the slice is dropped before the munmap below.
        let mem = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, MIB) };
        if mem.iter().any(|&b| b != 0) {
            c.fail(format_args!("anonymous memory is not zeroed"));
        }
        for (i, b) in mem.iter_mut().enumerate() {
            *b = (i % 253) as u8;
        }
        if mem.iter().enumerate().any(|(i, &b)| b != (i % 253) as u8) {
            c.fail(format_args!("mmap memory readback"));
        } else {
            println!("faulttest: wrote and read back 1 MiB at {addr:#x} ok");
        }
    }
    // SAFETY: unmaps the mapping made above, which nothing refers to any
    // more; the next three must fail or (munmap of the now unmapped range)
    // do nothing, and the last mmap has length 0 (EINVAL). None of them
    // touches other memory of this process.
    unsafe {
        c.expect(
            "munmap(addr, 1 MiB)",
            syscall2(nr::MUNMAP, addr, MIB as u64),
            0,
        );
        c.expect_err(
            "munmap(addr+1, 4096)",
            syscall2(nr::MUNMAP, addr + 1, 4096),
            Errno::EINVAL,
        );
        c.expect_err(
            "munmap(addr, 0)",
            syscall2(nr::MUNMAP, addr, 0),
            Errno::EINVAL,
        );
        c.expect(
            "munmap(unmapped, 4096)",
            syscall2(nr::MUNMAP, addr, 4096),
            0,
        );
        c.expect_err(
            "mmap(NULL, 0, ...)",
            syscall6(nr::MMAP, 0, 0, prot, flags, u64::MAX, 0),
            Errno::EINVAL,
        );
    }
    c.finish("mmap")
}

/// Exercise the ulib allocator (brk heap and mmap for big blocks).
pub fn heap() -> i32 {
    use alloc::string::String;
    use alloc::vec::Vec;
    let mut c = Checker::new();
    // Many small blocks of mixed sizes, freed in an interleaved order and reused.
    let mut blocks: Vec<(u8, Vec<u8>)> = Vec::new();
    for round in 0..4usize {
        for i in 0..2000usize {
            let len = (i * 37 + round * 11) % 3000 + 1;
            let val = (i + round) as u8;
            blocks.push((val, alloc::vec![val; len]));
        }
        let mut keep = Vec::new();
        for (i, (val, b)) in blocks.drain(..).enumerate() {
            if b.iter().any(|&x| x != val) {
                c.fail(format_args!("small block {i} corrupted"));
                return c.finish("heap");
            }
            if i % 3 == 0 {
                keep.push((val, b));
            }
        }
        blocks = keep;
    }
    println!("faulttest: 8000 small blocks allocated, checked and freed ok");
    // A growing string (realloc through many classes).
    let mut s = String::new();
    for i in 0..20_000u32 {
        s.push(char::from(b'a' + (i % 26) as u8));
    }
    let ok = s
        .bytes()
        .enumerate()
        .all(|(i, b)| b == b'a' + (i % 26) as u8);
    c.report("String grown to 20000 bytes", s.len() as i64, ok);
    // One block above the brk classes (mmap) and one in the top brk class.
    for len in [32 * MIB, 9 * MIB] {
        let mut v: Vec<u8> = Vec::with_capacity(len);
        v.resize(len, 0x5a);
        v[len - 1] = 0xa5;
        let ok = v[..len - 1].iter().all(|&b| b == 0x5a) && v[len - 1] == 0xa5;
        c.report(
            format_args!("Vec of {} MiB at {:#x}", len / MIB, v.as_ptr() as usize),
            len as i64,
            ok,
        );
    }
    c.finish("heap")
}
