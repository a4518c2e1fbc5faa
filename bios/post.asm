; post.asm — the power-on self test (POST): everything between the reset vector and INT 19h.
;
; Follows the order of the IBM PC/AT BIOS (IBM PC/AT Technical Reference, BIOS listing "POST"):
;  1. read the CMOS shutdown status byte (0Fh) to tell a CPU reset that must resume a program
;     (status 5, 0Ah, 0Bh, 0Ch: resume through the pointer at 40:67h) from a power-on or reboot;
;  2. a stack, an interrupt vector table, a cleared BIOS Data Area;
;  3. memory size from the CMOS (0x15/0x16 base, 0x17/0x18 and 0x30/0x31 above 1 MiB, 0x34/0x35
;     above 16 MiB in 64 KiB units, as Bochs, QEMU and SeaBIOS use them), an Extended BIOS Data
;     Area of 1 KiB at the top of conventional memory (INT 12h reports the memory below it);
;  4. the interrupt controllers (Intel 8259A datasheet, ICW1-ICW4), the timer (Intel 8254: counter
;     0 in mode 3 with a count of 65536 gives IRQ0 at 1193182/65536 = 18.2 Hz), the DMA
;     controllers (Intel 8237A: master clear, DMA2 channel 4 in cascade mode), the RTC;
;  5. the keyboard controller (8042), video (an option ROM at C0000h, else our own INT 10h),
;     the banner, serial and parallel ports, diskette drives, ATA disks, other option ROMs;
;  6. INT 19h: the bootstrap loader.
; Every wait for a device is bounded: a missing device (its ports read 0FFh) is reported as
; absent and POST goes on.

post_start:
    cli
    cld

    ; --- 1. Why did the CPU reset? -----------------------------------------------------------
    ; A program that resets the CPU on purpose (an 80286 leaving protected mode, a DOS extender)
    ; first writes a reason into CMOS byte 0Fh and a resume address at 40:67h. Read the byte and
    ; clear it, so that the next reset is an ordinary one.
    mov al, CMOS_SHUTDOWN
    out CMOS_INDEX, al
    in al, CMOS_DATA
    mov bl, al
    mov al, CMOS_SHUTDOWN
    out CMOS_INDEX, al
    xor al, al
    out CMOS_DATA, al
    mov ax, BDA_SEG
    mov ds, ax
    cmp bl, 05h
    je .resume_eoi
    cmp bl, 0Ah
    je .resume_jmp
    cmp bl, 0Bh
    je .resume_iret
    cmp bl, 0Ch
    je .resume_retf
    jmp .cold

.resume_eoi:                    ; 05h: flush the keyboard, EOI, then jump to 40:67h
    in al, KBC_DATA
    mov al, PIC_EOI
    out PIC2_CMD, al
    out PIC1_CMD, al
.resume_jmp:                    ; 0Ah: jump to 40:67h, no EOI
    jmp far [BDA_RESET_PTR]
.resume_iret:                   ; 0Bh: 40:67h holds SS:SP of a stack with an IRET frame
    lss sp, [BDA_RESET_PTR]
    iret
.resume_retf:                   ; 0Ch: the same with a far return address
    lss sp, [BDA_RESET_PTR]
    retf

.cold:
    ; --- 2. Stack, BDA and IVT -----------------------------------------------------------------
    mov dx, [BDA_RESET_FLAG]    ; 1234h if Ctrl-Alt-Del asked for a warm boot
    xor ax, ax
    mov ss, ax
    mov sp, 7C00h               ; below the boot sector's load address, above the BDA
    mov es, ax
    xor di, di
    mov cx, 0500h / 2           ; IVT (0-3FFh) and BDA (400h-4FFh)
    rep stosw
    mov [BDA_RESET_FLAG], dx

    ; Every vector first points at an IRET, then the BIOS's own handlers are put in.
    xor di, di
    mov cx, 256
.ivt_default:
    mov ax, dummy_iret
    stosw
    mov ax, BIOS_SEG
    stosw
    loop .ivt_default
    mov si, vector_table        ; INT 08h-1Fh from the IBM table at F000:FEF3
    mov di, 08h * 4
    mov cx, 24
