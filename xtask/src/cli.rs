//! The command line: `cargo xtask --help` text and option parsing.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use boot::AddSpec;

/// [`HELP`] with the fuzz targets filled in from [`crate::fuzz::TARGETS`], the one list.
pub(crate) fn help() -> String {
    // The first line follows "One target (default: all): "; the others start at column 26.
    let mut lines: Vec<String> = vec![String::new()];
    for t in crate::fuzz::TARGETS {
        let width = if lines.len() == 1 { 44 } else { 70 };
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + 1 + t.name.len() > width {
            lines.push(t.name.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(t.name);
        }
    }
    HELP.replace("@FUZZ_TARGETS@", &lines.join(&format!("\n{:26}", "")))
}

pub(crate) const HELP: &str = "\
cargo xtask: build, run, debug, test and benchmark kexos

USAGE:
    cargo xtask <COMMAND> [OPTIONS]

COMMANDS:
    build     Build user programs, the kernel, the initramfs and both disk images
              (target/images/{kexos-uefi.img,kexos-bios.img,initramfs.cpio,kexos.elf,
              kexos.bzImage,kexos.signed.elf,kexos.signed.bzImage})
    run       Build, then boot in QEMU with the serial console on this terminal
    gdb       Like run, but QEMU waits for gdb on :1234 (-s -S); prints the gdb command
    test      Build, run clippy (lint), the host unit tests, the fuzz smoke run (fuzz --smoke),
              then the QEMU scenarios (tests/tests/*.rs). A scenario whose first Linux
              (booted by QEMU directly) hangs before its /init boots it once more and says
              so in a RETRY line (docs/testing.md, 'A first Linux that hangs')
    lint      clippy with warnings as errors over the host, kernel, purgatory and user
              workspaces, each built as `build` builds it
    bench     Boot the release UEFI image, kexec into Linux; then have Linux kexec the same
              payload with Debian's kexec-tools; print times and sizes side by side; then the
              self-kexec (issue 4) and crash-dump (issue 5) figures. Every QEMU it starts,
              kexos's and Linux's, has its RAM populated up front (-mem-prealloc)
    sign      Sign a kernel image: `cargo xtask sign [--key K --cert C] IN OUT`. A PE/COFF
              file (kexos.bzImage, a Linux bzImage) gets Authenticode in sbsign's layout,
              anything else (kexos.elf) an appended PKCS#7 signature in sign-file's layout
    fuzz      Fuzz every parser of untrusted input with libFuzzer (cargo-fuzz, tests/fuzz/):
              `cargo xtask fuzz [TARGET] [--seconds N]` runs one target or all of them in
              turn and prints executions, coverage (cov/ft) and findings per target;
              `--smoke` runs each for a few seconds and fails on any crash, hang or
              out-of-memory. Seeds come from the build (kexos's images, the purgatory,
              initramfs) and the Linux fixture, in target/fuzz/corpus/TARGET/; findings
              in target/fuzz/artifacts/TARGET/. Installs cargo-fuzz if it is missing
    fixtures  Fetch the Linux fixture if it is not cached (target/fixtures/linux/): a Debian
              cloud bzImage (apt-get download), a busybox initramfs for it, and Debian's
              kexec-tools with its libraries (initrd-kexec.img: Linux that can kexec);
              and the IMA Linux (target/fixtures/linux-ima/): Debian's linux-source-6.12
              built with CONFIG_IMA_KEXEC (~5.5 min on 2 cores, once per machine: cached
              in ${XDG_CACHE_HOME:-~/.cache}/kexos/). build/run/test/bench do this by
              themselves when they need it (test builds the IMA Linux)
    help      Print this help

OPTIONS (build, run, gdb):
    --release             Build the kernel in release mode (user programs are always release)
    --append \"ARGS\"       First boot's kernel command line (stored as /boot/cmdline)
    --add HOST:GUEST      Put host file HOST at GUEST in the initramfs (repeatable)
    --no-linux            Leave Linux out of the initramfs (default: the fixture's bzImage
                          and initramfs at /boot/vmlinuz and /boot/initrd.img, ~16 MiB)
    --linux PATH          Use this bzImage as /boot/vmlinuz instead of the fixture's
    --linux-initrd PATH   Use this file as /boot/initrd.img instead of the fixture's
    --trusted-cert FILE   Compile this X.509 certificate (PEM or DER) into the kernel's builtin
                          trusted keyring (repeatable; default: the project's test CA,
                          target/keys/test/ca.pem; `test` and `bench` add Debian's Secure
                          Boot CA from the Linux fixture)
    --blacklist SHA256    Refuse any chain through the certificate with this SHA-256 fingerprint
                          (repeatable; `openssl x509 -noout -fingerprint -sha256` format works)
    --sig-enforce         kexec.sig_enforce on from boot (Linux's CONFIG_KEXEC_SIG_FORCE)
    --sign                Put kexos.bzImage and kexos.elf signed with the test key in the
                          initramfs, so that a locked-down kexos can self-kexec (the signed
                          and unsigned copies are always in target/images/)
OPTIONS (run, gdb):
    --bios                Boot the BIOS image with SeaBIOS (default: UEFI image with OVMF;
                          BIOS loads the initramfs at ~1 MiB/s: add --no-linux to boot fast)
    --mem SIZE            Guest memory, QEMU -m syntax (default: 512M)
    --no-build            Do not run cargo; reuse the built kernel and user programs
                          (the initramfs and images are still refreshed for --append/--add)
    --sha-ni              Boot on the SHA-NI QEMU (bookworm-backports' QEMU 10, -cpu max,
                          fetched into target/fixtures/qemu-sha-ni/): the kernel and purgatory
                          hash with SHA-NI (elsewhere: our SSE2 block function);
                          `clearcpuid=sha_ni` in --append gives SSE2, `clearcpuid=sse2`
                          the portable code
OPTIONS (test):
    --release             Test the release kernel
    --filter TEXT         Only run the QEMU scenarios whose name contains TEXT
OPTIONS (bench):
    --only crash          Only the crash-dump figures (issue 5): panic -> capture prompt,
                          panic -> Linux, /proc/vmcore throughput, smallest crashkernel=
    --only sig            Only the signed-kexec figures (issue 10): verify_sig per image size,
                          signed vs unsigned kexec_file_load
    --only self           Only the self-kexec figures (issue 4): kexos -> kexos, the next
                          kernel's boot steps, the smallest --mem for a 3-hop chain and where
                          its first boot's memory goes
    --only ima            Only the measured-kexec figures (issue 11): IMA's hashing at load,
                          the reboot-time update of lists of 10, 1000 and 10000 events
    --only phases         Only the issue 13 figures, 3 runs each (up to 2 more where runs
                          stop, each logged): kexec into Linux, into kexos
                          and into a capture kexos, against Linux -> Linux and Linux kdump in
                          the same run (min/median/max, ratios), kexos's per-phase breakdown,
                          and the guest instructions QEMU translates from `kexec -e` to the
                          next kexos's prompt
    --only sha            Only the SHA-256 figures (issue 13): IMA's and purgatory's MiB/s with
                          each block function: SSE2 and portable (QEMU 7.2), SHA-NI and SSE2
                          (the SHA-NI QEMU 10, -cpu max)
OPTIONS (fuzz):
    TARGET                One target (default: all): @FUZZ_TARGETS@
    --seconds N           Fuzz each target N seconds (default 60; --smoke: 5)
    --smoke               A few seconds per target on the seeds only (a fresh corpus); exit
                          status 1 if any target crashes, hangs (-timeout) or runs out of
                          memory (-rss_limit_mb)
OPTIONS (sign):
    --key FILE            Private key, PEM: PKCS#8, PKCS#1 RSA or SEC1 EC (default: the test
                          signer's, target/keys/test/signer.key.pem, generated reproducibly)
    --cert FILE           The key's X.509 certificate, PEM or DER (default: the test signer's)
    --hash sha256|sha384|sha512
                          Digest algorithm (default sha256)
    --no-certs            Leave the certificate out of the message (sign-file's default; the
                          verifier must then hold the signer's own certificate)
OPTIONS (fixtures):
    --force               Download again even if cached (the IMA Linux: ask apt for the
                          current source version; rebuilt only if the machine's cache lacks it)

ENVIRONMENT:
    KEXOS_OVMF            OVMF firmware image (default /usr/share/ovmf/OVMF.fd)
    KEXOS_TEST_VERBOSE=1  Echo every test machine's serial output live (test)
    KEXOS_SKIP_LINUX=1    If the Linux fixture (or the IMA Linux) is not cached, do not fetch
                          (build) it, and report the scenarios that need it as skipped
                          instead of failed
    KEXOS_LINUX_PACKAGE   Debian package to take the bzImage from (fixtures; default: the
                          dependency of linux-image-cloud-amd64, i.e. Debian's current one)

CONSOLE (run):
    Typed keys go to kexos unbuffered (QEMU puts the terminal in raw mode).
    Quit with the shell's `poweroff` (or `reboot`), or press Ctrl-A then X.
    Ctrl-C is passed to the guest. `run` exits 0 after poweroff, reboot or Ctrl-A X,
    and 1 with a message if the kernel panics.
";

/// Parsed command-line options (each command accepts a subset, checked in `parse`).
#[derive(Clone, Default, Debug)]
pub(crate) struct Opts {
    pub(crate) release: bool,
    pub(crate) bios: bool,
    /// `run --sha-ni`: the SHA-NI QEMU.
    pub(crate) sha_ni: bool,
    pub(crate) mem: Option<String>,
    pub(crate) append: String,
    pub(crate) add: Vec<AddSpec>,
    pub(crate) no_build: bool,
    pub(crate) filter: Option<String>,
    pub(crate) no_linux: bool,
    pub(crate) linux: Option<PathBuf>,
    pub(crate) linux_initrd: Option<PathBuf>,
    pub(crate) force: bool,
    pub(crate) only: Option<String>,
    /// `--trusted-cert`: the builtin keyring (default: the test CA).
    pub(crate) trusted_certs: Vec<PathBuf>,
    /// `--blacklist`: SHA-256 certificate fingerprints (hex).
    pub(crate) blacklist: Vec<String>,
    /// `--sig-enforce`: kexec.sig_enforce on from boot.
    pub(crate) sig_enforce: bool,
    /// `--sign`: the initramfs gets the signed kexos images.
    pub(crate) sign: bool,
    /// `sign`'s `--key`, `--cert`, `--hash`, `--no-certs` and IN OUT.
    pub(crate) key: Option<PathBuf>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) hash: Option<String>,
    pub(crate) no_certs: bool,
    pub(crate) positional: Vec<String>,
    /// `fuzz`'s `--seconds`.
    pub(crate) seconds: Option<u64>,
    /// `fuzz --smoke`.
    pub(crate) smoke: bool,
    /// Trusted besides `trusted_certs` or the test CA (`test` adds the Debian CA).
    pub(crate) extra_trusted: Vec<PathBuf>,
}

/// A certificate fingerprint as `sha256sum`/`openssl x509 -fingerprint -sha256` print it
/// (hex, colons allowed), as 64 lower-case hex digits.
fn parse_fingerprint(v: &str) -> Result<String> {
    let hex: String = v
        .chars()
        .filter(|&c| c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--blacklist {v}: not a SHA-256 fingerprint (64 hex digits)");
    }
    Ok(hex)
}

pub(crate) fn parse(cmd: &str, args: &[String]) -> Result<Opts> {
    let allowed: &[&str] = match cmd {
        "build" => &[
            "--release",
            "--trusted-cert",
            "--blacklist",
            "--sig-enforce",
            "--sign",
            "--append",
            "--add",
            "--no-linux",
            "--linux",
            "--linux-initrd",
        ],
        "run" | "gdb" => &[
            "--release",
            "--trusted-cert",
            "--blacklist",
            "--sig-enforce",
            "--sign",
            "--append",
            "--add",
            "--bios",
            "--mem",
            "--no-build",
            "--sha-ni",
            "--no-linux",
            "--linux",
            "--linux-initrd",
        ],
        "test" => &["--release", "--filter"],
        "bench" => &["--only"],
        "fixtures" => &["--force"],
        "sign" => &["--key", "--cert", "--hash", "--no-certs"],
        "fuzz" => &["--seconds", "--smoke"],
        "lint" => &["--release"],
        _ => bail!("unknown command `{cmd}` (see `cargo xtask --help`)"),
    };
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if flag == "-h" || flag == "--help" {
            print!("{}", help());
            std::process::exit(0);
        }
        if (cmd == "sign" || cmd == "fuzz") && !arg.starts_with('-') {
            o.positional.push(arg.clone());
            continue;
        }
        if !allowed.contains(&flag) {
            bail!("`cargo xtask {cmd}` does not take `{arg}` (see `cargo xtask --help`)");
        }
        let mut value = || -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value")),
            }
        };
        match flag {
            "--release" => o.release = true,
            "--bios" => o.bios = true,
            "--sha-ni" => o.sha_ni = true,
            "--no-build" => o.no_build = true,
            "--mem" => o.mem = Some(value()?),
            "--append" => o.append = value()?,
            "--add" => o.add.push(value()?.parse()?),
            "--filter" => o.filter = Some(value()?),
            "--no-linux" => o.no_linux = true,
            "--linux" => o.linux = Some(PathBuf::from(value()?)),
            "--linux-initrd" => o.linux_initrd = Some(PathBuf::from(value()?)),
            "--force" => o.force = true,
            "--only" => o.only = Some(value()?),
            "--trusted-cert" => o.trusted_certs.push(PathBuf::from(value()?)),
            "--blacklist" => o.blacklist.push(parse_fingerprint(&value()?)?),
            "--sig-enforce" => o.sig_enforce = true,
            "--sign" => o.sign = true,
            "--key" => o.key = Some(PathBuf::from(value()?)),
            "--cert" => o.cert = Some(PathBuf::from(value()?)),
            "--hash" => o.hash = Some(value()?),
            "--no-certs" => o.no_certs = true,
            "--seconds" => {
                let v = value()?;
                let n: u64 = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .with_context(|| format!("--seconds {v}: a positive number of seconds"))?;
                o.seconds = Some(n);
            }
            "--smoke" => o.smoke = true,
            _ => unreachable!("flag {flag} allowed but not handled"),
        }
    }
    if o.no_linux && (o.linux.is_some() || o.linux_initrd.is_some()) {
        bail!("--no-linux cannot be combined with --linux or --linux-initrd");
    }
    if cmd == "sign" && o.positional.len() != 2 {
        bail!("usage: cargo xtask sign [--key K --cert C] [--hash sha256|sha384|sha512] [--no-certs] IN OUT");
    }
    if cmd == "fuzz" && o.positional.len() > 1 {
        bail!("usage: cargo xtask fuzz [TARGET] [--seconds N] [--smoke]");
    }
    if o.key.is_some() != o.cert.is_some() {
        bail!("--key and --cert go together");
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_lists_every_fuzz_target() {
        let help = super::help();
        // Only the fuzz TARGET entry counts: some names (sha256) appear elsewhere in the help.
        let entry = help
            .split_once("One target (default: all):")
            .and_then(|(_, rest)| rest.split_once("--seconds"))
            .map(|(list, _)| list)
            .expect("the fuzz TARGET entry");
        let listed: Vec<&str> = entry.split_whitespace().collect();
        let names: Vec<&str> = crate::fuzz::TARGETS.iter().map(|t| t.name).collect();
        assert_eq!(listed, names, "--help's fuzz targets");
    }
}
