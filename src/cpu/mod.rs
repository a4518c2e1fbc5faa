//! The interpreter: an IA-32 CPU that executes instructions decoded by iced-x86.
//!
//! The CPU owns its registers, its decoded-instruction cache and its TLB ([`paging`]). Everything
//! outside the chip — RAM, ROM, devices, the interrupt controller — is reached through the
//! [`CpuBus`] trait, which the machine implements for the PC and the tests implement as flat
//! memory. The CPU never names a device.
//!
//! One call of [`Cpu::step`] takes one external interrupt or executes one instruction:
//!
//! ```text
//!   fetch (trace cursor or cache lookup, decode on a miss)
//!     -> execute (exec::execute: one match on the mnemonic, handlers per family)
//!       -> Ok: commit EIP, count the instruction, single-step trap if TF was set
//!       -> Err(Fault): deliver the exception (interrupt.rs), EIP still at the faulting instruction
//! ```
//!
//! Intel SDM Vol. 3A §6.6 (restart rules), Vol. 1 §3 (execution environment).

pub mod access;
pub mod debug;
pub mod decode;
pub mod exec;
pub mod fast;
pub mod fault;
pub mod flags;
pub mod interrupt;
pub mod operand;
pub mod paging;
pub mod regs;
pub mod segment;

use decode::{DecodeCache, Decoded, Trace};
pub use fault::{Fault, Res, Why};
pub use flags::{Eflags, Flags};
use iced_x86::Instruction;
pub use regs::{Cr0, Cr4, Seg, SegAttr, Segment, TableReg};

/// Everything outside the CPU, as the CPU sees it. Addresses are physical (after segmentation,
/// paging and the A20 gate).
pub trait CpuBus {
    fn read8(&mut self, addr: u32) -> u8;
    fn write8(&mut self, addr: u32, value: u8);

    fn read16(&mut self, addr: u32) -> u16 {
        u16::from_le_bytes([self.read8(addr), self.read8(addr.wrapping_add(1))])
    }
    fn read32(&mut self, addr: u32) -> u32 {
        u32::from_le_bytes([
            self.read8(addr),
            self.read8(addr.wrapping_add(1)),
            self.read8(addr.wrapping_add(2)),
            self.read8(addr.wrapping_add(3)),
        ])
    }
    fn write16(&mut self, addr: u32, value: u16) {
        let b = value.to_le_bytes();
        self.write8(addr, b[0]);
        self.write8(addr.wrapping_add(1), b[1]);
    }
    fn write32(&mut self, addr: u32, value: u32) {
        for (i, b) in value.to_le_bytes().into_iter().enumerate() {
            self.write8(addr.wrapping_add(i as u32), b);
        }
    }
    /// Guest RAM the CPU may read and write directly, bypassing `read8`..`write32`: the
    /// physical address is the index. Only pages [`CpuBus::ram_page`] accepts are accessed
    /// this way (and any index out of the slice falls back to the methods above). Default:
    /// none.
    #[inline(always)]
    fn ram(&mut self) -> &mut [u8] {
        &mut []
    }
    /// True when the 4 KiB physical page at `page` (page-aligned) is plain RAM within
    /// [`CpuBus::ram`]: no device, ROM or hole sees its accesses, so the CPU may cache it for
    /// direct access until its TLB is flushed. Default: no page.
    fn ram_page(&self, _page: u32) -> bool {
        false
    }

