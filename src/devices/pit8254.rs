//! The Intel 8254 programmable interval timer of a PC/AT, and the timer bits of system control
//! port B (port 0x61).
//!
//! Sources: Intel *8254 Programmable Interval Timer* datasheet (order no. 231164-005): "Control
//! Word Format", "Counter Latch Command", "Read-Back Command", "Status Byte", "Mode Definitions"
//! (modes 0-5 with their GATE tables, "Operation Common to All Modes"); IBM *PC AT Technical
//! Reference*, "System Timers" and "I/O Port 61h" (counter 0 drives IRQ0, counter 1 the DRAM
//! refresh request, counter 2 the speaker; gates 0 and 1 tied high, gate 2 from port 0x61 bit 0).
//!
//! # Lazy time
//! Nothing here is ticked. A counter remembers the PIT clock at which its counting element (CE)
//! was loaded and the count it was loaded with (a [`Run`]); its count and OUT at any later time
//! are computed from the mode's formula. Writes, gate changes and latches first bring the counter
//! to the time of the access. Time arrives as a [`Tick`] and is converted to whole PIT input clocks
//! with [`Tick::pit_clocks`]; events happen on clock boundaries. The machine asks
//! [`Pit8254::next_deadline`] for counter 0's next OUT edge and samples OUT there.
//!
//! # What is modelled
//! - Three counters at 0x40-0x42, the control word register at 0x43.
//! - Modes 0-5, binary and four-decade BCD counting, LSB / MSB / LSB-then-MSB access with
//!   separate read and write byte pointers, the counter latch command (a second latch before the
//!   first is read is ignored), the read-back command (count and status latching; a latched
//!   status is read before a latched count), the null-count flag (set by a control word or a count
//!   write, cleared when the count register is transferred into the CE).
//! - Mode timing as the datasheet gives it: a count is loaded on the CLK after it is written;
//!   mode 0 OUT rises N+1 clocks after the write; mode 2 OUT is low for one clock when the count
//!   reaches 1, period N; mode 3 OUT is high for ⌈N/2⌉ and low for ⌊N/2⌋ clocks, the count going
//!   down by two; modes 4/5 strobe OUT low for one clock when the count reaches 0; modes 1/5 start
//!   on the CLK after a rising GATE edge and are retriggerable. A count of 0 means 65536 (binary)
//!   or 10000 (BCD).
//! - New counts while counting: modes 0 and 4 reload on the next clock (mode 0: writing the first
//!   byte of a two-byte count stops counting and drives OUT low); mode 2 at the end of the current
//!   period; mode 3 at the end of the current half-cycle; modes 1 and 5 at the next trigger.
//! - GATE: counter 0 and 1 gates are tied high. Counter 2's gate is port 0x61 bit 0: low suspends
//!   counting in modes 0 and 4; low drives OUT high and stops modes 2 and 3, whose rising edge
//!   reloads the count on the next clock; a rising edge triggers modes 1 and 5.
//! - Port 0x61: bit 0 gate 2, bit 1 speaker data, bits 2-3 (parity and channel check enables)
//!   stored and read back, bit 4 the refresh request toggling every 18 PIT clocks (15.085 µs, the
//!   AT BIOS's counter 1 period, taken as fixed so that delay loops that count its toggles work
//!   whatever counter 1 is programmed to), bit 5 OUT2, bits 6-7 (parity error, channel check)
//!   read as 0.
//!
//! # What is not modelled
//! - Sub-clock timing: a gate change or a write takes effect on a whole-clock boundary.
//! - Counts of 1 in modes 2 and 3 are illegal in the datasheet; here OUT simply stays high.
//! - Invalid BCD digits in a count (A-F) are taken at their nibble value, then reduced modulo
//!   10000; the real part's behaviour with them is undefined.
//! - A control word resets the counter's latches and byte pointers; the power-on state (undefined
//!   in the datasheet) is mode 0 with OUT low, no count, LSB-then-MSB access.
//! - Reading port 0x43 (write-only) returns 0xFF, a floating bus.
//! - The speaker is only a level ([`Pit8254::speaker_level`]); sound is the front end's job.
//!
//! # Wiring (for the machine)
//! ```text
//! ports 0x40-0x43  -> pit.read(port, now) / pit.write(port, value, now)
//! port 0x61        -> pit.read_port61(now) / pit.write_port61(value, now)
//! after a write to 0x40-0x43, and at the Timer::Pit deadline `d`:
//!     pic.set_irq(0, pit.out(0, d));          // IRQ0 = OUT0; the PIC latches the rising edge
//!     sched.set(Timer::Pit, pit.next_deadline(d));
//! ```
//! Sample at the deadline's own tick `d` (not at a later "now"): the next deadline is computed from
//! `d`, so a late run loop handles each edge in turn and never misses mode 2's one-clock low pulse.
//!
//! ```
//! use x86lab::devices::pit8254::Pit8254;
//! use x86lab::machine::clock::Tick;
//!
//! let mut pit = Pit8254::new();
//! let t0 = Tick(0);
//! pit.write(0x43, 0x36, t0); // counter 0, LSB then MSB, mode 3, binary
//! pit.write(0x40, 0x00, t0);
//! pit.write(0x40, 0x00, t0); // 65536: 18.2 Hz
//! assert!(pit.out(0, t0));
//! // OUT0 falls half a period after the count is loaded (the clock after the write).
//! assert_eq!(pit.next_deadline(t0), Some(Tick::from_pit_clocks(1 + 32768)));
//! ```

use crate::machine::clock::Tick;
use serde::{Deserialize, Serialize};

/// Counter 0's count register / output latch (IRQ0 on a PC).
pub const PIT_COUNTER0: u16 = 0x40;
/// Counter 1 (DRAM refresh on a PC).
pub const PIT_COUNTER1: u16 = 0x41;
/// Counter 2 (speaker, and a gate the software controls through port 0x61).
pub const PIT_COUNTER2: u16 = 0x42;
/// The control word register (write-only): control words, counter latch and read-back commands.
pub const PIT_COMMAND: u16 = 0x43;
/// System control port B (AT): counter 2 gate and speaker, refresh toggle, OUT2, NMI status.
pub const SYSTEM_CONTROL_PORT_B: u16 = 0x61;

