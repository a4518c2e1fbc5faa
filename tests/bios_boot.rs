//! The x86lab BIOS (`bios/x86lab-bios.bin`) through the real `x86lab` command line.
//!
//! - POST on a machine without disks: the banner on the debug console, the "No bootable device."
//!   message of INT 18h, and a run that ends in the halt loop (the CPU halted with interrupts on:
//!   the run stops at `--max-instructions`, or at once on a machine without an interrupt source).
//! - The boot test images in `roms/tests/boot/` (`floppy.bin`, `hdd.bin`): each boot sector loads
//!   a second stage that checks the BIOS's disk and system services and prints `PASS`/`FAIL`
//!   lines and `boot-floppy: N passed, M failed` (or `boot-hdd: ...`) through INT 10h and port
//!   0xE9, then exits through port 0xF4 (status 1 when everything passed). Their sources say
//!   what they check. They boot the same way under QEMU with this BIOS (`-M isapc -bios
//!   bios/x86lab-bios.bin`), with SeaBIOS, and must boot with Bochs's BIOS too
//!   (/usr/share/bochs/BIOS-bochs-legacy from Debian's bochsbios package).
//! - `resume.bin`: CPU resets with CMOS shutdown status 05h and 0Ah resume through 40:67h.
//! - `tools/build-bios --check` (when nasm is installed): the committed image is what
//!   `bios/*.asm` assembles to.
//!
//! `x86lab run IMAGE` attaches a 1.44 MB image as floppy A: and anything else as the primary
//! master ATA disk; the tests name the BIOS file with `--bios` (the CLI's default is the same
//! image, built in).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

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

const BIOS: &str = "bios/x86lab-bios.bin";

#[test]
fn bios_image_is_64k_with_reset_vector_and_checksum() {
    let rom = std::fs::read(root().join(BIOS)).expect("bios/x86lab-bios.bin is committed");
    assert_eq!(rom.len(), 64 * 1024);
    assert_eq!(rom[0xFFF0], 0xEA, "F000:FFF0 is a far jump");
    assert_eq!(&rom[0xFFF1..0xFFF5], &[0x5B, 0xE0, 0x00, 0xF0], "to F000:E05B, the IBM POST entry");
    assert_eq!(rom[0xFFFE], 0xFC, "model byte: AT");
    let sum = rom.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    assert_eq!(sum, 0, "the image's bytes add up to 0 (checksum byte at F000:FFFF)");
}

#[test]
fn post_prints_banner_and_finds_no_boot_device() {
    let out = x86lab(&["run", "--bios", BIOS, "--headless", "--memory", "32", "--max-instructions", "10000000"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0) | Some(4)), "halted or out of budget\n{}", describe(&out));
    let banner =
        text.lines().find(|l| l.starts_with("x86lab BIOS ")).unwrap_or_else(|| panic!("no banner\n{}", describe(&out)));
    assert!(banner.ends_with(" KiB RAM"), "banner: {banner}");
    assert!(text.contains("No bootable device."), "INT 18h's message\n{}", describe(&out));
}

/// Copies a boot image to a scratch file (the tests write to their disk) and returns its path.
fn scratch_copy(name: &str) -> PathBuf {
    let src = root().join("roms/tests/boot").join(name);
    let dst = std::env::temp_dir().join(format!("x86lab-bios-boot-{}-{name}", std::process::id()));
    std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    dst
}

fn boot_image(image: &str, summary_name: &str, checks: usize) {
    let img = scratch_copy(image);
    let out = x86lab(&[
        "run",
        img.to_str().expect("utf-8 path"),
        "--bios",
        BIOS,
        "--headless",
        "--max-instructions",
        "2000000000",
    ]);
    let _ = std::fs::remove_file(&img);
    let text = String::from_utf8_lossy(&out.stdout);
    let fails: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(fails.is_empty(), "failed checks: {fails:#?}\n{}", describe(&out));
    let want = format!("{summary_name}: {checks} passed, 0 failed");
    assert!(text.lines().any(|l| l == want), "no line '{want}'\n{}", describe(&out));
    assert_eq!(out.status.code(), Some(1), "the guest wrote 0 to the exit device\n{}", describe(&out));
}

#[test]
fn floppy_image_boots_and_passes() {
    boot_image("floppy.bin", "boot-floppy", 41);
}

#[test]
fn hard_disk_image_boots_and_passes() {
    boot_image("hdd.bin", "boot-hdd", 52);
}

#[test]
fn committed_bios_matches_its_source() {
    if Command::new("nasm").arg("-v").output().is_err() {
        eprintln!("nasm not installed: skipping tools/build-bios --check");
        return;
    }
    let out = Command::new("bash")
        .arg(root().join("tools/build-bios"))
        .arg("--check")
        .current_dir(root())
        .output()
        .expect("bash starts");
    assert!(out.status.success(), "tools/build-bios --check\n{}", describe(&out));
}

/// `roms/tests/boot/resume.asm`: CPU resets through the 8042 and port 92h with CMOS shutdown
/// status 05h and 0Ah resume at the address in 40:67h instead of booting again.
#[test]
fn shutdown_status_resumes_after_cpu_reset() {
    boot_image("resume.bin", "boot-resume", 2);
}
