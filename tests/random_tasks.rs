//! Random system states for the task-switch and virtual-8086 paths: whatever a guest puts in its
//! GDT, TSSs and IDT, and whatever it JMPs, CALLs, IRETs or INTs to, the emulator must not panic
//! or hang, and must keep its privilege state consistent (CPL 0-3; CPL 3 in virtual-8086 mode).
//!
//! Each case builds a GDT whose upper half holds random descriptors biased towards TSSs (busy or
//! not, 16- or 32-bit, odd limits), task gates, LDTs, call gates and code/data segments; TSSs
//! whose fields are random but mostly plausible (selectors from the GDT, EFLAGS with VM or NT
//! sometimes set, EIPs into the code area); an IDT of random interrupt, trap and task gates; and
//! a code area of system instructions with random operands: far JMP/CALL to random selectors,
//! IRETD with random frames (VM = 1 included), INT n, LTR, LLDT, POPFD of random values, CLI,
//! STI, IN, OUT, HLT, CLTS, PUSHFD. Then the CPU runs a bounded number of steps.

use x86lab::cpu::{Cpu, CpuBus, Cr0, Flags, Mode, Seg, regs::ESP, segment::Descriptor};

const MEM: usize = 2 << 20;
const GDT: u32 = 0x1000;
const GDT_ENTRIES: u32 = 64;
const IDT: u32 = 0x2000;
const TSS_AREA: u32 = 0x4000; // 16 TSSs of 0x100 bytes
const CODE: u32 = 0x10000;
const CODE_SIZE: u32 = 0x8000;
const STACK_TOP: u32 = 0x9F000;
const CASES: u64 = 1500;
const STEPS: usize = 600;

struct Bus {
    ram: Vec<u8>,
}

impl CpuBus for Bus {
    fn read8(&mut self, a: u32) -> u8 {
        self.ram.get(a as usize).copied().unwrap_or(0xFF)
    }
    fn write8(&mut self, a: u32, v: u8) {
        if let Some(b) = self.ram.get_mut(a as usize) {
            *b = v;
        }
    }
    fn io_in(&mut self, _port: u16, _size: u8) -> u32 {
        0xFFFF_FFFF
    }
    fn io_out(&mut self, _port: u16, _size: u8, _value: u32) {}
}

