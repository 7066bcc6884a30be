//! kexos purgatory, bare-metal half.
//!
//! Runs after the old kernel's relocate_kernel copied the new image into
//! place: checks the SHA-256 (or XXH64) of the loaded segments, then enters the next
//! kernel with the registers in `entry64_regs`. Entry and hand-over are in
//! entry.s; the decisions and messages are in `purgatory_core` (host-tested).
//! Here: the symbols the kernel patches, physical memory, the UART, the TSC.
//!
//! Everything the kernel patches is a `static mut` in `.data` (never
//! `.bss`, so it has file bytes to patch), read through [`patched`] so the
//! compiler cannot fold the zero initialisers. Names, sizes and layouts are
//! purgatory_abi's: `#[export_name]` cannot take a const, so each static's
//! identifier is its ABI name; the sizes are asserted below and the build
//! check (xtask/src/purgatory.rs) verifies the produced object against
//! `purgatory_abi::PATCHABLE_SYMBOLS` (name, GLOBAL OBJECT, exact size).
#![no_std]
#![allow(non_upper_case_globals)]

use core::arch::{asm, global_asm};

use purgatory_core::purgatory_abi::{self as abi, entry_regs_offset as off};
use purgatory_core::{self as pc, Console, EntryRegs, PhysMemory, ShaRegion, MAX_REGIONS};

mod second_cpu;

// The entry64_regs field offsets come from the ABI crate.
global_asm!(
    include_str!("entry.s"),
    RAX = const off::RAX, RCX = const off::RCX, RDX = const off::RDX, RBX = const off::RBX,
    RSP = const off::RSP, RBP = const off::RBP, RSI = const off::RSI, RDI = const off::RDI,
    R8 = const off::R8, R9 = const off::R9, R10 = const off::R10, R11 = const off::R11,
    R12 = const off::R12, R13 = const off::R13, R14 = const off::R14, R15 = const off::R15,
    RIP = const off::RIP,
    options(att_syntax)
);

#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut purgatory_sha_regions: [ShaRegion; MAX_REGIONS] = [ShaRegion::EMPTY; MAX_REGIONS];

#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut purgatory_sha256_digest: [u8; 32] = [0; 32];

#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut purgatory_region_digests: [[u8; 32]; MAX_REGIONS] = [[0; 32]; MAX_REGIONS];

/// purgatory_abi::RegionPrefix's little-endian image, decoded on use.
#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut purgatory_region_prefixes: [u8; abi::REGION_PREFIXES.size] = [0; abi::REGION_PREFIXES.size];

/// purgatory_abi::REGION_CUTS, the same encoding as the prefixes.
#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut purgatory_region_cuts: [u8; abi::REGION_CUTS.size] = [0; abi::REGION_CUTS.size];

#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut purgatory_second_cpu: u64 = 0;

#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut entry64_regs: EntryRegs = EntryRegs::ZERO;

#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut purgatory_serial_port: u16 = 0x3f8;

#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut purgatory_flags: u64 = 0;

#[no_mangle]
#[link_section = ".data.purgatory_params"]
pub static mut purgatory_timing: [u64; 2] = [0; 2];

// Each static has the ABI's exact size.
const _: () = {
    use core::mem::size_of;
    assert!(size_of::<[ShaRegion; MAX_REGIONS]>() == abi::SHA_REGIONS.size);
    assert!(size_of::<[u8; 32]>() == abi::SHA256_DIGEST.size);
    assert!(size_of::<[[u8; 32]; MAX_REGIONS]>() == abi::REGION_DIGESTS.size);
    assert!(size_of::<EntryRegs>() == abi::ENTRY64_REGS.size);
    assert!(size_of::<u16>() == abi::SERIAL_PORT.size);
    assert!(size_of::<u64>() == abi::FLAGS.size);
    assert!(size_of::<[u64; 2]>() == abi::TIMING.size);
    assert!(size_of::<u64>() == abi::SECOND_CPU.size);
};

