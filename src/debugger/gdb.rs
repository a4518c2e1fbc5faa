//! A GDB remote stub (the `gdbstub` crate) over the same [`Debugger`] the REPL uses.
//!
//! - Registers: the i386 set of `gdbstub_arch::x86::X86_SSE` — EAX..EDI, EIP, EFLAGS and the
//!   selectors CS, SS, DS, ES, FS, GS (the x87/SSE registers read as zero; x86lab has no FPU).
//!   Writing a selector loads it as the current mode does (real mode: base = selector << 4).
//! - Addresses gdb sends (memory, breakpoints, watchpoints) are **linear**, translated through
//!   paging without side effects, as QEMU's stub does. In flat protected mode they equal
//!   offsets; in real mode `$pc` is only the offset (IP) and the linear address is `$cs*16+$pc`.
//! - Software and hardware breakpoints both become debugger breakpoints (no INT3 is written
//!   into guest memory) on the linear address, or, in real and virtual-8086 mode, on the IP gdb
//!   shows as `$pc` (`break *0x11e` stops at any CS:0x11e; `break *0xf011e` at that linear
//!   address, reported as a SIGTRAP since gdb's `$pc` differs); watchpoints (`watch`, `rwatch`, `awatch`) use the
//!   debugger's watchpoints. Single step, continue, Ctrl-C (gdb's interrupt) work as usual.
//! - `monitor CMD` runs any REPL command: `monitor info gdt`, `monitor explain`,
//!   `monitor catch #PF`. Points set that way stop gdb with SIGTRAP.
//! - The guest ending (exit device, halting for good, --max-instructions) is reported to gdb
//!   as the process exiting with the status `x86lab run` would exit with.
//! - Two ways to serve: blocking ([`session`], [`serve`], [`run_served`]: the stub owns the
//!   thread until gdb detaches; the REPL's `gdb`, `x86lab debug --gdb`, headless `run --gdb`),
//!   and [`Served`], polled by a front end's own loop (the window), on gdbstub's state machine.

use super::{Debugger, Loc, PointKind, Reason, Resume, Space, WatchKind};
use crate::cpu::regs::Seg;
use crate::machine::Stop;
use crate::machine::clock::Tick;
use gdbstub::common::Signal;
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::run_blocking::{self, BlockingEventLoop};
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStub, SingleThreadStopReason};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep, SingleThreadSingleStepOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint,
    SwBreakpointOps,
};
use gdbstub::target::ext::monitor_cmd::{ConsoleOutput, MonitorCmd, MonitorCmdOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::X86_SSE;
use gdbstub_arch::x86::reg::X86CoreRegs;
use std::borrow::BorrowMut;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// The default address of `--gdb`.
pub const DEFAULT_ADDR: &str = "127.0.0.1:1234";

/// The exit status `x86lab run` gives for a machine stop.
pub fn stop_status(s: Stop) -> u8 {
    match s {
        Stop::GuestExit(st) => st as u8,
        Stop::HaltedForever => 0,
        Stop::Budget => 4,
        Stop::TripleFault => 6,
    }
}

/// The gdbstub target: the debugger (borrowed by the blocking sessions, owned by a front end
/// that serves gdb from its own loop, see [`Served`]) and how gdb last asked to resume.
pub struct GdbTarget<D> {
    pub dbg: D,
    pending: Resume,
}

impl<D: BorrowMut<Debugger>> GdbTarget<D> {
    /// A target over `dbg`.
    pub fn new(dbg: D) -> GdbTarget<D> {
        GdbTarget { dbg, pending: Resume::Continue }
    }

    fn d(&mut self) -> &mut Debugger {
        self.dbg.borrow_mut()
    }
}

impl<D: BorrowMut<Debugger>> Target for GdbTarget<D> {
    type Arch = X86_SSE;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }
}

impl<D: BorrowMut<Debugger>> SingleThreadBase for GdbTarget<D> {
    fn read_registers(&mut self, regs: &mut X86CoreRegs) -> TargetResult<(), Self> {
        let c = &self.d().m.cpu;
        let g = &c.gpr;
        regs.eax = g[0];
        regs.ecx = g[1];
        regs.edx = g[2];
        regs.ebx = g[3];
        regs.esp = g[4];
        regs.ebp = g[5];
        regs.esi = g[6];
        regs.edi = g[7];
        regs.eip = c.eip;
        regs.eflags = c.flags.eflags();
        let s = |x: Seg| c.seg[x as usize].selector as u32;
        regs.segments.cs = s(Seg::Cs);
        regs.segments.ss = s(Seg::Ss);
        regs.segments.ds = s(Seg::Ds);
        regs.segments.es = s(Seg::Es);
        regs.segments.fs = s(Seg::Fs);
        regs.segments.gs = s(Seg::Gs);
        Ok(())
    }

