//! `cargo xtask fixtures`: the Linux test fixture (see `boot::linux`).
//!
//! The bzImage comes from Debian's current cloud kernel package, fetched with `apt-get
//! download` (no installation, no root needed when the apt lists are present) and unpacked with
//! `dpkg-deb`; busybox comes from Debian's `busybox-static` the same way. Both are cached under
//! `target/fixtures/linux/`; only the initramfs is rebuilt on every call (from the cached
//! busybox, so a change of `/init` needs no network).
//!
//! Debian's `kexec-tools` (for Linux kexecs Linux / kexos) is fetched the same way into
//! `target/fixtures/linux/kexec/`: `/sbin/kexec` from the package, and every library `ldd`
//! lists for it. Those come from the host where it has them (the host is the same
//! distribution: its libc matches), else from the `lib*` packages in kexec-tools' dependency
//! closure that the host does not have installed (today the Xen libraries behind
//! `libxenctrl.so.4.17`), downloaded with `apt-get download` and unpacked with `dpkg-deb -x`.
//! The second initramfs variant `initrd-kexec.img` is built from it on every call.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use boot::linux::LinuxFixture;

#[path = "fixtures_sig.rs"]
pub mod sig;

#[path = "fixtures_ima.rs"]
pub mod ima;

#[path = "fixtures_qemu.rs"]
pub mod qemu;

/// Debian's meta-package whose dependency is the current cloud kernel.
const KERNEL_META: &str = "linux-image-cloud-amd64";
/// Overrides the kernel package (e.g. `linux-image-6.12.117+deb12-cloud-amd64`).
pub const PACKAGE_ENV: &str = "KEXOS_LINUX_PACKAGE";
/// Debian package with a static busybox.
const BUSYBOX_PACKAGE: &str = "busybox-static";
/// Debian package with `/sbin/kexec`.
const KEXEC_PACKAGE: &str = "kexec-tools";
/// Where the guest's dynamic loader looks for libraries (a system search path of Debian's and
/// Ubuntu's x86_64 `ld.so`, needing no `/etc/ld.so.cache`).
const GUEST_LIB_DIR: &str = "/lib/x86_64-linux-gnu";
/// Upper bound for one apt command (a hung mirror must not hang CI).
const APT_TIMEOUT_SECS: u32 = 600;

/// What [`ensure`] did.
pub struct Outcome {
    pub fixture: LinuxFixture,
    /// Seconds spent downloading and unpacking (None: everything was cached).
    pub fetched_in: Option<f64>,
    /// Why Debian's kexec-tools is not in the fixture (None: it is, see
    /// `LinuxFixture::has_kexec`). Only the scenarios that kexec from Linux need it.
    pub kexec_error: Option<String>,
}

fn in_path(prog: &str) -> bool {
    super::in_path(prog)
}

/// `prog args...`, under `timeout` when available; stdout captured, stderr passed through.
fn tool(prog: &str) -> Command {
    if in_path("timeout") {
        let mut c = Command::new("timeout");
        c.arg(APT_TIMEOUT_SECS.to_string()).arg(prog);
        c
    } else {
        Command::new(prog)
    }
}

