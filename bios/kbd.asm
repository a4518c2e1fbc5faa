; kbd.asm — the keyboard: 8042 initialisation at POST, the IRQ1 handler (INT 09h) that turns
; scan codes into keys, and INT 16h.
;
; Sources: IBM PC/AT Technical Reference ("Keyboard", "Keyboard Controller" and the BIOS's
; KB_INT); IBM PS/2 Hardware Interface Technical Reference (8042 status register, command byte,
; controller commands AAh/ABh/AEh/60h, keyboard commands FFh/F4h); Ralf Brown's Interrupt List
; (INT 09h, INT 16h and its key code table, BIOS Data Area 40:17h, 40:18h, 40:96h).
;
; The 8042 translates the keyboard's scan code set 2 into the PC/XT's set 1 (command byte bit 6,
; XLATE), so INT 09h sees set 1: a key's make code 01h-58h, its break code with bit 7 set, and
; E0h before the codes of the keys the 101-key keyboard added (right Ctrl/Alt, the grey cursor
; keys, keypad Enter and /). The key table below gives, for each make code, the word INT 16h
; returns (scan code in the high byte, ASCII in the low byte) alone, with Shift, with Ctrl and
; with Alt (the IBM table, as Ralf Brown's list and the Bochs/SeaBIOS BIOSes give it).

; ---------------------------------------------------------------------------------------------
; POST: controller self-test, command byte, interface test, keyboard reset and enable.
; ---------------------------------------------------------------------------------------------
kbc_init:
    push es
    in al, KBC_STATUS
    cmp al, 0FFh                ; nothing answers at port 64h
    je .absent
    mov cx, 32                  ; throw away whatever is waiting
.flush:
    in al, KBC_STATUS
    test al, KBC_ST_OBF
    jz .flushed
    in al, KBC_DATA
    loop .flush
.flushed:
    mov al, 0AAh                ; controller self-test: 55h = passed
    call kbc_command
    jc .absent
    mov bx, 100
    call kbc_read
    jc .absent
    cmp al, 55h
    jne .selftest_failed
    ; Command byte 64h while we talk to the keyboard: XLATE (bit 6), mouse clock off (bit 5),
    ; system flag (bit 2: POST passed), no interrupts (bits 1-0), keyboard clock on (bit 4 = 0).
    mov al, 60h
    call kbc_command
    mov al, 64h
    call kbc_write_data
    mov al, 0ABh                ; keyboard interface test: 00h = clock and data lines fine
    call kbc_command
    mov bx, 100
    call kbc_read
    mov al, 0AEh                ; enable the keyboard interface
    call kbc_command
    call es_ebda
    or byte [es:EBDA_FLAGS], EF_KBC
    ; Keyboard reset: FAh (acknowledge), then AAh when its self-test (BAT) passed, which takes a
    ; real keyboard up to half a second.
    mov al, 0FFh
    call kbc_write_data
    mov bx, 200
    call kbc_read
    jc .no_keyboard
    cmp al, 0FAh
    jne .no_keyboard
    mov bx, 1000
    call kbc_read
    jc .no_keyboard
    cmp al, 0AAh
    jne .no_keyboard
    mov al, 0F4h                ; enable scanning (a reset keyboard already is, but say so)
    call kbc_write_data
    mov bx, 200
    call kbc_read
    jmp .enable
.no_keyboard:
    MSG "Keyboard: no answer to reset", 13, 10
.enable:
    ; Command byte 65h: the same with IRQ1 on (bit 0).
    mov al, 60h
    call kbc_command
    mov al, 65h
    call kbc_write_data
    mov cx, 16
.flush2:
    in al, KBC_STATUS
    test al, KBC_ST_OBF
    jz .flushed2
    in al, KBC_DATA
    loop .flush2
.flushed2:
    mov cl, 1
    call pic_unmask
    pop es
    ret
.selftest_failed:
    MSG "Keyboard controller: self-test failed", 13, 10
    pop es
    ret
.absent:
    DBG "POST: no keyboard controller", 10
    pop es
    ret

; kbc_wait_input: wait until the 8042 has taken the last byte (status IBF = 0). CF=1 on time-out.
kbc_wait_input:
    push ax
    push cx
    mov cx, 0FFFFh
.poll:
    in al, KBC_STATUS
    test al, KBC_ST_IBF
    jz .ok
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

; kbc_command: AL -> the 8042's command port. kbc_write_data: AL -> port 60h (a command's
; parameter, or a byte for the keyboard). CF=1 if the controller never takes it.
kbc_command:
    call kbc_wait_input
    jc .ret
    out KBC_CMD, al
