//! Going back in time: `rstep [N]`, `rcontinue`, `when-written ADDR`.
//!
//! The machine is deterministic: guest time is virtual, and in the debugger no host input
//! reaches the guest. So any past moment can be rebuilt by restoring an earlier state and
//! running forward to it. While the debugger runs the guest it keeps a ring of in-memory
//! **checkpoints** ([`crate::snapshot`] images, RAM zstd-compressed): one when the guest first
//! runs, then one every [`Timeline::interval`] instructions, at most
//! [`Timeline::max_checkpoints`] of them (the oldest is dropped), so memory stays bounded: about
//! N times a compressed snapshot (`info checkpoints` shows the bytes held).
//!
//! A moment is a [`Pos`]: the instruction count, and how many steps without an instruction
//! (external interrupt deliveries) came since it last changed — the steps `step` counts.
//!
//! - `rstep N` goes back N steps: from the checkpoint before now it re-executes forward, one
//!   [`crate::machine::Machine::step`] at a time, remembering the last positions, and then
//!   re-executes once more to land on the one N steps back (the previous segment if the
//!   current one is too short).
//! - `rcontinue` re-executes each segment between checkpoints, newest first, checking the
//!   breakpoints, watchpoints and catchpoints after every step (catchpoints with the forward
//!   path's own checks), and lands on the last hit before now: for a catchpoint, exactly where
//!   `continue` stopped for it.
//! - `when-written ADDR` re-executes the same way watching one byte (its physical address now):
//!   the last instruction whose data write covered it, or a change made by a device (DMA) or an
//!   implicit access.
//!
//! During re-execution the guest's output (COM1, port E9h) is discarded — it was shown the
//! first time. Changing the state by hand (`write`, `set REG`, `restore`, `reset`) starts the
//! history again from that moment, since the past no longer leads to it.

use super::{Debugger, PointKind, Space, WatchKind};
use crate::cpu::regs::Seg;
use crate::devices::debugcon::Sink;
use std::collections::VecDeque;

/// Default number of checkpoints kept.
pub const DEFAULT_CHECKPOINTS: usize = 32;
/// Default instructions between two checkpoints.
pub const DEFAULT_INTERVAL: u64 = 2_000_000;

/// A moment of the run: the instruction count, and the steps without an instruction (external
/// interrupt deliveries) since it last changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub icount: u64,
    pub sub: u32,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.sub == 0 { write!(f, "#{}", self.icount) } else { write!(f, "#{}+{}", self.icount, self.sub) }
    }
}

/// One checkpoint: a snapshot image in memory.
pub struct Checkpoint {
    pub pos: Pos,
    pub bytes: Vec<u8>,
}

/// The ring of checkpoints and where the run is.
pub struct Timeline {
    pub ring: VecDeque<Checkpoint>,
    /// At most this many checkpoints (0: no going back, and no checkpoint cost).
    pub max_checkpoints: usize,
    /// Instructions between checkpoints.
    pub interval: u64,
    /// Where the machine is now.
    pub pos: Pos,
}

impl Timeline {
    pub fn new(icount: u64) -> Timeline {
        Timeline {
            ring: VecDeque::new(),
            max_checkpoints: DEFAULT_CHECKPOINTS,
            interval: DEFAULT_INTERVAL,
            pos: Pos { icount, sub: 0 },
        }
    }

    /// Bytes the checkpoints hold.
    pub fn bytes(&self) -> usize {
        self.ring.iter().map(|c| c.bytes.len()).sum()
    }

    /// The newest checkpoint strictly before `p`.
    fn before(&self, p: Pos) -> Option<usize> {
        self.ring.iter().rposition(|c| c.pos < p)
    }
}

/// What re-execution put aside: the host side of the guest's output and input.
struct Muted {
    serial: Sink,
    debugcon: Sink,
    serial_captured: Vec<u8>,
    debugcon_captured: Vec<u8>,
    input: Option<std::sync::mpsc::Receiver<u8>>,
}

/// A hit found while re-executing a segment.
#[derive(Clone, Debug)]
struct Hit {
    pos: Pos,
    what: String,
}

