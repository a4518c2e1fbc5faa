//! The VGA's register files: Sequencer, CRT Controller, Graphics Controller, Attribute
//! Controller and DAC, each reached through an index register and a data register.
//!
//! Field and bit names follow the FreeVGA Project's register reference (which follows the IBM
//! *VGA Technical Reference*, "Video Subsystem" chapter): `clocking_mode` is the Clocking Mode
//! Register, `Crtc::MAX_SCAN_LINE_SD` its SD bit. Each controller keeps its registers as named
//! bytes, exactly as the guest wrote them (with the bits the reference calls "reserved" or
//! "undefined" masked off, so they read back 0, as QEMU's model does); decoders such as
//! [`Crtc::vertical_display_end`] assemble the multi-register fields.
//!
//! Every index is masked to the width of its index register and every out-of-range index
//! reads 0xFF and ignores writes, so no guest value can panic the model.

use serde::{Deserialize, Serialize};

/// Sequencer registers (index port 3C4h, data port 3C5h).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequencer {
    /// Sequencer Address Register (3C4h), bits 2-0.
    pub address: u8,
    /// Reset Register (00h): bit 1 SR (synchronous reset, active low), bit 0 AR (asynchronous
    /// reset, active low). The sequencer — and so the display — runs only with both set.
    pub reset: u8,
    /// Clocking Mode Register (01h): bit 5 SD (Screen Disable), bit 4 S4 (Shift Four Enable),
    /// bit 3 DCR (Dot Clock Rate: 1 = master clock / 2), bit 2 SLR (Shift/Load Rate), bit 0
    /// 9/8DM (9/8 Dot Mode: 1 = 8-dot characters, 0 = 9-dot).
    pub clocking_mode: u8,
    /// Map Mask Register (02h): bits 3-0 Memory Plane Write Enable.
    pub map_mask: u8,
    /// Character Map Select Register (03h): bit 5 CSAS, bit 4 CSBS, bits 3-2 Character Set A
    /// Select, bits 1-0 Character Set B Select.
    pub character_map_select: u8,
    /// Sequencer Memory Mode Register (04h): bit 3 Chain 4, bit 2 O/E Dis. (Odd/Even Host
    /// Memory Write Addressing Disable), bit 1 Ext. Mem (Extended Memory).
    pub memory_mode: u8,
}

