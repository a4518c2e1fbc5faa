; int10.asm — video services (INT 10h) for an IBM VGA, used when no video option ROM is present.
;
; Sources: IBM VGA Technical Reference (register descriptions, the video parameter table, mode
; set sequence, font loading through plane 2); Ralf Brown's Interrupt List (INT 10h functions,
; register conventions, BIOS Data Area 40:49h-40:66h and 40:84h-40:8Ah); FreeVGA (register
; programming notes). The registers of each mode come from vgatab.inc, the fonts from font.inc.
;
; Modes: 03h (80x25 text, 16 colours), 12h (640x480, 16 colours) and 13h (320x200, 256 colours).
; A mode set programs every VGA register from the mode's table (table-driven, as the IBM BIOS
; does), loads the DAC, clears video memory (unless AL bit 7 is set) and, for text, loads the
; 8x16 font into plane 2.
;
; Functions (AH): 00h set mode, 01h cursor shape, 02h/03h cursor position, 04h light pen (none),
; 05h active page, 06h/07h scroll up/down, 08h read character and attribute, 09h/0Ah write
; character (and attribute), 0Bh border colour, 0Ch/0Dh write/read pixel, 0Eh teletype, 0Fh get
; mode, 10h palette (00h-03h, 07h-09h, 10h, 12h, 15h, 17h-1Ah), 11h fonts (00h-04h, 10h-14h,
; 20h-24h, 30h), 12h alternate select (BL=10h and a few acknowledged), 13h write string, 1Ah
; display combination code. Others return with registers unchanged (so a VBE probe, AX=4F00h,
; sees AL != 4Fh: not supported).
;
; Graphics-mode text: in mode 12h characters are drawn from the 8x16 font with write mode 2 and
; the bit mask register; in mode 13h from the 8x8 font (characters 80h-FFh through INT 1Fh, as
; on the CGA). Reading a character back (AH=08h) works in text mode only.

%include "vgatab.inc"

; The INT 10h frame: DS, ES, then PUSHA; BP points at it. Functions return values by writing
; the saved registers.
R_DI equ 0
R_SI equ 2
R_BP equ 4
R_BX equ 8
R_DX equ 10
R_CX equ 12
R_AX equ 14
R_ES equ 16
R_DS equ 18

int10_handler:
    sti
    cld
    push ds
    push es
    pusha
    mov bp, sp
%if TELETYPE_E9
    cmp ah, 0Eh
    jne .no_echo
    cmp al, 13
    je .no_echo
    out PORT_DEBUGCON, al
.no_echo:
%endif
    push ax
    mov ax, BDA_SEG
    mov ds, ax
    pop ax
    cmp ah, 13h
    ja .high
    movzx si, ah
    shl si, 1
    call [cs:int10_table + si]
    jmp .done
.high:
    cmp ah, 1Ah
    jne .done
    call vid_dcc
.done:
    popa
    pop es
    pop ds
    iret

int10_table:
    dw vid_set_mode             ; 00h
    dw vid_cursor_shape         ; 01h
    dw vid_set_cursor           ; 02h
    dw vid_get_cursor           ; 03h
    dw vid_light_pen            ; 04h
    dw vid_set_page             ; 05h
    dw vid_scroll_up            ; 06h
    dw vid_scroll_down          ; 07h
    dw vid_read_char            ; 08h
    dw vid_write_char_attr      ; 09h
    dw vid_write_char           ; 0Ah
    dw vid_border               ; 0Bh
    dw vid_write_pixel          ; 0Ch
    dw vid_read_pixel           ; 0Dh
    dw vid_teletype             ; 0Eh
    dw vid_get_mode             ; 0Fh
    dw vid_palette              ; 10h
    dw vid_font                 ; 11h
    dw vid_alt_select           ; 12h
    dw vid_write_string         ; 13h

; ---------------------------------------------------------------------------------------------
; POST: is there a VGA? Then mode 03h through our own INT 10h.
; ---------------------------------------------------------------------------------------------
vga_post_init:
    push es
    ; Presence: the CRTC cursor location high register (CR0E) reads back what was written.
    ; The CRTC answers at 3D4h only once Miscellaneous Output bit 0 (I/OAS) selects colour
    ; addressing; after reset it is at 3B4h. Select colour first, as the mode set will.
    mov dx, VGA_MISC_WRITE
    mov al, 67h
    out dx, al
    mov dx, VGA_CRTC
    mov al, 0Eh
    out dx, al
    inc dx
    mov al, 5Ah
    out dx, al
    in al, dx
    mov ah, al
    xor al, al
    out dx, al
    cmp ah, 5Ah
    jne .absent
    call es_ebda
    or byte [es:EBDA_FLAGS], EF_VGA
    jmp .set
.absent:
    DBG "POST: no VGA registers answer; video output goes to port E9h only", 10
.set:
    mov ax, 0003h
    int 10h
    pop es
    ret

; vga_find_mode: AL = mode -> CS:SI = its descriptor; CF=1 if the mode is not supported.
vga_find_mode:
    mov si, vga_modes
.next:
    cmp byte [cs:si + MD_MODE], 0FFh
    je .none
    cmp [cs:si + MD_MODE], al
    je .found
    add si, MD_SIZE
    jmp .next
.found:
    clc
    ret
.none:
    stc
    ret

; vga_cur_mode: CS:SI = descriptor of the current mode (BDA 40:49h). CF=1 if none.
vga_cur_mode:
    push ax
    mov al, [BDA_VIDEO_MODE]
    call vga_find_mode
    pop ax
    ret

; ---------------------------------------------------------------------------------------------
; AH=00h: set mode AL (bit 7: keep video memory).
; ---------------------------------------------------------------------------------------------
vid_set_mode:
    mov bl, al                  ; BL bit 7: do not clear
    and al, 7Fh
    cmp al, 02h                 ; modes 02h and 07h are text modes of older adapters: give them
    je .as_03                   ; the VGA's 80x25 colour text mode
    cmp al, 07h
    jne .lookup
.as_03:
    mov al, 03h
.lookup:
    call vga_find_mode
    jnc .known
    ret                         ; unsupported: nothing changes
.known:
    call vga_program            ; all registers
    ; The DAC: 64 EGA colours, or the 256-colour default
    cmp byte [cs:si + MD_TYPE], MT_LINEAR
    je .dac256
    push si
    mov si, dac_ega64
    xor ax, ax
    mov cx, 64
    call vga_load_dac
    pop si
    jmp .dac_done
.dac256:
    push si
    mov si, dac_default256
    xor ax, ax
    mov cx, 256
    call vga_load_dac
    pop si
