//! The standard VGA register tables for modes 03h, 12h and 13h, the default DAC colours, and
//! [`program_mode`]/[`set_mode`], which program the device through its ports as a VGA BIOS's
//! INT 10h AH=00h does.
//!
//! The values are those of the IBM VGA BIOS video parameter table (IBM VGA Technical Reference,
//! "BIOS Video Parameter Table"; the same values are listed in FreeVGA's mode examples and
//! used by the SeaBIOS/Bochs VGA BIOSes). The x86lab BIOS is meant to carry the same bytes:
//! the arrays are in register-index order, ready to copy into an assembly table and write with
//! `out dx, al` loops in the order [`program_mode`] uses.
//!
//! The device itself knows nothing of mode numbers; these helpers exist for the BIOS author,
//! tests and front ends that want a programmed VGA without running a BIOS.

use super::font::{FONT_8X8, FONT_8X16};
use super::{
    ATTR_ADDRESS_DATA, DAC_DATA, DAC_PEL_MASK, DAC_WRITE_INDEX, GC_ADDRESS, MISC_OUTPUT_WRITE, SEQ_ADDRESS, Vga,
};

/// The registers of one video mode, each array in index order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeTable {
    /// The BIOS mode number.
    pub mode: u8,
    /// Miscellaneous Output Register (3C2h).
    pub misc_output: u8,
    /// Sequencer registers 00h-04h (00h is written last, to end the reset).
    pub sequencer: [u8; 5],
    /// CRT Controller registers 00h-18h.
    pub crtc: [u8; 25],
    /// Graphics Controller registers 00h-08h.
    pub graphics: [u8; 9],
    /// Attribute Controller registers 00h-14h.
    pub attribute: [u8; 21],
}

/// The 16 EGA-compatible palette register values of the 16-colour modes.
const EGA_PALETTE: [u8; 16] =
    [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F];

const fn attribute(palette: [u8; 16], mode_control: u8, pel_panning: u8) -> [u8; 21] {
    let mut a = [0u8; 21];
    let mut i = 0;
    while i < 16 {
        a[i] = palette[i];
        i += 1;
    }
    a[0x10] = mode_control;
    a[0x11] = 0x00; // Overscan Color
    a[0x12] = 0x0F; // Color Plane Enable
    a[0x13] = pel_panning;
    a[0x14] = 0x00; // Color Select
    a
}

/// Mode 03h: 80x25 colour text, 9x16 cells, 720x400 at 70 Hz, B8000h.
pub const MODE_03H: ModeTable = ModeTable {
    mode: 0x03,
    misc_output: 0x67,
    sequencer: [0x03, 0x00, 0x03, 0x00, 0x02],
    crtc: [
        0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E,
        0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
    ],
    graphics: [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF],
    attribute: attribute(EGA_PALETTE, 0x0C, 0x08),
};

/// Mode 12h: 640x480, 16 colours, planar, 60 Hz, A0000h.
pub const MODE_12H: ModeTable = ModeTable {
    mode: 0x12,
    misc_output: 0xE3,
    sequencer: [0x03, 0x01, 0x0F, 0x00, 0x06],
    crtc: [
        0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xEA, 0x8C,
        0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF,
    ],
    graphics: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF],
    attribute: attribute(EGA_PALETTE, 0x01, 0x00),
};

/// Mode 13h: 320x200, 256 colours, chain 4, shown as 640x400 at 70 Hz, A0000h.
pub const MODE_13H: ModeTable = ModeTable {
    mode: 0x13,
    misc_output: 0x63,
    sequencer: [0x03, 0x01, 0x0F, 0x00, 0x0E],
    crtc: [
        0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E,
        0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF,
    ],
    graphics: [0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF],
    attribute: attribute(
        [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F],
        0x41,
        0x00,
    ),
};

/// The table for a BIOS mode number, among those x86lab knows.
pub fn mode_table(mode: u8) -> Option<&'static ModeTable> {
    match mode & 0x7F {
        0x03 => Some(&MODE_03H),
        0x12 => Some(&MODE_12H),
        0x13 => Some(&MODE_13H),
        _ => None,
    }
}

/// The 64 EGA colours the BIOS loads into DAC entries 0-63 for the 16-colour modes: entry
/// bits 2/1/0 are red/green/blue at 2/3 intensity (2Ah), bits 5/4/3 add 1/3 (15h).
pub const DAC_EGA64: [[u8; 3]; 64] = dac_ega64();

const fn dac_ega64() -> [[u8; 3]; 64] {
    let mut t = [[0u8; 3]; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = [ega_level(i, 2, 5), ega_level(i, 1, 4), ega_level(i, 0, 3)];
        i += 1;
    }
    t
}

const fn ega_level(i: usize, primary: usize, secondary: usize) -> u8 {
    ((i >> primary) & 1) as u8 * 0x2A + ((i >> secondary) & 1) as u8 * 0x15
}

