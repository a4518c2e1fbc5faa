//! Disassembly with iced-x86's formatters: Intel syntax by default, AT&T with `set syntax att`.
//! Branch targets and memory operands that hit a loaded symbol print as `name+off`.

use super::{Debugger, Syntax};
use crate::cpu::decode::{Decoded, decode_one};
use crate::cpu::regs::Seg;
use iced_x86::{Formatter, GasFormatter, Instruction, IntelFormatter, SymbolResolver, SymbolResult};
use std::sync::Arc;

/// Decodes one instruction (`None` if the bytes do not hold a whole valid one).
pub fn decode(bytes: &[u8], bits: u32, ip: u64) -> Option<Instruction> {
    match decode_one(bytes, bits, ip) {
        Decoded::Ok(ins) if !ins.is_invalid() => Some(ins),
        _ => None,
    }
}

/// Resolves branch targets (offsets in CS) to symbols (linear addresses).
struct Resolver {
    syms: Arc<super::symbols::Symbols>,
    cs_base: u32,
    buf: String,
}

impl SymbolResolver for Resolver {
    fn symbol(
        &mut self,
        _instruction: &Instruction,
        _operand: u32,
        _instruction_operand: Option<u32>,
        address: u64,
        _address_size: u32,
    ) -> Option<SymbolResult<'_>> {
        let lin = self.cs_base.wrapping_add(address as u32);
        let (name, off) = self.syms.at_or_before(lin)?;
        if off > 0x10000 {
            return None;
        }
        self.buf = if off == 0 { name.to_string() } else { format!("{name}+{off:#x}") };
        Some(SymbolResult::with_str(address, self.buf.as_str()))
    }
}

fn formatter(d: &Debugger, cs_base: u32) -> Box<dyn Formatter> {
    let resolver: Option<Box<dyn SymbolResolver>> = if d.syms.is_empty() {
        None
    } else {
        Some(Box::new(Resolver { syms: d.syms.clone(), cs_base, buf: String::new() }))
    };
    let mut f: Box<dyn Formatter> = match d.syntax {
        Syntax::Intel => Box::new(IntelFormatter::with_options(resolver, None)),
        Syntax::Att => Box::new(GasFormatter::with_options(resolver, None)),
    };
    let o = f.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_space_after_operand_separator(true);
    o.set_branch_leading_zeros(false);
    f
}

/// Formats one decoded instruction; far branches read `jmp far sel:off` (iced's Intel syntax
/// writes `offset, selector`).
fn format_ins(f: &mut dyn Formatter, syntax: Syntax, ins: &Instruction) -> String {
    let mut s = String::new();
    f.format(ins, &mut s);
    if syntax == Syntax::Intel
        && matches!(ins.op0_kind(), iced_x86::OpKind::FarBranch16 | iced_x86::OpKind::FarBranch32)
        && let Some(i) = s.find("far ")
    {
        let off = if ins.op0_kind() == iced_x86::OpKind::FarBranch32 {
            ins.far_branch32()
        } else {
            ins.far_branch16() as u32
        };
        s.truncate(i + 4);
        s.push_str(&format!("{:#06x}:{off:#x}", ins.far_branch_selector()));
    }
    s
}

/// Formats the instruction in `bytes` at `ip` (= EIP) / `lin`; returns the text and its length
/// (0 when the bytes are not a valid instruction).
pub fn format_one(d: &Debugger, bytes: &[u8; 15], bits: u32, ip: u32, lin: u32) -> (String, u32) {
    let base = lin.wrapping_sub(ip);
    match decode(bytes, bits, ip as u64) {
        Some(ins) => (format_ins(&mut *formatter(d, base), d.syntax, &ins), ins.len() as u32),
        None => (format!("(bad) {:02x}", bytes[0]), 0),
    }
}

/// `disasm`: `n` instructions from linear `lin`, shown with CS-relative offsets when the
/// address lies in CS (as EIP would hold them).
pub fn listing(d: &Debugger, lin: u32, n: u32) -> String {
    let cs = d.m.cpu.seg[Seg::Cs as usize];
    let bits = d.code_bits();
    let in_cs = lin.wrapping_sub(cs.base) <= cs.limit;
    let mut ip = if in_cs { lin.wrapping_sub(cs.base) } else { lin };
    let mut lin = lin;
    let mut f = formatter(d, lin.wrapping_sub(ip));
    let mut out = String::new();
    let pc = d.pc_linear();
    for _ in 0..n.min(1000) {
        if let Ok(_p) = d.lin_to_phys(lin) {
        } else {
            out.push_str(&format!("{lin:#010x}: not mapped\n"));
            break;
        }
        if let Some(name) = d.syms.exact(lin) {
            out.push_str(&format!("<{name}>:\n"));
        }
        let bytes = d.code_bytes(lin);
        let (text, len) = match decode(&bytes, bits, ip as u64) {
            Some(ins) => (format_ins(&mut *f, d.syntax, &ins), ins.len()),
            None => (format!("(bad) {:02x}", bytes[0]), 1),
        };
        let hex: String = bytes[..len].iter().map(|b| format!("{b:02x}")).collect();
        let mark = if lin == pc { "=>" } else { "  " };
        let place = if in_cs { format!("{:04x}:{ip:08x}", cs.selector) } else { format!("{lin:#010x}") };
        out.push_str(&format!("{mark} {place} ({lin:#010x})  {hex:<20} {text}\n"));
        ip = ip.wrapping_add(len as u32);
        if bits == 16 && in_cs {
            ip &= 0xFFFF;
        }
        lin = lin.wrapping_add(len as u32);
        f = formatter(d, lin.wrapping_sub(ip));
    }
    out
}
