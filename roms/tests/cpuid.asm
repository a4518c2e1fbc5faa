; =============================================================================
; cpuid.asm — processor identification, the time-stamp counter and MSRs
;             (Intel SDM Vol. 2A "CPUID", "RDTSC", "RDMSR", "WRMSR",
;              "CMOVcc", "CMPXCHG8B"; Vol. 3A §2.5 CR4, §5.8.7 SYSENTER;
;              Vol. 3B §17.17 the time-stamp counter)
; =============================================================================
;
; Build:  nasm -f bin -I roms/tests/ -o roms/tests/cpuid.bin roms/tests/cpuid.asm
; Run:    x86lab run --bios roms/tests/cpuid.bin --headless
;
; CPUID is how software asks a processor what it is and what it can do. x86lab
; answers as a P6-family "GenuineIntel" (family 6), and it must only claim
; features it really implements: an OS that sees a feature bit will use it.
; So besides reading the bits, this ROM uses each claimed feature, and checks
; that the control-register bits that belong to a feature can be set exactly
; when CPUID claims the feature.
;
; The time-stamp counter. A real TSC counts clock cycles; x86lab's counts
; executed instructions (virtual time: instruction count + an offset that
; WRMSR to IA32_TIME_STAMP_COUNTER sets). That makes every run of a guest
; reproducible, and makes RDTSC exact: two RDTSCs N instructions apart (the
; first RDTSC included) differ by exactly N.
;
; Every check prints one PASS or FAIL line (see sysharness.inc). The real-mode
; part (rm_tests) runs before the switch to protected mode and leaves its
; results in RAM; the protected-mode part checks them.
; =============================================================================

%define ROM_NAME "cpuid"
%define RM_TESTS
%include "sysharness.inc"

; ---- MSRs (SDM Vol. 4, Table 2-2) ----------------------------------------------
MSR_TSC         equ 0x10
MSR_SYSENTER_CS equ 0x174
MSR_SYSENTER_ESP equ 0x175
MSR_SYSENTER_EIP equ 0x176
MSR_BOGUS       equ 0x12345     ; no processor has this one

; ---- CPUID.1:EDX feature bits ----------------------------------------------------
F_FPU   equ 1 << 0
F_VME   equ 1 << 1
F_DE    equ 1 << 2
F_PSE   equ 1 << 3
F_TSC   equ 1 << 4
F_MSR   equ 1 << 5
F_PAE   equ 1 << 6
F_MCE   equ 1 << 7
F_CX8   equ 1 << 8
F_APIC  equ 1 << 9
F_SEP   equ 1 << 11
F_MTRR  equ 1 << 12
F_PGE   equ 1 << 13
F_MCA   equ 1 << 14
F_CMOV  equ 1 << 15
F_PAT   equ 1 << 16
F_MMX   equ 1 << 23
F_FXSR  equ 1 << 24
F_SSE   equ 1 << 25
F_SSE2  equ 1 << 26

; ---- CR4 bits ----------------------------------------------------------------------
CR4_VME equ 1 << 0
CR4_PVI equ 1 << 1
CR4_TSD equ 1 << 2
CR4_DE  equ 1 << 3
CR4_PSE equ 1 << 4
CR4_PAE equ 1 << 5
CR4_MCE equ 1 << 6
CR4_PGE equ 1 << 7
CR4_OSFXSR equ 1 << 9
CR4_OSXMMEXCPT equ 1 << 10

; ---- variables ------------------------------------------------------------------------
rm_vector       equ 0x0600      ; real mode: vector of the exception caught (0xFFFF: none)
rm_fault_ip     equ 0x0604      ; ... and the IP it pushed
rm_cpuid_ebx    equ 0x0608      ; CPUID leaf 0 in real mode
rm_tsc_delta    equ 0x060C      ; two RDTSCs in real mode
rm_sysenter_cs  equ 0x0610      ; RDMSR of SYSENTER_CS after WRMSR, real mode
features        equ 0x0620      ; CPUID.1:EDX
r3_cpl          equ 0x0624
r3_tsc_lo       equ 0x0628
saved_esp       equ 0x062C
qword_mem       equ 0x0640      ; 8 bytes for CMPXCHG8B
cmov_mem        equ 0x0648
sysenter_ret    equ 0x0650      ; where sysenter_entry continues
RING3_STACK     equ 0x9A000

