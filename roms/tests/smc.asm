; =============================================================================
; smc.asm — self-modifying code
; =============================================================================
;
; x86lab decodes each stretch of code once and keeps the decoded instructions
; in a cache (src/cpu/decode.rs). That is only correct if every write to memory
; that holds cached code throws the stale decodings away — including a write to
; the very next instruction, in the middle of a run of code that was decoded in
; one go. Real processors since the Pentium behave exactly like that (older
; ones could run a stale copy from their prefetch queue), and plenty of real
; code depends on it: copy-protection, JIT compilers, run-time patching, and
; DOS programs that store a value into the immediate of an instruction.
;
; The ROM cannot be written, so each test copies a small routine ("template")
; from the ROM to RAM at CODE_SEG:offset, far-calls it, changes its bytes in
; some way, and calls it again. Every template is assembled to run at any
; offset: it only uses relative jumps, and it finds itself through labels
; relative to its own start plus the offset it was copied to.
;
; Build: nasm -f bin -I roms/tests/ -o roms/tests/smc.bin roms/tests/smc.asm
; =============================================================================

%define ROM_NAME "smc"
%include "harness.inc"

tests:
        mov ax, CODE_SEG
        mov es, ax              ; ES = the RAM code segment throughout
        call test_patch_immediate
        call test_patch_next_instruction
        call test_loop_patches_itself
        call test_rewrite_with_movs
        call test_aliases
        call test_page_crossing
        call test_wide_store
        call test_stack_write
        call test_overlapping_entries
        call test_patch_jump
        call test_near_data
        xor ax, ax
        mov es, ax
        ret

; copy_code: copies CX bytes from CS:SI (the ROM) to ES:DI (RAM).
copy_code:
        push ax
        push cx
        push si
        push di
.next:
        mov al, [cs:si]
        mov [es:di], al
        inc si
        inc di
        dec cx
        jnz .next
        pop di
        pop si
        pop cx
        pop ax
        ret

; COPY template, offset — copies template..template_end to CODE_SEG:offset.
%macro COPY 2
        mov si, %1
        mov di, %2
        mov cx, %1_end - %1
        call copy_code
%endmacro

; =============================================================================
; 1. Patch an immediate operand between two calls.
; =============================================================================
T1      equ 0x0000

tmpl_imm:
        mov ax, 0x1111          ; B8 11 11: the immediate is at +1
        retf
tmpl_imm_end:

test_patch_immediate:
        COPY tmpl_imm, T1
        call CODE_SEG:T1
        call CODE_SEG:T1        ; twice: now it is surely decoded and cached
        CHECKW "code copied to RAM runs", ax, 0x1111
        mov word [es:T1 + 1], 0x2222
        call CODE_SEG:T1
        CHECKW "patched immediate is seen by the next call", ax, 0x2222
        mov byte [es:T1 + 2], 0x33      ; a single byte this time
        call CODE_SEG:T1
        CHECKW "patched byte of the immediate is seen", ax, 0x3322
        ret

; =============================================================================
; 2. An instruction that patches the instruction right after it. Both were
;    decoded together, before the write happened.
; =============================================================================
T2      equ 0x0040

tmpl_next:
        mov [cs:T2 + (.target - tmpl_next) + 1], bl     ; write BL into the next MOV's immediate
.target:
        mov al, 0x00
        retf
tmpl_next_end:

test_patch_next_instruction:
        COPY tmpl_next, T2
        xor ax, ax
        mov bl, 0x42
        call CODE_SEG:T2
        CHECKW "patching the next instruction (first run)", ax, 0x42
        mov bl, 0x43
        call CODE_SEG:T2
        CHECKW "patching the next instruction (cached run)", ax, 0x43
        mov bl, 0x44
        call CODE_SEG:T2
        CHECKW "patching the next instruction (third run)", ax, 0x44
        ret

; =============================================================================
; 3. A hot loop that increments the immediate of its own ADD every iteration:
;    it adds 0, 1, 2, ... 99, so DX = 4950. A stale decoding would add 0 each
;    time.
; =============================================================================
T3      equ 0x0080

