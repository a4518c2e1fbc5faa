//! The PC: the CPU wired to memory and devices, virtual time, and the run loop.
//!
//! One ownership tree: [`Machine`] owns the [`Cpu`] and the [`PcBus`]; the bus owns memory, the
//! clock and every device as a concrete field. Port accesses dispatch through a `match` on the
//! port number in [`PcBus::io_in`]/[`PcBus::io_out`] — no `Rc<RefCell<dyn Device>>`, no virtual
//! calls: a reader can follow a port write by reading one function, and the hot path stays
//! monomorphic.
//!
//! Devices never reach sideways. After a device is touched (a port access, a deadline, host
//! input) the bus copies its interrupt line levels into the PIC ([`PcBus::update_irqs`]), re-arms
//! its deadline in the [`clock::Scheduler`], and applies the events it reports (A20 changed,
//! reset requested) — the wiring of a motherboard, in one place.
//!
//! ```text
//!   IRQ0 PIT counter 0   IRQ1 keyboard (8042)   IRQ3 COM2   IRQ4 COM1   IRQ8 RTC   IRQ12 PS/2 mouse
//! ```

pub mod clock;
pub mod exits;
pub mod io;
pub mod memory;
pub mod multiboot;

use crate::cpu::{Cpu, CpuBus, Eflags, RunExit};
use crate::devices::ata::AtaChannel;
use crate::devices::debugcon::{DEBUGCON_PORT, DebugCon, Sink};
use crate::devices::debugexit::{DEBUGEXIT_PORT, DebugExit};
use crate::devices::disk::{Chs, Disk};
use crate::devices::dma8237::Dma8237;
use crate::devices::fdc82077::{FDC_DMA_CHANNEL, Fdc82077};
use crate::devices::kbc8042::{self, Kbc8042, KbcEvent};
use crate::devices::pic8259::PicPair;
use crate::devices::pit8254::{self, Pit8254};
use crate::devices::port92::{PORT92, Port92, Port92Event};
use crate::devices::rtc_cmos::{self, CmosConfig, RtcCmos};
use crate::devices::uart16550::{self, Uart16550};
use crate::devices::vga::Vga;
use clock::{Clock, Scheduler, Tick, Timer};
use memory::Memory;
use std::sync::mpsc::{Receiver, TryRecvError};

/// Settings for building a machine.
pub struct MachineConfig {
    /// RAM in bytes.
    pub ram_bytes: usize,
    /// The BIOS image.
    pub bios: Vec<u8>,
    /// Where port 0xE9 output goes.
    pub debugcon: Sink,
    /// Where COM1's output goes.
    pub serial: Sink,
    /// Nominal instructions per second (guest time per instruction).
    pub ips: u64,
    /// RTC start time, seconds since the Unix epoch.
    pub rtc_unix: i64,
    /// What the CMOS says about the installed hardware (the machine fills in the drives).
    pub cmos: CmosConfig,
    /// Floppy drives A: and B:.
    pub floppies: [Option<Disk>; 2],
    /// ATA disks: primary master, primary slave, secondary master, secondary slave.
    pub hard_disks: [Option<Disk>; 4],
    /// Boot order for the BIOS (CMOS 0x3D): e.g. `[Floppy, HardDisk]`.
    pub boot_order: [BootDevice; 2],
    /// An option ROM to map at 0xC0000 (a VGA BIOS).
    pub vga_bios: Option<Vec<u8>>,
}

/// Host input given to the guest: a byte typed on COM1's host side, or a key pressed or
/// released on the PC keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostInput {
    Serial(u8),
    Key(kbc8042::Key, bool),
}

/// Host input with the moment it reached the guest: the instruction count and the guest time
/// (the time alone can move while the count stands still, when a halted CPU skips to the next
/// device event). Replaying the same events at the same moments from the same state gives the
/// same run, instruction for instruction (see [`Machine::replay`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputEvent {
    pub icount: u64,
    pub tick: u64,
    pub input: HostInput,
}

impl InputEvent {
    fn at(&self) -> (u64, u64) {
        (self.icount, self.tick)
    }
}

/// A device the BIOS can boot from (CMOS 0x3D codes, the Bochs/QEMU convention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootDevice {
    None = 0,
    Floppy = 1,
    HardDisk = 2,
}

/// CMOS index of the boot order byte: low nibble the first device, high nibble the second.
pub const CMOS_BOOT_ORDER: u8 = 0x3D;