; =============================================================================
; Real mode. The CPU comes out of reset at CPL 0 in real mode; RDMSR and
; WRMSR work there, and an unknown MSR raises #GP like anywhere else. Real
; mode has no error codes: the CPU pushes FLAGS, CS, IP and jumps through IVT
; entry 13.
; =============================================================================
        bits 16
rm_tests:
        mov dword [rm_vector], 0xFFFF
        mov word [13 * 4], R(rm_gp_handler)     ; IVT entry 13: offset, segment
        mov word [13 * 4 + 2], cs

        mov ecx, MSR_BOGUS
rm_rdmsr:
        rdmsr                   ; #GP: the handler records it and skips the RDMSR

        xor eax, eax
        cpuid
        mov [rm_cpuid_ebx], ebx

        rdtsc
        mov esi, eax
        nop
        nop
        rdtsc                   ; 1 RDTSC + 1 MOV + 2 NOPs after the first one
        sub eax, esi
        mov [rm_tsc_delta], eax

        mov ecx, MSR_SYSENTER_CS
        xor edx, edx
        mov eax, 0x1234
        wrmsr
        xor eax, eax
        rdmsr
        mov [rm_sysenter_cs], eax
        xor eax, eax
        wrmsr                   ; back to 0
        ret

rm_gp_handler:                  ; [sp] IP, [sp+2] CS, [sp+4] FLAGS
        push bp
        mov bp, sp
        mov word [rm_vector], 13
        mov ax, [bp + 2]
        mov [rm_fault_ip], ax
        add word [bp + 2], 2    ; RDMSR is 0F 32: skip it
        pop bp
        iret

; =============================================================================
; Protected mode.
; =============================================================================
        bits 32
tests:
        call real_mode_results
        call cpuid_leaves
        call eflags_id
        call cr4_consistency
        call msr_consistency
        call tsc
        call msrs
        call cmov
        call cmpxchg8b
        call ring3
        ret

real_mode_results:
        CHECK "real mode: RDMSR of an unknown MSR -> #GP (IVT vector 13)", [rm_vector], 13
        CHECK "real mode: the #GP is a fault: pushed IP = the RDMSR", [rm_fault_ip], R(rm_rdmsr)
        CHECK "real mode: CPUID leaf 0 works (EBX = 'Genu')", [rm_cpuid_ebx], 'Genu'
        CHECK "real mode: RDTSCs 4 instructions apart differ by 4", [rm_tsc_delta], 4
        CHECK "real mode: WRMSR/RDMSR of SYSENTER_CS", [rm_sysenter_cs], 0x1234
        ret

