//! The `x86lab` command: parses the command line, sets up logging, builds a machine and runs it.
//! Everything else lives in the library.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use x86lab::devices::debugcon::Sink;
use x86lab::machine::{Machine, MachineConfig, Stop};

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
    /// Run a guest: a raw BIOS/ROM image given with --bios.
    #[command(after_help = "EXIT STATUS:\n  \
  odd N  the guest wrote v to the exit device (port 0xF4): N = (v << 1) | 1, as QEMU's isa-debug-exit\n  \
  0      the guest halted (HLT) with nothing left that could wake it\n  \
  2      bad command line, or a file that cannot be used\n  \
  4      --max-instructions reached\n  \
  6      triple fault with --stop-on-triple-fault\n\n\
EXAMPLES:\n  \
  x86lab run --bios roms/tests/realmode.bin --headless\n  \
  x86lab run --bios rom.bin --headless --stats --max-instructions 1000000")]
    Run(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// A disk image to boot (needs the PC devices, which are not there yet: use --bios).
    image: Option<PathBuf>,

    /// A raw ROM image (64 KiB to 1 MiB, a multiple of 64 KiB). It is mapped so that it ends at
    /// 0xFFFFFFFF, and its last 128 KiB (or all of it) also end at 0xFFFFF, as on a PC; the CPU
    /// starts at the reset vector F000:FFF0.
    #[arg(long, value_name = "ROM")]
    bios: Option<PathBuf>,

    /// Run without a window (the only front end so far).
    #[arg(long)]
    headless: bool,

    /// Where bytes written to port 0xE9 go: stdio, none, or file:PATH. Default: stdio.
    #[arg(long, value_name = "stdio|none|file:PATH", default_value = "stdio")]
    debugcon: String,

    /// Guest RAM in MiB (1 to 3072).
    #[arg(long, value_name = "MiB", default_value_t = 32)]
    memory: u32,

    /// Stop after this many instructions (exit status 4).
    #[arg(long, value_name = "N")]
    max_instructions: Option<u64>,

    /// Print `stats: instructions=N seconds=S mips=M` on stderr at the end.
    #[arg(long)]
    stats: bool,

    /// End the run on a triple fault (exit status 6) instead of resetting the machine.
    #[arg(long)]
    stop_on_triple_fault: bool,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).format_timestamp(None).init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => match run(args) {
            Ok(code) => ExitCode::from(code),
            Err(msg) => {
                eprintln!("x86lab: {msg}");
                ExitCode::from(status::USAGE)
            }
        },
    }
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

fn run(args: RunArgs) -> Result<u8, String> {
    if let Some(img) = &args.image {
        return Err(format!(
            "{}: booting disk images needs the PC's devices and BIOS, which x86lab does not have yet; run a ROM with --bios ROM",
            img.display()
        ));
    }
    let Some(bios_path) = &args.bios else {
        return Err("nothing to run: give a ROM image with --bios ROM (see x86lab run --help)".into());
    };
    if !args.headless {
        log::info!("no window front end yet: running headless");
    }
    if !(1..=3072).contains(&args.memory) {
        return Err(format!("--memory {}: give 1 to 3072 MiB", args.memory));
    }
    let bios =
        std::fs::read(bios_path).map_err(|e| format!("{}: cannot read the ROM image: {e}", bios_path.display()))?;
    let debugcon = parse_sink(&args.debugcon)?;
    let mut m = Machine::new(MachineConfig { ram_bytes: args.memory as usize * 1024 * 1024, bios, debugcon })
        .map_err(|e| format!("{}: {}", bios_path.display(), e.0))?;
    m.stop_on_triple_fault = args.stop_on_triple_fault;

    let start = Instant::now();
    let stop = m.run(args.max_instructions.unwrap_or(u64::MAX));
    let secs = start.elapsed().as_secs_f64();
    m.bus.debugcon.flush();
    let cs = m.cpu.seg[1].selector;
    let eip = m.cpu.eip;
    let code = match stop {
        Stop::GuestExit(s) => s as u8,
        Stop::Budget => {
            eprintln!("x86lab: stopped after {} instructions (--max-instructions) at {cs:04x}:{eip:08x}", m.cpu.icount);
            status::BUDGET
        }
        Stop::HaltedForever => {
            let why = if m.cpu.flags.get(x86lab::cpu::Eflags::IF) {
                "no device can raise an interrupt"
            } else {
                "interrupts are disabled"
            };
            eprintln!("x86lab: the guest halted at {cs:04x}:{eip:08x} and {why}, so nothing can wake it: run ended");
            status::HALTED
        }
        Stop::TripleFault => {
            let cause = m.cpu.last_fault.map(|f| f.fault.to_string()).unwrap_or_default();
            eprintln!(
                "x86lab: triple fault at {cs:04x}:{eip:08x} (last exception: {cause}); stopped (--stop-on-triple-fault)"
            );
            status::TRIPLE_FAULT
        }
    };
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