.dac_done:
    ; The BIOS Data Area describes the new mode.
    mov al, [cs:si + MD_MODE]
    mov [BDA_VIDEO_MODE], al
    movzx ax, byte [cs:si + MD_COLS]
    mov [BDA_VIDEO_COLS], ax
    mov ax, [cs:si + MD_PAGESZ]
    mov [BDA_VIDEO_PAGESZ], ax
    mov word [BDA_VIDEO_START], 0
    mov al, [cs:si + MD_ROWS]
    mov [BDA_VIDEO_ROWS], al
    movzx ax, byte [cs:si + MD_CHEIGHT]
    mov [BDA_CHAR_HEIGHT], ax
    mov byte [BDA_VIDEO_PAGE], 0
    mov word [BDA_CRTC_BASE], VGA_CRTC
    mov byte [BDA_VIDEO_MSR], 29h
    mov byte [BDA_VIDEO_PAL], 30h
    mov al, bl
    and al, 80h                 ; bit 7: memory kept by the last mode set
    or al, 60h                  ; 256 KiB of video memory
    mov [BDA_VIDEO_CTL], al
    mov byte [BDA_VIDEO_SWITCHES], 0F9h
    mov byte [BDA_VGA_FLAGS], 51h    ; VGA active, 400 lines, default palette loading
    mov byte [BDA_VGA_DCC], 08h
    ; Equipment bits 5-4: 10b = 80x25 colour, as the IBM VGA BIOS records a colour mode there
    ; (00b, "EGA/VGA", is what POST found before the video BIOS ran).
    and byte [BDA_EQUIPMENT], 0CFh
    or byte [BDA_EQUIPMENT], 20h
    push es
    push di
    xor ax, ax
    push ds
    pop es
    mov di, BDA_CURSOR_POS
    mov cx, 8
    rep stosw                   ; every page's cursor at (0,0)
    pop di
    pop es
    ; Clear video memory
    test bl, 80h
    jnz .cleared
    call vga_clear_memory
.cleared:
    ; Fonts: text modes get the 8x16 font in plane 2; INT 43h points at the graphics font.
    push es
    xor ax, ax
    mov es, ax
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    jne .graphics_font
    push si
    push bp
    push cs
    pop es
    mov bp, font8x16
    mov cx, 256
    xor dx, dx
    mov bx, 1000h               ; 16 bytes per character, block 0
    call vga_load_font
    pop bp
    pop si
    xor ax, ax
    mov es, ax
    mov word [es:43h * 4], font8x16
    jmp .font_done
.graphics_font:
    mov word [es:43h * 4], font8x16
    cmp byte [cs:si + MD_CHEIGHT], 8
    jne .font_done
    mov word [es:43h * 4], font8x8_low
.font_done:
    mov word [es:43h * 4 + 2], BIOS_SEG
    pop es
    ; Cursor: underline in the bottom lines of the cell
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    jne .no_cursor
    mov cx, 0607h               ; CGA-style value, scaled to the 16-line cell below
    call vid_cursor_shape
    xor bh, bh
    xor dx, dx
    call vid_set_cursor
.no_cursor:
    ret

; vga_program: write all registers of the mode at CS:SI (IBM VGA Technical Reference, mode set
; sequence): synchronous sequencer reset, Miscellaneous Output, sequencer, end of reset; CRTC
; with the write protection of CR00-CR07 (CR11 bit 7) lifted first; Graphics Controller;
; Attribute Controller (its index/data flip-flop reset by reading Input Status #1, and PAS set
; at the end so the palette drives the display again); PEL mask FFh.
vga_program:
    push ax
    push bx
    push cx
    push dx
    mov dx, VGA_SEQ
    mov ax, 0100h               ; SR00 = 01h: synchronous reset
    call vga_out_index
    mov dx, VGA_MISC_WRITE
    mov al, [cs:si + MD_MISC]
    out dx, al
    mov dx, VGA_SEQ
    mov bx, 0
.seq:
    mov al, bl
    inc al
    mov ah, [cs:si + MD_SEQ + bx]
    call vga_out_index
    inc bx
    cmp bx, 4
    jb .seq
    mov ax, 0300h               ; SR00 = 03h: run
    call vga_out_index
    mov dx, VGA_CRTC
    mov al, 11h
    out dx, al
    inc dx
    in al, dx
    and al, 7Fh                 ; clear Protect
    out dx, al
    dec dx
    xor bx, bx
.crtc:
    mov al, bl
    mov ah, [cs:si + MD_CRTC + bx]
    call vga_out_index
    inc bx
    cmp bx, 25
    jb .crtc
    mov dx, VGA_GC
    xor bx, bx
.gc:
    mov al, bl
    mov ah, [cs:si + MD_GC + bx]
    call vga_out_index
    inc bx
    cmp bx, 9
    jb .gc
    mov dx, VGA_STATUS1
    in al, dx                   ; attribute flip-flop -> index
    mov dx, VGA_AC
    xor bx, bx
.ac:
    mov al, bl
    out dx, al
    mov al, [cs:si + MD_AC + bx]
    out dx, al
    inc bx
    cmp bx, 21
    jb .ac
    mov al, 20h                 ; PAS = 1
    out dx, al
    mov dx, VGA_PEL_MASK
    mov al, 0FFh
    out dx, al
    pop dx
    pop cx
    pop bx
    pop ax
    ret

; vga_out_index: AL -> index port DX, AH -> data port DX+1 (two byte writes).
vga_out_index:
    out dx, al
    inc dx
    xchg al, ah
    out dx, al
    xchg al, ah
    dec dx
    ret

; vga_in_index: AL = index at port DX -> AL = data from DX+1.
vga_in_index:
    out dx, al
    inc dx
    in al, dx
    dec dx
    ret

; vga_load_dac: CX entries from CS:SI (3 bytes each, 6-bit R, G, B) into the DAC from entry AL.
vga_load_dac:
    push cx
    push dx
    push si
    mov dx, VGA_DAC_WINDEX
    out dx, al
    mov dx, VGA_DAC_DATA
.entry:
    mov al, [cs:si]
    out dx, al
    mov al, [cs:si + 1]
    out dx, al
    mov al, [cs:si + 2]
    out dx, al
    add si, 3
    loop .entry
    pop si
    pop dx
    pop cx
    ret

; vga_clear_memory: text: every cell a space on light grey (0720h) in all 32 KiB at B8000h;
; graphics: all four planes zero (64 KiB at A0000h; the map mask of both graphics modes enables
; all planes).
vga_clear_memory:
    push es
    push di
    push cx
    push ax
    mov es, [cs:si + MD_SEG]
    xor di, di
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    jne .graphics
    mov ax, 0720h
    mov cx, 4000h
    rep stosw
    jmp .done
.graphics:
    xor ax, ax
    mov cx, 8000h
    rep stosw
