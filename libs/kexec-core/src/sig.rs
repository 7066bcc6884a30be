//! Signature policy for kexec_file_load (Linux's kimage_validate_signature
//! and security/lockdown/lockdown.c): what a verification result means
//! under `kexec.sig_enforce` and lockdown. The verifiers themselves (a
//! loader's `verify_sig`, built on kexec-sig) are separate; this is only
//! the decision, so that every combination is host-tested and the kernel
//! keeps one call.

use alloc::string::String;
use core::fmt;

use abi::Errno;

/// Why a kernel image's signature did not verify, with Linux's errno
/// (the verifiers live in kexec-sig).
pub use kexec_sig::{SigError, Verified};

/// Kernel lockdown levels (security/lockdown), in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lockdown {
    /// Not locked down.
    None,
    /// Integrity: nothing may modify the running kernel (kexec of unsigned
    /// images included).
    Integrity,
    /// Confidentiality: integrity, and nothing may read kernel memory.
    Confidentiality,
}

impl Lockdown {
    /// Every level, in order (what the securityfs file lists).
    pub const ALL: [Lockdown; 3] = [
        Lockdown::None,
        Lockdown::Integrity,
        Lockdown::Confidentiality,
    ];

    /// The level's name, as `lockdown=` and the securityfs file spell it.
    pub fn name(self) -> &'static str {
        match self {
            Lockdown::None => "none",
            Lockdown::Integrity => "integrity",
            Lockdown::Confidentiality => "confidentiality",
        }
    }

    /// A level by name; a trailing newline (from `echo`) is ignored.
    pub fn parse(text: &str) -> Option<Lockdown> {
        let text = text.strip_suffix('\n').unwrap_or(text);
        Lockdown::ALL.into_iter().find(|l| l.name() == text)
    }

    /// /sys/kernel/security/lockdown: every level, the current one in
    /// brackets: `none [integrity] confidentiality\n`.
    pub fn securityfs_text(self) -> String {
        let mut s = String::new();
        for l in Lockdown::ALL {
            if !s.is_empty() {
                s.push(' ');
            }
            if l == self {
                s.push('[');
                s.push_str(l.name());
                s.push(']');
            } else {
                s.push_str(l.name());
            }
        }
        s.push('\n');
        s
    }

    /// Linux's lock_kernel_down: the level only goes up; asking for the
    /// current level or a lower one is EPERM.
    pub fn raise(self, to: Lockdown) -> Result<Lockdown, Errno> {
        if to <= self {
            return Err(Errno::EPERM);
        }
        Ok(to)
    }

    /// LOCKDOWN_KEXEC is an integrity reason: both levels block it.
    pub fn blocks_unsigned_kexec(self) -> bool {
        self >= Lockdown::Integrity
    }
}

/// The switches kimage_validate_signature reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigPolicy {
    /// `kexec.sig_enforce=1` (Linux: CONFIG_KEXEC_SIG_FORCE or
    /// set_kexec_sig_enforced): every verification error is fatal.
    pub sig_enforce: bool,
    /// The lockdown level.
    pub lockdown: Lockdown,
}

/// Which policy refused an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusedBy {
    /// `kexec.sig_enforce=1`.
    SigEnforce,
    /// Lockdown at this level.
    Lockdown(Lockdown),
}

impl RefusedBy {
    /// What Linux logs for this refusal.
    pub fn linux_message(self) -> &'static str {
        match self {
            RefusedBy::SigEnforce => "Enforced kernel signature verification failed",
            RefusedBy::Lockdown(_) => {
                "Lockdown: kexec of unsigned images is restricted; see man kernel_lockdown.7"
            }
        }
    }
}

impl fmt::Display for RefusedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusedBy::SigEnforce => f.write_str("kexec.sig_enforce=1"),
            RefusedBy::Lockdown(l) => write!(f, "lockdown={}", l.name()),
        }
    }
}

/// What the load does after verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigVerdict {
    /// The signature verified: who signed, which key it chains to, the digest.
    Verified(Verified),
    /// It did not, but nothing enforces it: the image loads (Linux logs
    /// this at debug level only; kexos says it always).
    LoadedAnyway(SigError),
    /// Refused with this errno: the verification error itself under
    /// sig_enforce, EPERM under lockdown.
    Refused {
        /// What the caller returns.
        errno: Errno,
        /// The verification error.
        error: SigError,
        /// Which policy refused.
        by: RefusedBy,
    },
}

