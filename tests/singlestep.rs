//! Hardware-captured single-instruction tests: the SingleStepTests 80286 real-mode suite
//! (see `../shared/singlestep/README.md`).
//!
//! Every test gives the registers and the RAM bytes an instruction needs, the instruction
//! followed by HLT, and what a real 80C286 changed. The harness loads that state into an x86lab
//! [`Cpu`] over a flat 16 MiB bus, steps until the CPU halts (an exception goes through the
//! real-mode IVT, whose entries and handlers, which end in HLT too, are in the test RAM), and
//! compares every register, the flags under the form's `flags-mask` from `metadata.json`, and
//! every RAM byte (plus: no other byte may change).
//!
//! x86lab models a 386+/P6 processor and must not copy 286 quirks to pass. Where a 286 and a
//! 386 differ by design, each difference is handled with its reason written next to it:
//! - FLAGS bits 12-15 are never compared ([`FLAGS_COMPARED`]);
//! - narrow conditions compare everything but a named register or flag ([`MASKS`]);
//! - an SS-segment overrun is #SS on a 386 where the 286 raised interrupt 13: vector 12 is
//!   pointed at the 286's handler so the rest is compared (see [`run`]);
//! - LOCK on a non-lockable instruction is checked against the SDM's #UD instead ([`run_lock`]);
//! - what cannot be compared at all is excluded ([`EXCLUSIONS`]), under 2% of all tests (the
//!   test asserts it).
//!
//! Run with `cargo test --test singlestep -- --nocapture` to see the per-form table.

use iced_x86::{Decoder, DecoderOptions, Mnemonic, OpKind, Register};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use x86lab::cpu::{Cpu, CpuBus, Flags, Seg, regs};

/// Steps allowed before a test counts as "did not reach HLT" (instruction, maybe an exception
/// delivery, the HLT; a REP string instruction restarts itself every few thousand iterations).
const MAX_STEPS: usize = 64;

/// FLAGS bits compared in every test: bits 12-15 are never compared.
///
/// Reason (80286 vs 80386): in real mode an 80286 keeps FLAGS bits 12-15 (IOPL, NT, bit 15)
/// clear; POPF and IRET cannot set them, and PUSHF/INT push them as 0. An 80386 and later let
/// real-mode POPF/IRET write IOPL and NT (SDM Vol. 2B "POPF": at CPL 0 "all non-reserved flags
/// can be modified"; Vol. 2A "IRET": in real mode "EFLAGS[15:0] <- Pop()"). For the same reason
/// the initial FLAGS of a test are loaded with bits 12-15 clear: the values the test generator
/// asked for there could never be the 286's state, and the captured results show it (an ADD
/// clears them).
const FLAGS_COMPARED: u16 = 0x0FFF;

/// A form, or a narrow condition within a form, that is not compared with the 286, and why.
struct Exclusion {
    /// File stem of the form ("D8", "80.1").
    form: &'static str,
    /// Which tests of the form; `None` = all of them.
    when: Option<fn(&Case) -> bool>,
    reason: &'static str,
}

const EXCLUSIONS: &[Exclusion] = &[
    Exclusion {
        form: "D8",
        when: None,
        reason: "x87 escape D8: the capture rig has no 80287, so the 286 passes over ESC \
                 (only its memory operand's offset is checked) and changes nothing but IP; \
                 x86lab models a P6 whose on-chip x87 executes it (CR0.ET=1; SDM Vol. 1 §8), \
                 and does not emulate the x87 yet",
    },
    Exclusion {
        form: "",
        when: Some(longer_than_10),
        reason: "instruction (with its redundant prefixes) longer than 10 bytes: the 286 limit is \
                 10 bytes (interrupt 13 beyond it), the 80386 and later allow 15 \
                 (SDM Vol. 2A §2.3.11)",
    },
    Exclusion {
        form: "8C",
        when: Some(sreg_fs_gs),
        reason: "MOV r/m16,Sreg with Sreg field 4 or 5: undefined on the 286 (interrupt 6), FS and \
                 GS since the 80386 (SDM Vol. 2B \"MOV\")",
    },
    Exclusion {
        form: "8E",
        when: Some(sreg_fs_gs),
        reason: "MOV Sreg,r/m16 with Sreg field 4 or 5: undefined on the 286 (interrupt 6), FS and \
                 GS since the 80386 (SDM Vol. 2B \"MOV\")",
    },
];