fn output(mut cmd: Command) -> Result<String> {
    let o = cmd
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {}", super::describe(&cmd)))?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        bail!(
            "{} failed ({}): {}",
            super::describe(&cmd),
            o.status,
            last.trim()
        );
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Compares Debian-ish version strings by their digit runs and the text between them
/// (`6.12.117+deb12` > `6.1.0-56`; good enough to order kernel package names).
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let mut chars = s.chars().peekable();
        while chars.peek().is_some() {
            let mut text = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_digit() {
                    break;
                }
                text.push(c);
                chars.next();
            }
            let mut num = String::new();
            while let Some(&c) = chars.peek() {
                if !c.is_ascii_digit() {
                    break;
                }
                num.push(c);
                chars.next();
            }
            out.push((num.parse().unwrap_or(0), text));
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        // Text first (it precedes its number), then the number.
        let o = x.1.cmp(&y.1).then(x.0.cmp(&y.0));
        if o.is_ne() {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

/// Is `name` a versioned cloud kernel image package (`linux-image-<digit>...-cloud-amd64`,
/// not `-dbg`, not `-unsigned`)?
pub fn is_kernel_package(name: &str) -> bool {
    name.strip_prefix("linux-image-")
        .and_then(|r| r.strip_suffix("-cloud-amd64"))
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// The package `apt-cache depends linux-image-cloud-amd64` names, if any.
pub fn parse_meta_depends(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(|d| d.trim().trim_start_matches('<').trim_end_matches('>'))
        .find(|d| is_kernel_package(d))
        .map(str::to_string)
}

/// The newest kernel package in `apt-cache search` output (meta-packages excluded).
pub fn pick_newest(search: &str) -> Option<String> {
    search
        .lines()
        .filter_map(|l| {
            let (name, desc) = l.split_once(" - ").unwrap_or((l, ""));
            let name = name.trim();
            (is_kernel_package(name) && !desc.contains("meta-package")).then(|| name.to_string())
        })
        .max_by(|a, b| version_cmp(a, b))
}

/// Which kernel package to fetch: `$KEXOS_LINUX_PACKAGE`, else the dependency of the
/// `linux-image-cloud-amd64` meta-package (what Debian installs today), else the newest
/// versioned `linux-image-*-cloud-amd64` apt-cache knows.
fn kernel_package() -> Result<Option<String>> {
    if let Ok(p) = std::env::var(PACKAGE_ENV) {
        if !p.is_empty() {
            return Ok(Some(p));
        }
    }
    let mut c = tool("apt-cache");
    c.args(["depends", KERNEL_META]);
    if let Ok(out) = output(c) {
        if let Some(p) = parse_meta_depends(&out) {
            return Ok(Some(p));
        }
    }
    let mut c = tool("apt-cache");
    c.args([
        "search",
        "--names-only",
        "^linux-image-[0-9].*-cloud-amd64$",
    ]);
    Ok(pick_newest(&output(c)?))
}

fn apt_update() -> Result<()> {
    eprintln!("xtask: apt-get update (for the Linux fixture)");
    let mut c = tool("apt-get");
    c.args(["-q", "update"]).stdout(Stdio::null());
    output(c).map(|_| ())
}

/// `apt-get download PKG` into `dir`; returns the .deb. Retries once after `apt-get update`
/// (as root) when the lists are stale.
fn download(pkg: &str, dir: &Path, root: bool) -> Result<PathBuf> {
    let mut debs = download_all(&[pkg.to_string()], dir, root)?;
    Ok(debs.remove(0))
}

/// `apt-get download PKGS...` into `dir` (one apt command); returns the .debs in the order of
/// `pkgs`. Retries once after `apt-get update` (as root) when the lists are stale.
fn download_all(pkgs: &[String], dir: &Path, root: bool) -> Result<Vec<PathBuf>> {
    match apt_download(pkgs, dir, root, &[]) {
        Ok(p) => Ok(p),
        Err(e) if root => {
            eprintln!("xtask: {e:#}; retrying after apt-get update");
            apt_update()?;
            apt_download(pkgs, dir, root, &[])
        }
        Err(e) => Err(e),
    }
}

/// One `apt-get [apt_opts] download PKGS...` into `dir` (its old .debs removed first); returns
/// the .debs in the order of `pkgs`. `apt_opts` are `-o` options (e.g. a private source list).
fn apt_download(
    pkgs: &[String],
    dir: &Path,
    root: bool,
    apt_opts: &[String],
) -> Result<Vec<PathBuf>> {
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "deb") {
            let _ = fs::remove_file(&p);
        }
    }
    let mut c = tool("apt-get");
    c.current_dir(dir).arg("-q").args(apt_opts);
    if root {
        // apt drops to `_apt` for downloads, which cannot write into target/.
        c.args(["-o", "APT::Sandbox::User=root"]);
    }
    c.arg("download").args(pkgs).stdout(Stdio::null());
    output(c)?;
    let names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    pkgs.iter()
        .map(|pkg| {
            let prefix = format!("{pkg}_");
            names
                .iter()
                .find(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
                .map(|n| dir.join(n))
                .with_context(|| {
                    format!(
                        "apt-get download {pkg} left no {prefix}*.deb in {}",
                        dir.display()
                    )
                })
        })
        .collect()
}

/// Extracts the members of `deb` matching the tar `patterns` into `into`
/// (`dpkg-deb --fsys-tarfile deb | tar -x`): like `dpkg-deb -x`, without writing the
/// hundreds of MB of modules we do not need.
fn extract(deb: &Path, into: &Path, patterns: &[&str]) -> Result<()> {
    let _ = fs::remove_dir_all(into);
    fs::create_dir_all(into)?;
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .context("running dpkg-deb")?;
    let mut tar = Command::new("tar");
    tar.arg("-x")
        .arg("-C")
        .arg(into)
        .args(["-f", "-", "--wildcards"])
        .args(patterns)
        .stdin(dpkg.stdout.take().unwrap());
    let st = tar.status().context("running tar")?;
    let dst = dpkg.wait()?;
    if !dst.success() {
        bail!("dpkg-deb --fsys-tarfile {} failed ({dst})", deb.display());
    }
    if !st.success() {
        bail!(
            "tar could not find {} in {} ({st})",
            patterns.join(" "),
            deb.display()
        );
    }
    Ok(())
}

/// Finds `name_prefix*` files under `dir` (recursively).
fn find_files(dir: &Path, name_prefix: &str, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            find_files(&p, name_prefix, out)?;
        } else if p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(name_prefix))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Copies `from` to `to` through a temporary file and a rename (readers never see half a file).
