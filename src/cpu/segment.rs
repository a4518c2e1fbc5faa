//! Segmentation and privilege: descriptors, segment-register loads, far transfers through code
//! segments and call gates, far returns, IRET, and hardware task switches.
//!
//! Real mode and virtual-8086 mode load a selector as `base = selector << 4` (SDM Vol. 3A
//! §20.1.1, §20.2.1). Protected mode reads the descriptor from the GDT or LDT and applies the
//! checks of SDM Vol. 3A chapter 5 (§5.4 type checks, §5.5-5.8 privilege checks for data, stack
//! and code, call gates §5.8.3-5.8.6), chapter 7 (task management) and the pseudo-code of MOV,
//! POP, JMP, CALL, RET and IRET in Vol. 2. Every refusal names the rule in its [`Why`].
//!
//! Descriptor-table and TSS accesses are *implicit supervisor accesses*: they go through paging
//! as CPL 0 accesses whatever the CPL (SDM Vol. 3A §4.6.1).

use super::access::Access;
use super::fault::{Fault, Res, Why, vector};
use super::flags::Eflags;
use super::regs::{Seg, SegAttr, Segment};
use super::{Cpu, CpuBus, Mode};

/// A segment or gate descriptor, as the 8 bytes in a descriptor table (SDM Vol. 3A §3.4.5,
/// Figure 3-8; gates §6.11 Figure 6-2 and §5.8.3 Figure 5-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor(pub u64);

/// System descriptor types (SDM Vol. 3A Table 3-2).
pub mod systype {
    pub const TSS16_AVAIL: u8 = 1;
    pub const LDT: u8 = 2;
    pub const TSS16_BUSY: u8 = 3;
    pub const CALL_GATE16: u8 = 4;
    pub const TASK_GATE: u8 = 5;
    pub const INT_GATE16: u8 = 6;
    pub const TRAP_GATE16: u8 = 7;
    pub const TSS32_AVAIL: u8 = 9;
    pub const TSS32_BUSY: u8 = 11;
    pub const CALL_GATE32: u8 = 12;
    pub const INT_GATE32: u8 = 14;
    pub const TRAP_GATE32: u8 = 15;

    /// Name of a system type, for the debugger.
    pub fn name(t: u8) -> &'static str {
        match t {
            TSS16_AVAIL => "16-bit TSS (available)",
            LDT => "LDT",
            TSS16_BUSY => "16-bit TSS (busy)",
            CALL_GATE16 => "16-bit call gate",
            TASK_GATE => "task gate",
            INT_GATE16 => "16-bit interrupt gate",
            TRAP_GATE16 => "16-bit trap gate",
            TSS32_AVAIL => "32-bit TSS (available)",
            TSS32_BUSY => "32-bit TSS (busy)",
            CALL_GATE32 => "32-bit call gate",
            INT_GATE32 => "32-bit interrupt gate",
            TRAP_GATE32 => "32-bit trap gate",
            _ => "reserved system type",
        }
    }
}

impl Descriptor {
    pub fn base(self) -> u32 {
        let d = self.0;
        (((d >> 16) & 0xFF_FFFF) | (((d >> 56) & 0xFF) << 24)) as u32
    }
    /// The limit in bytes (scaled by G).
    pub fn limit(self) -> u32 {
        let d = self.0;
        let raw = ((d & 0xFFFF) | (((d >> 48) & 0xF) << 16)) as u32;
        if self.attr().contains(SegAttr::G) { (raw << 12) | 0xFFF } else { raw }
    }
    /// Access byte and flags nibble, as the hidden cache stores them.
    pub fn attr(self) -> SegAttr {
        let d = self.0;
        SegAttr::from_bits_retain((((d >> 40) & 0xFF) | (((d >> 52) & 0xF) << 12)) as u16)
    }
    pub fn present(self) -> bool {
        self.attr().contains(SegAttr::P)
    }
    pub fn dpl(self) -> u8 {
        self.attr().dpl()
    }
    /// Code or data (S = 1), as opposed to a system descriptor.
    pub fn is_segment(self) -> bool {
        self.attr().contains(SegAttr::S)
    }
    pub fn is_code(self) -> bool {
        self.is_segment() && self.attr().contains(SegAttr::CODE)
    }
    pub fn is_data(self) -> bool {
        self.is_segment() && !self.attr().contains(SegAttr::CODE)
    }
    pub fn conforming(self) -> bool {
        self.is_code() && self.attr().contains(SegAttr::DC)
    }
    /// Readable code or any data segment.
    pub fn readable(self) -> bool {
        self.is_data() || self.attr().contains(SegAttr::RW)
    }
    pub fn writable_data(self) -> bool {
        self.is_data() && self.attr().contains(SegAttr::RW)
    }
    /// The type field of a system descriptor.
    pub fn sys_type(self) -> u8 {
        self.attr().typ()
    }
    /// Gate: target selector.
    pub fn gate_selector(self) -> u16 {
        (self.0 >> 16) as u16
    }
    /// Gate: target offset (high word ignored for 16-bit gates).
    pub fn gate_offset(self) -> u32 {
        let lo = (self.0 & 0xFFFF) as u32;
        if self.sys_type() & 8 != 0 { lo | (((self.0 >> 48) & 0xFFFF) as u32) << 16 } else { lo }
    }
    /// Call gate: number of parameters to copy.
    pub fn param_count(self) -> u32 {
        ((self.0 >> 32) & 0x1F) as u32
    }
    /// The hidden-cache image of this descriptor for selector `sel`.
    pub fn to_cache(self, sel: u16) -> Segment {
        Segment { selector: sel, base: self.base(), limit: self.limit(), attr: self.attr() }
    }
}

/// Error code for a selector (SDM Vol. 3A §6.13): the selector's index and TI, plus EXT.
#[inline]
fn sel_err(sel: u16) -> u32 {
    (sel & 0xFFFC) as u32
}

fn gp(sel: u16, rule: &'static str) -> Fault {
    Fault::with_error(vector::GP, sel_err(sel), Why::Selector { selector: sel, rule })
}
fn np(sel: u16, rule: &'static str) -> Fault {
    Fault::with_error(vector::NP, sel_err(sel), Why::Selector { selector: sel, rule })
}
fn ss_fault(sel: u16, rule: &'static str) -> Fault {
    Fault::with_error(vector::SS, sel_err(sel), Why::Selector { selector: sel, rule })
}
fn ts(sel: u16, rule: &'static str) -> Fault {
    Fault::with_error(vector::TS, sel_err(sel), Why::Selector { selector: sel, rule })
}

