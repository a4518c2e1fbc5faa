//! The `x86lab` command: parses the command line, sets up logging, builds a machine and runs it.
//! Everything else lives in the library.

use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use x86lab::debugger::Debugger;
use x86lab::devices::debugcon::Sink;
use x86lab::devices::disk::Disk;
use x86lab::machine::{BootDevice, Machine, MachineConfig, Stop};

mod vmcli;
mod vmlog;

/// Exit statuses of `x86lab run` (an odd status always comes from the guest's exit device).
mod status {
    /// The guest halted with nothing left that could wake it.
    pub const HALTED: u8 = 0;
    /// A bad command line or an unusable file.
    pub const USAGE: u8 = 2;
    /// `--max-instructions` reached.
    pub const BUDGET: u8 = 4;
    /// A triple fault with `--stop-on-triple-fault`.
    pub const TRIPLE_FAULT: u8 = 6;
}

#[derive(Parser)]
#[command(
    name = "x86lab",
    version,
    about = "An educational x86 full-system emulator: watch virtualization happen",
    long_about = "x86lab runs an IA-32 PC in software. Every instruction is decoded and executed by an \
interpreter, and every port access of the guest traps into a device model written in Rust — \
trap-and-emulate, made visible.\n\nSet RUST_LOG=debug to see each exception and why it happened, \
RUST_LOG=trace for every unassigned port access."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a guest: a disk image booted through the BIOS, a raw ROM given with --bios, or (with
    /// nothing given) the bundled demo OS.
    #[command(after_help = "EXIT STATUS:\n  \
  odd N  the guest wrote v to the exit device (port 0xF4): N = (v << 1) | 1, as QEMU's isa-debug-exit\n  \
  0      the guest halted (HLT) with nothing left that could wake it; or the window was closed\n  \
  2      bad command line, a file that cannot be used, or no display for the window\n  \
  4      --max-instructions reached\n  \
  6      triple fault with --stop-on-triple-fault\n\n\
WINDOW:\n  \
  Without --headless the screen is shown in a window. Right Ctrl is the host key: hold it and press\n  \
  P pause/resume, S screenshot, R reset, Q power off, F pacing on/off, D debugger, H list the keys.\n\n\
GDB:\n  \
  --gdb [-S] serves gdb beside the window (or headless with --headless): the window stays live,\n  \
  its title says `gdb: stopped` or `gdb: running`; with -S it waits (black) for gdb to connect.\n  \
  After gdb detaches the guest runs on and another gdb may connect; closing the window ends the run.\n\n\
EXAMPLES:\n  \
  x86lab run roms/demo/demo.img\n  \
  x86lab run --bios roms/tests/realmode.bin --headless\n  \
  x86lab run --bios rom.bin --headless --stats --max-instructions 1000000\n  \
  x86lab run --headless --kernel kernel.elf --append \"debug\" --initrd \"initrd.img args\"\n  \
  x86lab run --gdb 127.0.0.1:1234 -S   (then: gdb -ex 'target remote 127.0.0.1:1234')")]
    Run(RunArgs),
    /// Create a VM folder: NAME/NAME.toml (commented settings), its disk images, snapshots/.
    New(vmcli::NewArgs),
    /// Save, restore, list, check or delete a VM folder's snapshots (also: `run NAME/
    /// --save-snapshot SNAP`, `run NAME/ --restore SNAP`, and `save`/`restore` in the debugger).
    Snapshot(vmcli::SnapshotArgs),
    /// Show a VM folder's disks (base image, overlay, blocks the guest changed) or export one as
    /// a raw image, as the guest sees it now or as a snapshot holds it.
    Disk(vmcli::DiskArgs),

    /// Debug a guest: the same arguments as `run`, paused at the reset vector, with a REPL.
    #[command(after_help = "The REPL reads commands from the terminal (with line editing and history), from \
--script FILE, or from a pipe; in the last two cases there is no prompt and each command is echoed as \
`(x86lab) COMMAND` before its output. `help` lists the commands, `help CMD` explains one.\n\n\
EXAMPLES:\n  \
  x86lab debug --bios roms/tests/paging.bin --headless\n  \
  x86lab debug --bios roms/tests/rings.bin --headless --script session.txt\n  \
  x86lab debug --bios rom.bin --headless --gdb 127.0.0.1:1234   (gdb first, then the REPL)")]
    Debug(DebugArgs),
}

