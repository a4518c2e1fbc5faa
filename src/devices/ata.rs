//! One ATA/IDE channel of a PC: the task-file registers, a master and a slave hard disk backed
//! by [`Disk`] images, PIO data transfers and the INTRQ line.
//!
//! Source: ATA/ATAPI-6 (T13/1410D): the register descriptions (Status, Error, Device Control
//! with nIEN/SRST/HOB, Device with LBA/DEV), the PIO data-in, PIO data-out and non-data command
//! protocols, the signature and diagnostic codes after reset and EXECUTE DEVICE DIAGNOSTIC, the
//! IDENTIFY DEVICE word table and the command descriptions. Where the standard leaves a choice,
//! QEMU's `hw/ide` behaviour is followed (noted below).
//!
//! # Ports and lines ([`AtaChannel::primary`], [`AtaChannel::secondary`])
//! | channel   | command block | control block | IRQ |
//! |-----------|---------------|---------------|-----|
//! | primary   | 0x1F0-0x1F7   | 0x3F6         | 14  |
//! | secondary | 0x170-0x177   | 0x376         | 15  |
//!
//! Offsets from the command block base: 0 data (16-bit, or 32-bit as two words), 1 error (r) /
//! features (w), 2 sector count, 3 LBA low / sector number, 4 LBA mid / cylinder low, 5 LBA high
//! / cylinder high, 6 device (LBA bit 6, DEV bit 4, head or LBA 27:24 in bits 3-0), 7 status (r,
//! clears INTRQ) / command (w). The control block: alternate status (r, no side effect) /
//! device control (w: nIEN bit 1, SRST bit 2, HOB bit 7).
//!
//! # What is modelled
//! - Per-device task-file copies; writes go to both devices as on the cable, the selected one
//!   executes commands. Features, sector count and the LBA registers are two-deep FIFOs for
//!   48-bit commands (the previous value is read back with HOB set; any command block write
//!   clears HOB).
//! - SRST: BSY while asserted, then the ATA signature (sector count 1, LBA low 1, mid 0, high 0,
//!   device 0), error = 01h (diagnostics passed), status DRDY|DSC, device 0 selected.
//!   EXECUTE DEVICE DIAGNOSTIC does the same and interrupts.
//! - Commands: IDENTIFY DEVICE (a complete word 0-255 block with checksum, words 4-5 filled as
//!   ATA-1 defined them, as Bochs and QEMU do; model "x86lab HARDDISK", serial, firmware, default
//!   and current CHS, LBA, LBA28 and LBA48 capacities, READ/WRITE MULTIPLE up to [`MAX_MULTIPLE`]
//!   sectors, PIO modes 3/4), READ/WRITE SECTORS (20h/21h, 30h/31h), READ/WRITE SECTORS EXT
//!   (24h/34h), READ/WRITE MULTIPLE (C4h/C5h) and their EXT forms (29h/39h), SET MULTIPLE MODE
//!   (C6h; 0 disables, powers of two up to 16, as QEMU), READ VERIFY SECTORS (40h/41h, 42h EXT),
//!   SEEK (7xh), RECALIBRATE (1xh), INITIALIZE DEVICE PARAMETERS (91h), SET FEATURES (EFh: write
//!   cache on/off, PIO transfer modes, look-ahead, revert-to-defaults, the legacy ECC/retry
//!   subcommands), FLUSH CACHE (E7h/EAh → [`Disk::flush`]), CHECK POWER MODE (E5h, always active)
//!   and the IDLE/STANDBY (E0h-E3h) commands as no-ops. Everything else — NOP, PACKET, IDENTIFY
//!   PACKET DEVICE, DEVICE RESET, the DMA commands — ends with ERR and ABRT, as an ATA disk without
//!   those features does.
//! - Addressing: CHS through the current geometry (INITIALIZE DEVICE PARAMETERS), LBA28 and
//!   LBA48. A range past the end of the disk or an impossible CHS ends with ERR and IDNF (the
//!   whole range is checked before any data moves, as QEMU does) and the registers naming the
//!   first bad sector. A read-only image aborts writes (ABRT). With the write cache disabled
//!   by SET FEATURES, every write is flushed to the image file before it completes.
//! - The PIO protocols: reads raise INTRQ as each DRQ block (1 sector, or the multiple count) is
//!   ready; writes ask for the first block without an interrupt and interrupt after every block.
//!   At completion the registers hold the address of the last sector transferred (ATA-1 style)
//!   and the sector count 0.
//! - Absent devices: when the selected device is absent, status and alternate status read 00h
//!   and error 00h while the other registers answer from the written copies (ATA-6: device 0
//!   answers for an absent device 1, except status; QEMU does the same); commands to it are
//!   ignored. A channel with no device at all floats: every register
//!   reads 7Fh (the host's pull-down on DD7), the data port FF7Fh.
//!
//! # Timing
//! Commands complete when written: BSY is never seen except while SRST is held, and no deadline
//! is needed (`Timer::Ata0`/`Ata1` stay unarmed).
//!
//! # Wiring (for the machine)
//! ```ignore
//! p if ata0.owns_port(p) => match size {   // 0x1F0..=0x1F7, 0x3F6
//!     1 => ata0.read8(p) as u32,
//!     2 => ata0.read16(p) as u32,           // one 16-bit access: never split into bytes
//!     _ => ata0.read32(p),
//! }
//! // same for writes; then
//! pic.set_irq(ata0.irq(), ata0.irq_level());  // IRQ 14 (secondary: 15)
//! // at exit:
//! ata0.flush()?;
//! ```
//! Talking to it by hand:
//! ```
//! use x86lab::devices::ata::{AtaChannel, command};
//! use x86lab::devices::disk::Disk;
//! let mut ata = AtaChannel::primary();
//! ata.attach(0, Disk::from_bytes(vec![0; 1 << 20], false).unwrap()).unwrap();
//! ata.write8(0x1F6, 0xA0); // select the master
//! ata.write8(0x1F7, command::IDENTIFY_DEVICE);
//! assert!(ata.irq_level());
//! assert_eq!(ata.read8(0x1F7), 0x58); // DRDY DSC DRQ; reading status acknowledges INTRQ
//! assert!(!ata.irq_level());
//! let id: Vec<u16> = (0..256).map(|_| ata.read16(0x1F0)).collect();
//! assert_eq!(id[60], 2048); // LBA28 capacity: 1 MiB of 512-byte sectors
//! ```
//! [`AtaChannel::attach`] puts a disk on the master (0) or slave (1).
//!
//! # Not modelled
//! Bus-master (PCI IDE) DMA and the DMA commands, ATAPI/packet devices, SMART, security,
//! Host Protected Area, power-management timers (standby is never entered), 8-bit data
//! transfers (an 8-bit data port read returns FFh and moves nothing), media errors (UNC, AMNF),
//! the ATA-1 "write long"/"read long" and the DEVICE CONFIGURATION overlay, and command timing.

use serde::{Deserialize, Serialize};
use std::io;

use super::disk::{Chs, Disk, DiskError, SECTOR_SIZE};

/// Primary channel command block base.
pub const ATA_PRIMARY_BASE: u16 = 0x1F0;
/// Primary channel control block (alternate status / device control).
pub const ATA_PRIMARY_CTRL: u16 = 0x3F6;
/// Primary channel IRQ.
pub const ATA_PRIMARY_IRQ: u8 = 14;
/// Secondary channel command block base.
pub const ATA_SECONDARY_BASE: u16 = 0x170;
/// Secondary channel control block.
pub const ATA_SECONDARY_CTRL: u16 = 0x376;
/// Secondary channel IRQ.
pub const ATA_SECONDARY_IRQ: u8 = 15;
/// Most sectors per DRQ block for READ/WRITE MULTIPLE (IDENTIFY word 47).
pub const MAX_MULTIPLE: u8 = 16;
/// IDENTIFY DEVICE model number.
pub const MODEL: &str = "x86lab HARDDISK";

/// Command block register offsets from the base port.
pub mod reg {
    pub const DATA: u16 = 0;
    /// Error (read) / Features (write).
    pub const ERROR: u16 = 1;
    pub const FEATURES: u16 = 1;
    pub const SECTOR_COUNT: u16 = 2;
    /// LBA low (LBA mode) / sector number (CHS).
    pub const LBA_LOW: u16 = 3;
    /// LBA mid / cylinder low.
    pub const LBA_MID: u16 = 4;
    /// LBA high / cylinder high.
    pub const LBA_HIGH: u16 = 5;
    pub const DEVICE: u16 = 6;
    /// Status (read) / Command (write).
    pub const STATUS: u16 = 7;
    pub const COMMAND: u16 = 7;
}

