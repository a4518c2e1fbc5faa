//! Pre-resolved forms of the most frequent instructions.
//!
//! When the decode cache fills a trace it also looks at each instruction once and, for the
//! common shapes — MOV, the ALU group (ADD OR ADC SBB AND SUB XOR CMP TEST), INC/DEC on a
//! register, LEA, Jcc, JMP rel, CALL rel, RET near, PUSH/POP of a general register, LOOP/LOOPE/
//! LOOPNE — records a [`Fast`]: the operation with its operands already
//! extracted (register numbers, the immediate extended to the operand size, the parts of the
//! effective address, the branch displacement). [`Cpu::step`] executes those without copying
//! the iced-x86 `Instruction`, without the `match` on the mnemonic and without asking iced for
//! operand kinds again each time. Everything else is [`Fast::Generic`] and goes through
//! `exec::execute`.
//!
//! The semantics are those of the generic handlers, which share their arithmetic with this file
//! ([`alu_result`]): the same order of reads and writes (so the same faults, SDM Vol. 3A §6.5),
//! the same lazy flags.

use super::exec::mask;
use super::fault::{Fault, Res, Why, vector};
use super::flags::{Eflags, LazyOp};
use super::operand::reg_size;
use super::regs::{EAX, ECX, EDI, EDX, ESI, Seg};
use super::{Cpu, CpuBus};
use iced_x86::{Code, ConditionCode, Instruction, Mnemonic as M, OpKind, Register};

/// The ALU group (SDM Vol. 1 §7.3.2, §7.3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Or,
    Adc,
    Sbb,
    And,
    Sub,
    Xor,
    Cmp,
    Test,
}

impl AluOp {
    pub fn from_mnemonic(m: M) -> Option<AluOp> {
        Some(match m {
            M::Add => AluOp::Add,
            M::Or => AluOp::Or,
            M::Adc => AluOp::Adc,
            M::Sbb => AluOp::Sbb,
            M::And => AluOp::And,
            M::Sub => AluOp::Sub,
            M::Xor => AluOp::Xor,
            M::Cmp => AluOp::Cmp,
            M::Test => AluOp::Test,
            _ => return None,
        })
    }
    /// CMP and TEST only set flags.
    #[inline]
    pub fn writes(self) -> bool {
        !matches!(self, AluOp::Cmp | AluOp::Test)
    }
}

/// Computes `a op b` at `size` bytes (both already masked): the result (masked) and the lazy
/// flags record for it. Shared by the generic handler (`exec::arith::alu`) and the fast forms.
#[inline(always)]
pub fn alu_compute(cpu: &Cpu, op: AluOp, size: u32, a: u32, b: u32) -> (u32, LazyOp, u32) {
    let (res, lazy, cin) = match op {
        AluOp::Add => (a.wrapping_add(b), LazyOp::Add, 0),
        AluOp::Adc => {
            let c = cpu.flags.cf() as u32;
            (a.wrapping_add(b).wrapping_add(c), LazyOp::Add, c)
        }
        AluOp::Sub | AluOp::Cmp => (a.wrapping_sub(b), LazyOp::Sub, 0),
        AluOp::Sbb => {
            let c = cpu.flags.cf() as u32;
            (a.wrapping_sub(b).wrapping_sub(c), LazyOp::Sub, c)
        }
        AluOp::And | AluOp::Test => (a & b, LazyOp::Logic, 0),
        AluOp::Or => (a | b, LazyOp::Logic, 0),
        AluOp::Xor => (a ^ b, LazyOp::Logic, 0),
    };
    (res & mask(size), lazy, cin)
}

/// [`alu_compute`], and the flags recorded.
#[inline(always)]
fn alu_result(cpu: &mut Cpu, op: AluOp, size: u32, a: u32, b: u32) -> u32 {
    let (res, lazy, cin) = alu_compute(cpu, op, size, a, b);
    cpu.flags.set_lazy(lazy, size * 8, a, b, res, cin, Eflags::STATUS.bits());
    res
}

