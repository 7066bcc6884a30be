//! Kernel lockdown (Linux's security/lockdown/lockdown.c): `lockdown=` on
//! the command line and /sys/kernel/security/lockdown, whose level only
//! goes up. kexec reads it to refuse images that fail verification.

use abi::Errno;
use core::sync::atomic::{AtomicU8, Ordering};
use kexec_core::Lockdown;

use crate::fs::kernfs::{register, text, KernelFile};

/// The current level, as its index in [`Lockdown::ALL`].
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The current lockdown level.
pub fn lockdown() -> Lockdown {
    Lockdown::ALL[usize::from(LEVEL.load(Ordering::Acquire)).min(Lockdown::ALL.len() - 1)]
}

/// lock_kernel_down: raise the level (EPERM for the current or a lower one).
fn lock_kernel_down(where_: &str, to: Lockdown) -> Result<(), Errno> {
    lockdown().raise(to)?;
    // fetch_max: even a racing writer can only raise the level.
    let index = Lockdown::ALL.iter().position(|&l| l == to).unwrap_or(0) as u8;
    if LEVEL.fetch_max(index, Ordering::AcqRel) >= index {
        return Err(Errno::EPERM);
    }
    info!("Kernel is locked down from {}; see man kernel_lockdown.7", where_);
    Ok(())
}

static LOCKDOWN: KernelFile = KernelFile {
    path: "/sys/kernel/security/lockdown",
    // As Linux's securityfs_create_file("lockdown", 0600, ...).
    mode: 0o600,
    read: || text(lockdown().securityfs_text()),
    write: Some(write_lockdown),
};

/// Writing a level's name raises to it; an unknown name is EINVAL.
fn write_lockdown(data: &[u8]) -> Result<usize, Errno> {
    let name = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
    let to = Lockdown::parse(name).ok_or(Errno::EINVAL)?;
    lock_kernel_down("securityfs", to)?;
    Ok(data.len())
}

/// `lockdown=LEVEL` from the command line (an unknown level is ignored, as
/// Linux's early_param), then the securityfs file.
pub fn init(cmdline: &str) {
    for arg in cmdline.split_whitespace() {
        if let Some(level) = arg.strip_prefix("lockdown=") {
            match Lockdown::parse(level) {
                Some(to) => {
                    let _ = lock_kernel_down("command line", to);
                }
                None => info!("lockdown: unknown level {:?} ignored", level),
            }
        }
    }
    register(&[&LOCKDOWN]);
}
