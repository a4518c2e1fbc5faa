; image.nasm — the floppy image: puts the pieces where layout.inc says they go.
;
; tools/build-demo assembles boot.nasm and kernel.nasm first, then this file, which includes
; their output (boot.bin, kernel.bin, found through nasm's -I path) and the files in files/,
; and writes the file table. The result is exactly 1,474,560 bytes: a 1.44 MB floppy.

%include "layout.inc"

image_start:

; LBA 0: the boot sector.
    incbin "boot.bin"
    times KERNEL_LBA * SECTOR_SIZE - ($ - image_start) db 0

; LBA 1...: the kernel, padded to KERNEL_SECTORS sectors (nasm stops with "TIMES value is
; negative" if it has grown too big for them).
kernel:
    incbin "kernel.bin"
kernel_end:
    times (KERNEL_LBA + KERNEL_SECTORS) * SECTOR_SIZE - ($ - image_start) db 0

; LBA 144: the file table. Entry 0 is the header ("DEMOFS", the number of files); each file's
; entry has its name (16 bytes, NUL padded), first sector and size in bytes.
    times DIR_LBA * SECTOR_SIZE - ($ - image_start) db 0

%macro ENTRY 3                          ; name, first sector, size
%strlen %%len %1
    db %1
    times DE_NAME_LEN - %%len db 0
    dd %2, %3
    times DIR_ENTRY_SIZE - DE_NAME_LEN - 8 db 0
%endmacro
%define LBA_OF(label) ((label - image_start) / SECTOR_SIZE)

file_table:
    ENTRY "DEMOFS", 2, 0                ; the header: 2 files
    ENTRY "README.TXT", LBA_OF(readme), readme_end - readme
    ENTRY "HELLO.TXT", LBA_OF(hello), hello_end - hello
    times SECTOR_SIZE - ($ - file_table) db 0

; The files, each from the start of a sector. README.TXT starts at LBA 160, two sectors
; before the end of the track (cylinder 4, head 0, sectors 17-18), so that reading it takes
; two READ DATA commands, the second on head 1: it exercises the driver's track splitting.
    times 160 * SECTOR_SIZE - ($ - image_start) db 0
readme:
    incbin "files/README.TXT"
readme_end:
    align SECTOR_SIZE, db 0
hello:
    incbin "files/HELLO.TXT"
hello_end:
    align SECTOR_SIZE, db 0

; The rest of the disk: zeros.
    times FLOPPY_SECTORS * SECTOR_SIZE - ($ - image_start) db 0