.ret:
    ret

kbc_write_data:
    call kbc_wait_input
    jc .ret
    out KBC_DATA, al
.ret:
    ret

; kbc_read: wait up to BX milliseconds for a byte in the output buffer -> AL. CF=1 on time-out.
kbc_read:
    push bx
    push cx
.ms:
    mov cx, 66                  ; polls per millisecond, one refresh period each
.poll:
    in al, KBC_STATUS
    test al, KBC_ST_OBF
    jnz .got
    push cx
    mov cx, 1
    call delay_15us
    pop cx
    loop .poll
    dec bx
    jnz .ms
    pop cx
    pop bx
    stc
    ret
.got:
    in al, KBC_DATA
    pop cx
    pop bx
    clc
    ret

; ---------------------------------------------------------------------------------------------
; INT 09h: IRQ1, a byte from the keyboard.
; ---------------------------------------------------------------------------------------------
FL1_RSHIFT  equ 01h
FL1_LSHIFT  equ 02h
FL1_CTRL    equ 04h
FL1_ALT     equ 08h
FL1_SCROLL  equ 10h
FL1_NUM     equ 20h
FL1_CAPS    equ 40h
FL1_INSERT  equ 80h
FL2_LCTRL   equ 01h
FL2_LALT    equ 02h
FL3_E1      equ 01h
FL3_E0      equ 02h
FL3_RCTRL   equ 04h
FL3_RALT    equ 08h

int09_handler:
    pusha
    push ds
    push es
    mov ax, BDA_SEG
    mov ds, ax
    in al, KBC_DATA
    ; Give a resident program a look at the scan code first (INT 15h AH=4Fh, keyboard
    ; intercept): it returns CF=1 with the code in AL to have it processed, CF=0 to drop it.
    mov ah, 4Fh
    stc
    int 15h
    jnc .eoi
    call kbd_process
.eoi:
    cli
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop es
    pop ds
    popa
    iret

; kbd_process: one set 1 byte in AL, DS = 40h.
kbd_process:
    ; Prefixes and controller/keyboard responses
    cmp al, 0E0h
    jne .not_e0
    or byte [BDA_KBD_FLAGS3], FL3_E0
    ret
.not_e0:
    cmp al, 0E1h                ; Pause: E1 1D 45 E1 9D C5. Not a key: swallow the sequence.
    jne .not_e1
    or byte [BDA_KBD_FLAGS3], FL3_E1
    ret
.not_e1:
    cmp al, 0FAh                ; acknowledge of a command we sent
    je .flag_ack
    cmp al, 0FEh                ; resend request
    je .flag_resend
    cmp al, 0FFh                ; key detection error / overrun
    je .done
    cmp al, 00h
    je .done
    test byte [BDA_KBD_FLAGS3], FL3_E1
    jz .not_pause
    mov ah, al
    and ah, 7Fh
    cmp ah, 1Dh                 ; the 1D/9D of the pause sequence: keep swallowing
    je .done
    and byte [BDA_KBD_FLAGS3], ~FL3_E1
    ret
.not_pause:
    mov bl, [BDA_KBD_FLAGS3]
    and byte [BDA_KBD_FLAGS3], ~FL3_E0
    and bl, FL3_E0              ; BL = E0 prefix seen
    mov ah, al                  ; AH = raw byte
    and al, 7Fh                 ; AL = key code; AH bit 7 = break
    ; The "fake shifts" an MF2 keyboard sends around grey keys: E0 2A, E0 AA, E0 36, E0 B6.
    test bl, bl
    jz .no_fake
    cmp al, 2Ah
    je .done
    cmp al, 36h
    je .done
.no_fake:
    ; --- shift and toggle keys ---
    cmp al, 2Ah
    je .lshift
    cmp al, 36h
    je .rshift
    cmp al, 1Dh
    je .ctrl
    cmp al, 38h
    je .alt
    test ah, 80h
    jnz .break_toggle
    cmp al, 3Ah
    je .caps
    cmp al, 45h
    je .num
    cmp al, 46h
    je .scroll
    jmp .key
