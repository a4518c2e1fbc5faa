//! The IBM VGA: registers, 256 KiB of planar video memory, and a renderer to an RGB frame.
//!
//! Sources: IBM *VGA Technical Reference* (in the *PS/2 Hardware Interface Technical
//! Reference*, "Video Subsystem"), and the FreeVGA Project's register reference and "VGA
//! Memory Organization", "Read/Write Modes", "Attribute Controller Operation" pages. Register
//! fields carry FreeVGA's names; where FreeVGA is silent the IBM reference decides, and where
//! both are, the model does what QEMU and Bochs do (said at each place).
//!
//! # What is modelled
//! - Ports 3C0h-3CFh and, by the Miscellaneous Output register's I/O Address Select (bit 0),
//!   either 3B4h/3B5h/3BAh (monochrome) or 3D4h/3D5h/3DAh (colour); the other set reads 0xFF
//!   and ignores writes:
//!   - Attribute Controller ([`regs::AttributeController`]) at 3C0h (address/data flip-flop,
//!     reset by reading Input Status #1; PAS) and 3C1h;
//!   - Miscellaneous Output (write 3C2h, read 3CCh), Input Status #0 (read 3C2h), Feature
//!     Control (write 3xAh, read 3CAh), Video Subsystem Enable (3C3h, stored only);
//!   - Input Status #1 (read 3xAh): bit 0 Display Disabled and bit 3 Vertical Retrace from
//!     the beam position at the guest time of the read ([`timing`]);
//!   - Sequencer ([`regs::Sequencer`], 3C4h/3C5h), CRT Controller ([`regs::Crtc`], 25
//!     registers, with Protect), Graphics Controller ([`regs::GraphicsController`],
//!     3CEh/3CFh), DAC ([`regs::Dac`]: PEL Mask 3C6h, read index/DAC State 3C7h, write index
//!     3C8h, data 3C9h with the three-component auto-increment, 6-bit components).
//! - Video memory ([`memory`]): four 64 KiB planes and the latches; the CPU window chosen by
//!   Memory Map Select; chain 4, odd/even, write modes 0-3 (rotate, Set/Reset, logical
//!   operations, Bit Mask, Map Mask), read modes 0-1 (Color Compare, Color Don't Care).
//! - Display ([`render`]): alphanumeric modes with the font in plane 2 (8/9-dot cells, any
//!   Maximum Scan Line, so 80x25 and 80x50), attributes through the palette registers and the
//!   DAC, blink or 16 backgrounds, cursor shape and blink, underline; planar 16-colour, CGA
//!   interleaved and 256-colour graphics; Start Address, Offset, Byte and Pixel Panning, Line
//!   Compare (split screen), scan doubling. Everything is driven by registers, not by mode
//!   numbers.
//! - Built-in 8x16 and 8x8 code page 437 fonts ([`font`]) and the standard register tables for
//!   modes 03h, 12h and 13h ([`tables`]) that a BIOS copies.
//!
//! # What is not
//! The vertical retrace interrupt (IRQ 2), Input Status #0's switch sense and interrupt bits
//! (read 0), light pen registers, the feature connector, Video Subsystem Enable gating
//! accesses, the Odd/Even Page Select bit, the overscan border, Shift Four and the DIV2/DIV4/
//! SLDIV counters, mid-frame register changes (each frame is rendered from the state at the
//! time of the call), and the option ROM (the BIOS programs the registers). SVGA extensions
//! and VBE are out of scope. See each submodule for details.
//!
//! # Power-on state
//! [`Vga::new`] is the chip as it comes out of reset, before any BIOS: registers zero (PEL
//! Mask FFh), memory zero, so RAM Enable is 0 and the window answers nothing and the display
//! is blank until the BIOS programs the registers. [`tables::set_mode`] does what the BIOS's
//! mode set does, for tests and front ends that run without a video BIOS.
//!
//! # Wiring (for the machine)
//! - **Ports**: route every port in [`VGA_PORTS`] (3B0h-3DFh) here: `in` →
//!   [`Vga::io_read`]`(port, now)` with the guest time of the access (after `CpuBus::sync`),
//!   `out` → [`Vga::io_write`]`(port, value)`. The device itself decides whether 3Bxh or 3Dxh
//!   is live (Miscellaneous Output bit 0) and answers 0xFF on the dead set and on unassigned
//!   ports, so the bus needs no switch of its own. Word accesses are two byte accesses, low
//!   port first (`out dx, ax` to 3C4h writes index then data): [`Vga::io_write16`] and
//!   [`Vga::io_read16`] do that split.
//! - **Memory**: physical 0xA0000-0xBFFFF ([`VGA_WINDOW`]) goes to [`Vga::mem_read`] and
//!   [`Vga::mem_write`] byte by byte (wider accesses as ascending bytes). The device answers
//!   0xFF for addresses outside the window the guest selected. Code fetches from there are
//!   legal but rare; route them the same way (not through a decode cache of RAM).
//! - **Time**: no IRQ and no deadline. Reads of Input Status #1 and the blink phases are
//!   computed from the `now` passed in. A front end can pace presentation with
//!   [`Vga::next_frame`] (the next vertical sync in guest time) on `Timer::Vga` if it wants
//!   one presentation per guest frame.
//! - **Display**: keep a [`Frame`] and call [`Vga::render_into`]`(now, &mut frame)`; it redraws
//!   only if video memory, a register or the blink phase changed ([`Vga::generation`] counts
//!   writes) and bumps `frame.serial` when it did. Scale by `x_repeat`/`y_repeat`.
//! - **Snapshots**: [`Vga`] is plain data (`Clone`, `Debug`, `PartialEq`; the Debug of video
//!   memory is a summary); the frame is derived and lives with the front end. After restoring
//!   the public fields, call [`Vga::touch`] so front ends redraw.
//!
//! ```
//! use x86lab::devices::vga::{Frame, Vga, tables};
//! use x86lab::machine::clock::Tick;
//!
//! let mut vga = Vga::new();
//! assert!(tables::set_mode(&mut vga, 0x03)); // what the BIOS does at boot
//! vga.mem_write(0xB8000, b'A');
//! vga.mem_write(0xB8001, 0x1F); // white on blue
//! assert_eq!(vga.text_screen().lines().next(), Some("A"));
//!
//! let mut frame = Frame::new();
//! assert!(vga.render_into(Tick(0), &mut frame));
//! assert_eq!((frame.width, frame.height), (720, 400));
//! assert!(!vga.render_into(Tick(0), &mut frame), "nothing changed");
//! vga.io_write(0x3D4, 0x0E); // CRTC index: Cursor Location High
//! assert_eq!(vga.io_read(0x3D5, Tick(0)), 0x00);
//! ```

