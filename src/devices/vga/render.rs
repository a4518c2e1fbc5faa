//! The renderer: video memory and registers to an RGB frame, one scan line at a time, the way
//! the CRTC, Sequencer, Graphics Controller serializer, Attribute Controller and DAC do it
//! (IBM VGA TR, "Video Subsystem" block diagram; FreeVGA "VGA Display Generation").
//!
//! For each displayed scan line the CRTC's row start address (Start Address + Byte Panning,
//! advancing by 2 x Offset after each character row of Maximum Scan Line + 1 lines, each line
//! twice when SD is set, and restarting at 0 after the Line Compare line) and row scan counter
//! (from Preset Row Scan) are stepped; for each character clock the memory address counter is
//! mapped to a planar address ([`super::regs::Crtc::planar_address`]) and the four plane bytes
//! there are serialized into dots:
//! - **alphanumeric** (Graphics Controller Alpha Dis. = 0): plane 0 is the character, plane 1
//!   its attribute, plane 2 the font (32 bytes per glyph, Character Map Select A/B by attribute
//!   bit 3). 8 or 9 dots per character (the 9th repeats the 8th for C0h-DFh when LGE is set,
//!   else it is background). The attribute's low nibble is the foreground and the high nibble
//!   the background; with BLINK set, bit 7 blinks the foreground instead (every 16 frames)
//!   and the background has 8 colours. The cursor (Cursor Location, Cursor Start/End scan lines,
//!   Cursor Skew, CD) blinks every 8 frames; the underline (Underline Location, attribute
//!   x000x001b) is drawn in the foreground colour.
//! - **planar graphics**: bit 7-i of planes 0-3 forms dot i; with Shift Reg. set, 2-bit pixels
//!   come from planes 0/2 then 1/3 (CGA 4-colour modes); with Shift256 set, each plane byte
//!   gives two 4-bit dots (high nibble first).
//!
//! Dots are shifted by Horizontal Pixel Panning, then the Attribute Controller turns them
//! into DAC indices: through Color Plane Enable and the palette registers
//! ([`AttributeController::dac_index`](super::regs::AttributeController::dac_index)), or with
//! 8BIT set by pairing two dots into one 8-bit index (the palette registers are bypassed, as in
//! QEMU and Bochs). The DAC (with PEL Mask) gives the colour. While the Sequencer is in reset, SD (Screen Disable) is set or PAS is 0
//! the frame is black.
//!
//! The frame covers the active display area only (no overscan border). Its pixels are the
//! guest's distinct pixels: a dot-doubled mode (DCR, or 8BIT's two dots per pixel) has
//! `x_repeat` 2, and a line-doubled graphics mode (SD, or Maximum Scan Line > 0 without CGA
//! interleave) has `y_repeat` 2 or more, so mode 13h is a 320x200 frame shown at 640x400. A
//! front end scales by those factors (all standard modes then fill a 4:3 screen).
//!
//! Not modelled: Shift Four/Shift-Load Rate, DIV2/DIV4 and SLDIV, the overscan border,
//! Display Enable Skew, the MONO attribute mode's intensity rules, Video Status MUX, and mid-
//! frame register changes (a frame is rendered from the state at the time of the call).

use super::Vga;
use super::font::CP437;
use super::timing::{ATTRIBUTE_BLINK_FRAMES, CURSOR_BLINK_FRAMES, Timing};
use crate::machine::clock::Tick;

/// A rendered picture: `width` x `height` pixels of 0x00RRGGBB, row-major.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    /// Display dots per frame pixel horizontally (2 for 320-pixel modes).
    pub x_repeat: usize,
    /// Display lines per frame pixel vertically (2 for 200-line modes).
    pub y_repeat: usize,
    /// `width * height` pixels, 0x00RRGGBB.
    pub pixels: Vec<u32>,
    /// Incremented every time [`Vga::render_into`] redraws this frame: a front end presents
    /// only when it changed.
    pub serial: u64,
    /// What the pixels were rendered from.
    key: Option<RenderKey>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("x_repeat", &self.x_repeat)
            .field("y_repeat", &self.y_repeat)
            .field("serial", &self.serial)
            .field("checksum", &format_args!("{:#018x}", self.checksum()))
            .finish()
    }
}

