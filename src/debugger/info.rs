//! Views of the machine's state: registers (`regs`, `sregs`, `cregs`, `eflags`), the system
//! tables (`info gdt|ldt|idt|tss|ivt`) decoded as the SDM describes them, and the devices
//! (`info pic|pit|rtc|serial|exits`).
//!
//! Intel SDM Vol. 3A §3.4.5 (segment descriptors), Table 3-1 (code and data types), Table 3-2
//! (system types), §6.11 (IDT gates), §7.2.1 (TSS), §2.5 (control registers).

use super::{Debugger, ModeState, Space};
use crate::cpu::regs::{GPR_NAMES, Seg, SegAttr, Segment};
use crate::cpu::segment::{Descriptor, systype};
use crate::cpu::{Cr0, Cr4, Eflags, Mode};

/// A selector in words: `0x002b (index 5, GDT, RPL 3)`.
pub fn selector_words(sel: u16) -> String {
    format!("{sel:#06x} (index {}, {}, RPL {})", sel >> 3, if sel & 4 != 0 { "LDT" } else { "GDT" }, sel & 3)
}

/// The type of a code or data segment in words (SDM Vol. 3A Table 3-1).
fn segment_type(a: SegAttr) -> String {
    let t = a.typ();
    let acc = if t & 1 != 0 { ", accessed" } else { "" };
    if a.contains(SegAttr::CODE) {
        format!(
            "code {}, {}{}{acc}",
            if a.contains(SegAttr::DB) { "32-bit" } else { "16-bit" },
            if t & 2 != 0 { "execute/read" } else { "execute-only" },
            if t & 4 != 0 { ", conforming" } else { "" },
        )
    } else {
        format!(
            "data, {}{}{}{acc}",
            if t & 2 != 0 { "read/write" } else { "read-only" },
            if t & 4 != 0 { ", expand-down" } else { "" },
            if a.contains(SegAttr::DB) { ", B=1 (32-bit stack)" } else { "" },
        )
    }
}

/// A descriptor decoded on one line (without its index).
pub fn descriptor_words(d: Descriptor) -> String {
    let a = d.attr();
    let p = if d.present() { "P=1" } else { "P=0 (not present)" };
    if d.is_segment() {
        return format!(
            "{}  base={:#010x} limit={:#010x} G={} DPL={} {p}",
            segment_type(a),
            d.base(),
            d.limit(),
            if a.contains(SegAttr::G) { "4K" } else { "1" },
            d.dpl()
        );
    }
    let t = d.sys_type();
    let name = systype::name(t);
    match t {
        systype::CALL_GATE16 | systype::CALL_GATE32 => format!(
            "{name} -> {:04x}:{:08x}, {} parameter(s), DPL={} {p}",
            d.gate_selector(),
            d.gate_offset(),
            d.param_count(),
            d.dpl()
        ),
        systype::INT_GATE16 | systype::INT_GATE32 | systype::TRAP_GATE16 | systype::TRAP_GATE32 => {
            format!("{name} -> {:04x}:{:08x}, DPL={} {p}", d.gate_selector(), d.gate_offset(), d.dpl())
        }
        systype::TASK_GATE => format!("{name} -> TSS selector {:#06x}, DPL={} {p}", d.gate_selector(), d.dpl()),
        _ => format!(
            "{name}  base={:#010x} limit={:#010x} G={} DPL={} {p}",
            d.base(),
            d.limit(),
            if a.contains(SegAttr::G) { "4K" } else { "1" },
            d.dpl()
        ),
    }
}

/// A segment register's hidden cache in words.
fn cache_words(s: &Segment, mode: Mode) -> String {
    let a = s.attr;
    if mode == Mode::Protected && !a.contains(SegAttr::P) {
        return "unusable (null selector or not loaded)".to_string();
    }
    let kind = if a.contains(SegAttr::S) { segment_type(a) } else { systype::name(a.typ()).to_string() };
    format!(
        "base={:#010x} limit={:#010x}  {kind}, DPL={}, {}, D/B={}, G={}",
        s.base,
        s.limit,
        a.dpl(),
        if a.contains(SegAttr::P) { "present" } else { "not present" },
        if a.contains(SegAttr::DB) { "32" } else { "16" },
        if a.contains(SegAttr::G) { "4K" } else { "1" },
    )
}

