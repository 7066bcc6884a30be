//! Issuing X.509 certificates for test PKIs, with x509-cert's builder:
//! a CA profile (basicConstraints CA, keyCertSign) and a code-signing
//! leaf profile (digitalSignature, extKeyUsage codeSigning), both with
//! SKID/AKID so chains can be walked either way (pkcs7_verify.c does).

use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, Result};
use der::asn1::BitString;
use der::{Decode, Encode};
use kexec_sig::HashAlgo;
use spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey, SignatureBitStringEncoding, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::TbsCertificate;

use crate::key::SigningKey;

/// Fixed validity (2020-01-01 to 2100-01-01): certificates are byte-for-byte
/// reproducible, and nothing in kexec checks dates against a clock.
const NOT_BEFORE_SECS: u64 = 1_577_836_800;
const NOT_AFTER_SECS: u64 = 4_102_444_800;

/// A certificate and its key.
#[derive(Clone)]
pub struct Identity {
    /// The private key.
    pub key: SigningKey,
    /// The certificate, DER.
    pub cert: Vec<u8>,
}

/// What to put in a new certificate.
pub struct CertSpec<'a> {
    /// Subject, e.g. "CN=kexos test CA".
    pub subject: &'a str,
    /// Serial number.
    pub serial: u32,
    /// A CA (may sign certificates) or a code-signing leaf.
    pub ca: bool,
    /// The certificate's own signature hash.
    pub hash: HashAlgo,
}

struct Profile {
    subject: Name,
    issuer: Option<Name>,
    ca: bool,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut ext = Vec::new();
        let skid = SubjectKeyIdentifier::try_from(spk)?;
        let akid = SubjectKeyIdentifier::try_from(issuer_spk)?;
        ext.push(skid.to_extension(tbs.subject(), &ext)?);
        let akid = AuthorityKeyIdentifier { key_identifier: Some(akid.0), ..Default::default() };
        ext.push(akid.to_extension(tbs.subject(), &ext)?);
        let bc = BasicConstraints { ca: self.ca, path_len_constraint: None };
        ext.push(bc.to_extension(tbs.subject(), &ext)?);
        let usage = if self.ca { KeyUsages::KeyCertSign | KeyUsages::CRLSign | KeyUsages::DigitalSignature } else { KeyUsages::DigitalSignature.into() };
        ext.push(KeyUsage(usage).to_extension(tbs.subject(), &ext)?);
        if !self.ca {
            let eku = ExtendedKeyUsage(vec![kexec_sig::oid::KP_CODE_SIGNING]);
            ext.push(eku.to_extension(tbs.subject(), &ext)?);
        }
        Ok(ext)
    }
}

/// The builder's view of a signer: our key, one hash.
struct CertSigner<'a> {
    key: &'a SigningKey,
    hash: HashAlgo,
    public: PublicKey,
}

#[derive(Clone, Debug)]
struct PublicKey(SubjectPublicKeyInfoOwned);

impl EncodePublicKey for PublicKey {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::try_from(self.0.to_der()?)?)
    }
}

struct RawSignature(Vec<u8>);

impl SignatureBitStringEncoding for RawSignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
}

impl signature::Keypair for CertSigner<'_> {
    type VerifyingKey = PublicKey;
    fn verifying_key(&self) -> PublicKey {
        self.public.clone()
    }
}

impl DynSignatureAlgorithmIdentifier for CertSigner<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.key.x509_signature_algorithm(self.hash))
    }
}

impl signature::Signer<RawSignature> for CertSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> Result<RawSignature, signature::Error> {
        let digest = self.hash.digest(msg);
        self.key.sign_digest(self.hash, &digest).map(RawSignature).map_err(|_| signature::Error::new())
    }
}

/// Issue a certificate for `subject_key`, signed by `issuer` (None: self-signed).
pub fn issue(spec: &CertSpec<'_>, subject_key: &SigningKey, issuer: Option<&Identity>) -> Result<Vec<u8>> {
    let subject = Name::from_str(spec.subject).map_err(|e| anyhow!("subject {:?}: {e}", spec.subject))?;
    let issuer_name = match issuer {
        Some(i) => Some(x509_cert::Certificate::from_der(&i.cert)?.tbs_certificate().subject().clone()),
        None => None,
    };
    let signing_key = issuer.map_or(subject_key, |i| &i.key);
    let signer = CertSigner { key: signing_key, hash: spec.hash, public: PublicKey(signing_key.public_key()?) };
    let validity = Validity::new(
        Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(NOT_BEFORE_SECS))?,
        Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(NOT_AFTER_SECS))?,
    );
    let profile = Profile { subject, issuer: issuer_name, ca: spec.ca };
    let builder = CertificateBuilder::new(profile, SerialNumber::from(spec.serial), validity, subject_key.public_key()?)
        .map_err(|e| anyhow!("certificate builder: {e}"))?;
    let cert = builder.build::<_, RawSignature>(&signer).map_err(|e| anyhow!("issuing {}: {e}", spec.subject))?;
    Ok(cert.to_der()?)
}