fn install(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension(format!("tmp.{}", std::process::id()));
    fs::copy(from, &tmp)
        .with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
    fs::rename(&tmp, to).with_context(|| format!("renaming to {}", to.display()))?;
    Ok(())
}

/// Records how fetching or building a fixture ended for its scenarios: on failure the reason,
/// one line, in `error_file` (created with `dir`); on success no such file.
fn record_outcome<T>(r: &Result<T>, dir: &Path, error_file: &Path) {
    match r {
        Ok(_) => {
            let _ = fs::remove_file(error_file);
        }
        Err(e) => {
            let _ = fs::create_dir_all(dir);
            let _ = fs::write(error_file, format!("{e:#}\n"));
        }
    }
}

fn write_atomic(to: &Path, data: &[u8]) -> Result<()> {
    let tmp = to.with_extension(format!("tmp.{}", std::process::id()));
    fs::write(&tmp, data)?;
    fs::rename(&tmp, to)?;
    Ok(())
}

fn fetch_kernel(f: &LinuxFixture, work: &Path, root: bool) -> Result<()> {
    let pkg = match kernel_package()? {
        Some(p) => p,
        None if root => {
            apt_update()?;
            kernel_package()?.context("apt-cache knows no linux-image-*-cloud-amd64 package")?
        }
        None => bail!(
            "apt-cache knows no linux-image-*-cloud-amd64 package (run `apt-get update` as root)"
        ),
    };
    eprintln!("xtask: fetching the Linux fixture: apt-get download {pkg}");
    let debs = work.join("debs");
    fs::create_dir_all(&debs)?;
    let deb = download(&pkg, &debs, root)?;
    let mut c = Command::new("dpkg-deb");
    c.arg("-f").arg(&deb).arg("Version");
    let pkg_version = output(c)?.trim().to_string();
    let x = work.join("x-kernel");
    extract(&deb, &x, &["./boot/vmlinuz-*"])?;
    let mut found = Vec::new();
    find_files(&x.join("boot"), "vmlinuz-", &mut found)?;
    let [vmlinuz] = found.as_slice() else {
        bail!(
            "{} holds {} boot/vmlinuz-* files, expected one",
            deb.display(),
            found.len()
        );
    };
    let version = vmlinuz
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("vmlinuz-")
        .to_string();
    install(vmlinuz, &f.kernel)?;
    write_atomic(&f.version_file, format!("{version}\n").as_bytes())?;
    write_atomic(
        &f.dir.join("package"),
        format!("{pkg} {pkg_version}\n").as_bytes(),
    )?;
    let _ = fs::remove_dir_all(&x);
    let _ = fs::remove_file(&deb);
    Ok(())
}

