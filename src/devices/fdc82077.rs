//! The Intel 82077AA CHMOS single-chip floppy disk controller, as on a PC/AT at 0x3F0-0x3F7
//! with IRQ 6 and DMA channel 2, driving up to two drives (A: and B:) whose media are
//! [`Disk`] images.
//!
//! Source: Intel 82077AA CHMOS Single-Chip Floppy Disk Controller datasheet (order 290166):
//! the register descriptions, the command set and status registers ST0-ST3, the result-phase
//! table for multi-sector transfers (C/H/R/N after MT and EOT), the reset behaviour and the
//! initialization sequence (§8.2).
//!
//! # Registers ([`FdcState`])
//! | port  | read                          | write                              |
//! |-------|-------------------------------|------------------------------------|
//! | 0x3F0 | SRA, status register A (PS/2 layout) | —                           |
//! | 0x3F1 | SRB, status register B (PS/2 layout) | —                           |
//! | 0x3F2 | DOR, digital output register  | DOR: drive select, nRESET, DMA GATE, motor enables |
//! | 0x3F3 | TDR, tape drive register      | TDR                                |
//! | 0x3F4 | MSR, main status register     | DSR: data rate, precompensation, power down, software reset |
//! | 0x3F5 | FIFO (result / PIO data)      | FIFO (command / PIO data)          |
//! | 0x3F7 | DIR: bit 7 disk change (AT mode; bits 6-0 read 0) | CCR: data rate |
//!
//! 0x3F6 belongs to the hard disk controller. SRA/SRB are given their PS/2-mode contents (the
//! only documented ones; an AT-mode 82077AA leaves them floating), as QEMU shows them.
//!
//! # Commands
//! READ DATA, WRITE DATA (multi-sector, MT multi-track, EOT; GPL and DTL accepted and ignored
//! since every sector is 512 bytes), READ ID, FORMAT TRACK, RECALIBRATE, SEEK (also relative),
//! SENSE INTERRUPT STATUS, SENSE DRIVE STATUS, SPECIFY, CONFIGURE, DUMPREG, PERPENDICULAR MODE,
//! LOCK/UNLOCK, VERSION (0x90). Any other first byte is invalid: one result byte, ST0 = 0x80.
//!
//! Result phases follow the datasheet: ST0 IC = 01 with ST1 ND (sector not found: wrong R,
//! H, or N, or cylinder mismatch with ST2 WC/BC), ST1 MA (missing address mark: wrong data
//! rate, FM mode, unformatted track, no medium), ST1 NW (read-only image), ST1 EN (EOT passed
//! without TC — what every PIO transfer ends with, as on real hardware); the C/H/R/N bytes are
//! those of the datasheet's table (the sector after the last one transferred). A drive without
//! a medium answers at once with ST0 NR + ST1 MA; a real controller would wait for an index
//! pulse that never comes until the driver timed out and reset it.
//!
//! The **data rate** (DSR/CCR) must suit the medium ([`FloppyType::data_rate_mask`]), which is
//! how BIOSes sense 720K vs 1.44M media. A drive has a physical head position apart from the
//! FDC's PCN register, so reset-without-recalibrate confusion happens as on hardware: a READ
//! DATA whose C differs from the track under the head fails with ND/WC. RECALIBRATE gives up
//! after 79 steps (ST0 EC), which is also how an absent drive shows (no TRK0 ever). The **disk
//! change** line (DIR bit 7) is set when a medium is inserted or ejected and cleared by a step
//! pulse with a medium present.
//!
//! # Where x86lab does what Bochs and QEMU do, not what the datasheet says
//! Bochs's BIOS (`BIOS-bochs-legacy`, rombios.c) was written for emulated controllers and counts
//! on three of their habits; x86lab has them too, so that BIOS boots (tests/bios_compat.rs):
//! - **Power-on data rate 500 kb/s** (DRATE 0, QEMU's reset value). The 82077AA datasheet gives
//!   DSR = 02h (250 kb/s) after a hardware reset; rombios never writes the CCR and reads 1.44M
//!   media at whatever rate the controller starts with. A software reset keeps the rate.
//! - **Implied seek always**: READ DATA and WRITE DATA first step the head from PCN to the
//!   command's C, as with CONFIGURE EIS = 1 (Bochs and QEMU never check the cylinder against the
//!   head). rombios issues no SEEK before a transfer. Because the steps are counted from PCN, a
//!   head out of step with PCN still ends up on the wrong track (ND/WC).
//! - **The track ends at its last sector** even when EOT is larger: rombios sends EOT = R + count
//!   − 1, so a read that runs past sector 18 of a 1.44M track (MT) goes on with head 1, sector 1,
//!   as in Bochs and QEMU, where a real controller would look for sector 19 and fail with ND.
//!
//! # Interrupts
//! `INT` is a level ([`Fdc82077::irq_level`]) gated by DOR DMA GATE (AT mode). It is raised by:
//! the end of a reset (with four pending SENSE INTERRUPT STATUS results, ST0 = 0xC0..0xC3, one
//! per drive), the end of SEEK/RECALIBRATE (cleared by SENSE INTERRUPT STATUS, which QEMU-like
//! lowers the line on the first one after a reset even though four statuses are pending), the
//! start of every result phase of READ/WRITE/READ ID/FORMAT (cleared by reading the first result
//! byte), and in non-DMA mode for the execution phase (data bytes wait in the FIFO).
//!
//! # Data transfer and timing
//! SPECIFY ND = 0 (DMA mode): during the execution phase the controller asserts DREQ
//! ([`DmaDevice::dreq`]) and the machine runs [`Dma8237::service`] on channel 2, which calls
//! [`DmaDevice::dma_read`]/[`DmaDevice::dma_write`] per byte with TC on the last byte of the
//! DMA count; TC ends the command at the end of that sector. ND = 1 (PIO): the host moves the
//! bytes through the FIFO port with MSR = RQM|DIO|NON-DMA|CB (read) or RQM|NON-DMA|CB (write).
//! A DACK cycle in the direction the command does not expect still moves the controller one
//! byte (a write then stores 0xFF, the undriven bus).
//!
//! Everything happens at once: commands complete when their last parameter byte is written,
//! with no seek, rotation or transfer time, so no deadline is ever needed (`Timer::Fdc` stays
//! unarmed). If the DMA channel is not ready the command simply waits in the execution phase
//! (a real 82077AA would report an overrun).
//!
//! # Wiring (for the machine)
//! ```ignore
//! // ports 0x3F0..=0x3F5 and 0x3F7 (not 0x3F6: that is the ATA device control register)
//! 0x3F0..=0x3F5 | 0x3F7 => fdc.read8(port) / fdc.write8(port, v as u8)
//! // after each FDC access and each DMA port write:
//! let r = dma.service(FDC_DMA_CHANNEL, &mut fdc, &mut mem);   // see dma8237 for `written`
//! pic.set_irq(FDC_IRQ, fdc.irq_level());
//! // at exit:
//! fdc.flush()?;
//! ```
//! Talking to it by hand:
//! ```
//! use x86lab::devices::disk::Disk;
//! use x86lab::devices::fdc82077::{FDC_DOR, FDC_FIFO, FDC_MSR, Fdc82077};
//! let mut fdc = Fdc82077::new();
//! fdc.insert_disk(0, Disk::from_bytes(vec![0; 1_474_560], false).unwrap()).unwrap();
//! fdc.write8(FDC_DOR, 0x1C); // leave reset, DMA gate on, drive 0 selected, motor 0 on
//! assert!(fdc.irq_level()); // the reset interrupt
//! fdc.write8(FDC_FIFO, 0x08); // SENSE INTERRUPT STATUS
//! assert_eq!((fdc.read8(FDC_FIFO), fdc.read8(FDC_FIFO)), (0xC0, 0)); // ST0 (polling), PCN
//! fdc.write8(FDC_FIFO, 0x10); // VERSION
//! assert_eq!(fdc.read8(FDC_MSR), 0xD0); // RQM | DIO | CMD BSY: a result byte waits
//! assert_eq!(fdc.read8(FDC_FIFO), 0x90);
//! ```
//!
//! Drives: [`Fdc82077::insert_disk`] (also marks the drive present), [`Fdc82077::set_drive_present`]
//! for an empty drive, [`Fdc82077::eject_disk`]. CMOS register 0x10 gets
//! [`FloppyType::cmos_drive_type`] of each drive's medium.
//!
//! # Not modelled
//! READ TRACK, READ/WRITE DELETED DATA, VERIFY, SCAN, the FIFO threshold and its timing,
//! overrun/underrun, CRC errors, implied-seek timing, drive busy bits in the MSR, motor spin-up
//! and the motor enables' effect on the drives, perpendicular (2.88M) recording semantics beyond
//! storing the register, double stepping of 40-track media in 80-track drives, sector sizes
//! other than 512 bytes (N must be 2), power-down mode, and drives 2 and 3.
//!
//! [`Dma8237::service`]: super::dma8237::Dma8237::service

use serde::{Deserialize, Serialize};
use std::io;

use super::disk::{Disk, DiskError, FloppyType, SECTOR_SIZE};
use super::dma8237::DmaDevice;

/// First port of the controller.
pub const FDC_BASE: u16 = 0x3F0;
/// Status register A (read).
pub const FDC_SRA: u16 = 0x3F0;
/// Status register B (read).
pub const FDC_SRB: u16 = 0x3F1;
/// Digital output register (read/write).
pub const FDC_DOR: u16 = 0x3F2;
/// Tape drive register (read/write).
pub const FDC_TDR: u16 = 0x3F3;
/// Main status register (read).
pub const FDC_MSR: u16 = 0x3F4;
/// Data rate select register (write, same port as MSR).
pub const FDC_DSR: u16 = 0x3F4;
/// Data FIFO: commands, results, PIO data.
pub const FDC_FIFO: u16 = 0x3F5;
/// Digital input register (read).
pub const FDC_DIR: u16 = 0x3F7;
/// Configuration control register (write, same port as DIR).
pub const FDC_CCR: u16 = 0x3F7;
/// The PC's IRQ line for the FDC.
pub const FDC_IRQ: u8 = 6;
/// The PC's DMA channel for the FDC.
pub const FDC_DMA_CHANNEL: usize = 2;
/// Drives this model attaches (A: and B:).
pub const FDC_DRIVES: usize = 2;
/// Result of the VERSION command: an enhanced (82077AA) controller.
pub const FDC_VERSION: u8 = 0x90;
/// The last cylinder a drive's head can physically reach (an 80-track drive's stop).
pub const MAX_HEAD_POSITION: u8 = 83;
/// Step pulses RECALIBRATE issues before giving up.
pub const RECALIBRATE_STEPS: u8 = 79;

