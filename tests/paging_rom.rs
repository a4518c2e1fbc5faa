//! Runs the paging test ROM (roms/tests/paging.asm) through the real command line and checks
//! that every check passed: exit status 1 (the ROM wrote 0 to the exit device) and no FAIL line.
//!
//! When nasm is installed, the test also checks that roms/tests/paging.bin is what paging.asm
//! assembles to, so the committed image cannot drift from its source.

use std::path::Path;
use std::process::Command;

const ROM: &str = "roms/tests/paging.bin";
const SRC: &str = "roms/tests/paging.asm";

#[test]
fn paging_rom_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .current_dir(root)
        .args(["run", "--bios", ROM, "--headless", "--max-instructions", "20000000"])
        .output()
        .expect("x86lab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let fails: Vec<&str> = stdout.lines().filter(|l| l.contains("FAIL")).collect();
    assert!(fails.is_empty(), "failed checks:\n{}\n\nstderr:\n{stderr}", fails.join("\n"));
    let passes = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    assert!(passes >= 70, "only {passes} checks ran:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("paging: 00000000 failed"), "no summary line:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "exit status\nstdout:\n{stdout}\nstderr:\n{stderr}");
}

#[test]
fn paging_rom_matches_its_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("x86lab-paging-{}.bin", std::process::id()));
    let status = match Command::new("nasm").current_dir(root).args(["-f", "bin", "-o"]).arg(&tmp).arg(SRC).status() {
        Ok(s) => s,
        Err(_) => {
            eprintln!("nasm not found: not checking {ROM} against {SRC}");
            return;
        }
    };
    assert!(status.success(), "nasm failed on {SRC}");
    let built = std::fs::read(&tmp).expect("nasm output");
    let _ = std::fs::remove_file(&tmp);
    let committed = std::fs::read(root.join(ROM)).expect("the committed ROM");
    assert_eq!(built.len(), 0x10000, "the ROM is 64 KiB");
    assert!(built == committed, "{ROM} is stale: rebuild it with nasm -f bin -o {ROM} {SRC}");
}
