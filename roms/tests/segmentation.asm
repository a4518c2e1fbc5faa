; =============================================================================
; segmentation.asm — protected-mode segmentation, checked against the Intel SDM
; =============================================================================
;
; Build:  nasm -f bin -i roms/tests/ -o roms/tests/segmentation.bin roms/tests/segmentation.asm
; Run:    x86lab run --bios roms/tests/segmentation.bin --headless
;
; What a protected-mode segment register load checks (SDM Vol. 3A chapter 5
; and Vol. 2B "MOV", "POP"), in the order the CPU checks it:
;
;   MOV DS/ES/FS/GS, sel                      MOV SS, sel
;   - null selector: allowed, but any access  - null selector: #GP(0)
;     through the register is #GP(0)
;   - index beyond the GDT/LDT limit: #GP(sel)  (same)
;   - not data or readable code: #GP(sel)     - RPL != CPL, not writable data,
;   - data or non-conforming code with          or DPL != CPL: #GP(sel)
;     RPL > DPL or CPL > DPL: #GP(sel)
;   - not present: #NP(sel)                   - not present: #SS(sel)
;
; The error code of #GP(sel)/#NP(sel)/#SS(sel) is the selector with its RPL
; bits cleared (bit 2, TI, stays: it tells GDT from LDT), SDM Vol. 3A §6.13.
;
; After a load every access is checked against the cached descriptor (§5.3,
; §5.4): offset + size - 1 <= limit (expand-up) or limit < offset and
; offset + size - 1 <= 0xFFFF/0xFFFFFFFF (expand-down); writes need a writable
; data segment, reads a data or readable code segment. A violation is #GP(0),
; or #SS(0) when the segment is SS.
;
; The ROM ends by going back to real mode the way SDM Vol. 3A §9.9.2 says, and
; prints its last check and the summary from real mode.
; =============================================================================

%define ROM_NAME "segmentation"
%include "pmharness.inc"

; ---- the ROM's own selectors ---------------------------------------------------
SEL_NP          equ 0x48        ; writable data, NOT present
SEL_XO          equ 0x50        ; execute-only code
SEL_RO          equ 0x58        ; read-only data at SCRATCH, 64 KiB
SEL_LIM         equ 0x60        ; writable data at SCRATCH, limit 0xFFF, not yet accessed
SEL_ED16        equ 0x68        ; expand-down data at SCRATCH, limit 0xFFF, B = 0
SEL_ED32        equ 0x70        ; expand-down data at SCRATCH, limit 0xFFF, B = 1
SEL_LIMSTK      equ 0x78        ; stack segment, base 0, limit 0x7FFFF
SEL_CONF        equ 0x80        ; conforming readable code, DPL 0
SEL_LDT         equ 0x88        ; the LDT (system descriptor type 2)
SEL_IGATE       equ 0x90        ; an interrupt gate (type 14): LAR/LSL reject it
SEL_CGATE       equ 0x98        ; a call gate (type 12): LAR accepts it, LSL does not
SEL_CONF3       equ 0xA0        ; conforming code, DPL 3
SEL_LDT_NP      equ 0xA8        ; an LDT descriptor, not present
SEL_CODE_NP     equ 0xB0        ; code segment, not present
SEL_BEYOND      equ 0xB8        ; first selector past the GDT limit

; LDT selectors: index << 3 | TI (4) | RPL.
LSEL_0          equ 0x04        ; LDT index 0: an ordinary descriptor (not "null")
LSEL_1          equ 0x0C
LSEL_DPL3       equ 0x14
LSEL_BEYOND     equ 0x1C        ; past the LDT limit (3 entries)

; The ROM's variables.
u_delta         equ 0x600
u_cs16          equ 0x604
u_far_ptr       equ 0x608           ; a far pointer in memory: offset (dword), selector

