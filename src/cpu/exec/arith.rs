//! Binary arithmetic and logic: ADD, ADC, SUB, SBB, CMP, AND, OR, XOR, TEST, INC, DEC, NEG, NOT,
//! MUL, IMUL, DIV, IDIV, CMPXCHG, CMPXCHG8B, XADD, CBW/CWDE/CWD/CDQ.
//!
//! SDM Vol. 2A/2B, the instruction pages of the same names. Flags that the SDM leaves undefined
//! are set as Intel P6-and-later processors set them (checked against the host CPU by the
//! property tests in `tests/host_oracle.rs`).

use super::{mask, sext, sign_bit};
use crate::cpu::fault::{Fault, Res, Why, vector};
use crate::cpu::flags::{Eflags, LazyOp};
use crate::cpu::regs::{EAX, EDX};
use crate::cpu::{Cpu, CpuBus};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

/// Reads operand 0 for read-modify-write; returns its value, size and effective address.
#[inline]
fn read_dst<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<(u32, u32, (crate::cpu::Seg, u32))> {
    if ins.op0_kind() == OpKind::Register {
        let r = ins.op0_register();
        let size = crate::cpu::operand::reg_size(r);
        Ok((cpu.reg(r), size, (crate::cpu::Seg::Ds, 0)))
    } else {
        let at = cpu.ea(ins);
        let size = ins.memory_size().size() as u32;
        let v = cpu.read_sized(bus, at.0, at.1, size)?;
        Ok((v, size, at))
    }
}

/// ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST.
#[inline]
pub fn alu<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (a, size, at) = read_dst(cpu, bus, ins)?;
    let m = mask(size);
    let b = cpu.read_op(bus, ins, 1)? & m;
    let w = size * 8;
    let op = crate::cpu::fast::AluOp::from_mnemonic(ins.mnemonic()).unwrap_or(crate::cpu::fast::AluOp::Xor);
    let (res, lazy, cin) = crate::cpu::fast::alu_compute(cpu, op, size, a, b);
    if op.writes() {
        cpu.write_op_at(bus, ins, 0, at, size, res)?;
    }
    cpu.flags.set_lazy(lazy, w, a, b, res, cin, Eflags::STATUS.bits());
    Ok(())
}

/// INC, DEC: like ADD/SUB 1, but CF is left alone.
pub fn inc_dec<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (a, size, at) = read_dst(cpu, bus, ins)?;
    let (res, op) =
        if ins.mnemonic() == M::Inc { (a.wrapping_add(1), LazyOp::Add) } else { (a.wrapping_sub(1), LazyOp::Sub) };
    let res = res & mask(size);
    cpu.write_op_at(bus, ins, 0, at, size, res)?;
    cpu.flags.set_lazy(op, size * 8, a, 1, res, 0, Eflags::STATUS.bits() & !Eflags::CF.bits());
    Ok(())
}

/// NEG (flags as 0 - x) and NOT (no flags).
pub fn neg_not<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (a, size, at) = read_dst(cpu, bus, ins)?;
    let m = mask(size);
    if ins.mnemonic() == M::Not {
        return cpu.write_op_at(bus, ins, 0, at, size, !a & m);
    }
    let res = 0u32.wrapping_sub(a) & m;
    cpu.write_op_at(bus, ins, 0, at, size, res)?;
    cpu.flags.set_sub(size * 8, 0, a, res, 0);
    Ok(())
}

