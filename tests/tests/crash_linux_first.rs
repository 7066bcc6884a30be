//! Crash dumps the other way round (issue 5): Linux is the crashing first kernel and kexos the
//! capture kernel. QEMU boots the Debian fixture Linux directly with `crashkernel=`; its test
//! script loads kexos.bzImage and a kexos initramfs with Debian's `kexec -s -p` (Linux's own
//! `kexec_file_load` with KEXEC_FILE_ON_CRASH, so Linux writes the ELF core headers: one crash
//! note per CPU, VMCOREINFO, a PT_LOAD for its kernel text at its virtual address, PT_LOADs for
//! its RAM), keeps a marker string in memory and crashes with sysrq-c. kexos then boots from the
//! crash region and its /proc/vmcore must turn Linux's headers into a well-formed ELF core file:
//! the headers and notes are copied out with `hexdump` and parsed here with goblin, and checked
//! against what Linux said about itself before crashing (/proc/iomem, `$$`, `uname -r`); the
//! whole dump is read with `grep`, which must find the marker.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::{Context, Result};
use kexos_tests::{
    iomem_line, kexos_host_files, linux_kexec_fixture, linux_markers, qemu_linux_command,
    random_token, vmcore, Artifacts, BootOptions, Machine,
};

const HOP: Duration = Duration::from_secs(180);
/// The first Linux's command line. 128M leaves the capture kexos a comfortable heap.
const LINUX_APPEND: &str = "console=ttyS0 crashkernel=128M";
/// Guest paths of the kexos files in the first Linux's initramfs.
const KEXOS_BZIMAGE: &str = "/boot/kexos.bzImage";
const KEXOS_INITRAMFS: &str = "/boot/kexos-initramfs.cpio";
/// Prefix of the test script's own console lines.
const TAG: &str = "KEXOS-CRASH: ";
/// The first Linux's CPUs (every machine's, kexos_tests::CPUS): Linux writes one crash
/// note per CPU, the crashing CPU's and those it stopped with an NMI.
const CPUS: usize = kexos_tests::CPUS;
/// x86-64 Linux's kernel text mapping (__START_KERNEL_map, 1 GiB with KASLR).
const LINUX_TEXT: std::ops::Range<u64> = 0xffff_ffff_8000_0000..0xffff_ffff_c000_0000;
/// _text without KASLR: __START_KERNEL_map + CONFIG_PHYSICAL_START (16 MiB).
const LINUX_START_KERNEL: u64 = 0xffff_ffff_8100_0000;

/// The test script: load kexos as the crash kernel, say what Linux's memory looks like, keep
/// the marker in memory (in a shell variable and a file), move itself to `crash_cpu`, then
/// crash. The marker is split so that only the planted copies of it match, never this script.
fn script(marker: &str, append: &str, crash_cpu: u32) -> String {
    let (a, b) = marker.split_at(marker.len() / 2);
    format!(
        r#"export PATH=/sbin:/bin
m="{a}""{b}"
echo "$m" > /tmp/kexos-marker
echo "{TAG}pid $$"
/sbin/kexec -s -p {KEXOS_BZIMAGE} --initrd={KEXOS_INITRAMFS} --append="{append}"
echo "{TAG}load status $?"
echo "{TAG}crash_loaded $(cat /sys/kernel/kexec_crash_loaded)"
echo "{TAG}crash_size $(cat /sys/kernel/kexec_crash_size)"
grep -e 'System RAM' -e 'Crash kernel' -e 'Kernel code' /proc/iomem |
    while read -r l; do echo "{TAG}iomem $l"; done
echo "{TAG}iomem end"
echo "{TAG}cpus $(nproc)"
taskset -p {mask:x} $$ > /dev/null || exit 1
echo "{TAG}crashing"
# Let the serial port drain: the crash stops the machine with the tty's buffer unsent.
sleep 1
echo c > /proc/sysrq-trigger
echo "{TAG}still alive (marker length ${{#m}})"
exit 1
"#,
        mask = 1u64 << crash_cpu
    )
}

/// The /proc/iomem lines the script printed (see [`iomem_line`]): (start, end exclusive, name).
fn iomem(text: &str) -> Vec<(u64, u64, String)> {
    text.lines()
        .filter_map(|l| iomem_line(l.split_once(&format!("{TAG}iomem "))?.1))
        .map(|(s, e, name)| (s, e, name.to_string()))
        .collect()
}