pub mod font;
pub mod memory;
pub mod regs;
pub mod render;
pub mod tables;
pub mod timing;

#[cfg(test)]
mod tests;

pub use memory::VideoMemory;
pub use regs::{AttributeController, Crtc, Dac, GraphicsController, Sequencer};
pub use render::{Frame, Geometry};
pub use timing::Timing;

use crate::machine::clock::Tick;
use serde::{Deserialize, Serialize};

/// Every port the VGA decodes (the machine routes the whole range here).
pub const VGA_PORTS: std::ops::RangeInclusive<u16> = 0x3B0..=0x3DF;
/// The physical range of the CPU window (the device decodes the part Memory Map Select picks).
pub const VGA_WINDOW: std::ops::Range<u32> = 0xA_0000..0xC_0000;

/// CRTC Address Register, monochrome I/O addresses (Miscellaneous Output bit 0 = 0).
pub const CRTC_ADDRESS_MONO: u16 = 0x3B4;
/// CRTC Data Register, monochrome.
pub const CRTC_DATA_MONO: u16 = 0x3B5;
/// Input Status #1 (read) / Feature Control (write), monochrome.
pub const INPUT_STATUS_1_MONO: u16 = 0x3BA;
/// Attribute Address/Data Register (write: address, then data, by the flip-flop; read:
/// address).
pub const ATTR_ADDRESS_DATA: u16 = 0x3C0;
/// Attribute Data Read Register.
pub const ATTR_DATA_READ: u16 = 0x3C1;
/// Miscellaneous Output Register (write) / Input Status #0 (read).
pub const MISC_OUTPUT_WRITE: u16 = 0x3C2;
/// Video Subsystem Enable Register.
pub const VIDEO_SUBSYSTEM_ENABLE: u16 = 0x3C3;
/// Sequencer Address Register (data at 3C5h).
pub const SEQ_ADDRESS: u16 = 0x3C4;
/// Sequencer Data Register.
pub const SEQ_DATA: u16 = 0x3C5;
/// DAC PEL Mask Register.
pub const DAC_PEL_MASK: u16 = 0x3C6;
/// DAC Address Read Mode Register (write) / DAC State Register (read).
pub const DAC_READ_INDEX: u16 = 0x3C7;
/// DAC Address Write Mode Register.
pub const DAC_WRITE_INDEX: u16 = 0x3C8;
/// DAC Data Register.
pub const DAC_DATA: u16 = 0x3C9;
/// Feature Control Register (read).
pub const FEATURE_CONTROL_READ: u16 = 0x3CA;
/// Miscellaneous Output Register (read).
pub const MISC_OUTPUT_READ: u16 = 0x3CC;
/// Graphics Controller Address Register (data at 3CFh).
pub const GC_ADDRESS: u16 = 0x3CE;
/// Graphics Controller Data Register.
pub const GC_DATA: u16 = 0x3CF;
/// CRTC Address Register, colour I/O addresses (Miscellaneous Output bit 0 = 1).
pub const CRTC_ADDRESS_COLOR: u16 = 0x3D4;
/// CRTC Data Register, colour.
pub const CRTC_DATA_COLOR: u16 = 0x3D5;
/// Input Status #1 (read) / Feature Control (write), colour.
pub const INPUT_STATUS_1_COLOR: u16 = 0x3DA;