/// Everything the CPU reaches over the bus.
pub struct PcBus {
    pub mem: Memory,
    pub clock: Clock,
    pub sched: Scheduler,
    /// The instruction count at the last [`CpuBus::sync`]: "now" for device accesses.
    icount: u64,
    pub pic: PicPair,
    pub pit: Pit8254,
    pub rtc: RtcCmos,
    pub kbc: Kbc8042,
    pub port92: Port92,
    pub com1: Uart16550,
    pub com2: Uart16550,
    pub vga: Vga,
    pub dma: Dma8237,
    pub fdc: Fdc82077,
    /// Primary and secondary ATA channels.
    pub ata: [AtaChannel; 2],
    /// Text a firmware is writing to its message port, until the newline.
    firmware_line: Vec<u8>,
    /// The earliest device deadline when the current run slice was planned (the slice ends
    /// there). A port access that arms an earlier one stops the slice
    /// ([`CpuBus::stop_requested`]), so every deadline is handled at the first instruction
    /// boundary at or after it, wherever the run's slices happen to end (the window's pacing,
    /// a replayed input's moment): what makes a run recorded in the window replay exactly.
    slice_horizon: Tick,
    /// Physical range written by DMA since the CPU last asked (its decoded code may be stale).
    dma_written: Option<(u32, u32)>,
    /// The host side of COM1's output.
    pub serial_out: DebugCon,
    pub debugcon: DebugCon,
    pub debugexit: DebugExit,
    /// Exit accounting (trap-and-emulate, made visible).
    pub exits: exits::Exits,
    /// INTR as last computed from the PIC (read on every instruction, so cached).
    intr: bool,
    /// The A20 line the chipset drives: 8042 output port OR port 92.
    pub a20: bool,
    /// A device asked for a CPU reset (8042 pulse, port 92).
    pub reset_requested: bool,
    /// Every host input delivered to the guest, in order, with its moment (for exact replay).
    pub input_log: Vec<InputEvent>,
    /// The A20 line changed and the CPU has not been told yet.
    a20_changed: bool,
    /// Reads of COM1's LSR in a row that found no data (DR = 0), with no other COM1 access in
    /// between: a guest polling for input (paced host input, see [`Machine::serial_paced`]).
    /// Host-side bookkeeping, not device state: not in snapshots.
    pub com1_empty_polls: u32,
    /// The Multiboot option ROM wrote its block's address to [`multiboot::HOOK_PORT`].
    multiboot_hook: Option<u32>,
}

impl PcBus {
    /// Guest time of the current instruction.
    #[inline]
    pub fn now(&self) -> Tick {
        self.clock.now(self.icount)
    }

    /// Copies every device's interrupt line into the PIC and recomputes INTR.
    pub fn update_irqs(&mut self) {
        let now = self.now();
        self.pic.set_irq(0, self.pit.out(0, now));
        self.pic.set_irq(1, self.kbc.irq1_level());
        self.pic.set_irq(3, self.com2.irq_level());
        self.pic.set_irq(4, self.com1.irq_level());
        self.pic.set_irq(6, self.fdc.irq_level());
        self.pic.set_irq(8, self.rtc.irq_level());
        self.pic.set_irq(12, self.kbc.irq12_level());
        self.pic.set_irq(14, self.ata[0].irq_level());
        self.pic.set_irq(15, self.ata[1].irq_level());
        self.intr = self.pic.intr();
    }

    /// Re-arms every device deadline.
    fn rearm(&mut self) {
        let now = self.now();
        // The PIT is re-armed only when it is programmed and when its deadline is handled (at
        // the deadline's own tick), so a late deadline is never skipped past an OUT0 edge.
        self.sched.set(Timer::Rtc, self.rtc.next_deadline(now));
        self.sched.set(Timer::Kbc, self.kbc.next_deadline());
        self.sched.set(Timer::Com1, self.com1.next_deadline());
        self.sched.set(Timer::Com2, self.com2.next_deadline());
    }

    /// Brings every device whose deadline has come up to `now`.
    fn run_timers(&mut self) {
        let now = self.now();
        while let Some((t, which)) = self.sched.next() {
            if t > now {
                break;
            }
            match which {
                Timer::Pit => {
                    // Sample OUT0 at the edge's own time: a mode-2 low pulse lasts one PIT clock
                    // (838 ns), so sampling "now" could miss it. The PIC latches rising edges.
                    self.pic.set_irq(0, self.pit.out(0, t));
                    self.sched.set(Timer::Pit, self.pit.next_deadline(t));
                    self.after_device_change();
                    continue;
                }
                Timer::Rtc => self.rtc.sync(now),
                Timer::Kbc => self.kbc.update(now),
                Timer::Com1 => self.com1.update(now),
                Timer::Com2 => self.com2.update(now),
                _ => {}
            }
            self.sched.set(which, None);
            self.after_device_change();
            // A device whose deadline is still not in the future has nothing more to do now.
            if self.sched.get(which).is_some_and(|d| d <= now) {
                self.sched.set(which, None);
            }
        }
    }

    /// After any device access: IRQ lines, deadlines, events, serial output.
    fn after_device_change(&mut self) {
        for e in self.kbc.take_events() {
            match e {
                KbcEvent::A20Changed(_) => self.set_a20(),
                KbcEvent::ResetRequested => self.reset_requested = true,
            }
        }
        for e in self.port92.take_events() {
            match e {
                Port92Event::A20Changed(_) => self.set_a20(),
                Port92Event::ResetRequested => self.reset_requested = true,
            }
        }
        while let Some(b) = self.com1.take_tx() {
            self.serial_out.write(b);
        }
        while self.com2.take_tx().is_some() {}
        self.update_irqs();
        self.rearm();
    }

