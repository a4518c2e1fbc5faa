//! The x86lab debugger: a command interpreter over a [`Machine`], its run control (stepping,
//! breakpoints, watchpoints, catchpoints), views of the CPU, memory, system tables and devices,
//! `explain` for the last exception, and two front ends: a REPL ([`repl`]) and a GDB remote stub
//! ([`gdb`]). Both drive the same [`Debugger`], so `monitor info gdt` in gdb runs the REPL's
//! `info gdt`.
//!
//! ## Run control, and why it costs nothing when unused
//!
//! The debugger never hooks the CPU's hot path. It runs the guest in one of two ways:
//!
//! - **fast**: [`Machine::run`] in chunks of [`CHUNK`] instructions, checking only for Ctrl-C
//!   (or a byte from gdb) between chunks. Used by `continue` when nothing needs to be checked
//!   between instructions.
//! - **checked**: [`Machine::step`] one instruction (or one interrupt delivery) at a time, and
//!   after each step the debugger compares what it needs: CS:EIP against breakpoints, the CPU's
//!   exception and interrupt counters for catchpoints and the history, the mode and CPL, the
//!   exit counters of watched ports. Used when breakpoints, watchpoints, catchpoints, tracing or
//!   the history are on, and for `step`, `next` and `until`.
//!
//! Watchpoints use one small hook in the CPU (see [`crate::cpu::debug::DEBUGGER_WATCH`]): a bit in
//! `data_bps`, the mask the CPU already tests before each data access for the guest's own DR0-DR3
//! breakpoints. While the debugger has watchpoints, the CPU's cold path logs each data access
//! (linear address, size, read/write) and the debugger matches the log after the instruction. The
//! guest's DR7 is never touched. Writes made by devices or by the CPU's implicit accesses (A/D
//! bits, descriptor accessed bits) are caught too, by comparing the watched bytes after each step.
//!
//! ## Addresses
//!
//! Memory is read without side effects: linear addresses go through [`Cpu::walk_explain`] (no
//! A/D flags, no TLB fill, no CR2) and physical ones straight from RAM/ROM. Breakpoints may name
//! a `seg:off` (CS selector and EIP must both match), a linear address, a physical address
//! (`phys:ADDR`, the linear address of CS:EIP translated) or a symbol. See [`expr`].

pub mod commands;
pub mod disasm;
pub mod explain;
pub mod expr;
pub mod gdb;
pub mod info;
pub mod memory;
pub mod repl;
pub mod reverse;
mod snapshots;
pub mod symbols;
#[cfg(test)]
mod tests;

use crate::cpu::fault::vector_name;
use crate::cpu::paging::PagingMode;
use crate::cpu::regs::Seg;
use crate::cpu::{Cpu, Eflags, FaultRecord, Mode};
use crate::machine::clock::Tick;
use crate::machine::{Machine, Stop};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Instructions per [`Machine::run`] call on the fast path (a few milliseconds of guest time, so
/// Ctrl-C and gdb answer quickly).
pub const CHUNK: u64 = 200_000;

/// Steps between two polls for Ctrl-C or gdb input on the checked path.
const POLL_EVERY: u64 = 4096;

/// Default size of the history ring (instructions).
pub const DEFAULT_HISTORY: usize = 256;

/// Where the REPL's `save`/`restore`/`snapshots` keep snapshots when the machine is not a VM
/// folder's (relative to the current directory). In a VM folder run: `NAME/snapshots/`.
pub const DEFAULT_SNAPSHOT_DIR: &str = "x86lab-snapshots";

static INTERRUPT: AtomicBool = AtomicBool::new(false);

/// Asks a running guest to pause (Ctrl-C). Safe to call from a signal handler thread.
pub fn request_interrupt() {
    INTERRUPT.store(true, Ordering::SeqCst);
}

/// Whether a pause was requested and not yet consumed.
pub fn interrupt_requested() -> bool {
    INTERRUPT.load(Ordering::SeqCst)
}

/// Where a breakpoint is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// CS selector and EIP (offset) must both match.
    SegOff { sel: u16, off: u32 },
    /// CS.base + EIP.
    Linear(u32),
    /// The physical address CS.base + EIP translates to.
    Phys(u32),
    /// An address from gdb: the linear address, or (in real and virtual-8086 mode, where gdb's
    /// `$pc` is only IP) EIP itself.
    Gdb(u32),
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loc::SegOff { sel, off } => write!(f, "{sel:04x}:{off:08x}"),
            Loc::Linear(a) => write!(f, "linear {a:#010x}"),
            Loc::Phys(a) => write!(f, "phys:{a:#010x}"),
            Loc::Gdb(a) => write!(f, "gdb {a:#010x} (linear, or IP in real mode)"),
        }
    }
}

/// Which address space a watchpoint or memory command uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Linear,
    Phys,
}

/// What a watchpoint watches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    Read,
    Write,
    ReadWrite,
}

impl WatchKind {
    fn name(self) -> &'static str {
        match self {
            WatchKind::Read => "r",
            WatchKind::Write => "w",
            WatchKind::ReadWrite => "rw",
        }
    }
}

/// What a catchpoint stops on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchKind {
    /// An interrupt delivered (INT n or external), one vector or any.
    Int(Option<u8>),
    /// An exception raised, one vector or any.
    Exception(Option<u8>),
    /// A change of operating mode or paging mode.
    Mode,
    /// A change of CPL.
    Cpl,
    /// An IN or OUT on a port in the range (inclusive).
    Io(u16, u16),
}

