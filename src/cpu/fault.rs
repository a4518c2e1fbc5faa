//! Exceptions as values, with the reason they happened.
//!
//! Instruction handlers return `Result<(), Fault>`; the `?` operator carries a fault up to
//! [`super::Cpu::step`], which delivers it through [`super::interrupt`] in the one place that knows
//! the SDM's classes and restart rules. Every fault carries a [`Why`]: the check that failed and
//! the values it looked at, so the debugger can explain it in words.
//!
//! Intel SDM Vol. 3A §6.3 (sources of interrupts), §6.15 (exception reference), Table 6-1.

/// Exception vectors (SDM Vol. 3A Table 6-1).
pub mod vector {
    pub const DE: u8 = 0;
    pub const DB: u8 = 1;
    pub const NMI: u8 = 2;
    pub const BP: u8 = 3;
    pub const OF: u8 = 4;
    pub const BR: u8 = 5;
    pub const UD: u8 = 6;
    pub const NM: u8 = 7;
    pub const DF: u8 = 8;
    pub const TS: u8 = 10;
    pub const NP: u8 = 11;
    pub const SS: u8 = 12;
    pub const GP: u8 = 13;
    pub const PF: u8 = 14;
    pub const MF: u8 = 16;
    pub const AC: u8 = 17;
    pub const MC: u8 = 18;
    pub const XM: u8 = 19;
}

/// Mnemonic of an exception vector as the SDM writes it ("#GP"), or "INT n" style for others.
pub fn vector_name(v: u8) -> &'static str {
    match v {
        0 => "#DE",
        1 => "#DB",
        2 => "NMI",
        3 => "#BP",
        4 => "#OF",
        5 => "#BR",
        6 => "#UD",
        7 => "#NM",
        8 => "#DF",
        9 => "coprocessor segment overrun",
        10 => "#TS",
        11 => "#NP",
        12 => "#SS",
        13 => "#GP",
        14 => "#PF",
        16 => "#MF",
        17 => "#AC",
        18 => "#MC",
        19 => "#XM",
        _ => "interrupt",
    }
}

/// Long name of an exception vector (SDM Vol. 3A Table 6-1).
pub fn vector_description(v: u8) -> &'static str {
    match v {
        0 => "divide error",
        1 => "debug exception",
        2 => "non-maskable interrupt",
        3 => "breakpoint",
        4 => "overflow",
        5 => "BOUND range exceeded",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack-segment fault",
        13 => "general protection",
        14 => "page fault",
        16 => "x87 floating-point error",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD floating-point exception",
        _ => "software or external interrupt",
    }
}