/// Status register bits.
pub mod status {
    /// Busy.
    pub const BSY: u8 = 0x80;
    /// Device ready.
    pub const DRDY: u8 = 0x40;
    /// Device fault.
    pub const DF: u8 = 0x20;
    /// Device seek complete (obsolete in ATA-6, still set as drives do).
    pub const DSC: u8 = 0x10;
    /// Data request.
    pub const DRQ: u8 = 0x08;
    /// Corrected data (obsolete).
    pub const CORR: u8 = 0x04;
    /// Index (obsolete).
    pub const IDX: u8 = 0x02;
    /// Error: see the error register.
    pub const ERR: u8 = 0x01;
}

/// Error register bits.
pub mod error {
    /// Interface CRC error (formerly BBK, bad block).
    pub const ICRC: u8 = 0x80;
    /// Uncorrectable data error.
    pub const UNC: u8 = 0x40;
    /// Media changed.
    pub const MC: u8 = 0x20;
    /// ID (sector address) not found.
    pub const IDNF: u8 = 0x10;
    /// Media change request.
    pub const MCR: u8 = 0x08;
    /// Command aborted.
    pub const ABRT: u8 = 0x04;
    /// Track 0 not found.
    pub const TK0NF: u8 = 0x02;
    /// Address mark not found.
    pub const AMNF: u8 = 0x01;
}

/// Device control register bits.
pub mod control {
    /// Interrupts disabled.
    pub const NIEN: u8 = 0x02;
    /// Software reset.
    pub const SRST: u8 = 0x04;
    /// High order byte: read the previous contents of the FIFO registers.
    pub const HOB: u8 = 0x80;
}

/// Device register bits.
pub mod device {
    /// LBA addressing.
    pub const LBA: u8 = 0x40;
    /// Device 1 (slave) selected.
    pub const DEV: u8 = 0x10;
    /// Head number (CHS) or LBA bits 27:24.
    pub const HEAD: u8 = 0x0F;
}

/// Command opcodes.
pub mod command {
    pub const NOP: u8 = 0x00;
    pub const DEVICE_RESET: u8 = 0x08;
    pub const RECALIBRATE: u8 = 0x10;
    pub const READ_SECTORS: u8 = 0x20;
    pub const READ_SECTORS_NORETRY: u8 = 0x21;
    pub const READ_SECTORS_EXT: u8 = 0x24;
    pub const READ_MULTIPLE_EXT: u8 = 0x29;
    pub const WRITE_SECTORS: u8 = 0x30;
    pub const WRITE_SECTORS_NORETRY: u8 = 0x31;
    pub const WRITE_SECTORS_EXT: u8 = 0x34;
    pub const WRITE_MULTIPLE_EXT: u8 = 0x39;
    pub const READ_VERIFY_SECTORS: u8 = 0x40;
    pub const READ_VERIFY_SECTORS_NORETRY: u8 = 0x41;
    pub const READ_VERIFY_SECTORS_EXT: u8 = 0x42;
    pub const SEEK: u8 = 0x70;
    pub const EXECUTE_DEVICE_DIAGNOSTIC: u8 = 0x90;
    pub const INITIALIZE_DEVICE_PARAMETERS: u8 = 0x91;
    pub const PACKET: u8 = 0xA0;
    pub const IDENTIFY_PACKET_DEVICE: u8 = 0xA1;
    pub const READ_MULTIPLE: u8 = 0xC4;
    pub const WRITE_MULTIPLE: u8 = 0xC5;
    pub const SET_MULTIPLE_MODE: u8 = 0xC6;
    pub const READ_DMA: u8 = 0xC8;
    pub const WRITE_DMA: u8 = 0xCA;
    pub const STANDBY_IMMEDIATE: u8 = 0xE0;
    pub const IDLE_IMMEDIATE: u8 = 0xE1;
    pub const STANDBY: u8 = 0xE2;
    pub const IDLE: u8 = 0xE3;
    pub const CHECK_POWER_MODE: u8 = 0xE5;
    pub const FLUSH_CACHE: u8 = 0xE7;
    pub const FLUSH_CACHE_EXT: u8 = 0xEA;
    pub const IDENTIFY_DEVICE: u8 = 0xEC;
    pub const SET_FEATURES: u8 = 0xEF;
}

/// What the PIO data port is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PioKind {
    /// No data transfer.
    Idle,
    /// IDENTIFY DEVICE data going to the host.
    Identify,
    /// Sectors going to the host.
    Read,
    /// Sectors coming from the host.
    Write,
}

/// A PIO command in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pio {
    pub kind: PioKind,
    /// LBA of the first sector in the buffer.
    pub lba: u64,
    /// Sectors not yet finished, including those in the buffer.
    pub remaining: u32,
    /// Sectors per DRQ block.
    pub block: u32,
    /// 48-bit command (registers report the address in both FIFO halves).
    pub lba48: bool,
    /// CHS addressing (registers report cylinder/head/sector).
    pub chs: bool,
}

impl Pio {
    const IDLE: Pio = Pio { kind: PioKind::Idle, lba: 0, remaining: 0, block: 0, lba48: false, chs: false };
}

/// One device (master or slave): its task-file copy, settings and PIO buffer. Plain data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtaDrive {
    /// A disk is attached.
    pub present: bool,
    /// Status register.
    pub status: u8,
    /// Error register.
    pub error: u8,
    /// Features register and its previous value (HOB).
    pub features: u8,
    pub hob_features: u8,
    /// Sector count register and its previous value.
    pub sector_count: u8,
    pub hob_sector_count: u8,
    /// LBA low / sector number and its previous value.
    pub lba_low: u8,
    pub hob_lba_low: u8,
    /// LBA mid / cylinder low and its previous value.
    pub lba_mid: u8,
    pub hob_lba_mid: u8,
    /// LBA high / cylinder high and its previous value.
    pub lba_high: u8,
    pub hob_lba_high: u8,
    /// Device register.
    pub device: u8,
    /// The device's interrupt pending (INTRQ, before nIEN).
    pub intrq: bool,
    /// Sectors per block for READ/WRITE MULTIPLE; 0 = multiple mode disabled.
    pub multiple: u8,
    /// Capacity in sectors.
    pub total_sectors: u64,
    /// IDENTIFY words 1/3/6.
    pub default_chs: Chs,
    /// The CHS translation in use (INITIALIZE DEVICE PARAMETERS), IDENTIFY words 54-58.
    pub current_chs: Chs,
    /// Volatile write cache enabled (SET FEATURES 02h/82h).
    pub write_cache: bool,
    /// Read look-ahead enabled (SET FEATURES AAh/55h).
    pub look_ahead: bool,
    /// IDENTIFY serial number.
    pub serial: String,
    pub pio: Pio,
    /// The DRQ block: at most `MAX_MULTIPLE` sectors.
    pub buffer: Vec<u8>,
    /// Next byte of `buffer` to move; `buf_pos ≤ buf_len ≤ buffer.len()`.
    pub buf_pos: usize,
    pub buf_len: usize,
}

impl AtaDrive {
    fn absent() -> AtaDrive {
        AtaDrive {
            present: false,
            status: 0,
            error: 0,
            features: 0,
            hob_features: 0,
            sector_count: 0,
            hob_sector_count: 0,
            lba_low: 0,
            hob_lba_low: 0,
            lba_mid: 0,
            hob_lba_mid: 0,
            lba_high: 0,
            hob_lba_high: 0,
            device: 0,
            intrq: false,
            multiple: 0,
            total_sectors: 0,
            default_chs: Chs::new(0, 0, 0),
            current_chs: Chs::new(0, 0, 0),
            write_cache: true,
            look_ahead: true,
            serial: String::new(),
            pio: Pio::IDLE,
            buffer: vec![0; MAX_MULTIPLE as usize * SECTOR_SIZE],
            buf_pos: 0,
            buf_len: 0,
        }
    }

    /// The reset signature and diagnostic result of an ATA (non-packet) device.
    fn signature(&mut self) {
        self.sector_count = 1;
        self.lba_low = 1;
        self.lba_mid = 0;
        self.lba_high = 0;
        self.hob_sector_count = 0;
        self.hob_lba_low = 0;
        self.hob_lba_mid = 0;
        self.hob_lba_high = 0;
        self.device = 0;
        self.error = 0x01;
        self.status = status::DRDY | status::DSC;
        self.pio = Pio::IDLE;
        self.buf_pos = 0;
        self.buf_len = 0;
    }

    /// Power-on defaults for an attached disk of `total` sectors.
    fn power_on(&mut self, total: u64) {
        self.present = true;
        self.total_sectors = total;
        self.default_chs = Chs::ata_default(total);
        self.current_chs = self.default_chs;
        self.multiple = 0;
        self.write_cache = true;
        self.look_ahead = true;
        self.intrq = false;
        self.features = 0;
        self.hob_features = 0;
        self.signature();
    }

    fn complete(&mut self) {
        self.status = status::DRDY | status::DSC;
        self.pio = Pio::IDLE;
        self.intrq = true;
    }

    fn fail(&mut self, err: u8) {
        self.error = err;
        self.status = status::DRDY | status::DSC | status::ERR;
        self.pio = Pio::IDLE;
        self.buf_pos = 0;
        self.buf_len = 0;
        self.intrq = true;
    }