    /// Copies code bytes for the decoder (`buf.len()` never crosses a 4 KiB page).
    fn fetch(&mut self, addr: u32, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.read8(addr.wrapping_add(i as u32));
        }
    }

    /// Called before every port access with the number of instructions executed so far, so
    /// devices can bring themselves up to the current guest time.
    fn sync(&mut self, _icount: u64) {}

    /// IN from a port; `size` is 1, 2 or 4 bytes.
    fn io_in(&mut self, port: u16, size: u8) -> u32;
    /// OUT to a port; `size` is 1, 2 or 4 bytes.
    fn io_out(&mut self, port: u16, size: u8, value: u32);

    /// True while the INTR line is asserted (an interrupt controller has a request).
    fn intr(&self) -> bool {
        false
    }
    /// Interrupt-acknowledge cycle: returns the vector (SDM Vol. 3A §6.3.1).
    fn inta(&mut self) -> u8 {
        0
    }
    /// A physical range that something other than the CPU (DMA) wrote since the last call, so
    /// decoded code there must be dropped. Called after every port access.
    fn take_invalidation(&mut self) -> Option<(u32, u32)> {
        None
    }
    /// True when the machine wants the run loop to return (exit device, stop request).
    fn stop_requested(&self) -> bool {
        false
    }
}

/// Operating mode, derived from CR0.PE and EFLAGS.VM (SDM Vol. 3A §2.2, Figure 2-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Real,
    Protected,
    Virtual8086,
}

/// Why [`Cpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// The instruction budget is used up.
    Budget,
    /// HLT: the CPU waits for an interrupt.
    Halted,
    /// The bus asked to stop (exit device, debugger).
    Stop,
    /// A fault occurred while delivering a double fault: the CPU shut down (SDM Vol. 3A §6.15,
    /// Interrupt 8). The PC turns a shutdown into a reset.
    TripleFault,
}

/// A fault as it was raised, with where it happened (for the debugger's `explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultRecord {
    pub fault: Fault,
    pub cs: u16,
    pub eip: u32,
    pub cpl: u8,
    pub icount: u64,
}

/// Where the CPU is in the current trace of the decode cache.
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    trace: Trace,
    /// Index of the next instruction within the trace.
    pos: u32,
    /// EIP at which that instruction starts.
    eip: u32,
    /// EIP just past the trace's last byte (wrapping).
    end: u32,
}

impl Cursor {
    /// At the first instruction of `trace`, which starts at `eip`.
    #[inline(always)]
    fn new(trace: Trace, eip: u32) -> Cursor {
        Cursor { trace, pos: 0, eip, end: eip.wrapping_add(trace.bytes) }
    }
}

/// MOV SS and POP SS hold off debug exceptions (the single-step trap and data breakpoints)
/// until the instruction after them has executed, as they hold off interrupts, so that SS and
/// ESP are loaded as a pair (SDM Vol. 3A §6.8.3). Data-breakpoint hits wait in `pending_db`; TF
/// is still set for the next instruction, which traps as usual and reports both.
#[inline]
fn loads_ss(ins: &Instruction) -> bool {
    matches!(ins.mnemonic(), iced_x86::Mnemonic::Mov | iced_x86::Mnemonic::Pop)
        && ins.op0_kind() == iced_x86::OpKind::Register
        && ins.op0_register() == iced_x86::Register::SS
}

