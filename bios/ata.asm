; ata.asm — ATA hard disks: finding them at POST (IDENTIFY DEVICE) and moving sectors for INT 13h
; with programmed I/O.
;
; Sources: ANSI INCITS "AT Attachment with Packet Interface - 6" (ATA/ATAPI-6): the command and
; control block registers (§7), the device selection protocol and the 400 ns rule (§9.7), the
; software reset protocol (§9.2), PIO data-in and data-out protocols (§9.5, §9.6), IDENTIFY
; DEVICE words 1/3/6 (default geometry), 27-46 (model), 49 bit 9 (LBA), 60-61 (LBA28 capacity),
; 83 bit 10 and 100-103 (48-bit feature set and capacity), the signatures of ATA and ATAPI
; devices after reset (§9.12); Phoenix EDD 1.1 for the LBA-assisted INT 13h geometry.
;
; The BIOS polls: nIEN is set in the device control register, so the drives raise no IRQ14/15.
; Every wait is bounded (about 2 s for BSY, as a drive that is spinning up may need), and a
; channel whose status register reads FFh (nothing drives the bus) is skipped at once.

; ---------------------------------------------------------------------------------------------
; POST: find the disks on the primary and secondary channels.
; ---------------------------------------------------------------------------------------------
ata_post:
    push es
    push fs
    call es_ebda
    push es
    pop fs                      ; FS = EBDA
    mov byte [fs:EBDA_HD_COUNT], 0
    mov si, ata_channels
.channel:
    mov bx, [cs:si]             ; command block
    test bx, bx
    jz .done
    mov cx, [cs:si + 2]         ; control block
    push si
    call ata_probe_channel
    pop si
    add si, 4
    jmp .channel
.done:
    mov al, [fs:EBDA_HD_COUNT]
    mov [BDA_HD_COUNT], al
    ; INT 41h and 46h point to the fixed disk parameter tables of drives 80h and 81h.
    xor ax, ax
    mov es, ax
    mov ax, fs
    mov word [es:41h * 4], EBDA_FDPT0
    mov [es:41h * 4 + 2], ax
    mov word [es:46h * 4], EBDA_FDPT1
    mov [es:46h * 4 + 2], ax
    pop fs
    pop es
    ret

ata_channels:
    dw ATA0_BASE, ATA0_CTRL
    dw ATA1_BASE, ATA1_CTRL
    dw 0

; ata_probe_channel: BX = command block, CX = control block.
ata_probe_channel:
    mov dx, bx
    add dx, ATA_STATUS
    in al, dx
    cmp al, 0FFh                ; floating bus: no controller, no drives
    je .none
    ; Software reset of both devices (ATA-6 §9.2): SRST for at least 5 us, then wait for BSY
    ; to clear. nIEN stays set: this BIOS does not use the drives' interrupts.
    mov dx, cx
    mov al, ATA_CTL_SRST | ATA_CTL_NIEN
    out dx, al
    push cx
    mov cx, 2
    call delay_15us
    pop cx
    mov al, ATA_CTL_NIEN
    out dx, al
    mov ax, 2
    call delay_ms
    mov di, 0A0h                ; master
    call ata_probe_device
    mov di, 0B0h                ; slave
    call ata_probe_device
.none:
    ret

; ata_probe_device: BX/CX = channel, DI = device register value (A0h/B0h).
ata_probe_device:
    pusha
    cmp byte [fs:EBDA_HD_COUNT], ATA_MAX_DRIVES
    jae .ret
    ; select the device, then wait 400 ns (four reads of the alternate status) for its status
    mov dx, bx
    add dx, ATA_DEVICE
    mov ax, di
    out dx, al
    call ata_delay400
    mov dx, bx
    add dx, ATA_STATUS
    in al, dx
    cmp al, 0FFh                ; FFh: nothing at all
    je .ret
    test al, al                 ; 00h: no device 1 behind device 0 (ATA-6 §9.16.1), or an
    jz .not_ata                 ; ATAPI device, which keeps DRDY clear: look at the signature
    call ata_wait_busy          ; the reset may still be in progress
    jc .ret
    ; IDENTIFY DEVICE
    mov dx, bx
    add dx, ATA_COMMAND
    mov al, ATA_CMD_IDENTIFY
    out dx, al
    call ata_delay400
    mov dx, bx
    add dx, ATA_STATUS
    in al, dx
    test al, al
    jz .ret
    call ata_wait_busy
    jc .ret
    test al, ATA_ST_ERR
    jnz .not_ata
    test al, ATA_ST_DRQ
    jz .ret
    ; 256 words of identify data into the scratch buffer at 0000:8000h (free during POST)
    push es
    push di
    push cx
    xor ax, ax
    mov es, ax
    mov di, 8000h
    mov dx, bx
    mov cx, 256
    rep insw
    pop cx
    pop di
    pop es
    mov dx, bx
    add dx, ATA_STATUS
    in al, dx                   ; the final status (and INTRQ cleared)
    call ata_add_drive
    jmp .ret