/// The default 256-colour DAC of mode 13h: 16 CGA colours, 16 greys, then 9 blocks of 24
/// hues (blue, through magenta, red, yellow, green and cyan, back towards blue) at three
/// intensities x three saturations, and 8 blacks.
pub const DAC_DEFAULT_256: [[u8; 3]; 256] = dac_default_256();

const fn dac_default_256() -> [[u8; 3]; 256] {
    const CGA: [[u8; 3]; 16] = [
        [0x00, 0x00, 0x00],
        [0x00, 0x00, 0x2A],
        [0x00, 0x2A, 0x00],
        [0x00, 0x2A, 0x2A],
        [0x2A, 0x00, 0x00],
        [0x2A, 0x00, 0x2A],
        [0x2A, 0x15, 0x00],
        [0x2A, 0x2A, 0x2A],
        [0x15, 0x15, 0x15],
        [0x15, 0x15, 0x3F],
        [0x15, 0x3F, 0x15],
        [0x15, 0x3F, 0x3F],
        [0x3F, 0x15, 0x15],
        [0x3F, 0x15, 0x3F],
        [0x3F, 0x3F, 0x15],
        [0x3F, 0x3F, 0x3F],
    ];
    const GREYS: [u8; 16] =
        [0x00, 0x05, 0x08, 0x0B, 0x0E, 0x11, 0x14, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x2D, 0x32, 0x38, 0x3F];
    // The five levels of each block, low to high.
    const LEVELS: [[u8; 5]; 9] = [
        [0x00, 0x10, 0x1F, 0x2F, 0x3F],
        [0x1F, 0x27, 0x2F, 0x37, 0x3F],
        [0x2D, 0x31, 0x36, 0x3A, 0x3F],
        [0x00, 0x07, 0x0E, 0x15, 0x1C],
        [0x0E, 0x11, 0x15, 0x18, 0x1C],
        [0x14, 0x16, 0x18, 0x1A, 0x1C],
        [0x00, 0x04, 0x08, 0x0C, 0x10],
        [0x08, 0x0A, 0x0C, 0x0E, 0x10],
        [0x0B, 0x0C, 0x0D, 0x0F, 0x10],
    ];
    // (red, green, blue) level numbers of the 24 hues.
    const HUES: [[usize; 3]; 24] = [
        [0, 0, 4],
        [1, 0, 4],
        [2, 0, 4],
        [3, 0, 4],
        [4, 0, 4],
        [4, 0, 3],
        [4, 0, 2],
        [4, 0, 1],
        [4, 0, 0],
        [4, 1, 0],
        [4, 2, 0],
        [4, 3, 0],
        [4, 4, 0],
        [3, 4, 0],
        [2, 4, 0],
        [1, 4, 0],
        [0, 4, 0],
        [0, 4, 1],
        [0, 4, 2],
        [0, 4, 3],
        [0, 4, 4],
        [0, 3, 4],
        [0, 2, 4],
        [0, 1, 4],
    ];
    let mut t = [[0u8; 3]; 256];
    let mut i = 0;
    while i < 16 {
        t[i] = CGA[i];
        t[16 + i] = [GREYS[i], GREYS[i], GREYS[i]];
        i += 1;
    }
    let mut b = 0;
    while b < 9 {
        let mut h = 0;
        while h < 24 {
            let l = LEVELS[b];
            t[32 + b * 24 + h] = [l[HUES[h][0]], l[HUES[h][1]], l[HUES[h][2]]];
            h += 1;
        }
        b += 1;
    }
    t
}

/// Programs the registers of `t` through the device's ports, in the order a VGA BIOS uses:
/// synchronous reset, Miscellaneous Output, Sequencer 01h-04h, end of reset; CRTC with the
/// Protect bit cleared first; Graphics Controller; Attribute Controller (flip-flop reset by
/// reading Input Status #1, PAS set at the end to re-enable the display); PEL Mask FFh.
/// Video memory and the DAC colours are left alone (see [`set_mode`]).
pub fn program_mode(vga: &mut Vga, t: &ModeTable) {
    vga.io_write(SEQ_ADDRESS, 0x00);
    vga.io_write(SEQ_ADDRESS + 1, 0x01); // synchronous reset
    vga.io_write(MISC_OUTPUT_WRITE, t.misc_output);
    for (i, &v) in t.sequencer.iter().enumerate().skip(1) {
        vga.io_write(SEQ_ADDRESS, i as u8);
        vga.io_write(SEQ_ADDRESS + 1, v);
    }
    vga.io_write(SEQ_ADDRESS, 0x00);
    vga.io_write(SEQ_ADDRESS + 1, t.sequencer[0]);

    let crtc = vga.crtc_port();
    vga.io_write(crtc, 0x11);
    vga.io_write(crtc + 1, t.crtc[0x11] & 0x7F); // clear Protect
    for (i, &v) in t.crtc.iter().enumerate() {
        vga.io_write(crtc, i as u8);
        vga.io_write(crtc + 1, v);
    }

    for (i, &v) in t.graphics.iter().enumerate() {
        vga.io_write(GC_ADDRESS, i as u8);
        vga.io_write(GC_ADDRESS + 1, v);
    }

    let _ = vga.io_read(crtc + 6, crate::machine::clock::Tick(0)); // Input Status #1: flip-flop to address
    for (i, &v) in t.attribute.iter().enumerate() {
        vga.io_write(ATTR_ADDRESS_DATA, i as u8);
        vga.io_write(ATTR_ADDRESS_DATA, v);
    }
    vga.io_write(ATTR_ADDRESS_DATA, 0x20); // PAS: the palette drives the display again

    vga.io_write(DAC_PEL_MASK, 0xFF);
}

