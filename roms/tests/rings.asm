; =============================================================================
; rings.asm — privilege levels: ring 3, call gates, INT n, IOPL, SYSENTER
; =============================================================================
;
; Build:  nasm -f bin -i roms/tests/ -o roms/tests/rings.bin roms/tests/rings.asm
; Run:    x86lab run --bios roms/tests/rings.bin --headless
;
; The current privilege level (CPL) is the RPL of CS. Code goes to a *less*
; privileged ring only by returning (IRET or RETF pop a CS with a larger RPL,
; then ESP and SS), and to a *more* privileged ring only through a gate:
;
;   call gate (far CALL)  ring 3 -> ring 0: the CPU takes the new SS:ESP from
;                         the TSS (SS0:ESP0), pushes the caller's SS, ESP, then
;                         copies N parameters, then pushes CS, EIP
;                         (SDM Vol. 3A §5.8.5, Figure 5-13);
;   interrupt/trap gate   INT n, exceptions: the same stack switch, then
;                         EFLAGS, CS, EIP (and an error code) (§6.12.1);
;   SYSENTER              to fixed ring-0 CS/SS/EIP/ESP from MSRs (§5.8.7).
;
; A far CALL or JMP straight to a more privileged non-conforming code segment
; is refused with #GP(selector); a *conforming* segment can be called from any
; outer ring and runs at the caller's CPL (§5.8.1.2).
;
; At CPL 3 the privileged instructions (HLT, MOV CRn, LGDT, LIDT, LLDT, LTR,
; WRMSR, ...) raise #GP(0) (§5.9), and the I/O-sensitive ones (CLI, STI, IN,
; OUT) need CPL <= IOPL — IN/OUT may still be allowed port by port by the
; TSS's I/O permission bitmap (SDM Vol. 1 §18.5).
; =============================================================================

%define ROM_NAME "rings"
%include "pmharness.inc"

CGATE3          equ 0x48        ; call gate, DPL 3, 3 dword parameters -> gate_target
CONF_CODE       equ 0x50        ; conforming code, DPL 0, flat
CGATE_NP        equ 0x58        ; call gate, DPL 3, not present
CGATE_DPL0      equ 0x60        ; call gate, DPL 0
CODE2           equ 0x68        ; ring-2 code, flat
STACK2          equ 0x70        ; ring-2 stack: base 0, limit 0xFFFFF (byte granular), B = 1
CGATE2          equ 0x78        ; call gate, DPL 3 -> CODE2:ring2_target
CGATE_JMP       equ 0x80        ; call gate, DPL 0 -> KCODE:jmp_target
SEL_TSS_SMALL   equ 0x88        ; a TSS whose limit (0x0F) holds only SS0:ESP0
CGATE_TO_USER   equ 0x90        ; call gate, DPL 0 -> UCODE (less privileged: refused)
TSS_SMALL       equ 0x6000
VEC_CONF        equ 0x43        ; trap gate, DPL 3 -> conforming code
VEC_TO_USER     equ 0x44        ; interrupt gate, DPL 0 -> UCODE (less privileged: refused)
FL_AC           equ 0x40000
PAGE_DIR        equ 0x8000
PAGE_TABLE      equ 0x9000
STACK2_TOP      equ 0x64000

VEC_TRAP3       equ 0x40        ; trap gate, DPL 3
VEC_INT3        equ 0x41        ; interrupt gate, DPL 3
VEC_DPL0        equ 0x42        ; the harness's interrupt gate, DPL 0

SYSENTER_STACK  equ 0x66000

MSR_SYSENTER_CS  equ 0x174
MSR_SYSENTER_ESP equ 0x175
MSR_SYSENTER_EIP equ 0x176

; Variables.
u_esp3_entry    equ 0x600
u_cs3           equ 0x604
u_ss3           equ 0x608
u_eflags3       equ 0x60C
u_gate_esp      equ 0x610
u_gate_ss       equ 0x614
u_gate_cs       equ 0x618
u_p1            equ 0x61C
u_p2            equ 0x620
u_p3            equ 0x624
u_outer_esp     equ 0x628
u_outer_ss      equ 0x62C
u_ret_cs        equ 0x630
u_esp3_before   equ 0x634
u_int_esp       equ 0x638
u_int_cs        equ 0x63C
u_int_eflags    equ 0x640
u_int_ret_eip   equ 0x644
u_int_ret_cs    equ 0x648
u_int_outer_esp equ 0x64C
u_int_outer_ss  equ 0x650
u_conf_cs       equ 0x654
u_conf_esp      equ 0x658
u_se_cs         equ 0x65C
u_se_ss         equ 0x660
u_se_esp        equ 0x664
u_se_eflags     equ 0x668
u_gdt_copy      equ 0x670           ; 6 bytes for SGDT
u_esp3_conf     equ 0x678
u_esp3_int      equ 0x67C
u_esp3_se       equ 0x680
u_r2_cs         equ 0x684
u_r2_ss         equ 0x688
u_r2_esp        equ 0x68C
u_wrap_cs       equ 0x690
u_wrap_ss       equ 0x694
u_esp0_gate     equ 0x698
u_jmp_esp       equ 0x69C
u_ci_cs         equ 0x6A0
u_ci_esp        equ 0x6A4
u_esp3_ci       equ 0x6A8
u_align         equ 0x6C0           ; 16 bytes, 16-byte aligned

