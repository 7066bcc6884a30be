//! Processes. One user process runs at a time: `/sbin/init` first; `execve`
//! replaces it; when it exits or is killed by a fault, the kernel reports it
//! and starts `/sbin/init --restarted` (which skips /etc/rc).

mod elf;
mod stack;

use abi::Errno;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use spin::Mutex;
use vfs::{FdTable, NodeKind};

use crate::arch::idt::Fault;
use crate::fs::{self, File};
use crate::mm::paging::AddressSpace;

pub const INIT_PATH: &str = "/sbin/init";
pub const MAX_FDS: usize = 64;

pub struct Process {
    pub pid: u32,
    pub path: String,
    pub space: AddressSpace,
    pub fds: FdTable<File>,
    pub cwd: String,
    pub brk_start: u64,
    pub brk: u64,
    /// Anonymous mmap grows down from here.
    pub mmap_next: u64,
}

static CURRENT: Mutex<Option<Process>> = Mutex::new(None);
static NEXT_PID: AtomicU32 = AtomicU32::new(1);
/// The running process's pid, readable without CURRENT's lock (the crash
/// path may interrupt a holder of it).
static CURRENT_PID: AtomicU32 = AtomicU32::new(0);

/// The running process's pid, or 0; lock-free, for the crash notes.
pub fn current_pid_unlocked() -> u32 {
    CURRENT_PID.load(Ordering::Relaxed)
}

/// Run `f` on the current process. Panics if there is none (only syscalls,
/// which always have one, call this).
pub fn with_current<R>(f: impl FnOnce(&mut Process) -> R) -> R {
    f(CURRENT.lock().as_mut().expect("no current process"))
}

fn console_fds() -> FdTable<File> {
    let mut fds = FdTable::new(MAX_FDS);
    for fd in 0..3 {
        let _ = fds.alloc_at(fd, File::Device(crate::fs::dev::Device::Serial));
    }
    fds
}

/// A process image ready to run.
struct Image {
    space: AddressSpace,
    entry: u64,
    rsp: u64,
    brk_start: u64,
}

/// Build a new image of `path` (absolute, normalized) with `argv`.
fn build_image(path: &str, argv: &[String]) -> Result<Image, Errno> {
    let mut space = AddressSpace::new_user()?;
    let loaded = fs::with(|vfs| {
        let ino = vfs.lookup(path)?;
        match vfs.kind(ino) {
            NodeKind::Dir => return Err(Errno::EACCES),
            NodeKind::File => {}
            _ => return Err(Errno::EACCES),
        }
        // Linux refuses to execute a file someone has open for writing.
        if vfs.writers(ino) > 0 {
            return Err(Errno::ETXTBSY);
        }
        elf::load(path, vfs.file_data(ino)?, &mut space)
    })?;
    let rsp = stack::build(&mut space, argv, loaded.entry)?;
    Ok(Image { space, entry: loaded.entry, rsp, brk_start: loaded.brk_start })
}

/// Everything a new process image starts with.
struct Start {
    image: Image,
    pid: u32,
    path: String,
    fds: FdTable<File>,
    cwd: String,
}

fn start(s: Start) -> ! {
    let Start { image, pid, path, fds, cwd } = s;
    image.space.activate();
    let (entry, rsp) = (image.entry, image.rsp);
    CURRENT_PID.store(pid, Ordering::Relaxed);
    let old = CURRENT.lock().replace(Process {
        pid,
        path,
        space: image.space,
        fds,
        cwd,
        brk_start: image.brk_start,
        brk: image.brk_start,
        mmap_next: stack::MMAP_TOP,
    });
    drop(old);
    // SAFETY: the new address space is active and maps entry and stack for
    // user access; the kernel stack was reset, nothing on it is needed.
    unsafe { crate::arch::syscall::enter_user(entry, rsp) }
}

/// Start (or restart) `/sbin/init`. Never returns.
pub fn start_init(restarted: bool) -> ! {
    static RESTARTS: AtomicU64 = AtomicU64::new(0);
    static WINDOW_START: AtomicU64 = AtomicU64::new(0);
    if restarted {
        // An init that dies straight away would spin forever: give up loudly.
        let now = crate::time::now_ns();
        if now - WINDOW_START.load(Ordering::Relaxed) > 1_000_000_000 {
            WINDOW_START.store(now, Ordering::Relaxed);
            RESTARTS.store(0, Ordering::Relaxed);
        }
        if RESTARTS.fetch_add(1, Ordering::Relaxed) >= 20 {
            panic!("{} keeps dying (20 restarts within a second)", INIT_PATH);
        }
    }
    let mut argv = alloc::vec![String::from(INIT_PATH)];
    if restarted {
        argv.push(String::from("--restarted"));
    } else {
        info!("kexos: starting {}", INIT_PATH);
    }
    let image = match build_image(INIT_PATH, &argv) {
        Ok(i) => i,
        Err(e) => panic!("cannot run {}: {} ({}). No working init found.", INIT_PATH, e.name(), e.message()),
    };
    if !restarted {
        crate::time::mark("init");
    }
    let pid = NEXT_PID.fetch_add(1, Ordering::Relaxed);
    start(Start { image, pid, path: String::from(INIT_PATH), fds: console_fds(), cwd: String::from("/") })
}

/// execve(2): replace the current image. Returns only on failure, leaving the
/// caller untouched (the new image is built completely before anything changes).
pub fn exec(path: String, argv: Vec<String>) -> Errno {
    let image = match build_image(&path, &argv) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let old = CURRENT.lock().take().expect("exec without a process");
    let Process { pid, fds, cwd, space, .. } = old;
    let next = Start { image, pid, path, fds, cwd };
    // The old address space goes once the new one is active (start() switches).
    crate::arch::stack::reset_and_call((next, space), |(next, old_space)| {
        next.image.space.activate();
        drop(old_space);
        start(next)
    })
}

/// How a process ended. Travels by value through the kernel stack's
/// hand-off area (no heap on this path), so the size difference is fine.
#[derive(Clone, Copy)]
#[allow(clippy::large_enum_variant)]
pub enum Exit {
    Status(i32),
    Killed(Fault),
}

/// exit(2)/exit_group(2).
pub fn exit_current(status: i32) -> ! {
    crate::arch::stack::reset_and_call(Exit::Status(status & 0xff), reap)
}

/// A user-mode exception: the process dies, the kernel goes on.
pub fn kill_current(fault: Fault) -> ! {
    crate::arch::stack::reset_and_call(Exit::Killed(fault), reap)
}

fn reap(how: Exit) -> ! {
    let Some(mut p) = CURRENT.lock().take() else { start_init(true) };
    for f in p.fds.drain() {
        fs::close(f);
    }
    match how {
        Exit::Status(s) => info!("kexos: {} (pid {}) exited with status {}", p.path, p.pid, s),
        Exit::Killed(f) => {
            let (sig, name) = f.signal();
            let addr = f.cr2.unwrap_or(f.rip);
            info!(
                "kexos: {} (pid {}) killed: {} at {:#x} rip={:#x} err={:#x} -- {} exit status {}",
                p.path,
                p.pid,
                f.name,
                addr,
                f.rip,
                f.error.unwrap_or(0),
                name,
                128 + sig
            );
        }
    }
    drop(p);
    start_init(true)
}
