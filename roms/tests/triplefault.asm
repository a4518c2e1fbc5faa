; =============================================================================
; triplefault.asm — a deliberate triple fault
; =============================================================================
;
; Build:  nasm -f bin -i roms/tests/ -o roms/tests/triplefault.bin roms/tests/triplefault.asm
; Run:    x86lab run --bios roms/tests/triplefault.bin --headless --stop-on-triple-fault
;         (exit status 6 and a message naming the triple fault), or without
;         --stop-on-triple-fault: the PC resets and the ROM starts over, again
;         and again, until --max-instructions ends the run (exit status 4).
;
; With an empty IDT (limit 0) no vector can be delivered (SDM Vol. 3A §6.15):
;
;   INT3                 -> #BP: vector 3 lies beyond the IDT limit
;                        -> #GP(3 * 8 + 2) raised while delivering it
;   delivering #GP       -> #GP again (vector 13 beyond the limit): a
;                           contributory exception while delivering a
;                           contributory one -> #DF
;   delivering #DF       -> #GP again: a fault while delivering #DF is a
;                           triple fault. The CPU shuts down; a PC's chipset
;                           turns the shutdown cycle into a reset.
;
; The harness prints its banner line before the tests; this ROM prints one more
; line, then triple-faults. It never reaches its summary.
; =============================================================================

%define ROM_NAME "triplefault"
%include "pmharness.inc"

gdt_start:
        STANDARD_GDT
gdt_end:

empty_idt:
        dw 0                            ; limit 0: not even vector 0 fits (it needs 8 bytes)
        dd IDT_BASE

str_about:
        db "triplefault: INT3 with an empty IDT (limit 0): #BP -> #GP -> #DF -> triple fault", 10, 0

        bits 32
tests:
        mov esi, str_about
        call puts
        lidt [empty_idt]
        int3
        ; Not reached: the CPU has shut down (or the machine has reset).
        mov esi, str_survived
        call puts
        inc dword [v_failed]
        ret

str_survived:
        db "FAIL  the CPU went on after a triple fault", 10, 0

        ROM_END
