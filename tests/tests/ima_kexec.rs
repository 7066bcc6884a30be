//! The measurement list survives kexec (issue 11): kexos -> kexos -> kexos -> kexos, each hop
//! adding a marker event after its load and before `kexec -e`. The last kexos's
//! ascii_runtime_measurements must hold every hop's boot_aggregate, kernel, initramfs,
//! kexec-cmdline and marker, in order, each digest and template hash recomputed here from the
//! files and the bytes (not with libs/ima). Then the hand-over segment is shown to be outside
//! purgatory's digests: corrupted at `kexec -e` (after IMA's notifier wrote it) purgatory still
//! boots the next kernel, whose restore refuses the list, while a corrupted checksummed
//! segment is still refused by purgatory.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::{Context, Result};
use kexos_tests::ima::{boot_aggregate, ima_buf, ima_ng, measurements, EVENT};
use kexos_tests::{Artifacts, BootOptions, Firmware, Machine};
use sha2::{Digest as _, Sha256};

const HOP: Duration = Duration::from_secs(120);

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn measurement_list_survives_every_hop() -> Result<()> {
    let artifacts = Artifacts::from_env()?;
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.name = "ima-hops".into();
    opts.append = "kexec_test".into();
    let mut m = Machine::boot(opts)?;
    // The files the guest kexecs, as the host built them: the initramfs it booted with (the
    // kernel serves it as /boot/initramfs.cpio) and the bzImage made from the kernel ELF.
    let initrd = artifacts.target("test-images").join("ima-hops").join("initramfs.cpio");
    let initrd_digest = Sha256::digest(std::fs::read(&initrd).context("initramfs.cpio")?);
    let elf = std::fs::read(&artifacts.kernel).context("kexos.elf")?;
    let kernel_digest = Sha256::digest(boot::bzimage::build_bytes(&elf)?);
    let aggregate = boot_aggregate();

    let first = measurements(&mut m)?;
    m.check(first == [aggregate.clone()], format_args!("first boot's list: {first:?}"))?;
    let mut want = vec![aggregate.clone()];
    for hop in 1..=3 {
        let append = format!("kexec_test hop={hop}");
        let out = m.run(&format!(
            "kexec -s -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=\"{append}\""
        ))?;
        m.check_lacks("kexec -s -l", &out, "failed")?;
        let marker = format!("marker of hop {hop}, after the load");
        m.run(&format!("echo {marker} > {EVENT}"))?;
        want.push(ima_ng(&kernel_digest, "/boot/kexos.bzImage"));
        want.push(ima_ng(&initrd_digest, "/boot/initramfs.cpio"));
        want.push(ima_buf("kexec-cmdline", append.as_bytes()));
        want.push(ima_buf("kexos-event", marker.as_bytes()));
        m.exec_into_kexos("/boot/kexos.bzImage", &append, HOP)?;
        want.push(aggregate.clone());
        let got = measurements(&mut m)?;
        m.check(got == want, format_args!("after hop {hop}:\n got {got:#?}\nwant {want:#?}"))?;
        m.run_expect(
            "cat /sys/kernel/security/ima/runtime_measurements_count",
            &format!("{}", want.len()),
        )?;
        // Restored, then freed: no longer held.
        let iomem = m.run("cat /proc/iomem")?;
        m.check_lacks("/proc/iomem", &iomem, "IMA kexec buffer")?;
        // The generic API's other users. The previous kernel's log, written at its `kexec -e`
        // (so it ends with IMA's report of what it passed on), kept and listed.
        let previous = if hop == 1 { "kexec_test".to_string() } else { format!("kexec_test hop={}", hop - 1) };
        m.check_contains("/proc/iomem", &iomem, "Kexec hand-over buffer (last_kmsg)")?;
        let last = m.run("cat /proc/last_kmsg")?;
        m.check_contains("/proc/last_kmsg", &last, &format!("] Command line: {previous}\n"))?;
        m.check_contains("/proc/last_kmsg", &last, &format!("] ima: {} measurements (", want.len() - 1))?;
        m.check_lacks("/proc/last_kmsg", &last, &format!("] Command line: {append}\n"))?;
        // kexec_test's buffer: held and listed until freed, holding what the previous kernel
        // wrote at load (its command line).
        m.check_contains("/proc/iomem", &iomem, "Kexec hand-over buffer (test)")?;
        let text = m.run("cat /sys/kernel/kexec_test_handover")?;
        m.check_contains("test buffer", &text, &format!("handed over by the kexos booted with: {previous}\n"))?;
        let before = m.meminfo_kb("MemFree")?;
        m.run_expect("echo free > /sys/kernel/kexec_test_handover", "freed (8 KiB back")?;
        let after = m.meminfo_kb("MemFree")?;
        m.check(after == before + 8, format_args!("MemFree {before} kB -> {after} kB after freeing 8 KiB"))?;
        m.run_expect("cat /sys/kernel/kexec_test_handover", "No such file or directory")?;
        let iomem = m.run("cat /proc/iomem")?;
        m.check_lacks("/proc/iomem", &iomem, "Kexec hand-over buffer (test)")?;
    }

    // The IMA segment is not checksummed: flipped after IMA's notifier wrote it, purgatory
    // still boots the next kernel, which refuses the list (its header) and starts afresh.
    let out = m.run("kexec -s -d -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=kexec_test")?;
    let ima = segment_index(&out, "ima_buffer").context("no ima_buffer segment in -d")?;
    m.check_contains("kexec -d", &out, "(hand-over: IMA measurement list, not checksummed)")?;
    m.check_contains("kexec -d", &out, "KiB for events after the load")?;
    m.run_expect(&format!("echo {ima}@exec > /sys/kernel/kexec_test_corrupt"), "will be corrupted")?;
    m.send_line("kexec -e")?;
    m.expect("corrupted one byte of segment", HOP)?;
    m.expect(kexos_tests::markers::PURGATORY_SHA256_OK, HOP)?;
    m.expect("measurement list at", HOP)?;
    m.expect("was not restored", HOP)?;
    m.expect_prompt(HOP)?;
    let got = measurements(&mut m)?;
    m.check(got == [aggregate], format_args!("after the corrupted hand-over: {got:?}"))?;

    // Any checksummed segment corrupted the same way is refused.
    let out = m.run("kexec -s -d -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=kexec_test")?;
    let kernel = segment_index(&out, "kernel").context("no kernel segment in -d")?;
    m.run_expect(&format!("echo {kernel}@exec > /sys/kernel/kexec_test_corrupt"), "will be corrupted")?;
    m.send_line("kexec -e")?;
    m.expect("purgatory: sha256 mismatch", HOP)?;
    m.expect_none("boot: entered via boot protocol", Duration::from_secs(10))?;
    m.kill();
    Ok(())
}

