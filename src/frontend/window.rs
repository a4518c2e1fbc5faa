//! The window: the guest's screen in a minifb window, the host keyboard as the PC's keyboard.
//!
//! - **Picture.** The VGA's [`Frame`] at its display size (see [`super::screenshot`]: 720x400
//!   for text, 640x400 for mode 13h's 320x200 pixels, 640x480 for mode 12h), enlarged by a whole
//!   factor: `--scale N`, or the largest that fits the screen. The window takes the new size when
//!   the guest changes mode. It is redrawn only when [`Vga::render_into`] says the picture
//!   changed (video memory, registers, the blink phase), and at most ~60 times a second.
//! - **Time.** Guest time is paced to the wall clock ([`super::pacing`]): between two pictures
//!   the machine runs until the guest time of the next picture ([`Machine::run_until`]) and the
//!   loop sleeps if it gets there early, so a guest halted in HLT waiting for its timer costs the
//!   host almost nothing, while a busy guest runs flat out. The host key + F turns pacing off
//!   (the guest then runs as fast as the host allows, as headless runs do).
//! - **Keyboard.** Host key presses and releases (minifb's input callback reports every edge, in
//!   order, even a press and release between two pictures) become make and break codes through
//!   [`Bus::key_event`](crate::machine::PcBus::key_event); the host's auto-repeat is dropped
//!   (typematic repeat is the guest keyboard's business). Keys wait in a type-ahead queue until
//!   the keyboard's 16-byte buffer has room, so fast typing (or xdotool) loses nothing. When the
//!   window loses the focus, the keys the guest holds are released.
//! - **Host key** (Right Ctrl) commands: see [`super::HOTKEYS`].
//! - **Title**: the machine's name, the run state (running, paused, halted, stopped by fault)
//!   and the speed in MIPS (millions of guest instructions per wall second); with `--gdb`,
//!   gdb's state (`gdb: stopped`, `gdb: running`; `waiting for gdb on ADDR` with `-S`).
//! - **gdb** (`--gdb`, [`Options::gdb`]): served from this loop without blocking it
//!   ([`Served`]): between pictures the loop sleeps on gdb's socket instead of a timer, so gdb's
//!   requests are answered at once, and while gdb has the guest running it runs through the
//!   [`Debugger`] (gdb's breakpoints and watchpoints are checked) in the same paced slices.
//!   The screen, the keyboard and the host keys stay live in every state. The debugger hotkey
//!   is refused while gdb is connected (one debugger at a time).
//!
//! [`Vga::render_into`]: crate::devices::vga::Vga::render_into

use super::keymap::pc_key;
use super::pacing::Pacer;
use super::screenshot::{self, Image};
use crate::debugger::gdb::{GdbState, GdbTarget, Served, Slice};
use crate::debugger::{Debugger, Reason};
use crate::devices::kbc8042::{KBD_BUFFER_SIZE, Key};
use crate::devices::vga::Frame;
use crate::machine::clock::Tick;
use crate::machine::{Machine, Stop};
use minifb::{InputCallback, Key as HostKey, Window, WindowOptions};
use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Builds a fresh machine: what the reset hotkey uses (a power cycle).
pub type Factory = Box<dyn FnMut() -> Result<Machine, String>>;

/// Settings of a window run.
pub struct Options {
    /// What the title calls the machine (e.g. the disk image's file name).
    pub name: String,
    /// Whole scale factor of the picture; `None`: the largest that fits the screen.
    pub scale: Option<usize>,
    /// End the run after this many instructions (`--max-instructions`).
    pub max_instructions: Option<u64>,
    /// Where the screenshot hotkey writes its files.
    pub screenshot_dir: PathBuf,
    /// The snapshot file the save and restore hotkeys use.
    pub snapshot: PathBuf,
    /// Serve gdb on this address (`--gdb`), from the window's loop.
    pub gdb: Option<String>,
    /// With `gdb`: run no instruction before gdb has connected (`-S`).
    pub wait_gdb: bool,
}