/// MUL and the one-, two- and three-operand forms of IMUL. CF = OF = the upper half is
/// significant. The SDM leaves SF, ZF, AF and PF undefined; Intel processors set SF from the
/// sign of the low half of the product, PF from its low byte, and clear ZF (even for a zero
/// product) and AF ([`mul_flags`]).
pub fn mul<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let signed = ins.mnemonic() == M::Imul;
    if ins.op_count() == 1 {
        let src = cpu.read_op(bus, ins, 0)?;
        let size = cpu.op_size(ins, 0);
        let a = cpu.gpr_sized(EAX, size);
        let (lo, hi, overflow) = if signed {
            let p = (sext(a, size) as i32 as i64) * (sext(src, size) as i32 as i64);
            let lo = (p as u64 as u32) & mask(size);
            let hi = ((p as u64) >> (size * 8)) as u32 & mask(size);
            (lo, hi, p != sext(lo, size) as i32 as i64)
        } else {
            let p = (a as u64) * (src as u64);
            let lo = (p as u32) & mask(size);
            let hi = (p >> (size * 8)) as u32 & mask(size);
            (lo, hi, hi != 0)
        };
        match size {
            1 => cpu.set_gpr_sized(EAX, 2, lo | (hi << 8)),
            2 => {
                cpu.set_gpr_sized(EAX, 2, lo);
                cpu.set_gpr_sized(EDX, 2, hi);
            }
            _ => {
                cpu.gpr[EAX] = lo;
                cpu.gpr[EDX] = hi;
            }
        }
        mul_flags(cpu, size, lo, overflow);
        return Ok(());
    }
    // IMUL r, r/m (op 0 = op 1 * op 2 when three operands).
    let size = cpu.op_size(ins, 0);
    let (x, y) = if ins.op_count() == 3 {
        (cpu.read_op(bus, ins, 1)?, cpu.read_op(bus, ins, 2)?)
    } else {
        (cpu.read_op(bus, ins, 0)?, cpu.read_op(bus, ins, 1)?)
    };
    let p = (sext(x, size) as i32 as i64) * (sext(y, size) as i32 as i64);
    let lo = p as u64 as u32 & mask(size);
    let overflow = p != sext(lo, size) as i32 as i64;
    cpu.set_reg(ins.op0_register(), lo);
    mul_flags(cpu, size, lo, overflow);
    Ok(())
}

/// Flags after MUL/IMUL with a low half `lo` of `size` bytes: CF = OF = `overflow`, SF = sign
/// of `lo`, PF = parity of its low byte, ZF = AF = 0 (Intel; checked against the host CPU).
#[inline]
pub(crate) fn mul_flags(cpu: &mut Cpu, size: u32, lo: u32, overflow: bool) {
    let mut f = 0;
    if overflow {
        f |= (Eflags::CF | Eflags::OF).bits();
    }
    if lo & sign_bit(size) != 0 {
        f |= Eflags::SF.bits();
    }
    if crate::cpu::flags::parity(lo) {
        f |= Eflags::PF.bits();
    }
    cpu.flags.set_masked(f, Eflags::STATUS.bits());
}

/// DIV and IDIV. #DE when the divisor is 0 or the quotient does not fit (SDM Vol. 2A "DIV").
/// The SDM leaves all six status flags undefined; Intel processors leave them unchanged, and so
/// does x86lab (checked against the host CPU).
pub fn div<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let src = cpu.read_op(bus, ins, 0)?;
    let size = cpu.op_size(ins, 0);
    let bits = size * 8;
    let dividend: u64 = match size {
        1 => cpu.gpr_sized(EAX, 2) as u64,
        2 => ((cpu.gpr_sized(EDX, 2) as u64) << 16) | cpu.gpr_sized(EAX, 2) as u64,
        _ => ((cpu.gpr[EDX] as u64) << 32) | cpu.gpr[EAX] as u64,
    };
    if src == 0 {
        return Err(Fault::new(vector::DE, Why::DivideError { divisor_zero: true }));
    }
    let (q, r) = if ins.mnemonic() == M::Div {
        let q = dividend / src as u64;
        if q > mask(size) as u64 {
            return Err(Fault::new(vector::DE, Why::DivideError { divisor_zero: false }));
        }
        (q as u32, (dividend % src as u64) as u32)
    } else {
        // Sign-extend the 2*size dividend.
        let shift = 64 - 2 * bits;
        let n = ((dividend << shift) as i64) >> shift;
        let d = sext(src, size) as i32 as i64;
        let q = n.wrapping_div(d);
        let r = n.wrapping_rem(d);
        let min = -(1i64 << (bits - 1));
        let max = (1i64 << (bits - 1)) - 1;
        if q < min || q > max {
            return Err(Fault::new(vector::DE, Why::DivideError { divisor_zero: false }));
        }
        (q as u32 & mask(size), r as u32 & mask(size))
    };
    match size {
        1 => cpu.set_gpr_sized(EAX, 2, q | (r << 8)),
        2 => {
            cpu.set_gpr_sized(EAX, 2, q);
            cpu.set_gpr_sized(EDX, 2, r);
        }
        _ => {
            cpu.gpr[EAX] = q;
            cpu.gpr[EDX] = r;
        }
    }
    Ok(())
}