gdt_start:
        STANDARD_GDT
        DESC SCRATCH, 0xFFFF, 0x12, 0x0         ; 0x48 P = 0
        DESC 0, 0xFFFFF, 0x98, 0xC              ; 0x50 code, execute-only
        DESC SCRATCH, 0xFFFF, 0x90, 0x0         ; 0x58 data, read-only
        DESC SCRATCH, 0xFFF, 0x92, 0x0          ; 0x60 data, read/write, A = 0
        DESC SCRATCH, 0xFFF, 0x96, 0x0          ; 0x68 data, expand-down, B = 0
        DESC SCRATCH, 0xFFF, 0x96, 0x4          ; 0x70 data, expand-down, B = 1
        DESC 0, 0x7FFFF, 0x92, 0x4              ; 0x78 stack with a limit
        DESC 0, 0xFFFFF, 0x9E, 0xC              ; 0x80 code, conforming, readable
        DESC LDT_BASE, ldt_end - ldt_start - 1, 0x82, 0x0   ; 0x88 LDT
        GATE KCODE, tests, 0x8E, 0              ; 0x90 interrupt gate
        GATE KCODE, tests, 0xEC, 0              ; 0x98 call gate
        DESC 0, 0xFFFFF, 0xFE, 0xC              ; 0xA0 code, conforming, DPL 3
        DESC LDT_BASE, 0x17, 0x02, 0x0          ; 0xA8 LDT, P = 0
        DESC 0, 0xFFFFF, 0x1A, 0xC              ; 0xB0 code, P = 0
gdt_end:

ldt_start:
        DESC SCRATCH + 0x2000, 0xFF, 0x92, 0x0  ; 0x04
        DESC SCRATCH + 0x3000, 0xFF, 0x92, 0x0  ; 0x0C
        DESC SCRATCH + 0x3000, 0xFF, 0xF2, 0x0  ; 0x14 DPL 3
ldt_end:

        bits 32
tests:
        ; ---- protected mode is on ------------------------------------------------
        mov eax, cr0
        and eax, 1
        CHECK "CR0.PE = 1 after mov cr0 and the far jump", eax, 1
        xor eax, eax
        mov ax, cs
        CHECK "CS = 0x08 (loaded from the GDT by the far jump)", eax, KCODE

        ; Test data, written through the flat DS.
        mov dword [SCRATCH + 0x10], 0x12345678
        mov byte [SCRATCH + 0xFFF], 0x5A
        mov dword [SCRATCH + 0x1000], 0x1000CAFE
        mov dword [SCRATCH + 0xFFFC], 0xFFFCBEEF
        mov dword [SCRATCH + 0x20000], 0x2000D00D
        mov dword [SCRATCH + 0x3000], 0x1DD7DA7A

        ; ---- null selectors ------------------------------------------------------
        ; Loading DS with 0 is allowed (so a program can mark a register
        ; unused); the first access through it raises #GP(0).
        xor eax, eax
        NOFAULT "mov ds, 0 (null selector) is allowed", {mov ds, ax}
        mov ax, ds
        mov bx, KDATA                   ; DS must be usable again for the next
        mov ds, bx                      ; EXPECT_FAULT (it writes v_resume)
        CHECK "mov ds, 0: DS reads back 0", eax, 0
        mov ax, 3
        NOFAULT "mov ds, 3 (null selector with RPL 3) is allowed", {mov ds, ax}
        mov bx, KDATA
        mov ds, bx
        EXPECT_FAULT .null_read
        xor eax, eax
        mov ds, ax
        mov eax, [0x500]                ; the access faults, not the load