.not_ata:
    ; An aborted IDENTIFY DEVICE: an ATAPI device leaves the signature 14h/EBh in the
    ; cylinder registers (ATA-6 §9.12). ATAPI (CD-ROM) booting is not implemented.
    mov dx, bx
    add dx, ATA_LBA1
    in al, dx
    mov ah, al
    inc dx
    in al, dx
    cmp ax, 14EBh
    jne .ret
    call ata_print_name
    MSG "ATAPI device (not supported)", 13, 10
.ret:
    popa
    ret

; ata_print_name: "ata0 master: " for channel BX, device DI.
ata_print_name:
    MSG "ata"
    mov al, '0'
    cmp bx, ATA0_BASE
    je .ch
    mov al, '1'
.ch:
    call con_putc
    cmp di, 0A0h
    jne .slave
    MSG " master: "
    ret
.slave:
    MSG " slave: "
    ret

; ata_add_drive: a disk answered IDENTIFY (data at 0000:8000h): make its drive table entry.
ata_add_drive:
    push es
    xor ax, ax
    mov es, ax
    movzx si, byte [fs:EBDA_HD_COUNT]
    shl si, 5
    add si, EBDA_ATA            ; FS:SI = the new entry
    mov [fs:si + ATA_E_BASE], bx
    mov [fs:si + ATA_E_CTRL], cx
    mov ax, di
    mov [fs:si + ATA_E_DEV], al
    mov byte [fs:si + ATA_E_FLAGS], 0
    ; the drive's own (default) geometry: words 1, 3, 6
    mov ax, [es:8000h + 1 * 2]
    mov [fs:si + ATA_E_PCYLS], ax
    mov ax, [es:8000h + 3 * 2]
    mov [fs:si + ATA_E_PHEADS], ax
    mov ax, [es:8000h + 6 * 2]
    mov [fs:si + ATA_E_PSPT], ax
    ; capacity
    xor edx, edx
    test word [es:8000h + 49 * 2], 0200h
    jz .chs_only
    or byte [fs:si + ATA_E_FLAGS], AF_LBA
    mov eax, [es:8000h + 60 * 2]    ; words 60-61
    test word [es:8000h + 83 * 2], 0400h
    jz .capacity
    or byte [fs:si + ATA_E_FLAGS], AF_LBA48
    mov eax, [es:8000h + 100 * 2]   ; words 100-103 (low 48 bits used)
    movzx edx, word [es:8000h + 102 * 2]
    jmp .capacity
.chs_only:
    movzx eax, word [fs:si + ATA_E_PCYLS]
    movzx ecx, word [fs:si + ATA_E_PHEADS]
    mul ecx
    movzx ecx, word [fs:si + ATA_E_PSPT]
    mul ecx
    xor edx, edx
    mov cx, [fs:si + ATA_E_CTRL]
.capacity:
    mov [fs:si + ATA_E_SECTORS], eax
    mov [fs:si + ATA_E_SECTORS_HI], edx
    test eax, eax
    jnz .has_size
    test edx, edx
    jz .ret                     ; a disk without sectors: ignore it
