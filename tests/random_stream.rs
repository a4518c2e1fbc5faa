//! Random instruction streams in real mode: whatever bytes a guest executes, the emulator must
//! never panic and never hang.
//!
//! Each case (a seed) builds a flat 1 MiB machine: random bytes at a random CS:IP, an interrupt
//! vector table whose 256 entries point at eight handlers that are random bytes too, random
//! general registers, flags and data segments. Then the CPU takes a bounded number of steps. Every
//! exception the garbage raises goes through the IVT into more garbage; a triple fault or HLT
//! simply ends the case early. Random bytes reach instructions that no hand-written test thinks
//! of: odd prefix combinations, LOCK on anything, MOV to CR0 (protected mode and paging with a
//! garbage GDT and page tables), far jumps into the IVT, string instructions with huge counts.
//!
//! A panicking case is reported with its seed and code bytes (rerun one case by setting
//! `X86LAB_SEED=<seed>`); the test fails if any case panicked.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;
use x86lab::cpu::regs::ESP;
use x86lab::cpu::{Cpu, CpuBus, Flags, Mode, Seg};

/// Number of cases (seeds 0..CASES).
const CASES: u64 = 3000;
/// Steps per case.
const STEPS: usize = 200;
/// Bytes of random code at the starting CS:IP.
const CODE_LEN: usize = 256;
/// Random handlers: HANDLERS blobs of HANDLER_LEN bytes at HANDLER_SEG:k*HANDLER_LEN.
const HANDLERS: usize = 8;
const HANDLER_LEN: usize = 64;
const HANDLER_SEG: u16 = 0x9000;
const MEM: usize = 1 << 20;

/// A flat 1 MiB bus: every address wraps at 1 MiB (as on an 8086 with A20 off), ports read as
/// all ones and ignore writes.
struct FlatBus {
    mem: Vec<u8>,
}

impl CpuBus for FlatBus {
    fn read8(&mut self, addr: u32) -> u8 {
        self.mem[addr as usize & (MEM - 1)]
    }
    fn write8(&mut self, addr: u32, value: u8) {
        self.mem[addr as usize & (MEM - 1)] = value;
    }
    fn io_in(&mut self, _port: u16, size: u8) -> u32 {
        match size {
            1 => 0xFF,
            2 => 0xFFFF,
            _ => u32::MAX,
        }
    }
    fn io_out(&mut self, _port: u16, _size: u8, _value: u32) {}
}

/// xorshift64* (Marsaglia; Vigna): small, fast, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Spread the small seeds over the state; the state must never be 0.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03 | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    fn u16(&mut self) -> u16 {
        (self.next() >> 48) as u16
    }
    fn below(&mut self, n: u32) -> u32 {
        self.u32() % n
    }
}

/// Bytes that make random code more interesting than uniform noise: prefixes, the two-byte escape,
/// and instructions that change control flow or machine state.
const SPICE: &[u8] = &[
    0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, // prefixes
    0x0F, 0x0F, 0x0F, // two-byte opcodes (MOV CRn, LGDT/LIDT, BT*, SETcc, ...)
    0xCD, 0xCC, 0xCE, 0xCF, 0xCA, 0xCB, 0xEA, 0xFF, 0x9A, // INT, IRET, far transfers
    0xA4, 0xA5, 0xAA, 0xAB, 0xA6, 0xAE, 0x6C, 0x6E, // string instructions
    0x8E, 0x17, 0x1F, 0x07, 0xC4, 0xC5, // segment loads
    0x9D, 0xFA, 0xFB, 0xF4, 0xD4, 0xD5, 0xF6, 0xF7, 0x62, 0xC8, 0xC9, // POPF, HLT, AAM, DIV, BOUND, ENTER
];

fn random_bytes(rng: &mut Rng, out: &mut [u8]) {
    for b in out {
        *b = if rng.below(5) == 0 { SPICE[rng.below(SPICE.len() as u32) as usize] } else { rng.u32() as u8 };
    }
}

/// A register value: often small (so 16-bit addressing and counts stay sensible), sometimes any.
fn random_reg(rng: &mut Rng) -> u32 {
    match rng.below(4) {
        0 => rng.u32(),
        1 => rng.below(16),
        _ => rng.u16() as u32,
    }
}