.null_read:
        mov ax, KDATA
        mov ds, ax
        CHECK_FAULT "read through a null DS -> #GP(0)", 13, 0
        xor eax, eax
        FAULTS "mov ss, 0 (null selector) -> #GP(0)", 13, 0, {mov ss, ax}

        ; ---- the selector index against the GDT limit ----------------------------
        mov ax, SEL_BEYOND
        FAULTS "mov es, 0xB8 (beyond the GDT limit 0xB7) -> #GP(0xB8)", 13, SEL_BEYOND, {mov es, ax}
        mov ax, SEL_BEYOND | 3
        FAULTS "mov es, 0xBB: the error code drops the RPL -> #GP(0xB8)", 13, SEL_BEYOND, {mov es, ax}

        ; ---- present bit ------------------------------------------------------------
        mov ax, SEL_NP
        FAULTS "mov es, not-present data segment -> #NP(0x48)", 11, SEL_NP, {mov es, ax}
        FAULTS "mov ss, not-present stack segment -> #SS(0x48)", 12, SEL_NP, {mov ss, ax}

        ; ---- segment types --------------------------------------------------------
        mov ax, SEL_XO
        FAULTS "mov ds, execute-only code segment -> #GP(0x50)", 13, SEL_XO, {mov ds, ax}
        mov ax, SEL_LDT
        FAULTS "mov ds, an LDT (system) descriptor -> #GP(0x88)", 13, SEL_LDT, {mov ds, ax}
        mov ax, KCODE
        NOFAULT "mov es, readable code segment is allowed", {mov es, ax}
        mov eax, [es:tests]
        CHECK "read through a readable code segment", eax, [tests]
        FAULTS "write through a code segment -> #GP(0)", 13, 0, {mov [es:SCRATCH], eax}
        mov ax, KCODE
        FAULTS "mov ss, code segment -> #GP(0x08)", 13, KCODE, {mov ss, ax}

        mov ax, SEL_RO
        NOFAULT "mov es, read-only data segment", {mov es, ax}
        mov eax, [es:0x10]
        CHECK "read through a read-only data segment", eax, 0x12345678
        FAULTS "write through a read-only data segment -> #GP(0)", 13, 0, {mov dword [es:0x10], 0}
        mov eax, [SCRATCH + 0x10]
        CHECK "the refused write left memory alone", eax, 0x12345678
        mov ax, SEL_RO
        FAULTS "mov ss, read-only data segment -> #GP(0x58)", 13, SEL_RO, {mov ss, ax}

        ; ---- the accessed bit ---------------------------------------------------------
        ; Loading a segment register sets the descriptor's accessed bit (type
        ; bit 0) in the table in memory (SDM Vol. 3A §3.4.5.1).
        movzx eax, byte [GDT_BASE + SEL_LIM + 5]
        CHECK "GDT entry 0x60: access byte 0x92 (A = 0) before any load", eax, 0x92
        mov ax, SEL_LIM
        mov es, ax
        movzx eax, byte [GDT_BASE + SEL_LIM + 5]
        CHECK "GDT entry 0x60: mov es sets the accessed bit (0x93)", eax, 0x93

        ; ---- the descriptor cache ---------------------------------------------------
        ; A segment register keeps the descriptor it was loaded with: editing
        ; the GDT changes nothing until the register is loaded again (§3.4.3).
        mov byte [GDT_BASE + SEL_LIM + 4], (SCRATCH >> 16) + 1   ; base 0x20000
        mov al, [es:0xFFF]
        movzx eax, al
        CHECK "GDT entry edited: ES still uses its cached base", eax, 0x5A
        mov ax, SEL_LIM
        mov es, ax
        mov byte [SCRATCH + 0x10000 + 0xFFF], 0xA5
        mov al, [es:0xFFF]
        movzx eax, al
        CHECK "mov es again: the new base is used", eax, 0xA5
        mov byte [GDT_BASE + SEL_LIM + 4], SCRATCH >> 16
        mov ax, SEL_LIM
        mov es, ax

        ; ---- limits (ES = SEL_LIM: base SCRATCH, limit 0xFFF) ------------------------
        NOFAULT "byte at es:0xFFF (the limit itself)", {mov al, [es:0xFFF]}
        movzx eax, al
        CHECK "byte at es:0xFFF reads SCRATCH + 0xFFF", eax, 0x5A
        FAULTS "dword at es:0xFFD crosses the limit -> #GP(0)", 13, 0, {mov eax, [es:0xFFD]}
        FAULTS "byte at es:0x1000 (limit + 1) -> #GP(0)", 13, 0, {mov al, [es:0x1000]}
        FAULTS "write at es:0xFFFFFFFF (wraps) -> #GP(0)", 13, 0, {mov byte [es:0xFFFFFFFF], 0}

        ; The stack segment: a limit violation through SS is #SS(0), not #GP(0).
        mov ax, SEL_LIMSTK
        mov ss, ax                      ; same base as KDATA, ESP stays valid
        mov ebp, 0x80000
        FAULTS "ss:[ebp] with ebp = limit + 1 -> #SS(0)", 12, 0, {mov eax, [ebp]}
        mov ebp, 0x7FFFE
        FAULTS "dword at ss:0x7FFFE crosses the stack limit -> #SS(0)", 12, 0, {mov eax, [ebp]}
        FAULTS "the same offset through DS is fine (DS is 4 GiB)", NO_VECTOR, 0, {mov eax, [ds:ebp]}
        mov ax, KDATA
        mov ss, ax

        ; ---- expand-down segments -------------------------------------------------------
        ; Valid offsets are limit+1 .. 0xFFFF (B = 0) or .. 0xFFFFFFFF (B = 1):
        ; the segment grows down by lowering the limit.
        mov ax, SEL_ED16
        mov es, ax
        NOFAULT "expand-down: dword at limit + 1 (0x1000)", {mov eax, [es:0x1000]}
        CHECK "expand-down: es:0x1000 reads SCRATCH + 0x1000", eax, 0x1000CAFE
        NOFAULT "expand-down, B = 0: dword at 0xFFFC (the top)", {mov eax, [es:0xFFFC]}
        CHECK "expand-down: es:0xFFFC reads SCRATCH + 0xFFFC", eax, 0xFFFCBEEF
        FAULTS "expand-down: byte at the limit (0xFFF) -> #GP(0)", 13, 0, {mov al, [es:0xFFF]}
        FAULTS "expand-down: offset 0 -> #GP(0)", 13, 0, {mov al, [es:0]}
        FAULTS "expand-down, B = 0: dword at 0xFFFE passes 0xFFFF -> #GP(0)", 13, 0, {mov eax, [es:0xFFFE]}
        FAULTS "expand-down, B = 0: offset 0x20000 -> #GP(0)", 13, 0, {mov eax, [es:0x20000]}
        mov ax, SEL_ED32
        mov es, ax
        NOFAULT "expand-down, B = 1: offset 0x20000 is valid", {mov eax, [es:0x20000]}
        CHECK "expand-down, B = 1: es:0x20000 reads SCRATCH + 0x20000", eax, 0x2000D00D
        FAULTS "expand-down, B = 1: offset 0xFFF (the limit) -> #GP(0)", 13, 0, {mov al, [es:0xFFF]}

        ; An expand-down stack: SS = SEL_ED32 (base SCRATCH). ESP (about
        ; 0x6FFxx) is above the limit, so pushes work; an access at or below
        ; the limit is #SS(0).
        mov ax, SEL_ED32
        mov ss, ax
        mov ebp, 0x800
        EXPECT_FAULT .ed_stack
        mov eax, [ebp]
