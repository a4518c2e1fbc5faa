; kernel.nasm — the x86lab demo OS kernel: a small preemptive multitasking kernel for 32-bit
; protected mode, written to be read next to the Intel SDM and stepped through in the debugger.
;
; The boot sector (boot.nasm) loads this file to KERNEL_BASE = 0x10000 and jumps to its first
; byte in 32-bit protected mode, with flat segments, interrupts off and paging off. From there:
;
;   kernel_main (this file)        the boot sequence, in order, with a line on the screen each
;   kernel/console.inc             VGA text console (0xB8000 + CRTC cursor) and COM1 output;
;                                  kputs/kput_hex/kput_dec and the KPRINT macro
;   kernel/cpu.inc                 GDT (ring 0 and ring 3 segments, the TSS), IDT, the interrupt
;                                  entry stubs and the common frame, exception reports
;   kernel/pic_pit.inc             8259A PICs (remapped to 20h-2Fh) and the 8254 PIT (100 Hz)
;   kernel/memory.inc              E820 map -> page allocator; page tables; user pointer checks
;   kernel/task.inc                tasks, the round-robin scheduler, context switch, block and
;                                  wakeup, spawn/exit/wait
;   kernel/syscall.inc             INT 80h: the system call table and the calls themselves
;   kernel/input.inc               keyboard (IRQ1, set-1 scan codes) and COM1 receive (IRQ4)
;                                  into one input queue
;   kernel/floppy.inc              the 82077AA floppy controller with 8237 DMA channel 2, and
;                                  the file table
;   kernel/vga.inc                 mode 13h graphics demo: VGA registers programmed directly,
;                                  then text mode 03h restored with the saved font
;   user/*.inc                     the ring 3 programs: a small library, the shell, the
;                                  spinner and the counter
;
; Conventions used everywhere in the kernel:
;   - Functions take their arguments in registers (each says which) and follow the C calling
;     convention for the rest: EAX, ECX, EDX may be changed; EBX, ESI, EDI, EBP are preserved.
;   - The kernel runs with interrupts disabled (every IDT entry is an interrupt gate, which
;     clears IF). Interrupts are taken while ring 3 code runs, and in the idle loop
;     (STI; HLT). So kernel code is never interrupted half-way through changing something,
;     without any locks: a simple rule for a single-CPU teaching kernel.
;   - Strings are NUL-terminated. Kernel output goes to the screen and to COM1 alike.

%include "layout.inc"

    cpu 686
    bits 32
    org KERNEL_BASE

; KPRINT "text", 10, ...: print a string (given like nasm's db) on the console. The string is
; placed right in the code, jumped over.
%macro KPRINT 1+
    jmp %%over
%%str: db %1, 0
%%over:
    push esi
    mov esi, %%str
    call kputs
    pop esi
%endmacro


; ---------------------------------------------------------------------------------------------
; Kernel variables and buffers live at fixed addresses in KDATA (0x22000-0x2FFFF, see
; layout.inc). "absolute" only names addresses; nothing is emitted into the image, and
; kernel_main clears the whole area first.
; ---------------------------------------------------------------------------------------------
MAX_TASKS   equ 8

absolute KDATA
idt:            resb 256 * 8        ; the interrupt descriptor table
tss:            resb 104            ; the task state segment
                alignb 4
ticks:          resd 1              ; PIT interrupts since boot (100 per second)
idle_ticks:     resd 1              ; ticks that found no task running
current:        resd 1              ; the running task's struct (0 before the first task)
next_pid:       resd 1
free_list:      resd 1              ; page allocator: first free page (each holds the next)
free_pages:     resd 1
total_pages:    resd 1
mem_top:        resd 1              ; end of usable RAM below 1 GiB (the identity map's extent)
serial_room:    resd 1              ; bytes COM1's transmit FIFO can still take
con_row:        resd 1              ; text console cursor
con_col:        resd 1
gfx_active:     resd 1              ; 1 while the graphics demo owns the screen
kbd_shift:      resd 1
kbd_caps:       resd 1
kbd_e0:         resd 1
kbd_presses:    resd 1              ; key presses seen (the graphics demo waits for one)
input_head:     resd 1              ; the input queue: keyboard and COM1 characters
input_tail:     resd 1
input_queue:    resb 256
fdc_irq:        resd 1              ; set by IRQ6
fdc_cyl:        resd 1              ; the cylinder the head is on
fdc_ok:         resd 1              ; 1 once the controller was reset and recalibrated
fdc_st:         resb 8              ; the last result phase: ST0 ST1 ST2 C H R N
fdc_error:      resd 1              ; what went wrong last (a message)
file_count:     resd 1
                alignb 64
tasks:          resb 64 * MAX_TASKS ; the task table (struct layout in task.inc)
tasks_end:
                alignb 16
dir_buf:        resb 512            ; the file table sector
name_buf:       resb 20             ; a file name copied from a task
                alignb 16
dac_save:       resb 768            ; the DAC colours, saved across the graphics demo
screen_save:    resb 80 * 25 * 2    ; the text screen, saved across the graphics demo
                alignb 16
file_buf:       resb 8192           ; a file read from the floppy, on its way to a task
kdata_end:

    section .text

; =============================================================================================
; kernel_main: the entry point, at KERNEL_BASE. CS = 08h, DS = ES = SS = 10h (flat), ESP =
; BOOT_STACK_TOP, interrupts disabled, paging off: as boot.nasm left things.
; =============================================================================================
kernel_main:
    cld                                 ; string instructions count upwards, always
    mov esp, BOOT_STACK_TOP

    ; Zero the kernel's variables (they were whatever the memory held).
    mov edi, KDATA
    mov ecx, (kdata_end - KDATA) / 4
    xor eax, eax
    rep stosd

    call serial_init                    ; first, so that everything below reaches COM1 too
    call console_init
    KPRINT 10, "x86lab demo OS", 10
    KPRINT "  boot: loaded by the boot sector; A20 via "
    mov esi, msg_a20_bios
    cmp dword [BI_A20_METHOD], 1
    je .a20
    mov esi, msg_a20_port92
.a20:
    call kputs
    KPRINT "; protected mode", 10

    ; Descriptor tables: our own GDT (with ring 3 segments and the TSS), and an IDT.
    call gdt_init
    call idt_init
    KPRINT "  cpu: GDT (ring 0/3 segments, TSS), IDT (exceptions 0-19, IRQs, INT 80h)", 10

    ; Interrupt hardware: PICs remapped to 20h-2Fh, the PIT at 100 Hz.
    call pic_init
    call pit_init
    KPRINT "  pic: IRQs 0-15 at vectors 20h-2Fh; pit: channel 0 at 100 Hz (mode 2)", 10

    ; Memory: the E820 map feeds the page allocator; then paging goes on.
    call mm_init
    KPRINT "  memory: "
    mov eax, [BI_E820_COUNT]
    call kput_dec
    KPRINT " E820 entries, "
    mov eax, [total_pages]
    shl eax, 2                          ; pages x 4 KiB
    call kput_dec
    KPRINT " KiB in "
    mov eax, [total_pages]
    call kput_dec
    KPRINT " free pages above 1 MiB", 10
    call paging_init
    KPRINT "  paging: on; the kernel supervisor-only, page 0 and stack guards unmapped", 10

    ; The font for restoring text mode after the graphics demo.
    call font_init

    ; Input, and the floppy (needs interrupts for its IRQ 6: we enable them briefly while
    ; waiting, see block in task.inc).
    call input_init
    call fdc_init
    jc .no_floppy
    KPRINT "  floppy: 82077AA and DMA channel 2 ready; "
    call fs_init
    jc .no_floppy
    mov eax, [file_count]
    call kput_dec
    KPRINT " files in the file table", 10
    jmp .tasks
.no_floppy:
    KPRINT "  floppy: not available ("
    mov esi, [fdc_error]
    call kputs
    KPRINT "); cat and ls will not work", 10

.tasks:
    ; The first tasks. The shell is pid 1.
    mov eax, shell_main
    xor edx, edx
    mov ecx, name_shell
    call task_spawn
    mov eax, spinner_main
    xor edx, edx
    mov ecx, name_spinner
    call task_spawn
    mov eax, counter_main
    xor edx, edx
    mov ecx, name_counter
    call task_spawn
    KPRINT "  tasks: shell (pid 1), spinner (pid 2), counter (pid 3), all in ring 3", 10, 10
    jmp start_first_task                ; never returns: from now on, only interrupts bring
                                        ; the CPU back into the kernel

name_shell:     db "shell", 0
name_spinner:   db "spinner", 0
name_counter:   db "counter", 0
msg_a20_bios:   db "INT 15h AX=2401h", 0
msg_a20_port92: db "port 92h", 0

; kernel_panic: ESI = a message. Prints it and stops the machine for good (x86lab and QEMU
; with isa-debug-exit end the run with status 255).
kernel_panic:
    push esi
    KPRINT 10, "*** KERNEL PANIC: "
    pop esi
    call kputs
    KPRINT 10, "*** the machine is stopped.", 10
    mov al, 0x7F
    out 0xF4, al
.halt:
    cli
    hlt
    jmp .halt

%include "kernel/console.inc"
%include "kernel/cpu.inc"
%include "kernel/pic_pit.inc"
%include "kernel/memory.inc"
%include "kernel/task.inc"
%include "kernel/syscall.inc"
%include "kernel/input.inc"
%include "kernel/floppy.inc"
%include "kernel/vga.inc"

kernel_text_end:

; Build-time checks: a negative TIMES count stops nasm with an error.
    times (kdata_end > DMA_BUFFER) * -1 db 0         ; KDATA must end before the DMA buffer
    times (T_SIZE * MAX_TASKS != tasks_end - tasks) * -1 db 0

; =============================================================================================
; The user programs. They are part of this file but assembled for the address where every
; task sees them (vstart): the code at USER_BASE, the data at USER_DATA. Both start on a page
; boundary of the image (align=4096), so the kernel can map those physical pages into a task:
; the code pages read-only and shared, the data pages copied for each task.
; =============================================================================================
    section .utext follows=.text align=4096 vstart=USER_BASE
utext_start:
%include "user/ulib.inc"
%include "user/shell.inc"
%include "user/background.inc"
utext_end:

    section .udata follows=.utext align=4096 vstart=USER_DATA
udata_start:
%include "user/data.inc"
    align 4096, db 0
udata_end:

UTEXT_PAGES equ (utext_end - utext_start + 4095) / 4096
UDATA_PAGES equ (udata_end - udata_start) / 4096
UTEXT_PHYS  equ section..utext.start   ; where those pages are in physical memory
UDATA_PHYS  equ section..udata.start