/// Evaluates `$body` with the operand size `$size` (a `u8` in bytes) a constant for the two
/// common sizes, so the size tests inside it (register views, masks, access widths) fold away;
/// any other size runs the same body with the size as it is.
macro_rules! by_size {
    // The same, and for 4-byte operands also the ALU operation `$op` a constant, so that the
    // arithmetic and the flags record fold to that operation's own code.
    ($size:ident, $op:ident, $body:block) => {
        if $size == 4 {
            let $size: u8 = 4;
            by_size!(@op $op, $body, Add Or Adc Sbb And Sub Xor Cmp Test)
        } else {
            by_size!($size, $body)
        }
    };
    (@op $op:ident, $body:block, $($v:ident)*) => {
        match $op {
            $(AluOp::$v => {
                let $op = AluOp::$v;
                $body
            })*
        }
    };
    ($size:ident, $body:block) => {
        match $size {
            4 => {
                let $size: u8 = 4;
                $body
            }
            2 => {
                let $size: u8 = 2;
                $body
            }
            _ => $body,
        }
    };
}

/// No register (in [`Mem`]).
const NONE: u8 = 0xFF;

/// A memory operand's effective address, pre-extracted (SDM Vol. 2A §2.1.5; Vol. 1 §3.7.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mem {
    pub disp: u32,
    /// General register numbers (0-7), or [`NONE`].
    pub base: u8,
    pub index: u8,
    /// log2 of the scale.
    pub shift: u8,
    /// 16-bit addressing: the offset wraps at 64 KiB.
    pub a16: bool,
    pub seg: Seg,
}

/// An instruction in a pre-resolved form. Registers are general-register numbers as
/// `Cpu::gpr_sized` takes them (for bytes: AL CL DL BL AH CH DH BH); sizes are in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    Generic,
    MovRR {
        size: u8,
        d: u8,
        s: u8,
    },
    MovRI {
        size: u8,
        d: u8,
        imm: u32,
    },
    MovRM {
        size: u8,
        d: u8,
        m: Mem,
    },
    MovMR {
        size: u8,
        s: u8,
        m: Mem,
    },
    MovMI {
        size: u8,
        imm: u32,
        m: Mem,
    },
    AluRR {
        op: AluOp,
        size: u8,
        d: u8,
        s: u8,
    },
    AluRI {
        op: AluOp,
        size: u8,
        d: u8,
        imm: u32,
    },
    AluRM {
        op: AluOp,
        size: u8,
        d: u8,
        m: Mem,
    },
    AluMR {
        op: AluOp,
        size: u8,
        s: u8,
        m: Mem,
    },
    AluMI {
        op: AluOp,
        size: u8,
        imm: u32,
        m: Mem,
    },
    IncDec {
        inc: bool,
        size: u8,
        r: u8,
    },
    /// INC/DEC of a memory operand (read-modify-write, CF kept).
    IncDecM {
        inc: bool,
        size: u8,
        m: Mem,
    },
    /// MUL (`div` false) or DIV of EDX:EAX by a 32-bit general register.
    MulDivR32 {
        div: bool,
        r: u8,
    },
    /// LODS without a REP prefix: `size` bytes from `seg`:(E)SI into AL/AX/EAX.
    Lods {
        size: u8,
        a32: bool,
        seg: Seg,
    },
    /// STOS without a REP prefix: AL/AX/EAX to ES:(E)DI.
    Stos {
        size: u8,
        a32: bool,
    },
    Lea {
        size: u8,
        d: u8,
        m: Mem,
    },
    /// ROL ROR RCL RCR SHL SHR SAR of a general register by an immediate count (imm8, or the 1 of D0/D1),
    /// already masked to 5 bits and not 0. `keep_of`: ROL/ROR by an imm8 other than 1, which
    /// write CF only (see `exec::shift`).
    ShiftRI {
        op: M,
        size: u8,
        r: u8,
        count: u8,
        keep_of: bool,
    },
    /// Jcc rel: taken, EIP = next EIP + disp (wrapped to 16 bits for a 16-bit operand size).
    Jcc {
        cc: ConditionCode,
        disp: u32,
        near16: bool,
    },
    Jmp {
        disp: u32,
        near16: bool,
    },
    /// CALL rel: pushes the next EIP (2 or 4 bytes by operand size), then jumps.
    Call {
        disp: u32,
        near16: bool,
    },
    /// RET near, RET near imm16: `size` bytes of return address, then `imm` more bytes released.
    Ret {
        size: u8,
        imm: u16,
    },
    PushR {
        size: u8,
        r: u8,
    },
    PopR {
        size: u8,
        r: u8,
    },
    /// LOOP (cond 0), LOOPE (1), LOOPNE (2), counting CX (`ecx` false) or ECX.
    Loop {
        cond: u8,
        ecx: bool,
        disp: u32,
        near16: bool,
    },
}

