//! Memory as the debugger sees it: linear addresses translated by a page walk that changes
//! nothing (no accessed/dirty flags, no TLB fill, no CR2; [`Cpu::walk_explain`]), physical
//! addresses read straight from RAM and ROM. Device memory (MMIO) is not read, so looking never
//! disturbs a device. Writes go to RAM and tell the decoded-instruction cache.
//!
//! Also the views of the page tables: `info pages` (every mapped range with its rights, merged)
//! and `info tlb`.

use super::{Debugger, Space};
use crate::cpu::access::Access;
use crate::cpu::paging::{Level, PagingMode, Perm, WalkReport, pte};
use crate::cpu::{Cpu, CpuBus};
use crate::machine::Machine;
use crate::machine::memory::Memory;

/// A read-only view of physical memory with the [`CpuBus`] shape `walk_explain` wants. Writes
/// and port accesses do nothing.
pub struct MemView<'a>(pub &'a Memory);

impl CpuBus for MemView<'_> {
    fn read8(&mut self, addr: u32) -> u8 {
        self.0.read8(addr)
    }
    fn write8(&mut self, _addr: u32, _value: u8) {}
    fn io_in(&mut self, _port: u16, _size: u8) -> u32 {
        u32::MAX
    }
    fn io_out(&mut self, _port: u16, _size: u8, _value: u32) {}
}

/// A side-effect-free walk for `access` by `user` or supervisor.
pub fn walk(m: &Machine, lin: u32, access: Access, user: bool) -> WalkReport {
    m.cpu.walk_explain(&mut MemView(&m.bus.mem), lin, access, user)
}

/// The physical address of `lin` for a supervisor read (after the A20 mask), or the walk that
/// failed.
pub fn lin_to_phys(m: &Machine, lin: u32) -> Result<u32, Box<WalkReport>> {
    let cpu = &m.cpu;
    if cpu.paging_mode() == PagingMode::Off {
        return Ok(lin & cpu.a20_mask);
    }
    if let Some(t) = cpu.tlb.probe(lin) {
        return Ok((t.phys_page | (lin & 0xFFF)) & cpu.a20_mask);
    }
    let r = walk(m, lin, Access::Read, false);
    match r.result {
        Ok(map) => Ok(map.phys & cpu.a20_mask),
        Err(_) => Err(Box::new(r)),
    }
}

/// Why a linear address cannot be read, in one line.
pub fn unmapped_reason(r: &WalkReport) -> String {
    match &r.result {
        Err(p) => format!("not mapped: {}", p.rule),
        Ok(_) => "mapped".to_string(),
    }
}