/// CMPXCHG r/m, r: compare the accumulator with the destination; if equal, store the source,
/// else load the destination into the accumulator. The destination is written in both cases
/// (SDM Vol. 2A "CMPXCHG": "the destination operand is written back if the comparison fails").
pub fn cmpxchg<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (dst, size, at) = read_dst(cpu, bus, ins)?;
    let src = cpu.read_op(bus, ins, 1)?;
    let acc = cpu.gpr_sized(EAX, size);
    let res = acc.wrapping_sub(dst) & mask(size);
    if acc == dst {
        cpu.write_op_at(bus, ins, 0, at, size, src)?;
    } else {
        cpu.write_op_at(bus, ins, 0, at, size, dst)?;
        cpu.set_gpr_sized(EAX, size, dst);
    }
    cpu.flags.set_sub(size * 8, acc, dst, res, 0);
    Ok(())
}

/// CMPXCHG8B m64: compare EDX:EAX with m64; if equal store ECX:EBX and set ZF, else load m64 into
/// EDX:EAX and clear ZF (SDM Vol. 2A "CMPXCHG8B").
pub fn cmpxchg8b<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    if ins.op0_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let (seg, off) = cpu.ea(ins);
    let lo = cpu.read32(bus, seg, off)?;
    let hi = cpu.read32(bus, seg, off.wrapping_add(4))?;
    // Both halves are checked for writability before either is written.
    cpu.linear(seg, off, 8, crate::cpu::access::Access::Write)?;
    let equal = lo == cpu.gpr[EAX] && hi == cpu.gpr[EDX];
    let (wlo, whi) = if equal { (cpu.gpr[crate::cpu::regs::EBX], cpu.gpr[crate::cpu::regs::ECX]) } else { (lo, hi) };
    cpu.write32(bus, seg, off, wlo)?;
    cpu.write32(bus, seg, off.wrapping_add(4), whi)?;
    if !equal {
        cpu.gpr[EAX] = lo;
        cpu.gpr[EDX] = hi;
    }
    cpu.flags.set(Eflags::ZF, equal);
    Ok(())
}

/// XADD r/m, r: exchange, then store the sum in the destination.
pub fn xadd<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (dst, size, at) = read_dst(cpu, bus, ins)?;
    let src = cpu.reg(ins.op1_register());
    let sum = dst.wrapping_add(src) & mask(size);
    if ins.op0_kind() == OpKind::Register {
        // SRC <- DEST, then DEST <- sum: with the same register twice, the sum wins.
        cpu.set_reg(ins.op1_register(), dst);
        cpu.set_reg(ins.op0_register(), sum);
    } else {
        cpu.write_op_at(bus, ins, 0, at, size, sum)?;
        cpu.set_reg(ins.op1_register(), dst);
    }
    cpu.flags.set_add(size * 8, dst, src, sum, 0);
    Ok(())
}

/// CBW, CWDE (sign-extend the accumulator) and CWD, CDQ (into DX/EDX).
pub fn convert(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    match ins.mnemonic() {
        M::Cbw => cpu.set_gpr_sized(EAX, 2, sext(cpu.gpr[EAX], 1)),
        M::Cwde => cpu.gpr[EAX] = sext(cpu.gpr[EAX], 2),
        M::Cwd => {
            let hi = if cpu.gpr[EAX] & 0x8000 != 0 { 0xFFFF } else { 0 };
            cpu.set_gpr_sized(EDX, 2, hi);
        }
        _ => cpu.gpr[EDX] = if cpu.gpr[EAX] & sign_bit(4) != 0 { u32::MAX } else { 0 },
    }
    Ok(())
}
