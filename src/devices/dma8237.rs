//! The two Intel 8237A DMA controllers of a PC/AT and their 74LS612 page registers.
//!
//! Sources: Intel 8237A/8237A-5 High Performance Programmable DMA Controller datasheet
//! (register set, mode/command/request/mask formats, status register, TC and auto-initialize);
//! IBM PC/AT Technical Reference, "System Board — DMA Controller" (the cascade of DMA1 into
//! channel 4 of DMA2, the word shift of channels 5-7, the page register ports).
//!
//! # The PC/AT arrangement
//! | controller | channels | unit | ports                         | address bits               |
//! |------------|----------|------|-------------------------------|----------------------------|
//! | DMA1       | 0-3      | byte | 0x00-0x0F                     | page bits 7-0 → A23-16, address → A15-0 |
//! | DMA2       | 4-7      | word | 0xC0-0xDE (even; odd alias)   | page bits 7-1 → A23-17, address → A16-1 |
//!
//! Channel 4 (DMA2 channel 0) carries DMA1's requests (cascade): a transfer on channels 0-3
//! needs DMA2 enabled and channel 4 unmasked, as the BIOS sets up at POST. Page registers live
//! at 0x80-0x8F ([`PAGE_PORT`]: ch0 0x87, ch1 0x83, ch2 0x81, ch3 0x82, ch5 0x8B, ch6 0x89,
//! ch7 0x8A; 0x8F is channel 4's/refresh); the other ports of the block are plain storage
//! (port 0x80 is the POST-code port: the machine may show writes to it, and should still
//! pass them here).
//!
//! Registers per controller, at offset `r` (DMA1: port `r`; DMA2: port `0xC0 + 2r`):
//! `0,2,4,6` channel address, `1,3,5,7` channel count (written low byte then high byte through
//! the byte pointer flip-flop; a write sets both the base and the current register; a read
//! returns the current one), `8` status (read) / command (write), `9` request, `A` single mask
//! bit, `B` mode, `C` clear byte pointer flip-flop, `D` temporary (read) / master clear (write),
//! `E` clear mask register, `F` write all mask bits (reads back the mask, as the PIIX and later
//! chipsets do).
//!
//! # How the machine moves bytes
//! The controller never owns memory and a device never touches memory. When a device asserts
//! DREQ, the machine calls [`Dma8237::service`] with the channel, the device (as a
//! [`DmaDevice`]: `dreq`, one byte per DACK cycle, TC on the last one) and the memory (as a
//! [`DmaMemory`]). The controller generates the addresses, counts down, and for each unit
//! either reads a byte from the device and stores it (a *write transfer*, device → memory),
//! fetches a byte from memory and hands it to the device (a *read transfer*, memory → device),
//! or just clocks the device (a *verify transfer*). At terminal count it sets the status TC
//! bit, signals TC to the device with the last byte, and reloads (auto-initialize) or masks the
//! channel. All of it happens at once: there is no bus timing.
//!
//! Wiring for the floppy controller on channel 2 (after every FDC or DMA port access, and
//! whenever the FDC may have raised DREQ):
//! ```ignore
//! let r = bus.dma.service(FDC_DMA_CHANNEL, &mut bus.fdc, &mut bus.mem);
//! if let Some((lo, hi)) = r.written {
//!     // DMA wrote guest memory behind the CPU's back: drop decoded code there.
//!     cpu.cache.note_write(lo, hi - lo + 1);
//! }
//! ```
//! [`DmaMemory`] is implemented here for the machine's [`Memory`] (ROM and holes ignore
//! writes, as for the CPU) and for byte slices (tests).
//!
//! A complete round, with a one-byte device:
//! ```
//! use x86lab::devices::dma8237::{Dma8237, DmaDevice};
//! struct OneByte(Option<u8>);
//! impl DmaDevice for OneByte {
//!     fn dreq(&self) -> bool { self.0.is_some() }
//!     fn dma_read(&mut self, _tc: bool) -> u8 { self.0.take().unwrap_or(0xFF) }
//!     fn dma_write(&mut self, _value: u8, _tc: bool) {}
//! }
//! let mut dma = Dma8237::new();
//! dma.write8(0xD6, 0xC0); // DMA2 mode: channel 4 cascades DMA1 (the BIOS does this)
//! dma.write8(0xD4, 0x00); // unmask channel 4
//! dma.write8(0x0C, 0x00); // clear the flip-flop
//! dma.write8(0x04, 0x00); // channel 2 address 0x1000, low byte then high byte
//! dma.write8(0x04, 0x10);
//! dma.write8(0x81, 0x00); // channel 2 page
//! dma.write8(0x05, 0x00); // count 0: one transfer
//! dma.write8(0x05, 0x00);
//! dma.write8(0x0B, 0x46); // single mode, write transfer (device -> memory), channel 2
//! dma.write8(0x0A, 0x02); // unmask channel 2
//! let mut mem = vec![0u8; 0x2000];
//! let r = dma.service(2, &mut OneByte(Some(0x5A)), &mut mem);
//! assert!(r.tc);
//! assert_eq!(mem[0x1000], 0x5A);
//! assert_eq!(dma.read8(0x08) & 0x04, 0x04); // status: TC on channel 2
//! ```
//!
//! The lower-level [`Dma8237::channel_setup`] shows where a channel would transfer next
//! (for the debugger).
//!
//! # Not modelled
//! Memory-to-memory transfers (command bit 0, channels 0/1), transfer timing and bus
//! hold/priority (single, block and demand modes all run while the device requests), the
//! DREQ/DACK sense polarity and compressed/extended timing bits (stored only), external EOP
//! input from a device, and the cascade mode on channels other than 4.

