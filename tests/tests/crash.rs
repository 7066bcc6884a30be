//! Crash-dump scenarios (issue 5): `crashkernel=` reserves a region, `kexec -s -p` loads a
//! capture kernel into it, and each way of dying (panic, kernel page fault on the
//! write-protected region, kernel stack overflow, the `crash` command) boots the capture kernel,
//! whose /proc/vmcore must be a well-formed ELF core file of the first kernel's memory. The
//! headers and notes are copied out with `hexdump` and parsed here with goblin, an independent
//! reader; a marker planted in kernel memory at a known physical address must be found at
//! exactly the file offset the PT_LOAD headers give. Then the same with Linux as the capture
//! kernel, which proves our ELF core headers against a real consumer.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::{Context, Result};
use goblin::elf::program_header::ProgramHeader;
use kexos_tests::ima::{boot_aggregate, measurements};
use kexos_tests::{
    iomem_line, linux_fixture, markers, random_token, vmcore, Artifacts, BootOptions, Firmware, Machine,
};

const BZIMAGE: &str = "/boot/kexos.bzImage";
const HOP: Duration = Duration::from_secs(180);
/// Where the linker puts kexos's text (kernel/linker.ld), and a generous end.
const KERNEL_TEXT: std::ops::Range<u64> = 0xffff_ffff_8020_0000..0xffff_ffff_8080_0000;

/// Boots kexos with `crashkernel=<size>` (and the test hooks) and returns the region.
fn boot(mem: &str, crashkernel: &str) -> Result<(Machine, (u64, u64))> {
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.mem = mem.into();
    opts.append = format!("crashkernel={crashkernel} kexec_test");
    let mut m = Machine::boot(opts)?;
    let iomem = m.run("cat /proc/iomem")?;
    let region = iomem
        .lines()
        .filter_map(iomem_line)
        .find(|&(_, _, name)| name == "Crash kernel")
        .map(|(s, e, _)| (s, e))
        .with_context(|| format!("no Crash kernel in /proc/iomem: {iomem:?}"))?;
    let size = m.run("cat /sys/kernel/kexec_crash_size")?;
    m.check(
        size.trim() == (region.1 - region.0).to_string(),
        format_args!("kexec_crash_size {size:?} disagrees with /proc/iomem {region:x?}"),
    )?;
    Ok((m, region))
}

/// Loads `image` (/boot/kexos.bzImage or /boot/kexos.elf) as the crash kernel with `append`,
/// with `-d`; returns what it printed.
fn load_kexos_capture(m: &mut Machine, image: &str, append: &str) -> Result<String> {
    let out = m.run(&format!(
        "kexec -s -p {image} --initrd=/boot/initramfs.cpio --append=\"{append}\" -d"
    ))?;
    let loader = if image.ends_with(".elf") {
        "(elf64)"
    } else {
        "(bzImage64)"
    };
    m.check(
        out.contains(&format!("{loader} as the crash kernel")) && !out.contains("failed"),
        format_args!("crash load of {image} failed: {out:?}"),
    )?;
    // A capture kernel gets no hand-over buffer, IMA's included (as Linux).
    m.check_contains("crash load", &out, "no IMA measurement list for a crash kernel")?;
    m.check_lacks("crash load", &out, "ima_buffer")?;
    m.run_expect("cat /sys/kernel/kexec_crash_loaded", "1")?;
    Ok(out)
}

/// The transcript from the last crash kexec on (purgatory's lines, then the capture kernel).
fn crash_kexec_log(m: &Machine) -> String {
    let t = m.transcript();
    t[t.rfind(markers::CAPTURE_START).unwrap_or(0)..].to_string()
}

/// Plants a random marker in kernel memory; returns it and its physical address.
fn plant_marker(m: &mut Machine) -> Result<(String, u64)> {
    let marker = random_token("KEXOS-DUMP-MARK-");
    let out = m.run(&format!(
        "echo marker {marker} > /sys/kernel/kexec_test_crash"
    ))?;
    let phys = out
        .split("marker at phys 0x")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .with_context(|| format!("no marker address in {out:?}"))?;
    Ok((marker, phys))
}