/// The VGA's whole state: registers, video memory and a write counter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vga {
    /// Miscellaneous Output Register (write 3C2h, read 3CCh): bit 7 VSYNCP, bit 6 HSYNCP,
    /// bit 5 O/E Page, bits 3-2 Clock Select, bit 1 RAM En., bit 0 I/OAS.
    pub misc_output: u8,
    /// Feature Control Register (write 3BAh/3DAh, read 3CAh): bits 1-0 FC1-FC0, stored only.
    pub feature_control: u8,
    /// Video Subsystem Enable Register (3C3h), bit 0; stored only.
    pub video_subsystem_enable: u8,
    pub seq: Sequencer,
    pub crtc: Crtc,
    pub gc: GraphicsController,
    pub ac: AttributeController,
    pub dac: Dac,
    pub mem: VideoMemory,
    /// Bumped by every port write and video memory write: the picture may have changed.
    generation: u64,
}

impl Default for Vga {
    fn default() -> Vga {
        Vga::new()
    }
}

impl Vga {
    /// Miscellaneous Output I/O Address Select: 1 = CRTC at 3Dxh, 0 = 3Bxh.
    pub const MISC_IOAS: u8 = 1 << 0;
    /// Miscellaneous Output RAM Enable: 0 disables CPU access to video memory.
    pub const MISC_RAM_ENABLE: u8 = 1 << 1;

    /// The chip after reset (see the module doc, "Power-on state").
    pub fn new() -> Vga {
        Vga {
            misc_output: 0,
            feature_control: 0,
            video_subsystem_enable: 0,
            seq: Sequencer::default(),
            crtc: Crtc::default(),
            gc: GraphicsController::default(),
            ac: AttributeController::default(),
            dac: Dac::default(),
            mem: VideoMemory::default(),
            generation: 0,
        }
    }

