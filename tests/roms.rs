//! End-to-end tests through the real `x86lab` command line.
//!
//! - The real-mode test ROMs in `roms/tests/` (`realmode`, `strings`, `exceptions`, `smc`): each
//!   prints `PASS  name` or `FAIL  name (got X want Y)` per check on the debug console, then
//!   `NAME: N passed, M failed`, and exits through port 0xF4 with 0 (status 1) when everything
//!   passed or 1 (status 3) otherwise. Each test knows how many checks its ROM has, so a ROM that
//!   stops early is caught too.
//! - The promises of `x86lab run`: its exit statuses, its messages for unusable ROM files, the
//!   `--stats` line, `--max-instructions`, `--debugcon`, `--help`.
//! - `tools/build-roms --check` (when nasm is installed): the committed ROM images are what their
//!   sources assemble to.
//!
//! Known CPU bugs: a check that fails because of an x86lab bug someone has yet to fix is listed
//! in its ROM's `known_failures`, with the bug. Such a check may fail without failing the test
//! (and when it starts passing, the test says so: take it off the list). Any other FAIL line fails
//! the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One of the real-mode test ROMs.
struct Rom {
    /// File stem in `roms/tests/`, also the name in its summary line.
    name: &'static str,
    /// How many checks the ROM runs.
    checks: usize,
    /// Checks that fail because of a known x86lab bug (the text after `FAIL  `, before ` (got`).
    known_failures: &'static [&'static str],
}

const REALMODE: Rom = Rom { name: "realmode", checks: 260, known_failures: &[] };
const STRINGS: Rom = Rom { name: "strings", checks: 62, known_failures: &[] };
const EXCEPTIONS: Rom = Rom { name: "exceptions", checks: 65, known_failures: &[] };
const SMC: Rom = Rom { name: "smc", checks: 25, known_failures: &[] };

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `x86lab` with `args` from the repository root.
fn x86lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_x86lab")).current_dir(root()).args(args).output().expect("x86lab starts")
}

fn describe(out: &Output) -> String {
    format!(
        "exit status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The name of a check from its `FAIL  name (got X want Y)` line.
fn failed_check_name(line: &str) -> &str {
    let rest = line.trim_start_matches("FAIL").trim_start();
    rest.rfind(" (got ").map_or(rest, |i| &rest[..i])
}

/// Parses `NAME: N passed, M failed`.
fn summary(stdout: &str, name: &str) -> Option<(usize, usize)> {
    let prefix = format!("{name}: ");
    let line = stdout.lines().find(|l| l.starts_with(&prefix))?;
    let rest = line[prefix.len()..].strip_suffix(" failed")?;
    let (passed, failed) = rest.split_once(" passed, ")?;
    Some((passed.parse().ok()?, failed.parse().ok()?))
}

fn run_rom(rom: &Rom) {
    let path = format!("roms/tests/{}.bin", rom.name);
    // A generous budget: the ROMs need well under a million instructions; a hang must not hang
    // the test suite.
    let out = x86lab(&["run", "--bios", &path, "--headless", "--max-instructions", "100000000"]);
    let what = describe(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);

    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    let unexpected: Vec<&&str> = fails.iter().filter(|l| !rom.known_failures.contains(&failed_check_name(l))).collect();
    assert!(unexpected.is_empty(), "{}: failed checks:\n{}\n\n{what}", rom.name, fails.join("\n"));
    for known in rom.known_failures {
        if !fails.iter().any(|l| failed_check_name(l) == *known) {
            eprintln!(
                "note: {}: the check '{known}' (a known x86lab bug) passes now: remove it from known_failures in tests/roms.rs",
                rom.name
            );
        }
    }

    let (passed, failed) = summary(&stdout, rom.name)
        .unwrap_or_else(|| panic!("{}: no summary line '{}: N passed, M failed'\n\n{what}", rom.name, rom.name));
    assert_eq!(failed, fails.len(), "{}: summary disagrees with the FAIL lines\n\n{what}", rom.name);
    assert_eq!(passed + failed, rom.checks, "{}: expected {} checks\n\n{what}", rom.name, rom.checks);
    let pass_lines = stdout.lines().filter(|l| l.starts_with("PASS  ")).count();
    assert_eq!(pass_lines, passed, "{}: summary disagrees with the PASS lines\n\n{what}", rom.name);

    // The exit device: 0 -> status 1 (all passed), 1 -> status 3 (something failed).
    let want = if failed == 0 { 1 } else { 3 };
    assert_eq!(out.status.code(), Some(want), "{}: exit status\n\n{what}", rom.name);
}

#[test]
fn realmode_rom_passes() {
    run_rom(&REALMODE);
}

#[test]
fn strings_rom_passes() {
    run_rom(&STRINGS);
}

#[test]
fn exceptions_rom_passes() {
    run_rom(&EXCEPTIONS);
}

#[test]
fn smc_rom_passes() {
    run_rom(&SMC);
}

// ---- the command line ------------------------------------------------------------------------

/// A scratch file path unique to this test process and `tag`.
fn scratch(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("x86lab-roms-test-{}-{tag}", std::process::id()))
}

/// A 64 KiB ROM image with `code` at offset 0 (F000:0000) and `jmp F000:0000` at the reset
/// vector.
fn tiny_rom(tag: &str, code: &[u8]) -> PathBuf {
    let mut rom = vec![0xF4u8; 0x10000];
    rom[..code.len()].copy_from_slice(code);
    rom[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]);
    let path = scratch(&format!("{tag}.bin"));
    std::fs::write(&path, rom).expect("write a scratch ROM");
    path
}

