//! Physical memory of the PC: RAM, the BIOS ROM and the holes between them.
//!
//! The memory map (as on an IBM PC/AT and its successors):
//!
//! | physical range            | what                                                        |
//! |---------------------------|-------------------------------------------------------------|
//! | 0 .. 0xA0000              | conventional RAM (640 KiB)                                  |
//! | 0xA0000 .. 0xC0000        | VGA window (no device yet: reads 0xFF, writes ignored)      |
//! | 0xC0000 .. 0x100000 - R   | option ROM area (empty)                                     |
//! | 0x100000 - R .. 0x100000  | the last R bytes of the BIOS ROM, R = min(size, 128 KiB)   |
//! | 0x100000 .. RAM size      | extended RAM                                                |
//! | 4 GiB - size .. 4 GiB     | the whole BIOS ROM, so the reset vector FFFFFFF0 is in it   |
//!
//! The A20 gate is applied by the CPU before an address reaches this map.

/// Start of the legacy VGA/ROM hole below 1 MiB.
pub const HOLE_START: u32 = 0xA_0000;
/// End of the first megabyte.
pub const ONE_MIB: u32 = 0x10_0000;
/// The most of the BIOS image that also appears below 1 MiB.
pub const LOW_BIOS_MAX: u32 = 128 * 1024;

/// An error with the BIOS image, naming what is wrong.
#[derive(Debug)]
pub struct RomError(pub String);

pub struct Memory {
    pub ram: Vec<u8>,
    rom: Vec<u8>,
    /// Where the ROM starts at the top of the 4 GiB space.
    rom_high: u32,
    /// Where the ROM's tail starts below 1 MiB.
    rom_low: u32,
    /// RAM below this address is accessed without further checks.
    fast_limit: u32,
    /// Option ROMs in the 0xC0000-0xEFFFF area (e.g. a VGA BIOS at 0xC0000).
    option_roms: Vec<(u32, Vec<u8>)>,
}

impl Memory {
    /// `ram_bytes` of zeroed RAM and a BIOS image (64 KiB to 1 MiB, a multiple of 64 KiB).
    pub fn new(ram_bytes: usize, rom: Vec<u8>) -> Result<Memory, RomError> {
        if rom.is_empty() {
            return Err(RomError("the ROM image is empty".into()));
        }
        if rom.len() < 64 * 1024 || rom.len() > 1024 * 1024 || !rom.len().is_multiple_of(64 * 1024) {
            return Err(RomError(format!(
                "the ROM image is {} bytes; it must be 64 KiB to 1 MiB and a multiple of 64 KiB (65536 bytes)",
                rom.len()
            )));
        }
        let len = rom.len() as u32;
        Ok(Memory {
            ram: vec![0; ram_bytes],
            rom_high: 0u32.wrapping_sub(len),
            rom_low: ONE_MIB - len.min(LOW_BIOS_MAX),
            fast_limit: (ram_bytes as u32).min(HOLE_START),
            rom,
            option_roms: Vec::new(),
        })
    }

    /// Maps an option ROM image at `base` (0xC0000-0xEFFFF, 2 KiB aligned, as ISA option ROMs
    /// are). The image must start with the 0x55 0xAA signature.
    pub fn map_option_rom(&mut self, base: u32, image: Vec<u8>) -> Result<(), RomError> {
        if image.len() < 3 || image[0] != 0x55 || image[1] != 0xAA {
            return Err(RomError("not an option ROM: it does not start with the signature 55 AA".into()));
        }
        let end = base as u64 + image.len() as u64;
        if base < 0xC_0000 || end > 0xF_0000 || !base.is_multiple_of(2048) {
            return Err(RomError(format!(
                "an option ROM must lie within 0xC0000-0xEFFFF; {} bytes at {base:#x} do not",
                image.len()
            )));
        }
        self.option_roms.push((base, image));
        Ok(())
    }

    /// The BIOS image (snapshots check they are restored with the same one).
    pub fn rom(&self) -> &[u8] {
        &self.rom
    }