.done:
    pop ax
    pop cx
    pop di
    pop es
    ret

; ---------------------------------------------------------------------------------------------
; Fonts in plane 2 (IBM VGA Technical Reference, "Loading a character font"): in text modes
; the character generator reads plane 2, 32 bytes per character, in 8 KiB blocks. To write it
; the CPU must see plane 2 alone at A0000h: map mask = plane 2, sequential addressing (SR04
; bit 2), read map 2, no odd/even, graphics controller memory map A0000h-AFFFFh. Afterwards the
; text mode's values come back.
; ---------------------------------------------------------------------------------------------
vga_font_access:
    push ax
    push dx
    mov dx, VGA_SEQ
    mov ax, 0402h               ; SR02 map mask: plane 2
    call vga_out_index
    mov ax, 0704h               ; SR04: extended memory, sequential (no odd/even)
    call vga_out_index
    mov dx, VGA_GC
    mov ax, 0204h               ; GR04 read map select: plane 2
    call vga_out_index
    mov ax, 0005h               ; GR05: write mode 0, no odd/even
    call vga_out_index
    mov ax, 0406h               ; GR06: A0000h-AFFFFh, no chaining
    call vga_out_index
    pop dx
    pop ax
    ret

vga_text_access:
    push ax
    push dx
    mov dx, VGA_SEQ
    mov ax, 0302h               ; planes 0 and 1 (characters and attributes)
    call vga_out_index
    mov ax, 0204h               ; odd/even addressing
    call vga_out_index
    mov dx, VGA_GC
    mov ax, 0004h
    call vga_out_index
    mov ax, 1005h               ; odd/even
    call vga_out_index
    mov ax, 0E06h               ; B8000h-BFFFFh, chain odd/even
    call vga_out_index
    pop dx
    pop ax
    ret

; vga_load_font: CX characters from ES:BP, BH bytes each, starting at character DX, into font
; block BL (0-7) of plane 2.
vga_load_font:
    pusha
    push ds
    push es
    call vga_font_access
    push es
    pop ds                      ; DS:BP = source
    mov ax, 0A000h
    mov es, ax
    ; block n starts at (n & 3) * 16 KiB + (n & 4) * 2 KiB
    movzx di, bl
    and di, 3
    shl di, 14
    test bl, 4
    jz .block
    add di, 2000h
.block:
    shl dx, 5
    add di, dx                  ; + first character * 32
    mov si, bp
    movzx dx, bh                ; bytes per character
.char:
    push cx
    push di
    mov cx, dx
    rep movsb
    pop di
    pop cx
    add di, 32
    loop .char
    pop es
    pop ds
    call vga_text_access
    popa
    ret

; ---------------------------------------------------------------------------------------------
; AH=01h: cursor shape. CH = start line (bit 5: cursor off), CL = end line. Stored at 40:60h.
; A CGA-style shape (lines 0-7) is scaled to the 16-line cell, as the VGA BIOS's cursor
; emulation does, so that 0607h still gives an underline.
; ---------------------------------------------------------------------------------------------
vid_cursor_shape:
    mov [BDA_CURSOR_TYPE], cx
    mov ax, cx                  ; AH = start, AL = end
    test ah, 20h
    jnz .program
    mov bl, [BDA_CHAR_HEIGHT]
    cmp bl, 8
    jbe .program
    cmp al, 8
    jae .program
    cmp ah, 8
    jae .program
    ; scale: line * height / 8
    push ax
    mov al, ah
    inc al
    mul bl
    shr ax, 3
    dec al
    mov cl, al                  ; new start
    pop ax
    push cx
    inc al
    mul bl
    shr ax, 3
    dec al                      ; new end
    pop cx
    mov ah, cl
    cmp ah, al
    jb .program
    mov ah, al
    dec ah
.program:
    mov dx, VGA_CRTC
    mov bl, al
    mov al, 0Ah
    call vga_out_index          ; CR0A cursor start (AH)
    mov ah, bl
    mov al, 0Bh
    call vga_out_index          ; CR0B cursor end
    ret

; ---------------------------------------------------------------------------------------------
; AH=02h: cursor of page BH to row DH, column DL. AH=03h: CX = shape, DX = position of page BH.
; ---------------------------------------------------------------------------------------------
vid_set_cursor:
    and bh, 7
    movzx bx, bh
    shl bx, 1
    mov [BDA_CURSOR_POS + bx], dx
    shr bx, 1
    cmp bl, [BDA_VIDEO_PAGE]
    jne .ret
    call vga_cursor_hw
.ret:
    ret

vid_get_cursor:
    and bh, 7
    movzx bx, bh
    shl bx, 1
    mov ax, [BDA_CURSOR_POS + bx]
    mov [bp + R_DX], ax
    mov ax, [BDA_CURSOR_TYPE]
    mov [bp + R_CX], ax
    mov word [bp + R_AX], 0
    ret

; vga_cursor_hw: put the hardware cursor (CR0E/CR0F) where the active page's cursor is.
vga_cursor_hw:
    push ax
    push bx
    push dx
    movzx bx, byte [BDA_VIDEO_PAGE]
    shl bx, 1
    mov dx, [BDA_CURSOR_POS + bx]
    mov al, dh
    mul byte [BDA_VIDEO_COLS]
    xor dh, dh
    add ax, dx
    mov bx, [BDA_VIDEO_START]
    shr bx, 1
    add bx, ax                  ; character offset from the start of video memory
    mov dx, VGA_CRTC
    mov al, 0Eh
    mov ah, bh
    call vga_out_index
    mov al, 0Fh
    mov ah, bl
    call vga_out_index
    pop dx
    pop bx
    pop ax
    ret

vid_light_pen:
    mov byte [bp + R_AX + 1], 0 ; AH = 0: not triggered (there is no light pen)
    ret

; ---------------------------------------------------------------------------------------------
; AH=05h: active page AL (text mode: 8 pages of 4 KiB). The CRTC start address (CR0C/CR0D)
; moves to the page.
; ---------------------------------------------------------------------------------------------
vid_set_page:
    call vga_cur_mode
    jc .ret
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    jne .ret
    and al, 7
    mov [BDA_VIDEO_PAGE], al
    xor ah, ah
    mul word [BDA_VIDEO_PAGESZ]
    mov [BDA_VIDEO_START], ax
    shr ax, 1
    mov bx, ax
    mov dx, VGA_CRTC
    mov al, 0Ch
    mov ah, bh
    call vga_out_index
    mov al, 0Dh
    mov ah, bl
    call vga_out_index
    call vga_cursor_hw
.ret:
    ret

