; util.asm — small helpers the rest of the BIOS shares: console output (the screen through
; INT 10h and the Bochs/QEMU debug console at port E9h), decimal/hex printing, CMOS RAM access
; (Motorola MC146818A datasheet: index at port 70h, data at port 71h), and delays.
;
; Delays use the PC/AT's refresh-request bit, port 61h bit 4, which toggles every 15.085 us
; (IBM PC/AT Technical Reference, "System Timers": counter 1 requests a DRAM refresh every
; 15 us; the AT BIOS's WAITF routine counts these toggles). Counting toggles gives a delay that
; does not depend on the CPU's speed, and every wait is bounded even if port 61h never changes
; (a missing timer reads 0FFh): each toggle is awaited for at most a fixed number of reads.

; ---------------------------------------------------------------------------------------------
; e9_putc: AL -> debug console. e9_puts: zero-terminated string at CS:SI -> debug console.
; ---------------------------------------------------------------------------------------------
e9_putc:
    out PORT_DEBUGCON, al
    ret

e9_puts:
    push ax
    push si
.next:
    mov al, [cs:si]
    inc si
    test al, al
    jz .done
    out PORT_DEBUGCON, al
    jmp .next
.done:
    pop si
    pop ax
    ret

; ---------------------------------------------------------------------------------------------
; con_putc: AL -> the screen (INT 10h teletype, page 0) and the debug console.
; The debug console gets '\n' for a line end: carriage returns are left out so that headless
; output reads as ordinary text lines. Only call once the IVT is set up.
; ---------------------------------------------------------------------------------------------
con_putc:
    push ax
    push bx
    cmp al, 13
    je .screen
%if TELETYPE_E9
    ; The built-in INT 10h teletype already copies to port E9h; do not write it twice.
    call own_video_active
    jnz .screen
%endif
    out PORT_DEBUGCON, al
.screen:
    mov ah, 0Eh
    mov bx, 0007h               ; page 0, light grey (used in graphics modes)
    int 10h
    pop bx
    pop ax
    ret

%if TELETYPE_E9
; ZF=0 when this BIOS's own INT 10h is the one installed.
own_video_active:
    push ds
    push ax
    mov ax, BDA_SEG
    mov ds, ax
    mov ds, [BDA_EBDA_SEG]
    test byte [EBDA_FLAGS], EF_OWN_VIDEO
    pop ax
    pop ds
    ret
%endif

con_puts:                       ; zero-terminated string at CS:SI
    push ax
    push si
.next:
    mov al, [cs:si]
    inc si
    test al, al
    jz .done
    call con_putc
    jmp .next
.done:
    pop si
    pop ax
    ret

; con_dec: EAX as an unsigned decimal number.
con_dec:
    pushad
    mov ebx, 10
    xor cx, cx
.divide:
    xor edx, edx
    div ebx                     ; EDX = next digit, lowest first
    push dx
    inc cx
    test eax, eax
    jnz .divide
.print:
    pop ax
    add al, '0'
    call con_putc
    loop .print
    popad
    ret

; con_hex16: AX as four hex digits. con_hex8: AL as two.
con_hex16:
    push ax
    mov al, ah
    call con_hex8
    pop ax
con_hex8:
    push ax
    shr al, 4
    call .digit
    pop ax
    push ax
    call .digit
    pop ax
    ret
.digit:
    and al, 0Fh
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'A' - '9' - 1
.out:
    jmp con_putc

; con_model: print the ATA model string (IDENTIFY words 27-46 at ES:SI, 40 characters, each word
; big-endian as ATA stores it), without trailing spaces.
con_model:
    pusha
    mov cx, 40
    ; find the last non-space character
.trim:
    mov bx, cx
    dec bx
    xor bl, 1                   ; byte order within each word is swapped
    cmp byte [es:si+bx], ' '
    ja .print
    loop .trim
    popa
    ret
.print:
    xor bx, bx
.next:
    push bx
    xor bl, 1
    mov al, [es:si+bx]
    pop bx
    cmp al, ' '
    jae .ok
    mov al, '?'
.ok:
    call con_putc
    inc bx
    cmp bx, cx
    jb .next
    popa
    ret

; ---------------------------------------------------------------------------------------------
; CMOS RAM (MC146818A). cmos_read: AL = index -> AL = value. cmos_write: AL = index, AH = value.
; Bit 7 of the index port disables NMI; this BIOS leaves NMI enabled (bit 7 = 0).
; Interrupts are off during the index/data pair so that an interrupt handler using the CMOS
; (IRQ8) cannot change the index in between.
; ---------------------------------------------------------------------------------------------
cmos_read:
    pushf
    cli
    and al, 7Fh
    out CMOS_INDEX, al
    in al, CMOS_DATA
    popf
    ret

cmos_write:
    pushf
    cli
    and al, 7Fh
    out CMOS_INDEX, al
    mov al, ah
    out CMOS_DATA, al
    popf
    ret

; cmos_read_word: AL = index of the low byte -> AX = word (low byte at index, high at index+1)
cmos_read_word:
    push bx
    mov bl, al
    inc al
    call cmos_read
    mov bh, al
    mov al, bl
    call cmos_read
    mov ah, bh
    pop bx
    ret

; ---------------------------------------------------------------------------------------------
; delay_15us: wait CX periods of the refresh toggle (CX * 15.085 us). 0 waits nothing.
; At most 0400h reads of port 61h per period, so a machine without the toggle still returns.
; ---------------------------------------------------------------------------------------------
delay_15us:
    test cx, cx
    jz .done
    push ax
    push bx
    push cx
    in al, PORT_B
    and al, PORTB_REFRESH
    mov ah, al
.period:
    mov bx, 0400h
.poll:
    in al, PORT_B
    and al, PORTB_REFRESH
    cmp al, ah
    jne .toggled
    dec bx
    jnz .poll
.toggled:
    mov ah, al
    loop .period
    pop cx
    pop bx
    pop ax
.done:
    ret

; delay_ms: wait AX milliseconds (66 refresh periods per ms).
delay_ms:
    push ax
    push cx
.ms:
    test ax, ax
    jz .done
    mov cx, 66
    call delay_15us
    dec ax
    jmp .ms
.done:
    pop cx
    pop ax
    ret

; ---------------------------------------------------------------------------------------------
; wait_ticks: wait BX timer ticks (1/18.2 s each). With a working timer the CPU halts between
; interrupts (an emulator can skip the idle time); without one it counts refresh toggles.
; Interrupts are enabled while waiting. Bounded either way.
; ---------------------------------------------------------------------------------------------
wait_ticks:
    push ax
    push bx
    push cx
    push dx
    push ds
    mov ax, BDA_SEG
    mov ds, ax
    push ds
    mov ds, [BDA_EBDA_SEG]
    test byte [EBDA_FLAGS], EF_TIMER_OK
    pop ds
    jz .no_timer
    mov ax, [BDA_TICKS]         ; start (low word is enough for short waits)
    mov cx, bx
    shl cx, 3                   ; at most 8 wake-ups per tick (other IRQs also end a HLT) ...
    add cx, 16                  ; ... plus some slack
.halt:
    sti
    hlt
    mov dx, [BDA_TICKS]
    sub dx, ax
    cmp dx, bx
    jae .done
    loop .halt
    jmp .done
.no_timer:
    test bx, bx
    jz .done
    mov cx, 3641                ; 54.9 ms / 15.085 us
    call delay_15us
    dec bx
    jmp .no_timer
.done:
    pop ds
    pop dx
    pop cx
    pop bx
    pop ax
    ret

; ---------------------------------------------------------------------------------------------
; BCD conversion: bcd_to_bin AL -> AL; bin_to_bcd AL (0-99) -> AL.
; ---------------------------------------------------------------------------------------------
bcd_to_bin:
    push cx
    mov cl, al
    shr al, 4
    mov ch, 10
    mul ch                      ; AX = tens * 10
    and cl, 0Fh
    add al, cl
    pop cx
    ret

bin_to_bcd:
    push cx
    xor ah, ah
    mov cl, 10
    div cl                      ; AL = tens, AH = units
    shl al, 4
    or al, ah
    pop cx
    ret

; es_ebda: ES = the EBDA segment (from 40:0Eh).
es_ebda:
    push ax
    mov ax, BDA_SEG
    mov es, ax
    mov es, [es:BDA_EBDA_SEG]
    pop ax
    ret
