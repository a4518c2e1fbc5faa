; =============================================================================
; strings.asm — string instructions, REP prefixes and the direction flag
; =============================================================================
;
; The string instructions work on DS:SI (source) and ES:DI (destination) and
; step SI/DI by the element size after each element: forward when DF = 0
; (CLD), backward when DF = 1 (STD). With a REP prefix they repeat CX times;
; REPE/REPNE also stop early on the ZF that CMPS/SCAS just computed.
;
;   MOVS  [ES:DI] <- [DS:SI]        CMPS  flags of [DS:SI] - [ES:DI]
;   STOS  [ES:DI] <- AL/AX/EAX      SCAS  flags of AL/AX/EAX - [ES:DI]
;   LODS  AL/AX/EAX <- [DS:SI]      INS/OUTS  port DX <-> memory
;
; Only the source segment can be overridden (CS: REP MOVSB reads from the ROM);
; the destination is always ES. With the 0x67 prefix the instructions use ESI,
; EDI and ECX instead of SI, DI and CX (SDM Vol. 1 §7.3.9, Vol. 2B "REP").
;
; Build: nasm -f bin -I roms/tests/ -o roms/tests/strings.bin roms/tests/strings.asm
; =============================================================================

%define ROM_NAME "strings"
%include "harness.inc"

; Scratch buffers in DATA_SEG.
BUF_A   equ 0x0000
BUF_B   equ 0x0100
BUF_C   equ 0x0200

tests:
        mov ax, DATA_SEG
        mov es, ax
        call test_movs
        call test_stos_lods
        call test_backward
        call test_cmps_scas
        call test_address_size
        call test_io
        xor ax, ax
        mov es, ax
        mov ds, ax
        cld
        ret

; count_equal: AX <- how many of the CX bytes at CS:SI and ES:DI are equal.
; A plain loop, so that the checks do not trust the instructions under test.
count_equal:
        push bx
        push cx
        push si
        push di
        xor ax, ax
.next:
        mov bl, [cs:si]
        cmp bl, [es:di]
        jne .differs
        inc ax
.differs:
        inc si
        inc di
        dec cx
        jnz .next
        pop di
        pop si
        pop cx
        pop bx
        ret

; =============================================================================
test_movs:
        ; CS: REP MOVSB copies "hello world" from the ROM to ES:BUF_A.
        mov si, hello
        mov di, BUF_A
        mov cx, hello_len
        cs rep movsb
        CHECKW "rep movsb: CX counts down to 0", cx, 0
        CHECKW "rep movsb: SI advanced by the count", si, hello + hello_len
        CHECKW "rep movsb: DI advanced by the count", di, BUF_A + hello_len
        mov si, hello
        mov di, BUF_A
        mov cx, hello_len
        call count_equal
        CHECKW "rep movsb: all bytes copied", ax, hello_len

        ; REP MOVSW moves words: SI and DI step by 2.
        mov si, words
        mov di, BUF_B
        mov cx, 4
        cs rep movsw
        CHECKW "rep movsw: DI advanced by 8", di, BUF_B + 8
        CHECK "rep movsw: first two words", [es:BUF_B], 0x22221111
        CHECK "rep movsw: last two words", [es:BUF_B + 4], 0x44443333

        ; MOVSD (0x66 prefix in 16-bit code): dwords, steps of 4.
        mov si, words
        mov di, BUF_C
        mov cx, 2
        cs rep movsd
        CHECKW "rep movsd: DI advanced by 8", di, BUF_C + 8
        CHECK "rep movsd: second dword", [es:BUF_C + 4], 0x44443333

        ; A REP with CX = 0 does nothing at all, not even change the flags.
        mov ax, 1
        cmp ax, 1               ; ZF = 1
        xor cx, cx
        mov di, BUF_A
        mov al, 'z'
        repne scasb             ; would clear ZF on the first mismatch
        FLAGS_TO bx, FL_ZF
        CHECKW "rep with CX=0: no iteration (DI kept)", di, BUF_A
        CHECKW "rep with CX=0: flags kept", bx, FL_ZF

        ; Without REP, one element per instruction.
        mov si, hello
        mov di, BUF_C
        cs movsb
        cs movsb
        CHECKW "movsb twice: SI", si, hello + 2
        CHECKW "movsb twice: copied 'he'", [es:BUF_C], 'he'

        ; The destination segment cannot be overridden: FS STOSB still writes
        ; ES:DI (the prefix is ignored).
        mov ax, 0x0300
        mov fs, ax              ; FS:BUF_A would be physical 0x3000
        mov di, BUF_A
        mov al, '#'
        fs stosb
        xor ax, ax
        mov fs, ax
        CHECKW "fs stosb still writes ES:DI", [es:BUF_A], '#e'
        ret

hello:          db "hello world"
hello_len       equ $ - hello
there:          db "hello there"
words:          dw 0x1111, 0x2222, 0x3333, 0x4444

