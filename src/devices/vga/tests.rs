//! Whole-device tests: ports, CPU access through the window, and rendering of the standard
//! modes programmed from [`super::tables`].

use super::font::{FONT_8X8, FONT_8X16};
use super::tables::{DAC_DEFAULT_256, DAC_EGA64, set_80x50, set_mode};
use super::timing::Timing;
use super::*;

fn mode(m: u8) -> Vga {
    let mut v = Vga::new();
    assert!(set_mode(&mut v, m));
    v
}

fn rgb6([r, g, b]: [u8; 3]) -> u32 {
    let w = |c: u8| ((c as u32) << 2) | ((c as u32) >> 4);
    (w(r) << 16) | (w(g) << 8) | w(b)
}

/// The colour of text attribute nibble `n` in the standard 16-colour setup.
fn text_colour(n: u8) -> u32 {
    rgb6(DAC_EGA64[super::tables::MODE_03H.attribute[n as usize & 15] as usize])
}

fn gc_write(v: &mut Vga, index: u8, value: u8) {
    v.io_write(GC_ADDRESS, index);
    v.io_write(GC_DATA, value);
}

fn seq_write(v: &mut Vga, index: u8, value: u8) {
    v.io_write(SEQ_ADDRESS, index);
    v.io_write(SEQ_DATA, value);
}

fn crtc_write(v: &mut Vga, index: u8, value: u8) {
    let p = v.crtc_port();
    v.io_write(p, index);
    v.io_write(p + 1, value);
}

fn attr_write(v: &mut Vga, index: u8, value: u8) {
    let _ = v.io_read(v.crtc_port() + 6, Tick(0));
    v.io_write(ATTR_ADDRESS_DATA, index | 0x20);
    v.io_write(ATTR_ADDRESS_DATA, value);
}

/// A time inside frame `n` (past its first line).
fn in_frame(v: &Vga, n: u64) -> Tick {
    let t = v.timing();
    Tick((n * t.frame_ps() + 10 * t.line_ps) / 1000)
}

// ---- ports ----

#[test]
fn io_address_select_switches_crtc_ports() {
    let mut v = Vga::new();
    // Power on: I/OAS = 0, monochrome addresses.
    v.io_write(CRTC_ADDRESS_MONO, 0x0E);
    v.io_write(CRTC_DATA_MONO, 0x12);
    assert_eq!(v.crtc.cursor_location_high, 0x12);
    assert_eq!(v.io_read(CRTC_DATA_COLOR, Tick(0)), 0xFF, "colour set is dead");
    v.io_write(CRTC_DATA_COLOR, 0x34);
    assert_eq!(v.crtc.cursor_location_high, 0x12, "write to the dead set ignored");

    v.io_write(MISC_OUTPUT_WRITE, 0x67);
    assert_eq!(v.io_read(MISC_OUTPUT_READ, Tick(0)), 0x67);
    assert_eq!(v.io_read(CRTC_DATA_MONO, Tick(0)), 0xFF);
    assert_eq!(v.io_read(INPUT_STATUS_1_MONO, Tick(0)), 0xFF);
    v.io_write(CRTC_ADDRESS_COLOR, 0x0E);
    assert_eq!(v.io_read(CRTC_ADDRESS_COLOR, Tick(0)), 0x0E);
    assert_eq!(v.io_read(CRTC_DATA_COLOR, Tick(0)), 0x12);
    v.io_write16(CRTC_ADDRESS_COLOR, 0x560F); // index 0Fh, data 56h
    assert_eq!(v.crtc.cursor_location(), 0x1256);
    assert_eq!(v.io_read16(CRTC_ADDRESS_COLOR, Tick(0)), 0x560F);
    assert_eq!(v.io_read(0x3B0, Tick(0)), 0xFF);
    assert_eq!(v.io_read(0x3DF, Tick(0)), 0xFF);
}