#[derive(Args, Clone)]
struct DebugArgs {
    #[command(flatten)]
    run: RunArgs,

    /// Read debugger commands from FILE instead of the terminal.
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// A disk image to boot: a standard floppy size (360K, 720K, 1.2M, 1.44M, 2.88M) goes in
    /// drive A:, anything else becomes the primary master hard disk. With no image, no disk
    /// option and no --bios, x86lab boots its bundled demo OS.
    image: Option<PathBuf>,

    /// The BIOS: a raw ROM image (64 KiB to 1 MiB, a multiple of 64 KiB), mapped so that it ends
    /// at 0xFFFFFFFF, its last 128 KiB (or all of it) also ending at 0xFFFFF, as on a PC; the CPU
    /// starts at the reset vector F000:FFF0. Default: x86lab's own BIOS (bios/), built in.
    #[arg(long, value_name = "ROM")]
    bios: Option<PathBuf>,

    /// A VGA BIOS option ROM to map at 0xC0000 (e.g. /usr/share/vgabios/vgabios.bin).
    #[arg(long, value_name = "ROM")]
    vga_bios: Option<PathBuf>,

    /// Floppy image for drive A:.
    #[arg(long, value_name = "FILE")]
    fda: Option<PathBuf>,
    /// Floppy image for drive B:.
    #[arg(long, value_name = "FILE")]
    fdb: Option<PathBuf>,
    /// Hard disk image: primary master.
    #[arg(long, value_name = "FILE")]
    hda: Option<PathBuf>,
    /// Hard disk image: primary slave.
    #[arg(long, value_name = "FILE")]
    hdb: Option<PathBuf>,
    /// Hard disk image: secondary master.
    #[arg(long, value_name = "FILE")]
    hdc: Option<PathBuf>,
    /// Hard disk image: secondary slave.
    #[arg(long, value_name = "FILE")]
    hdd: Option<PathBuf>,

    /// Boot a Multiboot (version 1) kernel, ELF or a.out kludge, as QEMU's -kernel does: the BIOS
    /// runs POST, then instead of booting a disk x86lab loads the kernel and starts it in 32-bit
    /// protected mode with EAX = 0x2BADB002 and EBX = the Multiboot information. A Linux
    /// bzImage is refused (not supported yet).
    #[arg(long, value_name = "FILE")]
    kernel: Option<PathBuf>,

    /// The kernel's command line (with --kernel). The kernel sees "FILE CMDLINE", as with QEMU.
    #[arg(long, value_name = "CMDLINE", requires = "kernel")]
    append: Option<String>,

    /// A Multiboot module (with --kernel): "FILE" or "FILE ARGS" (the whole text is the module's
    /// string); commas separate several, as in QEMU's -initrd ("a.bin x,b.bin"). Repeatable.
    #[arg(long, value_name = "FILE [ARGS]", requires = "kernel")]
    initrd: Vec<String>,

    /// Boot from the floppy (a) or the hard disk (c) first. Default: a if a floppy is given.
    #[arg(long, value_name = "a|c")]
    boot: Option<String>,

    /// Open every disk image read-only (guest writes fail as on a write-protected disk).
    #[arg(long)]
    readonly: bool,

    /// Which drives (fda, fdb, hda, hdb, hdc, hdd) come from a VM folder's settings: those are
    /// opened as a frozen base image plus its copy-on-write overlay (`Disk::open_overlaid`).
    #[arg(skip)]
    vm_disks: [bool; 6],

    /// Run without a window: guest time runs as fast as the host allows; COM1 and the debug
    /// console are on the terminal, the screen only in --screenshot.
    #[arg(long)]
    headless: bool,

    /// Window: enlarge the picture by this whole factor (default: the largest that fits the
    /// screen).
    #[arg(long, value_name = "N")]
    scale: Option<usize>,

    /// Write a PNG of the screen at the end of the run: the guest's display size (720x400 for
    /// text, 640x400 for 320x200 modes, 640x480), whatever the window's scale.
    #[arg(long, value_name = "FILE.png")]
    screenshot: Option<PathBuf>,