/// The instruction under test (before its HLT) is longer than 10 bytes.
fn longer_than_10(c: &Case) -> bool {
    c.bytes.len().saturating_sub(1) > 10
}

/// The ModRM Sreg field names FS or GS.
fn sreg_fs_gs(c: &Case) -> bool {
    matches!(c.opcode_and_reg().1, 4 | 5)
}

/// A narrow 286-vs-386 difference that the comparison leaves out; the test still runs and
/// everything else is compared.
struct Mask {
    name: &'static str,
    when: fn(&Case) -> bool,
    /// Registers not compared.
    regs: &'static [&'static str],
    /// FLAGS bits not compared.
    flags: u16,
    /// IP compared modulo 64K.
    ip16: bool,
    reason: &'static str,
}

const MASKS: &[Mask] = &[
    Mask {
        name: "string-overrun",
        when: string_overrun,
        regs: &["si", "di", "cx"],
        flags: 0,
        ip16: false,
        reason: "a 286 string instruction that overruns offset FFFF has already stepped SI/DI \
                 (and counted CX down under REP) when it takes interrupt 13; an 80386 and later \
                 fault with every register unchanged so the instruction restarts \
                 (SDM Vol. 3A §6.5: a fault leaves the state as it was before the instruction)",
    },
    Mask {
        name: "shift-imm-OF",
        when: shift_imm_count_above_1,
        regs: &[],
        flags: 0x0800,
        ip16: false,
        reason: "C0 /r shifts and rotates by an immediate count above 1: OF is undefined \
                 (SDM Vol. 2B \"SAL/SAR/SHL/SHR\", \"RCL/RCR/ROL/ROR\": OF is affected only by \
                 1-bit shifts); metadata.json masks it for C1, D2 and D3 but not for C0",
    },
    Mask {
        name: "ip-wrap-after-hlt",
        when: ip_wraps_after_hlt,
        regs: &[],
        flags: 0,
        ip16: true,
        reason: "the closing HLT sits at offset FFFF: the 286 wraps IP to 0000 after it, an \
                 80386 leaves EIP = 10000 (and would raise #GP(0) at the next fetch, \
                 SDM Vol. 3A §20.1.1); the tested instruction itself is fully compared",
    },
];

/// A string instruction (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS) on which the 286 took
/// interrupt 13.
fn string_overrun(c: &Case) -> bool {
    c.exception.is_some_and(|(v, _)| v == 13) && matches!(c.opcode_and_reg().0, 0x6C..=0x6F | 0xA4..=0xA7 | 0xAA..=0xAF)
}

/// C0 /r (shift or rotate r/m8 by imm8) with a masked count above 1.
fn shift_imm_count_above_1(c: &Case) -> bool {
    let code = c.bytes.get(..c.bytes.len().saturating_sub(1)).unwrap_or(&[]);
    let ins = Decoder::with_ip(16, code, 0, DecoderOptions::NO_INVALID_CHECK).decode();
    c.opcode_and_reg().0 == 0xC0 && ins.op1_kind() == OpKind::Immediate8 && ins.immediate8() & 0x1F > 1
}

/// The 286's IP after the HLT wrapped from 10000 to 0000.
fn ip_wraps_after_hlt(c: &Case) -> bool {
    c.reg1("ip") == 0
}

// ---- test data --------------------------------------------------------------------------

/// One test, as read from the JSON.
struct Case {
    idx: u64,
    name: String,
    bytes: Vec<u8>,
    init: HashMap<String, u32>,
    init_ram: Vec<(u32, u8)>,
    fin: HashMap<String, u32>,
    fin_ram: Vec<(u32, u8)>,
    /// The 286 took this exception; its FLAGS image was pushed at `flag_address`.
    exception: Option<(u8, u32)>,
    hash: String,
}