.ed_stack:
        push eax                        ; must work: ESP is in the valid range
        pop eax
        mov ax, KDATA
        mov ss, ax
        CHECK_FAULT "expand-down SS: ss:[0x800] at or below the limit -> #SS(0)", 12, 0

        ; ---- a faulting load changes nothing -------------------------------------
        mov dword [u_far_ptr], 0x1111
        mov word [u_far_ptr + 4], SEL_NP
        mov esi, 0xABCD
        FAULTS "lds esi, [far pointer to a not-present segment] -> #NP(0x48)", 11, SEL_NP, {lds esi, [u_far_ptr]}
        CHECK "lds that faulted left ESI unchanged", esi, 0xABCD
        mov ebx, esp
        push dword SEL_RO
        FAULTS "pop ss, read-only segment -> #GP(0x58)", 13, SEL_RO, {pop ss}
        mov eax, esp
        add eax, 4
        CHECK "pop ss that faulted left ESP unchanged", eax, ebx
        add esp, 4

        ; ---- far JMP/CALL checks on the target (SDM Vol. 2A "JMP", "CALL") --------------
        FAULTS "far jmp to a null selector -> #GP(0)", 13, 0, {jmp 0:0}
        FAULTS "far jmp to a data segment -> #GP(0x10)", 13, KDATA, {jmp KDATA:0}
        FAULTS "far jmp to a not-present data segment -> #GP(0x48) (type before P)", 13, SEL_NP, {jmp SEL_NP:0}
        FAULTS "far jmp to a not-present code segment -> #NP(0xB0)", 11, SEL_CODE_NP, {jmp SEL_CODE_NP:0}
        FAULTS "far jmp to CODE16:0x10000, beyond its limit -> #GP(0)", 13, 0, {jmp CODE16:0x10000}
        FAULTS "far jmp to conforming code with DPL 3 > CPL 0 -> #GP(0xA0)", 13, SEL_CONF3, {jmp SEL_CONF3:0}
        FAULTS "far call to an LDT descriptor -> #GP(0x88)", 13, SEL_LDT, {call SEL_LDT:0}
        FAULTS "far jmp to selector 0x0B (KCODE, RPL 3 > CPL 0) -> #GP(0x08)", 13, KCODE, {jmp (KCODE | 3):0}
        mov esi, esp
        EXPECT_FAULT .r_retf_null
        push dword 0
        push dword .r_retf_null
        retf
