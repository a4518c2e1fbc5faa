; pv.asm — the same message, through a paravirtual port and through an emulated UART.
; A lab for the book's chapter "Paravirtualization".
;
; Build:  tools/build-labs      (nasm -f bin -o book/labs/pv.img book/labs/pv.asm)
; Run:    x86lab run --bios book/labs/pv.img --headless --stats
;         x86lab debug --bios book/labs/pv.img --headless --script book/labs/pv.dbg
;
; A 64 KiB ROM that replaces the BIOS. It prints one line twice:
;   1. on x86lab's debug console, port E9h: a device that exists only in emulators (Bochs, QEMU,
;      x86lab). It has no registers, no status and no timing: one OUT per byte, and the byte is
;      on the host. A guest uses it only because it knows it runs in an emulator: paravirtual.
;   2. on COM1, a model of the real National Semiconductor PC16550D UART (ports 3F8h-3FFh). A
;      driver for real hardware must program the baud rate and line format, and before each
;      byte poll the line status register (3FDh) until the transmitter holding register is
;      empty (bit 5), because a real UART sends one character per character time (at 115,200
;      bit/s, 10 bits take 87 us). Every poll is another exit into the device model.
; Then it writes 0 to the exit device (port F4h).

        bits 16
        org 0xF0000

COM1    equ 0x3F8

start:
        cli
        cld
        mov ax, 0xF000
        mov ds, ax

        ; ANCHOR: both
        ; 1. The paravirtual way.
        mov si, msg - 0xF0000
.pv:    lodsb
        test al, al
        jz .uart
        out 0xE9, al
        jmp .pv

        ; 2. The emulated hardware: program the UART, then poll and send.
.uart:  mov dx, COM1 + 3
        mov al, 0x80                    ; LCR: DLAB = 1, to reach the divisor latch
        out dx, al
        mov dx, COM1
        mov al, 1                       ; divisor 1: 115,200 bit/s
        out dx, al
        inc dx
        mov al, 0
        out dx, al
        mov dx, COM1 + 3
        mov al, 0x03                    ; LCR: 8 data bits, no parity, 1 stop bit; DLAB = 0
        out dx, al
        mov si, msg - 0xF0000
.next:  lodsb
        test al, al
        jz .done
        mov ah, al
        mov dx, COM1 + 5
.poll:  in al, dx                       ; LSR
        test al, 0x20                   ; THRE: may we write the next byte?
        jz .poll
        mov dx, COM1
        mov al, ah
        out dx, al                      ; THR
        jmp .next
        ; ANCHOR_END: both

.done:  mov dx, COM1 + 5
.drain: in al, dx                       ; wait until the last byte has left (TEMT)
        test al, 0x40
        jz .drain
        mov al, 0
        out 0xF4, al
        hlt

msg:    db "Hello, host! One line, two devices.", 10, 0

        times 0xFFF0 - ($ - $$) db 0xF4
reset:  db 0xEA                         ; F000:FFF0, the reset vector: JMP F000:start
        dw start - 0xF0000, 0xF000
        times 0x10000 - ($ - $$) db 0xF4