impl Case {
    fn parse(v: &Value) -> Result<Case, String> {
        let regs = |r: &Value| -> Result<HashMap<String, u32>, String> {
            let o = r.as_object().ok_or("regs is not an object")?;
            o.iter().map(|(k, v)| Ok((k.clone(), v.as_u64().ok_or(format!("register {k}"))? as u32))).collect()
        };
        let ram = |r: &Value| -> Result<Vec<(u32, u8)>, String> {
            r.as_array()
                .ok_or("ram is not an array")?
                .iter()
                .map(|p| {
                    let a = p.get(0).and_then(Value::as_u64).ok_or("ram address")?;
                    let b = p.get(1).and_then(Value::as_u64).ok_or("ram byte")?;
                    Ok((a as u32, b as u8))
                })
                .collect()
        };
        let exception = match v.get("exception") {
            Some(e) => Some((
                e["number"].as_u64().ok_or("exception number")? as u8,
                e["flag_address"].as_u64().ok_or("exception flag_address")? as u32,
            )),
            None => None,
        };
        Ok(Case {
            idx: v["idx"].as_u64().unwrap_or(0),
            name: v["name"].as_str().unwrap_or("?").to_string(),
            bytes: v["bytes"]
                .as_array()
                .ok_or("bytes")?
                .iter()
                .map(|b| b.as_u64().map(|b| b as u8).ok_or("byte"))
                .collect::<Result<_, _>>()?,
            init: regs(&v["initial"]["regs"])?,
            init_ram: ram(&v["initial"]["ram"])?,
            fin: regs(&v["final"]["regs"])?,
            fin_ram: ram(&v["final"]["ram"])?,
            exception,
            hash: v["hash"].as_str().unwrap_or("").to_string(),
        })
    }

    /// Initial value of a register.
    fn reg0(&self, r: &str) -> u32 {
        self.init.get(r).copied().unwrap_or(0)
    }

    /// Final value of a register (unchanged ones are not listed).
    fn reg1(&self, r: &str) -> u32 {
        self.fin.get(r).copied().unwrap_or_else(|| self.reg0(r))
    }

    /// The opcode byte and the ModRM reg field after any prefixes.
    fn opcode_and_reg(&self) -> (u8, u8) {
        let mut i = 0;
        while i < self.bytes.len() && matches!(self.bytes[i], 0x26 | 0x2E | 0x36 | 0x3E | 0xF0 | 0xF2 | 0xF3) {
            i += 1;
        }
        let op = self.bytes.get(i).copied().unwrap_or(0);
        let reg = self.bytes.get(i + 1).map_or(0, |m| (m >> 3) & 7);
        (op, reg)
    }

    /// True when the instruction addresses memory through SS: an SS-relative operand, or a
    /// stack operation (PUSH, POP, CALL, RET, INT, IRET, ENTER, LEAVE, PUSHA, POPA).
    fn uses_ss(&self) -> bool {
        let code = &self.bytes[..self.bytes.len().saturating_sub(1)];
        let ins = Decoder::with_ip(16, code, 0, DecoderOptions::NO_INVALID_CHECK).decode();
        let mem = (0..ins.op_count()).any(|i| {
            matches!(ins.op_kind(i), OpKind::Memory | OpKind::MemorySegSI | OpKind::MemorySegESI | OpKind::MemorySegDI)
        });
        (mem && ins.memory_segment() == Register::SS)
            || ins.is_stack_instruction()
            || ins.stack_pointer_increment() != 0
    }

    /// True when LOCK prefixes an instruction that an 80386 and later refuse to lock.
    fn bad_lock(&self) -> bool {
        let code = &self.bytes[..self.bytes.len().saturating_sub(1)];
        let strict = Decoder::with_ip(16, code, 0, DecoderOptions::NONE).decode();
        let lax = Decoder::with_ip(16, code, 0, DecoderOptions::NO_INVALID_CHECK).decode();
        strict.is_invalid() && !lax.is_invalid() && lax.has_lock_prefix() && lax.mnemonic() != Mnemonic::INVALID
    }

