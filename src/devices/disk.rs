//! Disk images: the raw sector bytes behind the floppy controller ([`super::fdc82077`]) and the
//! ATA channels ([`super::ata`]), with the geometry arithmetic both need.
//!
//! # What is modelled
//! - A **raw image** (`dd` style: sector 0 at byte 0, no header), opened read-write or read-only.
//!   The whole image is read into memory when it is opened, so a sector access is a slice copy
//!   (a 1.44 MB floppy and a 64 MB disk open in milliseconds and never touch the file again until
//!   a flush). Images up to [`MAX_IMAGE_BYTES`] are accepted.
//! - **Write-back**: writes change the in-memory copy and mark the 512-byte block dirty;
//!   [`Disk::flush`] writes the dirty blocks back to the file (coalescing neighbours into one
//!   write) and syncs it. The ATA FLUSH CACHE commands call it; the machine must call it at exit
//!   (and [`Drop`] does it as a last resort, logging instead of failing).
//! - **A copy-on-write overlay** for a VM folder's disk ([`Disk::open_overlaid`],
//!   [`super::overlay`]): the image is a frozen base, the writes go to an overlay file beside it.
//! - **A changed-block map** for snapshots: which [`BLOCK_SIZE`] blocks changed since the image
//!   was opened (for a VM folder's disk: which differ from its base image), independent of flushing, so a snapshot can
//!   store only the blocks that differ from the image on disk ([`Disk::changed_blocks`],
//!   [`Disk::block`], [`Disk::restore_block`]).
//! - **Geometry**: the PC floppy formats by image size ([`FloppyType`], IBM PC/AT Technical
//!   Reference and the BIOS diskette parameter tables), the ATA default CHS geometry
//!   ([`Chs::ata_default`], ATA/ATAPI-6 IDENTIFY DEVICE words 1/3/6), and the two BIOS
//!   INT 13h translations ([`Translation`]): none ("normal", ≤ 1024 cylinders × 16 heads × 63
//!   sectors = 504 MiB) and LBA-assisted (Phoenix BIOS Enhanced Disk Drive Specification 1.1,
//!   heads 16/32/64/128/255 chosen by size).
//!
//! # Errors
//! Opening returns [`std::io::Error`] whose message names the path and what is wrong (missing,
//! unreadable, empty, not a multiple of 512 bytes, not a floppy size, too large). Sector access
//! returns [`DiskError`] (out of range, read-only): devices turn those into the status bits a
//! guest sees (ATA IDNF/ABRT, FDC ND/NW); nothing a guest does can make this module panic.
//!
//! # Not modelled
//! Image formats with headers (qcow2, VHD, VMDK, IMD, …), sparse images, overlays other than
//! x86lab's own ([`super::overlay`], used by VM folders), sector sizes other than 512 bytes, the "large"/ECHS BIOS translation, and host file locking.
//!
//! ```
//! use x86lab::devices::disk::{Disk, FloppyType};
//! let mut d = Disk::from_bytes(vec![0; 1_474_560], false).unwrap();
//! assert_eq!(d.floppy_type(), Some(FloppyType::F1_44M));
//! d.write_sectors(19, &[0xAA; 512]).unwrap();
//! let mut buf = [0; 512];
//! d.read_sectors(19, &mut buf).unwrap();
//! assert_eq!(buf[0], 0xAA);
//! assert_eq!(d.changed_blocks().collect::<Vec<_>>(), vec![19]);
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes per sector (the only sector size modelled).
pub const SECTOR_SIZE: usize = 512;
/// Granularity of the dirty and changed maps: one sector.
pub const BLOCK_SIZE: usize = SECTOR_SIZE;
/// The largest image this in-memory model opens (4 GiB).
pub const MAX_IMAGE_BYTES: u64 = 4 << 30;

/// Why a sector access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskError {
    /// The range lies (partly) beyond the end of the image.
    OutOfRange,
    /// The image was opened read-only.
    ReadOnly,
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskError::OutOfRange => f.write_str("sector out of range"),
            DiskError::ReadOnly => f.write_str("image is read-only"),
        }
    }
}

impl std::error::Error for DiskError {}

/// A bit per block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct BlockMap {
    bits: Vec<u64>,
}