/// The index of the segment labelled `label` in `kexec -d`'s table.
fn segment_index(out: &str, label: &str) -> Option<usize> {
    out.lines().find_map(|l| {
        let rest = l.split("segment[").nth(1)?;
        let (i, rest) = rest.split_once("]: ")?;
        (rest.split_whitespace().next()? == label).then(|| i.parse().ok())?
    })
}

/// A list that outgrows its hand-over buffer after the load: the notifier writes the oldest
/// whole records that fit, logs how many it dropped, and the next kernel restores exactly
/// those (the header's count and buffer_size match what was written).
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn events_that_do_not_fit_are_dropped_whole_and_logged() -> Result<()> {
    // 1 KiB of room after the load: the buffer is one page.
    let append = "ima_kexec_extra_kb=1";
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.name = "ima-overflow".into();
    opts.append = append.into();
    let mut m = Machine::boot(opts)?;
    let out = m.run(&format!(
        "kexec -s -d -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append={append}"
    ))?;
    m.check_contains("kexec -d", &out, "plus 1 KiB for events after the load")?;
    m.check_contains("kexec -d", &out, "ima_buffer  bufsz=0x00001000")?;
    // 16 events of ~300 bytes each: about 11 fit in the page after the first 4 entries.
    let events: Vec<String> = (0..16).map(|i| format!("event-{i:02}-{}", "x".repeat(180))).collect();
    for e in &events {
        m.run(&format!("echo {e} > {EVENT}"))?;
    }
    let before = measurements(&mut m)?;
    m.check(before.len() == 20, format_args!("20 measurements before kexec -e: {before:#?}"))?;
    m.send_line("kexec -e")?;
    // The kernel's lines "ima: N measurements (B bytes) passed to the next kernel", "ima: N
    // measurements did not fit ...", and in the next kernel "ima: restored N measurements".
    let mut count = |pat: &str, after: &str| -> Result<usize> {
        let text = m.expect(pat, HOP)?;
        let line = text.lines().last().unwrap_or_default().to_string();
        line.split(after)
            .nth(1)
            .and_then(|r| r.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no count in {line:?}"))
    };
    let written = count("passed to the next kernel", "ima: ")?;
    let lost = count("did not fit in the 4 KiB kexec buffer", "ima: ")?;
    let back = count(" measurements from the previous kernel", "ima: restored ")?;
    m.expect_prompt(HOP)?;
    m.check(
        written + lost == 20 && lost > 0 && back == written,
        format_args!("{written} written + {lost} dropped of 20, {back} restored"),
    )?;
    let after = measurements(&mut m)?;
    let mut want = before[..written].to_vec();
    want.push(boot_aggregate());
    m.check(after == want, format_args!("restored list:\n got {after:#?}\nwant {want:#?}"))?;
    m.poweroff()
}