/// The value the kernel patched into one of the statics above. The pointer
/// passes through an empty `asm!`, so the optimiser cannot tell which static
/// it points to and cannot fold that static's zero initialiser into the
/// read. The read itself is an ordinary copy (a `memcpy` for the tables): a
/// volatile read of an array is one load per word, unrolled, which QEMU has
/// to translate at every kexec (docs/benchmarks.md, "What is left of a
/// kexec'd boot: translation").
///
/// # Safety
/// `p` is one of this file's patched statics: aligned, initialised, and
/// written by nobody once purgatory runs.
unsafe fn patched<T: Copy>(mut p: *const T) -> T {
    // SAFETY: the asm is empty: it returns the pointer unchanged and touches
    // no memory, stack or flags. (Not `nomem`: the optimiser must also assume
    // it may have written the static.)
    unsafe { asm!("/* {0} */", inout(reg) p, options(nostack, preserves_flags)) };
    // SAFETY: the caller's contract (a valid, unchanging static).
    unsafe { p.read() }
}

/// Called once by purgatory_start on our own stack and GDT. Returns only if
/// the next kernel may be entered.
#[no_mangle]
pub extern "C" fn purgatory_main() {
    let entry_tsc = rdtsc();
    // SAFETY: nothing else runs yet (a second CPU starts in verify_on);
    // the kernel patched these before entering us and nobody writes them
    // any more.
    let (params, port, second_page) = unsafe {
        let regs = patched(&raw const entry64_regs);
        (
            pc::Params {
                regions: patched(&raw const purgatory_sha_regions),
                digest: patched(&raw const purgatory_sha256_digest),
                region_digests: patched(&raw const purgatory_region_digests),
                region_prefixes: pc::RegionPrefix::table_from_bytes(&patched(&raw const purgatory_region_prefixes)),
                region_cuts: pc::RegionPrefix::table_from_bytes(&patched(&raw const purgatory_region_cuts)),
                flags: patched(&raw const purgatory_flags),
                entry_rip: regs.rip,
                timing: patched(&raw const purgatory_timing),
                entry_tsc,
            },
            patched(&raw const purgatory_serial_port),
            patched(&raw const purgatory_second_cpu),
        )
    };
    let mut uart = Uart { port };
    // SSE first: the second CPU copies this CR4.
    let block_function = abi::block_function(params.flags);
    let saved_cr4 = block_function.uses_xmm().then(|| enable_sse(block_function));
    let (mut one, mut ap);
    let cpus: &mut dyn pc::SecondCpu = match second_cpu::Ap::new(second_page, params.timing[0], uart) {
        Ok(second) => {
            ap = second;
            &mut ap
        }
        Err(why) => {
            if let Some(why) = why {
                uart.write_str("purgatory: one CPU (");
                uart.write_str(why);
                uart.write_str(")\n");
            }
            one = pc::OneCpu;
            &mut one
        }
    };
    let decision = pc::verify_on(&params, &IdentityMapped, &mut uart, rdtsc, cpus);
    if let Some(cr4) = saved_cr4 {
        write_cr4(cr4);
    }
    match decision {
        pc::Decision::Boot => {}
        pc::Decision::Refuse => halt_forever(),
    }
}

/// CR4.OSFXSR (bit 9) and OSXMMEXCPT (bit 10): without OSFXSR every SSE
/// instruction raises #UD (Intel SDM vol. 3A, 2.5). relocate_kernel has
/// cleared CR0.EM and CR0.TS.
const CR4_OSFXSR_OSXMMEXCPT: u64 = (1 << 9) | (1 << 10);

/// Enables SSE and makes `b` (an SSE block function: SSE2, or SHA-NI if
/// CPUID has it) the block function; returns the CR4 to put back before the
/// next kernel, which gets the machine as the old kernel left it. kexos's
/// kernel keeps OSFXSR set (kernel/src/arch/simd.rs) and relocate_kernel
/// keeps CR4, so today both writes leave CR4 as it was: they keep purgatory
/// from depending on that.
fn enable_sse(b: sha256::Backend) -> u64 {
    let cr4 = read_cr4();
    write_cr4(cr4 | CR4_OSFXSR_OSXMMEXCPT);
    // SAFETY: SSE is enabled until after the verification, the only hashing,
    // and nothing here keeps a value in an XMM register (soft-float build).
    unsafe { sha256::use_backend(b) };
    cr4
}

