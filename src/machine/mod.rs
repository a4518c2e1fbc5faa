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

use crate::cpu::{Cpu, CpuBus, Eflags, RunExit};
use crate::devices::debugcon::{DEBUGCON_PORT, DebugCon, Sink};
use crate::devices::debugexit::{DEBUGEXIT_PORT, DebugExit};
use crate::devices::kbc8042::{self, Kbc8042, KbcEvent};
use crate::devices::pic8259::PicPair;
use crate::devices::pit8254::{self, Pit8254};
use crate::devices::port92::{PORT92, Port92, Port92Event};
use crate::devices::rtc_cmos::{self, CmosConfig, RtcCmos};
use crate::devices::uart16550::{self, Uart16550};
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
    /// What the CMOS says about the installed hardware.
    pub cmos: CmosConfig,
}

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
    /// The A20 line changed and the CPU has not been told yet.
    a20_changed: bool,
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
        self.pic.set_irq(8, self.rtc.irq_level());
        self.pic.set_irq(12, self.kbc.irq12_level());
        self.intr = self.pic.intr();
    }

    /// Re-arms every device deadline.
    fn rearm(&mut self) {
        let now = self.now();
        self.sched.set(Timer::Pit, self.pit.next_deadline(now));
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
                Timer::Pit => {} // the PIT is computed from time; only IRQ0 needs sampling
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

    fn set_a20(&mut self) {
        let a20 = self.kbc.a20() || self.port92.a20();
        if a20 != self.a20 {
            self.a20 = a20;
            self.a20_changed = true;
        }
    }

    /// A key pressed or released on the host keyboard.
    pub fn key_event(&mut self, key: kbc8042::Key, pressed: bool) {
        let now = self.now();
        self.kbc.key_event(key, pressed, now);
        self.after_device_change();
    }

    /// A byte typed on the host side of COM1. False if the line's buffer is full.
    pub fn serial_input(&mut self, byte: u8) -> bool {
        let now = self.now();
        let ok = self.com1.receive(byte, now);
        self.after_device_change();
        ok
    }
}

impl CpuBus for PcBus {
    #[inline]
    fn read8(&mut self, addr: u32) -> u8 {
        self.mem.read8(addr)
    }
    #[inline]
    fn write8(&mut self, addr: u32, value: u8) {
        self.mem.write8(addr, value)
    }
    #[inline]
    fn read16(&mut self, addr: u32) -> u16 {
        u16::from_le_bytes(self.mem.read_n(addr))
    }
    #[inline]
    fn read32(&mut self, addr: u32) -> u32 {
        u32::from_le_bytes(self.mem.read_n(addr))
    }
    #[inline]
    fn write16(&mut self, addr: u32, value: u16) {
        self.mem.write_n(addr, value.to_le_bytes())
    }
    #[inline]
    fn write32(&mut self, addr: u32, value: u32) {
        self.mem.write_n(addr, value.to_le_bytes())
    }
    fn fetch(&mut self, addr: u32, buf: &mut [u8]) {
        self.mem.fetch(addr, buf)
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
            0x3F8..=0x3FF => self.com1.read(port, now) as u32,
            0x2F8..=0x2FF => self.com2.read(port, now) as u32,
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
            pit8254::PIT_COUNTER0..=pit8254::PIT_COMMAND => self.pit.write(port, b, now),
            pit8254::SYSTEM_CONTROL_PORT_B => self.pit.write_port61(b, now),
            rtc_cmos::RTC_INDEX | rtc_cmos::RTC_DATA => self.rtc.write(port, b, now),
            kbc8042::KBC_DATA | kbc8042::KBC_STATUS => self.kbc.write(port, b, now),
            PORT92 => self.port92.write(b),
            0x3F8..=0x3FF => self.com1.write(port, b, now),
            0x2F8..=0x2FF => self.com2.write(port, b, now),
            // POST diagnostic port: accepted silently.
            0x80 => {}
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

    fn stop_requested(&self) -> bool {
        self.debugexit.status.is_some() || self.reset_requested || self.a20_changed
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
}

/// Instructions run between checks of host input when no device deadline is nearer.
const SLICE: u64 = 1_000_000;

impl Machine {
    pub fn new(cfg: MachineConfig) -> Result<Machine, memory::RomError> {
        let mem = Memory::new(cfg.ram_bytes, cfg.bios)?;
        let mut cpu = Cpu::new();
        cpu.cache.track_memory(cfg.ram_bytes as u64);
        let mut rtc = RtcCmos::new(cfg.rtc_unix);
        rtc.fill_pc_cmos(&cfg.cmos);
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
            serial_out: DebugCon::new(cfg.serial),
            debugcon: DebugCon::new(cfg.debugcon),
            debugexit: DebugExit::default(),
            exits: exits::Exits::default(),
            intr: false,
            a20: true,
            reset_requested: false,
            a20_changed: false,
        };
        bus.a20 = bus.kbc.a20() || bus.port92.a20();
        cpu.a20_mask = if bus.a20 { u32::MAX } else { !(1 << 20) };
        bus.after_device_change();
        Ok(Machine { cpu, bus, stop_on_triple_fault: false, triple_faults: 0, serial_input: None })
    }

    /// Guest time now.
    pub fn now(&self) -> Tick {
        self.bus.clock.now(self.cpu.icount)
    }

    /// Feeds host serial input that has arrived. Returns false once the input is closed.
    fn poll_serial_input(&mut self) -> bool {
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
    }

    /// Runs until the guest exits, halts for good, or `budget` instructions have executed.
    pub fn run(&mut self, budget: u64) -> Stop {
        let end = self.cpu.icount.saturating_add(budget);
        loop {
            let left = end.saturating_sub(self.cpu.icount);
            if left == 0 {
                return Stop::Budget;
            }
            self.bus.sync(self.cpu.icount);
            self.bus.run_timers();
            let input_open = self.poll_serial_input();
            let n = match self.bus.sched.next() {
                Some((t, _)) => self.bus.clock.instructions_until(self.cpu.icount, t).max(1),
                None => SLICE,
            }
            .min(left)
            .min(SLICE);
            match self.cpu.run(&mut self.bus, n) {
                RunExit::Budget => {}
                RunExit::Stop => {
                    if let Some(s) = self.bus.debugexit.status {
                        self.flush();
                        return Stop::GuestExit(s);
                    }
                    self.apply_chipset_events();
                }
                RunExit::Halted => {
                    // HLT: skip guest time to the next device event. With interrupts disabled,
                    // or nothing scheduled and no host input, nothing can ever wake the CPU.
                    let can_wake = self.cpu.flags.get(Eflags::IF);
                    match self.bus.sched.next() {
                        Some((t, _)) if can_wake => self.bus.clock.skip_to(self.cpu.icount, t),
                        _ if can_wake && input_open => {
                            // Wait for the host to type something.
                            std::thread::sleep(std::time::Duration::from_millis(5));
                        }
                        _ => {
                            self.flush();
                            return Stop::HaltedForever;
                        }
                    }
                }
                RunExit::TripleFault => {
                    self.triple_faults += 1;
                    if self.stop_on_triple_fault {
                        self.flush();
                        return Stop::TripleFault;
                    }
                    log::warn!("triple fault: resetting the machine, as a PC's chipset does on shutdown");
                    self.cpu.reset();
                }
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
    }
}
