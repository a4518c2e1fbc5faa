//! Flag control, HLT, and system instructions: LGDT, LIDT, SGDT, SIDT, LMSW, SMSW, CLTS,
//! MOV to and from control and debug registers, INVD, WBINVD, INVLPG, CPUID, RDTSC, RDMSR,
//! WRMSR, UD2 (SDM Vol. 2, pages of those names; Vol. 3A §2.5-2.8 for the registers).
//!
//! Privileged instructions need CPL 0 (real mode counts as CPL 0); in virtual-8086 mode they
//! raise #GP(0) (SDM Vol. 3A §5.9, §20.2.7).

use crate::cpu::fault::{Fault, Res, Why};
use crate::cpu::flags::Eflags;
use crate::cpu::interrupt::CPU_SIGNATURE;
use crate::cpu::regs::{EAX, EBX, ECX, EDX};
use crate::cpu::{Cpu, CpuBus, Cr0, Cr4, Mode};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

/// MSR numbers x86lab implements (SDM Vol. 4, Table 2-2).
pub mod msr {
    pub const IA32_TIME_STAMP_COUNTER: u32 = 0x10;
    /// Placeholder: x86lab has no local APIC yet, so CPUID.1:EDX.APIC is 0 and, as on a CPU
    /// without one, RDMSR/WRMSR of IA32_APIC_BASE raise #GP(0) like any MSR not implemented.
    /// The LAPIC work will add it (base 0xFEE00000, BSP and enable bits).
    pub const IA32_APIC_BASE: u32 = 0x1B;
    pub const IA32_SYSENTER_CS: u32 = 0x174;
    pub const IA32_SYSENTER_ESP: u32 = 0x175;
    pub const IA32_SYSENTER_EIP: u32 = 0x176;
}

/// CPUID.1:EDX feature bits that x86lab really implements (SDM Vol. 2A Table 3-11).
pub const CPUID_FEATURES_EDX: u32 = (1 << 3) // PSE
    | (1 << 4) // TSC
    | (1 << 5) // MSR
    | (1 << 6) // PAE
    | (1 << 8) // CX8
    | (1 << 13) // PGE
    | (1 << 11) // SEP: SYSENTER/SYSEXIT
    | (1 << 15); // CMOV

impl Cpu {
    /// #GP(0) unless at CPL 0 (real mode counts as CPL 0, virtual-8086 mode as CPL 3).
    #[inline]
    pub fn require_cpl0(&self) -> Res<()> {
        match self.mode() {
            Mode::Real => Ok(()),
            Mode::Virtual8086 => Err(Fault::gp0(Why::Privileged { cpl: 3 })),
            Mode::Protected if self.cpl == 0 => Ok(()),
            Mode::Protected => Err(Fault::gp0(Why::Privileged { cpl: self.cpl })),
        }
    }

    /// Writes CR0 with the checks of SDM Vol. 3A §2.5 and "MOV—Move to/from Control Registers".
    /// When PAE paging is on afterwards and PG, CD or NW change, the PDPTEs are loaded from CR3
    /// first (SDM Vol. 3A §4.4.1): a reserved bit in one raises #GP(0) and CR0 stays unchanged.
    pub fn write_cr0<B: CpuBus>(&mut self, bus: &mut B, v: u32) -> Res<()> {
        let new = Cr0::from_bits_truncate(v) | Cr0::ET;
        if new.contains(Cr0::PG) && !new.contains(Cr0::PE) {
            return Err(Fault::gp0(Why::Rule("CR0.PG set without CR0.PE (SDM Vol. 3A §2.5)")));
        }
        if new.contains(Cr0::NW) && !new.contains(Cr0::CD) {
            return Err(Fault::gp0(Why::Rule("CR0.NW set without CR0.CD (SDM Vol. 3A §2.5)")));
        }
        let changed = self.cr0 ^ new;
        if new.contains(Cr0::PG) && self.cr4.contains(Cr4::PAE) && changed.intersects(Cr0::PG | Cr0::CD | Cr0::NW) {
            self.load_pdptes(bus, self.cr3)?;
        }
        self.cr0 = new;
        // The TLB caches permissions computed with CR0.WP, so a WP change flushes it too.
        if changed.intersects(Cr0::PG | Cr0::PE | Cr0::WP) {
            self.flush_tlb(true);
        }
        if changed.contains(Cr0::PE) && !new.contains(Cr0::PE) {
            // Back in real mode everything runs at privilege 0.
            self.cpl = 0;
        }
        if changed.contains(Cr0::PE) {
            log::debug!("CR0.PE={} at instruction {}", new.contains(Cr0::PE) as u8, self.icount);
        }
        Ok(())
    }

