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

use super::Cpu;

impl Cpu {
    /// Recomputes which breakpoints are armed after a write to DR7 (or DR0-DR3).
    pub fn update_breakpoints(&mut self) {
        let dr7 = self.dr[7];
        self.exec_bps = 0;
        self.data_bps = 0;
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
