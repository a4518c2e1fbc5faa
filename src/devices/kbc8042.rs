//! The Intel 8042 keyboard controller, with a PS/2 keyboard and a PS/2 mouse attached.
//!
//! Sources: IBM *Personal System/2 Hardware Interface Technical Reference* (1988), chapters
//! "Keyboard/Auxiliary Device Controller" (status register, command byte, controller commands,
//! input and output ports, scan-code translation) and "Keyboard" (keyboard commands, scan code
//! sets 1 and 2); IBM *PC AT Technical Reference* (1984), "Keyboard Controller"; Intel *UPI-41A/
//! 41AH/42/42AH Universal Peripheral Interface* data sheet (the 8042 itself: ports come out of reset
//! high). The mouse follows the PS/2 HITR "Pointing Device" section and the IntelliMouse
//! extension (wheel, device ID 3).
//!
//! # The parts
//! - [`Kbc8042`] is the controller: port [`KBC_DATA`] (0x60) and port [`KBC_STATUS`] /
//!   [`KBC_COMMAND`] (0x64). It owns a one-byte output buffer, the [`Status`] register, the
//!   [`CommandByte`], the [`OutputPort`] (A20 gate and reset line) and the input port.
//! - [`Ps2Keyboard`] is the MF2 keyboard on the first PS/2 port: it answers keyboard commands and
//!   turns host [`Key`] events into set 2 (or set 1) scan codes in a bounded 16-byte buffer.
//!   With XLATE set the controller translates everything the keyboard sends, command responses
//!   included (identify reads `AB 41`), so a guest that selects set 1 and leaves XLATE on gets
//!   codes translated twice, as on real hardware.
//! - [`Ps2Mouse`] is the mouse on the auxiliary port (IRQ12), with 3-byte packets, or 4-byte
//!   IntelliMouse packets after the 200/100/80 sample-rate knock.
//!
//! # Timing
//! Controller commands answer at once: a reply lands in the output buffer during the `out` that
//! asked for it (a real 8042 takes some tens of microseconds, which no guest depends on). A byte
//! from a *device*, though, crosses the PS/2 wire in 11 clocks, and the controller holds the wire
//! while its output buffer is full. x86lab models that: each device byte lands in the output
//! buffer [`PS2_BYTE_TIME`] after the buffer became free (or the byte became available). This is
//! not only realism: IRQ1 and IRQ12 go to an *edge-triggered* 8259, so after the guest reads one
//! byte the line must fall before the next byte raises it again, or the second interrupt would be
//! lost. The pending transfer is a deadline ([`Kbc8042::next_deadline`]), computed lazily: every
//! access first catches up to its `now`. The keyboard's power-on self-test (BAT, really 300-500
//! ms) is not timed: `0xAA` follows the reset ACK one byte time later.
//!
//! # Not modelled
//! - Typematic repeat: a held key sends one make code; the guest (or the host, by sending
//!   repeated presses) repeats. The typematic rate byte is stored and otherwise ignored.
//! - Scan code set 3 (selecting it is refused with Resend), set-3 key-type commands (0xF7-0xFD
//!   are acknowledged and ignored), and the extra "fake shift" codes a real keyboard wraps around
//!   E0 keys while Shift or Num Lock is held.
//! - The input buffer: commands and data are taken at once, so IBF always reads 0; the parity and
//!   timeout status bits always read 0 (both devices are always present and never err).
//! - The keylock, the password commands (0xA4 reports "no password"), the 8042's RAM beyond the 32
//!   bytes reachable with 0x20-0x3F / 0x60-0x7F, 0xC1/0xC2 (poll input port).
//! - Mouse overflow bits: motion too large for one packet is split over several packets.
//!
//! # Wiring (for the machine)
//! - Ports: `in 0x60` / `in 0x64` → [`Kbc8042::read`]`(port, now)`; `out 0x60` / `out 0x64` →
//!   [`Kbc8042::write`]`(port, value, now)`. Both take the low byte. (Port 0x61 is *not* the
//!   8042: it is system control port B, with the PIT's gate and the speaker.)
//! - After every access, after [`Kbc8042::key_event`] / [`Kbc8042::mouse_event`], and when the
//!   deadline fires (then call [`Kbc8042::update`]`(now)` first):
//!   1. set PIC line 1 to [`Kbc8042::irq1_level`] and line 12 to [`Kbc8042::irq12_level`]
//!      ([`KBD_IRQ`], [`AUX_IRQ`]); both are levels, the PIC finds the edges;
//!   2. arm `Timer::Kbc` with [`Kbc8042::next_deadline`];
//!   3. apply [`Kbc8042::take_events`]: [`KbcEvent::A20Changed`] — the chipset's A20 is
//!      `kbc.a20() || port92.a20()` (see [`super::port92`]); [`KbcEvent::ResetRequested`] — reset
//!      the CPU.
//! - A CPU reset (this one, port 92's, a triple fault) does **not** reset the 8042: a BIOS reads
//!   the SYS flag to tell a warm reset from power-on. Only power-on builds a new [`Kbc8042::new`].
//! - At power-on the output port is all ones (the 8042's ports come out of reset high), so A20 is
//!   *enabled* until the BIOS turns it off; this matches the CPU's reset A20 mask of all ones.
//!
//! ```
//! use x86lab::devices::kbc8042::{Kbc8042, Key, KBC_COMMAND, KBC_DATA, KBC_STATUS, PS2_BYTE_TIME};
//! use x86lab::machine::clock::Tick;
//!
//! let mut kbc = Kbc8042::new();
//! let t = Tick::from_millis(1);
//! kbc.write(KBC_COMMAND, 0xAA, t); // controller self-test
//! assert_eq!(kbc.read(KBC_STATUS, t) & 1, 1); // OBF: the reply is there at once
//! assert_eq!(kbc.read(KBC_DATA, t), 0x55);
//!
//! kbc.key_event(Key::A, true, t); // set 2 make code 0x1C, translated to set 1 0x1E
//! let later = t.saturating_add(PS2_BYTE_TIME);
//! assert_eq!(kbc.next_deadline(), Some(later));
//! kbc.update(later);
//! assert!(kbc.irq1_level());
//! assert_eq!(kbc.read(KBC_DATA, later), 0x1E);
//! ```

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

use bitflags::bitflags;

use crate::machine::clock::Tick;

/// Data port: read the output buffer, write data for the controller or the keyboard.
pub const KBC_DATA: u16 = 0x60;
/// Status register (read).
pub const KBC_STATUS: u16 = 0x64;
/// Command register (write; same port as [`KBC_STATUS`]).
pub const KBC_COMMAND: u16 = 0x64;
/// The keyboard's IRQ line on the master PIC.
pub const KBD_IRQ: u8 = 1;
/// The auxiliary (mouse) IRQ line, on the slave PIC.
pub const AUX_IRQ: u8 = 12;

/// Clock of the PS/2 wire: devices clock it at 10-16.7 kHz; x86lab uses 15 kHz.
pub const PS2_CLOCK_HZ: u64 = 15_000;
/// Time for one byte to cross the PS/2 wire: 11 clocks (start, 8 data, parity, stop), ~733 µs.
pub const PS2_BYTE_TIME: Tick = Tick::from_nanos(11 * 1_000_000_000 / PS2_CLOCK_HZ);

/// Capacity of the keyboard's scan-code buffer (IBM: 16 bytes); one more slot holds the overrun
/// code.
pub const KBD_BUFFER_SIZE: usize = 16;
/// Capacity of the mouse's packet buffer.
pub const AUX_BUFFER_SIZE: usize = 16;
/// Capacity of a device's command-response queue (longest response: 5 bytes).
const RESPONSE_QUEUE_SIZE: usize = 8;
/// Capacity of the controller's own reply queue.
const REPLY_QUEUE_SIZE: usize = 4;

bitflags! {
    /// Status register, read at port 0x64 (PS/2 HITR, "Status Register").
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Status: u8 {
        /// Output buffer full: a byte waits at port 0x60.
        const OBF = 1 << 0;
        /// Input buffer full: the controller has not taken the last write yet (always 0 here).
        const IBF = 1 << 1;
        /// System flag: 0 after power-on, 1 after a successful self-test or from command byte bit 2.
        const SYS = 1 << 2;
        /// Command/data: 1 if the last write was to port 0x64, 0 if to port 0x60.
        const A2 = 1 << 3;
        /// Inhibit switch: 1 = keyboard not inhibited (keylock open).
        const INH = 1 << 4;
        /// Auxiliary output buffer full: the byte in the output buffer is from the mouse.
        const AUXB = 1 << 5;
        /// General time-out: a device did not answer (never set here).
        const TIMEOUT = 1 << 6;
        /// Parity error on the last byte from a device (never set here).
        const PARITY = 1 << 7;
    }
}

bitflags! {
    /// Controller command byte, read with command 0x20 and written with 0x60 (PS/2 HITR,
    /// "Controller Command Byte"). Bits 3 and 7 are reserved and kept as written.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct CommandByte: u8 {
        /// Enable keyboard interrupt: raise IRQ1 when keyboard data is in the output buffer.
        const INT = 1 << 0;
        /// Enable auxiliary interrupt: raise IRQ12 when mouse data is in the output buffer.
        const INT2 = 1 << 1;
        /// System flag, copied to status bit 2.
        const SYS = 1 << 2;
        /// Disable keyboard: hold the keyboard's clock line low (it buffers its scan codes).
        const DISABLE = 1 << 4;
        /// Disable auxiliary device: hold the mouse's clock line low.
        const DISABLE2 = 1 << 5;
        /// Translate keyboard scan codes from set 2 to set 1 (and fold 0xF0 into bit 7).
        const XLATE = 1 << 6;
        const _ = !0;
    }
}

bitflags! {
    /// The controller's output port P2, read with 0xD0 and written with 0xD1 (PS/2 HITR, "Output
    /// Port").
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct OutputPort: u8 {
        /// System reset, active low: writing 0 resets the CPU.
        const SYS_RESET = 1 << 0;
        /// Gate A20: 1 lets address line 20 through.
        const GATE_A20 = 1 << 1;
        /// Auxiliary data line (output).
        const AUX_DATA = 1 << 2;
        /// Auxiliary clock line (output).
        const AUX_CLOCK = 1 << 3;
        /// Output buffer full with keyboard data: this pin is IRQ1.
        const KBD_OBF = 1 << 4;
        /// Output buffer full with auxiliary data: this pin is IRQ12.
        const AUX_OBF = 1 << 5;
        /// Keyboard clock line (output).
        const KBD_CLOCK = 1 << 6;
        /// Keyboard data line (output).
        const KBD_DATA = 1 << 7;
        const _ = !0;
    }
}

/// Input port P1 bit 7: 1 = keyboard not inhibited (keylock open).
pub const INPUT_KEYLOCK_OPEN: u8 = 1 << 7;
/// Input port P1 bit 6: primary display, 1 = monochrome, 0 = colour (IBM AT).
pub const INPUT_DISPLAY_MONO: u8 = 1 << 6;
/// Input port P1 bit 5: 1 = manufacturing jumper not installed (normal POST).
pub const INPUT_NO_MFG_JUMPER: u8 = 1 << 5;
/// The input port x86lab presents: keylock open, colour display, no manufacturing jumper.
pub const INPUT_PORT: u8 = INPUT_KEYLOCK_OPEN | INPUT_NO_MFG_JUMPER;