; =============================================================================
test_stos_lods:
        mov di, BUF_A
        mov cx, 16
        mov al, 0xAA
        rep stosb
        CHECKW "rep stosb: DI", di, BUF_A + 16
        CHECK "rep stosb: bytes 0-3 filled", [es:BUF_A], 0xAAAAAAAA
        CHECK "rep stosb: bytes 12-15 filled", [es:BUF_A + 12], 0xAAAAAAAA
        mov byte [es:BUF_A + 16], 0x55   ; the byte after must stay
        mov di, BUF_A
        mov cx, 8
        mov ax, 0x1234
        rep stosw
        CHECK "rep stosw: words filled", [es:BUF_A + 12], 0x12341234
        CHECKW "rep stosw: byte after the fill untouched", [es:BUF_A + 16], 0x55
        mov di, BUF_A
        mov cx, 2
        mov eax, 0xDEADBEEF
        rep stosd
        CHECKW "rep stosd: DI", di, BUF_A + 8
        CHECK "rep stosd: dwords filled", [es:BUF_A + 4], 0xDEADBEEF

        ; LODSB loop: sum the bytes of "hello world".
        push ds
        push cs
        pop ds                  ; DS = CS: the ROM is the source
        mov si, hello
        mov cx, hello_len
        xor bx, bx
        xor ah, ah
.sum:
        lodsb
        add bx, ax
        loop .sum
        CHECKW "lodsb loop sums 'hello world'", bx, 1116
        mov si, words
        lodsw
        CHECKW "lodsw", ax, 0x1111
        lodsd
        CHECK "lodsd", eax, 0x33332222
        ; REP LODSB is legal, if useless: AL ends with the last byte.
        mov si, hello
        mov cx, hello_len
        xor ax, ax
        rep lodsb
        CHECKW "rep lodsb leaves the last byte in AL", ax, 'd'
        ; ES: LODSB reads from ES instead of DS.
        mov byte [es:BUF_C], 0x77
        mov si, BUF_C
        xor ax, ax
        es lodsb
        CHECKW "es: lodsb reads ES:SI", ax, 0x77
        pop ds
        ret

; =============================================================================
; DF = 1: the string instructions walk downwards. That is how memmove copies
; an overlapping block to a higher address without overwriting its source.
; =============================================================================
test_backward:
        push ds
        mov ax, DATA_SEG
        mov ds, ax
        mov dword [BUF_B], 'ABCD'
        mov dword [BUF_B + 4], 'EFGH'
        ; Move the 6 bytes at BUF_B to BUF_B+2: start at the last byte.
        mov si, BUF_B + 5
        mov di, BUF_B + 7
        mov cx, 6
        std
        rep movsb
        cld
        CHECK "std; rep movsb: overlapping move, bytes 0-3", [BUF_B], 'ABAB'
        CHECK "std; rep movsb: overlapping move, bytes 4-7", [BUF_B + 4], 'CDEF'
        CHECKW "std; rep movsb: SI ends below the block", si, BUF_B - 1
        CHECKW "std; rep movsb: DI ends below the block", di, BUF_B + 1

        mov di, BUF_C + 6
        mov cx, 4
        mov ax, 0x5151
        std
        rep stosw               ; words at +6, +4, +2, +0
        cld
        CHECKW "std; rep stosw: DI steps down by 2", di, BUF_C - 2
        CHECK "std; rep stosw: filled downwards", [BUF_C], 0x51515151

        std
        mov si, BUF_B + 3
        lodsb
        cld
        CHECKW "std; lodsb: SI decremented", si, BUF_B + 2
        pop ds
        ret