gdt_start:
        STANDARD_GDT
        GATE KCODE, gate_target, 0xEC, 3        ; 0x48 call gate, 3 parameters
        DESC 0, 0xFFFFF, 0x9E, 0xC              ; 0x50 conforming code
        GATE KCODE, gate_target, 0x6C, 0        ; 0x58 call gate, P = 0
        GATE KCODE, gate_target, 0x8C, 0        ; 0x60 call gate, DPL 0
        DESC 0, 0xFFFFF, 0xDA, 0xC              ; 0x68 code, DPL 2
        DESC 0, 0xFFFFF, 0xD2, 0x4              ; 0x70 data, DPL 2, 1 MiB
        GATE CODE2, ring2_target, 0xEC, 0       ; 0x78 call gate to ring 2
        GATE KCODE, jmp_target, 0x8C, 0         ; 0x80 call gate for JMP
        DESC TSS_SMALL, 0x0F, 0x89, 0x0         ; 0x88 a 16-byte 32-bit TSS
        GATE UCODE, ring3_main, 0x8C, 0         ; 0x90 call gate to ring-3 code
gdt_end:

        bits 32
tests:
        ; Two extra gates in the IDT: a trap gate and an interrupt gate that
        ; ring 3 may use with INT n (DPL 3).
        mov eax, int_trap_handler
        mov edi, IDT_BASE + VEC_TRAP3 * 8
        mov ecx, 0xEF00                 ; P, DPL 3, type 1111: 32-bit trap gate
        call set_idt_gate
        mov eax, int_int_handler
        mov edi, IDT_BASE + VEC_INT3 * 8
        mov ecx, 0xEE00                 ; P, DPL 3, type 1110: 32-bit interrupt gate
        call set_idt_gate
        mov eax, conf_int_handler
        mov edi, IDT_BASE + VEC_CONF * 8
        mov ecx, 0xEF00
        call set_idt_gate
        mov word [IDT_BASE + VEC_CONF * 8 + 2], CONF_CODE
        mov eax, ring3_main
        mov edi, IDT_BASE + VEC_TO_USER * 8
        mov ecx, 0x8E00
        call set_idt_gate
        mov word [IDT_BASE + VEC_TO_USER * 8 + 2], UCODE | 3

        ; Gates may only lead to code at least as privileged as the CPL.
        FAULTS "int 0x44 at CPL 0 to a DPL 3 handler segment -> #GP(0x18)", 13, UCODE, {int VEC_TO_USER}
        FAULTS "call gate at CPL 0 to DPL 3 code -> #GP(0x18)", 13, UCODE, {call CGATE_TO_USER : 0}

        ; The TSS the harness loaded with LTR.
        xor eax, eax
        str ax
        CHECK "str: TR = 0x38", eax, TSS_SEL
        movzx eax, byte [GDT_BASE + TSS_SEL + 5]
        CHECK "ltr marked the TSS descriptor busy (type 0xB)", eax, 0x8B

        ; ---- ring 3, entered with IRETD ------------------------------------------
        sti                             ; IF = 1 in ring 3 (nothing interrupts: no PIC)
        mov eax, ring3_main
        call run_ring3
        cli
        CHECK "IRETD to ring 3: CS = 0x1B", [u_cs3], UCODE | 3
        CHECK "IRETD to ring 3: SS = 0x23", [u_ss3], UDATA | 3
        CHECK "IRETD to ring 3: ESP = the pushed ESP", [u_esp3_entry], STACK3_TOP
        mov eax, [u_eflags3]
        and eax, FL_IOPL | FL_IF
        CHECK "IRETD to ring 3: EFLAGS IF = 1, IOPL = 0", eax, FL_IF

        ; ---- the call gate ---------------------------------------------------------
        CHECK "call gate: target ran at CPL 0 (CS = 0x08)", [u_gate_cs], KCODE
        CHECK "call gate: stack switched to SS0 from the TSS", [u_gate_ss], KDATA
        CHECK "call gate: ESP = ESP0 - 7 dwords (SS, ESP, 3 params, CS, EIP)", [u_gate_esp], STACK0_TSS_TOP - 28
        CHECK "call gate: parameter 1 copied", [u_p1], 0x11111111
        CHECK "call gate: parameter 2 copied", [u_p2], 0x22222222
        CHECK "call gate: parameter 3 copied", [u_p3], 0x33333333
        CHECK "call gate: caller's ESP pushed", [u_outer_esp], [u_esp3_before]
        CHECK "call gate: caller's SS pushed", [u_outer_ss], UDATA | 3
        CHECK "call gate: caller's CS pushed (RPL 3)", [u_ret_cs], UCODE | 3

        ; ---- INT n from ring 3 -------------------------------------------------------
        CHECK "int 0x40 (DPL 3 trap gate): handler at CPL 0", [u_int_cs], KCODE
        CHECK "int 0x40: ESP = ESP0 - 5 dwords (SS, ESP, EFLAGS, CS, EIP)", [u_int_esp], STACK0_TSS_TOP - 20
        CHECK "int 0x40: pushed CS = 0x1B", [u_int_ret_cs], UCODE | 3
        CHECK "int 0x40: pushed EIP = the instruction after INT", [u_int_ret_eip], after_int40
        CHECK "int 0x40: pushed SS = 0x23", [u_int_outer_ss], UDATA | 3
        CHECK "int 0x40: pushed ESP = ring-3 ESP", [u_int_outer_esp], [u_esp3_int]

        CHECK "int 0x43 to a conforming handler: runs at CPL 3 (CS = 0x53)", [u_ci_cs], CONF_CODE | 3
        mov eax, [u_esp3_ci]
        sub eax, 12
        CHECK "int 0x43 to a conforming handler: no stack switch (3 dwords on the ring-3 stack)", [u_ci_esp], eax

        ; ---- a TSS too small for the inner stack pointer -------------------------
        ; LTR does not check a TSS's size; the CPU checks it when it reads
        ; SS2:ESP2 (offsets 0x14..0x1A) for a call to ring 2: #TS(TSS selector).
        ; SS0:ESP0 (offsets 4..9) still fit, so the #TS handler (ring 0) works.
        mov dword [TSS_SMALL + 4], STACK0_TSS_TOP
        mov dword [TSS_SMALL + 8], KDATA
        mov ax, SEL_TSS_SMALL
        ltr ax
        mov eax, ring3_ring2_overflow   ; (no printing at ring 3: no I/O bitmap now)
        call run_ring3
        and byte [GDT_BASE + TSS_SEL + 5], ~2   ; TSS_SEL busy -> available, then back
        mov ax, TSS_SEL
        ltr ax
        CHECK_FAULT "call gate to ring 2 with a TSS too small for SS2:ESP2 -> #TS(0x88)", 10, SEL_TSS_SMALL

        ; ---- the same call gate from CPL 0: no privilege change -----------------
        ; The target's DPL equals the CPL, so the CPU stays on the current
        ; stack and pushes only CS and EIP; the parameters are simply the
        ; caller's pushes above them (SDM Vol. 3A §5.8.5).
        push dword 0x66666666
        push dword 0x55555555
        push dword 0x44444444
        mov [u_esp0_gate], esp
        call CGATE3 : 0
        mov esi, esp
        mov ax, KDATA
        mov fs, ax
        CHECK "call gate at CPL 0 (same privilege): still on SS 0x10", [u_gate_ss], KDATA
        mov eax, [u_esp0_gate]
        sub eax, 8
        CHECK "call gate at CPL 0: only CS and EIP pushed on the same stack", [u_gate_esp], eax
        CHECK "call gate at CPL 0: [esp+8] is the caller's first push", [u_p1], 0x44444444
        mov eax, [u_esp0_gate]
        add eax, 12
        CHECK "call gate at CPL 0: retf 12 released the caller's pushes", esi, eax
        CHECK "call gate at CPL 0: pushed CS has RPL 0", [u_ret_cs], KCODE
        ; JMP through a call gate: same privilege only, nothing pushed.
        mov [u_esp0_gate], esp
        jmp CGATE_JMP : 0
