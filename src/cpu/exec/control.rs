//! Control transfer: JMP, Jcc, LOOP/LOOPE/LOOPNE, JCXZ/JECXZ, CALL, RET/RETF, INT n, INT3,
//! INTO, INT1, IRET/IRETD, BOUND (SDM Vol. 2A/2B, pages of those names).
//!
//! Near transfers only change EIP (checked against the CS limit, #GP(0) otherwise). Far
//! transfers in real and virtual-8086 mode load CS the real-mode way; in protected mode they go
//! through the descriptor checks of [`crate::cpu::segment`].

use crate::cpu::fault::{Fault, Res, Why, vector};
use crate::cpu::interrupt;
use crate::cpu::regs::{ECX, Seg};
use crate::cpu::{Cpu, CpuBus, Mode};
use iced_x86::{Code, Instruction, Mnemonic as M, OpKind};

impl Cpu {
    /// Target of a relative branch, as an offset in the current code segment.
    #[inline]
    pub fn near_target(&self, ins: &Instruction) -> u32 {
        let disp = ins.near_branch_target().wrapping_sub(ins.next_ip()) as u32;
        let t = self.next_eip.wrapping_add(disp);
        if ins.op0_kind() == OpKind::NearBranch16 { t & 0xFFFF } else { t }
    }

    /// Jumps to `target` within CS after checking it against the limit.
    #[inline]
    pub fn jump_near(&mut self, target: u32) -> Res<()> {
        let cs = &self.seg[Seg::Cs as usize];
        if target > cs.limit {
            return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: target, size: 1, limit: cs.limit }));
        }
        self.next_eip = target;
        Ok(())
    }

    /// Far JMP or CALL to `sel:off` with operand size `size` (2 or 4).
    pub fn far_transfer<B: CpuBus>(&mut self, bus: &mut B, sel: u16, off: u32, size: u32, call: bool) -> Res<()> {
        if self.protected() {
            return self.far_transfer_protected(bus, sel, off, size, call);
        }
        let off = if size == 2 { off & 0xFFFF } else { off };
        // Real and virtual-8086 mode: the target must lie within the (unchanged) CS limit.
        if off > self.seg[Seg::Cs as usize].limit {
            return Err(Fault::gp0(Why::SegmentLimit {
                seg: Seg::Cs as u8,
                offset: off,
                size: 1,
                limit: self.seg[Seg::Cs as usize].limit,
            }));
        }
        if call {
            let old_sp = self.gpr[crate::cpu::regs::ESP];
            let cs = self.seg[Seg::Cs as usize].selector as u32;
            let ret = self.next_eip;
            if let Err(f) = self.push(bus, size, cs).and_then(|_| self.push(bus, size, ret)) {
                self.gpr[crate::cpu::regs::ESP] = old_sp;
                return Err(f);
            }
        }
        self.load_cs_real(sel);
        self.next_eip = off;
        Ok(())
    }

    /// Loads CS in real or virtual-8086 mode.
    pub fn load_cs_real(&mut self, sel: u16) {
        self.seg[Seg::Cs as usize].load_real(sel);
        self.invalidate_cursor();
    }
}

/// Operand size of a far pointer in memory (m16:16 or m16:32).
fn far_mem_size(ins: &Instruction) -> u32 {
    if ins.memory_size().size() == 6 { 4 } else { 2 }
}

pub fn jmp<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    match ins.op0_kind() {
        OpKind::NearBranch16 | OpKind::NearBranch32 => {
            let t = cpu.near_target(ins);
            cpu.jump_near(t)
        }
        OpKind::FarBranch16 => cpu.far_transfer(bus, ins.far_branch_selector(), ins.far_branch16() as u32, 2, false),
        OpKind::FarBranch32 => cpu.far_transfer(bus, ins.far_branch_selector(), ins.far_branch32(), 4, false),
        OpKind::Memory if matches!(ins.code(), Code::Jmp_m1616 | Code::Jmp_m1632) => {
            let (seg, off) = cpu.ea(ins);
            let size = far_mem_size(ins);
            let o = cpu.read_sized(bus, seg, off, size)?;
            let sel = cpu.read16(bus, seg, off.wrapping_add(size))?;
            cpu.far_transfer(bus, sel, o, size, false)
        }
        _ => {
            let t = cpu.read_op(bus, ins, 0)?;
            cpu.jump_near(t)
        }
    }
}

#[inline]
pub fn jcc(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    if cpu.cond(ins.condition_code()) {
        let t = cpu.near_target(ins);
        cpu.jump_near(t)?;
    }
    Ok(())
}

/// LOOP, LOOPE, LOOPNE, JCXZ, JECXZ. The counter is CX or ECX by address size.
pub fn loop_jcxz(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    let ecx = matches!(
        ins.code(),
        Code::Loop_rel8_16_ECX
            | Code::Loop_rel8_32_ECX
            | Code::Loope_rel8_16_ECX
            | Code::Loope_rel8_32_ECX
            | Code::Loopne_rel8_16_ECX
            | Code::Loopne_rel8_32_ECX
            | Code::Jecxz_rel8_16
            | Code::Jecxz_rel8_32
    );
    let size = if ecx { 4 } else { 2 };
    let take = match ins.mnemonic() {
        M::Jcxz | M::Jecxz => cpu.gpr_sized(ECX, size) == 0,
        m => {
            let c = cpu.gpr_sized(ECX, size).wrapping_sub(1) & super::mask(size);
            // The jump target is checked before the count is written, so a #GP leaves ECX alone.
            let cond = c != 0
                && match m {
                    M::Loope => cpu.flags.zf(),
                    M::Loopne => !cpu.flags.zf(),
                    _ => true,
                };
            if cond {
                let t = cpu.near_target(ins);
                cpu.jump_near(t)?;
            }
            cpu.set_gpr_sized(ECX, size, c);
            return Ok(());
        }
    };
    if take {
        let t = cpu.near_target(ins);
        cpu.jump_near(t)?;
    }
    Ok(())
}