use crate::machine::memory::Memory;
use serde::{Deserialize, Serialize};

/// DMA1 (channels 0-3, byte transfers): ports 0x00-0x0F.
pub const DMA1_BASE: u16 = 0x00;
/// DMA2 (channels 4-7, word transfers): ports 0xC0-0xDF, registers on even ports.
pub const DMA2_BASE: u16 = 0xC0;
/// First port of the 74LS612 page register file (0x80-0x8F).
pub const DMA_PAGE_BASE: u16 = 0x80;
/// The page register port of each channel 0-7.
pub const PAGE_PORT: [u16; 8] = [0x87, 0x83, 0x81, 0x82, 0x8F, 0x8B, 0x89, 0x8A];
/// The floppy controller's channel on a PC.
pub const FDC_DMA_CHANNEL: usize = 2;
/// Channel 4: DMA2's channel 0, the cascade input from DMA1.
pub const CASCADE_CHANNEL: usize = 4;

/// Register offsets within a controller (port offset for DMA1, half the offset for DMA2).
pub mod reg {
    /// Status register (read).
    pub const STATUS: u16 = 0x8;
    /// Command register (write).
    pub const COMMAND: u16 = 0x8;
    /// Request register (write).
    pub const REQUEST: u16 = 0x9;
    /// Single mask register bit (write).
    pub const SINGLE_MASK: u16 = 0xA;
    /// Mode register (write).
    pub const MODE: u16 = 0xB;
    /// Clear byte pointer flip-flop (write).
    pub const CLEAR_FLIP_FLOP: u16 = 0xC;
    /// Temporary register (read).
    pub const TEMPORARY: u16 = 0xD;
    /// Master clear (write).
    pub const MASTER_CLEAR: u16 = 0xD;
    /// Clear mask register (write).
    pub const CLEAR_MASK: u16 = 0xE;
    /// Write all mask register bits (write; reads back the mask).
    pub const ALL_MASK: u16 = 0xF;
}

/// Command register bits.
pub mod command {
    /// Memory-to-memory enable (not modelled).
    pub const MEM_TO_MEM: u8 = 0x01;
    /// Channel 0 address hold.
    pub const CH0_HOLD: u8 = 0x02;
    /// Controller disable: no transfers at all.
    pub const DISABLE: u8 = 0x04;
    pub const COMPRESSED_TIMING: u8 = 0x08;
    pub const ROTATING_PRIORITY: u8 = 0x10;
    pub const EXTENDED_WRITE: u8 = 0x20;
    pub const DREQ_ACTIVE_LOW: u8 = 0x40;
    pub const DACK_ACTIVE_HIGH: u8 = 0x80;
}

/// Mode register fields (bits 1-0 select the channel when writing).
pub mod mode {
    /// Transfer type, bits 3-2.
    pub const TRANSFER_MASK: u8 = 0x0C;
    pub const VERIFY: u8 = 0x00;
    /// Write transfer: device → memory (I/O read, memory write).
    pub const WRITE: u8 = 0x04;
    /// Read transfer: memory → device (memory read, I/O write).
    pub const READ: u8 = 0x08;
    /// Auto-initialize: reload base address and count at TC.
    pub const AUTO_INIT: u8 = 0x10;
    /// Address decrement.
    pub const DECREMENT: u8 = 0x20;
    /// Mode select, bits 7-6.
    pub const MODE_MASK: u8 = 0xC0;
    pub const DEMAND: u8 = 0x00;
    pub const SINGLE: u8 = 0x40;
    pub const BLOCK: u8 = 0x80;
    pub const CASCADE: u8 = 0xC0;
}