    fn describe(&self, form: &str) -> String {
        let hex: Vec<String> = self.bytes.iter().map(|b| format!("{b:02X}")).collect();
        format!("{form} #{} `{}` [{}] ({})", self.idx, self.name, hex.join(" "), &self.hash[..self.hash.len().min(12)])
    }
}

/// Flags-mask of a form or of one ModRM /reg of it (metadata.json, "opcodes").
fn flags_mask(meta: &Value, form: &str, case: &Case) -> u16 {
    let mut parts = form.split('.');
    let op = parts.next().unwrap_or("");
    let entry = &meta["opcodes"][op];
    let entry = if entry.get("reg").is_some() {
        let reg = match parts.next() {
            Some(r) => r.to_string(),
            None => case.opcode_and_reg().1.to_string(),
        };
        &entry["reg"][reg.as_str()]
    } else {
        entry
    };
    entry.get("flags-mask").and_then(Value::as_u64).map_or(0xFFFF, |m| m as u16)
}

// ---- the bus ----------------------------------------------------------------------------

const MEM_SIZE: usize = 16 << 20;

/// Flat 16 MiB of RAM that logs every write; I/O reads float high, writes are ignored.
struct TestBus {
    mem: Vec<u8>,
    writes: Vec<u32>,
}

impl TestBus {
    #[inline]
    fn at(addr: u32) -> usize {
        addr as usize & (MEM_SIZE - 1)
    }
}

impl CpuBus for TestBus {
    fn read8(&mut self, addr: u32) -> u8 {
        self.mem[Self::at(addr)]
    }
    fn write8(&mut self, addr: u32, value: u8) {
        let a = Self::at(addr);
        self.writes.push(a as u32);
        self.mem[a] = value;
    }
    fn fetch(&mut self, addr: u32, buf: &mut [u8]) {
        let a = Self::at(addr);
        let n = buf.len().min(MEM_SIZE - a);
        buf[..n].copy_from_slice(&self.mem[a..a + n]);
        for (i, b) in buf[n..].iter_mut().enumerate() {
            *b = self.mem[i];
        }
    }
    fn io_in(&mut self, _port: u16, size: u8) -> u32 {
        match size {
            1 => 0xFF,
            2 => 0xFFFF,
            _ => u32::MAX,
        }
    }
    fn io_out(&mut self, _port: u16, _size: u8, _value: u32) {}
}

// ---- running one test -------------------------------------------------------------------

const GPRS: [(&str, usize); 8] = [
    ("ax", regs::EAX),
    ("cx", regs::ECX),
    ("dx", regs::EDX),
    ("bx", regs::EBX),
    ("sp", regs::ESP),
    ("bp", regs::EBP),
    ("si", regs::ESI),
    ("di", regs::EDI),
];
const SEGS: [(&str, Seg); 4] = [("es", Seg::Es), ("cs", Seg::Cs), ("ss", Seg::Ss), ("ds", Seg::Ds)];

enum Outcome {
    Pass,
    /// LOCK on a non-lockable instruction, checked against the SDM's #UD instead of the 286.
    LockUd,
    /// Matched the 286 except that the segment overrun was #SS (vector 12) instead of #GP.
    SsForGp,
    Fail(String),
}

/// Loads the initial state of `c`.
fn load(cpu: &mut Cpu, bus: &mut TestBus, c: &Case) {
    cpu.reset();
    cpu.last_fault = None;
    for (name, n) in GPRS {
        cpu.gpr[n] = c.reg0(name) & 0xFFFF;
    }
    // All six segment registers: after RESET, CS has base FFFF0000. The attributes stay as RESET
    // leaves them (present, read/write data; readable code), FS and GS as RESET leaves them.
    for (name, s) in SEGS {
        let sel = c.reg0(name) as u16;
        let seg = &mut cpu.seg[s as usize];
        seg.selector = sel;
        seg.base = (sel as u32) << 4;
        seg.limit = 0xFFFF;
    }
    cpu.eip = c.reg0("ip") & 0xFFFF;
    cpu.next_eip = cpu.eip;
    cpu.flags = Flags::default();
    cpu.flags.set_masked(c.reg0("flags") & FLAGS_COMPARED as u32, u32::MAX);
    bus.writes.clear();
    for &(a, b) in &c.init_ram {
        bus.mem[TestBus::at(a)] = b;
    }
}