/// An IA-32 processor.
pub struct Cpu {
    /// General registers, by encoding number (`regs::EAX` …).
    pub gpr: [u32; 8],
    pub eip: u32,
    /// EIP of the instruction after the one executing; branches overwrite it.
    pub next_eip: u32,
    pub flags: Flags,
    /// Segment registers, indexed by `Seg as usize`.
    pub seg: [Segment; 6],
    pub gdtr: TableReg,
    pub idtr: TableReg,
    pub ldtr: Segment,
    pub tr: Segment,
    pub cr0: Cr0,
    pub cr2: u32,
    pub cr3: u32,
    pub cr4: Cr4,
    pub dr: [u32; 8],
    /// Current privilege level (SDM Vol. 3A §5.5).
    pub cpl: u8,
    /// In HLT, waiting for an interrupt.
    pub halted: bool,
    /// Set by a triple fault; cleared by reset.
    pub shutdown: bool,
    /// Interrupts are inhibited for one instruction after STI, MOV SS and POP SS.
    pub inhibit_irq: bool,
    /// A20 mask applied to every physical address (the A20M# pin; all ones when A20 is on).
    pub a20_mask: u32,
    /// Instructions executed since power-on: those that completed plus those that ended in an
    /// exception. Virtual time and the TSC derive from it.
    pub icount: u64,
    /// The last exception raised, for the debugger.
    pub last_fault: Option<FaultRecord>,
    /// Set when the run loop must return after the current instruction (e.g. an OUT the bus
    /// wants to act on).
    pub break_loop: bool,
    /// For the fast forms inside [`Cpu::run_trace`] (which no fast form can change while it
    /// runs, as none loads a segment register): per segment register, for reads (`[0]`) and
    /// writes (`[1]`), one past the last offset an access may reach on the hit path, or 0 when
    /// the segment does not qualify (see `Cpu::trace_segments`). Set when `run_trace` starts.
    trace_seg_end: [[u64; 6]; 2],
    /// Interrupts (external and INT n) delivered, by vector.
    pub interrupt_counts: Box<[u64; 256]>,
    /// Exceptions raised, by vector.
    pub exception_counts: [u64; 32],
    /// Enabled instruction breakpoints (bit n = DRn), derived from DR7.
    pub exec_bps: u8,
    /// Enabled data breakpoints (bit n = DRn), derived from DR7.
    pub data_bps: u8,
    /// DR6 B0-B3 bits of data breakpoints hit by the current instruction (a #DB trap follows).
    pub pending_db: u32,
    /// Data accesses logged for the debugger's watchpoints while `data_bps` has
    /// [`debug::DEBUGGER_WATCH`] set; empty (and never touched) otherwise.
    pub watch_log: Vec<debug::DataAccess>,
    /// Added to the instruction count to form the time-stamp counter (WRMSR to the TSC).
    pub tsc_offset: u64,
    /// IA32_SYSENTER_CS, _ESP, _EIP.
    pub sysenter: [u32; 3],
    pub cache: DecodeCache,
    cursor: Cursor,
    /// The software TLB (SDM Vol. 3A §4.10; see [`paging`]).
    pub tlb: paging::Tlb,
    /// The PAE PDPTE registers, loaded from CR3 (SDM Vol. 3A §4.4.1).
    pub pdpte: [u64; 4],
}

impl Default for Cpu {
    fn default() -> Self {
        Self::new()
    }
}

impl Cpu {
    /// A CPU in its power-on state.
    pub fn new() -> Cpu {
        let mut cpu = Cpu {
            gpr: [0; 8],
            eip: 0,
            next_eip: 0,
            flags: Flags::default(),
            seg: [Segment::RESET_DATA; 6],
            gdtr: TableReg::default(),
            idtr: TableReg::default(),
            ldtr: Segment::RESET_DATA,
            tr: Segment::RESET_DATA,
            cr0: Cr0::ET,
            cr2: 0,
            cr3: 0,
            cr4: Cr4::empty(),
            dr: [0; 8],
            cpl: 0,
            halted: false,
            shutdown: false,
            inhibit_irq: false,
            a20_mask: u32::MAX,
            icount: 0,
            last_fault: None,
            break_loop: false,
            trace_seg_end: [[0; 6]; 2],
            interrupt_counts: Box::new([0; 256]),
            exception_counts: [0; 32],
            exec_bps: 0,
            data_bps: 0,
            pending_db: 0,
            watch_log: Vec::new(),
            tsc_offset: 0,
            sysenter: [0; 3],
            cache: DecodeCache::new(),
            cursor: Cursor::default(),
            tlb: paging::Tlb::new(),
            pdpte: [0; 4],
        };
        cpu.reset();
        cpu
    }

