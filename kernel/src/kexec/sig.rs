//! kimage_validate_signature: the loader's verify_sig, then the policy
//! (kexec.sig_enforce, lockdown) decides, and the one log line says what was
//! checked, what failed and what policy did with it.

use abi::Errno;
use alloc::format;
use core::sync::atomic::{AtomicBool, Ordering};
use kexec_core::{KexecFileOps, SigPolicy, SigVerdict};

use super::fail;

/// `kexec.sig_enforce=1` (kexos's switch for what Linux sets with
/// CONFIG_KEXEC_SIG_FORCE or set_kexec_sig_enforced): once on, never off.
static SIG_ENFORCE: AtomicBool = AtomicBool::new(false);

/// Read `kexec.sig_enforce=` (a kernel bool: 1/y/Y on; 0/n/N off).
pub fn init(cmdline: &str) {
    for arg in cmdline.split_whitespace() {
        if let Some(v) = arg.strip_prefix("kexec.sig_enforce=") {
            if matches!(v, "1" | "y" | "Y") {
                SIG_ENFORCE.store(true, Ordering::Release);
                info!("kexec_file: kexec.sig_enforce=1: only images whose signature verifies load");
            }
        }
    }
}

fn policy() -> SigPolicy {
    SigPolicy { sig_enforce: SIG_ENFORCE.load(Ordering::Acquire), lockdown: crate::security::lockdown() }
}

/// After the probe, before the initrd is read (Linux's order).
pub fn validate_signature(ops: &dyn KexecFileOps, kernel: &[u8], path: &str) -> Result<(), Errno> {
    match policy().decide(ops.verify_sig(kernel)) {
        SigVerdict::Verified => {
            info!("kexec_file: {}: signature verified ({})", path, ops.name());
            Ok(())
        }
        SigVerdict::LoadedAnyway(e) => {
            // Logged before the rest of the load, which may still fail.
            info!("kexec_file: {}: signature not verified: {} ({}); not enforced, the load goes on", path, e, e.errno().name());
            Ok(())
        }
        SigVerdict::Refused { errno, error, by } => {
            Err(fail(errno, format!("{}: signature not verified: {} ({}); refused: {} ({})", path, error, error.errno().name(), by, by.linux_message())))
        }
    }
}