    /// Where bytes written to port 0xE9 go: stdio, none, or file:PATH. Default: stdio.
    #[arg(long, value_name = "stdio|none|file:PATH")]
    debugcon: Option<String>,

    /// Where COM1's output goes and where its input comes from: stdio (the terminal or a pipe),
    /// none, or file:PATH (output only). Default: stdio when headless.
    #[arg(long, value_name = "stdio|none|file:PATH")]
    serial: Option<String>,

    /// Guest time runs at this many instructions per second (virtual time: a run is
    /// reproducible whatever the host's speed).
    #[arg(long, value_name = "N")]
    ips: Option<u64>,

    /// The RTC's start time, e.g. 2000-01-01T00:00:00 (UTC). Default: the host's clock.
    #[arg(long, value_name = "YYYY-MM-DDTHH:MM:SS")]
    rtc: Option<String>,

    /// Guest RAM in MiB (1 to 3072). Default: 32.
    #[arg(long, value_name = "MiB")]
    memory: Option<u32>,

    /// Before running, restore this snapshot (a name in the VM folder's snapshots/, or a file
    /// path when no VM folder is given). The machine must have the same RAM, BIOS and disks.
    #[arg(long, value_name = "SNAP")]
    restore: Option<String>,

    /// When the run stops (e.g. --max-instructions), save a snapshot under this name (in the VM
    /// folder's snapshots/, or at this path when no VM folder is given).
    #[arg(long, value_name = "SNAP")]
    save_snapshot: Option<String>,

    /// A one-line description stored with --save-snapshot (shown by `x86lab snapshot list`).
    #[arg(long, value_name = "TEXT")]
    snapshot_description: Option<String>,

    /// At the end of the run, write every byte typed on COM1 and every key given to the guest,
    /// with the instruction count and guest time it arrived at, to FILE (an input log).
    #[arg(long, value_name = "FILE")]
    record_input: Option<PathBuf>,

    /// Give the guest the input recorded in FILE (by --record-input) at exactly the moments it
    /// came before: from the same start (power-on, or the same --restore), the run is the
    /// recorded one, instruction for instruction.
    #[arg(long, value_name = "FILE")]
    replay_input: Option<PathBuf>,

    /// Stop after this many instructions (exit status 4).
    #[arg(long, value_name = "N")]
    max_instructions: Option<u64>,

    /// Print `stats: instructions=N seconds=S mips=M` on stderr at the end.
    #[arg(long)]
    stats: bool,

    /// End the run on a triple fault (exit status 6) instead of resetting the machine.
    #[arg(long)]
    stop_on_triple_fault: bool,

    /// Serve the GDB remote protocol on HOST:PORT (default 127.0.0.1:1234): `target remote
    /// HOST:PORT` in gdb. Addresses are linear; `monitor CMD` runs debugger commands. Works
    /// beside the window (which stays live) and with --headless.
    #[arg(long, value_name = "HOST:PORT", num_args = 0..=1, default_missing_value = x86lab::debugger::gdb::DEFAULT_ADDR)]
    gdb: Option<String>,

    /// Wait for gdb to connect before the first instruction (implies --gdb).
    #[arg(short = 'S')]
    wait_gdb: bool,
}

impl RunArgs {
    /// The arguments of `x86lab run DIR --headless`, nothing else given.
    fn for_folder(dir: &std::path::Path) -> RunArgs {
        let cli = Cli::try_parse_from([
            std::ffi::OsStr::new("x86lab"),
            "run".as_ref(),
            dir.as_os_str(),
            "--headless".as_ref(),
        ])
        .expect("a plain run command line parses");
        match cli.command {
            Command::Run(a) => a,
            _ => unreachable!("parsed as run"),
        }
    }

    /// The gdb address, if gdb is wanted.
    fn gdb_addr(&self) -> Option<String> {
        match (&self.gdb, self.wait_gdb) {
            (Some(a), _) => Some(a.clone()),
            (None, true) => Some(x86lab::debugger::gdb::DEFAULT_ADDR.to_string()),
            (None, false) => None,
        }
    }
}

