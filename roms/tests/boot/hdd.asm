; hdd.asm — a 2 MiB hard disk image that boots and tests the BIOS's fixed disk services: CHS
; reads and writes (AH=02h/03h/04h), drive parameters (08h, 15h) and the EDD extensions
; (41h, 42h, 43h, 48h).
;
; Built by tools/build-roms into hdd.bin (2,097,152 bytes = 4096 sectors). An ATA drive of
; this size reports the default geometry 4 cylinders x 16 heads x 63 sectors (4032 sectors; ATA
; IDENTIFY words 1/3/6), which INT 13h shows as it is; the last 64 sectors are reachable only
; through LBA (AH=42h). LBA 0 is the boot sector (no partition table: a "superfloppy"), LBA 1-7
; the second stage, LBA 8-4095 tagged sectors (bootlib.inc).
; Run it:   x86lab run roms/tests/boot/hdd.bin --headless      (exit status 1 = all passed)
;           qemu-system-i386 -hda hdd.bin -debugcon stdio -device isa-debug-exit,iobase=0xf4
; The writes change the image: run a copy.

    cpu 386
    bits 16
    org 7C00h

%include "bootmac.inc"
%include "bootsect.inc"

BUF     equ 9000h
BUF2    equ 0A000h
SECTORS equ 4096

; ---------------------------------------------------------------------------------------------
; Boot sector (LBA 0)
; ---------------------------------------------------------------------------------------------
    BOOT_SECTOR 7, 1, "hard disk boot sector running"

; ---------------------------------------------------------------------------------------------
; Stage 2
; ---------------------------------------------------------------------------------------------
stage2:
    mov si, msg_stage2
    call puts

    movzx ax, byte [boot_drive]
    CHECK "booted with DL = 80h", 0080h

    mov ah, 08h
    mov dl, 80h
    int 13h
    push ds
    pop es
    push cx
    push dx
    call status
    CHECK "AH=08h succeeds", 0000h
    pop dx
    movzx ax, dh
    CHECK "AH=08h last head 15", 15
    movzx ax, dl
    CHECK "AH=08h one hard disk", 1
    pop cx
    mov ax, cx
    and ax, 3Fh
    CHECK "AH=08h 63 sectors per track", 63

    mov ah, 15h
    mov dl, 80h
    int 13h
    push dx
    push cx
    call status
    CHECK "AH=15h: a fixed disk (03h)", 0003h
    pop ax
    CHECK "AH=15h: CX = high word of the sector count", 0
    pop ax
    cmp ax, 3 * 16 * 63         ; 4 x 16 x 63 = 4032 here (a BIOS may keep the last cylinder)
    mov ax, 0
    jae .count_ok
    mov ax, 1
.count_ok:
    CHECK "AH=15h: DX = at least 3 cylinders of sectors", 0

    mov ah, 41h
    mov bx, 55AAh
    mov dl, 80h
    int 13h
    push cx
    push bx
    mov ax, 0
    adc ax, 0
    CHECK "AH=41h: EDD present (CF=0)", 0
    pop ax
    CHECK "AH=41h: BX = AA55h", 0AA55h
    pop ax
    and ax, 1
    CHECK "AH=41h: CX bit 0 (functions 42h-48h)", 1

    ; AH=48h
    mov word [BUF], 1Ah
    mov si, BUF
    mov ah, 48h
    mov dl, 80h
    int 13h
    call status
    CHECK "AH=48h succeeds", 0000h
    mov ax, [BUF + 10h]
    CHECK "AH=48h: 4096 sectors", SECTORS
    mov ax, [BUF + 18h]
    CHECK "AH=48h: 512 bytes per sector", 512

    ; CHS: one sector, then 8 across a head (sectors 60-63 of head 0, 1-4 of head 1)
    mov ax, 0201h
    mov cx, 0009h
    xor dh, dh
    mov dl, 80h
    mov bx, BUF
    int 13h
    call status
    CHECK "read CHS 0/0/9", 0000h
    mov ax, [BUF]
    CHECK "read CHS 0/0/9: it is LBA 8", 8
    mov ax, 0208h
    mov cx, 003Ch
    xor dh, dh
    mov dl, 80h
    mov bx, BUF
    int 13h
    push ax
    call status
    CHECK "read 8 sectors from CHS 0/0/60", 0000h
    pop ax
    xor ah, ah
    CHECK "read 8 sectors: AL = 8", 8
    mov ax, 59
    mov cx, 8
    mov si, BUF
    call count_tags
    CHECK "read 8 sectors: LBA 59-66", 0
    ; the last CHS sector: cylinder 3, head 15, sector 63 = LBA 4031
    mov ax, 0201h
    mov cx, 033Fh
    mov dh, 15
    mov dl, 80h
    mov bx, BUF
    int 13h
    call status
    CHECK "read CHS 3/15/63", 0000h
    mov ax, [BUF]
    CHECK "read CHS 3/15/63: it is LBA 4031", 4031
    mov ax, 0201h
    mov cx, 0401h               ; cylinder 4 does not exist
    xor dh, dh
    mov dl, 80h
    mov bx, BUF
    int 13h
    mov ax, 0
    adc ax, 0
    CHECK "read CHS 4/0/1 fails (CF)", 1

    ; EDD read beyond the CHS geometry
    mov dword [dap + 8], SECTORS - 1
    mov word [dap + 2], 1
    mov word [dap + 4], BUF
    mov word [dap + 6], 0
    mov si, dap
    mov ah, 42h
    mov dl, 80h
    int 13h
    call status
    CHECK "AH=42h read LBA 4095", 0000h
    mov ax, [BUF]
    CHECK "AH=42h read LBA 4095: it is", SECTORS - 1
    ; 40 sectors to a buffer that crosses a 64 KiB boundary (1000:F000h)
    mov dword [dap + 8], 100
    mov word [dap + 2], 40
    mov word [dap + 4], 0F000h
    mov word [dap + 6], 1000h
    mov si, dap
    mov ah, 42h
    mov dl, 80h
    int 13h
    call status
    CHECK "AH=42h read 40 sectors across 64 KiB", 0000h
    mov ax, [dap + 2]
    CHECK "AH=42h: 40 sectors done", 40
    push ds
    mov ax, 1000h + 0F000h / 16 + 39 * 512 / 16
    mov ds, ax
    mov ax, [0]
    pop ds
    CHECK "AH=42h: the 40th sector is LBA 139", 139
    mov dword [dap + 8], SECTORS
    mov word [dap + 2], 1
    mov word [dap + 4], BUF
    mov word [dap + 6], 0
    mov si, dap
    mov ah, 42h
    mov dl, 80h
    int 13h
    mov ax, 0
    adc ax, 0
    CHECK "AH=42h read LBA 4096 fails (CF)", 1

    ; write with AH=43h, read back with AH=02h
    mov di, BUF
    mov cx, 256
    mov ax, 0C33Ch
    rep stosw
    mov word [BUF], 0FACEh
    mov dword [dap + 8], 3000
    mov word [dap + 2], 1
    mov word [dap + 4], BUF
    mov word [dap + 6], 0
    mov si, dap
    mov ax, 4300h
    mov dl, 80h
    int 13h
    call status
    CHECK "AH=43h write LBA 3000", 0000h
    ; LBA 3000 = cylinder 2 (2016), + 984 = head 15 (945), + 39: sector 40
    mov ax, 0201h
    mov cx, 0228h
    mov dh, 15
    mov dl, 80h
    mov bx, BUF2
    int 13h
    call status
    CHECK "read back CHS 2/15/40", 0000h
    mov si, BUF
    mov di, BUF2
    mov cx, 256
    repe cmpsw
    mov ax, cx
    CHECK "read back: same 512 bytes", 0
    ; AH=03h write, AH=04h verify
    mov ax, 0301h
    mov cx, 0101h               ; cylinder 1, head 0, sector 1 = LBA 1008
    xor dh, dh
    mov dl, 80h
    mov bx, BUF
    int 13h
    call status
    CHECK "AH=03h write CHS 1/0/1", 0000h
    mov dword [dap + 8], 1008
    mov word [dap + 2], 1
    mov word [dap + 4], BUF2
    mov word [dap + 6], 0
    mov si, dap
    mov ah, 42h
    mov dl, 80h
    int 13h
    mov ax, [BUF2]
    CHECK "read back LBA 1008 with AH=42h", 0FACEh
    mov ax, 0404h
    mov cx, 0101h
    xor dh, dh
    mov dl, 80h
    int 13h
    call status
    CHECK "AH=04h verify 4 sectors", 0000h

    mov ah, 41h                 ; a disk that is not there
    mov bx, 55AAh
    mov dl, 81h
    int 13h
    mov ax, 0
    adc ax, 0
    CHECK "AH=41h on drive 81h fails (CF)", 1

    call system_checks
    mov si, msg_name
    jmp finish

%include "disklib.inc"

dap:                            ; EDD disk address packet
    db 10h, 0
    dw 0                        ; sectors
    dw 0, 0                     ; buffer offset, segment
    dq 0                        ; LBA

%include "syschecks.inc"
%include "bootlib.inc"

msg_stage2: db "x86lab boot test: hard disk (stage 2 loaded)", 10, 0
msg_name: db "boot-hdd", 0

    times 8 * 512 - ($ - $$) db 0
    TAGGED_SECTORS 8, SECTORS