impl Sequencer {
    /// Registers 00h-04h.
    pub const REGISTER_COUNT: u8 = 5;
    /// The reference's register names, by index (for the debugger).
    pub const NAMES: [&'static str; 5] =
        ["Reset", "Clocking Mode", "Map Mask", "Character Map Select", "Sequencer Memory Mode"];
    /// Writable bits of each register (the rest are reserved and read 0).
    const MASK: [u8; 5] = [0x03, 0x3D, 0x0F, 0x3F, 0x0E];

    pub const CLOCKING_SD: u8 = 1 << 5;
    pub const CLOCKING_S4: u8 = 1 << 4;
    pub const CLOCKING_DCR: u8 = 1 << 3;
    pub const CLOCKING_SLR: u8 = 1 << 2;
    pub const CLOCKING_8DM: u8 = 1 << 0;
    pub const MEMORY_MODE_CHAIN4: u8 = 1 << 3;
    pub const MEMORY_MODE_OE_DIS: u8 = 1 << 2;
    pub const MEMORY_MODE_EXT_MEM: u8 = 1 << 1;

    /// A write to the Sequencer Address Register.
    pub fn write_address(&mut self, v: u8) {
        self.address = v & 0x07;
    }

    fn reg(&mut self, index: u8) -> Option<&mut u8> {
        Some(match index {
            0 => &mut self.reset,
            1 => &mut self.clocking_mode,
            2 => &mut self.map_mask,
            3 => &mut self.character_map_select,
            4 => &mut self.memory_mode,
            _ => return None,
        })
    }

    /// A read of the data port: the register the address register selects.
    pub fn read_data(&mut self) -> u8 {
        let i = self.address;
        self.reg(i).map_or(0xFF, |r| *r)
    }

    /// A write to the data port.
    pub fn write_data(&mut self, v: u8) {
        let i = self.address;
        if let Some(r) = self.reg(i) {
            *r = v & Self::MASK[i as usize];
        }
    }

    /// Both reset bits are 1: the sequencer runs and the display shows memory.
    pub fn running(&self) -> bool {
        self.reset & 0x03 == 0x03
    }
    /// SD: the screen is blanked (memory stays accessible at full bandwidth).
    pub fn screen_disabled(&self) -> bool {
        self.clocking_mode & Self::CLOCKING_SD != 0
    }
    /// DCR: the dot clock is the master clock divided by 2 (320- and 360-dot-wide modes).
    pub fn dot_clock_halved(&self) -> bool {
        self.clocking_mode & Self::CLOCKING_DCR != 0
    }
    /// Dots per character clock in alphanumeric modes: 8 or 9 (9/8DM).
    pub fn char_width(&self) -> usize {
        if self.clocking_mode & Self::CLOCKING_8DM != 0 { 8 } else { 9 }
    }
    /// Chain 4: CPU address bits 1-0 select the plane.
    pub fn chain4(&self) -> bool {
        self.memory_mode & Self::MEMORY_MODE_CHAIN4 != 0
    }
    /// Odd/even host writes: O/E Dis. is 0, so even addresses go to planes 0/2, odd to 1/3.
    pub fn odd_even_writes(&self) -> bool {
        self.memory_mode & Self::MEMORY_MODE_OE_DIS == 0
    }
    /// Offset in plane 2 of the font that attribute bit 3 = 1 selects (Character Set A).
    pub fn char_map_a_offset(&self) -> usize {
        let v = self.character_map_select;
        Self::char_map_offset(((v >> 5) & 1) << 2 | ((v >> 2) & 3))
    }
    /// Offset in plane 2 of the font that attribute bit 3 = 0 selects (Character Set B).
    pub fn char_map_b_offset(&self) -> usize {
        let v = self.character_map_select;
        Self::char_map_offset(((v >> 4) & 1) << 2 | (v & 3))
    }
    /// Map number 0-7 to its offset: 0,1,2,3 at 0K,16K,32K,48K and 4-7 8K above those.
    pub fn char_map_offset(map: u8) -> usize {
        let m = (map & 7) as usize;
        (m & 3) * 0x4000 + (m >> 2) * 0x2000
    }
}

/// CRT Controller registers (index 3B4h/3D4h, data 3B5h/3D5h).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crtc {
    /// CRTC Address Register, bits 4-0.
    pub address: u8,
    /// Horizontal Total Register (00h): character clocks per scan line, minus 5.
    pub horizontal_total: u8,
    /// End Horizontal Display Register (01h): displayed character clocks, minus 1.
    pub end_horizontal_display: u8,
    /// Start Horizontal Blanking Register (02h).
    pub start_horizontal_blanking: u8,
    /// End Horizontal Blanking Register (03h): bit 7 EVRA, bits 6-5 Display Enable Skew,
    /// bits 4-0 End Horizontal Blanking.
    pub end_horizontal_blanking: u8,
    /// Start Horizontal Retrace Register (04h).
    pub start_horizontal_retrace: u8,
    /// End Horizontal Retrace Register (05h): bit 7 EHB5, bits 6-5 Horizontal Retrace Skew,
    /// bits 4-0 End Horizontal Retrace.
    pub end_horizontal_retrace: u8,
    /// Vertical Total Register (06h): scan lines per frame minus 2, bits 7-0.
    pub vertical_total: u8,
    /// Overflow Register (07h): bit 7 VRS9, 6 VDE9, 5 VT9, 4 LC8, 3 SVB8, 2 VRS8, 1 VDE8, 0 VT8.
    pub overflow: u8,
    /// Preset Row Scan Register (08h): bits 6-5 Byte Panning, bits 4-0 Preset Row Scan.
    pub preset_row_scan: u8,
    /// Maximum Scan Line Register (09h): bit 7 SD (Scan Doubling), bit 6 LC9, bit 5 SVB9,
    /// bits 4-0 Maximum Scan Line (scan lines per character row, minus 1).
    pub max_scan_line: u8,
    /// Cursor Start Register (0Ah): bit 5 CD (Cursor Disable), bits 4-0 Cursor Scan Line Start.
    pub cursor_start: u8,
    /// Cursor End Register (0Bh): bits 6-5 Cursor Skew, bits 4-0 Cursor Scan Line End.
    pub cursor_end: u8,
    /// Start Address High Register (0Ch).
    pub start_address_high: u8,
    /// Start Address Low Register (0Dh).
    pub start_address_low: u8,
    /// Cursor Location High Register (0Eh).
    pub cursor_location_high: u8,
    /// Cursor Location Low Register (0Fh).
    pub cursor_location_low: u8,
    /// Vertical Retrace Start Register (10h), bits 7-0.
    pub vertical_retrace_start: u8,
    /// Vertical Retrace End Register (11h): bit 7 Protect, bit 6 Bandwidth, bit 5 (IBM:
    /// Enable Vertical Interrupt, active low), bit 4 (IBM: Clear Vertical Interrupt), bits 3-0
    /// Vertical Retrace End.
    pub vertical_retrace_end: u8,
    /// Vertical Display End Register (12h), bits 7-0.
    pub vertical_display_end: u8,
    /// Offset Register (13h): the start address of a row advances by twice this.
    pub offset: u8,
    /// Underline Location Register (14h): bit 6 DW (Double-Word Addressing), bit 5 DIV4
    /// (Divide Memory Address Clock by 4), bits 4-0 Underline Location.
    pub underline_location: u8,
    /// Start Vertical Blanking Register (15h).
    pub start_vertical_blanking: u8,
    /// End Vertical Blanking Register (16h).
    pub end_vertical_blanking: u8,
    /// CRTC Mode Control Register (17h): bit 7 SE (Sync Enable), bit 6 Word/Byte (1 = byte
    /// mode), bit 5 AW (Address Wrap Select), bit 3 DIV2, bit 2 SLDIV, bit 1 MAP14, bit 0 MAP13.
    pub mode_control: u8,
    /// Line Compare Register (18h), bits 7-0 (bit 8 in Overflow, bit 9 in Maximum Scan Line).
    pub line_compare: u8,
}

