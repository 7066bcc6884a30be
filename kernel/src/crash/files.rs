//! crash's kernel files: /proc/vmcore in a capture kernel, the
//! `kexec_test` crash triggers, and the "Crash kernel" line of /proc/iomem.

use abi::Errno;

use crate::fs::kernfs::{register, KernelFile};

static VMCORE: KernelFile = KernelFile {
    path: "/proc/vmcore",
    mode: 0o400,
    read: super::vmcore::contents,
    write: None,
};
/// Test-only crash triggers (crash/test.rs).
static KEXEC_TEST_CRASH: KernelFile = KernelFile {
    path: "/sys/kernel/kexec_test_crash",
    mode: 0o200,
    read: || crate::fs::kernfs::text(alloc::string::String::new()),
    write: Some(write_test_crash),
};

/// After crash::vmcore::init, which decides whether there is a dump.
pub fn install() {
    crate::fs::procfs::register_iomem_children(super::iomem_children);
    // Only a capture kernel has a dump to offer (as in Linux).
    if super::vmcore::present() {
        register(&[&VMCORE]);
    }
    if crate::boot::test_hooks_enabled() {
        register(&[&KEXEC_TEST_CRASH]);
    }
}

fn write_test_crash(data: &[u8]) -> Result<usize, Errno> {
    let text = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
    super::test::command(text)?;
    Ok(data.len())
}
