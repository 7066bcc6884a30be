//! The host-testable part of the kexos shell (`/sbin/init`).
//!
//! Everything here is pure logic over bytes and strings: no syscalls. The
//! bare-metal `init` crate feeds it console bytes and file metadata.
//!
//! - [`parse`] -- words, quotes, backslash escapes, `#` comments, `>`/`>>`.
//! - [`editor`] -- the line editor state machine (echo, backspace, ^C, ^U, ESC sequences).
//! - [`opts`] -- option parsing (`ls -la`, `uname -a`, long options with values).
//! - [`fmt`] -- `ls -l` mode strings and column layout, path joining, rc scripts.
//! - [`kexec`] -- the `kexec` builtin: options, next kernel's command line, flags, messages.
//! - [`hexdump`] -- `hexdump -C` lines, `*` squeezing, options.
//! - [`grep`] -- the streaming fixed-string searcher behind `grep -F`.
//! - [`dd`] -- dd's operands and its `records in/out` and `bytes copied` report.
//! - [`num`] -- sizes with suffixes, coreutils-style human-readable numbers, `%g`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod dd;
pub mod editor;
pub mod fmt;
pub mod grep;
pub mod hexdump;
pub mod kexec;
pub mod num;
pub mod opts;
pub mod parse;

pub use editor::{Event, LineEditor};
pub use parse::{parse, Command, ParseError, Redirect};
