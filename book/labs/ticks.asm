; ticks.asm — a boot sector that waits five seconds of guest time on the timer interrupt.
; A lab for the book's chapters "Interrupts and the PIC" and "Time: the PIT and virtual time".
;
; Build:  tools/build-labs      (nasm -f bin -o book/labs/ticks.img book/labs/ticks.asm)
; Run:    x86lab run book/labs/ticks.img --headless --rtc 2000-01-01T00:00:00 --stats
;
; The BIOS has programmed the PIT's counter 0 to divide 1,193,182 Hz by 65,536 (18.2 Hz) and the
; master PIC to deliver IRQ0 as vector 08h. This program puts its own handler in the interrupt
; vector table at entry 08h, counts 91 interrupts (91 / 18.2 = 5.0 s) while the CPU sleeps in HLT,
; reads the RTC before and after through INT 1Ah AH=02h, prints both on the debug console, and
; exits through port 0xF4 with value 0 (x86lab's exit status 1).

        bits 16
        org 0x7C00

TICKS   equ 91

start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        cld

        mov si, hello
        call print

        mov ah, 0x02            ; INT 1Ah AH=02h: RTC time in BCD: CH hours, CL minutes, DH seconds
        int 0x1A
        call print_time

        ; Install our IRQ0 handler: IVT entry 8 is at 0000:0020 (offset, then segment).
        mov word [8*4], irq0
        mov word [8*4+2], 0
        sti                     ; interrupts on: the PIC may now interrupt us

.wait:  hlt                     ; sleep until an interrupt; x86lab skips guest time to it
        cmp word [count], TICKS
        jb .wait

        cli
        mov si, after
        call print
        mov ah, 0x02
        int 0x1A
        call print_time

        xor al, al
        out 0xF4, al            ; exit device: 0 -> exit status 1
.halt:  hlt
        jmp .halt

; The IRQ0 handler: count, then tell the PIC the interrupt is done (non-specific EOI), or it
; would never deliver IRQ0 (or anything of lower priority) again.
irq0:   inc word [cs:count]
        push ax
        mov al, 0x20
        out 0x20, al
        pop ax
        iret

; Prints "hh:mm:ss" from CH, CL, DH (BCD) and a newline.
print_time:
        mov al, ch
        call hex8
        mov al, ':'
        out 0xE9, al
        mov al, cl
        call hex8
        mov al, ':'
        out 0xE9, al
        mov al, dh
        call hex8
        mov al, 10
        out 0xE9, al
        ret

; Prints AL as two hex digits (a BCD byte prints as its decimal value).
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

; Prints the zero-terminated string at DS:SI.
print:  lodsb
        test al, al
        jz .done
        out 0xE9, al
        jmp print
.done:  ret

count:  dw 0
hello:  db "ticks: RTC before: ", 0
after:  db "ticks: 91 timer interrupts later, RTC: ", 0

        times 510 - ($ - $$) db 0
        dw 0xAA55

        times 1474560 - ($ - $$) db 0
