// kexos_boot64: the x86 64-bit boot protocol entry (Documentation/arch/x86/boot.rst,
// "64-bit Boot Protocol"). Every kexec'd kexos starts here; the first boot
// from the disk image uses the bootloader crate's entry (_start) instead.
//
// Image layout (kernel/linker.ld puts .text.boot64 first, at the kernel's
// first loadable byte, which is also the first byte of the bzImage payload):
//   +0x000  kexos_boot64_stub: where Linux has startup_32. kexos has no 32-bit
//           entry: ud2 and halt.
//   +0x100  kexos_kernel_info: the boot protocol 2.15 kernel_info ("LToP"),
//           found through the setup header's kernel_info_offset.
//   +0x200  kexos_boot64: the 64-bit entry.
//
// Register contract at kexos_boot64 (what purgatory, or any 64-bit boot
// protocol loader, provides):
//   - 64-bit long mode, paging on, the loader's page tables identity-map at
//     least [load, load + init_size), the zero page and the command line
//   - RIP = physical load address + 0x200; the load address is any 2 MiB
//     aligned physical address (kernel_alignment 2 MiB, relocatable), also
//     above 4 GiB
//   - RSI = physical address of struct boot_params (the zero page)
//   - a flat GDT with CS = 0x10 (code) and DS/ES/SS = 0x18 (data), IF = 0
//   - nothing else: no stack, no other register, no initialised .bss
//
// What it does, using nothing outside the image and the zero page:
//   1. finds its physical load address RIP-relatively, zeroes .bss, takes a
//      temporary stack in .bss;
//   2. builds page tables in .bss (addresses through RIP-relative lea, i.e.
//      physical): physical memory at PHYS_OFFSET (PML4 slot 256) and the same
//      mapping at 0 (identity, PML4 slot 0, so execution continues after the
//      CR3 load) for [0, max(4 GiB, top of e820 RAM, end of image)) rounded to
//      1 GiB (1 GiB pages if CPUID says pdpe1gb, else 2 MiB pages from a pool
//      of BOOT64_PDS page directories = 64 GiB), and the kernel image at its
//      link address (0xffffffff80200000..) -> load address, 2 MiB pages;
//   3. sets EFER.NXE, clears CR4.PGE (flushing any global TLB entry of the
//      previous kernel, which used the same virtual addresses), loads CR3,
//      sets CR0.WP, jumps to its link address, loads its own GDT (same
//      selectors: code 0x10, data 0x18);
//   4. calls kexos_boot64_rust(RDI = boot_params phys, RSI = load address
//      phys, RDX = bytes of physical memory mapped) on the .bss stack; the
//      Rust side never returns.
// On a fatal condition (load address not 2 MiB aligned, image above what the
// tables can map) it prints one line on COM1 and halts.

.set BOOT64_PDS, 64                 // 2 MiB-page directories: 64 GiB (the
                                    // kernel frees the ones it did not use)
.set PHYS_PML4_SLOT, 256            // PHYS_OFFSET = 0xffff800000000000
.set PTE_P_W, 0x3                   // present | writable
.set PTE_P_W_PS, 0x83               // present | writable | page size
.set GIB, 0x40000000

.pushsection .text.boot64, "ax"
.code64
.global kexos_boot64_stub
kexos_boot64_stub:
    ud2
1:  hlt
    jmp 1b

.org 0x100
.global kexos_kernel_info
kexos_kernel_info:
    .ascii "LToP"                   // header
    .long 16                        // size (fixed part)
    .long 16                        // size_total (no variable part)
    .long 0x8000000a                // setup_type_max: SETUP_INDIRECT | SETUP_KEXEC_KHO