    fn write_registers(&mut self, regs: &X86CoreRegs) -> TargetResult<(), Self> {
        let d = self.d();
        d.m.cpu.gpr = [regs.eax, regs.ecx, regs.edx, regs.ebx, regs.esp, regs.ebp, regs.esi, regs.edi];
        if regs.eip != d.m.cpu.eip {
            d.set_reg(super::expr::Reg::Eip, regs.eip).map_err(|_| TargetError::NonFatal)?;
        }
        if regs.eflags != d.m.cpu.flags.eflags() {
            d.m.cpu.flags.set_masked(regs.eflags, u32::MAX);
        }
        let segs = [
            (Seg::Cs, regs.segments.cs),
            (Seg::Ss, regs.segments.ss),
            (Seg::Ds, regs.segments.ds),
            (Seg::Es, regs.segments.es),
            (Seg::Fs, regs.segments.fs),
            (Seg::Gs, regs.segments.gs),
        ];
        for (s, v) in segs {
            if v as u16 != d.m.cpu.seg[s as usize].selector {
                d.set_reg(super::expr::Reg::Sreg(s), v).map_err(|_| TargetError::NonFatal)?;
            }
        }
        Ok(())
    }

    fn read_addrs(&mut self, start: u32, data: &mut [u8]) -> TargetResult<usize, Self> {
        // Stop at the first unmapped byte; gdb reports "Cannot access memory" for none.
        let mut n = 0;
        for (i, b) in data.iter_mut().enumerate() {
            match self.d().lin_to_phys(start.wrapping_add(i as u32)) {
                Ok(p) => *b = self.d().m.bus.mem.read8(p),
                Err(_) => break,
            }
            n += 1;
        }
        if n == 0 && !data.is_empty() {
            return Err(TargetError::Errno(14));
        }
        Ok(n)
    }

    fn write_addrs(&mut self, start: u32, data: &[u8]) -> TargetResult<(), Self> {
        self.d().write_mem(Space::Linear, start, data).map_err(|_| TargetError::Errno(14))
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl<D: BorrowMut<Debugger>> SingleThreadResume for GdbTarget<D> {
    fn resume(&mut self, signal: Option<Signal>) -> Result<(), Self::Error> {
        if signal.is_some() {
            return Err("x86lab cannot deliver signals: continue without one");
        }
        self.pending = Resume::Continue;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl<D: BorrowMut<Debugger>> SingleThreadSingleStep for GdbTarget<D> {
    fn step(&mut self, signal: Option<Signal>) -> Result<(), Self::Error> {
        if signal.is_some() {
            return Err("x86lab cannot deliver signals: step without one");
        }
        self.pending = Resume::Step(1);
        Ok(())
    }
}

impl<D: BorrowMut<Debugger>> GdbTarget<D> {
    fn add_break(&mut self, addr: u32) -> bool {
        self.d().add_point(PointKind::Break { loc: Loc::Gdb(addr), cond: None, temp: false }, true);
        true
    }

    fn remove_break(&mut self, addr: u32) -> bool {
        let found = self
            .d()
            .points
            .iter()
            .position(|p| p.gdb && matches!(p.kind, PointKind::Break { loc: Loc::Gdb(a), .. } if a == addr));
        match found {
            Some(i) => {
                self.d().points.remove(i);
                true
            }
            None => false,
        }
    }
}

impl<D: BorrowMut<Debugger>> Breakpoints for GdbTarget<D> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl<D: BorrowMut<Debugger>> SwBreakpoint for GdbTarget<D> {
    fn add_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.add_break(addr))
    }
    fn remove_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.remove_break(addr))
    }
}

impl<D: BorrowMut<Debugger>> HwBreakpoint for GdbTarget<D> {
    fn add_hw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.add_break(addr))
    }
    fn remove_hw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.remove_break(addr))
    }
}

fn watch_kind(k: gdbstub::target::ext::breakpoints::WatchKind) -> WatchKind {
    use gdbstub::target::ext::breakpoints::WatchKind as G;
    match k {
        G::Write => WatchKind::Write,
        G::Read => WatchKind::Read,
        G::ReadWrite => WatchKind::ReadWrite,
    }
}