fn main() -> ExitCode {
    vmlog::init();
    let cli = Cli::parse();
    match cli.command {
        Command::New(a) => finish(vmcli::new(a)),
        Command::Snapshot(a) => finish(vmcli::snapshot(a)),
        Command::Disk(a) => finish(vmcli::disk(a)),
        Command::Run(args) => match run(args) {
            Ok(code) => ExitCode::from(code),
            Err(msg) => {
                eprintln!("x86lab: {msg}");
                ExitCode::from(status::USAGE)
            }
        },
        Command::Debug(args) => match debug(args) {
            Ok(code) => ExitCode::from(code),
            Err(msg) => {
                eprintln!("x86lab: {msg}");
                ExitCode::from(status::USAGE)
            }
        },
    }
}

fn finish(r: Result<u8, String>) -> ExitCode {
    match r {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("x86lab: {msg}");
            ExitCode::from(status::USAGE)
        }
    }
}

/// A thread that forwards bytes typed on (or piped into) stdin to COM1.
fn stdin_reader() -> std::sync::mpsc::Receiver<u8> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || buf[..n].iter().any(|b| tx.send(*b).is_err()) {
                break;
            }
        }
    });
    rx
}

fn parse_sink(s: &str) -> Result<Sink, String> {
    match s {
        "stdio" => Ok(Sink::Stdout),
        "none" => Ok(Sink::None),
        _ => {
            if let Some(path) = s.strip_prefix("file:") {
                let f = std::fs::File::create(path).map_err(|e| format!("--debugcon: cannot create {path}: {e}"))?;
                Ok(Sink::File(std::io::BufWriter::new(f)))
            } else {
                Err(format!("--debugcon: '{s}' is not stdio, none or file:PATH"))
            }
        }
    }
}

/// x86lab's own BIOS (bios/, rebuilt by tools/build-bios).
const X86LAB_BIOS: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/bios/x86lab-bios.bin"));

/// The demo OS's boot floppy (roms/demo/, rebuilt by tools/build-demo).
const DEMO_OS: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/roms/demo/demo.img"));

/// Standard floppy image sizes in bytes.
const FLOPPY_SIZES: [u64; 8] = [163_840, 184_320, 327_680, 368_640, 737_280, 1_228_800, 1_474_560, 2_949_120];

type Disks = ([Option<Disk>; 2], [Option<Disk>; 4], [BootDevice; 2]);

/// Opens every disk image named on the command line, before the guest starts.
fn open_disks(args: &RunArgs) -> Result<Disks, String> {
    let mut fd: [Option<PathBuf>; 2] = [args.fda.clone(), args.fdb.clone()];
    let mut hd: [Option<PathBuf>; 4] = [args.hda.clone(), args.hdb.clone(), args.hdc.clone(), args.hdd.clone()];
    if let Some(img) = &args.image {
        let len =
            std::fs::metadata(img).map_err(|e| format!("{}: cannot open the disk image: {e}", img.display()))?.len();
        let slot = if FLOPPY_SIZES.contains(&len) { &mut fd[0] } else { &mut hd[0] };
        if slot.is_some() {
            return Err(format!("{}: the drive it would go in is already given by an option", img.display()));
        }
        *slot = Some(img.clone());
    }
    let open = |p: &PathBuf, floppy: bool, slot: usize| -> Result<Disk, String> {
        let r = if args.vm_disks[slot] {
            Disk::open_overlaid(p, args.readonly, floppy)
        } else if floppy {
            Disk::open_floppy(p, args.readonly)
        } else {
            Disk::open(p, args.readonly)
        };
        r.map_err(|e| e.to_string())
    };
    let mut floppies: [Option<Disk>; 2] = [None, None];
    let no_disks = fd.iter().chain(hd.iter()).all(Option::is_none);
    if no_disks && args.bios.is_none() && args.kernel.is_none() {
        // `x86lab run` with nothing to run boots the bundled demo OS (roms/demo/), from a copy
        // in memory: its disk writes are not kept.
        let demo = Disk::from_bytes(DEMO_OS.to_vec(), false).map_err(|e| format!("the built-in demo OS: {e}"))?;
        floppies[0] = Some(demo);
    }
    for (i, p) in fd.iter().enumerate() {
        if let Some(p) = p {
            floppies[i] = Some(open(p, true, i)?);
        }
    }
    let mut hard_disks: [Option<Disk>; 4] = [None, None, None, None];
    for (i, p) in hd.iter().enumerate() {
        if let Some(p) = p {
            hard_disks[i] = Some(open(p, false, 2 + i)?);
        }
    }
    let first = match args.boot.as_deref() {
        Some("a") | Some("A") => BootDevice::Floppy,
        Some("c") | Some("C") => BootDevice::HardDisk,
        Some(other) => return Err(format!("--boot {other}: give a (floppy) or c (hard disk)")),
        None if floppies[0].is_some() || hard_disks.iter().all(Option::is_none) => BootDevice::Floppy,
        None => BootDevice::HardDisk,
    };
    let second = if first == BootDevice::Floppy { BootDevice::HardDisk } else { BootDevice::Floppy };
    Ok((floppies, hard_disks, [first, second]))
}

