//! Snapshots: the whole machine's state in one file, saved from a stopped machine and restored
//! into one built from the same settings.
//!
//! # The file format (format version 1)
//!
//! All integers are little-endian. The format version is independent of the crate version: it
//! changes only when the container changes; each section carries its own version, which changes
//! when that component's encoding changes.
//!
//! ```text
//! header   magic        8 bytes  "X86LSNAP"
//!          version      u32      FORMAT_VERSION (1); a newer version is refused
//!          flags        u32      0 (reserved)
//! section  name_len     u8       1..=16 (0 marks the end, see below)
//! (repeat) name         name_len ASCII bytes, e.g. "cpu", "ram", "pit"
//!          version      u16      the section's own version (see SECTIONS)
//!          codec        u8       0 = stored as is, 1 = zstd
//!          crc32        u32      CRC-32 (IEEE) of the stored payload
//!          stored_len   u64      bytes of payload that follow (checked against the file size)
//!          raw_len      u64      bytes after decompression (checked against what the section
//!                                may hold before anything is allocated)
//!          payload      stored_len bytes
//! end      name_len     u8       0
//!          file_crc32   u32      CRC-32 of every byte of the file before this field
//! ```
//!
//! Nothing may follow the end marker. A section's payload, once decompressed, is the component's
//! state encoded with [postcard](https://docs.rs/postcard) (serde's compact varint format); the
//! state structs derive `serde::{Serialize, Deserialize}` and hold guest-visible state only.
//! Host objects (files, output sinks, input channels) are never in a snapshot. The sections, in
//! file order:
//!
//! | section  | version | contents |
//! | -------- | ------- | -------- |
//! | settings | 1 | [`Settings`]: description, creation time, instruction count, RAM size, BIOS CRC, ips |
//! | cpu      | 1 | [`CpuState`]: registers, descriptor caches, control/debug registers, counters |
//! | ram      | 1 | guest RAM bytes, zstd-compressed (raw_len must equal the machine's RAM size) |
//! | pic, pit, rtc, kbc, port92, com1, com2, vga, dma | 1 | the device structs as they are |
//! | fdc      | 1 | the floppy controller's `FdcState` (not its disks) |
//! | ata      | 1 | both ATA channels' `AtaChannelState` (not their disks) |
//! | clock    | 1 | [`ClockState`]: virtual clock, device deadlines, chipset latches |
//! | disks    | 1 | [`DiskState`] per drive: size, CRC of the whole contents, and only the blocks that differ from the drive's base image (a VM folder's disk: base + overlay, `devices::overlay`) or, outside a VM folder, from the image as opened (the changed-block map), zstd-compressed |
//!
//! # Loading
//! Loading is two-phase: the whole file is read, every section's CRC and the file CRC are
//! checked, every section is decoded and checked against the target machine (RAM size, BIOS,
//! which drives exist, their sizes, and that the disk contents rebuilt from the image plus the
//! stored blocks give the CRC recorded at save time) — and only then is the machine changed.
//! A refused file leaves the machine as it was. After loading, a component rebuilds only its
//! derived state (the CPU's decode cache, TLB and breakpoint masks; the bus's INTR line from the
//! PIC); no interrupt line is touched, so nothing is raised by a restore.
//!
//! # Saving
//! The file is written to a temporary file in the same folder, fsynced, renamed over the
//! destination and the folder fsynced, so a crash mid-save leaves the old snapshot intact.

pub mod replay;

use crate::cpu::{Cr0, Cr4, Flags, SegAttr, Segment, TableReg};
use crate::devices::disk::{BLOCK_SIZE, Disk};
use crate::machine::clock::{Clock, Scheduler};
use crate::machine::{Machine, MachineConfig};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's first 8 bytes.
pub const MAGIC: [u8; 8] = *b"X86LSNAP";
/// The container's version.
pub const FORMAT_VERSION: u32 = 1;
/// Section names, in file order, with the version this build writes and reads.
pub const SECTIONS: [(&str, u16); 16] = [
    ("settings", 1),
    ("cpu", 1),
    ("ram", 1),
    ("pic", 1),
    ("pit", 1),
    ("rtc", 1),
    ("kbc", 1),
    ("port92", 1),
    ("com1", 1),
    ("com2", 1),
    ("vga", 1),
    ("dma", 1),
    ("fdc", 1),
    ("ata", 1),
    ("clock", 1),
    ("disks", 1),
];
const CODEC_RAW: u8 = 0;
const CODEC_ZSTD: u8 = 1;
/// zstd level: fast (RAM is mostly zeros or repetitive).
const ZSTD_LEVEL: i32 = 3;
/// The most a small (non-RAM, non-disk) section may hold decompressed.
const SMALL_SECTION_MAX: u64 = 16 << 20;
/// Drive slots in the `disks` section: fda, fdb, hda, hdb, hdc, hdd.
pub const DRIVE_NAMES: [&str; 6] = ["fda", "fdb", "hda", "hdb", "hdc", "hdd"];