    /// Counts port and video memory writes; a front end compares it with the value it last
    /// rendered (or uses [`Vga::render_into`], which does).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Marks the picture as possibly changed. Port and memory writes do this themselves; call
    /// it after changing the public fields directly (a debugger poke, a snapshot load).
    pub fn touch(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// The CRTC address port live now: 3D4h (colour) or 3B4h (monochrome). Data is one
    /// above, Input Status #1 six above.
    pub fn crtc_port(&self) -> u16 {
        if self.misc_output & Vga::MISC_IOAS != 0 { CRTC_ADDRESS_COLOR } else { CRTC_ADDRESS_MONO }
    }

    /// Whether `port` is one of the live CRTC/Input Status ports (3Bxh or 3Dxh by I/OAS).
    fn is_live_crtc_port(&self, port: u16) -> bool {
        let base = self.crtc_port();
        port == base || port == base + 1 || port == base + 6
    }

    /// The guest reads `port` at guest time `now`. Unassigned ports and the CRTC set not
    /// selected by I/O Address Select read 0xFF.
    pub fn io_read(&mut self, port: u16, now: Tick) -> u8 {
        match port {
            CRTC_ADDRESS_MONO | CRTC_ADDRESS_COLOR | CRTC_DATA_MONO | CRTC_DATA_COLOR | INPUT_STATUS_1_MONO
            | INPUT_STATUS_1_COLOR
                if !self.is_live_crtc_port(port) =>
            {
                0xFF
            }
            CRTC_ADDRESS_MONO | CRTC_ADDRESS_COLOR => self.crtc.address,
            CRTC_DATA_MONO | CRTC_DATA_COLOR => self.crtc.read_data(),
            INPUT_STATUS_1_MONO | INPUT_STATUS_1_COLOR => {
                // Reading Input Status #1 resets the attribute flip-flop to "address".
                self.ac.flip_flop = false;
                Timing::of(self).input_status_1(now)
            }
            ATTR_ADDRESS_DATA => self.ac.read_address(),
            ATTR_DATA_READ => self.ac.read_data(),
            MISC_OUTPUT_WRITE => 0x00, // Input Status #0: no switch sense, no CRT interrupt
            VIDEO_SUBSYSTEM_ENABLE => self.video_subsystem_enable,
            SEQ_ADDRESS => self.seq.address,
            SEQ_DATA => self.seq.read_data(),
            DAC_PEL_MASK => self.dac.pel_mask,
            DAC_READ_INDEX => self.dac.state,
            DAC_WRITE_INDEX => self.dac.write_index,
            DAC_DATA => self.dac.read_data(),
            FEATURE_CONTROL_READ => self.feature_control,
            MISC_OUTPUT_READ => self.misc_output,
            GC_ADDRESS => self.gc.address,
            GC_DATA => self.gc.read_data(),
            _ => 0xFF,
        }
    }

    /// The guest writes `value` to `port`.
    pub fn io_write(&mut self, port: u16, value: u8) {
        match port {
            CRTC_ADDRESS_MONO | CRTC_ADDRESS_COLOR | CRTC_DATA_MONO | CRTC_DATA_COLOR | INPUT_STATUS_1_MONO
            | INPUT_STATUS_1_COLOR
                if !self.is_live_crtc_port(port) =>
            {
                return;
            }
            CRTC_ADDRESS_MONO | CRTC_ADDRESS_COLOR => self.crtc.write_address(value),
            CRTC_DATA_MONO | CRTC_DATA_COLOR => self.crtc.write_data(value),
            INPUT_STATUS_1_MONO | INPUT_STATUS_1_COLOR => self.feature_control = value & 0x03,
            ATTR_ADDRESS_DATA => self.ac.write_3c0(value),
            MISC_OUTPUT_WRITE => self.misc_output = value & 0xEF,
            VIDEO_SUBSYSTEM_ENABLE => self.video_subsystem_enable = value & 0x01,
            SEQ_ADDRESS => self.seq.write_address(value),
            SEQ_DATA => self.seq.write_data(value),
            DAC_PEL_MASK => self.dac.pel_mask = value,
            DAC_READ_INDEX => self.dac.write_read_index(value),
            DAC_WRITE_INDEX => self.dac.write_write_index(value),
            DAC_DATA => self.dac.write_data(value),
            GC_ADDRESS => self.gc.write_address(value),
            GC_DATA => self.gc.write_data(value),
            _ => return,
        }
        self.touch();
    }

    /// A word `in`: `port` then `port + 1`, low byte first.
    pub fn io_read16(&mut self, port: u16, now: Tick) -> u16 {
        let lo = self.io_read(port, now);
        let hi = self.io_read(port.wrapping_add(1), now);
        u16::from_le_bytes([lo, hi])
    }

    /// A word `out`: the low byte to `port`, then the high byte to `port + 1` (so `out dx, ax`
    /// to an index port writes index and data).
    pub fn io_write16(&mut self, port: u16, value: u16) {
        let [lo, hi] = value.to_le_bytes();
        self.io_write(port, lo);
        self.io_write(port.wrapping_add(1), hi);
    }

    /// Copies a font into character map 0 of plane 2 as a VGA BIOS does (INT 10h AX=1110h):
    /// glyph `c` at plane 2 offset `c * 32`, `height` rows (1-32, clamped) of 8 dots each,
    /// the rest of the 32-byte slot cleared. At most 256 glyphs are taken from `font`; a short
    /// last glyph is padded with zero rows.
    pub fn load_font(&mut self, font: &[u8], height: usize) {
        self.load_font_map(0, font, height);
    }

    /// [`Vga::load_font`] into character map `map` (0-7, masked; see
    /// [`Sequencer::char_map_offset`]).
    pub fn load_font_map(&mut self, map: u8, font: &[u8], height: usize) {
        let height = height.clamp(1, 32);
        let base = Sequencer::char_map_offset(map);
        let glyphs = font.len().div_ceil(height).min(256);
        for g in 0..glyphs {
            for row in 0..32 {
                let v = if row < height { font.get(g * height + row).copied().unwrap_or(0) } else { 0 };
                self.mem.set_plane(2, base + g * 32 + row, v);
            }
        }
        self.touch();
    }

    /// The display timing at the current register values.
    pub fn timing(&self) -> Timing {
        Timing::of(self)
    }

    /// The next vertical frame start after `now` in guest time (for pacing presentation).
    pub fn next_frame(&self, now: Tick) -> Tick {
        Timing::of(self).next_frame(now)
    }
}
