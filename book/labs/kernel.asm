; kernel.asm — the smallest useful Multiboot kernel: it says hello, prints what its boot loader
; told it, and switches the machine off.
; A lab for the book's chapter "Your own boot sector and kernel".
;
; Build:  tools/build-labs      (nasm -f bin -o book/labs/kernel.img book/labs/kernel.asm)
; Run:    x86lab run --headless --kernel book/labs/kernel.img --append "hello world"
;
; A Multiboot (version 1) boot loader (GRUB, QEMU's -kernel, x86lab's --kernel) looks for a
; header in the first 8 KiB of the file: the magic 1BADB002h, flags, and a checksum that makes
; the three add up to zero. With flag bit 16 set, the header also says where to load the file
; and where to start it (the "a.out kludge"), so a flat binary like this one needs no ELF
; headers. The loader starts the kernel in 32-bit protected mode, paging off, interrupts off,
; with EAX = 2BADB002h (so the kernel knows who started it) and EBX = the physical address of
; the Multiboot information: memory sizes, the command line, modules, the memory map
; (Multiboot Specification 0.6.96, sections 3.1-3.3).

; ANCHOR: kernel
        bits 32
        org 0x100000                    ; loaded at 1 MiB, the usual place for a kernel

MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ 0x00010000              ; bit 16: the address fields below are valid

header:
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)       ; checksum: magic + flags + checksum = 0
        dd header                       ; header_addr: where this header is loaded
        dd header                       ; load_addr: load the file from its start, here
        dd end                          ; load_end_addr: up to here
        dd bss_end                      ; bss_end_addr: zero from end to here
        dd start                        ; entry_addr

start:
        mov esp, stack_top
        mov ebp, eax                    ; keep the magic; EBX (the information) is kept as is
        mov esi, msg_hello
        call puts
        cmp ebp, 0x2BADB002             ; started by a Multiboot loader?
        jne .off
        mov esi, msg_cmdline
        call puts
        test dword [ebx], 1 << 2        ; flags bit 2: cmdline is valid
        jz .nocmd
        mov esi, [ebx + 16]             ; cmdline: a physical address
        call puts
.nocmd: mov al, 10
        out 0xE9, al
        mov esi, msg_mem
        call puts
        mov eax, [ebx + 8]              ; mem_upper (flags bit 0): KiB above 1 MiB
        call putdec
        mov esi, msg_kib
        call puts
.off:   mov al, 0
        out 0xF4, al                    ; x86lab's exit device: exit status 1
        cli
        hlt

puts:   lodsb
        test al, al
        jz .e
        out 0xE9, al
        jmp puts
.e:     ret

; Prints EAX in decimal.
putdec: mov ecx, 10
        xor edi, edi
.d:     xor edx, edx
        div ecx
        push edx
        inc edi
        test eax, eax
        jnz .d
.p:     pop eax
        add al, '0'
        out 0xE9, al
        dec edi
        jnz .p
        ret

msg_hello:   db "Hello from my kernel!", 10, 0
msg_cmdline: db "command line: ", 0
msg_mem:     db "memory above 1 MiB: ", 0
msg_kib:     db " KiB", 10, 0

end:                                    ; the end of the file; the bss follows
stack_top   equ end + 4096 + 16 - (end - $$) % 16   ; a 4 KiB stack in the bss (16-byte aligned): not in the file
bss_end     equ stack_top
; ANCHOR_END: kernel