jmp_back:
        CHECK "jmp through a call gate at CPL 0: nothing pushed", [u_jmp_esp], [u_esp0_gate]

        ; ---- IOPL 3: CLI and any port become legal at CPL 3 ----------------------
        pushfd
        or dword [esp], FL_IOPL
        popfd                           ; CPL 0 may change IOPL
        mov eax, ring3_iopl3
        call run_ring3
        pushfd
        and dword [esp], ~FL_IOPL
        popfd

        ; ---- no I/O bitmap: the map base beyond the TSS limit ------------------
        ; (Ring 3 cannot print meanwhile: the check is made back in ring 0.)
        mov word [TSS_BASE + 0x66], 0xFFFF
        mov eax, ring3_no_bitmap
        call run_ring3
        mov word [TSS_BASE + 0x66], TSS_IOMAP
        CHECK_FAULT "I/O map base beyond the TSS limit: in al, 0xE9 at CPL 3 -> #GP(0)", 13, 0

        ; ---- SYSENTER / SYSEXIT ---------------------------------------------------
        mov ecx, MSR_SYSENTER_CS
        xor edx, edx
        mov eax, KCODE
        wrmsr
        mov ecx, MSR_SYSENTER_ESP
        mov eax, SYSENTER_STACK
        wrmsr
        mov ecx, MSR_SYSENTER_EIP
        mov eax, sysenter_target
        wrmsr
        mov ecx, MSR_SYSENTER_CS
        rdmsr
        CHECK "rdmsr IA32_SYSENTER_CS reads back 0x08", eax, KCODE
        mov eax, ring3_sysenter
        call run_ring3
        CHECK "sysenter: CS = IA32_SYSENTER_CS (0x08)", [u_se_cs], KCODE
        CHECK "sysenter: SS = IA32_SYSENTER_CS + 8 (0x10)", [u_se_ss], KDATA
        CHECK "sysenter: ESP = IA32_SYSENTER_ESP", [u_se_esp], SYSENTER_STACK
        mov eax, [u_se_eflags]
        and eax, FL_IF
        CHECK "sysenter: IF cleared", eax, 0

        ; SYSENTER with IA32_SYSENTER_CS = 0 -> #GP(0).
        mov ecx, MSR_SYSENTER_CS
        xor eax, eax
        xor edx, edx
        wrmsr
        mov eax, ring3_sysenter_bad
        call run_ring3

        ; SYSEXIT computes its selectors as IA32_SYSENTER_CS + 16 and + 24 in
        ; 16 bits: with 0xFFF8 they wrap around to 0x0008 and 0x0010 (| 3).
        mov ecx, MSR_SYSENTER_CS
        mov eax, 0xFFF8
        xor edx, edx
        wrmsr
        call sysexit_wrapped
        CHECK "sysexit with IA32_SYSENTER_CS = 0xFFF8: CS = 0x000B (16-bit wrap)", [u_wrap_cs], 0x000B
        CHECK "sysexit with IA32_SYSENTER_CS = 0xFFF8: SS = 0x0013 (16-bit wrap)", [u_wrap_ss], 0x0013

        ; ---- ring 2: an intermediate ring ------------------------------------------
        mov dword [TSS_BASE + 0x14], STACK2_TOP ; ESP2
        mov dword [TSS_BASE + 0x18], STACK2 | 2 ; SS2
        mov eax, ring3_ring2
        call run_ring3
        CHECK "call gate to ring 2: CS = 0x6A (CPL 2)", [u_r2_cs], CODE2 | 2
        CHECK "call gate to ring 2: SS = SS2 from the TSS (0x72)", [u_r2_ss], STACK2 | 2
        CHECK "call gate to ring 2: ESP = ESP2 - 4 dwords", [u_r2_esp], STACK2_TOP - 16

        ; The new stack is too small for the 4 pushes: ESP2 = 8 leaves room for
        ; SS and ESP only; pushing CS wraps to 0xFFFFFFFC, beyond the limit.
        mov dword [TSS_BASE + 0x14], 8
        mov eax, ring3_ring2_overflow
        call run_ring3
        CHECK_FAULT "call gate, pushes overflow the new stack -> #SS(new SS = 0x70)", 12, STACK2

        ; SS2 with RPL 3 != the new CPL 2 -> #TS(SS2).
        mov dword [TSS_BASE + 0x14], STACK2_TOP
        mov dword [TSS_BASE + 0x18], STACK2 | 3
        mov eax, ring3_ring2_overflow
        call run_ring3
        CHECK_FAULT "call gate, TSS.SS2 has RPL 3 -> #TS(0x70)", 10, STACK2
        mov dword [TSS_BASE + 0x18], 0
        mov eax, ring3_ring2_overflow
        call run_ring3
        CHECK_FAULT "call gate, TSS.SS2 is null -> #TS(0)", 10, 0

        ; ---- alignment check: #AC at CPL 3 with CR0.AM and EFLAGS.AC ----------------
        mov eax, cr0
        or eax, 1 << 18                 ; CR0.AM
        mov cr0, eax
        pushfd
        or dword [esp], FL_AC
        popfd
        mov ebx, u_align
        NOFAULT "AM = AC = 1 at CPL 0: a misaligned dword is not checked", {mov eax, [ebx + 1]}
        pushfd
        and dword [esp], ~FL_AC
        popfd
        mov eax, ring3_align
        call run_ring3
        mov eax, cr0
        and eax, ~(1 << 18)
        mov cr0, eax

        ; ---- paging: the CPU's own accesses are supervisor accesses --------------
        ; With the pages of the GDT, IDT and TSS supervisor-only (U/S = 0), ring 3
        ; cannot touch them, yet the CPU still reads them for ring 3: descriptor
        ; loads, gates, the TSS's SS0:ESP0 and its I/O bitmap are implicit
        ; supervisor accesses (SDM Vol. 3A §4.6).
        call paging_on
        mov dword [TSS_BASE + 0x18], STACK2 | 2
        mov eax, ring3_paged
        call run_ring3
        mov eax, cr2
        CHECK "paging: CR2 = the GDT address ring 3 tried to read", eax, GDT_BASE
        mov eax, cr0
        and eax, 0x7FFFFFFF
        mov cr0, eax
        ret

