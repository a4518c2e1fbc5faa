; sensitive.asm — a tiny monitor, and a "guest kernel" deprivileged to ring 3.
; A lab for the book's chapter "Trap-and-emulate and the Popek-Goldberg conditions".
;
; Build:  tools/build-labs      (nasm -f bin -o book/labs/sensitive.img book/labs/sensitive.asm)
; Run:    x86lab run --bios book/labs/sensitive.img --headless
;         x86lab debug --bios book/labs/sensitive.img --headless --script book/labs/sensitive.dbg
;
; This is a 64 KiB ROM that replaces the BIOS: the CPU starts at its reset vector. The ring-0
; part plays a trap-and-emulate monitor. It builds a GDT (ring 0 and ring 3 segments, a TSS), an
; IDT with a #GP handler and two gates that ring 3 may call, enters protected mode and drops to
; ring 3 with IOPL 0, as a monitor would run a guest kernel it wants to control.
;
; The ring-3 part plays that guest kernel. It does what a kernel does, and reports through the
; monitor's "hypercall" INT 30h (print the string at ESI) what the hardware let it see:
;   1. POPFD to set IF (enable interrupts): at CPL 3 with IOPL 0 the CPU ignores the IF bit
;      without a fault (SDM Vol. 2B, POPF: "the IF flag is not affected"). No trap: the monitor
;      never learns that its guest wanted interrupts on.
;   2. SGDT: stores the GDTR at any CPL. No trap: the guest sees the monitor's GDT base.
;   3. SMSW: stores CR0's low 16 bits at any CPL. No trap: the guest sees PE = 1 (and, were
;      it a real-mode guest, would learn it is not in real mode).
;   4. CLI: IOPL-sensitive and, at CPL 3 > IOPL, a #GP(0) (SDM Vol. 2A, CLI). This one traps:
;      the monitor's #GP handler reads the opcode (FAh), clears its *virtual* IF, skips the
;      instruction and resumes the guest: trap, then emulate.
;   5. STI: traps the same way; the monitor sets the virtual IF.
; Then INT 31h asks the monitor to end the run (port F4h, value 0: exit status 1).

        bits 16
        org 0xF0000

CODE0   equ 0x08
DATA0   equ 0x10
CODE3   equ 0x18 | 3
DATA3   equ 0x20 | 3
TSSSEL  equ 0x28