/// One channel's registers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Base address register (reloaded into the current address at auto-initialize).
    pub base_address: u16,
    /// Base word count register (transfers = count + 1).
    pub base_count: u16,
    /// Current address register.
    pub current_address: u16,
    /// Current word count register; the transfer after which it wraps from 0 to 0xFFFF is TC.
    pub current_count: u16,
    /// Mode register (bits 7-2; the channel-select bits are not stored).
    pub mode: u8,
}

/// One 8237A.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controller8237 {
    pub channels: [Channel; 4],
    /// Command register.
    pub command: u8,
    /// Status register bits 3-0: terminal count reached on channel n (cleared by reading).
    pub tc: u8,
    /// Request register: software DMA requests, bit n = channel n.
    pub request: u8,
    /// Mask register: bit n set = channel n masked.
    pub mask: u8,
    /// Byte pointer flip-flop: `true` when the next access is the high byte.
    pub flip_flop: bool,
    /// Temporary register (memory-to-memory holding byte; stays 0).
    pub temporary: u8,
    /// DREQ lines last seen by [`Dma8237::service`] (status bits 7-4).
    pub dreq: u8,
}

impl Default for Controller8237 {
    /// The state after RESET: everything cleared, all channels masked.
    fn default() -> Self {
        Controller8237 {
            channels: Default::default(),
            command: 0,
            tc: 0,
            request: 0,
            mask: 0x0F,
            flip_flop: false,
            temporary: 0,
            dreq: 0,
        }
    }
}

impl Controller8237 {
    /// Master clear (and RESET): clears command, status, request, temporary and the flip-flop,
    /// and masks all channels. Channel registers are kept.
    pub fn master_clear(&mut self) {
        self.command = 0;
        self.tc = 0;
        self.request = 0;
        self.temporary = 0;
        self.flip_flop = false;
        self.mask = 0x0F;
    }

    /// The status register: TC bits 3-0, request bits 7-4.
    pub fn status(&self) -> u8 {
        (self.tc & 0x0F) | (((self.request | self.dreq) & 0x0F) << 4)
    }

    fn read(&mut self, r: u16) -> u8 {
        match r & 0x0F {
            r @ 0..=7 => {
                let ch = &self.channels[(r >> 1) as usize];
                let v = if r & 1 == 0 { ch.current_address } else { ch.current_count };
                let hi = self.flip_flop;
                self.flip_flop = !self.flip_flop;
                if hi { (v >> 8) as u8 } else { v as u8 }
            }
            reg::STATUS => {
                let s = self.status();
                self.tc = 0;
                s
            }
            reg::TEMPORARY => self.temporary,
            reg::ALL_MASK => self.mask | 0xF0,
            _ => 0xFF,
        }
    }

    fn write(&mut self, r: u16, v: u8) {
        match r & 0x0F {
            r @ 0..=7 => {
                let ch = &mut self.channels[(r >> 1) as usize];
                let hi = self.flip_flop;
                self.flip_flop = !self.flip_flop;
                let set = |x: u16| if hi { (x & 0x00FF) | (v as u16) << 8 } else { (x & 0xFF00) | v as u16 };
                if r & 1 == 0 {
                    ch.base_address = set(ch.base_address);
                    ch.current_address = ch.base_address;
                } else {
                    ch.base_count = set(ch.base_count);
                    ch.current_count = ch.base_count;
                }
            }
            reg::COMMAND => self.command = v,
            reg::REQUEST => {
                let bit = 1 << (v & 3);
                if v & 4 != 0 { self.request |= bit } else { self.request &= !bit }
            }
            reg::SINGLE_MASK => {
                let bit = 1 << (v & 3);
                if v & 4 != 0 { self.mask |= bit } else { self.mask &= !bit }
            }
            reg::MODE => self.channels[(v & 3) as usize].mode = v & 0xFC,
            reg::CLEAR_FLIP_FLOP => self.flip_flop = false,
            reg::MASTER_CLEAR => self.master_clear(),
            reg::CLEAR_MASK => self.mask = 0,
            reg::ALL_MASK => self.mask = v & 0x0F,
            _ => unreachable!("r & 0x0F covers 0..=15"),
        }
    }
}