impl Crtc {
    /// Registers 00h-18h.
    pub const REGISTER_COUNT: u8 = 0x19;
    /// The reference's register names, by index (for the debugger).
    pub const NAMES: [&'static str; 0x19] = [
        "Horizontal Total",
        "End Horizontal Display",
        "Start Horizontal Blanking",
        "End Horizontal Blanking",
        "Start Horizontal Retrace",
        "End Horizontal Retrace",
        "Vertical Total",
        "Overflow",
        "Preset Row Scan",
        "Maximum Scan Line",
        "Cursor Start",
        "Cursor End",
        "Start Address High",
        "Start Address Low",
        "Cursor Location High",
        "Cursor Location Low",
        "Vertical Retrace Start",
        "Vertical Retrace End",
        "Vertical Display End",
        "Offset",
        "Underline Location",
        "Start Vertical Blanking",
        "End Vertical Blanking",
        "CRTC Mode Control",
        "Line Compare",
    ];

    pub const OVERFLOW_VT8: u8 = 1 << 0;
    pub const OVERFLOW_VDE8: u8 = 1 << 1;
    pub const OVERFLOW_VRS8: u8 = 1 << 2;
    pub const OVERFLOW_SVB8: u8 = 1 << 3;
    pub const OVERFLOW_LC8: u8 = 1 << 4;
    pub const OVERFLOW_VT9: u8 = 1 << 5;
    pub const OVERFLOW_VDE9: u8 = 1 << 6;
    pub const OVERFLOW_VRS9: u8 = 1 << 7;
    pub const MAX_SCAN_LINE_SD: u8 = 1 << 7;
    pub const MAX_SCAN_LINE_LC9: u8 = 1 << 6;
    pub const CURSOR_START_CD: u8 = 1 << 5;
    pub const VRETRACE_END_PROTECT: u8 = 1 << 7;
    pub const UNDERLINE_DW: u8 = 1 << 6;
    pub const MODE_CONTROL_WORD_BYTE: u8 = 1 << 6;
    pub const MODE_CONTROL_AW: u8 = 1 << 5;
    pub const MODE_CONTROL_MAP14: u8 = 1 << 1;
    pub const MODE_CONTROL_MAP13: u8 = 1 << 0;

    /// A write to the CRTC Address Register.
    pub fn write_address(&mut self, v: u8) {
        self.address = v & 0x1F;
    }

    fn reg(&mut self, index: u8) -> Option<&mut u8> {
        Some(match index {
            0x00 => &mut self.horizontal_total,
            0x01 => &mut self.end_horizontal_display,
            0x02 => &mut self.start_horizontal_blanking,
            0x03 => &mut self.end_horizontal_blanking,
            0x04 => &mut self.start_horizontal_retrace,
            0x05 => &mut self.end_horizontal_retrace,
            0x06 => &mut self.vertical_total,
            0x07 => &mut self.overflow,
            0x08 => &mut self.preset_row_scan,
            0x09 => &mut self.max_scan_line,
            0x0A => &mut self.cursor_start,
            0x0B => &mut self.cursor_end,
            0x0C => &mut self.start_address_high,
            0x0D => &mut self.start_address_low,
            0x0E => &mut self.cursor_location_high,
            0x0F => &mut self.cursor_location_low,
            0x10 => &mut self.vertical_retrace_start,
            0x11 => &mut self.vertical_retrace_end,
            0x12 => &mut self.vertical_display_end,
            0x13 => &mut self.offset,
            0x14 => &mut self.underline_location,
            0x15 => &mut self.start_vertical_blanking,
            0x16 => &mut self.end_vertical_blanking,
            0x17 => &mut self.mode_control,
            0x18 => &mut self.line_compare,
            _ => return None,
        })
    }

    /// A read of the data port. Indexes 19h-1Fh are not implemented on the IBM VGA: 0xFF.
    pub fn read_data(&mut self) -> u8 {
        let i = self.address;
        self.reg(i).map_or(0xFF, |r| *r)
    }

    /// A write to the data port. While Protect (register 11h bit 7) is set, registers 00h-07h
    /// ignore writes, except the LC8 bit (bit 4) of the Overflow Register (IBM VGA Technical
    /// Reference, Vertical Retrace End Register).
    pub fn write_data(&mut self, v: u8) {
        let i = self.address;
        let protect = self.vertical_retrace_end & Self::VRETRACE_END_PROTECT != 0;
        if protect && i == 0x07 {
            self.overflow = (self.overflow & !Self::OVERFLOW_LC8) | (v & Self::OVERFLOW_LC8);
            return;
        }
        if protect && i < 0x07 {
            return;
        }
        if let Some(r) = self.reg(i) {
            *r = v;
        }
    }