#[test]
fn reading_input_status_1_resets_attribute_flip_flop() {
    let mut v = mode(0x03);
    let _ = v.io_read(INPUT_STATUS_1_COLOR, Tick(0));
    v.io_write(ATTR_ADDRESS_DATA, 0x31); // address 11h (overscan), PAS
    // Interrupted here, e.g. by an ISR that resets the flip-flop before its own access:
    let _ = v.io_read(INPUT_STATUS_1_COLOR, Tick(0));
    v.io_write(ATTR_ADDRESS_DATA, 0x32); // taken as an address, not as overscan data
    assert_eq!(v.ac.overscan_color, 0x00);
    v.io_write(ATTR_ADDRESS_DATA, 0x0E); // Color Plane Enable = 0Eh
    assert_eq!(v.ac.color_plane_enable, 0x0E);
    assert_eq!(v.io_read(ATTR_ADDRESS_DATA, Tick(0)), 0x32);
    assert_eq!(v.io_read(ATTR_DATA_READ, Tick(0)), 0x0E);
    // The mono Input Status port does not reset it while the colour set is live.
    v.io_write(ATTR_ADDRESS_DATA, 0x33);
    let _ = v.io_read(INPUT_STATUS_1_MONO, Tick(0));
    v.io_write(ATTR_ADDRESS_DATA, 0x05);
    assert_eq!(v.ac.horizontal_pixel_panning, 0x05);
}

#[test]
fn dac_ports_auto_increment() {
    let mut v = Vga::new();
    v.io_write(DAC_WRITE_INDEX, 0x10);
    for c in [0x3F, 0x20, 0x10, 0x01, 0x02, 0x03, 0x3F] {
        v.io_write(DAC_DATA, c);
    }
    assert_eq!(v.io_read(DAC_WRITE_INDEX, Tick(0)), 0x12, "two entries done");
    assert_eq!(v.io_read(DAC_READ_INDEX, Tick(0)), 0x00, "DAC state: write mode");
    v.io_write(DAC_READ_INDEX, 0x10);
    assert_eq!(v.io_read(DAC_READ_INDEX, Tick(0)), 0x03, "DAC state: read mode");
    let got: Vec<u8> = (0..6).map(|_| v.io_read(DAC_DATA, Tick(0))).collect();
    assert_eq!(got, [0x3F, 0x20, 0x10, 0x01, 0x02, 0x03]);
    assert_eq!(v.dac.palette[0x12], [0, 0, 0], "third entry incomplete");
    v.io_write(DAC_WRITE_INDEX, 0x12); // restarts at red
    for c in [0xFF, 0x00, 0x00] {
        v.io_write(DAC_DATA, c);
    }
    assert_eq!(v.dac.palette[0x12], [0x3F, 0, 0], "6-bit components");
    v.io_write(DAC_PEL_MASK, 0x0F);
    assert_eq!(v.io_read(DAC_PEL_MASK, Tick(0)), 0x0F);
}

#[test]
fn crtc_protect_through_ports() {
    let mut v = mode(0x03); // the table leaves Protect set (11h = 8Eh)
    crtc_write(&mut v, 0x01, 0x27);
    assert_eq!(v.crtc.end_horizontal_display, 0x4F, "protected");
    crtc_write(&mut v, 0x07, 0x00);
    assert_eq!(v.crtc.overflow, 0x0F, "only LC8 cleared");
    crtc_write(&mut v, 0x11, 0x0E);
    crtc_write(&mut v, 0x01, 0x27);
    assert_eq!(v.crtc.end_horizontal_display, 0x27);
}

// ---- timing ----

/// Counts rising edges of Input Status #1 bit 3 over one second, sampled every 10 µs.
fn retraces_per_second(v: &mut Vga) -> u32 {
    let mut edges = 0;
    let mut last = false;
    for i in 0..100_000u64 {
        let r = v.io_read(INPUT_STATUS_1_COLOR, Tick::from_micros(i * 10)) & 0x08 != 0;
        if r && !last {
            edges += 1;
        }
        last = r;
    }
    edges
}