    /// RESET (SDM Vol. 3A §9.1.1, Table 9-1): real mode, CS:EIP = F000:FFF0 with CS base
    /// FFFF0000, EDX = processor signature. The decode cache is kept but flushed.
    pub fn reset(&mut self) {
        self.gpr = [0; 8];
        self.gpr[regs::EDX] = interrupt::CPU_SIGNATURE;
        self.eip = 0xFFF0;
        self.next_eip = 0xFFF0;
        self.flags = Flags::new(0x2);
        self.seg = [Segment::RESET_DATA; 6];
        self.seg[Seg::Cs as usize] = Segment::RESET_CODE;
        self.gdtr = TableReg { base: 0, limit: 0xFFFF };
        self.idtr = TableReg { base: 0, limit: 0xFFFF };
        self.ldtr = Segment { attr: SegAttr::from_bits_retain(0x82), ..Segment::RESET_DATA };
        self.tr = Segment { attr: SegAttr::from_bits_retain(0x8B), ..Segment::RESET_DATA };
        self.cr0 = Cr0::ET | Cr0::CD | Cr0::NW;
        self.cr2 = 0;
        self.cr3 = 0;
        self.cr4 = Cr4::empty();
        self.dr = [0, 0, 0, 0, 0, 0, 0xFFFF0FF0, 0x400];
        self.update_breakpoints();
        self.pending_db = 0;
        self.cpl = 0;
        self.halted = false;
        self.shutdown = false;
        self.inhibit_irq = false;
        self.break_loop = false;
        self.cache.flush();
        self.tlb.flush_all();
        self.pdpte = [0; 4];
        self.invalidate_cursor();
    }

    /// The operating mode.
    #[inline]
    pub fn mode(&self) -> Mode {
        if !self.cr0.contains(Cr0::PE) {
            Mode::Real
        } else if self.flags.get(Eflags::VM) {
            Mode::Virtual8086
        } else {
            Mode::Protected
        }
    }

    /// True in protected mode proper (not real, not virtual-8086).
    #[inline]
    pub fn protected(&self) -> bool {
        self.mode() == Mode::Protected
    }

    /// A segment register.
    #[inline]
    pub fn sreg(&self, s: Seg) -> &Segment {
        &self.seg[s as usize]
    }

    /// Drops decoded code in a physical range written behind the CPU's back (DMA).
    pub fn note_external_write<B: CpuBus>(&mut self, bus: &mut B) {
        if let Some((lo, hi)) = bus.take_invalidation()
            && self.cache.note_write(lo, hi.wrapping_sub(lo).wrapping_add(1))
        {
            self.invalidate_cursor();
        }
    }

    /// Stops using the current trace (after anything that may change how code is mapped).
    #[inline]
    pub fn invalidate_cursor(&mut self) {
        self.cursor.trace.len = 0;
        // `run_trace` looks at `break_loop` after each instruction (see there).
        self.break_loop = true;
    }

    // ANCHOR: run
    /// Runs until the budget is used, the CPU halts, the bus asks to stop, or a triple fault.
    pub fn run<B: CpuBus>(&mut self, bus: &mut B, budget: u64) -> RunExit {
        let end = self.icount.saturating_add(budget);
        self.break_loop = false;
        while self.icount < end {
            if !self.run_trace(bus, end) {
                self.step_inner(bus, false);
            }
            if self.break_loop {
                self.break_loop = false;
                if self.shutdown {
                    return RunExit::TripleFault;
                }
                if bus.stop_requested() {
                    return RunExit::Stop;
                }
            }
            if self.halted {
                // Only an interrupt can end HLT; the machine advances time until one comes.
                if !(self.flags.get(Eflags::IF) && bus.intr()) {
                    return RunExit::Halted;
                }
            }
        }
        RunExit::Budget
    }
    // ANCHOR_END: run

    // ANCHOR: step
    /// Takes a pending external interrupt, or executes one instruction.
    pub fn step<B: CpuBus>(&mut self, bus: &mut B) {
        self.step_inner(bus, true);
    }