    /// Character clocks displayed per scan line (1-256).
    pub fn horizontal_display_chars(&self) -> usize {
        self.end_horizontal_display as usize + 1
    }
    /// Character clocks per scan line including blanking and retrace (5-260).
    pub fn horizontal_total_chars(&self) -> usize {
        self.horizontal_total as usize + 5
    }
    /// Scan lines per frame (2-1025).
    pub fn vertical_total_lines(&self) -> usize {
        let o = self.overflow as usize;
        (self.vertical_total as usize | (o & 1) << 8 | ((o >> 5) & 1) << 9) + 2
    }
    /// Vertical Display End as a line count: displayed scan lines (1-1024).
    pub fn vertical_display_end(&self) -> usize {
        let o = self.overflow as usize;
        (self.vertical_display_end as usize | ((o >> 1) & 1) << 8 | ((o >> 6) & 1) << 9) + 1
    }
    /// Vertical Retrace Start, 10 bits: the scan line at which vertical retrace begins.
    pub fn vertical_retrace_start(&self) -> usize {
        let o = self.overflow as usize;
        self.vertical_retrace_start as usize | ((o >> 2) & 1) << 8 | ((o >> 7) & 1) << 9
    }
    /// Length of vertical retrace in scan lines: retrace ends when the line counter's low four
    /// bits equal Vertical Retrace End (1-16 lines).
    pub fn vertical_retrace_lines(&self) -> usize {
        let start = self.vertical_retrace_start() as u8 & 0x0F;
        let end = self.vertical_retrace_end & 0x0F;
        match end.wrapping_sub(start) & 0x0F {
            0 => 16,
            n => n as usize,
        }
    }
    /// Line Compare, 10 bits: after this scan line the row address restarts at 0 (split screen).
    pub fn line_compare(&self) -> usize {
        let lc8 = ((self.overflow >> 4) & 1) as usize;
        let lc9 = ((self.max_scan_line >> 6) & 1) as usize;
        self.line_compare as usize | lc8 << 8 | lc9 << 9
    }
    /// Maximum Scan Line field: scan lines per character row minus 1 (0-31).
    pub fn max_scan(&self) -> u8 {
        self.max_scan_line & 0x1F
    }
    /// SD: every scan line is shown twice (200-line modes on a 400-line display).
    pub fn scan_doubling(&self) -> bool {
        self.max_scan_line & Self::MAX_SCAN_LINE_SD != 0
    }
    /// Start Address (high:low), in memory-address-counter units.
    pub fn start_address(&self) -> u16 {
        u16::from_be_bytes([self.start_address_high, self.start_address_low])
    }
    /// Cursor Location (high:low), in memory-address-counter units.
    pub fn cursor_location(&self) -> u16 {
        u16::from_be_bytes([self.cursor_location_high, self.cursor_location_low])
    }
    /// Cursor Scan Line Start (0-31).
    pub fn cursor_scan_start(&self) -> u8 {
        self.cursor_start & 0x1F
    }
    /// Cursor Scan Line End (0-31).
    pub fn cursor_scan_end(&self) -> u8 {
        self.cursor_end & 0x1F
    }
    /// CD: no cursor.
    pub fn cursor_disabled(&self) -> bool {
        self.cursor_start & Self::CURSOR_START_CD != 0
    }
    /// Cursor Skew: the cursor appears this many character clocks late (0-3).
    pub fn cursor_skew(&self) -> u16 {
        ((self.cursor_end >> 5) & 3) as u16
    }
    /// Preset Row Scan field (0-31): the row scan counter's value on the frame's first line.
    pub fn preset_row(&self) -> u8 {
        self.preset_row_scan & 0x1F
    }
    /// Byte Panning (0-3): character clocks added to the start address.
    pub fn byte_panning(&self) -> u16 {
        ((self.preset_row_scan >> 5) & 3) as u16
    }
    /// Underline Location field (0-31).
    pub fn underline_scan(&self) -> u8 {
        self.underline_location & 0x1F
    }
    /// DW: the memory address counter is rotated left by 2 (256-colour modes).
    pub fn double_word(&self) -> bool {
        self.underline_location & Self::UNDERLINE_DW != 0
    }
    /// Word mode: Word/Byte is 0 and DW is not set.
    pub fn word_mode(&self) -> bool {
        !self.double_word() && self.mode_control & Self::MODE_CONTROL_WORD_BYTE == 0
    }
    /// Memory-address-counter units the row start advances per character row.
    pub fn row_advance(&self) -> u16 {
        self.offset as u16 * 2
    }

    /// The planar (video memory) address the CRTC fetches for memory address counter `ma` on
    /// row scan `row`: the counter shifted left by 0, 1 or 2 in byte, word or doubleword mode,
    /// then MAP13/MAP14 substitution of row-scan bits 0/1 for address bits 13/14 (CGA and
    /// Hercules compatible interleave).
    ///
    /// The IBM reference also rotates the counter's top bits into address bits 0-1 (MA13 or
    /// MA15 by AW in word mode, MA12-13 in doubleword mode). x86lab, like DOSBox and PCem,
    /// shifts without rotating, which matches its CPU-side odd/even and chain 4 addressing
    /// (A0 or A1-A0 cleared, see [`super::memory`]) so that every text page and all 64000
    /// bytes of mode 13h display what the CPU wrote; AW is not modelled.
    pub fn planar_address(&self, ma: u16, row: u8) -> usize {
        let ma = ma as usize;
        let mut a = if self.double_word() {
            ma << 2
        } else if self.word_mode() {
            ma << 1
        } else {
            ma
        };
        if self.mode_control & Self::MODE_CONTROL_MAP13 == 0 {
            a = (a & !(1 << 13)) | ((row as usize & 1) << 13);
        }
        if self.mode_control & Self::MODE_CONTROL_MAP14 == 0 {
            a = (a & !(1 << 14)) | (((row as usize >> 1) & 1) << 14);
        }
        a & 0xFFFF
    }
}

