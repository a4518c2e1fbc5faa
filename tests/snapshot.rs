//! Snapshots: determinism across save/restore, and every class of bad file refused cleanly
//! (the machine left as it was).

use std::path::PathBuf;
use x86lab::devices::debugcon::Sink;
use x86lab::devices::disk::Disk;
use x86lab::machine::{BootDevice, Machine, MachineConfig};
use x86lab::snapshot::{self, SnapshotError};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn hdd_bytes() -> Vec<u8> {
    std::fs::read(format!("{ROOT}/roms/tests/boot/hdd.bin")).expect("hdd.bin")
}

/// The x86lab BIOS booting the hard-disk test image (it reads and writes its disk, with the PIT
/// and RTC running), RTC at 2000-01-01T00:00:00.
fn machine(ram_mib: usize, disk: Option<Vec<u8>>) -> Machine {
    let bios = std::fs::read(format!("{ROOT}/bios/x86lab-bios.bin")).expect("bios");
    let ram_bytes = ram_mib << 20;
    let cmos = x86lab::devices::rtc_cmos::CmosConfig { ram_bytes: ram_bytes as u64, ..Default::default() };
    Machine::new(MachineConfig {
        ram_bytes,
        bios,
        debugcon: Sink::None,
        serial: Sink::None,
        ips: x86lab::machine::clock::DEFAULT_IPS,
        rtc_unix: 946_684_800,
        cmos,
        floppies: [None, None],
        hard_disks: [disk.map(|d| Disk::from_bytes(d, false).expect("disk")), None, None, None],
        boot_order: [BootDevice::HardDisk, BootDevice::Floppy],
        vga_bios: None,
    })
    .expect("machine")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("x86lab-snapshot-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

#[test]
fn restore_then_run_is_deterministic() {
    // The hard-disk test image finishes (exit device) after about 1.6 million instructions:
    // snapshot in the middle of POST, then run to the end.
    const N: u64 = 600_000;
    const M: u64 = 3_000_000;
    let dir = scratch("determinism");
    let snap = dir.join("a.snap");
    let mut m1 = machine(32, Some(hdd_bytes()));
    m1.run(N);
    let out_at_n = (m1.bus.debugcon.captured.clone(), m1.bus.serial_out.captured.clone());
    let t = std::time::Instant::now();
    let size = snapshot::save(&m1, &snap, "after POST").expect("save");
    let save_time = t.elapsed();
    m1.run(M);
    let d1 = snapshot::state_digest(&m1);
    let printed = m1.bus.debugcon.captured.len() + m1.bus.serial_out.captured.len();
    assert!(printed > out_at_n.0.len() + out_at_n.1.len(), "the guest printed something after the snapshot");

    let mut m2 = machine(32, Some(hdd_bytes()));
    let t = std::time::Instant::now();
    let s = snapshot::restore_into(&mut m2, &snap).expect("restore");
    let restore_time = t.elapsed();
    assert_eq!(s.description, "after POST");
    assert_eq!(m2.cpu.icount, s.icount);
    // Output is host-side, not in the snapshot: start from what the first run had printed.
    (m2.bus.debugcon.captured, m2.bus.serial_out.captured) = out_at_n;
    m2.run(M);
    assert_eq!(m2.cpu.icount, m1.cpu.icount);
    assert_eq!(snapshot::state_digest(&m2), d1, "the restored run reaches the same state and output");
    eprintln!(
        "32 MiB guest: snapshot {size} bytes, save {:.1} ms, restore {:.1} ms",
        save_time.as_secs_f64() * 1e3,
        restore_time.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Offsets of every section boundary (the start of each section header and of the end marker).
fn boundaries(bytes: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut pos = 16;
    loop {
        let n = bytes[pos] as usize;
        if n == 0 {
            out.push(("end".into(), pos));
            return out;
        }
        let name = String::from_utf8(bytes[pos + 1..pos + 1 + n].to_vec()).unwrap();
        out.push((name, pos));
        let h = pos + 1 + n;
        let stored = u64::from_le_bytes(bytes[h + 7..h + 15].try_into().unwrap()) as usize;
        pos = h + 23 + stored;
    }
}

fn fix_file_crc(bytes: &mut [u8]) {
    let n = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
}

/// A small machine that has run a little (disk written), its snapshot bytes, and its digest.
fn sample() -> (Machine, Vec<u8>) {
    let mut m = machine(2, Some(hdd_bytes()));
    m.run(2_000_000);
    let bytes = snapshot::to_bytes(&m, "sample");
    (m, bytes)
}

fn refused(m: &mut Machine, bytes: &[u8]) -> SnapshotError {
    let before = snapshot::state_digest(m);
    let e = snapshot::restore_from_bytes(m, bytes).expect_err("must be refused");
    assert_eq!(snapshot::state_digest(m), before, "a refused snapshot leaves the machine as it was");
    e
}

#[test]
fn round_trip_in_memory() {
    let (m, bytes) = sample();
    let mut m2 = machine(2, Some(hdd_bytes()));
    snapshot::restore_from_bytes(&mut m2, &bytes).expect("restore");
    m2.bus.debugcon.captured = m.bus.debugcon.captured.clone();
    m2.bus.serial_out.captured = m.bus.serial_out.captured.clone();
    assert_eq!(snapshot::state_digest(&m2), snapshot::state_digest(&m));
    // The restored machine saves the same state again.
    let again = snapshot::to_bytes(&m2, "sample");
    assert_eq!(boundaries(&again).len(), boundaries(&bytes).len());
}

#[test]
fn truncation_at_every_section_boundary_is_refused() {
    let (_, bytes) = sample();
    let mut m = machine(2, Some(hdd_bytes()));
    let b = boundaries(&bytes);
    assert_eq!(b.len(), 17, "16 sections and the end marker: {b:?}");
    for (name, off) in &b {
        for cut in [*off, off + 1, off + 4].into_iter().filter(|&c| c < bytes.len()) {
            let e = refused(&mut m, &bytes[..cut]);
            assert!(e.to_string().contains("truncated") || e.section.is_some(), "cut at {cut} ({name}): {e}");
        }
    }
    refused(&mut m, &bytes[..bytes.len() - 1]);
    refused(&mut m, &bytes[..10]);
    refused(&mut m, &[]);
}

#[test]
fn flipped_bits_are_refused_naming_the_section() {
    let (_, bytes) = sample();
    let mut m = machine(2, Some(hdd_bytes()));
    let b = boundaries(&bytes);
    // A bit in the middle of each section's payload: that section's checksum.
    for w in b.windows(2) {
        let (name, start) = (&w[0].0, w[0].1);
        let end = w[1].1;
        let payload_start = start + 1 + name.len() + 23;
        if end <= payload_start {
            continue;
        }
        let mut bad = bytes.clone();
        bad[(payload_start + end) / 2] ^= 0x10;
        let e = refused(&mut m, &bad);
        assert_eq!(e.section.as_deref(), Some(name.as_str()), "{e}");
        assert!(e.message.contains("checksum"), "{e}");
    }
    // Bits all over the file, headers included.
    for pos in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
        let mut bad = bytes.clone();
        bad[pos] ^= 1;
        refused(&mut m, &bad);
    }
}

#[test]
fn wrong_magic_and_future_versions_are_refused() {
    let (_, bytes) = sample();
    let mut m = machine(2, Some(hdd_bytes()));
    let mut bad = bytes.clone();
    bad[0] = b'Y';
    assert!(refused(&mut m, &bad).message.contains("magic"));

    let mut bad = bytes.clone();
    bad[8..12].copy_from_slice(&2u32.to_le_bytes());
    fix_file_crc(&mut bad);
    let e = refused(&mut m, &bad);
    assert!(e.message.contains("format version 2 is newer"), "{e}");

    // A future version of one section (the section header is covered by the file checksum).
    let (_, pit) = boundaries(&bytes).into_iter().find(|(n, _)| n == "pit").unwrap();
    let mut bad = bytes.clone();
    bad[pit + 1 + 3..pit + 1 + 3 + 2].copy_from_slice(&9u16.to_le_bytes());
    fix_file_crc(&mut bad);
    let e = refused(&mut m, &bad);
    assert_eq!(e.section.as_deref(), Some("pit"), "{e}");
    assert!(e.message.contains("version 9 is newer"), "{e}");

    // A length that points past the end of the file is caught before anything is allocated.
    let (_, ram) = boundaries(&bytes).into_iter().find(|(n, _)| n == "ram").unwrap();
    let mut bad = bytes.clone();
    let h = ram + 1 + 3;
    bad[h + 7..h + 15].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = refused(&mut m, &bad);
    assert_eq!(e.section.as_deref(), Some("ram"), "{e}");
}

#[test]
fn other_ram_size_or_other_disk_is_refused() {
    let (_, bytes) = sample();
    let mut m = machine(4, Some(hdd_bytes()));
    let e = refused(&mut m, &bytes);
    assert_eq!(e.section.as_deref(), Some("ram"), "{e}");
    assert!(e.message.contains("2 MiB"), "{e}");

    let mut m = machine(2, None);
    let e = refused(&mut m, &bytes);
    assert_eq!(e.section.as_deref(), Some("disks"), "{e}");

    let mut other = hdd_bytes();
    let last = other.len() - 1;
    other[last] ^= 0xFF;
    let mut m = machine(2, Some(other));
    let e = refused(&mut m, &bytes);
    assert_eq!(e.section.as_deref(), Some("disks"), "{e}");
    assert!(e.message.contains("hda"), "{e}");

    let mut m = machine(2, Some(vec![0; 4 << 20]));
    let e = refused(&mut m, &bytes);
    assert_eq!(e.section.as_deref(), Some("disks"), "{e}");
}

#[test]
fn a_crash_during_save_leaves_the_old_snapshot_loadable() {
    let dir = scratch("crash");
    let path = dir.join("s.snap");
    let mut m = machine(2, Some(hdd_bytes()));
    m.run(1_000_000);
    snapshot::save(&m, &path, "old").expect("save");
    // A save that died mid-write leaves a partial temporary file beside the snapshot; the
    // rename never happened.
    let bytes = snapshot::to_bytes(&m, "new");
    std::fs::write(dir.join(".s.snap.tmp99999"), &bytes[..bytes.len() / 2]).unwrap();
    let mut m2 = machine(2, Some(hdd_bytes()));
    let s = snapshot::restore_into(&mut m2, &path).expect("the old snapshot still loads");
    assert_eq!(s.description, "old");
    assert_eq!(snapshot::info(&path).expect("info").description, "old");
    // Saving again replaces it whole.
    m.run(1000);
    snapshot::save(&m, &path, "newer").expect("save");
    assert_eq!(snapshot::info(&path).expect("info").description, "newer");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The determinism property: run to `n`, save, run `m` more and digest the whole state (CPU,
/// RAM, devices, disks, serial and port E9h output); restore into a fresh machine, run `m`,
/// digest again: equal. Returns the two runs' output after the snapshot (for a sanity check).
fn determinism(build: &dyn Fn() -> Machine, n: u64, m: u64, name: &str) -> Vec<u8> {
    let dir = scratch(name);
    let snap = dir.join("d.snap");
    let mut m1 = build();
    m1.run(n);
    assert_eq!(m1.cpu.icount, n, "{name}: the guest is still running at instruction {n}");
    let out_at_n = (m1.bus.debugcon.captured.clone(), m1.bus.serial_out.captured.clone());
    snapshot::save(&m1, &snap, name).expect("save");
    let d0 = snapshot::state_digest(&m1);
    m1.run(m);
    let d1 = snapshot::state_digest(&m1);
    assert_ne!(d0, d1, "{name}: the digest sees the run between the two points");
    let mut m2 = build();
    snapshot::restore_into(&mut m2, &snap).expect("restore");
    (m2.bus.debugcon.captured, m2.bus.serial_out.captured) = out_at_n.clone();
    m2.run(m);
    assert_eq!(m2.cpu.icount, m1.cpu.icount, "{name}");
    assert_eq!(snapshot::state_digest(&m2), d1, "{name}: the restored run reaches the same state and output");
    let _ = std::fs::remove_dir_all(&dir);
    let mut printed = m1.bus.debugcon.captured[out_at_n.0.len()..].to_vec();
    printed.extend_from_slice(&m1.bus.serial_out.captured[out_at_n.1.len()..]);
    printed
}

fn demo_os() -> Machine {
    let bios = std::fs::read(format!("{ROOT}/bios/x86lab-bios.bin")).expect("bios");
    let floppy = std::fs::read(format!("{ROOT}/roms/demo/demo.img")).expect("demo.img");
    let ram_bytes = 32 << 20;
    let cmos = x86lab::devices::rtc_cmos::CmosConfig { ram_bytes: ram_bytes as u64, ..Default::default() };
    Machine::new(MachineConfig {
        ram_bytes,
        bios,
        debugcon: Sink::None,
        serial: Sink::None,
        ips: x86lab::machine::clock::DEFAULT_IPS,
        rtc_unix: 946_684_800,
        cmos,
        floppies: [Some(Disk::from_bytes(floppy, false).expect("floppy")), None],
        hard_disks: [None, None, None, None],
        boot_order: [BootDevice::Floppy, BootDevice::HardDisk],
        vga_bios: None,
    })
    .expect("machine")
}

#[test]
fn determinism_on_the_demo_os() {
    // Saved while the BIOS loads the kernel from the floppy; the kernel then boots, switches to
    // protected mode, starts its tasks and prints its boot log on COM1.
    let printed = determinism(&demo_os, 2_000_000, 40_000_000, "demo");
    assert!(String::from_utf8_lossy(&printed).contains("demo"), "the OS booted after the snapshot");
}

#[test]
fn determinism_through_the_bochs_bios() {
    let pick = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.to_string());
    let bios = PathBuf::from(pick("X86LAB_BOCHS_BIOS", "/usr/share/bochs/BIOS-bochs-legacy"));
    let vga = PathBuf::from(pick("X86LAB_VGA_BIOS", "/usr/share/vgabios/vgabios.bin"));
    if !bios.is_file() || !vga.is_file() {
        eprintln!(
            "determinism_through_the_bochs_bios: skipped: {} or {} is missing (Debian: apt-get install bochsbios vgabios)",
            bios.display(),
            vga.display()
        );
        return;
    }
    let build = || {
        let image = std::fs::read(format!("{ROOT}/roms/tests/boot/compat_fd.bin")).expect("compat_fd.bin");
        let ram_bytes = 32 << 20;
        let cmos = x86lab::devices::rtc_cmos::CmosConfig { ram_bytes: ram_bytes as u64, ..Default::default() };
        Machine::new(MachineConfig {
            ram_bytes,
            bios: std::fs::read(&bios).expect("bios"),
            debugcon: Sink::None,
            serial: Sink::None,
            ips: x86lab::machine::clock::DEFAULT_IPS,
            rtc_unix: 946_684_800,
            cmos,
            floppies: [Some(Disk::from_bytes(image, false).expect("floppy")), None],
            hard_disks: [None, None, None, None],
            boot_order: [BootDevice::Floppy, BootDevice::HardDisk],
            vga_bios: Some(std::fs::read(&vga).expect("vga bios")),
        })
        .expect("machine")
    };
    // Saved during Bochs's POST (the VGA BIOS has run); the image then boots and runs its
    // disk, video, serial and system checks.
    let printed = determinism(&build, 1_500_000, 30_000_000, "bochs");
    assert!(!printed.is_empty(), "the guest printed something after the snapshot");
}

/// A VM folder with the hard-disk test image, through the command line.
fn cli_vm(dir: &std::path::Path) -> PathBuf {
    let vm = dir.join("vm");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(["new", vm.to_str().unwrap(), "--memory", "64", "--rtc", "2000-01-01T00:00:00", "--hda"])
        .arg(format!("{ROOT}/roms/tests/boot/hdd.bin"))
        .output()
        .expect("x86lab new");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    vm
}

fn cli_save(vm: &std::path::Path, at: &str, desc: &str, fault: Option<&str>) -> std::process::Child {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_x86lab"));
    c.args(["snapshot", "save", vm.to_str().unwrap(), "s", "--force", "--at", at, "--description", desc]);
    if let Some(f) = fault {
        c.env("X86LAB_SNAPSHOT_FAULT", f);
    }
    c.stderr(std::process::Stdio::piped()).spawn().expect("spawn x86lab")
}

/// The old snapshot is there, whole, and no temporary file is taken for a snapshot.
fn old_snapshot_intact(vm: &std::path::Path) {
    let snap = vm.join("snapshots/s.snap");
    assert_eq!(snapshot::info(&snap).expect("the old snapshot still loads").description, "old");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(["snapshot", "list", vm.to_str().unwrap()])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&o.stdout);
    assert_eq!(list.lines().count(), 1, "only the old snapshot is listed: {list}");
    assert!(list.contains("old") && list.contains(" 300000 instructions"), "{list}");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(["run", vm.to_str().unwrap(), "--headless", "--serial", "none", "--debugcon", "none"])
        .args(["--max-instructions", "1000", "--restore", "s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "restores and runs: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_process_killed_while_saving_leaves_the_old_snapshot_loadable() {
    use std::io::BufRead;
    let dir = scratch("kill");
    let vm = cli_vm(&dir);
    assert!(cli_save(&vm, "300000", "old", None).wait().unwrap().success());

    // SIGKILL while the new file is half written.
    let mut child = cli_save(&vm, "600000", "new", Some("mid-write"));
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("half written") {
        line.clear();
    }
    assert!(line.contains("half written"), "the child reached the middle of the write: {line}");
    let tmp: Vec<_> = std::fs::read_dir(vm.join("snapshots"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert_eq!(tmp.len(), 1, "a half-written temporary file exists while the child waits");
    child.kill().expect("SIGKILL");
    let st = child.wait().unwrap();
    assert!(!st.success());
    old_snapshot_intact(&vm);

    // A crash after the whole file is written but before the rename.
    let child = cli_save(&vm, "600000", "new", Some("before-rename"));
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success(), "the child aborted");
    old_snapshot_intact(&vm);

    // Without a fault the save replaces it.
    assert!(cli_save(&vm, "600000", "new", None).wait().unwrap().success());
    assert_eq!(snapshot::info(&vm.join("snapshots/s.snap")).unwrap().description, "new");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn restore_after_the_disk_changed_puts_back_the_later_blocks() {
    // A snapshot taken before the guest wrote its disk, restored into the same machine after
    // it did: the blocks written later go back to what the image held.
    let mut m = machine(2, Some(hdd_bytes()));
    m.run(100_000);
    let early = snapshot::to_bytes(&m, "early");
    let digest_early = snapshot::guest_digest(&m);
    let hda = |m: &Machine| m.bus.ata[0].disk(0).unwrap().changed_block_count();
    let changed_early = hda(&m);
    m.run(3_000_000);
    assert!(hda(&m) > changed_early, "the guest wrote its disk after the snapshot");
    snapshot::restore_from_bytes(&mut m, &early).expect("restore into the same machine");
    assert_eq!(snapshot::guest_digest(&m), digest_early);
    assert_eq!(hda(&m), changed_early);
}
