; floppy.asm — the diskette BIOS (INT 40h, reached through INT 13h for drives 00h-7Fh) for an
; Intel 82077AA floppy disk controller with DMA on channel 2 of the 8237A and IRQ6.
;
; Sources: Intel 82077AA CHMOS Single-Chip Floppy Disk Controller datasheet (290166): registers
; DOR, MSR, DSR, FIFO, DIR, CCR (§2); commands READ DATA, WRITE DATA, READ ID, RECALIBRATE, SEEK,
; SENSE INTERRUPT STATUS, SPECIFY and their result phases ST0-ST3 (§5); reset (§2.1.2). Intel
; 8237A datasheet (mode register, byte pointer flip-flop). IBM PC/AT Technical Reference
; (DISKETTE_IO: the diskette parameter table at INT 1Eh, motor handling, 40:3Eh-40:48h and
; 40:8Bh-40:95h, the status codes); Ralf Brown's Interrupt List (INT 13h AH=00h-18h).
;
; Functions: 00h reset, 01h status, 02h read, 03h write, 04h verify, 08h drive parameters, 15h
; drive type, 16h change line, 17h/18h set type for format (accepted). 05h format is not
; implemented (AH = 01h).
;
; How a transfer goes: motor on (and a wait for it to spin up if it was off), recalibrate the
; first time, find the medium's data rate (READ ID at each rate the drive type allows, as
; "media sense"), seek to the cylinder, program DMA channel 2 for the buffer, send READ DATA or
; WRITE DATA, wait for IRQ6, read the 7 result bytes into 40:42h. Multi-sector transfers use the
; MT bit, so a request may run from head 0 onto head 1 of the same cylinder; the DMA count's
; terminal count ends the command. A buffer that crosses a 64 KiB boundary cannot be reached by
; the 8237A's 16-bit address counter: such a request fails with 09h, as on the AT (DOS splits it).
; The motor is switched off by the timer interrupt about 2 s after the last operation.

; Media each drive type (CMOS 10h nibble) can hold, most capable first:
; (data rate code, sectors per track, cylinders). Rate codes (DSR/CCR): 0 = 500 kb/s,
; 1 = 300 kb/s, 2 = 250 kb/s, 3 = 1 Mb/s.
fd_media_table:
    dw 0                        ; type 0: no drive
    dw .t1, .t2, .t3, .t4, .t5
.t1: db 2, 9, 40, 0FFh          ; 360K 5.25"
.t2: db 0, 15, 80, 1, 9, 40, 0FFh   ; 1.2M 5.25" (or 360K media at 300 kb/s)
.t3: db 2, 9, 80, 0FFh          ; 720K 3.5"
.t4: db 0, 18, 80, 2, 9, 80, 0FFh   ; 1.44M 3.5" (or 720K media)
.t5: db 3, 36, 80, 0, 18, 80, 2, 9, 80, 0FFh ; 2.88M 3.5"