/// Controller commands, written to port 0x64 (PS/2 HITR, "Commands (I/O Address Hex 64)").
pub mod command {
    /// Read the command byte (8042 RAM byte 0); 0x21-0x3F read RAM bytes 1-31.
    pub const READ_COMMAND_BYTE: u8 = 0x20;
    /// Write the command byte from the next data byte; 0x61-0x7F write RAM bytes 1-31.
    pub const WRITE_COMMAND_BYTE: u8 = 0x60;
    /// Test password installed: replies 0xF1 (none).
    pub const TEST_PASSWORD: u8 = 0xA4;
    /// Disable the auxiliary interface (sets DISABLE2).
    pub const DISABLE_AUX: u8 = 0xA7;
    /// Enable the auxiliary interface (clears DISABLE2).
    pub const ENABLE_AUX: u8 = 0xA8;
    /// Auxiliary interface test: replies 0x00 (no error).
    pub const TEST_AUX: u8 = 0xA9;
    /// Controller self-test: replies 0x55 and sets the SYS flag.
    pub const SELF_TEST: u8 = 0xAA;
    /// Keyboard interface test: replies 0x00 (no error).
    pub const TEST_KBD: u8 = 0xAB;
    /// Disable the keyboard interface (sets DISABLE).
    pub const DISABLE_KBD: u8 = 0xAD;
    /// Enable the keyboard interface (clears DISABLE).
    pub const ENABLE_KBD: u8 = 0xAE;
    /// Read the input port P1.
    pub const READ_INPUT_PORT: u8 = 0xC0;
    /// Read the output port P2.
    pub const READ_OUTPUT_PORT: u8 = 0xD0;
    /// Write the output port P2 from the next data byte.
    pub const WRITE_OUTPUT_PORT: u8 = 0xD1;
    /// Write the next data byte to the output buffer as if the keyboard had sent it.
    pub const WRITE_KBD_BUFFER: u8 = 0xD2;
    /// Write the next data byte to the output buffer as if the mouse had sent it.
    pub const WRITE_AUX_BUFFER: u8 = 0xD3;
    /// Send the next data byte to the mouse.
    pub const WRITE_AUX: u8 = 0xD4;
    /// Disable A20 (an extension of many clone controllers, not IBM's).
    pub const DISABLE_A20: u8 = 0xDD;
    /// Enable A20 (clone extension).
    pub const ENABLE_A20: u8 = 0xDF;
    /// Read test inputs T0/T1 (the keyboard clock and data lines).
    pub const READ_TEST_INPUTS: u8 = 0xE0;
    /// 0xF0-0xFF pulse output-port bits 0-3 low for 6 µs where the command's bit is 0; 0xFE pulses
    /// the reset line.
    pub const PULSE_RESET: u8 = 0xFE;
}

/// Keyboard commands, written to port 0x60 (PS/2 HITR, "Keyboard Commands from the System").
pub mod kbd_command {
    /// Set the LEDs from the next byte (bit 0 Scroll, 1 Num, 2 Caps Lock).
    pub const SET_LEDS: u8 = 0xED;
    /// Echo: replies 0xEE.
    pub const ECHO: u8 = 0xEE;
    /// Get (argument 0) or select (1, 2) the scan code set.
    pub const SCANCODE_SET: u8 = 0xF0;
    /// Identify: replies ACK, 0xAB, 0x83.
    pub const IDENTIFY: u8 = 0xF2;
    /// Set the typematic rate and delay from the next byte.
    pub const SET_TYPEMATIC: u8 = 0xF3;
    /// Enable scanning.
    pub const ENABLE: u8 = 0xF4;
    /// Default disable: power-on defaults, scanning off.
    pub const DEFAULT_DISABLE: u8 = 0xF5;
    /// Set defaults: power-on defaults, scanning on.
    pub const SET_DEFAULT: u8 = 0xF6;
    /// Resend the last byte.
    pub const RESEND: u8 = 0xFE;
    /// Reset: ACK, then the self-test result 0xAA.
    pub const RESET: u8 = 0xFF;
}

/// Mouse commands, sent with controller command 0xD4 (PS/2 HITR, "Pointing Device Commands").
pub mod aux_command {
    /// Set scaling 1:1.
    pub const SET_SCALING_1_1: u8 = 0xE6;
    /// Set scaling 2:1.
    pub const SET_SCALING_2_1: u8 = 0xE7;
    /// Set the resolution from the next byte (0-3: 1, 2, 4, 8 counts/mm).
    pub const SET_RESOLUTION: u8 = 0xE8;
    /// Status request: ACK and three status bytes.
    pub const STATUS_REQUEST: u8 = 0xE9;
    /// Set stream mode.
    pub const SET_STREAM_MODE: u8 = 0xEA;
    /// Read data: ACK and one movement packet.
    pub const READ_DATA: u8 = 0xEB;
    /// Leave wrap (echo) mode.
    pub const RESET_WRAP_MODE: u8 = 0xEC;
    /// Enter wrap (echo) mode.
    pub const SET_WRAP_MODE: u8 = 0xEE;
    /// Set remote mode.
    pub const SET_REMOTE_MODE: u8 = 0xF0;
    /// Read the device ID: ACK and 0x00 (or 0x03 for an IntelliMouse).
    pub const GET_DEVICE_ID: u8 = 0xF2;
    /// Set the sample rate from the next byte.
    pub const SET_SAMPLE_RATE: u8 = 0xF3;
    /// Enable data reporting.
    pub const ENABLE_REPORTING: u8 = 0xF4;
    /// Disable data reporting.
    pub const DISABLE_REPORTING: u8 = 0xF5;
    /// Set defaults.
    pub const SET_DEFAULTS: u8 = 0xF6;
    /// Resend the last byte.
    pub const RESEND: u8 = 0xFE;
    /// Reset: ACK, 0xAA, device ID 0x00.
    pub const RESET: u8 = 0xFF;
}

/// Acknowledge: a device took a command or argument.
pub const ACK: u8 = 0xFA;
/// Resend: a device did not understand (or refuses) the byte.
pub const RESEND: u8 = 0xFE;
/// A device's power-on self-test passed.
pub const BAT_OK: u8 = 0xAA;
/// The controller's self-test passed.
pub const SELF_TEST_OK: u8 = 0x55;

/// The 8042's scan-code translation table (PS/2 HITR, "Scan Code Translation"): set 2 byte →
/// set 1 byte, the same in every AT-compatible controller. Entries 0x80 and above pass through
/// except 0x83 (F7) and 0x84 (Alt+SysRq). The 0xF0 break prefix never reaches the table: the
/// controller swallows it and sets bit 7 of the next translated byte.
#[rustfmt::skip]
pub const XLATE_TABLE: [u8; 256] = {
    let low: [u8; 128] = [
        // 0x00
        0xFF, 0x43, 0x41, 0x3F, 0x3D, 0x3B, 0x3C, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3E, 0x0F, 0x29, 0x59,
        // 0x10
        0x65, 0x38, 0x2A, 0x70, 0x1D, 0x10, 0x02, 0x5A, 0x66, 0x71, 0x2C, 0x1F, 0x1E, 0x11, 0x03, 0x5B,
        // 0x20
        0x67, 0x2E, 0x2D, 0x20, 0x12, 0x05, 0x04, 0x5C, 0x68, 0x39, 0x2F, 0x21, 0x14, 0x13, 0x06, 0x5D,
        // 0x30
        0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5E, 0x6A, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5F,
        // 0x40
        0x6B, 0x33, 0x25, 0x17, 0x18, 0x0B, 0x0A, 0x60, 0x6C, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0C, 0x61,
        // 0x50
        0x6D, 0x73, 0x28, 0x74, 0x1A, 0x0D, 0x62, 0x6E, 0x3A, 0x36, 0x1C, 0x1B, 0x75, 0x2B, 0x63, 0x76,
        // 0x60
        0x55, 0x56, 0x77, 0x78, 0x79, 0x7A, 0x0E, 0x7B, 0x7C, 0x4F, 0x7D, 0x4B, 0x47, 0x7E, 0x7F, 0x6F,
        // 0x70
        0x52, 0x53, 0x50, 0x4C, 0x4D, 0x48, 0x01, 0x45, 0x57, 0x4E, 0x51, 0x4A, 0x37, 0x49, 0x46, 0x54,
    ];
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if i < 128 { low[i] } else { i as u8 };
        i += 1;
    }
    t[0x83] = 0x41;
    t[0x84] = 0x54;
    t
};

/// Translates one byte from the keyboard as the 8042 does with XLATE set. `break_prefix` is the
/// controller's "0xF0 seen" latch; returns the byte for the output buffer, or `None` when the
/// byte was the 0xF0 prefix (swallowed).
pub fn translate(byte: u8, break_prefix: &mut bool) -> Option<u8> {
    if byte == 0xF0 {
        *break_prefix = true;
        return None;
    }
    let t = XLATE_TABLE[byte as usize];
    Some(if std::mem::take(break_prefix) { t | 0x80 } else { t })
}

/// What the machine must do after an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KbcEvent {
    /// The 8042's A20 gate (output port bit 1) changed; the new level. The chipset's A20 line is
    /// this OR port 92's gate.
    A20Changed(bool),
    /// The guest pulsed the reset line (command 0xFE, 0xF0-0xFF with bit 0 clear, or output port
    /// bit 0 written 0).
    ResetRequested,
}

// ---------------------------------------------------------------------------------------------
// Keys and scan codes
// ---------------------------------------------------------------------------------------------

/// A key of a 105-key PC keyboard, named by its US-layout legend (the position, not the
/// character a layout puts on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[rustfmt::skip]
pub enum Key {
    Escape, F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12,
    PrintScreen, ScrollLock, Pause,
    /// `` ` `` / `~`
    Backquote,
    Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9, Digit0,
    Minus, Equal, Backspace,
    Tab, Q, W, E, R, T, Y, U, I, O, P, LeftBracket, RightBracket, Backslash,
    CapsLock, A, S, D, F, G, H, J, K, L, Semicolon, Quote, Enter,
    LeftShift,
    /// The extra key left of Z on ISO keyboards (`<` `>` on many layouts).
    IntlBackslash,
    Z, X, C, V, B, N, M, Comma, Period, Slash, RightShift,
    LeftCtrl,
    /// Left Windows / GUI key.
    LeftMeta,
    LeftAlt, Space, RightAlt,
    /// Right Windows / GUI key.
    RightMeta,
    /// The application (menu) key.
    Menu,
    RightCtrl,
    Insert, Home, PageUp, Delete, End, PageDown,
    Up, Left, Down, Right,
    NumLock, KpDivide, KpMultiply, KpMinus, KpPlus, KpEnter, KpPeriod,
    Kp0, Kp1, Kp2, Kp3, Kp4, Kp5, Kp6, Kp7, Kp8, Kp9,
}