/// Why a fault was raised: the rule that failed and the values it examined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// No structured reason recorded.
    Unspecified,
    /// An offset (plus the access size) lies outside the segment limit
    /// (SDM Vol. 3A §5.3; in real mode the limit is 0xFFFF, §20.1.1).
    SegmentLimit { seg: u8, offset: u32, size: u8, limit: u32 },
    /// The instruction is not valid (or not implemented by x86lab) in this mode.
    InvalidOpcode,
    /// LOCK prefix on an instruction that cannot be locked (SDM Vol. 2A "LOCK").
    BadLock,
    /// DIV/IDIV by zero or with a quotient too large for the destination (SDM Vol. 2A "DIV").
    DivideError { divisor_zero: bool },
    /// The instruction is longer than 15 bytes (SDM Vol. 2A §2.3.11).
    TooLong,
    /// BOUND found the index outside the bounds (SDM Vol. 2A "BOUND").
    BoundRange { index: i32, lower: i32, upper: i32 },
    /// INTO with OF set.
    Overflow,
    /// INT3.
    Breakpoint,
    /// The interrupt vector lies beyond the IVT or IDT limit (SDM Vol. 3A §6.10, §20.1.4).
    VectorBeyondTable { vector: u8, limit: u16 },
    /// A second exception while delivering the first (SDM Vol. 3A §6.15, Interrupt 8).
    DoubleFault { first: u8, second: u8 },
    /// A privileged instruction at CPL > 0 (SDM Vol. 3A §5.9).
    Privileged { cpl: u8 },
    /// An IOPL-sensitive instruction with CPL > IOPL (SDM Vol. 1 §18.2).
    Iopl { cpl: u8, iopl: u8 },
    /// A debug exception; DR6 says which condition (SDM Vol. 3A §17.2.3).
    Debug { dr6: u32 },
    /// A page-level protection or not-present fault (SDM Vol. 3A §4.7).
    Page { linear: u32, error: u32 },
    /// A protected-mode segment check failed; `rule` names it.
    Selector { selector: u16, rule: &'static str },
    /// An access through a segment register that holds a null selector (SDM Vol. 3A §3.4.2:
    /// loading it is allowed, using it raises #GP(0)).
    NullSegment { seg: u8 },
    /// An access outside an expand-down segment, whose valid offsets are `limit + 1 ..= upper`
    /// (SDM Vol. 3A §3.4.5.1, §5.3).
    ExpandDown { seg: u8, offset: u32, size: u8, limit: u32, upper: u32 },
    /// A write through a read-only data or code segment, or a read through an execute-only
    /// code segment (SDM Vol. 3A §5.4.1).
    SegmentRights { seg: u8, selector: u16, write: bool, code: bool },
    /// A check on an IDT entry failed while delivering `vector` (SDM Vol. 3A §6.11, §6.12.1;
    /// the error code is vector * 8 + 2, plus 1 when the event was not INT n).
    Idt { vector: u8, rule: &'static str },
    /// IN/OUT/INS/OUTS at CPL > IOPL (or in virtual-8086 mode) on a port the TSS I/O
    /// permission bitmap does not allow (SDM Vol. 1 §18.5.2).
    IoDenied { port: u16, size: u8, cpl: u8, iopl: u8, bitmap: bool },
    /// Pushing onto the stack of a more privileged level (taken from the TSS) went outside it
    /// (SDM Vol. 2A "CALL", "INT n": #SS(new SS selector)).
    InnerStack { selector: u16, offset: u32, limit: u32 },
    /// A misaligned data access at CPL 3 with CR0.AM = 1 and EFLAGS.AC = 1 (SDM Vol. 3A §6.15,
    /// Interrupt 17).
    Alignment { linear: u32, size: u8 },
    /// A rule about a register or an instruction, in words.
    Rule(&'static str),
}

/// An exception raised by an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub vector: u8,
    /// The error code pushed by #DF, #TS, #NP, #SS, #GP, #PF, #AC.
    pub error: Option<u32>,
    pub why: Why,
}

impl Fault {
    pub const fn new(vector: u8, why: Why) -> Fault {
        Fault { vector, error: None, why }
    }
    pub const fn with_error(vector: u8, error: u32, why: Why) -> Fault {
        Fault { vector, error: Some(error), why }
    }
    pub const fn ud() -> Fault {
        Fault::new(vector::UD, Why::InvalidOpcode)
    }
    pub const fn gp0(why: Why) -> Fault {
        Fault::with_error(vector::GP, 0, why)
    }
    pub const fn ss0(why: Why) -> Fault {
        Fault::with_error(vector::SS, 0, why)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", vector_name(self.vector))?;
        if let Some(e) = self.error {
            write!(f, "({e:#x})")?;
        }
        write!(f, " {}", vector_description(self.vector))?;
        match self.why {
            Why::Unspecified => Ok(()),
            Why::SegmentLimit { seg, offset, size, limit } => write!(
                f,
                ": {}-byte access at {}:{offset:#x} is beyond the segment limit {limit:#x}",
                size,
                super::regs::Seg::ALL.get(seg as usize).map_or("?", |s| s.name())
            ),
            Why::InvalidOpcode => write!(f, ": not a valid instruction here"),
            Why::BadLock => write!(f, ": LOCK prefix on an instruction that cannot be locked"),
            Why::DivideError { divisor_zero: true } => write!(f, ": division by zero"),
            Why::DivideError { divisor_zero: false } => write!(f, ": quotient too large for the destination"),
            Why::TooLong => write!(f, ": instruction longer than 15 bytes"),
            Why::BoundRange { index, lower, upper } => {
                write!(f, ": index {index} outside [{lower}, {upper}]")
            }
            Why::Overflow => write!(f, ": INTO with OF=1"),
            Why::Breakpoint => write!(f, ": INT3"),
            Why::VectorBeyondTable { vector, limit } => {
                write!(f, ": vector {vector:#x} lies beyond the interrupt table limit {limit:#x}")
            }
            Why::DoubleFault { first, second } => {
                write!(f, ": {} while delivering {}", vector_name(second), vector_name(first))
            }
            Why::Privileged { cpl } => write!(f, ": privileged instruction at CPL {cpl}"),
            Why::Iopl { cpl, iopl } => write!(f, ": CPL {cpl} > IOPL {iopl}"),
            Why::Debug { dr6 } => {
                let mut causes = Vec::new();
                for i in 0..4 {
                    if dr6 & (1 << i) != 0 {
                        causes.push(format!("breakpoint DR{i}"));
                    }
                }
                if dr6 & (1 << 14) != 0 {
                    causes.push("single step (TF)".into());
                }
                write!(f, ": {} (DR6={dr6:#x})", causes.join(", "))
            }
            Why::Page { linear, error } => write!(f, ": linear address {linear:#010x}, error code {error:#x}"),
            Why::Selector { selector, rule } => write!(f, ": selector {selector:#06x}: {rule}"),
            Why::NullSegment { seg } => write!(
                f,
                ": {} holds a null selector; loading one is allowed, accessing memory through it is not",
                seg_name(seg)
            ),
            Why::ExpandDown { seg, offset, size, limit, upper } => write!(
                f,
                ": {size}-byte access at {}:{offset:#x} lies outside the expand-down segment, whose valid \
                 offsets are {:#x}..={upper:#x} (limit {limit:#x})",
                seg_name(seg),
                limit.wrapping_add(1)
            ),
            Why::SegmentRights { seg, selector, write, code } => {
                let what = match (write, code) {
                    (true, true) => "write through a code segment (code is never writable)",
                    (true, false) => "write through a read-only data segment",
                    (false, _) => "read through an execute-only code segment",
                };
                write!(f, ": {what}: {} = {selector:#06x}", seg_name(seg))
            }
            Why::Idt { vector, rule } => write!(f, ": IDT entry {vector:#04x}: {rule}"),
            Why::IoDenied { port, size, cpl, iopl, bitmap: true } => write!(
                f,
                ": {size}-byte I/O at port {port:#06x} with CPL {cpl} > IOPL {iopl}, and the TSS I/O \
                 permission bitmap denies it"
            ),
            Why::IoDenied { port, size, cpl, iopl, bitmap: false } => write!(
                f,
                ": {size}-byte I/O at port {port:#06x} with CPL {cpl} > IOPL {iopl}, and the TSS has no \
                 I/O permission bitmap covering it"
            ),
            Why::InnerStack { selector, offset, limit } => write!(
                f,
                ": push at offset {offset:#x} of the new stack {selector:#06x} (from the TSS) is outside \
                 its limit {limit:#x}"
            ),
            Why::Alignment { linear, size } => write!(
                f,
                ": {size}-byte access at linear address {linear:#010x} is not {size}-byte aligned \
                 (CPL 3 with CR0.AM = 1 and EFLAGS.AC = 1)"
            ),
            Why::Rule(rule) => write!(f, ": {rule}"),
        }
    }
}

fn seg_name(seg: u8) -> &'static str {
    super::regs::Seg::ALL.get(seg as usize).map_or("?", |s| s.name())
}

