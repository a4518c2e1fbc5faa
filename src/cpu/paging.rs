//! Paging: linear to physical translation as Intel SDM Vol. 3A chapter 4 describes it, with a
//! software TLB in front of the page walk.
//!
//! - §4.3 **32-bit paging** (CR4.PAE = 0): a page directory at CR3[31:12] and page tables, 4 KiB
//!   pages, and 4 MiB pages when CR4.PSE = 1 and PDE.PS = 1. PSE-36 is not implemented (CPUID
//!   does not advertise it), so a 4 MiB page's base is PDE[31:22].
//! - §4.4 **PAE paging** (CR4.PAE = 1): four PDPTEs loaded from CR3[31:5] into the *PDPTE
//!   registers* (§4.4.1) by MOV to CR3, and by MOV to CR0/CR4 when it turns PAE paging on or
//!   changes CR0.PG/CD/NW or CR4.PAE/PGE/PSE; a PDPTE with P = 1 and a reserved bit set makes that
//!   MOV raise #GP(0) and leaves the register unchanged. Page directories and tables hold 64-bit
//!   entries; PDE.PS = 1 maps a 2 MiB page whatever CR4.PSE says.
//! - §4.6 **access rights**: a user-mode access (CPL 3) needs U/S = 1 at every level, a user write
//!   R/W = 1 at every level; a supervisor write to a read-only translation faults only when
//!   CR0.WP = 1. Supervisor reads and every instruction fetch are checked like reads (a P6 has no
//!   NX, SMEP or SMAP). Accesses the CPU makes to system structures (GDT, LDT, IDT, TSS) are
//!   supervisor accesses whatever the CPL: see [`Cpu::translate_sys`].
//! - §4.7 **page-fault exceptions**: CR2 = the faulting linear address; error code P (bit 0) =
//!   the fault is a protection or reserved-bit violation rather than a not-present entry, W/R (1) =
//!   write, U/S (2) = user-mode access, RSVD (3) = a reserved bit was set. I/D (bit 4) exists only
//!   with PAE and IA32_EFER.NXE = 1, which x86lab (a P6, no EFER) lacks, so it is always 0.
//! - §4.8 **accessed and dirty flags**: a successful translation sets A in every paging-structure
//!   entry it used (not in PDPTEs, which have no A flag under PAE) and, on a write, D in the entry
//!   that maps the page. Entries that already have the flag are not written again. A translation
//!   that faults sets no flag.
//! - §4.10 **TLBs**: [`Tlb`] caches translations per 4 KiB linear page. MOV to CR3 (and a task
//!   switch) invalidates every entry except global ones (G = 1 in the mapping entry while
//!   CR4.PGE = 1); MOV to CR0 changing PG/PE/WP and MOV to CR4 changing PGE, PAE or PSE invalidate
//!   everything; INVLPG invalidates the page of its operand, global or not (the whole 2/4 MiB page
//!   for a large page). A page fault drops any entry for its address. Like a real TLB, it is not
//!   kept coherent with the page tables in memory: software must invalidate after editing them.
//!
//! ## Reserved bits and the 32-bit physical bus
//!
//! x86lab's physical address space is 32 bits wide. It behaves as a processor whose MAXPHYADDR is
//! 32: under PAE, bits 62:32 of PDPTEs, PDEs and PTEs are *reserved* (a present entry with one set
//! raises #PF with RSVD, a PDPTE raises #GP(0) when loaded), and bit 63 (XD) is reserved because
//! there is no IA32_EFER.NXE. (CPUID has no leaf 8000_0008h, so a guest that reads the SDM
//! literally would assume MAXPHYADDR = 36; an OS that maps only the RAM it was told about never
//! notices.) The PAT is not implemented, so PTE bit 7 and bit 12 of a large-page PDE are reserved
//! (§4.3: under 32-bit paging only while CR4.PSE = 1; §4.4.2: always under PAE). With
//! CR4.PSE = 0, 32-bit paging has no reserved bits at all.
//!
//! ## The software TLB
//!
//! A direct-mapped array of [`TLB_ENTRIES`] entries indexed by the low bits of the linear page
//! number. Each entry holds the linear page (the tag), the physical page, and one bit per kind of
//! access it allows: supervisor read, supervisor write, user read, user write. A hit is one tag
//! compare and one bit test. The write bits are only set once the mapping entry's D flag is set,
//! so the first write to a clean page misses and walks again to set D (§4.8).
//! Large pages are cached as the 4 KiB pieces that were used, flagged so INVLPG can find them.

use super::access::Access;
use super::fault::{Fault, Res, Why, vector};
use super::{Cpu, CpuBus, Cr0, Cr4};

/// Paging-structure entry flags (SDM Vol. 3A Tables 4-4 to 4-11).
pub mod pte {
    /// Present.
    pub const P: u64 = 1 << 0;
    /// Read/write: 0 = read-only.
    pub const RW: u64 = 1 << 1;
    /// User/supervisor: 1 = user-mode accesses allowed.
    pub const US: u64 = 1 << 2;
    /// Page-level write-through.
    pub const PWT: u64 = 1 << 3;
    /// Page-level cache disable.
    pub const PCD: u64 = 1 << 4;
    /// Accessed.
    pub const A: u64 = 1 << 5;
    /// Dirty (in an entry that maps a page).
    pub const D: u64 = 1 << 6;
    /// Page size (in a PDE): the entry maps a 4 MiB or 2 MiB page.
    pub const PS: u64 = 1 << 7;
    /// PAT bit of a PTE (same position as PS); reserved as x86lab has no PAT.
    pub const PAT_4K: u64 = 1 << 7;
    /// Global (in an entry that maps a page, while CR4.PGE = 1).
    pub const G: u64 = 1 << 8;
    /// PAT bit of a large-page PDE; reserved as x86lab has no PAT.
    pub const PAT_LARGE: u64 = 1 << 12;
    /// Execute-disable (bit 63); reserved, as x86lab has no IA32_EFER.NXE.
    pub const XD: u64 = 1 << 63;
}

/// Page-fault error code bits (SDM Vol. 3A §4.7, Figure 4-12).
pub mod pf {
    /// 0: a not-present entry; 1: a protection or reserved-bit violation.
    pub const P: u32 = 1 << 0;
    /// The access was a write.
    pub const WR: u32 = 1 << 1;
    /// The access was a user-mode (CPL 3) access.
    pub const US: u32 = 1 << 2;
    /// A reserved bit was set in a paging-structure entry.
    pub const RSVD: u32 = 1 << 3;
    /// Instruction fetch; only with PAE and EFER.NXE, so always 0 on x86lab.
    pub const ID: u32 = 1 << 4;
}

/// Reserved bits of a present 32-bit PDE that maps a 4 MiB page, CR4.PSE = 1, no PSE-36, no PAT:
/// bits 21:13 and the PAT bit 12.
const RSVD_32_LARGE: u64 = 0x003F_F000;
/// Reserved bits of a present 32-bit PTE with CR4.PSE = 1 and no PAT: the PAT bit 7.
const RSVD_32_PTE: u64 = pte::PAT_4K;
/// Bits a PAE entry may not set with a 32-bit physical bus and no NXE: 63:32.
const RSVD_PAE_HIGH: u64 = 0xFFFF_FFFF_0000_0000;
/// Reserved bits of a present PAE PDPTE: 63:32 (see above), 8:5 and 2:1 (SDM §4.4.1).
pub const RSVD_PDPTE: u64 = RSVD_PAE_HIGH | 0x1E0 | 0x6;
/// Reserved bits of a present PAE PDE mapping a 2 MiB page: 63:32, 20:13, the PAT bit 12.
const RSVD_PAE_LARGE: u64 = RSVD_PAE_HIGH | 0x001F_F000;
/// Reserved bits of a present PAE PDE that references a page table.
const RSVD_PAE_PDE: u64 = RSVD_PAE_HIGH;
/// Reserved bits of a present PAE PTE: 63:32 and the PAT bit 7.
const RSVD_PAE_PTE: u64 = RSVD_PAE_HIGH | pte::PAT_4K;

/// Which translation scheme CR0.PG and CR4.PAE select (SDM Vol. 3A §4.1.1, Table 4-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingMode {
    /// CR0.PG = 0: linear addresses are physical.
    Off,
    /// 32-bit paging (§4.3).
    Bits32,
    /// PAE paging (§4.4).
    Pae,
}

/// A kind of paging-structure entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// A PAE page-directory-pointer-table entry, read from the PDPTE registers.
    Pdpte,
    /// A page-directory entry.
    Pde,
    /// A page-table entry.
    Pte,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Pdpte => "PDPTE",
            Level::Pde => "PDE",
            Level::Pte => "PTE",
        }
    }
}

/// One paging-structure entry the walk used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkLevel {
    pub level: Level,
    /// Index of the entry in its table.
    pub index: u32,
    /// Physical address of the entry (for a PDPTE: where it was loaded from).
    pub addr: u32,
    /// The entry as read (32-bit entries are zero-extended).
    pub entry: u64,
}

impl WalkLevel {
    const EMPTY: WalkLevel = WalkLevel { level: Level::Pde, index: 0, addr: 0, entry: 0 };

