; =============================================================================
; realmode.asm — x86lab's main real-mode CPU test ROM
; =============================================================================
;
; Runs straight from reset, in real mode, and checks the integer instruction set
; the way a 16-bit program (a BIOS, DOS, a boot loader) uses it:
;
;   - arithmetic and the six status flags, and every Jcc condition
;   - shifts and rotates, including the count masking of the 386
;   - 32-bit registers and 32-bit addressing in real mode (the 0x66 and 0x67
;     prefixes), and 16-bit address wrap-around
;   - segment overrides, segment:offset aliasing, far pointers (LDS/LES/...),
;     far calls and returns
;   - MUL/IMUL/DIV/IDIV, PUSHA/POPA, ENTER/LEAVE, BCD adjustments
;   - bit instructions, SETcc, MOVZX/MOVSX, XCHG, XLAT, CMPXCHG, XADD, BSWAP, CMOV
;   - LOOP/LOOPE/LOOPNE/JCXZ/JECXZ
;   - CPUID and RDTSC, and reading the debug console port
;
; Every expected value below is what an Intel or AMD processor computes; the
; ROM is checked against QEMU as well as x86lab. Flags that the SDM calls
; "undefined" after an instruction are never checked.
;
; Build: nasm -f bin -I roms/tests/ -o roms/tests/realmode.bin roms/tests/realmode.asm
; Run:   x86lab run --bios roms/tests/realmode.bin --headless
; =============================================================================

%define ROM_NAME "realmode"
%include "harness.inc"

tests:
        call test_arith
        call test_jcc
        call test_shifts
        call test_32bit
        call test_segments
        call test_muldiv
        call test_stack
        call test_bcd
        call test_bits
        call test_data
        call test_loops
        call test_cpuid
        ret

; =============================================================================
; Arithmetic and flags (SDM Vol. 1 §3.4.3, Appendix A)
; =============================================================================
test_arith:
        ; 0x7FFF + 1 = 0x8000: the largest positive word plus one becomes the
        ; most negative one, so OF (signed overflow) and SF are set; the low
        ; nibble F+1 carries into bit 4 (AF); the low byte 00 has an even number
        ; of 1 bits (PF); no unsigned carry out of bit 15 (CF clear).
        mov ax, 0x7FFF
        add ax, 1
        FLAGS_TO bx, FL_STATUS
        CHECKW "add 7FFF+1 = 8000", ax, 0x8000
        CHECKW "add 7FFF+1 sets OF SF AF PF", bx, FL_OF | FL_SF | FL_AF | FL_PF

        ; 0xFF + 1 in a byte: unsigned carry out, result zero.
        mov al, 0xFF
        add al, 1
        FLAGS_TO bx, FL_STATUS
        CHECKW "add byte FF+1 sets CF ZF AF PF", bx, FL_CF | FL_ZF | FL_AF | FL_PF

        ; A 64-bit addition done 16 bits at a time: ADC adds the carry of the
        ; previous word. DX:CX:BX:AX = 0000FFFFFFFFFFFF + 1 = 0001000000000000.
        xor dx, dx
        mov cx, 0xFFFF
        mov bx, 0xFFFF
        mov ax, 0xFFFF
        add ax, 1
        adc bx, 0
        adc cx, 0
        adc dx, 0
        CHECKW "add/adc carry chain: top word", dx, 1
        or ax, bx
        or ax, cx
        CHECKW "add/adc carry chain: low words", ax, 0

        ; The same with 32-bit registers: EDX:EAX = 1_FFFFFFFF + 2_00000001.
        mov eax, 0xFFFFFFFF
        mov edx, 1
        add eax, 1
        adc edx, 2
        CHECK "add/adc 32-bit: low dword", eax, 0
        CHECK "add/adc 32-bit: high dword", edx, 4

        ; SUB/SBB borrow chain: CX:BX:AX = 0001_0000_0000 - 1 = 0000_FFFF_FFFF.
        mov cx, 1
        xor bx, bx
        xor ax, ax
        sub ax, 1
        sbb bx, 0
        sbb cx, 0
        FLAGS_TO dx, FL_CF
        CHECKW "sub/sbb borrow chain: low word", ax, 0xFFFF
        CHECKW "sub/sbb borrow chain: middle word", bx, 0xFFFF
        CHECKW "sub/sbb borrow chain: top word", cx, 0
        CHECKW "sub/sbb borrow chain: no final borrow", dx, 0

        ; SBB with a borrow in: 5 - 5 - 1 = -1.
        stc
        mov al, 5
        sbb al, 5
        FLAGS_TO bx, FL_STATUS
        CHECKW "sbb 5-5-CF = FF, flags CF PF AF SF", bx, FL_CF | FL_PF | FL_AF | FL_SF

        ; ADC with a carry in: 0x7F + 0 + 1 = 0x80 (signed overflow).
        stc
        mov al, 0x7F
        adc al, 0
        FLAGS_TO bx, FL_STATUS
        CHECKW "adc 7F+0+CF = 80, flags OF SF AF", bx, FL_OF | FL_SF | FL_AF

        ; INC and DEC leave CF alone (that is what makes them usable as loop
        ; counters inside ADC chains).
        stc
        mov ax, 0xFFFF
        inc ax
        FLAGS_TO bx, FL_STATUS
        CHECKW "inc FFFF keeps CF, sets ZF AF PF", bx, FL_CF | FL_ZF | FL_AF | FL_PF
        clc
        mov al, 0x80
        dec al
        FLAGS_TO bx, FL_STATUS
        CHECKW "dec 80 = 7F sets OF AF, CF stays clear", bx, FL_OF | FL_AF

        ; NEG computes 0 - x: CF is set unless x was 0.
        mov ax, 5
        neg ax
        FLAGS_TO bx, FL_STATUS
        CHECKW "neg 5 = FFFB", ax, 0xFFFB
        CHECKW "neg 5 sets CF SF AF", bx, FL_CF | FL_SF | FL_AF
        xor ax, ax
        neg ax
        FLAGS_TO bx, FL_STATUS
        CHECKW "neg 0 clears CF, sets ZF PF", bx, FL_ZF | FL_PF

        ; CMP is a SUB that only writes the flags.
        mov ax, 3
        cmp ax, 5
        FLAGS_TO bx, FL_STATUS
        CHECKW "cmp 3,5 leaves AX alone", ax, 3
        CHECKW "cmp 3,5 sets CF SF AF", bx, FL_CF | FL_SF | FL_AF

        ; AND/OR/XOR/TEST clear CF and OF (AF is undefined: masked out).
        stc
        mov al, 0xF0
        and al, 0x0F
        FLAGS_TO bx, FL_STATUS & ~FL_AF
        CHECKW "and F0,0F = 0: ZF PF, CF cleared", bx, FL_ZF | FL_PF
        or al, 0x80
        FLAGS_TO bx, FL_STATUS & ~FL_AF
        CHECKW "or 0,80: SF", bx, FL_SF
        test al, 0x01
        FLAGS_TO bx, FL_STATUS & ~FL_AF
        CHECKW "test 80,01: ZF PF", bx, FL_ZF | FL_PF
        mov eax, 0x12345678
        xor eax, 0x12345678
        FLAGS_TO bx, FL_STATUS & ~FL_AF
        CHECK "xor eax, eax-value = 0", eax, 0
        CHECKW "xor to zero: ZF PF", bx, FL_ZF | FL_PF

        ; NOT changes no flag at all.
        stc
        mov ax, 0x000F
        not al
        FLAGS_TO bx, FL_CF
        CHECKW "not 0F = F0", ax, 0x00F0
        CHECKW "not keeps CF", bx, FL_CF

        ; Sign extension: CBW, CWD, CWDE, CDQ.
        mov ax, 0x1280
        cbw
        CHECKW "cbw 80 = FF80", ax, 0xFF80
        cwd
        CHECKW "cwd FF80: DX = FFFF", dx, 0xFFFF
        mov eax, 0x12348000
        cwde
        CHECK "cwde 8000 = FFFF8000", eax, 0xFFFF8000
        cdq
        CHECK "cdq FFFF8000: EDX = FFFFFFFF", edx, 0xFFFFFFFF
        mov eax, 1
        cdq
        CHECK "cdq 1: EDX = 0", edx, 0

        ; CLC/STC/CMC, and LAHF/SAHF (AH <-> SF ZF - AF - PF 1 CF).
        clc
        cmc
        FLAGS_TO bx, FL_CF
        CHECKW "clc; cmc sets CF", bx, FL_CF
        mov ah, 0xD5            ; SF ZF AF PF CF
        sahf
        mov ah, 0
        lahf
        mov al, 0
        CHECKW "sahf D5; lahf = D7 (bit 1 is always 1)", ax, 0xD700

        ; POPF/PUSHF: the status flags round-trip; bit 1 reads as 1.
        push word FL_OF | FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF
        popf
        pushf
        pop ax
        CHECKW "popf 08D5; pushf = 08D7", ax, 0x08D7
        push word 0
        popf
        pushf
        pop ax
        CHECKW "popf 0; pushf = 0002", ax, 0x0002
        ret

