//! kexec_file_load(2): Linux's kernel/kexec_file.c flow, with its error
//! order (kexec-linux-facts.md section 1), because user space (kexec-tools)
//! decides what to do next from the errno.

use abi::kexec::*;
use abi::Errno;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use vfs::FileBytes;

use super::crash_image::CrashImage;
use super::load::{self, LoadRequest, LoadedImage};
use super::{arm_crash, disarm_crash, fail, KexecLock, CRASH_IMAGE, IMAGE, LAST_ERROR};
use crate::fs::File;
use crate::proc::with_current;
use crate::time::now_ns;
use kexec_core::phases::PhaseLog;
use kexec_core::{kernel_read_file_check, FdFile, ReadFileError};
use kexec_core::purgatory_abi::RegionHash;

/// A command line longer than this cannot be copied in (Linux's memdup_user
/// would fail): ENOMEM. The loader's own cmdline_size limit applies later.
const MAX_CMDLINE: u64 = 1 << 20;

pub fn sys_kexec_file_load(kernel_fd: u64, initrd_fd: u64, cmdline_len: u64, cmdline_ptr: u64, flags: u64) -> Result<u64, Errno> {
    // A reason is only ever this call's (EBUSY and flag errors set none).
    LAST_ERROR.lock().clear();
    // kexec_load_permitted: checked before anything else, UNLOAD included.
    if super::load_disabled() {
        return Err(fail(Errno::EPERM, String::from("kexec_load_disabled is set (/proc/sys/kernel/kexec_load_disabled): no kexec_file_load until the next boot")));
    }
    if flags & !KEXEC_FILE_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let _lock = KexecLock::try_acquire()?;
    // The `kexec_test` hook's allocation failure, armed for this call only.
    let _inject = crate::mm::fail::CallScope::enter();
    if flags & KEXEC_FILE_UNLOAD != 0 {
        // Returns 0 even when nothing was loaded; the fds are ignored.
        if flags & KEXEC_FILE_ON_CRASH != 0 {
            unload_crash();
        } else if IMAGE.lock().take().is_some() {
            info!("kexec_file: image unloaded");
        }
        return Ok(0);
    }
    let mut phases = PhaseLog::start(now_ns());
    let (kernel, kernel_path) = read_file_from_fd(kernel_fd as i32, "kernel").map_err(|(e, why)| fail(e, why))?;
    // The initrd is looked up now so that the helper CPU can hash it too,
    // but it counts as read after the signature check (Linux's order): an
    // error reading it is reported only then, and its measurement recorded.
    let initrd_read = (flags & KEXEC_FILE_NO_INITRAMFS == 0).then(|| read_file_from_fd(initrd_fd as i32, "initrd"));
    phases.mark("read", now_ns());
    // The loader first (no side effects): where the part of the file that
    // is a whole segment starts (KexecFileOps::suffix_offset), for IMA's
    // pass to keep the hash state there.
    let probed = load::probe(&kernel, &kernel_path);
    phases.mark("probe", now_ns());
    // IMA measures what was read, before any check (ima_post_read_file):
    // also a file no loader accepts. Each measurement is recorded where
    // Linux takes it, the kernel's before the policy decides.
    let ops = probed.as_ref().ok().copied();
    let initrd_bytes: Option<&[u8]> = match &initrd_read {
        Some(Ok((data, _))) if ops.is_some() => Some(data),
        _ => None,
    };
    let region_hash = if flags & KEXEC_FILE_XXH64_DIGEST != 0 { RegionHash::Xxh64 } else { RegionHash::Sha256 };
    let second_cpu = load::second_cpu_page(region_hash);
    let (checked, kernel_ima, initrd_ima) = hash_side_by_side(ops, &kernel, initrd_bytes, second_cpu.is_ok());
    let (kernel_sha256, kernel_digest, mut ima_ns) = kernel_ima;
    crate::ima::record(&kernel_sha256, &kernel_path);
    phases.mark("ima|verify_sig", now_ns());
    let ops = probed.map_err(|(e, why)| fail(e, why))?;
    let checked = checked.expect("the signature is checked whenever a loader accepted the file");
    let signature = super::sig::validate_signature(checked, &kernel_path)?;
    let (initrd, initrd_sha256) = match initrd_read {
        None => (None, None),
        Some(read) => {
            let (data, path) = read.map_err(|(e, why)| fail(e, why))?;
            let (sha256, kept, ns) = initrd_ima.expect("hashed whenever it was read and a loader accepted the kernel");
            crate::ima::record(&sha256, &path);
            ima_ns += ns;
            (Some(data), Some(kept.unwrap_or(kexec_core::SuffixDigest::whole(sha256))))
        }
    };
    let cmdline = copy_cmdline(cmdline_ptr, cmdline_len)?;
    crate::ima::measure_kexec_cmdline(&cmdline);
    phases.mark("ima", now_ns());
    info!(
        "ima: measured {} ({} KiB) and the initramfs ({} KiB) in {} us",
        kernel_path,
        kernel.len() >> 10,
        initrd.as_ref().map_or(0, |d| d.len() >> 10),
        ima_ns / 1000
    );
    let req = LoadRequest {
        kernel: &kernel,
        kernel_path: &kernel_path,
        initrd: initrd.as_deref(),
        known: kexec_core::KnownDigests { kernel: kernel_digest, initrd: initrd_sha256 },
        cmdline: &cmdline,
        signature: &signature,
        debug: flags & KEXEC_FILE_DEBUG != 0,
        region_hash,
        second_cpu,
    };
    let phases = &mut phases;
    if flags & KEXEC_FILE_ON_CRASH != 0 {
        info!("kexec_file: no IMA measurement list for a crash kernel (as Linux)");
        return load_crash(ops, &req, phases);
    }
    let image = LoadedImage::load(ops, &req, phases).map_err(|(e, why)| fail(e, why))?;
    // Only now is the previous image replaced: a failed load leaves it intact.
    *IMAGE.lock() = Some(image);
    Ok(0)
}

