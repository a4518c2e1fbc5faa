//! Memory accesses as an instruction makes them: segment checks (limit, rights), then paging,
//! then the bus.
//!
//! Intel SDM Vol. 3A §5.3 (limit checking), §5.4-5.6 (type and privilege checks on data
//! access), §3.4.5.1 (expand-down segments), §20.1.1 (the 64 KiB real-mode limit: an access that
//! reaches past offset 0xFFFF raises #GP, or #SS for the stack segment).
//! Paging (CR0.PG, the software TLB, #PF) is in [`super::paging`]; with paging off a linear
//! address is physical (after the A20 mask).

use super::fault::{Fault, Res, Why};
use super::paging::Perm;
use super::regs::{Seg, SegAttr};
use super::{Cpu, CpuBus, Cr0};

/// The kind of access, for segment-rights and page-rights checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

impl Cpu {
    /// Checks an access of `size` bytes at `seg:off` and returns its linear address.
    ///
    /// In protected mode a register holding a null selector is checked first: an access through
    /// it is #GP(0) whatever the offset (SDM Vol. 3A §3.4.2), and saying "null selector" explains
    /// it better than the limit 0 the unusable register happens to cache.
    #[inline]
    pub fn linear(&self, seg: Seg, off: u32, size: u32, acc: Access) -> Res<u32> {
        let s = &self.seg[seg as usize];
        let protected = self.protected();
        if protected && !s.attr.contains(SegAttr::P) {
            return Err(Fault::gp0(Why::NullSegment { seg: seg as u8 }));
        }
        let last = off.wrapping_add(size - 1);
        if !s.attr.contains(SegAttr::DC) || s.attr.contains(SegAttr::CODE) {
            // Expand-up (or code): offset..offset+size-1 must lie within 0..=limit.
            if last > s.limit || last < off {
                return Err(self.limit_fault(seg, off, size, None));
            }
        } else {
            // Expand-down: valid offsets are limit+1 ..= 0xFFFF or 0xFFFFFFFF (D/B).
            let upper = if s.big() { u32::MAX } else { 0xFFFF };
            if off <= s.limit || last > upper || last < off {
                return Err(self.limit_fault(seg, off, size, Some(upper)));
            }
        }
        if protected {
            self.check_rights(seg, acc)?;
        }
        let lin = s.base.wrapping_add(off);
        if self.cpl == 3 && lin & (size - 1) != 0 && size.is_power_of_two() && self.alignment_checking() {
            return Err(Fault::with_error(
                super::fault::vector::AC,
                0,
                Why::Alignment { linear: lin, size: size as u8 },
            ));
        }
        Ok(lin)
    }

    /// Alignment checking (SDM Vol. 3A §6.15, Interrupt 17): with CR0.AM = 1 and EFLAGS.AC = 1, a
    /// data access at CPL 3 (virtual-8086 mode included) to a word, dword or qword that is not
    /// aligned to its size raises #AC(0). The CPU's own accesses to descriptor tables and the
    /// TSS are supervisor accesses and never checked (they do not come through here), nor are
    /// instruction fetches.
    #[inline]
    pub(crate) fn alignment_checking(&self) -> bool {
        self.cr0.contains(Cr0::AM) && self.flags.get(super::flags::Eflags::AC)
    }

    /// #GP(0), or #SS(0) for the stack segment (SDM Vol. 3A §5.3). `upper` is the top of an
    /// expand-down segment.
    #[cold]
    fn limit_fault(&self, seg: Seg, off: u32, size: u32, upper: Option<u32>) -> Fault {
        let limit = self.seg[seg as usize].limit;
        let (seg8, size8) = (seg as u8, size as u8);
        let why = match upper {
            None => Why::SegmentLimit { seg: seg8, offset: off, size: size8, limit },
            Some(upper) => Why::ExpandDown { seg: seg8, offset: off, size: size8, limit, upper },
        };
        if seg == Seg::Ss { Fault::ss0(why) } else { Fault::gp0(why) }
    }