impl Debugger {
    /// Reads `len` bytes at `addr`; `Err` names the first unmapped linear address.
    pub fn read_mem(&self, space: Space, addr: u32, len: u32) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(len as usize);
        let mut i = 0u32;
        while i < len {
            let a = addr.wrapping_add(i);
            let chunk = (0x1000 - (a & 0xFFF)).min(len - i);
            let p = match space {
                Space::Phys => a,
                Space::Linear => {
                    self.lin_to_phys(a).map_err(|r| format!("linear {a:#010x}: {}", unmapped_reason(&r)))?
                }
            };
            for k in 0..chunk {
                out.push(self.m.bus.mem.read8(p.wrapping_add(k)));
            }
            i += chunk;
        }
        Ok(out)
    }

    /// Writes bytes at `addr` (RAM only; ROM and holes ignore writes, as for the guest). Linear
    /// addresses are translated as supervisor reads, so the debugger can patch read-only pages.
    pub fn write_mem(&mut self, space: Space, addr: u32, data: &[u8]) -> Result<(), String> {
        // The past no longer leads here: going back starts again from now.
        self.timeline_restart();
        // Translate everything first, so a fault leaves memory unchanged.
        let mut phys = Vec::with_capacity(data.len());
        for i in 0..data.len() as u32 {
            let a = addr.wrapping_add(i);
            phys.push(match space {
                Space::Phys => a,
                Space::Linear => {
                    self.lin_to_phys(a).map_err(|r| format!("linear {a:#010x}: {}", unmapped_reason(&r)))?
                }
            });
        }
        for (p, b) in phys.into_iter().zip(data) {
            self.m.bus.mem.write8(p, *b);
            if self.m.cpu.cache.note_write(p, 1) {
                self.m.cpu.invalidate_cursor();
            }
        }
        self.m.cpu.invalidate_cursor();
        Ok(())
    }

    /// `x`/`xp`: a dump in units of `unit` bytes (1, 2, 4, 8).
    pub fn examine(&self, space: Space, addr: u32, count: u32, unit: u32) -> Result<String, String> {
        let total = count.checked_mul(unit).filter(|n| *n <= 1 << 20).ok_or("at most 1 MiB at a time")?;
        let mut out = String::new();
        let per_line = if unit == 1 { 16 } else { 16 / unit.min(16) };
        let mut i = 0u32;
        while i < total {
            let a = addr.wrapping_add(i);
            let n = (per_line * unit).min(total - i);
            let bytes = match self.read_mem(space, a, n) {
                Ok(b) => b,
                Err(e) => {
                    out.push_str(&e);
                    out.push('\n');
                    break;
                }
            };
            let sym = if space == Space::Linear { self.sym_at(a).map(|s| format!(" {s}")) } else { None };
            out.push_str(&format!(
                "{}{a:#010x}{}:",
                if space == Space::Phys { "phys:" } else { "" },
                sym.unwrap_or_default()
            ));
            for c in bytes.chunks(unit as usize) {
                let mut v = 0u64;
                for (k, b) in c.iter().enumerate() {
                    v |= (*b as u64) << (8 * k);
                }
                match unit {
                    1 => out.push_str(&format!(" {v:02x}")),
                    2 => out.push_str(&format!(" {v:04x}")),
                    4 => out.push_str(&format!(" {v:08x}")),
                    _ => out.push_str(&format!(" {v:016x}")),
                }
            }
            if unit == 1 {
                let pad = (16 - bytes.len()) * 3;
                out.push_str(&" ".repeat(pad));
                out.push_str("  |");
                for b in &bytes {
                    out.push(if b.is_ascii_graphic() || *b == b' ' { *b as char } else { '.' });
                }
                out.push('|');
            }
            out.push('\n');
            i += n;
        }
        Ok(out)
    }

    /// `search`: every physical address in RAM and ROM (below 4 GiB) where `needle` occurs.
    pub fn search(&self, needle: &[u8], limit: usize) -> Vec<u32> {
        let mut hits = Vec::new();
        if needle.is_empty() {
            return hits;
        }
        let ram = &self.m.bus.mem.ram;
        let hole = crate::machine::memory::HOLE_START as usize..crate::machine::memory::ONE_MIB as usize;
        for (i, w) in ram.windows(needle.len()).enumerate() {
            if w == needle && !hole.contains(&i) {
                hits.push(i as u32);
                if hits.len() >= limit {
                    return hits;
                }
            }
        }
        // The ROM as it appears below 1 MiB and at the top of 4 GiB.
        for base in [0xE_0000u32, 0xFFF0_0000u32] {
            let end = if base == 0xE_0000 { 0x10_0000u64 } else { 0x1_0000_0000u64 };
            let bytes: Vec<u8> = (base as u64..end).map(|a| self.m.bus.mem.read8(a as u32)).collect();
            for (i, w) in bytes.windows(needle.len()).enumerate() {
                let a = base + i as u32;
                let is_ram = (a as usize) < ram.len() && !hole.contains(&(a as usize));
                if w == needle && !is_ram && !hits.contains(&a) {
                    hits.push(a);
                    if hits.len() >= limit {
                        return hits;
                    }
                }
            }
        }
        hits
    }
}

/// Names of the rights a translation allows.
pub fn perm_text(p: u8) -> String {
    let user = if p & Perm::USER_WRITE != 0 {
        "user rw"
    } else if p & Perm::USER_READ != 0 {
        "user r"
    } else {
        "user -"
    };
    let sup = if p & Perm::SUP_WRITE != 0 { "sup rw" } else { "sup r" };
    format!("{sup}, {user}")
}

/// One mapped range for `info pages`.
struct Range {
    lin: u32,
    phys: u32,
    len: u64,
    rw: bool,
    us: bool,
    global: bool,
}

fn read64(mem: &Memory, a: u32) -> u64 {
    let lo = u32::from_le_bytes(std::array::from_fn(|i| mem.read8(a.wrapping_add(i as u32)))) as u64;
    let hi = u32::from_le_bytes(std::array::from_fn(|i| mem.read8(a.wrapping_add(4 + i as u32)))) as u64;
    lo | hi << 32
}

