//! Host-side image building for kexos.
//!
//! - [`Initramfs`]: the cpio newc archive the bootloader hands to the kernel as its ramdisk
//!   (see `docs/contracts.md`, "Initramfs"). Entries are kept sorted by path, parents are created
//!   automatically and a later entry for the same path replaces an earlier one, so
//!   `--add HOST:/etc/rc` overrides the default empty `/etc/rc`.
//! - [`DiskImages`]: UEFI (GPT) and BIOS (MBR) disk images made with the `bootloader` crate,
//!   rebuilt only when the kernel, the ramdisk or the boot configuration changed.
//! - [`linux`]: the Linux test fixture (paths under `target/fixtures/linux/`) and its busybox
//!   initramfs.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub mod bzimage;
pub mod esp;
pub mod linux;
pub mod pe;
pub mod qemu;

/// Directories every kexos initramfs has (the contract's default layout).
pub const DEFAULT_DIRS: &[&str] = &["/tmp", "/proc", "/bin", "/etc", "/boot", "/sbin", "/dev"];

/// Mode bits used for directories, executables and data files.
const DIR_MODE: u32 = 0o755;
const EXEC_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o644;

/// Where the bytes of a file entry come from.
#[derive(Clone)]
pub enum Source {
    /// Literal contents.
    Bytes(Vec<u8>),
    /// A file on the host, read when the archive is built.
    Host(PathBuf),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Source::Host(p) => write!(f, "Host({})", p.display()),
        }
    }
}

/// One archive entry.
#[derive(Clone, Debug)]
pub enum Entry {
    /// A directory with the given permission bits.
    Dir {
        /// Permission bits (e.g. 0o755).
        mode: u32,
    },
    /// A regular file.
    File {
        /// Permission bits (e.g. 0o644).
        mode: u32,
        /// Its contents.
        source: Source,
    },
    /// A symbolic link.
    Symlink {
        /// Link target, stored verbatim.
        target: String,
    },
}

/// A `HOST:GUEST` pair as given to `--add`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddSpec {
    /// File on the host.
    pub host: PathBuf,
    /// Absolute path in the guest.
    pub guest: String,
}

impl std::str::FromStr for AddSpec {
    type Err = anyhow::Error;

    /// Parses `HOST:GUEST`. The split is at the last `:` so host paths may contain colons;
    /// GUEST must be absolute.
    fn from_str(s: &str) -> Result<Self> {
        let Some((host, guest)) = s.rsplit_once(':') else {
            bail!("--add expects HOST_PATH:GUEST_PATH, got `{s}`");
        };
        if host.is_empty() || !guest.starts_with('/') || guest == "/" {
            bail!("--add expects HOST_PATH:/ABSOLUTE/GUEST_PATH, got `{s}`");
        }
        Ok(AddSpec {
            host: PathBuf::from(host),
            guest: guest.to_string(),
        })
    }
}

/// The inputs of the contract's default initramfs layout.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The user init+shell ELF, installed as `/sbin/init`.
    pub init: PathBuf,
    /// The kernel ELF (already stripped), installed as `/boot/kexos.elf`.
    pub kernel: PathBuf,
    /// The first boot's command line, written verbatim (no newline) to `/boot/cmdline`.
    pub cmdline: String,
    /// Extra programs installed as `/bin/<file name>` (e.g. faulttest).
    pub bin: Vec<PathBuf>,
    /// `HOST:GUEST` additions, applied last (they may replace default files such as `/etc/rc`).
    pub add: Vec<AddSpec>,
}

/// An initramfs under construction: a path-sorted set of entries.
#[derive(Clone, Debug, Default)]
pub struct Initramfs {
    entries: BTreeMap<String, Entry>,
}

/// Normalises a guest path: absolute, no empty or `.` components, no `..`, no trailing slash.
/// Returns the path with its leading `/` (e.g. `/sbin/init`).
fn normalize(path: &str) -> Result<String> {
    if !path.starts_with('/') {
        bail!("initramfs path `{path}` is not absolute");
    }
    let mut out = String::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => bail!("initramfs path `{path}` contains `..`"),
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        bail!("initramfs path `{path}` names the root directory");
    }
    Ok(out)
}

