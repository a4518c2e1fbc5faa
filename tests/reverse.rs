//! Going back in time in the debugger: `rstep` lands on exactly the state the forward run had
//! (every register, the flags, RAM and every device, compared with a trace recorded going
//! forward), `rcontinue` stops at the last breakpoint hit, and at the last catchpoint hit exactly
//! where `continue` stopped for it, `when-written` names the instruction a watchpoint saw write the
//! byte last. The guest is the demo OS, through an external interrupt
//! (a step without an instruction) and across checkpoint boundaries.

use x86lab::debugger::{Debugger, Reason, Resume};
use x86lab::devices::debugcon::Sink;
use x86lab::devices::disk::Disk;
use x86lab::machine::{BootDevice, Machine, MachineConfig};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn demo_os() -> Machine {
    let bios = std::fs::read(format!("{ROOT}/bios/x86lab-bios.bin")).expect("bios");
    let floppy = std::fs::read(format!("{ROOT}/roms/demo/demo.img")).expect("demo.img");
    let ram_bytes = 8 << 20;
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

/// What a moment looks like: the registers a reader compares, and a digest of everything.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    icount: u64,
    gpr: [u32; 8],
    eip: u32,
    eflags: u32,
    sel: [u16; 6],
    cr: [u32; 4],
    ram_hash: u32,
    /// Every section of a snapshot of the machine but `settings`, by name, as a CRC.
    sections: Vec<(String, u32)>,
}

/// (name, CRC of the payload) of each section of a snapshot image, `settings` left out.
fn section_crcs(b: &[u8]) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut pos = 16;
    loop {
        let n = b[pos] as usize;
        if n == 0 {
            return out;
        }
        let name = String::from_utf8(b[pos + 1..pos + 1 + n].to_vec()).unwrap();
        let h = pos + 1 + n;
        let crc = u32::from_le_bytes(b[h + 3..h + 7].try_into().unwrap());
        let stored = u64::from_le_bytes(b[h + 7..h + 15].try_into().unwrap()) as usize;
        if name != "settings" {
            out.push((name, crc));
        }
        pos = h + 23 + stored;
    }
}

fn state(d: &Debugger) -> State {
    let c = &d.m.cpu;
    State {
        icount: c.icount,
        gpr: c.gpr,
        eip: c.eip,
        eflags: c.flags.eflags(),
        sel: std::array::from_fn(|i| c.seg[i].selector),
        cr: [c.cr0.bits(), c.cr2, c.cr3, c.cr4.bits()],
        ram_hash: crc32fast::hash(&d.m.bus.mem.ram),
        sections: section_crcs(&x86lab::snapshot::to_bytes_level(&d.m, "", 1)),
    }
}

fn run(d: &mut Debugger, cmd: &str) -> String {
    let out = d.execute(cmd, &mut || false);
    assert!(!out.text.starts_with("error"), "{cmd}: {}", out.text);
    out.text
}

/// The debugger on the demo OS, booted to `icount` on the fast path, with small checkpoint
/// intervals so a few hundred steps cross several.
fn booted(icount: u64, interval: u64) -> Debugger {
    let mut d = Debugger::new(demo_os());
    run(&mut d, "set history 0");
    run(&mut d, &format!("set checkpoint-interval {interval}"));
    run(&mut d, "set history-checkpoints 64");
    d.budget_end = Some(icount);
    let info = d.resume(Resume::Continue, &mut || false);
    assert_eq!(info.reason, Reason::Machine(x86lab::machine::Stop::Budget));
    d.budget_end = None;
    d
}

#[test]
fn rstep_lands_on_exactly_the_previous_states() {
    let mut d = booted(3_000_000, 40);
    // To the first instructions of an interrupt handler: the step before was a delivery.
    run(&mut d, "catch int");
    let out = run(&mut d, "continue");
    assert!(out.contains("catchpoint"), "{out}");
    run(&mut d, "delete all");
    run(&mut d, "rstep 30");

    // Forward, one step at a time, recording each state.
    let mut trace = vec![state(&d)];
    for _ in 0..60 {
        run(&mut d, "step");
        trace.push(state(&d));
    }
    let deliveries = trace.windows(2).filter(|w| w[0].icount == w[1].icount).count();
    assert!(deliveries >= 1, "the trace crosses an external interrupt delivery");

    // A jump back, then forward again: the same states.
    run(&mut d, "rstep 45");
    assert_eq!(state(&d), trace[15], "rstep 45");
    run(&mut d, "step 45");
    assert_eq!(state(&d), trace[60], "forward again after rstep 45");

    // Back one step at a time, to the start of the trace.
    for i in (0..60).rev() {
        let out = run(&mut d, "rstep");
        assert_eq!(state(&d), trace[i], "rstep to step {i} of the trace: {out}");
    }
}

