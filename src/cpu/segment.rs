//! Segmentation: loading segment registers, and far transfers, by mode.
//!
//! Real mode and virtual-8086 mode load a selector as `base = selector << 4` (SDM Vol. 3A
//! §20.1.1, §20.2.1). Protected mode reads the descriptor from the GDT or LDT and applies the
//! checks of SDM Vol. 3A §5.4-5.8 and the MOV/POP/far-transfer pseudo-code of Vol. 2.

use super::fault::{Fault, Res, Why};
use super::regs::{Seg, SegAttr};
use super::{Cpu, CpuBus, Mode};

impl Cpu {
    /// Loads a data or stack segment register (MOV, POP, LDS …) with the current mode's rules.
    pub fn load_seg<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, sel: u16) -> Res<()> {
        match self.mode() {
            Mode::Real => {
                self.seg[seg as usize].load_real(sel);
                Ok(())
            }
            Mode::Virtual8086 => {
                // Virtual-8086 segments are always 64 KiB, read/write, DPL 3 (SDM Vol. 3A §20.2.1).
                let s = &mut self.seg[seg as usize];
                s.load_real(sel);
                s.limit = 0xFFFF;
                s.attr = SegAttr::from_bits_retain(if seg == Seg::Cs { 0xFB } else { 0xF3 });
                Ok(())
            }
            Mode::Protected => self.load_seg_protected(bus, seg, sel),
        }
    }

    /// Protected-mode segment load: not yet implemented (the protected-mode issue adds it).
    fn load_seg_protected<B: CpuBus>(&mut self, _bus: &mut B, _seg: Seg, sel: u16) -> Res<()> {
        Err(Fault::gp0(Why::Selector { selector: sel, rule: "protected-mode segment loads are not implemented yet" }))
    }

    /// Protected-mode far JMP/CALL.
    pub fn far_transfer_protected<B: CpuBus>(
        &mut self,
        _bus: &mut B,
        sel: u16,
        _off: u32,
        _size: u32,
        _call: bool,
    ) -> Res<()> {
        Err(Fault::gp0(Why::Selector { selector: sel, rule: "protected-mode far transfers are not implemented yet" }))
    }

    /// Protected-mode far RET.
    pub fn far_return_protected<B: CpuBus>(&mut self, _bus: &mut B, _size: u32, _imm: u32) -> Res<()> {
        Err(Fault::gp0(Why::Selector { selector: 0, rule: "protected-mode far returns are not implemented yet" }))
    }

    /// Protected-mode and virtual-8086 IRET.
    pub fn iret_protected<B: CpuBus>(&mut self, _bus: &mut B, _size: u32) -> Res<()> {
        Err(Fault::gp0(Why::Selector { selector: 0, rule: "protected-mode IRET is not implemented yet" }))
    }
}