    /// Lets the 8237 move bytes between the floppy controller and RAM (channel 2), and
    /// remembers what RAM it wrote.
    fn service_dma(&mut self) {
        let r = self.dma.service(FDC_DMA_CHANNEL, &mut self.fdc, &mut self.mem);
        if let Some((lo, hi)) = r.written {
            self.dma_written = Some(match self.dma_written {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        }
    }

    fn set_a20(&mut self) {
        let a20 = self.kbc.a20() || self.port92.a20();
        if a20 != self.a20 {
            self.a20 = a20;
            self.a20_changed = true;
        }
    }

    /// The A20 line changed and the CPU has not been told yet (saved in snapshots).
    pub fn a20_changed(&self) -> bool {
        self.a20_changed
    }

    /// After a snapshot restored the devices: rebuilds the bus's derived state (the cached INTR
    /// line from the PIC, the sync point) without touching any device or interrupt line.
    pub fn rebuild_after_restore(&mut self, icount: u64, a20_changed: bool) {
        self.icount = icount;
        self.a20_changed = a20_changed;
        self.intr = self.pic.intr();
        self.dma_written = None;
        self.firmware_line.clear();
    }

    /// A key pressed or released on the host keyboard.
    pub fn key_event(&mut self, key: kbc8042::Key, pressed: bool) {
        let now = self.now();
        self.input_log.push(InputEvent { icount: self.icount, tick: now.0, input: HostInput::Key(key, pressed) });
        self.kbc.key_event(key, pressed, now);
        self.after_device_change();
    }

    /// A byte typed on the host side of COM1. False if the line's buffer is full.
    pub fn serial_input(&mut self, byte: u8) -> bool {
        let now = self.now();
        self.input_log.push(InputEvent { icount: self.icount, tick: now.0, input: HostInput::Serial(byte) });
        let ok = self.com1.receive(byte, now);
        self.after_device_change();
        ok
    }
}

/// The VGA memory window (MMIO): 0xA0000-0xBFFFF.
const VGA_WINDOW: std::ops::Range<u32> = 0xA_0000..0xC_0000;

impl PcBus {
    #[cold]
    fn read8_slow(&mut self, addr: u32) -> u8 {
        if VGA_WINDOW.contains(&addr) {
            self.exits.mmio("vga");
            return self.vga.mem_read(addr);
        }
        self.mem.read8(addr)
    }
    #[cold]
    fn write8_slow(&mut self, addr: u32, value: u8) {
        if VGA_WINDOW.contains(&addr) {
            self.exits.mmio("vga");
            return self.vga.mem_write(addr, value);
        }
        self.mem.write8(addr, value)
    }
    /// True when `len` bytes at `addr` are plain RAM (the common case).
    #[inline(always)]
    fn plain(&self, addr: u32, len: u32) -> bool {
        (addr as u64 + len as u64) <= self.mem.fast_limit() as u64 || {
            let end = addr as u64 + len as u64;
            addr >= memory::ONE_MIB && end <= self.mem.ram.len() as u64
        }
    }
    /// `N` bytes of plain RAM (the caller checked [`PcBus::plain`]): one slice copy, below
    /// and above 1 MiB alike.
    #[inline(always)]
    fn ram_read<const N: usize>(&self, addr: u32) -> [u8; N] {
        let a = addr as usize;
        let mut b = [0; N];
        b.copy_from_slice(&self.mem.ram[a..a + N]);
        b
    }
    #[inline(always)]
    fn ram_write<const N: usize>(&mut self, addr: u32, b: [u8; N]) {
        let a = addr as usize;
        self.mem.ram[a..a + N].copy_from_slice(&b);
    }
}

impl CpuBus for PcBus {
    #[inline]
    fn read8(&mut self, addr: u32) -> u8 {
        if self.plain(addr, 1) { self.mem.ram[addr as usize] } else { self.read8_slow(addr) }
    }
    #[inline]
    fn write8(&mut self, addr: u32, value: u8) {
        if self.plain(addr, 1) { self.mem.ram[addr as usize] = value } else { self.write8_slow(addr, value) }
    }
    #[inline]
    fn read16(&mut self, addr: u32) -> u16 {
        if self.plain(addr, 2) {
            u16::from_le_bytes(self.ram_read(addr))
        } else {
            u16::from_le_bytes([self.read8_slow(addr), self.read8_slow(addr.wrapping_add(1))])
        }
    }
    #[inline]
    fn read32(&mut self, addr: u32) -> u32 {
        if self.plain(addr, 4) {
            u32::from_le_bytes(self.ram_read(addr))
        } else {
            u32::from_le_bytes(std::array::from_fn(|i| self.read8_slow(addr.wrapping_add(i as u32))))
        }
    }
    #[inline]
    fn write16(&mut self, addr: u32, value: u16) {
        if self.plain(addr, 2) {
            self.ram_write(addr, value.to_le_bytes())
        } else {
            for (i, b) in value.to_le_bytes().into_iter().enumerate() {
                self.write8_slow(addr.wrapping_add(i as u32), b);
            }
        }
    }
    #[inline]
    fn write32(&mut self, addr: u32, value: u32) {
        if self.plain(addr, 4) {
            self.ram_write(addr, value.to_le_bytes())
        } else {
            for (i, b) in value.to_le_bytes().into_iter().enumerate() {
                self.write8_slow(addr.wrapping_add(i as u32), b);
            }
        }
    }
    #[inline(always)]
    fn ram(&mut self) -> &mut [u8] {
        &mut self.mem.ram
    }
    fn ram_page(&self, page: u32) -> bool {
        self.plain(page, 0x1000)
    }
    fn fetch(&mut self, addr: u32, buf: &mut [u8]) {
        if VGA_WINDOW.contains(&addr) {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = self.read8_slow(addr.wrapping_add(i as u32));
            }
        } else {
            self.mem.fetch(addr, buf)
        }
    }

    fn sync(&mut self, icount: u64) {
        self.icount = icount;
    }

    fn io_in(&mut self, port: u16, size: u8) -> u32 {
        self.exits.port_read(port);
        let now = self.now();
        let v = match port {
            DEBUGCON_PORT => self.debugcon.read() as u32,
            0x20 | 0x21 | 0xA0 | 0xA1 | 0x4D0 | 0x4D1 => self.pic.read(port) as u32,
            pit8254::PIT_COUNTER0..=pit8254::PIT_COMMAND => self.pit.read(port, now) as u32,
            pit8254::SYSTEM_CONTROL_PORT_B => self.pit.read_port61(now) as u32,
            rtc_cmos::RTC_INDEX | rtc_cmos::RTC_DATA => self.rtc.read(port, now) as u32,
            kbc8042::KBC_DATA | kbc8042::KBC_STATUS => self.kbc.read(port, now) as u32,
            PORT92 => self.port92.read() as u32,
            0x3F8..=0x3FF => {
                let v = self.com1.read(port, now);
                let empty_lsr = port == uart16550::COM1_BASE + uart16550::REG_LSR && v & 1 == 0;
                self.com1_empty_polls = if empty_lsr { self.com1_empty_polls.saturating_add(1) } else { 0 };
                v as u32
            }
            0x2F8..=0x2FF => self.com2.read(port, now) as u32,
            0x00..=0x0F | 0x81..=0x8F | 0xC0..=0xDF => {
                let v = self.dma.read8(port) as u32;
                self.service_dma();
                v
            }
            0x1F0..=0x1F7 | 0x3F6 | 0x170..=0x177 | 0x376 => {
                let ch = if self.ata[0].owns_port(port) { 0 } else { 1 };
                let v = match size {
                    1 => self.ata[ch].read8(port) as u32,
                    2 => self.ata[ch].read16(port) as u32,
                    _ => self.ata[ch].read32(port),
                };
                self.after_device_change();
                return v & size_mask(size);
            }
            0x3F0..=0x3F5 | 0x3F7 => {
                let v = self.fdc.read8(port) as u32;
                self.service_dma();
                v
            }
            0x3B0..=0x3DF => {
                // The VGA's registers come in index/data pairs: a word read reads both.
                let lo = self.vga.io_read(port, now) as u32;
                if size > 1 {
                    let hi = self.vga.io_read(port.wrapping_add(1), now) as u32;
                    return (lo | hi << 8 | if size > 2 { 0xFFFF_0000 } else { 0 }) & size_mask(size);
                }
                return lo;
            }
            _ => {
                log::trace!("in from unassigned port {port:#06x}");
                return size_mask(size); // open bus: all ones
            }
        };
        self.after_device_change();
        // Devices here are 8 bits wide: a wider access reads the byte and open bus above it.
        (if size > 1 { v | (u32::MAX << 8) } else { v }) & size_mask(size)
    }

    fn io_out(&mut self, port: u16, size: u8, value: u32) {
        self.exits.port_write(port);
        let value = value & size_mask(size);
        let now = self.now();
        let b = value as u8;
        match port {
            // A word or dword write sends its low byte (as Bochs and QEMU do).
            DEBUGCON_PORT => self.debugcon.write(b),
            DEBUGEXIT_PORT => self.debugexit.write(value),
            0x20 | 0x21 | 0xA0 | 0xA1 | 0x4D0 | 0x4D1 => self.pic.write(port, b),
            pit8254::PIT_COUNTER0..=pit8254::PIT_COMMAND => {
                self.pit.write(port, b, now);
                self.sched.set(Timer::Pit, self.pit.next_deadline(now));
            }
            pit8254::SYSTEM_CONTROL_PORT_B => {
                self.pit.write_port61(b, now);
                self.sched.set(Timer::Pit, self.pit.next_deadline(now));
            }
            rtc_cmos::RTC_INDEX | rtc_cmos::RTC_DATA => self.rtc.write(port, b, now),
            kbc8042::KBC_DATA | kbc8042::KBC_STATUS => self.kbc.write(port, b, now),
            PORT92 => self.port92.write(b),
            0x3F8..=0x3FF => {
                self.com1_empty_polls = 0;
                self.com1.write(port, b, now)
            }
            0x2F8..=0x2FF => self.com2.write(port, b, now),
            0x00..=0x0F | 0x81..=0x8F | 0xC0..=0xDF => {
                self.dma.write8(port, b);
                self.service_dma();
            }
            0x1F0..=0x1F7 | 0x3F6 | 0x170..=0x177 | 0x376 => {
                // The data port moves 16 or 32 bits in one access, never split into bytes.
                let ch = if self.ata[0].owns_port(port) { 0 } else { 1 };
                match size {
                    1 => self.ata[ch].write8(port, b),
                    2 => self.ata[ch].write16(port, value as u16),
                    _ => self.ata[ch].write32(port, value),
                }
            }
            0x3F0..=0x3F5 | 0x3F7 => {
                self.fdc.write8(port, b);
                self.service_dma();
            }
            0x3B0..=0x3DF => {
                // Word writes to an index port set index and data (OUT DX, AX is how BIOSes
                // program the sequencer, CRTC and graphics controller).
                self.vga.io_write(port, b);
                if size > 1 {
                    self.vga.io_write(port.wrapping_add(1), (value >> 8) as u8);
                }
                return;
            }
            // POST diagnostic port (shared with DMA page register space): accepted silently.
            0x80 => {}
            // The Multiboot option ROM's hand-over (see machine/multiboot.rs): the run loop acts
            // on it after this instruction.
            multiboot::HOOK_PORT if size == 4 => {
                self.multiboot_hook = Some(value);
                return;
            }
            // Bochs's BIOS message ports (0x400-0x403) and the LGPL VGA BIOS's (0x500): their
            // text goes to the log, a line at a time (RUST_LOG=info).
            0x400..=0x403 | 0x500 => {
                if b == b'\n' {
                    log::info!("firmware (port {port:#x}): {}", String::from_utf8_lossy(&self.firmware_line));
                    self.firmware_line.clear();
                } else if self.firmware_line.len() < 512 {
                    self.firmware_line.push(b);
                }
                return;
            }
            _ => {
                log::trace!("out {value:#x} to unassigned port {port:#06x}");
                return;
            }
        }
        self.after_device_change();
    }

    #[inline]
    fn intr(&self) -> bool {
        self.intr
    }

    fn inta(&mut self) -> u8 {
        let v = self.pic.inta();
        self.intr = self.pic.intr();
        v
    }

    fn take_invalidation(&mut self) -> Option<(u32, u32)> {
        self.dma_written.take()
    }

    fn stop_requested(&self) -> bool {
        self.debugexit.status.is_some()
            || self.reset_requested
            || self.a20_changed
            || self.multiboot_hook.is_some()
            || self.sched.next().is_some_and(|(t, _)| t < self.slice_horizon)
    }
}

fn size_mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => u32::MAX,
    }
}