.ivt_table:
    mov ax, [cs:si]
    add si, 2
    mov [es:di], ax
    add di, 4
    loop .ivt_table
    mov si, extra_vectors       ; the rest: (vector, handler) pairs
.ivt_extra:
    mov bl, [cs:si]
    cmp bl, 0FFh
    je .ivt_done
    xor bh, bh
    shl bx, 2
    mov ax, [cs:si+1]
    mov [es:bx], ax
    add si, 3
    jmp .ivt_extra
.ivt_done:
    xor ax, ax                  ; INT 60h-67h belong to user programs: null, as IBM leaves them
    mov di, 60h * 4
    mov cx, 8 * 2
    rep stosw

    ; --- 3. Memory size ------------------------------------------------------------------------
    call memory_size            ; fills ECX = base KiB, EBX = RAM top above 1 MiB, EDI = total KiB
    mov esi, edi                ; (DI is about to clear the EBDA)
    dec cx                      ; EBDA: the last KiB of conventional memory
    mov [BDA_MEM_KIB], cx
    shl cx, 6                   ; KiB -> paragraphs
    mov [BDA_EBDA_SEG], cx
    mov es, cx
    xor di, di
    xor ax, ax
    mov cx, EBDA_KIB * 1024 / 2
    rep stosw
    mov byte [es:EBDA_SIZE], EBDA_KIB
    mov [es:EBDA_RAM_TOP], ebx
    mov [es:EBDA_RAM_KIB], esi
    call cmos_present
    jnc .no_cmos_flag
    or byte [es:EBDA_FLAGS], EF_CMOS
.no_cmos_flag:

    ; --- Keyboard buffer and other BDA defaults ---
    mov word [BDA_KBD_HEAD], BDA_KBD_BUFFER
    mov word [BDA_KBD_TAIL], BDA_KBD_BUFFER
    mov word [BDA_KBD_START], BDA_KBD_BUFFER
    mov word [BDA_KBD_END], BDA_KBD_BUFFER + 32
    mov byte [BDA_KBD_FLAGS3], 10h   ; a 101/102-key keyboard
    mov dword [BDA_LPT_TIMEOUT], 14141414h   ; 20 polls each (IBM default)
    mov dword [BDA_COM_TIMEOUT], 01010101h   ; 1 "second" each
    mov byte [BDA_KBD_FLAGS1], 20h   ; Num Lock on, as most BIOSes start

    ; --- 4. Interrupt controllers, timer, DMA, RTC -------------------------------------------
    call pic_init
    call pit_init
    call dma_init
    call rtc_init               ; also sets the tick count from the time of day
    sti
    call timer_check

    ; --- 5. Devices ----------------------------------------------------------------------------
    call kbc_init               ; kbd.asm
    call video_init             ; option ROM at C0000h or our own VGA BIOS; clears the screen
    call banner
    call serial_init            ; int14.asm
    call equipment_init
    call floppy_post            ; floppy.asm
    call ata_post               ; ata.asm
    call scan_option_roms       ; C8000h-EFFFFh

    ; --- 6. Boot ---------------------------------------------------------------------------------
    int 19h
    int 18h                     ; INT 19h does not return; if a hooked one does, give up here
.forever:
    sti
    hlt
    jmp .forever

; Vectors outside 08h-1Fh with a handler of their own: (vector, offset) pairs, 0FFh ends.
extra_vectors:
    db 02h
    dw int02_nmi
    db 05h
    dw entry_int05
    db 40h
    dw int40_handler            ; the diskette BIOS (INT 13h passes floppy requests to it)
    db 4Ah
    dw dummy_iret               ; RTC alarm (user)
    db 70h
    dw irq8_handler
    db 71h
    dw irq_default_slave        ; IRQ9 (was IRQ2 on the PC: software expects INT 0Ah)
    db 72h
    dw irq_default_slave        ; IRQ10
    db 73h
    dw irq_default_slave        ; IRQ11
    db 74h
    dw irq_default_slave        ; IRQ12 PS/2 mouse
    db 75h
    dw irq13_fpu                ; IRQ13 FPU error
    db 76h
    dw irq14_handler            ; IRQ14 primary ATA
    db 77h
    dw irq15_handler            ; IRQ15 secondary ATA (or spurious slave interrupt)
    db 0FFh