impl Debugger {
    /// `regs`: general registers, EIP, EFLAGS, selectors; `*` marks what changed since the
    /// previous stop.
    pub fn regs(&self) -> String {
        let c = &self.m.cpu;
        let p = &self.prev;
        let mark = |changed: bool| if changed { "*" } else { " " };
        let mut out = String::new();
        for row in [[0usize, 3, 1, 2], [6, 7, 5, 4]] {
            for i in row {
                out.push_str(&format!("{}={:08x}{} ", GPR_NAMES[i], c.gpr[i], mark(c.gpr[i] != p.gpr[i])));
            }
            out.push('\n');
        }
        let fl = c.flags.eflags();
        out.push_str(&format!(
            "eip={:08x}{} eflags={:08x}{} [{}]  CPL {}, {}\n",
            c.eip,
            mark(c.eip != p.eip),
            fl,
            mark(fl != p.eflags),
            flag_names(fl),
            c.cpl,
            ModeState::of(c)
        ));
        for s in Seg::ALL {
            let i = s as usize;
            out.push_str(&format!("{}={:04x}{} ", s.name(), c.seg[i].selector, mark(c.seg[i].selector != p.sel[i])));
        }
        out.push('\n');
        if let Some(sym) = self.sym_at(self.pc_linear()) {
            out.push_str(&format!("at {sym}\n"));
        }
        out
    }

    /// `sregs`: segment registers with their hidden descriptor caches, and the table registers.
    pub fn sregs(&self) -> String {
        let c = &self.m.cpu;
        let mode = c.mode();
        let mut out = String::new();
        for s in Seg::ALL {
            let r = &c.seg[s as usize];
            let sel = if mode == Mode::Protected { selector_words(r.selector) } else { format!("{:#06x}", r.selector) };
            out.push_str(&format!("{}: {sel}\n    {}\n", s.name(), cache_words(r, mode)));
        }
        out.push_str(&format!("gdtr: base={:#010x} limit={:#06x}\n", c.gdtr.base, c.gdtr.limit));
        out.push_str(&format!("idtr: base={:#010x} limit={:#06x}\n", c.idtr.base, c.idtr.limit));
        for (name, r) in [("ldtr", &c.ldtr), ("tr", &c.tr)] {
            out.push_str(&format!(
                "{name}: {:#06x} base={:#010x} limit={:#010x} {}{}\n",
                r.selector,
                r.base,
                r.limit,
                systype::name(r.attr.typ()),
                if r.attr.contains(SegAttr::P) { "" } else { " (not loaded)" }
            ));
        }
        out
    }

