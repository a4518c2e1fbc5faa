; elf.asm — a Multiboot test kernel as an ELF32 i386 executable, written out byte by byte with
; nasm -f bin (no linker): the ELF header and two PT_LOAD program headers (System V ABI / TIS
; ELF 1.2), then the Multiboot header (Multiboot Specification 0.6.96 §3.1.1; flag 16 clear, so
; the loader takes the addresses from the ELF program headers). Segment 1: the code, loaded at
; 1 MiB. Segment 2: data at 2 MiB whose p_memsz is larger than p_filesz -- the loader must
; zero-fill the rest (the bss). The checks are in mbcheck.inc. Built by tools/build-roms.

%define KERNEL_NAME "ELF"
MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ (1 << 0) | (1 << 1)     ; page-aligned modules, memory info
TEXT_ADDR   equ 0x100000
DATA_ADDR   equ 0x200000
DATA_OFFSET equ 0x1000                  ; the data segment's place in the file

section .text start=0 vstart=TEXT_ADDR
elf_header:
    db 0x7F, "ELF", 1, 1, 1, 0          ; ELFCLASS32, ELFDATA2LSB, EV_CURRENT, System V ABI
    times 8 db 0
    dw 2                                ; e_type: ET_EXEC
    dw 3                                ; e_machine: EM_386
    dd 1                                ; e_version
    dd start                            ; e_entry
    dd program_headers - elf_header     ; e_phoff
    dd 0                                ; e_shoff: no section headers
    dd 0                                ; e_flags
    dw 52                               ; e_ehsize
    dw 32                               ; e_phentsize
    dw 2                                ; e_phnum
    dw 40, 0, 0                         ; e_shentsize, e_shnum, e_shstrndx
program_headers:
    dd 1                                ; PT_LOAD: the code
    dd 0                                ; p_offset
    dd TEXT_ADDR, TEXT_ADDR             ; p_vaddr, p_paddr
    dd text_end - elf_header            ; p_filesz
    dd text_end - elf_header            ; p_memsz
    dd 5                                ; p_flags: R X
    dd 0x1000                           ; p_align
    dd 1                                ; PT_LOAD: data, then bss
    dd DATA_OFFSET
    dd DATA_ADDR, DATA_ADDR
    dd data_end - data_start            ; p_filesz
    dd bss_end - data_start             ; p_memsz
    dd 6                                ; p_flags: R W
    dd 0x1000

    align 4
mb_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)

%include "mbcheck.inc"
text_end:

section .data start=DATA_OFFSET vstart=DATA_ADDR
data_start:
failures:       dd 0
    times 64 db 0xA5                    ; file data the bss must not be confused with
data_end:

absolute data_end                       ; the bss: memory only, after the data
bss_start:
saved_eax:      resd 1
saved_eflags:   resd 1
saved_cr0:      resd 1
info:           resd 1
bss_check:      resb 4096               ; never written: must read as zeros
bss_check_end:
stack:          resb 4096
stack_top:
bss_end:
