; =============================================================================
; scalar.asm — paged.asm without its REP string instructions (tools/bench)
; =============================================================================
;
; The same machine set-up and loop as paged.asm (32-bit protected mode, paging,
; data at linear 0x00800000 mapped to physical 0x00300000), with the REP MOVSD,
; REP STOSB and REPE CMPSB block taken out of the loop and more rounds, so that
; every instruction is a short one: ALU operations, loads and stores,
; read-modify-write memory operands, branches, CALL/RET, MUL, DIV and single
; LODSD/STOSD. An emulator that does REP string instructions in bulk gains
; nothing here: this guest measures the cost of interpreting one ordinary
; instruction. It prints "scalar checksum XXXXXXXX".
; =============================================================================
        bits 16
        org 0
%include "bench.inc"

ITERATIONS      equ 1500000

PM_BASE         equ 0x20000     ; where the 32-bit part runs (physical = linear)
PAGE_DIR        equ 0x10000
PT_LOW          equ 0x11000     ; maps linear 0..4 MiB to itself
PT_DATA         equ 0x12000     ; maps linear 8..12 MiB to physical 3..7 MiB
DATA            equ 0x00800000  ; linear address of the data
DATA_PHYS       equ 0x00300000
STACK_TOP       equ 0x9FFF0

TABLE           equ DATA            ; 1024 dwords
STRBUF          equ DATA + 0x2000   ; string target, 0x1000 bytes
COUNT           equ DATA + 0x3000   ; dword, rounds left
SEED            equ DATA + 0x3004
ACC0            equ DATA + 0x3008
ACC1            equ DATA + 0x300C
ACC2            equ DATA + 0x3010
ACC3            equ DATA + 0x3014

start:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        ; Copy the 32-bit part from the ROM to PM_BASE.
        mov ax, cs
        mov ds, ax
        mov ax, PM_BASE >> 4
        mov es, ax
        mov si, section.pm.start
        xor di, di
        mov cx, pm_size
        rep movsb
        ; Page directory and tables, built with 32-bit stores through ES.
        mov ax, PAGE_DIR >> 4
        mov es, ax
        xor di, di
        xor eax, eax
        mov cx, 3 * 1024        ; clear directory + 2 tables
        rep stosd
        mov dword [es:0], PT_LOW | 3                    ; PDE 0: linear 0..4 MiB
        mov dword [es:(DATA >> 22) * 4], PT_DATA | 3    ; PDE 2: linear 8..12 MiB
        mov di, PT_LOW - PAGE_DIR
        mov eax, 3
        mov cx, 1024
.low:   stosd                   ; PTE: identity, present + writable
        add eax, 0x1000
        loop .low
        mov di, PT_DATA - PAGE_DIR
        mov eax, DATA_PHYS | 3
        mov cx, 1024
.data:  stosd
        add eax, 0x1000
        loop .data
        ; Protected mode, then paging (SDM Vol. 3A §9.9.1, §9.8).
        o32 lgdt [cs:gdt_desc]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp dword 0x08:PM_BASE

gdt:    dq 0
        dq 0x00CF9A000000FFFF   ; 0x08: code, base 0, 4 GiB, 32-bit
        dq 0x00CF92000000FFFF   ; 0x10: data, base 0, 4 GiB, 32-bit
gdt_desc:
        dw gdt_desc - gdt - 1
        dd 0xF0000 + gdt

        section pm follows=.text vstart=PM_BASE
        bits 32
pm_start:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, STACK_TOP
        mov eax, PAGE_DIR
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .paged
.paged:
        ; The table: 1024 dwords, and a clean string target.
        mov edi, TABLE
        mov ecx, 1024
        mov eax, 0x12345678
.init:  stosd
        add eax, 0x9E3779B9
        loop .init
        mov edi, STRBUF
        xor eax, eax
        mov ecx, 0x400
        rep stosd
        mov dword [COUNT], ITERATIONS
        mov dword [SEED], 0xACE1ACE1
        mov dword [ACC0], 0
        mov dword [ACC1], 0
        mov dword [ACC2], 0
        mov dword [ACC3], 0

round:
        ; LCG: seed = seed * 1664525 + 1013904223 (MUL: only CF/OF defined, unused).
        mov eax, [SEED]
        mov ecx, 1664525
        mul ecx
        add eax, 1013904223
        mov [SEED], eax
        xor [ACC0], edx
        ; A load and a store in the table.
        mov ebx, eax
        shr ebx, 22             ; index 0..1023
        mov edx, [TABLE + ebx*4]
        add edx, eax
        rol edx, 7
        mov [TABLE + ebx*4], edx
        add [ACC1], edx
        ; A data-dependent branch.
        test eax, 0x10000
        jz .even
        xor dword [ACC1], 0x5A5A5A5A
        jmp .joined
.even:  sub dword [ACC1], 0x11111111
.joined:
        ; A call into a small loop.
        lea esi, [TABLE + ebx*4]
        call mix
        ; DIV: EDX = 0, so the quotient always fits.
        mov eax, [ACC1]
        xor edx, edx
        mov ecx, [SEED]
        or ecx, 1
        div ecx
        add [ACC2], eax
        add [ACC2], edx
        ; Single LODSD/STOSD: 4 dwords from the table to STRBUF + 0xF80, adding.
        mov esi, ebx
        and esi, 0x3F0
        lea esi, [TABLE + esi*4]
        mov edi, STRBUF + 0xF80
        mov ecx, 4
.copy:  lodsd
        add eax, ecx
        stosd
        dec ecx
        jnz .copy
        ; Next round.
        dec dword [COUNT]
        jnz round

        ; Checksum: the seed and accumulators, the table and the string buffer.
        xor ebx, ebx
        mov esi, SEED
        mov ecx, 5
.sum0:  lodsd
        rol ebx, 5
        add ebx, eax
        loop .sum0
        mov esi, TABLE
        mov ecx, 1024
.sum1:  lodsd
        rol ebx, 5
        add ebx, eax
        loop .sum1
        mov esi, STRBUF
        mov ecx, 0x400
.sum2:  lodsd
        rol ebx, 3
        xor ebx, eax
        loop .sum2

        mov esi, msg
        call puts32
        mov ecx, 8
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
        mov al, 0
        out EXIT_PORT, al
        mov esi, shutdown
        mov dx, BOCHS_SHUTDOWN
        call outs32
.halt:  cli
        hlt
        jmp .halt

; mix: eight rounds over the table dwords from ESI (wrapping in the table).
mix:
        mov ecx, 8
.l:     mov eax, [esi]
        add eax, ecx
        xor eax, [ACC1]
        shl eax, 1
        adc [ACC3], eax         ; CF from SHL by 1: defined
        add esi, 4
        and esi, TABLE | 0xFFC
        loop .l
        ret

puts32:                         ; ESI -> debug console, up to the NUL
        mov dx, DEBUGCON
outs32:                         ; ESI -> port DX, up to the NUL
        lodsb
        test al, al
        jz .done
        out dx, al
        jmp outs32
.done:  ret

msg:      db "scalar checksum ", 0
shutdown: db "Shutdown", 0
pm_end:

pm_size equ pm_end - pm_start

        ; The reset vector, at F000:FFF0 (the gap before it is padding).
        section reset start=0xFFF0 vstart=0xFFF0
        bits 16
        jmp 0xF000:start
        times 16 - ($ - $$) db 0xFF