/// Why [`Machine::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The guest wrote to the exit device; the process exit status it asked for.
    GuestExit(i32),
    /// The instruction budget is used up.
    Budget,
    /// HLT with nothing that could ever wake the CPU.
    HaltedForever,
    /// A triple fault shut the CPU down (when the machine is set to stop on it).
    TripleFault,
}

pub struct Machine {
    pub cpu: Cpu,
    pub bus: PcBus,
    /// Stop the run on a triple fault instead of resetting as a PC does.
    pub stop_on_triple_fault: bool,
    /// Triple faults seen (each one reset the machine unless `stop_on_triple_fault`).
    pub triple_faults: u64,
    /// Host input for COM1 (e.g. a thread reading stdin); `None` when nothing is connected.
    pub serial_input: Option<Receiver<u8>>,
    /// Paced host input: bytes from `serial_input` enter COM1 only at guest-determined moments
    /// (see [`Machine::paced_input_point`]), and the machine waits for the host when the guest
    /// is ready for a byte that has not come yet. Two runs with the same input then give the
    /// same output and instruction counts, whatever the host's timing. Off: bytes enter as they
    /// arrive (a person typing at a terminal, a window).
    pub serial_paced: bool,
    /// The Multiboot kernel to start when the option ROM asks (`--kernel`).
    pub multiboot: Option<multiboot::Multiboot>,
    /// Recorded host input still to give the guest, oldest first: each event is delivered when
    /// the run reaches its moment (the run stops there to deliver it), keys before the device
    /// deadlines due at that moment are handled and serial bytes after, as when they were
    /// recorded. Fill it from a [`PcBus::input_log`].
    pub replay: std::collections::VecDeque<InputEvent>,
}