/// Shorthand for handler results.
pub type Res<T = ()> = Result<T, Fault>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_name_what_happened() {
        let null = Fault::gp0(Why::NullSegment { seg: 3 }).to_string();
        assert!(null.starts_with("#GP(0x0) general protection: ds holds a null selector"), "{null}");
        let ed = Fault::gp0(Why::ExpandDown { seg: 0, offset: 0xFFF, size: 1, limit: 0xFFF, upper: 0xFFFF });
        assert!(ed.to_string().contains("valid offsets are 0x1000..=0xffff"), "{ed}");
        let idt = Fault::with_error(vector::NP, 0x33, Why::Idt { vector: 6, rule: "gate not present (P = 0)" });
        assert_eq!(idt.to_string(), "#NP(0x33) segment not present: IDT entry 0x06: gate not present (P = 0)");
        let io = Fault::gp0(Why::IoDenied { port: 0x80, size: 1, cpl: 3, iopl: 0, bitmap: true }).to_string();
        assert!(io.contains("port 0x0080") && io.contains("bitmap denies"), "{io}");
        let ro = Fault::gp0(Why::SegmentRights { seg: 0, selector: 0x58, write: true, code: false }).to_string();
        assert!(ro.contains("read-only data segment: es = 0x0058"), "{ro}");
    }
}
