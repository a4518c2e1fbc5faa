//! Copy-on-write overlay files: a VM folder's disk as a frozen base image plus the blocks the
//! guest wrote.
//!
//! A VM folder's disk image (`hda.img`) is its **base**: once the folder has been run, x86lab
//! never writes the base again. The guest's writes go to an overlay beside it
//! (`hda.img.overlay`), and the guest sees the base with the overlay's blocks laid over it. This
//! is QEMU's backing-file model (a qcow2 image on top of a raw base, QEMU docs "Disk image
//! file formats: backing_file") and VMware's redo log (delta disk), reduced to what a teaching
//! emulator needs. Because the base never changes, a snapshot that stores "the blocks that differ
//! from the base" ([`crate::snapshot`], section `disks`) stays valid for ever, whatever later runs
//! write: restoring it puts exactly those blocks in the overlay again.
//!
//! # File format (all integers little-endian)
//! ```text
//! offset  size  field
//!      0     8  magic "X86LOVL\0"
//!      8     4  format version (1)
//!     12     4  header size in bytes (4096): where the bitmap starts
//!     16     8  disk size in bytes (= the base image's size)
//!     24     4  CRC-32 (IEEE) of the base image's whole contents when the overlay was made
//!     28     4  bitmap size in bytes (= ceil(blocks / 64) * 8)
//!     32     4  CRC-32 of bytes 0..32 (the header fields above)
//!     36  4060  zero
//!   4096     B  bitmap: bit (b % 64) of little-endian u64 word (b / 64) set = block b is here
//!      D        block data: block b (512 bytes) at D + b * 512, D = the bitmap's end rounded up
//!               to 4096. Blocks that are not in the bitmap are holes (a sparse file) or stale.
//! ```
//! # Crash consistency
//! [`Overlay::write_back`] writes the blocks' data and syncs it *before* it writes the bitmap
//! words that make them visible, and syncs again. A crash between the two leaves the bitmap as it
//! was: a block written for the first time reads as its old contents (the base's), never as
//! garbage. A block that was already in the overlay is overwritten in place, as a raw image's
//! sector is; a crash in the middle of that write can tear that one sector, as it can on a real
//! disk.
//!
//! # Errors
//! Opening checks the header CRC, the version, that the disk size matches the base's, that the
//! base's CRC still matches (an edited or replaced base is refused, and nothing is deleted:
//! the message says which file to move away), that the bitmap has no bits beyond the disk and
//! that the file holds the data of every block its bitmap names. Every size is checked against
//! the file's length before anything is allocated.

use super::disk::BLOCK_SIZE;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The file's first 8 bytes.
pub const MAGIC: &[u8; 8] = b"X86LOVL\0";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Header size: the bitmap starts here.
pub const HEADER_SIZE: u64 = 4096;
const ALIGN: u64 = 4096;

/// The overlay file's name for a base image: the base's file name plus `.overlay`.
pub fn path_for(base: &Path) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(".overlay");
    PathBuf::from(s)
}

/// An open overlay file.
#[derive(Debug)]
pub struct Overlay {
    file: Option<File>,
    path: PathBuf,
    blocks: u64,
    /// The bitmap as it is in the file (u64 words).
    bitmap: Vec<u64>,
    data_off: u64,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("disk overlay {}: {what}", path.display()))
}

fn io_err(path: &Path, doing: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("disk overlay {}: cannot {doing}: {e}", path.display()))
}

fn bitmap_bytes(blocks: u64) -> u64 {
    blocks.div_ceil(64) * 8
}

fn data_offset(blocks: u64) -> u64 {
    (HEADER_SIZE + bitmap_bytes(blocks)).div_ceil(ALIGN) * ALIGN
}

fn header(disk_bytes: u64, base_crc: u32) -> Vec<u8> {
    let blocks = disk_bytes / BLOCK_SIZE as u64;
    let mut h = vec![0u8; HEADER_SIZE as usize];
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
    h[16..24].copy_from_slice(&disk_bytes.to_le_bytes());
    h[24..28].copy_from_slice(&base_crc.to_le_bytes());
    h[28..32].copy_from_slice(&(bitmap_bytes(blocks) as u32).to_le_bytes());
    let crc = crc32fast::hash(&h[0..32]);
    h[32..36].copy_from_slice(&crc.to_le_bytes());
    h
}

/// What [`Overlay::open`] found: the overlay and the blocks it holds, with their contents.
pub struct Opened {
    pub overlay: Overlay,
    pub blocks: Vec<(u64, Vec<u8>)>,
}

