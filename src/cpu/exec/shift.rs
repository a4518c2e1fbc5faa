//! Shifts and rotates: ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR, SHLD, SHRD.
//!
//! SDM Vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD". The count is masked to 5
//! bits (a 386 and later never shift by more than 31); a masked count of 0 changes no flags.
//!
//! What the SDM leaves undefined, x86lab does as Intel processors do (checked against the host
//! CPU by the property tests in `tests/host_oracle.rs`):
//!
//! - OF for counts other than 1: the count-1 formula applied to the *original* operand (and
//!   incoming CF), i.e. the OF of the first one-bit step, whatever the count: SHL, SHLD, ROL, RCL
//!   `MSB(dest) ^ bit(w-2)(dest)`; SHR `MSB(dest)`; SAR 0; ROR `LSB(dest) ^ MSB(dest)`; RCR
//!   `CF ^ MSB(dest)`; SHRD `LSB(src) ^ MSB(dest)`.
//! - AF after SHL, SHR, SAR, SHLD, SHRD: cleared.
//! - ROL/ROR of a register by an immediate count (C0/C1 with a register operand) other than 1:
//!   OF is left unchanged (Intel writes only CF there; with a count in CL, or a memory
//!   destination, OF follows the rule above).
//! - RCL/RCR whose masked count is a multiple of width + 1 (9 or 18 for bytes, 17 for words):
//!   nothing changes, CF and OF included. ROL/ROR by a multiple of the width (but not 0) still
//!   set CF and OF.
//! - SHLD/SHRD on 16 bits with a count of 17-31: the operand is shifted as the 48-bit
//!   `dest:src:dest` (SHLD, top 16 bits kept) or `dest:src:dest` read from the low end (SHRD),
//!   so bits of the destination come back in; CF is the last bit shifted out of that value.

use super::mask;
use crate::cpu::fault::Res;
use crate::cpu::flags::Eflags;
use crate::cpu::{Cpu, CpuBus, Seg};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

fn dst<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<(u32, u32, (Seg, u32))> {
    if ins.op0_kind() == OpKind::Register {
        let r = ins.op0_register();
        Ok((cpu.reg(r), crate::cpu::operand::reg_size(r), (Seg::Ds, 0)))
    } else {
        let at = cpu.ea(ins);
        let size = ins.memory_size().size() as u32;
        Ok((cpu.read_sized(bus, at.0, at.1, size)?, size, at))
    }
}

/// The result of a shift or rotate and the flags it defines.
pub struct Shifted {
    pub res: u32,
    /// New CF and OF.
    pub cf: bool,
    pub of: bool,
    /// Shifts: SF, ZF and PF are written from the result and AF is cleared. Rotates leave them.
    pub szp: bool,
    /// CF and OF are written (false for an RCL/RCR that rotates by a multiple of width + 1).
    pub carry: bool,
}

/// Computes a shift or rotate of `a` (width `size` bytes) by the already-masked, non-zero
/// `count`, with incoming carry `cf_in`. Inlined: with `op` known at the call site (or tested
/// there once), only its own arm is left.
#[inline(always)]
pub fn compute(op: M, a: u32, size: u32, count: u32, cf_in: bool) -> Shifted {
    let w = size * 8;
    let m = mask(size);
    let bit = |v: u32, n: u32| (v >> n) & 1 != 0;
    let msb = |v: u32| bit(v, w - 1);
    // OF of a one-bit left step of the original operand (SHL, ROL, RCL): Intel uses it for
    // every count.
    let of_left = msb(a) ^ bit(a, w - 2);
    match op {
        M::Rol => {
            let c = count % w;
            let res = if c == 0 { a } else { ((a << c) | (a >> (w - c))) & m };
            Shifted { res, cf: res & 1 != 0, of: of_left, szp: false, carry: true }
        }
        M::Ror => {
            let c = count % w;
            let res = if c == 0 { a } else { ((a >> c) | (a << (w - c))) & m };
            Shifted { res, cf: msb(res), of: (a & 1 != 0) ^ msb(a), szp: false, carry: true }
        }
        M::Rcl | M::Rcr => {
            let c = count % (w + 1);
            if c == 0 {
                return Shifted { res: a, cf: cf_in, of: false, szp: false, carry: false };
            }
            let wide = ((cf_in as u64) << w) | a as u64; // w+1 bits
            let wm = (1u64 << (w + 1)) - 1;
            let r = if op == M::Rcl {
                ((wide << c) | (wide >> (w + 1 - c))) & wm
            } else {
                ((wide >> c) | (wide << (w + 1 - c))) & wm
            };
            let of = if op == M::Rcl { of_left } else { cf_in ^ msb(a) };
            Shifted { res: r as u32 & m, cf: (r >> w) & 1 != 0, of, szp: false, carry: true }
        }
        M::Shl | M::Sal => {
            let r = (a as u64) << count;
            let res = r as u32 & m;
            let cf = (r >> w) & 1 != 0;
            Shifted { res, cf, of: of_left, szp: true, carry: true }
        }
        M::Shr => {
            let res = ((a as u64) >> count) as u32 & m;
            let cf = count <= 32 && ((a as u64) >> (count - 1)) & 1 != 0;
            Shifted { res, cf, of: msb(a), szp: true, carry: true }
        }
        _ => {
            // SAR
            let s = super::sext(a, size) as i32 as i64;
            let c = count.min(63);
            let res = (s >> c) as u32 & m;
            let cf = (s >> (c - 1)) & 1 != 0;
            Shifted { res, cf, of: false, szp: true, carry: true }
        }
    }
}

/// ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR with a count of 1, CL or imm8.
pub fn shift<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (a, size, at) = dst(cpu, bus, ins)?;
    let count = if ins.op_count() > 1 { cpu.read_op(bus, ins, 1)? & 0x1F } else { 1 };
    if count == 0 {
        // The destination is unchanged and no flags change; the read above made the checks.
        return Ok(());
    }
    let s = compute(ins.mnemonic(), a, size, count, cpu.flags.cf());
    cpu.write_op_at(bus, ins, 0, at, size, s.res)?;
    if s.szp {
        cpu.flags.set_szp_c_o_a(size * 8, s.res, s.cf, s.of, false);
    } else if s.carry {
        // ROL/ROR of a register by an immediate count other than 1 write CF only (Intel: OF
        // keeps its value; by CL, or with a memory destination, OF follows the formula above).
        let keep_of = count != 1
            && matches!(ins.mnemonic(), M::Rol | M::Ror)
            && ins.op1_kind() == OpKind::Immediate8
            && ins.op0_kind() == OpKind::Register;
        let mut written = Eflags::CF.bits();
        if !keep_of {
            written |= Eflags::OF.bits();
        }
        let f = if s.cf { Eflags::CF.bits() } else { 0 } | if s.of { Eflags::OF.bits() } else { 0 };
        cpu.flags.set_masked(f, written);
    }
    Ok(())
}

/// SHLD/SHRD r/m, r, imm8/CL: shift the destination, filling from the source.
pub fn double<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    let (a, size, at) = dst(cpu, bus, ins)?;
    let src = cpu.reg(ins.op1_register());
    let count = cpu.read_op(bus, ins, 2)? & 0x1F;
    if count == 0 {
        return Ok(());
    }
    let w = size * 8;
    let m = mask(size);
    // The value shifted: dest:src for 32 bits, dest:src:dest for 16 bits (whose counts reach 31,
    // past the 32 bits of dest:src). SHLD reads it from the top, SHRD from the bottom.
    let (a64, src64) = (a as u64 & m as u64, src as u64 & m as u64);
    let (res, cf, of) = if ins.mnemonic() == M::Shld {
        let (v, top) = if w == 16 { ((a64 << 32) | (src64 << 16) | a64, 48) } else { ((a64 << 32) | src64, 64) };
        let res = (v >> (top - w - count)) as u32 & m;
        let of = ((a >> (w - 1)) ^ (a >> (w - 2))) & 1 != 0;
        (res, (v >> (top - count)) & 1 != 0, of)
    } else {
        let v = if w == 16 { a64 | (src64 << 16) | (a64 << 32) } else { a64 | (src64 << 32) };
        let of = ((a >> (w - 1)) ^ src) & 1 != 0;
        ((v >> count) as u32 & m, (v >> (count - 1)) & 1 != 0, of)
    };
    cpu.write_op_at(bus, ins, 0, at, size, res)?;
    cpu.flags.set_szp_c_o_a(w, res, cf, of, false);
    Ok(())
}
