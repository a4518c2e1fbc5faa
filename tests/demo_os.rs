//! The demo OS (`roms/demo/demo.img`, built from `roms/demo/*.nasm` by `tools/build-demo`),
//! booted headless through the real `x86lab` command line with the built-in BIOS, and driven
//! over COM1 the way a person at a terminal would: the test waits for the shell's output,
//! types a command, reads the answer.
//!
//! - `shell_over_serial`: boot, then `help`, `uptime`, `tasks`, `ls`, `cat` (a one-sector
//!   file and one that spans two tracks, compared byte for byte with `roms/demo/files/`),
//!   `mem`, `pf` in its variants (CR2 and the decoded error code), `gp` (vector, error code,
//!   faulting EIP), `mem` again (no page leaked by the killed tasks), `tasks` (only the three
//!   first tasks are left), `exit 3` (exit status 7).
//! - `boot_is_deterministic`: two runs without input and with the same instruction budget
//!   print the same serial output and make the same port accesses and interrupts (the exit
//!   accounting of `--stats`).
//! - `piped_script_is_deterministic`: a script piped on stdin from the start is read in full
//!   (nothing lost while the BIOS boots) and gives the same output and instruction count twice.
//! - `tools/build-demo --check` (when nasm is installed): the committed image is what the
//!   sources build.
//!
//! The prompt `demo> ` ends without a newline; x86lab shows it when the guest goes idle, but the
//! test waits for the last line of each command's output anyway, which says more.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

const IMAGE: &str = "roms/demo/demo.img";
/// A ceiling for every run, so that a broken OS cannot hang the test (a run of the whole
/// session below takes some 20 million instructions).
const BUDGET: &str = "2000000000";
/// How long to wait for one answer (a debug build of x86lab is slow).
const TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn x86lab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_x86lab"));
    c.current_dir(root());
    c
}

/// The arguments of a headless boot of the demo OS with COM1 on stdin/stdout.
fn run_args(extra: &[&'static str]) -> Vec<&'static str> {
    let mut a = vec!["run", IMAGE, "--readonly", "--headless", "--serial", "stdio", "--debugcon", "none"];
    a.extend_from_slice(extra);
    a
}

/// A running x86lab with the demo OS: what it has printed so far, and its stdin.
struct Session {
    child: Child,
    output: Receiver<Vec<u8>>,
    /// Everything read from stdout, carriage returns removed.
    text: String,
    /// How far `expect` has consumed `text`.
    seen: usize,
}

impl Session {
    fn start() -> Session {
        let mut child = x86lab()
            .args(run_args(&["--max-instructions", BUDGET]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("x86lab starts");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Session { child, output: rx, text: String::new(), seen: 0 }
    }

    /// Waits until `needle` appears after what earlier calls consumed; returns the text from
    /// there up to and including it.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = self.text[self.seen..].find(needle) {
                let end = self.seen + i + needle.len();
                let got = self.text[self.seen..end].to_string();
                self.seen = end;
                return got;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.text.push_str(&String::from_utf8_lossy(&bytes).replace('\r', "")),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("timed out waiting for {needle:?}; the output so far:\n{}", self.text)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("x86lab ended before printing {needle:?}; the output:\n{}", self.text)
                }
            }
        }
    }

    /// Types a command line, then waits for `last` (the end of the command's output).
    fn command(&mut self, line: &str, last: &str) -> String {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        let echo = format!("{line}\n");
        self.expect(&echo);
        self.expect(last)
    }

    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("x86lab ends");
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status.code(), err)
    }
}