impl Initramfs {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// The contract's default layout: `/sbin/init`, an empty `/etc/rc`, `/boot/cmdline`,
    /// `/boot/kexos.elf` and `/boot/kexos.bzImage` (built from it), the default directories,
    /// `layout.bin` under `/bin`, then `layout.add`.
    pub fn with_layout(layout: &Layout) -> Result<Self> {
        let mut fs = Self::new();
        for d in DEFAULT_DIRS {
            fs.dir(d)?;
        }
        fs.file_from_host("/sbin/init", &layout.init, EXEC_MODE)?;
        fs.file("/etc/rc", FILE_MODE, Vec::new())?;
        fs.file(
            "/boot/cmdline",
            FILE_MODE,
            layout.cmdline.as_bytes().to_vec(),
        )?;
        fs.file_from_host("/boot/kexos.elf", &layout.kernel, FILE_MODE)?;
        // The same kernel in bzImage form, for self-kexec through the boot protocol.
        let elf = std::fs::read(&layout.kernel)
            .with_context(|| format!("reading {}", layout.kernel.display()))?;
        fs.file("/boot/kexos.bzImage", FILE_MODE, bzimage::build_bytes(&elf)?)?;
        for prog in &layout.bin {
            let name = prog
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("bad program path {}", prog.display()))?;
            fs.file_from_host(&format!("/bin/{name}"), prog, EXEC_MODE)?;
        }
        for add in &layout.add {
            fs.add(add)?;
        }
        Ok(fs)
    }

    /// Removes the entry at `path` (and, for a directory, everything under it). Errors if
    /// there is none.
    pub fn remove(&mut self, path: &str) -> Result<&mut Self> {
        let path = normalize(path)?;
        if self.entries.remove(&path).is_none() {
            bail!("initramfs has no `{path}` to remove");
        }
        let under = format!("{path}/");
        self.entries.retain(|p, _| !p.starts_with(&under));
        Ok(self)
    }

    /// Inserts `entry` at `path` (replacing what was there) and creates missing parents.
    pub fn insert(&mut self, path: &str, entry: Entry) -> Result<&mut Self> {
        let path = normalize(path)?;
        // Parents: every proper prefix of the path.
        let mut idx = 0;
        while let Some(pos) = path[idx + 1..].find('/') {
            let parent = &path[..idx + 1 + pos];
            match self.entries.get(parent) {
                None => {
                    self.entries
                        .insert(parent.to_string(), Entry::Dir { mode: DIR_MODE });
                }
                Some(Entry::Dir { .. }) => {}
                Some(_) => bail!("initramfs: `{parent}` is not a directory (needed for `{path}`)"),
            }
            idx += 1 + pos;
        }
        // A directory with entries may only be replaced by a directory (its mode changes,
        // its children stay).
        let has_children = self
            .entries
            .range(format!("{path}/")..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&format!("{path}/")));
        if has_children && !matches!(entry, Entry::Dir { .. }) {
            bail!("initramfs: cannot replace directory `{path}` (it has entries) with a file");
        }
        self.entries.insert(path, entry);
        Ok(self)
    }

    /// Adds a directory (mode 0755).
    pub fn dir(&mut self, path: &str) -> Result<&mut Self> {
        self.insert(path, Entry::Dir { mode: DIR_MODE })
    }

    /// Adds a file with literal contents.
    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> Result<&mut Self> {
        self.insert(
            path,
            Entry::File {
                mode,
                source: Source::Bytes(data),
            },
        )
    }

    /// Adds a file read from the host when the archive is built. Checks now that it exists.
    pub fn file_from_host(&mut self, path: &str, host: &Path, mode: u32) -> Result<&mut Self> {
        let meta =
            fs::metadata(host).with_context(|| format!("initramfs input {}", host.display()))?;
        if !meta.is_file() {
            bail!("initramfs input {} is not a regular file", host.display());
        }
        self.insert(
            path,
            Entry::File {
                mode,
                source: Source::Host(host.to_path_buf()),
            },
        )
    }

    /// Adds a symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<&mut Self> {
        self.insert(
            path,
            Entry::Symlink {
                target: target.to_string(),
            },
        )
    }

    /// Adds a `HOST:GUEST` file; the guest file is executable if the host file is.
    pub fn add(&mut self, spec: &AddSpec) -> Result<&mut Self> {
        let meta =
            fs::metadata(&spec.host).with_context(|| format!("--add {}", spec.host.display()))?;
        let mode = host_mode(&meta);
        self.file_from_host(&spec.guest, &spec.host, mode)
    }

    /// The entries, sorted by path (parents before children).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Builds the cpio newc archive. Names are stored without the leading `/`
    /// (`sbin/init`), as `find . | cpio -H newc` does for Linux initramfs images.
    pub fn to_cpio(&self) -> Result<Vec<u8>> {
        let mut w = cpio::Writer::new();
        for (path, entry) in &self.entries {
            let name = &path[1..];
            match entry {
                Entry::Dir { mode } => w.add_dir(name, *mode),
                Entry::File {
                    mode,
                    source: Source::Bytes(data),
                } => w.add_file(name, *mode, data),
                Entry::File {
                    mode,
                    source: Source::Host(host),
                } => {
                    let data =
                        fs::read(host).with_context(|| format!("reading {}", host.display()))?;
                    w.add_file(name, *mode, &data)
                }
                Entry::Symlink { target } => w.add_symlink(name, target),
            }
        }
        Ok(w.finish())
    }

    /// Builds the archive and writes it to `out` if its contents changed (keeps the mtime of an
    /// identical archive so that disk images depending on it are not rebuilt). Returns its size.
    pub fn write(&self, out: &Path) -> Result<u64> {
        let data = self.to_cpio()?;
        write_if_changed(out, &data)?;
        Ok(data.len() as u64)
    }
}