/// How a window run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The machine stopped: the exit device or the instruction budget ended the run; or the
    /// guest had halted for good or stopped on a triple fault, and then the window was closed.
    Stopped(Stop),
    /// The window was closed, or the power-off hotkey pressed, while the guest could still run.
    Closed,
}

/// A window run's result: the machine as it ended (for `--stats` and `--screenshot`).
pub struct Outcome {
    pub machine: Machine,
    pub ending: Ending,
}

/// Pictures per second (at most).
const FPS: u64 = 60;
/// Instructions per [`Machine::run_until`] call: the wall clock is checked between two.
const CHUNK: u64 = 50_000;
/// Host key events kept while the guest does not read its keyboard.
const TYPE_AHEAD: usize = 256;
/// An unchanged picture is sent to the X server again this often (X11 does not keep it when
/// the window is covered and uncovered).
const REFRESH: Duration = Duration::from_millis(250);
/// How long a message stays in the title.
const MESSAGE_TIME: Duration = Duration::from_secs(3);

/// Checks that a window can be opened and returns the screen size in pixels. The error says
/// why not (no `DISPLAY`, no X server, no libX11) and suggests `--headless`.
pub fn probe_display() -> Result<(usize, usize), String> {
    let hint = "run with --headless instead (add --screenshot FILE.png to see the screen)";
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let display = std::env::var("DISPLAY").unwrap_or_default();
        if display.is_empty() {
            let why = if std::env::var_os("WAYLAND_DISPLAY").is_some() {
                "DISPLAY is not set (x86lab's window needs X11; under Wayland, XWayland provides it)"
            } else {
                "DISPLAY is not set, so there is no X server to open a window on"
            };
            return Err(format!("cannot open a window: {why}; {hint}"));
        }
        let lib = x11_dl::xlib::Xlib::open().map_err(|e| {
            format!("cannot open a window: the X11 library (libX11.so.6) cannot be loaded ({e}); {hint}")
        })?;
        // SAFETY: Xlib calls on a display pointer that was checked for null and closed once.
        unsafe {
            // minifb calls XInitThreads, which must come before any other Xlib call of the
            // process (after one, later connections fail at random); it is a no-op the second time.
            (lib.XInitThreads)();
            let d = (lib.XOpenDisplay)(std::ptr::null());
            if d.is_null() {
                return Err(format!(
                    "cannot open a window: no X server answers on DISPLAY={display} (is one running, and may this user \
                     connect to it?); {hint}"
                ));
            }
            let s = (lib.XDefaultScreen)(d);
            let size = ((lib.XDisplayWidth)(d, s).max(1) as usize, (lib.XDisplayHeight)(d, s).max(1) as usize);
            (lib.XCloseDisplay)(d);
            Ok(size)
        }
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = hint;
        Ok((1920, 1080))
    }
}

/// The largest whole factor (1 to 8) at which a `w` x `h` picture fits a `screen`, leaving room
/// for the window's frame and the desktop's panels.
pub fn fit_scale(w: usize, h: usize, screen: (usize, usize)) -> usize {
    let (sw, sh) = (screen.0.saturating_sub(32), screen.1.saturating_sub(96));
    (1..=8).rev().find(|s| w * s <= sw && h * s <= sh).unwrap_or(1)
}

/// The run state the title shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunState {
    Running,
    Paused,
    /// HLT with nothing that can wake the CPU.
    Halted,
    /// A triple fault with `--stop-on-triple-fault`.
    Fault,
}

impl RunState {
    fn label(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Halted => "halted",
            RunState::Fault => "stopped by fault",
        }
    }
}

/// Collects every key edge minifb sees, in order (the callback runs inside `Window::update`).
struct KeyEdges(Rc<RefCell<Vec<(HostKey, bool)>>>);

impl InputCallback for KeyEdges {
    fn add_char(&mut self, _uni_char: u32) {}
    fn set_key_state(&mut self, key: HostKey, state: bool) {
        self.0.borrow_mut().push((key, state));
    }
}

