; int15.asm — system services (INT 15h).
;
; Sources: Ralf Brown's Interrupt List (INT 15h: AH=4Fh, 83h, 85h-88h, 90h/91h, C0h, C1h,
; AX=2400h-2403h, E801h, E820h); ACPI Specification 6.x §15 "System Address Map Interfaces"
; (the E820 interface and its address range types: 1 = memory, 2 = reserved); IBM PC/AT
; Technical Reference (INT 15h: wait, block move, the configuration table); MC146818A datasheet
; (periodic interrupt); IBM PS/2 Hardware Interface Technical Reference (8042 output port and
; command D1h, system control port A at 92h).
;
; Functions:
;   AH=4Fh   keyboard intercept (INT 09h calls it): CF=1, the scan code is processed as it is
;   AH=83h   event wait: AL=0 start (ES:BX flag byte, CX:DX microseconds), AL=1 cancel
;   AH=85h   SysReq key: nothing to do
;   AH=86h   wait CX:DX microseconds (RTC periodic interrupt at 1024 Hz)
;   AH=87h   copy CX words between the 24-bit addresses in the descriptors at ES:SI+10h/18h
;   AH=88h   memory above 1 MiB in KiB (at most 63 MiB)
;   AH=90h/91h  device busy/interrupt complete: nothing to do
;   AH=C0h   ES:BX = the system configuration table at F000:E6F5
;   AH=C1h   ES = the EBDA segment
;   AX=2400h/2401h  A20 off/on (port 92h and the 8042 output port); 2402h: AL = state;
;                   2403h: BX = 3 (both methods supported)
;   AX=E801h memory: AX = CX = KiB between 1 and 16 MiB, BX = DX = 64 KiB blocks above 16 MiB
;   AX=E820h the memory map (ACPI address range descriptors)
; Anything else: CF=1, AH=86h (function not supported).

int15_handler:
    cmp ah, 4Fh
    jne .not_4f
    stc                         ; keyboard intercept: keep the scan code (interrupts stay off)
    IRET_CF
.not_4f:
    sti
    cld
    cmp ax, 0E820h
    je int15_e820
    cmp ax, 0E801h
    je int15_e801
    cmp ah, 88h
    je int15_88
    cmp ah, 86h
    je int15_86
    cmp ah, 83h
    je int15_83
    cmp ah, 87h
    je int15_87
    cmp ah, 24h
    je int15_a20
    cmp ah, 0C0h
    je int15_c0
    cmp ah, 0C1h
    je int15_c1
    cmp ah, 85h
    je int15_ok
    cmp ah, 90h
    je int15_ok
    cmp ah, 91h
    je int15_ok
int15_unsupported:
    mov ah, 86h
    stc
    IRET_CF
int15_ok:
    xor ah, ah
    clc
    IRET_CF

int15_c0:
    push cs
    pop es
    mov bx, config_table
    jmp int15_ok

int15_c1:
    push ax
    mov ax, BDA_SEG
    mov es, ax
    mov es, [es:BDA_EBDA_SEG]
    pop ax
    clc
    IRET_CF

; ---------------------------------------------------------------------------------------------
; Memory size. ram_top (EBDA) is the end of RAM above 1 MiB, 0 if there is none.
; ---------------------------------------------------------------------------------------------
; eax_ram_top: EAX = the end of RAM above 1 MiB (bytes; 0 = none).
eax_ram_top:
    push es
    call es_ebda
    mov eax, [es:EBDA_RAM_TOP]
    pop es
    ret

int15_88:                       ; AX = KiB above 1 MiB, at most 63 MiB (as SeaBIOS reports)
    call eax_ram_top
    test eax, eax
    jz .done
    cmp eax, 64 << 20
    jbe .below
    mov eax, 64 << 20
.below:
    sub eax, 1 << 20
    shr eax, 10
.done:
    clc
    IRET_CF

int15_e801:
    call eax_ram_top
    xor bx, bx
    test eax, eax
    jz .below16
    cmp eax, 16 << 20
    jbe .below16_size
    sub eax, 16 << 20
    shr eax, 16                 ; 64 KiB blocks above 16 MiB
    mov bx, ax
    mov ax, 3C00h               ; all 15 MiB between 1 and 16 MiB
    jmp .set
