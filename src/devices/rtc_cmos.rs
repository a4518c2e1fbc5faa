//! The Motorola MC146818A real-time clock and the PC's 128 bytes of CMOS RAM behind ports 0x70
//! and 0x71.
//!
//! Sources: Motorola *MC146818A Real-Time Clock Plus RAM* datasheet (MC146818A/D): "Address
//! Map", "Time, Calendar and Alarm Locations", "Registers A-D", "Update Cycle", "Interrupts",
//! "Divider Stages" and Table 5 (periodic rates for a 32.768 kHz time base); IBM *PC AT Technical
//! Reference* "CMOS RAM Configuration Information" (the standard fields at 0x0E-0x2F); the
//! extended-memory, century and high-memory fields at 0x30-0x35 as Bochs, QEMU and SeaBIOS use
//! them.
//!
//! # Lazy time
//! The chip is never ticked. It holds a 32.768 kHz divider chain whose count is derived from
//! guest time ([`Tick`]) and the moment the chain last started; an *update cycle* happens each
//! time the chain crosses a multiple of 32768 (once per second), a periodic flag each time it
//! crosses a multiple of the rate's period. Every port access first brings the chip to the time
//! of the access ([`RtcCmos::sync`]): it counts the updates and periodic ticks that have passed,
//! advances the calendar by that many seconds at once, and sets the flags. At power-on (guest
//! time 0) the clock reads the start time given to [`RtcCmos::new`]; the first update comes one
//! second later.
//!
//! # What is modelled
//! - Time, calendar and alarm registers 0x00-0x09 in BCD or binary (register B DM) and in 24- or
//!   12-hour form (register B 24/12; bit 7 of the hours is PM in 12-hour form). Switching DM or
//!   24/12 does not convert the stored values, as on the chip: software rewrites the time.
//! - The chip's calendar: months of 28-31 days, a leap year every year divisible by 4 (the
//!   two-digit year; right for 2000, wrong for 2100), the year rolling from 99 to 00, the day of
//!   week counting 1-7 (Sunday = 1) on its own.
//! - Register A: UIP (read-only), DV2-DV0 (010 runs the 32.768 kHz divider; 11x holds it in reset
//!   and the first update after release comes half a second later; any other value stops it),
//!   RS3-RS0 (periodic rates 256 Hz, 128 Hz, then 8192 Hz down to 2 Hz). UIP is 1 for the 244 µs
//!   (8 cycles) before each update; the update itself is instantaneous here.
//! - Register B: SET (inhibits updates; setting it clears UIE), PIE, AIE, UIE, SQWE (stored),
//!   DM, 24/12, DSE (stored). Register C: IRQF, PF, AF, UF, cleared by a read; PF, AF and UF are
//!   set whether or not their interrupt is enabled, and IRQF = PF·PIE + AF·AIE + UF·UIE.
//!   Register D: VRT, always 1 (the battery is good).
//! - The alarm: compared at every update; an alarm byte of 0xC0-0xFF matches any value.
//! - Port 0x70: bits 6-0 the register index, bit 7 the NMI mask (kept as `nmi_masked`; the
//!   machine routes it). Port 0x70 is write-only and reads 0xFF.
//! - 128 bytes of RAM (0x0E-0x7F beyond the clock), with the standard PC fields below and
//!   [`RtcCmos::fill_pc_cmos`] to set them from the machine's configuration.
//!
//! # What is not modelled
//! - Daylight saving (DSE) and the square-wave pin (SQWE) are stored but have no effect.
//! - The 1984 µs the update cycle takes: the registers flip at the update instant and are always
//!   readable.
//! - Time bases other than 32.768 kHz (DV = 000, 001) and the test modes: the divider stops.
//! - Values the guest writes outside a register's range are kept as written until the next update,
//!   which first clamps each field to its nearest valid value (the datasheet leaves the result
//!   undefined).
//! - The century byte (0x32) belongs to the BIOS: the chip does not carry the year into it.
//!
//! # Standard PC CMOS fields
//! | index | field |
//! |---|---|
//! | 0x0E | [`CMOS_DIAGNOSTIC_STATUS`]: POST diagnostic status (0 = all good) |
//! | 0x0F | [`CMOS_SHUTDOWN_STATUS`]: shutdown reason, read by the BIOS after a CPU reset |
//! | 0x10 | [`CMOS_FLOPPY_TYPES`]: drive A in bits 7-4, drive B in bits 3-0 ([`FloppyType`]) |
//! | 0x12 | [`CMOS_HARD_DISK_TYPES`]: disk 0 in bits 7-4, disk 1 in bits 3-0 (0xF: see 0x19/0x1A) |
//! | 0x14 | [`CMOS_EQUIPMENT`]: bits 7-6 floppies - 1, 5-4 display (00 EGA/VGA), 1 FPU, 0 floppies |
//! | 0x15-0x16 | [`CMOS_BASE_MEMORY_LOW`]: base memory in KB (640) |
//! | 0x17-0x18 | [`CMOS_EXTENDED_MEMORY_LOW`]: memory above 1 MB in KB (at most 65535) |
//! | 0x19, 0x1A | [`CMOS_DISK0_EXTENDED_TYPE`], [`CMOS_DISK1_EXTENDED_TYPE`]: type 47 = user-defined |
//! | 0x1B-0x23 | [`CMOS_DISK0_PARAMS`]: disk 0's type-47 parameters (cylinders, heads, write precompensation, control byte, landing zone, sectors per track) |
//! | 0x24-0x2C | [`CMOS_DISK1_PARAMS`]: the same for disk 1 |
//! | 0x2E-0x2F | [`CMOS_CHECKSUM_HIGH`]: sum of bytes 0x10-0x2D, high byte first |
//! | 0x30-0x31 | [`CMOS_POST_EXTENDED_MEMORY_LOW`]: memory above 1 MB in KB, as found by POST |
//! | 0x32 | [`CMOS_CENTURY`]: the century in BCD |
//! | 0x34-0x35 | [`CMOS_HIGH_MEMORY_LOW`]: memory above 16 MB in 64 KB units |
//! | 0x39 | [`CMOS_ATA_TRANSLATION`]: BIOS CHS translation per ATA disk, 2 bits each (0 none, 1 LBA) |
//!
//! The type-47 parameter block is where AT BIOSes keep a user-defined drive type, and where
//! Bochs's BIOS builds its fixed disk parameter tables (INT 41h/46h) from; 0x39 is the Bochs and
//! QEMU convention their BIOSes read. x86lab fills the block as QEMU does (no write
//! precompensation, landing zone on the last cylinder, control byte C0h plus 08h above 8 heads)
//! and asks for LBA translation (the LBA-assist geometry x86lab's own BIOS always uses) for a
//! disk of more than 1024 cylinders, none otherwise.
//!
//! # Wiring (for the machine)
//! ```text
//! construction      RtcCmos::new(start_unix_seconds)    // host clock, or parse_rtc_time("--rtc")
//!                   rtc.fill_pc_cmos(&CmosConfig { .. }) // before the BIOS runs
//! ports 0x70/0x71   rtc.read(port, now) / rtc.write(port, value, now)
//! after an access to 0x70/0x71, and at the Timer::Rtc deadline `d`:
//!     rtc.sync(d);
//!     pic.set_irq(8, rtc.irq_level());        // IRQ8 = IRQF (edge-triggered at the PIC)
//!     sched.set(Timer::Rtc, rtc.next_deadline(d));
//! NMI gating        rtc.nmi_masked (port 0x70 bit 7)
//! ```
//! [`RtcCmos::next_deadline`] only reports events that can raise IRQ8 (enabled periodic, alarm
//! or update-ended interrupts while IRQF is clear); everything else is computed when read.
//!
//! ```
//! use x86lab::devices::rtc_cmos::{RtcCmos, parse_rtc_time};
//! use x86lab::machine::clock::Tick;
//!
//! let mut rtc = RtcCmos::new(parse_rtc_time("2000-01-01T00:00:00").unwrap());
//! let read = |rtc: &mut RtcCmos, reg: u8, t: Tick| {
//!     rtc.write(0x70, reg, t);
//!     rtc.read(0x71, t)
//! };
//! assert_eq!(read(&mut rtc, 0x09, Tick(0)), 0x00); // year 00, BCD
//! assert_eq!(read(&mut rtc, 0x00, Tick::from_secs(61)), 0x01); // 00:01:01
//! assert_eq!(read(&mut rtc, 0x02, Tick::from_secs(61)), 0x01);
//! ```

use crate::devices::disk::Chs;
use crate::machine::clock::Tick;
use serde::{Deserialize, Serialize};