#[test]
fn vertical_retrace_at_70_and_60_hz() {
    assert_eq!(retraces_per_second(&mut mode(0x03)), 70);
    assert_eq!(retraces_per_second(&mut mode(0x13)), 70);
    assert_eq!(retraces_per_second(&mut mode(0x12)), 60);
    let t = mode(0x12).timing();
    assert_eq!((t.v_total, t.v_display, t.v_retrace_start), (525, 480, 490));
    assert_eq!(Vga::new().timing(), Timing::FALLBACK, "unprogrammed: 70 Hz anyway");
}

#[test]
fn retrace_wait_loop_makes_progress() {
    // The classic "wait for the end of retrace, then its start" loop, at 20 MIPS.
    let mut v = Vga::new();
    let mut t = Tick(0);
    let step = Tick(50);
    while v.io_read(INPUT_STATUS_1_MONO, t) & 0x08 != 0 {
        t = t.saturating_add(step);
    }
    while v.io_read(INPUT_STATUS_1_MONO, t) & 0x08 == 0 {
        t = t.saturating_add(step);
    }
    assert!(t < Tick::from_millis(15), "{t:?}");
    assert_eq!(v.io_read(INPUT_STATUS_1_MONO, t) & 0x01, 0x01, "display disabled in retrace");
    assert_eq!(v.io_read(INPUT_STATUS_1_MONO, Tick(1000)) & 0x09, 0x00, "displaying at the top");
}

// ---- memory ----

#[test]
fn memory_map_select_windows() {
    let mut v = Vga::new();
    v.io_write(MISC_OUTPUT_WRITE, 0x02); // RAM enable
    seq_write(&mut v, 2, 0x0F);
    seq_write(&mut v, 4, 0x06); // no chain, no odd/even
    gc_write(&mut v, 8, 0xFF); // Bit Mask: the CPU byte, not the latches
    let cases = [
        (0u8, 0xA0000u32, 0xBFFFFu32, None),
        (1, 0xA0000, 0xAFFFF, Some(0xB0000u32)),
        (2, 0xB0000, 0xB7FFF, Some(0xB8000)),
        (3, 0xB8000, 0xBFFFF, Some(0xA0000)),
    ];
    for (map, first, last, outside) in cases {
        gc_write(&mut v, 6, map << 2);
        v.mem_write(first, 0x11);
        assert_eq!(v.mem_read(first), 0x11, "map {map}");
        assert_eq!(v.mem.plane(0, 0), 0x11);
        v.mem_write(last, 0x22);
        assert_eq!(v.mem_read(last), 0x22);
        if let Some(o) = outside {
            let gen_before = v.generation();
            v.mem_write(o, 0x33);
            assert_eq!(v.mem_read(o), 0xFF, "map {map}: {o:#x} is outside");
            assert_eq!(v.generation(), gen_before, "ignored write does not dirty");
        }
        v.mem = VideoMemory::default();
    }
    assert_eq!(v.mem_read(0x9FFFF), 0xFF);
    assert_eq!(v.mem_read(0xC0000), 0xFF);
    v.io_write(MISC_OUTPUT_WRITE, 0x00); // RAM disabled
    v.mem_write(0xA0000, 0x44);
    assert_eq!(v.mem_read(0xA0000), 0xFF);
    assert_eq!(v.mem.plane(0, 0), 0x00);
}

#[test]
fn chain4_addressing() {
    let mut v = mode(0x13);
    for i in 0..8u32 {
        v.mem_write(0xA0000 + i, 0x10 + i as u8);
    }
    assert_eq!(v.mem.cell(0), [0x10, 0x11, 0x12, 0x13]);
    assert_eq!(v.mem.cell(4), [0x14, 0x15, 0x16, 0x17]);
    assert_eq!(v.mem.cell(1), [0; 4], "three of four planar bytes unused");
    assert_eq!(v.mem_read(0xA0005), 0x15);
    assert_eq!(v.mem.latches, [0x14, 0x15, 0x16, 0x17], "a read loads all four latches");
    v.mem_write(0xAFFFF, 0x99);
    assert_eq!(v.mem.plane(3, 0xFFFC), 0x99);
}

