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

#[test]
fn snapshot_save_restore_list_delete_subcommands() {
    // The hard-disk test image ends (exit device) after about 1.6 million instructions.
    const N: u64 = 600_000;
    let dir = scratch("subcommands");
    let vm = new_vm(&dir, "sub");
    let n = N.to_string();
    let o = x86lab(&["snapshot", "save", s(&vm), "mid", "--at", &n, "--description", "in the middle of POST"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(vm.join("snapshots/mid.snap").is_file());
    // Saving over it needs --force.
    let o = x86lab(&["snapshot", "save", s(&vm), "mid", "--at", "10"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"), "{}", describe(&o));

    let o = x86lab(&["snapshot", "list", s(&vm)]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let line = out.lines().find(|l| l.starts_with("mid ")).unwrap_or_else(|| panic!("{}", describe(&o)));
    assert!(line.contains(&format!(" {n} instructions")) && line.contains("in the middle of POST"), "{line}");
    let size = std::fs::metadata(vm.join("snapshots/mid.snap")).unwrap().len();
    assert!(line.contains(&format!(" {size} bytes")), "{line}");
    assert!(!line.contains("next run"), "{line}");

    // restore: the next run starts there, once.
    let o = x86lab(&["snapshot", "restore", s(&vm), "mid"]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = x86lab(&["snapshot", "list", s(&vm)]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("(the next run starts here)"), "{}", describe(&o));
    let run = |extra: &[&str], out: &Path| {
        let mut a = vec!["run", s(&vm), "--headless", "--serial", "none"];
        let dc = format!("file:{}", s(out));
        a.extend(["--debugcon", &dc, "--max-instructions", "3000000"]);
        a.extend(extra);
        x86lab(&a)
    };
    // Read-only: these two runs write nothing (a run that does is below).
    let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
    let o1 = run(&["--readonly"], &a);
    assert!(String::from_utf8_lossy(&o1.stderr).contains("started from snapshot mid"), "{}", describe(&o1));
    let o2 = run(&["--restore", "mid", "--readonly"], &b);
    assert_eq!(o1.status.code(), o2.status.code());
    let (ta, tb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(!ta.is_empty());
    assert_eq!(ta, tb, "the pending restore runs as --restore does");
    // Consumed: the next run boots from power-on and prints the BIOS banner first.
    let c = dir.join("c.txt");
    let o3 = run(&[], &c);
    assert!(!String::from_utf8_lossy(&o3.stderr).contains("started from"), "{}", describe(&o3));
    assert_ne!(std::fs::read(&c).unwrap(), ta, "a run from power-on prints its POST too");
    // That run wrote the VM's disk after the snapshot was saved (into the overlay: the base
    // image stays as it was), and restoring the snapshot still works: the next run starts
    // there again and runs as before.
    let o = x86lab(&["snapshot", "restore", s(&vm), "mid"]);
    assert!(o.status.success(), "{}", describe(&o));
    let d = dir.join("d.txt");
    let o4 = run(&["--readonly"], &d);
    assert!(String::from_utf8_lossy(&o4.stderr).contains("started from snapshot mid"), "{}", describe(&o4));
    assert_eq!(std::fs::read(&d).unwrap(), ta, "the restore after a run that wrote the disk is exact");
    assert!(!vm.join("snapshots/NEXT").exists());

    // The VM's log has the story.
    let log = std::fs::read_to_string(vm.join("sub.log")).expect("sub.log");
    assert!(log.contains("saved snapshot") && log.contains("restored") && log.contains("run ended"), "{log}");

    // Errors name the file and what to do.
    let o = x86lab(&["snapshot", "restore", s(&vm), "nope"]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("nope.snap") && err.contains("snapshot list"), "{err}");
    let o = x86lab(&["snapshot", "delete", s(&vm), "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));

    let o = x86lab(&["snapshot", "delete", s(&vm), "mid"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(!vm.join("snapshots/mid.snap").exists());
    let o = x86lab(&["snapshot", "list", s(&vm)]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("no snapshots"), "{}", describe(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn debugger_save_and_restore_in_a_vm_folder() {
    let dir = scratch("repl");
    let vm = new_vm(&dir, "dbg");
    let script = dir.join("s.dbg");
    std::fs::write(
        &script,
        "step 2000\nregs\nsave here two thousand steps in\nsnapshots\nstep 5000\nrestore here\nregs\nrestore missing\n",
    )
    .unwrap();
    let o = x86lab(&["debug", s(&vm), "--headless", "--serial", "none", "--debugcon", "none", "--script", s(&script)]);
    assert!(o.status.success(), "{}", describe(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(vm.join("snapshots/here.snap").is_file(), "{out}");
    assert!(out.contains("two thousand steps in") && out.contains("restored"), "{out}");
    // The registers after the restore are those at the save.
    let regs: Vec<&str> = out.split("(x86lab) regs\n").skip(1).map(|r| r.split("(x86lab)").next().unwrap()).collect();
    assert_eq!(regs.len(), 2, "{out}");
    assert_eq!(regs[0].replace('*', " "), regs[1].replace('*', " "), "{out}");
    assert!(out.contains("error: snapshot") && out.contains("missing.snap"), "{out}");
    // And `x86lab snapshot list` sees it, with the description.
    let o = x86lab(&["snapshot", "list", s(&vm)]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("two thousand steps in"), "{}", describe(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recorded_input_replays_exactly() {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = scratch("replay");
    let (rec, rec2) = (dir.join("in.log"), dir.join("again.log"));
    let args = |log_flag: &str, log: &Path| -> Vec<String> {
        ["run", "--headless", "--rtc", "2000-01-01T00:00:00", "--debugcon", "none", "--serial", "stdio"]
            .iter()
            .map(|s| s.to_string())
            .chain(["--max-instructions".into(), "2000000000".into(), "--stats".into()])
            .chain([log_flag.to_string(), s(log).to_string()])
            .collect()
    };
    // A person at the demo OS's shell: each command typed when the prompt shows, at whatever
    // moment of guest time the host gets there.
    let mut child = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(args("--record-input", &rec))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("x86lab starts");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut stdin = child.stdin.take().unwrap();
    let wait_for = |seen: &mut Vec<u8>, needle: &str, before: usize| {
        let t = Instant::now();
        while String::from_utf8_lossy(seen).matches(needle).count() <= before {
            assert!(t.elapsed() < Duration::from_secs(120), "no {needle:?}: {}", String::from_utf8_lossy(seen));
            if let Ok(b) = rx.recv_timeout(Duration::from_millis(100)) {
                seen.extend(b);
            }
        }
    };
    wait_for(&mut seen, "Type 'help' for the commands.", 0);
    for (cmd, then) in [("uptime\n", "ticks"), ("tasks\n", "counter"), ("exit\n", "")] {
        let before = String::from_utf8_lossy(&seen).matches(then).count();
        stdin.write_all(cmd.as_bytes()).unwrap();
        stdin.flush().unwrap();
        if !then.is_empty() {
            wait_for(&mut seen, then, before);
        }
    }
    let st = child.wait().unwrap();
    while let Ok(b) = rx.recv_timeout(Duration::from_secs(5)) {
        seen.extend(b);
    }
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let instructions =
        |e: &str| e.lines().find(|l| l.starts_with("stats:")).map(|l| l.split_whitespace().nth(1).unwrap().to_string());
    let log = std::fs::read_to_string(&rec).expect("the input log");
    assert!(log.lines().count() > 10, "{log}");
    assert!(String::from_utf8_lossy(&seen).contains("tasks"), "{}", String::from_utf8_lossy(&seen));

    // The replay: no terminal input, the same output down to the byte and the same instruction count.
    let o = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .args(args("--replay-input", &rec))
        .args(["--record-input", s(&rec2)])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), st.code(), "{}", describe(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&seen));
    let e2 = String::from_utf8_lossy(&o.stderr);
    assert!(instructions(&err).is_some());
    assert_eq!(instructions(&e2), instructions(&err), "{err}\n{e2}");
    assert_eq!(std::fs::read_to_string(&rec2).unwrap(), log, "the replay delivered every event at its moment");
    assert!(!e2.contains("late"), "{e2}");

    // A damaged log is refused with its line.
    std::fs::write(&rec2, log.replacen(" serial ", " serail ", 1)).unwrap();
    let o = x86lab(&["run", "--headless", "--replay-input", s(&rec2), "--max-instructions", "10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("again.log:2:"), "{}", describe(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A VM folder's disk is a frozen base plus a copy-on-write overlay, so a snapshot saved before
/// a later process wrote the disk still restores exactly: the issue-7 case that a live image
/// could not serve.
#[test]
fn snapshots_survive_later_runs_writing_the_disk() {
    const N: u64 = 600_000; // mid-POST: the guest has not written its disk yet
    const M: u64 = 3_000_000; // to the end: it writes LBA 3000 and LBA 1008
    let dir = scratch("overlay");
    let vm = new_vm(&dir, "vm");
    let base = vm.join("hda.img");
    let overlay = vm.join("hda.img.overlay");
    let original = std::fs::read(format!("{ROOT}/roms/tests/boot/hdd.bin")).unwrap();
    let run = |extra: &[&str], out: &Path| {
        let dc = format!("file:{}", s(out));
        let mut a = vec!["run", s(&vm), "--headless", "--serial", "none", "--debugcon", &dc];
        a.extend_from_slice(extra);
        x86lab(&a)
    };
    let (n, m) = (N.to_string(), M.to_string());

    // Process 1: save A before any disk write. Process 2: run on from A to the end (the guest
    // writes its disk), save B.
    let o = run(&["--max-instructions", &n, "--save-snapshot", "A"], &dir.join("a.txt"));
    assert_eq!(o.status.code(), Some(4), "{}", describe(&o));
    let o = run(&["--restore", "A", "--max-instructions", &m, "--save-snapshot", "B"], &dir.join("b.txt"));
    // (Exit status 3: in this 16 MiB VM the guest's memory-size checks fail; its disk checks pass.)
    assert_eq!(o.status.code(), Some(3), "the guest ran to its end\n{}", describe(&o));
    let b = String::from_utf8_lossy(&std::fs::read(dir.join("b.txt")).unwrap()).into_owned();
    assert!(b.contains("PASS  AH=43h write LBA 3000") && b.contains("PASS  read back LBA 1008"), "{b}");
    assert_eq!(std::fs::read(&base).unwrap(), original, "the base image is never written");
    assert!(overlay.is_file(), "the writes went to {}", overlay.display());

    // The disk as the guest sees it now, and as each snapshot holds it, exported as raw images.
    let export = |snap: Option<&str>, name: &str| -> Vec<u8> {
        let out = dir.join(name);
        let mut a = vec!["disk", "export", s(&vm), "hda", s(&out)];
        if let Some(snap) = snap {
            a.extend(["--snapshot", snap]);
        }
        let o = x86lab(&a);
        assert!(o.status.success(), "{}", describe(&o));
        std::fs::read(&out).unwrap()
    };
    let now = export(None, "now.img");
    let blk = |d: &[u8], lba: usize| d[lba * 512..(lba + 1) * 512].to_vec();
    assert_ne!(blk(&now, 3000), blk(&original, 3000), "the guest wrote LBA 3000");
    assert_ne!(blk(&now, 1008), blk(&original, 1008), "the guest wrote LBA 1008");
    let differ: Vec<usize> = (0..original.len() / 512).filter(|&b| blk(&now, b) != blk(&original, b)).collect();
    assert_eq!(differ, vec![1008, 3000]);
    assert_eq!(export(Some("A"), "a.img"), original, "A: the disk before the writes");
    assert_eq!(export(Some("B"), "b.img"), now, "B: the disk after them");
    let info = x86lab(&["disk", "info", s(&vm)]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("2 of 4096 blocks differ from the base"), "{}", describe(&info));

    // Process 3 restores A although process 2 wrote the disk since: the guest then runs exactly
    // as it did from A the first time (the same output, the same exit), and the disk is A's
    // again while it runs: its run ends with the same two blocks written.
    let o = run(&["--restore", "A", "--max-instructions", &m], &dir.join("a2.txt"));
    assert_eq!(o.status.code(), Some(3), "{}", describe(&o));
    assert_eq!(std::fs::read(dir.join("a2.txt")).unwrap(), std::fs::read(dir.join("b.txt")).unwrap());
    // Restore A and stop at once: the disk the VM keeps is A's (the base's contents).
    let o = run(&["--restore", "A", "--max-instructions", "1"], &dir.join("a3.txt"));
    assert_eq!(o.status.code(), Some(4), "{}", describe(&o));
    assert_eq!(export(None, "after-a.img"), original, "restoring A took the later writes out of the overlay");
    assert_eq!(export(Some("B"), "b2.img"), now, "and B still restores");
    assert_eq!(std::fs::read(&base).unwrap(), original, "the base image is never written");

    // Something else changes the base: refused, naming both files; nothing is deleted.
    let mut edited = original.clone();
    edited[3000 * 512 + 7] ^= 0xFF;
    std::fs::write(&base, &edited).unwrap();
    let o = run(&["--max-instructions", "10"], &dir.join("x.txt"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(err.contains("hda.img.overlay") && err.contains("hda.img changed"), "{}", describe(&o));
    assert!(overlay.is_file());
    let _ = std::fs::remove_dir_all(&dir);
}