; =============================================================================
; CMPS and SCAS with REPE/REPNE: memcmp and memchr in one instruction.
; =============================================================================
test_cmps_scas:
        ; Put "hello there" at ES:BUF_A, then compare with CS:"hello world".
        mov si, there
        mov di, BUF_A
        mov cx, hello_len
        cs rep movsb
        mov si, hello
        mov di, BUF_A
        mov cx, hello_len
        cs repe cmpsb           ; stops after the first difference ('w' vs 't')
        FLAGS_TO bx, FL_ZF | FL_CF
        CHECKW "repe cmpsb: stops after the first difference, CX", cx, 4
        CHECKW "repe cmpsb: SI is one past the difference", si, hello + 7
        CHECKW "repe cmpsb: DI is one past the difference", di, BUF_A + 7
        CHECKW "repe cmpsb: 'w' > 't': ZF and CF clear", bx, 0

        mov si, hello
        mov di, BUF_A
        mov cx, 5               ; "hello" is the same in both
        cs repe cmpsb
        FLAGS_TO bx, FL_ZF
        CHECKW "repe cmpsb over equal bytes: CX = 0", cx, 0
        CHECKW "repe cmpsb over equal bytes: ZF", bx, FL_ZF

        ; REPNE CMPSB finds the first position where the strings agree.
        mov si, there + 1       ; "ello there"
        mov di, BUF_A           ; "hello there"
        mov cx, 10
        cs repne cmpsb          ; 'e'/'h' differ, 'l'/'e' differ, 'l'/'l' agree
        FLAGS_TO bx, FL_ZF
        CHECKW "repne cmpsb runs to the first equal pair", cx, 10 - 3
        CHECKW "repne cmpsb: ZF set when it found one", bx, FL_ZF

        ; REPNE SCASB: find 'o' in "hello there".
        mov di, BUF_A
        mov cx, hello_len
        mov al, 'o'
        repne scasb
        FLAGS_TO bx, FL_ZF
        CHECKW "repne scasb finds 'o': DI one past it", di, BUF_A + 5
        CHECKW "repne scasb finds 'o': CX", cx, hello_len - 5
        CHECKW "repne scasb finds 'o': ZF", bx, FL_ZF
        mov di, BUF_A
        mov cx, hello_len
        mov al, 'z'
        repne scasb
        FLAGS_TO bx, FL_ZF
        CHECKW "repne scasb, no 'z': CX = 0", cx, 0
        CHECKW "repne scasb, no 'z': ZF clear", bx, 0
        CHECKW "repne scasb, no 'z': DI at the end", di, BUF_A + hello_len

        ; REPE SCASW: skip leading words equal to AX.
        mov word [es:BUF_C], 0x5151
        mov word [es:BUF_C + 2], 0x5151
        mov word [es:BUF_C + 4], 0x0001
        mov di, BUF_C
        mov cx, 3
        mov ax, 0x5151
        repe scasw
        CHECKW "repe scasw stops at the third word", di, BUF_C + 6
        ; SCAS sets the flags of AX - [ES:DI], signed compare included.
        mov di, BUF_C + 4
        mov ax, -1
        scasw                   ; -1 - 1
        mov dx, 0
        jnl .not_less
        mov dx, 1
.not_less:
        CHECKW "scasw: -1 < 1 (signed, JL)", dx, 1
        mov di, BUF_C
        mov eax, 0x51515151
        scasd
        FLAGS_TO bx, FL_ZF
        CHECKW "scasd: equal dword sets ZF", bx, FL_ZF
        ret

; =============================================================================
; Address size: 16-bit string instructions wrap SI/DI at 64 KiB and leave the
; top halves of ESI/EDI/ECX alone; with 0x67 they use the full registers.
; =============================================================================
test_address_size:
        push ds
        mov ax, DATA_SEG
        mov ds, ax
        mov esi, 0x1234FFFE     ; SI = FFFE: the copy wraps to 0000, 0001
        mov edi, 0x5678_0200
        mov ecx, 0x0001_0004    ; CX = 4
        rep movsb
        CHECK "rep movsb (a16): ESI top half kept, SI wrapped", esi, 0x12340002
        CHECK "rep movsb (a16): EDI top half kept", edi, 0x56780204
        CHECK "rep movsb (a16): only CX counted", ecx, 0x00010000

        mov esi, 0x20
        mov edi, 0x30
        mov ecx, 4
        a32 rep movsb           ; 67 F3 A4: ESI, EDI, ECX
        CHECK "a32 rep movsb: ESI", esi, 0x24
        CHECK "a32 rep movsb: EDI", edi, 0x34
        CHECK "a32 rep movsb: ECX", ecx, 0

        ; A 16-bit REP counts CX only: ECX = 0x10002 means 2 here...
        mov edi, 0x40
        mov ecx, 0x10002
        mov al, 0
        rep stosb
        CHECK "rep stosb (a16) with ECX=10002 stores 2 bytes", edi, 0x42
        ; ...and all of ECX with 0x67 (here 0x102 bytes, still within the limit).
        mov edi, 0x40
        mov ecx, 0x102
        a32 rep stosb
        CHECK "a32 rep stosb with ECX=102 stores 102 bytes", edi, 0x142
        pop ds
        ret

; =============================================================================
; INS and OUTS move between memory and an I/O port (DX).
; =============================================================================
test_io:
        mov dx, DEBUGCON
        mov di, BUF_C
        mov cx, 4
        rep insb                ; reading the debug console port gives 0xE9
        CHECK "rep insb from port E9", [es:BUF_C], 0xE9E9E9E9
        CHECKW "rep insb: DI advanced", di, BUF_C + 4

        push ds
        push cs
        pop ds
        mov dx, 0x80            ; port 80h: POST codes (on a PC, a spare DMA page register)
        mov si, hello
        mov cx, hello_len
        rep outsb
        pop ds
        CHECKW "rep outsb to port 80: SI advanced", si, hello + hello_len
        CHECKW "rep outsb: CX = 0", cx, 0
        ret

        ROM_END
