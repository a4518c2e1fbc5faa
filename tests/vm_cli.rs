//! VM folders and snapshots through the real command line: `x86lab new`, `run NAME/`,
//! `--save-snapshot`, `--restore`, `snapshot list|check|delete`, and config errors that name
//! the file, the line and the key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn x86lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_x86lab")).args(args).output().expect("run x86lab")
}

fn describe(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("x86lab-vmcli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch");
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn new_vm(dir: &Path, name: &str) -> PathBuf {
    let vm = dir.join(name);
    let hdd = format!("{ROOT}/roms/tests/boot/hdd.bin");
    let o = x86lab(&["new", s(&vm), "--memory", "16", "--hda", &hdd, "--rtc", "2000-01-01T00:00:00"]);
    assert!(o.status.success(), "{}", describe(&o));
    vm
}

#[test]
fn new_creates_a_documented_folder() {
    let dir = scratch("new");
    let vm = dir.join("box");
    let o = x86lab(&["new", s(&vm), "--hda-size", "8M"]);
    assert!(o.status.success(), "{}", describe(&o));
    let toml = std::fs::read_to_string(vm.join("box.toml")).expect("box.toml");
    assert!(toml.contains("memory = 32") && toml.contains("# Guest RAM"), "{toml}");
    assert_eq!(std::fs::metadata(vm.join("hda.img")).expect("hda.img").len(), 8 << 20);
    assert!(vm.join("snapshots").is_dir());
    let o = x86lab(&["new", s(&vm)]);
    assert_eq!(o.status.code(), Some(2), "an existing folder is refused\n{}", describe(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_errors_name_file_line_and_key() {
    let dir = scratch("cfg");
    let vm = new_vm(&dir, "bad");
    let cfg = vm.join("bad.toml");
    let good = std::fs::read_to_string(&cfg).unwrap();
    for (text, key) in [
        (good.replace("memory = 16", "memory = 16\nmemroy = 8"), "memroy"),
        (good.replace("memory = 16", "memory = 0"), "memory"),
        (good.replace("hda = \"hda.img\"", "hda = \"missing.img\""), "disks.hda"),
        (good.replace("ips = ", "ips = \"fast\"\n#"), "ips"),
    ] {
        std::fs::write(&cfg, &text).unwrap();
        let line = text.lines().position(|l| l.starts_with(key.trim_start_matches("disks."))).unwrap() + 1;
        let o = x86lab(&["run", s(&vm), "--headless", "--max-instructions", "10"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
        assert!(err.contains(&format!("bad.toml:{line}:")) && err.contains(key), "want line {line} and {key}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_and_restore_through_the_command_line() {
    // The hard-disk test image ends (exit device) after about 1.6 million instructions: save in
    // the middle of POST, then run to the end.
    const N: u64 = 600_000;
    const M: u64 = 3_000_000;
    let dir = scratch("snap");
    let vm = new_vm(&dir, "vm");
    let first = dir.join("first.txt");
    let second = dir.join("second.txt");
    let (n, m, nm) = (N.to_string(), M.to_string(), (N + M).to_string());
    let o = x86lab(&[
        "run",
        s(&vm),
        "--headless",
        "--serial",
        "none",
        "--debugcon",
        &format!("file:{}", s(&first)),
        "--max-instructions",
        &n,
        "--save-snapshot",
        "s1",
        "--snapshot-description",
        "after POST",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", describe(&o));
    let o = x86lab(&["snapshot", "list", s(&vm)]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("s1") && out.contains(&n) && out.contains("after POST"), "{}", describe(&o));

    let o = x86lab(&[
        "run",
        s(&vm),
        "--headless",
        "--serial",
        "none",
        "--debugcon",
        &format!("file:{}", s(&second)),
        "--max-instructions",
        &m,
        "--restore",
        "s1",
    ]);
    let restored_status = o.status.code();

    // The same guest run straight through, from a fresh folder.
    let vm2 = new_vm(&dir, "straight");
    let straight = dir.join("straight.txt");
    let o = x86lab(&[
        "run",
        s(&vm2),
        "--headless",
        "--serial",
        "none",
        "--debugcon",
        &format!("file:{}", s(&straight)),
        "--max-instructions",
        &nm,
    ]);
    assert_eq!(o.status.code(), restored_status, "same exit as the restored run\n{}", describe(&o));
    let mut joined = std::fs::read(&first).unwrap();
    joined.extend(std::fs::read(&second).unwrap());
    assert_eq!(
        String::from_utf8_lossy(&joined),
        String::from_utf8_lossy(&std::fs::read(&straight).unwrap()),
        "output before the snapshot + after the restore = a straight run's"
    );

    // Another RAM size is refused, naming the section.
    let o = x86lab(&["run", s(&vm), "--headless", "--memory", "8", "--restore", "s1"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("section 'ram'"), "{}", describe(&o));

    let o = x86lab(&["snapshot", "delete", s(&vm), "s1"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(!vm.join("snapshots/s1.snap").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
