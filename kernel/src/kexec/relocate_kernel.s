// relocate_kernel: the last code the old kernel runs. This header is the one
// description of its contract; kexec_core's EntryWalk (libs/kexec-core/src/walk.rs)
// models it and the builder (entry.rs) writes what it reads.
//
// Register contract. Copied into a control page (physical, identity-mapped,
// overlapping no destination) and entered there at its first byte with:
//   RDI = head: the first entry, processed like any other entry
//   RSI = physical address of the control page (code page; the next page
//         is this code's stack)
//   RDX = physical entry point of purgatory
//   CR3 = identity page tables (built in other control pages), interrupts off
// It leaves with every general register but RSP zero, jumping to RDX.
//
// Entry list (Linux's format, kernel/kexec_core.c, plus one kexos kind). An
// entry is a page address with exactly one kind in its low 12 bits:
//   IND_DESTINATION 0x1  the destination pointer := the address
//   IND_INDIRECTION 0x2  read the next entries from the address, slot by slot
//                        (an indirection page: up to 511 entries, then the
//                        chain to the next page; the head is one of these)
//   IND_DONE        0x4  (address 0) end of list: enter purgatory
//   IND_SOURCE      0x8  copy the page at the address to the destination
//                        pointer; the pointer advances a page
//   IND_ZERO       0x10  (kexos, address 0) zero the destination page; the
//                        pointer advances a page: a segment's zero tail costs
//                        no source page and no copy
// The list builder guarantees no source page is the destination of a later
// copy (kimage_alloc_page's rule), so a one-way copy in list order is safe.
//
// What this code cannot check is checked before it runs: kernel_kexec walks
// the final list with kexec_core::check_entry_list and refuses to jump if
// the model rejects it. So the cases below, each harmful here, never reach
// this code: a head that is not IND_INDIRECTION/IND_DONE (the next entry
// would be read at physical 0), IND_SOURCE/IND_ZERO before any
// IND_DESTINATION (the copy would go to physical 0), an entry with no kind,
// two kinds or unknown flag bits (here: skipped, or the first kind in the
// order tested below wins), and a list without IND_DONE (an endless walk).
// A crash image's head is IND_DONE: its segments were written at load time.
//
// Everything here is position-independent: no absolute addresses.

.section .text
.global kexos_relocate_kernel
.global kexos_relocate_kernel_end
.align 16
kexos_relocate_kernel:
    // Own stack: top of the page after the code page.
    lea rsp, [rsi + 0x2000]
    mov r15, rdx                    // purgatory entry, kept in a register

    // Global TLB entries survive a CR3 load: clear CR4.PGE so no stale
    // translation of the old kernel is used while writing through the new
    // tables (Linux bug 219592). Keep PAE (and LA57 if it was on).
    mov rax, cr4
    and rax, ~(1 << 7)
    mov cr4, rax
    // CR0: keep PG|PE|ET|NE, clear WP (we write everywhere), AM, TS, EM.
    mov rax, cr0
    and rax, ~((1 << 16) | (1 << 18) | (1 << 3) | (1 << 2))
    mov cr0, rax
    cld

    mov rcx, rdi                    // current entry
    xor edi, edi                    // destination pointer (0 until an IND_DESTINATION: never used so, see the header)
    xor ebx, ebx                    // next entry slot (0 until the head's IND_INDIRECTION)
    jmp .Lclassify
.Lnext_entry:  // fetch the next entry
    mov rcx, [rbx]
    add rbx, 8
.Lclassify:
    test cl, 0x1                    // IND_DESTINATION
    jz .Lnot_destination
    mov rdi, rcx
    and rdi, -4096
    jmp .Lnext_entry
.Lnot_destination:
    test cl, 0x2                    // IND_INDIRECTION
    jz .Lnot_indirection
    mov rbx, rcx
    and rbx, -4096
    jmp .Lnext_entry                          // read the indirection page's first entry
.Lnot_indirection:
    test cl, 0x4                    // IND_DONE
    jnz .Ldone
    test cl, 0x8                    // IND_SOURCE
    jz .Lnot_source
    mov rsi, rcx
    and rsi, -4096
    mov ecx, 512
    rep movsq                       // RDI advances by a page
    jmp .Lnext_entry
.Lnot_source:
    test cl, 0x10                   // IND_ZERO
    jz .Lnext_entry                 // no kind: skipped (rejected before the jump)
    xor eax, eax
    mov ecx, 512
    rep stosq                       // RDI advances by a page
    jmp .Lnext_entry
.Ldone:
    // Flush the TLB before leaving, then start purgatory with clean registers.
    mov rax, cr3
    mov cr3, rax
    xor eax, eax
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    xor esi, esi
    xor edi, edi
    xor ebp, ebp
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    xor r11d, r11d
    xor r12d, r12d
    xor r13d, r13d
    xor r14d, r14d
    jmp r15
kexos_relocate_kernel_end:
