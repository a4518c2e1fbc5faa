; floppy.asm — a 1.44 MB floppy image that boots and tests the BIOS's diskette and system services.
;
; Built by tools/build-roms into floppy.bin (1,474,560 bytes: 80 cylinders, 2 heads, 18 sectors).
; LBA 0 is the boot sector, LBA 1-7 the second stage, LBA 8-2879 tagged sectors (bootlib.inc).
; Run it:   x86lab run roms/tests/boot/floppy.bin --headless      (exit status 1 = all passed)
;           qemu-system-i386 -fda floppy.bin -debugcon stdio -device isa-debug-exit,iobase=0xf4
; CHS of LBA n on this medium: cylinder n / 36, head (n / 18) mod 2, sector n mod 18 + 1.
; The checks expect an x86lab-like machine: 32 MiB of RAM or more and one 1.44 MB drive.

    cpu 386
    bits 16
    org 7C00h

%include "bootmac.inc"
%include "bootsect.inc"

BUF     equ 9000h               ; 0000:9000h, sector buffers
BUF2    equ 0A000h

; ---------------------------------------------------------------------------------------------
; Boot sector (LBA 0)
; ---------------------------------------------------------------------------------------------
    BOOT_SECTOR 7, 3, "floppy boot sector running"

; ---------------------------------------------------------------------------------------------
; Stage 2 (LBA 1-7)
; ---------------------------------------------------------------------------------------------
stage2:
    mov si, msg_stage2
    call puts

    movzx ax, byte [boot_drive]
    CHECK "booted with DL = 00h", 0000h

    ; AH=08h: drive parameters of a 1.44 MB drive
    mov ah, 08h
    mov dl, 00h
    int 13h
    push ds
    pop es                      ; AH=08h returned ES:DI = the parameter table
    push cx
    push dx
    push bx
    call status
    CHECK "AH=08h succeeds", 0000h
    pop bx
    movzx ax, bl
    CHECK "AH=08h drive type 4 (1.44 MB)", 0004h
    pop dx
    movzx ax, dh
    CHECK "AH=08h last head 1", 0001h
    movzx ax, dl
    CHECK "AH=08h one drive", 0001h
    pop cx
    mov ax, cx
    CHECK "AH=08h CX: last cylinder 79, 18 sectors", 4F12h

    ; one sector
    mov ax, 0201h
    mov cx, 0009h               ; LBA 8: cylinder 0, head 0, sector 9
    xor dh, dh
    mov bx, BUF
    mov dl, 00h
    int 13h
    push ax
    call status
    CHECK "read CHS 0/0/9", 0000h
    pop ax
    xor ah, ah
    CHECK "read CHS 0/0/9: AL = 1 sector", 0001h
    mov ax, [BUF]
    CHECK "read CHS 0/0/9: it is LBA 8", 8
    mov ax, [BUF + 510]
    CHECK "read CHS 0/0/9: last word", ~8 & 0FFFFh

    ; ten sectors from head 0 sector 10 onto head 1 (multi-track)
    mov ax, 020Ah
    mov cx, 000Ah
    xor dh, dh
    mov bx, BUF
    mov dl, 00h
    int 13h
    call status
    CHECK "read 10 sectors CHS 0/0/10 (onto head 1)", 0000h
    mov ax, 9
    mov cx, 10
    mov si, BUF
    call count_tags
    CHECK "read 10 sectors: LBA 9-18 in order", 0

    ; further out: cylinder 40, head 1, sector 18 = LBA 1475
    mov ax, 0201h
    mov cx, 2812h
    mov dh, 1
    mov bx, BUF
    mov dl, 00h
    int 13h
    call status
    CHECK "read CHS 40/1/18", 0000h
    mov ax, [BUF]
    CHECK "read CHS 40/1/18: it is LBA 1475", 1475

    ; write, then read back: LBA 2000 = cylinder 55, head 1, sector 3
    mov di, BUF
    mov cx, 256
    mov ax, 5AA5h
    rep stosw
    mov word [BUF], 0BEEFh
    mov ax, 0301h
    mov cx, 3703h
    mov dh, 1
    mov bx, BUF
    mov dl, 00h
    int 13h
    call status
    CHECK "write CHS 55/1/3", 0000h
    mov ax, 0201h
    mov cx, 3703h
    mov dh, 1
    mov bx, BUF2
    mov dl, 00h
    int 13h
    call status
    CHECK "read back CHS 55/1/3", 0000h
    mov si, BUF
    mov di, BUF2
    mov cx, 256
    repe cmpsw
    mov ax, cx
    CHECK "read back CHS 55/1/3: same 512 bytes", 0

    ; verify
    mov ax, 0402h
    mov cx, 0001h
    xor dh, dh
    mov dl, 00h
    int 13h
    call status
    CHECK "verify 2 sectors", 0000h

    ; errors
    push es
    mov ax, 1000h
    mov es, ax
    mov bx, 0FF00h              ; 1FF00h + 512 crosses the 64 KiB boundary at 20000h
    mov ax, 0201h
    mov cx, 0001h
    xor dh, dh
    mov dl, 00h
    int 13h
    pop es
    call status
    CHECK "a buffer across 64 KiB fails with 09h", 0109h
    mov ax, 0201h
    mov cx, 0000h               ; sector 0 does not exist
    xor dh, dh
    mov bx, BUF
    mov dl, 00h
    int 13h
    call status
    CHECK "sector 0 fails with 01h", 0101h
    mov ah, 01h
    int 13h
    movzx ax, ah
    CHECK "AH=01h: the last status", 0001h
    mov ax, 0201h
    mov cx, 0013h               ; sector 19 of an 18-sector track
    xor dh, dh
    mov bx, BUF
    mov dl, 00h
    int 13h
    mov ax, 0
    adc ax, 0
    CHECK "sector 19 fails (CF)", 1

    mov ah, 15h
    mov dl, 0
    int 13h
    mov al, ah
    xor ah, ah
    cmp al, 1                   ; 01h: a drive without, 02h: with change line
    je .type_ok
    cmp al, 2
    je .type_ok
    mov ah, 1
.type_ok:
    mov al, 0
    CHECK "AH=15h: drive A: is a diskette drive", 0
    mov ah, 15h
    mov dl, 1
    int 13h
    mov al, ah
    mov ah, 0
    jc .b_ok                    ; an error, or ...
    test al, al                 ; ... 00h: no such drive
    jz .b_ok
    mov ah, 1
.b_ok:
    mov al, 0
    CHECK "AH=15h: no drive B:", 0

    call system_checks
    mov si, msg_name
    jmp finish

%include "disklib.inc"

%include "syschecks.inc"
%include "bootlib.inc"

msg_stage2: db "x86lab boot test: floppy (stage 2 loaded)", 10, 0
msg_name: db "boot-floppy", 0

    times 8 * 512 - ($ - $$) db 0
; ---------------------------------------------------------------------------------------------
; LBA 8-2879: tagged sectors
; ---------------------------------------------------------------------------------------------
    TAGGED_SECTORS 8, 2880