/// A scan code set the keyboard can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScanCodeSet {
    /// Set 1 (the XT's codes; what a guest sees through translation).
    Set1,
    /// Set 2 (the AT's codes; the keyboard's default).
    Set2,
}

/// How a key is encoded: set 1 and set 2 make codes, and whether they follow an 0xE0 prefix.
/// Print Screen and Pause have sequences of their own (see [`Key::scancodes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeyCode {
    set1: u8,
    set2: u8,
    e0: bool,
}

const fn kc(set1: u8, set2: u8) -> KeyCode {
    KeyCode { set1, set2, e0: false }
}

const fn e0(set1: u8, set2: u8) -> KeyCode {
    KeyCode { set1, set2, e0: true }
}

impl Key {
    /// Every key, in keyboard order.
    #[rustfmt::skip]
    pub const ALL: [Key; 105] = {
        use Key::*;
        [
            Escape, F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12,
            PrintScreen, ScrollLock, Pause,
            Backquote, Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9, Digit0,
            Minus, Equal, Backspace,
            Tab, Q, W, E, R, T, Y, U, I, O, P, LeftBracket, RightBracket, Backslash,
            CapsLock, A, S, D, F, G, H, J, K, L, Semicolon, Quote, Enter,
            LeftShift, IntlBackslash, Z, X, C, V, B, N, M, Comma, Period, Slash, RightShift,
            LeftCtrl, LeftMeta, LeftAlt, Space, RightAlt, RightMeta, Menu, RightCtrl,
            Insert, Home, PageUp, Delete, End, PageDown,
            Up, Left, Down, Right,
            NumLock, KpDivide, KpMultiply, KpMinus, KpPlus, KpEnter, KpPeriod,
            Kp0, Kp1, Kp2, Kp3, Kp4, Kp5, Kp6, Kp7, Kp8, Kp9,
        ]
    };

    /// Set 1 and set 2 make codes (PS/2 HITR keyboard chapter, scan code tables; Print Screen
    /// and Pause are special-cased by the caller and given their second code here).
    #[rustfmt::skip]
    const fn code(self) -> KeyCode {
        use Key::*;
        match self {
            Escape => kc(0x01, 0x76),
            F1 => kc(0x3B, 0x05), F2 => kc(0x3C, 0x06), F3 => kc(0x3D, 0x04), F4 => kc(0x3E, 0x0C),
            F5 => kc(0x3F, 0x03), F6 => kc(0x40, 0x0B), F7 => kc(0x41, 0x83), F8 => kc(0x42, 0x0A),
            F9 => kc(0x43, 0x01), F10 => kc(0x44, 0x09), F11 => kc(0x57, 0x78), F12 => kc(0x58, 0x07),
            PrintScreen => e0(0x37, 0x7C),
            ScrollLock => kc(0x46, 0x7E),
            Pause => kc(0x45, 0x77),
            Backquote => kc(0x29, 0x0E),
            Digit1 => kc(0x02, 0x16), Digit2 => kc(0x03, 0x1E), Digit3 => kc(0x04, 0x26),
            Digit4 => kc(0x05, 0x25), Digit5 => kc(0x06, 0x2E), Digit6 => kc(0x07, 0x36),
            Digit7 => kc(0x08, 0x3D), Digit8 => kc(0x09, 0x3E), Digit9 => kc(0x0A, 0x46),
            Digit0 => kc(0x0B, 0x45),
            Minus => kc(0x0C, 0x4E), Equal => kc(0x0D, 0x55), Backspace => kc(0x0E, 0x66),
            Tab => kc(0x0F, 0x0D),
            Q => kc(0x10, 0x15), W => kc(0x11, 0x1D), E => kc(0x12, 0x24), R => kc(0x13, 0x2D),
            T => kc(0x14, 0x2C), Y => kc(0x15, 0x35), U => kc(0x16, 0x3C), I => kc(0x17, 0x43),
            O => kc(0x18, 0x44), P => kc(0x19, 0x4D),
            LeftBracket => kc(0x1A, 0x54), RightBracket => kc(0x1B, 0x5B), Backslash => kc(0x2B, 0x5D),
            CapsLock => kc(0x3A, 0x58),
            A => kc(0x1E, 0x1C), S => kc(0x1F, 0x1B), D => kc(0x20, 0x23), F => kc(0x21, 0x2B),
            G => kc(0x22, 0x34), H => kc(0x23, 0x33), J => kc(0x24, 0x3B), K => kc(0x25, 0x42),
            L => kc(0x26, 0x4B),
            Semicolon => kc(0x27, 0x4C), Quote => kc(0x28, 0x52), Enter => kc(0x1C, 0x5A),
            LeftShift => kc(0x2A, 0x12), IntlBackslash => kc(0x56, 0x61),
            Z => kc(0x2C, 0x1A), X => kc(0x2D, 0x22), C => kc(0x2E, 0x21), V => kc(0x2F, 0x2A),
            B => kc(0x30, 0x32), N => kc(0x31, 0x31), M => kc(0x32, 0x3A),
            Comma => kc(0x33, 0x41), Period => kc(0x34, 0x49), Slash => kc(0x35, 0x4A),
            RightShift => kc(0x36, 0x59),
            LeftCtrl => kc(0x1D, 0x14), LeftMeta => e0(0x5B, 0x1F), LeftAlt => kc(0x38, 0x11),
            Space => kc(0x39, 0x29), RightAlt => e0(0x38, 0x11), RightMeta => e0(0x5C, 0x27),
            Menu => e0(0x5D, 0x2F), RightCtrl => e0(0x1D, 0x14),
            Insert => e0(0x52, 0x70), Home => e0(0x47, 0x6C), PageUp => e0(0x49, 0x7D),
            Delete => e0(0x53, 0x71), End => e0(0x4F, 0x69), PageDown => e0(0x51, 0x7A),
            Up => e0(0x48, 0x75), Left => e0(0x4B, 0x6B), Down => e0(0x50, 0x72), Right => e0(0x4D, 0x74),
            NumLock => kc(0x45, 0x77), KpDivide => e0(0x35, 0x4A), KpMultiply => kc(0x37, 0x7C),
            KpMinus => kc(0x4A, 0x7B), KpPlus => kc(0x4E, 0x79), KpEnter => e0(0x1C, 0x5A),
            KpPeriod => kc(0x53, 0x71),
            Kp0 => kc(0x52, 0x70), Kp1 => kc(0x4F, 0x69), Kp2 => kc(0x50, 0x72), Kp3 => kc(0x51, 0x7A),
            Kp4 => kc(0x4B, 0x6B), Kp5 => kc(0x4C, 0x73), Kp6 => kc(0x4D, 0x74), Kp7 => kc(0x47, 0x6C),
            Kp8 => kc(0x48, 0x75), Kp9 => kc(0x49, 0x7D),
        }
    }

    /// The bytes the keyboard sends when the key goes down (`pressed`) or up, in `set`.
    ///
    /// Set 2 breaks are `F0 xx` (`E0 F0 xx` for E0 keys); set 1 breaks set bit 7. Print Screen
    /// sends a fake Left Shift around its code (`E0 12 E0 7C` in set 2); Pause sends its whole
    /// make-and-break sequence on the press and nothing on release.
    pub fn scancodes(self, set: ScanCodeSet, pressed: bool) -> Vec<u8> {
        match (self, set, pressed) {
            (Key::Pause, ScanCodeSet::Set1, true) => vec![0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5],
            (Key::Pause, ScanCodeSet::Set2, true) => vec![0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77],
            (Key::Pause, _, false) => vec![],
            (Key::PrintScreen, ScanCodeSet::Set1, true) => vec![0xE0, 0x2A, 0xE0, 0x37],
            (Key::PrintScreen, ScanCodeSet::Set1, false) => vec![0xE0, 0xB7, 0xE0, 0xAA],
            (Key::PrintScreen, ScanCodeSet::Set2, true) => vec![0xE0, 0x12, 0xE0, 0x7C],
            (Key::PrintScreen, ScanCodeSet::Set2, false) => vec![0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12],
            _ => {
                let c = self.code();
                let mut v = Vec::with_capacity(3);
                if c.e0 {
                    v.push(0xE0);
                }
                match (set, pressed) {
                    (ScanCodeSet::Set1, true) => v.push(c.set1),
                    (ScanCodeSet::Set1, false) => v.push(c.set1 | 0x80),
                    (ScanCodeSet::Set2, true) => v.push(c.set2),
                    (ScanCodeSet::Set2, false) => v.extend([0xF0, c.set2]),
                }
                v
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The keyboard
// ---------------------------------------------------------------------------------------------

bitflags! {
    /// The keyboard LEDs, as the argument of command 0xED.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Leds: u8 {
        /// Scroll Lock.
        const SCROLL_LOCK = 1 << 0;
        /// Num Lock.
        const NUM_LOCK = 1 << 1;
        /// Caps Lock.
        const CAPS_LOCK = 1 << 2;
    }
}

/// Power-on typematic byte: 10.9 characters per second after 500 ms.
pub const DEFAULT_TYPEMATIC: u8 = 0x2B;

/// An MF2 keyboard on the first PS/2 port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ps2Keyboard {
    /// Scan codes waiting to go to the controller: at most [`KBD_BUFFER_SIZE`] bytes, plus one
    /// overrun code (0x00 in set 2, 0xFF in set 1) when keys were lost.
    pub buffer: VecDeque<u8>,
    /// Command responses, sent before any buffered scan code.
    pub responses: VecDeque<u8>,
    /// Scanning enabled (0xF4) or disabled (0xF5): a disabled keyboard discards key presses.
    pub scanning: bool,
    /// The scan code set keys are sent in.
    pub set: ScanCodeSet,
    /// LED state from the last 0xED.
    pub leds: Leds,
    /// Typematic rate/delay byte from the last 0xF3 (bits 0-4 rate, 5-6 delay).
    pub typematic: u8,
    /// A command (0xED, 0xF0, 0xF3) waiting for its argument byte.
    pub pending: Option<u8>,
    /// The last byte sent to the controller, repeated on Resend.
    pub last_sent: u8,
}

impl Default for Ps2Keyboard {
    fn default() -> Self {
        Ps2Keyboard {
            buffer: VecDeque::with_capacity(KBD_BUFFER_SIZE + 1),
            responses: VecDeque::with_capacity(RESPONSE_QUEUE_SIZE),
            scanning: true,
            set: ScanCodeSet::Set2,
            leds: Leds::empty(),
            typematic: DEFAULT_TYPEMATIC,
            pending: None,
            last_sent: 0,
        }
    }
}

impl Ps2Keyboard {
    fn respond(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.responses.len() < RESPONSE_QUEUE_SIZE {
                self.responses.push_back(b);
            }
        }
    }

    /// Power-on defaults (used by 0xFF, 0xF5, 0xF6): set 2, default typematic, LEDs off, the
    /// buffer cleared.
    fn defaults(&mut self) {
        self.buffer.clear();
        self.set = ScanCodeSet::Set2;
        self.typematic = DEFAULT_TYPEMATIC;
        self.leds = Leds::empty();
        self.pending = None;
    }

    /// A byte from the host (port 0x60) arrives at the keyboard.
    pub fn receive(&mut self, byte: u8) {
        use kbd_command::*;
        // An argument is a byte below 0x80; anything else while an argument is expected is a new
        // command, as the keyboard treats it.
        if let Some(cmd) = self.pending.take()
            && byte < 0x80
        {
            match cmd {
                SET_LEDS => {
                    self.leds = Leds::from_bits_truncate(byte);
                    self.respond(&[ACK]);
                }
                SET_TYPEMATIC => {
                    self.typematic = byte & 0x7F;
                    self.respond(&[ACK]);
                }
                _ => match byte {
                    // SCANCODE_SET
                    0 => {
                        let n = if self.set == ScanCodeSet::Set1 { 1 } else { 2 };
                        self.respond(&[ACK, n]);
                    }
                    1 => {
                        self.set = ScanCodeSet::Set1;
                        self.respond(&[ACK]);
                    }
                    2 => {
                        self.set = ScanCodeSet::Set2;
                        self.respond(&[ACK]);
                    }
                    // Set 3 is not implemented; other values are invalid.
                    _ => self.respond(&[RESEND]),
                },
            }
            return;
        }
        match byte {
            RESET => {
                self.defaults();
                self.responses.clear();
                self.scanning = true;
                self.respond(&[ACK, BAT_OK]);
            }
            RESEND => {
                let b = self.last_sent;
                self.respond(&[b]);
            }
            SET_DEFAULT => {
                self.defaults();
                self.scanning = true;
                self.respond(&[ACK]);
            }
            DEFAULT_DISABLE => {
                self.defaults();
                self.scanning = false;
                self.respond(&[ACK]);
            }
            ENABLE => {
                self.buffer.clear();
                self.scanning = true;
                self.respond(&[ACK]);
            }
            SET_TYPEMATIC | SET_LEDS => {
                self.pending = Some(byte);
                self.respond(&[ACK]);
            }
            SCANCODE_SET => {
                self.buffer.clear();
                self.pending = Some(byte);
                self.respond(&[ACK]);
            }
            IDENTIFY => self.respond(&[ACK, 0xAB, 0x83]),
            ECHO => self.respond(&[ECHO]),
            // Set-3 key type commands: accepted, no effect on sets 1 and 2.
            0xF7..=0xFD => self.respond(&[ACK]),
            _ => self.respond(&[RESEND]),
        }
    }

    /// A key goes down or up. Ignored while scanning is disabled; when the buffer cannot take the
    /// whole sequence, the sequence is dropped and one overrun code takes its place.
    pub fn key_event(&mut self, key: Key, pressed: bool) {
        if !self.scanning {
            return;
        }
        let seq = key.scancodes(self.set, pressed);
        if self.buffer.len() + seq.len() <= KBD_BUFFER_SIZE {
            self.buffer.extend(seq);
        } else {
            let overrun = if self.set == ScanCodeSet::Set1 { 0xFF } else { 0x00 };
            if self.buffer.len() <= KBD_BUFFER_SIZE && self.buffer.back() != Some(&overrun) {
                self.buffer.push_back(overrun);
            }
        }
    }

    /// Whether the keyboard has a byte to send.
    pub fn has_output(&self) -> bool {
        !self.responses.is_empty() || !self.buffer.is_empty()
    }

    /// Takes the next byte for the wire: responses first.
    fn pop_output(&mut self) -> Option<u8> {
        let b = self.responses.pop_front().or_else(|| self.buffer.pop_front())?;
        self.last_sent = b;
        Some(b)
    }
}

// ---------------------------------------------------------------------------------------------
// The mouse
// ---------------------------------------------------------------------------------------------

bitflags! {
    /// Mouse buttons, in the bit order of a PS/2 packet's first byte.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct MouseButtons: u8 {
        /// Left button.
        const LEFT = 1 << 0;
        /// Right button.
        const RIGHT = 1 << 1;
        /// Middle button.
        const MIDDLE = 1 << 2;
    }
}

