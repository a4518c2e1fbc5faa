; compat_fd.asm — a 1.44 MB floppy that must boot and print the same lines under every PC BIOS:
; tests/bios_compat.rs boots it with x86lab's BIOS and with Bochs's (BIOS-bochs-legacy and the
; LGPL VGA BIOS) and compares what both print on port E9h. See compat.inc for the line format.
;
; Built by tools/build-roms into compat_fd.bin (1,474,560 bytes: 80 cylinders, 2 heads, 18
; sectors). LBA 0 is the boot sector, LBA 1-15 the second stage, LBA 16-2879 tagged sectors. CHS of
; LBA n: cylinder n / 36, head (n / 18) mod 2, sector n mod 18 + 1.
; Run it:   x86lab run roms/tests/boot/compat_fd.bin --headless --rtc 2000-01-01T00:00:00
;           (exit status 1 = all passed; the image writes to itself: run a copy)
;
; The reads walk the diskette as a boot loader does: another head, a whole track, a read that
; runs from head 0 onto head 1 (multi-track), the last sector, a seek back towards cylinder 0,
; then a write and a read back, and one read of a sector that does not exist.

    cpu 386
    bits 16
    org 7C00h

%include "compat.inc"
%include "bootsect.inc"

EQUIPMENT equ 0021h             ; one diskette drive, 80x25 colour, no printer

; ---------------------------------------------------------------------------------------------
; Boot sector (LBA 0)
; ---------------------------------------------------------------------------------------------
    BOOT_SECTOR 15, 3, "compat-fd: boot sector"

; ---------------------------------------------------------------------------------------------
; Stage 2 (LBA 1-15)
; ---------------------------------------------------------------------------------------------

; READ_CHS c, h, s, n, first_lba: INT 13h AH=02h of n sectors into 1000:0000, then check CF and
; the status (AH), the count (AL) and the sectors' tags.
%macro READ_CHS 5
    push es
    mov ax, 1000h
    mov es, ax
    mov ax, 0200h | (%4)
    mov ch, %1
    mov cl, %3
    mov dh, %2
    mov dl, [boot_drive]
    xor bx, bx
    int 13h
    pop es
    mov [result], ax
    call carry
    mov ah, al
    mov al, [result + 1]
    %defstr RC_C %1
    %defstr RC_H %2
    %defstr RC_S %3
    %defstr RC_N %4
    %defstr RC_L %5
    %strcat RC_CF "read CHS ", RC_C, "/", RC_H, "/", RC_S, " x", RC_N, ": CF, status"
    %strcat RC_AL "read CHS ", RC_C, "/", RC_H, "/", RC_S, " x", RC_N, ": sectors read"
    %strcat RC_TAGS "read CHS ", RC_C, "/", RC_H, "/", RC_S, " x", RC_N, ": sectors not LBA ", RC_L, " on"
    CHECK RC_CF, 0
    movzx ax, byte [result]
    CHECK RC_AL, %4
    CHECK_TAGS RC_TAGS, 1000h, %5, %4
%endmacro

stage2:
    PRINT "compat-fd: stage 2"
    movzx ax, byte [boot_drive]
    CHECK "boot drive (DL)", 0000h

    ; AH=08h: the parameters of a 1.44 MB drive.
    mov ah, 08h
    mov dl, 00h
    int 13h
    push ds                     ; (ES:DI is the parameter table: not compared)
    pop es
    push bx
    push dx
    push cx
    call carry
    CHECK "INT 13h AH=08h: CF", 0
    pop ax
    CHECK "INT 13h AH=08h: CX (last cylinder 79, 18 sectors)", 4F12h
    pop ax
    CHECK "INT 13h AH=08h: DX (last head 1, one drive)", 0101h
    pop ax
    xor ah, ah
    CHECK "INT 13h AH=08h: BL (drive type 4, 1.44 MB)", 0004h

    READ_CHS 0, 1, 1, 1, 18     ; the other head
    READ_CHS 1, 0, 1, 18, 36    ; a whole track
    READ_CHS 2, 0, 10, 10, 81   ; sectors 10-18 of head 0, then head 1 sector 1 (MT)
    READ_CHS 79, 1, 18, 1, 2879 ; the last sector
    READ_CHS 5, 0, 1, 2, 180    ; back towards cylinder 0

    ; Write LBA 2182 (CHS 60/1/5) from 2000:0000, read it back into 1000:0000.
    push es
    mov ax, 2000h
    mov es, ax
    mov dx, 0C0DEh
    call fill_pattern
    mov ax, 0301h
    mov cx, 3C05h
    mov dh, 1
    mov dl, [boot_drive]
    xor bx, bx
    int 13h
    pop es
    call carry
    CHECK "write CHS 60/1/5: CF", 0
    READ_CHS 60, 1, 4, 1, 2181  ; the neighbours are untouched
    READ_CHS 60, 1, 6, 1, 2183
    push es
    mov ax, 1000h
    mov es, ax
    mov ax, 0201h
    mov cx, 3C05h
    mov dh, 1
    mov dl, [boot_drive]
    xor bx, bx
    int 13h
    pop es
    call carry
    CHECK "read back CHS 60/1/5: CF", 0
    call same_512
    CHECK "read back CHS 60/1/5: words that differ", 0

    ; Sector 19 does not exist on a 1.44 MB track: an error (its code varies between BIOSes),
    ; then a reset succeeds.
    push es
    mov ax, 1000h
    mov es, ax
    mov ax, 0201h
    mov cx, 0013h
    xor dh, dh
    mov dl, [boot_drive]
    xor bx, bx
    int 13h
    pop es
    call carry
    CHECK "read CHS 0/0/19: fails (CF)", 1
    xor ah, ah
    mov dl, [boot_drive]
    int 13h
    call carry
    CHECK "INT 13h AH=00h: reset (CF)", 0

    SYSTEM_CHECKS

    mov si, msg_name
    call finish

    COMPAT_LIB
    TTY_ONLY_LIB

msg_name: db "compat-fd", 0
result: dw 0

    times 16 * 512 - ($ - $$) db 0
; ---------------------------------------------------------------------------------------------
; LBA 16-2879: tagged sectors
; ---------------------------------------------------------------------------------------------
    TAGGED_SECTORS 16, 2880
