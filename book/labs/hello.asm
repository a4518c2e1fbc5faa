; hello.asm — the smallest useful boot sector, for the book's chapter "Your own boot sector".
;
; Build:  nasm -f bin -o book/labs/hello.img book/labs/hello.asm   (or tools/build-labs)
; Run:    x86lab run book/labs/hello.img --headless --rtc 2000-01-01T00:00:00
;
; The BIOS loads this sector to 0000:7C00 and jumps to it with DL = the boot drive. It prints
; through INT 10h (the screen) and through port 0xE9 (x86lab's debug console, which the
; headless run copies to your terminal), then writes 0 to the exit device (port 0xF4), so
; x86lab exits with status (0 << 1) | 1 = 1.
;
; The image is padded to 1.44 MB so that x86lab sees a floppy and puts it in drive A:.

        bits 16
        org 0x7C00

start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7C00          ; the stack grows down, below the boot sector
        sti
        cld

        mov si, msg
.next:  lodsb
        test al, al
        jz .done
        out 0xE9, al            ; debug console: one exit per byte
        mov ah, 0x0E            ; INT 10h AH=0Eh: teletype output on the screen
        mov bx, 0x0007
        int 0x10
        jmp .next

.done:  mov al, dl              ; report the boot drive the BIOS gave us
        call hex8
        mov al, 10
        out 0xE9, al
        xor al, al
        out 0xF4, al            ; exit device: value 0 -> status 1
.halt:  hlt
        jmp .halt

; Prints AL as two hex digits on the debug console.
hex8:   push ax
        shr al, 4
        call .digit
        pop ax
        and al, 0x0F
.digit: add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '9' - 1
.out:   out 0xE9, al
        ret

msg:    db "Hello from my boot sector! Boot drive DL=", 0

        times 510 - ($ - $$) db 0
        dw 0xAA55               ; the signature the BIOS checks before it jumps here

        times 1474560 - ($ - $$) db 0