; -----------------------------------------------------------------------------
; CPUID leaves 0 and 1.
; -----------------------------------------------------------------------------
cpuid_leaves:
        xor eax, eax
        cpuid
        ; The vendor string is 12 bytes in EBX, EDX, ECX (in that order).
        CHECK "CPUID.0: EBX = 'Genu'", ebx, 'Genu'
        CHECK "CPUID.0: EDX = 'ineI'", edx, 'ineI'
        CHECK "CPUID.0: ECX = 'ntel'", ecx, 'ntel'
        mov esi, eax
        cmp esi, 1
        setae al
        movzx eax, al
        CHECK "CPUID.0: EAX = the highest basic leaf, at least 1", eax, 1

        mov eax, 1
        cpuid
        mov [features], edx
        mov esi, eax
        ; EAX: stepping 3:0, model 7:4, family 11:8, type 13:12.
        mov eax, esi
        shr eax, 8
        and eax, 0xF
        CHECK "CPUID.1: family 6 (a P6-class processor)", eax, 6
        mov eax, esi
        shr eax, 12
        and eax, 3
        CHECK "CPUID.1: processor type 0 (original OEM)", eax, 0
        ; The signature is also what RESET leaves in EDX (SDM Vol. 3A §9.1.4).
        mov eax, esi
        and eax, 0x0FFF3FFF
        CHECK "CPUID.1: signature = 0x619 (family 6, model 1, stepping 9)", eax, 0x619

        ; Features x86lab implements: the checks below use each one.
        mov eax, [features]
        and eax, F_TSC
        CHECK "CPUID.1:EDX.TSC (RDTSC) set", eax, F_TSC
        mov eax, [features]
        and eax, F_MSR
        CHECK "CPUID.1:EDX.MSR (RDMSR/WRMSR) set", eax, F_MSR
        mov eax, [features]
        and eax, F_CX8
        CHECK "CPUID.1:EDX.CX8 (CMPXCHG8B) set", eax, F_CX8
        mov eax, [features]
        and eax, F_CMOV
        CHECK "CPUID.1:EDX.CMOV (CMOVcc) set", eax, F_CMOV
        mov eax, [features]
        and eax, F_SEP
        CHECK "CPUID.1:EDX.SEP (SYSENTER/SYSEXIT) set", eax, F_SEP
        ; Features it does not implement must not be claimed.
        mov eax, [features]
        and eax, F_FPU
        CHECK "CPUID.1:EDX.FPU clear (no x87 yet)", eax, 0
        mov eax, [features]
        and eax, F_VME
        CHECK "CPUID.1:EDX.VME clear (no virtual-8086 mode extensions)", eax, 0
        mov eax, [features]
        and eax, F_MMX | F_FXSR | F_SSE | F_SSE2
        CHECK "CPUID.1:EDX.MMX/FXSR/SSE/SSE2 clear", eax, 0

        ; A leaf above the highest basic leaf returns the highest basic leaf's
        ; data (Intel; SDM Vol. 2A "CPUID", "INPUT EAX = 0"). So does an
        ; extended leaf on a processor without them: leaf 0x80000000 then
        ; gives an EAX below 0x80000001, which software reads as "none".
        mov eax, 2
        cpuid
        and eax, 0x0FFF3FFF
        CHECK "CPUID.2 (above the highest leaf) = leaf 1's signature", eax, 0x619
        mov eax, 0x80000000
        cpuid
        cmp eax, 0x80000001
        setb al
        movzx eax, al
        CHECK "CPUID.80000000h: no extended leaves claimed", eax, 1
        ret

; -----------------------------------------------------------------------------
; EFLAGS.ID (bit 21): a program that can toggle it knows CPUID exists (the
; test every 486-era CPU detector does). AC (bit 18) can be toggled on a 486+.
; -----------------------------------------------------------------------------
eflags_id:
        pushfd
        pop eax
        mov ebx, eax
        xor eax, FL_ID
        push eax
        popfd
        pushfd
        pop eax
        xor eax, ebx
        and eax, FL_ID
        CHECK "EFLAGS.ID can be toggled (CPUID is available)", eax, FL_ID
        push ebx
        popfd                   ; back as it was
        pushfd
        pop eax
        xor eax, ebx
        CHECK "EFLAGS.ID toggled back", eax, 0
        mov eax, ebx
        xor eax, FL_AC
        push eax
        popfd
        pushfd
        pop eax
        xor eax, ebx
        and eax, FL_AC
        CHECK "EFLAGS.AC can be toggled (a 486 or later)", eax, FL_AC
        push ebx
        popfd
        ret

