//! The SHA-NI QEMU (`boot::qemu::ShaNiQemu`, `target/fixtures/qemu-sha-ni/`): bookworm-backports'
//! `qemu-system-x86` and the two packages it needs, downloaded through the IMA Linux's private
//! apt configuration ([`FALLBACK_SOURCE`](super::ima::FALLBACK_SOURCE)) and unpacked with
//! `dpkg-deb -x`; nothing is installed. It is kept only if it really emulates SHA-NI: QEMU
//! must start a q35 machine with `-cpu max,sha-ni=on,enforce`, which refuses a CPU feature
//! TCG lacks.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use boot::qemu::{ShaNiQemu, PACKAGES};

use super::ima::Apt;
use super::{apt_download, output, write_atomic};

/// The fixture, fetched unless complete (or `force`); on failure, records why in its
/// `error` file (the scenarios print it).
pub fn ensure(repo: &Path, force: bool) -> Result<ShaNiQemu> {
    let q = ShaNiQemu::at(repo);
    if q.is_complete() && !force {
        return Ok(q);
    }
    let r = fetch(&q);
    super::record_outcome(&r, &q.dir, &q.error_file);
    r.map(|()| q)
}

fn fetch(q: &ShaNiQemu) -> Result<()> {
    let started = Instant::now();
    let _ = fs::remove_file(&q.key_file);
    let _ = fs::remove_dir_all(&q.root);
    let root_user = crate::is_root();
    let apt = Apt::private(&q.dir.join("apt"), root_user)?;
    let debs_dir = q.dir.join("debs");
    fs::create_dir_all(&debs_dir)?;
    let pkgs: Vec<String> = PACKAGES.iter().map(|p| p.to_string()).collect();
    eprintln!("xtask: SHA-NI QEMU: apt-get download {}", pkgs.join(" "));
    let debs = apt_download(&pkgs, &debs_dir, root_user, &apt.opts)?;
    let mut key = String::new();
    for (pkg, deb) in pkgs.iter().zip(&debs) {
        let mut c = Command::new("dpkg-deb");
        c.arg("-x").arg(deb).arg(&q.root);
        output(c)?;
        let mut c = Command::new("dpkg-deb");
        c.arg("-f").arg(deb).arg("Version");
        key.push_str(&format!("{pkg}={}\n", output(c)?.trim()));
    }
    fs::remove_dir_all(&debs_dir)?;
    probe(q)?;
    write_atomic(&q.key_file, key.as_bytes())?;
    eprintln!(
        "xtask: SHA-NI QEMU ready in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        key.lines().next().unwrap_or("")
    );
    Ok(())
}

/// QEMU starts a paused q35 machine whose CPU must have SHA-NI, then quits on its monitor.
fn probe(q: &ShaNiQemu) -> Result<()> {
    let mut c = q.base_command();
    c.args(["-accel", "tcg", "-M", "q35", "-S", "-display", "none", "-nodefaults", "-monitor", "stdio"]);
    c.args(["-cpu", &format!("{},sha-ni=on,enforce", boot::qemu::CPU)]);
    c.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = c.spawn().with_context(|| format!("starting {}", q.binary().display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"quit\n");
    }
    // Read stderr while QEMU runs, so a full pipe cannot stall it.
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
            s
        })
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("{} did not quit within 60 s", q.binary().display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    if !status.success() {
        bail!(
            "{} cannot run a CPU with SHA-NI under TCG ({status}): {}",
            q.binary().display(),
            err.lines().last().unwrap_or("").trim()
        );
    }
    Ok(())
}
