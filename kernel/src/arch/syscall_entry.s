// syscall entry and user-mode entry.
//
// Register contract on `syscall` (Intel SDM vol. 2B, SYSCALL): RCX = user RIP,
// R11 = user RFLAGS, RSP still the user stack, IF cleared by SFMASK.
// Linux x86_64 ABI: RAX = number, args in RDI RSI RDX R10 R8 R9; every
// register except RAX (result), RCX and R11 is preserved for the caller.
//
// One process runs at a time, so a single kernel stack (top in
// {kernel_rsp}) serves every syscall; there is no swapgs/per-CPU area yet.

.section .text
.global kexos_syscall_entry
kexos_syscall_entry:
    mov [rip + {user_rsp}], rsp
    mov rsp, [rip + {kernel_rsp}]
    // Build a SyscallFrame (see syscall.rs) from the top down.
    push qword ptr [rip + {user_rsp}]
    push r11
    push rcx
    push r9
    push r8
    push r10
    push rdx
    push rsi
    push rdi
    push rax
    mov rdi, rsp
    // 10 pushes keep RSP 16-byte aligned at the call, as the SysV ABI wants.
    call {dispatch}
    // No interrupt may arrive once RSP points at the user stack below.
    cli
    pop rax
    pop rdi
    pop rsi
    pop rdx
    pop r10
    pop r8
    pop r9
    pop rcx
    pop r11
    pop rsp
    sysretq

// kexos_enter_user(rip: RDI, rsp: RSI, cs: RDX, ss: RCX) -> !
// First entry into a fresh process image: an IRET frame with IF set and
// every general-purpose register cleared, so no kernel value leaks.
.global kexos_enter_user
kexos_enter_user:
    push rcx            // SS
    push rsi            // RSP
    push 0x202          // RFLAGS: IF | reserved bit 1
    push rdx            // CS
    push rdi            // RIP
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
    xor r15d, r15d
    iretq