; paging_on: identity-maps the first 4 MiB with 4 KiB pages, user-accessible
; except pages 1..5 (GDT 0x1000, IDT 0x2000, TSS 0x3000..0x5068).
paging_on:
        mov edi, PAGE_DIR
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword [PAGE_DIR], PAGE_TABLE | 7    ; P, R/W, U/S
        xor eax, eax
.page:
        mov edx, eax
        shl edx, 12
        or edx, 7                               ; P, R/W, U/S
        cmp eax, 1
        jb .store
        cmp eax, 5
        ja .store
        and edx, ~4                             ; supervisor only
.store:
        mov [PAGE_TABLE + eax * 4], edx
        inc eax
        cmp eax, 1024
        jne .page
        mov eax, PAGE_DIR
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        ret

; Leaves ring 0 with SYSEXIT to ring3_wrapped (which returns via GATE_RING0).
sysexit_wrapped:
        pushad
        mov [v_esp0_saved], esp
        mov ax, UDATA | 3
        mov ds, ax
        mov es, ax
        mov ecx, STACK3_TOP
        mov edx, ring3_wrapped
        sysexit

; set_idt_gate: gate at EDI -> KCODE:EAX, type word ECX (P DPL type << 8).
set_idt_gate:
        mov [edi], ax
        mov word [edi + 2], KCODE
        mov [edi + 4], cx
        shr eax, 16
        mov [edi + 6], ax
        ret