/// Port 0x61 bit 0: counter 2 GATE.
pub const PORT61_TIMER2_GATE: u8 = 0x01;
/// Port 0x61 bit 1: speaker data (ANDed with OUT2 to drive the speaker).
pub const PORT61_SPEAKER_DATA: u8 = 0x02;
/// Port 0x61 bit 2: parity check disable (written and read back).
pub const PORT61_PARITY_CHECK_DISABLE: u8 = 0x04;
/// Port 0x61 bit 3: channel check disable (written and read back).
pub const PORT61_CHANNEL_CHECK_DISABLE: u8 = 0x08;
/// Port 0x61 bit 4 (read-only): refresh request, toggling with every refresh cycle.
pub const PORT61_REFRESH_TOGGLE: u8 = 0x10;
/// Port 0x61 bit 5 (read-only): counter 2's OUT.
pub const PORT61_OUT2: u8 = 0x20;

/// PIT clocks per refresh request on the AT (counter 1 programmed to 18 by the BIOS): 15.085 µs.
pub const REFRESH_PERIOD_CLOCKS: u64 = 18;

/// Control word SC1-SC0 = 11: the read-back command.
const SC_READ_BACK: u8 = 3;
/// Read-back bit 5 (active low): latch the count of the selected counters.
const READ_BACK_NOT_COUNT: u8 = 0x20;
/// Read-back bit 4 (active low): latch the status of the selected counters.
const READ_BACK_NOT_STATUS: u8 = 0x10;

/// RW1-RW0 of a control word: how the count is read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    /// RW = 01: least significant byte only.
    Lsb,
    /// RW = 10: most significant byte only.
    Msb,
    /// RW = 11: least significant byte first, then most significant byte.
    LsbMsb,
}

impl Access {
    fn bits(self) -> u8 {
        match self {
            Access::Lsb => 1,
            Access::Msb => 2,
            Access::LsbMsb => 3,
        }
    }
}

/// One counting sequence: the CE was loaded with `n` at PIT clock `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The PIT clock at which the CE was loaded (the clock after the write or trigger).
    pub start: u64,
    /// The count loaded, 1 to 65536 (or 10000 in BCD): a written 0 is the full modulus.
    pub n: u32,
    /// Clocks of counting already done when `start` came (gate suspensions, a mode 3 count that
    /// begins in the low half-cycle).
    pub offset: u64,
}

/// One of the three counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// M2-M0 of the last control word (modes 2 and 3 may be written as 110 and 111).
    pub mode_bits: u8,
    /// BCD: four-decade BCD counting instead of 16-bit binary.
    pub bcd: bool,
    /// RW1-RW0: the access mode.
    pub access: Access,
    /// CR: the count register as last written (raw: BCD-coded when `bcd`).
    pub cr: u16,
    /// A complete count has been written since the last control word.
    pub cr_written: bool,
    /// LSB-then-MSB writes: the next write is the MSB.
    pub write_msb_next: bool,
    /// LSB-then-MSB reads: the next read is the MSB.
    pub read_msb_next: bool,
    /// OL: the output latch holding a latched count until it is read.
    pub ol: Option<u16>,
    /// A status byte latched by the read-back command, until read.
    pub status_latch: Option<u8>,
    /// Null count is pending: a control word or count was written and not yet transferred to the
    /// CE (see `cr_load_clock`).
    pub null_count: bool,
    /// The PIT clock at which the last written count reaches the CE (None: not yet known, e.g.
    /// waiting for a trigger).
    pub cr_load_clock: Option<u64>,
    /// GATE input level.
    pub gate: bool,
    /// The counting sequence in progress (None: not counting).
    pub run: Option<Run>,
    /// A counting sequence that takes over at its `start` (a new count in modes 2 and 3).
    pub next: Option<Run>,
    /// CE value while no run applies (before the load, waiting for a trigger, stopped by GATE).
    pub idle_ce: u32,
    /// OUT while no run applies.
    pub idle_out: bool,
}

impl Counter {
    fn new(gate: bool) -> Counter {
        Counter {
            mode_bits: 0,
            bcd: false,
            access: Access::LsbMsb,
            cr: 0,
            cr_written: false,
            write_msb_next: false,
            read_msb_next: false,
            ol: None,
            status_latch: None,
            null_count: true,
            cr_load_clock: None,
            gate,
            run: None,
            next: None,
            idle_ce: 0,
            idle_out: false,
        }
    }

    /// The operating mode, 0-5.
    pub fn mode(&self) -> u8 {
        match self.mode_bits & 7 {
            6 => 2,
            7 => 3,
            m => m,
        }
    }

    /// Counts per wrap: 65536 binary, 10000 BCD.
    fn modulus(&self) -> u64 {
        if self.bcd { 10_000 } else { 65_536 }
    }

    /// The count register as a count: 1 to the modulus.
    fn cr_count(&self) -> u32 {
        let v = if self.bcd {
            let c = self.cr as u32;
            ((c >> 12) & 0xF) * 1000 + ((c >> 8) & 0xF) * 100 + ((c >> 4) & 0xF) * 10 + (c & 0xF)
        } else {
            self.cr as u32
        };
        let v = v % self.modulus() as u32;
        if v == 0 { self.modulus() as u32 } else { v }
    }

