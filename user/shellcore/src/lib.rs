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
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod editor;
pub mod fmt;
pub mod kexec;
pub mod opts;
pub mod parse;

pub use editor::{Event, LineEditor};
pub use parse::{parse, Command, ParseError, Redirect};