.below16_size:
    sub eax, 1 << 20
    shr eax, 10
    jmp .set
.below16:
    xor ax, ax
.set:
    mov cx, ax
    mov dx, bx
    clc
    IRET_CF

; ---------------------------------------------------------------------------------------------
; AX=E820h: the memory map, one 20-byte address range descriptor per call (ACPI §15.1):
; EDX = 'SMAP', EBX = continuation (0 for the first), ECX = buffer size (>= 20), ES:DI = buffer.
; Returns EAX = 'SMAP', ECX = 20, EBX = next continuation (0 after the last), CF=0.
; The ranges, in address order:
;   0              .. EBDA start     type 1 (usable RAM)
;   EBDA start     .. A0000h         type 2 (reserved: the EBDA)
;   F0000h         .. 100000h        type 2 (the BIOS ROM below 1 MiB)
;   100000h        .. top of RAM     type 1 (if there is RAM above 1 MiB)
;   4 GiB - 64 KiB .. 4 GiB          type 2 (the BIOS ROM at the top of the address space)
; The VGA window and the option ROM area (A0000h-EFFFFh) are not listed: not RAM, not reserved
; RAM — an operating system treats unlisted addresses as unusable.
; ---------------------------------------------------------------------------------------------
SMAP equ 534D4150h
E820_ENTRIES equ 5

int15_e820:
    cmp edx, SMAP
    jne int15_unsupported
    cmp ecx, 20
    jb int15_unsupported
    push ds
    push esi
    push edx
    mov ax, BDA_SEG
    mov ds, ax
.next:
    cmp ebx, E820_ENTRIES
    jae .bad
    ; ESI:EDX = base, ECX:... build into ES:DI directly
    mov dword [es:di + 4], 0    ; base high
    mov dword [es:di + 12], 0   ; length high
    mov dword [es:di + 16], 2   ; type reserved unless said otherwise
    cmp ebx, 0
    je .e0
    cmp ebx, 1
    je .e1
    cmp ebx, 2
    je .e2
    cmp ebx, 3
    je .e3
    ; 4: the ROM at the top of 4 GiB (64 KiB image)
    mov dword [es:di], 0FFFF0000h
    mov dword [es:di + 8], 10000h
    jmp .done
.e0:
    movzx eax, word [BDA_EBDA_SEG]
    shl eax, 4
    mov dword [es:di], 0
    mov [es:di + 8], eax
    mov dword [es:di + 16], 1
    jmp .done
.e1:
    movzx eax, word [BDA_EBDA_SEG]
    shl eax, 4
    mov [es:di], eax
    neg eax
    add eax, 0A0000h
    mov [es:di + 8], eax
    jmp .done
.e2:
    mov dword [es:di], 0F0000h
    mov dword [es:di + 8], 10000h
    jmp .done
.e3:
    call eax_ram_top
    test eax, eax
    jnz .has_high
    inc ebx                     ; no RAM above 1 MiB: this entry does not exist
    jmp .next
.has_high:
    mov dword [es:di], 100000h
    sub eax, 100000h
    mov [es:di + 8], eax
    mov dword [es:di + 16], 1
.done:
    inc ebx
    cmp ebx, E820_ENTRIES
    jb .more
    xor ebx, ebx                ; that was the last
.more:
    pop edx
    pop esi
    pop ds
    mov eax, SMAP
    mov ecx, 20
    clc
    IRET_CF
.bad:
    pop edx
    pop esi
    pop ds
    mov ah, 86h
    stc
    IRET_CF

; ---------------------------------------------------------------------------------------------
; AH=86h: wait CX:DX microseconds. AH=83h: the same, but return at once and set bit 7 of the
; byte at ES:BX when the time is up (AL=1 cancels).
; The MC146818A's periodic interrupt (register A rate 0110 = 1024 Hz, enabled by PIE in
; register B) counts down the microseconds at 40:9Ch by 976 per IRQ8 (irq.asm). AH=86h halts
; between interrupts until its own flag (bit 7 of 40:A0h) is set. Bounded: it also gives up once
; the timer's tick count shows the time has passed by more than two ticks. Without a working
; timer or RTC it counts refresh toggles instead.
; ---------------------------------------------------------------------------------------------
int15_86:
    push ds
    push es
    pushad
    mov ax, BDA_SEG
    mov ds, ax
    call es_ebda
    mov bl, [es:EBDA_FLAGS]
    shl ecx, 16
    mov cx, dx                  ; ECX = microseconds
    test ecx, ecx
    jz .ok
    and bl, EF_TIMER_OK | EF_CMOS
    cmp bl, EF_TIMER_OK | EF_CMOS
    jne .spin
    test byte [BDA_WAIT_ACTIVE], 01h
    jnz .busy
    ; the deadline in ticks, as a safety net
    mov eax, ecx
    xor edx, edx
    mov ebx, 54925
    div ebx
    add eax, 2
    mov esi, eax                ; ESI = ticks allowed
    mov edi, [BDA_TICKS]        ; EDI = start
    cli
    mov [BDA_WAIT_COUNT], ecx
    mov word [BDA_WAIT_PTR], BDA_WAIT_ACTIVE
    mov word [BDA_WAIT_PTR + 2], BDA_SEG
    mov byte [BDA_WAIT_ACTIVE], 01h
    call rtc_pie_on
.wait:
    sti
    hlt
    cli
    test byte [BDA_WAIT_ACTIVE], 80h
    jnz .ended
    mov eax, [BDA_TICKS]
    sub eax, edi
    cmp eax, esi
    jbe .wait
.ended:
    call rtc_pie_off
    mov byte [BDA_WAIT_ACTIVE], 0
    sti
    jmp .ok
.spin:
    ; 15.085 us per refresh toggle: ECX / 15 toggles, in chunks of 65535
    mov eax, ecx
    xor edx, edx
    mov ebx, 15
    div ebx
.chunk:
    mov ecx, eax
    cmp ecx, 0FFFFh
    jbe .last
    mov ecx, 0FFFFh
.last:
    sub eax, ecx
    call delay_15us
    test eax, eax
    jnz .chunk
.ok:
    popad
    pop es
    pop ds
    xor ah, ah
    clc
    IRET_CF
.busy:
    popad
    pop es
    pop ds
    mov ah, 83h
    stc
    IRET_CF

int15_83:
    push ds
    push ax
    mov ax, BDA_SEG
    mov ds, ax
    pop ax
    cmp al, 01h
    je .cancel
    test byte [BDA_WAIT_ACTIVE], 01h
    jnz .busy
    cli
    mov [BDA_WAIT_COUNT], dx
    mov [BDA_WAIT_COUNT + 2], cx
    mov [BDA_WAIT_PTR], bx
    mov [BDA_WAIT_PTR + 2], es
    mov byte [BDA_WAIT_ACTIVE], 01h
    call rtc_pie_on
    sti
    pop ds
    clc
    IRET_CF
.cancel:
    cli
    mov byte [BDA_WAIT_ACTIVE], 0
    call rtc_pie_off
    sti
    pop ds
    clc
    IRET_CF
.busy:
    pop ds
    mov ah, 80h
    stc
    IRET_CF

; rtc_pie_on / rtc_pie_off: periodic interrupt enable (register B bit 6). Interrupts off.
rtc_pie_on:
    push ax
    mov al, CMOS_REG_B
    call cmos_read
    or al, 40h
    mov ah, al
    mov al, CMOS_REG_B
    call cmos_write
    pop ax
    ret
rtc_pie_off:
    push ax
    mov al, CMOS_REG_B
    call cmos_read
    and al, 0BFh
    mov ah, al
    mov al, CMOS_REG_B
    call cmos_write
    pop ax
    ret