; =============================================================================
; Ring 3.
; =============================================================================
ring3_main:
        mov [u_esp3_entry], esp
        mov ax, cs
        movzx eax, ax
        mov [u_cs3], eax
        mov ax, ss
        movzx eax, ax
        mov [u_ss3], eax
        pushfd
        pop dword [u_eflags3]

        ; ---- a call gate with three parameters ---------------------------------
        push dword 0x33333333
        push dword 0x22222222
        push dword 0x11111111
        mov [u_esp3_before], esp
        call CGATE3 | 3 : 0             ; the offset is ignored: the gate has it
        mov esi, esp
        mov ax, ds                      ; look at DS and ES before using them
        movzx ebx, ax
        mov ax, es
        movzx ecx, ax
        mov ax, fs
        movzx edx, ax
        mov ax, UDATA | 3
        mov ds, ax
        mov es, ax
        mov eax, [u_esp3_before]
        add eax, 12
        CHECK "retf 12 to ring 3: outer ESP restored and parameters released", esi, eax
        CHECK "retf to ring 3: DS held a DPL 0 segment -> nulled", ebx, 0
        CHECK "retf to ring 3: ES held a DPL 0 segment -> nulled", ecx, 0
        CHECK "retf to ring 3: FS held a DPL 3 segment -> kept", edx, UDATA | 3
        xor eax, eax
        mov ax, cs
        CHECK "retf to ring 3: CS = 0x1B again", eax, UCODE | 3

        ; ---- gate checks -----------------------------------------------------------
        FAULTS "call through a not-present call gate -> #NP(0x58)", 11, CGATE_NP, {call CGATE_NP | 3 : 0}
        FAULTS "call through a DPL 0 call gate from CPL 3 -> #GP(0x60)", 13, CGATE_DPL0, {call CGATE_DPL0 | 3 : 0}
        FAULTS "far call to ring-0 non-conforming code -> #GP(0x08)", 13, KCODE, {call KCODE : gate_target}
        FAULTS "far jmp to ring-0 non-conforming code -> #GP(0x08)", 13, KCODE, {jmp KCODE : gate_target}
        FAULTS "far jmp through a call gate to ring 0 -> #GP(0x08)", 13, KCODE, {jmp CGATE3 | 3 : 0}

        ; ---- a conforming code segment runs at the caller's CPL ------------------
        mov [u_esp3_conf], esp
        call CONF_CODE : conf_target
        CHECK "conforming segment called from CPL 3: CS = 0x53 (RPL = CPL 3)", [u_conf_cs], CONF_CODE | 3
        mov eax, [u_esp3_conf]
        sub eax, 8
        CHECK "conforming segment: no stack switch (ring-3 stack)", [u_conf_esp], eax

        ; ---- INT n ----------------------------------------------------------------
        mov [u_esp3_int], esp
        int VEC_TRAP3
