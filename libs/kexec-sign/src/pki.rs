//! The project's test PKI, generated reproducibly: the same seed gives the
//! same keys and certificates on every machine, so builds that embed the
//! test CA are reproducible and nothing secret is committed. Written to
//! target/keys/ by xtask; never a key to trust outside tests.

use std::path::Path;

use anyhow::{Context, Result};
use kexec_sig::HashAlgo;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::cert::{issue, CertSpec, Identity};
use crate::key::{KeyKind, SigningKey};

/// The test CA's subject.
pub const TEST_CA: &str = "CN=kexos test CA,O=kexos";
/// The test signer's subject.
pub const TEST_SIGNER: &str = "CN=kexos test signer,O=kexos";
/// The seed of the default test PKI.
const TEST_SEED: u64 = 0x6b65_786f_735f_7069; // "kexos_pi"

/// A deterministic RNG for key generation.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A CA's certificate and a code-signing identity it issued. The CA's key
/// is dropped after issuing: nothing else is ever signed with it.
#[derive(Clone)]
pub struct TestPki {
    /// The root's certificate (self-signed), DER.
    pub ca: Vec<u8>,
    /// The signer.
    pub signer: Identity,
}

/// A self-signed CA.
pub fn root(rng: &mut ChaCha20Rng, kind: KeyKind, subject: &str, hash: HashAlgo) -> Result<Identity> {
    let key = SigningKey::generate(kind, rng)?;
    let cert = issue(&CertSpec { subject, serial: 1, ca: true, hash }, &key, None)?;
    Ok(Identity { key, cert })
}

/// A certificate issued by `issuer`: an intermediate CA or a signer.
pub fn child(rng: &mut ChaCha20Rng, issuer: &Identity, kind: KeyKind, spec: &CertSpec<'_>) -> Result<Identity> {
    let key = SigningKey::generate(kind, rng)?;
    let cert = issue(spec, &key, Some(issuer))?;
    Ok(Identity { key, cert })
}

impl TestPki {
    /// The default test PKI: RSA-2048 CA and signer, SHA-256.
    pub fn generate() -> Result<TestPki> {
        let mut r = rng(TEST_SEED);
        let ca = root(&mut r, KeyKind::Rsa(2048), TEST_CA, HashAlgo::Sha256)?;
        let spec = CertSpec { subject: TEST_SIGNER, serial: 2, ca: false, hash: HashAlgo::Sha256 };
        let signer = child(&mut r, &ca, KeyKind::Rsa(2048), &spec)?;
        Ok(TestPki { ca: ca.cert, signer })
    }

    /// Load the PKI from `dir` if it is there and whole, else generate and
    /// write it: ca.der, ca.pem, signer.der, signer.pem, signer.key.pem.
    pub fn load_or_generate(dir: &Path) -> Result<TestPki> {
        if let Ok(p) = TestPki::load(dir) {
            return Ok(p);
        }
        let p = TestPki::generate()?;
        p.write(dir)?;
        Ok(p)
    }

    fn load(dir: &Path) -> Result<TestPki> {
        let read = |n: &str| std::fs::read(dir.join(n)).with_context(|| format!("{}", dir.join(n).display()));
        let ca_cert = read("ca.der")?;
        let signer_cert = read("signer.der")?;
        let key = SigningKey::from_pem_file(&dir.join("signer.key.pem"))?;
        kexec_sig::Cert::from_der(&ca_cert)?;
        kexec_sig::Cert::from_der(&signer_cert)?;
        Ok(TestPki { ca: ca_cert, signer: Identity { key, cert: signer_cert } })
    }

    /// Write the certificates (DER and PEM) and the signer's key (PKCS#8).
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let w = |n: &str, b: &[u8]| std::fs::write(dir.join(n), b).with_context(|| format!("writing {}", dir.join(n).display()));
        w("ca.der", &self.ca)?;
        w("ca.pem", cert_pem(&self.ca)?.as_bytes())?;
        w("signer.der", &self.signer.cert)?;
        w("signer.pem", cert_pem(&self.signer.cert)?.as_bytes())?;
        w("signer.key.pem", self.signer.key.to_pkcs8_pem()?.as_bytes())
    }
}

/// A certificate as PEM.
pub fn cert_pem(der: &[u8]) -> Result<String> {
    Ok(der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)?)
}