/// Builds the machine for one seed. Returns the CPU, the bus, and the code bytes (for reports).
fn setup(seed: u64) -> (Cpu, FlatBus, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let mut bus = FlatBus { mem: vec![0; MEM] };

    // The handlers, and an IVT whose entries point at them at random.
    for k in 0..HANDLERS {
        let at = (HANDLER_SEG as usize) * 16 + k * HANDLER_LEN;
        random_bytes(&mut rng, &mut bus.mem[at..at + HANDLER_LEN]);
    }
    for v in 0..256 {
        let k = rng.below(HANDLERS as u32) as u16;
        let ip = k * HANDLER_LEN as u16;
        bus.mem[v * 4..v * 4 + 2].copy_from_slice(&ip.to_le_bytes());
        bus.mem[v * 4 + 2..v * 4 + 4].copy_from_slice(&HANDLER_SEG.to_le_bytes());
    }

    // The code, somewhere between 0x10000 and 0x8FFFF.
    let cs = 0x1000 + rng.below(0x7000) as u16;
    let ip = rng.below(0x10000 - CODE_LEN as u32) as u16;
    let mut code = vec![0u8; CODE_LEN];
    random_bytes(&mut rng, &mut code);
    let at = cs as usize * 16 + ip as usize;
    bus.mem[at..at + CODE_LEN].copy_from_slice(&code);

    let mut cpu = Cpu::new();
    cpu.cache.track_memory(MEM as u64);
    cpu.seg[Seg::Cs as usize].load_real(cs);
    cpu.eip = ip as u32;
    cpu.next_eip = ip as u32;
    for r in 0..8 {
        cpu.gpr[r] = random_reg(&mut rng);
    }
    // A stack somewhere in RAM, SP even and not right at the wrap (the random code can still
    // move it anywhere).
    cpu.seg[Seg::Ss as usize].load_real(0x1000 + rng.below(0x8000) as u16);
    cpu.gpr[ESP] = 0x100 + (rng.below(0xFE00) & !1);
    for s in [Seg::Ds, Seg::Es, Seg::Fs, Seg::Gs] {
        cpu.seg[s as usize].load_real(rng.u16());
    }
    // Status flags, TF, DF at random; IF too (no interrupt controller, so it changes nothing).
    cpu.flags = Flags::new(0x2 | (rng.u32() & 0x0FD5));
    (cpu, bus, code)
}

/// What one case did, for the summary (so a reader can see the streams do more than fault).
#[derive(Default)]
struct Tally {
    instructions: u64,
    halted: u64,
    triple_faults: u64,
    protected: u64,
}

fn run_case(seed: u64, tally: &mut Tally) {
    let (mut cpu, mut bus, _) = setup(seed);
    for _ in 0..STEPS {
        cpu.step(&mut bus);
        if cpu.shutdown || cpu.halted {
            break;
        }
    }
    tally.instructions += cpu.icount;
    tally.halted += cpu.halted as u64;
    tally.triple_faults += cpu.shutdown as u64;
    tally.protected += (cpu.mode() != Mode::Real) as u64;
    // Also through the run loop, which has its own exits (HLT, a bus stop, the budget).
    let (mut cpu, mut bus, _) = setup(seed);
    let _ = cpu.run(&mut bus, STEPS as u64);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn random_real_mode_streams_never_panic_or_hang() {
    let seeds: Vec<u64> = match std::env::var("X86LAB_SEED") {
        Ok(s) => vec![s.trim().parse().expect("X86LAB_SEED is a number")],
        Err(_) => (0..CASES).collect(),
    };
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    for &seed in &seeds {
        let t = Instant::now();
        if catch_unwind(AssertUnwindSafe(|| run_case(seed, &mut tally))).is_err() {
            let (cpu, _, code) = setup(seed);
            failures.push(format!(
                "seed {seed}: CS:IP={:04x}:{:04x}, code: {}",
                cpu.seg[Seg::Cs as usize].selector,
                cpu.eip,
                hex(&code)
            ));
        }
        // "Never hang": one case is a few hundred instructions; a second means something loops.
        let took = t.elapsed();
        assert!(took.as_secs() < 5, "seed {seed} took {took:?} for {STEPS} steps: a hang?");
    }
    eprintln!(
        "{} random cases in {:.2?}: {} instructions retired, {} ended in HLT, {} in a triple fault, {} left real mode",
        seeds.len(),
        start.elapsed(),
        tally.instructions,
        tally.halted,
        tally.triple_faults,
        tally.protected
    );
    assert!(failures.is_empty(), "{} case(s) panicked:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn rng_is_deterministic() {
    // The seeds must mean the same bytes on every machine and in every run.
    let mut a = Rng::new(42);
    let mut b = Rng::new(42);
    let xs: Vec<u64> = (0..4).map(|_| a.next()).collect();
    let ys: Vec<u64> = (0..4).map(|_| b.next()).collect();
    assert_eq!(xs, ys);
    assert_ne!(Rng::new(1).next(), Rng::new(2).next());
}