/// Graphics Controller registers (index 3CEh, data 3CFh).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphicsController {
    /// Graphics Address Register (3CEh), bits 3-0.
    pub address: u8,
    /// Set/Reset Register (00h): bits 3-0, the value written to each plane in write modes 0/3.
    pub set_reset: u8,
    /// Enable Set/Reset Register (01h): bits 3-0, planes that take Set/Reset in write mode 0.
    pub enable_set_reset: u8,
    /// Color Compare Register (02h): bits 3-0, the colour read mode 1 looks for.
    pub color_compare: u8,
    /// Data Rotate Register (03h): bits 4-3 Logical Operation (0 none, 1 AND, 2 OR, 3 XOR),
    /// bits 2-0 Rotate Count.
    pub data_rotate: u8,
    /// Read Map Select Register (04h): bits 1-0, the plane read mode 0 returns.
    pub read_map_select: u8,
    /// Graphics Mode Register (05h): bit 6 Shift256, bit 5 Shift Reg. (interleave), bit 4
    /// Host O/E, bit 3 Read Mode, bits 1-0 Write Mode.
    pub graphics_mode: u8,
    /// Miscellaneous Graphics Register (06h): bits 3-2 Memory Map Select, bit 1 Chain O/E,
    /// bit 0 Alpha Dis. (1 = graphics mode).
    pub miscellaneous: u8,
    /// Color Don't Care Register (07h): bits 3-0, planes that take part in a colour compare.
    pub color_dont_care: u8,
    /// Bit Mask Register (08h): bits the write modes may change; the others keep the latch.
    pub bit_mask: u8,
}

impl GraphicsController {
    /// Registers 00h-08h.
    pub const REGISTER_COUNT: u8 = 9;
    /// The reference's register names, by index (for the debugger).
    pub const NAMES: [&'static str; 9] = [
        "Set/Reset",
        "Enable Set/Reset",
        "Color Compare",
        "Data Rotate",
        "Read Map Select",
        "Graphics Mode",
        "Miscellaneous Graphics",
        "Color Don't Care",
        "Bit Mask",
    ];
    const MASK: [u8; 9] = [0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF];

    pub const MODE_SHIFT256: u8 = 1 << 6;
    pub const MODE_SHIFT_REG: u8 = 1 << 5;
    pub const MODE_HOST_OE: u8 = 1 << 4;
    pub const MODE_READ_MODE: u8 = 1 << 3;
    pub const MISC_CHAIN_OE: u8 = 1 << 1;
    pub const MISC_ALPHA_DIS: u8 = 1 << 0;

    /// A write to the Graphics Address Register.
    pub fn write_address(&mut self, v: u8) {
        self.address = v & 0x0F;
    }

    fn reg(&mut self, index: u8) -> Option<&mut u8> {
        Some(match index {
            0 => &mut self.set_reset,
            1 => &mut self.enable_set_reset,
            2 => &mut self.color_compare,
            3 => &mut self.data_rotate,
            4 => &mut self.read_map_select,
            5 => &mut self.graphics_mode,
            6 => &mut self.miscellaneous,
            7 => &mut self.color_dont_care,
            8 => &mut self.bit_mask,
            _ => return None,
        })
    }

    /// A read of the data port; indexes 09h-0Fh read 0xFF.
    pub fn read_data(&mut self) -> u8 {
        let i = self.address;
        self.reg(i).map_or(0xFF, |r| *r)
    }

    /// A write to the data port.
    pub fn write_data(&mut self, v: u8) {
        let i = self.address;
        if let Some(r) = self.reg(i) {
            *r = v & Self::MASK[i as usize];
        }
    }

    /// Write Mode (0-3).
    pub fn write_mode(&self) -> u8 {
        self.graphics_mode & 3
    }
    /// Read Mode: false = mode 0 (one plane), true = mode 1 (colour compare).
    pub fn read_mode_1(&self) -> bool {
        self.graphics_mode & Self::MODE_READ_MODE != 0
    }
    /// Host O/E: odd/even host reads (A0 selects plane 0/1 or 2/3).
    pub fn odd_even_reads(&self) -> bool {
        self.graphics_mode & Self::MODE_HOST_OE != 0
    }
    /// Shift256: the serializer emits 8-bit pixels, one per plane (256-colour modes).
    pub fn shift256(&self) -> bool {
        self.graphics_mode & Self::MODE_SHIFT256 != 0
    }
    /// Shift Reg.: 2-bit pixels interleaved from planes 0/1 and 2/3 (CGA 4-colour modes).
    pub fn shift_interleave(&self) -> bool {
        self.graphics_mode & Self::MODE_SHIFT_REG != 0
    }
    /// Rotate Count (0-7).
    pub fn rotate_count(&self) -> u32 {
        (self.data_rotate & 7) as u32
    }
    /// Logical Operation: 0 replace, 1 AND, 2 OR, 3 XOR (with the latches).
    pub fn logical_operation(&self) -> u8 {
        (self.data_rotate >> 3) & 3
    }
    /// Alpha Dis.: graphics (not alphanumeric) mode.
    pub fn graphics_mode_enabled(&self) -> bool {
        self.miscellaneous & Self::MISC_ALPHA_DIS != 0
    }
    /// Memory Map Select (0: A0000h 128K, 1: A0000h 64K, 2: B0000h 32K, 3: B8000h 32K).
    pub fn memory_map(&self) -> u8 {
        (self.miscellaneous >> 2) & 3
    }
    /// The CPU window Memory Map Select chooses: (physical base, length).
    pub fn window(&self) -> (u32, u32) {
        match self.memory_map() {
            0 => (0xA_0000, 0x2_0000),
            1 => (0xA_0000, 0x1_0000),
            2 => (0xB_0000, 0x8000),
            _ => (0xB_8000, 0x8000),
        }
    }
}