; -----------------------------------------------------------------------------
; A CR4 bit that belongs to a feature can be set if and only if CPUID claims
; the feature (SDM Vol. 3A §2.5: setting an unsupported or reserved CR4 bit is
; #GP(0)). MOV CR4 is tried with one bit at a time.
; -----------------------------------------------------------------------------
%macro CR4_FOLLOWS 3            ; "name", CPUID.1:EDX feature mask, CR4 bit
        mov esi, [features]
        and esi, %2
        mov eax, 0              ; expected: 0 if the feature is claimed,
        cmp esi, 0              ; else #GP(0) (vector 13 << 16)
        jne %%claimed
        mov eax, 13 << 16
%%claimed:
        EXPECT_FAULT %%after
        mov ebx, %3
        mov cr4, ebx
        mov dword [v_vector], 0 ; no fault: vector 0, error 0
%%after:
        NO_FAULT_EXPECTED
        xor ebx, ebx
        mov cr4, ebx
        mov ebx, [v_vector]
        shl ebx, 16
        mov bx, [v_error]
        CHECK %1, ebx, eax
%endmacro

cr4_consistency:
        CR4_FOLLOWS "CR4.TSD settable iff CPUID.TSC", F_TSC, CR4_TSD
        CR4_FOLLOWS "CR4.PSE settable iff CPUID.PSE", F_PSE, CR4_PSE
        CR4_FOLLOWS "CR4.PAE settable iff CPUID.PAE", F_PAE, CR4_PAE
        CR4_FOLLOWS "CR4.PGE settable iff CPUID.PGE", F_PGE, CR4_PGE
        CR4_FOLLOWS "CR4.DE settable iff CPUID.DE", F_DE, CR4_DE
        CR4_FOLLOWS "CR4.MCE settable iff CPUID.MCE", F_MCE, CR4_MCE
        CR4_FOLLOWS "CR4.VME settable iff CPUID.VME", F_VME, CR4_VME
        CR4_FOLLOWS "CR4.PVI settable iff CPUID.VME", F_VME, CR4_PVI
        CR4_FOLLOWS "CR4.OSFXSR settable iff CPUID.FXSR", F_FXSR, CR4_OSFXSR
        CR4_FOLLOWS "CR4.OSXMMEXCPT settable iff CPUID.SSE", F_SSE, CR4_OSXMMEXCPT
        ; Bits 31:11 of CR4 are reserved on a P6: always #GP(0).
        EXPECT_FAULT .r
        mov eax, 1 << 31
        mov cr4, eax
.r:
        CHECK_FAULT "MOV CR4 with reserved bit 31 -> #GP(0)", 13, 0
        mov eax, cr4
        CHECK "... and CR4 is unchanged (0)", eax, 0
        ret

; -----------------------------------------------------------------------------
; The same for MSRs: a feature that comes with an MSR is claimed if and only if
; RDMSR of that MSR works (an unimplemented MSR is #GP(0)).
; -----------------------------------------------------------------------------
%macro MSR_FOLLOWS 3            ; "name", CPUID.1:EDX feature mask, MSR number
        mov esi, [features]
        and esi, %2
        mov edi, 0              ; expected: no fault if claimed, else #GP(0)
        cmp esi, 0
        jne %%claimed
        mov edi, 13 << 16
%%claimed:
        EXPECT_FAULT %%after
        mov ecx, %3
        rdmsr
        mov dword [v_vector], 0
%%after:
        NO_FAULT_EXPECTED
        mov ebx, [v_vector]
        shl ebx, 16
        mov bx, [v_error]
        CHECK %1, ebx, edi
%endmacro

msr_consistency:
        MSR_FOLLOWS "RDMSR IA32_TIME_STAMP_COUNTER works iff CPUID.TSC", F_TSC, MSR_TSC
        MSR_FOLLOWS "RDMSR IA32_SYSENTER_CS works iff CPUID.SEP", F_SEP, MSR_SYSENTER_CS
        MSR_FOLLOWS "RDMSR IA32_APIC_BASE works iff CPUID.APIC", F_APIC, 0x1B
        MSR_FOLLOWS "RDMSR IA32_MTRRCAP works iff CPUID.MTRR", F_MTRR, 0xFE
        MSR_FOLLOWS "RDMSR IA32_MCG_CAP works iff CPUID.MCA", F_MCA, 0x179
        MSR_FOLLOWS "RDMSR IA32_PAT works iff CPUID.PAT", F_PAT, 0x277
        ret

; -----------------------------------------------------------------------------
; The time-stamp counter counts instructions.
; -----------------------------------------------------------------------------
tsc:
        rdtsc                   ; T0: the count before this RDTSC
        mov esi, eax
        mov edi, edx
        nop
        nop
        nop
        nop
        nop
        nop
        nop
        nop
        nop
        nop
        rdtsc                   ; T1 = T0 + 13: RDTSC, 2 MOVs, 10 NOPs
        sub eax, esi
        sbb edx, edi
        CHECK "RDTSC: 13 instructions apart -> differ by exactly 13 (low)", eax, 13
        CHECK "RDTSC: 13 instructions apart -> differ by exactly 13 (high)", edx, 0

        rdtsc
        mov esi, eax
        mov edi, edx
        mov ecx, 1000
.spin:
        loop .spin              ; 1000 LOOPs
        rdtsc                   ; RDTSC + 2 MOVs + MOV ECX + 1000 LOOPs = 1004
        mov ebx, eax
        sub ebx, esi
        CHECK "RDTSC: around a 1000-iteration LOOP -> exactly 1004", ebx, 1004
        ; Monotonic: T1 > T0 as 64-bit numbers.
        sub eax, esi
        sbb edx, edi
        setnc al                ; no borrow and not zero
        movzx eax, al
        CHECK "RDTSC: the counter only goes up", eax, 1

        ; WRMSR sets the counter; it keeps counting from there. On a P6
        ; (family 6, models before 0EH) WRMSR writes only the low 32 bits of
        ; the TSC and clears the high 32 bits (SDM Vol. 3B §17.17).
        mov ecx, MSR_TSC
        mov eax, 0x40000000
        xor edx, edx
        wrmsr                   ; TSC = 0x40000000 as this instruction executes
        rdmsr                   ; one instruction later: 0x40000001
        mov esi, eax
        mov edi, edx
        rdtsc                   ; four instructions after the WRMSR
        CHECK "WRMSR TSC, then RDMSR TSC: the value + 1 instruction (low)", esi, 0x40000001
        CHECK "WRMSR TSC, then RDMSR TSC: the value + 1 instruction (high)", edi, 0
        CHECK "RDTSC after WRMSR TSC: the value + 4 instructions", eax, 0x40000004
        mov ecx, MSR_TSC
        mov eax, 0xFFFFFFFE
        xor edx, edx
        wrmsr                   ; low 32 bits all but full:
        nop                     ; the counter carries into the high half
        rdtsc                   ; = 0xFFFFFFFE + 2
        CHECK "TSC carries into EDX (low)", eax, 0
        CHECK "TSC carries into EDX (high)", edx, 1
        mov ecx, MSR_TSC
        mov eax, 0x11111111
        mov edx, 0x22
        wrmsr                   ; P6: the high half is cleared, not written
        rdmsr
        CHECK "WRMSR TSC on a P6 writes the low 32 bits only (low)", eax, 0x11111112
        CHECK "WRMSR TSC on a P6 clears the high 32 bits", edx, 0
        ret

; -----------------------------------------------------------------------------
; Model-specific registers.
; -----------------------------------------------------------------------------
msrs:
        mov ecx, MSR_SYSENTER_CS
        xor edx, edx
        mov eax, CODE0
        wrmsr
        mov ecx, MSR_SYSENTER_ESP
        mov eax, 0x12345678
        wrmsr
        mov ecx, MSR_SYSENTER_EIP
        mov eax, 0x9ABCDEF0
        wrmsr
        mov ecx, MSR_SYSENTER_CS
        rdmsr
        CHECK "IA32_SYSENTER_CS round-trips", eax, CODE0
        mov ecx, MSR_SYSENTER_ESP
        rdmsr
        CHECK "IA32_SYSENTER_ESP round-trips", eax, 0x12345678
        mov ecx, MSR_SYSENTER_EIP
        rdmsr
        CHECK "IA32_SYSENTER_EIP round-trips (low)", eax, 0x9ABCDEF0
        CHECK "IA32_SYSENTER_EIP round-trips (high)", edx, 0

        EXPECT_FAULT .r1
        mov ecx, MSR_BOGUS
        rdmsr
.r1:
        CHECK_FAULT "RDMSR of an unimplemented MSR -> #GP(0)", 13, 0
        EXPECT_FAULT .r2
        mov ecx, MSR_BOGUS
        xor eax, eax
        xor edx, edx
        wrmsr
.r2:
        CHECK_FAULT "WRMSR to an unimplemented MSR -> #GP(0)", 13, 0
        ret

; -----------------------------------------------------------------------------
; CMOVcc: a MOV that happens only if the condition holds.
; -----------------------------------------------------------------------------
cmov:
        mov eax, 1
        mov ebx, 2
        cmp eax, eax            ; ZF = 1
        cmove eax, ebx
        CHECK "CMOVE with ZF = 1 moves", eax, 2
        mov eax, 1
        cmp eax, ebx            ; ZF = 0, CF = 1 (1 < 2)
        cmove eax, ebx
        CHECK "CMOVE with ZF = 0 leaves the destination", eax, 1
        cmovb eax, ebx
        CHECK "CMOVB with CF = 1 moves", eax, 2
        mov dword [cmov_mem], 0xC0C0C0C0
        mov eax, 0x11112222
        cmp eax, eax
        cmovne eax, [cmov_mem]
        CHECK "CMOVNE from memory, condition false: unchanged", eax, 0x11112222
        cmove eax, [cmov_mem]
        CHECK "CMOVE from memory, condition true", eax, 0xC0C0C0C0
        mov eax, 0xAAAA5555
        mov ebx, 0x12347777
        cmp ebx, ebx
        cmove ax, bx            ; 16-bit form: the upper half of EAX stays
        CHECK "CMOVE r16: only the low 16 bits move", eax, 0xAAAA7777
        mov eax, 5
        mov ebx, -3
        cmp ebx, eax            ; -3 < 5 signed
        cmovl eax, ebx
        CHECK "CMOVL (signed less)", eax, -3
        ret

; -----------------------------------------------------------------------------
; CMPXCHG8B m64: if EDX:EAX = m64 then m64 = ECX:EBX, ZF = 1; else
; EDX:EAX = m64, ZF = 0 (memory unchanged).
; -----------------------------------------------------------------------------
cmpxchg8b:
        mov dword [qword_mem], 0x11111111
        mov dword [qword_mem + 4], 0x22222222
        mov eax, 0x11111111
        mov edx, 0x22222222
        mov ebx, 0x33333333
        mov ecx, 0x44444444
        lock cmpxchg8b [qword_mem]
        setz al
        movzx esi, al
        CHECK "CMPXCHG8B equal: ZF = 1", esi, 1
        CHECK "CMPXCHG8B equal: m64 low = EBX", [qword_mem], 0x33333333
        CHECK "CMPXCHG8B equal: m64 high = ECX", [qword_mem + 4], 0x44444444
        CHECK "CMPXCHG8B equal: EDX unchanged", edx, 0x22222222

        mov eax, 0x55555555
        mov edx, 0x66666666
        cmpxchg8b [qword_mem]
        setz bl
        movzx esi, bl
        CHECK "CMPXCHG8B not equal: ZF = 0", esi, 0
        CHECK "CMPXCHG8B not equal: EAX = m64 low", eax, 0x33333333
        CHECK "CMPXCHG8B not equal: EDX = m64 high", edx, 0x44444444
        CHECK "CMPXCHG8B not equal: m64 unchanged (low)", [qword_mem], 0x33333333
        CHECK "CMPXCHG8B not equal: m64 unchanged (high)", [qword_mem + 4], 0x44444444

        EXPECT_FAULT .r
        db 0x0F, 0xC7, 0xC8     ; CMPXCHG8B with a register operand (mod = 11)
.r:
        CHECK_FAULT "CMPXCHG8B with a register operand -> #UD", 6, 0
        ret

; -----------------------------------------------------------------------------
; CPL 3, reached with SYSEXIT and left with SYSENTER (the SEP feature): the
; flat GDT layout of sysharness.inc is what these instructions expect.
; SYSENTER_CS = CODE0 gives CS = CODE0 and SS = CODE0 + 8 = DATA0 at CPL 0;
; SYSEXIT gives CS = CODE0 + 16 = CODE3 and SS = CODE0 + 24 = DATA3, RPL 3.
; RDTSC works at CPL 3 unless CR4.TSD is set; RDMSR is CPL 0 only.
; -----------------------------------------------------------------------------
ring3:
        mov eax, TSS_MAIN_BASE
        mov edx, TSS_MAIN
        call init_tss           ; SS0:ESP0 for the #GPs taken at CPL 3
        mov ax, TSS_MAIN
        ltr ax
        mov ecx, MSR_SYSENTER_CS
        xor edx, edx
        mov eax, CODE0
        wrmsr
        mov ecx, MSR_SYSENTER_EIP
        mov eax, sysenter_entry
        wrmsr
        mov ecx, MSR_SYSENTER_ESP
        mov eax, RING0_STACK - 0x1000
        wrmsr

        ; 1. RDTSC at CPL 3 with CR4.TSD = 0, back with SYSENTER.
        mov dword [r3_cpl], 0xFF
        mov [saved_esp], esp
        mov dword [sysenter_ret], .back1
        mov ecx, RING3_STACK    ; SYSEXIT: ESP = ECX, EIP = EDX
        mov edx, .user1
        sysexit
.user1:
        mov eax, cs
        and eax, 3
        mov [r3_cpl], eax       ; DS still holds DATA0's cache: usable here
        rdtsc
        mov [r3_tsc_lo], eax
        sysenter                ; -> sysenter_entry at CPL 0
.back1:
        CHECK "SYSEXIT reached CPL 3", [r3_cpl], 3
        mov eax, [r3_tsc_lo]
        cmp eax, 0
        setne al
        movzx eax, al
        CHECK "RDTSC at CPL 3 with CR4.TSD = 0 works", eax, 1
        mov eax, cs
        CHECK "SYSENTER came back to CPL 0 (CS = SYSENTER_CS)", eax, CODE0

        ; 2. CR4.TSD = 1: RDTSC at CPL 3 is #GP(0), at CPL 0 still fine.
        mov eax, [features]
        and eax, F_TSC
        jz .no_tsd
        mov eax, CR4_TSD
        mov cr4, eax
        rdtsc                   ; CPL 0: allowed
        mov [saved_esp], esp
        mov dword [sysenter_ret], .back2
        mov ecx, RING3_STACK
        mov edx, .user2
        sysexit
.user2:
        EXPECT_FAULT .back2
        rdtsc                   ; CPL 3 with TSD: #GP(0)
        sysenter
.back2:
        mov esp, [saved_esp]
        CHECK_FAULT "RDTSC at CPL 3 with CR4.TSD = 1 -> #GP(0)", 13, 0
        xor eax, eax
        mov cr4, eax
.no_tsd:

        ; 3. RDMSR at CPL 3 is #GP(0).
        mov [saved_esp], esp
        mov dword [sysenter_ret], .back3
        mov ecx, RING3_STACK
        mov edx, .user3
        sysexit
.user3:
        EXPECT_FAULT .back3
        mov ecx, MSR_TSC
        rdmsr
        sysenter
.back3:
        mov esp, [saved_esp]
        CHECK_FAULT "RDMSR at CPL 3 -> #GP(0)", 13, 0
        ret

sysenter_entry:                 ; CPL 0, ESP = SYSENTER_ESP
        mov esp, [saved_esp]
        jmp [sysenter_ret]

TSS_MAIN_BASE   equ 0x3000

        ROM_END