    /// The CE value as software reads it (BCD-coded when `bcd`).
    fn encode(&self, ce: u32) -> u16 {
        if self.bcd {
            let v = ce % 10_000;
            ((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | (v % 10)) as u16
        } else {
            ce as u16
        }
    }

    /// GATE low stops the count in this mode without restarting it (modes 0 and 4).
    fn suspended(&self) -> bool {
        !self.gate && matches!(self.mode(), 0 | 4)
    }

    /// The run that applies at clock `k`.
    fn run_at(&self, k: u64) -> Option<Run> {
        match (self.next, self.run) {
            (Some(nx), _) if k >= nx.start => Some(nx),
            (_, Some(r)) if k >= r.start => Some(r),
            _ => None,
        }
    }

    /// Clocks counted in run `r` by clock `k` (`k >= r.start`).
    fn elapsed(&self, r: &Run, k: u64) -> u64 {
        if self.suspended() { r.offset } else { (k - r.start).saturating_add(r.offset) }
    }

    /// CE value and OUT of run `r` at clock `k` (`k >= r.start`).
    fn eval_run(&self, r: &Run, k: u64) -> (u32, bool) {
        let e = self.elapsed(r, k);
        let n = r.n as u64;
        let m = self.modulus();
        // Modes 0, 1, 4, 5 count down from n and wrap.
        let down = ((n + m - e % m) % m) as u32;
        match self.mode() {
            0 | 1 => (down, e >= n),
            4 | 5 => (down, e != n),
            2 => {
                if n <= 1 {
                    return (1, true);
                }
                let p = e % n;
                (((n - p) % m) as u32, p != n - 1)
            }
            _ => {
                if n <= 1 {
                    return (1, true);
                }
                let high = n.div_ceil(2);
                let p = e % n;
                let (q, out) = if p < high { (p, true) } else { (p - high, false) };
                // Even counts load n; odd counts load n - 1; both go down by two.
                let ce = if n.is_multiple_of(2) { n - 2 * q } else { n - 1 - 2 * q };
                ((ce % m) as u32, out)
            }
        }
    }

    /// CE value and OUT at clock `k`.
    fn eval(&self, k: u64) -> (u32, bool) {
        match self.run_at(k) {
            Some(r) => self.eval_run(&r, k),
            None => (self.idle_ce, self.idle_out),
        }
    }

    /// OUT at clock `k`.
    pub fn out_at(&self, k: u64) -> bool {
        self.eval(k).1
    }

    /// The count a read would return at clock `k` (encoded, unlatched).
    pub fn count_at(&self, k: u64) -> u16 {
        self.encode(self.eval(k).0)
    }

    /// The null count flag at clock `k`.
    pub fn null_count_at(&self, k: u64) -> bool {
        self.null_count && self.cr_load_clock.is_none_or(|c| k < c)
    }

    /// The status byte at clock `k`: OUTPUT, NULL COUNT, RW1-RW0, M2-M0, BCD.
    pub fn status_at(&self, k: u64) -> u8 {
        (self.out_at(k) as u8) << 7
            | (self.null_count_at(k) as u8) << 6
            | self.access.bits() << 4
            | (self.mode_bits & 7) << 1
            | self.bcd as u8
    }

    /// Brings the counter to clock `k`: a pending run whose time has come takes over.
    fn sync(&mut self, k: u64) {
        if let Some(nx) = self.next
            && k >= nx.start
        {
            self.run = Some(nx);
            self.next = None;
        }
    }

    /// Freezes the CE and OUT as they are at `k` into the idle state and drops the runs.
    fn stop(&mut self, k: u64, out: Option<bool>) {
        let (ce, o) = self.eval(k);
        self.idle_ce = ce;
        self.idle_out = out.unwrap_or(o);
        self.run = None;
        self.next = None;
    }

    /// The first clock after `from` (>= r.start) at which run `r`'s OUT is `target`, assuming OUT
    /// at `from` is not `target`.
    fn run_first(&self, r: &Run, from: u64, target: bool) -> Option<u64> {
        if self.suspended() {
            return None;
        }
        let e = self.elapsed(r, from);
        let n = r.n as u64;
        let d = match self.mode() {
            0 | 1 => (target && e < n).then(|| n - e),
            4 | 5 if !target => (e < n).then(|| n - e),
            4 | 5 => (e == n).then_some(1),
            2 if n <= 1 => None,
            2 => {
                let p = e % n;
                if target { (p == n - 1).then_some(1) } else { Some(n - 1 - p) }
            }
            _ if n <= 1 => None,
            _ => {
                let high = n.div_ceil(2);
                let p = e % n;
                match (target, p < high) {
                    (false, true) => Some(high - p),
                    (true, false) => Some(n - p),
                    _ => None,
                }
            }
        };
        d.map(|d| from.saturating_add(d))
    }

    /// The first clock after `k` at which OUT changes.
    pub fn next_out_change(&self, k: u64) -> Option<u64> {
        let target = !self.out_at(k);
        // Segments of constant rules: [k, ..) whatever applies at k, then each run that starts
        // later, in order (a pending `next` always starts after `run`).
        let mut segments: [Option<(u64, Option<Run>)>; 3] = [Some((k, self.run_at(k))), None, None];
        let mut i = 1;
        for r in [self.run, self.next].into_iter().flatten() {
            if r.start > k {
                segments[i] = Some((r.start, Some(r)));
                i += 1;
            }
        }
        for (idx, seg) in segments.iter().enumerate() {
            let Some((s, run)) = *seg else { break };
            let end = segments.get(idx + 1).copied().flatten().map(|(e, _)| e);
            let Some(r) = run else { continue };
            if idx > 0 && self.eval_run(&r, s).1 == target {
                return Some(s);
            }
            if let Some(c) = self.run_first(&r, s, target)
                && end.is_none_or(|e| c < e)
            {
                return Some(c);
            }
        }
        None
    }

    fn control_word(&mut self, value: u8, k: u64) {
        let (ce, _) = self.eval(k);
        self.access = match (value >> 4) & 3 {
            1 => Access::Lsb,
            2 => Access::Msb,
            _ => Access::LsbMsb,
        };
        self.mode_bits = (value >> 1) & 7;
        self.bcd = value & 1 != 0;
        self.write_msb_next = false;
        self.read_msb_next = false;
        self.ol = None;
        self.status_latch = None;
        self.run = None;
        self.next = None;
        self.idle_ce = ce;
        // "OUT goes to a known initial state": low in mode 0, high in the others.
        self.idle_out = self.mode() != 0;
        self.cr_written = false;
        self.null_count = true;
        self.cr_load_clock = None;
    }

    fn latch_count(&mut self, k: u64) {
        if self.ol.is_none() {
            self.ol = Some(self.count_at(k));
        }
    }

    fn latch_status(&mut self, k: u64) {
        if self.status_latch.is_none() {
            self.status_latch = Some(self.status_at(k));
        }
    }

    fn read(&mut self, k: u64) -> u8 {
        if let Some(s) = self.status_latch.take() {
            return s;
        }
        let value = self.ol.unwrap_or_else(|| self.count_at(k));
        let [lo, hi] = value.to_le_bytes();
        match self.access {
            Access::Lsb => {
                self.ol = None;
                lo
            }
            Access::Msb => {
                self.ol = None;
                hi
            }
            Access::LsbMsb if !self.read_msb_next => {
                self.read_msb_next = true;
                lo
            }
            Access::LsbMsb => {
                self.read_msb_next = false;
                self.ol = None;
                hi
            }
        }
    }

    fn write(&mut self, value: u8, k: u64) {
        self.sync(k);
        match self.access {
            Access::Lsb => {
                self.cr = value as u16;
                self.count_written(k);
            }
            Access::Msb => {
                self.cr = (value as u16) << 8;
                self.count_written(k);
            }
            Access::LsbMsb if !self.write_msb_next => {
                self.cr = (self.cr & 0xFF00) | value as u16;
                self.write_msb_next = true;
                if self.mode() == 0 {
                    // Mode 0: writing the first byte disables counting; OUT goes low at once.
                    self.stop(k, Some(false));
                }
            }
            Access::LsbMsb => {
                self.cr = (self.cr & 0x00FF) | (value as u16) << 8;
                self.write_msb_next = false;
                self.count_written(k);
            }
        }
    }

    /// A complete count is in the CR: start or schedule its transfer into the CE.
    fn count_written(&mut self, k: u64) {
        let n = self.cr_count();
        self.cr_written = true;
        self.null_count = true;
        self.cr_load_clock = None;
        let fresh = Run { start: k + 1, n, offset: 0 };
        match self.mode() {
            0 | 4 => {
                // Loaded on the next CLK (even with GATE low; counting waits for GATE).
                let out = self.mode() != 0;
                self.stop(k, Some(out));
                self.run = Some(fresh);
                self.cr_load_clock = Some(k + 1);
            }
            2 | 3 if self.gate => match self.run.filter(|r| r.start <= k) {
                Some(r) => {
                    // Counting: the new count waits for the end of the period (mode 2) or
                    // half-cycle (mode 3).
                    let e = self.elapsed(&r, k);
                    let cur = r.n as u64;
                    let (d, offset) = if cur <= 1 {
                        (1, 0)
                    } else if self.mode() == 2 {
                        (cur - e % cur, 0)
                    } else {
                        let high = cur.div_ceil(2);
                        let p = e % cur;
                        if p < high { (high - p, (n as u64).div_ceil(2)) } else { (cur - p, 0) }
                    };
                    let start = k.saturating_add(d);
                    self.next = Some(Run { start, n, offset });
                    self.cr_load_clock = Some(start);
                }
                None => {
                    self.stop(k, Some(true));
                    self.run = Some(fresh);
                    self.cr_load_clock = Some(k + 1);
                }
            },
            // Modes 2 and 3 with GATE low wait for its rising edge; modes 1 and 5 for a trigger.
            _ => {}
        }
    }

    fn set_gate(&mut self, level: bool, k: u64) {
        if level == self.gate {
            return;
        }
        self.sync(k);
        match self.mode() {
            0 | 4 => {
                if let Some(r) = self.run.as_mut() {
                    if !level && k >= r.start {
                        // Suspend: remember the clocks counted so far.
                        r.offset = (k - r.start).saturating_add(r.offset);
                        r.start = k;
                    } else if level {
                        // Resume from where counting stopped.
                        r.start = r.start.max(k);
                    }
                }
            }
            2 | 3 => {
                if !level {
                    // GATE low stops the count and drives OUT high at once.
                    self.stop(k, Some(true));
                } else if self.cr_written {
                    // The rising edge reloads the count on the next clock.
                    self.stop(k, Some(true));
                    self.run = Some(Run { start: k + 1, n: self.cr_count(), offset: 0 });
                    self.loaded_by_trigger(k + 1);
                }
            }
            _ => {
                if level && self.cr_written {
                    // Trigger: the CE is loaded on the next clock; OUT keeps its level until then.
                    self.stop(k, None);
                    self.run = Some(Run { start: k + 1, n: self.cr_count(), offset: 0 });
                    self.loaded_by_trigger(k + 1);
                }
            }
        }
        self.gate = level;
    }

    fn loaded_by_trigger(&mut self, at: u64) {
        if self.null_count && self.cr_load_clock.is_none_or(|c| c > at) {
            self.cr_load_clock = Some(at);
        }
    }
}

/// The 8254 with the AT's wiring, and port 0x61's timer bits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pit8254 {
    /// Counters 0, 1 and 2.
    pub counters: [Counter; 3],
    /// Port 0x61 bits 1-3 as last written (speaker data, parity and channel check disables).
    pub port61: u8,
}

