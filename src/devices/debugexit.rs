//! The exit device on port 0xF4, as QEMU's `isa-debug-exit`: writing value `v` ends the run with
//! exit status `(v << 1) | 1`. Test programs use it to report pass or fail to the host.
//! (An odd status always means "the guest asked to exit", so it cannot be confused with the
//! emulator's own statuses.)

/// Port number.
pub const DEBUGEXIT_PORT: u16 = 0xF4;

#[derive(Default)]
pub struct DebugExit {
    /// The exit status requested by the guest, if any.
    pub status: Option<i32>,
}

impl DebugExit {
    pub fn write(&mut self, value: u32) {
        self.status = Some((((value as u64) << 1) | 1) as i32);
    }
}