/// What a transfer cycle does, from the channel's mode register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaDirection {
    /// Device → memory (the 8237's "write transfer").
    ToMemory,
    /// Memory → device (the 8237's "read transfer").
    FromMemory,
    /// Addresses and counts advance; no memory access (type 11, undefined, behaves the same).
    Verify,
}

/// Where a channel would transfer next (see [`Dma8237::channel_setup`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelSetup {
    /// Physical address of the next byte.
    pub addr: u32,
    /// Bytes left until terminal count.
    pub len: u32,
    pub direction: DmaDirection,
    /// Addresses count down.
    pub decrement: bool,
    /// Reload at TC.
    pub auto_init: bool,
    /// The channel can transfer now (unmasked, controller enabled, not cascade, and for
    /// channels 0-3 the cascade channel 4 open).
    pub ready: bool,
}

/// A device on a DMA channel, as the controller drives it during [`Dma8237::service`].
pub trait DmaDevice {
    /// The DREQ line: the device has a byte to give or wants one.
    fn dreq(&self) -> bool;
    /// An I/O-read DACK cycle: the device puts its next byte on the bus (write and verify
    /// transfers). `tc` is set on the last byte of the count.
    fn dma_read(&mut self, tc: bool) -> u8;
    /// An I/O-write DACK cycle: the device takes a byte from memory (read transfers).
    fn dma_write(&mut self, value: u8, tc: bool);
}

/// Physical memory as the DMA controller sees it (no paging, no A20 gate: ISA DMA drives the
/// 24-bit bus directly).
pub trait DmaMemory {
    fn dma_read8(&mut self, addr: u32) -> u8;
    fn dma_write8(&mut self, addr: u32, value: u8);
}

impl DmaMemory for Memory {
    fn dma_read8(&mut self, addr: u32) -> u8 {
        self.read8(addr)
    }
    fn dma_write8(&mut self, addr: u32, value: u8) {
        self.write8(addr, value)
    }
}

/// A flat memory for tests: addresses beyond the slice read 0xFF and ignore writes.
impl DmaMemory for [u8] {
    fn dma_read8(&mut self, addr: u32) -> u8 {
        self.get(addr as usize).copied().unwrap_or(0xFF)
    }
    fn dma_write8(&mut self, addr: u32, value: u8) {
        if let Some(b) = self.get_mut(addr as usize) {
            *b = value;
        }
    }
}

impl DmaMemory for Vec<u8> {
    fn dma_read8(&mut self, addr: u32) -> u8 {
        self.as_mut_slice().dma_read8(addr)
    }
    fn dma_write8(&mut self, addr: u32, value: u8) {
        self.as_mut_slice().dma_write8(addr, value)
    }
}

/// What one [`Dma8237::service`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DmaReport {
    /// Bytes moved (or verified).
    pub bytes: u32,
    /// Terminal count was reached.
    pub tc: bool,
    /// The lowest and highest physical address written, if memory was written.
    pub written: Option<(u32, u32)>,
}

/// The DMA subsystem of a PC/AT: DMA1, DMA2 and the page registers. Plain data throughout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dma8237 {
    /// DMA1: channels 0-3, byte transfers, ports 0x00-0x0F (cascaded into channel 4).
    pub dma1: Controller8237,
    /// DMA2: channels 4-7, word transfers, ports 0xC0-0xDF.
    pub dma2: Controller8237,
    /// The page register file, ports 0x80-0x8F.
    pub page: [u8; 16],
}

impl Dma8237 {
    pub fn new() -> Dma8237 {
        Dma8237::default()
    }

    /// RESET: both controllers master-cleared, channel registers and pages zeroed.
    pub fn reset(&mut self) {
        *self = Dma8237::default();
    }

    /// True for the ports this device decodes (0x00-0x0F, 0x80-0x8F, 0xC0-0xDF).
    pub fn owns_port(port: u16) -> bool {
        matches!(port, 0x00..=0x0F | 0x80..=0x8F | 0xC0..=0xDF)
    }

    pub fn read8(&mut self, port: u16) -> u8 {
        match port {
            0x00..=0x0F => self.dma1.read(port - DMA1_BASE),
            0x80..=0x8F => self.page[(port - DMA_PAGE_BASE) as usize],
            0xC0..=0xDF => self.dma2.read((port - DMA2_BASE) >> 1),
            _ => 0xFF,
        }
    }

