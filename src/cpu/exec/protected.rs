//! Protected-mode system instructions: LLDT, SLDT, LTR, STR, LAR, LSL, VERR, VERW, ARPL,
//! SYSENTER, SYSEXIT (SDM Vol. 2A/2B, pages of those names; Vol. 3A §5.10 for the pointer
//! validation instructions, §7.2.4 for TR, §5.8.7 for SYSENTER/SYSEXIT).
//!
//! All of them raise #UD in real mode and virtual-8086 mode (except ARPL, SLDT and STR which
//! are #UD in both too on P6 processors).

use crate::cpu::fault::{Fault, Res, Why};
use crate::cpu::flags::Eflags;
use crate::cpu::regs::{ECX, EDX, ESP, SegAttr, Segment};
use crate::cpu::segment::{Descriptor, systype};
use crate::cpu::{Cpu, CpuBus, Seg};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

fn gp_sel(sel: u16, rule: &'static str) -> Fault {
    Fault::with_error(crate::cpu::fault::vector::GP, (sel & 0xFFFC) as u32, Why::Selector { selector: sel, rule })
}

pub fn exec<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    if !cpu.protected() {
        return Err(Fault::ud());
    }
    match ins.mnemonic() {
        M::Lldt => {
            cpu.require_cpl0()?;
            let sel = cpu.read_op(bus, ins, 0)? as u16;
            if sel & 0xFFFC == 0 {
                cpu.ldtr = Segment { selector: sel, base: 0, limit: 0, attr: SegAttr::empty() };
                return Ok(());
            }
            if sel & 4 != 0 {
                return Err(gp_sel(sel, "LLDT selector must reference the GDT"));
            }
            let d = cpu.read_descriptor(bus, sel, gp_sel)?;
            if d.is_segment() || d.sys_type() != systype::LDT {
                return Err(gp_sel(sel, "LLDT of a descriptor that is not an LDT"));
            }
            if !d.present() {
                return Err(Fault::with_error(
                    crate::cpu::fault::vector::NP,
                    (sel & 0xFFFC) as u32,
                    Why::Selector { selector: sel, rule: "LDT not present" },
                ));
            }
            cpu.ldtr = d.to_cache(sel);
            Ok(())
        }
        M::Ltr => {
            cpu.require_cpl0()?;
            let sel = cpu.read_op(bus, ins, 0)? as u16;
            if sel & 0xFFFC == 0 {
                return Err(Fault::gp0(Why::Selector { selector: sel, rule: "LTR with a null selector" }));
            }
            if sel & 4 != 0 {
                return Err(gp_sel(sel, "LTR selector must reference the GDT"));
            }
            let d = cpu.read_descriptor(bus, sel, gp_sel)?;
            if d.is_segment() || !matches!(d.sys_type(), systype::TSS16_AVAIL | systype::TSS32_AVAIL) {
                return Err(gp_sel(sel, "LTR of a descriptor that is not an available TSS"));
            }
            if !d.present() {
                return Err(Fault::with_error(
                    crate::cpu::fault::vector::NP,
                    (sel & 0xFFFC) as u32,
                    Why::Selector { selector: sel, rule: "TSS not present" },
                ));
            }
            // Mark the TSS busy in the GDT and in TR.
            if let Some(addr) = cpu.descriptor_addr(sel) {
                let b = cpu.sys_read8(bus, addr.wrapping_add(5))?;
                cpu.sys_write8(bus, addr.wrapping_add(5), b | 2)?;
            }
            cpu.tr = Descriptor(d.0 | 2 << 40).to_cache(sel);
            Ok(())
        }
        M::Sldt | M::Str => {
            let v = if ins.mnemonic() == M::Sldt { cpu.ldtr.selector } else { cpu.tr.selector } as u32;
            store_selector(cpu, bus, ins, v)
        }
        M::Lar | M::Lsl => {
            let sel = cpu.read_op(bus, ins, 1)? as u16;
            let ok = match visible(cpu, bus, sel)? {
                Some(d) => {
                    let t = d.sys_type();
                    let type_ok = d.is_segment()
                        || if ins.mnemonic() == M::Lar {
                            matches!(t, 1 | 2 | 3 | 4 | 5 | 9 | 11 | 12)
                        } else {
                            matches!(t, 1 | 2 | 3 | 9 | 11)
                        };
                    if type_ok {
                        let v = if ins.mnemonic() == M::Lar { ((d.0 >> 32) as u32) & 0x00F0_FF00 } else { d.limit() };
                        let size = cpu.op_size(ins, 0);
                        cpu.set_reg(ins.op0_register(), v & super::mask(size));
                        true
                    } else {
                        false
                    }
                }
                None => false,
            };
            cpu.flags.set(Eflags::ZF, ok);
            Ok(())
        }
        M::Verr | M::Verw => {
            let sel = cpu.read_op(bus, ins, 0)? as u16;
            let ok = match visible(cpu, bus, sel)? {
                Some(d) if d.is_segment() => {
                    if ins.mnemonic() == M::Verr {
                        d.readable()
                    } else {
                        d.writable_data()
                    }
                }
                _ => false,
            };
            cpu.flags.set(Eflags::ZF, ok);
            Ok(())
        }
        M::Arpl => {
            let dst = cpu.read_op(bus, ins, 0)?;
            let src = cpu.reg(ins.op1_register());
            if dst & 3 < src & 3 {
                cpu.write_op(bus, ins, 0, (dst & !3) | (src & 3))?;
                cpu.flags.set(Eflags::ZF, true);
            } else {
                cpu.flags.set(Eflags::ZF, false);
            }
            Ok(())
        }
        M::Sysenter => {
            // SDM Vol. 2B "SYSENTER": flat ring-0 CS/SS from IA32_SYSENTER_CS.
            let cs = cpu.sysenter[0] as u16;
            if cs & 0xFFFC == 0 {
                return Err(Fault::gp0(Why::Selector { selector: cs, rule: "SYSENTER with IA32_SYSENTER_CS = 0" }));
            }
            cpu.flags.set_masked(0, (Eflags::VM | Eflags::IF | Eflags::RF).bits());
            cpu.seg[Seg::Cs as usize] =
                Segment { selector: cs & 0xFFFC, base: 0, limit: u32::MAX, attr: SegAttr::from_bits_retain(0xC09B) };
            cpu.seg[Seg::Ss as usize] = Segment {
                selector: (cs & 0xFFFC) + 8,
                base: 0,
                limit: u32::MAX,
                attr: SegAttr::from_bits_retain(0xC093),
            };
            cpu.cpl = 0;
            cpu.gpr[ESP] = cpu.sysenter[1];
            cpu.next_eip = cpu.sysenter[2];
            cpu.invalidate_cursor();
            Ok(())
        }
        M::Sysexit => {
            cpu.require_cpl0()?;
            let cs = cpu.sysenter[0] as u16;
            if cs & 0xFFFC == 0 {
                return Err(Fault::gp0(Why::Selector { selector: cs, rule: "SYSEXIT with IA32_SYSENTER_CS = 0" }));
            }
            cpu.seg[Seg::Cs as usize] =
                Segment { selector: (cs + 16) | 3, base: 0, limit: u32::MAX, attr: SegAttr::from_bits_retain(0xC0FB) };
            cpu.seg[Seg::Ss as usize] =
                Segment { selector: (cs + 24) | 3, base: 0, limit: u32::MAX, attr: SegAttr::from_bits_retain(0xC0F3) };
            cpu.cpl = 3;
            cpu.gpr[ESP] = cpu.gpr[ECX];
            cpu.next_eip = cpu.gpr[EDX];
            cpu.invalidate_cursor();
            Ok(())
        }
        _ => Err(super::unimplemented(ins)),
    }
}

/// SLDT/STR: a register destination takes the selector zero-extended; memory gets 16 bits.
fn store_selector<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction, v: u32) -> Res<()> {
    if ins.op0_kind() == OpKind::Register {
        cpu.set_reg(ins.op0_register(), v);
        Ok(())
    } else {
        let (seg, off) = cpu.ea(ins);
        cpu.write16(bus, seg, off, v as u16)
    }
}

/// The descriptor for `sel` if LAR/LSL/VERR/VERW may look at it from the current CPL
/// (SDM Vol. 3A §5.10.1): non-null, within its table, and for everything but conforming code,
/// DPL >= CPL and DPL >= RPL.
fn visible<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, sel: u16) -> Res<Option<Descriptor>> {
    if sel & 0xFFFC == 0 || cpu.descriptor_addr(sel).is_none() {
        return Ok(None);
    }
    let d = cpu.read_descriptor(bus, sel, gp_sel)?;
    let rpl = (sel & 3) as u8;
    if !d.conforming() && (d.dpl() < cpu.cpl || d.dpl() < rpl) {
        return Ok(None);
    }
    Ok(Some(d))
}