impl<D: BorrowMut<Debugger>> HwWatchpoint for GdbTarget<D> {
    fn add_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: gdbstub::target::ext::breakpoints::WatchKind,
    ) -> TargetResult<bool, Self> {
        if len == 0 || len > 4096 {
            return Ok(false);
        }
        let kind = watch_kind(kind);
        self.d().add_point(PointKind::Watch { space: Space::Linear, addr, len, kind, last: Vec::new() }, true);
        Ok(true)
    }
    fn remove_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: gdbstub::target::ext::breakpoints::WatchKind,
    ) -> TargetResult<bool, Self> {
        let kind = watch_kind(kind);
        let found = self.d().points.iter().position(|p| {
            p.gdb
                && matches!(&p.kind, PointKind::Watch { space: Space::Linear, addr: a, len: l, kind: k, .. }
                    if *a == addr && *l == len && *k == kind)
        });
        Ok(match found {
            Some(i) => {
                self.d().points.remove(i);
                true
            }
            None => false,
        })
    }
}

impl<D: BorrowMut<Debugger>> MonitorCmd for GdbTarget<D> {
    fn handle_monitor_cmd(&mut self, cmd: &[u8], mut out: ConsoleOutput<'_>) -> Result<(), Self::Error> {
        let Ok(cmd) = std::str::from_utf8(cmd) else {
            out.write_raw(b"the command is not UTF-8\n");
            return Ok(());
        };
        let o = self.d().execute(cmd, &mut || false);
        out.write_raw(o.text.as_bytes());
        if o.action != super::commands::Action::None {
            out.write_raw(b"(quit and gdb are REPL commands; use gdb's own detach or kill)\n");
        }
        Ok(())
    }
}

/// The run loop while gdb is connected.
struct Loop<'a>(std::marker::PhantomData<&'a mut ()>);

impl<'a> BlockingEventLoop for Loop<'a> {
    type Target = GdbTarget<&'a mut Debugger>;
    type Connection = TcpStream;
    type StopReason = SingleThreadStopReason<u32>;

    #[allow(clippy::type_complexity)]
    fn wait_for_stop_reason(
        target: &mut GdbTarget<&'a mut Debugger>,
        conn: &mut TcpStream,
    ) -> Result<
        run_blocking::Event<SingleThreadStopReason<u32>>,
        run_blocking::WaitForStopReasonError<&'static str, std::io::Error>,
    > {
        let mut data = false;
        let info = target.dbg.resume(target.pending, &mut || {
            // Any byte from gdb (normally 0x03, its interrupt) pauses the guest.
            let waiting = conn.peek().map(|b| b.is_some()).unwrap_or(true);
            data |= waiting;
            waiting
        });
        if info.reason == Reason::Interrupted && data {
            let byte = conn.read().map_err(run_blocking::WaitForStopReasonError::Connection)?;
            return Ok(run_blocking::Event::IncomingData(byte));
        }
        Ok(run_blocking::Event::TargetStopped(stop_reason(target.dbg, &info.reason, target.pending)))
    }

    fn on_interrupt(
        _target: &mut GdbTarget<&'a mut Debugger>,
    ) -> Result<Option<SingleThreadStopReason<u32>>, &'static str> {
        Ok(Some(SingleThreadStopReason::Signal(Signal::SIGINT)))
    }
}

/// What gdb is told about a stop.
fn stop_reason(d: &Debugger, r: &Reason, how: Resume) -> SingleThreadStopReason<u32> {
    let gdb_point = |id: u32| d.points.iter().find(|p| p.id == id).filter(|p| p.gdb);
    match r {
        Reason::Stepped | Reason::Reached => {
            if how == Resume::Step(1) {
                SingleThreadStopReason::DoneStep
            } else {
                SingleThreadStopReason::Signal(Signal::SIGTRAP)
            }
        }
        // gdb recognises its breakpoint only when the stop PC (EIP) equals its address; in real
        // mode a breakpoint set on a linear address stops with EIP = the offset: a plain SIGTRAP.
        Reason::Breakpoint(id)
            if gdb_point(*id)
                .is_some_and(|p| matches!(p.kind, PointKind::Break { loc: Loc::Gdb(a), .. } if a == d.m.cpu.eip)) =>
        {
            SingleThreadStopReason::SwBreak(())
        }
        Reason::Watch { id, .. } => match gdb_point(*id).map(|p| &p.kind) {
            Some(PointKind::Watch { addr, kind, .. }) => SingleThreadStopReason::Watch {
                tid: (),
                kind: match kind {
                    WatchKind::Read => gdbstub::target::ext::breakpoints::WatchKind::Read,
                    WatchKind::Write => gdbstub::target::ext::breakpoints::WatchKind::Write,
                    WatchKind::ReadWrite => gdbstub::target::ext::breakpoints::WatchKind::ReadWrite,
                },
                addr: *addr,
            },
            _ => SingleThreadStopReason::Signal(Signal::SIGTRAP),
        },
        Reason::Breakpoint(_) | Reason::Catch { .. } => SingleThreadStopReason::Signal(Signal::SIGTRAP),
        Reason::Interrupted => SingleThreadStopReason::Signal(Signal::SIGINT),
        Reason::TripleFault => SingleThreadStopReason::Signal(Signal::SIGSEGV),
        Reason::Machine(s) => SingleThreadStopReason::Exited(stop_status(*s)),
        Reason::Ended => SingleThreadStopReason::Exited(d.ended.map(stop_status).unwrap_or(0)),
    }
}