.break_toggle:
    ; releasing Caps/Num/Scroll Lock: clear its "held" bit in 40:18h
    cmp al, 3Ah
    jne .bt_num
    and byte [BDA_KBD_FLAGS2], ~FL1_CAPS
    ret
.bt_num:
    cmp al, 45h
    jne .bt_scroll
    and byte [BDA_KBD_FLAGS2], ~FL1_NUM
    ret
.bt_scroll:
    cmp al, 46h
    jne .bt_ins
    and byte [BDA_KBD_FLAGS2], ~FL1_SCROLL
    ret
.bt_ins:
    cmp al, 52h
    jne .done
    and byte [BDA_KBD_FLAGS2], ~FL1_INSERT
    ret

.flag_ack:
    or byte [BDA_KBD_FLAGS4], 10h
    ret
.flag_resend:
    or byte [BDA_KBD_FLAGS4], 20h
.done:
    ret

.lshift:
    mov cl, FL1_LSHIFT
    jmp .shift_common
.rshift:
    mov cl, FL1_RSHIFT
.shift_common:
    test ah, 80h
    jnz .shift_up
    or [BDA_KBD_FLAGS1], cl
    ret
.shift_up:
    not cl
    and [BDA_KBD_FLAGS1], cl
    ret

.ctrl:                          ; left Ctrl (1D) or right Ctrl (E0 1D)
    test ah, 80h
    jnz .ctrl_up
    test bl, bl
    jnz .rctrl_down
    or byte [BDA_KBD_FLAGS2], FL2_LCTRL
    jmp .ctrl_sum
.rctrl_down:
    or byte [BDA_KBD_FLAGS3], FL3_RCTRL
    jmp .ctrl_sum
.ctrl_up:
    test bl, bl
    jnz .rctrl_up
    and byte [BDA_KBD_FLAGS2], ~FL2_LCTRL
    jmp .ctrl_sum
.rctrl_up:
    and byte [BDA_KBD_FLAGS3], ~FL3_RCTRL
.ctrl_sum:                      ; 40:17h bit 2 = either Ctrl
    and byte [BDA_KBD_FLAGS1], ~FL1_CTRL
    test byte [BDA_KBD_FLAGS2], FL2_LCTRL
    jnz .ctrl_on
    test byte [BDA_KBD_FLAGS3], FL3_RCTRL
    jz .done
.ctrl_on:
    or byte [BDA_KBD_FLAGS1], FL1_CTRL
    ret

.alt:
    test ah, 80h
    jnz .alt_up
    test bl, bl
    jnz .ralt_down
    or byte [BDA_KBD_FLAGS2], FL2_LALT
    jmp .alt_sum
.ralt_down:
    or byte [BDA_KBD_FLAGS3], FL3_RALT
    jmp .alt_sum
.alt_up:
    test bl, bl
    jnz .ralt_up
    and byte [BDA_KBD_FLAGS2], ~FL2_LALT
    jmp .alt_sum
.ralt_up:
    and byte [BDA_KBD_FLAGS3], ~FL3_RALT
.alt_sum:
    and byte [BDA_KBD_FLAGS1], ~FL1_ALT
    test byte [BDA_KBD_FLAGS2], FL2_LALT
    jnz .alt_on
    test byte [BDA_KBD_FLAGS3], FL3_RALT
    jnz .alt_on
    ; Both Alt keys released: a number typed on the keypad while Alt was down becomes a key
    ; with that ASCII code and scan code 0.
    xor ax, ax
    xchg al, [BDA_ALT_KEYPAD]
    test al, al
    jz .done
    jmp kbd_store
.alt_on:
    or byte [BDA_KBD_FLAGS1], FL1_ALT
    ret

.caps:
    mov cl, FL1_CAPS
    jmp .toggle
.num:
    test byte [BDA_KBD_FLAGS1], FL1_CTRL   ; Ctrl+NumLock is Pause on an 83-key keyboard
    jnz .done
    mov cl, FL1_NUM
    jmp .toggle
.scroll:
    test byte [BDA_KBD_FLAGS1], FL1_CTRL   ; Ctrl+Scroll Lock (or Ctrl+Break, E0 46): Break
    jnz .ctrl_break
    mov cl, FL1_SCROLL
.toggle:
    test [BDA_KBD_FLAGS2], cl   ; auto-repeat of a held lock key does not toggle again
    jnz .done
    or [BDA_KBD_FLAGS2], cl
    xor [BDA_KBD_FLAGS1], cl
    ret

