//! `cargo xtask lint`: clippy with every warning an error, over the four cargo workspaces
//! (the host one, the kernel, the purgatory, the user programs), each built as
//! `cargo xtask build` builds it (same target directories, the kernel with the same keyring).
//! `cargo xtask test` runs it after the build and counts it as one result.

use anyhow::Result;

use crate::cli::Opts;
use crate::{describe, Xtask};

/// clippy's arguments after `--`: warnings are errors.
const DENY: [&str; 3] = ["--", "-D", "warnings"];

impl Xtask {
    /// The names of the workspaces clippy found warnings (or errors) in; empty when clean.
    pub(crate) fn lint(&self, o: &Opts) -> Result<Vec<&'static str>> {
        let mut host = self.cargo(&self.root);
        host.args(["clippy", "--workspace", "--all-targets"]);
        let mut kernel = self.cargo(&self.root.join("kernel"));
        self.keyring_env(o, &o.extra_trusted)?.apply(&mut kernel);
        kernel.arg("clippy").arg("--target-dir").arg(self.target("kernel"));
        if o.release {
            kernel.arg("--release");
        }
        // The purgatory as purgatory/build.sh builds it.
        let mut purgatory = self.cargo(&self.root.join("purgatory"));
        purgatory.args(["clippy", "--release", "--target-dir"]).arg(self.target("purgatory"));
        let mut user = self.cargo(&self.root.join("user"));
        user.args(["clippy", "--release", "--target-dir"]).arg(self.target("user"));
        let mut dirty = Vec::new();
        for (name, mut cmd) in [("host", host), ("kernel", kernel), ("purgatory", purgatory), ("user", user)] {
            cmd.args(DENY);
            eprintln!("xtask: lint: {}", describe(&cmd));
            if !cmd.status()?.success() {
                dirty.push(name);
            }
        }
        Ok(dirty)
    }

    /// `cargo xtask lint`.
    pub(crate) fn lint_cmd(&self, o: &Opts) -> Result<std::process::ExitCode> {
        let dirty = self.lint(o)?;
        if dirty.is_empty() {
            eprintln!("xtask: lint: clippy found nothing in the host, kernel, purgatory and user workspaces");
            Ok(std::process::ExitCode::SUCCESS)
        } else {
            eprintln!("xtask: lint: clippy warnings in: {}", dirty.join(", "));
            Ok(std::process::ExitCode::FAILURE)
        }
    }
}