/// The window and what is drawn in it.
struct Screen {
    window: Window,
    /// Size of the window's picture (display size x scale).
    size: (usize, usize),
    scale: usize,
    edges: Rc<RefCell<Vec<(HostKey, bool)>>>,
    /// The picture, scaled.
    buf: Vec<u32>,
    last_blit: Instant,
}

impl Screen {
    fn open(title: &str, display: (usize, usize), scale: usize) -> Result<Screen, String> {
        let size = (display.0 * scale, display.1 * scale);
        // Opening the display now and then fails right after another connection of the process
        // was closed (seen with Xvfb): a few tries before giving up.
        let mut tries = 0;
        let mut window = loop {
            match Window::new(title, size.0, size.1, WindowOptions::default()) {
                Ok(w) => break w,
                Err(e) if tries < 10 => {
                    tries += 1;
                    log::debug!("window: {e}; trying again ({tries})");
                    std::thread::sleep(Duration::from_millis(20 * tries));
                }
                Err(e) => {
                    return Err(format!(
                        "cannot open a window: {e}; run with --headless instead (add --screenshot FILE.png to see the screen)"
                    ));
                }
            }
        };
        window.set_target_fps(0);
        let edges = Rc::new(RefCell::new(Vec::new()));
        window.set_input_callback(Box::new(KeyEdges(edges.clone())));
        Ok(Screen { window, size, scale, edges, buf: vec![0; size.0 * size.1], last_blit: Instant::now() })
    }

    fn blit(&mut self) -> Result<(), String> {
        self.last_blit = Instant::now();
        self.window.update_with_buffer(&self.buf, self.size.0, self.size.1).map_err(|e| format!("window: {e}"))
    }
}

/// The window run: everything between the window opening and closing.
struct Session {
    /// The machine, under the debugger gdb and the debugger hotkey use.
    t: GdbTarget<Debugger>,
    /// gdb's listener and connection (`--gdb`).
    gdb: Option<Served>,
    /// `-S`: no instruction runs before gdb has connected once.
    gdb_wait: bool,
    opts: Options,
    factory: Option<Factory>,
    screen_size: (usize, usize),
    screen: Screen,
    frame: Frame,
    state: RunState,
    /// Pacing off (host key + F): the guest runs as fast as the host can.
    turbo: bool,
    pacer: Pacer,
    /// Instruction count when the run started (for `--max-instructions`).
    start_icount: u64,
    /// Keys waiting for room in the guest keyboard's buffer.
    type_ahead: VecDeque<(Key, bool)>,
    /// Keys the guest has been told are down.
    guest_down: HashSet<Key>,
    /// Right Ctrl is held.
    host_key: bool,
    /// Keys pressed as host-key commands: their release is not the guest's.
    swallowed: HashSet<HostKey>,
    active: bool,
    message: Option<(String, Instant)>,
    /// For the speed in the title: instruction count and wall time at the last title update.
    speed_mark: (u64, Instant),
    mips: f64,
    last_title: String,
    title_at: Instant,
    ending: Option<Ending>,
    /// The debugger hotkey was pressed: [`run`] hands the machine to the debugger's REPL.
    wants_debugger: bool,
}