/// Serves one gdb session on an accepted connection. Returns how it ended, in words.
pub fn session(dbg: &mut Debugger, stream: TcpStream) -> Result<String, String> {
    let _ = stream.set_nodelay(true);
    let mut target = GdbTarget::new(dbg);
    let r = GdbStub::new(stream).run_blocking::<Loop<'_>>(&mut target);
    // gdb removes its points before detaching; drop any it left.
    dbg_points_cleanup(target.dbg);
    match r {
        Ok(reason) => Ok(describe_disconnect(reason)),
        Err(e) => Err(format!("gdb connection: {e}")),
    }
}

fn dbg_points_cleanup(d: &mut Debugger) {
    d.points.retain(|p| !p.gdb);
}

fn listen(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("--gdb {addr}: cannot listen: {e}"))
}

/// `gdb [ADDR]` from the REPL (and `x86lab debug --gdb`): waits for one gdb and serves it until
/// it detaches. Returns how the session ended.
pub fn serve(dbg: &mut Debugger, addr: &str) -> Result<String, String> {
    let l = listen(addr)?;
    eprintln!("x86lab: waiting for gdb on {addr} (target remote {addr})");
    let (s, peer) = l.accept().map_err(|e| format!("accepting gdb: {e}"))?;
    eprintln!("x86lab: gdb connected from {peer}");
    session(dbg, s)
}

/// `x86lab run --gdb ADDR [-S]`: runs the machine headless at full speed, serving gdb when it
/// connects (with `wait`, before the first instruction). After gdb detaches the guest runs on;
/// a later gdb may connect again. Returns the machine's stop, or `None` when gdb killed it.
pub fn run_served(dbg: &mut Debugger, addr: &str, wait: bool) -> Result<Option<Stop>, String> {
    let l = listen(addr)?;
    eprintln!("x86lab: gdb can connect on {addr} (target remote {addr})");
    let mut first = wait;
    loop {
        let conn = if first {
            first = false;
            eprintln!("x86lab: waiting for gdb before the first instruction (-S)");
            Some(l.accept().map_err(|e| format!("accepting gdb: {e}"))?.0)
        } else {
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            let c = match l.accept() {
                Ok((s, _)) => Some(s),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
                Err(e) => return Err(format!("accepting gdb: {e}")),
            };
            l.set_nonblocking(false).map_err(|e| e.to_string())?;
            c
        };
        if let Some(s) = conn {
            let _ = s.set_nonblocking(false);
            let msg = match session(dbg, s) {
                Ok(m) => m,
                // A broken connection ends the session, not the run.
                Err(e) => e,
            };
            eprintln!("x86lab: {msg}");
            if msg.starts_with("gdb sent kill") {
                return Ok(None);
            }
            if let Some(st) = dbg.ended {
                return Ok(Some(st));
            }
            if let Some(Reason::Machine(s)) = &dbg.last_stop {
                return Ok(Some(*s));
            }
            continue;
        }
        // Nobody connected: run a slice at full speed.
        let n = match dbg.budget_end {
            Some(end) => super::CHUNK.min(end.saturating_sub(dbg.m.cpu.icount)),
            None => super::CHUNK,
        };
        if n == 0 {
            return Ok(Some(Stop::Budget));
        }
        match dbg.m.run(n) {
            Stop::Budget => {}
            s => return Ok(Some(s)),
        }
    }
}

