//! Protected-mode system instructions: LLDT, SLDT, LTR, STR, LAR, LSL, VERR, VERW, ARPL,
//! SYSENTER, SYSEXIT (SDM Vol. 2A/2B, pages of those names; Vol. 3A §5.10 for the pointer
//! validation instructions, §7.2.4 for TR, §5.8.7 for SYSENTER/SYSEXIT).
//!
//! All but SYSENTER and SYSEXIT raise #UD in real mode and virtual-8086 mode (SLDT, STR, LAR,
//! LSL, VERR, VERW and ARPL are "not recognized" there). SYSENTER raises #GP(0) in real mode and
//! works from virtual-8086 mode; SYSEXIT raises #GP(0) in both.

use crate::cpu::fault::{Fault, Res, Why};
use crate::cpu::flags::Eflags;
use crate::cpu::regs::{ECX, EDX, ESP, SegAttr, Segment};
use crate::cpu::segment::{Descriptor, systype};
use crate::cpu::{Cpu, CpuBus, Mode, Seg};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

fn gp_sel(sel: u16, rule: &'static str) -> Fault {
    Fault::with_error(crate::cpu::fault::vector::GP, (sel & 0xFFFC) as u32, Why::Selector { selector: sel, rule })
}

pub fn exec<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    // SYSENTER and SYSEXIT have their own mode rules (#GP, not #UD; SYSENTER works from
    // virtual-8086 mode).
    match ins.mnemonic() {
        M::Sysenter => return sysenter(cpu),
        M::Sysexit => return sysexit(cpu),
        _ => {}
    }
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
        _ => Err(super::unimplemented(ins)),
    }
}

/// SYSENTER (SDM Vol. 2B "SYSENTER", Vol. 3A §5.8.7): a fast call to CPL 0. CS and SS get
/// fixed flat descriptors (no GDT read): CS = IA32_SYSENTER_CS AND FFFCH, SS = CS + 8, both
/// computed in 16 bits; ESP and EIP come from IA32_SYSENTER_ESP/EIP; VM, IF and RF are cleared.
/// #GP(0) in real mode or when IA32_SYSENTER_CS[15:2] = 0. It is allowed at any CPL and from
/// virtual-8086 mode ("Virtual-8086 Mode Exceptions: same as protected mode").
fn sysenter(cpu: &mut Cpu) -> Res<()> {
    if cpu.mode() == Mode::Real {
        return Err(Fault::gp0(Why::Rule("SYSENTER in real mode (CR0.PE = 0)")));
    }
    let msr_cs = cpu.sysenter[0] as u16;
    if msr_cs & 0xFFFC == 0 {
        return Err(Fault::gp0(Why::Rule("SYSENTER with IA32_SYSENTER_CS = 0: no ring-0 code segment is set up")));
    }
    let cs = msr_cs & 0xFFFC;
    cpu.flags.set_masked(0, (Eflags::VM | Eflags::IF | Eflags::RF).bits());
    cpu.seg[Seg::Cs as usize] =
        Segment { selector: cs, base: 0, limit: u32::MAX, attr: SegAttr::from_bits_retain(0xC09B) };
    cpu.seg[Seg::Ss as usize] =
        Segment { selector: cs.wrapping_add(8), base: 0, limit: u32::MAX, attr: SegAttr::from_bits_retain(0xC093) };
    cpu.cpl = 0;
    cpu.gpr[ESP] = cpu.sysenter[1];
    cpu.next_eip = cpu.sysenter[2];
    cpu.invalidate_cursor();
    Ok(())
}

/// SYSEXIT (SDM Vol. 2B "SYSEXIT"): the fast return to CPL 3. CS = (IA32_SYSENTER_CS + 16) OR 3
/// and SS = (IA32_SYSENTER_CS + 24) OR 3, computed in 16 bits (a selector wraps around), with
/// fixed flat DPL 3 descriptors; ESP = ECX, EIP = EDX. #GP(0) in real mode, at CPL > 0
/// (virtual-8086 mode is CPL 3), or when IA32_SYSENTER_CS[15:2] = 0.
fn sysexit(cpu: &mut Cpu) -> Res<()> {
    if cpu.mode() == Mode::Real {
        return Err(Fault::gp0(Why::Rule("SYSEXIT in real mode (CR0.PE = 0)")));
    }
    cpu.require_cpl0()?;
    let msr_cs = cpu.sysenter[0] as u16;
    if msr_cs & 0xFFFC == 0 {
        return Err(Fault::gp0(Why::Rule("SYSEXIT with IA32_SYSENTER_CS = 0: no ring-3 segments are set up")));
    }
    cpu.seg[Seg::Cs as usize] = Segment {
        selector: msr_cs.wrapping_add(16) | 3,
        base: 0,
        limit: u32::MAX,
        attr: SegAttr::from_bits_retain(0xC0FB),
    };
    cpu.seg[Seg::Ss as usize] = Segment {
        selector: msr_cs.wrapping_add(24) | 3,
        base: 0,
        limit: u32::MAX,
        attr: SegAttr::from_bits_retain(0xC0F3),
    };
    cpu.cpl = 3;
    cpu.gpr[ESP] = cpu.gpr[ECX];
    cpu.next_eip = cpu.gpr[EDX];
    cpu.invalidate_cursor();
    Ok(())
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