impl Debugger {
    // ---- bookkeeping (called by run control) --------------------------------------------------

    /// Forgets the checkpoints: the history starts again here.
    pub fn timeline_restart(&mut self) {
        self.timeline.ring.clear();
        self.timeline.pos = Pos { icount: self.m.cpu.icount, sub: 0 };
    }

    /// After a step: where the run is now.
    pub(super) fn timeline_step(&mut self, pre_icount: u64, progressed: bool) {
        if !progressed {
            return;
        }
        let p = &mut self.timeline.pos;
        if self.m.cpu.icount != pre_icount {
            *p = Pos { icount: self.m.cpu.icount, sub: 0 };
        } else {
            p.sub += 1;
        }
    }

    /// After the fast path ran a chunk (it stops right after an instruction).
    pub(super) fn timeline_ran(&mut self) {
        self.timeline.pos = Pos { icount: self.m.cpu.icount, sub: 0 };
    }

    /// Takes a checkpoint if the ring is empty or the last one is `interval` instructions back.
    pub(super) fn timeline_checkpoint(&mut self) {
        let t = &self.timeline;
        if t.max_checkpoints == 0 {
            return;
        }
        let due = match t.ring.back() {
            None => true,
            Some(c) => t.pos.icount >= c.pos.icount.saturating_add(t.interval) && t.pos > c.pos,
        };
        if !due {
            return;
        }
        let bytes = crate::snapshot::to_bytes_level(&self.m, "checkpoint", 1);
        let t = &mut self.timeline;
        while t.ring.len() >= t.max_checkpoints {
            t.ring.pop_front();
        }
        t.ring.push_back(Checkpoint { pos: t.pos, bytes });
    }

    /// `info checkpoints`.
    pub fn checkpoints_text(&self) -> String {
        let t = &self.timeline;
        if t.max_checkpoints == 0 {
            return "going back in time is off (`set history-checkpoints 32` turns it on)\n".into();
        }
        let mut s = format!(
            "{} of at most {} checkpoints, one every {} instructions, {} KiB in memory; now at {}\n",
            t.ring.len(),
            t.max_checkpoints,
            t.interval,
            t.bytes().div_ceil(1024),
            t.pos
        );
        for c in &t.ring {
            s.push_str(&format!("  {:<14} {:>9} bytes\n", c.pos.to_string(), c.bytes.len()));
        }
        s
    }

    // ---- re-execution ------------------------------------------------------------------------

    fn mute(&mut self) -> Muted {
        let b = &mut self.m.bus;
        Muted {
            serial: b.serial_out.replace_sink(Sink::None),
            debugcon: b.debugcon.replace_sink(Sink::None),
            serial_captured: b.serial_out.captured.clone(),
            debugcon_captured: b.debugcon.captured.clone(),
            input: self.m.serial_input.take(),
        }
    }

    fn unmute(&mut self, m: Muted) {
        let b = &mut self.m.bus;
        b.serial_out.replace_sink(m.serial);
        b.debugcon.replace_sink(m.debugcon);
        b.serial_out.captured = m.serial_captured;
        b.debugcon.captured = m.debugcon_captured;
        self.m.serial_input = m.input;
    }

    /// Puts checkpoint `i` into the machine.
    fn load_checkpoint(&mut self, i: usize) -> Result<(), String> {
        let c = &self.timeline.ring[i];
        let pos = c.pos;
        crate::snapshot::restore_from_bytes(&mut self.m, &c.bytes).map_err(|e| format!("checkpoint {pos}: {e}"))?;
        self.timeline.pos = pos;
        Ok(())
    }

    /// One step of re-execution. Returns whether it progressed, or why the machine stopped.
    fn replay_step(&mut self) -> Result<bool, String> {
        let cpu = &self.m.cpu;
        let (icount, cs, eip) = (cpu.icount, cpu.seg[Seg::Cs as usize].selector, cpu.eip);
        if let Some(stop) = self.m.step() {
            return Err(format!("the machine stopped while re-executing ({stop:?}) at {}", self.timeline.pos));
        }
        let cpu = &self.m.cpu;
        let progressed = cpu.icount != icount || cpu.seg[Seg::Cs as usize].selector != cs || cpu.eip != eip;
        self.timeline_step(icount, progressed);
        Ok(progressed)
    }