/// Waits for the capture kernel's prompt after a crash; returns its boot log (from purgatory's
/// verdict to the prompt).
///
/// Checks that the capture kernel runs its clock at the crashed kernel's TSC frequency
/// (bootparam::tsc).
fn expect_capture(m: &mut Machine) -> Result<String> {
    m.expect(markers::CAPTURE_START, HOP)?;
    let t = m.transcript();
    let ours = t.rfind(markers::CAPTURE_START).and_then(|at| kexos_tests::last_tsc_mhz(&t[..at]));
    m.expect(kexos_tests::markers::PURGATORY_SHA256_OK, HOP)?;
    let log = m.expect("crash: capture kernel: /proc/vmcore is", HOP)?;
    m.check_tsc_passed_on("the crash", &log, ours.as_deref())?;
    let rest = m.expect_prompt(HOP)?;
    Ok(log + &rest)
}

/// What the capture kernel's /proc/vmcore must be: an x86-64 ELF core file whose first program
/// header is the one merged PT_NOTE (an NT_PRSTATUS with a RIP in the kernel's text, and
/// VMCOREINFO), then PT_LOADs covering the first kernel's RAM except [0, 1 MiB) and the crash
/// region, with page-consistent offsets; the marker is at the offset the headers give, and
/// `grep` finds it when `grep_all`.
fn check_vmcore(
    m: &mut Machine,
    region: (u64, u64),
    marker: &str,
    phys: u64,
    first_ram: u64,
    grep_all: bool,
    r12: Option<u64>,
) -> Result<()> {
    let (_, phdrs) = vmcore::headers(m)?;
    // Kernel-image PT_LOADs (at link addresses, for debuggers) come first, then RAM's.
    let is_kernel_map =
        |p: &&ProgramHeader| KERNEL_TEXT.start <= p.p_vaddr && p.p_vaddr < KERNEL_TEXT.end;
    let kernel_maps: Vec<&ProgramHeader> = phdrs[1..].iter().filter(is_kernel_map).collect();
    m.check(
        kernel_maps.first().map(|p| p.p_vaddr) == Some(KERNEL_TEXT.start),
        format_args!(
            "no kernel-image PT_LOAD at {:#x}: {phdrs:?}",
            KERNEL_TEXT.start
        ),
    )?;
    let mut ram = 0;
    let mut last_end = 0;
    for p in &phdrs[1..] {
        let (s, e) = (p.p_paddr, p.p_paddr + p.p_memsz);
        m.check(
            p.p_offset % 4096 == s % 4096 && p.p_offset >= last_end,
            format_args!("PT_LOAD {p:?} out of Linux's layout"),
        )?;
        last_end = p.p_offset + p.p_filesz;
        if is_kernel_map(&p) {
            continue;
        }
        ram += p.p_memsz;
        m.check(
            s >= 0x10_0000 && (e <= region.0 || s >= region.1),
            format_args!("PT_LOAD {p:?} covers the first MiB or the crash region {region:x?}"),
        )?;
    }
    let crash = region.1 - region.0;
    m.check(
        ram <= first_ram && ram + crash + (4 << 20) >= first_ram,
        format_args!("PT_LOADs cover {ram} bytes; the first kernel had {first_ram} of RAM and a {crash}-byte crash region"),
    )?;

    // The notes: the crashing CPU's registers and VMCOREINFO.
    let note = &phdrs[0];
    let (notes, _) = vmcore::parse_notes(&vmcore::read(m, note.p_offset, note.p_filesz)?);
    let prstatus = notes
        .iter()
        .find(|n| n.name == b"CORE" && n.ty == 1)
        .context("no NT_PRSTATUS note")?;
    m.check(
        prstatus.desc.len() == 336,
        format_args!("elf_prstatus is {} bytes", prstatus.desc.len()),
    )?;
    // pr_reg starts at 112; RIP is user_regs_struct's 17th register.
    let rip = u64::from_le_bytes(prstatus.desc[112 + 16 * 8..112 + 17 * 8].try_into()?);
    m.check(
        KERNEL_TEXT.contains(&rip),
        format_args!("NT_PRSTATUS RIP {rip:#x} is not in kexos's text"),
    )?;
    if let Some(want) = r12 {
        // R12 is user_regs_struct's 4th register: the faulting code's value, not the handler's.
        let got = u64::from_le_bytes(prstatus.desc[112 + 3 * 8..112 + 4 * 8].try_into()?);
        m.check(
            got == want,
            format_args!("NT_PRSTATUS R12 is {got:#x}, the faulting code had {want:#x}"),
        )?;
    }
    let info = notes
        .iter()
        .find(|n| n.name == b"VMCOREINFO")
        .context("no VMCOREINFO note")?;
    let info = String::from_utf8_lossy(&info.desc);
    for key in [
        "PAGESIZE=4096\n",
        "PAGE_OFFSET=ffff800000000000\n",
        "BUILD-ID=",
    ] {
        m.check(
            info.contains(key),
            format_args!("VMCOREINFO lacks {key:?}: {info:?}"),
        )?;
    }

    // The marker, at the file offsets the headers say its physical address has: through
    // the RAM PT_LOAD and through the kernel-image one (it is a kernel static).
    for kernel in [false, true] {
        let load = phdrs[1..]
            .iter()
            .filter(|p| is_kernel_map(p) == kernel)
            .find(|p| (p.p_paddr..p.p_paddr + p.p_memsz).contains(&phys))
            .with_context(|| {
                format!("marker phys {phys:#x} is in no PT_LOAD (kernel map: {kernel})")
            })?;
        let off = load.p_offset + (phys - load.p_paddr);
        let got = vmcore::read(m, off, marker.len() as u64)?;
        m.check(
            got == marker.as_bytes(),
            format_args!(
                "at {off:#x}: {:?}, expected the marker",
                String::from_utf8_lossy(&got)
            ),
        )?;
    }
    if grep_all {
        // The whole file streams through read(2): the marker is found by content too.
        m.cmd_timeout = Duration::from_secs(600);
        let out = m.run(&format!("grep -c -F {marker} /proc/vmcore"))?;
        let n: u64 = out
            .trim()
            .parse()
            .with_context(|| format!("grep -c printed {out:?}"))?;
        m.check(n >= 1, format_args!("grep found the marker {n} times"))?;
    }
    Ok(())
}

