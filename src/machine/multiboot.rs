//! Direct kernel boot, Multiboot version 1: `x86lab run --kernel FILE [--append CMDLINE]
//! [--initrd "FILE [ARGS]"]...`, as QEMU's `-kernel` does for Multiboot images.
//!
//! Source: the *Multiboot Specification* version 0.6.96 (GNU GRUB project): §3.1 the OS image
//! format (the header: §3.1.1 its place and magic, §3.1.2 the flags, §3.1.3 the address fields
//! of the a.out kludge), §3.2 the machine state at the kernel's entry, §3.3 the boot
//! information format; the ELF layout from the *System V ABI* / *Tool Interface Standard ELF
//! 1.2* (ELF header, program headers, PT_LOAD).
//!
//! # How the boot goes
//! The BIOS runs first, as on a PC: POST programs the PICs, PIT, keyboard controller and the
//! screen and fills the IVT and the BIOS data area, so a kernel may use them (some read the BDA
//! or call the BIOS through v86 mode). x86lab maps a small option ROM at D0000h
//! (`roms/firmware/multiboot.asm`, the way QEMU does it) that hooks INT 19h; when POST boots, the
//! ROM asks the BIOS for its memory map (INT 12h, INT 15h E820h) and writes the address of what
//! it got to port [`HOOK_PORT`]. At that OUT the machine calls [`Multiboot::hand_over`]: the
//! kernel's segments and the modules go into RAM, the Multiboot information structure is
//! built with the BIOS's own E820 map, and the CPU is set up as §3.2 says. Any BIOS that runs
//! option ROMs and boots with INT 19h works (x86lab's, Bochs's); a raw test ROM given with
//! `--bios` never gets there. A reset (or triple fault) runs POST again and loads the kernel
//! afresh from the copy in memory, as QEMU does.
//!
//! # What is checked before the guest starts ([`Multiboot::new`])
//! The header is searched in the first 8192 bytes, 4-aligned, with its checksum (§3.1.1);
//! required flags x86lab does not know (bits 3-15) are refused (§3.1.2); video mode requests
//! (bit 2) are not honoured (the kernel starts in the BIOS's text mode and the info has no
//! video fields, as with QEMU): a warning. With flag 16 the a.out kludge's address fields are
//! used (§3.1.3), else the file must be an ELF32 i386 executable whose PT_LOAD segments are
//! loaded at their physical addresses (`p_paddr`), zero-filled up to `p_memsz`. Every segment,
//! every module and the information structure must fit in RAM: in conventional memory above
//! the BIOS data area and below any EBDA (0x500-0x9EFFF: Bochs's BIOS puts its EBDA at 0x9F000) or above 1 MiB, never over the video
//! memory and ROMs at 0xA0000-0xFFFFF. A file with no Multiboot header is refused; one that
//! is a Linux kernel (`HdrS` at 0x202) is told that the Linux boot protocol is not supported
//! yet. Nothing the file says is allocated before it is checked against the file's size.
//!
//! # Where things go
//! Modules go page-aligned (§3.1.2 bit 0 asks for it; x86lab always does it) after the highest
//! byte of the kernel (at least 1 MiB), each followed by the next; then, page-aligned, one block
//! with the information structure (§3.3), a GDT (null, flat code 0x08, flat data 0x10), the
//! command line, the module strings, the boot loader name `x86lab` and the memory map. The
//! command line is the kernel's file name as given, a space and `--append` (what QEMU passes,
//! so kernels see the same string). `boot_device` is not given (flag 1 clear): the kernel did
//! not come from a BIOS disk.

use super::Machine;
use crate::cpu::regs::{EAX, EBX, ESP};
use crate::cpu::{Cr0, Eflags, Flags, SegAttr, Segment, TableReg};

/// The port the option ROM writes to when POST boots (x86lab's own; nothing else is there).
pub const HOOK_PORT: u16 = 0x520;

/// Where the option ROM is mapped (free on a PC with a VGA BIOS of up to 64 KiB at C0000h).
pub const ROM_BASE: u32 = 0xD_0000;

/// The option ROM (roms/firmware/multiboot.asm, built by tools/build-roms); its last byte, the
/// checksum, is set by [`option_rom`].
const ROM: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/roms/firmware/multiboot.bin"));