impl BlockMap {
    fn new(blocks: u64) -> BlockMap {
        BlockMap { bits: vec![0; blocks.div_ceil(64) as usize] }
    }
    fn set_range(&mut self, first: u64, last: u64) {
        for b in first..=last {
            if let Some(w) = self.bits.get_mut((b / 64) as usize) {
                *w |= 1 << (b % 64);
            }
        }
    }
    fn get(&self, b: u64) -> bool {
        self.bits.get((b / 64) as usize).is_some_and(|w| w & (1 << (b % 64)) != 0)
    }
    fn clear(&mut self) {
        self.bits.iter_mut().for_each(|w| *w = 0);
    }
    fn unset(&mut self, b: u64) {
        if let Some(w) = self.bits.get_mut((b / 64) as usize) {
            *w &= !(1 << (b % 64));
        }
    }
    fn count(&self) -> u64 {
        self.bits.iter().map(|w| w.count_ones() as u64).sum()
    }
    fn any(&self) -> bool {
        self.bits.iter().any(|&w| w != 0)
    }
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits
            .iter()
            .enumerate()
            .flat_map(|(i, &w)| (0..64).filter(move |bit| w & (1u64 << bit) != 0).map(move |bit| i as u64 * 64 + bit))
    }
}

/// The contents of changed blocks before their first change (boxed: a disk stays small to move).
#[derive(Default)]
struct Originals(BTreeMap<u64, Box<[u8]>>);

/// A raw disk image held in memory, written back to its file on [`Disk::flush`].
///
/// Host state (the file handle) lives here, apart from the devices' guest-visible state, so a
/// device's state struct stays plain data for snapshots.
pub struct Disk {
    data: Vec<u8>,
    path: Option<PathBuf>,
    file: Option<File>,
    readonly: bool,
    /// Blocks changed since open (with an overlay: that differ from the base), for snapshots.
    changed: BlockMap,
    /// Blocks written since the last flush.
    unflushed: BlockMap,
    /// What each changed block held before its first change (so a snapshot restore can put
    /// back a block the snapshot does not hold because it changed only later).
    original: Box<Originals>,
    /// A VM folder's disk: the copy-on-write overlay that takes the writes, `path` being the
    /// base image (never written). See [`super::overlay`].
    overlay: Option<Box<super::overlay::Overlay>>,
}

impl fmt::Debug for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disk")
            .field("path", &self.path)
            .field("bytes", &self.data.len())
            .field("readonly", &self.readonly)
            .field("overlay", &self.overlay.as_ref().map(|o| o.path().to_path_buf()))
            .field("changed_blocks", &self.changed.count())
            .field("unflushed_blocks", &self.unflushed.count())
            .finish()
    }
}

/// An error that names the image.
fn path_error(path: &Path, kind: io::ErrorKind, what: impl fmt::Display) -> io::Error {
    io::Error::new(kind, format!("disk image {}: {what}", path.display()))
}

impl Disk {
    /// Opens a raw image of any size that is a non-zero multiple of 512 bytes (a hard disk).
    /// `readonly` opens the file for reading only; guest writes then fail with
    /// [`DiskError::ReadOnly`].
    pub fn open(path: impl AsRef<Path>, readonly: bool) -> io::Result<Disk> {
        let path = path.as_ref();
        let mut file = OpenOptions::new().read(true).write(!readonly).open(path).map_err(|e| {
            let what = match e.kind() {
                io::ErrorKind::NotFound => "no such file".to_string(),
                io::ErrorKind::PermissionDenied if !readonly => {
                    format!("cannot open for writing ({e}); add `readonly` to use it read-only")
                }
                _ => format!("cannot open: {e}"),
            };
            path_error(path, e.kind(), what)
        })?;
        let len = file.metadata().map_err(|e| path_error(path, e.kind(), format!("cannot stat: {e}")))?.len();
        check_size(len).map_err(|what| path_error(path, io::ErrorKind::InvalidData, what))?;
        let mut data = Vec::with_capacity(len as usize);
        file.read_to_end(&mut data).map_err(|e| path_error(path, e.kind(), format!("cannot read: {e}")))?;
        if data.len() as u64 != len {
            return Err(path_error(
                path,
                io::ErrorKind::UnexpectedEof,
                format!("read {} bytes, expected {len} (did the file change?)", data.len()),
            ));
        }
        let mut d = Disk::with_data(data, readonly);
        d.path = Some(path.to_path_buf());
        d.file = Some(file);
        Ok(d)
    }

    /// Opens a floppy image: its size must be one of the [`FloppyType`] sizes.
    pub fn open_floppy(path: impl AsRef<Path>, readonly: bool) -> io::Result<Disk> {
        let path = path.as_ref();
        let len = std::fs::metadata(path)
            .map_err(|e| {
                let what = if e.kind() == io::ErrorKind::NotFound { "no such file".into() } else { e.to_string() };
                path_error(path, e.kind(), what)
            })?
            .len();
        if FloppyType::from_size(len).is_none() {
            return Err(path_error(path, io::ErrorKind::InvalidData, floppy_size_message(len)));
        }
        Disk::open(path, readonly)
    }

