//! PE/COFF as Authenticode sees it (crypto/asymmetric_keys/verify_pefile.c):
//! where the checksum, the certificate-table entry and the certificate
//! table are, the WIN_CERTIFICATE wrapper, and the image digest.
//!
//! Written on le-bytes rather than with goblin's PE parser: Linux's digest
//! depends on exactly which header fields it trusts (the section table is
//! found after the data directories, not through SizeOfOptionalHeader; the
//! trailing data ends `certs_size` bytes before the end of the file), and
//! each check must map to ELIBBAD at a named field, which a general parser
//! does not give. Unlike verify_pefile.c, every section's raw data is
//! bounds-checked before it is hashed.

use alloc::format;
use alloc::vec::Vec;
use core::ops::Range;

use le_bytes::{u16_at, u32_at};

use crate::{HashAlgo, SigError};

/// sizeof(struct mz_hdr).
const MZ_HDR_SIZE: usize = 64;
/// mz_hdr.peaddr (e_lfanew).
const MZ_PEADDR: usize = 0x3c;
/// sizeof(struct pe_hdr): the signature and the COFF file header.
const PE_HDR_SIZE: usize = 24;
/// pe_hdr.sections.
const PE_SECTIONS: usize = 6;
/// Optional header magics.
const PE32_MAGIC: u16 = 0x10b;
const PE32PLUS_MAGIC: u16 = 0x20b;
/// Offsets in both optional headers (PE/COFF spec 3.4).
const OPT_HEADER_SIZE: usize = 60;
const OPT_CHECKSUM: usize = 64;
/// NumberOfRvaAndSizes and the optional header's fixed size, PE32 / PE32+.
const PE32_DATA_DIRS: usize = 92;
const PE32_OPT_SIZE: usize = 96;
const PE32PLUS_DATA_DIRS: usize = 108;
const PE32PLUS_OPT_SIZE: usize = 112;
/// sizeof(struct data_dirent); the certificate table is directory 4.
const DIRENT_SIZE: usize = 8;
/// Index of the certificate-table data directory (PE/COFF spec 3.4.3).
pub const CERT_DIRENT_INDEX: usize = 4;
/// The certificate table and each WIN_CERTIFICATE in it are 8-byte
/// aligned (PE/COFF spec, "The Attribute Certificate Table").
pub const CERT_TABLE_ALIGN: usize = 8;
/// sizeof(struct section_header) and its fields.
const SECTION_SIZE: usize = 40;
/// sizeof(struct win_certificate): dwLength, wRevision, wCertificateType.
pub const WIN_CERT_HDR_SIZE: usize = 8;
/// WIN_CERT_REVISION_2_0.
pub const WIN_CERT_REVISION_2_0: u16 = 0x0200;
/// WIN_CERT_TYPE_PKCS_SIGNED_DATA.
pub const WIN_CERT_TYPE_PKCS_SIGNED_DATA: u16 = 2;

/// One section header's fields that the digest uses.
#[derive(Clone, Debug)]
struct Section {
    name: [u8; 8],
    virtual_size: u32,
    virtual_address: u32,
    raw_data_size: u32,
    data_addr: u32,
}

/// A parsed PE image (pefile_parse_binary).
#[derive(Clone, Debug)]
pub struct PeFile<'a> {
    buf: &'a [u8],
    /// Offset of the optional header's CheckSum (left out of the digest).
    pub checksum_offset: usize,
    /// Offset of the certificate-table data directory entry (left out).
    pub cert_dirent_offset: usize,
    /// SizeOfHeaders.
    pub header_size: usize,
    /// The certificate table (file offset, size), if the entry is non-zero.
    pub cert_table: Option<(usize, usize)>,
    /// NumberOfRvaAndSizes: the certificate-table entry exists only if > 4.
    pub data_dirs: usize,
    sections: Vec<Section>,
}

fn bad(what: &str) -> SigError {
    SigError::malformed(format!("PE: {what}"))
}

/// Linux's chkaddr: [x, x + s) inside [base, len).
fn in_file(base: usize, x: usize, s: usize, len: usize) -> bool {
    x >= base && s < len && x <= len - s
}

