//! Signed self-kexec (issue 10): a kexos booted with `lockdown=integrity` hops into kexos
//! through signed images only: kexos.bzImage with Authenticode (bzImage64 loader), then
//! kexos.elf with an appended signature (elf64 loader), both signed by `cargo xtask build`
//! with the reproducible test key, verified against the test CA in the builtin keyring. The
//! unsigned images are refused with EPERM at every hop, and lockdown goes along on the
//! command line.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::Result;
use kexos_tests::{random_token, Artifacts, BootOptions, Firmware, Machine};

const HOP: Duration = Duration::from_secs(120);
const LOAD_FAILED: &str = "kexec_file_load failed: ";
const TEST_SIGNER: &str = "kexos test signer";
const TEST_CA: &str = "kexos test CA";

fn load_cmd(image: &str, append: &str) -> String {
    format!("kexec -s -l {image} --initrd=/boot/initramfs.cpio --append=\"{append}\"")
}

/// Both unsigned images are refused under lockdown, each with the reason its format gives.
fn unsigned_refused(m: &mut Machine) -> Result<()> {
    for (image, why) in [
        ("/boot/kexos.bzImage", "unsigned image: no certificate table in the PE header (ENODATA); refused: lockdown=integrity"),
        ("/boot/kexos.elf", "(ENODATA); refused: lockdown=integrity"),
    ] {
        let cmd = load_cmd(image, "x");
        let out = m.run(&cmd)?;
        m.check_contains(&cmd, &out, &format!("{LOAD_FAILED}EPERM"))?;
        m.check_contains(&cmd, &out, &format!("{image}: signature not verified: "))?;
        m.check_contains(&cmd, &out, why)?;
    }
    Ok(())
}

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn locked_down_kexos_self_kexecs_signed_images() -> Result<()> {
    let a = Artifacts::from_env()?;
    let mut opts = BootOptions::new(Firmware::Uefi);
    opts.append = "lockdown=integrity".into();
    opts.add.push((a.signed_bzimage.clone(), "/boot/signed.bzImage".into()));
    opts.add.push((a.signed_elf.clone(), "/boot/signed.elf".into()));
    let mut m = Machine::boot(opts)?;
    m.cmd_timeout = HOP;
    let keys = m.run("cat /sys/kernel/security/kexec_keys")?;
    m.check_contains("kexec_keys", &keys, TEST_CA)?;
    unsigned_refused(&mut m)?;
    m.run_expect("cat /sys/kernel/kexec_loaded", "0")?;
    for (image, format, loader) in [
        ("/boot/signed.bzImage", "Authenticode", "bzImage64"),
        ("/boot/signed.elf", "appended PKCS#7", "elf64"),
    ] {
        let append = format!("lockdown=integrity token={}", random_token("signed-"));
        let cmd = format!("{} -d", load_cmd(image, &append));
        let out = m.run(&cmd)?;
        m.check_lacks(&cmd, &out, LOAD_FAILED)?;
        m.check_contains(&cmd, &out, &format!("{image}: {format} signature verified in "))?;
        m.check_contains(&cmd, &out, &format!("signer CN={TEST_SIGNER}"))?;
        m.check_contains(&cmd, &out, &format!("trusted key CN={TEST_CA}"))?;
        m.check_contains(&cmd, &out, &format!("signature: {format} by CN={TEST_SIGNER}"))?;
        m.check_contains(&cmd, &out, &format!("({loader}) in "))?;
        m.exec_into_kexos(image, &append, HOP)?;
        let level = m.run("cat /sys/kernel/security/lockdown")?;
        m.check_contains("lockdown after the hop", &level, "none [integrity] confidentiality")?;
        unsigned_refused(&mut m)?;
    }
    m.poweroff()
}