    /// An image held only in memory (tests, scratch disks): flushing does nothing.
    /// The length must be a non-zero multiple of 512 bytes.
    pub fn from_bytes(data: Vec<u8>, readonly: bool) -> io::Result<Disk> {
        check_size(data.len() as u64)
            .map_err(|what| io::Error::new(io::ErrorKind::InvalidData, format!("in-memory disk image: {what}")))?;
        Ok(Disk::with_data(data, readonly))
    }

    fn with_data(data: Vec<u8>, readonly: bool) -> Disk {
        let blocks = (data.len() / BLOCK_SIZE) as u64;
        Disk {
            data,
            path: None,
            file: None,
            readonly,
            changed: BlockMap::new(blocks),
            unflushed: BlockMap::new(blocks),
            original: Box::default(),
            overlay: None,
        }
    }

    /// Opens a VM folder's disk: the base image at `base` (opened read-only, never written) with
    /// the copy-on-write overlay beside it ([`super::overlay::path_for`]) laid over it. A missing
    /// overlay is created empty (a folder made by an older x86lab, or never run), unless
    /// `readonly`, when the base alone is used. The blocks in the overlay count as changed
    /// ([`Disk::changed_blocks`]: they differ from the base), with the base's contents as
    /// their originals, so a snapshot stores them and nothing else.
    pub fn open_overlaid(base: impl AsRef<Path>, readonly: bool, floppy: bool) -> io::Result<Disk> {
        use super::overlay::{self, Overlay};
        let base = base.as_ref();
        let mut d = if floppy { Disk::open_floppy(base, true)? } else { Disk::open(base, true)? };
        let crc = crc32fast::hash(&d.data);
        let ov_path = overlay::path_for(base);
        if ov_path.exists() {
            let opened = Overlay::open(&ov_path, base, d.len_bytes(), crc, readonly)?;
            for (b, bytes) in opened.blocks {
                let r = d.range(b, BLOCK_SIZE).map_err(|_| {
                    path_error(&ov_path, io::ErrorKind::InvalidData, "a block beyond the disk".to_string())
                })?;
                let before: Box<[u8]> = d.data[r.clone()].into();
                d.original.0.insert(b, before);
                d.data[r].copy_from_slice(&bytes);
                d.changed.set_range(b, b);
            }
            d.overlay = Some(Box::new(opened.overlay));
        } else if !readonly {
            d.overlay = Some(Box::new(Overlay::create(&ov_path, d.len_bytes(), crc)?));
        }
        d.readonly = readonly;
        d.file = None;
        Ok(d)
    }

    /// The overlay file, for a VM folder's disk.
    pub fn overlay_path(&self) -> Option<&Path> {
        self.overlay.as_ref().map(|o| o.path())
    }