impl<'a> PeFile<'a> {
    /// Parse the headers; ELIBBAD for anything out of bounds.
    pub fn parse(buf: &'a [u8]) -> Result<PeFile<'a>, SigError> {
        let len = buf.len();
        if len < MZ_HDR_SIZE || buf[..2] != *b"MZ" {
            return Err(bad("no MZ header"));
        }
        let pe = u32_at(buf, MZ_PEADDR).ok_or_else(|| bad("no e_lfanew"))? as usize;
        if !in_file(MZ_HDR_SIZE, pe, PE_HDR_SIZE, len) || buf[pe..pe + 4] != *b"PE\0\0" {
            return Err(bad(&format!("no PE signature at e_lfanew {pe:#x}")));
        }
        let opt = pe + PE_HDR_SIZE;
        let magic = u16_at(buf, opt).ok_or_else(|| bad("no optional header"))?;
        let (dirs_field, opt_size) = match magic {
            PE32_MAGIC => (PE32_DATA_DIRS, PE32_OPT_SIZE),
            PE32PLUS_MAGIC => (PE32PLUS_DATA_DIRS, PE32PLUS_OPT_SIZE),
            m => return Err(bad(&format!("optional header magic {m:#06x}"))),
        };
        if !in_file(0, opt, opt_size, len) {
            return Err(bad("optional header past the end of the file"));
        }
        let rd32 = |off: usize| u32_at(buf, off).map(|v| v as usize).ok_or_else(|| bad("short header"));
        let header_size = rd32(opt + OPT_HEADER_SIZE)?;
        let n_dirs = rd32(opt + dirs_field)?;
        let cursor = opt + opt_size;
        if cursor >= header_size || header_size >= len {
            return Err(bad(&format!("SizeOfHeaders {header_size:#x} outside [{cursor:#x}, file size {len:#x})")));
        }
        if n_dirs > (header_size - cursor) / DIRENT_SIZE {
            return Err(bad(&format!("{n_dirs} data directories do not fit in SizeOfHeaders")));
        }
        let cert_dirent_offset = cursor + CERT_DIRENT_INDEX * DIRENT_SIZE;
        let cert_table = if n_dirs > CERT_DIRENT_INDEX {
            let (va, size) = (rd32(cert_dirent_offset)?, rd32(cert_dirent_offset + 4)?);
            if va == 0 || size == 0 {
                None
            } else if !in_file(header_size, va, size, len) {
                return Err(bad(&format!(
                    "certificate table [{va:#x}, +{size:#x}) not inside [SizeOfHeaders {header_size:#x}, file size {len:#x})"
                )));
            } else {
                Some((va, size))
            }
        } else {
            None
        };
        let secs = cursor + n_dirs * DIRENT_SIZE;
        let n_secs = u16_at(buf, pe + PE_SECTIONS).ok_or_else(|| bad("short header"))? as usize;
        if n_secs > (header_size - secs) / SECTION_SIZE {
            return Err(bad(&format!("{n_secs} section headers do not fit in SizeOfHeaders")));
        }
        let sections = (0..n_secs)
            .map(|i| Section::read(buf, secs + i * SECTION_SIZE))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("short section table"))?;
        Ok(PeFile {
            buf,
            checksum_offset: opt + OPT_CHECKSUM,
            cert_dirent_offset,
            header_size,
            cert_table,
            data_dirs: n_dirs,
            sections,
        })
    }

