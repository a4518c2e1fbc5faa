//! Runs the protection test ROMs (roms/tests/segmentation.asm, rings.asm, pm_exceptions.asm,
//! triplefault.asm; their harness is roms/tests/pmharness.inc) through the real command line.
//!
//! A ROM passes when it exits with status 1 (it wrote 0 to the exit device), prints its summary
//! line, prints no FAIL line, and printed at least a minimum number of PASS lines — so a ROM that
//! stops early (an exception nobody expected ends it) does not pass by printing nothing wrong.
//!
//! triplefault.asm is checked twice: with `--stop-on-triple-fault` the run ends with status 6 and
//! a message naming the triple fault; without it the machine resets as a PC does, the ROM starts
//! over and prints its line again, until `--max-instructions` ends the run with status 4.
//!
//! When nasm is installed, each committed .bin is also checked against what its .asm assembles
//! to, so an image cannot drift from its source.

use std::path::Path;
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> (Output, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_x86lab")).current_dir(root()).args(args).output().expect("x86lab runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// Runs `roms/tests/<name>.bin` and checks the harness's verdict.
fn rom_passes(name: &str, min_passes: usize) {
    let rom = format!("roms/tests/{name}.bin");
    let (out, stdout, stderr) = run(&["run", "--bios", &rom, "--headless", "--max-instructions", "20000000"]);
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(fails.is_empty(), "{name}: failed checks:\n{}\n\nstdout:\n{stdout}\nstderr:\n{stderr}", fails.join("\n"));
    let passes = stdout.lines().filter(|l| l.starts_with("PASS  ")).count();
    assert!(
        passes >= min_passes,
        "{name}: only {passes} of at least {min_passes} checks ran:\n{stdout}\nstderr:\n{stderr}"
    );
    let summary = format!("{name}: {passes} passed, 0 failed");
    assert!(stdout.lines().any(|l| l == summary), "{name}: no summary line '{summary}':\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{name}: exit status\nstdout:\n{stdout}\nstderr:\n{stderr}");
}

#[test]
fn segmentation_rom() {
    rom_passes("segmentation", 125);
}

#[test]
fn rings_rom() {
    rom_passes("rings", 120);
}

#[test]
fn pm_exceptions_rom() {
    rom_passes("pm_exceptions", 80);
}

const TRIPLE_LINE: &str = "triplefault: INT3 with an empty IDT";

#[test]
fn triple_fault_stops_with_the_flag() {
    let (out, stdout, stderr) =
        run(&["run", "--bios", "roms/tests/triplefault.bin", "--headless", "--stop-on-triple-fault"]);
    assert_eq!(out.status.code(), Some(6), "exit status\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout.matches(TRIPLE_LINE).count(), 1, "the ROM's line, once:\n{stdout}");
    assert!(stderr.contains("triple fault"), "a message naming the triple fault:\n{stderr}");
    assert!(!stdout.contains("FAIL"), "the CPU went on after the triple fault:\n{stdout}");
}

#[test]
fn triple_fault_resets_the_machine_without_the_flag() {
    let (out, stdout, stderr) =
        run(&["run", "--bios", "roms/tests/triplefault.bin", "--headless", "--max-instructions", "100000"]);
    assert_eq!(out.status.code(), Some(4), "exit status (budget)\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let n = stdout.matches(TRIPLE_LINE).count();
    assert!(n >= 3, "each reset runs the ROM again: the line appeared {n} times:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stdout.contains("FAIL"), "the CPU went on after a triple fault:\n{stdout}");
}

#[test]
fn protected_roms_match_their_sources() {
    for name in ["segmentation", "rings", "pm_exceptions", "triplefault"] {
        let src = format!("roms/tests/{name}.asm");
        let bin = format!("roms/tests/{name}.bin");
        let tmp = std::env::temp_dir().join(format!("x86lab-{name}-{}.bin", std::process::id()));
        let status = match Command::new("nasm")
            .current_dir(root())
            .args(["-f", "bin", "-i", "roms/tests/", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
        {
            Ok(s) => s,
            Err(_) => {
                eprintln!("nasm not found: not checking the ROM images against their sources");
                return;
            }
        };
        assert!(status.success(), "nasm failed on {src}");
        let built = std::fs::read(&tmp).expect("nasm output");
        let _ = std::fs::remove_file(&tmp);
        let committed = std::fs::read(root().join(&bin)).expect("the committed ROM");
        assert_eq!(built.len(), 0x10000, "{bin} is 64 KiB");
        assert!(built == committed, "{bin} is stale: rebuild it with nasm -f bin -i roms/tests/ -o {bin} {src}");
    }
}