    /// The image file, if the disk has one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
    pub fn is_readonly(&self) -> bool {
        self.readonly
    }
    /// Image size in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.data.len() as u64
    }
    /// Image size in 512-byte sectors.
    pub fn sectors(&self) -> u64 {
        (self.data.len() / SECTOR_SIZE) as u64
    }
    /// The floppy format with exactly this image's size, if any.
    pub fn floppy_type(&self) -> Option<FloppyType> {
        FloppyType::from_size(self.len_bytes())
    }
    /// The whole image (read-only view).
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The byte range of `len` bytes at sector `lba`, if it lies inside the image.
    fn range(&self, lba: u64, len: usize) -> Result<std::ops::Range<usize>, DiskError> {
        let start = lba.checked_mul(SECTOR_SIZE as u64).ok_or(DiskError::OutOfRange)?;
        let end = start.checked_add(len as u64).ok_or(DiskError::OutOfRange)?;
        if end > self.data.len() as u64 {
            return Err(DiskError::OutOfRange);
        }
        Ok(start as usize..end as usize)
    }

    /// Reads `buf.len()` bytes starting at sector `lba` (normally whole sectors).
    pub fn read_sectors(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let r = self.range(lba, buf.len())?;
        buf.copy_from_slice(&self.data[r]);
        Ok(())
    }

    /// Writes `buf` starting at sector `lba`, marking the touched blocks dirty and changed.
    pub fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), DiskError> {
        let r = self.range(lba, buf.len())?;
        if self.readonly {
            return Err(DiskError::ReadOnly);
        }
        if buf.is_empty() {
            return Ok(());
        }
        let (first, last) = ((r.start / BLOCK_SIZE) as u64, ((r.end - 1) / BLOCK_SIZE) as u64);
        for b in first..=last {
            self.keep_original(b);
        }
        self.data[r].copy_from_slice(buf);
        self.changed.set_range(first, last);
        self.unflushed.set_range(first, last);
        Ok(())
    }

    /// True if some written block has not been flushed to the file yet.
    pub fn has_unflushed(&self) -> bool {
        self.unflushed.any()
    }

    /// Writes every dirty block back to the image file and syncs it. An in-memory disk (or a
    /// clean one) has nothing to do. On error the blocks stay dirty, so a later flush retries.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.unflushed.any() {
            return Ok(());
        }
        if let Some(ov) = self.overlay.as_mut() {
            // The overlay holds exactly the blocks that differ from the base (the changed map).
            let dirty: Vec<u64> = self.unflushed.iter().collect();
            let changed = &self.changed;
            ov.write_back(&self.data, &dirty, |b| changed.get(b))?;
            self.unflushed.clear();
            return Ok(());
        }
        let (Some(file), Some(path)) = (self.file.as_mut(), self.path.as_deref()) else {
            self.unflushed.clear();
            return Ok(());
        };
        let fail = |e: io::Error| path_error(path, e.kind(), format!("cannot write back: {e}"));
        // Coalesce runs of dirty blocks into one write each.
        let mut run: Option<(u64, u64)> = None;
        let blocks: Vec<u64> = self.unflushed.iter().collect();
        for b in blocks.into_iter().map(Some).chain(std::iter::once(None)) {
            match (run, b) {
                (Some((s, e)), Some(b)) if b == e + 1 => run = Some((s, b)),
                (prev, next) => {
                    if let Some((s, e)) = prev {
                        let start = s as usize * BLOCK_SIZE;
                        let end = ((e as usize + 1) * BLOCK_SIZE).min(self.data.len());
                        file.seek(SeekFrom::Start(start as u64)).map_err(fail)?;
                        file.write_all(&self.data[start..end]).map_err(fail)?;
                    }
                    run = next.map(|b| (b, b));
                }
            }
        }
        file.sync_data().map_err(fail)?;
        self.unflushed.clear();
        Ok(())
    }

    /// Block numbers (of [`BLOCK_SIZE`] bytes) changed since open (with an overlay: that differ
    /// from the base image), in increasing order.
    pub fn changed_blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.changed.iter()
    }
    /// How many blocks changed.
    pub fn changed_block_count(&self) -> u64 {
        self.changed.count()
    }
    /// True if block `n` changed.
    pub fn block_changed(&self, n: u64) -> bool {
        self.changed.get(n)
    }
    /// Before block `n` first changes: remembers what it held.
    fn keep_original(&mut self, n: u64) {
        if !self.changed.get(n)
            && let Some(b) = self.block(n)
        {
            let b: Box<[u8]> = b.into();
            self.original.0.insert(n, b);
        }
    }
    /// What block `n` held before it first changed (its contents now if it has not changed).
    pub fn original_block(&self, n: u64) -> Option<&[u8]> {
        match self.original.0.get(&n) {
            Some(b) if self.changed.get(n) => Some(b),
            _ => self.block(n),
        }
    }
    /// Puts back what a changed block held before its first change; it is then unchanged.
    pub fn revert_block(&mut self, n: u64) {
        if !self.changed.get(n) {
            return;
        }
        if let Some(orig) = self.original.0.remove(&n)
            && let Ok(r) = self.range(n, BLOCK_SIZE)
        {
            self.data[r].copy_from_slice(&orig);
            if !self.readonly {
                self.unflushed.set_range(n, n);
            }
        }
        self.changed.unset(n);
    }
    /// The bytes of block `n`, if it exists.
    pub fn block(&self, n: u64) -> Option<&[u8]> {
        let start = (n as usize).checked_mul(BLOCK_SIZE)?;
        self.data.get(start..start.checked_add(BLOCK_SIZE)?)
    }
    /// Puts back the contents of block `n` (loading a snapshot). Allowed on a read-only image,
    /// whose file is then never written: the block only changes in memory.
    pub fn restore_block(&mut self, n: u64, bytes: &[u8]) -> Result<(), DiskError> {
        if bytes.len() != BLOCK_SIZE {
            return Err(DiskError::OutOfRange);
        }
        let r = self.range(n, BLOCK_SIZE)?;
        self.keep_original(n);
        self.data[r].copy_from_slice(bytes);
        self.changed.set_range(n, n);
        if !self.readonly {
            self.unflushed.set_range(n, n);
        }
        Ok(())
    }
}

impl Drop for Disk {
    /// A last-resort write-back; the machine should call [`Disk::flush`] itself and report
    /// errors.
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            log::error!("{e}");
        }
    }
}

