//! Linux kexecs Linux with Debian's kexec-tools (the stepping stone for issue 4's "Being
//! kexec'd by the real thing"): QEMU boots the fixture Linux directly with the kexec variant of
//! its initramfs (`/sbin/kexec` and its libraries, the fixture's bzImage and initramfs under
//! `/boot`), whose test script runs `kexec -s -l /boot/vmlinuz --initrd=/boot/initrd.img
//! --append=...` (Linux's own `kexec_file_load`) and `kexec -e`. No kexos involved: this proves
//! the kexec-tools set-up, which `kexos_tests::linux_kexec_into` will use to kexec kexos.bzImage.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::Result;
use kexos_tests::{linux_kexec_fixture, linux_kexec_into, random_token};

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn linux_kexecs_linux() -> Result<()> {
    let Some(fx) = linux_kexec_fixture()? else {
        return Ok(());
    };
    let version = fx.version()?;
    let append = format!("console=ttyS0 kexos_token={}", random_token("l2l-"));
    let Some(mut m) = linux_kexec_into(&fx.kernel, Some(&fx.initrd), &append)? else {
        return Ok(());
    };
    // The first Linux is leaving (printed by kernel_kexec() at KERN_NOTICE).
    m.expect("kexec_core: Starting new kernel", Duration::from_secs(60))?;
    // The second Linux: its banner, its /init, exactly our command line (with the token), its
    // initramfs, its power-off.
    m.expect_linux_boot(&append, &version, Duration::from_secs(90))
}