after_int40:
        mov ax, ds                      ; first, before DS is used
        movzx eax, ax
        mov bx, UDATA | 3
        mov ds, bx
        CHECK "iretd to ring 3: DS held KDATA -> nulled", eax, 0
        mov eax, [u_int_eflags]
        and eax, FL_IF
        CHECK "int 0x40 through a trap gate: IF still 1 in the handler", eax, FL_IF
        mov [u_esp3_ci], esp
        int VEC_CONF
        int VEC_INT3
        mov eax, [u_int_eflags]
        and eax, FL_IF
        CHECK "int 0x41 through an interrupt gate: IF cleared in the handler", eax, 0
        pushfd
        pop eax
        and eax, FL_IF
        CHECK "iretd restored IF = 1", eax, FL_IF
        FAULTS "int 0x42 through a DPL 0 gate -> #GP(0x42 * 8 + 2)", 13, VEC_DPL0 * 8 + 2, {int VEC_DPL0}
        FAULTS "int3 through a DPL 0 gate -> #GP(3 * 8 + 2)", 13, 3 * 8 + 2, {int3}
        mov eax, 0
        add eax, 0                      ; OF = 0
        NOFAULT "into with OF = 0 does nothing", {into}

        ; ---- privileged instructions: #GP(0) at CPL 3 ------------------------------
        FAULTS "hlt at CPL 3 -> #GP(0)", 13, 0, {hlt}
        FAULTS "cli at CPL 3, IOPL 0 -> #GP(0)", 13, 0, {cli}
        FAULTS "sti at CPL 3, IOPL 0 -> #GP(0)", 13, 0, {sti}
        FAULTS "mov cr0, eax at CPL 3 -> #GP(0)", 13, 0, {mov cr0, eax}
        FAULTS "mov eax, cr0 at CPL 3 -> #GP(0)", 13, 0, {mov eax, cr0}
        FAULTS "mov eax, cr3 at CPL 3 -> #GP(0)", 13, 0, {mov eax, cr3}
        FAULTS "mov dr7, eax at CPL 3 -> #GP(0)", 13, 0, {mov dr7, eax}
        FAULTS "lgdt at CPL 3 -> #GP(0)", 13, 0, {lgdt [u_gdt_copy]}
        FAULTS "lidt at CPL 3 -> #GP(0)", 13, 0, {lidt [u_gdt_copy]}
        xor eax, eax
        FAULTS "lldt at CPL 3 -> #GP(0)", 13, 0, {lldt ax}
        mov ax, TSS_SEL
        FAULTS "ltr at CPL 3 -> #GP(0)", 13, 0, {ltr ax}
        FAULTS "clts at CPL 3 -> #GP(0)", 13, 0, {clts}
        FAULTS "lmsw at CPL 3 -> #GP(0)", 13, 0, {lmsw ax}
        mov ecx, MSR_SYSENTER_CS
        FAULTS "wrmsr at CPL 3 -> #GP(0)", 13, 0, {wrmsr}
        FAULTS "rdmsr at CPL 3 -> #GP(0)", 13, 0, {rdmsr}
        FAULTS "sysexit at CPL 3 -> #GP(0)", 13, 0, {sysexit}
        NOFAULT "sgdt at CPL 3 is allowed", {sgdt [u_gdt_copy]}
        CHECK "sgdt at CPL 3 reads the GDT base", [u_gdt_copy + 2], GDT_BASE
        NOFAULT "smsw at CPL 3 is allowed", {smsw eax}
        and eax, 1
        CHECK "smsw: PE = 1", eax, 1
        ; POPFD at CPL 3 silently keeps IOPL and IF (no fault).
        pushfd
        pop eax
        mov ebx, eax
        or eax, FL_IOPL
        and eax, ~FL_IF
        push eax
        popfd
        pushfd
        pop eax
        and eax, FL_IOPL | FL_IF
        CHECK "popfd at CPL 3 cannot change IOPL or IF", eax, FL_IF

        ; ---- I/O permission bitmap (IOPL 0 < CPL 3) ------------------------------
        NOFAULT "in al, 0xE9 at CPL 3: bitmap bit 0xE9 clear -> allowed", {in al, DEBUGCON}
        FAULTS "in al, 0xE8 at CPL 3: bitmap bit set -> #GP(0)", 13, 0, {in al, DEBUGCON - 1}
        FAULTS "in al, 0x80 at CPL 3: bitmap bit set -> #GP(0)", 13, 0, {in al, 0x80}
        FAULTS "out 0x80, al at CPL 3 -> #GP(0)", 13, 0, {out 0x80, al}
        FAULTS "in ax, 0xE9 needs ports 0xE9 and 0xEA: 0xEA denied -> #GP(0)", 13, 0, {in ax, DEBUGCON}
        mov dx, 0xE8
        FAULTS "in ax, dx (0xE8..0xE9): 0xE8 denied -> #GP(0)", 13, 0, {in ax, dx}
        mov dx, 0x80
        mov edi, u_gdt_copy
        FAULTS "insb from a denied port -> #GP(0)", 13, 0, {insb}
        CHECK "fault at CPL 3: the handler ran on TSS.ESP0 (EIP pushed at ESP0 - 20)", [v_frame], STACK0_TSS_TOP - 20
        CHECK "fault at CPL 3: the CPU pushed the ring-3 SS", [v_outer_ss], UDATA | 3

        ; ---- INT1: a #DB, not a software interrupt: no gate DPL check ---------
        EXPECT_TRAP
        int1