fn fetch_busybox(f: &LinuxFixture, work: &Path, root: bool) -> Result<()> {
    let debs = work.join("debs");
    fs::create_dir_all(&debs)?;
    let fetched = download(BUSYBOX_PACKAGE, &debs, root).and_then(|deb| {
        let x = work.join("x-busybox");
        extract(&deb, &x, &["*bin/busybox"])?;
        let mut found = Vec::new();
        find_files(&x, "busybox", &mut found)?;
        let bb = found
            .into_iter()
            .find(|p| p.file_name().is_some_and(|n| n == "busybox"))
            .with_context(|| format!("no bin/busybox in {}", deb.display()))?;
        install(&bb, &f.busybox)?;
        let _ = fs::remove_dir_all(&x);
        let _ = fs::remove_file(&deb);
        Ok(())
    });
    if let Err(e) = fetched {
        // An installed busybox-static will do (its /bin/busybox is the static one).
        let installed = Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", BUSYBOX_PACKAGE])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"));
        let bin = Path::new("/bin/busybox");
        if installed && bin.is_file() {
            eprintln!(
                "xtask: {e:#}; using the installed {BUSYBOX_PACKAGE} ({})",
                bin.display()
            );
            install(bin, &f.busybox)?;
        } else {
            return Err(e);
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&f.busybox, fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// The `lib*` packages `apt-cache depends` lists as (Pre)Depends (virtual packages and
/// alternatives' `<...>` names excluded).
pub fn parse_lib_depends(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .lines()
        .map(|l| l.trim().trim_start_matches('|'))
        .filter_map(|l| {
            l.strip_prefix("Depends:")
                .or_else(|| l.strip_prefix("PreDepends:"))
        })
        .map(str::trim)
        .filter(|d| d.starts_with("lib") && !d.starts_with('<'))
        .map(str::to_string)
        .collect();
    out.dedup();
    out
}

/// One line of `ldd` output.
#[derive(Debug, PartialEq, Eq)]
pub enum LddLine {
    /// `name => /path (0x...)`: a library and the file it resolved to.
    Lib { name: String, path: PathBuf },
    /// `/lib64/ld-linux-x86-64.so.2 (0x...)`: the program interpreter, by its absolute path.
    Loader(PathBuf),
    /// `name => not found`.
    Missing(String),
}

/// Parses `ldd` output (the vDSO, which has no file, is left out).
pub fn parse_ldd(text: &str) -> Vec<LddLine> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let strip_addr = |s: &str| match s.rfind(" (0x") {
                Some(i) => s[..i].trim().to_string(),
                None => s.trim().to_string(),
            };
            if let Some((name, rest)) = l.split_once(" => ") {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    return Some(LddLine::Missing(name.trim().to_string()));
                }
                let path = strip_addr(rest);
                if path.is_empty() || !path.starts_with('/') {
                    return None;
                }
                return Some(LddLine::Lib {
                    name: name.trim().to_string(),
                    path: PathBuf::from(path),
                });
            }
            let path = strip_addr(l);
            (path.starts_with('/') && path.contains("ld-linux"))
                .then(|| LddLine::Loader(PathBuf::from(path)))
        })
        .collect()
}

/// Is `pkg` installed on the host (`dpkg-query` says `install ok installed`)?
fn host_has(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Directories under `dir` holding a `*.so*` file (for `LD_LIBRARY_PATH`).
fn lib_dirs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut has_so = false;
    for e in fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            lib_dirs(&p, out)?;
        } else if e.file_name().to_string_lossy().contains(".so") {
            has_so = true;
        }
    }
    if has_so {
        out.push(dir.to_path_buf());
    }
    Ok(())
}