#[test]
fn odd_even_addressing() {
    let mut v = mode(0x03);
    v.mem_write(0xB8002, b'X');
    v.mem_write(0xB8003, 0x4E);
    assert_eq!(v.mem.cell(2)[..2], [b'X', 0x4E]);
    assert_eq!(v.mem_read(0xB8002), b'X');
    assert_eq!(v.mem_read(0xB8003), 0x4E);
    // Read Map Select bit 1 moves odd/even reads to planes 2/3: the font.
    gc_write(&mut v, 4, 0x02);
    v.mem.set_plane(2, 2, 0xAB);
    assert_eq!(v.mem_read(0xB8002), 0xAB);
}

#[test]
fn read_modes_through_ports() {
    let mut v = mode(0x12);
    // Pixel 0 of byte 0 gets colour 9 (1001b) with write mode 2.
    gc_write(&mut v, 5, 0x02);
    gc_write(&mut v, 8, 0x80);
    let _ = v.mem_read(0xA0000);
    v.mem_write(0xA0000, 0x09);
    assert_eq!(v.mem.cell(0), [0x80, 0x00, 0x00, 0x80]);
    // Read mode 0: one plane by Read Map Select.
    gc_write(&mut v, 5, 0x00);
    for (plane, want) in [(0u8, 0x80u8), (1, 0), (2, 0), (3, 0x80)] {
        gc_write(&mut v, 4, plane);
        assert_eq!(v.mem_read(0xA0000), want);
    }
    // Read mode 1: where is colour 9? where is colour 0?
    gc_write(&mut v, 5, 0x08);
    gc_write(&mut v, 2, 0x09);
    assert_eq!(v.mem_read(0xA0000), 0x80);
    gc_write(&mut v, 2, 0x00);
    assert_eq!(v.mem_read(0xA0000), 0x7F);
    gc_write(&mut v, 7, 0x06); // care about planes 1, 2 only: every pixel has them 0
    assert_eq!(v.mem_read(0xA0000), 0xFF);
}

#[test]
fn write_modes_through_ports() {
    let mut v = mode(0x12);
    // Mode 0 with Set/Reset on all planes: colour 0Ch in the whole byte.
    gc_write(&mut v, 0, 0x0C);
    gc_write(&mut v, 1, 0x0F);
    v.mem_write(0xA0010, 0x00);
    assert_eq!(v.mem.cell(0x10), [0x00, 0x00, 0xFF, 0xFF]);
    gc_write(&mut v, 1, 0x00);
    // Mode 1 copies latches: read 0x10, write 0x20.
    gc_write(&mut v, 5, 0x01);
    let _ = v.mem_read(0xA0010);
    v.mem_write(0xA0020, 0x00);
    assert_eq!(v.mem.cell(0x20), [0x00, 0x00, 0xFF, 0xFF]);
    // Mode 3: Set/Reset colour 3, CPU byte as mask (bit mask FFh).
    gc_write(&mut v, 5, 0x03);
    gc_write(&mut v, 0, 0x03);
    let _ = v.mem_read(0xA0020);
    v.mem_write(0xA0020, 0xF0);
    assert_eq!(v.mem.cell(0x20), [0xF0, 0xF0, 0x0F, 0x0F]);
    // Map Mask keeps planes 2 and 3 out of the next write.
    gc_write(&mut v, 5, 0x00);
    seq_write(&mut v, 2, 0x03);
    v.mem_write(0xA0020, 0x55);
    assert_eq!(v.mem.cell(0x20), [0x55, 0x55, 0x0F, 0x0F]);
}

