//! System control port A at 0x92: the "fast A20" gate and the "fast reset" bit.
//!
//! Sources: IBM *Personal System/2 Hardware Interface Technical Reference* (1988), "System Control
//! Port A (Hex 0092)"; Intel *82371AB PCI-to-ISA/IDE Xcelerator (PIIX4)* datasheet §4.1.20,
//! "PORT92—Port 92 Register". The port lets software flip A20 and reset the CPU without the slow
//! round trip through the 8042 keyboard controller (see [`super::kbc8042`]).
//!
//! What is modelled:
//! - bit 1, `ALT_A20_GATE`: the alternate A20 gate; reads back as written;
//! - bit 0, `INIT` (the PS/2 calls it "alternate hot reset"): a **0→1 transition** requests a
//!   reset. The bit reads back as written and must be cleared before another reset can be
//!   requested (PIIX4 datasheet), so a read-modify-write after the reset does not reset again.
//!
//! What is not: the PS/2's security lock latch (bit 3), watchdog status (bit 4) and fixed-disk
//! activity light (bits 6-7). Those bits, like the PIIX4's reserved bits 2-7, read as 0. The
//! PIIX4 drives the CPU's INIT# pin (registers reset, caches kept) while the PS/2 pulses RESET;
//! x86lab reports one [`Port92Event::ResetRequested`] and the machine decides what it resets.
//!
//! # Wiring (for the machine)
//! - Port [`PORT92`]: `in` → [`Port92::read`], `out` → [`Port92::write`]. No IRQ, no deadline.
//! - After every write, apply [`Port92::take_events`]: `A20Changed(level)` and `ResetRequested`.
//! - **The A20 line is an OR**: the chipset enables A20 when *either* the 8042's output port bit 1
//!   *or* port 92 bit 1 is set (PIIX4: A20M# is asserted only when both are 0). So on any A20
//!   event from either device the machine computes `kbc.a20() || port92.a20()` and sets the CPU's
//!   A20 mask from that, rather than applying one device's level alone.
//! - Power-on value is 0 (PIIX4 default), so port 92 alone does not enable A20.
//!
//! ```
//! use x86lab::devices::port92::{Port92, Port92Event, PORT92};
//!
//! let mut p = Port92::new();
//! p.write(0x02); // enable fast A20
//! assert_eq!(p.take_events(), vec![Port92Event::A20Changed(true)]);
//! p.write(0x03); // 0→1 on bit 0: reset
//! assert_eq!(p.take_events(), vec![Port92Event::ResetRequested]);
//! assert_eq!(p.read(), 0x03);
//! # let _ = PORT92;
//! ```

use bitflags::bitflags;
use serde::{Deserialize, Serialize};

/// The port number of system control port A.
pub const PORT92: u16 = 0x92;

bitflags! {
    /// System control port A (PS/2 HITR; PIIX4 PORT92).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct SysCtrlA: u8 {
        /// Fast reset: a 0→1 transition resets the CPU (PS/2 "alternate hot reset", PIIX4 INIT).
        const INIT = 1 << 0;
        /// Alternate A20 gate: 1 lets address line 20 through.
        const ALT_A20_GATE = 1 << 1;
    }
}

/// What the machine must do after a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port92Event {
    /// Bit 1 changed; the new level of port 92's A20 gate (OR it with the 8042's).
    A20Changed(bool),
    /// Bit 0 went from 0 to 1.
    ResetRequested,
}

/// The port's state: plain data, snapshot-ready.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port92 {
    /// System control port A as last written (only the modelled bits).
    pub value: SysCtrlA,
    /// An A20 change not yet taken by the machine.
    pub a20_changed: bool,
    /// A reset request not yet taken by the machine.
    pub reset_requested: bool,
}

impl Port92 {
    /// The power-on state: all bits 0.
    pub fn new() -> Port92 {
        Port92::default()
    }

    /// `in al, 0x92`: the modelled bits as written; the rest read 0.
    pub fn read(&self) -> u8 {
        self.value.bits()
    }

    /// `out 0x92, al`.
    pub fn write(&mut self, value: u8) {
        let new = SysCtrlA::from_bits_truncate(value);
        let old = self.value;
        if new.contains(SysCtrlA::ALT_A20_GATE) != old.contains(SysCtrlA::ALT_A20_GATE) {
            // A change back to the level last reported cancels out.
            self.a20_changed = !self.a20_changed;
        }
        // The reset is edge-triggered: only a 0→1 transition of bit 0 pulses the line.
        if new.contains(SysCtrlA::INIT) && !old.contains(SysCtrlA::INIT) {
            self.reset_requested = true;
        }
        self.value = new;
    }

    /// Port 92's A20 gate level (bit 1).
    pub fn a20(&self) -> bool {
        self.value.contains(SysCtrlA::ALT_A20_GATE)
    }

    /// The requests since the last call, A20 first (so a reset sees the final A20 level).
    pub fn take_events(&mut self) -> Vec<Port92Event> {
        let mut ev = Vec::new();
        if std::mem::take(&mut self.a20_changed) {
            ev.push(Port92Event::A20Changed(self.a20()));
        }
        if std::mem::take(&mut self.reset_requested) {
            ev.push(Port92Event::ResetRequested);
        }
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_on_is_zero_with_no_events() {
        let mut p = Port92::new();
        assert_eq!(p.read(), 0);
        assert!(!p.a20());
        assert!(p.take_events().is_empty());
    }

    #[test]
    fn a20_gate_reads_back_and_reports_changes() {
        let mut p = Port92::new();
        p.write(0x02);
        assert!(p.a20());
        assert_eq!(p.read(), 0x02);
        assert_eq!(p.take_events(), vec![Port92Event::A20Changed(true)]);
        // Writing the same level again is not a change.
        p.write(0x02);
        assert!(p.take_events().is_empty());
        p.write(0x00);
        assert_eq!(p.take_events(), vec![Port92Event::A20Changed(false)]);
    }

    #[test]
    fn a20_toggled_twice_between_takes_is_no_change() {
        let mut p = Port92::new();
        p.write(0x02);
        p.write(0x00);
        assert!(p.take_events().is_empty());
        p.write(0x02);
        p.write(0x00);
        p.write(0x02);
        assert_eq!(p.take_events(), vec![Port92Event::A20Changed(true)]);
    }

    #[test]
    fn reset_only_on_rising_edge_of_bit_0() {
        let mut p = Port92::new();
        p.write(0x01);
        assert_eq!(p.take_events(), vec![Port92Event::ResetRequested]);
        assert_eq!(p.read(), 0x01, "bit 0 reads back as written");
        // Still 1: a read-modify-write (e.g. to enable A20) must not reset again.
        p.write(p.read() | 0x02);
        assert_eq!(p.take_events(), vec![Port92Event::A20Changed(true)]);
        // Cleared, then set again: a second reset.
        p.write(0x02);
        assert!(p.take_events().is_empty());
        p.write(0x03);
        assert_eq!(p.take_events(), vec![Port92Event::ResetRequested]);
    }

    #[test]
    fn a20_and_reset_in_one_write_report_a20_first() {
        let mut p = Port92::new();
        p.write(0x03);
        assert_eq!(p.take_events(), vec![Port92Event::A20Changed(true), Port92Event::ResetRequested]);
    }

    #[test]
    fn unmodelled_bits_read_as_zero() {
        for v in 0..=255u8 {
            let mut p = Port92::new();
            p.write(v);
            assert_eq!(p.read(), v & 0x03);
        }
    }
}
