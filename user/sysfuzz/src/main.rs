//! sysfuzz: `sysfuzz SEED COUNT [--allow-reboot]` makes COUNT random
//! syscalls drawn by sysfuzzcore from SEED (same seed, same calls), then
//! prints what came back. The kernel must answer every one with a result or
//! an errno, never panic, and never kill this process (the guards keep
//! every call from hurting the fuzzer itself; see sysfuzzcore).
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use sysfuzzcore::{next_call, Env, Rng, PAGE};
use ulib::abi::fs::{O_CREAT, O_RDONLY, O_RDWR};
use ulib::{println, sys};

ulib::entry!(main);

const USAGE: &str = "usage: sysfuzz SEED COUNT [--allow-reboot]";
/// Files and directories the fuzzer may change, under its own directory
/// `/tmp/sysfuzz.SEED` (a run may leave directories it made: kexos has no rmdir).
const SCRATCH_NAMES: [&str; 6] = ["a", "b", "d", "d/e", "../DIR/a", "new"];
/// Files it may only read (opened read-only, never unlinked).
const READONLY_PATHS: [&str; 7] = ["/", "/proc/meminfo", "/proc/iomem", "/dev/null", "/dev/zero", "/boot/kexos.bzImage", "/sys/kernel/kexec_loaded"];
const SCRATCH_LEN: usize = 64 * 1024;
const PLAYGROUND_LEN: usize = 1 << 20;

fn main(args: &[&str]) -> i32 {
    let (seed, count, allow_reboot) = match args.get(1..).unwrap_or(&[]) {
        [s, c] => (s.parse::<u64>(), c.parse::<u64>(), false),
        [s, c, "--allow-reboot"] => (s.parse::<u64>(), c.parse::<u64>(), true),
        _ => {
            println!("{USAGE}");
            return 2;
        }
    };
    let (Ok(seed), Ok(count)) = (seed, count) else {
        println!("{USAGE}");
        return 2;
    };
    let dir = alloc::format!("/tmp/sysfuzz.{seed}");
    let paths: Vec<alloc::string::String> = SCRATCH_NAMES
        .iter()
        .map(|n| alloc::format!("{dir}/{}", n.replace("DIR", &dir[5..])))
        .collect();
    let env = match setup(&dir, &paths, allow_reboot) {
        Ok(e) => e,
        Err(what) => {
            println!("sysfuzz: set-up failed: {what}");
            return 1;
        }
    };
    let mut rng = Rng::new(seed);
    let mut errnos = [0u64; 4096];
    let (mut ok, mut guarded, mut bad) = (0u64, 0u64, 0u64);
    for i in 0..count {
        let c = next_call(&mut rng, &env);
        guarded += u64::from(c.guarded);
        let [a1, a2, a3, a4, a5, a6] = c.args;
        // SAFETY: sysfuzzcore's guards make the call sound for this process:
        // memory the kernel may write is the scratch area (or must fault),
        // memory it may map or unmap is the playground (or must fail), brk
        // only queries or asks for what must fail, no exit, no execve of a
        // program, no reboot with valid magics (unless --allow-reboot), and
        // the fds it may close are never the console's.
        let ret = unsafe { ulib::raw::syscall6(c.nr, a1, a2, a3, a4, a5, a6) };
        match ret {
            0.. => ok += 1,
            -4095..=-1 => errnos[(-ret) as usize] += 1,
            _ => {
                bad += 1;
                println!("sysfuzz: call {i}: nr {} args {:x?} returned {ret}, neither a result nor an errno", c.nr, c.args);
            }
        }
        if count >= 10 && (i + 1) % (count / 10) == 0 {
            println!("sysfuzz: {}/{count} calls", i + 1);
        }
    }
    cleanup(&paths);
    let mut summary = alloc::string::String::new();
    for (e, n) in errnos.iter().enumerate().filter(|(_, n)| **n > 0) {
        summary.push_str(&alloc::format!(" {}={n}", sys::errno(e as i32).name()));
    }
    println!("sysfuzz: seed {seed}: {count} calls, {guarded} guarded, {ok} succeeded, {bad} bad returns; errnos:{summary}");
    if bad == 0 {
        println!("sysfuzz: done");
        0
    } else {
        1
    }
}

/// A NUL-terminated copy of `s` that lives for the run; its address.
fn leak_cstr(s: &[u8]) -> u64 {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s);
    v.push(0);
    Box::leak(v.into_boxed_slice()).as_ptr() as u64
}

fn setup(dir: &str, paths: &[alloc::string::String], allow_reboot: bool) -> Result<Env, &'static str> {
    let _ = sys::mkdir(dir, 0o755);
    let _ = sys::mkdir(&paths[2], 0o755);
    for p in &paths[..2] {
        let fd = sys::open(p, O_RDWR | O_CREAT, 0o644).map_err(|_| "cannot create the scratch files")?;
        let _ = sys::write_all(fd, b"sysfuzz scratch file\n");
        let _ = sys::close(fd);
    }
    let scratch = sys::mmap_anon(SCRATCH_LEN).map_err(|_| "no scratch memory")? as u64;
    let playground = sys::mmap_anon(PLAYGROUND_LEN).map_err(|_| "no playground")? as u64;
    // Two pages, the second unmapped: "abc" ends right at the hole.
    let edge = sys::mmap_anon(2 * PAGE as usize).map_err(|_| "no edge pages")?;
    // SAFETY: the second page of our own fresh mapping; nothing uses it.
    unsafe { sys::munmap(edge as usize + PAGE as usize, PAGE as usize) }.map_err(|_| "munmap failed")?;
    let page_end = edge as u64 + PAGE;
    // SAFETY: the last 3 bytes of the mapped first page, ours alone.
    unsafe { core::ptr::copy_nonoverlapping(b"abc".as_ptr(), (page_end - 3) as *mut u8, 3) };
    let mut fds = Vec::new();
    for (p, flags) in [(paths[0].as_str(), O_RDWR), (paths[1].as_str(), O_RDONLY), ("/dev/zero", O_RDONLY), ("/proc/meminfo", O_RDONLY), ("/boot/kexos.bzImage", O_RDONLY), ("/", O_RDONLY)] {
        if let Ok(fd) = sys::open(p, flags, 0) {
            fds.push(fd);
        }
    }
    let null_fd = sys::open("/dev/null", O_RDWR, 0).map_err(|_| "no /dev/null")?;
    fds.push(null_fd);
    let long: Vec<u8> = dir.bytes().chain(core::iter::repeat_n(b'x', 5000)).collect();
    Ok(Env {
        scratch,
        scratch_len: SCRATCH_LEN as u64,
        page_end,
        playground,
        playground_len: PLAYGROUND_LEN as u64,
        scratch_paths: paths.iter().map(|p| leak_cstr(p.as_bytes())).collect(),
        readonly_paths: READONLY_PATHS.iter().map(|p| leak_cstr(p.as_bytes())).collect(),
        long_path: leak_cstr(&long),
        fds,
        null_fd,
        allow_reboot,
    })
}

/// Close every fd but the console's, remove the scratch files.
fn cleanup(paths: &[alloc::string::String]) {
    for fd in 3..64 {
        let _ = sys::close(fd);
    }
    for p in paths {
        let _ = sys::unlink(p);
    }
}