/// One crash kind end to end, kexos -> kexos.
fn kexos_capture(
    image: &str,
    mem: &str,
    trigger: &str,
    report: &str,
    grep_all: bool,
    r12: Option<u64>,
) -> Result<Machine> {
    let (mut m, region) = boot(mem, "64M")?;
    let first_ram = m.meminfo_kb("MemTotal")? * 1024;
    let out = load_kexos_capture(&mut m, image, "kexec_test")?;
    m.check_contains("crash load", &out, "kexec_file: purgatory's check: two CPUs (start-up page 0x")?;
    let (marker, phys) = plant_marker(&mut m)?;
    m.send_line(trigger)?;
    m.expect(report, HOP)?;
    let log = expect_capture(&mut m)?;
    // Purgatory checked on two CPUs: the crashed kernel parked its helper with an INIT, and
    // the start-up page is below 1 MiB, memory the dump leaves out (check_vmcore).
    let crash_kexec = crash_kexec_log(&m);
    m.check_second_cpu_share("the crash kexec", &crash_kexec)?;
    m.check(
        !log.contains("crashkernel reserved"),
        "the capture kernel reserved a crash region",
    )?;
    // The capture kernel says it got no measurement list, and its list starts afresh.
    m.check_contains("capture boot", &log, "ima: no measurement list from the crashed kernel")?;
    let list = measurements(&mut m)?;
    m.check(list == [boot_aggregate()], format_args!("capture kernel's list: {list:?}"))?;
    m.run_expect("cat /proc/cmdline", "elfcorehdr=0x")?;
    check_vmcore(&mut m, region, &marker, phys, first_ram, grep_all, r12)?;
    Ok(m)
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_on_panic() -> Result<()> {
    let mut m = kexos_capture(
        BZIMAGE,
        "256M",
        "echo panic > /sys/kernel/kexec_test_crash",
        "KERNEL PANIC: ",
        false,
        None,
    )?;
    // Issue 13: before the jump, the dying kernel logged how long its report took.
    let log = m.transcript();
    let line = log.lines().find(|l| l.contains(kexec_core::phases::EXEC_PHASES)).unwrap_or("");
    let names: Vec<String> = kexec_core::phases::parse_phases(line, kexec_core::phases::EXEC_PHASES).into_iter().map(|(n, _)| n).collect();
    m.check(names == ["report", "total"], format_args!("crash exec phases line: {line:?}"))?;
    // The dying kernel's last words are in its log ring, in the dump. Formatted text: the
    // pieces exist apart in .rodata, but not joined like this.
    m.cmd_timeout = Duration::from_secs(600);
    let out = m.run("grep -c -F \"panicked at src/crash/test.rs\" /proc/vmcore")?;
    let n: u64 = out
        .trim()
        .parse()
        .with_context(|| format!("grep -c printed {out:?}"))?;
    m.check(n >= 1, "the panic message is not in the dump")?;
    // The capture kernel maps the dump's memory read-only: a write to it faults (and, with no
    // crash kernel of its own, panics).
    m.send_line("echo oldmem > /sys/kernel/kexec_test_crash")?;
    m.expect("exception 14 (page fault) in kernel: error=0x3", HOP)?;
    m.expect("KERNEL PANIC", HOP)?;
    let exit = m.wait_exit(HOP)?;
    m.check(
        !exit.is_success(),
        format_args!("QEMU exited with {exit:?} after a panic"),
    )
}

/// A kernel write to the crash region faults: it is read-only once loaded.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_on_write_to_protected_region() -> Result<()> {
    kexos_capture(
        BZIMAGE,
        "256M",
        "echo wp > /sys/kernel/kexec_test_crash",
        "exception 14 (page fault) in kernel",
        false,
        None,
    )?
    .poweroff()
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_on_stack_overflow() -> Result<()> {
    // Through the ELF64 loader this time: its crash path places the same headers.
    kexos_capture(
        "/boot/kexos.elf",
        "256M",
        "echo stack > /sys/kernel/kexec_test_crash",
        "exception 8 (double fault) in kernel",
        false,
        None,
    )?
    .poweroff()
}

/// A general protection fault with a known value in R12: the crash notes hold the faulting
/// code's general registers, as the exception entry stub saved them.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_on_general_protection() -> Result<()> {
    let r12 = u64::from_le_bytes(*b"KEXOS-GP");
    kexos_capture(
        BZIMAGE,
        "256M",
        "echo gp > /sys/kernel/kexec_test_crash",
        "exception 13 (general protection fault) in kernel",
        false,
        Some(r12),
    )?
    .poweroff()
}

