//! Run control on a tiny hand-assembled ROM: `next` over CALL and INT n, catchpoints (going
//! forward and with `rcontinue`), watchpoints (linear and physical), conditions on memory, the
//! instruction budget, pausing through `poll`, memory writes, tracing.

use super::*;
use crate::devices::debugcon::Sink;
use crate::machine::{BootDevice, MachineConfig};

/// Real-mode code at F000:0000 (the reset vector jumps there):
///
/// ```text
/// 0000 mov sp, 0x1000          0015 call 0x0038          0038 inc bx
/// 0003 xor ax, ax              0018 int 0x20             0039 ret
/// 0005 mov ss, ax              001a inc ax               0040 inc cx
/// 0007 mov ds, ax              001b mov [0x500], ax      0041 iret
/// 0009 mov word [0x80], 0x40   001e jmp 0x1e
/// 000f mov word [0x82], 0xf000      (IVT entry 0x20 = F000:0040)
/// ```
fn rom() -> Vec<u8> {
    let mut r = vec![0xF4u8; 0x10000];
    let code: &[u8] = &[
        0xBC, 0x00, 0x10, 0x31, 0xC0, 0x8E, 0xD0, 0x8E, 0xD8, 0xC7, 0x06, 0x80, 0x00, 0x40, 0x00, 0xC7, 0x06, 0x82,
        0x00, 0x00, 0xF0, 0xE8, 0x20, 0x00, 0xCD, 0x20, 0x40, 0xA3, 0x00, 0x05, 0xEB, 0xFE,
    ];
    r[..code.len()].copy_from_slice(code);
    r[0x38] = 0x43;
    r[0x39] = 0xC3;
    r[0x40] = 0x41;
    r[0x41] = 0xCF;
    r[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]);
    r
}

fn dbg() -> Debugger {
    let ram_bytes = 2 << 20;
    let m = Machine::new(MachineConfig {
        ram_bytes,
        bios: rom(),
        debugcon: Sink::None,
        serial: Sink::None,
        ips: crate::machine::clock::DEFAULT_IPS,
        rtc_unix: 946_684_800,
        cmos: crate::devices::rtc_cmos::CmosConfig { ram_bytes: ram_bytes as u64, ..Default::default() },
        floppies: [None, None],
        hard_disks: [None, None, None, None],
        boot_order: [BootDevice::Floppy, BootDevice::HardDisk],
        vga_bios: None,
    })
    .expect("machine");
    Debugger::new(m)
}

fn at(d: &Debugger) -> (u16, u32) {
    (d.m.cpu.seg[Seg::Cs as usize].selector, d.m.cpu.eip)
}

fn run(d: &mut Debugger, line: &str) -> String {
    d.execute(line, &mut || false).text
}

#[test]
fn next_steps_over_call_and_int() {
    let mut d = dbg();
    let out = run(&mut d, "until f000:0015");
    assert_eq!(at(&d), (0xF000, 0x15), "{out}");
    run(&mut d, "next");
    assert_eq!(at(&d), (0xF000, 0x18));
    assert_eq!(d.m.cpu.gpr[crate::cpu::regs::EBX], 1, "the called routine ran");
    let out = run(&mut d, "next");
    assert_eq!(at(&d), (0xF000, 0x1A), "{out}");
    assert_eq!(d.m.cpu.gpr[crate::cpu::regs::ECX], 1, "the handler ran");
    assert!(out.contains("software interrupt INT 0x20"), "{out}");
    // A plain instruction: `next` is a step.
    run(&mut d, "next");
    assert_eq!(at(&d), (0xF000, 0x1B));
    let h = d.history_text(5);
    assert!(h.contains("int 0x20") && h.contains("iret"), "{h}");
}

#[test]
fn catchpoints_stop_at_the_handler() {
    let mut d = dbg();
    run(&mut d, "catch int 0x20");
    let out = run(&mut d, "c");
    assert!(out.contains("stopped: catchpoint 1: software (INT n) interrupt, vector 0x20"), "{out}");
    assert_eq!(at(&d), (0xF000, 0x40));
    assert!(d.explain().contains("interrupt 0x20: a software interrupt"), "{}", d.explain());
    run(&mut d, "delete 1");
    run(&mut d, "catch cpl");
    run(&mut d, "catch mode");
    run(&mut d, "catch io 0x60-0x64");
    d.budget_end = Some(d.m.cpu.icount + 1000);
    let out = run(&mut d, "c");
    assert!(out.contains("--max-instructions reached"), "nothing else happens in the loop: {out}");
    assert!(run(&mut d, "breaks").contains("io ports 0x0060-0x0064"));
}

