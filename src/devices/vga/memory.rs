//! Video memory: four 64 KiB planes, the four latches, and the CPU's path to them through the
//! Graphics Controller and the Sequencer (IBM VGA Technical Reference, "Graphics Controller
//! Registers" and "Sequencer Memory Mode"; FreeVGA "VGA Memory Organization" and "Read/Write
//! Modes").
//!
//! How a CPU access in the window reaches the planes:
//! - **Address**: the window Memory Map Select chooses (A0000h/128K, A0000h/64K, B0000h/32K or
//!   B8000h/32K); outside it reads return 0xFF and writes are dropped, as they are while the
//!   Miscellaneous Output register's RAM Enable bit is 0. The offset in the window becomes a
//!   planar address and a set of planes:
//!   - Chain 4: address bits 1-0 select the plane and the planar address is the offset with
//!     those bits cleared, so mode 13h uses every fourth byte of each plane (Abrash, *Graphics
//!     Programming Black Book* ch. 47; DOSBox does the same);
//!   - odd/even (writes: Sequencer O/E Dis. = 0; reads: Graphics Mode Host O/E = 1): A0 picks
//!     plane 0/2 (even) or 1/3 (odd) and the planar address is the offset with A0 cleared, so
//!     a text cell's character and attribute share one planar address;
//!   - otherwise the offset is the planar address and the Map Mask (writes) or Read Map Select
//!     (reads) chooses planes.
//!
//!   Offsets past 64 KiB (the 128K window) wrap within the planes.
//! - **Reads** load all four latches from the planar address, then return the selected plane
//!   (read mode 0) or a colour-compare byte (read mode 1: 1 where the four plane bits equal
//!   Color Compare in the planes Color Don't Care enables).
//! - **Writes** go through [`write_pipeline`] (write modes 0-3: rotate, Set/Reset, logical
//!   operation with the latches, Bit Mask), then land in the planes the Map Mask and the
//!   addressing mode enable.
//!
//! Not modelled: the Odd/Even Page Select bit of the Miscellaneous Output register and
//! Chain O/E's substitution of a high address bit for A0 (odd/even addressing always clears A0,
//! as QEMU and DOSBox do); the Extended Memory bit (256 KiB is always present).

use super::Vga;
use super::regs::GraphicsController;
use serde::{Deserialize, Serialize};

/// Bytes per plane.
pub const PLANE_SIZE: usize = 0x1_0000;

/// The four planes (interleaved: cell `a` holds planes 0-3 at planar address `a`) and the
/// latches. Debug prints a summary, not 256 KiB.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoMemory {
    /// `cells[a][p]` is plane `p` at planar address `a`; `PLANE_SIZE` cells.
    pub cells: Vec<[u8; 4]>,
    /// The four 8-bit latch registers, loaded by every CPU read.
    pub latches: [u8; 4],
}

impl Default for VideoMemory {
    fn default() -> VideoMemory {
        VideoMemory { cells: vec![[0; 4]; PLANE_SIZE], latches: [0; 4] }
    }
}

impl std::fmt::Debug for VideoMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nonzero = self.cells.iter().filter(|c| **c != [0; 4]).count();
        f.debug_struct("VideoMemory")
            .field("planes", &format_args!("4 x {PLANE_SIZE} bytes, {nonzero} nonzero cells"))
            .field("latches", &self.latches)
            .finish()
    }
}

impl VideoMemory {
    /// Plane `plane` (0-3, masked) at planar address `addr` (wrapped to 64 KiB).
    pub fn plane(&self, plane: usize, addr: usize) -> u8 {
        self.cells[addr & (PLANE_SIZE - 1)][plane & 3]
    }
    /// Sets plane `plane` at planar address `addr` (both masked).
    pub fn set_plane(&mut self, plane: usize, addr: usize, v: u8) {
        self.cells[addr & (PLANE_SIZE - 1)][plane & 3] = v;
    }
    /// The four plane bytes at planar address `addr`.
    pub fn cell(&self, addr: usize) -> [u8; 4] {
        self.cells[addr & (PLANE_SIZE - 1)]
    }
}

