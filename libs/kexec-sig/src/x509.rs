//! One X.509 certificate as the chain walk needs it: names, identifiers
//! (issuer+serial, SKID, AKID), fingerprint, and "did this key sign that".

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use der::{Decode, Encode};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::Certificate;

use crate::hash::{hex, sha256};
use crate::pubkey::{self, KeyError};
use crate::SigError;

/// A parsed certificate.
#[derive(Clone, Debug)]
pub struct Cert {
    /// The certificate.
    pub cert: Certificate,
    /// SHA-256 of its DER (what the blacklist names).
    pub fingerprint: [u8; 32],
    /// subjectKeyIdentifier.
    pub skid: Option<Vec<u8>>,
    /// authorityKeyIdentifier.keyIdentifier.
    pub akid: Option<Vec<u8>>,
    tbs_der: Vec<u8>,
}

impl Cert {
    /// Parse DER (EBADMSG if it is not a certificate).
    pub fn from_der(der: &[u8]) -> Result<Cert, SigError> {
        let cert = Certificate::from_der(der)
            .map_err(|e| SigError::bad_message(format_args!("X.509 certificate: {e}")))?;
        Cert::new(cert, sha256(der))
    }

    pub(crate) fn new(cert: Certificate, fingerprint: [u8; 32]) -> Result<Cert, SigError> {
        let bad = |e: der::Error| SigError::bad_message(format_args!("X.509 certificate: {e}"));
        let tbs = cert.tbs_certificate();
        let skid = tbs.get_extension::<SubjectKeyIdentifier>().map_err(bad)?.map(|(_, s)| s.0.as_bytes().to_vec());
        let akid = tbs
            .get_extension::<AuthorityKeyIdentifier>()
            .map_err(bad)?
            .and_then(|(_, a)| a.key_identifier.map(|k| k.as_bytes().to_vec()));
        let tbs_der = tbs.to_der().map_err(bad)?;
        Ok(Cert { cert, fingerprint, skid, akid, tbs_der })
    }

    /// Subject, RFC 4514 ("CN=Debian Secure Boot CA").
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// Issuer, RFC 4514.
    pub fn issuer(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    /// The key id Linux shows in /proc/keys: the SKID, else the
    /// fingerprint's first 20 bytes (marked as such).
    pub fn key_id(&self) -> String {
        match &self.skid {
            Some(s) => hex(s),
            None => format!("fp:{}", hex(&self.fingerprint[..20])),
        }
    }

    /// The key's algorithm ("rsa2048", "ecdsa-p384").
    pub fn key_algo(&self) -> String {
        pubkey::describe(self.cert.tbs_certificate().subject_public_key_info())
    }

    /// "<subject> (key id <id>)" for messages.
    pub fn label(&self) -> String {
        format!("{} (key id {})", self.subject(), self.key_id())
    }

    /// Whether this is the certificate with `issuer` and `serial`.
    pub(crate) fn has_issuer_serial(&self, issuer: &Name, serial: &[u8]) -> bool {
        let tbs = self.cert.tbs_certificate();
        tbs.issuer() == issuer && tbs.serial_number().as_bytes() == serial
    }

    /// Whether two certificates are the same key by identity: same issuer
    /// and serial (Linux's x509->id), or the same SKID.
    pub(crate) fn same_id(&self, other: &Cert) -> bool {
        let o = other.cert.tbs_certificate();
        self.has_issuer_serial(o.issuer(), o.serial_number().as_bytes())
            || matches!((&self.skid, &other.skid), (Some(a), Some(b)) if a == b)
    }

    /// Whether `issuer` is named as this certificate's issuer: AKID against
    /// the issuer's SKID when both exist, else the names.
    pub(crate) fn names_issuer(&self, issuer: &Cert) -> bool {
        match (&self.akid, &issuer.skid) {
            (Some(a), Some(s)) => a == s,
            _ => self.cert.tbs_certificate().issuer() == issuer.cert.tbs_certificate().subject(),
        }
    }

    /// Self-signed as Linux's x509_check_for_self_signed decides it: the
    /// issuer is the subject and the AKID, if any, is the certificate's own SKID.
    pub(crate) fn self_signed(&self) -> bool {
        let tbs = self.cert.tbs_certificate();
        tbs.issuer() == tbs.subject()
            && match (&self.akid, &self.skid) {
                (Some(a), Some(s)) => a == s,
                _ => true,
            }
    }

    /// Check this certificate's own signature with `issuer`'s key.
    pub(crate) fn verify_issued_by(&self, issuer: &Cert) -> Result<(), SigError> {
        let alg = self.cert.signature_algorithm();
        let unsupported = |what: String| SigError::Unsupported(format!("certificate {}: {what}", self.subject()));
        let hash = match pubkey::sig_hash(alg) {
            Ok(Some(h)) => h,
            Ok(None) => return Err(unsupported("signature algorithm names no hash".into())),
            Err(KeyError::Unsupported(w)) => return Err(unsupported(w)),
            Err(KeyError::Bad) => return Err(unsupported("signature algorithm".into())),
        };
        let sig = self
            .cert
            .signature()
            .as_bytes()
            .ok_or_else(|| SigError::BadMessage(format!("certificate {}: signature bits", self.subject())))?;
        issuer.verify_digest(alg, hash, &hash.digest(&self.tbs_der), sig, || format!("certificate {}", self.subject()))
    }

    /// Check `sig` over `digest` with this certificate's key; `what` names
    /// the signed object for the error.
    pub(crate) fn verify_digest(
        &self,
        alg: &spki::AlgorithmIdentifierOwned,
        hash: crate::HashAlgo,
        digest: &[u8],
        sig: &[u8],
        what: impl FnOnce() -> String,
    ) -> Result<(), SigError> {
        let key = self.cert.tbs_certificate().subject_public_key_info();
        pubkey::verify(key, alg, hash, digest, sig).map_err(|e| match e {
            KeyError::Unsupported(w) => SigError::Unsupported(format!("{}: {w}", what())),
            KeyError::Bad => SigError::BadSignature { what: what(), key: self.label() },
        })
    }

    /// notBefore..=notAfter as Unix seconds.
    pub(crate) fn validity_secs(&self) -> (u64, u64) {
        let v = self.cert.tbs_certificate().validity();
        (v.not_before.to_unix_duration().as_secs(), v.not_after.to_unix_duration().as_secs())
    }
}