/// Digital output register bits.
pub mod dor {
    /// Drive select, bits 1-0.
    pub const DRIVE_SEL: u8 = 0x03;
    /// 0 holds the controller in reset.
    pub const NRESET: u8 = 0x04;
    /// DMA GATE: in AT mode enables the INT and DRQ outputs.
    pub const DMA_GATE: u8 = 0x08;
    /// Motor enable of drive 0; drives 1-3 follow in bits 5-7.
    pub const MOT_EN0: u8 = 0x10;
    pub const MOT_EN1: u8 = 0x20;
}

/// Main status register bits.
pub mod msr {
    /// Drive 0 busy (seeking); not modelled, always 0.
    pub const DRV0_BUSY: u8 = 0x01;
    /// Command in progress.
    pub const CMD_BSY: u8 = 0x10;
    /// Execution phase in non-DMA mode.
    pub const NON_DMA: u8 = 0x20;
    /// Data direction: 1 = controller to host.
    pub const DIO: u8 = 0x40;
    /// Request for master: the FIFO is ready.
    pub const RQM: u8 = 0x80;
}

/// Data rate select register bits.
pub mod dsr {
    pub const DRATE_SEL: u8 = 0x03;
    pub const PRECOMP: u8 = 0x1C;
    pub const POWER_DOWN: u8 = 0x40;
    /// Self-clearing software reset.
    pub const SW_RESET: u8 = 0x80;
}

/// Digital input register bits.
pub mod dir {
    /// Disk change line of the DOR-selected drive.
    pub const DSKCHG: u8 = 0x80;
}

/// Status register 0.
pub mod st0 {
    /// Interrupt code, bits 7-6.
    pub const IC_MASK: u8 = 0xC0;
    pub const IC_NORMAL: u8 = 0x00;
    pub const IC_ABNORMAL: u8 = 0x40;
    pub const IC_INVALID: u8 = 0x80;
    /// Abnormal termination caused by polling (ready change), after a reset.
    pub const IC_POLLING: u8 = 0xC0;
    /// Seek end (SEEK, RECALIBRATE, implied seek).
    pub const SE: u8 = 0x20;
    /// Equipment check: TRK0 not found by RECALIBRATE.
    pub const EC: u8 = 0x10;
    /// Not ready (from the 8272A; here: no drive or no medium).
    pub const NR: u8 = 0x08;
    /// Head address.
    pub const H: u8 = 0x04;
    /// Drive select, bits 1-0.
    pub const DS: u8 = 0x03;
}

/// Status register 1.
pub mod st1 {
    /// End of cylinder: tried to go past EOT.
    pub const EN: u8 = 0x80;
    /// Data error (CRC); never set here.
    pub const DE: u8 = 0x20;
    /// Overrun/underrun; never set here.
    pub const OR: u8 = 0x10;
    /// No data: the sector was not found.
    pub const ND: u8 = 0x04;
    /// Not writable: the medium is write-protected.
    pub const NW: u8 = 0x02;
    /// Missing address mark.
    pub const MA: u8 = 0x01;
}

/// Status register 2.
pub mod st2 {
    /// Control mark (deleted data); never set here.
    pub const CM: u8 = 0x40;
    /// Data error in data field; never set here.
    pub const DD: u8 = 0x20;
    /// Wrong cylinder: the ID's C differs from the command's.
    pub const WC: u8 = 0x10;
    /// Bad cylinder: C = 0xFF.
    pub const BC: u8 = 0x02;
    /// Missing data address mark; never set here.
    pub const MD: u8 = 0x01;
}

/// Status register 3 (SENSE DRIVE STATUS).
pub mod st3 {
    pub const WP: u8 = 0x40;
    /// Always 1 on the 82077AA.
    pub const ONE5: u8 = 0x20;
    pub const T0: u8 = 0x10;
    /// Always 1 on the 82077AA.
    pub const ONE3: u8 = 0x08;
    pub const HD: u8 = 0x04;
}

/// Command opcodes (low bits) and modifier bits.
pub mod cmd {
    pub const READ_DATA: u8 = 0x06;
    pub const WRITE_DATA: u8 = 0x05;
    pub const READ_ID: u8 = 0x0A;
    pub const FORMAT_TRACK: u8 = 0x0D;
    pub const RECALIBRATE: u8 = 0x07;
    pub const SENSE_INTERRUPT_STATUS: u8 = 0x08;
    pub const SPECIFY: u8 = 0x03;
    pub const SENSE_DRIVE_STATUS: u8 = 0x04;
    pub const SEEK: u8 = 0x0F;
    /// RELATIVE SEEK outward (toward cylinder 0); `| 0x40` steps inward.
    pub const RELATIVE_SEEK: u8 = 0x8F;
    pub const VERSION: u8 = 0x10;
    pub const CONFIGURE: u8 = 0x13;
    pub const DUMPREG: u8 = 0x0E;
    pub const PERPENDICULAR_MODE: u8 = 0x12;
    pub const UNLOCK: u8 = 0x14;
    pub const LOCK: u8 = 0x94;
    /// Multi-track.
    pub const MT: u8 = 0x80;
    /// MFM (double density) recording.
    pub const MFM: u8 = 0x40;
    /// Skip deleted data.
    pub const SK: u8 = 0x20;
}

/// Which phase the command interface is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Waiting for (more) command bytes.
    Command,
    /// Moving data.
    Execution,
    /// Result bytes waiting to be read.
    Result,
}

/// The kind of data transfer in the execution phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferOp {
    Read,
    Write,
    Format,
}

/// An execution phase in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub op: TransferOp,
    /// Drive select (0-3).
    pub drive: u8,
    /// Physical head.
    pub hd: u8,
    /// Sector ID being matched: cylinder, head, record (sector), size code.
    pub c: u8,
    pub h: u8,
    pub r: u8,
    pub n: u8,
    /// Last sector number on the track.
    pub eot: u8,
    /// Multi-track.
    pub mt: bool,
    /// Bytes move by DMA (else through the FIFO).
    pub dma: bool,
    /// TC has been seen: finish at the end of this sector.
    pub tc: bool,
    /// LBA of the sector in `buf`.
    pub lba: u64,
    /// The sector (or, for FORMAT, the 4-byte ID) being moved.
    #[serde(with = "serde_big_array::BigArray")]
    pub buf: [u8; SECTOR_SIZE],
    /// Bytes of `buf` moved so far; always ≤ `len`.
    pub pos: usize,
    /// Bytes in this unit: 512, or 4 for a FORMAT ID.
    pub len: usize,
    /// FORMAT: IDs still to receive, and the filler byte.
    pub format_left: u8,
    pub format_fill: u8,
}

/// One drive's mechanics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drive {
    /// The drive is connected (a medium may still be absent).
    pub present: bool,
    /// The cylinder the head is over.
    pub head_position: u8,
    /// The disk change latch (DIR DSKCHG).
    pub disk_changed: bool,
}

impl Default for Drive {
    fn default() -> Self {
        Drive { present: false, head_position: 0, disk_changed: true }
    }
}

/// All guest-visible state of the 82077AA and its drives: plain data, for snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdcState {
    /// Digital output register.
    pub dor: u8,
    /// Tape drive register (bits 1-0).
    pub tdr: u8,
    /// DRATE SEL, from DSR or CCR: 0 = 500 kb/s, 1 = 300, 2 = 250, 3 = 1000. Power-on: 0 (see
    /// the module docs: the datasheet says 2, Bochs's BIOS needs 0).
    pub drate: u8,
    /// DSR PRECOMP bits 4-2.
    pub precomp: u8,
    /// DSR POWER DOWN.
    pub power_down: bool,
    /// SPECIFY: step rate time.
    pub srt: u8,
    /// SPECIFY: head unload time.
    pub hut: u8,
    /// SPECIFY: head load time.
    pub hlt: u8,
    /// SPECIFY: non-DMA mode.
    pub nd: bool,
    /// CONFIGURE: enable implied seek.
    pub eis: bool,
    /// CONFIGURE: EFIFO, 1 = FIFO disabled (the reset default).
    pub efifo: bool,
    /// CONFIGURE: POLL, 1 = drive polling disabled.
    pub poll_disabled: bool,
    /// CONFIGURE: FIFO threshold.
    pub fifothr: u8,
    /// CONFIGURE: precompensation start track.
    pub pretrk: u8,
    /// LOCK: keep EFIFO, FIFOTHR and PRETRK across software resets.
    pub lock: bool,
    /// PERPENDICULAR MODE: D3-D0 per-drive perpendicular enables.
    pub perp_drives: u8,
    /// PERPENDICULAR MODE: GAP and WGATE.
    pub perp_gap: bool,
    pub perp_wgate: bool,
    /// SC/EOT of the last READ/WRITE (EOT) or FORMAT (SC), for DUMPREG.
    pub sc_eot: u8,
    /// Present cylinder number registers, one per drive select.
    pub pcn: [u8; 4],
    pub phase: Phase,
    /// Command bytes received so far.
    pub cmd: [u8; 9],
    pub cmd_len: usize,
    /// Result bytes and the read position (`result_pos ≤ result_len ≤ 10`).
    pub result: [u8; 10],
    pub result_len: usize,
    pub result_pos: usize,
    /// The execution phase in progress.
    pub transfer: Option<Transfer>,
    /// The INT output before the DMA GATE.
    pub int_pending: bool,
    /// ST0 waiting for SENSE INTERRUPT STATUS, per drive select.
    pub sense: [Option<u8>; 4],
    pub drives: [Drive; FDC_DRIVES],
}

impl Default for FdcState {
    /// Power-on: DOR = 0, so the controller is held in reset until software sets nRESET.
    fn default() -> Self {
        FdcState {
            dor: 0,
            tdr: 0,
            drate: 0,
            precomp: 0,
            power_down: false,
            srt: 0,
            hut: 0,
            hlt: 0,
            nd: false,
            eis: false,
            efifo: true,
            poll_disabled: false,
            fifothr: 0,
            pretrk: 0,
            lock: false,
            perp_drives: 0,
            perp_gap: false,
            perp_wgate: false,
            sc_eot: 0,
            pcn: [0; 4],
            phase: Phase::Command,
            cmd: [0; 9],
            cmd_len: 0,
            result: [0; 10],
            result_len: 0,
            result_pos: 0,
            transfer: None,
            int_pending: false,
            sense: [None; 4],
            drives: Default::default(),
        }
    }
}