/// The SHA-256 passes of a load, side by side: the loader's verify_sig (if a
/// loader accepted the kernel) here, IMA's over the kernel and the initrd on
/// the helper CPU (arch::smp). Authenticode hashes other bytes than IMA, so
/// the passes share nothing. IMA's pass over the kernel keeps the hash state
/// where the loader's last segment starts (KexecFileOps::suffix_offset).
fn hash_side_by_side(
    ops: Option<&dyn kexec_core::KexecFileOps>,
    kernel: &[u8],
    initrd: Option<&[u8]>,
    two_cpus_in_purgatory: bool,
) -> (Option<super::sig::Checked>, crate::ima::FileDigest, Option<crate::ima::FileDigest>) {
    let suffix = ops.and_then(|ops| ops.suffix_offset(kernel));
    // Where purgatory's two CPUs will split the check: IMA's pass keeps the
    // hash state there too (purgatory_abi::REGION_CUTS).
    let (kernel_cut, initrd_cut) = match ops {
        Some(ops) if two_cpus_in_purgatory => kexec_core::cuts_for_two_cpus(ops.loaded_len(kernel), suffix, initrd.map_or(0, <[u8]>::len)),
        _ => (None, None),
    };
    let (checked, (kernel_ima, initrd_ima, on_helper)) = crate::arch::smp::join(
        || ops.map(|ops| super::sig::check(ops, kernel)),
        || {
            let k = crate::ima::digest_file(kernel, suffix, kernel_cut);
            let i = initrd.map(|d| crate::ima::digest_file(d, Some(0), initrd_cut));
            (k, i, crate::arch::smp::on_helper())
        },
    );
    if on_helper {
        info!(
            "smp: IMA's passes took {} us (kernel) and {} us (initramfs) on the helper CPU, verify_sig {} us on this one",
            kernel_ima.2 / 1000,
            initrd_ima.as_ref().map_or(0, |d| d.2 / 1000),
            checked.as_ref().map_or(0, |c| c.1 / 1000)
        );
    }
    (checked, kernel_ima, initrd_ima)
}