impl Overlay {
    /// Creates an empty overlay for a base of `disk_bytes` bytes whose contents have CRC-32
    /// `base_crc`. Refuses to replace an existing file.
    pub fn create(path: &Path, disk_bytes: u64, base_crc: u32) -> io::Result<Overlay> {
        let blocks = disk_bytes / BLOCK_SIZE as u64;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| io_err(path, "create it", e))?;
        let mut all = header(disk_bytes, base_crc);
        all.resize((HEADER_SIZE + bitmap_bytes(blocks)) as usize, 0);
        file.write_all(&all).map_err(|e| io_err(path, "write it", e))?;
        file.sync_all().map_err(|e| io_err(path, "sync it", e))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(Overlay {
            file: Some(file),
            path: path.to_path_buf(),
            blocks,
            bitmap: vec![0; blocks.div_ceil(64) as usize],
            data_off: data_offset(blocks),
        })
    }

    /// Opens an existing overlay on top of a base of `disk_bytes` bytes with CRC-32 `base_crc`
    /// (`base_path` only names the base in errors). `readonly` opens the file for reading only;
    /// [`Overlay::write_back`] then fails.
    pub fn open(path: &Path, base_path: &Path, disk_bytes: u64, base_crc: u32, readonly: bool) -> io::Result<Opened> {
        let mut file =
            OpenOptions::new().read(true).write(!readonly).open(path).map_err(|e| io_err(path, "open it", e))?;
        let len = file.metadata().map_err(|e| io_err(path, "stat it", e))?.len();
        if len < HEADER_SIZE {
            return Err(bad(path, format!("{len} bytes: shorter than its {HEADER_SIZE}-byte header (truncated?)")));
        }
        let mut h = vec![0u8; HEADER_SIZE as usize];
        file.read_exact(&mut h).map_err(|e| io_err(path, "read its header", e))?;
        if &h[0..8] != MAGIC {
            return Err(bad(path, "not an x86lab disk overlay (wrong magic number)"));
        }
        let u32_at = |o: usize| u32::from_le_bytes(h[o..o + 4].try_into().expect("4 bytes"));
        if u32_at(32) != crc32fast::hash(&h[0..32]) {
            return Err(bad(path, "the header's checksum does not match (the file is corrupted)"));
        }
        let version = u32_at(8);
        if version != VERSION {
            return Err(bad(
                path,
                format!("format version {version}; this x86lab reads version {VERSION} (written by a newer x86lab?)"),
            ));
        }
        if u32_at(12) as u64 != HEADER_SIZE {
            return Err(bad(path, format!("header size {} (expected {HEADER_SIZE})", u32_at(12))));
        }
        let size = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes"));
        if size != disk_bytes {
            return Err(bad(
                path,
                format!(
                    "it was made for a base image of {size} bytes, but {} has {disk_bytes} bytes; \
                     the base was replaced: move the overlay away to start from the new base \
                     (its blocks and the VM's snapshots belong to the old one)",
                    base_path.display()
                ),
            ));
        }
        if u32_at(24) != base_crc {
            return Err(bad(
                path,
                format!(
                    "{} changed since the overlay was made on it (CRC-32 {:08x}, now {base_crc:08x}); \
                     x86lab never writes a VM's base image, so something else did. Put the original \
                     base back, or move the overlay away to start from the new base (its blocks and \
                     the VM's snapshots belong to the old one)",
                    base_path.display(),
                    u32_at(24)
                ),
            ));
        }
        let blocks = disk_bytes / BLOCK_SIZE as u64;
        if u32_at(28) as u64 != bitmap_bytes(blocks) {
            return Err(bad(
                path,
                format!("bitmap of {} bytes; a {blocks}-block disk needs {}", u32_at(28), bitmap_bytes(blocks)),
            ));
        }
        let data_off = data_offset(blocks);
        if len < HEADER_SIZE + bitmap_bytes(blocks) {
            return Err(bad(path, format!("{len} bytes: its bitmap is cut short (truncated)")));
        }
        let mut raw = vec![0u8; bitmap_bytes(blocks) as usize];
        file.read_exact(&mut raw).map_err(|e| io_err(path, "read its bitmap", e))?;
        let bitmap: Vec<u64> =
            raw.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
        let ov = Overlay { file: Some(file), path: path.to_path_buf(), blocks, bitmap, data_off };
        let present: Vec<u64> = ov.present().collect();
        if let Some(&b) = present.iter().find(|&&b| b >= blocks) {
            return Err(bad(
                path,
                format!("its bitmap names block {b}, beyond the disk's {blocks} blocks (corrupted)"),
            ));
        }
        if let Some(&last) = present.last() {
            let need = data_off + (last + 1) * BLOCK_SIZE as u64;
            if len < need {
                return Err(bad(
                    path,
                    format!(
                        "{len} bytes, but its bitmap names block {last}, whose data ends at byte {need} (truncated)"
                    ),
                ));
            }
        }
        let mut ov = ov;
        let mut out = Vec::with_capacity(present.len());
        let file = ov.file.as_mut().expect("just opened");
        for b in present {
            let mut buf = vec![0u8; BLOCK_SIZE];
            file.seek(SeekFrom::Start(data_off + b * BLOCK_SIZE as u64)).map_err(|e| io_err(path, "seek", e))?;
            file.read_exact(&mut buf).map_err(|e| io_err(path, "read a block", e))?;
            out.push((b, buf));
        }
        Ok(Opened { overlay: ov, blocks: out })
    }

    /// The overlay file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Blocks the file holds (per its bitmap), in increasing order.
    pub fn present(&self) -> impl Iterator<Item = u64> + '_ {
        self.bitmap
            .iter()
            .enumerate()
            .flat_map(|(i, &w)| (0..64).filter(move |bit| w & (1u64 << bit) != 0).map(move |bit| i as u64 * 64 + bit))
    }

    /// Makes the file hold exactly the blocks `want` says (`want(b)` true: block `b` belongs in
    /// the overlay), with `data` as their contents; `dirty` lists, in increasing order, the
    /// blocks whose data must be (re)written and the only blocks whose `want` may have changed. Data first, synced; then the bitmap words that changed, synced (see the
    /// module's crash-consistency note).
    pub fn write_back(&mut self, data: &[u8], dirty: &[u64], want: impl Fn(u64) -> bool) -> io::Result<()> {
        let path = self.path.clone();
        let Some(file) = self.file.as_mut() else {
            return Err(bad(&path, "opened read-only"));
        };
        // 1. Data of dirty blocks that belong in the overlay, runs coalesced.
        let keep: Vec<u64> = dirty.iter().copied().filter(|&b| b < self.blocks && want(b)).collect();
        let mut i = 0;
        while i < keep.len() {
            let mut j = i;
            while j + 1 < keep.len() && keep[j + 1] == keep[j] + 1 {
                j += 1;
            }
            let (s, e) = (keep[i] as usize * BLOCK_SIZE, (keep[j] as usize + 1) * BLOCK_SIZE);
            let Some(bytes) = data.get(s..e) else { return Err(bad(&path, "block beyond the disk")) };
            file.seek(SeekFrom::Start(self.data_off + s as u64)).map_err(|e| io_err(&path, "seek", e))?;
            file.write_all(bytes).map_err(|e| io_err(&path, "write blocks", e))?;
            i = j + 1;
        }
        if !keep.is_empty() {
            file.sync_data().map_err(|e| io_err(&path, "sync it", e))?;
        }
        // 2. The bitmap words that change. Only a dirty block's bit can change: every change to
        // what belongs in the overlay (a write, a revert, a snapshot's block) dirties the block.
        let mut words: Vec<usize> = dirty.iter().filter(|&&b| b < self.blocks).map(|&b| (b / 64) as usize).collect();
        words.dedup();
        let mut changed_words = false;
        for w in words {
            let Some(word) = self.bitmap.get_mut(w) else { continue };
            let mut new = 0u64;
            for bit in 0..64u64 {
                let b = w as u64 * 64 + bit;
                if b < self.blocks && want(b) {
                    new |= 1 << bit;
                }
            }
            if new != *word {
                file.seek(SeekFrom::Start(HEADER_SIZE + w as u64 * 8)).map_err(|e| io_err(&path, "seek", e))?;
                file.write_all(&new.to_le_bytes()).map_err(|e| io_err(&path, "write its bitmap", e))?;
                *word = new;
                changed_words = true;
            }
        }
        if changed_words {
            file.sync_data().map_err(|e| io_err(&path, "sync it", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("x86lab-ovl-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    const DISK: u64 = 200 * 512;

    fn data_with(blocks: &[(u64, u8)]) -> Vec<u8> {
        let mut d = vec![0u8; DISK as usize];
        for &(b, v) in blocks {
            d[b as usize * 512..(b as usize + 1) * 512].fill(v);
        }
        d
    }

    #[test]
    fn round_trip_and_sparse_layout() {
        let p = temp("rt");
        let mut o = Overlay::create(&p, DISK, 0x1234).unwrap();
        assert!(Overlay::create(&p, DISK, 0x1234).is_err(), "never replaces a file");
        let data = data_with(&[(3, 0xAA), (4, 0xBB), (199, 0xCC)]);
        o.write_back(&data, &[3, 4, 199], |b| [3, 4, 199].contains(&b)).unwrap();
        let got = Overlay::open(&p, Path::new("base.img"), DISK, 0x1234, true).unwrap();
        let blocks: Vec<(u64, u8)> = got.blocks.iter().map(|(b, d)| (*b, d[0])).collect();
        assert_eq!(blocks, vec![(3, 0xAA), (4, 0xBB), (199, 0xCC)]);
        // Dropping block 4 from the overlay clears its bit only.
        let mut o = Overlay::open(&p, Path::new("base.img"), DISK, 0x1234, false).unwrap().overlay;
        o.write_back(&data, &[4], |b| [3, 199].contains(&b)).unwrap();
        let got = Overlay::open(&p, Path::new("base.img"), DISK, 0x1234, true).unwrap();
        assert_eq!(got.blocks.iter().map(|(b, _)| *b).collect::<Vec<_>>(), vec![3, 199]);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), data_offset(200) + 200 * 512);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn data_without_bitmap_reads_as_old_contents() {
        // What a crash between the data write and the bitmap write leaves: the block's data is
        // in the file, its bit is not set, so the block is not in the overlay.
        let p = temp("crash");
        let mut o = Overlay::create(&p, DISK, 7).unwrap();
        o.write_back(&data_with(&[(5, 1)]), &[5], |b| b == 5).unwrap();
        let mut f = OpenOptions::new().write(true).open(&p).unwrap();
        f.seek(SeekFrom::Start(data_offset(200) + 9 * 512)).unwrap();
        f.write_all(&[0xEE; 512]).unwrap();
        drop(f);
        let got = Overlay::open(&p, Path::new("b"), DISK, 7, true).unwrap();
        assert_eq!(got.blocks.len(), 1);
        assert_eq!((got.blocks[0].0, got.blocks[0].1[0]), (5, 1));
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn every_corruption_is_refused_naming_the_file() {
        let p = temp("bad");
        let mut o = Overlay::create(&p, DISK, 99).unwrap();
        o.write_back(&data_with(&[(150, 3)]), &[150], |b| b == 150).unwrap();
        let good = std::fs::read(&p).unwrap();
        let expect = |bytes: &[u8], size: u64, crc: u32, what: &str| {
            std::fs::write(&p, bytes).unwrap();
            let e = Overlay::open(&p, Path::new("vm/hda.img"), size, crc, true).err().expect(what).to_string();
            assert!(e.contains(&p.display().to_string()) && e.contains(what), "{what}: {e}");
        };
        expect(&good[..100], DISK, 99, "truncated");
        expect(&good[..HEADER_SIZE as usize + 8], DISK, 99, "truncated");
        expect(&good[..good.len() - 1], DISK, 99, "truncated");
        let mut m = good.clone();
        m[0] = b'Y';
        expect(&m, DISK, 99, "wrong magic");
        let mut m = good.clone();
        m[20] ^= 1;
        expect(&m, DISK, 99, "checksum");
        let mut m = good.clone();
        m[8] = 2;
        let crc = crc32fast::hash(&m[0..32]);
        m[32..36].copy_from_slice(&crc.to_le_bytes());
        expect(&m, DISK, 99, "version 2");
        expect(&good, DISK, 98, "changed since");
        expect(&good, DISK + 512, 99, "replaced");
        let mut m = good.clone();
        m[HEADER_SIZE as usize + 3 * 8] |= 0x80; // block 199: fine; beyond it: bits in the last word
        m[HEADER_SIZE as usize + 3 * 8 + 7] |= 0x80; // block 255 > 199
        expect(&m, DISK, 99, "beyond the disk");
        // The good file still opens.
        std::fs::write(&p, &good).unwrap();
        assert_eq!(Overlay::open(&p, Path::new("b"), DISK, 99, true).unwrap().blocks.len(), 1);
        let _ = std::fs::remove_file(&p);
    }
}
