//! EFLAGS, with the six arithmetic status flags computed lazily.
//!
//! Most instructions write CF, PF, AF, ZF, SF and OF, and most of those results are never read:
//! the next instruction overwrites them. So the common arithmetic instructions only record *what*
//! they computed (the operation, its operand size, both operands and the result), and a flag is
//! derived from that record when something reads it (a Jcc reads one or two, PUSHF reads all).
//! This is the classic "lazy flags" technique of Bochs and QEMU.
//!
//! Intel SDM Vol. 1 §3.4.3 (EFLAGS) and Appendix A (which instruction affects which flag).

use bitflags::bitflags;

bitflags! {
    /// EFLAGS bits (SDM Vol. 1 Figure 3-8).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Eflags: u32 {
        /// Carry.
        const CF = 1 << 0;
        /// Reserved, always 1.
        const FIXED1 = 1 << 1;
        /// Parity of the low byte of the result (1 = even number of set bits).
        const PF = 1 << 2;
        /// Auxiliary carry out of bit 3 (for BCD).
        const AF = 1 << 4;
        /// Zero.
        const ZF = 1 << 6;
        /// Sign.
        const SF = 1 << 7;
        /// Trap (single-step).
        const TF = 1 << 8;
        /// Interrupt enable.
        const IF = 1 << 9;
        /// Direction of string instructions (1 = down).
        const DF = 1 << 10;
        /// Signed overflow.
        const OF = 1 << 11;
        /// I/O privilege level, two bits.
        const IOPL0 = 1 << 12;
        const IOPL1 = 1 << 13;
        /// Nested task.
        const NT = 1 << 14;
        /// Resume (suppresses instruction breakpoints for one instruction).
        const RF = 1 << 16;
        /// Virtual-8086 mode.
        const VM = 1 << 17;
        /// Alignment check.
        const AC = 1 << 18;
        /// Virtual interrupt flag.
        const VIF = 1 << 19;
        /// Virtual interrupt pending.
        const VIP = 1 << 20;
        /// CPUID is available (software can toggle it).
        const ID = 1 << 21;
    }
}

impl Eflags {
    /// The six arithmetic status flags.
    pub const STATUS: Eflags = Eflags::from_bits_retain(0x8D5);
    /// Both IOPL bits.
    pub const IOPL: Eflags = Eflags::from_bits_retain(0x3000);
}

/// The operation whose flags are pending. The others set their flags eagerly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LazyOp {
    /// Nothing pending: all status flags are in `bits`.
    None,
    /// `res = a + b + carry_in` (ADD, ADC, INC with b = 1).
    Add,
    /// `res = a - b - carry_in` (SUB, SBB, CMP, NEG with a = 0, DEC with b = 1).
    Sub,
    /// Logic result (AND, OR, XOR, TEST): CF = OF = AF = 0.
    Logic,
}

/// EFLAGS as the interpreter keeps it: the bits, plus a pending lazy computation for the status
/// flags named in `lazy_mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags {
    bits: u32,
    op: LazyOp,
    /// Operand size in bits: 8, 16 or 32.
    width: u32,
    a: u32,
    b: u32,
    res: u32,
    carry_in: u32,
    /// Which status flags are pending (the rest of `bits` is authoritative).
    lazy_mask: u32,
}

impl Default for Flags {
    fn default() -> Self {
        Flags::new(0x2)
    }
}

/// Even parity of the low byte: PF as the SDM defines it.
#[inline]
pub fn parity(v: u32) -> bool {
    (v as u8).count_ones().is_multiple_of(2)
}

#[inline]
fn size_mask(width: u32) -> u32 {
    if width >= 32 { u32::MAX } else { (1u32 << width) - 1 }
}

impl Flags {
    pub fn new(bits: u32) -> Flags {
        Flags {
            bits: bits | Eflags::FIXED1.bits(),
            op: LazyOp::None,
            width: 32,
            a: 0,
            b: 0,
            res: 0,
            carry_in: 0,
            lazy_mask: 0,
        }
    }

    /// Records an arithmetic result whose status flags (those in `mask`) are computed on demand.
    /// Flags pending from the previous operation that this one does not write (e.g. CF across
    /// INC) are resolved first.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // one flat record of the operation, on the hot path
    pub fn set_lazy(&mut self, op: LazyOp, width: u32, a: u32, b: u32, res: u32, carry_in: u32, mask: u32) {
        // (Only status flags are ever pending: with `mask` all of them, this folds to 0.)
        let keep = self.lazy_mask & !mask & Eflags::STATUS.bits();
        if keep != 0 {
            self.resolve(keep);
        }
        self.op = op;
        self.width = width;
        self.res = res;
        self.lazy_mask = mask;
        // A logic result's flags depend on `res` alone (CF = OF = AF = 0): its operands need not
        // be kept (nothing else reads them; `eflags()` is what snapshots hold).
        if op != LazyOp::Logic {
            self.a = a;
            self.b = b;
            self.carry_in = carry_in;
        }
    }