/// A crash image goes into the crashkernel= region. Without one the loader
/// still runs, as in Linux, so its own checks (command line length, ...)
/// come first; placement then fails with EADDRNOTAVAIL, and we say why.
fn load_crash(ops: &dyn kexec_core::KexecFileOps, req: &LoadRequest, phases: &mut PhaseLog) -> Result<u64, Errno> {
    let reserved = crate::crash::region();
    let region = reserved.unwrap_or((0, 0));
    let mut slot = CRASH_IMAGE.lock();
    let image = CrashImage::load(req, ops, region, phases, || {
        disarm_crash();
        if let Some(old) = slot.take() {
            old.unprotect();
        }
    })
    .map_err(|(e, why)| match (e, reserved) {
        (Errno::EADDRNOTAVAIL, None) => fail(e, String::from("no crash kernel region: boot with crashkernel=SIZE to reserve one")),
        _ => fail(e, why),
    })?;
    arm_crash(&image);
    *slot = Some(image);
    Ok(0)
}

/// UNLOAD with ON_CRASH: only the crash image goes.
fn unload_crash() {
    disarm_crash();
    if let Some(old) = CRASH_IMAGE.lock().take() {
        old.unprotect();
        info!("kexec_file: crash image unloaded");
    }
}

/// kernel_read_file_from_fd: the whole file, read through the fd table and
/// the VFS, checked in Linux's order (kexec_core::kernel_read_file_check:
/// EBADF, EINVAL for a device or directory, ETXTBSY, EINVAL when empty,
/// EFBIG above 4 GiB). The bytes are not copied: the ramfs shares them
/// (vfs::FileBytes), and a write to the file while the load runs copies
/// them instead, so the loader sees one stable version (Linux gets the same
/// from deny_write_access). `what` names the file in the refusal, which the
/// caller reports ([`fail`]) when its turn in Linux's order comes.
fn read_file_from_fd(fd: i32, what: &str) -> Result<(FileBytes, String), (Errno, String)> {
    let refuse = |e: ReadFileError| (e.errno(), format!("cannot read the {} fd {}: {}", what, fd, e));
    let io = |e: Errno| (e, format!("cannot read the {} fd {}", what, fd));
    with_current(|p| {
        let (f, path) = match p.fds.get(fd).map_err(|e| (e, format!("{} fd {} is not open", what, fd)))? {
            File::Node(f, path) => (f, path),
            File::Device(_) => return Err(refuse(ReadFileError::NotRegular)),
        };
        let data = crate::fs::with(|vfs| -> Result<FileBytes, (Errno, String)> {
            let regular = vfs.kind(f.ino) == vfs::NodeKind::File;
            let size = if regular { vfs.file_data(f.ino).map_err(io)?.len() as u64 } else { 0 };
            let facts = FdFile { readable: f.readable, regular, writers: vfs.writers(f.ino), size };
            kernel_read_file_check(&facts).map_err(refuse)?;
            vfs.file_bytes(f.ino).map_err(io)
        })?;
        Ok((data, path.clone()))
    })
}

/// The command line, NUL included; its last byte must be the NUL (EINVAL).
fn copy_cmdline(ptr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if len > MAX_CMDLINE {
        return Err(fail(Errno::ENOMEM, format!("command line of {} bytes is too long to copy", len)));
    }
    let mut buf = alloc::vec![0u8; len as usize];
    with_current(|p| p.space.copy_from_user(ptr, &mut buf))?;
    if buf.last() != Some(&0) {
        return Err(fail(Errno::EINVAL, String::from("command line is not NUL-terminated")));
    }
    Ok(buf)
}
