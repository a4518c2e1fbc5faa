; kbdecho.asm — a 1.44 MB boot floppy for the window front end's tests: the keyboard, through
; the 8042 and IRQ 1, echoed to the debug console (port E9h) and to the VGA text screen.
;
; Built by tools/build-roms into kbdecho.bin. Run it:
;     x86lab run roms/tests/boot/kbdecho.bin              (a window: type, and watch)
;     x86lab run roms/tests/boot/kbdecho.bin --headless --max-instructions 20000000 --screenshot s.png
;
; The BIOS boots it in mode 03h (80x25 colour text). It paints the screen white on blue with a
; banner on row 0, prints "kbdecho: ready" on port E9h, and then idles in HLT: an IRQ 1 handler of
; its own reads each byte from the 8042's data port (60h) into a 16-byte ring, and the main loop
; turns set 1 make codes (the 8042 translates the keyboard's set 2 codes) into ASCII, Shift
; included: a printable character goes to port E9h and to the screen from row 2 on; Enter is a
; newline on both; Backspace erases on the screen and sends 08h. The hardware cursor follows
; (CRTC 0Eh/0Fh). An idle guest: between keys the CPU waits in HLT (the BIOS's 18.2 Hz timer is
; the only other interrupt), which is what the idle host CPU measurement needs.

    cpu 386
    bits 16
    org 7C00h

ATTR    equ 1Fh                 ; white on blue
ROW     equ 160                 ; bytes per text row

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 7C00h
    cld
    mov word [9 * 4], irq1      ; IRQ 1 (vector 09h in real mode): our handler
    mov word [9 * 4 + 2], 0
    ; 8042 command byte: IRQ 1 on, system flag, translation to set 1, mouse port off.
    call kbc_wait
    mov al, 60h
    out 64h, al
    call kbc_wait
    mov al, 65h
    out 60h, al
    ; The screen: blank white on blue, the banner on row 0.
    mov ax, 0B800h
    mov es, ax
    xor di, di
    mov ax, ATTR << 8 | ' '
    mov cx, 80 * 25
    rep stosw
    xor di, di
    mov si, banner
    mov ah, ATTR
.banner:
    lodsb
    test al, al
    jz .banner_done
    stosw
    jmp .banner
.banner_done:
    mov word [cursor], 2 * ROW
    call move_cursor
    in al, 21h                  ; unmask IRQ 1 at the master PIC
    and al, 0FDh
    out 21h, al
    mov si, ready
.ready:
    lodsb
    test al, al
    jz main
    out 0E9h, al
    jmp .ready

; The main loop: take a byte from the ring, or wait for an interrupt.
main:
    cli
    mov bx, [head]
    cmp bx, [tail]
    jne .take
    sti                         ; STI's shadow: no interrupt before the HLT starts
    hlt
    jmp main
.take:
    mov al, [ring + bx]
    inc bx
    and bx, 15
    mov [head], bx
    sti
    call key
    jmp main

; AL = a set 1 scan code.
key:
    cmp al, 2Ah                 ; Left/Right Shift make and break
    je .shift_on
    cmp al, 36h
    je .shift_on
    cmp al, 0AAh
    je .shift_off
    cmp al, 0B6h
    je .shift_off
    cmp al, 3Ah                 ; breaks (bit 7), the E0 prefix and keys past Space: ignored
    jae .done
    mov bx, lower
    cmp byte [shift], 0
    je .lookup
    mov bx, upper
.lookup:
    xlat
    test al, al
    jz .done
    out 0E9h, al
    mov di, [cursor]
    cmp al, 10
    je .newline
    cmp al, 8
    je .backspace
    mov ah, ATTR
    stosw
    jmp .moved
.backspace:
    cmp di, 2 * ROW
    jbe .done
    sub di, 2
    mov word [es:di], ATTR << 8 | ' '
    jmp .moved
.newline:
    mov ax, di
    xor dx, dx
    mov cx, ROW
    div cx
    inc ax
    mul cx
    mov di, ax
.moved:
    cmp di, 25 * ROW
    jb .store
    mov di, 2 * ROW             ; past the last row: back to row 2
.store:
    mov [cursor], di
    call move_cursor
.done:
    ret
.shift_on:
    mov byte [shift], 1
    ret
.shift_off:
    mov byte [shift], 0
    ret

; The hardware cursor to [cursor] (a byte offset: the cell is half of it).
move_cursor:
    mov bx, [cursor]
    shr bx, 1
    mov dx, 3D4h
    mov al, 0Eh
    mov ah, bh
    out dx, ax
    mov al, 0Fh
    mov ah, bl
    out dx, ax
    ret

; Waits until the 8042 can take a byte (status bit 1, input buffer full, clear).
kbc_wait:
    in al, 64h
    test al, 2
    jnz kbc_wait
    ret

irq1:
    push ax
    push bx
    in al, 60h
    mov bx, [cs:tail]
    mov [cs:ring + bx], al
    inc bx
    and bx, 15
    mov [cs:tail], bx
    mov al, 20h                 ; non-specific EOI
    out 20h, al
    pop bx
    pop ax
    iret

; Set 1 make codes 00h-39h to ASCII (0: no character).
lower:
    db 0, 0, "1234567890-=", 8, 9
    db "qwertyuiop[]", 10, 0
    db "asdfghjkl;'`", 0, "\"
    db "zxcvbnm,./", 0, "*", 0, " "
upper:
    db 0, 0, "!@#$%^&*()_+", 8, 9
    db "QWERTYUIOP{}", 10, 0
    db 'ASDFGHJKL:"~', 0, "|"
    db "ZXCVBNM<>?", 0, "*", 0, " "

banner: db "x86lab kbdecho: keys go to the screen and port E9h", 0
ready:  db "kbdecho: ready", 10, 0

head:   dw 0
tail:   dw 0
cursor: dw 0
shift:  db 0
ring:   times 16 db 0

    times 510 - ($ - $$) db 0
    dw 0AA55h
    times 1474560 - ($ - $$) db 0
