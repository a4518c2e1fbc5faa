//! `explain`: the last exception (or interrupt) in words — the vector and its name, whether it
//! is a fault, trap or abort, the error code decoded, the rule that failed (the fault's
//! [`Why`]) with the descriptor or page-table entries involved, CPL/DPL/RPL, and the section of
//! the Intel SDM that states the rule.

use super::info::{descriptor_words, selector_words};
use super::memory::{entry_words, explain_pf_bits, pf_short, walk};
use super::{Debugger, Event};
use crate::cpu::access::Access;
use crate::cpu::fault::{Why, vector, vector_description, vector_name};
use crate::cpu::paging::{Level, pte};
use crate::cpu::regs::Seg;

/// Fault, trap or abort (SDM Vol. 3A Table 6-1); #DB depends on its cause.
fn class(v: u8, why: &Why) -> &'static str {
    match v {
        vector::DB => match why {
            Why::Debug { dr6 } if dr6 & 0x4000 != 0 => "trap",
            Why::Debug { dr6 } if dr6 & 0xF != 0 => "fault (instruction breakpoint) or trap (data breakpoint)",
            _ => "trap",
        },
        vector::BP | vector::OF => "trap",
        vector::NMI => "interrupt",
        vector::DF | vector::MC => "abort",
        _ => "fault",
    }
}

fn seg_name(seg: u8) -> &'static str {
    Seg::ALL.get(seg as usize).map_or("?", |s| s.name())
}

/// Where the SDM states the rule.
fn sdm_section(v: u8, why: &Why, real: bool) -> &'static str {
    match why {
        Why::Page { .. } => "Intel SDM Vol. 3A 4.6 (access rights) and 4.7 (page-fault exceptions)",
        Why::SegmentLimit { .. } if real => "Intel SDM Vol. 3A 20.1.1 (the 64 KiB real-mode limit) and 5.3",
        Why::SegmentLimit { .. } => "Intel SDM Vol. 3A 5.3 (limit checking)",
        Why::ExpandDown { .. } => "Intel SDM Vol. 3A 3.4.5.1 (expand-down segments) and 5.3",
        Why::NullSegment { .. } => "Intel SDM Vol. 3A 3.4.2 (null segment selectors)",
        Why::SegmentRights { .. } => "Intel SDM Vol. 3A 5.4.1 (type checking)",
        Why::Selector { .. } => {
            "Intel SDM Vol. 3A 5.4-5.8 (type and privilege checks) and the instruction's pseudo-code in Vol. 2"
        }
        Why::Idt { .. } => "Intel SDM Vol. 3A 6.11-6.12 (IDT descriptors, exception and interrupt handling)",
        Why::IoDenied { .. } => "Intel SDM Vol. 1 18.5 (I/O permission bit map)",
        Why::Iopl { .. } => "Intel SDM Vol. 1 18.2 (I/O privilege level)",
        Why::InnerStack { .. } => "Intel SDM Vol. 3A 6.12.1 (stack switch) and Vol. 2A CALL/INT n",
        Why::Alignment { .. } => "Intel SDM Vol. 3A 6.15, Interrupt 17 (alignment check)",
        Why::Privileged { .. } => "Intel SDM Vol. 3A 5.9 (privileged instructions)",
        Why::Debug { .. } => "Intel SDM Vol. 3A 17.2-17.3 (debug registers, debug exceptions)",
        Why::DivideError { .. } => "Intel SDM Vol. 2A DIV/IDIV; Vol. 3A 6.15, Interrupt 0",
        Why::BoundRange { .. } => "Intel SDM Vol. 2A BOUND; Vol. 3A 6.15, Interrupt 5",
        Why::InvalidOpcode | Why::BadLock => "Intel SDM Vol. 3A 6.15, Interrupt 6 (invalid opcode)",
        Why::DoubleFault { .. } => "Intel SDM Vol. 3A 6.15, Interrupt 8, Table 6-5 (double-fault conditions)",
        Why::VectorBeyondTable { .. } if real => "Intel SDM Vol. 3A 20.1.4 (interrupt vector table)",
        Why::VectorBeyondTable { .. } => "Intel SDM Vol. 3A 6.10 (the IDT limit)",
        Why::TooLong => "Intel SDM Vol. 2A 2.3.11 (instruction length limit)",
        Why::Overflow | Why::Breakpoint => "Intel SDM Vol. 2A INT n/INTO/INT3",
        _ => match v {
            vector::PF => "Intel SDM Vol. 3A 4.7",
            vector::GP => "Intel SDM Vol. 3A 6.15, Interrupt 13",
            _ => "Intel SDM Vol. 3A 6.15 (exception and interrupt reference)",
        },
    }
}