    /// The PKCS#7 message in the first WIN_CERTIFICATE (pefile_strip_sig_wrapper):
    /// ENODATA if unsigned, ELIBBAD for a bad wrapper, ENOTSUPP for a
    /// revision or type other than 2.0 / PKCS_SIGNED_DATA. The directory
    /// size may be the wrapper's length rounded up to 8 (sbsign) or not (pesign).
    pub fn signature(&self) -> Result<&'a [u8], SigError> {
        let (off, size) = self.cert_table.ok_or(SigError::Unsigned("no certificate table in the PE header"))?;
        if size < WIN_CERT_HDR_SIZE {
            return Err(bad("signature wrapper too short"));
        }
        let length = u32_at(self.buf, off).unwrap_or(0) as usize;
        let revision = u16_at(self.buf, off + 4).unwrap_or(0);
        let cert_type = u16_at(self.buf, off + 6).unwrap_or(0);
        if length > size {
            return Err(bad(&format!("signature wrapper length {length:#x} > certificate table size {size:#x}")));
        }
        if revision != WIN_CERT_REVISION_2_0 || cert_type != WIN_CERT_TYPE_PKCS_SIGNED_DATA {
            return Err(SigError::WrapperNotSupported { revision, cert_type });
        }
        if length < WIN_CERT_HDR_SIZE + 4 {
            return Err(SigError::Unsigned("empty WIN_CERTIFICATE"));
        }
        let pkcs7 = &self.buf[off + WIN_CERT_HDR_SIZE..off + length];
        let der_len = crate::pkcs7::outer_len(pkcs7)?;
        Ok(&pkcs7[..der_len])
    }

    /// The byte ranges the Authenticode digest covers, in hashing order
    /// (pefile_digest_pe_contents): the headers without the checksum and
    /// the certificate-table entry, every section with raw data sorted by
    /// file offset, then the rest of the file up to `certs_size` bytes
    /// before its end. ELIBBAD if a section lies outside the file or the
    /// certificate table overlaps the hashed bytes, or the image has no
    /// certificate-table entry.
    pub fn hashed_ranges(&self) -> Result<Vec<Range<usize>>, SigError> {
        // The certificate-table entry is left out of the digest, so it must
        // exist: with NumberOfRvaAndSizes <= 4 its offset may lie past
        // SizeOfHeaders. (Linux never digests such an image: it is unsigned.)
        if self.data_dirs <= CERT_DIRENT_INDEX {
            return Err(bad(&format!(
                "{} data directories: no certificate-table entry to leave out of the digest",
                self.data_dirs
            )));
        }
        let mut out = Vec::with_capacity(self.sections.len() + 4);
        out.push(0..self.checksum_offset);
        out.push(self.checksum_offset + 4..self.cert_dirent_offset);
        out.push(self.cert_dirent_offset + DIRENT_SIZE..self.header_size);
        let mut secs: Vec<&Section> = self.sections.iter().collect();
        // Linux's insertion sort is stable, so is sort_by.
        secs.sort_by(|a, b| a.canon_key().cmp(&b.canon_key()));
        let len = self.buf.len();
        let mut hashed = self.header_size;
        for s in secs.iter().filter(|s| s.raw_data_size != 0) {
            let (start, size) = (s.data_addr as usize, s.raw_data_size as usize);
            if start > len || size > len - start {
                return Err(bad(&format!(
                    "section {} raw data [{start:#x}, +{size:#x}) past the end of the file ({len:#x})",
                    s.name_str()
                )));
            }
            out.push(start..start + size);
            hashed += size;
        }
        let certs_size = self.cert_table.map_or(0, |(_, s)| s);
        if len > hashed {
            let end = len
                .checked_sub(certs_size)
                .filter(|&e| e >= hashed)
                .ok_or_else(|| bad("certificate table overlaps the section data"))?;
            out.push(hashed..end);
        }
        Ok(out)
    }

    /// The Authenticode digest of the image (pefile_digest_pe).
    pub fn digest(&self, algo: HashAlgo) -> Result<Vec<u8>, SigError> {
        let mut h = algo.hasher();
        for r in self.hashed_ranges()? {
            h.update(&self.buf[r]);
        }
        Ok(h.finish())
    }
}

impl Section {
    fn read(buf: &[u8], at: usize) -> Option<Section> {
        Some(Section {
            name: le_bytes::array(buf, at)?,
            virtual_size: u32_at(buf, at + 8)?,
            virtual_address: u32_at(buf, at + 12)?,
            raw_data_size: u32_at(buf, at + 16)?,
            data_addr: u32_at(buf, at + 20)?,
        })
    }

    /// pefile_compare_shdrs's order (the name compared as a C string).
    fn canon_key(&self) -> (u32, u32, &[u8], u32, u32) {
        let n = self.name.iter().position(|&b| b == 0).unwrap_or(8);
        (self.data_addr, self.virtual_address, &self.name[..n], self.virtual_size, self.raw_data_size)
    }

    fn name_str(&self) -> &str {
        core::str::from_utf8(self.canon_key().2).unwrap_or("?")
    }
}