/// Builds the machine a `run` (or `debug`) command line describes, checking every file first.
fn build_machine(args: &RunArgs) -> Result<Machine, String> {
    let bios = match &args.bios {
        Some(p) => std::fs::read(p).map_err(|e| format!("{}: cannot read the ROM image: {e}", p.display()))?,
        None => X86LAB_BIOS.to_vec(),
    };
    let bios_name = args.bios.as_ref().map_or("the built-in x86lab BIOS".to_string(), |p| p.display().to_string());
    let (floppies, hard_disks, boot_order) = open_disks(args)?;
    let vga_bios = match &args.vga_bios {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("{}: cannot read the VGA BIOS: {e}", p.display()))?),
        None => None,
    };
    if args.scale.is_some_and(|n| !(1..=16).contains(&n)) {
        return Err(format!("--scale {}: give 1 to 16", args.scale.unwrap_or(0)));
    }
    let memory = args.memory.unwrap_or(32);
    if !(1..=3072).contains(&memory) {
        return Err(format!("--memory {memory}: give 1 to 3072 MiB"));
    }
    let debugcon = parse_sink(args.debugcon.as_deref().unwrap_or("stdio"))?;
    let serial_arg = args.serial.as_deref().unwrap_or("stdio");
    let serial = parse_sink(serial_arg)?;
    let ips = args.ips.unwrap_or(x86lab::machine::clock::DEFAULT_IPS);
    if ips == 0 {
        return Err("--ips 0: give a positive number of instructions per second".into());
    }
    let rtc_unix = match &args.rtc {
        Some(s) => x86lab::devices::rtc_cmos::parse_rtc_time(s)
            .ok_or_else(|| format!("--rtc {s}: expected YYYY-MM-DDTHH:MM:SS, e.g. 2000-01-01T00:00:00"))?,
        None => {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
        }
    };
    let ram_bytes = memory as usize * 1024 * 1024;
    let cmos = x86lab::devices::rtc_cmos::CmosConfig { ram_bytes: ram_bytes as u64, ..Default::default() };
    let mut m = Machine::new(MachineConfig {
        ram_bytes,
        bios,
        debugcon,
        serial,
        ips,
        rtc_unix,
        cmos,
        floppies,
        hard_disks,
        boot_order,
        vga_bios,
    })
    .map_err(|e| format!("{bios_name}: {}", e.0))?;
    m.stop_on_triple_fault = args.stop_on_triple_fault;
    if let Some(k) = &args.kernel {
        let kernel = load_multiboot(k, args, ram_bytes as u64)?;
        m.set_multiboot(kernel).map_err(|e| format!("--kernel: the Multiboot option ROM: {}", e.0))?;
    }
    Ok(m)
}

/// Reads and checks a `--kernel` and its `--initrd` modules (see x86lab::machine::multiboot).
fn load_multiboot(
    kernel: &std::path::Path,
    args: &RunArgs,
    ram: u64,
) -> Result<x86lab::machine::multiboot::Multiboot, String> {
    use x86lab::machine::multiboot::{self, Module, Multiboot};
    let image = multiboot::read_bounded(kernel, "kernel", ram).map_err(|e| e.0)?;
    let mut modules = Vec::new();
    let mut total = image.len() as u64;
    for spec in multiboot::split_modules(&args.initrd) {
        let file = spec.split(' ').next().unwrap_or_default();
        let data = multiboot::read_bounded(std::path::Path::new(file), "module (--initrd)", ram - total.min(ram))
            .map_err(|e| e.0)?;
        total += data.len() as u64;
        modules.push(Module { data, string: spec });
    }
    let cmdline = format!("{} {}", kernel.display(), args.append.as_deref().unwrap_or(""));
    Multiboot::new(&kernel.display().to_string(), image, cmdline, modules, ram).map_err(|e| e.0)
}