#[test]
fn rcontinue_goes_back_to_the_catchpoint_hit_without_counting_it() {
    let mut d = dbg();
    run(&mut d, "catch int 0x20");
    run(&mut d, "c");
    let (icount, regs) = (d.m.cpu.icount, RegSnap::of(&d.m.cpu));
    assert_eq!(at(&d), (0xF000, 0x40));
    run(&mut d, "step 4");
    assert_ne!(at(&d), (0xF000, 0x40));
    let out = run(&mut d, "rcontinue");
    assert!(
        out.starts_with(&format!(
            "stopped (going back): catchpoint 1: software (INT n) interrupt, vector 0x20 at #{icount}\n"
        )),
        "{out}"
    );
    assert_eq!((d.m.cpu.icount, RegSnap::of(&d.m.cpu)), (icount, regs), "where `continue` stopped");
    assert_eq!(d.points[0].hits, 1, "going back counts no hit");
    let out = run(&mut d, "rcontinue");
    assert!(out.starts_with("no breakpoint, watchpoint or catchpoint hit in the recorded history"), "{out}");
    assert_eq!(d.m.cpu.icount, 0);
}

#[test]
fn watchpoints_linear_and_physical_with_old_and_new_values() {
    let mut d = dbg();
    assert!(run(&mut d, "watch w 0x500 2").starts_with("watchpoint 1"));
    let out = run(&mut d, "c");
    assert!(out.contains("watchpoint 1: write of 2 bytes at linear 0x00000500"), "{out}");
    assert!(out.contains("old: 00 00; new: 01 00"), "{out}");
    // The stop comes after the writing instruction.
    assert_eq!(at(&d), (0xF000, 0x1E));
    let mut d = dbg();
    run(&mut d, "watch rw phys:0x80 4");
    let out = run(&mut d, "c");
    assert!(out.contains("write of 2 bytes at physical 0x00000080"), "{out}");
    run(&mut d, "disable 1");
    run(&mut d, "watch r 0x82 2");
    d.budget_end = Some(d.m.cpu.icount + 1000);
    let out = run(&mut d, "c");
    // INT 0x20 reads the IVT entry, but that is the CPU's own access, not an instruction's
    // data access: the read watchpoint stays quiet and the budget ends the run.
    assert!(!out.contains("read of") && out.contains("--max-instructions reached"), "{out}");
}

#[test]
fn conditions_on_registers_and_memory() {
    let mut d = dbg();
    assert!(run(&mut d, "break f000:1e if [0x500] == 1").starts_with("breakpoint 1"));
    let out = run(&mut d, "c");
    assert!(out.contains("stopped: breakpoint 1 (hit 1 time)"), "{out}");
    let mut d = dbg();
    run(&mut d, "break f000:1e if word [0x500] > 1");
    run(&mut d, "tbreak 0xf001a if ax == 0");
    let out = run(&mut d, "c");
    assert!(out.contains("temporary breakpoint 2"), "{out}");
    assert!(!run(&mut d, "breaks").contains("tbreak"), "a temporary breakpoint goes once hit");
    d.budget_end = Some(d.m.cpu.icount + 500);
    let out = run(&mut d, "c");
    assert!(out.contains("--max-instructions reached"), "[0x500] is 1, never > 1: {out}");
}

#[test]
fn poll_pauses_and_memory_can_be_patched() {
    let mut d = dbg();
    let mut n = 0;
    let info = d.resume(Resume::Continue, &mut || {
        n += 1;
        n > 3
    });
    assert_eq!(info.reason, Reason::Interrupted);
    assert!(run(&mut d, "write 0x600 de ad 68 69").starts_with("wrote 4 byte(s)"));
    assert!(run(&mut d, "write 0x700 \"hi\"").starts_with("wrote 2 byte(s)"));
    assert!(run(&mut d, "x /4b 0x600").contains("de ad 68 69"));
    assert!(run(&mut d, "xp /1w 0x600").contains("adde"));
    assert_eq!(d.search(&[0xDE, 0xAD, 0x68], 4), vec![0x600]);
    assert!(run(&mut d, "set eax = 0x1234").contains("0x1234"));
    assert!(run(&mut d, "set al = 0xff").contains("0xff"));
    assert_eq!(d.m.cpu.gpr[0], 0x12FF);
    assert!(run(&mut d, "x /1z 0").starts_with("error:"));
}

#[test]
fn trace_writes_one_line_per_instruction() {
    let mut d = dbg();
    let path = std::env::temp_dir().join(format!("x86lab-trace-test-{}.txt", std::process::id()));
    run(&mut d, &format!("trace on {}", path.display()));
    run(&mut d, "step 3");
    run(&mut d, "trace off");
    let t = std::fs::read_to_string(&path).expect("trace file");
    let _ = std::fs::remove_file(&path);
    assert_eq!(t.lines().count(), 3, "{t}");
    assert!(t.lines().next().is_some_and(|l| l.contains("jmp far") && l.contains("eax=")), "{t}");
}
