; =============================================================================
; tasks.asm — hardware task switching (Intel SDM Vol. 3A chapter 7)
; =============================================================================
;
; Build:  nasm -f bin -I roms/tests/ -o roms/tests/tasks.bin roms/tests/tasks.asm
; Run:    x86lab run --bios roms/tests/tasks.bin --headless
;
; An IA-32 processor can switch between tasks by itself. Each task has a
; task-state segment (TSS): a block of memory holding its registers. A far JMP
; or CALL to a TSS selector (or to a task gate that names one), an interrupt
; through a task gate, or an IRET with EFLAGS.NT = 1 makes the CPU
;
;   1. check the new TSS (an available TSS for JMP/CALL/INT, a busy one for
;      IRET; present; limit >= 0x67 for a 32-bit TSS, 0x2B for a 16-bit one),
;   2. save the current registers, EFLAGS and EIP into the *current* TSS (the
;      one TR points at),
;   3. update the busy bits (type 9 = available, 11 = busy) and, for CALL and
;      interrupts, write the old TSS selector into the new TSS's back link and
;      set NT in the new task's EFLAGS,
;   4. load TR, then all registers (LDTR, EFLAGS, EIP, general and segment
;      registers) from the new TSS, and set CR0.TS.
;
; Table 7-2 of the SDM sums up the busy / NT / back-link rules:
;
;                     JMP        CALL, INT     IRET (NT=1)
;   new busy bit      set        set           stays set
;   old busy bit      cleared    stays set     cleared
;   new NT            from TSS   set           from TSS
;   back link (new)   -          old TSS       -
;
; The tasks of this ROM (all 32-bit TSSs unless noted, all in the GDT):
;
;   A  (TSS_A)  the main program; it becomes a task through LTR
;   B  (TSS_B)  reached by JMP; has its own LDT; jumps back to A
;   C  (TSS_C)  reached by CALL through a task gate; returns with IRET
;   D  (TSS_D)  reached by INT 0x40 through an IDT task gate; IRET back
;   F  (TSS_F)  the #GP handler *task*: an exception through a task gate
;   E  (TSS_E16) a 16-bit (80286-style) TSS, reached by JMP, jumps back
;
; Every check prints one PASS or FAIL line (see sysharness.inc).
; =============================================================================

%define ROM_NAME "tasks"
%include "sysharness.inc"

; ---- selectors (GDT) ----------------------------------------------------------
TSS_A           equ GDT_FREE + 0x00     ; 0x40
TSS_B           equ GDT_FREE + 0x08     ; 0x48
TSS_C           equ GDT_FREE + 0x10     ; 0x50
GATE_C          equ GDT_FREE + 0x18     ; 0x58: task gate -> TSS_C
TSS_D           equ GDT_FREE + 0x20     ; 0x60
TSS_SMALL       equ GDT_FREE + 0x28     ; 0x68: 32-bit TSS whose limit is too small
TSS_E16         equ GDT_FREE + 0x30     ; 0x70: 16-bit TSS
TSS_F           equ GDT_FREE + 0x38     ; 0x78
LDT_B           equ GDT_FREE + 0x40     ; 0x80: task B's LDT
GATE_A          equ GDT_FREE + 0x48     ; 0x88: task gate -> TSS_A
TSS_E16_SMALL   equ GDT_FREE + 0x50     ; 0x90: 16-bit TSS whose limit is too small
TSS_G           equ GDT_FREE + 0x58     ; 0x98: a task that runs at CPL 3
GATE_A3         equ GDT_FREE + 0x60     ; 0xA0: task gate -> TSS_A, DPL 3
TSS_N1          equ GDT_FREE + 0x68     ; 0xA8: nesting, first level
TSS_N2          equ GDT_FREE + 0x70     ; 0xB0: nesting, second level
TSS_H           equ GDT_FREE + 0x78     ; 0xB8: a task whose CS is not acceptable
DATA_NP         equ GDT_FREE + 0x80     ; 0xC0: a data segment marked not present
TSS_NP          equ GDT_FREE + 0x88     ; 0xC8: a TSS marked not present
TSS_E16N        equ GDT_FREE + 0x90     ; 0xD0: a 16-bit TSS reached by CALL
GATE_TI         equ GDT_FREE + 0x98     ; 0xD8: task gate naming a TSS selector with TI = 1
LDT_A           equ GDT_FREE + 0xA0     ; 0xE0: an LDT holding a TSS descriptor
LDT_TSS         equ 0x08 | 4            ; that TSS descriptor: LDT index 1
TSS_DR          equ GDT_FREE + 0xA8     ; 0xE8: a task that reads DR7
TSS_P           equ GDT_FREE + 0xB0     ; 0xF0: a task with its own page directory
TSS_Q           equ GDT_FREE + 0xB8     ; 0xF8: a task whose TSS has NT = 1
TSS_E16F        equ GDT_FREE + 0xC0     ; 0x100: a 16-bit #GP handler task
LDT_DATA        equ 0x08 | 4            ; index 1 in the LDT (TI = 1), RPL 0

; ---- memory ---------------------------------------------------------------------
TSS_A_BASE      equ 0x4000
TSS_B_BASE      equ 0x4100
TSS_C_BASE      equ 0x4200
TSS_D_BASE      equ 0x4300
TSS_SMALL_BASE  equ 0x4400
TSS_E16_BASE    equ 0x4500
TSS_F_BASE      equ 0x4600
TSS_G_BASE      equ 0x4700
TSS_N1_BASE     equ 0x4900
TSS_N2_BASE     equ 0x4A00
TSS_H_BASE      equ 0x4B00
TSS_E16N_BASE   equ 0x4C00
LDT_A_BASE      equ 0x4D00
TSS_DR_BASE     equ 0x4E00
TSS_P_BASE      equ 0x4F00
TSS_Q_BASE      equ 0x5400
TSS_E16F_BASE   equ 0x5500
PD_A            equ 0x50000             ; task A's page directory
PD_A2           equ 0x51000             ; a copy of it at another address
PD_P            equ 0x52000             ; task P's page directory
STACK_DR        equ 0x9B000
LDT_B_BASE      equ 0x4800
LDT_DATA_BASE   equ 0x20000         ; what LDT_DATA points at
STACK_B         equ 0x91000
STACK_C         equ 0x92000
STACK_D         equ 0x93000
STACK_F         equ 0x94000
STACK_G         equ 0x95000         ; task G's CPL 3 stack
STACK_G0        equ 0x96000         ; task G's CPL 0 stack (TSS_G.SS0:ESP0)
STACK_N1        equ 0x97000
STACK_N2        equ 0x98000
STACK_H         equ 0x99000
STACK_E16       equ 0xF000          ; SP in DATA16 (a 16-bit stack segment at 0)

; 16-bit TSS field offsets (SDM Vol. 3A §7.6, Figure 7-11)
T16_LINK        equ 0x00
T16_IP          equ 0x0E
T16_FLAGS       equ 0x10
T16_AX          equ 0x12
T16_CX          equ 0x14
T16_DX          equ 0x16
T16_BX          equ 0x18
T16_SP          equ 0x1A
T16_BP          equ 0x1C
T16_SI          equ 0x1E
T16_DI          equ 0x20
T16_ES          equ 0x22
T16_CS          equ 0x24
T16_SS          equ 0x26
T16_DS          equ 0x28
T16_LDT         equ 0x2A

