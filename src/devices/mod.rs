//! Device models, one module per chip or port, named after the part.
//!
//! Devices never reach into the CPU or into each other: they answer port and memory accesses and
//! report what they want done (an exit request, later an IRQ line or a deadline) for the machine
//! to route.

pub mod ata;
pub mod debugcon;
pub mod debugexit;
pub mod disk;
pub mod dma8237;
pub mod fdc82077;
pub mod kbc8042;
pub mod overlay;
pub mod pic8259;
pub mod pit8254;
pub mod port92;
pub mod rtc_cmos;
pub mod uart16550;
pub mod vga;