    /// Type checks on a data access in protected mode (SDM Vol. 3A §5.4.1): a write to a
    /// read-only or code segment, a read of an execute-only code segment: #GP(0) (SDM Vol. 2B
    /// "MOV": "#GP(0) if the destination is located in a non-writable segment"; SS always holds a
    /// writable data segment, so this cannot happen through SS).
    #[inline]
    fn check_rights(&self, seg: Seg, acc: Access) -> Res<()> {
        let a = self.seg[seg as usize].attr;
        let code = a.contains(SegAttr::CODE);
        let bad = match acc {
            Access::Write => code || !a.contains(SegAttr::RW),
            Access::Read => code && !a.contains(SegAttr::RW),
            Access::Exec => false,
        };
        if bad {
            return Err(Fault::gp0(Why::SegmentRights {
                seg: seg as u8,
                selector: self.seg[seg as usize].selector,
                write: acc == Access::Write,
                code,
            }));
        }
        Ok(())
    }

    /// Translates a linear address to a physical one (paging and the A20 gate) for an access
    /// by the current privilege level: CPL 3 makes it a user-mode access (SDM Vol. 3A §4.6).
    #[inline]
    pub fn translate<B: CpuBus>(&mut self, bus: &mut B, lin: u32, acc: Access) -> Res<u32> {
        self.translate_as(bus, lin, acc, self.cpl == 3)
    }

    /// Translates with an explicit user (`true`) or supervisor (`false`) access. The hit path
    /// is the software TLB (see [`super::paging`]); a miss walks the page tables, sets A/D and
    /// fills the TLB, or raises #PF with CR2.
    #[inline]
    pub fn translate_as<B: CpuBus>(&mut self, bus: &mut B, lin: u32, acc: Access, user: bool) -> Res<u32> {
        if !self.cr0.contains(Cr0::PG) {
            return Ok(lin & self.a20_mask);
        }
        if let Some(p) = self.tlb.lookup(lin, Perm::needed(acc, user)) {
            return Ok(p & self.a20_mask);
        }
        self.tlb_miss(bus, lin, acc, user).map(|p| p & self.a20_mask)
    }

    /// Translates an implicit supervisor-mode access: one the CPU makes to the GDT, LDT, IDT or
    /// a TSS, which is a supervisor access even at CPL 3 (SDM Vol. 3A §4.6).
    #[inline]
    pub fn translate_sys<B: CpuBus>(&mut self, bus: &mut B, lin: u32, acc: Access) -> Res<u32> {
        self.translate_as(bus, lin, acc, false)
    }

    /// Translation with an explicit user flag (the name older callers use); same as
    /// [`Cpu::translate_as`], through the TLB.
    #[inline]
    pub fn page_walk<B: CpuBus>(&mut self, bus: &mut B, lin: u32, acc: Access, user: bool) -> Res<u32> {
        self.translate_as(bus, lin, acc, user)
    }

    // ---- linear-address accesses -------------------------------------------------------
    //
    // `read_lin*`/`write_lin*` access as the current privilege level; the `_as` forms take the
    // user/supervisor choice explicitly (`false` for the CPU's own accesses to system structures).
    // An access that crosses a page boundary translates every page it touches before writing
    // anything, so a page fault leaves memory unchanged.

    #[inline]
    fn phys_w<B: CpuBus>(&mut self, bus: &mut B, lin: u32, size: u32, user: bool) -> Res<u32> {
        let p = self.translate_as(bus, lin, Access::Write, user)?;
        if self.cache.note_write(p, size) {
            self.invalidate_cursor();
        }
        Ok(p)
    }

    #[inline]
    pub fn read_lin8<B: CpuBus>(&mut self, bus: &mut B, lin: u32) -> Res<u8> {
        self.read_lin8_as(bus, lin, self.cpl == 3)
    }
    #[inline]
    pub fn read_lin16<B: CpuBus>(&mut self, bus: &mut B, lin: u32) -> Res<u16> {
        self.read_lin16_as(bus, lin, self.cpl == 3)
    }
    #[inline]
    pub fn read_lin32<B: CpuBus>(&mut self, bus: &mut B, lin: u32) -> Res<u32> {
        self.read_lin32_as(bus, lin, self.cpl == 3)
    }
    #[inline]
    pub fn write_lin8<B: CpuBus>(&mut self, bus: &mut B, lin: u32, v: u8) -> Res<()> {
        self.write_lin8_as(bus, lin, v, self.cpl == 3)
    }
    #[inline]
    pub fn write_lin16<B: CpuBus>(&mut self, bus: &mut B, lin: u32, v: u16) -> Res<()> {
        self.write_lin16_as(bus, lin, v, self.cpl == 3)
    }
    #[inline]
    pub fn write_lin32<B: CpuBus>(&mut self, bus: &mut B, lin: u32, v: u32) -> Res<()> {
        self.write_lin32_as(bus, lin, v, self.cpl == 3)
    }