; =============================================================================
; Conditional jumps (SDM Vol. 1 Appendix B): after a CMP, each of the 16
; conditions is tried; bit n of DX is set when condition n jumps.
;   bit: 0 O, 1 NO, 2 B, 3 AE, 4 E, 5 NE, 6 BE, 7 A,
;        8 S, 9 NS, 10 P, 11 NP, 12 L, 13 GE, 14 LE, 15 G
; =============================================================================

; TAKEN cc, bit: if condition cc holds, set `bit` in DX (without changing the
; flags, which the next TAKEN still needs: PUSHF/POPF around the OR).
%macro TAKEN 2
        j%+1 %%yes
        jmp %%done
%%yes:
        pushf
        or dx, %2
        popf
%%done:
%endmacro

%macro ALL_CONDITIONS 0
        mov dx, 0               ; MOV does not touch the flags
        TAKEN o,  0x0001
        TAKEN no, 0x0002
        TAKEN b,  0x0004
        TAKEN ae, 0x0008
        TAKEN e,  0x0010
        TAKEN ne, 0x0020
        TAKEN be, 0x0040
        TAKEN a,  0x0080
        TAKEN s,  0x0100
        TAKEN ns, 0x0200
        TAKEN p,  0x0400
        TAKEN np, 0x0800
        TAKEN l,  0x1000
        TAKEN ge, 0x2000
        TAKEN le, 0x4000
        TAKEN g,  0x8000
%endmacro

; JCC_CASE a, b, want: CMP AX=a, BX=b, then check the mask of taken jumps.
%macro JCC_CASE 3
        mov ax, %1
        mov bx, %2
        cmp ax, bx
        ALL_CONDITIONS
        CHECKW "jcc after cmp ax,bx with ax=", dx, %3
%endmacro

test_jcc:
        ; The CHECK names cannot hold the operands, so here they are in order:
        ;   1 vs 2 (below, less), 2 vs 1 (above, greater), 5 vs 5 (equal),
        ;   8000 vs 1 (signed overflow: -32768 - 1), 7FFF vs FFFF (overflow the
        ;   other way), FFFF vs 1 (unsigned above, signed less), 0 vs 80.
        mov ax, 1
        mov bx, 2
        cmp ax, bx
        ALL_CONDITIONS
        CHECKW "jcc after cmp 1,2 (B L BE LE NE ...)", dx, 0x5566
        mov ax, 2
        mov bx, 1
        cmp ax, bx
        ALL_CONDITIONS
        CHECKW "jcc after cmp 2,1 (A G AE GE NE ...)", dx, 0xAAAA
        mov ax, 5
        mov bx, 5
        cmp ax, bx
        ALL_CONDITIONS
        CHECKW "jcc after cmp 5,5 (E AE BE GE LE P)", dx, 0x665A
        mov ax, 0x8000
        mov bx, 1
        cmp ax, bx
        ALL_CONDITIONS
        CHECKW "jcc after cmp 8000,1 (O: signed overflow)", dx, 0x56A9
        mov ax, 0x7FFF
        mov bx, 0xFFFF
        cmp ax, bx
        ALL_CONDITIONS
        CHECKW "jcc after cmp 7FFF,FFFF (O S, G)", dx, 0xA565
        mov ax, 0xFFFF
        mov bx, 1
        cmp ax, bx
        ALL_CONDITIONS
        CHECKW "jcc after cmp FFFF,1 (A but L)", dx, 0x59AA
        mov ax, 0
        mov bx, 0x80
        cmp ax, bx
        ALL_CONDITIONS
        CHECKW "jcc after cmp 0,80 (parity of the low byte)", dx, 0x5966
        mov eax, 0x80000000
        mov ebx, 1
        cmp eax, ebx
        ALL_CONDITIONS
        CHECKW "jcc after cmp eax 80000000,1 (32-bit)", dx, 0x56A9

        ; Near indirect jumps and calls: through a register, through memory,
        ; and a jump table indexed by BX (how a C switch compiles).
        mov bx, .ind_target
        xor ax, ax
        call bx
        CHECKW "call bx (near indirect through a register)", ax, 0x1D1D
        xor ax, ax
        call [cs:.ind_ptr]
        CHECKW "call [mem] (near indirect through memory)", ax, 0x1D1D
        mov bx, 2 * 2           ; case 2
        jmp [cs:.switch + bx]
.case0:
        mov ax, 0xCA00
        jmp .switch_end