impl std::fmt::Display for CatchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatchKind::Int(None) => write!(f, "int (any vector)"),
            CatchKind::Int(Some(v)) => write!(f, "int {v:#04x}"),
            CatchKind::Exception(None) => write!(f, "exception (any)"),
            CatchKind::Exception(Some(v)) => write!(f, "exception {} (vector {v})", vector_name(*v)),
            CatchKind::Mode => write!(f, "mode (real/protected/v86/paging changes)"),
            CatchKind::Cpl => write!(f, "cpl (privilege level changes)"),
            CatchKind::Io(a, b) if a == b => write!(f, "io port {a:#06x}"),
            CatchKind::Io(a, b) => write!(f, "io ports {a:#06x}-{b:#06x}"),
        }
    }
}

/// A breakpoint, watchpoint or catchpoint.
#[derive(Clone, Debug)]
pub enum PointKind {
    Break { loc: Loc, cond: Option<expr::Cond>, temp: bool },
    Watch { space: Space, addr: u32, len: u32, kind: WatchKind, last: Vec<u8> },
    Catch(CatchKind),
}

/// One numbered point (breakpoints, watchpoints and catchpoints share the numbering, as in gdb).
#[derive(Clone, Debug)]
pub struct Point {
    pub id: u32,
    pub enabled: bool,
    pub hits: u64,
    pub kind: PointKind,
    /// Set by gdb (Z packets): listed, but removed by gdb itself.
    pub gdb: bool,
}

/// The operating and paging mode, for `catch mode` and the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeState {
    pub mode: Mode,
    pub paging: PagingMode,
}

impl ModeState {
    pub fn of(cpu: &Cpu) -> ModeState {
        ModeState { mode: cpu.mode(), paging: cpu.paging_mode() }
    }
}

impl std::fmt::Display for ModeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = match self.mode {
            Mode::Real => "real mode",
            Mode::Protected => "protected mode",
            Mode::Virtual8086 => "virtual-8086 mode",
        };
        match self.paging {
            PagingMode::Off => write!(f, "{m}"),
            PagingMode::Bits32 => write!(f, "{m}, 32-bit paging"),
            PagingMode::Pae => write!(f, "{m}, PAE paging"),
        }
    }
}

/// Something that happened during one step besides the instruction itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An exception was raised (`fault` when it is the CPU's last recorded one).
    Exception {
        vector: u8,
        fault: Option<FaultRecord>,
    },
    /// An interrupt was delivered: INT n (software) or from the PIC (external).
    Interrupt {
        vector: u8,
        external: bool,
    },
    Mode {
        from: ModeState,
        to: ModeState,
    },
    Cpl {
        from: u8,
        to: u8,
    },
    TripleFault,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Exception { fault: Some(r), .. } => {
                write!(f, "exception {} (raised at {:04x}:{:08x})", r.fault, r.cs, r.eip)
            }
            Event::Exception { vector, fault: None } => {
                write!(f, "exception {} ({})", vector_name(*vector), crate::cpu::fault::vector_description(*vector))
            }
            Event::Interrupt { vector, external: true } => write!(f, "external interrupt, vector {vector:#04x}"),
            Event::Interrupt { vector, external: false } => write!(f, "software interrupt INT {vector:#04x}"),
            Event::Mode { from, to } => write!(f, "mode change: {from} -> {to}"),
            Event::Cpl { from, to } => write!(f, "CPL change: {from} -> {to}"),
            Event::TripleFault => write!(f, "triple fault: the CPU shut down"),
        }
    }
}

/// One executed instruction in the history ring.
#[derive(Clone, Debug)]
pub struct HistEntry {
    pub icount: u64,
    pub cs: u16,
    pub eip: u32,
    pub lin: u32,
    /// 16 or 32.
    pub bits: u32,
    pub bytes: [u8; 15],
    /// Interrupts, exceptions and mode changes that came with this step.
    pub events: Vec<Event>,
    /// The step delivered an external interrupt and executed no instruction.
    pub no_insn: bool,
}

/// How to resume the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// `n` steps (an instruction, or the delivery of an external interrupt).
    Step(u64),
    /// One instruction, stepping over CALL, INT n and REP.
    Next,
    Continue,
    /// Until CS:EIP reaches the place.
    Until(Loc),
}

/// Why the guest stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The requested steps are done.
    Stepped,
    Breakpoint(u32),
    Watch {
        id: u32,
        what: String,
    },
    Catch {
        id: u32,
        what: String,
    },
    /// Ctrl-C, or gdb's interrupt.
    Interrupted,
    /// `next` or `until` reached its place.
    Reached,
    /// The machine stopped by itself (exit device, halted for good, budget, triple fault with
    /// --stop-on-triple-fault).
    Machine(Stop),
    /// A triple fault reset the machine (the debugger stops on it).
    TripleFault,
    /// The guest had already ended: `reset` to start again.
    Ended,
}

/// The outcome of a resume.
#[derive(Clone, Debug)]
pub struct StopInfo {
    pub reason: Reason,
    /// Events of the steps (only kept for short step counts).
    pub events: Vec<Event>,
    pub steps: u64,
}

