//! The explicit SKIP discipline: a scenario that cannot run (the Linux fixture is missing and
//! `KEXOS_SKIP_LINUX=1`) leaves `target/test-logs/<scenario>.skipped`, and xtask reports it as
//! skipped, never as passed; without the variable it fails.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::{BootOptions, ROOT_ENV, SKIP_LINUX_ENV, SKIP_SUFFIX};

/// With `KEXOS_SKIP_LINUX=1`, marks the current scenario as skipped because of `why` (writes
/// `target/test-logs/<scenario>.skipped`) and returns Ok; otherwise fails with `why`.
pub(crate) fn skip_or_fail(why: &str) -> Result<()> {
    if !std::env::var(SKIP_LINUX_ENV).is_ok_and(|v| v == "1") {
        bail!("{why}; or set {SKIP_LINUX_ENV}=1 to skip the Linux scenarios");
    }
    let root = std::env::var_os(ROOT_ENV)
        .map(PathBuf::from)
        .context(ROOT_ENV)?;
    let name = BootOptions::default().name;
    let marker = root
        .join("target/test-logs")
        .join(format!("{name}{SKIP_SUFFIX}"));
    if let Some(d) = marker.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&marker, format!("{why}\n"))?;
    eprintln!("SKIPPED {name}: {why} ({SKIP_LINUX_ENV}=1)");
    Ok(())
}
