# kexos_ap_boot: how the helper CPU gets from its start-up IPI into kexos
# (Intel SDM vol. 3A, 9.4 "Multiple-Processor (MP) Initialization" and 9.8.5
# "Initializing IA-32e Mode"). AT&T syntax.
#
# A start-up IPI with vector V starts an AP in real mode at CS = V << 8,
# IP = 0: at the start of the 4 KiB page V below 1 MiB. `install` copies
# the bytes from kexos_ap_boot to kexos_ap_boot_end to the start of such a
# page and fills in the words marked "install" below (libs/ap-boot's
# `install`, called by the kernel's arch/smp.rs and by purgatory). Nothing
# here depends on where the page is except those words.
#
# Real mode goes straight to long mode: CR4.PAE, CR3 and EFER.LME first,
# then CR0.PE and CR0.PG in one write (allowed, 9.8.5), then a far jump to a
# 64-bit code segment. The page tables the parameter block names must map
# this page to itself and the entry point: the kernel's map the first 2 MiB
# and the kernel half (kexos_ap_main switches to the kernel's own tables at
# once); purgatory's are the identity map relocate_kernel runs on.

    .pushsection .rodata.kexos_ap_boot, "a"
    .balign 16
    .globl kexos_ap_boot
    .globl kexos_ap_boot_end
    .globl kexos_ap_gdtr
    .globl kexos_ap_far
    .globl kexos_ap_params
    .globl kexos_ap_gdt
    .globl kexos_ap_long
    .code16
kexos_ap_boot:
    cli
    # Write back and drop what the caches hold (this page's lines from an
    # earlier run, the claim among them), as Linux's trampoline_start does.
    wbinvd
    cld
    movw %cs, %ax
    movw %ax, %ds
    # The start-up IPI is broadcast, so every AP runs this. The first one
    # to set the claim goes on; the others halt here with interrupts off
    # until the next INIT (kexec parks every AP with one).
    lock btsw $0, (kexos_ap_claim - kexos_ap_boot)
    jc 9f
    lgdtl (kexos_ap_gdtr - kexos_ap_boot)
    movl $0x20, %eax                  # CR4.PAE
    movl %eax, %cr4
    movl (kexos_ap_params - kexos_ap_boot), %eax    # ApParams.pml4 (below 4 GiB)
    movl %eax, %cr3
    movl $0xc0000080, %ecx            # IA32_EFER
    rdmsr
    orl $0x900, %eax                  # LME | NXE (the kernel's PTEs use NX)
    wrmsr
    movl $0x80000011, %eax            # CR0: PG | ET | PE
    movl %eax, %cr0
    ljmpl *(kexos_ap_far - kexos_ap_boot)
9:
    cli
    hlt
    jmp 9b

    .code64
kexos_ap_long:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    # The boot CPU's CR0 (caching on, WP, no x87 emulation), then its CR4
    # (PGE, OSFXSR, ...; CR0 first: CR4.CET requires CR0.WP): this CPU
    # runs the same kernel code.
    movq (kexos_ap_params + 16)(%rip), %rax
    movq %rax, %cr0
    movq (kexos_ap_params + 8)(%rip), %rax
    movq %rax, %cr4
    movq (kexos_ap_params + 24)(%rip), %rsp
    xorl %ebp, %ebp
    movq (kexos_ap_params + 32)(%rip), %rax
    callq *%rax
    ud2

    .balign 8
kexos_ap_gdt:
    .quad 0
    .quad 0x00209a0000000000          # 0x08: 64-bit code
    # Flat data with D/B set, like the kernel's and purgatory's own data
    # segments, which the first CPU runs on: QEMU keys its translated blocks
    # on SS's B bit (its HF_SS32 flag), so code both CPUs run is not
    # translated once for each (526 fewer instructions in the bench's count).
    .quad 0x00cf92000000ffff          # 0x10: data
kexos_ap_gdtr:
    .word 23
    .long 0                           # install: linear address of kexos_ap_gdt
    .balign 8
kexos_ap_far:
    .long 0                           # install: linear address of kexos_ap_long
    .word 0x08
    .balign 8
# ApParams (lib.rs): pml4, cr4, cr0, stack, entry (u64 each).
kexos_ap_params:
    .quad 0, 0, 0, 0, 0
kexos_ap_claim:
    .word 0
kexos_ap_boot_end:
    .popsection
    .code64