    /// `cregs`: CR0, CR2, CR3, CR4 with their bits named, and the debug registers.
    pub fn cregs(&self) -> String {
        let c = &self.m.cpu;
        let cr0_bits: [(Cr0, &str); 11] = [
            (Cr0::PE, "PE protection enable"),
            (Cr0::MP, "MP monitor coprocessor"),
            (Cr0::EM, "EM x87 emulation"),
            (Cr0::TS, "TS task switched"),
            (Cr0::ET, "ET extension type"),
            (Cr0::NE, "NE numeric error"),
            (Cr0::WP, "WP write protect"),
            (Cr0::AM, "AM alignment mask"),
            (Cr0::NW, "NW not write-through"),
            (Cr0::CD, "CD cache disable"),
            (Cr0::PG, "PG paging"),
        ];
        let cr4_bits: [(Cr4, &str); 11] = [
            (Cr4::VME, "VME v86 mode extensions"),
            (Cr4::PVI, "PVI protected-mode virtual interrupts"),
            (Cr4::TSD, "TSD time stamp disable"),
            (Cr4::DE, "DE debugging extensions"),
            (Cr4::PSE, "PSE page size extensions"),
            (Cr4::PAE, "PAE physical address extension"),
            (Cr4::MCE, "MCE machine-check enable"),
            (Cr4::PGE, "PGE page global enable"),
            (Cr4::PCE, "PCE performance counters"),
            (Cr4::OSFXSR, "OSFXSR FXSAVE/FXRSTOR"),
            (Cr4::OSXMMEXCPT, "OSXMMEXCPT SIMD exceptions"),
        ];
        let short = |v: Vec<&str>| if v.is_empty() { "-".to_string() } else { v.join(" ") };
        let mut out = String::new();
        let set0: Vec<&str> = cr0_bits
            .iter()
            .filter(|(b, _)| c.cr0.contains(*b))
            .map(|(_, n)| n.split(' ').next().unwrap_or(""))
            .collect();
        out.push_str(&format!("cr0={:08x} [{}]\n", c.cr0.bits(), short(set0)));
        for (b, n) in cr0_bits.iter().filter(|(b, _)| c.cr0.contains(*b)) {
            let _ = b;
            out.push_str(&format!("    {n}\n"));
        }
        out.push_str(&format!("cr2={:08x} (the last page-fault linear address)\n", c.cr2));
        out.push_str(&format!(
            "cr3={:08x} (page directory{} at {:#010x}, PWT={} PCD={})\n",
            c.cr3,
            if c.cr4.contains(Cr4::PAE) { " pointer table" } else { "" },
            if c.cr4.contains(Cr4::PAE) { c.cr3 & 0xFFFF_FFE0 } else { c.cr3 & 0xFFFF_F000 },
            (c.cr3 >> 3) & 1,
            (c.cr3 >> 4) & 1
        ));
        let set4: Vec<&str> = cr4_bits
            .iter()
            .filter(|(b, _)| c.cr4.contains(*b))
            .map(|(_, n)| n.split(' ').next().unwrap_or(""))
            .collect();
        out.push_str(&format!("cr4={:08x} [{}]\n", c.cr4.bits(), short(set4)));
        for (_, n) in cr4_bits.iter().filter(|(b, _)| c.cr4.contains(*b)) {
            out.push_str(&format!("    {n}\n"));
        }
        out.push_str(&format!(
            "dr0={:08x} dr1={:08x} dr2={:08x} dr3={:08x} dr6={:08x} dr7={:08x}\n",
            c.dr[0], c.dr[1], c.dr[2], c.dr[3], c.dr[6], c.dr[7]
        ));
        out.push_str(&format!("mode: {}, CPL {}\n", ModeState::of(c), c.cpl));
        out
    }

    /// `eflags`: every flag decoded.
    pub fn eflags_text(&self) -> String {
        let v = self.m.cpu.flags.eflags();
        let mut out = format!("eflags={v:08x} [{}] IOPL={}\n", flag_names(v), (v >> 12) & 3);
        for (bit, name, what) in FLAGS {
            out.push_str(&format!("  {name:<4} {} {what}\n", (v & bit != 0) as u8));
        }
        out
    }

    /// Reads descriptor `i` of a table at linear `base`.
    fn table_entry(&self, base: u32, i: u32) -> Result<Descriptor, String> {
        let b = self.read_mem(Space::Linear, base.wrapping_add(i * 8), 8)?;
        Ok(Descriptor(u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))))
    }

    fn list_table(&self, what: &str, base: u32, limit: u32, is_idt: bool) -> String {
        let count = ((limit as u64 + 1) / 8).min(8192) as u32;
        let mut out = format!("{what} at linear {base:#010x}, limit {limit:#x} ({count} entries)\n");
        let mut empty = 0;
        for i in 0..count {
            let d = match self.table_entry(base, i) {
                Ok(d) => d,
                Err(e) => {
                    out.push_str(&format!("  [{i}] {e}\n"));
                    break;
                }
            };
            if d.0 == 0 {
                empty += 1;
                continue;
            }
            if is_idt {
                let name = crate::cpu::fault::vector_name(i as u8);
                let name = if i < 32 && name.len() <= 4 { format!(" {name}") } else { String::new() };
                let target = match d.sys_type() {
                    systype::TASK_GATE => None,
                    _ if d.is_segment() => None,
                    _ => self.sym_at(self.gate_target_linear(d)).map(|s| format!(" {s}")),
                };
                out.push_str(&format!("  {i:#04x}{name:<5} {}{}\n", descriptor_words(d), target.unwrap_or_default()));
            } else {
                out.push_str(&format!("  [{i}] sel {:#06x}: {}\n", i * 8, descriptor_words(d)));
            }
        }
        if empty > 0 {
            out.push_str(&format!("  ({empty} empty entr{} not shown)\n", if empty == 1 { "y" } else { "ies" }));
        }
        out
    }

    /// The linear address a gate points to (through its target code segment's base).
    fn gate_target_linear(&self, d: Descriptor) -> u32 {
        let base = self.descriptor(d.gate_selector()).map(|c| c.base()).unwrap_or(0);
        base.wrapping_add(d.gate_offset())
    }

    pub fn info_gdt(&self) -> String {
        let c = &self.m.cpu;
        // At reset GDTR is base 0, limit 0xFFFF (Intel SDM Vol. 3A 9.1.1, Table 9-1): decoding
        // it would show the interrupt vector table and BIOS data as 8192 nonsense descriptors.
        if c.mode() == Mode::Real && c.gdtr.base == 0 && c.gdtr.limit == 0xffff {
            return "real mode: GDTR holds its reset value (base 0x00000000, limit 0xffff) and no LGDT has \
                    loaded a table yet; real-mode segments do not use one\n"
                .to_string();
        }
        self.list_table("GDT", c.gdtr.base, c.gdtr.limit as u32, false)
    }

    pub fn info_ldt(&self) -> String {
        let l = &self.m.cpu.ldtr;
        if !l.attr.contains(SegAttr::P) || l.selector & !3 == 0 {
            return format!("no LDT loaded (LDTR = {:#06x})\n", l.selector);
        }
        self.list_table(&format!("LDT (selector {})", selector_words(l.selector)), l.base, l.limit, false)
    }

    pub fn info_idt(&self) -> String {
        let c = &self.m.cpu;
        let mut out = String::new();
        if c.mode() == Mode::Real {
            return format!(
                "real mode: IDTR (base {:#010x}, limit {:#x}) describes the interrupt vector table; see `info ivt`\n",
                c.idtr.base, c.idtr.limit
            );
        }
        out.push_str(&self.list_table("IDT", c.idtr.base, c.idtr.limit as u32, true));
        out
    }

    /// `info ivt [first [count]]`: the real-mode vector table, seg:off per vector.
    pub fn info_ivt(&self, first: u32, count: u32) -> String {
        let c = &self.m.cpu;
        let base = if c.mode() == Mode::Real { c.idtr.base } else { 0 };
        let mut out = format!(
            "IVT at linear {base:#010x}{}\n",
            if c.mode() == Mode::Real { "" } else { " (not in use outside real mode)" }
        );
        for v in first..(first + count).min(256) {
            match self.read_mem(Space::Linear, base.wrapping_add(v * 4), 4) {
                Ok(b) => {
                    let off = u16::from_le_bytes([b[0], b[1]]);
                    let seg = u16::from_le_bytes([b[2], b[3]]);
                    let lin = ((seg as u32) << 4) + off as u32;
                    let sym = self.sym_at(lin).map(|s| format!(" {s}")).unwrap_or_default();
                    out.push_str(&format!("  {v:#04x}: {seg:04x}:{off:04x} ({lin:#07x}){sym}\n"));
                }
                Err(e) => {
                    out.push_str(&format!("  {v:#04x}: {e}\n"));
                    break;
                }
            }
        }
        out
    }

    /// `info tss`: the current task's TSS, decoded as 32- or 16-bit (SDM Vol. 3A §7.2.1, §7.6).
    pub fn info_tss(&self) -> String {
        let tr = &self.m.cpu.tr;
        if tr.selector & !3 == 0 {
            return format!("no task register loaded (TR = {:#06x})\n", tr.selector);
        }
        let t = tr.attr.typ();
        let is32 = matches!(t, systype::TSS32_AVAIL | systype::TSS32_BUSY);
        let len = if is32 { 0x68 } else { 0x2C };
        let b = match self.read_mem(Space::Linear, tr.base, len) {
            Ok(b) => b,
            Err(e) => return format!("TSS at {:#010x}: {e}\n", tr.base),
        };
        let d = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let w = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let mut out = format!(
            "TR {} -> {} at linear {:#010x}, limit {:#x}\n",
            selector_words(tr.selector),
            systype::name(t),
            tr.base,
            tr.limit
        );
        if is32 {
            out.push_str(&format!("  link={:#06x}\n", w(0)));
            out.push_str(&format!(
                "  esp0={:08x} ss0={:04x}  esp1={:08x} ss1={:04x}  esp2={:08x} ss2={:04x}\n",
                d(4),
                w(8),
                d(12),
                w(16),
                d(20),
                w(24)
            ));
            out.push_str(&format!("  cr3={:08x} eip={:08x} eflags={:08x}\n", d(28), d(32), d(36)));
            out.push_str(&format!(
                "  eax={:08x} ecx={:08x} edx={:08x} ebx={:08x} esp={:08x} ebp={:08x} esi={:08x} edi={:08x}\n",
                d(40),
                d(44),
                d(48),
                d(52),
                d(56),
                d(60),
                d(64),
                d(68)
            ));
            out.push_str(&format!(
                "  es={:04x} cs={:04x} ss={:04x} ds={:04x} fs={:04x} gs={:04x} ldt={:04x}\n",
                w(72),
                w(76),
                w(80),
                w(84),
                w(88),
                w(92),
                w(96)
            ));
            let iomap = w(102) as u32;
            out.push_str(&format!(
                "  T={} (debug trap on task switch), I/O map base={:#06x}{}\n",
                w(100) & 1,
                iomap,
                if iomap > tr.limit {
                    " (beyond the TSS limit: no I/O permission bitmap, every port is denied at CPL > IOPL)"
                } else {
                    ""
                }
            ));
        } else {
            out.push_str(&format!("  link={:#06x}\n", w(0)));
            out.push_str(&format!(
                "  sp0={:04x} ss0={:04x} sp1={:04x} ss1={:04x} sp2={:04x} ss2={:04x}\n",
                w(2),
                w(4),
                w(6),
                w(8),
                w(10),
                w(12)
            ));
            out.push_str(&format!(
                "  ip={:04x} flags={:04x} ax={:04x} cx={:04x} dx={:04x} bx={:04x} sp={:04x} bp={:04x} si={:04x} di={:04x}\n",
                w(14),
                w(16),
                w(18),
                w(20),
                w(22),
                w(24),
                w(26),
                w(28),
                w(30),
                w(32)
            ));
            out.push_str(&format!(
                "  es={:04x} cs={:04x} ss={:04x} ds={:04x} ldt={:04x}\n",
                w(34),
                w(36),
                w(38),
                w(40),
                w(42)
            ));
        }
        out
    }

    // ---- devices ----------------------------------------------------------------------------

    pub fn info_pic(&self) -> String {
        let p = &self.m.bus.pic;
        let mut out = String::new();
        for (name, c, base_irq) in [("master", &p.master, 0), ("slave", &p.slave, 8)] {
            out.push_str(&format!(
                "{name}: vectors {:#04x}-{:#04x} (IRQ{}-{}), init {:?}\n  IRR={:08b} ISR={:08b} IMR={:08b} ELCR={:08b} pins={:08b}\n  {}{}{}{}\n",
                c.vector_base,
                c.vector_base.wrapping_add(7),
                base_irq,
                base_irq + 7,
                c.init_step,
                c.irr,
                c.isr,
                c.imr,
                c.elcr,
                c.ir_pins,
                if c.ltim { "level-triggered" } else { "edge-triggered" },
                if c.aeoi { ", auto-EOI" } else { "" },
                if c.special_mask { ", special mask" } else { "" },
                if c.sfnm { ", special fully nested" } else { "" },
            ));
            let pending: Vec<String> = (0..8)
                .filter(|i| c.irr & (1 << i) != 0 && c.imr & (1 << i) == 0)
                .map(|i| format!("IRQ{}", base_irq + i))
                .collect();
            let serving: Vec<String> =
                (0..8).filter(|i| c.isr & (1 << i) != 0).map(|i| format!("IRQ{}", base_irq + i)).collect();
            out.push_str(&format!(
                "  requesting (unmasked): {}; in service: {}\n",
                if pending.is_empty() { "none".into() } else { pending.join(" ") },
                if serving.is_empty() { "none".into() } else { serving.join(" ") }
            ));
        }
        out.push_str(&format!("INTR to the CPU: {}\n", if p.intr() { "asserted" } else { "low" }));
        out
    }

    pub fn info_pit(&self) -> String {
        let pit = &self.m.bus.pit;
        let now = self.m.now();
        let k = now.pit_clocks();
        let mut out = String::new();
        for (i, c) in pit.counters.iter().enumerate() {
            let wire = ["IRQ0 (system timer)", "DRAM refresh", "PC speaker"][i];
            let divisor = if c.cr == 0 { 65536u32 } else { c.cr as u32 };
            out.push_str(&format!(
                "counter {i} ({wire}): mode {} {}, reload {:#06x} ({} Hz), count now {:#06x}, OUT={}, gate={}{}\n",
                c.mode(),
                [
                    "interrupt on terminal count",
                    "one-shot",
                    "rate generator",
                    "square wave",
                    "software strobe",
                    "hardware strobe"
                ]
                .get(c.mode() as usize)
                .copied()
                .unwrap_or("?"),
                c.cr,
                1_193_182 / divisor,
                c.count_at(k),
                c.out_at(k) as u8,
                c.gate as u8,
                if c.bcd { ", BCD" } else { "" },
            ));
        }
        out.push_str(&format!("port 0x61 bits: {:#04x}\n", pit.port61));
        out
    }

    pub fn info_rtc(&self) -> String {
        let mut rtc = self.m.bus.rtc.clone();
        let now = self.m.now();
        let t = rtc.date_time(now);
        let r = |i: u8| rtc.nvram(i);
        format!(
            "RTC: {:04}-{:02}-{:02} {:02}:{:02}:{:02} (weekday {})\n  register A={:#04x} B={:#04x} C={:#04x} D={:#04x}, index {:#04x}, NMI {}\n  IRQ8 line: {}\n",
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            t.weekday,
            r(0x0A),
            r(0x0B),
            r(0x0C),
            r(0x0D),
            rtc.index,
            if rtc.nmi_masked { "masked" } else { "enabled" },
            if rtc.irq_level() { "high" } else { "low" },
        )
    }

    pub fn info_serial(&self) -> String {
        let mut out = String::new();
        for (name, u) in [("COM1", &self.m.bus.com1), ("COM2", &self.m.bus.com2)] {
            let div = u.divisor();
            let baud = 115_200u32.checked_div(div).unwrap_or(0);
            out.push_str(&format!(
                "{name} at {:#05x}: {baud} baud (divisor {div}), {} data bits, LCR={:#04x} IER={:#04x} MCR={:#04x} LSR={:#04x} MSR={:#04x}\n  rx FIFO {} byte(s), tx FIFO {} byte(s), interrupt {}\n",
                u.base,
                u.word_length(),
                u.lcr.bits(),
                u.ier.bits(),
                u.mcr.bits(),
                u.lsr().bits(),
                u.msr().bits(),
                u.rx_fifo.len(),
                u.tx_fifo.len(),
                if u.irq_level() { "pending" } else { "none" },
            ));
        }
        out
    }

    /// `info vga [regs]`: a summary, or every register (the device's own Debug dump).
    pub fn info_vga(&self, full: bool) -> String {
        let v = &self.m.bus.vga;
        let t = v.timing();
        let mut out = format!(
            "VGA: misc output {:#04x} (CRTC at {:#05x}, video RAM access {}), {} x {} character clocks/lines displayed of {} x {}\n",
            v.misc_output,
            v.crtc_port(),
            if v.misc_output & 2 != 0 { "enabled" } else { "disabled" },
            t.h_display,
            t.v_display,
            t.h_total,
            t.v_total,
        );
        out.push_str(&format!(
            "  sequencer index {:#04x}, CRTC index {:#04x}, graphics index {:#04x}; latches {:02x?}; {} KiB of video memory\n",
            v.seq.address,
            v.crtc.address,
            v.gc.address,
            v.mem.latches,
            v.mem.cells.len() * 4 / 1024
        ));
        if full {
            out.push_str(&format!("{:#?}\n{:#?}\n{:#?}\n{:#?}\n{:#?}\n", v.seq, v.crtc, v.gc, v.ac, v.dac));
        } else {
            out.push_str("  (`info vga regs` shows every register)\n");
        }
        out
    }

    /// `info ata`: both channels, each drive's task file.
    pub fn info_ata(&self) -> String {
        let mut out = String::new();
        for (i, ch) in self.m.bus.ata.iter().enumerate() {
            let st = &ch.state;
            out.push_str(&format!(
                "ATA {} at {:#05x}/{:#05x}: drive {} selected, device control {:#04x}{}\n",
                ["primary", "secondary"][i],
                st.base,
                st.ctrl,
                st.selected,
                st.device_control,
                if st.device_control & 2 != 0 { " (nIEN: interrupts off)" } else { "" }
            ));
            for (k, d) in st.drives.iter().enumerate() {
                if !d.present {
                    out.push_str(&format!("  {}: no disk\n", ["master", "slave"][k]));
                    continue;
                }
                out.push_str(&format!(
                    "  {}: {} sectors ({} MiB), status {:#04x}{}{}{}, error {:#04x}, count {} LBA {:02x}{:02x}{:02x} device {:#04x}, INTRQ {}\n",
                    ["master", "slave"][k],
                    d.total_sectors,
                    d.total_sectors / 2048,
                    d.status,
                    if d.status & 0x80 != 0 { " BSY" } else { "" },
                    if d.status & 0x08 != 0 { " DRQ" } else { "" },
                    if d.status & 0x01 != 0 { " ERR" } else { "" },
                    d.error,
                    d.sector_count,
                    d.lba_high,
                    d.lba_mid,
                    d.lba_low,
                    d.device,
                    d.intrq as u8
                ));
            }
        }
        out
    }

    pub fn info_exits(&self) -> String {
        let rows = self.m.bus.exits.table(&self.m.cpu.interrupt_counts, &self.m.cpu.exception_counts);
        if rows.is_empty() {
            return "no exits yet\n".into();
        }
        let mut out =
            format!("{} kinds of exits (trap-and-emulate: each is a call into a device model):\n", rows.len());
        for r in rows {
            out.push_str(&format!("  {:>12}  {:<10} {}\n", r.count, r.kind, r.what));
        }
        out
    }
}

/// EFLAGS bits with names and meanings (SDM Vol. 1 Figure 3-8).
const FLAGS: [(u32, &str, &str); 17] = [
    (1 << 0, "CF", "carry"),
    (1 << 2, "PF", "parity (even)"),
    (1 << 4, "AF", "auxiliary carry"),
    (1 << 6, "ZF", "zero"),
    (1 << 7, "SF", "sign"),
    (1 << 8, "TF", "trap (single-step)"),
    (1 << 9, "IF", "interrupt enable"),
    (1 << 10, "DF", "direction (1 = down)"),
    (1 << 11, "OF", "overflow"),
    (1 << 12, "IOPL", "I/O privilege level, low bit"),
    (1 << 14, "NT", "nested task"),
    (1 << 16, "RF", "resume"),
    (1 << 17, "VM", "virtual-8086 mode"),
    (1 << 18, "AC", "alignment check"),
    (1 << 19, "VIF", "virtual interrupt flag"),
    (1 << 20, "VIP", "virtual interrupt pending"),
    (1 << 21, "ID", "CPUID available"),
];

/// The names of the set flags: `ZF PF IF`.
pub fn flag_names(v: u32) -> String {
    let names: Vec<&str> = FLAGS.iter().filter(|(b, n, _)| v & b != 0 && *n != "IOPL").map(|(_, n, _)| *n).collect();
    let mut s = names.join(" ");
    let iopl = (v >> 12) & 3;
    if iopl != 0 {
        s.push_str(&format!(" IOPL={iopl}"));
    }
    let _ = Eflags::IF;
    s
}