/// Runs `m` in a window until the guest ends the run, the instruction budget is used up, or the
/// window is closed (or powered off). `factory` builds a fresh machine for the reset hotkey
/// (without it, reset restarts the CPU only).
pub fn run(m: Machine, opts: Options, factory: Option<Factory>) -> Result<Outcome, String> {
    let screen_size = probe_display()?;
    // Listen before the window opens: a busy port is a usage error, with no window flashing.
    let gdb = match &opts.gdb {
        Some(addr) => {
            let srv = Served::listen(addr)?;
            eprintln!("x86lab: gdb can connect on {addr} (target remote {addr})");
            if opts.wait_gdb {
                eprintln!("x86lab: waiting for gdb before the first instruction (-S)");
            }
            Some(srv)
        }
        None => None,
    };
    let frame = Frame::new();
    let display = screenshot::display_size(&frame);
    let scale = opts.scale.unwrap_or_else(|| fit_scale(display.0, display.1, screen_size)).max(1);
    let screen = Screen::open(&format!("x86lab - {}", opts.name), display, scale)?;
    let now = Instant::now();
    let mut dbg = Debugger::new(m);
    // The debugger's fast path when nothing is checked between instructions.
    dbg.history_cap = 0;
    let mut s = Session {
        pacer: Pacer::new(now, dbg.m.now()),
        start_icount: dbg.m.cpu.icount,
        speed_mark: (dbg.m.cpu.icount, now),
        t: GdbTarget::new(dbg),
        gdb_wait: gdb.is_some() && opts.wait_gdb,
        gdb,
        opts,
        factory,
        screen_size,
        screen,
        frame,
        state: RunState::Running,
        turbo: false,
        type_ahead: VecDeque::new(),
        guest_down: HashSet::new(),
        host_key: false,
        swallowed: HashSet::new(),
        active: false,
        message: None,
        mips: 0.0,
        last_title: String::new(),
        title_at: now,
        ending: None,
        wants_debugger: false,
    };
    let r = loop {
        if let Err(e) = s.main_loop() {
            break Err(e);
        }
        if !std::mem::take(&mut s.wants_debugger) {
            break Ok(());
        }
        // The debugger's REPL on the terminal has the machine until `quit`; the window waits.
        eprintln!("x86lab: the window waits while the debugger has the machine: `quit` gives it back");
        s.screen.window.set_title(&format!("x86lab - {} - paused: debugger on the terminal", s.opts.name));
        s.screen.window.update();
        let d = &mut s.t.dbg;
        d.history_cap = crate::debugger::DEFAULT_HISTORY;
        d.budget_end = s.opts.max_instructions.map(|n| s.start_icount.saturating_add(n));
        if let Err(e) = crate::debugger::repl::run(d, None) {
            eprintln!("x86lab: debugger: {e}");
        }
        d.history_cap = 0;
        d.history.clear();
        d.budget_end = None;
        s.back_from_debugger();
    };
    // Closing the window (or the guest ending) ends gdb's session too.
    let status = match s.ending {
        Some(Ending::Stopped(st)) => crate::debugger::gdb::stop_status(st),
        _ => 0,
    };
    if let Some(srv) = &mut s.gdb {
        srv.close(&mut s.t, status);
    }
    r?;
    let ending = s.ending.unwrap_or(Ending::Closed);
    Ok(Outcome { machine: s.t.dbg.m, ending })
}

impl Session {
    fn main_loop(&mut self) -> Result<(), String> {
        let period = Duration::from_nanos(1_000_000_000 / FPS);
        let mut next_picture = Instant::now();
        loop {
            self.serve_gdb(Duration::ZERO);
            if self.ending.is_some() {
                return Ok(());
            }
            if self.state == RunState::Halted && self.gdb_state() == Some(GdbState::Running) {
                // gdb continues a guest halted for good: it is told at once (it exited).
                self.gdb_slice(next_picture);
            }
            if self.state == RunState::Running {
                match self.gdb_state() {
                    Some(GdbState::Running) => self.gdb_slice(next_picture),
                    // gdb has stopped the guest, or -S and gdb has not come yet.
                    Some(GdbState::Stopped) => {}
                    Some(GdbState::Listening) if self.gdb_wait => {}
                    _ => self.run_until(next_picture),
                }
                if self.ending.is_some() {
                    return Ok(());
                }
            }
            // The guest is ahead of the wall clock (or not running): wait for the picture's time,
            // answering gdb meanwhile (and running the guest for it when it resumes it).
            loop {
                let now = Instant::now();
                if next_picture <= now {
                    break;
                }
                if self.gdb_state().is_none_or(|g| g == GdbState::Listening) {
                    std::thread::sleep(next_picture - now);
                    break;
                }
                self.serve_gdb(next_picture - now);
                if self.state == RunState::Running && self.gdb_state() == Some(GdbState::Running) {
                    self.gdb_slice(next_picture);
                }
                if self.ending.is_some() {
                    return Ok(());
                }
            }
            self.present()?;
            if !self.screen.window.is_open() {
                return Ok(());
            }
            self.handle_keys()?;
            if self.ending.is_some() || self.wants_debugger {
                return Ok(());
            }
            self.update_title();
            next_picture += period;
            let now = Instant::now();
            if next_picture < now {
                // A slow picture or a busy host: no burst of pictures to catch up.
                next_picture = now;
            }
        }
    }