impl SigPolicy {
    /// kimage_validate_signature's decision, in Linux's order: sig_enforce
    /// first (its own errno), then lockdown (EPERM; kexos has no IMA
    /// appraisal to fall back on), else the image loads.
    pub fn decide(self, result: Result<Verified, SigError>) -> SigVerdict {
        let error = match result {
            Ok(v) => return SigVerdict::Verified(v),
            Err(e) => e,
        };
        if self.sig_enforce {
            let errno = error.errno();
            return SigVerdict::Refused {
                errno,
                error,
                by: RefusedBy::SigEnforce,
            };
        }
        if self.lockdown.blocks_unsigned_kexec() {
            let by = RefusedBy::Lockdown(self.lockdown);
            return SigVerdict::Refused {
                errno: Errno::EPERM,
                error,
                by,
            };
        }
        SigVerdict::LoadedAnyway(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOSIG: SigError = SigError::NoVerifier {
        loader: "bzImage64",
    };

    fn verified() -> Verified {
        Verified {
            format: "Authenticode",
            signer: "CN=signer".into(),
            trusted: "CN=ca".into(),
            keyring: ".builtin_trusted_keys",
            algo: kexec_sig::HashAlgo::Sha256,
            digest: alloc::vec![0; 32],
        }
    }

    fn policy(sig_enforce: bool, lockdown: Lockdown) -> SigPolicy {
        SigPolicy {
            sig_enforce,
            lockdown,
        }
    }

    #[test]
    fn verified_images_load_under_every_policy() {
        for l in Lockdown::ALL {
            for e in [false, true] {
                let v = verified();
                assert_eq!(policy(e, l).decide(Ok(v.clone())), SigVerdict::Verified(v));
            }
        }
    }

    #[test]
    fn failures_load_only_without_enforcement_or_lockdown() {
        assert_eq!(
            policy(false, Lockdown::None).decide(Err(NOSIG)),
            SigVerdict::LoadedAnyway(NOSIG)
        );
        // sig_enforce wins over lockdown, with the verification's own errno.
        for l in Lockdown::ALL {
            assert_eq!(
                policy(true, l).decide(Err(NOSIG)),
                SigVerdict::Refused {
                    errno: Errno::EKEYREJECTED,
                    error: NOSIG,
                    by: RefusedBy::SigEnforce
                }
            );
        }
        assert_eq!(
            policy(false, Lockdown::Integrity).decide(Err(NOSIG)),
            SigVerdict::Refused {
                errno: Errno::EPERM,
                error: NOSIG,
                by: RefusedBy::Lockdown(Lockdown::Integrity)
            }
        );
        assert_eq!(
            policy(false, Lockdown::Confidentiality).decide(Err(NOSIG)),
            SigVerdict::Refused {
                errno: Errno::EPERM,
                error: NOSIG,
                by: RefusedBy::Lockdown(Lockdown::Confidentiality)
            }
        );
    }

    #[test]
    fn lockdown_text_parse_and_raise() {
        assert_eq!(
            Lockdown::None.securityfs_text(),
            "[none] integrity confidentiality\n"
        );
        assert_eq!(
            Lockdown::Integrity.securityfs_text(),
            "none [integrity] confidentiality\n"
        );
        assert_eq!(Lockdown::parse("integrity\n"), Some(Lockdown::Integrity));
        assert_eq!(
            Lockdown::parse("confidentiality"),
            Some(Lockdown::Confidentiality)
        );
        assert_eq!(Lockdown::parse("Integrity"), None);
        assert_eq!(Lockdown::parse(""), None);
        assert_eq!(
            Lockdown::None.raise(Lockdown::Integrity),
            Ok(Lockdown::Integrity)
        );
        assert_eq!(
            Lockdown::Integrity.raise(Lockdown::Confidentiality),
            Ok(Lockdown::Confidentiality)
        );
        assert_eq!(
            Lockdown::Integrity.raise(Lockdown::Integrity),
            Err(Errno::EPERM)
        );
        assert_eq!(
            Lockdown::Confidentiality.raise(Lockdown::Integrity),
            Err(Errno::EPERM)
        );
        assert_eq!(Lockdown::None.raise(Lockdown::None), Err(Errno::EPERM));
        assert!(!Lockdown::None.blocks_unsigned_kexec());
        assert!(Lockdown::Integrity.blocks_unsigned_kexec());
    }

    #[test]
    fn refusals_name_the_policy_and_linux_message() {
        assert_eq!(RefusedBy::SigEnforce.to_string(), "kexec.sig_enforce=1");
        assert_eq!(
            RefusedBy::Lockdown(Lockdown::Confidentiality).to_string(),
            "lockdown=confidentiality"
        );
        assert!(RefusedBy::Lockdown(Lockdown::Integrity)
            .linux_message()
            .starts_with("Lockdown: "));
        assert!(RefusedBy::SigEnforce
            .linux_message()
            .starts_with("Enforced "));
    }
}
