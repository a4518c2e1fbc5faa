//! The PC: the CPU wired to memory and devices, and the run loop.
//!
//! One ownership tree: [`Machine`] owns the [`Cpu`] and the [`PcBus`]; the bus owns memory and
//! every device as a concrete field. Port accesses dispatch through a `match` on the port number
//! in [`PcBus::io_in`]/[`PcBus::io_out`] — no `Rc<RefCell<dyn Device>>`, no virtual calls: a
//! reader can follow a port write by reading one function, and the hot path stays monomorphic.

pub mod clock;
pub mod exits;
pub mod io;
pub mod memory;

use crate::cpu::{Cpu, CpuBus, RunExit};
use crate::devices::debugcon::{DEBUGCON_PORT, DebugCon, Sink};
use crate::devices::debugexit::{DEBUGEXIT_PORT, DebugExit};
use memory::Memory;

/// Settings for building a machine.
pub struct MachineConfig {
    /// RAM in bytes.
    pub ram_bytes: usize,
    /// The BIOS image.
    pub bios: Vec<u8>,
    /// Where port 0xE9 output goes.
    pub debugcon: Sink,
}

/// Everything the CPU reaches over the bus.
pub struct PcBus {
    pub mem: Memory,
    pub debugcon: DebugCon,
    pub debugexit: DebugExit,
    /// Exit accounting (trap-and-emulate, made visible).
    pub exits: exits::Exits,
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

    fn io_in(&mut self, port: u16, size: u8) -> u32 {
        self.exits.port_read(port);
        let v = match port {
            DEBUGCON_PORT => self.debugcon.read() as u32,
            _ => {
                log::trace!("in from unassigned port {port:#06x}");
                u32::MAX
            }
        };
        v & size_mask(size)
    }

    fn io_out(&mut self, port: u16, size: u8, value: u32) {
        self.exits.port_write(port);
        let value = value & size_mask(size);
        match port {
            DEBUGCON_PORT => {
                // A word or dword write sends its low byte (as Bochs and QEMU do).
                self.debugcon.write(value as u8)
            }
            DEBUGEXIT_PORT => self.debugexit.write(value),
            _ => log::trace!("out {value:#x} to unassigned port {port:#06x}"),
        }
    }

    fn stop_requested(&self) -> bool {
        self.debugexit.status.is_some()
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
}

impl Machine {
    pub fn new(cfg: MachineConfig) -> Result<Machine, memory::RomError> {
        let mem = Memory::new(cfg.ram_bytes, cfg.bios)?;
        let mut cpu = Cpu::new();
        cpu.cache.track_memory(cfg.ram_bytes as u64);
        Ok(Machine {
            cpu,
            bus: PcBus {
                mem,
                debugcon: DebugCon::new(cfg.debugcon),
                debugexit: DebugExit::default(),
                exits: exits::Exits::default(),
            },
            stop_on_triple_fault: false,
            triple_faults: 0,
        })
    }

    /// Runs until the guest exits, halts for good, or `budget` instructions have retired.
    pub fn run(&mut self, budget: u64) -> Stop {
        let end = self.cpu.icount.saturating_add(budget);
        loop {
            let left = end.saturating_sub(self.cpu.icount);
            if left == 0 {
                return Stop::Budget;
            }
            match self.cpu.run(&mut self.bus, left) {
                RunExit::Budget => return Stop::Budget,
                RunExit::Stop => {
                    if let Some(s) = self.bus.debugexit.status {
                        self.bus.debugcon.flush();
                        return Stop::GuestExit(s);
                    }
                }
                RunExit::Halted => {
                    // No device can raise an interrupt yet, so a halted CPU stays halted.
                    self.bus.debugcon.flush();
                    return Stop::HaltedForever;
                }
                RunExit::TripleFault => {
                    self.triple_faults += 1;
                    if self.stop_on_triple_fault {
                        return Stop::TripleFault;
                    }
                    log::warn!("triple fault: resetting the machine, as a PC's chipset does on shutdown");
                    self.cpu.reset();
                }
            }
        }
    }
}
