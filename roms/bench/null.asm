; =============================================================================
; null.asm — the empty benchmark: prints a checksum of 0 and exits at once.
; tools/bench times it to learn what starting and stopping each emulator costs,
; and subtracts that from the other benchmarks' wall times.
; =============================================================================
        bits 16
        org 0
%include "bench.inc"

start:
        cli
        cld
        mov ax, cs
        mov ds, ax
        mov si, msg
        call puts16
        jmp exit16

puts16:                         ; DS:SI -> debug console, up to the NUL
        lodsb
        test al, al
        jz .done
        out DEBUGCON, al
        jmp puts16
.done:  ret

exit16:
        mov al, 0
        out EXIT_PORT, al
        mov ax, cs
        mov ds, ax
        mov si, shutdown
        mov dx, BOCHS_SHUTDOWN
.next:  lodsb
        test al, al
        jz .halt
        out dx, al
        jmp .next
.halt:  cli
        hlt
        jmp .halt

msg:      db "null checksum 00000000", 10, 0
shutdown: db "Shutdown", 0

        BENCH_END