    /// Re-executes from the current state until `target` (which must not be behind).
    fn replay_to(&mut self, target: Pos) -> Result<(), String> {
        let mut idle = 0u32;
        while self.timeline.pos < target {
            if self.replay_step()? {
                idle = 0;
            } else {
                idle += 1;
                if idle > 1_000_000 {
                    return Err(format!("re-execution made no progress at {}", self.timeline.pos));
                }
            }
        }
        if self.timeline.pos != target {
            return Err(format!("re-execution went past {target} to {}", self.timeline.pos));
        }
        Ok(())
    }

    /// Runs `f` with output muted and the current state kept aside: on error, the machine is
    /// put back where it was.
    fn going_back<T>(&mut self, f: impl FnOnce(&mut Debugger) -> Result<T, String>) -> Result<T, String> {
        if self.timeline.max_checkpoints == 0 {
            return Err("going back in time is off (`set history-checkpoints 32` turns it on)".into());
        }
        if self.timeline.before(self.timeline.pos).is_none() {
            return Err(format!(
                "no recorded past before {}: the history starts here (it starts when the guest first runs under \
                 the debugger, and again after `restore`, `reset`, `write` or `set REG`)",
                self.timeline.pos
            ));
        }
        let now = crate::snapshot::to_bytes_level(&self.m, "now", 1);
        let now_pos = self.timeline.pos;
        let muted = self.mute();
        let watch = self.m.cpu.data_bps & crate::cpu::debug::DEBUGGER_WATCH;
        let r = f(self);
        self.m.cpu.data_bps = (self.m.cpu.data_bps & !crate::cpu::debug::DEBUGGER_WATCH) | watch;
        self.m.cpu.watch_log.clear();
        if r.is_err() {
            let _ = crate::snapshot::restore_from_bytes(&mut self.m, &now);
            self.timeline.pos = now_pos;
        }
        self.unmute(muted);
        self.int_seen.copy_from_slice(&self.m.cpu.interrupt_counts[..]);
        if r.is_ok() {
            self.history.clear();
            self.ended = None;
            self.last_event = None;
        }
        r
    }

    /// `rstep [N]`: N steps back.
    pub fn reverse_step(&mut self, n: u64) -> Result<String, String> {
        let n = n.max(1);
        self.prev = super::RegSnap::of(&self.m.cpu);
        let (target, at_start) = self.going_back(|d| {
            let mut limit = d.timeline.pos;
            let mut need = n;
            let mut idx = d.timeline.before(limit).expect("checked by going_back");
            loop {
                d.load_checkpoint(idx)?;
                // The last `need` positions before `limit`, oldest first.
                let mut last: VecDeque<Pos> = VecDeque::new();
                last.push_back(d.timeline.pos);
                while d.timeline.pos < limit {
                    if d.replay_step()? && d.timeline.pos < limit {
                        if last.len() as u64 == need {
                            last.pop_front();
                        }
                        last.push_back(d.timeline.pos);
                    }
                }
                let have = last.len() as u64;
                let seg_start = d.timeline.ring[idx].pos;
                if have >= need || idx == 0 {
                    let target = if have >= need { last[0] } else { seg_start };
                    d.load_checkpoint(idx)?;
                    d.replay_to(target)?;
                    return Ok((target, have < need));
                }
                // All of this segment's steps and more: go on from its start.
                need -= have;
                limit = seg_start;
                idx -= 1;
            }
        })?;
        self.last_stop = Some(super::Reason::Stepped);
        let note =
            if at_start { format!("reached the start of the recorded history ({target})\n") } else { String::new() };
        Ok(format!("{note}back at {target}\n{}\n", self.where_line()))
    }

