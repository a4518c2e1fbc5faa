; int14.asm — serial ports (INT 14h, and their detection at POST) and the printer stub (INT 17h).
;
; Sources: National Semiconductor PC16550D data sheet (registers, the divisor latch behind
; LCR bit 7 (DLAB), the FIFO control register, the scratch register); IBM PC/AT Technical
; Reference, "Serial/Parallel Adapter" and INT 14h/INT 17h; Ralf Brown's Interrupt List
; (INT 14h AH=00h-03h, the line control byte of AH=00h, INT 17h status bits).

; ---------------------------------------------------------------------------------------------
; POST: COM1 (3F8h) and COM2 (2F8h) are there if their scratch register keeps what is written
; (an 8250 has none, but every 16450/16550 does; a missing port reads FFh). Each port found is
; set to COM_DIVISOR (config.inc: 115200 baud by default), 8 data bits, no parity, 1 stop bit,
; FIFOs on and cleared, DTR and RTS on, no interrupts (OUT2 off). LPT1 (378h) is there if its
; data latch reads back.
; ---------------------------------------------------------------------------------------------
serial_init:
    xor di, di                  ; next BDA slot
    mov dx, COM1_BASE
    call .probe
    mov dx, COM2_BASE
    call .probe
    ; LPT1
    mov dx, LPT1_BASE
    mov al, 0AAh
    out dx, al
    in al, dx
    cmp al, 0AAh
    jne .no_lpt
    mov al, 55h
    out dx, al
    in al, dx
    cmp al, 55h
    jne .no_lpt
    mov word [BDA_LPT_PORTS], LPT1_BASE
    MSG "LPT1 at 378h", 13, 10
.no_lpt:
    ret

.probe:
    push dx
    add dx, UART_SCR
    mov al, 5Ah
    out dx, al
    in al, dx
    cmp al, 5Ah
    jne .absent
    mov al, 0A5h
    out dx, al
    in al, dx
    cmp al, 0A5h
    jne .absent
    pop dx
    mov [BDA_COM_PORTS + di], dx
    add di, 2
    push dx
    add dx, UART_IER
    xor al, al
    out dx, al                  ; no interrupts
    pop dx
    mov bx, COM_DIVISOR
    mov al, 03h                 ; 8N1
    call uart_set_line
    push dx
    add dx, UART_FCR
    mov al, 07h                 ; FIFO enable, clear receive and transmit FIFOs
    out dx, al
    pop dx
    push dx
    add dx, UART_MCR
    mov al, 03h                 ; DTR, RTS
    out dx, al
    pop dx
    MSG "COM"
    mov ax, di
    shr ax, 1
    add al, '0'
    call con_putc
    MSG " at "
    mov ax, dx
    call con_hex16
    MSG "h", 13, 10
    ret
.absent:
    pop dx
    ret

; uart_set_line: port DX, divisor BX, line control AL (bits 0-6; DLAB is set and cleared here).
uart_set_line:
    push ax
    push dx
    push ax
    add dx, UART_LCR
    mov al, 80h                 ; DLAB: ports 0 and 1 become the divisor latch
    out dx, al
    sub dx, UART_LCR
    mov al, bl
    out dx, al                  ; DLL
    inc dx
    mov al, bh
    out dx, al                  ; DLM
    add dx, UART_LCR - 1
    pop ax
    and al, 7Fh
    out dx, al
    pop dx
    pop ax
    ret

; ---------------------------------------------------------------------------------------------
; INT 14h: DX = port number (0-3, an index into 40:00h).
;   AH=00h  initialise: AL bits 7-5 baud (110, 150, 300, 600, 1200, 2400, 4800, 9600), bits 4-3
;           parity (x0 none, 01 odd, 11 even), bit 2 two stop bits, bits 1-0 word length - 5.
;           Bits 4-0 are the 16550's line control bits 4-0 as they are. Returns AX as AH=03h.
;   AH=01h  send AL: AH = line status (bit 7 set: time-out, the transmitter never emptied)
;   AH=02h  receive: AL = character, AH = line status errors (bit 7: time-out)
;   AH=03h  status: AH = line status register, AL = modem status register
; Waits last about 1 s. Unlike IBM's BIOS, which
; also waits for the modem's DSR and CTS, only the transmitter and receiver are waited for, as
; SeaBIOS and most later BIOSes do: a null-modem cable or a terminal program need not drive
; the modem lines.
; ---------------------------------------------------------------------------------------------
int14_handler:
    sti
    push ds
    push bx
    push cx
    push dx
    push si
    mov bx, BDA_SEG
    mov ds, bx
    cmp dx, 3
    ja .no_port
    mov si, dx                  ; SI = port number
    shl si, 1
    mov dx, [BDA_COM_PORTS + si]
    shr si, 1
    test dx, dx
    jz .no_port
    cmp ah, 00h
    je .init
    cmp ah, 01h
    je .send
    cmp ah, 02h
    je .receive
    cmp ah, 03h
    je .status
    jmp .ret
.no_port:
    mov ah, 80h
    jmp .ret
.init:
    push ax
    movzx bx, al
    shr bx, 5
    shl bx, 1
    mov bx, [cs:baud_table + bx]
    and al, 1Fh
    call uart_set_line
    pop ax
.status:
    push dx
    add dx, UART_LSR
    in al, dx
    mov ah, al
    inc dx                      ; MSR
    in al, dx
    pop dx
    jmp .ret
.send:
    mov bl, al
    push dx
    add dx, UART_LSR
    call .timeout_count         ; CX = polls
.send_wait:
    in al, dx
    test al, 20h                ; THRE: the transmit holding register is empty
    jnz .send_now
    push cx
    mov cx, 1
    call delay_15us
    pop cx
    loop .send_wait
    pop dx
    or al, 80h
    mov ah, al
    mov al, bl
    jmp .ret
.send_now:
    pop dx
    mov al, bl
    out dx, al
    add dx, UART_LSR
    in al, dx
    mov ah, al
    mov al, bl
    jmp .ret
.receive:
    push dx
    add dx, UART_LSR
    call .timeout_count
.recv_wait:
    in al, dx
    test al, 01h                ; DR: a character is waiting
    jnz .recv_now
    push cx
    mov cx, 1
    call delay_15us
    pop cx
    loop .recv_wait
    pop dx
    or al, 80h
    mov ah, al
    jmp .ret
.recv_now:
    and al, 1Eh                 ; the error bits
    mov ah, al
    pop dx
    in al, dx
.ret:
    pop si
    pop dx
    pop cx
    pop bx
    pop ds
    iret

; CX = polls for a wait: 65535 polls of one refresh period (15 us) each, about 1 s.
; (40:7Ch, the per-port time-out count, is set at POST but not used.)
.timeout_count:
    mov cx, 0FFFFh
    ret

; ---------------------------------------------------------------------------------------------
; INT 17h: printer. x86lab has no printer: every function returns the status "time-out and
; I/O error" (AH = 09h), which DOS reports as "printer not ready".
; ---------------------------------------------------------------------------------------------
int17_handler:
    mov ah, 09h
    iret