#[cfg(unix)]
fn host_mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o111 != 0 {
        EXEC_MODE
    } else {
        FILE_MODE
    }
}

#[cfg(not(unix))]
fn host_mode(_meta: &fs::Metadata) -> u32 {
    FILE_MODE
}

/// Writes `data` to `path` unless the file already holds exactly these bytes.
/// Returns whether the file was written.
pub fn write_if_changed(path: &Path, data: &[u8]) -> Result<bool> {
    if let Ok(old) = fs::read(path) {
        if old == data {
            return Ok(false);
        }
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, data).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// Which firmware a disk image is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Firmware {
    /// GPT disk with an EFI system partition (boot with OVMF).
    Uefi,
    /// MBR disk with the bootloader's BIOS stages (boot with SeaBIOS).
    Bios,
}

impl Firmware {
    /// Lower-case name, used in file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Uefi => "uefi",
            Firmware::Bios => "bios",
        }
    }
}

/// The bootloader configuration kexos uses: the bootloader stays silent (its own log would mix
/// with the kernel's on COM1), everything else default.
pub fn boot_config() -> bootloader::BootConfig {
    let mut cfg = bootloader::BootConfig::default();
    cfg.serial_logging = false;
    cfg.frame_buffer_logging = false;
    cfg
}

/// FNV-1a, 64 bit: a stable content hash for the rebuild stamps (std's hasher is not
/// guaranteed stable across Rust releases).
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn hash_file(h: &mut Fnv, path: &Path) -> Result<()> {
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    h.write_u64(data.len() as u64);
    h.write(&data);
    Ok(())
}

/// Disk image creation for one kernel + ramdisk pair.
#[derive(Clone, Debug)]
pub struct DiskImages {
    /// The kernel ELF the bootloader loads (pass the stripped one: BIOS loads it slowly).
    pub kernel: PathBuf,
    /// The ramdisk (initramfs) file.
    pub ramdisk: PathBuf,
}

impl DiskImages {
    /// Images for `kernel` with `ramdisk`.
    pub fn new(kernel: impl Into<PathBuf>, ramdisk: impl Into<PathBuf>) -> Self {
        DiskImages {
            kernel: kernel.into(),
            ramdisk: ramdisk.into(),
        }
    }

    fn stamp(&self, fw: Firmware) -> Result<String> {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.write(fw.name().as_bytes());
        h.write(env!("CARGO_PKG_VERSION").as_bytes());
        h.write(b"bootloader 0.11.17 serial_logging=false frame_buffer_logging=false esp=fat12");
        hash_file(&mut h, &self.kernel)?;
        hash_file(&mut h, &self.ramdisk)?;
        Ok(format!("{:016x}\n", h.finish()))
    }