/// Index port: bits 6-0 select a register, bit 7 set disables NMIs.
pub const RTC_INDEX: u16 = 0x70;
/// Data port: reads and writes the selected register.
pub const RTC_DATA: u16 = 0x71;
/// Port 0x70 bit 7: NMI disable.
pub const NMI_DISABLE: u8 = 0x80;

/// Seconds.
pub const REG_SECONDS: u8 = 0x00;
/// Seconds alarm.
pub const REG_SECONDS_ALARM: u8 = 0x01;
/// Minutes.
pub const REG_MINUTES: u8 = 0x02;
/// Minutes alarm.
pub const REG_MINUTES_ALARM: u8 = 0x03;
/// Hours (bit 7 = PM in 12-hour form).
pub const REG_HOURS: u8 = 0x04;
/// Hours alarm.
pub const REG_HOURS_ALARM: u8 = 0x05;
/// Day of week, 1-7, Sunday = 1.
pub const REG_DAY_OF_WEEK: u8 = 0x06;
/// Date of month, 1-31.
pub const REG_DAY_OF_MONTH: u8 = 0x07;
/// Month, 1-12.
pub const REG_MONTH: u8 = 0x08;
/// Year, 0-99.
pub const REG_YEAR: u8 = 0x09;
/// Register A: UIP, DV2-DV0, RS3-RS0.
pub const REG_A: u8 = 0x0A;
/// Register B: SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE.
pub const REG_B: u8 = 0x0B;
/// Register C: IRQF, PF, AF, UF (read-only, cleared by a read).
pub const REG_C: u8 = 0x0C;
/// Register D: VRT (read-only).
pub const REG_D: u8 = 0x0D;

/// Register A UIP: an update cycle is in progress or will begin within 244 µs.
pub const REG_A_UIP: u8 = 0x80;
/// Register A DV2-DV0: divider control.
pub const REG_A_DV: u8 = 0x70;
/// DV2-DV0 = 010: 32.768 kHz time base, divider running.
pub const DV_32768_HZ: u8 = 0x20;
/// DV2-DV1 = 11: divider chain held in reset.
const DV_RESET: u8 = 0x60;
/// Register A RS3-RS0: periodic interrupt rate select.
pub const REG_A_RS: u8 = 0x0F;
/// Register B SET: updates inhibited so software can set the time.
pub const REG_B_SET: u8 = 0x80;
/// Register B PIE: periodic interrupt enable.
pub const REG_B_PIE: u8 = 0x40;
/// Register B AIE: alarm interrupt enable.
pub const REG_B_AIE: u8 = 0x20;
/// Register B UIE: update-ended interrupt enable.
pub const REG_B_UIE: u8 = 0x10;
/// Register B SQWE: square-wave enable.
pub const REG_B_SQWE: u8 = 0x08;
/// Register B DM: data mode, 1 = binary, 0 = BCD.
pub const REG_B_DM: u8 = 0x04;
/// Register B 24/12: 1 = 24-hour mode, 0 = 12-hour mode.
pub const REG_B_24_12: u8 = 0x02;
/// Register B DSE: daylight savings enable.
pub const REG_B_DSE: u8 = 0x01;
/// Register C IRQF: interrupt request flag (drives the IRQ pin).
pub const REG_C_IRQF: u8 = 0x80;
/// Register C PF: periodic interrupt flag.
pub const REG_C_PF: u8 = 0x40;
/// Register C AF: alarm interrupt flag.
pub const REG_C_AF: u8 = 0x20;
/// Register C UF: update-ended interrupt flag.
pub const REG_C_UF: u8 = 0x10;
/// Register D VRT: valid RAM and time.
pub const REG_D_VRT: u8 = 0x80;
/// Hours bit 7 in 12-hour mode: PM.
pub const HOURS_PM: u8 = 0x80;

/// POST diagnostic status byte.
pub const CMOS_DIAGNOSTIC_STATUS: u8 = 0x0E;
/// Shutdown status byte (why the CPU was reset).
pub const CMOS_SHUTDOWN_STATUS: u8 = 0x0F;
/// Floppy drive types: A in bits 7-4, B in bits 3-0.
pub const CMOS_FLOPPY_TYPES: u8 = 0x10;
/// Hard disk types: disk 0 in bits 7-4, disk 1 in bits 3-0.
pub const CMOS_HARD_DISK_TYPES: u8 = 0x12;
/// Equipment byte.
pub const CMOS_EQUIPMENT: u8 = 0x14;
/// Base memory in KB, low byte (high byte at 0x16).
pub const CMOS_BASE_MEMORY_LOW: u8 = 0x15;
/// Base memory in KB, high byte.
pub const CMOS_BASE_MEMORY_HIGH: u8 = 0x16;
/// Extended memory (above 1 MB) in KB, low byte (high byte at 0x18).
pub const CMOS_EXTENDED_MEMORY_LOW: u8 = 0x17;
/// Extended memory in KB, high byte.
pub const CMOS_EXTENDED_MEMORY_HIGH: u8 = 0x18;
/// Disk 0 extended type (when its nibble in 0x12 is 0xF).
pub const CMOS_DISK0_EXTENDED_TYPE: u8 = 0x19;
/// Disk 1 extended type (when its nibble in 0x12 is 0xF).
pub const CMOS_DISK1_EXTENDED_TYPE: u8 = 0x1A;
/// Disk 0's type-47 parameter block (9 bytes): cylinders (word), heads, write precompensation
/// cylinder (word), control byte (bit 3: more than 8 heads), landing zone (word), sectors per
/// track.
pub const CMOS_DISK0_PARAMS: u8 = 0x1B;
/// Disk 1's type-47 parameter block.
pub const CMOS_DISK1_PARAMS: u8 = 0x24;
/// BIOS CHS translation of the four ATA disks, 2 bits each from bit 0 (0 none, 1 LBA, 2 large).
pub const CMOS_ATA_TRANSLATION: u8 = 0x39;
/// Checksum of 0x10-0x2D, high byte.
pub const CMOS_CHECKSUM_HIGH: u8 = 0x2E;
/// Checksum of 0x10-0x2D, low byte.
pub const CMOS_CHECKSUM_LOW: u8 = 0x2F;
/// First byte covered by the checksum.
pub const CMOS_CHECKSUM_FIRST: u8 = 0x10;
/// Last byte covered by the checksum.
pub const CMOS_CHECKSUM_LAST: u8 = 0x2D;
/// Extended memory in KB found by POST, low byte (high byte at 0x31).
pub const CMOS_POST_EXTENDED_MEMORY_LOW: u8 = 0x30;
/// Extended memory in KB found by POST, high byte.
pub const CMOS_POST_EXTENDED_MEMORY_HIGH: u8 = 0x31;
/// The century, BCD.
pub const CMOS_CENTURY: u8 = 0x32;
/// Memory above 16 MB in 64 KB units, low byte (high byte at 0x35).
pub const CMOS_HIGH_MEMORY_LOW: u8 = 0x34;
/// Memory above 16 MB in 64 KB units, high byte.
pub const CMOS_HIGH_MEMORY_HIGH: u8 = 0x35;
/// Hard disk type 47: parameters are user-defined.
pub const DISK_TYPE_USER: u8 = 47;

/// Divider-chain cycles per second (the 32.768 kHz crystal).
const CYCLES_PER_SECOND: u64 = Tick::RTC_HZ;
/// UIP rises this many cycles (244 µs) before an update.
const UIP_CYCLES: u64 = 8;
/// The chain value a divider reset leaves: the first update comes half a second after release.
const CHAIN_AFTER_RESET: u64 = CYCLES_PER_SECOND / 2;
/// Seconds in a day.
const SECONDS_PER_DAY: u64 = 86_400;
/// Days in the chip's 100-year cycle (25 leap years).
const CHIP_DAYS_PER_CENTURY: u64 = 100 * 365 + 25;
/// Days in 400 Gregorian years.
const DAYS_PER_400_YEARS: i64 = 146_097;

/// The periodic interrupt's period in divider cycles for RS3-RS0 (datasheet Table 5, 32.768 kHz
/// time base); `None` for RS = 0 (off).
pub fn periodic_cycles(rs: u8) -> Option<u64> {
    match rs & REG_A_RS {
        0 => None,
        1 => Some(128), // 256 Hz, same as RS = 8
        2 => Some(256), // 128 Hz, same as RS = 9
        r => Some(1 << (r - 1)),
    }
}

// ---------------------------------------------------------------------------------------------
// Calendar arithmetic (proleptic Gregorian, UTC).

/// A leap year in the Gregorian calendar.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1-12) of `year`; 31 for a month outside 1-12.
pub fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// A civil date and time, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    /// 1-12.
    pub month: u8,
    /// 1-31.
    pub day: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
    /// 0-59.
    pub second: u8,
    /// Day of week as the MC146818A counts it: 1 = Sunday ... 7 = Saturday.
    pub weekday: u8,
}

