; int13.asm — disk services (INT 13h): the dispatcher, the hard disk functions and the Enhanced
; Disk Drive (EDD) extensions.
;
; Sources: IBM PC/AT Technical Reference (INT 13h, fixed disk parameter table); Ralf Brown's
; Interrupt List (INT 13h functions and status codes); Phoenix Technologies "BIOS Enhanced Disk
; Drive Specification" version 3.0 (functions 41h-48h, the disk address packet, the result
; buffer of 48h) and version 1.1 (the LBA-assisted CHS translation).
;
; Drive numbers: 00h-7Fh are diskettes, handled by the diskette BIOS through INT 40h
; (floppy.asm), as on an AT with a fixed disk adapter; 80h and up are the ATA disks POST found,
; in the order primary master, primary slave, secondary master, secondary slave (ata.asm).
;
; Every function returns AH = status (00h = success) and CF = 1 if AH != 0, and records the
; status at 40:74h (hard disks) or 40:41h (diskettes) for AH=01h.
;
; Hard disk functions: 00h reset, 01h last status, 02h read, 03h write, 04h verify (CHS), 08h
; parameters, 09h/0Ch/0Dh/10h/11h/14h (initialise, seek, alternate reset, test ready,
; recalibrate, diagnostics: nothing to do on ATA, they succeed), 15h type, 41h EDD installation
; check, 42h extended read, 43h extended write, 44h extended verify, 47h extended seek, 48h drive
; parameters. Not implemented (AH = 01h): 05h-07h format, 0Ah/0Bh long read/write, 45h/46h/49h
; (removable media), 4Eh.

; The frame of the hard disk and diskette handlers: DS, ES, FS, then PUSHAD; BP points at it.
H_EDI   equ 0
H_ESI   equ 4
H_EBP   equ 8
H_EBX   equ 16
H_EDX   equ 20
H_ECX   equ 24
H_EAX   equ 28
H_FS    equ 32
H_ES    equ 34
H_DS    equ 36
H_FLAGS equ 42

int13_handler:
    test dl, 80h
    jnz hd_int13
    ; A diskette: the diskette BIOS, through INT 40h so that a replacement there is honoured.
    int 40h
    IRET_CF

hd_int13:
    sti
    cld
    push ds
    push es
    push fs
    pushad
    mov bp, sp
    mov bx, BDA_SEG
    mov ds, bx
    mov fs, [BDA_EBDA_SEG]
    mov bx, [bp + H_EBX]        ; (BX was used above)
    ; Find the drive: FS:SI = its entry in the ATA drive table.
    movzx si, dl
    sub si, 80h
    movzx di, byte [fs:EBDA_HD_COUNT]
    cmp si, di
    jb .drive_ok
    ; No such drive. AH=15h says so without an error; everything else is an error.
    cmp ah, 15h
    jne .bad
    mov byte [bp + H_EAX + 1], 0
    clc
    jmp hd_exit_keep
.bad:
    mov ah, DISK_BAD_COMMAND
    jmp hd_exit
.drive_ok:
    shl si, 5                   ; * ATA_ENTRY_SIZE
    add si, EBDA_ATA
    mov di, [bp + H_EDI]
    cmp ah, 00h
    je hd_reset
    cmp ah, 01h
    je hd_status
    cmp ah, 02h
    je hd_read
    cmp ah, 03h
    je hd_write
    cmp ah, 04h
    je hd_verify
    cmp ah, 08h
    je hd_params
    cmp ah, 09h
    je hd_ok
    cmp ah, 0Ch
    je hd_seek
    cmp ah, 0Dh
    je hd_reset
    cmp ah, 10h
    je hd_ready
    cmp ah, 11h
    je hd_ok
    cmp ah, 14h
    je hd_ok
    cmp ah, 15h
    je hd_type
    cmp ah, 41h
    je edd_check
    cmp ah, 42h
    je edd_read
    cmp ah, 43h
    je edd_write
    cmp ah, 44h
    je edd_verify
    cmp ah, 47h
    je edd_seek
    cmp ah, 48h
    je edd_params
    mov ah, DISK_BAD_COMMAND
    jmp hd_exit

hd_ok:
    xor ah, ah
; hd_exit: AH = status: store it at 40:74h and in the caller's AH, CF = (AH != 0).
hd_exit:
    mov [BDA_HD_STATUS], ah
    mov [bp + H_EAX + 1], ah
    test ah, ah
    jz .ok
    stc
    jmp hd_exit_keep
.ok:
    clc
hd_exit_keep:                   ; return with CF as it is, registers from the frame
    popad
    pop fs
    pop es
    pop ds
    IRET_CF

hd_status:                      ; AH=01h: the status of the last operation
    mov ah, [BDA_HD_STATUS]
    jmp hd_exit

hd_reset:                       ; AH=00h/0Dh: reset the drive's channel
    call ata_reset_channel
    jmp hd_exit