    /// Creates (or keeps, if its inputs are unchanged) the image for `fw` at `out`.
    /// Returns true if the image was (re)built.
    pub fn create(&self, fw: Firmware, out: &Path) -> Result<bool> {
        let stamp = self.stamp(fw)?;
        let stamp_path = out.with_extension("img.stamp");
        if out.exists() && fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
            return Ok(false);
        }
        if let Some(dir) = out.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // A failed or interrupted build must not leave a stamp that matches.
        let _ = fs::remove_file(&stamp_path);
        let mut builder = bootloader::DiskImageBuilder::new(self.kernel.clone());
        builder.set_ramdisk(self.ramdisk.clone());
        builder.set_boot_config(&boot_config());
        let tmp = out.with_extension("img.tmp");
        match fw {
            Firmware::Uefi => builder.create_uefi_image(&tmp).and_then(|()| {
                if !esp::reformat_fat12(&tmp)? {
                    eprintln!(
                        "boot: {}: the EFI partition is too large for FAT12 and stays as the bootloader crate made it (OVMF then needs more memory: docs/benchmarks.md, \"The memory floor\")",
                        out.display()
                    );
                }
                Ok(())
            }),
            Firmware::Bios => builder.create_bios_image(&tmp),
        }
        .with_context(|| format!("creating {} disk image {}", fw.name(), out.display()))?;
        fs::rename(&tmp, out)
            .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
        fs::write(&stamp_path, stamp)
            .with_context(|| format!("writing {}", stamp_path.display()))?;
        Ok(true)
    }
}

/// Convenience: build `initramfs.cpio`, `kexos-uefi.img` and `kexos-bios.img` (as selected) in
/// `out_dir` from `layout` less the paths in `remove`. Returns the initramfs path.
pub fn build_images(
    layout: &Layout,
    remove: &[String],
    kernel: &Path,
    out_dir: &Path,
    firmwares: &[Firmware],
) -> Result<PathBuf> {
    let ramdisk = out_dir.join("initramfs.cpio");
    let mut fs = Initramfs::with_layout(layout)?;
    for path in remove {
        fs.remove(path)?;
    }
    fs.write(&ramdisk)?;
    let images = DiskImages::new(kernel, &ramdisk);
    for &fw in firmwares {
        images.create(fw, &image_path(out_dir, fw))?;
    }
    Ok(ramdisk)
}

/// `<dir>/kexos-<fw>.img`.
pub fn image_path(dir: &Path, fw: Firmware) -> PathBuf {
    dir.join(format!("kexos-{}.img", fw.name()))
}