// ---- gdb served from a front end's own loop ----------------------------------------------------

type StateMachine = GdbStubStateMachine<'static, GdbTarget<Debugger>, TcpStream>;

/// What the gdb of a [`Served`] is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GdbState {
    /// Nobody is connected.
    Listening,
    /// gdb is connected and the guest is stopped for it.
    Stopped,
    /// gdb is connected and has resumed the guest (continue or step).
    Running,
}

/// The end of a run slice under gdb ([`Served::run_slice`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slice {
    /// The slice's guest time is used up (or gdb has something to say): gdb still waits.
    Ran,
    /// The guest stopped and gdb was told why.
    Stopped(Reason),
}

/// gdb served without blocking, from a front end's own loop (the window): the listener is polled
/// for a connection, the bytes gdb sends are fed to gdbstub's state machine as they arrive, and
/// while gdb has the guest running the front end runs it slice by slice through the
/// [`Debugger`] (so gdb's breakpoints, watchpoints and single steps are honoured) with
/// [`Served::run_slice`]. One gdb at a time; after it detaches another may connect.
pub struct Served {
    listener: TcpListener,
    addr: String,
    conn: Option<StateMachine>,
    /// gdb sent kill (`kill`, or quitting gdb without detaching).
    pub killed: bool,
}

fn conn_of(sm: &mut StateMachine) -> &mut TcpStream {
    match sm {
        GdbStubStateMachine::Idle(i) => i.borrow_conn(),
        GdbStubStateMachine::Running(i) => i.borrow_conn(),
        GdbStubStateMachine::CtrlCInterrupt(i) => i.borrow_conn(),
        GdbStubStateMachine::Disconnected(i) => i.borrow_conn(),
    }
}

impl Served {
    /// Listens on `addr` (without blocking).
    pub fn listen(addr: &str) -> Result<Served, String> {
        let listener = listen(addr)?;
        listener.set_nonblocking(true).map_err(|e| format!("--gdb {addr}: {e}"))?;
        Ok(Served { listener, addr: addr.to_string(), conn: None, killed: false })
    }