impl Bus {
    fn put16(&mut self, a: u32, v: u16) {
        self.ram[a as usize..a as usize + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn put32(&mut self, a: u32, v: u32) {
        self.ram[a as usize..a as usize + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put64(&mut self, a: u32, v: u64) {
        self.ram[a as usize..a as usize + 8].copy_from_slice(&v.to_le_bytes());
    }
}

/// xorshift64*: a small deterministic generator, so a failing case can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A descriptor from base, raw limit and access byte | flags nibble << 12.
fn desc(base: u32, limit: u32, attr: u16) -> u64 {
    let (b, l, a) = (base as u64, limit as u64, attr as u64);
    (l & 0xFFFF)
        | (b & 0xFF_FFFF) << 16
        | (a & 0xFF) << 40
        | ((l >> 16) & 0xF) << 48
        | ((a >> 12) & 0xF) << 52
        | (b >> 24) << 56
}

fn gate(sel: u16, off: u32, access: u8) -> u64 {
    (off as u64 & 0xFFFF) | (sel as u64) << 16 | (access as u64) << 40 | ((off as u64) >> 16) << 48
}

/// A selector: mostly one of the GDT's, sometimes anything.
fn selector(r: &mut Rng) -> u16 {
    let rpl = if r.chance(70) { 0 } else { r.below(4) as u16 };
    if r.chance(85) { ((r.below(GDT_ENTRIES as u64) as u16) << 3) | rpl } else { r.next() as u16 }
}

/// The code area is made of SLOT-byte slots, each one instruction group padded with NOPs, so a
/// task's EIP or a gate's offset lands on an instruction (garbage groups stay garbage).
const SLOT: u32 = 64;

fn code_addr(r: &mut Rng) -> u32 {
    CODE + r.below((CODE_SIZE / SLOT) as u64) as u32 * SLOT
}

fn eflags(r: &mut Rng) -> u32 {
    let mut f = (r.next() as u32 & 0x0024_7FD7) | 2;
    if r.chance(15) {
        f |= 1 << 17; // VM
    }
    if !r.chance(5) {
        f &= !(1 << 8); // TF rarely: single-stepping every instruction is not the point here
    }
    f
}

fn random_tss(bus: &mut Bus, r: &mut Rng, base: u32) {
    for i in 0..0x100 {
        bus.ram[(base + i) as usize] = r.next() as u8;
    }
    bus.put32(base + 0x04, STACK_TOP - r.below(0x1000) as u32);
    bus.put16(base + 0x08, if r.chance(70) { 0x10 } else { selector(r) });
    bus.put32(base + 0x1C, 0); // CR3: paging stays off
    bus.put32(base + 0x20, code_addr(r));
    bus.put32(base + 0x24, eflags(r));
    bus.put32(base + 0x38, STACK_TOP - 0x2000 - r.below(0x1000) as u32);
    let good = [0x08u16, 0x10, 0x1B, 0x23];
    for (i, off) in [0x48u32, 0x4C, 0x50, 0x54, 0x58, 0x5C].iter().enumerate() {
        let s = if r.chance(70) {
            if i == 1 { [0x08, 0x1B][r.below(2) as usize] } else { good[r.below(4) as usize] }
        } else {
            selector(r)
        };
        bus.put32(base + off, s as u32);
    }
    bus.put16(base + 0x60, if r.chance(70) { 0 } else { selector(r) });
    bus.put16(base + 0x64, if r.chance(90) { 0 } else { 1 });
    bus.put16(base + 0x66, r.below(0x120) as u16);
    // A 16-bit TSS reads its IP, FLAGS and selectors at other offsets: make some of them sane.
    bus.put16(base + 0x0E, (code_addr(r) & 0xFFFF) as u16);
    bus.put16(base + 0x24, [0x08, 0x1B][r.below(2) as usize]);
}

fn machine(r: &mut Rng) -> (Cpu, Bus) {
    let mut bus = Bus { ram: vec![0; MEM] };
    // Fixed part: null, flat ring-0 code and data, flat ring-3 code and data, a main TSS.
    bus.put64(GDT + 0x08, desc(0, 0xFFFFF, 0xC09A));
    bus.put64(GDT + 0x10, desc(0, 0xFFFFF, 0xC092));
    bus.put64(GDT + 0x18, desc(0, 0xFFFFF, 0xC0FA));
    bus.put64(GDT + 0x20, desc(0, 0xFFFFF, 0xC0F2));
    bus.put64(GDT + 0x28, desc(TSS_AREA, 0x67, 0x0089));
    for i in 0..16 {
        random_tss(&mut bus, r, TSS_AREA + i * 0x100);
    }
    // Random part: entries 6..GDT_ENTRIES.
    for i in 6..GDT_ENTRIES {
        let tss_base = TSS_AREA + r.below(16) as u32 * 0x100;
        let d = match r.below(10) {
            0..=2 => {
                let ty = [0x89u16, 0x8B, 0x81, 0x83, 0xE9, 0x09][r.below(6) as usize];
                let limit = [0x67u32, 0x2B, 0x66, 0x2A, 0xFF, 0x100F][r.below(6) as usize];
                desc(tss_base, limit, ty)
            }
            3 => gate(selector(r), 0, [0x85u8, 0xE5, 0x05][r.below(3) as usize]),
            4 => desc(TSS_AREA + r.below(0x1000) as u32, r.below(0x80) as u32, 0x0082),
            5 => gate(selector(r), code_addr(r), [0x8Cu8, 0xEC, 0x84][r.below(3) as usize]) | r.below(4) << 32,
            6 => desc(0, 0xFFFFF, [0xC09Au16, 0xC0FA, 0xC09E, 0x009A, 0xC092, 0xC0F2, 0x4092][r.below(7) as usize]),
            _ => r.next(),
        };
        bus.put64(GDT + i * 8, d);
    }
    // IDT: random gates.
    // Mostly usable (the #GP and #DF gates nearly always, or most cases would end in a triple
    // fault after a few instructions), with task gates and garbage mixed in.
    for v in 0..256u32 {
        let usable = if v == 8 || v == 13 { 90 } else { 70 };
        let g = if r.chance(usable) {
            gate(0x08, code_addr(r), [0x8Eu8, 0xEE, 0x8F, 0xEF][r.below(4) as usize])
        } else {
            match r.below(4) {
                0 | 1 => gate(selector(r), 0, [0x85u8, 0xE5][r.below(2) as usize]),
                2 => gate(selector(r), code_addr(r), r.next() as u8),
                _ => r.next(),
            }
        };
        bus.put64(IDT + v * 8, g);
    }
    // Code: groups of system instructions with random operands, packed into slots.
    let mut code: Vec<u8> = Vec::with_capacity(CODE_SIZE as usize);
    while code.len() < (CODE_SIZE - SLOT) as usize {
        let sel = selector(r).to_le_bytes();
        let mut g = Vec::new();
        match r.below(16) {
            0 | 1 => {
                g.push(0xEA); // JMP ptr16:32
                g.extend_from_slice(&code_addr(r).to_le_bytes());
                g.extend_from_slice(&sel);
            }
            2 | 3 => {
                g.push(0x9A); // CALL ptr16:32
                g.extend_from_slice(&code_addr(r).to_le_bytes());
                g.extend_from_slice(&sel);
            }
            4 | 5 => {
                // IRETD with a random frame: 3 dwords, or 9 for a return to virtual-8086 mode.
                let n = if r.chance(50) { 9 } else { 5 };
                let mut frame = vec![code_addr(r) & if r.chance(50) { 0xFFFF } else { !0 }];
                frame.push(if r.chance(50) { selector(r) as u32 } else { r.below(0x10000) as u32 });
                frame.push(eflags(r) | if n == 9 && r.chance(60) { 1 << 17 } else { 0 });
                for _ in 3..n {
                    frame.push(if r.chance(60) { r.below(0x10000) as u32 } else { r.next() as u32 });
                }
                for v in frame.iter().rev() {
                    g.push(0x68); // PUSH imm32
                    g.extend_from_slice(&v.to_le_bytes());
                }
                g.push(0xCF);
            }
            6 => g.extend_from_slice(&[0xCD, r.next() as u8]), // INT n
            7 => {
                g.extend_from_slice(&[0x66, 0xB8, sel[0], sel[1]]); // MOV AX, sel
                g.extend_from_slice(&[0x0F, 0x00, if r.chance(50) { 0xD8 } else { 0xD0 }]); // LTR/LLDT AX
            }
            8 => {
                g.push(0x68);
                g.extend_from_slice(&eflags(r).to_le_bytes());
                g.push(0x9D); // POPFD
            }
            9 => g.push([0xFA, 0xFB, 0xF4, 0x9C, 0xCC, 0xCE][r.below(6) as usize]),
            10 => g.extend_from_slice(&[[0xE4u8, 0xE6, 0xE5, 0xE7][r.below(4) as usize], r.next() as u8]),
            11 => g.extend_from_slice(&[0x0F, 0x06]), // CLTS
            12 => g.extend_from_slice(&[0x0F, [0x34u8, 0x35][r.below(2) as usize]]), // SYSENTER/SYSEXIT
            _ => g.push(r.next() as u8),
        }
        // A group never straddles a slot boundary: slots start with an instruction.
        if code.len() % SLOT as usize + g.len() > SLOT as usize {
            code.resize(code.len().next_multiple_of(SLOT as usize), 0x90);
        }
        code.extend_from_slice(&g);
    }
    code.resize(CODE_SIZE as usize, 0x90);
    bus.ram[CODE as usize..(CODE + CODE_SIZE) as usize].copy_from_slice(&code);

    let mut cpu = Cpu::new();
    cpu.gdtr.base = GDT;
    cpu.gdtr.limit = (GDT_ENTRIES * 8 - 1) as u16;
    cpu.idtr.base = IDT;
    cpu.idtr.limit = 0x7FF;
    cpu.cr0 = Cr0::PE | Cr0::ET;
    cpu.flags = Flags::new(0x2);
    for (s, sel) in
        [(Seg::Cs, 0x08u16), (Seg::Ss, 0x10), (Seg::Ds, 0x10), (Seg::Es, 0x10), (Seg::Fs, 0x10), (Seg::Gs, 0x10)]
    {
        let a = GDT + (sel as u32 & !7);
        let lo = u32::from_le_bytes(bus.ram[a as usize..a as usize + 4].try_into().unwrap()) as u64;
        let hi = u32::from_le_bytes(bus.ram[a as usize + 4..a as usize + 8].try_into().unwrap()) as u64;
        cpu.seg[s as usize] = Descriptor(lo | hi << 32).to_cache(sel);
    }
    cpu.tr = Descriptor(desc(TSS_AREA, 0x67, 0x008B)).to_cache(0x28);
    bus.put64(GDT + 0x28, desc(TSS_AREA, 0x67, 0x008B));
    cpu.cpl = 0;
    cpu.sysenter = [0x08, STACK_TOP - 0x3000, CODE];
    cpu.gpr[ESP] = STACK_TOP;
    cpu.eip = CODE + r.below(CODE_SIZE as u64 / 2) as u32;
    cpu.next_eip = cpu.eip;
    cpu.cache.track_memory(MEM as u64);
    (cpu, bus)
}

#[test]
fn random_task_switches_and_v86_entries_never_panic() {
    let mut switched = 0u64;
    let mut entered_v86 = 0u64;
    for seed in 1..=CASES {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let (mut cpu, mut bus) = machine(&mut r);
        let tr0 = cpu.tr.selector;
        let (mut saw_v86, mut saw_switch) = (false, false);
        for _ in 0..STEPS {
            cpu.step(&mut bus);
            saw_switch |= cpu.tr.selector != tr0;
            if cpu.shutdown {
                break; // a triple fault: the state is undefined and nothing runs any more
            }
            assert!(cpu.cpl <= 3, "seed {seed}: CPL {}", cpu.cpl);
            let tr_type = cpu.tr.attr.typ();
            assert!(tr_type == 3 || tr_type == 11, "seed {seed}: TR caches type {tr_type}, not a busy TSS");
            if cpu.mode() == Mode::Protected {
                let rpl = (cpu.seg[Seg::Cs as usize].selector & 3) as u8;
                assert_eq!(
                    rpl,
                    cpu.cpl,
                    "seed {seed}: CS {:#x} at CPL {}",
                    cpu.seg[Seg::Cs as usize].selector,
                    cpu.cpl
                );
            }
            if cpu.mode() == Mode::Virtual8086 {
                saw_v86 = true;
                assert_eq!(cpu.cpl, 3, "seed {seed}: virtual-8086 mode at CPL {}", cpu.cpl);
            }
            if cpu.halted || cpu.shutdown {
                break;
            }
        }
        switched += saw_switch as u64;
        entered_v86 += saw_v86 as u64;
    }
    // The generator must really reach the paths it is meant to stress.
    // (Most cases wander into states where every fault faults again; about 1 in 20 switches
    // tasks and 1 in 10 enters virtual-8086 mode.)
    eprintln!("{switched} of {CASES} cases switched tasks, {entered_v86} entered virtual-8086 mode");
    assert!(switched > CASES / 50, "only {switched} of {CASES} cases switched tasks");
    assert!(entered_v86 > CASES / 50, "only {entered_v86} of {CASES} cases entered virtual-8086 mode");
}