impl Default for Pit8254 {
    fn default() -> Self {
        Pit8254 { counters: [Counter::new(true), Counter::new(true), Counter::new(false)], port61: 0 }
    }
}

impl Pit8254 {
    pub fn new() -> Pit8254 {
        Pit8254::default()
    }

    /// A read of ports 0x40-0x43 at time `now`; other ports read 0xFF.
    pub fn read(&mut self, port: u16, now: Tick) -> u8 {
        let k = now.pit_clocks();
        match port {
            PIT_COUNTER0..=PIT_COUNTER2 => self.counters[(port - PIT_COUNTER0) as usize].read(k),
            _ => 0xFF,
        }
    }

    /// A write to ports 0x40-0x43 at time `now`; other ports are ignored.
    pub fn write(&mut self, port: u16, value: u8, now: Tick) {
        let k = now.pit_clocks();
        match port {
            PIT_COUNTER0..=PIT_COUNTER2 => self.counters[(port - PIT_COUNTER0) as usize].write(value, k),
            PIT_COMMAND => {
                let sc = value >> 6;
                if sc == SC_READ_BACK {
                    for (i, c) in self.counters.iter_mut().enumerate() {
                        if value & (2 << i) == 0 {
                            continue;
                        }
                        c.sync(k);
                        // A status latched together with the count describes the same moment.
                        if value & READ_BACK_NOT_STATUS == 0 {
                            c.latch_status(k);
                        }
                        if value & READ_BACK_NOT_COUNT == 0 {
                            c.latch_count(k);
                        }
                    }
                    return;
                }
                let c = &mut self.counters[sc as usize];
                c.sync(k);
                if (value >> 4) & 3 == 0 {
                    c.latch_count(k);
                } else {
                    c.control_word(value, k);
                }
            }
            _ => {}
        }
    }

    /// OUT of counter `channel` (0-2) at `now`; other channels read low.
    pub fn out(&self, channel: usize, now: Tick) -> bool {
        self.counters.get(channel).is_some_and(|c| c.out_at(now.pit_clocks()))
    }

