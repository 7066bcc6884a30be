//! Authenticode's signed content (crypto/asymmetric_keys/mscode.asn1):
//!
//! ```text
//! SpcIndirectDataContent ::= SEQUENCE {
//!     data           SpcAttributeTypeAndOptionalValue,  -- SPC_PE_IMAGE_DATAOBJ
//!     messageDigest  DigestInfo }                       -- the image's digest
//! ```
//!
//! One set of types for both directions: the verifier decodes them, xtask's
//! signer encodes them.

use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Decode, Sequence};
use spki::AlgorithmIdentifierOwned;

use crate::{oid, HashAlgo, SigError};

/// SpcAttributeTypeAndOptionalValue.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SpcAttributeTypeAndOptionalValue {
    /// SPC_PE_IMAGE_DATAOBJ for a PE image.
    pub value_type: ObjectIdentifier,
    /// SpcPeImageData (not interpreted, as Linux).
    pub value: Option<Any>,
}

/// DigestInfo.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct DigestInfo {
    /// The hash.
    pub digest_algorithm: AlgorithmIdentifierOwned,
    /// The image digest.
    pub digest: OctetString,
}

/// SpcIndirectDataContent.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SpcIndirectDataContent {
    /// What is signed.
    pub data: SpcAttributeTypeAndOptionalValue,
    /// Its digest.
    pub message_digest: DigestInfo,
}

/// SpcPeImageData as sbsign writes it: flags = empty BIT STRING, file =
/// SpcLink.file = SpcString.unicode "<<<Obsolete>>>" (BMPString). The
/// content never matters to a verifier; sbverify expects something there.
pub const SPC_PE_IMAGE_DATA_SBSIGN: &[u8] = &[
    0x30, 0x25, 0x03, 0x01, 0x00, 0xa0, 0x20, 0xa2, 0x1e, 0x80, 0x1c, 0x00, b'<', 0x00, b'<',
    0x00, b'<', 0x00, b'O', 0x00, b'b', 0x00, b's', 0x00, b'o', 0x00, b'l', 0x00, b'e', 0x00,
    b't', 0x00, b'e', 0x00, b'>', 0x00, b'>', 0x00, b'>',
];

/// The image digest Authenticode promises (mscode_parse): EBADMSG for a
/// malformed structure or a data type other than a PE image, ENOPKG for an
/// unsupported hash, EBADMSG if the digest length does not fit the hash.
pub fn parse(content_der: &[u8]) -> Result<(HashAlgo, alloc::vec::Vec<u8>), SigError> {
    let idc = SpcIndirectDataContent::from_der(content_der)
        .map_err(|e| SigError::bad_message(format_args!("SpcIndirectDataContent: {e}")))?;
    if idc.data.value_type != oid::SPC_PE_IMAGE_DATA {
        return Err(SigError::BadMessage(alloc::format!(
            "SpcIndirectDataContent type {} is not a PE image",
            idc.data.value_type
        )));
    }
    let algo = HashAlgo::from_oid(&idc.message_digest.digest_algorithm.oid)?;
    let digest = idc.message_digest.digest.as_bytes().to_vec();
    if digest.len() != algo.output_len() {
        return Err(SigError::BadMessage(alloc::format!(
            "{}-byte digest for {}",
            digest.len(),
            algo.name()
        )));
    }
    Ok((algo, digest))
}