    /// The watchpoint hits of the step just re-executed (the log of its data accesses and the
    /// watched bytes before it).
    fn replay_watch_hit(&self, before: &[Option<Vec<u8>>]) -> Option<String> {
        for (p, old) in self.points.iter().zip(before) {
            let PointKind::Watch { space, addr, len, kind, .. } = &p.kind else { continue };
            if !p.enabled {
                continue;
            }
            for a in &self.m.cpu.watch_log {
                let wanted = match kind {
                    WatchKind::Read => !a.write,
                    WatchKind::Write => a.write,
                    WatchKind::ReadWrite => true,
                };
                let start = match space {
                    Space::Linear => Some(a.lin),
                    Space::Phys => self.lin_to_phys(a.lin).ok(),
                };
                if let Some(start) = start.filter(|_| wanted)
                    && (start as u64) < *addr as u64 + *len as u64
                    && start as u64 + a.size as u64 > *addr as u64
                {
                    return Some(format!(
                        "watchpoint {}: {} of {} byte(s) at {:#010x}",
                        p.id,
                        if a.write { "write" } else { "read" },
                        a.size,
                        start
                    ));
                }
            }
            if *kind != WatchKind::Read
                && let Some(old) = old
                && *old != self.read_space(*space, *addr, *len)
            {
                return Some(format!(
                    "watchpoint {}: the watched bytes changed (a device or an implicit access)",
                    p.id
                ));
            }
        }
        None
    }

    /// The enabled breakpoint at CS:EIP whose condition holds (no hit counted).
    fn replay_break_hit(&self) -> Option<String> {
        self.points.iter().find_map(|p| match &p.kind {
            PointKind::Break { loc, cond, .. }
                if p.enabled
                    && self.loc_matches(*loc)
                    && cond.as_ref().is_none_or(|c| c.eval(self).unwrap_or(false)) =>
            {
                Some(format!("breakpoint {}", p.id))
            }
            _ => None,
        })
    }

    /// `rcontinue`: back to the last breakpoint, watchpoint or catchpoint hit before now.
    ///
    /// A catchpoint is checked as a forward `continue` checks it ([`Debugger::pre_step`],
    /// [`Debugger::step_events`], [`Debugger::catch_hit`]), so going back lands where `continue`
    /// stopped: just after the step that raised the exception, delivered the interrupt, changed
    /// the mode or CPL or touched the port. No hit is counted.
    pub fn reverse_continue(&mut self) -> Result<String, String> {
        self.prev = super::RegSnap::of(&self.m.cpu);
        let has_watch = self.points.iter().any(|p| p.enabled && matches!(p.kind, PointKind::Watch { .. }));
        let has_catch = self.has_catches();
        let (hit, start) = self.going_back(|d| {
            let now = d.timeline.pos;
            let mut limit = now;
            let mut idx = d.timeline.before(limit).expect("checked by going_back");
            if has_watch {
                d.m.cpu.data_bps |= crate::cpu::debug::DEBUGGER_WATCH;
            }
            loop {
                d.load_checkpoint(idx)?;
                // Interrupts are told apart by their counters: start from the checkpoint's.
                d.int_seen.copy_from_slice(&d.m.cpu.interrupt_counts[..]);
                let mut found: Option<Hit> = None;
                if let Some(w) = d.replay_break_hit() {
                    found = Some(Hit { pos: d.timeline.pos, what: w });
                }
                // The step that ends at a later segment's start is this segment's: a catchpoint or
                // watchpoint it hits is found here (a breakpoint there was checked already).
                while d.timeline.pos < limit {
                    let before: Vec<Option<Vec<u8>>> = d
                        .points
                        .iter()
                        .map(|p| match &p.kind {
                            PointKind::Watch { space, addr, len, .. } if has_watch => {
                                Some(d.read_space(*space, *addr, *len))
                            }
                            _ => None,
                        })
                        .collect();
                    let pre = has_catch.then(|| d.pre_step(true));
                    d.m.cpu.watch_log.clear();
                    let progressed = d.replay_step()?;
                    let caught = pre.and_then(|pre| {
                        let (events, ..) = d.step_events(&pre, true);
                        d.catch_hit(&events, &pre.io)
                    });
                    if !progressed || d.timeline.pos > limit || d.timeline.pos == now {
                        continue;
                    }
                    let what = caught.map(|(i, what)| format!("catchpoint {}: {what}", d.points[i].id));
                    let what = what.or_else(|| if has_watch { d.replay_watch_hit(&before) } else { None });
                    let what = what.or_else(|| if d.timeline.pos < limit { d.replay_break_hit() } else { None });
                    if let Some(w) = what {
                        found = Some(Hit { pos: d.timeline.pos, what: w });
                    }
                }
                let seg_start = d.timeline.ring[idx].pos;
                if found.is_some() || idx == 0 {
                    let target = found.as_ref().map_or(seg_start, |h| h.pos);
                    d.load_checkpoint(idx)?;
                    d.replay_to(target)?;
                    return Ok((found, seg_start));
                }
                limit = seg_start;
                idx -= 1;
            }
        })?;
        self.last_stop = Some(super::Reason::Stepped);
        Ok(match hit {
            Some(h) => format!("stopped (going back): {} at {}\n{}\n", h.what, h.pos, self.where_line()),
            None => format!(
                "no breakpoint, watchpoint or catchpoint hit in the recorded history: at its start ({start})\n{}\n",
                self.where_line()
            ),
        })
    }