/// [`PcBus::com1_empty_polls`] at which a guest counts as polling COM1 for input.
pub const POLLS_FOR_INPUT: u32 = 64;

/// Instructions run between checks of host input when no device deadline is nearer.
const SLICE: u64 = 1_000_000;

impl Machine {
    pub fn new(cfg: MachineConfig) -> Result<Machine, memory::RomError> {
        let mem = Memory::new(cfg.ram_bytes, cfg.bios.clone())?;
        let mut cpu = Cpu::new();
        cpu.cache.track_memory(cfg.ram_bytes as u64);
        let mut mem = mem;
        if let Some(rom) = cfg.vga_bios {
            mem.map_option_rom(0xC_0000, rom)?;
        }
        let mut cmos = cfg.cmos.clone();
        for (i, f) in cfg.floppies.iter().enumerate() {
            cmos.floppies[i] = match f.as_ref().map(|d| d.len_bytes()) {
                None => rtc_cmos::FloppyType::None,
                Some(368_640) | Some(163_840) | Some(184_320) | Some(327_680) => rtc_cmos::FloppyType::Kb360,
                Some(1_228_800) => rtc_cmos::FloppyType::Mb1_2,
                Some(737_280) => rtc_cmos::FloppyType::Kb720,
                Some(2_949_120) => rtc_cmos::FloppyType::Mb2_88,
                Some(_) => rtc_cmos::FloppyType::Mb1_44,
            };
        }
        cmos.hard_disks = [cfg.hard_disks[0].is_some(), cfg.hard_disks[1].is_some()];
        // The geometry each ATA disk reports in IDENTIFY DEVICE, for the type-47 fields.
        cmos.hard_disk_geometry =
            std::array::from_fn(|i| cfg.hard_disks[i].as_ref().map(|d| Chs::ata_default(d.sectors())));
        let mut rtc = RtcCmos::new(cfg.rtc_unix);
        rtc.fill_pc_cmos(&cmos);
        rtc.set_nvram(CMOS_BOOT_ORDER, cfg.boot_order[0] as u8 | (cfg.boot_order[1] as u8) << 4);
        rtc.update_checksum();
        let mut fdc = Fdc82077::new();
        let mut ata = [AtaChannel::primary(), AtaChannel::secondary()];
        let [fda, fdb] = cfg.floppies;
        for (i, d) in [fda, fdb].into_iter().enumerate() {
            if let Some(d) = d {
                let _ = fdc.insert_disk(i, d);
            } else {
                fdc.set_drive_present(i, i == 0);
            }
        }
        for (i, d) in cfg.hard_disks.into_iter().enumerate() {
            if let Some(d) = d {
                let _ = ata[i / 2].attach(i % 2, d);
            }
        }
        let mut bus = PcBus {
            mem,
            clock: Clock::new(cfg.ips),
            sched: Scheduler::default(),
            icount: 0,
            pic: PicPair::new(),
            pit: Pit8254::new(),
            rtc,
            kbc: Kbc8042::new(),
            port92: Port92::new(),
            com1: Uart16550::new(uart16550::COM1_BASE),
            com2: Uart16550::new(uart16550::COM2_BASE),
            vga: Vga::new(),
            dma: Dma8237::new(),
            fdc,
            ata,
            dma_written: None,
            firmware_line: Vec::new(),
            slice_horizon: Tick::NEVER,
            serial_out: DebugCon::new(cfg.serial),
            debugcon: DebugCon::new(cfg.debugcon),
            debugexit: DebugExit::default(),
            exits: exits::Exits::default(),
            intr: false,
            a20: true,
            reset_requested: false,
            a20_changed: false,
            com1_empty_polls: 0,
            multiboot_hook: None,
            input_log: Vec::new(),
        };
        bus.a20 = bus.kbc.a20() || bus.port92.a20();
        cpu.a20_mask = if bus.a20 { u32::MAX } else { !(1 << 20) };
        bus.after_device_change();
        Ok(Machine {
            cpu,
            bus,
            stop_on_triple_fault: false,
            triple_faults: 0,
            serial_input: None,
            serial_paced: false,
            multiboot: None,
            replay: std::collections::VecDeque::new(),
        })
    }

