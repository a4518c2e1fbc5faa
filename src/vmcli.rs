//! The command line of VM folders and snapshots: `x86lab new`, `x86lab snapshot`, and what
//! `x86lab run NAME/ [--restore SNAP] [--save-snapshot SNAP]` adds to a run.
//!
//! `x86lab snapshot restore NAME/ SNAP` checks SNAP against the VM and records it in
//! `NAME/snapshots/NEXT` (one line: the name); the next `x86lab run NAME/` or `x86lab debug
//! NAME/` without `--restore` starts from it and removes the file, so the restore happens once.

use super::RunArgs;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use x86lab::machine::Machine;
use x86lab::vm::{self, VmFolder};

#[derive(Args, Clone)]
pub struct NewArgs {
    /// The folder to create (its last component is the VM's name).
    pub name: PathBuf,
    /// Guest RAM in MiB (1 to 3072).
    #[arg(long, value_name = "MiB", default_value_t = 32)]
    pub memory: u32,
    /// A floppy image to copy into the folder as drive A:.
    #[arg(long, value_name = "FILE")]
    pub fda: Option<PathBuf>,
    /// A hard disk image to copy into the folder as the primary master.
    #[arg(long, value_name = "FILE", conflicts_with = "hda_size")]
    pub hda: Option<PathBuf>,
    /// Create an empty hard disk of this size instead (e.g. 64M).
    #[arg(long, value_name = "SIZE")]
    pub hda_size: Option<String>,
    /// A BIOS image to copy into the folder (default: x86lab's own).
    #[arg(long, value_name = "FILE")]
    pub bios: Option<PathBuf>,
    /// The RTC's start time (YYYY-MM-DDTHH:MM:SS, UTC); default: the host's clock.
    #[arg(long, value_name = "TIME")]
    pub rtc: Option<String>,
}

#[derive(Args, Clone)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: SnapshotAction,
}

#[derive(Subcommand, Clone)]
pub enum SnapshotAction {
    /// Boot the VM (or start from --from SNAP), run --at N instructions, and save snapshot SNAP.
    Save {
        vm: PathBuf,
        snap: String,
        /// Instructions to run before saving (from power-on, or from --from's snapshot).
        #[arg(long, value_name = "N")]
        at: u64,
        /// Start from this snapshot instead of power-on.
        #[arg(long, value_name = "SNAP")]
        from: Option<String>,
        /// A one-line description (shown by `snapshot list`).
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// Replace an existing snapshot of that name.
        #[arg(long)]
        force: bool,
    },
    /// Check SNAP against the VM and make it the state the next `run NAME/` (or `debug NAME/`)
    /// starts from (once).
    Restore { vm: PathBuf, snap: String },
    /// List a VM folder's snapshots: name, date, instruction count, size, description.
    List { vm: PathBuf },
    /// Delete a snapshot.
    Delete { vm: PathBuf, snap: String },
    /// Check a snapshot file whole (every checksum) and print what it says about itself.
    Check { vm: PathBuf, snap: String },
}

#[derive(Args, Clone)]
pub struct DiskArgs {
    #[command(subcommand)]
    pub action: DiskAction,
}

