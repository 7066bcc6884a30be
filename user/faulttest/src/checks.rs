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

pub fn efault() -> i32 {
    let mut c = Checker::new();
    let ef = Errno::EFAULT;
    unsafe {
        c.expect_err("write(1, NULL, 10)", syscall3(nr::WRITE, 1, 0, 10), ef);
        c.expect_err(
            "write(1, kernel, 10)",
            syscall3(nr::WRITE, 1, KADDR, 10),
            ef,
        );
        c.expect_err(
            "write(1, noncanonical, 10)",
            syscall3(nr::WRITE, 1, NONCANON, 10),
            ef,
        );
        c.expect_err("read(0, kernel, 10)", syscall3(nr::READ, 0, KADDR, 10), ef);
        c.expect_err(
            "open(kernel, O_RDONLY)",
            syscall3(nr::OPEN, KADDR, O_RDONLY as u64, 0),
            ef,
        );
        c.expect_err(
            "open(NULL, O_RDONLY)",
            syscall3(nr::OPEN, 0, O_RDONLY as u64, 0),
            ef,
        );
        c.expect_err(
            "stat(NULL, buf)",
            {
                let mut buf = [0u8; 144];
                syscall2(nr::STAT, 0, buf.as_mut_ptr() as u64)
            },
            ef,
        );
        c.expect_err("uname(NULL)", syscall1(nr::UNAME, 0), ef);
        c.expect_err("fstat(1, kernel)", syscall2(nr::FSTAT, 1, KADDR), ef);
        c.expect_err("getcwd(kernel, 64)", syscall2(nr::GETCWD, KADDR, 64), ef);
        c.expect_err(
            "clock_gettime(MONOTONIC, NULL)",
            syscall2(nr::CLOCK_GETTIME, nr::CLOCK_MONOTONIC, 0),
            ef,
        );
        match sys::open("/", O_RDONLY | O_DIRECTORY, 0) {
            Ok(fd) => {
                c.expect_err(
                    "getdents64(dir, kernel, 4096)",
                    syscall3(nr::GETDENTS64, fd as u64, KADDR, 4096),
                    ef,
                );
                let _ = sys::close(fd);
            }
            Err(e) => c.fail(format_args!("open(\"/\") for getdents64 -> -{}", e.name())),
        }
        let argv: [u64; 1] = [0];
        c.expect_err(
            "execve(kernel, argv, envp)",
            syscall3(
                nr::EXECVE,
                KADDR,
                argv.as_ptr() as u64,
                argv.as_ptr() as u64,
            ),
            ef,
        );
    }
    c.finish("efault")
}

pub fn enosys() -> i32 {
    let mut c = Checker::new();
    for n in [335u64, 999, 100_000, u64::MAX] {
        // SAFETY: unknown syscall numbers have no effect but an error.
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
    let cur = sys::brk(0);
    println!("faulttest: brk(0) -> {cur:#x}");
    let want = cur + MIB;
    let got = sys::brk(want);
    c.expect("brk(+1 MiB)", got as i64, want as i64);
    if got == want {
        // SAFETY: [cur, want) was just added to the heap; the allocator does not use it.
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
    c.expect("brk(back)", sys::brk(cur) as i64, cur as i64);
    c.expect("brk(0x1000) refused", sys::brk(0x1000) as i64, cur as i64);
    c.finish("brk")
}

pub fn mmap() -> i32 {
    let mut c = Checker::new();
    let prot = PROT_READ | PROT_WRITE;
    let flags = MAP_PRIVATE | MAP_ANONYMOUS;
    // SAFETY: anonymous, not MAP_FIXED.
    let r = unsafe { syscall6(nr::MMAP, 0, MIB as u64, prot, flags, u64::MAX, 0) };
    let ok = Errno::from_ret(r).is_ok() && r % 4096 == 0 && r != 0;
    c.report("mmap(NULL, 1 MiB, RW, PRIVATE|ANON)", r, ok);
    if !ok {
        return c.finish("mmap");
    }
    let addr = r as u64;
    // SAFETY: the kernel just mapped this range for us.
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