    /// The 28-bit or 48-bit sector count (0 means 256 or 65536).
    fn count(&self, lba48: bool) -> u32 {
        if lba48 {
            match (self.hob_sector_count as u32) << 8 | self.sector_count as u32 {
                0 => 65536,
                n => n,
            }
        } else {
            match self.sector_count {
                0 => 256,
                n => n as u32,
            }
        }
    }

    /// The starting sector: `Err(())` for a CHS address outside the current geometry.
    fn address(&self, lba48: bool) -> Result<(u64, bool), ()> {
        let low = self.lba_low as u64 | (self.lba_mid as u64) << 8 | (self.lba_high as u64) << 16;
        if lba48 {
            let high = self.hob_lba_low as u64 | (self.hob_lba_mid as u64) << 8 | (self.hob_lba_high as u64) << 16;
            Ok((high << 24 | low, false))
        } else if self.device & device::LBA != 0 {
            Ok((((self.device & device::HEAD) as u64) << 24 | low, false))
        } else {
            let cyl = self.lba_mid as u32 | (self.lba_high as u32) << 8;
            let head = (self.device & device::HEAD) as u32;
            let lba = self.current_chs.to_lba(cyl, head, self.lba_low as u32).ok_or(())?;
            Ok((lba, true))
        }
    }

    /// Puts `lba` into the address registers the way the command addressed the disk.
    fn set_address(&mut self, lba: u64, lba48: bool, chs: bool) {
        if chs {
            if let Some((c, h, s)) = self.current_chs.from_lba(lba) {
                self.lba_low = s as u8;
                self.lba_mid = c as u8;
                self.lba_high = (c >> 8) as u8;
                self.device = (self.device & !device::HEAD) | (h as u8 & device::HEAD);
            }
            return;
        }
        self.lba_low = lba as u8;
        self.lba_mid = (lba >> 8) as u8;
        self.lba_high = (lba >> 16) as u8;
        if lba48 {
            self.hob_lba_low = (lba >> 24) as u8;
            self.hob_lba_mid = (lba >> 32) as u8;
            self.hob_lba_high = (lba >> 40) as u8;
        } else {
            self.device = (self.device & !device::HEAD) | ((lba >> 24) as u8 & device::HEAD);
        }
    }

    fn set_count(&mut self, n: u32, lba48: bool) {
        self.sector_count = n as u8;
        if lba48 {
            self.hob_sector_count = (n >> 8) as u8;
        }
    }

    /// The 256-word IDENTIFY DEVICE block (ATA/ATAPI-6 word table), little-endian bytes.
    pub fn identify(&self) -> [u8; 512] {
        let mut w = [0u16; 256];
        let total = self.total_sectors;
        let (d, c) = (self.default_chs, self.current_chs);
        w[0] = 0x0040; // ATA device, fixed (not removable)
        w[1] = d.cylinders as u16;
        w[2] = 0xC837; // no SET FEATURES spin-up needed; IDENTIFY response complete
        w[3] = d.heads as u16;
        // Words 4-5 (ATA-1: unformatted bytes per track and per sector; retired since ATA-4) as
        // Bochs and QEMU fill them: Bochs's BIOS takes word 5 as the PIO block size.
        w[4] = (SECTOR_SIZE as u32 * d.sectors).min(0xFFFF) as u16;
        w[5] = SECTOR_SIZE as u16;
        w[6] = d.sectors as u16;
        put_string(&mut w[10..20], &self.serial);
        w[22] = 4; // obsolete: ECC bytes for READ/WRITE LONG
        put_string(&mut w[23..27], env!("CARGO_PKG_VERSION"));
        put_string(&mut w[27..47], MODEL);
        w[47] = 0x8000 | MAX_MULTIPLE as u16;
        w[49] = 0x0A00; // LBA supported, IORDY supported; no DMA
        w[50] = 0x4000;
        w[51] = 0x0200; // obsolete PIO timing mode 2
        w[53] = 0x0003; // words 54-58 and 64-70 valid
        w[54] = c.cylinders as u16;
        w[55] = c.heads as u16;
        w[56] = c.sectors as u16;
        let cap = c.total_sectors().min(u32::MAX as u64) as u32;
        (w[57], w[58]) = (cap as u16, (cap >> 16) as u16);
        if self.multiple != 0 {
            w[59] = 0x0100 | self.multiple as u16;
        }
        let lba28 = total.min(0x0FFF_FFFF) as u32;
        (w[60], w[61]) = (lba28 as u16, (lba28 >> 16) as u16);
        w[64] = 0x0003; // PIO modes 3 and 4
        w[67] = 120; // minimum PIO cycle time without IORDY (ns)
        w[68] = 120; // with IORDY
        w[80] = 0x007E; // ATA-1 through ATA/ATAPI-6
        w[82] = 0x4068; // NOP, look-ahead, write cache, power management
        w[83] = 0x7400; // FLUSH CACHE EXT, FLUSH CACHE, 48-bit address
        w[84] = 0x4000;
        w[85] = 0x4008 | (self.look_ahead as u16) << 6 | (self.write_cache as u16) << 5;
        w[86] = 0x3400;
        w[87] = 0x4000;
        for (i, word) in w[100..104].iter_mut().enumerate() {
            *word = (total >> (16 * i)) as u16;
        }
        w[255] = 0x00A5;
        let mut bytes = [0u8; 512];
        for (i, word) in w.iter().enumerate() {
            bytes[2 * i..2 * i + 2].copy_from_slice(&word.to_le_bytes());
        }
        // Integrity word: the checksum byte makes all 512 bytes sum to 0 (mod 256).
        let sum = bytes[..511].iter().fold(0u8, |a, &b| a.wrapping_add(b));
        bytes[511] = sum.wrapping_neg();
        bytes
    }
}

/// An ATA string: two characters per word, the first in the high byte, padded with spaces.
fn put_string(words: &mut [u16], s: &str) {
    let mut chars = s.bytes().chain(std::iter::repeat(b' '));
    for w in words {
        let hi = chars.next().unwrap_or(b' ');
        let lo = chars.next().unwrap_or(b' ');
        *w = (hi as u16) << 8 | lo as u16;
    }
}

/// Guest-visible state of a channel: both devices and the shared control register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtaChannelState {
    /// Command block base port.
    pub base: u16,
    /// Control block port.
    pub ctrl: u16,
    /// Master (0) and slave (1).
    pub drives: [AtaDrive; 2],
    /// The device selected by the DEV bit (0 or 1).
    pub selected: usize,
    /// Device control register (written to both devices).
    pub device_control: u8,
}

/// An ATA channel with up to two disks.
#[derive(Debug)]
pub struct AtaChannel {
    pub state: AtaChannelState,
    disks: [Option<Disk>; 2],
}

impl AtaChannel {
    /// A channel at the given ports, with no disks.
    pub fn new(base: u16, ctrl: u16) -> AtaChannel {
        AtaChannel {
            state: AtaChannelState {
                base,
                ctrl,
                drives: [AtaDrive::absent(), AtaDrive::absent()],
                selected: 0,
                device_control: 0,
            },
            disks: [None, None],
        }
    }
    /// The primary channel: 0x1F0-0x1F7, 0x3F6, IRQ 14.
    pub fn primary() -> AtaChannel {
        AtaChannel::new(ATA_PRIMARY_BASE, ATA_PRIMARY_CTRL)
    }
    /// The secondary channel: 0x170-0x177, 0x376, IRQ 15.
    pub fn secondary() -> AtaChannel {
        AtaChannel::new(ATA_SECONDARY_BASE, ATA_SECONDARY_CTRL)
    }

    /// The IRQ line of this channel on a PC (14 for 0x1F0, otherwise 15).
    pub fn irq(&self) -> u8 {
        if self.state.base == ATA_PRIMARY_BASE { ATA_PRIMARY_IRQ } else { ATA_SECONDARY_IRQ }
    }

    /// Attaches a disk as device 0 (master) or 1 (slave), returning the one it replaces.
    /// An out-of-range device number gives the disk back.
    pub fn attach(&mut self, dev: usize, disk: Disk) -> Result<Option<Disk>, Disk> {
        if dev > 1 {
            return Err(disk);
        }
        let d = &mut self.state.drives[dev];
        d.power_on(disk.sectors());
        d.serial = format!("X86LAB-{:04X}-{dev}", self.state.base);
        Ok(self.disks[dev].replace(disk))
    }

    /// Removes a disk (flush it first if it matters); the device becomes absent.
    pub fn detach(&mut self, dev: usize) -> Option<Disk> {
        let disk = self.disks.get_mut(dev)?.take();
        self.state.drives[dev].present = false;
        self.state.drives[dev].intrq = false;
        disk
    }

    pub fn disk(&self, dev: usize) -> Option<&Disk> {
        self.disks.get(dev)?.as_ref()
    }

