//! Decimal arithmetic: DAA, DAS, AAA, AAS, AAM, AAD (SDM Vol. 2A, the pages of those names).
//!
//! Undefined flags follow Intel hardware (checked against the host CPU by the property tests in
//! `tests/host_oracle.rs`, which run these instructions in 32-bit compatibility mode):
//!
//! - DAA, DAS: OF = 0.
//! - AAA, AAS: OF = 0; SF, ZF and PF from the final AL (its high nibble cleared, so SF = 0).
//! - AAM: CF = OF = AF = 0. AAD: CF, OF and AF as the addition AL + AH * imm8 sets them.

use crate::cpu::Cpu;
use crate::cpu::fault::{Fault, Res, Why, vector};
use crate::cpu::regs::EAX;
use iced_x86::{Instruction, Mnemonic as M};

pub fn exec(cpu: &mut Cpu, ins: &Instruction) -> Res<()> {
    let al = cpu.gpr[EAX] & 0xFF;
    let ah = (cpu.gpr[EAX] >> 8) & 0xFF;
    let af = cpu.flags.af();
    let cf = cpu.flags.cf();
    match ins.mnemonic() {
        M::Daa | M::Das => {
            let add = ins.mnemonic() == M::Daa;
            let mut new = al;
            let (mut ncf, mut naf) = (false, false);
            if al & 0xF > 9 || af {
                new = if add { new.wrapping_add(6) } else { new.wrapping_sub(6) } & 0xFF;
                ncf = cf || if add { al + 6 > 0xFF } else { al < 6 };
                naf = true;
            }
            if al > 0x99 || cf {
                new = if add { new.wrapping_add(0x60) } else { new.wrapping_sub(0x60) } & 0xFF;
                ncf = true;
            }
            cpu.set_gpr_sized(EAX, 1, new);
            cpu.flags.set_szp_c_o_a(8, new, ncf, false, naf);
        }
        M::Aaa | M::Aas => {
            let add = ins.mnemonic() == M::Aaa;
            let adjust = al & 0xF > 9 || af;
            let ax = cpu.gpr[EAX] & 0xFFFF;
            let new_ax = if !adjust {
                ax
            } else if add {
                ax.wrapping_add(0x106)
            } else {
                // SDM Vol. 2A "AAS": AX <- AX - 6; AH <- AH - 1. The borrow out of AL reaches AH
                // (the 8086 subtracted from AL alone; the 286 and later from AX).
                ax.wrapping_sub(6).wrapping_sub(0x100)
            } & 0xFFFF;
            let new_ax = new_ax & 0xFF0F;
            cpu.set_gpr_sized(EAX, 2, new_ax);
            cpu.flags.set_szp_c_o_a(8, new_ax, adjust, false, adjust);
        }
        M::Aam => {
            let base = ins.immediate8() as u32;
            if base == 0 {
                return Err(Fault::new(vector::DE, Why::DivideError { divisor_zero: true }));
            }
            let (q, r) = (al / base, al % base);
            cpu.set_gpr_sized(EAX, 2, (q << 8) | r);
            cpu.flags.set_szp_c_o_a(8, r, false, false, false);
        }
        _ => {
            // AAD
            let base = ins.immediate8() as u32;
            let prod = (ah * base) & 0xFF;
            let res = (al + prod) & 0xFF;
            cpu.set_gpr_sized(EAX, 2, res);
            cpu.flags.set_add(8, al, prod, res, 0);
        }
    }
    Ok(())
}