.org 0x200
.global kexos_boot64
kexos_boot64:
    cli
    cld
    mov r15, rsi                            // r15 = boot_params (phys)
    lea r14, [rip + __kernel_start]         // r14 = load address (phys)

    lea rdi, [rip + .Lmsg_align]
    test r14, 0x1fffff
    jnz .Lfail_early

    // The loader must hand .bss over zeroed: it lies in the kernel segment's
    // tail beyond the file data (memsz > bufsz), which kexec zero-fills.
    // Check that before relying on nothing: record 1 + the offset of the
    // first non-zero qword in kexos_boot_bss_dirty (0 = clean), for the log.
    lea rdi, [rip + __bss_start]
    lea rcx, [rip + __bss_end]
    sub rcx, rdi
    shr rcx, 3
    xor eax, eax
    repe scasq
    je .Lbss_clean
    lea rdx, [rip + __bss_start]
    sub rdi, rdx                            // one past the mismatching qword
    sub rdi, 7                              // = offset + 1
    mov [rip + kexos_boot_bss_dirty], rdi
.Lbss_clean:
    // Zero .bss (the boot stack and tables live there too).
    lea rdi, [rip + __bss_start]
    lea rcx, [rip + __bss_end]
    sub rcx, rdi
    shr rcx, 3
    xor eax, eax
    rep stosq
    lea rsp, [rip + boot64_stack_top]       // physical, until the CR3 switch

    // r13 = bytes to map: max(4 GiB, end of e820 RAM/ACPI, end of image).
    mov r13, 0x100000000
    lea rax, [rip + __kernel_end]
    cmp rax, r13
    cmova r13, rax
    movzx ecx, byte ptr [r15 + 0x1e8]       // e820_entries
    cmp ecx, 128
    jbe 2f
    mov ecx, 128
2:  lea rdx, [r15 + 0x2d0]                  // e820_table: u64 addr, u64 size, u32 type
3:  test ecx, ecx
    jz 5f
    mov eax, dword ptr [rdx + 16]
    cmp eax, 1                              // E820_RAM
    je 4f
    cmp eax, 3                              // E820_ACPI
    je 4f
    cmp eax, 4                              // E820_NVS
    jne 6f
4:  mov rax, [rdx]
    add rax, [rdx + 8]
    cmp rax, r13
    cmova r13, rax
6:  add rdx, 20
    dec ecx
    jmp 3b
5:  add r13, GIB - 1
    shr r13, 30                             // r13 = GiB to map

    // 1 GiB pages if the CPU has them.
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .Lsmall_pages
    mov eax, 0x80000001
    cpuid
    bt edx, 26                              // pdpe1gb
    jnc .Lsmall_pages

    mov ecx, 512
    cmp r13, rcx
    cmova r13, rcx
    lea rdi, [rip + boot64_pdpt_phys]
    xor ecx, ecx
7:  mov rax, rcx
    shl rax, 30
    or rax, PTE_P_W_PS
    mov [rdi + rcx * 8], rax
    inc rcx
    cmp rcx, r13
    jb 7b
    jmp .Lphys_done

.Lsmall_pages:
    mov ecx, BOOT64_PDS
    cmp r13, rcx
    cmova r13, rcx
    lea rdi, [rip + boot64_pdpt_phys]
    lea rsi, [rip + boot64_pd_pool]
    xor ecx, ecx                            // rcx = GiB index
8:  lea rax, [rsi + PTE_P_W]
    mov [rdi + rcx * 8], rax
    mov rax, rcx
    shl rax, 30
    or rax, PTE_P_W_PS
    xor edx, edx                            // rdx = 2 MiB index inside the GiB
9:  mov [rsi + rdx * 8], rax
    add rax, 0x200000
    inc edx
    cmp edx, 512
    jb 9b
    add rsi, 4096
    inc rcx
    cmp rcx, r13
    jb 8b

