//! Files whose contents the kernel makes (Linux's procfs/sysfs ops): each
//! subsystem registers its own with [`register`], so fs never reaches into
//! kexec or crash to answer a read; fs dispatches opens and writes by the
//! special-file id the VFS node carries (an index into the table here).

use abi::Errno;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;
use vfs::SpecialContents;

/// What an opener reads, made at open time.
pub type ReadFn = fn() -> Result<Arc<dyn SpecialContents>, Errno>;
/// A write to the file: the bytes written, or the errno.
pub type WriteFn = fn(&[u8]) -> Result<usize, Errno>;

/// One kernel file.
pub struct KernelFile {
    /// Absolute path; the parent directories are created.
    pub path: &'static str,
    /// Permission bits (0o444 read-only, 0o200 write-only, ...).
    pub mode: u32,
    /// What an opener reads.
    pub read: ReadFn,
    /// A write; `None` is EACCES.
    pub write: Option<WriteFn>,
}

/// Registered files; a node's special id is its index here.
static FILES: Mutex<Vec<&'static KernelFile>> = Mutex::new(Vec::new());

/// Put `files` into the file system.
pub fn register(files: &[&'static KernelFile]) {
    super::with(|fs| {
        for &file in files {
            let id = {
                let mut table = FILES.lock();
                table.push(file);
                (table.len() - 1) as u32
            };
            if let Some((dir, _)) = file.path.rsplit_once('/') {
                let _ = fs.mkdir_all(dir);
            }
            if let Err(e) = fs.add_special(file.path, id, file.mode) {
                info!("fs: cannot create {}: {:?}", file.path, e);
            }
        }
    })
}

/// A text made now, as an open file's contents.
pub fn text(s: String) -> Result<Arc<dyn SpecialContents>, Errno> {
    Ok(Arc::new(s.into_bytes()))
}

fn lookup(id: u32) -> Result<&'static KernelFile, Errno> {
    FILES.lock().get(id as usize).copied().ok_or(Errno::ENOENT)
}

/// What an opener of special file `id` sees.
pub(super) fn open(id: u32) -> Result<Arc<dyn SpecialContents>, Errno> {
    (lookup(id)?.read)()
}

/// A write to special file `id`.
pub(super) fn write(id: u32, data: &[u8]) -> Result<usize, Errno> {
    lookup(id)?.write.ok_or(Errno::EACCES)?(data)
}
