//! Bit and byte instructions: BT, BTS, BTR, BTC, BSF, BSR, BSWAP, SETcc, SALC.
//!
//! SDM Vol. 2A "BT", "BTS", "BTR", "BTC", "BSF", "BSR", "BSWAP", Vol. 2B "SETcc".

use super::{mask, sext};
use crate::cpu::fault::Res;
use crate::cpu::flags::Eflags;
use crate::cpu::regs::EAX;
use crate::cpu::{Cpu, CpuBus};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

/// BT, BTS, BTR, BTC. With a memory destination and a register bit offset, the offset is a
/// signed bit string index that may reach outside the operand (SDM Vol. 2A "BT", "Bit(BitBase,
/// BitOffset)"); with an immediate it is taken modulo the operand size. Only CF is written: OF,
/// SF, AF and PF (undefined) keep their values, as on Intel processors, and so does ZF.
pub fn bt<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = cpu.op_size(ins, 0);
    let w = size * 8;
    let raw = cpu.read_op(bus, ins, 1)?;
    let op = ins.mnemonic();
    let (value, bit, at) = if ins.op0_kind() == OpKind::Register {
        (cpu.reg(ins.op0_register()), raw & (w - 1), None)
    } else {
        let (seg, ea) = cpu.ea(ins);
        let (disp, bit) = if ins.op1_kind() == OpKind::Register {
            let off = sext(raw, size) as i32;
            ((off >> (w.trailing_zeros())).wrapping_mul(size as i32) as u32, (off as u32) & (w - 1))
        } else {
            (0, raw & (w - 1))
        };
        let mut off = ea.wrapping_add(disp);
        if ins.memory_base().size() == 2
            || ins.memory_index().size() == 2
            || (ins.memory_base() == iced_x86::Register::None && ins.memory_displ_size() == 2)
        {
            off &= 0xFFFF;
        }
        (cpu.read_sized(bus, seg, off, size)?, bit, Some((seg, off)))
    };
    let cf = (value >> bit) & 1 != 0;
    let new = match op {
        M::Bts => Some(value | (1 << bit)),
        M::Btr => Some(value & !(1 << bit)),
        M::Btc => Some(value ^ (1 << bit)),
        _ => None,
    };
    if let Some(v) = new {
        match at {
            None => cpu.set_reg(ins.op0_register(), v),
            Some((seg, off)) => cpu.write_sized(bus, seg, off, size, v)?,
        }
    }
    cpu.flags.set(Eflags::CF, cf);
    Ok(())
}

/// BSF, BSR: index of the lowest / highest set bit. ZF = the source is zero. A zero source
/// leaves the destination unchanged (what Intel and AMD processors do; the SDM says
/// "undefined"). The other status flags, undefined too, are set as Intel processors set them:
/// CF = OF = SF = AF = 0 and PF = parity of the index (of 0 for a zero source).
pub fn bsf_bsr<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = cpu.op_size(ins, 0);
    let src = cpu.read_op(bus, ins, 1)? & mask(size);
    let idx = if src == 0 {
        0
    } else {
        let idx = if ins.mnemonic() == M::Bsf { src.trailing_zeros() } else { 31 - src.leading_zeros() };
        cpu.set_reg(ins.op0_register(), idx);
        idx
    };
    let mut f = if src == 0 { Eflags::ZF.bits() } else { 0 };
    if crate::cpu::flags::parity(idx) {
        f |= Eflags::PF.bits();
    }
    cpu.flags.set_masked(f, Eflags::STATUS.bits());
    Ok(())
}

/// BSWAP r32. With a 16-bit operand (undefined) Intel processors clear the register's low word.
pub fn bswap(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    let r = ins.op0_register();
    let v = cpu.reg(r);
    let res = if crate::cpu::operand::reg_size(r) == 2 { 0 } else { v.swap_bytes() };
    cpu.set_reg(r, res);
    Ok(())
}

/// SETcc r/m8.
pub fn setcc<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let v = cpu.cond(ins.condition_code()) as u32;
    cpu.write_op(bus, ins, 0, v)
}

/// SALC (undocumented D6): AL = CF ? 0xFF : 0.
pub fn salc(cpu: &mut Cpu) -> Res<()> {
    let v = if cpu.flags.cf() { 0xFF } else { 0 };
    cpu.set_gpr_sized(EAX, 1, v);
    Ok(())
}