    /// ADD/ADC result (all six status flags).
    #[inline]
    pub fn set_add(&mut self, width: u32, a: u32, b: u32, res: u32, carry_in: u32) {
        self.set_lazy(LazyOp::Add, width, a, b, res, carry_in, Eflags::STATUS.bits());
    }

    /// SUB/SBB/CMP/NEG result (all six status flags).
    #[inline]
    pub fn set_sub(&mut self, width: u32, a: u32, b: u32, res: u32, carry_in: u32) {
        self.set_lazy(LazyOp::Sub, width, a, b, res, carry_in, Eflags::STATUS.bits());
    }

    /// AND/OR/XOR/TEST result.
    #[inline]
    pub fn set_logic(&mut self, width: u32, res: u32) {
        self.set_lazy(LazyOp::Logic, width, 0, 0, res, 0, Eflags::STATUS.bits());
    }

    /// Resolves the pending flags in `m` into `bits` (the caller replaces the whole record
    /// next). INC and DEC after an ADD, SUB or CMP need only CF: computed alone.
    #[inline(always)]
    fn resolve(&mut self, m: u32) {
        let computed =
            if m == Eflags::CF.bits() { if self.cf_lazy() { Eflags::CF.bits() } else { 0 } } else { self.compute() };
        self.bits = (self.bits & !m) | (computed & m);
        self.lazy_mask &= !m;
    }

    /// All six status flags of the pending operation.
    fn compute(&self) -> u32 {
        let mut f = 0;
        if self.cf_lazy() {
            f |= Eflags::CF.bits();
        }
        if self.pf_lazy() {
            f |= Eflags::PF.bits();
        }
        if self.af_lazy() {
            f |= Eflags::AF.bits();
        }
        if self.zf_lazy() {
            f |= Eflags::ZF.bits();
        }
        if self.sf_lazy() {
            f |= Eflags::SF.bits();
        }
        if self.of_lazy() {
            f |= Eflags::OF.bits();
        }
        f
    }

    #[inline]
    fn sign(&self) -> u32 {
        1 << (self.width - 1)
    }

    #[inline]
    fn cf_lazy(&self) -> bool {
        let m = size_mask(self.width) as u64;
        let (a, b, c) = (self.a as u64, self.b as u64, self.carry_in as u64);
        match self.op {
            LazyOp::Add => (a + b + c) > m,
            LazyOp::Sub => a < b + c,
            _ => false,
        }
    }
    #[inline]
    fn pf_lazy(&self) -> bool {
        parity(self.res)
    }
    #[inline]
    fn af_lazy(&self) -> bool {
        match self.op {
            LazyOp::Add | LazyOp::Sub => (self.a ^ self.b ^ self.res) & 0x10 != 0,
            _ => false,
        }
    }
    #[inline]
    fn zf_lazy(&self) -> bool {
        self.res & size_mask(self.width) == 0
    }
    #[inline]
    fn sf_lazy(&self) -> bool {
        self.res & self.sign() != 0
    }
    #[inline]
    fn of_lazy(&self) -> bool {
        let s = self.sign();
        match self.op {
            LazyOp::Add => (self.a ^ self.res) & (self.b ^ self.res) & s != 0,
            LazyOp::Sub => (self.a ^ self.b) & (self.a ^ self.res) & s != 0,
            _ => false,
        }
    }

    #[inline]
    fn flag(&self, f: Eflags, lazy: impl Fn(&Self) -> bool) -> bool {
        if self.lazy_mask & f.bits() != 0 { lazy(self) } else { self.bits & f.bits() != 0 }
    }

    #[inline]
    pub fn cf(&self) -> bool {
        self.flag(Eflags::CF, Self::cf_lazy)
    }
    #[inline]
    pub fn pf(&self) -> bool {
        self.flag(Eflags::PF, Self::pf_lazy)
    }
    #[inline]
    pub fn af(&self) -> bool {
        self.flag(Eflags::AF, Self::af_lazy)
    }
    #[inline]
    pub fn zf(&self) -> bool {
        self.flag(Eflags::ZF, Self::zf_lazy)
    }
    #[inline]
    pub fn sf(&self) -> bool {
        self.flag(Eflags::SF, Self::sf_lazy)
    }
    #[inline]
    pub fn of(&self) -> bool {
        self.flag(Eflags::OF, Self::of_lazy)
    }

    /// A non-status flag (IF, DF, TF, VM, …), which is never lazy.
    #[inline]
    pub fn get(&self, f: Eflags) -> bool {
        debug_assert!(f.bits() & Eflags::STATUS.bits() == 0);
        self.bits & f.bits() != 0
    }

    /// Direction flag as a step: +1 or -1.
    #[inline]
    pub fn df(&self) -> bool {
        self.bits & Eflags::DF.bits() != 0
    }

    /// The whole register.
    #[inline]
    pub fn eflags(&self) -> u32 {
        if self.lazy_mask == 0 { self.bits } else { (self.bits & !self.lazy_mask) | (self.compute() & self.lazy_mask) }
    }

    /// Replaces the bits selected by `mask` with those of `value`. Bit 1 stays set, bits 3, 5,
    /// 15 and 22-31 stay clear (SDM Vol. 1 §3.4.3).
    #[inline]
    pub fn set_masked(&mut self, value: u32, mask: u32) {
        let mask = mask & 0x003F_7FD5;
        // Flags still pending outside `mask` stay pending: each is computed from the recorded
        // operation on its own, and that record does not change here.
        self.lazy_mask &= !mask;
        self.bits = (self.bits & !mask) | (value & mask) | Eflags::FIXED1.bits();
    }

    /// Sets or clears one flag (status flags included).
    #[inline]
    pub fn set(&mut self, f: Eflags, on: bool) {
        self.set_masked(if on { f.bits() } else { 0 }, f.bits());
    }

    /// Sets SF, ZF and PF from a result of `width` bits, and CF, OF, AF as given: the common
    /// shape of eagerly computed flags (shifts, multiplies, BCD).
    #[inline]
    pub fn set_szp_c_o_a(&mut self, width: u32, res: u32, cf: bool, of: bool, af: bool) {
        // CF, OF and AF are known now; SF, ZF and PF are computed from the result on demand, as
        // after a logic operation. Every status flag is written, so nothing pending is resolved.
        let f = if cf { Eflags::CF.bits() } else { 0 }
            | if of { Eflags::OF.bits() } else { 0 }
            | if af { Eflags::AF.bits() } else { 0 };
        let status = Eflags::STATUS.bits();
        self.bits = (self.bits & !status) | f;
        // (A logic record: its operands are never read, see `set_lazy`.)
        self.op = LazyOp::Logic;
        self.width = width;
        self.res = res;
        self.lazy_mask = (Eflags::SF | Eflags::ZF | Eflags::PF).bits();
    }

    /// IOPL field.
    pub fn iopl(&self) -> u8 {
        ((self.bits >> 12) & 3) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_flags() {
        let mut f = Flags::new(0);
        f.set_add(8, 0x7F, 0x01, 0x80, 0);
        assert!(f.of() && f.sf() && !f.cf() && !f.zf() && f.af());
        f.set_add(8, 0xFF, 0x01, 0x00, 0);
        assert!(f.cf() && f.zf() && !f.of());
        f.set_add(32, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 1);
        assert!(f.cf());
    }

    #[test]
    fn sub_flags() {
        let mut f = Flags::new(0);
        f.set_sub(16, 0, 1, 0xFFFF, 0);
        assert!(f.cf() && f.sf() && !f.of());
        f.set_sub(16, 0x8000, 1, 0x7FFF, 0);
        assert!(f.of() && !f.cf());
        f.set_sub(8, 5, 5, 0, 1);
        assert!(f.cf(), "SBB 5-5-1 borrows");
    }

    #[test]
    fn inc_keeps_carry() {
        let mut f = Flags::new(0);
        f.set_add(8, 0xFF, 1, 0, 0); // CF=1
        // INC: all but CF lazy.
        f.set_lazy(LazyOp::Add, 8, 1, 1, 2, 0, Eflags::STATUS.bits() & !Eflags::CF.bits());
        assert!(f.cf());
        assert!(!f.zf());
        assert_eq!(f.eflags() & 1, 1);
    }

    #[test]
    fn fixed_bits() {
        let mut f = Flags::new(0);
        f.set_masked(0xFFFF_FFFF, 0xFFFF_FFFF);
        assert_eq!(f.eflags(), 0x003F_7FD7);
    }
}