    /// Boots `kernel` instead of a disk (`--kernel`): maps the Multiboot option ROM at
    /// [`multiboot::ROM_BASE`], which hooks INT 19h during POST (see [`multiboot`]). Call once,
    /// before the first instruction.
    pub fn set_multiboot(&mut self, kernel: multiboot::Multiboot) -> Result<(), memory::RomError> {
        self.bus.mem.map_option_rom(multiboot::ROM_BASE, multiboot::option_rom())?;
        self.multiboot = Some(kernel);
        Ok(())
    }

    /// Guest time now.
    pub fn now(&self) -> Tick {
        self.bus.clock.now(self.cpu.icount)
    }

    /// A key pressed or released on the host keyboard, now (between runs): the bus is brought
    /// to the CPU's instruction count first, so the event is timed (and recorded) exactly.
    pub fn key_event(&mut self, key: kbc8042::Key, pressed: bool) {
        self.bus.sync(self.cpu.icount);
        self.bus.key_event(key, pressed);
    }

    /// Delivers the replayed events whose moment has come: keys (`keys`) or serial bytes.
    fn deliver_replay(&mut self, keys: bool) {
        let now = (self.cpu.icount, self.now().0);
        while let Some(e) = self.replay.front().copied() {
            if e.at() > now || matches!(e.input, HostInput::Key(..)) != keys {
                break;
            }
            if e.at() < now {
                log::warn!(
                    "replay: input recorded at #{} (tick {}) delivered late, at #{} (tick {})",
                    e.icount,
                    e.tick,
                    now.0,
                    now.1
                );
            }
            self.replay.pop_front();
            match e.input {
                HostInput::Serial(b) => {
                    self.bus.serial_input(b);
                }
                HostInput::Key(k, down) => self.bus.key_event(k, down),
            }
        }
    }

    /// How far the run may go before the next replayed event: instructions, and a guest time
    /// a halted CPU must not skip past.
    fn replay_bounds(&self, limit: Tick) -> (u64, Tick) {
        match self.replay.front() {
            Some(e) if e.icount > self.cpu.icount => (e.icount - self.cpu.icount, limit),
            Some(e) => (1, limit.min(Tick(e.tick))),
            None => (u64::MAX, limit),
        }
    }