/// Linux on CPUS CPUs crashes (sysrq-c) on `crash_cpu` with kexos loaded by `kexec -s -p`;
/// kexos's /proc/vmcore serves Linux's dump.
fn linux_crash_into_kexos(crash_cpu: u32) -> Result<()> {
    let Some(fx) = linux_kexec_fixture()? else {
        return Ok(());
    };
    let version = fx.version()?;
    let artifacts = Artifacts::from_env()?;
    let name = BootOptions::default().name;

    let (bz, initramfs) = kexos_host_files(&artifacts, &format!("{name}-kexos"))?;

    // The marker and the capture kernel's command line must not share anything that could
    // make the marker appear in the dump by other means than the first Linux's memory.
    let marker = random_token("KEXOS-LINUX-FIRST-");
    let token = random_token("l1k-");
    let append = format!("console=ttyS0 kexec_test token={token}");
    for f in [&initramfs, &bz] {
        let bytes = std::fs::read(f)?;
        anyhow::ensure!(
            kexos_tests::find(&bytes, marker.as_bytes()).is_none(),
            "{} contains the marker",
            f.display()
        );
    }
    anyhow::ensure!(!append.contains(&marker));

    let linux_initrd = artifacts
        .target("test-images")
        .join(&name)
        .join("linux-crash-initrd.img");
    let extra = vec![
        (bz.clone(), KEXOS_BZIMAGE.to_string()),
        (initramfs.clone(), KEXOS_INITRAMFS.to_string()),
    ];
    fx.build_kexec_initrd(
        &extra,
        Some(&script(&marker, &append, crash_cpu)),
        &linux_initrd,
    )
    .with_context(|| format!("building {}", linux_initrd.display()))?;
    let linux = || qemu_linux_command(&fx.kernel, &linux_initrd, LINUX_APPEND, "512M", &[]);
    let log = artifacts.target("test-logs").join(format!("{name}.log"));
    let mut m = Machine::boot_first_linux(&name, linux, Some(log), &version)?;

    // The first Linux: its command line, the crash load, what it says about itself.
    let got = m.expect_line(linux_markers::CMDLINE, HOP)?;
    m.check(
        got == LINUX_APPEND,
        format_args!("the first Linux's /proc/cmdline is {got:?}, expected {LINUX_APPEND:?}"),
    )?;
    m.expect(linux_markers::TEST_START, HOP)?;
    let pid: u32 = m.expect_line(&format!("{TAG}pid "), HOP)?.trim().parse()?;
    let status = m.expect_line(&format!("{TAG}load status "), HOP)?;
    m.check(
        status.trim() == "0",
        format_args!("under Linux, `kexec -s -p` of kexos exited with {status} (see above)"),
    )?;
    let loaded = m.expect_line(&format!("{TAG}crash_loaded "), HOP)?;
    m.check(
        loaded.trim() == "1",
        format_args!("/sys/kernel/kexec_crash_loaded is {loaded:?} after the load"),
    )?;
    let size: u64 = m
        .expect_line(&format!("{TAG}crash_size "), HOP)?
        .trim()
        .parse()?;
    let iomem_text = m.expect(&format!("{TAG}iomem end"), HOP)?;
    let iomem = iomem(&iomem_text);
    let ram: Vec<(u64, u64)> = iomem
        .iter()
        .filter(|(_, _, n)| n == "System RAM")
        .map(|&(s, e, _)| (s, e))
        .collect();
    let find_one = |what: &str| {
        iomem
            .iter()
            .find(|(_, _, n)| n == what)
            .map(|&(s, e, _)| (s, e))
    };
    let (region, kcode) = (find_one("Crash kernel"), find_one("Kernel code"));
    m.check(
        region.is_some() && kcode.is_some(),
        format_args!("no Crash kernel or Kernel code in Linux's /proc/iomem: {iomem_text:?}"),
    )?;
    let (region, kcode) = (region.unwrap(), kcode.unwrap());
    m.check(
        region.1 - region.0 == size && size == 128 << 20 && !ram.is_empty(),
        format_args!("Linux's crash region {region:x?} vs kexec_crash_size {size}; RAM {ram:x?}"),
    )?;
    let cpus = m.expect_line(&format!("{TAG}cpus "), HOP)?;
    m.check(
        cpus.trim() == CPUS.to_string(),
        format_args!("the first Linux has {cpus} CPUs online, expected {CPUS}"),
    )?;

    // Linux dies on `crash_cpu` and starts kexos from the crash region.
    m.expect("sysrq: Trigger a crash", HOP)?;
    m.expect("Kernel panic - not syncing", HOP)?;
    let who = m.expect_line("CPU: ", HOP)?;
    m.check(
        who.starts_with(&format!("{crash_cpu} PID: {pid} ")),
        format_args!("Linux panicked on `CPU: {who}`, expected CPU {crash_cpu}, PID {pid}"),
    )?;
    // kexos's boot log, up to its prompt (the order of its lines is kexos's business).
    let log = m.expect_prompt(HOP)?;
    let log_line = |m: &mut Machine, pat: &str| -> Result<String> {
        let line = log
            .lines()
            .find_map(|l| l.split_once(pat).map(|(_, rest)| rest.to_string()));
        m.check(
            line.is_some(),
            format_args!("the capture kexos did not log `{pat}`"),
        )?;
        Ok(line.unwrap_or_default())
    };
    log_line(&mut m, "boot: entered via boot protocol")?;
    let line = log_line(&mut m, "boot: kernel image at 0x")?;
    let at = line
        .split("..")
        .next()
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .with_context(|| format!("kexos's image line {line:?}"))?;
    m.check(
        (region.0..region.1).contains(&at),
        format_args!("kexos runs at {at:#x}, outside Linux's crash region {region:x?}"),
    )?;
    let summary = log_line(&mut m, "crash: capture kernel: /proc/vmcore is ")?;
    let rip_line = log_line(&mut m, "crash: the crashed kernel stopped at rip=0x")?;
    let logged_rip = rip_line
        .split_whitespace()
        .next()
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .with_context(|| format!("rip line {rip_line:?}"))?;
    m.check(
        LINUX_TEXT.contains(&logged_rip),
        format_args!("the crashed kernel's rip {logged_rip:#x} is not in Linux's kernel text"),
    )?;
    m.assert_absent(&format!("{TAG}still alive"))?;
    let cmdline = m.run("cat /proc/cmdline")?;
    m.check(
        cmdline.starts_with("elfcorehdr=0x") && cmdline.contains(&append),
        format_args!("the capture kexos's /proc/cmdline is {cmdline:?}"),
    )?;

    // The ELF header and program headers.
    let (_, phdrs) = vmcore::headers(&mut m)?;
    m.check(
        phdrs.len() >= 3,
        format_args!("Linux's dump has too few PT_LOADs: {phdrs:#x?}"),
    )?;
    m.check(
        summary.contains(&format!("in {} ranges", phdrs.len() - 1)),
        format_args!(
            "kexos's summary {summary:?} disagrees with {} PT_LOADs",
            phdrs.len() - 1
        ),
    )?;
    // Every PT_LOAD: its bytes lie in the file, page-consistently, after the notes.
    let note = phdrs[0].clone();
    let file_size: u64 = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .context("vmcore size in the summary")?
        << 20;
    let mut last_end = note.p_offset + note.p_filesz;
    for p in &phdrs[1..] {
        m.check(
            p.p_filesz == p.p_memsz
                && p.p_offset % 4096 == p.p_paddr % 4096
                && p.p_offset >= last_end
                && p.p_offset + p.p_filesz <= file_size + (1 << 20),
            format_args!("bad PT_LOAD {p:#x?} (previous data ends at {last_end:#x})"),
        )?;
        last_end = p.p_offset + p.p_filesz;
    }
    // Linux's kernel-text PT_LOAD: its virtual address is _text (KASLR-shifted), its physical
    // address /proc/iomem's Kernel code.
    let text = phdrs[1..]
        .iter()
        .find(|p| LINUX_TEXT.contains(&p.p_vaddr))
        .cloned()
        .with_context(|| format!("no kernel-text PT_LOAD: {phdrs:#x?}"))?;
    m.check(
        text.p_paddr == kcode.0 && text.p_memsz >= kcode.1 - kcode.0,
        format_args!("kernel-text PT_LOAD {text:#x?}, Linux's Kernel code is {kcode:x?}"),
    )?;
    // The RAM PT_LOADs: Linux's System RAM from 1 MiB on, minus the crash region, all at one
    // direct-map offset.
    let loads: Vec<_> = phdrs[1..]
        .iter()
        .filter(|p| p.p_vaddr != text.p_vaddr)
        .cloned()
        .collect();
    let direct = loads[0].p_vaddr.wrapping_sub(loads[0].p_paddr);
    let mut covered = 0;
    for p in &loads {
        let (s, e) = (p.p_paddr, p.p_paddr + p.p_memsz);
        covered += p.p_memsz;
        m.check(
            s >= 0x10_0000
                && (e <= region.0 || s >= region.1)
                && ram.iter().any(|&(rs, re)| rs <= s && e <= re)
                && p.p_vaddr.wrapping_sub(p.p_paddr) == direct,
            format_args!("RAM PT_LOAD {p:#x?} is not Linux RAM outside {region:x?} at one offset"),
        )?;
    }
    let total: u64 = ram.iter().map(|&(s, e)| e - s).sum();
    m.check(
        covered + size <= total && covered + size + (1 << 20) >= total,
        format_args!(
            "RAM PT_LOADs cover {covered} bytes; Linux had {total} bytes of RAM and a \
             {size}-byte crash region"
        ),
    )?;

    // The merged notes: one NT_PRSTATUS per CPU, in CPU order, then VMCOREINFO; nothing else.
    let raw = vmcore::read(&mut m, note.p_offset, note.p_filesz)?;
    let (notes, used) = vmcore::parse_notes(&raw);
    m.check(
        used == raw.len(),
        format_args!(
            "the merged PT_NOTE has {} bytes, its notes {used}",
            raw.len()
        ),
    )?;
    let prstatus: Vec<&vmcore::Note> = notes
        .iter()
        .filter(|n| n.name == b"CORE" && n.ty == 1)
        .collect();
    // One note per CPU that saved its registers: the other CPU answers Linux's crash NMI
    // within a second, which a loaded TCG host may miss (its empty note is then dropped).
    let n = prstatus.len();
    m.check(
        (1..=CPUS).contains(&n)
            && notes.len() == n + 1
            && notes[n].name == b"VMCOREINFO"
            && prstatus.iter().all(|n| n.desc.len() == 336),
        format_args!(
            "expected 1 to {CPUS} NT_PRSTATUS of 336 bytes, then VMCOREINFO; got {:?}",
            notes
                .iter()
                .map(|n| (
                    String::from_utf8_lossy(&n.name).into_owned(),
                    n.ty,
                    n.desc.len()
                ))
                .collect::<Vec<_>>()
        ),
    )?;
    // elf_prstatus: pr_pid at 32; pr_reg at 112, where RIP is user_regs_struct's 17th
    // register and CS the 18th.
    let regs = |n: &vmcore::Note| {
        let pid = u32::from_le_bytes(n.desc[32..36].try_into().unwrap());
        (
            pid,
            vmcore::u64_at(&n.desc, 112 + 16 * 8),
            vmcore::u64_at(&n.desc, 112 + 17 * 8),
        )
    };
    // The crashing CPU's note: the task that wrote sysrq-c, in Linux's kernel text. Notes are
    // in CPU order, and the crashing CPU's is always there.
    let crashing = if n == CPUS { crash_cpu as usize } else { 0 };
    let (pr_pid, rip, cs) = regs(prstatus[crashing]);
    m.check(
        pr_pid == pid && cs == 0x10 && (text.p_vaddr..text.p_vaddr + text.p_memsz).contains(&rip),
        format_args!(
            "CPU {crash_cpu}'s NT_PRSTATUS: pid {pr_pid} (the script that wrote sysrq-c was \
             {pid}), cs {cs:#x} (expected __KERNEL_CS 0x10), rip {rip:#x} (kernel-text PT_LOAD \
             {text:#x?})"
        ),
    )?;
    // kexos logs the first NT_PRSTATUS (CPU 0's, the crashing CPU's only when it is CPU 0).
    let first_rip = regs(prstatus[0]).1;
    m.check(
        first_rip == logged_rip,
        format_args!("kexos logged rip {logged_rip:#x}, the first NT_PRSTATUS has {first_rip:#x}"),
    )?;
    let said = format!("(first of {n} CPU notes)");
    m.check(
        (n > 1) == rip_line.contains(&said),
        format_args!("with {n} CPU notes kexos said {rip_line:?}"),
    )?;
    let info = notes
        .iter()
        .find(|n| n.name == b"VMCOREINFO")
        .context("no VMCOREINFO note")?;
    let info = String::from_utf8_lossy(&info.desc).into_owned();
    for key in [
        format!("OSRELEASE={version}\n"),
        "PAGESIZE=4096\n".into(),
        "CRASHTIME=".into(),
    ] {
        m.check(
            info.contains(&key),
            format_args!("VMCOREINFO lacks {key:?}: {info:?}"),
        )?;
    }
    let offset = info
        .lines()
        .find_map(|l| l.strip_prefix("KERNELOFFSET="))
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .with_context(|| format!("no KERNELOFFSET in VMCOREINFO: {info:?}"))?;
    m.check(
        text.p_vaddr == LINUX_START_KERNEL + offset,
        format_args!(
            "kernel-text PT_LOAD at {:#x}, VMCOREINFO's KERNELOFFSET={offset:x} puts _text at \
             {:#x}",
            text.p_vaddr,
            LINUX_START_KERNEL + offset
        ),
    )?;

    // Linux's own data where VMCOREINFO says it is, as a dump reader finds it: init_uts_ns's
    // utsname ("Linux", then the release at 2 * 65), through the kernel-text PT_LOAD (by
    // virtual address) and through the RAM PT_LOAD holding its physical address.
    let number = |key: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| {
                u64::from_str_radix(v, if key.starts_with("SYMBOL") { 16 } else { 10 }).ok()
            })
    };
    let (sym, name_off) = (
        number("SYMBOL(init_uts_ns)="),
        number("OFFSET(uts_namespace.name)="),
    );
    m.check(
        sym.is_some() && name_off.is_some(),
        format_args!("VMCOREINFO lacks init_uts_ns or its name offset: {info:?}"),
    )?;
    let uts = sym.unwrap() + name_off.unwrap();
    m.check(
        (text.p_vaddr..text.p_vaddr + text.p_memsz).contains(&uts),
        format_args!("init_uts_ns {uts:#x} is outside the kernel-text PT_LOAD {text:#x?}"),
    )?;
    let phys = text.p_paddr + (uts - text.p_vaddr);
    let ram_load = loads
        .iter()
        .find(|p| (p.p_paddr..p.p_paddr + p.p_memsz).contains(&phys))
        .cloned()
        .with_context(|| {
            format!("init_uts_ns's physical address {phys:#x} is in no RAM PT_LOAD")
        })?;
    for (how, off) in [
        ("by virtual address", text.p_offset + (uts - text.p_vaddr)),
        (
            "by physical address",
            ram_load.p_offset + (phys - ram_load.p_paddr),
        ),
    ] {
        let utsname = vmcore::read(&mut m, off, 3 * 65)?;
        let field = |i: usize| {
            let f = &utsname[i * 65..(i + 1) * 65];
            String::from_utf8_lossy(&f[..f.iter().position(|&b| b == 0).unwrap_or(65)]).into_owned()
        };
        let (sysname, release) = (field(0), field(2));
        m.check(
            sysname == "Linux" && release == version,
            format_args!(
                "init_uts_ns {how} (file offset {off:#x}): sysname {sysname:?}, release \
                 {release:?}; expected \"Linux\", {version:?}"
            ),
        )?;
    }

    // The whole dump streams through kexos's reader: the marker Linux kept is in it.
    m.cmd_timeout = Duration::from_secs(600);
    let out = m.run(&format!("grep -c -F {marker} /proc/vmcore"))?;
    let n: u64 = out
        .trim()
        .parse()
        .with_context(|| format!("grep -c printed {out:?}"))?;
    m.check(n >= 1, format_args!("grep found the marker {n} times"))?;
    println!(
        "vmcore: {summary}; {} PT_LOADs; CPU {crash_cpu} crashed at rip {rip:#x}; marker found \
         {n} times",
        phdrs.len() - 1
    );
    m.cmd_timeout = HOP;
    m.poweroff()
}

/// Linux crashes on its boot CPU: kexos's own log names the crashing CPU's registers.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn linux_crashes_into_kexos() -> Result<()> {
    linux_crash_into_kexos(0)
}

/// Linux crashes on its second CPU, having stopped the boot CPU with an NMI: kexos runs as the
/// capture kernel on an application processor, and the dump still holds both CPUs' notes.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn linux_crashes_on_second_cpu_into_kexos() -> Result<()> {
    linux_crash_into_kexos(1)
}
