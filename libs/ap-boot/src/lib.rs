//! Starting a second x86_64 CPU, written down once for the two programs
//! that do it: the kernel (arch/smp.rs, its helper CPU during
//! kexec_file_load) and purgatory (its second CPU during the check before
//! the next kernel).
//!
//! - `ap_boot.s`: the start-up code a start-up IPI runs, from real mode
//!   straight into 64-bit code (Intel SDM vol. 3A, 9.4 and 9.8.5), with
//!   [`ApParams`] as its parameter block; [`install`] copies it to a page
//!   below 1 MiB.
//! - [`Ipi`]: the Interrupt Command Register values (SDM vol. 3A, 10.6.1)
//!   for INIT, start-up and fixed IPIs; [`SIPI_DELAY_US`], the wait after
//!   each start-up IPI.
//! - [`ApicBase`]: what IA32_APIC_BASE says about the running CPU.
//!
//! Sending an IPI (a MMIO write to the LAPIC) is each program's own: the
//! kernel maps the LAPIC in its direct map, purgatory runs on an identity
//! map.
#![no_std]

core::arch::global_asm!(include_str!("ap_boot.s"), options(att_syntax));

extern "C" {
    static kexos_ap_boot: u8;
    static kexos_ap_boot_end: u8;
    static kexos_ap_gdt: u8;
    static kexos_ap_gdtr: u8;
    static kexos_ap_long: u8;
    static kexos_ap_far: u8;
    static kexos_ap_params: u8;
}

/// The start-up code's parameter block (`kexos_ap_params` in ap_boot.s,
/// in this order).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ApParams {
    /// CR3 on the way into long mode: a PML4 below 4 GiB (loaded in 32-bit
    /// form) whose tables map the start-up page to itself and `entry`.
    pub pml4: u64,
    /// CR4 once in long mode (the caller's own, usually).
    pub cr4: u64,
    /// CR0 once in long mode (written before CR4).
    pub cr0: u64,
    /// The stack pointer `entry` is called with (16-byte aligned).
    pub stack: u64,
    /// The 64-bit code the CPU calls, with interrupts off; it must not return.
    pub entry: u64,
}

// ap_boot.s reads the block at these offsets: pml4 +0, cr4 +8, cr0 +16,
// stack +24, entry +32; its claim word follows at +40.
const _: () = assert!(core::mem::size_of::<ApParams>() == 40);
const _: () = assert!(core::mem::offset_of!(ApParams, entry) == 32);

/// The wait after each start-up IPI: 10 us, as Linux waits on CPUs of
/// family 6 and later (arch/x86/kernel/smpboot.c); neither program waits
/// the MP specification's 10 ms after INIT.
pub const SIPI_DELAY_US: u64 = 10;

/// The start-up code loads CR3 in 32-bit form (ap_boot.s): the page tables
/// a CPU starts on ([`ApParams::pml4`]) must lie below this address.
pub const PML4_LIMIT: u64 = 1 << 32;

/// The highest page a start-up IPI can name: its vector is the page number,
/// below 1 MiB (SDM vol. 3A, 9.4.4.1).
pub const LAST_STARTUP_PAGE: u64 = 0xff << 12;

/// Bytes of start-up code [`install`] copies (well under a page).
pub fn code_len() -> usize {
    // Only the addresses of the linker symbols are taken.
    (&raw const kexos_ap_boot_end as usize) - (&raw const kexos_ap_boot as usize)
}

/// Copy the start-up code to `dst`, the mapping of the physical page
/// `page` (page-aligned, at most [`LAST_STARTUP_PAGE`]), and fill in its
/// addresses and `params`. The code's claim word starts clear: the first
/// CPU to run it goes on to `params.entry`, the others halt in it.
///
/// # Safety
/// `dst` is writable for [`code_len`] bytes, nothing else uses them, and
/// they are what the CPU sees at physical `page`.
pub unsafe fn install(dst: *mut u8, page: u64, params: &ApParams) {
    let at = |sym: *const u8| sym as u64 - &raw const kexos_ap_boot as u64;
    // Both are real-mode addresses (below 1 MiB) or 32-bit far pointers.
    let gdt = (page + at(&raw const kexos_ap_gdt)) as u32;
    let long = (page + at(&raw const kexos_ap_long)) as u32;
    // SAFETY: the caller's contract for dst; the source is the assembled
    // code between two of its own labels; every offset is inside the copied
    // bytes; the GDTR's base (at +2) is unaligned, so all three are written so.
    unsafe {
        core::ptr::copy_nonoverlapping(&raw const kexos_ap_boot, dst, code_len());
        dst.add(at(&raw const kexos_ap_gdtr) as usize + 2).cast::<u32>().write_unaligned(gdt);
        dst.add(at(&raw const kexos_ap_far) as usize).cast::<u32>().write_unaligned(long);
        dst.add(at(&raw const kexos_ap_params) as usize).cast::<ApParams>().write_unaligned(*params);
    }
}