/// `info pages`: every mapped linear range with its rights, contiguous runs merged.
pub fn pages(m: &Machine) -> String {
    let cpu: &Cpu = &m.cpu;
    let mem = &m.bus.mem;
    let a20 = cpu.a20_mask;
    let pge = cpu.cr4.contains(crate::cpu::Cr4::PGE);
    let pse = cpu.cr4.contains(crate::cpu::Cr4::PSE);
    let mut ranges: Vec<Range> = Vec::new();
    let mut add = |lin: u32, phys: u32, len: u64, rw: bool, us: bool, global: bool| {
        if let Some(r) = ranges.last_mut()
            && r.lin as u64 + r.len == lin as u64
            && r.phys as u64 + r.len == phys as u64
            && r.rw == rw
            && r.us == us
            && r.global == global
        {
            r.len += len;
            return;
        }
        ranges.push(Range { lin, phys, len, rw, us, global });
    };
    match cpu.paging_mode() {
        PagingMode::Off => return "paging is off (CR0.PG=0): linear addresses are physical addresses\n".to_string(),
        PagingMode::Bits32 => {
            let pd = cpu.cr3 & 0xFFFF_F000;
            for i in 0..1024u32 {
                let pde = read64(mem, pd.wrapping_add(i * 4) & a20) & 0xFFFF_FFFF;
                if pde & pte::P == 0 {
                    continue;
                }
                if pse && pde & pte::PS != 0 {
                    add(
                        i << 22,
                        (pde as u32) & 0xFFC0_0000,
                        0x40_0000,
                        pde & pte::RW != 0,
                        pde & pte::US != 0,
                        pge && pde & pte::G != 0,
                    );
                    continue;
                }
                let pt = (pde as u32) & 0xFFFF_F000;
                for j in 0..1024u32 {
                    let e = read64(mem, pt.wrapping_add(j * 4) & a20) & 0xFFFF_FFFF;
                    if e & pte::P == 0 {
                        continue;
                    }
                    add(
                        (i << 22) | (j << 12),
                        (e as u32) & 0xFFFF_F000,
                        0x1000,
                        pde & e & pte::RW != 0,
                        pde & e & pte::US != 0,
                        pge && e & pte::G != 0,
                    );
                }
            }
        }
        PagingMode::Pae => {
            for (k, pdpte) in cpu.pdpte.iter().enumerate() {
                if pdpte & pte::P == 0 {
                    continue;
                }
                let pd = (*pdpte as u32) & 0xFFFF_F000;
                for i in 0..512u32 {
                    let pde = read64(mem, pd.wrapping_add(i * 8) & a20);
                    if pde & pte::P == 0 {
                        continue;
                    }
                    let base = ((k as u32) << 30) | (i << 21);
                    if pde & pte::PS != 0 {
                        add(
                            base,
                            (pde as u32) & 0xFFE0_0000,
                            0x20_0000,
                            pde & pte::RW != 0,
                            pde & pte::US != 0,
                            pge && pde & pte::G != 0,
                        );
                        continue;
                    }
                    let pt = (pde as u32) & 0xFFFF_F000;
                    for j in 0..512u32 {
                        let e = read64(mem, pt.wrapping_add(j * 8) & a20);
                        if e & pte::P == 0 {
                            continue;
                        }
                        add(
                            base | (j << 12),
                            (e as u32) & 0xFFFF_F000,
                            0x1000,
                            pde & e & pte::RW != 0,
                            pde & e & pte::US != 0,
                            pge && e & pte::G != 0,
                        );
                    }
                }
            }
        }
    }
    let mode = if cpu.paging_mode() == PagingMode::Pae { "PAE" } else { "32-bit" };
    let mut out = format!("{mode} paging, CR3={:#010x}; {} mapped range(s):\n", cpu.cr3, ranges.len());
    out.push_str("  linear                     physical     size       rights\n");
    for r in &ranges {
        let end = (r.lin as u64 + r.len - 1) as u32;
        let size = if r.len >= 1 << 20 { format!("{} MiB", r.len >> 20) } else { format!("{} KiB", r.len >> 10) };
        out.push_str(&format!(
            "  {:#010x}-{end:#010x}  {:#010x}   {size:<9}  {}{}{}\n",
            r.lin,
            r.phys,
            if r.rw { "rw" } else { "r-" },
            if r.us { " user" } else { " supervisor" },
            if r.global { " global" } else { "" },
        ));
    }
    out
}