/// Zeroes every byte the test touched, for the next one.
fn unload(bus: &mut TestBus, c: &Case) {
    for &(a, _) in &c.init_ram {
        bus.mem[TestBus::at(a)] = 0;
    }
    for i in 0..bus.writes.len() {
        let a = bus.writes[i] as usize;
        bus.mem[a] = 0;
    }
    bus.writes.clear();
}

fn fault_note(cpu: &Cpu) -> String {
    match cpu.last_fault {
        Some(f) => format!(" [x86lab raised {} at {:04x}:{:04x}]", f.fault, f.cs, f.eip),
        None => String::new(),
    }
}

fn run(cpu: &mut Cpu, bus: &mut TestBus, c: &Case, form_mask: u16, masks: &[&Mask]) -> Outcome {
    if c.bad_lock() {
        return run_lock(cpu, bus, c);
    }
    load(cpu, bus, c);
    // Reason (80286 vs 80386): a real-mode 286 reports every segment overrun (a word at offset
    // FFFF) as interrupt 13; an 80386 and later report an overrun of the SS segment as #SS,
    // interrupt 12 (SDM Vol. 2, "Real-Address Mode Exceptions" of each instruction: "#SS If a
    // memory operand effective address is outside the SS segment limit"). When the 286 took
    // interrupt 13 on an instruction that addresses memory through SS, vector 12 is pointed at
    // the same handler, so everything else (frame, handler, registers) is still compared.
    let ss_alias = c.exception.is_some_and(|(v, _)| v == 13)
        && c.uses_ss()
        && !c.init_ram.iter().any(|&(a, _)| (0x30..0x34).contains(&a));
    if ss_alias {
        bus.mem.copy_within(0x34..0x38, 0x30);
    }
    let mut steps = 0;
    while !cpu.halted && !cpu.shutdown && steps < MAX_STEPS {
        cpu.step(bus);
        steps += 1;
    }
    let skip_regs: HashSet<&str> = masks.iter().flat_map(|m| m.regs.iter().copied()).collect();
    let ip16 = masks.iter().any(|m| m.ip16);
    let fmask = form_mask & FLAGS_COMPARED & !masks.iter().fold(0, |a, m| a | m.flags);

    let mut diffs = Vec::new();
    if !cpu.halted {
        diffs.push(format!("did not reach HLT in {steps} steps (shutdown={})", cpu.shutdown));
    }
    for (name, n) in GPRS {
        let (want, got) = (c.reg1(name), cpu.gpr[n]);
        if want != got && !skip_regs.contains(name) {
            diffs.push(format!("{name}: want {want:04X} got {got:04X}"));
        }
    }
    for (name, s) in SEGS {
        let want = c.reg1(name);
        let seg = cpu.seg[s as usize];
        if want != seg.selector as u32 || seg.base != (seg.selector as u32) << 4 {
            diffs.push(format!("{name}: want {want:04X} got {:04X} (base {:X})", seg.selector, seg.base));
        }
    }
    let got_ip = if ip16 { cpu.eip & 0xFFFF } else { cpu.eip };
    if c.reg1("ip") != got_ip {
        diffs.push(format!("ip: want {:04X} got {:04X}", c.reg1("ip"), cpu.eip));
    }
    let (want_f, got_f) = (c.reg1("flags") as u16 & fmask, cpu.flags.eflags() as u16 & fmask);
    if want_f != got_f || cpu.flags.eflags() >> 16 != 0 {
        diffs.push(format!(
            "flags: want {want_f:04X} got {got_f:04X} (mask {fmask:04X}, differing {:04X}, eflags {:08X})",
            want_f ^ got_f,
            cpu.flags.eflags()
        ));
    }
    // RAM: every listed final byte, and no other byte changed. The FLAGS image an exception
    // pushed is compared under the same mask as FLAGS. It lies 4 bytes above the final SS:SP
    // (IP, CS, FLAGS); the `flag_address` of the data is the even address of the bus cycle, off
    // by one when SP is odd.
    let flags_at = c.exception.map(|_| {
        let (ss, sp) = (c.reg1("ss") << 4, c.reg1("sp"));
        (ss + (sp.wrapping_add(4) & 0xFFFF), ss + (sp.wrapping_add(5) & 0xFFFF))
    });
    let byte_mask = |a: u32| -> u8 {
        match flags_at {
            Some((lo, _)) if a == lo => fmask as u8,
            Some((_, hi)) if a == hi => (fmask >> 8) as u8,
            _ => 0xFF,
        }
    };
    let listed: HashSet<u32> = c.fin_ram.iter().map(|&(a, _)| a).collect();
    for &(a, want) in &c.fin_ram {
        let got = bus.mem[TestBus::at(a)];
        let m = byte_mask(a);
        if want & m != got & m {
            diffs.push(format!("ram[{a:06X}]: want {want:02X} got {got:02X}"));
        }
    }
    let initial: HashMap<u32, u8> = c.init_ram.iter().copied().collect();
    let mut seen = HashSet::new();
    for &a in &bus.writes {
        if listed.contains(&a) || !seen.insert(a) {
            continue;
        }
        let before = initial.get(&a).copied().unwrap_or(0);
        let got = bus.mem[a as usize];
        let m = byte_mask(a);
        if before & m != got & m {
            diffs.push(format!("ram[{a:06X}]: unchanged on the 286 ({before:02X}) but x86lab wrote {got:02X}"));
        }
    }
    let took_ss = cpu.last_fault.is_some_and(|f| f.fault.vector == 12);
    let out = if diffs.is_empty() {
        if ss_alias && took_ss { Outcome::SsForGp } else { Outcome::Pass }
    } else {
        Outcome::Fail(format!("{}{}", diffs.join("; "), fault_note(cpu)))
    };
    unload(bus, c);
    if ss_alias {
        bus.mem[0x30..0x34].fill(0);
    }
    out
}

