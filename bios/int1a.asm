; int1a.asm — time of day and the real-time clock (INT 1Ah), equipment list (INT 11h) and
; memory size (INT 12h).
;
; Sources: IBM PC/AT Technical Reference (TIME_OF_DAY, INT 11h, INT 12h); Ralf Brown's
; Interrupt List (INT 1Ah AH=00h-07h); Motorola MC146818A datasheet (register B: SET inhibits
; updates while the time is written, DM selects BCD, 24/12 the hour format; register A's UIP
; bit warns of an update in the next 244 us, during which the time must not be read).

; INT 11h: AX = the equipment word at 40:10h.
int11_handler:
    push ds
    mov ax, BDA_SEG
    mov ds, ax
    mov ax, [BDA_EQUIPMENT]
    pop ds
    iret

; INT 12h: AX = KiB of conventional memory below the EBDA (40:13h).
int12_handler:
    push ds
    mov ax, BDA_SEG
    mov ds, ax
    mov ax, [BDA_MEM_KIB]
    pop ds
    iret

; ---------------------------------------------------------------------------------------------
; INT 1Ah
;   AH=00h  CX:DX = timer ticks since midnight (40:6Ch), AL = midnight flag (then cleared)
;   AH=01h  set the tick count to CX:DX, clear the midnight flag
;   AH=02h  RTC time: CH hours, CL minutes, DH seconds (BCD), DL = 1 if daylight saving
;   AH=03h  set the RTC time from CH, CL, DH, DL
;   AH=04h  RTC date: CH century, CL year, DH month, DL day (BCD)
;   AH=05h  set the RTC date
;   AH=06h  set the alarm CH:CL:DH (INT 4Ah when it rings); CF=1 if one is already set
;   AH=07h  cancel the alarm
; AH=02h-07h return CF=1 if the clock does not answer (or keeps updating).
; ---------------------------------------------------------------------------------------------
int1a_handler:
    sti
    push ds
    push bx
    mov bx, BDA_SEG
    mov ds, bx
    cmp ah, 00h
    je .get_ticks
    cmp ah, 01h
    je .set_ticks
    cmp ah, 07h
    ja .bad
    push es
    call es_ebda
    test byte [es:EBDA_FLAGS], EF_CMOS
    pop es
    jz .bad
    cmp ah, 02h
    je .get_time
    cmp ah, 03h
    je .set_time
    cmp ah, 04h
    je .get_date
    cmp ah, 05h
    je .set_date
    cmp ah, 06h
    je .set_alarm
    jmp .cancel_alarm
.bad:
    stc
    jmp .ret
.get_ticks:
    cli
    mov dx, [BDA_TICKS]
    mov cx, [BDA_TICKS + 2]
    mov al, 0
    xchg al, [BDA_MIDNIGHT]
    sti
    clc
    jmp .ret
.set_ticks:
    cli
    mov [BDA_TICKS], dx
    mov [BDA_TICKS + 2], cx
    mov byte [BDA_MIDNIGHT], 0
    sti
    clc
    jmp .ret
.get_time:
    call rtc_wait_update
    jc .ret
    mov al, CMOS_SECONDS
    call cmos_read
    mov dh, al
    mov al, CMOS_MINUTES
    call cmos_read
    mov cl, al
    mov al, CMOS_HOURS
    call cmos_read
    mov ch, al
    mov al, CMOS_REG_B
    call cmos_read
    and al, 01h
    mov dl, al
    clc
    jmp .ret
.set_time:
    call rtc_set_begin
    mov al, CMOS_SECONDS
    mov ah, dh
    call cmos_write
    mov al, CMOS_MINUTES
    mov ah, cl
    call cmos_write
    mov al, CMOS_HOURS
    mov ah, ch
    call cmos_write
    mov bl, dl                  ; daylight saving bit
    call rtc_set_end
    clc
    jmp .ret