    /// The set flags of the entry, as the SDM names them ("P RW US A D PS G").
    pub fn flags(&self) -> String {
        let e = self.entry;
        let pdpte = self.level == Level::Pdpte;
        let mut names: Vec<&str> = Vec::new();
        let table: [(u64, &str); 9] = [
            (pte::P, "P"),
            (pte::RW, "RW"),
            (pte::US, "US"),
            (pte::PWT, "PWT"),
            (pte::PCD, "PCD"),
            (pte::A, "A"),
            (pte::D, "D"),
            (pte::PS, if self.level == Level::Pte { "PAT" } else { "PS" }),
            (pte::G, "G"),
        ];
        for (bit, name) in table {
            // PDPTEs have only P, PWT and PCD; their other low bits are reserved.
            if e & bit != 0 && (!pdpte || matches!(bit, pte::P | pte::PWT | pte::PCD)) {
                names.push(name);
            }
        }
        if names.is_empty() { "-".to_string() } else { names.join(" ") }
    }
}

/// A successful translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Physical address of the byte at the linear address (before the A20 mask).
    pub phys: u32,
    /// 4 KiB, 2 MiB or 4 MiB.
    pub page_size: u32,
    /// Which accesses the translation allows: [`Perm`] bits.
    pub perms: u8,
    /// G set in the mapping entry while CR4.PGE = 1.
    pub global: bool,
    /// D already set in the mapping entry (before this access).
    pub dirty: bool,
}

/// A page fault found by the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    /// The error code (SDM §4.7).
    pub error: u32,
    /// The entry that caused it (None for access-rights faults, which combine all levels).
    pub level: Option<Level>,
    /// For RSVD faults, the reserved bits that were set.
    pub reserved: u64,
    /// The rule, in words.
    pub rule: &'static str,
}

/// The result of a page walk without side effects: what [`Cpu::walk_explain`] returns and what
/// the translation itself uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkReport {
    pub linear: u32,
    pub access: Access,
    pub user: bool,
    pub mode: PagingMode,
    pub cr3: u32,
    levels: [WalkLevel; 3],
    depth: usize,
    pub result: Result<Mapping, PageFault>,
}

impl WalkReport {
    /// The entries the walk read, outermost first.
    pub fn levels(&self) -> &[WalkLevel] {
        &self.levels[..self.depth]
    }

    fn push(&mut self, level: Level, index: u32, addr: u32, entry: u64) {
        if let Some(l) = self.levels.get_mut(self.depth) {
            *l = WalkLevel { level, index, addr, entry };
            self.depth += 1;
        }
    }

    fn fail(mut self, error: u32, level: Option<Level>, reserved: u64, rule: &'static str) -> WalkReport {
        let mut error = error;
        if self.access == Access::Write {
            error |= pf::WR;
        }
        if self.user {
            error |= pf::US;
        }
        self.result = Err(PageFault { error, level, reserved, rule });
        self
    }
}

impl std::fmt::Display for WalkReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = if self.user { "user" } else { "supervisor" };
        let what = match self.access {
            Access::Read => "read",
            Access::Write => "write",
            Access::Exec => "fetch",
        };
        let mode = match self.mode {
            PagingMode::Off => "paging off",
            PagingMode::Bits32 => "32-bit paging",
            PagingMode::Pae => "PAE paging",
        };
        writeln!(f, "linear {:#010x}, {who} {what}, {mode}, CR3={:#010x}", self.linear, self.cr3)?;
        for l in self.levels() {
            writeln!(
                f,
                "  {:<5} [{:3}] at {:#010x} = {:#018x}  {}",
                l.level.name(),
                l.index,
                l.addr,
                l.entry,
                l.flags()
            )?;
        }
        match self.result {
            Ok(m) => {
                let size = match m.page_size {
                    0x1000 => "4 KiB",
                    0x20_0000 => "2 MiB",
                    _ => "4 MiB",
                };
                write!(f, "  -> physical {:#010x} ({size} page", m.phys)?;
                if m.global {
                    write!(f, ", global")?;
                }
                write!(f, "; allows {})", perm_names(m.perms))
            }
            Err(p) => {
                write!(f, "  -> #PF error {:#x} (", p.error)?;
                let bits = [(pf::P, "P"), (pf::WR, "W/R"), (pf::US, "U/S"), (pf::RSVD, "RSVD"), (pf::ID, "I/D")];
                let mut first = true;
                for (b, n) in bits {
                    if p.error & b != 0 {
                        write!(f, "{}{n}", if first { "" } else { " " })?;
                        first = false;
                    }
                }
                if first {
                    write!(f, "not present, supervisor read")?;
                }
                write!(f, "): {}", p.rule)?;
                if p.reserved != 0 {
                    write!(f, " (reserved bits {:#x})", p.reserved)?;
                }
                Ok(())
            }
        }
    }
}

/// Access permissions a translation grants, one bit per (user, write) pair.
pub struct Perm;
impl Perm {
    pub const SUP_READ: u8 = 1 << 0;
    pub const SUP_WRITE: u8 = 1 << 1;
    pub const USER_READ: u8 = 1 << 2;
    pub const USER_WRITE: u8 = 1 << 3;
    /// Both write bits: kept in the TLB only once the page is dirty.
    pub const WRITES: u8 = Perm::SUP_WRITE | Perm::USER_WRITE;

    /// The bit an access needs. Instruction fetches need read permission (no NX on a P6).
    #[inline(always)]
    pub fn needed(acc: Access, user: bool) -> u8 {
        1 << (((user as u8) << 1) | (matches!(acc, Access::Write) as u8))
    }
}

fn perm_names(p: u8) -> String {
    let mut v = Vec::new();
    for (b, n) in [
        (Perm::SUP_READ, "supervisor read"),
        (Perm::SUP_WRITE, "supervisor write"),
        (Perm::USER_READ, "user read"),
        (Perm::USER_WRITE, "user write"),
    ] {
        if p & b != 0 {
            v.push(n);
        }
    }
    v.join(", ")
}

// ---- the TLB ---------------------------------------------------------------------------

/// Number of TLB entries (a power of two).
pub const TLB_ENTRIES: usize = 4096;
const TLB_MASK: usize = TLB_ENTRIES - 1;
/// A tag no page-aligned linear address equals.
const INVALID_TAG: u32 = 1;

const E_GLOBAL: u8 = 1 << 0;
const E_LARGE: u8 = 1 << 1;
const E_DIRTY: u8 = 1 << 2;

#[derive(Clone, Copy, Debug)]
struct TlbEntry {
    /// Linear page address (bits 31:12), or [`INVALID_TAG`].
    tag: u32,
    /// Physical page address (bits 31:12).
    phys: u32,
    /// [`Perm`] bits; write bits only when dirty.
    perms: u8,
    /// E_GLOBAL, E_LARGE, E_DIRTY.
    flags: u8,
}

const EMPTY: TlbEntry = TlbEntry { tag: INVALID_TAG, phys: 0, perms: 0, flags: 0 };

/// An entry of the data-access fast table: `tag` is the linear page address with bit 0 set for
/// a user-mode (CPL 3) entry, or [`FAST_INVALID`]; `host` is the physical page address, which
/// is plain RAM (the bus said so when the entry was filled).
#[derive(Clone, Copy, Debug)]
struct FastEntry {
    tag: u32,
    host: u32,
}

/// A tag no key matches (keys have only bit 0 among bits 11:0).
const FAST_INVALID: u32 = 0xFFF;
const FAST_EMPTY: FastEntry = FastEntry { tag: FAST_INVALID, host: 0 };

/// A cached translation, as the debugger sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbView {
    pub linear_page: u32,
    pub phys_page: u32,
    pub perms: u8,
    pub global: bool,
    pub large: bool,
    pub dirty: bool,
}

/// The software TLB (direct-mapped, per 4 KiB linear page).
pub struct Tlb {
    entries: Box<[TlbEntry; TLB_ENTRIES]>,
    /// Some entry was filled since the last full flush.
    live: bool,
    /// Some global entry was filled since the last full flush.
    has_global: bool,
    /// Some large-page entry was filled since the last full flush.
    has_large: bool,
    /// Page walks done to fill it (statistics).
    pub walks: u64,
    /// The data-access fast tables (one for reads, one for writes), slot for slot with
    /// `entries`: a read entry exists only for a page whose accessed bit is set, a write entry
    /// only for one whose dirty bit is set and which holds no cached code, both only for plain
    /// RAM. An entry is a subset of what `entries` (or, with paging off, the identity mapping
    /// and A20) says, so every change that drops or replaces a translation drops it too:
    /// a fill of the same slot, INVLPG, any flush. With paging off the tables cache the
    /// identity mapping; turning paging on or off and A20 changes flush the TLB, so them too.
    fast_r: Box<[FastEntry; TLB_ENTRIES]>,
    fast_w: Box<[FastEntry; TLB_ENTRIES]>,
    /// Some fast entry was filled since the last fast flush.
    fast_live: bool,
    /// Bit n set: some write entry may point at physical page n (so a trace decoded there must
    /// drop it, see [`Tlb::code_page`]).
    fast_w_pages: Vec<u64>,
}

impl Default for Tlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Tlb {
    pub fn new() -> Tlb {
        Tlb {
            entries: Box::new([EMPTY; TLB_ENTRIES]),
            live: false,
            has_global: false,
            has_large: false,
            walks: 0,
            fast_r: Box::new([FAST_EMPTY; TLB_ENTRIES]),
            fast_w: Box::new([FAST_EMPTY; TLB_ENTRIES]),
            fast_live: false,
            fast_w_pages: Vec::new(),
        }
    }