    /// The address gdb connects to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn state(&self) -> GdbState {
        match &self.conn {
            None => GdbState::Listening,
            Some(GdbStubStateMachine::Running(_)) => GdbState::Running,
            Some(_) => GdbState::Stopped,
        }
    }

    /// Takes a waiting connection, if there is one and no gdb is connected yet: the guest is then
    /// stopped for gdb. Returns what happened, in words.
    pub fn accept(&mut self, t: &mut GdbTarget<Debugger>) -> Option<String> {
        if self.conn.is_some() {
            return None;
        }
        let (stream, peer) = match self.listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(e) => return Some(format!("accepting gdb: {e}")),
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_nodelay(true);
        t.pending = Resume::Continue;
        match GdbStub::new(stream).run_state_machine(t) {
            Ok(sm) => {
                self.conn = Some(sm);
                Some(format!("gdb connected from {peer}"))
            }
            Err(e) => Some(format!("gdb connection from {peer}: {e}")),
        }
    }

    /// Waits up to `wait` for bytes from gdb (not at all with a zero `wait`), then feeds every
    /// byte that has arrived to the stub, which answers gdb's requests. Without a connection it
    /// just sleeps for `wait`. Returns what happened, in words (a detach, a broken connection).
    pub fn pump(&mut self, t: &mut GdbTarget<Debugger>, wait: Duration) -> Option<String> {
        let Some(sm) = &mut self.conn else {
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            return None;
        };
        let stream = conn_of(sm);
        let mut buf = [0u8; 4096];
        if !wait.is_zero() {
            // Sleep until gdb says something (or the time is up).
            let _ = stream.set_read_timeout(Some(wait));
            let _ = TcpStream::peek(stream, &mut buf[..1]);
            let _ = stream.set_read_timeout(None);
        }
        let mut bytes = Vec::new();
        let mut closed = false;
        if stream.set_nonblocking(true).is_err() {
            closed = true;
        }
        while !closed {
            match std::io::Read::read(stream, &mut buf) {
                Ok(0) => closed = true,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => closed = true,
            }
        }
        let _ = stream.set_nonblocking(false);
        for b in bytes {
            if let Some(msg) = self.feed(t, Some(b)) {
                return Some(msg);
            }
        }
        if let Some(msg) = self.feed(t, None) {
            return Some(msg);
        }
        if closed {
            return Some(self.drop_conn(t, "the gdb connection was closed"));
        }
        None
    }

    /// Passes one byte to the state machine (or none: just settles an interrupt or a
    /// disconnection). Returns a message when the session ended.
    fn feed(&mut self, t: &mut GdbTarget<Debugger>, byte: Option<u8>) -> Option<String> {
        let sm = self.conn.take()?;
        let r = match (sm, byte) {
            (GdbStubStateMachine::Idle(i), Some(b)) => i.incoming_data(t, b),
            (GdbStubStateMachine::Running(i), Some(b)) => i.incoming_data(t, b),
            (sm, _) => Ok(sm),
        };
        // gdb's interrupt (Ctrl-C): the guest stops with SIGINT.
        let r = match r {
            Ok(GdbStubStateMachine::CtrlCInterrupt(i)) => {
                i.interrupt_handled(t, Some(SingleThreadStopReason::<u32>::Signal(Signal::SIGINT)))
            }
            r => r,
        };
        match r {
            Ok(GdbStubStateMachine::Disconnected(i)) => {
                let reason = i.get_reason();
                if reason == DisconnectReason::Kill {
                    self.killed = true;
                }
                Some(self.drop_conn(t, &describe_disconnect(reason)))
            }
            Ok(sm) => {
                self.conn = Some(sm);
                None
            }
            Err(e) => Some(self.drop_conn(t, &format!("gdb connection: {e}"))),
        }
    }

    fn drop_conn(&mut self, t: &mut GdbTarget<Debugger>, msg: &str) -> String {
        self.conn = None;
        dbg_points_cleanup(&mut t.dbg);
        msg.to_string()
    }

    /// While gdb has the guest running: runs it through the debugger until guest time reaches
    /// `limit` or the wall clock `deadline` (or gdb sends something, or a stop), and tells gdb
    /// about a stop. Does nothing in other states.
    pub fn run_slice(
        &mut self,
        t: &mut GdbTarget<Debugger>,
        limit: Tick,
        deadline: std::time::Instant,
    ) -> (Slice, Option<String>) {
        let Some(GdbStubStateMachine::Running(mut running)) = self.conn.take() else {
            return (Slice::Ran, None);
        };
        let conn = running.borrow_conn();
        let mut data = false;
        t.dbg.time_limit = Some(limit);
        let info = t.dbg.resume(t.pending, &mut || {
            // Any byte from gdb (normally 0x03, its interrupt) ends the slice.
            let waiting = conn.peek().map(|b| b.is_some()).unwrap_or(true);
            data |= waiting;
            // The slice also ends at the wall-clock `deadline` (a slow guest, or no `limit`).
            waiting || std::time::Instant::now() >= deadline
        });
        t.dbg.time_limit = None;
        let sliced = data || t.dbg.m.now() >= limit || std::time::Instant::now() >= deadline;
        if info.reason == Reason::Interrupted && sliced {
            self.conn = Some(running.into());
            return (Slice::Ran, None);
        }
        let why = stop_reason(&t.dbg, &info.reason, t.pending);
        match running.report_stop(t, why) {
            Ok(GdbStubStateMachine::Disconnected(i)) => {
                let msg = self.drop_conn(t, &describe_disconnect(i.get_reason()));
                (Slice::Stopped(info.reason), Some(msg))
            }
            Ok(sm) => {
                self.conn = Some(sm);
                (Slice::Stopped(info.reason), None)
            }
            Err(e) => {
                let msg = self.drop_conn(t, &format!("gdb connection: {e}"));
                (Slice::Stopped(info.reason), Some(msg))
            }
        }
    }

    /// Ends the session as the front end ends: gdb, if it waits for the guest, is told that the
    /// guest exited with `status`; the connection is closed.
    pub fn close(&mut self, t: &mut GdbTarget<Debugger>, status: u8) {
        if let Some(GdbStubStateMachine::Running(running)) = self.conn.take() {
            let _ = running.report_stop(t, SingleThreadStopReason::<u32>::Exited(status));
        }
        self.conn = None;
        dbg_points_cleanup(&mut t.dbg);
    }
}

fn describe_disconnect(r: DisconnectReason) -> String {
    match r {
        DisconnectReason::Disconnect => "gdb detached".into(),
        DisconnectReason::TargetExited(code) => format!("the guest ended (exit status {code}); gdb was told"),
        DisconnectReason::TargetTerminated(sig) => format!("gdb session ended: signal {sig}"),
        DisconnectReason::Kill => "gdb sent kill".into(),
    }
}
