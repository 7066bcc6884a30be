//! [`PurgatoryError`]: what is wrong with the purgatory object or a symbol
//! access, with Linux's errno.

use alloc::string::String;
use core::fmt;

use abi::Errno;

/// What is wrong with the purgatory object or a symbol access.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PurgatoryError {
    /// No purgatory object at all (EINVAL, as Linux for kexec_purgatory_size 0).
    Empty,
    /// goblin could not parse it (ENOEXEC).
    Parse(String),
    /// Not a little-endian ELF64 x86_64 ET_REL (ENOEXEC).
    NotRelocatable { e_type: u16, e_machine: u16 },
    /// A section's data lies outside the file, or sizes overflow (ENOEXEC).
    BadSection { index: usize },
    /// A section alignment that is not a power of two (ENOEXEC).
    BadAlign { index: usize, align: u64 },
    /// SHT_REL relocations are not supported on x86_64 (ENOEXEC).
    RelNotSupported { index: usize },
    /// A relocation section's sh_info/sh_link is invalid (ENOEXEC).
    BadRelocSection { index: usize },
    /// A relocation names a symbol index past the symbol table (ENOEXEC).
    BadSymbolIndex { index: usize },
    /// A relocation against an undefined symbol (ENOEXEC).
    UndefinedSymbol { name: String },
    /// A relocation against a common symbol (ENOEXEC).
    CommonSymbol { name: String },
    /// A symbol in a section index past the section table (ENOEXEC).
    InvalidSection { name: String, shndx: usize },
    /// A relocation type kexos does not apply (ENOEXEC).
    UnknownRelocation { r_type: u32, symbol: String },
    /// The relocated value does not fit the field (ENOEXEC).
    Overflow {
        r_type: u32,
        value: u64,
        symbol: String,
    },
    /// A relocation outside its section (ENOEXEC).
    RelocOutOfSection { section: usize, offset: u64 },
    /// e_entry is in no executable section (ENOEXEC).
    EntryNotInText { entry: u64 },
    /// Symbol access before purgatory was loaded (EINVAL).
    NotLoaded,
    /// No defined STB_GLOBAL symbol of that name (EINVAL).
    SymbolNotFound { name: String },
    /// st_size differs from the bytes given (EINVAL).
    SymbolSize {
        name: String,
        st_size: u64,
        len: usize,
    },
    /// The symbol is in a NOBITS section: nothing to get or set (EINVAL).
    SymbolInBss { name: String },
    /// The caller asked for a region digest this purgatory cannot check: a
    /// purgatory without `purgatory_flags` checks only Linux's total
    /// SHA-256 (EINVAL).
    CannotCheck { digest: &'static str },
}

impl PurgatoryError {
    /// Linux's errno.
    pub fn errno(&self) -> Errno {
        match self {
            PurgatoryError::Empty
            | PurgatoryError::NotLoaded
            | PurgatoryError::SymbolNotFound { .. }
            | PurgatoryError::SymbolSize { .. }
            | PurgatoryError::SymbolInBss { .. }
            | PurgatoryError::CannotCheck { .. } => Errno::EINVAL,
            _ => Errno::ENOEXEC,
        }
    }
}

impl fmt::Display for PurgatoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PurgatoryError::*;
        match self {
            Empty => write!(f, "no purgatory object"),
            Parse(e) => write!(f, "bad ELF: {e}"),
            NotRelocatable { e_type, e_machine } => write!(
                f,
                "not a little-endian ELF64 x86_64 ET_REL (e_type {e_type}, e_machine {e_machine})"
            ),
            BadSection { index } => write!(f, "section {index} lies outside the file"),
            BadAlign { index, align } => {
                write!(
                    f,
                    "section {index} alignment {align:#x} is not a power of two"
                )
            }
            RelNotSupported { index } => {
                write!(f, "SHT_REL section {index} is not supported on x86_64")
            }
            BadRelocSection { index } => {
                write!(f, "relocation section {index} has a bad sh_info/sh_link")
            }
            BadSymbolIndex { index } => {
                write!(f, "relocation against symbol index {index} past the table")
            }
            UndefinedSymbol { name } => write!(f, "undefined symbol: {name}"),
            CommonSymbol { name } => write!(f, "symbol '{name}' in common section"),
            InvalidSection { name, shndx } => {
                write!(f, "invalid section {shndx} for symbol {name}")
            }
            UnknownRelocation { r_type, symbol } => {
                write!(f, "unknown rela relocation: type {r_type} against {symbol}")
            }
            Overflow {
                r_type,
                value,
                symbol,
            } => write!(
                f,
                "overflow in relocation type {r_type} value {value:#x} against {symbol}"
            ),
            RelocOutOfSection { section, offset } => {
                write!(f, "relocation at {offset:#x} is outside section {section}")
            }
            EntryNotInText { entry } => {
                write!(f, "entry point {entry:#x} is in no executable section")
            }
            NotLoaded => write!(f, "purgatory is not loaded"),
            SymbolNotFound { name } => write!(f, "no global symbol {name}"),
            SymbolSize { name, st_size, len } => {
                write!(
                    f,
                    "symbol {name} size mismatch: expected {st_size} actual {len}"
                )
            }
            SymbolInBss { name } => write!(f, "symbol {name} is in a bss section"),
            CannotCheck { digest } => write!(
                f,
                "this purgatory has no purgatory_flags symbol and checks only one total SHA-256: it cannot check {digest} segment digests"
            ),
        }
    }
}