.r_retf_null:
        mov esp, esi
        CHECK_FAULT "retf to a null CS -> #GP(0)", 13, 0
        EXPECT_FAULT .r_iret_data
        pushfd
        push dword KDATA
        push dword .r_iret_data
        iretd
.r_iret_data:
        mov esp, esi
        CHECK_FAULT "iretd to a data segment -> #GP(0x10)", 13, KDATA

        ; ---- LTR and LLDT refusals ---------------------------------------------------
        mov ax, TSS_SEL
        FAULTS "ltr of the busy TSS (loaded by the harness) -> #GP(0x38)", 13, TSS_SEL, {ltr ax}
        mov ax, KDATA
        FAULTS "ltr of a data segment -> #GP(0x10)", 13, KDATA, {ltr ax}
        xor eax, eax
        FAULTS "ltr 0 -> #GP(0)", 13, 0, {ltr ax}
        mov ax, SEL_LDT_NP
        FAULTS "lldt of a not-present LDT -> #NP(0xA8)", 11, SEL_LDT_NP, {lldt ax}
        mov cx, SEL_NP
        lar eax, cx
        setz bl
        movzx ebx, bl
        CHECK "lar of a not-present segment: ZF = 1 (LAR does not check P)", ebx, 1

        ; ---- DPL and RPL at CPL 0 -------------------------------------------------------
        mov ax, KDATA | 3
        FAULTS "mov ds, 0x13 at CPL 0 (RPL 3 > DPL 0) -> #GP(0x10)", 13, KDATA, {mov ds, ax}
        FAULTS "mov ss, 0x13 at CPL 0 (RPL 3 != CPL 0) -> #GP(0x10)", 13, KDATA, {mov ss, ax}
        mov ax, UDATA
        FAULTS "mov ss, 0x20 at CPL 0 (DPL 3 != CPL 0) -> #GP(0x20)", 13, UDATA, {mov ss, ax}
        mov ax, UDATA | 3
        NOFAULT "mov es, 0x23 at CPL 0 (a DPL 3 data segment)", {mov es, ax}

        ; ---- LAR, LSL, VERR, VERW, ARPL ---------------------------------------------
        ; They look at a descriptor without loading it, and report with ZF
        ; instead of faulting (SDM Vol. 3A §5.10.1).
        mov eax, 0xDEADBEEF
        mov cx, KCODE
        lar eax, cx
        setz bl
        movzx ebx, bl
        CHECK "lar KCODE: ZF = 1", ebx, 1
        CHECK "lar KCODE: access rights 0x00C09B00 (G D, P DPL 0 code, accessed)", eax, 0x00C09B00
        mov cx, SEL_LDT
        lar eax, cx
        CHECK "lar LDT descriptor: 0x00008200", eax, 0x00008200
        mov eax, 0xDEADBEEF
        mov cx, SEL_IGATE
        lar eax, cx
        setz bl
        movzx ebx, bl
        CHECK "lar interrupt gate: ZF = 0 (not a valid type for LAR)", ebx, 0
        CHECK "lar interrupt gate: destination unchanged", eax, 0xDEADBEEF
        mov cx, SEL_CGATE
        lar eax, cx
        setz bl
        movzx ebx, bl
        CHECK "lar call gate: ZF = 1", ebx, 1
        CHECK "lar call gate: access rights 0x0000EC00", eax, 0x0000EC00
        mov cx, 0
        lar eax, cx
        setz bl
        movzx ebx, bl
        CHECK "lar null selector: ZF = 0", ebx, 0
        mov cx, SEL_BEYOND
        lar eax, cx
        setz bl
        movzx ebx, bl
        CHECK "lar beyond the GDT limit: ZF = 0 (no fault)", ebx, 0
        mov cx, KDATA | 3
        lar eax, cx
        setz bl
        movzx ebx, bl
        CHECK "lar 0x13 (RPL 3 > DPL 0): ZF = 0", ebx, 0

        mov cx, SEL_LIM
        lsl eax, cx
        setz bl
        movzx ebx, bl
        CHECK "lsl 0x60: ZF = 1", ebx, 1
        CHECK "lsl 0x60: limit 0xFFF", eax, 0xFFF
        mov cx, KDATA
        lsl eax, cx
        CHECK "lsl KDATA: G = 1 scales the limit to 0xFFFFFFFF", eax, 0xFFFFFFFF
        mov cx, TSS_SEL
        lsl eax, cx
        CHECK "lsl TSS: limit 0x2068", eax, TSS_LIMIT
        mov eax, 0xDEADBEEF
        mov cx, SEL_CGATE
        lsl eax, cx
        setz bl
        movzx ebx, bl
        CHECK "lsl call gate: ZF = 0 (a gate has no limit)", ebx, 0
        CHECK "lsl call gate: destination unchanged", eax, 0xDEADBEEF

        mov cx, KCODE
        verr cx
        setz bl
        movzx ebx, bl
        CHECK "verr readable code: ZF = 1", ebx, 1
        mov cx, SEL_XO
        verr cx
        setz bl
        movzx ebx, bl
        CHECK "verr execute-only code: ZF = 0", ebx, 0
        mov cx, SEL_RO
        verr cx
        setz bl
        movzx ebx, bl
        CHECK "verr read-only data: ZF = 1", ebx, 1
        mov cx, SEL_LDT
        verr cx
        setz bl
        movzx ebx, bl
        CHECK "verr LDT descriptor: ZF = 0 (system segment)", ebx, 0
        mov cx, KDATA
        verw cx
        setz bl
        movzx ebx, bl
        CHECK "verw writable data: ZF = 1", ebx, 1
        mov cx, SEL_RO
        verw cx
        setz bl
        movzx ebx, bl
        CHECK "verw read-only data: ZF = 0", ebx, 0
        mov cx, KCODE
        verw cx
        setz bl
        movzx ebx, bl
        CHECK "verw code segment: ZF = 0", ebx, 0

        ; ARPL dest, src: if dest.RPL < src.RPL, raise dest.RPL to src.RPL, ZF = 1.
        mov eax, 0x0010
        mov ebx, 0x0023
        arpl ax, bx
        setz cl
        movzx ecx, cl
        CHECK "arpl 0x10, 0x23: RPL raised to 3 (0x13)", eax, 0x13
        CHECK "arpl 0x10, 0x23: ZF = 1", ecx, 1
        arpl ax, bx
        setz cl
        movzx ecx, cl
        CHECK "arpl 0x13, 0x23: unchanged, ZF = 0", ecx, 0
        CHECK "arpl 0x13, 0x23: value still 0x13", eax, 0x13

        ; ---- the LDT ----------------------------------------------------------------------
        mov esi, ldt_start
        mov edi, LDT_BASE
        mov ecx, ldt_end - ldt_start
        rep movsb
        mov ax, KDATA
        FAULTS "lldt of a data segment selector -> #GP(0x10)", 13, KDATA, {lldt ax}
        mov ax, SEL_LDT | 4
        FAULTS "lldt with TI = 1 -> #GP(0x8C)", 13, SEL_LDT | 4, {lldt ax}
        mov ax, SEL_LDT
        NOFAULT "lldt 0x88", {lldt ax}
        xor eax, eax
        sldt ax
        CHECK "sldt reads back 0x88", eax, SEL_LDT
        mov ax, LSEL_1
        NOFAULT "mov fs, 0x0C (LDT index 1)", {mov fs, ax}
        mov eax, [fs:0]
        CHECK "fs:0 reads the LDT segment's base (SCRATCH + 0x3000)", eax, 0x1DD7DA7A
        movzx eax, byte [LDT_BASE + 8 + 5]
        CHECK "LDT entry 1: accessed bit set in the LDT (0x93)", eax, 0x93
        mov ax, LSEL_0
        NOFAULT "mov gs, 0x04 (LDT index 0 is not a null selector)", {mov gs, ax}
        mov ax, LSEL_BEYOND
        FAULTS "mov gs, 0x1C (beyond the LDT limit) -> #GP(0x1C)", 13, LSEL_BEYOND, {mov gs, ax}
        mov ax, LSEL_DPL3 | 3
        NOFAULT "mov gs, 0x17 (LDT, DPL 3)", {mov gs, ax}
        xor eax, eax
        NOFAULT "lldt 0 (no LDT)", {lldt ax}
        mov ax, LSEL_1
        FAULTS "LDT selector after lldt 0 -> #GP(0x0C)", 13, LSEL_1, {mov gs, ax}
        mov eax, [fs:0]
        CHECK "fs keeps its cached descriptor after lldt 0", eax, 0x1DD7DA7A
        mov ax, KDATA
        mov fs, ax
        mov gs, ax
        mov es, ax

        ; ---- a 16-bit code segment ---------------------------------------------------------
        ; CODE16 has D = 0: default operand and address size 16. A 32-bit far
        ; CALL pushes a 32-bit CS and EIP, so the 16-bit code returns with
        ; o32 RETF.
        mov dword [u_delta], 0
        mov edi, esp
        call dword CODE16:(code16_part - ROMBASE)
        mov eax, esp
        CHECK "far call to a 16-bit segment and o32 retf back: ESP restored", eax, edi
        CHECK "16-bit segment: CS was 0x28", [u_cs16], CODE16
        CHECK "16-bit segment: a near CALL pushed 2 bytes", [u_delta], 2

        ; ---- data segment rules at CPL 3 ----------------------------------------------------
        mov eax, ring3_part
        call run_ring3

        ; ---- back to real mode (SDM Vol. 3A §9.9.2) ---------------------------------------
        cli
        jmp CODE16:(to_real16 - ROMBASE)   ; 1. code with a 64 KiB limit, 16-bit