/// The option ROM image, its checksum byte set so that all its bytes add up to 0.
pub fn option_rom() -> Vec<u8> {
    let mut rom = ROM.to_vec();
    let n = rom.len();
    let sum = rom[..n - 1].iter().fold(0u8, |a, &b| a.wrapping_add(b));
    rom[n - 1] = sum.wrapping_neg();
    rom
}

/// §3.1.1: the header's magic value.
pub const HEADER_MAGIC: u32 = 0x1BAD_B002;
/// §3.2: EAX at the kernel's entry.
pub const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// §3.1.1: the header lies within the first 8192 bytes of the image, 32-bit aligned.
const HEADER_SEARCH: usize = 8192;

/// Header flags (§3.1.2). Bits 0-15 are requirements: a loader that does not know one must fail.
/// Bit 0 (modules page-aligned) and bit 1 (memory information) are always satisfied.
const FLAG_VIDEO_MODE: u32 = 1 << 2;
const FLAG_AOUT_KLUDGE: u32 = 1 << 16;

/// Information structure flags (§3.3).
const INFO_MEMORY: u32 = 1 << 0;
const INFO_CMDLINE: u32 = 1 << 2;
const INFO_MODS: u32 = 1 << 3;
const INFO_MMAP: u32 = 1 << 6;
const INFO_LOADER_NAME: u32 = 1 << 9;

/// The information structure's size through the VBE fields (§3.3, offsets 0-87), rounded up.
const INFO_SIZE: u32 = 88;
/// A module structure (§3.3): mod_start, mod_end, string, reserved.
const MODULE_SIZE: u32 = 16;
/// The GDT x86lab leaves for the kernel: null, code, data.
const GDT_SIZE: u32 = 24;
/// The memory map the option ROM collects: at most this many ranges of 24 bytes.
const MAX_RANGES: u32 = 32;
const RANGE_SIZE: u32 = 24;
/// The block the option ROM writes (see roms/firmware/multiboot.asm).
const BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"x86M");
const LOADER_NAME: &[u8] = b"x86lab\0";

/// Selectors of the GDT x86lab builds (§3.2 only asks for flat segments; these are the usual).
pub const CODE_SELECTOR: u16 = 0x08;
pub const DATA_SELECTOR: u16 = 0x10;

/// Memory a kernel, a module or the information may use: conventional memory between the BIOS
/// data area and the EBDA, and everything from 1 MiB to the end of RAM.
const LOW_START: u64 = 0x500;
const LOW_END: u64 = 0x9_F000;
const HIGH_START: u64 = 0x10_0000;

/// A piece of the kernel image to put in RAM: `file[offset..offset + len]` at `addr`, then
/// zeros up to `addr + mem_len`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment32 {
    pub addr: u32,
    pub offset: usize,
    pub len: usize,
    pub mem_len: u32,
}

/// A module: its bytes and its string (the file name and arguments, as given).
#[derive(Clone, Debug)]
pub struct Module {
    pub data: Vec<u8>,
    pub string: String,
}

/// A Multiboot kernel checked and ready to load: see the module documentation.
#[derive(Clone, Debug)]
pub struct Multiboot {
    /// The kernel file's bytes.
    image: Vec<u8>,
    /// What to load where.
    pub segments: Vec<Segment32>,
    /// The physical entry point.
    pub entry: u32,
    /// The header's flags.
    pub header_flags: u32,
    /// The command line (without the NUL).
    pub cmdline: String,
    pub modules: Vec<Module>,
    /// Where each module goes.
    pub module_addrs: Vec<u32>,
    /// Where the information block (info, GDT, strings, memory map) goes.
    pub info_addr: u32,
}

/// An error about a kernel or module file (the message names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn le16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

