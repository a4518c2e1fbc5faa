//! String instructions: MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS, with REP/REPE/REPNE
//! (SDM Vol. 2B, pages of those names, and "REP/REPE/REPZ/REPNE/REPNZ").
//!
//! Address size picks SI/DI/CX or ESI/EDI/ECX. A repeated instruction runs in chunks of at most
//! [`CHUNK`] iterations per step, then restarts itself, so interrupts are taken between
//! iterations as on hardware (SDM Vol. 2B "REP": "the instruction pointer is not advanced if an
//! interrupt occurs"). Registers are updated after every iteration, so a fault in the middle
//! leaves a restartable state.

use crate::cpu::access::Access;
use crate::cpu::fault::Res;
use crate::cpu::paging::Perm;
use crate::cpu::regs::{EAX, ECX, EDI, EDX, ESI, Seg};
use crate::cpu::{Cpu, CpuBus, Cr0};
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
    // Bulk iterations are possible when nothing watches single accesses: no data breakpoint
    // or debugger watchpoint, no alignment check, no I/O.
    let bulk_ok = rep
        && cpu.data_bps == 0
        && !(cpu.cpl == 3 && cpu.alignment_checking())
        && matches!(op, Op::Movs | Op::Stos | Op::Lods | Op::Cmps | Op::Scas);
    let mut n = 0;
    loop {
        if rep && cpu.gpr[ECX] & amask == 0 {
            return Ok(());
        }
        if bulk_ok {
            let max = (cpu.gpr[ECX] & amask).min(CHUNK - n);
            if max >= 2
                && let Some((done, stopped)) = bulk(cpu, bus, ins, op, size, amask, src_seg, max)
            {
                n += done;
                let c = cpu.gpr[ECX] & amask;
                if stopped || c == 0 {
                    return Ok(());
                }
                if n >= CHUNK {
                    cpu.next_eip = cpu.eip;
                    return Ok(());
                }
                continue;
            }
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

/// Where the next elements of one string operand lie, for [`bulk`]: the physical address of
/// the first, and how many consecutive elements (up to `max`) stay within one page and within
/// the address size without wrapping, each passing the segment checks. `None` when the first
/// element cannot be done this way (it crosses a page, fails a check, or misses the TLB): the
/// element-by-element path then takes it, with its exact faults.
#[inline]
fn span(cpu: &Cpu, seg: Seg, off: u32, size: u32, amask: u32, max: u32, acc: Access) -> Option<(u32, u32)> {
    let down = cpu.flags.df();
    if off.checked_add(size - 1)? > amask {
        return None;
    }
    let lin = cpu.seg[seg as usize].base.wrapping_add(off);
    let in_page = lin & 0xFFF;
    if in_page + size > 0x1000 {
        return None;
    }
    let (by_page, by_off) = if down {
        (in_page / size + 1, off / size + 1)
    } else {
        ((0x1000 - in_page) / size, (amask - off - (size - 1)) / size + 1)
    };
    let k = max.min(by_page).min(by_off);
    let last = if down { off - (k - 1) * size } else { off + (k - 1) * size };
    // Valid offsets form one interval (0..=limit expand-up, limit+1..=upper expand-down), so
    // checking the first and last element covers every one between (SDM Vol. 3A §5.3).
    cpu.linear(seg, off, size, acc).ok()?;
    cpu.linear(seg, last, size, acc).ok()?;
    let phys = if cpu.cr0.contains(Cr0::PG) { cpu.tlb.lookup(lin, Perm::needed(acc, cpu.cpl == 3))? } else { lin };
    Some((phys & cpu.a20_mask, k))
}

#[inline]
fn bus_read<B: CpuBus>(bus: &mut B, p: u32, size: u32) -> u32 {
    match size {
        1 => bus.read8(p) as u32,
        2 => bus.read16(p) as u32,
        _ => bus.read32(p),
    }
}

#[inline]
fn bus_write<B: CpuBus>(bus: &mut B, p: u32, size: u32, v: u32) {
    match size {
        1 => bus.write8(p, v as u8),
        2 => bus.write16(p, v as u16),
        _ => bus.write32(p, v),
    }
}

/// Up to `max` iterations of a repeated MOVS/STOS/LODS/CMPS/SCAS at once, when every element
/// of each operand lies in one page that the TLB already maps with the rights needed and within
/// its segment: nothing can fault, so the elements are moved (or compared) one after the other
/// straight on physical addresses, and ESI/EDI/ECX are updated once. The result is the same as
/// that many single iterations (overlapping MOVS included, since the elements still go one at a
/// time in order). Returns the iterations done and whether REPE/REPNE stopped on ZF.
#[allow(clippy::too_many_arguments)]
fn bulk<B: CpuBus>(
    cpu: &mut Cpu,
    bus: &mut B,
    ins: &Instruction,
    op: Op,
    size: u32,
    amask: u32,
    src_seg: Seg,
    max: u32,
) -> Option<(u32, bool)> {
    let si = cpu.gpr[ESI] & amask;
    let di = cpu.gpr[EDI] & amask;
    let mut k = max;
    let mut ps = 0;
    let mut pd = 0;
    if matches!(op, Op::Movs | Op::Lods | Op::Cmps) {
        let (p, n) = span(cpu, src_seg, si, size, amask, k, Access::Read)?;
        ps = p;
        k = n;
    }
    if matches!(op, Op::Movs | Op::Stos | Op::Cmps | Op::Scas) {
        let acc = if matches!(op, Op::Cmps | Op::Scas) { Access::Read } else { Access::Write };
        let (p, n) = span(cpu, Seg::Es, di, size, amask, k, acc)?;
        pd = p;
        k = n;
    }
    let down = cpu.flags.df();
    let step = if down { size.wrapping_neg() } else { size };
    if matches!(op, Op::Movs | Op::Stos) {
        // Decoded code in the destination is dropped (self-modifying code).
        let lo = if down { pd.wrapping_sub((k - 1) * size) } else { pd };
        if cpu.cache.note_write(lo, k * size) {
            cpu.invalidate_cursor();
        }
    }
    let m = super::mask(size);
    let mut done = 0;
    let mut stopped = false;
    match op {
        Op::Movs => {
            for _ in 0..k {
                let v = bus_read(bus, ps, size);
                bus_write(bus, pd, size, v);
                ps = ps.wrapping_add(step);
                pd = pd.wrapping_add(step);
            }
            done = k;
        }
        Op::Stos => {
            let v = cpu.gpr_sized(EAX, size);
            for _ in 0..k {
                bus_write(bus, pd, size, v);
                pd = pd.wrapping_add(step);
            }
            done = k;
        }
        Op::Lods => {
            let mut v = 0;
            for _ in 0..k {
                v = bus_read(bus, ps, size);
                ps = ps.wrapping_add(step);
            }
            cpu.set_gpr_sized(EAX, size, v);
            done = k;
        }
        Op::Cmps | Op::Scas => {
            let repe = ins.has_repe_prefix();
            let (mut a, mut b) = (0, 0);
            while done < k {
                a = if op == Op::Cmps { bus_read(bus, ps, size) } else { cpu.gpr_sized(EAX, size) };
                b = bus_read(bus, pd, size);
                ps = ps.wrapping_add(step);
                pd = pd.wrapping_add(step);
                done += 1;
                let zf = a.wrapping_sub(b) & m == 0;
                if zf != repe {
                    stopped = true;
                    break;
                }
            }
            cpu.flags.set_sub(size * 8, a, b, a.wrapping_sub(b) & m, 0);
        }
        Op::Ins | Op::Outs => return None, // never asked: `bulk_ok` excludes I/O
    }
    let adv = done.wrapping_mul(step);
    if matches!(op, Op::Movs | Op::Lods | Op::Cmps) {
        cpu.gpr[ESI] = (cpu.gpr[ESI] & !amask) | (si.wrapping_add(adv) & amask);
    }
    if matches!(op, Op::Movs | Op::Stos | Op::Cmps | Op::Scas) {
        cpu.gpr[EDI] = (cpu.gpr[EDI] & !amask) | (di.wrapping_add(adv) & amask);
    }
    let c = (cpu.gpr[ECX] & amask).wrapping_sub(done) & amask;
    cpu.gpr[ECX] = (cpu.gpr[ECX] & !amask) | c;
    Some((done, stopped))
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
pub(crate) fn step_reg(cpu: &mut Cpu, n: usize, size: u32, amask: u32) {
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
            cpu.break_loop = true;
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