/// A selector-style error code in words (SDM Vol. 3A 6.13, Figure 6-6).
fn selector_error_words(e: u32) -> String {
    let ext = e & 1;
    let idt = (e >> 1) & 1;
    let ti = (e >> 2) & 1;
    let index = (e >> 3) & 0x1FFF;
    let table = if idt == 1 {
        "IDT=1: the index is an IDT vector".to_string()
    } else if ti == 1 {
        "IDT=0, TI=1: an LDT selector".to_string()
    } else {
        "IDT=0, TI=0: a GDT selector".to_string()
    };
    format!(
        "error code {e:#x}: index {index:#x}, {table}, EXT={ext} ({})",
        if ext == 1 {
            "the event that led here was external to the program (a hardware interrupt or an earlier exception)"
        } else {
            "caused by the program itself"
        }
    )
}

impl Debugger {
    /// `explain`.
    pub fn explain(&self) -> String {
        let cpu = &self.m.cpu;
        let mut out = String::new();
        // An interrupt more recent than the last exception is explained first.
        if let Some((ic, Event::Interrupt { vector, external })) = &self.last_event
            && cpu.last_fault.is_none_or(|f| f.icount < *ic)
        {
            out.push_str(&self.explain_interrupt(*vector, *external));
            if cpu.last_fault.is_some() {
                out.push_str("\nThe last exception before it:\n");
            } else {
                return out;
            }
        }
        let Some(rec) = cpu.last_fault else {
            out.push_str("no exception has been raised since the machine started\n");
            return out;
        };
        let f = rec.fault;
        let v = f.vector;
        let real = matches!(f.why, Why::SegmentLimit { .. } | Why::VectorBeyondTable { .. })
            && cpu.mode() == crate::cpu::Mode::Real;
        let cls = class(v, &f.why);
        out.push_str(&format!(
            "{} ({}), vector {v}, a {cls}: raised at {:04x}:{:08x} at CPL {}, instruction #{}\n",
            vector_name(v),
            vector_description(v),
            rec.cs,
            rec.eip,
            rec.cpl,
            rec.icount
        ));
        if cls == "fault" {
            out.push_str(
                "  The saved CS:EIP points at the faulting instruction: it runs again when the handler returns.\n",
            );
        } else if cls == "trap" {
            out.push_str(
                "  The saved CS:EIP points at the next instruction: a trap is reported after the instruction.\n",
            );
        } else if cls == "abort" {
            out.push_str("  An abort: the program cannot be restarted reliably.\n");
        }

        // The sentence: what happened and the rule.
        let sentence = self.why_sentence(&rec, &f.why);
        let code = match (v, f.error) {
            (vector::PF, Some(e)) => format!("; error code {e:#x} = {}", pf_short(e)),
            (_, Some(e)) => format!("; error code {e:#x}"),
            _ => String::new(),
        };
        out.push_str(&format!("{sentence}{code}. {}\n", sdm_section(v, &f.why, real)));

        // The error code in detail.
        if let Some(e) = f.error {
            match v {
                vector::PF => out.push_str(&format!("  error code {e:#x}: {}\n", explain_pf_bits(e))),
                vector::DF | vector::AC => {
                    out.push_str(&format!("  error code {e:#x}: always 0 for {}\n", vector_name(v)))
                }
                _ if e == 0 => out
                    .push_str("  error code 0: no selector is involved (a check on an offset, a register or a rule)\n"),
                _ => out.push_str(&format!("  {}\n", selector_error_words(e))),
            }
        }
        // The structures involved.
        out.push_str(&self.why_details(&rec, &f.why));
        out
    }