; ---- variables --------------------------------------------------------------------
; A register snapshot: EAX ECX EDX EBX ESP EBP ESI EDI EFLAGS (dwords), then
; ES CS SS DS FS GS (one dword each, selector in the low word).
SNAP_SIZE       equ 4 * 15
snap_before     equ 0x0600
snap_after      equ snap_before + SNAP_SIZE
snap_task       equ snap_after + SNAP_SIZE      ; what a new task saw on entry
v_tr            equ 0x0700          ; STR results
v_ldtr          equ 0x0704
v_cr0           equ 0x0708
v_link          equ 0x070C
v_type_old      equ 0x0710
v_type_new      equ 0x0714
v_fsdata        equ 0x0718
v_f_error       equ 0x071C
v_f_esp         equ 0x0720
v_f_saved_eip   equ 0x0724
v_f_link        equ 0x0728
v_e_tr          equ 0x0730          ; what the 16-bit task saw (words, zero-extended)
v_e_ax          equ 0x0734
v_e_bx          equ 0x0738
v_e_sp          equ 0x073C
v_e_di          equ 0x0740
v_e_flags       equ 0x0744
v_e_type        equ 0x0748
v_e_cs          equ 0x074C
v_e_ss          equ 0x0750
v_g_cpl         equ 0x0760
v_n1_link       equ 0x0764
v_n2_link       equ 0x0768
v_n1_flags_back equ 0x076C          ; task N1's EFLAGS after N2 returned to it
v_n1_done       equ 0x0770
v_h_tr          equ 0x0774
v_e16n_flags    equ 0x0778
v_e16n_link     equ 0x077C
v_dr7_task      equ 0x0780          ; DR7 as the task TSS_DR found it
v_t_tr          equ 0x0784          ; TR in the #DB raised by the TSS's T flag
v_t_ran         equ 0x0788          ; 1: the T task's first instruction ran (after the #DB)
v_p_cr3         equ 0x078C          ; CR3 in task P
v_p_marker      equ 0x0790          ; what task P reads at linear 0x400000
v_q_flags       equ 0x0794          ; EFLAGS in task Q
v_q_tr          equ 0x0798          ; TR when Q's IRET faulted
v_f16_err       equ 0x079C          ; the 16-bit #GP handler task: error code word on its stack
v_f16_sp        equ 0x07A0          ; ... and its SP

; The type field (bits 0-3 of the access byte) of a GDT descriptor.
%macro DESC_TYPE 2                  ; reg32, selector
        movzx %1, byte [GDT_BASE + (%2) + 5]
        and %1, 0x0F
%endmacro