/// Sample rates a PS/2 mouse accepts (samples per second).
const VALID_SAMPLE_RATES: [u8; 7] = [10, 20, 40, 60, 80, 100, 200];

/// A PS/2 mouse on the auxiliary port, with the IntelliMouse wheel extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ps2Mouse {
    /// Movement packets waiting to go to the controller (whole packets, at most
    /// [`AUX_BUFFER_SIZE`] bytes).
    pub buffer: VecDeque<u8>,
    /// Command responses, sent before any packet.
    pub responses: VecDeque<u8>,
    /// Data reporting enabled (0xF4).
    pub reporting: bool,
    /// Remote mode (packets only on 0xEB) rather than stream mode.
    pub remote: bool,
    /// Wrap mode: every byte is echoed back.
    pub wrap: bool,
    /// Scaling 2:1 (0xE7) rather than 1:1.
    pub scaling_2_1: bool,
    /// Resolution code 0-3 (1, 2, 4, 8 counts per mm).
    pub resolution: u8,
    /// Samples per second.
    pub sample_rate: u8,
    /// Device ID: 0 for a standard mouse, 3 after the IntelliMouse knock (rates 200, 100, 80).
    pub device_id: u8,
    /// A command (0xE8, 0xF3) waiting for its argument byte.
    pub pending: Option<u8>,
    /// The last three sample rates set, oldest first.
    pub last_rates: [u8; 3],
    /// The last byte sent to the controller, repeated on Resend.
    pub last_sent: u8,
    /// Buttons currently down.
    pub buttons: MouseButtons,
    /// Buttons as last reported in a packet.
    pub reported_buttons: MouseButtons,
    /// Movement counters not yet reported (X right, Y up, Z wheel toward the user).
    pub dx: i32,
    /// See `dx`.
    pub dy: i32,
    /// See `dx`.
    pub dz: i32,
}

impl Default for Ps2Mouse {
    fn default() -> Self {
        Ps2Mouse {
            buffer: VecDeque::with_capacity(AUX_BUFFER_SIZE),
            responses: VecDeque::with_capacity(RESPONSE_QUEUE_SIZE),
            reporting: false,
            remote: false,
            wrap: false,
            scaling_2_1: false,
            resolution: 2,
            sample_rate: 100,
            device_id: 0,
            pending: None,
            last_rates: [0; 3],
            last_sent: 0,
            buttons: MouseButtons::empty(),
            reported_buttons: MouseButtons::empty(),
            dx: 0,
            dy: 0,
            dz: 0,
        }
    }
}

/// Bound on the movement counters, so host input cannot overflow them.
const MOTION_LIMIT: i32 = 1 << 16;

impl Ps2Mouse {
    fn respond(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.responses.len() < RESPONSE_QUEUE_SIZE {
                self.responses.push_back(b);
            }
        }
    }

    fn packet_len(&self) -> usize {
        if self.device_id == 3 { 4 } else { 3 }
    }

    fn clear_motion(&mut self) {
        self.buffer.clear();
        self.dx = 0;
        self.dy = 0;
        self.dz = 0;
        self.reported_buttons = self.buttons;
    }

    /// Set defaults (0xF6): 100 samples/s, 4 counts/mm, scaling 1:1, stream mode, reporting off.
    fn defaults(&mut self) {
        self.reporting = false;
        self.remote = false;
        self.scaling_2_1 = false;
        self.resolution = 2;
        self.sample_rate = 100;
        self.pending = None;
        self.clear_motion();
    }

    /// 2:1 scaling (PS/2 HITR): 1→1, 2→1, 3→3, 4→6, 5→9, n→2n above 5; applies in stream mode.
    fn scale(&self, n: i32) -> i32 {
        if !self.scaling_2_1 || self.remote {
            return n;
        }
        let m = match n.abs() {
            0 => 0,
            1 | 2 => 1,
            3 => 3,
            4 => 6,
            5 => 9,
            a => 2 * a,
        };
        m * n.signum()
    }

    /// Builds one packet from the counters, taking out what it reports.
    fn make_packet(&mut self) -> Vec<u8> {
        let x = self.dx.clamp(-256, 255);
        let y = self.dy.clamp(-256, 255);
        let z = self.dz.clamp(-8, 7);
        self.dx -= x;
        self.dy -= y;
        self.dz -= z;
        let sx = self.scale(x).clamp(-256, 255);
        let sy = self.scale(y).clamp(-256, 255);
        self.reported_buttons = self.buttons;
        let mut b0 = self.buttons.bits() | 0x08;
        if sx < 0 {
            b0 |= 0x10;
        }
        if sy < 0 {
            b0 |= 0x20;
        }
        let mut p = vec![b0, sx as u8, sy as u8];
        if self.device_id == 3 {
            p.push(z as u8);
        } else {
            self.dz = 0;
        }
        p
    }

    /// Whether unreported movement or button changes are waiting.
    fn dirty(&self) -> bool {
        self.dx != 0 || self.dy != 0 || (self.dz != 0 && self.device_id == 3) || self.buttons != self.reported_buttons
    }

    /// In stream mode with reporting on, turns pending movement into packets while they fit.
    fn flush_motion(&mut self) {
        while self.reporting && !self.remote && !self.wrap && self.dirty() {
            if self.buffer.len() + self.packet_len() > AUX_BUFFER_SIZE {
                // The mouse keeps counting until the wire frees up.
                return;
            }
            let p = self.make_packet();
            self.buffer.extend(p);
        }
    }

    /// Host movement: `dx` right, `dy` *down* (screen convention; the packet's Y points up),
    /// `dz` wheel clicks toward the user.
    pub fn motion(&mut self, dx: i32, dy: i32, dz: i32, buttons: MouseButtons) {
        self.dx = self.dx.saturating_add(dx).clamp(-MOTION_LIMIT, MOTION_LIMIT);
        self.dy = self.dy.saturating_sub(dy).clamp(-MOTION_LIMIT, MOTION_LIMIT);
        self.dz = self.dz.saturating_add(dz).clamp(-MOTION_LIMIT, MOTION_LIMIT);
        self.buttons = buttons;
        self.flush_motion();
    }

    /// A byte from the host (sent with controller command 0xD4) arrives at the mouse.
    pub fn receive(&mut self, byte: u8) {
        use aux_command::*;
        if self.wrap && byte != RESET_WRAP_MODE && byte != RESET {
            self.respond(&[byte]);
            return;
        }
        if let Some(cmd) = self.pending.take() {
            if cmd == SET_SAMPLE_RATE {
                if VALID_SAMPLE_RATES.contains(&byte) {
                    self.sample_rate = byte;
                    self.last_rates = [self.last_rates[1], self.last_rates[2], byte];
                    if self.last_rates == [200, 100, 80] {
                        self.device_id = 3;
                    }
                    self.respond(&[ACK]);
                } else {
                    self.respond(&[RESEND]);
                }
                return;
            }
            // SET_RESOLUTION
            if byte <= 3 {
                self.resolution = byte;
                self.respond(&[ACK]);
            } else {
                self.respond(&[RESEND]);
            }
            return;
        }
        match byte {
            RESET => {
                self.wrap = false;
                self.defaults();
                self.device_id = 0;
                self.last_rates = [0; 3];
                self.responses.clear();
                self.respond(&[ACK, BAT_OK, 0x00]);
            }
            RESEND => {
                let b = self.last_sent;
                self.respond(&[b]);
            }
            SET_DEFAULTS => {
                self.defaults();
                self.respond(&[ACK]);
            }
            DISABLE_REPORTING => {
                self.reporting = false;
                self.clear_motion();
                self.respond(&[ACK]);
            }
            ENABLE_REPORTING => {
                self.clear_motion();
                self.reporting = true;
                self.respond(&[ACK]);
            }
            SET_SAMPLE_RATE | SET_RESOLUTION => {
                self.pending = Some(byte);
                self.respond(&[ACK]);
            }
            GET_DEVICE_ID => {
                let id = self.device_id;
                self.respond(&[ACK, id]);
            }
            SET_REMOTE_MODE => {
                self.remote = true;
                self.clear_motion();
                self.respond(&[ACK]);
            }
            SET_STREAM_MODE => {
                self.remote = false;
                self.clear_motion();
                self.respond(&[ACK]);
            }
            SET_WRAP_MODE => {
                self.wrap = true;
                self.clear_motion();
                self.respond(&[ACK]);
            }
            RESET_WRAP_MODE => {
                self.wrap = false;
                self.respond(&[ACK]);
            }
            READ_DATA => {
                let p = self.make_packet();
                self.respond(&[ACK]);
                self.respond(&p);
            }
            STATUS_REQUEST => {
                // Byte 1: bit 6 remote, 5 enabled, 4 scaling 2:1, 2 left, 1 middle, 0 right.
                let b = self.buttons;
                let s = (self.remote as u8) << 6
                    | (self.reporting as u8) << 5
                    | (self.scaling_2_1 as u8) << 4
                    | (b.contains(MouseButtons::LEFT) as u8) << 2
                    | (b.contains(MouseButtons::MIDDLE) as u8) << 1
                    | b.contains(MouseButtons::RIGHT) as u8;
                let (r, rate) = (self.resolution, self.sample_rate);
                self.respond(&[ACK, s, r, rate]);
            }
            SET_SCALING_2_1 => {
                self.scaling_2_1 = true;
                self.respond(&[ACK]);
            }
            SET_SCALING_1_1 => {
                self.scaling_2_1 = false;
                self.respond(&[ACK]);
            }
            _ => self.respond(&[RESEND]),
        }
    }

    /// Whether the mouse has a byte to send.
    pub fn has_output(&self) -> bool {
        !self.responses.is_empty() || !self.buffer.is_empty()
    }

    fn pop_output(&mut self) -> Option<u8> {
        let b = self.responses.pop_front().or_else(|| self.buffer.pop_front())?;
        self.last_sent = b;
        self.flush_motion();
        Some(b)
    }
}

