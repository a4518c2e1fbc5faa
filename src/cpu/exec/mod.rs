//! Instruction execution, grouped by family as the SDM's Vol. 1 chapter 7 groups them.
//!
//! [`execute`] is one `match` on the iced-x86 mnemonic that hands the decoded instruction to a
//! family's handler. A handler reads its operands through the helpers in [`super::operand`],
//! computes, writes its results, and returns `Err(Fault)` for an exception. The rule every
//! handler follows: *check everything that can fault before changing any state*, so that a fault
//! leaves the instruction restartable (SDM Vol. 3A §6.5, "faults").

pub mod arith;
pub mod bcd;
pub mod bits;
pub mod control;
pub mod data;
pub mod io;
pub mod protected;
pub mod shift;
pub mod stack;
pub mod string;
pub mod system;

use super::fault::{Fault, Res};
use super::{Cpu, CpuBus};
use iced_x86::{ConditionCode, Instruction, Mnemonic as M};

/// Executes one decoded instruction. On success `cpu.next_eip` holds the next EIP.
#[inline]
pub fn execute<B: CpuBus>(cpu: &mut Cpu, bus: &mut B, ins: &Instruction) -> Res<()> {
    match ins.mnemonic() {
        // Binary arithmetic and logic (SDM Vol. 1 §7.3.2, §7.3.5).
        M::Add | M::Or | M::Adc | M::Sbb | M::And | M::Sub | M::Xor | M::Cmp | M::Test => arith::alu(cpu, bus, ins),
        M::Inc | M::Dec => arith::inc_dec(cpu, bus, ins),
        M::Neg | M::Not => arith::neg_not(cpu, bus, ins),
        M::Mul | M::Imul => arith::mul(cpu, bus, ins),
        M::Div | M::Idiv => arith::div(cpu, bus, ins),
        M::Cmpxchg => arith::cmpxchg(cpu, bus, ins),
        M::Cmpxchg8b => arith::cmpxchg8b(cpu, bus, ins),
        M::Xadd => arith::xadd(cpu, bus, ins),
        M::Cbw | M::Cwde | M::Cwd | M::Cdq => arith::convert(cpu, ins),
        // Decimal arithmetic (§7.3.2.5).
        M::Daa | M::Das | M::Aaa | M::Aas | M::Aam | M::Aad => bcd::exec(cpu, ins),
        // Shifts and rotates (§7.3.6).
        M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar => shift::shift(cpu, bus, ins),
        M::Shld | M::Shrd => shift::double(cpu, bus, ins),
        // Bit and byte (§7.3.7).
        M::Bt | M::Bts | M::Btr | M::Btc => bits::bt(cpu, bus, ins),
        M::Bsf | M::Bsr => bits::bsf_bsr(cpu, bus, ins),
        M::Bswap => bits::bswap(cpu, ins),
        M::Seto
        | M::Setno
        | M::Setb
        | M::Setae
        | M::Sete
        | M::Setne
        | M::Setbe
        | M::Seta
        | M::Sets
        | M::Setns
        | M::Setp
        | M::Setnp
        | M::Setl
        | M::Setge
        | M::Setle
        | M::Setg => bits::setcc(cpu, bus, ins),
        M::Salc => bits::salc(cpu),
        // Data transfer (§7.3.1).
        M::Mov => data::mov(cpu, bus, ins),
        M::Movzx | M::Movsx => data::movx(cpu, bus, ins),
        M::Xchg => data::xchg(cpu, bus, ins),
        M::Lea => data::lea(cpu, ins),
        M::Xlatb => data::xlat(cpu, bus, ins),
        M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss => data::load_far_pointer(cpu, bus, ins),
        M::Lahf => data::lahf(cpu),
        M::Sahf => data::sahf(cpu),
        M::Cmovo
        | M::Cmovno
        | M::Cmovb
        | M::Cmovae
        | M::Cmove
        | M::Cmovne
        | M::Cmovbe
        | M::Cmova
        | M::Cmovs
        | M::Cmovns
        | M::Cmovp
        | M::Cmovnp
        | M::Cmovl
        | M::Cmovge
        | M::Cmovle
        | M::Cmovg => data::cmov(cpu, bus, ins),
        M::Nop => Ok(()),
        // Stack (§7.3.1.4, §6.2).
        M::Push => stack::push(cpu, bus, ins),
        M::Pop => stack::pop(cpu, bus, ins),
        M::Pusha | M::Pushad => stack::pusha(cpu, bus, ins),
        M::Popa | M::Popad => stack::popa(cpu, bus, ins),
        M::Pushf | M::Pushfd => stack::pushf(cpu, bus, ins),
        M::Popf | M::Popfd => stack::popf(cpu, bus, ins),
        M::Enter => stack::enter(cpu, bus, ins),
        M::Leave => stack::leave(cpu, bus, ins),
        // Control transfer (§7.3.8).
        M::Jmp => control::jmp(cpu, bus, ins),
        M::Jo
        | M::Jno
        | M::Jb
        | M::Jae
        | M::Je
        | M::Jne
        | M::Jbe
        | M::Ja
        | M::Js
        | M::Jns
        | M::Jp
        | M::Jnp
        | M::Jl
        | M::Jge
        | M::Jle
        | M::Jg => control::jcc(cpu, ins),
        M::Jcxz | M::Jecxz | M::Loop | M::Loope | M::Loopne => control::loop_jcxz(cpu, ins),
        M::Call => control::call(cpu, bus, ins),
        M::Ret | M::Retf => control::ret(cpu, bus, ins),
        M::Int | M::Int3 | M::Into | M::Int1 => control::int(cpu, bus, ins),
        M::Iret | M::Iretd => control::iret(cpu, bus, ins),
        M::Bound => control::bound(cpu, bus, ins),
        // String (§7.3.9).
        M::Movsb
        | M::Movsw
        | M::Movsd
        | M::Stosb
        | M::Stosw
        | M::Stosd
        | M::Lodsb
        | M::Lodsw
        | M::Lodsd
        | M::Cmpsb
        | M::Cmpsw
        | M::Cmpsd
        | M::Scasb
        | M::Scasw
        | M::Scasd
        | M::Insb
        | M::Insw
        | M::Insd
        | M::Outsb
        | M::Outsw
        | M::Outsd => string::exec(cpu, bus, ins),
        // I/O (§7.3.11, Vol. 1 chapter 18).
        M::In | M::Out => io::in_out(cpu, bus, ins),
        // Flag control (§7.3.13).
        M::Clc | M::Stc | M::Cmc | M::Cld | M::Std => system::flag_op(cpu, ins),
        M::Cli | M::Sti => system::cli_sti(cpu, ins),
        // System and processor identification.
        M::Hlt => system::hlt(cpu),
        M::Wait => system::wait(cpu),
        M::Lldt
        | M::Sldt
        | M::Ltr
        | M::Str
        | M::Lar
        | M::Lsl
        | M::Verr
        | M::Verw
        | M::Arpl
        | M::Sysenter
        | M::Sysexit => protected::exec(cpu, bus, ins),
        _ => system::other(cpu, bus, ins),
    }
}