/// Whether `[start, start + len)` lies in memory a kernel may use (see the module doc).
fn usable(start: u64, len: u64, ram: u64) -> bool {
    let end = start + len;
    (start >= LOW_START && end <= LOW_END) || (start >= HIGH_START && end <= ram)
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

/// Reads a file after checking its size against `max` (nothing is allocated for a file that
/// could not fit anyway).
pub fn read_bounded(path: &std::path::Path, what: &str, max: u64) -> Result<Vec<u8>, Error> {
    let name = path.display();
    let len = std::fs::metadata(path).map_err(|e| Error(format!("{name}: cannot open the {what}: {e}")))?.len();
    if len > max {
        return Err(Error(format!("{name}: the {what} is {len} bytes, more than the guest's RAM can hold")));
    }
    let data = std::fs::read(path).map_err(|e| Error(format!("{name}: cannot read the {what}: {e}")))?;
    if data.len() as u64 > max {
        return Err(Error(format!("{name}: the {what} grew while it was read")));
    }
    Ok(data)
}

/// Splits `--initrd` values into modules as QEMU's `-initrd` does: a comma separates modules
/// (`,,` is a literal comma); in each, the file name ends at the first space and the whole text
/// is the module's string.
pub fn split_modules(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        let mut cur = String::new();
        let mut chars = a.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ',' {
                if chars.peek() == Some(&',') {
                    chars.next();
                    cur.push(',');
                } else {
                    out.push(std::mem::take(&mut cur));
                }
            } else {
                cur.push(c);
            }
        }
        out.push(cur);
    }
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

impl Multiboot {
    /// Checks `image` (the kernel file, named `name` in errors) and plans where everything goes
    /// in `ram` bytes of RAM. `cmdline` is the whole command line; `modules` the modules' bytes
    /// and strings.
    pub fn new(
        name: &str,
        image: Vec<u8>,
        cmdline: String,
        modules: Vec<Module>,
        ram: u64,
    ) -> Result<Multiboot, Error> {
        let err = |m: String| Error(format!("{name}: {m}"));
        // §3.1.1: the header: magic, flags, checksum (the three add up to 0 mod 2^32).
        let limit = image.len().min(HEADER_SEARCH);
        let mut header = None;
        let mut bad_checksum = false;
        for at in (0..limit.saturating_sub(11)).step_by(4) {
            if le32(&image, at) == Some(HEADER_MAGIC) {
                let flags = le32(&image, at + 4).unwrap_or(0);
                let sum = le32(&image, at + 8).unwrap_or(0);
                if HEADER_MAGIC.wrapping_add(flags).wrapping_add(sum) == 0 {
                    header = Some((at, flags));
                    break;
                }
                bad_checksum = true;
            }
        }
        let Some((hoff, flags)) = header else {
            if image.len() >= 0x206 && &image[0x202..0x206] == b"HdrS" {
                return Err(err("a Linux kernel (the boot protocol's HdrS signature at 0x202): Linux boot protocol \
                                not supported yet; --kernel takes Multiboot version 1 kernels"
                    .into()));
            }
            if bad_checksum {
                return Err(err("the Multiboot header's checksum is wrong (magic + flags + checksum must \
                                be 0 mod 2^32; Multiboot Specification 0.6.96 §3.1.1)"
                    .into()));
            }
            return Err(err("no Multiboot header (magic 0x1BADB002, 4-byte aligned, in the first 8192 bytes; \
                            Multiboot Specification 0.6.96 §3.1.1): not a Multiboot version 1 kernel"
                .into()));
        };
        let unknown = flags & 0xFFF8;
        if unknown != 0 {
            return Err(err(format!(
                "the Multiboot header requires features x86lab does not know (flags {unknown:#06x} in bits \
                 3-15; §3.1.2 says a boot loader must then refuse the kernel)"
            )));
        }
        if flags & FLAG_VIDEO_MODE != 0 {
            log::warn!(
                "{name}: the kernel asks for a video mode (Multiboot flag 2); x86lab starts it in the BIOS's text \
                 mode and gives no video information"
            );
        }
        let (segments, entry) =
            if flags & FLAG_AOUT_KLUDGE != 0 { aout_kludge(&image, hoff, &err)? } else { elf32(&image, &err)? };
        if segments.is_empty() {
            return Err(err("nothing to load (no PT_LOAD segment with memory)".into()));
        }
        let mut top = HIGH_START;
        for s in &segments {
            let (start, len) = (s.addr as u64, s.mem_len as u64);
            if !usable(start, len, ram) {
                return Err(err(format!(
                    "a segment at {start:#x}-{:#x} does not fit in the guest's RAM ({} KiB): kernels load at \
                     0x500-0x9EFFF or from 1 MiB to the end of RAM, never over the video memory and ROMs at \
                     0xA0000-0xFFFFF",
                    start + len,
                    ram / 1024
                )));
            }
            top = top.max(start + len);
        }
        // The entry point must be in something that was loaded.
        if !segments.iter().any(|s| entry >= s.addr && (entry as u64) < s.addr as u64 + s.mem_len as u64) {
            return Err(err(format!("the entry point {entry:#x} is not in any loaded segment")));
        }
        // Modules, page-aligned, after the kernel.
        let mut module_addrs = Vec::new();
        let mut at = align_up(top, 4096);
        for m in &modules {
            module_addrs.push(at as u32);
            at = align_up(at + m.data.len() as u64, 4096);
        }
        let info_len = info_len(&cmdline, &modules);
        if at + info_len > ram || at + info_len > u32::MAX as u64 {
            return Err(err(format!(
                "the kernel, its {} module(s) and the Multiboot information need {} KiB from 1 MiB, more than \
                 the guest's {} KiB of RAM (try --memory)",
                modules.len(),
                (at + info_len - HIGH_START).div_ceil(1024),
                ram / 1024
            )));
        }
        Ok(Multiboot {
            image,
            segments,
            entry,
            header_flags: flags,
            cmdline,
            modules,
            module_addrs,
            info_addr: at as u32,
        })
    }

