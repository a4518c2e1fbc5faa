//! The debugger through the real binary: scripted `x86lab debug` sessions on the test ROMs with
//! their output checked, and `gdb -batch` against `x86lab run --gdb` (skipped with a notice when
//! gdb is not installed; CI installs it).
//!
//! Addresses inside the ROMs are not hard-coded: a first session finds them (where the mode
//! switch is, where ring 3 starts) with catchpoints, and a second one uses them, so the tests
//! survive changes to the ROMs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("x86lab-debugger-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn describe(out: &Output) -> String {
    format!(
        "exit status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `x86lab debug --bios roms/tests/ROM.bin --headless --script FILE` with `script`.
fn debug(rom: &str, name: &str, script: &str) -> (String, Output) {
    let path = tmp(&format!("{name}.txt"));
    std::fs::write(&path, script).expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .current_dir(root())
        .args(["debug", "--bios", &format!("roms/tests/{rom}.bin"), "--headless", "--debugcon", "none"])
        .arg("--script")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("x86lab starts");
    (String::from_utf8_lossy(&out.stdout).into_owned(), out)
}

/// The output of one command in a transcript: the lines after `(x86lab) CMD` up to the next
/// prompt.
fn section<'a>(out: &'a str, cmd: &str) -> &'a str {
    let marker = format!("(x86lab) {cmd}\n");
    let start = out.find(&marker).unwrap_or_else(|| panic!("no `{cmd}` in:\n{out}")) + marker.len();
    let rest = &out[start..];
    &rest[..rest.find("(x86lab) ").unwrap_or(rest.len())]
}

/// The `seg:off` of the `=> seg:off (linear)` line of a stop.
fn where_of(s: &str) -> String {
    let line = s.lines().find(|l| l.starts_with("=> ")).unwrap_or_else(|| panic!("no location in:\n{s}"));
    line[3..].split_whitespace().next().expect("seg:off").to_string()
}

#[test]
fn help_and_malformed_input_give_one_line_errors() {
    let script = "help\nhelp break\nhelp nosuch\nbogus\nx /4z 0\nx\nbreak\nbreak f000:xyz\nbreak 0x100 if eax\n\
                  watch r\nwatch w 0x500 0\ncatch blah\ncatch #XX\ncatch io 0x10000\nset eax\nset foo = 1\n\
                  delete 99\nenable 42\ntranslate\ntranslate 0x1000 sideways\ninfo nosuch\nu zz\nstep zz\n\
                  write 0x500 9\nsearch\nx /2d phys:0x500 extra\nset eax = 0x123456789\nsymbols /nonexistent\n\
                  dump 0 1\nuntil\nregs\n";
    let (out, o) = debug("realmode", "malformed", script);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(section(&out, "help").contains("translate"), "{out}");
    assert!(section(&out, "help break").contains("example: break"), "{out}");
    for cmd in script.lines().filter(|l| !matches!(*l, "help" | "help break" | "regs")) {
        let s = section(&out, cmd);
        assert!(s.starts_with("error: ") && s.lines().count() == 1, "`{cmd}` should give one error line, got:\n{s}");
    }
    // Still alive and at the reset vector.
    assert!(section(&out, "regs").contains("eip=0000fff0"), "{out}");
}

#[test]
fn stepping_marks_changed_registers_and_keeps_history() {
    let (out, o) = debug("realmode", "step", "step\nstep 4\nregs\nhistory 3\nwhere\nu cs:eip 2\nx /2w 0xfffffff0\n");
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(out.starts_with("x86lab debugger:"), "{out}");
    assert!(out.contains("=> f000:0000fff0 (0xfffffff0)"), "starts at the reset vector:\n{out}");
    let regs = section(&out, "regs");
    assert!(regs.contains("eip=") && regs.contains('*'), "changed registers are marked:\n{regs}");
    assert_eq!(section(&out, "history 3").lines().filter(|l| l.trim_start().starts_with('#')).count(), 3, "{out}");
    assert!(section(&out, "u cs:eip 2").lines().next().is_some_and(|l| l.starts_with("=>")), "{out}");
    assert!(section(&out, "x /2w 0xfffffff0").starts_with("0xfffffff0:"), "{out}");
}

#[test]
fn protected_mode_switch_shows_in_cregs_and_sregs() {
    // Find the MOV CR0 that sets PE.
    let (out, _) = debug("segmentation", "pe-find", "catch mode\nc\nhistory 1\n");
    let hist = section(&out, "history 1");
    let line = hist.lines().find(|l| l.contains("mov cr0")).unwrap_or_else(|| panic!("no mov cr0:\n{out}"));
    let at = line.split_whitespace().nth(1).expect("seg:off").to_string();
    // Stop there, look, step over it, look again.
    let script = format!("break {at}\nc\ncregs\nstep\ncregs\nsregs\nregs\n");
    let (out, o) = debug("segmentation", "pe-step", &script);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(section(&out, "c").contains("stopped: breakpoint 1"), "{out}");
    assert!(section(&out, "c").contains("mov cr0"), "{out}");
    let before = section(&out, "cregs");
    assert!(before.contains("mode: real mode") && !before.contains("PE protection enable"), "{before}");
    let step = section(&out, "step");
    assert!(step.contains("mode change: real mode -> protected mode"), "{step}");
    let after = &out[out.find("(x86lab) step\n").expect("step")..];
    let after = section(after, "cregs");
    assert!(after.contains("PE protection enable") && after.contains("mode: protected mode"), "{after}");
    let sregs = section(&out, "sregs");
    assert!(sregs.contains("gdtr: base=") && sregs.contains("cs: ") && sregs.contains("code 16-bit"), "{sregs}");
    // In protected mode the selectors are decoded.
    assert!(sregs.contains("(index "), "{sregs}");
}

#[test]
fn breakpoint_fires_in_ring3() {
    let (out, _) = debug("rings", "ring3-find", "catch cpl\nc\n");
    let stop = section(&out, "c");
    assert!(stop.contains("CPL change: 0 -> 3"), "{out}");
    let at = where_of(stop);
    let script = format!("break {at} if cpl == 3\nc\nregs\nbreaks\n");
    let (out, o) = debug("rings", "ring3-break", &script);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let stop = section(&out, "c");
    assert!(stop.contains("stopped: breakpoint 1 (hit 1 time), CPL 3"), "{out}");
    assert!(section(&out, "regs").contains("CPL 3"), "{out}");
    assert!(section(&out, "breaks").contains("if cpl == 3"), "{out}");
}

#[test]
fn page_fault_is_explained_and_translated() {
    let script =
        "catch #PF\nc\nexplain\ntranslate cr2 user write\ntranslate cr2 supervisor read\ninfo pages\ninfo tlb\n";
    let (out, o) = debug("paging", "pf", script);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(section(&out, "c").contains("stopped: catchpoint 1: #PF("), "{out}");
    let ex = section(&out, "explain");
    assert!(ex.starts_with("#PF (page fault), vector 14, a fault"), "{ex}");
    assert!(ex.contains("#PF at 0x") && ex.contains("error code") && ex.contains("Intel SDM Vol. 3A 4.6"), "{ex}");
    assert!(ex.contains("CR2=0x") && (ex.contains("PDE") || ex.contains("PTE")), "{ex}");
    let tr = section(&out, "translate cr2 user write");
    assert!(tr.contains("32-bit paging") || tr.contains("PAE paging"), "{tr}");
    assert!(tr.contains("the access faults: #PF with error code"), "{tr}");
    assert!(section(&out, "info pages").contains("mapped range"), "{out}");
    assert!(section(&out, "info tlb").contains("cached translation"), "{out}");
}

#[test]
fn general_protection_is_explained_with_tables() {
    let script = "catch #GP\nc\nexplain\ninfo gdt\ninfo idt\ninfo tss\ninfo ldt\n";
    let (out, o) = debug("segmentation", "gp", script);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(section(&out, "c").contains("stopped: catchpoint 1: #GP("), "{out}");
    let ex = section(&out, "explain");
    assert!(ex.starts_with("#GP (general protection), vector 13, a fault"), "{ex}");
    assert!(ex.contains("Intel SDM"), "{ex}");
    let gdt = section(&out, "info gdt");
    assert!(gdt.contains("GDT at linear") && gdt.contains("code 32-bit") && gdt.contains("DPL=0 P=1"), "{gdt}");
    let idt = section(&out, "info idt");
    assert!(idt.contains("32-bit interrupt gate -> 0008:") || idt.contains("gate ->"), "{idt}");
    assert!(idt.contains("0x0d #GP"), "{idt}");
    assert!(section(&out, "info tss").contains("esp0="), "{out}");
}

#[test]
fn watchpoint_fires_on_a_write() {
    let (out, o) = debug("paging", "watch", "watch w 0x500 4\nc\nbreaks\nx /1d 0x500\n");
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let stop = section(&out, "c");
    assert!(stop.contains("stopped: watchpoint 1: write of 4 bytes at linear 0x00000500"), "{out}");
    assert!(section(&out, "breaks").contains("watchpoint"), "{out}");
}

#[test]
fn next_steps_over_a_call_and_the_guest_exit_is_reported() {
    // Find a CALL: stop in the print routine (an OUT to the debug console), step out of it.
    let (out, _) = debug("realmode", "call-find", "catch io 0xe9\nc\nhistory 40\n");
    assert!(section(&out, "c").contains("I/O on port 0x00e9"), "{out}");
    let hist = section(&out, "history 40");
    let call = hist.lines().rfind(|l| l.contains(" call ")).unwrap_or_else(|| panic!("no call in:\n{hist}"));
    let at = call.split_whitespace().nth(1).expect("seg:off").to_string();
    let script = format!("until {at}\nnext\nset history 0\ndelete all\nc\nc\n");
    let (out, o) = debug("realmode", "call-next", &script);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let reached = where_of(section(&out, &format!("until {at}")));
    assert_eq!(reached, at, "{out}");
    let after = where_of(section(&out, "next"));
    assert_ne!(after, at, "{out}");
    // The same code segment, a little further on: the call returned.
    assert_eq!(after[..4], at[..4], "{out}");
    assert!(out.contains("it ended with exit status 1"), "{out}");
    assert!(out.contains("the guest has ended; `reset` to start it again"), "{out}");
}

#[test]
fn stdin_script_gives_the_same_transcript() {
    let script = "step 3\nregs\nu\n";
    let (from_file, _) = debug("realmode", "stdin", script);
    let mut child = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .current_dir(root())
        .args(["debug", "--bios", "roms/tests/realmode.bin", "--headless", "--debugcon", "none"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("x86lab starts");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write");
    let o = child.wait_with_output().expect("wait");
    assert_eq!(String::from_utf8_lossy(&o.stdout), from_file, "{}", describe(&o));
}

#[test]
fn symbols_name_addresses() {
    let map = tmp("realmode.map");
    std::fs::write(&map, "0xfffffff0 reset_vector\n0x000f0000 rom_start\n").expect("map");
    let script = format!("symbols {}\nbreak rom_start\nwhere\nc\nx /4b reset_vector\n", map.display());
    let (out, o) = debug("realmode", "symbols", &script);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(section(&out, "where").contains("<reset_vector>"), "{out}");
    assert!(out.contains("breakpoint 1 at linear 0x000f0000 <rom_start>"), "{out}");
    assert!(section(&out, "x /4b reset_vector").starts_with("0xfffffff0 <reset_vector>:"), "{out}");
}

// ---- gdb ------------------------------------------------------------------------------------

fn gdb_available() -> bool {
    Command::new("gdb").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

#[test]
fn gdb_connects_breaks_steps_and_runs_monitor_commands() {
    if !gdb_available() {
        eprintln!("NOTICE: gdb is not installed; skipping the gdb stub test (CI installs gdb)");
        return;
    }
    // Where the guest first prints: a linear address to break at.
    let (out, _) = debug("realmode", "gdb-find", "catch io 0xe9\nc\n");
    let stop = section(&out, "c");
    // gdb's $pc in real mode is IP: break on the offset part of seg:off.
    let off = where_of(stop).split(':').nth(1).expect("offset").to_string();
    let off = format!("0x{}", off.trim_start_matches('0'));

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (x, reader) = start_waiting_for_gdb(&[
        "run",
        "--bios",
        "roms/tests/realmode.bin",
        "--headless",
        "--debugcon",
        "none",
        "--gdb",
        &addr,
        "-S",
    ]);
    let g = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", "set architecture i386", "-ex", &format!("target remote {addr}")])
        .args(["-ex", "info registers eip"])
        .args(["-ex", "x/1xb 0xfffffff0"])
        .args(["-ex", &format!("break *{off}")])
        .args(["-ex", "continue"])
        .args(["-ex", "info registers eip cs"])
        .args(["-ex", "stepi"])
        .args(["-ex", "info registers eip"])
        .args(["-ex", "monitor info gdt"])
        .args(["-ex", "monitor regs"])
        .args(["-ex", "delete"])
        .args(["-ex", "detach"])
        .stdin(Stdio::null())
        .output()
        .expect("gdb runs");
    let gout = format!("{}{}", String::from_utf8_lossy(&g.stdout), String::from_utf8_lossy(&g.stderr));
    let xo = x.wait_with_output_timeout();
    let xerr = reader.join().unwrap_or_default();
    assert!(gout.contains("eip            0xfff0"), "reset EIP:\n{gout}");
    assert!(gout.contains("0xfffffff0:\t0xea"), "memory at the reset vector (JMP FAR):\n{gout}");
    assert!(gout.contains("Breakpoint 1,"), "breakpoint hit:\n{gout}");
    assert!(gout.contains("cs             0xf000"), "{gout}");
    // Stopped in the BIOS in real mode, before any LGDT: the REPL says so instead of decoding
    // the reset GDTR (base 0, limit 0xFFFF) as a table.
    assert!(gout.contains("GDTR holds its reset value"), "monitor info gdt:\n{gout}");
    assert!(gout.contains("eflags=") && gout.contains("CPL 0"), "monitor regs:\n{gout}");
    // After gdb detaches, the guest runs to its end: all checks pass, exit status 1.
    assert_eq!(xo.status.code(), Some(1), "{}{xerr}\n--- gdb ---\n{gout}", describe(&xo));
}

trait WaitTimeout {
    fn wait_with_output_timeout(self) -> Output;
}

impl WaitTimeout for std::process::Child {
    /// Waits up to 60 s, then kills the child (a hung stub must not hang the test suite).
    fn wait_with_output_timeout(mut self) -> Output {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = self.try_wait() {
                break;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.kill();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        self.wait_with_output().expect("wait")
    }
}

#[test]
fn demo_os_mode_switch_can_be_stepped() {
    // `x86lab debug` with no image boots the bundled demo OS through the built-in BIOS.
    let path = tmp("demo.txt");
    std::fs::write(&path, "catch mode\nc\nhistory 3\ncregs\nstep\nsregs\nc\ninfo pages\n").expect("script");
    let o = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .current_dir(root())
        .args(["debug", "--headless", "--debugcon", "none", "--serial", "none", "--script"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("x86lab starts");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(section(&out, "c").contains("mode change: real mode -> protected mode"), "{out}");
    assert!(section(&out, "history 3").contains("mov cr0, eax"), "{out}");
    assert!(section(&out, "cregs").contains("PE protection enable"), "{out}");
    // The far jump after MOV CR0 loads CS from the GDT: the cache shows a 32-bit code segment.
    assert!(section(&out, "sregs").contains("cs: 0x0008 (index 1, GDT, RPL 0)"), "{out}");
    assert!(out.contains("-> protected mode, 32-bit paging"), "the kernel turns paging on:\n{out}");
    assert!(section(&out, "info pages").contains("mapped range"), "{out}");
}

#[test]
fn ctrl_c_pauses_a_running_guest() {
    // The demo OS never ends: `c` runs until SIGINT, then the script goes on.
    let path = tmp("ctrlc.txt");
    std::fs::write(&path, "set history 0\nc\nregs\nquit 7\n").expect("script");
    let child = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .current_dir(root())
        .args(["debug", "--headless", "--debugcon", "none", "--serial", "none", "--script"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("x86lab starts");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let o = child.wait_with_output_timeout();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(7), "{}", describe(&o));
    assert!(section(&out, "c").contains("stopped: interrupted"), "{out}");
    assert!(section(&out, "regs").contains("eip="), "{out}");
}

#[test]
fn debug_serves_gdb_then_the_repl_takes_over() {
    if !gdb_available() {
        eprintln!("NOTICE: gdb is not installed; skipping the gdb stub test (CI installs gdb)");
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let path = tmp("after-gdb.txt");
    std::fs::write(&path, "breaks\nregs\n").expect("script");
    let mut x = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .current_dir(root())
        .args(["debug", "--bios", "roms/tests/realmode.bin", "--headless", "--debugcon", "none", "--gdb", &addr])
        .arg("--script")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("x86lab starts");
    let stderr = x.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("waiting for gdb") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(30)).expect("x86lab waits for gdb");
    let g = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", "set architecture i386", "-ex", &format!("target remote {addr}")])
        .args(["-ex", "stepi", "-ex", "stepi", "-ex", "monitor catch #UD", "-ex", "monitor where", "-ex", "detach"])
        .stdin(Stdio::null())
        .output()
        .expect("gdb runs");
    let gout = format!("{}{}", String::from_utf8_lossy(&g.stdout), String::from_utf8_lossy(&g.stderr));
    let o = x.wait_with_output_timeout();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}\n--- gdb ---\n{gout}", describe(&o));
    assert!(gout.contains("catchpoint 1: exception #UD"), "{gout}");
    assert!(gout.contains("=> f000:"), "monitor where:\n{gout}");
    assert!(out.contains("gdb detached"), "{out}");
    // The REPL sees what gdb did: two steps from the reset vector, and the catchpoint.
    assert!(section(&out, "breaks").contains("catchpoint"), "{out}");
    assert!(!section(&out, "regs").contains("eip=0000fff0"), "{out}");
}

/// The gdb session printed in book/src/use/debugger.md ("gdb printed this ...") is replayed: the
/// same `x86lab run --gdb -S` and `gdb -batch` commands the book shows, and every line of the
/// book's output block must appear in gdb's output, in order (gdb's own start-up warning about a
/// missing executable, which differs between gdb versions, excepted).
#[test]
fn the_books_gdb_session_replays() {
    if !gdb_available() {
        eprintln!("NOTICE: gdb is not installed; skipping the book's gdb session (CI installs gdb)");
        return;
    }
    let chapter = std::fs::read_to_string(root().join("book/src/use/debugger.md")).expect("the debugger chapter");
    let after = chapter.split_once("gdb printed this").expect("the chapter's gdb output paragraph").1;
    let block = after.split_once("```text\n").expect("its text block").1.split_once("```").expect("block end").0;
    // The commands, as the chapter shows them.
    assert!(chapter.contains("x86lab run --bios book/labs/sensitive.img --headless --gdb 127.0.0.1:1234 -S"));
    for ex in ["monitor catch #GP", "monitor explain", "info registers eip cs eflags", "x/2i $pc"] {
        assert!(chapter.contains(&format!("-ex '{ex}'")), "the chapter's gdb command has -ex '{ex}'");
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (x, reader) =
        start_waiting_for_gdb(&["run", "--bios", "book/labs/sensitive.img", "--headless", "--gdb", &addr, "-S"]);
    // gdb's stdout and stderr interleaved as on a terminal (monitor output goes to stderr).
    let g = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec 2>&1 gdb -batch -nx -ex 'set architecture i386' -ex 'target remote {addr}' \
             -ex 'monitor catch #GP' -ex 'continue' -ex 'monitor explain' \
             -ex 'info registers eip cs eflags' -ex 'x/2i $pc' -ex 'detach'"
        ))
        .stdin(Stdio::null())
        .output()
        .expect("gdb runs");
    let gout = String::from_utf8_lossy(&g.stdout).into_owned();
    let _ = x.wait_with_output_timeout();
    let _ = reader.join();
    let got: Vec<&str> = gout.lines().map(str::trim_end).collect();
    let mut at = 0;
    for want in block.lines().map(str::trim_end) {
        if want.is_empty() || want.starts_with("warning: No executable") || want.starts_with("determining executable") {
            continue;
        }
        match got[at..].iter().position(|l| *l == want) {
            Some(i) => at += i + 1,
            None => panic!("the book's gdb line {want:?} is not in gdb's output (in order):\n{gout}"),
        }
    }
}

/// Starts x86lab with `args` (a `--gdb ... -S` run) and returns once it waits for gdb (it says
/// so on stderr), with a thread that collects the rest of its stderr.
fn start_waiting_for_gdb(args: &[&str]) -> (std::process::Child, std::thread::JoinHandle<String>) {
    let mut x = Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .current_dir(root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("x86lab starts");
    let stderr = x.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("waiting for gdb") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(std::time::Duration::from_secs(30)).expect("x86lab waits for gdb");
    (x, reader)
}