/// The "page allocator: F of T pages free" line's F.
fn free_pages(mem: &str) -> u64 {
    let line = mem.lines().find(|l| l.starts_with("page allocator: ")).expect("mem prints the page allocator line");
    line["page allocator: ".len()..].split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn shell_over_serial() {
    let mut s = Session::start();
    let boot = s.expect("Type 'help' for the commands.\n");
    for line in [
        "x86lab demo OS",
        "  pic: IRQs 0-15 at vectors 20h-2Fh; pit: channel 0 at 100 Hz (mode 2)",
        "  floppy: 82077AA and DMA channel 2 ready; 2 files in the file table",
        "  tasks: shell (pid 1), spinner (pid 2), counter (pid 3), all in ring 3",
    ] {
        assert!(boot.contains(line), "the boot log lacks {line:?}:\n{boot}");
    }

    let help = s.command("help", "reboot        reset the machine through the keyboard controller\n");
    for cmd in ["help", "mem", "tasks", "uptime", "ls", "cat FILE", "gfx", "pf [", "gp [", "exit [N]"] {
        assert!(help.contains(&format!("  {cmd}")), "help lacks {cmd}:\n{help}");
    }

    let uptime = s.command("uptime", " ticks of the PIT at 100 Hz)\n");
    let line = uptime.lines().find(|l| l.starts_with("uptime: ")).expect("an uptime line");
    let (secs, rest) = line["uptime: ".len()..].split_once(" s (").expect("uptime: S.HH s (N ticks ...)");
    let ticks: u64 = rest.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(secs, format!("{}.{:02}", ticks / 100, ticks % 100), "{line}");

    let tasks = s.command("tasks", " ticks\n");
    for (pid, name) in [(1, "shell"), (2, "spinner"), (3, "counter")] {
        assert!(
            tasks.lines().any(|l| l.starts_with(&format!("{pid:5}  ")) && l.ends_with(&format!("  {name}"))),
            "tasks lacks pid {pid} {name}:\n{tasks}"
        );
    }
    assert!(tasks.contains("    1  running"), "the shell is the running task:\n{tasks}");

    let ls = s.command("ls", "(sector 163)\n");
    assert!(ls.contains("  README.TXT        1394 bytes  (sector 160)\n"), "{ls}");
    assert!(ls.contains("  HELLO.TXT          301 bytes  (sector 163)\n"), "{ls}");

    // The files come back byte for byte (HELLO.TXT is one sector; README.TXT crosses from
    // head 0 to head 1, so the kernel's driver reads it with two READ DATA commands).
    for (cmd, file) in [("cat HELLO.TXT", "HELLO.TXT"), ("cat readme.txt", "README.TXT")] {
        let want = std::fs::read_to_string(root().join("roms/demo/files").join(file)).unwrap();
        let last = want.lines().last().unwrap();
        let got = s.command(cmd, &format!("{last}\n"));
        assert_eq!(got, want, "{cmd}");
    }
    s.command("cat NOSUCH.TXT", "cat: no such file: NOSUCH.TXT\n");

    let mem = s.command("mem", " KiB)\n");
    assert!(mem.contains("physical memory map (BIOS INT 15h E820h):\n"), "{mem}");
    assert!(mem.contains("  0000000000100000 - 0000000001FFFFFF  usable RAM\n"), "32 MiB of RAM:\n{mem}");
    let free_before = free_pages(&mem);

    // Page faults from ring 3: the kernel explains CR2 and the error code, kills the task, and
    // the shell carries on.
    for (cmd, cr2, access, error) in [
        ("pf", "0x40200000", "user write to a not-present page", "0x0006"),
        ("pf null", "0x00000000", "user read from a not-present page", "0x0004"),
        (
            "pf kernel",
            "0x00010000",
            "user read from a page it may not access that way (protection violation)",
            "0x0005",
        ),
        ("pf ro", "0x4000", "user write to a page it may not access that way (protection violation)", "0x0007"),
        ("pf stack", "0x403FC", "user write to a not-present page", "0x0006"),
    ] {
        let out = s.command(cmd, "(exit status 0x10E)\n");
        assert!(out.contains("*** #PF page fault (exception 14) in task "), "{cmd}:\n{out}");
        assert!(out.contains(&format!(", error code {error}\n")), "{cmd}: error code {error}:\n{out}");
        assert!(out.contains(&format!("    CR2={cr2}")), "{cmd}: CR2 {cr2}:\n{out}");
        assert!(out.contains(&format!(": {access}\n")), "{cmd}: {access}:\n{out}");
        assert!(out.contains("was killed by the kernel after exception 14"), "{cmd}:\n{out}");
    }
    assert!(s.text.contains("the guard page below the task's stack: the stack overflowed"), "pf stack");

    // General protection faults: vector, error code, faulting EIP, and why.
    let gp = s.command("gp", "(exit status 0x10D)\n");
    assert!(gp.contains("*** #GP general protection fault (exception 13) in task "), "{gp}");
    assert!(gp.contains("    at EIP=0x4000"), "the faulting EIP is in the user code:\n{gp}");
    assert!(gp.contains(", error code 0x0000\n"), "{gp}");
    assert!(gp.contains("its first byte is 0xFA = CLI"), "{gp}");
    let gp = s.command("gp hlt", "(exit status 0x10D)\n");
    assert!(gp.contains("0xF4 = HLT"), "{gp}");
    let gp = s.command("gp io", "(exit status 0x10D)\n");
    assert!(gp.contains("0xE4 = IN/OUT"), "{gp}");
    let gp = s.command("gp int", "(exit status 0x10D)\n");
    assert!(gp.contains(", error code 0x010A\n"), "INT 21h: IDT entry 33:\n{gp}");
    assert!(gp.contains("IDT entry 33 (vector 21h)"), "{gp}");

    // The killed tasks gave all their pages back and left the task table.
    let mem = s.command("mem", " KiB)\n");
    assert_eq!(free_pages(&mem), free_before, "pages leaked by the killed tasks:\n{mem}");
    let tasks = s.command("tasks", " ticks\n");
    let rows = tasks.lines().filter(|l| l.len() > 5 && l[..5].trim().parse::<u32>().is_ok()).count();
    assert_eq!(rows, 3, "only shell, spinner and counter are left:\n{tasks}");

    s.command("echo hello, world", "hello, world\n");
    s.command("frobnicate", "unknown command: frobnicate (type 'help')\n");

    s.command("exit 3", "exit: writing 3 to port F4h\n");
    let (status, err) = s.finish();
    assert_eq!(status, Some(7), "exit 3 ends the run with status (3 << 1) | 1\n{err}");
}

/// The part of `--stats` output that describes what the guest did (not how fast the host ran).
fn guest_stats(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with("stats: "))
        .chain(stderr.lines().filter_map(|l| l.strip_prefix("stats: ")).map(|l| l.split(' ').next().unwrap()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_with_input(input: &[u8], extra: &[&'static str]) -> Output {
    let mut child = x86lab()
        .args(run_args(extra))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("x86lab starts");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn boot_is_deterministic() {
    // 40 million instructions: the BIOS, the boot sector, the kernel's boot, the prompt, and
    // some seconds of the spinner and the counter being scheduled. No input: nothing on the
    // host side can change when anything happens.
    let extra = ["--max-instructions", "40000000", "--stats"];
    let a = run_with_input(b"", &extra);
    let b = run_with_input(b"", &extra);
    assert_eq!(a.status.code(), Some(4), "the budget ends the run");
    let text = String::from_utf8_lossy(&a.stdout);
    assert!(text.contains("Type 'help' for the commands."), "the shell started:\n{text}");
    assert_eq!(a.stdout, b.stdout, "the serial output differs between two runs");
    let (sa, sb) = (String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
    assert!(sa.contains("stats: instructions=40000000 "), "{sa}");
    assert_eq!(guest_stats(&sa), guest_stats(&sb), "port accesses or interrupts differ between two runs");
}

/// A script piped on stdin from the start: x86lab's paced host input (headless, stdin not a
/// terminal) holds each byte until the guest waits for input (the shell idle in HLT with the
/// COM1 receive interrupt on), and waits for the host when the guest is ready first, so no byte
/// is lost to the BIOS's set-up of COM1 and the run is a function of the input alone: the same
/// output, instruction count and exits twice.
#[test]
fn piped_script_is_deterministic() {
    let script = b"help\nuptime\ntasks\ncat HELLO.TXT\npf\ngp\nuptime\nexit\n";
    let extra = ["--max-instructions", BUDGET, "--stats"];
    let a = run_with_input(script, &extra);
    let b = run_with_input(script, &extra);
    let text = String::from_utf8_lossy(&a.stdout);
    assert_eq!(a.status.code(), Some(1), "exit (0) ends the run with status 1:\n{text}");
    assert!(text.contains("Hello from the floppy!"), "{text}");
    // Every byte arrived, in order: each command is echoed whole after a prompt.
    let text = text.replace('\r', "");
    for cmd in ["help", "uptime", "tasks", "cat HELLO.TXT", "pf", "gp", "exit"] {
        assert!(text.contains(&format!("demo> {cmd}\n")), "{cmd} was not echoed whole:\n{text}");
    }
    assert!(!text.contains("unknown command"), "{text}");
    assert_eq!(a.stdout, b.stdout, "the serial output differs between two runs");
    let (sa, sb) = (String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
    assert_eq!(guest_stats(&sa), guest_stats(&sb), "instruction counts or exits differ between two runs");
}

#[test]
fn committed_image_matches_its_sources() {
    if Command::new("nasm").arg("-v").output().is_err() {
        eprintln!("nasm is not installed: skipping tools/build-demo --check");
        return;
    }
    let out = Command::new("bash").current_dir(root()).args(["tools/build-demo", "--check"]).output().unwrap();
    assert!(
        out.status.success(),
        "tools/build-demo --check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The address of `name` in `roms/demo/demo.sym` (made by tools/build-demo from the sources).
fn demo_symbol(name: &str) -> u32 {
    let syms = std::fs::read_to_string(root().join("roms/demo/demo.sym")).unwrap();
    let line = syms.lines().find(|l| l.split_whitespace().nth(1) == Some(name)).expect("symbol in demo.sym");
    u32::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

/// Colour number of mode-13h pixel (x, y) as `gfx_demo` in `roms/demo/kernel/vga.inc` draws
/// it: the top 100 rows are four bars 80 pixels wide (ramps 0-3: grey, red, green, blue), the
/// shade `y * 64 / 100`; the bottom 100 rows are `x XOR y` (the low byte, STOSB).
fn gfx_colour(x: u32, y: u32) -> u8 {
    if y < 100 { ((x / 80) * 64 + y * 64 / 100) as u8 } else { (x ^ y) as u8 }
}

/// The RGB the screen shows for colour number `c` under the demo's palette: four ramps of 64
/// levels; ramp `c / 64` lights red+green+blue, red, green or blue at level `c % 64` (6-bit DAC
/// values), widened to 8 bits by repeating the top bits as a VGA DAC's 6-bit output is (0x3F
/// -> 0xFF, 0x20 -> 0x82).
fn gfx_rgb(c: u8) -> u32 {
    let level = (c & 63) as u32;
    let v = (level << 2) | (level >> 4);
    let (r, g, b) = [(1, 1, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1)][c as usize / 64];
    (r * v) << 16 | (g * v) << 8 | (b * v)
}

/// `gfx` typed over COM1 into a headless demo OS (the machine built from the library, with the
/// paced serial input the command line uses for a pipe), stopped when `gfx_demo` has drawn and
/// waits (its `.wait` loop): the VGA renderer's framebuffer -- what `--screenshot` saves -- must
/// be the picture the demo's drawing code describes, pixel for pixel, at 640x400 (each mode-13h
/// pixel 2x2); then `x86lab run --screenshot`, stopped at that instruction, must save it too.
#[test]
fn gfx_draws_the_documented_picture_in_mode_13h() {
    use x86lab::devices::debugcon::Sink;
    use x86lab::devices::disk::Disk;
    use x86lab::machine::{BootDevice, Machine, MachineConfig};

    let ram_bytes = 32 << 20;
    let demo = std::fs::read(root().join(IMAGE)).unwrap();
    let mut m = Machine::new(MachineConfig {
        ram_bytes,
        bios: std::fs::read(root().join("bios/x86lab-bios.bin")).unwrap(),
        debugcon: Sink::None,
        serial: Sink::None,
        ips: x86lab::machine::clock::DEFAULT_IPS,
        rtc_unix: 946_684_800,
        cmos: x86lab::devices::rtc_cmos::CmosConfig { ram_bytes: ram_bytes as u64, ..Default::default() },
        floppies: [Some(Disk::from_bytes(demo, true).unwrap()), None],
        hard_disks: [None, None, None, None],
        boot_order: [BootDevice::Floppy, BootDevice::HardDisk],
        vga_bios: None,
    })
    .unwrap();
    let (tx, rx) = channel();
    for &b in b"gfx\n" {
        tx.send(b).unwrap();
    }
    m.serial_input = Some(rx);
    m.serial_paced = true;

    // Run until the shell is in gfx_demo (gfx_active = 1), then instruction by instruction to
    // its wait loop: everything is drawn then.
    let (active, wait) = (demo_symbol("gfx_active"), demo_symbol("gfx_demo.wait"));
    let mut ran = 0u64;
    while m.bus.mem.ram[active as usize] == 0 {
        assert!(ran < 200_000_000, "gfx never started");
        m.run(100_000);
        ran += 100_000;
    }
    let mut steps = 0;
    while m.cpu.eip != wait {
        assert!(steps < 5_000_000, "gfx_demo never reached its wait loop");
        assert_eq!(m.step(), None, "the run ended inside gfx_demo");
        steps += 1;
    }
    drop(tx);

    let img = x86lab::frontend::screenshot::Image::of_machine(&m);
    assert_is_the_gfx_picture(&img);

    // The command line's --screenshot at the same instruction (same machine: demo image read-only,
    // 32 MiB, default --ips, the RTC at 2000-01-01, "gfx" piped into COM1) saves that picture.
    let stop_at = m.cpu.icount.to_string();
    let dir = std::env::temp_dir().join(format!("x86lab-demo-gfx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("gfx.png");
    let png_arg = png.to_str().unwrap().to_string();
    let out = {
        let mut child = x86lab()
            .args(run_args(&["--rtc", "2000-01-01T00:00:00", "--max-instructions"]))
            .arg(&stop_at)
            .arg("--screenshot")
            .arg(&png_arg)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("x86lab starts");
        child.stdin.take().unwrap().write_all(b"gfx\n").unwrap();
        child.wait_with_output().unwrap()
    };
    assert_eq!(out.status.code(), Some(4), "stopped by --max-instructions: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).unwrap();
    let shot = x86lab::frontend::screenshot::Image::from_png(&bytes).unwrap();
    assert_is_the_gfx_picture(&shot);
    let _ = std::fs::remove_dir_all(dir);
}

/// `img` is what `gfx_demo` draws: 640x400 (each mode-13h pixel 2x2), checked structurally
/// (each bar's colour at its brightest, the XOR pattern's corners), then pixel for pixel.
fn assert_is_the_gfx_picture(img: &x86lab::frontend::screenshot::Image) {
    assert_eq!((img.width, img.height), (640, 400), "mode 13h is shown at 640x400");
    // Structural checks first (each bar's colour at its brightest, the XOR pattern's corners),
    // then every pixel.
    let at = |x: usize, y: usize| img.pixels[2 * y * 640 + 2 * x];
    assert_eq!(at(40, 99), 0xFF_FFFF, "the grey bar ends white");
    assert_eq!(at(120, 99), 0xFF_0000, "the red bar ends red");
    assert_eq!(at(200, 99), 0x00_FF00, "the green bar ends green");
    assert_eq!(at(280, 99), 0x00_00FF, "the blue bar ends blue");
    assert_eq!(at(0, 0), 0, "every bar starts black");
    assert_eq!(at(100, 100), 0, "x XOR y is 0 on the diagonal: colour 0, black");
    let mut wrong = Vec::new();
    for y in 0..400 {
        for x in 0..640 {
            let want = gfx_rgb(gfx_colour(x as u32 / 2, y as u32 / 2));
            let got = img.pixels[y * 640 + x];
            if got != want && wrong.len() < 10 {
                wrong.push(format!("({x},{y}): {got:06x}, expected {want:06x}"));
            }
        }
    }
    assert!(wrong.is_empty(), "pixels differ from the documented picture:\n{}", wrong.join("\n"));
}