/// `info tlb`: the cached translations.
pub fn tlb(m: &Machine) -> String {
    let mut e = m.cpu.tlb.entries();
    if m.cpu.paging_mode() == PagingMode::Off {
        return format!("paging is off (CR0.PG=0); the TLB holds {} entries\n", e.len());
    }
    e.sort_by_key(|v| v.linear_page);
    let mut out = format!("{} cached translation(s) (4 KiB pieces; walks so far: {}):\n", e.len(), m.cpu.tlb.walks);
    for v in e {
        out.push_str(&format!(
            "  {:#010x} -> {:#010x}  {}{}{}{}\n",
            v.linear_page,
            v.phys_page,
            perm_text(v.perms),
            if v.global { ", global" } else { "" },
            if v.large { ", from a large page" } else { "" },
            if v.dirty { ", dirty" } else { ", clean (writes walk again to set D)" },
        ));
    }
    out
}

/// `translate`: the walk level by level, and the verdict in words.
pub fn translate(m: &Machine, lin: u32, user: bool, access: Access) -> String {
    let r = walk(m, lin, access, user);
    let mut out = String::new();
    if r.mode == PagingMode::Off {
        let p = lin & m.cpu.a20_mask;
        out.push_str(&format!(
            "paging is off (CR0.PG=0): linear {lin:#010x} is physical {p:#010x}{}\n",
            if p != lin { " (A20 masked)" } else { "" }
        ));
        return out;
    }
    out.push_str(&format!("{r}\n"));
    for l in r.levels() {
        out.push_str(&format!("  {}\n", entry_words(l.level, l.entry)));
    }
    match r.result {
        Ok(map) => out.push_str(&format!("the access succeeds: physical {:#010x}\n", map.phys & m.cpu.a20_mask)),
        Err(p) => {
            let who = if user { "user-mode (CPL 3)" } else { "supervisor-mode" };
            let what = match access {
                Access::Read => "read",
                Access::Write => "write",
                Access::Exec => "instruction fetch",
            };
            out.push_str(&format!(
                "the access faults: #PF with error code {:#x} ({}); CR2 would be {lin:#010x}. A {who} {what}: {}. Intel SDM Vol. 3A {}\n",
                p.error,
                explain_pf_bits(p.error),
                p.rule,
                if p.level.is_some() && p.error & 1 == 0 { "4.7" } else { "4.6" }
            ));
        }
    }
    out
}

/// A paging-structure entry in words.
pub fn entry_words(level: Level, e: u64) -> String {
    let name = level.name();
    if e & pte::P == 0 {
        return format!("{name}: P=0, not present (the other bits are ignored)");
    }
    let mut s = format!(
        "{name}: P=1, R/W={} ({}), U/S={} ({})",
        (e >> 1) & 1,
        if e & pte::RW != 0 { "writable" } else { "read-only" },
        (e >> 2) & 1,
        if e & pte::US != 0 { "user" } else { "supervisor only" },
    );
    if level != Level::Pdpte {
        s.push_str(&format!(", A={}", (e >> 5) & 1));
    }
    if level == Level::Pte || e & pte::PS != 0 {
        s.push_str(&format!(", D={}", (e >> 6) & 1));
    }
    if level == Level::Pde && e & pte::PS != 0 {
        s.push_str(", PS=1 (maps a large page)");
    }
    s.push_str(&format!(", frame {:#010x}", (e as u32) & 0xFFFF_F000));
    if level == Level::Pdpte {
        // PDPTEs have only P, PWT, PCD: R/W and U/S do not exist there.
        s = format!("{name}: P=1, page directory at {:#010x}", (e as u32) & 0xFFFF_F000);
    }
    s
}

/// The page-fault error code bits in words.
pub fn explain_pf_bits(e: u32) -> String {
    let mut v = Vec::new();
    v.push(if e & 1 != 0 { "P=1: a protection violation" } else { "P=0: a not-present page" });
    v.push(if e & 2 != 0 { "W/R=1: a write" } else { "W/R=0: a read" });
    v.push(if e & 4 != 0 { "U/S=1: a user-mode access" } else { "U/S=0: a supervisor-mode access" });
    if e & 8 != 0 {
        v.push("RSVD=1: a reserved bit was set");
    }
    if e & 16 != 0 {
        v.push("I/D=1: an instruction fetch");
    }
    v.join(", ")
}

/// Short P|W|U form of a page-fault error code.
pub fn pf_short(e: u32) -> String {
    let mut v = Vec::new();
    for (b, n) in [(1, "P"), (2, "W"), (4, "U"), (8, "RSVD"), (16, "I/D")] {
        if e & b != 0 {
            v.push(n);
        }
    }
    if v.is_empty() { "no bits set (not present, read, supervisor)".to_string() } else { v.join("|") }
}