.has_size:
    call ata_logical_geometry
    inc byte [fs:EBDA_HD_COUNT]
    call ata_make_fdpt
    ; "ata0 master: <model>, <N> MiB, CHS c/h/s"
    push si
    call ata_print_name
    mov si, 8000h + 27 * 2
    call con_model
    pop si
    MSG ", "
    mov eax, [fs:si + ATA_E_SECTORS]
    mov edx, [fs:si + ATA_E_SECTORS_HI]
    shrd eax, edx, 11           ; sectors -> MiB
    call con_dec
    MSG " MiB, INT 13h CHS "
    movzx eax, word [fs:si + ATA_E_CYLS]
    call con_dec
    mov al, '/'
    call con_putc
    movzx eax, word [fs:si + ATA_E_HEADS]
    call con_dec
    mov al, '/'
    call con_putc
    movzx eax, word [fs:si + ATA_E_SPT]
    call con_dec
    MSG 13, 10
.ret:
    pop es
    ret

; ata_logical_geometry: the CHS geometry INT 13h shows for the drive at FS:SI.
; With LBA: the LBA-assisted translation of Phoenix EDD 1.1 — 63 sectors per track, 16 heads
; doubled (32, 64, 128, then 255) until the cylinders fit in 1024; cylinders = total / (heads *
; 63), at most 1024. Without LBA: the drive's own geometry, cylinders cut at 1024.
ata_logical_geometry:
    pushad
    test byte [fs:si + ATA_E_FLAGS], AF_LBA
    jz .native
    mov eax, [fs:si + ATA_E_SECTORS]
    cmp dword [fs:si + ATA_E_SECTORS_HI], 0
    je .small
    mov eax, 0FFFFFFFFh         ; more than 2 TiB: as large as the table goes anyway
.small:
    mov ecx, eax                ; ECX = total (up to 2^32 - 1)
    xor edx, edx
    mov ebx, 16 * 63
    div ebx                     ; EAX = cylinders at 16 heads
    mov bx, 16
    cmp eax, 1024
    jbe .heads
    mov bx, 32
    cmp eax, 2048
    jbe .heads
    mov bx, 64
    cmp eax, 4096
    jbe .heads
    mov bx, 128
    cmp eax, 8192
    jbe .heads
    mov bx, 255
.heads:
    mov [fs:si + ATA_E_HEADS], bx
    mov word [fs:si + ATA_E_SPT], 63
    or byte [fs:si + ATA_E_FLAGS], AF_TRANSLATED
    movzx ebx, bx
    imul ebx, ebx, 63
    mov eax, ecx
    xor edx, edx
    div ebx
    jmp .cylinders
.native:
    mov ax, [fs:si + ATA_E_PHEADS]
    mov [fs:si + ATA_E_HEADS], ax
    mov ax, [fs:si + ATA_E_PSPT]
    mov [fs:si + ATA_E_SPT], ax
    movzx eax, word [fs:si + ATA_E_PCYLS]
.cylinders:
    cmp eax, 1
    jae .not_zero
    mov eax, 1
.not_zero:
    cmp eax, 1024
    jbe .store
    mov eax, 1024
.store:
    mov [fs:si + ATA_E_CYLS], ax
    popad
    ret

; ata_make_fdpt: the IBM PC/AT fixed disk parameter table (INT 41h/46h) of drives 80h/81h, with
; the logical geometry: +0 cylinders, +2 heads, +5 write precompensation (none: FFFFh), +8
; control byte (bit 3: more than 8 heads), +0Ch landing zone, +0Eh sectors per track.
ata_make_fdpt:
    push di
    movzx di, byte [fs:EBDA_HD_COUNT]
    dec di                      ; the drive just added
    cmp di, 2
    jae .ret
    shl di, 4
    add di, EBDA_FDPT0
    mov ax, [fs:si + ATA_E_CYLS]
    mov [fs:di + 0], ax
    mov [fs:di + 0Ch], ax
    mov al, [fs:si + ATA_E_HEADS]
    mov [fs:di + 2], al
    mov word [fs:di + 5], 0FFFFh
    mov byte [fs:di + 8], 0
    cmp al, 8
    jbe .few_heads
    mov byte [fs:di + 8], 08h
.few_heads:
    mov al, [fs:si + ATA_E_SPT]
    mov [fs:di + 0Eh], al
.ret:
    pop di
    ret

; ---------------------------------------------------------------------------------------------
; Waits. All read the alternate status register (control block), which does not clear INTRQ.
; ---------------------------------------------------------------------------------------------