// ---------------------------------------------------------------------------------------------
// The controller
// ---------------------------------------------------------------------------------------------

/// Power-on command byte: keyboard and aux interrupts on, translation on, both interfaces
/// enabled, SYS clear. (IBM does not document the 8042 firmware's initial value; BIOSes write
/// their own. This choice lets a guest without a BIOS keyboard init get set-1 codes on IRQ1.)
pub const POWER_ON_COMMAND_BYTE: CommandByte = CommandByte::INT.union(CommandByte::INT2).union(CommandByte::XLATE);

/// The 8042 keyboard controller with its two devices. All fields are plain guest-visible state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kbc8042 {
    /// Status register (OBF, AUXB, SYS, A2, INH; see [`Status`]).
    pub status: Status,
    /// Controller command byte (8042 RAM byte 0).
    pub command_byte: CommandByte,
    /// 8042 RAM bytes 1-31, reachable with commands 0x21-0x3F / 0x61-0x7F (index 0 is unused:
    /// byte 0 is `command_byte`).
    pub ram: [u8; 32],
    /// Output buffer: the byte read at port 0x60 (kept after it is read, as on the chip).
    pub output_buffer: u8,
    /// Output port P2 as last written (bits 4 and 5 are computed on read).
    pub output_port: OutputPort,
    /// Input port P1 (read with 0xC0).
    pub input_port: u8,
    /// A controller command (0x60-0x7F, 0xD1-0xD4) waiting for its data byte at port 0x60.
    pub pending_command: Option<u8>,
    /// Controller replies waiting for the output buffer, each with "from the aux side".
    pub replies: VecDeque<(u8, bool)>,
    /// When the byte now crossing a PS/2 wire lands in the output buffer.
    pub transfer_at: Option<Tick>,
    /// Translation latch: an 0xF0 break prefix came from the keyboard.
    pub xlate_break: bool,
    /// The A20 level last reported by [`Kbc8042::take_events`].
    pub a20_reported: bool,
    /// A reset pulse not yet taken by the machine.
    pub reset_requested: bool,
    /// The keyboard on the first port.
    pub keyboard: Ps2Keyboard,
    /// The mouse on the auxiliary port.
    pub mouse: Ps2Mouse,
}

impl Default for Kbc8042 {
    fn default() -> Self {
        Kbc8042::new()
    }
}

impl Kbc8042 {
    /// The power-on state: output port all ones (A20 on, reset released), status INH|A2.
    pub fn new() -> Kbc8042 {
        Kbc8042 {
            status: Status::INH | Status::A2,
            command_byte: POWER_ON_COMMAND_BYTE,
            ram: [0; 32],
            output_buffer: 0,
            output_port: OutputPort::all(),
            input_port: INPUT_PORT,
            pending_command: None,
            replies: VecDeque::with_capacity(REPLY_QUEUE_SIZE),
            transfer_at: None,
            xlate_break: false,
            a20_reported: true,
            reset_requested: false,
            keyboard: Ps2Keyboard::default(),
            mouse: Ps2Mouse::default(),
        }
    }

    /// The IRQ1 line: keyboard-side data in the output buffer and INT set.
    pub fn irq1_level(&self) -> bool {
        self.status.contains(Status::OBF)
            && !self.status.contains(Status::AUXB)
            && self.command_byte.contains(CommandByte::INT)
    }

    /// The IRQ12 line: mouse data in the output buffer and INT2 set.
    pub fn irq12_level(&self) -> bool {
        self.status.contains(Status::OBF | Status::AUXB) && self.command_byte.contains(CommandByte::INT2)
    }

    /// The 8042's A20 gate (output port bit 1).
    pub fn a20(&self) -> bool {
        self.output_port.contains(OutputPort::GATE_A20)
    }

    /// When the next device byte lands in the output buffer, if one is on its way.
    pub fn next_deadline(&self) -> Option<Tick> {
        self.transfer_at
    }

    /// Brings the controller up to `now` (call when the deadline fires).
    pub fn update(&mut self, now: Tick) {
        self.catch_up(now);
    }

    /// The machine's requests since the last call: an A20 change (first), then a reset.
    pub fn take_events(&mut self) -> Vec<KbcEvent> {
        let mut ev = Vec::new();
        if self.a20() != self.a20_reported {
            self.a20_reported = self.a20();
            ev.push(KbcEvent::A20Changed(self.a20_reported));
        }
        if std::mem::take(&mut self.reset_requested) {
            ev.push(KbcEvent::ResetRequested);
        }
        ev
    }

    /// A key goes down or up on the host keyboard.
    pub fn key_event(&mut self, key: Key, pressed: bool, now: Tick) {
        self.catch_up(now);
        self.keyboard.key_event(key, pressed);
        self.catch_up(now);
    }

    /// The host mouse moved (`dx` right, `dy` down, `dz` wheel toward the user) and/or its
    /// buttons changed.
    pub fn mouse_event(&mut self, dx: i32, dy: i32, dz: i32, buttons: MouseButtons, now: Tick) {
        self.catch_up(now);
        self.mouse.motion(dx, dy, dz, buttons);
        self.catch_up(now);
    }

    /// `in` from port 0x60 or 0x64; other ports read 0xFF.
    pub fn read(&mut self, port: u16, now: Tick) -> u8 {
        self.catch_up(now);
        let v = match port {
            KBC_DATA => {
                self.status.remove(Status::OBF | Status::AUXB);
                self.output_buffer
            }
            KBC_STATUS => self.status.bits(),
            _ => 0xFF,
        };
        self.catch_up(now);
        v
    }

    /// `out` to port 0x60 or 0x64; other ports are ignored.
    pub fn write(&mut self, port: u16, value: u8, now: Tick) {
        self.catch_up(now);
        match port {
            KBC_DATA => {
                self.status.remove(Status::A2);
                self.write_data(value);
            }
            KBC_COMMAND => {
                self.status.insert(Status::A2);
                self.command(value);
            }
            _ => {}
        }
        self.catch_up(now);
    }

    fn reply(&mut self, byte: u8) {
        self.queue_reply(byte, false);
    }

    fn queue_reply(&mut self, byte: u8, aux: bool) {
        if self.replies.len() < REPLY_QUEUE_SIZE {
            self.replies.push_back((byte, aux));
        }
    }

    fn set_command_byte(&mut self, v: u8) {
        self.command_byte = CommandByte::from_bits_retain(v);
        self.status.set(Status::SYS, self.command_byte.contains(CommandByte::SYS));
    }

    fn write_output_port(&mut self, v: u8) {
        let mut p = OutputPort::from_bits_retain(v);
        if !p.contains(OutputPort::SYS_RESET) {
            // The reset line is asserted; the machine resets the CPU, and the model releases the
            // line again so that a later read of the output port shows it inactive.
            self.reset_requested = true;
            p.insert(OutputPort::SYS_RESET);
        }
        self.output_port = p;
    }

    /// The output port as read by 0xD0: bits 4 and 5 are the IRQ1 and IRQ12 pins.
    pub fn read_output_port(&self) -> u8 {
        let mut p = self.output_port - (OutputPort::KBD_OBF | OutputPort::AUX_OBF);
        p.set(OutputPort::KBD_OBF, self.irq1_level());
        p.set(OutputPort::AUX_OBF, self.irq12_level());
        p.bits()
    }