/// A general register: its number and size, or `None` (segment, control, … registers).
fn gpr(r: Register) -> Option<(u8, u8)> {
    let n = r as u32;
    let size = reg_size(r);
    let base = match size {
        1 => Register::AL,
        2 => Register::AX,
        4 => Register::EAX,
        _ => return None,
    } as u32;
    // reg_size says 2 for segment registers too: they are not in AX..DI.
    (n >= base && n < base + 8).then_some(((n - base) as u8, size as u8))
}

/// An immediate operand as `Cpu::read_op` reads it.
fn imm(ins: &Instruction, i: u32) -> Option<u32> {
    Some(match ins.op_kind(i) {
        OpKind::Immediate8 => ins.immediate8() as u32,
        OpKind::Immediate16 => ins.immediate16() as u32,
        OpKind::Immediate32 => ins.immediate32(),
        OpKind::Immediate8to16 => ins.immediate8to16() as u16 as u32,
        OpKind::Immediate8to32 => ins.immediate8to32() as u32,
        _ => return None,
    })
}

/// The memory operand as `Cpu::ea` computes it.
fn mem(ins: &Instruction) -> Option<Mem> {
    let base = ins.memory_base();
    let index = ins.memory_index();
    let mut a16 = false;
    let mut m = Mem {
        disp: ins.memory_displacement32(),
        base: NONE,
        index: NONE,
        shift: ins.memory_index_scale().trailing_zeros() as u8,
        a16: false,
        seg: Seg::from_iced(ins.memory_segment()).unwrap_or(Seg::Ds),
    };
    if base != Register::None {
        let (n, size) = gpr(base).filter(|&(_, s)| s >= 2)?;
        m.base = n;
        a16 = size == 2;
    }
    if index != Register::None {
        let (n, size) = gpr(index).filter(|&(_, s)| s >= 2)?;
        m.index = n;
        a16 |= size == 2;
    }
    if base == Register::None && index == Register::None {
        a16 = ins.memory_displ_size() == 2;
    }
    m.a16 = a16;
    Some(m)
}

impl Fast {
    /// The pre-resolved form of `ins`, or [`Fast::Generic`].
    pub fn of(ins: &Instruction) -> Fast {
        Self::try_of(ins).unwrap_or(Fast::Generic)
    }

