//! The command interpreter shared by the REPL and gdb's `monitor`: one line in, text out.
//! A malformed command or argument gives a one-line error, never a panic.

use super::expr::{Cond, parse_bytes, parse_num, reg_by_name};
use super::{CatchKind, Debugger, Loc, PointKind, Resume, Space, Syntax, WatchKind, disasm, memory};
use crate::cpu::access::Access;
use crate::cpu::fault::vector_name;

/// What the front end should do after a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    /// Leave the debugger with this exit status.
    Quit(i32),
    /// Serve gdb on this address (REPL only).
    Gdb(String),
}

/// The result of one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub text: String,
    pub action: Action,
}

impl Outcome {
    fn text(s: String) -> Outcome {
        Outcome { text: s, action: Action::None }
    }
}

/// A command's documentation.
pub struct Help {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    pub summary: &'static str,
    pub detail: &'static str,
    pub example: &'static str,
}

/// Every command, in the order `help` lists them.
pub const COMMANDS: &[Help] = &[
    Help {
        name: "step",
        aliases: &["s", "si", "stepi"],
        usage: "step [N]",
        summary: "execute N instructions (default 1)",
        detail: "An external interrupt delivered between two instructions counts as a step of its own and \
                 stops at the handler's first instruction. Interrupts, exceptions and mode changes are listed.",
        example: "step 10",
    },
    Help {
        name: "next",
        aliases: &["n", "ni", "nexti"],
        usage: "next",
        summary: "step over CALL, INT n and REP string instructions",
        detail: "Runs until CS:EIP reaches the next instruction with the stack back at the same depth \
                 (SS unchanged and ESP not below where it was); breakpoints on the way still stop.",
        example: "next",
    },
    Help {
        name: "continue",
        aliases: &["c", "cont"],
        usage: "continue",
        summary: "run until a breakpoint, watchpoint, catchpoint, Ctrl-C or the guest's end",
        detail: "With nothing to check between instructions (no points, no trace, `set history 0`) the guest \
                 runs at full speed; otherwise one instruction at a time with the checks after each.",
        example: "c",
    },
    Help {
        name: "until",
        aliases: &[],
        usage: "until ADDR",
        summary: "run until CS:EIP reaches ADDR",
        detail: "ADDR as for `break`: seg:off, a linear address, phys:ADDR or a symbol.",
        example: "until 0008:00100000",
    },
    Help {
        name: "reset",
        aliases: &[],
        usage: "reset",
        summary: "restart the machine at the reset vector (breakpoints and symbols stay)",
        detail: "A power cycle with fresh RAM and devices when the debugger built the machine itself.",
        example: "reset",
    },
    Help {
        name: "quit",
        aliases: &["q", "exit"],
        usage: "quit [STATUS]",
        summary: "leave the debugger",
        detail: "The process exits with STATUS (default 0).",
        example: "quit",
    },
    Help {
        name: "rstep",
        aliases: &["rs", "reverse-step"],
        usage: "rstep [N]",
        summary: "go back N steps (default 1): the state before the last N steps, exactly",
        detail: "Rebuilt from the nearest in-memory checkpoint by re-executing forward (the guest's output is not \
                 shown again). Checkpoints are taken while the guest runs under the debugger: one every \
                 `set checkpoint-interval K` instructions (default 2000000), at most `set history-checkpoints N` \
                 (default 32; 0 turns going back off); `info checkpoints` shows them and their memory. The \
                 history starts again after `restore`, `reset`, `write` or `set REG`.",
        example: "rstep 3",
    },
    Help {
        name: "rcontinue",
        aliases: &["rc", "reverse-continue"],
        usage: "rcontinue",
        summary: "run backwards to the previous breakpoint, watchpoint or catchpoint hit",
        detail: "Re-executes the recorded history segment by segment, newest first, and stops at the last \
                 breakpoint, watchpoint or catchpoint hit before now (or at the start of the history). A \
                 catchpoint stops where `continue` stopped for it: after the step with the event. No hit is \
                 counted.",
        example: "rc",
    },
    Help {
        name: "when-written",
        aliases: &["ww"],
        usage: "when-written ADDR",
        summary: "the last instruction that wrote the byte at ADDR: its instruction count, place and disassembly",
        detail: "ADDR is linear (its physical address now is followed) or phys:ADDR. Searches the recorded history \
                 backwards by re-execution; the machine stays where it is. Changes by devices (DMA) are reported \
                 too.",
        example: "when-written 0x500",
    },
    Help {
        name: "save",
        aliases: &[],
        usage: "save SNAP [DESCRIPTION]",
        summary: "save a snapshot of the whole machine (CPU, RAM, devices, changed disk blocks)",
        detail: "SNAP is a name: the file SNAP.snap in the VM folder's snapshots/ (x86lab debug NAME/), else in \
                 ./x86lab-snapshots/; a name with a / or ending in .snap is a path. The description is shown by \
                 `snapshots` and `x86lab snapshot list`.",
        example: "save booted kernel loaded, before the shell",
    },
    Help {
        name: "restore",
        aliases: &["load"],
        usage: "restore SNAP",
        summary: "restore a snapshot saved by `save` (or the command line) into this machine",
        detail: "Checked whole before anything changes: a file for another RAM size, BIOS or disk, or a damaged one, \
                 is refused and the machine stays as it was. Breakpoints and symbols stay.",
        example: "restore booted",
    },
    Help {
        name: "snapshots",
        aliases: &[],
        usage: "snapshots",
        summary: "list the saved snapshots: name, date, instruction count, size, description",
        detail: "",
        example: "snapshots",
    },
    Help {
        name: "break",
        aliases: &["b"],
        usage: "break ADDR [if COND]",
        summary: "stop before the instruction at ADDR",
        detail: "ADDR: seg:off (CS selector and EIP must match, hex: f000:e05b, 0008:1000), a linear address \
                 (0xfe05b), phys:ADDR (the physical address of CS:EIP), or a symbol (plus an offset). COND: \
                 LHS OP RHS with OP == != < > <= >= on registers, numbers and memory ([ADDR] a byte, \
                 word [ADDR], dword [ADDR]).",
        example: "break 0x100000 if eax == 0x10",
    },
    Help {
        name: "tbreak",
        aliases: &["tb"],
        usage: "tbreak ADDR [if COND]",
        summary: "a breakpoint deleted when it first stops",
        detail: "As `break`.",
        example: "tbreak f000:e05b",
    },
    Help {
        name: "delete",
        aliases: &["d"],
        usage: "delete N... | delete all",
        summary: "delete breakpoints, watchpoints or catchpoints",
        detail: "Numbers are those `breaks` shows.",
        example: "delete 1 3",
    },
    Help {
        name: "disable",
        aliases: &[],
        usage: "disable N...",
        summary: "disable points without deleting them",
        detail: "",
        example: "disable 2",
    },
    Help {
        name: "enable",
        aliases: &[],
        usage: "enable N...",
        summary: "enable points again",
        detail: "",
        example: "enable 2",
    },
    Help {
        name: "breaks",
        aliases: &["info breaks", "info break", "info breakpoints"],
        usage: "breaks",
        summary: "list breakpoints, watchpoints and catchpoints",
        detail: "",
        example: "breaks",
    },
    Help {
        name: "catch",
        aliases: &[],
        usage: "catch int [N] | catch exception [NAME|N] | catch #PF (or 14, pf) | catch mode | catch cpl | catch io PORT[-PORT]",
        summary: "stop when an event happens",
        detail: "int: an interrupt delivered (INT n or from the PIC) with vector N, or any. exception: any \
                 exception, or one by name (#GP, #PF, ...) or vector; `catch #PF` is short for it. mode: real, \
                 protected, virtual-8086 or paging mode changes. cpl: the privilege level changes. io: an IN or \
                 OUT on the port(s). The stop comes after the event, at the handler or the next instruction.",
        example: "catch #GP",
    },
    Help {
        name: "watch",
        aliases: &["awatch", "rwatch"],
        usage: "watch [r|w|rw] ADDR [LEN]",
        summary: "stop when the guest reads or writes memory (default w, LEN 1)",
        detail: "ADDR is linear (seg:off is made linear now) or phys:ADDR. Data accesses of instructions are \
                 caught as they happen; for w/rw, changes by devices or implicit CPU accesses are caught by \
                 comparing the bytes after each instruction. The guest's DR0-DR7 are not used.",
        example: "watch w 0x500 4",
    },
    Help {
        name: "regs",
        aliases: &["r", "registers", "info registers"],
        usage: "regs",
        summary: "general registers, EIP, EFLAGS and selectors (* = changed since the last stop)",
        detail: "",
        example: "regs",
    },
    Help {
        name: "sregs",
        aliases: &[],
        usage: "sregs",
        summary: "segment registers with their hidden descriptor caches, GDTR/IDTR/LDTR/TR",
        detail: "",
        example: "sregs",
    },
    Help {
        name: "cregs",
        aliases: &[],
        usage: "cregs",
        summary: "control registers with their bits named, and the debug registers",
        detail: "",
        example: "cregs",
    },
    Help {
        name: "eflags",
        aliases: &["flags"],
        usage: "eflags",
        summary: "EFLAGS decoded bit by bit",
        detail: "",
        example: "eflags",
    },
    Help {
        name: "set",
        aliases: &[],
        usage: "set REG = VALUE | set syntax intel|att | set history N | set history-checkpoints N | set checkpoint-interval K",
        summary: "change a register, the disassembly syntax, the history size, or the checkpoints for going back",
        detail: "REG: eax..edi, ax.., al.., eip, eflags, cs..gs (loaded as the current mode loads them, \
                 without privilege checks), cr0 cr2 cr3 cr4, dr0-dr7. `set history 0` turns the history off \
                 (so `continue` without points runs at full speed). `set history-checkpoints N` keeps at most N \
                 checkpoints for rstep/rcontinue/when-written (0: off), `set checkpoint-interval K` takes one every \
                 K instructions (smaller: faster going back, more time and memory spent).",
        example: "set eax = 0x10",
    },
    Help {
        name: "x",
        aliases: &[],
        usage: "x [/N{b,w,d,q}] ADDR",
        summary: "examine linear memory (through paging, without side effects)",
        detail: "N units of bytes (b), words (w), dwords (d) or qwords (q); default 64 bytes. ADDR may be \
                 seg:off, a value (esp+8), a symbol, or phys:ADDR.",
        example: "x /4d ss:esp",
    },
    Help {
        name: "xp",
        aliases: &[],
        usage: "xp [/N{b,w,d,q}] ADDR",
        summary: "examine physical memory",
        detail: "",
        example: "xp /16b 0xb8000",
    },
    Help {
        name: "dump",
        aliases: &[],
        usage: "dump ADDR LEN FILE",
        summary: "write LEN bytes of memory at ADDR (linear, or phys:ADDR) to FILE",
        detail: "",
        example: "dump 0x7c00 512 boot.bin",
    },
    Help {
        name: "write",
        aliases: &[],
        usage: "write ADDR BYTES",
        summary: "write bytes to memory (hex bytes or a \"string\")",
        detail: "ADDR linear (read-only pages are written anyway) or phys:ADDR. The decoded-instruction \
                 cache notices writes to code.",
        example: "write 0x500 90 90 cc",
    },
    Help {
        name: "search",
        aliases: &[],
        usage: "search BYTES",
        summary: "find bytes (hex or a \"string\") in physical RAM and ROM",
        detail: "Shows up to 32 physical addresses.",
        example: "search \"PASS\"",
    },
    Help {
        name: "disasm",
        aliases: &["u", "disassemble"],
        usage: "disasm [ADDR] [N]",
        summary: "disassemble N instructions (default 10) at ADDR (default CS:EIP)",
        detail: "Uses the code segment's operand size. `set syntax att` switches to AT&T syntax.",
        example: "u cs:eip 5",
    },
    Help {
        name: "info",
        aliases: &[],
        usage: "info gdt|ldt|idt|ivt [FIRST [N]]|tss|tlb|pages|pic|pit|rtc|serial|exits|vga [regs]|ata|floppy|dma|breaks|symbols|checkpoints",
        summary: "decoded system tables, paging structures and devices",
        detail: "gdt/ldt/idt: every descriptor with its type, base, limit, DPL, present bit, and gate targets. \
                 pages: every mapped linear range with its rights. tlb: the cached translations. exits: every \
                 port, interrupt and exception count.",
        example: "info gdt",
    },
    Help {
        name: "translate",
        aliases: &["tr"],
        usage: "translate ADDR [user|supervisor] [read|write|exec]",
        summary: "walk the page tables for an access, level by level, and say whether it faults and why",
        detail: "Defaults: the current privilege (user at CPL 3) and a read. Nothing is changed (no A/D bits, \
                 no TLB fill, no CR2).",
        example: "translate 0x400000 user write",
    },
    Help {
        name: "explain",
        aliases: &["why"],
        usage: "explain",
        summary: "the last exception or interrupt, in words, with the SDM section",
        detail: "Vector, fault/trap/abort, the error code decoded, the rule that failed with the descriptor or \
                 page-table entries involved, CPL/DPL/RPL.",
        example: "explain",
    },
    Help {
        name: "trace",
        aliases: &[],
        usage: "trace on|off [FILE]",
        summary: "log every executed instruction with the registers (to FILE or the terminal)",
        detail: "",
        example: "trace on /tmp/trace.txt",
    },
    Help {
        name: "history",
        aliases: &["hist"],
        usage: "history [N]",
        summary: "the last N executed instructions (default 20) with interrupts and exceptions between them",
        detail: "The ring holds the last 256 instructions run one at a time (`set history N` resizes it).",
        example: "history 10",
    },
    Help {
        name: "symbols",
        aliases: &["sym"],
        usage: "symbols FILE",
        summary: "load symbols from an ELF file or an `ADDRESS NAME` map",
        detail: "Symbols then show in listings and can be used as addresses.",
        example: "symbols kernel.elf",
    },
    Help {
        name: "where",
        aliases: &["pc"],
        usage: "where",
        summary: "where the CPU is: CS:EIP, the linear address, the instruction",
        detail: "",
        example: "where",
    },
    Help {
        name: "gdb",
        aliases: &[],
        usage: "gdb [HOST:PORT]",
        summary: "serve a gdb on HOST:PORT (default 127.0.0.1:1234) until it detaches",
        detail: "gdb's `monitor CMD` runs these commands. Only from the REPL.",
        example: "gdb 127.0.0.1:1234",
    },
    Help {
        name: "help",
        aliases: &["h", "?"],
        usage: "help [COMMAND]",
        summary: "this list, or one command in detail",
        detail: "",
        example: "help break",
    },
];