/// A panic on the helper CPU (kernel/src/arch/smp.rs): the helper reports it and stops, the
/// boot CPU panics in turn and boots the capture kernel, which runs on one CPU.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_on_helper_cpu_panic() -> Result<()> {
    helper_cpu_crash("helper-panic", "KERNEL PANIC on the helper CPU: panicked at src/crash/test.rs")
}

/// A NULL write on the helper CPU: its page fault is reported as the helper's, then as above.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_on_helper_cpu_fault() -> Result<()> {
    helper_cpu_crash("helper-oops", "exception 14 (page fault) on the helper CPU: error=0x2")
}

fn helper_cpu_crash(kind: &str, report: &str) -> Result<()> {
    let mut m = kexos_capture(
        BZIMAGE,
        "256M",
        &format!("echo {kind} > /sys/kernel/kexec_test_crash"),
        report,
        false,
        None,
    )?;
    let log = m.transcript();
    m.check_contains("first boot", &log, "smp: helper CPU online")?;
    m.check_contains("first kernel", &log, "the helper CPU died running a job")?;
    m.check_contains(
        "capture boot",
        &log,
        "smp: one CPU (a capture kernel leaves the crashed kernel's CPUs alone)",
    )?;
    // kexos_capture checked that purgatory had two CPUs: the helper that died is one of them,
    // reset by the boot CPU's INIT before the jump.
    m.poweroff()
}

/// The heap is scribbled over, then allocated from: the crash path allocates nothing.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_on_corrupted_heap() -> Result<()> {
    kexos_capture(
        BZIMAGE,
        "256M",
        "echo heap > /sys/kernel/kexec_test_crash",
        "crash test: heap",
        false,
        None,
    )?
    .poweroff()
}