    fn explain_interrupt(&self, v: u8, external: bool) -> String {
        let mut out = String::new();
        if external {
            let p = &self.m.bus.pic;
            let irq = if v.wrapping_sub(p.master.vector_base) < 8 {
                Some(v - p.master.vector_base)
            } else if v.wrapping_sub(p.slave.vector_base) < 8 {
                Some(8 + v - p.slave.vector_base)
            } else {
                None
            };
            out.push_str(&format!(
                "interrupt {v:#04x}: an external (hardware) interrupt{}, acknowledged by the CPU because EFLAGS.IF was 1; it is delivered between instructions (Intel SDM Vol. 3A 6.3.1, 6.8.1)\n",
                irq.map(|i| format!(" from the PIC, IRQ{i}")).unwrap_or_default()
            ));
        } else {
            out.push_str(&format!(
                "interrupt {v:#04x}: a software interrupt (INT n). In protected mode the gate's DPL must be >= CPL (Intel SDM Vol. 2A INT n, Vol. 3A 6.12.1.1)\n"
            ));
        }
        out.push_str(&self.gate_words(v));
        out
    }

    /// How vector `v` is delivered: the IVT entry or the IDT gate.
    fn gate_words(&self, v: u8) -> String {
        let cpu = &self.m.cpu;
        if cpu.mode() == crate::cpu::Mode::Real {
            let a = cpu.idtr.base.wrapping_add(v as u32 * 4);
            return match self.read_mem(super::Space::Linear, a, 4) {
                Ok(b) => format!(
                    "  IVT entry {v:#04x} at {a:#07x}: handler {:04x}:{:04x}\n",
                    u16::from_le_bytes([b[2], b[3]]),
                    u16::from_le_bytes([b[0], b[1]])
                ),
                Err(e) => format!("  IVT entry {v:#04x}: {e}\n"),
            };
        }
        let off = v as u32 * 8;
        if off + 7 > cpu.idtr.limit as u32 {
            return format!("  IDT entry {v:#04x} lies beyond the IDT limit {:#x}\n", cpu.idtr.limit);
        }
        match self.read_mem(super::Space::Linear, cpu.idtr.base.wrapping_add(off), 8) {
            Ok(b) => {
                let d = crate::cpu::segment::Descriptor(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
                format!("  IDT entry {v:#04x}: {}\n", descriptor_words(d))
            }
            Err(e) => format!("  IDT entry {v:#04x}: {e}\n"),
        }
    }

    /// One sentence: what was attempted and which rule refused it.
    fn why_sentence(&self, rec: &crate::cpu::FaultRecord, why: &Why) -> String {
        let name = vector_name(rec.fault.vector);
        match *why {
            Why::Page { linear, error } => {
                let who = if error & 4 != 0 {
                    format!("a user-mode (CPL {}) ", rec.cpl)
                } else {
                    format!("a supervisor-mode (CPL {}) ", rec.cpl)
                };
                let what = if error & 2 != 0 { "write" } else { "read or instruction fetch" };
                let acc = if error & 2 != 0 { Access::Write } else { Access::Read };
                let r = walk(&self.m, linear, acc, error & 4 != 0);
                let rule = match (&r.result, error & 1, error & 8) {
                    (_, _, 8) => "to a page whose paging entry sets a reserved bit".to_string(),
                    (_, 0, _) => {
                        let lvl = r.levels().last().map(|l| l.level.name()).unwrap_or("entry");
                        format!("to a page that is not present (the {lvl} has P=0)")
                    }
                    _ => {
                        // Find which level refused.
                        let mut s = String::new();
                        for l in r.levels() {
                            if l.level == Level::Pdpte {
                                continue;
                            }
                            if error & 4 != 0 && l.entry & pte::US == 0 {
                                s = format!("to a page whose {} has U/S=0 (supervisor only)", l.level.name());
                                break;
                            }
                            if error & 2 != 0 && l.entry & pte::RW == 0 {
                                s = format!("to a page whose {} has R/W=0 (read-only)", l.level.name());
                                break;
                            }
                        }
                        if s.is_empty() {
                            s = if error & 2 != 0 && error & 4 == 0 {
                                "to a read-only page while CR0.WP=1".to_string()
                            } else {
                                "refused by the page's access rights (the tables have changed since)".to_string()
                            };
                        }
                        s
                    }
                };
                format!("{name} at {linear:#010x}: {who}{what} {rule}")
            }
            Why::SegmentLimit { seg, offset, size, limit } => format!(
                "{name}: a {size}-byte access at {}:{offset:#x} reaches past the segment limit {limit:#x}",
                seg_name(seg)
            ),
            Why::ExpandDown { seg, offset, size, limit, upper } => format!(
                "{name}: a {size}-byte access at {}:{offset:#x} lies outside the expand-down segment's valid offsets {:#x}..={upper:#x}",
                seg_name(seg),
                limit.wrapping_add(1)
            ),
            Why::NullSegment { seg } => format!(
                "{name}: an access through {}, which holds a null selector (loading one is allowed, using it is not)",
                seg_name(seg)
            ),
            Why::SegmentRights { seg, selector, write, code } => format!(
                "{name}: a {} through {} = {selector:#06x}, {}",
                if write { "write" } else { "read" },
                seg_name(seg),
                match (write, code) {
                    (true, true) => "a code segment (code is never writable)",
                    (true, false) => "a read-only data segment",
                    _ => "an execute-only code segment",
                }
            ),
            Why::Selector { selector, rule } => format!("{name}: selector {}: {rule}", selector_words(selector)),
            Why::Idt { vector, rule } => format!("{name}: delivering vector {vector:#04x} through the IDT: {rule}"),
            Why::IoDenied { port, size, cpl, iopl, bitmap } => format!(
                "{name}: a {size}-byte I/O access to port {port:#06x} at CPL {cpl} > IOPL {iopl}, {}",
                if bitmap {
                    "and the TSS I/O permission bitmap has a 1 bit for it"
                } else {
                    "and the TSS has no I/O permission bitmap covering it"
                }
            ),
            Why::Iopl { cpl, iopl } => {
                format!("{name}: an IOPL-sensitive instruction (CLI, STI, IN, OUT, ...) at CPL {cpl} > IOPL {iopl}")
            }
            Why::Privileged { cpl } => format!("{name}: a privileged instruction at CPL {cpl} (only CPL 0 may run it)"),
            Why::InnerStack { selector, offset, limit } => format!(
                "{name}: a push at offset {offset:#x} of the inner stack {} (from the TSS) is beyond its limit {limit:#x}",
                selector_words(selector)
            ),
            Why::Alignment { linear, size } => format!(
                "{name}: a {size}-byte access at {linear:#010x} is misaligned, at CPL 3 with CR0.AM=1 and EFLAGS.AC=1"
            ),
            Why::Debug { dr6 } => {
                let mut c = Vec::new();
                for i in 0..4 {
                    if dr6 & (1 << i) != 0 {
                        c.push(format!("breakpoint DR{i}"));
                    }
                }
                if dr6 & (1 << 14) != 0 {
                    c.push("single step (EFLAGS.TF)".into());
                }
                if dr6 & (1 << 15) != 0 {
                    c.push("task switch (TSS T flag)".into());
                }
                format!("{name}: a debug exception: {} (DR6={dr6:#x})", c.join(", "))
            }
            Why::DivideError { divisor_zero } => format!(
                "{name}: {}",
                if divisor_zero { "DIV/IDIV by zero" } else { "DIV/IDIV quotient too large for the destination" }
            ),
            Why::BoundRange { index, lower, upper } => {
                format!("{name}: BOUND found the index {index} outside [{lower}, {upper}]")
            }
            Why::InvalidOpcode => {
                let bytes = self.code_bytes(self.m.cpu.seg[Seg::Cs as usize].base.wrapping_add(rec.eip));
                let hex: Vec<String> = bytes[..6].iter().map(|b| format!("{b:02x}")).collect();
                format!(
                    "{name}: the bytes at {:04x}:{:08x} ({} ...) are not a valid instruction in this mode (or one x86lab does not implement)",
                    rec.cs,
                    rec.eip,
                    hex.join(" ")
                )
            }
            Why::BadLock => format!("{name}: a LOCK prefix on an instruction that cannot be locked"),
            Why::TooLong => format!("{name}: the instruction is longer than 15 bytes"),
            Why::VectorBeyondTable { vector, limit } => {
                format!("{name}: vector {vector:#04x} lies beyond the interrupt table's limit {limit:#x}")
            }
            Why::DoubleFault { first, second } => format!(
                "{name}: {} was raised while delivering {}, and that pair cannot be handled one after the other",
                vector_name(second),
                vector_name(first)
            ),
            Why::Overflow => format!("{name}: INTO with OF=1"),
            Why::Breakpoint => format!("{name}: an INT3 instruction"),
            Why::Rule(r) => format!("{name}: {r}"),
            Why::Unspecified => format!("{name}: no reason was recorded"),
        }
    }

    /// The descriptor, gate or page-table entries the rule looked at.
    fn why_details(&self, rec: &crate::cpu::FaultRecord, why: &Why) -> String {
        let cpu = &self.m.cpu;
        let mut out = String::new();
        match *why {
            Why::Page { linear, error } => {
                let acc = if error & 2 != 0 { Access::Write } else { Access::Read };
                let r = walk(&self.m, linear, acc, error & 4 != 0);
                out.push_str(&format!(
                    "  CR2={:#010x}; the walk as the tables are now (CR3={:#010x}):\n",
                    cpu.cr2, cpu.cr3
                ));
                for l in r.levels() {
                    out.push_str(&format!(
                        "    {} [{}] at {:#010x} = {:#x}: {}\n",
                        l.level.name(),
                        l.index,
                        l.addr,
                        l.entry,
                        entry_words(l.level, l.entry)
                    ));
                }
                out.push_str("  Try `translate ADDR user write` to walk any address.\n");
            }
            Why::Selector { selector, .. } => {
                let rpl = selector & 3;
                match self.descriptor(selector) {
                    Ok(d) if selector & !3 != 0 => out.push_str(&format!(
                        "  descriptor {}: {}\n  CPL {} (at the fault), RPL {rpl}, DPL {}\n",
                        selector_words(selector),
                        descriptor_words(d),
                        rec.cpl,
                        d.dpl()
                    )),
                    Ok(_) => out.push_str(&format!("  a null selector; CPL {}, RPL {rpl}\n", rec.cpl)),
                    Err(e) => out.push_str(&format!("  {e}; CPL {}, RPL {rpl}\n", rec.cpl)),
                }
            }
            Why::SegmentLimit { seg, .. }
            | Why::ExpandDown { seg, .. }
            | Why::NullSegment { seg }
            | Why::SegmentRights { seg, .. } => {
                if let Some(s) = Seg::ALL.get(seg as usize) {
                    let r = &cpu.seg[*s as usize];
                    out.push_str(&format!(
                        "  {} now: selector {:#06x}, base={:#010x} limit={:#010x}, DPL {} (CPL at the fault {})\n",
                        s.name(),
                        r.selector,
                        r.base,
                        r.limit,
                        r.attr.dpl(),
                        rec.cpl
                    ));
                }
            }
            Why::Idt { vector, .. } => out.push_str(&self.gate_words(vector)),
            Why::IoDenied { port, .. } => {
                let tr = &cpu.tr;
                if let Ok(b) = self.read_mem(super::Space::Linear, tr.base.wrapping_add(102), 2) {
                    let map = u16::from_le_bytes([b[0], b[1]]) as u32;
                    let byte = map + port as u32 / 8;
                    out.push_str(&format!(
                        "  TSS at {:#010x}: I/O map base {map:#x}; port {port:#x} is bit {} of byte {byte:#x} (TSS limit {:#x})\n",
                        tr.base,
                        port % 8,
                        tr.limit
                    ));
                }
            }
            Why::DoubleFault { first, .. } => {
                out.push_str(&format!("  The first exception was {}; see its handler:\n", vector_name(first)));
                out.push_str(&self.gate_words(first));
            }
            _ => {}
        }
        if let Some(ev) =
            self.history.iter().rev().find(|h| h.events.iter().any(|e| matches!(e, Event::Exception { .. })))
        {
            let _ = ev;
        }
        out
    }
}
