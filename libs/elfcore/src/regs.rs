//! The registers of an NT_PRSTATUS note.

use crate::bytes::put_u64;
use le_bytes::u64_at;

/// x86_64 `struct user_regs_struct` order (Linux arch/x86/include/asm/user_64.h), 27 u64.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct CoreRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

impl CoreRegs {
    /// Number of registers.
    pub const COUNT: usize = 27;
    /// Size in bytes (Linux's `ELF_NGREG * sizeof(elf_greg_t)`).
    pub const BYTES: usize = Self::COUNT * 8;

    /// The registers in `user_regs_struct` order.
    pub const fn to_array(&self) -> [u64; Self::COUNT] {
        [
            self.r15,
            self.r14,
            self.r13,
            self.r12,
            self.rbp,
            self.rbx,
            self.r11,
            self.r10,
            self.r9,
            self.r8,
            self.rax,
            self.rcx,
            self.rdx,
            self.rsi,
            self.rdi,
            self.orig_rax,
            self.rip,
            self.cs,
            self.eflags,
            self.rsp,
            self.ss,
            self.fs_base,
            self.gs_base,
            self.ds,
            self.es,
            self.fs,
            self.gs,
        ]
    }

    /// The registers from an array in `user_regs_struct` order.
    pub const fn from_array(a: [u64; Self::COUNT]) -> CoreRegs {
        let [r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss, fs_base, gs_base, ds, es, fs, gs] =
            a;
        CoreRegs {
            r15,
            r14,
            r13,
            r12,
            rbp,
            rbx,
            r11,
            r10,
            r9,
            r8,
            rax,
            rcx,
            rdx,
            rsi,
            rdi,
            orig_rax,
            rip,
            cs,
            eflags,
            rsp,
            ss,
            fs_base,
            gs_base,
            ds,
            es,
            fs,
            gs,
        }
    }

    /// Write the 216 little-endian bytes at `buf[off..]` (dropping what does
    /// not fit; never panics or allocates).
    pub(crate) fn write_le(&self, buf: &mut [u8], off: usize) {
        for (i, v) in self.to_array().iter().enumerate() {
            put_u64(buf, off.saturating_add(i * 8), *v);
        }
    }

    /// Read 216 little-endian bytes at `buf[off..]`.
    pub(crate) fn read_le(buf: &[u8], off: usize) -> Option<CoreRegs> {
        let mut a = [0u64; Self::COUNT];
        for (i, v) in a.iter_mut().enumerate() {
            *v = u64_at(buf, off.checked_add(i * 8)?)?;
        }
        Some(CoreRegs::from_array(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_user_regs_struct() {
        assert_eq!(core::mem::size_of::<CoreRegs>(), 216);
        let r = CoreRegs {
            r15: 1,
            rip: 17,
            gs: 27,
            ..Default::default()
        };
        let a = r.to_array();
        assert_eq!((a[0], a[16], a[26]), (1, 17, 27));
        assert_eq!(CoreRegs::from_array(a), r);
        // Field offsets follow the declaration (repr(C)).
        assert_eq!(core::mem::offset_of!(CoreRegs, rip), 16 * 8);
        assert_eq!(core::mem::offset_of!(CoreRegs, orig_rax), 15 * 8);
        assert_eq!(core::mem::offset_of!(CoreRegs, fs_base), 21 * 8);
    }
}
