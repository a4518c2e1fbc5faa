; keys.asm — a boot sector that "presses" keys without a keyboard, through the 8042.
; A lab for the book's chapter "The keyboard".
;
; Build:  tools/build-labs      (nasm -f bin -o book/labs/keys.img book/labs/keys.asm)
; Run:    x86lab run book/labs/keys.img --headless --rtc 2000-01-01T00:00:00
;
; The 8042 keyboard controller has a command, D2h "write keyboard output buffer", that puts the
; next byte written to port 60h into its output buffer as if the keyboard had sent it, and raises
; IRQ1 (the 8042 datasheet's command list; IBM PC/AT Technical Reference). This program uses it
; to send scan codes (set 1, the translated set the BIOS expects) for the keys h, i and Enter,
; each a make code (key down) and a break code (key up, the make code + 80h). For every byte the
; BIOS's IRQ1 handler (INT 09h) reads port 60h, turns make codes into characters and stores them
; in the keyboard buffer; this program then reads them back with INT 16h AH=00h, which returns
; AH = the scan code and AL = the character, and prints both on the debug console.

        bits 16
        org 0x7C00

start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7C00
        cld
        sti                             ; IRQ1 must reach the BIOS's handler

        mov si, codes
.send:  lodsb
        test al, al
        jz .read
        call kbd_inject
        jmp .send

.read:  mov cx, 3                       ; three make codes: three keys in the buffer
.key:   mov ah, 0x00                    ; INT 16h AH=00h: wait for a key, remove it
        int 0x16
        push ax
        mov si, msg_key
        call print
        pop ax
        push ax
        mov al, ah
        call hex8                       ; the scan code
        mov si, msg_ascii
        call print
        pop ax
        call hex8                       ; the character
        mov al, 'h'
        out 0xE9, al
        mov al, 10
        out 0xE9, al
        loop .key

        mov al, 0
        out 0xF4, al
        cli
        hlt

; Sends AL to the 8042 as a keyboard byte: command D2h to port 64h, the byte to port 60h.
; Before each write, wait until the controller's input buffer is empty (status bit 1); after,
; wait until the BIOS has taken the byte from the output buffer (status bit 0 clear again).
kbd_inject:
        mov bl, al
.w1:    in al, 0x64
        test al, 2
        jnz .w1
        mov al, 0xD2
        out 0x64, al
.w2:    in al, 0x64
        test al, 2
        jnz .w2
        mov al, bl
        out 0x60, al
.w3:    in al, 0x64                     ; IRQ1 -> INT 09h reads port 60h
        test al, 1
        jnz .w3
        ret

hex8:   push ax
        shr al, 4
        call nib
        pop ax
nib:    and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .o
        add al, 'A' - '0' - 10
.o:     out 0xE9, al
        ret

print:  lodsb
        test al, al
        jz .e
        out 0xE9, al
        jmp print
.e:     ret

; h down, h up, i down, i up, Enter down, Enter up (scan code set 1)
codes:      db 0x23, 0xA3, 0x17, 0x97, 0x1C, 0x9C, 0
msg_key:    db "INT 16h: scan code ", 0
msg_ascii:  db "h, ASCII ", 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
        times 1474560 - 512 db 0        ; a 1.44 MB floppy image
