//! The little language of debugger arguments: numbers, registers, symbols, addresses and
//! breakpoint conditions.
//!
//! - Numbers: `0x1f` or `1fh` (hex), `31` (decimal), `0b11111` (binary).
//! - Values: a number, a register (`eax`, `$eax`, `ax`, `al`, `eip`, `esp`, `cs`, `cr0`, `cpl`,
//!   ...) or a symbol, combined with `+` and `-`: `esp+8`, `main+0x10`.
//! - Addresses: `seg:off` (both parts hex, as everyone writes them: `f000:fff0`, `0008:1000`; the
//!   segment part may be a register: `ss:esp`, `ds:0x500`), a linear address (a value), or
//!   `phys:VALUE`. For memory commands, `seg:off` becomes a linear address through the segment's
//!   base (the cached base for a segment register; for a number, `sel << 4` in real and
//!   virtual-8086 mode, the descriptor's base in protected mode). For breakpoints, `seg:off` means
//!   "CS holds this selector and EIP this offset".
//! - Conditions: `LHS OP RHS` with OP one of `==`, `!=`, `<`, `>`, `<=`, `>=`, where each side is
//!   a value or a memory operand `[ADDR]` (a byte), `word [ADDR]`, `dword [ADDR]`.

use super::{Debugger, Loc, Space};
use crate::cpu::regs::{GPR_NAMES, Seg};
use crate::cpu::segment::Descriptor;

/// Parses a number: `0x..`, `..h`, `0b..`, or decimal.
pub fn parse_num(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else if let Some(b) = t.strip_prefix("0b") {
        u64::from_str_radix(b, 2)
    } else if let Some(h) = t.strip_suffix('h').or_else(|| t.strip_suffix('H')) {
        u64::from_str_radix(h, 16)
    } else {
        t.parse::<u64>()
    };
    r.map_err(|_| format!("'{s}' is not a number (write hex as 0x1f, decimal as 31)"))
}

/// Parses a hex number written without prefix (the parts of `seg:off`), or any [`parse_num`] form.
fn parse_hex_bare(s: &str) -> Option<u64> {
    let t = s.trim();
    if t.starts_with("0x") || t.starts_with("0X") {
        return parse_num(t).ok();
    }
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_hexdigit()) {
        return u64::from_str_radix(t, 16).ok();
    }
    None
}

/// A register the debugger can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    /// General register by encoding number, with width (1 low byte, 5 high byte, 2, 4).
    Gpr(usize, u8),
    Eip,
    Eflags,
    Sreg(Seg),
    Cr(u8),
    Dr(u8),
    Cpl,
}

/// Looks up a register name (with or without `$`).
pub fn reg_by_name(name: &str) -> Option<Reg> {
    let n = name.trim().trim_start_matches('$').to_ascii_lowercase();
    if let Some(i) = GPR_NAMES.iter().position(|r| *r == n) {
        return Some(Reg::Gpr(i, 4));
    }
    const W: [&str; 8] = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
    if let Some(i) = W.iter().position(|r| *r == n) {
        return Some(Reg::Gpr(i, 2));
    }
    const BL: [&str; 4] = ["al", "cl", "dl", "bl"];
    if let Some(i) = BL.iter().position(|r| *r == n) {
        return Some(Reg::Gpr(i, 1));
    }
    const BH: [&str; 4] = ["ah", "ch", "dh", "bh"];
    if let Some(i) = BH.iter().position(|r| *r == n) {
        return Some(Reg::Gpr(i, 5));
    }
    if let Some(s) = Seg::ALL.iter().find(|s| s.name() == n) {
        return Some(Reg::Sreg(*s));
    }
    Some(match n.as_str() {
        "eip" | "ip" | "pc" => Reg::Eip,
        "eflags" | "flags" => Reg::Eflags,
        "cr0" => Reg::Cr(0),
        "cr2" => Reg::Cr(2),
        "cr3" => Reg::Cr(3),
        "cr4" => Reg::Cr(4),
        "cpl" => Reg::Cpl,
        _ => {
            let d = n.strip_prefix("dr")?.parse::<u8>().ok()?;
            if d < 8 { Reg::Dr(d) } else { return None }
        }
    })
}