; ---------------------------------------------------------------------------------------------
; AH=06h/07h: scroll the window (CH,CL)-(DH,DL) of the active page up/down by AL lines (0 =
; clear it), filling with attribute BH (the colour in graphics modes).
; ---------------------------------------------------------------------------------------------
vid_scroll_up:
    xor ah, ah
    jmp vga_scroll
vid_scroll_down:
    mov ah, 1
vga_scroll:
    push si
    call vga_cur_mode
    jc .ret
    ; clip the window to the screen
    cmp dl, [cs:si + MD_COLS]
    jb .col_ok
    mov dl, [cs:si + MD_COLS]
    dec dl
.col_ok:
    cmp dh, [BDA_VIDEO_ROWS]
    jbe .row_ok
    mov dh, [BDA_VIDEO_ROWS]
.row_ok:
    cmp cl, dl
    ja .ret
    cmp ch, dh
    ja .ret
    mov di, dx                  ; DI: bottom row (high byte), right column (low byte)
    mov dl, dh
    sub dl, ch
    inc dl                      ; DL = rows in the window
    cmp al, dl
    jbe .count_ok
    xor al, al
.count_ok:
    test al, al
    jnz .count_set
    mov al, dl                  ; 0 (or more than the window): clear it all
.count_set:
    mov dh, dl
    sub dh, al                  ; DH = rows that move
    push bx                     ; the fill attribute, in the high byte
    test ah, ah
    jnz .down
    mov bl, ch                  ; up: destination rows from the top ...
    mov bh, ch
    add bh, al                  ; ... source rows AL lines below
.up_move:
    test dh, dh
    jz .clear
    call vga_copy_row
    inc bl
    inc bh
    dec dh
    jmp .up_move
.down:
    mov bx, di
    mov bl, bh                  ; down: destination rows from the bottom ...
    sub bh, al                  ; ... source rows AL lines above
.down_move:
    test dh, dh
    jz .down_clear
    call vga_copy_row
    dec bl
    dec bh
    dec dh
    jmp .down_move
.down_clear:
    mov bl, ch                  ; the top AL rows are cleared
.clear:                         ; clear AL rows from row BL on
    mov dh, al
    pop ax                      ; AH = fill attribute
.clear_loop:
    call vga_clear_row
    inc bl
    dec dh
    jnz .clear_loop
.ret:
    pop si
    ret

; vga_copy_row: copy text row BH to row BL, columns CL to DI-low (inclusive), active page.
; CS:SI = mode, DS = 40h. Keeps all registers.
vga_copy_row:
    pusha
    push ds
    push es
    mov ax, di
    sub al, cl
    inc al
    movzx cx, cl                ; CX = left column
    movzx ax, al                ; AX = columns
    mov dx, [BDA_VIDEO_START]
    push word [BDA_VIDEO_COLS]
    mov es, [cs:si + MD_SEG]
    push es
    pop ds
    pop di                      ; DI = screen columns
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    je .text
    cmp byte [cs:si + MD_TYPE], MT_PLANAR
    je .planar
    ; 256 colours: 8 scan lines of AX*8 bytes; row r starts at r*8*320
    push ax
    movzx ax, bh
    imul ax, ax, 8 * 320
    mov si, ax
    movzx ax, bl
    imul ax, ax, 8 * 320
    mov di, ax
    shl cx, 3
    add si, cx
    add di, cx
    pop cx
    shl cx, 3                   ; bytes per scan line
    mov dx, 8
.lin_line:
    push cx
    push si
    push di
    rep movsb
    pop di
    pop si
    pop cx
    add si, 320
    add di, 320
    dec dx
    jnz .lin_line
    jmp .done
.planar:
    ; 16 colours: 16 scan lines of AX bytes, 80 bytes per line. Write mode 1 copies the four
    ; planes through the latches: each byte read loads them, each write stores them.
    push ax
    push dx
    mov dx, VGA_GC
    mov ax, 0105h
    call vga_out_index
    pop dx
    movzx ax, bh
    imul ax, ax, 16 * 80
    mov si, ax
    movzx ax, bl
    imul ax, ax, 16 * 80
    mov di, ax
    add si, cx
    add di, cx
    pop cx
    mov dx, 16
.pl_line:
    push cx
    push si
    push di
    rep movsb
    pop di
    pop si
    pop cx
    add si, 80
    add di, 80
    dec dx
    jnz .pl_line
    mov dx, VGA_GC
    mov ax, 0005h
    call vga_out_index
    jmp .done
.text:
    ; cell (r, c) at page start + (r * columns + c) * 2
    push ax
    push dx                     ; page start
    movzx ax, bh
    mul di
    add ax, cx
    shl ax, 1
    pop dx
    push dx
    add ax, dx
    mov si, ax
    movzx ax, bl
    mul di
    add ax, cx
    shl ax, 1
    pop dx
    add ax, dx
    mov di, ax
    pop cx
    rep movsw
.done:
    pop es
    pop ds
    popa
    ret

; vga_clear_row: fill text row BL, columns CL to DI-low, with blanks of attribute (colour) AH.
vga_clear_row:
    pusha
    push es
    mov bh, ah
    mov ax, di
    sub al, cl
    inc al
    movzx cx, cl
    movzx ax, al
    mov es, [cs:si + MD_SEG]
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    je .text
    cmp byte [cs:si + MD_TYPE], MT_PLANAR
    je .planar
    push ax
    movzx ax, bl
    imul ax, ax, 8 * 320
    mov di, ax
    shl cx, 3
    add di, cx
    pop cx
    shl cx, 3
    mov al, bh
    mov dx, 8
.lin_line:
    push cx
    push di
    rep stosb
    pop di
    pop cx
    add di, 320
    dec dx
    jnz .lin_line
    jmp .done
.planar:
    ; Set/reset writes colour BH into all four planes whatever the CPU writes.
    push ax
    mov dx, VGA_GC
    mov al, 00h
    mov ah, bh
    call vga_out_index          ; GR00 set/reset = colour
    mov ax, 0F01h
    call vga_out_index          ; GR01 enable set/reset on all planes
    movzx ax, bl
    imul ax, ax, 16 * 80
    mov di, ax
    add di, cx
    pop cx
    mov dx, 16
.pl_line:
    push cx
    push di
    rep stosb
    pop di
    pop cx
    add di, 80
    dec dx
    jnz .pl_line
    mov dx, VGA_GC
    mov ax, 0001h
    call vga_out_index
    jmp .done
.text:
    push ax
    movzx ax, bl
    mul word [BDA_VIDEO_COLS]
    add ax, cx
    shl ax, 1
    add ax, [BDA_VIDEO_START]
    mov di, ax
    pop cx
    mov ah, bh
    mov al, ' '
    rep stosw
.done:
    pop es
    popa
    ret

