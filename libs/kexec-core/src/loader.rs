//! The loaders table (`struct kexec_file_ops`, kexec_image_probe_default).

use alloc::vec::Vec;
use core::fmt;

use bootparam::E820Entry;

use crate::bzimage64::BzImageError;
use crate::elf64::Elf64Error;
use crate::error::KexecError;
use crate::kimage::Kimage;
use crate::memview::MemoryView;
use crate::types::PhysAddr;

/// Why a loader does not recognise an image.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeError {
    /// The bzImage64 probe's reason.
    BzImage(BzImageError),
    /// The ELF64 probe's reason.
    Elf64(Elf64Error),
    /// Another loader's reason.
    Other(&'static str),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::BzImage(e) => e.fmt(f),
            ProbeError::Elf64(e) => e.fmt(f),
            ProbeError::Other(s) => f.write_str(s),
        }
    }
}

/// What a loader needs from the running kernel besides the files.
#[derive(Clone, Copy, Debug)]
pub struct LoadContext<'c> {
    /// Where segments may be placed.
    pub view: &'c MemoryView,
    /// The memory map to hand the next kernel (see
    /// [`bootparam::e820_from_memmap`]). A crash load replaces it with the
    /// restricted map built from [`CrashSetup::memmap`].
    pub e820: &'c [E820Entry],
    /// The ACPI RSDP, if known (boot_params.acpi_rsdp_addr).
    pub acpi_rsdp: Option<u64>,
    /// The purgatory ET_REL object the kernel embeds.
    pub purgatory: &'c [u8],
    /// The running kernel's TSC frequency in kHz, if it knows it: passed
    /// on in a SETUP_KEXOS_TSC_KHZ node ([`bootparam::tsc`]) so that the
    /// next kexos need not calibrate its TSC.
    pub tsc_khz: Option<u64>,
    /// What a crash (kdump) load needs from the running kernel; required
    /// for a [`crate::KimageKind::Crash`] image, ignored otherwise.
    pub crash: Option<CrashSetup<'c>>,
}

/// The running kernel's side of a crash load (see [`crate::crash_load_segments`]).
#[derive(Clone, Copy, Debug)]
pub struct CrashSetup<'c> {
    /// The first kernel's ELF core headers (ET_CORE: a PT_LOAD per System
    /// RAM range, PT_NOTEs), already built; loaded as the "elfcorehdr"
    /// segment, whose address the capture kernel gets as `elfcorehdr=`.
    pub elf_headers: &'c [u8],
    /// The first kernel's memory map: the capture kernel's e820 is derived
    /// from it ([`memmap::crash_memmap`]), not from [`LoadContext::e820`].
    pub memmap: &'c memmap::MemoryMap,
}

/// What a loader placed (Linux's loader data is its boot_params buffer;
/// kexos keeps the addresses for `kexec -d` and tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// Loader name.
    pub loader: &'static str,
    /// Kernel load address.
    pub kernel: PhysAddr,
    /// The next kernel's entry (64-bit entry point).
    pub kernel_entry: PhysAddr,
    /// boot_params (zero page) address.
    pub boot_params: Option<PhysAddr>,
    /// Command line address and length including the NUL.
    pub cmdline: Option<(PhysAddr, u64)>,
    /// Initrd address and size.
    pub initrd: Option<(PhysAddr, u64)>,
    /// Purgatory entry (image.start).
    pub purgatory_entry: PhysAddr,
}

/// One image format (Linux's `struct kexec_file_ops`).
pub trait KexecFileOps: Sync {
    /// Name for logs ("bzImage64").
    fn name(&self) -> &'static str;
    /// Does this loader recognise `kernel`? Errors say why not.
    fn probe(&self, kernel: &[u8]) -> Result<(), ProbeError>;
    /// Place the segments of `kernel` (+ initrd, command line including its
    /// NUL, or empty) into `image`.
    fn load<'a>(
        &self,
        image: &mut Kimage<'a>,
        ctx: &LoadContext<'_>,
        kernel: &'a [u8],
        initrd: Option<&'a [u8]>,
        cmdline: &[u8],
    ) -> Result<LoadSummary, KexecError>;
    /// Where a segment starts that holds `kernel` from there to its end, if
    /// this loader makes one and the offset is a multiple of 64 (bzImage64:
    /// the protected-mode kernel after the setup sectors). The caller keeps
    /// its SHA-256 state there while it hashes the file, and the digest step
    /// reuses the file's digest for that segment ([`crate::KnownDigests`]).
    fn suffix_offset(&self, _kernel: &[u8]) -> Option<usize> {
        None
    }
    /// How many bytes of `kernel` the loaded kernel segment(s) will hold,
    /// known before the image is planned: what purgatory will check of the
    /// kernel, for sharing that check between two CPUs
    /// ([`crate::cuts_for_two_cpus`]). The suffix when there is one, else
    /// the whole file; a loader that knows better says so.
    fn loaded_len(&self, kernel: &[u8]) -> usize {
        self.suffix_offset(kernel).map_or(kernel.len(), |s| kernel.len() - s)
    }
    /// Check `kernel`'s signature against `keyring` (called after the
    /// probe, before the initrd is read). A loader without one rejects, as
    /// Linux's kexec_image_verify_sig_default does (EKEYREJECTED); what a
    /// failure means is [`crate::SigPolicy`]'s decision.
    fn verify_sig(&self, _kernel: &[u8], _keyring: &kexec_sig::Keyring) -> Result<crate::Verified, crate::SigError> {
        Err(crate::SigError::NoVerifier {
            loader: self.name(),
        })
    }
}

/// Try each loader in order; the first that accepts wins. Like Linux this
/// starts from ENOEXEC, and keeps every loader's reason for the message.
pub fn probe_image<'l>(
    loaders: &[&'l dyn KexecFileOps],
    kernel: &[u8],
) -> Result<&'l dyn KexecFileOps, KexecError> {
    let mut reasons = Vec::new();
    for &ops in loaders {
        match ops.probe(kernel) {
            Ok(()) => return Ok(ops),
            Err(e) => reasons.push((ops.name(), e)),
        }
    }
    Err(KexecError::NoLoader { reasons })
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::Errno;

    struct Never(&'static str);
    impl KexecFileOps for Never {
        fn name(&self) -> &'static str {
            self.0
        }
        fn probe(&self, _: &[u8]) -> Result<(), ProbeError> {
            Err(ProbeError::Other("never"))
        }
        fn load<'a>(
            &self,
            _: &mut Kimage<'a>,
            _: &LoadContext<'_>,
            _: &'a [u8],
            _: Option<&'a [u8]>,
            _: &[u8],
        ) -> Result<LoadSummary, KexecError> {
            unreachable!()
        }
    }

    #[test]
    fn first_accepting_loader_wins_and_reasons_are_kept() {
        let a = Never("a");
        let bz = crate::BzImage64;
        let loaders: [&dyn KexecFileOps; 2] = [&a, &bz];
        let e = probe_image(&loaders, &[0u8; 4096]).err().unwrap();
        assert_eq!(e.errno(), Errno::ENOEXEC);
        assert_eq!(
            e.to_string(),
            "no loader accepts the image: a: never; bzImage64: not a bzImage: no \"HdrS\" magic at 0x202"
        );
        let img = crate::bzimage64::tests::fake_bzimage(8 << 20, 16 << 20);
        assert_eq!(probe_image(&loaders, &img).unwrap().name(), "bzImage64");
        assert!(matches!(
            probe_image(&[], &img),
            Err(KexecError::NoLoader { .. })
        ));
    }
}