pub fn call<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (target, size) = match ins.op0_kind() {
        OpKind::NearBranch16 => (cpu.near_target(ins), 2),
        OpKind::NearBranch32 => (cpu.near_target(ins), 4),
        OpKind::FarBranch16 => {
            return cpu.far_transfer(bus, ins.far_branch_selector(), ins.far_branch16() as u32, 2, true);
        }
        OpKind::FarBranch32 => return cpu.far_transfer(bus, ins.far_branch_selector(), ins.far_branch32(), 4, true),
        OpKind::Memory if matches!(ins.code(), Code::Call_m1616 | Code::Call_m1632) => {
            let (seg, off) = cpu.ea(ins);
            let size = far_mem_size(ins);
            let o = cpu.read_sized(bus, seg, off, size)?;
            let sel = cpu.read16(bus, seg, off.wrapping_add(size))?;
            return cpu.far_transfer(bus, sel, o, size, true);
        }
        _ => {
            let size = cpu.op_size(ins, 0);
            (cpu.read_op(bus, ins, 0)?, size)
        }
    };
    let limit = cpu.seg[Seg::Cs as usize].limit;
    if target > limit {
        return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: target, size: 1, limit }));
    }
    let ret = cpu.next_eip;
    cpu.push(bus, size, ret)?;
    cpu.next_eip = target;
    Ok(())
}

pub fn ret<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (size, far) = match ins.code() {
        Code::Retnw | Code::Retnw_imm16 => (2, false),
        Code::Retnd | Code::Retnd_imm16 => (4, false),
        Code::Retfw | Code::Retfw_imm16 => (2, true),
        Code::Retfd | Code::Retfd_imm16 => (4, true),
        _ => return Err(Fault::ud()),
    };
    let imm = if ins.op_count() > 0 { ins.immediate16() as u32 } else { 0 };
    if far {
        if cpu.protected() {
            return cpu.far_return_protected(bus, size, imm);
        }
        let off = cpu.peek(bus, 0, size)?;
        let sel = cpu.peek(bus, size, size)? as u16;
        let off = if size == 2 { off & 0xFFFF } else { off };
        let limit = cpu.seg[Seg::Cs as usize].limit;
        if off > limit {
            return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: off, size: 1, limit }));
        }
        cpu.set_sp(cpu.sp_offset(2 * size + imm));
        cpu.load_cs_real(sel);
        cpu.next_eip = off;
        return Ok(());
    }
    let t = cpu.peek(bus, 0, size)?;
    cpu.jump_near(t)?;
    cpu.set_sp(cpu.sp_offset(size + imm));
    Ok(())
}

/// INT n, INT3, INTO, INT1 (ICEBP).
pub fn int<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let v = match ins.mnemonic() {
        M::Int3 => vector::BP,
        // INT1 is delivered like a hardware #DB: no gate DPL check, no IOPL check.
        M::Int1 => return interrupt::icebp(cpu, bus),
        M::Into => {
            if !cpu.flags.of() {
                return Ok(());
            }
            vector::OF
        }
        _ => ins.immediate8(),
    };
    if cpu.mode() == Mode::Virtual8086 && ins.mnemonic() == M::Int && cpu.flags.iopl() < 3 {
        // Without VME, INT n in virtual-8086 mode with IOPL < 3 faults to the monitor
        // (SDM Vol. 3A §20.3.3).
        return Err(Fault::gp0(Why::Iopl { cpl: 3, iopl: cpu.flags.iopl() }));
    }
    interrupt::software(cpu, bus, v)
}

/// IRET / IRETD.
pub fn iret<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let size = if ins.mnemonic() == M::Iretd { 4 } else { 2 };
    if cpu.mode() != Mode::Real {
        return cpu.iret_protected(bus, size);
    }
    let off = cpu.peek(bus, 0, size)?;
    let sel = cpu.peek(bus, size, size)? as u16;
    let fl = cpu.peek(bus, 2 * size, size)?;
    let off = if size == 2 { off & 0xFFFF } else { off };
    let limit = cpu.seg[Seg::Cs as usize].limit;
    if off > limit {
        return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: off, size: 1, limit }));
    }
    cpu.set_sp(cpu.sp_offset(3 * size));
    cpu.load_cs_real(sel);
    cpu.next_eip = off;
    // Real mode (SDM Vol. 2A "IRET"): 32-bit: EFLAGS <- (tmp AND 257FD5H) OR (EFLAGS AND 1A0000H);
    // 16-bit: FLAGS <- tmp.
    let mask = if size == 4 { 0x0025_7FD5 } else { 0x7FD5 };
    cpu.flags.set_masked(fl, mask);
    Ok(())
}

/// BOUND r, m: #BR unless lower <= index <= upper (signed).
pub fn bound<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    if ins.op1_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let size = cpu.op_size(ins, 0);
    let (seg, off) = cpu.ea(ins);
    let lo = super::sext(cpu.read_sized(bus, seg, off, size)?, size) as i32;
    let hi = super::sext(cpu.read_sized(bus, seg, off.wrapping_add(size), size)?, size) as i32;
    let idx = super::sext(cpu.reg(ins.op0_register()), size) as i32;
    if idx < lo || idx > hi {
        return Err(Fault::new(vector::BR, Why::BoundRange { index: idx, lower: lo, upper: hi }));
    }
    Ok(())
}