    /// The time of counter 0's next OUT transition after `now`, if it has one.
    pub fn next_deadline(&self, now: Tick) -> Option<Tick> {
        self.counters[0].next_out_change(now.pit_clocks()).map(Tick::from_pit_clocks)
    }

    /// Port 0x61 as read at `now`.
    pub fn read_port61(&self, now: Tick) -> u8 {
        let k = now.pit_clocks();
        let refresh = (k / REFRESH_PERIOD_CLOCKS) & 1 != 0;
        let gate = self.counters[2].gate;
        (gate as u8)
            | (self.port61 & (PORT61_SPEAKER_DATA | PORT61_PARITY_CHECK_DISABLE | PORT61_CHANNEL_CHECK_DISABLE))
            | if refresh { PORT61_REFRESH_TOGGLE } else { 0 }
            | if self.counters[2].out_at(k) { PORT61_OUT2 } else { 0 }
    }

    /// A write to port 0x61 at `now`: bit 0 drives counter 2's GATE, bits 1-3 are stored.
    pub fn write_port61(&mut self, value: u8, now: Tick) {
        self.port61 = value & (PORT61_SPEAKER_DATA | PORT61_PARITY_CHECK_DISABLE | PORT61_CHANNEL_CHECK_DISABLE);
        self.counters[2].set_gate(value & PORT61_TIMER2_GATE != 0, now.pit_clocks());
    }

    /// The speaker's drive at `now`: speaker data AND OUT2.
    pub fn speaker_level(&self, now: Tick) -> bool {
        self.port61 & PORT61_SPEAKER_DATA != 0 && self.out(2, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The time at which exactly `c` PIT clocks have elapsed.
    fn at(c: u64) -> Tick {
        Tick::from_pit_clocks(c)
    }

    /// Programs `counter` with a control word and a count at clock `k`.
    fn program(pit: &mut Pit8254, counter: u8, mode: u8, bcd: bool, count: u16, k: u64) {
        let cw = counter << 6 | 0x30 | mode << 1 | bcd as u8;
        pit.write(PIT_COMMAND, cw, at(k));
        pit.write(PIT_COUNTER0 + counter as u16, count as u8, at(k));
        pit.write(PIT_COUNTER0 + counter as u16, (count >> 8) as u8, at(k));
    }

    fn read16(pit: &mut Pit8254, counter: u8, k: u64) -> u16 {
        let lo = pit.read(PIT_COUNTER0 + counter as u16, at(k));
        let hi = pit.read(PIT_COUNTER0 + counter as u16, at(k));
        u16::from_le_bytes([lo, hi])
    }

    fn latch_read(pit: &mut Pit8254, counter: u8, k: u64) -> u16 {
        pit.write(PIT_COMMAND, counter << 6, at(k));
        read16(pit, counter, k)
    }

    #[test]
    fn mode2_bios_divisor_runs_at_18_2_hz() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 2, false, 0, 100);
        // Loaded at clock 101 with 65536; OUT low for the clock where the count is 1.
        let load = 101;
        assert!(pit.out(0, at(load)));
        assert_eq!(pit.next_deadline(at(load)), Some(at(load + 65535)));
        assert!(pit.out(0, at(load + 65534)));
        assert!(!pit.out(0, at(load + 65535)));
        assert_eq!(latch_read(&mut pit, 0, load + 65535), 1);
        assert_eq!(pit.next_deadline(at(load + 65535)), Some(at(load + 65536)));
        assert!(pit.out(0, at(load + 65536)));
        assert_eq!(latch_read(&mut pit, 0, load + 65536), 0, "reloaded with 65536, read as 0");
        // Rising edges are exactly 65536 clocks apart: 54925.4 µs, 18.2065 Hz.
        let mut rises = vec![];
        let mut t = at(load);
        while rises.len() < 4 {
            let d = pit.next_deadline(t).unwrap();
            if pit.out(0, d) {
                rises.push(d.pit_clocks());
            }
            t = d;
        }
        assert!(rises.windows(2).all(|w| w[1] - w[0] == 65536));
        assert_eq!(at(65536).nanos(), 54_925_402);
    }