/// The guest prints "hi\n" on the debug console and writes 0 to the exit device.
const HELLO: &[u8] = &[
    0xB0, b'h', 0xE6, 0xE9, // mov al, 'h'; out 0xE9, al
    0xB0, b'i', 0xE6, 0xE9, // mov al, 'i'; out 0xE9, al
    0xB0, b'\n', 0xE6, 0xE9, // mov al, 10; out 0xE9, al
    0xB0, 0x00, 0xE6, 0xF4, // mov al, 0; out 0xF4, al
    0xFA, 0xF4, // cli; hlt (not reached)
];

/// Checks that a ROM file is refused with status 2 and a message naming the file.
fn refused(path: &Path, why: &str) {
    let p = path.to_str().expect("utf-8 path");
    let out = x86lab(&["run", "--bios", p, "--headless"]);
    let what = describe(&out);
    assert_eq!(out.status.code(), Some(2), "{why}: exit status\n\n{what}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(p), "{why}: the message must name the file {p}\n\n{what}");
    assert!(out.stdout.is_empty(), "{why}: nothing may run\n\n{what}");
}

#[test]
fn missing_rom_file_is_refused() {
    refused(&scratch("does-not-exist.bin"), "a missing file");
}

#[test]
fn empty_rom_is_refused() {
    let path = scratch("empty.bin");
    std::fs::write(&path, []).expect("write");
    refused(&path, "an empty file");
    let stderr =
        String::from_utf8_lossy(&x86lab(&["run", "--bios", path.to_str().unwrap(), "--headless"]).stderr).into_owned();
    assert!(stderr.contains("empty"), "says why: {stderr}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn wrongly_sized_roms_are_refused() {
    for (tag, len) in [("small", 1000), ("odd", 96 * 1024), ("big", 2 * 1024 * 1024)] {
        let path = scratch(&format!("{tag}.bin"));
        std::fs::write(&path, vec![0xF4u8; len]).expect("write");
        refused(&path, &format!("a ROM of {len} bytes"));
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn halting_with_interrupts_off_ends_the_run_with_status_0() {
    let rom = tiny_rom("cli-hlt", &[0xFA, 0xF4]); // cli; hlt
    let out = x86lab(&["run", "--bios", rom.to_str().unwrap(), "--headless"]);
    let what = describe(&out);
    assert_eq!(out.status.code(), Some(0), "{what}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("halted"), "a message about halting\n\n{what}");
    let _ = std::fs::remove_file(rom);
}

#[test]
fn max_instructions_stops_an_endless_loop_with_status_4() {
    let rom = tiny_rom("loop", &[0xEB, 0xFE]); // jmp $
    let out = x86lab(&["run", "--bios", rom.to_str().unwrap(), "--headless", "--max-instructions", "1000", "--stats"]);
    let what = describe(&out);
    assert_eq!(out.status.code(), Some(4), "{what}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--max-instructions"), "says why it stopped\n\n{what}");
    let (n, _, _) = stats_line(&stderr).unwrap_or_else(|| panic!("no stats line\n\n{what}"));
    assert_eq!(n, 1000, "exactly the budget ran\n\n{what}");
    let _ = std::fs::remove_file(rom);
}

/// Parses the last stderr line, which must be exactly `stats: instructions=N seconds=S mips=M`.
fn stats_line(stderr: &str) -> Option<(u64, f64, f64)> {
    let last = stderr.lines().last()?;
    let rest = last.strip_prefix("stats: instructions=")?;
    let (n, rest) = rest.split_once(" seconds=")?;
    let (s, m) = rest.split_once(" mips=")?;
    let decimal =
        |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit() || c == '.') && x.matches('.').count() <= 1;
    if !n.chars().all(|c| c.is_ascii_digit()) || !decimal(s) || !decimal(m) {
        return None;
    }
    Some((n.parse().ok()?, s.parse().ok()?, m.parse().ok()?))
}

#[test]
fn stats_prints_the_last_stderr_line() {
    let out = x86lab(&["run", "--bios", "roms/tests/strings.bin", "--headless", "--stats"]);
    let what = describe(&out);
    assert_eq!(out.status.code(), Some(1), "{what}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (n, secs, mips) = stats_line(&stderr)
        .unwrap_or_else(|| panic!("last stderr line is not 'stats: instructions=N seconds=S mips=M'\n\n{what}"));
    assert!(n > 1000, "the ROM ran: {n} instructions\n\n{what}");
    assert!(secs >= 0.0 && mips >= 0.0, "{what}");
}

#[test]
fn debugcon_file_writes_the_guest_output_to_the_file() {
    let rom = tiny_rom("hello-file", HELLO);
    let log = scratch("debugcon.txt");
    let sink = format!("file:{}", log.display());
    let out = x86lab(&["run", "--bios", rom.to_str().unwrap(), "--headless", "--debugcon", &sink]);
    let what = describe(&out);
    assert_eq!(out.status.code(), Some(1), "{what}");
    assert_eq!(std::fs::read_to_string(&log).expect("the debugcon file"), "hi\n", "{what}");
    assert!(out.stdout.is_empty(), "nothing on stdout\n\n{what}");
    let _ = std::fs::remove_file(rom);
    let _ = std::fs::remove_file(log);
}

#[test]
fn debugcon_stdio_and_none() {
    let rom = tiny_rom("hello-stdio", HELLO);
    let p = rom.to_str().unwrap();
    let out = x86lab(&["run", "--bios", p, "--headless"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n", "stdio is the default\n\n{}", describe(&out));
    let out = x86lab(&["run", "--bios", p, "--headless", "--debugcon", "none"]);
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let out = x86lab(&["run", "--bios", p, "--headless", "--debugcon", "serial"]);
    assert_eq!(out.status.code(), Some(2), "an unknown sink is a usage error\n\n{}", describe(&out));
    let _ = std::fs::remove_file(rom);
}

#[test]
fn bad_memory_size_is_a_usage_error() {
    let out = x86lab(&["run", "--bios", "roms/tests/smc.bin", "--headless", "--memory", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--memory"), "{}", describe(&out));
}

#[test]
fn help_mentions_every_option() {
    let out = x86lab(&["run", "--help"]);
    let what = describe(&out);
    assert!(out.status.success(), "{what}");
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in
        ["--bios", "--headless", "--debugcon", "--memory", "--max-instructions", "--stats", "--stop-on-triple-fault"]
    {
        assert!(help.contains(opt), "run --help does not mention {opt}\n\n{what}");
    }
    for status in ["odd N", "0 ", "2 ", "4 ", "6 "] {
        assert!(help.contains(status), "run --help does not explain exit status '{status}'\n\n{what}");
    }
    let out = x86lab(&["--help"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("run"), "{}", describe(&out));
}

// ---- the committed ROM images ----------------------------------------------------------------

#[test]
fn committed_roms_match_their_sources() {
    if Command::new("nasm").arg("-v").output().map(|o| !o.status.success()).unwrap_or(true) {
        eprintln!("notice: nasm is not installed: not checking roms/**/*.bin against their sources");
        return;
    }
    let out = Command::new("bash")
        .current_dir(root())
        .args(["tools/build-roms", "--check"])
        .output()
        .expect("bash runs tools/build-roms");
    assert!(out.status.success(), "tools/build-roms --check failed\n\n{}", describe(&out));
}