.case1:
        mov ax, 0xCA01
        jmp .switch_end
.case2:
        mov ax, 0xCA02
.switch_end:
        CHECKW "jmp [cs:table+bx] (jump table)", ax, 0xCA02
        jmp .after_indirect
.ind_target:
        mov ax, 0x1D1D
        ret
.ind_ptr:
        dw .ind_target
.switch:
        dw .case0, .case1, .case2
.after_indirect:

        ; A conditional jump further than 127 bytes needs the 0F 8x rel16 form.
        mov ax, 0
        cmp ax, 0
        je near .far_target
        mov ax, 0xBAD
.far_target_back:
        CHECKW "je near (rel16) reaches a far target and returns", ax, 0x600D
        ret
        times 200 nop
.far_target:
        mov ax, 0x600D
        jmp near .far_target_back

; =============================================================================
; Shifts and rotates (SDM Vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR")
; =============================================================================
test_shifts:
        ; By one: CF gets the bit shifted out; OF tells whether the sign changed.
        mov ax, 0x8001
        shl ax, 1
        FLAGS_TO bx, FL_CF | FL_OF
        CHECKW "shl 8001,1 = 0002", ax, 0x0002
        CHECKW "shl 8001,1: CF OF", bx, FL_CF | FL_OF
        mov ax, 0x8001
        shr ax, 1
        FLAGS_TO bx, FL_CF | FL_OF
        CHECKW "shr 8001,1 = 4000", ax, 0x4000
        CHECKW "shr 8001,1: CF, OF = old sign", bx, FL_CF | FL_OF
        mov ax, 0x8001
        sar ax, 1
        FLAGS_TO bx, FL_CF | FL_OF
        CHECKW "sar 8001,1 = C000 (sign copied)", ax, 0xC000
        CHECKW "sar 8001,1: CF, OF clear", bx, FL_CF
        mov ax, 0x8000
        sar ax, 15
        CHECKW "sar 8000,15 = FFFF", ax, 0xFFFF

        ; By CL: CF is the last bit shifted out.
        mov ax, 0x1234
        mov cl, 4
        shl ax, cl
        FLAGS_TO bx, FL_CF
        CHECKW "shl 1234,4 = 2340", ax, 0x2340
        CHECKW "shl 1234,4: CF = old bit 12", bx, FL_CF

        ; The 386 masks the count to 5 bits (an 8086 did not): 33 means 1.
        mov ax, 1
        mov cl, 33
        shl ax, cl
        CHECKW "shl 1,33 = 2 (count masked to 5 bits)", ax, 2

        ; A count of 0 changes no flag.
        stc
        mov cl, 0
        shr ax, cl
        FLAGS_TO bx, FL_CF
        CHECKW "shr by 0 keeps CF", bx, FL_CF

        ; 32-bit shifts.
        mov eax, 0x80000001
        shr eax, 31
        CHECK "shr eax 80000001,31 = 1", eax, 1
        mov eax, 0x80000000
        sar eax, 31
        CHECK "sar eax 80000000,31 = FFFFFFFF", eax, 0xFFFFFFFF
        mov eax, 0x00000003
        mov cl, 30
        shl eax, cl
        CHECK "shl eax 3,30 = C0000000", eax, 0xC0000000

        ; Rotates: ROL/ROR go round the register, CF gets a copy.
        mov ax, 0x1234
        rol ax, 4
        FLAGS_TO bx, FL_CF
        CHECKW "rol 1234,4 = 2341", ax, 0x2341
        CHECKW "rol 1234,4: CF = bit 0 of the result", bx, FL_CF
        mov ax, 0x1234
        ror ax, 4
        FLAGS_TO bx, FL_CF
        CHECKW "ror 1234,4 = 4123", ax, 0x4123
        CHECKW "ror 1234,4: CF = bit 15 of the result", bx, 0
        mov eax, 0x80000001
        rol eax, 1
        CHECK "rol eax 80000001,1 = 00000003", eax, 3

        ; RCL/RCR rotate through CF: a 9-, 17- or 33-bit rotation.
        stc
        mov ax, 0x0080
        rcl al, 1
        FLAGS_TO bx, FL_CF
        CHECKW "rcl 80,1 with CF=1 = 01", ax, 0x0001
        CHECKW "rcl 80,1: CF = old bit 7", bx, FL_CF
        clc
        mov al, 1
        rcr al, 1
        FLAGS_TO bx, FL_CF
        CHECKW "rcr 01,1 with CF=0 = 00, CF=1", bx, FL_CF
        ; RCL of a word by 17 rotates all 17 bits once round: nothing changes.
        clc
        mov ax, 0x1234
        mov cl, 17
        rcl ax, cl
        CHECKW "rcl word by 17 = unchanged", ax, 0x1234
        ; ...and of a byte by 9.
        stc
        mov ax, 0x005A
        mov cl, 9
        rcr al, cl
        FLAGS_TO bx, FL_CF
        CHECKW "rcr byte by 9 = unchanged, CF kept", bx, FL_CF
        CHECKW "rcr byte 5A by 9 = 5A", ax, 0x005A
        ret

; =============================================================================
; 32-bit registers and 32-bit addressing in real mode
;
; A 16-bit code segment can still use 32-bit registers and addressing: the
; 0x66 prefix switches the operand size, 0x67 the address size, for one
; instruction. The offset must still be within the 64 KiB segment limit.
; =============================================================================
test_32bit:
        mov eax, 0x12345678
        add eax, 0x11111111
        CHECK "add eax (0x66 prefix)", eax, 0x23456789

        ; Writing AX or AH leaves the rest of EAX alone.
        mov eax, 0x12345678
        mov ax, 0xABCD
        CHECK "mov ax keeps the top half of EAX", eax, 0x1234ABCD
        add ax, 0x5433          ; ABCD + 5433 = 1_0000: the carry does not reach bit 16
        FLAGS_TO bx, FL_CF | FL_ZF
        CHECK "add ax carries out of bit 15 only", eax, 0x12340000
        CHECKW "add ax FFFF+: CF ZF", bx, FL_CF | FL_ZF
        mov ah, 0x99
        CHECK "mov ah writes bits 8-15", eax, 0x12349900

        mov eax, 0xFFFFFFFF
        inc eax
        FLAGS_TO bx, FL_ZF
        CHECK "inc eax FFFFFFFF = 0", eax, 0
        CHECKW "inc eax to 0 sets ZF", bx, FL_ZF

        ; A table of dwords at DATA_SEG:0100, read with [base + index*scale + disp].
        push ds
        mov ax, DATA_SEG
        mov ds, ax
        mov dword [0x100], 0x00000000
        mov dword [0x104], 0x11111111
        mov dword [0x108], 0x22222222
        mov dword [0x10C], 0x33333333
        mov dword [0x110], 0x44444444
        mov ebx, 0x100 - 8
        mov esi, 3
        mov eax, [ebx + esi*4 + 8]      ; 0x67 prefix: a SIB byte in 16-bit code
        CHECK "mov eax, [ebx+esi*4+8] (0x67 prefix)", eax, 0x33333333
        mov ecx, 2
        mov ax, [ecx*8 + 0x100]         ; 16-bit data, 32-bit address
        CHECKW "mov ax, [ecx*8+100]", ax, 0x4444

        ; LEA computes an address without touching memory or flags.
        mov eax, 10
        lea eax, [eax + eax*8 + 5]
        CHECK "lea eax, [eax+eax*8+5] = 9*10+5", eax, 95

        ; 16-bit addresses wrap at 64 KiB: BX + SI = FFFF + 2 = 0001.
        mov byte [0x0001], 0x5A
        mov bx, 0xFFFF
        mov si, 2
        xor ax, ax
        mov al, [bx + si]
        CHECKW "[bx+si] wraps to offset 0001", ax, 0x005A
        mov bx, 0xFFF0
        mov si, 0x20
        lea ax, [bx + si + 0x10]
        CHECKW "lea ax, [bx+si+10] wraps to 0020", ax, 0x0020
        pop ds

        ; [BP+...] and [EBP], [ESP] address SS by default, [BX], [SI] address DS.
        push word 0xBEEF
        mov bp, sp
        mov ax, [bp]
        CHECKW "[bp] reads the stack (SS)", ax, 0xBEEF
        xor si, si
        mov ax, [bp + si]
        CHECKW "[bp+si] reads the stack (SS)", ax, 0xBEEF
        mov ebp, esp
        mov ax, [ebp]
        CHECKW "[ebp] reads the stack (SS)", ax, 0xBEEF
        mov ax, [esp]
        CHECKW "[esp] reads the stack (SS)", ax, 0xBEEF
        pop ax
        ; A DS: prefix makes a BP-based address use DS instead.
        push ds
        mov ax, DATA_SEG
        mov ds, ax
        mov word [0x0120], 0xD5D5
        mov bp, 0x0120
        mov ax, [ds:bp]
        pop ds
        CHECKW "[ds:bp] reads DS, not the stack", ax, 0xD5D5

        ; PUSH/POP with a 32-bit operand move 4 bytes; little-endian order.
        push dword 0x11112222
        pop ax                  ; low word first
        pop bx
        CHECKW "push dword: low word on top", ax, 0x2222
        CHECKW "push dword: high word next", bx, 0x1111

        ; CALL with a 32-bit operand size pushes a 4-byte return address.
        mov cx, sp
        call dword .sub32
        mov ax, sp
        CHECKW "o32 call / o32 ret: SP balanced", ax, cx
        CHECKW "o32 call pushed 4 bytes", dx, 4
        ret
.sub32:
        mov dx, cx
        sub dx, sp              ; bytes pushed by the call
        o32 ret

; =============================================================================
; Segments: overrides, aliasing, far pointers, far calls
;
; Real mode: linear address = segment * 16 + offset. Many segment:offset pairs
; name the same byte. Every memory operand has a default segment (DS, or SS for
; BP/SP-based addresses) that a prefix (CS: DS: ES: FS: GS: SS:) can replace.
; =============================================================================
test_segments:
        mov ax, [cs:rom_word]
        CHECKW "cs: override reads the ROM", ax, 0xC0DE

        mov ax, DATA_SEG
        mov es, ax
        mov word [es:0x200], 0x1234     ; DS is 0: the override is what counts
        push ds
        mov ds, ax
        mov bx, [0x200]
        pop ds
        CHECKW "es: override on a store", bx, 0x1234

        mov fs, ax
        mov gs, ax
        mov word [fs:0x210], 0x5678
        mov bx, [gs:0x210]
        CHECKW "fs: store, gs: load", bx, 0x5678

        ; 1000:0210 and 1021:0000 are the same physical byte (0x10210).
        mov ax, 0x1021
        mov fs, ax
        mov bx, [fs:0x0000]
        CHECKW "1000:0210 and 1021:0000 alias", bx, 0x5678
        xor ax, ax
        mov es, ax
        mov fs, ax
        mov gs, ax

        ; SS: override with a non-BP base.
        push word 0x7777
        mov bx, sp
        mov ax, [ss:bx]
        pop cx
        CHECKW "ss: override with [bx]", ax, 0x7777

        ; Segment registers through the stack.
        mov ax, 0x4321
        push ax
        pop es
        push es
        pop fs
        mov ax, fs
        CHECKW "push es / pop fs / mov ax, fs", ax, 0x4321
        xor ax, ax
        mov es, ax
        mov fs, ax

        ; Far pointers: offset word, then segment word (LDS/LES/LFS/LGS/LSS).
        push ds
        lds si, [cs:far_ptr]
        mov ax, ds
        pop ds
        CHECKW "lds: offset", si, 0x1234
        CHECKW "lds: segment", ax, 0x5678
        les di, [cs:far_ptr]
        mov ax, es
        CHECKW "les: segment", ax, 0x5678
        CHECKW "les: offset", di, 0x1234
        lfs bx, [cs:far_ptr]
        mov ax, fs
        CHECKW "lfs: segment", ax, 0x5678
        lgs bx, [cs:far_ptr]
        mov ax, gs
        CHECKW "lgs: segment", ax, 0x5678
        mov cx, ss              ; LSS changes the stack: put it back at once
        mov dx, sp
        lss bx, [cs:far_ptr]
        mov ax, ss
        mov ss, cx
        mov sp, dx
        CHECKW "lss: segment", ax, 0x5678
        CHECKW "lss: offset", bx, 0x1234
        lds esi, [cs:far_ptr32]  ; m16:32: a 32-bit offset, then the segment
        mov ax, ds
        push word 0
        pop ds
        CHECK "lds esi (16:32 pointer): offset", esi, 0x89ABCDEF
        CHECKW "lds esi (16:32 pointer): segment", ax, 0x1000
        xor ax, ax
        mov es, ax
        mov fs, ax
        mov gs, ax

        ; Far calls push CS and IP; RETF pops both.
        mov cx, sp
        call 0xF000:far_proc
        CHECKW "call far F000:xxxx: CS in the callee", ax, 0xF000
        CHECKW "call far: near call inside the callee", bx, 0x4242
        mov ax, sp
        CHECKW "call far / retf: SP balanced", ax, cx

        ; The same code through another segment: EF00:(x+1000) = F000:x.
        ; Relative jumps and near calls inside it keep working.
        call 0xEF00:far_proc + 0x1000
        CHECKW "call far through an aliased CS (EF00)", ax, 0xEF00
        CHECKW "near call inside aliased code", bx, 0x4242

        ; Indirect far call and far jump through memory.
        call far [cs:far_proc_ptr]
        CHECKW "call far [mem]", ax, 0xF000
        mov ax, 0
        jmp far [cs:far_jmp_ptr]
        mov ax, 0xBAD
.far_jmp_back:
        CHECKW "jmp far [mem]", ax, 0x1111

        ; RETF n and RET n also drop n bytes of arguments.
        mov cx, sp
        push word 0xAAAA
        push word 0xBBBB
        call 0xF000:far_proc_ret4
        mov ax, sp
        CHECKW "retf 4 drops the arguments", ax, cx
        push word 0xAAAA
        call .near_ret2
        mov ax, sp
        CHECKW "ret 2 drops the argument", ax, cx
        ret
.near_ret2:
        ret 2
.far_jmp_target:
        mov ax, 0x1111
        jmp .far_jmp_back

far_proc:
        mov ax, cs
        call .inner             ; near call: pushes IP only
        retf
.inner:
        jmp short .set          ; a relative jump under whatever CS we run with
        mov bx, 0xBAD
        ret
.set:
        mov bx, 0x4242
        ret

far_proc_ret4:
        retf 4

rom_word:       dw 0xC0DE
far_ptr:        dw 0x1234, 0x5678
far_ptr32:      dd 0x89ABCDEF
                dw 0x1000
far_proc_ptr:   dw far_proc, 0xF000
far_jmp_ptr:    dw test_segments.far_jmp_target, 0xF000

; =============================================================================
; MUL, IMUL, DIV, IDIV (SDM Vol. 2A/2B). MUL/IMUL set CF = OF = 1 when the
; upper half of the product is significant. DIV/IDIV leave all flags undefined.
; =============================================================================
test_muldiv:
        mov al, 200
        mov bl, 3
        mul bl
        FLAGS_TO bx, FL_CF | FL_OF
        CHECKW "mul byte 200*3 = 0258", ax, 0x0258
        CHECKW "mul byte: AH used, CF OF set", bx, FL_CF | FL_OF
        mov al, 10
        mov bl, 3
        mul bl
        FLAGS_TO bx, FL_CF | FL_OF
        CHECKW "mul byte 10*3 = 001E, CF OF clear", bx, 0

        mov ax, 0x1234
        mov bx, 0x5678
        mul bx
        CHECKW "mul word 1234*5678: DX", dx, 0x0626
        CHECKW "mul word 1234*5678: AX", ax, 0x0060

        mov eax, 0x12345678
        mov ebx, 0x9ABCDEF0
        mul ebx
        CHECK "mul dword: EDX", edx, 0x0B00EA4E
        CHECK "mul dword: EAX", eax, 0x242D2080

        mov al, -2
        mov bl, 100
        imul bl
        FLAGS_TO bx, FL_CF | FL_OF
        CHECKW "imul byte -2*100 = -200", ax, 0xFF38
        CHECKW "imul byte -200 does not fit a byte: CF OF", bx, FL_CF | FL_OF
        mov al, -2
        mov bl, 3
        imul bl
        FLAGS_TO bx, FL_CF | FL_OF
        CHECKW "imul byte -2*3 = -6", ax, 0xFFFA
        CHECKW "imul byte -6 fits: CF OF clear", bx, 0

        mov ax, -300
        mov bx, 300
        imul bx
        CHECKW "imul word -300*300: DX", dx, 0xFFFE
        CHECKW "imul word -300*300: AX", ax, 0xA070

        mov bx, 7
        imul ax, bx, -3
        CHECKW "imul ax, bx, -3 (three operands)", ax, 0xFFEB
        mov ax, 0x100
        mov bx, 0x100
        imul ax, bx
        FLAGS_TO bx, FL_CF | FL_OF
        CHECKW "imul ax, bx truncates 100*100 to 0", ax, 0
        CHECKW "imul ax, bx: overflow sets CF OF", bx, FL_CF | FL_OF
        mov ebx, 0x12345
        imul eax, ebx, 0x10000
        CHECK "imul eax, ebx, 10000 truncates", eax, 0x23450000

        mov ax, 1000
        mov bl, 7
        div bl
        CHECKW "div byte 1000/7: AH=6 AL=142", ax, 0x068E
        mov dx, 1
        mov ax, 0
        mov bx, 3
        div bx
        CHECKW "div word 10000/3: quotient", ax, 0x5555
        CHECKW "div word 10000/3: remainder", dx, 1
        mov edx, 0x12
        mov eax, 0x34567890
        mov ecx, 0x1000
        div ecx
        CHECK "div dword 1234567890/1000: quotient", eax, 0x01234567
        CHECK "div dword 1234567890/1000: remainder", edx, 0x890

        ; IDIV rounds towards zero; the remainder has the dividend's sign.
        mov ax, -7
        cwd
        mov bx, 2
        idiv bx
        CHECKW "idiv word -7/2: quotient -3", ax, 0xFFFD
        CHECKW "idiv word -7/2: remainder -1", dx, 0xFFFF
        mov ax, 7
        cwd
        mov bx, -2
        idiv bx
        CHECKW "idiv word 7/-2: quotient -3", ax, 0xFFFD
        CHECKW "idiv word 7/-2: remainder 1", dx, 1
        mov ax, -7
        mov bl, 2
        idiv bl
        CHECKW "idiv byte -7/2: AH=-1 AL=-3", ax, 0xFFFD
        mov eax, -1000000
        cdq
        mov ecx, 7
        idiv ecx
        CHECK "idiv dword -1000000/7: quotient", eax, -142857
        CHECK "idiv dword -1000000/7: remainder", edx, -1
        ret

; =============================================================================
; The stack: PUSH SP, PUSHA/POPA, PUSHAD/POPAD, ENTER/LEAVE
; =============================================================================
test_stack:
        ; SP = 0 is a full 64 KiB stack: the first PUSH wraps to FFFE.
        mov cx, ss
        mov dx, sp
        mov ax, 0x9000
        mov ss, ax
        mov sp, 0
        push word 0x5A5A
        mov bx, sp
        mov ax, [ss:0xFFFE]
        pop si
        mov di, sp
        mov ss, cx
        mov sp, dx
        CHECKW "push with SP=0 wraps to SP=FFFE", bx, 0xFFFE
        CHECKW "push with SP=0 writes at SS:FFFE", ax, 0x5A5A
        CHECKW "pop at SP=FFFE wraps SP to 0", di, 0

        ; Since the 286, PUSH SP pushes SP as it was before the push.
        mov ax, sp
        push sp
        pop bx
        CHECKW "push sp pushes the old SP", bx, ax

        ; PUSHA pushes AX CX DX BX SP(original) BP SI DI; POPA pops them back
        ; in reverse order but skips the saved SP.
        push ds
        push word 0
        pop ds
        mov ax, 0x1111
        mov cx, 0x2222
        mov dx, 0x3333
        mov bx, 0x4444
        mov bp, 0x6666
        mov si, 0x7777
        mov di, 0x8888
        mov [0x600], sp         ; SP before PUSHA
        pusha
        mov bp, sp
        CHECKW "pusha: DI on top", [bp + 0], 0x8888
        CHECKW "pusha: SI", [bp + 2], 0x7777
        CHECKW "pusha: BP", [bp + 4], 0x6666
        CHECKW "pusha: SP before pusha", [bp + 6], [0x600]
        CHECKW "pusha: BX", [bp + 8], 0x4444
        CHECKW "pusha: AX deepest", [bp + 14], 0x1111
        mov word [bp + 6], 0xDEAD       ; POPA must ignore this
        mov bp, 0
        xor ax, ax
        xor bx, bx
        xor cx, cx
        xor dx, dx
        xor si, si
        xor di, di
        popa
        CHECKW "popa: AX", ax, 0x1111
        CHECKW "popa: CX", cx, 0x2222
        CHECKW "popa: DX", dx, 0x3333
        CHECKW "popa: BX", bx, 0x4444
        CHECKW "popa: BP", bp, 0x6666
        CHECKW "popa: SI", si, 0x7777
        CHECKW "popa: DI", di, 0x8888
        mov ax, sp
        CHECKW "popa: SP back, saved SP ignored", ax, [0x600]

        mov eax, 0xA1A1A1A1
        mov edi, 0xD1D1D1D1
        mov [0x600], esp
        pushad
        mov bp, sp
        CHECK "pushad: EDI on top", [bp + 0], 0xD1D1D1D1
        CHECK "pushad: ESP before pushad", [bp + 12], [0x600]
        CHECK "pushad: EAX deepest", [bp + 28], 0xA1A1A1A1
        xor eax, eax
        xor edi, edi
        popad
        CHECK "popad: EAX", eax, 0xA1A1A1A1
        CHECK "popad: EDI", edi, 0xD1D1D1D1
        mov eax, esp
        CHECK "popad: ESP", eax, [0x600]
        pop ds

        ; ENTER n, 0: push BP; BP = SP; SP -= n. LEAVE undoes it.
        mov bp, 0x1234
        mov si, sp
        enter 8, 0
        mov ax, si
        sub ax, 2
        CHECKW "enter 8,0: BP = SP after pushing BP", bp, ax
        CHECKW "enter 8,0: old BP at [BP]", [bp], 0x1234
        mov ax, sp
        add ax, 8
        CHECKW "enter 8,0: SP = BP - 8", ax, bp
        leave
        CHECKW "leave restores BP", bp, 0x1234
        mov ax, sp
        CHECKW "leave restores SP", ax, si

        ; ENTER n, 2 (a nested procedure, as Pascal compiles): after the old
        ; BP it copies the enclosing frame's display (one pointer at [BP-2]
        ; of the outer frame) and pushes the new frame pointer.
        mov bp, 0x1234
        enter 4, 0              ; outer frame
        mov di, bp              ; di = outer BP
        mov word [bp - 2], 0xAAAA       ; the outer frame's display entry
        enter 4, 2              ; inner frame, nesting level 2
        CHECKW "enter 4,2: [BP] = outer BP", [bp], di
        CHECKW "enter 4,2: [BP-2] = outer display", [bp - 2], 0xAAAA
        CHECKW "enter 4,2: [BP-4] = new BP", [bp - 4], bp
        mov ax, sp
        add ax, 8
        CHECKW "enter 4,2: SP = BP - 8", ax, bp
        leave
        CHECKW "leave (inner): BP = outer BP", bp, di
        leave
        CHECKW "leave (outer): BP restored", bp, 0x1234
        mov ax, sp
        CHECKW "leave (outer): SP restored", ax, si
        ret