.ctrl_break:
    ; Ctrl-Break: empty the buffer, set 40:71h bit 7, call INT 1Bh, store a 0000h key.
    mov ax, [BDA_KBD_START]
    mov [BDA_KBD_HEAD], ax
    mov [BDA_KBD_TAIL], ax
    mov byte [BDA_BREAK_FLAG], 80h
    int 1Bh
    xor ax, ax
    jmp kbd_store

    ; --- an ordinary key ---
.key:
    test ah, 80h
    jnz .done                   ; other break codes change nothing
    cmp al, 58h
    ja .done                    ; beyond F12: nothing in the table
    mov cl, [BDA_KBD_FLAGS1]
    ; Ctrl+Alt+Del: reboot.
    cmp al, 53h
    jne .not_cad
    mov ch, cl
    and ch, FL1_CTRL | FL1_ALT
    cmp ch, FL1_CTRL | FL1_ALT
    je kbd_reboot
.not_cad:
    ; Insert toggles the insert mode (when it acts as Insert, not as keypad 0)
    cmp al, 52h
    jne .not_ins
    test bl, bl
    jnz .ins_toggle
    call .keypad_digits         ; ZF=0 if the keypad gives digits
    jnz .not_ins
.ins_toggle:
    test byte [BDA_KBD_FLAGS2], FL1_INSERT
    jnz .not_ins
    or byte [BDA_KBD_FLAGS2], FL1_INSERT
    xor byte [BDA_KBD_FLAGS1], FL1_INSERT
.not_ins:
    ; Alt + keypad digit: compose a character code.
    test cl, FL1_ALT
    jz .lookup
    test bl, bl
    jnz .lookup
    movzx si, al
    sub si, 47h
    jb .lookup
    cmp si, 52h - 47h
    ja .lookup
    mov dl, [cs:keypad_digit + si]
    cmp dl, 0FFh
    je .lookup
    push ax
    mov al, [BDA_ALT_KEYPAD]
    mov dh, 10
    mul dh
    add al, dl
    mov [BDA_ALT_KEYPAD], al
    pop ax
    ret

.lookup:
    ; Which column: Alt, Ctrl, Shift (letters: Shift xor Caps Lock; keypad: Shift xor Num
    ; Lock), or plain.
    movzx si, al
    shl si, 3                   ; 4 words per key
    test cl, FL1_ALT
    jz .not_alt
    add si, 6
    jmp .got_column
.not_alt:
    test cl, FL1_CTRL
    jz .not_ctrl
    add si, 4
    jmp .got_column
.not_ctrl:
    mov ch, cl
    and ch, FL1_LSHIFT | FL1_RSHIFT
    movzx di, al
    mov dl, [cs:key_class + di]
    cmp dl, KC_LETTER
    jne .not_letter
    test cl, FL1_CAPS           ; Caps Lock inverts Shift for letters
    jz .shift_or_not
    test ch, ch
    jz .caps_upper
    xor ch, ch                  ; Shift with Caps Lock: lower case
    jmp .shift_or_not
.caps_upper:
    mov ch, 1
    jmp .shift_or_not
.not_letter:
    cmp dl, KC_KEYPAD
    jne .shift_or_not
    test bl, bl
    jnz .shift_or_not           ; grey keys ignore Num Lock
    call .keypad_digits
    jz .kp_plain
    mov ch, 1
    jmp .shift_or_not
.kp_plain:
    xor ch, ch
.shift_or_not:
    test ch, ch
    jz .got_column
    add si, 2
.got_column:
    mov dx, [cs:key_table + si]
    test bl, bl
    jnz .grey
.plain:
    test dx, dx
    jz .done                    ; no key for this combination
    jmp .store

    ; Grey keys (E0 prefix) get codes of their own, which INT 16h AH=10h reports.
.grey:
    movzx di, al
    cmp byte [cs:key_class + di], KC_KEYPAD
    jne .grey_other
    test cl, FL1_ALT
    jz .grey_nav
    mov dh, al                  ; Alt + grey cursor key: scan code + 50h, ASCII 0
    add dh, 50h
    xor dl, dl
    jmp .store
.grey_nav:                      ; the keypad key's plain or Ctrl code, ASCII E0h (never a digit)
    movzx si, al
    shl si, 3
    mov dx, [cs:key_table + si]
    test cl, FL1_CTRL
    jz .grey_e0
    mov dx, [cs:key_table + si + 4]