#[test]
fn load_font_uses_32_byte_slots() {
    let mut v = Vga::new();
    v.load_font(&FONT_8X16, 16);
    for ch in [0usize, b'A' as usize, 0xDB, 0xFF] {
        for row in 0..32 {
            let want = if row < 16 { FONT_8X16[ch * 16 + row] } else { 0 };
            assert_eq!(v.mem.plane(2, ch * 32 + row), want);
        }
    }
    v.load_font_map(5, &FONT_8X8, 8);
    assert_eq!(v.mem.plane(2, 0x6000 + b'A' as usize * 32 + 1), FONT_8X8[b'A' as usize * 8 + 1]);
    v.load_font(&[0xFF; 3], 0); // odd sizes are bounded, not trusted
    v.load_font(&[], 99);
}

// ---- text rendering ----

/// Checks one 9x16 cell of a mode 03h frame against the font.
fn assert_cell(f: &Frame, col: usize, row: usize, ch: u8, fg: u32, bg: u32, ninth_from_eighth: bool) {
    for r in 0..16 {
        let bits = FONT_8X16[ch as usize * 16 + r];
        for k in 0..9 {
            let on = if k < 8 { bits & (0x80 >> k) != 0 } else { ninth_from_eighth && bits & 1 != 0 };
            let want = if on { fg } else { bg };
            assert_eq!(f.pixel(col * 9 + k, row * 16 + r), Some(want), "char {ch:#x} dot {k} row {r}");
        }
    }
}

#[test]
fn text_char_renders_pixel_exact() {
    let mut v = mode(0x03);
    let cell = 0xB8000 + (2 * 80 + 5) * 2;
    v.mem_write(cell, b'A');
    v.mem_write(cell + 1, 0x1E); // yellow on blue
    v.mem_write(cell + 2, 0xC4); // box drawing: the 9th dot repeats the 8th
    v.mem_write(cell + 3, 0x1E);
    v.mem_write(cell + 4, 0xB3); // not C0h-DFh: 9th dot is background
    v.mem_write(cell + 5, 0x1E);
    crtc_write(&mut v, 0x0E, 0x0F); // cursor below the last row
    let f = v.render(in_frame(&v, 0));
    assert_eq!((f.width, f.height, f.x_repeat, f.y_repeat), (720, 400, 1, 1));
    let (yellow, blue) = (text_colour(0x0E), text_colour(0x01));
    assert_eq!(yellow, 0xFFFF55);
    assert_eq!(blue, 0x0000AA);
    assert_cell(&f, 5, 2, b'A', yellow, blue, false);
    assert_cell(&f, 6, 2, 0xC4, yellow, blue, true);
    assert_cell(&f, 7, 2, 0xB3, yellow, blue, false);
    assert_cell(&f, 0, 0, b' ', text_colour(7), text_colour(0), false);
    // LGE off: no 9th-dot extension.
    attr_write(&mut v, 0x10, 0x08);
    let f = v.render(in_frame(&v, 0));
    assert_cell(&f, 6, 2, 0xC4, yellow, blue, false);
    // 8-dot characters: 640 wide.
    seq_write(&mut v, 1, 0x01);
    let f = v.render(in_frame(&v, 0));
    assert_eq!(f.width, 640);
}

#[test]
fn text_screen_dump() {
    let mut v = mode(0x03);
    for (i, b) in b"Hello, VGA \x01\xC9\xCD\xBB".iter().enumerate() {
        v.mem_write(0xB8000 + 80 * 2 + i as u32 * 2, *b);
    }
    let s = v.text_screen();
    let lines: Vec<&str> = s.split('\n').collect();
    assert_eq!(lines.len(), 25);
    assert_eq!(lines[0], "");
    assert_eq!(lines[1], "Hello, VGA ☺╔═╗");
    assert_eq!(v.text_cell(0, 1), Some((b'H', 0x07)));
    assert_eq!(v.text_cell(80, 0), None);
    // Scrolling by Start Address (in character units in word mode).
    crtc_write(&mut v, 0x0D, 80);
    assert!(v.text_screen().starts_with("Hello"));
    assert_eq!(mode(0x13).text_screen(), "", "graphics mode");
}