impl Frame {
    /// An empty frame (0 x 0) that the first [`Vga::render_into`] fills.
    pub fn new() -> Frame {
        Frame::default()
    }
    /// The pixel at (x, y), if inside.
    pub fn pixel(&self, x: usize, y: usize) -> Option<u32> {
        if x < self.width && y < self.height { self.pixels.get(y * self.width + x).copied() } else { None }
    }
    /// The size on the display: (width x x_repeat, height x y_repeat), e.g. 640x400 for mode 13h.
    pub fn display_size(&self) -> (usize, usize) {
        (self.width * self.x_repeat, self.height * self.y_repeat)
    }
    /// FNV-1a over the size and the pixels: a stable fingerprint for tests.
    pub fn checksum(&self) -> u64 {
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        let mut eat = |v: u32| {
            for b in v.to_le_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01B3);
            }
        };
        eat(self.width as u32);
        eat(self.height as u32);
        for &p in &self.pixels {
            eat(p);
        }
        h
    }
}

/// The inputs of a rendering: if they are unchanged, so is the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RenderKey {
    generation: u64,
    /// Attribute blink and cursor blink phases (text modes only; 0 in graphics).
    blink: u8,
}

/// The display geometry the registers describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Alphanumeric (text) mode.
    pub text: bool,
    /// Character clocks per line and dots per character clock.
    pub chars: usize,
    pub dots_per_char: usize,
    /// Displayed scan lines.
    pub lines: usize,
    /// Two dots form one 8-bit pixel (Attribute Mode Control 8BIT, graphics only).
    pub eight_bit: bool,
    pub x_repeat: usize,
    pub y_repeat: usize,
    pub width: usize,
    pub height: usize,
}

impl Vga {
    /// The display geometry the registers describe now.
    pub fn geometry(&self) -> Geometry {
        let text = !self.gc.graphics_mode_enabled();
        let chars = self.crtc.horizontal_display_chars();
        let dots_per_char = if text { self.seq.char_width() } else { 8 };
        let lines = self.crtc.vertical_display_end();
        let eight_bit = !text && self.ac.eight_bit();
        let dots = chars * dots_per_char;
        let x_repeat = (if eight_bit { 2 } else { 1 }) * (if self.seq.dot_clock_halved() { 2 } else { 1 });
        let mut y_repeat = if self.crtc.scan_doubling() { 2 } else { 1 };
        let interleave = self.crtc.mode_control & 3 != 3; // MAP13/MAP14 substitute row scan bits
        if !text && !interleave {
            y_repeat *= self.crtc.max_scan() as usize + 1;
        }
        Geometry {
            text,
            chars,
            dots_per_char,
            lines,
            eight_bit,
            x_repeat,
            y_repeat,
            width: if eight_bit { dots / 2 } else { dots },
            height: lines.div_ceil(y_repeat),
        }
    }

    /// Whether the display shows memory (sequencer running, screen enabled, PAS set).
    pub fn display_enabled(&self) -> bool {
        self.seq.running() && !self.seq.screen_disabled() && self.ac.palette_address_source()
    }

    fn render_key(&self, now: Tick) -> RenderKey {
        let blink = if self.gc.graphics_mode_enabled() {
            0
        } else {
            let frame = Timing::of(self).frame_number(now);
            let attr = (frame / ATTRIBUTE_BLINK_FRAMES) & 1;
            let cursor = (frame / CURSOR_BLINK_FRAMES) & 1;
            (attr << 1 | cursor) as u8
        };
        RenderKey { generation: self.generation, blink }
    }

    /// Whether [`Vga::render_into`] would redraw `frame` at `now`.
    pub fn needs_render(&self, now: Tick, frame: &Frame) -> bool {
        frame.key != Some(self.render_key(now))
    }

    /// Renders the picture at guest time `now` (blink phases come from it).
    pub fn render(&self, now: Tick) -> Frame {
        let mut f = Frame::new();
        self.render_into(now, &mut f);
        f
    }