; ---------------------------------------------------------------------------------------------
; AH=08h: AL = character, AH = attribute at the cursor of page BH (text modes).
; ---------------------------------------------------------------------------------------------
vid_read_char:
    call vga_cur_mode
    jc .none
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    jne .none
    call vga_cell_addr          ; ES:DI
    mov ax, [es:di]
    mov [bp + R_AX], ax
    ret
.none:
    mov word [bp + R_AX], 0
    ret

; vga_cell_addr: ES:DI = the cell under the cursor of page BH (text modes).
vga_cell_addr:
    push dx
    push bx
    and bh, 7
    movzx bx, bh
    shl bx, 1
    mov dx, [BDA_CURSOR_POS + bx]
    pop bx
    call vga_cell_at
    pop dx
    ret

; vga_cell_at: ES:DI = the cell at row DH, column DL of page BH (text modes; CS:SI = mode).
vga_cell_at:
    push ax
    push bx
    push dx
    and bh, 7
    movzx bx, bh
    mov ax, [BDA_VIDEO_PAGESZ]
    mul bx
    mov di, ax
    pop dx
    push dx
    mov al, dh
    mul byte [BDA_VIDEO_COLS]
    xor dh, dh
    add ax, dx
    shl ax, 1
    add di, ax
    mov es, [cs:si + MD_SEG]
    pop dx
    pop bx
    pop ax
    ret

; ---------------------------------------------------------------------------------------------
; AH=09h: write character AL with attribute BL, CX times, at the cursor of page BH; AH=0Ah: the
; same keeping the attributes. The cursor does not move. In graphics modes BL is the colour
; (bit 7: XOR it in).
; ---------------------------------------------------------------------------------------------
vid_write_char_attr:
    mov ah, 1
    jmp vga_write_chars
vid_write_char:
    xor ah, ah
vga_write_chars:
    call vga_cur_mode
    jc .ret
    test cx, cx
    jz .ret
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    jne .graphics
    call vga_cell_addr
    test ah, ah
    jz .chars_only
    mov ah, bl
    rep stosw
    ret
.chars_only:
    mov [es:di], al
    add di, 2
    loop .chars_only
.ret:
    ret
.graphics:
    movzx di, bh
    shl di, 1
    mov dx, [BDA_CURSOR_POS + di]
.gchar:
    call vga_draw_char          ; AL at column DL, row DH, colour BL
    inc dl
    cmp dl, [cs:si + MD_COLS]
    jb .gnext
    xor dl, dl
    inc dh
.gnext:
    loop .gchar
    ret

; vga_draw_char: draw character AL in colour BL (bit 7: XOR) at column DL, row DH of a
; graphics mode (CS:SI = mode). Keeps all registers.
vga_draw_char:
    pusha
    push ds
    push es
    ; Glyph: INT 43h's font (for 8-line fonts, characters 80h-FFh come from INT 1Fh).
    xor cx, cx
    mov ds, cx
    movzx cx, byte [cs:si + MD_CHEIGHT]
    movzx ax, al
    cmp cl, 8
    jne .font43
    cmp al, 80h
    jb .font43
    sub al, 80h
    lds bx, [1Fh * 4]
    jmp .glyph
.font43:
    push bx
    lds bx, [43h * 4]
    mov di, bx
    pop bx
    mov bh, bl                  ; keep colour in BH while BX is the pointer
    mov bx, di
.glyph:
    ; DS:BX = font; glyph at BX + char * height
    push dx
    mul cx
    add bx, ax
    pop dx
    ; colour: from the saved BX in the PUSHA frame (BL)
    mov di, sp
    mov al, [ss:di + 4 + 8]     ; [sp] es, ds, then pusha: di si bp sp bx -> BL at +4+8
    mov ah, al                  ; AH = colour
    mov es, [cs:si + MD_SEG]
    cmp byte [cs:si + MD_TYPE], MT_PLANAR
    je .planar
    ; 256 colours: (row*8 + line)*320 + col*8
    push ax
    movzx ax, dh
    imul ax, ax, 8 * 320
    movzx di, dl
    shl di, 3
    add di, ax
    pop ax
.lin_line:
    mov dl, [bx]
    inc bx
    push cx
    mov cx, 8
.lin_pixel:
    shl dl, 1
    jnc .lin_bg
    test ah, 80h
    jnz .lin_xor
    mov [es:di], ah
    jmp .lin_next
.lin_xor:
    mov al, ah
    and al, 7Fh
    xor [es:di], al
    jmp .lin_next
.lin_bg:
    test ah, 80h
    jnz .lin_next
    mov byte [es:di], 0
.lin_next:
    inc di
    loop .lin_pixel
    pop cx
    add di, 320 - 8
    loop .lin_line
    jmp .done
.planar:
    ; 16 colours: byte (row*16 + line)*80 + col. Write mode 2: the CPU byte's low 4 bits are
    ; the colour for all 8 pixels, the bit mask register picks which pixels take it (the
    ; others keep the latched value, so each byte is read first to load the latches).
    push ax
    movzx ax, dh
    imul ax, ax, 16 * 80
    movzx di, dl
    add di, ax
    mov dx, VGA_GC
    mov ax, 0205h
    call vga_out_index          ; write mode 2
    pop ax
    push ax
    test ah, 80h
    jz .pl_rows
    mov ax, 1803h               ; XOR with the latches
    call vga_out_index
    pop ax
    push ax
.pl_rows:
    pop ax
.pl_line:
    push ax
    mov al, 08h                 ; GR08 bit mask = the glyph's dots
    mov ah, [bx]
    call vga_out_index
    pop ax
    mov al, [es:di]             ; load latches
    push ax
    mov al, ah
    and al, 7Fh
    mov [es:di], al             ; foreground
    pop ax
    test ah, 80h
    jnz .pl_next
    push ax
    mov al, 08h
    mov ah, [bx]
    not ah
    call vga_out_index
    pop ax
    mov al, [es:di]
    mov byte [es:di], 0         ; background: colour 0
.pl_next:
    inc bx
    add di, 80
    loop .pl_line
    mov ax, 0FF08h
    call vga_out_index
    mov ax, 0003h
    call vga_out_index
    mov ax, 0005h
    call vga_out_index
.done:
    pop es
    pop ds
    popa
    ret

vid_border:                     ; AH=0Bh BH=0: border (overscan) colour BL
    test bh, bh
    jnz .ret
    mov bh, bl
    mov al, 01h
    call vid_palette_set_overscan
.ret:
    ret