    #[test]
    fn mode3_bios_divisor_square_wave() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 3, false, 0, 0);
        assert!(pit.out(0, at(0)), "OUT is high after the control word");
        assert_eq!(pit.next_deadline(at(0)), Some(at(1 + 32768)));
        assert!(pit.out(0, at(32768)));
        assert!(!pit.out(0, at(32769)));
        assert_eq!(pit.next_deadline(at(32769)), Some(at(1 + 65536)));
        assert!(pit.out(0, at(65537)));
        // Count goes down by two in each half.
        assert_eq!(latch_read(&mut pit, 0, 1), 0);
        assert_eq!(latch_read(&mut pit, 0, 2), 65534);
        assert_eq!(latch_read(&mut pit, 0, 32768), 2);
        assert_eq!(latch_read(&mut pit, 0, 32769), 0, "reloaded for the low half");
        assert_eq!(latch_read(&mut pit, 0, 32770), 65534);
    }

    #[test]
    fn mode3_odd_count_is_high_one_clock_longer() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 3, false, 5, 0);
        // Loaded at clock 1: high for 3 clocks (1, 2, 3), low for 2 (4, 5), period 5.
        let outs: Vec<bool> = (1..=11).map(|k| pit.out(0, at(k))).collect();
        assert_eq!(outs, [true, true, true, false, false, true, true, true, false, false, true]);
        let counts: Vec<u16> = (1..=6).map(|k| latch_read(&mut pit, 0, k)).collect();
        assert_eq!(counts, [4, 2, 0, 4, 2, 4]);
        assert_eq!(pit.next_deadline(at(1)), Some(at(4)));
        assert_eq!(pit.next_deadline(at(4)), Some(at(6)));
    }

    #[test]
    fn mode0_terminal_count() {
        let mut pit = Pit8254::new();
        pit.write(PIT_COMMAND, 0x30, at(10)); // counter 0, LSB/MSB, mode 0
        assert!(!pit.out(0, at(10)), "mode 0 OUT is low after the control word");
        pit.write(PIT_COUNTER0, 100, at(10));
        pit.write(PIT_COUNTER0, 0, at(10));
        // OUT goes high N+1 clocks after the write.
        assert_eq!(pit.next_deadline(at(10)), Some(at(111)));
        assert!(!pit.out(0, at(110)));
        assert!(pit.out(0, at(111)));
        assert_eq!(latch_read(&mut pit, 0, 11), 100);
        assert_eq!(latch_read(&mut pit, 0, 110), 1);
        assert_eq!(latch_read(&mut pit, 0, 111), 0);
        assert_eq!(latch_read(&mut pit, 0, 112), 0xFFFF, "the counter keeps counting and wraps");
        assert_eq!(pit.next_deadline(at(111)), None, "OUT stays high");
        assert!(pit.out(0, at(111 + 70_000)));
    }

    #[test]
    fn mode0_first_byte_stops_counting_and_lowers_out() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 0, false, 10, 0);
        assert!(pit.out(0, at(20)));
        pit.write(PIT_COUNTER0, 50, at(20));
        assert!(!pit.out(0, at(20)), "OUT goes low on the first byte");
        let held = latch_read(&mut pit, 0, 20);
        assert_eq!(latch_read(&mut pit, 0, 30), held, "counting is disabled");
        pit.write(PIT_COUNTER0, 0, at(30));
        assert_eq!(pit.next_deadline(at(30)), Some(at(31 + 50)));
    }

    #[test]
    fn reload_while_counting_mode0_restarts() {
        let mut pit = Pit8254::new();
        pit.write(PIT_COMMAND, 0x10, at(0)); // counter 0, LSB only, mode 0
        pit.write(PIT_COUNTER0, 100, at(0));
        pit.write(PIT_COUNTER0, 20, at(50));
        assert_eq!(pit.next_deadline(at(50)), Some(at(71)));
        assert_eq!(pit.read(PIT_COUNTER0, at(51)), 20);
    }

    #[test]
    fn reload_while_counting_mode2_waits_for_the_period_end() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 2, false, 100, 0); // loaded at 1, reloads at 101, 201...
        pit.write(PIT_COUNTER0, 10, at(30));
        pit.write(PIT_COUNTER0, 0, at(30));
        assert_eq!(pit.next_deadline(at(30)), Some(at(100)));
        assert_eq!(latch_read(&mut pit, 0, 31), 70, "the current period is not affected");
        assert!(!pit.out(0, at(100)));
        assert!(pit.out(0, at(101)));
        assert_eq!(latch_read(&mut pit, 0, 101), 10, "the new count takes over at the reload");
        assert!(!pit.out(0, at(110)));
        assert!(pit.out(0, at(111)));
        assert_eq!(pit.next_deadline(at(101)), Some(at(110)));
    }

    #[test]
    fn reload_while_counting_mode3_waits_for_the_half_cycle_end() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 3, false, 100, 0); // high 1..=50, low 51..=100
        program_count_only(&mut pit, 0, 20, 10);
        assert!(pit.out(0, at(50)));
        assert!(!pit.out(0, at(51)), "the new count starts with the low half");
        assert_eq!(latch_read(&mut pit, 0, 51), 20);
        assert!(!pit.out(0, at(60)));
        assert!(pit.out(0, at(61)));
        assert!(!pit.out(0, at(71)));
        assert_eq!(pit.next_deadline(at(10)), Some(at(51)));
        assert_eq!(pit.next_deadline(at(51)), Some(at(61)));
        // Written in the low half: takes over at the rising edge.
        program_count_only(&mut pit, 0, 4, 75);
        assert!(!pit.out(0, at(80)));
        assert!(pit.out(0, at(81)));
        assert!(pit.out(0, at(82)));
        assert!(!pit.out(0, at(83)));
    }

    fn program_count_only(pit: &mut Pit8254, counter: u8, count: u16, k: u64) {
        pit.write(PIT_COUNTER0 + counter as u16, count as u8, at(k));
        pit.write(PIT_COUNTER0 + counter as u16, (count >> 8) as u8, at(k));
    }

    #[test]
    fn mode4_software_strobe() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 4, false, 5, 0);
        let outs: Vec<bool> = (0..=8).map(|k| pit.out(0, at(k))).collect();
        assert_eq!(outs, [true, true, true, true, true, true, false, true, true]);
        assert_eq!(pit.next_deadline(at(0)), Some(at(6)));
        assert_eq!(pit.next_deadline(at(6)), Some(at(7)));
        assert_eq!(pit.next_deadline(at(7)), None, "one strobe per count");
    }

    #[test]
    fn mode1_gate_trigger_on_counter2() {
        let mut pit = Pit8254::new();
        program(&mut pit, 2, 1, false, 10, 0);
        assert!(pit.out(2, at(5)), "mode 1 OUT is high until triggered");
        assert_eq!(pit.read_port61(at(5)) & PORT61_OUT2, PORT61_OUT2);
        pit.write_port61(PORT61_TIMER2_GATE, at(20)); // trigger
        assert!(pit.out(2, at(20)));
        assert!(!pit.out(2, at(21)), "OUT goes low on the clock after the trigger");
        assert!(!pit.out(2, at(30)));
        assert!(pit.out(2, at(31)), "and high when the count reaches 0");
        assert_eq!(pit.read_port61(at(25)) & PORT61_OUT2, 0);
        // Retrigger in the middle of the one-shot: it restarts.
        pit.write_port61(0, at(40));
        pit.write_port61(PORT61_TIMER2_GATE, at(41));
        pit.write_port61(0, at(45));
        pit.write_port61(PORT61_TIMER2_GATE, at(46));
        assert!(!pit.out(2, at(55)));
        assert!(pit.out(2, at(57)));
        assert_eq!(latch_read(&mut pit, 2, 47) as u32, 10);
    }

    #[test]
    fn mode1_new_count_waits_for_the_next_trigger() {
        let mut pit = Pit8254::new();
        program(&mut pit, 2, 1, false, 10, 0);
        pit.write_port61(1, at(0));
        program_count_only(&mut pit, 2, 3, 5);
        assert!(!pit.out(2, at(10)));
        assert!(pit.out(2, at(11)));
        // The next trigger loads the new count: low for 3 clocks.
        pit.write_port61(0, at(20));
        pit.write_port61(1, at(20));
        assert!(!pit.out(2, at(21)));
        assert!(!pit.out(2, at(23)));
        assert!(pit.out(2, at(24)));
    }

    #[test]
    fn mode5_gate_triggered_strobe() {
        let mut pit = Pit8254::new();
        program(&mut pit, 2, 5, false, 4, 0);
        assert!(pit.out(2, at(100)));
        pit.write_port61(1, at(100));
        // Loaded at 101; OUT low for one clock when the count reaches 0 at 105.
        let outs: Vec<bool> = (101..=107).map(|k| pit.out(2, at(k))).collect();
        assert_eq!(outs, [true, true, true, true, false, true, true]);
    }

    #[test]
    fn counter0_modes_1_and_5_never_trigger() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 1, false, 10, 0);
        assert!(pit.out(0, at(1000)));
        assert_eq!(pit.next_deadline(at(0)), None);
    }

    #[test]
    fn mode2_gate_low_forces_out_high_and_rising_edge_reloads() {
        let mut pit = Pit8254::new();
        pit.write_port61(1, at(0));
        program(&mut pit, 2, 2, false, 10, 0);
        assert!(!pit.out(2, at(10)));
        pit.write_port61(0, at(10));
        assert!(pit.out(2, at(10)), "GATE low drives OUT high immediately");
        let held = latch_read(&mut pit, 2, 12);
        assert_eq!(latch_read(&mut pit, 2, 30), held, "and stops counting");
        pit.write_port61(1, at(30));
        assert_eq!(latch_read(&mut pit, 2, 31), 10, "reloaded on the clock after the edge");
        assert!(!pit.out(2, at(40)));
        assert!(pit.out(2, at(41)));
    }

    #[test]
    fn mode2_count_written_with_gate_low_waits_for_gate() {
        let mut pit = Pit8254::new();
        program(&mut pit, 2, 2, false, 10, 0);
        assert!(pit.out(2, at(100)));
        pit.write(PIT_COMMAND, 0xE8, at(100)); // read-back status of counter 2
        assert_ne!(pit.read(PIT_COUNTER2, at(100)) & 0x40, 0, "null count until loaded");
        pit.write_port61(1, at(100));
        assert!(!pit.out(2, at(110)));
        pit.write(PIT_COMMAND, 0xE8, at(110));
        assert_eq!(pit.read(PIT_COUNTER2, at(110)) & 0x40, 0);
    }

    #[test]
    fn mode0_gate_low_suspends_counting() {
        let mut pit = Pit8254::new();
        pit.write_port61(1, at(0));
        program(&mut pit, 2, 0, false, 20, 0); // would end at 21
        pit.write_port61(0, at(11)); // 10 clocks counted
        assert_eq!(latch_read(&mut pit, 2, 50), 10);
        assert!(!pit.out(2, at(50)));
        pit.write_port61(1, at(100));
        assert!(!pit.out(2, at(109)));
        assert!(pit.out(2, at(110)));
    }

    #[test]
    fn counter_latch_holds_the_value() {
        let mut pit = Pit8254::new();
        program(&mut pit, 1, 2, false, 1000, 0);
        pit.write(PIT_COMMAND, 0x40, at(101)); // latch counter 1
        pit.write(PIT_COMMAND, 0x40, at(200)); // ignored: already latched
        assert_eq!(pit.read(PIT_COUNTER1, at(300)), (900u16 & 0xFF) as u8);
        assert_eq!(pit.read(PIT_COUNTER1, at(400)), (900u16 >> 8) as u8);
        // The latch is released: reads follow the counter again.
        assert_eq!(read16(&mut pit, 1, 501), 500);
    }

    #[test]
    fn unlatched_two_byte_reads_see_a_moving_counter() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 2, false, 0x0105, 0);
        let lo = pit.read(PIT_COUNTER0, at(1)); // count 0x0105
        let hi = pit.read(PIT_COUNTER0, at(10)); // count 0x00FC
        assert_eq!((lo, hi), (0x05, 0x00));
    }

    #[test]
    fn read_back_status_and_count() {
        let mut pit = Pit8254::new();
        program(&mut pit, 2, 3, false, 8, 0);
        pit.write_port61(1, at(0)); // rising edge: reload at clock 1
        // Read-back: latch count and status of counter 2 (bits 5 and 4 clear, CNT2 set).
        pit.write(PIT_COMMAND, 0xC8, at(3));
        // Status first: OUT high, null count 0, RW 11, mode 011, binary.
        assert_eq!(pit.read(PIT_COUNTER2, at(9)), 0b1011_0110);
        assert_eq!(read16(&mut pit, 2, 9), 4, "the count as at the command");
        // Status only, counters 0 and 2.
        pit.write(PIT_COMMAND, 0x30, at(9)); // counter 0, mode 0, unprogrammed count
        pit.write(PIT_COMMAND, 0xEA, at(9));
        assert_eq!(pit.read(PIT_COUNTER0, at(9)), 0b0111_0000, "OUT low, null count, RW 11, mode 0");
        assert_eq!(pit.read(PIT_COUNTER2, at(9)) & 0x80, 0x80, "a new period began at clock 9");
        // A second status latch before the first is read is ignored.
        pit.write(PIT_COMMAND, 0xE8, at(13)); // low half
        pit.write(PIT_COMMAND, 0xE8, at(17)); // high half
        assert_eq!(pit.read(PIT_COUNTER2, at(18)) & 0x80, 0, "status of clock 13");
    }

    #[test]
    fn null_count_flag_follows_the_transfer() {
        let mut pit = Pit8254::new();
        pit.write(PIT_COMMAND, 0x34, at(0));
        pit.write(PIT_COMMAND, 0xE2, at(0));
        assert_ne!(pit.read(PIT_COUNTER0, at(0)) & 0x40, 0, "set by the control word");
        pit.write(PIT_COUNTER0, 100, at(0));
        pit.write(PIT_COUNTER0, 0, at(0));
        assert!(pit.counters[0].null_count_at(0));
        assert!(!pit.counters[0].null_count_at(1), "transferred on the next clock");
        // Mode 2, mid-count: the flag stays set until the period ends.
        pit.write(PIT_COUNTER0, 50, at(10));
        pit.write(PIT_COUNTER0, 0, at(10));
        assert!(pit.counters[0].null_count_at(100));
        assert!(!pit.counters[0].null_count_at(101));
    }

    #[test]
    fn bcd_counting() {
        let mut pit = Pit8254::new();
        program(&mut pit, 0, 0, true, 0x0100, 0); // BCD 100
        assert_eq!(latch_read(&mut pit, 0, 1), 0x0100);
        assert_eq!(latch_read(&mut pit, 0, 2), 0x0099);
        assert_eq!(latch_read(&mut pit, 0, 91), 0x0010);
        assert_eq!(latch_read(&mut pit, 0, 92), 0x0009);
        assert!(pit.out(0, at(101)));
        assert_eq!(latch_read(&mut pit, 0, 102), 0x9999, "BCD wraps to 9999");
        // BCD 0 is 10000 counts.
        program(&mut pit, 0, 2, true, 0, 1000);
        assert_eq!(pit.next_deadline(at(1001)), Some(at(1001 + 9999)));
        assert_eq!(latch_read(&mut pit, 0, 1002), 0x9999);
        pit.write(PIT_COMMAND, 0xE2, at(1002));
        assert_eq!(pit.read(PIT_COUNTER0, at(1002)) & 1, 1, "status shows BCD");
    }

    #[test]
    fn lsb_only_and_msb_only_access() {
        let mut pit = Pit8254::new();
        pit.write(PIT_COMMAND, 0x14, at(0)); // counter 0, LSB only, mode 2
        pit.write(PIT_COUNTER0, 0x80, at(0));
        assert_eq!(pit.next_deadline(at(0)), Some(at(1 + 0x7F)));
        assert_eq!(pit.read(PIT_COUNTER0, at(1)), 0x80);
        assert_eq!(pit.read(PIT_COUNTER0, at(2)), 0x7F, "every read is the LSB");
        pit.write(PIT_COMMAND, 0x24, at(0)); // MSB only
        pit.write(PIT_COUNTER0, 0x02, at(0));
        assert_eq!(pit.next_deadline(at(0)), Some(at(1 + 0x1FF)));
        assert_eq!(pit.read(PIT_COUNTER0, at(1)), 0x02);
        assert_eq!(pit.read(PIT_COUNTER0, at(2)), 0x01, "0x01FF: every read is the MSB");
    }

    #[test]
    fn lsb_then_msb_order() {
        let mut pit = Pit8254::new();
        pit.write(PIT_COMMAND, 0x34, at(0));
        pit.write(PIT_COUNTER0, 0x34, at(0));
        assert!(pit.counters[0].write_msb_next);
        assert_eq!(pit.next_deadline(at(0)), None, "nothing counts until the MSB is written");
        pit.write(PIT_COUNTER0, 0x12, at(0));
        assert_eq!(pit.counters[0].cr, 0x1234);
        assert_eq!(latch_read(&mut pit, 0, 1), 0x1234);
        // A control word resets the byte pointer.
        pit.write(PIT_COUNTER0, 0x11, at(2));
        pit.write(PIT_COMMAND, 0x34, at(2));
        pit.write(PIT_COUNTER0, 0x05, at(2));
        pit.write(PIT_COUNTER0, 0x00, at(2));
        assert_eq!(pit.counters[0].cr, 0x0005);
    }

    #[test]
    fn port61_refresh_toggle_and_bits() {
        let mut pit = Pit8254::new();
        assert_eq!(pit.read_port61(at(0)) & PORT61_REFRESH_TOGGLE, 0);
        assert_eq!(pit.read_port61(at(17)) & PORT61_REFRESH_TOGGLE, 0);
        assert_eq!(pit.read_port61(at(18)) & PORT61_REFRESH_TOGGLE, PORT61_REFRESH_TOGGLE);
        assert_eq!(pit.read_port61(at(36)) & PORT61_REFRESH_TOGGLE, 0);
        // 15.085 µs per toggle.
        assert_eq!(at(18).nanos(), 15_086);
        pit.write_port61(0xFF, at(0));
        assert_eq!(pit.read_port61(at(0)) & 0xCF, 0x0F, "bits 6-7 read 0, bits 0-3 read back");
        assert!(pit.counters[2].gate);
    }

    #[test]
    fn speaker_follows_out2_and_data_bit() {
        let mut pit = Pit8254::new();
        program(&mut pit, 2, 3, false, 4, 0);
        pit.write_port61(PORT61_TIMER2_GATE | PORT61_SPEAKER_DATA, at(0));
        assert!(pit.speaker_level(at(1)));
        assert!(!pit.speaker_level(at(3)));
        pit.write_port61(PORT61_TIMER2_GATE, at(4));
        assert!(!pit.speaker_level(at(5)));
    }

    #[test]
    fn command_port_reads_float_and_bad_channels_are_low() {
        let mut pit = Pit8254::new();
        assert_eq!(pit.read(PIT_COMMAND, at(0)), 0xFF);
        assert_eq!(pit.read(0x44, at(0)), 0xFF);
        assert!(!pit.out(3, at(0)));
        assert!(!pit.out(usize::MAX, at(0)));
        pit.write(0x44, 0, at(0));
    }

    #[test]
    fn next_deadline_agrees_with_out_everywhere() {
        // For several modes and counts, the deadline is exactly the first clock where OUT changes.
        for (mode, count) in [(0, 7), (2, 5), (3, 6), (3, 7), (4, 3), (2, 2), (3, 2), (3, 1), (2, 1)] {
            let mut pit = Pit8254::new();
            program(&mut pit, 0, mode, false, count, 3);
            program_count_only(&mut pit, 0, count + 2, 9);
            for k in 0..60 {
                let expected = (k + 1..k + 40).find(|&c| pit.out(0, at(c)) != pit.out(0, at(k)));
                let got = pit.next_deadline(at(k)).map(|t| t.pit_clocks()).filter(|&c| c < k + 40);
                assert_eq!(got, expected, "mode {mode} count {count} at clock {k}");
            }
        }
    }

    #[test]
    fn any_byte_sequence_never_panics() {
        let mut pit = Pit8254::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut k = 0u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            k += x % 50;
            let v = (x >> 24) as u8;
            match (x >> 40) % 6 {
                0 => pit.write(PIT_COMMAND, v, at(k)),
                1 => pit.write(0x40 + (x >> 50) as u16 % 3, v, at(k)),
                2 => {
                    pit.read(0x40 + (x >> 50) as u16 % 4, at(k));
                }
                3 => pit.write_port61(v, at(k)),
                4 => {
                    if let Some(d) = pit.next_deadline(at(k)) {
                        assert!(d > at(k));
                    }
                }
                _ => {
                    pit.read_port61(at(k));
                }
            }
        }
    }
}