; =============================================================================
; Decimal arithmetic: DAA, DAS, AAA, AAS, AAM, AAD (SDM Vol. 1 §7.3.2.5)
; Packed BCD keeps two decimal digits per byte (0x47 means 47); unpacked BCD
; keeps one digit per byte (AH:AL = 01:04 means 14).
; =============================================================================
test_bcd:
        mov ax, 0x0019
        add al, 0x28            ; 0x41, with AF set: the low digit overflowed
        daa                     ; adds 6 to the low digit
        CHECKW "daa: 19 + 28 = 47", ax, 0x0047
        mov ax, 0x0099
        add al, 0x01            ; 0x9A
        daa                     ; 99 + 1 = 100: 00 with a decimal carry
        FLAGS_TO bx, FL_CF
        CHECKW "daa: 99 + 01 = 00", ax, 0x0000
        CHECKW "daa: 99 + 01 carries (CF)", bx, FL_CF
        mov ax, 0x0047
        sub al, 0x28            ; 0x1F, AF set
        das
        CHECKW "das: 47 - 28 = 19", ax, 0x0019
        mov ax, 0x0010
        sub al, 0x20            ; 0xF0, CF set
        das
        FLAGS_TO bx, FL_CF
        CHECKW "das: 10 - 20 = 90 with borrow", ax, 0x0090
        CHECKW "das: 10 - 20 borrows (CF)", bx, FL_CF
        mov ax, 0x0008
        add al, 6               ; 8 + 6 = 14 in unpacked BCD: AH=1 AL=4
        aaa
        FLAGS_TO bx, FL_CF
        CHECKW "aaa: 8 + 6 = 0104", ax, 0x0104
        CHECKW "aaa: carry into AH (CF)", bx, FL_CF
        mov ax, 0x0102          ; 12
        sub al, 5               ; 12 - 5 = 7
        aas
        CHECKW "aas: 0102 - 5 = 0007", ax, 0x0007
        mov ax, 63
        aam                     ; AH = AL / 10, AL = AL mod 10
        CHECKW "aam: 63 = 0603", ax, 0x0603
        mov ax, 0x003F
        aam 16                  ; the base is an immediate (D4 10)
        CHECKW "aam 16: 3F = 030F", ax, 0x030F
        mov ax, 0x0603
        aad                     ; AL = AH * 10 + AL, AH = 0
        CHECKW "aad: 0603 = 63", ax, 63
        mov ax, 0x030F
        aad 16
        CHECKW "aad 16: 030F = 3F", ax, 0x003F
        ret