    #[inline]
    pub fn read_lin8_as<B: CpuBus>(&mut self, bus: &mut B, lin: u32, user: bool) -> Res<u8> {
        let p = self.translate_as(bus, lin, Access::Read, user)?;
        Ok(bus.read8(p))
    }
    #[inline]
    pub fn read_lin16_as<B: CpuBus>(&mut self, bus: &mut B, lin: u32, user: bool) -> Res<u16> {
        if lin & 0xFFF > 0xFFE {
            let lo = self.read_lin8_as(bus, lin, user)?;
            let hi = self.read_lin8_as(bus, lin.wrapping_add(1), user)?;
            return Ok(u16::from_le_bytes([lo, hi]));
        }
        let p = self.translate_as(bus, lin, Access::Read, user)?;
        Ok(bus.read16(p))
    }
    #[inline]
    pub fn read_lin32_as<B: CpuBus>(&mut self, bus: &mut B, lin: u32, user: bool) -> Res<u32> {
        if lin & 0xFFF > 0xFFC {
            let mut b = [0u8; 4];
            for (i, x) in b.iter_mut().enumerate() {
                *x = self.read_lin8_as(bus, lin.wrapping_add(i as u32), user)?;
            }
            return Ok(u32::from_le_bytes(b));
        }
        let p = self.translate_as(bus, lin, Access::Read, user)?;
        Ok(bus.read32(p))
    }
    #[inline]
    pub fn write_lin8_as<B: CpuBus>(&mut self, bus: &mut B, lin: u32, v: u8, user: bool) -> Res<()> {
        let p = self.phys_w(bus, lin, 1, user)?;
        bus.write8(p, v);
        Ok(())
    }
    #[inline]
    pub fn write_lin16_as<B: CpuBus>(&mut self, bus: &mut B, lin: u32, v: u16, user: bool) -> Res<()> {
        if lin & 0xFFF > 0xFFE {
            // Check both pages before writing either, so a fault leaves memory unchanged.
            let p0 = self.phys_w(bus, lin, 1, user)?;
            let p1 = self.phys_w(bus, lin.wrapping_add(1), 1, user)?;
            let b = v.to_le_bytes();
            bus.write8(p0, b[0]);
            bus.write8(p1, b[1]);
            return Ok(());
        }
        let p = self.phys_w(bus, lin, 2, user)?;
        bus.write16(p, v);
        Ok(())
    }
    #[inline]
    pub fn write_lin32_as<B: CpuBus>(&mut self, bus: &mut B, lin: u32, v: u32, user: bool) -> Res<()> {
        if lin & 0xFFF > 0xFFC {
            let mut ps = [0u32; 4];
            for (i, p) in ps.iter_mut().enumerate() {
                *p = self.phys_w(bus, lin.wrapping_add(i as u32), 1, user)?;
            }
            for (p, b) in ps.iter().zip(v.to_le_bytes()) {
                bus.write8(*p, b);
            }
            return Ok(());
        }
        let p = self.phys_w(bus, lin, 4, user)?;
        bus.write32(p, v);
        Ok(())
    }

    // ---- segment:offset accesses -------------------------------------------------------
    //
    // Each access tries the hit path first: an expand-up data segment that allows the access
    // and whose limit covers it, no data breakpoint or watchpoint armed, CR0.AM clear, the
    // access within one page, and the page in the TLB's fast table (plain RAM, translated,
    // A/D already set, no cached code for writes). Then it is one slice access. Anything else
    // takes the slow path, which makes every check in order (and raises the faults), then
    // fills the fast table for the next access.