; TO_RING3 label — continue at `label` at CPL 3 (task G's stack), with IRETD.
%macro TO_RING3 1
        push dword DATA3 | 3    ; SS
        push dword STACK_G      ; ESP
        push dword 0x2          ; EFLAGS
        push dword CODE3 | 3    ; CS
        push dword %1           ; EIP
        iretd
%endmacro

; SNAPSHOT addr — stores every register, EFLAGS and the segment selectors
; without changing any of them (only EFLAGS is read, through PUSHFD/POP mem).
%macro SNAPSHOT 1
        mov [%1 + 0], eax
        mov [%1 + 4], ecx
        mov [%1 + 8], edx
        mov [%1 + 12], ebx
        mov [%1 + 16], esp
        mov [%1 + 20], ebp
        mov [%1 + 24], esi
        mov [%1 + 28], edi
        pushfd
        pop dword [%1 + 32]
        mov dword [%1 + 36], 0
        mov [%1 + 36], es
        mov dword [%1 + 40], 0
        mov [%1 + 40], cs
        mov dword [%1 + 44], 0
        mov [%1 + 44], ss
        mov dword [%1 + 48], 0
        mov [%1 + 48], ds
        mov dword [%1 + 52], 0
        mov [%1 + 52], fs
        mov dword [%1 + 56], 0
        mov [%1 + 56], gs
%endmacro

; CHECK_SNAPSHOTS "what", got, want — one check per register.
%macro CHECK_SNAPSHOTS 3
        CHECK {%1, ": EAX"}, [%2 + 0], [%3 + 0]
        CHECK {%1, ": ECX"}, [%2 + 4], [%3 + 4]
        CHECK {%1, ": EDX"}, [%2 + 8], [%3 + 8]
        CHECK {%1, ": EBX"}, [%2 + 12], [%3 + 12]
        CHECK {%1, ": ESP"}, [%2 + 16], [%3 + 16]
        CHECK {%1, ": EBP"}, [%2 + 20], [%3 + 20]
        CHECK {%1, ": ESI"}, [%2 + 24], [%3 + 24]
        CHECK {%1, ": EDI"}, [%2 + 28], [%3 + 28]
        CHECK {%1, ": EFLAGS"}, [%2 + 32], [%3 + 32]
        CHECK {%1, ": ES"}, [%2 + 36], [%3 + 36]
        CHECK {%1, ": CS"}, [%2 + 40], [%3 + 40]
        CHECK {%1, ": SS"}, [%2 + 44], [%3 + 44]
        CHECK {%1, ": DS"}, [%2 + 48], [%3 + 48]
        CHECK {%1, ": FS"}, [%2 + 52], [%3 + 52]
        CHECK {%1, ": GS"}, [%2 + 56], [%3 + 56]
%endmacro

; LOAD_PATTERN base — gives EAX..EDI (not ESP) the values base+1 .. base+7,
; so that a register restored from the wrong slot shows up.
%macro LOAD_PATTERN 1
        mov eax, (%1) + 1
        mov ecx, (%1) + 2
        mov edx, (%1) + 3
        mov ebx, (%1) + 4
        mov ebp, (%1) + 5
        mov esi, (%1) + 6
        mov edi, (%1) + 7
%endmacro

        bits 32

; new_task: a fresh 32-bit TSS at EDI for a task starting at EAX with stack
; EBX: CS = CODE0, SS = DS = ES = FS = GS = DATA0, EFLAGS = 2 (IF = 0), no
; LDT, every other field 0.
new_task:
        push ecx
        xor ecx, ecx
.zero:
        mov dword [edi + ecx], 0
        add ecx, 4
        cmp ecx, TSS32_SIZE
        jne .zero
        mov [edi + TSS_EIP], eax
        mov [edi + TSS_ESP], ebx
        mov dword [edi + TSS_EFLAGS], 0x2
        mov dword [edi + TSS_CS], CODE0
        mov dword [edi + TSS_SS], DATA0
        mov dword [edi + TSS_DS], DATA0
        mov dword [edi + TSS_ES], DATA0
        mov dword [edi + TSS_FS], DATA0
        mov dword [edi + TSS_GS], DATA0
        mov word [edi + TSS_IOMAP], TSS32_SIZE
        pop ecx
        ret

; =============================================================================
tests:
        call test_ltr
        call test_jmp
        call test_call_gate
        call test_int_gate
        call test_exception_task
        call test_busy_and_limits
        call test_iret_bad_link
        call test_clts
        call test_tss16
        call test_ring3_task
        call test_double_nesting
        call test_bad_cs
        call test_bad_task_state
        call test_not_present
        call test_tss16_nesting
        call test_tss_in_ldt
        call test_ext_bit
        call test_dr7
        call test_t_flag
        call test_cr3
        call test_jmp_nt
        call test_exception_task16
        ret

; -----------------------------------------------------------------------------
; LTR: the running program becomes task A. LTR does not switch anything: it
; only tells the CPU where to save the current state at the next task switch,
; and marks that TSS busy (SDM Vol. 3A §7.2.4).
; -----------------------------------------------------------------------------
test_ltr:
        mov edi, TSS_A_BASE
        mov eax, 0              ; EIP/ESP are filled in by the first switch away
        mov ebx, 0
        call new_task
        SET_DESC TSS_A, TSS_A_BASE, TSS32_SIZE - 1, ATTR_TSS32
        DESC_TYPE eax, TSS_A
        CHECK "TSS_A is an available 32-bit TSS (type 9) before LTR", eax, 9
        mov ax, TSS_A
        ltr ax
        xor eax, eax
        str eax
        CHECK "LTR: STR reads the selector back", eax, TSS_A
        DESC_TYPE eax, TSS_A
        CHECK "LTR marks the TSS busy (type 9 -> 11)", eax, 11
        ; A TSS can be loaded only when it is available: a second LTR faults.
        EXPECT_FAULT .again
        mov ax, TSS_A
        ltr ax
.again:
        CHECK_FAULT "LTR of a busy TSS -> #GP(selector)", 13, TSS_A
        ret

; -----------------------------------------------------------------------------
; JMP to a TSS: A -> B -> A.
; -----------------------------------------------------------------------------
test_jmp:
        ; Task B: starts at task_b with registers from its TSS, EFLAGS with
        ; CF and ZF set, and an LDT of its own whose descriptor 1 (selector
        ; LDT_DATA) is loaded into FS, so the CPU must load LDTR before FS.
        mov edi, TSS_B_BASE
        mov eax, task_b
        mov ebx, STACK_B
        call new_task
        mov dword [edi + TSS_EAX], 0xB0B00001
        mov dword [edi + TSS_ECX], 0xB0B00002
        mov dword [edi + TSS_EDX], 0xB0B00003
        mov dword [edi + TSS_EBX], 0xB0B00004
        mov dword [edi + TSS_EBP], 0xB0B00005
        mov dword [edi + TSS_ESI], 0xB0B00006
        mov dword [edi + TSS_EDI], 0xB0B00007
        mov dword [edi + TSS_EFLAGS], 0x2 | FL_CF | FL_ZF
        mov dword [edi + TSS_LDT], LDT_B
        mov dword [edi + TSS_FS], LDT_DATA
        SET_DESC TSS_B, TSS_B_BASE, TSS32_SIZE - 1, ATTR_TSS32
        SET_DESC LDT_B, LDT_B_BASE, 15, ATTR_LDT                ; two descriptors
        mov dword [LDT_B_BASE], 0                               ; LDT entry 0 (unused)
        mov dword [LDT_B_BASE + 4], 0
        ; LDT entry 1: data, base LDT_DATA_BASE, limit 0xFFFF, DPL 0 (built by hand)
        mov dword [LDT_B_BASE + 8], ((LDT_DATA_BASE & 0xFFFF) << 16) | 0xFFFF
        mov dword [LDT_B_BASE + 12], (LDT_DATA_BASE >> 16) & 0xFF | 0x00009200
        mov dword [LDT_DATA_BASE + 0x10], 0xCAFEF00D

        ; Task A's registers before the switch: a pattern, flags CF SF OF.
        LOAD_PATTERN 0xA0A00000
        push dword 0x2 | FL_CF | FL_SF | FL_OF
        popfd
        SNAPSHOT snap_before
        jmp TSS_B:0             ; the offset is ignored: EIP comes from TSS_B
after_jmp_b:
        ; Task B jumped back: A continues here with everything as it was.
        SNAPSHOT snap_after
        cld
        CHECK_SNAPSHOTS "JMP to B and back: task A's registers restored", snap_after, snap_before
        xor eax, eax
        str eax
        CHECK "JMP back: TR = TSS_A again", eax, TSS_A
        xor eax, eax
        sldt ax
        CHECK "JMP back: LDTR = task A's (null) LDT selector", eax, 0
        DESC_TYPE eax, TSS_B
        CHECK "JMP back: task B's TSS available again (type 9)", eax, 9
        DESC_TYPE eax, TSS_A
        CHECK "JMP back: task A's TSS busy again (type 11)", eax, 11
        CHECK "JMP back: B's TSS holds the EIP after B's JMP", [TSS_B_BASE + TSS_EIP], task_b_resume
        CHECK "JMP back: B's TSS holds B's EAX at its JMP", [TSS_B_BASE + TSS_EAX], 0xB0B0FFFF
        mov eax, cr0
        and eax, CR0_TS
        CHECK "JMP back: CR0.TS set again", eax, CR0_TS
        ret

; Task B: entered by the JMP above.
task_b:
        SNAPSHOT snap_task
        cld
        xor eax, eax
        str eax
        mov [v_tr], eax
        xor eax, eax
        sldt ax
        mov [v_ldtr], eax
        mov eax, [fs:0x10]      ; through the LDT descriptor loaded for FS
        mov [v_fsdata], eax
        mov eax, cr0
        mov [v_cr0], eax
        CHECK "JMP to a TSS: TR = the new TSS", [v_tr], TSS_B
        CHECK "JMP: EAX loaded from the new TSS", [snap_task + 0], 0xB0B00001
        CHECK "JMP: ECX loaded from the new TSS", [snap_task + 4], 0xB0B00002
        CHECK "JMP: EDX loaded from the new TSS", [snap_task + 8], 0xB0B00003
        CHECK "JMP: EBX loaded from the new TSS", [snap_task + 12], 0xB0B00004
        CHECK "JMP: ESP loaded from the new TSS", [snap_task + 16], STACK_B
        CHECK "JMP: EBP loaded from the new TSS", [snap_task + 20], 0xB0B00005
        CHECK "JMP: ESI loaded from the new TSS", [snap_task + 24], 0xB0B00006
        CHECK "JMP: EDI loaded from the new TSS", [snap_task + 28], 0xB0B00007
        CHECK "JMP: EFLAGS loaded from the new TSS (CF ZF, NT clear)", [snap_task + 32], 0x2 | FL_CF | FL_ZF
        CHECK "JMP: LDTR loaded from the new TSS", [v_ldtr], LDT_B
        CHECK "JMP: FS loaded through the new task's LDT", [v_fsdata], 0xCAFEF00D
        mov eax, [v_cr0]
        and eax, CR0_TS
        CHECK "JMP: CR0.TS set by the task switch", eax, CR0_TS
        ; What the CPU saved in task A's TSS (SDM Vol. 3A §7.3 step 6).
        CHECK "JMP: old TSS holds the EIP after the JMP", [TSS_A_BASE + TSS_EIP], after_jmp_b
        CHECK "JMP: old TSS holds EAX", [TSS_A_BASE + TSS_EAX], 0xA0A00001
        CHECK "JMP: old TSS holds EBX", [TSS_A_BASE + TSS_EBX], 0xA0A00004
        CHECK "JMP: old TSS holds EDI", [TSS_A_BASE + TSS_EDI], 0xA0A00007
        CHECK "JMP: old TSS holds ESP", [TSS_A_BASE + TSS_ESP], [snap_before + 16]
        CHECK "JMP: old TSS holds EFLAGS", [TSS_A_BASE + TSS_EFLAGS], [snap_before + 32]
        CHECK "JMP: old TSS holds CS", [TSS_A_BASE + TSS_CS], CODE0
        CHECK "JMP: old TSS holds SS", [TSS_A_BASE + TSS_SS], DATA0
        DESC_TYPE eax, TSS_A
        CHECK "JMP: the old TSS is no longer busy (type 9)", eax, 9
        DESC_TYPE eax, TSS_B
        CHECK "JMP: the new TSS is busy (type 11)", eax, 11
        CHECK "JMP: no back link is written", [TSS_B_BASE + TSS_LINK], 0
        ; Back to A. (task_b_resume is where B would continue if someone
        ; switched to it again: the CPU saves it in TSS_B now.)
        mov eax, 0xB0B0FFFF
        jmp TSS_A:0
task_b_resume:
        jmp task_b

; -----------------------------------------------------------------------------
; CALL through a task gate, IRET back: task nesting.
; -----------------------------------------------------------------------------
test_call_gate:
        mov edi, TSS_C_BASE
        mov eax, task_c
        mov ebx, STACK_C
        call new_task
        SET_DESC TSS_C, TSS_C_BASE, TSS32_SIZE - 1, ATTR_TSS32
        ; A task gate holds only a TSS selector: CALL GATE_C:x goes to TSS_C.
        SET_GDT_GATE GATE_C, TSS_C, 0, GATE_TASK

        LOAD_PATTERN 0xC0C00000
        push dword 0x2 | FL_PF | FL_AF | FL_ZF
        popfd
        SNAPSHOT snap_before
        call GATE_C:0
after_call_c:
        SNAPSHOT snap_after
        CHECK_SNAPSHOTS "CALL task gate, IRET back: caller's registers restored", snap_after, snap_before
        xor eax, eax
        str eax
        CHECK "IRET to the caller: TR = TSS_A again", eax, TSS_A
        DESC_TYPE eax, TSS_C
        CHECK "IRET: the nested task's TSS is no longer busy (type 9)", eax, 9
        DESC_TYPE eax, TSS_A
        CHECK "IRET: the caller's TSS is still busy", eax, 11
        mov eax, [TSS_C_BASE + TSS_EFLAGS]
        and eax, FL_NT
        CHECK "IRET: the nested task's saved EFLAGS has NT clear", eax, 0
        CHECK "IRET: the nested task's saved EIP is after its IRET", [TSS_C_BASE + TSS_EIP], task_c_resume
        ret

task_c:
        SNAPSHOT snap_task
        xor eax, eax
        str eax
        CHECK "CALL task gate: TR = the TSS the gate names", eax, TSS_C
        movzx eax, word [TSS_C_BASE + TSS_LINK]
        CHECK "CALL task gate: back link = the caller's TSS", eax, TSS_A
        mov eax, [snap_task + 32]
        and eax, FL_NT
        CHECK "CALL task gate: NT set in the new task", eax, FL_NT
        DESC_TYPE eax, TSS_A
        CHECK "CALL task gate: the caller's TSS stays busy", eax, 11
        DESC_TYPE eax, TSS_C
        CHECK "CALL task gate: the new TSS is busy", eax, 11
        CHECK "CALL task gate: caller's TSS holds the EIP after the CALL", [TSS_A_BASE + TSS_EIP], after_call_c
        mov eax, [TSS_A_BASE + TSS_EFLAGS]
        and eax, FL_NT
        CHECK "CALL task gate: caller's saved EFLAGS has NT clear", eax, 0
        ; Clobber everything the return must restore, then return.
        LOAD_PATTERN 0xDEAD0000
        push dword 0x2 | FL_CF | FL_NT  ; keep NT: it is what makes IRET a task return
        popfd
        iretd                   ; NT = 1: switch back to the task in the back link
task_c_resume:
        jmp task_c

; -----------------------------------------------------------------------------
; INT n through a task gate in the IDT.
; -----------------------------------------------------------------------------
test_int_gate:
        mov edi, TSS_D_BASE
        mov eax, task_d
        mov ebx, STACK_D
        call new_task
        SET_DESC TSS_D, TSS_D_BASE, TSS32_SIZE - 1, ATTR_TSS32
        SET_IDT_GATE 0x40, TSS_D, 0, GATE_TASK

        LOAD_PATTERN 0xD0D00000
        SNAPSHOT snap_before
        int 0x40
after_int_d:
        SNAPSHOT snap_after
        CHECK "INT 0x40 task gate, IRET back: EAX restored", [snap_after + 0], [snap_before + 0]
        CHECK "INT 0x40 task gate, IRET back: ESI restored", [snap_after + 24], [snap_before + 24]
        CHECK "INT 0x40 task gate, IRET back: ESP restored", [snap_after + 16], [snap_before + 16]
        CHECK "INT 0x40 task gate, IRET back: EFLAGS restored", [snap_after + 32], [snap_before + 32]
        xor eax, eax
        str eax
        CHECK "INT 0x40 task gate, IRET back: TR = TSS_A", eax, TSS_A
        DESC_TYPE eax, TSS_D
        CHECK "INT 0x40 task gate, IRET back: the handler task's TSS is available", eax, 9
        ret

task_d:
        SNAPSHOT snap_task
        xor eax, eax
        str eax
        CHECK "INT n through a task gate: TR = the gate's TSS", eax, TSS_D
        movzx eax, word [TSS_D_BASE + TSS_LINK]
        CHECK "INT n through a task gate: back link = the interrupted task", eax, TSS_A
        mov eax, [snap_task + 32]
        and eax, FL_NT
        CHECK "INT n through a task gate: NT set", eax, FL_NT
        CHECK "INT n through a task gate: nothing pushed on the handler task's stack", [snap_task + 16], STACK_D
        CHECK "INT n through a task gate: interrupted task's EIP = after the INT", [TSS_A_BASE + TSS_EIP], after_int_d
        iretd
        jmp task_d

; -----------------------------------------------------------------------------
; An exception through a task gate: the #GP handler is a task (TSS_F). The CPU
; saves the faulting task's state with EIP = the faulting instruction, switches
; to F, and pushes the error code on F's stack (SDM Vol. 3A §6.12.2).
; -----------------------------------------------------------------------------
test_exception_task:
        mov edi, TSS_F_BASE
        mov eax, task_f
        mov ebx, STACK_F
        call new_task
        SET_DESC TSS_F, TSS_F_BASE, TSS32_SIZE - 1, ATTR_TSS32
        SET_IDT_GATE 13, TSS_F, 0, GATE_TASK
        mov dword [v_f_error], 0xFFFFFFFF
faulting_jmp:
        jmp TSS_A:0             ; TSS_A is busy (it is us): #GP(TSS_A) -> task F
        ; not reached: task F makes task A continue at gp_task_resume.
        CHECK "#GP handler task: the faulting JMP was skipped", 0, 1
gp_task_resume:
        SET_IDT_GATE 13, CODE0, exc_stubs + 13 * STUB_SIZE, GATE_INT32
        CHECK "#GP through a task gate: error code = the busy TSS selector, on the handler task's stack", [v_f_error], TSS_A
        CHECK "#GP through a task gate: one dword pushed on the handler task's stack", [v_f_esp], STACK_F - 4
        CHECK "#GP through a task gate: faulting task's saved EIP = the faulting instruction", [v_f_saved_eip], faulting_jmp
        CHECK "#GP through a task gate: back link = the faulting task", [v_f_link], TSS_A
        xor eax, eax
        str eax
        CHECK "#GP through a task gate: IRET returned to the faulting task", eax, TSS_A
        ret

task_f:
        mov eax, [esp]          ; the error code the CPU pushed for #GP
        mov [v_f_error], eax
        mov [v_f_esp], esp
        movzx eax, word [TSS_F_BASE + TSS_LINK]
        mov [v_f_link], eax
        mov eax, [TSS_A_BASE + TSS_EIP]
        mov [v_f_saved_eip], eax
        ; Returning would re-execute the faulting JMP. A handler task can edit
        ; the state of the task it interrupted: it lives in that task's TSS.
        mov dword [TSS_A_BASE + TSS_EIP], gp_task_resume
        iretd
        jmp task_f

; -----------------------------------------------------------------------------
; Switches the CPU refuses (SDM Vol. 3A §7.3 steps 2-3, Table 7-1).
; -----------------------------------------------------------------------------
test_busy_and_limits:
        EXPECT_FAULT .r1
        jmp TSS_A:0
.r1:
        CHECK_FAULT "JMP to a busy TSS (the running task's own) -> #GP(selector)", 13, TSS_A
        SET_GDT_GATE GATE_A, TSS_A, 0, GATE_TASK
        EXPECT_FAULT .r2
        call GATE_A:0
.r2:
        CHECK_FAULT "CALL through a task gate to a busy TSS -> #GP(TSS selector)", 13, TSS_A

        ; A 32-bit TSS must be at least 0x68 bytes (limit >= 0x67).
        mov edi, TSS_SMALL_BASE
        mov eax, task_b
        mov ebx, STACK_B
        call new_task
        SET_DESC TSS_SMALL, TSS_SMALL_BASE, TSS32_SIZE - 2, ATTR_TSS32
        mov dword [TSS_A_BASE + TSS_EAX], 0x5A5A5A5A
        mov eax, 0x12345678
        EXPECT_FAULT .r3
        jmp TSS_SMALL:0
.r3:
        CHECK_FAULT "JMP to a 32-bit TSS with limit 0x66 -> #TS(selector)", 10, TSS_SMALL
        xor eax, eax
        str eax
        CHECK "#TS before the switch: TR unchanged", eax, TSS_A
        DESC_TYPE eax, TSS_SMALL
        CHECK "#TS before the switch: the too-small TSS is not marked busy", eax, 9
        DESC_TYPE eax, TSS_A
        CHECK "#TS before the switch: the current TSS stays busy", eax, 11
        CHECK "#TS before the switch: nothing saved in the current TSS", [TSS_A_BASE + TSS_EAX], 0x5A5A5A5A

        ; A 16-bit TSS must be at least 0x2C bytes (limit >= 0x2B).
        SET_DESC TSS_E16_SMALL, TSS_E16_BASE, 0x2A, ATTR_TSS16
        EXPECT_FAULT .r4
        jmp TSS_E16_SMALL:0
.r4:
        CHECK_FAULT "JMP to a 16-bit TSS with limit 0x2A -> #TS(selector)", 10, TSS_E16_SMALL

        ; A TSS selector must point into the GDT (TI = 0).
        EXPECT_FAULT .r5
        jmp (TSS_B | 4):0
.r5:
        ; With TI = 1 the selector indexes the LDT, which is null here: the
        ; descriptor cannot be read, #GP(selector).
        CHECK_FAULT "JMP to a TSS selector with TI = 1 (no LDT) -> #GP(selector)", 13, TSS_B | 4
        ret

; -----------------------------------------------------------------------------
; IRET with NT = 1 returns to the task in the back link, which must be busy:
; a back link naming an available TSS is #TS(back link) (SDM Vol. 2A "IRET",
; TASK-RETURN).
; -----------------------------------------------------------------------------
test_iret_bad_link:
        mov word [TSS_A_BASE + TSS_LINK], TSS_B ; B is available, not busy
        EXPECT_FAULT .r
        pushfd
        or dword [esp], FL_NT
        popfd
        iretd
.r:
        pushfd                  ; the fault returned here with NT still set
        and dword [esp], ~FL_NT
        popfd
        mov word [TSS_A_BASE + TSS_LINK], 0
        CHECK_FAULT "IRET (NT = 1) to an available TSS -> #TS(back link)", 10, TSS_B
        DESC_TYPE eax, TSS_B
        CHECK "IRET refused: the back-linked TSS stays available", eax, 9
        ret

; -----------------------------------------------------------------------------
; CR0.TS: every task switch sets it (so an OS can save x87 state lazily, on the
; first #NM); CLTS clears it (SDM Vol. 3A §2.5, §7.3 step 12).
; -----------------------------------------------------------------------------
test_clts:
        mov eax, cr0
        and eax, CR0_TS
        CHECK "CR0.TS is set after task switches", eax, CR0_TS
        clts
        mov eax, cr0
        and eax, CR0_TS
        CHECK "CLTS clears CR0.TS", eax, 0
        ret

; -----------------------------------------------------------------------------
; A 16-bit TSS (the 80286 format): 16-bit registers, no FS, GS or CR3, fields
; at other offsets. Task E runs 16-bit code (CODE16: base 0xF0000, so its IP
; is the offset R(label)) on a 16-bit stack segment (DATA16).
; -----------------------------------------------------------------------------
test_tss16:
        mov edi, TSS_E16_BASE
        xor ecx, ecx
.zero:
        mov byte [edi + ecx], 0
        inc ecx
        cmp ecx, 0x2C
        jne .zero
        mov word [edi + T16_IP], R(task_e16)
        mov word [edi + T16_FLAGS], 0x2 | FL_CF | FL_SF
        mov word [edi + T16_AX], 0x1601
        mov word [edi + T16_CX], 0x1602
        mov word [edi + T16_DX], 0x1603
        mov word [edi + T16_BX], 0x1604
        mov word [edi + T16_SP], STACK_E16
        mov word [edi + T16_BP], 0x1606
        mov word [edi + T16_SI], 0x1607
        mov word [edi + T16_DI], 0x1608
        mov word [edi + T16_ES], DATA0
        mov word [edi + T16_CS], CODE16
        mov word [edi + T16_SS], DATA16
        mov word [edi + T16_DS], DATA0
        mov word [edi + T16_LDT], 0
        SET_DESC TSS_E16, TSS_E16_BASE, 0x2B, ATTR_TSS16
        mov edi, v_e_tr         ; task E stores words: clear the dwords first
.clear:
        mov dword [edi], 0
        add edi, 4
        cmp edi, v_e_ss + 4
        jne .clear

        LOAD_PATTERN 0xE0E00000
        SNAPSHOT snap_before
        jmp TSS_E16:0
after_jmp_e16:
        SNAPSHOT snap_after
        CHECK "16-bit task: TR = the 16-bit TSS", [v_e_tr], TSS_E16
        CHECK "16-bit task: busy 16-bit TSS type (3) while running", [v_e_type], 3
        CHECK "16-bit task: AX loaded from offset 0x12", [v_e_ax], 0x1601
        CHECK "16-bit task: BX loaded from offset 0x18", [v_e_bx], 0x1604
        CHECK "16-bit task: SP loaded from offset 0x1A", [v_e_sp], STACK_E16
        CHECK "16-bit task: DI loaded from offset 0x20", [v_e_di], 0x1608
        CHECK "16-bit task: FLAGS loaded from offset 0x10", [v_e_flags], 0x2 | FL_CF | FL_SF
        CHECK "16-bit task: CS loaded from offset 0x24", [v_e_cs], CODE16
        CHECK "16-bit task: SS loaded from offset 0x26", [v_e_ss], DATA16
        CHECK "16-bit task: task A's 32-bit TSS holds its EIP", [TSS_A_BASE + TSS_EIP], after_jmp_e16
        CHECK_SNAPSHOTS "JMP to a 16-bit task and back: task A's registers restored", snap_after, snap_before
        movzx eax, word [TSS_E16_BASE + T16_IP]
        CHECK "16-bit TSS saved: IP after the task's JMP", eax, R(task_e16_resume)
        movzx eax, word [TSS_E16_BASE + T16_AX]
        CHECK "16-bit TSS saved: AX", eax, 0x6E6E
        movzx eax, word [TSS_E16_BASE + T16_SI]
        CHECK "16-bit TSS saved: SI", eax, 0x5151
        movzx eax, word [TSS_E16_BASE + T16_FLAGS]
        and eax, FL_CF | FL_ZF
        CHECK "16-bit TSS saved: FLAGS (ZF set, CF clear)", eax, FL_ZF
        movzx eax, word [TSS_E16_BASE + T16_CS]
        CHECK "16-bit TSS saved: CS", eax, CODE16
        DESC_TYPE eax, TSS_E16
        CHECK "16-bit TSS available again (type 1) after the JMP back", eax, 1
        ret

; -----------------------------------------------------------------------------
; Privilege: a JMP or CALL to a TSS needs CPL <= TSS DPL (and RPL <= DPL); a
; task gate is checked instead of the TSS it names, so a DPL 3 gate lets CPL 3
; code switch to a DPL 0 TSS (SDM Vol. 3A §7.3 step 2, §7.2.5). Task G runs at
; CPL 3: its TSS gives CS = CODE3|3, SS = DATA3|3, and SS0:ESP0 for the #GP it
; takes.
; -----------------------------------------------------------------------------
test_ring3_task:
        mov edi, TSS_G_BASE
        mov eax, task_g
        mov ebx, STACK_G
        call new_task
        mov dword [edi + TSS_CS], CODE3 | 3
        mov dword [edi + TSS_SS], DATA3 | 3
        mov dword [edi + TSS_DS], DATA3 | 3
        mov dword [edi + TSS_ES], DATA3 | 3
        mov dword [edi + TSS_FS], DATA3 | 3
        mov dword [edi + TSS_GS], DATA3 | 3
        mov dword [edi + TSS_ESP0], STACK_G0
        mov dword [edi + TSS_SS0], DATA0
        SET_DESC TSS_G, TSS_G_BASE, TSS32_SIZE - 1, ATTR_TSS32
        SET_GDT_GATE GATE_A3, TSS_A, 0, GATE_TASK | (3 << 5)
        mov dword [v_g_cpl], 0xFF
        jmp TSS_G:0
after_jmp_g:
        CHECK "CPL 3 task: ran at the CPL of the CS selector in its TSS", [v_g_cpl], 3
        xor eax, eax
        str eax
        CHECK "CPL 3 task: a DPL 3 task gate to a DPL 0 TSS brought it back to task A", eax, TSS_A
        CHECK "CPL 3 task: its TSS holds CS = CODE3|3", [TSS_G_BASE + TSS_CS], CODE3 | 3
        CHECK "CPL 3 task: its TSS holds SS = DATA3|3", [TSS_G_BASE + TSS_SS], DATA3 | 3
        CHECK "CPL 3 task: its TSS holds ESP on its CPL 3 stack", [TSS_G_BASE + TSS_ESP], STACK_G
        ; Before switching, task G returned to CPL 3 with IRETD while DS held
        ; DATA0 (DPL 0): IRET to an outer level loads DS with null then.
        CHECK "CPL 3 task: IRET to CPL 3 nulled DS (DPL 0 data), saved so", [TSS_G_BASE + TSS_DS], 0
        DESC_TYPE eax, TSS_G
        CHECK "CPL 3 task: its TSS is available after its JMP away", eax, 9
        ret

task_g:                         ; CPL 3
        mov eax, cs
        and eax, 3
        mov [v_g_cpl], eax      ; DS = DATA3|3: flat, writable from CPL 3
        EXPECT_FAULT .g1
        jmp TSS_A:0             ; TSS_A has DPL 0 < CPL 3: #GP(TSS_A)
.g1:
        ; The #GP was taken to CPL 0 on TSS_G's SS0:ESP0; the harness dropped
        ; the frame and continues here at CPL 0, still in task G.
        CHECK_FAULT "CPL 3: JMP to a DPL 0 TSS -> #GP(TSS selector)", 13, TSS_A
        TO_RING3 .g1b
.g1b:
        mov ax, DATA3 | 3       ; IRETD to CPL 3 nulled DS (it held DPL 0 DATA0)
        mov ds, ax
        EXPECT_FAULT .g1c
        jmp GATE_C:0            ; the gate's DPL (0) is what is checked: #GP(gate)
.g1c:
        CHECK_FAULT "CPL 3: JMP through a DPL 0 task gate -> #GP(gate selector)", 13, GATE_C
        TO_RING3 .g1d
.g1d:
        mov ax, DATA3 | 3       ; IRETD to CPL 3 nulled DS (it held DPL 0 DATA0)
        mov ds, ax
        EXPECT_FAULT .g1e
        int 0x40                ; IDT task gate with DPL 0: #GP(IDT entry 0x40)
.g1e:
        CHECK_FAULT "CPL 3: INT 0x40 through a DPL 0 task gate -> #GP(0x40*8+2)", 13, 0x40 * 8 + 2
        TO_RING3 .g2
.g2:
        jmp GATE_A3:0           ; through the DPL 3 gate: allowed
        jmp task_g

; -----------------------------------------------------------------------------
; Two levels of nesting: A CALLs N1, N1 CALLs N2, each IRET goes back one
; level. N1's NT (set when A called it) is saved in N1's TSS when N1 calls N2
; and comes back with it, so N1's own IRET is a task return too.
; -----------------------------------------------------------------------------
test_double_nesting:
        mov edi, TSS_N1_BASE
        mov eax, task_n1
        mov ebx, STACK_N1
        call new_task
        SET_DESC TSS_N1, TSS_N1_BASE, TSS32_SIZE - 1, ATTR_TSS32
        mov edi, TSS_N2_BASE
        mov eax, task_n2
        mov ebx, STACK_N2
        call new_task
        SET_DESC TSS_N2, TSS_N2_BASE, TSS32_SIZE - 1, ATTR_TSS32
        mov dword [v_n1_done], 0
        LOAD_PATTERN 0x4E4E0000
        SNAPSHOT snap_before
        call TSS_N1:0           ; straight to a TSS, no gate
        SNAPSHOT snap_after
        CHECK "nested twice: N1 came back to A", [v_n1_done], 1
        CHECK "nested twice: N1's back link = A", [v_n1_link], TSS_A
        CHECK "nested twice: N2's back link = N1", [v_n2_link], TSS_N1
        mov eax, [v_n1_flags_back]
        and eax, FL_NT
        CHECK "nested twice: N1 has NT = 1 again after N2's IRET", eax, FL_NT
        CHECK "nested twice: A's EAX restored", [snap_after + 0], [snap_before + 0]
        CHECK "nested twice: A's ESP restored", [snap_after + 16], [snap_before + 16]
        CHECK "nested twice: A's EFLAGS restored", [snap_after + 32], [snap_before + 32]
        DESC_TYPE eax, TSS_N1
        CHECK "nested twice: N1 available at the end", eax, 9
        DESC_TYPE eax, TSS_N2
        CHECK "nested twice: N2 available at the end", eax, 9
        ret

task_n1:
        movzx eax, word [TSS_N1_BASE + TSS_LINK]
        mov [v_n1_link], eax
        call TSS_N2:0
        pushfd
        pop dword [v_n1_flags_back]
        mov dword [v_n1_done], 1
        iretd                   ; NT = 1: back to A
        jmp task_n1

task_n2:
        movzx eax, word [TSS_N2_BASE + TSS_LINK]
        mov [v_n2_link], eax
        iretd                   ; back to N1
        jmp task_n2

; -----------------------------------------------------------------------------
; A TSS whose CS selector is unacceptable: CODE0 | 3 names a non-conforming
; code segment of DPL 0 with RPL 3, and a non-conforming CS must have DPL =
; RPL (SDM Vol. 3A Table 7-1, "code segment DPL matches segment selector
; RPL": #TS(CS)). The CPU checks this *after* the commit point, once TR and
; the registers hold the new task's values, so the exception is delivered in
; the new task's context (§7.3 step 11): TR = TSS_H and the saved EIP is task
; H's first instruction. (Its SS, DS... are DPL 3 so that only CS is wrong.)
; -----------------------------------------------------------------------------
test_bad_cs:
        mov edi, TSS_H_BASE
        mov eax, task_h
        mov ebx, STACK_H
        call new_task
        mov dword [edi + TSS_CS], CODE0 | 3
        mov dword [edi + TSS_SS], DATA3 | 3
        mov dword [edi + TSS_DS], DATA3 | 3
        mov dword [edi + TSS_ES], DATA3 | 3
        mov dword [edi + TSS_FS], DATA3 | 3
        mov dword [edi + TSS_GS], DATA3 | 3
        SET_DESC TSS_H, TSS_H_BASE, TSS32_SIZE - 1, ATTR_TSS32
        mov dword [v_h_tr], 0
        EXPECT_FAULT bad_cs_resume
        jmp TSS_H:0
after_jmp_h:
        CHECK_FAULT "new task's CS: non-conforming with DPL 0 != RPL 3 -> #TS(CS)", 10, CODE0
        CHECK "... taken in the new task's context: TR = its TSS", [v_h_tr], TSS_H
        CHECK "... the pushed EIP is the new task's first instruction", [v_fault_eip], task_h
        CHECK "... the old task's TSS holds its state (EIP after the JMP)", [TSS_A_BASE + TSS_EIP], after_jmp_h
        ret

bad_cs_resume:                  ; the harness resumes here after the #TS: task H
        mov ax, DATA0
        mov ds, ax
        xor eax, eax
        str eax
        mov [v_h_tr], eax
        jmp TSS_A:0             ; back to A, after its JMP
task_h:
        CHECK "task H's code must not run with an unacceptable CS", 0, 1
        jmp TSS_A:0

; -----------------------------------------------------------------------------
; More of Table 7-1: what the CPU checks once it has committed to the new task.
; Each case jumps to task H with one field of its TSS made wrong; the fault is
; delivered in task H's context, and bad_cs_resume switches back to A.
; -----------------------------------------------------------------------------
%macro BAD_TASK 4               ; "name", TSS field, value, vector << 16 | error
        mov edi, TSS_H_BASE
        mov eax, task_h
        mov ebx, STACK_H
        call new_task
        mov dword [edi + %2], %3
        mov dword [v_h_tr], 0
        EXPECT_FAULT bad_cs_resume
        jmp TSS_H:0
        CHECK_FAULT %1, ((%4) >> 16), ((%4) & 0xFFFF)
        CHECK {%1, ": in the new task's context"}, [v_h_tr], TSS_H
%endmacro

test_bad_task_state:
        SET_DESC DATA_NP, 0, 0xFFFFF, 0xC012    ; like DATA0 but P = 0
        BAD_TASK "new task's LDT field names a data segment -> #TS(LDT selector)", TSS_LDT, DATA0, (10 << 16) | DATA0
        BAD_TASK "new task's SS has DPL 3 but CPL (CS RPL) is 0 -> #TS(SS)", TSS_SS, DATA3 | 3, (10 << 16) | DATA3
        BAD_TASK "new task's SS is null -> #TS(0)", TSS_SS, 0, (10 << 16) | 0
        BAD_TASK "new task's DS not present -> #NP(DS)", TSS_DS, DATA_NP, (11 << 16) | DATA_NP
        ret

; A TSS (or task gate) whose descriptor is not present: #NP(selector), before
; anything is switched (SDM Vol. 3A §7.3 step 3).
test_not_present:
        SET_DESC TSS_NP, TSS_B_BASE, TSS32_SIZE - 1, ATTR_TSS32 & ~0x80
        EXPECT_FAULT .r
        jmp TSS_NP:0
.r:
        CHECK_FAULT "JMP to a not-present TSS -> #NP(selector)", 11, TSS_NP
        xor eax, eax
        str eax
        CHECK "... nothing switched", eax, TSS_A
        ret

; -----------------------------------------------------------------------------
; CALL to a 16-bit TSS and a 16-bit IRET back: the back link is the first word
; of a 16-bit TSS too, and NT is set in the 16-bit task's FLAGS.
; -----------------------------------------------------------------------------
test_tss16_nesting:
        mov edi, TSS_E16N_BASE
        xor ecx, ecx
.zero:
        mov byte [edi + ecx], 0
        inc ecx
        cmp ecx, 0x2C
        jne .zero
        mov word [edi + T16_IP], R(task_e16n)
        mov word [edi + T16_FLAGS], 0x2
        mov word [edi + T16_SP], STACK_E16
        mov word [edi + T16_ES], DATA0
        mov word [edi + T16_CS], CODE16
        mov word [edi + T16_SS], DATA16
        mov word [edi + T16_DS], DATA0
        SET_DESC TSS_E16N, TSS_E16N_BASE, 0x2B, ATTR_TSS16
        mov dword [v_e16n_flags], 0
        mov dword [v_e16n_link], 0
        LOAD_PATTERN 0x16160000
        SNAPSHOT snap_before
        call TSS_E16N:0
        SNAPSHOT snap_after
        CHECK "CALL a 16-bit TSS: back link in its first word = TSS_A", [v_e16n_link], TSS_A
        mov eax, [v_e16n_flags]
        and eax, FL_NT
        CHECK "CALL a 16-bit TSS: NT set in its FLAGS", eax, FL_NT
        CHECK "16-bit IRET task return: EAX restored", [snap_after + 0], [snap_before + 0]
        CHECK "16-bit IRET task return: EDI restored", [snap_after + 28], [snap_before + 28]
        CHECK "16-bit IRET task return: ESP restored", [snap_after + 16], [snap_before + 16]
        CHECK "16-bit IRET task return: EFLAGS restored", [snap_after + 32], [snap_before + 32]
        DESC_TYPE eax, TSS_E16N
        CHECK "16-bit IRET task return: the 16-bit TSS is available (type 1)", eax, 1
        ret

        bits 16
task_e16n:
        pushf
        pop word [v_e16n_flags]
        mov ax, [TSS_E16N_BASE + T16_LINK]
        mov [v_e16n_link], ax
        iret                    ; 16-bit IRET, NT = 1: back to the caller
        jmp task_e16n
        bits 32

; -----------------------------------------------------------------------------
; TSS descriptors live in the GDT only. A TSS selector with TI = 1 (the LDT) is
; #GP(selector) for JMP, CALL and task gates, and #TS(selector) for an IRET
; back link (SDM Vol. 3A §7.2.2).
; -----------------------------------------------------------------------------
test_tss_in_ldt:
        SET_GDT_GATE GATE_TI, TSS_B | 4, 0, GATE_TASK
        EXPECT_FAULT .r1
        call GATE_TI:0
.r1:
        CHECK_FAULT "task gate naming a TSS selector with TI = 1 -> #GP(TSS selector)", 13, TSS_B | 4

        ; An LDT whose descriptor 1 is a (well-formed) TSS descriptor.
        SET_DESC LDT_A, LDT_A_BASE, 15, ATTR_LDT
        mov dword [LDT_A_BASE], 0
        mov dword [LDT_A_BASE + 4], 0
        mov dword [LDT_A_BASE + 8], ((TSS_B_BASE & 0xFFFF) << 16) | (TSS32_SIZE - 1)
        mov dword [LDT_A_BASE + 12], 0x00008900 | ((TSS_B_BASE >> 16) & 0xFF)
        mov ax, LDT_A
        lldt ax
        EXPECT_FAULT .r2
        jmp LDT_TSS:0
.r2:
        xor eax, eax
        lldt ax
        CHECK_FAULT "JMP to a TSS descriptor in the LDT -> #GP(selector)", 13, LDT_TSS
        mov al, [LDT_A_BASE + 13]
        and eax, 0x0F
        CHECK "... and that descriptor is not marked busy", eax, 9

        mov word [TSS_A_BASE + TSS_LINK], TSS_B | 4
        EXPECT_FAULT .r3
        pushfd
        or dword [esp], FL_NT
        popfd
        iretd
.r3:
        pushfd
        and dword [esp], ~FL_NT
        popfd
        mov word [TSS_A_BASE + TSS_LINK], 0
        CHECK_FAULT "IRET whose back link has TI = 1 -> #TS(back link)", 10, TSS_B | 4
        ret

; -----------------------------------------------------------------------------
; The EXT bit (bit 0) of an error code says the fault happened while the CPU
; was delivering an event external to the program: an interrupt, or an earlier
; exception (SDM Vol. 3A §6.13). INT n is the program's own doing: EXT = 0.
; Both go here through a task gate to TSS_SMALL, whose limit is too small.
; (#UD is a benign exception, so the #TS is not turned into a double fault.)
; -----------------------------------------------------------------------------
test_ext_bit:
        SET_IDT_GATE 0x45, TSS_SMALL, 0, GATE_TASK
        EXPECT_FAULT .r1
        int 0x45
.r1:
        CHECK_FAULT "INT n through a task gate to a too-small TSS -> #TS(selector), EXT = 0", 10, TSS_SMALL
        SET_IDT_GATE 6, TSS_SMALL, 0, GATE_TASK
        EXPECT_FAULT .r2
        ud2
.r2:
        SET_IDT_GATE 6, CODE0, exc_stubs + 6 * STUB_SIZE, GATE_INT32
        CHECK_FAULT "#UD through a task gate to a too-small TSS -> #TS(selector + EXT)", 10, TSS_SMALL | 1
        ret

; -----------------------------------------------------------------------------
; DR7: the local breakpoint enables L0-L3 (bits 0, 2, 4, 6) and LE (bit 8)
; belong to a task, so the processor clears them on every task switch; the
; global ones (G0-G3, GE) stay (SDM Vol. 3A §17.2.4). The breakpoint
; addresses (DR0-DR3 = 0, execute) are never reached, so nothing fires.
; -----------------------------------------------------------------------------
test_dr7:
        mov edi, TSS_DR_BASE
        mov eax, task_dr
        mov ebx, STACK_DR
        call new_task
        SET_DESC TSS_DR, TSS_DR_BASE, TSS32_SIZE - 1, ATTR_TSS32
        xor eax, eax
        mov dr0, eax
        mov dr1, eax
        mov eax, (1 << 0) | (1 << 3) | (1 << 8) | (1 << 9)     ; L0, G1, LE, GE
        mov dr7, eax
        mov dword [v_dr7_task], 0
        call TSS_DR:0
        mov eax, dr7
        mov ebx, 0x400
        mov dr7, ebx            ; all breakpoints off again
        CHECK "task switch clears DR7's L0 and LE, keeps G1 and GE", [v_dr7_task], 0x400 | (1 << 3) | (1 << 9)
        CHECK "... and the return switch leaves them cleared", eax, 0x400 | (1 << 3) | (1 << 9)
        ret

; -----------------------------------------------------------------------------
; The T (debug trap) flag, bit 0 of the word at offset 0x64 of a 32-bit TSS:
; after a switch to that task the CPU raises #DB before the new task's first
; instruction, with DR6.BT (bit 15) set (SDM Vol. 3A §17.3.1.5). It is a trap:
; the #DB frame's EIP is that first instruction, which then runs.
; -----------------------------------------------------------------------------
test_t_flag:
        mov edi, TSS_DR_BASE
        mov eax, task_t
        mov ebx, STACK_DR
        call new_task
        mov word [edi + 0x64], 1        ; T = 1
        SET_DESC TSS_DR, TSS_DR_BASE, TSS32_SIZE - 1, ATTR_TSS32
        xor eax, eax
        mov dr6, eax
        mov dword [v_t_ran], 0
        mov dword [v_t_tr], 0
        EXPECT_FAULT t_resume
        call TSS_DR:0
        NO_FAULT_EXPECTED       ; (only matters if no #DB came)
        CHECK_FAULT "TSS T flag: #DB after the switch", 1, 0
        CHECK "TSS T flag: the #DB is taken in the new task (TR = its TSS)", [v_t_tr], TSS_DR
        CHECK "TSS T flag: the #DB frame's EIP is the new task's first instruction", [v_fault_eip], task_t
        mov eax, dr6
        and eax, 1 << 15
        CHECK "TSS T flag: DR6.BT set", eax, 1 << 15
        CHECK "TSS T flag: then the new task ran", [v_t_ran], 1
        xor eax, eax
        mov dr6, eax
        ret

t_resume:                       ; the harness returns here from the #DB, in task T
        xor eax, eax
        str eax
        mov [v_t_tr], eax
        jmp [v_fault_eip]       ; continue where the #DB left the new task
task_t:
        mov dword [v_t_ran], 1
        iretd                   ; NT = 1 (CALL): back to A
        jmp task_t

; -----------------------------------------------------------------------------
; CR3 with paging on: a task switch loads CR3 from the new TSS (each task can
; have its own address space) but does not save CR3 in the old one: the CR3
; field is static, set up by the OS (SDM Vol. 3A §7.2.1, §7.3). The page
; directories map 0-4 MiB to itself and linear 4 MiB to a page of their own
; (4 MiB pages, CR4.PSE).
; -----------------------------------------------------------------------------
CR0_PG          equ 1 << 31
CR4_PSE         equ 1 << 4

%macro MAKE_PD 2                ; page directory address, physical address for linear 4 MiB
        mov edi, %1
        xor ecx, ecx
%%z:
        mov dword [edi + ecx], 0
        add ecx, 4
        cmp ecx, 4096
        jne %%z
        mov dword [edi + 0], 0x00000000 | 0x87  ; PS, user, writable, present
        mov dword [edi + 4], (%2) | 0x87
%endmacro

test_cr3:
        mov dword [0x400000], 0xAAAA0000        ; paging off: physical addresses
        mov dword [0x800000], 0xBBBB0000
        MAKE_PD PD_A, 0x400000
        MAKE_PD PD_A2, 0x400000
        MAKE_PD PD_P, 0x800000
        mov edi, TSS_P_BASE
        mov eax, task_p
        mov ebx, STACK_DR
        call new_task
        mov dword [edi + TSS_CR3], PD_P
        SET_DESC TSS_P, TSS_P_BASE, TSS32_SIZE - 1, ATTR_TSS32
        mov dword [TSS_A_BASE + TSS_CR3], PD_A  ; what task A's CR3 is loaded from

        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov eax, PD_A2          ; running with the copy: not what TSS_A says
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        mov eax, [0x400000]
        mov [v_p_marker], eax   ; (scratch: A's view before the switch)
        jmp TSS_P:0
after_jmp_p:
        mov esi, [0x400000]     ; A's view again
        mov edi, cr3
        mov eax, cr0
        and eax, ~CR0_PG
        mov cr0, eax
        mov eax, cr4
        and eax, ~CR4_PSE
        mov cr4, eax
        CHECK "paging: task P saw its own mapping of linear 4 MiB", [v_p_marker], 0xBBBB0000
        CHECK "paging: task P ran with CR3 from its TSS", [v_p_cr3], PD_P
        CHECK "paging: back in A, linear 4 MiB is A's page again", esi, 0xAAAA0000
        CHECK "paging: back in A, CR3 = the CR3 field of TSS_A (not the one A ran with)", edi, PD_A
        CHECK "paging: the switch away did not write CR3 into TSS_A", [TSS_A_BASE + TSS_CR3], PD_A
        ret

task_p:
        mov eax, cr3
        mov [v_p_cr3], eax
        mov eax, [0x400000]
        mov [v_p_marker], eax
        jmp TSS_A:0

; -----------------------------------------------------------------------------
; JMP leaves NT as the new TSS has it (Table 7-2): task Q's TSS says NT = 1,
; so Q's IRET is a task return, to the back link in Q's TSS (TSS_A). But a JMP
; marked A not busy: that IRET is #TS(TSS_A), taken in Q's context.
; -----------------------------------------------------------------------------
test_jmp_nt:
        mov edi, TSS_Q_BASE
        mov eax, task_q
        mov ebx, STACK_DR
        call new_task
        mov dword [edi + TSS_EFLAGS], 0x2 | FL_NT
        mov word [edi + TSS_LINK], TSS_A
        SET_DESC TSS_Q, TSS_Q_BASE, TSS32_SIZE - 1, ATTR_TSS32
        mov dword [v_q_tr], 0
        EXPECT_FAULT q_resume
        jmp TSS_Q:0
        mov eax, [v_q_flags]
        and eax, FL_NT
        CHECK "JMP to a TSS whose EFLAGS has NT = 1: NT = 1 in the new task", eax, FL_NT
        CHECK_FAULT "... so its IRET is a task return, to a TSS the JMP freed -> #TS(back link)", 10, TSS_A
        CHECK "... taken in that task's context", [v_q_tr], TSS_Q
        ret

task_q:
        pushfd
        pop dword [v_q_flags]
        iretd                   ; NT = 1: back link TSS_A, which is not busy
        jmp task_q
q_resume:
        xor eax, eax
        str eax
        mov [v_q_tr], eax
        jmp TSS_A:0

; -----------------------------------------------------------------------------
; An exception through a task gate to a 16-bit TSS: the error code is pushed
; as a word on the new task's stack (SDM Vol. 3A §6.12.2: the error code is
; pushed with the size of the new task's TSS).
; -----------------------------------------------------------------------------
test_exception_task16:
        mov edi, TSS_E16F_BASE
        xor ecx, ecx
.zero:
        mov byte [edi + ecx], 0
        inc ecx
        cmp ecx, 0x2C
        jne .zero
        mov word [edi + T16_IP], R(task_e16f)
        mov word [edi + T16_FLAGS], 0x2
        mov word [edi + T16_SP], STACK_E16
        mov word [edi + T16_ES], DATA0
        mov word [edi + T16_CS], CODE16
        mov word [edi + T16_SS], DATA16
        mov word [edi + T16_DS], DATA0
        SET_DESC TSS_E16F, TSS_E16F_BASE, 0x2B, ATTR_TSS16
        SET_IDT_GATE 13, TSS_E16F, 0, GATE_TASK
        mov dword [v_f16_err], 0
        mov dword [v_f16_sp], 0
faulting_jmp16:
        jmp TSS_A:0             ; busy: #GP(TSS_A) -> the 16-bit handler task
gp16_resume:
        SET_IDT_GATE 13, CODE0, exc_stubs + 13 * STUB_SIZE, GATE_INT32
        CHECK "#GP through a task gate to a 16-bit TSS: error code on its stack", [v_f16_err], TSS_A
        CHECK "#GP through a task gate to a 16-bit TSS: pushed as a word (SP - 2)", [v_f16_sp], STACK_E16 - 2
        ret

        bits 16
task_e16f:
        mov bp, sp
        mov ax, [bp]
        mov [v_f16_err], ax
        mov [v_f16_sp], sp
        mov dword [TSS_A_BASE + TSS_EIP], gp16_resume   ; continue A elsewhere
        iret                    ; 16-bit IRET, NT = 1
        jmp task_e16f
        bits 32

task_dr:
        mov eax, dr7
        mov [v_dr7_task], eax
        iretd
        jmp task_dr

        bits 16
task_e16:
        mov [v_e_ax], ax
        mov [v_e_bx], bx
        mov [v_e_sp], sp
        mov [v_e_di], di
        pushf
        pop word [v_e_flags]
        str word [v_e_tr]
        mov [v_e_cs], cs
        mov [v_e_ss], ss
        movzx eax, byte [GDT_BASE + TSS_E16 + 5]
        and al, 0x0F
        mov [v_e_type], eax
        mov ax, 0x6E6E          ; state to be saved in the 16-bit TSS
        mov si, 0x5151
        cmp ax, ax              ; ZF = 1, CF = 0
        jmp TSS_A:0             ; a 16-bit far JMP (EA ip16 sel16) to task A
task_e16_resume:
        jmp task_e16
        bits 32

        ROM_END