.grey_e0:
    mov dl, 0E0h
    jmp .store
.grey_other:
    cmp al, 37h                 ; E0 37: Print Screen
    jne .grey_enter
    int 05h
    ret
.grey_enter:
    cmp al, 1Ch                 ; keypad Enter: scan code E0h
    jne .grey_slash
    mov dh, 0E0h
    test cl, FL1_ALT
    jz .store
    mov dx, 0A600h
    jmp .store
.grey_slash:
    cmp al, 35h                 ; keypad /: E02Fh, Ctrl 9500h, Alt A400h
    jne .plain
    mov dx, 0E02Fh
    test cl, FL1_CTRL
    jz .slash_alt
    mov dx, 9500h
.slash_alt:
    test cl, FL1_ALT
    jz .store
    mov dx, 0A400h
.store:
    mov ax, dx
    jmp kbd_store

; ZF=0 if the keypad gives digits now: Num Lock xor Shift.
.keypad_digits:
    push ax
    mov al, [BDA_KBD_FLAGS1]
    mov ah, al
    and ah, FL1_NUM
    and al, FL1_LSHIFT | FL1_RSHIFT
    jz .kd_noshift
    xor ah, FL1_NUM
.kd_noshift:
    test ah, ah
    pop ax
    ret

; kbd_store: put the key AX into the buffer at the tail (DS = 40h). A full buffer drops it.
kbd_store:
    mov bx, [BDA_KBD_TAIL]
    mov si, bx
    add si, 2
    cmp si, [BDA_KBD_END]
    jb .no_wrap
    mov si, [BDA_KBD_START]
.no_wrap:
    cmp si, [BDA_KBD_HEAD]
    je .full
    mov [bx], ax
    mov [BDA_KBD_TAIL], si
.full:
    ret

; Ctrl+Alt+Del: a warm boot. 40:72h = 1234h tells POST so; pulse the CPU reset line through the
; 8042 (command FEh), or jump to the reset vector if that does nothing.
kbd_reboot:
    mov word [BDA_RESET_FLAG], 1234h
    mov al, 0FEh
    call kbc_command
    mov cx, 100
    call delay_15us
    jmp BIOS_SEG:entry_post

