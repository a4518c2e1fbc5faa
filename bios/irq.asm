; irq.asm — hardware interrupt handlers (except the keyboard's, in kbd.asm).
;
; IRQ0-7 arrive from the master 8259A as INT 08h-0Fh, IRQ8-15 from the slave as INT 70h-77h
; (post.asm programs the vector bases). Each handler ends with a non-specific EOI (Intel 8259A
; datasheet, OCW2 20h) to the PIC(s) that delivered it: a slave interrupt needs an EOI to the
; slave and to the master, whose IR2 carried it.
;
; Spurious interrupts (Intel 8259A datasheet, "Interrupt sequence"): if a request goes away
; before the CPU acknowledges it, the 8259A still answers with its IR7 vector but sets no ISR
; bit. A handler on IR7 (IRQ7 or IRQ15) therefore reads the ISR first: bit 7 clear means
; spurious, and no EOI must be sent to that chip (a slave's spurious IRQ15 still gets an EOI to
; the master, which did put IR2 in service). Unexpected interrupts (a device nobody drives) are
; masked at the PIC and their level stored at 40:6Bh, as the IBM PC/AT BIOS does.

; ---------------------------------------------------------------------------------------------
; IRQ0 (INT 08h): the system timer, 18.2 times a second (IBM PC/AT Technical Reference, INT 08h):
; count ticks since midnight at 40:6Ch and roll over at 1800B0h (= 24 h of 65536/1193182 s
; ticks), setting the midnight flag at 40:70h; count down the diskette motor time-out and switch
; the motors off when it reaches 0; call the user hook INT 1Ch; EOI.
; ---------------------------------------------------------------------------------------------
irq0_handler:
    push ax
    push dx
    push ds
    mov ax, BDA_SEG
    mov ds, ax
    inc dword [BDA_TICKS]
    cmp dword [BDA_TICKS], 1800B0h
    jb .not_midnight
    mov dword [BDA_TICKS], 0
    mov byte [BDA_MIDNIGHT], 1
.not_midnight:
    cmp byte [BDA_FD_MOTOR_TO], 0
    je .motors_done
    dec byte [BDA_FD_MOTOR_TO]
    jnz .motors_done
    and byte [BDA_FD_MOTOR], 0F0h
    mov dx, FDC_DOR
    mov al, 0Ch                 ; motors off; controller out of reset, DMA and IRQ enabled
    out dx, al
.motors_done:
    int 1Ch
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop ds
    pop dx
    pop ax
    iret

; ---------------------------------------------------------------------------------------------
; IRQ6 (INT 0Eh): the diskette controller finished something. Set bit 7 of 40:3Eh, which the
; diskette code waits for (IBM PC/AT Technical Reference, DISK_INT).
; ---------------------------------------------------------------------------------------------
irq6_handler:
    push ax
    push ds
    mov ax, BDA_SEG
    mov ds, ax
    or byte [BDA_FD_RECAL], 80h
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop ds
    pop ax
    iret

; ---------------------------------------------------------------------------------------------
; IRQ8 (INT 70h): the real-time clock (MC146818A datasheet, "Interrupts"). Reading register C
; tells which flag is set and clears it (and the IRQ line). A periodic interrupt (PF, 1024 Hz)
; counts down the wait of INT 15h AH=83h/86h by 976 us; when it runs out, set bit 7 of the
; caller's flag byte (40:98h points to it) and turn the periodic interrupt off. An alarm (AF)
; calls INT 4Ah.
; ---------------------------------------------------------------------------------------------
irq8_handler:
    push ax
    push bx
    push ds
    mov ax, BDA_SEG
    mov ds, ax
    mov al, CMOS_REG_C
    out CMOS_INDEX, al
    in al, CMOS_DATA
    mov ah, al
    test ah, 40h                ; PF: periodic
    jz .no_periodic
    test byte [BDA_WAIT_ACTIVE], 01h
    jz .no_periodic
    sub dword [BDA_WAIT_COUNT], 976
    jnc .no_periodic            ; time left
    and byte [BDA_WAIT_ACTIVE], 0FEh
    push ds
    lds bx, [BDA_WAIT_PTR]
    or byte [bx], 80h           ; the wait is over
    pop ds
    mov al, CMOS_REG_B          ; PIE off
    out CMOS_INDEX, al
    in al, CMOS_DATA
    and al, 0BFh
    xchg al, ah
    mov al, CMOS_REG_B
    out CMOS_INDEX, al
    xchg al, ah
    out CMOS_DATA, al
.no_periodic:
    test ah, 20h                ; AF: alarm
    jz .eoi
    int 4Ah
.eoi:
    mov al, PIC_EOI
    out PIC2_CMD, al
    out PIC1_CMD, al
    pop ds
    pop bx
    pop ax
    iret

; ---------------------------------------------------------------------------------------------
; IRQ13 (INT 75h): a math coprocessor error. Clear the FPU busy latch (port F0h) and EOI; the AT
; BIOS then raises INT 02h for DOS-era software, which nothing here needs.
; ---------------------------------------------------------------------------------------------
irq13_fpu:
    push ax
    xor al, al
    out 0F0h, al
    mov al, PIC_EOI
    out PIC2_CMD, al
    out PIC1_CMD, al
    pop ax
    iret

; ---------------------------------------------------------------------------------------------
; IRQ14 (INT 76h) and IRQ15 (INT 77h): ATA channels. This BIOS polls the drives (with nIEN
; set), so these come only from an operating system's commands or a drive that ignores nIEN:
; note the interrupt at 40:8Eh, as the AT BIOS does, and EOI. IRQ15 is also the slave's
; spurious-interrupt level.
; ---------------------------------------------------------------------------------------------
irq15_handler:
    push ax
    mov al, PIC_READ_ISR
    out PIC2_CMD, al
    in al, PIC2_CMD
    test al, 80h
    jnz irq14_handler.real
    ; spurious IRQ15: only the master has something in service (IR2)
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop ax
    iret

irq14_handler:
    push ax
.real:
    push ds
    mov ax, BDA_SEG
    mov ds, ax
    mov byte [BDA_HD_INTFLAG], 0FFh
    pop ds
    mov al, PIC_EOI
    out PIC2_CMD, al
    out PIC1_CMD, al
    pop ax
    iret

; ---------------------------------------------------------------------------------------------
; Unexpected interrupts on the master (IRQ2-5, IRQ7) and the slave (IRQ9-12).
; ---------------------------------------------------------------------------------------------
irq_default_master:
    push ax
    push ds
    mov ax, BDA_SEG
    mov ds, ax
    mov al, PIC_READ_ISR
    out PIC1_CMD, al
    in al, PIC1_CMD
    test al, al
    jz .spurious                ; nothing in service: a spurious IRQ7, no EOI
    mov [BDA_LAST_IRQ], al
    mov ah, al
    in al, PIC1_DATA
    or al, ah                   ; mask the level that interrupted
    out PIC1_DATA, al
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop ds
    pop ax
    iret
.spurious:
    mov byte [BDA_LAST_IRQ], 0FFh
    pop ds
    pop ax
    iret

irq_default_slave:
    push ax
    push ds
    mov ax, BDA_SEG
    mov ds, ax
    mov al, PIC_READ_ISR
    out PIC2_CMD, al
    in al, PIC2_CMD
    test al, al
    jz .spurious
    mov [BDA_LAST_IRQ], al
    mov ah, al
    in al, PIC2_DATA
    or al, ah
    out PIC2_DATA, al
    mov al, PIC_EOI
    out PIC2_CMD, al
    out PIC1_CMD, al
    pop ds
    pop ax
    iret
.spurious:                      ; the slave has nothing in service; the master's IR2 does
    mov byte [BDA_LAST_IRQ], 0FFh
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop ds
    pop ax
    iret
