//! The same machine with a BIOS nobody here wrote: Bochs's legacy BIOS and the LGPL VGA BIOS
//! (Debian's `bochsbios` and `vgabios` packages: `/usr/share/bochs/BIOS-bochs-legacy`,
//! `/usr/share/vgabios/vgabios.bin`), given with `--bios` and `--vga-bios`, must boot the same
//! disk images as x86lab's own BIOS and make them print the same thing.
//!
//! - `compat_fd.bin` and `compat_hd.bin` (roms/tests/boot/compat_*.asm) print only what every
//!   correct BIOS must return; their port-E9h output from the boot sector's first line on, their
//!   COM1 output (INT 14h) and their exit status must be identical under both BIOSes, and every
//!   check must pass.
//! - `floppy.bin` and `hdd.bin` (the x86lab BIOS's own boot tests) check a few things where
//!   BIOSes legitimately differ; their output must be identical except for the checks listed in
//!   [`KNOWN_DIFFERENCES`], each with the reason.
//! - Two runs of the same boot give the same port-E9h and serial output and the same instruction
//!   and exit counts (`--stats`): virtual time makes a run reproducible, whatever the host does.
//!
//! Every run goes through the real command line with a fixed RTC start (`--rtc`) and a bound on
//! the instructions (`--max-instructions`), on a scratch copy of the image (the images write to
//! themselves). Without the Debian BIOS files the tests print a notice and pass; the variables
//! `X86LAB_BOCHS_BIOS` and `X86LAB_VGA_BIOS` can name other copies of the same ROMs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A boot takes at most a few million instructions (the slowest, Bochs's BIOS on the hard disk
/// image, about 7 million: its ATA probe waits out a timeout for the absent slave). The bound
/// turns a hang into exit status 4 instead of a stuck test.
const MAX_INSTRUCTIONS: &str = "60000000";
/// A fixed RTC start: the images print the RTC's hours and minutes.
const RTC: &str = "2000-01-01T00:00:00";

/// Which BIOS a run uses.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bios {
    /// x86lab's own, built into the binary (the command line's default).
    X86lab,
    /// Bochs's legacy BIOS with the LGPL VGA BIOS as the option ROM at C0000h.
    Bochs,
}

/// The Bochs BIOS and VGA BIOS files, or `None` (with a notice) when they are not installed.
fn bochs_roms() -> Option<(PathBuf, PathBuf)> {
    let pick = |var: &str, default: &str| std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    let bios = pick("X86LAB_BOCHS_BIOS", "/usr/share/bochs/BIOS-bochs-legacy");
    let vga = pick("X86LAB_VGA_BIOS", "/usr/share/vgabios/vgabios.bin");
    if bios.is_file() && vga.is_file() {
        Some((bios, vga))
    } else {
        eprintln!(
            "bios_compat: skipped: {} or {} is missing (Debian: apt-get install bochsbios vgabios)",
            bios.display(),
            vga.display()
        );
        None
    }
}

/// What one run printed.
struct Run {
    status: Option<i32>,
    /// Port E9h (stdout).
    debugcon: String,
    /// COM1 (`--serial file:`).
    serial: String,
    stderr: String,
}

impl Run {
    /// The port-E9h text from the line `first` on: a BIOS prints its own POST lines before it.
    fn image_output(&self, first: &str) -> &str {
        match self.debugcon.find(first) {
            Some(i) => &self.debugcon[i..],
            None => panic!("the image never printed {first:?}\n{}", self.describe()),
        }
    }

    /// `--stats` output without its wall-clock figures: the exit table and the instruction count.
    fn stats(&self) -> String {
        let start = self.stderr.find("exits (top").unwrap_or_else(|| panic!("no --stats output\n{}", self.describe()));
        let stats = &self.stderr[start..];
        let mut lines: Vec<String> = stats.lines().map(str::to_string).collect();
        let last = lines.last_mut().expect("a stats line");
        assert!(last.starts_with("stats: instructions="), "{}", self.describe());
        *last = last.split(" seconds=").next().unwrap_or_default().to_string();
        lines.join("\n")
    }

    fn describe(&self) -> String {
        format!(
            "exit status: {:?}\n--- port E9h ---\n{}\n--- COM1 ---\n{}\n--- stderr ---\n{}",
            self.status, self.debugcon, self.serial, self.stderr
        )
    }
}