; CPL 3, DS = ES = FS = GS = UDATA|3.
ring3_part:
        xor eax, eax
        mov ax, cs
        and eax, 3
        CHECK "ring 3: CPL (CS.RPL) = 3", eax, 3
        mov ax, UDATA | 3
        NOFAULT "CPL 3: mov es, 0x23 (DPL 3 data)", {mov es, ax}
        mov ax, UDATA
        NOFAULT "CPL 3: mov es, 0x20 (RPL 0 < DPL 3 is fine)", {mov es, ax}
        mov ax, KDATA | 3
        FAULTS "CPL 3: mov es, 0x13 (DPL 0 < CPL 3) -> #GP(0x10)", 13, KDATA, {mov es, ax}
        mov ax, KDATA
        FAULTS "CPL 3: mov es, 0x10 (RPL 0 does not help) -> #GP(0x10)", 13, KDATA, {mov es, ax}
        mov ax, UDATA
        FAULTS "CPL 3: mov ss, 0x20 (RPL 0 != CPL 3) -> #GP(0x20)", 13, UDATA, {mov ss, ax}
        mov ax, KDATA | 3
        FAULTS "CPL 3: mov ss, 0x13 (DPL 0 != CPL 3) -> #GP(0x10)", 13, KDATA, {mov ss, ax}
        mov ax, KCODE | 3
        FAULTS "CPL 3: mov es, non-conforming code, DPL 0 -> #GP(0x08)", 13, KCODE, {mov es, ax}
        mov ax, SEL_CONF | 3
        NOFAULT "CPL 3: mov es, conforming readable code, DPL 0 (no DPL check)", {mov es, ax}
        mov eax, [es:tests]
        CHECK "CPL 3: read through the conforming code segment", eax, [tests]
        mov ax, UDATA | 3
        mov es, ax
        mov cx, KDATA
        verr cx
        setz bl
        movzx ebx, bl
        CHECK "CPL 3: verr KDATA (DPL 0): ZF = 0", ebx, 0
        mov cx, SEL_CONF
        verr cx
        setz bl
        movzx ebx, bl
        CHECK "CPL 3: verr conforming code (DPL 0): ZF = 1", ebx, 1
        mov cx, KCODE
        lar eax, cx
        setz bl
        movzx ebx, bl
        CHECK "CPL 3: lar KCODE (DPL 0): ZF = 0", ebx, 0
        call GATE_RING0:0

