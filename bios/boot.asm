; boot.asm — the bootstrap loader (INT 19h) and "no bootable device" (INT 18h).
;
; Sources: IBM PC/AT Technical Reference (BOOT_STRAP: read the first sector of the first drive
; to 0000:7C00h and jump there with DL = the drive); Bochs/QEMU convention for the boot order
; in CMOS byte 3Dh (low nibble the first device, next nibble the second: 1 = floppy, 2 = hard
; disk, 3 = CD-ROM; 0 = none; SeaBIOS and the Bochs BIOS read it the same way); the boot
; signature 55h AAh at offset 510 of a boot sector (required here for floppies as well).

BOOT_ORDER_DEFAULT equ 21h      ; floppy first, then the hard disk

; ---------------------------------------------------------------------------------------------
; INT 19h
; ---------------------------------------------------------------------------------------------
int19_handler:
    sti
    cld
    xor ax, ax
    mov ss, ax                  ; a known stack below the boot sector
    mov sp, 7C00h
    mov ax, BDA_SEG
    mov ds, ax
    mov bl, BOOT_ORDER_DEFAULT
    call cmos_present
    jnc .order
    mov al, CMOS_BOOT_ORDER
    call cmos_read
    test al, 0Fh
    jz .order                   ; nothing chosen: the default
    mov bl, al
.order:
    mov cx, 2                   ; two devices in byte 3Dh
.device:
    mov al, bl
    and al, 0Fh
    jz .none_left
    cmp al, 1
    jne .not_floppy
    call boot_floppy
    jmp .next
.not_floppy:
    cmp al, 2
    jne .unknown
    call boot_hard_disk
    jmp .next
.unknown:
    MSG "Boot device "
    movzx eax, al
    call con_dec
    MSG " (CD-ROM or other) is not supported", 13, 10
.next:
    shr bl, 4
    loop .device
.none_left:
    int 18h

boot_floppy:
    push bx
    push cx
    mov dl, 00h
    call fd_drive_type
    test al, al
    jz .no_drive
    MSG "Booting from floppy...", 13, 10
    mov dl, 00h
    call boot_from
    pop cx
    pop bx
    ret
.no_drive:
    MSG "No floppy drive", 13, 10
    pop cx
    pop bx
    ret

boot_hard_disk:
    push bx
    push cx
    cmp byte [BDA_HD_COUNT], 0
    je .no_disk
    MSG "Booting from hard disk...", 13, 10
    mov dl, 80h
    call boot_from
    pop cx
    pop bx
    ret
.no_disk:
    MSG "No hard disk", 13, 10
    pop cx
    pop bx
    ret

; boot_from: read sector 1 (CHS 0/0/1) of drive DL to 0000:7C00h, three attempts with a disk
; reset in between (a diskette's first read often fails while the motor spins up or after a
; change); if it carries the 55AAh signature, jump to it with DL = drive. Returns if not.
boot_from:
    mov si, 3
.attempt:
    xor ax, ax
    mov es, ax
    mov bx, 7C00h
    mov ax, 0201h               ; read 1 sector
    mov cx, 0001h               ; cylinder 0, sector 1
    xor dh, dh                  ; head 0
    push dx
    int 13h
    pop dx
    jnc .read
    push ax
    xor ah, ah                  ; reset the disk system
    int 13h
    pop ax
    dec si
    jnz .attempt
    MSG "Boot failed: could not read the boot disk (INT 13h status "
    mov al, ah
    call con_hex8
    MSG "h)", 13, 10
    ret
.read:
    cmp word [es:7DFEh], 0AA55h
    je .go
    MSG "Boot failed: not a bootable disk (no 55AAh signature)", 13, 10
    ret
.go:
    push es
    call es_ebda
    mov [es:EBDA_BOOT_DRIVE], dl
    pop es
    ; The boot sector gets DL = drive, CS:IP = 0000:7C00h, interrupts on, the BIOS stack.
    xor ax, ax
    mov ds, ax
    mov es, ax
    xor bx, bx
    xor cx, cx
    xor si, si
    xor di, di
    xor bp, bp
    mov dh, 0
    jmp 0000h:7C00h

; ---------------------------------------------------------------------------------------------
; INT 18h: no bootable device (on the IBM PC, ROM BASIC). Say so and halt with interrupts on, so
; that the keyboard (Ctrl+Alt+Del) and the timer still work.
; ---------------------------------------------------------------------------------------------
int18_handler:
    sti
    push cs
    pop ds
    mov ax, BDA_SEG
    mov ds, ax
    MSG "No bootable device.", 13, 10
.halt:
    sti
    hlt
    jmp .halt
