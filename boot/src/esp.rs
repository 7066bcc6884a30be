//! The UEFI image's EFI system partition, re-formatted FAT12.
//!
//! The bootloader crate formats the partition with `fatfs`'s defaults, which pick the FAT type
//! from the volume's size: FAT12 below 4 MiB, FAT16 above. The type matters to OVMF: its FAT
//! driver (edk2 FatPkg, `FatInitializeDiskCache`) sizes its FAT and data caches by FAT type,
//! and for FAT16 keeps about 1.5 MiB more boot-services memory, which at 48 MiB of RAM leaves
//! the boot loader unable to allocate the kernel and initramfs (docs/benchmarks.md, "The memory
//! floor"). The FAT type is decided by the cluster count alone (Microsoft's FAT specification,
//! section 3.5: fewer than 4085 clusters is FAT12), so a partition of up to about 125 MiB can
//! be FAT12 with large enough clusters (a larger one is left as the bootloader crate made it). [`reformat_fat12`] rewrites the partition of a finished image in
//! place: same size, same files, same label, FAT12.

use std::fs;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use fatfs::{FatType, FileSystem, FormatVolumeOptions, FsOptions};

/// Sector size of the disk images (GPT LBAs and FAT sectors).
const SECTOR: u64 = 512;
/// FAT12 holds fewer than 4085 clusters (FAT specification, section 3.5); fatfs keeps a few
/// clusters of margin below that for its own rounding.
const FAT12_MAX_CLUSTERS: u64 = 4000;

/// The byte range (offset, length) of the first partition of the GPT disk image `img`
/// (UEFI specification, section 5.3: header at LBA 1, its entry array's LBA at byte 72, each
/// entry's first and last LBA at bytes 32 and 40).
pub fn first_partition(img: &[u8]) -> Result<(u64, u64)> {
    let at = |off: u64, len: u64| -> Result<&[u8]> {
        let end = off.checked_add(len).context("a GPT range wraps around")?;
        img.get(usize::try_from(off)?..usize::try_from(end)?)
            .context("the disk image is shorter than its GPT says")
    };
    let header = at(SECTOR, SECTOR)?;
    if &header[..8] != b"EFI PART" {
        bail!("no GPT header");
    }
    let entries = u64::from_le_bytes(header[72..80].try_into()?);
    let entry = at(entries.checked_mul(SECTOR).context("bad GPT entry LBA")?, 128)?;
    let first = u64::from_le_bytes(entry[32..40].try_into()?);
    let last = u64::from_le_bytes(entry[40..48].try_into()?);
    if first == 0 || last < first {
        bail!("the first GPT entry is empty");
    }
    let off = first.checked_mul(SECTOR).context("bad partition start LBA")?;
    let len = (last - first + 1).checked_mul(SECTOR).context("bad partition end LBA")?;
    at(off, len)?;
    Ok((off, len))
}

/// The smallest cluster size (a power of two, at least one sector) that keeps a volume of
/// `bytes` FAT12.
fn fat12_cluster_size(bytes: u64) -> Result<u32> {
    let mut cluster = SECTOR;
    while bytes / cluster >= FAT12_MAX_CLUSTERS {
        cluster *= 2;
        if cluster > 32 * 1024 {
            bail!("a {bytes}-byte volume cannot be FAT12 (clusters of 32 KiB are the largest)");
        }
    }
    Ok(cluster as u32)
}

/// Every file under `dir`, as (path relative to the root, contents), directories first.
type Tree = Vec<(String, Option<Vec<u8>>)>;

fn read_tree<T: fatfs::ReadWriteSeek>(dir: &fatfs::Dir<T>, prefix: &str, out: &mut Tree) -> Result<()> {
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name == "." || name == ".." {
            continue;
        }
        let path = format!("{prefix}{name}");
        if entry.is_dir() {
            out.push((path.clone(), None));
            read_tree(&entry.to_dir(), &format!("{path}/"), out)?;
        } else {
            let mut data = Vec::new();
            entry.to_file().read_to_end(&mut data)?;
            out.push((path, Some(data)));
        }
    }
    Ok(())
}

