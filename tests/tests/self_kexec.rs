//! Self-kexec scenarios (issue 4): kexos boots kexos through the x86 64-bit boot protocol, via
//! the bzImage64 loader (`/boot/kexos.bzImage`) and the ELF64 loader (`/boot/kexos.elf`), in a
//! chain that ends in Linux; and Debian's own kexec-tools on Linux boots kexos.bzImage.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::Result;
use kexos_tests::{
    kexos_host_files, linux_fixture, linux_kexec_into, random_token, Artifacts, BootOptions,
    Firmware, Machine,
};

const HOP: Duration = Duration::from_secs(120);

/// `MemTotal` and `MemFree` in kB from /proc/meminfo.
fn meminfo(m: &mut Machine) -> Result<(u64, u64)> {
    Ok((m.meminfo_kb("MemTotal")?, m.meminfo_kb("MemFree")?))
}

/// kexos with the `kexec_test` hooks.
fn boot_with_test_hooks() -> Result<Machine> {
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.append = String::from("kexec_test");
    Machine::boot(opts)
}

/// `kexec -s -l image` with the running initramfs and `append`; the load must succeed. Returns
/// what the command and the kernel printed.
fn load(m: &mut Machine, image: &str, append: &str) -> Result<String> {
    let out = m.run(&format!(
        "kexec -s -l {image} --initrd=/boot/initramfs.cpio --append=\"{append}\""
    ))?;
    m.check(
        !out.contains("failed") && out.contains(&format!("kexec_file: loaded {image} (")),
        format_args!("loading {image} failed: {out:?}"),
    )?;
    Ok(out)
}

/// Load `image` with the running initramfs and `append`, jump, and check the next kexos: its
/// loader, its prompt, exactly our command line. Returns its (MemTotal, MemFree).
fn hop(m: &mut Machine, image: &str, loader: &str, append: &str) -> Result<(u64, u64)> {
    let out = load(m, image, append)?;
    // The kernel logs which loader took the image while the syscall runs.
    m.check(
        out.contains(&format!("({loader}) in ")),
        format_args!("{image} was not loaded by {loader}: {out:?}"),
    )?;
    m.exec_into_kexos(image, append, HOP)?;
    meminfo(m)
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn self_kexec_bzimage() -> Result<()> {
    let mut m = Machine::boot(BootOptions::new(Firmware::Uefi))?;
    let append = format!("token={}", random_token("bz-"));
    hop(&mut m, "/boot/kexos.bzImage", "bzImage64", &append)?;
    // Purgatory shared its check evenly: the initramfs, the larger, was cut.
    let log = m.transcript();
    m.check_second_cpu_share("the self-kexec", &log)?;
    // The initramfs went along: the next hop has it too.
    m.run_expect("ls /boot", "initramfs.cpio")?;
    // After a kexec no boot loader holds memory; the boot protocol does (zero page, command
    // line), and the breakdown still adds up.
    let (b, _) = kexos_tests::bootstats_check::check_boot_stats(&mut m)?;
    m.check(
        b.loader == 0 && b.boot > 0,
        format_args!("kexec'd boot: boot loader {} bytes, boot protocol {} bytes", b.loader, b.boot),
    )?;
    m.poweroff()
}

/// The memory floor (issue 13): with 48 MiB of RAM, a UEFI boot reaches the prompt with most of
/// the memory free and kexecs itself twice. Three things make it fit, each needed (see
/// docs/benchmarks.md, "The memory floor"): the image's EFI partition is FAT12 (boot::esp), QEMU
/// has no NIC (no iPXE in OVMF), and kexos gives back what the boot loader marks as its own but
/// never used (memmap::boot_tables): at 48M that is most of RAM.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn self_kexec_chain_in_48m() -> Result<()> {
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.mem = "48M".into();
    // The debug kernel is 1.6 MB and the boot loader loads the initramfs in one piece while
    // OVMF runs: leave out what the hops do not use (the bench measures the floor with the
    // release kernel and the whole default initramfs).
    opts.remove = ["/boot/kexos.elf", "/bin/faulttest", "/bin/sysfuzz"].map(String::from).into();
    let mut m = Machine::boot(opts)?;
    let (b, _) = kexos_tests::bootstats_check::check_boot_stats(&mut m)?;
    m.check(
        b.loader < (1 << 20) && b.free > (16 << 20),
        format_args!("48M first boot: boot loader {} KiB, free {} KiB", b.loader >> 10, b.free >> 10),
    )?;
    // The middle kexos runs on one CPU (`nosmp`): its load hashes both passes itself, and the
    // kexos after it starts the helper CPU again (kernel/src/arch/smp.rs).
    for (i, append) in [(1, "hop=1 nosmp"), (2, "hop=2")] {
        let out = load(&mut m, "/boot/kexos.bzImage", append)?;
        let helped = out.contains("on the helper CPU, verify_sig");
        m.check(helped == (i == 1), format_args!("load {i}: IMA's passes on the helper CPU: {helped}: {out:?}"))?;
        m.exec_into_kexos("/boot/kexos.bzImage", append, HOP)?;
        // Purgatory shares its check with the second CPU only after the kexos that has one.
        let shared = m.transcript().matches(kexec_core::purgatory_abi::SECOND_CPU_LINE).count();
        m.check(shared == 1, format_args!("hop {i}: {shared} purgatory runs on two CPUs so far, expected 1"))?;
        let (total, free) = meminfo(&mut m)?;
        m.check(free > 16 << 10, format_args!("hop {i}: MemTotal {total} kB, MemFree {free} kB"))?;
        let smp = if i == 1 { "smp: one CPU (nosmp on the command line)" } else { "smp: helper CPU online" };
        let dmesg = m.run("dmesg")?;
        m.check_contains(&format!("kexos after hop {i}"), &dmesg, smp)?;
    }
    m.poweroff()
}

