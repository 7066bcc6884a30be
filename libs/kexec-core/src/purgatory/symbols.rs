//! Purgatory symbols on a loaded [`Kimage`] (kexec_purgatory_get_set_symbol,
//! kexec_purgatory_get_symbol_addr).

use alloc::string::ToString;
use alloc::vec::Vec;

use super::{perr, GlobalSym, PurgatoryError, PurgatoryInfo, SHN_UNDEF};
use crate::error::KexecError;
use crate::kimage::Kimage;
use crate::types::PhysAddr;

impl Kimage<'_> {
    fn purgatory_find(&self, name: &str) -> Result<(&PurgatoryInfo, GlobalSym), KexecError> {
        let pi = self
            .purgatory
            .as_ref()
            .ok_or(perr(PurgatoryError::NotLoaded))?;
        let not_found = || {
            perr(PurgatoryError::SymbolNotFound {
                name: name.to_string(),
            })
        };
        let sym = pi
            .globals
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(not_found)?;
        if sym.shndx == SHN_UNDEF || sym.shndx >= pi.sections.len() {
            return Err(not_found());
        }
        Ok((pi, sym.clone()))
    }

    /// Where a purgatory symbol will be after the jump
    /// (kexec_purgatory_get_symbol_addr), NOBITS symbols included.
    pub fn purgatory_symbol_addr(&self, name: &str) -> Result<PhysAddr, KexecError> {
        let (pi, sym) = self.purgatory_find(name)?;
        Ok(PhysAddr(
            pi.sections[sym.shndx].addr.wrapping_add(sym.value),
        ))
    }

    /// Locate `len` bytes of a symbol's initial data in the purgatory buffer.
    fn purgatory_symbol_range(
        &self,
        name: &str,
        len: usize,
    ) -> Result<(usize, core::ops::Range<usize>), KexecError> {
        let (pi, sym) = self.purgatory_find(name)?;
        if sym.size != len as u64 {
            return Err(perr(PurgatoryError::SymbolSize {
                name: name.to_string(),
                st_size: sym.size,
                len,
            }));
        }
        let sec = pi.sections[sym.shndx];
        if sec.nobits {
            return Err(perr(PurgatoryError::SymbolInBss {
                name: name.to_string(),
            }));
        }
        if !sec.alloc || sym.value.checked_add(sym.size).is_none_or(|e| e > sec.size) {
            return Err(perr(PurgatoryError::SymbolNotFound {
                name: name.to_string(),
            }));
        }
        let start = (sec.offset + sym.value) as usize;
        Ok((pi.segment, start..start + len))
    }

    /// Read a purgatory symbol's bytes (kexec_purgatory_get_set_symbol, get).
    pub fn purgatory_get_symbol(&self, name: &str, len: usize) -> Result<Vec<u8>, KexecError> {
        let (seg, range) = self.purgatory_symbol_range(name, len)?;
        self.segments()
            .get(seg)
            .and_then(|s| s.buf.as_slice().get(range))
            .map(<[u8]>::to_vec)
            .ok_or(perr(PurgatoryError::SymbolNotFound {
                name: name.to_string(),
            }))
    }

    /// Read a purgatory symbol of exactly `N` bytes (a size from
    /// purgatory_abi), as an array.
    pub fn purgatory_get_symbol_array<const N: usize>(
        &self,
        name: &str,
    ) -> Result<[u8; N], KexecError> {
        let bytes = self.purgatory_get_symbol(name, N)?;
        <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
            perr(PurgatoryError::SymbolSize {
                name: name.to_string(),
                st_size: N as u64,
                len: bytes.len(),
            })
        })
    }

    /// Overwrite a purgatory symbol (kexec_purgatory_get_set_symbol, set):
    /// STB_GLOBAL, st_size == bytes.len(), not in a NOBITS section.
    pub fn purgatory_set_symbol(&mut self, name: &str, bytes: &[u8]) -> Result<(), KexecError> {
        let (seg, range) = self.purgatory_symbol_range(name, bytes.len())?;
        self.segment_mut(seg)
            .and_then(|s| s.buf_mut())
            .and_then(|b| b.get_mut(range))
            .ok_or(perr(PurgatoryError::SymbolNotFound {
                name: name.to_string(),
            }))?
            .copy_from_slice(bytes);
        Ok(())
    }
}