/// Finds a command by name or alias.
pub fn find(name: &str) -> Option<&'static Help> {
    COMMANDS.iter().find(|h| h.name == name || h.aliases.contains(&name))
}

fn help_text(topic: Option<&str>) -> Result<String, String> {
    match topic {
        None => {
            let mut s = String::from("commands (`help CMD` for details and an example):\n");
            for h in COMMANDS {
                let al: Vec<&&str> = h.aliases.iter().filter(|a| !a.contains(' ')).collect();
                let al = if al.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", al.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "))
                };
                s.push_str(&format!("  {:<22} {}\n", format!("{}{al}", h.name), h.summary));
            }
            Ok(s)
        }
        Some(t) => {
            let h = find(t).ok_or_else(|| format!("no command '{t}' (try `help`)"))?;
            let mut s = format!("{}\n  {}\n", h.usage, h.summary);
            if !h.detail.is_empty() {
                s.push_str(&format!("  {}\n", h.detail));
            }
            s.push_str(&format!("  example: {}\n", h.example));
            Ok(s)
        }
    }
}

/// Parses an exception name (`#PF`, `pf`, `PF`) or vector number.
fn exception_vector(s: &str) -> Result<u8, String> {
    if let Ok(v) = parse_num(s) {
        return u8::try_from(v).ok().filter(|v| *v < 32).ok_or_else(|| format!("exception vectors are 0-31, not {s}"));
    }
    let want = format!("#{}", s.trim_start_matches('#').to_ascii_uppercase());
    (0..32u8).find(|v| vector_name(*v) == want).ok_or_else(|| format!("'{s}' is not an exception name (#DE #DB #BP #OF #BR #UD #NM #DF #TS #NP #SS #GP #PF #MF #AC #MC #XM) or vector"))
}

