; mode13.asm — a 1.44 MB boot floppy that sets VGA mode 13h (320x200, 256 colours) through the
; BIOS, draws a test picture and halts for good: the headless screenshot test's guest.
;
; Built by tools/build-roms into mode13.bin. Run it:
;     x86lab run roms/tests/boot/mode13.bin --headless --screenshot s.png     (exit status 0)
;
; The picture (pixel x, y of 320x200): the top half has 16 bars 20 pixels wide in colours 0-15
; (the EGA colours of the default palette: black, blue, green, cyan, red, ... white); the bottom
; half has the same bars in colours 16-31 (the default palette's grey ramp); a white frame
; 1 pixel wide runs round the edge. Then "mode13: drawn" goes to port E9h and the CPU halts with
; interrupts off, which ends a headless run with status 0.

    cpu 386
    bits 16
    org 7C00h

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 7C00h
    sti
    cld
    mov ax, 0013h               ; INT 10h AH=00h: set mode 13h
    int 10h
    mov ax, 0A000h
    mov es, ax
    xor di, di
    xor dx, dx                  ; DX = y
.row:
    xor cx, cx                  ; CX = x
.pixel:
    mov ax, cx
    mov bl, 20
    div bl                      ; AL = x / 20: the bar
    cmp dx, 100
    jb .top
    add al, 16
.top:
    cmp cx, 0                   ; the frame
    je .white
    cmp cx, 319
    je .white
    cmp dx, 0
    je .white
    cmp dx, 199
    jne .put
.white:
    mov al, 15
.put:
    stosb
    inc cx
    cmp cx, 320
    jb .pixel
    inc dx
    cmp dx, 200
    jb .row
    mov si, done
.say:
    lodsb
    test al, al
    jz .halt
    out 0E9h, al
    jmp .say
.halt:
    cli
    hlt
    jmp .halt

done: db "mode13: drawn", 10, 0

    times 510 - ($ - $$) db 0
    dw 0AA55h
    times 1474560 - ($ - $$) db 0
