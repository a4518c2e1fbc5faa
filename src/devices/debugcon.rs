//! The debug console on port 0xE9: every byte written appears on the host.
//!
//! This is the Bochs "port E9 hack" that QEMU also offers as `-debugcon`: the simplest way for a
//! guest to print, with no device to program. Reading the port returns 0xE9, which lets a guest
//! detect the console (Bochs convention).

use std::io::Write;

/// Port number.
pub const DEBUGCON_PORT: u16 = 0xE9;

/// Where the bytes go.
pub enum Sink {
    /// Discarded.
    None,
    /// The host's standard output.
    Stdout,
    /// A file.
    File(std::io::BufWriter<std::fs::File>),
}

pub struct DebugCon {
    sink: Sink,
    /// Everything the guest wrote, kept for tests and the debugger (bounded).
    pub captured: Vec<u8>,
}

/// At most this many bytes are kept in `captured`; the sink still sees everything.
const CAPTURE_LIMIT: usize = 1 << 20;

impl DebugCon {
    pub fn new(sink: Sink) -> DebugCon {
        DebugCon { sink, captured: Vec::new() }
    }

    pub fn write(&mut self, byte: u8) {
        if self.captured.len() < CAPTURE_LIMIT {
            self.captured.push(byte);
        }
        let r = match &mut self.sink {
            Sink::None => Ok(()),
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&[byte]).and_then(|_| if byte == b'\n' { out.flush() } else { Ok(()) })
            }
            Sink::File(f) => f.write_all(&[byte]),
        };
        if let Err(e) = r {
            log::warn!("debug console: cannot write output ({e}); further output is discarded");
            self.sink = Sink::None;
        }
    }

    pub fn read(&self) -> u8 {
        0xE9
    }

    /// Puts in another sink (e.g. [`Sink::None`] while the debugger re-executes the past),
    /// returning the one it replaces.
    pub fn replace_sink(&mut self, sink: Sink) -> Sink {
        self.flush();
        std::mem::replace(&mut self.sink, sink)
    }

    pub fn flush(&mut self) {
        let _ = match &mut self.sink {
            Sink::Stdout => std::io::stdout().flush(),
            Sink::File(f) => f.flush(),
            Sink::None => Ok(()),
        };
    }
}