fn parse_u32_list(args: &str) -> Result<Vec<u32>, String> {
    let v: Result<Vec<u32>, String> = args
        .split_whitespace()
        .map(|a| parse_num(a).and_then(|n| u32::try_from(n).map_err(|_| format!("no point {a}"))))
        .collect();
    let v = v?;
    if v.is_empty() {
        return Err("give point numbers (see `breaks`)".into());
    }
    Ok(v)
}

/// `x` formats: `/N{b,w,d,q}`.
fn parse_fmt(f: &str) -> Result<(u32, u32), String> {
    let f = f.trim_start_matches('/');
    let digits: String = f.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = &f[digits.len()..];
    let unit = match rest.trim_start_matches('x') {
        "" | "b" => 1,
        "w" | "h" => 2,
        "d" => 4,
        "q" | "g" => 8,
        _ => return Err(format!("'/{f}': the format is /N followed by b, w, d or q (e.g. /16b, /4d)")),
    };
    let count =
        if digits.is_empty() { if rest.is_empty() { 64 } else { 64 / unit } } else { parse_num(&digits)? as u32 };
    Ok((count.max(1), unit))
}

impl Debugger {
    /// Runs one command line. `poll` is checked while the guest runs (true pauses it).
    pub fn execute(&mut self, line: &str, poll: &mut dyn FnMut() -> bool) -> Outcome {
        match self.execute_inner(line.trim(), poll) {
            Ok(o) => o,
            Err(e) => Outcome::text(format!("error: {e}\n")),
        }
    }