pub(crate) fn read_cr4() -> u64 {
    let cr4: u64;
    // SAFETY: reading CR4 at CPL 0 has no side effect.
    unsafe { asm!("mov {}, cr4", out(reg) cr4, options(nomem, nostack, preserves_flags)) };
    cr4
}

fn write_cr4(cr4: u64) {
    // SAFETY: only the SSE enable bits change between the values written
    // here (the original CR4 and it with OSFXSR|OSXMMEXCPT); paging, PAE and
    // PGE stay as relocate_kernel set them.
    unsafe { asm!("mov cr4, {}", in(reg) cr4, options(nostack, preserves_flags)) };
}

/// Physical memory through the identity map.
struct IdentityMapped;

impl PhysMemory for IdentityMapped {
    fn feed<F: FnMut(&[u8])>(&self, region: ShaRegion, mut sink: F) {
        let (mut start, mut len) = (region.start, region.len);
        if start == 0 && len != 0 {
            // A slice may not start at address 0: copy the first bytes out
            // with a string move (physical page 0 is ordinary memory here).
            let mut buf = [0u8; 64];
            let n = core::cmp::min(len, buf.len() as u64) as usize;
            // SAFETY: reads n bytes at physical 0 (identity-mapped), writes
            // n <= 64 bytes into buf; DF is clear (entry.s).
            unsafe {
                asm!(
                    "rep movsb",
                    inout("rcx") n => _,
                    inout("rsi") 0usize => _,
                    inout("rdi") buf.as_mut_ptr() => _,
                    options(nostack, preserves_flags),
                );
            }
            sink(&buf[..n]);
            start += n as u64;
            len -= n as u64;
        }
        if len != 0 {
            // SAFETY: check_regions guaranteed no wrap-around and
            // len <= isize::MAX; the kernel's identity map covers every region
            // and nothing writes them while we hash.
            let bytes = unsafe { core::slice::from_raw_parts(start as *const u8, len as usize) };
            sink(bytes);
        }
    }
}

/// A 16550 already initialised by the previous kernel (baud, 8N1): we only
/// poll LSR.THRE and write THR, so the console settings stay as they were.
#[derive(Clone, Copy)]
pub(crate) struct Uart {
    port: u16,
}

impl Uart {
    fn put(&self, byte: u8) {
        // Bounded wait: a missing UART reads 0xff (THRE set) anyway, and a
        // wedged one must not stop the boot.
        let mut spins = 0u32;
        while inb(self.port + 5) & 0x20 == 0 && spins < 100_000 {
            spins += 1;
            core::hint::spin_loop();
        }
        outb(self.port, byte);
    }
}

impl Console for Uart {
    fn write_bytes(&mut self, bytes: &[u8]) {
        if self.port == 0 {
            return;
        }
        for &b in bytes {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
    }
}

fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: port I/O at CPL 0 has no memory effects.
    unsafe {
        asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack, preserves_flags))
    };
    value
}

fn outb(port: u16, value: u8) {
    // SAFETY: as inb.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    };
}

pub(crate) fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reads the TSC (CR4.TSD does not matter at CPL 0).
    unsafe {
        asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}

pub(crate) fn halt_forever() -> ! {
    loop {
        // SAFETY: stops this CPU; with IF = 0 only an NMI wakes it, and the
        // loop puts it back to sleep.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // The second CPU just stops: its job never says done, and the first
    // CPU checks its share itself (second_cpu.rs); the first CPU owns the
    // console and the verdict.
    if second_cpu::on_second_cpu() {
        halt_forever()
    }
    // SAFETY: as in purgatory_main.
    let port = unsafe { patched(&raw const purgatory_serial_port) };
    Uart { port }.write_bytes(b"purgatory: panic, refusing to boot\n");
    halt_forever()
}