    /// [`Cpu::step`]; `try_fast` false skips the fast path (the caller, [`Cpu::run`], has just
    /// found that [`Cpu::run_trace`] cannot take this instruction; the generic handlers have the
    /// same semantics, so this only saves the repeated checks).
    #[inline(always)]
    fn step_inner<B: CpuBus>(&mut self, bus: &mut B, try_fast: bool) {
        if self.shutdown {
            return;
        }
        if self.inhibit_irq {
            self.inhibit_irq = false;
        } else if self.flags.get(Eflags::IF) && bus.intr() {
            let vector = bus.inta();
            self.halted = false;
            interrupt::external(self, bus, vector);
            return;
        }
        if self.halted {
            return;
        }
        if try_fast && self.step_fast(bus) {
            return;
        }
        let ins = match self.fetch(bus) {
            Ok(ins) => ins,
            Err(f) => {
                self.raise(bus, f);
                return;
            }
        };
        if self.exec_bps != 0 {
            if self.flags.get(Eflags::RF) {
                // RF suppresses instruction breakpoints for this one instruction.
            } else {
                let hits = self.exec_breakpoint_hits(self.seg[Seg::Cs as usize].base.wrapping_add(self.eip));
                if hits != 0 {
                    self.dr[6] = (self.dr[6] & !0xF) | hits;
                    self.invalidate_cursor();
                    self.raise(bus, Fault::new(fault::vector::DB, Why::Debug { dr6: self.dr[6] }));
                    return;
                }
            }
        }
        let mut trap = self.flags.get(Eflags::TF);
        match exec::execute(self, bus, &ins) {
            Ok(()) => {
                if trap && !self.flags.get(Eflags::TF) && is_software_interrupt(&ins) {
                    // INT n, INT3, INTO and INT1 that entered a handler do not single-step: the
                    // handler runs with TF clear, and the trap comes after the instruction that
                    // follows the interrupt once IRET restores TF (SDM Vol. 3A §17.3.1.4;
                    // Bochs and QEMU behave the same).
                    trap = false;
                }
                self.eip = self.next_eip;
                self.icount += 1;
                if self.flags.get(Eflags::RF) {
                    // RF is cleared once an instruction completes (SDM Vol. 3A §17.3.1.1).
                    self.flags.set(Eflags::RF, false);
                }
                if (trap || self.pending_db != 0) && !loads_ss(&ins) {
                    let hits = std::mem::take(&mut self.pending_db);
                    self.dr[6] = (self.dr[6] & !0xF) | hits;
                    interrupt::debug_trap(self, bus, trap);
                }
            }
            Err(f) => {
                self.invalidate_cursor();
                self.raise(bus, f);
            }
        }
    }
    // ANCHOR_END: step

    /// The fast path of [`Cpu::step`]: the next instruction of the current trace, when it has a
    /// pre-resolved form ([`fast`]) and no debug feature (instruction breakpoints, single-step)
    /// is on. Returns false, having changed nothing, when the general path must take it.
    #[inline(always)]
    fn step_fast<B: CpuBus>(&mut self, bus: &mut B) -> bool {
        if !self.cursor_at_eip() || self.exec_bps != 0 || self.flags.get(Eflags::TF) {
            return false;
        }
        let c = self.cursor;
        let idx = c.trace.start + c.pos;
        let len = match self.cache.fast_table().get(idx as usize) {
            Some((f, len)) if *f != fast::Fast::Generic => *len as u32,
            _ => return false,
        };
        // The CS limit check of `accept`, for an instruction that is never invalid.
        let last = self.eip.wrapping_add(len - 1);
        if last > self.seg[Seg::Cs as usize].limit || last < self.eip {
            return false;
        }
        // (`exec_fast` sets `next_eip` to the same EIP.)
        self.cursor.pos += 1;
        self.cursor.eip = self.eip.wrapping_add(len);
        match self.exec_fast::<B, false>(bus, idx, self.eip) {
            Ok(_) => {
                self.eip = self.next_eip;
                self.icount += 1;
                if self.flags.get(Eflags::RF) {
                    // RF is cleared once an instruction completes (SDM Vol. 3A §17.3.1.1).
                    self.flags.set(Eflags::RF, false);
                }
                if self.pending_db != 0 {
                    // A data breakpoint hit (no fast form loads SS, so nothing holds it off).
                    let hits = std::mem::take(&mut self.pending_db);
                    self.dr[6] = (self.dr[6] & !0xF) | hits;
                    interrupt::debug_trap(self, bus, false);
                }
            }
            Err(f) => {
                self.invalidate_cursor();
                self.raise(bus, f);
            }
        }
        true
    }

