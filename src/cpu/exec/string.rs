//! String instructions: MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS, with REP/REPE/REPNE
//! (SDM Vol. 2B, pages of those names, and "REP/REPE/REPZ/REPNE/REPNZ").
//!
//! Address size picks SI/DI/CX or ESI/EDI/ECX. A repeated instruction runs in chunks of at most
//! [`CHUNK`] iterations per step, then restarts itself, so interrupts are taken between
//! iterations as on hardware (SDM Vol. 2B "REP": "the instruction pointer is not advanced if an
//! interrupt occurs"). Registers are updated after every iteration, so a fault in the middle
//! leaves a restartable state.

use crate::cpu::fault::Res;
use crate::cpu::regs::{EAX, ECX, EDI, EDX, ESI, Seg};
use crate::cpu::{Cpu, CpuBus};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

/// Iterations of a REP instruction done in one step.
pub const CHUNK: u32 = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Movs,
    Stos,
    Lods,
    Cmps,
    Scas,
    Ins,
    Outs,
}

pub fn exec<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    use M::*;
    let m = ins.mnemonic();
    let (op, size) = match m {
        Movsb => (Op::Movs, 1),
        Movsw => (Op::Movs, 2),
        Movsd => (Op::Movs, 4),
        Stosb => (Op::Stos, 1),
        Stosw => (Op::Stos, 2),
        Stosd => (Op::Stos, 4),
        Lodsb => (Op::Lods, 1),
        Lodsw => (Op::Lods, 2),
        Lodsd => (Op::Lods, 4),
        Cmpsb => (Op::Cmps, 1),
        Cmpsw => (Op::Cmps, 2),
        Cmpsd => (Op::Cmps, 4),
        Scasb => (Op::Scas, 1),
        Scasw => (Op::Scas, 2),
        Scasd => (Op::Scas, 4),
        Insb => (Op::Ins, 1),
        Insw => (Op::Ins, 2),
        Insd => (Op::Ins, 4),
        Outsb => (Op::Outs, 1),
        Outsw => (Op::Outs, 2),
        _ => (Op::Outs, 4),
    };
    // MOVSD/CMPSD with SSE operands share mnemonics with the string forms.
    if !(0..ins.op_count()).any(|i| is_string_kind(ins.op_kind(i))) {
        return Err(super::unimplemented(ins));
    }
    let a32 = (0..ins.op_count()).any(|i| matches!(ins.op_kind(i), OpKind::MemoryESEDI | OpKind::MemorySegESI));
    let amask = if a32 { u32::MAX } else { 0xFFFF };
    let src_seg = Seg::from_iced(ins.memory_segment()).unwrap_or(Seg::Ds);
    let rep = ins.has_rep_prefix() || ins.has_repne_prefix();
    if op == Op::Ins || op == Op::Outs {
        let port = cpu.gpr[EDX] as u16;
        cpu.check_io(bus, port, size)?;
        bus.sync(cpu.icount);
    }
    let mut n = 0;
    loop {
        if rep && cpu.gpr[ECX] & amask == 0 {
            return Ok(());
        }
        one(cpu, bus, op, size, amask, src_seg)?;
        if !rep {
            return Ok(());
        }
        let c = cpu.gpr[ECX].wrapping_sub(1) & amask;
        cpu.gpr[ECX] = (cpu.gpr[ECX] & !amask) | c;
        if matches!(op, Op::Cmps | Op::Scas) {
            let zf = cpu.flags.zf();
            if (ins.has_repe_prefix() && !zf) || (ins.has_repne_prefix() && zf) {
                return Ok(());
            }
        }
        n += 1;
        if c != 0 && n >= CHUNK {
            // Come back to this instruction for the rest.
            cpu.next_eip = cpu.eip;
            return Ok(());
        }
    }
}

fn is_string_kind(k: OpKind) -> bool {
    matches!(
        k,
        OpKind::MemorySegSI
            | OpKind::MemorySegESI
            | OpKind::MemoryESDI
            | OpKind::MemoryESEDI
            | OpKind::MemorySegDI
            | OpKind::MemorySegEDI
    )
}

#[inline]
fn step_reg(cpu: &mut Cpu, n: usize, size: u32, amask: u32) {
    let d = if cpu.flags.df() { size.wrapping_neg() } else { size };
    let v = cpu.gpr[n].wrapping_add(d) & amask;
    cpu.gpr[n] = (cpu.gpr[n] & !amask) | v;
}

#[inline]
fn one<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, op: Op, size: u32, amask: u32, src_seg: Seg) -> Res<()> {
    let si = cpu.gpr[ESI] & amask;
    let di = cpu.gpr[EDI] & amask;
    match op {
        Op::Movs => {
            let v = cpu.read_sized(bus, src_seg, si, size)?;
            cpu.write_sized(bus, Seg::Es, di, size, v)?;
            step_reg(cpu, ESI, size, amask);
            step_reg(cpu, EDI, size, amask);
        }
        Op::Stos => {
            let v = cpu.gpr_sized(EAX, size);
            cpu.write_sized(bus, Seg::Es, di, size, v)?;
            step_reg(cpu, EDI, size, amask);
        }
        Op::Lods => {
            let v = cpu.read_sized(bus, src_seg, si, size)?;
            cpu.set_gpr_sized(EAX, size, v);
            step_reg(cpu, ESI, size, amask);
        }
        Op::Cmps => {
            let a = cpu.read_sized(bus, src_seg, si, size)?;
            let b = cpu.read_sized(bus, Seg::Es, di, size)?;
            let r = a.wrapping_sub(b) & super::mask(size);
            cpu.flags.set_sub(size * 8, a, b, r, 0);
            step_reg(cpu, ESI, size, amask);
            step_reg(cpu, EDI, size, amask);
        }
        Op::Scas => {
            let a = cpu.gpr_sized(EAX, size);
            let b = cpu.read_sized(bus, Seg::Es, di, size)?;
            let r = a.wrapping_sub(b) & super::mask(size);
            cpu.flags.set_sub(size * 8, a, b, r, 0);
            step_reg(cpu, EDI, size, amask);
        }
        Op::Ins => {
            // The destination is checked before the port is read, so a fault does not lose data.
            cpu.linear(Seg::Es, di, size, crate::cpu::access::Access::Write)?;
            let v = bus.io_in(cpu.gpr[EDX] as u16, size as u8);
            cpu.note_external_write(bus);
            cpu.write_sized(bus, Seg::Es, di, size, v)?;
            step_reg(cpu, EDI, size, amask);
        }
        Op::Outs => {
            let v = cpu.read_sized(bus, src_seg, si, size)?;
            bus.io_out(cpu.gpr[EDX] as u16, size as u8, v);
            cpu.note_external_write(bus);
            cpu.break_loop = true;
            step_reg(cpu, ESI, size, amask);
        }
    }
    Ok(())
}
