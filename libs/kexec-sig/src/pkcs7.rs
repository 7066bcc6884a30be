//! PKCS#7 SignedData verification and trust, as Linux's pkcs7_verify.c and
//! pkcs7_trust.c: digest the content, check it against messageDigest, check
//! the signer info's signature with the signer's certificate, verify the
//! chain of certificates carried in the message, and find where it meets
//! the trusted keyring. No certificate date is checked against a clock
//! (kexos has no trusted time); only signingTime against the signer's
//! validity, as Linux.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Tag};
use x509_cert::time::Time;

use crate::der_walk::{self, Tlv};
use crate::keyring::Keyring;
use crate::x509::Cert;
use crate::{oid, HashAlgo, SigError};

/// What a signature's content must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// VERIFYING_KEXEC_PE_SIGNATURE: Authenticode, signed attributes required.
    KexecPe,
    /// VERIFYING_MODULE_SIGNATURE: detached pkcs7-data, no signed attributes.
    Module,
}

/// The length of the DER message at the start of `b`, as
/// pefile_strip_sig_wrapper reads it: the PE certificate entry may be
/// padded after it. EMSGSIZE for a length of 2^24 or more.
pub(crate) fn outer_len(b: &[u8]) -> Result<usize, SigError> {
    let not_pkcs7 = || SigError::malformed("signature data is not PKCS#7");
    if b.first() != Some(&0x30) || b.len() < 4 {
        return Err(not_pkcs7());
    }
    let len = match b[1] {
        n @ 0..=0x7f => n as usize + 2,
        0x80 => return Ok(b.len()),
        0x81 => b[2] as usize + 3,
        0x82 => ((b[2] as usize) << 8 | b[3] as usize) + 4,
        n => return Err(SigError::TooLarge(n as usize - 0x80)),
    };
    if len > b.len() {
        return Err(not_pkcs7());
    }
    Ok(len)
}

/// One signer info and the exact bytes of its signed attributes.
struct Signer<'a> {
    info: SignerInfo,
    raw_attrs: Option<Tlv<'a>>,
}

/// A parsed SignedData.
pub struct Message<'a> {
    /// The encapsulated content's type.
    pub content_type: ObjectIdentifier,
    /// The encapsulated content (the [0] EXPLICIT element), if not detached.
    pub content: Option<Tlv<'a>>,
    certs: Vec<Cert>,
    signers: Vec<Signer<'a>>,
}

/// Who signed, as the log names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerSummary {
    /// The signer certificate's subject and key id, or its identifier.
    pub signer: String,
    /// The trusted key the chain ended at.
    pub trusted: String,
    /// The signer info's digest.
    pub algo: HashAlgo,
}

fn expect<'a>(t: Option<&Tlv<'a>>, tag: Tag, what: &str) -> Result<Tlv<'a>, SigError> {
    match t {
        Some(t) if t.tag == tag => Ok(*t),
        _ => Err(SigError::BadMessage(format!("{what} missing"))),
    }
}

fn ctx(n: u8) -> Tag {
    Tag::ContextSpecific { constructed: true, number: der::TagNumber(n as u32) }
}

