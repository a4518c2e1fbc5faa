//! Pacing guest time to the wall clock.
//!
//! Guest time is virtual: [`Clock`](crate::machine::clock::Clock) derives it from the
//! instruction count at a nominal rate (`--ips`), and a CPU halted waiting for an interrupt skips
//! it forward to the next device event. Headless, that makes a run reproducible and as fast as
//! the host allows. In a window a person watches, so guest time must pass as wall time does: the
//! guest's clock, the 18.2 Hz BIOS tick, blinking cursors and animations then run at the right
//! speed.
//!
//! A [`Pacer`] ties one wall instant to one guest time and maps between the two. The window's
//! loop asks the machine to run until the guest time of the next picture
//! ([`Machine::run_until`](crate::machine::Machine::run_until)); when the guest gets there early
//! (the host is faster than the nominal rate, or the guest halted and only waits for a timer)
//! the loop sleeps until the wall clock catches up, so an idle guest costs the host almost no
//! CPU. When the host is slower than the nominal rate the guest runs flat out and its time falls
//! behind; a lag larger than [`Pacer::max_lag`] is forgiven (the tie is moved) rather than caught
//! up in a burst.

use crate::machine::clock::Tick;
use std::time::{Duration, Instant};

/// A tie between the wall clock and guest time.
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    wall0: Instant,
    guest0: Tick,
    /// How far guest time may fall behind before the difference is forgiven.
    pub max_lag: Duration,
}

impl Pacer {
    /// Guest time `guest` is now (`wall`).
    pub fn new(wall: Instant, guest: Tick) -> Pacer {
        Pacer { wall0: wall, guest0: guest, max_lag: Duration::from_millis(250) }
    }

    /// Ties `wall` to `guest` again (after a pause, a reset, a snapshot restore).
    pub fn rebase(&mut self, wall: Instant, guest: Tick) {
        self.wall0 = wall;
        self.guest0 = guest;
    }

    /// The guest time that belongs to the wall instant `wall`.
    pub fn guest_at(&self, wall: Instant) -> Tick {
        let d = wall.saturating_duration_since(self.wall0);
        self.guest0.saturating_add(Tick(d.as_nanos().min(u64::MAX as u128) as u64))
    }

    /// The wall instant at which guest time reaches `t` (now or earlier if it already has).
    pub fn wall_at(&self, t: Tick) -> Instant {
        self.wall0 + Duration::from_nanos(t.saturating_sub(self.guest0).nanos())
    }

    /// How far guest time `guest` is behind the wall clock at `wall` (zero if it is ahead).
    pub fn lag(&self, wall: Instant, guest: Tick) -> Duration {
        Duration::from_nanos(self.guest_at(wall).saturating_sub(guest).nanos())
    }

    /// Forgives a lag larger than [`Pacer::max_lag`]: the guest then runs on from where it is
    /// instead of racing to catch up. Returns true if it did.
    pub fn forgive_lag(&mut self, wall: Instant, guest: Tick) -> bool {
        if self.lag(wall, guest) > self.max_lag {
            self.rebase(wall, guest);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_wall_time_to_guest_time_and_back() {
        let w0 = Instant::now();
        let p = Pacer::new(w0, Tick::from_secs(5));
        assert_eq!(p.guest_at(w0), Tick::from_secs(5));
        assert_eq!(p.guest_at(w0 + Duration::from_millis(16)), Tick::from_millis(5016));
        assert_eq!(p.wall_at(Tick::from_millis(5100)), w0 + Duration::from_millis(100));
        assert_eq!(p.wall_at(Tick::from_secs(1)), w0, "a time in the past is now");
    }

    #[test]
    fn a_small_lag_is_kept_a_large_one_forgiven() {
        let w0 = Instant::now();
        let mut p = Pacer::new(w0, Tick(0));
        let w = w0 + Duration::from_millis(100);
        assert_eq!(p.lag(w, Tick::from_millis(40)), Duration::from_millis(60));
        assert_eq!(p.lag(w, Tick::from_millis(400)), Duration::ZERO, "ahead is no lag");
        assert!(!p.forgive_lag(w, Tick::from_millis(40)));
        let w = w0 + Duration::from_secs(2);
        assert!(p.forgive_lag(w, Tick::from_millis(40)));
        assert_eq!(p.guest_at(w), Tick::from_millis(40));
    }
}