; =============================================================================
; Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, SHLD/SHRD, SETcc
; =============================================================================
test_bits:
        ; BT copies bit n to CF; BTS/BTR/BTC also set/reset/complement it.
        ; RCL DL,1 collects each CF into DL, first one in the highest bit.
        xor dx, dx
        mov ax, 0x0010
        bt ax, 4                ; CF=1
        rcl dl, 1
        bts ax, 0               ; CF=0, ax=0011
        rcl dl, 1
        btr ax, 4               ; CF=1, ax=0001
        rcl dl, 1
        btc ax, 15              ; CF=0, ax=8001
        rcl dl, 1
        CHECKW "bt/bts/btr/btc: CF = old bit (1,0,1,0)", dx, 1010b
        CHECKW "bts 0, btr 4, btc 15: 0010 -> 8001", ax, 0x8001

        ; With a register bit offset, BT on memory addresses a bit string: the
        ; offset is signed and may reach far beyond the word named.
        push ds
        mov ax, DATA_SEG
        mov ds, ax
        mov word [0x2FE], 0
        mov word [0x300], 0
        mov word [0x302], 0
        mov word [0x304], 0x0008
        mov bx, 35              ; word at 0x300 + 2*(35/16) = 0x304, bit 35%16 = 3
        bt word [0x300], bx
        FLAGS_TO cx, FL_CF
        CHECKW "bt [mem], 35 reads bit 3 of the word at +4", cx, FL_CF
        mov bx, -1              ; the bit just below: bit 15 of the word at -2
        bts word [0x300], bx
        CHECKW "bts [mem], -1 sets bit 15 of the word at -2", [0x2FE], 0x8000
        bt word [0x304], 19     ; an immediate offset is taken modulo 16
        FLAGS_TO cx, FL_CF
        CHECKW "bt [mem], 19 is bit 3 of that word", cx, FL_CF
        pop ds

        mov ax, 0x0180
        bsf bx, ax
        FLAGS_TO cx, FL_ZF
        CHECKW "bsf 0180 = 7", bx, 7
        CHECKW "bsf of nonzero clears ZF", cx, 0
        bsr bx, ax
        CHECKW "bsr 0180 = 8", bx, 8
        mov eax, 0x80000000
        bsf ebx, eax
        CHECK "bsf eax 80000000 = 31", ebx, 31
        xor ax, ax
        bsf bx, ax
        FLAGS_TO cx, FL_ZF
        CHECKW "bsf of 0 sets ZF", cx, FL_ZF

        ; SHLD/SHRD shift bits in from a second register.
        mov ax, 0x1234
        mov bx, 0x5678
        shld ax, bx, 4
        CHECKW "shld 1234,5678,4 = 2345", ax, 0x2345
        mov ax, 0x1234
        shrd ax, bx, 4
        CHECKW "shrd 1234,5678,4 = 8123", ax, 0x8123
        mov eax, 0x12345678
        mov ebx, 0x9ABCDEF0
        mov cl, 8
        shld eax, ebx, cl
        CHECK "shld eax,ebx,cl=8 = 3456789A", eax, 0x3456789A
        mov eax, 0x12345678
        shrd eax, ebx, cl
        CHECK "shrd eax,ebx,cl=8 = F0123456", eax, 0xF0123456

        ; SETcc writes 1 or 0 to a byte. After CMP 3,5 (below, less):
        push ds
        mov ax, DATA_SEG
        mov ds, ax
        mov ax, 3
        cmp ax, 5
        setb [0x400]
        setae [0x401]
        sete [0x402]
        setne [0x403]
        setl [0x404]
        setge [0x405]
        setle [0x406]
        setg [0x407]
        CHECK "setb setae sete setne after cmp 3,5", [0x400], 0x01000001
        CHECK "setl setge setle setg after cmp 3,5", [0x404], 0x00010001
        pop ds
        mov ax, 0x7FFF
        add ax, 1
        mov bx, 0xFFFF
        seto bl
        sets bh
        CHECKW "seto/sets after 7FFF+1 (register form)", bx, 0x0101
        ret