    /// The fast-table key of `lin`'s page for a user (`true`) or supervisor access.
    #[inline(always)]
    fn fast_key(lin: u32, user: bool) -> u32 {
        (lin & 0xFFFF_F000) | user as u32
    }

    /// The physical address of a read of `lin` if the fast table has its page: plain RAM,
    /// already translated, accessed bit set. One compare.
    #[inline(always)]
    pub fn fast_read(&self, lin: u32, user: bool) -> Option<u32> {
        let e = &self.fast_r[Self::slot(lin)];
        if e.tag == Self::fast_key(lin, user) { Some(e.host | (lin & 0xFFF)) } else { None }
    }

    /// The same for a write: plain RAM without cached code, dirty bit set.
    #[inline(always)]
    pub fn fast_write(&self, lin: u32, user: bool) -> Option<u32> {
        let e = &self.fast_w[Self::slot(lin)];
        if e.tag == Self::fast_key(lin, user) { Some(e.host | (lin & 0xFFF)) } else { None }
    }

    /// Caches that accesses to `lin`'s page by `user` may go straight to the plain-RAM physical
    /// page `host` (the caller checked everything the fast tables promise).
    pub fn fast_fill(&mut self, lin: u32, user: bool, host: u32, write: bool) {
        let e = FastEntry { tag: Self::fast_key(lin, user), host: host & 0xFFFF_F000 };
        let i = Self::slot(lin);
        if write {
            let page = (host >> 12) as usize;
            if self.fast_w_pages.len() <= page / 64 {
                self.fast_w_pages.resize(page / 64 + 1, 0);
            }
            self.fast_w_pages[page / 64] |= 1 << (page % 64);
            self.fast_w[i] = e;
        } else {
            self.fast_r[i] = e;
        }
        self.fast_live = true;
    }

    /// Physical page `page` (number) now holds cached code: writes there must go through the
    /// slow path, which tells the decode cache, so its write entries go.
    #[inline]
    pub fn code_page(&mut self, page: u32) {
        let (w, b) = ((page / 64) as usize, page % 64);
        if self.fast_w_pages.get(w).is_some_and(|x| x & (1 << b) != 0) {
            self.fast_w_pages[w] &= !(1 << b);
            for e in self.fast_w.iter_mut() {
                if e.host >> 12 == page {
                    *e = FAST_EMPTY;
                }
            }
        }
    }

    /// Drops every fast entry.
    fn flush_fast(&mut self) {
        if self.fast_live {
            self.fast_r.fill(FAST_EMPTY);
            self.fast_w.fill(FAST_EMPTY);
            self.fast_w_pages.fill(0);
        }
        self.fast_live = false;
    }

    /// Drops the fast entries of slot `i`.
    #[inline]
    fn drop_fast_slot(&mut self, i: usize) {
        self.fast_r[i] = FAST_EMPTY;
        self.fast_w[i] = FAST_EMPTY;
    }

    #[inline(always)]
    fn slot(lin: u32) -> usize {
        (lin >> 12) as usize & TLB_MASK
    }

    /// The physical address for `lin` if a cached translation allows the access (`need` is a
    /// [`Perm`] bit). The hit path: one tag compare, one bit test.
    #[inline(always)]
    pub fn lookup(&self, lin: u32, need: u8) -> Option<u32> {
        let e = &self.entries[Self::slot(lin)];
        if e.tag == lin & 0xFFFF_F000 && e.perms & need != 0 { Some(e.phys | (lin & 0xFFF)) } else { None }
    }

    /// The cached translation of `lin`'s page, if any.
    pub fn probe(&self, lin: u32) -> Option<TlbView> {
        let e = &self.entries[Self::slot(lin)];
        (e.tag == lin & 0xFFFF_F000).then_some(TlbView {
            linear_page: e.tag,
            phys_page: e.phys,
            perms: e.perms,
            global: e.flags & E_GLOBAL != 0,
            large: e.flags & E_LARGE != 0,
            dirty: e.flags & E_DIRTY != 0,
        })
    }

    /// Every valid entry, in slot order (for the debugger's `info tlb`).
    pub fn entries(&self) -> Vec<TlbView> {
        self.entries
            .iter()
            .filter(|e| e.tag != INVALID_TAG)
            .map(|e| TlbView {
                linear_page: e.tag,
                phys_page: e.phys,
                perms: e.perms,
                global: e.flags & E_GLOBAL != 0,
                large: e.flags & E_LARGE != 0,
                dirty: e.flags & E_DIRTY != 0,
            })
            .collect()
    }

    /// Number of valid entries (for the debugger and tests).
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.tag != INVALID_TAG).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn fill(&mut self, lin: u32, m: &Mapping, dirty: bool) {
        let mut flags = 0;
        if m.global {
            flags |= E_GLOBAL;
            self.has_global = true;
        }
        if m.page_size != 0x1000 {
            flags |= E_LARGE;
            self.has_large = true;
        }
        let mut perms = m.perms;
        if dirty {
            flags |= E_DIRTY;
        } else {
            perms &= !Perm::WRITES;
        }
        self.live = true;
        self.drop_fast_slot(Self::slot(lin));
        self.entries[Self::slot(lin)] = TlbEntry { tag: lin & 0xFFFF_F000, phys: m.phys & 0xFFFF_F000, perms, flags };
    }

    /// Invalidates every entry, global ones too (MOV to CR0/CR4 that changes the paging mode).
    pub fn flush_all(&mut self) {
        self.flush_fast();
        if self.live {
            self.entries.fill(EMPTY);
        }
        self.live = false;
        self.has_global = false;
        self.has_large = false;
    }

    /// Invalidates every non-global entry (MOV to CR3, task switch).
    pub fn flush_non_global(&mut self) {
        self.flush_fast();
        if !self.has_global {
            self.flush_all();
            return;
        }
        for e in self.entries.iter_mut() {
            if e.flags & E_GLOBAL == 0 {
                *e = EMPTY;
            }
        }
    }

    /// Invalidates the translations of the page that contains `lin`, global or not (INVLPG,
    /// page fault). If large pages were cached, every piece of a large page in the 4 MiB region
    /// of `lin` goes too (SDM §4.10.4.1: INVLPG invalidates the whole large page; invalidating
    /// more than needed is allowed).
    pub fn invalidate_page(&mut self, lin: u32) {
        let page = lin & 0xFFFF_F000;
        let i = Self::slot(lin);
        if self.entries[i].tag == page {
            self.entries[i] = EMPTY;
        }
        self.drop_fast_slot(i);
        if self.has_large {
            self.flush_fast();
            let region = lin & 0xFFC0_0000;
            for n in 0..1024u32 {
                let l = region | (n << 12);
                let e = &mut self.entries[Self::slot(l)];
                if e.tag == l && e.flags & E_LARGE != 0 {
                    *e = EMPTY;
                }
            }
        }
    }
}

// ---- the walk --------------------------------------------------------------------------

#[inline]
fn read64<B: CpuBus>(bus: &mut B, addr: u32) -> u64 {
    bus.read32(addr) as u64 | (bus.read32(addr.wrapping_add(4)) as u64) << 32
}

impl Cpu {
    /// The paging mode CR0.PG and CR4.PAE select.
    #[inline]
    pub fn paging_mode(&self) -> PagingMode {
        if !self.cr0.contains(Cr0::PG) {
            PagingMode::Off
        } else if self.cr4.contains(Cr4::PAE) {
            PagingMode::Pae
        } else {
            PagingMode::Bits32
        }
    }