    pub fn write8(&mut self, port: u16, value: u8) {
        match port {
            0x00..=0x0F => self.dma1.write(port - DMA1_BASE, value),
            0x80..=0x8F => self.page[(port - DMA_PAGE_BASE) as usize] = value,
            0xC0..=0xDF => self.dma2.write((port - DMA2_BASE) >> 1, value),
            _ => {}
        }
    }

    fn split(&self, ch: usize) -> (&Controller8237, usize) {
        if ch < 4 { (&self.dma1, ch) } else { (&self.dma2, ch & 3) }
    }

    fn split_mut(&mut self, ch: usize) -> (&mut Controller8237, usize) {
        if ch < 4 { (&mut self.dma1, ch) } else { (&mut self.dma2, ch & 3) }
    }

    /// The page register of a channel.
    pub fn page_of(&self, ch: usize) -> u8 {
        self.page[(PAGE_PORT[ch & 7] - DMA_PAGE_BASE) as usize]
    }

    /// Can channel `ch` (0-7) transfer now?
    pub fn channel_ready(&self, ch: usize) -> bool {
        let ch = ch & 7;
        let (c, i) = self.split(ch);
        let open = c.command & command::DISABLE == 0
            && c.mask & (1 << i) == 0
            && c.channels[i].mode & mode::MODE_MASK != mode::CASCADE;
        if ch < 4 {
            // DMA1's HRQ reaches the CPU only through DMA2's channel 0.
            open && self.dma2.command & command::DISABLE == 0 && self.dma2.mask & 1 == 0
        } else {
            open
        }
    }

    fn byte_address(&self, ch: usize) -> u32 {
        let (c, i) = self.split(ch);
        let a = c.channels[i].current_address as u32;
        let page = self.page_of(ch) as u32;
        if ch < 4 { page << 16 | a } else { (page & 0xFE) << 16 | a << 1 }
    }

    /// Where channel `ch` (0-7) would transfer next.
    pub fn channel_setup(&self, ch: usize) -> ChannelSetup {
        let ch = ch & 7;
        let (c, i) = self.split(ch);
        let chan = &c.channels[i];
        let unit = if ch < 4 { 1 } else { 2 };
        ChannelSetup {
            addr: self.byte_address(ch),
            len: (chan.current_count as u32 + 1) * unit,
            direction: direction_of(chan.mode),
            decrement: chan.mode & mode::DECREMENT != 0,
            auto_init: chan.mode & mode::AUTO_INIT != 0,
            ready: self.channel_ready(ch),
        }
    }

    /// Software request for channel `ch` (as the request register does), or the machine's
    /// record of a device's DREQ line, shown in status bits 7-4.
    pub fn set_dreq(&mut self, ch: usize, level: bool) {
        let (c, i) = self.split_mut(ch & 7);
        if level {
            c.dreq |= 1 << i;
        } else {
            c.dreq &= !(1 << i);
        }
    }

    /// Runs channel `ch` (0-7) while `dev` requests and the channel is open, moving bytes
    /// between `dev` and `mem`. Stops after at most one full count plus one reload (so an
    /// auto-initialize channel with a device that never drops DREQ still returns).
    pub fn service<D, M>(&mut self, ch: usize, dev: &mut D, mem: &mut M) -> DmaReport
    where
        D: DmaDevice + ?Sized,
        M: DmaMemory + ?Sized,
    {
        let ch = ch & 7;
        let mut report = DmaReport::default();
        let word = ch >= 4;
        let mut units_left: u32 = 2 * 65536;
        while units_left > 0 && self.channel_ready(ch) && dev.dreq() {
            units_left -= 1;
            let base = self.byte_address(ch);
            let (c, i) = self.split_mut(ch);
            let chan = &mut c.channels[i];
            let m = chan.mode;
            let last = chan.current_count == 0;
            let dir = direction_of(m);
            let nbytes = if word { 2 } else { 1 };
            for k in 0..nbytes {
                let addr = base.wrapping_add(k);
                let tc = last && k == nbytes - 1;
                match dir {
                    DmaDirection::ToMemory => {
                        let b = dev.dma_read(tc);
                        mem.dma_write8(addr, b);
                        report.written = Some(match report.written {
                            None => (addr, addr),
                            Some((lo, hi)) => (lo.min(addr), hi.max(addr)),
                        });
                    }
                    DmaDirection::FromMemory => {
                        let b = mem.dma_read8(addr);
                        dev.dma_write(b, tc);
                    }
                    DmaDirection::Verify => {
                        dev.dma_read(tc);
                    }
                }
                report.bytes += 1;
            }
            let (c, i) = self.split_mut(ch);
            let chan = &mut c.channels[i];
            // Channel 0 address hold applies only to memory-to-memory; ignore it here.
            chan.current_address = if m & mode::DECREMENT != 0 {
                chan.current_address.wrapping_sub(1)
            } else {
                chan.current_address.wrapping_add(1)
            };
            chan.current_count = chan.current_count.wrapping_sub(1);
            if last {
                report.tc = true;
                c.tc |= 1 << i;
                c.request &= !(1 << i);
                if m & mode::AUTO_INIT != 0 {
                    let chan = &mut c.channels[i];
                    chan.current_address = chan.base_address;
                    chan.current_count = chan.base_count;
                } else {
                    c.mask |= 1 << i;
                }
            }
        }
        let level = dev.dreq();
        self.set_dreq(ch, level);
        report
    }
}

