//! Front ends: what shows the guest's screen to a person and takes their keyboard.
//!
//! - [`screenshot`]: the picture of the VGA ([`Frame`](crate::devices::vga::Frame)) at the
//!   guest's display size, and PNG files of it (`--screenshot FILE.png`, the screenshot hotkey).
//! - [`pacing`]: keeps guest (virtual) time in step with the wall clock, so the guest's clock
//!   and animations run at the right speed in a window, and a halted guest costs the host no
//!   CPU.
//! - [`keymap`] and [`window`] (cargo feature `window`, on by default): the minifb window —
//!   the VGA picture scaled by a whole factor, host key presses and releases turned into PS/2
//!   make and break codes, the host-key commands ([`HOTKEYS`]) and a title that tells the run
//!   state and speed.
//!
//! The core (CPU, machine, devices) knows nothing of windows: minifb is used in [`window`] and
//! [`keymap`] only, and without the `window` feature the library and `x86lab run --headless`
//! build with no display libraries at all.
//!
//! # The host key
//!
//! **Right Ctrl** is the host key (as in VirtualBox): it is never sent to the guest (the guest
//! still has Left Ctrl), and a key pressed while it is held is a command for x86lab, not for the
//! guest. See [`HOTKEYS`].

pub mod pacing;
pub mod screenshot;

#[cfg(feature = "window")]
pub mod keymap;
#[cfg(feature = "window")]
pub mod window;

/// The host-key commands: (key, what it does), in the order `Right Ctrl + H` lists them.
pub const HOTKEYS: [(&str, &str); 9] = [
    ("P", "pause / resume the guest"),
    ("S", "screenshot: x86lab-screenshot-N.png in the current directory"),
    ("R", "reset (power cycle: a new machine, the same disks)"),
    ("Q", "power off: end the run (exit status 0)"),
    ("W", "save a snapshot: x86lab-window.snap (a VM folder: NAME/snapshots/window.snap)"),
    ("L", "restore that snapshot"),
    ("D", "open the debugger on x86lab's terminal (the window waits; `quit` gives it back)"),
    ("H", "list these keys"),
    ("F", "toggle pacing: real-time guest clock / as fast as possible"),
];

/// The host-key help as lines of text.
pub fn hotkey_help() -> String {
    let mut s = String::from("x86lab window: hold Right Ctrl (the host key) and press\n");
    for (k, what) in HOTKEYS {
        s.push_str(&format!("  {k}  {what}\n"));
    }
    s
}