    fn command(&mut self, cmd: u8) {
        use command::*;
        // A new command cancels one still waiting for its data byte.
        self.pending_command = None;
        match cmd {
            READ_COMMAND_BYTE => self.reply(self.command_byte.bits()),
            0x21..=0x3F => self.reply(self.ram[(cmd & 0x1F) as usize]),
            0x60..=0x7F | WRITE_OUTPUT_PORT | WRITE_KBD_BUFFER | WRITE_AUX_BUFFER | WRITE_AUX => {
                self.pending_command = Some(cmd)
            }
            TEST_PASSWORD => self.reply(0xF1),
            DISABLE_AUX => self.command_byte.insert(CommandByte::DISABLE2),
            ENABLE_AUX => self.command_byte.remove(CommandByte::DISABLE2),
            TEST_AUX | TEST_KBD => self.reply(0x00),
            SELF_TEST => {
                self.status.insert(Status::SYS);
                self.reply(SELF_TEST_OK);
            }
            DISABLE_KBD => self.command_byte.insert(CommandByte::DISABLE),
            ENABLE_KBD => self.command_byte.remove(CommandByte::DISABLE),
            READ_INPUT_PORT => self.reply(self.input_port),
            READ_OUTPUT_PORT => self.reply(self.read_output_port()),
            DISABLE_A20 => self.output_port.remove(OutputPort::GATE_A20),
            ENABLE_A20 => self.output_port.insert(OutputPort::GATE_A20),
            READ_TEST_INPUTS => self.reply(0x00),
            0xF0..=0xFF => {
                // Pulse the output-port bits whose command bit is 0; only bit 0 (reset) matters.
                if cmd & 1 == 0 {
                    self.reset_requested = true;
                }
            }
            _ => log::debug!("8042: unimplemented controller command {cmd:#04x}"),
        }
    }

    fn write_data(&mut self, v: u8) {
        use command::*;
        match self.pending_command.take() {
            Some(WRITE_COMMAND_BYTE) => self.set_command_byte(v),
            Some(c @ 0x61..=0x7F) => self.ram[(c & 0x1F) as usize] = v,
            Some(WRITE_OUTPUT_PORT) => self.write_output_port(v),
            Some(WRITE_KBD_BUFFER) => self.queue_reply(v, false),
            Some(WRITE_AUX_BUFFER) => self.queue_reply(v, true),
            Some(WRITE_AUX) => {
                // Sending to a device releases its clock line (enables the interface).
                self.command_byte.remove(CommandByte::DISABLE2);
                self.mouse.receive(v);
            }
            _ => {
                self.command_byte.remove(CommandByte::DISABLE);
                self.keyboard.receive(v);
            }
        }
    }

    fn kbd_ready(&self) -> bool {
        self.keyboard.has_output() && !self.command_byte.contains(CommandByte::DISABLE)
    }

    fn aux_ready(&self) -> bool {
        self.mouse.has_output() && !self.command_byte.contains(CommandByte::DISABLE2)
    }

    fn load_output(&mut self, byte: u8, aux: bool) {
        self.output_buffer = byte;
        self.status.insert(Status::OBF);
        self.status.set(Status::AUXB, aux);
    }

    /// Moves bytes toward the output buffer up to `now`: controller replies at once, device bytes
    /// one [`PS2_BYTE_TIME`] after the wire became free. Bounded: each pass either fills the
    /// output buffer, consumes a device byte, or stops.
    fn catch_up(&mut self, now: Tick) {
        loop {
            if self.status.contains(Status::OBF) {
                // The controller holds the devices' clock lines low while the buffer is full.
                self.transfer_at = None;
                return;
            }
            if let Some((b, aux)) = self.replies.pop_front() {
                self.load_output(b, aux);
                continue;
            }
            match self.transfer_at {
                None => {
                    if self.kbd_ready() || self.aux_ready() {
                        self.transfer_at = Some(now.saturating_add(PS2_BYTE_TIME));
                    }
                    return;
                }
                Some(t) if t > now => return,
                Some(t) => {
                    self.transfer_at = None;
                    self.transfer_one();
                    if !self.status.contains(Status::OBF) && (self.kbd_ready() || self.aux_ready()) {
                        // The byte was an 0xF0 prefix, swallowed by translation: the next byte
                        // follows on the wire right behind it.
                        self.transfer_at = Some(t.saturating_add(PS2_BYTE_TIME));
                    }
                }
            }
        }
    }