    fn execute_inner(&mut self, line: &str, poll: &mut dyn FnMut() -> bool) -> Result<Outcome, String> {
        if line.is_empty() || line.starts_with('#') {
            return Ok(Outcome::text(String::new()));
        }
        // `x/4d esp` has no space after the command.
        let (cmd, rest) = match line.find(|c: char| c.is_whitespace() || c == '/') {
            Some(i) => (&line[..i], line[i..].trim()),
            None => (line, ""),
        };
        let cmd = cmd.to_ascii_lowercase();
        let t = Outcome::text;
        let out = match cmd.as_str() {
            "help" | "h" | "?" => t(help_text((!rest.is_empty()).then_some(rest))?),
            "step" | "s" | "si" | "stepi" => {
                let n = if rest.is_empty() { 1 } else { parse_num(rest)? };
                self.run_and_describe(Resume::Step(n), poll)
            }
            "next" | "n" | "ni" | "nexti" => self.run_and_describe(Resume::Next, poll),
            "continue" | "c" | "cont" => self.run_and_describe(Resume::Continue, poll),
            "until" => {
                let loc = self.parse_loc(need(rest, "until ADDR")?)?;
                self.run_and_describe(Resume::Until(loc), poll)
            }
            "reset" => {
                let how = self.reset()?;
                t(format!("reset: {how}\n{}\n", self.where_line()))
            }
            "quit" | "q" | "exit" => {
                let st = if rest.is_empty() { 0 } else { parse_num(rest)? as i32 };
                Outcome { text: String::new(), action: Action::Quit(st) }
            }
            "break" | "b" | "tbreak" | "tb" => t(self.cmd_break(rest, cmd.starts_with('t'))?),
            "delete" | "d" => {
                if rest == "all" {
                    let n = self.points.iter().filter(|p| !p.gdb).count();
                    self.points.retain(|p| p.gdb);
                    t(format!("deleted {n} point(s)\n"))
                } else {
                    let mut s = String::new();
                    for id in parse_u32_list(rest)? {
                        if !self.remove_point(id) {
                            return Err(format!("no point {id} (see `breaks`)"));
                        }
                        s.push_str(&format!("deleted {id}\n"));
                    }
                    t(s)
                }
            }
            "disable" | "enable" => {
                let on = cmd == "enable";
                let mut s = String::new();
                for id in parse_u32_list(rest)? {
                    let p =
                        self.points.iter_mut().find(|p| p.id == id).ok_or(format!("no point {id} (see `breaks`)"))?;
                    p.enabled = on;
                    s.push_str(&format!("{} {id}\n", if on { "enabled" } else { "disabled" }));
                }
                t(s)
            }
            "breaks" => t(self.list_points()),
            "catch" => t(self.cmd_catch(rest)?),
            "watch" | "awatch" | "rwatch" => {
                let rest = match cmd.as_str() {
                    "awatch" => format!("rw {rest}"),
                    "rwatch" => format!("r {rest}"),
                    _ => rest.to_string(),
                };
                t(self.cmd_watch(&rest)?)
            }
            "regs" | "r" | "registers" => t(self.regs()),
            "sregs" => t(self.sregs()),
            "cregs" => t(self.cregs()),
            "eflags" | "flags" => t(self.eflags_text()),
            "set" => t(self.cmd_set(rest)?),
            "x" | "xp" => {
                let (fmt, addr) = if rest.starts_with('/') {
                    match rest.split_once(char::is_whitespace) {
                        Some((f, a)) => (Some(f), a.trim()),
                        None => return Err(format!("usage: {cmd} [/N{{b,w,d,q}}] ADDR")),
                    }
                } else {
                    (None, rest)
                };
                let (count, unit) = match fmt {
                    Some(f) => parse_fmt(f)?,
                    None => (64, 1),
                };
                let (space, a) = if cmd == "xp" {
                    (Space::Phys, self.eval32(need(addr.trim_start_matches("phys:"), "xp ADDR")?)?)
                } else {
                    self.parse_addr(need(addr, "x ADDR")?)?
                };
                t(self.examine(space, a, count, unit)?)
            }
            "dump" => {
                let p: Vec<&str> = rest.split_whitespace().collect();
                let [addr, len, file] = p.as_slice() else { return Err("usage: dump ADDR LEN FILE".into()) };
                let (space, a) = self.parse_addr(addr)?;
                let len = parse_num(len)?;
                if len > 64 << 20 {
                    return Err("at most 64 MiB at a time".into());
                }
                let bytes = self.read_mem(space, a, len as u32)?;
                std::fs::write(file, &bytes).map_err(|e| format!("{file}: {e}"))?;
                t(format!("wrote {} bytes from {a:#010x} to {file}\n", bytes.len()))
            }
            "write" => {
                let (addr, bytes) = rest.split_once(char::is_whitespace).ok_or("usage: write ADDR BYTES")?;
                let (space, a) = self.parse_addr(addr)?;
                let b = parse_bytes(bytes)?;
                self.write_mem(space, a, &b)?;
                t(format!(
                    "wrote {} byte(s) at {}{a:#010x}\n",
                    b.len(),
                    if space == Space::Phys { "phys:" } else { "" }
                ))
            }
            "search" => {
                let b = parse_bytes(need(rest, "search BYTES")?)?;
                let hits = self.search(&b, 32);
                if hits.is_empty() {
                    t("not found\n".into())
                } else {
                    let mut s = format!("{} hit(s) (physical addresses):\n", hits.len());
                    for h in hits {
                        s.push_str(&format!("  phys:{h:#010x}\n"));
                    }
                    t(s)
                }
            }
            "disasm" | "u" | "disassemble" => {
                let p: Vec<&str> = rest.split_whitespace().collect();
                let (lin, n) = match p.as_slice() {
                    [] => (self.pc_linear(), 10),
                    [a] => (self.addr_linear(a)?, 10),
                    [a, n] => (self.addr_linear(a)?, parse_num(n)? as u32),
                    _ => return Err("usage: disasm [ADDR] [N]".into()),
                };
                t(disasm::listing(self, lin, n))
            }
            "info" => t(self.cmd_info(rest)?),
            "translate" | "tr" => t(self.cmd_translate(rest)?),
            "explain" | "why" => t(self.explain()),
            "trace" => t(self.cmd_trace(rest)?),
            "history" | "hist" => {
                let n = if rest.is_empty() { 20 } else { parse_num(rest)? as usize };
                t(self.history_text(n))
            }
            "symbols" | "sym" => {
                let path = need(rest, "symbols FILE")?;
                let mut syms = (*self.syms).clone();
                let n = syms.load(std::path::Path::new(path))?;
                self.syms = std::sync::Arc::new(syms);
                t(format!("loaded {n} symbol(s) from {path}\n"))
            }
            "where" | "pc" => t(format!("{}\n", self.where_line())),
            "save" => t(self.cmd_save(need(rest, "save SNAP [DESCRIPTION]")?)?),
            "restore" | "load" => t(self.cmd_restore(need(rest, "restore SNAP")?)?),
            "snapshots" => t(self.cmd_snapshots()),
            "rstep" | "rs" | "reverse-step" => {
                let n = if rest.is_empty() { 1 } else { parse_num(rest)? };
                t(self.reverse_step(n)?)
            }
            "rcontinue" | "rc" | "reverse-continue" => t(self.reverse_continue()?),
            "when-written" | "ww" => {
                let (space, a) = self.parse_addr(need(rest, "when-written ADDR")?)?;
                t(self.when_written(space, a)?)
            }
            "gdb" => Outcome {
                text: String::new(),
                action: Action::Gdb(if rest.is_empty() { "127.0.0.1:1234".into() } else { rest.to_string() }),
            },
            _ => return Err(format!("unknown command '{cmd}' (try `help`)")),
        };
        Ok(out)
    }