/// LOCK before an instruction that cannot be locked: an 80286 ignores the prefix, an 80386 and
/// later raise #UD (SDM Vol. 2A "LOCK": "#UD if the LOCK prefix is used with an instruction not
/// listed"; the Intel386 manuals list it among the differences from the 80286). These tests are
/// checked against the SDM instead of the 286: one step delivers #UD for the instruction itself
/// through IVT entry 6 (real-mode delivery, SDM Vol. 3A §20.1.4): FLAGS, CS and the IP of the
/// instruction pushed, IF and TF cleared, CS:IP from the vector, nothing else changed.
fn run_lock(cpu: &mut Cpu, bus: &mut TestBus, c: &Case) -> Outcome {
    load(cpu, bus, c);
    let flags0 = cpu.flags.eflags() as u16;
    cpu.step(bus);
    let (cs, ip, sp) = (c.reg0("cs") as u16, c.reg0("ip"), c.reg0("sp"));
    let mut diffs = Vec::new();
    match cpu.last_fault {
        Some(f) if f.fault.vector == 6 && f.cs == cs && f.eip == ip => {}
        _ => diffs.push(format!("LOCK on a non-lockable instruction must raise #UD at {cs:04x}:{ip:04x}")),
    }
    // An odd SP below 6 makes a push overrun the stack segment; only the #UD is checked then.
    if sp >= 6 || sp % 2 == 0 {
        let ram: HashMap<u32, u8> = c.init_ram.iter().copied().collect();
        let byte = |a: u32| ram.get(&a).copied().unwrap_or(0) as u32;
        let (new_ip, new_cs) = (byte(0x18) | byte(0x19) << 8, byte(0x1A) | byte(0x1B) << 8);
        let ss = c.reg0("ss") << 4;
        let slot = |d: u32| ss + (sp.wrapping_sub(d) & 0xFFFF);
        let frame = [(6, ip), (4, cs as u32), (2, flags0 as u32)];
        let mut want: Vec<(String, u32, u32)> = GPRS
            .iter()
            .map(|&(name, n)| {
                (name.to_string(), if name == "sp" { sp.wrapping_sub(6) & 0xFFFF } else { c.reg0(name) }, cpu.gpr[n])
            })
            .collect();
        want.push(("cs".into(), new_cs, cpu.seg[Seg::Cs as usize].selector as u32));
        want.push(("ip".into(), new_ip, cpu.eip));
        want.push(("flags".into(), flags0 as u32 & !0x0300, cpu.flags.eflags()));
        for (d, v) in frame {
            let got = bus.mem[TestBus::at(slot(d))] as u32 | (bus.mem[TestBus::at(slot(d - 1))] as u32) << 8;
            want.push((format!("[ss:sp-{d}]"), v, got));
        }
        for (name, want, got) in want {
            if want != got {
                diffs.push(format!("{name}: want {want:04X} got {got:04X}"));
            }
        }
        let frame: HashSet<u32> = (1..=6).map(slot).collect();
        if let Some(a) = bus.writes.iter().find(|a| !frame.contains(a)) {
            diffs.push(format!("wrote ram[{a:06X}] outside the interrupt frame"));
        }
    }
    unload(bus, c);
    if diffs.is_empty() { Outcome::LockUd } else { Outcome::Fail(format!("{}{}", diffs.join("; "), fault_note(cpu))) }
}