#[test]
fn rcontinue_and_when_written_agree_with_the_forward_run() {
    let mut d = booted(2_500_000, 500);
    run(&mut d, "catch int");
    run(&mut d, "continue");
    run(&mut d, "delete all");
    // The handler pushes onto its stack: watch the dword below ESP.
    let esp = d.m.cpu.gpr[4];
    let ss_base = d.m.cpu.seg[2].base;
    let phys = d.lin_to_phys(ss_base.wrapping_add(esp).wrapping_sub(4)).expect("the stack is mapped");
    run(&mut d, "rstep 20");

    // Forward with a write watchpoint: each stop names a writer (the instruction before it).
    run(&mut d, &format!("watch w phys:{phys:#x} 1"));
    let mut trace = vec![state(&d)];
    let mut last_writer = None;
    for _ in 0..150 {
        let before = d.m.cpu.icount;
        let out = run(&mut d, "step");
        if out.contains("watchpoint") {
            last_writer = Some(before);
        }
        trace.push(state(&d));
    }
    let writer = last_writer.expect("the handler wrote the watched byte");
    run(&mut d, "delete all");
    let now = state(&d);
    let out = run(&mut d, &format!("when-written phys:{phys:#x}"));
    assert!(out.contains(&format!("instruction #{writer} ")), "want #{writer}: {out}");
    assert_eq!(state(&d), now, "when-written leaves the machine where it was");

    // A breakpoint at an instruction the trace passed: rcontinue stops at its last hit.
    let k = 75;
    let lin = trace[k].eip.wrapping_add(d.m.cpu.seg[1].base);
    let last_hit =
        (0..150).rev().find(|&j| trace[j].eip == trace[k].eip && trace[j].sel[1] == trace[k].sel[1]).unwrap();
    run(&mut d, &format!("break {:04x}:{:08x}", trace[k].sel[1], trace[k].eip));
    let out = run(&mut d, "rcontinue");
    assert!(out.contains("breakpoint"), "{out} (linear {lin:#x})");
    assert_eq!(state(&d), trace[last_hit], "rcontinue lands on the last hit before now");
    // Forward again to where we were.
    run(&mut d, "delete all");
    run(&mut d, &format!("step {}", 150 - last_hit));
    assert_eq!(state(&d), now);
}

/// "catchpoint N: what" of a forward stop line ("stopped: catchpoint N: what, CPL ...").
fn catch_words(out: &str) -> String {
    let line = out.lines().find(|l| l.starts_with("stopped: catchpoint")).unwrap_or_else(|| panic!("{out}"));
    let rest = line.strip_prefix("stopped: ").unwrap();
    rest[..rest.rfind(", CPL").unwrap()].to_string()
}

/// Sets the catchpoints, stops at `n` (or one more) of their hits going forward (one of them with a
/// checkpoint exactly at it, so the step that hit it ends a segment), steps a little further, then
/// `rcontinue`s back: each lands on the state of the previous forward stop, with the same words,
/// and counts no hit. `continue` from there stops at the next one again.
fn rcontinue_retraces_catch_stops(catches: &[&str], n: usize) {
    let mut d = booted(3_000_000, 1_000_000);
    for c in catches {
        run(&mut d, c);
    }
    let mut stops = Vec::new();
    while stops.len() < n {
        let out = run(&mut d, "continue");
        stops.push((state(&d), catch_words(&out)));
        if stops.len() == n / 2 {
            // A checkpoint here, and one a step later.
            let at = d.timeline.pos;
            run(&mut d, "set checkpoint-interval 1");
            let out = run(&mut d, "step");
            if out.contains("stopped: catchpoint") {
                // That step hit one too: a forward stop as well.
                stops.push((state(&d), catch_words(&out)));
            }
            run(&mut d, "set checkpoint-interval 1000000");
            assert!(d.timeline.ring.iter().any(|c| c.pos == at), "a checkpoint at the stop {at}");
        }
    }
    let out = run(&mut d, "step 3");
    assert!(!out.contains("catchpoint"), "{out}");
    let n = stops.len();
    let hits: Vec<u64> = d.points.iter().map(|p| p.hits).collect();
    for k in (0..n).rev() {
        let out = run(&mut d, "rcontinue");
        let (want, words) = &stops[k];
        assert!(out.starts_with(&format!("stopped (going back): {words} at ")), "stop {k}: want {words}: {out}");
        assert_eq!(&state(&d), want, "rcontinue lands on forward stop {k}: {out}");
    }
    assert_eq!(d.points.iter().map(|p| p.hits).collect::<Vec<_>>(), hits, "rcontinue counts no hit");
    // Forward again from the first stop: the second, exactly.
    let out = run(&mut d, "continue");
    assert_eq!(catch_words(&out), stops[1].1);
    assert_eq!(state(&d), stops[1].0, "continue after rcontinue");
}

#[test]
fn rcontinue_stops_where_continue_stopped_for_catch_cpl() {
    rcontinue_retraces_catch_stops(&["catch cpl"], 6);
}

#[test]
fn rcontinue_stops_where_continue_stopped_for_catch_int_and_io() {
    rcontinue_retraces_catch_stops(&["catch int 0x80", "catch io 0x20-0x21"], 6);
}

#[test]
fn going_back_needs_a_recorded_past_and_write_starts_it_again() {
    let mut d = Debugger::new(demo_os());
    let out = d.execute("rstep", &mut || false).text;
    assert!(out.starts_with("error") && out.contains("no recorded past"), "{out}");
    run(&mut d, "step 10");
    run(&mut d, "rstep 10");
    assert_eq!(d.m.cpu.icount, 0);
    let out = d.execute("rstep", &mut || false).text;
    assert!(out.starts_with("error"), "nothing before the first instruction: {out}");
    run(&mut d, "step 10");
    run(&mut d, "write phys:0x600 12");
    let out = d.execute("rstep", &mut || false).text;
    assert!(out.starts_with("error") && out.contains("write"), "{out}");
    run(&mut d, "set history-checkpoints 0");
    run(&mut d, "step 5");
    let out = d.execute("rstep", &mut || false).text;
    assert!(out.contains("off"), "{out}");
}