/// The value each plane receives from a CPU write of `cpu` with the latches holding
/// `latches` (FreeVGA "Read/Write Modes"; IBM VGA TR, Graphics Mode Register):
///
/// - mode 0: the byte rotated right by Rotate Count, or Set/Reset for planes in Enable
///   Set/Reset; then the Logical Operation with the latch; then the Bit Mask;
/// - mode 1: the latches unchanged (fast copies);
/// - mode 2: bit `p` of the byte, spread over all eight bits of plane `p`; Logical Operation;
///   Bit Mask;
/// - mode 3: Set/Reset as the data, the rotated byte ANDed with the Bit Mask as the mask;
///   Logical Operation.
///
/// The Bit Mask keeps the latch's bit where it is 0.
pub fn write_pipeline(gc: &GraphicsController, latches: [u8; 4], cpu: u8) -> [u8; 4] {
    let rotated = cpu.rotate_right(gc.rotate_count());
    let spread = |bit: bool| if bit { 0xFF } else { 0x00 };
    let (mask, data): (u8, [u8; 4]) = match gc.write_mode() {
        0 => (
            gc.bit_mask,
            std::array::from_fn(|p| {
                if gc.enable_set_reset >> p & 1 != 0 { spread(gc.set_reset >> p & 1 != 0) } else { rotated }
            }),
        ),
        1 => return latches,
        2 => (gc.bit_mask, std::array::from_fn(|p| spread(cpu >> p & 1 != 0))),
        _ => (rotated & gc.bit_mask, std::array::from_fn(|p| spread(gc.set_reset >> p & 1 != 0))),
    };
    std::array::from_fn(|p| {
        let l = latches[p];
        let v = match gc.logical_operation() {
            0 => data[p],
            1 => data[p] & l,
            2 => data[p] | l,
            _ => data[p] ^ l,
        };
        (v & mask) | (l & !mask)
    })
}

/// Read mode 1: bit i is 1 where, in every plane Color Don't Care enables, bit i of the latch
/// equals that plane's bit of Color Compare.
pub fn color_compare(gc: &GraphicsController, latches: [u8; 4]) -> u8 {
    let mut differ = 0u8;
    for (p, &l) in latches.iter().enumerate() {
        if gc.color_dont_care >> p & 1 != 0 {
            let want = if gc.color_compare >> p & 1 != 0 { 0xFF } else { 0x00 };
            differ |= l ^ want;
        }
    }
    !differ
}

impl Vga {
    /// The offset of physical address `addr` in the CPU window, if the window (and video RAM,
    /// by the Miscellaneous Output RAM Enable bit) is there.
    pub fn window_offset(&self, addr: u32) -> Option<usize> {
        if self.misc_output & Vga::MISC_RAM_ENABLE == 0 {
            return None;
        }
        let (base, len) = self.gc.window();
        let off = addr.checked_sub(base)?;
        (off < len).then_some(off as usize)
    }

    /// A CPU read of physical address `addr` (0xA0000-0xBFFFF; anything else reads 0xFF).
    /// Loads the latches, so it takes `&mut self`; it never changes the picture.
    pub fn mem_read(&mut self, addr: u32) -> u8 {
        let Some(off) = self.window_offset(addr) else {
            return 0xFF;
        };
        let (planar, plane) = if self.seq.chain4() {
            (off & !3, off & 3)
        } else if self.gc.odd_even_reads() {
            (off & !1, (self.gc.read_map_select as usize & 2) | (off & 1))
        } else {
            (off, self.gc.read_map_select as usize & 3)
        };
        let latches = self.mem.cell(planar);
        self.mem.latches = latches;
        if self.gc.read_mode_1() { color_compare(&self.gc, latches) } else { latches[plane] }
    }

