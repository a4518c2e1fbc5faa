; =============================================================================
; real.asm — CPU-bound real-mode benchmark (tools/bench)
; =============================================================================
;
; Copies itself to RAM at 1000:0000 and runs ITERATIONS rounds of a loop that
; mixes what real-mode programs do: 16-bit ALU operations, loads and stores
; through [BX], [SI] and absolute addresses, read-modify-write memory operands,
; data-dependent branches, CALL/RET, MUL and DIV, REP MOVSW, REP STOSB, REPE
; CMPSB and single LODSW/STOSW. Then it folds its data into a 32-bit checksum
; and prints "real checksum XXXXXXXX" (see bench.inc).
;
; Memory: code at 1000:0000, data (DS) at 2000:0000, string target (ES) at
; 3000:0000, stack at 9000:FFF0.
; =============================================================================
        bits 16
        org 0
%include "bench.inc"

ITERATIONS      equ 600000

TABLE           equ 0x0000      ; DS: 256 words
COUNT           equ 0x1000      ; DS: dword, rounds left
SEED            equ 0x1004      ; DS: word, the LCG
ACC0            equ 0x1006      ; DS: words, accumulators
ACC1            equ 0x1008
ACC2            equ 0x100A
ACC3            equ 0x100C

start:
        cli
        cld
        mov ax, 0x9000
        mov ss, ax
        mov sp, 0xFFF0
        ; Copy the ROM to RAM and continue there (code runs from RAM, as in a real program).
        mov ax, cs
        mov ds, ax
        mov ax, 0x1000
        mov es, ax
        xor si, si
        xor di, di
        mov cx, 0x8000
        rep movsw
        jmp 0x1000:main

main:
        mov ax, 0x2000
        mov ds, ax
        mov ax, 0x3000
        mov es, ax
        ; The table: 256 words, and a clean string target.
        xor si, si
        mov cx, 256
        mov ax, 0x1234
.init:  mov [si], ax
        add ax, 0x9E37
        add si, 2
        loop .init
        xor di, di
        xor ax, ax
        mov cx, 0x200
        rep stosw
        mov dword [COUNT], ITERATIONS
        mov word [SEED], 0xACE1
        mov word [ACC0], 0
        mov word [ACC1], 0
        mov word [ACC2], 0
        mov word [ACC3], 0

round:
        ; LCG: seed = seed * 25173 + 13849 (MUL: flags other than CF/OF undefined, unused).
        mov ax, [SEED]
        mov cx, 25173
        mul cx
        add ax, 13849
        mov [SEED], ax
        xor [ACC0], dx
        ; A load and a store in the table.
        mov bx, ax
        and bx, 0x1FE
        mov dx, [bx + TABLE]
        add dx, ax
        rol dx, 3
        mov [bx + TABLE], dx
        add [ACC1], dx
        ; A data-dependent branch.
        test al, 0x10
        jz .even
        xor word [ACC1], 0x5A5A
        jmp .joined
.even:  sub word [ACC1], 0x1111
.joined:
        ; A call into a small loop.
        mov si, bx
        call mix
        ; DIV: DX = 0, so the quotient always fits.
        mov ax, [ACC1]
        xor dx, dx
        mov cx, [SEED]
        or cx, 1
        div cx
        add [ACC2], ax
        add [ACC2], dx
        ; REP MOVSW: 16 words from the table to ES, where the seed says.
        mov si, bx
        and si, 0xFE
        mov di, [SEED]
        and di, 0x1E0
        mov cx, 16
        rep movsw
        ; REP STOSB: 24 bytes.
        mov al, [SEED + 1]
        mov di, 0x300
        mov cx, 24
        rep stosb
        ; REPE CMPSB: the words just copied compare equal (stops after 32 bytes).
        sub si, 32
        mov di, [SEED]
        and di, 0x1E0
        mov cx, 32
        repe cmpsb
        adc word [ACC3], cx     ; CF from CMPSB: defined
        ; Single LODSW/STOSW: move 4 words from the table to ES:0x380, adding.
        mov si, bx
        and si, 0xF0
        mov di, 0x380
        mov cx, 4
.copy:  lodsw
        add ax, cx
        stosw
        dec cx
        jnz .copy
        ; Next round.
        dec dword [COUNT]
        jnz round

        ; Checksum: the accumulators, the table and the ES area, as a 32-bit sum of
        ; rotated words.
        xor ebx, ebx
        xor si, si
        mov cx, 256 + 8
.sum1:  movzx eax, word [si]
        rol ebx, 5
        add ebx, eax
        add si, 2
        cmp si, 512
        jne .next1
        mov si, 0x1004          ; after the table, the seed and the accumulators
.next1: loop .sum1
        xor si, si
        mov cx, 0x200
.sum2:  movzx eax, word [es:si]
        rol ebx, 3
        xor ebx, eax
        add si, 2
        loop .sum2

        mov ax, cs
        mov ds, ax
        mov si, msg
        call puts16
        mov cx, 8
.hex:   rol ebx, 4
        mov al, bl
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .digit
        add al, 'A' - '0' - 10
.digit: out DEBUGCON, al
        loop .hex
        mov al, 10
        out DEBUGCON, al
        jmp exit16

; mix: eight rounds over the table words from SI.
mix:
        mov cx, 8
.l:     mov ax, [si]
        add ax, cx
        xor ax, [ACC1]
        shl ax, 1
        adc [ACC3], ax          ; CF from SHL by 1: defined
        add si, 2
        and si, 0x1FE
        loop .l
        ret

puts16:                         ; DS:SI -> debug console, up to the NUL
        lodsb
        test al, al
        jz .done
        out DEBUGCON, al
        jmp puts16
.done:  ret

exit16:
        mov al, 0
        out EXIT_PORT, al
        mov ax, cs
        mov ds, ax
        mov si, shutdown
        mov dx, BOCHS_SHUTDOWN
.next:  lodsb
        test al, al
        jz .halt
        out dx, al
        jmp .next
.halt:  cli
        hlt
        jmp .halt

msg:      db "real checksum ", 0
shutdown: db "Shutdown", 0

        BENCH_END
