//! The window front end and screenshots, through the real command line.
//!
//! - Headless `--screenshot` of a text screen and of a mode 13h screen (the boot floppies
//!   `roms/tests/boot/kbdecho.bin` and `mode13.bin`), checked by decoding the PNG: its size, the
//!   banner's glyphs pixel for pixel against the VGA font, the colour bars.
//! - No display: `x86lab run` without `--headless` says so, suggests `--headless` and exits 2.
//! - A real window under Xvfb: kbdecho boots in it, xdotool types into the window through the X
//!   server, and the test checks the guest's echo on its debug console, a capture of the window
//!   taken from the X server (xwd), the host-key commands (pause, snapshot save and restore,
//!   screenshot, reset, power off) and the host CPU an idle guest costs. Skipped, with a notice, when Xvfb, xdotool or xwd is
//!   not installed (CI installs them: see .ci/run).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use x86lab::devices::vga::font::FONT_8X16;
use x86lab::frontend::screenshot::Image;

const KBDECHO: &str = "roms/tests/boot/kbdecho.bin";
const MODE13: &str = "roms/tests/boot/mode13.bin";
const BANNER: &str = "x86lab kbdecho: keys go to the screen and port E9h";
const BLUE: u32 = 0x0000AA;
const WHITE: u32 = 0xFFFFFF;

fn x86lab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_x86lab"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("x86lab-window-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read_png(path: &Path) -> Image {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Image::from_png(&bytes).unwrap()
}

/// The pixels of text row `row` of an 80x25 screen (9x16 cells, white on blue) showing `text`
/// from column 0, at `scale`: what the VGA draws with the BIOS's 8x16 font (the same font).
fn expected_row(text: &str, scale: usize) -> Vec<u32> {
    let (w, h) = (720 * scale, 16 * scale);
    let mut px = vec![BLUE; w * h];
    for (col, ch) in text.bytes().enumerate() {
        for line in 0..16 {
            let bits = FONT_8X16[ch as usize * 16 + line];
            for dot in 0..8 {
                if bits & (0x80 >> dot) != 0 {
                    for sy in 0..scale {
                        for sx in 0..scale {
                            px[(line * scale + sy) * w + (col * 9 + dot) * scale + sx] = WHITE;
                        }
                    }
                }
            }
        }
    }
    px
}

/// Text row `row` of a picture of an 80x25 screen drawn at `scale`.
fn row_of(img: &Image, row: usize, scale: usize) -> Vec<u32> {
    let (w, h) = (720 * scale, 16 * scale);
    assert_eq!((img.width, img.height), (w, 400 * scale));
    img.pixels[row * h * w..(row + 1) * h * w].to_vec()
}

/// Asserts that text row `row` of `img` shows `text` (and nothing else).
fn assert_row(img: &Image, row: usize, scale: usize, text: &str) {
    let got = row_of(img, row, scale);
    let want = expected_row(text, scale);
    let bad = got.iter().zip(&want).filter(|(a, b)| a != b).count();
    assert_eq!(bad, 0, "text row {row} should show {text:?}: {bad} pixels differ");
}

/// Checks that text cells `col..` of text row `row` (9x16 cells, scale 1) show `text` in the
/// VGA font, dots `fg` on `bg`.
fn assert_cells(img: &Image, row: usize, col: usize, text: &str, fg: u32, bg: u32) {
    let mut bad = 0;
    for (i, ch) in text.bytes().enumerate() {
        for line in 0..16 {
            let bits = FONT_8X16[ch as usize * 16 + line];
            for dot in 0..9 {
                // The 9th dot repeats the 8th only for the line-graphics characters C0h-DFh.
                let on = dot < 8 && bits & (0x80 >> dot) != 0;
                let want = if on { fg } else { bg };
                if img.pixel((col + i) * 9 + dot, row * 16 + line) != Some(want) {
                    bad += 1;
                }
            }
        }
    }
    assert_eq!(bad, 0, "text row {row} from column {col} should show {text:?}: {bad} pixels differ");
}

