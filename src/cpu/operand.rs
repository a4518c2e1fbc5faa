//! Operands of a decoded instruction: registers by iced-x86 name, effective addresses and
//! immediates. Handlers use these so that one function serves every encoding of an operation.
//!
//! Intel SDM Vol. 2A §2.1.5 (ModRM/SIB addressing forms, Tables 2-1 and 2-2) and Vol. 1 §3.7.5
//! (effective address = base + index * scale + displacement, truncated to the address size).

use super::fault::Res;
use super::regs::Seg;
use super::{Cpu, CpuBus};
use iced_x86::{Instruction, OpKind, Register};

const AL: u32 = Register::AL as u32;
const BH: u32 = Register::BH as u32;
const AX: u32 = Register::AX as u32;
const DI: u32 = Register::DI as u32;
const EAX: u32 = Register::EAX as u32;
const EDI: u32 = Register::EDI as u32;
const ES: u32 = Register::ES as u32;
const GS: u32 = Register::GS as u32;

/// Size in bytes of a general register (0 for other registers).
#[inline]
pub fn reg_size(r: Register) -> u32 {
    match r as u32 {
        AL..=BH => 1,
        AX..=DI => 2,
        EAX..=EDI => 4,
        ES..=GS => 2,
        _ => 0,
    }
}

impl Cpu {
    /// Reads a general (8/16/32-bit) or segment register, zero-extended.
    #[inline(always)]
    pub fn reg(&self, r: Register) -> u32 {
        let n = r as u32;
        match n {
            AL..=BH => {
                let i = n - AL;
                (self.gpr[(i & 3) as usize] >> ((i & 4) << 1)) & 0xFF
            }
            AX..=DI => self.gpr[(n - AX) as usize] & 0xFFFF,
            EAX..=EDI => self.gpr[(n - EAX) as usize],
            ES..=GS => self.seg[(n - ES) as usize].selector as u32,
            _ => 0,
        }
    }

    /// Writes a general register (8/16/32-bit), preserving the bits outside it.
    #[inline(always)]
    pub fn set_reg(&mut self, r: Register, v: u32) {
        let n = r as u32;
        match n {
            AL..=BH => {
                let i = n - AL;
                let shift = (i & 4) << 1;
                let g = &mut self.gpr[(i & 3) as usize];
                *g = (*g & !(0xFF << shift)) | ((v & 0xFF) << shift);
            }
            AX..=DI => {
                let g = &mut self.gpr[(n - AX) as usize];
                *g = (*g & 0xFFFF_0000) | (v & 0xFFFF);
            }
            EAX..=EDI => self.gpr[(n - EAX) as usize] = v,
            _ => debug_assert!(false, "set_reg on {r:?}"),
        }
    }

    /// Reads the low `size` bytes of general register `n` (0-7 = eAX..eDI, or AL..BH for bytes).
    #[inline(always)]
    pub fn gpr_sized(&self, n: usize, size: u32) -> u32 {
        match size {
            1 => (self.gpr[n & 3] >> ((n & 4) << 1)) & 0xFF,
            2 => self.gpr[n & 7] & 0xFFFF,
            _ => self.gpr[n & 7],
        }
    }

    /// Writes the low `size` bytes of general register `n` (bytes: AL..BH numbering).
    #[inline(always)]
    pub fn set_gpr_sized(&mut self, n: usize, size: u32, v: u32) {
        match size {
            1 => {
                let shift = (n & 4) << 1;
                let g = &mut self.gpr[n & 3];
                *g = (*g & !(0xFF << shift)) | ((v & 0xFF) << shift);
            }
            2 => self.gpr[n & 7] = (self.gpr[n & 7] & 0xFFFF_0000) | (v & 0xFFFF),
            // (`n & 7`: register numbers are 0-7; the mask spares the bounds check.)
            _ => self.gpr[n & 7] = v,
        }
    }

