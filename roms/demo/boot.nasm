; boot.nasm — the demo OS's boot sector (LBA 0 of the floppy).
;
; The BIOS reads this sector to 0000:7C00 and jumps to it in 16-bit real mode, with DL = the
; drive it booted from (00h for the first floppy). 512 bytes is all we get, so this sector does
; only what needs the BIOS, then leaves real mode for good:
;
;   1. load the kernel (KERNEL_SECTORS sectors from LBA 1) to KERNEL_BASE = 0x10000 with
;      INT 13h AH=02h, one track at a time (a read must not run past the end of a track),
;   2. enable the A20 gate (INT 15h AX=2401h; if the BIOS says no, port 92h "fast A20"),
;   3. ask for the physical memory map (INT 15h EAX=E820h) and store it at BOOT_INFO,
;   4. copy the BIOS's 8x16 font (INT 10h AX=1130h) to FONT_COPY, for restoring text mode
;      after the graphics demo (only the BIOS knows where its font is),
;   5. switch to 32-bit protected mode with a minimal flat GDT and jump to the kernel.
;
; Progress goes to the screen with INT 10h AH=0Eh (teletype): one dot per track read.
;
; Step through it in the debugger from 0000:7C00. Everything it leaves for the kernel is at
; BOOT_INFO (see layout.inc).

    cpu 386
    bits 16
    org 0x7C00

%include "layout.inc"

start:
    ; Some BIOSes enter with CS:IP = 07C0:0000 instead of 0000:7C00 (the same address). A far
    ; jump makes CS = 0, so that the absolute offsets nasm computed (org 0x7C00) are right.
    jmp 0x0000:.cs_is_zero
.cs_is_zero:
    cli                         ; no interrupts while SS:SP is half set
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00              ; the stack grows down from just below this sector
    sti
    cld
    mov di, BOOT_INFO           ; clear the counters we fill in below
    mov cx, 8
    rep stosw                   ; (AX = 0, ES:DI = 0:BOOT_INFO, 16 bytes)
    mov [BI_BOOT_DRIVE], dl     ; the BIOS tells us which drive we came from

    mov si, msg_hello
    call print

; ---------------------------------------------------------------------------------------------
; 1. Load the kernel. INT 13h AH=02h reads AL sectors from cylinder CH, head DH, sector CL
;    (1-based), drive DL, into ES:BX. We read from the current sector to the end of its track
;    each time: that is 17 sectors of track 0 (sector 1 is us), then whole tracks of 18.
;    The kernel (at most 48 KiB) goes to 1000:0000 = 0x10000; it stays below 0x20000, so no
;    read crosses a 64 KiB boundary, which the floppy's DMA controller could not do.
; ---------------------------------------------------------------------------------------------
    mov ax, KERNEL_BASE >> 4
    mov es, ax
    xor bx, bx                  ; ES:BX = 1000:0000
    mov di, KERNEL_LBA          ; DI = next LBA to read
    mov bp, KERNEL_SECTORS      ; BP = sectors still to read
.next_track:
    ; LBA -> CHS. DIV r/m8 divides AX by the operand: AL = quotient, AH = remainder.
    mov ax, di
    mov cl, FLOPPY_SPT
    div cl                      ; AL = LBA / 18 (track number), AH = LBA mod 18
    mov cl, ah
    inc cx                      ; CL = sector (1-based); CH = 0 from here on
    mov dh, al
    and dh, 1                   ; DH = head = track mod 2
    shr al, 1
    mov ch, al                  ; CH = cylinder = track / 2
    ; How many sectors to the end of this track: 18 - (sector - 1) = 19 - CL, at most BP.
    mov ax, FLOPPY_SPT + 1
    sub al, cl
    cmp ax, bp
    jbe .count_ok
    mov ax, bp
.count_ok:
    mov [sectors], al
    mov si, 3                   ; tries: a real drive may need a reset and a second attempt
.retry:
    mov al, [sectors]
    mov ah, 0x02                ; INT 13h AH=02h: read sectors
    mov dl, [BI_BOOT_DRIVE]
    int 0x13
    jnc .read_ok
    xor ah, ah                  ; AH=00h: reset the disk system, then try again
    int 0x13
    dec si
    jnz .retry
    mov si, msg_disk_error
    jmp fail
.read_ok:
    mov al, '.'
    call putc
    movzx ax, byte [sectors]
    add di, ax                  ; next LBA
    sub bp, ax                  ; fewer to go
    shl ax, 9                   ; x 512 bytes
    add bx, ax                  ; advance the destination (stays below 64 KiB)
    test bp, bp
    jnz .next_track

; ---------------------------------------------------------------------------------------------
; 2. A20. On a PC the 21st address line is gated (for 8086 compatibility addresses wrap at
;    1 MiB) until someone opens the gate. Ask the BIOS first; if it cannot, use the "fast A20"
;    bit 1 of the chipset's port 92h (bit 0 of that port resets the CPU: keep it 0).
; ---------------------------------------------------------------------------------------------
    mov si, msg_a20
    call print
    mov word [BI_A20_METHOD], 1
    mov ax, 0x2401              ; INT 15h AX=2401h: enable A20 gate
    int 0x15
    jnc .a20_done
    mov byte [BI_A20_METHOD], 2
    in al, 0x92
    or al, 2
    and al, 0xFE
    out 0x92, al
