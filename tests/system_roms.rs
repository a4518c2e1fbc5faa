//! Runs the system test ROMs (hardware task switching, virtual-8086 mode, CPUID/TSC/MSRs) through
//! the real command line, as a user would: `x86lab run --bios ROM --headless`.
//!
//! Each ROM prints `PASS  <check>` or `FAIL  <check> (...)` per check on the debug console (port
//! 0xE9), then `<rom>: N passed, M failed`, and exits through port 0xF4 with 0 when every check
//! passed, which the CLI turns into exit status (0 << 1) | 1 = 1. A ROM that stops early (a
//! triple fault, a hang, an exception nobody expected) prints too few PASS lines, so each test
//! also asks for a minimum number of them.
//!
//! The ROM sources are roms/tests/{tasks,v86,cpuid}.asm (with sysharness.inc); when nasm is
//! installed, `system_roms_match_their_sources` checks that the committed .bin files are what
//! the sources assemble to.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The ROMs, with the fewest PASS lines a complete run prints.
const ROMS: &[(&str, usize)] = &[("tasks", 200), ("v86", 113), ("cpuid", 82)];

/// Far more than any of the ROMs needs (they run well under a million instructions): a ROM that
/// loops forever ends with exit status 4 instead of hanging the test.
const BUDGET: &str = "50000000";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rom_path(name: &str) -> PathBuf {
    root().join("roms/tests").join(format!("{name}.bin"))
}

fn run(name: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .current_dir(root())
        .args(["run", "--bios"])
        .arg(rom_path(name))
        .args(["--headless", "--max-instructions", BUDGET])
        .args(extra)
        .output()
        .expect("the x86lab binary runs")
}

/// Checks one ROM's run: exit status 1, its summary line with 0 failed, no FAIL line, and at
/// least `min_pass` PASS lines.
fn check_rom(name: &str, min_pass: usize) {
    let out = run(name, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(fails.is_empty(), "{name}: failed checks:\n{}\n\n{context}", fails.join("\n"));
    let passes = stdout.lines().filter(|l| l.starts_with("PASS  ")).count();
    assert!(passes >= min_pass, "{name}: only {passes} PASS lines, expected at least {min_pass}\n{context}");
    let summary = format!("{name}: {passes} passed, 0 failed");
    assert!(stdout.lines().any(|l| l == summary), "{name}: no summary line '{summary}'\n{context}");
    assert_eq!(out.status.code(), Some(1), "{name}: exit status (1 = the ROM wrote 0 to port 0xF4)\n{context}");
}

#[test]
fn tasks_rom_passes() {
    check_rom("tasks", ROMS[0].1);
}

#[test]
fn v86_rom_passes() {
    check_rom("v86", ROMS[1].1);
}

#[test]
fn cpuid_rom_passes() {
    check_rom("cpuid", ROMS[2].1);
}

/// The instruction count from `stats: instructions=N seconds=S mips=M` on stderr.
fn instructions(stderr: &str) -> u64 {
    let line = stderr.lines().find(|l| l.starts_with("stats: ")).unwrap_or_else(|| panic!("no stats line:\n{stderr}"));
    let field = line.split_whitespace().find_map(|w| w.strip_prefix("instructions=")).expect("instructions=N");
    field.parse().expect("a number")
}

/// x86lab's time is virtual (the TSC counts instructions), so a run is a pure function of the ROM:
/// two runs print the same bytes and execute the same number of instructions. The v86 and cpuid
/// ROMs exercise exactly the parts where host time could leak in (RDTSC, exceptions, I/O).
#[test]
fn runs_are_deterministic() {
    for name in ["cpuid", "v86"] {
        let a = run(name, &["--stats"]);
        let b = run(name, &["--stats"]);
        assert_eq!(a.status.code(), Some(1), "{name}: first run failed");
        assert_eq!(a.status.code(), b.status.code(), "{name}: exit status differs between runs");
        assert!(a.stdout == b.stdout, "{name}: the debug console output differs between runs");
        let (ea, eb) = (String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
        let (na, nb) = (instructions(&ea), instructions(&eb));
        assert!(na > 1000, "{name}: implausible instruction count {na}");
        assert_eq!(na, nb, "{name}: instruction counts differ between runs");
        // Everything --stats prints but the host timing must match too.
        let strip =
            |s: &str| -> String { s.lines().filter(|l| !l.starts_with("stats: ")).collect::<Vec<_>>().join("\n") };
        assert_eq!(strip(&ea), strip(&eb), "{name}: stderr differs between runs");
    }
}

#[test]
fn system_roms_match_their_sources() {
    let dir = root().join("roms/tests");
    for (name, _) in ROMS {
        let tmp = std::env::temp_dir().join(format!("x86lab-{name}-{}.bin", std::process::id()));
        let src = format!("{name}.asm");
        let status = match Command::new("nasm").current_dir(&dir).args(["-f", "bin", "-o"]).arg(&tmp).arg(&src).status()
        {
            Ok(s) => s,
            Err(_) => {
                eprintln!("nasm not found: not checking the system ROMs against their sources");
                return;
            }
        };
        assert!(status.success(), "nasm failed on roms/tests/{src}");
        let built = std::fs::read(&tmp).expect("nasm output");
        let _ = std::fs::remove_file(&tmp);
        let committed = std::fs::read(rom_path(name)).expect("the committed ROM");
        assert_eq!(built.len(), 0x10000, "{name}: a ROM is 64 KiB");
        assert!(
            built == committed,
            "roms/tests/{name}.bin is stale: rebuild it with (cd roms/tests && nasm -f bin -o {name}.bin {name}.asm)"
        );
    }
}