// ---- the suite --------------------------------------------------------------------------

#[derive(Default)]
struct FormResult {
    total: usize,
    passed: usize,
    lock_ud: usize,
    ss_for_gp: usize,
    /// Tests that ran with a [`Mask`], by mask.
    masked: BTreeMap<&'static str, usize>,
    excluded: usize,
    revoked: usize,
    failed: usize,
    failures: Vec<String>,
}

/// Failures listed per form: 4, or `SINGLESTEP_SHOW` (which then also lists them all at the end).
fn show_limit() -> usize {
    std::env::var("SINGLESTEP_SHOW").ok().and_then(|v| v.parse().ok()).unwrap_or(4)
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/singlestep/80286/v1_real_mode")
}

fn run_form(
    path: &Path,
    form: &str,
    meta: &Value,
    revoked: &HashSet<String>,
    cpu: &mut Cpu,
    bus: &mut TestBus,
) -> FormResult {
    let mut r = FormResult::default();
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_reader(std::io::BufReader::new(flate2::read::GzDecoder::new(file)))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tests = json.as_array().unwrap_or_else(|| panic!("{}: not a JSON array", path.display()));
    let show = show_limit();
    let excl: Vec<&Exclusion> = EXCLUSIONS.iter().filter(|e| e.form.is_empty() || e.form == form).collect();
    for t in tests {
        r.total += 1;
        let c = Case::parse(t).unwrap_or_else(|e| panic!("{form}: bad test: {e}"));
        if revoked.contains(&c.hash) {
            r.revoked += 1;
            continue;
        }
        if excl.iter().any(|e| e.when.is_none_or(|f| f(&c))) {
            r.excluded += 1;
            continue;
        }
        let masks: Vec<&Mask> = MASKS.iter().filter(|m| (m.when)(&c)).collect();
        for m in &masks {
            *r.masked.entry(m.name).or_default() += 1;
        }
        match run(cpu, bus, &c, flags_mask(meta, form, &c), &masks) {
            Outcome::Pass => r.passed += 1,
            Outcome::LockUd => r.lock_ud += 1,
            Outcome::SsForGp => r.ss_for_gp += 1,
            Outcome::Fail(why) => {
                r.failed += 1;
                if r.failures.len() < show {
                    r.failures.push(format!("{}: {why}", c.describe(form)));
                }
            }
        }
    }
    r
}

