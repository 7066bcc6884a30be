//! The Linux fixture itself (issue 3): QEMU boots the Debian bzImage and the busybox initramfs
//! `cargo xtask fixtures` made, directly (`-kernel`/`-initrd`/`-append`, no kexos). If this
//! fails, the kexec scenarios cannot pass whatever kexos does.
//!
//! `#[ignore]`d like every QEMU scenario: run with `cargo xtask test`.

use std::time::Duration;

use anyhow::Result;
use kexos_tests::{linux_fixture, qemu_linux_command, random_token, Artifacts, Machine};

#[test]
#[ignore = "boots QEMU: run `cargo xtask test`"]
fn linux_fixture_boots_directly() -> Result<()> {
    let Some(fx) = linux_fixture()? else {
        return Ok(());
    };
    let version = fx.version()?;
    let append = format!("console=ttyS0 kexos_token={}", random_token("direct-"));
    let log = Artifacts::from_env()?
        .target("test-logs")
        .join("linux_fixture_boots_directly.log");
    let linux = || qemu_linux_command(&fx.kernel, &fx.initrd, &append, "512M", &[]);
    let mut m = Machine::boot_first_linux("linux_fixture_boots_directly", linux, Some(log), &version)?;
    // Measured: about 3.5 s from QEMU start to the power-off under TCG on 2 cores.
    m.expect_linux_init(&append, &version, Duration::from_secs(90))
}