#[derive(Subcommand, Clone)]
pub enum DiskAction {
    /// For each drive: the base image (never written), its overlay (the guest's writes) and how
    /// many 512-byte blocks differ from the base.
    Info { vm: PathBuf },
    /// Write DRIVE (fda, fdb, hda, hdb, hdc or hdd) as the guest sees it, base plus overlay, to
    /// the raw image OUT, which any emulator or `mount -o loop` can use.
    Export {
        vm: PathBuf,
        drive: String,
        out: PathBuf,
        /// The drive as snapshot SNAP holds it instead of as it is now.
        #[arg(long, value_name = "SNAP")]
        snapshot: Option<String>,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// The drive names, in the order of `x86lab::snapshot`'s drive slots.
const DRIVES: [&str; 6] = ["fda", "fdb", "hda", "hdb", "hdc", "hdd"];

fn drive(m: &Machine, slot: usize) -> Option<&x86lab::devices::disk::Disk> {
    match slot {
        0 | 1 => m.bus.fdc.disk(slot),
        n => m.bus.ata[(n - 2) / 2].disk((n - 2) % 2),
    }
}

/// The machine a VM folder describes, its disks opened read-only (nothing is written).
fn folder_machine(vm: &Path) -> Result<Machine, String> {
    let mut args = super::RunArgs::for_folder(vm);
    args.serial = Some("none".into());
    args.debugcon = Some("none".into());
    args.readonly = true;
    prepare(&mut args)?;
    super::build_machine(&args)
}

/// `x86lab disk ...`.
pub fn disk(a: DiskArgs) -> Result<u8, String> {
    match a.action {
        DiskAction::Info { vm } => {
            VmFolder::at(&vm)?;
            let m = folder_machine(&vm)?;
            for (slot, name) in DRIVES.iter().enumerate() {
                let Some(d) = drive(&m, slot) else { continue };
                let base = d.path().map_or("(in memory)".into(), |p| p.display().to_string());
                let overlay = d.overlay_path().map_or("none yet (made by the first run)".into(), |p| {
                    let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                    format!("{} ({size} bytes apparent size)", p.display())
                });
                println!("{name}: {} bytes", d.len_bytes());
                println!("  base     {base}");
                println!("  overlay  {overlay}");
                println!("  changed  {} of {} blocks differ from the base", d.changed_block_count(), d.sectors());
            }
            Ok(0)
        }
        DiskAction::Export { vm, drive: name, out, snapshot, force } => {
            let f = VmFolder::at(&vm)?;
            let slot = DRIVES
                .iter()
                .position(|d| d.eq_ignore_ascii_case(&name))
                .ok_or_else(|| format!("{name}: not a drive (give one of {})", DRIVES.join(", ")))?;
            if out.exists() && !force {
                return Err(format!("{}: exists (give --force to replace it, or another name)", out.display()));
            }
            let mut m = folder_machine(&vm)?;
            if let Some(snap) = &snapshot {
                let p = f.snapshot_path(snap)?;
                if !p.is_file() {
                    return Err(no_such_snapshot(&f, &p));
                }
                x86lab::snapshot::restore_into(&mut m, &p).map_err(|e| e.to_string())?;
            }
            let d = drive(&m, slot).ok_or_else(|| format!("{}: the VM has no {name}", f.config_path().display()))?;
            let same = |p: Option<&Path>| {
                p.and_then(|p| p.canonicalize().ok()).is_some_and(|p| out.canonicalize().ok() == Some(p))
            };
            if same(d.path()) || same(d.overlay_path()) {
                return Err(format!("{}: that is the VM's own disk file; export to another file", out.display()));
            }
            // Write beside OUT and rename, so a failed export never leaves half a file.
            let tmp = out.with_file_name(format!(
                ".{}.x86lab-tmp",
                out.file_name().map_or("export".into(), |n| n.to_string_lossy().into_owned())
            ));
            let write = || -> std::io::Result<()> {
                use std::io::Write;
                let mut file = std::fs::File::create(&tmp)?;
                file.write_all(d.bytes())?;
                file.sync_all()?;
                std::fs::rename(&tmp, &out)
            };
            if let Err(e) = write() {
                let _ = std::fs::remove_file(&tmp);
                return Err(format!("{}: cannot write: {e}", out.display()));
            }
            println!(
                "wrote {} ({} bytes, {} blocks from the overlay{})",
                out.display(),
                d.len_bytes(),
                d.changed_block_count(),
                snapshot.map_or(String::new(), |s| format!(" as snapshot {s} holds it"))
            );
            Ok(0)
        }
    }
}

/// `x86lab new`.
pub fn new(a: NewArgs) -> Result<u8, String> {
    let hda_size = a.hda_size.as_deref().map(vm::parse_size).transpose().map_err(|e| format!("--hda-size {e}"))?;
    if let Some(t) = &a.rtc
        && x86lab::devices::rtc_cmos::parse_rtc_time(t).is_none()
    {
        return Err(format!("--rtc {t}: expected YYYY-MM-DDTHH:MM:SS"));
    }
    let f = vm::create(
        &a.name,
        &vm::NewVm { memory: a.memory, bios: a.bios, fda: a.fda, hda: a.hda, hda_size, rtc: a.rtc },
    )?;
    println!("created {} (settings in {})", f.dir.display(), f.config_path().display());
    Ok(0)
}

/// `x86lab snapshot ...`.
pub fn snapshot(a: SnapshotArgs) -> Result<u8, String> {
    match a.action {
        SnapshotAction::Save { vm, snap, at, from, description, force } => {
            let f = VmFolder::at(&vm)?;
            let p = f.snapshot_path(&snap)?;
            if p.exists() && !force {
                return Err(format!(
                    "{}: a snapshot of that name exists (give --force to replace it, or another name)",
                    p.display()
                ));
            }
            let mut args = super::RunArgs::for_folder(&vm);
            // Batch: no terminal input, guest output dropped (the VM's log has the run).
            args.serial = Some("none".into());
            args.debugcon = Some("none".into());
            args.restore = from;
            args.save_snapshot = Some(snap.clone());
            args.snapshot_description = description;
            args.max_instructions = Some(at);
            let vmf = prepare(&mut args)?;
            open_log(vmf.as_ref());
            let mut m = super::build_machine(&args)?;
            if args.restore.is_some() {
                restore(&mut m, &args, vmf.as_ref())?;
            }
            let stop = m.run(at);
            m.flush();
            log::info!("snapshot save: ran to instruction {} ({stop:?})", m.cpu.icount);
            save(&m, &args, vmf.as_ref(), &format!("{stop:?}"))?;
            Ok(0)
        }
        SnapshotAction::Restore { vm, snap } => {
            let f = VmFolder::at(&vm)?;
            let p = f.snapshot_path(&snap)?;
            if !p.is_file() {
                return Err(no_such_snapshot(&f, &p));
            }
            // Check it now against the machine the folder describes (two-phase: nothing runs,
            // nothing is written: the run that starts from it restores it again).
            let mut m = folder_machine(&vm)?;
            let s = x86lab::snapshot::restore_into(&mut m, &p).map_err(|e| e.to_string())?;
            let next = f.snapshots_dir().join(NEXT_FILE);
            std::fs::write(&next, format!("{snap}\n")).map_err(|e| format!("{}: cannot write: {e}", next.display()))?;
            println!(
                "the next `x86lab run {}` starts from {snap} (instruction {}): {}",
                vm.display(),
                s.icount,
                s.description
            );
            Ok(0)
        }
        SnapshotAction::List { vm } => {
            let f = VmFolder::at(&vm)?;
            let list = vm::list_snapshots(&f);
            if list.is_empty() {
                println!("no snapshots in {}", f.snapshots_dir().display());
            }
            let next = pending_restore(&f);
            for e in list {
                let mark = if next.as_deref() == Some(e.name.as_str()) { "  (the next run starts here)" } else { "" };
                match e.info {
                    Ok(s) => println!(
                        "{:<16} {}  {:>14} instructions  {:>10} bytes  {}{mark}",
                        e.name,
                        vm::format_utc(s.created_unix),
                        s.icount,
                        e.size,
                        s.description
                    ),
                    Err(err) => println!("{:<16} (unreadable: {err}){mark}", e.name),
                }
            }
            Ok(0)
        }
        SnapshotAction::Delete { vm, snap } => {
            let f = VmFolder::at(&vm)?;
            let p = f.snapshot_path(&snap)?;
            if !p.is_file() {
                return Err(no_such_snapshot(&f, &p));
            }
            std::fs::remove_file(&p).map_err(|e| format!("{}: cannot delete: {e}", p.display()))?;
            if pending_restore(&f).as_deref() == Some(snap.as_str()) {
                let _ = std::fs::remove_file(f.snapshots_dir().join(NEXT_FILE));
            }
            println!("deleted {}", p.display());
            Ok(0)
        }
        SnapshotAction::Check { vm, snap } => {
            let f = VmFolder::at(&vm)?;
            let p = f.snapshot_path(&snap)?;
            let s = x86lab::snapshot::info(&p).map_err(|e| e.to_string())?;
            println!(
                "{snap}: {} instructions, {} MiB RAM, saved {} by x86lab {}: {}",
                s.icount,
                s.ram_bytes >> 20,
                vm::format_utc(s.created_unix),
                s.writer,
                s.description
            );
            Ok(0)
        }
    }
}

/// The file in `snapshots/` naming the snapshot the next run starts from.
pub const NEXT_FILE: &str = "NEXT";

/// The snapshot `x86lab snapshot restore` chose for the next run, if any.
pub fn pending_restore(f: &VmFolder) -> Option<String> {
    let t = std::fs::read_to_string(f.snapshots_dir().join(NEXT_FILE)).ok()?;
    let name = t.trim();
    (!name.is_empty()).then(|| name.to_string())
}

fn no_such_snapshot(f: &VmFolder, p: &Path) -> String {
    format!("{}: no such snapshot (`x86lab snapshot list {}` shows them)", p.display(), f.dir.display())
}

/// Starts the VM's log, `NAME/NAME.log` (see `crate::vmlog`).
pub fn open_log(f: Option<&VmFolder>) {
    if let Some(f) = f {
        let p = f.dir.join(format!("{}.log", f.name));
        if let Err(e) = super::vmlog::open_file(&p) {
            eprintln!("x86lab: {}: cannot write the VM's log: {e}", p.display());
        }
    }
}

/// If the run's image is a VM folder: fills every option the command line left out from the
/// folder's settings. Returns the folder.
pub fn prepare(args: &mut RunArgs) -> Result<Option<VmFolder>, String> {
    let Some(img) = args.image.clone() else { return Ok(None) };
    if !img.is_dir() {
        return Ok(None);
    }
    let f = VmFolder::at(&img)?;
    let r = f.load()?;
    args.image = None;
    args.memory = args.memory.or(r.memory);
    if args.bios.is_none() {
        args.bios = r.bios;
    }
    if args.vga_bios.is_none() {
        args.vga_bios = r.vga_bios;
    }
    args.boot = args.boot.take().or(r.boot);
    args.ips = args.ips.or(r.ips);
    args.rtc = args.rtc.take().or(r.rtc);
    args.serial = args.serial.take().or(r.serial);
    args.debugcon = args.debugcon.take().or(r.debugcon);
    args.readonly |= r.readonly;
    let [fda, fdb, hda, hdb, hdc, hdd] = r.disks;
    for (i, (slot, v)) in [
        (&mut args.fda, fda),
        (&mut args.fdb, fdb),
        (&mut args.hda, hda),
        (&mut args.hdb, hdb),
        (&mut args.hdc, hdc),
        (&mut args.hdd, hdd),
    ]
    .into_iter()
    .enumerate()
    {
        if slot.is_none() && v.is_some() {
            // The folder's own disk: a frozen base plus its overlay. A disk given on the command
            // line instead is used as it is, for this run.
            *slot = v;
            args.vm_disks[i] = true;
        }
    }
    Ok(Some(f))
}

/// Where snapshot `snap` lives: in the folder's snapshots/, or a plain path without a folder.
fn snap_path(snap: &str, vm: Option<&VmFolder>) -> Result<PathBuf, String> {
    match vm {
        Some(f) => f.snapshot_path(snap),
        None => Ok(Path::new(snap).to_path_buf()),
    }
}

/// `--restore SNAP` (or the snapshot `x86lab snapshot restore` chose): before the run.
pub fn restore(m: &mut Machine, args: &RunArgs, vm: Option<&VmFolder>) -> Result<(), String> {
    let pending = match (&args.restore, vm) {
        (None, Some(f)) => pending_restore(f),
        _ => None,
    };
    let Some(snap) = args.restore.as_ref().or(pending.as_ref()) else { return Ok(()) };
    let p = snap_path(snap, vm)?;
    if let Some(f) = vm
        && !p.is_file()
    {
        return Err(no_such_snapshot(f, &p));
    }
    let t = std::time::Instant::now();
    let s = x86lab::snapshot::restore_into(m, &p).map_err(|e| e.to_string())?;
    log::info!("restored {} at instruction {} in {:.1} ms", p.display(), s.icount, t.elapsed().as_secs_f64() * 1e3);
    if let (Some(f), Some(_)) = (vm, &pending) {
        // Once: the next run starts from the VM's disks again (or its own --restore).
        let _ = std::fs::remove_file(f.snapshots_dir().join(NEXT_FILE));
        eprintln!("x86lab: started from snapshot {snap} (chosen by `x86lab snapshot restore`)");
    }
    Ok(())
}

/// `--save-snapshot SNAP`: after the run stopped.
pub fn save(m: &Machine, args: &RunArgs, vm: Option<&VmFolder>, why: &str) -> Result<(), String> {
    let Some(snap) = &args.save_snapshot else { return Ok(()) };
    let p = snap_path(snap, vm)?;
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let desc = args.snapshot_description.clone().unwrap_or_else(|| format!("{why} at instruction {}", m.cpu.icount));
    let t = std::time::Instant::now();
    let size = x86lab::snapshot::save(m, &p, &desc).map_err(|e| e.to_string())?;
    log::info!("saved snapshot {} at instruction {} ({size} bytes): {desc}", p.display(), m.cpu.icount);
    eprintln!("x86lab: saved snapshot {} ({size} bytes, {:.1} ms)", p.display(), t.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