; ---------------------------------------------------------------------------------------------
; AH=0Ch: pixel at column CX, row DX to colour AL (bit 7: XOR). AH=0Dh: AL = its colour.
; ---------------------------------------------------------------------------------------------
vid_write_pixel:
    call vga_cur_mode
    jc .ret
    mov bl, [cs:si + MD_TYPE]
    mov es, [cs:si + MD_SEG]
    cmp bl, MT_LINEAR
    je .linear
    cmp bl, MT_PLANAR
    jne .ret
    call vga_pixel_planar       ; DI = byte, AH = mask
    push ax
    mov dx, VGA_GC
    mov ax, 0205h
    call vga_out_index
    pop ax
    push ax
    mov al, 08h
    call vga_out_index          ; bit mask = this pixel
    pop ax
    test al, 80h
    jz .no_xor
    push ax
    mov ax, 1803h
    call vga_out_index
    pop ax
.no_xor:
    mov ah, [es:di]             ; latch
    and al, 7Fh
    mov [es:di], al
    mov ax, 0FF08h
    call vga_out_index
    mov ax, 0003h
    call vga_out_index
    mov ax, 0005h
    call vga_out_index
.ret:
    ret
.linear:
    push ax
    mov ax, 320
    mul dx
    add ax, cx
    mov di, ax
    pop ax
    test al, 80h
    jnz .lxor
    mov [es:di], al
    ret
.lxor:
    and al, 7Fh
    xor [es:di], al
    ret

vid_read_pixel:
    call vga_cur_mode
    jc .ret
    mov bl, [cs:si + MD_TYPE]
    mov es, [cs:si + MD_SEG]
    cmp bl, MT_LINEAR
    je .linear
    cmp bl, MT_PLANAR
    jne .ret
    call vga_pixel_planar
    ; read each plane through GR04 (read map select) and gather the bits
    mov bh, ah                  ; mask
    xor bl, bl                  ; colour
    mov cx, 3
    mov dx, VGA_GC
.plane:
    mov al, 04h
    mov ah, cl
    call vga_out_index
    shl bl, 1
    test [es:di], bh
    jz .zero
    or bl, 1
.zero:
    dec cx
    jns .plane
    mov ax, 0004h
    call vga_out_index
    mov [bp + R_AX], bl
.ret:
    ret
.linear:
    mov ax, 320
    mul dx
    add ax, cx
    mov di, ax
    mov al, [es:di]
    mov [bp + R_AX], al
    ret

; vga_pixel_planar: CX = column, DX = row -> DI = byte offset, AH = bit mask (mode 12h).
vga_pixel_planar:
    push cx
    push dx
    push ax
    mov ax, 80
    mul dx
    mov di, cx
    shr di, 3
    add di, ax
    pop ax
    and cl, 7
    mov ah, 80h
    shr ah, cl
    pop dx
    pop cx
    ret

; ---------------------------------------------------------------------------------------------
; AH=0Eh: teletype output of AL on the active page (BL = colour in graphics modes).
; BEL beeps, BS moves left, CR goes to column 0, LF down a line; past the last row the screen
; scrolls up (filled with the attribute at the cursor in text modes, colour 0 in graphics).
; ---------------------------------------------------------------------------------------------
vid_teletype:
    mov bh, [BDA_VIDEO_PAGE]
    xor ah, ah                  ; keep the attributes (text modes)
    jmp vga_tty

; vga_tty: AL = character, BL = attribute/colour, BH = page, AH = 1 to write BL as the
; attribute in text modes too (AH=13h with attributes), 0 to keep the cell's attribute.
vga_tty:
    call vga_cur_mode
    jnc .mode_ok
    ret
.mode_ok:
    and bh, 7
    movzx di, bh
    shl di, 1
    mov dx, [BDA_CURSOR_POS + di]
    cmp al, 7
    je .bell
    cmp al, 8
    je .backspace
    cmp al, 10
    je .line_feed
    cmp al, 13
    je .carriage_return
    ; an ordinary character at the cursor
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    jne .graphic
    push di
    push es
    push ax
    call vga_cell_addr
    pop ax
    mov [es:di], al
    test ah, ah
    jz .attr_kept
    mov [es:di + 1], bl
.attr_kept:
    pop es
    pop di
    jmp .advance
.graphic:
    call vga_draw_char
.advance:
    inc dl
    cmp dl, [cs:si + MD_COLS]
    jb .set
    xor dl, dl
.line_feed:
    inc dh
    cmp dh, [BDA_VIDEO_ROWS]
    jbe .set
    mov dh, [BDA_VIDEO_ROWS]
    ; scroll up one line
    push ax
    push bx
    push cx
    push dx
    push di
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    je .text_attr
    xor bh, bh                  ; graphics: colour 0
    jmp .scroll
.text_attr:
    push es
    call vga_cell_at
    mov bh, [es:di + 1]         ; the attribute where the cursor is
    pop es
.scroll:
    mov ax, 0601h
    xor cx, cx
    mov dh, [BDA_VIDEO_ROWS]
    mov dl, [cs:si + MD_COLS]
    dec dl
    push si
    call vid_scroll_up
    pop si
    pop di
    pop dx
    pop cx
    pop bx
    pop ax
    jmp .set
.carriage_return:
    xor dl, dl
    jmp .set
.backspace:
    test dl, dl
    jz .set
    dec dl
    jmp .set
.bell:
    call beep
    ret
.set:
    mov [BDA_CURSOR_POS + di], dx
    shr di, 1
    mov ax, di
    cmp al, [BDA_VIDEO_PAGE]
    jne .ret
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    jne .ret
    call vga_cursor_hw
.ret:
    ret

; beep: 1 kHz on the speaker for about 110 ms. PIT counter 2 in mode 3 with count 1193; port
; 61h bits 0 (gate 2) and 1 (speaker data) connect it to the speaker (IBM PC/AT TR, "Speaker").
beep:
    push ax
    push bx
    mov al, 0B6h                ; counter 2, LSB then MSB, mode 3
    out PIT_CMD, al
    mov ax, 1193
    out PIT_CH2, al
    mov al, ah
    out PIT_CH2, al
    in al, PORT_B
    mov ah, al
    or al, 03h
    out PORT_B, al
    mov bx, 2
    call wait_ticks
    mov al, ah
    and al, 0FCh
    out PORT_B, al
    pop bx
    pop ax
    ret

; AH=0Fh: AL = mode (bit 7 as the last mode set left it), AH = columns, BH = active page.
vid_get_mode:
    mov al, [BDA_VIDEO_CTL]
    and al, 80h
    or al, [BDA_VIDEO_MODE]
    mov ah, [BDA_VIDEO_COLS]
    mov [bp + R_AX], ax
    mov al, [BDA_VIDEO_PAGE]
    mov [bp + R_BX + 1], al
    ret