impl<'a> Message<'a> {
    /// Parse ContentInfo(SignedData) (EBADMSG for anything else).
    pub fn parse(der: &'a [u8]) -> Result<Message<'a>, SigError> {
        let ci = der_walk::first(der)?;
        let ci_fields = der_walk::all(expect(Some(&ci), Tag::Sequence, "ContentInfo")?.value)?;
        let ct = ObjectIdentifier::from_der(expect(ci_fields.first(), Tag::ObjectIdentifier, "contentType")?.whole)
            .map_err(|e| SigError::bad_message(format_args!("contentType: {e}")))?;
        if ct != oid::SIGNED_DATA {
            return Err(SigError::BadMessage(format!("content type {ct} is not signedData")));
        }
        let wrapped = expect(ci_fields.get(1), ctx(0), "SignedData")?;
        let sd = der_walk::first(wrapped.value)?;
        let f = der_walk::all(expect(Some(&sd), Tag::Sequence, "SignedData")?.value)?;
        let eci_tlv = expect(f.get(2), Tag::Sequence, "encapContentInfo")?;
        let eci = EncapsulatedContentInfo::from_der(eci_tlv.whole)
            .map_err(|e| SigError::bad_message(format_args!("encapContentInfo: {e}")))?;
        let content = match der_walk::all(eci_tlv.value)?.get(1) {
            Some(t) if t.tag == ctx(0) => Some(der_walk::first(t.value)?),
            Some(_) => return Err(SigError::BadMessage("encapContentInfo.eContent".into())),
            None => None,
        };
        let mut rest = &f[3..];
        let mut certs = Vec::new();
        if let Some(t) = rest.first().filter(|t| t.tag == ctx(0)) {
            for c in der_walk::all(t.value)? {
                certs.push(Cert::from_der(c.whole)?);
            }
            rest = &rest[1..];
        }
        if rest.first().is_some_and(|t| t.tag == ctx(1)) {
            rest = &rest[1..];
        }
        let sis = expect(rest.first(), Tag::Set, "signerInfos")?;
        if rest.len() != 1 {
            return Err(SigError::BadMessage("data after signerInfos".into()));
        }
        let signers = der_walk::all(sis.value)?
            .into_iter()
            .map(Signer::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if signers.is_empty() {
            return Err(SigError::BadMessage("no signer infos".into()));
        }
        Ok(Message { content_type: eci.econtent_type, content, certs, signers })
    }

    /// The certificates carried in the message.
    pub fn certificates(&self) -> &[Cert] {
        &self.certs
    }

    /// pkcs7_verify + pkcs7_validate_trust over `data` (the content's value
    /// for Authenticode, the payload for a detached signature), with Linux's
    /// priorities: the first hard error wins; else one trusted signer is
    /// enough; else ENOPKG over ENOKEY.
    pub fn verify(&self, data: &[u8], usage: Usage, keyring: &Keyring) -> Result<SignerSummary, SigError> {
        self.check_usage(usage)?;
        let mut soft: Option<SigError> = None;
        for s in &self.signers {
            match self.verify_one(s, data, usage, keyring) {
                Ok(summary) => return Ok(summary),
                Err(e @ (SigError::NoTrustedKey { .. } | SigError::Unsupported(_))) => {
                    if !matches!(soft, Some(SigError::Unsupported(_))) {
                        soft = Some(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(soft.unwrap_or_else(|| SigError::BadMessage("no signer infos".into())))
    }

    fn check_usage(&self, usage: Usage) -> Result<(), SigError> {
        match usage {
            Usage::KexecPe if self.content_type != oid::SPC_INDIRECT_DATA => Err(SigError::WrongContent(format!(
                "content type {} is not Authenticode (SpcIndirectDataContent)",
                self.content_type
            ))),
            Usage::Module if self.content_type != oid::DATA => {
                Err(SigError::WrongContent(format!("content type {} is not pkcs7-data", self.content_type)))
            }
            Usage::Module if self.signers.iter().any(|s| s.raw_attrs.is_some()) => {
                Err(SigError::WrongContent("an appended signature with signed attributes".into()))
            }
            _ => Ok(()),
        }
    }

    fn verify_one(&self, s: &Signer<'_>, data: &[u8], usage: Usage, keyring: &Keyring) -> Result<SignerSummary, SigError> {
        let algo = HashAlgo::from_oid(&s.info.digest_alg.oid)?;
        let digest = self.signed_digest(s, algo, data, usage)?;
        let signer = self.certs.iter().position(|c| s.identifies(c));
        if let Some(i) = signer {
            s.check_signing_time(&self.certs[i])?;
            s.verify_with(&self.certs[i], algo, &digest)?;
        }
        let chain = match signer {
            Some(i) => self.chain_from(i)?,
            None => Vec::new(),
        };
        let name = match signer {
            Some(i) => self.certs[i].label(),
            None => s.id_text(),
        };
        for &c in &chain {
            keyring.check_blacklist(&self.certs[c])?;
        }
        let trusted = self.trust(s, algo, &digest, &chain, keyring, &name)?;
        Ok(SignerSummary { signer: name, trusted, algo })
    }

    /// pkcs7_digest: the digest the signer info's signature covers.
    fn signed_digest(&self, s: &Signer<'_>, algo: HashAlgo, data: &[u8], usage: Usage) -> Result<Vec<u8>, SigError> {
        let content_digest = algo.digest(data);
        let Some(raw) = s.raw_attrs else {
            if usage == Usage::KexecPe {
                return Err(SigError::BadMessage("Authenticode requires signed attributes".into()));
            }
            return Ok(content_digest);
        };
        let attrs = s.info.signed_attrs.as_ref().ok_or_else(|| SigError::BadMessage("signed attributes".into()))?;
        let one = |want: ObjectIdentifier| -> Result<Option<&der::Any>, SigError> {
            let mut found = attrs.iter().filter(|a| a.oid == want);
            match (found.next(), found.next()) {
                (None, _) => Ok(None),
                (Some(a), None) if a.values.len() == 1 => Ok(a.values.iter().next()),
                _ => Err(SigError::BadMessage(format!("signed attribute {want} is not single-valued"))),
            }
        };
        if let Some(ct) = one(oid::CONTENT_TYPE)? {
            let ct: ObjectIdentifier = ct.decode_as().map_err(|e| SigError::bad_message(format_args!("contentType attribute: {e}")))?;
            if ct != self.content_type {
                return Err(SigError::BadMessage(format!("contentType attribute {ct} != content type {}", self.content_type)));
            }
        }
        let md: OctetString = one(oid::MESSAGE_DIGEST)?
            .ok_or(SigError::NoMessageDigest)?
            .decode_as()
            .map_err(|e| SigError::bad_message(format_args!("messageDigest attribute: {e}")))?;
        if md.as_bytes().len() != algo.output_len() {
            return Err(SigError::BadMessage(format!("{}-byte messageDigest for {}", md.as_bytes().len(), algo.name())));
        }
        if md.as_bytes() != content_digest.as_slice() {
            return Err(SigError::DigestMismatch {
                what: "signed content (messageDigest attribute)",
                algo,
                computed: content_digest,
                signed: md.as_bytes().to_vec(),
            });
        }
        // RFC 5652 5.4: the attributes are signed as a SET, not as [0].
        let head = der_walk::header(Tag::Set, raw.value.len())?;
        Ok(algo.digest_parts(&[&head, raw.value]))
    }

    /// pkcs7_verify_sig_chain: from the signer, follow issuers carried in
    /// the message, checking each link's signature, until a self-signed
    /// certificate, a missing issuer or a loop. Indices into `certs`.
    fn chain_from(&self, signer: usize) -> Result<Vec<usize>, SigError> {
        let mut chain = Vec::from([signer]);
        let mut at = signer;
        loop {
            let c = &self.certs[at];
            if c.self_signed() {
                return Ok(chain);
            }
            let Some(up) = self.certs.iter().position(|p| c.names_issuer(p) && !core::ptr::eq(p, c)) else {
                return Ok(chain);
            };
            if chain.contains(&up) {
                return Ok(chain); // a loop: stop, as Linux
            }
            match c.verify_issued_by(&self.certs[up]) {
                Ok(()) => {}
                // Unsupported crypto prunes the chain here (Linux).
                Err(SigError::Unsupported(_)) => return Ok(chain),
                Err(e) => return Err(e),
            }
            chain.push(up);
            at = up;
        }
    }

    /// pkcs7_validate_trust_one: where the chain meets the keyring.
    fn trust(
        &self,
        s: &Signer<'_>,
        algo: HashAlgo,
        digest: &[u8],
        chain: &[usize],
        keyring: &Keyring,
        name: &str,
    ) -> Result<String, SigError> {
        for (n, &c) in chain.iter().enumerate() {
            let cert = &self.certs[c];
            if let Some(k) = keyring.find(|k| k.same_id(cert)) {
                keyring.check_blacklist(k)?;
                // The trusted copy must verify what the message's copy signed.
                match n {
                    0 => s.verify_with(k, algo, digest)?,
                    _ => self.certs[chain[n - 1]].verify_issued_by(k)?,
                }
                return Ok(k.label());
            }
            if cert.self_signed() {
                return Err(SigError::NoTrustedKey {
                    signer: name.into(),
                    top: format!("{} (self-signed, not in the keyring)", cert.label()),
                    keyring: keyring.name(),
                });
            }
        }
        if let Some(&last) = chain.last() {
            let top = &self.certs[last];
            if let Some(k) = keyring.find(|k| top.names_issuer(k)) {
                keyring.check_blacklist(k)?;
                top.verify_issued_by(k)?;
                return Ok(k.label());
            }
            return Err(SigError::NoTrustedKey {
                signer: name.into(),
                top: format!("{} (issuer {})", top.label(), top.issuer()),
                keyring: keyring.name(),
            });
        }
        if let Some(k) = keyring.find(|k| s.identifies(k)) {
            keyring.check_blacklist(k)?;
            s.verify_with(k, algo, digest)?;
            return Ok(k.label());
        }
        Err(SigError::NoTrustedKey {
            signer: name.into(),
            top: format!("{} (no certificate for it in the message)", s.id_text()),
            keyring: keyring.name(),
        })
    }
}

impl<'a> Signer<'a> {
    fn parse(t: Tlv<'a>) -> Result<Signer<'a>, SigError> {
        let info = SignerInfo::from_der(t.whole).map_err(|e| SigError::bad_message(format_args!("SignerInfo: {e}")))?;
        let raw_attrs = der_walk::all(t.value)?.into_iter().find(|f| f.tag == ctx(0));
        Ok(Signer { info, raw_attrs })
    }

    fn identifies(&self, c: &Cert) -> bool {
        match &self.info.sid {
            SignerIdentifier::IssuerAndSerialNumber(is) => c.has_issuer_serial(&is.issuer, is.serial_number.as_bytes()),
            SignerIdentifier::SubjectKeyIdentifier(k) => c.skid.as_deref() == Some(k.0.as_bytes()),
        }
    }

    fn id_text(&self) -> String {
        match &self.info.sid {
            SignerIdentifier::IssuerAndSerialNumber(is) => {
                format!("issuer {} serial {}", is.issuer, crate::hash::hex(is.serial_number.as_bytes()))
            }
            SignerIdentifier::SubjectKeyIdentifier(k) => format!("key id {}", crate::hash::hex(k.0.as_bytes())),
        }
    }

    fn verify_with(&self, key: &Cert, algo: HashAlgo, digest: &[u8]) -> Result<(), SigError> {
        key.verify_digest(&self.info.signature_algorithm, algo, digest, self.info.signature.as_bytes(), || {
            "the signer info".into()
        })
    }

    /// Linux: a signingTime outside the signer certificate's validity is EKEYREJECTED.
    fn check_signing_time(&self, signer: &Cert) -> Result<(), SigError> {
        let Some(attrs) = &self.info.signed_attrs else { return Ok(()) };
        let Some(a) = attrs.iter().find(|a| a.oid == oid::SIGNING_TIME) else { return Ok(()) };
        let Some(v) = a.values.iter().next() else { return Ok(()) };
        let t: Time = v.decode_as().map_err(|e| SigError::bad_message(format_args!("signingTime: {e}")))?;
        let at = t.to_unix_duration().as_secs();
        let (from, to) = signer.validity_secs();
        if at < from || at > to {
            return Err(SigError::BadSignature {
                what: format!("a message signed at {t}, outside the signer certificate's validity"),
                key: signer.label(),
            });
        }
        Ok(())
    }
}