    /// The effective address of the memory operand: its segment (after overrides and the
    /// BP/SP→SS default) and its offset, truncated to the address size.
    #[inline]
    pub fn ea(&self, ins: &Instruction) -> (Seg, u32) {
        let base = ins.memory_base();
        let index = ins.memory_index();
        let mut off = ins.memory_displacement32();
        let mut a16 = false;
        if base != Register::None {
            off = off.wrapping_add(self.reg(base));
            a16 = reg_size(base) == 2;
        }
        if index != Register::None {
            off = off.wrapping_add(self.reg(index) << (ins.memory_index_scale().trailing_zeros()));
            a16 |= reg_size(index) == 2;
        }
        if base == Register::None && index == Register::None {
            a16 = ins.memory_displ_size() == 2;
        }
        if a16 {
            off &= 0xFFFF;
        }
        let seg = Seg::from_iced(ins.memory_segment()).unwrap_or(Seg::Ds);
        (seg, off)
    }

    /// Size in bytes of operand `i` (register, memory or immediate).
    #[inline]
    pub fn op_size(&self, ins: &Instruction, i: u32) -> u32 {
        match ins.op_kind(i) {
            OpKind::Register => reg_size(ins.op_register(i)),
            OpKind::Immediate8 => 1,
            OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
            OpKind::Immediate32 | OpKind::Immediate8to32 => 4,
            _ => ins.memory_size().size() as u32,
        }
    }

    /// Reads operand `i` zero-extended from its size (immediates as the instruction extends
    /// them: `Immediate8to16` is sign-extended to 16 bits, and so on).
    #[inline]
    pub fn read_op<B: CpuBus>(&mut self, bus: &mut B, ins: &Instruction, i: u32) -> Res<u32> {
        match ins.op_kind(i) {
            OpKind::Register => Ok(self.reg(ins.op_register(i))),
            OpKind::Memory => {
                let (seg, off) = self.ea(ins);
                let size = ins.memory_size().size() as u32;
                self.read_sized(bus, seg, off, size)
            }
            OpKind::Immediate8 => Ok(ins.immediate8() as u32),
            OpKind::Immediate8_2nd => Ok(ins.immediate8_2nd() as u32),
            OpKind::Immediate16 => Ok(ins.immediate16() as u32),
            OpKind::Immediate32 => Ok(ins.immediate32()),
            OpKind::Immediate8to16 => Ok(ins.immediate8to16() as u16 as u32),
            OpKind::Immediate8to32 => Ok(ins.immediate8to32() as u32),
            _ => Ok(0),
        }
    }

    /// Writes operand `i` (register or memory).
    #[inline]
    pub fn write_op<B: CpuBus>(&mut self, bus: &mut B, ins: &Instruction, i: u32, v: u32) -> Res<()> {
        match ins.op_kind(i) {
            OpKind::Register => {
                self.set_reg(ins.op_register(i), v);
                Ok(())
            }
            _ => {
                let (seg, off) = self.ea(ins);
                let size = ins.memory_size().size() as u32;
                self.write_sized(bus, seg, off, size, v)
            }
        }
    }

    /// Writes operand `i` whose effective address was already computed (read-modify-write).
    #[inline]
    pub fn write_op_at<B: CpuBus>(
        &mut self,
        bus: &mut B,
        ins: &Instruction,
        i: u32,
        at: (Seg, u32),
        size: u32,
        v: u32,
    ) -> Res<()> {
        if ins.op_kind(i) == OpKind::Register {
            self.set_reg(ins.op_register(i), v);
            Ok(())
        } else {
            self.write_sized(bus, at.0, at.1, size, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_registers_alias() {
        let mut cpu = Cpu::new();
        cpu.gpr[0] = 0x1234_5678;
        assert_eq!(cpu.reg(Register::AL), 0x78);
        assert_eq!(cpu.reg(Register::AH), 0x56);
        assert_eq!(cpu.reg(Register::AX), 0x5678);
        cpu.set_reg(Register::AH, 0xAB);
        assert_eq!(cpu.gpr[0], 0x1234_AB78);
        cpu.set_reg(Register::BH, 0xCD);
        assert_eq!(cpu.gpr[3] & 0xFF00, 0xCD00);
        assert_eq!(cpu.gpr_sized(7, 1), 0xCD, "byte register 7 is BH");
    }
}
