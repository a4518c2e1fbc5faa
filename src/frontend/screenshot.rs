//! Screenshots: the VGA picture as a person sees it, and PNG files of it.
//!
//! The VGA renderer's [`Frame`] holds the guest's distinct pixels (320x200 in mode 13h) and how
//! many display dots and lines each one covers (`x_repeat`, `y_repeat`). A screenshot is the
//! picture at the guest's **display** size, each frame pixel repeated that many times: 720x400
//! for the 80x25 text mode, 640x400 for mode 13h (so its pixels keep the 4:3 screen's aspect, as
//! on a monitor), 640x480 for mode 12h. It does not depend on the window's `--scale`: the window
//! shows exactly this image, enlarged by that whole factor ([`scale_into`] with `scale` 1 is the
//! screenshot).

use crate::devices::vga::Frame;
use crate::machine::Machine;
use std::path::{Path, PathBuf};

/// The size shown when the VGA shows nothing (before the BIOS sets a mode): 720x400 (the size of
/// the text mode a BIOS sets first), black.
pub const BLANK_SIZE: (usize, usize) = (720, 400);

/// The display size of `frame` (frame pixels times their repeat factors), or [`BLANK_SIZE`]
/// when the frame is empty.
pub fn display_size(frame: &Frame) -> (usize, usize) {
    let (w, h) = (frame.width * frame.x_repeat.max(1), frame.height * frame.y_repeat.max(1));
    if w == 0 || h == 0 || frame.pixels.len() < frame.width * frame.height { BLANK_SIZE } else { (w, h) }
}

/// Draws `frame` into `out` at its display size times `scale` (nearest neighbour, whole
/// factors only, so every guest pixel becomes the same block of host pixels). Returns the
/// picture's width and height; `out` holds `width * height` pixels of 0x00RRGGBB.
pub fn scale_into(frame: &Frame, scale: usize, out: &mut Vec<u32>) -> (usize, usize) {
    let scale = scale.max(1);
    let (dw, dh) = display_size(frame);
    let (w, h) = (dw * scale, dh * scale);
    out.clear();
    if frame.width == 0 || frame.height == 0 || frame.pixels.len() < frame.width * frame.height {
        out.resize(w * h, 0);
        return (w, h);
    }
    let xs = frame.x_repeat.max(1) * scale;
    let ys = frame.y_repeat.max(1) * scale;
    out.reserve(w * h);
    for row in frame.pixels.chunks_exact(frame.width) {
        let start = out.len();
        for &p in row {
            out.extend(std::iter::repeat_n(p, xs));
        }
        for _ in 1..ys {
            out.extend_from_within(start..start + w);
        }
    }
    (w, h)
}

/// A picture: `width * height` pixels of 0x00RRGGBB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u32>,
}

impl Image {
    /// The screenshot of `frame` (its display size, see the module doc).
    pub fn of_frame(frame: &Frame) -> Image {
        let mut pixels = Vec::new();
        let (width, height) = scale_into(frame, 1, &mut pixels);
        Image { width, height, pixels }
    }

    /// What the machine's VGA shows now (rendered at the machine's guest time).
    pub fn of_machine(m: &Machine) -> Image {
        let mut frame = Frame::new();
        m.bus.vga.render_into(m.now(), &mut frame);
        Image::of_frame(&frame)
    }

    /// The PNG file's bytes (8-bit RGB).
    pub fn to_png(&self) -> Result<Vec<u8>, String> {
        let mut bytes = Vec::new();
        let mut enc = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        let rgb: Vec<u8> = self.pixels.iter().flat_map(|&p| [(p >> 16) as u8, (p >> 8) as u8, p as u8]).collect();
        w.write_image_data(&rgb).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
        Ok(bytes)
    }

    /// Writes the PNG file. The error names the file.
    pub fn save_png(&self, path: &Path) -> Result<(), String> {
        let bytes = self.to_png().map_err(|e| format!("{}: cannot encode the PNG: {e}", path.display()))?;
        std::fs::write(path, bytes).map_err(|e| format!("{}: cannot write the screenshot: {e}", path.display()))
    }