; ata_delay400: four reads of the alternate status take at least 400 ns on an ISA bus.
; BX = command block of the channel (its control block is found from the table entry or CX).
ata_delay400:
    push ax
    push dx
    mov dx, bx
    add dx, ATA_STATUS
    in al, dx
    in al, dx
    in al, dx
    in al, dx
    pop dx
    pop ax
    ret

; ata_wait_busy: wait until BSY = 0 (BX = command block). AL = final status, CF=1 on time-out
; (about 2 s) or if the status reads FFh.
ata_wait_busy:
    push cx
    push dx
    mov dx, bx
    add dx, ATA_STATUS
    mov cx, 0
.poll:
    in al, dx
    cmp al, 0FFh
    je .fail
    test al, ATA_ST_BSY
    jz .ok
    push cx
    mov cx, 2
    call delay_15us             ; about 30 us per round, 65536 rounds: about 2 s
    pop cx
    loop .poll
.fail:
    pop dx
    pop cx
    stc
    ret
.ok:
    pop dx
    pop cx
    clc
    ret

; ata_wait_drq: wait for BSY = 0, then DRQ = 1 or ERR/DF. AL = status; CF=1 if no data request.
ata_wait_drq:
    call ata_wait_busy
    jc .ret
    test al, ATA_ST_ERR | ATA_ST_DF
    jnz .fail
    test al, ATA_ST_DRQ
    jnz .ret                    ; CF = 0 from TEST
.fail:
    stc
.ret:
    ret

; ---------------------------------------------------------------------------------------------
; INT 13h helpers for the drive at FS:SI.
; ---------------------------------------------------------------------------------------------

; ata_reset_channel: software reset of the drive's channel. AH = status.
ata_reset_channel:
    push bx
    push dx
    mov bx, [fs:si + ATA_E_BASE]
    mov dx, [fs:si + ATA_E_CTRL]
    mov al, ATA_CTL_SRST | ATA_CTL_NIEN
    out dx, al
    push cx
    mov cx, 2
    call delay_15us
    pop cx
    mov al, ATA_CTL_NIEN
    out dx, al
    mov ax, 2
    call delay_ms
    mov dx, bx
    add dx, ATA_DEVICE
    mov al, [fs:si + ATA_E_DEV]
    out dx, al
    call ata_delay400
    call ata_wait_busy
    mov ah, DISK_OK
    jnc .ok
    mov ah, DISK_RESET_FAILED
.ok:
    pop dx
    pop bx
    ret

; ata_ready: AH = 00h if the drive is ready (DRDY), AAh if not.
ata_ready:
    push bx
    push dx
    mov bx, [fs:si + ATA_E_BASE]
    mov dx, bx
    add dx, ATA_DEVICE
    mov al, [fs:si + ATA_E_DEV]
    out dx, al
    call ata_delay400
    call ata_wait_busy
    mov ah, DISK_NOT_READY
    jc .ret
    test al, ATA_ST_DRDY
    jz .ret
    xor ah, ah
.ret:
    pop dx
    pop bx
    ret

; ata_transfer: move CX sectors (1-65535) starting at LBA EAX between the drive at FS:SI and
; ES:DI. DL = 0 read, 1 write, 2 verify. Returns AH = INT 13h status, CX = sectors done.
; Commands move at most 128 sectors each; the buffer pointer is renormalised after every sector
; (segment += offset / 16), so a transfer may cross 64 KiB boundaries of the caller's buffer.
ata_transfer:
    push ebx
    push edx
    push edi
    push ebp
    push es
    push cx                     ; [sp] = sectors asked for
    mov ebp, eax                ; EBP = next LBA
    mov bl, dl                  ; BL = operation
    call ata_normalise
.chunk:
    test cx, cx
    jz .success
    mov bh, 128
    cmp cx, 128
    jae .issue
    mov bh, cl                  ; BH = sectors in this command
.issue:
    call ata_issue              ; CF=1: AH = status
    jc .error
    cmp bl, 2
    je .verify
    movzx dx, bh                ; DX: sectors left in this command
.sector:
    push bx
    mov bx, [fs:si + ATA_E_BASE]
    call ata_wait_drq
    pop bx
    jc .device_error
    push dx
    push cx
    mov dx, [fs:si + ATA_E_BASE]    ; data register
    mov cx, 256
    cmp bl, 1
    je .write
    rep insw
    jmp .moved
