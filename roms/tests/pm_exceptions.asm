; =============================================================================
; pm_exceptions.asm — exceptions in protected mode, and the double fault
; =============================================================================
;
; Build:  nasm -f bin -i roms/tests/ -o roms/tests/pm_exceptions.bin roms/tests/pm_exceptions.asm
; Run:    x86lab run --bios roms/tests/pm_exceptions.bin --headless
;
; (exceptions.asm is the real-mode counterpart, through the IVT.)
;
; In protected mode an exception goes through the IDT: gate n of 8 bytes at
; IDTR.base + 8 * n (SDM Vol. 3A §6.10-6.12). The CPU pushes EFLAGS, CS, EIP
; and, for #DF, #TS, #NP, #SS, #GP, #PF and #AC, an error code. Which EIP it
; pushes depends on the class of the exception (§6.5, Table 6-1):
;
;   fault  the faulting instruction itself (#DE, #BR, #UD, #NP, #SS, #GP):
;          a handler that removes the cause can return and retry it;
;   trap   the next instruction (#BP from INT3, #OF from INTO, the TF
;          single-step #DB, INT1);
;   abort  no reliable return address (#DF).
;
; When delivering one exception raises another (§6.15, Table 6-5):
;   benign (#DB, #BP, #OF, #BR, #UD, ...) then anything: handled one after the
;       other — the second exception is simply delivered;
;   contributory (#DE, #TS, #NP, #SS, #GP) then contributory: #DF, error code 0;
;   a fault while delivering #DF: triple fault, the CPU shuts down
;       (triplefault.asm).
; The error code of a fault during delivery names the IDT entry
; (vector * 8 + 2, bit 1 = IDT) plus EXT (bit 0) when the event being
; delivered was not an INT n instruction (§6.13).
; =============================================================================

%define ROM_NAME "pm_exceptions"
%include "pmharness.inc"

SEL_NP          equ 0x48        ; data segment, not present
SEL_NP2         equ 0x50        ; data segment, not present (made present by a handler)
SEL_SMALLSTK    equ 0x58        ; stack segment, base 0, limit 0x7FFFF
SEL_CODE_NP     equ 0x60        ; code segment, not present
SEL_TSS_DF      equ 0x68        ; the double-fault task's TSS
TSS_DF          equ 0x6000      ; (this ROM has no LDT: the LDT area is free)
DF_STACK_TOP    equ 0x6C000

; Vectors used with INT n for the IDT checks.
VEC_NP_GATE     equ 0x50        ; gate with P = 0
VEC_BAD_TYPE    equ 0x51        ; not a gate: a data segment descriptor in the IDT
VEC_DATA_SEL    equ 0x52        ; interrupt gate whose selector is a data segment
VEC_NULL_SEL    equ 0x53        ; interrupt gate with a null selector
VEC_CODE_NP     equ 0x54        ; interrupt gate to a not-present code segment
VEC_BEYOND      equ 0x90        ; beyond the shortened IDT limit
VEC_GATE16      equ 0x55        ; a 16-bit interrupt gate

; Variables.
u_steps         equ 0x600       ; single-step traps counted
u_step_eips     equ 0x604       ; EIPs the CPU pushed for them (8 dwords)
u_db_eflags     equ 0x624       ; EFLAGS inside the #DB handler
u_db_pushed_fl  equ 0x628       ; EFLAGS the CPU pushed for the first trap
u_np_fixups     equ 0x62C
u_esp_before    equ 0x630
u_bounds        equ 0x640       ; BOUND's pair: lower, upper (signed dwords)
u_saved_gate    equ 0x648       ; 8 bytes: a gate saved while a test replaces it
u_df_runs       equ 0x650       ; times the double-fault task ran
u_df_error      equ 0x654       ; the error code it found on its stack
u_df_link       equ 0x658       ; its TSS's back link
u_df_eflags     equ 0x65C       ; its EFLAGS (NT set: a nested task)
u_df_old_eip    equ 0x660       ; EIP saved in the interrupted task's TSS
u_i16_esp       equ 0x664       ; ESP in the 16-bit handler

gdt_start:
        STANDARD_GDT
        DESC SCRATCH, 0xFFFF, 0x12, 0x0         ; 0x48 P = 0
        DESC SCRATCH, 0xFFFF, 0x12, 0x0         ; 0x50 P = 0
        DESC 0, 0x7FFFF, 0x92, 0x4              ; 0x58 stack with a limit
        DESC 0, 0xFFFFF, 0x1A, 0xC              ; 0x60 code, P = 0
        DESC TSS_DF, 0x67, 0x89, 0x0            ; 0x68 32-bit TSS, available
gdt_end:

; A shortened IDT pointer: 128 gates.
short_idt:
        dw 128 * 8 - 1
        dd IDT_BASE
full_idt:
        dw 256 * 8 - 1
        dd IDT_BASE

        bits 32
tests:
        call test_de
        call test_db
        call test_bp_of
        call test_br_ud
        call test_nm
        call test_np_ss_gp
        call test_idt_checks
        call test_frame
        call test_restart
        call test_double_fault
        call test_df_task
        ret

; ---- #DE: divide error (fault) ---------------------------------------------------
test_de:
        mov eax, 1
        xor edx, edx
        xor ecx, ecx
        EXPECT_FAULT .r1
.div0:
        div ecx
.r1:
        CHECK_FAULT "div by zero -> #DE", 0, 0
        CHECK "#DE is a fault: pushed EIP = the DIV", [v_eip], .div0
        mov eax, 0x80000000
        mov edx, 0xFFFFFFFF             ; edx:eax = -2^31
        mov ecx, -1
        FAULTS "idiv -2^31 / -1 (quotient too large) -> #DE", 0, 0, {idiv ecx}
        mov eax, 10
        xor edx, edx
        mov ecx, 3
        NOFAULT "div 10 / 3 does not fault", {div ecx}
        CHECK "div 10 / 3 = 3", eax, 3
        ret

; ---- #DB: single-step (TF) and INT1 (traps) --------------------------------------
; A custom #DB handler counts the traps and records the EIPs pushed.
db_handler:
        push eax
        push ebx
        mov ebx, [u_steps]
        cmp ebx, 8
        jae .full
        mov eax, [esp + 8]              ; pushed EIP
        mov [u_step_eips + ebx * 4], eax
.full:
        cmp ebx, 0
        jne .counted
        mov eax, [esp + 16]             ; pushed EFLAGS of the first trap
        mov [u_db_pushed_fl], eax
        pushfd
        pop dword [u_db_eflags]
.counted:
        inc dword [u_steps]
        pop ebx
        pop eax
        iretd

test_db:
        ; Replace gate 1 by one to db_handler (saved and restored around).
        mov eax, [IDT_BASE + 1 * 8]
        mov [u_saved_gate], eax
        mov eax, [IDT_BASE + 1 * 8 + 4]
        mov [u_saved_gate + 4], eax
        mov eax, db_handler
        mov [IDT_BASE + 1 * 8], ax
        shr eax, 16
        mov [IDT_BASE + 1 * 8 + 6], ax
        mov dword [u_steps], 0
        xor eax, eax
        mov dr6, eax

        ; POPFD sets TF: the first trap comes after the *next* instruction.
        pushfd
        or dword [esp], FL_TF
        popfd
.s1:    nop
.s2:    mov eax, 1
.s3:    add eax, eax
.s4:    pushfd
.s5:    and dword [esp], ~FL_TF
.s6:    popfd                           ; clears TF, and still traps after itself
.s7:
        mov ebx, dr6
        CHECK "single-step: 6 traps (nop, mov, add, pushfd, and, popfd)", [u_steps], 6
        CHECK "single-step: 1st trap pushed EIP after the nop", [u_step_eips + 0], .s2
        CHECK "single-step: 2nd trap pushed EIP after the mov", [u_step_eips + 4], .s3
        CHECK "single-step: 3rd trap pushed EIP after the add", [u_step_eips + 8], .s4
        CHECK "single-step: 6th trap pushed EIP after the popfd", [u_step_eips + 20], .s7
        mov eax, [u_db_pushed_fl]
        and eax, FL_TF
        CHECK "single-step: pushed EFLAGS has TF = 1", eax, FL_TF
        mov eax, [u_db_eflags]
        and eax, FL_TF
        CHECK "single-step: TF = 0 inside the handler", eax, 0
        and ebx, 1 << 14
        CHECK "single-step: DR6.BS = 1", ebx, 1 << 14

        ; MOV SS holds off debug exceptions (and interrupts) until after the
        ; next instruction, so that SS:ESP can be loaded as a pair (SDM Vol. 3A
        ; §6.8.3): no trap after the MOV SS, one after the instruction after it.
        mov dword [u_steps], 0
        pushfd
        or dword [esp], FL_TF
        popfd
.t1:    mov ax, ss
.t2:    mov ss, ax                      ; no trap here
.t3:    nop
.t4:    pushfd
        and dword [esp], ~FL_TF
        popfd
.t7:
        CHECK "single-step over mov ss: 5 traps, none right after the mov ss", [u_steps], 5
        CHECK "single-step over mov ss: 1st trap after the mov ax, ss", [u_step_eips + 0], .t2
        CHECK "single-step over mov ss: 2nd trap after the instruction after mov ss", [u_step_eips + 4], .t4
        mov dword [u_steps], 0
        pushfd
        or dword [esp], FL_TF
        popfd
        push ss
.p2:    pop ss                          ; no trap here either
.p3:    nop
.p4:    pushfd
        and dword [esp], ~FL_TF
        popfd
        CHECK "single-step over pop ss: 2nd trap after the instruction after pop ss", [u_step_eips + 4], .p4

        ; INT1 (ICEBP, opcode F1): a #DB trap.
        mov dword [u_steps], 0
        int1
.after_int1:
        CHECK "int1 -> #DB through gate 1", [u_steps], 1
        CHECK "int1 is a trap: pushed EIP after it", [u_step_eips + 0], .after_int1

        mov eax, [u_saved_gate]
        mov [IDT_BASE + 1 * 8], eax
        mov eax, [u_saved_gate + 4]
        mov [IDT_BASE + 1 * 8 + 4], eax
        ret

; ---- #BP and #OF (traps) -------------------------------------------------------
test_bp_of:
        EXPECT_TRAP
        int3
.after_int3:
        CHECK_FAULT "int3 -> #BP", 3, 0
        CHECK "#BP is a trap: pushed EIP after the int3", [v_eip], .after_int3
        EXPECT_TRAP
        int 3                           ; CD 03: the two-byte form
.after_int_3:
        CHECK_FAULT "int 3 -> #BP", 3, 0
        CHECK "int 3: pushed EIP after the 2-byte instruction", [v_eip], .after_int_3

        mov al, 0x7F
        add al, 1                       ; OF = 1
        EXPECT_TRAP
        into
.after_into:
        CHECK_FAULT "into with OF = 1 -> #OF", 4, 0
        CHECK "#OF is a trap: pushed EIP after the into", [v_eip], .after_into
        mov al, 1
        add al, 1                       ; OF = 0
        NOFAULT "into with OF = 0 does nothing", {into}
        ret

; ---- #BR and #UD (faults) ---------------------------------------------------
test_br_ud:
        mov dword [u_bounds], -5
        mov dword [u_bounds + 4], 5
        mov eax, -6
        EXPECT_FAULT .r1
.bound:
        bound eax, [u_bounds]
.r1:
        CHECK_FAULT "bound: -6 below [-5, 5] -> #BR", 5, 0
        CHECK "#BR is a fault: pushed EIP = the BOUND", [v_eip], .bound
        mov eax, 6
        FAULTS "bound: 6 above [-5, 5] -> #BR", 5, 0, {bound eax, [u_bounds]}
        mov eax, 5
        NOFAULT "bound: 5 within [-5, 5] (signed)", {bound eax, [u_bounds]}
        mov eax, -5
        NOFAULT "bound: -5 within [-5, 5] (signed)", {bound eax, [u_bounds]}

        EXPECT_FAULT .r2
.ud2:
        ud2
.r2:
        CHECK_FAULT "ud2 -> #UD", 6, 0
        CHECK "#UD is a fault: pushed EIP = the UD2", [v_eip], .ud2
        FAULTS "mov cs, ax (8E C8) -> #UD", 6, 0, {db 0x8E, 0xC8}
        ret

; ---- #NM: device not available (fault) -------------------------------------------
; CR0.EM = 1: x87 instructions fault so that the OS can emulate them. CR0.TS = 1
; (set by every task switch): the first x87 instruction faults so that the OS
; can save the old task's x87 state lazily; WAIT faults too when CR0.MP = 1
; (SDM Vol. 3A §2.5 Table 2-2).
test_nm:
        mov ebx, cr0
        mov eax, ebx
        or eax, 1 << 2                  ; EM
        mov cr0, eax
        EXPECT_FAULT .r1
.fp1:
        fninit
.r1:
        CHECK_FAULT "fninit with CR0.EM = 1 -> #NM", 7, 0
        CHECK "#NM is a fault: pushed EIP = the fninit", [v_eip], .fp1
        NOFAULT "wait with CR0.EM = 1 (MP = TS = 0): no #NM", {wait}
        mov eax, ebx
        or eax, 1 << 3                  ; TS
        mov cr0, eax
        FAULTS "fnstsw ax with CR0.TS = 1 -> #NM", 7, 0, {fnstsw ax}
        NOFAULT "wait with CR0.TS = 1 but MP = 0: no #NM", {wait}
        or eax, 1 << 1                  ; MP
        mov cr0, eax
        FAULTS "wait with CR0.TS = 1 and MP = 1 -> #NM", 7, 0, {wait}
        clts
        NOFAULT "wait after clts", {wait}
        mov cr0, ebx
        ret

; ---- #NP, #SS, #GP (faults with an error code) -----------------------------
test_np_ss_gp:
        mov ax, SEL_NP
        EXPECT_FAULT .r1
.np:
        mov es, ax
.r1:
        CHECK_FAULT "mov es, not-present segment -> #NP(0x48)", 11, SEL_NP
        CHECK "#NP is a fault: pushed EIP = the MOV", [v_eip], .np

        FAULTS "mov ss, not-present segment -> #SS(0x48)", 12, SEL_NP, {mov ss, ax}
        mov ax, SEL_SMALLSTK
        mov ss, ax
        mov ebp, 0x80000
        EXPECT_FAULT .r2
.ss:
        mov eax, [ebp]
.r2:
        mov ax, KDATA
        mov ss, ax
        CHECK_FAULT "ss:[0x80000] beyond the stack limit -> #SS(0)", 12, 0
        CHECK "#SS is a fault: pushed EIP = the MOV", [v_eip], .ss

        EXPECT_FAULT .r3
.gp:
        mov [cs:u_bounds], eax
.r3:
        CHECK_FAULT "write through CS -> #GP(0)", 13, 0
        CHECK "#GP is a fault: pushed EIP = the MOV", [v_eip], .gp
        mov ax, 0x1000
        FAULTS "mov ds, 0x1000 (beyond the GDT) -> #GP(0x1000)", 13, 0x1000, {mov ds, ax}
        ret

; ---- IDT checks during delivery (INT n: EXT = 0) ---------------------------
; set_gate: IDT gate EDX -> selector BX : offset EAX, access byte CL.
set_gate:
        mov [IDT_BASE + edx * 8], ax
        mov [IDT_BASE + edx * 8 + 2], bx
        mov byte [IDT_BASE + edx * 8 + 4], 0
        mov [IDT_BASE + edx * 8 + 5], cl
        shr eax, 16
        mov [IDT_BASE + edx * 8 + 6], ax
        ret

test_idt_checks:
        mov edx, VEC_NP_GATE
        mov eax, exc_stubs
        mov bx, KCODE
        mov cl, 0x0E                    ; P = 0
        call set_gate
        FAULTS "int 0x50, gate not present -> #NP(0x50 * 8 + 2)", 11, VEC_NP_GATE * 8 + 2, {int VEC_NP_GATE}
        ; A code segment descriptor in the IDT is not a gate.
        mov dword [IDT_BASE + VEC_BAD_TYPE * 8], 0x0000FFFF
        mov dword [IDT_BASE + VEC_BAD_TYPE * 8 + 4], 0x00CF9A00
        FAULTS "int 0x51, IDT entry is not a gate -> #GP(0x51 * 8 + 2)", 13, VEC_BAD_TYPE * 8 + 2, {int VEC_BAD_TYPE}
        mov edx, VEC_DATA_SEL
        mov eax, exc_stubs
        mov bx, KDATA
        mov cl, 0x8E
        call set_gate
        FAULTS "int 0x52, gate to a data segment -> #GP(0x10)", 13, KDATA, {int VEC_DATA_SEL}
        mov edx, VEC_NULL_SEL
        mov eax, exc_stubs
        mov bx, 0
        mov cl, 0x8E
        call set_gate
        FAULTS "int 0x53, gate with a null selector -> #GP(0)", 13, 0, {int VEC_NULL_SEL}
        mov edx, VEC_CODE_NP
        mov eax, exc_stubs
        mov bx, SEL_CODE_NP
        mov cl, 0x8E
        call set_gate
        FAULTS "int 0x54, handler segment not present -> #NP(0x60)", 11, SEL_CODE_NP, {int VEC_CODE_NP}
        lidt [short_idt]
        FAULTS "int 0x90 beyond the IDT limit -> #GP(0x90 * 8 + 2)", 13, VEC_BEYOND * 8 + 2, {int VEC_BEYOND}
        lidt [full_idt]

        ; A 16-bit interrupt gate (type 6) pushes FLAGS, CS, IP as words. (The
        ; 16-bit handler cannot IRET to a return address above 64 KiB, so it
        ; far-jumps back.)
        mov edx, VEC_GATE16
        mov eax, int16_handler - ROMBASE
        mov bx, CODE16
        mov cl, 0x86                    ; P, DPL 0, type 0110
        call set_gate
        pushfd
        or dword [esp], FL_IF           ; IF = 1 at the INT: the gate must clear it
        popfd
        mov [u_esp_before], esp
        int VEC_GATE16
int16_back:
        cli
        mov eax, [u_esp_before]
        sub eax, [u_i16_esp]
        CHECK "16-bit interrupt gate: 6 bytes pushed (FLAGS, CS, IP)", eax, 6
        movzx eax, word [esp]
        CHECK "16-bit interrupt gate: pushed IP = low 16 bits of the return EIP", eax, (int16_back - $$ + ROMBASE) & 0xFFFF
        movzx eax, word [esp + 2]
        CHECK "16-bit interrupt gate: pushed CS = 0x08", eax, KCODE
        movzx eax, word [esp + 4]
        and eax, FL_IF
        CHECK "16-bit interrupt gate: pushed FLAGS has IF = 1", eax, FL_IF
        add esp, 6
        ret

        bits 16
int16_handler:                          ; CS = CODE16 (base 0xF0000), DS = KDATA
        mov [u_i16_esp], esp
        jmp dword KCODE:int16_back
        bits 32

; ---- the exception frame -----------------------------------------------------
test_frame:
        mov [u_esp_before], esp
        mov ax, SEL_NP
        FAULTS "#NP for the frame check", 11, SEL_NP, {mov fs, ax}
        mov eax, [u_esp_before]
        sub eax, 12
        CHECK "frame with an error code: EIP pushed at ESP - 12 (err at ESP - 16)", [v_frame], eax
        CHECK "frame: pushed CS = 0x08", [v_cs], KCODE
        mov [u_esp_before], esp
        FAULTS "#UD for the frame check", 6, 0, {ud2}
        mov eax, [u_esp_before]
        sub eax, 12
        CHECK "frame without an error code: EIP pushed at ESP - 12", [v_frame], eax
        mov eax, [v_eflags]
        and eax, 2
        CHECK "frame: pushed EFLAGS has bit 1 set", eax, 2
        ; A fault pushes RF = 1 (the restarted instruction must not hit its own
        ; instruction breakpoint again); a trap pushes RF as it was: 0.
        mov eax, [v_eflags]
        and eax, FL_RF
        CHECK "fault (#UD): pushed EFLAGS has RF = 1 (SDM Vol. 3A 17.3.1.1)", eax, FL_RF
        EXPECT_TRAP
        int3
        mov eax, [v_eflags]
        and eax, FL_RF
        CHECK "trap (#BP): pushed EFLAGS has RF = 0", eax, 0
        ret

; ---- a fault handler that fixes the cause and restarts -----------------------
; The classic use of "faults restart": #NP on a segment the OS has not loaded
; yet. This handler marks the descriptor present and returns to the MOV, which
; then succeeds.
np_fixup_handler:
        push eax
        mov eax, [esp + 4]              ; the error code: the selector
        and eax, 0xFFF8
        or byte [GDT_BASE + eax + 5], 0x80
        inc dword [u_np_fixups]
        pop eax
        add esp, 4                      ; drop the error code
        iretd

test_restart:
        mov eax, [IDT_BASE + 11 * 8]
        mov [u_saved_gate], eax
        mov eax, [IDT_BASE + 11 * 8 + 4]
        mov [u_saved_gate + 4], eax
        mov edx, 11
        mov eax, np_fixup_handler
        mov bx, KCODE
        mov cl, 0x8E
        call set_gate
        mov dword [u_np_fixups], 0
        mov ax, SEL_NP2
        mov es, ax                      ; #NP, fixed, restarted
        mov ax, es
        movzx eax, ax
        CHECK "#NP handler marked the segment present; the restarted MOV loaded ES", eax, SEL_NP2
        CHECK "#NP handler ran once", [u_np_fixups], 1
        mov ax, KDATA
        mov es, ax
        mov eax, [u_saved_gate]
        mov [IDT_BASE + 11 * 8], eax
        mov eax, [u_saved_gate + 4]
        mov [IDT_BASE + 11 * 8 + 4], eax
        ret

; ---- double fault --------------------------------------------------------------
test_double_fault:
        ; Benign then contributory: #UD whose gate is not present raises #NP
        ; while delivering #UD; that #NP is simply delivered (no #DF). Its error
        ; code: 6 * 8 + 2 (IDT) + 1 (EXT: delivering an exception).
        and byte [IDT_BASE + 6 * 8 + 5], 0x7F
        FAULTS "#UD with gate 6 not present -> #NP(6 * 8 + 3), no #DF", 11, 6 * 8 + 3, {ud2}
        or byte [IDT_BASE + 6 * 8 + 5], 0x80

        ; Contributory then contributory: #GP whose gate is not present
        ; raises #NP(13 * 8 + 3) while delivering #GP -> #DF, error code 0.
        and byte [IDT_BASE + 13 * 8 + 5], 0x7F
        mov ax, 0x1000
        FAULTS "#GP with gate 13 not present -> #NP during delivery -> #DF(0)", 8, 0, {mov ds, ax}
        or byte [IDT_BASE + 13 * 8 + 5], 0x80

        ; #NP whose own gate is not present: #NP during #NP -> #DF.
        and byte [IDT_BASE + 11 * 8 + 5], 0x7F
        mov ax, SEL_NP
        FAULTS "#NP with gate 11 not present -> #DF(0)", 8, 0, {mov es, ax}
        or byte [IDT_BASE + 11 * 8 + 5], 0x80

        ; #DE then #GP (gate 0 beyond a shortened IDT... simpler: gate 0 not a
        ; gate) -> #DF.
        mov eax, [IDT_BASE + 0 * 8 + 4]
        mov [u_saved_gate + 4], eax
        and byte [IDT_BASE + 0 * 8 + 5], 0xF0    ; type 0: reserved, not a gate
        xor ecx, ecx
        FAULTS "#DE with a bad gate 0 -> #GP during delivery -> #DF(0)", 8, 0, {div ecx}
        mov eax, [u_saved_gate + 4]
        mov [IDT_BASE + 0 * 8 + 4], eax

        ; The machine still works after all that.
        mov ax, SEL_NP
        FAULTS "after the double faults, #NP is delivered normally again", 11, SEL_NP, {mov es, ax}
        ret

; ---- a double fault handled by a task ------------------------------------------
; The classic design: gate 8 is a *task gate*. A double fault often means the
; stack is unusable, and a task switch loads a fresh SS:ESP (and everything
; else) from the handler's own TSS. The CPU saves the interrupted state in the
; current TSS (TSS_SEL), switches, and pushes the error code (0) on the new
; task's stack. The handler task here repairs the IDT, points the interrupted
; task's saved EIP at a resume label, and returns with IRETD: with NT = 1 that
; switches back to the task named by its TSS's back link (SDM Vol. 3A §7.3).
df_task:
        pop eax                         ; the error code
        mov [u_df_error], eax
        inc dword [u_df_runs]
        movzx eax, word [TSS_DF + 0]    ; back link
        mov [u_df_link], eax
        pushfd
        pop dword [u_df_eflags]
        mov eax, [TSS_BASE + 0x20]      ; the interrupted task's saved EIP
        mov [u_df_old_eip], eax
        mov dword [TSS_BASE + 0x20], test_df_task.resume
        or byte [IDT_BASE + 13 * 8 + 5], 0x80   ; gate 13 present again
        iretd
        jmp df_task                     ; a task restarts here if entered again

test_df_task:
        ; The double-fault task's TSS: where it starts and with which segments.
        mov edi, TSS_DF
        mov ecx, 0x68 / 4
        xor eax, eax
        rep stosd
        mov dword [TSS_DF + 0x20], df_task             ; EIP
        mov dword [TSS_DF + 0x24], 2                   ; EFLAGS (IF = 0)
        mov dword [TSS_DF + 0x38], DF_STACK_TOP        ; ESP
        mov dword [TSS_DF + 0x4C], KCODE               ; CS
        mov dword [TSS_DF + 0x50], KDATA               ; SS
        mov dword [TSS_DF + 0x54], KDATA               ; DS
        mov dword [TSS_DF + 0x48], KDATA               ; ES
        mov word [TSS_DF + 0x66], 0x68                 ; no I/O bitmap
        ; Gate 8 becomes a task gate (type 5) naming the TSS.
        mov eax, [IDT_BASE + 8 * 8]
        mov [u_saved_gate], eax
        mov eax, [IDT_BASE + 8 * 8 + 4]
        mov [u_saved_gate + 4], eax
        mov word [IDT_BASE + 8 * 8], 0
        mov word [IDT_BASE + 8 * 8 + 2], SEL_TSS_DF
        mov word [IDT_BASE + 8 * 8 + 4], 0x8500        ; P, DPL 0, type 0101
        mov word [IDT_BASE + 8 * 8 + 6], 0
        mov dword [u_df_runs], 0

        and byte [IDT_BASE + 13 * 8 + 5], 0x7F         ; gate 13 not present
        mov ax, 0x1000
        mov ebx, 0x1234ABCD                            ; must survive the round trip
.fault:
        mov ds, ax                      ; #GP -> #NP -> #DF -> task switch
        mov ebx, 0                      ; not reached
.resume:
        mov ax, KDATA
        mov ds, ax
        CHECK "#DF through a task gate: the handler task ran once", [u_df_runs], 1
        CHECK "#DF through a task gate: error code 0 on the new task's stack", [u_df_error], 0
        CHECK "#DF task: back link = the interrupted task's TSS (0x38)", [u_df_link], TSS_SEL
        mov eax, [u_df_eflags]
        and eax, FL_NT
        CHECK "#DF task: NT = 1 (a nested task)", eax, FL_NT
        CHECK "#DF task: the interrupted task's EIP was saved (the faulting MOV)", [u_df_old_eip], .fault
        CHECK "IRETD back to the interrupted task: EBX restored from its TSS", ebx, 0x1234ABCD
        xor eax, eax
        str ax
        CHECK "IRETD back: TR = 0x38 again", eax, TSS_SEL
        movzx eax, byte [GDT_BASE + SEL_TSS_DF + 5]
        CHECK "IRETD back: the double-fault TSS is no longer busy", eax, 0x89
        clts                            ; the task switches set CR0.TS
        mov eax, [u_saved_gate]
        mov [IDT_BASE + 8 * 8], eax
        mov eax, [u_saved_gate + 4]
        mov [IDT_BASE + 8 * 8 + 4], eax
        ret

        ROM_END