/// A push that fails on the stack a privilege change has just switched to (taken from the TSS)
/// is #SS(new SS selector + EXT), not #SS(0): SDM Vol. 2A "CALL" ("#SS(selector) if pushing the
/// return address, parameters, or stack segment pointer onto the stack exceeds the bounds of the
/// stack segment when a stack switch occurs") and "INT n" (#SS(NewSS + EXT)). Other faults (a
/// page fault on the new stack) pass through unchanged.
fn inner_stack_fault(f: Fault, ss: u16, ext: u32) -> Fault {
    if f.vector != vector::SS {
        return f;
    }
    let why = match f.why {
        Why::SegmentLimit { offset, limit, .. } | Why::ExpandDown { offset, limit, .. } => {
            Why::InnerStack { selector: ss, offset, limit }
        }
        other => other,
    };
    Fault::with_error(vector::SS, sel_err(ss) | ext, why)
}

/// What kind of control transfer is being made (decides checks and stack use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    Jmp,
    Call,
    /// IRET with NT set (task return).
    Iret,
    /// An interrupt or exception through a task gate.
    Int,
}

impl Cpu {
    // ---- implicit supervisor accesses --------------------------------------------------

    fn sys_phys<B: CpuBus>(&mut self, bus: &mut B, lin: u32, acc: Access) -> Res<u32> {
        if !self.cr0.contains(super::Cr0::PG) {
            return Ok(lin & self.a20_mask);
        }
        Ok(self.page_walk(bus, lin, acc, false)? & self.a20_mask)
    }
    pub fn sys_read8<B: CpuBus>(&mut self, bus: &mut B, lin: u32) -> Res<u8> {
        let p = self.sys_phys(bus, lin, Access::Read)?;
        Ok(bus.read8(p))
    }
    pub fn sys_read16<B: CpuBus>(&mut self, bus: &mut B, lin: u32) -> Res<u16> {
        Ok(u16::from_le_bytes([self.sys_read8(bus, lin)?, self.sys_read8(bus, lin.wrapping_add(1))?]))
    }
    pub fn sys_read32<B: CpuBus>(&mut self, bus: &mut B, lin: u32) -> Res<u32> {
        Ok(self.sys_read16(bus, lin)? as u32 | (self.sys_read16(bus, lin.wrapping_add(2))? as u32) << 16)
    }
    pub fn sys_write8<B: CpuBus>(&mut self, bus: &mut B, lin: u32, v: u8) -> Res<()> {
        let p = self.sys_phys(bus, lin, Access::Write)?;
        if self.cache.note_write(p, 1) {
            self.invalidate_cursor();
        }
        bus.write8(p, v);
        Ok(())
    }
    pub fn sys_write16<B: CpuBus>(&mut self, bus: &mut B, lin: u32, v: u16) -> Res<()> {
        let b = v.to_le_bytes();
        self.sys_write8(bus, lin, b[0])?;
        self.sys_write8(bus, lin.wrapping_add(1), b[1])
    }
    pub fn sys_write32<B: CpuBus>(&mut self, bus: &mut B, lin: u32, v: u32) -> Res<()> {
        self.sys_write16(bus, lin, v as u16)?;
        self.sys_write16(bus, lin.wrapping_add(2), (v >> 16) as u16)
    }

    // ---- descriptor tables --------------------------------------------------------------

    /// Linear address of the descriptor for `sel`, or `None` if it lies beyond its table
    /// (or the LDT is not loaded).
    pub fn descriptor_addr(&self, sel: u16) -> Option<u32> {
        let index = (sel & 0xFFF8) as u32;
        let (base, limit) = if sel & 4 != 0 {
            if !self.ldtr.attr.contains(SegAttr::P) {
                return None;
            }
            (self.ldtr.base, self.ldtr.limit)
        } else {
            (self.gdtr.base, self.gdtr.limit as u32)
        };
        if index + 7 > limit { None } else { Some(base.wrapping_add(index)) }
    }

    /// Reads the descriptor for a non-null selector; `fault` builds the fault (with the
    /// selector) for an index beyond the table limit.
    pub fn read_descriptor<B: CpuBus>(
        &mut self,
        bus: &mut B,
        sel: u16,
        fault: fn(u16, &'static str) -> Fault,
    ) -> Res<Descriptor> {
        let Some(addr) = self.descriptor_addr(sel) else {
            let rule = if sel & 4 != 0 && !self.ldtr.attr.contains(SegAttr::P) {
                "the selector names the LDT (TI = 1), but no LDT is loaded (LDTR is null)"
            } else if sel & 4 != 0 {
                "selector index lies beyond the LDT limit"
            } else {
                "selector index lies beyond the GDT limit"
            };
            return Err(fault(sel, rule));
        };
        let lo = self.sys_read32(bus, addr)? as u64;
        let hi = self.sys_read32(bus, addr.wrapping_add(4))? as u64;
        Ok(Descriptor(lo | hi << 32))
    }

    /// Sets the accessed bit of a segment descriptor (SDM Vol. 3A §3.4.5.1).
    fn set_accessed<B: CpuBus>(&mut self, bus: &mut B, sel: u16, d: Descriptor) -> Res<()> {
        if d.is_segment()
            && !d.attr().contains(SegAttr::A)
            && let Some(addr) = self.descriptor_addr(sel)
        {
            let b = ((d.0 >> 40) as u8) | 1;
            self.sys_write8(bus, addr.wrapping_add(5), b)?;
        }
        Ok(())
    }

    // ---- segment-register loads ---------------------------------------------------------

    /// Loads a data or stack segment register (MOV, POP, LDS …) with the current mode's rules.
    pub fn load_seg<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, sel: u16) -> Res<()> {
        match self.mode() {
            Mode::Real => {
                self.seg[seg as usize].load_real(sel);
                Ok(())
            }
            Mode::Virtual8086 => {
                self.load_seg_v86(seg, sel);
                Ok(())
            }
            Mode::Protected => self.load_seg_protected(bus, seg, sel),
        }
    }

    /// Virtual-8086 segments are always 64 KiB, read/write, DPL 3 (SDM Vol. 3A §20.2.1).
    pub fn load_seg_v86(&mut self, seg: Seg, sel: u16) {
        let s = &mut self.seg[seg as usize];
        s.load_real(sel);
        s.limit = 0xFFFF;
        s.attr = SegAttr::from_bits_retain(if seg == Seg::Cs { 0xFB } else { 0xF3 });
    }

