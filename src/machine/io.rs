//! The PC's I/O port map: which device answers which port, with the name the debugger and
//! the exit table show. The dispatch itself is the `match` in `PcBus::io_in`/`io_out`.

/// The name of the device behind a port (IBM PC/AT Technical Reference port map, plus the
/// Bochs/QEMU debug ports).
pub fn port_name(port: u16) -> &'static str {
    match port {
        0x00..=0x0F | 0xC0..=0xDF | 0x80..=0x8F => "dma",
        0x20 | 0x21 => "pic master",
        0xA0 | 0xA1 => "pic slave",
        0x4D0 | 0x4D1 => "elcr",
        0x40..=0x43 => "pit",
        0x60 | 0x64 => "keyboard controller",
        0x61 => "system control port B",
        0x70 | 0x71 => "cmos/rtc",
        0x92 => "system control port A",
        0xE9 => "debug console",
        0xF4 => "exit device",
        0x1F0..=0x1F7 | 0x3F6 => "ata primary",
        0x170..=0x177 | 0x376 => "ata secondary",
        0x3F0..=0x3F5 | 0x3F7 => "floppy controller",
        0x3F8..=0x3FF => "com1",
        0x2F8..=0x2FF => "com2",
        0x3B0..=0x3DF => "vga",
        0x378..=0x37A => "lpt1",
        _ => "unassigned",
    }
}
