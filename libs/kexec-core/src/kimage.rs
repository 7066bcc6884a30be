//! The image being loaded (`struct kimage`) and kexec_add_buffer.

use purgatory_abi::RegionHash;
use alloc::vec::Vec;

use bootparam::E820Entry;

use crate::error::{KexecError, SegmentError};
use crate::hole::locate_mem_hole;
use crate::memview::MemoryView;
use crate::purgatory::PurgatoryInfo;
use crate::segment::{KexecBuf, KexecSegment};
use crate::types::{page_align, PhysAddr, PhysRange, KEXEC_SEGMENT_MAX, PAGE_SIZE};

/// Normal kexec or a crash (kdump) kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KimageKind {
    /// `KEXEC_TYPE_DEFAULT`: segments anywhere in RAM, copied at jump time.
    Normal,
    /// `KEXEC_TYPE_CRASH`: segments only inside the reservation, copied at load.
    Crash {
        /// The crashkernel= reservation.
        region: PhysRange,
    },
}

/// A kexec image plan: segments with their destinations, the entry point.
#[derive(Debug)]
pub struct Kimage<'a> {
    kind: KimageKind,
    segments: Vec<KexecSegment<'a>>,
    /// Where relocate_kernel jumps: purgatory's entry (`image->start`).
    pub start: PhysAddr,
    /// The command line as the next kernel will see it (for debug output).
    pub cmdline: Vec<u8>,
    /// Crash images: the ELF core header address for `elfcorehdr=` (set by
    /// [`crate::crash_load_segments`]).
    pub elf_load_addr: Option<PhysAddr>,
    /// Crash images: the capture kernel's memory map (low 1 MiB RAM,
    /// ACPI/NVS/reserved, the crash region minus the ELF core headers), set
    /// by [`crate::crash_load_segments`]; boot_params gets this instead of
    /// the load context's e820.
    pub crash_e820: Option<Vec<E820Entry>>,
    pub(crate) purgatory: Option<PurgatoryInfo>,
    /// Hand-over buffers ([`crate::handover`]).
    pub(crate) handover: Vec<crate::handover::Handover>,
    /// SHA-256 digests already computed over file bytes a segment borrows
    /// (IMA's measurements of the initramfs and of the kernel file), with the
    /// state the hash of those bytes starts from: the digest step reuses
    /// them instead of hashing the same bytes again ([`crate::digest`]).
    pub(crate) known_digests: Vec<(&'a [u8], crate::digest::KnownDigest)>,
    /// The function of the per-segment digests purgatory checks: SHA-256
    /// unless the caller asked for XXH64 (`KEXEC_FILE_XXH64_DIGEST`); set by
    /// the plan ([`crate::DigestsAt::Copy`]) before any digest exists.
    pub(crate) region_hash: RegionHash,
}