; ---------------------------------------------------------------------------------------------
; A20 (RBIL INT 15h AX=2400h-2403h). The chipset enables A20 if either the 8042's output port
; bit 1 or port 92h bit 1 is set, so both are switched.
; ---------------------------------------------------------------------------------------------
int15_a20:
    cmp al, 00h
    je .off
    cmp al, 01h
    je .on
    cmp al, 02h
    je .status
    cmp al, 03h
    jne int15_unsupported
    mov bx, 0003h               ; bit 0: 8042, bit 1: port 92h
    jmp int15_ok
.off:
    push ax
    mov ah, 0DDh                ; 8042 output port: A20 off, reset line inactive
    call a20_set
    pop ax
    jmp int15_ok
.on:
    push ax
    mov ah, 0DFh                ; A20 on
    call a20_set
    pop ax
    jmp int15_ok
.status:
    call a20_state
    jmp int15_ok

; a20_set: AH = DDh (off) or DFh (on).
a20_set:
    push ax
    in al, PORT_A20
    and al, 0FCh                ; never set bit 0 (reset)
    test ah, 02h
    jz .p92
    or al, 02h
.p92:
    out PORT_A20, al
    push es
    call es_ebda
    test byte [es:EBDA_FLAGS], EF_KBC
    pop es
    jz .done
    mov al, 0D1h                ; write output port
    call kbc_command
    mov al, ah
    call kbc_write_data
    call kbc_wait_input
.done:
    pop ax
    ret

; a20_state: AL = 1 if A20 is enabled, 0 if addresses wrap at 1 MiB. Writes a byte at 0:0500h
; and looks at FFFF:0510h (physical 100500h, or 000500h when A20 is off).
a20_state:
    push ds
    push es
    push bx
    xor bx, bx
    mov ds, bx
    dec bx
    mov es, bx
    pushf
    cli
    mov bl, [0500h]
    mov bh, [es:0510h]
    mov al, bh
    not al
    mov [0500h], al
    cmp [es:0510h], al
    mov [0500h], bl             ; restore
    mov al, 0
    je .wraps
    mov al, 1
.wraps:
    popf
    pop bx
    pop es
    pop ds
    ret

; ---------------------------------------------------------------------------------------------
; AH=87h: block move (IBM PC/AT Technical Reference, INT 15h "Move Block"). ES:SI points to a
; GDT laid out by the caller: 00h null, 08h for the GDT itself, 10h source and 18h destination
; data segment descriptors (24-bit base, limit FFFFh, access 93h), 20h/28h for the BIOS. CX =
; words to copy (at most 8000h). The copy runs in protected mode with A20 on: load the GDT, set
; CR0.PE, load DS/ES with 10h/18h, REP MOVSW, clear CR0.PE, reload the segment registers with
; real-mode values (their descriptor caches keep the protected-mode bases until reloaded).
; Interrupts stay off meanwhile: the real-mode IVT means nothing in protected mode.
; Returns AH = 0, CF = 0 (AH = 01h, CF = 1 for CX > 8000h).
; ---------------------------------------------------------------------------------------------
int15_87:
    cmp cx, 8000h
    jbe .ok_count
    mov ah, 01h
    stc
    IRET_CF
.ok_count:
    pushad
    push ds
    push es
    cli
    in al, PORT_A20
    push ax                     ; port 92h as it was
    or al, 02h
    and al, 0FEh
    out PORT_A20, al
    ; the GDT descriptor for LGDT: limit 2Fh, base = linear address of ES:SI
    mov bp, sp
    movzx eax, word [bp + 2]    ; the caller's ES (pushed above)
    shl eax, 4
    movzx ebx, si
    add eax, ebx
    push eax
    push word 2Fh
    mov bx, sp
    lgdt [ss:bx]
    add sp, 6
    mov eax, cr0
    or al, 1
    mov cr0, eax
    mov ax, 10h
    mov ds, ax
    mov ax, 18h
    mov es, ax
    xor si, si
    xor di, di
    rep movsw
    mov eax, cr0
    and al, 0FEh
    mov cr0, eax
    pop ax
    out PORT_A20, al
    pop es
    pop ds
    popad
    sti
    xor ah, ah
    clc
    IRET_CF