; ---------------------------------------------------------------------------------------------
; AH=10h: palette registers and DAC.
; ---------------------------------------------------------------------------------------------
vid_palette:
    cmp al, 00h
    je .set_reg
    cmp al, 01h
    je vid_palette_set_overscan
    cmp al, 02h
    je .set_all
    cmp al, 03h
    je .blink
    cmp al, 07h
    je .get_reg
    cmp al, 08h
    je .get_overscan
    cmp al, 09h
    je .get_all
    cmp al, 10h
    je .set_dac
    cmp al, 12h
    je .set_dac_block
    cmp al, 15h
    je .get_dac
    cmp al, 17h
    je .get_dac_block
    cmp al, 18h
    je .set_mask
    cmp al, 19h
    je .get_mask
    cmp al, 1Ah
    je .page_state
    ret
.set_reg:                       ; palette register BL = BH
    cmp bl, 14h
    ja .ret
    mov al, bl
    mov ah, bh
    jmp vga_ac_write
.get_reg:                       ; BH = palette register BL
    cmp bl, 14h
    ja .ret
    mov al, bl
    call vga_ac_read
    mov [bp + R_BX + 1], al
.ret:
    ret
.get_overscan:
    mov al, 11h
    call vga_ac_read
    mov [bp + R_BX + 1], al
    ret
.set_all:                       ; ES:DX = 16 palette registers, then the overscan colour
    mov es, [bp + R_ES]
    mov si, dx
    xor bl, bl
.set_all_loop:
    mov al, bl
    mov ah, [es:si]
    call vga_ac_write
    inc si
    inc bl
    cmp bl, 16
    jb .set_all_loop
    mov al, 11h
    mov ah, [es:si]
    jmp vga_ac_write
.get_all:
    mov es, [bp + R_ES]
    mov di, dx
    xor bl, bl
.get_all_loop:
    mov al, bl
    call vga_ac_read
    stosb
    inc bl
    cmp bl, 16
    jb .get_all_loop
    mov al, 11h
    call vga_ac_read
    stosb
    ret
.blink:                         ; BL = 0: intensity, 1: blink (AR10 bit 3)
    mov al, 10h
    call vga_ac_read
    and al, 0F7h
    test bl, bl
    jz .blink_set
    or al, 08h
.blink_set:
    mov ah, al
    mov al, 10h
    jmp vga_ac_write
.set_dac:                       ; entry BX = DH red, CH green, CL blue
    mov al, bl
    mov dx, VGA_DAC_WINDEX
    out dx, al
    mov dx, VGA_DAC_DATA
    mov al, [bp + R_DX + 1]
    out dx, al
    mov al, ch
    out dx, al
    mov al, cl
    out dx, al
    ret
.get_dac:
    mov al, bl
    mov dx, VGA_DAC_RINDEX
    out dx, al
    mov dx, VGA_DAC_DATA
    in al, dx
    mov [bp + R_DX + 1], al
    in al, dx
    mov [bp + R_CX + 1], al
    in al, dx
    mov [bp + R_CX], al
    ret
.set_dac_block:                 ; CX entries from BX, ES:DX table
    mov es, [bp + R_ES]
    mov si, dx
    mov ax, cx
    mov cx, 3
    mul cx
    mov cx, ax                  ; bytes
    mov al, bl
    mov dx, VGA_DAC_WINDEX
    out dx, al
    mov dx, VGA_DAC_DATA
    test cx, cx
    jz .ret2
.sdb:
    mov al, [es:si]
    out dx, al
    inc si
    loop .sdb
.ret2:
    ret
.get_dac_block:
    mov es, [bp + R_ES]
    mov di, dx
    mov ax, cx
    mov cx, 3
    mul cx
    mov cx, ax
    mov al, bl
    mov dx, VGA_DAC_RINDEX
    out dx, al
    mov dx, VGA_DAC_DATA
    test cx, cx
    jz .ret2
.gdb:
    in al, dx
    stosb
    loop .gdb
    ret
.set_mask:
    mov dx, VGA_PEL_MASK
    mov al, bl
    out dx, al
    ret
.get_mask:
    mov dx, VGA_PEL_MASK
    in al, dx
    mov [bp + R_BX], al
    ret
.page_state:                    ; BL = paging mode 0, BH = colour page 0
    mov word [bp + R_BX], 0
    ret

vid_palette_set_overscan:       ; overscan (border) colour BH
    mov al, 11h
    mov ah, bh
    ; fall through
; vga_ac_write: attribute controller register AL = AH (flip-flop reset first, PAS set after).
vga_ac_write:
    push dx
    push ax
    mov dx, VGA_STATUS1
    in al, dx
    mov dx, VGA_AC
    pop ax
    push ax
    out dx, al
    mov al, ah
    out dx, al
    mov al, 20h
    out dx, al
    pop ax
    pop dx
    ret

; vga_ac_read: AL = attribute controller register AL.
vga_ac_read:
    push dx
    push ax
    mov dx, VGA_STATUS1
    in al, dx
    mov dx, VGA_AC
    pop ax
    out dx, al
    mov dx, VGA_AC_READ
    in al, dx
    push ax
    mov dx, VGA_STATUS1
    in al, dx
    mov dx, VGA_AC
    mov al, 20h
    out dx, al
    pop ax
    pop dx
    ret

; ---------------------------------------------------------------------------------------------
; AH=11h: fonts.
;   AL=00h/10h  load BH-byte characters from ES:BP: CX characters from DX, into block BL
;   AL=02h/12h  load the 8x8 font          AL=04h/14h  load the 8x16 font
;   AL=03h      block specifier: SR03 = BL
;   AL=1xh also set the cell height to the font's: CR09, the cursor, rows (80x50 with 8x8)
;   AL=20h      INT 1Fh = ES:BP       AL=21h  INT 43h = ES:BP, CX lines (user graphics font)
;   AL=23h      INT 43h = the 8x8 font     AL=24h  INT 43h = the 8x16 font
;   AL=30h      information: ES:BP = font BH (0 INT 1Fh, 1 INT 43h, 3 8x8, 4 8x8 top half,
;               6 8x16), CX = character height, DL = rows - 1
; Loading fonts into plane 2 is for text modes; in graphics modes AL=0xh/1xh do nothing.
; ---------------------------------------------------------------------------------------------
vid_font:
    cmp al, 30h
    je .info
    cmp al, 20h
    je .set_1f
    cmp al, 21h
    je .set_43_user
    cmp al, 23h
    je .set_43_8x8
    cmp al, 24h
    je .set_43_8x16
    cmp al, 03h
    je .block_spec
    call vga_cur_mode
    jc .ret
    cmp byte [cs:si + MD_TYPE], MT_TEXT
    jne .ret
    mov ah, al
    and ah, 0Fh
    cmp ah, 00h
    je .user
    cmp ah, 02h
    je .rom8
    cmp ah, 04h
    je .rom16