impl<'a> Kimage<'a> {
    /// An empty image.
    pub fn new(kind: KimageKind) -> Kimage<'a> {
        Kimage {
            kind,
            segments: Vec::new(),
            start: PhysAddr(0),
            cmdline: Vec::new(),
            elf_load_addr: None,
            crash_e820: None,
            purgatory: None,
            handover: Vec::new(),
            known_digests: Vec::new(),
            region_hash: RegionHash::Sha256,
        }
    }

    /// Record a SHA-256 the caller computed over some bytes followed by
    /// exactly `data` (IMA's measurement of the initrd file, or of a
    /// bzImage whose last part is the kernel segment), with the hash's state
    /// after the bytes before `data` (a purgatory that resumes from it:
    /// purgatory_abi::REGION_PREFIXES) and maybe at a cut inside it (where
    /// purgatory may split the check between two CPUs: REGION_CUTS). A
    /// checksummed segment borrowing exactly `data` (same address and
    /// length) then gets this digest without a second pass. A wrong digest
    /// can only make purgatory refuse the image: it still hashes memory.
    pub fn kexec_known_digest(&mut self, data: &'a [u8], known: crate::digest::KnownDigest) {
        self.known_digests.push((data, known));
    }

    /// The recorded digest of exactly `data`.
    pub(crate) fn known_digest(&self, data: &[u8]) -> Option<crate::digest::KnownDigest> {
        self.known_digests.iter().find(|(d, _)| core::ptr::eq(*d, data)).map(|&(_, k)| k)
    }

    /// Normal or crash.
    pub fn kind(&self) -> KimageKind {
        self.kind
    }

    /// The segments in the order they were added.
    pub fn segments(&self) -> &[KexecSegment<'a>] {
        &self.segments
    }

    /// A segment, for patching its owned buffer after placement.
    pub fn segment_mut(&mut self, index: usize) -> Option<&mut KexecSegment<'a>> {
        self.segments.get_mut(index)
    }

    /// Index of the purgatory segment, once loaded.
    pub fn purgatory_segment(&self) -> Option<usize> {
        self.purgatory.as_ref().map(|p| p.segment)
    }

    /// Would `[start, end)` overlap any segment's destination?
    /// (`kimage_is_destination_range`; control pages must avoid these.)
    pub fn is_destination_range(&self, r: &PhysRange) -> bool {
        self.segments.iter().any(|s| s.dest_range().overlaps(r))
    }

    /// Every destination range.
    pub fn destinations(&self) -> Vec<PhysRange> {
        self.segments.iter().map(KexecSegment::dest_range).collect()
    }

    pub(crate) fn truncate_segments(&mut self, n: usize) {
        self.segments.truncate(n);
    }

    /// kexec_add_buffer: round memsz up to PAGE_SIZE, raise the alignment
    /// to PAGE_SIZE, find a hole (in `view`, or only in the crash region for
    /// a crash image) that no other segment uses, and append the segment.
    /// The 17th segment is EINVAL; no hole is EADDRNOTAVAIL with a reason.
    pub fn add_buffer(
        &mut self,
        mut kbuf: KexecBuf<'a>,
        view: &MemoryView,
    ) -> Result<PhysAddr, KexecError> {
        if self.segments.len() >= KEXEC_SEGMENT_MAX {
            return Err(KexecError::TooManySegments {
                label: kbuf.label,
                max: KEXEC_SEGMENT_MAX,
            });
        }
        let bad = |reason| KexecError::BadSegment {
            label: kbuf.label,
            reason,
        };
        let memsz = page_align(kbuf.memsz).ok_or(bad(SegmentError::SizeOverflow))?;
        if memsz == 0 {
            // Linux would compute a hole for 0 bytes; an empty segment is a loader bug.
            return Err(bad(SegmentError::Empty));
        }
        if !kbuf.buf_align.is_power_of_two() && kbuf.buf_align != 0 {
            return Err(bad(SegmentError::BadAlign(kbuf.buf_align)));
        }
        kbuf.memsz = memsz;
        kbuf.buf_align = kbuf.buf_align.max(PAGE_SIZE);
        let mem = match kbuf.mem {
            Some(mem) => mem,
            None => {
                let taken = self.destinations();
                match self.kind {
                    KimageKind::Normal => locate_mem_hole(view.ranges(), &taken, &kbuf),
                    KimageKind::Crash { region } => locate_mem_hole(&[region], &taken, &kbuf)
                        .map_err(|mut e| {
                            e.crash_region = Some(region);
                            e
                        }),
                }?
            }
        };
        self.segments.push(KexecSegment {
            label: kbuf.label,
            buf: kbuf.buffer,
            mem,
            memsz,
            checksum: !kbuf.skip_checksum,
        });
        Ok(mem)
    }

    /// Drop the data of every segment (after the entry list was built and
    /// the file buffers are freed), keeping the table: a `'static` image.
    pub fn into_table(self) -> Vec<SegmentInfo> {
        self.segments
            .iter()
            .enumerate()
            .map(|(i, s)| SegmentInfo {
                label: s.label,
                bufsz: s.bufsz(),
                mem: s.mem,
                memsz: s.memsz,
                checksum: s.checksum,
                handover: self.handover.iter().find(|h| h.segment == i).map(|h| h.kind),
            })
            .collect()
    }
}