fn check_size(len: u64) -> Result<(), String> {
    if len == 0 {
        Err("the image is empty".into())
    } else if !len.is_multiple_of(SECTOR_SIZE as u64) {
        Err(format!("the image is {len} bytes, which is not a multiple of the 512-byte sector"))
    } else if len > MAX_IMAGE_BYTES {
        Err(format!(
            "the image is {len} bytes; this emulator keeps images in memory and takes at most {MAX_IMAGE_BYTES}"
        ))
    } else {
        Ok(())
    }
}

fn floppy_size_message(len: u64) -> String {
    let sizes: Vec<String> = FloppyType::ALL.iter().map(|t| format!("{} ({})", t.size_bytes(), t.name())).collect();
    format!("the image is {len} bytes; a floppy image must be one of {}", sizes.join(", "))
}

/// A cylinder/head/sector geometry. Sectors count from 1, cylinders and heads from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Chs {
    pub cylinders: u32,
    pub heads: u32,
    /// Sectors per track.
    pub sectors: u32,
}

impl Chs {
    pub const fn new(cylinders: u32, heads: u32, sectors: u32) -> Chs {
        Chs { cylinders, heads, sectors }
    }

    /// Sectors addressable through this geometry.
    pub const fn total_sectors(&self) -> u64 {
        self.cylinders as u64 * self.heads as u64 * self.sectors as u64
    }

    /// The LBA of cylinder `c`, head `h`, sector `s` (from 1), or `None` outside the geometry.
    pub fn to_lba(&self, c: u32, h: u32, s: u32) -> Option<u64> {
        if c >= self.cylinders || h >= self.heads || s == 0 || s > self.sectors {
            return None;
        }
        Some((c as u64 * self.heads as u64 + h as u64) * self.sectors as u64 + (s as u64 - 1))
    }

    /// `(cylinder, head, sector)` of an LBA, or `None` beyond the geometry.
    pub fn from_lba(&self, lba: u64) -> Option<(u32, u32, u32)> {
        if self.heads == 0 || self.sectors == 0 || lba >= self.total_sectors() {
            return None;
        }
        let per_cyl = self.heads as u64 * self.sectors as u64;
        let c = lba / per_cyl;
        let rem = lba % per_cyl;
        Some((c as u32, (rem / self.sectors as u64) as u32, (rem % self.sectors as u64) as u32 + 1))
    }

    /// The default geometry an ATA drive of `total` sectors reports in IDENTIFY DEVICE
    /// (the ATA/ATAPI-6 convention: 16 heads, 63 sectors per track, at most 16383 cylinders;
    /// a drive under 1008 sectors gets one cylinder).
    pub fn ata_default(total: u64) -> Chs {
        let cylinders = (total / (16 * 63)).clamp(1, 16383) as u32;
        Chs::new(cylinders, 16, 63)
    }

    /// The geometry an INT 13h BIOS presents for a disk of `total` sectors.
    pub fn bios(total: u64, translation: Translation) -> Chs {
        let heads: u32 = match translation {
            Translation::None => 16,
            Translation::Lba => {
                // EDD 1.1 LBA-assist table: double the heads until the cylinders fit in 1024.
                let cyl16 = total / (16 * 63);
                match cyl16 {
                    0..=1024 => 16,
                    1025..=2048 => 32,
                    2049..=4096 => 64,
                    4097..=8192 => 128,
                    _ => 255,
                }
            }
        };
        let cylinders = (total / (heads as u64 * 63)).clamp(1, 1024) as u32;
        Chs::new(cylinders, heads, 63)
    }
}

/// BIOS INT 13h CHS translation for hard disks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Translation {
    /// "Normal": the drive's own 16 heads × 63 sectors, cylinders cut at 1024 (504 MiB reach).
    None,
    /// LBA-assisted: 63 sectors, 16/32/64/128/255 heads chosen so the cylinders fit in 1024
    /// (reach up to 1024 × 255 × 63 sectors, 7.8 GiB).
    Lba,
}

/// PC floppy formats, identified by image size (all 512-byte sectors, MFM).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloppyType {
    /// 5.25" single-sided, 8 sectors: 40 × 1 × 8.
    F160K,
    /// 5.25" single-sided, 9 sectors: 40 × 1 × 9.
    F180K,
    /// 5.25" double-sided, 8 sectors: 40 × 2 × 8.
    F320K,
    /// 5.25" double-density: 40 × 2 × 9.
    F360K,
    /// 3.5" double-density: 80 × 2 × 9.
    F720K,
    /// 5.25" high-density: 80 × 2 × 15.
    F1_2M,
    /// 3.5" high-density: 80 × 2 × 18.
    F1_44M,
    /// 3.5" extra-density: 80 × 2 × 36.
    F2_88M,
}

