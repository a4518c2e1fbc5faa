//! Delivering interrupts and exceptions.
//!
//! - Real mode and virtual-8086 through the IVT (SDM Vol. 3A §20.1.4): push FLAGS, CS, IP; clear
//!   IF, TF, AC; load CS:IP from the 4-byte vector at IDTR.base + 4 * vector.
//! - Protected mode through the IDT: interrupt, trap and task gates (SDM Vol. 3A §6.10-6.12).
//! - Exception classes and the double-fault rule (SDM Vol. 3A §6.15, Table 6-5): a contributory
//!   exception during delivery of a contributory one, or a page fault or contributory exception
//!   during delivery of a page fault, becomes #DF; a fault while delivering #DF shuts the CPU
//!   down (triple fault). Other combinations are handled one after the other.

use super::fault::{Fault, Res, Why, vector};
use super::flags::Eflags;
use super::regs::Seg;
use super::{Cpu, CpuBus, FaultRecord, Mode};

/// EDX after RESET and the CPUID signature: family 6, model 1, stepping 9 (a P6-class CPU).
pub const CPU_SIGNATURE: u32 = 0x0000_0619;

/// How an event entered the CPU; decides the return EIP, the error code and privilege checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An exception raised by the CPU, with an optional error code.
    Exception(Option<u32>),
    /// INT n, INT3, INTO (checked against the gate's DPL in protected mode).
    Software,
    /// INTR from the interrupt controller, or NMI.
    External,
}

fn contributory(v: u8) -> bool {
    matches!(v, vector::DE | vector::TS | vector::NP | vector::SS | vector::GP)
}

/// Exceptions of the fault class (SDM Vol. 3A Table 6-1): the saved EIP is the faulting
/// instruction, which restarts. (#DB is a fault only for instruction breakpoints, and is not
/// counted here: see [`exception`].)
fn fault_class(v: u8) -> bool {
    matches!(
        v,
        vector::DE
            | vector::BR
            | vector::UD
            | vector::NM
            | vector::TS
            | vector::NP
            | vector::SS
            | vector::GP
            | vector::PF
            | vector::MF
            | vector::AC
            | vector::XM
    )
}

/// Delivers an exception raised by the instruction at `cpu.eip` (faults restart it).
pub fn exception<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, f: Fault) {
    cpu.invalidate_cursor();
    let ret = cpu.eip;
    // "For any fault-class exception except a debug exception generated in response to an
    // instruction breakpoint, the value pushed for RF is 1" (SDM Vol. 3A §17.3.1.1): the handler's
    // IRET then restarts the instruction without hitting its instruction breakpoint again. The
    // delivery clears RF for the handler itself.
    let rf = cpu.flags.get(Eflags::RF);
    if fault_class(f.vector) && cpu.mode() != Mode::Real {
        cpu.flags.set(Eflags::RF, true);
    }
    if let Err(second) = deliver(cpu, bus, f.vector, Source::Exception(f.error), ret) {
        cpu.flags.set(Eflags::RF, rf);
        if f.vector == vector::DF {
            triple_fault(cpu, f, second);
            return;
        }
        let first = f.vector;
        let df = (contributory(first) && contributory(second.vector))
            || (first == vector::PF && (contributory(second.vector) || second.vector == vector::PF));
        if df {
            let d = Fault::with_error(vector::DF, 0, Why::DoubleFault { first, second: second.vector });
            cpu.last_fault = Some(FaultRecord {
                fault: d,
                cs: cpu.seg[Seg::Cs as usize].selector,
                eip: cpu.eip,
                cpl: cpu.cpl,
                icount: cpu.icount,
            });
            log::debug!("{d}");
            if let Err(third) = deliver(cpu, bus, vector::DF, Source::Exception(Some(0)), ret) {
                triple_fault(cpu, d, third);
            }
        } else {
            cpu.raise(bus, second);
        }
    }
}

fn triple_fault(cpu: &mut Cpu, first: Fault, second: Fault) {
    log::warn!(
        "triple fault: {second} while delivering {first} at {:04x}:{:08x}; the CPU shuts down",
        cpu.seg[Seg::Cs as usize].selector,
        cpu.eip
    );
    cpu.shutdown = true;
    cpu.break_loop = true;
}

/// Delivers an external interrupt (vector from the interrupt controller).
pub fn external<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, v: u8) {
    cpu.interrupt_counts[v as usize] += 1;
    cpu.invalidate_cursor();
    let ret = cpu.eip;
    if let Err(f) = deliver(cpu, bus, v, Source::External, ret) {
        cpu.raise(bus, f);
    }
}

