//! Registers of an IA-32 processor: the eight general registers, EIP, the segment registers with
//! their hidden descriptor caches, and the system registers.
//!
//! Intel SDM Vol. 1 §3.4 (basic program execution registers), Vol. 3A §3.4.3 (segment registers and
//! their hidden part), §2.4 (GDTR, LDTR, IDTR, TR) and §2.5 (control registers).
//! EFLAGS lives in [`super::flags`] because x86lab computes its arithmetic flags lazily.

use bitflags::bitflags;

/// Index of a general register, in the order the instruction encoding uses (SDM Vol. 2A §2.1.5).
pub const EAX: usize = 0;
pub const ECX: usize = 1;
pub const EDX: usize = 2;
pub const EBX: usize = 3;
pub const ESP: usize = 4;
pub const EBP: usize = 5;
pub const ESI: usize = 6;
pub const EDI: usize = 7;

/// Names of the general registers by encoding number, for the debugger and logs.
pub const GPR_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

/// A segment register, numbered as in the `sreg` field of ModRM (SDM Vol. 2A Table 2-6 note).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Seg {
    Es = 0,
    Cs = 1,
    Ss = 2,
    Ds = 3,
    Fs = 4,
    Gs = 5,
}

impl Seg {
    pub const ALL: [Seg; 6] = [Seg::Es, Seg::Cs, Seg::Ss, Seg::Ds, Seg::Fs, Seg::Gs];

    pub fn name(self) -> &'static str {
        ["es", "cs", "ss", "ds", "fs", "gs"][self as usize]
    }

    /// The segment register for an iced-x86 register, if it is one.
    pub fn from_iced(r: iced_x86::Register) -> Option<Seg> {
        use iced_x86::Register as R;
        Some(match r {
            R::ES => Seg::Es,
            R::CS => Seg::Cs,
            R::SS => Seg::Ss,
            R::DS => Seg::Ds,
            R::FS => Seg::Fs,
            R::GS => Seg::Gs,
            _ => return None,
        })
    }
}

bitflags! {
    /// The access-rights part of a descriptor as the hidden cache keeps it: the access byte
    /// (bits 40-47 of the descriptor) and the flags nibble (bits 52-55), packed as
    /// `access | flags << 8` — the layout LAR returns in bits 8-23 (SDM Vol. 3A §3.4.5).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct SegAttr: u16 {
        /// Accessed (type bit 0).
        const A = 1 << 0;
        /// Writable for data, readable for code (type bit 1).
        const RW = 1 << 1;
        /// Expand-down for data, conforming for code (type bit 2).
        const DC = 1 << 2;
        /// Code segment (type bit 3).
        const CODE = 1 << 3;
        /// Descriptor type: 1 = code or data, 0 = system (S).
        const S = 1 << 4;
        /// Descriptor privilege level, two bits.
        const DPL0 = 1 << 5;
        const DPL1 = 1 << 6;
        /// Segment present (P).
        const P = 1 << 7;
        /// Available for system software (AVL).
        const AVL = 1 << 12;
        /// 64-bit code segment (L); always 0 on IA-32.
        const L = 1 << 13;
        /// Default operation size / big (D/B): 32-bit code, 32-bit stack, 4 GiB expand-down bound.
        const DB = 1 << 14;
        /// Granularity (G): the limit counts 4 KiB units.
        const G = 1 << 15;
    }
}

impl SegAttr {
    /// Descriptor privilege level.
    pub fn dpl(self) -> u8 {
        ((self.bits() >> 5) & 3) as u8
    }
    /// The 4-bit type field.
    pub fn typ(self) -> u8 {
        (self.bits() & 0xF) as u8
    }
}

/// A segment register: the visible selector and the hidden descriptor cache
/// (SDM Vol. 3A §3.4.3, Figure 3-7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The visible part.
    pub selector: u16,
    /// Linear base address.
    pub base: u32,
    /// Effective limit in bytes (already scaled by G).
    pub limit: u32,
    /// Access rights.
    pub attr: SegAttr,
}

impl Segment {
    /// The state of a data segment register after RESET (SDM Vol. 3A Table 9-1): selector 0,
    /// base 0, limit 0xFFFF, present, read/write, accessed.
    pub const RESET_DATA: Segment =
        Segment { selector: 0, base: 0, limit: 0xFFFF, attr: SegAttr::from_bits_retain(0x93) };

    /// CS after RESET: selector F000, base FFFF0000, so the first fetch is at FFFFFFF0.
    pub const RESET_CODE: Segment =
        Segment { selector: 0xF000, base: 0xFFFF_0000, limit: 0xFFFF, attr: SegAttr::from_bits_retain(0x9B) };

    /// Loads a selector the real-mode way: base = selector << 4; limit and rights stay as they
    /// are (which is what makes "unreal mode" possible; SDM Vol. 3A §20.1.1).
    pub fn load_real(&mut self, selector: u16) {
        self.selector = selector;
        self.base = (selector as u32) << 4;
    }

    /// True for a 32-bit code or stack segment (D/B set).
    pub fn big(&self) -> bool {
        self.attr.contains(SegAttr::DB)
    }
}

/// GDTR or IDTR: a linear base and a 16-bit limit (SDM Vol. 3A §2.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableReg {
    pub base: u32,
    pub limit: u16,
}

bitflags! {
    /// CR0 (SDM Vol. 3A §2.5, Figure 2-7).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Cr0: u32 {
        /// Protection enable.
        const PE = 1 << 0;
        /// Monitor coprocessor.
        const MP = 1 << 1;
        /// x87 emulation.
        const EM = 1 << 2;
        /// Task switched.
        const TS = 1 << 3;
        /// Extension type (hard-wired to 1 since the 486).
        const ET = 1 << 4;
        /// Numeric error.
        const NE = 1 << 5;
        /// Write protect: supervisor writes honour read-only pages.
        const WP = 1 << 16;
        /// Alignment mask.
        const AM = 1 << 18;
        /// Not write-through.
        const NW = 1 << 29;
        /// Cache disable.
        const CD = 1 << 30;
        /// Paging.
        const PG = 1 << 31;
    }
}

bitflags! {
    /// CR4 (SDM Vol. 3A §2.5, Figure 2-7). Only the bits x86lab implements can be set.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Cr4: u32 {
        /// Virtual-8086 mode extensions.
        const VME = 1 << 0;
        /// Protected-mode virtual interrupts.
        const PVI = 1 << 1;
        /// Time stamp disable (RDTSC at CPL > 0 faults).
        const TSD = 1 << 2;
        /// Debugging extensions.
        const DE = 1 << 3;
        /// Page size extensions (4 MiB pages).
        const PSE = 1 << 4;
        /// Physical address extension.
        const PAE = 1 << 5;
        /// Machine-check enable.
        const MCE = 1 << 6;
        /// Page global enable.
        const PGE = 1 << 7;
        /// Performance-monitoring counter enable.
        const PCE = 1 << 8;
        /// OS supports FXSAVE/FXRSTOR.
        const OSFXSR = 1 << 9;
        /// OS supports unmasked SIMD exceptions.
        const OSXMMEXCPT = 1 << 10;
    }
}