#[test]
fn blink_attribute_and_cursor_timing() {
    let mut v = mode(0x03);
    v.mem_write(0xB8000, b'B');
    v.mem_write(0xB8001, 0xCF); // blinking bright white on red
    v.mem_write(0xB8002, b'C');
    v.mem_write(0xB8003, 0x07);
    crtc_write(&mut v, 0x0F, 0x01); // cursor on cell 1, lines 0Dh-0Eh
    let (white, red, grey, black) = (text_colour(0x0F), text_colour(0x04), text_colour(7), text_colour(0));
    let on = v.render(in_frame(&v, 0));
    assert_cell(&on, 0, 0, b'B', white, red, false);
    for k in 0..9 {
        assert_eq!(on.pixel(9 + k, 0x0D), Some(grey), "cursor line 13");
        assert_eq!(on.pixel(9 + k, 0x0E), Some(grey), "cursor line 14");
        assert_eq!(on.pixel(9 + k, 0x0F), Some(black), "below the cursor");
    }
    // Frame 8: cursor off, character still on.
    let f8 = v.render(in_frame(&v, 8));
    assert_cell(&f8, 1, 0, b'C', grey, black, false);
    assert_cell(&f8, 0, 0, b'B', white, red, false);
    // Frame 16: the blinking character shows only its background; the cursor is back.
    let f16 = v.render(in_frame(&v, 16));
    assert_cell(&f16, 0, 0, b' ', white, red, false);
    assert_eq!(f16.pixel(9, 0x0D), Some(grey));
    // Frame 32: on again.
    assert_eq!(v.render(in_frame(&v, 32)).checksum(), on.checksum());
    // BLINK off: bit 7 selects a bright background and nothing blinks.
    attr_write(&mut v, 0x10, 0x04);
    let bright = v.render(in_frame(&v, 16));
    assert_cell(&bright, 0, 0, b'B', white, text_colour(0x0C), false);
    // Cursor shape: start > end hides it, CD hides it.
    crtc_write(&mut v, 0x0A, 0x0F);
    let f = v.render(in_frame(&v, 0));
    assert_eq!(f.pixel(9, 0x0D), Some(black));
    crtc_write(&mut v, 0x0A, 0x20); // CD
    let f = v.render(in_frame(&v, 0));
    assert_eq!(f.pixel(9, 0x00), Some(black));
    crtc_write(&mut v, 0x0A, 0x00); // block cursor, all 9 dots of all 16 lines
    crtc_write(&mut v, 0x0B, 0x0F);
    let f = v.render(in_frame(&v, 0));
    for r in 0..16 {
        for k in 0..9 {
            assert_eq!(f.pixel(9 + k, r), Some(grey));
        }
    }
}

#[test]
fn text_80x50_with_8x8_font() {
    let mut v = mode(0x03);
    set_80x50(&mut v);
    assert_eq!(v.text_size(), Some((80, 50)));
    let cell = 0xB8000 + 49 * 160 + 79 * 2;
    v.mem_write(cell, b'Z');
    v.mem_write(cell + 1, 0x0A);
    let f = v.render(in_frame(&v, 0));
    assert_eq!((f.width, f.height), (720, 400));
    for r in 0..8 {
        let bits = FONT_8X8[b'Z' as usize * 8 + r];
        for k in 0..8 {
            let want = if bits & (0x80 >> k) != 0 { text_colour(0x0A) } else { text_colour(0) };
            assert_eq!(f.pixel(79 * 9 + k, 49 * 8 + r), Some(want));
        }
    }
    assert_eq!(v.text_screen().lines().count(), 50);
    assert!(v.text_screen().ends_with('Z'));
}

// ---- graphics rendering ----