    /// Renders into `frame`, reusing its buffer; does nothing and returns false if neither video
    /// memory, registers nor the blink phase changed since `frame` was last rendered.
    pub fn render_into(&self, now: Tick, frame: &mut Frame) -> bool {
        let key = self.render_key(now);
        if frame.key == Some(key) {
            return false;
        }
        let g = self.geometry();
        frame.width = g.width;
        frame.height = g.height;
        frame.x_repeat = g.x_repeat;
        frame.y_repeat = g.y_repeat;
        frame.pixels.clear();
        frame.pixels.resize(g.width * g.height, 0);
        frame.key = Some(key);
        frame.serial = frame.serial.wrapping_add(1);
        if self.display_enabled() {
            self.draw(&g, key.blink, &mut frame.pixels);
        }
        true
    }

    fn draw(&self, g: &Geometry, blink: u8, pixels: &mut [u32]) {
        let c = &self.crtc;
        let lut16: [u32; 16] = std::array::from_fn(|d| self.dac.rgb(self.ac.dac_index(d as u8)));
        let hpp = self.ac.horizontal_pixel_panning & 0x0F;
        let pan_dots = if g.eight_bit {
            2 * ((hpp as usize >> 1) & 3)
        } else if g.text && g.dots_per_char == 9 {
            if hpp >= 8 { 0 } else { hpp as usize + 1 }
        } else {
            hpp as usize & 7
        };
        let mut dots = vec![0u8; (g.chars + 1) * g.dots_per_char];
        let mut row_start = c.start_address().wrapping_add(c.byte_panning());
        let mut row_scan = c.preset_row();
        let mut second_of_pair = false;
        let mut pan = pan_dots;
        let line_compare = c.line_compare();
        for y in 0..g.lines {
            if y % g.y_repeat == 0 {
                let out_y = y / g.y_repeat;
                if g.text {
                    self.text_line(g, row_start, row_scan, blink, &mut dots);
                } else {
                    self.graphics_line(g, row_start, row_scan, &mut dots);
                }
                let row = &mut pixels[out_y * g.width..(out_y + 1) * g.width];
                if g.eight_bit {
                    for (x, px) in row.iter_mut().enumerate() {
                        let i = pan + 2 * x;
                        *px = self.dac.rgb(dots[i] << 4 | (dots[i + 1] & 0x0F));
                    }
                } else {
                    for (x, px) in row.iter_mut().enumerate() {
                        *px = lut16[(dots[pan + x] & 0x0F) as usize];
                    }
                }
            }
            // End of the scan line: the CRTC's counters move on.
            if y == line_compare {
                row_start = 0;
                row_scan = 0;
                second_of_pair = false;
                if self.ac.pixel_panning_mode() {
                    pan = 0;
                }
                continue;
            }
            if c.scan_doubling() {
                second_of_pair = !second_of_pair;
                if second_of_pair {
                    continue;
                }
            }
            if row_scan >= c.max_scan() {
                row_scan = 0;
                row_start = row_start.wrapping_add(c.row_advance());
            } else {
                row_scan += 1;
            }
        }
    }

    /// Dots of one text scan line, for `chars + 1` character clocks (the extra one feeds
    /// panning).
    fn text_line(&self, g: &Geometry, row_start: u16, row_scan: u8, blink: u8, dots: &mut [u8]) {
        let c = &self.crtc;
        let blink_enabled = self.ac.blink_enabled();
        let attr_blink_on = blink & 2 == 0;
        let cursor_on = blink & 1 == 0
            && !c.cursor_disabled()
            && c.cursor_scan_start() <= c.cursor_scan_end()
            && (c.cursor_scan_start()..=c.cursor_scan_end()).contains(&row_scan);
        let cursor_ma = c.cursor_location().wrapping_add(c.cursor_skew());
        let underline = row_scan == c.underline_scan();
        let (map_a, map_b) = (self.seq.char_map_a_offset(), self.seq.char_map_b_offset());
        let lge = self.ac.line_graphics();
        let w = g.dots_per_char;
        for (i, out) in dots.chunks_exact_mut(w).enumerate() {
            let ma = row_start.wrapping_add(i as u16);
            let [ch, attr, _, _] = self.mem.cell(c.planar_address(ma, row_scan));
            let font = if attr & 0x08 != 0 { map_a } else { map_b };
            let mut bits = self.mem.plane(2, font + ch as usize * 32 + (row_scan & 0x1F) as usize);
            let fg = attr & 0x0F;
            let bg = if blink_enabled { (attr >> 4) & 0x07 } else { attr >> 4 };
            let mut fill = underline && attr & 0x77 == 0x01;
            if blink_enabled && attr & 0x80 != 0 && !attr_blink_on {
                bits = 0;
                fill = false;
            }
            if cursor_on && ma == cursor_ma {
                fill = true;
            }
            if fill {
                bits = 0xFF;
            }
            for (k, d) in out.iter_mut().take(8).enumerate() {
                *d = if bits & (0x80 >> k) != 0 { fg } else { bg };
            }
            if w == 9 {
                let ninth = fill || (lge && (0xC0..=0xDF).contains(&ch) && bits & 1 != 0);
                out[8] = if ninth { fg } else { bg };
            }
        }
    }