/// `volume` (a whole FAT file system) re-formatted FAT12 with the same size, label and files.
pub fn fat12_copy(volume: &[u8]) -> Result<Vec<u8>> {
    let mut tree = Tree::new();
    let mut label = *b"           ";
    {
        let fs = FileSystem::new(Cursor::new(volume.to_vec()), FsOptions::new())
            .context("reading the FAT partition")?;
        let l = fs.volume_label_as_bytes();
        label[..l.len()].copy_from_slice(l);
        read_tree(&fs.root_dir(), "", &mut tree)?;
    }
    let mut out = Cursor::new(vec![0u8; volume.len()]);
    let opts = FormatVolumeOptions::new()
        .fat_type(FatType::Fat12)
        .bytes_per_cluster(fat12_cluster_size(volume.len() as u64)?)
        .volume_label(label);
    fatfs::format_volume(&mut out, opts).context("formatting the partition FAT12")?;
    {
        let fs = FileSystem::new(&mut out, FsOptions::new())?;
        for (path, data) in &tree {
            let root = fs.root_dir();
            match data {
                None => {
                    root.create_dir(path)?;
                }
                Some(data) => {
                    let mut f = root.create_file(path)?;
                    f.truncate()?;
                    f.write_all(data).with_context(|| format!("writing {path} (partition full?)"))?;
                }
            }
        }
        fs.unmount()?;
    }
    Ok(out.into_inner())
}