impl FloppyType {
    pub const ALL: [FloppyType; 8] = [
        FloppyType::F160K,
        FloppyType::F180K,
        FloppyType::F320K,
        FloppyType::F360K,
        FloppyType::F720K,
        FloppyType::F1_2M,
        FloppyType::F1_44M,
        FloppyType::F2_88M,
    ];

    /// The format whose image is exactly `bytes` long.
    pub fn from_size(bytes: u64) -> Option<FloppyType> {
        FloppyType::ALL.into_iter().find(|t| t.size_bytes() == bytes)
    }

    pub const fn geometry(self) -> Chs {
        match self {
            FloppyType::F160K => Chs::new(40, 1, 8),
            FloppyType::F180K => Chs::new(40, 1, 9),
            FloppyType::F320K => Chs::new(40, 2, 8),
            FloppyType::F360K => Chs::new(40, 2, 9),
            FloppyType::F720K => Chs::new(80, 2, 9),
            FloppyType::F1_2M => Chs::new(80, 2, 15),
            FloppyType::F1_44M => Chs::new(80, 2, 18),
            FloppyType::F2_88M => Chs::new(80, 2, 36),
        }
    }

    pub const fn size_bytes(self) -> u64 {
        self.geometry().total_sectors() * SECTOR_SIZE as u64
    }