.write:
    push ds
    push si
    push es
    pop ds
    mov si, di
    rep outsw
    mov di, si
    pop si
    pop ds
.moved:
    pop cx
    pop dx
    call ata_normalise
    dec cx
    inc ebp
    dec dx
    jnz .sector
    cmp bl, 1
    jne .chunk
    ; after the last sector of a write the drive writes it out: BSY, then the final status
    push bx
    mov bx, [fs:si + ATA_E_BASE]
    call ata_wait_busy
    pop bx
    jc .timeout
    test al, ATA_ST_ERR | ATA_ST_DF
    jnz .device_error
    jmp .chunk
.verify:                        ; the drive reads the sectors itself; only the status matters
    push bx
    mov bx, [fs:si + ATA_E_BASE]
    call ata_wait_busy
    pop bx
    jc .timeout
    test al, ATA_ST_ERR | ATA_ST_DF
    jnz .device_error
    movzx edx, bh
    sub cx, dx
    add ebp, edx
    jmp .chunk
.success:
    xor ah, ah
    jmp .out
.timeout:
    mov ah, DISK_TIMEOUT
    jmp .error
.device_error:
    call ata_error_status       ; AL = status -> AH = INT 13h code
.error:
.out:
    ; read the status register itself once, which also clears a pending INTRQ
    push ax
    mov dx, [fs:si + ATA_E_BASE]
    add dx, ATA_STATUS
    in al, dx
    pop ax
    pop dx                      ; sectors asked for
    sub dx, cx                  ; - sectors left = sectors done
    mov cx, dx
    pop es
    pop ebp
    pop edi
    pop edx
    pop ebx
    ret

; ata_normalise: ES:DI -> the same address with DI < 16.
ata_normalise:
    push ax
    mov ax, di
    shr ax, 4
    and di, 0Fh
    push bx
    mov bx, es
    add bx, ax
    mov es, bx
    pop bx
    pop ax
    ret

; ata_error_status: AL = status with ERR or DF (or no DRQ) -> AH = INT 13h status, from the
; error register (ATA-6 §7.9): UNC -> 10h, IDNF -> 04h, ABRT -> 03h for a write (a read-only
; medium refuses writes with ABRT) and 01h otherwise, TK0NF -> 40h, AMNF -> 02h, BBK -> 0Ah;
; DF -> CCh (write fault); anything else -> 20h (controller failure).
ata_error_status:
    push dx
    mov ah, DISK_TIMEOUT        ; still busy (or FFh): the drive never finished
    test al, ATA_ST_BSY
    jnz .ret
    mov ah, DISK_WRITE_FAULT
    test al, ATA_ST_DF
    jnz .ret
    mov ah, DISK_CONTROLLER
    test al, ATA_ST_ERR
    jz .ret
    mov dx, [fs:si + ATA_E_BASE]
    add dx, ATA_ERROR
    in al, dx
    mov ah, DISK_CRC_ERROR
    test al, 40h
    jnz .ret
    mov ah, DISK_NOT_FOUND
    test al, 10h
    jnz .ret
    test al, 04h
    jz .not_abort
    mov ah, DISK_WRITE_PROTECT
    cmp bl, 1
    je .ret
    mov ah, DISK_BAD_COMMAND
    jmp .ret
.not_abort:
    mov ah, DISK_SEEK_FAILED
    test al, 02h
    jnz .ret
    mov ah, DISK_NO_ADDR_MARK
    test al, 01h
    jnz .ret
    mov ah, 0Ah                 ; bad sector flag
    test al, 80h
    jnz .ret
    mov ah, DISK_CONTROLLER
.ret:
    pop dx
    ret

