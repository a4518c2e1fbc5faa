//! # x86lab
//!
//! An educational x86 full-system emulator. The library holds everything a front end needs:
//!
//! - [`cpu`]: the IA-32 interpreter (iced-x86 decodes, x86lab executes);
//! - [`machine`]: the PC wiring — memory map, port I/O, the run loop;
//! - [`devices`]: one module per chip;
//! - [`frontend`]: the window (minifb, cargo feature `window`), screenshots, and pacing guest time
//!   to the wall clock;
//! - [`debugger`]: the REPL's command interpreter, breakpoints and views, and the gdb stub.
//!
//! The `x86lab` binary is a thin front over this library, so tests, the debugger and the window
//! all drive the same [`machine::Machine`].

pub mod cpu;
pub mod debugger;
pub mod devices;
pub mod frontend;
pub mod machine;
pub mod snapshot;
pub mod vm;
