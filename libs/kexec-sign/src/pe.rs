//! Authenticode-signing a PE/COFF image in the layout sbsign writes: the
//! image padded to 8 bytes, one WIN_CERTIFICATE (revision 2.0, PKCS
//! signed data) appended at the end, its dwLength the exact wrapper
//! length, the certificate-table entry's size rounded up to 8, and the
//! PE checksum recomputed over the result.

use anyhow::{bail, Result};
use der::Encode;
use kexec_sig::mscode::{DigestInfo, SpcAttributeTypeAndOptionalValue, SpcIndirectDataContent, SPC_PE_IMAGE_DATA_SBSIGN};
use kexec_sig::pefile::{PeFile, CERT_DIRENT_INDEX, CERT_TABLE_ALIGN, WIN_CERT_HDR_SIZE, WIN_CERT_REVISION_2_0, WIN_CERT_TYPE_PKCS_SIGNED_DATA};
use kexec_sig::{oid, HashAlgo};

use crate::pkcs7::{Content, Signer};

/// Where dwLength may end: sbsign's exact length, or pesign's padded one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrapperLength {
    /// dwLength = 8 + the DER length; only the directory entry is rounded (sbsign).
    Exact,
    /// dwLength = the rounded size too (pesign).
    Padded,
}

fn align_up(n: usize, a: usize) -> usize {
    n.div_ceil(a) * a
}

/// The SpcIndirectDataContent for an image digest, DER.
pub fn indirect_data_content(hash: HashAlgo, digest: &[u8]) -> Result<Vec<u8>> {
    let idc = SpcIndirectDataContent {
        data: SpcAttributeTypeAndOptionalValue {
            value_type: oid::SPC_PE_IMAGE_DATA,
            value: Some(der::Decode::from_der(SPC_PE_IMAGE_DATA_SBSIGN)?),
        },
        message_digest: DigestInfo {
            digest_algorithm: crate::key::alg(hash.oid(), true),
            digest: der::asn1::OctetString::new(digest)?,
        },
    };
    Ok(idc.to_der()?)
}

/// `image` signed (sbsign's layout). Refuses an image that is already signed.
pub fn sign_pe(image: &[u8], signer: &Signer) -> Result<Vec<u8>> {
    sign_pe_with(image, signer, WrapperLength::Exact)
}

/// `image` signed, with the chosen dwLength convention.
pub fn sign_pe_with(image: &[u8], signer: &Signer, wrapper: WrapperLength) -> Result<Vec<u8>> {
    let pe = PeFile::parse(image)?;
    if pe.data_dirs <= CERT_DIRENT_INDEX {
        bail!("PE: NumberOfRvaAndSizes is {}: no certificate-table entry to fill", pe.data_dirs);
    }
    if let Some((off, size)) = pe.cert_table {
        bail!("already signed (certificate table at {off:#x}, {size:#x} bytes): sign the unsigned image");
    }
    let (checksum_at, dirent_at) = (pe.checksum_offset, pe.cert_dirent_offset);
    let mut out = image.to_vec();
    out.resize(align_up(out.len(), CERT_TABLE_ALIGN), 0);
    // The digest covers the padding: it is part of the file before the table.
    let digest = PeFile::parse(&out)?.digest(signer.hash)?;
    let pkcs7 = signer.sign(Content::Authenticode(&indirect_data_content(signer.hash, &digest)?))?;
    let exact = WIN_CERT_HDR_SIZE + pkcs7.len();
    let table = align_up(exact, CERT_TABLE_ALIGN);
    let dw_length = match wrapper {
        WrapperLength::Exact => exact,
        WrapperLength::Padded => table,
    };
    let table_at = out.len();
    out.extend_from_slice(&u32::try_from(dw_length)?.to_le_bytes());
    out.extend_from_slice(&WIN_CERT_REVISION_2_0.to_le_bytes());
    out.extend_from_slice(&WIN_CERT_TYPE_PKCS_SIGNED_DATA.to_le_bytes());
    out.extend_from_slice(&pkcs7);
    out.resize(table_at + table, 0);
    out[dirent_at..dirent_at + 4].copy_from_slice(&u32::try_from(table_at)?.to_le_bytes());
    out[dirent_at + 4..dirent_at + 8].copy_from_slice(&u32::try_from(table)?.to_le_bytes());
    let sum = pe_checksum(&out, checksum_at);
    out[checksum_at..checksum_at + 4].copy_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// The PE image checksum (as imagehlp's CheckSumMappedFile): the file
/// summed as 16-bit little-endian words with end-around carry, the
/// CheckSum field itself counted as zero, plus the file length.
pub fn pe_checksum(file: &[u8], checksum_at: usize) -> u32 {
    let mut sum: u64 = 0;
    for (i, w) in file.chunks(2).enumerate() {
        let at = i * 2;
        if at >= checksum_at && at < checksum_at + 4 {
            continue;
        }
        sum += u16::from_le_bytes([w[0], *w.get(1).unwrap_or(&0)]) as u64;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let folded = (sum & 0xffff) + (sum >> 16);
    (folded as u32 & 0xffff).wrapping_add(file.len() as u32)
}