.ret:
    ret
.user:
    push ax
    mov es, [bp + R_ES]
    push bp
    mov bp, [bp + R_BP]
    call vga_load_font
    pop bp
    pop ax
    mov cl, bh
    jmp .recalc
.rom8:
    push ax
    push cs
    pop es
    push bp
    mov bp, font8x8_low
    mov cx, 128
    xor dx, dx
    mov bh, 8
    call vga_load_font
    mov bp, font8x8_high
    mov dx, 128
    call vga_load_font
    pop bp
    pop ax
    mov cl, 8
    jmp .recalc
.rom16:
    push ax
    push cs
    pop es
    push bp
    mov bp, font8x16
    mov cx, 256
    xor dx, dx
    mov bh, 16
    call vga_load_font
    pop bp
    pop ax
    mov cl, 16
.recalc:
    test al, 10h
    jz .ret
    ; CL = character height: maximum scan line, cursor, rows, page size
    mov dx, VGA_CRTC
    mov al, 09h
    call vga_in_index
    and al, 0E0h
    mov ah, cl
    dec ah
    or ah, al
    mov al, 09h
    call vga_out_index
    movzx ax, cl
    mov [BDA_CHAR_HEIGHT], ax
    mov ax, 400                 ; mode 03h shows 400 scan lines
    div cl
    dec al
    mov [BDA_VIDEO_ROWS], al
    inc al
    mul byte [BDA_VIDEO_COLS]
    shl ax, 1
    add ax, 0FFh                ; page size rounded up to 256 bytes
    xor al, al
    mov [BDA_VIDEO_PAGESZ], ax
    mov ch, cl
    sub ch, 2
    cmp cl, 8
    jbe .cursor
    dec ch
.cursor:
    mov al, ch
    inc al
    mov cl, al                  ; CH = start, CL = end
    mov ah, ch
    mov [BDA_CURSOR_TYPE], cx
    mov dx, VGA_CRTC
    mov al, 0Ah
    call vga_out_index
    mov al, 0Bh
    mov ah, cl
    call vga_out_index
    ret
.block_spec:
    mov dx, VGA_SEQ
    mov al, 03h
    mov ah, bl
    jmp vga_out_index
.set_1f:
    xor ax, ax
    mov es, ax
    mov ax, [bp + R_BP]
    mov [es:1Fh * 4], ax
    mov ax, [bp + R_ES]
    mov [es:1Fh * 4 + 2], ax
    ret
.set_43_user:
    xor ax, ax
    mov es, ax
    mov ax, [bp + R_BP]
    mov [es:43h * 4], ax
    mov ax, [bp + R_ES]
    mov [es:43h * 4 + 2], ax
    mov [BDA_CHAR_HEIGHT], cx
    ret
.set_43_8x8:
    mov ax, font8x8_low
    jmp .set_43
.set_43_8x16:
    mov ax, font8x16
.set_43:
    xor cx, cx
    mov es, cx
    mov [es:43h * 4], ax
    mov word [es:43h * 4 + 2], BIOS_SEG
    ret
.info:
    mov ax, [BDA_CHAR_HEIGHT]
    mov [bp + R_CX], ax
    mov al, [BDA_VIDEO_ROWS]
    mov [bp + R_DX], al
    xor ax, ax
    mov es, ax
    cmp bh, 0
    je .info_1f
    cmp bh, 1
    je .info_43
    mov ax, font8x8_low
    cmp bh, 3
    je .info_rom
    mov ax, font8x8_high
    cmp bh, 4
    je .info_rom
    mov ax, font8x16            ; 2 (8x14), 5, 6, 7: the 8x16 font is what there is
.info_rom:
    mov [bp + R_BP], ax
    mov word [bp + R_ES], BIOS_SEG
    ret
.info_1f:
    les ax, [es:1Fh * 4]
    jmp .info_ptr
.info_43:
    les ax, [es:43h * 4]
.info_ptr:
    mov [bp + R_BP], ax
    mov [bp + R_ES], es
    ret

; ---------------------------------------------------------------------------------------------
; AH=12h: alternate select. BL=10h: BH = 0 (colour), BL = 3 (256 KiB), CH = 0 (feature bits),
; CL = 9 (switch settings). BL=30h-36h (scan lines, palette loading, video enable, grey
; summing, cursor emulation, refresh): acknowledged with AL = 12h, nothing changes.
; ---------------------------------------------------------------------------------------------
vid_alt_select:
    cmp bl, 10h
    jne .others
    mov word [bp + R_BX], 0003h
    mov al, [BDA_VIDEO_SWITCHES]
    and al, 0Fh
    xor ah, ah
    mov [bp + R_CX], ax
    ret
.others:
    cmp bl, 30h
    jb .ret
    cmp bl, 36h
    ja .ret
    mov byte [bp + R_AX], 12h
.ret:
    ret

; ---------------------------------------------------------------------------------------------
; AH=13h: write string. AL bit 0: move the cursor to the end; bit 1: the string alternates
; characters and attributes. BH = page, BL = attribute, CX = length, DH/DL = row/column,
; ES:BP = the string. CR, LF, BS and BEL act as in teletype output.
; ---------------------------------------------------------------------------------------------
vid_write_string:
    and bh, 7
    movzx di, bh
    shl di, 1
    push word [BDA_CURSOR_POS + di]     ; the cursor before, restored unless AL bit 0
    mov [BDA_CURSOR_POS + di], dx
    mov es, [bp + R_ES]
    mov si, [bp + R_BP]
    mov ah, al                  ; AH bit 1: attributes in the string
    test cx, cx
    jz .end
.next:
    mov al, [es:si]
    inc si
    test ah, 02h
    jz .char
    mov bl, [es:si]
    inc si
.char:
    push ax
    push si
    push es
    push di
    ; write with attribute unless it is a control character
    mov ah, 1
    call vga_tty
    pop di
    pop es
    pop si
    pop ax
    loop .next
.end:
    pop dx
    test byte [bp + R_AX], 01h
    jnz .keep
    mov [BDA_CURSOR_POS + di], dx
    shr di, 1
    mov ax, di
    cmp al, [BDA_VIDEO_PAGE]
    jne .keep
    call vga_cursor_hw
.keep:
    ret

; AH=1Ah: display combination code. AL=00h: BL = 08h (VGA with analog colour display), BH = 0
; (no secondary). AL=01h: accepted. Both return AL = 1Ah (function supported).
vid_dcc:
    cmp al, 01h
    ja .ret
    mov byte [bp + R_AX], 1Ah
    test al, al
    jnz .ret
    mov word [bp + R_BX], 0008h
.ret:
    ret