    fn run_and_describe(&mut self, how: Resume, poll: &mut dyn FnMut() -> bool) -> Outcome {
        let info = self.resume(how, poll);
        Outcome::text(self.describe_stop(&info))
    }

    /// A linear address for `disasm`: seg:off and values; phys: is refused.
    fn addr_linear(&self, s: &str) -> Result<u32, String> {
        match self.parse_addr(s)? {
            (Space::Linear, a) => Ok(a),
            (Space::Phys, _) => Err("disasm takes a linear address (or seg:off)".into()),
        }
    }

    fn cmd_break(&mut self, rest: &str, temp: bool) -> Result<String, String> {
        let (addr, cond) = match rest.split_once(" if ") {
            Some((a, c)) => (a.trim(), Some(Cond::parse(c)?)),
            None => (rest.trim(), None),
        };
        let loc = self.parse_loc(need(addr, "break ADDR [if COND]")?)?;
        if let Some(c) = &cond {
            c.validate(self)?;
        }
        let text = match &cond {
            Some(c) => format!(" if {}", c.text),
            None => String::new(),
        };
        let id = self.add_point(PointKind::Break { loc, cond, temp }, false);
        Ok(format!(
            "{} {id} at {}{text}\n",
            if temp { "temporary breakpoint" } else { "breakpoint" },
            self.loc_words(loc)
        ))
    }