/// INT n / INT3 / INTO: the return address is the next instruction. A fault during delivery is
/// reported against the INT instruction.
pub fn software<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, v: u8) -> Res<()> {
    cpu.interrupt_counts[v as usize] += 1;
    cpu.invalidate_cursor();
    let ret = cpu.next_eip;
    deliver(cpu, bus, v, Source::Software, ret)
}

/// INT1 (ICEBP, opcode F1): a #DB trap whose return address is the next instruction. Unlike
/// INT n, INT3 and INTO it is not a software interrupt: the gate's DPL is not checked and a
/// fault during its delivery has EXT = 1, as for a #DB the hardware raises (SDM Vol. 2A
/// "INT n/INTO/INT3/INT1": the DPL check applies to INT n, INT3 and INTO only; Vol. 3A §6.12.1.1).
/// DR6 is left alone.
pub fn icebp<B: CpuBus>(cpu: &mut Cpu, bus: &mut B) -> Res<()> {
    cpu.interrupt_counts[vector::DB as usize] += 1;
    cpu.invalidate_cursor();
    let ret = cpu.next_eip;
    deliver(cpu, bus, vector::DB, Source::Exception(None), ret)
}

/// The #DB trap after an instruction: single-step (TF was set when it began; DR6.BS) and/or a
/// data breakpoint hit (DR6.B0-B3 already set) (SDM Vol. 3A §17.3.1.2, §17.3.1.4).
pub fn debug_trap<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, single_step: bool) {
    if single_step {
        cpu.dr[6] |= 1 << 14;
    }
    cpu.invalidate_cursor();
    let ret = cpu.eip;
    cpu.last_fault = Some(FaultRecord {
        fault: Fault::new(vector::DB, Why::Debug { dr6: cpu.dr[6] }),
        cs: cpu.seg[Seg::Cs as usize].selector,
        eip: cpu.eip,
        cpl: cpu.cpl,
        icount: cpu.icount,
    });
    if let Err(f) = deliver(cpu, bus, vector::DB, Source::Exception(None), ret) {
        cpu.raise(bus, f);
    }
}

/// Transfers control to the handler of vector `v`. On success CS:EIP point at the handler and
/// `next_eip` equals EIP.
pub fn deliver<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, v: u8, src: Source, ret: u32) -> Res<()> {
    match cpu.mode() {
        Mode::Real => deliver_real(cpu, bus, v, ret),
        Mode::Protected | Mode::Virtual8086 => deliver_protected(cpu, bus, v, src, ret),
    }
}

/// Real-mode delivery through the interrupt vector table (SDM Vol. 3A §20.1.4).
fn deliver_real<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, v: u8, ret: u32) -> Res<()> {
    let entry = (v as u32) * 4;
    if entry + 3 > cpu.idtr.limit as u32 {
        return Err(Fault::gp0(Why::VectorBeyondTable { vector: v, limit: cpu.idtr.limit }));
    }
    let base = cpu.idtr.base.wrapping_add(entry);
    let ip = cpu.read_lin16(bus, base)?;
    let cs = cpu.read_lin16(bus, base.wrapping_add(2))?;
    // All three pushes are checked before any register changes (a fault here restarts cleanly).
    let sp = cpu.sp();
    let flags = cpu.flags.eflags() as u16;
    let old_cs = cpu.seg[Seg::Cs as usize].selector;
    let res = (|| {
        cpu.push(bus, 2, flags as u32)?;
        cpu.push(bus, 2, old_cs as u32)?;
        cpu.push(bus, 2, ret & 0xFFFF)
    })();
    if let Err(f) = res {
        cpu.set_sp(sp);
        return Err(f);
    }
    cpu.flags.set_masked(0, (Eflags::IF | Eflags::TF | Eflags::AC | Eflags::RF).bits());
    cpu.seg[Seg::Cs as usize].load_real(cs);
    cpu.eip = ip as u32;
    cpu.next_eip = cpu.eip;
    cpu.halted = false;
    Ok(())
}

/// Protected-mode and virtual-8086 delivery through the IDT ([`Cpu::deliver_protected`]).
fn deliver_protected<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, v: u8, src: Source, ret: u32) -> Res<()> {
    let (error, software) = match src {
        Source::Exception(e) => (e, false),
        Source::Software => (None, true),
        Source::External => (None, false),
    };
    cpu.deliver_protected(bus, v, error, software, ret)
}
