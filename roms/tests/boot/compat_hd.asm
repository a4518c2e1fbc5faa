; compat_hd.asm — a hard disk image that must boot and print the same lines under every PC BIOS:
; tests/bios_compat.rs boots it with x86lab's BIOS and with Bochs's (BIOS-bochs-legacy and the
; LGPL VGA BIOS) and compares what both print on port E9h. See compat.inc for the line format.
;
; Built by tools/build-roms into compat_hd.bin (1,032,192 bytes = 2016 sectors). An ATA drive of
; this size reports the geometry 2 cylinders x 16 heads x 63 sectors (IDENTIFY words 1/3/6), and
; both BIOSes show it untranslated. LBA 0 is the boot sector (no partition table), LBA 1-15 the
; second stage, LBA 16-2015 tagged sectors. CHS of LBA n: cylinder n / 1008, head (n / 63) mod 16,
; sector n mod 63 + 1.
; Run it:   x86lab run roms/tests/boot/compat_hd.bin --headless --rtc 2000-01-01T00:00:00
;           (exit status 1 = all passed; the image writes to itself: run a copy)
;
; Not printed, because BIOSes may differ: the cylinder count of AH=08h (Bochs's BIOS keeps the
; last cylinder back, x86lab's does not), the sector count of AH=15h, error codes.

    cpu 386
    bits 16
    org 7C00h

%include "compat.inc"
%include "bootsect.inc"

EQUIPMENT equ 0020h             ; no diskette drive, 80x25 colour, no printer
SECTORS   equ 2016

; ---------------------------------------------------------------------------------------------
; Boot sector (LBA 0)
; ---------------------------------------------------------------------------------------------
    BOOT_SECTOR 15, 1, "compat-hd: boot sector"

; ---------------------------------------------------------------------------------------------
; Stage 2 (LBA 1-15)
; ---------------------------------------------------------------------------------------------

; INT13 ah_al, cx, dh, es_segment: INT 13h on the boot drive with BX = 0; then AX = CF.
%macro INT13 4
    push es
    mov ax, %4
    mov es, ax
    mov ax, %1
    mov cx, %2
    mov dh, %3
    mov dl, [boot_drive]
    xor bx, bx
    int 13h
    pop es
    mov [result], ax
    call carry
%endmacro

; READ_CHS c, h, s, n, first_lba: AH=02h of n sectors into 1000:0000, then check CF and the
; status (AH), the count (AL) and the sectors' tags.
%macro READ_CHS 5
    INT13 0200h | (%4), (((%1) & 0FFh) << 8) | (((%1) >> 2) & 0C0h) | (%3), %2, 1000h
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

; EDD op, lba, n, segment: AH=op (42h read, 43h write) of n sectors at LBA lba to/from
; segment:0000 through the disk address packet; then AX = CF.
%macro EDD 4
    mov byte [dap], 16
    mov byte [dap + 1], 0
    mov word [dap + 2], %3
    mov word [dap + 4], 0
    mov word [dap + 6], %4
    mov dword [dap + 8], %2
    mov dword [dap + 12], 0
    mov ax, (%1) << 8
    mov dl, [boot_drive]
    mov si, dap
    int 13h
    call carry
%endmacro

stage2:
    PRINT "compat-hd: stage 2"
    movzx ax, byte [boot_drive]
    CHECK "boot drive (DL)", 0080h

    ; AH=08h: heads, sectors per track, number of disks (not the cylinders).
    mov ah, 08h
    mov dl, [boot_drive]
    int 13h
    push ds                     ; (some BIOSes return ES:DI)
    pop es
    push dx
    push cx
    call carry
    CHECK "INT 13h AH=08h: CF", 0
    pop ax
    and ax, 003Fh
    CHECK "INT 13h AH=08h: sectors per track", 63
    pop ax
    CHECK "INT 13h AH=08h: DX (last head 15, one disk)", 0F01h

    mov ah, 15h
    mov dl, [boot_drive]
    int 13h
    mov [result], ax
    call carry
    CHECK "INT 13h AH=15h: CF", 0
    movzx ax, byte [result + 1]
    CHECK "INT 13h AH=15h: a fixed disk", 0003h

    ; EDD.
    mov ah, 41h
    mov bx, 55AAh
    mov dl, [boot_drive]
    int 13h
    call carry
    CHECK "INT 13h AH=41h: CF", 0
    mov ax, bx
    CHECK "INT 13h AH=41h: BX", 0AA55h
    mov ax, cx
    and ax, 1
    CHECK "INT 13h AH=41h: CX bit 0 (AH=42h-48h)", 1
    mov word [params], 26
    mov ah, 48h
    mov dl, [boot_drive]
    mov si, params
    int 13h
    call carry
    CHECK "INT 13h AH=48h: CF", 0
    mov ax, [params + 16]
    CHECK "INT 13h AH=48h: sectors, low word", SECTORS
    mov ax, [params + 18]
    or ax, [params + 20]
    or ax, [params + 22]
    CHECK "INT 13h AH=48h: sectors, high words", 0
    mov ax, [params + 24]
    CHECK "INT 13h AH=48h: bytes per sector", 512

    READ_CHS 0, 0, 20, 1, 19    ; the first track
    READ_CHS 0, 0, 60, 8, 59    ; onto the next head
    READ_CHS 0, 15, 62, 4, 1006 ; onto the next cylinder
    READ_CHS 1, 0, 1, 63, 1008  ; a whole track
    READ_CHS 1, 15, 63, 1, 2015 ; the last sector

    EDD 42h, 1500, 1, 1000h
    CHECK "AH=42h LBA 1500 x1: CF", 0
    CHECK_TAGS "AH=42h LBA 1500 x1: sectors not LBA 1500 on", 1000h, 1500, 1
    EDD 42h, 100, 100, 1800h    ; 51,200 bytes from 18000h: across 64 KiB
    CHECK "AH=42h LBA 100 x100 to 1800:0000: CF", 0
    mov ax, [dap + 2]
    CHECK "AH=42h LBA 100 x100: blocks done", 100
    CHECK_TAGS "AH=42h LBA 100 x100: sectors not LBA 100 on", 1800h, 100, 100

    ; Writes: LBA 1234 with AH=43h, CHS 0/8/1 (LBA 504) with AH=03h; each read back with AH=42h.
    push es
    mov ax, 2000h
    mov es, ax
    mov dx, 1234h
    call fill_pattern
    pop es
    EDD 43h, 1234, 1, 2000h
    CHECK "AH=43h LBA 1234: CF", 0
    EDD 42h, 1233, 1, 1000h
    CHECK_TAGS "AH=42h LBA 1233: sectors not LBA 1233 on", 1000h, 1233, 1
    EDD 42h, 1235, 1, 1000h
    CHECK_TAGS "AH=42h LBA 1235: sectors not LBA 1235 on", 1000h, 1235, 1
    EDD 42h, 1234, 1, 1000h
    CHECK "read back LBA 1234: CF", 0
    call same_512
    CHECK "read back LBA 1234: words that differ", 0
    push es
    mov ax, 2000h
    mov es, ax
    mov dx, 0504h
    call fill_pattern
    pop es
    INT13 0301h, 0001h, 8, 2000h
    CHECK "AH=03h CHS 0/8/1: CF", 0
    EDD 42h, 504, 1, 1000h
    CHECK "read back LBA 504: CF", 0
    call same_512
    CHECK "read back LBA 504: words that differ", 0

    ; Errors and the rest.
    EDD 42h, SECTORS, 1, 1000h
    CHECK "AH=42h LBA 2016 (past the end) fails (CF)", 1
    INT13 0201h, 0201h, 0, 1000h
    CHECK "AH=02h CHS 2/0/1 (past the last cylinder) fails (CF)", 1
    INT13 0404h, 0001h, 1, 1000h
    CHECK "AH=04h verify CHS 0/1/1 x4: CF", 0
    mov ah, 41h
    mov bx, 55AAh
    mov dl, 81h
    int 13h
    call carry
    CHECK "INT 13h AH=41h on drive 81h (none) fails (CF)", 1
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

msg_name: db "compat-hd", 0
result: dw 0
dap:    times 16 db 0
params: times 30 db 0

    times 16 * 512 - ($ - $$) db 0
; ---------------------------------------------------------------------------------------------
; LBA 16-2015: tagged sectors
; ---------------------------------------------------------------------------------------------
    TAGGED_SECTORS 16, SECTORS
