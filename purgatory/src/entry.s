# kexos purgatory: entry and hand-over (AT&T syntax, included by lib.rs).
# The braced operands are entry64_regs field offsets (purgatory_abi::entry_regs_offset),
# substituted by global_asm!.
#
# Register contract at purgatory_start (the object's e_entry, offset 0 of its
# first executable section), as left by the kernel's relocate_kernel:
#   - 64-bit long mode, CR0.PG = 1, CR3 = page tables that identity-map all
#     RAM, every kexec segment (this purgatory's whole memsz, .bss stack
#     included) and the memory the hashed regions name;
#   - RFLAGS.IF = 0 (interrupts off; there is no IDT the purgatory relies on);
#   - every GPR, RSP, RFLAGS other than IF, the GDT and all segment registers
#     undefined: nothing is read from them;
#   - CR4.OSFXSR may be clear: no SSE/x87 instruction is used anywhere, but
#     for libs/sha256's SHA-NI block function, which runs only after
#     purgatory_main has set OSFXSR (FLAG_SHA_NI, src/lib.rs).
# Serial output uses in/out on purgatory_serial_port (CPL 0 is enough).
#
# What it does: load our GDT (0x10 = 64-bit code, 0x18 = flat data), reload
# CS with a far return and DS/ES/SS/FS/GS with 0x18, switch to our own
# 16 KiB stack, clear DF, call purgatory_main (Rust). purgatory_main returns
# only when the kernel may be entered (digest ok, or verification skipped);
# on a mismatch it halts forever with interrupts off.
#
# Register contract at the jump to entry64_regs.rip:
#   - GDT = ours, CS = 0x10, DS = ES = SS = FS = GS = 0x18;
#   - RFLAGS = 0x2 (IF = 0, DF = 0);
#   - RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8-R15 = entry64_regs fields;
#   - RSP = entry64_regs.rsp, or the top of our stack when that field is 0;
#   - paging unchanged (the same identity map).

    .section .text.purgatory_start,"ax",@progbits
    .globl purgatory_start
    .type purgatory_start,@function
    .balign 16
purgatory_start:
    cli
    cld
    leaq purgatory_stack_top(%rip), %rsp

    # GDTR image on the stack: 2-byte limit at 6(%rsp), 8-byte base at 8(%rsp)
    # (built at run time: no absolute relocation needed).
    subq $16, %rsp
    movw $(purgatory_gdt_end - purgatory_gdt - 1), 6(%rsp)
    leaq purgatory_gdt(%rip), %rax
    movq %rax, 8(%rsp)
    lgdt 6(%rsp)
    addq $16, %rsp

    # CS = 0x10 through a far return.
    pushq $0x10
    leaq 1f(%rip), %rax
    pushq %rax
    lretq
1:
    movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs

    xorl %ebp, %ebp
    # RSP is 16-byte aligned here, as the SysV ABI wants before a call.
    callq purgatory_main

    # Verified. Choose the next RSP while we still have a stack of our own,
    # then set RFLAGS; from here on only MOVs, which leave RFLAGS alone.
    leaq purgatory_stack_top(%rip), %rcx
    movq entry64_regs+{RSP}(%rip), %rax
    testq %rax, %rax
    cmovzq %rcx, %rax
    movq %rax, purgatory_next_rsp(%rip)
    pushq $0x2
    popfq

    movq purgatory_next_rsp(%rip), %rsp
    movq entry64_regs+{RAX}(%rip), %rax
    movq entry64_regs+{RCX}(%rip), %rcx
    movq entry64_regs+{RDX}(%rip), %rdx
    movq entry64_regs+{RBX}(%rip), %rbx
    movq entry64_regs+{RBP}(%rip), %rbp
    movq entry64_regs+{RSI}(%rip), %rsi
    movq entry64_regs+{RDI}(%rip), %rdi
    movq entry64_regs+{R8}(%rip), %r8
    movq entry64_regs+{R9}(%rip), %r9
    movq entry64_regs+{R10}(%rip), %r10
    movq entry64_regs+{R11}(%rip), %r11
    movq entry64_regs+{R12}(%rip), %r12
    movq entry64_regs+{R13}(%rip), %r13
    movq entry64_regs+{R14}(%rip), %r14
    movq entry64_regs+{R15}(%rip), %r15
    jmpq *entry64_regs+{RIP}(%rip)
    .size purgatory_start, . - purgatory_start

    # In .data, not .rodata: loading a selector sets the descriptor's
    # accessed bit, which is a write to this table.
    .section .data.purgatory_gdt,"aw",@progbits
    .balign 16
purgatory_gdt:
    .quad 0                         # 0x00 null
    .quad 0                         # 0x08 unused
    .quad 0x00AF9A000000FFFF        # 0x10 64-bit code, DPL 0
    .quad 0x00CF92000000FFFF        # 0x18 flat data, DPL 0
purgatory_gdt_end:

    .section .bss.purgatory_stack,"aw",@nobits
    .balign 16
purgatory_next_rsp:
    .skip 16
purgatory_stack:
    .skip 16384
purgatory_stack_top:
