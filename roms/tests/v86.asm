; =============================================================================
; v86.asm — virtual-8086 mode and a trap-and-emulate monitor
;           (Intel SDM Vol. 3A chapter 20, §6.12.1)
; =============================================================================
;
; Build:  nasm -f bin -I roms/tests/ -o roms/tests/v86.bin roms/tests/v86.asm
; Run:    x86lab run --bios roms/tests/v86.bin --headless
;
; Virtual-8086 mode runs 8086 (real-mode) code inside protected mode: segment
; registers are loaded the real-mode way (base = selector * 16, limit 64 KiB),
; but the code runs at CPL 3 under the control of a protected-mode *monitor*.
; This is the oldest form of x86 virtualization, and it works exactly the way
; x86lab itself works: the guest runs directly until it does something it may
; not do, the CPU traps to the monitor, the monitor emulates that one
; instruction, and the guest goes on without noticing. Trap and emulate.
;
; What traps (SDM Vol. 3A §20.2.7, without the VME extensions):
;
;   * With IOPL < 3, the IOPL-sensitive instructions CLI, STI, PUSHF, POPF,
;     INT n and IRET raise #GP(0). The monitor keeps a *virtual* interrupt
;     flag for the guest and emulates them against it.
;   * IN, OUT, INS, OUTS are not IOPL-sensitive in virtual-8086 mode: they go
;     through the I/O permission bitmap in the TSS. A port whose bit is 0 is
;     accessed directly; a port whose bit is 1 (or beyond the bitmap) raises
;     #GP(0), so the monitor can emulate the device.
;   * HLT, and every other privileged instruction, raises #GP(0) (CPL is 3).
;   * With IOPL = 3, CLI, STI, PUSHF, POPF, INT n and IRET run directly, with
;     their real-mode meaning (but POPF and IRET cannot change IOPL).
;
; How the CPU enters and leaves virtual-8086 mode:
;
;   * IRETD at CPL 0 with VM = 1 in the EFLAGS image enters it. The stack then
;     holds, from the top: EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS.
;   * A task switch to a TSS whose EFLAGS has VM = 1 enters it too.
;   * Every interrupt or exception leaves it, through a 32-bit interrupt or
;     trap gate to a ring-0 non-conforming code segment. The CPU switches to
;     the ring-0 stack from the TSS (SS0:ESP0), pushes GS, FS, DS, ES, SS, ESP,
;     EFLAGS (with VM = 1), CS, EIP (and an error code), then loads DS, ES, FS
;     and GS with null: real-mode segment values are not selectors, and the
;     handler must not use them by accident (SDM §20.3.1.1, Figure 20-5).
;
; The ROM runs three virtual-8086 programs:
;
;   1. IOPL = 0: segment arithmetic, then every sensitive instruction traps
;      and the monitor (monitor_gp) emulates it; I/O goes through the bitmap.
;   2. IOPL = 3: CLI/STI/PUSHF/POPF/IRET run directly; INT 0x41 reaches a
;      ring-0 handler through a DPL 3 gate and sees the v86 frame; an
;      exception (#DE) reaches its handler; HLT still traps.
;   3. A virtual-8086 *task*: a JMP to a TSS with VM = 1.
;   4. Program 1's I/O again with paging on, the TSS in a supervisor-only
;      page: the CPU reads the I/O bitmap as a supervisor (an implicit
;      access), whatever the CPL of the code doing the I/O.
;   5. How IRETD decides: VM = 1 in the popped EFLAGS enters virtual-8086
;      mode only at CPL 0, and only with an IP inside the 64 KiB segment.
;
; Every check prints one PASS or FAIL line (see sysharness.inc).
; =============================================================================

%define ROM_NAME "v86"
%include "sysharness.inc"

; ---- selectors ----------------------------------------------------------------
TSS_MON         equ GDT_FREE + 0x00     ; the monitor's TSS, with an I/O bitmap
TSS_VT          equ GDT_FREE + 0x08     ; a virtual-8086 task (program 3)
TSS_H44         equ GDT_FREE + 0x10     ; the INT 0x44 handler task (program 2)

; ---- memory ---------------------------------------------------------------------
TSS_MON_BASE    equ 0x3000
IOMAP_OFFSET    equ TSS32_SIZE                  ; the bitmap follows the TSS
IOMAP_BYTES     equ 0x20                        ; covers ports 0x00 .. 0xFF
TSS_MON_LIMIT   equ IOMAP_OFFSET + IOMAP_BYTES  ; + 1 terminator byte (0xFF)
TSS_VT_BASE     equ 0x3400
STACK_VT0       equ 0x9E000                     ; ring-0 stack of the v86 task
TSS_H44_BASE    equ 0x3800
STACK_H44       equ 0x9D000
PAGE_DIR        equ 0x10000                     ; program 4's page directory
PAGE_TABLE      equ 0x11000                     ; ... and its one page table (0-4 MiB)

; Virtual-8086 memory (real-mode addresses = segment * 16 + offset).
V86_CS          equ 0xF000          ; the programs run from the ROM: F000:R(label)
V86_SS          equ 0x2000          ; stack 2000:1000 -> linear 0x21000 downwards
V86_SP          equ 0x1000
RES_SEG         equ 0x0080          ; the programs' results: 0080:xxxx = linear 0x800 + xxxx
RES             equ RES_SEG * 16

; Results the virtual-8086 programs leave at RES_SEG:offset (words).
R_ENTRY         equ 0x00            ; DS ES FS GS SS SP CS at entry (7 words)
R_ALIAS         equ 0x10
R_FLAGS_CLI     equ 0x12
R_FLAGS_STI     equ 0x14
R_ISR           equ 0x16
R_ISR_FLAGS     equ 0x18
R_FLAGS_IRET    equ 0x1A
R_CF_POPF       equ 0x1C
R_FLAGS_POPF    equ 0x1E
R_IN_E9         equ 0x20
R_IN_AX         equ 0x22
R_IN_EF         equ 0x24
R_DONE1         equ 0x26
R_INT3_OK       equ 0x28            ; 1: the program went on after INT3
R_INTO_OK       equ 0x2A            ; 1: ... after INTO
R2_FLAGS_CLI    equ 0x40
R2_FLAGS_STI    equ 0x42
R2_FLAGS_POPF   equ 0x44
R2_IRET_OK      equ 0x46
R2_AX41         equ 0x48
R2_SEGS         equ 0x4A            ; ES FS GS DS after INT 0x41 returned (4 words)
R2_DE_OK        equ 0x52
R2_PUSHFD       equ 0x54            ; dword: PUSHFD in v86, IOPL 3
R2_T44          equ 0x58            ; 1: back in v86 after the INT 0x44 task
R2_T44_DS       equ 0x5A            ; DS after that return
R4_IN_E9        equ 0x70            ; program 4
R4_DONE         equ 0x72
p5_cs           equ 0x0780          ; program 5: CS after IRETD with VM = 1 at CPL 3
p5_eflags       equ 0x0784
RING3_STACK     equ 0x9A000
R3_SEGS         equ 0x60            ; DS ES FS GS SS SP in the v86 task (6 words)

; ---- the monitor's variables -------------------------------------------------------
m_esp           equ 0x0600          ; monitor ESP to go back to when a program ends
m_vif           equ 0x0604          ; the guest's virtual interrupt flag (0 or 1)
m_traps         equ 0x0608          ; #GP traps from virtual-8086 mode
m_cli           equ 0x060C          ; ... by instruction
m_sti           equ 0x0610
m_pushf         equ 0x0614
m_popf          equ 0x0618
m_int           equ 0x061C
m_iret          equ 0x0620
m_io            equ 0x0624
m_hlt           equ 0x0628
m_nonzero       equ 0x062C          ; traps whose error code was not 0
m_int_err       equ 0x0630          ; the last nonzero error code
m_unknown       equ 0x0634          ; an opcode the monitor cannot emulate (0: none)
m_iopl          equ 0x0638          ; IOPL in the last trap frame's EFLAGS
m_novm          equ 0x063C          ; frames without VM (must stay 0)
m_task_mode     equ 0x0640          ; 1: the program is a v86 *task* (program 3)
m_ports         equ 0x0644          ; the ports of the trapped IN/OUTs, in order (4 dwords)
m_tty_len       equ 0x0660
m_tty_buf       equ 0x0664          ; what INT 10h/AH=0Eh printed (64 bytes)
m41             equ 0x06B0          ; what the INT 0x41 handler saw:
m41_eip         equ m41 + 0x00      ;   the frame: EIP CS EFLAGS ESP SS ES DS FS GS
m41_cs          equ m41 + 0x04
m41_eflags      equ m41 + 0x08
m41_esp         equ m41 + 0x0C
m41_ss          equ m41 + 0x10
m41_fes         equ m41 + 0x14
m41_fds         equ m41 + 0x18
m41_ffs         equ m41 + 0x1C
m41_fgs         equ m41 + 0x20
m41_ds          equ m41 + 0x24      ;   and its own DS ES FS GS on entry
m41_es          equ m41 + 0x28
m41_fs          equ m41 + 0x2C
m41_gs          equ m41 + 0x30
m41_cpl         equ m41 + 0x34
m41_ran         equ m41 + 0x38
mde             equ 0x0700          ; what the #DE handler saw
mde_eip         equ mde + 0x00
mde_cs          equ mde + 0x04
mde_eflags      equ mde + 0x08
mde_ran         equ mde + 0x0C
m41_own_eflags  equ m41 + 0x3C      ; EFLAGS inside the INT 0x41 handler
mbp             equ 0x0760          ; what the INT3 (#BP) handler saw
mbp_eip         equ mbp + 0x00
mbp_cs          equ mbp + 0x04
mbp_eflags      equ mbp + 0x08
mbp_ran         equ mbp + 0x0C
m_limit         equ 0x0770          ; #GP traps from a segment-limit violation
m_errs          equ 0x0720          ; the nonzero #GP error codes, in order (4 dwords)
t44             equ 0x0740          ; what the INT 0x44 handler task saw:
t44_link        equ t44 + 0x00      ;   its back link
t44_eflags      equ t44 + 0x04      ;   the interrupted task's saved EFLAGS, EIP, CS, DS, SS
t44_eip         equ t44 + 0x08
t44_cs          equ t44 + 0x0C
t44_ds          equ t44 + 0x10
t44_ss          equ t44 + 0x14
t44_ran         equ t44 + 0x18
t44_tr          equ t44 + 0x1C

; The arithmetic flags and DF: what the monitor lets an emulated POPF/IRET change.
GUEST_FLAGS     equ FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_DF | FL_OF

; CHECKWM "name", linear address, mask, want — the same for some bits of it.
%macro CHECKWM 4
        push eax
        movzx eax, word [%2]
        and eax, %3
        CHECK %1, eax, %4
        pop eax
%endmacro

; CHECKW "name", linear address, want — checks a word the v86 code stored.
%macro CHECKW 3
        push eax
        movzx eax, word [%2]
        CHECK %1, eax, %3
        pop eax
%endmacro

        bits 32
; =============================================================================
tests:
        call setup
        call program1
        call program2
        call program3
        call program4
        call program5
        ret

; -----------------------------------------------------------------------------
; setup: the monitor's TSS (SS0:ESP0 for traps from virtual-8086 mode, and an
; I/O permission bitmap), the IDT entries of the monitor, and the real-mode
; interrupt vector the guest's INT 0x61 is reflected to.
; -----------------------------------------------------------------------------
setup:
        mov eax, TSS_MON_BASE
        mov edx, TSS_MON
        call init_tss           ; SS0:ESP0 = DATA0:RING0_STACK
        ; The I/O permission bitmap: one bit per port, 1 = trap. Every port
        ; 0x00-0xFF traps except 0xE9 (the debug console) and 0xEF, 0xF0.
        ; Ports above 0xFF lie beyond the TSS limit: they trap too. The byte
        ; after the bitmap must be 0xFF (the CPU may read one byte past it).
        mov edi, TSS_MON_BASE + IOMAP_OFFSET
        xor ecx, ecx
.fill:
        mov byte [edi + ecx], 0xFF
        inc ecx
        cmp ecx, IOMAP_BYTES + 1
        jne .fill
        and byte [edi + 0xE9 / 8], ~(1 << (0xE9 % 8))
        and byte [edi + 0xEF / 8], ~(1 << (0xEF % 8))
        and byte [edi + 0xF0 / 8], ~(1 << (0xF0 % 8))
        mov word [TSS_MON_BASE + TSS_IOMAP], IOMAP_OFFSET
        SET_DESC TSS_MON, TSS_MON_BASE, TSS_MON_LIMIT, ATTR_TSS32
        mov ax, TSS_MON
        ltr ax

        SET_IDT_GATE 13, CODE0, monitor_gp, GATE_INT32
        SET_IDT_GATE 0, CODE0, monitor_de, GATE_INT32
        SET_IDT_GATE 0x41, CODE0, monitor_int41, GATE_INT32_DPL3
        ; INT3 is not IOPL-sensitive: it goes through IDT entry 3 like any
        ; software interrupt, whose gate needs DPL 3 to be used from CPL 3.
        SET_IDT_GATE 3, CODE0, monitor_bp, GATE_INT32_DPL3
        ; (vector 4 keeps a DPL 0 gate: INTO from v86 -> #GP(4*8+2))
        ; (vector 0x42 keeps the harness's DPL 0 gate: INT 0x42 from v86 -> #GP)
        ; Vector 0x43: a DPL 3 gate to a DPL 3 handler. From virtual-8086 mode
        ; the handler must be ring 0 (non-conforming): #GP(CODE3).
        SET_IDT_GATE 0x43, CODE3 | 3, monitor_int41, GATE_INT32_DPL3
        ; Vector 0x44: a DPL 3 *task* gate: the handler is a task.
        mov edi, TSS_H44_BASE
        xor ecx, ecx
.zero44:
        mov dword [edi + ecx], 0
        add ecx, 4
        cmp ecx, TSS32_SIZE
        jne .zero44
        mov dword [edi + TSS_EIP], monitor_task44
        mov dword [edi + TSS_EFLAGS], 0x2
        mov dword [edi + TSS_ESP], STACK_H44
        mov dword [edi + TSS_CS], CODE0
        mov dword [edi + TSS_SS], DATA0
        mov dword [edi + TSS_DS], DATA0
        mov dword [edi + TSS_ES], DATA0
        mov dword [edi + TSS_FS], DATA0
        mov dword [edi + TSS_GS], DATA0
        mov word [edi + TSS_IOMAP], TSS32_SIZE
        SET_DESC TSS_H44, TSS_H44_BASE, TSS32_SIZE - 1, ATTR_TSS32
        SET_IDT_GATE 0x44, TSS_H44, 0, GATE_TASK | (3 << 5)

        ; The guest's own interrupt vector table, at linear 0 as in real mode.
        mov word [0x61 * 4], R(v86_isr61)
        mov word [0x61 * 4 + 2], V86_CS
        ret

; -----------------------------------------------------------------------------
; run_v86: enters virtual-8086 mode at F000:EBX with EFLAGS = EAX (VM set by
; the caller), and returns when the monitor sees the program's HLT.
;
; IRETD at CPL 0 pops EIP, CS, EFLAGS; VM = 1 in that EFLAGS makes it pop ESP,
; SS, ES, DS, FS, GS as well and load them as real-mode segments (SDM Vol. 2A
; "IRET", RETURN-TO-VIRTUAL-8086-MODE). The segment values pushed here are
; arbitrary: program 1 stores what it finds, and the checks compare.
; -----------------------------------------------------------------------------
run_v86:
        pushad
        mov [m_esp], esp        ; monitor_gp comes back here at the end
        push dword 0x4444       ; GS
        push dword 0x3333       ; FS
        push dword 0x2222       ; DS
        push dword 0x1111       ; ES
        push dword V86_SS       ; SS
        push dword V86_SP       ; ESP
        push eax                ; EFLAGS, VM = 1
        push dword V86_CS       ; CS
        push ebx                ; EIP
        iretd
run_v86_done:                   ; monitor_gp jumps here with ESP = [m_esp]
        mov ax, DATA0
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        popad
        ret

reset_counters:
        mov edi, m_traps
.z:
        mov dword [edi], 0
        add edi, 4
        cmp edi, m_tty_buf + 64
        jne .z
        mov edi, m_errs
.z2:
        mov dword [edi], 0
        add edi, 4
        cmp edi, m_errs + 16
        jne .z2
        ret

; =============================================================================
; The monitor: the #GP handler for virtual-8086 mode.
;
; The CPU gets here, at CPL 0 on the TSS's SS0:ESP0 stack, with
;
;       [esp+0]  error code (0 for a sensitive instruction)
;       [esp+4]  EIP   [esp+8]  CS   [esp+12] EFLAGS (VM = 1)
;       [esp+16] ESP   [esp+20] SS
;       [esp+24] ES    [esp+28] DS   [esp+32] FS   [esp+36] GS
;
; and DS, ES, FS, GS null. CS:EIP point at the instruction that trapped (a
; fault: nothing of it has happened yet). The monitor reads its opcode at
; linear CS * 16 + IP, does what a real-mode CPU would have done to the guest's
; state in the frame, moves IP past the instruction, and IRETDs back into
; virtual-8086 mode.
; =============================================================================
monitor_gp:
        test dword [esp + 12], FL_VM
        jz .not_v86
        pushad                  ; [esp+28] EAX ... [esp+20] EDX ... [esp] EDI
        mov ax, DATA0
        mov ds, ax
        mov es, ax
        lea ebp, [esp + 32]     ; EBP -> the CPU's frame
        inc dword [m_traps]
        mov eax, [ebp + 12]
        shr eax, 12
        and eax, 3
        mov [m_iopl], eax
        mov eax, [ebp]
        cmp eax, 0
        je .decode
        ; A nonzero error code: not a sensitive instruction but a gate
        ; problem. In this ROM that is INT 0x42 through a DPL 0 gate, which
        ; #GPs with the IDT index (0x42 * 8 + 2, bit 1 = IDT): skip the INT.
        mov ebx, [m_nonzero]
        cmp ebx, 4
        jae .err_counted
        mov [m_errs + ebx * 4], eax
.err_counted:
        inc dword [m_nonzero]
        mov [m_int_err], eax
        movzx esi, word [ebp + 8]       ; skip the INT n (2 bytes), INT3 or INTO (1)
        shl esi, 4
        movzx eax, word [ebp + 4]
        add esi, eax
        cmp byte [esi], 0xCD
        je .next2
        jmp .next1

.decode:
        movzx esi, word [ebp + 8]       ; guest CS
        shl esi, 4
        movzx eax, word [ebp + 4]       ; guest IP
        add esi, eax                    ; ESI = linear address of the instruction
        movzx eax, byte [esi]
        cmp al, 0xFA
        je .cli
        cmp al, 0xFB
        je .sti
        cmp al, 0x9C
        je .pushf
        cmp al, 0x9D
        je .popf
        cmp al, 0xCD
        je .int
        cmp al, 0xCF
        je .iret
        cmp al, 0xF4
        je .hlt
        cmp al, 0xA1
        je .limit
        cmp al, 0xE4
        jb .unknown
        cmp al, 0xE7
        jbe .io_imm8                    ; E4 E5 IN, E6 E7 OUT with an 8-bit port
        cmp al, 0xEC
        jb .unknown
        cmp al, 0xEF
        jbe .io_dx                      ; EC ED IN, EE EF OUT with port DX
        jmp .unknown

.cli:   ; CLI: the guest may not clear the real IF; clear its virtual one.
        mov dword [m_vif], 0
        inc dword [m_cli]
        jmp .next1
.sti:   ; STI: set the virtual IF. (A monitor would now deliver pending
        ; virtual interrupts; this guest has none.)
        mov dword [m_vif], 1
        inc dword [m_sti]
        jmp .next1
.pushf: ; PUSHF: push the FLAGS the guest believes in: the real arithmetic
        ; flags, with the virtual IF in place of the real one.
        call guest_flags
        call v86_push16
        inc dword [m_pushf]
        jmp .next1
.popf:  ; POPF: IF goes to the virtual IF, the arithmetic flags and DF to the
        ; real EFLAGS; IOPL, IF and VM stay the monitor's.
        call v86_pop16
        call set_guest_flags
        inc dword [m_popf]
        jmp .next1
.int:   ; INT n: the monitor serves INT 10h/AH=0Eh (BIOS teletype) itself,
        ; and reflects every other vector into the guest's own IVT.
        inc dword [m_int]
        movzx eax, byte [esi + 1]       ; the vector
        cmp eax, 0x10
        je .int10
        ; Reflect, as a real-mode CPU delivers an interrupt: push FLAGS, CS
        ; and the IP of the next instruction on the guest's stack, clear IF
        ; (the virtual one) and TF, and continue at the IVT's CS:IP.
        push eax
        call guest_flags
        call v86_push16
        movzx eax, word [ebp + 8]
        call v86_push16
        movzx eax, word [ebp + 4]
        add eax, 2
        call v86_push16
        mov dword [m_vif], 0
        and dword [ebp + 12], ~FL_TF
        pop eax
        mov edx, [eax * 4]              ; IVT entry: offset (low word), segment (high)
        movzx ecx, dx
        mov [ebp + 4], ecx
        shr edx, 16
        mov [ebp + 8], edx
        jmp .resume
.int10:
        mov eax, [esp + 28]             ; the guest's EAX, as PUSHAD saved it
        cmp ah, 0x0E
        jne .unknown
        out DEBUGCON, al                ; the "screen" is the debug console
        mov ecx, [m_tty_len]
        cmp ecx, 64
        jae .next2
        mov [m_tty_buf + ecx], al
        inc dword [m_tty_len]
        jmp .next2
.iret:  ; IRET: pop IP, CS, FLAGS from the guest's stack.
        call v86_pop16
        mov [ebp + 4], eax
        call v86_pop16
        mov [ebp + 8], eax
        call v86_pop16
        call set_guest_flags
        inc dword [m_iret]
        jmp .resume                     ; IP already points where IRET goes
.io_imm8:
        movzx edx, byte [esi + 1]
        mov ecx, 2                      ; instruction length
        jmp .io
.io_dx:
        movzx edx, word [esp + 20]      ; the guest's DX, as PUSHAD saved it
        mov ecx, 1
.io:    ; A port the bitmap denies: this is where a monitor emulates a device.
        ; Here the "device" is absent: OUT is dropped, IN reads all ones.
        mov ebx, [m_io]
        cmp ebx, 4
        jae .io_counted
        mov [m_ports + ebx * 4], edx
.io_counted:
        inc dword [m_io]
        test al, 2                      ; E6 E7 EE EF are OUT
        jnz .io_done
        test al, 1                      ; E4 EC: IN AL; E5 ED: IN AX
        jnz .in_word
        mov byte [esp + 28], 0xFF
        jmp .io_done
.in_word:
        mov word [esp + 28], 0xFFFF
.io_done:
        add [ebp + 4], cx
        jmp .resume
.limit: ; MOV AX,[moffs16] that faulted: in this ROM, the word at DS:FFFF. Its
        ; second byte lies past the 64 KiB segment limit: #GP(0), no wrap to
        ; DS:0000 (SDM Vol. 3A §20.1.1). Skip the 3-byte instruction.
        inc dword [m_limit]
        add word [ebp + 4], 3
        jmp .resume
.hlt:   ; HLT: the guest program is finished. Leave virtual-8086 mode for good.
        inc dword [m_hlt]
.leave:
        cmp dword [m_task_mode], 0
        jne .leave_task
        mov esp, [m_esp]                ; drop this frame and the guest with it
        jmp run_v86_done
.leave_task:
        jmp TSS_MON:0                   ; program 3 is a task: switch back
.unknown:
        mov [m_unknown], eax
        jmp .leave

.next2: add word [ebp + 4], 1
.next1: add word [ebp + 4], 1
.resume:
        popad
        add esp, 4                      ; the error code
        iretd                           ; VM = 1 in the EFLAGS image: back to v86
.not_v86:
        inc dword [ss:m_novm]
        jmp exc_stubs + 13 * STUB_SIZE  ; a #GP in protected mode: the harness reports it

; guest_flags: EAX = the FLAGS word the guest should see: the frame's EFLAGS
; with IOPL hidden and the virtual IF in place of the real IF.
guest_flags:
        mov eax, [ebp + 12]
        and eax, 0xFFFF & ~(FL_IF | FL_IOPL)
        cmp dword [m_vif], 0
        je .done
        or eax, FL_IF
.done:
        ret

; set_guest_flags: takes a FLAGS word from the guest (EAX): IF -> virtual IF,
; the arithmetic flags and DF -> the frame's EFLAGS.
set_guest_flags:
        mov edx, eax
        shr edx, 9
        and edx, 1
        mov [m_vif], edx
        and eax, GUEST_FLAGS
        and dword [ebp + 12], ~GUEST_FLAGS
        or [ebp + 12], eax
        ret

; v86_push16: pushes AX on the guest's stack (SS:SP in the frame). SP wraps
; at 64 KiB, as it does in real mode. Clobbers ECX, EDX.
v86_push16:
        movzx edx, word [ebp + 16]
        sub dx, 2
        mov [ebp + 16], dx
        movzx ecx, word [ebp + 20]
        shl ecx, 4
        add ecx, edx
        mov [ecx], ax
        ret

; v86_pop16: EAX = the word popped from the guest's stack. Clobbers ECX, EDX.
v86_pop16:
        movzx edx, word [ebp + 16]
        movzx ecx, word [ebp + 20]
        shl ecx, 4
        add ecx, edx
        movzx eax, word [ecx]
        add dx, 2
        mov [ebp + 16], dx
        ret

; -----------------------------------------------------------------------------
; INT 0x41 from virtual-8086 mode (program 2, IOPL = 3): a DPL 3 interrupt
; gate to ring 0. Records what it finds, returns AX = 0x4242.
;       [esp] EIP  [esp+4] CS  [esp+8] EFLAGS  [esp+12] ESP  [esp+16] SS
;       [esp+20] ES  [esp+24] DS  [esp+28] FS  [esp+32] GS
; -----------------------------------------------------------------------------
monitor_int41:
        pushfd                          ; the handler's own EFLAGS
        pop dword [ss:m41_own_eflags]
        mov [ss:m41_ds], ds             ; DS is null here: write through SS
        mov [ss:m41_es], es
        mov [ss:m41_fs], fs
        mov [ss:m41_gs], gs
        mov ax, DATA0
        mov ds, ax
        mov eax, cs
        and eax, 3
        mov [m41_cpl], eax
        mov eax, [esp]
        mov [m41_eip], eax
        mov eax, [esp + 4]
        mov [m41_cs], eax
        mov eax, [esp + 8]
        mov [m41_eflags], eax
        mov eax, [esp + 12]
        mov [m41_esp], eax
        mov eax, [esp + 16]
        mov [m41_ss], eax
        mov eax, [esp + 20]
        mov [m41_fes], eax
        mov eax, [esp + 24]
        mov [m41_fds], eax
        mov eax, [esp + 28]
        mov [m41_ffs], eax
        mov eax, [esp + 32]
        mov [m41_fgs], eax
        mov dword [m41_ran], 1
        mov eax, 0x4242
        iretd

; INT3 from virtual-8086 mode: records the frame (a trap: EIP is after the INT3).
monitor_bp:
        push eax
        mov ax, DATA0
        mov ds, ax
        mov eax, [esp + 4]
        mov [mbp_eip], eax
        mov eax, [esp + 8]
        mov [mbp_cs], eax
        mov eax, [esp + 12]
        mov [mbp_eflags], eax
        mov dword [mbp_ran], 1
        pop eax
        iretd

; #DE (divide error) from virtual-8086 mode: exceptions ignore the gate's
; DPL. Records the frame and skips the 2-byte DIV BL.
monitor_de:
        test dword [esp + 8], FL_VM
        jz .not_v86
        push eax
        mov ax, DATA0
        mov ds, ax
        mov eax, [esp + 4]
        mov [mde_eip], eax
        mov eax, [esp + 8]
        mov [mde_cs], eax
        mov eax, [esp + 12]
        mov [mde_eflags], eax
        mov dword [mde_ran], 1
        pop eax
        add dword [esp], 2
        iretd
.not_v86:
        jmp exc_stubs + 0 * STUB_SIZE

; INT 0x44 from virtual-8086 mode through a task gate: this handler is a task
; (TSS_H44). The interrupted virtual-8086 program's state went into the
; monitor's TSS, VM and real-mode segment values included; IRETD (NT = 1)
; switches back, and loading EFLAGS with VM = 1 from that TSS puts the CPU
; back in virtual-8086 mode.
monitor_task44:
        movzx eax, word [TSS_H44_BASE + TSS_LINK]
        mov [t44_link], eax
        mov eax, [TSS_MON_BASE + TSS_EFLAGS]
        mov [t44_eflags], eax
        mov eax, [TSS_MON_BASE + TSS_EIP]
        mov [t44_eip], eax
        movzx eax, word [TSS_MON_BASE + TSS_CS]
        mov [t44_cs], eax
        movzx eax, word [TSS_MON_BASE + TSS_DS]
        mov [t44_ds], eax
        movzx eax, word [TSS_MON_BASE + TSS_SS]
        mov [t44_ss], eax
        xor eax, eax
        str eax
        mov [t44_tr], eax
        mov dword [t44_ran], 1
        iretd
        jmp monitor_task44

; =============================================================================
; Program 1: IOPL = 0. Everything sensitive traps to the monitor.
; =============================================================================
program1:
        call reset_counters
        mov dword [m_vif], 1
        mov dword [m_task_mode], 0
        mov dword [0x100000], 0
        mov eax, FL_VM | 0x2            ; VM = 1, IOPL = 0, IF = 0
        mov ebx, R(v86_prog1)
        call run_v86

        PRINT {"-- program 1: IOPL 0, the monitor emulates", 10}
        CHECKW "IRETD to v86: DS from the stack", RES + R_ENTRY + 0, 0x2222
        CHECKW "IRETD to v86: ES from the stack", RES + R_ENTRY + 2, 0x1111
        CHECKW "IRETD to v86: FS from the stack", RES + R_ENTRY + 4, 0x3333
        CHECKW "IRETD to v86: GS from the stack", RES + R_ENTRY + 6, 0x4444
        CHECKW "IRETD to v86: SS from the stack", RES + R_ENTRY + 8, V86_SS
        CHECKW "IRETD to v86: SP from the stack", RES + R_ENTRY + 10, V86_SP
        CHECKW "IRETD to v86: CS from the stack", RES + R_ENTRY + 12, V86_CS
        CHECKW "v86 write through DS=1234:0010 lands at linear 0x12350", 0x12350, 0xBEEF
        CHECKW "v86 read through 1235:0000 (the same linear address)", RES + R_ALIAS, 0xBEEF
        CHECKW "v86 FFFF:0010 is linear 0x100000 (no wrap: A20 on)", 0x100000, 0x1234

        CHECK "CLI trapped once", [m_cli], 1
        CHECKWM "CLI emulated: PUSHF shows the virtual IF = 0", RES + R_FLAGS_CLI, FL_IF | FL_IOPL, 0
        CHECK "STI trapped once", [m_sti], 1
        CHECKWM "STI emulated: PUSHF shows the virtual IF = 1", RES + R_FLAGS_STI, FL_IF | FL_IOPL, FL_IF
        CHECKW "INT 0x61 reflected into the guest's IVT handler", RES + R_ISR, 0x6161
        CHECKWM "reflected INT cleared the virtual IF for the handler", RES + R_ISR_FLAGS, FL_IF, 0
        CHECK "IRET trapped once", [m_iret], 1
        CHECKWM "IRET emulated: back after INT 0x61, virtual IF = 1 again", RES + R_FLAGS_IRET, FL_IF, FL_IF
        CHECK "POPF trapped once", [m_popf], 1
        CHECKW "POPF emulated: CF = 1 reached the real EFLAGS", RES + R_CF_POPF, 1
        CHECKWM "POPF emulated: PUSHF shows virtual IF = 0, CF = 1", RES + R_FLAGS_POPF, FL_IF | FL_CF, FL_CF
        CHECK "PUSHF trapped each time (5)", [m_pushf], 5
        mov esi, v86_message
        mov edi, m_tty_buf
        mov ecx, [m_tty_len]
        call compare_string
        CHECK "INT 10h/AH=0Eh emulated: the monitor printed the guest's message", eax, 1
        CHECK "INT n trapped each time (the message + INT 0x61)", [m_int], v86_message_len + 1

        CHECKW "IN AL,0xE9: the bitmap allows port 0xE9, no trap", RES + R_IN_E9, 0xE9
        CHECKW "IN AX,0xEF: ports 0xEF and 0xF0 (two bitmap bytes) allowed, no trap", RES + R_IN_EF, 0xFFFF
        CHECK "OUT 0x80,AL: denied by the bitmap, trapped", [m_ports + 0], 0x80
        CHECK "OUT DX,AL with DX=0x3F8: beyond the bitmap (TSS limit), trapped", [m_ports + 4], 0x3F8
        CHECK "IN AX,0xE9: port 0xEA denied, so the word access traps", [m_ports + 8], 0xE9
        CHECKW "IN AX,0xE9 emulated by the monitor (0xFFFF)", RES + R_IN_AX, 0xFFFF
        CHECK "I/O traps: exactly the 3 denied accesses (REP OUTSB to 0xE9 did not trap)", [m_io], 3
        CHECK "HLT in v86 traps (#GP)", [m_hlt], 1
        CHECKW "program 1 ran to its end", RES + R_DONE1, 0xD1D1
        CHECK "INT3 at IOPL 0 is not IOPL-sensitive: it went through the DPL 3 gate", [mbp_ran], 1
        CHECK "INT3 handler: saved EIP = after the INT3 (a trap)", [mbp_eip], R(v86_after_int3)
        mov eax, [mbp_eflags]
        and eax, FL_VM
        CHECK "INT3 handler: VM = 1 in the saved EFLAGS", eax, FL_VM
        CHECKW "INT3: the program went on", RES + R_INT3_OK, 1
        CHECK "INTO (OF = 1) through a DPL 0 gate -> #GP(4*8+2), not an IOPL trap", [m_errs + 0], 4 * 8 + 2
        CHECKW "INTO: the program went on", RES + R_INTO_OK, 1
        CHECK "a word at DS:FFFF crosses the 64 KiB limit -> #GP(0)", [m_limit], 1
        CHECK "every other trap was #GP with error code 0", [m_nonzero], 1
        CHECK "every trap frame had VM = 1", [m_novm], 0
        CHECK "trap frames showed IOPL 0", [m_iopl], 0
        CHECK "no instruction the monitor could not emulate", [m_unknown], 0
        CHECK "traps in all: 1+1+5+1+1+1+3+1 + INTO + limit + the message's INTs", [m_traps], 16 + v86_message_len
        ret

; compare_string: EAX = 1 if the ECX bytes at EDI equal the zero-terminated
; string at ESI (same length too), else 0.
compare_string:
        xor eax, eax
.next:
        mov dl, [esi]
        cmp ecx, 0
        je .end
        cmp dl, [edi]
        jne .done
        inc esi
        inc edi
        dec ecx
        jmp .next
.end:
        cmp dl, 0
        jne .done
        mov eax, 1
.done:
        ret

; =============================================================================
; Program 2: IOPL = 3. The IOPL-sensitive instructions run directly.
; =============================================================================
program2:
        call reset_counters
        mov eax, FL_VM | FL_IOPL | 0x2
        mov ebx, R(v86_prog2)
        call run_v86

        PRINT {"-- program 2: IOPL 3, the guest runs alone", 10}
        CHECKWM "IOPL 3: CLI ran directly, PUSHF shows IF = 0 and IOPL = 3", RES + R2_FLAGS_CLI, FL_IF | FL_IOPL, FL_IOPL
        CHECKWM "IOPL 3: STI ran directly, PUSHF shows IF = 1", RES + R2_FLAGS_STI, FL_IF | FL_IOPL, FL_IF | FL_IOPL
        CHECKW "IOPL 3: POPF ran directly: CF, IF set, IOPL unchanged (CPL 3)", RES + R2_FLAGS_POPF, 0x2 | FL_IOPL | FL_IF | FL_CF
        CHECKW "IOPL 3: IRET ran directly", RES + R2_IRET_OK, 1
        CHECK "IOPL 3: no CLI/STI/PUSHF/POPF/IRET trapped", [m_cli], 0
        mov eax, [m_sti]
        add eax, [m_pushf]
        add eax, [m_popf]
        add eax, [m_iret]
        add eax, [m_int]
        CHECK "IOPL 3: no STI/PUSHF/POPF/IRET/INT trapped", eax, 0

        CHECK "INT 0x41 through a DPL 3 gate reached the ring-0 handler", [m41_ran], 1
        CHECK "INT 0x41 handler runs at CPL 0", [m41_cpl], 0
        mov eax, [m41_eflags]
        and eax, FL_VM
        CHECK "INT 0x41 handler: VM = 1 in the saved EFLAGS", eax, FL_VM
        CHECK "INT 0x41 handler: saved CS = the v86 CS", [m41_cs], V86_CS
        CHECK "INT 0x41 handler: saved EIP = after INT 0x41", [m41_eip], R(v86_after_int41)
        CHECK "INT 0x41 handler: saved SS = the v86 SS", [m41_ss], V86_SS
        CHECK "INT 0x41 handler: saved ES = the v86 ES", [m41_fes], 0x1111
        CHECK "INT 0x41 handler: saved DS = the v86 DS", [m41_fds], RES_SEG
        CHECK "INT 0x41 handler: saved FS = the v86 FS", [m41_ffs], 0x3333
        CHECK "INT 0x41 handler: saved GS = the v86 GS", [m41_fgs], 0x4444
        CHECK "INT 0x41 handler: DS = 0 on entry", [m41_ds], 0
        CHECK "INT 0x41 handler: ES = 0 on entry", [m41_es], 0
        CHECK "INT 0x41 handler: FS = 0 on entry", [m41_fs], 0
        CHECK "INT 0x41 handler: GS = 0 on entry", [m41_gs], 0
        CHECKW "IRETD from the handler: AX it returned", RES + R2_AX41, 0x4242
        CHECKW "IRETD from the handler: v86 ES restored", RES + R2_SEGS + 0, 0x1111
        CHECKW "IRETD from the handler: v86 FS restored", RES + R2_SEGS + 2, 0x3333
        CHECKW "IRETD from the handler: v86 GS restored", RES + R2_SEGS + 4, 0x4444
        CHECKW "IRETD from the handler: v86 DS restored", RES + R2_SEGS + 6, RES_SEG

        mov eax, [m41_own_eflags]
        and eax, FL_VM | FL_IF | FL_TF | FL_NT | FL_RF
        CHECK "INT 0x41 handler: VM, IF (interrupt gate), TF, NT, RF cleared", eax, 0
        mov eax, [m41_eflags]
        and eax, FL_IF
        CHECK "INT 0x41 handler: the saved EFLAGS keeps the guest's IF = 1", eax, FL_IF
        mov eax, [RES + R2_PUSHFD]
        and eax, FL_VM | FL_RF | FL_IOPL
        CHECK "PUSHFD in v86: VM and RF read as 0 in the image, IOPL 3", eax, FL_IOPL

        CHECK "INT 0x42 through a DPL 0 gate -> #GP(0x42*8+2: IDT entry)", [m_errs + 0], 0x42 * 8 + 2
        CHECK "INT 0x43 to a DPL 3 handler -> #GP(its CS): v86 interrupts need ring 0", [m_errs + 4], CODE3
        CHECK "... and those were the only traps with an error code", [m_nonzero], 2

        CHECK "INT 0x44 through a DPL 3 task gate: the handler task ran", [t44_ran], 1
        CHECK "INT 0x44 task: TR = the handler's TSS", [t44_tr], TSS_H44
        CHECK "INT 0x44 task: back link = the monitor's TSS", [t44_link], TSS_MON
        mov eax, [t44_eflags]
        and eax, FL_VM
        CHECK "INT 0x44 task: the v86 program's EFLAGS saved with VM = 1", eax, FL_VM
        CHECK "INT 0x44 task: its CS saved as the real-mode value", [t44_cs], V86_CS
        CHECK "INT 0x44 task: its DS saved as the real-mode value", [t44_ds], RES_SEG
        CHECK "INT 0x44 task: its SS saved as the real-mode value", [t44_ss], V86_SS
        CHECK "INT 0x44 task: its EIP saved = after the INT", [t44_eip], R(v86_after_int44)
        CHECKW "IRETD task return into v86: the program went on", RES + R2_T44, 1
        CHECKW "IRETD task return into v86: DS reloaded real-mode style", RES + R2_T44_DS, RES_SEG
        mov al, [GDT_BASE + TSS_H44 + 5]
        and eax, 0x0F
        CHECK "INT 0x44 task: its TSS is available again", eax, 9
        CHECK "#DE in v86 reached its handler (no DPL check for exceptions)", [mde_ran], 1
        mov eax, [mde_eflags]
        and eax, FL_VM
        CHECK "#DE handler: VM = 1 in the saved EFLAGS", eax, FL_VM
        CHECK "#DE handler: saved EIP = the DIV (a fault)", [mde_eip], R(v86_div)
        CHECKW "#DE handler skipped the DIV and the program went on", RES + R2_DE_OK, 1
        CHECK "IOPL 3: HLT still traps", [m_hlt], 1
        CHECK "IOPL 3: trap frames showed IOPL 3", [m_iopl], 3
        CHECK "IOPL 3: no instruction the monitor could not emulate", [m_unknown], 0
        ret

; =============================================================================
; Program 3: a virtual-8086 *task*. A task switch loads EFLAGS from the new
; TSS; with VM = 1 there, the segment registers are loaded as real-mode
; segments and the task starts in virtual-8086 mode at CPL 3 (SDM Vol. 3A
; §20.2.5). Its HLT traps to monitor_gp on the task's own SS0:ESP0, and the
; monitor switches back to the main task with a JMP to TSS_MON.
; =============================================================================
program3:
        call reset_counters
        mov dword [m_task_mode], 1
        mov edi, TSS_VT_BASE
        xor ecx, ecx
.zero:
        mov dword [edi + ecx], 0
        add ecx, 4
        cmp ecx, TSS32_SIZE
        jne .zero
        mov dword [edi + TSS_ESP0], STACK_VT0
        mov dword [edi + TSS_SS0], DATA0
        mov dword [edi + TSS_EIP], R(v86_prog3)
        mov dword [edi + TSS_EFLAGS], FL_VM | 0x2
        mov dword [edi + TSS_CS], V86_CS
        mov dword [edi + TSS_SS], V86_SS
        mov dword [edi + TSS_ESP], 0x0800
        mov dword [edi + TSS_DS], 0x5555
        mov dword [edi + TSS_ES], 0x6666
        mov dword [edi + TSS_FS], 0x7777
        mov dword [edi + TSS_GS], 0x8888
        mov word [edi + TSS_IOMAP], TSS32_SIZE
        SET_DESC TSS_VT, TSS_VT_BASE, TSS32_SIZE - 1, ATTR_TSS32
        jmp TSS_VT:0
after_v86_task:
        mov dword [m_task_mode], 0
        PRINT {"-- program 3: a virtual-8086 task", 10}
        CHECKW "v86 task: DS loaded real-mode style from its TSS", RES + R3_SEGS + 0, 0x5555
        CHECKW "v86 task: ES loaded from its TSS", RES + R3_SEGS + 2, 0x6666
        CHECKW "v86 task: FS loaded from its TSS", RES + R3_SEGS + 4, 0x7777
        CHECKW "v86 task: GS loaded from its TSS", RES + R3_SEGS + 6, 0x8888
        CHECKW "v86 task: SS loaded from its TSS", RES + R3_SEGS + 8, V86_SS
        CHECKW "v86 task: SP loaded from its TSS", RES + R3_SEGS + 10, 0x0800
        CHECK "v86 task: its HLT trapped to the monitor", [m_hlt], 1
        xor eax, eax
        str eax
        CHECK "v86 task: the monitor's JMP brought back the main task", eax, TSS_MON
        ret

; =============================================================================
; Program 4: paging on. Identity-mapped 4 KiB pages, all user-accessible except
; the GDT, the IDT and the TSSs, which only the supervisor may touch. The
; virtual-8086 program runs at CPL 3, yet the CPU reads the descriptor tables,
; the TSS's SS0:ESP0 and the I/O permission bitmap as *implicit supervisor*
; accesses (SDM Vol. 3A §4.6.1): none of them may raise #PF.
; =============================================================================
CR0_PG  equ 1 << 31

program4:
        call reset_counters
        mov dword [m_task_mode], 0
        mov edi, PAGE_TABLE     ; PTE n maps linear n * 4 KiB to the same address
        mov eax, 0x7            ; present, writable, user
.pt:
        mov [edi], eax
        add eax, 0x1000
        add edi, 4
        cmp edi, PAGE_TABLE + 4096
        jne .pt
        and dword [PAGE_TABLE + (GDT_BASE >> 12) * 4], ~4      ; U/S = 0: supervisor only
        and dword [PAGE_TABLE + (IDT_BASE >> 12) * 4], ~4
        and dword [PAGE_TABLE + (TSS_MON_BASE >> 12) * 4], ~4
        mov edi, PAGE_DIR
.pd:
        mov dword [edi], 0      ; not present ...
        add edi, 4
        cmp edi, PAGE_DIR + 4096
        jne .pd
        mov dword [PAGE_DIR], PAGE_TABLE | 0x7                  ; ... except 0-4 MiB
        mov eax, PAGE_DIR
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax

        mov eax, FL_VM | 0x2    ; IOPL 0
        mov ebx, R(v86_prog4)
        call run_v86

        mov eax, cr0
        and eax, ~CR0_PG
        mov cr0, eax
        PRINT {"-- program 4: paging on, system tables in supervisor pages", 10}
        CHECKW "paging: IN from an allowed port at CPL 3 (bitmap read as supervisor)", RES + R4_IN_E9, 0xE9
        CHECK "paging: OUT to a denied port traps with #GP (not #PF)", [m_ports], 0x80
        CHECK "paging: exactly one I/O trap", [m_io], 1
        CHECK "paging: HLT trapped through the IDT, GDT and TSS in supervisor pages", [m_hlt], 1
        CHECKW "paging: program 4 ran to its end", RES + R4_DONE, 0xD4D4
        ret

; =============================================================================
; Program 5: IRETD with VM = 1 in the EFLAGS image.
; =============================================================================
program5:
        call reset_counters
        PRINT {"-- program 5: when IRETD enters virtual-8086 mode", 10}
        ; (a) At CPL 3, IRETD cannot set VM: the bit is ignored and the return
        ;     is an ordinary protected-mode one (SDM Vol. 2A "IRET": VM = 1 and
        ;     CPL = 0 go to RETURN-TO-VIRTUAL-8086-MODE).
        mov dword [p5_cs], 0
        EXPECT_FAULT .back_a
        push dword DATA3 | 3
        push dword RING3_STACK
        push dword 0x2
        push dword CODE3 | 3
        push dword .ring3
        iretd                   ; to CPL 3, protected mode
.ring3:
        mov ax, DATA3 | 3
        mov ds, ax
        push dword FL_VM | 0x2  ; an EFLAGS image with VM = 1
        push dword CODE3 | 3
        push dword .after
        iretd                   ; CPL 3: VM ignored
.after:
        mov eax, cs
        mov [p5_cs], eax
        pushfd
        pop dword [p5_eflags]
        hlt                     ; CPL 3 in protected mode: #GP, back to CPL 0
.back_a:
        mov ax, DATA0
        mov ds, ax
        CHECK "IRETD at CPL 3 with VM = 1 in the image: still protected mode, CS = CODE3|3", [p5_cs], CODE3 | 3
        CHECK_FAULT "... HLT there is an ordinary CPL 3 #GP(0)", 13, 0
        CHECK "... whose frame has VM = 0", [m_novm], 1

        ; (b) At CPL 0, an EIP beyond 0xFFFF cannot be reached in virtual-8086
        ;     mode (its CS limit is 0xFFFF): #GP(0) before anything changes
        ;     ("IF instruction pointer not within code segment limits THEN
        ;     #GP(0)"), not a silent wrap to EIP AND 0xFFFF.
        mov [m_esp], esp
        EXPECT_FAULT .back_b
        push dword 0            ; GS
        push dword 0            ; FS
        push dword RES_SEG      ; DS
        push dword 0            ; ES
        push dword V86_SS
        push dword V86_SP
        push dword FL_VM | 0x2
        push dword V86_CS
        push dword 0x10000 + R(v86_prog4)  ; IP 0x1xxxx: past the 64 KiB limit
        iretd
.back_b:
        mov esp, [m_esp]
        CHECK_FAULT "IRETD to v86 with EIP > 0xFFFF -> #GP(0) at CPL 0", 13, 0
        pushfd
        pop eax
        and eax, FL_VM
        CHECK "... and the CPU stayed in protected mode", eax, 0
        CHECK "... and the v86 program did not run", [m_hlt], 0
        ret

; =============================================================================
; The virtual-8086 programs: 16-bit real-mode code, run with CS = F000, so
; every address of the ROM is written R(label).
; =============================================================================
        bits 16
v86_prog1:
        ; What IRETD loaded: the segment registers as real-mode segments.
        mov [ss:R_ENTRY + 0], ds        ; stored at 2000:0000 first (the only
        mov [ss:R_ENTRY + 2], es        ; segment known to be writable), then
        mov [ss:R_ENTRY + 4], fs        ; copied to the result area
        mov [ss:R_ENTRY + 6], gs
        mov [ss:R_ENTRY + 8], ss
        mov [ss:R_ENTRY + 10], sp
        mov [ss:R_ENTRY + 12], cs
        mov ax, RES_SEG
        mov es, ax
        xor si, si
.copy:
        mov ax, [ss:si]
        mov [es:si], ax
        add si, 2
        cmp si, 14
        jne .copy

        ; Real-mode segment arithmetic: linear = segment * 16 + offset.
        mov ax, 0x1234
        mov ds, ax
        mov word [0x0010], 0xBEEF       ; 0x12340 + 0x10 = 0x12350
        mov ax, 0x1235
        mov es, ax
        mov ax, [es:0x0000]             ; 0x12350 + 0: the same word
        mov bx, RES_SEG
        mov ds, bx
        mov [R_ALIAS], ax
        mov ax, 0xFFFF
        mov es, ax
        mov word [es:0x0010], 0x1234    ; 0xFFFF0 + 0x10 = 0x100000

        ; The sensitive instructions. Each one traps; the monitor emulates it.
        cli
        pushf
        pop ax
        mov [R_FLAGS_CLI], ax
        sti
        pushf
        pop ax
        mov [R_FLAGS_STI], ax
        int 0x61                        ; reflected to v86_isr61 (which IRETs)
        pushf
        pop ax
        mov [R_FLAGS_IRET], ax
        mov ax, 0x2 | FL_CF             ; IF = 0, CF = 1
        push ax
        popf
        setc al
        mov ah, 0
        mov [R_CF_POPF], ax
        pushf
        pop ax
        mov [R_FLAGS_POPF], ax

        ; INT 10h, AH = 0Eh: "print AL", as the PC BIOS has it. There is no
        ; BIOS here: the monitor serves the call.
        mov si, R(v86_message)
.print:
        mov al, [cs:si]
        cmp al, 0
        je .printed
        mov ah, 0x0E
        int 0x10
        inc si
        jmp .print
.printed:

        ; I/O through the bitmap.
        in al, 0xE9                     ; allowed: the debug console reads 0xE9
        mov ah, 0
        mov [R_IN_E9], ax
        in ax, 0xEF                     ; allowed: 0xEF and 0xF0 (nothing there: 0xFFFF)
        mov [R_IN_EF], ax
        out 0x80, al                    ; denied: traps
        mov dx, 0x3F8
        out dx, al                      ; beyond the bitmap: traps
        in ax, 0xE9                     ; 0xE9 allowed but 0xEA denied: traps
        mov [R_IN_AX], ax
        push ds                         ; REP OUTSB to an allowed port: straight to
        push cs                         ; the device, no monitor involved
        pop ds
        mov si, R(v86_outs_message)
        mov cx, v86_outs_len
        mov dx, 0xE9
        cld
        rep outsb
        pop ds
        int3                            ; not IOPL-sensitive: through IDT entry 3
v86_after_int3:
        mov word [R_INT3_OK], 1
        mov al, 0x7F
        add al, 1                       ; OF = 1
        into                            ; through IDT entry 4, DPL 0: #GP(0x22)
        mov word [R_INTO_OK], 1
        mov ax, [0xFFFF]                ; bytes 0xFFFF and 0x10000: past the limit
        mov word [R_DONE1], 0xD1D1
        hlt                             ; privileged: traps, and the monitor ends the run

; The guest's INT 0x61 handler, reached through its IVT (entry 0x61).
v86_isr61:
        push ds
        push ax
        mov ax, RES_SEG
        mov ds, ax
        mov word [R_ISR], 0x6161
        pushf
        pop ax
        mov [R_ISR_FLAGS], ax
        pop ax
        pop ds
        iret

v86_message:
        db "  [v86 INT 10h] hello from virtual-8086 mode", 10, 0
v86_message_len equ $ - v86_message - 1
v86_outs_message:
        db "  [v86 REP OUTSB] straight to port 0xE9, allowed by the I/O bitmap", 10
v86_outs_len equ $ - v86_outs_message

v86_prog2:
        mov ax, RES_SEG
        mov ds, ax
        cli                             ; IOPL 3: these run directly
        pushf
        pop ax
        mov [R2_FLAGS_CLI], ax
        sti
        pushf
        pop ax
        mov [R2_FLAGS_STI], ax
        mov ax, 0x2 | FL_IF | FL_CF     ; IOPL bits 0 here: POPF at CPL 3 keeps IOPL
        push ax
        popf
        pushf
        pop ax
        mov [R2_FLAGS_POPF], ax
        cli
        pushf                           ; IRET, real-mode style
        push cs
        push word R(.after_iret)
        iret
.after_iret:
        mov word [R2_IRET_OK], 1
        mov ax, 0x1111
        mov es, ax
        mov ax, 0x3333
        mov fs, ax
        mov ax, 0x4444
        mov gs, ax
        pushfd                          ; a 32-bit image: VM and RF read as 0
        pop dword [R2_PUSHFD]
        push dword 0x2                  ; POPFD with VM = 0 in the image: VM stays 1
        popfd                           ; (INT 0x41's frame below shows it)
        mov ax, 0x4141
        sti                             ; the handler's interrupt gate clears IF
        int 0x41                        ; DPL 3 gate: to the ring-0 handler
v86_after_int41:
        cli
        mov [R2_AX41], ax
        mov [R2_SEGS + 0], es
        mov [R2_SEGS + 2], fs
        mov [R2_SEGS + 4], gs
        mov [R2_SEGS + 6], ds
        int 0x42                        ; DPL 0 gate: #GP(0x212)
        int 0x43                        ; DPL 3 handler: #GP(CODE3)
        int 0x44                        ; a task gate
v86_after_int44:
        mov [R2_T44_DS], ds             ; as the task return reloaded it
        mov word [R2_T44], 1
        mov ax, 1
        mov bl, 0
v86_div:
        div bl                          ; #DE
        mov word [R2_DE_OK], 1
        hlt

v86_prog3:
        mov [ss:0x0000], ds
        mov [ss:0x0002], es
        mov [ss:0x0004], fs
        mov [ss:0x0006], gs
        mov [ss:0x0008], ss
        mov [ss:0x000A], sp
        mov ax, RES_SEG
        mov es, ax
        xor si, si
.copy:
        mov ax, [ss:si]
        mov [es:R3_SEGS + si], ax
        add si, 2
        cmp si, 12
        jne .copy
        hlt

v86_prog4:
        mov ax, RES_SEG
        mov ds, ax
        in al, 0xE9                     ; allowed by the bitmap
        mov ah, 0
        mov [R4_IN_E9], ax
        out 0x80, al                    ; denied: #GP
        mov word [R4_DONE], 0xD4D4
        hlt

        bits 32
        ROM_END