    fn gdb_state(&self) -> Option<GdbState> {
        self.gdb.as_ref().map(Served::state)
    }

    /// Takes gdb's connection if one waits, and answers what gdb sent (waiting up to `wait` for
    /// it to say something).
    fn serve_gdb(&mut self, wait: Duration) {
        let Some(srv) = &mut self.gdb else { return };
        let before = srv.state();
        let mut said = Vec::new();
        if let Some(msg) = srv.accept(&mut self.t) {
            said.push(msg);
        }
        if srv.state() != GdbState::Listening {
            self.gdb_wait = false;
        }
        if let Some(msg) = srv.pump(&mut self.t, wait) {
            said.push(msg);
        }
        let (after, killed) = (srv.state(), srv.killed);
        if before == GdbState::Listening && after != GdbState::Listening {
            // The guest stops for gdb: the keys it holds are let go.
            self.release_all();
        }
        for msg in said {
            self.say(msg);
        }
        if after != before {
            self.pacer.rebase(Instant::now(), self.t.dbg.m.now());
            self.speed_mark = (self.t.dbg.m.cpu.icount, Instant::now());
            self.show_title_now();
        }
        if killed {
            self.say("killed by gdb: the run ends".into());
            self.ending = Some(Ending::Closed);
        }
    }

    /// While gdb has the guest running: runs it (through the debugger, which checks gdb's
    /// breakpoints and watchpoints) until guest time reaches the wall time `until`, as
    /// [`Session::run_until`] does without gdb, and tells gdb when it stops.
    fn gdb_slice(&mut self, until: Instant) {
        self.feed_keys();
        let Some(srv) = &mut self.gdb else { return };
        let target = if self.turbo { Tick::NEVER } else { self.pacer.guest_at(until) };
        self.t.dbg.budget_end = self.opts.max_instructions.map(|n| self.start_icount.saturating_add(n));
        let (slice, msg) = srv.run_slice(&mut self.t, target, until);
        self.t.dbg.budget_end = None;
        if let Some(msg) = msg {
            self.say(msg);
        }
        match slice {
            Slice::Ran => {}
            Slice::Stopped(reason) => {
                self.pacer.rebase(Instant::now(), self.t.dbg.m.now());
                self.show_title_now();
                match reason {
                    Reason::Machine(Stop::HaltedForever) => self.set_state(RunState::Halted),
                    Reason::Machine(Stop::TripleFault) => self.set_state(RunState::Fault),
                    Reason::Machine(st) => self.ending = Some(Ending::Stopped(st)),
                    _ => {}
                }
            }
        }
        if !self.turbo {
            self.pacer.forgive_lag(Instant::now(), self.t.dbg.m.now());
        }
    }