; ---------------------------------------------------------------------------------------------
; INT 16h: keyboard services (Ralf Brown's Interrupt List, INT 16h).
;   AH=00h/10h  wait for a key, remove it: AH = scan code, AL = ASCII
;   AH=01h/11h  is a key there? ZF=1: no; ZF=0: AX = the key, left in the buffer
;   AH=02h/12h  shift flags: AL = 40:17h; AH=12h: AH = 40:18h/40:96h combined
;   AH=03h      typematic rate (accepted, ignored)
;   AH=05h      store CX as a key: AL = 0 stored, 1 buffer full
;   AH=09h      functionality: AL bit 5 = AH=10h-12h supported
;   AH=0Ah      keyboard ID: BX = 41ABh (MF2, translated)
; AH=00h-02h are the "standard" functions of the 84-key keyboard: they hide the keys the
; 101-key keyboard added (F11, F12, Ctrl/Alt + cursor keys...) and show grey keys as keypad keys.
; ---------------------------------------------------------------------------------------------
int16_handler:
    sti
    push ds
    push bx
    push si
    mov bx, BDA_SEG
    mov ds, bx
    cmp ah, 00h
    je .read_std
    cmp ah, 10h
    je .read_ext
    cmp ah, 01h
    je .peek_std
    cmp ah, 11h
    je .peek_ext
    cmp ah, 02h
    je .flags
    cmp ah, 12h
    je .flags_ext
    cmp ah, 05h
    je .store
    cmp ah, 09h
    je .functionality
    cmp ah, 0Ah
    je .keyboard_id
    jmp .ret                    ; AH=03h and anything else: nothing to do

.read_std:
    call kbd_take               ; CF=1 empty
    jc .wait_std
    call kbd_std_key            ; CF=1 hide it
    jc .read_std
    jmp .ret
.wait_std:
    sti
    hlt                         ; sleep until an interrupt (the key's IRQ1, or a tick)
    jmp .read_std

.read_ext:
    call kbd_take
    jc .wait_ext
    call kbd_ext_key
    jmp .ret
.wait_ext:
    sti
    hlt
    jmp .read_ext

.peek_std:
    cli
    mov bx, [BDA_KBD_HEAD]
    cmp bx, [BDA_KBD_TAIL]
    je .empty
    mov ax, [bx]
    call kbd_std_key
    jnc .have
    call kbd_take               ; a key the standard functions hide: drop it, look again
    jmp .peek_std
.peek_ext:
    cli
    mov bx, [BDA_KBD_HEAD]
    cmp bx, [BDA_KBD_TAIL]
    je .empty
    mov ax, [bx]
    call kbd_ext_key
.have:                          ; ZF=0 in the caller's FLAGS
    sti
    push bp
    mov bp, sp
    and byte [bp+12], ~40h      ; [bp+2] si [bp+4] bx [bp+6] ds [bp+8] IP [bp+10] CS [bp+12] FLAGS
    pop bp
    jmp .ret
.empty:
    sti
    push bp
    mov bp, sp
    or byte [bp+12], 40h
    pop bp
    jmp .ret

.flags:
    mov al, [BDA_KBD_FLAGS1]
    jmp .ret
.flags_ext:
    ; AH: bit 7 SysReq, 6 Caps held, 5 Num held, 4 Scroll held, 3 right Alt, 2 right Ctrl,
    ; 1 left Alt, 0 left Ctrl
    mov al, [BDA_KBD_FLAGS2]
    and al, 73h                 ; SysReq held (bit 2) goes to bit 7
    test byte [BDA_KBD_FLAGS2], 04h
    jz .no_sysreq
    or al, 80h
.no_sysreq:
    mov ah, [BDA_KBD_FLAGS3]
    and ah, FL3_RCTRL | FL3_RALT
    or ah, al
    mov al, [BDA_KBD_FLAGS1]
    jmp .ret

.store:
    cli
    mov ax, cx
    push ax
    mov bx, [BDA_KBD_TAIL]
    call kbd_store
    pop ax
    mov al, 0
    cmp bx, [BDA_KBD_TAIL]
    jne .stored
    mov al, 1                   ; the tail did not move: full
.stored:
    sti
    jmp .ret

.functionality:
    mov al, 20h
    jmp .ret
.keyboard_id:
    mov bx, 41ABh
    pop si
    add sp, 2                   ; drop the saved BX: it is the result
    pop ds
    iret

.ret:
    pop si
    pop bx
    pop ds
    iret

; kbd_take: remove the key at the head of the buffer -> AX. CF=1 if empty. DS = 40h.
kbd_take:
    cli
    mov bx, [BDA_KBD_HEAD]
    cmp bx, [BDA_KBD_TAIL]
    je .empty
    mov ax, [bx]
    add bx, 2
    cmp bx, [BDA_KBD_END]
    jb .no_wrap
    mov bx, [BDA_KBD_START]
.no_wrap:
    mov [BDA_KBD_HEAD], bx
    sti
    clc
    ret
.empty:
    sti
    stc
    ret

; kbd_std_key: turn a stored key into what AH=00h/01h return. CF=1: the standard functions do
; not report this key.
kbd_std_key:
    cmp ah, 0E0h                ; keypad Enter and /: their keypad scan codes
    jne .not_e0_scan
    cmp al, 0Dh
    je .kp_enter
    cmp al, 0Ah
    je .kp_enter
    mov ah, 35h
    clc
    ret
.kp_enter:
    mov ah, 1Ch
    clc
    ret
.not_e0_scan:
    cmp ah, 84h                 ; keys only the 101-key keyboard has
    ja .hide
    cmp al, 0F0h                ; Alt + a key with no standard code
    je .hide
    cmp al, 0E0h                ; grey cursor keys look like keypad keys
    jne .ok
    test ah, ah
    jz .ok
    xor al, al
.ok:
    clc
    ret
.hide:
    stc
    ret

; kbd_ext_key: what AH=10h/11h return (the stored key, but Alt+key F0h codes give ASCII 0).
kbd_ext_key:
    cmp al, 0F0h
    jne .ok
    test ah, ah
    jz .ok
    xor al, al
.ok:
    ret

; ---------------------------------------------------------------------------------------------
; Tables
; ---------------------------------------------------------------------------------------------
KC_OTHER  equ 0
KC_LETTER equ 1                 ; Caps Lock applies
KC_KEYPAD equ 2                 ; Num Lock applies (47h-53h)

; Digit of each keypad key 47h-52h for Alt+number entry (0FFh: not a digit key)
keypad_digit:
    db 7, 8, 9, 0FFh, 4, 5, 6, 0FFh, 1, 2, 3, 0

key_class:
    ;  0  1  2  3  4  5  6  7  8  9  A  B  C  D  E  F
    db 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   ; 00h-0Fh
    db 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1   ; 10h-1Fh  QWERTYUIOP, AS
    db 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1   ; 20h-2Fh  DFGHJKL, ZXCV
    db 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   ; 30h-3Fh  BNM
    db 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 2, 2, 2, 0, 2   ; 40h-4Fh  keypad
    db 2, 2, 2, 2, 0, 0, 0, 0, 0                         ; 50h-58h

; For each set 1 make code: the key alone, with Shift, with Ctrl, with Alt (0 = no key).
key_table:
    dw 0000h, 0000h, 0000h, 0000h   ; 00h
    dw 011Bh, 011Bh, 011Bh, 0100h   ; 01h Esc
    dw 0231h, 0221h, 0000h, 7800h   ; 02h 1 !
    dw 0332h, 0340h, 0300h, 7900h   ; 03h 2 @
    dw 0433h, 0423h, 0000h, 7A00h   ; 04h 3 #
    dw 0534h, 0524h, 0000h, 7B00h   ; 05h 4 $
    dw 0635h, 0625h, 0000h, 7C00h   ; 06h 5 %
    dw 0736h, 075Eh, 071Eh, 7D00h   ; 07h 6 ^
    dw 0837h, 0826h, 0000h, 7E00h   ; 08h 7 &
    dw 0938h, 092Ah, 0000h, 7F00h   ; 09h 8 *
    dw 0A39h, 0A28h, 0000h, 8000h   ; 0Ah 9 (
    dw 0B30h, 0B29h, 0000h, 8100h   ; 0Bh 0 )
    dw 0C2Dh, 0C5Fh, 0C1Fh, 8200h   ; 0Ch - _
    dw 0D3Dh, 0D2Bh, 0000h, 8300h   ; 0Dh = +
    dw 0E08h, 0E08h, 0E7Fh, 0E00h   ; 0Eh Backspace
    dw 0F09h, 0F00h, 9400h, 0A500h  ; 0Fh Tab
    dw 1071h, 1051h, 1011h, 1000h   ; 10h Q
    dw 1177h, 1157h, 1117h, 1100h   ; 11h W
    dw 1265h, 1245h, 1205h, 1200h   ; 12h E
    dw 1372h, 1352h, 1312h, 1300h   ; 13h R
    dw 1474h, 1454h, 1414h, 1400h   ; 14h T
    dw 1579h, 1559h, 1519h, 1500h   ; 15h Y
    dw 1675h, 1655h, 1615h, 1600h   ; 16h U
    dw 1769h, 1749h, 1709h, 1700h   ; 17h I
    dw 186Fh, 184Fh, 180Fh, 1800h   ; 18h O
    dw 1970h, 1950h, 1910h, 1900h   ; 19h P
    dw 1A5Bh, 1A7Bh, 1A1Bh, 1A00h   ; 1Ah [ {
    dw 1B5Dh, 1B7Dh, 1B1Dh, 1B00h   ; 1Bh ] }
    dw 1C0Dh, 1C0Dh, 1C0Ah, 1C00h   ; 1Ch Enter
    dw 0000h, 0000h, 0000h, 0000h   ; 1Dh Ctrl
    dw 1E61h, 1E41h, 1E01h, 1E00h   ; 1Eh A
    dw 1F73h, 1F53h, 1F13h, 1F00h   ; 1Fh S
    dw 2064h, 2044h, 2004h, 2000h   ; 20h D
    dw 2166h, 2146h, 2106h, 2100h   ; 21h F
    dw 2267h, 2247h, 2207h, 2200h   ; 22h G
    dw 2368h, 2348h, 2308h, 2300h   ; 23h H
    dw 246Ah, 244Ah, 240Ah, 2400h   ; 24h J
    dw 256Bh, 254Bh, 250Bh, 2500h   ; 25h K
    dw 266Ch, 264Ch, 260Ch, 2600h   ; 26h L
    dw 273Bh, 273Ah, 0000h, 2700h   ; 27h ; :
    dw 2827h, 2822h, 0000h, 2800h   ; 28h ' "
    dw 2960h, 297Eh, 0000h, 2900h   ; 29h ` ~
    dw 0000h, 0000h, 0000h, 0000h   ; 2Ah left Shift
    dw 2B5Ch, 2B7Ch, 2B1Ch, 2B00h   ; 2Bh \ |
    dw 2C7Ah, 2C5Ah, 2C1Ah, 2C00h   ; 2Ch Z
    dw 2D78h, 2D58h, 2D18h, 2D00h   ; 2Dh X
    dw 2E63h, 2E43h, 2E03h, 2E00h   ; 2Eh C
    dw 2F76h, 2F56h, 2F16h, 2F00h   ; 2Fh V
    dw 3062h, 3042h, 3002h, 3000h   ; 30h B
    dw 316Eh, 314Eh, 310Eh, 3100h   ; 31h N
    dw 326Dh, 324Dh, 320Dh, 3200h   ; 32h M
    dw 332Ch, 333Ch, 0000h, 3300h   ; 33h , <
    dw 342Eh, 343Eh, 0000h, 3400h   ; 34h . >
    dw 352Fh, 353Fh, 0000h, 3500h   ; 35h / ?
    dw 0000h, 0000h, 0000h, 0000h   ; 36h right Shift
    dw 372Ah, 372Ah, 9600h, 3700h   ; 37h keypad *
    dw 0000h, 0000h, 0000h, 0000h   ; 38h Alt
    dw 3920h, 3920h, 3920h, 3920h   ; 39h Space
    dw 0000h, 0000h, 0000h, 0000h   ; 3Ah Caps Lock
    dw 3B00h, 5400h, 5E00h, 6800h   ; 3Bh F1
    dw 3C00h, 5500h, 5F00h, 6900h   ; 3Ch F2
    dw 3D00h, 5600h, 6000h, 6A00h   ; 3Dh F3
    dw 3E00h, 5700h, 6100h, 6B00h   ; 3Eh F4
    dw 3F00h, 5800h, 6200h, 6C00h   ; 3Fh F5
    dw 4000h, 5900h, 6300h, 6D00h   ; 40h F6
    dw 4100h, 5A00h, 6400h, 6E00h   ; 41h F7
    dw 4200h, 5B00h, 6500h, 6F00h   ; 42h F8
    dw 4300h, 5C00h, 6600h, 7000h   ; 43h F9
    dw 4400h, 5D00h, 6700h, 7100h   ; 44h F10
    dw 0000h, 0000h, 0000h, 0000h   ; 45h Num Lock
    dw 0000h, 0000h, 0000h, 0000h   ; 46h Scroll Lock
    dw 4700h, 4737h, 7700h, 0000h   ; 47h keypad 7 / Home
    dw 4800h, 4838h, 8D00h, 0000h   ; 48h keypad 8 / Up
    dw 4900h, 4939h, 8400h, 0000h   ; 49h keypad 9 / PgUp
    dw 4A2Dh, 4A2Dh, 8E00h, 4A00h   ; 4Ah keypad -
    dw 4B00h, 4B34h, 7300h, 0000h   ; 4Bh keypad 4 / Left
    dw 4C00h, 4C35h, 8F00h, 0000h   ; 4Ch keypad 5
    dw 4D00h, 4D36h, 7400h, 0000h   ; 4Dh keypad 6 / Right
    dw 4E2Bh, 4E2Bh, 9000h, 4E00h   ; 4Eh keypad +
    dw 4F00h, 4F31h, 7500h, 0000h   ; 4Fh keypad 1 / End
    dw 5000h, 5032h, 9100h, 0000h   ; 50h keypad 2 / Down
    dw 5100h, 5133h, 7600h, 0000h   ; 51h keypad 3 / PgDn
    dw 5200h, 5230h, 9200h, 0000h   ; 52h keypad 0 / Ins
    dw 5300h, 532Eh, 9300h, 0000h   ; 53h keypad . / Del
    dw 0000h, 0000h, 0000h, 0000h   ; 54h SysReq (Alt+PrtSc)
    dw 0000h, 0000h, 0000h, 0000h   ; 55h
    dw 565Ch, 567Ch, 0000h, 0000h   ; 56h the extra \ | key of 102-key keyboards
    dw 8500h, 8700h, 8900h, 8B00h   ; 57h F11
    dw 8600h, 8800h, 8A00h, 8C00h   ; 58h F12
