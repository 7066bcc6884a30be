//! What an IMA measurement list must say, recomputed on the host from the files and bytes
//! measured (never with libs/ima, so that the scenarios check it independently), and the
//! lists kexos and Linux print.

use std::time::Duration;

use anyhow::{Context, Result};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use crate::{linux_markers, Machine};

/// kexos's and Linux's text list, in securityfs.
pub const LIST: &str = boot::linux::IMA_LIST;
/// kexos: each line written is one ima-buf event `kexos-event`.
pub const EVENT: &str = "/sys/kernel/security/ima/kexos_event";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The ascii line Linux prints for a measurement whose template fields are `fields`: the
/// template hash is SHA-1 over each field as `u32 length` + bytes.
fn line(template: &str, fields: &[Vec<u8>], shown: &str) -> String {
    let mut data = Vec::new();
    for f in fields {
        data.extend_from_slice(&(f.len() as u32).to_le_bytes());
        data.extend_from_slice(f);
    }
    format!("10 {} {template} {shown}", hex(&Sha1::digest(&data)))
}

/// The `d-ng` field: `sha256:` NUL, then the digest.
fn d_ng(digest: &[u8]) -> Vec<u8> {
    [b"sha256:\0".as_slice(), digest].concat()
}

/// The `n-ng` field: the name and its NUL.
fn n_ng(name: &str) -> Vec<u8> {
    [name.as_bytes(), b"\0"].concat()
}

/// The ima-ng line of a file measured with SHA-256 `digest` under `path`.
pub fn ima_ng(digest: &[u8], path: &str) -> String {
    line("ima-ng", &[d_ng(digest), n_ng(path)], &format!("sha256:{} {path}", hex(digest)))
}

/// The ima-ng line of `path` whose contents are `bytes`.
pub fn ima_ng_file(bytes: &[u8], path: &str) -> String {
    ima_ng(&Sha256::digest(bytes), path)
}

/// The boot_aggregate line without a TPM (a zero SHA-256 digest), kexos's and Linux's.
pub fn boot_aggregate() -> String {
    ima_ng(&[0; 32], "boot_aggregate")
}

/// The ima-buf line of event `event` holding `bytes`.
pub fn ima_buf(event: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    line(
        "ima-buf",
        &[d_ng(&digest), n_ng(event), bytes.to_vec()],
        &format!("sha256:{} {event} {}", hex(&digest), hex(bytes)),
    )
}

/// The measurement lines of kexos's `cat LIST` (kernel log lines dropped).
pub fn measurements(m: &mut Machine) -> Result<Vec<String>> {
    let out = m.run(&format!("cat {LIST}"))?;
    Ok(out.lines().filter(|l| l.starts_with("10 ")).map(String::from).collect())
}

/// The list a Linux fixture's [`boot::linux::ima_script`] prints: waits for its config lines
/// (every symbol of `ImaLinux::REQUIRED` must be `=y`), then returns the measurement lines
/// between its markers (`cat` must have succeeded).
pub fn linux_measurements(m: &mut Machine, timeout: Duration) -> Result<Vec<String>> {
    let text = m.expect(linux_markers::IMA_BEGIN, timeout)?;
    let config: String = text
        .lines()
        .filter_map(|l| l.split(linux_markers::CONFIG).nth(1))
        .map(|l| format!("{l}\n"))
        .collect();
    let missing = boot::linux::ImaLinux::missing_symbols(&config);
    m.check(missing.is_empty(), format_args!("the running Linux lacks CONFIG_{missing:?}"))?;
    let list = m.expect(linux_markers::IMA_END, timeout)?;
    let status = m.expect("\n", timeout)?;
    m.check(status.trim() == "0", format_args!("`cat {LIST}` under Linux exited with {status}"))?;
    let lines = list
        .lines()
        .filter(|l| l.starts_with("10 "))
        .map(String::from)
        .collect::<Vec<_>>();
    lines.first().context("Linux's measurement list is empty")?;
    Ok(lines)
}