    /// Runs the machine until guest time reaches the wall time `until` (or, with pacing off,
    /// until the wall clock does), feeding typed keys as the guest keyboard takes them.
    fn run_until(&mut self, until: Instant) {
        let target = if self.turbo { Tick::NEVER } else { self.pacer.guest_at(until) };
        loop {
            self.feed_keys();
            let used = self.t.dbg.m.cpu.icount.saturating_sub(self.start_icount);
            let left = self.opts.max_instructions.map_or(u64::MAX, |max| max.saturating_sub(used));
            if left == 0 {
                self.ending = Some(Ending::Stopped(Stop::Budget));
                return;
            }
            match self.t.dbg.m.run_until(CHUNK.min(left), target) {
                Stop::Budget => {}
                Stop::GuestExit(st) => {
                    self.ending = Some(Ending::Stopped(Stop::GuestExit(st)));
                    return;
                }
                Stop::HaltedForever => {
                    self.set_state(RunState::Halted);
                    return;
                }
                Stop::TripleFault => {
                    self.set_state(RunState::Fault);
                    return;
                }
            }
            if self.t.dbg.m.now() >= target || Instant::now() >= until {
                break;
            }
        }
        if !self.turbo {
            self.pacer.forgive_lag(Instant::now(), self.t.dbg.m.now());
        }
    }

    /// Delivers queued key edges while the guest keyboard's buffer has room for them.
    fn feed_keys(&mut self) {
        while let Some(&(key, down)) = self.type_ahead.front() {
            let kb = &self.t.dbg.m.bus.kbc.keyboard;
            if kb.scanning && kb.buffer.len() + key.scancodes(kb.set, down).len() > KBD_BUFFER_SIZE {
                return;
            }
            self.type_ahead.pop_front();
            self.t.dbg.m.key_event(key, down);
        }
    }

    /// Renders the VGA if its picture changed and shows it (or just pumps the window's events).
    fn present(&mut self) -> Result<(), String> {
        let changed = self.t.dbg.m.bus.vga.render_into(self.t.dbg.m.now(), &mut self.frame);
        let display = screenshot::display_size(&self.frame);
        let scale = self.opts.scale.unwrap_or_else(|| fit_scale(display.0, display.1, self.screen_size)).max(1);
        let size = (display.0 * scale, display.1 * scale);
        if size != self.screen.size {
            // The guest changed mode: a window of the new size (keys held are let go).
            self.release_all();
            let title = self.title();
            self.screen = Screen::open(&title, display, scale)?;
            self.last_title = title;
        }
        if changed || self.screen.buf.len() != size.0 * size.1 {
            screenshot::scale_into(&self.frame, scale, &mut self.screen.buf);
            self.screen.scale = scale;
            self.screen.blit()
        } else if self.screen.last_blit.elapsed() >= REFRESH {
            self.screen.blit()
        } else {
            self.screen.window.update();
            Ok(())
        }
    }

    /// Turns the key edges of the last window update into guest keys and host-key commands.
    fn handle_keys(&mut self) -> Result<(), String> {
        let edges: Vec<(HostKey, bool)> = std::mem::take(&mut *self.screen.edges.borrow_mut());
        for (k, down) in edges {
            if k == HostKey::RightCtrl {
                self.host_key = down;
                continue;
            }
            if down && self.host_key {
                if self.swallowed.insert(k) {
                    self.command(k)?;
                    if self.ending.is_some() || self.wants_debugger {
                        return Ok(());
                    }
                }
                continue;
            }
            if !down && self.swallowed.remove(&k) {
                continue;
            }
            let Some(pc) = pc_key(k) else { continue };
            if down {
                // Auto-repeat arrives as presses without releases: only the first is an edge.
                if self.state == RunState::Running && self.guest_down.insert(pc) {
                    self.queue_key(pc, true);
                }
            } else if self.guest_down.remove(&pc) {
                self.queue_key(pc, false);
            }
        }
        let active = self.screen.window.is_active();
        if self.active && !active {
            self.release_all();
            self.host_key = false;
        }
        self.active = active;
        Ok(())
    }

    fn queue_key(&mut self, key: Key, down: bool) {
        if self.type_ahead.len() < TYPE_AHEAD {
            self.type_ahead.push_back((key, down));
        }
    }

    /// Lets go of every key the guest holds.
    fn release_all(&mut self) {
        let held: Vec<Key> = self.guest_down.drain().collect();
        for k in held {
            self.queue_key(k, false);
        }
        if self.state != RunState::Running {
            self.feed_keys();
        }
    }