/// The `crash` command (sysrq-c), after exercising load/unload/replace: a failed crash load
/// leaves the loaded one armed, unload disarms, a new load replaces. The whole dump is read.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_on_crash_command() -> Result<()> {
    let (mut m, region) = boot("256M", "64M")?;
    let first_ram = m.meminfo_kb("MemTotal")? * 1024;
    load_kexos_capture(&mut m, BZIMAGE, "kexec_test first")?;
    m.run("echo garbage > /tmp/junk")?;
    m.run_expect("kexec -s -p /tmp/junk", "ENOEXEC")?;
    m.run_expect("cat /sys/kernel/kexec_crash_loaded", "1")?;
    // The two images are independent: unloading one leaves the other.
    m.run_expect(
        "kexec -s -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio",
        "(bzImage64) in ",
    )?;
    m.run("kexec -u -p")?;
    m.run_expect("cat /sys/kernel/kexec_crash_loaded", "0")?;
    m.run_expect("cat /sys/kernel/kexec_loaded", "1")?;
    load_kexos_capture(&mut m, BZIMAGE, "kexec_test second")?;
    // Replacing an armed image: unprotect, rewrite, protect again.
    load_kexos_capture(&mut m, BZIMAGE, "kexec_test third")?;
    m.run("kexec -u")?;
    m.run_expect("cat /sys/kernel/kexec_loaded", "0")?;
    m.run_expect("cat /sys/kernel/kexec_crash_loaded", "1")?;
    let (marker, phys) = plant_marker(&mut m)?;
    m.send_line("crash")?;
    m.expect("exception 14 (page fault) in kernel", HOP)?;
    expect_capture(&mut m)?;
    // The image loaded last is the one that runs.
    m.run_expect("cat /proc/cmdline", "kexec_test third")?;
    check_vmcore(&mut m, region, &marker, phys, first_ram, true, None)?;
    m.poweroff()
}

/// 5 GiB of RAM and `crashkernel=2560M`, more than fits below 4 GiB: like Linux, the region
/// goes above 4 GiB, and the capture kernel runs there. The crashed kernel's memory above
/// 4 GiB is in the dump and the capture kernel reads all of it.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_with_ram_above_4g() -> Result<()> {
    let (mut m, region) = boot("5G", "2560M")?;
    m.check(
        region.0 >= 4 << 30,
        format_args!("crash region {region:x?} is not above 4 GiB"),
    )?;
    m.run_expect("dmesg", "above 4 GiB: no room below")?;
    let first_ram = m.meminfo_kb("MemTotal")? * 1024;
    // A normal load's page tables go below 4 GiB, where the start-up code (CR3 loaded in
    // 32-bit form) reaches them: -d, which looks at where they went, says two CPUs.
    let normal = m.run(&format!("kexec -s -l {BZIMAGE} --initrd=/boot/initramfs.cpio -d"))?;
    m.check_contains("normal load", &normal, "purgatory's check: two CPUs (start-up page 0x")?;
    m.run("kexec -u")?;
    let out = load_kexos_capture(&mut m, BZIMAGE, "kexec_test")?;
    // The crash image's control pages, purgatory's page tables, are in the region, above
    // 4 GiB: purgatory checks on one CPU and says nothing about it.
    m.check_contains("crash load", &out, "purgatory's check: one CPU (the control pages' page-table root is above 4 GiB")?;
    let (marker, phys) = plant_marker(&mut m)?;
    m.send_line("crash")?;
    expect_capture(&mut m)?;
    m.assert_absent(kexec_core::purgatory_abi::SECOND_CPU_LINE)?;
    m.assert_absent("purgatory: one CPU")?;
    check_vmcore(&mut m, region, &marker, phys, first_ram, false, None)?;
    let (_, phdrs) = vmcore::headers(&mut m)?;
    let top = phdrs
        .iter()
        .map(|p| p.p_paddr + p.p_memsz)
        .max()
        .unwrap_or(0);
    m.check(
        top > 4 << 30,
        format_args!("no PT_LOAD above 4 GiB (top {top:#x})"),
    )?;
    // Every byte of the file reads, the high RAM included: the file ends with the last
    // PT_LOAD's page-rounded data.
    let size = phdrs
        .iter()
        .map(|p| (p.p_offset + p.p_memsz).next_multiple_of(4096))
        .max()
        .unwrap_or(0);
    m.cmd_timeout = Duration::from_secs(600);
    let out = m.run("dd if=/proc/vmcore of=/dev/null bs=1M")?;
    m.check(
        out.contains(&format!("{size} bytes")),
        format_args!("dd read less than the {size}-byte dump: {out:?}"),
    )?;
    m.poweroff()
}