impl FdcState {
    fn in_reset(&self) -> bool {
        self.dor & dor::NRESET == 0
    }

    /// The main status register.
    pub fn msr(&self) -> u8 {
        if self.in_reset() {
            return 0;
        }
        match self.phase {
            Phase::Command => msr::RQM | if self.cmd_len > 0 { msr::CMD_BSY } else { 0 },
            Phase::Result => msr::RQM | msr::DIO | msr::CMD_BSY,
            Phase::Execution => match &self.transfer {
                Some(t) if !t.dma => {
                    msr::CMD_BSY | msr::RQM | msr::NON_DMA | if t.op == TransferOp::Read { msr::DIO } else { 0 }
                }
                _ => msr::CMD_BSY,
            },
        }
    }

    /// The DRQ output.
    pub fn dreq(&self) -> bool {
        !self.in_reset()
            && self.dor & dor::DMA_GATE != 0
            && self.phase == Phase::Execution
            && self.transfer.as_ref().is_some_and(|t| t.dma && t.pos < t.len)
    }

    /// The INT output.
    pub fn irq_level(&self) -> bool {
        self.int_pending && !self.in_reset() && self.dor & dor::DMA_GATE != 0
    }

    fn set_result(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.result.len());
        self.result[..n].copy_from_slice(&bytes[..n]);
        self.result_len = n;
        self.result_pos = 0;
        self.phase = Phase::Result;
        self.cmd_len = 0;
        self.transfer = None;
    }

    fn enter_command_phase(&mut self) {
        self.phase = Phase::Command;
        self.cmd_len = 0;
        self.result_len = 0;
        self.result_pos = 0;
        self.transfer = None;
    }

    /// Software reset of the core (DOR nRESET pulse or DSR SW RESET): aborts any
    /// command, resets CONFIGURE (EFIFO, FIFOTHR, PRETRK only if not LOCKed), GAP and WGATE of
    /// PERPENDICULAR MODE, and the PCN registers. SPECIFY values, the data rate and the drives'
    /// head positions are kept.
    fn soft_reset(&mut self) {
        self.enter_command_phase();
        self.int_pending = false;
        self.sense = [None; 4];
        self.eis = false;
        self.poll_disabled = false;
        if !self.lock {
            self.efifo = true;
            self.fifothr = 0;
            self.pretrk = 0;
        }
        self.perp_gap = false;
        self.perp_wgate = false;
        self.pcn = [0; 4];
        self.power_down = false;
    }

    /// Leaving reset: with polling enabled the controller reports a ready change for all four
    /// drives and interrupts.
    fn leave_reset(&mut self) {
        if !self.poll_disabled {
            for d in 0..4u8 {
                self.sense[d as usize] = Some(st0::IC_POLLING | d);
            }
            self.int_pending = true;
        }
    }
}

/// Number of bytes in a command that starts with `op`, or `None` for an invalid opcode.
fn command_length(op: u8) -> Option<usize> {
    Some(match op {
        _ if op & 0x1F == cmd::READ_DATA => 9,
        _ if op & 0x3F == cmd::WRITE_DATA => 9,
        _ if op & 0xBF == cmd::READ_ID => 2,
        _ if op & 0xBF == cmd::FORMAT_TRACK => 6,
        cmd::SPECIFY => 3,
        cmd::SENSE_DRIVE_STATUS => 2,
        cmd::RECALIBRATE => 2,
        cmd::SENSE_INTERRUPT_STATUS => 1,
        cmd::SEEK | 0x8F | 0xCF => 3,
        cmd::VERSION => 1,
        cmd::CONFIGURE => 4,
        cmd::DUMPREG => 1,
        cmd::PERPENDICULAR_MODE => 2,
        cmd::UNLOCK | cmd::LOCK => 1,
        _ => return None,
    })
}

/// Why a sector could not be located: bits for ST0 (NR) and ST1/ST2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Miss {
    st0: u8,
    st1: u8,
    st2: u8,
}

const NOT_READY: Miss = Miss { st0: st0::NR, st1: st1::MA, st2: 0 };
const NO_MARK: Miss = Miss { st0: 0, st1: st1::MA, st2: 0 };
const NO_DATA: Miss = Miss { st0: 0, st1: st1::ND, st2: 0 };

/// The 82077AA with its two drives: guest-visible state in [`FdcState`], media apart.
#[derive(Debug, Default)]
pub struct Fdc82077 {
    pub state: FdcState,
    disks: [Option<Disk>; FDC_DRIVES],
}

impl Fdc82077 {
    /// A controller with no drives connected, held in reset (DOR = 0) as after power-on.
    pub fn new() -> Fdc82077 {
        Fdc82077::default()
    }

    /// Connects or disconnects drive 0 or 1 (without a medium it reads as empty).
    pub fn set_drive_present(&mut self, drive: usize, present: bool) {
        if let Some(d) = self.state.drives.get_mut(drive) {
            d.present = present;
        }
    }

    /// Inserts a medium into drive 0 or 1 (connecting the drive), returning the one it replaces.
    /// A disk whose size is not a [`FloppyType`] reads as unformatted. Out-of-range drive
    /// numbers give the disk back.
    pub fn insert_disk(&mut self, drive: usize, disk: Disk) -> Result<Option<Disk>, Disk> {
        let (Some(slot), Some(d)) = (self.disks.get_mut(drive), self.state.drives.get_mut(drive)) else {
            return Err(disk);
        };
        d.present = true;
        d.disk_changed = true;
        Ok(slot.replace(disk))
    }

    /// Removes the medium from a drive (flush it before dropping if it matters).
    pub fn eject_disk(&mut self, drive: usize) -> Option<Disk> {
        let disk = self.disks.get_mut(drive)?.take();
        if disk.is_some() {
            self.state.drives[drive].disk_changed = true;
        }
        disk
    }

    pub fn disk(&self, drive: usize) -> Option<&Disk> {
        self.disks.get(drive)?.as_ref()
    }

    pub fn disk_mut(&mut self, drive: usize) -> Option<&mut Disk> {
        self.disks.get_mut(drive)?.as_mut()
    }

    /// Writes both media back to their image files.
    pub fn flush(&mut self) -> io::Result<()> {
        for d in self.disks.iter_mut().flatten() {
            d.flush()?;
        }
        Ok(())
    }

    /// Hardware RESET (the machine's reset): registers to power-on values, DOR = 0 (held in
    /// reset). Drives, media and head positions are untouched.
    pub fn reset(&mut self) {
        let drives = std::mem::take(&mut self.state.drives);
        self.state = FdcState { drives, ..FdcState::default() };
    }

    /// The INT line to the PIC (IRQ 6).
    pub fn irq_level(&self) -> bool {
        self.state.irq_level()
    }

    /// True for the ports the controller decodes.
    pub fn owns_port(port: u16) -> bool {
        matches!(port, 0x3F0..=0x3F5 | 0x3F7)
    }

    pub fn read8(&mut self, port: u16) -> u8 {
        let s = &self.state;
        let sel = (s.dor & dor::DRIVE_SEL) as usize;
        match port {
            FDC_SRA => {
                let mut v = 0x04; // nINDX: no index pulse now
                if s.int_pending {
                    v |= 0x80;
                }
                if !s.drives[1].present {
                    v |= 0x40; // nDRV2
                }
                let at_t0 = s.drives.get(sel).is_some_and(|d| d.present && d.head_position == 0);
                if !at_t0 {
                    v |= 0x10; // nTRK0
                }
                if !self.disk(sel).is_some_and(|d| d.is_readonly()) {
                    v |= 0x02; // nWP
                }
                v
            }
            FDC_SRB => {
                let mut v = 0xC0;
                if s.dor & 1 != 0 {
                    v |= 0x20; // DRIVE SEL0
                }
                v | (s.dor >> 4) & 0x03 // MOT EN1, MOT EN0
            }
            FDC_DOR => s.dor,
            FDC_TDR => s.tdr & 0x03,
            FDC_MSR => s.msr(),
            FDC_FIFO => self.fifo_read(),
            FDC_DIR => {
                if s.drives.get(sel).is_some_and(|d| d.present && d.disk_changed) {
                    dir::DSKCHG
                } else {
                    0
                }
            }
            _ => 0xFF,
        }
    }

    pub fn write8(&mut self, port: u16, value: u8) {
        match port {
            FDC_DOR => {
                let was_reset = self.state.in_reset();
                self.state.dor = value;
                let now_reset = self.state.in_reset();
                if !was_reset && now_reset {
                    self.state.soft_reset();
                } else if was_reset && !now_reset {
                    self.state.soft_reset();
                    self.state.leave_reset();
                }
            }
            FDC_TDR => self.state.tdr = value & 0x03,
            FDC_DSR => {
                self.state.drate = value & dsr::DRATE_SEL;
                self.state.precomp = (value & dsr::PRECOMP) >> 2;
                self.state.power_down = value & dsr::POWER_DOWN != 0;
                if value & dsr::SW_RESET != 0 && !self.state.in_reset() {
                    self.state.soft_reset();
                    self.state.leave_reset();
                }
            }
            FDC_FIFO => self.fifo_write(value),
            FDC_CCR => self.state.drate = value & dsr::DRATE_SEL,
            _ => {}
        }
    }

    fn fifo_read(&mut self) -> u8 {
        if self.state.in_reset() {
            return 0xFF;
        }
        match self.state.phase {
            Phase::Result => {
                let s = &mut self.state;
                let Some(&b) = s.result.get(s.result_pos).filter(|_| s.result_pos < s.result_len) else {
                    s.enter_command_phase();
                    return 0xFF;
                };
                if s.result_pos == 0 {
                    s.int_pending = false;
                }
                s.result_pos += 1;
                if s.result_pos >= s.result_len {
                    s.enter_command_phase();
                }
                b
            }
            Phase::Execution if self.state.transfer.as_ref().is_some_and(|t| !t.dma) => self.data_out(false),
            _ => 0xFF,
        }
    }

