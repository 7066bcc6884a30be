//! The trusted keyring (Linux's .builtin_trusted_keys) and the blacklist
//! (certificate SHA-256 fingerprints), and their /proc/keys-style listing.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::hash::hex;
use crate::x509::Cert;
use crate::SigError;

/// Trusted certificates and refused fingerprints.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    name: &'static str,
    keys: Vec<Cert>,
    blacklist: Vec<[u8; 32]>,
}

impl Keyring {
    /// An empty keyring called `name` (".builtin_trusted_keys").
    pub fn new(name: &'static str) -> Keyring {
        Keyring { name, keys: Vec::new(), blacklist: Vec::new() }
    }

    /// The keyring's name, for messages.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Add a DER certificate.
    pub fn add_der(&mut self, der: &[u8]) -> Result<&Cert, SigError> {
        let c = Cert::from_der(der)?;
        self.keys.push(c);
        Ok(&self.keys[self.keys.len() - 1])
    }

    /// Refuse any chain through the certificate with this fingerprint.
    pub fn blacklist(&mut self, fingerprint: [u8; 32]) {
        self.blacklist.push(fingerprint);
    }

    /// The trusted certificates.
    pub fn keys(&self) -> &[Cert] {
        &self.keys
    }

    /// The blacklisted fingerprints.
    pub fn blacklisted(&self) -> &[[u8; 32]] {
        &self.blacklist
    }

    pub(crate) fn find(&self, pred: impl Fn(&Cert) -> bool) -> Option<&Cert> {
        self.keys.iter().find(|k| pred(k))
    }

    pub(crate) fn check_blacklist(&self, c: &Cert) -> Result<(), SigError> {
        if self.blacklist.contains(&c.fingerprint) {
            return Err(SigError::Blacklisted { subject: c.subject(), fingerprint: c.fingerprint });
        }
        Ok(())
    }

    /// One line per key, as /proc/keys shows asymmetric keys plus what a
    /// person checks a key by, then one line per blacklisted fingerprint:
    /// `asymmetric <keyring> <key id> <algo> subject="..." issuer="..." sha256=<fp>`.
    pub fn listing(&self) -> String {
        let mut s = String::new();
        for k in &self.keys {
            s.push_str(&format!(
                "asymmetric {} {} {} subject=\"{}\" issuer=\"{}\" sha256={}\n",
                self.name,
                k.key_id(),
                k.key_algo(),
                k.subject(),
                k.issuer(),
                hex(&k.fingerprint)
            ));
        }
        for fp in &self.blacklist {
            s.push_str(&format!("blacklist {} sha256={}\n", self.name, hex(fp)));
        }
        s
    }
}
