//! Virtual time: guest time comes from the instruction count, never from the host clock, so a
//! run is reproducible (the same image and input give the same trace, screen and serial output).
//!
//! - [`Tick`] counts nanoseconds of guest time. Conversions to and from device clocks (the PIT's
//!   1.193182 MHz, the RTC's 32.768 kHz, a UART's baud rate) live here and nowhere else, with
//!   integer arithmetic that rounds the same way every time.
//! - [`Clock`] maps the CPU's instruction count to guest time at a nominal rate of `ips`
//!   instructions per second (`--ips`). When the CPU halts waiting for an interrupt, the machine
//!   *skips* time forward to the next device event instead of executing idle instructions.
//! - [`Scheduler`] holds one deadline per device (a device arms the time of its next visible
//!   event, e.g. the PIT's next output edge); the run loop executes instructions until the
//!   earliest deadline and then lets that device catch up. No device is polled per instruction.

use serde::{Deserialize, Serialize};

/// Guest time in nanoseconds since power-on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tick(pub u64);

/// Nanoseconds per second.
const NS: u128 = 1_000_000_000;

impl Tick {
    /// A deadline that never comes.
    pub const NEVER: Tick = Tick(u64::MAX);
    /// Input clock of the 8254 PIT: 14.31818 MHz / 12 (IBM PC Technical Reference).
    pub const PIT_HZ: u64 = 1_193_182;
    /// The RTC's time base (MC146818A datasheet: 32.768 kHz crystal).
    pub const RTC_HZ: u64 = 32_768;

    pub const fn from_nanos(ns: u64) -> Tick {
        Tick(ns)
    }
    pub const fn from_micros(us: u64) -> Tick {
        Tick(us.saturating_mul(1_000))
    }
    pub const fn from_millis(ms: u64) -> Tick {
        Tick(ms.saturating_mul(1_000_000))
    }
    pub const fn from_secs(s: u64) -> Tick {
        Tick(s.saturating_mul(1_000_000_000))
    }
    pub const fn nanos(self) -> u64 {
        self.0
    }
    pub fn saturating_add(self, d: Tick) -> Tick {
        Tick(self.0.saturating_add(d.0))
    }
    pub fn saturating_sub(self, d: Tick) -> Tick {
        Tick(self.0.saturating_sub(d.0))
    }

    /// The time at which `n` cycles of a `hz` clock have elapsed since time 0, rounded up (so
    /// that at the returned tick at least `n` whole cycles have happened).
    pub fn from_cycles(n: u64, hz: u64) -> Tick {
        let t = (n as u128 * NS).div_ceil(hz.max(1) as u128);
        Tick(t.min(u64::MAX as u128) as u64)
    }
    /// Whole cycles of a `hz` clock elapsed by this time (rounded down).
    pub fn cycles(self, hz: u64) -> u64 {
        ((self.0 as u128 * hz as u128) / NS) as u64
    }
    /// `Tick::from_cycles(n, Tick::PIT_HZ)`.
    pub fn from_pit_clocks(n: u64) -> Tick {
        Tick::from_cycles(n, Tick::PIT_HZ)
    }
    /// Whole PIT input clocks elapsed by this time.
    pub fn pit_clocks(self) -> u64 {
        self.cycles(Tick::PIT_HZ)
    }
}

/// Maps the instruction count to guest time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Nominal instructions per second.
    pub ips: u64,
    /// Guest time at `base_icount`.
    base: Tick,
    base_icount: u64,
}

/// Default nominal rate: 20 million instructions per second.
pub const DEFAULT_IPS: u64 = 20_000_000;

impl Clock {
    pub fn new(ips: u64) -> Clock {
        Clock { ips: ips.max(1), base: Tick(0), base_icount: 0 }
    }

    /// Guest time when the CPU has executed `icount` instructions.
    #[inline]
    pub fn now(&self, icount: u64) -> Tick {
        let d = icount.saturating_sub(self.base_icount) as u128;
        Tick(self.base.0.saturating_add((d * NS / self.ips as u128).min(u64::MAX as u128) as u64))
    }

    /// How many instructions can run from `icount` before guest time reaches `t` (at least 1
    /// if `t` is in the future, 0 if it has come).
    pub fn instructions_until(&self, icount: u64, t: Tick) -> u64 {
        let now = self.now(icount);
        if t <= now {
            return 0;
        }
        let dt = (t.0 - now.0) as u128;
        ((dt * self.ips as u128).div_ceil(NS)).min(u64::MAX as u128) as u64
    }

    /// Moves guest time forward to `t` without executing instructions (a halted CPU waiting
    /// for an interrupt). Time never goes backwards.
    pub fn skip_to(&mut self, icount: u64, t: Tick) {
        let now = self.now(icount);
        self.base = if t > now { t } else { now };
        self.base_icount = icount;
    }
}

/// The devices that can arm a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Timer {
    Pit = 0,
    Rtc,
    Kbc,
    Com1,
    Com2,
    Fdc,
    Ata0,
    Ata1,
    Vga,
}

impl Timer {
    pub const COUNT: usize = 9;
    pub const ALL: [Timer; Timer::COUNT] = [
        Timer::Pit,
        Timer::Rtc,
        Timer::Kbc,
        Timer::Com1,
        Timer::Com2,
        Timer::Fdc,
        Timer::Ata0,
        Timer::Ata1,
        Timer::Vga,
    ];
}

/// One deadline per device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduler {
    deadlines: [Tick; Timer::COUNT],
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler { deadlines: [Tick::NEVER; Timer::COUNT] }
    }
}

impl Scheduler {
    /// Arms (or moves) a device's deadline; `None` disarms it.
    pub fn set(&mut self, t: Timer, at: Option<Tick>) {
        self.deadlines[t as usize] = at.unwrap_or(Tick::NEVER);
    }
    pub fn get(&self, t: Timer) -> Option<Tick> {
        let d = self.deadlines[t as usize];
        (d != Tick::NEVER).then_some(d)
    }
    /// The earliest armed deadline.
    pub fn next(&self) -> Option<(Tick, Timer)> {
        let mut best: Option<(Tick, Timer)> = None;
        for t in Timer::ALL {
            let d = self.deadlines[t as usize];
            if d != Tick::NEVER && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, t));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pit_conversions_round_consistently() {
        // 65536 PIT clocks (one 18.2 Hz BIOS tick) is 54925.40 µs.
        let t = Tick::from_pit_clocks(65536);
        assert_eq!(t.0, 54_925_402);
        assert_eq!(t.pit_clocks(), 65536);
        assert_eq!(Tick(t.0 - 1).pit_clocks(), 65535);
    }

    #[test]
    fn clock_maps_instructions_and_skips() {
        let mut c = Clock::new(10_000_000);
        assert_eq!(c.now(10), Tick(1000));
        assert_eq!(c.instructions_until(10, Tick(2000)), 10);
        c.skip_to(10, Tick::from_millis(5));
        assert_eq!(c.now(10), Tick::from_millis(5));
        assert_eq!(c.now(20), Tick(5_001_000));
        c.skip_to(20, Tick(0));
        assert_eq!(c.now(20), Tick(5_001_000), "time never goes backwards");
    }

    #[test]
    fn scheduler_picks_earliest() {
        let mut s = Scheduler::default();
        assert_eq!(s.next(), None);
        s.set(Timer::Rtc, Some(Tick(50)));
        s.set(Timer::Pit, Some(Tick(70)));
        assert_eq!(s.next(), Some((Tick(50), Timer::Rtc)));
        s.set(Timer::Rtc, None);
        assert_eq!(s.next(), Some((Tick(70), Timer::Pit)));
    }
}