    fn try_of(ins: &Instruction) -> Option<Fast> {
        if ins.is_invalid() {
            return None;
        }
        let m = ins.mnemonic();
        let k0 = ins.op0_kind();
        match m {
            M::Mov if ins.op_count() == 2 => {
                let k1 = ins.op1_kind();
                match (k0, k1) {
                    (OpKind::Register, OpKind::Register) => {
                        let (d, size) = gpr(ins.op0_register())?;
                        let (s, _) = gpr(ins.op1_register())?;
                        Some(Fast::MovRR { size, d, s })
                    }
                    (OpKind::Register, OpKind::Memory) => {
                        let (d, size) = gpr(ins.op0_register())?;
                        Some(Fast::MovRM { size, d, m: mem(ins)? })
                    }
                    (OpKind::Register, _) => {
                        let (d, size) = gpr(ins.op0_register())?;
                        Some(Fast::MovRI { size, d, imm: imm(ins, 1)? })
                    }
                    (OpKind::Memory, OpKind::Register) => {
                        let (s, size) = gpr(ins.op1_register())?;
                        Some(Fast::MovMR { size, s, m: mem(ins)? })
                    }
                    (OpKind::Memory, _) => {
                        let size = ins.memory_size().size() as u8;
                        if !matches!(size, 1 | 2 | 4) {
                            return None;
                        }
                        let v = imm(ins, 1)? & mask(size as u32);
                        Some(Fast::MovMI { size, imm: v, m: mem(ins)? })
                    }
                    _ => None,
                }
            }
            M::Add | M::Or | M::Adc | M::Sbb | M::And | M::Sub | M::Xor | M::Cmp | M::Test if ins.op_count() == 2 => {
                let op = AluOp::from_mnemonic(m)?;
                let k1 = ins.op1_kind();
                match (k0, k1) {
                    (OpKind::Register, OpKind::Register) => {
                        let (d, size) = gpr(ins.op0_register())?;
                        let (s, _) = gpr(ins.op1_register())?;
                        Some(Fast::AluRR { op, size, d, s })
                    }
                    (OpKind::Register, OpKind::Memory) => {
                        let (d, size) = gpr(ins.op0_register())?;
                        Some(Fast::AluRM { op, size, d, m: mem(ins)? })
                    }
                    (OpKind::Register, _) => {
                        let (d, size) = gpr(ins.op0_register())?;
                        Some(Fast::AluRI { op, size, d, imm: imm(ins, 1)? & mask(size as u32) })
                    }
                    (OpKind::Memory, OpKind::Register) => {
                        let (s, size) = gpr(ins.op1_register())?;
                        Some(Fast::AluMR { op, size, s, m: mem(ins)? })
                    }
                    (OpKind::Memory, _) => {
                        let size = ins.memory_size().size() as u8;
                        if !matches!(size, 1 | 2 | 4) {
                            return None;
                        }
                        Some(Fast::AluMI { op, size, imm: imm(ins, 1)? & mask(size as u32), m: mem(ins)? })
                    }
                    _ => None,
                }
            }
            M::Inc | M::Dec if k0 == OpKind::Register => {
                let (r, size) = gpr(ins.op0_register())?;
                Some(Fast::IncDec { inc: m == M::Inc, size, r })
            }
            M::Inc | M::Dec if k0 == OpKind::Memory => {
                let size = ins.memory_size().size() as u8;
                if !matches!(size, 1 | 2 | 4) {
                    return None;
                }
                Some(Fast::IncDecM { inc: m == M::Inc, size, m: mem(ins)? })
            }
            M::Mul | M::Div if ins.op_count() == 1 && k0 == OpKind::Register => {
                let (r, size) = gpr(ins.op0_register())?;
                (size == 4).then_some(Fast::MulDivR32 { div: m == M::Div, r })
            }
            M::Lodsb | M::Lodsw | M::Lodsd | M::Stosb | M::Stosw | M::Stosd
                if !ins.has_rep_prefix() && !ins.has_repne_prefix() && ins.op_count() == 2 =>
            {
                let size = match m {
                    M::Lodsb | M::Stosb => 1,
                    M::Lodsw | M::Stosw => 2,
                    _ => 4,
                };
                // As exec::string::exec: the address size from the string operand's kind.
                let (kinds, wide) = if matches!(m, M::Lodsb | M::Lodsw | M::Lodsd) {
                    ((OpKind::MemorySegSI, OpKind::MemorySegESI), OpKind::MemorySegESI)
                } else {
                    ((OpKind::MemoryESDI, OpKind::MemoryESEDI), OpKind::MemoryESEDI)
                };
                let k = (0..ins.op_count()).map(|i| ins.op_kind(i)).find(|&k| k == kinds.0 || k == kinds.1)?;
                let a32 = k == wide;
                if matches!(m, M::Lodsb | M::Lodsw | M::Lodsd) {
                    let seg = Seg::from_iced(ins.memory_segment()).unwrap_or(Seg::Ds);
                    Some(Fast::Lods { size, a32, seg })
                } else {
                    Some(Fast::Stos { size, a32 })
                }
            }
            M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar
                if k0 == OpKind::Register && ins.op_count() == 2 && ins.op1_kind() == OpKind::Immediate8 =>
            {
                let (r, size) = gpr(ins.op0_register())?;
                let count = (imm(ins, 1)? & 0x1F) as u8;
                if count == 0 {
                    return None;
                }
                let keep_of = count != 1 && matches!(m, M::Rol | M::Ror) && ins.op1_kind() == OpKind::Immediate8;
                Some(Fast::ShiftRI { op: m, size, r, count, keep_of })
            }
            M::Lea if k0 == OpKind::Register && ins.op1_kind() == OpKind::Memory => {
                let (d, size) = gpr(ins.op0_register())?;
                if size < 2 {
                    return None;
                }
                Some(Fast::Lea { size, d, m: mem(ins)? })
            }
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
            | M::Jg
            | M::Jmp
                if matches!(k0, OpKind::NearBranch16 | OpKind::NearBranch32) =>
            {
                let disp = ins.near_branch_target().wrapping_sub(ins.next_ip()) as u32;
                let near16 = k0 == OpKind::NearBranch16;
                if m == M::Jmp {
                    Some(Fast::Jmp { disp, near16 })
                } else {
                    Some(Fast::Jcc { cc: ins.condition_code(), disp, near16 })
                }
            }
            M::Call if matches!(k0, OpKind::NearBranch16 | OpKind::NearBranch32) => {
                let disp = ins.near_branch_target().wrapping_sub(ins.next_ip()) as u32;
                Some(Fast::Call { disp, near16: k0 == OpKind::NearBranch16 })
            }
            M::Ret => {
                let (size, imm) = match ins.code() {
                    Code::Retnw => (2, 0),
                    Code::Retnd => (4, 0),
                    Code::Retnw_imm16 => (2, ins.immediate16()),
                    Code::Retnd_imm16 => (4, ins.immediate16()),
                    _ => return None,
                };
                Some(Fast::Ret { size, imm })
            }
            M::Push if k0 == OpKind::Register => {
                let (r, size) = gpr(ins.op0_register())?;
                (size as i32 == -ins.stack_pointer_increment()).then_some(Fast::PushR { size, r })
            }
            M::Pop if k0 == OpKind::Register => {
                let (r, size) = gpr(ins.op0_register())?;
                (size as i32 == ins.stack_pointer_increment()).then_some(Fast::PopR { size, r })
            }
            M::Loop | M::Loope | M::Loopne if matches!(k0, OpKind::NearBranch16 | OpKind::NearBranch32) => {
                let ecx = matches!(
                    ins.code(),
                    Code::Loop_rel8_16_ECX
                        | Code::Loop_rel8_32_ECX
                        | Code::Loope_rel8_16_ECX
                        | Code::Loope_rel8_32_ECX
                        | Code::Loopne_rel8_16_ECX
                        | Code::Loopne_rel8_32_ECX
                );
                let cond = match m {
                    M::Loop => 0,
                    M::Loope => 1,
                    _ => 2,
                };
                let disp = ins.near_branch_target().wrapping_sub(ins.next_ip()) as u32;
                Some(Fast::Loop { cond, ecx, disp, near16: k0 == OpKind::NearBranch16 })
            }
            _ => None,
        }
    }
}

