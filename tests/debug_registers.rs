//! Debug registers DR0-DR3/DR6/DR7 (SDM Vol. 3A §17.2-17.3), checked on a flat real-mode
//! machine: an instruction breakpoint is a fault before the instruction (and RF lets it run
//! once), a data breakpoint is a trap after the instruction that made the access, and DR6 says
//! which breakpoint fired.

use x86lab::cpu::regs::{EAX, Seg};
use x86lab::cpu::{Cpu, CpuBus, Eflags, Flags};

struct Bus(Vec<u8>);

impl CpuBus for Bus {
    fn read8(&mut self, a: u32) -> u8 {
        self.0.get(a as usize).copied().unwrap_or(0xFF)
    }
    fn write8(&mut self, a: u32, v: u8) {
        if let Some(b) = self.0.get_mut(a as usize) {
            *b = v;
        }
    }
    fn io_in(&mut self, _: u16, _: u8) -> u32 {
        0xFFFF_FFFF
    }
    fn io_out(&mut self, _: u16, _: u8, _: u32) {}
}

const CODE: u32 = 0x1000;
const HANDLER: u32 = 0x2000;

/// Real mode, CS=DS=SS=0, code at 0x1000, the #DB vector pointing at a HLT at 0x2000.
fn machine(code: &[u8]) -> (Cpu, Bus) {
    let mut bus = Bus(vec![0; 1 << 20]);
    bus.0[CODE as usize..CODE as usize + code.len()].copy_from_slice(code);
    bus.0[HANDLER as usize] = 0xF4; // hlt
    bus.0[4..8].copy_from_slice(&[(HANDLER & 0xFF) as u8, (HANDLER >> 8) as u8, 0, 0]);
    let mut cpu = Cpu::new();
    cpu.cache.track_memory(1 << 20);
    for s in Seg::ALL {
        cpu.seg[s as usize].load_real(0);
    }
    cpu.eip = CODE;
    cpu.gpr[4] = 0x8000;
    cpu.flags = Flags::new(0x2);
    (cpu, bus)
}

fn set_dr7(cpu: &mut Cpu, v: u32) {
    cpu.dr[7] = v;
    cpu.update_breakpoints();
}

fn run_until_halt(cpu: &mut Cpu, bus: &mut Bus) {
    for _ in 0..100 {
        cpu.step(bus);
        if cpu.halted {
            return;
        }
    }
    panic!("did not reach the #DB handler");
}

/// The 16-bit IP pushed by the real-mode #DB delivery.
fn pushed_ip(cpu: &Cpu, bus: &Bus) -> u32 {
    let sp = (cpu.gpr[4] & 0xFFFF) as usize;
    u16::from_le_bytes([bus.0[sp], bus.0[sp + 1]]) as u32
}

#[test]
fn instruction_breakpoint_faults_before_the_instruction() {
    // inc ax; inc ax; inc ax; hlt
    let (mut cpu, mut bus) = machine(&[0x40, 0x40, 0x40, 0xF4]);
    cpu.dr[1] = CODE + 2;
    set_dr7(&mut cpu, 0b1100); // L1|G1, R/W1 = 00 (execute), LEN1 = 00
    run_until_halt(&mut cpu, &mut bus);
    assert_eq!(cpu.gpr[EAX] & 0xFFFF, 2, "the third INC did not run");
    assert_eq!(pushed_ip(&cpu, &bus), CODE + 2, "a fault: the saved IP is the breakpoint");
    assert_eq!(cpu.dr[6] & 0xF, 0b0010, "DR6.B1");
    assert_eq!(cpu.last_fault.map(|f| f.fault.vector), Some(1));
}

#[test]
fn rf_lets_the_breakpointed_instruction_run_once() {
    let (mut cpu, mut bus) = machine(&[0x40, 0x40, 0x40, 0xF4]);
    cpu.dr[0] = CODE;
    set_dr7(&mut cpu, 0b01);
    cpu.flags.set(Eflags::RF, true);
    cpu.step(&mut bus);
    assert_eq!(cpu.gpr[EAX] & 0xFFFF, 1, "RF suppressed the breakpoint");
    assert!(!cpu.flags.get(Eflags::RF), "RF is cleared after the instruction");
    assert_eq!(cpu.eip, CODE + 1);
}

#[test]
fn data_write_breakpoint_traps_after_the_instruction() {
    // mov [0x3000], ax (a3 00 30); inc ax; hlt
    let (mut cpu, mut bus) = machine(&[0xA3, 0x00, 0x30, 0x40, 0xF4]);
    cpu.dr[2] = 0x3001;
    // L2, R/W2 = 01 (writes), LEN2 = 00 (1 byte)
    set_dr7(&mut cpu, (1 << 4) | (0b01 << 24));
    cpu.gpr[EAX] = 0x1234;
    run_until_halt(&mut cpu, &mut bus);
    assert_eq!(bus.0[0x3001], 0x12, "the store happened");
    assert_eq!(cpu.gpr[EAX] & 0xFFFF, 0x1234, "the INC after it did not run yet");
    assert_eq!(pushed_ip(&cpu, &bus), CODE + 3, "a trap: the saved IP follows the store");
    assert_eq!(cpu.dr[6] & 0xF, 0b0100, "DR6.B2");
}

#[test]
fn write_breakpoint_ignores_reads_but_read_write_catches_them() {
    // mov ax, [0x3000] (a1 00 30); hlt
    let code = [0xA1, 0x00, 0x30, 0xF4];
    let (mut cpu, mut bus) = machine(&code);
    cpu.dr[0] = 0x3000;
    set_dr7(&mut cpu, 0b01 | (0b01 << 16)); // writes only
    cpu.step(&mut bus);
    cpu.step(&mut bus);
    assert!(cpu.halted && cpu.eip == CODE + 4, "the read did not trigger a write breakpoint");

    let (mut cpu, mut bus) = machine(&code);
    cpu.dr[3] = 0x3002; // 4-byte breakpoint at 3000-3003 (aligned down)
    set_dr7(&mut cpu, (1 << 6) | (0b11 << 28) | (0b11 << 30)); // L3, R/W3 = 11, LEN3 = 11
    run_until_halt(&mut cpu, &mut bus);
    assert_eq!(pushed_ip(&cpu, &bus), CODE + 3);
    assert_eq!(cpu.dr[6] & 0xF, 0b1000, "DR6.B3");
}

#[test]
fn single_step_sets_bs() {
    let (mut cpu, mut bus) = machine(&[0x40, 0x40, 0xF4]);
    cpu.flags.set(Eflags::TF, true);
    run_until_halt(&mut cpu, &mut bus);
    assert_eq!(pushed_ip(&cpu, &bus), CODE + 1, "trap after the first instruction");
    assert_ne!(cpu.dr[6] & (1 << 14), 0, "DR6.BS");
}
