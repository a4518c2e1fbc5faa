; =============================================================================
; paging.asm — x86lab test ROM for paging (Intel SDM Vol. 3A chapter 4)
; =============================================================================
;
; Build:  nasm -f bin -o roms/tests/paging.bin roms/tests/paging.asm
; Run:    x86lab run --bios roms/tests/paging.bin --headless
;
; Self-contained (no harness include): starts at the reset vector in real mode,
; copies a flat GDT to RAM, enters 32-bit protected mode, installs an IDT and a
; TSS (for ring 3 -> ring 0 transitions), then:
;
;   1. 32-bit paging with 4 KiB pages: translation, A/D flags, not-present PTE
;      and PDE, supervisor write with CR0.WP = 0 and 1, user read of a
;      supervisor page, user write of a read-only page, user access through a
;      supervisor-only IDT/GDT/TSS (implicit supervisor accesses), CR2 and the
;      error code of every #PF;
;   2. MOV CR3 and INVLPG make new mappings visible; a global page (CR4.PGE)
;      survives MOV CR3 but not INVLPG;
;   3. 4 MiB pages (CR4.PSE) and a reserved bit in a 4 MiB PDE (RSVD);
;   4. PAE paging: PDPTEs, 4 KiB and 2 MiB pages, XD and address bit 32 as
;      reserved bits (RSVD; x86lab's physical bus is 32 bits), a not-present
;      PDPTE, and #GP(0) on MOV CR3 with a reserved bit in a PDPTE.
;
; Output on port 0xE9: "PASS <name>" or "FAIL <name> (got X want Y)" per check,
; then "paging: N failed". Exit through port 0xF4: 0 if all passed (exit status
; 1), else 1 (exit status 3).
;
; Exceptions: every vector has a stub that records the vector, the error code
; and CR2, then "long-jumps" back: ESP := v_saved_esp, jump to v_resume (set by
; EXPECT before the instruction that should fault). With v_resume = 0 an
; exception is unexpected: FAIL and exit.
;
; Physical memory (RAM, identity-mapped while paging is on):
;   0x00500  variables            0x01000  GDT           0x02000  IDT
;   0x03000  TSS                  0x10000  32-bit page directory
;   0x11000  page table 0-4 MiB   0x12000  page table 4-8 MiB (test pages)
;   0x13000  PAE PDPT (+0x20: a bad one)   0x14000  PAE page directory
;   0x15000  PAE page table 0-2 MiB        0x16000  PAE page table 4-6 MiB
;   0x20000 .. 0x28FFF  test data pages   0x7F000  ring-3 stack (top)
;   0x8FFF0  ring-0 stack (top)           0x9F000  TSS.ESP0 stack (top)
; =============================================================================

        org 0xF0000
%define R(x) ((x) - $$)

DEBUGCON        equ 0xE9
EXIT_PORT       equ 0xF4

CODE0           equ 0x08
DATA0           equ 0x10
CODE3           equ 0x18 | 3
DATA3           equ 0x20 | 3
TSS_SEL         equ 0x28

GDT_ADDR        equ 0x1000
IDT_ADDR        equ 0x2000
TSS_ADDR        equ 0x3000
PD              equ 0x10000
PT0             equ 0x11000
PT1             equ 0x12000
PDPT            equ 0x13000
PDPT_BAD        equ 0x13020
PAE_PD          equ 0x14000
PAE_PT0         equ 0x15000
PAE_PT2         equ 0x16000
USER_STACK      equ 0x7F000
KSTACK          equ 0x8FFF0
ESP0            equ 0x9F000

; page flags
P               equ 1
RW              equ 2
US              equ 4
A               equ 0x20
D               equ 0x40
PS              equ 0x80
G               equ 0x100

; variables
v_resume        equ 0x500
v_saved_esp     equ 0x504
v_vec           equ 0x508
v_err           equ 0x50C
v_cr2           equ 0x510
v_fail          equ 0x514
v_tmp           equ 0x518

; ---- macros ----------------------------------------------------------------

; CHECK "name", value, expected
%macro CHECK 3
        mov eax, %2
        mov ebx, %3
        mov esi, %%name
        call check
        jmp %%skip
%%name: db %1, 0
%%skip:
%endmacro

; EXPECT resume_label: the next instruction should fault; continue at the label.
%macro EXPECT 1
        mov dword [v_resume], %1
        mov [v_saved_esp], esp
        mov dword [v_vec], 0xFFFFFFFF
        mov dword [v_err], 0xFFFFFFFF
        mov dword [v_cr2], 0
%endmacro

%macro NOEXPECT 0
        mov dword [v_resume], 0
%endmacro

; CHECK_PF "name", error, cr2: the last exception was #PF with that error code and CR2.
%macro CHECK_PF 3
        CHECK {%1, ": vector"}, dword [v_vec], 14
        CHECK {%1, ": error code"}, dword [v_err], %2
        CHECK {%1, ": CR2"}, dword [v_cr2], %3
%endmacro

; USER label: run ring-3 code at label (it ends with INT 0x30 or a fault).
%macro USER 1
        push dword DATA3
        push dword USER_STACK
        push dword 0x002
        push dword CODE3
        push dword %1
        iretd
%endmacro

; Reloads CR3 (flushes non-global TLB entries).
%macro RELOAD_CR3 0
        mov eax, cr3
        mov cr3, eax
%endmacro

; =============================================================================
        bits 16
start:
        cli
        cld
        mov ax, 0xF000
        mov ds, ax
        xor ax, ax
        mov es, ax
        mov si, R(gdt)
        mov di, GDT_ADDR
        mov cx, gdt_end - gdt
        rep movsb
        xor ax, ax
        mov ds, ax
        o32 lgdt [cs:R(gdtr)]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword CODE0:pm32

; =============================================================================
        bits 32
pm32:
        mov ax, DATA0
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, KSTACK
        mov dword [v_resume], 0
        mov dword [v_fail], 0

        ; IDT: vectors 0-31 interrupt gates (DPL 0), vector 0x30 DPL 3.
        mov edi, IDT_ADDR
        xor ecx, ecx
.idt:   mov eax, [isr_table + ecx*4]
        mov edx, 0x8E00
        call set_gate
        add edi, 8
        inc ecx
        cmp ecx, 32
        jb .idt
        mov edi, IDT_ADDR + 0x30 * 8
        mov eax, isr48
        mov edx, 0xEE00
        call set_gate
        lidt [idtr]

        ; TSS: ring-0 stack for interrupts from ring 3.
        mov dword [TSS_ADDR + 4], ESP0
        mov dword [TSS_ADDR + 8], DATA0
        mov ax, TSS_SEL
        ltr ax
        xor eax, eax
        str ax
        CHECK "protected mode, TSS loaded", eax, TSS_SEL

        ; CPUID.1:EDX advertises PSE (3), PAE (6), PGE (13).
        mov eax, 1
        cpuid
        and edx, (1 << 3) | (1 << 6) | (1 << 13)
        CHECK "CPUID PSE PAE PGE", edx, (1 << 3) | (1 << 6) | (1 << 13)

        ; Markers in the test data pages.
        mov edi, 0x20000
        xor ecx, ecx
.mark:  mov eax, ecx
        or eax, 0xAB000000
        mov [edi], eax
        add edi, 0x1000
        inc ecx
        cmp ecx, 9
        jb .mark

; ---- 32-bit paging, 4 KiB pages ------------------------------------------------
        ; PT0: identity map 0-4 MiB, user read/write, except the GDT/IDT/TSS pages
        ; (1-3) and the TSS.ESP0 stack page, which are supervisor-only.
        mov edi, PT0
        xor ecx, ecx
.pt0:   mov eax, ecx
        shl eax, 12
        or eax, P | RW | US
        mov [edi + ecx*4], eax
        inc ecx
        cmp ecx, 1024
        jb .pt0
        and dword [PT0 + 1*4], ~US
        and dword [PT0 + 2*4], ~US
        and dword [PT0 + 3*4], ~US
        and dword [PT0 + 0x9E*4], ~US
        mov dword [PD + 0], PT0 | P | RW | US
        mov dword [PD + 4], PT1 | P | RW | US
        ; PT1: linear 0x400000 + n*4K
        mov dword [PT1 + 0*4], 0x20000 | P | RW | US      ; user read/write
        mov dword [PT1 + 1*4], 0x21000 | P | RW | US      ; user read/write
        mov dword [PT1 + 2*4], 0                          ; not present
        mov dword [PT1 + 3*4], 0x23000 | P | RW           ; supervisor read/write
        mov dword [PT1 + 4*4], 0x24000 | P | US           ; user read-only
        mov dword [PT1 + 5*4], 0x25000 | P                ; supervisor read-only

        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on
.on:    CHECK "paging on, identity-mapped code runs", dword [0x20000], 0xAB000000

        ; Translation, accessed and dirty flags.
        mov eax, [0x401000]
        CHECK "4K read through PTE", eax, 0xAB000001
        mov eax, [PT1 + 1*4]
        and eax, A | D
        CHECK "read sets A, not D", eax, A
        mov dword [0x400010], 0x12345678
        CHECK "4K write lands in the mapped page", dword [0x20010], 0x12345678
        mov eax, [PT1 + 0*4]
        and eax, A | D
        CHECK "write sets A and D in PTE", eax, A | D
        mov eax, [PD + 4]
        and eax, A | D
        CHECK "PDE gets A (no D)", eax, A

        ; Not present: PTE, then PDE.
        EXPECT .np1
        mov eax, [0x402ABC]
.np1:   NOEXPECT
        CHECK_PF "supervisor read, PTE not present", 0, 0x402ABC
        EXPECT .np2
        mov dword [0x800004], 1
.np2:   NOEXPECT
        CHECK_PF "supervisor write, PDE not present", 2, 0x800004

        ; Supervisor write to read-only pages: allowed with WP = 0.
        mov dword [0x405000], 0x55
        CHECK "WP=0: supervisor writes a read-only page", dword [0x25000], 0x55
        mov eax, cr0
        or eax, 0x10000                 ; CR0.WP
        mov cr0, eax
        EXPECT .wp1
        mov dword [0x404008], 0x66
.wp1:   NOEXPECT
        CHECK_PF "WP=1: supervisor write to read-only user page", 3, 0x404008
        CHECK "WP=1: nothing written", dword [0x24008], 0
        EXPECT .wp2
        mov byte [0x405FFF], 0x66
.wp2:   NOEXPECT
        CHECK_PF "WP=1: supervisor write to read-only supervisor page", 3, 0x405FFF
        mov eax, cr0
        and eax, ~0x10000
        mov cr0, eax

        ; User mode.
        EXPECT .u1
        USER user_read_ok
.u1:    NOEXPECT
        CHECK "user: read of user pages, IDT/GDT/TSS supervisor-only", dword [v_vec], 0x30
        CHECK "user: value read", dword [v_tmp], 0xAB000004

        EXPECT .u2
        USER user_read_sup
.u2:    NOEXPECT
        CHECK_PF "user read of supervisor page", 5, 0x403010

        EXPECT .u3
        USER user_write_ro
.u3:    NOEXPECT
        CHECK_PF "user write of read-only page", 7, 0x404020

        EXPECT .u4
        USER user_write_np
.u4:    NOEXPECT
        CHECK_PF "user write, PTE not present", 6, 0x402000

        EXPECT .u5
        USER user_fetch_sup
.u5:    NOEXPECT
        CHECK_PF "user fetch from supervisor page", 5, 0x403000

; ---- TLB: MOV CR3, INVLPG, global pages ---------------------------------------------
        mov eax, [0x400000]             ; cache 0x400000 -> 0x20000
        mov dword [PT1 + 0*4], 0x28000 | P | RW | US
        RELOAD_CR3
        CHECK "MOV CR3: new mapping visible", dword [0x400000], 0xAB000008
        mov dword [PT1 + 0*4], 0x20000 | P | RW | US
        invlpg [0x400FFF]
        CHECK "INVLPG: new mapping visible", dword [0x400000], 0xAB000000

        mov eax, cr4
        or eax, 0x80                    ; CR4.PGE
        mov cr4, eax
        mov dword [PT1 + 6*4], 0x26000 | P | RW | G
        CHECK "global page read", dword [0x406000], 0xAB000006
        mov dword [PT1 + 6*4], 0x27000 | P | RW | G
        RELOAD_CR3
        CHECK "global page survives MOV CR3", dword [0x406000], 0xAB000006
        invlpg [0x406000]
        CHECK "INVLPG drops a global page", dword [0x406000], 0xAB000007
        mov dword [PT1 + 6*4], 0x26000 | P | RW | G
        mov eax, cr4
        and eax, ~0x80
        mov cr4, eax                    ; clearing PGE flushes everything
        CHECK "CR4.PGE write flushes global pages", dword [0x406000], 0xAB000006

; ---- 4 MiB pages (CR4.PSE) ----------------------------------------------------------------
        mov eax, cr4
        or eax, 0x10                    ; CR4.PSE
        mov cr4, eax
        mov dword [PD + 3*4], 0 | P | RW | PS          ; 0xC00000 -> physical 0
        CHECK "4M page read", dword [0xC21000], 0xAB000001
        mov dword [0xC22004], 0x4444
        CHECK "4M page write", dword [0x22004], 0x4444
        mov eax, [PD + 3*4]
        and eax, A | D
        CHECK "4M PDE gets A and D", eax, A | D
        mov dword [PD + 4*4], 0 | P | RW | PS | (1 << 13)
        EXPECT .r1
        mov eax, [0x1000040]
.r1:    NOEXPECT
        CHECK_PF "4M PDE reserved bit 13", 9, 0x1000040
        EXPECT .r2
        USER user_write_rsvd
.r2:    NOEXPECT
        CHECK_PF "user write, 4M PDE reserved bit", 0xF, 0x1000080

; ---- PAE ---------------------------------------------------------------------------------
        mov eax, cr0
        and eax, ~0x80000000
        mov cr0, eax                    ; paging off
        jmp .off
.off:
        ; PDPT
        mov dword [PDPT + 0], PAE_PD | P
        mov dword [PDPT + 4], 0
        ; PAE PD: [0] -> PT0 (0-2 MiB), [2] -> PT2 (4-6 MiB), [3] = 2 MiB page at 0
        mov dword [PAE_PD + 0*8], PAE_PT0 | P | RW | US
        mov dword [PAE_PD + 2*8], PAE_PT2 | P | RW | US
        mov dword [PAE_PD + 3*8], 0 | P | RW | US | PS
        mov edi, PAE_PT0
        xor ecx, ecx
.ppt:   mov eax, ecx
        shl eax, 12
        or eax, P | RW | US
        mov [edi + ecx*8], eax
        mov dword [edi + ecx*8 + 4], 0
        inc ecx
        cmp ecx, 512
        jb .ppt
        mov dword [PAE_PT2 + 0*8], 0x21000 | P | RW | US
        mov dword [PAE_PT2 + 1*8], 0x22000 | P | RW
        mov dword [PAE_PT2 + 1*8 + 4], 0x80000000       ; XD: reserved without NXE
        mov dword [PAE_PT2 + 2*8], 0x22000 | P | RW
        mov dword [PAE_PT2 + 2*8 + 4], 1                ; address bit 32
        ; A bad PDPT: PDPTE[0] sets reserved bit 1.
        mov dword [PDPT_BAD + 0], PAE_PD | P | 2

        mov eax, cr4
        or eax, 0x20                    ; CR4.PAE
        mov cr4, eax
        mov eax, PDPT
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .pae
.pae:   CHECK "PAE on, identity-mapped code runs", dword [0x20000], 0xAB000000
        CHECK "PAE 4K read", dword [0x400000], 0xAB000001
        mov dword [0x400100], 0x7777
        CHECK "PAE 4K write", dword [0x21100], 0x7777
        mov eax, [PAE_PT2]
        and eax, A | D
        CHECK "PAE PTE gets A and D", eax, A | D
        CHECK "PAE 2M page read", dword [0x623000], 0xAB000003
        mov eax, [PAE_PD + 3*8]
        and eax, A | D
        CHECK "PAE 2M PDE gets A", eax, A

        EXPECT .x1
        mov eax, [0x401010]
.x1:    NOEXPECT
        CHECK_PF "PAE XD bit reserved", 9, 0x401010
        EXPECT .x2
        mov dword [0x402000], 0
.x2:    NOEXPECT
        CHECK_PF "PAE address bit 32 reserved", 0xB, 0x402000
        EXPECT .x3
        mov eax, [0x40000000]
.x3:    NOEXPECT
        CHECK_PF "PAE PDPTE not present", 0, 0x40000000
        EXPECT .x4
        USER user_read_pae
.x4:    NOEXPECT
        CHECK_PF "PAE user read, PDE not present", 4, 0x200000

        EXPECT .x5
        mov eax, PDPT_BAD
        mov cr3, eax
.x5:    NOEXPECT
        CHECK "PAE bad PDPTE: MOV CR3 raises #GP", dword [v_vec], 13
        CHECK "PAE bad PDPTE: error code 0", dword [v_err], 0
        mov eax, cr3
        CHECK "PAE bad PDPTE: CR3 unchanged", eax, PDPT

; ---- done ----------------------------------------------------------------------------------
        mov esi, msg_summary
        call print
        mov eax, [v_fail]
        call print_hex
        mov esi, msg_failed
        call print
        mov eax, [v_fail]
        test eax, eax
        setnz al
        out EXIT_PORT, al
        hlt

; ---- ring-3 code ---------------------------------------------------------------------------
user_read_ok:
        mov ax, DATA3                   ; a GDT read at CPL 3: implicit supervisor access
        mov ds, ax
        mov eax, [0x404000]
        mov [USER_STACK - 16], eax      ; v_tmp is set by the ring-0 side below
        int 0x30                        ; IDT + TSS reads: implicit supervisor accesses
user_read_sup:
        mov ax, DATA3
        mov ds, ax
        mov eax, [0x403010]
        int 0x30
user_write_ro:
        mov ax, DATA3
        mov ds, ax
        mov dword [0x404020], 1
        int 0x30
user_write_np:
        mov ax, DATA3
        mov ds, ax
        mov word [0x402000], 1
        int 0x30
user_fetch_sup:
        mov eax, 0x403000
        jmp eax
user_write_rsvd:
        mov ax, DATA3
        mov ds, ax
        mov dword [0x1000080], 1
        int 0x30
user_read_pae:
        mov ax, DATA3
        mov ds, ax
        mov eax, [0x200000]             ; PAE PD[1] not present
        int 0x30

; ---- helpers -------------------------------------------------------------------------------

; set_gate: EDI = gate address, EAX = handler, EDX = type/DPL word (0x8E00, 0xEE00).
set_gate:
        mov [edi], ax
        mov word [edi + 2], CODE0
        mov [edi + 4], dx
        shr eax, 16
        mov [edi + 6], ax
        ret

; check: EAX = value, EBX = expected, ESI = name.
check:
        push eax
        cmp eax, ebx
        jne .fail
        push esi
        mov esi, msg_pass
        call print
        pop esi
        call print
        mov esi, msg_nl
        call print
        pop eax
        ret
.fail:  inc dword [v_fail]
        push esi
        mov esi, msg_fail
        call print
        pop esi
        call print
        mov esi, msg_got
        call print
        mov eax, [esp]
        call print_hex
        mov esi, msg_want
        call print
        mov eax, ebx
        call print_hex
        mov esi, msg_close
        call print
        pop eax
        ret

; print: ESI = NUL-terminated string.
print:
        push eax
        push esi
.l:     mov al, [esi]
        test al, al
        jz .d
        out DEBUGCON, al
        inc esi
        jmp .l
.d:     pop esi
        pop eax
        ret

; print_hex: EAX as 8 hex digits.
print_hex:
        push eax
        push ecx
        push edx
        mov edx, eax
        mov ecx, 8
.l:     rol edx, 4
        mov al, dl
        and al, 0xF
        cmp al, 10
        jb .dig
        add al, 'A' - 10
        jmp .out
.dig:   add al, '0'
.out:   out DEBUGCON, al
        dec ecx
        jnz .l
        pop edx
        pop ecx
        pop eax
        ret

; ---- exception stubs -----------------------------------------------------------------------
%assign i 0
%rep 32
isr %+ i:
%if i == 8 || (i >= 10 && i <= 14) || i == 17
%else
        push dword 0
%endif
        push dword i
        jmp isr_common
%assign i i + 1
%endrep

isr48:
        push dword 0
        push dword 0x30
        ; fall through

isr_common:
        mov ax, DATA0
        mov ds, ax
        mov es, ax
        pop eax
        mov [v_vec], eax
        pop eax
        mov [v_err], eax
        mov eax, cr2
        mov [v_cr2], eax
        ; What the user code left on its stack (user_read_ok).
        mov eax, [USER_STACK - 16]
        mov [v_tmp], eax
        mov eax, [v_resume]
        test eax, eax
        jz .unexpected
        mov esp, [v_saved_esp]
        jmp eax
.unexpected:
        mov esi, msg_unexpected
        call print
        mov eax, [v_vec]
        call print_hex
        mov esi, msg_errc
        call print
        mov eax, [v_err]
        call print_hex
        mov esi, msg_cr2
        call print
        mov eax, [v_cr2]
        call print_hex
        mov esi, msg_nl
        call print
        mov al, 1
        out EXIT_PORT, al
        hlt

isr_table:
%assign i 0
%rep 32
        dd isr %+ i
%assign i i + 1
%endrep

; ---- data ----------------------------------------------------------------------------------
align 8
gdt:
        dq 0
        dq 0x00CF9B000000FFFF           ; 0x08 code, DPL 0, 4 GiB
        dq 0x00CF93000000FFFF           ; 0x10 data, DPL 0
        dq 0x00CFFB000000FFFF           ; 0x18 code, DPL 3
        dq 0x00CFF3000000FFFF           ; 0x20 data, DPL 3
        dw 0x0067, TSS_ADDR & 0xFFFF    ; 0x28 32-bit TSS (available)
        db (TSS_ADDR >> 16) & 0xFF, 0x89, 0x00, (TSS_ADDR >> 24) & 0xFF
gdt_end:

gdtr:   dw gdt_end - gdt - 1
        dd GDT_ADDR
idtr:   dw 0x30 * 8 + 7
        dd IDT_ADDR

msg_pass:       db "PASS ", 0
msg_fail:       db "FAIL ", 0
msg_got:        db " (got ", 0
msg_want:       db " want ", 0
msg_close:      db ")", 10, 0
msg_nl:         db 10, 0
msg_summary:    db "paging: ", 0
msg_failed:     db " failed", 10, 0
msg_unexpected: db "FAIL unexpected exception ", 0
msg_errc:       db " error ", 0
msg_cr2:        db " cr2 ", 0

        times 0xFFF0 - ($ - $$) db 0xFF
reset_vector:
        bits 16
        jmp 0xF000:R(start)
        times 0x10000 - ($ - $$) db 0xFF