/// The inter-processor interrupts kexos sends (SDM vol. 3A, 10.6.1,
/// "Interrupt Command Register").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipi {
    /// INIT, level assert, to every CPU but this one: back to
    /// wait-for-SIPI, the state a kernel starts its APs from.
    InitAllButSelf,
    /// Start-up at page `vector` (real-mode CS = vector << 8), every CPU but this one.
    StartupAllButSelf(u8),
    /// A fixed interrupt on `vector` for the CPU whose APIC ID is `dest`.
    Fixed { dest: u32, vector: u8 },
}

impl Ipi {
    /// The values to write to ICR high (offset 0x310) and then ICR low
    /// (offset 0x300), whose write sends it.
    pub const fn icr(self) -> (u32, u32) {
        const ALL_BUT_SELF: u32 = 0b11 << 18;
        const ASSERT: u32 = 1 << 14;
        match self {
            Ipi::InitAllButSelf => (0, ALL_BUT_SELF | ASSERT | 0b101 << 8),
            Ipi::StartupAllButSelf(v) => (0, ALL_BUT_SELF | ASSERT | 0b110 << 8 | v as u32),
            Ipi::Fixed { dest, vector } => (dest << 24, ASSERT | vector as u32),
        }
    }
}

/// LAPIC register offsets (SDM vol. 3A, table 10-1) both programs use.
pub mod reg {
    /// Interrupt Command Register, low half (bit 12: delivery pending).
    pub const ICR_LOW: usize = 0x300;
    /// Interrupt Command Register, high half (destination, bits 31:24).
    pub const ICR_HIGH: usize = 0x310;
    /// ICR low's delivery status bit.
    pub const ICR_PENDING: u32 = 1 << 12;
    /// How many times a sender reads ICR low for that bit to clear before
    /// it goes on anyway: a LAPIC that never clears it must not hang a
    /// kexec or a crash.
    pub const ICR_WAIT_READS: u32 = 1_000_000;
}

/// IA32_APIC_BASE (MSR 0x1b; SDM vol. 3A, 10.4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApicBase(pub u64);

impl ApicBase {
    /// The MSR's number.
    pub const MSR: u32 = 0x1b;

    /// Bit 8: this CPU is the bootstrap processor. An INIT sent to the BSP
    /// resets the machine (SDM 9.4.1), so only the BSP sends "all but self".
    pub fn bsp(self) -> bool {
        self.0 & (1 << 8) != 0
    }

    /// Bit 10: x2APIC mode, where the MMIO registers do not work.
    pub fn x2apic(self) -> bool {
        self.0 & (1 << 10) != 0
    }

    /// Bit 11: the LAPIC is enabled.
    pub fn enabled(self) -> bool {
        self.0 & (1 << 11) != 0
    }

    /// Physical address of the register page (bits 12 and up).
    pub fn registers(self) -> u64 {
        self.0 & 0x000f_ffff_ffff_f000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icr_values_match_the_sdm() {
        // SDM 10.6.1: INIT = delivery mode 101, start-up = 110, level
        // assert (bit 14), shorthand "all excluding self" (bits 19:18 = 11).
        assert_eq!(Ipi::InitAllButSelf.icr(), (0, 0x000c_4500));
        assert_eq!(Ipi::StartupAllButSelf(0x9f).icr(), (0, 0x000c_469f));
        assert_eq!(Ipi::Fixed { dest: 1, vector: 0xf0 }.icr(), (1 << 24, 0x0000_40f0));
    }

    #[test]
    fn apic_base_bits() {
        let b = ApicBase(0xfee0_0000 | 1 << 8 | 1 << 11);
        assert!(b.bsp() && b.enabled() && !b.x2apic());
        assert_eq!(b.registers(), 0xfee0_0000);
        assert!(ApicBase(1 << 10).x2apic());
    }

    #[test]
    fn the_code_fits_a_page_and_its_words_are_filled() {
        let len = code_len();
        assert!(len > 0 && len < 4096, "{len}");
        let mut page = [0u8; 4096];
        let p = ApParams { pml4: 0x1000, cr4: 0x20, cr0: 0x8000_0011, stack: 0x1234_5670, entry: 0xdead_beef };
        // SAFETY: the buffer is ours and large enough.
        unsafe { install(page.as_mut_ptr(), 0x9f000, &p) };
        let at = |sym: *const u8| sym as usize - &raw const kexos_ap_boot as usize;
        let params = at(&raw const kexos_ap_params);
        let word = |o: usize| u64::from_le_bytes(page[o..o + 8].try_into().unwrap());
        assert_eq!([word(params), word(params + 8), word(params + 16), word(params + 24), word(params + 32)], [0x1000, 0x20, 0x8000_0011, 0x1234_5670, 0xdead_beef]);
        let far = at(&raw const kexos_ap_far);
        let far_target = u32::from_le_bytes(page[far..far + 4].try_into().unwrap());
        assert_eq!(far_target as usize, 0x9f000 + at(&raw const kexos_ap_long));
        // The claim word (just after the parameter block) starts clear.
        assert_eq!(&page[params + 40..params + 42], &[0, 0]);
    }
}