#[test]
fn mode_13h_pixel() {
    let mut v = mode(0x13);
    let (x, y) = (123u32, 45u32);
    v.mem_write(0xA0000 + y * 320 + x, 40); // default palette 40: bright red
    v.mem_write(0xA0000 + 199 * 320 + 319, 32); // last pixel: blue
    let f = v.render(Tick(0));
    assert_eq!((f.width, f.height, f.x_repeat, f.y_repeat), (320, 200, 2, 2));
    assert_eq!(f.display_size(), (640, 400));
    assert_eq!(f.pixel(123, 45), Some(0xFF0000));
    assert_eq!(f.pixel(122, 45), Some(0));
    assert_eq!(f.pixel(123, 44), Some(0));
    assert_eq!(f.pixel(319, 199), Some(rgb6(DAC_DEFAULT_256[32])));
    // PEL Mask and DAC changes show up.
    v.io_write(DAC_WRITE_INDEX, 40);
    for c in [0x00, 0x3F, 0x00] {
        v.io_write(DAC_DATA, c);
    }
    assert_eq!(v.render(Tick(0)).pixel(123, 45), Some(0x00FF00));
}

#[test]
fn mode_12h_planar_pixel() {
    let mut v = mode(0x12);
    let (x, y, colour) = (301u32, 417u32, 0x0Bu8);
    // Write mode 2, bit mask for one pixel, latch load by a read first (as a BIOS does).
    gc_write(&mut v, 5, 0x02);
    gc_write(&mut v, 8, 0x80 >> (x % 8));
    let a = 0xA0000 + y * 80 + x / 8;
    let _ = v.mem_read(a);
    v.mem_write(a, colour);
    let f = v.render(Tick(0));
    assert_eq!((f.width, f.height, f.x_repeat, f.y_repeat), (640, 480, 1, 1));
    assert_eq!(f.pixel(301, 417), Some(0x55FFFF), "light cyan");
    assert_eq!(f.pixel(300, 417), Some(0));
    assert_eq!(f.pixel(302, 417), Some(0));
    assert_eq!(f.pixels.iter().filter(|&&p| p != 0).count(), 1);
    // Color Plane Enable drops plane 3: the pixel becomes cyan (3).
    attr_write(&mut v, 0x12, 0x07);
    assert_eq!(v.render(Tick(0)).pixel(301, 417), Some(0x00AAAA));
}

#[test]
fn panning_and_split_screen() {
    let mut v = mode(0x12);
    for y in 0..480u32 {
        v.mem.set_plane(0, (y * 80) as usize, 0x80); // pixel (0, y) colour 1
    }
    v.mem.set_plane(0, 0x8000, 0xFF);
    crtc_write(&mut v, 0x0C, 0x80); // Start Address 8000h
    crtc_write(&mut v, 0x18, 99); // split after line 99 (LC8 and LC9 cleared)
    crtc_write(&mut v, 0x07, 0x2E);
    crtc_write(&mut v, 0x09, 0x00);
    assert_eq!(v.crtc.line_compare(), 99);
    let f = v.render(Tick(0));
    assert_eq!(f.pixel(0, 0), Some(0x0000AA), "from 8000h");
    assert_eq!(f.pixel(7, 0), Some(0x0000AA));
    assert_eq!(f.pixel(7, 99), Some(0));
    assert_eq!(f.pixel(0, 100), Some(0x0000AA), "split: address 0 again");
    assert_eq!(f.pixel(1, 100), Some(0));
    crtc_write(&mut v, 0x0C, 0x00);
    crtc_write(&mut v, 0x18, 0xFF);
    attr_write(&mut v, 0x13, 0x01); // pan one pixel left
    let f = v.render(Tick(0));
    assert_eq!(f.pixel(0, 5), Some(0));
    assert_eq!(f.pixel(639, 5), Some(0x0000AA), "the next row's first pixel shifts in");
}

#[test]
fn blank_display_states() {
    let mut v = mode(0x13);
    v.mem_write(0xA0000, 15);
    assert_ne!(v.render(Tick(0)).pixel(0, 0), Some(0));
    let _ = v.io_read(INPUT_STATUS_1_COLOR, Tick(0));
    v.io_write(ATTR_ADDRESS_DATA, 0x00); // address 0 with PAS cleared: display blanked
    assert_eq!(v.render(Tick(0)).pixel(0, 0), Some(0));
    v.io_write(ATTR_ADDRESS_DATA, 0x00); // data: palette 0
    v.io_write(ATTR_ADDRESS_DATA, 0x20);
    assert_ne!(v.render(Tick(0)).pixel(0, 0), Some(0));
    seq_write(&mut v, 1, 0x21); // Screen Disable
    let f = v.render(Tick(0));
    assert_eq!((f.width, f.height), (320, 200), "size kept");
    assert!(f.pixels.iter().all(|&p| p == 0));
    let unprogrammed = Vga::new().render(Tick(0));
    assert!(unprogrammed.pixels.iter().all(|&p| p == 0));
}