/// Why a snapshot could not be saved or loaded: the file, the section (when one is at fault)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError {
    pub path: PathBuf,
    pub section: Option<String>,
    pub message: String,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.section {
            Some(s) => write!(f, "snapshot {}: section '{s}': {}", self.path.display(), self.message),
            None => write!(f, "snapshot {}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// An error without the path yet (filled in by the public functions).
struct Bad(Option<String>, String);

fn bad(section: &str, msg: impl Into<String>) -> Bad {
    Bad(Some(section.to_string()), msg.into())
}
fn bad_file(msg: impl Into<String>) -> Bad {
    Bad(None, msg.into())
}
impl Bad {
    fn at(self, path: &Path) -> SnapshotError {
        SnapshotError { path: path.to_path_buf(), section: self.0, message: self.1 }
    }
}

/// What a snapshot says about itself (the `settings` section).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// A one-line description given when saving.
    pub description: String,
    /// When it was saved, seconds since the Unix epoch (host time; informational only).
    pub created_unix: u64,
    /// The CPU's instruction count at the snapshot.
    pub icount: u64,
    /// Guest RAM in bytes.
    pub ram_bytes: u64,
    /// CRC-32 of the BIOS image the machine ran.
    pub bios_crc: u32,
    /// Nominal instructions per second (virtual time).
    pub ips: u64,
    /// The x86lab version that wrote it (informational).
    pub writer: String,
}

/// The CPU's architectural state (the decode cache, TLB and breakpoint masks are derived).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuState {
    pub gpr: [u32; 8],
    pub eip: u32,
    pub eflags: u32,
    /// selector, base, limit, access rights for ES, CS, SS, DS, FS, GS, LDTR, TR.
    pub seg: [(u16, u32, u32, u16); 8],
    /// GDTR and IDTR: base, limit.
    pub gdtr: (u32, u16),
    pub idtr: (u32, u16),
    pub cr0: u32,
    pub cr2: u32,
    pub cr3: u32,
    pub cr4: u32,
    pub dr: [u32; 8],
    pub cpl: u8,
    pub halted: bool,
    pub shutdown: bool,
    pub inhibit_irq: bool,
    pub a20_mask: u32,
    pub icount: u64,
    pub tsc_offset: u64,
    pub sysenter: [u32; 3],
    pub pdpte: [u64; 4],
    pub pending_db: u32,
    pub interrupt_counts: Vec<u64>,
    pub exception_counts: Vec<u64>,
}

/// Virtual time and the chipset's latches (the `clock` section).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockState {
    pub clock: Clock,
    pub sched: Scheduler,
    pub a20: bool,
    pub reset_requested: bool,
    pub a20_changed: bool,
    pub debugexit_status: Option<i32>,
    pub triple_faults: u64,
}

/// One drive in the `disks` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskState {
    /// Index into [`DRIVE_NAMES`].
    pub slot: u8,
    /// Image size in bytes.
    pub size: u64,
    /// CRC-32 of the whole disk contents at the snapshot.
    pub crc: u32,
    /// Changed block numbers, increasing.
    pub blocks: Vec<u64>,
    /// Their contents, [`BLOCK_SIZE`] bytes each.
    pub data: Vec<u8>,
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("in-memory encoding of plain data cannot fail")
}