#[test]
fn singlestep_80286_real_mode() {
    let dir = data_dir();
    assert!(
        dir.is_dir(),
        "the SingleStepTests data is missing: expected {} (CI keeps ../shared beside the clone)",
        dir.display()
    );
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("metadata.json")).expect("metadata.json is missing from the test data"),
    )
    .expect("metadata.json is not valid JSON");
    let revocations = dir.join("../revocation_list.txt");
    let revoked: HashSet<String> = std::fs::read_to_string(&revocations)
        .unwrap_or_else(|e| panic!("{}: {e}", revocations.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let mut forms: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .expect("cannot list the test data directory")
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_name()?.to_str()?.strip_suffix(".json.gz")?.to_string();
            Some((name, p))
        })
        .collect();
    forms.sort();
    assert!(!forms.is_empty(), "no *.json.gz test files in {}", dir.display());
    for e in EXCLUSIONS {
        assert!(!e.reason.trim().is_empty(), "every exclusion needs a reason");
        assert!(
            e.form.is_empty() || forms.iter().any(|(f, _)| f == e.form),
            "exclusion for form {} that has no test file",
            e.form
        );
    }

    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<String, FormResult>> = Mutex::new(BTreeMap::new());
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get()).min(forms.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut cpu = Cpu::new();
                let mut bus = TestBus { mem: vec![0; MEM_SIZE], writes: Vec::new() };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((form, path)) = forms.get(i) else { break };
                    let r = run_form(path, form, &meta, &revoked, &mut cpu, &mut bus);
                    results.lock().unwrap().insert(form.clone(), r);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();

    let mut sum = FormResult::default();
    let mut failures = Vec::new();
    for (form, r) in &results {
        let mut extra = String::new();
        if r.lock_ud > 0 {
            extra += &format!("  lock#UD {}", r.lock_ud);
        }
        if r.ss_for_gp > 0 {
            extra += &format!("  #SS-for-#GP {}", r.ss_for_gp);
        }
        if r.excluded > 0 {
            extra += &format!("  excluded {}", r.excluded);
        }
        if r.revoked > 0 {
            extra += &format!("  revoked {}", r.revoked);
        }
        let mark = if r.failed > 0 { "  FAIL" } else { "" };
        println!("{form:<6} {:>4}/{:<4}{extra}{mark}", r.passed + r.ss_for_gp, r.total);
        sum.total += r.total;
        sum.passed += r.passed;
        sum.lock_ud += r.lock_ud;
        sum.ss_for_gp += r.ss_for_gp;
        for (k, v) in &r.masked {
            *sum.masked.entry(k).or_default() += v;
        }
        sum.excluded += r.excluded;
        sum.revoked += r.revoked;
        sum.failed += r.failed;
        failures.extend(r.failures.iter().cloned());
    }
    println!(
        "singlestep 80286 real mode: {} tests in {} forms: {} passed ({} of them with #SS where the 286 \
         raised #GP), {} LOCK-#UD checked against the SDM, {} excluded ({:.2}%), {} revoked, {} failed",
        sum.total,
        results.len(),
        sum.passed + sum.ss_for_gp,
        sum.ss_for_gp,
        sum.lock_ud,
        sum.excluded,
        100.0 * sum.excluded as f64 / sum.total.max(1) as f64,
        sum.revoked,
        sum.failed
    );
    for m in MASKS {
        println!("masked in {} tests ({}): {}", sum.masked.get(m.name).copied().unwrap_or(0), m.name, m.reason);
    }
    for e in EXCLUSIONS {
        println!("excluded {}: {}", if e.form.is_empty() { "(any form, narrow condition)" } else { e.form }, e.reason);
    }
    assert!(sum.total > 0, "no tests were run");
    assert!(sum.excluded * 50 < sum.total, "exclusions cover {} of {} tests: the limit is 2%", sum.excluded, sum.total);
    if sum.failed > 0 {
        let shown: Vec<&String> = failures.iter().take(if show_limit() > 4 { usize::MAX } else { 25 }).collect();
        panic!(
            "{} of {} singlestep tests failed; first failures:\n{}",
            sum.failed,
            sum.total,
            shown.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n")
        );
    }
}
