//! Process start-up and the panic handler.
use alloc::vec::Vec;
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
    // SAFETY: set from a valid argv string that lives for the whole process.
    let b = unsafe { core::slice::from_raw_parts(p, ARGV0_LEN.load(Ordering::Relaxed)) };
    core::str::from_utf8(b).unwrap_or("?")
}

/// The environment strings from the initial stack.
pub fn env() -> Vec<&'static str> {
    let envp = ENVP.load(Ordering::Relaxed);
    if envp.is_null() {
        return Vec::new();
    }
    // SAFETY: envp is the NULL-terminated array from the initial stack.
    unsafe { cstr_array(envp) }
}

unsafe fn cstr_len(p: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller passes a NUL-terminated string.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    n
}

unsafe fn cstr(p: *const u8) -> &'static str {
    // SAFETY: NUL-terminated string on the initial stack, never freed.
    let b = unsafe { core::slice::from_raw_parts(p, cstr_len(p)) };
    core::str::from_utf8(b).unwrap_or("")
}

unsafe fn cstr_array(mut p: *const *const u8) -> Vec<&'static str> {
    let mut v = Vec::new();
    // SAFETY: NULL-terminated pointer array on the initial stack.
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
/// `sp` must be the process's initial stack pointer.
pub unsafe fn start(sp: *const usize, main: fn(&[&str]) -> i32) -> ! {
    // SAFETY: Linux initial stack layout.
    let args = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        ENVP.store(argv.add(argc + 1) as *mut *const u8, Ordering::Relaxed);
        if argc > 0 && !(*argv).is_null() {
            ARGV0.store(*argv as *mut u8, Ordering::Relaxed);
            ARGV0_LEN.store(cstr_len(*argv), Ordering::Relaxed);
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