hd_ready:                       ; AH=10h: is the drive ready?
    call ata_ready
    jmp hd_exit

; ---------------------------------------------------------------------------------------------
; CHS functions. chs_to_lba: CH = cylinder bits 7-0, CL bits 7-6 = cylinder bits 9-8, CL bits
; 5-0 = sector (from 1), DH = head -> EAX = LBA in the logical (INT 13h) geometry. CF=1 if the
; address is outside it.
; ---------------------------------------------------------------------------------------------
chs_to_lba:
    push ebx
    push edx
    push ecx
    movzx eax, cl
    and al, 3Fh                 ; sector
    jz .bad
    cmp ax, [fs:si + ATA_E_SPT]
    ja .bad
    movzx ebx, dh               ; head
    cmp bx, [fs:si + ATA_E_HEADS]
    jae .bad
    movzx ecx, cx
    xchg cl, ch
    shr ch, 6                   ; CX = cylinder (10 bits)
    cmp cx, [fs:si + ATA_E_CYLS]
    jae .bad
    ; LBA = (cylinder * heads + head) * sectors + sector - 1
    push eax
    movzx eax, word [fs:si + ATA_E_HEADS]
    mul ecx
    add eax, ebx
    movzx ebx, word [fs:si + ATA_E_SPT]
    mul ebx
    pop ebx
    lea eax, [eax + ebx - 1]
    pop ecx
    pop edx
    pop ebx
    clc
    ret
.bad:
    pop ecx
    pop edx
    pop ebx
    stc
    ret

hd_read:
    mov dl, 0
    jmp hd_chs_rw
hd_write:
    mov dl, 1
    jmp hd_chs_rw
hd_verify:
    mov dl, 2