    pub fn disk_mut(&mut self, dev: usize) -> Option<&mut Disk> {
        self.disks.get_mut(dev)?.as_mut()
    }

    /// Writes both disks back to their image files.
    pub fn flush(&mut self) -> io::Result<()> {
        for d in self.disks.iter_mut().flatten() {
            d.flush()?;
        }
        Ok(())
    }

    /// Hardware reset (the machine's RESET): both devices to power-on defaults.
    pub fn reset(&mut self) {
        let s = &mut self.state;
        s.device_control = 0;
        s.selected = 0;
        for d in s.drives.iter_mut().filter(|d| d.present) {
            d.power_on(d.total_sectors);
        }
    }

    /// True for the 9 ports of this channel.
    pub fn owns_port(&self, port: u16) -> bool {
        (self.state.base..=self.state.base + 7).contains(&port) || port == self.state.ctrl
    }

    /// The INTRQ line: the selected device's pending interrupt, unless nIEN.
    pub fn irq_level(&self) -> bool {
        let s = &self.state;
        let d = &s.drives[s.selected];
        d.present && d.intrq && s.device_control & control::NIEN == 0
    }

    fn any_present(&self) -> bool {
        self.state.drives.iter().any(|d| d.present)
    }

    /// An 8-bit register read. The data port answers FFh (8-bit data transfers are not
    /// supported) without moving data.
    pub fn read8(&mut self, port: u16) -> u8 {
        if !self.owns_port(port) {
            return 0xFF;
        }
        if !self.any_present() {
            return 0x7F;
        }
        let s = &mut self.state;
        let hob = s.device_control & control::HOB != 0;
        let d = &mut s.drives[s.selected];
        if port == s.ctrl {
            return if d.present { d.status } else { 0 };
        }
        match port - s.base {
            reg::DATA => 0xFF,
            reg::ERROR => {
                if d.present {
                    d.error
                } else {
                    0
                }
            }
            reg::SECTOR_COUNT => pick(hob, d.hob_sector_count, d.sector_count),
            reg::LBA_LOW => pick(hob, d.hob_lba_low, d.lba_low),
            reg::LBA_MID => pick(hob, d.hob_lba_mid, d.lba_mid),
            reg::LBA_HIGH => pick(hob, d.hob_lba_high, d.lba_high),
            reg::DEVICE => d.device,
            _ => {
                if !d.present {
                    return 0;
                }
                d.intrq = false;
                d.status
            }
        }
    }

    /// A 16-bit read: the data port moves one word; other ports read as two byte accesses.
    pub fn read16(&mut self, port: u16) -> u16 {
        if port == self.state.base + reg::DATA {
            return self.data_read16();
        }
        self.read8(port) as u16 | (self.read8(port.wrapping_add(1)) as u16) << 8
    }

    /// A 32-bit read: the data port moves two words (low first).
    pub fn read32(&mut self, port: u16) -> u32 {
        if port == self.state.base + reg::DATA {
            let lo = self.data_read16() as u32;
            return lo | (self.data_read16() as u32) << 16;
        }
        self.read16(port) as u32 | (self.read16(port.wrapping_add(2)) as u32) << 16
    }

    pub fn write8(&mut self, port: u16, value: u8) {
        if !self.owns_port(port) {
            return;
        }
        if port == self.state.ctrl {
            return self.write_control(value);
        }
        let off = port - self.state.base;
        // Any command block write clears HOB.
        self.state.device_control &= !control::HOB;
        match off {
            reg::DATA => {}
            reg::COMMAND => self.command(value),
            _ => {
                for d in self.state.drives.iter_mut() {
                    let (cur, prev) = match off {
                        reg::FEATURES => (&mut d.features, &mut d.hob_features),
                        reg::SECTOR_COUNT => (&mut d.sector_count, &mut d.hob_sector_count),
                        reg::LBA_LOW => (&mut d.lba_low, &mut d.hob_lba_low),
                        reg::LBA_MID => (&mut d.lba_mid, &mut d.hob_lba_mid),
                        reg::LBA_HIGH => (&mut d.lba_high, &mut d.hob_lba_high),
                        _ => {
                            d.device = value;
                            continue;
                        }
                    };
                    *prev = *cur;
                    *cur = value;
                }
                if off == reg::DEVICE {
                    self.state.selected = ((value & device::DEV) >> 4) as usize;
                }
            }
        }
    }

    /// A 16-bit write: the data port takes one word; other ports two byte writes.
    pub fn write16(&mut self, port: u16, value: u16) {
        if port == self.state.base + reg::DATA {
            return self.data_write16(value);
        }
        self.write8(port, value as u8);
        self.write8(port.wrapping_add(1), (value >> 8) as u8);
    }

    /// A 32-bit write: the data port takes two words (low first).
    pub fn write32(&mut self, port: u16, value: u32) {
        if port == self.state.base + reg::DATA {
            self.data_write16(value as u16);
            return self.data_write16((value >> 16) as u16);
        }
        self.write16(port, value as u16);
        self.write16(port.wrapping_add(2), (value >> 16) as u16);
    }

    fn write_control(&mut self, value: u8) {
        let s = &mut self.state;
        let old = s.device_control;
        s.device_control = value;
        if value & control::SRST != 0 && old & control::SRST == 0 {
            for d in s.drives.iter_mut().filter(|d| d.present) {
                d.status = status::BSY;
                d.intrq = false;
                d.pio = Pio::IDLE;
                d.buf_pos = 0;
                d.buf_len = 0;
            }
        } else if value & control::SRST == 0 && old & control::SRST != 0 {
            for d in s.drives.iter_mut() {
                if d.present {
                    d.signature();
                } else {
                    d.device = 0;
                }
            }
            s.selected = 0;
        }
    }

    fn data_read16(&mut self) -> u16 {
        if !self.any_present() {
            return 0xFF7F;
        }
        let s = &mut self.state;
        let d = &mut s.drives[s.selected];
        if !d.present || d.status & status::DRQ == 0 || !matches!(d.pio.kind, PioKind::Read | PioKind::Identify) {
            return 0;
        }
        let Some(bytes) = d.buffer.get(d.buf_pos..d.buf_pos + 2).filter(|_| d.buf_pos + 2 <= d.buf_len) else {
            return 0;
        };
        let w = u16::from_le_bytes([bytes[0], bytes[1]]);
        d.buf_pos += 2;
        if d.buf_pos >= d.buf_len {
            self.block_read_done();
        }
        w
    }

    fn data_write16(&mut self, value: u16) {
        let s = &mut self.state;
        let d = &mut s.drives[s.selected];
        if !d.present || d.status & status::DRQ == 0 || d.pio.kind != PioKind::Write {
            return;
        }
        let end = d.buf_pos + 2;
        let Some(bytes) = d.buffer.get_mut(d.buf_pos..end).filter(|_| end <= d.buf_len) else { return };
        bytes.copy_from_slice(&value.to_le_bytes());
        d.buf_pos = end;
        if d.buf_pos >= d.buf_len {
            self.block_write_done();
        }
    }

    /// The host has read the whole DRQ block.
    fn block_read_done(&mut self) {
        let sel = self.state.selected;
        let d = &mut self.state.drives[sel];
        if d.pio.kind == PioKind::Identify {
            d.status = status::DRDY | status::DSC;
            d.pio = Pio::IDLE;
            return;
        }
        let n = (d.buf_len / SECTOR_SIZE) as u32;
        d.pio.remaining = d.pio.remaining.saturating_sub(n);
        d.pio.lba += n as u64;
        if d.pio.remaining == 0 {
            d.status = status::DRDY | status::DSC;
            d.pio = Pio::IDLE;
            d.buf_pos = 0;
            d.buf_len = 0;
            return;
        }
        self.load_read_block(sel);
    }

    /// Fills the buffer with the next DRQ block of a read and interrupts.
    fn load_read_block(&mut self, sel: usize) {
        let d = &mut self.state.drives[sel];
        let n = d.pio.block.min(d.pio.remaining).clamp(1, MAX_MULTIPLE as u32) as usize;
        let len = n * SECTOR_SIZE;
        let lba = d.pio.lba;
        let res = match (self.disks[sel].as_ref(), d.buffer.get_mut(..len)) {
            (Some(disk), Some(buf)) => disk.read_sectors(lba, buf),
            _ => Err(DiskError::OutOfRange),
        };
        if res.is_err() {
            d.set_address(lba, d.pio.lba48, d.pio.chs);
            return d.fail(error::IDNF);
        }
        d.buf_pos = 0;
        d.buf_len = len;
        let (lba48, chs) = (d.pio.lba48, d.pio.chs);
        d.set_address(lba + n as u64 - 1, lba48, chs);
        d.set_count(d.pio.remaining - n as u32, lba48);
        d.status = status::DRDY | status::DSC | status::DRQ;
        d.intrq = true;
    }

