//! Process start-up and the panic handler.
use alloc::vec::Vec;
use core::ffi::CStr;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

static ARGV0: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static ARGV0_LEN: AtomicUsize = AtomicUsize::new(0);
static ENVP: AtomicPtr<*const u8> = AtomicPtr::new(core::ptr::null_mut());

/// The program name (argv\[0\]), or `"?"` before start-up / when argc is 0.
pub fn progname() -> &'static str {
    let p = ARGV0.load(Ordering::Relaxed);
    if p.is_null() {
        return "?";
    }
    // SAFETY: only `start` stores ARGV0 (non-null) and ARGV0_LEN, the length
    // of that argv string before its NUL; the strings on the initial stack are
    // never written or freed by this process, so the bytes stay valid.
    let b = unsafe { core::slice::from_raw_parts(p, ARGV0_LEN.load(Ordering::Relaxed)) };
    core::str::from_utf8(b).unwrap_or("?")
}

/// The environment strings from the initial stack.
pub fn env() -> Vec<&'static str> {
    let envp = ENVP.load(Ordering::Relaxed);
    if envp.is_null() {
        return Vec::new();
    }
    // SAFETY: only `start` stores ENVP: the envp array of the initial stack,
    // NULL-terminated, of NUL-terminated strings that are never written or
    // freed (cstr_array's contract).
    unsafe { cstr_array(envp) }
}

/// The string at `p`; `""` if it is not UTF-8.
///
/// # Safety
/// `p` points to a NUL-terminated string that is never written or freed
/// while the program runs.
unsafe fn cstr(p: *const u8) -> &'static str {
    // SAFETY: exactly CStr::from_ptr's requirement, from our caller; the
    // 'static lifetime holds because the bytes are never written or freed.
    let s = unsafe { CStr::from_ptr(p.cast()) };
    core::str::from_utf8(s.to_bytes()).unwrap_or("")
}

/// The strings of a NULL-terminated array of string pointers.
///
/// # Safety
/// `p` points to a NULL-terminated array of pointers, each meeting
/// [`cstr`]'s contract, and the array is never written or freed.
unsafe fn cstr_array(mut p: *const *const u8) -> Vec<&'static str> {
    let mut v = Vec::new();
    // SAFETY: every `p` read is inside the array (we stop at its NULL) and
    // every non-null entry meets cstr's contract (our caller's).
    unsafe {
        while !(*p).is_null() {
            v.push(cstr(*p));
            p = p.add(1);
        }
    }
    v
}

/// Called by `_start` (see [`crate::entry!`]) with the initial stack pointer:
/// `[sp] = argc`, then argv\[argc\], NULL, envp..., NULL, auxv.
///
/// # Safety
/// `sp` must be the process's initial stack pointer, as execve(2) left it.
pub unsafe fn start(sp: *const usize, main: fn(&[&str]) -> i32) -> ! {
    // SAFETY: the initial stack that execve builds (System V x86_64 psABI,
    // "Process Initialization"; kexos builds the same): `sp[0]` = argc, then
    // argc pointers to NUL-terminated argv strings, a NULL, the envp pointers,
    // a NULL. All of it lies above `sp`, which `_start` left below it, and
    // nothing in the process writes or frees it, so the strings are 'static.
    let args = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        ENVP.store(argv.add(argc + 1) as *mut *const u8, Ordering::Relaxed);
        if argc > 0 && !(*argv).is_null() {
            ARGV0.store(*argv as *mut u8, Ordering::Relaxed);
            ARGV0_LEN.store(
                CStr::from_ptr((*argv).cast()).count_bytes(),
                Ordering::Relaxed,
            );
        }
        let mut args = Vec::with_capacity(argc);
        for i in 0..argc {
            let p = *argv.add(i);
            if p.is_null() {
                break;
            }
            args.push(cstr(p));
        }
        args
    };
    let code = main(&args);
    crate::sys::exit(code)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut w = crate::io::FdWriter::new(crate::io::STDERR);
    let _ = match info.location() {
        Some(l) => core::fmt::Write::write_fmt(
            &mut w,
            format_args!(
                "{}: panicked at {}:{}: {}\n",
                progname(),
                l.file(),
                l.line(),
                info.message()
            ),
        ),
        None => core::fmt::Write::write_fmt(
            &mut w,
            format_args!("{}: panicked: {}\n", progname(), info.message()),
        ),
    };
    w.flush();
    crate::sys::exit(101)
}