/// Boots a scratch copy of `roms/tests/boot/<image>` with `bios` through the `x86lab` command.
fn boot(image: &str, bios: Bios, roms: &(PathBuf, PathBuf)) -> Run {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let scratch = std::env::temp_dir().join(format!("x86lab-bios-compat-{}-{n}", std::process::id()));
    let disk = scratch.with_extension("img");
    let serial = scratch.with_extension("serial");
    let src = root().join("roms/tests/boot").join(image);
    std::fs::copy(&src, &disk).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    let mut args: Vec<String> = ["run", disk.to_str().expect("utf-8 temp path"), "--headless", "--stats"]
        .into_iter()
        .map(String::from)
        .collect();
    args.extend(["--rtc", RTC, "--max-instructions", MAX_INSTRUCTIONS].map(String::from));
    args.push("--serial".into());
    args.push(format!("file:{}", serial.display()));
    if bios == Bios::Bochs {
        args.extend(["--bios".into(), roms.0.display().to_string(), "--vga-bios".into(), roms.1.display().to_string()]);
    }
    let out: Output =
        Command::new(env!("CARGO_BIN_EXE_x86lab")).current_dir(root()).args(&args).output().expect("x86lab starts");
    let run = Run {
        status: out.status.code(),
        debugcon: String::from_utf8_lossy(&out.stdout).into_owned(),
        serial: std::fs::read(&serial).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let _ = std::fs::remove_file(&disk);
    let _ = std::fs::remove_file(&serial);
    // Make sure the BIOS asked for is the one that ran.
    let x86lab_banner = run.debugcon.contains("x86lab BIOS ");
    assert_eq!(x86lab_banner, bios == Bios::X86lab, "{bios:?} BIOS: banner on port E9h?\n{}", run.describe());
    run
}

/// Both runs must show the same lines; `what` names them in the failure message.
fn assert_same(what: &str, a: &str, b: &str) {
    if a != b {
        let first =
            a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(a.lines().count().min(b.lines().count()));
        panic!(
            "{what} differ from line {} on:\n  {:?}\n  {:?}\n--- first ---\n{a}\n--- second ---\n{b}",
            first + 1,
            a.lines().nth(first),
            b.lines().nth(first)
        );
    }
}

/// A compat image under both BIOSes: identical output, every check passed; then `twice` boots
/// again and must repeat itself exactly.
fn compat_image(image: &str, name: &str, checks: u32, twice: Bios) {
    let Some(roms) = bochs_roms() else { return };
    let first = format!("{name}: boot sector");
    let ours = boot(image, Bios::X86lab, &roms);
    let bochs = boot(image, Bios::Bochs, &roms);
    for run in [&ours, &bochs] {
        assert_eq!(run.status, Some(1), "the image exits with 0 (all passed)\n{}", run.describe());
        let text = run.image_output(&first);
        assert!(!text.contains("FAIL"), "a check failed\n{}", run.describe());
        let summary = format!("{name}: {checks:04X} checks, 0000 failed");
        assert!(text.lines().any(|l| l == summary), "no line {summary:?}\n{}", run.describe());
        assert_eq!(run.serial, "serial: hello from the boot image\r\n", "COM1 output\n{}", run.describe());
    }
    assert_same(
        &format!("{image}: port E9h output under x86lab's BIOS and Bochs's"),
        ours.image_output(&first),
        bochs.image_output(&first),
    );
    assert_eq!(ours.serial, bochs.serial);

    let (a, b) = match twice {
        Bios::X86lab => (ours, boot(image, Bios::X86lab, &roms)),
        Bios::Bochs => (bochs, boot(image, Bios::Bochs, &roms)),
    };
    assert_eq!(a.status, b.status);
    assert_same(&format!("{image} under {twice:?}: port E9h output of two runs"), &a.debugcon, &b.debugcon);
    assert_same(&format!("{image} under {twice:?}: COM1 output of two runs"), &a.serial, &b.serial);
    assert_same(&format!("{image} under {twice:?}: --stats of two runs"), &a.stats(), &b.stats());
}

#[test]
fn compat_floppy_prints_the_same_under_both_bioses_and_twice_under_bochs() {
    compat_image("compat_fd.bin", "compat-fd", 0x32, Bios::Bochs);
}

#[test]
fn compat_hard_disk_prints_the_same_under_both_bioses_and_twice_under_x86lab() {
    compat_image("compat_hd.bin", "compat-hd", 0x41, Bios::X86lab);
}

/// Checks of floppy.bin and hdd.bin whose result depends on the BIOS, not on the machine.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "AH=86h: wait 10 ms (CF=0)",
    "Bochs's BIOS (rombios.c int15_function32) waits by counting port 61h refresh toggles and \
     returns through iret_modify_cf with CF as its last CMP AL, AH left it: CF = 1 when the last \
     toggle was from 1 to 0, as under Bochs and QEMU too",
)];

/// One of the x86lab BIOS's boot test images: x86lab's BIOS passes every check; Bochs's prints
/// the same lines except for the known differences (and the summary that counts them).
fn bios_test_image(image: &str, first: &str, summary: &str) {
    let Some(roms) = bochs_roms() else { return };
    let ours = boot(image, Bios::X86lab, &roms);
    let bochs = boot(image, Bios::Bochs, &roms);
    assert_eq!(ours.status, Some(1), "x86lab's BIOS passes every check\n{}", ours.describe());
    let (a, b) = (ours.image_output(first), bochs.image_output(first));
    assert_eq!(a.lines().count(), b.lines().count(), "same number of lines\n--- x86lab ---\n{a}\n--- Bochs ---\n{b}");
    let mut known_failures = 0;
    for (x, y) in a.lines().zip(b.lines()) {
        if x == y {
            continue;
        }
        if x.starts_with(summary) && y.starts_with(summary) {
            continue;
        }
        let known = KNOWN_DIFFERENCES.iter().find(|(check, _)| x.contains(check) && y.contains(check));
        assert!(
            known.is_some(),
            "{image}: a line differs between x86lab's BIOS and Bochs's and is no known BIOS \
             difference (a device model bug, or add it to KNOWN_DIFFERENCES with the reason):\n  \
             {x:?}\n  {y:?}\n--- x86lab ---\n{a}\n--- Bochs ---\n{b}"
        );
        known_failures += y.starts_with("FAIL") as i32;
    }
    let status = if known_failures == 0 { 1 } else { 3 };
    assert_eq!(bochs.status, Some(status), "Bochs's BIOS fails only known checks\n{}", bochs.describe());
}

#[test]
fn x86lab_floppy_test_image_under_both_bioses() {
    bios_test_image("floppy.bin", "floppy boot sector running", "boot-floppy:");
}

#[test]
fn x86lab_hard_disk_test_image_under_both_bioses() {
    bios_test_image("hdd.bin", "hard disk boot sector running", "boot-hdd:");
}