    fn fifo_write(&mut self, value: u8) {
        if self.state.in_reset() {
            return;
        }
        match self.state.phase {
            Phase::Command => self.command_byte(value),
            Phase::Execution if self.state.transfer.as_ref().is_some_and(|t| !t.dma) => self.data_in(value, false),
            _ => log::debug!("fdc: FIFO write {value:#04x} ignored in {:?} phase", self.state.phase),
        }
    }

    fn command_byte(&mut self, value: u8) {
        let s = &mut self.state;
        let op = if s.cmd_len == 0 { value } else { s.cmd[0] };
        let Some(len) = command_length(op) else {
            log::debug!("fdc: invalid command {value:#04x}");
            s.set_result(&[st0::IC_INVALID]);
            return;
        };
        match s.cmd.get_mut(s.cmd_len) {
            Some(slot) => *slot = value,
            None => {
                // Cannot happen (len ≤ 9), but never index past the buffer.
                s.enter_command_phase();
                return;
            }
        }
        s.cmd_len += 1;
        if s.cmd_len >= len {
            self.execute();
        }
    }

    fn execute(&mut self) {
        let c = self.state.cmd;
        let op = c[0];
        self.state.cmd_len = 0;
        match op {
            _ if op & 0x1F == cmd::READ_DATA => self.start_rw(TransferOp::Read),
            _ if op & 0x3F == cmd::WRITE_DATA => self.start_rw(TransferOp::Write),
            _ if op & 0xBF == cmd::READ_ID => self.read_id(),
            _ if op & 0xBF == cmd::FORMAT_TRACK => self.start_format(),
            cmd::SPECIFY => {
                let s = &mut self.state;
                s.srt = c[1] >> 4;
                s.hut = c[1] & 0x0F;
                s.hlt = c[2] >> 1;
                s.nd = c[2] & 1 != 0;
                s.enter_command_phase();
            }
            cmd::SENSE_DRIVE_STATUS => {
                let (ds, hd) = (c[1] & 3, (c[1] >> 2) & 1);
                let mut st3 = st3::ONE5 | st3::ONE3 | hd << 2 | ds;
                if let Some(d) = self.state.drives.get(ds as usize).filter(|d| d.present) {
                    if d.head_position == 0 {
                        st3 |= st3::T0;
                    }
                    // An empty drive's write-protect sensor sees no tab: protected.
                    if self.disk(ds as usize).is_none_or(|disk| disk.is_readonly()) {
                        st3 |= st3::WP;
                    }
                }
                self.state.set_result(&[st3]);
            }
            cmd::RECALIBRATE => self.recalibrate(c[1] & 3),
            cmd::SENSE_INTERRUPT_STATUS => {
                let s = &mut self.state;
                match (0..4).find(|&d| s.sense[d].is_some()) {
                    Some(d) => {
                        let st = s.sense[d].take().unwrap_or(st0::IC_INVALID);
                        let pcn = s.pcn[d];
                        s.int_pending = false;
                        s.set_result(&[st, pcn]);
                    }
                    None => s.set_result(&[st0::IC_INVALID]),
                }
            }
            cmd::SEEK | 0x8F | 0xCF => {
                let (ds, hd) = (c[1] & 3, (c[1] >> 2) & 1);
                let pcn = self.state.pcn[ds as usize];
                let ncn = match op {
                    0x8F => pcn.saturating_sub(c[2]),
                    0xCF => pcn.saturating_add(c[2]),
                    _ => c[2],
                };
                self.seek(ds, ncn);
                let s = &mut self.state;
                s.sense[ds as usize] = Some(st0::SE | hd << 2 | ds);
                s.int_pending = true;
                s.enter_command_phase();
            }
            cmd::VERSION => self.state.set_result(&[FDC_VERSION]),
            cmd::CONFIGURE => {
                let s = &mut self.state;
                s.eis = c[2] & 0x40 != 0;
                s.efifo = c[2] & 0x20 != 0;
                s.poll_disabled = c[2] & 0x10 != 0;
                s.fifothr = c[2] & 0x0F;
                s.pretrk = c[3];
                s.enter_command_phase();
            }
            cmd::DUMPREG => {
                let s = &self.state;
                let r = [
                    s.pcn[0],
                    s.pcn[1],
                    s.pcn[2],
                    s.pcn[3],
                    s.srt << 4 | s.hut,
                    s.hlt << 1 | s.nd as u8,
                    s.sc_eot,
                    (s.lock as u8) << 7 | s.perp_drives << 2 | (s.perp_gap as u8) << 1 | s.perp_wgate as u8,
                    (s.eis as u8) << 6 | (s.efifo as u8) << 5 | (s.poll_disabled as u8) << 4 | s.fifothr,
                    s.pretrk,
                ];
                self.state.set_result(&r);
            }
            cmd::PERPENDICULAR_MODE => {
                let s = &mut self.state;
                if c[1] & 0x80 != 0 {
                    s.perp_drives = (c[1] >> 2) & 0x0F;
                }
                s.perp_gap = c[1] & 0x02 != 0;
                s.perp_wgate = c[1] & 0x01 != 0;
                s.enter_command_phase();
            }
            cmd::LOCK | cmd::UNLOCK => {
                self.state.lock = op & 0x80 != 0;
                let r = (self.state.lock as u8) << 4;
                self.state.set_result(&[r]);
            }
            _ => self.state.set_result(&[st0::IC_INVALID]),
        }
    }

    /// Moves drive `ds`'s head to cylinder `ncn` as SEEK does: |ncn - pcn| step pulses.
    fn seek(&mut self, ds: u8, ncn: u8) {
        let s = &mut self.state;
        let pcn = s.pcn[ds as usize];
        s.pcn[ds as usize] = ncn;
        let has_disk = self.disks.get(ds as usize).is_some_and(|d| d.is_some());
        if let Some(d) = s.drives.get_mut(ds as usize).filter(|d| d.present) {
            let steps = ncn.abs_diff(pcn);
            d.head_position = if ncn >= pcn {
                d.head_position.saturating_add(steps).min(MAX_HEAD_POSITION)
            } else {
                d.head_position.saturating_sub(steps)
            };
            if steps > 0 && has_disk {
                d.disk_changed = false;
            }
        }
    }

    fn recalibrate(&mut self, ds: u8) {
        let has_disk = self.disks.get(ds as usize).is_some_and(|d| d.is_some());
        let s = &mut self.state;
        s.pcn[ds as usize] = 0;
        let found = match s.drives.get_mut(ds as usize).filter(|d| d.present) {
            Some(d) => {
                let steps = d.head_position.min(RECALIBRATE_STEPS);
                d.head_position -= steps;
                if steps > 0 && has_disk {
                    d.disk_changed = false;
                }
                d.head_position == 0
            }
            None => false,
        };
        let st = if found { st0::SE | ds } else { st0::IC_ABNORMAL | st0::SE | st0::EC | ds };
        s.sense[ds as usize] = Some(st);
        s.int_pending = true;
        s.enter_command_phase();
    }

    /// Finds the sector with ID `[c, h, r, n]` under drive `ds`'s head `hd`.
    fn locate(&self, ds: u8, hd: u8, [c, h, r, n]: [u8; 4], mfm: bool) -> Result<u64, Miss> {
        let drive = self.state.drives.get(ds as usize).filter(|d| d.present).ok_or(NOT_READY)?;
        let disk = self.disk(ds as usize).ok_or(NOT_READY)?;
        let ftype = disk.floppy_type().ok_or(NO_MARK)?;
        if !mfm || ftype.data_rate_mask() & (1 << self.state.drate) == 0 {
            return Err(NO_MARK);
        }
        let g = ftype.geometry();
        let cyl = drive.head_position;
        if cyl as u32 >= g.cylinders || hd as u32 >= g.heads {
            return Err(NO_MARK); // an unformatted track (or the missing side of a single-sided disk)
        }
        if c != cyl {
            return Err(Miss { st0: 0, st1: st1::ND, st2: if c == 0xFF { st2::BC } else { st2::WC } });
        }
        if h != hd || n != 2 {
            return Err(NO_DATA);
        }
        g.to_lba(cyl as u32, hd as u32, r as u32).ok_or(NO_DATA)
    }

    /// Ends a command with a 7-byte result and INT.
    fn finish(&mut self, ic: u8, miss: Miss, ds: u8, hd: u8, chrn: [u8; 4]) {
        let st0 = ic | miss.st0 | hd << 2 | ds;
        let s = &mut self.state;
        s.set_result(&[st0, miss.st1, miss.st2, chrn[0], chrn[1], chrn[2], chrn[3]]);
        s.int_pending = true;
    }

    fn start_rw(&mut self, op: TransferOp) {
        let c = self.state.cmd;
        let (mt, mfm) = (c[0] & cmd::MT != 0, c[0] & cmd::MFM != 0);
        let (ds, hd) = (c[1] & 3, (c[1] >> 2) & 1);
        let (cyl, h, r, n, eot) = (c[2], c[3], c[4], c[5], c[6]);
        self.state.sc_eot = eot;
        // The implied seek, whatever CONFIGURE EIS says (as Bochs and QEMU do; see the module docs).
        self.seek(ds, cyl);
        if op == TransferOp::Write {
            let protected = match self.disk(ds as usize) {
                Some(d) => d.is_readonly(),
                None => false,
            };
            if protected {
                let miss = Miss { st0: 0, st1: st1::NW, st2: 0 };
                return self.finish(st0::IC_ABNORMAL, miss, ds, hd, [cyl, h, r, n]);
            }
        }
        let lba = match self.locate(ds, hd, [cyl, h, r, n], mfm) {
            Ok(lba) => lba,
            Err(miss) => return self.finish(st0::IC_ABNORMAL, miss, ds, hd, [cyl, h, r, n]),
        };
        // The track ends at its last sector even if EOT is larger (as in Bochs and QEMU).
        let last = self.disk(ds as usize).and_then(|d| d.floppy_type()).map_or(eot, |f| f.geometry().sectors as u8);
        let mut t = Transfer {
            op,
            drive: ds,
            hd,
            c: cyl,
            h,
            r,
            n,
            eot: eot.min(last),
            mt,
            dma: !self.state.nd,
            tc: false,
            lba,
            buf: [0; SECTOR_SIZE],
            pos: 0,
            len: SECTOR_SIZE,
            format_left: 0,
            format_fill: 0,
        };
        if op == TransferOp::Read
            && let Some(d) = self.disk(ds as usize)
            && d.read_sectors(lba, &mut t.buf).is_err()
        {
            return self.finish(st0::IC_ABNORMAL, NO_DATA, ds, hd, [cyl, h, r, n]);
        }
        self.begin_execution(t);
    }

