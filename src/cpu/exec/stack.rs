//! Stack instructions: PUSH, POP, PUSHA/PUSHAD, POPA/POPAD, PUSHF/PUSHFD, POPF/POPFD, ENTER,
//! LEAVE (SDM Vol. 2B, pages of those names; Vol. 1 §6.2 for the stack itself).
//!
//! The stack pointer is ESP or SP as SS.B says; the operand size (how many bytes a push moves)
//! is the instruction's. A push that faults leaves ESP unchanged.

use crate::cpu::fault::{Fault, Res, Why};
use crate::cpu::flags::Eflags;
use crate::cpu::operand::reg_size;
use crate::cpu::regs::{EBP, ESP};
use crate::cpu::{Cpu, CpuBus, Mode, Seg};
use iced_x86::{Code, Instruction, OpKind};

/// Bytes one push or pop of this instruction moves (2 or 4).
#[inline]
fn opsize(ins: &Instruction) -> u32 {
    ins.stack_pointer_increment().unsigned_abs()
}

#[inline]
pub fn push<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = opsize(ins);
    if ins.op0_kind() == OpKind::Register && ins.op0_register().is_segment_register() {
        // A 32-bit push of a segment register moves ESP by 4 but writes only the selector's
        // 16 bits (SDM Vol. 2B "PUSH", as P6 and later processors do).
        let v = cpu.reg(ins.op0_register());
        let new_sp = cpu.sp_offset(size.wrapping_neg());
        cpu.write16(bus, Seg::Ss, new_sp, v as u16)?;
        cpu.set_sp(new_sp);
        return Ok(());
    }
    let v = cpu.read_op(bus, ins, 0)?;
    cpu.push(bus, size, v)
}

#[inline]
pub fn pop<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = opsize(ins);
    let old_esp = cpu.gpr[ESP];
    let v = cpu.peek(bus, 0, size)?;
    match ins.op0_kind() {
        OpKind::Register => {
            let r = ins.op0_register();
            if let Some(seg) = Seg::from_iced(r) {
                if seg == Seg::Cs {
                    return Err(Fault::ud());
                }
                cpu.load_seg(bus, seg, v as u16)?;
                cpu.set_sp(cpu.sp_offset(size));
                if seg == Seg::Ss {
                    cpu.inhibit_irq = true;
                }
            } else {
                cpu.set_sp(cpu.sp_offset(size));
                cpu.set_reg(r, v);
            }
            Ok(())
        }
        _ => {
            // The effective address is computed after ESP is incremented (SDM Vol. 2B "POP").
            cpu.set_sp(cpu.sp_offset(size));
            let (seg, off) = cpu.ea(ins);
            if let Err(f) = cpu.write_sized(bus, seg, off, size, v) {
                cpu.gpr[ESP] = old_esp;
                return Err(f);
            }
            Ok(())
        }
    }
}

pub fn pusha<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = if ins.mnemonic() == iced_x86::Mnemonic::Pushad { 4 } else { 2 };
    let old_esp = cpu.gpr[ESP];
    let temp = cpu.gpr_sized(ESP, size);
    for n in 0..8 {
        let v = if n == ESP { temp } else { cpu.gpr_sized(n, size) };
        if let Err(f) = cpu.push(bus, size, v) {
            cpu.gpr[ESP] = old_esp;
            return Err(f);
        }
    }
    Ok(())
}

pub fn popa<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = if ins.mnemonic() == iced_x86::Mnemonic::Popad { 4 } else { 2 };
    let mut vals = [0u32; 8];
    for (i, v) in vals.iter_mut().enumerate() {
        *v = cpu.peek(bus, (i as u32) * size, size)?;
    }
    for (i, v) in vals.iter().enumerate() {
        let n = 7 - i;
        if n != ESP {
            cpu.set_gpr_sized(n, size, *v);
        }
    }
    cpu.set_sp(cpu.sp_offset(8 * size));
    Ok(())
}

/// PUSHF/PUSHFD: VM and RF are pushed as 0. In virtual-8086 mode with IOPL < 3, #GP(0)
/// (SDM Vol. 2B "PUSHF").
pub fn pushf<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    if cpu.mode() == Mode::Virtual8086 && cpu.flags.iopl() < 3 {
        return Err(Fault::gp0(Why::Iopl { cpl: 3, iopl: cpu.flags.iopl() }));
    }
    let size = opsize(ins);
    let v = cpu.flags.eflags() & 0x00FC_FFFF;
    cpu.push(bus, size, v)
}

