//! kimage_validate_signature: the loader's verify_sig against the builtin
//! trusted keyring, then the policy (kexec.sig_enforce, lockdown) decides,
//! and the one log line says what was checked, what failed and what policy
//! did with it.

use abi::Errno;
use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicBool, Ordering};
use kexec_core::kexec_sig::{hash::hex, Keyring};
use kexec_core::{KexecFileOps, SigError, SigPolicy, SigVerdict, Verified};
use spin::Once;

use super::fail;
use crate::fs::kernfs::{register, text, KernelFile};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/keyring.rs"));
}

/// Linux's name for the keyring kexec checks first.
const KEYRING_NAME: &str = ".builtin_trusted_keys";

/// `kexec.sig_enforce=1` (kexos's switch for what Linux sets with
/// CONFIG_KEXEC_SIG_FORCE or set_kexec_sig_enforced): once on, never off.
static SIG_ENFORCE: AtomicBool = AtomicBool::new(builtin::SIG_ENFORCE_DEFAULT);

static KEYRING: Once<Keyring> = Once::new();

/// /sys/kernel/security/kexec_keys: the keyring as /proc/keys lists
/// asymmetric keys, plus issuer and fingerprint, then the blacklist.
static KEYS_FILE: KernelFile = KernelFile {
    path: "/sys/kernel/security/kexec_keys",
    mode: 0o444,
    read: || text(keyring().listing()),
    write: None,
};

/// The keyring, parsed from the builtin certificates the first time it is
/// needed (a signature check, /sys/kernel/security/kexec_keys), not at
/// boot: under TCG, running the X.509 parser for the first time cost about
/// 12 ms of a 45 ms boot to prompt.
fn keyring() -> &'static Keyring {
    KEYRING.call_once(|| {
        let mut k = Keyring::new(KEYRING_NAME);
        for (name, der) in builtin::TRUSTED_CERTS {
            match k.add_der(der) {
                Ok(c) => info!("kexec_file: {}: trusted key {} ({})", KEYRING_NAME, c.label(), name),
                Err(e) => info!("kexec_file: {}: {} not added: {} ({})", KEYRING_NAME, name, e, e.errno().name()),
            }
        }
        for fp in builtin::BLACKLIST {
            k.blacklist(*fp);
        }
        info!("kexec_file: {}: {} keys, {} blacklisted fingerprints", KEYRING_NAME, k.keys().len(), k.blacklisted().len());
        k
    })
}

/// Read `kexec.sig_enforce=` (a kernel bool: 1/y/Y on; 0/n/N off, which
/// cannot undo a build-time default), register the keyring's file (the
/// keyring itself is parsed at first use).
pub fn init(cmdline: &str) {
    for arg in cmdline.split_whitespace() {
        if let Some(v) = arg.strip_prefix("kexec.sig_enforce=") {
            if matches!(v, "1" | "y" | "Y") {
                SIG_ENFORCE.store(true, Ordering::Release);
            }
        }
    }
    if SIG_ENFORCE.load(Ordering::Acquire) {
        info!("kexec_file: kexec.sig_enforce=1: only images whose signature verifies load");
    }
    register(&[&KEYS_FILE]);
}

fn policy() -> SigPolicy {
    SigPolicy { sig_enforce: SIG_ENFORCE.load(Ordering::Acquire), lockdown: crate::security::lockdown() }
}

/// verify_sig's result and the nanoseconds it took.
pub type Checked = (Result<Verified, SigError>, u64);

/// The loader's verify_sig against the keyring, timed: the work half of
/// [`validate_signature`], which kexec_file_load runs while the helper CPU
/// hashes the file for IMA (arch::smp::join).
pub fn check(ops: &dyn KexecFileOps, kernel: &[u8]) -> Checked {
    let t0 = crate::time::now_ns();
    let result = ops.verify_sig(kernel, keyring());
    (result, crate::time::now_ns() - t0)
}

/// After the probe, before the initrd counts as read (Linux's order; its
/// fd is looked up earlier, its errors reported only after this): the
/// policy's verdict on [`check`]'s result. Returns the line `kexec -d` prints about
/// the signature.
pub fn validate_signature(checked: Checked, path: &str) -> Result<String, Errno> {
    let (result, ns) = checked;
    let us = ns / 1000;
    match policy().decide(result) {
        SigVerdict::Verified(v) => {
            info!(
                "kexec_file: {}: {} signature verified in {} us: signer {}, trusted key {} in {}",
                path, v.format, us, v.signer, v.trusted, v.keyring
            );
            Ok(format!("signature: {} by {}, {} digest {}", v.format, v.signer, v.algo.name(), hex(&v.digest)))
        }
        SigVerdict::LoadedAnyway(e) => {
            // Logged before the rest of the load, which may still fail.
            info!("kexec_file: {}: signature not verified: {} ({}); not enforced, the load goes on", path, e, e.errno().name());
            Ok(format!("signature: not verified ({})", e.errno().name()))
        }
        SigVerdict::Refused { errno, error, by } => {
            Err(fail(errno, format!("{}: signature not verified: {} ({}); refused: {} ({})", path, error, error.errno().name(), by, by.linux_message())))
        }
    }
}
