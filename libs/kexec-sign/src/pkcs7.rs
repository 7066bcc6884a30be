//! Building PKCS#7 SignedData (RFC 2315 / 5652 version 1, one signer
//! identified by issuer and serial number), the way the two reference
//! signers write it:
//!
//! - Authenticode (sbsign): the SpcIndirectDataContent is encapsulated,
//!   signed attributes are contentType and messageDigest (no signingTime,
//!   so the output is reproducible), the signer's certificate is carried.
//! - Appended / module (scripts/sign-file): detached pkcs7-data, no signed
//!   attributes (Linux refuses module signatures that have them), the
//!   signature directly over the payload's digest.

use anyhow::{anyhow, Result};
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignatureValue, SignedData, SignerIdentifier, SignerInfo, SignerInfos};
use der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode};
use kexec_sig::{oid, HashAlgo};
use x509_cert::attr::{Attribute, AttributeValue};
use x509_cert::Certificate;

use crate::cert::Identity;

/// Who signs, with what, and which certificates go in the message.
#[derive(Clone)]
pub struct Signer {
    /// The signing key and its certificate.
    pub identity: Identity,
    /// Further certificates to carry (intermediates), DER.
    pub chain: Vec<Vec<u8>>,
    /// The digest algorithm.
    pub hash: HashAlgo,
    /// Carry the signer's certificate (and `chain`) in the message.
    /// sign-file leaves them out (the kernel has the key); sbsign puts them in.
    pub include_certs: bool,
}

/// What the message signs.
pub enum Content<'a> {
    /// Authenticode: the DER SpcIndirectDataContent, encapsulated.
    Authenticode(&'a [u8]),
    /// Detached pkcs7-data over these bytes.
    Detached(&'a [u8]),
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute> {
    let values: SetOfVec<AttributeValue> = SetOfVec::try_from(vec![value])?;
    Ok(Attribute { oid, values })
}

impl Signer {
    /// The DER ContentInfo(SignedData).
    pub fn sign(&self, content: Content<'_>) -> Result<Vec<u8>> {
        let cert = Certificate::from_der(&self.identity.cert)?;
        let digest_alg = crate::key::alg(self.hash.oid(), true);
        let (eci, signed_attrs, to_sign) = match content {
            Content::Authenticode(idc) => {
                // Authenticode digests the content's value, without the
                // SEQUENCE's tag and length (as verify_pefile.c checks it).
                let value = der::asn1::AnyRef::from_der(idc).map_err(|e| anyhow!("SpcIndirectDataContent: {e}"))?.value();
                let md = OctetString::new(self.hash.digest(value))?;
                let attrs = SetOfVec::try_from(vec![
                    attribute(oid::CONTENT_TYPE, Any::encode_from(&oid::SPC_INDIRECT_DATA)?)?,
                    attribute(oid::MESSAGE_DIGEST, Any::encode_from(&md)?)?,
                ])?;
                // RFC 5652 5.4: signed as a SET OF, the [0] tag replaced.
                let der = attrs.to_der()?;
                let eci = EncapsulatedContentInfo { econtent_type: oid::SPC_INDIRECT_DATA, econtent: Some(Any::from_der(idc)?) };
                (eci, Some(attrs), self.hash.digest(&der))
            }
            Content::Detached(data) => {
                let eci = EncapsulatedContentInfo { econtent_type: oid::DATA, econtent: None };
                (eci, None, self.hash.digest(data))
            }
        };
        let signature = self.identity.key.sign_digest(self.hash, &to_sign)?;
        let sid = SignerIdentifier::IssuerAndSerialNumber(cms::cert::IssuerAndSerialNumber {
            issuer: cert.tbs_certificate().issuer().clone(),
            serial_number: cert.tbs_certificate().serial_number().clone(),
        });
        let info = SignerInfo {
            version: CmsVersion::V1,
            sid,
            digest_alg: digest_alg.clone(),
            signed_attrs,
            signature_algorithm: self.identity.key.cms_signature_algorithm(self.hash),
            signature: SignatureValue::new(signature)?,
            unsigned_attrs: None,
        };
        let certificates = if self.include_certs {
            let mut all = vec![CertificateChoices::Certificate(cert)];
            for c in &self.chain {
                all.push(CertificateChoices::Certificate(Certificate::from_der(c)?));
            }
            Some(CertificateSet(SetOfVec::try_from(all)?))
        } else {
            None
        };
        let sd = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![digest_alg])?,
            encap_content_info: eci,
            certificates,
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![info])?),
        };
        let ci = ContentInfo { content_type: oid::SIGNED_DATA, content: Any::encode_from(&sd)? };
        Ok(ci.to_der()?)
    }
}