impl Debugger {
    /// The value of a register.
    pub fn reg_value(&self, r: Reg) -> u32 {
        let c = &self.m.cpu;
        match r {
            Reg::Gpr(i, 4) => c.gpr[i],
            Reg::Gpr(i, 2) => c.gpr[i] & 0xFFFF,
            Reg::Gpr(i, 1) => c.gpr[i] & 0xFF,
            Reg::Gpr(i, _) => (c.gpr[i] >> 8) & 0xFF,
            Reg::Eip => c.eip,
            Reg::Eflags => c.flags.eflags(),
            Reg::Sreg(s) => c.seg[s as usize].selector as u32,
            Reg::Cr(0) => c.cr0.bits(),
            Reg::Cr(2) => c.cr2,
            Reg::Cr(3) => c.cr3,
            Reg::Cr(_) => c.cr4.bits(),
            Reg::Dr(n) => c.dr[n as usize],
            Reg::Cpl => c.cpl as u32,
        }
    }

    /// Sets a register as `set REG = VALUE` does. Segment registers are loaded the way the
    /// current mode loads them, without privilege checks (the debugger is not the guest).
    pub fn set_reg(&mut self, r: Reg, v: u32) -> Result<(), String> {
        // The past no longer leads here: going back starts again from now.
        self.timeline_restart();
        let mode = self.m.cpu.mode();
        let c = &mut self.m.cpu;
        match r {
            Reg::Gpr(i, 4) => c.gpr[i] = v,
            Reg::Gpr(i, 2) => c.gpr[i] = (c.gpr[i] & 0xFFFF_0000) | (v & 0xFFFF),
            Reg::Gpr(i, 1) => c.gpr[i] = (c.gpr[i] & !0xFF) | (v & 0xFF),
            Reg::Gpr(i, _) => c.gpr[i] = (c.gpr[i] & !0xFF00) | ((v & 0xFF) << 8),
            Reg::Eip => {
                c.eip = v;
                c.next_eip = v;
                c.halted = false;
            }
            Reg::Eflags => c.flags.set_masked(v, u32::MAX),
            Reg::Sreg(s) => {
                let sel = v as u16;
                match mode {
                    crate::cpu::Mode::Real => c.seg[s as usize].load_real(sel),
                    crate::cpu::Mode::Virtual8086 => c.load_seg_v86(s, sel),
                    crate::cpu::Mode::Protected => {
                        if sel & !3 == 0 && s != Seg::Cs {
                            c.seg[s as usize].selector = sel;
                            c.seg[s as usize].attr = crate::cpu::SegAttr::empty();
                        } else {
                            let d = self.descriptor(sel)?;
                            let c = &mut self.m.cpu;
                            c.seg[s as usize] = d.to_cache(sel);
                            if s == Seg::Cs {
                                c.cpl = (sel & 3) as u8;
                            }
                        }
                    }
                }
            }
            Reg::Cr(0) => {
                c.cr0 = crate::cpu::Cr0::from_bits_retain(v);
                c.flush_tlb(true);
            }
            Reg::Cr(2) => c.cr2 = v,
            Reg::Cr(3) => {
                c.cr3 = v;
                c.flush_tlb(false);
            }
            Reg::Cr(_) => {
                c.cr4 = crate::cpu::Cr4::from_bits_truncate(v);
                c.flush_tlb(true);
            }
            Reg::Dr(n) => {
                c.dr[n as usize] = v;
                c.update_breakpoints();
            }
            Reg::Cpl => {
                if v > 3 {
                    return Err("CPL is 0 to 3".into());
                }
                c.cpl = v as u8;
            }
        }
        self.m.cpu.invalidate_cursor();
        Ok(())
    }