    /// The host has written the whole DRQ block: store it, then ask for the next or finish.
    fn block_write_done(&mut self) {
        let sel = self.state.selected;
        let d = &mut self.state.drives[sel];
        let n = (d.buf_len / SECTOR_SIZE) as u32;
        let lba = d.pio.lba;
        let (lba48, chs) = (d.pio.lba48, d.pio.chs);
        let res = match (self.disks[sel].as_mut(), d.buffer.get(..d.buf_len)) {
            (Some(disk), Some(buf)) => disk.write_sectors(lba, buf).map_err(|e| match e {
                DiskError::OutOfRange => error::IDNF,
                DiskError::ReadOnly => error::ABRT,
            }),
            _ => Err(error::IDNF),
        };
        let res = res.and_then(|()| {
            // Write-through when the guest turned the write cache off.
            match self.disks[sel].as_mut() {
                Some(disk) if !d.write_cache => disk.flush().map_err(|e| {
                    log::error!("ata: write-through failed: {e}");
                    error::ABRT
                }),
                _ => Ok(()),
            }
        });
        if let Err(e) = res {
            d.set_address(lba, lba48, chs);
            return d.fail(e);
        }
        d.set_address(lba + n as u64 - 1, lba48, chs);
        d.pio.remaining = d.pio.remaining.saturating_sub(n);
        d.pio.lba += n as u64;
        d.set_count(d.pio.remaining, lba48);
        if d.pio.remaining == 0 {
            d.buf_pos = 0;
            d.buf_len = 0;
            return d.complete();
        }
        let next = d.pio.block.min(d.pio.remaining).clamp(1, MAX_MULTIPLE as u32) as usize;
        d.buf_pos = 0;
        d.buf_len = next * SECTOR_SIZE;
        d.status = status::DRDY | status::DSC | status::DRQ;
        d.intrq = true;
    }

    fn command(&mut self, cmd: u8) {
        use command::*;
        let sel = self.state.selected;
        if cmd == EXECUTE_DEVICE_DIAGNOSTIC {
            return self.diagnose();
        }
        let srst = self.state.device_control & control::SRST != 0;
        let d = &mut self.state.drives[sel];
        if !d.present || srst {
            log::debug!("ata {:#x}: command {cmd:#04x} to device {sel} ignored", self.state.base);
            return;
        }
        d.intrq = false;
        d.error = 0;
        d.pio = Pio::IDLE;
        d.buf_pos = 0;
        d.buf_len = 0;
        match cmd {
            IDENTIFY_DEVICE => {
                let id = d.identify();
                d.buffer[..512].copy_from_slice(&id);
                d.buf_len = 512;
                d.pio = Pio { kind: PioKind::Identify, ..Pio::IDLE };
                d.status = status::DRDY | status::DSC | status::DRQ;
                d.intrq = true;
            }
            READ_SECTORS | READ_SECTORS_NORETRY => self.start_pio(sel, PioKind::Read, false, 1),
            READ_SECTORS_EXT => self.start_pio(sel, PioKind::Read, true, 1),
            WRITE_SECTORS | WRITE_SECTORS_NORETRY => self.start_pio(sel, PioKind::Write, false, 1),
            WRITE_SECTORS_EXT => self.start_pio(sel, PioKind::Write, true, 1),
            READ_MULTIPLE | READ_MULTIPLE_EXT | WRITE_MULTIPLE | WRITE_MULTIPLE_EXT => {
                if d.multiple == 0 {
                    return d.fail(error::ABRT);
                }
                let block = d.multiple as u32;
                let kind =
                    if matches!(cmd, READ_MULTIPLE | READ_MULTIPLE_EXT) { PioKind::Read } else { PioKind::Write };
                self.start_pio(sel, kind, matches!(cmd, READ_MULTIPLE_EXT | WRITE_MULTIPLE_EXT), block);
            }
            SET_MULTIPLE_MODE => {
                let n = d.sector_count;
                if n > MAX_MULTIPLE || !(n == 0 || n.is_power_of_two()) {
                    return d.fail(error::ABRT);
                }
                d.multiple = n;
                d.complete();
            }
            READ_VERIFY_SECTORS | READ_VERIFY_SECTORS_NORETRY | READ_VERIFY_SECTORS_EXT => {
                let lba48 = cmd == READ_VERIFY_SECTORS_EXT;
                if let Some((lba, n, chs)) = Self::check_range(d, lba48) {
                    d.set_address(lba + n as u64 - 1, lba48, chs);
                    d.set_count(0, lba48);
                    d.complete();
                }
            }
            INITIALIZE_DEVICE_PARAMETERS => {
                let heads = (d.device & device::HEAD) as u32 + 1;
                let sectors = d.sector_count as u32;
                if sectors == 0 {
                    return d.fail(error::ABRT);
                }
                let cylinders = (d.total_sectors / (heads * sectors) as u64).min(65535) as u32;
                d.current_chs = Chs::new(cylinders, heads, sectors);
                d.complete();
            }
            _ if cmd & 0xF0 == RECALIBRATE => {
                if d.device & device::LBA == 0 {
                    d.lba_mid = 0;
                    d.lba_high = 0;
                }
                d.complete();
            }
            _ if cmd & 0xF0 == SEEK => match d.address(false) {
                Ok((lba, _)) if lba < d.total_sectors => d.complete(),
                _ => d.fail(error::IDNF),
            },
            SET_FEATURES => {
                let ok = match d.features {
                    0x02 => {
                        d.write_cache = true;
                        true
                    }
                    0x82 => {
                        d.write_cache = false;
                        true
                    }
                    0xAA => {
                        d.look_ahead = true;
                        true
                    }
                    0x55 => {
                        d.look_ahead = false;
                        true
                    }
                    // Set transfer mode: PIO default (00h/01h) or PIO flow-control modes 0-4.
                    0x03 => matches!(d.sector_count, 0x00 | 0x01 | 0x08..=0x0C),
                    // Revert to power-on defaults on/off; legacy ECC and retry settings.
                    0x66 | 0xCC | 0x22 | 0xDD | 0x33 | 0x99 | 0x44 | 0xBB => true,
                    _ => false,
                };
                if ok { d.complete() } else { d.fail(error::ABRT) }
            }
            FLUSH_CACHE | FLUSH_CACHE_EXT => {
                let res = self.disks[sel].as_mut().map_or(Ok(()), |disk| disk.flush());
                let d = &mut self.state.drives[sel];
                match res {
                    Ok(()) => d.complete(),
                    Err(e) => {
                        log::error!("ata: FLUSH CACHE: {e}");
                        d.fail(error::ABRT)
                    }
                }
            }
            CHECK_POWER_MODE => {
                d.sector_count = 0xFF; // active or idle
                d.complete();
            }
            STANDBY_IMMEDIATE | IDLE_IMMEDIATE | STANDBY | IDLE => d.complete(),
            _ => {
                log::debug!("ata: command {cmd:#04x} aborted");
                d.fail(error::ABRT)
            }
        }
    }

    /// Validates the address and count of a sector command; on failure reports IDNF.
    fn check_range(d: &mut AtaDrive, lba48: bool) -> Option<(u64, u32, bool)> {
        let n = d.count(lba48);
        let Ok((lba, chs)) = d.address(lba48) else {
            d.fail(error::IDNF);
            return None;
        };
        if lba.saturating_add(n as u64) > d.total_sectors {
            let bad = lba.max(d.total_sectors);
            d.set_address(bad, lba48, chs);
            d.fail(error::IDNF);
            return None;
        }
        Some((lba, n, chs))
    }

    fn start_pio(&mut self, sel: usize, kind: PioKind, lba48: bool, block: u32) {
        let readonly = self.disks[sel].as_ref().is_none_or(|d| d.is_readonly());
        let d = &mut self.state.drives[sel];
        let Some((lba, n, chs)) = Self::check_range(d, lba48) else { return };
        d.pio = Pio { kind, lba, remaining: n, block, lba48, chs };
        match kind {
            PioKind::Read => self.load_read_block(sel),
            _ => {
                if readonly {
                    return d.fail(error::ABRT);
                }
                // The first block is requested without an interrupt.
                let first = block.min(n).clamp(1, MAX_MULTIPLE as u32) as usize;
                d.buf_pos = 0;
                d.buf_len = first * SECTOR_SIZE;
                d.status = status::DRDY | status::DSC | status::DRQ;
            }
        }
    }

    /// EXECUTE DEVICE DIAGNOSTIC: both devices run it; device 0 reports and interrupts.
    fn diagnose(&mut self) {
        let s = &mut self.state;
        if s.device_control & control::SRST != 0 {
            return;
        }
        for d in s.drives.iter_mut() {
            if d.present {
                d.signature();
                d.intrq = false;
            } else {
                d.device = 0;
            }
        }
        s.selected = 0;
        if let Some(d) = s.drives.iter_mut().find(|d| d.present) {
            d.intrq = true;
        }
    }
}

