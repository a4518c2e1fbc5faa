//! Shifts and rotates: ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR, SHLD, SHRD.
//!
//! SDM Vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD". The count is masked to 5
//! bits (a 386 and later never shift by more than 31); a masked count of 0 changes no flags. OF
//! is defined for a count of 1 only; for larger counts x86lab computes it with the count-1 formula
//! on the final result, as Intel P6-and-later processors do, and AF is cleared (both checked
//! against the host CPU by the property tests).

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
    /// New CF, OF and (for shifts) whether SF/ZF/PF/AF are written too.
    pub cf: bool,
    pub of: bool,
    pub szp: bool,
}

/// Computes a shift or rotate of `a` (width `size` bytes) by the already-masked, non-zero
/// `count`, with incoming carry `cf_in`.
pub fn compute(op: M, a: u32, size: u32, count: u32, cf_in: bool) -> Shifted {
    let w = size * 8;
    let m = mask(size);
    let msb = |v: u32| (v >> (w - 1)) & 1 != 0;
    match op {
        M::Rol => {
            let c = count % w;
            let res = if c == 0 { a } else { ((a << c) | (a >> (w - c))) & m };
            let cf = res & 1 != 0;
            Shifted { res, cf, of: msb(res) ^ cf, szp: false }
        }
        M::Ror => {
            let c = count % w;
            let res = if c == 0 { a } else { ((a >> c) | (a << (w - c))) & m };
            let cf = msb(res);
            // OF = XOR of the two most significant bits of the result.
            let of = msb(res) ^ ((res >> (w - 2)) & 1 != 0);
            Shifted { res, cf, of, szp: false }
        }
        M::Rcl => {
            let c = count % (w + 1);
            let wide = ((cf_in as u64) << w) | a as u64; // w+1 bits
            let wm = (1u64 << (w + 1)) - 1;
            let r = if c == 0 { wide } else { ((wide << c) | (wide >> (w + 1 - c))) & wm };
            let res = r as u32 & m;
            let cf = (r >> w) & 1 != 0;
            Shifted { res, cf, of: msb(res) ^ cf, szp: false }
        }
        M::Rcr => {
            let c = count % (w + 1);
            let wide = ((cf_in as u64) << w) | a as u64;
            let wm = (1u64 << (w + 1)) - 1;
            let r = if c == 0 { wide } else { ((wide >> c) | (wide << (w + 1 - c))) & wm };
            let res = r as u32 & m;
            let cf = (r >> w) & 1 != 0;
            let of = msb(res) ^ ((res >> (w - 2)) & 1 != 0);
            Shifted { res, cf, of, szp: false }
        }
        M::Shl | M::Sal => {
            let r = (a as u64) << count;
            let res = r as u32 & m;
            let cf = (r >> w) & 1 != 0;
            Shifted { res, cf, of: msb(res) ^ cf, szp: true }
        }
        M::Shr => {
            let res = ((a as u64) >> count) as u32 & m;
            let cf = count <= 32 && ((a as u64) >> (count - 1)) & 1 != 0;
            // OF = MSB of the original operand (defined for count 1).
            Shifted { res, cf, of: msb(a), szp: true }
        }
        _ => {
            // SAR
            let s = super::sext(a, size) as i32 as i64;
            let c = count.min(63);
            let res = (s >> c) as u32 & m;
            let cf = (s >> (c - 1)) & 1 != 0;
            Shifted { res, cf, of: false, szp: true }
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
    } else {
        cpu.flags.set(Eflags::CF, s.cf);
        cpu.flags.set(Eflags::OF, s.of);
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
    let (res, cf) = if ins.mnemonic() == M::Shld {
        // dst:src as one 2w-bit value placed at the top of a u64, shifted left.
        let wide = ((a as u64) << 32) | ((src as u64) << (32 - w));
        ((((wide << count) >> 32) as u32) & m, (wide >> (32 + w - count)) & 1 != 0)
    } else {
        // src:dst as one 2w-bit value, shifted right.
        let wide = ((src as u64) << w) | a as u64;
        (((wide >> count) as u32) & m, (wide >> (count - 1)) & 1 != 0)
    };
    cpu.write_op_at(bus, ins, 0, at, size, res)?;
    let msb = |v: u32| (v >> (w - 1)) & 1 != 0;
    let of = msb(res) ^ msb(a);
    cpu.flags.set_szp_c_o_a(w, res, cf, of, false);
    Ok(())
}