; =============================================================================
; Data movement: MOVZX/MOVSX, XCHG, XLAT, CMPXCHG, XADD, BSWAP, CMOV
; =============================================================================
test_data:
        mov bl, 0x80
        movzx ax, bl
        CHECKW "movzx ax, byte 80 = 0080", ax, 0x0080
        movsx ax, bl
        CHECKW "movsx ax, byte 80 = FF80", ax, 0xFF80
        mov bx, 0x8000
        movsx eax, bx
        CHECK "movsx eax, word 8000 = FFFF8000", eax, 0xFFFF8000
        mov bx, 0xFFFF
        movzx eax, bx
        CHECK "movzx eax, word FFFF = 0000FFFF", eax, 0x0000FFFF
        movsx eax, byte [cs:rom_byte_7f]
        CHECK "movsx eax, byte [mem] 7F = 7F", eax, 0x7F

        mov ax, 0x1111
        mov bx, 0x2222
        xchg ax, bx             ; the one-byte form 93
        CHECKW "xchg ax, bx: AX", ax, 0x2222
        CHECKW "xchg ax, bx: BX", bx, 0x1111
        mov ax, 0x1234
        xchg al, ah
        CHECKW "xchg al, ah", ax, 0x3412
        mov eax, 0x11111111
        mov edx, 0x22222222
        xchg eax, edx
        CHECK "xchg eax, edx", eax, 0x22222222

        push ds
        mov ax, DATA_SEG
        mov ds, ax
        mov word [0x500], 0xAAAA
        mov cx, 0x5555
        xchg [0x500], cx
        CHECKW "xchg [mem], cx: register", cx, 0xAAAA
        CHECKW "xchg [mem], cx: memory", [0x500], 0x5555

        ; CMPXCHG: if AX = dest then dest = src (ZF=1) else AX = dest (ZF=0).
        mov word [0x502], 5
        mov ax, 5
        mov bx, 9
        cmpxchg [0x502], bx
        FLAGS_TO cx, FL_ZF
        CHECKW "cmpxchg equal: ZF", cx, FL_ZF
        CHECKW "cmpxchg equal: dest = src", [0x502], 9
        mov ax, 5
        cmpxchg [0x502], bx
        FLAGS_TO cx, FL_ZF
        CHECKW "cmpxchg different: ZF clear", cx, 0
        CHECKW "cmpxchg different: AX = dest", ax, 9
        mov eax, 1
        mov ecx, 1
        mov edx, 0xCAFE
        cmpxchg ecx, edx
        CHECK "cmpxchg ecx, edx (register, 32-bit)", ecx, 0xCAFE

        ; XADD: exchange, then add. The old value comes back in the register.
        mov word [0x504], 5
        mov ax, 1
        xadd [0x504], ax
        CHECKW "xadd [mem], ax: memory = 5 + 1", [0x504], 6
        CHECKW "xadd [mem], ax: AX = old memory", ax, 5

        ; CMPXCHG8B: the 64-bit compare-exchange of EDX:EAX with memory.
        mov dword [0x508], 0x11111111
        mov dword [0x50C], 0x22222222
        mov eax, 0x11111111
        mov edx, 0x22222222
        mov ebx, 0x33333333
        mov ecx, 0x44444444
        cmpxchg8b [0x508]
        FLAGS_TO si, FL_ZF
        CHECKW "cmpxchg8b equal: ZF", si, FL_ZF
        CHECK "cmpxchg8b equal: stores ECX:EBX (high)", [0x50C], 0x44444444
        CHECK "cmpxchg8b equal: stores ECX:EBX (low)", [0x508], 0x33333333
        xor eax, eax
        xor edx, edx
        cmpxchg8b [0x508]
        FLAGS_TO si, FL_ZF
        CHECKW "cmpxchg8b different: ZF clear", si, 0
        CHECK "cmpxchg8b different: loads EDX", edx, 0x44444444

        ; Segment registers load from and store to memory too.
        mov word [0x510], 0x1357
        mov fs, [0x510]
        mov [0x512], fs
        mov ax, [0x512]
        push word 0
        pop fs
        CHECKW "mov fs, [mem] / mov [mem], fs", ax, 0x1357
        pop ds

        ; Real mode means CR0.PE = 0 (SMSW reads the low word of CR0).
        smsw ax
        and ax, 1
        CHECKW "smsw: CR0.PE = 0 in real mode", ax, 0
        mov eax, cr0
        and eax, 0x80000001
        CHECK "mov eax, cr0: PE = PG = 0", eax, 0

        mov eax, 0x12345678
        bswap eax
        CHECK "bswap 12345678 = 78563412", eax, 0x78563412

        ; XLAT: AL = [DS:BX + AL], here with a CS: override (the table is in ROM).
        mov bx, hex_digits
        mov ax, 0x000C
        cs xlatb
        CHECKW "cs: xlat looks up the 12th byte", ax, 'C'

        ; CMOVcc (P6): a MOV that happens only when the condition holds.
        mov ax, 1
        mov bx, 2
        mov cx, 3
        cmp ax, bx
        cmovl ax, bx
        cmovg cx, bx
        CHECKW "cmovl moves when less", ax, 2
        CHECKW "cmovg does not move when not greater", cx, 3

        ; IN from the debug console port reads back 0xE9 (Bochs and QEMU do
        ; the same), which lets a guest detect the console.
        xor ax, ax
        in al, DEBUGCON
        CHECKW "in al, 0xE9 reads 0xE9", ax, 0x00E9
        ret