/// Attribute Controller registers (3C0h address/data with a flip-flop, 3C1h data read).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeController {
    /// Attribute Address Register: bit 5 PAS (Palette Address Source), bits 4-0 Attribute
    /// Address.
    pub address: u8,
    /// The address/data flip-flop of port 3C0h: false = the next write is an address, true =
    /// data. Reading Input Status #1 clears it.
    pub flip_flop: bool,
    /// Palette Registers (00h-0Fh): bits 5-0 Internal Palette Index.
    pub palette: [u8; 16],
    /// Attribute Mode Control Register (10h): bit 7 P54S, bit 6 8BIT, bit 5 PPM (Pixel
    /// Panning Mode), bit 3 BLINK, bit 2 LGE (Line Graphics Enable), bit 1 MONO, bit 0 ATGE.
    pub mode_control: u8,
    /// Overscan Color Register (11h).
    pub overscan_color: u8,
    /// Color Plane Enable Register (12h): bits 5-4 Video Status MUX, bits 3-0 Color Plane
    /// Enable.
    pub color_plane_enable: u8,
    /// Horizontal Pixel Panning Register (13h): bits 3-0.
    pub horizontal_pixel_panning: u8,
    /// Color Select Register (14h): bits 3-2 Color Select 7-6, bits 1-0 Color Select 5-4.
    pub color_select: u8,
}

impl AttributeController {
    /// Registers 00h-14h.
    pub const REGISTER_COUNT: u8 = 0x15;
    pub const ADDRESS_PAS: u8 = 1 << 5;
    pub const MODE_P54S: u8 = 1 << 7;
    pub const MODE_8BIT: u8 = 1 << 6;
    pub const MODE_PPM: u8 = 1 << 5;
    pub const MODE_BLINK: u8 = 1 << 3;
    pub const MODE_LGE: u8 = 1 << 2;
    pub const MODE_MONO: u8 = 1 << 1;
    pub const MODE_ATGE: u8 = 1 << 0;

    /// A write to port 3C0h: an address or a data byte, by the flip-flop, which then toggles.
    /// Palette registers are written whatever PAS is (as QEMU and Bochs do; the reference
    /// asks software to clear PAS first, and the display is blanked while it is clear).
    pub fn write_3c0(&mut self, v: u8) {
        if !self.flip_flop {
            self.address = v & 0x3F;
        } else {
            let i = self.address & 0x1F;
            match i {
                0x00..=0x0F => self.palette[i as usize] = v & 0x3F,
                0x10 => self.mode_control = v & 0xEF,
                0x11 => self.overscan_color = v,
                0x12 => self.color_plane_enable = v & 0x3F,
                0x13 => self.horizontal_pixel_panning = v & 0x0F,
                0x14 => self.color_select = v & 0x0F,
                _ => {}
            }
        }
        self.flip_flop = !self.flip_flop;
    }

    /// A read of port 3C0h: the Attribute Address Register (with PAS). The flip-flop stays.
    pub fn read_address(&self) -> u8 {
        self.address
    }

    /// A read of port 3C1h: the register the address selects (0xFF past 14h).
    pub fn read_data(&self) -> u8 {
        let i = self.address & 0x1F;
        match i {
            0x00..=0x0F => self.palette[i as usize],
            0x10 => self.mode_control,
            0x11 => self.overscan_color,
            0x12 => self.color_plane_enable,
            0x13 => self.horizontal_pixel_panning,
            0x14 => self.color_select,
            _ => 0xFF,
        }
    }

    /// PAS: the palette is in use by the display (0 = loadable, screen blanked).
    pub fn palette_address_source(&self) -> bool {
        self.address & Self::ADDRESS_PAS != 0
    }
    /// BLINK: attribute bit 7 blinks the character (1) or selects bright backgrounds (0).
    pub fn blink_enabled(&self) -> bool {
        self.mode_control & Self::MODE_BLINK != 0
    }
    /// LGE: in 9-dot text, characters C0h-DFh repeat their 8th dot in the 9th.
    pub fn line_graphics(&self) -> bool {
        self.mode_control & Self::MODE_LGE != 0
    }
    /// 8BIT: two 4-bit dots form one 8-bit pixel that goes straight to the DAC.
    pub fn eight_bit(&self) -> bool {
        self.mode_control & Self::MODE_8BIT != 0
    }
    /// PPM: the lines below a line-compare split are not panned.
    pub fn pixel_panning_mode(&self) -> bool {
        self.mode_control & Self::MODE_PPM != 0
    }

