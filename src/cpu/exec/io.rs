//! Port I/O: IN, OUT, and the protection checks of INS/OUTS too (SDM Vol. 1 §18.2-18.3).
//!
//! In protected mode an I/O instruction at CPL > IOPL, and any I/O instruction in virtual-8086
//! mode, is allowed only if every bit for the accessed ports in the TSS I/O permission bitmap
//! is 0. Every access that passes goes to the bus: this is the "trap" in trap-and-emulate.

use crate::cpu::fault::{Fault, Res, Why};
use crate::cpu::regs::EDX;
use crate::cpu::{Cpu, CpuBus, Mode};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

impl Cpu {
    /// Checks that the current privilege allows `size` bytes of I/O at `port`.
    ///
    /// The bitmap lookup reads the TSS, an implicit supervisor-mode access whatever the CPL (SDM
    /// Vol. 3A §4.6: with paging on, a TSS on a supervisor page must not make a CPL 3 IN fault
    /// with #PF). The CPU reads two bytes of the bitmap (a 4-byte access may span them), so both
    /// must lie within the TSS limit (SDM Vol. 1 §18.5.2, which is why the bitmap is followed by
    /// a byte of 0xFF).
    pub fn check_io<B: CpuBus>(&mut self, bus: &mut B, port: u16, size: u32) -> Res<()> {
        let mode = self.mode();
        if mode == Mode::Real || (mode == Mode::Protected && self.cpl <= self.flags.iopl()) {
            return Ok(());
        }
        let cpl = if mode == Mode::Virtual8086 { 3 } else { self.cpl };
        let iopl = self.flags.iopl();
        let deny = |bitmap| Fault::gp0(Why::IoDenied { port, size: size as u8, cpl, iopl, bitmap });
        // Only a 32-bit TSS (type 9 or 11) has a bitmap; its offset is the word at 0x66.
        let tss = self.tr;
        let typ = tss.attr.typ();
        if !matches!(typ, 0x9 | 0xB) || tss.limit < 0x67 {
            return Err(deny(false));
        }
        let map = self.sys_read16(bus, tss.base.wrapping_add(0x66))? as u32;
        let byte = map + (port as u32 >> 3);
        if byte + 1 > tss.limit {
            return Err(deny(false));
        }
        let bits = self.sys_read16(bus, tss.base.wrapping_add(byte))? as u32;
        let mask = ((1u32 << size) - 1) << (port & 7);
        if bits & mask != 0 {
            return Err(deny(true));
        }
        Ok(())
    }
}

pub fn in_out<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (port_op, data_op) = if ins.mnemonic() == M::In { (1, 0) } else { (0, 1) };
    let port = if ins.op_kind(port_op) == OpKind::Register { cpu.gpr[EDX] as u16 } else { ins.immediate8() as u16 };
    let reg = ins.op_register(data_op);
    let size = crate::cpu::operand::reg_size(reg);
    cpu.check_io(bus, port, size)?;
    bus.sync(cpu.icount);
    if ins.mnemonic() == M::In {
        let v = bus.io_in(port, size as u8);
        cpu.note_external_write(bus);
        cpu.set_reg(reg, v);
        // A read can arm a device deadline (the 8042 sends its next byte): the run loop checks.
        cpu.break_loop = true;
    } else {
        bus.io_out(port, size as u8, cpu.reg(reg));
        cpu.note_external_write(bus);
        // Let the run loop see whether the write asked the machine to stop.
        cpu.break_loop = true;
    }
    Ok(())
}
