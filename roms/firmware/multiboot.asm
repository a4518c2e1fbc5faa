; multiboot.asm — x86lab's Multiboot option ROM: how `x86lab run --kernel FILE` hands the machine
; to a Multiboot kernel after the BIOS has done its work.
;
; The idea is QEMU's (its linuxboot/multiboot option ROMs): a BIOS runs every option ROM it finds
; at C8000h-EFFFFh during POST (IBM PC/AT Technical Reference, "Adapter ROM module": 55h AAh, a
; length in 512-byte blocks, an entry point at offset 3 that the BIOS far-calls, all bytes adding
; up to 0), and when POST is done it boots with INT 19h. This ROM hooks INT 19h, so everything a
; PC has by then is there for the kernel: the IVT, the BIOS data area, the PICs programmed, the
; screen in text mode. x86lab maps it at D0000h only for --kernel runs, and sets its checksum
; byte (the last one) when it maps it.
;
; Its INT 19h asks the BIOS what a Multiboot boot loader must tell the kernel about memory
; (Multiboot Specification 0.6.96 §3.3: mem_lower and the memory map), in real mode where the
; BIOS can answer:
;   INT 12h       KiB of conventional memory (Ralf Brown's Interrupt List)
;   INT 15h E820h the memory map, one 20-byte range per call (ACPI Specification §15)
; and leaves it at 0000:7000h for x86lab, in this layout:
;   +0  word   KiB from INT 12h
;   +2  word   the number of E820 ranges (at most 32)
;   +4  dword  'x86M' (so x86lab can tell the block was written)
;   +8  the ranges, each as a Multiboot memory map entry: dword size (20), then the 20 bytes
;       INT 15h returned (qword base, qword length, dword type)
; then writes that block's address to port 520h. x86lab takes over at that OUT: it loads the
; kernel and its modules into RAM, builds the Multiboot information structure, and starts the
; kernel in 32-bit protected mode (§3.2, see src/machine/multiboot.rs). If nothing answers the
; port (a --kernel that x86lab refused would not get this far), the ROM halts.

bits 16
org 0

HOOK_PORT   equ 0x520           ; x86lab's Multiboot hand-over port
BLOCK       equ 0x7000          ; the block's offset in segment 0
MAX_RANGES  equ 32
SMAP        equ 0x534D4150      ; 'SMAP', the E820 signature

    db 0x55, 0xAA               ; option ROM signature
    db 1                        ; 1 block of 512 bytes
    jmp init                    ; offset 3: the BIOS far-calls this

; init: hook INT 19h (vector 19h at 0000:0064h) and return to POST.
init:
    push ds
    push ax
    xor ax, ax
    mov ds, ax
    mov word [0x19 * 4], int19
    mov [0x19 * 4 + 2], cs
    pop ax
    pop ds
    retf

; int19: the boot. Nothing returns from here.
int19:
    sti                         ; the BIOS's services may want interrupts
    cld
    xor ax, ax
    mov es, ax
    int 0x12
    mov [es:BLOCK], ax
    mov dword [es:BLOCK + 4], 'x86M'
    mov di, BLOCK + 8
    xor ebx, ebx                ; E820 continuation: 0 = from the start
    xor bp, bp                  ; BP = ranges so far
.range:
    mov dword [es:di], 20       ; the Multiboot entry's size field
    add di, 4
    mov eax, 0xE820
    mov edx, SMAP
    mov ecx, 20
    int 0x15
    jc .done                    ; CF: no (more) map
    cmp eax, SMAP
    jne .done
    add di, 20
    inc bp
    test ebx, ebx
    jz .done                    ; EBX = 0: that was the last range
    cmp bp, MAX_RANGES
    jb .range
.done:
    mov [es:BLOCK + 2], bp
    cli
    mov eax, BLOCK
    mov dx, HOOK_PORT
    out dx, eax                 ; x86lab: load the kernel and start it
.halt:
    hlt
    jmp .halt

    times 511 - ($ - $$) db 0
    db 0                        ; the checksum byte: x86lab sets it when it maps the ROM