; ata_issue: select the drive at FS:SI and start a command on BH sectors (1-128) from LBA EBP:
; BL = 0 READ SECTORS, 1 WRITE SECTORS, 2 READ VERIFY SECTORS. The address goes out as a 28-bit
; LBA, a 48-bit LBA (the EXT commands; only when the range reaches beyond 2^28 sectors), or, for
; a drive without LBA, as the drive's own cylinder/head/sector. CF=1, AH = status on failure.
ata_issue:
    pushad
    mov bx, [fs:si + ATA_E_BASE]
    call ata_wait_busy          ; the drive must be idle before it is selected
    jc .timeout
    mov dx, bx
    add dx, ATA_DEVICE
    mov al, [fs:si + ATA_E_DEV]
    out dx, al
    call ata_delay400
    call ata_wait_busy
    jc .timeout
    mov ecx, [esp + 16]         ; the caller's EBX (PUSHAD: EDI ESI EBP ESP EBX ...)
    movzx edi, ch               ; EDI = count
    mov eax, ebp
    test byte [fs:si + ATA_E_FLAGS], AF_LBA
    jz .chs
    lea edx, [eax + edi]
    test byte [fs:si + ATA_E_FLAGS], AF_LBA48
    jz .lba28
    cmp edx, 10000000h
    ja .lba48
.lba28:
    ; device: LBA mode (bit 6), the drive bit, LBA bits 27-24
    shr eax, 24
    and al, 0Fh
    or al, [fs:si + ATA_E_DEV]
    or al, 0E0h
    mov dx, bx
    add dx, ATA_DEVICE
    out dx, al
    mov eax, ebp
    call .regs                  ; count, LBA 7-0, 15-8, 23-16
    mov al, ATA_CMD_READ
    mov ah, ATA_CMD_WRITE
    mov dl, ATA_CMD_VERIFY
    jmp .command
.lba48:
    mov al, [fs:si + ATA_E_DEV]
    or al, 0E0h
    mov dx, bx
    add dx, ATA_DEVICE
    out dx, al
    ; the high halves first (the registers are two-byte FIFOs): count 15-8 = 0, LBA 31-24, 0, 0
    mov dx, bx
    add dx, ATA_COUNT
    xor al, al
    out dx, al
    inc dx
    mov eax, ebp
    shr eax, 24
    out dx, al                  ; LBA0 <- bits 31-24
    inc dx
    xor al, al
    out dx, al                  ; LBA1 <- bits 39-32
    inc dx
    out dx, al                  ; LBA2 <- bits 47-40
    mov eax, ebp
    call .regs
    mov al, ATA_CMD_READ_EXT
    mov ah, ATA_CMD_WRITE_EXT
    mov dl, ATA_CMD_VERIFY_EXT
    jmp .command
.chs:
    ; sector = LBA mod spt + 1, track = LBA / spt, head = track mod heads, cylinder = track / heads
    xor edx, edx
    movzx ecx, word [fs:si + ATA_E_PSPT]
    div ecx
    inc dl
    push dx                     ; sector
    xor edx, edx
    movzx ecx, word [fs:si + ATA_E_PHEADS]
    div ecx                     ; EAX = cylinder, DL = head
    mov cl, dl
    or cl, [fs:si + ATA_E_DEV]
    mov dx, bx
    add dx, ATA_DEVICE
    push ax
    mov al, cl
    out dx, al
    pop ax
    mov dx, bx
    add dx, ATA_COUNT
    mov cx, ax                  ; cylinder
    mov ax, di
    out dx, al                  ; count (256 -> 0)
    inc dx
    pop ax
    out dx, al                  ; sector
    inc dx
    mov al, cl
    out dx, al                  ; cylinder low
    inc dx
    mov al, ch
    out dx, al                  ; cylinder high
    mov al, ATA_CMD_READ
    mov ah, ATA_CMD_WRITE
    mov dl, ATA_CMD_VERIFY
.command:
    mov ecx, [esp + 16]
    cmp cl, 1
    je .cmd_write
    jb .cmd_out
    mov al, dl
    jmp .cmd_out
.cmd_write:
    mov al, ah
.cmd_out:
    mov dx, bx
    add dx, ATA_COMMAND
    out dx, al
    call ata_delay400
    popad
    clc
    ret
.timeout:
    popad
    mov ah, DISK_TIMEOUT
    stc
    ret

; .regs: DI = count, EAX = LBA: sector count, LBA 7-0, 15-8, 23-16.
.regs:
    mov dx, bx
    add dx, ATA_COUNT
    push ax
    mov ax, di
    out dx, al
    pop ax
    inc dx
    out dx, al
    inc dx
    shr eax, 8
    out dx, al
    inc dx
    shr eax, 8
    out dx, al
    ret