    /// The size of the information block this kernel needs.
    fn info_len(&self) -> u64 {
        info_len(&self.cmdline, &self.modules)
    }

    /// The option ROM has run INT 12h and E820 and written its block at `block` (see the module
    /// doc): load everything and start the kernel (§3.2). The plan was checked against the RAM
    /// size in [`Multiboot::new`], so this only reads the BIOS's block defensively.
    pub fn hand_over(&self, m: &mut Machine, block: u32) {
        let ram_len = m.bus.mem.ram.len() as u64;
        // The plan was made for this RAM size; a machine with less (a library caller's mistake)
        // gets an error, not a panic. The ROM then halts.
        let fits = self.segments.iter().all(|s| s.addr as u64 + s.mem_len as u64 <= ram_len)
            && self.modules.iter().zip(&self.module_addrs).all(|(md, &a)| a as u64 + md.data.len() as u64 <= ram_len)
            && self.info_addr as u64 + self.info_len() <= ram_len;
        if !fits {
            log::error!("multiboot: the kernel was planned for more RAM than this machine has; not started");
            return;
        }
        // The BIOS's answers, from the ROM's block in low memory (read first: a kernel loaded
        // in low memory may overwrite the block).
        let ram = &m.bus.mem.ram;
        let rd32 = |a: u64| if a + 4 <= ram_len { le32(ram, a as usize).unwrap_or(0) } else { 0 };
        let b = block as u64;
        let valid = rd32(b + 4) == BLOCK_MAGIC && b + 8 + (MAX_RANGES * RANGE_SIZE) as u64 <= ram_len;
        let kib_low = if valid { le16(ram, b as usize).unwrap_or(0) as u32 } else { 0 };
        let ranges = if valid { (le16(ram, b as usize + 2).unwrap_or(0) as u32).min(MAX_RANGES) } else { 0 };
        let mmap: Vec<u8> = if ranges > 0 {
            ram[(b + 8) as usize..(b + 8 + (ranges * RANGE_SIZE) as u64) as usize].to_vec()
        } else {
            Vec::new()
        };
        // Clear, then load the segments (the file part, then zeros: bss), then the modules.
        for s in &self.segments {
            let a = s.addr as usize;
            let mem = &mut m.bus.mem.ram[a..a + s.mem_len as usize];
            mem.fill(0);
            mem[..s.len].copy_from_slice(&self.image[s.offset..s.offset + s.len]);
        }
        for (md, &a) in self.modules.iter().zip(&self.module_addrs) {
            let a = a as usize;
            m.bus.mem.ram[a..a + md.data.len()].copy_from_slice(&md.data);
        }
        // mem_lower / mem_upper (§3.3): KiB from 0 and from 1 MiB to the first hole, from the
        // E820 map (usable ranges, type 1), else from INT 12h and the RAM size.
        let entries: Vec<(u64, u64, u32)> = mmap
            .chunks_exact(RANGE_SIZE as usize)
            .map(|e| {
                let q = |o: usize| u64::from_le_bytes(e[o..o + 8].try_into().unwrap_or([0; 8]));
                (q(4), q(12), le32(e, 20).unwrap_or(0))
            })
            .collect();
        let usable_from = |start: u64| entries.iter().find(|e| e.2 == 1 && e.0 == start).map(|e| e.1 / 1024);
        let mem_lower = usable_from(0).map(|k| k.min(640) as u32).unwrap_or(if kib_low > 0 { kib_low } else { 640 });
        let mem_upper = usable_from(HIGH_START).unwrap_or(ram_len.saturating_sub(HIGH_START) / 1024) as u32;

        // The information block: info, GDT, module structures, strings, memory map.
        let base = self.info_addr;
        let gdt = base + INFO_SIZE;
        let mods = gdt + GDT_SIZE;
        let mut strings = mods + MODULE_SIZE * self.modules.len() as u32;
        let mut out: Vec<(u32, Vec<u8>)> = Vec::new();
        let mut put_str = |s: &[u8], out: &mut Vec<(u32, Vec<u8>)>| {
            let a = strings;
            let mut v = s.to_vec();
            if v.last() != Some(&0) {
                v.push(0);
            }
            strings += v.len() as u32;
            out.push((a, v));
            a
        };
        let cmdline = put_str(self.cmdline.as_bytes(), &mut out);
        let name = put_str(LOADER_NAME, &mut out);
        let mut mod_structs = Vec::new();
        for (md, &a) in self.modules.iter().zip(&self.module_addrs) {
            let s = put_str(md.string.as_bytes(), &mut out);
            for v in [a, a + md.data.len() as u32, s, 0] {
                mod_structs.extend_from_slice(&v.to_le_bytes());
            }
        }
        let mmap_addr = align_up(strings as u64, 4) as u32;
        let mut flags = INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_LOADER_NAME;
        if !mmap.is_empty() {
            flags |= INFO_MMAP;
        }
        let mut info = [0u8; INFO_SIZE as usize];
        let mut set = |off: usize, v: u32| info[off..off + 4].copy_from_slice(&v.to_le_bytes());
        set(0, flags);
        set(4, mem_lower);
        set(8, mem_upper);
        set(16, cmdline);
        set(20, self.modules.len() as u32);
        set(24, mods);
        if !mmap.is_empty() {
            set(44, mmap.len() as u32);
            set(48, mmap_addr);
        }
        set(64, name);
        // A flat GDT (SDM Vol. 3A §3.4.5): base 0, limit 0xFFFFF pages, 32-bit; code execute/read,
        // data read/write, both present, DPL 0, accessed.
        let gdt_bytes: [u8; 24] = [
            0, 0, 0, 0, 0, 0, 0, 0, //
            0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0, //
            0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0,
        ];
        out.push((base, info.to_vec()));
        out.push((gdt, gdt_bytes.to_vec()));
        out.push((mods, mod_structs));
        out.push((mmap_addr, mmap));
        for (a, bytes) in out {
            let a = a as usize;
            m.bus.mem.ram[a..a + bytes.len()].copy_from_slice(&bytes);
        }

        // §3.2, the machine state: EAX magic, EBX the information, flat 32-bit segments, A20 on,
        // CR0.PE = 1 and PG = 0, EFLAGS VM = 0 and IF = 0. The IDT stays the BIOS's real-mode
        // one: "the kernel must not load segment registers or touch IDTR before it set up its
        // own" (the spec leaves IDTR undefined).
        m.bus.port92.write(m.bus.port92.read() | 0x02);
        m.bus.after_device_change();
        m.apply_chipset_events();
        let c = &mut m.cpu;
        c.gpr = [0; 8];
        c.gpr[EAX] = BOOTLOADER_MAGIC;
        c.gpr[EBX] = base;
        // The stack is the kernel's to set up (§3.2 leaves ESP undefined); this one is below
        // the conventional boot sector address, in free conventional memory.
        c.gpr[ESP] = 0x7C00;
        c.flags = Flags::new(0x2);
        c.flags.set(Eflags::IF, false);
        let code = SegAttr::from_bits_retain(0xC09B);
        let data = SegAttr::from_bits_retain(0xC093);
        for (i, s) in c.seg.iter_mut().enumerate() {
            let cs = i == crate::cpu::Seg::Cs as usize;
            *s = Segment {
                selector: if cs { CODE_SELECTOR } else { DATA_SELECTOR },
                base: 0,
                limit: u32::MAX,
                attr: if cs { code } else { data },
            };
        }
        c.gdtr = TableReg { base: gdt, limit: GDT_SIZE as u16 - 1 };
        c.cr0 = (c.cr0 | Cr0::PE) - Cr0::PG;
        c.cpl = 0;
        c.eip = self.entry;
        c.next_eip = self.entry;
        c.halted = false;
        c.inhibit_irq = false;
        c.flush_tlb(true);
        c.cache.flush();
        c.invalidate_cursor();
        log::info!(
            "multiboot: kernel entry {:#x}, information at {base:#x}, {} module(s), {} memory map ranges",
            self.entry,
            self.modules.len(),
            ranges
        );
    }
}