/// `x86lab debug`: the machine paused at the reset vector, then gdb (with --gdb) and the REPL.
/// COM1 input is not connected to stdin here: stdin carries the debugger's commands.
fn debug(mut args: DebugArgs) -> Result<u8, String> {
    let vm = vmcli::prepare(&mut args.run)?;
    vmcli::open_log(vm.as_ref());
    let mut m = build_machine(&args.run)?;
    vmcli::restore(&mut m, &args.run, vm.as_ref())?;
    let mut d = Debugger::new(m);
    d.snapshot_dir = match &vm {
        Some(f) => f.snapshots_dir(),
        None => PathBuf::from(x86lab::debugger::DEFAULT_SNAPSHOT_DIR),
    };
    d.budget_end = args.run.max_instructions;
    let again = args.run.clone();
    d.set_factory(Box::new(move || build_machine(&again)));
    if let Some(addr) = args.run.gdb_addr() {
        let msg = x86lab::debugger::gdb::serve(&mut d, &addr)?;
        println!("{msg}");
    }
    let st = x86lab::debugger::repl::run(&mut d, args.script.as_deref())?;
    d.m.flush();
    Ok(st as u8)
}

fn run(mut args: RunArgs) -> Result<u8, String> {
    let vm = vmcli::prepare(&mut args)?;
    vmcli::open_log(vm.as_ref());
    let mut m = build_machine(&args)?;
    vmcli::restore(&mut m, &args, vm.as_ref())?;
    // In a window started from a terminal, the keyboard is the window's and the terminal is
    // kept for the debugger (the window's debugger key); a pipe still feeds COM1.
    if let Some(p) = &args.replay_input {
        let events = x86lab::snapshot::replay::read_log(p)?;
        let now = m.cpu.icount;
        let late = events.iter().filter(|e| e.icount < now).count();
        if late > 0 {
            return Err(format!(
                "{}: {late} event(s) come before instruction {now}, where this run starts (record and replay from \
                 the same start: power-on or the same --restore)",
                p.display()
            ));
        }
        m.replay = events.into();
    }
    let window = !args.headless;
    // A replayed run takes its input from the log only.
    if args.serial.as_deref().unwrap_or("stdio") == "stdio"
        && !(window && std::io::stdin().is_terminal())
        && args.replay_input.is_none()
    {
        m.serial_input = Some(stdin_reader());
        // Headless with a pipe or file on stdin: paced input (bytes enter COM1 when the guest
        // waits for them; the machine waits for the host), so a piped script gives the same
        // run every time. A terminal, or a window that paces guest time to the wall clock,
        // gets the bytes as they come.
        m.serial_paced = !window && !std::io::stdin().is_terminal();
    }
    let start = Instant::now();
    if let Some(p) = &args.screenshot {
        // Fail now rather than after the run.
        std::fs::File::create(p).map_err(|e| format!("--screenshot {}: {e}", p.display()))?;
    }
    // `None`: the window was closed (or powered off) while the guest ran.
    let (mut m, stop) = match args.gdb_addr() {
        _ if !args.headless => run_window(m, &args, vm.as_ref())?,
        None => {
            let stop = m.run(args.max_instructions.unwrap_or(u64::MAX));
            (m, Some(stop))
        }
        Some(addr) => {
            // The debugger's fast path (no history), serving gdb when it connects.
            let mut d = Debugger::new(m);
            d.history_cap = 0;
            d.budget_end = args.max_instructions;
            let Some(stop) = x86lab::debugger::gdb::run_served(&mut d, &addr, args.wait_gdb)? else {
                eprintln!("x86lab: killed by gdb");
                return Ok(status::HALTED);
            };
            (d.m, Some(stop))
        }
    };
    let secs = start.elapsed().as_secs_f64();
    m.bus.debugcon.flush();
    let cs = m.cpu.seg[1].selector;
    let eip = m.cpu.eip;
    vmcli::save(&m, &args, vm.as_ref(), &format!("{stop:?}"))?;
    if let Some(p) = &args.record_input {
        x86lab::snapshot::replay::write_log(p, &m.bus.input_log)?;
    }
    log::info!("run ended: {stop:?} after instruction {} ({secs:.3} s)", m.cpu.icount);
    let code = match stop {
        None => status::HALTED,
        Some(Stop::GuestExit(s)) => s as u8,
        Some(Stop::Budget) => {
            eprintln!("x86lab: stopped after {} instructions (--max-instructions) at {cs:04x}:{eip:08x}", m.cpu.icount);
            status::BUDGET
        }
        Some(Stop::HaltedForever) => {
            let why = if m.cpu.flags.get(x86lab::cpu::Eflags::IF) {
                "no device can raise an interrupt"
            } else {
                "interrupts are disabled"
            };
            eprintln!("x86lab: the guest halted at {cs:04x}:{eip:08x} and {why}, so nothing can wake it: run ended");
            status::HALTED
        }
        Some(Stop::TripleFault) => {
            let cause = m.cpu.last_fault.map(|f| f.fault.to_string()).unwrap_or_default();
            eprintln!(
                "x86lab: triple fault at {cs:04x}:{eip:08x} (last exception: {cause}); stopped (--stop-on-triple-fault)"
            );
            status::TRIPLE_FAULT
        }
    };
    if let Some(p) = &args.screenshot {
        x86lab::frontend::screenshot::Image::of_machine(&m).save_png(p)?;
    }
    if args.stats {
        // The busiest exits first (trap-and-emulate made visible), then the one stats line last.
        let rows = m.bus.exits.table(&m.cpu.interrupt_counts, &m.cpu.exception_counts);
        if !rows.is_empty() {
            eprintln!("exits (top {} of {}):", rows.len().min(10), rows.len());
            for r in rows.iter().take(10) {
                eprintln!("  {:>12}  {:<10} {}", r.count, r.kind, r.what);
            }
        }
        let n = m.cpu.icount;
        let mips = if secs > 0.0 { n as f64 / secs / 1e6 } else { 0.0 };
        eprintln!("stats: instructions={n} seconds={secs:.3} mips={mips:.1}");
    }
    Ok(code)
}