/// A crash load that fails at placement (the region is too small for it) leaves the loaded
/// crash image armed: it is the one that boots after the crash (Linux frees it first).
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn failed_crash_load_keeps_the_armed_image() -> Result<()> {
    // A 7 MiB initrd cannot fit an 8 MiB region next to a kernel of more than 1 MiB (the
    // debug kexos is about 2 MiB, and 2 MiB aligned); the region leaves the first load room.
    let dir = Artifacts::from_env()?
        .target("test-images")
        .join("failed_crash_load");
    std::fs::create_dir_all(&dir)?;
    let big = dir.join("big.img");
    std::fs::write(
        &big,
        (0..7u32 << 20)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    )?;
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.append = "crashkernel=8M kexec_test".into();
    opts.add.push((big, "/boot/big.img".into()));
    let mut m = Machine::boot(opts)?;
    m.run_expect(
        "kexec -s -p /boot/kexos.bzImage --append=\"first-image\"",
        "as the crash kernel",
    )?;
    let out =
        m.run("kexec -s -p /boot/kexos.bzImage --initrd=/boot/big.img --append=\"second\"")?;
    m.check(
        out.contains("EADDRNOTAVAIL") && out.contains("inside crash region"),
        format_args!("expected EADDRNOTAVAIL naming the crash region: {out:?}"),
    )?;
    m.run_expect("cat /sys/kernel/kexec_crash_loaded", "1")?;
    m.send_line("crash")?;
    m.expect(markers::CAPTURE_START, HOP)?;
    m.expect(kexos_tests::markers::PURGATORY_SHA256_OK, HOP)?;
    // The first image: its command line, and no initramfs, so it says so and powers off.
    m.expect("Command line: elfcorehdr=0x", HOP)?;
    let rest = m.expect("\n", HOP)?;
    m.check(
        rest.contains("first-image"),
        format_args!("the capture kernel's command line ends {rest:?}"),
    )?;
    m.expect("nothing to run", HOP)?;
    let exit = m.wait_exit(HOP)?;
    m.check(exit.is_success(), format_args!("QEMU exited with {exit:?}"))
}

/// Writing /sys/kernel/kexec_crash_size shrinks the region (Linux's crash_shrink_memory): not
/// while a crash image is loaded (ENOENT), never to grow (EINVAL); the tail goes back to the
/// frame allocator, and a capture kernel still loads into and boots from what is left.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_region_shrinks() -> Result<()> {
    let (mut m, region) = boot("256M", "64M")?;
    load_kexos_capture(&mut m, BZIMAGE, "kexec_test")?;
    m.run_expect(
        "echo 33554432 > /sys/kernel/kexec_crash_size",
        "No such file or directory",
    )?;
    m.run("kexec -u -p")?;
    let free_before = m.meminfo_kb("MemFree")? * 1024;
    m.run_expect(
        "echo 67108865 > /sys/kernel/kexec_crash_size",
        "Invalid argument",
    )?;
    m.run("echo 33554432 > /sys/kernel/kexec_crash_size")?;
    m.run_expect("cat /sys/kernel/kexec_crash_size", "33554432")?;
    let iomem = m.run("cat /proc/iomem")?;
    let want = format!(
        "{:08x}-{:08x} : Crash kernel",
        region.0,
        region.0 + (32 << 20) - 1
    );
    m.check(
        iomem.contains(&want),
        format_args!("/proc/iomem lacks {want:?}: {iomem}"),
    )?;
    let gained = (m.meminfo_kb("MemFree")? * 1024).saturating_sub(free_before);
    m.check(
        (31 << 20..=33 << 20).contains(&gained),
        format_args!("MemFree grew by {gained} bytes, expected 32 MiB"),
    )?;
    load_kexos_capture(&mut m, BZIMAGE, "kexec_test shrunk")?;
    m.send_line("crash")?;
    expect_capture(&mut m)?;
    m.run_expect("cat /proc/cmdline", "kexec_test shrunk")?;
    m.poweroff()
}

/// Without a reservation a crash load fails with Linux's errno and says why; a bad
/// crashkernel= value reserves nothing and says why; a crash then ends as before.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_load_without_reservation() -> Result<()> {
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.append = "crashkernel=64Q kexec_test".into();
    let mut m = Machine::boot(opts)?;
    m.run_expect("dmesg", "nothing reserved")?;
    m.run_expect("cat /sys/kernel/kexec_crash_size", "0")?;
    let out = m.run("kexec -s -p /boot/kexos.bzImage --initrd=/boot/initramfs.cpio")?;
    m.check(
        out.contains("EADDRNOTAVAIL") && out.contains("crashkernel="),
        format_args!("expected EADDRNOTAVAIL naming crashkernel=: {out:?}"),
    )?;
    m.run_expect("cat /sys/kernel/kexec_crash_loaded", "0")?;
    m.send_line("crash")?;
    m.expect("KERNEL PANIC", HOP)?;
    let exit = m.wait_exit(HOP)?;
    m.check(
        !exit.is_success(),
        format_args!("QEMU exited with {exit:?} after a panic"),
    )
}

