//! The Linux kernel command line: splitting into `key[=value]` parameters
//! with lib/cmdline.c's `next_arg` rules ([`params`]), lookups ([`get`],
//! [`has_flag`], [`clears_cpu_feature`]), the init arguments after `--` ([`init_args`]) and sizes
//! such as `crashkernel=256M@16M` ([`memparse`]), and the `crashkernel=`
//! parameter itself ([`parse_crashkernel`]).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod crashkernel;
mod memparse;
mod params;

pub use crashkernel::{parse_crashkernel, CrashkernelError, CrashkernelRequest};
pub use memparse::{memparse, MemparseError};
pub use params::{clears_cpu_feature, get, has_flag, init_args, params, Param, Params};