    fn begin_execution(&mut self, t: Transfer) {
        let s = &mut self.state;
        // In non-DMA mode INT asks the host for each byte.
        s.int_pending = !t.dma;
        s.transfer = Some(t);
        s.phase = Phase::Execution;
    }

    fn read_id(&mut self) {
        let c = self.state.cmd;
        let mfm = c[0] & cmd::MFM != 0;
        let (ds, hd) = (c[1] & 3, (c[1] >> 2) & 1);
        let cyl = self.state.drives.get(ds as usize).map_or(0, |d| d.head_position);
        // The first ID to pass under the head; every track starts with sector 1.
        match self.locate(ds, hd, [cyl, hd, 1, 2], mfm) {
            Ok(_) => self.finish(st0::IC_NORMAL, Miss { st0: 0, st1: 0, st2: 0 }, ds, hd, [cyl, hd, 1, 2]),
            Err(miss) => self.finish(st0::IC_ABNORMAL, miss, ds, hd, [cyl, hd, 1, 2]),
        }
    }

    fn start_format(&mut self) {
        let c = self.state.cmd;
        let (ds, hd) = (c[1] & 3, (c[1] >> 2) & 1);
        let (n, sc, fill) = (c[2], c[3], c[5]);
        self.state.sc_eot = sc;
        let cyl = self.state.drives.get(ds as usize).map_or(0, |d| d.head_position);
        let present = self.state.drives.get(ds as usize).is_some_and(|d| d.present);
        let disk = self.disk(ds as usize).filter(|_| present);
        match disk {
            None => return self.finish(st0::IC_ABNORMAL, NOT_READY, ds, hd, [cyl, hd, 1, n]),
            Some(d) if d.is_readonly() => {
                let miss = Miss { st0: 0, st1: st1::NW, st2: 0 };
                return self.finish(st0::IC_ABNORMAL, miss, ds, hd, [cyl, hd, 1, n]);
            }
            Some(_) => {}
        }
        if sc == 0 {
            return self.finish(st0::IC_NORMAL, Miss { st0: 0, st1: 0, st2: 0 }, ds, hd, [cyl, hd, 1, n]);
        }
        self.begin_execution(Transfer {
            op: TransferOp::Format,
            drive: ds,
            hd,
            c: cyl,
            h: hd,
            r: 1,
            n,
            eot: sc,
            mt: false,
            dma: !self.state.nd,
            tc: false,
            lba: 0,
            buf: [0; SECTOR_SIZE],
            pos: 0,
            len: 4,
            format_left: sc,
            format_fill: fill,
        });
    }

    /// One byte from the controller to the host or DMA (execution phase).
    fn data_out(&mut self, tc: bool) -> u8 {
        let Some(t) = self.state.transfer.as_mut() else { return 0xFF };
        if t.op != TransferOp::Read {
            self.data_in(0xFF, tc);
            return 0xFF;
        }
        let Some(&b) = t.buf.get(t.pos).filter(|_| t.pos < t.len) else { return 0xFF };
        t.pos += 1;
        t.tc |= tc;
        if t.pos >= t.len || t.tc {
            self.unit_done();
        }
        b
    }

    /// One byte from the host or DMA to the controller (execution phase).
    fn data_in(&mut self, value: u8, tc: bool) {
        let Some(t) = self.state.transfer.as_mut() else { return };
        if t.op == TransferOp::Read {
            self.data_out(tc);
            return;
        }
        let Some(slot) = t.buf.get_mut(t.pos).filter(|_| t.pos < t.len) else { return };
        *slot = value;
        t.pos += 1;
        t.tc |= tc;
        if t.pos >= t.len || t.tc {
            self.unit_done();
        }
    }

    /// The current sector (or FORMAT ID) is complete, or TC cut it short.
    fn unit_done(&mut self) {
        let Some(t) = self.state.transfer.clone() else { return };
        let ok = Miss { st0: 0, st1: 0, st2: 0 };
        match t.op {
            TransferOp::Format => {
                if t.pos == 4 {
                    self.format_sector(&t);
                }
                let left = t.format_left.saturating_sub(1);
                let id = [t.buf[0], t.buf[1], t.buf[2], t.buf[3]];
                if left == 0 || t.tc {
                    return self.finish(st0::IC_NORMAL, ok, t.drive, t.hd, id);
                }
                if let Some(x) = self.state.transfer.as_mut() {
                    x.format_left = left;
                    x.pos = 0;
                }
            }
            TransferOp::Read | TransferOp::Write => {
                if t.op == TransferOp::Write {
                    // Bytes TC cut off keep the zeros the buffer started with.
                    let res = match self.disks.get_mut(t.drive as usize).and_then(|d| d.as_mut()) {
                        Some(d) => d.write_sectors(t.lba, &t.buf),
                        None => {
                            return self.finish(st0::IC_ABNORMAL, NOT_READY, t.drive, t.hd, [t.c, t.h, t.r, t.n]);
                        }
                    };
                    if let Err(e) = res {
                        let miss = match e {
                            DiskError::ReadOnly => Miss { st0: 0, st1: st1::NW, st2: 0 },
                            DiskError::OutOfRange => NO_DATA,
                        };
                        return self.finish(st0::IC_ABNORMAL, miss, t.drive, t.hd, [t.c, t.h, t.r, t.n]);
                    }
                }
                let next = next_chrn(&t);
                if t.tc {
                    return self.finish(st0::IC_NORMAL, ok, t.drive, t.hd, next);
                }
                // Go on to the next sector: R + 1, or side 1 of the cylinder with MT, or stop.
                let (mut hd, mut h, mut r) = (t.hd, t.h, t.r);
                if r == t.eot {
                    if t.mt && hd == 0 {
                        hd = 1;
                        h ^= 1;
                        r = 1;
                    } else {
                        let miss = Miss { st0: 0, st1: st1::EN, st2: 0 };
                        return self.finish(st0::IC_ABNORMAL, miss, t.drive, t.hd, next);
                    }
                } else {
                    r = r.wrapping_add(1);
                }
                let mfm = self.state.cmd[0] & cmd::MFM != 0;
                let lba = match self.locate(t.drive, hd, [t.c, h, r, t.n], mfm) {
                    Ok(lba) => lba,
                    Err(miss) => return self.finish(st0::IC_ABNORMAL, miss, t.drive, hd, [t.c, h, r, t.n]),
                };
                let mut buf = [0u8; SECTOR_SIZE];
                if t.op == TransferOp::Read
                    && let Some(d) = self.disk(t.drive as usize)
                    && d.read_sectors(lba, &mut buf).is_err()
                {
                    return self.finish(st0::IC_ABNORMAL, NO_DATA, t.drive, hd, [t.c, h, r, t.n]);
                }
                if let Some(x) = self.state.transfer.as_mut() {
                    x.hd = hd;
                    x.h = h;
                    x.r = r;
                    x.lba = lba;
                    x.buf = buf;
                    x.pos = 0;
                }
            }
        }
    }

    /// FORMAT TRACK received one ID (C, H, R, N): fill that sector of the current track if it
    /// is one the image has.
    fn format_sector(&mut self, t: &Transfer) {
        let [_, _, r, n] = [t.buf[0], t.buf[1], t.buf[2], t.buf[3]];
        let cyl = self.state.drives.get(t.drive as usize).map_or(0, |d| d.head_position);
        let Some(disk) = self.disks.get_mut(t.drive as usize).and_then(|d| d.as_mut()) else { return };
        let lba = disk
            .floppy_type()
            .map(FloppyType::geometry)
            .and_then(|g| g.to_lba(cyl as u32, t.hd as u32, r as u32))
            .filter(|_| n == 2);
        match lba {
            Some(lba) => {
                let _ = disk.write_sectors(lba, &[t.format_fill; SECTOR_SIZE]);
            }
            None => log::debug!("fdc: FORMAT ID {:02x?} does not fit the image; ignored", &t.buf[..4]),
        }
    }
}

/// The C/H/R/N reported after the last sector transferred (the datasheet's result table): the next
/// sector, moving to side 1 (MT) or the next cylinder after EOT.
fn next_chrn(t: &Transfer) -> [u8; 4] {
    if t.r != t.eot {
        [t.c, t.h, t.r.wrapping_add(1), t.n]
    } else if !t.mt {
        [t.c.wrapping_add(1), t.h, 1, t.n]
    } else if t.hd == 0 {
        [t.c, t.h ^ 1, 1, t.n]
    } else {
        [t.c.wrapping_add(1), t.h ^ 1, 1, t.n]
    }
}