.get_date:
    call rtc_wait_update
    jc .ret
    mov al, CMOS_DAY
    call cmos_read
    mov dl, al
    mov al, CMOS_MONTH
    call cmos_read
    mov dh, al
    mov al, CMOS_YEAR
    call cmos_read
    mov cl, al
    mov al, CMOS_CENTURY
    call cmos_read
    mov ch, al
    clc
    jmp .ret
.set_date:
    call rtc_set_begin
    mov al, CMOS_DAY
    mov ah, dl
    call cmos_write
    mov al, CMOS_MONTH
    mov ah, dh
    call cmos_write
    mov al, CMOS_YEAR
    mov ah, cl
    call cmos_write
    mov al, CMOS_CENTURY
    mov ah, ch
    call cmos_write
    mov al, CMOS_REG_B
    call cmos_read
    mov bl, al                  ; keep the daylight saving bit as it was
    call rtc_set_end
    clc
    jmp .ret
.set_alarm:
    mov al, CMOS_REG_B
    call cmos_read
    test al, 20h                ; AIE: an alarm is already set
    stc
    jnz .ret
    mov al, 01h                 ; seconds alarm
    mov ah, dh
    call cmos_write
    mov al, 03h
    mov ah, cl
    call cmos_write
    mov al, 05h
    mov ah, ch
    call cmos_write
    mov al, CMOS_REG_B
    call cmos_read
    or al, 20h
    mov ah, al
    mov al, CMOS_REG_B
    call cmos_write
    clc
    jmp .ret
.cancel_alarm:
    mov al, CMOS_REG_B
    call cmos_read
    and al, 0DFh
    mov ah, al
    mov al, CMOS_REG_B
    call cmos_write
    clc
.ret:
    pop bx
    pop ds
    IRET_CF

; rtc_set_begin: stop updates (register B SET) before writing the clock.
rtc_set_begin:
    push ax
    mov al, CMOS_REG_B
    call cmos_read
    or al, 80h
    mov ah, al
    mov al, CMOS_REG_B
    call cmos_write
    pop ax
    ret

; rtc_set_end: register B = 24-hour, BCD, daylight saving from BL bit 0; updates run again.
rtc_set_end:
    push ax
    mov ah, bl
    and ah, 01h
    or ah, 02h
    mov al, CMOS_REG_B
    call cmos_write
    pop ax
    ret

; rtc_wait_update: wait while an update is about to happen (register A UIP = 1), at most about
; 10 ms (an update takes under 2 ms). CF=1 if UIP never clears.
rtc_wait_update:
    push ax
    push cx
    mov cx, 660
.poll:
    mov al, CMOS_REG_A
    call cmos_read
    test al, 80h
    jz .ok
    push cx
    mov cx, 1
    call delay_15us
    pop cx
    loop .poll
    pop cx
    pop ax
    stc
    ret
.ok:
    pop cx
    pop ax
    clc
    ret

; rtc_time_to_ticks: EAX = timer ticks since midnight from the RTC's time (for POST).
; ticks = seconds * 1193182 / 65536 (the PIT's input clock over the count of counter 0).
; CF=1 if the clock cannot be read.
rtc_time_to_ticks:
    push ebx
    push ecx
    push edx
    call rtc_wait_update
    jc .ret
    mov al, CMOS_REG_B
    call cmos_read
    mov bl, al                  ; bit 2 DM: binary
    mov al, CMOS_HOURS
    call .field
    movzx ecx, al
    imul ecx, ecx, 3600
    mov al, CMOS_MINUTES
    call .field
    movzx eax, al
    imul eax, eax, 60
    add ecx, eax
    mov al, CMOS_SECONDS
    call .field
    movzx eax, al
    add eax, ecx                ; seconds since midnight
    mov ecx, 1193182
    mul ecx
    shrd eax, edx, 16
    clc
.ret:
    pop edx
    pop ecx
    pop ebx
    ret
.field:                         ; AL = index -> AL = binary value
    call cmos_read
    test bl, 04h
    jnz .binary
    and al, 7Fh                 ; (12-hour PM bit; POST set 24-hour mode)
    call bcd_to_bin
.binary:
    ret