.after_int1:
        CHECK_FAULT "int1 at CPL 3 through a DPL 0 gate -> #DB (no DPL check)", 1, 0
        CHECK "int1: pushed EIP after it", [v_eip], .after_int1

        ; ---- returns may not go inward -----------------------------------------
        EXPECT_FAULT .iret_back
        pushfd
        push dword KCODE
        push dword .iret_back
        iretd
.iret_back:
        add esp, 12
        CHECK_FAULT "iretd at CPL 3 to a ring-0 CS -> #GP(0x08)", 13, KCODE
        EXPECT_FAULT .retf_back
        push dword KCODE
        push dword .retf_back
        retf
.retf_back:
        add esp, 8
        CHECK_FAULT "retf at CPL 3 to a ring-0 CS -> #GP(0x08)", 13, KCODE
        ; IRETD at CPL 3 (same ring): IOPL and IF in the image are ignored.
        pushfd
        pop eax
        or eax, FL_IOPL
        and eax, ~FL_IF
        push eax
        push dword UCODE | 3
        push dword .same_ring
        iretd
.same_ring:
        pushfd
        pop eax
        and eax, FL_IOPL | FL_IF
        CHECK "iretd at CPL 3 cannot change IOPL or IF", eax, FL_IF

        call GATE_RING0 : 0

; Ring 3 with IOPL = 3.
ring3_iopl3:
        pushfd
        pop eax
        and eax, FL_IOPL
        CHECK "ring 3 entered with IOPL 3", eax, FL_IOPL
        NOFAULT "IOPL 3: in al, 0x80 at CPL 3 is allowed (no bitmap check)", {in al, 0x80}
        NOFAULT "IOPL 3: cli at CPL 3 is allowed", {cli}
        NOFAULT "IOPL 3: sti at CPL 3 is allowed", {sti}
        FAULTS "IOPL 3: hlt is still privileged -> #GP(0)", 13, 0, {hlt}
        call GATE_RING0 : 0

; Ring 3 with the I/O map base beyond the TSS limit: no port is allowed.
ring3_no_bitmap:
        EXPECT_FAULT .back
        in al, DEBUGCON
.back:
        call GATE_RING0 : 0

ring3_sysenter:
        mov [u_esp3_se], esp
        mov ecx, esp                    ; SYSEXIT: ESP <- ECX
        mov edx, .back                  ; SYSEXIT: EIP <- EDX
        sysenter
.back:
        mov ax, cs
        movzx eax, ax
        CHECK "sysexit: CS = IA32_SYSENTER_CS + 16 | 3 (0x1B)", eax, UCODE | 3
        mov ax, ss
        movzx eax, ax
        CHECK "sysexit: SS = IA32_SYSENTER_CS + 24 | 3 (0x23)", eax, UDATA | 3
        mov eax, esp
        CHECK "sysexit: ESP = ECX", eax, [u_esp3_se]
        call GATE_RING0 : 0

ring3_sysenter_bad:
        FAULTS "sysenter with IA32_SYSENTER_CS = 0 -> #GP(0)", 13, 0, {sysenter}
        call GATE_RING0 : 0

; CPL 3 with CR0.AM = 1: EFLAGS.AC turns alignment checking on and off.
ring3_align:
        mov ebx, u_align
        NOFAULT "AM = 1, AC = 0 at CPL 3: a misaligned dword is fine", {mov eax, [ebx + 1]}
        pushfd
        or dword [esp], FL_AC           ; POPFD may set AC at any CPL
        popfd
        NOFAULT "AM = AC = 1 at CPL 3: an aligned dword", {mov eax, [ebx + 4]}
        FAULTS "AM = AC = 1 at CPL 3: dword at an odd address -> #AC(0)", 17, 0, {mov eax, [ebx + 1]}
        FAULTS "AM = AC = 1 at CPL 3: dword at address 2 mod 4 -> #AC(0)", 17, 0, {mov [ebx + 2], eax}
        FAULTS "AM = AC = 1 at CPL 3: word at an odd address -> #AC(0)", 17, 0, {mov ax, [ebx + 3]}
        NOFAULT "AM = AC = 1 at CPL 3: word at an even address", {mov ax, [ebx + 6]}
        NOFAULT "AM = AC = 1 at CPL 3: bytes are always aligned", {mov al, [ebx + 7]}
        mov eax, [v_eflags]
        and eax, FL_AC
        CHECK "#AC: pushed EFLAGS has AC = 1", eax, FL_AC
        pushfd
        and dword [esp], ~FL_AC
        popfd
        call GATE_RING0 : 0