impl DmaDevice for Fdc82077 {
    fn dreq(&self) -> bool {
        self.state.dreq()
    }
    fn dma_read(&mut self, tc: bool) -> u8 {
        if !self.state.dreq() {
            return 0xFF;
        }
        self.data_out(tc)
    }
    fn dma_write(&mut self, value: u8, tc: bool) {
        if self.state.dreq() {
            self.data_in(value, tc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::dma8237::{Dma8237, PAGE_PORT, mode};

    /// A 1.44M image whose every byte says where it is: sector LBA in bytes 0-1.
    fn image_144() -> Vec<u8> {
        let mut img = vec![0u8; 1_474_560];
        for (lba, s) in img.chunks_mut(512).enumerate() {
            s[0] = lba as u8;
            s[1] = (lba >> 8) as u8;
            s[2..].fill(0xA5);
        }
        img
    }

    struct Rig {
        fdc: Fdc82077,
        dma: Dma8237,
        mem: Vec<u8>,
    }

    impl Rig {
        fn new(readonly: bool) -> Rig {
            let mut fdc = Fdc82077::new();
            fdc.insert_disk(0, Disk::from_bytes(image_144(), readonly).unwrap()).unwrap();
            let mut r = Rig { fdc, dma: Dma8237::new(), mem: vec![0; 0x20000] };
            r.dma.write8(0xD6, 0xC0);
            r.dma.write8(0xD4, 0x00);
            r.reset_controller();
            r
        }
        fn reset_controller(&mut self) {
            self.fdc.write8(FDC_DOR, 0x00);
            self.fdc.write8(FDC_DOR, 0x1C);
            assert!(self.fdc.irq_level(), "reset interrupts");
            for d in 0..4 {
                assert_eq!(self.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0xC0 | d, 0]);
            }
            self.fdc.write8(FDC_CCR, 0); // 500 kb/s for 1.44M
        }
        /// Writes a command, runs DMA, and reads the result phase.
        fn cmd(&mut self, bytes: &[u8]) -> Vec<u8> {
            for &b in bytes {
                assert_eq!(self.fdc.read8(FDC_MSR) & (msr::RQM | msr::DIO), msr::RQM, "ready for {b:#x}");
                self.fdc.write8(FDC_FIFO, b);
            }
            self.dma.service(FDC_DMA_CHANNEL, &mut self.fdc, &mut self.mem);
            self.results()
        }
        fn results(&mut self) -> Vec<u8> {
            let mut out = vec![];
            while self.fdc.read8(FDC_MSR) & (msr::RQM | msr::DIO) == msr::RQM | msr::DIO
                && self.fdc.state.phase == Phase::Result
            {
                out.push(self.fdc.read8(FDC_FIFO));
            }
            out
        }
        fn dma_setup(&mut self, addr: u32, len: u32, to_memory: bool) {
            let d = &mut self.dma;
            d.write8(0x0A, 0x06);
            d.write8(0x0C, 0);
            d.write8(0x04, addr as u8);
            d.write8(0x04, (addr >> 8) as u8);
            d.write8(PAGE_PORT[2], (addr >> 16) as u8);
            d.write8(0x05, (len - 1) as u8);
            d.write8(0x05, ((len - 1) >> 8) as u8);
            d.write8(0x0B, 0x02 | mode::SINGLE | if to_memory { mode::WRITE } else { mode::READ });
            d.write8(0x0A, 0x02);
        }
        fn seek(&mut self, cyl: u8, head: u8) {
            assert!(self.cmd(&[cmd::SEEK, head << 2, cyl]).is_empty());
            assert!(self.fdc.irq_level());
            assert_eq!(self.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0x20 | head << 2, cyl]);
            assert!(!self.fdc.irq_level());
        }
        fn recal(&mut self) -> Vec<u8> {
            assert!(self.cmd(&[cmd::RECALIBRATE, 0]).is_empty());
            self.cmd(&[cmd::SENSE_INTERRUPT_STATUS])
        }
    }

    fn sector_tag(mem: &[u8], at: usize) -> u16 {
        mem[at] as u16 | (mem[at + 1] as u16) << 8
    }

    #[test]
    fn power_on_is_in_reset_until_dor_written() {
        let mut f = Fdc82077::new();
        assert_eq!(f.read8(FDC_MSR), 0);
        assert_eq!(f.read8(FDC_DOR), 0);
        f.write8(FDC_FIFO, cmd::VERSION);
        f.write8(FDC_DOR, 0x0C);
        assert_eq!(f.read8(FDC_MSR), msr::RQM);
        assert!(f.irq_level());
        f.write8(FDC_FIFO, cmd::VERSION);
        assert_eq!(f.read8(FDC_MSR), msr::RQM | msr::DIO | msr::CMD_BSY);
        assert_eq!(f.read8(FDC_FIFO), 0x90);
        assert_eq!(f.read8(FDC_MSR), msr::RQM);
    }

    #[test]
    fn reset_gives_four_sense_interrupts_then_invalid() {
        let mut r = Rig::new(false);
        assert!(!r.fdc.irq_level());
        assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0x80], "nothing pending");
        // DSR software reset does the same and clears itself.
        r.fdc.write8(FDC_DSR, 0x80);
        assert!(r.fdc.irq_level());
        assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0xC0, 0]);
        assert!(!r.fdc.irq_level(), "the first SENSE INTERRUPT lowers INT");
    }

    #[test]
    fn dma_gate_gates_the_interrupt() {
        let mut r = Rig::new(false);
        r.fdc.write8(FDC_DOR, 0x14); // DMA gate off
        r.fdc.write8(FDC_FIFO, cmd::RECALIBRATE);
        r.fdc.write8(FDC_FIFO, 0);
        assert!(r.fdc.state.int_pending && !r.fdc.irq_level());
        assert_eq!(r.fdc.read8(FDC_SRA) & 0x80, 0x80, "SRA shows the pending interrupt");
        r.fdc.write8(FDC_DOR, 0x1C);
        assert!(r.fdc.irq_level());
    }

    #[test]
    fn invalid_opcodes_give_0x80() {
        let mut r = Rig::new(false);
        for op in [0x00, 0x01, 0x02, 0x09, 0x0B, 0x0C, 0x11, 0x16, 0x19, 0x1D, 0x3F, 0xFF, 0x25] {
            assert_eq!(r.cmd(&[op]), vec![0x80], "opcode {op:#x}");
            assert!(!r.fdc.irq_level());
        }
    }

    #[test]
    fn version_configure_dumpreg_lock_perpendicular_specify() {
        let mut r = Rig::new(false);
        assert_eq!(r.cmd(&[cmd::VERSION]), vec![0x90]);
        assert!(r.cmd(&[cmd::SPECIFY, 0xAF, 0x02]).is_empty());
        assert!(r.cmd(&[cmd::CONFIGURE, 0, 0x57, 0x03]).is_empty());
        assert!(r.cmd(&[cmd::PERPENDICULAR_MODE, 0x80 | 0x3 << 2 | 0x3]).is_empty());
        r.seek(5, 0);
        let d = r.cmd(&[cmd::DUMPREG]);
        assert_eq!(d, vec![5, 0, 0, 0, 0xAF, 0x02, 0, 0x0F, 0x57, 0x03]);
        assert_eq!(r.cmd(&[cmd::LOCK]), vec![0x10]);
        // A reset keeps EFIFO/FIFOTHR/PRETRK while locked, but clears EIS, POLL, GAP, WGATE, PCN.
        r.reset_controller();
        let d = r.cmd(&[cmd::DUMPREG]);
        assert_eq!(d, vec![0, 0, 0, 0, 0xAF, 0x02, 0, 0x80 | 0x0C, 0x07, 0x03]);
        assert_eq!(r.cmd(&[cmd::UNLOCK]), vec![0x00]);
        r.reset_controller();
        assert_eq!(r.cmd(&[cmd::DUMPREG])[8..], [0x20, 0x00]);
    }

    #[test]
    fn read_one_sector_by_dma() {
        let mut r = Rig::new(false);
        r.recal();
        r.seek(1, 0);
        r.dma_setup(0x1000, 512, true);
        // C=1 H=0 R=3 N=2 EOT=3: LBA = 1*36 + 2 = 38
        let res = r.cmd(&[0xE6, 0x00, 1, 0, 3, 2, 3, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x00, 0, 0, 1, 1, 1, 2], "TC on EOT with MT: side 1, R=1 comes next");
        assert_eq!(sector_tag(&r.mem, 0x1000), 38);
        assert_eq!(r.mem[0x1000 + 511], 0xA5);
        assert!(!r.fdc.irq_level(), "reading ST0 cleared INT");
    }

    #[test]
    fn multi_sector_and_multi_track_read() {
        let mut r = Rig::new(false);
        r.recal();
        r.seek(2, 0);
        // 4 sectors from C2 H0 R17 with MT: 17, 18 of side 0, then 1, 2 of side 1.
        r.dma_setup(0x2000, 4 * 512, true);
        let res = r.cmd(&[0xE6, 0x00, 2, 0, 17, 2, 18, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x04, 0, 0, 2, 1, 3, 2], "TC after side 1 sector 2: ST0 HD=1, next R=3");
        let lba0 = 2 * 36 + 16;
        for i in 0..4 {
            assert_eq!(sector_tag(&r.mem, 0x2000 + i * 512), (lba0 + i) as u16);
        }
        // Without MT the same read stops at EOT of side 0 with EN.
        r.dma_setup(0x2000, 4 * 512, true);
        let res = r.cmd(&[0x66, 0x00, 2, 0, 17, 2, 18, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x40, st1::EN, 0, 3, 0, 1, 2]);
        // MT at the end of side 1 also stops with EN.
        r.dma_setup(0x2000, 4 * 512, true);
        let res = r.cmd(&[0xE6, 0x04, 2, 1, 18, 2, 18, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x44, st1::EN, 0, 3, 0, 1, 2]);
    }

    #[test]
    fn write_then_read_back() {
        let mut r = Rig::new(false);
        r.recal();
        r.seek(79, 1);
        for i in 0..1024 {
            r.mem[0x3000 + i] = (i * 7) as u8;
        }
        r.dma_setup(0x3000, 1024, false);
        let res = r.cmd(&[0xC5, 0x04, 79, 1, 17, 2, 18, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x04, 0, 0, 80, 0, 1, 2], "MT from side 1: next cylinder, H complemented");
        let lba = (79 * 2 + 1) * 18 + 16;
        let disk = r.fdc.disk(0).unwrap();
        assert_eq!(disk.bytes()[lba * 512 + 1], 7);
        assert_eq!(disk.bytes()[(lba + 1) * 512 + 511], (1023 * 7) as u8);
        assert_eq!(disk.changed_blocks().collect::<Vec<_>>(), vec![lba as u64, lba as u64 + 1]);
        r.dma_setup(0x8000, 1024, true);
        let res = r.cmd(&[0xE6, 0x04, 79, 1, 17, 2, 18, 0x1B, 0xFF]);
        assert_eq!(res[0], 0x04);
        assert_eq!(&r.mem[0x8000..0x8400], &r.mem[0x3000..0x3400].to_vec()[..]);
    }

    #[test]
    fn tc_mid_sector_ends_the_command() {
        let mut r = Rig::new(false);
        r.recal();
        r.dma_setup(0x1000, 100, true);
        let res = r.cmd(&[0xE6, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x00, 0, 0, 0, 0, 2, 2]);
        assert_eq!(r.mem[0x1000 + 99], 0xA5);
        assert_eq!(r.mem[0x1000 + 100], 0, "nothing past the DMA count");
    }

    #[test]
    fn write_protected_image() {
        let mut r = Rig::new(true);
        r.recal();
        r.dma_setup(0x1000, 512, false);
        let res = r.cmd(&[0xC5, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x40, st1::NW, 0, 0, 0, 1, 2]);
        assert_eq!(r.cmd(&[cmd::SENSE_DRIVE_STATUS, 0]), vec![st3::WP | 0x28 | st3::T0]);
        let res = r.cmd(&[0x4D, 0x00, 2, 18, 0x6C, 0xF6]);
        assert_eq!(res[..2], [0x40, st1::NW]);
        assert_eq!(r.fdc.disk(0).unwrap().changed_block_count(), 0);
    }

    #[test]
    fn sector_not_found_and_wrong_cylinder() {
        let mut r = Rig::new(false);
        r.recal();
        r.dma_setup(0x1000, 512, true);
        assert_eq!(r.cmd(&[0xE6, 0x00, 0, 0, 19, 2, 19, 0x1B, 0xFF]), vec![0x40, st1::ND, 0, 0, 0, 19, 2]);
        assert_eq!(r.cmd(&[0xE6, 0x00, 0, 0, 0, 2, 18, 0x1B, 0xFF])[..3], [0x40, st1::ND, 0]);
        assert_eq!(r.cmd(&[0xE6, 0x00, 0, 1, 1, 2, 18, 0x1B, 0xFF])[..3], [0x40, st1::ND, 0], "H differs from HD");
        assert_eq!(r.cmd(&[0xE6, 0x00, 0, 0, 1, 3, 18, 0x1B, 0xFF])[..3], [0x40, st1::ND, 0], "N=3");
        // A head out of step with PCN (a reset without RECALIBRATE): the implied seek counts its
        // steps from PCN, so the head lands on the wrong track.
        r.seek(10, 0);
        r.reset_controller();
        assert_eq!(r.cmd(&[0xE6, 0x00, 5, 0, 1, 2, 18, 0x1B, 0xFF])[..3], [0x40, st1::ND, st2::WC]);
        assert_eq!(r.fdc.state.drives[0].head_position, 15);
        r.recal();
        // Cylinder 255: the implied seek drives the head against its stop, off the medium.
        assert_eq!(r.cmd(&[0xE6, 0x00, 0xFF, 0, 1, 2, 18, 0x1B, 0xFF])[..3], [0x40, st1::MA, 0]);
        // Beyond the last cylinder: unformatted.
        r.recal();
        r.recal();
        r.seek(82, 0);
        assert_eq!(r.cmd(&[0xE6, 0x00, 82, 0, 1, 2, 18, 0x1B, 0xFF])[..3], [0x40, st1::MA, 0]);
        // FM mode on an MFM disk.
        r.seek(0, 0);
        assert_eq!(r.cmd(&[0xA6, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF])[..3], [0x40, st1::MA, 0]);
        // A multi-sector read starting at a sector the track does not have.
        r.dma_setup(0x1000, 3 * 512, true);
        let res = r.cmd(&[0xE6, 0x00, 0, 0, 19, 2, 20, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x40, st1::ND, 0, 0, 0, 19, 2]);
    }

    #[test]
    fn implied_seek_with_eis() {
        let mut r = Rig::new(false);
        r.recal();
        assert!(r.cmd(&[cmd::CONFIGURE, 0, 0x40, 0]).is_empty());
        r.dma_setup(0x1000, 512, true);
        assert_eq!(r.cmd(&[0xE6, 0x00, 5, 0, 1, 2, 1, 0x1B, 0xFF])[0], 0x00);
        assert_eq!(sector_tag(&r.mem, 0x1000), 5 * 36);
        assert_eq!(r.fdc.state.pcn[0], 5);
    }

    /// What Bochs's BIOS relies on (module docs): 500 kb/s from power-on, kept by a software
    /// reset; an implied seek without CONFIGURE EIS; a track that ends at its last sector when
    /// EOT is larger.
    #[test]
    fn bochs_and_qemu_conventions() {
        let mut f = Fdc82077::new();
        assert_eq!(f.state.drate, 0, "power-on: 500 kb/s");
        f.insert_disk(0, Disk::from_bytes(image_144(), false).unwrap()).unwrap();
        let mut r = Rig { fdc: f, dma: Dma8237::new(), mem: vec![0; 0x20000] };
        r.dma.write8(0xD6, 0xC0);
        r.dma.write8(0xD4, 0x00);
        r.fdc.write8(FDC_DOR, 0x1C);
        for d in 0..4 {
            assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0xC0 | d, 0]);
        }
        assert_eq!(r.recal(), vec![0x20, 0]);
        assert_eq!(r.cmd(&[0x4A, 0x00]), vec![0x00, 0, 0, 0, 0, 1, 2], "a 1.44M medium reads without a CCR write");
        r.fdc.write8(FDC_CCR, 2);
        r.fdc.write8(FDC_DOR, 0x18); // DOR software reset
        r.fdc.write8(FDC_DOR, 0x1C);
        for d in 0..4 {
            assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0xC0 | d, 0]);
        }
        assert_eq!(r.fdc.state.drate, 2, "a software reset keeps the rate");
        r.fdc.reset();
        assert_eq!(r.fdc.state.drate, 0, "a hardware reset goes back to 500 kb/s");
        r.fdc.write8(FDC_DOR, 0x1C);
        for d in 0..4 {
            assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0xC0 | d, 0]);
        }

        // READ DATA of cylinder 7 with the head on 0 and EIS = 0 (as rombios issues it).
        r.recal();
        r.dma_setup(0x1000, 512, true);
        assert_eq!(r.cmd(&[0xE6, 0x00, 7, 0, 1, 2, 1, 0x1B, 0xFF]), vec![0x00, 0, 0, 7, 1, 1, 2]);
        assert_eq!(sector_tag(&r.mem, 0x1000), 7 * 36);
        assert_eq!((r.fdc.state.pcn[0], r.fdc.state.drives[0].head_position), (7, 7));

        // rombios's EOT = R + count - 1 = 19: sectors 17, 18, then side 1 sector 1 (MT).
        r.dma_setup(0x1000, 3 * 512, true);
        let res = r.cmd(&[0xE6, 0x00, 7, 0, 17, 2, 19, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x04, 0, 0, 7, 1, 2, 2], "TC after side 1 sector 1: ST0 HD=1, next R=2");
        for i in 0..3 {
            assert_eq!(sector_tag(&r.mem, 0x1000 + i * 512), (7 * 36 + 16 + i) as u16);
        }
        // Without MT the track's end is the end of the command: EN, as at EOT.
        r.dma_setup(0x1000, 3 * 512, true);
        let res = r.cmd(&[0x66, 0x00, 7, 0, 17, 2, 19, 0x1B, 0xFF]);
        assert_eq!(res, vec![0x40, st1::EN, 0, 8, 0, 1, 2]);
        assert_eq!(r.fdc.state.sc_eot, 19, "DUMPREG still reports the EOT sent");
    }

    #[test]
    fn data_rate_must_match_the_medium() {
        let mut r = Rig::new(false);
        r.recal();
        r.fdc.write8(FDC_CCR, 2); // 250 kb/s: a 720K rate
        assert_eq!(r.cmd(&[0x4A, 0x00]), vec![0x40, st1::MA, 0, 0, 0, 1, 2]);
        r.fdc.write8(FDC_DSR, 0x00);
        assert_eq!(r.cmd(&[0x4A, 0x00]), vec![0x00, 0, 0, 0, 0, 1, 2]);
        // A 720K medium reads at 250 kb/s only.
        r.fdc.insert_disk(0, Disk::from_bytes(vec![0; 737_280], false).unwrap()).unwrap();
        assert_eq!(r.cmd(&[0x4A, 0x04])[..2], [0x44, st1::MA]);
        r.fdc.write8(FDC_CCR, 2);
        assert_eq!(r.cmd(&[0x4A, 0x04]), vec![0x04, 0, 0, 0, 1, 1, 2]);
    }

    #[test]
    fn empty_and_absent_drives() {
        let mut f = Fdc82077::new();
        f.set_drive_present(0, true);
        let mut r = Rig { fdc: f, dma: Dma8237::new(), mem: vec![0; 0x1000] };
        r.fdc.write8(FDC_DOR, 0x0C);
        for _ in 0..4 {
            r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]);
        }
        // Empty drive 0: not ready.
        assert_eq!(r.cmd(&[0x4A, 0x00]), vec![0x48, st1::MA, 0, 0, 0, 1, 2]);
        assert_eq!(r.cmd(&[0xE6, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF])[..2], [0x48, st1::MA]);
        assert_eq!(r.cmd(&[cmd::SENSE_DRIVE_STATUS, 0])[0] & st3::WP, st3::WP);
        // Recalibrating an absent drive never finds track 0.
        assert!(r.cmd(&[cmd::RECALIBRATE, 1]).is_empty());
        assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0x71, 0]);
        // Drive 3 (never connected) behaves the same; SEEK just steps.
        assert!(r.cmd(&[cmd::SEEK, 3, 10]).is_empty());
        assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0x23, 10]);
        assert_eq!(r.fdc.read8(FDC_SRA) & 0x40, 0x40, "no second drive");
        // An empty drive's change line stays set: a step needs a medium to clear it.
        assert_eq!(r.fdc.read8(FDC_DIR), 0x80);
    }

    #[test]
    fn disk_change_line() {
        let mut r = Rig::new(false);
        r.fdc.write8(FDC_DOR, 0x1C);
        assert_eq!(r.fdc.read8(FDC_DIR), 0x80, "set since insertion");
        r.recal(); // already at 0: no step pulse
        assert_eq!(r.fdc.read8(FDC_DIR), 0x80);
        r.seek(1, 0);
        assert_eq!(r.fdc.read8(FDC_DIR), 0x00, "a step clears it");
        let d = r.fdc.eject_disk(0).unwrap();
        assert_eq!(r.fdc.read8(FDC_DIR), 0x80);
        assert!(r.fdc.insert_disk(0, d).unwrap().is_none(), "drive was empty");
        r.seek(0, 0);
        assert_eq!(r.fdc.read8(FDC_DIR), 0x00);
    }

    #[test]
    fn recalibrate_needs_two_tries_from_far_out() {
        let mut r = Rig::new(false);
        r.recal();
        r.seek(80, 0);
        r.seek(160, 0); // the head stops at the drive's last cylinder
        assert_eq!(r.fdc.state.drives[0].head_position, MAX_HEAD_POSITION);
        assert_eq!(r.recal(), vec![0x70, 0], "79 steps are not enough from cylinder 83");
        assert_eq!(r.recal(), vec![0x20, 0]);
        // Relative seeks.
        assert!(r.cmd(&[0xCF, 0x00, 10]).is_empty());
        assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0x20, 10]);
        assert!(r.cmd(&[0x8F, 0x00, 3]).is_empty());
        assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0x20, 7]);
        assert_eq!(r.fdc.state.drives[0].head_position, 7);
    }

    #[test]
    fn reset_forgets_pcn_but_not_the_head() {
        let mut r = Rig::new(false);
        r.recal();
        r.seek(10, 0);
        r.reset_controller();
        assert_eq!(r.fdc.state.pcn[0], 0);
        // Seeking to 5 now steps five times outward from 0 as far as the FDC knows: the head
        // moves in to 15, and a READ of cylinder 5 fails until a RECALIBRATE.
        r.seek(5, 0);
        r.dma_setup(0x1000, 512, true);
        assert_eq!(r.cmd(&[0xE6, 0x00, 5, 0, 1, 2, 1, 0x1B, 0xFF])[..3], [0x40, st1::ND, st2::WC]);
        r.recal();
        r.seek(5, 0);
        assert_eq!(r.cmd(&[0xE6, 0x00, 5, 0, 1, 2, 1, 0x1B, 0xFF])[0], 0x00);
    }

    #[test]
    fn read_id_and_format() {
        let mut r = Rig::new(false);
        r.recal();
        r.seek(3, 1);
        assert_eq!(r.cmd(&[0x4A, 0x04]), vec![0x04, 0, 0, 3, 1, 1, 2]);
        // Format cylinder 3 side 1 with 18 sectors, fill 0xF6.
        let mut ids = vec![];
        for s in 1..=18u8 {
            ids.extend_from_slice(&[3, 1, s, 2]);
        }
        r.mem[0x4000..0x4000 + ids.len()].copy_from_slice(&ids);
        r.dma_setup(0x4000, ids.len() as u32, false);
        let res = r.cmd(&[0x4D, 0x04, 2, 18, 0x6C, 0xF6]);
        assert_eq!(res, vec![0x04, 0, 0, 3, 1, 18, 2]);
        let first = (3 * 2 + 1) * 18;
        let disk = r.fdc.disk(0).unwrap();
        assert!(disk.bytes()[first * 512..(first + 18) * 512].iter().all(|&b| b == 0xF6));
        assert_eq!(disk.bytes()[(first + 18) * 512], ((first + 18) & 0xFF) as u8, "next track untouched");
        assert_eq!(r.fdc.state.sc_eot, 18);
    }

    #[test]
    fn pio_read_and_write_through_the_fifo() {
        let mut r = Rig::new(false);
        r.recal();
        assert!(r.cmd(&[cmd::SPECIFY, 0xAF, 0x03]).is_empty()); // ND = 1
        for (i, b) in [0x66u8, 0x00, 0, 0, 2, 2, 2, 0x1B, 0xFF].iter().enumerate() {
            assert_eq!(r.fdc.read8(FDC_MSR) & 0xC0, 0x80, "byte {i}");
            r.fdc.write8(FDC_FIFO, *b);
        }
        assert_eq!(r.fdc.read8(FDC_MSR), msr::RQM | msr::DIO | msr::NON_DMA | msr::CMD_BSY);
        assert!(r.fdc.irq_level(), "non-DMA execution interrupts");
        assert!(!r.fdc.dreq());
        let mut data = vec![];
        while r.fdc.read8(FDC_MSR) & msr::NON_DMA != 0 {
            data.push(r.fdc.read8(FDC_FIFO));
        }
        assert_eq!(data.len(), 512);
        assert_eq!(sector_tag(&data, 0), 1);
        // Without TC a PIO transfer ends at EOT with EN, as on real hardware.
        assert_eq!(r.results(), vec![0x40, st1::EN, 0, 1, 0, 1, 2]);
        // PIO write.
        for b in [0x45u8, 0x00, 0, 0, 5, 2, 5, 0x1B, 0xFF] {
            r.fdc.write8(FDC_FIFO, b);
        }
        assert_eq!(r.fdc.read8(FDC_MSR), msr::RQM | msr::NON_DMA | msr::CMD_BSY);
        for i in 0..512 {
            r.fdc.write8(FDC_FIFO, i as u8);
        }
        assert_eq!(r.results()[..2], [0x40, st1::EN]);
        assert_eq!(r.fdc.disk(0).unwrap().bytes()[4 * 512 + 300], 300u16 as u8);
    }

    #[test]
    fn dma_waits_for_an_open_channel() {
        let mut r = Rig::new(false);
        r.recal();
        r.dma.write8(0x0A, 0x06); // mask channel 2
        r.fdc.write8(FDC_CCR, 0);
        for b in [0xE6u8, 0x00, 0, 0, 1, 2, 1, 0x1B, 0xFF] {
            r.fdc.write8(FDC_FIFO, b);
        }
        r.dma.service(FDC_DMA_CHANNEL, &mut r.fdc, &mut r.mem);
        assert_eq!(r.fdc.read8(FDC_MSR), msr::CMD_BSY, "execution phase, waiting for DMA");
        assert!(r.fdc.dreq());
        assert_eq!(r.dma.read8(0x08) & 0x40, 0x40, "DREQ 2 in the DMA status");
        r.dma_setup(0x1000, 512, true);
        r.dma.service(FDC_DMA_CHANNEL, &mut r.fdc, &mut r.mem);
        assert_eq!(r.results()[0], 0x00);
        assert_eq!(sector_tag(&r.mem, 0x1000), 0);
    }

    #[test]
    fn dor_reset_aborts_a_command() {
        let mut r = Rig::new(false);
        r.fdc.write8(FDC_FIFO, 0xE6);
        r.fdc.write8(FDC_FIFO, 0x00);
        r.reset_controller();
        assert_eq!(r.cmd(&[cmd::VERSION]), vec![0x90]);
    }

    #[test]
    fn sense_interrupt_reports_each_seeking_drive() {
        let mut r = Rig::new(false);
        r.fdc.set_drive_present(1, true);
        assert!(r.cmd(&[cmd::SEEK, 0x01, 4]).is_empty());
        assert!(r.cmd(&[cmd::SEEK, 0x00, 2]).is_empty());
        assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0x20, 2]);
        assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0x21, 4]);
        assert_eq!(r.cmd(&[cmd::SENSE_INTERRUPT_STATUS]), vec![0x80]);
    }

    /// The VENOM class (CVE-2015-3456): a FIFO index driven past its buffer by command bytes
    /// the controller does not expect. Hammer every port with random bytes, random commands
    /// with random parameters, and random DMA service, and check the invariants after each
    /// step.
    #[test]
    fn fifo_hammer_never_panics_or_overruns() {
        let mut fdc = Fdc82077::new();
        fdc.insert_disk(0, Disk::from_bytes(image_144(), false).unwrap()).unwrap();
        fdc.insert_disk(1, Disk::from_bytes(vec![0; 737_280], true).unwrap()).unwrap();
        let mut dma = Dma8237::new();
        let mut mem = vec![0u8; 1 << 20];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let opcodes = [
            0x06u8, 0xE6, 0x05, 0xC5, 0x4A, 0x4D, 0x03, 0x04, 0x07, 0x08, 0x0F, 0x8F, 0xCF, 0x10, 0x13, 0x0E, 0x12,
            0x14, 0x94,
        ];
        for step in 0..400_000u32 {
            let v = next();
            let byte = (v >> 8) as u8;
            match v % 16 {
                0..=5 => fdc.write8(FDC_FIFO, byte),
                6 => {
                    // A well-formed command start with random parameters.
                    fdc.write8(FDC_FIFO, opcodes[(v >> 16) as usize % opcodes.len()]);
                }
                7..=8 => {
                    fdc.read8(FDC_FIFO);
                }
                9 => {
                    fdc.read8(FDC_BASE + (byte % 8) as u16);
                }
                10 => {
                    let port = [FDC_DOR, FDC_DSR, FDC_CCR, FDC_TDR][(byte % 4) as usize];
                    // Mostly keep the controller out of reset so commands run.
                    let value = if port == FDC_DOR && v & 0x300 != 0 { byte | 0x0C } else { byte };
                    fdc.write8(port, value);
                }
                11..=12 => {
                    dma.write8(0x0A, 0x06);
                    dma.write8(0x0C, 0);
                    dma.write8(0x04, byte);
                    dma.write8(0x04, (v >> 24) as u8);
                    dma.write8(0x81, (v >> 32) as u8 & 0x0F);
                    dma.write8(0x05, (v >> 40) as u8);
                    dma.write8(0x05, (v >> 48) as u8 & 0x0F);
                    dma.write8(0x0B, (v >> 56) as u8 & 0xFC | 2);
                    dma.write8(0x0A, 0x02);
                    dma.write8(0xD6, 0xC0);
                    dma.write8(0xD4, 0x00);
                    dma.service(FDC_DMA_CHANNEL, &mut fdc, &mut mem);
                }
                13 => {
                    dma.service(FDC_DMA_CHANNEL, &mut fdc, &mut mem);
                }
                14 => {
                    fdc.dma_read(v & 0x10000 != 0);
                    fdc.dma_write(byte, v & 0x20000 != 0);
                }
                _ => {
                    if step.is_multiple_of(1000) {
                        let d = fdc.eject_disk((byte & 1) as usize);
                        if let Some(d) = d {
                            fdc.insert_disk((byte & 1) as usize, d).ok();
                        }
                    }
                    fdc.write8(FDC_DOR, 0x1C);
                }
            }
            let s = &fdc.state;
            assert!(s.cmd_len < s.cmd.len(), "step {step}: cmd_len {}", s.cmd_len);
            assert!(s.result_pos <= s.result_len && s.result_len <= s.result.len());
            if let Some(t) = &s.transfer {
                assert!(t.pos <= t.len && t.len <= SECTOR_SIZE, "step {step}: {} / {}", t.pos, t.len);
                assert_eq!(s.phase, Phase::Execution);
            }
            assert!(s.drives.iter().all(|d| d.head_position <= MAX_HEAD_POSITION));
        }
        // Whatever state it was left in, a reset brings the controller back.
        fdc.write8(FDC_DOR, 0x00);
        fdc.write8(FDC_DOR, 0x0C);
        assert_eq!(fdc.read8(FDC_MSR), msr::RQM);
    }
}