/// The size of the information block: info, GDT, module structures, strings, memory map.
fn info_len(cmdline: &str, modules: &[Module]) -> u64 {
    let strings: u64 = modules.iter().map(|m| m.string.len() as u64 + 1).sum::<u64>()
        + cmdline.len() as u64
        + 1
        + LOADER_NAME.len() as u64;
    INFO_SIZE as u64
        + GDT_SIZE as u64
        + (MODULE_SIZE as u64) * modules.len() as u64
        + (MAX_RANGES * RANGE_SIZE) as u64
        + strings
        + 8 // the memory map's 4-byte alignment
}

/// §3.1.3: the a.out kludge's address fields (header offsets 12-28).
fn aout_kludge(image: &[u8], hoff: usize, err: &dyn Fn(String) -> Error) -> Result<(Vec<Segment32>, u32), Error> {
    let f = |i: usize| le32(image, hoff + 12 + 4 * i);
    let (Some(header_addr), Some(load_addr), Some(load_end), Some(bss_end), Some(entry)) =
        (f(0), f(1), f(2), f(3), f(4))
    else {
        return Err(err("the Multiboot header is cut off before its address fields (flag 16)".into()));
    };
    if load_addr > header_addr || (header_addr - load_addr) as usize > hoff {
        return Err(err(format!(
            "a.out kludge: load_addr {load_addr:#x} and header_addr {header_addr:#x} put the start of the \
             text before the start of the file (§3.1.3)"
        )));
    }
    let offset = hoff - (header_addr - load_addr) as usize;
    let available = image.len() - offset;
    let len = if load_end == 0 {
        available
    } else {
        if load_end < load_addr {
            return Err(err(format!("a.out kludge: load_end_addr {load_end:#x} is below load_addr {load_addr:#x}")));
        }
        let n = (load_end - load_addr) as usize;
        if n > available {
            return Err(err(format!(
                "a.out kludge: load_end_addr {load_end:#x} asks for {n} bytes from file offset {offset:#x}, but \
                 the file has only {available}"
            )));
        }
        n
    };
    let end = load_addr as u64 + len as u64;
    let mem_end = if bss_end == 0 { end } else { bss_end as u64 };
    if mem_end < end {
        return Err(err(format!(
            "a.out kludge: bss_end_addr {bss_end:#x} is below the end of the loaded data {end:#x}"
        )));
    }
    if mem_end > u32::MAX as u64 {
        return Err(err("a.out kludge: the image runs past 4 GiB".into()));
    }
    Ok((vec![Segment32 { addr: load_addr, offset, len, mem_len: (mem_end - load_addr as u64) as u32 }], entry))
}