; ---------------------------------------------------------------------------------------------
; cmos_present: CF=1 if the RTC/CMOS answers. Register D reads 80h on an MC146818A with a good
; battery (VRT = 1, the other bits 0); a missing chip reads 0FFh.
; ---------------------------------------------------------------------------------------------
cmos_present:
    push ax
    mov al, CMOS_REG_D
    call cmos_read
    cmp al, 0FFh
    je .absent
    test al, 80h
    jz .absent
    pop ax
    stc
    ret
.absent:
    pop ax
    clc
    ret

; ---------------------------------------------------------------------------------------------
; memory_size: the memory the machine has, from the CMOS fields the machine (or the setup
; program of a real PC) filled in. Returns
;   CX  = conventional memory in KiB (CMOS 15h/16h, at most 640)
;   EBX = end of RAM above 1 MiB in bytes (0 if there is none)
;   EDI = all RAM in KiB
; Without a CMOS we know nothing about memory above 1 MiB: 640 KiB, nothing above.
; ---------------------------------------------------------------------------------------------
memory_size:
    push eax
    push edx
    mov cx, 640
    xor ebx, ebx
    call cmos_present
    jnc .done
    mov al, CMOS_BASE_LO
    call cmos_read_word
    cmp ax, 640
    ja .base_ok                 ; nonsense: keep 640
    cmp ax, 16
    jb .base_ok                 ; too small to run a BIOS in: keep 640
    mov cx, ax
.base_ok:
    ; Above 16 MiB, in 64 KiB units (0 when there is nothing above 16 MiB).
    mov al, CMOS_HIGH_LO
    call cmos_read_word
    test ax, ax
    jz .below_16m
    movzx ebx, ax
    shl ebx, 16                 ; 64 KiB units -> bytes
    add ebx, 16 << 20
    jmp .done
.below_16m:
    ; Between 1 and 16 MiB (or more, up to 64 MiB - 1 KiB), in KiB: the POST field, else the
    ; setup field.
    mov al, CMOS_POSTEXT_LO
    call cmos_read_word
    test ax, ax
    jnz .ext
    mov al, CMOS_EXT_LO
    call cmos_read_word
    test ax, ax
    jz .done
.ext:
    movzx ebx, ax
    shl ebx, 10                 ; KiB -> bytes
    add ebx, 1 << 20
.done:
    movzx edi, cx               ; total KiB: conventional only ...
    test ebx, ebx
    jz .ret
    mov edi, ebx                ; ... or everything up to the top of RAM
    shr edi, 10
.ret:
    pop edx
    pop eax
    ret

; ---------------------------------------------------------------------------------------------
; pic_init: both 8259As (Intel 8259A datasheet, "Initialization Command Words").
; ICW1 11h: edge-triggered, cascade mode, ICW4 follows. ICW2: vector base 08h (master: IRQ0-7 ->
; INT 08h-0Fh, as on the PC) and 70h (slave: IRQ8-15 -> INT 70h-77h). ICW3: the master has a
; slave on IR2 (bit 2), the slave's identity is 2. ICW4 01h: 8086 mode, normal EOI.
; Then OCW1 masks everything but IRQ0 and the cascade; devices are unmasked as POST sets them up.
; ---------------------------------------------------------------------------------------------
pic_init:
    mov al, 11h
    out PIC1_CMD, al
    out PIC2_CMD, al
    mov al, 08h
    out PIC1_DATA, al
    mov al, 70h
    out PIC2_DATA, al
    mov al, 04h
    out PIC1_DATA, al
    mov al, 02h
    out PIC2_DATA, al
    mov al, 01h
    out PIC1_DATA, al
    out PIC2_DATA, al
    mov al, 0FAh                ; master: IRQ0 (timer) and IRQ2 (cascade) enabled
    out PIC1_DATA, al
    mov al, 03Eh                ; slave: IRQ8 (RTC), IRQ14 and IRQ15 (ATA) enabled
    out PIC2_DATA, al
    ret

