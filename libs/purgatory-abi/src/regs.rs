//! `entry64_regs`: the registers the purgatory loads before it jumps to the
//! next kernel (Linux's `struct kexec_entry64_regs`,
//! arch/x86/include/asm/kexec.h order).

/// The registers the purgatory loads right before `jmp *rip`, in this order.
/// `rsp == 0` means "keep the purgatory's own stack" (kexos's purgatory);
/// every other field is loaded as is. The in-memory layout (`repr(C)`, 17
/// little-endian u64) is the byte image [`EntryRegs::to_bytes`] writes, at
/// the offsets in [`entry_regs_offset`] that the purgatory's assembly uses.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct EntryRegs {
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rbx: u64,
    pub rsp: u64,
    pub rbp: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rip: u64,
}

/// Byte offsets of each field inside [`EntryRegs`] (and inside its byte
/// image), for the purgatory's entry assembly.
#[allow(missing_docs)]
pub mod entry_regs_offset {
    pub const RAX: usize = 0;
    pub const RCX: usize = 8;
    pub const RDX: usize = 16;
    pub const RBX: usize = 24;
    pub const RSP: usize = 32;
    pub const RBP: usize = 40;
    pub const RSI: usize = 48;
    pub const RDI: usize = 56;
    pub const R8: usize = 64;
    pub const R9: usize = 72;
    pub const R10: usize = 80;
    pub const R11: usize = 88;
    pub const R12: usize = 96;
    pub const R13: usize = 104;
    pub const R14: usize = 112;
    pub const R15: usize = 120;
    pub const RIP: usize = 128;
}

impl EntryRegs {
    /// 17 registers x 8 bytes.
    pub const SIZE: usize = 17 * 8;

    /// Every register 0.
    pub const ZERO: EntryRegs = EntryRegs {
        rax: 0,
        rcx: 0,
        rdx: 0,
        rbx: 0,
        rsp: 0,
        rbp: 0,
        rsi: 0,
        rdi: 0,
        r8: 0,
        r9: 0,
        r10: 0,
        r11: 0,
        r12: 0,
        r13: 0,
        r14: 0,
        r15: 0,
        rip: 0,
    };

    fn words(&self) -> [u64; 17] {
        [
            self.rax, self.rcx, self.rdx, self.rbx, self.rsp, self.rbp, self.rsi, self.rdi,
            self.r8, self.r9, self.r10, self.r11, self.r12, self.r13, self.r14, self.r15, self.rip,
        ]
    }

    /// Little-endian image, as patched into `entry64_regs`.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        for (chunk, w) in out.as_chunks_mut::<8>().0.iter_mut().zip(self.words()) {
            *chunk = w.to_le_bytes();
        }
        out
    }

    /// Decodes the image [`EntryRegs::to_bytes`] writes.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> EntryRegs {
        let mut w = [0u64; 17];
        for (word, chunk) in w.iter_mut().zip(b.as_chunks::<8>().0) {
            *word = u64::from_le_bytes(*chunk);
        }
        let [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15, rip] = w;
        EntryRegs {
            rax,
            rcx,
            rdx,
            rbx,
            rsp,
            rbp,
            rsi,
            rdi,
            r8,
            r9,
            r10,
            r11,
            r12,
            r13,
            r14,
            r15,
            rip,
        }
    }
}

// The struct's layout is the byte image: same size, every field at its
// offset (little-endian u64 fields), so the purgatory's repr(C) static and
// its assembly read exactly what the kernel wrote with `to_bytes`.
macro_rules! assert_offsets {
    ($($field:ident = $off:ident),* $(,)?) => {
        $(const _: () = assert!(core::mem::offset_of!(EntryRegs, $field) == entry_regs_offset::$off);)*
    };
}
assert_offsets!(
    rax = RAX,
    rcx = RCX,
    rdx = RDX,
    rbx = RBX,
    rsp = RSP,
    rbp = RBP,
    rsi = RSI,
    rdi = RDI,
    r8 = R8,
    r9 = R9,
    r10 = R10,
    r11 = R11,
    r12 = R12,
    r13 = R13,
    r14 = R14,
    r15 = R15,
    rip = RIP,
);
const _: () = assert!(core::mem::size_of::<EntryRegs>() == EntryRegs::SIZE);
const _: () = assert!(entry_regs_offset::RIP + 8 == EntryRegs::SIZE);
