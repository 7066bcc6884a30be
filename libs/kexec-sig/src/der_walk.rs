//! A minimal DER TLV walker: the PKCS#7 parts whose exact bytes matter
//! (the signed attributes are signed as they appear, certificates are
//! fingerprinted as they appear), which the typed decoders would re-sort.

use alloc::vec::Vec;

use der::{Decode, Header, Reader, SliceReader, Tag};

use crate::SigError;

/// One element: its tag, its whole encoding, and its contents.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    /// The tag.
    pub tag: Tag,
    /// The whole TLV.
    pub whole: &'a [u8],
    /// The contents.
    pub value: &'a [u8],
}

fn bad(e: der::Error) -> SigError {
    SigError::bad_message(format_args!("DER: {e}"))
}

/// The first element of `bytes` (the rest is ignored).
pub(crate) fn first(bytes: &[u8]) -> Result<Tlv<'_>, SigError> {
    let mut r = SliceReader::new(bytes).map_err(bad)?;
    let h = Header::decode(&mut r).map_err(bad)?;
    let hlen = usize::try_from(r.position()).map_err(|_| SigError::BadMessage("DER header".into()))?;
    let vlen = usize::try_from(h.length()).map_err(|_| SigError::BadMessage("DER length".into()))?;
    let end = hlen.checked_add(vlen).filter(|&e| e <= bytes.len()).ok_or_else(|| {
        SigError::BadMessage(alloc::format!("DER element of {vlen} bytes runs past its container"))
    })?;
    Ok(Tlv {
        tag: h.tag(),
        whole: &bytes[..end],
        value: &bytes[hlen..end],
    })
}

/// Every element of `bytes`, which must be exactly a sequence of elements.
pub(crate) fn all(mut bytes: &[u8]) -> Result<Vec<Tlv<'_>>, SigError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let t = first(bytes)?;
        bytes = &bytes[t.whole.len()..];
        out.push(t);
    }
    Ok(out)
}

/// The header for `len` bytes of contents under `tag`.
pub(crate) fn header(tag: Tag, len: usize) -> Result<Vec<u8>, SigError> {
    use der::Encode;
    let l = der::Length::try_from(len).map_err(bad)?;
    Header::new(tag, l).to_der().map_err(bad)
}