    fn set_state(&mut self, state: RunState) {
        if state == RunState::Running && self.state != RunState::Running {
            self.pacer.rebase(Instant::now(), self.t.dbg.m.now());
            self.speed_mark = (self.t.dbg.m.cpu.icount, Instant::now());
        }
        if state != RunState::Running {
            self.mips = 0.0;
        }
        self.state = state;
    }

    fn say(&mut self, msg: String) {
        eprintln!("x86lab: {msg}");
        self.message = Some((msg, Instant::now()));
    }

    /// A host-key command.
    fn command(&mut self, k: HostKey) -> Result<(), String> {
        match k {
            HostKey::P => match self.state {
                RunState::Running => {
                    self.release_all();
                    self.set_state(RunState::Paused);
                }
                RunState::Paused => self.set_state(RunState::Running),
                _ => self.say(format!("the guest is {}: reset (R) or power off (Q)", self.state.label())),
            },
            HostKey::S => {
                let path = screenshot::next_free_name(&self.opts.screenshot_dir);
                let msg = match Image::of_frame(&self.frame).save_png(&path) {
                    Ok(()) => format!("screenshot saved to {}", path.display()),
                    Err(e) => e,
                };
                self.say(msg);
            }
            HostKey::R => self.reset()?,
            HostKey::Q => {
                self.ending = Some(match self.state {
                    RunState::Halted => Ending::Stopped(Stop::HaltedForever),
                    RunState::Fault => Ending::Stopped(Stop::TripleFault),
                    _ => Ending::Closed,
                });
            }
            HostKey::W => self.save_snapshot(),
            HostKey::L => self.restore_snapshot(),
            HostKey::D => {
                if self.gdb_state().is_some_and(|g| g != GdbState::Listening) {
                    self.say("gdb is connected: detach it first (or use gdb's `monitor CMD`)".into());
                } else if std::io::stdin().is_terminal() {
                    self.release_all();
                    self.wants_debugger = true;
                } else {
                    self.say(
                        "the debugger needs x86lab's terminal: start x86lab from one (or use `x86lab debug`)".into(),
                    );
                }
            }
            HostKey::F => {
                self.turbo = !self.turbo;
                self.pacer.rebase(Instant::now(), self.t.dbg.m.now());
                let msg = if self.turbo {
                    "pacing off: the guest runs as fast as it can"
                } else {
                    "pacing on: guest time follows the wall clock"
                };
                self.say(msg.into());
            }
            HostKey::H => {
                eprint!("{}", super::hotkey_help());
                self.message =
                    Some(("hotkeys: Right Ctrl + P S R Q W L D F H (listed on stderr)".into(), Instant::now()));
            }
            _ => {}
        }
        Ok(())
    }