    /// Reads a descriptor from the GDT or LDT without side effects.
    pub fn descriptor(&self, sel: u16) -> Result<Descriptor, String> {
        let addr = self
            .m
            .cpu
            .descriptor_addr(sel)
            .ok_or_else(|| format!("selector {sel:#06x} lies beyond its descriptor table (or no LDT is loaded)"))?;
        let b = self.read_mem(Space::Linear, addr, 8)?;
        Ok(Descriptor(u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))))
    }

    /// The linear base of a segment: a register's cached base, or a selector's (real mode:
    /// `sel << 4`; protected mode: from its descriptor).
    fn seg_base(&self, part: &str) -> Result<u32, String> {
        if let Some(Reg::Sreg(s)) = reg_by_name(part) {
            return Ok(self.m.cpu.seg[s as usize].base);
        }
        let sel = parse_hex_bare(part).ok_or_else(|| format!("'{part}' is not a segment register or selector"))?;
        if sel > 0xFFFF {
            return Err(format!("selector {sel:#x} is wider than 16 bits"));
        }
        let sel = sel as u16;
        if self.m.cpu.protected() { Ok(self.descriptor(sel)?.base()) } else { Ok((sel as u32) << 4) }
    }

    /// Evaluates a value: terms joined by `+` and `-` (wrapping to 64 bits).
    pub fn eval(&self, s: &str) -> Result<u64, String> {
        self.eval_wide(s).map(|v| v as u64)
    }

    fn eval_wide(&self, s: &str) -> Result<i128, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("missing value".into());
        }
        let mut total: i128 = 0;
        let mut sign = 1i128;
        let mut term = String::new();
        let flush = |term: &str, sign: i128, total: &mut i128| -> Result<(), String> {
            let t = term.trim();
            if t.is_empty() {
                return Err(format!("'{s}': missing a term"));
            }
            *total += sign * self.eval_term(t)? as i128;
            Ok(())
        };
        for (i, ch) in s.char_indices() {
            if (ch == '+' || ch == '-') && i > 0 {
                flush(&term, sign, &mut total)?;
                term.clear();
                sign = if ch == '+' { 1 } else { -1 };
            } else if (ch == '+' || ch == '-') && i == 0 {
                sign = if ch == '+' { 1 } else { -1 };
            } else {
                term.push(ch);
            }
        }
        flush(&term, sign, &mut total)?;
        Ok(total)
    }

    fn eval_term(&self, t: &str) -> Result<u64, String> {
        if let Some(r) = reg_by_name(t) {
            return Ok(self.reg_value(r) as u64);
        }
        if t.starts_with(|c: char| c.is_ascii_digit()) {
            return parse_num(t);
        }
        if let Some(a) = self.syms.lookup(t) {
            return Ok(a as u64);
        }
        if parse_hex_bare(t).is_some() {
            return Err(format!("unknown symbol '{t}' (write hex numbers as 0x{t})"));
        }
        Err(format!("'{t}' is not a number, register or known symbol"))
    }

    /// A 32-bit value.
    pub fn eval32(&self, s: &str) -> Result<u32, String> {
        let v = self.eval_wide(s)?;
        if v > u32::MAX as i128 || v < -(u32::MAX as i128) {
            return Err(format!("'{s}' does not fit in 32 bits"));
        }
        Ok(v as u32)
    }

    /// A memory address: `phys:V`, `seg:off` (made linear), or a linear value.
    pub fn parse_addr(&self, s: &str) -> Result<(Space, u32), String> {
        let s = s.trim();
        if let Some(p) = s.strip_prefix("phys:") {
            return Ok((Space::Phys, self.eval32(p)?));
        }
        if let Some((seg, off)) = s.split_once(':') {
            let base = self.seg_base(seg)?;
            let off = self.eval_off(off)?;
            return Ok((Space::Linear, base.wrapping_add(off)));
        }
        Ok((Space::Linear, self.eval32(s)?))
    }

    fn eval_off(&self, off: &str) -> Result<u32, String> {
        match parse_hex_bare(off) {
            Some(v) if reg_by_name(off).is_none() && self.syms.lookup(off).is_none() => {
                u32::try_from(v).map_err(|_| format!("offset {off} is wider than 32 bits"))
            }
            _ => self.eval32(off),
        }
    }

    /// A breakpoint place: `seg:off` (CS selector and EIP), `phys:A`, or a linear value/symbol.
    pub fn parse_loc(&self, s: &str) -> Result<Loc, String> {
        let s = s.trim();
        if let Some(p) = s.strip_prefix("phys:") {
            return Ok(Loc::Phys(self.eval32(p)?));
        }
        if let Some((seg, off)) = s.split_once(':') {
            let sel = match reg_by_name(seg) {
                Some(Reg::Sreg(sr)) => self.m.cpu.seg[sr as usize].selector as u64,
                _ => {
                    parse_hex_bare(seg).ok_or_else(|| format!("'{seg}' is not a selector (hex) or segment register"))?
                }
            };
            if sel > 0xFFFF {
                return Err(format!("selector {sel:#x} is wider than 16 bits"));
            }
            return Ok(Loc::SegOff { sel: sel as u16, off: self.eval_off(off)? });
        }
        Ok(Loc::Linear(self.eval32(s)?))
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// One side of a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A value expression, evaluated when the breakpoint is reached (registers change).
    Value(String),
    /// Memory: `size` bytes at an address expression.
    Mem { addr: String, size: u32 },
}

/// A breakpoint condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    pub lhs: Operand,
    pub op: Op,
    pub rhs: Operand,
    /// As the user wrote it.
    pub text: String,
}

fn parse_operand(s: &str) -> Result<Operand, String> {
    let s = s.trim();
    let (size, rest) = if let Some(r) = s.strip_prefix("byte") {
        (1, r.trim_start())
    } else if let Some(r) = s.strip_prefix("word") {
        (2, r.trim_start())
    } else if let Some(r) = s.strip_prefix("dword") {
        (4, r.trim_start())
    } else {
        (1, s)
    };
    if let Some(inner) = rest.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or_else(|| format!("'{s}': missing ']'"))?;
        return Ok(Operand::Mem { addr: inner.trim().to_string(), size });
    }
    if s.is_empty() {
        return Err("a condition needs a value on both sides".into());
    }
    Ok(Operand::Value(s.to_string()))
}