hd_chs_rw:                      ; AL sectors at CHS CX/DH to/from ES:BX
    test al, al
    jz .bad
    push dx
    mov dh, [bp + H_EDX + 1]
    call chs_to_lba             ; EAX = LBA
    pop dx
    jc .bad_sector
    movzx cx, byte [bp + H_EAX] ; count
    mov di, [bp + H_EBX]        ; ES:DI = buffer (ES is the caller's)
    call ata_transfer           ; -> AH status, CX sectors done
    mov [bp + H_EAX], cl        ; AL = sectors transferred
    jmp hd_exit
.bad:
    mov ah, DISK_BAD_COMMAND
    mov byte [bp + H_EAX], 0
    jmp hd_exit
.bad_sector:
    mov ah, DISK_NOT_FOUND
    mov byte [bp + H_EAX], 0
    jmp hd_exit

hd_seek:                        ; AH=0Ch: check the address, nothing to move on ATA
    call chs_to_lba
    mov ah, DISK_OK
    jnc .ok
    mov ah, DISK_SEEK_FAILED
.ok:
    jmp hd_exit

; AH=08h: CH/CL = last cylinder and sectors per track, DH = last head, DL = number of disks,
; BL = 0, AX = 0. (ES:DI is left alone for hard disks.)
hd_params:
    mov ax, [fs:si + ATA_E_CYLS]
    dec ax                      ; last cylinder
    cmp ax, 1023
    jbe .cyl_ok
    mov ax, 1023
.cyl_ok:
    mov ch, al
    mov cl, ah
    shl cl, 6
    or cl, [fs:si + ATA_E_SPT]
    mov [bp + H_ECX], cx
    mov al, [fs:si + ATA_E_HEADS]
    dec al
    mov ah, al                  ; DH = last head
    mov al, [fs:EBDA_HD_COUNT]  ; DL = drives
    mov [bp + H_EDX], ax
    mov byte [bp + H_EBX], 0
    mov byte [bp + H_EAX], 0
    xor ah, ah
    jmp hd_exit

; AH=15h: AH = 03h (fixed disk), CX:DX = sectors in the logical geometry. Not an error.
hd_type:
    movzx eax, word [fs:si + ATA_E_CYLS]
    movzx ebx, word [fs:si + ATA_E_HEADS]
    mul ebx
    movzx ebx, word [fs:si + ATA_E_SPT]
    mul ebx
    mov [bp + H_EDX], ax
    shr eax, 16
    mov [bp + H_ECX], ax
    mov byte [bp + H_EAX + 1], 03h
    mov byte [BDA_HD_STATUS], 0
    clc
    jmp hd_exit_keep

; ---------------------------------------------------------------------------------------------
; EDD (Phoenix BIOS Enhanced Disk Drive Specification 3.0)
; ---------------------------------------------------------------------------------------------

; AH=41h, BX=55AAh: installation check. BX = AA55h, AH = 30h (version 3.0), CX = 0001h (API
; subset: bit 0, the fixed disk access functions 42h-44h, 47h and 48h).
edd_check:
    cmp word [bp + H_EBX], 55AAh
    jne .bad
    mov word [bp + H_EBX], 0AA55h
    mov word [bp + H_ECX], 0001h
    mov byte [bp + H_EAX + 1], 30h
    mov byte [BDA_HD_STATUS], 0
    clc
    jmp hd_exit_keep
.bad:
    mov ah, DISK_BAD_COMMAND
    jmp hd_exit

; The disk address packet at DS:SI (the caller's): byte 0 size (10h or 18h), word 2 count, dword
; 4 buffer (offset, segment), qword 8 starting LBA.
edd_read:
    mov dl, 0
    jmp edd_rw
edd_write:
    mov dl, 1
    jmp edd_rw
edd_verify:
    mov dl, 2
edd_rw:
    push ds
    mov ds, [bp + H_DS]
    mov bx, [bp + H_ESI]        ; DS:BX = packet
    cmp byte [bx], 10h
    jb .bad
    cmp dword [bx + 4], 0FFFFFFFFh
    je .bad                     ; a 64-bit flat buffer address (packet size 18h): not supported
    cmp dword [bx + 12], 0
    jne .range                  ; LBA beyond 2^32 sectors
    mov eax, [bx + 8]
    movzx ecx, word [bx + 2]
    ; the whole transfer must lie on the disk
    mov edi, eax
    add edi, ecx
    jc .range
    cmp dword [fs:si + ATA_E_SECTORS_HI], 0
    jne .in_range
    cmp edi, [fs:si + ATA_E_SECTORS]
    ja .range
.in_range:
    test cx, cx
    jz .none
    les di, [bx + 4]            ; ES:DI = buffer
    pop ds
    push bx
    call ata_transfer
    pop bx
    push ds
    mov ds, [bp + H_DS]
    mov [bx + 2], cx            ; sectors actually transferred
    pop ds
    jmp hd_exit
.none:
    pop ds
    xor ah, ah
    jmp hd_exit
.range:
    mov word [bx + 2], 0
    pop ds
    mov ah, DISK_NOT_FOUND
    jmp hd_exit
.bad:
    mov word [bx + 2], 0
    pop ds
    mov ah, DISK_BAD_COMMAND
    jmp hd_exit

edd_seek:                       ; AH=47h: check the LBA, nothing to move
    push ds
    mov ds, [bp + H_DS]
    mov bx, [bp + H_ESI]
    mov eax, [bx + 8]
    mov edx, [bx + 12]
    pop ds
    mov ah, DISK_OK
    test edx, edx
    jnz .bad
    cmp dword [fs:si + ATA_E_SECTORS_HI], 0
    jne .done
    cmp eax, [fs:si + ATA_E_SECTORS]
    jb .done
.bad:
    mov ah, DISK_SEEK_FAILED
.done:
    jmp hd_exit

; AH=48h: drive parameters into the caller's buffer at DS:SI, whose first word says its size.
;   +00h word   size of the result: 1Ah (EDD 1.1) or 1Eh (EDD 2.0: + DPTE pointer)
;   +02h word   information flags: bit 1 = the CHS fields below are valid
;   +04h dword  physical cylinders  +08h dword heads  +0Ch dword sectors per track
;   +10h qword  total sectors       +18h word  bytes per sector
;   +1Ah dword  pointer to the Device Parameter Table Extension: FFFF:FFFFh, none
edd_params:
    push ds
    mov ds, [bp + H_DS]
    mov bx, [bp + H_ESI]
    mov ax, [bx]
    cmp ax, 1Ah
    jb .bad
    mov cx, 1Ah
    cmp ax, 1Eh
    jb .size
    mov cx, 1Eh
    mov dword [bx + 1Ah], 0FFFFFFFFh
.size:
    mov [bx], cx
    mov word [bx + 2], 0
    xor eax, eax
    mov [bx + 4], eax
    mov [bx + 8], eax
    mov [bx + 0Ch], eax
    ; CHS is meaningful only up to 16383 x 16 x 63 sectors (EDD 3.0, "information flags")
    cmp dword [fs:si + ATA_E_SECTORS_HI], 0
    jne .no_chs
    cmp dword [fs:si + ATA_E_SECTORS], 16383 * 16 * 63
    ja .no_chs
    mov word [bx + 2], 0002h
    mov ax, [fs:si + ATA_E_PCYLS]
    mov [bx + 4], ax
    mov ax, [fs:si + ATA_E_PHEADS]
    mov [bx + 8], ax
    mov ax, [fs:si + ATA_E_PSPT]
    mov [bx + 0Ch], ax
.no_chs:
    mov eax, [fs:si + ATA_E_SECTORS]
    mov [bx + 10h], eax
    mov eax, [fs:si + ATA_E_SECTORS_HI]
    mov [bx + 14h], eax
    mov word [bx + 18h], 512
    pop ds
    xor ah, ah
    jmp hd_exit
.bad:
    pop ds
    mov ah, DISK_BAD_COMMAND
    jmp hd_exit