    /// Walks the paging structures for an access to `lin` without changing anything (no A/D
    /// flags, no TLB fill, no CR2): what the CPU would do, each entry it would read, and the
    /// fault it would raise. Reads page tables through `bus` (the only side effect, should a
    /// table lie in device memory). For the debugger's `translate ADDR user write`.
    pub fn walk_explain<B: CpuBus>(&self, bus: &mut B, lin: u32, access: Access, user: bool) -> WalkReport {
        let mut r = WalkReport {
            linear: lin,
            access,
            user,
            mode: self.paging_mode(),
            cr3: self.cr3,
            levels: [WalkLevel::EMPTY; 3],
            depth: 0,
            result: Ok(Mapping { phys: lin, page_size: 0x1000, perms: 0xF, global: false, dirty: false }),
        };
        let a20 = self.a20_mask;
        let pse = self.cr4.contains(Cr4::PSE);
        let pge = self.cr4.contains(Cr4::PGE);
        let (leaf, size, base, rw_all, us_all) = match r.mode {
            PagingMode::Off => return r,
            PagingMode::Bits32 => {
                let index = lin >> 22;
                let addr = (self.cr3 & 0xFFFF_F000) | (index << 2);
                let pde = bus.read32(addr & a20) as u64;
                r.push(Level::Pde, index, addr, pde);
                if pde & pte::P == 0 {
                    return r.fail(0, Some(Level::Pde), 0, "the PDE is not present (P=0)");
                }
                if pse && pde & pte::PS != 0 {
                    let bad = pde & RSVD_32_LARGE;
                    if bad != 0 {
                        return r.fail(
                            pf::P | pf::RSVD,
                            Some(Level::Pde),
                            bad,
                            "a 4 MiB PDE sets reserved bits 21:12 (no PSE-36, no PAT)",
                        );
                    }
                    (pde, 0x40_0000, (pde as u32) & 0xFFC0_0000, pde, pde)
                } else {
                    let index = (lin >> 12) & 0x3FF;
                    let addr = ((pde as u32) & 0xFFFF_F000) | (index << 2);
                    let pt = bus.read32(addr & a20) as u64;
                    r.push(Level::Pte, index, addr, pt);
                    if pt & pte::P == 0 {
                        return r.fail(0, Some(Level::Pte), 0, "the PTE is not present (P=0)");
                    }
                    if pse && pt & RSVD_32_PTE != 0 {
                        return r.fail(
                            pf::P | pf::RSVD,
                            Some(Level::Pte),
                            pt & RSVD_32_PTE,
                            "the PTE sets bit 7 (PAT), reserved with CR4.PSE=1 as x86lab has no PAT",
                        );
                    }
                    (pt, 0x1000, (pt as u32) & 0xFFFF_F000, pde & pt, pde & pt)
                }
            }
            PagingMode::Pae => {
                let index = lin >> 30;
                let pdpte = self.pdpte[(index & 3) as usize];
                r.push(Level::Pdpte, index, (self.cr3 & 0xFFFF_FFE0).wrapping_add(index * 8), pdpte);
                if pdpte & pte::P == 0 {
                    return r.fail(0, Some(Level::Pdpte), 0, "the PDPTE is not present (P=0)");
                }
                if pdpte & RSVD_PDPTE != 0 {
                    // Unreachable through MOV CR3 (it checks), kept so a bad register never maps.
                    return r.fail(
                        pf::P | pf::RSVD,
                        Some(Level::Pdpte),
                        pdpte & RSVD_PDPTE,
                        "the PDPTE sets reserved bits",
                    );
                }
                let index = (lin >> 21) & 0x1FF;
                let addr = ((pdpte as u32) & 0xFFFF_F000) | (index << 3);
                let pde = read64(bus, addr & a20);
                r.push(Level::Pde, index, addr, pde);
                if pde & pte::P == 0 {
                    return r.fail(0, Some(Level::Pde), 0, "the PDE is not present (P=0)");
                }
                if pde & pte::PS != 0 {
                    let bad = pde & RSVD_PAE_LARGE;
                    if bad != 0 {
                        return r.fail(
                            pf::P | pf::RSVD,
                            Some(Level::Pde),
                            bad,
                            "a 2 MiB PDE sets reserved bits (63 XD without NXE, 62:32 beyond the 32-bit bus, 20:13, 12 PAT)",
                        );
                    }
                    (pde, 0x20_0000, (pde as u32) & 0xFFE0_0000, pde, pde)
                } else {
                    if pde & RSVD_PAE_PDE != 0 {
                        return r.fail(
                            pf::P | pf::RSVD,
                            Some(Level::Pde),
                            pde & RSVD_PAE_PDE,
                            "the PDE sets reserved bits (63 XD without NXE, 62:32 beyond the 32-bit bus)",
                        );
                    }
                    let index = (lin >> 12) & 0x1FF;
                    let addr = ((pde as u32) & 0xFFFF_F000) | (index << 3);
                    let pt = read64(bus, addr & a20);
                    r.push(Level::Pte, index, addr, pt);
                    if pt & pte::P == 0 {
                        return r.fail(0, Some(Level::Pte), 0, "the PTE is not present (P=0)");
                    }
                    if pt & RSVD_PAE_PTE != 0 {
                        return r.fail(
                            pf::P | pf::RSVD,
                            Some(Level::Pte),
                            pt & RSVD_PAE_PTE,
                            "the PTE sets reserved bits (63 XD without NXE, 62:32 beyond the 32-bit bus, 7 PAT)",
                        );
                    }
                    (pt, 0x1000, (pt as u32) & 0xFFFF_F000, pde & pt, pde & pt)
                }
            }
        };
        // Access rights (SDM §4.6): the R/W and U/S flags of every level combine with AND.
        let rw = rw_all & pte::RW != 0;
        let us = us_all & pte::US != 0;
        let wp = self.cr0.contains(Cr0::WP);
        let mut perms = Perm::SUP_READ;
        if rw || !wp {
            perms |= Perm::SUP_WRITE;
        }
        if us {
            perms |= Perm::USER_READ;
            if rw {
                perms |= Perm::USER_WRITE;
            }
        }
        if perms & Perm::needed(access, user) == 0 {
            let rule = if user && !us {
                "user-mode access to a supervisor page (U/S=0 at some level)"
            } else if user {
                "user-mode write to a read-only page (R/W=0 at some level)"
            } else {
                "supervisor write to a read-only page while CR0.WP=1"
            };
            return r.fail(pf::P, None, 0, rule);
        }
        let offset = lin & (size - 1);
        r.result = Ok(Mapping {
            phys: base | offset,
            page_size: size,
            perms,
            global: pge && leaf & pte::G != 0,
            dirty: leaf & pte::D != 0,
        });
        r
    }

    /// The TLB miss path: walks, sets A/D flags, fills the TLB, or raises #PF (CR2 = `lin`).
    /// Returns the physical address before the A20 mask.
    #[inline(never)]
    pub(crate) fn tlb_miss<B: CpuBus>(&mut self, bus: &mut B, lin: u32, acc: Access, user: bool) -> Res<u32> {
        self.tlb.walks += 1;
        let r = self.walk_explain(bus, lin, acc, user);
        match r.result {
            Ok(m) => {
                let write = acc == Access::Write;
                let depth = r.depth;
                let mut dirty = m.dirty;
                for (i, l) in r.levels().iter().enumerate() {
                    if l.level == Level::Pdpte {
                        continue; // a register; PAE PDPTEs have no accessed flag
                    }
                    let leaf = i + 1 == depth;
                    let mut set = pte::A;
                    if leaf && write {
                        set |= pte::D;
                    }
                    if l.entry & set != set {
                        self.write_paging_entry(bus, l.addr, (l.entry | set) as u32);
                    }
                }
                if write {
                    dirty = true;
                }
                self.tlb.fill(lin, &m, dirty);
                Ok(m.phys)
            }
            Err(p) => {
                // A page fault invalidates the TLB entries for its address (SDM §4.10.4.1).
                self.tlb.invalidate_page(lin);
                self.cr2 = lin;
                Err(Fault::with_error(vector::PF, p.error, Why::Page { linear: lin, error: p.error }))
            }
        }
    }

    /// Writes the low dword of a paging-structure entry (A/D flags), keeping the decode cache
    /// coherent in case a page table shares a page with code.
    fn write_paging_entry<B: CpuBus>(&mut self, bus: &mut B, addr: u32, v: u32) {
        let p = addr & self.a20_mask;
        if self.cache.note_write(p, 4) {
            self.invalidate_cursor();
        }
        bus.write32(p, v);
    }

    /// Reads the four PDPTEs from the table at `cr3[31:5]` into the PDPTE registers (SDM Vol. 3A
    /// §4.4.1). A present PDPTE with a reserved bit set raises #GP(0) and leaves them unchanged.
    pub fn load_pdptes<B: CpuBus>(&mut self, bus: &mut B, cr3: u32) -> Res<()> {
        let base = cr3 & 0xFFFF_FFE0;
        let mut p = [0u64; 4];
        for (i, e) in p.iter_mut().enumerate() {
            *e = read64(bus, base.wrapping_add(8 * i as u32) & self.a20_mask);
            if *e & pte::P != 0 && *e & RSVD_PDPTE != 0 {
                return Err(Fault::gp0(Why::Selector {
                    selector: 0,
                    rule: "a present PAE PDPTE sets reserved bits (2:1, 8:5, or 63:32 beyond the 32-bit bus)",
                }));
            }
        }
        self.pdpte = p;
        Ok(())
    }

    /// MOV to CR3 (and the CR3 load of a task switch): with PAE paging on, loads the PDPTEs
    /// first (#GP(0) on reserved bits, CR3 unchanged); then invalidates every non-global TLB entry.
    pub fn load_cr3<B: CpuBus>(&mut self, bus: &mut B, v: u32) -> Res<()> {
        if self.paging_mode() == PagingMode::Pae {
            self.load_pdptes(bus, v)?;
        }
        self.cr3 = v;
        self.flush_tlb(false);
        Ok(())
    }

    /// MOV to CR4 for the paging bits: with PAE paging on afterwards and PAE, PGE or PSE
    /// changing, loads the PDPTEs (#GP(0) on reserved bits, CR4 unchanged); a change of PAE, PGE
    /// or PSE invalidates the whole TLB, global entries included. The caller checks which bits
    /// may be set.
    pub fn write_cr4<B: CpuBus>(&mut self, bus: &mut B, new: Cr4) -> Res<()> {
        let changed = self.cr4 ^ new;
        let paging_bits = Cr4::PAE | Cr4::PGE | Cr4::PSE;
        if self.cr0.contains(Cr0::PG) && new.contains(Cr4::PAE) && changed.intersects(paging_bits) {
            self.load_pdptes(bus, self.cr3)?;
        }
        self.cr4 = new;
        if changed.intersects(paging_bits) {
            self.flush_tlb(true);
        }
        Ok(())
    }