rom_byte_7f:    db 0x7F
hex_digits:     db "0123456789ABCDEF"

; =============================================================================
; LOOP, LOOPE, LOOPNE, JCXZ, JECXZ. The counter is CX, or ECX with a 32-bit
; address size (the 0x67 prefix, or in 32-bit code).
; =============================================================================
test_loops:
        mov cx, 5
        xor dx, dx
.l1:
        inc dx
        loop .l1
        CHECKW "loop 5 times", dx, 5
        CHECKW "loop leaves CX = 0", cx, 0

        ; LOOP decrements first: CX = 0 means 65536 iterations.
        xor cx, cx
        xor ebx, ebx
.l2:
        inc ebx
        loop .l2
        CHECK "loop with CX=0 runs 65536 times", ebx, 0x10000

        ; LOOPE goes on while ZF=1: count the leading 7s of 7,7,7,9,7.
        mov cx, 5
        mov si, sevens
.l3:
        mov al, [cs:si]
        inc si
        cmp al, 7
        loope .l3
        CHECKW "loope stops at the first non-7: CX", cx, 1
        CHECKW "loope stops at the first non-7: SI", si, sevens + 4

        ; LOOPNE goes on while ZF=0: find 3.
        mov cx, 10
        xor si, si
.l4:
        inc si
        cmp si, 3
        loopne .l4
        CHECKW "loopne stops when found: SI", si, 3
        CHECKW "loopne stops when found: CX", cx, 7

        ; JCXZ tests CX only; JECXZ tests all of ECX.
        xor dx, dx
        mov ecx, 0x10000        ; CX = 0, ECX != 0
        jcxz .j1
        jmp .j1n