    /// A place with its symbol, if any.
    fn loc_words(&self, loc: Loc) -> String {
        let sym = match loc {
            Loc::Linear(a) => self.sym_at(a),
            _ => None,
        };
        match sym {
            Some(s) => format!("{loc} {s}"),
            None => loc.to_string(),
        }
    }

    fn cmd_catch(&mut self, rest: &str) -> Result<String, String> {
        let mut p = rest.split_whitespace();
        let what = p.next().ok_or("usage: catch int [N] | exception [NAME] | #PF | mode | cpl | io PORT")?;
        let arg = p.next();
        if p.next().is_some() {
            return Err("catch takes at most one argument".into());
        }
        let kind = match what.to_ascii_lowercase().as_str() {
            "int" | "interrupt" => match arg {
                None => CatchKind::Int(None),
                Some(a) => {
                    CatchKind::Int(Some(u8::try_from(parse_num(a)?).map_err(|_| format!("vector {a} is not 0-255"))?))
                }
            },
            "exception" | "exceptions" | "exc" => match arg {
                None => CatchKind::Exception(None),
                Some(a) => CatchKind::Exception(Some(exception_vector(a)?)),
            },
            "mode" => CatchKind::Mode,
            "cpl" => CatchKind::Cpl,
            "io" => {
                let a = arg.ok_or("usage: catch io PORT or catch io FIRST-LAST")?;
                let (lo, hi) = match a.split_once('-') {
                    Some((l, h)) => (parse_num(l)?, parse_num(h)?),
                    None => (parse_num(a)?, parse_num(a)?),
                };
                if hi > 0xFFFF || lo > hi {
                    return Err(format!("'{a}' is not a port or port range in 0-0xffff"));
                }
                CatchKind::Io(lo as u16, hi as u16)
            }
            w if w.starts_with('#') || exception_vector(w).is_ok() => {
                if arg.is_some() {
                    return Err("usage: catch #PF (or catch 14, catch pf)".into());
                }
                CatchKind::Exception(Some(exception_vector(w)?))
            }
            _ => return Err(format!("cannot catch '{what}': int, exception, #XX, mode, cpl or io")),
        };
        let id = self.add_point(PointKind::Catch(kind), false);
        Ok(format!("catchpoint {id}: {kind}\n"))
    }