/// An entry list the model rejects (a source before any destination, which relocate_kernel
/// would copy to physical address 0) is refused before the jump: reboot returns EINVAL, the
/// kernel says which entry, and the image stays loaded.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn self_kexec_refuses_a_bad_entry_list() -> Result<()> {
    let mut m = boot_with_test_hooks()?;
    load(&mut m, "/boot/kexos.bzImage", "")?;
    let out = m.run("echo list > /sys/kernel/kexec_test_corrupt")?;
    m.check(
        out.contains("a source before any destination"),
        format_args!("test hook did not corrupt the list: {out:?}"),
    )?;
    let out = m.run("kexec -e")?;
    m.check(
        out.contains("not starting the new kernel")
            && out.contains("writes a page before any IND_DESTINATION")
            && out.contains(
                "kexec: reboot(LINUX_REBOOT_CMD_KEXEC) failed: EINVAL (Invalid argument)",
            ),
        format_args!("kexec -e with a bad list was not refused: {out:?}"),
    )?;
    m.assert_absent("purgatory:")?;
    m.run_expect("cat /sys/kernel/kexec_loaded", "1")?;
    m.poweroff()
}

/// A TSC frequency the next kexos cannot use (bootparam::tsc): it says once why, and measures
/// its TSC instead. The `kexec_test` hook makes the load pass 0 kHz (what a zeroed node holds).
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn implausible_tsc_frequency_is_refused() -> Result<()> {
    let mut m = boot_with_test_hooks()?;
    m.run_expect("cat /sys/kernel/kexec_test_tsc_khz", "off")?;
    m.run("echo 0 > /sys/kernel/kexec_test_tsc_khz")?;
    m.run_expect("cat /sys/kernel/kexec_test_tsc_khz", "0")?;
    load(&mut m, "/boot/kexos.bzImage", "tsc")?;
    m.send_line("kexec -e")?;
    m.expect(kexos_tests::markers::PURGATORY_SHA256_OK, HOP)?;
    let boot = m.expect("boot: entered via boot protocol", HOP)?;
    let refusal = format!("{}{}", bootstats::tsc::REFUSED_PREFIX, bootparam::tsc::TscRefusal::Implausible(0));
    m.check(boot.matches(&refusal).count() == 1, format_args!("expected {refusal:?} once in {boot:?}"))?;
    let tsc: Vec<_> = bootstats::tsc::tsc_lines(&boot).map(|(_, source)| source).collect();
    m.check(
        tsc == [Some(bootstats::tsc::TscSource::Calibrated)],
        format_args!("after the refusal: TSC lines {tsc:?}, expected one, calibrated"),
    )?;
    m.expect_prompt(HOP)?;
    m.poweroff()
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn self_kexec_elf() -> Result<()> {
    let mut m = Machine::boot(BootOptions::new(Firmware::Uefi))?;
    let append = format!("token={}", random_token("elf-"));
    hop(&mut m, "/boot/kexos.elf", "elf64", &append)?;
    // Shared evenly too: the initramfs is cut where its first piece is half of everything
    // purgatory checks, the ELF's kernel segment included (KexecFileOps::loaded_len).
    let log = m.transcript();
    m.check_second_cpu_share("the self-kexec", &log)?;
    m.poweroff()
}

/// Three self-kexec hops, alternating loaders, then Linux, in one QEMU run. Every hop checks its
/// command line, and that its memory totals equal the previous hop's: nothing leaked or lost.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn self_kexec_chain_then_linux() -> Result<()> {
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    let mut m = Machine::boot(BootOptions::new(Firmware::Uefi).with_linux(&fx))?;
    let first = meminfo(&mut m)?;
    println!(
        "hop 0 (first boot): MemTotal {} kB, MemFree {} kB",
        first.0, first.1
    );
    let mut previous: Option<(u64, u64)> = None;
    for (i, (image, loader)) in [
        ("/boot/kexos.bzImage", "bzImage64"),
        ("/boot/kexos.elf", "elf64"),
        ("/boot/kexos.bzImage", "bzImage64"),
    ]
    .into_iter()
    .enumerate()
    {
        let append = format!("hop={} token={}", i + 1, random_token("chain-"));
        let totals = hop(&mut m, image, loader, &append)?;
        println!(
            "hop {} ({loader}): MemTotal {} kB, MemFree {} kB",
            i + 1,
            totals.0,
            totals.1
        );
        // The firmware's RAM is all still there at every hop.
        m.check(
            totals.0 == first.0,
            format_args!(
                "hop {}: MemTotal {} kB, first boot had {} kB",
                i + 1,
                totals.0,
                first.0
            ),
        )?;
        // Kexec'd hops boot the same way from the same files: the same free memory.
        if let Some(prev) = previous {
            m.check(
                totals == prev,
                format_args!(
                    "hop {}: {totals:?} differs from the previous hop's {prev:?}",
                    i + 1
                ),
            )?;
        }
        previous = Some(totals);
    }
    let append = format!("console=ttyS0 {} kexos_token={}", kexos_tests::LINUX_ONE_CPU, random_token("chain-linux-"));
    let out = m.run(&format!(
        "kexec -s -l /boot/vmlinuz --initrd=/boot/initrd.img --append=\"{append}\""
    ))?;
    m.check(
        !out.contains("failed"),
        format_args!("loading Linux failed: {out:?}"),
    )?;
    m.send_line("kexec -e")?;
    m.expect_linux_boot(&append, &fx.version()?, HOP)
}