    pub const fn name(self) -> &'static str {
        match self {
            FloppyType::F160K => "160K",
            FloppyType::F180K => "180K",
            FloppyType::F320K => "320K",
            FloppyType::F360K => "360K",
            FloppyType::F720K => "720K",
            FloppyType::F1_2M => "1.2M",
            FloppyType::F1_44M => "1.44M",
            FloppyType::F2_88M => "2.88M",
        }
    }

    /// The drive type nibble for CMOS register 0x10 of a drive that takes this medium
    /// (1 = 360K 5.25", 2 = 1.2M 5.25", 3 = 720K 3.5", 4 = 1.44M 3.5", 5 = 2.88M 3.5").
    pub const fn cmos_drive_type(self) -> u8 {
        match self {
            FloppyType::F160K | FloppyType::F180K | FloppyType::F320K | FloppyType::F360K => 1,
            FloppyType::F1_2M => 2,
            FloppyType::F720K => 3,
            FloppyType::F1_44M => 4,
            FloppyType::F2_88M => 5,
        }
    }

    /// The 82077AA data rates (DSR/CCR DRATE SEL codes: 0 = 500 kb/s, 1 = 300 kb/s,
    /// 2 = 250 kb/s, 3 = 1 Mb/s) at which this medium can be read, as a bit mask
    /// (bit n = code n). Double-density 5.25" media read at 250 kb/s in a 360K drive and at
    /// 300 kb/s in a 1.2M drive; both are accepted.
    pub const fn data_rate_mask(self) -> u8 {
        match self {
            FloppyType::F160K | FloppyType::F180K | FloppyType::F320K | FloppyType::F360K => 0b0110,
            FloppyType::F720K => 0b0100,
            FloppyType::F1_2M | FloppyType::F1_44M => 0b0001,
            FloppyType::F2_88M => 0b1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unique scratch file path in the system temp directory.
    fn temp_path(name: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("x86lab-disk-{}-{n}-{name}", std::process::id()))
    }

    struct TempFile(PathBuf);
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    fn temp_image(name: &str, data: &[u8]) -> TempFile {
        let p = temp_path(name);
        std::fs::write(&p, data).unwrap();
        TempFile(p)
    }

    #[test]
    fn floppy_types_by_size() {
        let expect = [
            (163_840, FloppyType::F160K),
            (184_320, FloppyType::F180K),
            (327_680, FloppyType::F320K),
            (368_640, FloppyType::F360K),
            (737_280, FloppyType::F720K),
            (1_228_800, FloppyType::F1_2M),
            (1_474_560, FloppyType::F1_44M),
            (2_949_120, FloppyType::F2_88M),
        ];
        for (size, t) in expect {
            assert_eq!(FloppyType::from_size(size), Some(t));
            assert_eq!(t.size_bytes(), size);
        }
        assert_eq!(FloppyType::from_size(1_474_561), None);
        assert_eq!(FloppyType::F1_44M.geometry(), Chs::new(80, 2, 18));
        assert_eq!(FloppyType::F360K.geometry(), Chs::new(40, 2, 9));
        assert_eq!(FloppyType::F1_2M.geometry(), Chs::new(80, 2, 15));
        assert_eq!(FloppyType::F720K.cmos_drive_type(), 3);
        assert_eq!(FloppyType::F1_44M.cmos_drive_type(), 4);
    }

    #[test]
    fn chs_round_trip() {
        let g = FloppyType::F1_44M.geometry();
        assert_eq!(g.to_lba(0, 0, 1), Some(0));
        assert_eq!(g.to_lba(0, 1, 1), Some(18));
        assert_eq!(g.to_lba(1, 0, 1), Some(36));
        assert_eq!(g.to_lba(79, 1, 18), Some(2879));
        assert_eq!(g.to_lba(80, 0, 1), None);
        assert_eq!(g.to_lba(0, 0, 0), None);
        assert_eq!(g.to_lba(0, 0, 19), None);
        assert_eq!(g.to_lba(0, 2, 1), None);
        for lba in 0..g.total_sectors() {
            let (c, h, s) = g.from_lba(lba).unwrap();
            assert_eq!(g.to_lba(c, h, s), Some(lba));
        }
        assert_eq!(g.from_lba(2880), None);
        assert_eq!(Chs::new(0, 0, 0).from_lba(0), None);
    }

    #[test]
    fn hard_disk_geometries() {
        // 64 MiB: 131072 sectors -> 130 cylinders of 16 x 63.
        let total = 64 * 1024 * 1024 / 512;
        assert_eq!(Chs::ata_default(total), Chs::new(130, 16, 63));
        assert_eq!(Chs::bios(total, Translation::None), Chs::new(130, 16, 63));
        assert_eq!(Chs::bios(total, Translation::Lba), Chs::new(130, 16, 63));
        // 2 GiB: 4161 cylinders at 16 heads -> LBA assist picks 128 heads.
        let total = 2u64 << 30 >> 9;
        assert_eq!(Chs::bios(total, Translation::Lba), Chs::new(520, 128, 63));
        assert_eq!(Chs::bios(total, Translation::None), Chs::new(1024, 16, 63), "normal stops at 504 MiB");
        // 8 GiB and more: 255 heads, 1024 cylinders at most.
        assert_eq!(Chs::bios(16u64 << 30 >> 9, Translation::Lba), Chs::new(1024, 255, 63));
        assert_eq!(Chs::ata_default(u64::MAX), Chs::new(16383, 16, 63));
        assert_eq!(Chs::ata_default(1), Chs::new(1, 16, 63));
        // Exactly 504 MiB keeps 16 heads.
        assert_eq!(Chs::bios(1024 * 16 * 63, Translation::Lba).heads, 16);
    }

    #[test]
    fn read_write_and_bounds() {
        let mut d = Disk::from_bytes(vec![0; 8 * 512], false).unwrap();
        assert_eq!(d.sectors(), 8);
        d.write_sectors(7, &[1; 512]).unwrap();
        assert_eq!(d.write_sectors(8, &[1; 512]), Err(DiskError::OutOfRange));
        assert_eq!(d.write_sectors(7, &[1; 1024]), Err(DiskError::OutOfRange));
        assert_eq!(d.write_sectors(u64::MAX, &[1; 512]), Err(DiskError::OutOfRange));
        let mut buf = [0; 512];
        assert_eq!(d.read_sectors(u64::MAX / 2, &mut buf), Err(DiskError::OutOfRange));
        d.read_sectors(7, &mut buf).unwrap();
        assert_eq!(buf, [1; 512]);
        let mut r = Disk::from_bytes(vec![0; 512], true).unwrap();
        assert_eq!(r.write_sectors(0, &[1; 512]), Err(DiskError::ReadOnly));
        assert_eq!(r.changed_block_count(), 0);
    }

    #[test]
    fn bad_in_memory_sizes() {
        assert!(Disk::from_bytes(vec![], false).is_err());
        assert!(Disk::from_bytes(vec![0; 513], false).is_err());
    }

    #[test]
    fn changed_map_tracks_blocks_and_survives_flush() {
        let mut d = Disk::from_bytes(vec![0; 64 * 512], false).unwrap();
        d.write_sectors(3, &[9; 1024]).unwrap();
        d.write_sectors(63, &[9; 512]).unwrap();
        assert_eq!(d.changed_blocks().collect::<Vec<_>>(), vec![3, 4, 63]);
        assert!(d.has_unflushed());
        d.flush().unwrap();
        assert!(!d.has_unflushed());
        assert_eq!(d.changed_block_count(), 3, "flushing does not forget what changed since open");
        assert!(d.block_changed(4) && !d.block_changed(5));
        // restore_block puts a snapshot's block back
        d.restore_block(10, &[7; 512]).unwrap();
        assert_eq!(d.block(10).unwrap(), &[7; 512][..]);
        assert_eq!(d.changed_blocks().collect::<Vec<_>>(), vec![3, 4, 10, 63]);
        assert_eq!(d.restore_block(64, &[7; 512]), Err(DiskError::OutOfRange));
        assert_eq!(d.restore_block(1, &[7; 100]), Err(DiskError::OutOfRange));
        assert_eq!(d.block(64), None);
        assert_eq!(d.block(u64::MAX), None);
    }

    #[test]
    fn file_round_trip_writes_back_only_on_flush() {
        let mut img = vec![0u8; 1_474_560];
        img[510] = 0x55;
        img[511] = 0xAA;
        let f = temp_image("rt.img", &img);
        let mut d = Disk::open_floppy(&f.0, false).unwrap();
        assert_eq!(d.floppy_type(), Some(FloppyType::F1_44M));
        assert_eq!(d.path(), Some(f.0.as_path()));
        assert_eq!(d.bytes()[511], 0xAA);
        d.write_sectors(1, &[0x11; 512]).unwrap();
        d.write_sectors(2, &[0x22; 512]).unwrap();
        d.write_sectors(2879, &[0x33; 512]).unwrap();
        assert_eq!(std::fs::read(&f.0).unwrap()[512], 0, "not yet flushed");
        d.flush().unwrap();
        let on_disk = std::fs::read(&f.0).unwrap();
        assert_eq!(on_disk.len(), 1_474_560);
        assert_eq!(on_disk[512], 0x11);
        assert_eq!(on_disk[1024 + 511], 0x22);
        assert_eq!(on_disk[2879 * 512], 0x33);
        assert_eq!(on_disk[511], 0xAA);
        // Dropping flushes too.
        d.write_sectors(5, &[0x55; 512]).unwrap();
        drop(d);
        assert_eq!(std::fs::read(&f.0).unwrap()[5 * 512], 0x55);
    }

    #[test]
    fn readonly_file_is_never_written() {
        let f = temp_image("ro.img", &vec![0u8; 737_280]);
        let mut d = Disk::open_floppy(&f.0, true).unwrap();
        assert!(d.is_readonly());
        assert_eq!(d.write_sectors(0, &[1; 512]), Err(DiskError::ReadOnly));
        d.flush().unwrap();
        drop(d);
        assert!(std::fs::read(&f.0).unwrap().iter().all(|&b| b == 0));
    }

    #[test]
    fn open_errors_name_the_path() {
        let missing = temp_path("missing.img");
        let e = Disk::open(&missing, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains(&missing.display().to_string()), "{e}");
        let e = Disk::open_floppy(&missing, false).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");

        let odd = temp_image("odd.img", &[0u8; 1000]);
        let e = Disk::open(&odd.0, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("not a multiple of the 512-byte sector"), "{e}");
        assert!(e.to_string().contains(&odd.0.display().to_string()), "{e}");

        let empty = temp_image("empty.img", &[]);
        assert!(Disk::open(&empty.0, false).unwrap_err().to_string().contains("empty"));

        let wrong = temp_image("wrong.img", &vec![0u8; 1_000_448]);
        let e = Disk::open_floppy(&wrong.0, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("1474560 (1.44M)"), "{e}");
        // The same file is a fine hard disk image.
        assert_eq!(Disk::open(&wrong.0, true).unwrap().sectors(), 1954);
    }

    #[test]
    fn big_disk_opens_and_flushes_fast() {
        let f = TempFile(temp_path("big.img"));
        let file = File::create(&f.0).unwrap();
        file.set_len(64 << 20).unwrap();
        drop(file);
        let t = std::time::Instant::now();
        let mut d = Disk::open(&f.0, false).unwrap();
        for lba in (0..d.sectors()).step_by(997) {
            d.write_sectors(lba, &[0xEE; 512]).unwrap();
        }
        d.flush().unwrap();
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "took {:?}", t.elapsed());
        drop(d);
        let mut file = File::open(&f.0).unwrap();
        let mut b = [0u8; 1];
        file.seek(SeekFrom::Start(997 * 512)).unwrap();
        file.read_exact(&mut b).unwrap();
        assert_eq!(b[0], 0xEE);
    }

    #[test]
    fn block_map_iterates_in_order() {
        let mut m = BlockMap::new(200);
        m.set_range(0, 0);
        m.set_range(63, 65);
        m.set_range(199, 199);
        m.set_range(500, 500); // beyond the map: ignored
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![0, 63, 64, 65, 199]);
        assert_eq!(m.count(), 5);
    }
}