impl Cpu {
    /// The offset of a pre-extracted memory operand (as [`Cpu::ea`]).
    #[inline(always)]
    fn ea_fast(&self, m: &Mem) -> u32 {
        let mut off = m.disp;
        if m.base != NONE {
            off = off.wrapping_add(self.gpr[m.base as usize & 7]);
        }
        if m.index != NONE {
            off = off.wrapping_add(self.gpr[m.index as usize & 7] << m.shift);
        }
        if m.a16 { off & 0xFFFF } else { off }
    }

    /// Near jump by `disp` from the next instruction (as `near_target` + `jump_near`).
    #[inline(always)]
    fn jump_rel(&mut self, disp: u32, near16: bool) -> Res<()> {
        let t = self.next_eip.wrapping_add(disp);
        self.jump_near(if near16 { t & 0xFFFF } else { t })
    }

    /// Executes the pre-resolved instruction at pool index `idx`, which starts at `eip`:
    /// `next_eip` is set to the instruction after it before it runs. Returns false, having
    /// done nothing else, for [`Fast::Generic`] (the general path must take it). `CPU_OK`: the
    /// caller knows there is no data breakpoint and no alignment checking (see `fast_linear`).
    #[inline(always)]
    pub(crate) fn exec_fast<B: CpuBus, const CPU_OK: bool>(&mut self, bus: &mut B, idx: u32, eip: u32) -> Res<bool> {
        // (A cursor is always replaced when the cache is flushed; should one ever point past the
        // pool, the general path takes the instruction rather than the host panicking.)
        let Some((f, len)) = self.cache.fast_table().get(idx as usize) else {
            return Ok(false);
        };
        self.next_eip = eip.wrapping_add(*len as u32);
        // Matched in place, so each arm loads only the fields it uses.
        match *f {
            Fast::Generic => return Ok(false),
            Fast::MovRR { size, d, s } => by_size!(size, {
                let v = self.gpr_sized(s as usize, size as u32);
                self.set_gpr_sized(d as usize, size as u32, v);
            }),
            Fast::MovRI { size, d, imm } => by_size!(size, { self.set_gpr_sized(d as usize, size as u32, imm) }),
            Fast::MovRM { size, d, m } => by_size!(size, {
                let v = self.read_sized_as::<B, CPU_OK>(bus, m.seg, self.ea_fast(&m), size as u32)?;
                self.set_gpr_sized(d as usize, size as u32, v);
            }),
            Fast::MovMR { size, s, m } => by_size!(size, {
                let v = self.gpr_sized(s as usize, size as u32);
                self.write_sized_as::<B, CPU_OK>(bus, m.seg, self.ea_fast(&m), size as u32, v)?;
            }),
            Fast::MovMI { size, imm, m } => {
                by_size!(size, { self.write_sized_as::<B, CPU_OK>(bus, m.seg, self.ea_fast(&m), size as u32, imm)? })
            }
            Fast::AluRR { op, size, d, s } => by_size!(size, op, {
                let size = size as u32;
                let a = self.gpr_sized(d as usize, size);
                let b = self.gpr_sized(s as usize, size);
                let r = alu_result(self, op, size, a, b);
                if op.writes() {
                    self.set_gpr_sized(d as usize, size, r);
                }
            }),
            Fast::AluRI { op, size, d, imm } => by_size!(size, op, {
                let size = size as u32;
                let a = self.gpr_sized(d as usize, size);
                let r = alu_result(self, op, size, a, imm);
                if op.writes() {
                    self.set_gpr_sized(d as usize, size, r);
                }
            }),
            Fast::AluRM { op, size, d, m } => by_size!(size, op, {
                let size = size as u32;
                let a = self.gpr_sized(d as usize, size);
                let b = self.read_sized_as::<B, CPU_OK>(bus, m.seg, self.ea_fast(&m), size)?;
                let r = alu_result(self, op, size, a, b);
                if op.writes() {
                    self.set_gpr_sized(d as usize, size, r);
                }
            }),
            Fast::AluMR { op, size, s, m } => by_size!(size, op, {
                let size = size as u32;
                let off = self.ea_fast(&m);
                let a = self.read_sized_as::<B, CPU_OK>(bus, m.seg, off, size)?;
                let b = self.gpr_sized(s as usize, size);
                self.alu_to_mem::<B, CPU_OK>(bus, op, size, m.seg, off, a, b)?;
            }),
            Fast::AluMI { op, size, imm, m } => by_size!(size, op, {
                let size = size as u32;
                let off = self.ea_fast(&m);
                let a = self.read_sized_as::<B, CPU_OK>(bus, m.seg, off, size)?;
                self.alu_to_mem::<B, CPU_OK>(bus, op, size, m.seg, off, a, imm)?;
            }),
            Fast::IncDec { inc, size, r } => by_size!(size, {
                let size = size as u32;
                let a = self.gpr_sized(r as usize, size);
                let (res, op) = if inc { (a.wrapping_add(1), LazyOp::Add) } else { (a.wrapping_sub(1), LazyOp::Sub) };
                let res = res & mask(size);
                self.set_gpr_sized(r as usize, size, res);
                self.flags.set_lazy(op, size * 8, a, 1, res, 0, Eflags::STATUS.bits() & !Eflags::CF.bits());
            }),
            Fast::IncDecM { inc, size, m } => by_size!(size, {
                // As exec::arith::inc_dec on memory: read, write, then the flags.
                let size = size as u32;
                let off = self.ea_fast(&m);
                let a = self.read_sized_as::<B, CPU_OK>(bus, m.seg, off, size)?;
                let (res, op) = if inc { (a.wrapping_add(1), LazyOp::Add) } else { (a.wrapping_sub(1), LazyOp::Sub) };
                let res = res & mask(size);
                self.write_sized_as::<B, CPU_OK>(bus, m.seg, off, size, res)?;
                self.flags.set_lazy(op, size * 8, a, 1, res, 0, Eflags::STATUS.bits() & !Eflags::CF.bits());
            }),
            Fast::MulDivR32 { div, r } => {
                let src = self.gpr[r as usize];
                if div {
                    // As exec::arith::div for a 32-bit DIV; the flags are left unchanged.
                    if src == 0 {
                        return Err(Fault::new(vector::DE, Why::DivideError { divisor_zero: true }));
                    }
                    let dividend = ((self.gpr[EDX] as u64) << 32) | self.gpr[EAX] as u64;
                    let q = dividend / src as u64;
                    if q > u32::MAX as u64 {
                        return Err(Fault::new(vector::DE, Why::DivideError { divisor_zero: false }));
                    }
                    self.gpr[EAX] = q as u32;
                    self.gpr[EDX] = (dividend % src as u64) as u32;
                } else {
                    // As exec::arith::mul for a 32-bit MUL.
                    let p = (self.gpr[EAX] as u64) * (src as u64);
                    let (lo, hi) = (p as u32, (p >> 32) as u32);
                    self.gpr[EAX] = lo;
                    self.gpr[EDX] = hi;
                    super::exec::arith::mul_flags(self, 4, lo, hi != 0);
                }
            }
            Fast::Lods { size, a32, seg } => by_size!(size, {
                // As exec::string::one for LODS.
                let size = size as u32;
                let amask = if a32 { u32::MAX } else { 0xFFFF };
                let v = self.read_sized_as::<B, CPU_OK>(bus, seg, self.gpr[ESI] & amask, size)?;
                self.set_gpr_sized(EAX, size, v);
                super::exec::string::step_reg(self, ESI, size, amask);
            }),
            Fast::Stos { size, a32 } => by_size!(size, {
                // As exec::string::one for STOS.
                let size = size as u32;
                let amask = if a32 { u32::MAX } else { 0xFFFF };
                let v = self.gpr_sized(EAX, size);
                self.write_sized_as::<B, CPU_OK>(bus, Seg::Es, self.gpr[EDI] & amask, size, v)?;
                super::exec::string::step_reg(self, EDI, size, amask);
            }),
            Fast::Lea { size, d, m } => by_size!(size, {
                let off = self.ea_fast(&m);
                self.set_gpr_sized(d as usize, size as u32, off);
            }),
            Fast::ShiftRI { op, size, r, count, keep_of } => {
                // With a 4-byte operand the operation is made a constant too (see `by_size!`).
                if size == 4 {
                    match op {
                        M::Shl => self.shift_ri(M::Shl, 4, r, count, keep_of),
                        M::Shr => self.shift_ri(M::Shr, 4, r, count, keep_of),
                        M::Sar => self.shift_ri(M::Sar, 4, r, count, keep_of),
                        M::Rol => self.shift_ri(M::Rol, 4, r, count, keep_of),
                        M::Ror => self.shift_ri(M::Ror, 4, r, count, keep_of),
                        _ => self.shift_ri(op, 4, r, count, keep_of),
                    }
                } else {
                    by_size!(size, { self.shift_ri(op, size as u32, r, count, keep_of) })
                }
            }
            Fast::Jcc { cc, disp, near16 } => {
                if self.cond(cc) {
                    self.jump_rel(disp, near16)?;
                }
            }
            Fast::Jmp { disp, near16 } => self.jump_rel(disp, near16)?,
            Fast::Call { disp, near16 } => {
                // As exec::control::call: the target is checked before anything is pushed.
                let t = self.next_eip.wrapping_add(disp);
                let t = if near16 { t & 0xFFFF } else { t };
                let limit = self.seg[Seg::Cs as usize].limit;
                if t > limit {
                    return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: t, size: 1, limit }));
                }
                self.push(bus, if near16 { 2 } else { 4 }, self.next_eip)?;
                self.next_eip = t;
            }
            Fast::Ret { size, imm } => by_size!(size, {
                // As exec::control::ret: ESP moves only once the target passed the limit check.
                let size = size as u32;
                let t = self.peek(bus, 0, size)?;
                self.jump_near(t)?;
                self.set_sp(self.sp_offset(size + imm as u32));
            }),
            Fast::PushR { size, r } => by_size!(size, {
                let v = self.gpr_sized(r as usize, size as u32);
                self.push(bus, size as u32, v)?;
            }),
            Fast::PopR { size, r } => by_size!(size, {
                // As exec::stack::pop: ESP is incremented before the register is written, so
                // POP ESP loads the popped value (SDM Vol. 2B "POP").
                let size = size as u32;
                let v = self.peek(bus, 0, size)?;
                self.set_sp(self.sp_offset(size));
                self.set_gpr_sized(r as usize, size, v);
            }),
            Fast::Loop { cond, ecx, disp, near16 } => {
                // As exec::control::loop_jcxz: the target is checked before the count is written.
                let size = if ecx { 4 } else { 2 };
                let c = self.gpr_sized(ECX, size).wrapping_sub(1) & mask(size);
                let go = c != 0
                    && match cond {
                        0 => true,
                        1 => self.flags.zf(),
                        _ => !self.flags.zf(),
                    };
                if go {
                    self.jump_rel(disp, near16)?;
                }
                self.set_gpr_sized(ECX, size, c);
            }
        }
        Ok(true)
    }

    /// ROL ROR RCL RCR SHL SHR SAR of a general register by an immediate count, as
    /// `exec::shift::shift` with a register destination and an immediate count.
    #[inline(always)]
    fn shift_ri(&mut self, op: M, size: u32, r: u8, count: u8, keep_of: bool) {
        let a = self.gpr_sized(r as usize, size);
        // Only RCL and RCR read CF: no pending CF is computed for the others.
        let cf_in = matches!(op, M::Rcl | M::Rcr) && self.flags.cf();
        let s = super::exec::shift::compute(op, a, size, count as u32, cf_in);
        self.set_gpr_sized(r as usize, size, s.res);
        if s.szp {
            self.flags.set_szp_c_o_a(size * 8, s.res, s.cf, s.of, false);
        } else if s.carry {
            let mut written = Eflags::CF.bits();
            if !keep_of {
                written |= Eflags::OF.bits();
            }
            let f = if s.cf { Eflags::CF.bits() } else { 0 } | if s.of { Eflags::OF.bits() } else { 0 };
            self.flags.set_masked(f, written);
        }
    }

    /// The write half of an ALU read-modify-write on memory: the flags are recorded once the
    /// write succeeded, as in the generic handler.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn alu_to_mem<B: CpuBus, const CPU_OK: bool>(
        &mut self,
        bus: &mut B,
        op: AluOp,
        size: u32,
        seg: Seg,
        off: u32,
        a: u32,
        b: u32,
    ) -> Res<()> {
        let (res, lazy, cin) = alu_compute(self, op, size, a, b);
        if op.writes() {
            self.write_sized_as::<B, CPU_OK>(bus, seg, off, size, res)?;
        }
        self.flags.set_lazy(lazy, size * 8, a, b, res, cin, Eflags::STATUS.bits());
        Ok(())
    }
}