/// An ELF32 little-endian i386 executable: its PT_LOAD segments at their physical addresses.
fn elf32(image: &[u8], err: &dyn Fn(String) -> Error) -> Result<(Vec<Segment32>, u32), Error> {
    if image.len() < 52 || &image[0..4] != b"\x7fELF" {
        return Err(err("neither an ELF file nor an a.out kludge image (Multiboot flag 16 is clear, so the \
                        file must be ELF; §3.1.2)"
            .into()));
    }
    if image[4] != 1 || image[5] != 1 {
        return Err(err("not a 32-bit little-endian ELF file (Multiboot version 1 kernels are ELF32 i386)".into()));
    }
    let e_type = le16(image, 16).unwrap_or(0);
    let machine = le16(image, 18).unwrap_or(0);
    if e_type != 2 || machine != 3 {
        return Err(err(format!("not an i386 executable ELF (e_type {e_type}, e_machine {machine}; want 2 and 3)")));
    }
    let entry = le32(image, 24).unwrap_or(0);
    let phoff = le32(image, 28).unwrap_or(0) as usize;
    let phentsize = le16(image, 42).unwrap_or(0) as usize;
    let phnum = le16(image, 44).unwrap_or(0) as usize;
    if phentsize < 32 || phnum == 0 || phoff.checked_add(phentsize * phnum).is_none_or(|end| end > image.len()) {
        return Err(err(format!(
            "the ELF program headers ({phnum} of {phentsize} bytes at {phoff:#x}) are missing or outside the file"
        )));
    }
    let mut segs = Vec::new();
    let mut phys_entry = None;
    for i in 0..phnum {
        let p = phoff + i * phentsize;
        let g = |o: usize| le32(image, p + o).unwrap_or(0);
        let (p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz) = (g(0), g(4), g(8), g(12), g(16), g(20));
        if p_type != 1 || p_memsz == 0 {
            continue;
        }
        if p_filesz > p_memsz {
            return Err(err(format!("ELF segment {i}: p_filesz {p_filesz:#x} is larger than p_memsz {p_memsz:#x}")));
        }
        if p_offset as u64 + p_filesz as u64 > image.len() as u64 {
            return Err(err(format!(
                "ELF segment {i}: {p_filesz} bytes at file offset {p_offset:#x} run past the end of the file ({} bytes)",
                image.len()
            )));
        }
        if p_paddr as u64 + p_memsz as u64 > u32::MAX as u64 + 1 {
            return Err(err(format!("ELF segment {i} at {p_paddr:#x} runs past 4 GiB")));
        }
        // The entry point is a virtual address; loaders translate it through the segment that
        // holds it (as QEMU and GRUB do when p_vaddr != p_paddr).
        if entry >= p_vaddr && (entry as u64) < p_vaddr as u64 + p_memsz as u64 {
            phys_entry = Some(p_paddr + (entry - p_vaddr));
        }
        segs.push(Segment32 { addr: p_paddr, offset: p_offset as usize, len: p_filesz as usize, mem_len: p_memsz });
    }
    Ok((segs, phys_entry.unwrap_or(entry)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [HEADER_MAGIC, flags, 0u32.wrapping_sub(HEADER_MAGIC).wrapping_sub(flags)] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    fn kludge(load: u32, end: u32, bss: u32, entry: u32) -> Vec<u8> {
        let mut v = header(FLAG_AOUT_KLUDGE);
        for x in [load, load, end, bss, entry] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.resize(64, 0x90);
        v
    }

    const RAM: u64 = 32 << 20;

    #[test]
    fn aout_kludge_plan() {
        let img = kludge(0x10_0000, 0x10_0040, 0x10_2000, 0x10_0020);
        let mb = Multiboot::new("k", img, "k".into(), vec![], RAM).unwrap();
        assert_eq!(mb.segments, vec![Segment32 { addr: 0x10_0000, offset: 0, len: 64, mem_len: 0x2000 }]);
        assert_eq!(mb.entry, 0x10_0020);
        assert_eq!(mb.info_addr, 0x10_2000);
    }

    #[test]
    fn refusals_name_the_problem() {
        let e = |img: Vec<u8>| Multiboot::new("k", img, String::new(), vec![], RAM).unwrap_err().0;
        assert!(e(vec![0; 100]).contains("no Multiboot header"));
        let mut bad = header(0);
        bad[8] ^= 1;
        assert!(e(bad).contains("checksum"));
        let mut linux = vec![0; 0x400];
        linux[0x202..0x206].copy_from_slice(b"HdrS");
        assert!(e(linux).contains("Linux boot protocol not supported yet"));
        assert!(e(header(1 << 5)).contains("bits 3-15"));
        assert!(e(header(0)).contains("neither an ELF"));
        assert!(e(kludge(0xA_0000, 0xA_0040, 0, 0xA_0000)).contains("0xA0000-0xFFFFF"));
        assert!(e(kludge(0x200_0000, 0x200_0040, 0, 0x200_0000)).contains("does not fit"));
        assert!(e(kludge(0x10_0000, 0x10_1000, 0, 0x10_0000)).contains("the file has only"));
        assert!(e(kludge(0x10_0000, 0x10_0040, 0, 0x30_0000)).contains("entry point"));
        // A header cut off at the end of the file, and a magic at an unaligned offset.
        assert!(e(HEADER_MAGIC.to_le_bytes().to_vec()).contains("no Multiboot header"));
        let mut unaligned = vec![0u8; 2];
        unaligned.extend(header(0));
        assert!(e(unaligned).contains("no Multiboot header"));
    }

    fn machine(ram_bytes: usize) -> Machine {
        use crate::devices::debugcon::Sink;
        use crate::machine::{BootDevice, MachineConfig};
        Machine::new(MachineConfig {
            ram_bytes,
            bios: vec![0xF4; 0x10000],
            debugcon: Sink::None,
            serial: Sink::None,
            ips: crate::machine::clock::DEFAULT_IPS,
            rtc_unix: 0,
            cmos: crate::devices::rtc_cmos::CmosConfig { ram_bytes: ram_bytes as u64, ..Default::default() },
            floppies: [None, None],
            hard_disks: [None, None, None, None],
            boot_order: [BootDevice::Floppy, BootDevice::HardDisk],
            vga_bios: None,
        })
        .unwrap()
    }

    #[test]
    fn hand_over_sets_the_machine_state_of_section_3_2() {
        let img = kludge(0x10_0000, 0x10_0040, 0x10_2000, 0x10_0020);
        let module = Module { data: b"abc".to_vec(), string: "m.bin x".into() };
        let mb = Multiboot::new("k", img.clone(), "k args".into(), vec![module], RAM).unwrap();
        let mut m = machine(RAM as usize);
        // Garbage where the bss goes: the loader must zero it.
        m.bus.mem.ram[0x10_1000] = 0xEE;
        mb.hand_over(&mut m, 0x7000); // no block written there: no memory map
        let c = &m.cpu;
        assert_eq!((c.gpr[EAX], c.gpr[EBX], c.eip), (BOOTLOADER_MAGIC, mb.info_addr, 0x10_0020));
        assert!(c.cr0.contains(Cr0::PE) && !c.cr0.contains(Cr0::PG));
        assert!(!c.flags.get(Eflags::IF) && !c.flags.get(Eflags::VM));
        assert_eq!(c.seg[crate::cpu::Seg::Cs as usize].attr.bits(), 0xC09B);
        assert_eq!(c.seg[crate::cpu::Seg::Ds as usize].limit, u32::MAX);
        assert!(m.bus.a20);
        let ram = &m.bus.mem.ram;
        assert_eq!(&ram[0x10_0000..0x10_0040], &img[..]);
        assert_eq!(ram[0x10_1000], 0, "bss zeroed");
        let info = mb.info_addr as usize;
        let rd = |a: usize| le32(ram, a).unwrap();
        assert_eq!(rd(info), INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_LOADER_NAME);
        assert_eq!(rd(info + 8), (RAM as u32 - 0x10_0000) / 1024, "mem_upper from the RAM size");
        let cmd = rd(info + 16) as usize;
        assert_eq!(&ram[cmd..cmd + 7], b"k args\0");
        let mods = rd(info + 24) as usize;
        assert_eq!(rd(info + 20), 1);
        let start = rd(mods) as usize;
        assert_eq!(start % 4096, 0);
        assert_eq!(&ram[start..rd(mods + 4) as usize], b"abc");
        let gdt = c.gdtr.base as usize;
        assert_eq!(&ram[gdt + 8..gdt + 16], &[0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0]);

        // Planned for 32 MiB, run on 2 MiB: refused, nothing changed, no panic.
        let mut small = machine(2 << 20);
        let big = Multiboot::new("k", kludge(0x1F0_0000, 0x1F0_0040, 0, 0x1F0_0000), "k".into(), vec![], RAM).unwrap();
        let eip = small.cpu.eip;
        big.hand_over(&mut small, 0x7000);
        assert_eq!(small.cpu.eip, eip);
    }

    #[test]
    fn module_strings_split_like_qemu() {
        let got = split_modules(&["a.bin arg1,b.bin".into(), "c,,d.bin x".into()]);
        assert_eq!(got, vec!["a.bin arg1", "b.bin", "c,d.bin x"]);
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 0x9E37_79B9;
        for n in 0..3000usize {
            let mut img = header(if n % 2 == 0 { FLAG_AOUT_KLUDGE } else { 0 });
            if n % 3 == 0 {
                img = b"\x7fELF\x01\x01".to_vec();
            }
            for _ in 0..(n % 200) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                img.push(x as u8);
            }
            let _ = Multiboot::new("k", img, String::new(), vec![], 1 << 20);
        }
    }
}