    // ANCHOR: run_trace
    /// Runs the pre-resolved instructions of the current trace in a tight loop, as repeated
    /// [`Cpu::step`]s would, until the trace ends, an instruction without a fast form comes, the
    /// budget (`end`) is used up or something needs the general path. Returns false, having
    /// changed nothing, when [`Cpu::step`] must take the next instruction.
    ///
    /// What `step` checks before every instruction but no fast form can change is checked once
    /// here: shutdown, HLT, the interrupt shadow, RF, TF, instruction and data breakpoints (so
    /// none of the debug features costs anything in this loop when it is off), IF, and the
    /// trace's page generation. A write that hits cached code (this instruction's or a later
    /// one's) empties the cursor through [`Cpu::invalidate_cursor`], which ends the loop before
    /// the stale instruction runs, so the generation need not be compared again per instruction.
    /// A fast form cannot raise INTR itself (no port I/O), but the bus is still asked before every
    /// instruction while IF is set, exactly as `step` does, so interrupt latency is unchanged.
    /// Bochs's trace loop (`cpu/cpu.cc`, `BX_CPU_C::cpu_loop` running `bxInstruction_c` entries
    /// of an `bxICacheEntry_c` back to back) is the model.
    #[inline(always)]
    fn run_trace<B: CpuBus>(&mut self, bus: &mut B, end: u64) -> bool {
        if self.shutdown
            || self.halted
            || self.inhibit_irq
            || self.exec_bps != 0
            || self.data_bps != 0
            || self.pending_db != 0
            || self.flags.get(Eflags::TF)
            || self.flags.get(Eflags::RF)
            || self.alignment_checking()
        {
            // (No data breakpoint and no alignment checking: the fast forms' memory accesses
            // skip those two tests, `exec_fast::<_, true>`.)
            return false;
        }
        let irq_open = self.flags.get(Eflags::IF);
        let limit = self.seg[Seg::Cs as usize].limit;
        let mut ran = false;
        // EIP and the instruction count live in locals while the loop runs (no fast form reads
        // them); they are written back whenever the loop leaves a trace or something else
        // looks at them (a fault's delivery).
        let mut icount = self.icount;
        // The segment checks for the fast forms' memory accesses, made once, but only when a
        // trace is about to run (a call that ends at once, e.g. on an instruction without a fast
        // form, costs nothing more).
        let mut segments_ready = false;
        'traces: loop {
            // An interrupt `step` is about to take comes first.
            if icount >= end || (irq_open && bus.intr()) {
                break;
            }
            if !self.cursor_at_eip() && !self.enter_trace(bus) {
                break;
            }
            let c = self.cursor;
            // The CS limit check of `accept`, once for every instruction left in the trace:
            // its last byte is within the limit (and EIP does not wrap before it).
            let last = c.end.wrapping_sub(1);
            if last > limit || last < c.eip {
                break;
            }
            if !segments_ready {
                self.trace_segments();
                segments_ready = true;
            }
            let mut pos = c.pos;
            let mut eip = c.eip;
            // Where this stretch stops: the trace's end or the budget's, whichever comes first.
            let stop = pos + (end - icount).min((c.trace.len - pos) as u64) as u32;
            loop {
                match self.exec_fast::<B, true>(bus, c.trace.start + pos, eip) {
                    Ok(true) => {}
                    Ok(false) => {
                        // No fast form: `step` takes it, from this position of the trace.
                        self.eip = eip;
                        self.cursor.pos = pos;
                        self.cursor.eip = eip;
                        break 'traces;
                    }
                    Err(e) => {
                        self.eip = eip;
                        self.icount = icount;
                        self.invalidate_cursor();
                        self.raise(bus, e);
                        icount = self.icount;
                        ran = true;
                        break 'traces;
                    }
                }
                pos += 1;
                icount += 1;
                ran = true;
                // Only a trace's last instruction can transfer control (`DecodeCache::fill`
                // ends a trace there), so before it `next_eip` is the next instruction's EIP.
                eip = self.next_eip;
                // `break_loop` also says that a write hit cached code (`invalidate_cursor`):
                // the cursor must not be brought back then.
                if self.break_loop {
                    self.eip = eip;
                    if self.cursor.trace.len != 0 {
                        self.cursor.pos = pos;
                        self.cursor.eip = eip;
                    }
                    break 'traces;
                }
                if pos >= stop {
                    self.eip = eip;
                    if pos < c.trace.len {
                        // The budget ended inside the trace.
                        self.cursor.pos = pos;
                        self.cursor.eip = eip;
                        break 'traces;
                    }
                    // On to the trace at the new EIP (the cursor still describes a valid earlier
                    // position of this one, if the code comes back to it).
                    continue 'traces;
                }
                if irq_open && bus.intr() {
                    self.eip = eip;
                    self.cursor.pos = pos;
                    self.cursor.eip = eip;
                    break 'traces;
                }
            }
        }
        self.icount = icount;
        ran
    }

    /// Fills `trace_seg_end`: the segment checks of the memory hit path made once for the whole
    /// of a `run_trace` (an expand-up data segment, present; writable for writes; the access
    /// within the limit: SDM Vol. 3A §5.3, §5.4), leaving one compare per access.
    #[inline]
    fn trace_segments(&mut self) {
        for (i, s) in self.seg.iter().enumerate() {
            let a = s.attr.bits();
            let data = a & (SegAttr::P | SegAttr::CODE | SegAttr::DC).bits() == SegAttr::P.bits();
            let end = s.limit as u64 + 1;
            self.trace_seg_end[0][i] = if data { end } else { 0 };
            self.trace_seg_end[1][i] = if data && a & SegAttr::RW.bits() != 0 { end } else { 0 };
        }
    }

    /// True when the cursor points at the instruction at CS:EIP in a trace that is still valid.
    #[inline(always)]
    fn cursor_at_eip(&self) -> bool {
        let c = &self.cursor;
        c.pos < c.trace.len && c.eip == self.eip && self.cache.page_gen(c.trace.page) == c.trace.generation
    }

    /// Points the cursor at the already decoded trace at CS:EIP, as `fetch_slow` would. Anything
    /// else (a limit or page fault, a cache miss) is left to `step`, which repeats the same
    /// (idempotent) translation: returns false, having changed nothing.
    #[inline(always)]
    fn enter_trace<B: CpuBus>(&mut self, bus: &mut B) -> bool {
        let cs = self.seg[Seg::Cs as usize];
        if self.eip > cs.limit {
            return false;
        }
        let Ok(phys) = self.translate(bus, cs.base.wrapping_add(self.eip), access::Access::Exec) else {
            return false;
        };
        let Some(t) = self.cache.lookup(phys, cs.big()) else {
            return false;
        };
        self.cursor = Cursor::new(t, self.eip);
        true
    }
    // ANCHOR_END: run_trace

    /// Records and delivers a fault raised by the current instruction. The instruction counts
    /// as executed (`icount`), so a guest stuck in a loop of faults still uses up its budget.
    pub fn raise<B: CpuBus>(&mut self, bus: &mut B, f: Fault) {
        self.icount += 1;
        self.exception_counts[(f.vector & 31) as usize] += 1;
        self.last_fault = Some(FaultRecord {
            fault: f,
            cs: self.seg[Seg::Cs as usize].selector,
            eip: self.eip,
            cpl: self.cpl,
            icount: self.icount,
        });
        log::debug!(
            "{} at {:04x}:{:08x} (instruction {})",
            f,
            self.seg[Seg::Cs as usize].selector,
            self.eip,
            self.icount
        );
        interrupt::exception(self, bus, f);
    }

    /// Fetches (from the trace cursor, the cache, or the decoder) the instruction at CS:EIP,
    /// checks it against the CS limit and sets `next_eip`.
    #[inline]
    fn fetch<B: CpuBus>(&mut self, bus: &mut B) -> Res<Instruction> {
        let c = self.cursor;
        if c.pos < c.trace.len && c.eip == self.eip && self.cache.page_gen(c.trace.page) == c.trace.generation {
            let ins = *self.cache.instr(c.trace.start + c.pos);
            return self.accept(ins, true);
        }
        self.fetch_slow(bus)
    }

    /// Checks the CS limit for a fetched instruction and sets `next_eip`; advances the cursor.
    #[inline]
    fn accept(&mut self, ins: Instruction, from_trace: bool) -> Res<Instruction> {
        let len = ins.len() as u32;
        let limit = self.seg[Seg::Cs as usize].limit;
        let last = self.eip.wrapping_add(len - 1);
        if last > limit || last < self.eip {
            self.invalidate_cursor();
            return Err(Fault::gp0(Why::SegmentLimit { seg: Seg::Cs as u8, offset: self.eip, size: len as u8, limit }));
        }
        self.next_eip = self.eip.wrapping_add(len);
        if from_trace {
            self.cursor.pos += 1;
            self.cursor.eip = self.next_eip;
        }
        if ins.is_invalid() {
            return Err(Fault::ud());
        }
        Ok(ins)
    }

    #[cold]
    fn fetch_slow<B: CpuBus>(&mut self, bus: &mut B) -> Res<Instruction> {
        let cs = self.seg[Seg::Cs as usize];
        let big = cs.big();
        let lin = cs.base.wrapping_add(self.eip);
        if self.eip > cs.limit {
            return Err(Fault::gp0(Why::SegmentLimit {
                seg: Seg::Cs as u8,
                offset: self.eip,
                size: 1,
                limit: cs.limit,
            }));
        }
        let phys = self.translate(bus, lin, access::Access::Exec)?;
        if let Some(t) = self.cache.lookup(phys, big) {
            self.cursor = Cursor::new(t, self.eip);
            return self.fetch(bus);
        }
        let room = 0x1000 - (phys & 0xFFF) as usize;
        let mut buf = [0u8; 0x1000];
        bus.fetch(phys, &mut buf[..room]);
        if let Some(t) = self.cache.fill(phys, big, &buf[..room]) {
            // Writes to this page must reach the decode cache now.
            self.tlb.code_page(phys >> 12);
            self.cursor = Cursor::new(t, self.eip);
            return self.fetch(bus);
        }
        // The instruction crosses into the next page: fetch the rest through its own
        // translation and decode it uncached.
        self.invalidate_cursor();
        let mut bytes = [0u8; 15];
        let first = room.min(15);
        bytes[..first].copy_from_slice(&buf[..first]);
        let next_phys = self.translate(bus, lin.wrapping_add(room as u32), access::Access::Exec)?;
        bus.fetch(next_phys, &mut bytes[first..]);
        match decode::decode_one(&bytes, if big { 32 } else { 16 }, phys as u64) {
            Decoded::Ok(ins) => self.accept(ins, false),
            Decoded::TooLong => Err(Fault::gp0(Why::TooLong)),
            Decoded::NeedMore => Err(Fault::gp0(Why::TooLong)),
        }
    }
}

/// INT n, INT3, INTO, INT1.
fn is_software_interrupt(ins: &Instruction) -> bool {
    use iced_x86::Mnemonic as M;
    matches!(ins.mnemonic(), M::Int | M::Int3 | M::Into | M::Int1)
}