    /// `when-written ADDR`: the last write to that byte before now. The machine stays where it is.
    pub fn when_written(&mut self, space: Space, addr: u32) -> Result<String, String> {
        let phys = match space {
            Space::Phys => addr,
            Space::Linear => self
                .lin_to_phys(addr)
                .map_err(|_| format!("{addr:#010x} is not mapped now: give phys:ADDR to name a physical byte"))?,
        };
        let now_pos = self.timeline.pos;
        let now_regs = self.prev;
        let history = self.history.clone();
        let last_event = self.last_event.clone();
        let result = self.going_back(|d| {
            d.m.cpu.data_bps |= crate::cpu::debug::DEBUGGER_WATCH;
            let mut limit = d.timeline.pos;
            let mut idx = d.timeline.before(limit).expect("checked by going_back");
            loop {
                d.load_checkpoint(idx)?;
                let mut found: Option<String> = None;
                while d.timeline.pos < limit {
                    let pre_icount = d.m.cpu.icount;
                    let cs = d.m.cpu.seg[Seg::Cs as usize].selector;
                    let eip = d.m.cpu.eip;
                    let lin = d.pc_linear();
                    let code = d.code_bytes(lin);
                    let bits = d.code_bits();
                    let old = d.m.bus.mem.read8(phys);
                    d.m.cpu.watch_log.clear();
                    d.replay_step()?;
                    let new = d.m.bus.mem.read8(phys);
                    let by_insn = d.m.cpu.watch_log.iter().any(|a| {
                        a.write
                            && (0..a.size as u32).any(|k| d.lin_to_phys(a.lin.wrapping_add(k)).is_ok_and(|p| p == phys))
                    });
                    if by_insn {
                        let (text, _) = super::disasm::format_one(d, &code, bits, eip, lin);
                        found = Some(format!(
                            "phys:{phys:#010x} was last written by instruction #{pre_icount} at {cs:04x}:{eip:08x} \
                             ({lin:#010x})  {text}  ({old:#04x} -> {new:#04x})\n"
                        ));
                    } else if new != old {
                        found = Some(format!(
                            "phys:{phys:#010x} last changed by a device or an implicit access during step {} \
                             ({old:#04x} -> {new:#04x}), at {cs:04x}:{eip:08x}\n",
                            d.timeline.pos
                        ));
                    }
                }
                if found.is_some() || idx == 0 {
                    let start = d.timeline.ring[idx].pos;
                    // Back to now: forward from here, deterministically.
                    d.replay_to(now_pos)?;
                    return Ok(found.unwrap_or_else(|| {
                        format!("phys:{phys:#010x} was not written in the recorded history (since {start})\n")
                    }));
                }
                limit = d.timeline.ring[idx].pos;
                idx -= 1;
            }
        });
        let text = result?;
        self.history = history;
        self.last_event = last_event;
        self.prev = now_regs;
        Ok(text)
    }
}
