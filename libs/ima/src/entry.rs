//! One measurement (struct ima_template_entry): the PCR, the template
//! hash in the SHA-1 slot, the template's name and its field data.
//!
//! Field encodings (ima_template_lib.c):
//! - `d-ng`: `"<algo>:" NUL <digest>` (ima_eventdigest_init_common),
//! - `n-ng`: the name and its NUL (ima_eventname_ng_init),
//! - `buf`: the bytes measured (ima_eventbuf_init).
//!
//! The template hash (ima_calc_field_array_hash) is SHA-1 over every
//! field as `u32 length` + data: exactly the template data as the binary
//! list writes it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// IMA's PCR (CONFIG_IMA_MEASURE_PCR_IDX).
pub const IMA_PCR: u32 = 10;
/// The template hash's size (TPM_DIGEST_SIZE, the SHA-1 slot).
pub const TPM_DIGEST_SIZE: usize = 20;

/// The built-in templates kexos writes and restores (ima_template.c
/// builtin_templates), with their field lists.
pub const TEMPLATES: &[(&str, &str)] = &[("ima-ng", "d-ng|n-ng"), ("ima-sig", "d-ng|n-ng|sig"), ("ima-buf", "d-ng|n-ng|buf")];

/// The field ids Linux 6.12 knows (ima_template.c supported_fields), for
/// template names that are a format string ("d-ng|n-ng").
pub const FIELD_IDS: &[&str] = &[
    "d", "n", "d-ng", "n-ng", "sig", "buf", "d-modsig", "modsig", "evmsig", "iuid", "igid", "imode", "xattrnames",
    "xattrlengths", "xattrvalues",
];

/// A template's field ids: a built-in's, or the name read as a format
/// (restore_template_fmt). None if a field is unknown.
pub fn template_fields(name: &str) -> Option<Vec<&str>> {
    let fmt = TEMPLATES.iter().find(|(n, _)| *n == name).map_or(name, |(_, f)| f);
    let ids: Vec<&str> = fmt.split('|').collect();
    ids.iter().all(|id| FIELD_IDS.contains(id)).then_some(ids)
}

/// One measurement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The PCR it extends.
    pub pcr: u32,
    /// SHA-1 of the template data (all zeros: a violation).
    pub template_hash: [u8; TPM_DIGEST_SIZE],
    /// Template name ("ima-ng", "ima-buf").
    pub template: String,
    /// Each field's data, without its length.
    pub fields: Vec<Vec<u8>>,
}

/// A `d-ng` field for a SHA-256 digest.
/// The file hash IMA records (SHA-256 of the contents).
pub fn file_digest(data: &[u8]) -> [u8; 32] {
    sha256::Sha256::digest(data)
}

fn digest_ng(sha256: &[u8; 32]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + 32);
    f.extend_from_slice(b"sha256:\0");
    f.extend_from_slice(sha256);
    f
}

/// An `n-ng` field.
fn name_ng(name: &str) -> Vec<u8> {
    let mut f = Vec::with_capacity(name.len() + 1);
    f.extend_from_slice(name.as_bytes());
    f.push(0);
    f
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl Entry {
    /// An entry from its fields, hashed as Linux hashes them.
    pub fn new(template: &str, fields: Vec<Vec<u8>>) -> Entry {
        let mut e = Entry { pcr: IMA_PCR, template_hash: [0; TPM_DIGEST_SIZE], template: template.into(), fields };
        e.template_hash = crate::sha1::sha1(&e.template_data());
        e
    }

    /// A file measurement, template ima-ng: its SHA-256 and its path.
    pub fn ima_ng(sha256: &[u8; 32], path: &str) -> Entry {
        Entry::new("ima-ng", alloc::vec![digest_ng(sha256), name_ng(path)])
    }

    /// Measure a file's contents, as IMA does when a kexec reads the kernel
    /// or the initramfs (ima_post_read_file, template ima-ng, SHA-256).
    pub fn file(data: &[u8], path: &str) -> Entry {
        Entry::ima_ng(&file_digest(data), path)
    }

    /// A buffer measurement, template ima-buf (process_buffer_measurement):
    /// the event name and the bytes themselves, e.g. "kexec-cmdline".
    pub fn ima_buf(event: &str, buf: &[u8]) -> Entry {
        let digest: [u8; 32] = sha256::Sha256::digest(buf);
        Entry::new("ima-buf", alloc::vec![digest_ng(&digest), name_ng(event), buf.to_vec()])
    }

    /// `boot_aggregate` without a TPM (ima_add_boot_aggregate in TPM-bypass
    /// mode): a zero SHA-256.
    pub fn boot_aggregate() -> Entry {
        Entry::ima_ng(&[0; 32], "boot_aggregate")
    }

    /// The template data: each field as `u32 length` + data.
    pub fn template_data(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.template_data_len());
        for f in &self.fields {
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    /// Length of [`Entry::template_data`].
    pub fn template_data_len(&self) -> usize {
        self.fields.iter().map(|f| 4 + f.len()).sum()
    }

    /// Length of the binary record.
    pub fn binary_len(&self) -> usize {
        4 + TPM_DIGEST_SIZE + 4 + self.template.len() + 4 + self.template_data_len()
    }

    /// Append the record as binary_runtime_measurements writes it
    /// (ima_measurements_show): pcr, template hash, name length, name,
    /// template data length, template data.
    pub fn write_binary(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.pcr.to_le_bytes());
        out.extend_from_slice(&self.template_hash);
        out.extend_from_slice(&(self.template.len() as u32).to_le_bytes());
        out.extend_from_slice(self.template.as_bytes());
        out.extend_from_slice(&(self.template_data_len() as u32).to_le_bytes());
        out.extend_from_slice(&self.template_data());
    }

    /// The ascii_runtime_measurements line, newline included
    /// (ima_ascii_measurements_show): `10 <hash> ima-ng sha256:<hex> <path>`.
    pub fn ascii(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, "{:2} {} {}", self.pcr, hex(&self.template_hash), self.template);
        let ids = template_fields(&self.template).unwrap_or_default();
        for (i, f) in self.fields.iter().enumerate() {
            s.push(' ');
            if f.is_empty() {
                continue;
            }
            match ids.get(i).copied() {
                Some("d-ng" | "d-modsig") => show_digest_ng(&mut s, f),
                Some("n-ng" | "n") => s.push_str(&String::from_utf8_lossy(f.strip_suffix(&[0]).unwrap_or(f))),
                _ => s.push_str(&hex(f)),
            }
        }
        s.push('\n');
        s
    }
}

/// `<algo>:<hex>` (ima_show_template_digest_ng).
fn show_digest_ng(s: &mut String, f: &[u8]) {
    match f.iter().position(|&b| b == 0) {
        Some(nul) => {
            s.push_str(&String::from_utf8_lossy(&f[..nul]));
            s.push_str(&hex(&f[nul + 1..]));
        }
        None => s.push_str(&hex(f)),
    }
}