; pic_unmask: enable IRQ CL (0-15) at the PIC.
pic_unmask:
    push ax
    push cx
    push dx
    mov dx, PIC1_DATA
    cmp cl, 8
    jb .master
    mov dx, PIC2_DATA
    sub cl, 8
.master:
    mov ah, 1
    shl ah, cl
    not ah
    pushf
    cli
    in al, dx
    and al, ah
    out dx, al
    popf
    pop dx
    pop cx
    pop ax
    ret

; ---------------------------------------------------------------------------------------------
; pit_init: the 8254 (Intel 8254 datasheet, "Control Word Format").
; Counter 0: control word 36h = counter 0, LSB then MSB, mode 3 (square wave), binary; count 0
; means 65536: IRQ0 every 54.9 ms, 18.2 times a second, the PC's timer tick.
; Counter 1: control word 54h = counter 1, LSB only, mode 2 (rate generator), count 18: the
; DRAM refresh request every 15.085 us (IBM PC/AT Technical Reference).
; ---------------------------------------------------------------------------------------------
pit_init:
    mov al, 36h
    out PIT_CMD, al
    xor al, al
    out PIT_CH0, al
    out PIT_CH0, al
    mov al, 54h
    out PIT_CMD, al
    mov al, 18
    out PIT_CH1, al
    ret

; ---------------------------------------------------------------------------------------------
; dma_init: the two 8237As (Intel 8237A datasheet; IBM PC/AT Technical Reference "DMA").
; A master clear resets each (all channels masked, command register 0). DMA1's requests reach
; the bus through DMA2's channel 4, so channel 4 is put in cascade mode (mode register C0h) and
; unmasked; the floppy's channel 2 is set up per transfer by INT 13h.
; ---------------------------------------------------------------------------------------------
dma_init:
    xor al, al
    out DMA1_RESET, al
    out DMA2_RESET, al
    out DMA1_CMD, al
    out DMA2_CMD, al
    mov al, 0C0h                ; cascade mode, channel 0 of DMA2 (= channel 4)
    out DMA2_MODE, al
    xor al, al                  ; clear the mask bit of channel 4
    out DMA2_MASK, al
    ret

; ---------------------------------------------------------------------------------------------
; rtc_init: the MC146818A (datasheet, "Registers A-D"). Register A 26h: divider 010 (32.768 kHz
; time base running), rate 0110 (1024 Hz periodic interrupt, used by INT 15h AH=86h when it
; enables PIE). Register B 02h: 24-hour mode, BCD, no interrupts (DSE kept). Reading C clears
; any pending flag. Then the BDA tick count is set from the time of day, so that INT 1Ah AH=00h
; counts from midnight as DOS expects.
; ---------------------------------------------------------------------------------------------
rtc_init:
    call cmos_present
    jnc .done
    mov al, CMOS_REG_A
    mov ah, 26h
    call cmos_write
    mov al, CMOS_REG_B
    call cmos_read
    and al, 01h                 ; keep daylight saving enable
    or al, 02h                  ; 24-hour, BCD
    mov ah, al
    mov al, CMOS_REG_B
    call cmos_write
    mov al, CMOS_REG_C
    call cmos_read
    call rtc_time_to_ticks      ; int1a.asm: EAX = ticks since midnight, CF=1 if unreadable
    jc .done
    mov [BDA_TICKS], eax
.done:
    ret

