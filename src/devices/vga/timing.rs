//! Display timing derived from guest time: where the beam is at a [`Tick`], for Input Status
//! #1 (display enable, vertical retrace), blinking, and the frame period a front end paces by.
//!
//! The VGA's timing comes from its registers (IBM VGA TR, "CRT Controller Registers"): the
//! dot clock the Miscellaneous Output register selects (25.175 MHz or 28.322 MHz, halved by
//! the Sequencer's DCR), 8 or 9 dots per character clock, Horizontal Total + 5 character
//! clocks per line and Vertical Total + 2 lines per frame. Mode 03h gives 31.47 kHz / 70.09 Hz,
//! mode 12h 31.47 kHz / 59.94 Hz. When the registers do not describe a plausible frame (power
//! on, or a guest halfway through reprogramming), the mode 03h timing is used instead, so a
//! guest waiting for retrace always makes progress.
//!
//! The beam position is computed from the time of the access (no per-line events); the model
//! never needs a deadline. Not modelled: the horizontal blanking and retrace positions
//! (display enable uses End Horizontal Display and Vertical Display End), display enable skew,
//! SLDIV (vertical counts halved) and the vertical retrace interrupt.

use super::Vga;
use crate::machine::clock::Tick;

/// Master clock 0 (Miscellaneous Output clock select 00b): 25.175 MHz.
pub const CLOCK_25MHZ: u64 = 25_175_000;
/// Master clock 1 (clock select 01b): 28.322 MHz.
pub const CLOCK_28MHZ: u64 = 28_322_000;

/// Attribute blink toggles every 16 frames (a 32-frame period), the cursor every 8 (IBM VGA
/// TR: the blink rate is the vertical sync rate divided by 32 and 16).
pub const ATTRIBUTE_BLINK_FRAMES: u64 = 16;
/// Frames per half period of the cursor blink.
pub const CURSOR_BLINK_FRAMES: u64 = 8;

/// One frame's geometry and duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Duration of one scan line in picoseconds (ns are too coarse to add up over a frame).
    pub line_ps: u64,
    /// Character clocks per line and the displayed ones.
    pub h_total: u64,
    pub h_display: u64,
    /// Lines per frame, displayed lines, and vertical retrace start and length.
    pub v_total: u64,
    pub v_display: u64,
    pub v_retrace_start: u64,
    pub v_retrace_lines: u64,
}

impl Timing {
    /// Mode 03h: 28.322 MHz, 9-dot, 100 x 449, retrace at line 412 for 2 lines.
    pub const FALLBACK: Timing = Timing {
        line_ps: 100 * 9 * 1_000_000_000_000 / CLOCK_28MHZ,
        h_total: 100,
        h_display: 80,
        v_total: 449,
        v_display: 400,
        v_retrace_start: 412,
        v_retrace_lines: 2,
    };

    /// The timing the registers describe, or [`Timing::FALLBACK`].
    pub fn of(vga: &Vga) -> Timing {
        let clock = match (vga.misc_output >> 2) & 3 {
            1 => CLOCK_28MHZ,
            _ => CLOCK_25MHZ,
        };
        let dots = if vga.gc.graphics_mode_enabled() { 8 } else { vga.seq.char_width() as u64 };
        let div = if vga.seq.dot_clock_halved() { 2 } else { 1 };
        let c = &vga.crtc;
        let t = Timing {
            line_ps: (c.horizontal_total_chars() as u64 * dots * div * 1_000_000_000_000) / clock,
            h_total: c.horizontal_total_chars() as u64,
            h_display: c.horizontal_display_chars() as u64,
            v_total: c.vertical_total_lines() as u64,
            v_display: c.vertical_display_end() as u64,
            v_retrace_start: c.vertical_retrace_start() as u64,
            v_retrace_lines: c.vertical_retrace_lines() as u64,
        };
        let plausible = t.h_display < t.h_total
            && t.v_display < t.v_total
            && t.v_retrace_start < t.v_total
            && t.v_total >= 100
            && (20..=200).contains(&(1_000_000_000_000 / t.frame_ps().max(1)));
        if plausible { t } else { Timing::FALLBACK }
    }

    /// One frame in picoseconds.
    pub fn frame_ps(&self) -> u64 {
        self.line_ps * self.v_total
    }
    /// One frame as guest time (rounded down to a nanosecond).
    pub fn frame_period(&self) -> Tick {
        Tick(self.frame_ps() / 1000)
    }
    /// Frames started since time 0.
    pub fn frame_number(&self, now: Tick) -> u64 {
        ((now.0 as u128 * 1000) / self.frame_ps().max(1) as u128) as u64
    }
    /// The start of the next frame after `now` (the end of vertical retrace is near; a front
    /// end can present a frame there).
    pub fn next_frame(&self, now: Tick) -> Tick {
        let n = self.frame_number(now) as u128 + 1;
        Tick((n * self.frame_ps() as u128 / 1000).min(u64::MAX as u128) as u64)
    }
    /// (scan line, character clock) of the beam at `now`.
    pub fn beam(&self, now: Tick) -> (u64, u64) {
        let ps = now.0 as u128 * 1000;
        let in_frame = (ps % self.frame_ps().max(1) as u128) as u64;
        let line = in_frame / self.line_ps.max(1);
        let in_line = in_frame % self.line_ps.max(1);
        (line, in_line * self.h_total / self.line_ps.max(1))
    }
    /// Input Status #1 bits 3 (Vertical Retrace) and 0 (Display Disabled: 1 in horizontal
    /// or vertical blanking).
    pub fn input_status_1(&self, now: Tick) -> u8 {
        let (line, char_clock) = self.beam(now);
        let mut v = 0;
        if line >= self.v_display || char_clock >= self.h_display {
            v |= 0x01;
        }
        if line >= self.v_retrace_start && line < self.v_retrace_start + self.v_retrace_lines {
            v |= 0x08;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_is_70_hz() {
        let t = Timing::FALLBACK;
        let hz = 1e12 / t.frame_ps() as f64;
        assert!((hz - 70.09).abs() < 0.01, "{hz}");
    }

    #[test]
    fn power_on_registers_use_fallback() {
        assert_eq!(Timing::of(&Vga::new()), Timing::FALLBACK);
    }

    #[test]
    fn status_bits_follow_the_beam() {
        let t = Timing::FALLBACK;
        let at = |line: u64, ch: u64| Tick(((line * t.line_ps) + ch * t.line_ps / t.h_total + 1) / 1000 + 1);
        assert_eq!(t.input_status_1(at(0, 0)), 0x00, "top left: displaying");
        assert_eq!(t.input_status_1(at(10, 90)), 0x01, "horizontal blanking");
        assert_eq!(t.input_status_1(at(405, 10)), 0x01, "vertical blanking");
        assert_eq!(t.input_status_1(at(412, 10)), 0x09, "vertical retrace");
        assert_eq!(t.input_status_1(at(413, 10)), 0x09);
        assert_eq!(t.input_status_1(at(414, 10)), 0x01, "retrace over");
        let frame = t.frame_period();
        assert_eq!(t.frame_number(Tick(frame.0 * 3 + 5)), 3);
        assert!(t.next_frame(Tick(5)) >= frame);
    }
}