// ---- dirty tracking ----

#[test]
fn render_into_only_when_something_changed() {
    let mut v = mode(0x13);
    let mut f = Frame::new();
    assert!(v.render_into(Tick(0), &mut f));
    let serial = f.serial;
    assert!(!v.needs_render(Tick::from_secs(5), &f), "graphics: time alone changes nothing");
    assert!(!v.render_into(Tick::from_secs(5), &mut f));
    let _ = v.mem_read(0xA0000);
    let _ = v.io_read(INPUT_STATUS_1_COLOR, Tick(0));
    assert!(!v.render_into(Tick(0), &mut f), "reads never dirty");
    v.mem_write(0xA0000, 1);
    assert!(v.render_into(Tick(0), &mut f));
    assert_eq!(f.serial, serial + 1);
    v.io_write(DAC_PEL_MASK, 0xFE);
    assert!(v.render_into(Tick(0), &mut f));

    let v = mode(0x03);
    let mut f = Frame::new();
    assert!(v.render_into(in_frame(&v, 0), &mut f));
    assert!(!v.render_into(in_frame(&v, 7), &mut f), "same blink phases");
    assert!(v.render_into(in_frame(&v, 8), &mut f), "cursor phase changed");
}

#[test]
fn checksum_tracks_pixels() {
    let mut v = mode(0x13);
    let a = v.render(Tick(0));
    assert_eq!(a.checksum(), v.render(Tick(0)).checksum());
    v.mem_write(0xA0000 + 1000, 7);
    let b = v.render(Tick(0));
    assert_ne!(a.checksum(), b.checksum());
    assert_ne!(Frame::new().checksum(), a.checksum());
}

// ---- robustness ----

#[test]
fn random_guest_values_never_panic() {
    let mut v = mode(0x03);
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut frame = Frame::new();
    for i in 0..60_000u32 {
        let r = rnd();
        let port = 0x3B0 + (r % 0x30) as u16;
        match (r >> 8) % 5 {
            0 => v.io_write(port, (r >> 16) as u8),
            1 => {
                let _ = v.io_read(port, Tick(r >> 20));
            }
            2 => v.mem_write(0x9_0000 + ((r >> 16) % 0x4_0000) as u32, (r >> 40) as u8),
            3 => {
                let _ = v.mem_read(0x9_0000 + ((r >> 16) % 0x4_0000) as u32);
            }
            _ => v.io_write16(port, (r >> 16) as u16),
        }
        if i % 6000 == 0 {
            v.render_into(Tick(r >> 24), &mut frame);
            assert_eq!(frame.pixels.len(), frame.width * frame.height);
            let _ = v.text_screen();
        }
    }
    // Extreme geometry: every CRTC register at its maximum.
    v.io_write(MISC_OUTPUT_WRITE, 0x01);
    crtc_write(&mut v, 0x11, 0x00);
    for i in 0..0x19 {
        crtc_write(&mut v, i, 0xFF);
    }
    for mode_byte in [0x00u8, 0x01, 0x40, 0x41, 0x60] {
        gc_write(&mut v, 6, mode_byte & 1);
        gc_write(&mut v, 5, mode_byte);
        attr_write(&mut v, 0x10, mode_byte);
        attr_write(&mut v, 0x13, 0x0F);
        let f = v.render(Tick::from_secs(1));
        assert!(f.width <= 256 * 9 && f.height <= 1024 && f.pixels.len() == f.width * f.height);
    }
}