/// kexos -> Linux: Linux's own /proc/vmcore reader accepts our ELF core headers and finds the
/// marker in the dump.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn crash_capture_linux() -> Result<()> {
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    // The marker, split so that its two halves never sit next to each other in this script
    // (which the first kernel holds in memory): only the planted copy matches.
    let marker = random_token("KEXOS-LINUX-DUMP-");
    let (a, b) = marker.split_at(marker.len() / 2);
    let script = format!(
        "m=\"{a}\"\"{b}\"\n\
         [ -r /proc/vmcore ] || {{ echo 'KEXOS-VMCORE: missing'; exit 1; }}\n\
         echo \"KEXOS-VMCORE: ehdr $(head -c 20 /proc/vmcore | hexdump -v -e '1/1 \"%02x\"')\"\n\
         echo \"KEXOS-VMCORE: size $(stat -c %s /proc/vmcore)\"\n\
         echo \"KEXOS-VMCORE: marker lines $(tr -d '\\000' < /proc/vmcore | grep -c \"$m\")\"\n"
    );
    let artifacts = Artifacts::from_env()?;
    let dir = artifacts.target("test-images").join("crash_capture_linux");
    std::fs::create_dir_all(&dir)?;
    let initrd = dir.join("vmcore-initrd.img");
    let mut fs = boot::linux::initramfs(&fx.busybox)?;
    for a in ["head", "hexdump", "stat"] {
        fs.symlink(&format!("/bin/{a}"), "busybox")?;
    }
    fs.file(boot::linux::TEST_SCRIPT, 0o755, script.into_bytes())?;
    fs.write(&initrd)?;

    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.append = "crashkernel=160M kexec_test".into();
    opts.add.push((fx.kernel.clone(), "/boot/vmlinuz".into()));
    opts.add.push((initrd, "/boot/vmcore-initrd.img".into()));
    let mut m = Machine::boot(opts)?;
    let out = m.run(
        "kexec -s -p /boot/vmlinuz --initrd=/boot/vmcore-initrd.img \
         --append=\"console=ttyS0 nr_cpus=1 reset_devices irqpoll panic=-1\"",
    )?;
    m.check(
        out.contains("as the crash kernel"),
        format_args!("Linux crash load failed: {out:?}"),
    )?;
    m.run(&format!(
        "echo marker {marker} > /sys/kernel/kexec_test_crash"
    ))?;
    m.send_line("crash")?;
    m.expect(markers::CAPTURE_START, HOP)?;
    m.expect(kexos_tests::markers::PURGATORY_SHA256_OK, HOP)?;
    let log = crash_kexec_log(&m);
    m.check_second_cpu_share("the crash kexec into Linux", &log)?;
    m.expect(
        "KEXOS-LINUX-CMDLINE: elfcorehdr=0x",
        Duration::from_secs(300),
    )?;
    let ehdr = m.expect_line("KEXOS-VMCORE: ehdr ", Duration::from_secs(120))?;
    // ELF magic, 64-bit, little endian, version 1; e_type ET_CORE (4), e_machine x86-64 (0x3e).
    m.check(
        ehdr.starts_with("7f454c46020101") && &ehdr[32..40] == "04003e00",
        format_args!("Linux's /proc/vmcore does not start with an x86-64 ELF core header: {ehdr}"),
    )?;
    let size: u64 = m.expect_line("KEXOS-VMCORE: size ", HOP)?.trim().parse()?;
    m.check(
        size > 64 << 20,
        format_args!("Linux's /proc/vmcore is only {size} bytes"),
    )?;
    let n: u64 = m
        .expect_line("KEXOS-VMCORE: marker lines ", Duration::from_secs(600))?
        .trim()
        .parse()?;
    m.check(n >= 1, "Linux's /proc/vmcore does not contain the marker")?;
    m.expect("KEXOS-LINUX-TEST: status 0", HOP)?;
    Ok(())
}