/// The FAT type ("FAT12", "FAT16", "FAT32") of the first partition of a GPT disk image, as
/// its boot sector says. [`DiskImages`] makes it FAT12 up to about 125 MiB ([`esp`] says why);
/// the bench prints it.
pub fn uefi_fat_type(image: &Path) -> Result<String> {
    let img = fs::read(image).with_context(|| format!("reading {}", image.display()))?;
    let (first, _) = esp::first_partition(&img).with_context(|| image.display().to_string())?;
    let boot = &img[first as usize..][..512];
    let label = |at: usize| String::from_utf8_lossy(&boot[at..at + 8]).trim().to_string();
    match (label(54), label(82)) {
        (t, _) if t.starts_with("FAT1") => Ok(t),
        (_, t) if t == "FAT32" => Ok(t),
        _ => bail!("{}: the first partition is not FAT", image.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fat_type_of_the_first_partition() {
        let dir = std::env::temp_dir().join(format!("kexos-fat-type-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let img = dir.join("disk.img");
        let mut d = vec![0u8; 512 * 40];
        d[512..520].copy_from_slice(b"EFI PART");
        d[512 + 72..512 + 80].copy_from_slice(&2u64.to_le_bytes()); // entries at LBA 2
        d[1024 + 32..1024 + 40].copy_from_slice(&34u64.to_le_bytes()); // partition at LBA 34
        d[1024 + 40..1024 + 48].copy_from_slice(&39u64.to_le_bytes()); // ... to 39
        d[34 * 512 + 54..34 * 512 + 62].copy_from_slice(b"FAT12   ");
        fs::write(&img, &d).unwrap();
        assert_eq!(uefi_fat_type(&img).unwrap(), "FAT12");
        d[34 * 512 + 54..34 * 512 + 62].copy_from_slice(b"FAT16   ");
        fs::write(&img, &d).unwrap();
        assert_eq!(uefi_fat_type(&img).unwrap(), "FAT16");
        d[34 * 512 + 54..34 * 512 + 62].copy_from_slice(&[0; 8]);
        d[34 * 512 + 82..34 * 512 + 90].copy_from_slice(b"FAT32   ");
        fs::write(&img, &d).unwrap();
        assert_eq!(uefi_fat_type(&img).unwrap(), "FAT32");
        d[34 * 512 + 82..34 * 512 + 90].copy_from_slice(&[0; 8]);
        fs::write(&img, &d).unwrap();
        assert!(uefi_fat_type(&img).is_err());
        d[512] = 0;
        fs::write(&img, &d).unwrap();
        assert!(uefi_fat_type(&img).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize("/a//b/./c/").unwrap(), "/a/b/c");
        assert!(normalize("a/b").is_err());
        assert!(normalize("/").is_err());
        assert!(normalize("/a/../b").is_err());
    }

    #[test]
    fn remove_takes_the_entry_and_what_is_under_it() {
        let mut fs = Initramfs::new();
        fs.file("/usr/share/x/y.txt", 0o644, b"hi".to_vec()).unwrap();
        fs.file("/usr/lib", 0o644, b"lib".to_vec()).unwrap();
        fs.file("/usr/share2", 0o644, b"not under".to_vec()).unwrap();
        fs.remove("/usr/share/").unwrap();
        let names: Vec<_> = fs.entries().map(|(p, _)| p.to_string()).collect();
        assert_eq!(names, ["/usr", "/usr/lib", "/usr/share2"]);
        assert!(fs.remove("/usr/share").is_err(), "removing twice must say so");
    }

    #[test]
    fn parents_are_created_and_sorted_first() {
        let mut fs = Initramfs::new();
        fs.file("/usr/share/x/y.txt", 0o644, b"hi".to_vec())
            .unwrap();
        fs.dir("/tmp").unwrap();
        let names: Vec<_> = fs.entries().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            names,
            [
                "/tmp",
                "/usr",
                "/usr/share",
                "/usr/share/x",
                "/usr/share/x/y.txt"
            ]
        );
    }

    #[test]
    fn later_entry_replaces_earlier() {
        let mut fs = Initramfs::new();
        fs.file("/etc/rc", 0o644, Vec::new()).unwrap();
        fs.file("/etc/rc", 0o644, b"echo hi\n".to_vec()).unwrap();
        let (_, e) = fs.entries().find(|(p, _)| *p == "/etc/rc").unwrap();
        match e {
            Entry::File {
                source: Source::Bytes(b),
                ..
            } => assert_eq!(b, b"echo hi\n"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn file_under_file_is_rejected() {
        let mut fs = Initramfs::new();
        fs.file("/a", 0o644, Vec::new()).unwrap();
        assert!(fs.file("/a/b", 0o644, Vec::new()).is_err());
        let mut fs = Initramfs::new();
        fs.file("/a/b", 0o644, Vec::new()).unwrap();
        assert!(fs.file("/a", 0o644, Vec::new()).is_err());
        assert!(fs.dir("/a").is_ok());
    }

    #[test]
    fn add_spec_parsing() {
        let s: AddSpec = "/tmp/x:y:/etc/z".parse().unwrap();
        assert_eq!(
            s,
            AddSpec {
                host: "/tmp/x:y".into(),
                guest: "/etc/z".into()
            }
        );
        assert!("nocolon".parse::<AddSpec>().is_err());
        assert!("/a:relative".parse::<AddSpec>().is_err());
        assert!(":/x".parse::<AddSpec>().is_err());
    }

    #[test]
    fn fnv_is_stable() {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63dc4c8601ec8c);
    }
}