    /// The 8-bit DAC index for a 4-bit dot: Color Plane Enable, then the palette register,
    /// with bits 5-4 from Color Select when P54S is set and bits 7-6 always from Color Select.
    pub fn dac_index(&self, dot: u8) -> u8 {
        let p = self.palette[(dot & self.color_plane_enable & 0x0F) as usize] & 0x3F;
        let low =
            if self.mode_control & Self::MODE_P54S != 0 { (p & 0x0F) | ((self.color_select & 0x03) << 4) } else { p };
        low | ((self.color_select & 0x0C) << 4)
    }
}

/// The DAC (RAMDAC): 256 colour registers of three 6-bit components.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dac {
    /// DAC Address Write Mode Register (3C8h): the entry the next three 3C9h writes fill.
    pub write_index: u8,
    /// DAC Address Read Mode Register (3C7h write): the entry the next three 3C9h reads return.
    pub read_index: u8,
    /// Which component (0 red, 1 green, 2 blue) the next 3C9h write supplies.
    pub write_component: u8,
    /// Which component the next 3C9h read returns.
    pub read_component: u8,
    /// Red and green of the entry being written, held until blue arrives.
    pub write_latch: [u8; 3],
    /// DAC State Register (3C7h read): 00b after a write to 3C8h (write mode), 11b after a
    /// write to 3C7h (read mode).
    pub state: u8,
    /// PEL Mask Register (3C6h): ANDed with every pixel's DAC index.
    pub pel_mask: u8,
    /// The colour registers: red, green, blue, 6 bits each.
    #[serde(with = "serde_big_array::BigArray")]
    pub palette: [[u8; 3]; 256],
}

impl Default for Dac {
    fn default() -> Dac {
        Dac {
            write_index: 0,
            read_index: 0,
            write_component: 0,
            read_component: 0,
            write_latch: [0; 3],
            state: 0,
            pel_mask: 0xFF,
            palette: [[0; 3]; 256],
        }
    }
}

