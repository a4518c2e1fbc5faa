//! Decoding with iced-x86 and the decoded-instruction cache.
//!
//! Decoding an x86 instruction is the most expensive part of interpreting it, so x86lab decodes
//! each stretch of code once and keeps the result. The cache holds *traces*: runs of up to
//! [`MAX_TRACE`] instructions that start at a physical address and end at the first control
//! transfer or at the end of the 4 KiB page (Bochs calls the same idea its trace cache).
//!
//! - Traces are keyed by physical address and code size (16/32-bit), so the same code reached
//!   through different segment:offset pairs or virtual addresses is decoded once. iced-x86 is told
//!   the physical address as the instruction pointer; handlers turn branch targets back into
//!   offsets with `target - next_ip` (see `Cpu::branch_rel`).
//! - One `Decoder` is created per trace fill (never per instruction).
//! - Self-modifying code: every physical page records which 128-byte chunks hold cached code. A
//!   write into such a chunk bumps the page's generation, which makes every trace of that page
//!   stale (checked when a trace is entered and before each of its instructions). Writes to data
//!   that merely shares the page with code cost nothing.
//! - An instruction that crosses a page boundary is never cached: it is decoded each time from
//!   bytes fetched through both pages.

use super::fast::Fast;
use iced_x86::{Decoder, DecoderError, DecoderOptions, FlowControl, Instruction};

/// Longest trace, in instructions.
pub const MAX_TRACE: usize = 32;
/// Number of direct-mapped trace slots.
const SLOTS: usize = 1 << 13;
/// Pool of decoded instructions; when it fills, the whole cache is flushed.
const POOL: usize = SLOTS * 8;
const CHUNK_SHIFT: u32 = 7;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// Physical address of the first instruction, with bit 0 of `mode` folded into `key`.
    key: u64,
    generation: u32,
    start: u32,
    len: u16,
    /// Length of the trace in bytes.
    bytes: u16,
}

#[derive(Clone, Copy, Default)]
struct Page {
    /// Bit n set: the 128-byte chunk n holds cached code.
    code_chunks: u32,
    /// Bumped on every write that hits cached code.
    generation: u32,
}

/// A run of decoded instructions in the pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub start: u32,
    pub len: u32,
    pub page: u32,
    pub generation: u32,
    /// Length of the trace in bytes, from its first instruction.
    pub bytes: u32,
}

/// The decoded-instruction cache.
pub struct DecodeCache {
    slots: Vec<Slot>,
    pool: Vec<Instruction>,
    /// The pre-resolved form of each instruction in `pool` and its length, at the same index
    /// (see `fast.rs`), so the fast path never touches the larger iced-x86 `Instruction`.
    fast: Vec<(Fast, u8)>,
    pages: Vec<Page>,
    /// Statistics: trace fills and lookups that hit.
    pub fills: u64,
    pub hits: u64,
}

impl Default for DecodeCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Result of decoding at one address without the cache.
pub enum Decoded {
    Ok(Instruction),
    /// The bytes given end before the instruction does.
    NeedMore,
    /// Longer than 15 bytes: #GP(0) (SDM Vol. 2A §2.3.11).
    TooLong,
}

/// Decodes one instruction from `bytes` (used for page-crossing instructions and the debugger).
pub fn decode_one(bytes: &[u8], bitness: u32, ip: u64) -> Decoded {
    let mut d = Decoder::with_ip(bitness, bytes, ip, DecoderOptions::NONE);
    let ins = d.decode();
    match d.last_error() {
        DecoderError::None => Decoded::Ok(ins),
        DecoderError::NoMoreBytes => {
            if bytes.len() >= 15 {
                Decoded::TooLong
            } else {
                Decoded::NeedMore
            }
        }
        DecoderError::InvalidInstruction => {
            if ins.len() >= 15 || bytes.len() >= 15 && ins.len() == 0 {
                // iced reports an over-long instruction as invalid with the bytes consumed.
                Decoded::TooLong
            } else {
                Decoded::Ok(ins)
            }
        }
        _ => Decoded::Ok(ins),
    }
}

impl DecodeCache {
    pub fn new() -> DecodeCache {
        DecodeCache {
            slots: vec![Slot::default(); SLOTS],
            pool: Vec::with_capacity(POOL),
            fast: Vec::with_capacity(POOL),
            pages: Vec::new(),
            fills: 0,
            hits: 0,
        }
    }

    /// Sets the physical address range whose writes are tracked (RAM). Code outside it (ROM)
    /// cannot be written and needs no tracking.
    pub fn track_memory(&mut self, bytes: u64) {
        let pages = bytes.div_ceil(4096) as usize;
        self.pages = vec![Page::default(); pages];
        self.flush();
    }

    /// Forgets every trace.
    pub fn flush(&mut self) {
        self.pool.clear();
        self.fast.clear();
        for s in &mut self.slots {
            s.key = 0;
        }
        for p in &mut self.pages {
            if p.code_chunks != 0 {
                p.code_chunks = 0;
                p.generation = p.generation.wrapping_add(1);
            }
        }
    }

    #[inline]
    fn key(phys: u32, big: bool) -> u64 {
        // Bit 32 marks a used slot, bit 33 the code size.
        (phys as u64) | (1 << 32) | ((big as u64) << 33)
    }