.j1:
        or dx, 1
.j1n:
        jecxz .j2
        jmp .j2n
.j2:
        or dx, 2
.j2n:
        mov ecx, 1
        jcxz .j3
        jmp .j3n
.j3:
        or dx, 4
.j3n:
        xor ecx, ecx
        jecxz .j4
        jmp .j4n
.j4:
        or dx, 8
.j4n:
        CHECKW "jcxz/jecxz with ECX=10000,10000,1,0", dx, 1001b

        ; With the 0x67 prefix, LOOP counts ECX: 0x10002 iterations, where a
        ; 16-bit LOOP would stop after 2.
        mov ecx, 0x10002
        xor ebx, ebx
.l5:
        inc ebx
        a32 loop .l5
        CHECK "a32 loop counts ECX", ebx, 0x10002
        ret

sevens:         db 7, 7, 7, 9, 7

; =============================================================================
; Processor identification: CPUID and RDTSC (SDM Vol. 2A "CPUID")
; =============================================================================
test_cpuid:
        ; CPUID exists when software can flip EFLAGS.ID (bit 21).
        pushfd
        pop eax
        mov ebx, eax
        xor eax, 1 << 21
        push eax
        popfd
        pushfd
        pop eax
        push ebx
        popfd                   ; put the original flags back
        xor eax, ebx
        CHECK "EFLAGS.ID can be toggled (CPUID present)", eax, 1 << 21

        ; Leaf 0: the highest leaf in EAX, a 12-character vendor name in EBX EDX ECX.
        xor eax, eax
        cpuid
        mov [0x600], ebx
        mov [0x604], edx
        mov [0x608], ecx
        cmp eax, 1
        setae al
        movzx ax, al
        CHECKW "cpuid 0: leaf 1 exists", ax, 1
        ; Count the printable characters of the vendor name.
        xor bx, bx
        xor cx, cx
.vendor:
        mov al, [0x600 + bx]
        cmp al, 0x20
        jb .not_printable
        cmp al, 0x7E
        ja .not_printable
        inc cx
.not_printable:
        inc bx
        cmp bx, 12
        jne .vendor
        CHECKW "cpuid 0: vendor is 12 printable characters", cx, 12

        ; Leaf 1 EDX bit 4: the time-stamp counter.
        mov eax, 1
        cpuid
        and edx, 1 << 4
        CHECK "cpuid 1: EDX.TSC set", edx, 1 << 4

        ; RDTSC counts up.
        rdtsc
        mov esi, eax
        mov edi, edx
        nop
        nop
        rdtsc
        sub eax, esi
        sbb edx, edi            ; EDX:EAX = later - earlier
        setnz bl                ; (ZF from SBB is about EDX only)
        xor bh, bh
        cmp eax, 0
        seta cl
        or bl, cl
        CHECKW "rdtsc: the counter moved forward", bx, 1
        CHECK "rdtsc: and not backwards", edx, 0
        ret

        ROM_END