.a20_done:

; ---------------------------------------------------------------------------------------------
; 3. The memory map. INT 15h EAX=E820h returns one 20-byte range per call (base, length as
;    64-bit numbers, then a type: 1 = usable RAM); EBX is the continuation value (0 to begin,
;    0 again after the last entry). EDX must hold 'SMAP' and EAX returns it. We ask for 24
;    bytes (ACPI 3 adds a flags dword) but use only the first 20.
; ---------------------------------------------------------------------------------------------
    mov di, BI_E820             ; ES:DI = where the entry goes (ES = 0 again below)
    xor ax, ax
    mov es, ax
    xor ebx, ebx
.e820_next:
    mov eax, 0xE820
    mov edx, 0x534D4150         ; 'SMAP'
    mov ecx, E820_ENTRY
    int 0x15
    jc .e820_done               ; carry: error, or past the last entry
    cmp eax, 0x534D4150
    jne .e820_done
    inc word [BI_E820_COUNT]
    add di, E820_ENTRY
    cmp word [BI_E820_COUNT], E820_MAX
    je .e820_done
    test ebx, ebx
    jnz .e820_next
.e820_done:

; ---------------------------------------------------------------------------------------------
; 4. The font. INT 10h AX=1130h BH=06h returns ES:BP = the BIOS's 8x16 font (256 characters
;    of 16 bytes). If the BIOS does not know the call, ES:BP come back unchanged (0:0) and
;    the kernel will read the font from video memory instead.
; ---------------------------------------------------------------------------------------------
    xor bp, bp
    mov ax, 0x1130
    mov bh, 6
    int 0x10                    ; ES:BP -> font (ES is 0 still if the call is unknown)
    mov ax, es
    or ax, bp
    jz .no_font
    push ds
    push es
    pop ds
    mov si, bp                  ; DS:SI = the BIOS font
    xor ax, ax
    mov es, ax
    mov di, FONT_COPY           ; ES:DI = our copy
    mov cx, 256 * 16 / 2
    rep movsw
    pop ds
    inc byte [BI_FONT_OK]
.no_font:

; ---------------------------------------------------------------------------------------------
; 5. Protected mode. Load a GDT with a flat code and a flat data segment (base 0, limit 4 GiB),
;    set CR0.PE, and make a far jump: it loads CS with a protected-mode selector and flushes
;    the instructions the CPU has already fetched as 16-bit code.
; ---------------------------------------------------------------------------------------------
    mov si, msg_pm
    call print
    cli                         ; no real-mode interrupt handler can run from here on
    lgdt [gdt_descriptor]
    mov eax, cr0
    or eax, 1                   ; CR0.PE
    mov cr0, eax
    jmp SEL_KCODE:pm_entry

; fail: print the message at SI and stop.
fail:
    call print
.halt:
    hlt
    jmp .halt

; print: the NUL-terminated string at DS:SI with the BIOS teletype (INT 10h AH=0Eh).
print:
    lodsb
    test al, al
    jz .done
    call putc
    jmp print
.done:
    ret

putc:
    pusha                       ; some BIOSes change BP (and more) in INT 10h
    mov ah, 0x0E
    mov bx, 0x0007              ; page 0, light grey
    int 0x10
    popa
    ret

    bits 32
pm_entry:
    ; Now in 32-bit protected mode. Every data segment register gets the flat data selector.
    mov ax, SEL_KDATA
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, BOOT_STACK_TOP
    jmp SEL_KCODE:KERNEL_BASE   ; the kernel's first byte is its 32-bit entry point

; The GDT: entry 0 must be null; 08h = code, 10h = data. Descriptor bytes (SDM Vol. 3A 3.4.5):
; limit 0-15, base 0-15, base 16-23, access (P DPL S type), flags|limit 16-19 (G=1: 4 KiB
; units, D=1: 32-bit), base 24-31.
gdt:
    dq 0
    db 0xFF, 0xFF, 0, 0, 0, 0x9A, 0xCF, 0   ; present, ring 0, code, execute/read
    db 0xFF, 0xFF, 0, 0, 0, 0x92, 0xCF, 0   ; present, ring 0, data, read/write
gdt_descriptor:
    dw gdt_descriptor - gdt - 1 ; limit
    dd gdt                      ; linear base

msg_hello:      db "x86lab demo OS: loading the kernel", 0
msg_a20:        db 13, 10, "A20, E820, font", 0
msg_pm:         db 13, 10, "protected mode", 13, 10, 0
msg_disk_error: db 13, 10, "disk read error", 0
sectors:        db 0

    times 510 - ($ - $$) db 0
    dw 0xAA55                   ; the BIOS boots a sector only if it ends in 55h AAh