fn pick(hob: bool, prev: u8, cur: u8) -> u8 {
    if hob { prev } else { cur }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u16 = ATA_PRIMARY_BASE;
    const CTRL: u16 = ATA_PRIMARY_CTRL;

    /// A disk whose sector n starts with n (as u32 LE) and is otherwise 0xC3.
    fn disk(sectors: usize, readonly: bool) -> Disk {
        let mut img = vec![0xC3u8; sectors * 512];
        for (n, s) in img.chunks_mut(512).enumerate() {
            s[..4].copy_from_slice(&(n as u32).to_le_bytes());
        }
        Disk::from_bytes(img, readonly).unwrap()
    }

    fn channel(sectors: usize) -> AtaChannel {
        let mut ch = AtaChannel::primary();
        assert!(ch.attach(0, disk(sectors, false)).unwrap().is_none());
        ch
    }

    fn read_block(ch: &mut AtaChannel, words: usize) -> Vec<u8> {
        (0..words).flat_map(|_| ch.read16(BASE).to_le_bytes()).collect()
    }

    fn lba28(ch: &mut AtaChannel, dev: u8, lba: u32, count: u8) {
        ch.write8(BASE + 6, 0xE0 | dev << 4 | (lba >> 24) as u8 & 0x0F);
        ch.write8(BASE + 2, count);
        ch.write8(BASE + 3, lba as u8);
        ch.write8(BASE + 4, (lba >> 8) as u8);
        ch.write8(BASE + 5, (lba >> 16) as u8);
    }

    fn lba48(ch: &mut AtaChannel, lba: u64, count: u16) {
        ch.write8(BASE + 6, 0x40);
        for (i, off) in [2u16, 3, 4, 5].into_iter().enumerate() {
            let (hi, lo) = match i {
                0 => ((count >> 8) as u8, count as u8),
                _ => ((lba >> (24 + 8 * (i - 1))) as u8, (lba >> (8 * (i - 1))) as u8),
            };
            ch.write8(BASE + off, hi);
            ch.write8(BASE + off, lo);
        }
    }

    fn tag(sector: &[u8]) -> u32 {
        u32::from_le_bytes([sector[0], sector[1], sector[2], sector[3]])
    }

    fn word(id: &[u8], n: usize) -> u16 {
        u16::from_le_bytes([id[2 * n], id[2 * n + 1]])
    }

    fn string(id: &[u8], from: usize, to: usize) -> String {
        (from..to).flat_map(|n| word(id, n).to_be_bytes()).map(|b| b as char).collect()
    }

    #[test]
    fn signature_after_power_on_and_srst() {
        let mut ch = channel(1000);
        let regs = |ch: &mut AtaChannel| (2..=7).map(|o| ch.read8(BASE + o)).collect::<Vec<_>>();
        assert_eq!(regs(&mut ch), vec![1, 1, 0, 0, 0, 0x50]);
        assert_eq!(ch.read8(BASE + 1), 0x01, "diagnostic code: passed");
        lba28(&mut ch, 0, 0x123456, 9);
        ch.write8(CTRL, control::SRST);
        assert_eq!(ch.read8(CTRL), status::BSY);
        ch.write8(BASE + 7, command::IDENTIFY_DEVICE);
        assert_eq!(ch.read8(CTRL), status::BSY, "commands are ignored during SRST");
        ch.write8(CTRL, 0);
        assert_eq!(regs(&mut ch), vec![1, 1, 0, 0, 0, 0x50]);
        assert_eq!(ch.read8(BASE + 1), 0x01);
        assert!(!ch.irq_level(), "a soft reset does not interrupt");
    }

    #[test]
    fn identify_block() {
        let mut ch = channel(64 * 2048); // 64 MiB
        ch.write8(BASE + 6, 0xA0);
        ch.write8(BASE + 7, command::IDENTIFY_DEVICE);
        assert!(ch.irq_level());
        assert_eq!(ch.read8(CTRL), 0x58);
        assert!(ch.irq_level(), "alternate status does not acknowledge");
        assert_eq!(ch.read8(BASE + 7), 0x58);
        assert!(!ch.irq_level(), "status does");
        let id = read_block(&mut ch, 256);
        assert_eq!(ch.read8(BASE + 7), 0x50, "DRQ drops after 256 words");
        assert_eq!(word(&id, 0), 0x0040);
        assert_eq!((word(&id, 1), word(&id, 3), word(&id, 6)), (130, 16, 63));
        assert_eq!((word(&id, 4), word(&id, 5)), (63 * 512, 512), "ATA-1 unformatted bytes per track, sector");
        assert_eq!(string(&id, 27, 47).trim_end(), MODEL);
        assert_eq!(string(&id, 10, 20).trim_end(), "X86LAB-01F0-0");
        assert_eq!(string(&id, 23, 27).trim_end(), env!("CARGO_PKG_VERSION"));
        assert_eq!(word(&id, 47), 0x8010);
        assert_eq!(word(&id, 49) & 0x0200, 0x0200, "LBA");
        assert_eq!(word(&id, 53) & 1, 1);
        assert_eq!((word(&id, 54), word(&id, 55), word(&id, 56)), (130, 16, 63));
        assert_eq!(word(&id, 57) as u32 | (word(&id, 58) as u32) << 16, 130 * 16 * 63);
        assert_eq!(word(&id, 59), 0, "multiple mode off at power-on");
        assert_eq!(word(&id, 60) as u32 | (word(&id, 61) as u32) << 16, 131072);
        assert_eq!(word(&id, 83) & 0x0400, 0x0400, "48-bit");
        assert_eq!(word(&id, 86) & 0x0400, 0x0400);
        assert_eq!(word(&id, 100) as u64 | (word(&id, 101) as u64) << 16, 131072);
        assert_eq!(id[510], 0xA5);
        assert_eq!(id.iter().fold(0u8, |a, &b| a.wrapping_add(b)), 0, "checksum");
        // SET MULTIPLE shows in word 59.
        ch.write8(BASE + 2, 8);
        ch.write8(BASE + 7, command::SET_MULTIPLE_MODE);
        assert_eq!(ch.read8(BASE + 7), 0x50);
        ch.write8(BASE + 7, command::IDENTIFY_DEVICE);
        let id = read_block(&mut ch, 256);
        assert_eq!(word(&id, 59), 0x0108);
    }

    #[test]
    fn read_sectors_lba28_with_an_interrupt_per_sector() {
        let mut ch = channel(1000);
        lba28(&mut ch, 0, 10, 3);
        ch.write8(BASE + 7, command::READ_SECTORS);
        for n in 10..13 {
            assert!(ch.irq_level(), "sector {n}");
            assert_eq!(ch.read8(BASE + 7), 0x58);
            assert!(!ch.irq_level());
            let s = read_block(&mut ch, 256);
            assert_eq!(tag(&s), n);
            assert_eq!(s[511], 0xC3);
        }
        assert!(!ch.irq_level(), "no interrupt after the last block of a read");
        assert_eq!(ch.read8(BASE + 7), 0x50);
        assert_eq!(ch.read8(BASE + 2), 0, "count ran down");
        assert_eq!(ch.read8(BASE + 3), 12, "registers hold the last sector read");
        // Reads past DRQ return 0 and move nothing.
        assert_eq!(ch.read16(BASE), 0);
    }

    #[test]
    fn thirty_two_bit_pio() {
        let mut ch = channel(100);
        lba28(&mut ch, 0, 7, 1);
        ch.write8(BASE + 7, command::READ_SECTORS);
        let s: Vec<u8> = (0..128).flat_map(|_| ch.read32(BASE).to_le_bytes()).collect();
        assert_eq!(tag(&s), 7);
        assert_eq!(ch.read8(BASE + 7), 0x50);
        lba28(&mut ch, 0, 8, 1);
        ch.write8(BASE + 7, command::WRITE_SECTORS);
        for i in 0..128u32 {
            ch.write32(BASE, i.wrapping_mul(0x0101_0101));
        }
        assert_eq!(ch.read8(BASE + 7), 0x50);
        assert_eq!(&ch.disk(0).unwrap().bytes()[8 * 512 + 4..8 * 512 + 8], &[1, 1, 1, 1]);
    }

    #[test]
    fn write_sectors_protocol() {
        let mut ch = channel(100);
        lba28(&mut ch, 0, 20, 2);
        ch.write8(BASE + 7, command::WRITE_SECTORS);
        assert_eq!(ch.read8(CTRL), 0x58);
        assert!(!ch.irq_level(), "the first block is asked for without an interrupt");
        for i in 0..256u16 {
            ch.write16(BASE, i);
        }
        assert!(ch.irq_level(), "interrupt for the second block");
        assert_eq!(ch.read8(BASE + 7), 0x58);
        for i in 0..256u16 {
            ch.write16(BASE, 0x8000 | i);
        }
        assert!(ch.irq_level(), "interrupt at completion");
        assert_eq!(ch.read8(BASE + 7), 0x50);
        let b = ch.disk(0).unwrap().bytes();
        assert_eq!(&b[20 * 512..20 * 512 + 4], &[0, 0, 1, 0]);
        assert_eq!(&b[21 * 512 + 510..21 * 512 + 512], &[0xFF, 0x80]);
        assert_eq!(ch.disk(0).unwrap().changed_blocks().collect::<Vec<_>>(), vec![20, 21]);
        // Extra writes are dropped.
        ch.write16(BASE, 0xFFFF);
        assert_eq!(ch.read8(BASE + 7), 0x50);
    }

    #[test]
    fn chs_addressing_and_initialize_device_parameters() {
        let mut ch = channel(64 * 2048);
        // C=1 H=2 S=3 on 16x63: (1*16+2)*63 + 2 = 1136
        ch.write8(BASE + 6, 0xA2);
        ch.write8(BASE + 2, 1);
        ch.write8(BASE + 3, 3);
        ch.write8(BASE + 4, 1);
        ch.write8(BASE + 5, 0);
        ch.write8(BASE + 7, command::READ_SECTORS);
        assert_eq!(tag(&read_block(&mut ch, 256)), 1136);
        // Sector 0 does not exist in CHS.
        ch.write8(BASE + 3, 0);
        ch.write8(BASE + 2, 1);
        ch.write8(BASE + 7, command::READ_SECTORS);
        assert_eq!(ch.read8(BASE + 7), 0x51);
        assert_eq!(ch.read8(BASE + 1), error::IDNF);
        // Translate to 8 heads x 32 sectors.
        ch.write8(BASE + 6, 0xA7);
        ch.write8(BASE + 2, 32);
        ch.write8(BASE + 7, command::INITIALIZE_DEVICE_PARAMETERS);
        assert_eq!(ch.read8(BASE + 7), 0x50);
        assert_eq!(ch.state.drives[0].current_chs, Chs::new(512, 8, 32));
        ch.write8(BASE + 6, 0xA2);
        ch.write8(BASE + 2, 2);
        ch.write8(BASE + 3, 32);
        ch.write8(BASE + 4, 1);
        ch.write8(BASE + 5, 0);
        ch.write8(BASE + 7, command::READ_SECTORS);
        // (1*8+2)*32 + 31 = 351, then 352 = C1 H3 S1
        assert_eq!(tag(&read_block(&mut ch, 256)), 351);
        assert_eq!(tag(&read_block(&mut ch, 256)), 352);
        assert_eq!((ch.read8(BASE + 3), ch.read8(BASE + 4), ch.read8(BASE + 6) & 0x0F), (1, 1, 3));
        ch.write8(BASE + 2, 0);
        ch.write8(BASE + 7, command::INITIALIZE_DEVICE_PARAMETERS);
        assert_eq!(ch.read8(BASE + 1), error::ABRT);
    }

    #[test]
    fn lba48_with_the_hob_fifo() {
        let mut ch = channel(70_000);
        lba48(&mut ch, 0x1_0000, 2);
        // HOB reads back the previous bytes.
        ch.write8(CTRL, control::HOB);
        assert_eq!((ch.read8(BASE + 2), ch.read8(BASE + 3), ch.read8(BASE + 4)), (0, 0, 0));
        ch.write8(CTRL, 0);
        assert_eq!((ch.read8(BASE + 2), ch.read8(BASE + 5)), (2, 1));
        ch.write8(BASE + 7, command::READ_SECTORS_EXT);
        assert_eq!(tag(&read_block(&mut ch, 256)), 0x1_0000);
        assert_eq!(tag(&read_block(&mut ch, 256)), 0x1_0001);
        assert_eq!(ch.read8(BASE + 7), 0x50);
        // Count 0 means 65536 sectors: out of range on this disk.
        lba48(&mut ch, 10_000, 0);
        ch.write8(BASE + 7, command::READ_SECTORS_EXT);
        assert_eq!(ch.read8(BASE + 7), 0x51);
        assert_eq!(ch.read8(BASE + 1), error::IDNF);
        // Write EXT then read back.
        lba48(&mut ch, 69_999, 1);
        ch.write8(BASE + 7, command::WRITE_SECTORS_EXT);
        for _ in 0..256 {
            ch.write16(BASE, 0xBEEF);
        }
        assert_eq!(ch.read8(BASE + 7), 0x50);
        assert_eq!(ch.disk(0).unwrap().bytes()[69_999 * 512], 0xEF);
        // A command block write clears HOB.
        ch.write8(CTRL, control::HOB);
        ch.write8(BASE + 1, 0);
        assert_eq!(ch.state.device_control & control::HOB, 0);
    }

    #[test]
    fn multiple_mode() {
        let mut ch = channel(1000);
        lba28(&mut ch, 0, 0, 5);
        ch.write8(BASE + 7, command::READ_MULTIPLE);
        assert_eq!(ch.read8(BASE + 7), 0x51, "multiple mode is off");
        assert_eq!(ch.read8(BASE + 1), error::ABRT);
        for bad in [3u8, 32, 17] {
            ch.write8(BASE + 2, bad);
            ch.write8(BASE + 7, command::SET_MULTIPLE_MODE);
            assert_eq!(ch.read8(BASE + 1), error::ABRT, "{bad}");
        }
        ch.write8(BASE + 2, 4);
        ch.write8(BASE + 7, command::SET_MULTIPLE_MODE);
        assert_eq!(ch.read8(BASE + 7), 0x50);
        lba28(&mut ch, 0, 100, 6);
        ch.write8(BASE + 7, command::READ_MULTIPLE);
        assert!(ch.irq_level());
        let b = read_block(&mut ch, 4 * 256);
        assert_eq!((tag(&b), tag(&b[3 * 512..])), (100, 103));
        assert!(ch.irq_level(), "second block");
        assert_eq!(ch.read8(BASE + 7), 0x58);
        let b = read_block(&mut ch, 2 * 256);
        assert_eq!(tag(&b[512..]), 105);
        assert_eq!(ch.read8(BASE + 7), 0x50);
        // WRITE MULTIPLE: interrupts per block of 4.
        lba28(&mut ch, 0, 200, 5);
        ch.write8(BASE + 7, command::WRITE_MULTIPLE);
        for _ in 0..4 * 256 {
            ch.write16(BASE, 0x1111);
        }
        assert!(ch.irq_level());
        assert_eq!(ch.read8(BASE + 7), 0x58);
        for _ in 0..256 {
            ch.write16(BASE, 0x2222);
        }
        assert_eq!(ch.read8(BASE + 7), 0x50);
        assert_eq!(ch.disk(0).unwrap().bytes()[204 * 512], 0x22);
        // READ MULTIPLE EXT.
        lba48(&mut ch, 300, 4);
        ch.write8(BASE + 7, command::READ_MULTIPLE_EXT);
        assert_eq!(tag(&read_block(&mut ch, 4 * 256)[3 * 512..]), 303);
        assert_eq!(ch.read8(BASE + 7), 0x50);
    }

    #[test]
    fn out_of_range_is_idnf_never_a_panic() {
        let mut ch = channel(100);
        for (lba, count) in [(100u32, 1u8), (99, 2), (0x0FFF_FFFF, 0), (50, 0)] {
            lba28(&mut ch, 0, lba, count);
            ch.write8(BASE + 7, command::READ_SECTORS);
            assert_eq!(ch.read8(BASE + 7), 0x51, "lba {lba} count {count}");
            assert_eq!(ch.read8(BASE + 1), error::IDNF);
            assert!(ch.read16(BASE) == 0);
            ch.write8(BASE + 7, command::WRITE_SECTORS);
            assert_eq!(ch.read8(BASE + 1), error::IDNF);
            ch.write8(BASE + 7, command::READ_VERIFY_SECTORS);
            assert_eq!(ch.read8(BASE + 1), error::IDNF);
        }
        lba28(&mut ch, 0, 99, 1);
        ch.write8(BASE + 7, command::READ_VERIFY_SECTORS);
        assert_eq!(ch.read8(BASE + 7), 0x50);
        lba48(&mut ch, u64::MAX, 0);
        ch.write8(BASE + 7, command::READ_SECTORS_EXT);
        assert_eq!(ch.read8(BASE + 1), error::IDNF);
    }

    #[test]
    fn readonly_disk_aborts_writes() {
        let mut ch = AtaChannel::primary();
        ch.attach(0, disk(100, true)).unwrap();
        lba28(&mut ch, 0, 1, 1);
        ch.write8(BASE + 7, command::WRITE_SECTORS);
        assert_eq!(ch.read8(BASE + 7), 0x51);
        assert_eq!(ch.read8(BASE + 1), error::ABRT);
        ch.write8(BASE + 7, command::READ_SECTORS);
        assert_eq!(tag(&read_block(&mut ch, 256)), 1);
    }

    #[test]
    fn unsupported_commands_abort() {
        let mut ch = channel(100);
        for cmd in [0x00u8, 0x08, 0xA0, 0xA1, 0xC8, 0xCA, 0x25, 0xF8, 0xB0, 0xFF, 0xE6] {
            ch.write8(BASE + 7, cmd);
            assert_eq!(ch.read8(BASE + 7), 0x51, "{cmd:#x}");
            assert_eq!(ch.read8(BASE + 1), error::ABRT, "{cmd:#x}");
        }
        // IDENTIFY PACKET DEVICE on a disk leaves the ATA signature alone.
        ch.write8(CTRL, control::SRST);
        ch.write8(CTRL, 0);
        ch.write8(BASE + 7, command::IDENTIFY_PACKET_DEVICE);
        assert_eq!((ch.read8(BASE + 4), ch.read8(BASE + 5)), (0, 0));
    }

    #[test]
    fn misc_non_data_commands() {
        let mut ch = channel(100);
        for (feat, count, ok) in
            [(0x02, 0, true), (0x82, 0, true), (0x03, 0x0C, true), (0x03, 0x42, false), (0x05, 0, false)]
        {
            ch.write8(BASE + 1, feat);
            ch.write8(BASE + 2, count);
            ch.write8(BASE + 7, command::SET_FEATURES);
            assert!(ch.irq_level());
            assert_eq!(ch.read8(BASE + 7), if ok { 0x50 } else { 0x51 }, "feature {feat:#x}/{count:#x}");
        }
        assert!(!ch.state.drives[0].write_cache);
        ch.write8(BASE + 7, command::CHECK_POWER_MODE);
        assert_eq!(ch.read8(BASE + 2), 0xFF);
        for cmd in [0x10, 0x1F, 0xE0, 0xE1, 0xE2, 0xE3, 0xE7, 0xEA] {
            ch.write8(BASE + 7, cmd);
            assert!(ch.irq_level(), "{cmd:#x}");
            assert_eq!(ch.read8(BASE + 7), 0x50, "{cmd:#x}");
        }
        lba28(&mut ch, 0, 99, 1);
        ch.write8(BASE + 7, 0x70);
        assert_eq!(ch.read8(BASE + 7), 0x50);
        lba28(&mut ch, 0, 100, 1);
        ch.write8(BASE + 7, 0x70);
        assert_eq!(ch.read8(BASE + 7), 0x51);
    }

    #[test]
    fn nien_masks_the_line_not_the_interrupt() {
        let mut ch = channel(100);
        ch.write8(CTRL, control::NIEN);
        ch.write8(BASE + 7, command::IDENTIFY_DEVICE);
        assert!(!ch.irq_level());
        ch.write8(CTRL, 0);
        assert!(ch.irq_level(), "still pending");
        assert_eq!(ch.irq(), 14);
        assert_eq!(AtaChannel::secondary().irq(), 15);
    }

    #[test]
    fn absent_slave_and_empty_channel() {
        let mut ch = channel(100);
        ch.write8(BASE + 6, 0xB0);
        ch.write8(BASE + 2, 0x55);
        ch.write8(BASE + 3, 0xAA);
        assert_eq!(ch.read8(BASE + 7), 0, "absent device's status reads 0");
        assert_eq!(ch.read8(CTRL), 0);
        assert_eq!(ch.read8(BASE + 1), 0);
        assert_eq!((ch.read8(BASE + 2), ch.read8(BASE + 3), ch.read8(BASE + 6)), (0x55, 0xAA, 0xB0));
        ch.write8(BASE + 7, command::IDENTIFY_DEVICE);
        assert_eq!(ch.read8(BASE + 7), 0, "command ignored");
        assert!(!ch.irq_level());
        assert_eq!(ch.read16(BASE), 0);
        // The master kept the written registers too.
        ch.write8(BASE + 6, 0xA0);
        assert_eq!((ch.read8(BASE + 2), ch.read8(BASE + 7)), (0x55, 0x50));
        // EXECUTE DEVICE DIAGNOSTIC from the slave's selection: the master answers.
        ch.write8(BASE + 6, 0xB0);
        ch.write8(BASE + 7, command::EXECUTE_DEVICE_DIAGNOSTIC);
        assert_eq!(ch.state.selected, 0);
        assert!(ch.irq_level());
        assert_eq!((ch.read8(BASE + 1), ch.read8(BASE + 2), ch.read8(BASE + 3)), (1, 1, 1));

        let mut empty = AtaChannel::secondary();
        assert_eq!(empty.read8(ATA_SECONDARY_BASE + 7), 0x7F);
        assert_eq!(empty.read8(ATA_SECONDARY_CTRL), 0x7F);
        empty.write8(ATA_SECONDARY_BASE + 2, 0x55);
        assert_eq!(empty.read8(ATA_SECONDARY_BASE + 2), 0x7F);
        assert_eq!(empty.read16(ATA_SECONDARY_BASE), 0xFF7F);
        assert!(!empty.irq_level());
        assert!(empty.owns_port(0x376) && !empty.owns_port(0x1F0));
    }

    #[test]
    fn master_and_slave_are_separate() {
        let mut ch = channel(100);
        ch.attach(1, disk(50, false)).unwrap();
        ch.write8(BASE + 6, 0xB0);
        ch.write8(BASE + 7, command::IDENTIFY_DEVICE);
        let id = read_block(&mut ch, 256);
        assert_eq!(word(&id, 60), 50);
        assert_eq!(string(&id, 10, 20).trim_end(), "X86LAB-01F0-1");
        lba28(&mut ch, 1, 49, 1);
        ch.write8(BASE + 7, command::READ_SECTORS);
        assert!(ch.irq_level());
        // Selecting the master hides the slave's INTRQ.
        ch.write8(BASE + 6, 0xA0);
        assert!(!ch.irq_level());
        ch.write8(BASE + 6, 0xB0);
        assert_eq!(tag(&read_block(&mut ch, 256)), 49);
        assert_eq!(ch.detach(1).map(|d| d.sectors()), Some(50));
        assert_eq!(ch.read8(BASE + 7), 0);
    }

    #[test]
    fn write_through_and_flush_reach_the_file() {
        let path = std::env::temp_dir().join(format!("x86lab-ata-{}.img", std::process::id()));
        std::fs::write(&path, vec![0u8; 64 * 512]).unwrap();
        let mut ch = AtaChannel::primary();
        ch.attach(0, Disk::open(&path, false).unwrap()).unwrap();
        lba28(&mut ch, 0, 3, 1);
        ch.write8(BASE + 7, command::WRITE_SECTORS);
        for _ in 0..256 {
            ch.write16(BASE, 0x7777);
        }
        assert_eq!(std::fs::read(&path).unwrap()[3 * 512], 0, "cached until FLUSH CACHE");
        ch.write8(BASE + 7, command::FLUSH_CACHE);
        assert_eq!(ch.read8(BASE + 7), 0x50);
        assert_eq!(std::fs::read(&path).unwrap()[3 * 512], 0x77);
        // Write cache off: each write goes through.
        ch.write8(BASE + 1, 0x82);
        ch.write8(BASE + 7, command::SET_FEATURES);
        lba28(&mut ch, 0, 4, 1);
        ch.write8(BASE + 7, command::WRITE_SECTORS);
        for _ in 0..256 {
            ch.write16(BASE, 0x6666);
        }
        assert_eq!(std::fs::read(&path).unwrap()[4 * 512], 0x66);
        drop(ch);
        std::fs::remove_file(&path).unwrap();
    }

    /// Random port traffic, including half-finished transfers, SRST in the middle and
    /// commands with random parameters, must never panic or push a buffer index out of range.
    #[test]
    fn random_traffic_never_panics() {
        let mut ch = channel(300);
        ch.attach(1, disk(20, true)).unwrap();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let cmds = [
            0x20u8, 0x24, 0x29, 0x30, 0x34, 0x39, 0x40, 0x42, 0x70, 0x91, 0xC4, 0xC5, 0xC6, 0xEC, 0xEF, 0x90, 0xE7,
            0x10,
        ];
        for step in 0..300_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = (x >> 24) as u8;
            match x % 12 {
                0 => ch.write8(BASE + 7, cmds[(x >> 32) as usize % cmds.len()]),
                1..=3 => ch.write8(BASE + 1 + (x >> 40) as u16 % 6, b),
                4..=5 => {
                    ch.read16(BASE);
                }
                6 => ch.write16(BASE, b as u16),
                7 => {
                    ch.read32(BASE);
                }
                8 => ch.write32(BASE, x as u32),
                9 => {
                    ch.read8(BASE + (x >> 40) as u16 % 8);
                }
                10 => ch.write8(CTRL, b & 0x86),
                _ => {
                    ch.read8(CTRL);
                    ch.irq_level();
                }
            }
            for d in &ch.state.drives {
                assert!(d.buf_pos <= d.buf_len && d.buf_len <= d.buffer.len(), "step {step}");
                assert!(d.multiple <= MAX_MULTIPLE);
            }
        }
    }
}