    #[inline]
    fn slot_index(phys: u32) -> usize {
        ((phys ^ (phys >> 13)) as usize) & (SLOTS - 1)
    }

    /// The current generation of a physical page (0 for untracked memory).
    #[inline]
    pub fn page_gen(&self, page: u32) -> u32 {
        self.pages.get(page as usize).map_or(0, |p| p.generation)
    }

    /// Finds a trace that starts at `phys` for the given code size.
    #[inline]
    pub fn lookup(&mut self, phys: u32, big: bool) -> Option<Trace> {
        let slot = self.slots[Self::slot_index(phys)];
        let page = phys >> 12;
        let generation = self.page_gen(page);
        if slot.key == Self::key(phys, big) && slot.generation == generation {
            self.hits += 1;
            Some(Trace { start: slot.start, len: slot.len as u32, page, generation, bytes: slot.bytes as u32 })
        } else {
            None
        }
    }

    /// The decoded instruction at a pool index.
    #[inline]
    pub fn instr(&self, idx: u32) -> &Instruction {
        &self.pool[idx as usize]
    }

    /// The pre-resolved forms of the pool's instructions and their lengths in bytes, at the
    /// same indices.
    #[inline(always)]
    pub fn fast_table(&self) -> &[(Fast, u8)] {
        &self.fast
    }

    /// Decodes a new trace from `bytes`, the code from `phys` to the end of its page. Returns
    /// `None` when not even the first instruction fits in the page.
    pub fn fill(&mut self, phys: u32, big: bool, bytes: &[u8]) -> Option<Trace> {
        if self.pool.len() + MAX_TRACE > POOL {
            self.flush();
        }
        self.fills += 1;
        let start = self.pool.len() as u32;
        let mut d = Decoder::with_ip(if big { 32 } else { 16 }, bytes, phys as u64, DecoderOptions::NONE);
        let mut ins = Instruction::default();
        let mut end_off = 0usize;
        while self.pool.len() - (start as usize) < MAX_TRACE && d.can_decode() {
            d.decode_out(&mut ins);
            if d.last_error() == DecoderError::NoMoreBytes {
                break; // crosses the page end: decoded uncached by the caller
            }
            end_off = d.position();
            self.pool.push(ins);
            self.fast.push((Fast::of(&ins), ins.len() as u8));
            if ins.flow_control() != FlowControl::Next || ins.is_invalid() {
                break;
            }
        }
        let len = self.pool.len() as u32 - start;
        if len == 0 {
            return None;
        }
        let page = phys >> 12;
        if let Some(p) = self.pages.get_mut(page as usize) {
            let first = (phys & 0xFFF) >> CHUNK_SHIFT;
            let last = ((phys & 0xFFF) + end_off as u32 - 1) >> CHUNK_SHIFT;
            for c in first..=last.min(31) {
                p.code_chunks |= 1 << c;
            }
        }
        let generation = self.page_gen(page);
        let bytes = end_off as u32;
        self.slots[Self::slot_index(phys)] =
            Slot { key: Self::key(phys, big), generation, start, len: len as u16, bytes: bytes as u16 };
        Some(Trace { start, len, page, generation, bytes })
    }

    /// True when physical page `page` (number) holds cached code.
    #[inline]
    pub fn has_code(&self, page: u32) -> bool {
        self.pages.get(page as usize).is_some_and(|p| p.code_chunks != 0)
    }

    /// Tells the cache that `len` bytes at `phys` were written. Returns true if cached code was
    /// hit (so the CPU must stop using its current trace).
    #[inline]
    pub fn note_write(&mut self, phys: u32, len: u32) -> bool {
        let mut hit = false;
        let mut a = phys;
        let end = phys.wrapping_add(len.max(1) - 1);
        loop {
            if let Some(p) = self.pages.get_mut((a >> 12) as usize) {
                let first = (a & 0xFFF) >> CHUNK_SHIFT;
                let last = if end >> 12 == a >> 12 { (end & 0xFFF) >> CHUNK_SHIFT } else { 31 };
                let mask = (u32::MAX >> (31 - last)) & (u32::MAX << first);
                if p.code_chunks & mask != 0 {
                    p.code_chunks = 0;
                    p.generation = p.generation.wrapping_add(1);
                    hit = true;
                }
            }
            if end >> 12 == a >> 12 {
                break;
            }
            a = (a & !0xFFF).wrapping_add(0x1000);
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ends_at_branch_and_is_invalidated_by_writes() {
        let mut c = DecodeCache::new();
        c.track_memory(1 << 20);
        // inc ax; inc bx; jmp $; nop
        let code = [0x40, 0x43, 0xEB, 0xFE, 0x90];
        let t = c.fill(0x1000, false, &code).expect("decodes");
        assert_eq!(t.len, 3);
        assert!(c.lookup(0x1000, false).is_some());
        assert!(c.lookup(0x1000, true).is_none(), "code size is part of the key");
        assert!(!c.note_write(0x1F00, 2), "data in another chunk of the page");
        assert!(c.lookup(0x1000, false).is_some());
        assert!(c.note_write(0x1001, 1));
        assert!(c.lookup(0x1000, false).is_none());
    }

    #[test]
    fn page_crossing_instruction_is_not_cached() {
        let mut c = DecodeCache::new();
        c.track_memory(1 << 20);
        assert!(c.fill(0x1FFE, false, &[0xB8, 0x34]).is_none());
    }
}