/// A segment without its data (what `kexec -d` prints, what stays loaded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Name.
    pub label: &'static str,
    /// Data bytes.
    pub bufsz: u64,
    /// Destination.
    pub mem: PhysAddr,
    /// Destination size.
    pub memsz: u64,
    /// In the digest?
    pub checksum: bool,
    /// A hand-over buffer for the next kernel (never checksummed).
    pub handover: Option<crate::handover::HandoverKind>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::SegmentBuf;
    use abi::Errno;

    const MIB: u64 = 1 << 20;

    fn view() -> MemoryView {
        MemoryView::new([PhysRange::new(0, 64 * MIB)], &[])
    }

    #[test]
    fn rounds_memsz_and_alignment() {
        let mut k = Kimage::new(KimageKind::Normal);
        let d = [1u8; 10];
        let a = k
            .add_buffer(
                KexecBuf::new("a", SegmentBuf::Borrowed(&d), 10)
                    .align(16)
                    .top_down(true),
                &view(),
            )
            .unwrap();
        assert_eq!(a, PhysAddr(64 * MIB - 4096));
        assert_eq!(k.segments()[0].memsz, 4096);
        assert_eq!(k.segments()[0].bufsz(), 10);
        let b = k
            .add_buffer(
                KexecBuf::new("b", SegmentBuf::Owned(vec![]), 1).top_down(true),
                &view(),
            )
            .unwrap();
        assert_eq!(b, PhysAddr(64 * MIB - 8192));
        assert!(k.is_destination_range(&PhysRange::new(64 * MIB - 1, 64 * MIB)));
        assert!(!k.is_destination_range(&PhysRange::new(0, 4096)));
    }

    #[test]
    fn seventeenth_segment_is_einval() {
        let mut k = Kimage::new(KimageKind::Normal);
        for _ in 0..16 {
            k.add_buffer(KexecBuf::new("s", SegmentBuf::Owned(vec![0]), 1), &view())
                .unwrap();
        }
        let e = k
            .add_buffer(KexecBuf::new("s17", SegmentBuf::Owned(vec![0]), 1), &view())
            .unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(matches!(e, KexecError::TooManySegments { max: 16, .. }));
    }

    #[test]
    fn bad_requests() {
        let mut k = Kimage::new(KimageKind::Normal);
        let e = k
            .add_buffer(KexecBuf::new("z", SegmentBuf::Owned(vec![]), 0), &view())
            .unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        let e = k.add_buffer(
            KexecBuf::new("a", SegmentBuf::Owned(vec![]), 1).align(3 << 12),
            &view(),
        );
        assert_eq!(e.unwrap_err().errno(), Errno::EINVAL);
        let e = k.add_buffer(
            KexecBuf::new("o", SegmentBuf::Owned(vec![]), u64::MAX),
            &view(),
        );
        assert_eq!(e.unwrap_err().errno(), Errno::EINVAL);
        let e = k.add_buffer(
            KexecBuf::new("big", SegmentBuf::Owned(vec![]), 65 * MIB),
            &view(),
        );
        assert_eq!(e.unwrap_err().errno(), Errno::EADDRNOTAVAIL);
    }

    #[test]
    fn crash_image_searches_only_its_region() {
        let region = PhysRange::new(32 * MIB, 48 * MIB);
        let mut k = Kimage::new(KimageKind::Crash { region });
        let a = k
            .add_buffer(
                KexecBuf::new("k", SegmentBuf::Owned(vec![]), 4 * MIB).top_down(true),
                &view(),
            )
            .unwrap();
        assert_eq!(a, PhysAddr(44 * MIB));
        let b = k
            .add_buffer(
                KexecBuf::new("i", SegmentBuf::Owned(vec![]), 4 * MIB),
                &view(),
            )
            .unwrap();
        assert_eq!(b, PhysAddr(32 * MIB));
        let e = k
            .add_buffer(
                KexecBuf::new("huge", SegmentBuf::Owned(vec![]), 9 * MIB),
                &view(),
            )
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("crash region"), "{msg}");
        assert_eq!(e.errno(), Errno::EADDRNOTAVAIL);
    }
}