fn cpu_state(m: &Machine) -> CpuState {
    let c = &m.cpu;
    let s = |x: &Segment| (x.selector, x.base, x.limit, x.attr.bits());
    let mut seg = [(0, 0, 0, 0); 8];
    for (i, x) in c.seg.iter().enumerate() {
        seg[i] = s(x);
    }
    seg[6] = s(&c.ldtr);
    seg[7] = s(&c.tr);
    CpuState {
        gpr: c.gpr,
        eip: c.eip,
        eflags: c.flags.eflags(),
        seg,
        gdtr: (c.gdtr.base, c.gdtr.limit),
        idtr: (c.idtr.base, c.idtr.limit),
        cr0: c.cr0.bits(),
        cr2: c.cr2,
        cr3: c.cr3,
        cr4: c.cr4.bits(),
        dr: c.dr,
        cpl: c.cpl,
        halted: c.halted,
        shutdown: c.shutdown,
        inhibit_irq: c.inhibit_irq,
        a20_mask: c.a20_mask,
        icount: c.icount,
        tsc_offset: c.tsc_offset,
        sysenter: c.sysenter,
        pdpte: c.pdpte,
        pending_db: c.pending_db,
        interrupt_counts: c.interrupt_counts.to_vec(),
        exception_counts: c.exception_counts.to_vec(),
    }
}

/// The drives of a machine, by slot.
fn drives(m: &Machine) -> [Option<&Disk>; 6] {
    let b = &m.bus;
    [b.fdc.disk(0), b.fdc.disk(1), b.ata[0].disk(0), b.ata[0].disk(1), b.ata[1].disk(0), b.ata[1].disk(1)]
}

fn disk_state(slot: usize, d: &Disk) -> DiskState {
    let blocks: Vec<u64> = d.changed_blocks().collect();
    let mut data = Vec::with_capacity(blocks.len() * BLOCK_SIZE);
    for &b in &blocks {
        data.extend_from_slice(d.block(b).expect("a changed block lies in the image"));
    }
    DiskState { slot: slot as u8, size: d.len_bytes(), crc: crc32fast::hash(d.bytes()), blocks, data }
}

/// Every section's payload before compression, in file order (settings first).
fn sections(m: &Machine, settings: &Settings) -> Vec<(&'static str, u16, u8, Vec<u8>)> {
    let b = &m.bus;
    let disks: Vec<DiskState> = drives(m).iter().enumerate().filter_map(|(i, d)| d.map(|d| disk_state(i, d))).collect();
    let clock = ClockState {
        clock: b.clock.clone(),
        sched: b.sched.clone(),
        a20: b.a20,
        reset_requested: b.reset_requested,
        a20_changed: b.a20_changed(),
        debugexit_status: b.debugexit.status,
        triple_faults: m.triple_faults,
    };
    let ata = [b.ata[0].state.clone(), b.ata[1].state.clone()];
    let payloads: [(u8, Vec<u8>); 16] = [
        (CODEC_RAW, encode(settings)),
        (CODEC_RAW, encode(&cpu_state(m))),
        (CODEC_ZSTD, b.mem.ram.clone()),
        (CODEC_RAW, encode(&b.pic)),
        (CODEC_RAW, encode(&b.pit)),
        (CODEC_RAW, encode(&b.rtc)),
        (CODEC_RAW, encode(&b.kbc)),
        (CODEC_RAW, encode(&b.port92)),
        (CODEC_RAW, encode(&b.com1)),
        (CODEC_RAW, encode(&b.com2)),
        (CODEC_ZSTD, encode(&b.vga)),
        (CODEC_RAW, encode(&b.dma)),
        (CODEC_RAW, encode(&b.fdc.state)),
        (CODEC_RAW, encode(&ata)),
        (CODEC_RAW, encode(&clock)),
        (CODEC_ZSTD, encode(&disks)),
    ];
    SECTIONS.iter().zip(payloads).map(|(&(name, ver), (codec, raw))| (name, ver, codec, raw)).collect()
}

/// A digest of the whole machine state (every section but `settings`) and the serial and
/// debug-console output so far: two machines with equal digests will run identically.
/// For determinism tests.
pub fn state_digest(m: &Machine) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    guest_digest(m).hash(&mut h);
    m.bus.serial_out.captured.hash(&mut h);
    m.bus.debugcon.captured.hash(&mut h);
    h.finish()
}

/// A digest of the guest's state only (every section but `settings`: CPU, RAM, devices, time,
/// disks), without the output the host has seen.
pub fn guest_digest(m: &Machine) -> u64 {
    use std::hash::{Hash, Hasher};
    let settings = settings_of(m, "");
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (name, _, _, raw) in sections(m, &settings).into_iter().skip(1) {
        name.hash(&mut h);
        raw.hash(&mut h);
    }
    h.finish()
}

