//! Random instruction streams at CPL 3 with paging on: whatever a user program executes, the
//! emulator must never panic or hang, and the program must never reach ring 0 except through
//! the IDT's gates (SDM Vol. 3A §5.8, §6.12).
//!
//! The machine: a flat GDT (ring-0 and ring-3 code and data), a TSS with a ring-0 stack, an IDT
//! whose 256 gates all lead to a ring-0 handler at a known address (`HANDLER`), and identity-
//! mapped paging of the first 4 MiB with a mix of user, supervisor and read-only pages. Each case
//! fills the user code page with random bytes and runs a bounded number of steps. Whenever the
//! CPU is at CPL 0, it must be at the handler (entered through a gate), nowhere else.

use x86lab::cpu::regs::{ESP, Seg};
use x86lab::cpu::segment::Descriptor;
use x86lab::cpu::{Cpu, CpuBus, Cr0, Flags};

const MEM: usize = 4 << 20;
const GDT: u32 = 0x1000;
const IDT: u32 = 0x2000;
const TSS: u32 = 0x3000;
const PD: u32 = 0x4000;
const PT: u32 = 0x5000;
/// Ring-0 handler: HLT forever (a halted CPU ends the case).
const HANDLER: u32 = 0x6000;
const USER_CODE: u32 = 0x10000;
const USER_STACK_TOP: u32 = 0x20000;
const KERNEL_STACK_TOP: u32 = 0x9000;

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
    fn put32(&mut self, a: u32, v: u32) {
        self.ram[a as usize..a as usize + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put64(&mut self, a: u32, v: u64) {
        self.ram[a as usize..a as usize + 8].copy_from_slice(&v.to_le_bytes());
    }
}

/// A flat 4 GiB segment descriptor with the given access byte.
fn flat(access: u8) -> u64 {
    0x00CF_0000_0000_FFFF | (access as u64) << 40
}

fn machine() -> (Cpu, Bus) {
    let mut bus = Bus { ram: vec![0; MEM] };
    // GDT: null, ring-0 code (0x08), ring-0 data (0x10), ring-3 code (0x18), ring-3 data (0x20),
    // TSS (0x28).
    bus.put64(GDT + 0x08, flat(0x9A));
    bus.put64(GDT + 0x10, flat(0x92));
    bus.put64(GDT + 0x18, flat(0xFA));
    bus.put64(GDT + 0x20, flat(0xF2));
    let tss = 0x0000_8900_0000_0067u64 | ((TSS as u64 & 0xFF_FFFF) << 16);
    bus.put64(GDT + 0x28, tss);
    bus.put32(TSS + 4, KERNEL_STACK_TOP);
    bus.put32(TSS + 8, 0x10);
    bus.put32(TSS + 0x64, 0x0068_0000); // I/O map base beyond the limit: no bitmap
    // IDT: every vector is a DPL-3 interrupt gate to the handler (so INT n works from ring 3).
    for v in 0..256u32 {
        let gate = (HANDLER as u64 & 0xFFFF) | (0x08u64 << 16) | (0xEEu64 << 40) | ((HANDLER as u64 >> 16) << 48);
        bus.put64(IDT + v * 8, gate);
    }
    bus.ram[HANDLER as usize] = 0xF4; // hlt
    bus.ram[HANDLER as usize + 1] = 0xEB; // jmp $-1 (never reached: HLT halts)
    bus.ram[HANDLER as usize + 2] = 0xFD;
    // Paging: identity map 4 MiB. Pages 0-0xF supervisor (kernel), 0x10-0x1F user,
    // 0x20-0x2F user read-only, 0x30-0x3F not present, the rest user.
    bus.put32(PD, PT | 0x7);
    for p in 0..1024u32 {
        let flags = match p {
            0..=0xF => 0x3,
            0x10..=0x1F => 0x7,
            0x20..=0x2F => 0x5,
            0x30..=0x3F => 0x0,
            _ => 0x7,
        };
        bus.put32(PT + p * 4, (p << 12) | flags);
    }
    let mut cpu = Cpu::new();
    cpu.cache.track_memory(MEM as u64);
    cpu.gdtr = x86lab::cpu::TableReg { base: GDT, limit: 0x2F };
    cpu.idtr = x86lab::cpu::TableReg { base: IDT, limit: 0x7FF };
    cpu.tr = Descriptor(tss | 2 << 40).to_cache(0x28);
    cpu.cr3 = PD;
    cpu.cr0 = Cr0::PE | Cr0::PG | Cr0::ET | Cr0::WP;
    (cpu, bus)
}

fn enter_user(cpu: &mut Cpu, seed: u32) {
    cpu.seg[Seg::Cs as usize] = Descriptor(flat(0xFB)).to_cache(0x1B);
    for s in [Seg::Ss, Seg::Ds, Seg::Es, Seg::Fs, Seg::Gs] {
        cpu.seg[s as usize] = Descriptor(flat(0xF3)).to_cache(0x23);
    }
    cpu.cpl = 3;
    cpu.eip = USER_CODE;
    cpu.gpr = [
        seed,
        seed.rotate_left(7),
        0x20_0000,
        USER_CODE,
        USER_STACK_TOP - 0x100,
        USER_STACK_TOP - 0x80,
        0x18_0000,
        0x1C_0000,
    ];
    cpu.gpr[ESP] = USER_STACK_TOP - 0x100;
    cpu.flags = Flags::new(0x202);
    cpu.halted = false;
    cpu.shutdown = false;
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_user_code_never_panics_or_reaches_ring0_outside_gates() {
    let (mut cpu, mut bus) = machine();
    let pristine = bus.ram.clone();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let cases = 3000;
    let mut faults = 0u64;
    for case in 0..cases {
        // Restore kernel structures (a random store may have hit user-writable pages only, but
        // start each case from a known state anyway).
        bus.ram.copy_from_slice(&pristine);
        cpu.cache.flush();
        for i in 0..64 {
            bus.ram[USER_CODE as usize + i] = rng.next() as u8;
        }
        enter_user(&mut cpu, rng.next() as u32);
        let bytes: Vec<u8> = bus.ram[USER_CODE as usize..USER_CODE as usize + 64].to_vec();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for _ in 0..300 {
                cpu.step(&mut bus);
                if cpu.cpl == 0 {
                    let cs = &cpu.seg[Seg::Cs as usize];
                    let at = cs.base.wrapping_add(cpu.eip);
                    assert!(
                        at == HANDLER || at == HANDLER + 1 || cpu.shutdown,
                        "case {case}: CPL 0 at {at:#x} outside the IDT handler; code {bytes:02x?}"
                    );
                }
                if cpu.halted || cpu.shutdown {
                    break;
                }
            }
        }));
        if let Err(e) = result {
            let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
            panic!("case {case} panicked: {msg}\ncode bytes: {bytes:02x?}");
        }
        if cpu.last_fault.is_some() {
            faults += 1;
        }
        cpu.last_fault = None;
    }
    // Sanity: random user code faults most of the time; if nothing ever faulted the harness
    // would not be testing what it claims.
    assert!(faults > cases / 4, "only {faults} of {cases} cases raised an exception");
}