tmpl_loop:
        mov cx, 100
        xor dx, dx
.loop:
        add dx, byte 0          ; 83 C2 00: the imm8 is at .loop + 2
        inc byte [cs:T3 + (.loop - tmpl_loop) + 2]
        loop .loop
        retf
tmpl_loop_end:

test_loop_patches_itself:
        COPY tmpl_loop, T3
        call CODE_SEG:T3
        CHECKW "loop that patches its own ADD: 0+1+...+99", dx, 4950
        ret

; =============================================================================
; 4. REP MOVSB replaces a routine by a different one, whose instructions have
;    other lengths and boundaries.
; =============================================================================
T4      equ 0x0100

tmpl_a:
        mov ax, 0xAAAA
        retf
tmpl_a_end:
tmpl_b:
        nop
        xchg bx, bx             ; 87 DB: two bytes where tmpl_a had an immediate
        mov ax, 0xBBBB
        nop
        retf
tmpl_b_end:

test_rewrite_with_movs:
        COPY tmpl_a, T4
        call CODE_SEG:T4
        call CODE_SEG:T4
        CHECKW "routine A runs", ax, 0xAAAA
        push ds
        push cs
        pop ds
        mov si, tmpl_b
        mov di, T4
        mov cx, tmpl_b_end - tmpl_b
        rep movsb               ; a string write over cached code
        pop ds
        call CODE_SEG:T4
        CHECKW "rep movsb over it: routine B runs", ax, 0xBBBB

        ; A routine that overwrites its own next instructions with NOPs
        ; while running (REP STOSB inside the routine).
        COPY tmpl_stos, T4
        mov ax, 0x600D
        call CODE_SEG:T4
        CHECKW "rep stosb turns the next instruction into NOPs", ax, 0x600D
        ret

tmpl_stos:
        push es
        push cs
        pop es
        mov di, T4 + (.victim - tmpl_stos)
        mov cx, 3
        push ax
        mov al, 0x90            ; NOP
        rep stosb
        pop ax
        pop es
.victim:
        mov ax, 0x0BAD          ; B8 AD 0B: becomes NOP NOP NOP
        retf
tmpl_stos_end:

; =============================================================================
; 5. The same physical bytes under two segment:offset names. 2000:0200 and
;    1F00:1200 are both physical 0x20200: a write through one name must
;    invalidate code run through the other.
; =============================================================================
T5      equ 0x0200
ALIAS   equ CODE_SEG - 0x100    ; 1F00: ALIAS:(T5 + 0x1000) = CODE_SEG:T5

test_aliases:
        COPY tmpl_imm, T5
        call CODE_SEG:T5
        CHECKW "aliased code: runs as 2000:0200", ax, 0x1111
        push fs
        mov ax, ALIAS
        mov fs, ax
        mov word [fs:T5 + 0x1000 + 1], 0x3333   ; write through the alias
        call CODE_SEG:T5
        CHECKW "write through 1F00:1201 seen at 2000:0200", ax, 0x3333
        call ALIAS:T5 + 0x1000
        CHECKW "the same code run as 1F00:1200", ax, 0x3333
        mov word [es:T5 + 1], 0x4444            ; write through the first name
        call ALIAS:T5 + 0x1000
        CHECKW "write through 2000:0201 seen at 1F00:1200", ax, 0x4444
        pop fs
        ret

; =============================================================================
; 6. An instruction that straddles a 4 KiB page boundary: mov ax, imm16 at
;    physical 0x20FFE, so its last byte is at 0x21000, in the next page.
; =============================================================================
T6      equ 0x0FFE

test_page_crossing:
        COPY tmpl_imm, T6
        call CODE_SEG:T6
        call CODE_SEG:T6
        CHECKW "instruction across a page boundary runs", ax, 0x1111
        mov byte [es:T6 + 2], 0x22      ; physical 0x21000: the second page
        call CODE_SEG:T6
        CHECKW "patch in its second page is seen", ax, 0x2211
        mov byte [es:T6 + 1], 0x55      ; the first page
        call CODE_SEG:T6
        CHECKW "patch in its first page is seen", ax, 0x2255
        ret

