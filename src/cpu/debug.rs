//! Debug registers: instruction and data breakpoints in DR0-DR3, status in DR6, control in DR7
//! (SDM Vol. 3A §17.2-17.3).
//!
//! - An instruction breakpoint (R/W = 00) is a fault: #DB is raised before the instruction at
//!   that linear address executes, unless EFLAGS.RF is set (RF then suppresses it for one
//!   instruction and is cleared when that instruction completes).
//! - A data breakpoint (R/W = 01 writes, 11 reads or writes) is a trap: #DB is raised after the
//!   instruction that made a matching access, with DR6.Bn set.
//! - I/O breakpoints (R/W = 10, with CR4.DE) are not implemented: x86lab does not advertise DE.
//!
//! The checks cost one flag test on the hot path while no breakpoint is enabled.
//!
//! The x86lab debugger's watchpoints ride on the same test: while it has watchpoints it sets the
//! [`DEBUGGER_WATCH`] bit of `data_bps`, which no DR7 setting produces, and the slow path then
//! logs each data access in `watch_log` for the debugger to match after the instruction. The
//! guest's own DR0-DR7 are untouched, and with no debugger attached nothing changes.

use super::Cpu;

/// The bit of [`Cpu::data_bps`] the debugger sets while it has watchpoints (bits 0-3 are DR0-DR3).
pub const DEBUGGER_WATCH: u8 = 1 << 7;

/// A data access logged for the debugger's watchpoints (see [`DEBUGGER_WATCH`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataAccess {
    /// Linear address.
    pub lin: u32,
    /// Bytes accessed (1, 2 or 4).
    pub size: u8,
    pub write: bool,
}

impl Cpu {
    /// Recomputes which breakpoints are armed after a write to DR7 (or DR0-DR3).
    pub fn update_breakpoints(&mut self) {
        let dr7 = self.dr[7];
        self.exec_bps = 0;
        // Keep the debugger's watch bit: it is not the guest's to change.
        self.data_bps &= DEBUGGER_WATCH;
        for i in 0..4 {
            if (dr7 >> (i * 2)) & 3 == 0 {
                continue;
            }
            match (dr7 >> (16 + i * 4)) & 3 {
                0 => self.exec_bps |= 1 << i,
                1 | 3 => self.data_bps |= 1 << i,
                _ => {}
            }
        }
    }

    /// The instruction breakpoints that match the linear address of the next instruction, as
    /// DR6 B0-B3 bits (0 if none).
    #[inline]
    pub fn exec_breakpoint_hits(&self, lin: u32) -> u32 {
        let mut hits = 0;
        for i in 0..4 {
            if self.exec_bps & (1 << i) != 0 && self.dr[i] == lin {
                hits |= 1 << i;
            }
        }
        hits
    }

    /// Records data breakpoint hits for an access of `size` bytes at `lin`.
    #[cold]
    pub fn check_data_breakpoints(&mut self, lin: u32, size: u32, write: bool) {
        if self.data_bps & DEBUGGER_WATCH != 0 && self.watch_log.len() < 256 {
            self.watch_log.push(DataAccess { lin, size: size as u8, write });
        }
        let dr7 = self.dr[7];
        for i in 0..4 {
            if self.data_bps & (1 << i) == 0 {
                continue;
            }
            let rw = (dr7 >> (16 + i * 4)) & 3;
            if rw == 1 && !write {
                continue;
            }
            // LEN: 00 = 1 byte, 01 = 2, 11 = 4 (10 = 8 bytes on later CPUs); the address is
            // aligned down to the length (SDM Vol. 3A §17.2.5).
            let len = match (dr7 >> (18 + i * 4)) & 3 {
                0 => 1,
                1 => 2,
                2 => 8,
                _ => 4,
            };
            let start = self.dr[i] & !(len - 1);
            let end = start.wrapping_add(len - 1);
            let last = lin.wrapping_add(size - 1);
            if lin <= end && last >= start {
                self.pending_db |= 1 << i;
            }
        }
    }
}