    /// Flushes cached translations (and the trace cursor, which depends on them): all of them
    /// with `global_too`, else all but global pages (SDM Vol. 3A §4.10.4.1).
    pub fn flush_tlb(&mut self, global_too: bool) {
        if global_too {
            self.tlb.flush_all();
        } else {
            self.tlb.flush_non_global();
        }
        self.invalidate_cursor();
    }

    /// The time-stamp counter: one tick per retired instruction, from virtual time, so a run is
    /// reproducible.
    pub fn tsc(&self) -> u64 {
        self.icount.wrapping_add(self.tsc_offset)
    }
}

pub fn flag_op(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    match ins.mnemonic() {
        M::Clc => cpu.flags.set(Eflags::CF, false),
        M::Stc => cpu.flags.set(Eflags::CF, true),
        M::Cmc => {
            let c = cpu.flags.cf();
            cpu.flags.set(Eflags::CF, !c)
        }
        M::Cld => cpu.flags.set(Eflags::DF, false),
        _ => cpu.flags.set(Eflags::DF, true),
    }
    Ok(())
}

/// CLI/STI: allowed when CPL <= IOPL (SDM Vol. 2A "CLI", without PVI/VME). STI delays
/// interrupts until after the next instruction.
pub fn cli_sti(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    let iopl = cpu.flags.iopl();
    match cpu.mode() {
        Mode::Real => {}
        Mode::Protected if cpu.cpl <= iopl => {}
        Mode::Protected => return Err(Fault::gp0(Why::Iopl { cpl: cpu.cpl, iopl })),
        Mode::Virtual8086 if iopl == 3 => {}
        Mode::Virtual8086 => return Err(Fault::gp0(Why::Iopl { cpl: 3, iopl })),
    }
    if ins.mnemonic() == M::Sti {
        if !cpu.flags.get(Eflags::IF) {
            cpu.inhibit_irq = true;
        }
        cpu.flags.set(Eflags::IF, true);
    } else {
        cpu.flags.set(Eflags::IF, false);
    }
    Ok(())
}

pub fn hlt(cpu: &mut Cpu) -> Res<()> {
    cpu.require_cpl0()?;
    cpu.halted = true;
    cpu.break_loop = true;
    Ok(())
}

/// CR4 bits x86lab implements: page size extensions, PAE, global pages, and time-stamp disable
/// (SDM Vol. 3A §2.5). CR4.TSD exists on every processor that reports CPUID.01H:EDX.TSC, and
/// RDTSC honours it; every CR4 bit that belongs to a feature must be settable exactly when CPUID
/// reports the feature (roms/tests/cpuid.asm checks this).
pub const CR4_SUPPORTED: Cr4 = Cr4::PSE.union(Cr4::PAE).union(Cr4::PGE).union(Cr4::TSD);

/// MOV CRn/DRn, r32.
pub fn mov_to_special<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    cpu.require_cpl0()?;
    let r = ins.op0_register();
    let v = cpu.reg(ins.op1_register());
    if r.is_cr() {
        match r.number() {
            0 => cpu.write_cr0(bus, v)?,
            2 => cpu.cr2 = v,
            3 => cpu.load_cr3(bus, v)?,
            4 => {
                if v & !CR4_SUPPORTED.bits() != 0 {
                    return Err(Fault::gp0(Why::Rule("reserved or unsupported CR4 bit set")));
                }
                cpu.write_cr4(bus, Cr4::from_bits_truncate(v))?;
            }
            _ => return Err(Fault::ud()),
        }
        return Ok(());
    }
    if r.is_dr() {
        let n = dr_index(cpu, r.number())?;
        cpu.dr[n] = match n {
            6 => (v & 0x0000_E00F) | 0xFFFF_0FF0,
            7 => (v & 0xFFFF_2BFF) | 0x400,
            _ => v,
        };
        cpu.update_breakpoints();
        return Ok(());
    }
    Err(Fault::ud())
}

/// MOV r32, CRn/DRn.
pub fn mov_from_special(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    cpu.require_cpl0()?;
    let r = ins.op1_register();
    let v = if r.is_cr() {
        match r.number() {
            0 => cpu.cr0.bits(),
            2 => cpu.cr2,
            3 => cpu.cr3,
            4 => cpu.cr4.bits(),
            _ => return Err(Fault::ud()),
        }
    } else if r.is_dr() {
        cpu.dr[dr_index(cpu, r.number())?]
    } else {
        return Err(Fault::ud());
    };
    cpu.set_reg(ins.op0_register(), v);
    Ok(())
}