    fn cmd_watch(&mut self, rest: &str) -> Result<String, String> {
        let mut p: Vec<&str> = rest.split_whitespace().collect();
        let kind = match p.first().copied() {
            Some("r") => Some(WatchKind::Read),
            Some("w") => Some(WatchKind::Write),
            Some("rw") | Some("wr") | Some("a") => Some(WatchKind::ReadWrite),
            _ => None,
        };
        if kind.is_some() {
            p.remove(0);
        }
        let kind = kind.unwrap_or(WatchKind::Write);
        let (addr, len) = match p.as_slice() {
            [a] => (*a, 1),
            [a, l] => (*a, parse_num(l)?),
            _ => return Err("usage: watch [r|w|rw] ADDR [LEN]".into()),
        };
        if len == 0 || len > 4096 {
            return Err("a watchpoint covers 1 to 4096 bytes".into());
        }
        let (space, a) = self.parse_addr(addr)?;
        let id = self.add_point(PointKind::Watch { space, addr: a, len: len as u32, kind, last: Vec::new() }, false);
        Ok(format!(
            "watchpoint {id}: {} {}{a:#010x}, {len} byte(s)\n",
            kind.name(),
            if space == Space::Phys { "phys:" } else { "linear " }
        ))
    }

    /// `breaks`.
    pub fn list_points(&self) -> String {
        if self.points.is_empty() {
            return "no breakpoints, watchpoints or catchpoints\n".into();
        }
        let mut s = String::from("Num  Type        Enb  Hits  What\n");
        for p in &self.points {
            let (typ, what) = match &p.kind {
                PointKind::Break { loc, cond, temp } => (
                    if *temp { "tbreak" } else { "breakpoint" },
                    format!(
                        "{}{}",
                        self.loc_words(*loc),
                        cond.as_ref().map(|c| format!(" if {}", c.text)).unwrap_or_default()
                    ),
                ),
                PointKind::Watch { space, addr, len, kind, .. } => (
                    "watchpoint",
                    format!(
                        "{} {}{addr:#010x} len {len}",
                        kind.name(),
                        if *space == Space::Phys { "phys:" } else { "linear " }
                    ),
                ),
                PointKind::Catch(k) => ("catchpoint", k.to_string()),
            };
            s.push_str(&format!(
                "{:<4} {typ:<11} {:<4} {:<5} {what}{}\n",
                p.id,
                if p.enabled { "y" } else { "n" },
                p.hits,
                if p.gdb { " (set by gdb)" } else { "" }
            ));
        }
        s
    }

    fn cmd_set(&mut self, rest: &str) -> Result<String, String> {
        let mut words = rest.split_whitespace();
        match words.next() {
            Some("syntax") => {
                self.syntax = match words.next() {
                    Some("intel") => Syntax::Intel,
                    Some("att") | Some("at&t") | Some("gas") => Syntax::Att,
                    _ => return Err("usage: set syntax intel|att".into()),
                };
                return Ok(format!("syntax: {}\n", if self.syntax == Syntax::Intel { "intel" } else { "att" }));
            }
            Some("history") => {
                let n = parse_num(words.next().ok_or("usage: set history N")?)? as usize;
                if n > 1 << 20 {
                    return Err("at most 1048576 entries".into());
                }
                self.history_cap = n;
                while self.history.len() > n {
                    self.history.pop_front();
                }
                return Ok(format!("history keeps the last {n} instruction(s)\n"));
            }
            Some("history-checkpoints") => {
                let n = parse_num(words.next().ok_or("usage: set history-checkpoints N")?)? as usize;
                if n > 4096 {
                    return Err("at most 4096 checkpoints".into());
                }
                let t = &mut self.timeline;
                t.max_checkpoints = n;
                while t.ring.len() > n {
                    t.ring.pop_front();
                }
                return Ok(if n == 0 {
                    "going back in time is off (no checkpoints)\n".into()
                } else {
                    format!("going back in time keeps at most {n} checkpoint(s)\n")
                });
            }
            Some("checkpoint-interval") => {
                let k = parse_num(words.next().ok_or("usage: set checkpoint-interval K")?)?;
                if k == 0 {
                    return Err("give a positive number of instructions".into());
                }
                self.timeline.interval = k;
                return Ok(format!("a checkpoint every {k} instruction(s)\n"));
            }
            _ => {}
        }
        let (reg, val) = rest.split_once('=').ok_or("usage: set REG = VALUE (or set syntax|history)")?;
        let r = reg_by_name(reg).ok_or_else(|| format!("'{}' is not a register", reg.trim()))?;
        let v = self.eval32(val)?;
        self.set_reg(r, v)?;
        Ok(format!("{} = {:#x}\n", reg.trim(), self.reg_value(r)))
    }