GDT     equ 0x1000          ; the GDT in RAM (the CPU sets the TSS's busy bit there)
IDT     equ 0x2000          ; 256 gates
TSS     equ 0x3000
VIF     equ 0x3800          ; the monitor's virtual IF of its guest (0 or 1)
STACK0  equ 0x9F000         ; ring-0 stack (TSS.ESP0)
STACK3  equ 0x70000         ; ring-3 stack

start:
        cli
        cld
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7000
        ; Copy the GDT to RAM, then enter protected mode.
        mov si, gdt - 0xF0000
        mov di, GDT
        mov cx, (gdt_end - gdt) / 2
        cs rep movsw
        mov bx, gdtr - 0xF0000
        o32 lgdt [cs:bx]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword CODE0:pm

        bits 32
pm:
        mov ax, DATA0
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, STACK0
        ; The IDT: every vector to `unexpected`, then #GP, INT 30h, INT 31h.
        mov edi, IDT
        mov ecx, 256
.idt:   mov eax, unexpected
        mov dl, 0x8E                    ; present, DPL 0, 32-bit interrupt gate
        call set_gate
        add edi, 8
        loop .idt
        mov edi, IDT + 13 * 8
        mov eax, gp_handler
        mov dl, 0x8E
        call set_gate
        mov edi, IDT + 0x30 * 8
        mov eax, hc_print
        mov dl, 0xEE                    ; DPL 3: ring 3 may call it with INT 30h
        call set_gate
        mov edi, IDT + 0x31 * 8
        mov eax, hc_exit
        mov dl, 0xEE
        call set_gate
        lidt [idtr]
        ; The TSS: only SS0:ESP0 (where the CPU switches stacks on entry to ring 0) and an
        ; I/O map base past the limit (no port is open to ring 3).
        mov edi, TSS
        xor eax, eax
        mov ecx, 26
        rep stosd
        mov dword [TSS + 4], STACK0
        mov dword [TSS + 8], DATA0
        mov word [TSS + 102], 104
        mov ax, TSSSEL
        ltr ax
        mov dword [VIF], 1
        mov esi, msg_start
        call puts
        ; Drop to ring 3: IRETD pops EIP, CS, EFLAGS, ESP, SS. IOPL 0, IF 0.
        push dword DATA3
        push dword STACK3
        push dword 0x00000002
        push dword CODE3
        push dword guest
        iretd

; ---------------------------------------------------------------- ring 3: the "guest kernel"
guest:
        mov ax, DATA3
        mov ds, ax
        mov es, ax

        ; ANCHOR: guest
        ; 1. POPFD with IF = 1.
        pushfd
        or dword [esp], 0x200
        popfd                           ; no fault, and IF stays 0
        pushfd
        pop ebx
        mov esi, msg_popf
        int 0x30
        mov eax, ebx
        call hexline

        ; 2. SGDT.
        sub esp, 8
        sgdt [esp + 2]                  ; limit at esp+2, base at esp+4
        mov ebx, [esp + 4]
        add esp, 8
        mov esi, msg_sgdt
        int 0x30
        mov eax, ebx
        call hexline

        ; 3. SMSW.
        smsw ax
        movzx ebx, ax
        mov esi, msg_smsw
        int 0x30
        mov eax, ebx
        call hexline

        ; 4. and 5. CLI and STI: each a #GP the monitor emulates.
cli_here:
        cli
        mov esi, msg_after_cli
        int 0x30
sti_here:
        sti
        mov esi, msg_after_sti
        int 0x30

        int 0x31                        ; "hypercall": end the run
        ; ANCHOR_END: guest

; Prints EAX in hex and a newline, through the hypercall (ring 3 cannot OUT to port E9h).
hexline:
        mov edi, hexbuf3
        mov ecx, 8
.d:     rol eax, 4
        mov edx, eax
        and edx, 0xF
        mov dl, [hexdigits + edx]
        mov [edi], dl
        inc edi
        loop .d
        mov word [edi], 0x000A
        mov esi, hexbuf3
        int 0x30
        ret

; ---------------------------------------------------------------- ring 0: the monitor
; INT 30h: print the zero-terminated string at DS:ESI (the guest's pointer; a real monitor
; would check it).
hc_print:
        call puts
        iretd

; INT 31h: the guest asks to be switched off.
hc_exit:
        mov esi, msg_exit
        call puts
        mov al, 0
        out 0xF4, al
        hlt

; ANCHOR: gp
; #GP: the stack holds the error code, then EIP, CS, EFLAGS, ESP, SS of the guest.
gp_handler:
        push eax
        push esi
        mov esi, msg_gp
        call puts
        mov eax, [esp + 12]             ; the guest's EIP
        call puthex
        mov eax, [esp + 12]
        mov al, [eax]                   ; the opcode that trapped
        cmp al, 0xFA
        je .cli
        cmp al, 0xFB
        je .sti
        mov esi, msg_gp_other
        call puts
        mov al, 1
        out 0xF4, al
        hlt
.cli:   mov dword [VIF], 0
        mov esi, msg_gp_cli
        jmp .resume
.sti:   mov dword [VIF], 1
        mov esi, msg_gp_sti
.resume:
        call puts
        inc dword [esp + 12]            ; emulated: skip the one-byte instruction
        pop esi
        pop eax
        add esp, 4                      ; drop the error code
        iretd
; ANCHOR_END: gp

unexpected:
        mov esi, msg_unexpected
        call puts
        mov al, 1
        out 0xF4, al
        hlt

; EDI = the gate's address, EAX = the handler, DL = the type byte.
set_gate:
        mov [edi], ax
        mov word [edi + 2], CODE0
        mov byte [edi + 4], 0
        mov [edi + 5], dl
        shr eax, 16
        mov [edi + 6], ax
        ret

puts:
        push eax
.n:     lodsb
        test al, al
        jz .e
        out 0xE9, al
        jmp .n
.e:     pop eax
        ret

puthex:
        push ecx
        push edx
        mov ecx, 8
.d:     rol eax, 4
        mov edx, eax
        and edx, 0xF
        mov dl, [hexdigits + edx]
        push eax
        mov al, dl
        out 0xE9, al
        pop eax
        loop .d
        pop edx
        pop ecx
        ret

hexdigits:      db "0123456789ABCDEF"
msg_start:      db "monitor: GDT, IDT and TSS ready; entering the guest at CPL 3, IOPL 0", 10, 0
msg_popf:       db "guest: POPFD set IF=1 (no fault); PUSHFD now reads EFLAGS = ", 0
msg_sgdt:       db "guest: SGDT (no fault) shows the monitor's GDT base = ", 0
msg_smsw:       db "guest: SMSW (no fault) shows CR0 low word = ", 0
msg_after_cli:  db "guest: CLI done, as far as the guest can tell", 10, 0
msg_after_sti:  db "guest: STI done, as far as the guest can tell", 10, 0
msg_gp:         db "monitor: #GP from the guest at EIP=", 0
msg_gp_cli:     db ": CLI, emulated (virtual IF = 0)", 10, 0
msg_gp_sti:     db ": STI, emulated (virtual IF = 1)", 10, 0
msg_gp_other:   db ": not an instruction this monitor emulates", 10, 0
msg_unexpected: db "monitor: unexpected exception", 10, 0
msg_exit:       db "monitor: the guest asked to stop", 10, 0

        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF           ; 0x08 ring 0 code, flat
        dq 0x00CF92000000FFFF           ; 0x10 ring 0 data, flat
        dq 0x00CFFA000000FFFF           ; 0x18 ring 3 code, flat
        dq 0x00CFF2000000FFFF           ; 0x20 ring 3 data, flat
        dw 103, TSS                     ; 0x28 the TSS: limit 103, base 0x3000,
        db 0, 0x89, 0, 0                ;      available 32-bit TSS, DPL 0
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd GDT
idtr:   dw 256 * 8 - 1
        dd IDT

hexbuf3 equ 0x71000                     ; the guest's hex buffer (ring 3 data, RAM)

        times 0xFFF0 - ($ - $$) db 0xF4
reset:  db 0xEA                         ; F000:FFF0, the reset vector: JMP F000:start
        dw start - 0xF0000, 0xF000
        times 0x10000 - ($ - $$) db 0xF4