/// DR4/DR5 alias DR6/DR7 unless CR4.DE is set, when they raise #UD (SDM Vol. 3A §17.2.2).
fn dr_index(cpu: &Cpu, n: usize) -> Res<usize> {
    match n {
        4 | 5 if cpu.cr4.contains(Cr4::DE) => Err(Fault::ud()),
        4 | 5 => Ok(n + 2),
        n if n < 8 => Ok(n),
        _ => Err(Fault::ud()),
    }
}

/// WAIT/FWAIT: #NM when CR0.MP = 1 and CR0.TS = 1 (SDM Vol. 3A §2.5, Table 2-2); otherwise
/// nothing to wait for (x86lab has no x87 unit).
pub fn wait(cpu: &Cpu) -> Res<()> {
    if cpu.cr0.contains(Cr0::MP) && cpu.cr0.contains(Cr0::TS) {
        return Err(Fault::new(
            crate::cpu::fault::vector::NM,
            Why::Rule("WAIT with CR0.MP = 1 and CR0.TS = 1: the x87 state belongs to another task"),
        ));
    }
    Ok(())
}

/// An x87 escape instruction (opcodes D8-DF) raises #NM when CR0.EM = 1 (x87 emulation: the OS
/// handles it in software) or CR0.TS = 1 (a task switch happened since the x87 state was
/// saved: the OS saves it lazily) (SDM Vol. 3A §2.5 Table 2-2, §6.15 Interrupt 7). x86lab has no
/// x87 unit, so with both clear the instruction is #UD.
fn x87_escape(cpu: &Cpu, ins: &Instruction) -> Res<()> {
    if cpu.cr0.contains(Cr0::EM) {
        return Err(Fault::new(crate::cpu::fault::vector::NM, Why::Rule("x87 instruction with CR0.EM = 1")));
    }
    if cpu.cr0.contains(Cr0::TS) {
        return Err(Fault::new(crate::cpu::fault::vector::NM, Why::Rule("x87 instruction with CR0.TS = 1")));
    }
    Err(super::unimplemented(ins))
}

/// True for the x87 instructions (the escape opcodes D8-DF), as iced-x86 classifies them.
fn is_x87(ins: &Instruction) -> bool {
    use iced_x86::CpuidFeature as F;
    ins.cpuid_features()
        .iter()
        .any(|f| matches!(f, F::FPU | F::FPU287 | F::FPU287XL_ONLY | F::FPU387 | F::FPU387SL_ONLY))
}

/// Everything not routed to a family: the remaining system instructions, or #UD.
pub fn other<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    if is_x87(ins) {
        return x87_escape(cpu, ins);
    }
    match ins.mnemonic() {
        M::Lgdt | M::Lidt => {
            cpu.require_cpl0()?;
            if ins.op0_kind() != OpKind::Memory {
                return Err(Fault::ud());
            }
            let (seg, off) = cpu.ea(ins);
            let limit = cpu.read16(bus, seg, off)?;
            let mut base = cpu.read32(bus, seg, off.wrapping_add(2))?;
            if ins.memory_size() == iced_x86::MemorySize::Fword6 && !is_32(ins) {
                base &= 0x00FF_FFFF;
            }
            let t = crate::cpu::TableReg { base, limit };
            if ins.mnemonic() == M::Lgdt {
                cpu.gdtr = t
            } else {
                cpu.idtr = t
            }
            Ok(())
        }
        M::Sgdt | M::Sidt => {
            if ins.op0_kind() != OpKind::Memory {
                return Err(Fault::ud());
            }
            let t = if ins.mnemonic() == M::Sgdt { cpu.gdtr } else { cpu.idtr };
            let (seg, off) = cpu.ea(ins);
            cpu.linear(seg, off, 6, crate::cpu::access::Access::Write)?;
            cpu.write16(bus, seg, off, t.limit)?;
            cpu.write32(bus, seg, off.wrapping_add(2), t.base)
        }
        M::Smsw => {
            let v = cpu.cr0.bits();
            if ins.op0_kind() == OpKind::Register {
                cpu.set_reg(ins.op0_register(), v);
                Ok(())
            } else {
                let (seg, off) = cpu.ea(ins);
                cpu.write16(bus, seg, off, v as u16)
            }
        }
        M::Lmsw => {
            cpu.require_cpl0()?;
            let v = cpu.read_op(bus, ins, 0)? & 0xF;
            // LMSW loads PE, MP, EM, TS; it can set PE but never clear it.
            let keep_pe = cpu.cr0.bits() & 1;
            let new = (cpu.cr0.bits() & !0xF) | v | keep_pe;
            cpu.write_cr0(bus, new)
        }
        M::Clts => {
            cpu.require_cpl0()?;
            cpu.cr0.remove(Cr0::TS);
            Ok(())
        }
        M::Invd | M::Wbinvd => cpu.require_cpl0(),
        M::Invlpg => invlpg(cpu, ins),
        M::Cpuid => {
            cpuid(cpu);
            Ok(())
        }
        M::Rdtsc => {
            if cpu.cr4.contains(Cr4::TSD) && cpu.mode() != Mode::Real && !(cpu.protected() && cpu.cpl == 0) {
                return Err(Fault::gp0(Why::Privileged { cpl: cpu.cpl }));
            }
            let t = cpu.tsc();
            cpu.gpr[EAX] = t as u32;
            cpu.gpr[EDX] = (t >> 32) as u32;
            Ok(())
        }
        M::Rdmsr => {
            cpu.require_cpl0()?;
            let v = read_msr(cpu, cpu.gpr[ECX])?;
            cpu.gpr[EAX] = v as u32;
            cpu.gpr[EDX] = (v >> 32) as u32;
            Ok(())
        }
        M::Wrmsr => {
            cpu.require_cpl0()?;
            let v = ((cpu.gpr[EDX] as u64) << 32) | cpu.gpr[EAX] as u64;
            write_msr(cpu, cpu.gpr[ECX], v)
        }
        // UD2 exists to raise #UD (SDM Vol. 2B "UD"): not an unimplemented instruction.
        M::Ud2 => {
            Err(Fault::new(crate::cpu::fault::vector::UD, Why::Rule("UD2, the instruction defined to raise #UD")))
        }
        _ => Err(super::unimplemented(ins)),
    }
}