; 16-bit protected-mode code (CS = CODE16, base 0xF0000: offsets are label - $$).
        bits 16
code16_part:
        mov ax, cs
        movzx eax, ax
        mov [u_cs16], eax               ; DS = KDATA, flat: 0x604 is a linear address
        mov ebx, esp
        call .sub                       ; pushes IP: 2 bytes
        o32 retf
.sub:
        mov ecx, ebx
        sub ecx, esp
        mov [u_delta], ecx
        ret

; 2.-9. of SDM Vol. 3A §9.9.2.
to_real16:
        mov ax, DATA16                  ; 4. 64 KiB, byte granular, expand-up, writable
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, 0x7000
        lidt [cs:real_idt - $$]         ; 5. the real-mode IVT at 0
        mov eax, cr0                    ; 6. clear PE
        and eax, ~1
        mov cr0, eax
        jmp 0xF000:(real_again - $$)    ; 7. a far jump reloads CS the real-mode way
real_again:
        xor ax, ax                      ; 8. real-mode segment values
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov sp, 0x7000
        mov eax, cr0
        and eax, 1
        RCHECK "back in real mode: CR0.PE = 0 (printed from real mode)", eax, 0
        xor eax, eax
        mov ax, cs
        RCHECK "back in real mode: CS = F000", eax, 0xF000
        push ds
        mov ax, SCRATCH >> 4
        mov ds, ax                      ; real mode: base = selector * 16, no GDT
        mov eax, [0x1000]
        pop ds
        RCHECK "real mode: 1000:1000 reads linear 0x11000", eax, 0x1000CAFE
        jmp rm_finish

real_idt:
        dw 0x3FF
        dd 0

        bits 32
        ROM_END
