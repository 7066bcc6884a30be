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
    // SAFETY: none; the kernel must kill the process here.
    unsafe {
        asm!("mov {v}, byte ptr [{a}]", a = in(reg) 0u64, v = out(reg_byte) v, options(nostack))
    };
    println!("faulttest: read {v} from NULL");
    survived("null")
}

pub fn kwrite() -> i32 {
    println!("faulttest: writing to kernel address {KERNEL_ADDR:#x}");
    // SAFETY: none; the kernel must kill the process here.
    unsafe { asm!("mov byte ptr [{a}], 0x42", a = in(reg) KERNEL_ADDR, options(nostack)) };
    survived("kwrite")
}

pub fn gp() -> i32 {
    println!("faulttest: executing cli in ring 3");
    // SAFETY: none; cli at CPL 3 (IOPL 0) raises #GP.
    unsafe { asm!("cli", options(nomem, nostack)) };
    survived("gp")
}

pub fn ud() -> i32 {
    println!("faulttest: executing ud2");
    // SAFETY: none; raises #UD.
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
    // SAFETY: freshly mapped page.
    unsafe { p.write_volatile(1) };
    // SAFETY: nothing else refers to the page.
    if let Err(e) = unsafe { sys::munmap(p as usize, 4096) } {
        println!("faulttest: munmap -> -{} FAIL", e.name());
        return 1;
    }
    println!("faulttest: touching unmapped page {:#x}", p as usize);
    // SAFETY: none; the kernel must kill the process here.
    unsafe { asm!("mov byte ptr [{a}], 0x42", a = in(reg) p, options(nostack)) };
    survived("munmapped")
}