/// INVLPG m: privileged; the operand is only an address (segment base + offset, no limit or
/// rights check, no memory access); a register operand is #UD (SDM Vol. 2A "INVLPG").
pub fn invlpg(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    if ins.op0_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    cpu.require_cpl0()?;
    let (seg, off) = cpu.ea(ins);
    let lin = cpu.sreg(seg).base.wrapping_add(off);
    cpu.invlpg(lin);
    Ok(())
}

fn is_32(ins: &Instruction) -> bool {
    // LGDT/LIDT with a 32-bit operand size load all 32 bits of the base.
    matches!(ins.code(), iced_x86::Code::Lgdt_m1632 | iced_x86::Code::Lidt_m1632)
}

/// CPUID: a P6-class "GenuineIntel" processor, family 6 model 1, with only the features
/// x86lab implements (SDM Vol. 2A "CPUID").
pub fn cpuid(cpu: &mut Cpu) {
    let leaf = cpu.gpr[EAX];
    let (a, b, c, d) = match leaf {
        0 => (1, u32::from_le_bytes(*b"Genu"), u32::from_le_bytes(*b"ntel"), u32::from_le_bytes(*b"ineI")),
        // Leaves above the maximum return the highest basic leaf's data (Intel behaviour).
        _ => (CPU_SIGNATURE, 0, 0, CPUID_FEATURES_EDX),
    };
    cpu.gpr[EAX] = a;
    cpu.gpr[EBX] = b;
    cpu.gpr[ECX] = c;
    cpu.gpr[EDX] = d;
}

fn read_msr(cpu: &Cpu, n: u32) -> Res<u64> {
    Ok(match n {
        msr::IA32_TIME_STAMP_COUNTER => cpu.tsc(),
        msr::IA32_SYSENTER_CS => cpu.sysenter[0] as u64,
        msr::IA32_SYSENTER_ESP => cpu.sysenter[1] as u64,
        msr::IA32_SYSENTER_EIP => cpu.sysenter[2] as u64,
        _ => return Err(Fault::gp0(Why::Rule("RDMSR of an MSR x86lab does not implement"))),
    })
}

fn write_msr(cpu: &mut Cpu, n: u32, v: u64) -> Res<()> {
    match n {
        // SDM Vol. 3B §17.17: on P6-family processors before family 06H model 0EH (x86lab is
        // family 6 model 1), WRMSR writes only the low 32 bits of the time-stamp counter and
        // clears the high 32 bits. The counter then goes on counting from that value.
        msr::IA32_TIME_STAMP_COUNTER => cpu.tsc_offset = (v & 0xFFFF_FFFF).wrapping_sub(cpu.icount),
        msr::IA32_SYSENTER_CS => cpu.sysenter[0] = v as u32,
        msr::IA32_SYSENTER_ESP => cpu.sysenter[1] = v as u32,
        msr::IA32_SYSENTER_EIP => cpu.sysenter[2] = v as u32,
        _ => return Err(Fault::gp0(Why::Rule("WRMSR to an MSR x86lab does not implement"))),
    }
    Ok(())
}
