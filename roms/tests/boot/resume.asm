; resume.asm — a 1.44 MB floppy image that resets the CPU on purpose and checks that POST
; resumes it through the CMOS shutdown status byte (0Fh) and the pointer at 40:67h, as the IBM
; PC/AT BIOS does for 80286 programs leaving protected mode.
;
; Round 1: shutdown status 05h (flush the keyboard, EOI, jump to 40:67h), reset through the
; 8042 (command FEh pulses the CPU's reset line). Round 2: status 0Ah (jump to 40:67h without
; EOI), reset through port 92h bit 0. Each resume prints a line; then "boot-resume: 2 passed, 0
; failed" and exit 0 through port F4h. A BIOS that does not resume boots the image again, which
; notices (the round counter in RAM survives the reset) and fails.
; QEMU clears CMOS byte 0Fh on every reset, so this test cannot pass there; x86lab, Bochs and
; real PCs keep it.

    cpu 386
    bits 16
    org 7C00h

ROUND equ 0600h                 ; 0000:0600h, a word that survives the CPU reset (RAM)
MAGIC equ 5A00h

boot:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 7C00h
    sti
    cmp word [ROUND], MAGIC + 1
    jae rebooted                ; we were here before: the BIOS did not resume
    mov si, msg_start
    call print
    mov word [ROUND], MAGIC + 1
    mov word [0467h], resume1
    mov word [0469h], 0
    mov ah, 05h
    call set_shutdown
    mov al, 0FEh                ; 8042: pulse the reset line
    out 64h, al
    jmp hang

resume1:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 7C00h
    sti
    mov si, msg_r1
    call print
    mov word [ROUND], MAGIC + 2
    mov word [0467h], resume2
    mov word [0469h], 0
    mov ah, 0Ah
    call set_shutdown
    in al, 92h                  ; port 92h: bit 0 from 0 to 1 resets the CPU
    and al, 0FEh
    out 92h, al
    or al, 01h
    out 92h, al
    jmp hang

resume2:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 7C00h
    in al, 92h                  ; the reset bit must go back to 0 for the next reset
    and al, 0FEh
    out 92h, al
    mov si, msg_r2
    call print
    mov si, msg_done
    call print
    mov word [ROUND], 0
    mov al, 0
    out 0F4h, al
    jmp hang

rebooted:
    mov si, msg_fail
    call print
    mov word [ROUND], 0
    mov al, 1
    out 0F4h, al
hang:
    hlt
    jmp hang

set_shutdown:                   ; CMOS 0Fh = AH
    mov al, 0Fh
    out 70h, al
    mov al, ah
    out 71h, al
    ret

print:                          ; DS:SI to the screen and port E9h
    lodsb
    test al, al
    jz .done
    out 0E9h, al
    cmp al, 10
    je print
    mov ah, 0Eh
    mov bx, 0007h
    int 10h
    jmp print
.done:
    ret

msg_start: db "resume test: reset through the 8042 with shutdown status 05h", 10, 0
msg_r1:    db "PASS  resumed after status 05h (8042 reset)", 10, 0
msg_r2:    db "PASS  resumed after status 0Ah (port 92h reset)", 10, 0
msg_done:  db "boot-resume: 2 passed, 0 failed", 10, 0
msg_fail:  db "FAIL  the BIOS booted again instead of resuming", 10, "boot-resume: 0 passed, 1 failed", 10, 0

    times 510 - ($ - $$) db 0
    dw 0AA55h
    times 1474560 - ($ - $$) db 0