    /// One byte arrives from a device (the keyboard first if both have one).
    fn transfer_one(&mut self) {
        if self.kbd_ready() {
            let Some(b) = self.keyboard.pop_output() else { return };
            if self.command_byte.contains(CommandByte::XLATE) {
                if let Some(t) = translate(b, &mut self.xlate_break) {
                    self.load_output(t, false);
                }
            } else {
                self.load_output(b, false);
            }
        } else if self.aux_ready() {
            let Some(b) = self.mouse.pop_output() else { return };
            self.load_output(b, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Tick = Tick::from_millis(10);

    /// Reads port 0x60 once data is there, advancing time as a polling guest would.
    fn wait_read(kbc: &mut Kbc8042, now: &mut Tick) -> Option<u8> {
        for _ in 0..4 {
            if kbc.read(KBC_STATUS, *now) & Status::OBF.bits() != 0 {
                return Some(kbc.read(KBC_DATA, *now));
            }
            match kbc.next_deadline() {
                Some(t) => *now = t,
                None => return None,
            }
        }
        None
    }

    /// Drains every byte the controller will deliver.
    fn drain(kbc: &mut Kbc8042, now: &mut Tick) -> Vec<u8> {
        let mut v = Vec::new();
        while let Some(b) = wait_read(kbc, now) {
            v.push(b);
            assert!(v.len() < 1000);
        }
        v
    }

    fn cmd(kbc: &mut Kbc8042, c: u8) {
        kbc.write(KBC_COMMAND, c, T0);
    }

    fn cmd_reply(kbc: &mut Kbc8042, c: u8) -> u8 {
        cmd(kbc, c);
        assert_ne!(kbc.read(KBC_STATUS, T0) & 1, 0, "reply to {c:#x} is immediate");
        kbc.read(KBC_DATA, T0)
    }

    fn keys(kbc: &mut Kbc8042, events: &[(Key, bool)]) -> Vec<u8> {
        let mut now = T0;
        for &(k, p) in events {
            kbc.key_event(k, p, now);
        }
        drain(kbc, &mut now)
    }

    #[test]
    fn power_on_state() {
        let mut kbc = Kbc8042::new();
        assert_eq!(kbc.read(KBC_STATUS, T0), 0x18, "INH (not inhibited) | A2, no data");
        assert!(kbc.a20(), "the 8042's ports come out of reset high");
        assert!(kbc.take_events().is_empty());
        assert!(!kbc.irq1_level() && !kbc.irq12_level());
        assert_eq!(kbc.next_deadline(), None);
    }

    #[test]
    fn bios_self_test_sequence() {
        // What a BIOS POST does: disable both devices, flush, self-test, interface tests, write
        // the command byte, enable the keyboard, reset it.
        let mut kbc = Kbc8042::new();
        let mut now = T0;
        cmd(&mut kbc, command::DISABLE_KBD);
        cmd(&mut kbc, command::DISABLE_AUX);
        assert!(drain(&mut kbc, &mut now).is_empty());
        assert_eq!(kbc.read(KBC_STATUS, now) & Status::SYS.bits(), 0, "cold boot: SYS clear");
        assert_eq!(cmd_reply(&mut kbc, command::SELF_TEST), 0x55);
        assert_ne!(kbc.read(KBC_STATUS, T0) & Status::SYS.bits(), 0, "self-test sets SYS");
        assert_eq!(cmd_reply(&mut kbc, command::TEST_KBD), 0x00);
        assert_eq!(cmd_reply(&mut kbc, command::TEST_AUX), 0x00);
        cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
        assert_ne!(kbc.read(KBC_STATUS, T0) & Status::A2.bits(), 0, "last write was a command");
        kbc.write(KBC_DATA, 0x75, T0); // XLATE | DISABLE2 | DISABLE | SYS | INT
        assert_eq!(kbc.read(KBC_STATUS, T0) & Status::A2.bits(), 0, "last write was data");
        assert_eq!(cmd_reply(&mut kbc, command::READ_COMMAND_BYTE), 0x75);
        cmd(&mut kbc, command::ENABLE_KBD);
        assert_eq!(cmd_reply(&mut kbc, command::READ_COMMAND_BYTE), 0x65);
        // Keyboard reset: ACK, then BAT OK, one wire-time apart.
        kbc.write(KBC_DATA, kbd_command::RESET, T0);
        assert_eq!(kbc.read(KBC_STATUS, T0) & 1, 0, "the ACK is still on the wire");
        assert_eq!(kbc.next_deadline(), Some(T0.saturating_add(PS2_BYTE_TIME)));
        let mut now = T0;
        assert_eq!(drain(&mut kbc, &mut now), vec![ACK, BAT_OK]);
        assert_eq!(now, Tick(T0.0 + 2 * PS2_BYTE_TIME.0));
    }

    #[test]
    fn command_byte_round_trip_and_ram() {
        let mut kbc = Kbc8042::new();
        for v in [0x00u8, 0x47, 0xFF, 0x74] {
            cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
            kbc.write(KBC_DATA, v, T0);
            assert_eq!(cmd_reply(&mut kbc, command::READ_COMMAND_BYTE), v);
            assert_eq!(kbc.read(KBC_STATUS, T0) & 4 != 0, v & 4 != 0, "status SYS follows the command byte");
        }
        cmd(&mut kbc, 0x65);
        kbc.write(KBC_DATA, 0x5A, T0);
        assert_eq!(cmd_reply(&mut kbc, 0x25), 0x5A);
        assert_eq!(cmd_reply(&mut kbc, 0x3F), 0);
    }

    #[test]
    fn command_then_command_cancels_pending_data() {
        let mut kbc = Kbc8042::new();
        cmd(&mut kbc, command::WRITE_OUTPUT_PORT);
        cmd(&mut kbc, command::ENABLE_KBD);
        // This byte now goes to the keyboard (echo), not to the output port.
        kbc.write(KBC_DATA, kbd_command::ECHO, T0);
        assert!(kbc.take_events().is_empty());
        let mut now = T0;
        assert_eq!(drain(&mut kbc, &mut now), vec![0xEE]);
    }

    #[test]
    fn a20_through_output_port() {
        let mut kbc = Kbc8042::new();
        let p = cmd_reply(&mut kbc, command::READ_OUTPUT_PORT);
        assert_eq!(p & 0x03, 0x03, "A20 on and reset inactive at power-on");
        // Disable A20 as a BIOS does: write the output port with bit 1 clear.
        cmd(&mut kbc, command::WRITE_OUTPUT_PORT);
        kbc.write(KBC_DATA, 0xDD, T0);
        assert!(!kbc.a20());
        assert_eq!(kbc.take_events(), vec![KbcEvent::A20Changed(false)]);
        assert_eq!(cmd_reply(&mut kbc, command::READ_OUTPUT_PORT) & 0x02, 0);
        // Enable it (the classic 0xD1, 0xDF).
        cmd(&mut kbc, command::WRITE_OUTPUT_PORT);
        kbc.write(KBC_DATA, 0xDF, T0);
        assert!(kbc.a20());
        assert_eq!(kbc.take_events(), vec![KbcEvent::A20Changed(true)]);
        // Same level again: no event.
        cmd(&mut kbc, command::WRITE_OUTPUT_PORT);
        kbc.write(KBC_DATA, 0xDF, T0);
        assert!(kbc.take_events().is_empty());
        // The clone shortcuts.
        cmd(&mut kbc, command::DISABLE_A20);
        assert_eq!(kbc.take_events(), vec![KbcEvent::A20Changed(false)]);
        cmd(&mut kbc, command::ENABLE_A20);
        assert_eq!(kbc.take_events(), vec![KbcEvent::A20Changed(true)]);
    }

    #[test]
    fn output_port_bits_4_5_are_the_irq_pins() {
        let mut kbc = Kbc8042::new();
        // Leave a keyboard reply in the output buffer: 0xD0's own reply then queues behind it.
        cmd(&mut kbc, command::WRITE_KBD_BUFFER);
        kbc.write(KBC_DATA, 0x12, T0);
        assert!(kbc.irq1_level());
        cmd(&mut kbc, command::READ_OUTPUT_PORT);
        assert_eq!(kbc.read(KBC_DATA, T0), 0x12);
        assert_eq!(kbc.read(KBC_DATA, T0) & 0x30, 0x10, "IRQ1 pin high when 0xD0 ran");
    }

    #[test]
    fn reset_requests() {
        let mut kbc = Kbc8042::new();
        cmd(&mut kbc, command::PULSE_RESET);
        assert_eq!(kbc.take_events(), vec![KbcEvent::ResetRequested]);
        cmd(&mut kbc, 0xFF); // pulses nothing
        assert!(kbc.take_events().is_empty());
        cmd(&mut kbc, 0xF0); // pulses bits 0-3, bit 0 included
        assert_eq!(kbc.take_events(), vec![KbcEvent::ResetRequested]);
        // Output port written with bit 0 clear (and A20 off): A20 event first, then reset.
        cmd(&mut kbc, command::WRITE_OUTPUT_PORT);
        kbc.write(KBC_DATA, 0x00, T0);
        assert_eq!(kbc.take_events(), vec![KbcEvent::A20Changed(false), KbcEvent::ResetRequested]);
        assert_eq!(cmd_reply(&mut kbc, command::READ_OUTPUT_PORT) & 1, 1, "the reset line is released");
    }

    #[test]
    fn input_port_and_misc_replies() {
        let mut kbc = Kbc8042::new();
        assert_eq!(cmd_reply(&mut kbc, command::READ_INPUT_PORT), INPUT_PORT);
        assert_eq!(cmd_reply(&mut kbc, command::TEST_PASSWORD), 0xF1);
    }

    #[test]
    fn keyboard_identify_raw_and_translated() {
        let mut kbc = Kbc8042::new();
        let mut now = T0;
        cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
        kbc.write(KBC_DATA, 0x01, T0); // no translation
        kbc.write(KBC_DATA, kbd_command::IDENTIFY, T0);
        assert_eq!(drain(&mut kbc, &mut now), vec![ACK, 0xAB, 0x83]);
        cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
        kbc.write(KBC_DATA, 0x41, now); // translation on: 0x83 comes out as 0x41
        kbc.write(KBC_DATA, kbd_command::IDENTIFY, now);
        assert_eq!(drain(&mut kbc, &mut now), vec![ACK, 0xAB, 0x41]);
    }

    #[test]
    fn keyboard_commands() {
        let mut kbc = Kbc8042::new();
        cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
        kbc.write(KBC_DATA, 0x01, T0); // raw set 2 view
        let mut now = T0;
        fn send(kbc: &mut Kbc8042, now: &mut Tick, bytes: &[u8]) -> Vec<u8> {
            for &b in bytes {
                kbc.write(KBC_DATA, b, *now);
            }
            drain(kbc, now)
        }
        assert_eq!(send(&mut kbc, &mut now, &[0xED, 0x07]), vec![ACK, ACK]);
        assert_eq!(kbc.keyboard.leds, Leds::all());
        assert_eq!(send(&mut kbc, &mut now, &[0xF3, 0x20]), vec![ACK, ACK]);
        assert_eq!(kbc.keyboard.typematic, 0x20);
        assert_eq!(send(&mut kbc, &mut now, &[0xF0, 0x00]), vec![ACK, ACK, 2]);
        assert_eq!(send(&mut kbc, &mut now, &[0xF0, 0x01]), vec![ACK, ACK]);
        assert_eq!(send(&mut kbc, &mut now, &[0xF0, 0x00]), vec![ACK, ACK, 1]);
        assert_eq!(send(&mut kbc, &mut now, &[0xF0, 0x03]), vec![ACK, RESEND], "set 3 is refused");
        assert_eq!(send(&mut kbc, &mut now, &[0xEE]), vec![0xEE]);
        assert_eq!(send(&mut kbc, &mut now, &[0xFE]), vec![0xEE], "resend repeats the last byte");
        assert_eq!(send(&mut kbc, &mut now, &[0xF6]), vec![ACK]);
        assert_eq!(kbc.keyboard.set, ScanCodeSet::Set2);
        assert_eq!(kbc.keyboard.typematic, DEFAULT_TYPEMATIC);
        assert_eq!(send(&mut kbc, &mut now, &[0xF5]), vec![ACK]);
        kbc.key_event(Key::A, true, now);
        assert!(drain(&mut kbc, &mut now).is_empty(), "scanning disabled");
        assert_eq!(send(&mut kbc, &mut now, &[0xF4]), vec![ACK]);
        kbc.key_event(Key::A, true, now);
        assert_eq!(drain(&mut kbc, &mut now), vec![0x1C]);
        // An argument-expecting command followed by a command byte takes the new command.
        assert_eq!(send(&mut kbc, &mut now, &[0xED, 0xF2]), vec![ACK, ACK, 0xAB, 0x83]);
        assert_eq!(send(&mut kbc, &mut now, &[0x42]), vec![RESEND], "not a command");
    }

    #[test]
    fn set2_codes_raw() {
        let mut kbc = Kbc8042::new();
        cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
        kbc.write(KBC_DATA, 0x01, T0);
        assert_eq!(keys(&mut kbc, &[(Key::A, true), (Key::A, false)]), vec![0x1C, 0xF0, 0x1C]);
        assert_eq!(
            keys(&mut kbc, &[(Key::RightCtrl, true), (Key::RightCtrl, false)]),
            vec![0xE0, 0x14, 0xE0, 0xF0, 0x14]
        );
    }

    #[test]
    fn translated_scancodes() {
        let mut kbc = Kbc8042::new(); // XLATE on at power-on
        assert_eq!(keys(&mut kbc, &[(Key::A, true), (Key::A, false)]), vec![0x1E, 0x9E]);
        assert_eq!(keys(&mut kbc, &[(Key::Escape, true), (Key::Escape, false)]), vec![0x01, 0x81]);
        assert_eq!(keys(&mut kbc, &[(Key::F7, true), (Key::F7, false)]), vec![0x41, 0xC1]);
        assert_eq!(keys(&mut kbc, &[(Key::Up, true), (Key::Up, false)]), vec![0xE0, 0x48, 0xE0, 0xC8]);
        assert_eq!(keys(&mut kbc, &[(Key::KpEnter, true), (Key::KpEnter, false)]), vec![0xE0, 0x1C, 0xE0, 0x9C]);
        assert_eq!(
            keys(&mut kbc, &[(Key::PrintScreen, true), (Key::PrintScreen, false)]),
            vec![0xE0, 0x2A, 0xE0, 0x37, 0xE0, 0xB7, 0xE0, 0xAA]
        );
        assert_eq!(
            keys(&mut kbc, &[(Key::Pause, true), (Key::Pause, false)]),
            vec![0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5]
        );
    }

    #[test]
    fn translation_agrees_with_set1_for_every_key() {
        // The key table carries set 1 codes independently of the translation table.
        for key in Key::ALL {
            for pressed in [true, false] {
                let mut latch = false;
                let translated: Vec<u8> = key
                    .scancodes(ScanCodeSet::Set2, pressed)
                    .into_iter()
                    .filter_map(|b| translate(b, &mut latch))
                    .collect();
                assert_eq!(translated, key.scancodes(ScanCodeSet::Set1, pressed), "{key:?} pressed={pressed}");
            }
        }
    }

    #[test]
    fn key_codes_are_unique() {
        let mut seen = std::collections::HashMap::new();
        for key in Key::ALL {
            let codes = key.scancodes(ScanCodeSet::Set2, true);
            if let Some(other) = seen.insert(codes.clone(), key) {
                panic!("{key:?} and {other:?} share {codes:x?}");
            }
        }
        assert_eq!(seen.len(), 105);
    }

    #[test]
    fn native_set1_without_translation() {
        let mut kbc = Kbc8042::new();
        cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
        kbc.write(KBC_DATA, 0x01, T0);
        let mut now = T0;
        kbc.write(KBC_DATA, 0xF0, now);
        kbc.write(KBC_DATA, 0x01, now);
        assert_eq!(drain(&mut kbc, &mut now), vec![ACK, ACK]);
        kbc.key_event(Key::Left, true, now);
        kbc.key_event(Key::Left, false, now);
        assert_eq!(drain(&mut kbc, &mut now), vec![0xE0, 0x4B, 0xE0, 0xCB]);
    }

    #[test]
    fn break_prefix_takes_a_wire_time_but_no_output() {
        let mut kbc = Kbc8042::new();
        kbc.key_event(Key::A, false, T0); // F0 1C
        let t1 = T0.saturating_add(PS2_BYTE_TIME);
        kbc.update(t1);
        assert!(!kbc.irq1_level(), "F0 is swallowed");
        assert_eq!(kbc.next_deadline(), Some(t1.saturating_add(PS2_BYTE_TIME)));
        kbc.update(t1.saturating_add(PS2_BYTE_TIME));
        assert!(kbc.irq1_level());
        assert_eq!(kbc.read(KBC_DATA, Tick(u64::MAX / 2)), 0x9E);
    }

    #[test]
    fn irq1_falls_between_bytes() {
        // Edge-triggered PICs need the line to drop after each read.
        let mut kbc = Kbc8042::new();
        kbc.key_event(Key::Up, true, T0); // E0 75 -> E0 48
        let mut now = T0.saturating_add(PS2_BYTE_TIME);
        kbc.update(now);
        assert!(kbc.irq1_level());
        assert_eq!(kbc.read(KBC_DATA, now), 0xE0);
        assert!(!kbc.irq1_level(), "line low until the next byte crosses the wire");
        now = kbc.next_deadline().unwrap();
        kbc.update(now);
        assert!(kbc.irq1_level());
        assert_eq!(kbc.read(KBC_DATA, now), 0x48);
        assert_eq!(kbc.next_deadline(), None);
    }

    #[test]
    fn lazy_catch_up_delivers_in_order_after_a_long_gap() {
        let mut kbc = Kbc8042::new();
        kbc.key_event(Key::B, true, T0);
        kbc.key_event(Key::C, true, T0);
        // The machine was late; the guest reads much later. Bytes come one per read, in order.
        let late = Tick::from_secs(5);
        assert_eq!(kbc.read(KBC_DATA, late), 0x30);
        assert_eq!(kbc.read(KBC_STATUS, late) & 1, 0);
        let later = late.saturating_add(PS2_BYTE_TIME);
        assert_eq!(kbc.read(KBC_DATA, later), 0x2E);
    }

    #[test]
    fn irq_gating_by_int_bits() {
        let mut kbc = Kbc8042::new();
        cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
        kbc.write(KBC_DATA, 0x40, T0); // XLATE only
        let mut now = T0;
        kbc.key_event(Key::Z, true, now);
        now = kbc.next_deadline().unwrap();
        kbc.update(now);
        assert_ne!(kbc.read(KBC_STATUS, now) & 1, 0);
        assert!(!kbc.irq1_level(), "INT clear: polled only");
        cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
        // Writing the command byte with data in the buffer: the write goes through; the data stays.
        kbc.write(KBC_DATA, 0x41, now);
        assert!(kbc.irq1_level());
        assert_eq!(kbc.read(KBC_DATA, now), 0x2C);
    }

    #[test]
    fn disabled_interface_holds_keys_in_the_keyboard() {
        let mut kbc = Kbc8042::new();
        let mut now = T0;
        cmd(&mut kbc, command::DISABLE_KBD);
        kbc.key_event(Key::Q, true, now);
        assert_eq!(kbc.next_deadline(), None);
        assert!(drain(&mut kbc, &mut now).is_empty());
        cmd(&mut kbc, command::ENABLE_KBD);
        assert_eq!(drain(&mut kbc, &mut now), vec![0x10]);
    }

    #[test]
    fn keyboard_buffer_overflow_is_bounded() {
        let mut kbc = Kbc8042::new();
        cmd(&mut kbc, command::WRITE_COMMAND_BYTE);
        kbc.write(KBC_DATA, 0x01, T0); // raw set 2
        cmd(&mut kbc, command::DISABLE_KBD);
        for _ in 0..100 {
            kbc.key_event(Key::A, true, T0);
            kbc.key_event(Key::A, false, T0);
        }
        assert_eq!(kbc.keyboard.buffer.len(), KBD_BUFFER_SIZE + 1);
        cmd(&mut kbc, command::ENABLE_KBD);
        let mut now = T0;
        let got = drain(&mut kbc, &mut now);
        let mut want: Vec<u8> = [0x1C, 0xF0, 0x1C].repeat(5);
        want.extend([0x1C, 0x00]); // 16 bytes fit ("A" pressed a sixth time), then the overrun code
        assert_eq!(got, want);
        // Translated, the overrun code reads as 0xFF.
        let mut kbc = Kbc8042::new();
        cmd(&mut kbc, command::DISABLE_KBD);
        for _ in 0..20 {
            kbc.key_event(Key::A, true, T0);
        }
        cmd(&mut kbc, command::ENABLE_KBD);
        let got = drain(&mut kbc, &mut now);
        assert_eq!(got.len(), 17);
        assert_eq!(got[16], 0xFF);
    }

    #[test]
    fn write_keyboard_and_aux_output_buffer() {
        let mut kbc = Kbc8042::new();
        cmd(&mut kbc, command::WRITE_KBD_BUFFER);
        kbc.write(KBC_DATA, 0x99, T0);
        assert!(kbc.irq1_level() && !kbc.irq12_level());
        assert_eq!(kbc.read(KBC_DATA, T0), 0x99);
        cmd(&mut kbc, command::WRITE_AUX_BUFFER);
        kbc.write(KBC_DATA, 0x77, T0);
        assert_eq!(kbc.read(KBC_STATUS, T0) & 0x21, 0x21, "OBF and AUXB");
        assert!(kbc.irq12_level() && !kbc.irq1_level());
        assert_eq!(kbc.read(KBC_DATA, T0), 0x77);
        assert_eq!(kbc.read(KBC_STATUS, T0) & 0x21, 0);
    }

    fn aux(kbc: &mut Kbc8042, now: &mut Tick, bytes: &[u8]) -> Vec<u8> {
        for &b in bytes {
            kbc.write(KBC_COMMAND, command::WRITE_AUX, *now);
            kbc.write(KBC_DATA, b, *now);
        }
        drain(kbc, now)
    }

    #[test]
    fn mouse_reset_id_and_stream() {
        let mut kbc = Kbc8042::new();
        let mut now = T0;
        assert_eq!(aux(&mut kbc, &mut now, &[0xFF]), vec![ACK, BAT_OK, 0x00]);
        assert_eq!(aux(&mut kbc, &mut now, &[0xF2]), vec![ACK, 0x00]);
        kbc.mouse_event(5, 5, 0, MouseButtons::empty(), now);
        assert!(drain(&mut kbc, &mut now).is_empty(), "reporting is off after reset");
        assert_eq!(aux(&mut kbc, &mut now, &[0xF4]), vec![ACK]);
        kbc.mouse_event(5, -3, 0, MouseButtons::LEFT, now);
        now = kbc.next_deadline().unwrap();
        kbc.update(now);
        assert!(kbc.irq12_level() && !kbc.irq1_level());
        // dy -3 is "up" on the screen: +3 in the packet.
        assert_eq!(drain(&mut kbc, &mut now), vec![0x09, 5, 3]);
        kbc.mouse_event(-2, 4, 0, MouseButtons::LEFT, now);
        assert_eq!(drain(&mut kbc, &mut now), vec![0x39, 0xFE, 0xFC]);
    }

    #[test]
    fn intellimouse_knock_and_wheel() {
        let mut kbc = Kbc8042::new();
        let mut now = T0;
        let r = aux(&mut kbc, &mut now, &[0xF3, 200, 0xF3, 100, 0xF3, 80, 0xF2]);
        assert_eq!(r, vec![ACK, ACK, ACK, ACK, ACK, ACK, ACK, 0x03]);
        aux(&mut kbc, &mut now, &[0xF4]);
        kbc.mouse_event(0, 0, 2, MouseButtons::empty(), now);
        assert_eq!(drain(&mut kbc, &mut now), vec![0x08, 0, 0, 2]);
        assert_eq!(aux(&mut kbc, &mut now, &[0xF3, 33]), vec![ACK, RESEND], "invalid rate");
    }

    #[test]
    fn mouse_status_wrap_resolution_remote() {
        let mut kbc = Kbc8042::new();
        let mut now = T0;
        assert_eq!(aux(&mut kbc, &mut now, &[0xE9]), vec![ACK, 0x00, 2, 100]);
        assert_eq!(aux(&mut kbc, &mut now, &[0xE8, 3, 0xE7, 0xF4, 0xE9]), vec![ACK, ACK, ACK, ACK, ACK, 0x30, 3, 100]);
        assert_eq!(aux(&mut kbc, &mut now, &[0xE8, 9]), vec![ACK, RESEND]);
        assert_eq!(aux(&mut kbc, &mut now, &[0xEE, 0x12, 0x34, 0xEC]), vec![ACK, 0x12, 0x34, ACK]);
        assert_eq!(aux(&mut kbc, &mut now, &[0xF0]), vec![ACK]);
        kbc.mouse_event(3, 0, 0, MouseButtons::RIGHT, now);
        assert!(drain(&mut kbc, &mut now).is_empty(), "remote mode sends only on request");
        assert_eq!(aux(&mut kbc, &mut now, &[0xEB]), vec![ACK, 0x0A, 3, 0]);
    }

    #[test]
    fn mouse_scaling_2_1_in_stream_mode() {
        let mut m = Ps2Mouse { scaling_2_1: true, ..Ps2Mouse::default() };
        let got: Vec<i32> = (-7..=7).map(|n| m.scale(n)).collect();
        assert_eq!(got, vec![-14, -12, -9, -6, -3, -1, -1, 0, 1, 1, 3, 6, 9, 12, 14]);
        m.remote = true;
        assert_eq!(m.scale(5), 5);
    }

    #[test]
    fn mouse_large_motion_splits_and_buffer_is_bounded() {
        let mut kbc = Kbc8042::new();
        let mut now = T0;
        aux(&mut kbc, &mut now, &[0xF4]);
        cmd(&mut kbc, command::DISABLE_AUX);
        for _ in 0..100 {
            kbc.mouse_event(1000, 0, 0, MouseButtons::empty(), now);
        }
        assert!(kbc.mouse.buffer.len() <= AUX_BUFFER_SIZE);
        cmd(&mut kbc, command::ENABLE_AUX);
        let got = drain(&mut kbc, &mut now);
        assert_eq!(got.len() % 3, 0);
        let total: i32 = got.chunks(3).map(|p| if p[0] & 0x10 != 0 { p[1] as i32 - 256 } else { p[1] as i32 }).sum();
        // The first event fits in 4 packets (1000), the second sends one more (255) and fills the
        // buffer; the mouse then counts the rest, saturating at its counter bound.
        assert_eq!(total, 1000 + 255 + MOTION_LIMIT, "motion arrives split into packets, bounded");
    }

    #[test]
    fn keyboard_and_mouse_interleave_with_correct_auxb() {
        let mut kbc = Kbc8042::new();
        let mut now = T0;
        aux(&mut kbc, &mut now, &[0xF4]);
        kbc.key_event(Key::Space, true, now);
        kbc.mouse_event(1, 0, 0, MouseButtons::empty(), now);
        let mut seen = Vec::new();
        for _ in 0..4 {
            now = kbc.next_deadline().unwrap();
            kbc.update(now);
            let aux = kbc.read(KBC_STATUS, now) & 0x20 != 0;
            assert_eq!(kbc.irq12_level(), aux);
            assert_eq!(kbc.irq1_level(), !aux);
            seen.push((kbc.read(KBC_DATA, now), aux));
        }
        assert_eq!(seen, vec![(0x39, false), (0x08, true), (1, true), (0, true)]);
    }

    #[test]
    fn disabling_aux_blocks_irq12_data() {
        let mut kbc = Kbc8042::new();
        let mut now = T0;
        aux(&mut kbc, &mut now, &[0xF4]);
        cmd(&mut kbc, command::DISABLE_AUX);
        kbc.mouse_event(1, 1, 0, MouseButtons::empty(), now);
        assert_eq!(kbc.next_deadline(), None);
        assert_eq!(cmd_reply(&mut kbc, command::READ_COMMAND_BYTE) & 0x20, 0x20);
    }

    #[test]
    fn any_guest_bytes_never_panic() {
        // Every command followed by every data byte, on both ports, from several states.
        for c in 0..=255u8 {
            let mut kbc = Kbc8042::new();
            let mut now = T0;
            for d in 0..=255u8 {
                kbc.write(KBC_COMMAND, c, now);
                kbc.write(KBC_DATA, d, now);
                kbc.write(KBC_COMMAND, command::WRITE_AUX, now);
                kbc.write(KBC_DATA, d, now);
                kbc.write(KBC_DATA, d.wrapping_mul(7), now);
                now = now.saturating_add(Tick(100_000));
                kbc.read(KBC_DATA, now);
                kbc.read(KBC_STATUS, now);
                kbc.read(0x61, now);
                kbc.write(0x65, d, now);
                assert!(kbc.replies.len() <= REPLY_QUEUE_SIZE);
                assert!(kbc.keyboard.responses.len() <= RESPONSE_QUEUE_SIZE);
                assert!(kbc.keyboard.buffer.len() <= KBD_BUFFER_SIZE + 1);
                assert!(kbc.mouse.buffer.len() <= AUX_BUFFER_SIZE);
            }
            kbc.take_events();
        }
    }
}