/// Loads `colours` into the DAC from entry `first` through ports 3C8h/3C9h.
pub fn load_dac(vga: &mut Vga, first: u8, colours: &[[u8; 3]]) {
    vga.io_write(DAC_WRITE_INDEX, first);
    for c in colours.iter().take(256) {
        for &v in c {
            vga.io_write(DAC_DATA, v);
        }
    }
}

/// What INT 10h AH=00h does for `mode` (03h, 12h or 13h; bit 7 keeps video memory): program
/// the registers, load the DAC (the EGA colours, or the 256-colour default for 13h), clear
/// video memory (text: spaces on light grey, 0720h) and, for text, load the 8x16 font.
/// Returns false for a mode x86lab has no table for. A test and front-end helper; the device
/// has no notion of modes.
pub fn set_mode(vga: &mut Vga, mode: u8) -> bool {
    let Some(t) = mode_table(mode) else {
        return false;
    };
    program_mode(vga, t);
    if t.mode == 0x13 {
        load_dac(vga, 0, &DAC_DEFAULT_256);
    } else {
        load_dac(vga, 0, &DAC_EGA64);
    }
    let text = t.graphics[6] & 1 == 0;
    if mode & 0x80 == 0 {
        for cell in vga.mem.cells.iter_mut() {
            *cell = if text { [0x20, 0x07, cell[2], cell[3]] } else { [0; 4] };
        }
    }
    if text {
        vga.load_font(&FONT_8X16, 16);
    }
    vga.touch();
    true
}

/// Turns mode 03h into 80x50 text: the 8x8 font and 8-line character cells (Maximum Scan
/// Line 07h, cursor on lines 6-7), as INT 10h AX=1112h does.
pub fn set_80x50(vga: &mut Vga) {
    vga.load_font(&FONT_8X8, 8);
    let crtc = vga.crtc_port();
    for (i, v) in [(0x09u8, 0x47u8), (0x0A, 0x06), (0x0B, 0x07)] {
        vga.io_write(crtc, i);
        let old = vga.io_read(crtc + 1, crate::machine::clock::Tick(0));
        let v = if i == 0x09 { (old & 0xE0) | (v & 0x1F) } else { v };
        vga.io_write(crtc + 1, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dac_tables_match_known_entries() {
        assert_eq!(DAC_EGA64[0x14], [0x2A, 0x15, 0x00], "brown");
        assert_eq!(DAC_EGA64[0x38], [0x15, 0x15, 0x15], "dark grey");
        assert_eq!(DAC_EGA64[0x3F], [0x3F, 0x3F, 0x3F]);
        assert_eq!(DAC_DEFAULT_256[6], [0x2A, 0x15, 0x00]);
        assert_eq!(DAC_DEFAULT_256[31], [0x3F, 0x3F, 0x3F]);
        assert_eq!(DAC_DEFAULT_256[32], [0x00, 0x00, 0x3F], "blue");
        assert_eq!(DAC_DEFAULT_256[40], [0x3F, 0x00, 0x00], "red");
        assert_eq!(DAC_DEFAULT_256[48], [0x00, 0x3F, 0x00], "green");
        assert_eq!(DAC_DEFAULT_256[56], [0x1F, 0x1F, 0x3F]);
        assert_eq!(DAC_DEFAULT_256[247], [0x0B, 0x0C, 0x10]);
        assert_eq!(DAC_DEFAULT_256[248], [0, 0, 0]);
    }

    #[test]
    fn program_mode_sets_every_register() {
        for t in [&MODE_03H, &MODE_12H, &MODE_13H] {
            let mut v = Vga::new();
            program_mode(&mut v, t);
            assert_eq!(v.misc_output, t.misc_output);
            assert_eq!(v.seq.memory_mode, t.sequencer[4]);
            assert_eq!(v.seq.reset, 0x03);
            assert_eq!(v.crtc.vertical_retrace_end, t.crtc[0x11], "protect set again by the table");
            assert_eq!(v.crtc.horizontal_total, t.crtc[0]);
            assert_eq!(v.crtc.line_compare, 0xFF);
            assert_eq!(v.gc.miscellaneous, t.graphics[6]);
            assert_eq!(v.ac.mode_control, t.attribute[0x10]);
            assert_eq!(v.ac.palette[6], t.attribute[6]);
            assert!(v.display_enabled(), "mode {:02X}h", t.mode);
        }
    }
}
