//! The measurement list crosses between kexos and a real Linux (issue 11), both ways, with the
//! IMA Linux fixture (Debian's linux-source built with `CONFIG_IMA_KEXEC`, see
//! xtask/src/fixtures_ima.rs): Linux's own restore code is the consumer of what kexos writes,
//! and kexos's restore reads what Linux writes. Every line is recomputed here from the files
//! and bytes measured (kexos_tests::ima, not libs/ima).
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::{Context, Result};
use boot::linux::{ima_policy_script, ima_script, markers as lm, IMA_KEXEC_POLICY};
use kexos_tests::ima::{
    boot_aggregate, ima_buf, ima_ng_file, linux_measurements, measurements, EVENT,
};
use kexos_tests::{
    ima_linux_fixture, kexos_host_files, linux_kexec_into_with, random_token, Artifacts,
    BootOptions, Firmware, Machine, QemuExit,
};

const HOP: Duration = Duration::from_secs(120);

/// kexos -> Linux: kexos loads the IMA Linux, adds an event after the load, and `kexec -e`s.
/// Linux's list must start with all of kexos's events, the late one included, then hold
/// Linux's own boot_aggregate.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn linux_restores_the_list_kexos_hands_over() -> Result<()> {
    let Some(fx) = ima_linux_fixture()? else {
        return Ok(());
    };
    let artifacts = Artifacts::from_env()?;
    let opts = BootOptions::new(Firmware::Uefi);
    let dir = artifacts.target("test-images").join(&opts.name);
    std::fs::create_dir_all(&dir)?;
    // Linux's initramfs prints its config and its measurement list, then powers off.
    let linux_initrd = dir.join("linux-ima-initrd.img");
    fx.build_initrd(&ima_script(), &linux_initrd)?;
    let (kernel_guest, initrd_guest) = ("/boot/vmlinuz-ima", "/boot/initrd-ima.img");
    let mut m = Machine::boot(BootOptions {
        add: vec![
            (fx.kernel.clone(), kernel_guest.into()),
            (linux_initrd.clone(), initrd_guest.into()),
        ],
        ..opts
    })?;
    m.cmd_timeout = HOP;
    let append = format!("console=ttyS0 {} token={}", kexos_tests::LINUX_ONE_CPU, random_token("k2l-ima-"));
    let out = m.run(&format!(
        "kexec -s -l {kernel_guest} --initrd={initrd_guest} --append=\"{append}\""
    ))?;
    m.check_lacks("kexec -s -l", &out, "failed")?;
    let marker = "kexos marker, after the load and before kexec -e";
    m.run(&format!("echo {marker} > {EVENT}"))?;
    let mut want = vec![
        boot_aggregate(),
        ima_ng_file(&std::fs::read(&fx.kernel)?, kernel_guest),
        ima_ng_file(&std::fs::read(&linux_initrd)?, initrd_guest),
        ima_buf("kexec-cmdline", append.as_bytes()),
        ima_buf("kexos-event", marker.as_bytes()),
    ];
    let got = measurements(&mut m)?;
    m.check(got == want, format_args!("kexos's list:\n got {got:#?}\nwant {want:#?}"))?;
    m.send_line("kexec -e")?;
    m.expect("ima: 5 measurements", HOP)?;
    let banner = m.expect_line(lm::BANNER, HOP).context("the IMA Linux's banner")?;
    let version = fx.version()?;
    m.check(banner.starts_with(&format!("{version} ")), format_args!("banner {banner:?}"))?;
    let got = linux_measurements(&mut m, HOP)?;
    want.push(boot_aggregate());
    m.check(got == want, format_args!("Linux's list:\n got {got:#?}\nwant {want:#?}"))?;
    m.expect(lm::POWEROFF, HOP)?;
    let e = m.wait_exit(HOP)?;
    m.check(e == QemuExit::Reset, format_args!("Linux's power-off: QEMU exited with {e:?}"))
}

/// Linux -> kexos: the IMA Linux loads a policy measuring kexec's files and command line, then
/// `kexec -s -l`s kexos with Debian's kexec-tools. kexos's list must start with Linux's events
/// (its boot_aggregate, kexos.bzImage, the initramfs, the command line), then kexos's own
/// boot_aggregate.
#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn kexos_restores_the_list_linux_hands_over() -> Result<()> {
    let Some(fx) = ima_linux_fixture()? else {
        return Ok(());
    };
    let artifacts = Artifacts::from_env()?;
    let name = BootOptions::default().name;
    let (bz, initramfs) = kexos_host_files(&artifacts, &format!("{name}-kexos"))?;
    let append = format!("console=ttyS0 token={}", random_token("l2k-ima-"));
    let prelude = ima_policy_script(IMA_KEXEC_POLICY);
    let mut m = linux_kexec_into_with(&fx, &prelude, &bz, Some(&initramfs), &append)?;
    let policy = m.transcript();
    m.check_contains("the IMA Linux", &policy, &format!("{}0\n", lm::IMA_POLICY_STATUS))?;
    m.expect("kexec_core: Starting new kernel", HOP)?;
    m.expect("boot: entered via boot protocol", HOP)?;
    m.expect("ima: restored 4 measurements from the previous kernel", HOP)?;
    m.expect_prompt(HOP)?;
    let want = vec![
        boot_aggregate(),
        ima_ng_file(&std::fs::read(&bz)?, "/boot/kexos.bzImage"),
        ima_ng_file(&std::fs::read(&initramfs)?, "/boot/initramfs.cpio"),
        ima_buf("kexec-cmdline", append.as_bytes()),
        boot_aggregate(),
    ];
    let got = measurements(&mut m)?;
    m.check(got == want, format_args!("kexos's list:\n got {got:#?}\nwant {want:#?}"))?;
    m.poweroff()
}
