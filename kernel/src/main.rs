//! kexos: a small x86_64 unikernel whose reason to exist is a native
//! `kexec_file_load`. This file is the boot path: two entries (the
//! bootloader crate's on the first boot, the x86 64-bit boot protocol's after
//! every kexec) each normalise into one [`boot::BootContext`], then [`kmain`]
//! brings the machine up in order and starts `/sbin/init`.
#![no_std]
#![no_main]
#![feature(abi_x86_interrupt)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

#[macro_use]
mod klog;
mod last_kmsg;
mod arch;
mod boot;
mod console;
mod crash;
mod fs;
mod ima;
mod kexec;
mod mm;
mod panic;
mod proc;
mod security;
mod syscall;
mod time;

use bootloader_api::config::{BootloaderConfig, Mapping};

/// Where all physical memory is mapped (the "direct map"). Fixed, so that
/// every boot path (bootloader today, boot protocol after a kexec) agrees.
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;

static BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    config.mappings.physical_memory = Some(Mapping::FixedAddress(PHYS_OFFSET));
    // Keep the bootloader's own dynamic mappings (stack, boot info, ramdisk)
    // out of the direct map's way.
    config.mappings.dynamic_range_start = Some(0xffff_c000_0000_0000);
    config.mappings.dynamic_range_end = Some(0xffff_c800_0000_0000);
    config.kernel_stack_size = 128 * 1024;
    config
};

bootloader_api::entry_point!(bootloader_main, config = &BOOTLOADER_CONFIG);

/// First boot: entered by the `bootloader` crate (UEFI or BIOS).
fn bootloader_main(info: &'static mut bootloader_api::BootInfo) -> ! {
    time::mark_kernel_entry();
    let ctx = boot::from_bootloader(info);
    // Leave the bootloader's stack for our own before replacing its page tables.
    arch::stack::run_on_boot_stack(ctx, kmain)
}

// The 64-bit boot-protocol entry (kexos_boot64, at load address + 0x200):
// builds its own page tables and calls kexos_boot64_rust below.
core::arch::global_asm!(include_str!("arch/boot64.s"));

/// Every kexec'd boot: entered from `kexos_boot64` (arch/boot64.s) on its
/// temporary .bss stack, with the kernel at its link address, physical
/// memory at PHYS_OFFSET for `[0, mapped)` and interrupts off.
#[no_mangle]
extern "C" fn kexos_boot64_rust(boot_params: u64, load_addr: u64, mapped: u64) -> ! {
    time::mark_kernel_entry();
    let ctx = boot::from_boot_params(boot_params, load_addr, mapped);
    arch::stack::run_on_boot_stack(ctx, kmain)
}

/// The one kernel initialisation every boot path ends in.
fn kmain(ctx: &'static boot::BootContext) -> ! {
    console::init();
    arch::init_cpu();
    time::mark("console");
    let tsc = time::init(ctx.handed_tsc());
    time::mark("tsc");
    info!("kexos {} ({}) booting", env!("CARGO_PKG_VERSION"), if cfg!(debug_assertions) { "debug" } else { "release" });
    time::log_frequency(tsc);
    // The crash region right after the heap (parsing allocates), before
    // anything else takes memory: the heap sits low, the crash region is
    // searched top-down.
    mm::init_allocators(ctx, || crash::reserve(ctx, ctx.regions()));
    time::mark("mm");
    mm::init(ctx);
    time::mark("page tables");
    arch::init_interrupts();
    fs::init(ctx);
    time::mark("initramfs");
    boot::init_cmdline(ctx);
    // Before anything hashes with SHA-256 (the keyring below, IMA, every load).
    arch::simd::init(boot::cmdline());
    crash::vmcore::init(boot::cmdline());
    // After the SIMD set-up, whose CR4 the helper CPU copies.
    arch::smp::init(boot::cmdline(), crash::vmcore::is_capture_kernel(boot::cmdline()));
    // The kernel's files, each registered by its owner.
    fs::install_kernel_files();
    security::init(boot::cmdline());
    time::mark("files");
    kexec::sig::init(boot::cmdline());
    time::mark("keys");
    kexec::sysfs::install();
    crash::install_files();
    boot::log_summary(ctx);
    kexec::handover::init();
    ima::init(boot::cmdline());
    last_kmsg::init();
    time::mark("ima");
    require_init();
    match mm::breakdown(ctx, fs::with(|fs| fs.file_heap_bytes())) {
        Some(b) => info!("{}{}", bootstats::MEM_PREFIX, b),
        None => info!("mm: the memory breakdown does not add up (a bug in its counts)"),
    }
    proc::start_init(false)
}

/// Without /sbin/init (no initramfs: e.g. `kexec -l` without `--initrd`)
/// there is nothing to run: say so and power off instead of panicking.
fn require_init() {
    if fs::with(|fs| fs.lookup(proc::INIT_PATH).is_ok()) {
        return;
    }
    info!("kexos: no {} in the root file system (no initramfs, or it did not fit in memory: see above): nothing to run", proc::INIT_PATH);
    info!("kexos: power off");
    arch::qemu::exit(arch::qemu::ExitCode::Success)
}