; ---------------------------------------------------------------------------------------------
; timer_check: does IRQ0 tick? Poll the tick count while measuring time with the PIT itself:
; counter 0 counts down by 2 from 65536 twice per period in mode 3, so each time its latched
; value goes up it has reloaded, half a tick later. Wait for 8 reloads (about 4 ticks, 220 ms)
; at most. If the count at 40:6Ch moved, IRQ0 works and waits can halt the CPU between
; interrupts; if not (no PIT, or no interrupt), they count refresh toggles instead.
; Bounded also by a number of polls, in case counter 0 does not count at all.
; ---------------------------------------------------------------------------------------------
timer_check:
    pushad
    mov edi, [BDA_TICKS]
    xor bx, bx                  ; reloads seen
    mov dx, 0FFFFh              ; last count
    mov ecx, 1000000            ; polls at most
.poll:
    cmp edi, [BDA_TICKS]
    jne .ticking
    cli
    xor al, al                  ; counter latch command, counter 0
    out PIT_CMD, al
    in al, PIT_CH0
    mov ah, al
    in al, PIT_CH0
    sti
    xchg al, ah                 ; AX = count
    cmp ax, dx
    mov dx, ax
    jbe .same_half
    inc bx
    cmp bx, 8
    jae .dead
.same_half:
    dec ecx
    jnz .poll
.dead:
    push es
    call es_ebda
    and byte [es:EBDA_FLAGS], ~EF_TIMER_OK
    pop es
    DBG "POST: the timer does not tick (no IRQ0)", 10
    jmp .done
.ticking:
    push es
    call es_ebda
    or byte [es:EBDA_FLAGS], EF_TIMER_OK
    pop es
.done:
    popad
    ret

; ---------------------------------------------------------------------------------------------
; video_init: a VGA BIOS in an option ROM at C0000h comes first (it hooks INT 10h itself);
; without one, this BIOS's INT 10h (int10.asm) programs the VGA.
; ---------------------------------------------------------------------------------------------
video_init:
    push es
    mov bx, 0C000h
    call optrom_try
    xor ax, ax
    mov es, ax
    cmp word [es:10h * 4 + 2], BIOS_SEG
    jne .rom                    ; a video ROM took over INT 10h
    call es_ebda
    or byte [es:EBDA_FLAGS], EF_OWN_VIDEO
    call vga_post_init          ; int10.asm
    pop es
    ret
.rom:
    DBG "POST: video option ROM at C000:0000 initialised", 10
    pop es
    ret

; ---------------------------------------------------------------------------------------------
; banner: "x86lab BIOS <version> — <N> KiB RAM" on the screen and the debug console. The dash is
; an em dash in UTF-8 on port E9h and the box-drawing line C4h of code page 437 on the screen.
; ---------------------------------------------------------------------------------------------
banner:
    MSG "x86lab BIOS ", BIOS_VERSION, " "
%if TELETYPE_E9 == 0
    mov si, .dash_utf8
    call e9_puts
    mov ax, 0EC4h
    mov bx, 0007h
    int 10h
%else
    MSG "-"                     ; the teletype copies to port E9h: keep it ASCII
%endif
    push es
    call es_ebda
    mov eax, [es:EBDA_RAM_KIB]
    pop es
    MSG " "
    call con_dec
    MSG " KiB RAM", 13, 10
    ret
.dash_utf8: db 0E2h, 80h, 94h, 0

; ---------------------------------------------------------------------------------------------
; equipment_init: the equipment word at 40:10h (INT 11h; IBM PC/AT Technical Reference):
;   bit 0      diskette drives present      bits 7-6   number of drives - 1
;   bit 1      math coprocessor             bits 5-4   video: 00 = EGA/VGA with its own BIOS;
;                                           a VGA BIOS's mode set makes it 10 (80x25 colour)
;   bits 11-9  number of serial ports       bits 15-14 number of parallel ports
; Serial and parallel ports were counted by serial_init into the BDA port tables.
; ---------------------------------------------------------------------------------------------
equipment_init:
    xor dx, dx
    call cmos_present
    jnc .ports
    mov al, CMOS_EQUIPMENT
    call cmos_read
    and al, 02h                 ; the coprocessor bit, as the setup program recorded it
    mov dl, al
    mov al, CMOS_FLOPPY
    call cmos_read
    xor cl, cl
    test al, 0F0h
    jz .no_a
    inc cl