/// POPF/POPFD with the privilege rules of SDM Vol. 2B "POPF": at CPL 0 everything but VM, VIP,
/// VIF (and RF, which is cleared) may change; IOPL only at CPL 0; IF only when CPL <= IOPL;
/// virtual-8086 mode needs IOPL 3.
pub fn popf<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = opsize(ins);
    let iopl = cpu.flags.iopl();
    if cpu.mode() == Mode::Virtual8086 && iopl < 3 {
        return Err(Fault::gp0(Why::Iopl { cpl: 3, iopl }));
    }
    let v = cpu.pop(bus, size)?;
    let mut writable = Eflags::STATUS | Eflags::TF | Eflags::DF | Eflags::NT | Eflags::IF | Eflags::IOPL;
    if size == 4 {
        writable |= Eflags::AC | Eflags::ID | Eflags::RF;
    }
    let cpl = if cpu.mode() == Mode::Virtual8086 {
        3
    } else if cpu.mode() == Mode::Real {
        0
    } else {
        cpu.cpl
    };
    if cpl > 0 {
        writable.remove(Eflags::IOPL);
    }
    if cpl > iopl {
        writable.remove(Eflags::IF);
    }
    let v = if size == 4 { v & !Eflags::RF.bits() } else { v };
    cpu.flags.set_masked(v, writable.bits());
    Ok(())
}

/// Operand size of ENTER and LEAVE (2 or 4). Not [`opsize`]: iced-x86's stack-pointer
/// increment is the whole frame for ENTER and 0 for LEAVE.
#[inline]
fn frame_opsize(ins: &Instruction) -> u32 {
    match ins.code() {
        Code::Enterw_imm16_imm8 | Code::Leavew => 2,
        _ => 4,
    }
}

/// ENTER imm16, imm8: make a stack frame with `level` nested frame pointers
/// (SDM Vol. 2A "ENTER").
pub fn enter<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = frame_opsize(ins);
    let alloc = ins.immediate16() as u32;
    let level = ins.immediate8_2nd() as u32 % 32;
    let (old_esp, old_ebp) = (cpu.gpr[ESP], cpu.gpr[EBP]);
    let res = (|| {
        let bp = cpu.gpr_sized(EBP, size);
        cpu.push(bus, size, bp)?;
        let frame_temp = cpu.sp();
        if level > 0 {
            let mut ebp = if cpu.stack32() { cpu.gpr[EBP] } else { cpu.gpr[EBP] & 0xFFFF };
            for _ in 1..level {
                ebp = ebp.wrapping_sub(size);
                if !cpu.stack32() {
                    ebp &= 0xFFFF;
                }
                let v = cpu.read_sized(bus, Seg::Ss, ebp, size)?;
                cpu.push(bus, size, v)?;
            }
            cpu.push(bus, size, frame_temp)?;
        }
        let new_sp = cpu.sp_offset(alloc.wrapping_neg());
        // The frame must be writable down to the new top of stack (a 386 checks this).
        if alloc > 0 {
            cpu.linear(Seg::Ss, new_sp, 1, crate::cpu::access::Access::Write)?;
        }
        // EBP or BP by the stack size, not the operand size (SDM Vol. 2A "ENTER":
        // "IF StackSize = 32 THEN EBP <- FrameTemp ELSE BP <- FrameTemp").
        let bp_size = if cpu.stack32() { 4 } else { 2 };
        cpu.set_gpr_sized(EBP, bp_size, frame_temp);
        cpu.set_sp(new_sp);
        Ok(())
    })();
    if res.is_err() {
        cpu.gpr[ESP] = old_esp;
        cpu.gpr[EBP] = old_ebp;
    }
    res
}

/// LEAVE: eSP = eBP, then pop eBP.
pub fn leave<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = frame_opsize(ins);
    let bp = if cpu.stack32() { cpu.gpr[EBP] } else { cpu.gpr[EBP] & 0xFFFF };
    let v = cpu.read_sized(bus, Seg::Ss, bp, size)?;
    cpu.set_sp(bp);
    cpu.set_sp(cpu.sp_offset(size));
    cpu.set_gpr_sized(EBP, size, v);
    let _ = reg_size;
    Ok(())
}