fn direction_of(mode: u8) -> DmaDirection {
    match mode & mode::TRANSFER_MASK {
        mode::WRITE => DmaDirection::ToMemory,
        mode::READ => DmaDirection::FromMemory,
        _ => DmaDirection::Verify,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device with a byte stream to give and a sink for bytes it receives.
    #[derive(Default)]
    struct TestDev {
        give: Vec<u8>,
        pos: usize,
        got: Vec<u8>,
        want: usize,
        tc_seen: Vec<usize>,
        always: bool,
    }
    impl DmaDevice for TestDev {
        fn dreq(&self) -> bool {
            self.always || self.pos < self.give.len() || self.got.len() < self.want
        }
        fn dma_read(&mut self, tc: bool) -> u8 {
            let b = self.give.get(self.pos).copied().unwrap_or(0);
            self.pos += 1;
            if tc {
                self.tc_seen.push(self.pos);
            }
            b
        }
        fn dma_write(&mut self, v: u8, tc: bool) {
            self.got.push(v);
            if tc {
                self.tc_seen.push(self.got.len());
            }
        }
    }

    /// Programs a channel the way a BIOS does (mask, flip-flop, address, page, count, mode,
    /// unmask), with DMA2's cascade channel opened first.
    fn program(dma: &mut Dma8237, ch: usize, addr: u16, page: u8, count: u16, mode_bits: u8) {
        dma.write8(0xD6, 0xC0); // DMA2 mode: channel 4 cascade
        dma.write8(0xD4, 0x00); // unmask channel 4
        let (base, shift) = if ch < 4 { (0x00u16, 0) } else { (0xC0u16, 1) };
        let i = (ch & 3) as u16;
        let port = |r: u16| base + (r << shift);
        dma.write8(port(0xA), 0x04 | i as u8);
        dma.write8(port(0xC), 0);
        dma.write8(port(2 * i), addr as u8);
        dma.write8(port(2 * i), (addr >> 8) as u8);
        dma.write8(PAGE_PORT[ch], page);
        dma.write8(port(2 * i + 1), count as u8);
        dma.write8(port(2 * i + 1), (count >> 8) as u8);
        dma.write8(port(0xB), mode_bits | i as u8);
        dma.write8(port(0xA), i as u8);
    }

    #[test]
    fn reset_state_masks_everything() {
        let dma = Dma8237::new();
        assert_eq!(dma.dma1.mask, 0x0F);
        assert_eq!(dma.dma2.mask, 0x0F);
        assert!(!dma.channel_ready(2));
    }

    #[test]
    fn flip_flop_address_and_count_readback() {
        let mut dma = Dma8237::new();
        dma.write8(0x0C, 0);
        dma.write8(0x04, 0x34);
        dma.write8(0x04, 0x12);
        dma.write8(0x05, 0xFF);
        dma.write8(0x05, 0x01);
        assert_eq!(dma.dma1.channels[2].base_address, 0x1234);
        assert_eq!(dma.dma1.channels[2].current_count, 0x01FF);
        dma.write8(0x0C, 0);
        assert_eq!((dma.read8(0x04), dma.read8(0x04)), (0x34, 0x12));
        assert_eq!((dma.read8(0x05), dma.read8(0x05)), (0xFF, 0x01));
        // Page registers are plain storage, all 16 of them.
        dma.write8(0x81, 0x05);
        dma.write8(0x84, 0x77);
        assert_eq!(dma.page_of(2), 0x05);
        assert_eq!(dma.read8(0x84), 0x77);
    }

    #[test]
    fn write_transfer_fills_memory_and_reaches_tc() {
        let mut dma = Dma8237::new();
        program(&mut dma, 2, 0x1000, 0x01, 511, mode::SINGLE | mode::WRITE);
        let mut dev = TestDev { give: (0..600).map(|i| i as u8).collect(), ..Default::default() };
        let mut mem = vec![0u8; 0x20000];
        let setup = dma.channel_setup(2);
        assert_eq!((setup.addr, setup.len, setup.direction, setup.ready), (0x11000, 512, DmaDirection::ToMemory, true));
        let r = dma.service(2, &mut dev, &mut mem);
        assert_eq!(r, DmaReport { bytes: 512, tc: true, written: Some((0x11000, 0x111FF)) });
        assert_eq!(dev.tc_seen, vec![512], "TC comes with the last byte");
        assert_eq!(mem[0x11000], 0);
        assert_eq!(mem[0x111FF], 0xFF);
        assert_eq!(mem[0x11200], 0, "no byte beyond the count");
        // Without auto-init the channel masks itself; status shows TC once.
        assert_eq!(dma.dma1.mask & 4, 4);
        let st = dma.read8(0x08);
        assert_eq!(st & 0x0F, 0x04);
        assert_eq!(st & 0x40, 0x40, "the device still requests");
        assert_eq!(dma.read8(0x08) & 0x0F, 0, "reading status clears TC");
        assert_eq!(dma.dma1.channels[2].current_count, 0xFFFF);
        assert_eq!(dma.dma1.channels[2].current_address, 0x1200);
    }

    #[test]
    fn read_transfer_feeds_the_device() {
        let mut dma = Dma8237::new();
        program(&mut dma, 2, 0x0000, 0x00, 3, mode::SINGLE | mode::READ);
        let mut dev = TestDev { want: 10, ..Default::default() };
        let mut mem: Vec<u8> = (10..30).collect();
        let r = dma.service(2, &mut dev, &mut mem);
        assert_eq!(r.bytes, 4);
        assert_eq!(r.written, None);
        assert_eq!(dev.got, vec![10, 11, 12, 13]);
        assert_eq!(dev.tc_seen, vec![4]);
    }

    #[test]
    fn address_wraps_inside_the_64k_page() {
        let mut dma = Dma8237::new();
        program(&mut dma, 1, 0xFFFE, 0x02, 3, mode::WRITE);
        let mut dev = TestDev { give: vec![1, 2, 3, 4], ..Default::default() };
        let mut mem = vec![0u8; 0x40000];
        dma.service(1, &mut dev, &mut mem);
        assert_eq!(&mem[0x2FFFE..0x30000], &[1, 2]);
        assert_eq!(&mem[0x20000..0x20002], &[3, 4], "the 8237 does not carry into the page register");
        assert_eq!(mem[0x30000], 0);
    }

    #[test]
    fn decrement_mode_goes_down() {
        let mut dma = Dma8237::new();
        program(&mut dma, 3, 0x0010, 0x00, 2, mode::WRITE | mode::DECREMENT);
        let mut dev = TestDev { give: vec![7, 8, 9], ..Default::default() };
        let mut mem = vec![0u8; 0x100];
        let r = dma.service(3, &mut dev, &mut mem);
        assert_eq!(&mem[0x0E..=0x10], &[9, 8, 7]);
        assert_eq!(r.written, Some((0x0E, 0x10)));
    }

    #[test]
    fn auto_init_reloads_and_service_is_bounded() {
        let mut dma = Dma8237::new();
        program(&mut dma, 2, 0x0100, 0x00, 1, mode::WRITE | mode::AUTO_INIT);
        let mut dev = TestDev { always: true, ..Default::default() };
        let mut mem = vec![0u8; 0x1000];
        let r = dma.service(2, &mut dev, &mut mem);
        assert!(r.tc);
        assert_eq!(r.bytes, 2 * 65536, "a device that never lets go cannot hang the machine");
        assert_eq!(dma.dma1.mask & 4, 0, "auto-init keeps the channel open");
        assert_eq!(dma.dma1.channels[2].current_address, 0x0100);
        assert_eq!(dma.dma1.channels[2].current_count, 1);
    }

    #[test]
    fn sixteen_bit_channels_shift_the_address() {
        let mut dma = Dma8237::new();
        // Word address 0x8000, page 0x03: page bit 0 is not used and the word address is
        // shifted, so the byte address is (0x03 & 0xFE) << 16 | 0x8000 << 1 = 0x3_0000.
        program(&mut dma, 5, 0x8000, 0x03, 1, mode::WRITE);
        let setup = dma.channel_setup(5);
        assert_eq!(setup.addr, 0x3_0000);
        assert_eq!(setup.len, 4);
        let mut dev = TestDev { give: vec![1, 2, 3, 4], ..Default::default() };
        let mut mem = vec![0u8; 0x40000];
        let r = dma.service(5, &mut dev, &mut mem);
        assert_eq!(r.bytes, 4);
        assert_eq!(&mem[0x30000..0x30004], &[1, 2, 3, 4]);
        assert_eq!(dev.tc_seen, vec![4]);
        // DMA2's registers sit on even ports; the odd port aliases.
        dma.write8(0xCB, 0x42);
        assert_eq!(dma.dma2.channels[2].current_count, 0x0042);
    }

    #[test]
    fn masks_disable_and_cascade_block_transfers() {
        let mut dma = Dma8237::new();
        let mut mem = vec![0u8; 0x1000];
        program(&mut dma, 2, 0, 0, 9, mode::WRITE);
        // Channel 4 masked: DMA1 cannot get the bus.
        dma.write8(0xD4, 0x04);
        let mut dev = TestDev { give: vec![1; 10], ..Default::default() };
        assert_eq!(dma.service(2, &mut dev, &mut mem).bytes, 0);
        assert_eq!(dma.read8(0x08) & 0x40, 0x40, "the request shows in the status");
        dma.write8(0xD4, 0x00);
        // Controller disabled.
        dma.write8(0x08, command::DISABLE);
        assert_eq!(dma.service(2, &mut dev, &mut mem).bytes, 0);
        dma.write8(0x08, 0);
        // Channel masked via the all-mask register, then opened with clear-mask.
        dma.write8(0x0F, 0x0F);
        assert_eq!(dma.read8(0x0F) & 0x0F, 0x0F);
        assert_eq!(dma.service(2, &mut dev, &mut mem).bytes, 0);
        dma.write8(0x0E, 0);
        assert_eq!(dma.service(2, &mut dev, &mut mem).bytes, 10);
        // Master clear masks all again and resets the flip-flop.
        dma.write8(0x04, 0x12);
        dma.write8(0x0D, 0);
        assert_eq!(dma.dma1.mask, 0x0F);
        assert!(!dma.dma1.flip_flop);
    }

    #[test]
    fn verify_clocks_the_device_without_touching_memory() {
        let mut dma = Dma8237::new();
        program(&mut dma, 2, 0, 0, 4, mode::VERIFY);
        let mut dev = TestDev { give: vec![9; 5], ..Default::default() };
        let mut mem = vec![0u8; 16];
        let r = dma.service(2, &mut dev, &mut mem);
        assert_eq!((r.bytes, r.tc, r.written), (5, true, None));
        assert!(mem.iter().all(|&b| b == 0));
    }

    #[test]
    fn request_register_and_unknown_ports() {
        let mut dma = Dma8237::new();
        dma.write8(0x09, 0x05); // set request channel 1
        assert_eq!(dma.read8(0x08) & 0x20, 0x20);
        dma.write8(0x09, 0x01);
        assert_eq!(dma.read8(0x08) & 0x20, 0);
        assert_eq!(dma.read8(0x0B), 0xFF, "write-only register");
        assert_eq!(dma.read8(0x300), 0xFF);
        dma.write8(0x300, 1);
        assert!(Dma8237::owns_port(0x81) && Dma8237::owns_port(0xDF) && !Dma8237::owns_port(0xE0));
    }

    #[test]
    fn random_port_writes_never_panic() {
        let mut dma = Dma8237::new();
        let mut x: u32 = 0x1234_5678;
        let mut mem = vec![0u8; 0x1000];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let port = [0x00u16, 0x80, 0xC0][(x % 3) as usize] + ((x >> 8) % 32) as u16;
            if x & 0x8000_0000 != 0 {
                dma.write8(port, (x >> 16) as u8);
            } else {
                dma.read8(port);
            }
            if x.is_multiple_of(97) {
                let mut dev = TestDev { give: vec![1; 40], ..Default::default() };
                dma.service((x >> 3) as usize % 8, &mut dev, &mut mem);
            }
        }
    }
}