.no_a:
    test al, 0Fh
    jz .no_b
    inc cl
.no_b:
    test cl, cl
    jz .ports
    dec cl
    shl cl, 6
    or dl, cl
    or dl, 01h
.ports:
    xor bx, bx                  ; serial ports
    xor cx, cx
.com:
    cmp word [BDA_COM_PORTS + bx], 0
    je .com_next
    inc cx
.com_next:
    add bx, 2
    cmp bx, 8
    jb .com
    shl cx, 9
    or dx, cx
    xor cx, cx                  ; parallel ports
    cmp word [BDA_LPT_PORTS], 0
    je .lpt_done
    inc cx
.lpt_done:
    shl cx, 14
    or dx, cx
    mov ax, [BDA_EQUIPMENT]
    and ax, 0030h               ; the video bits, as the video BIOS's mode set left them
    or dx, ax
    mov [BDA_EQUIPMENT], dx
    ret

; ---------------------------------------------------------------------------------------------
; Option ROMs (IBM PC/AT Technical Reference, "Adapter ROM module"): an adapter's ROM starts with
; 55h AAh, a length byte in 512-byte units and an entry point at offset 3; its bytes add up to 0.
; POST scans C8000h-EFFFFh in 2 KiB steps and far-calls each valid ROM's offset 3, which hooks
; the vectors it serves and returns. (The video ROM at C0000h was called by video_init.)
; ---------------------------------------------------------------------------------------------
scan_option_roms:
    mov bx, 0C800h
.next:
    cmp bx, 0F000h
    jae .done
    call optrom_try             ; BX -> the next segment to look at
    jmp .next
.done:
    ret

; optrom_try: look for a ROM at BX:0000; call it if it is valid. Returns BX = the next 2 KiB
; boundary after it (or BX + 80h if there is none).
optrom_try:
    push es
    push ds
    mov es, bx
    cmp word [es:0], 0AA55h
    jne .none
    movzx cx, byte [es:2]       ; length in 512-byte blocks
    test cx, cx
    jz .none
    ; Checksum: add every byte of the ROM, block by block (a ROM may be up to 127.5 KiB).
    push bx
    xor ah, ah
    mov dx, cx
.block:
    xor si, si
    mov cx, 512
.byte:
    add ah, [es:si]
    inc si
    loop .byte
    mov si, es
    add si, 20h                 ; next 512 bytes
    mov es, si
    dec dx
    jnz .block
    pop bx
    mov es, bx
    test ah, ah
    jnz .bad_sum
    cmp bx, 0C000h
    je .call                    ; the video ROM: nothing is on the screen before it runs
    MSG "Option ROM at "
    mov ax, bx
    call con_hex16
    MSG "0h", 13, 10
.call:
    ; Far call BX:0003. Registers and data segments may be changed by the ROM: save ours.
    pushad
    push bx
    push cs
    push word .back
    push bx
    push word 3
    retf                        ; = call far BX:0003
.back:
    cld
    pop bx
    popad
    mov ax, BDA_SEG
    mov ds, ax
    mov es, bx
    movzx ax, byte [es:2]
    shl ax, 5                   ; blocks -> paragraphs
    add ax, 7Fh                 ; round up to 2 KiB (80h paragraphs)
    and ax, 0FF80h
    jnz .advance
    mov ax, 80h
.advance:
    add bx, ax
    jmp .out
.bad_sum:
    MSG "Option ROM at "
    mov ax, bx
    call con_hex16
    MSG "0h: bad checksum, skipped", 13, 10
.none:
    add bx, 80h
.out:
    pop ds
    pop es
    ret

; ---------------------------------------------------------------------------------------------
; INT 02h: non-maskable interrupt (memory parity or I/O channel check on a PC/AT). Report which
; of port 61h's check bits is set and go on; x86lab has no source of NMIs.
; ---------------------------------------------------------------------------------------------
int02_nmi:
    push ax
    in al, PORT_B
    DBG "NMI: parity/channel check (port 61h bits 7-6)", 10
    pop ax
    iret