    /// INVLPG: drops the TLB entries of the page that holds `lin` (SDM Vol. 2A "INVLPG").
    pub fn invlpg(&mut self, lin: u32) {
        self.tlb.invalidate_page(lin);
        self.invalidate_cursor();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::regs::{Seg, SegAttr, Segment};

    /// Flat RAM, 8 MiB; reads beyond return 0xFF, writes beyond are dropped.
    struct Flat {
        mem: Vec<u8>,
    }

    impl Flat {
        fn new() -> Flat {
            Flat { mem: vec![0; 8 << 20] }
        }
        fn put32(&mut self, a: u32, v: u32) {
            self.mem[a as usize..a as usize + 4].copy_from_slice(&v.to_le_bytes());
        }
        fn get32(&self, a: u32) -> u32 {
            u32::from_le_bytes(self.mem[a as usize..a as usize + 4].try_into().unwrap())
        }
        fn put64(&mut self, a: u32, v: u64) {
            self.mem[a as usize..a as usize + 8].copy_from_slice(&v.to_le_bytes());
        }
        fn get64(&self, a: u32) -> u64 {
            u64::from_le_bytes(self.mem[a as usize..a as usize + 8].try_into().unwrap())
        }
    }

    impl CpuBus for Flat {
        fn read8(&mut self, addr: u32) -> u8 {
            self.mem.get(addr as usize).copied().unwrap_or(0xFF)
        }
        fn write8(&mut self, addr: u32, value: u8) {
            if let Some(b) = self.mem.get_mut(addr as usize) {
                *b = value;
            }
        }
        fn ram(&mut self) -> &mut [u8] {
            &mut self.mem
        }
        fn ram_page(&self, page: u32) -> bool {
            page as usize + 0x1000 <= self.mem.len()
        }
        fn io_in(&mut self, _port: u16, _size: u8) -> u32 {
            0xFFFF_FFFF
        }
        fn io_out(&mut self, _port: u16, _size: u8, _value: u32) {}
    }

    const P: u32 = 1;
    const RW: u32 = 2;
    const US: u32 = 4;
    const A: u32 = 0x20;
    const D: u32 = 0x40;
    const PS: u32 = 0x80;
    const G: u32 = 0x100;

    const PD: u32 = 0x10_0000; // page directory
    const PT: u32 = 0x10_1000; // a page table for linear 0x0040_0000..0x0080_0000

    /// 32-bit paging: CR3 = PD; PDE[1] -> PT with `pde_flags`; PTE[n] maps linear
    /// 0x0040_0000 + n*4K to physical 0x20_0000 + n*4K with `pte_flags`.
    fn setup32(pde_flags: u32, pte_flags: u32) -> (Cpu, Flat) {
        let mut bus = Flat::new();
        let mut cpu = Cpu::new();
        cpu.cr0 = Cr0::PE | Cr0::PG | Cr0::ET;
        cpu.cr3 = PD;
        bus.put32(PD + 4, PT | pde_flags);
        for n in 0..16 {
            bus.put32(PT + 4 * n, (0x20_0000 + n * 0x1000) | pte_flags);
        }
        (cpu, bus)
    }

    fn pf_err(r: Res<u32>) -> u32 {
        match r {
            Err(f) if f.vector == vector::PF => f.error.unwrap_or(0xDEAD),
            other => panic!("expected #PF, got {other:?}"),
        }
    }

    /// The data-access fast table: filled after a slow-path access once A (reads) or D
    /// (writes) is set, keyed by CPL, dropped with the TLB entry, by INVLPG, CR3 and A20
    /// changes, and (write entries) when the page gains cached code.
    #[test]
    fn fast_table_follows_the_tlb() {
        let (mut cpu, mut bus) = setup32(P | RW, P | RW);
        let ds = Seg::Ds;
        cpu.seg[ds as usize] =
            Segment { selector: 0x10, base: 0, limit: u32::MAX, attr: SegAttr::from_bits_retain(0xC093) };
        assert_eq!(cpu.read32(&mut bus, ds, 0x0040_0010), Ok(0));
        assert_eq!(cpu.tlb.fast_read(0x0040_0010, false), Some(0x20_0010));
        assert_eq!(cpu.tlb.fast_write(0x0040_0010, false), None, "no write entry before D is set");
        assert_eq!(bus.get32(PT) & D, 0);
        cpu.write32(&mut bus, ds, 0x0040_0010, 0x1234_5678).unwrap();
        assert_ne!(bus.get32(PT) & D, 0, "the slow path set D");
        assert_eq!(cpu.tlb.fast_write(0x0040_0010, false), Some(0x20_0010));
        assert_eq!(bus.get32(0x20_0010), 0x1234_5678);
        // Hits go to RAM without a walk.
        let walks = cpu.tlb.walks;
        cpu.write16(&mut bus, ds, 0x0040_0FFE, 0xBEEF).unwrap();
        assert_eq!(cpu.read16(&mut bus, ds, 0x0040_0FFE), Ok(0xBEEF));
        assert_eq!(bus.get32(0x20_0FFC) >> 16, 0xBEEF);
        assert_eq!(cpu.tlb.walks, walks);
        // An access that crosses into the next page takes the slow path.
        cpu.write32(&mut bus, ds, 0x0040_0FFE, 0xAABB_CCDD).unwrap();
        assert_eq!(bus.get32(0x20_1000) & 0xFFFF, 0xAABB);
        // Keyed by CPL: a user access to this supervisor page still faults.
        cpu.cpl = 3;
        assert_eq!(cpu.tlb.fast_read(0x0040_0010, true), None);
        assert_eq!(cpu.read32(&mut bus, ds, 0x0040_0010).unwrap_err().vector, vector::PF);
        cpu.cpl = 0;
        assert_eq!(cpu.read32(&mut bus, ds, 0x0040_0010), Ok(0x1234_5678));
        // A page that gains cached code loses its write entry, keeps its read entry.
        cpu.tlb.code_page(0x200);
        assert_eq!(cpu.tlb.fast_write(0x0040_0010, false), None);
        assert_eq!(cpu.tlb.fast_read(0x0040_0010, false), Some(0x20_0010));
        // INVLPG and CR3 loads drop entries; a stale PTE is then walked again.
        cpu.write32(&mut bus, ds, 0x0040_0010, 1).unwrap();
        assert!(cpu.tlb.fast_write(0x0040_0010, false).is_some());
        cpu.invlpg(0x0040_0000);
        assert_eq!(cpu.tlb.fast_read(0x0040_0010, false), None);
        assert_eq!(cpu.tlb.fast_write(0x0040_0010, false), None);
        bus.put32(PT, 0x20_5000 | P | RW | A | D);
        assert_eq!(cpu.read32(&mut bus, ds, 0x0040_0010), Ok(0));
        assert_eq!(cpu.tlb.fast_read(0x0040_0010, false), Some(0x20_5010));
        cpu.load_cr3(&mut bus, PD).unwrap();
        assert_eq!(cpu.tlb.fast_read(0x0040_0010, false), None);
        // A data breakpoint keeps accesses on the slow path (and fills nothing).
        cpu.data_bps = 1;
        assert_eq!(cpu.read32(&mut bus, ds, 0x0040_0010), Ok(0));
        assert_eq!(cpu.tlb.fast_read(0x0040_0010, false), None);
        cpu.data_bps = 0;
        // Paging off: the identity mapping (after A20), flushed with the TLB.
        cpu.cr0 = Cr0::PE | Cr0::ET;
        cpu.flush_tlb(true);
        cpu.write8(&mut bus, ds, 0x0012_3456, 7).unwrap();
        assert_eq!(cpu.tlb.fast_write(0x0012_3456, false), Some(0x12_3456));
        cpu.a20_mask = !(1 << 20);
        cpu.flush_tlb(true);
        cpu.write8(&mut bus, ds, 0x0012_3456, 9).unwrap();
        assert_eq!(cpu.tlb.fast_write(0x0012_3456, false), Some(0x02_3456));
        assert_eq!((bus.mem[0x12_3456], bus.mem[0x02_3456]), (7, 9));
        // Pages the bus does not call plain RAM are never cached.
        cpu.a20_mask = u32::MAX;
        cpu.flush_tlb(true);
        assert_eq!(cpu.read8(&mut bus, ds, 0x007F_F000), Ok(0));
        assert_eq!(cpu.tlb.fast_read(0x007F_F000, false), Some(0x7F_F000));
        assert_eq!(cpu.read8(&mut bus, ds, 0x0080_0000), Ok(0xFF));
        assert_eq!(cpu.tlb.fast_read(0x0080_0000, false), None);
    }

    #[test]
    fn paging_off_is_identity_with_a20() {
        let mut cpu = Cpu::new();
        let mut bus = Flat::new();
        assert_eq!(cpu.translate(&mut bus, 0x12_3456, Access::Read), Ok(0x12_3456));
        cpu.a20_mask = !(1 << 20);
        assert_eq!(cpu.translate(&mut bus, 0x10_0010, Access::Write), Ok(0x10));
    }

    #[test]
    fn four_k_page_translates_and_sets_accessed() {
        let (mut cpu, mut bus) = setup32(P | RW | US, P | RW | US);
        assert_eq!(cpu.translate(&mut bus, 0x0040_1234, Access::Read), Ok(0x20_1234));
        assert_eq!(bus.get32(PD + 4), PT | P | RW | US | A, "A set in the PDE");
        assert_eq!(bus.get32(PT + 4), 0x20_1000 | P | RW | US | A, "A set in the PTE, D not on a read");
        // A write sets D in the PTE only.
        assert_eq!(cpu.translate(&mut bus, 0x0040_1238, Access::Write), Ok(0x20_1238));
        assert_eq!(bus.get32(PT + 4), 0x20_1000 | P | RW | US | A | D);
        assert_eq!(bus.get32(PD + 4), PT | P | RW | US | A, "no D in a PDE that references a table");
        // Other pages of the table are untouched.
        assert_eq!(bus.get32(PT + 8), 0x20_2000 | P | RW | US);
    }

    #[test]
    fn accessed_and_dirty_are_not_rewritten() {
        let (mut cpu, mut bus) = setup32(P | RW | A, P | RW | A | D);
        // Change the entries' ignored bits behind the CPU's back: if the walk rewrote an entry
        // it would store its own copy, which has bit 9 clear.
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Write), Ok(0x20_0000));
        let walks = cpu.tlb.walks;
        bus.put32(PT, 0x20_0000 | P | RW | A | D | 0x200);
        // A TLB hit does not walk.
        assert_eq!(cpu.translate(&mut bus, 0x0040_0004, Access::Write), Ok(0x20_0004));
        assert_eq!(cpu.tlb.walks, walks);
        assert_eq!(bus.get32(PT), 0x20_0000 | P | RW | A | D | 0x200);
        // A walk over entries with A and D already set writes nothing.
        cpu.flush_tlb(true);
        let before = bus.mem.clone();
        assert_eq!(cpu.translate(&mut bus, 0x0040_0008, Access::Write), Ok(0x20_0008));
        assert!(bus.mem == before, "no page-table writes when A/D are already set");
    }

    #[test]
    fn write_to_clean_page_walks_again_to_set_dirty() {
        let (mut cpu, mut bus) = setup32(P | RW, P | RW);
        cpu.translate(&mut bus, 0x0040_0000, Access::Read).unwrap();
        let view = cpu.tlb.probe(0x0040_0000).expect("cached");
        assert!(!view.dirty);
        assert_eq!(view.perms & Perm::WRITES, 0, "no write permission cached before D is set");
        assert_eq!(bus.get32(PT) & D, 0);
        let walks = cpu.tlb.walks;
        cpu.translate(&mut bus, 0x0040_0010, Access::Write).unwrap();
        assert_eq!(cpu.tlb.walks, walks + 1, "the first write walks");
        assert_ne!(bus.get32(PT) & D, 0, "and sets D");
        let view = cpu.tlb.probe(0x0040_0000).expect("cached");
        assert!(view.dirty);
        cpu.translate(&mut bus, 0x0040_0020, Access::Write).unwrap();
        assert_eq!(cpu.tlb.walks, walks + 1, "later writes hit");
    }

    #[test]
    fn four_m_page_with_pse() {
        let mut bus = Flat::new();
        let mut cpu = Cpu::new();
        cpu.cr0 = Cr0::PE | Cr0::PG | Cr0::ET;
        cpu.cr4 = Cr4::PSE;
        cpu.cr3 = PD;
        // PDE[2] (linear 0x0080_0000) maps the 4 MiB page at physical 0x0040_0000.
        bus.put32(PD + 8, 0x0040_0000 | P | RW | PS);
        assert_eq!(cpu.translate(&mut bus, 0x0092_3456, Access::Write), Ok(0x0052_3456));
        assert_eq!(bus.get32(PD + 8), 0x0040_0000 | P | RW | PS | A | D, "A and D in the 4 MiB PDE");
        assert!(cpu.tlb.probe(0x0092_3000).expect("cached").large);
        // Without CR4.PSE the PS flag is ignored: the PDE references a page table at 0x40_0000.
        let mut cpu2 = Cpu::new();
        cpu2.cr0 = Cr0::PE | Cr0::PG | Cr0::ET;
        cpu2.cr3 = PD;
        bus.put32(0x0040_0000 + 4 * 0x123, 0x0030_0000 | P);
        assert_eq!(cpu2.translate(&mut bus, 0x0092_3456, Access::Read), Ok(0x0030_0456));
    }

    #[test]
    fn four_m_page_reserved_bits() {
        let mut bus = Flat::new();
        let mut cpu = Cpu::new();
        cpu.cr0 = Cr0::PE | Cr0::PG | Cr0::ET;
        cpu.cr4 = Cr4::PSE;
        cpu.cr3 = PD;
        bus.put32(PD + 8, 0x0040_0000 | P | RW | PS | (1 << 13));
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0080_0000, Access::Read)), pf::P | pf::RSVD);
        assert_eq!(cpu.cr2, 0x0080_0000);
        assert_eq!(bus.get32(PD + 8) & A, 0, "a faulting walk sets no A flag");
        // Bit 12 (PAT, not supported) too.
        bus.put32(PD + 8, 0x0040_0000 | P | RW | PS | (1 << 12));
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0080_0000, Access::Write)), pf::P | pf::RSVD | pf::WR);
        // PTE bit 7 is reserved while CR4.PSE = 1, ignored otherwise.
        let (mut cpu, mut bus) = setup32(P | RW, P | RW | 0x80);
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x20_0000));
        cpu.cr4 = Cr4::PSE;
        cpu.flush_tlb(true);
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0040_0000, Access::Read)), pf::P | pf::RSVD);
    }

    #[test]
    fn not_present_at_each_level_32bit() {
        let (mut cpu, mut bus) = setup32(P | RW | US, P | RW | US);
        // PDE[0] not present.
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0000_1000, Access::Read)), 0);
        assert_eq!(cpu.cr2, 0x0000_1000);
        // PTE not present, user write: error code W/R and U/S, P = 0.
        bus.put32(PT + 4 * 5, 0);
        cpu.cpl = 3;
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0040_5ABC, Access::Write)), pf::WR | pf::US);
        assert_eq!(cpu.cr2, 0x0040_5ABC);
        // Instruction fetch: I/D stays 0.
        cpu.cpl = 0;
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0040_5000, Access::Exec)), 0);
        let r = cpu.walk_explain(&mut bus, 0x0040_5000, Access::Read, false);
        assert_eq!(r.result.unwrap_err().level, Some(Level::Pte));
        assert_eq!(r.levels().len(), 2);
    }

    #[test]
    fn user_access_rules() {
        // Supervisor PDE, user PTE: user read faults with P, U/S.
        let (mut cpu, mut bus) = setup32(P | RW, P | RW | US);
        cpu.cpl = 3;
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0040_0010, Access::Read)), pf::P | pf::US);
        assert_eq!(cpu.cr2, 0x0040_0010);
        assert_eq!(bus.get32(PT) & A, 0, "no A flag on a protection fault");
        // The same access as a supervisor (CPL 0, or an implicit system access at CPL 3) works.
        assert_eq!(cpu.translate_sys(&mut bus, 0x0040_0010, Access::Read), Ok(0x20_0010));
        cpu.cpl = 0;
        assert_eq!(cpu.translate(&mut bus, 0x0040_0010, Access::Write), Ok(0x20_0010));
        // User PDE, read-only PTE: user read works, user write faults with P, W/R, U/S.
        let (mut cpu, mut bus) = setup32(P | RW | US, P | US);
        cpu.cpl = 3;
        assert_eq!(cpu.translate(&mut bus, 0x0040_0010, Access::Read), Ok(0x20_0010));
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0040_0010, Access::Write)), pf::P | pf::WR | pf::US);
        assert_eq!(bus.get32(PT) & D, 0, "no D flag on a faulting write");
        // Read-only PDE, writable PTE: still read-only for the user.
        let (mut cpu, mut bus) = setup32(P | US, P | RW | US);
        cpu.cpl = 3;
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0040_0010, Access::Write)), pf::P | pf::WR | pf::US);
        // The cached read translation does not let a later user write through.
        let (mut cpu, mut bus) = setup32(P | RW | US, P | US);
        cpu.cpl = 3;
        cpu.translate(&mut bus, 0x0040_0000, Access::Read).unwrap();
        assert!(cpu.translate(&mut bus, 0x0040_0000, Access::Write).is_err());
    }

    #[test]
    fn supervisor_write_and_wp() {
        let (mut cpu, mut bus) = setup32(P | US, P | US);
        // WP = 0: a supervisor may write a read-only page (and D is set).
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Write), Ok(0x20_0000));
        assert_ne!(bus.get32(PT) & D, 0);
        // WP = 1 (MOV CR0 flushes the TLB): the same write faults, P | W/R, U/S = 0.
        cpu.write_cr0(&mut bus, (cpu.cr0 | Cr0::WP).bits()).unwrap();
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0040_1000, Access::Write)), pf::P | pf::WR);
        assert_eq!(cpu.cr2, 0x0040_1000);
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0040_0000, Access::Write)), pf::P | pf::WR);
        // Supervisor reads are fine.
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x20_0000));
        // A supervisor-only read-only page with WP = 1 faults the same way.
        let (mut cpu, mut bus) = setup32(P | RW, P);
        cpu.cr0 |= Cr0::WP;
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0040_0000, Access::Write)), pf::P | pf::WR);
    }

    #[test]
    fn linear_writes_check_both_pages_first() {
        let (mut cpu, mut bus) = setup32(P | RW | US, P | RW | US);
        bus.put32(PT + 4, 0); // linear 0x0040_1000 not present
        let r = cpu.write_lin32(&mut bus, 0x0040_0FFE, 0xAABB_CCDD);
        assert_eq!(r.map_err(|f| f.vector), Err(vector::PF));
        assert_eq!(cpu.cr2, 0x0040_1000);
        assert_eq!(&bus.mem[0x20_0FFE..0x20_1000], &[0, 0], "nothing written to the first page");
        bus.put32(PT + 4, 0x30_0000 | P | RW | US);
        cpu.write_lin32(&mut bus, 0x0040_0FFE, 0xAABB_CCDD).unwrap();
        assert_eq!(&bus.mem[0x20_0FFE..0x20_1000], &[0xDD, 0xCC]);
        assert_eq!(&bus.mem[0x30_0000..0x30_0002], &[0xBB, 0xAA]);
        assert_eq!(cpu.read_lin32(&mut bus, 0x0040_0FFE), Ok(0xAABB_CCDD));
        // Explicit user/supervisor accessors.
        bus.put32(PT + 8, 0x0031_0000 | P | RW);
        assert!(cpu.read_lin32_as(&mut bus, 0x0040_2000, true).is_err());
        assert_eq!(cpu.write_lin16_as(&mut bus, 0x0040_2000, 0x1234, false), Ok(()));
        assert_eq!(cpu.read_lin16_as(&mut bus, 0x0040_2000, false), Ok(0x1234));
    }

    #[test]
    fn tlb_is_not_coherent_and_cr3_write_flushes() {
        let (mut cpu, mut bus) = setup32(P | RW, P | RW);
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x20_0000));
        // Remap behind the TLB's back: the stale translation is still used.
        bus.put32(PT, 0x0033_3000 | P | RW | A);
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x20_0000));
        // MOV CR3 (same value) flushes non-global entries.
        cpu.load_cr3(&mut bus, PD).unwrap();
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x33_3000));
        // A different CR3 switches address spaces.
        let pd2 = 0x18_0000;
        bus.put32(pd2 + 4, 0x18_1000 | P | RW);
        bus.put32(0x18_1000, 0x0044_4000 | P | RW);
        cpu.load_cr3(&mut bus, pd2).unwrap();
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x44_4000));
    }

    #[test]
    fn global_entries_survive_cr3_but_not_invlpg() {
        let (mut cpu, mut bus) = setup32(P | RW, P | RW | G);
        bus.put32(PT + 4, 0x20_1000 | P | RW); // page 1 is not global
        cpu.write_cr4(&mut bus, Cr4::PGE).unwrap();
        cpu.translate(&mut bus, 0x0040_0000, Access::Read).unwrap();
        cpu.translate(&mut bus, 0x0040_1000, Access::Read).unwrap();
        assert!(cpu.tlb.probe(0x0040_0000).unwrap().global);
        // Remap both pages, reload CR3: the global one keeps its old translation.
        bus.put32(PT, 0x0050_0000 | P | RW | G);
        bus.put32(PT + 4, 0x0050_1000 | P | RW);
        cpu.load_cr3(&mut bus, PD).unwrap();
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x20_0000));
        assert_eq!(cpu.translate(&mut bus, 0x0040_1000, Access::Read), Ok(0x50_1000));
        // INVLPG drops the global entry.
        cpu.invlpg(0x0040_0FFF);
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x50_0000));
        // Clearing CR4.PGE flushes everything.
        bus.put32(PT, 0x0060_0000 | P | RW | G);
        cpu.write_cr4(&mut bus, Cr4::empty()).unwrap();
        assert!(cpu.tlb.is_empty());
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x60_0000));
        // Without PGE the G bit is ignored: CR3 reload flushes it.
        bus.put32(PT, 0x0061_0000 | P | RW | G);
        cpu.load_cr3(&mut bus, PD).unwrap();
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x61_0000));
    }

    #[test]
    fn invlpg_drops_a_whole_large_page() {
        let mut bus = Flat::new();
        let mut cpu = Cpu::new();
        cpu.cr0 = Cr0::PE | Cr0::PG | Cr0::ET;
        cpu.cr4 = Cr4::PSE;
        cpu.cr3 = PD;
        bus.put32(PD + 8, 0x0040_0000 | P | RW | PS);
        cpu.translate(&mut bus, 0x0080_0000, Access::Read).unwrap();
        cpu.translate(&mut bus, 0x0085_5000, Access::Read).unwrap();
        bus.put32(PD + 8, P | RW | PS); // physical 0
        cpu.invlpg(0x0080_0000);
        assert_eq!(cpu.translate(&mut bus, 0x0085_5123, Access::Read), Ok(0x0005_5123));
    }

    #[test]
    fn a_page_fault_drops_the_stale_entry() {
        let (mut cpu, mut bus) = setup32(P | RW | US, P | US);
        cpu.cpl = 3;
        cpu.translate(&mut bus, 0x0040_0000, Access::Read).unwrap();
        assert!(cpu.tlb.probe(0x0040_0000).is_some());
        assert!(cpu.translate(&mut bus, 0x0040_0000, Access::Write).is_err());
        assert!(cpu.tlb.probe(0x0040_0000).is_none());
    }

    // ---- PAE -------------------------------------------------------------------------

    const PDPT: u32 = 0x10_0FE0; // 32-byte aligned, not page aligned
    const PAE_PD: u32 = 0x12_0000;
    const PAE_PT: u32 = 0x12_1000;

    /// PAE: PDPTE[1] (linear 1-2 GiB) -> PAE_PD; PDE[2] (linear 0x4040_0000) -> PAE_PT; PTE[n]
    /// maps 0x4040_0000 + n*4K to 0x20_0000 + n*4K; PDE[3] maps a 2 MiB page at 0x60_0000.
    fn setup_pae(pde_flags: u64, pte_flags: u64) -> (Cpu, Flat) {
        let mut bus = Flat::new();
        let mut cpu = Cpu::new();
        bus.put64(PDPT + 8, PAE_PD as u64 | 1);
        bus.put64(PAE_PD + 2 * 8, PAE_PT as u64 | pde_flags);
        bus.put64(PAE_PD + 3 * 8, 0x60_0000 | 0x83 | 4);
        for n in 0..16u32 {
            bus.put64(PAE_PT + 8 * n, (0x20_0000 + n as u64 * 0x1000) | pte_flags);
        }
        cpu.cr0 = Cr0::PE | Cr0::ET;
        cpu.cr3 = PDPT;
        cpu.write_cr4(&mut bus, Cr4::PAE).unwrap();
        cpu.write_cr0(&mut bus, (Cr0::PE | Cr0::PG | Cr0::ET).bits()).unwrap();
        assert_eq!(cpu.pdpte[1], PAE_PD as u64 | 1, "PDPTEs loaded when paging is enabled");
        (cpu, bus)
    }

    #[test]
    fn pae_four_k_and_two_m_pages() {
        let (mut cpu, mut bus) = setup_pae(0x7, 0x7);
        assert_eq!(cpu.paging_mode(), PagingMode::Pae);
        assert_eq!(cpu.translate(&mut bus, 0x4040_3ABC, Access::Write), Ok(0x20_3ABC));
        assert_eq!(bus.get64(PAE_PD + 16), PAE_PT as u64 | 0x27, "A in the PDE");
        assert_eq!(bus.get64(PAE_PT + 24), 0x20_3000 | 0x67, "A and D in the PTE");
        assert_eq!(bus.get64(PDPT + 8), PAE_PD as u64 | 1, "PDPTEs have no A flag");
        // 2 MiB page: PDE[3] covers 0x4060_0000..0x4080_0000.
        assert_eq!(cpu.translate(&mut bus, 0x4071_2345, Access::Read), Ok(0x71_2345));
        assert_eq!(bus.get64(PAE_PD + 24), 0x60_0000 | 0x87 | 0x20);
        let r = cpu.walk_explain(&mut bus, 0x4071_2345, Access::Read, true);
        assert_eq!(r.levels().len(), 2);
        assert_eq!(r.result.unwrap().page_size, 0x20_0000);
    }

    #[test]
    fn pae_not_present_at_each_level() {
        let (mut cpu, mut bus) = setup_pae(0x7, 0x7);
        // PDPTE[0] not present.
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x0000_1000, Access::Read)), 0);
        // PDE[0] of PDPTE[1] not present.
        cpu.cpl = 3;
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4000_0000, Access::Write)), pf::WR | pf::US);
        assert_eq!(cpu.cr2, 0x4000_0000);
        // PTE not present.
        cpu.cpl = 0;
        bus.put64(PAE_PT + 8 * 9, 0x20_9000);
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_9000, Access::Read)), 0);
        assert_eq!(cpu.cr2, 0x4040_9000);
    }

    #[test]
    fn pae_reserved_bits() {
        let (mut cpu, mut bus) = setup_pae(0x7, 0x7);
        // XD (bit 63) is reserved without EFER.NXE.
        bus.put64(PAE_PT, 0x20_0000 | 0x7 | pte::XD);
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_0000, Access::Read)), pf::P | pf::RSVD);
        // Address bits above 31: beyond x86lab's bus.
        bus.put64(PAE_PT + 8, 0x1_0020_1000 | 0x7);
        cpu.cpl = 3;
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_1000, Access::Write)), pf::P | pf::RSVD | pf::WR | pf::US);
        cpu.cpl = 0;
        // PTE bit 7 (PAT) is reserved.
        bus.put64(PAE_PT + 16, 0x20_2000 | 0x7 | 0x80);
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_2000, Access::Read)), pf::P | pf::RSVD);
        // 2 MiB PDE with bit 13 set.
        bus.put64(PAE_PD + 24, 0x60_0000 | 0x87 | (1 << 13));
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4060_0000, Access::Read)), pf::P | pf::RSVD);
        let r = cpu.walk_explain(&mut bus, 0x4060_0000, Access::Read, false);
        assert_eq!(r.result.unwrap_err().reserved, 1 << 13);
        // PDE referencing a table with a high bit.
        bus.put64(PAE_PD + 16, PAE_PT as u64 | 0x7 | (1 << 40));
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_3000, Access::Read)), pf::P | pf::RSVD);
        // Reserved bits in a not-present entry are not checked.
        bus.put64(PAE_PD + 16, 0xFFFF_FFFF_FFFF_FFFE);
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_3000, Access::Read)), 0);
    }

    #[test]
    fn pae_pdpte_reserved_bits_fault_the_mov() {
        let (mut cpu, mut bus) = setup_pae(0x7, 0x7);
        let pdpt2 = 0x13_0000;
        bus.put64(pdpt2, 0x14_0000 | 1 | 2); // bit 1 reserved in a PDPTE
        let r = cpu.load_cr3(&mut bus, pdpt2);
        assert_eq!(r.map_err(|f| (f.vector, f.error)), Err((vector::GP, Some(0))));
        assert_eq!(cpu.cr3, PDPT, "CR3 unchanged");
        assert_eq!(cpu.pdpte[1], PAE_PD as u64 | 1, "PDPTE registers unchanged");
        // A not-present PDPTE may hold anything.
        bus.put64(pdpt2, 0xFFFF_FFFF_FFFF_FFFE);
        assert_eq!(cpu.load_cr3(&mut bus, pdpt2), Ok(()));
        // Enabling paging with a bad PDPTE faults the MOV to CR0 and leaves PG clear.
        let mut cpu = Cpu::new();
        cpu.cr0 = Cr0::PE | Cr0::ET;
        cpu.cr4 = Cr4::PAE;
        cpu.cr3 = 0x13_0000;
        bus.put64(0x13_0008, 0x1_0000_0001); // address bit 32
        assert!(cpu.write_cr0(&mut bus, (Cr0::PE | Cr0::PG | Cr0::ET).bits()).is_err());
        assert!(!cpu.cr0.contains(Cr0::PG));
        // And setting CR4.PAE while paging is on, likewise.
        let (mut cpu, mut bus) = setup32(P | RW, P | RW);
        bus.put64(PD, 0x1_0000_0001);
        assert!(cpu.write_cr4(&mut bus, Cr4::PAE).is_err());
        assert_eq!(cpu.cr4, Cr4::empty());
    }

    #[test]
    fn pae_pdptes_are_registers() {
        let (mut cpu, mut bus) = setup_pae(0x7, 0x7);
        // Changing the PDPT in memory has no effect until CR3 is loaded again.
        bus.put64(PDPT + 8, 0);
        cpu.flush_tlb(true);
        assert_eq!(cpu.translate(&mut bus, 0x4040_0000, Access::Read), Ok(0x20_0000));
        cpu.load_cr3(&mut bus, PDPT).unwrap();
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_0000, Access::Read)), 0);
    }

    #[test]
    fn pae_user_and_wp_rules() {
        // PDE without U/S: user accesses fault; PDE without R/W: writes fault.
        let (mut cpu, mut bus) = setup_pae(0x3, 0x7);
        cpu.cpl = 3;
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_0000, Access::Read)), pf::P | pf::US);
        let (mut cpu, mut bus) = setup_pae(0x5, 0x7);
        cpu.cpl = 3;
        assert_eq!(cpu.translate(&mut bus, 0x4040_0000, Access::Read), Ok(0x20_0000));
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_0000, Access::Write)), pf::P | pf::WR | pf::US);
        cpu.cpl = 0;
        assert_eq!(cpu.translate(&mut bus, 0x4040_0000, Access::Write), Ok(0x20_0000));
        cpu.write_cr0(&mut bus, (cpu.cr0 | Cr0::WP).bits()).unwrap();
        assert_eq!(pf_err(cpu.translate(&mut bus, 0x4040_1000, Access::Write)), pf::P | pf::WR);
    }

    #[test]
    fn explain_reports_levels_and_changes_nothing() {
        let (cpu, mut bus) = setup32(P | RW | US, P | US);
        let before = bus.mem.clone();
        let r = cpu.walk_explain(&mut bus, 0x0040_1234, Access::Write, true);
        assert!(bus.mem == before);
        assert!(cpu.tlb.is_empty());
        assert_eq!(r.levels().len(), 2);
        assert_eq!(r.levels()[0].level, Level::Pde);
        assert_eq!(r.levels()[0].addr, PD + 4);
        assert_eq!(r.levels()[1].entry, (0x20_1000 | P | US) as u64);
        let f = r.result.unwrap_err();
        assert_eq!(f.error, pf::P | pf::WR | pf::US);
        let text = r.to_string();
        assert!(text.contains("read-only"), "{text}");
        assert!(text.contains("PTE"), "{text}");
        let ok = cpu.walk_explain(&mut bus, 0x0040_1234, Access::Read, true);
        assert_eq!(ok.result.unwrap().phys, 0x20_1234);
        assert!(ok.to_string().contains("0x00201234"), "{ok}");
    }

    /// MOV CR3, INVLPG and CPUID through the instruction decoder, in 32-bit protected mode.
    fn run(cpu: &mut Cpu, bus: &mut Flat, code: &[u8], at: u32, steps: usize) {
        bus.mem[at as usize..at as usize + code.len()].copy_from_slice(code);
        cpu.seg[Seg::Cs as usize] = Segment {
            selector: 8,
            base: 0,
            limit: u32::MAX,
            attr: SegAttr::P | SegAttr::S | SegAttr::CODE | SegAttr::RW | SegAttr::DB,
        };
        for s in [Seg::Ds, Seg::Es, Seg::Ss] {
            cpu.seg[s as usize] = Segment {
                selector: 16,
                base: 0,
                limit: u32::MAX,
                attr: SegAttr::P | SegAttr::S | SegAttr::RW | SegAttr::DB,
            };
        }
        cpu.eip = at;
        for _ in 0..steps {
            cpu.step(bus);
        }
    }

    /// The exception the last instruction raised (there is no IDT, so its delivery became #DF).
    fn first_fault(cpu: &Cpu) -> Option<u8> {
        cpu.last_fault.map(|r| match r.fault.why {
            Why::DoubleFault { first, .. } => first,
            _ => r.fault.vector,
        })
    }

    #[test]
    fn instructions_mov_cr3_invlpg_cpuid() {
        let (mut cpu, mut bus) = setup32(P | RW, P | RW);
        // Identity-map the code page 0x0000_0000..0x0040_0000 with a 4 KiB table at 0x10_2000.
        bus.put32(PD, 0x10_2000 | P | RW);
        for n in 0..0x400 {
            bus.put32(0x10_2000 + 4 * n, (n << 12) | P | RW);
        }
        cpu.translate(&mut bus, 0x0040_0000, Access::Read).unwrap();
        bus.put32(PT, 0x0070_0000 | P | RW);
        // invlpg [0x400000]; mov eax, 1; cpuid
        let code = [0x0F, 0x01, 0x3D, 0x00, 0x00, 0x40, 0x00, 0xB8, 0x01, 0, 0, 0, 0x0F, 0xA2];
        run(&mut cpu, &mut bus, &code, 0x1000, 3);
        assert_eq!(cpu.eip, 0x1000 + code.len() as u32, "{:?}", cpu.last_fault);
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x70_0000));
        let edx = cpu.gpr[crate::cpu::regs::EDX];
        assert_eq!(edx & (1 << 3 | 1 << 6 | 1 << 13), 1 << 3 | 1 << 6 | 1 << 13, "PSE, PAE, PGE");
        // mov eax, cr3 ; mov cr3, eax ; mov eax, cr4 ; or al, 0x90 ; mov cr4, eax
        bus.put32(PT, 0x0071_0000 | P | RW);
        let code = [0x0F, 0x20, 0xD8, 0x0F, 0x22, 0xD8, 0x0F, 0x20, 0xE0, 0x0C, 0x90, 0x0F, 0x22, 0xE0];
        run(&mut cpu, &mut bus, &code, 0x2000, 5);
        assert_eq!(cpu.eip, 0x2000 + code.len() as u32, "{:?}", cpu.last_fault);
        assert_eq!(cpu.cr4, Cr4::PSE | Cr4::PGE);
        assert_eq!(cpu.translate(&mut bus, 0x0040_0000, Access::Read), Ok(0x71_0000));
        // An unsupported CR4 bit (VME) raises #GP: mov eax, 1 ; mov cr4, eax
        let code = [0xB8, 0x01, 0, 0, 0, 0x0F, 0x22, 0xE0];
        run(&mut cpu, &mut bus, &code, 0x3000, 2);
        assert_eq!(first_fault(&cpu), Some(vector::GP));
        assert_eq!(cpu.cr4, Cr4::PSE | Cr4::PGE);
    }

    #[test]
    fn invlpg_needs_cpl0_and_memory() {
        let (mut cpu, mut bus) = setup32(P | RW | US, P | RW | US);
        bus.put32(PD, 0x10_2000 | P | RW | US);
        for n in 0..0x400 {
            bus.put32(0x10_2000 + 4 * n, (n << 12) | P | RW | US);
        }
        cpu.cpl = 3;
        // invlpg [eax]
        run(&mut cpu, &mut bus, &[0x0F, 0x01, 0x38], 0x1000, 1);
        assert_eq!(first_fault(&cpu), Some(vector::GP));
        assert_eq!(cpu.eip, 0x1000);
    }
}
