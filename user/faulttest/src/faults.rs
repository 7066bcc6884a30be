//! Modes that must get the process killed by the kernel. If the faulting
//! instruction returns, the mode prints a FAIL line and exits 1.
use core::arch::asm;
use ulib::{println, sys};

const KERNEL_ADDR: u64 = 0xffff_ffff_8000_0000;

fn survived(what: &str) -> i32 {
    println!("faulttest: {what} FAIL (not killed)");
    1
}

pub fn null() -> i32 {
    println!("faulttest: dereferencing NULL");
    let v: u8;
    // SAFETY: the load reads address 0, which is no memory Rust knows about
    // (user.ld links the program at 0x400000 and nothing maps page 0), so no
    // Rust object is accessed; it faults and the kernel kills the process.
    // Were it to return, only the register output `v` is written.
    unsafe {
        asm!("mov {v}, byte ptr [{a}]", a = in(reg) 0u64, v = out(reg_byte) v, options(nostack))
    };
    println!("faulttest: read {v} from NULL");
    survived("null")
}

pub fn kwrite() -> i32 {
    println!("faulttest: writing to kernel address {KERNEL_ADDR:#x}");
    // SAFETY: the store targets the kernel half, which is no memory of this
    // process and is not user-accessible, so no Rust object can change; the
    // access faults and the kernel kills the process.
    unsafe { asm!("mov byte ptr [{a}], 0x42", a = in(reg) KERNEL_ADDR, options(nostack)) };
    survived("kwrite")
}

pub fn gp() -> i32 {
    println!("faulttest: executing cli in ring 3");
    // SAFETY: `cli` touches no memory and, at CPL 3 with IOPL 0, changes no
    // state either: it raises #GP (Intel SDM vol. 2A, CLI) and the kernel
    // kills the process.
    unsafe { asm!("cli", options(nomem, nostack)) };
    survived("gp")
}

pub fn ud() -> i32 {
    println!("faulttest: executing ud2");
    // SAFETY: `ud2` touches no memory or register; it raises #UD and the
    // kernel kills the process.
    unsafe { asm!("ud2", options(nomem, nostack)) };
    survived("ud")
}

pub fn munmapped() -> i32 {
    let p = match sys::mmap_anon(4096) {
        Ok(p) => p,
        Err(e) => {
            println!("faulttest: mmap -> -{} FAIL", e.name());
            return 1;
        }
    };
    // SAFETY: `p` is the start of a private read/write page just mapped for
    // this process, used by nothing else.
    unsafe { p.write_volatile(1) };
    // SAFETY: the page was mapped above and nothing refers to it; `p` is
    // only used afterwards as an address in asm, never dereferenced by Rust.
    if let Err(e) = unsafe { sys::munmap(p as usize, 4096) } {
        println!("faulttest: munmap -> -{} FAIL", e.name());
        return 1;
    }
    println!("faulttest: touching unmapped page {:#x}", p as usize);
    // SAFETY: the page at `p` was unmapped above, so it is no memory Rust
    // knows about (no mapping the allocator could have put there since:
    // nothing allocated in between); the store faults and the kernel kills
    // the process.
    unsafe { asm!("mov byte ptr [{a}], 0x42", a = in(reg) p, options(nostack)) };
    survived("munmapped")
}