.Lphys_done:
    shl r13, 30                             // r13 = bytes mapped
    lea rdi, [rip + .Lmsg_too_high]
    lea rax, [rip + __kernel_end]
    cmp rax, r13
    ja .Lfail_early

    // PML4: identity (slot 0) and direct map (slot 256) share one PDPT.
    lea rdi, [rip + boot64_pml4]
    lea rax, [rip + boot64_pdpt_phys]
    or rax, PTE_P_W
    mov [rdi], rax
    mov [rdi + PHYS_PML4_SLOT * 8], rax

    // Kernel image: link address -> load address, 2 MiB pages.
    movabs rsi, offset __kernel_start       // link address (virtual)
    mov rax, rsi
    shr rax, 39
    and eax, 511
    lea rdx, [rip + boot64_pdpt_kernel]
    lea rcx, [rdx + PTE_P_W]
    mov [rdi + rax * 8], rcx                // PML4[511] -> PDPT
    mov rax, rsi
    shr rax, 30
    and eax, 511
    lea rcx, [rip + boot64_pd_kernel]
    lea r8, [rcx + PTE_P_W]
    mov [rdx + rax * 8], r8                 // PDPT[510] -> PD
    mov rax, rsi
    shr rax, 21
    and eax, 511                            // first PD slot
    movabs rdx, offset __kernel_end
    sub rdx, rsi                            // image size (incl. .bss)
    add rdx, 0x1fffff
    shr rdx, 21                             // 2 MiB pages
    lea r8, [r14 + PTE_P_W_PS]
10: mov [rcx + rax * 8], r8
    add r8, 0x200000
    inc eax
    dec rdx
    jnz 10b

    // EFER.NXE, CR4: PAE on, PGE off (flushes global entries), CR3, CR0.WP.
    mov ecx, 0xc0000080
    rdmsr
    or eax, 1 << 11
    wrmsr
    mov rax, cr4
    and rax, ~(1 << 7)
    or rax, 1 << 5
    mov cr4, rax
    lea rax, [rip + boot64_pml4]
    mov cr3, rax
    mov rax, cr0
    or rax, 1 << 16
    mov cr0, rax

    movabs rax, offset .Lhigh
    jmp rax
.Lhigh:
    lea rsp, [rip + boot64_stack_top]       // the same stack, now at its link address
    lgdt [rip + .Lgdt_ptr]
    push 0x10
    lea rax, [rip + 11f]
    push rax
    retfq
11: mov eax, 0x18
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rdi, r15
    mov rsi, r14
    mov rdx, r13
    xor ebp, ebp
    call kexos_boot64_rust
    ud2

// Print the NUL-terminated string at RDI (any mapping that is live) on COM1, halt.
.Lfail_early:
    mov dx, 0x3fd
12: in al, dx
    test al, 0x20                           // transmitter holding register empty
    jz 12b
    mov al, [rdi]
    test al, al
    jz 13f
    mov dx, 0x3f8
    out dx, al
    inc rdi
    jmp .Lfail_early
13: cli
    hlt
    jmp 13b

.Lmsg_align:
    .asciz "kexos boot64: load address is not 2 MiB aligned; halting\r\n"
.Lmsg_too_high:
    .asciz "kexos boot64: kernel loaded above what the boot page tables map; halting\r\n"

.balign 8
.Lgdt:
    .quad 0
    .quad 0
    .quad 0x00af9a000000ffff                // 0x10: 64-bit code
    .quad 0x00cf92000000ffff                // 0x18: data
.Lgdt_end:
.Lgdt_ptr:
    .word .Lgdt_end - .Lgdt - 1
    .quad .Lgdt                             // link address: loaded after the switch
.popsection

.pushsection .data.boot64, "aw"
.balign 8
.global kexos_boot_bss_dirty
kexos_boot_bss_dirty: .quad 0
.popsection

.pushsection .bss.boot64, "aw", @nobits
.balign 4096
boot64_pml4:        .skip 4096
boot64_pdpt_phys:   .skip 4096
boot64_pdpt_kernel: .skip 4096
boot64_pd_kernel:   .skip 4096
.global kexos_boot64_pd_pool
.global kexos_boot64_pd_pool_end
kexos_boot64_pd_pool:
boot64_pd_pool:     .skip 4096 * BOOT64_PDS
kexos_boot64_pd_pool_end:
boot64_stack:       .skip 32768
boot64_stack_top:
.popsection