/// Rewrites the first partition of the GPT disk image at `image` as FAT12 (see the module
/// documentation), keeping its size, label and files. Returns false, and leaves the image as
/// it is, when the partition is too large for FAT12 (over about 125 MiB: a big `--add`); such
/// an image still boots, only not in the smallest machines.
pub fn reformat_fat12(image: &Path) -> Result<bool> {
    let img = fs::read(image).with_context(|| format!("reading {}", image.display()))?;
    let (off, len) = first_partition(&img).with_context(|| image.display().to_string())?;
    if fat12_cluster_size(len).is_err() {
        return Ok(false);
    }
    let new = fat12_copy(&img[off as usize..(off + len) as usize])
        .with_context(|| format!("re-formatting the EFI partition of {}", image.display()))?;
    let mut f = fs::OpenOptions::new().write(true).open(image)?;
    f.seek(SeekFrom::Start(off))?;
    f.write_all(&new)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FAT16 volume of `mib` MiB holding `files`, as the bootloader crate makes one.
    fn fat16_volume(mib: usize, files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut v = Cursor::new(vec![0u8; mib << 20]);
        let opts = FormatVolumeOptions::new().volume_label(*b"KEXOS      ");
        fatfs::format_volume(&mut v, opts).unwrap();
        {
            let fs = FileSystem::new(&mut v, FsOptions::new()).unwrap();
            assert_eq!(fs.fat_type(), FatType::Fat16);
            let root = fs.root_dir();
            root.create_dir("efi").unwrap();
            root.create_dir("efi/boot").unwrap();
            for (p, d) in files {
                root.create_file(p).unwrap().write_all(d).unwrap();
            }
        }
        v.into_inner()
    }

    fn read(volume: &[u8], path: &str) -> Vec<u8> {
        let fs = FileSystem::new(Cursor::new(volume.to_vec()), FsOptions::new()).unwrap();
        let mut d = Vec::new();
        fs.root_dir().open_file(path).unwrap().read_to_end(&mut d).unwrap();
        d
    }

    #[test]
    fn a_fat16_volume_becomes_fat12_with_the_same_files_and_label() {
        let big: Vec<u8> = (0..2_900_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let files = [
            ("efi/boot/bootx64.efi", vec![0x4d; 176_000]),
            ("kernel-x86_64", big.clone()),
            ("ramdisk", big[..1_000_000].to_vec()),
        ];
        let old = fat16_volume(6, &files);
        let new = fat12_copy(&old).unwrap();
        assert_eq!(new.len(), old.len());
        let fs = FileSystem::new(Cursor::new(new.clone()), FsOptions::new()).unwrap();
        assert_eq!(fs.fat_type(), FatType::Fat12);
        assert_eq!(fs.volume_label(), "KEXOS");
        drop(fs);
        for (p, d) in &files {
            assert!(read(&new, p) == *d, "{p} differs after re-formatting");
        }
    }

    #[test]
    fn cluster_sizes_keep_fat12() {
        assert_eq!(fat12_cluster_size(1 << 20).unwrap(), 512);
        assert_eq!(fat12_cluster_size(6 << 20).unwrap(), 2048);
        assert_eq!(fat12_cluster_size(100 << 20).unwrap(), 32 * 1024);
        assert!(fat12_cluster_size(200 << 20).is_err());
    }

    #[test]
    fn a_partition_too_large_for_fat12_is_left_as_it_is() {
        let dir = std::env::temp_dir().join(format!("kexos-esp-large-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let img = dir.join("disk.img");
        let sectors = (200u64 << 20) / SECTOR;
        let f = fs::File::create(&img).unwrap();
        f.set_len((34 + sectors) * SECTOR).unwrap(); // sparse
        drop(f);
        let mut head = vec![0u8; 34 * SECTOR as usize];
        head[512..520].copy_from_slice(b"EFI PART");
        head[512 + 72..512 + 80].copy_from_slice(&2u64.to_le_bytes());
        head[1024 + 32..1024 + 40].copy_from_slice(&34u64.to_le_bytes());
        head[1024 + 40..1024 + 48].copy_from_slice(&(34 + sectors - 1).to_le_bytes());
        let mut f = fs::OpenOptions::new().write(true).open(&img).unwrap();
        f.write_all(&head).unwrap();
        drop(f);
        assert!(!reformat_fat12(&img).unwrap(), "200 MiB cannot be FAT12");
        let after = fs::read(&img).unwrap();
        assert!(after[..head.len()] == head[..] && after[head.len()..].iter().all(|&b| b == 0), "the image was changed");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn first_partition_reads_the_gpt_and_rejects_a_bad_one() {
        let mut d = vec![0u8; 512 * 40];
        d[512..520].copy_from_slice(b"EFI PART");
        d[512 + 72..512 + 80].copy_from_slice(&2u64.to_le_bytes());
        d[1024 + 32..1024 + 40].copy_from_slice(&34u64.to_le_bytes());
        d[1024 + 40..1024 + 48].copy_from_slice(&39u64.to_le_bytes());
        assert_eq!(first_partition(&d).unwrap(), (34 * 512, 6 * 512));
        d[1024 + 40..1024 + 48].copy_from_slice(&40u64.to_le_bytes()); // past the end
        assert!(first_partition(&d).is_err());
        d[1024 + 40..1024 + 48].copy_from_slice(&33u64.to_le_bytes()); // last < first
        assert!(first_partition(&d).is_err());
        // LBAs whose byte offsets overflow u64 are errors, not wrapped ranges: 2^55 + 34
        // sectors is 34 * 512 bytes modulo 2^64, and a partition that ends past 2^64 bytes.
        let set = |d: &mut Vec<u8>, first: u64, last: u64| {
            d[1024 + 32..1024 + 40].copy_from_slice(&first.to_le_bytes());
            d[1024 + 40..1024 + 48].copy_from_slice(&last.to_le_bytes());
        };
        set(&mut d, (1 << 55) + 34, (1 << 55) + 39);
        assert!(first_partition(&d).is_err());
        set(&mut d, 1, u64::MAX / 512);
        assert!(first_partition(&d).is_err());
        set(&mut d, 34, 39);
        assert!(first_partition(&d).is_ok());
        d[512] = 0;
        assert!(first_partition(&d).is_err());
    }
}