; Per drive type: sectors per track and last cylinder for AH=08h (the drive's largest medium).
fd_type_geometry:
    db 0, 0                     ; none
    db 9, 39
    db 15, 79
    db 9, 79
    db 18, 79
    db 36, 79

; EBDA bytes of the diskette BIOS (beyond the BDA's): per drive, the sectors per track and
; cylinders of the medium found by media sense.
EBDA_FD_SPT     equ 070h        ; 2 bytes
EBDA_FD_CYLS    equ 072h        ; 2 bytes

; ---------------------------------------------------------------------------------------------
; POST: reset the controller if CMOS says there are drives.
; ---------------------------------------------------------------------------------------------
floppy_post:
    call cmos_present
    jnc .none
    mov al, CMOS_FLOPPY
    call cmos_read
    test al, al
    jz .none
    mov bl, al
    mov cl, 6
    call pic_unmask             ; IRQ6
    mov al, bl
    shr al, 4
    jz .b
    MSG "Floppy A: "
    call fd_print_type
.b:
    mov al, bl
    and al, 0Fh
    jz .reset
    MSG "Floppy B: "
    call fd_print_type
.reset:
    call fd_reset
    test ah, ah
    jz .none
    MSG "Floppy controller: no answer to reset", 13, 10
.none:
    ret

fd_print_type:                  ; AL = CMOS drive type
    cmp al, 5
    ja .unknown
    movzx si, al
    shl si, 1
    mov si, [cs:.names + si]
    call con_puts
    ret
.unknown:
    MSG "unknown type", 13, 10
    ret
.names: dw 0, .n1, .n2, .n3, .n4, .n5
.n1: db '360 KB 5.25"', 13, 10, 0
.n2: db '1.2 MB 5.25"', 13, 10, 0
.n3: db '720 KB 3.5"', 13, 10, 0
.n4: db '1.44 MB 3.5"', 13, 10, 0
.n5: db '2.88 MB 3.5"', 13, 10, 0

; fd_drive_type: DL = drive -> AL = CMOS type (0 = none).
fd_drive_type:
    xor al, al
    cmp dl, 1
    ja .ret
    push es
    call es_ebda
    test byte [es:EBDA_FLAGS], EF_CMOS
    pop es
    jz .ret
    mov al, CMOS_FLOPPY
    call cmos_read
    test dl, dl
    jnz .b
    shr al, 4
    jmp .ret
.b:
    and al, 0Fh
.ret:
    ret

; ---------------------------------------------------------------------------------------------
; INT 40h: the diskette BIOS. Frame as hd_int13's (int13.asm); DS = 40h, FS = EBDA.
; ---------------------------------------------------------------------------------------------
int40_handler:
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
    mov bx, [bp + H_EBX]
    mov byte [BDA_FD_MOTOR_TO], 0FFh    ; keep the motor on while we work
    cmp ah, 00h
    je fd_fn_reset
    cmp ah, 01h
    je fd_fn_status
    cmp ah, 02h
    je fd_fn_read
    cmp ah, 03h
    je fd_fn_write
    cmp ah, 04h
    je fd_fn_verify
    cmp ah, 08h
    je fd_fn_params
    cmp ah, 15h
    je fd_fn_type
    cmp ah, 16h
    je fd_fn_change
    cmp ah, 17h
    je fd_fn_ok
    cmp ah, 18h
    je fd_fn_set_media
    mov ah, DISK_BAD_COMMAND
    jmp fd_exit

fd_fn_ok:
    xor ah, ah
; fd_exit: AH = status -> 40:41h, the caller's AH, CF.
fd_exit:
    mov [BDA_FD_STATUS], ah
    mov [bp + H_EAX + 1], ah
    test ah, ah
    jz .ok
    stc
    jmp fd_exit_keep
.ok:
    clc
fd_exit_keep:
    pushf
    ; the motor goes off after the parameter table's delay (byte 2, in timer ticks)
    push es
    push bx
    xor bx, bx
    mov es, bx
    les bx, [es:1Eh * 4]
    mov bl, [es:bx + 2]
    mov [BDA_FD_MOTOR_TO], bl
    pop bx
    pop es
    popf
    popad
    pop fs
    pop es
    pop ds
    IRET_CF

fd_fn_status:
    mov ah, [BDA_FD_STATUS]
    jmp fd_exit

fd_fn_reset:
    call fd_reset
    jmp fd_exit

; ---------------------------------------------------------------------------------------------
; fd_reset: reset the controller (DOR nRESET low, then high), collect the four SENSE INTERRUPT
; STATUS results the 82077AA keeps after a reset (one per drive), SPECIFY the step rate, head
; times and DMA mode from the parameter table. Every drive must be recalibrated afterwards.
; AH = status.
; ---------------------------------------------------------------------------------------------
fd_reset:
    push bx
    push cx
    push dx
    push es
    cli
    and byte [BDA_FD_RECAL], 70h    ; no drive recalibrated, no IRQ seen
    and byte [BDA_FD_MOTOR], 0F0h
    mov dx, FDC_DOR
    xor al, al
    out dx, al                  ; nRESET = 0
    mov cx, 1
    call delay_15us
    mov al, 0Ch                 ; nRESET = 1, DMA gate (IRQ and DRQ enabled), no motors
    out dx, al
    sti
    call fd_wait_irq
    jc .timeout
    mov cx, 4
.sense:
    call fd_sense_int
    jc .timeout
    loop .sense
    mov dx, FDC_CCR
    xor al, al                  ; 500 kb/s until a medium says otherwise
    out dx, al
    mov byte [BDA_FD_RATE], 0
    mov al, 03h                 ; SPECIFY
    call fd_out
    jc .timeout
    xor bx, bx
    mov es, bx
    les bx, [es:1Eh * 4]
    mov al, [es:bx]             ; step rate / head unload
    call fd_out
    jc .timeout
    mov al, [es:bx + 1]         ; head load / ND (bit 0 = 0: DMA)
    and al, 0FEh
    call fd_out
    jc .timeout
    mov word [BDA_FD_MEDIA], 0  ; media must be sensed again
    xor ah, ah
    jmp .ret
.timeout:
    mov ah, DISK_CONTROLLER
.ret:
    pop es
    pop dx
    pop cx
    pop bx
    ret

; fd_out: AL -> the FIFO once the controller asks for a command byte (MSR RQM = 1, DIO = 0).
; fd_in: AL <- the FIFO once it offers a result byte (RQM = 1, DIO = 1). CF=1 on time-out.
fd_out:
    push cx
    push dx
    push ax
    mov dx, FDC_MSR
    mov cx, 0FFFFh
.poll:
    in al, dx
    and al, 0C0h
    cmp al, 80h
    je .ready
    loop .poll
    pop ax
    pop dx
    pop cx
    stc
    ret
.ready:
    pop ax
    mov dx, FDC_FIFO
    out dx, al
    pop dx
    pop cx
    clc
    ret

fd_in:
    push cx
    push dx
    mov dx, FDC_MSR
    mov cx, 0FFFFh
.poll:
    in al, dx
    and al, 0C0h
    cmp al, 0C0h
    je .ready
    loop .poll
    pop dx
    pop cx
    stc
    ret
.ready:
    mov dx, FDC_FIFO
    in al, dx
    pop dx
    pop cx
    clc
    ret

; fd_wait_irq: wait for IRQ6 (bit 7 of 40:3Eh, set by irq6_handler), at most about 2 s; then
; clear the bit. CF=1 on time-out. The CPU halts between interrupts when the timer ticks.
fd_wait_irq:
    push ax
    push bx
    push cx
    push es
    call es_ebda
    mov bx, [BDA_TICKS]
    mov cx, 0
.wait:
    cli
    test byte [BDA_FD_RECAL], 80h
    jnz .got
    test byte [es:EBDA_FLAGS], EF_TIMER_OK
    jz .spin
    sti
    hlt                         ; STI's one-instruction delay: no interrupt is lost in between
    mov ax, [BDA_TICKS]
    sub ax, bx
    cmp ax, 37
    ja .timeout
    jmp .wait
.spin:
    sti
    push cx
    mov cx, 2
    call delay_15us
    pop cx
    loop .wait
.timeout:
    sti
    pop es
    pop cx
    pop bx
    pop ax
    stc
    ret
.got:
    and byte [BDA_FD_RECAL], 7Fh
    sti
    pop es
    pop cx
    pop bx
    pop ax
    clc
    ret

; fd_sense_int: SENSE INTERRUPT STATUS -> AL = ST0, AH = present cylinder. CF=1 on time-out.
fd_sense_int:
    mov al, 08h
    call fd_out
    jc .ret
    call fd_in
    jc .ret
    mov ah, al
    call fd_in
    xchg al, ah
.ret:
    ret

; fd_results: read the 7 result bytes of a READ/WRITE/READ ID into 40:42h. CF=1 on time-out.
fd_results:
    push cx
    push di
    mov di, BDA_FD_RESULT
    mov cx, 7
.byte:
    call fd_in
    jc .ret
    mov [di], al
    inc di
    loop .byte
    clc
.ret:
    pop di
    pop cx
    ret

; ---------------------------------------------------------------------------------------------
; Drive preparation: motor, change line, recalibrate, media sense, seek.
; DL = drive (0/1). AH = status on return, CF = (AH != 0).
; ---------------------------------------------------------------------------------------------

; fd_motor_on: select drive DL and start its motor; wait for it to spin up if it was off
; (parameter table byte 10, in 1/8 s). Bit 7 of 40:3Fh: the last operation was a write.
fd_motor_on:
    pusha
    push es
    mov cl, dl
    mov al, 10h
    shl al, cl                  ; motor enable bit of the drive
    mov bl, 1
    shl bl, cl                  ; 40:3Fh bit of the drive
    cli
    mov ah, [BDA_FD_MOTOR]
    test ah, bl
    pushf                       ; ZF=1: the motor was off
    and byte [BDA_FD_MOTOR], 0F0h
    or [BDA_FD_MOTOR], bl
    or al, dl
    or al, 0Ch                  ; nRESET, DMA gate
    mov dx, FDC_DOR
    out dx, al
    popf                        ; (ZF: was the motor on? IF as saved: off)
    sti
    jnz .running
    xor bx, bx
    mov es, bx
    les bx, [es:1Eh * 4]
    movzx bx, byte [es:bx + 10] ; 1/8 s units
    imul bx, bx, 9
    shr bx, 2                   ; -> timer ticks (18.2 per s: 1/8 s = 2.27 ticks)
    inc bx
    call wait_ticks
.running:
    pop es
    popa
    ret

; fd_prepare: everything before a transfer on drive DL, cylinder CH, head DH.
fd_prepare:
    push bx
    push cx
    call fd_motor_on
    ; The change line (DIR bit 7): the medium was changed or removed since the last step pulse.
    ; Remember it for AH=16h, forget the medium, and clear the line by stepping the head.
    push dx
    mov dx, FDC_DIR
    in al, dx
    pop dx
    test al, 80h
    jz .no_change
    mov cl, dl
    mov al, 1
    shl al, cl
    or [fs:EBDA_FD_CHANGED], al
    movzx bx, dl
    mov byte [BDA_FD_MEDIA + bx], 0
    push cx
    mov ch, 1
    call fd_seek                ; a step pulse to cylinder 1 (recalibrate follows)
    pop cx
    mov cl, dl
    mov al, 1
    shl al, cl
    not al
    and [BDA_FD_RECAL], al
.no_change:
    ; Recalibrate a drive the first time (and after a reset or a change).
    mov cl, dl
    mov al, 1
    shl al, cl
    test [BDA_FD_RECAL], al
    jnz .calibrated
    call fd_recalibrate
    jc .ret
.calibrated:
    movzx bx, dl
    test byte [BDA_FD_MEDIA + bx], 10h
    jnz .sensed
    call fd_media_sense
    jc .ret
.sensed:
    ; The data rate of this drive's medium (the controller has one rate for both drives).
    mov al, [BDA_FD_MEDIA + bx]
    shr al, 6
    call fd_set_rate
    pop cx
    push cx
    call fd_seek
.ret:
    pop cx
    pop bx
    ret

; fd_set_rate: data rate code AL into the CCR (and 40:8Bh bits 7-6).
fd_set_rate:
    push dx
    push ax
    mov dx, FDC_CCR
    out dx, al
    shl al, 6
    mov [BDA_FD_RATE], al
    pop ax
    pop dx
    ret

; fd_recalibrate: RECALIBRATE drive DL; an 80-track drive may need a second one (the 82077AA
; gives up after 79 step pulses). AH = status, CF.
fd_recalibrate:
    push cx
    mov cx, 2
.try:
    and byte [BDA_FD_RECAL], 7Fh
    mov al, 07h
    call fd_out
    jc .timeout
    mov al, dl
    call fd_out
    jc .timeout
    call fd_wait_irq
    jc .timeout
    call fd_sense_int
    jc .timeout
    and al, 0F0h
    cmp al, 20h                 ; seek end, normal termination
    je .ok
    loop .try
    mov ah, DISK_SEEK_FAILED
    stc
    pop cx
    ret
.ok:
    push bx
    movzx bx, dl
    mov byte [BDA_FD_CYL + bx], 0
    mov cl, dl
    mov al, 1
    shl al, cl
    or [BDA_FD_RECAL], al
    pop bx
    xor ah, ah
    pop cx
    clc
    ret
.timeout:
    mov ah, DISK_TIMEOUT
    pop cx
    stc
    ret

; fd_seek: head of drive DL to cylinder CH (DH = head). AH = status, CF.
fd_seek:
    push bx
    movzx bx, dl
    cmp [BDA_FD_CYL + bx], ch
    je .there
    and byte [BDA_FD_RECAL], 7Fh
    mov al, 0Fh                 ; SEEK
    call fd_out
    jc .timeout
    mov al, dh
    and al, 1
    shl al, 2
    or al, dl
    call fd_out
    jc .timeout
    mov al, ch
    call fd_out
    jc .timeout
    call fd_wait_irq
    jc .timeout
    call fd_sense_int
    jc .timeout
    and al, 0E0h
    cmp al, 20h
    jne .failed
    cmp ah, ch
    jne .failed
    mov [BDA_FD_CYL + bx], ch
    ; head settle time (parameter table byte 9, ms) before data moves
    push es
    push bx
    xor bx, bx
    mov es, bx
    les bx, [es:1Eh * 4]
    movzx ax, byte [es:bx + 9]
    call delay_ms
    pop bx
    pop es
.there:
    xor ah, ah
    pop bx
    clc
    ret
.failed:
    mov byte [BDA_FD_CYL + bx], 0FFh
    mov ah, DISK_SEEK_FAILED
    pop bx
    stc
    ret
.timeout:
    mov ah, DISK_TIMEOUT
    pop bx
    stc
    ret

; fd_media_sense: find the data rate at which the medium in drive DL can be read (READ ID on
; head 0 of the current cylinder at each rate the drive type allows). Sets 40:90h+drive: bits
; 7-6 rate, bit 4 established, bits 2-0 = 7 ("other" drive/medium combination); and the
; medium's sectors per track and cylinders in the EBDA. AH = status, CF.
fd_media_sense:
    push bx
    push cx
    push si
    call fd_drive_type
    cmp al, 5
    ja .no_type
    movzx si, al
    shl si, 1
    mov si, [cs:fd_media_table + si]
    test si, si
    jz .no_type
.candidate:
    mov al, [cs:si]
    cmp al, 0FFh
    je .not_found
    call fd_set_rate
    and byte [BDA_FD_RECAL], 7Fh
    mov al, 4Ah                 ; READ ID, MFM
    call fd_out
    jc .timeout
    mov al, dl                  ; head 0
    call fd_out
    jc .timeout
    call fd_wait_irq
    jc .timeout
    call fd_results
    jc .timeout
    test byte [BDA_FD_RESULT], 0C0h
    jz .found                   ; ST0 IC = 00: an ID field was read at this rate
    add si, 3
    jmp .candidate
.found:
    movzx bx, dl
    mov al, [cs:si]
    shl al, 6
    or al, 17h
    mov [BDA_FD_MEDIA + bx], al
    mov al, [cs:si + 1]
    mov [fs:EBDA_FD_SPT + bx], al
    mov al, [cs:si + 2]
    mov [fs:EBDA_FD_CYLS + bx], al
    xor ah, ah
    clc
    jmp .ret
.no_type:
    mov ah, DISK_BAD_COMMAND
    stc
    jmp .ret
.not_found:
    ; No rate works: no medium, or an unformatted one. ST0 NR (not ready) means no medium.
    mov ah, DISK_TIMEOUT
    test byte [BDA_FD_RESULT], 08h
    jnz .fail
    mov ah, DISK_MEDIA_TYPE
.fail:
    stc
    jmp .ret
.timeout:
    mov ah, DISK_TIMEOUT
    stc
.ret:
    pop si
    pop cx
    pop bx
    ret

; ---------------------------------------------------------------------------------------------
; AH=02h/03h/04h: AL sectors, CH cylinder, CL sector, DH head, DL drive, ES:BX buffer.
; Returns AL = sectors transferred (the whole request on success, 0 on an error).
; Up to three attempts, with a controller reset in between (not for a write-protected disk).
; ---------------------------------------------------------------------------------------------
fd_fn_read:
    mov si, 0
    jmp fd_transfer
fd_fn_write:
    mov si, 1
    jmp fd_transfer
fd_fn_verify:
    mov si, 2
fd_transfer:                    ; SI = operation
    call fd_drive_type
    test al, al
    jz .bad_param
    movzx di, byte [bp + H_EAX] ; DI = sectors asked for
    mov byte [bp + H_EAX], 0
    test di, di
    jz .bad_param
    test cl, 3Fh
    jz .bad_param
    ; The 8237A counts addresses in 16 bits within a 64 KiB page (the page register holds bits
    ; 23-16): the buffer must not cross a 64 KiB boundary.
    movzx eax, word [bp + H_ES]
    shl eax, 4
    movzx ebx, word [bp + H_EBX]
    add eax, ebx                ; EAX = physical address of the buffer
    movzx ebx, di
    shl ebx, 9
    lea ebx, [eax + ebx - 1]    ; its last byte
    xor ebx, eax
    test ebx, 0FFFF0000h
    jz .no_boundary
    mov ah, DISK_DMA_BOUNDARY
    jmp fd_exit
.bad_param:
    mov ah, DISK_BAD_COMMAND
    jmp fd_exit
.no_boundary:
    push eax                    ; [sp+2] after the attempt counter: the buffer address
    mov bx, 3
.attempt:
    push bx
    call fd_prepare
    jc .failed
    mov eax, [esp + 2]
    call fd_dma_setup
    call fd_command
    jc .timeout
    call fd_wait_irq
    jc .timeout
    call fd_results
    jc .timeout
    call fd_result_status
    jnc .success
    cmp ah, DISK_WRITE_PROTECT
    je .failed
    jmp .retry
.timeout:
    mov ah, DISK_TIMEOUT
.retry:
    pop bx
    dec bx
    jz .give_up
    push ax
    call fd_reset               ; start again from a known state (recalibrate, media sense)
    pop ax
    jmp .attempt
.success:
    pop bx
    add sp, 4
    mov ax, di
    mov [bp + H_EAX], al
    xor ah, ah
    jmp fd_exit
.failed:
    pop bx
.give_up:
    add sp, 4
    jmp fd_exit

; fd_dma_setup: DMA channel 2 for DI sectors at physical address EAX; SI = 0 read (a "write
; transfer": device to memory, mode 46h), 1 write ("read transfer", 4Ah), 2 verify (42h). Mode
; bits: 01 single transfer, 0 increment, 0 no auto-init, transfer type, channel 2.
fd_dma_setup:
    push eax
    push bx
    push ebx
    mov ebx, eax
    cli
    mov al, 06h                 ; mask channel 2 while it is set up
    out DMA1_MASK, al
    out DMA1_FLIPFLOP, al       ; any write clears the byte pointer flip-flop
    mov al, 46h
    cmp si, 1
    jne .not_write
    mov al, 4Ah
.not_write:
    cmp si, 2
    jne .mode
    mov al, 42h
.mode:
    out DMA1_MODE, al
    mov al, bl                  ; address bits 7-0, 15-8
    out DMA_CH2_ADDR, al
    mov al, bh
    out DMA_CH2_ADDR, al
    shr ebx, 16                 ; bits 23-16 to the page register
    mov al, bl
    out DMA_CH2_PAGE, al
    mov ax, di
    shl ax, 9
    dec ax                      ; the count register holds bytes - 1
    out DMA_CH2_COUNT, al
    mov al, ah
    out DMA_CH2_COUNT, al
    mov al, 02h                 ; unmask channel 2
    out DMA1_MASK, al
    sti
    pop ebx
    pop bx
    pop eax
    ret

; fd_command: READ DATA (E6h: MT, MFM, skip deleted) or WRITE DATA (C5h: MT, MFM) with its 8
; parameter bytes: head/drive, C, H, R, N = 2 (512 bytes), EOT = sectors per track of the
; medium, GPL from the parameter table, DTL = FFh. A verify reads with a DMA verify transfer.
fd_command:
    push bx
    push es
    and byte [BDA_FD_RECAL], 7Fh
    mov al, 0E6h
    cmp si, 1
    jne .cmd
    mov al, 0C5h
.cmd:
    call fd_out
    jc .ret
    mov al, dh
    and al, 1
    shl al, 2
    or al, dl
    call fd_out
    jc .ret
    mov al, ch
    call fd_out
    jc .ret
    mov al, dh
    call fd_out
    jc .ret
    mov al, cl
    and al, 3Fh
    call fd_out
    jc .ret
    mov al, 2
    call fd_out
    jc .ret
    movzx bx, dl
    mov al, [fs:EBDA_FD_SPT + bx]
    call fd_out
    jc .ret
    xor bx, bx
    mov es, bx
    les bx, [es:1Eh * 4]
    mov al, [es:bx + 5]
    call fd_out
    jc .ret
    mov al, 0FFh
    call fd_out
.ret:
    pop es
    pop bx
    ret

; fd_result_status: the result bytes at 40:42h -> AH = INT 13h status, CF=1 on error.
; ST0 IC (bits 7-6): 00 normal, 01 abnormal (see ST1/ST2), 10 invalid command.
fd_result_status:
    mov al, [BDA_FD_RESULT]     ; ST0
    mov ah, DISK_OK
    test al, 0C0h
    jz .ok
    mov ah, DISK_BAD_COMMAND
    cmp al, 80h
    jae .err
    mov ah, DISK_TIMEOUT        ; NR: drive not ready (no medium)
    test al, 08h
    jnz .err
    mov al, [BDA_FD_RESULT + 1] ; ST1
    mov ah, DISK_WRITE_PROTECT
    test al, 02h                ; NW
    jnz .err
    mov ah, DISK_DMA_OVERRUN
    test al, 10h                ; OR
    jnz .err
    mov ah, DISK_CRC_ERROR
    test al, 20h                ; DE
    jnz .err
    mov ah, DISK_NOT_FOUND
    test al, 04h                ; ND
    jnz .err
    mov ah, DISK_NO_ADDR_MARK
    test al, 01h                ; MA
    jnz .err
    mov ah, DISK_NOT_FOUND
    test al, 80h                ; EN: past the end of the track
    jnz .err
    mov al, [BDA_FD_RESULT + 2] ; ST2
    mov ah, DISK_SEEK_FAILED
    test al, 12h                ; WC, BC: wrong cylinder
    jnz .err
    mov ah, DISK_CONTROLLER
.err:
    stc
    ret
.ok:
    clc
    ret

; AH=08h: BL = drive type, CH = last cylinder, CL = sectors per track, DH = last head, DL =
; number of drives, ES:DI = the diskette parameter table, AX = 0. A drive that is not there
; gives zeros (with DL = the number of drives), as IBM's BIOS does.
fd_fn_params:
    call fd_drive_type
    mov bl, al
    ; count drives
    push dx
    xor cl, cl
    push bx
    mov dl, 0
    call fd_drive_type
    test al, al
    jz .no_a
    inc cl
.no_a:
    mov dl, 1
    call fd_drive_type
    test al, al
    jz .no_b
    inc cl
.no_b:
    pop bx
    pop dx
    mov byte [bp + H_EDX], cl   ; DL = drives
    mov word [bp + H_EAX], 0
    test bl, bl
    jz .absent
    cmp bl, 5
    ja .absent
    movzx si, bl
    shl si, 1
    mov ax, [cs:fd_type_geometry + si]   ; AL = sectors, AH = last cylinder
    mov [bp + H_ECX], al
    mov [bp + H_ECX + 1], ah
    mov byte [bp + H_EDX + 1], 1
    mov byte [bp + H_EBX], bl
    mov byte [bp + H_EBX + 1], 0
    mov word [bp + H_EDI], diskette_param_table
    mov word [bp + H_ES], BIOS_SEG
    xor ah, ah
    jmp fd_exit
.absent:
    mov word [bp + H_EBX], 0
    mov word [bp + H_ECX], 0
    mov byte [bp + H_EDX + 1], 0
    mov word [bp + H_EDI], 0
    mov word [bp + H_ES], 0
    xor ah, ah
    jmp fd_exit

; AH=15h: AH = 00h no drive, 02h a diskette drive that has a change line. Not an error.
fd_fn_type:
    call fd_drive_type
    mov ah, 0
    test al, al
    jz .set
    mov ah, 02h
.set:
    mov [bp + H_EAX + 1], ah
    mov byte [BDA_FD_STATUS], 0
    clc
    jmp fd_exit_keep

; AH=16h: has the medium changed? AH = 06h (CF=1) if the change line is active or was seen by
; an earlier operation since the last AH=16h; 00h if not; 80h if there is no drive.
fd_fn_change:
    call fd_drive_type
    test al, al
    jz .no_drive
    call fd_motor_on
    push dx
    mov dx, FDC_DIR
    in al, dx
    pop dx
    mov cl, dl
    mov ah, 1
    shl ah, cl
    test al, 80h
    jnz .changed
    test [fs:EBDA_FD_CHANGED], ah
    jnz .changed
    xor ah, ah
    jmp fd_exit
.changed:
    not ah
    and [fs:EBDA_FD_CHANGED], ah
    mov ah, DISK_CHANGED
    jmp fd_exit
.no_drive:
    mov ah, DISK_TIMEOUT
    jmp fd_exit

; AH=18h: set the medium for a format: CH = last cylinder, CL = sectors per track. The drive
; type must allow it. Returns ES:DI = the parameter table.
fd_fn_set_media:
    call fd_drive_type
    cmp al, 5
    ja .unsupported
    movzx si, al
    shl si, 1
    mov si, [cs:fd_media_table + si]
    test si, si
    jz .unsupported
    mov al, cl
    and al, 3Fh
.candidate:
    cmp byte [cs:si], 0FFh
    je .unsupported
    cmp [cs:si + 1], al
    je .found
    add si, 3
    jmp .candidate
.found:
    movzx bx, dl
    mov al, [cs:si]
    shl al, 6
    or al, 17h
    mov [BDA_FD_MEDIA + bx], al
    mov al, [cs:si + 1]
    mov [fs:EBDA_FD_SPT + bx], al
    mov al, [cs:si + 2]
    mov [fs:EBDA_FD_CYLS + bx], al
    mov word [bp + H_EDI], diskette_param_table
    mov word [bp + H_ES], BIOS_SEG
    xor ah, ah
    jmp fd_exit
.unsupported:
    mov ah, DISK_MEDIA_TYPE
    jmp fd_exit