impl Cpu {
    /// Evaluates a condition code from EFLAGS (SDM Vol. 1 Appendix B, Table B-1).
    #[inline(always)]
    pub fn cond(&self, cc: ConditionCode) -> bool {
        let f = &self.flags;
        match cc {
            ConditionCode::o => f.of(),
            ConditionCode::no => !f.of(),
            ConditionCode::b => f.cf(),
            ConditionCode::ae => !f.cf(),
            ConditionCode::e => f.zf(),
            ConditionCode::ne => !f.zf(),
            ConditionCode::be => f.cf() || f.zf(),
            ConditionCode::a => !f.cf() && !f.zf(),
            ConditionCode::s => f.sf(),
            ConditionCode::ns => !f.sf(),
            ConditionCode::p => f.pf(),
            ConditionCode::np => !f.pf(),
            ConditionCode::l => f.sf() != f.of(),
            ConditionCode::ge => f.sf() == f.of(),
            ConditionCode::le => f.zf() || f.sf() != f.of(),
            ConditionCode::g => !f.zf() && f.sf() == f.of(),
            ConditionCode::None => true,
        }
    }
}

/// Operand-size mask for a size in bytes.
#[inline]
pub fn mask(size: u32) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

/// Sign bit for a size in bytes.
#[inline]
pub fn sign_bit(size: u32) -> u32 {
    1 << (size * 8 - 1)
}

/// Sign-extends the low `size` bytes of `v` to 32 bits.
#[inline]
pub fn sext(v: u32, size: u32) -> u32 {
    match size {
        1 => v as u8 as i8 as i32 as u32,
        2 => v as u16 as i16 as i32 as u32,
        _ => v,
    }
}

/// #UD for an instruction x86lab does not implement, logged once per occurrence at debug level.
#[cold]
pub fn unimplemented(ins: &Instruction) -> Fault {
    log::debug!("#UD: {:?} ({:?}) is not implemented", ins.mnemonic(), ins.code());
    Fault::ud()
}