    /// Dots of one graphics scan line, for `chars + 1` character clocks.
    fn graphics_line(&self, g: &Geometry, row_start: u16, row_scan: u8, dots: &mut [u8]) {
        let c = &self.crtc;
        let shift256 = self.gc.shift256();
        let interleave = self.gc.shift_interleave();
        debug_assert_eq!(g.dots_per_char, 8);
        for (i, out) in dots.chunks_exact_mut(8).enumerate() {
            let ma = row_start.wrapping_add(i as u16);
            let [p0, p1, p2, p3] = self.mem.cell(c.planar_address(ma, row_scan));
            if shift256 {
                for (k, b) in [p0, p1, p2, p3].into_iter().enumerate() {
                    out[2 * k] = b >> 4;
                    out[2 * k + 1] = b & 0x0F;
                }
            } else if interleave {
                for k in 0..4 {
                    let s = 6 - 2 * k;
                    out[k] = ((p0 >> s) & 3) | (((p2 >> s) & 3) << 2);
                    out[k + 4] = ((p1 >> s) & 3) | (((p3 >> s) & 3) << 2);
                }
            } else {
                for (k, d) in out.iter_mut().enumerate() {
                    let s = 7 - k;
                    *d = ((p0 >> s) & 1) | (((p1 >> s) & 1) << 1) | (((p2 >> s) & 1) << 2) | (((p3 >> s) & 1) << 3);
                }
            }
        }
    }

    /// Text geometry: (columns, rows), or `None` in a graphics mode.
    pub fn text_size(&self) -> Option<(usize, usize)> {
        if self.gc.graphics_mode_enabled() {
            return None;
        }
        let cell_lines = (self.crtc.max_scan() as usize + 1) * if self.crtc.scan_doubling() { 2 } else { 1 };
        Some((self.crtc.horizontal_display_chars(), self.crtc.vertical_display_end() / cell_lines))
    }

    /// The (character, attribute) of the displayed text cell at column `col`, row `row`
    /// (from the Start Address; Line Compare and Preset Row Scan are ignored).
    pub fn text_cell(&self, col: usize, row: usize) -> Option<(u8, u8)> {
        let (cols, rows) = self.text_size()?;
        if col >= cols || row >= rows {
            return None;
        }
        let c = &self.crtc;
        let ma = c
            .start_address()
            .wrapping_add(c.byte_panning())
            .wrapping_add((row as u16).wrapping_mul(c.row_advance()))
            .wrapping_add(col as u16);
        let [ch, attr, _, _] = self.mem.cell(c.planar_address(ma, 0));
        Some((ch, attr))
    }

    /// The displayed text as Unicode (code page 437), one line per row with trailing spaces
    /// removed; empty in graphics modes. For tests and the debugger.
    pub fn text_screen(&self) -> String {
        let Some((cols, rows)) = self.text_size() else {
            return String::new();
        };
        let mut s = String::with_capacity(rows * (cols + 1));
        for row in 0..rows {
            let line: String =
                (0..cols).map(|col| CP437[self.text_cell(col, row).map_or(0, |(ch, _)| ch) as usize]).collect();
            s.push_str(line.trim_end_matches(' '));
            if row + 1 < rows {
                s.push('\n');
            }
        }
        s
    }
}