/// A register snapshot, for `regs` marking what changed since the last stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RegSnap {
    pub gpr: [u32; 8],
    pub eip: u32,
    pub eflags: u32,
    pub sel: [u16; 6],
}

impl RegSnap {
    pub fn of(cpu: &Cpu) -> RegSnap {
        RegSnap {
            gpr: cpu.gpr,
            eip: cpu.eip,
            eflags: cpu.flags.eflags(),
            sel: std::array::from_fn(|i| cpu.seg[i].selector),
        }
    }
}

/// Disassembly syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Intel,
    Att,
}

/// Builds a fresh machine (for `reset`, a power cycle).
pub type Factory = Box<dyn FnMut() -> Result<Machine, String>>;

/// The target of `next`/`until`: a place, and for `next` the stack depth to come back to.
#[derive(Clone, Copy, Debug)]
struct Target {
    loc: Loc,
    depth: Option<(u16, u32)>,
}

/// The debugger: a machine and everything the commands keep between them.
pub struct Debugger {
    pub m: Machine,
    factory: Option<Factory>,
    pub points: Vec<Point>,
    next_id: u32,
    pub syms: Arc<symbols::Symbols>,
    pub history: VecDeque<HistEntry>,
    pub history_cap: usize,
    trace: Option<Box<dyn Write + Send>>,
    pub syntax: Syntax,
    /// Registers at the previous stop.
    pub prev: RegSnap,
    /// Stop when the instruction count reaches this (`--max-instructions`).
    pub budget_end: Option<u64>,
    /// The guest ended (exit device); resuming needs a reset.
    pub ended: Option<Stop>,
    /// Interrupt counts as last seen (to find which vector a step delivered).
    int_seen: Box<[u64; 256]>,
    /// The last interrupt or exception event and the instruction count it came at.
    pub last_event: Option<(u64, Event)>,
    /// The last stop (for `explain` and gdb).
    pub last_stop: Option<Reason>,
    /// Whether the watch bit is armed in the CPU for this resume.
    watch_armed: bool,
    /// Guest time a resume does not run past (a front end pacing guest time to the wall clock,
    /// e.g. the window serving gdb): `continue`, `next` and `until` stop with
    /// [`Reason::Interrupted`] when guest time reaches it; single steps stop there only when the
    /// CPU is halted and would otherwise skip time beyond it. `None`: no limit.
    pub time_limit: Option<Tick>,
    /// Where `save`, `restore` and `snapshots` keep snapshot files.
    pub snapshot_dir: std::path::PathBuf,
    /// Checkpoints for going back in time (see [`reverse`]).
    pub timeline: reverse::Timeline,
}

impl Debugger {
    /// A debugger over `m`, paused where the machine is (at the reset vector for a new one).
    pub fn new(m: Machine) -> Debugger {
        let prev = RegSnap::of(&m.cpu);
        let int_seen = m.cpu.interrupt_counts.clone();
        let m_icount = m.cpu.icount;
        Debugger {
            m,
            factory: None,
            points: Vec::new(),
            next_id: 1,
            syms: Arc::new(symbols::Symbols::default()),
            history: VecDeque::new(),
            history_cap: DEFAULT_HISTORY,
            trace: None,
            syntax: Syntax::Intel,
            prev,
            budget_end: None,
            ended: None,
            int_seen,
            last_event: None,
            last_stop: None,
            watch_armed: false,
            time_limit: None,
            snapshot_dir: std::path::PathBuf::from(DEFAULT_SNAPSHOT_DIR),
            timeline: reverse::Timeline::new(m_icount),
        }
    }

    /// Lets `reset` power-cycle the machine by building a new one.
    pub fn set_factory(&mut self, f: Factory) {
        self.factory = Some(f);
    }

    // ---- points ------------------------------------------------------------------------