/// Fetches Debian's kexec-tools into `f.kexec_root` (see the module documentation), writing
/// `kexec.package` and, last, `kexec.files`.
fn fetch_kexec(f: &LinuxFixture, work: &Path, root: bool) -> Result<()> {
    eprintln!(
        "xtask: fetching kexec-tools for the Linux fixture: apt-get download {KEXEC_PACKAGE}"
    );
    let _ = fs::remove_file(&f.kexec_files);
    let debs = work.join("debs");
    fs::create_dir_all(&debs)?;
    let x = work.join("x-kexec");
    let _ = fs::remove_dir_all(&x);
    fs::create_dir_all(&x)?;
    let unpack = |deb: &Path, into: &Path| -> Result<()> {
        let mut c = Command::new("dpkg-deb");
        c.arg("-x").arg(deb).arg(into);
        output(c).map(|_| ())
    };
    let deb = download(KEXEC_PACKAGE, &debs, root)?;
    let mut c = Command::new("dpkg-deb");
    c.arg("-f").arg(&deb).arg("Version");
    let version = output(c)?.trim().to_string();
    let pkg_dir = x.join(KEXEC_PACKAGE);
    unpack(&deb, &pkg_dir)?;
    let _ = fs::remove_file(&deb);
    let kexec = pkg_dir.join("sbin/kexec");
    if !kexec.is_file() {
        bail!("{KEXEC_PACKAGE} has no /sbin/kexec");
    }
    // The lib* packages of the dependency closure that the host lacks, level by level.
    let mut seen = vec![KEXEC_PACKAGE.to_string()];
    let mut level = vec![KEXEC_PACKAGE.to_string()];
    let mut fetched = Vec::new();
    while !level.is_empty() {
        let mut next = Vec::new();
        let mut c = tool("apt-cache");
        c.arg("depends").args(&level);
        for d in parse_lib_depends(&output(c)?) {
            if !seen.contains(&d) {
                seen.push(d.clone());
                if !host_has(&d) {
                    next.push(d);
                }
            }
        }
        if !next.is_empty() {
            for (pkg, deb) in next.iter().zip(download_all(&next, &debs, root)?) {
                unpack(&deb, &x.join(pkg))?;
                let _ = fs::remove_file(&deb);
            }
            fetched.extend(next.iter().cloned());
        }
        level = next;
    }
    let mut dirs = Vec::new();
    lib_dirs(&x, &mut dirs)?;
    let mut ldd = Command::new("ldd");
    ldd.arg(&kexec);
    if !dirs.is_empty() {
        ldd.env("LD_LIBRARY_PATH", std::env::join_paths(&dirs)?);
    }
    let ldd_out = output(ldd)?;
    let lines = parse_ldd(&ldd_out);
    let missing: Vec<_> = lines
        .iter()
        .filter_map(|l| match l {
            LddLine::Missing(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "ldd {}: not found: {} (neither on the host nor in the downloaded {})",
            kexec.display(),
            missing.join(", "),
            if fetched.is_empty() {
                "(none)".to_string()
            } else {
                fetched.join(" ")
            }
        );
    }
    let mut files = vec![(kexec.clone(), boot::linux::KEXEC_BIN.to_string())];
    for l in &lines {
        match l {
            LddLine::Lib { name, path } => {
                files.push((path.clone(), format!("{GUEST_LIB_DIR}/{name}")))
            }
            LddLine::Loader(p) => files.push((p.clone(), p.to_string_lossy().into_owned())),
            LddLine::Missing(_) => unreachable!(),
        }
    }
    if !files.iter().any(|(_, g)| g.contains("ld-linux")) {
        bail!(
            "ldd {} names no dynamic loader:\n{ldd_out}",
            kexec.display()
        );
    }
    let _ = fs::remove_dir_all(&f.kexec_root);
    let mut list = String::new();
    for (host, guest) in &files {
        let to = f.kexec_root.join(&guest[1..]);
        fs::create_dir_all(to.parent().unwrap())?;
        // fs::copy follows symlinks (the host's /lib64 loader is one).
        fs::copy(host, &to)
            .with_context(|| format!("copying {} to {}", host.display(), to.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&to, fs::Permissions::from_mode(0o755))?;
        }
        list.push_str(guest);
        list.push('\n');
    }
    write_atomic(
        &f.dir.join("kexec.package"),
        format!(
            "{KEXEC_PACKAGE} {version}\nlibrary packages downloaded (not installed on the host): {}\nldd /sbin/kexec:\n{ldd_out}",
            if fetched.is_empty() { "none".to_string() } else { fetched.join(" ") }
        )
        .as_bytes(),
    )?;
    write_atomic(&f.kexec_files, list.as_bytes())?;
    let _ = fs::remove_dir_all(&x);
    Ok(())
}

/// Makes sure the fixture exists under `<root>/target/fixtures/linux` (downloading what is
/// missing, or everything with `force`) and rebuilds its initramfs.
pub fn ensure(root: &Path, force: bool) -> Result<Outcome> {
    let f = LinuxFixture::at(root);
    let work = root.join("target/fixtures");
    fs::create_dir_all(&f.dir)?;
    let need_kernel = force || !f.kernel.is_file() || !f.version_file.is_file();
    let need_busybox = force || !f.busybox.is_file();
    let mut fetched_in = None;
    if need_kernel || need_busybox {
        let started = Instant::now();
        let missing: Vec<_> = ["apt-get", "apt-cache", "dpkg-deb", "tar"]
            .into_iter()
            .filter(|p| !in_path(p))
            .collect();
        if !missing.is_empty() {
            bail!(
                "cannot fetch it: {} not found (the fixture comes from Debian packages via apt)",
                missing.join(", ")
            );
        }
        let root_user = super::is_root();
        if need_kernel {
            fetch_kernel(&f, &work, root_user)?;
        }
        if need_busybox {
            fetch_busybox(&f, &work, root_user)?;
        }
        fetched_in = Some(started.elapsed().as_secs_f64());
    }
    boot::linux::initramfs(&f.busybox)?.write(&f.initrd)?;
    let mut kexec_error = None;
    if force || !f.has_kexec() {
        let started = Instant::now();
        match fetch_kexec(&f, &work, super::is_root()) {
            Ok(()) => {
                *fetched_in.get_or_insert(0.0) += started.elapsed().as_secs_f64();
            }
            Err(e) => kexec_error = Some(format!("{e:#}")),
        }
    }
    if kexec_error.is_none() {
        f.build_kexec_initrd(&[], None, &f.kexec_initrd)?;
    }
    sig::ensure(&f, &work, super::is_root(), force)?;
    Ok(Outcome {
        fixture: f,
        fetched_in,
        kexec_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn versions() {
        assert_eq!(version_cmp("6.12.117+deb12", "6.1.0-56"), Ordering::Greater);
        assert_eq!(version_cmp("6.1.0-56", "6.1.0-9"), Ordering::Greater);
        assert_eq!(version_cmp("6.1.0-56", "6.1.0-56"), Ordering::Equal);
        assert_eq!(version_cmp("6.12.99", "6.12.100"), Ordering::Less);
    }

    #[test]
    fn package_names() {
        assert!(is_kernel_package("linux-image-6.1.0-56-cloud-amd64"));
        assert!(is_kernel_package("linux-image-6.12.117+deb12-cloud-amd64"));
        assert!(!is_kernel_package("linux-image-cloud-amd64"));
        assert!(!is_kernel_package("linux-image-6.1.0-56-cloud-amd64-dbg"));
        assert!(!is_kernel_package(
            "linux-image-6.1.0-56-cloud-amd64-unsigned"
        ));
    }

    #[test]
    fn meta_depends() {
        let out = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n";
        assert_eq!(
            parse_meta_depends(out).as_deref(),
            Some("linux-image-6.1.0-56-cloud-amd64")
        );
        assert_eq!(parse_meta_depends("linux-image-cloud-amd64\n"), None);
    }

    #[test]
    fn lib_depends() {
        let out = "kexec-tools\n  Depends: libc6\n  Depends: libxenmisc4.17\n |Depends: debconf\n  Depends: <debconf-2.0>\n    cdebconf\n    debconf\n  Depends: debconf\n  PreDepends: libzstd1\n";
        assert_eq!(
            parse_lib_depends(out),
            vec!["libc6", "libxenmisc4.17", "libzstd1"]
        );
    }

    #[test]
    fn ldd_output() {
        let out = "\tlinux-vdso.so.1 (0x00007fec4659e000)\n\tlibxenctrl.so.4.17 => x/usr/lib/x86_64-linux-gnu/libxenctrl.so.4.17 (0x1)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fec46276000)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007fec465a0000)\n\tlibxentoollog.so.1 => not found\n";
        assert_eq!(
            parse_ldd(out),
            vec![
                LddLine::Lib {
                    name: "libc.so.6".into(),
                    path: "/lib/x86_64-linux-gnu/libc.so.6".into()
                },
                LddLine::Loader("/lib64/ld-linux-x86-64.so.2".into()),
                LddLine::Missing("libxentoollog.so.1".into()),
            ]
        );
    }

    #[test]
    fn newest_from_search() {
        let out = "\
linux-image-6.1.0-47-cloud-amd64-dbg - Debug symbols for linux-image-6.1.0-47-cloud-amd64
linux-image-6.1.0-47-cloud-amd64 - Linux 6.1 for x86-64 cloud (signed)
linux-image-6.12-cloud-amd64 - Linux for x86-64 cloud (meta-package)
linux-image-6.1.0-56-cloud-amd64 - Linux 6.1 for x86-64 cloud (signed)
linux-image-6.12.117+deb12-cloud-amd64 - Linux 6.12 for x86-64 cloud (signed)
linux-image-6.12.99+deb12-cloud-amd64 - Linux 6.12 for x86-64 cloud (signed)
";
        assert_eq!(
            pick_newest(out).as_deref(),
            Some("linux-image-6.12.117+deb12-cloud-amd64")
        );
        assert_eq!(pick_newest(""), None);
    }
}