    /// Decodes an 8-bit RGB or RGBA PNG (what [`Image::to_png`] writes, and what tests read).
    pub fn from_png(bytes: &[u8]) -> Result<Image, String> {
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut r = dec.read_info().map_err(|e| e.to_string())?;
        let mut buf = vec![0; r.output_buffer_size().ok_or("PNG too large")?];
        let info = r.next_frame(&mut buf).map_err(|e| e.to_string())?;
        let n = match (info.color_type, info.bit_depth) {
            (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
            (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
            other => return Err(format!("unsupported PNG format {other:?}")),
        };
        let pixels = buf[..info.buffer_size()]
            .chunks_exact(n)
            .map(|c| (c[0] as u32) << 16 | (c[1] as u32) << 8 | c[2] as u32)
            .collect();
        Ok(Image { width: info.width as usize, height: info.height as usize, pixels })
    }

    /// The pixel at (x, y), if inside.
    pub fn pixel(&self, x: usize, y: usize) -> Option<u32> {
        (x < self.width && y < self.height).then(|| self.pixels[y * self.width + x])
    }
}

/// The first `x86lab-screenshot-N.png` (N = 1, 2, ...) in `dir` that does not exist yet.
pub fn next_free_name(dir: &Path) -> PathBuf {
    (1u32..)
        .map(|n| dir.join(format!("x86lab-screenshot-{n}.png")))
        .find(|p| !p.exists())
        .expect("some screenshot number is free")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::vga::{Vga, tables};
    use crate::machine::clock::Tick;

    fn frame(width: usize, height: usize, xr: usize, yr: usize, pixels: Vec<u32>) -> Frame {
        let mut f = Frame::new();
        (f.width, f.height, f.x_repeat, f.y_repeat, f.pixels) = (width, height, xr, yr, pixels);
        f
    }

    #[test]
    fn scaling_repeats_pixels_by_the_frame_factors_times_the_scale() {
        let f = frame(2, 1, 2, 2, vec![0x112233, 0x445566]);
        let mut out = Vec::new();
        assert_eq!(scale_into(&f, 1, &mut out), (4, 2));
        assert_eq!(out, [0x112233, 0x112233, 0x445566, 0x445566].repeat(2));
        assert_eq!(scale_into(&f, 3, &mut out), (12, 6));
        assert_eq!(out.len(), 72);
        assert_eq!(out[5], 0x112233);
        assert_eq!(out[6], 0x445566);
        assert_eq!(out[5 * 12 + 11], 0x445566);
    }

    #[test]
    fn an_empty_frame_is_a_black_blank_screen() {
        let mut out = vec![7; 3];
        assert_eq!(scale_into(&Frame::new(), 2, &mut out), (1440, 800));
        assert!(out.iter().all(|&p| p == 0) && out.len() == 1440 * 800);
    }

    #[test]
    fn png_round_trip_of_mode_13h_keeps_the_aspect() {
        let mut vga = Vga::new();
        assert!(tables::set_mode(&mut vga, 0x13));
        for x in 0..320u32 {
            vga.mem_write(0xA0000 + x, (x % 16) as u8); // the first line: the 16 EGA colours
        }
        let img = Image::of_frame(&vga.render(Tick(0)));
        assert_eq!((img.width, img.height), (640, 400));
        let back = Image::from_png(&img.to_png().unwrap()).unwrap();
        assert_eq!(back, img);
        assert_eq!(back.pixel(0, 0), Some(0x000000));
        assert_eq!(back.pixel(2, 1), Some(0x0000AA), "pixel 1 is blue, 2x2 dots");
        assert_eq!(back.pixel(2 * 15, 0), Some(0xFFFFFF));
        assert_eq!(back.pixel(0, 2), Some(0x000000), "line 1 is black");
    }

    #[test]
    fn free_names_count_up() {
        let dir = std::env::temp_dir().join(format!("x86lab-shot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = next_free_name(&dir);
        assert!(a.ends_with("x86lab-screenshot-1.png"));
        std::fs::write(&a, b"x").unwrap();
        assert!(next_free_name(&dir).ends_with("x86lab-screenshot-2.png"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