/// Being kexec'd by the real thing: Linux with Debian's kexec-tools loads kexos.bzImage with
/// Linux's own kexec_file_load (its bzImage64 probe and boot protocol) and kexos comes up.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn linux_kexecs_kexos() -> Result<()> {
    let artifacts = Artifacts::from_env()?;
    let (bz, initramfs) = kexos_host_files(&artifacts, "linux_kexecs_kexos-kexos")?;

    let append = format!("console=ttyS0 token={}", random_token("l2k-"));
    let Some(mut m) = linux_kexec_into(&bz, Some(&initramfs), &append)? else {
        return Ok(());
    };
    m.expect("kexec_core: Starting new kernel", HOP)?;
    let boot = m.expect("boot: entered via boot protocol", HOP)?;
    // Linux passes no TSC frequency (a kexos-only setup_data node): kexos measures it.
    let tsc: Vec<_> = bootstats::tsc::tsc_lines(&boot).map(|(_, source)| source).collect();
    m.check(
        tsc == [Some(bootstats::tsc::TscSource::Calibrated)],
        format_args!("kexos under Linux's kexec: TSC lines {tsc:?}, expected one, calibrated"),
    )?;
    // Linux's kexec zero-fills the tail beyond the file too.
    m.expect("boot: .bss arrived zeroed", HOP)?;
    m.expect_prompt(HOP)?;
    let cmdline = m.run("cat /proc/cmdline")?;
    m.check(
        cmdline.trim_end_matches('\n') == append,
        format_args!(
            "kexos under Linux's kexec: /proc/cmdline is {cmdline:?}, expected {append:?}"
        ),
    )?;
    m.poweroff()
}