    /// RAM below this address is plain RAM: no ROM, no MMIO.
    #[inline]
    pub fn fast_limit(&self) -> u32 {
        self.fast_limit
    }

    #[inline]
    fn rom_offset(&self, addr: u32) -> Option<usize> {
        if addr >= self.rom_high {
            Some((addr - self.rom_high) as usize)
        } else if addr >= self.rom_low && addr < ONE_MIB {
            Some(self.rom.len() - (ONE_MIB - addr) as usize)
        } else {
            None
        }
    }

    #[inline]
    fn is_ram(&self, addr: u32) -> bool {
        (addr as usize) < self.ram.len() && !(HOLE_START..ONE_MIB).contains(&addr)
    }

    #[inline]
    pub fn read8(&self, addr: u32) -> u8 {
        if addr < self.fast_limit || self.is_ram(addr) {
            self.ram[addr as usize]
        } else if let Some(o) = self.rom_offset(addr) {
            self.rom[o]
        } else {
            for (base, img) in &self.option_roms {
                if let Some(b) = addr.checked_sub(*base).and_then(|o| img.get(o as usize)) {
                    return *b;
                }
            }
            0xFF
        }
    }

    /// A little-endian read of N bytes that lie in one region, or byte by byte.
    #[inline]
    pub fn read_n<const N: usize>(&self, addr: u32) -> [u8; N] {
        let end = addr as usize + N;
        if end <= self.fast_limit as usize {
            let mut b = [0; N];
            b.copy_from_slice(&self.ram[addr as usize..end]);
            return b;
        }
        std::array::from_fn(|i| self.read8(addr.wrapping_add(i as u32)))
    }

    #[inline]
    pub fn write8(&mut self, addr: u32, v: u8) {
        if addr < self.fast_limit || self.is_ram(addr) {
            self.ram[addr as usize] = v;
        } else {
            log::trace!("write {v:#04x} to {addr:#010x} ignored (ROM or unmapped)");
        }
    }

    #[inline]
    pub fn write_n<const N: usize>(&mut self, addr: u32, b: [u8; N]) {
        let end = addr as usize + N;
        if end <= self.fast_limit as usize {
            self.ram[addr as usize..end].copy_from_slice(&b);
            return;
        }
        for (i, x) in b.into_iter().enumerate() {
            self.write8(addr.wrapping_add(i as u32), x);
        }
    }

    /// Copies code bytes (never crossing a 4 KiB page).
    pub fn fetch(&self, addr: u32, buf: &mut [u8]) {
        let end = addr as usize + buf.len();
        if end <= self.fast_limit as usize || (self.is_ram(addr) && end <= self.ram.len()) {
            buf.copy_from_slice(&self.ram[addr as usize..end]);
        } else if let Some(o) = self.rom_offset(addr).filter(|o| o + buf.len() <= self.rom.len()) {
            buf.copy_from_slice(&self.rom[o..o + buf.len()]);
        } else {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = self.read8(addr.wrapping_add(i as u32));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rom_appears_at_reset_vector_and_below_1mib() {
        let mut rom = vec![0u8; 64 * 1024];
        rom[0xFFF0] = 0xEA;
        let m = Memory::new(1 << 20, rom).expect("valid");
        assert_eq!(m.read8(0xFFFF_FFF0), 0xEA);
        assert_eq!(m.read8(0xF_FFF0), 0xEA);
        assert_eq!(m.read8(0xA_0000), 0xFF, "hole");
    }

    #[test]
    fn large_rom_only_last_128k_low() {
        let mut rom = vec![0u8; 256 * 1024];
        rom[0] = 1;
        rom[128 * 1024] = 2;
        let m = Memory::new(2 << 20, rom).expect("valid");
        assert_eq!(m.read8(0xFFFC_0000), 1);
        assert_eq!(m.read8(0xE_0000), 2);
        assert_eq!(m.read8(0xD_FFFF), 0xFF);
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(Memory::new(1 << 20, vec![]).is_err());
        assert!(Memory::new(1 << 20, vec![0; 1000]).is_err());
        assert!(Memory::new(1 << 20, vec![0; 2 << 20]).is_err());
    }
}