    /// Adds a point and returns its number.
    pub fn add_point(&mut self, kind: PointKind, gdb: bool) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let mut p = Point { id, enabled: true, hits: 0, kind, gdb };
        if let PointKind::Watch { space, addr, len, last, .. } = &mut p.kind {
            *last = self.read_space(*space, *addr, *len);
        }
        self.points.push(p);
        id
    }

    pub fn remove_point(&mut self, id: u32) -> bool {
        let before = self.points.len();
        self.points.retain(|p| p.id != id);
        before != self.points.len()
    }

    fn has_breaks(&self) -> bool {
        self.points.iter().any(|p| p.enabled && matches!(p.kind, PointKind::Break { .. }))
    }

    fn has_watches(&self) -> bool {
        self.points.iter().any(|p| p.enabled && matches!(p.kind, PointKind::Watch { .. }))
    }

    fn has_catches(&self) -> bool {
        self.points.iter().any(|p| p.enabled && matches!(p.kind, PointKind::Catch(_)))
    }

    /// True when `continue` must check something between instructions.
    pub fn needs_checked_path(&self) -> bool {
        self.history_cap > 0 || self.trace.is_some() || self.has_breaks() || self.has_watches() || self.has_catches()
    }

    // ---- tracing -------------------------------------------------------------------------

    pub fn set_trace(&mut self, sink: Option<Box<dyn Write + Send>>) {
        if let Some(t) = &mut self.trace {
            let _ = t.flush();
        }
        self.trace = sink;
    }

    pub fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    // ---- memory without side effects --------------------------------------------------------

    /// The physical address a linear address maps to (a supervisor read, no side effects), or
    /// the walk that failed.
    pub fn lin_to_phys(&self, lin: u32) -> Result<u32, Box<crate::cpu::paging::WalkReport>> {
        memory::lin_to_phys(&self.m, lin)
    }

    /// Reads bytes of linear or physical memory; unmapped bytes read as 0xFF.
    pub fn read_space(&self, space: Space, addr: u32, len: u32) -> Vec<u8> {
        (0..len)
            .map(|i| {
                let a = addr.wrapping_add(i);
                match space {
                    Space::Phys => self.m.bus.mem.read8(a),
                    Space::Linear => self.lin_to_phys(a).map(|p| self.m.bus.mem.read8(p)).unwrap_or(0xFF),
                }
            })
            .collect()
    }

    /// The linear address of CS:EIP.
    pub fn pc_linear(&self) -> u32 {
        self.m.cpu.seg[Seg::Cs as usize].base.wrapping_add(self.m.cpu.eip)
    }

    /// The instruction bytes at a linear address (up to 15, 0xFF where unmapped).
    pub fn code_bytes(&self, lin: u32) -> [u8; 15] {
        if lin & 0xFFF <= 0x1000 - 15
            && let Ok(p) = self.lin_to_phys(lin)
        {
            // One page: one translation, one read.
            return self.m.bus.mem.read_n::<15>(p);
        }
        let mut b = [0xFFu8; 15];
        let mut page = u32::MAX;
        let mut phys = None;
        for (i, x) in b.iter_mut().enumerate() {
            let a = lin.wrapping_add(i as u32);
            if a >> 12 != page {
                page = a >> 12;
                phys = self.lin_to_phys(a & !0xFFF).ok();
            }
            if let Some(p) = phys {
                *x = self.m.bus.mem.read8(p | (a & 0xFFF));
            }
        }
        b
    }

    /// 16 or 32: the default operand size of the code segment.
    pub fn code_bits(&self) -> u32 {
        if self.m.cpu.seg[Seg::Cs as usize].big() { 32 } else { 16 }
    }

    // ---- run control --------------------------------------------------------------------------

    /// Resumes the guest until the request is done or something stops it. `poll` is called now
    /// and then; returning true pauses the guest (gdb's Ctrl-C), as does [`request_interrupt`].
    pub fn resume(&mut self, how: Resume, poll: &mut dyn FnMut() -> bool) -> StopInfo {
        if self.ended.is_some() {
            return StopInfo { reason: Reason::Ended, events: Vec::new(), steps: 0 };
        }
        INTERRUPT.store(false, Ordering::SeqCst);
        self.prev = RegSnap::of(&self.m.cpu);
        self.int_seen.copy_from_slice(&self.m.cpu.interrupt_counts[..]);
        let mut steps_left = None;
        let mut target = None;
        match how {
            Resume::Step(n) => steps_left = Some(n.max(1)),
            Resume::Next => match self.next_target() {
                Some(t) => target = Some(t),
                None => steps_left = Some(1),
            },
            Resume::Continue => {}
            Resume::Until(loc) => target = Some(Target { loc, depth: None }),
        }
        let checked = steps_left.is_some() || target.is_some() || self.needs_checked_path();
        self.watch_armed = self.has_watches();
        if self.watch_armed {
            self.m.cpu.data_bps |= crate::cpu::debug::DEBUGGER_WATCH;
            self.m.cpu.watch_log.clear();
            self.refresh_watch_values();
        }
        self.timeline_checkpoint();
        let keep_events = matches!(steps_left, Some(n) if n <= 16) || matches!(how, Resume::Next);
        let mut events = Vec::new();
        let mut steps = 0u64;
        let reason = loop {
            if (!checked || steps.is_multiple_of(POLL_EVERY)) && (interrupt_requested() || poll()) {
                break Reason::Interrupted;
            }
            if steps_left.is_none()
                && let Some(limit) = self.time_limit
                && self.m.now() >= limit
            {
                break Reason::Interrupted;
            }
            if let Some(end) = self.budget_end
                && self.m.cpu.icount >= end
            {
                break Reason::Machine(Stop::Budget);
            }
            if !checked {
                let mut n = CHUNK;
                if let Some(end) = self.budget_end {
                    n = n.min(end.saturating_sub(self.m.cpu.icount)).max(1);
                }
                let tf = self.m.triple_faults;
                let before = self.m.cpu.icount;
                let r = self.m.run_until(n, self.time_limit.unwrap_or(Tick::NEVER));
                steps += self.m.cpu.icount - before;
                self.timeline_ran();
                self.timeline_checkpoint();
                if r != Stop::Budget {
                    break Reason::Machine(r);
                }
                if self.m.triple_faults != tf {
                    break Reason::TripleFault;
                }
                continue;
            }
            let pre_icount = self.m.cpu.icount;
            let out = self.step_checked();
            steps += 1;
            self.timeline_step(pre_icount, out.progressed);
            self.timeline_checkpoint();
            if keep_events && events.len() < 64 {
                events.extend(out.events.iter().cloned());
            }
            if let Some(s) = out.stop {
                break Reason::Machine(s);
            }
            if let Some(r) = out.hit {
                break r;
            }
            if let Some(id) = self.check_breakpoints() {
                break Reason::Breakpoint(id);
            }
            if let Some(t) = target
                && self.reached(&t)
            {
                break Reason::Reached;
            }
            if let Some(left) = &mut steps_left
                && out.progressed
            {
                *left -= 1;
                if *left == 0 {
                    break Reason::Stepped;
                }
            }
        };
        if self.watch_armed {
            self.m.cpu.data_bps &= !crate::cpu::debug::DEBUGGER_WATCH;
            self.m.cpu.watch_log.clear();
            self.watch_armed = false;
        }
        if let Reason::Machine(Stop::GuestExit(_)) = reason {
            self.ended = Some(Stop::GuestExit(self.m.bus.debugexit.status.unwrap_or(0)));
        }
        if let Some(t) = &mut self.trace {
            let _ = t.flush();
        }
        self.m.flush_host();
        INTERRUPT.store(false, Ordering::SeqCst);
        self.last_stop = Some(reason.clone());
        StopInfo { reason, events, steps }
    }

    /// The `next` target: the instruction after a CALL, INT n or REP string instruction, at the
    /// same stack depth; `None` for anything else (a plain step).
    fn next_target(&self) -> Option<Target> {
        let lin = self.pc_linear();
        let bytes = self.code_bytes(lin);
        let ins = disasm::decode(&bytes, self.code_bits(), self.m.cpu.eip as u64)?;
        use iced_x86::Mnemonic as M;
        let over = matches!(ins.mnemonic(), M::Call | M::Int | M::Int3 | M::Into | M::Int1)
            || ((ins.has_rep_prefix() || ins.has_repne_prefix()) && ins.is_string_instruction());
        if !over {
            return None;
        }
        let next = self.m.cpu.eip.wrapping_add(ins.len() as u32);
        let next = if self.code_bits() == 16 { next & 0xFFFF } else { next };
        let cs = &self.m.cpu.seg[Seg::Cs as usize];
        Some(Target {
            loc: Loc::SegOff { sel: cs.selector, off: next },
            depth: Some((self.m.cpu.seg[Seg::Ss as usize].selector, self.m.cpu.gpr[crate::cpu::regs::ESP])),
        })
    }

    fn reached(&self, t: &Target) -> bool {
        if !self.loc_matches(t.loc) {
            return false;
        }
        match t.depth {
            None => true,
            Some((ss, esp)) => {
                self.m.cpu.seg[Seg::Ss as usize].selector == ss && self.m.cpu.gpr[crate::cpu::regs::ESP] >= esp
            }
        }
    }

    /// Whether CS:EIP is at `loc`.
    pub fn loc_matches(&self, loc: Loc) -> bool {
        let cpu = &self.m.cpu;
        let cs = &cpu.seg[Seg::Cs as usize];
        match loc {
            Loc::SegOff { sel, off } => cs.selector == sel && cpu.eip == off,
            Loc::Linear(a) => cs.base.wrapping_add(cpu.eip) == a,
            Loc::Phys(a) => self.lin_to_phys(cs.base.wrapping_add(cpu.eip)).is_ok_and(|p| p == a),
            Loc::Gdb(a) => cs.base.wrapping_add(cpu.eip) == a || (cpu.mode() != Mode::Protected && cpu.eip == a),
        }
    }

    /// The enabled breakpoint at CS:EIP whose condition holds, counting the hit (and deleting a
    /// temporary one).
    fn check_breakpoints(&mut self) -> Option<u32> {
        let mut found = None;
        for (i, p) in self.points.iter().enumerate() {
            if let PointKind::Break { loc, cond, .. } = &p.kind
                && p.enabled
                && self.loc_matches(*loc)
                && cond.as_ref().is_none_or(|c| c.eval(self).unwrap_or(false))
            {
                found = Some(i);
                break;
            }
        }
        let i = found?;
        let p = &mut self.points[i];
        p.hits += 1;
        let id = p.id;
        if let PointKind::Break { temp: true, .. } = p.kind {
            self.points.remove(i);
        }
        Some(id)
    }

    /// One checked step: history, trace, events, catchpoints, watchpoints.
    fn step_checked(&mut self) -> StepOut {
        let want_insn = self.history_cap > 0 || self.trace.is_some() || self.has_catches();
        let pre = self.pre_step(want_insn);
        if self.trace.is_some() && !pre.halted {
            let line = self.trace_line(pre.lin, pre.bytes.as_ref());
            if let Some(t) = &mut self.trace {
                let _ = writeln!(t, "{line}");
            }
        }
        if self.watch_armed {
            self.m.cpu.watch_log.clear();
        }

        let stop = self.m.step_until(self.time_limit.unwrap_or(Tick::NEVER));

        let (events, progressed, no_insn) = self.step_events(&pre, want_insn);
        for e in &events {
            if matches!(e, Event::Exception { .. } | Event::Interrupt { .. }) {
                self.last_event = Some((self.m.cpu.icount, e.clone()));
            }
        }
        if self.history_cap > 0 && progressed && !(pre.halted && no_insn && events.is_empty()) {
            if self.history.len() >= self.history_cap {
                self.history.pop_front();
            }
            self.history.push_back(HistEntry {
                icount: pre.icount,
                cs: pre.cs,
                eip: pre.eip,
                lin: pre.lin,
                bits: pre.bits,
                bytes: pre.bytes.unwrap_or([0xFF; 15]),
                events: events.clone(),
                no_insn,
            });
        }
        let mut hit = self.check_catches(&events, &pre.io);
        if hit.is_none() && self.watch_armed {
            hit = self.check_watches();
        }
        if hit.is_none() && self.m.triple_faults != pre.tf {
            hit = Some(Reason::TripleFault);
        }
        StepOut { stop, hit, progressed, events }
    }

    /// What a step's events are measured against: the machine before it. `want_insn`: read the
    /// instruction's bytes (needed to see a software interrupt).
    fn pre_step(&self, want_insn: bool) -> PreStep {
        let cpu = &self.m.cpu;
        let lin = self.pc_linear();
        let bytes = if want_insn { Some(self.code_bytes(lin)) } else { None };
        // INT n, INT3, INTO, INT1 (after any prefixes): the steps that can deliver a software
        // interrupt. Checked on the raw bytes, so no step pays for a decode.
        let int_insn = bytes.is_some_and(|b| {
            let op = b
                .iter()
                .find(|x| !matches!(x, 0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0x66 | 0x67 | 0xF0 | 0xF2 | 0xF3));
            matches!(op, Some(0xCC | 0xCD | 0xCE | 0xF1))
        });
        PreStep {
            icount: cpu.icount,
            cs: cpu.seg[Seg::Cs as usize].selector,
            eip: cpu.eip,
            lin,
            mode: ModeState::of(cpu),
            cpl: cpu.cpl,
            exc: cpu.exception_counts,
            tf: self.m.triple_faults,
            halted: cpu.halted,
            bits: self.code_bits(),
            io: self.io_counts(),
            bytes,
            int_insn,
        }
    }

    /// The events of the step just taken from `pre` (exceptions, interrupts, mode and CPL
    /// changes, a triple fault), whether it progressed, and whether it executed no instruction.
    /// Notes the interrupts seen, so the next step reports only its own.
    fn step_events(&mut self, pre: &PreStep, want_insn: bool) -> (Vec<Event>, bool, bool) {
        let cpu = &self.m.cpu;
        let mut events = Vec::new();
        if cpu.exception_counts != pre.exc {
            for v in 0..32u8 {
                if cpu.exception_counts[v as usize] > pre.exc[v as usize] {
                    let fault = cpu.last_fault.filter(|f| f.fault.vector == v && f.icount > pre.icount);
                    events.push(Event::Exception { vector: v, fault });
                }
            }
        }
        let cs = cpu.seg[Seg::Cs as usize].selector;
        let progressed = cpu.icount != pre.icount || cs != pre.cs || cpu.eip != pre.eip;
        let no_insn = cpu.icount == pre.icount;
        // An external interrupt is delivered in a step of its own (no instruction counted); a
        // fault while delivering one counts as an instruction but is an exception event too.
        let maybe_int = (no_insn && progressed) || pre.int_insn || (want_insn && !events.is_empty());
        if maybe_int {
            for v in 0..256usize {
                let now = cpu.interrupt_counts[v];
                if now != self.int_seen[v] {
                    self.int_seen[v] = now;
                    // An external interrupt is delivered in a step of its own, with no
                    // instruction; INT n is an instruction.
                    events.push(Event::Interrupt { vector: v as u8, external: no_insn });
                }
            }
        }
        let post_mode = ModeState::of(cpu);
        if post_mode != pre.mode {
            events.push(Event::Mode { from: pre.mode, to: post_mode });
        }
        if cpu.cpl != pre.cpl {
            events.push(Event::Cpl { from: pre.cpl, to: cpu.cpl });
        }
        if self.m.triple_faults != pre.tf {
            events.push(Event::TripleFault);
        }
        (events, progressed, no_insn)
    }

    /// Exit counters of the ports `catch io` watches: (point index, reads + writes).
    fn io_counts(&self) -> Vec<u64> {
        let mut v = Vec::new();
        for p in &self.points {
            if let PointKind::Catch(CatchKind::Io(a, b)) = p.kind {
                let ex = &self.m.bus.exits;
                v.push((a..=b).map(|port| ex.port_reads[port as usize] + ex.port_writes[port as usize]).sum());
            }
        }
        v
    }

    /// The catchpoint a step hit, counting the hit.
    fn check_catches(&mut self, events: &[Event], io_pre: &[u64]) -> Option<Reason> {
        let (i, what) = self.catch_hit(events, io_pre)?;
        let p = &mut self.points[i];
        p.hits += 1;
        Some(Reason::Catch { id: p.id, what })
    }

    /// The first enabled catchpoint hit by a step with these events (and `io_pre`, the
    /// [`Debugger::io_counts`] before it): its index in `points` and what it saw. Counts nothing.
    fn catch_hit(&self, events: &[Event], io_pre: &[u64]) -> Option<(usize, String)> {
        let io_now = if io_pre.is_empty() { Vec::new() } else { self.io_counts() };
        let mut io_i = 0;
        for (i, p) in self.points.iter().enumerate() {
            let PointKind::Catch(k) = p.kind else { continue };
            let what = match k {
                CatchKind::Io(a, b) => {
                    let j = io_i;
                    io_i += 1;
                    (p.enabled && io_now.get(j) != io_pre.get(j)).then(|| {
                        if a == b { format!("I/O on port {a:#06x}") } else { format!("I/O on ports {a:#06x}-{b:#06x}") }
                    })
                }
                _ if !p.enabled => None,
                CatchKind::Int(v) => events.iter().find_map(|e| match e {
                    Event::Interrupt { vector, external } if v.is_none_or(|v| v == *vector) => Some(format!(
                        "{} interrupt, vector {vector:#04x}",
                        if *external { "external" } else { "software (INT n)" }
                    )),
                    _ => None,
                }),
                CatchKind::Exception(v) => events.iter().find_map(|e| match e {
                    Event::Exception { vector, fault } if v.is_none_or(|v| v == *vector) => Some(match fault {
                        Some(r) => format!("{} (raised at {:04x}:{:08x})", r.fault, r.cs, r.eip),
                        None => format!("exception {}", vector_name(*vector)),
                    }),
                    _ => None,
                }),
                CatchKind::Mode => events.iter().find_map(|e| match e {
                    Event::Mode { from, to } => Some(format!("mode change: {from} -> {to}")),
                    _ => None,
                }),
                CatchKind::Cpl => events.iter().find_map(|e| match e {
                    Event::Cpl { from, to } => Some(format!("CPL change: {from} -> {to}")),
                    _ => None,
                }),
            };
            if let Some(what) = what {
                return Some((i, what));
            }
        }
        None
    }

    /// Re-reads the watched bytes (before a resume: the user may have written memory).
    fn refresh_watch_values(&mut self) {
        let vals: Vec<Option<Vec<u8>>> = self
            .points
            .iter()
            .map(|p| match &p.kind {
                PointKind::Watch { space, addr, len, .. } => Some(self.read_space(*space, *addr, *len)),
                _ => None,
            })
            .collect();
        for (p, v) in self.points.iter_mut().zip(vals) {
            if let (PointKind::Watch { last, .. }, Some(v)) = (&mut p.kind, v) {
                *last = v;
            }
        }
    }

    fn check_watches(&mut self) -> Option<Reason> {
        let log = std::mem::take(&mut self.m.cpu.watch_log);
        let mut found = None;
        for i in 0..self.points.len() {
            let (id, enabled, space, addr, len, kind) = match &self.points[i].kind {
                PointKind::Watch { space, addr, len, kind, .. } => {
                    (self.points[i].id, self.points[i].enabled, *space, *addr, *len, *kind)
                }
                _ => continue,
            };
            if !enabled {
                continue;
            }
            let now = self.read_space(space, addr, len);
            let mut what = None;
            for a in &log {
                let wanted = match kind {
                    WatchKind::Read => !a.write,
                    WatchKind::Write => a.write,
                    WatchKind::ReadWrite => true,
                };
                if !wanted {
                    continue;
                }
                let start = match space {
                    Space::Linear => Some(a.lin),
                    Space::Phys => self.lin_to_phys(a.lin).ok(),
                };
                let Some(start) = start else { continue };
                let end = start as u64 + a.size as u64;
                if (start as u64) < addr as u64 + len as u64 && end > addr as u64 {
                    what = Some(format!(
                        "{} of {} byte{} at {} {:#010x}",
                        if a.write { "write" } else { "read" },
                        a.size,
                        if a.size == 1 { "" } else { "s" },
                        if space == Space::Phys { "physical" } else { "linear" },
                        start
                    ));
                    break;
                }
            }
            let PointKind::Watch { last, .. } = &mut self.points[i].kind else { continue };
            if what.is_none() && kind != WatchKind::Read && *last != now {
                what = Some("the watched bytes changed (a device, or an implicit access by the CPU)".to_string());
            }
            if let Some(w) = what {
                let old = std::mem::replace(last, now.clone());
                let show = |b: &[u8]| b.iter().take(16).map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ");
                let w = if old != now { format!("{w}; old: {}; new: {}", show(&old), show(&now)) } else { w };
                self.points[i].hits += 1;
                if found.is_none() {
                    found = Some(Reason::Watch { id, what: w });
                }
            } else {
                *last = now;
            }
        }
        let mut log = log;
        log.clear();
        self.m.cpu.watch_log = log;
        found
    }

    fn trace_line(&self, lin: u32, bytes: Option<&[u8; 15]>) -> String {
        let cpu = &self.m.cpu;
        let b = bytes.copied().unwrap_or_else(|| self.code_bytes(lin));
        let text = disasm::format_one(self, &b, self.code_bits(), cpu.eip, lin).0;
        let g = &cpu.gpr;
        format!(
            "{:>10} {:04x}:{:08x} {:<36} eax={:08x} ebx={:08x} ecx={:08x} edx={:08x} esi={:08x} edi={:08x} ebp={:08x} esp={:08x} fl={:08x}",
            cpu.icount,
            cpu.seg[Seg::Cs as usize].selector,
            cpu.eip,
            text,
            g[0],
            g[3],
            g[1],
            g[2],
            g[6],
            g[7],
            g[5],
            g[4],
            cpu.flags.eflags()
        )
    }

    /// Resets the machine: a power cycle when the debugger can build a new machine, else a CPU
    /// reset as the chipset does. Points and symbols stay.
    pub fn reset(&mut self) -> Result<&'static str, String> {
        let how = if let Some(f) = &mut self.factory {
            self.m.flush();
            self.m = f()?;
            "power cycle: a new machine (fresh RAM and devices)"
        } else {
            self.m.cpu.reset();
            self.m.bus.debugexit.status = None;
            "CPU reset (RAM and devices keep their state)"
        };
        self.ended = None;
        self.history.clear();
        self.prev = RegSnap::of(&self.m.cpu);
        self.int_seen.copy_from_slice(&self.m.cpu.interrupt_counts[..]);
        self.last_event = None;
        self.last_stop = None;
        self.timeline_restart();
        Ok(how)
    }

    /// Puts a new machine under the debugger (a front end's own power cycle or snapshot
    /// restore): as after `reset`, points and symbols stay, the history and the last stop go.
    /// Returns the old machine.
    pub fn replace_machine(&mut self, m: Machine) -> Machine {
        let old = std::mem::replace(&mut self.m, m);
        self.machine_changed();
        old
    }

    /// The machine was changed behind the debugger's back (restored from a snapshot, reset by
    /// a front end): forget what was remembered about it.
    pub fn machine_changed(&mut self) {
        self.ended = None;
        self.history.clear();
        self.prev = RegSnap::of(&self.m.cpu);
        self.int_seen.copy_from_slice(&self.m.cpu.interrupt_counts[..]);
        self.last_event = None;
        self.last_stop = None;
    }

    /// The name of the symbol at or before `lin` with the offset, e.g. `<main+0x4>`, if any.
    pub fn sym_at(&self, lin: u32) -> Option<String> {
        self.syms.describe(lin)
    }

    /// The one-line description of where the CPU is: `f000:fff0 (0xfffffff0) <sym>  jmp ...`.
    pub fn where_line(&self) -> String {
        let cpu = &self.m.cpu;
        let lin = self.pc_linear();
        let bytes = self.code_bytes(lin);
        let (text, _) = disasm::format_one(self, &bytes, self.code_bits(), cpu.eip, lin);
        let sym = self.sym_at(lin).map(|s| format!(" {s}")).unwrap_or_default();
        let halted = if cpu.halted { "  (halted, waiting for an interrupt)" } else { "" };
        format!("=> {:04x}:{:08x} ({lin:#010x}){sym}  {text}{halted}", cpu.seg[Seg::Cs as usize].selector, cpu.eip)
    }

    /// Words for a stop.
    pub fn describe_stop(&self, info: &StopInfo) -> String {
        let mut out = String::new();
        for e in &info.events {
            out.push_str(&format!("  [{e}]\n"));
        }
        let cpu = &self.m.cpu;
        let ctx = format!("CPL {}, {}", cpu.cpl, ModeState::of(cpu));
        let line = match &info.reason {
            Reason::Stepped | Reason::Reached => None,
            Reason::Breakpoint(id) => {
                let hits = self.points.iter().find(|p| p.id == *id).map(|p| p.hits);
                Some(match hits {
                    Some(h) => {
                        format!("stopped: breakpoint {id} (hit {h} time{}), {ctx}", if h == 1 { "" } else { "s" })
                    }
                    None => format!("stopped: temporary breakpoint {id}, {ctx}"),
                })
            }
            Reason::Watch { id, what } => Some(format!("stopped: watchpoint {id}: {what}, {ctx}")),
            Reason::Catch { id, what } => Some(format!("stopped: catchpoint {id}: {what}, {ctx}")),
            Reason::Interrupted => Some(format!("stopped: interrupted, {ctx}")),
            Reason::TripleFault => {
                let cause = cpu.last_fault.map(|f| f.fault.to_string()).unwrap_or_default();
                Some(format!("stopped: triple fault (last exception: {cause}); the machine was reset"))
            }
            Reason::Ended => Some("the guest has ended; `reset` to start it again".to_string()),
            Reason::Machine(s) => Some(match s {
                Stop::GuestExit(st) => {
                    format!("the guest wrote {} to the exit device: it ended with exit status {st}", (*st as u32) >> 1)
                }
                Stop::Budget => "stopped: --max-instructions reached".to_string(),
                Stop::HaltedForever => {
                    let why = if cpu.flags.get(Eflags::IF) {
                        "no device can raise an interrupt"
                    } else {
                        "interrupts are disabled"
                    };
                    format!("the guest halted and {why}, so nothing can wake it")
                }
                Stop::TripleFault => {
                    let cause = cpu.last_fault.map(|f| f.fault.to_string()).unwrap_or_default();
                    format!("triple fault (last exception: {cause}); stopped (--stop-on-triple-fault)")
                }
            }),
        };
        if let Some(l) = line {
            out.push_str(&l);
            out.push('\n');
        }
        if !matches!(info.reason, Reason::Ended | Reason::Machine(Stop::GuestExit(_))) {
            out.push_str(&self.where_line());
            out.push('\n');
        }
        out
    }
}

/// The machine before a checked step, for finding what the step did.
struct PreStep {
    icount: u64,
    cs: u16,
    eip: u32,
    lin: u32,
    mode: ModeState,
    cpl: u8,
    exc: [u64; 32],
    tf: u64,
    halted: bool,
    /// 16 or 32.
    bits: u32,
    /// [`Debugger::io_counts`].
    io: Vec<u64>,
    /// The instruction's bytes, when asked for.
    bytes: Option<[u8; 15]>,
    /// The instruction is INT n, INT3, INTO or INT1.
    int_insn: bool,
}

/// What one checked step did.
struct StepOut {
    stop: Option<Stop>,
    hit: Option<Reason>,
    progressed: bool,
    events: Vec<Event>,
}