impl DateTime {
    /// The date and time `secs` seconds after 1970-01-01T00:00:00Z (negative: before).
    pub fn from_unix(secs: i64) -> DateTime {
        let days = secs.div_euclid(SECONDS_PER_DAY as i64);
        let sod = secs.rem_euclid(SECONDS_PER_DAY as i64);
        // Any 400 consecutive Gregorian years have the same number of days.
        let mut year = 1970 + 400 * days.div_euclid(DAYS_PER_400_YEARS);
        let mut rem = days.rem_euclid(DAYS_PER_400_YEARS);
        loop {
            let len = if is_leap_year(year) { 366 } else { 365 };
            if rem < len {
                break;
            }
            rem -= len;
            year += 1;
        }
        let mut month = 1;
        while rem >= days_in_month(year, month) as i64 {
            rem -= days_in_month(year, month) as i64;
            month += 1;
        }
        DateTime {
            year,
            month,
            day: rem as u8 + 1,
            hour: (sod / 3600) as u8,
            minute: (sod / 60 % 60) as u8,
            second: (sod % 60) as u8,
            // 1970-01-01 was a Thursday (5 in the chip's numbering).
            weekday: (days + 4).rem_euclid(7) as u8 + 1,
        }
    }

    /// Seconds since 1970-01-01T00:00:00Z; `None` if that does not fit an `i64`. The fields are
    /// taken as they are (a day 0 counts as the day before the 1st).
    pub fn to_unix(&self) -> Option<i64> {
        let cycles = self.year.checked_sub(1970)?.div_euclid(400);
        let mut days = cycles.checked_mul(DAYS_PER_400_YEARS)?;
        let mut y = 1970 + cycles * 400;
        while y < self.year {
            days += if is_leap_year(y) { 366 } else { 365 };
            y += 1;
        }
        for m in 1..self.month.min(13) {
            days += days_in_month(self.year, m) as i64;
        }
        days += self.day as i64 - 1;
        days.checked_mul(SECONDS_PER_DAY as i64)?
            .checked_add(self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64)
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS` (a space may replace the `T`, a trailing `Z` is allowed, the time
/// may be left out) as UTC and returns seconds since the Unix epoch; `None` if malformed or out of
/// range. This is the form of the machine's `--rtc` option.
pub fn parse_rtc_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let num = |p: &str, digits: usize| -> Option<i64> {
        (p.len() == digits && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok()).flatten()
    };
    let mut d = date.split('-');
    let (year, month, day) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    if d.next().is_some() {
        return None;
    }
    let (hour, minute, second) = match time {
        None => (0, 0, 0),
        Some(t) => {
            let mut t = t.split(':');
            let hms = (num(t.next()?, 2)?, num(t.next()?, 2)?, num(t.next()?, 2)?);
            if t.next().is_some() {
                return None;
            }
            hms
        }
    };
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month as u8) as i64 {
        return None;
    }
    DateTime {
        year,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        weekday: 1,
    }
    .to_unix()
}

/// The chip's leap-year rule: the two-digit year is divisible by 4.
fn chip_days_in_month(year: u8, month: u8) -> u8 {
    days_in_month(if year.is_multiple_of(4) { 2000 } else { 2001 }, month)
}

/// The clock registers decoded to binary, hours 0-23, every field in range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ClockTime {
    sec: u8,
    min: u8,
    hour: u8,
    wday: u8,
    mday: u8,
    month: u8,
    year: u8,
}

impl ClockTime {
    /// Days since 00-01-01 in the chip's calendar.
    fn day_number(&self) -> u64 {
        let y = self.year as u64;
        let mut n = y * 365 + y.div_ceil(4);
        for m in 1..self.month {
            n += chip_days_in_month(self.year, m) as u64;
        }
        n + self.mday as u64 - 1
    }

    /// The time `secs` update cycles later.
    fn advanced(&self, secs: u64) -> ClockTime {
        let sod = self.hour as u64 * 3600 + self.min as u64 * 60 + self.sec as u64;
        let total = sod.saturating_add(secs);
        let days = total / SECONDS_PER_DAY;
        let sod = total % SECONDS_PER_DAY;
        let mut rem = (self.day_number() + days % CHIP_DAYS_PER_CENTURY) % CHIP_DAYS_PER_CENTURY;
        let mut year = 0u8;
        loop {
            let len = if year.is_multiple_of(4) { 366 } else { 365 };
            if rem < len {
                break;
            }
            rem -= len;
            year += 1;
        }
        let mut month = 1u8;
        while rem >= chip_days_in_month(year, month) as u64 {
            rem -= chip_days_in_month(year, month) as u64;
            month += 1;
        }
        ClockTime {
            sec: (sod % 60) as u8,
            min: (sod / 60 % 60) as u8,
            hour: (sod / 3600) as u8,
            wday: ((self.wday as u64 - 1 + days % 7) % 7 + 1) as u8,
            mday: rem as u8 + 1,
            month,
            year,
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// A floppy drive type as CMOS byte 0x10 codes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FloppyType {
    /// No drive.
    #[default]
    None = 0,
    /// 5.25" 360 KB.
    Kb360 = 1,
    /// 5.25" 1.2 MB.
    Mb1_2 = 2,
    /// 3.5" 720 KB.
    Kb720 = 3,
    /// 3.5" 1.44 MB.
    Mb1_44 = 4,
    /// 3.5" 2.88 MB.
    Mb2_88 = 5,
}

/// What [`RtcCmos::fill_pc_cmos`] records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CmosConfig {
    /// Installed RAM in bytes.
    pub ram_bytes: u64,
    /// Floppy drives A and B.
    pub floppies: [FloppyType; 2],
    /// Hard disks 0 and 1 present (recorded as type 0xF / 47; the BIOS asks the drive for its
    /// geometry).
    pub hard_disks: [bool; 2],
    /// The geometry of each ATA disk (primary master, primary slave, secondary master, secondary
    /// slave) as IDENTIFY DEVICE reports it: the type-47 parameters of disks 0 and 1 and the
    /// translation byte.
    pub hard_disk_geometry: [Option<Chs>; 4],
    /// A math coprocessor is present (equipment byte bit 1).
    pub fpu: bool,
}

/// The MC146818A and its CMOS RAM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtcCmos {
    /// The 128 bytes behind the data port: 0x00-0x09 clock and alarm registers in the form the
    /// guest reads them, 0x0A-0x0D registers A-D (UIP and VRT are computed when read), 0x0E-0x7F
    /// battery-backed RAM.
    #[serde(with = "serde_big_array::BigArray")]
    pub ram: [u8; 128],
    /// Port 0x70 bits 6-0: the register the data port reaches.
    pub index: u8,
    /// Port 0x70 bit 7: NMIs are disabled.
    pub nmi_masked: bool,
    /// The divider chain's count of 32.768 kHz cycles at `chain_origin` (or, while the divider is
    /// stopped, its frozen count).
    pub chain_base: u64,
    /// When the divider chain last started running.
    pub chain_origin: Tick,
    /// Guest time up to which the calendar and flags have been brought.
    pub synced: Tick,
}

impl RtcCmos {
    /// A chip whose clock reads `unix_seconds` (UTC) at guest time 0, as the battery and a BIOS
    /// setup left it: register A = 0x26 (32.768 kHz, 1024 Hz periodic rate), register B = 0x02
    /// (24-hour, BCD, no interrupts), the century byte set.
    pub fn new(unix_seconds: i64) -> RtcCmos {
        let mut rtc = RtcCmos {
            ram: [0; 128],
            index: 0,
            nmi_masked: false,
            chain_base: 0,
            chain_origin: Tick(0),
            synced: Tick(0),
        };
        rtc.ram[REG_A as usize] = DV_32768_HZ | 0x06;
        rtc.ram[REG_B as usize] = REG_B_24_12;
        rtc.ram[REG_D as usize] = REG_D_VRT;
        rtc.set_date_time(&DateTime::from_unix(unix_seconds));
        rtc
    }

    fn reg(&self, r: u8) -> u8 {
        self.ram[(r & 0x7F) as usize]
    }

    fn binary(&self) -> bool {
        self.reg(REG_B) & REG_B_DM != 0
    }

    fn hours24(&self) -> bool {
        self.reg(REG_B) & REG_B_24_12 != 0
    }

    /// A value 0-99 in the current data mode.
    fn encode(&self, v: u8) -> u8 {
        if self.binary() { v } else { ((v / 10) << 4) | (v % 10) }
    }

    fn decode(&self, raw: u8) -> u8 {
        if self.binary() { raw } else { (raw >> 4) * 10 + (raw & 0xF) }
    }

    /// An hour 0-23 in the current data and hour modes.
    fn encode_hour(&self, h: u8) -> u8 {
        if self.hours24() {
            self.encode(h)
        } else {
            let h12 = if h.is_multiple_of(12) { 12 } else { h % 12 };
            self.encode(h12) | if h >= 12 { HOURS_PM } else { 0 }
        }
    }

    fn decode_hour(&self, raw: u8) -> u8 {
        if self.hours24() {
            self.decode(raw)
        } else {
            self.decode(raw & !HOURS_PM) % 12 + if raw & HOURS_PM != 0 { 12 } else { 0 }
        }
    }

    /// The clock registers decoded, each field clamped into its range.
    fn clock_time(&self) -> ClockTime {
        let year = self.decode(self.reg(REG_YEAR)).min(99);
        let month = self.decode(self.reg(REG_MONTH)).clamp(1, 12);
        ClockTime {
            sec: self.decode(self.reg(REG_SECONDS)).min(59),
            min: self.decode(self.reg(REG_MINUTES)).min(59),
            hour: self.decode_hour(self.reg(REG_HOURS)).min(23),
            wday: self.decode(self.reg(REG_DAY_OF_WEEK)).clamp(1, 7),
            mday: self.decode(self.reg(REG_DAY_OF_MONTH)).clamp(1, chip_days_in_month(year, month)),
            month,
            year,
        }
    }

    fn set_clock_time(&mut self, t: &ClockTime) {
        self.ram[REG_SECONDS as usize] = self.encode(t.sec);
        self.ram[REG_MINUTES as usize] = self.encode(t.min);
        self.ram[REG_HOURS as usize] = self.encode_hour(t.hour);
        self.ram[REG_DAY_OF_WEEK as usize] = self.encode(t.wday);
        self.ram[REG_DAY_OF_MONTH as usize] = self.encode(t.mday);
        self.ram[REG_MONTH as usize] = self.encode(t.month);
        self.ram[REG_YEAR as usize] = self.encode(t.year);
    }

    /// Sets the clock registers (in the current data and hour modes) and the century byte, as
    /// software with SET would; no flags change.
    pub fn set_date_time(&mut self, dt: &DateTime) {
        let t = ClockTime {
            sec: dt.second.min(59),
            min: dt.minute.min(59),
            hour: dt.hour.min(23),
            wday: dt.weekday.clamp(1, 7),
            mday: dt.day.clamp(1, 31),
            month: dt.month.clamp(1, 12),
            year: dt.year.rem_euclid(100) as u8,
        };
        self.set_clock_time(&t);
        let century = dt.year.div_euclid(100).rem_euclid(100) as u8;
        self.ram[CMOS_CENTURY as usize] = ((century / 10) << 4) | (century % 10);
    }

    /// The clock as of `now`, with the century taken from CMOS byte 0x32 (BCD).
    pub fn date_time(&mut self, now: Tick) -> DateTime {
        self.sync(now);
        let t = self.clock_time();
        let c = self.reg(CMOS_CENTURY);
        let century = ((c >> 4) * 10 + (c & 0xF)) as i64;
        DateTime {
            year: century * 100 + t.year as i64,
            month: t.month,
            day: t.mday,
            hour: t.hour,
            minute: t.min,
            second: t.sec,
            weekday: t.wday,
        }
    }

    /// The divider is running (DV2-DV0 = 010).
    fn running(&self) -> bool {
        self.reg(REG_A) & REG_A_DV == DV_32768_HZ
    }

    /// The divider chain's count at `t`.
    fn chain(&self, t: Tick) -> u64 {
        if self.running() {
            self.chain_base.saturating_add(t.saturating_sub(self.chain_origin).cycles(Tick::RTC_HZ))
        } else {
            self.chain_base
        }
    }

    /// The guest time at which the chain reaches `cycles` (the chain must be running).
    fn chain_time(&self, cycles: u64) -> Tick {
        self.chain_origin.saturating_add(Tick::from_cycles(cycles.saturating_sub(self.chain_base), Tick::RTC_HZ))
    }

    /// UIP at `now`: within the 244 µs before an update.
    fn uip(&self, now: Tick) -> bool {
        self.running()
            && self.reg(REG_B) & REG_B_SET == 0
            && self.chain(now) % CYCLES_PER_SECOND >= CYCLES_PER_SECOND - UIP_CYCLES
    }

    /// Recomputes IRQF = PF·PIE + AF·AIE + UF·UIE.
    fn update_irqf(&mut self) {
        let c = self.reg(REG_C) & (REG_C_PF | REG_C_AF | REG_C_UF);
        let b = self.reg(REG_B);
        let irq = (c & REG_C_PF != 0 && b & REG_B_PIE != 0)
            || (c & REG_C_AF != 0 && b & REG_B_AIE != 0)
            || (c & REG_C_UF != 0 && b & REG_B_UIE != 0);
        self.ram[REG_C as usize] = c | if irq { REG_C_IRQF } else { 0 };
    }

    /// Updates after the current time at which the alarm matches: the smallest `d >= 1` such that
    /// the time `d` seconds later matches the alarm bytes (comparing the bytes as the chip does,
    /// 0xC0-0xFF matching anything); `None` if no time of day ever matches.
    fn seconds_until_alarm(&self, t: &ClockTime) -> Option<u64> {
        let dont_care = |a: u8| a & 0xC0 == 0xC0;
        let (a_sec, a_min, a_hour) =
            (self.reg(REG_SECONDS_ALARM), self.reg(REG_MINUTES_ALARM), self.reg(REG_HOURS_ALARM));
        // The one second value the seconds alarm matches (None: any).
        let fixed_sec =
            if dont_care(a_sec) { None } else { Some((0..60u8).find(|&s| self.encode(s) == a_sec)? as u64) };
        let cur_min = t.hour as u64 * 60 + t.min as u64;
        let cur_sec = t.sec as u64;
        for i in 0..=1440u64 {
            let m = (cur_min + i) % 1440;
            let (hour, min) = ((m / 60) as u8, (m % 60) as u8);
            if !(dont_care(a_hour) || self.encode_hour(hour) == a_hour)
                || !(dont_care(a_min) || self.encode(min) == a_min)
            {
                continue;
            }
            let s = match fixed_sec {
                Some(s) => s,
                None if i == 0 => cur_sec + 1,
                None => 0,
            };
            let d = (i * 60 + s).saturating_sub(cur_sec);
            if s < 60 && (1..=SECONDS_PER_DAY).contains(&d) {
                return Some(d);
            }
        }
        None
    }

    /// Brings the chip to `now`: counts the periodic ticks and update cycles since the last
    /// access, advances the calendar and sets PF, AF, UF and IRQF. Time never goes backwards.
    pub fn sync(&mut self, now: Tick) {
        if now <= self.synced {
            return;
        }
        if self.running() {
            let (c0, c1) = (self.chain(self.synced), self.chain(now));
            if let Some(p) = periodic_cycles(self.reg(REG_A))
                && c1 / p > c0 / p
            {
                self.ram[REG_C as usize] |= REG_C_PF;
            }
            let updates = c1 / CYCLES_PER_SECOND - c0 / CYCLES_PER_SECOND;
            if self.reg(REG_B) & REG_B_SET == 0 && updates > 0 {
                let t = self.clock_time();
                if self.seconds_until_alarm(&t).is_some_and(|d| d <= updates) {
                    self.ram[REG_C as usize] |= REG_C_AF;
                }
                self.set_clock_time(&t.advanced(updates));
                self.ram[REG_C as usize] |= REG_C_UF;
            }
        }
        self.synced = now;
        self.update_irqf();
    }

    /// The IRQ8 level: IRQF (the chip's active-low IRQ pin, inverted on the way to the PIC).
    pub fn irq_level(&self) -> bool {
        self.reg(REG_C) & REG_C_IRQF != 0
    }

    /// Brings the chip to `now` and returns the time of the next event that would raise IRQ8:
    /// the next periodic tick (PIE), update (UIE) or alarm match (AIE). `None` while IRQF is
    /// already set (the line cannot change until register C is read) or nothing is enabled.
    pub fn next_deadline(&mut self, now: Tick) -> Option<Tick> {
        self.sync(now);
        if !self.running() || self.irq_level() {
            return None;
        }
        let b = self.reg(REG_B);
        let c = self.chain(now);
        let mut best: Option<u64> = None;
        let mut consider = |x: u64| best = Some(best.map_or(x, |b: u64| b.min(x)));
        if b & REG_B_PIE != 0
            && let Some(p) = periodic_cycles(self.reg(REG_A))
        {
            consider((c / p + 1) * p);
        }
        if b & REG_B_SET == 0 {
            let next_update = (c / CYCLES_PER_SECOND + 1) * CYCLES_PER_SECOND;
            if b & REG_B_UIE != 0 {
                consider(next_update);
            }
            if b & REG_B_AIE != 0
                && let Some(d) = self.seconds_until_alarm(&self.clock_time())
            {
                consider(next_update + (d - 1) * CYCLES_PER_SECOND);
            }
        }
        best.map(|cycles| self.chain_time(cycles))
    }

    /// A read of port 0x71 (the selected register) or 0x70 (write-only: 0xFF) at `now`.
    pub fn read(&mut self, port: u16, now: Tick) -> u8 {
        if port != RTC_DATA {
            return 0xFF;
        }
        self.sync(now);
        match self.index & 0x7F {
            REG_A => (self.reg(REG_A) & !REG_A_UIP) | if self.uip(now) { REG_A_UIP } else { 0 },
            REG_C => {
                let v = self.reg(REG_C);
                self.ram[REG_C as usize] = 0;
                v
            }
            REG_D => REG_D_VRT,
            i => self.reg(i),
        }
    }

    /// A write to port 0x70 (index and NMI mask) or 0x71 (the selected register) at `now`.
    pub fn write(&mut self, port: u16, value: u8, now: Tick) {
        match port {
            RTC_INDEX => {
                self.index = value & 0x7F;
                self.nmi_masked = value & NMI_DISABLE != 0;
            }
            RTC_DATA => {
                self.sync(now);
                match self.index & 0x7F {
                    REG_A => self.write_reg_a(value, now),
                    REG_B => {
                        let mut v = value;
                        if v & REG_B_SET != 0 && self.reg(REG_B) & REG_B_SET == 0 {
                            // "The SET bit going high clears the UIE bit."
                            v &= !REG_B_UIE;
                        }
                        self.ram[REG_B as usize] = v;
                    }
                    REG_C | REG_D => {} // read-only
                    i => self.ram[i as usize] = value,
                }
                self.update_irqf();
            }
            _ => {}
        }
    }

    fn write_reg_a(&mut self, value: u8, now: Tick) {
        let was_running = self.running();
        let chain = self.chain(now);
        self.ram[REG_A as usize] = value & !REG_A_UIP;
        let dv = value & REG_A_DV;
        if dv & DV_RESET == DV_RESET {
            // Held in reset: when released, the first update comes half a second later.
            self.chain_base = CHAIN_AFTER_RESET;
        } else if was_running && !self.running() {
            self.chain_base = chain;
        }
        if !was_running && self.running() {
            self.chain_origin = now;
        }
    }

    /// A CMOS byte, raw: no side effects (register C is not cleared). The index wraps at 128.
    pub fn nvram(&self, index: u8) -> u8 {
        self.reg(index)
    }

    /// Sets a CMOS byte, raw (for the BIOS setup and the machine). The index wraps at 128.
    pub fn set_nvram(&mut self, index: u8, value: u8) {
        self.ram[(index & 0x7F) as usize] = value;
    }

    /// The sum of bytes 0x10-0x2D.
    pub fn checksum(&self) -> u16 {
        (CMOS_CHECKSUM_FIRST..=CMOS_CHECKSUM_LAST).map(|i| self.reg(i) as u16).sum()
    }

    /// Stores [`RtcCmos::checksum`] at 0x2E (high byte) and 0x2F (low byte).
    pub fn update_checksum(&mut self) {
        let [hi, lo] = self.checksum().to_be_bytes();
        self.set_nvram(CMOS_CHECKSUM_HIGH, hi);
        self.set_nvram(CMOS_CHECKSUM_LOW, lo);
    }

    /// Fills the standard PC fields from the machine's configuration and updates the checksum.
    pub fn fill_pc_cmos(&mut self, cfg: &CmosConfig) {
        let kb = cfg.ram_bytes / 1024;
        let base = kb.min(640) as u16;
        let extended = kb.saturating_sub(1024).min(0xFFFF) as u16;
        let high = (cfg.ram_bytes.saturating_sub(16 << 20) / 0x1_0000).min(0xFFFF) as u16;
        let floppies = cfg.floppies.iter().filter(|&&f| f != FloppyType::None).count() as u8;

        self.set_nvram(CMOS_DIAGNOSTIC_STATUS, 0);
        self.set_nvram(CMOS_SHUTDOWN_STATUS, 0);
        self.set_nvram(CMOS_FLOPPY_TYPES, (cfg.floppies[0] as u8) << 4 | cfg.floppies[1] as u8);
        let disk_nibble = |present: bool| if present { 0xF } else { 0 };
        self.set_nvram(CMOS_HARD_DISK_TYPES, disk_nibble(cfg.hard_disks[0]) << 4 | disk_nibble(cfg.hard_disks[1]));
        self.set_nvram(CMOS_DISK0_EXTENDED_TYPE, if cfg.hard_disks[0] { DISK_TYPE_USER } else { 0 });
        self.set_nvram(CMOS_DISK1_EXTENDED_TYPE, if cfg.hard_disks[1] { DISK_TYPE_USER } else { 0 });
        let mut equipment = if cfg.fpu { 0x02 } else { 0 };
        if floppies > 0 {
            equipment |= 0x01 | (floppies - 1) << 6;
        }
        self.set_nvram(CMOS_EQUIPMENT, equipment);
        for (base, chs) in
            [(CMOS_DISK0_PARAMS, cfg.hard_disk_geometry[0]), (CMOS_DISK1_PARAMS, cfg.hard_disk_geometry[1])]
        {
            let c = chs.unwrap_or(Chs::new(0, 0, 0));
            let cyl = c.cylinders.min(0xFFFF) as u16;
            let heads = c.heads.min(0xFF) as u8;
            let [cl, ch] = cyl.to_le_bytes();
            // Write precompensation "none" (FFFFh), retries off (control bits 7-6) and the landing
            // zone on the last cylinder, as QEMU records them; 0 throughout for an absent disk.
            let (precomp, control, landing) = match chs {
                Some(_) => (0xFFFFu16, 0xC0 | if heads > 8 { 0x08 } else { 0 }, cyl),
                None => (0, 0, 0),
            };
            let [pl, ph] = precomp.to_le_bytes();
            let [ll, lh] = landing.to_le_bytes();
            for (i, v) in [cl, ch, heads, pl, ph, control, ll, lh, c.sectors.min(0xFF) as u8].into_iter().enumerate() {
                self.set_nvram(base + i as u8, v);
            }
        }
        let translation = cfg
            .hard_disk_geometry
            .iter()
            .enumerate()
            .fold(0u8, |t, (i, chs)| t | (chs.is_some_and(|c| c.cylinders > 1024) as u8) << (2 * i));
        self.set_nvram(CMOS_ATA_TRANSLATION, translation);
        for (low, value) in [
            (CMOS_BASE_MEMORY_LOW, base),
            (CMOS_EXTENDED_MEMORY_LOW, extended),
            (CMOS_POST_EXTENDED_MEMORY_LOW, extended),
            (CMOS_HIGH_MEMORY_LOW, high),
        ] {
            let [lo, hi] = value.to_le_bytes();
            self.set_nvram(low, lo);
            self.set_nvram(low + 1, hi);
        }
        self.update_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(rtc: &mut RtcCmos, reg: u8, t: Tick) -> u8 {
        rtc.write(RTC_INDEX, reg, t);
        rtc.read(RTC_DATA, t)
    }

    fn wr(rtc: &mut RtcCmos, reg: u8, value: u8, t: Tick) {
        rtc.write(RTC_INDEX, reg, t);
        rtc.write(RTC_DATA, value, t);
    }

    /// (year, month, day, hours, minutes, seconds, weekday) as the registers read.
    fn regs(rtc: &mut RtcCmos, t: Tick) -> [u8; 7] {
        [REG_YEAR, REG_MONTH, REG_DAY_OF_MONTH, REG_HOURS, REG_MINUTES, REG_SECONDS, REG_DAY_OF_WEEK]
            .map(|r| rd(rtc, r, t))
    }

    const Y2K: i64 = 946_684_800; // 2000-01-01T00:00:00Z, a Saturday

    fn secs(s: u64) -> Tick {
        Tick::from_secs(s)
    }

    #[test]
    fn calendar_conversions() {
        let d = DateTime::from_unix(0);
        assert_eq!((d.year, d.month, d.day, d.weekday), (1970, 1, 1, 5));
        let d = DateTime::from_unix(-1);
        assert_eq!((d.year, d.month, d.day, d.hour, d.minute, d.second, d.weekday), (1969, 12, 31, 23, 59, 59, 4));
        let d = DateTime::from_unix(951_782_400);
        assert_eq!((d.year, d.month, d.day, d.weekday), (2000, 2, 29, 3));
        let d = DateTime::from_unix(2_147_483_647);
        assert_eq!((d.year, d.month, d.day, d.hour, d.minute, d.second, d.weekday), (2038, 1, 19, 3, 14, 7, 3));
        assert!(is_leap_year(2000) && is_leap_year(2024) && !is_leap_year(1900) && !is_leap_year(2023));
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2000, 13), 31);
        for s in [i64::MIN / 2, -86_401, -1, 0, 1, Y2K, 4_102_444_800, 253_402_300_799, i64::MAX / 2] {
            assert_eq!(DateTime::from_unix(s).to_unix(), Some(s), "{s}");
        }
        let mut x = 1u64;
        for _ in 0..2000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let s = (x >> 20) as i64 - (1 << 43);
            assert_eq!(DateTime::from_unix(s).to_unix(), Some(s));
        }
        // The extremes convert without overflow.
        DateTime::from_unix(i64::MIN);
        DateTime::from_unix(i64::MAX);
    }

    #[test]
    fn parse_rtc_option() {
        assert_eq!(parse_rtc_time("2000-01-01T00:00:00"), Some(Y2K));
        assert_eq!(parse_rtc_time("2000-01-01 00:00:00Z"), Some(Y2K));
        assert_eq!(parse_rtc_time("2000-01-01"), Some(Y2K));
        assert_eq!(parse_rtc_time("2024-02-29T00:00:00"), Some(1_709_164_800));
        assert_eq!(parse_rtc_time("2023-02-29T00:00:00"), None);
        assert_eq!(parse_rtc_time("2000-13-01T00:00:00"), None);
        assert_eq!(parse_rtc_time("2000-01-01T24:00:00"), None);
        assert_eq!(parse_rtc_time("2000-1-01T00:00:00"), None);
        assert_eq!(parse_rtc_time("2000-01-01T00:00"), None);
        assert_eq!(parse_rtc_time("2000-01-01T00:00:00:00"), None);
        assert_eq!(parse_rtc_time("+200-01-01"), None);
        assert_eq!(parse_rtc_time(""), None);
    }

    #[test]
    fn power_on_state_is_bcd_24_hour() {
        let mut rtc = RtcCmos::new(1_709_164_799); // 2024-02-28T23:59:59Z, a Wednesday
        let t = Tick(0);
        assert_eq!(regs(&mut rtc, t), [0x24, 0x02, 0x28, 0x23, 0x59, 0x59, 0x04]);
        assert_eq!(rd(&mut rtc, REG_A, t), 0x26);
        assert_eq!(rd(&mut rtc, REG_B, t), 0x02);
        assert_eq!(rd(&mut rtc, REG_C, t), 0x00);
        assert_eq!(rd(&mut rtc, REG_D, t), 0x80);
        assert_eq!(rtc.nvram(CMOS_CENTURY), 0x20);
    }

    #[test]
    fn binary_mode() {
        let mut rtc = RtcCmos::new(Y2K);
        wr(&mut rtc, REG_B, REG_B_SET | REG_B_DM | REG_B_24_12, Tick(0));
        for (reg, v) in [(REG_SECONDS, 58), (REG_MINUTES, 59), (REG_HOURS, 23), (REG_DAY_OF_MONTH, 31)] {
            wr(&mut rtc, reg, v, Tick(0));
        }
        wr(&mut rtc, REG_MONTH, 12, Tick(0));
        wr(&mut rtc, REG_YEAR, 99, Tick(0));
        wr(&mut rtc, REG_DAY_OF_WEEK, 6, Tick(0));
        assert_eq!(regs(&mut rtc, secs(5)), [99, 12, 31, 23, 59, 58, 6], "SET holds the clock");
        wr(&mut rtc, REG_B, REG_B_DM | REG_B_24_12, secs(5));
        // Updates resume at the chain's next second boundary.
        assert_eq!(regs(&mut rtc, secs(6)), [99, 12, 31, 23, 59, 59, 6]);
        assert_eq!(regs(&mut rtc, secs(7)), [0, 1, 1, 0, 0, 0, 7]);
    }

    #[test]
    fn twelve_hour_mode() {
        let mut rtc = RtcCmos::new(Y2K);
        wr(&mut rtc, REG_B, REG_B_SET, Tick(0)); // 12-hour, BCD
        wr(&mut rtc, REG_HOURS, HOURS_PM | 0x11, Tick(0)); // 11 PM
        wr(&mut rtc, REG_MINUTES, 0x59, Tick(0));
        wr(&mut rtc, REG_SECONDS, 0x59, Tick(0));
        wr(&mut rtc, REG_B, 0, Tick(0));
        assert_eq!(rd(&mut rtc, REG_HOURS, secs(1)), 0x12, "midnight is 12 AM");
        assert_eq!(rd(&mut rtc, REG_DAY_OF_MONTH, secs(1)), 0x02);
        wr(&mut rtc, REG_HOURS, 0x11, secs(1)); // 11 AM
        wr(&mut rtc, REG_MINUTES, 0x59, secs(1));
        wr(&mut rtc, REG_SECONDS, 0x59, secs(1));
        assert_eq!(rd(&mut rtc, REG_HOURS, secs(2)), HOURS_PM | 0x12, "noon is 12 PM");
        wr(&mut rtc, REG_MINUTES, 0x59, secs(2));
        wr(&mut rtc, REG_SECONDS, 0x59, secs(2));
        assert_eq!(rd(&mut rtc, REG_HOURS, secs(3)), HOURS_PM | 0x01);
        // Binary 12-hour form.
        wr(&mut rtc, REG_B, REG_B_DM, secs(3));
        wr(&mut rtc, REG_HOURS, HOURS_PM | 12, secs(3));
        wr(&mut rtc, REG_MINUTES, 0, secs(3));
        assert_eq!(rd(&mut rtc, REG_HOURS, secs(4)), HOURS_PM | 12);
        assert_eq!(rtc.date_time(secs(4)).hour, 12);
    }

    #[test]
    fn leap_day_and_month_boundary() {
        let mut rtc = RtcCmos::new(1_709_164_799); // 2024-02-28T23:59:59Z, Wednesday
        assert_eq!(regs(&mut rtc, secs(1)), [0x24, 0x02, 0x29, 0x00, 0x00, 0x00, 0x05]);
        assert_eq!(regs(&mut rtc, secs(1 + 86_400)), [0x24, 0x03, 0x01, 0x00, 0x00, 0x00, 0x06]);
        let mut rtc = RtcCmos::new(1_677_628_799); // 2023-02-28T23:59:59Z, Tuesday
        assert_eq!(regs(&mut rtc, secs(1)), [0x23, 0x03, 0x01, 0x00, 0x00, 0x00, 0x04]);
    }

    #[test]
    fn year_boundary() {
        let mut rtc = RtcCmos::new(Y2K - 1); // 1999-12-31T23:59:59Z, Friday
        assert_eq!(rtc.nvram(CMOS_CENTURY), 0x19);
        assert_eq!(regs(&mut rtc, Tick::from_millis(999)), [0x99, 0x12, 0x31, 0x23, 0x59, 0x59, 0x06]);
        assert_eq!(regs(&mut rtc, secs(1)), [0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x07]);
        assert_eq!(rtc.nvram(CMOS_CENTURY), 0x19, "the chip does not carry into the century byte");
    }

    #[test]
    fn long_runs_agree_with_the_gregorian_calendar() {
        for (start, delta) in [(Y2K, 400 * 86_400), (Y2K + 12_345, 3_652 * 86_400 + 7), (1_709_164_799, 1), (Y2K, 1)] {
            let mut rtc = RtcCmos::new(start);
            let got = rtc.date_time(secs(delta));
            assert_eq!(got, DateTime::from_unix(start + delta as i64));
        }
        let mut rtc = RtcCmos::new(Y2K);
        let d = rtc.date_time(secs(400 * 86_400));
        assert_eq!((d.year, d.month, d.day, d.weekday), (2001, 2, 4, 1));
    }

    #[test]
    fn uip_window_before_each_update() {
        let mut rtc = RtcCmos::new(Y2K);
        // UIP rises 8 cycles (244.14 µs) before the update at 1 s.
        let rise = Tick::from_cycles(32_760, Tick::RTC_HZ);
        assert_eq!(rise.nanos(), 999_755_860);
        assert_eq!(rd(&mut rtc, REG_A, Tick(rise.0 - 1)) & REG_A_UIP, 0);
        assert_eq!(rd(&mut rtc, REG_A, rise) & REG_A_UIP, REG_A_UIP);
        assert_eq!(rd(&mut rtc, REG_SECONDS, Tick(secs(1).0 - 1)), 0x00, "old time until the update");
        assert_eq!(rd(&mut rtc, REG_A, secs(1)) & REG_A_UIP, 0);
        assert_eq!(rd(&mut rtc, REG_SECONDS, secs(1)), 0x01);
        // SET inhibits updates and clears UIP.
        wr(&mut rtc, REG_B, REG_B_SET | REG_B_24_12, secs(1));
        assert_eq!(rd(&mut rtc, REG_A, Tick(secs(2).0 - 1000)) & REG_A_UIP, 0);
    }

    #[test]
    fn periodic_interrupt_at_the_rs_rate() {
        let mut rtc = RtcCmos::new(Y2K);
        assert_eq!(rtc.next_deadline(Tick(0)), None, "nothing enabled");
        wr(&mut rtc, REG_B, REG_B_PIE | REG_B_24_12, Tick(0));
        // RS = 6: 1024 Hz, 32 cycles = 976.5625 µs.
        let d = rtc.next_deadline(Tick(0)).unwrap();
        assert_eq!(d, Tick(976_563));
        rtc.sync(Tick(d.0 - 1));
        assert!(!rtc.irq_level());
        rtc.sync(d);
        assert!(rtc.irq_level());
        assert_eq!(rtc.next_deadline(d), None, "IRQF already set");
        assert_eq!(rd(&mut rtc, REG_C, d), REG_C_IRQF | REG_C_PF);
        assert!(!rtc.irq_level());
        assert_eq!(rtc.next_deadline(d), Some(Tick::from_cycles(64, Tick::RTC_HZ)));
        // RS = 15: 2 Hz. RS = 3: 8192 Hz. RS = 1: 256 Hz.
        for (rs, cycles) in [(15, 16_384), (3, 4), (1, 128), (2, 256)] {
            let mut rtc = RtcCmos::new(Y2K);
            wr(&mut rtc, REG_A, DV_32768_HZ | rs, Tick(0));
            wr(&mut rtc, REG_B, REG_B_PIE | REG_B_24_12, Tick(0));
            assert_eq!(rtc.next_deadline(Tick(0)), Some(Tick::from_cycles(cycles, Tick::RTC_HZ)), "RS {rs}");
        }
        // RS = 0: no periodic interrupt.
        wr(&mut rtc, REG_A, DV_32768_HZ, d);
        assert_eq!(rtc.next_deadline(d), None);
    }

    #[test]
    fn periodic_flag_without_pie_raises_no_irq() {
        let mut rtc = RtcCmos::new(Y2K);
        rtc.sync(Tick::from_millis(10));
        assert!(!rtc.irq_level());
        assert_eq!(rd(&mut rtc, REG_C, Tick::from_millis(10)), REG_C_PF);
        // Enabling PIE with PF already set raises IRQF at once.
        rtc.sync(Tick::from_millis(20));
        wr(&mut rtc, REG_B, REG_B_PIE | REG_B_24_12, Tick::from_millis(20));
        assert!(rtc.irq_level());
    }

    #[test]
    fn update_ended_interrupt_once_per_second() {
        let mut rtc = RtcCmos::new(Y2K);
        wr(&mut rtc, REG_B, REG_B_UIE | REG_B_24_12, Tick(0));
        assert_eq!(rtc.next_deadline(Tick(0)), Some(secs(1)));
        rtc.sync(secs(1));
        assert!(rtc.irq_level());
        assert_eq!(rd(&mut rtc, REG_C, secs(1)), REG_C_IRQF | REG_C_PF | REG_C_UF);
        assert_eq!(rtc.next_deadline(secs(1)), Some(secs(2)));
        // Three seconds pass unserviced: one UF, the time is right.
        assert_eq!(rd(&mut rtc, REG_SECONDS, secs(4)), 0x04);
        assert_eq!(rd(&mut rtc, REG_C, secs(4)) & REG_C_UF, REG_C_UF);
    }

    #[test]
    fn register_c_clears_on_read() {
        let mut rtc = RtcCmos::new(Y2K);
        wr(&mut rtc, REG_B, REG_B_UIE | REG_B_PIE | REG_B_24_12, Tick(0));
        rtc.sync(secs(1));
        assert!(rtc.irq_level());
        assert_eq!(rd(&mut rtc, REG_C, secs(1)), 0xD0);
        assert_eq!(rd(&mut rtc, REG_C, secs(1)), 0x00);
        assert!(!rtc.irq_level());
        wr(&mut rtc, REG_C, 0xFF, secs(1));
        wr(&mut rtc, REG_D, 0x00, secs(1));
        assert_eq!(rd(&mut rtc, REG_C, secs(1)), 0x00, "register C is read-only");
        assert_eq!(rd(&mut rtc, REG_D, secs(1)), 0x80, "register D is read-only");
    }

    #[test]
    fn alarm_interrupt() {
        let mut rtc = RtcCmos::new(Y2K);
        wr(&mut rtc, REG_SECONDS_ALARM, 0x05, Tick(0));
        wr(&mut rtc, REG_MINUTES_ALARM, 0x00, Tick(0));
        wr(&mut rtc, REG_HOURS_ALARM, 0x00, Tick(0));
        wr(&mut rtc, REG_B, REG_B_AIE | REG_B_24_12, Tick(0));
        assert_eq!(rtc.next_deadline(Tick(0)), Some(secs(5)));
        rtc.sync(Tick(secs(5).0 - 1));
        assert!(!rtc.irq_level());
        rtc.sync(secs(5));
        assert!(rtc.irq_level());
        assert_eq!(rd(&mut rtc, REG_C, secs(5)) & (REG_C_IRQF | REG_C_AF), REG_C_IRQF | REG_C_AF);
        assert_eq!(rtc.next_deadline(secs(5)), Some(secs(5 + 86_400)), "the same time tomorrow");
        // Skipping over the alarm time in one step still sets AF.
        let mut rtc2 = rtc.clone();
        rtc2.sync(secs(5 + 86_400 + 100));
        assert!(rtc2.irq_level());
    }

    #[test]
    fn alarm_dont_care_values() {
        let mut rtc = RtcCmos::new(Y2K);
        for reg in [REG_SECONDS_ALARM, REG_MINUTES_ALARM, REG_HOURS_ALARM] {
            wr(&mut rtc, reg, 0xC0, Tick(0));
        }
        wr(&mut rtc, REG_B, REG_B_AIE | REG_B_24_12, Tick(0));
        assert_eq!(rtc.next_deadline(Tick(0)), Some(secs(1)), "every second");
        // Once an hour, at minute 2 second 30: hours don't care.
        wr(&mut rtc, REG_SECONDS_ALARM, 0x30, Tick(0));
        wr(&mut rtc, REG_MINUTES_ALARM, 0x02, Tick(0));
        wr(&mut rtc, REG_HOURS_ALARM, 0xFF, Tick(0));
        assert_eq!(rtc.next_deadline(Tick(0)), Some(secs(150)));
        rtc.sync(secs(150));
        rd(&mut rtc, REG_C, secs(150));
        assert_eq!(rtc.next_deadline(secs(150)), Some(secs(150 + 3600)));
        // An alarm byte no time ever has never fires.
        wr(&mut rtc, REG_SECONDS_ALARM, 0x61, secs(150));
        assert_eq!(rtc.next_deadline(secs(150)), None);
    }

    #[test]
    fn alarm_in_12_hour_mode_compares_bytes() {
        let mut rtc = RtcCmos::new(Y2K); // 00:00:00 = 12 AM
        wr(&mut rtc, REG_B, REG_B_SET, Tick(0));
        wr(&mut rtc, REG_HOURS, 0x12, Tick(0));
        wr(&mut rtc, REG_HOURS_ALARM, HOURS_PM | 0x01, Tick(0)); // 1 PM
        wr(&mut rtc, REG_MINUTES_ALARM, 0x00, Tick(0));
        wr(&mut rtc, REG_SECONDS_ALARM, 0x00, Tick(0));
        wr(&mut rtc, REG_B, REG_B_AIE, Tick(0));
        assert_eq!(rtc.next_deadline(Tick(0)), Some(secs(13 * 3600)));
    }

    #[test]
    fn set_bit_clears_uie_and_freezes_time() {
        let mut rtc = RtcCmos::new(Y2K);
        wr(&mut rtc, REG_B, REG_B_UIE | REG_B_24_12, Tick(0));
        wr(&mut rtc, REG_B, REG_B_SET | REG_B_UIE | REG_B_24_12, Tick(0));
        assert_eq!(rd(&mut rtc, REG_B, Tick(0)), REG_B_SET | REG_B_24_12);
        assert_eq!(rd(&mut rtc, REG_SECONDS, secs(10)), 0x00);
        assert_eq!(rd(&mut rtc, REG_C, secs(10)) & REG_C_UF, 0, "no update cycles under SET");
    }

    #[test]
    fn divider_reset_delays_the_first_update_by_half_a_second() {
        let mut rtc = RtcCmos::new(Y2K);
        wr(&mut rtc, REG_A, 0x70 | 0x06, Tick::from_millis(300)); // DV = 111: reset
        assert_eq!(rd(&mut rtc, REG_SECONDS, secs(5)), 0x00, "the divider is held");
        assert_eq!(rd(&mut rtc, REG_A, secs(5)) & REG_A_UIP, 0);
        wr(&mut rtc, REG_A, 0x26, secs(5));
        assert_eq!(rd(&mut rtc, REG_SECONDS, Tick::from_millis(5499)), 0x00);
        assert_eq!(rd(&mut rtc, REG_SECONDS, Tick::from_millis(5500)), 0x01);
        assert_eq!(rd(&mut rtc, REG_SECONDS, Tick::from_millis(6500)), 0x02);
        // Another DV value stops the divider without resetting it: 0.25 s into a second at the
        // stop, so the next update comes 0.75 s after the restart.
        wr(&mut rtc, REG_A, 0x06, Tick::from_millis(6750));
        wr(&mut rtc, REG_A, 0x26, secs(100));
        assert_eq!(rd(&mut rtc, REG_SECONDS, Tick::from_millis(100_749)), 0x02);
        assert_eq!(rd(&mut rtc, REG_SECONDS, Tick::from_millis(100_750)), 0x03);
    }

    #[test]
    fn invalid_time_values_are_clamped_at_the_next_update() {
        let mut rtc = RtcCmos::new(Y2K);
        wr(&mut rtc, REG_SECONDS, 0x7F, Tick(0));
        wr(&mut rtc, REG_DAY_OF_MONTH, 0x45, Tick(0));
        wr(&mut rtc, REG_DAY_OF_WEEK, 0x00, Tick(0));
        assert_eq!(rd(&mut rtc, REG_SECONDS, Tick(1)), 0x7F, "kept until an update");
        let r = regs(&mut rtc, secs(1));
        assert_eq!(r[5], 0x00, "59 rolls over");
        assert_eq!(r[4], 0x01);
        assert_eq!(r[2], 0x31);
        assert_eq!(r[6], 0x01);
    }

    #[test]
    fn index_port_and_nmi_mask() {
        let mut rtc = RtcCmos::new(Y2K);
        rtc.write(RTC_INDEX, NMI_DISABLE | 0x0F, Tick(0));
        assert!(rtc.nmi_masked);
        assert_eq!(rtc.index, 0x0F);
        rtc.write(RTC_DATA, 0x0A, Tick(0));
        assert_eq!(rtc.nvram(CMOS_SHUTDOWN_STATUS), 0x0A);
        rtc.write(RTC_INDEX, 0x0F, Tick(0));
        assert!(!rtc.nmi_masked);
        assert_eq!(rtc.read(RTC_INDEX, Tick(0)), 0xFF);
        rtc.write(RTC_INDEX, 0x7F, Tick(0));
        rtc.write(RTC_DATA, 0x5A, Tick(0));
        assert_eq!(rtc.nvram(0x7F), 0x5A);
        rtc.set_nvram(0xFF, 0xA5);
        assert_eq!(rtc.nvram(0x7F), 0xA5, "indices wrap at 128");
        assert_eq!(rtc.read(0x72, Tick(0)), 0xFF);
    }

    #[test]
    fn fill_pc_cmos_and_checksum() {
        let mut rtc = RtcCmos::new(Y2K);
        rtc.fill_pc_cmos(&CmosConfig {
            ram_bytes: 64 << 20,
            floppies: [FloppyType::Mb1_44, FloppyType::None],
            hard_disks: [true, false],
            hard_disk_geometry: [Some(Chs::new(2048, 16, 63)), None, None, None],
            fpu: true,
        });
        assert_eq!(rtc.nvram(CMOS_FLOPPY_TYPES), 0x40);
        assert_eq!(rtc.nvram(CMOS_HARD_DISK_TYPES), 0xF0);
        assert_eq!(rtc.nvram(CMOS_DISK0_EXTENDED_TYPE), 47);
        assert_eq!(rtc.nvram(CMOS_DISK1_EXTENDED_TYPE), 0);
        assert_eq!(rtc.nvram(CMOS_EQUIPMENT), 0x03);
        assert_eq!((rtc.nvram(0x15), rtc.nvram(0x16)), (0x80, 0x02), "640 KB");
        assert_eq!((rtc.nvram(0x17), rtc.nvram(0x18)), (0x00, 0xFC), "63 MB = 64512 KB");
        assert_eq!((rtc.nvram(0x30), rtc.nvram(0x31)), (0x00, 0xFC));
        assert_eq!((rtc.nvram(0x34), rtc.nvram(0x35)), (0x00, 0x03), "48 MB / 64 KB = 768");
        let disk0: Vec<u8> = (0x1B..=0x23).map(|i| rtc.nvram(i)).collect();
        assert_eq!(disk0, [0x00, 0x08, 16, 0xFF, 0xFF, 0xC8, 0x00, 0x08, 63], "type-47 parameters of disk 0");
        assert!((0x24..=0x2C).all(|i| rtc.nvram(i) == 0), "no disk 1");
        assert_eq!(rtc.nvram(CMOS_ATA_TRANSLATION), 0x01, "2048 cylinders: LBA translation");
        let sum: u16 = (0x10..=0x2D).map(|i| rtc.nvram(i) as u16).sum();
        assert_eq!(u16::from_be_bytes([rtc.nvram(0x2E), rtc.nvram(0x2F)]), sum);
        let params = 0x08 + 16 + 0xFF + 0xFF + 0xC8 + 0x08 + 63;
        assert_eq!(sum, 0x40 + 0xF0 + 47 + 0x03 + 0x80 + 0x02 + 0xFC + params);

        // Small and huge machines.
        rtc.fill_pc_cmos(&CmosConfig {
            ram_bytes: 512 << 10,
            floppies: [FloppyType::Mb1_2, FloppyType::Kb720],
            hard_disks: [false, true],
            hard_disk_geometry: [None, Some(Chs::new(4, 8, 63)), None, Some(Chs::new(16383, 16, 63))],
            fpu: false,
        });
        assert!((0x1B..=0x23).all(|i| rtc.nvram(i) == 0), "no disk 0");
        let disk1: Vec<u8> = (0x24..=0x2C).map(|i| rtc.nvram(i)).collect();
        assert_eq!(disk1, [4, 0, 8, 0xFF, 0xFF, 0xC0, 4, 0, 63], "type-47 parameters of disk 1");
        assert_eq!(rtc.nvram(CMOS_ATA_TRANSLATION), 0x40, "only the secondary slave needs LBA translation");
        assert_eq!(rtc.nvram(CMOS_EQUIPMENT), 0x41, "two floppies");
        assert_eq!(rtc.nvram(CMOS_FLOPPY_TYPES), 0x23);
        assert_eq!(rtc.nvram(CMOS_HARD_DISK_TYPES), 0x0F);
        assert_eq!((rtc.nvram(0x15), rtc.nvram(0x16)), (0x00, 0x02), "512 KB");
        assert_eq!((rtc.nvram(0x17), rtc.nvram(0x18)), (0, 0));
        rtc.fill_pc_cmos(&CmosConfig { ram_bytes: 8 << 30, ..Default::default() });
        assert_eq!((rtc.nvram(0x17), rtc.nvram(0x18)), (0xFF, 0xFF), "capped at 65535 KB");
        assert_eq!((rtc.nvram(0x34), rtc.nvram(0x35)), (0xFF, 0xFF), "capped");
        assert_eq!(rtc.nvram(CMOS_EQUIPMENT), 0x00);
        assert_eq!(u16::from_be_bytes([rtc.nvram(0x2E), rtc.nvram(0x2F)]), rtc.checksum());
    }

    #[test]
    fn time_never_goes_backwards() {
        let mut rtc = RtcCmos::new(Y2K);
        assert_eq!(rd(&mut rtc, REG_SECONDS, secs(3)), 0x03);
        assert_eq!(rd(&mut rtc, REG_SECONDS, secs(1)), 0x03);
    }

    #[test]
    fn any_access_sequence_never_panics() {
        let mut rtc = RtcCmos::new(Y2K);
        let mut x: u64 = 0xDEAD_BEEF_CAFE_F00D;
        let mut t = 0u64;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t += x % 2_000_000_000;
            let now = Tick(t);
            let v = (x >> 32) as u8;
            match (x >> 48) % 5 {
                0 => rtc.write(RTC_INDEX, v, now),
                1 => rtc.write(RTC_DATA, v, now),
                2 => {
                    rtc.read(RTC_DATA, now);
                }
                3 => {
                    if let Some(d) = rtc.next_deadline(now) {
                        assert!(d > now);
                    }
                }
                _ => {
                    rtc.date_time(now);
                }
            }
        }
        // A decade of guest time in one step.
        rtc.sync(Tick(t + 315_360_000_000_000_000));
    }
}
