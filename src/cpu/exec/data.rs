//! Data transfer: MOV (general, segment, control and debug registers), MOVZX, MOVSX, XCHG, LEA,
//! XLAT, LDS/LES/LFS/LGS/LSS, LAHF, SAHF, CMOVcc (SDM Vol. 2A/2B, pages of those names).

use super::{mask, sext};
use crate::cpu::fault::{Fault, Res};
use crate::cpu::flags::Eflags;
use crate::cpu::operand::reg_size;
use crate::cpu::regs::EAX;
use crate::cpu::{Cpu, CpuBus, Seg};
use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

/// MOV in all its forms.
#[inline]
pub fn mov<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    if ins.op0_kind() == OpKind::Register {
        let r = ins.op0_register();
        if r.is_segment_register() {
            // MOV Sreg, r/m16 (SDM Vol. 2B "MOV"): CS cannot be loaded this way.
            let sel = cpu.read_op(bus, ins, 1)? as u16;
            let seg = Seg::from_iced(r).ok_or_else(Fault::ud)?;
            if seg == Seg::Cs {
                return Err(Fault::ud());
            }
            cpu.load_seg(bus, seg, sel)?;
            if seg == Seg::Ss {
                // Interrupts wait until after the next instruction, so SS:ESP can be loaded as a
                // pair (SDM Vol. 3A §6.8.3).
                cpu.inhibit_irq = true;
            }
            return Ok(());
        }
        if r.is_cr() || r.is_dr() || r.is_tr() {
            return super::system::mov_to_special(cpu, bus, ins);
        }
        // MOV r32, CRn/DRn: the source is a special register, which `read_op` cannot read.
        if ins.op1_kind() == OpKind::Register {
            let s = ins.op1_register();
            if s.is_cr() || s.is_dr() || s.is_tr() {
                return super::system::mov_from_special(cpu, ins);
            }
        }
        if reg_size(r) == 0 {
            return Err(super::unimplemented(ins));
        }
        let v = cpu.read_op(bus, ins, 1)?;
        cpu.set_reg(r, v);
        return Ok(());
    }
    if ins.op1_kind() == OpKind::Register {
        let r = ins.op1_register();
        if r.is_cr() || r.is_dr() || r.is_tr() {
            return super::system::mov_from_special(cpu, ins);
        }
    }
    let v = cpu.read_op(bus, ins, 1)?;
    cpu.write_op(bus, ins, 0, v)
}

/// MOVZX, MOVSX.
pub fn movx<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let src_size = cpu.op_size(ins, 1);
    let v = cpu.read_op(bus, ins, 1)?;
    let v = if ins.mnemonic() == M::Movsx { sext(v, src_size) } else { v & mask(src_size) };
    cpu.set_reg(ins.op0_register(), v);
    Ok(())
}

/// XCHG: the memory form is always locked on real hardware; here it is simply atomic.
pub fn xchg<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (mem_i, reg_i) = if ins.op0_kind() == OpKind::Memory { (0, 1) } else { (1, 0) };
    let r = ins.op_register(reg_i);
    let rv = cpu.reg(r);
    if ins.op_kind(mem_i) == OpKind::Register {
        let r2 = ins.op_register(mem_i);
        let v2 = cpu.reg(r2);
        cpu.set_reg(r2, rv);
        cpu.set_reg(r, v2);
        return Ok(());
    }
    let (seg, off) = cpu.ea(ins);
    let size = reg_size(r);
    let mv = cpu.read_sized(bus, seg, off, size)?;
    cpu.write_sized(bus, seg, off, size, rv)?;
    cpu.set_reg(r, mv);
    Ok(())
}

/// LEA: the offset part of the effective address, truncated to the operand size.
pub fn lea(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    if ins.op1_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let (_, off) = cpu.ea(ins);
    cpu.set_reg(ins.op0_register(), off);
    Ok(())
}

/// XLAT: AL = [seg:eBX + AL].
pub fn xlat<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (seg, off) = cpu.ea(ins);
    let v = cpu.read8(bus, seg, off)?;
    cpu.set_gpr_sized(EAX, 1, v as u32);
    Ok(())
}

/// LDS, LES, LFS, LGS, LSS r, m16:16/m16:32: offset first, selector after it.
pub fn load_far_pointer<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    if ins.op1_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let r = ins.op0_register();
    let size = reg_size(r);
    let (mseg, off) = cpu.ea(ins);
    let offset = cpu.read_sized(bus, mseg, off, size)?;
    let a16 = ins.memory_base().size() == 2
        || ins.memory_index().size() == 2
        || (ins.memory_base() == Register::None && ins.memory_displ_size() == 2);
    let sel_off = if a16 { off.wrapping_add(size) & 0xFFFF } else { off.wrapping_add(size) };
    let sel = cpu.read16(bus, mseg, sel_off)?;
    let seg = match ins.mnemonic() {
        M::Lds => Seg::Ds,
        M::Les => Seg::Es,
        M::Lfs => Seg::Fs,
        M::Lgs => Seg::Gs,
        _ => Seg::Ss,
    };
    cpu.load_seg(bus, seg, sel)?;
    cpu.set_reg(r, offset);
    Ok(())
}

/// LAHF: AH = SF:ZF:0:AF:0:PF:1:CF.
pub fn lahf(cpu: &mut Cpu) -> Res<()> {
    let f = cpu.flags.eflags() & 0xD5 | 0x02;
    cpu.gpr[EAX] = (cpu.gpr[EAX] & 0xFFFF_00FF) | (f << 8);
    Ok(())
}

/// SAHF: SF, ZF, AF, PF, CF from AH.
pub fn sahf(cpu: &mut Cpu) -> Res<()> {
    let ah = (cpu.gpr[EAX] >> 8) & 0xFF;
    cpu.flags.set_masked(ah, (Eflags::SF | Eflags::ZF | Eflags::AF | Eflags::PF | Eflags::CF).bits());
    Ok(())
}

/// CMOVcc: the source is always read (and may fault); the destination is written only when
/// the condition holds.
pub fn cmov<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let v = cpu.read_op(bus, ins, 1)?;
    if cpu.cond(ins.condition_code()) {
        cpu.set_reg(ins.op0_register(), v);
    }
    Ok(())
}