; CPL 3 with paging on.
ring3_paged:
        NOFAULT "paging, CPL 3: in al, 0xE9 (the bitmap in a supervisor page is read as supervisor)", {in al, DEBUGCON}
        FAULTS "paging, CPL 3: reading the supervisor GDT page -> #PF(U/S=1, P=1: 5)", 14, 5, {mov eax, [GDT_BASE]}
        mov dword [u_int_cs], 0
        int VEC_TRAP3
        mov ax, UDATA | 3               ; the handler left DS to be nulled
        mov ds, ax
        CHECK "paging, CPL 3: int 0x40 through the supervisor IDT reached ring 0", [u_int_cs], KCODE
        mov dword [u_r2_cs], 0
        call CGATE2 | 3 : 0
        CHECK "paging, CPL 3: call gate through the supervisor GDT reached ring 2", [u_r2_cs], CODE2 | 2
        call GATE_RING0 : 0

ring3_wrapped:
        mov ax, cs
        movzx eax, ax
        mov [u_wrap_cs], eax
        mov ax, ss
        movzx eax, ax
        mov [u_wrap_ss], eax
        call GATE_RING0 : 0

ring3_ring2:
        call CGATE2 | 3 : 0
        call GATE_RING0 : 0

ring3_ring2_overflow:
        EXPECT_FAULT .back
        call CGATE2 | 3 : 0
.back:
        call GATE_RING0 : 0

; =============================================================================
; Ring 0 targets.
; =============================================================================

; Through CGATE3. Stack: [esp] EIP, +4 CS, +8 p1, +12 p2, +16 p3, +20 ESP, +24 SS.
gate_target:
        mov [u_gate_esp], esp
        mov ax, ss
        movzx eax, ax
        mov [u_gate_ss], eax
        mov ax, cs
        movzx eax, ax
        mov [u_gate_cs], eax
        mov eax, [esp + 4]
        mov [u_ret_cs], eax
        mov eax, [esp + 8]
        mov [u_p1], eax
        mov eax, [esp + 12]
        mov [u_p2], eax
        mov eax, [esp + 16]
        mov [u_p3], eax
        mov eax, [esp + 20]
        mov [u_outer_esp], eax
        mov eax, [esp + 24]
        mov [u_outer_ss], eax
        ; Leave DPL 0 segments in DS and ES, a DPL 3 one in FS: the return to
        ; ring 3 must null DS and ES (ring 3 may not use them) and keep FS.
        mov ax, KDATA
        mov ds, ax
        mov es, ax
        mov ax, UDATA | 3
        mov fs, ax
        retf 12                         ; pop EIP, CS; release 12 bytes; pop ESP, SS; release 12

; Through CGATE_JMP.
jmp_target:
        mov [u_jmp_esp], esp
        jmp jmp_back

; Ring 2, through CGATE2.
ring2_target:
        mov ax, cs
        movzx eax, ax
        mov [u_r2_cs], eax
        mov ax, ss
        movzx eax, ax
        mov [u_r2_ss], eax
        mov [u_r2_esp], esp
        retf

; A conforming segment: CS.RPL stays the caller's CPL.
conf_target:
        mov ax, cs
        movzx eax, ax
        mov [u_conf_cs], eax
        mov [u_conf_esp], esp
        retf

; INT 0x40 (trap gate). Stack: [esp] EIP, +4 CS, +8 EFLAGS, +12 ESP, +16 SS.
int_trap_handler:
        mov [u_int_esp], esp
        mov ax, cs
        movzx eax, ax
        mov [u_int_cs], eax
        pushfd
        pop dword [u_int_eflags]
        mov eax, [esp]
        mov [u_int_ret_eip], eax
        mov eax, [esp + 4]
        mov [u_int_ret_cs], eax
        mov eax, [esp + 12]
        mov [u_int_outer_esp], eax
        mov eax, [esp + 16]
        mov [u_int_outer_ss], eax
        mov ax, KDATA
        mov ds, ax                      ; IRETD to ring 3 will null it
        iretd

; INT 0x43: a trap gate to a conforming segment. No privilege change: the
; handler runs at the caller's CPL on the caller's stack (SDM Vol. 3A §6.12.1).
conf_int_handler:
        mov ax, cs
        movzx eax, ax
        mov [u_ci_cs], eax
        mov [u_ci_esp], esp
        iretd

; INT 0x41 (interrupt gate).
int_int_handler:
        pushfd
        pop dword [u_int_eflags]
        iretd

; SYSENTER lands here at CPL 0 with flat CS/SS from the MSRs.
sysenter_target:
        mov ax, cs
        movzx eax, ax
        mov [u_se_cs], eax
        mov ax, ss
        movzx eax, ax
        mov [u_se_ss], eax
        mov [u_se_esp], esp
        pushfd
        pop dword [u_se_eflags]
        sysexit                         ; ECX, EDX still hold ring 3's ESP, EIP

        ROM_END
