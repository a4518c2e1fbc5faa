; aout.asm — a Multiboot test kernel in the "a.out kludge" layout (Multiboot Specification
; 0.6.96 §3.1.3): a flat binary whose header (flag 16) gives the load addresses itself, so the
; boot loader needs no executable format. Loaded at 1 MiB; the bss (bss_end_addr) follows the
; file. The checks are in mbcheck.inc. Built by tools/build-roms (nasm -f bin).

%define KERNEL_NAME "a.out kludge"
MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ (1 << 0) | (1 << 1) | (1 << 16)  ; page-aligned modules, memory info, address fields

    org 0x100000
mb_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)
    dd mb_header                        ; header_addr: where this header is loaded
    dd mb_header                        ; load_addr: the file is loaded from its first byte
    dd load_end                         ; load_end_addr
    dd bss_end                          ; bss_end_addr
    dd start                            ; entry_addr

%include "mbcheck.inc"

    align 4
load_end:

absolute load_end
bss_start:
saved_eax:      resd 1
saved_eflags:   resd 1
saved_cr0:      resd 1
info:           resd 1
failures:       resd 1
bss_check:      resb 4096               ; never written: must read as zeros
bss_check_end:
stack:          resb 4096
stack_top:
bss_end:
