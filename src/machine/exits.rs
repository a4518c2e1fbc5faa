//! Exit accounting: every guest port access, MMIO access, interrupt and exception is counted,
//! by device, port and kind. In a hardware-assisted hypervisor each of these would be a VM exit
//! (a trap out of the guest into the monitor); in x86lab each one is a call into a Rust device
//! model. `--stats` prints the busiest ones, the debugger's `info exits` all of them.

/// Counters, indexed by port number or vector.
#[derive(Clone)]
pub struct Exits {
    pub port_reads: Box<[u64; 65536]>,
    pub port_writes: Box<[u64; 65536]>,
    /// MMIO accesses by region name, e.g. "vga".
    pub mmio: Vec<(&'static str, u64)>,
}

impl Default for Exits {
    fn default() -> Self {
        Exits { port_reads: Box::new([0; 65536]), port_writes: Box::new([0; 65536]), mmio: Vec::new() }
    }
}

/// One line of the exit table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitRow {
    /// What was accessed: "port 0x3f8 (com1)", "mmio vga", "interrupt 0x08", "exception #PF".
    pub what: String,
    pub kind: &'static str,
    pub count: u64,
}

impl Exits {
    #[inline]
    pub fn port_read(&mut self, port: u16) {
        self.port_reads[port as usize] += 1;
    }
    #[inline]
    pub fn port_write(&mut self, port: u16) {
        self.port_writes[port as usize] += 1;
    }
    pub fn mmio(&mut self, region: &'static str) {
        if let Some(e) = self.mmio.iter_mut().find(|(n, _)| *n == region) {
            e.1 += 1;
        } else {
            self.mmio.push((region, 1));
        }
    }

    /// All non-zero counters as rows, busiest first. `interrupts` and `exceptions` come from
    /// the CPU's own counters.
    pub fn table(&self, interrupts: &[u64; 256], exceptions: &[u64; 32]) -> Vec<ExitRow> {
        let mut rows = Vec::new();
        for (p, (&r, &w)) in self.port_reads.iter().zip(self.port_writes.iter()).enumerate() {
            let name = super::io::port_name(p as u16);
            if r > 0 {
                rows.push(ExitRow { what: format!("port {p:#06x} ({name})"), kind: "in", count: r });
            }
            if w > 0 {
                rows.push(ExitRow { what: format!("port {p:#06x} ({name})"), kind: "out", count: w });
            }
        }
        for (n, c) in &self.mmio {
            rows.push(ExitRow { what: format!("mmio {n}"), kind: "mmio", count: *c });
        }
        for (v, &c) in interrupts.iter().enumerate() {
            if c > 0 {
                rows.push(ExitRow { what: format!("vector {v:#04x}"), kind: "interrupt", count: c });
            }
        }
        for (v, &c) in exceptions.iter().enumerate() {
            if c > 0 {
                let name = crate::cpu::fault::vector_name(v as u8);
                rows.push(ExitRow { what: format!("vector {v} {name}"), kind: "exception", count: c });
            }
        }
        rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.what.cmp(&b.what)));
        rows
    }
}
