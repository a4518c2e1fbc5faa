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

use super::{Debugger, Loc, PointKind, Reason, Resume, Space, WatchKind};
use crate::cpu::regs::Seg;
use crate::machine::Stop;
use gdbstub::common::Signal;
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::run_blocking::{self, BlockingEventLoop};
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
use std::net::{TcpListener, TcpStream};

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

/// The gdbstub target: the debugger and how gdb last asked to resume.
pub struct GdbTarget<'a> {
    pub dbg: &'a mut Debugger,
    pending: Resume,
}

impl Target for GdbTarget<'_> {
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

impl SingleThreadBase for GdbTarget<'_> {
    fn read_registers(&mut self, regs: &mut X86CoreRegs) -> TargetResult<(), Self> {
        let c = &self.dbg.m.cpu;
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
        let d = &mut *self.dbg;
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
            match self.dbg.lin_to_phys(start.wrapping_add(i as u32)) {
                Ok(p) => *b = self.dbg.m.bus.mem.read8(p),
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
        self.dbg.write_mem(Space::Linear, start, data).map_err(|_| TargetError::Errno(14))
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadResume for GdbTarget<'_> {
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

impl SingleThreadSingleStep for GdbTarget<'_> {
    fn step(&mut self, signal: Option<Signal>) -> Result<(), Self::Error> {
        if signal.is_some() {
            return Err("x86lab cannot deliver signals: step without one");
        }
        self.pending = Resume::Step(1);
        Ok(())
    }
}

impl GdbTarget<'_> {
    fn add_break(&mut self, addr: u32) -> bool {
        self.dbg.add_point(PointKind::Break { loc: Loc::Gdb(addr), cond: None, temp: false }, true);
        true
    }

    fn remove_break(&mut self, addr: u32) -> bool {
        let found = self
            .dbg
            .points
            .iter()
            .position(|p| p.gdb && matches!(p.kind, PointKind::Break { loc: Loc::Gdb(a), .. } if a == addr));
        match found {
            Some(i) => {
                self.dbg.points.remove(i);
                true
            }
            None => false,
        }
    }
}

impl Breakpoints for GdbTarget<'_> {
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

impl SwBreakpoint for GdbTarget<'_> {
    fn add_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.add_break(addr))
    }
    fn remove_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.remove_break(addr))
    }
}

impl HwBreakpoint for GdbTarget<'_> {
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

impl HwWatchpoint for GdbTarget<'_> {
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
        self.dbg.add_point(PointKind::Watch { space: Space::Linear, addr, len, kind, last: Vec::new() }, true);
        Ok(true)
    }
    fn remove_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: gdbstub::target::ext::breakpoints::WatchKind,
    ) -> TargetResult<bool, Self> {
        let kind = watch_kind(kind);
        let found = self.dbg.points.iter().position(|p| {
            p.gdb
                && matches!(&p.kind, PointKind::Watch { space: Space::Linear, addr: a, len: l, kind: k, .. }
                    if *a == addr && *l == len && *k == kind)
        });
        Ok(match found {
            Some(i) => {
                self.dbg.points.remove(i);
                true
            }
            None => false,
        })
    }
}

impl MonitorCmd for GdbTarget<'_> {
    fn handle_monitor_cmd(&mut self, cmd: &[u8], mut out: ConsoleOutput<'_>) -> Result<(), Self::Error> {
        let Ok(cmd) = std::str::from_utf8(cmd) else {
            out.write_raw(b"the command is not UTF-8\n");
            return Ok(());
        };
        let o = self.dbg.execute(cmd, &mut || false);
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
    type Target = GdbTarget<'a>;
    type Connection = TcpStream;
    type StopReason = SingleThreadStopReason<u32>;

    #[allow(clippy::type_complexity)]
    fn wait_for_stop_reason(
        target: &mut GdbTarget<'a>,
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

    fn on_interrupt(_target: &mut GdbTarget<'a>) -> Result<Option<SingleThreadStopReason<u32>>, &'static str> {
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
    let mut target = GdbTarget { dbg, pending: Resume::Continue };
    let r = GdbStub::new(stream).run_blocking::<Loop<'_>>(&mut target);
    // gdb removes its points before detaching; drop any it left.
    dbg_points_cleanup(target.dbg);
    match r {
        Ok(DisconnectReason::Disconnect) => Ok("gdb detached".into()),
        Ok(DisconnectReason::TargetExited(code)) => Ok(format!("the guest ended (exit status {code}); gdb was told")),
        Ok(DisconnectReason::TargetTerminated(sig)) => Ok(format!("gdb session ended: signal {sig}")),
        Ok(DisconnectReason::Kill) => Ok("gdb sent kill".into()),
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
