//! The kernel's builtin keyring, for `cargo xtask build`: `--trusted-cert`
//! (default: the reproducible test CA, see sign.rs), `--blacklist` and
//! `--sig-enforce` become the environment kernel/build.rs reads.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cli::Opts;
use crate::Xtask;

/// Certificates from a PEM (one or more CERTIFICATE blocks) or DER file.
pub(crate) fn read_certs(path: &Path) -> Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&data);
    let certs = if text.contains("-----BEGIN CERTIFICATE-----") {
        let mut out = Vec::new();
        for block in text.split("-----BEGIN CERTIFICATE-----").skip(1) {
            let pem = format!("-----BEGIN CERTIFICATE-----{}", block.split("-----END CERTIFICATE-----").next().unwrap_or(""))
                + "-----END CERTIFICATE-----\n";
            let (_, der) = pem_rfc7468::decode_vec(pem.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: bad PEM certificate: {e}", path.display()))?;
            out.push(der);
        }
        out
    } else {
        vec![data]
    };
    for der in &certs {
        kexec_sig::Cert::from_der(der).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(certs)
}

/// The kernel build's keyring environment (see kernel/build.rs).
pub(crate) struct KeyringEnv {
    pub(crate) trusted: Vec<PathBuf>,
    pub(crate) blacklist: Vec<String>,
    pub(crate) sig_enforce: bool,
}

impl KeyringEnv {
    pub(crate) fn apply(&self, cmd: &mut std::process::Command) {
        let paths: Vec<String> = self.trusted.iter().map(|p| p.display().to_string()).collect();
        cmd.env("KEXOS_TRUSTED_CERTS", paths.join("\n"));
        cmd.env("KEXOS_BLACKLIST", self.blacklist.join("\n"));
        cmd.env("KEXOS_SIG_ENFORCE", if self.sig_enforce { "1" } else { "0" });
    }
}

impl Xtask {
    /// `extra` certificates are trusted besides `--trusted-cert`'s. Every
    /// certificate is written as DER under target/keys/trusted/ (the kernel
    /// embeds DER).
    pub(crate) fn keyring_env(&self, o: &Opts, extra: &[PathBuf]) -> Result<KeyringEnv> {
        let mut sources = o.trusted_certs.clone();
        if sources.is_empty() {
            sources.push(self.test_ca()?);
        }
        sources.extend(extra.iter().cloned());
        let dir = self.target("keys").join("trusted");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let mut trusted = Vec::new();
        for src in &sources {
            let stem = src.file_stem().and_then(|s| s.to_str()).unwrap_or("cert").to_string();
            for (i, der) in read_certs(src)?.into_iter().enumerate() {
                let p = dir.join(format!("{:02}-{stem}-{i}.der", trusted.len()));
                std::fs::write(&p, der)?;
                trusted.push(p);
            }
        }
        Ok(KeyringEnv { trusted, blacklist: o.blacklist.clone(), sig_enforce: o.sig_enforce })
    }
}