impl Dac {
    /// A write to 3C8h: select the entry to write and restart at red.
    pub fn write_write_index(&mut self, v: u8) {
        self.write_index = v;
        self.write_component = 0;
        self.state = 0b00;
    }
    /// A write to 3C7h: select the entry to read and restart at red.
    pub fn write_read_index(&mut self, v: u8) {
        self.read_index = v;
        self.read_component = 0;
        self.state = 0b11;
    }
    /// A write to 3C9h: one 6-bit component; the third completes the entry and the write
    /// index moves on (wrapping after 255).
    pub fn write_data(&mut self, v: u8) {
        let c = (self.write_component % 3) as usize;
        self.write_latch[c] = v & 0x3F;
        if c == 2 {
            self.palette[self.write_index as usize] = self.write_latch;
            self.write_index = self.write_index.wrapping_add(1);
            self.write_component = 0;
        } else {
            self.write_component = c as u8 + 1;
        }
    }
    /// A read of 3C9h: one component of the read entry; after blue the read index moves on.
    pub fn read_data(&mut self) -> u8 {
        let c = (self.read_component % 3) as usize;
        let v = self.palette[self.read_index as usize][c];
        if c == 2 {
            self.read_index = self.read_index.wrapping_add(1);
            self.read_component = 0;
        } else {
            self.read_component = c as u8 + 1;
        }
        v
    }
    /// The 0x00RRGGBB colour of entry `index` after the PEL mask; 6-bit components are widened
    /// to 8 bits by repeating their top bits (0x3F becomes 0xFF).
    pub fn rgb(&self, index: u8) -> u32 {
        let [r, g, b] = self.palette[(index & self.pel_mask) as usize];
        let w = |c: u8| {
            let c = (c & 0x3F) as u32;
            (c << 2) | (c >> 4)
        };
        (w(r) << 16) | (w(g) << 8) | w(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencer_masks_index_and_reserved_bits() {
        let mut s = Sequencer::default();
        s.write_address(0xFA); // index 2 after masking to 3 bits
        s.write_data(0xFF);
        assert_eq!(s.map_mask, 0x0F);
        s.write_address(5);
        assert_eq!(s.read_data(), 0xFF, "unimplemented index");
        s.write_data(0x12); // ignored
        assert_eq!(s, Sequencer { address: 5, map_mask: 0x0F, ..Default::default() });
    }

    #[test]
    fn character_map_offsets() {
        let mut s = Sequencer { character_map_select: 0, ..Default::default() };
        assert_eq!((s.char_map_a_offset(), s.char_map_b_offset()), (0, 0));
        // A = map 5 (CSAS=1, CSA=01b): 16K + 8K; B = map 2: 32K.
        s.character_map_select = 0b10_0110;
        assert_eq!(s.char_map_a_offset(), 0x6000);
        assert_eq!(s.char_map_b_offset(), 0x8000);
    }

    #[test]
    fn crtc_protect_blocks_0_to_7_except_lc8() {
        let mut c = Crtc::default();
        c.write_address(0x11);
        c.write_data(0x80); // Protect
        for i in 0..7 {
            c.write_address(i);
            c.write_data(0x55);
            assert_eq!(c.read_data(), 0, "register {i} is protected");
        }
        c.write_address(7);
        c.write_data(0xFF);
        assert_eq!(c.overflow, Crtc::OVERFLOW_LC8, "only LC8 is writable");
        c.write_address(0x0A);
        c.write_data(0x0D);
        assert_eq!(c.cursor_start, 0x0D, "registers 08h and up are not protected");
        c.write_address(0x11);
        c.write_data(0x00);
        c.write_address(0);
        c.write_data(0x5F);
        assert_eq!(c.horizontal_total, 0x5F, "unprotected again");
        c.write_address(0x19);
        assert_eq!(c.read_data(), 0xFF);
        c.write_address(0xFF);
        assert_eq!(c.address, 0x1F);
    }

    #[test]
    fn crtc_ten_bit_fields() {
        let c = Crtc {
            vertical_total: 0x0B,
            vertical_display_end: 0xDF,
            vertical_retrace_start: 0xEA,
            vertical_retrace_end: 0x8C,
            overflow: 0x3E,
            max_scan_line: 0x40,
            line_compare: 0xFF,
            ..Default::default()
        };
        assert_eq!(c.vertical_total_lines(), 525);
        assert_eq!(c.vertical_display_end(), 480);
        assert_eq!(c.vertical_retrace_start(), 490);
        assert_eq!(c.vertical_retrace_lines(), 2);
        assert_eq!(c.line_compare(), 0x3FF);
    }

    #[test]
    fn crtc_address_mapping() {
        let mut c = Crtc { mode_control: 0xE3, ..Default::default() };
        assert_eq!(c.planar_address(0x1234, 0), 0x1234, "byte mode");
        c.mode_control = 0xA3;
        assert_eq!(c.planar_address(0x0010, 0), 0x0020, "word mode");
        assert_eq!(c.planar_address(0x2010, 0), 0x4020, "word mode");
        c.underline_location = 0x40;
        assert_eq!(c.planar_address(0x1001, 0), 0x4004, "doubleword");
        assert_eq!(c.planar_address(0x4000, 0), 0x0000, "wraps at 64 KiB");
        c.underline_location = 0;
        c.mode_control = 0xA2; // MAP13 = 0: CGA interleave
        assert_eq!(c.planar_address(0x0010, 1), 0x2020);
        assert_eq!(c.planar_address(0x0010, 2), 0x0020);
    }

    #[test]
    fn graphics_controller_windows() {
        let mut g = GraphicsController::default();
        let w: Vec<_> = (0..4)
            .map(|m| {
                g.miscellaneous = m << 2;
                g.window()
            })
            .collect();
        assert_eq!(w, [(0xA0000, 0x20000), (0xA0000, 0x10000), (0xB0000, 0x8000), (0xB8000, 0x8000)]);
        g.write_address(0x1F);
        assert_eq!(g.address, 0x0F);
        assert_eq!(g.read_data(), 0xFF);
    }

    #[test]
    fn attribute_flip_flop_and_pas() {
        let mut a = AttributeController::default();
        a.write_3c0(0x05); // address 5, PAS = 0
        assert!(a.flip_flop);
        a.write_3c0(0xFF); // palette 5, 6 bits
        assert!(!a.flip_flop);
        assert_eq!(a.palette[5], 0x3F);
        a.write_3c0(0x30); // address 10h with PAS
        assert!(a.palette_address_source());
        assert_eq!(a.read_address(), 0x30);
        a.write_3c0(0x41);
        assert_eq!(a.read_data(), 0x41);
        assert_eq!(a.mode_control, 0x41);
        a.write_3c0(0x35);
        assert_eq!(a.read_data(), 0xFF, "no register 15h");
    }

    #[test]
    fn attribute_palette_to_dac_index() {
        let mut a = AttributeController { color_plane_enable: 0x0F, ..Default::default() };
        a.palette[3] = 0x3A;
        assert_eq!(a.dac_index(3), 0x3A);
        a.color_select = 0b1110; // C67 = 11b, C45 = 10b
        assert_eq!(a.dac_index(3), 0xFA);
        a.mode_control = AttributeController::MODE_P54S;
        assert_eq!(a.dac_index(3), 0xEA);
        a.color_plane_enable = 0x01;
        a.palette[1] = 0x07;
        assert_eq!(a.dac_index(3), 0xE7, "plane 1 disabled: dot 3 reads as 1");
    }

    #[test]
    fn dac_auto_increment_and_six_bits() {
        let mut d = Dac::default();
        d.write_write_index(0xFF);
        for v in [0x3F, 0x40, 0x01, 0x02, 0x03, 0x04] {
            d.write_data(v);
        }
        assert_eq!(d.palette[0xFF], [0x3F, 0x00, 0x01]);
        assert_eq!(d.palette[0x00], [0x02, 0x03, 0x04], "index wraps to 0");
        assert_eq!(d.write_index, 1);
        assert_eq!(d.state, 0);
        d.write_read_index(0xFF);
        assert_eq!(d.state, 3);
        let got: Vec<u8> = (0..6).map(|_| d.read_data()).collect();
        assert_eq!(got, [0x3F, 0x00, 0x01, 0x02, 0x03, 0x04]);
        assert_eq!(d.rgb(0xFF), 0xFF_00_04);
        d.pel_mask = 0x00;
        assert_eq!(d.rgb(0xFF), 0x08_0C_10, "PEL mask selects entry 0");
    }
}