    /// Feeds host serial input that has arrived. Returns false once the input is closed.
    fn poll_serial_input(&mut self) -> bool {
        if self.serial_input.is_none() {
            return false;
        }
        if self.serial_paced {
            // Only at an input point: here, a guest that polls LSR for data.
            if self.bus.com1_empty_polls >= POLLS_FOR_INPUT {
                self.paced_input_point();
            }
            return self.serial_input.is_some();
        }
        // Whatever the guest printed without a newline (a prompt) is shown now.
        self.bus.serial_out.flush();
        let Some(rx) = &self.serial_input else { return false };
        loop {
            match rx.try_recv() {
                Ok(b) => {
                    let bus = &mut self.bus;
                    if !bus.serial_input(b) {
                        // The line buffer is full: hold the byte back by re-queuing is not
                        // possible with a channel, so wait until the guest drains it.
                        log::debug!("serial: host input buffer full, byte {b:#04x} dropped");
                    }
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => {
                    self.serial_input = None;
                    return false;
                }
            }
        }
    }

    /// Paced host input (see [`Machine::serial_paced`]): if COM1 is ready for the host's next
    /// byte ([`Uart16550::ready_for_host_input`]: RTS up, nothing in flight either way), show
    /// the guest's output so far, wait for the host's next byte and start it into the receiver;
    /// at the end of the host's input, stop waiting for good. Called at the two moments a guest
    /// shows it waits for input, both functions of guest state and the instruction count only:
    /// HLT with interrupts enabled and COM1's receive interrupt enabled (IER.ERBFI) and routed
    /// (MCR.OUT2), or [`POLLS_FOR_INPUT`] reads of LSR in a row that found no data.
    fn paced_input_point(&mut self) {
        let Some(rx) = &self.serial_input else { return };
        if !self.bus.com1.ready_for_host_input() {
            return;
        }
        self.bus.serial_out.flush();
        self.bus.debugcon.flush();
        match rx.recv() {
            Ok(b) => {
                self.bus.sync(self.cpu.icount);
                self.bus.serial_input(b);
            }
            Err(_) => self.serial_input = None,
        }
        self.bus.com1_empty_polls = 0;
    }

    /// Applies what devices asked of the CPU: the A20 line and resets.
    fn apply_chipset_events(&mut self) {
        if self.bus.a20_changed {
            self.bus.a20_changed = false;
            self.cpu.a20_mask = if self.bus.a20 { u32::MAX } else { !(1 << 20) };
            self.cpu.flush_tlb(true);
            self.cpu.cache.flush();
            log::debug!("A20 {}", if self.bus.a20 { "enabled" } else { "disabled" });
        }
        if self.bus.reset_requested {
            self.bus.reset_requested = false;
            log::info!("reset requested by the chipset (8042 or port 92)");
            self.cpu.reset();
        }
        if let Some(block) = self.bus.multiboot_hook.take() {
            // Only the option ROM's INT 19h (real mode) hands over; a kernel poking the port
            // later changes nothing.
            match self.multiboot.take() {
                Some(mb) if self.cpu.mode() == crate::cpu::Mode::Real => {
                    mb.hand_over(self, block);
                    self.multiboot = Some(mb);
                }
                other => {
                    log::debug!("port {:#x} written with no Multiboot kernel to start", multiboot::HOOK_PORT);
                    self.multiboot = other;
                }
            }
        }
    }

    /// Runs until the guest exits, halts for good, or `budget` instructions have executed.
    pub fn run(&mut self, budget: u64) -> Stop {
        self.run_until(budget, Tick::NEVER)
    }

    /// [`Machine::run`], but guest time never passes `limit`: returns [`Stop::Budget`] once it
    /// reaches `limit`. A CPU halted waiting for an interrupt skips time to the next device
    /// event or to `limit`, whichever comes first, and with a finite `limit` a halted CPU that
    /// only host input could wake (interrupts enabled, no device deadline) waits in guest time
    /// too instead of ending the run. A front end that paces guest time to the wall clock calls
    /// this with `limit` = the guest time that corresponds to "now" and sleeps when it returns
    /// early (see `frontend::pacing`).
    pub fn run_until(&mut self, budget: u64, limit: Tick) -> Stop {
        let end = self.cpu.icount.saturating_add(budget);
        loop {
            let left = end.saturating_sub(self.cpu.icount);
            if left == 0 || self.now() >= limit {
                return Stop::Budget;
            }
            self.bus.sync(self.cpu.icount);
            if !self.replay.is_empty() {
                self.deliver_replay(true);
            }
            self.bus.run_timers();
            if !self.replay.is_empty() {
                self.deliver_replay(false);
            }
            let input_open = self.poll_serial_input() || !self.replay.is_empty();
            let (gap, halt_limit) = self.replay_bounds(limit);
            let n = match self.bus.sched.next() {
                Some((t, _)) => self.bus.clock.instructions_until(self.cpu.icount, t).max(1),
                None => SLICE,
            }
            .min(left)
            .min(SLICE)
            .min(gap)
            .min(self.bus.clock.instructions_until(self.cpu.icount, limit).max(1));
            self.bus.slice_horizon = self.bus.sched.next().map_or(Tick::NEVER, |(t, _)| t);
            let exit = self.cpu.run(&mut self.bus, n);
            self.bus.slice_horizon = Tick::NEVER;
            if let Some(stop) = self.settle(exit, input_open, halt_limit) {
                return stop;
            }
        }
    }

    /// Guest time of the next device event (the earliest armed deadline), if any.
    pub fn next_event(&self) -> Option<Tick> {
        self.bus.sched.next().map(|(t, _)| t)
    }

    /// Executes one CPU step — one instruction, or the delivery of one external interrupt —
    /// with the same bookkeeping as [`Machine::run`] around it (device deadlines, host input,
    /// the exit device, chipset events, HLT, triple faults). The debugger calls it when it has
    /// breakpoints to check between instructions; `run` stays the fast path.
    pub fn step(&mut self) -> Option<Stop> {
        self.step_until(Tick::NEVER)
    }

    /// [`Machine::step`], but a halted CPU skips guest time no further than `limit` (and, with a
    /// finite `limit`, waits there for host input instead of ending the run), as in
    /// [`Machine::run_until`].
    pub fn step_until(&mut self, limit: Tick) -> Option<Stop> {
        self.bus.sync(self.cpu.icount);
        if !self.replay.is_empty() {
            self.deliver_replay(true);
        }
        self.bus.run_timers();
        if !self.replay.is_empty() {
            self.deliver_replay(false);
        }
        let input_open = self.poll_serial_input() || !self.replay.is_empty();
        let halt_limit = self.replay_bounds(limit).1;
        // What `Cpu::run` does around each step, for a budget of one step.
        self.cpu.break_loop = false;
        self.cpu.step(&mut self.bus);
        let mut exit = RunExit::Budget;
        if std::mem::take(&mut self.cpu.break_loop) {
            if self.cpu.shutdown {
                exit = RunExit::TripleFault;
            } else if self.bus.stop_requested() {
                exit = RunExit::Stop;
            }
        }
        if exit == RunExit::Budget && self.cpu.halted && !(self.cpu.flags.get(Eflags::IF) && self.bus.intr()) {
            exit = RunExit::Halted;
        }
        self.settle(exit, input_open, halt_limit)
    }

    /// Acts on why the CPU stopped running: the exit device, chipset events, HLT (skipping guest
    /// time to the next device event), a triple fault. `Some` when the run is over.
    /// Guest time stops at `limit` (see [`Machine::run_until`]).
    fn settle(&mut self, exit: RunExit, input_open: bool, limit: Tick) -> Option<Stop> {
        match exit {
            RunExit::Budget => {}
            RunExit::Stop => {
                if let Some(s) = self.bus.debugexit.status {
                    self.flush();
                    return Some(Stop::GuestExit(s));
                }
                self.apply_chipset_events();
            }
            RunExit::Halted => {
                // HLT: skip guest time to the next device event. With interrupts disabled,
                // or nothing scheduled and no host input, nothing can ever wake the CPU.
                let can_wake = self.cpu.flags.get(Eflags::IF);
                // The guest is idle: what it printed without a newline (a prompt) is shown now.
                self.bus.serial_out.flush();
                self.bus.debugcon.flush();
                let com1 = &self.bus.com1;
                if can_wake
                    && self.serial_paced
                    && com1.ier.contains(uart16550::Ier::ERBFI)
                    && com1.mcr.contains(uart16550::Mcr::OUT2)
                {
                    self.paced_input_point();
                }
                // A replayed byte recorded here (a paced input point) is delivered here, and a
                // halted CPU skips no further than the next replayed event.
                let mut limit = limit;
                if !self.replay.is_empty() {
                    self.bus.sync(self.cpu.icount);
                    self.deliver_replay(false);
                    if let Some(e) = self.replay.front().filter(|e| e.icount == self.cpu.icount) {
                        limit = limit.min(Tick(e.tick));
                    }
                }
                // Paced input arrives only at input points, never to wake a halted CPU later.
                let input_open =
                    (input_open && self.serial_input.is_some() && !self.serial_paced) || !self.replay.is_empty();
                match self.bus.sched.next().map(|(t, _)| t).or((limit != Tick::NEVER).then_some(limit)) {
                    Some(t) if can_wake => {
                        let t = t.min(limit);
                        // The time-stamp counter keeps counting through the skipped time, at the
                        // nominal rate.
                        let skipped = self.bus.clock.instructions_until(self.cpu.icount, t);
                        self.cpu.tsc_offset = self.cpu.tsc_offset.wrapping_add(skipped);
                        self.bus.clock.skip_to(self.cpu.icount, t);
                    }
                    _ if can_wake && input_open => {
                        // Wait for the host to type something (a replayed event is due now).
                        if self.replay.is_empty() {
                            std::thread::sleep(std::time::Duration::from_millis(5));
                        }
                    }
                    _ => {
                        self.flush();
                        return Some(Stop::HaltedForever);
                    }
                }
            }
            RunExit::TripleFault => {
                self.triple_faults += 1;
                if self.stop_on_triple_fault {
                    self.flush();
                    return Some(Stop::TripleFault);
                }
                log::warn!("triple fault: resetting the machine, as a PC's chipset does on shutdown");
                self.cpu.reset();
            }
        }
        None
    }

    /// Flushes what the host has been given (COM1 and debug-console output, disk writes to the
    /// image files) without touching the guest's state: a byte still in COM1's transmitter stays
    /// there. The debugger calls this after each stop, so stepping and re-executing (going back
    /// in time) see the same machine.
    pub fn flush_host(&mut self) {
        self.bus.serial_out.flush();
        self.bus.debugcon.flush();
        if let Err(e) = self.bus.fdc.flush() {
            log::error!("floppy: cannot write the image back: {e}");
        }
        for ch in &mut self.bus.ata {
            if let Err(e) = ch.flush() {
                log::error!("disk: cannot write the image back: {e}");
            }
        }
    }

    /// Flushes host-side output (serial in flight, debug console).
    pub fn flush(&mut self) {
        self.bus.com1.flush_tx();
        while let Some(b) = self.bus.com1.take_tx() {
            self.bus.serial_out.write(b);
        }
        self.bus.serial_out.flush();
        self.bus.debugcon.flush();
        // Disk writes reach the image files here (and on the guest's FLUSH CACHE).
        if let Err(e) = self.bus.fdc.flush() {
            log::error!("floppy: cannot write the image back: {e}");
        }
        for ch in &mut self.bus.ata {
            if let Err(e) = ch.flush() {
                log::error!("disk: cannot write the image back: {e}");
            }
        }
    }
}