    fn cmd_info(&self, rest: &str) -> Result<String, String> {
        let mut p = rest.split_whitespace();
        let what =
            p.next().ok_or("usage: info gdt|ldt|idt|ivt|tss|tlb|pages|pic|pit|rtc|serial|exits|breaks|symbols")?;
        let args: Vec<&str> = p.collect();
        Ok(match what {
            "gdt" => self.info_gdt(),
            "ldt" => self.info_ldt(),
            "idt" => self.info_idt(),
            "ivt" => {
                let first = args.first().map(|a| parse_num(a)).transpose()?.unwrap_or(0) as u32;
                let n = args.get(1).map(|a| parse_num(a)).transpose()?.unwrap_or(256) as u32;
                if first > 255 {
                    return Err("vectors are 0-255".into());
                }
                self.info_ivt(first, n)
            }
            "tss" => self.info_tss(),
            "tlb" => memory::tlb(&self.m),
            "pages" => memory::pages(&self.m),
            "pic" => self.info_pic(),
            "pit" => self.info_pit(),
            "rtc" | "cmos" => self.info_rtc(),
            "serial" | "uart" => self.info_serial(),
            "exits" => self.info_exits(),
            "vga" => self.info_vga(args.first() == Some(&"regs")),
            "ata" | "disk" | "ide" => self.info_ata(),
            "floppy" | "fdc" => format!("{:#?}\n", self.m.bus.fdc.state),
            "dma" => format!("{:#?}\n", self.m.bus.dma),
            "breaks" | "break" | "breakpoints" | "watchpoints" => self.list_points(),
            "registers" | "regs" => self.regs(),
            "symbols" => format!("{} symbol(s) loaded\n", self.syms.len()),
            "checkpoints" => self.checkpoints_text(),
            _ => return Err(format!("no info '{what}' (try `help info`)")),
        })
    }

    fn cmd_translate(&self, rest: &str) -> Result<String, String> {
        let mut p = rest.split_whitespace();
        let addr = p.next().ok_or("usage: translate ADDR [user|supervisor] [read|write|exec]")?;
        let (space, lin) = self.parse_addr(addr)?;
        if space == Space::Phys {
            return Err("translate takes a linear address".into());
        }
        let mut user = self.m.cpu.cpl == 3;
        let mut acc = Access::Read;
        for w in p {
            match w {
                "user" | "u" => user = true,
                "supervisor" | "sup" | "kernel" | "s" => user = false,
                "read" | "r" => acc = Access::Read,
                "write" | "w" => acc = Access::Write,
                "exec" | "x" | "fetch" => acc = Access::Exec,
                _ => return Err(format!("'{w}': expected user, supervisor, read, write or exec")),
            }
        }
        Ok(memory::translate(&self.m, lin, user, acc))
    }

    fn cmd_trace(&mut self, rest: &str) -> Result<String, String> {
        let mut p = rest.split_whitespace();
        match p.next() {
            Some("on") => {
                let sink: Box<dyn std::io::Write + Send> = match p.next() {
                    Some(f) => {
                        Box::new(std::io::BufWriter::new(std::fs::File::create(f).map_err(|e| format!("{f}: {e}"))?))
                    }
                    None => Box::new(std::io::stdout()),
                };
                self.set_trace(Some(sink));
                Ok("tracing every instruction\n".into())
            }
            Some("off") => {
                self.set_trace(None);
                Ok("tracing off\n".into())
            }
            _ => Err("usage: trace on|off [FILE]".into()),
        }
    }

    /// `history [n]`.
    pub fn history_text(&self, n: usize) -> String {
        if self.history_cap == 0 {
            return "the history is off (`set history 256` turns it on)\n".into();
        }
        if self.history.is_empty() {
            return "no instructions executed under the debugger yet\n".into();
        }
        let skip = self.history.len().saturating_sub(n);
        let mut s = String::new();
        for h in self.history.iter().skip(skip) {
            if !h.no_insn {
                let (text, _) = disasm::format_one(self, &h.bytes, h.bits, h.eip, h.lin);
                let sym = self.sym_at(h.lin).map(|s| format!(" {s}")).unwrap_or_default();
                s.push_str(&format!("  #{:<9} {:04x}:{:08x}{sym}  {text}\n", h.icount, h.cs, h.eip));
            }
            for e in &h.events {
                s.push_str(&format!("      -> {e}\n"));
            }
        }
        s
    }
}

fn need<'a>(s: &'a str, usage: &str) -> Result<&'a str, String> {
    if s.trim().is_empty() { Err(format!("usage: {usage}")) } else { Ok(s.trim()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_help() {
        assert_eq!(parse_fmt("/16b"), Ok((16, 1)));
        assert_eq!(parse_fmt("/4d"), Ok((4, 4)));
        assert_eq!(parse_fmt("/2xq"), Ok((2, 8)));
        assert!(parse_fmt("/4z").is_err());
        assert_eq!(exception_vector("#PF"), Ok(14));
        assert_eq!(exception_vector("gp"), Ok(13));
        assert_eq!(exception_vector("0xd"), Ok(13));
        assert!(exception_vector("#XY").is_err());
        assert!(help_text(Some("break")).unwrap().contains("example: break"));
        for h in COMMANDS {
            assert!(!h.example.is_empty(), "{} has no example", h.name);
            assert!(help_text(Some(h.name)).is_ok());
        }
        assert!(help_text(Some("nope")).is_err());
    }
}