    /// The linear address of an `n`-byte access at `seg:off` if the hit path's conditions on
    /// the segment and the CPU hold: everything the slow path checks passes then. `CPU_OK`
    /// says the caller is `Cpu::run_trace`, which knows for all of its run that no data
    /// breakpoint is armed and that alignment checking is off (CR0.AM, EFLAGS.AC and CPL 3 not
    /// all set: SDM Vol. 3A §6.15, #AC), and which made the segment checks when it started
    /// (`trace_seg_end`).
    #[inline(always)]
    fn fast_linear<const CPU_OK: bool>(&self, seg: Seg, off: u32, n: u32, write: bool) -> Option<u32> {
        if CPU_OK {
            // Inside `run_trace`: the segment's checks were made when it started.
            let end = self.trace_seg_end[write as usize][seg as usize];
            let lin = self.seg[seg as usize].base.wrapping_add(off);
            let ok = off as u64 + n as u64 <= end && lin & 0xFFF <= 0x1000 - n;
            return ok.then_some(lin);
        }
        let s = &self.seg[seg as usize];
        let rw = if write { SegAttr::RW.bits() } else { 0 };
        let mask = SegAttr::P.bits() | SegAttr::CODE.bits() | SegAttr::DC.bits() | rw;
        let last = off.wrapping_add(n - 1);
        let lin = s.base.wrapping_add(off);
        let ok = s.attr.bits() & mask == SegAttr::P.bits() | rw
            && last >= off
            && last <= s.limit
            && (CPU_OK || (self.data_bps as u32 | (self.cr0.bits() & Cr0::AM.bits())) == 0)
            && lin & 0xFFF <= 0x1000 - n;
        ok.then_some(lin)
    }

    #[inline(always)]
    fn fast_read<B: CpuBus, const N: usize>(&self, bus: &mut B, seg: Seg, off: u32) -> Option<[u8; N]> {
        let lin = self.fast_linear::<false>(seg, off, N as u32, false)?;
        let p = self.tlb.fast_read(lin, self.cpl == 3)? as usize;
        bus.ram().get(p..p + N).and_then(|b| b.try_into().ok())
    }

    #[inline(always)]
    fn fast_write<B: CpuBus, const N: usize>(&self, bus: &mut B, seg: Seg, off: u32, v: [u8; N]) -> bool {
        let Some(lin) = self.fast_linear::<false>(seg, off, N as u32, true) else { return false };
        let Some(p) = self.tlb.fast_write(lin, self.cpl == 3) else { return false };
        let p = p as usize;
        match bus.ram().get_mut(p..p + N) {
            Some(d) => {
                d.copy_from_slice(&v);
                true
            }
            None => false,
        }
    }

    /// After a slow-path access of `n` bytes at `lin` succeeded: caches its page in the fast
    /// table if the bus says it is plain RAM (and, for a write, the decode cache has no code
    /// there). Paging's TLB entry, just used, gives the translation without side effects.
    #[inline(never)]
    fn fast_fill<B: CpuBus>(&mut self, bus: &mut B, lin: u32, n: u32, write: bool) {
        if self.data_bps != 0 || lin & 0xFFF > 0x1000 - n {
            return;
        }
        let user = self.cpl == 3;
        let phys = if !self.cr0.contains(Cr0::PG) {
            lin
        } else {
            let acc = if write { Access::Write } else { Access::Read };
            match self.tlb.lookup(lin, Perm::needed(acc, user)) {
                Some(p) => p,
                None => return,
            }
        } & self.a20_mask
            & 0xFFFF_F000;
        if !bus.ram_page(phys) || (write && self.cache.has_code(phys >> 12)) {
            return;
        }
        self.tlb.fast_fill(lin, user, phys, write);
    }