; =============================================================================
; 7. One dword store that rewrites parts of two instructions.
; =============================================================================
T7      equ 0x0300

tmpl_two:
        mov al, 1               ; B0 01
        mov bl, 2               ; B3 02
        retf                    ; CB
tmpl_two_end:

test_wide_store:
        COPY tmpl_two, T7
        call CODE_SEG:T7
        call CODE_SEG:T7
        mov ah, bl
        CHECKW "two-instruction routine runs", ax, 0x0201
        mov dword [es:T7 + 1], 0xCB07B305       ; 05, B3 07, CB: new immediates
        call CODE_SEG:T7
        mov ah, bl
        CHECKW "a dword store across two instructions", ax, 0x0705
        ret

; =============================================================================
; 8. Writes by PUSH are writes too: point the stack into the routine so that a
;    PUSH lands on its immediate.
; =============================================================================
T8      equ 0x0340

test_stack_write:
        COPY tmpl_imm, T8
        call CODE_SEG:T8
        call CODE_SEG:T8
        mov cx, ss
        mov dx, sp
        mov ax, CODE_SEG
        mov ss, ax
        mov sp, T8 + 3          ; PUSH writes the word at T8+1 (the immediate)
        push word 0x5555
        mov ss, cx
        mov sp, dx
        call CODE_SEG:T8
        CHECKW "a PUSH onto cached code is seen", ax, 0x5555
        ret

; =============================================================================
; 9. Two entry points into the same bytes: the decoder may have decoded the
;    inner instruction twice (once from each entry). A patch must reach both.
; =============================================================================
T9      equ 0x0380

tmpl_entries:
        mov bx, 1
.inner:
        mov ax, 0x1111
        retf
tmpl_entries_end:
T9_INNER equ T9 + (tmpl_entries.inner - tmpl_entries)

test_overlapping_entries:
        COPY tmpl_entries, T9
        call CODE_SEG:T9
        call CODE_SEG:T9_INNER
        call CODE_SEG:T9
        call CODE_SEG:T9_INNER
        mov word [es:T9_INNER + 1], 0x6666
        call CODE_SEG:T9
        CHECKW "patch seen from the outer entry", ax, 0x6666
        mov ax, 0
        call CODE_SEG:T9_INNER
        CHECKW "patch seen from the inner entry", ax, 0x6666
        ret

; =============================================================================
; 10. Patch a jump's displacement: the decoder computed the branch target from
;     it, so a stale decoding would still go the old way.
; =============================================================================
T10     equ 0x0400

tmpl_jump:
        jmp short .one          ; EB disp8: the displacement is at +1
.one:
        mov ax, 1
        retf
.two:
        mov ax, 2
        retf
tmpl_jump_end:

test_patch_jump:
        COPY tmpl_jump, T10
        call CODE_SEG:T10
        call CODE_SEG:T10
        CHECKW "jmp short goes to its first target", ax, 1
        mov byte [es:T10 + 1], tmpl_jump.two - tmpl_jump.one
        call CODE_SEG:T10
        CHECKW "patched jump displacement goes to the new target", ax, 2
        ret

; =============================================================================
; 11. Data next to code: writes near a routine that leave its bytes alone
;     must not change what it does.
; =============================================================================
T11     equ 0x0500

test_near_data:
        COPY tmpl_imm, T11
        call CODE_SEG:T11
        mov word [es:T11 + 4], 0xFFFF   ; right after the RETF
        mov word [es:T11 - 2], 0xFFFF   ; right before the routine
        mov dword [es:T11 + 0x40], 0xFFFFFFFF
        call CODE_SEG:T11
        CHECKW "writes next to code leave it working", ax, 0x1111
        ret

        ROM_END
