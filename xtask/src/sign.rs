//! `cargo xtask sign` and the signed kexos images every build makes: the
//! reproducible test PKI in target/keys/test/, and kexos.bzImage and
//! kexos.elf signed with its key (target/images/kexos.signed.{bzImage,elf}).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use kexec_sig::HashAlgo;
use kexec_sign::pki::TestPki;
use kexec_sign::{Format, Identity, Signer, SigningKey};

use crate::cli::Opts;
use crate::keys::read_certs;
use crate::Xtask;

/// The images `build` leaves in target/images/ besides kexos.elf.
pub(crate) struct KexosImages {
    /// kexos.bzImage, unsigned (the one in the default initramfs).
    pub(crate) bzimage: PathBuf,
    /// Both signed with the test key.
    pub(crate) signed_bzimage: PathBuf,
    pub(crate) signed_elf: PathBuf,
}

fn hash_named(name: Option<&str>) -> Result<HashAlgo> {
    Ok(match name.unwrap_or("sha256") {
        "sha256" => HashAlgo::Sha256,
        "sha384" => HashAlgo::Sha384,
        "sha512" => HashAlgo::Sha512,
        h => bail!("--hash {h}: sha256, sha384 or sha512 (Linux refuses SHA-1 for kexec)"),
    })
}

impl Xtask {
    /// The test CA and signer, generated on first use (same bytes on every machine).
    pub(crate) fn test_pki(&self) -> Result<TestPki> {
        let dir = self.target("keys").join("test");
        TestPki::load_or_generate(&dir).with_context(|| format!("the test PKI in {}", dir.display()))
    }

    /// The test CA's certificate file (DER), the default trusted key.
    pub(crate) fn test_ca(&self) -> Result<PathBuf> {
        self.test_pki()?;
        Ok(self.target("keys").join("test").join("ca.der"))
    }

    pub(crate) fn test_signer(&self) -> Result<Signer> {
        let pki = self.test_pki()?;
        Ok(Signer { identity: pki.signer, chain: vec![], hash: HashAlgo::Sha256, include_certs: true })
    }

    /// kexos.bzImage from the stripped kernel, and both images signed.
    pub(crate) fn kexos_images(&self, stripped: &Path, images: &Path) -> Result<KexosImages> {
        let bzimage = images.join("kexos.bzImage");
        boot::bzimage::build(stripped, &bzimage)?;
        let signer = self.test_signer()?;
        let out = KexosImages {
            signed_bzimage: images.join("kexos.signed.bzImage"),
            signed_elf: images.join("kexos.signed.elf"),
            bzimage,
        };
        for (from, to) in [(&out.bzimage, &out.signed_bzimage), (&stripped.to_path_buf(), &out.signed_elf)] {
            let data = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
            boot::write_if_changed(to, &kexec_sign::sign(&data, &signer)?)?;
        }
        Ok(out)
    }

    /// `cargo xtask sign [--key K --cert C] [--hash H] [--no-certs] IN OUT`.
    pub(crate) fn sign_cmd(&self, o: &Opts) -> Result<ExitCode> {
        let started = Instant::now();
        let (input, output) = (Path::new(&o.positional[0]), Path::new(&o.positional[1]));
        let identity = match (&o.key, &o.cert) {
            (Some(k), Some(c)) => {
                let certs = read_certs(c)?;
                let cert = certs.into_iter().next().with_context(|| format!("{}: no certificate", c.display()))?;
                Identity { key: SigningKey::from_pem_file(k)?, cert }
            }
            _ => self.test_pki()?.signer,
        };
        let signer = Signer { identity, chain: vec![], hash: hash_named(o.hash.as_deref())?, include_certs: !o.no_certs };
        let data = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
        let format = kexec_sign::format_of(&data);
        let signed = kexec_sign::sign(&data, &signer).with_context(|| format!("signing {}", input.display()))?;
        std::fs::write(output, &signed).with_context(|| format!("writing {}", output.display()))?;
        let cert = kexec_sig::Cert::from_der(&signer.identity.cert)?;
        eprintln!(
            "xtask: {} -> {}: {} signature ({}, {} key) by {} ({} -> {} bytes, {:.1} ms)",
            input.display(),
            output.display(),
            match format {
                Format::Authenticode => "Authenticode",
                Format::Appended => "appended PKCS#7",
            },
            signer.hash.name(),
            signer.identity.key.describe(),
            cert.label(),
            data.len(),
            signed.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(ExitCode::SUCCESS)
    }
}