    /// A CPU write of `value` to physical address `addr` (0xA0000-0xBFFFF; elsewhere, or
    /// outside the selected window, ignored).
    pub fn mem_write(&mut self, addr: u32, value: u8) {
        let Some(off) = self.window_offset(addr) else {
            return;
        };
        let (planar, planes) = if self.seq.chain4() {
            (off & !3, 1u8 << (off & 3))
        } else if self.seq.odd_even_writes() {
            (off & !1, if off & 1 != 0 { 0b1010 } else { 0b0101 })
        } else {
            (off, 0b1111)
        };
        let planes = planes & self.seq.map_mask;
        let data = write_pipeline(&self.gc, self.mem.latches, value);
        let cell = &mut self.mem.cells[planar & (PLANE_SIZE - 1)];
        for (p, byte) in cell.iter_mut().enumerate() {
            if planes >> p & 1 != 0 {
                *byte = data[p];
            }
        }
        self.touch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gc(mode: u8) -> GraphicsController {
        GraphicsController { graphics_mode: mode, bit_mask: 0xFF, ..Default::default() }
    }

    #[test]
    fn write_mode_0_rotate_set_reset_function_mask() {
        let mut g = gc(0);
        let l = [0xF0, 0x0F, 0xAA, 0x55];
        assert_eq!(write_pipeline(&g, l, 0x81), [0x81; 4], "plain copy");
        g.data_rotate = 1; // rotate right by 1
        assert_eq!(write_pipeline(&g, l, 0x81), [0xC0; 4]);
        g.data_rotate = 0;
        g.enable_set_reset = 0b0101;
        g.set_reset = 0b0001;
        assert_eq!(write_pipeline(&g, l, 0x3C), [0xFF, 0x3C, 0x00, 0x3C]);
        g.enable_set_reset = 0;
        g.data_rotate = 1 << 3; // AND
        assert_eq!(write_pipeline(&g, l, 0x3C), [0x30, 0x0C, 0x28, 0x14]);
        g.data_rotate = 2 << 3; // OR
        assert_eq!(write_pipeline(&g, l, 0x3C), [0xFC, 0x3F, 0xBE, 0x7D]);
        g.data_rotate = 3 << 3; // XOR
        assert_eq!(write_pipeline(&g, l, 0x3C), [0xCC, 0x33, 0x96, 0x69]);
        g.data_rotate = 0;
        g.bit_mask = 0x0F; // high nibble from the latches
        assert_eq!(write_pipeline(&g, l, 0x3C), [0xFC, 0x0C, 0xAC, 0x5C]);
    }

    #[test]
    fn write_mode_1_copies_latches() {
        let mut g = gc(1);
        g.bit_mask = 0x00;
        g.data_rotate = 0x1F;
        let l = [1, 2, 3, 4];
        assert_eq!(write_pipeline(&g, l, 0xFF), l);
    }

    #[test]
    fn write_mode_2_spreads_colour_bits() {
        let mut g = gc(2);
        g.bit_mask = 0x80; // one pixel
        let l = [0x00, 0xFF, 0x00, 0xFF];
        // colour 0b0101 to the leftmost pixel: planes 0 and 2 set, 1 and 3 cleared there.
        assert_eq!(write_pipeline(&g, l, 0x05), [0x80, 0x7F, 0x80, 0x7F]);
        g.data_rotate = 3 << 3; // XOR
        assert_eq!(write_pipeline(&g, l, 0x0F), [0x80, 0x7F, 0x80, 0x7F]);
    }

    #[test]
    fn write_mode_3_masks_with_rotated_data() {
        let mut g = gc(3);
        g.set_reset = 0b0011;
        g.bit_mask = 0xF0;
        let l = [0x00, 0x00, 0xFF, 0xFF];
        // the CPU byte 0x3C AND bit mask 0xF0 = 0x30 selects two pixels.
        assert_eq!(write_pipeline(&g, l, 0x3C), [0x30, 0x30, 0xCF, 0xCF]);
        g.data_rotate = 4; // rotate 0x3C right by 4 -> 0xC3; AND 0xF0 = 0xC0
        assert_eq!(write_pipeline(&g, l, 0x3C), [0xC0, 0xC0, 0x3F, 0x3F]);
    }

    #[test]
    fn read_mode_1_colour_compare() {
        let mut g = gc(0x08);
        g.color_compare = 0b1010;
        g.color_dont_care = 0x0F;
        // pixel 7 (bit 7) has colour 1010b; pixel 0 has 1011b.
        let l = [0x01, 0x81, 0x00, 0x81];
        assert_eq!(color_compare(&g, l), 0x80, "only pixel 7 matches");
        g.color_dont_care = 0b1110; // ignore plane 0: pixel 0 matches now
        assert_eq!(color_compare(&g, l), 0x81);
        g.color_dont_care = 0;
        assert_eq!(color_compare(&g, l), 0xFF, "nothing compared: all match");
    }
}