    /// MOV/POP/LxS to SS, DS, ES, FS, GS in protected mode (SDM Vol. 2B "MOV", §5.5-5.7).
    fn load_seg_protected<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, sel: u16) -> Res<()> {
        let cpl = self.cpl;
        let rpl = (sel & 3) as u8;
        if sel & 0xFFFC == 0 {
            if seg == Seg::Ss {
                return Err(Fault::gp0(Why::Selector {
                    selector: sel,
                    rule: "SS cannot be loaded with a null selector",
                }));
            }
            // A null selector may be loaded; using the register then faults.
            self.seg[seg as usize] = Segment { selector: sel, base: 0, limit: 0, attr: SegAttr::empty() };
            return Ok(());
        }
        let d = self.read_descriptor(bus, sel, gp)?;
        if seg == Seg::Ss {
            if rpl != cpl {
                return Err(gp(sel, "SS selector RPL differs from CPL"));
            }
            if !d.writable_data() {
                return Err(gp(sel, "SS must be a writable data segment"));
            }
            if d.dpl() != cpl {
                return Err(gp(sel, "SS descriptor DPL differs from CPL"));
            }
            if !d.present() {
                return Err(ss_fault(sel, "stack segment not present"));
            }
        } else {
            if !d.readable() || !d.is_segment() {
                return Err(gp(sel, "DS/ES/FS/GS need a data or readable code segment"));
            }
            if !d.conforming() && (rpl > d.dpl() || cpl > d.dpl()) {
                return Err(gp(sel, "data segment DPL is more privileged than CPL or RPL"));
            }
            if !d.present() {
                return Err(np(sel, "segment not present"));
            }
        }
        self.set_accessed(bus, sel, d)?;
        self.seg[seg as usize] = Descriptor(d.0 | 1 << 40).to_cache(sel);
        Ok(())
    }

    /// Loads CS from a code descriptor already checked, setting CPL.
    fn load_cs_checked<B: CpuBus>(&mut self, bus: &mut B, sel: u16, d: Descriptor, cpl: u8) -> Res<()> {
        self.set_accessed(bus, sel, d)?;
        let sel = (sel & 0xFFFC) | cpl as u16;
        self.seg[Seg::Cs as usize] = Descriptor(d.0 | 1 << 40).to_cache(sel);
        self.cpl = cpl;
        self.invalidate_cursor();
        Ok(())
    }

    /// Checks a code-segment target of a far JMP/CALL (SDM Vol. 3A §5.8.1-5.8.2).
    fn check_code_target(&self, sel: u16, d: Descriptor) -> Res<()> {
        let (cpl, rpl) = (self.cpl, (sel & 3) as u8);
        if d.conforming() {
            if d.dpl() > cpl {
                return Err(gp(sel, "far transfer to a conforming code segment with DPL > CPL"));
            }
        } else if rpl > cpl || d.dpl() != cpl {
            return Err(gp(
                sel,
                "far transfer to a non-conforming code segment whose DPL differs from CPL (or RPL > CPL)",
            ));
        }
        if !d.present() {
            return Err(np(sel, "code segment not present"));
        }
        Ok(())
    }

    /// Protected-mode far JMP/CALL (SDM Vol. 2A "JMP", "CALL" pseudo-code).
    pub fn far_transfer_protected<B: CpuBus>(
        &mut self,
        bus: &mut B,
        sel: u16,
        off: u32,
        size: u32,
        call: bool,
    ) -> Res<()> {
        if sel & 0xFFFC == 0 {
            return Err(Fault::gp0(Why::Selector { selector: sel, rule: "far transfer to a null selector" }));
        }
        let d = self.read_descriptor(bus, sel, gp)?;
        if d.is_code() {
            self.check_code_target(sel, d)?;
            let off = if size == 2 { off & 0xFFFF } else { off };
            if off > d.limit() {
                return Err(Fault::gp0(Why::SegmentLimit {
                    seg: Seg::Cs as u8,
                    offset: off,
                    size: 1,
                    limit: d.limit(),
                }));
            }
            if call {
                self.push_return(bus, size)?;
            }
            let cpl = self.cpl;
            self.load_cs_checked(bus, sel, d, cpl)?;
            self.next_eip = off;
            return Ok(());
        }
        if d.is_segment() {
            return Err(gp(sel, "far transfer to a data segment"));
        }
        let (cpl, rpl) = (self.cpl, (sel & 3) as u8);
        match d.sys_type() {
            systype::CALL_GATE16 | systype::CALL_GATE32 => {
                if d.dpl() < cpl || d.dpl() < rpl {
                    return Err(gp(sel, "call gate DPL is below CPL or RPL"));
                }
                if !d.present() {
                    return Err(np(sel, "call gate not present"));
                }
                self.through_call_gate(bus, d, call)
            }
            systype::TASK_GATE | systype::TSS16_AVAIL | systype::TSS32_AVAIL => {
                if d.dpl() < cpl || d.dpl() < rpl {
                    return Err(gp(sel, "task gate or TSS DPL is below CPL or RPL"));
                }
                if !d.present() {
                    return Err(np(sel, "task gate or TSS not present"));
                }
                let tss_sel = if d.sys_type() == systype::TASK_GATE { d.gate_selector() } else { sel };
                let kind = if call { Transfer::Call } else { Transfer::Jmp };
                let ret = self.next_eip;
                self.task_switch(bus, tss_sel, kind, ret)
            }
            systype::TSS16_BUSY | systype::TSS32_BUSY => Err(gp(sel, "far transfer to a busy TSS")),
            _ => Err(gp(sel, "far transfer to a descriptor that is not code, a call gate, a task gate or a TSS")),
        }
    }

    /// Pushes CS and the return EIP for a far CALL at the same privilege level.
    fn push_return<B: CpuBus>(&mut self, bus: &mut B, size: u32) -> Res<()> {
        let old = self.gpr[super::regs::ESP];
        let cs = self.seg[Seg::Cs as usize].selector as u32;
        let ret = self.next_eip;
        let r = self.push(bus, size, cs).and_then(|_| self.push(bus, size, ret));
        if r.is_err() {
            self.gpr[super::regs::ESP] = old;
        }
        r
    }

    /// JMP or CALL through a call gate (SDM Vol. 3A §5.8.4-5.8.5, Figure 5-13).
    fn through_call_gate<B: CpuBus>(&mut self, bus: &mut B, gate: Descriptor, call: bool) -> Res<()> {
        let sel = gate.gate_selector();
        if sel & 0xFFFC == 0 {
            return Err(Fault::gp0(Why::Selector { selector: sel, rule: "call gate names a null code selector" }));
        }
        let d = self.read_descriptor(bus, sel, gp)?;
        let cpl = self.cpl;
        if !d.is_code() || d.dpl() > cpl {
            return Err(gp(sel, "call gate target must be a code segment with DPL <= CPL"));
        }
        if !call && !d.conforming() && d.dpl() != cpl {
            return Err(gp(sel, "JMP through a call gate cannot change privilege"));
        }
        if !d.present() {
            return Err(np(sel, "call gate target code segment not present"));
        }
        let size = if gate.sys_type() == systype::CALL_GATE32 { 4 } else { 2 };
        let off = gate.gate_offset();
        if off > d.limit() {
            return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: off, size: 1, limit: d.limit() }));
        }
        if !call {
            self.load_cs_checked(bus, sel, d, cpl)?;
            self.next_eip = off;
            return Ok(());
        }
        if d.conforming() || d.dpl() == cpl {
            self.push_return(bus, size)?;
            self.load_cs_checked(bus, sel, d, cpl)?;
            self.next_eip = off;
            return Ok(());
        }
        // More privileged: switch to the inner stack from the TSS and copy the parameters.
        let new_cpl = d.dpl();
        let (new_ss, new_esp, ss_desc) = self.inner_stack(bus, new_cpl, false)?;
        let old_ss = self.seg[Seg::Ss as usize];
        let old_esp = self.gpr[super::regs::ESP];
        let old_sp = self.sp();
        let n = gate.param_count();
        let mut params = [0u32; 31];
        for (i, p) in params.iter_mut().enumerate().take(n as usize) {
            *p = self.read_sized(
                bus,
                Seg::Ss,
                old_sp.wrapping_add(i as u32 * size) & if self.stack32() { u32::MAX } else { 0xFFFF },
                size,
            )?;
        }
        let cs = self.seg[Seg::Cs as usize].selector as u32;
        let ret = self.next_eip;
        let old_cpl = self.cpl;
        // Switch: everything below is on the new stack at the new CPL.
        self.cpl = new_cpl;
        self.seg[Seg::Ss as usize] = ss_desc.to_cache(new_ss);
        self.gpr[super::regs::ESP] = new_esp;
        let r = (|| {
            self.push(bus, size, old_ss.selector as u32)?;
            self.push(bus, size, old_esp)?;
            for i in (0..n as usize).rev() {
                self.push(bus, size, params[i])?;
            }
            self.push(bus, size, cs)?;
            self.push(bus, size, ret)
        })();
        if let Err(f) = r {
            self.cpl = old_cpl;
            self.seg[Seg::Ss as usize] = old_ss;
            self.gpr[super::regs::ESP] = old_esp;
            return Err(inner_stack_fault(f, new_ss, 0));
        }
        self.load_cs_checked(bus, sel, d, new_cpl)?;
        self.next_eip = off;
        Ok(())
    }

    /// Reads SS:ESP for privilege level `dpl` from the current TSS and checks the new SS
    /// (SDM Vol. 3A §5.8.5, §6.12.1). `ext` sets the EXT bit in error codes.
    fn inner_stack<B: CpuBus>(&mut self, bus: &mut B, dpl: u8, ext: bool) -> Res<(u16, u32, Descriptor)> {
        let tr = self.tr;
        let t32 = tr.attr.typ() & 8 != 0;
        let (ss_off, sp_off, width) =
            if t32 { (8 + dpl as u32 * 8, 4 + dpl as u32 * 8, 4) } else { (4 + dpl as u32 * 4, 2 + dpl as u32 * 4, 2) };
        if ss_off + 1 > tr.limit || sp_off + width - 1 > tr.limit {
            // #TS(current TSS selector + EXT) (SDM Vol. 2A "INT n": error_code(current TSS
            // selector, 0, EXT)).
            return Err(Fault::with_error(
                vector::TS,
                sel_err(tr.selector) | ext as u32,
                Why::Selector {
                    selector: tr.selector,
                    rule: "the TSS is too small to hold SS:ESP for the new privilege level",
                },
            ));
        }
        let ss = self.sys_read16(bus, tr.base.wrapping_add(ss_off))?;
        let esp = if t32 {
            self.sys_read32(bus, tr.base.wrapping_add(sp_off))?
        } else {
            self.sys_read16(bus, tr.base.wrapping_add(sp_off))? as u32
        };
        let e = ext as u32;
        let tsf = |s: u16, rule| Fault::with_error(vector::TS, sel_err(s) | e, Why::Selector { selector: s, rule });
        if ss & 0xFFFC == 0 {
            return Err(tsf(ss, "inner stack selector in the TSS is null"));
        }
        let Some(_) = self.descriptor_addr(ss) else {
            return Err(tsf(ss, "inner stack selector lies beyond the descriptor table"));
        };
        let d = self.read_descriptor(bus, ss, ts)?;
        if (ss & 3) as u8 != dpl || d.dpl() != dpl || !d.writable_data() {
            return Err(tsf(ss, "inner stack must be a writable data segment with RPL = DPL = the new CPL"));
        }
        if !d.present() {
            return Err(Fault::with_error(
                vector::SS,
                sel_err(ss) | e,
                Why::Selector { selector: ss, rule: "inner stack segment not present" },
            ));
        }
        self.set_accessed(bus, ss, d)?;
        Ok((ss, esp, Descriptor(d.0 | 1 << 40)))
    }

    /// After a return to an outer level, data segment registers the new CPL may not use are
    /// nulled (SDM Vol. 2B "RET", "IRET": the DPL check on ES, DS, FS, GS).
    fn null_outer_segments(&mut self) {
        for s in [Seg::Es, Seg::Ds, Seg::Fs, Seg::Gs] {
            let a = self.seg[s as usize].attr;
            let data_or_nc = !a.contains(SegAttr::CODE) || !a.contains(SegAttr::DC);
            if a.contains(SegAttr::P) && data_or_nc && a.dpl() < self.cpl {
                self.seg[s as usize] = Segment { selector: 0, base: 0, limit: 0, attr: SegAttr::empty() };
            }
        }
    }

    /// Checks the CS selector popped by RET/IRET (SDM Vol. 2B "RET" protected-mode checks).
    fn check_return_cs<B: CpuBus>(&mut self, bus: &mut B, sel: u16) -> Res<Descriptor> {
        if sel & 0xFFFC == 0 {
            return Err(Fault::gp0(Why::Selector { selector: sel, rule: "return to a null code selector" }));
        }
        let d = self.read_descriptor(bus, sel, gp)?;
        let rpl = (sel & 3) as u8;
        if !d.is_code() {
            return Err(gp(sel, "return to a selector that is not a code segment"));
        }
        if rpl < self.cpl {
            return Err(gp(sel, "return to a more privileged level (RPL < CPL)"));
        }
        if d.conforming() && d.dpl() > rpl {
            return Err(gp(sel, "return to a conforming code segment with DPL > RPL"));
        }
        if !d.conforming() && d.dpl() != rpl {
            return Err(gp(sel, "return to a non-conforming code segment with DPL != RPL"));
        }
        if !d.present() {
            return Err(np(sel, "return code segment not present"));
        }
        Ok(d)
    }

    /// Reads and checks the outer SS for a return to privilege level `rpl`.
    fn check_return_ss<B: CpuBus>(&mut self, bus: &mut B, ss: u16, rpl: u8) -> Res<Descriptor> {
        if ss & 0xFFFC == 0 {
            return Err(Fault::gp0(Why::Selector { selector: ss, rule: "return to an outer level with a null SS" }));
        }
        let d = self.read_descriptor(bus, ss, gp)?;
        if (ss & 3) as u8 != rpl || !d.writable_data() || d.dpl() != rpl {
            return Err(gp(ss, "outer SS must be a writable data segment with RPL = DPL = the return CS's RPL"));
        }
        if !d.present() {
            return Err(ss_fault(ss, "outer stack segment not present"));
        }
        Ok(d)
    }

    /// Protected-mode far RET (SDM Vol. 2B "RET").
    pub fn far_return_protected<B: CpuBus>(&mut self, bus: &mut B, size: u32, imm: u32) -> Res<()> {
        let off = self.peek(bus, 0, size)?;
        let sel = self.peek(bus, size, size)? as u16;
        let d = self.check_return_cs(bus, sel)?;
        let off = if size == 2 { off & 0xFFFF } else { off };
        if off > d.limit() {
            return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: off, size: 1, limit: d.limit() }));
        }
        let rpl = (sel & 3) as u8;
        if rpl == self.cpl {
            self.set_sp(self.sp_offset(2 * size + imm));
            self.load_cs_checked(bus, sel, d, rpl)?;
            self.next_eip = off;
            return Ok(());
        }
        let esp = self.peek(bus, 2 * size + imm, size)?;
        let ss = self.peek(bus, 3 * size + imm, size)? as u16;
        let ssd = self.check_return_ss(bus, ss, rpl)?;
        self.set_accessed(bus, ss, ssd)?;
        self.load_cs_checked(bus, sel, d, rpl)?;
        self.seg[Seg::Ss as usize] = Descriptor(ssd.0 | 1 << 40).to_cache(ss);
        let esp = if size == 2 { esp & 0xFFFF } else { esp };
        self.set_sp(esp);
        self.set_sp(self.sp_offset(imm));
        self.next_eip = off;
        self.null_outer_segments();
        Ok(())
    }

    /// Writes EFLAGS from an IRET or a task switch with the privilege rules of SDM Vol. 2A
    /// "IRET": IOPL only at CPL 0, IF only when CPL <= IOPL; VIF/VIP only at CPL 0.
    fn iret_flags(&mut self, v: u32, size: u32, old_cpl: u8) {
        let mut m = Eflags::STATUS | Eflags::TF | Eflags::DF | Eflags::NT;
        if size == 4 {
            m |= Eflags::RF | Eflags::AC | Eflags::ID;
        }
        if old_cpl <= self.flags.iopl() {
            m |= Eflags::IF;
        }
        if old_cpl == 0 {
            m |= Eflags::IOPL;
            if size == 4 {
                m |= Eflags::VIF | Eflags::VIP;
            }
        }
        self.flags.set_masked(v, m.bits());
    }

    /// IRET in protected mode and in virtual-8086 mode (SDM Vol. 2A "IRET").
    pub fn iret_protected<B: CpuBus>(&mut self, bus: &mut B, size: u32) -> Res<()> {
        if self.mode() == Mode::Virtual8086 {
            // With IOPL 3 the monitor lets the v86 task IRET itself, real-mode style, IOPL kept.
            let iopl = self.flags.iopl();
            if iopl < 3 {
                return Err(Fault::gp0(Why::Iopl { cpl: 3, iopl }));
            }
            let off = self.peek(bus, 0, size)?;
            let sel = self.peek(bus, size, size)? as u16;
            let fl = self.peek(bus, 2 * size, size)?;
            let off = if size == 2 { off & 0xFFFF } else { off };
            if off > 0xFFFF {
                return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: off, size: 1, limit: 0xFFFF }));
            }
            self.set_sp(self.sp_offset(3 * size));
            self.load_seg_v86(Seg::Cs, sel);
            self.invalidate_cursor();
            self.next_eip = off;
            let m = (Eflags::STATUS | Eflags::TF | Eflags::DF | Eflags::NT | Eflags::IF).bits()
                | if size == 4 { (Eflags::RF | Eflags::AC | Eflags::ID).bits() } else { 0 };
            self.flags.set_masked(fl, m);
            return Ok(());
        }
        if self.flags.get(Eflags::NT) {
            // Return from a nested task to the task named by the back link (SDM Vol. 3A §7.3).
            let link = self.sys_read16(bus, self.tr.base)?;
            return self.task_switch(bus, link, Transfer::Iret, self.next_eip);
        }
        let off = self.peek(bus, 0, size)?;
        let sel = self.peek(bus, size, size)? as u16;
        let fl = self.peek(bus, 2 * size, size)?;
        if size == 4 && fl & Eflags::VM.bits() != 0 && self.cpl == 0 {
            return self.iret_to_v86(bus, off, sel, fl);
        }
        let d = self.check_return_cs(bus, sel)?;
        let off = if size == 2 { off & 0xFFFF } else { off };
        if off > d.limit() {
            return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: off, size: 1, limit: d.limit() }));
        }
        let rpl = (sel & 3) as u8;
        let old_cpl = self.cpl;
        if rpl == old_cpl {
            self.set_sp(self.sp_offset(3 * size));
            self.load_cs_checked(bus, sel, d, rpl)?;
            self.next_eip = off;
            self.iret_flags(fl, size, old_cpl);
            return Ok(());
        }
        let esp = self.peek(bus, 3 * size, size)?;
        let ss = self.peek(bus, 4 * size, size)? as u16;
        let ssd = self.check_return_ss(bus, ss, rpl)?;
        self.set_accessed(bus, ss, ssd)?;
        self.load_cs_checked(bus, sel, d, rpl)?;
        self.seg[Seg::Ss as usize] = Descriptor(ssd.0 | 1 << 40).to_cache(ss);
        self.set_sp(if size == 2 { esp & 0xFFFF } else { esp });
        self.next_eip = off;
        self.iret_flags(fl, size, old_cpl);
        self.null_outer_segments();
        Ok(())
    }

    /// IRETD from CPL 0 with VM set in the popped EFLAGS: enter virtual-8086 mode
    /// (SDM Vol. 2A "IRET", RETURN-TO-VIRTUAL-8086-MODE; Vol. 3A §20.2.5).
    fn iret_to_v86<B: CpuBus>(&mut self, bus: &mut B, off: u32, sel: u16, fl: u32) -> Res<()> {
        let mut v = [0u32; 6];
        for (i, x) in v.iter_mut().enumerate() {
            *x = self.peek(bus, 12 + 4 * i as u32, 4)?;
        }
        let [esp, ss, es, ds, fs, gs] = v;
        // "IF instruction pointer not within code segment limits THEN #GP(0)", checked before
        // anything changes: a virtual-8086 CS has a 64 KiB limit, so an EIP above 0xFFFF cannot
        // be returned to; it is not wrapped to EIP AND 0xFFFF (SDM Vol. 2A "IRET",
        // RETURN-TO-VIRTUAL-8086-MODE; Bochs raises the same #GP(0)).
        if off > 0xFFFF {
            return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: off, size: 1, limit: 0xFFFF }));
        }
        self.flags.set_masked(fl, 0x003F_7FD5 | Eflags::VM.bits());
        self.load_seg_v86(Seg::Cs, sel);
        self.load_seg_v86(Seg::Ss, ss as u16);
        self.load_seg_v86(Seg::Es, es as u16);
        self.load_seg_v86(Seg::Ds, ds as u16);
        self.load_seg_v86(Seg::Fs, fs as u16);
        self.load_seg_v86(Seg::Gs, gs as u16);
        self.gpr[super::regs::ESP] = esp;
        self.cpl = 3;
        self.invalidate_cursor();
        self.next_eip = off;
        Ok(())
    }

    // ---- interrupts and exceptions in protected mode -------------------------------------

    /// Delivers vector `v` through the IDT (SDM Vol. 3A §6.10-6.12, §20.3 for virtual-8086).
    pub fn deliver_protected<B: CpuBus>(
        &mut self,
        bus: &mut B,
        v: u8,
        error: Option<u32>,
        software: bool,
        ret: u32,
    ) -> Res<()> {
        let ext = !software as u32;
        let idt_err = (v as u32) * 8 + 2 + ext;
        let gp_idt = |rule| Fault::with_error(vector::GP, idt_err, Why::Idt { vector: v, rule });
        if (v as u32) * 8 + 7 > self.idtr.limit as u32 {
            return Err(Fault::with_error(
                vector::GP,
                idt_err,
                Why::VectorBeyondTable { vector: v, limit: self.idtr.limit },
            ));
        }
        let addr = self.idtr.base.wrapping_add(v as u32 * 8);
        let gate =
            Descriptor(self.sys_read32(bus, addr)? as u64 | (self.sys_read32(bus, addr.wrapping_add(4))? as u64) << 32);
        let t = gate.sys_type();
        if gate.is_segment()
            || !matches!(
                t,
                systype::TASK_GATE
                    | systype::INT_GATE16
                    | systype::TRAP_GATE16
                    | systype::INT_GATE32
                    | systype::TRAP_GATE32
            )
        {
            return Err(gp_idt("IDT entry is not an interrupt, trap or task gate"));
        }
        let v86 = self.mode() == Mode::Virtual8086;
        if software && gate.dpl() < if v86 { 3 } else { self.cpl } {
            return Err(gp_idt("INT n, INT3 or INTO through a gate whose DPL is below the CPL"));
        }
        if !gate.present() {
            return Err(Fault::with_error(
                vector::NP,
                idt_err,
                Why::Idt { vector: v, rule: "gate not present (P = 0)" },
            ));
        }
        if t == systype::TASK_GATE {
            // A fault while switching to the handler task (before or after the commit point), or
            // while pushing the error code on its stack, happens during the delivery of this event:
            // its error code has EXT = 1 unless the event is INT n, INT3 or INTO (SDM Vol. 3A
            // §6.13, "EXT"; #PF error codes have no EXT bit).
            let with_ext = |f: Fault| match (f.vector, f.error) {
                (vector::TS | vector::NP | vector::SS | vector::GP, Some(e)) if ext != 0 => {
                    Fault { error: Some(e | 1), ..f }
                }
                _ => f,
            };
            self.task_switch(bus, gate.gate_selector(), Transfer::Int, ret).map_err(with_ext)?;
            if let Some(e) = error {
                let size = if self.tr.attr.typ() & 8 != 0 { 4 } else { 2 };
                self.push(bus, size, e).map_err(with_ext)?;
            }
            return Ok(());
        }
        let sel = gate.gate_selector();
        let gpe = |s: u16, rule| Fault::with_error(vector::GP, sel_err(s) | ext, Why::Selector { selector: s, rule });
        if sel & 0xFFFC == 0 {
            return Err(Fault::with_error(
                vector::GP,
                ext,
                Why::Selector { selector: sel, rule: "interrupt gate names a null code selector" },
            ));
        }
        let d = self.read_descriptor(bus, sel, gp).map_err(|f| {
            if f.vector == vector::GP { gpe(sel, "gate selector beyond the descriptor table") } else { f }
        })?;
        let cpl = if v86 { 3 } else { self.cpl };
        if !d.is_code() || d.dpl() > cpl {
            return Err(gpe(sel, "interrupt gate target must be a code segment with DPL <= CPL"));
        }
        if !d.present() {
            return Err(Fault::with_error(
                vector::NP,
                sel_err(sel) | ext,
                Why::Selector { selector: sel, rule: "handler code segment not present" },
            ));
        }
        let size = if t & 8 != 0 { 4 } else { 2 };
        let off = gate.gate_offset();
        if off > d.limit() {
            return Err(Fault::with_error(
                vector::GP,
                ext,
                Why::SegmentLimit { seg: Seg::Cs as u8, offset: off, size: 1, limit: d.limit() },
            ));
        }
        let eflags = self.flags.eflags();
        let old_cs = self.seg[Seg::Cs as usize].selector as u32;
        let snapshot = (self.seg, self.gpr[super::regs::ESP], self.cpl);
        let inner = !d.conforming() && d.dpl() < cpl;
        if v86 && (!inner || d.dpl() != 0) {
            return Err(gpe(sel, "an interrupt in virtual-8086 mode must go to a non-conforming ring-0 handler"));
        }
        // The stack of the handler's privilege level, from the TSS (checked before any push).
        let inner_ss = if inner { Some(self.inner_stack(bus, d.dpl(), !software)?) } else { None };
        let r = (|| {
            if let Some((ss, esp, ssd)) = inner_ss {
                let new_cpl = d.dpl();
                let old_ss = self.seg[Seg::Ss as usize].selector as u32;
                let old_esp = self.gpr[super::regs::ESP];
                self.cpl = new_cpl;
                self.seg[Seg::Ss as usize] = ssd.to_cache(ss);
                self.gpr[super::regs::ESP] = esp;
                if v86 {
                    for s in [Seg::Gs, Seg::Fs, Seg::Ds, Seg::Es] {
                        let v = self.seg[s as usize].selector as u32;
                        self.push(bus, size, v)?;
                    }
                }
                self.push(bus, size, old_ss)?;
                self.push(bus, size, old_esp)?;
            }
            self.push(bus, size, eflags)?;
            self.push(bus, size, old_cs)?;
            self.push(bus, size, ret)?;
            if let Some(e) = error {
                self.push(bus, size, e)?;
            }
            Ok(())
        })();
        if let Err(f) = r {
            (self.seg, self.gpr[super::regs::ESP], self.cpl) = snapshot;
            return Err(match inner_ss {
                Some((ss, ..)) => inner_stack_fault(f, ss, ext),
                None => f,
            });
        }
        if v86 {
            for s in [Seg::Es, Seg::Ds, Seg::Fs, Seg::Gs] {
                self.seg[s as usize] = Segment { selector: 0, base: 0, limit: 0, attr: SegAttr::empty() };
            }
        }
        let new_cpl = if inner { d.dpl() } else { cpl };
        self.load_cs_checked(bus, sel, d, new_cpl)?;
        let mut clear = Eflags::TF | Eflags::NT | Eflags::RF | Eflags::VM;
        if t == systype::INT_GATE16 || t == systype::INT_GATE32 {
            clear |= Eflags::IF;
        }
        self.flags.set_masked(0, clear.bits());
        self.eip = off;
        self.next_eip = off;
        Ok(())
    }

    // ---- tasks ------------------------------------------------------------------------

    /// Switches to the task whose TSS selector is `sel` (SDM Vol. 3A §7.3, Table 7-1 checks).
    /// `ret` is the EIP saved in the outgoing TSS.
    pub fn task_switch<B: CpuBus>(&mut self, bus: &mut B, sel: u16, kind: Transfer, ret: u32) -> Res<()> {
        // TSS descriptors may only be in the GDT: a TSS selector with TI = 1 is #GP(selector) for
        // JMP, CALL and task gates, #TS(selector) for an IRET back link (SDM Vol. 3A §7.2.2).
        if sel & 4 != 0 {
            let f = if kind == Transfer::Iret { ts } else { gp };
            return Err(f(sel, "a TSS selector must reference the GDT (TI = 0)"));
        }
        let nd = self.read_descriptor(bus, sel, if kind == Transfer::Iret { ts } else { gp })?;
        let t = nd.sys_type();
        let busy_ok = kind == Transfer::Iret;
        let right_type = if busy_ok {
            matches!(t, systype::TSS16_BUSY | systype::TSS32_BUSY)
        } else {
            matches!(t, systype::TSS16_AVAIL | systype::TSS32_AVAIL)
        };
        if nd.is_segment() || !right_type {
            let f = if busy_ok { ts } else { gp };
            return Err(f(
                sel,
                if busy_ok {
                    "IRET back link must name a busy TSS"
                } else {
                    "task switch target must be an available TSS"
                },
            ));
        }
        if !nd.present() {
            return Err(np(sel, "TSS not present"));
        }
        let new32 = t & 8 != 0;
        if nd.limit() < if new32 { 0x67 } else { 0x2B } {
            return Err(ts(sel, "TSS limit too small"));
        }
        // Save the outgoing task's state.
        let old = self.tr;
        let old32 = old.attr.typ() & 8 != 0;
        let mut eflags = self.flags.eflags();
        if kind == Transfer::Iret {
            eflags &= !Eflags::NT.bits();
        }
        let b = old.base;
        if old32 {
            self.sys_write32(bus, b.wrapping_add(0x20), ret)?;
            self.sys_write32(bus, b.wrapping_add(0x24), eflags)?;
            for i in 0..8 {
                self.sys_write32(bus, b.wrapping_add(0x28 + 4 * i), self.gpr[i as usize])?;
            }
            for (i, s) in Seg::ALL.iter().enumerate() {
                self.sys_write16(bus, b.wrapping_add(0x48 + 4 * i as u32), self.seg[*s as usize].selector)?;
            }
        } else {
            self.sys_write16(bus, b.wrapping_add(0x0E), ret as u16)?;
            self.sys_write16(bus, b.wrapping_add(0x10), eflags as u16)?;
            for i in 0..8 {
                self.sys_write16(bus, b.wrapping_add(0x12 + 2 * i), self.gpr[i as usize] as u16)?;
            }
            for (i, s) in [Seg::Es, Seg::Cs, Seg::Ss, Seg::Ds].iter().enumerate() {
                self.sys_write16(bus, b.wrapping_add(0x22 + 2 * i as u32), self.seg[*s as usize].selector)?;
            }
        }
        // Busy bits: JMP and IRET free the old task; CALL and INT nest the new one.
        if matches!(kind, Transfer::Jmp | Transfer::Iret) {
            self.set_tss_busy(bus, old.selector, false)?;
        }
        if kind != Transfer::Iret {
            self.set_tss_busy(bus, sel, true)?;
        }
        // Read the incoming task's state.
        let nb = nd.base();
        let mut regs = [0u32; 8];
        let mut sels = [0u16; 6];
        let (eip, mut nflags, ldt, cr3) = if new32 {
            for (i, r) in regs.iter_mut().enumerate() {
                *r = self.sys_read32(bus, nb.wrapping_add(0x28 + 4 * i as u32))?;
            }
            for (i, s) in sels.iter_mut().enumerate() {
                *s = self.sys_read16(bus, nb.wrapping_add(0x48 + 4 * i as u32))?;
            }
            (
                self.sys_read32(bus, nb.wrapping_add(0x20))?,
                self.sys_read32(bus, nb.wrapping_add(0x24))?,
                self.sys_read16(bus, nb.wrapping_add(0x60))?,
                Some(self.sys_read32(bus, nb.wrapping_add(0x1C))?),
            )
        } else {
            for (i, r) in regs.iter_mut().enumerate() {
                *r = (self.gpr[i] & 0xFFFF_0000) | self.sys_read16(bus, nb.wrapping_add(0x12 + 2 * i as u32))? as u32;
            }
            for (i, s) in [0usize, 1, 2, 3].iter().enumerate() {
                sels[*s] = self.sys_read16(bus, nb.wrapping_add(0x22 + 2 * i as u32))?;
            }
            (
                self.sys_read16(bus, nb.wrapping_add(0x0E))? as u32,
                self.sys_read16(bus, nb.wrapping_add(0x10))? as u32
                    | (self.flags.eflags() & 0xFFFF_0000 & !Eflags::VM.bits()),
                self.sys_read16(bus, nb.wrapping_add(0x2A))?,
                None,
            )
        };
        // The T (debug trap) flag of a 32-bit TSS, bit 0 of the word at 0x64 (SDM Vol. 3A §7.2.1).
        let debug_trap = new32 && self.sys_read16(bus, nb.wrapping_add(0x64))? & 1 != 0;
        if matches!(kind, Transfer::Call | Transfer::Int) {
            nflags |= Eflags::NT.bits();
            self.sys_write16(bus, nb, old.selector)?;
        }
        // Commit: from here on, faults belong to the new task (SDM Vol. 3A §7.3 step 11-12).
        // TR caches the new TSS, marked busy (type bit 1).
        self.tr = nd.to_cache(sel);
        self.tr.attr = SegAttr::from_bits_retain(self.tr.attr.bits() | 2);
        if let Some(cr3) = cr3 {
            // A 32-bit TSS switches the address space too (PDPTEs reloaded under PAE).
            self.load_cr3(bus, cr3)?;
        }
        self.gpr = regs;
        self.flags.set_masked(nflags, 0x003F_7FD5);
        if self.flags.get(Eflags::VM) {
            // Virtual-8086 code always runs at CPL 3 (SDM Vol. 3A §20.2.1). Set it with EFLAGS, so
            // that a fault while loading the LDT below is delivered from a consistent
            // virtual-8086 state (as Bochs does), not from VM = 1 at the old CPL.
            self.cpl = 3;
        }
        self.cr0.insert(super::Cr0::TS);
        // DR7's local breakpoint enables L0-L3 (bits 0, 2, 4, 6) and LE (bit 8) belong to the old
        // task: the processor clears them on every task switch (SDM Vol. 3A §17.2.4).
        self.dr[7] &= !0x155;
        self.eip = eip;
        self.next_eip = eip;
        self.invalidate_cursor();
        // LDT, then segment registers, each with #TS on failure.
        self.load_ldt_task(bus, ldt)?;
        if self.flags.get(Eflags::VM) {
            for (i, s) in Seg::ALL.iter().enumerate() {
                self.load_seg_v86(*s, sels[i]);
            }
            self.cpl = 3;
            self.task_debug_trap(debug_trap);
            return Ok(());
        }
        let cs = sels[Seg::Cs as usize];
        let csd = if cs & 0xFFFC == 0 {
            return Err(ts(cs, "new task's CS is null"));
        } else {
            self.read_descriptor(bus, cs, ts)?
        };
        if !csd.is_code() {
            return Err(ts(cs, "new task's CS is not a code segment"));
        }
        // The new CPL is the CS selector's RPL, and the code segment must agree with it: DPL = RPL
        // for non-conforming code, DPL <= RPL for conforming code, else #TS(CS) (SDM Vol. 3A
        // Table 7-1, "code segment DPL matches segment selector RPL"; Bochs task_switch does the
        // same). Without it a task could run a ring-0 code segment at CPL 3.
        let cpl = (cs & 3) as u8;
        if csd.conforming() && csd.dpl() > cpl {
            return Err(ts(cs, "new task's CS is conforming code with DPL > the selector's RPL"));
        }
        if !csd.conforming() && csd.dpl() != cpl {
            return Err(ts(cs, "new task's CS is non-conforming code whose DPL differs from the selector's RPL"));
        }
        if !csd.present() {
            return Err(np(cs, "new task's code segment not present"));
        }
        self.load_cs_checked(bus, cs, csd, cpl)?;
        for s in [Seg::Ss, Seg::Ds, Seg::Es, Seg::Fs, Seg::Gs] {
            let v = sels[s as usize];
            self.load_seg_protected(bus, s, v).map_err(|f| {
                if f.vector == vector::GP { ts(v, "new task's segment register fails its load checks") } else { f }
            })?;
        }
        self.task_debug_trap(debug_trap);
        Ok(())
    }

    /// A switch to a task whose TSS has T = 1 raises #DB with DR6.BT (bit 15) once control has
    /// passed to the new task, before its first instruction executes (SDM Vol. 3A §17.3.1.5).
    /// It goes through the debug-trap path that [`Cpu::step`] takes after the instruction that
    /// switched tasks (JMP, CALL, IRET, INT n). A switch made while delivering an exception or a
    /// hardware interrupt has no instruction to complete: its #DB comes after the new task's first
    /// instruction instead (a known approximation).
    fn task_debug_trap(&mut self, t: bool) {
        if t {
            self.pending_db |= 1 << 15;
        }
    }

    fn set_tss_busy<B: CpuBus>(&mut self, bus: &mut B, sel: u16, busy: bool) -> Res<()> {
        if let Some(addr) = self.descriptor_addr(sel) {
            let b = self.sys_read8(bus, addr.wrapping_add(5))?;
            let nb = if busy { b | 2 } else { b & !2 };
            self.sys_write8(bus, addr.wrapping_add(5), nb)?;
        }
        Ok(())
    }

    fn load_ldt_task<B: CpuBus>(&mut self, bus: &mut B, sel: u16) -> Res<()> {
        if sel & 0xFFFC == 0 {
            self.ldtr = Segment { selector: sel, base: 0, limit: 0, attr: SegAttr::empty() };
            return Ok(());
        }
        if sel & 4 != 0 {
            return Err(ts(sel, "LDT selector must reference the GDT"));
        }
        let d = self.read_descriptor(bus, sel, ts)?;
        if d.is_segment() || d.sys_type() != systype::LDT {
            return Err(ts(sel, "new task's LDT selector does not name an LDT descriptor"));
        }
        if !d.present() {
            return Err(ts(sel, "new task's LDT not present"));
        }
        self.ldtr = d.to_cache(sel);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_fields() {
        // Flat 4 GiB ring-0 code: base 0, limit FFFFF, G=1, D=1, type A (exec/read), P, DPL 0.
        let d = Descriptor(0x00CF_9A00_0000_FFFF);
        assert_eq!(d.base(), 0);
        assert_eq!(d.limit(), 0xFFFF_FFFF);
        assert!(d.is_code() && d.readable() && !d.conforming() && d.present());
        assert_eq!(d.dpl(), 0);
        assert!(d.attr().contains(SegAttr::DB));
        // Ring-3 data at base 0x12345678, byte-granular limit 0x1234.
        let d = Descriptor(0x1240_F234_5678_1234);
        assert_eq!(d.base(), 0x1234_5678);
        assert_eq!(d.limit(), 0x1234);
        assert!(d.writable_data());
        assert_eq!(d.dpl(), 3);
    }

    #[test]
    fn gate_fields() {
        // 32-bit interrupt gate to 0008:12345678, DPL 3.
        let d = Descriptor(0x1234_EE00_0008_5678);
        assert_eq!(d.sys_type(), systype::INT_GATE32);
        assert_eq!(d.gate_selector(), 8);
        assert_eq!(d.gate_offset(), 0x1234_5678);
        assert_eq!(d.dpl(), 3);
        // 16-bit call gate with 3 parameters.
        let d = Descriptor(0x0000_8403_0010_0100);
        assert_eq!(d.sys_type(), systype::CALL_GATE16);
        assert_eq!(d.param_count(), 3);
        assert_eq!(d.gate_offset(), 0x100);
    }
}