/// Runs the machine in a window (see `x86lab::frontend::window`); the reset hotkey builds a
/// fresh machine from the same command line.
#[cfg(feature = "window")]
fn run_window(
    m: Machine,
    args: &RunArgs,
    vm: Option<&x86lab::vm::VmFolder>,
) -> Result<(Machine, Option<Stop>), String> {
    use x86lab::frontend::window;
    // The snapshot hotkeys' file: "window" in a VM folder's snapshots/, else in the current folder.
    let snapshot = match vm {
        Some(f) => f.snapshot_path("window")?,
        None => PathBuf::from("x86lab-window.snap"),
    };
    let disk = [&args.image, &args.fda, &args.fdb, &args.hda, &args.hdb, &args.hdc, &args.hdd, &args.bios]
        .into_iter()
        .flatten()
        .next()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let name = match (vm, disk) {
        (Some(f), _) => f.name.clone(),
        (None, Some(d)) => d,
        (None, None) => "demo OS".to_string(),
    };
    let again = args.clone();
    let factory: window::Factory = Box::new(move || build_machine(&again));
    let opts = window::Options {
        name,
        scale: args.scale,
        max_instructions: args.max_instructions,
        screenshot_dir: PathBuf::from("."),
        snapshot,
        gdb: args.gdb_addr(),
        wait_gdb: args.wait_gdb,
    };
    let out = window::run(m, opts, Some(factory))?;
    let stop = match out.ending {
        window::Ending::Stopped(s) => Some(s),
        window::Ending::Closed => None,
    };
    Ok((out.machine, stop))
}

#[cfg(not(feature = "window"))]
fn run_window(
    _m: Machine,
    _args: &RunArgs,
    _vm: Option<&x86lab::vm::VmFolder>,
) -> Result<(Machine, Option<Stop>), String> {
    Err("this x86lab was built without its window (cargo feature `window`): run with --headless".into())
}