fn settings_of(m: &Machine, description: &str) -> Settings {
    Settings {
        description: description.lines().next().unwrap_or("").to_string(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        icount: m.cpu.icount,
        ram_bytes: m.bus.mem.ram.len() as u64,
        bios_crc: crc32fast::hash(m.bus.mem.rom()),
        ips: m.bus.clock.ips,
        writer: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Encodes the machine's state as a snapshot file's bytes.
pub fn to_bytes(m: &Machine, description: &str) -> Vec<u8> {
    to_bytes_level(m, description, ZSTD_LEVEL)
}

/// [`to_bytes`] with another zstd level (1 is fastest: the debugger's in-memory checkpoints).
pub fn to_bytes_level(m: &Machine, description: &str, level: i32) -> Vec<u8> {
    let settings = settings_of(m, description);
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for (name, ver, codec, raw) in sections(m, &settings) {
        let stored = if codec == CODEC_ZSTD {
            zstd::bulk::compress(&raw, level).expect("zstd compression of a buffer cannot fail")
        } else {
            raw.clone()
        };
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&ver.to_le_bytes());
        out.push(codec);
        out.extend_from_slice(&crc32fast::hash(&stored).to_le_bytes());
        out.extend_from_slice(&(stored.len() as u64).to_le_bytes());
        out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
        out.extend_from_slice(&stored);
    }
    out.push(0);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Saves a stopped machine's state to `path`: written to a temporary file in the same folder,
/// fsynced, then renamed over `path`, so a crash leaves the old file as it was.
/// Returns the file's size.
pub fn save(m: &Machine, path: &Path, description: &str) -> Result<u64, SnapshotError> {
    let bytes = to_bytes(m, description);
    let io = |what: &str, e: std::io::Error| bad_file(format!("{what}: {e}")).at(path);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        fault_injection(&mut f, &bytes, &tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("cannot write", e)
    })?;
    Ok(bytes.len() as u64)
}

/// Crash tests (`tests/snapshot.rs`): `X86LAB_SNAPSHOT_FAULT=mid-write` writes half the file to
/// the temporary file, says so on stderr and waits to be killed; `before-rename` writes it all
/// and aborts the process before the rename. Unset, nothing happens.
fn fault_injection(f: &mut std::fs::File, bytes: &[u8], tmp: &Path) -> std::io::Result<()> {
    match std::env::var("X86LAB_SNAPSHOT_FAULT").as_deref() {
        Ok("mid-write") => {
            f.write_all(&bytes[..bytes.len() / 2])?;
            f.sync_all()?;
            eprintln!("x86lab: X86LAB_SNAPSHOT_FAULT=mid-write: {} half written; waiting to be killed", tmp.display());
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        Ok("before-rename") => {
            f.write_all(bytes)?;
            f.sync_all()?;
            eprintln!("x86lab: X86LAB_SNAPSHOT_FAULT=before-rename: aborting before the rename");
            std::process::abort();
        }
        _ => Ok(()),
    }
}

/// A section found in a file, checked against its CRC.
struct RawSection<'a> {
    name: String,
    version: u16,
    codec: u8,
    raw_len: u64,
    payload: &'a [u8],
}

/// Reads the container: header, sections (each CRC-checked), end marker and file CRC.
fn parse(bytes: &[u8]) -> Result<Vec<RawSection<'_>>, Bad> {
    if bytes.len() < 16 || bytes[..8] != MAGIC {
        return Err(bad_file("not an x86lab snapshot (wrong magic number)"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    if version > FORMAT_VERSION {
        return Err(bad_file(format!(
            "format version {version} is newer than this x86lab reads ({FORMAT_VERSION}); use a newer x86lab"
        )));
    }
    if version == 0 {
        return Err(bad_file("format version 0 is not a valid version"));
    }
    let mut pos = 16usize;
    let mut out = Vec::new();
    let mut last = String::from("(header)");
    loop {
        let truncated = |last: &str| bad_file(format!("the file is truncated after section '{last}'"));
        let &name_len = bytes.get(pos).ok_or_else(|| truncated(&last))?;
        pos += 1;
        if name_len == 0 {
            let crc_bytes = bytes.get(pos..pos + 4).ok_or_else(|| truncated(&last))?;
            let want = u32::from_le_bytes(crc_bytes.try_into().unwrap());
            if crc32fast::hash(&bytes[..pos]) != want {
                return Err(bad_file("the file checksum does not match (the file is corrupted)"));
            }
            if bytes.len() != pos + 4 {
                return Err(bad_file(format!("{} unexpected bytes after the end marker", bytes.len() - pos - 4)));
            }
            return Ok(out);
        }
        if name_len > 16 {
            return Err(bad_file(format!("corrupted section header after section '{last}'")));
        }
        let head = bytes.get(pos..pos + name_len as usize + 23).ok_or_else(|| truncated(&last))?;
        let name = std::str::from_utf8(&head[..name_len as usize])
            .map_err(|_| bad_file(format!("corrupted section name after section '{last}'")))?
            .to_string();
        let h = &head[name_len as usize..];
        let version = u16::from_le_bytes([h[0], h[1]]);
        let codec = h[2];
        let crc = u32::from_le_bytes(h[3..7].try_into().unwrap());
        let stored_len = u64::from_le_bytes(h[7..15].try_into().unwrap());
        let raw_len = u64::from_le_bytes(h[15..23].try_into().unwrap());
        pos += name_len as usize + 23;
        let left = (bytes.len() - pos) as u64;
        if stored_len > left {
            return Err(bad(&name, format!("says it holds {stored_len} bytes but only {left} remain: truncated")));
        }
        let payload = &bytes[pos..pos + stored_len as usize];
        pos += stored_len as usize;
        if crc32fast::hash(payload) != crc {
            return Err(bad(&name, "checksum mismatch: the section is corrupted"));
        }
        if codec > CODEC_ZSTD {
            return Err(bad(&name, format!("unknown compression {codec}")));
        }
        last = name.clone();
        out.push(RawSection { name, version, codec, raw_len, payload });
    }
}

/// Everything decoded and validated, ready to apply.
struct Decoded {
    settings: Settings,
    cpu: CpuState,
    ram: Vec<u8>,
    pic: crate::devices::pic8259::PicPair,
    pit: crate::devices::pit8254::Pit8254,
    rtc: crate::devices::rtc_cmos::RtcCmos,
    kbc: crate::devices::kbc8042::Kbc8042,
    port92: crate::devices::port92::Port92,
    com1: crate::devices::uart16550::Uart16550,
    com2: crate::devices::uart16550::Uart16550,
    vga: crate::devices::vga::Vga,
    dma: crate::devices::dma8237::Dma8237,
    fdc: crate::devices::fdc82077::FdcState,
    ata: [crate::devices::ata::AtaChannelState; 2],
    clock: ClockState,
    disks: Vec<DiskState>,
}

/// Decodes every section and checks it against the machine `m` (nothing in `m` changes).
fn decode(bytes: &[u8], m: &Machine) -> Result<Decoded, Bad> {
    let raw = parse(bytes)?;
    let ram_bytes = m.bus.mem.ram.len() as u64;
    let disk_max: u64 = drives(m).iter().flatten().map(|d| d.len_bytes() + d.sectors() * 10 + 64).sum::<u64>() + 64;
    let mut payloads: Vec<Vec<u8>> = Vec::with_capacity(SECTIONS.len());
    for (i, &(name, ver)) in SECTIONS.iter().enumerate() {
        let Some(s) = raw.get(i) else {
            let after = raw.last().map_or("(header)".to_string(), |s| s.name.clone());
            return Err(bad(name, format!("missing (the file ends after section '{after}')")));
        };
        if s.name != name {
            return Err(bad(name, format!("expected here, found section '{}'", s.name)));
        }
        if s.version > ver {
            return Err(bad(
                name,
                format!("version {} is newer than this x86lab reads ({ver}); use a newer x86lab", s.version),
            ));
        }
        let max = match name {
            "ram" => ram_bytes,
            "disks" => disk_max,
            _ => SMALL_SECTION_MAX,
        };
        if name == "ram" && s.raw_len != ram_bytes {
            return Err(bad(
                name,
                format!(
                    "the snapshot has {} MiB of RAM, this machine {} MiB (give --memory {})",
                    s.raw_len >> 20,
                    ram_bytes >> 20,
                    s.raw_len >> 20
                ),
            ));
        }
        if s.raw_len > max {
            return Err(bad(name, format!("holds {} bytes, more than this machine allows ({max})", s.raw_len)));
        }
        let data = if s.codec == CODEC_ZSTD {
            let d = zstd::bulk::decompress(s.payload, s.raw_len as usize)
                .map_err(|e| bad(name, format!("cannot decompress: {e}")))?;
            if d.len() as u64 != s.raw_len {
                return Err(bad(name, format!("decompresses to {} bytes, not {}", d.len(), s.raw_len)));
            }
            d
        } else {
            if s.payload.len() as u64 != s.raw_len {
                return Err(bad(name, "stored and raw lengths differ for an uncompressed section"));
            }
            s.payload.to_vec()
        };
        payloads.push(data);
    }
    if raw.len() > SECTIONS.len() {
        return Err(bad(&raw[SECTIONS.len()].name, "unknown section"));
    }
    fn de<T: for<'de> Deserialize<'de>>(name: &str, data: &[u8]) -> Result<T, Bad> {
        let (v, rest) = postcard::take_from_bytes(data).map_err(|e| bad(name, format!("cannot decode: {e}")))?;
        if !rest.is_empty() {
            return Err(bad(name, format!("{} bytes left over after decoding", rest.len())));
        }
        Ok(v)
    }
    let mut p = payloads.into_iter();
    let mut next = || p.next().expect("one payload per section");
    let settings: Settings = de("settings", &next())?;
    let cpu: CpuState = de("cpu", &next())?;
    let ram = next();
    let d = Decoded {
        settings,
        cpu,
        ram,
        pic: de("pic", &next())?,
        pit: de("pit", &next())?,
        rtc: de("rtc", &next())?,
        kbc: de("kbc", &next())?,
        port92: de("port92", &next())?,
        com1: de("com1", &next())?,
        com2: de("com2", &next())?,
        vga: de("vga", &next())?,
        dma: de("dma", &next())?,
        fdc: de("fdc", &next())?,
        ata: de("ata", &next())?,
        clock: de("clock", &next())?,
        disks: de("disks", &next())?,
    };
    validate(&d, m)?;
    Ok(d)
}

/// Checks a decoded snapshot against the machine it is to be loaded into.
fn validate(d: &Decoded, m: &Machine) -> Result<(), Bad> {
    if d.settings.ram_bytes != m.bus.mem.ram.len() as u64 {
        return Err(bad("settings", "the RAM size differs from this machine's"));
    }
    let bios_crc = crc32fast::hash(m.bus.mem.rom());
    if d.settings.bios_crc != bios_crc {
        return Err(bad(
            "settings",
            format!(
                "the snapshot was taken with another BIOS (CRC {:08x}, this machine's is {bios_crc:08x})",
                d.settings.bios_crc
            ),
        ));
    }
    if d.cpu.interrupt_counts.len() != 256 || d.cpu.exception_counts.len() != 32 {
        return Err(bad("cpu", "interrupt or exception counters have the wrong length"));
    }
    if d.cpu.icount != d.settings.icount {
        return Err(bad("cpu", "the instruction count disagrees with the settings section"));
    }
    if d.clock.clock.ips == 0 {
        return Err(bad("clock", "zero instructions per second"));
    }
    if d.vga.mem.cells.len() != m.bus.vga.mem.cells.len() {
        return Err(bad("vga", "video memory has the wrong size"));
    }
    // Indices a device trusts: out of range, a later guest access would panic.
    for (have, c) in m.bus.ata.iter().zip(&d.ata) {
        if c.selected > 1 {
            return Err(bad("ata", "selected drive out of range"));
        }
        for (h, dr) in have.state.drives.iter().zip(&c.drives) {
            if dr.buffer.len() != h.buffer.len() || dr.buf_pos > dr.buffer.len() || dr.buf_len > dr.buffer.len() {
                return Err(bad("ata", "sector buffer size or position out of range"));
            }
        }
    }
    let f = &d.fdc;
    if f.cmd_len > f.cmd.len()
        || f.result_len > f.result.len()
        || f.result_pos > f.result_len
        || f.transfer.as_ref().is_some_and(|t| t.pos > t.buf.len() || t.len > t.buf.len())
    {
        return Err(bad("fdc", "command, result or transfer position out of range"));
    }
    let have = drives(m);
    let mut seen = [false; 6];
    let mut prev_slot: Option<u8> = None;
    for ds in &d.disks {
        let slot = ds.slot as usize;
        let name = DRIVE_NAMES.get(slot).ok_or_else(|| bad("disks", format!("drive slot {slot} does not exist")))?;
        if prev_slot.is_some_and(|p| p >= ds.slot) {
            return Err(bad("disks", "drives are out of order or repeated"));
        }
        prev_slot = Some(ds.slot);
        seen[slot] = true;
        let Some(disk) = have[slot] else {
            return Err(bad("disks", format!("the snapshot has a disk in {name}, this machine has none")));
        };
        if disk.len_bytes() != ds.size {
            return Err(bad(
                "disks",
                format!(
                    "{name}: the snapshot's disk has {} bytes, this machine's {} (another disk)",
                    ds.size,
                    disk.len_bytes()
                ),
            ));
        }
        if ds.data.len() as u64 != ds.blocks.len() as u64 * BLOCK_SIZE as u64 {
            return Err(bad("disks", format!("{name}: block data does not match the block list")));
        }
        if ds.blocks.windows(2).any(|w| w[0] >= w[1]) || ds.blocks.last().is_some_and(|&b| b >= disk.sectors()) {
            return Err(bad("disks", format!("{name}: block numbers out of order or beyond the disk")));
        }
        // The contents the restore would give: this machine's disk with every block changed
        // since it was opened put back as it was, then the stored blocks put in.
        let mut h = crc32fast::Hasher::new();
        let bytes = disk.bytes();
        let stored: std::collections::HashMap<u64, usize> =
            ds.blocks.iter().enumerate().map(|(i, &b)| (b, i)).collect();
        let mut special: Vec<u64> = ds.blocks.iter().copied().chain(disk.changed_blocks()).collect();
        special.sort_unstable();
        special.dedup();
        let mut next_block = 0u64;
        for &b in &special {
            h.update(&bytes[(next_block as usize * BLOCK_SIZE)..(b as usize * BLOCK_SIZE)]);
            match stored.get(&b) {
                Some(&i) => h.update(&ds.data[i * BLOCK_SIZE..(i + 1) * BLOCK_SIZE]),
                None => h.update(disk.original_block(b).expect("a changed block lies in the disk")),
            }
            next_block = b + 1;
        }
        h.update(&bytes[next_block as usize * BLOCK_SIZE..]);
        if h.finalize() != ds.crc {
            return Err(bad(
                "disks",
                format!(
                    "{name}: the image {} is not the one the snapshot was taken with (or it changed since \
                     in blocks the snapshot does not hold)",
                    disk.path().map_or("(in memory)".to_string(), |p| p.display().to_string())
                ),
            ));
        }
    }
    for (i, h) in have.iter().enumerate() {
        if h.is_some() && !seen[i] {
            return Err(bad("disks", format!("this machine has a disk in {}, the snapshot has none", DRIVE_NAMES[i])));
        }
    }
    Ok(())
}

/// Applies a validated snapshot: cannot fail.
fn apply(m: &mut Machine, d: Decoded) {
    let c = &mut m.cpu;
    let s = d.cpu;
    let seg = |x: (u16, u32, u32, u16)| Segment {
        selector: x.0,
        base: x.1,
        limit: x.2,
        attr: SegAttr::from_bits_retain(x.3),
    };
    c.gpr = s.gpr;
    c.eip = s.eip;
    c.next_eip = s.eip;
    c.flags = Flags::new(s.eflags);
    for (dst, src) in c.seg.iter_mut().zip(s.seg) {
        *dst = seg(src);
    }
    c.ldtr = seg(s.seg[6]);
    c.tr = seg(s.seg[7]);
    c.gdtr = TableReg { base: s.gdtr.0, limit: s.gdtr.1 };
    c.idtr = TableReg { base: s.idtr.0, limit: s.idtr.1 };
    c.cr0 = Cr0::from_bits_retain(s.cr0);
    c.cr2 = s.cr2;
    c.cr3 = s.cr3;
    c.cr4 = Cr4::from_bits_retain(s.cr4);
    c.dr = s.dr;
    c.cpl = s.cpl;
    c.halted = s.halted;
    c.shutdown = s.shutdown;
    c.inhibit_irq = s.inhibit_irq;
    c.a20_mask = s.a20_mask;
    c.icount = s.icount;
    c.tsc_offset = s.tsc_offset;
    c.sysenter = s.sysenter;
    c.pdpte = s.pdpte;
    c.pending_db = s.pending_db;
    c.interrupt_counts.copy_from_slice(&s.interrupt_counts);
    c.exception_counts.copy_from_slice(&s.exception_counts);
    c.last_fault = None;
    c.break_loop = false;
    // Derived state: rebuilt, never restored.
    c.update_breakpoints();
    c.cache.flush();
    c.tlb.flush_all();
    c.invalidate_cursor();

    let b = &mut m.bus;
    b.mem.ram.copy_from_slice(&d.ram);
    b.pic = d.pic;
    b.pit = d.pit;
    b.rtc = d.rtc;
    b.kbc = d.kbc;
    b.port92 = d.port92;
    b.com1 = d.com1;
    b.com2 = d.com2;
    b.vga = d.vga;
    b.dma = d.dma;
    b.fdc.state = d.fdc;
    let [a0, a1] = d.ata;
    b.ata[0].state = a0;
    b.ata[1].state = a1;
    b.clock = d.clock.clock;
    b.sched = d.clock.sched;
    b.a20 = d.clock.a20;
    b.reset_requested = d.clock.reset_requested;
    b.debugexit.status = d.clock.debugexit_status;
    b.rebuild_after_restore(s.icount, d.clock.a20_changed);
    m.triple_faults = d.clock.triple_faults;
    for ds in d.disks {
        let disk = match ds.slot {
            0 | 1 => m.bus.fdc.disk_mut(ds.slot as usize),
            n => m.bus.ata[(n as usize - 2) / 2].disk_mut((n as usize - 2) % 2),
        }
        .expect("validated: the drive exists");
        // Blocks changed after the snapshot was taken go back to what the image held.
        let later: Vec<u64> = disk.changed_blocks().filter(|b| ds.blocks.binary_search(b).is_err()).collect();
        for b in later {
            disk.revert_block(b);
        }
        for (i, &blk) in ds.blocks.iter().enumerate() {
            let data = &ds.data[i * BLOCK_SIZE..(i + 1) * BLOCK_SIZE];
            // Marked changed even when equal, so the next snapshot holds it too.
            disk.restore_block(blk, data).expect("validated: the block lies in the disk");
        }
    }
}

/// Reads a snapshot file whole, refusing one larger than any machine's snapshot could be.
fn read_file(path: &Path) -> Result<Vec<u8>, SnapshotError> {
    std::fs::read(path).map_err(|e| bad_file(format!("cannot read: {e}")).at(path))
}

/// Restores the snapshot at `path` into `m`, which must have been built with the same settings
/// (RAM size, BIOS, disks). Two-phase: the file is decoded and validated completely first; on
/// any error `m` is unchanged. Returns the snapshot's settings section.
pub fn restore_into(m: &mut Machine, path: &Path) -> Result<Settings, SnapshotError> {
    let bytes = read_file(path)?;
    restore_bytes(m, &bytes).map_err(|e| e.at(path))
}

/// [`restore_into`] from bytes already in memory (errors name the path "(memory)").
pub fn restore_from_bytes(m: &mut Machine, bytes: &[u8]) -> Result<Settings, SnapshotError> {
    restore_bytes(m, bytes).map_err(|e| e.at(Path::new("(memory)")))
}

fn restore_bytes(m: &mut Machine, bytes: &[u8]) -> Result<Settings, Bad> {
    let d = decode(bytes, m)?;
    let settings = d.settings.clone();
    apply(m, d);
    Ok(settings)
}

/// Builds a fresh machine from `config` and restores the snapshot at `path` into it.
pub fn load(path: &Path, config: MachineConfig) -> Result<Machine, SnapshotError> {
    let mut m = Machine::new(config).map_err(|e| bad_file(format!("cannot build the machine: {}", e.0)).at(path))?;
    restore_into(&mut m, path)?;
    Ok(m)
}

/// Reads only what `list` shows: the settings section, after checking the whole file.
pub fn info(path: &Path) -> Result<Settings, SnapshotError> {
    let bytes = read_file(path)?;
    let raw = parse(&bytes).map_err(|e| e.at(path))?;
    let s = raw.first().filter(|s| s.name == "settings").ok_or_else(|| bad("settings", "missing").at(path))?;
    if s.codec != CODEC_RAW {
        return Err(bad("settings", "unexpectedly compressed").at(path));
    }
    postcard::from_bytes(s.payload).map_err(|e| bad("settings", format!("cannot decode: {e}")).at(path))
}