    #[inline(always)]
    pub fn read8<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32) -> Res<u8> {
        match self.fast_read::<B, 1>(bus, seg, off) {
            Some(b) => Ok(b[0]),
            None => self.read8_slow(bus, seg, off),
        }
    }
    #[inline(always)]
    pub fn read16<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32) -> Res<u16> {
        match self.fast_read(bus, seg, off) {
            Some(b) => Ok(u16::from_le_bytes(b)),
            None => self.read16_slow(bus, seg, off),
        }
    }
    #[inline(always)]
    pub fn read32<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32) -> Res<u32> {
        match self.fast_read(bus, seg, off) {
            Some(b) => Ok(u32::from_le_bytes(b)),
            None => self.read32_slow(bus, seg, off),
        }
    }
    #[inline(always)]
    pub fn write8<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, v: u8) -> Res<()> {
        if self.fast_write(bus, seg, off, [v]) { Ok(()) } else { self.write8_slow(bus, seg, off, v) }
    }
    #[inline(always)]
    pub fn write16<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, v: u16) -> Res<()> {
        if self.fast_write(bus, seg, off, v.to_le_bytes()) { Ok(()) } else { self.write16_slow(bus, seg, off, v) }
    }
    #[inline(always)]
    pub fn write32<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, v: u32) -> Res<()> {
        if self.fast_write(bus, seg, off, v.to_le_bytes()) { Ok(()) } else { self.write32_slow(bus, seg, off, v) }
    }

    #[inline(never)]
    fn read8_slow<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32) -> Res<u8> {
        let lin = self.linear(seg, off, 1, Access::Read)?;
        if self.data_bps != 0 {
            self.check_data_breakpoints(lin, 1, false);
        }
        let v = self.read_lin8(bus, lin)?;
        self.fast_fill(bus, lin, 1, false);
        Ok(v)
    }
    #[inline(never)]
    fn read16_slow<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32) -> Res<u16> {
        let lin = self.linear(seg, off, 2, Access::Read)?;
        if self.data_bps != 0 {
            self.check_data_breakpoints(lin, 2, false);
        }
        let v = self.read_lin16(bus, lin)?;
        self.fast_fill(bus, lin, 2, false);
        Ok(v)
    }
    #[inline(never)]
    fn read32_slow<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32) -> Res<u32> {
        let lin = self.linear(seg, off, 4, Access::Read)?;
        if self.data_bps != 0 {
            self.check_data_breakpoints(lin, 4, false);
        }
        let v = self.read_lin32(bus, lin)?;
        self.fast_fill(bus, lin, 4, false);
        Ok(v)
    }
    #[inline(never)]
    fn write8_slow<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, v: u8) -> Res<()> {
        let lin = self.linear(seg, off, 1, Access::Write)?;
        if self.data_bps != 0 {
            self.check_data_breakpoints(lin, 1, true);
        }
        self.write_lin8(bus, lin, v)?;
        self.fast_fill(bus, lin, 1, true);
        Ok(())
    }
    #[inline(never)]
    fn write16_slow<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, v: u16) -> Res<()> {
        let lin = self.linear(seg, off, 2, Access::Write)?;
        if self.data_bps != 0 {
            self.check_data_breakpoints(lin, 2, true);
        }
        self.write_lin16(bus, lin, v)?;
        self.fast_fill(bus, lin, 2, true);
        Ok(())
    }
    #[inline(never)]
    fn write32_slow<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, v: u32) -> Res<()> {
        let lin = self.linear(seg, off, 4, Access::Write)?;
        if self.data_bps != 0 {
            self.check_data_breakpoints(lin, 4, true);
        }
        self.write_lin32(bus, lin, v)?;
        self.fast_fill(bus, lin, 4, true);
        Ok(())
    }

    /// Reads `size` (1, 2 or 4) bytes, zero-extended.
    ///
    /// The hit path serves every size at once: it loads four bytes of RAM and masks (the
    /// bytes past the access are host RAM beyond it, read but never used; at the very end of
    /// RAM the slice check sends it to the slow path).
    #[inline(always)]
    pub fn read_sized<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, size: u32) -> Res<u32> {
        self.read_sized_as::<B, false>(bus, seg, off, size)
    }
    /// [`Cpu::read_sized`]; `CPU_OK` as for `fast_linear`.
    #[inline(always)]
    pub fn read_sized_as<B: CpuBus, const CPU_OK: bool>(
        &mut self,
        bus: &mut B,
        seg: Seg,
        off: u32,
        size: u32,
    ) -> Res<u32> {
        let (n, mask) = Self::size_mask(size);
        if let Some(lin) = self.fast_linear::<CPU_OK>(seg, off, n, false)
            && let Some(p) = self.tlb.fast_read(lin, self.cpl == 3)
            && let Some(b) = bus.ram().get(p as usize..p as usize + 4)
            && let Ok(b) = <[u8; 4]>::try_from(b)
        {
            return Ok(u32::from_le_bytes(b) & mask);
        }
        self.read_sized_slow(bus, seg, off, size)
    }
    /// Writes the low `size` (1, 2 or 4) bytes of `v`.
    ///
    /// The hit path writes four bytes: those past the access get back the value they held
    /// (a host read-modify-write of plain RAM; the page's write entry promises no cached code
    /// in it, and a byte past the page end is rewritten unchanged, which nothing can observe).
    #[inline(always)]
    pub fn write_sized<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, size: u32, v: u32) -> Res<()> {
        self.write_sized_as::<B, false>(bus, seg, off, size, v)
    }
    /// [`Cpu::write_sized`]; `CPU_OK` as for `fast_linear`.
    #[inline(always)]
    pub fn write_sized_as<B: CpuBus, const CPU_OK: bool>(
        &mut self,
        bus: &mut B,
        seg: Seg,
        off: u32,
        size: u32,
        v: u32,
    ) -> Res<()> {
        let (n, mask) = Self::size_mask(size);
        if let Some(lin) = self.fast_linear::<CPU_OK>(seg, off, n, true)
            && let Some(p) = self.tlb.fast_write(lin, self.cpl == 3)
            && let Some(d) = bus.ram().get_mut(p as usize..p as usize + 4)
            && let Ok(d) = <&mut [u8; 4]>::try_from(d)
        {
            let old = u32::from_le_bytes(*d);
            *d = ((old & !mask) | (v & mask)).to_le_bytes();
            return Ok(());
        }
        self.write_sized_slow(bus, seg, off, size, v)
    }

    /// An access size as the sized accessors treat it (1, 2, anything else 4) and its mask.
    #[inline(always)]
    fn size_mask(size: u32) -> (u32, u32) {
        match size {
            1 => (1, 0xFF),
            2 => (2, 0xFFFF),
            _ => (4, u32::MAX),
        }
    }

    #[inline(never)]
    fn read_sized_slow<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, size: u32) -> Res<u32> {
        match size {
            1 => self.read8_slow(bus, seg, off).map(u32::from),
            2 => self.read16_slow(bus, seg, off).map(u32::from),
            _ => self.read32_slow(bus, seg, off),
        }
    }
    #[inline(never)]
    fn write_sized_slow<B: CpuBus>(&mut self, bus: &mut B, seg: Seg, off: u32, size: u32, v: u32) -> Res<()> {
        match size {
            1 => self.write8_slow(bus, seg, off, v as u8),
            2 => self.write16_slow(bus, seg, off, v as u16),
            _ => self.write32_slow(bus, seg, off, v),
        }
    }

    // ---- the stack -----------------------------------------------------------------------

    /// Stack pointer width from SS.B: 32-bit ESP or 16-bit SP (SDM Vol. 3A §3.4.5).
    #[inline]
    pub fn stack32(&self) -> bool {
        self.seg[Seg::Ss as usize].big()
    }
    #[inline]
    pub fn sp(&self) -> u32 {
        if self.stack32() { self.gpr[super::regs::ESP] } else { self.gpr[super::regs::ESP] & 0xFFFF }
    }
    #[inline]
    pub fn set_sp(&mut self, v: u32) {
        let esp = &mut self.gpr[super::regs::ESP];
        if self.seg[Seg::Ss as usize].big() { *esp = v } else { *esp = (*esp & 0xFFFF_0000) | (v & 0xFFFF) }
    }
    /// The stack offset `delta` bytes from the current top, wrapped to the stack width.
    #[inline]
    pub fn sp_offset(&self, delta: u32) -> u32 {
        let v = self.sp().wrapping_add(delta);
        if self.stack32() { v } else { v & 0xFFFF }
    }

    /// Pushes `size` (2 or 4) bytes. ESP changes only if the write succeeds.
    #[inline]
    pub fn push<B: CpuBus>(&mut self, bus: &mut B, size: u32, v: u32) -> Res<()> {
        let new_sp = self.sp_offset(size.wrapping_neg());
        self.write_sized(bus, Seg::Ss, new_sp, size, v)?;
        self.set_sp(new_sp);
        Ok(())
    }
    /// Pops `size` (2 or 4) bytes. ESP changes only if the read succeeds.
    #[inline]
    pub fn pop<B: CpuBus>(&mut self, bus: &mut B, size: u32) -> Res<u32> {
        let v = self.read_sized(bus, Seg::Ss, self.sp(), size)?;
        self.set_sp(self.sp_offset(size));
        Ok(v)
    }
    /// Reads the stack `delta` bytes above the top without popping.
    #[inline]
    pub fn peek<B: CpuBus>(&mut self, bus: &mut B, delta: u32, size: u32) -> Res<u32> {
        let off = self.sp_offset(delta);
        self.read_sized(bus, Seg::Ss, off, size)
    }
}