/// The demo OS's own screen after boot, headless: its status line (white on blue, written by the
/// kernel into video memory) and the shell's welcome line and prompt (light grey on black).
#[test]
fn headless_screenshot_of_the_demo_os_text_screen() {
    const GREY: u32 = 0xAAAAAA;
    let dir = temp_dir("demo-text");
    let png = dir.join("demo.png");
    let out = x86lab()
        .args(["run", "--headless", "--serial", "none", "--max-instructions", "40000000", "--screenshot"])
        .arg(&png)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "stopped by the budget: {}", describe(&out));
    let img = read_png(&png);
    assert_eq!((img.width, img.height), (720, 400), "80x25 text in 9x16 cells");
    // roms/demo/kernel/console.inc: status_text, STATUS_ATTR = 1Fh (white on blue).
    assert_cells(&img, 0, 0, " x86lab demo OS  |  counter task: ", WHITE, BLUE);
    // The counter task's field: ten decimal digits, whatever the count has reached.
    let digits: Vec<char> = (0..10)
        .map(|i| {
            (b'0'..=b'9')
                .find(|&d| {
                    let glyph = &FONT_8X16[d as usize * 16..d as usize * 16 + 16];
                    (0..16).all(|line| {
                        (0..8).all(|dot| {
                            let on = glyph[line] & (0x80 >> dot) != 0;
                            img.pixel((34 + i) * 9 + dot, line) == Some(if on { WHITE } else { BLUE })
                        })
                    })
                })
                .map_or('?', char::from)
        })
        .collect();
    assert!(digits.iter().all(char::is_ascii_digit), "counter field: {digits:?}");
    // roms/demo/user/shell.inc: the welcome line, then the prompt, in attribute 07h.
    assert_cells(&img, 12, 0, "Welcome to the x86lab demo OS. Type 'help' for the commands.", GREY, 0);
    assert_cells(&img, 13, 0, "demo> ", GREY, 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn headless_screenshot_of_a_text_screen() {
    let dir = temp_dir("text");
    let png = dir.join("text.png");
    let out = x86lab()
        .args(["run", KBDECHO, "--headless", "--max-instructions", "8000000", "--screenshot"])
        .arg(&png)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("kbdecho: ready"), "{}", describe(&out));
    let img = read_png(&png);
    assert_eq!((img.width, img.height), (720, 400), "80x25 text in 9x16 cells");
    assert_row(&img, 0, 1, BANNER);
    // Rows 1 and 5-24 are blank (the cursor, if its blink phase shows it, is on row 2).
    for row in [1].into_iter().chain(5..25) {
        assert_row(&img, row, 1, "");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn headless_screenshot_of_mode_13h() {
    let dir = temp_dir("mode13");
    let png = dir.join("m13.png");
    let out =
        x86lab().args(["run", MODE13, "--headless", "--screenshot"]).arg(&png).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("mode13: drawn"), "{}", describe(&out));
    let img = read_png(&png);
    assert_eq!((img.width, img.height), (640, 400), "320x200 shown with square-ish pixels, 2x2 dots each");
    // The default palette's first 16 colours (the EGA colours, 6-bit DAC values scaled to 8 bits).
    const EGA: [u32; 16] = [
        0x000000, 0x0000AA, 0x00AA00, 0x00AAAA, 0xAA0000, 0xAA00AA, 0xAA5500, 0xAAAAAA, 0x555555, 0x5555FF, 0x55FF55,
        0x55FFFF, 0xFF5555, 0xFF55FF, 0xFFFF55, 0xFFFFFF,
    ];
    let mut last_grey = None;
    for (bar, want) in EGA.iter().enumerate() {
        let x = 2 * (20 * bar + 10);
        assert_eq!(img.pixel(x, 2 * 50), Some(*want), "top bar {bar}");
        assert_eq!(img.pixel(x + 1, 2 * 50 + 1), Some(*want), "a guest pixel is 2x2 dots");
        // Colours 16-31: a grey ramp, darkest first.
        let g = img.pixel(x, 2 * 150).unwrap();
        let (r, gr, b) = (g >> 16, (g >> 8) & 0xFF, g & 0xFF);
        assert!(r == gr && gr == b, "bottom bar {bar} is grey: {g:06x}");
        assert!(last_grey.is_none_or(|l| r > l), "the grey ramp gets lighter: bar {bar} {g:06x}");
        last_grey = Some(r);
    }
    // The white frame round the edge.
    for (x, y) in [(0, 0), (639, 0), (0, 399), (639, 399), (1, 200), (638, 200), (320, 1), (320, 398)] {
        assert_eq!(img.pixel(x, y), Some(WHITE), "frame at ({x}, {y})");
    }
    assert_eq!(img.pixel(2, 2), Some(0x000000), "inside the frame, bar 0 is black");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_a_display_the_window_says_so_and_suggests_headless() {
    let out = x86lab()
        .args(["run", KBDECHO])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open a window") && err.contains("DISPLAY is not set"), "{}", describe(&out));
    assert!(err.contains("--headless") && !err.contains("panicked"), "{}", describe(&out));
    // A display that no X server serves.
    let out = x86lab().args(["run", KBDECHO]).env("DISPLAY", ":4093").stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no X server answers on DISPLAY=:4093") && err.contains("--headless"), "{}", describe(&out));
    // --gdb keeps the window, so it needs a display too (and says so before listening).
    let out = x86lab()
        .args(["run", KBDECHO, "--gdb", "127.0.0.1:0", "-S"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DISPLAY is not set") && err.contains("--headless"), "{}", describe(&out));
    assert!(!err.contains("waiting for gdb"), "{}", describe(&out));
}

#[test]
fn bad_scale_and_unwritable_screenshot_are_usage_errors() {
    let out = x86lab().args(["run", KBDECHO, "--headless", "--scale", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scale 0"), "{}", describe(&out));
    let out = x86lab().args(["run", KBDECHO, "--headless", "--screenshot", "/nonexistent-dir/x.png"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--screenshot /nonexistent-dir/x.png"), "{}", describe(&out));
}

// ---------------------------------------------------------------------------------------------
// The window under Xvfb
// ---------------------------------------------------------------------------------------------

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// Kills and reaps a child when dropped (so a failing test leaves no Xvfb behind).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Xvfb on a free display (it picks one: -displayfd) and returns it with its name.
fn start_xvfb() -> (Reaped, String) {
    let mut xvfb = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts");
    let mut line = String::new();
    BufReader::new(xvfb.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let n: u32 = line.trim().parse().unwrap_or_else(|_| panic!("Xvfb printed {line:?} for its display"));
    (Reaped(xvfb), format!(":{n}"))
}

/// Runs an X client on `display` and returns its stdout; panics if it fails.
fn xrun(display: &str, prog: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(prog).args(args).env("DISPLAY", display).output().unwrap();
    assert!(out.status.success(), "{prog} {args:?}: {}", describe(&out));
    out.stdout
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Decodes an XWD file (`xwd -silent`): a 24/32-bit TrueColor ZPixmap, as Xvfb's 24-bit screen
/// gives.
fn parse_xwd(d: &[u8]) -> Image {
    let be = |i: usize| u32::from_be_bytes(d[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
    let (header_size, format, width, height) = (be(0), be(2), be(4), be(5));
    let (byte_order, bits_per_pixel, bytes_per_line, ncolors) = (be(7), be(11), be(12), be(19));
    let (red_mask, green_mask, blue_mask) = (be(14), be(15), be(16));
    assert_eq!((format, bits_per_pixel), (2, 32), "a ZPixmap of 32-bit pixels");
    assert_eq!((red_mask, green_mask, blue_mask), (0xFF0000, 0xFF00, 0xFF));
    let base = header_size + ncolors * 12;
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let i = base + y * bytes_per_line + x * 4;
            let b: [u8; 4] = d[i..i + 4].try_into().unwrap();
            let p = if byte_order == 0 { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) };
            pixels.push(p & 0xFF_FFFF);
        }
    }
    Image { width, height, pixels }
}

/// CPU time (user + system) a process has used, in clock ticks (/proc/PID/stat fields 14, 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after_name.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn a_real_window_under_xvfb_takes_typing_and_hotkeys() {
    let missing: Vec<&str> = ["Xvfb", "xdotool", "xwd"].into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED a_real_window_under_xvfb_takes_typing_and_hotkeys: {} not installed \
             (apt-get install xvfb xdotool x11-apps; CI does)",
            missing.join(", ")
        );
        return;
    }
    let (_xvfb, display) = start_xvfb();
    let dir = temp_dir("xvfb");
    let end_png = dir.join("end.png");
    // Screenshots taken with the hotkey go to the current directory: the temporary one.
    let mut child = x86lab()
        .args(["run", concat!(env!("CARGO_MANIFEST_DIR"), "/roms/tests/boot/kbdecho.bin"), "--screenshot"])
        .arg(&end_png)
        .env("DISPLAY", &display)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = Arc::new(Mutex::new(String::new()));
    {
        let stdout = stdout.clone();
        let mut pipe = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                stdout.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    let stderr = Arc::new(Mutex::new(String::new()));
    {
        let stderr = stderr.clone();
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                stderr.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    let err = || stderr.lock().unwrap().clone();
    let pid = child.id();
    let mut child = Reaped(child);
    let out = || stdout.lock().unwrap().clone();
    let long = Duration::from_secs(120);
    wait_for("kbdecho: ready on the debug console", long, || out().contains("kbdecho: ready"));

    // The window: found by its title, given the focus, typed into through the X server (XTEST).
    let id = String::from_utf8(xrun(&display, "xdotool", &["search", "--sync", "--name", "^x86lab - kbdecho.bin"]))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let title = || String::from_utf8(xrun(&display, "xdotool", &["getwindowname", &id])).unwrap();
    assert!(title().contains("running"), "title: {}", title());
    let geometry = String::from_utf8(xrun(&display, "xdotool", &["getwindowgeometry", &id])).unwrap();
    assert!(geometry.contains("1440x800"), "720x400 at the scale that fits 1600x1000 (2): {geometry}");
    xrun(&display, "xdotool", &["windowfocus", "--sync", &id]);
    xrun(&display, "xdotool", &["type", "--delay", "20", "Hello, World!"]);
    xrun(&display, "xdotool", &["key", "Return"]);
    wait_for("the echo of Hello, World!", long, || out().contains("kbdecho: ready\nHello, World!\n"));

    // Pause: keys typed meanwhile do not reach the guest.
    xrun(&display, "xdotool", &["key", "Control_R+p"]);
    wait_for("the title to say paused", long, || title().contains("paused"));
    xrun(&display, "xdotool", &["type", "--delay", "20", "xyz"]);
    std::thread::sleep(Duration::from_millis(300));
    xrun(&display, "xdotool", &["key", "Control_R+p"]);
    wait_for("the title to say running", long, || title().contains("running"));
    xrun(&display, "xdotool", &["type", "--delay", "20", "ok"]);
    xrun(&display, "xdotool", &["key", "Return"]);
    wait_for("the echo of ok", long, || out().contains("Hello, World!\nok\n"));
    assert!(!out().contains("xyz"), "keys typed while paused reached the guest: {}", out());

    // Snapshot save, a line typed, snapshot restore: the line is gone from the screen again.
    xrun(&display, "xdotool", &["key", "Control_R+w"]);
    wait_for("the snapshot to be saved", long, || err().contains("snapshot saved to x86lab-window.snap"));
    xrun(&display, "xdotool", &["type", "--delay", "20", "zz"]);
    xrun(&display, "xdotool", &["key", "Return"]);
    wait_for("the echo of zz", long, || out().contains("ok\nzz\n"));
    xrun(&display, "xdotool", &["key", "Control_R+l"]);
    wait_for("the snapshot to be restored", long, || err().contains("snapshot restored from x86lab-window.snap"));

    // What the X server shows in the window: the banner and both lines, each dot 2x2.
    std::thread::sleep(Duration::from_millis(200));
    let shot = parse_xwd(&xrun(&display, "xwd", &["-id", &id, "-silent"]));
    assert_eq!((shot.width, shot.height), (1440, 800));
    assert_row(&shot, 0, 2, BANNER);
    assert_row(&shot, 2, 2, "Hello, World!");
    assert_row(&shot, 3, 2, "ok");
    for row in (5..25).chain([1]) {
        assert_row(&shot, row, 2, "");
    }
    // Row 4 has the cursor (scan lines 13-14 of its cell, when its blink phase shows it) and no
    // longer "zz".
    let row4 = row_of(&shot, 4, 2);
    assert!(row4[..13 * 2 * 1440].iter().all(|&p| p == BLUE), "row 4 is blank above the cursor");

    // The screenshot hotkey writes the same picture at the display size (row 4 has the cursor,
    // whose blink phase may differ).
    xrun(&display, "xdotool", &["key", "Control_R+s"]);
    let hot = dir.join("x86lab-screenshot-1.png");
    wait_for("the hotkey's screenshot", long, || {
        hot.exists() && Image::from_png(&std::fs::read(&hot).unwrap()).is_ok()
    });
    let small = read_png(&hot);
    assert_eq!((small.width, small.height), (720, 400));
    for y in (0..400).filter(|y| !(64..80).contains(y)) {
        for x in 0..720 {
            assert_eq!(small.pixel(x, y), shot.pixel(2 * x, 2 * y), "hotkey screenshot vs the window at ({x}, {y})");
        }
    }

    // Reset (a power cycle): the BIOS boots kbdecho again. Then the guest idles in HLT: measure
    // the host CPU the window costs over 5 s.
    xrun(&display, "xdotool", &["key", "Control_R+r"]);
    wait_for("kbdecho to boot again", long, || out().matches("kbdecho: ready").count() == 2);
    std::thread::sleep(Duration::from_millis(500));
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    std::thread::sleep(Duration::from_secs(5));
    let (secs, used) = (t0.elapsed().as_secs_f64(), cpu_ticks(pid) - c0);
    // USER_HZ (sysconf(_SC_CLK_TCK)) is 100 on Linux.
    let percent = used as f64 / 100.0 / secs * 100.0;
    eprintln!(
        "idle guest (HLT, 18.2 Hz timer) in a window: the host process used {percent:.1}% of a CPU over {secs:.1} s"
    );
    assert!(percent < 35.0, "an idle guest should not keep the host busy: {percent:.1}% of a CPU");

    // Power off: the run ends with status 0 and writes --screenshot: the fresh screen.
    xrun(&display, "xdotool", &["key", "Control_R+q"]);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "x86lab did not end after power off");
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = err();
    assert_eq!(status.code(), Some(0), "stdout:\n{}\nstderr:\n{err}", out());
    assert!(err.contains("screenshot saved to ./x86lab-screenshot-1.png"), "{err}");
    let end = read_png(&end_png);
    assert_row(&end, 0, 1, BANNER);
    assert_row(&end, 3, 1, "");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// gdb beside the window
// ---------------------------------------------------------------------------------------------

/// Collects everything a child writes on a pipe.
fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let t = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            t.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The linear address of a demo OS symbol (roms/demo/demo.sym).
fn demo_symbol(name: &str) -> String {
    let sym = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/roms/demo/demo.sym")).unwrap();
    let addr = sym.lines().find_map(|l| l.strip_suffix(&format!(" {name}"))).unwrap_or_else(|| panic!("{name}"));
    format!("0x{}", addr.trim_start_matches('0').to_lowercase())
}

#[test]
fn gdb_beside_a_live_window() {
    let missing: Vec<&str> = ["Xvfb", "xdotool", "gdb"].into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED gdb_beside_a_live_window: {} not installed (apt-get install xvfb xdotool gdb; CI does)",
            missing.join(", ")
        );
        return;
    }
    let (_xvfb, display) = start_xvfb();
    let addr = format!("127.0.0.1:{}", free_port());
    // The demo OS (no image given), its shell on the screen and on COM1 (stdout).
    let mut child = x86lab()
        .args(["run", "--gdb", &addr, "-S", "--serial", "stdio", "--debugcon", "none"])
        .env("DISPLAY", &display)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let out = || stdout.lock().unwrap().clone();
    let err = || stderr.lock().unwrap().clone();
    let mut child = Reaped(child);
    let long = Duration::from_secs(120);
    wait_for("x86lab to wait for gdb", long, || err().contains("waiting for gdb before the first instruction"));

    // -S: the window is there, black, and says it waits; no instruction has run. (The window is
    // opened again when the guest changes the display size: it is looked up by name each time.)
    let window = || {
        let ids = xrun(&display, "xdotool", &["search", "--sync", "--name", "^x86lab - demo OS"]);
        String::from_utf8(ids).unwrap().lines().last().unwrap().to_string()
    };
    // The window may be replaced between the search and the question: an empty title then.
    let title = || {
        let out = Command::new("xdotool").args(["getwindowname", &window()]).env("DISPLAY", &display).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    };
    wait_for("the title to say it waits for gdb", long, || title().contains(&format!("waiting for gdb on {addr}")));
    assert!(out().is_empty(), "the guest ran before gdb came: {}", out());

    // gdb: the reset vector, a breakpoint on the demo kernel's timer interrupt handler, a
    // single step, monitor commands; the window's title seen from gdb (`shell`) while it has the
    // guest stopped; then detach.
    let timer = demo_symbol("timer_irq");
    let title_cmd = format!("shell DISPLAY={display} xdotool search --name '^x86lab - demo OS' getwindowname");
    let g = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", "set architecture i386", "-ex", &format!("target remote {addr}")])
        .args(["-ex", "info registers eip"])
        .args(["-ex", &format!("break *{timer}")])
        .args(["-ex", "continue"])
        .args(["-ex", "info registers eip cs"])
        .args(["-ex", &title_cmd])
        .args(["-ex", "stepi"])
        .args(["-ex", "info registers eip"])
        .args(["-ex", "monitor info pic"])
        .args(["-ex", "monitor regs"])
        .args(["-ex", "delete"])
        .args(["-ex", "detach"])
        .stdin(Stdio::null())
        .output()
        .expect("gdb runs");
    let gout = format!("{}{}", String::from_utf8_lossy(&g.stdout), String::from_utf8_lossy(&g.stderr));
    let ctx = || format!("--- gdb ---\n{gout}\n--- x86lab stderr ---\n{}\n--- stdout ---\n{}", err(), out());
    assert!(gout.contains("eip            0xfff0"), "reset EIP\n{}", ctx());
    assert!(
        gout.contains(&format!("Breakpoint 1, 0x{:08x} in ?? ()", u32::from_str_radix(&timer[2..], 16).unwrap())),
        "{}",
        ctx()
    );
    assert!(gout.contains(&format!("eip            {timer}")), "{}", ctx());
    assert!(gout.contains("cs             0x8 "), "the kernel's code segment\n{}", ctx());
    assert!(gout.contains("x86lab - demo OS - stopped - gdb: stopped"), "the title while gdb has the guest\n{}", ctx());
    let after_step = gout.rsplit("eip            ").next().unwrap_or("");
    assert!(!after_step.starts_with(&timer), "stepi moved EIP\n{}", ctx());
    assert!(gout.contains("master: vectors 0x20-0x27"), "monitor info pic\n{}", ctx());
    assert!(gout.contains("eflags=") && gout.contains("CPL 0"), "monitor regs\n{}", ctx());
    assert!(gout.contains("[Inferior 1 (process 1) detached]"), "{}", ctx());
    assert!(g.status.success(), "{}", ctx());

    // After the detach the guest runs on in the window: the shell boots and takes typing.
    wait_for("the title to say running", long, || {
        let t = title();
        t.contains("running") && !t.contains("gdb:")
    });
    wait_for("the demo shell", long, || out().contains("Type 'help' for the commands."));
    xrun(&display, "xdotool", &["windowfocus", "--sync", &window()]);
    xrun(&display, "xdotool", &["type", "--delay", "30", "uptime"]);
    xrun(&display, "xdotool", &["key", "Return"]);
    wait_for("the shell's answer to uptime on COM1", long, || out().contains("uptime: "));

    // A second gdb connects while the guest runs, lets it run on (`continue`); the window
    // says so, and powering the window off ends the run and tells gdb the guest exited.
    let mut g2 = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", "set architecture i386", "-ex", &format!("target remote {addr}")])
        .args(["-ex", "info registers eip", "-ex", "continue"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb runs");
    let g2out = collect(g2.stdout.take().unwrap());
    let g2err = collect(g2.stderr.take().unwrap());
    let mut g2 = Reaped(g2);
    wait_for("the title to say gdb runs the guest", long, || title().contains(" MIPS - gdb: running"));
    xrun(&display, "xdotool", &["key", "Control_R+q"]);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "x86lab did not end after power off\n{}", ctx());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{}", ctx());
    let t0 = Instant::now();
    while g2.0.try_wait().unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(30), "gdb did not end with x86lab");
        std::thread::sleep(Duration::from_millis(50));
    }
    let g2text = format!("{}{}", g2out.lock().unwrap(), g2err.lock().unwrap());
    assert!(g2text.contains("exited normally"), "the second gdb is told the guest exited:\n{g2text}\n{}", ctx());
    let e = err();
    assert!(e.matches("gdb connected from").count() == 2 && e.contains("gdb detached"), "{}", ctx());
    assert!(!e.contains("panicked"), "{}", ctx());
}

// ---------------------------------------------------------------------------------------------
// Keys typed into the window, recorded and replayed
// ---------------------------------------------------------------------------------------------

/// Runs x86lab headless on the demo OS with `--replay-input log` and returns its output.
fn replay_headless(log: &Path, png: &Path, extra: &[&str]) -> Output {
    x86lab()
        .args(["run", "--headless", "--serial", "stdio", "--debugcon", "none", "--rtc", "2000-01-01T00:00:00"])
        .args(["--stats", "--replay-input"])
        .arg(log)
        .arg("--screenshot")
        .arg(png)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The `stats: instructions=N` count of a run with `--stats`.
fn stats_icount(stderr: &str) -> u64 {
    let line = stderr.lines().rfind(|l| l.starts_with("stats: instructions=")).unwrap_or_else(|| panic!("{stderr}"));
    line["stats: instructions=".len()..].split(' ').next().unwrap().parse().unwrap()
}

/// Issue #7: keys typed into the window (xdotool, through the X server) are recorded with
/// `--record-input` at the moment the guest got them, and a headless `--replay-input` of the
/// log repeats the run exactly: the same COM1 output (the demo shell's `uptime` answer depends
/// on when the command was typed), the same exit status, the same instruction count, the same
/// final screen (the counter task's field and the cursor's blink phase depend on guest time).
/// The same log with every event moved 1 s of guest time later gives a different run, so the
/// comparison can fail. (Before the 8042's and other deadlines armed by a port read were
/// handled at their own moment instead of at the end of the run slice, this test failed: the
/// window's slices end where its pacing says, a replay's where the next input is due.)
#[test]
fn keys_typed_into_the_window_replay_exactly() {
    let missing: Vec<&str> = ["Xvfb", "xdotool"].into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED keys_typed_into_the_window_replay_exactly: {} not installed (apt-get install xvfb xdotool; \
             CI does)",
            missing.join(", ")
        );
        return;
    }
    let (_xvfb, display) = start_xvfb();
    let dir = temp_dir("record");
    let log = dir.join("input.log");
    let (win_png, replay_png) = (dir.join("window.png"), dir.join("replay.png"));
    let mut child = x86lab()
        .args(["run", "--serial", "stdio", "--debugcon", "none", "--rtc", "2000-01-01T00:00:00", "--stats"])
        .arg("--record-input")
        .arg(&log)
        .arg("--screenshot")
        .arg(&win_png)
        .env("DISPLAY", &display)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let out = || stdout.lock().unwrap().clone();
    let err = || stderr.lock().unwrap().clone();
    let mut child = Reaped(child);
    let long = Duration::from_secs(120);
    wait_for("the demo shell", long, || out().contains("Type 'help' for the commands."));
    let window = || {
        let ids = xrun(&display, "xdotool", &["search", "--sync", "--name", "^x86lab - demo OS"]);
        String::from_utf8(ids).unwrap().lines().last().unwrap().to_string()
    };
    xrun(&display, "xdotool", &["windowfocus", "--sync", &window()]);
    // Shifted letters too: Shift's make and break codes are keys of their own.
    xrun(&display, "xdotool", &["type", "--delay", "30", "echo Hi"]);
    xrun(&display, "xdotool", &["key", "Return"]);
    wait_for("the echo", long, || out().contains("\nHi\r\n"));
    xrun(&display, "xdotool", &["type", "--delay", "30", "uptime"]);
    xrun(&display, "xdotool", &["key", "Return"]);
    wait_for("the shell's answer to uptime", long, || out().contains("uptime: "));
    xrun(&display, "xdotool", &["type", "--delay", "30", "exit 5"]);
    xrun(&display, "xdotool", &["key", "Return"]);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < long, "the demo OS did not end after `exit 5`\n{}\n{}", out(), err());
        std::thread::sleep(Duration::from_millis(50));
    };
    // Let the collecting threads read to the end of the pipes.
    std::thread::sleep(Duration::from_millis(200));
    let (rec_out, rec_err) = (out(), err());
    let ctx = format!("--- window run stdout\n{rec_out}\n--- stderr\n{rec_err}");
    assert_eq!(status.code(), Some(11), "exit 5: status 5*2+1\n{ctx}");
    let rec_icount = stats_icount(&rec_err);

    // The log has every key's make and break, in order.
    let text = std::fs::read_to_string(&log).unwrap();
    let downs = text.lines().filter(|l| l.ends_with(" down")).count();
    let ups = text.lines().filter(|l| l.ends_with(" up")).count();
    // "echo Hi" + Return, "uptime" + Return, "exit 5" + Return: 22 keys, and Shift for the H.
    // The last Return's release may come after the guest ended the run: then it never reached it.
    assert!(downs >= 23 && (ups == downs || ups + 1 == downs), "{downs} presses, {ups} releases:\n{text}");
    assert!(!text.contains(" serial "), "nothing was typed on COM1:\n{text}");

    // Replayed headless: the same run.
    let r = replay_headless(&log, &replay_png, &[]);
    let r_err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert_eq!(r.status.code(), Some(11), "{}\n{ctx}", describe(&r));
    assert_eq!(String::from_utf8_lossy(&r.stdout), rec_out, "COM1 output of the replay vs the window run");
    assert_eq!(stats_icount(&r_err), rec_icount, "instructions: {}", describe(&r));
    assert!(!r_err.contains("delivered late"), "{r_err}");
    let (a, b) = (read_png(&win_png), read_png(&replay_png));
    assert!(a.pixels == b.pixels, "the final screen of the replay differs from the window run's");

    // The same keys 1 s of guest time (20,000,000 instructions at the default --ips) later:
    // another run (the uptime printed, the instruction count), so the comparison above can fail.
    let mut shifted = String::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        match (f.first().and_then(|s| s.parse::<u64>().ok()), f.get(1).and_then(|s| s.parse::<u64>().ok())) {
            (Some(i), Some(t)) if !l.starts_with('#') => {
                shifted.push_str(&format!("{} {} {}\n", i + 20_000_000, t + 1_000_000_000, f[2..].join(" ")))
            }
            _ => shifted.push_str(&format!("{l}\n")),
        }
    }
    let log2 = dir.join("shifted.log");
    std::fs::write(&log2, shifted).unwrap();
    // (Arriving late, the keys come in a burst the guest may not all take: bounded run.)
    let r2 = replay_headless(&log2, &dir.join("shifted.png"), &["--max-instructions", "100000000"]);
    assert_ne!(String::from_utf8_lossy(&r2.stdout), rec_out, "keys a second later: another run\n{}", describe(&r2));
    assert_ne!(stats_icount(&String::from_utf8_lossy(&r2.stderr)), rec_icount);
    std::fs::remove_dir_all(&dir).unwrap();
}