impl Cond {
    /// Parses `LHS OP RHS`.
    pub fn parse(s: &str) -> Result<Cond, String> {
        for (tok, op) in [("==", Op::Eq), ("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
        {
            if let Some((l, r)) = s.split_once(tok) {
                return Ok(Cond { lhs: parse_operand(l)?, op, rhs: parse_operand(r)?, text: s.trim().to_string() });
            }
        }
        Err(format!("'{s}': a condition is LHS OP RHS with OP one of == != < > <= >= (e.g. eax == 0x10)"))
    }

    /// Checks the syntax of both sides against the debugger now (unknown names are errors).
    pub fn validate(&self, d: &Debugger) -> Result<(), String> {
        self.eval(d).map(|_| ())
    }

    /// Evaluates the condition. Unreadable memory is an error.
    pub fn eval(&self, d: &Debugger) -> Result<bool, String> {
        let get = |o: &Operand| -> Result<u64, String> {
            match o {
                Operand::Value(v) => d.eval(v),
                Operand::Mem { addr, size } => {
                    let (sp, a) = d.parse_addr(addr)?;
                    let b = d.read_mem(sp, a, *size)?;
                    Ok(b.iter().rev().fold(0u64, |acc, x| (acc << 8) | *x as u64))
                }
            }
        };
        let (l, r) = (get(&self.lhs)?, get(&self.rhs)?);
        Ok(match self.op {
            Op::Eq => l == r,
            Op::Ne => l != r,
            Op::Lt => l < r,
            Op::Gt => l > r,
            Op::Le => l <= r,
            Op::Ge => l >= r,
        })
    }
}

/// Parses a byte list: hex pairs (`90 90 cc`, `9090cc`, `0x90,0xcc`) or a quoted string.
pub fn parse_bytes(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if let Some(q) = s.strip_prefix('"') {
        let q = q.strip_suffix('"').ok_or("missing closing quote")?;
        return Ok(q.replace("\\n", "\n").replace("\\0", "\0").into_bytes());
    }
    let mut out = Vec::new();
    for tok in s.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()) {
        let t = tok.trim_start_matches("0x").trim_start_matches("0X");
        if !t.len().is_multiple_of(2) || !t.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("'{tok}' is not a list of hex bytes (e.g. 90 cc or 90cc)"));
        }
        for i in (0..t.len()).step_by(2) {
            out.push(u8::from_str_radix(&t[i..i + 2], 16).map_err(|e| e.to_string())?);
        }
    }
    if out.is_empty() {
        return Err("no bytes given".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_num("0x1f"), Ok(31));
        assert_eq!(parse_num("1fh"), Ok(31));
        assert_eq!(parse_num("31"), Ok(31));
        assert_eq!(parse_num("0b101"), Ok(5));
        assert!(parse_num("zz").is_err());
        assert_eq!(parse_hex_bare("f000"), Some(0xF000));
    }

    #[test]
    fn registers() {
        assert_eq!(reg_by_name("$eax"), Some(Reg::Gpr(0, 4)));
        assert_eq!(reg_by_name("AH"), Some(Reg::Gpr(0, 5)));
        assert_eq!(reg_by_name("cs"), Some(Reg::Sreg(Seg::Cs)));
        assert_eq!(reg_by_name("dr7"), Some(Reg::Dr(7)));
        assert_eq!(reg_by_name("dr9"), None);
        assert_eq!(reg_by_name("foo"), None);
    }

    #[test]
    fn conditions_and_bytes() {
        let c = Cond::parse("eax == 0x10").unwrap();
        assert_eq!(c.op, Op::Eq);
        assert_eq!(c.lhs, Operand::Value("eax".into()));
        let c = Cond::parse("dword [esp+4] != 3").unwrap();
        assert_eq!(c.lhs, Operand::Mem { addr: "esp+4".into(), size: 4 });
        assert_eq!(c.op, Op::Ne);
        assert!(Cond::parse("eax 3").is_err());
        assert!(Cond::parse("[0x500 == 1").is_err());
        assert_eq!(parse_bytes("90 cc"), Ok(vec![0x90, 0xCC]));
        assert_eq!(parse_bytes("0x90,0xcc"), Ok(vec![0x90, 0xCC]));
        assert_eq!(parse_bytes("\"AB\""), Ok(b"AB".to_vec()));
        assert!(parse_bytes("9").is_err());
    }
}
