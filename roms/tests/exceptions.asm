; =============================================================================
; exceptions.asm — interrupts and exceptions in real mode
; =============================================================================
;
; In real mode the interrupt vector table (IVT) at physical address 0 holds 256
; far pointers (IP, then CS). INT n, an exception, or an external interrupt:
;
;       push FLAGS; push CS; push IP        (6 bytes; never an error code)
;       IF = 0, TF = 0                      (the handler runs undisturbed)
;       CS:IP = the far pointer at IDTR.base + 4 * n
;
; and IRET pops IP, CS, FLAGS. Which IP is pushed depends on the class:
;
;   fault  (#DE, #BR, #UD, #GP, #SS): the faulting instruction itself, so a
;          handler that removes the cause can return and retry it;
;   trap   (INT n, INT3, INTO, single-step #DB): the next instruction.
;
; The harness (harness.inc) points vectors 0..31 at stubs that record the
; vector, the pushed CS:IP and SP. EXPECT_FAULT label makes the next exception
; continue at `label`. DS = 0 throughout, so the v_* variables can be read.
;
; x86lab checks the 64 KiB segment limit in real mode (as Bochs and real CPUs
; do; QEMU's TCG does not, so the limit checks below FAIL there).
;
; Build: nasm -f bin -I roms/tests/ -o roms/tests/exceptions.bin roms/tests/exceptions.asm
; =============================================================================

%define ROM_NAME "exceptions"
%include "harness.inc"

; Scratch words in segment 0.
t_sp            equ 0x0600      ; SP before an INT
t_handler_sp    equ 0x0602      ; SP inside the handler
t_handler_flags equ 0x0604      ; FLAGS inside the handler
t_pushed_ip     equ 0x0606
t_pushed_cs     equ 0x0608
t_pushed_flags  equ 0x060A

tests:
        call test_int
        call test_traps
        call test_divide
        call test_bound_ud
        call test_limits
        call test_ivt
        ret

; =============================================================================
; INT n and IRET through a handler this ROM installs.
; =============================================================================

; A BIOS-style handler: returns a value in BX and a status in CF, by editing
; the FLAGS image that IRET will restore.
int40_handler:
        push bp
        mov bp, sp
        mov [t_handler_sp], bp
        add word [t_handler_sp], 2      ; SP as the CPU left it
        pushf
        pop word [t_handler_flags]
        mov ax, [bp + 2]
        mov [t_pushed_ip], ax
        mov ax, [bp + 4]
        mov [t_pushed_cs], ax
        mov ax, [bp + 6]
        mov [t_pushed_flags], ax
        or word [bp + 6], FL_CF         ; "success" for the caller
        mov bx, 0x4040
        pop bp
        iret

test_int:
        SET_VECTOR 0x40, int40_handler
        sti                     ; IF = 1 before the INT (no device will interrupt)
        clc
        xor bx, bx
        mov [t_sp], sp
        int 0x40
.after_int:
        FLAGS_TO dx, FL_CF | FL_IF
        cli
        CHECKW "int 40h runs the handler from the IVT", bx, 0x4040
        mov ax, [t_sp]
        sub ax, 6
        CHECKW "int pushes 6 bytes: FLAGS, CS, IP", [t_handler_sp], ax
        CHECKW "int pushes the IP of the next instruction", [t_pushed_ip], .after_int
        CHECKW "int pushes CS", [t_pushed_cs], 0xF000
        mov ax, [t_pushed_flags]
        and ax, FL_IF
        CHECKW "the pushed FLAGS have IF=1", ax, FL_IF
        mov ax, [t_handler_flags]
        and ax, FL_IF | FL_TF
        CHECKW "the handler runs with IF=0 TF=0", ax, 0
        CHECKW "iret restores FLAGS (IF=1, CF from the handler)", dx, FL_CF | FL_IF
        mov ax, sp
        CHECKW "iret restores SP", ax, [t_sp]

        ; PUSHF + CALL FAR is how DOS programs chain to an old handler: the
        ; stack then looks just as INT leaves it.
        xor bx, bx
        pushf
        call 0xF000:int40_handler
        CHECKW "pushf; call far works like int 40h", bx, 0x4040

        ; IRETD pops EIP, CS and EFLAGS, four bytes each.
        mov [t_sp], sp
        pushfd
        push dword 0xF000
        push dword .after_iretd
        iretd
        mov bx, 0xBAD
.after_iretd:
        mov ax, sp
        CHECKW "iretd pops 12 bytes", ax, [t_sp]
        ret

; =============================================================================
; Traps: INT3, INT 3, INTO, single-step. The pushed IP is the next instruction.
; =============================================================================
test_traps:
        EXPECT_FAULT .after_cc
        int3                    ; CC: the one-byte breakpoint a debugger plants
.after_cc:
        CHECKW "int3 (CC) raises vector 3", [v_vector], 3
        CHECKW "int3 pushes the next IP (a trap)", [v_fault_ip], .after_cc

        EXPECT_FAULT .after_cd
        int 3                   ; CD 03: same vector, two bytes
.after_cd:
        CHECKW "int 3 (CD 03) raises vector 3", [v_vector], 3
        CHECKW "int 3 (CD 03) pushes the next IP", [v_fault_ip], .after_cd

        ; INTO raises #OF (vector 4) only when OF=1.
        EXPECT_FAULT .after_into0
        mov al, 1
        add al, 1               ; OF = 0
        into
.after_into0:
        CHECKW "into with OF=0 does nothing", [v_vector], NO_VECTOR
        NO_FAULT_EXPECTED
        EXPECT_FAULT .after_into1
        mov al, 0x7F
        add al, 1               ; OF = 1
        into
.after_into1:
        CHECKW "into with OF=1 raises vector 4", [v_vector], 4
        CHECKW "into pushes the next IP", [v_fault_ip], .after_into1

        ; TF=1: a debug exception (vector 1) after each instruction. POPF sets
        ; TF, the next instruction (the NOP) runs, then the trap comes.
        EXPECT_FAULT .after_step
        pushf
        pop ax
        or ax, FL_TF
        push ax
        popf
        nop
.after_nop:
        mov bx, 0xBAD           ; not reached: the trap resumes below
.after_step:
        CHECKW "TF=1: single-step trap is vector 1", [v_vector], 1
        CHECKW "TF=1: the trap comes after the next instruction", [v_fault_ip], .after_nop
        mov ax, [v_fault_flags]
        and ax, FL_TF
        CHECKW "TF=1: the pushed FLAGS still have TF", ax, FL_TF
        FLAGS_TO ax, FL_TF
        CHECKW "TF is clear again after the handler", ax, 0

        ; MOV SS holds off the single-step trap (like interrupts) for one
        ; instruction, so that MOV SS; MOV SP happen together: the trap comes
        ; after the instruction that follows the MOV SS (SDM Vol. 3A §6.8.3).
        mov cx, ss
        EXPECT_FAULT .after_ss_step2
        pushf
        pop ax
        or ax, FL_TF
        push ax
        popf
        mov ss, cx              ; the trap is held off...
        nop                     ; ...until after this instruction
.after_ss_nop:
        mov bx, 0xBAD
.after_ss_step2:
        CHECKW "no single-step trap right after mov ss", [v_fault_ip], .after_ss_nop

        ; INT n with TF=1: INT clears TF, so the handler runs untraced, and
        ; INT itself raises no single-step trap; IRET brings TF=1 back and the
        ; trap comes after the instruction that follows the INT. (Bochs and
        ; QEMU agree; a debugger relies on it to step over system calls.)
        SET_VECTOR 0x40, int40_handler
        mov word [t_pushed_ip], 0
        mov [t_sp], sp          ; restored below whatever happens
        EXPECT_FAULT .after_int_step
        pushf
        pop ax
        or ax, FL_TF
        push ax
        popf
        int 0x40                ; not traced (and neither is the handler)
.int_ret:
        nop                     ; traced: the trap comes after it
.after_int_nop:
        mov bx, 0xBAD
.after_int_step:
        mov sp, [t_sp]
        CHECKW "TF=1 over INT: the handler runs", [t_pushed_ip], .int_ret
        CHECKW "TF=1 over INT: no trap into the handler, trap after the next instruction", [v_fault_ip], .after_int_nop
        ret

; =============================================================================
; #DE, the divide error (vector 0): a fault, so the pushed IP is the DIV itself
; and its destination registers are unchanged.
; =============================================================================

; A handler that repairs the cause: it sets the divisor to 2 and returns to
; the DIV, which runs again and now succeeds.
de_fixer:
        mov bl, 2
        iret

test_divide:
        mov di, sp
        EXPECT_FAULT .after_div0
        mov ax, 10
        mov bl, 0
.div0:
        div bl
.after_div0:
        CHECKW "div by zero raises #DE (vector 0)", [v_vector], 0
        CHECKW "#DE pushes the IP of the DIV (a fault)", [v_fault_ip], .div0
        CHECKW "#DE leaves AX unchanged", ax, 10
        mov ax, di
        sub ax, 6
        CHECKW "#DE in real mode pushes no error code", [v_fault_sp], ax

        EXPECT_FAULT .after_big
        mov dx, 1
        mov ax, 0               ; 10000h / 1 = 10000h: does not fit in AX
        mov bx, 1
        div bx
.after_big:
        CHECKW "div quotient too large raises #DE", [v_vector], 0

        EXPECT_FAULT .after_idiv8
        mov ax, -128
        mov bl, -1              ; -128 / -1 = +128: does not fit in AL
        idiv bl
.after_idiv8:
        CHECKW "idiv byte -128/-1 raises #DE", [v_vector], 0

        EXPECT_FAULT .after_idiv32
        mov edx, 0xFFFFFFFF
        mov eax, 0x80000000     ; EDX:EAX = -2^31
        mov ecx, -1
        idiv ecx
.after_idiv32:
        CHECKW "idiv dword -2^31/-1 raises #DE", [v_vector], 0

        EXPECT_FAULT .after_aam
        mov ax, 0x0055
        aam 0                   ; AAM divides by its immediate
.after_aam:
        CHECKW "aam 0 raises #DE", [v_vector], 0

        EXPECT_FAULT .after_ok
        mov ax, 10
        mov bl, 3
        div bl
.after_ok:
        CHECKW "div 10/3 raises nothing", [v_vector], NO_VECTOR
        NO_FAULT_EXPECTED

        ; Fault, fix, retry.
        SET_VECTOR 0, de_fixer
        mov ax, 10
        mov bl, 0
        div bl                  ; #DE -> de_fixer sets BL=2 -> DIV again
        SET_VECTOR 0, exc_stubs
        CHECKW "#DE handler fixes the divisor; DIV restarts", ax, 5
        ret

; =============================================================================
; BOUND (#BR, vector 5) and invalid opcodes (#UD, vector 6): faults.
; =============================================================================
test_bound_ud:
        EXPECT_FAULT .after_in
        mov ax, 20
        bound ax, [cs:bounds16]         ; 10 <= 20 <= 20: inside (inclusive)
        mov ax, 10
        bound ax, [cs:bounds16]
.after_in:
        CHECKW "bound inside the range raises nothing", [v_vector], NO_VECTOR
        NO_FAULT_EXPECTED

        EXPECT_FAULT .after_above
        mov ax, 21
.bound_above:
        bound ax, [cs:bounds16]
.after_above:
        CHECKW "bound above the range raises #BR (vector 5)", [v_vector], 5
        CHECKW "#BR pushes the IP of the BOUND (a fault)", [v_fault_ip], .bound_above

        EXPECT_FAULT .after_neg
        mov ax, -1              ; signed: -1 < 10 (unsigned it would be above)
        bound ax, [cs:bounds16]
.after_neg:
        CHECKW "bound compares signed: -1 is below 10", [v_vector], 5

        EXPECT_FAULT .after_32
        mov eax, -6
        bound eax, [cs:bounds32]        ; -5 .. 5
.after_32:
        CHECKW "bound eax -6 outside -5..5 raises #BR", [v_vector], 5

        EXPECT_FAULT .after_ud2
.ud2:
        ud2
.after_ud2:
        CHECKW "ud2 raises #UD (vector 6)", [v_vector], 6
        CHECKW "#UD pushes the IP of the bad instruction", [v_fault_ip], .ud2

        EXPECT_FAULT .after_lock
        db 0xF0, 0x01, 0xD8     ; lock add ax, bx: LOCK needs a memory destination
.after_lock:
        CHECKW "lock add ax, bx raises #UD", [v_vector], 6

        EXPECT_FAULT .after_movcs
        db 0x8E, 0xC8           ; mov cs, ax: CS can only change with a far jump
.after_movcs:
        CHECKW "mov cs, ax raises #UD", [v_vector], 6
        ret

bounds16:       dw 10, 20
bounds32:       dd -5, 5

; =============================================================================
; The 64 KiB segment limit. Every real-mode segment has limit FFFF: an access
; whose last byte lies beyond offset FFFF raises #GP (vector 13), or #SS
; (vector 12) when it goes through SS. (The 8086 wrapped around instead.)
; =============================================================================
test_limits:
        mov ax, DATA_SEG
        mov es, ax
        mov byte [es:0xFFFF], 0x11

        EXPECT_FAULT .after_byte
        mov al, [es:0xFFFF]     ; one byte at FFFF: the last byte of the segment
.after_byte:
        CHECKW "byte at offset FFFF is fine", [v_vector], NO_VECTOR
        NO_FAULT_EXPECTED

        mov di, sp
        EXPECT_FAULT .after_word
        mov ax, 0x1234
.word_read:
        mov ax, [es:0xFFFF]     ; bytes FFFF and 10000: past the limit
.after_word:
        CHECKW "word read at offset FFFF raises #GP (vector 13)", [v_vector], 13
        CHECKW "#GP pushes the IP of the access (a fault)", [v_fault_ip], .word_read
        CHECKW "#GP leaves the destination unchanged", ax, 0x1234
        mov ax, di
        sub ax, 6
        CHECKW "#GP in real mode pushes no error code", [v_fault_sp], ax

        EXPECT_FAULT .after_write
        mov word [es:0xFFFF], 0x2222
.after_write:
        CHECKW "word write at offset FFFF raises #GP", [v_vector], 13
        xor ax, ax
        mov al, [es:0xFFFF]
        CHECKW "the faulting write changed nothing", ax, 0x11

        EXPECT_FAULT .after_dword
        mov eax, [es:0xFFFD]    ; FFFD..10000
.after_dword:
        CHECKW "dword read at offset FFFD raises #GP", [v_vector], 13
        EXPECT_FAULT .after_dword_ok
        mov eax, [es:0xFFFC]    ; FFFC..FFFF: fits
.after_dword_ok:
        CHECKW "dword read at offset FFFC is fine", [v_vector], NO_VECTOR
        NO_FAULT_EXPECTED

        ; A 32-bit address does not lift the limit ("unreal mode" would).
        EXPECT_FAULT .after_a32
        mov ebx, 0x10000
        mov al, [es:ebx]
.after_a32:
        CHECKW "[ebx] with EBX=10000 raises #GP", [v_vector], 13

        ; Through SS: #SS (vector 12).
        EXPECT_FAULT .after_bp
        mov bp, 0xFFFF
        mov ax, [bp]            ; BP-based: the stack segment
.after_bp:
        CHECKW "word at [bp] with BP=FFFF raises #SS (vector 12)", [v_vector], 12
        EXPECT_FAULT .after_ss
        mov bx, 0xFFFF
        mov ax, [ss:bx]
.after_ss:
        CHECKW "word at [ss:bx] with BX=FFFF raises #SS", [v_vector], 12

        ; A REP string instruction that runs into the limit faults in the
        ; middle: CX, DI tell how far it got, IP points at the (prefixed)
        ; instruction, so after a fix it could simply continue.
        EXPECT_FAULT .after_rep
        mov di, 0xFFF9
        mov cx, 8
        mov ax, 0x4242
.rep_stosw:
        rep stosw               ; FFF9, FFFB, FFFD fit; FFFF does not
.after_rep:
        CHECKW "rep stosw into the limit raises #GP", [v_vector], 13
        CHECKW "rep stosw fault: CX = the 5 stores left", cx, 5
        CHECKW "rep stosw fault: DI at the failing store", di, 0xFFFF
        CHECKW "rep stosw fault: IP at the REP prefix", [v_fault_ip], .rep_stosw

        ; An instruction that straddles the end of the code segment: put
        ; mov ax, 1234h (B8 34 12) at 2000:FFFE, so its last byte is at 10000.
        mov ax, CODE_SEG
        mov es, ax
        mov byte [es:0xFFFE], 0xB8
        mov byte [es:0xFFFF], 0x34
        mov ax, CODE_SEG + 0x1000
        mov es, ax
        mov byte [es:0x0000], 0x12      ; physical 0x30000, offset 10000 of CODE_SEG
        EXPECT_FAULT .after_fetch
        jmp CODE_SEG:0xFFFE
.after_fetch:
        CHECKW "fetch past the CS limit (2000:FFFE) raises #GP", [v_vector], 13
        CHECKW "...with the pushed IP at the instruction", [v_fault_ip], 0xFFFE
        CHECKW "...and the pushed CS of the code segment", [v_fault_cs], CODE_SEG
        xor ax, ax
        mov es, ax
        ret

; =============================================================================
; The IVT is wherever IDTR says: LIDT moves it, and its limit is checked.
; =============================================================================
IVT2_SEG        equ 0x3000

int41_handler:
        mov bx, 0x4141
        iret

test_ivt:
        ; A second table at 3000:0000 whose only valid entry is vector 41h.
        mov ax, IVT2_SEG
        mov es, ax
        mov word [es:0x41 * 4], int41_handler
        mov word [es:0x41 * 4 + 2], cs
        xor bx, bx
        lidt [cs:ivt2_ptr]
        int 0x41
        lidt [cs:ivt0_ptr]
        CHECKW "lidt moves the real-mode IVT", bx, 0x4141
        xor ax, ax
        mov es, ax

        ; With limit 103h the table ends after vector 40h: INT 41h reads past
        ; the limit and raises #GP instead.
        EXPECT_FAULT .after_limit
        lidt [cs:ivt_short_ptr]
.int41:
        int 0x41
.after_limit:
        lidt [cs:ivt0_ptr]
        CHECKW "int beyond the IDTR limit raises #GP", [v_vector], 13
        CHECKW "...pushing the IP of the INT", [v_fault_ip], .int41
        ret

ivt2_ptr:       dw 0x3FF
                dd IVT2_SEG * 16
ivt0_ptr:       dw 0x3FF
                dd 0
ivt_short_ptr:  dw 0x41 * 4 - 1
                dd 0

        ROM_END