    /// The snapshot save hotkey: the whole machine to [`Options::snapshot`].
    fn save_snapshot(&mut self) {
        let path = self.opts.snapshot.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            return self.say(format!("snapshot: {}: {e}", dir.display()));
        }
        let desc = format!("saved from the window at instruction {}", self.t.dbg.m.cpu.icount);
        let msg = match crate::snapshot::save(&self.t.dbg.m, &path, &desc) {
            Ok(size) => format!("snapshot saved to {} ({size} bytes)", path.display()),
            Err(e) => format!("snapshot not saved: {e}"),
        };
        self.say(msg);
    }

    /// The snapshot restore hotkey: the machine as [`Options::snapshot`] holds it (a file that
    /// does not fit this machine leaves it as it is).
    fn restore_snapshot(&mut self) {
        let path = self.opts.snapshot.clone();
        self.release_all();
        self.feed_keys();
        match crate::snapshot::restore_into(&mut self.t.dbg.m, &path) {
            Ok(s) => {
                self.t.dbg.machine_changed();
                self.type_ahead.clear();
                self.guest_down.clear();
                self.frame = Frame::new();
                self.start_icount = self.t.dbg.m.cpu.icount.min(self.start_icount);
                self.state = RunState::Paused;
                self.set_state(RunState::Running);
                self.say(format!("snapshot restored from {} (instruction {})", path.display(), s.icount));
            }
            Err(e) => self.say(format!("snapshot not restored: {e}")),
        }
    }

    /// After the debugger's REPL gave the machine back.
    fn back_from_debugger(&mut self) {
        self.frame = Frame::new();
        self.host_key = false;
        let state = self.state;
        self.state = RunState::Paused;
        self.set_state(if state == RunState::Paused { RunState::Paused } else { RunState::Running });
        self.say("back from the debugger".into());
    }

    /// The reset hotkey: a power cycle with the factory, else a CPU reset.
    fn reset(&mut self) -> Result<(), String> {
        self.release_all();
        self.type_ahead.clear();
        match &mut self.factory {
            Some(f) => {
                self.t.dbg.m.flush();
                let mut fresh = f()?;
                fresh.serial_input = self.t.dbg.m.serial_input.take();
                self.t.dbg.replace_machine(fresh);
            }
            None => {
                self.t.dbg.m.cpu.reset();
                self.t.dbg.m.bus.debugexit.status = None;
                self.t.dbg.machine_changed();
            }
        }
        self.start_icount = self.t.dbg.m.cpu.icount;
        self.frame = Frame::new();
        self.state = RunState::Paused;
        self.set_state(RunState::Running);
        self.say("reset".into());
        Ok(())
    }

    fn title(&self) -> String {
        let gdb = self.gdb_state();
        let label = match (gdb, &self.gdb) {
            (Some(GdbState::Listening), Some(srv)) if self.gdb_wait => format!("waiting for gdb on {}", srv.addr()),
            (Some(GdbState::Stopped), _) if self.state == RunState::Running => "stopped".to_string(),
            _ => self.state.label().to_string(),
        };
        let mut t = format!("x86lab - {} - {label}", self.opts.name);
        if self.state == RunState::Running && !self.gdb_wait && gdb != Some(GdbState::Stopped) {
            let digits = if self.mips < 10.0 { 2 } else { 1 };
            t.push_str(&format!(" - {:.*} MIPS", digits, self.mips));
            if self.turbo {
                t.push_str(" (unpaced)");
            }
        }
        match gdb {
            Some(GdbState::Stopped) => t.push_str(" - gdb: stopped"),
            Some(GdbState::Running) => t.push_str(" - gdb: running"),
            _ => {}
        }
        match &self.message {
            Some((msg, at)) if at.elapsed() < MESSAGE_TIME => t.push_str(&format!(" - {msg}")),
            _ => t.push_str(" - Right Ctrl+H: help"),
        }
        t
    }

    /// Sets the title and sends it to the X server now (not at the next picture): gdb's state
    /// changed, and what gdb does next may look at the title.
    fn show_title_now(&mut self) {
        self.update_title();
        self.screen.window.update();
    }

    fn update_title(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.title_at) >= Duration::from_millis(500) {
            self.title_at = now;
            if self.state == RunState::Running {
                let (n0, t0) = self.speed_mark;
                let secs = now.duration_since(t0).as_secs_f64();
                if secs > 0.0 {
                    self.mips = self.t.dbg.m.cpu.icount.saturating_sub(n0) as f64 / secs / 1e6;
                }
                self.speed_mark = (self.t.dbg.m.cpu.icount, now);
            }
        }
        let title = self.title();
        if title != self.last_title {
            self.screen.window.set_title(&title);
            self.last_title = title;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_fits_the_screen() {
        assert_eq!(fit_scale(720, 400, (1920, 1080)), 2);
        assert_eq!(fit_scale(640, 400, (2560, 1440)), 3);
        assert_eq!(fit_scale(720, 400, (1024, 768)), 1);
        assert_eq!(fit_scale(720, 400, (640, 480)), 1, "never below 1");
    }
}
