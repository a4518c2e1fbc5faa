//! Logging: `RUST_LOG` (default `warn`) decides what reaches the terminal, through env_logger;
//! a run of a VM folder also appends its log to `NAME/NAME.log` — every record at `info` level
//! or more (or what `RUST_LOG` lets through, if that is more), one line each:
//!
//! ```text
//! 2026-11-26 14:59:16.123 INFO  x86lab::vmcli: restored mybox/snapshots/booted.snap at instruction 50000000 in 21.3 ms
//! ```
//!
//! A log file larger than [`MAX_LOG_BYTES`] when a run starts is renamed `NAME.log.1` (replacing
//! an older one), so a VM folder's logs stay bounded.

use log::{LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// A log file above this size is rotated when a run starts.
pub const MAX_LOG_BYTES: u64 = 8 << 20;

/// The least severe level written to the VM's log file.
const FILE_LEVEL: LevelFilter = LevelFilter::Info;

struct Tee {
    term: env_logger::Logger,
    file: OnceLock<Mutex<std::io::LineWriter<std::fs::File>>>,
}

static LOGGER: OnceLock<&'static Tee> = OnceLock::new();

impl Tee {
    fn file_wants(&self, level: log::Level) -> bool {
        self.file.get().is_some() && (level <= FILE_LEVEL || level <= self.term.filter())
    }
}

impl Log for Tee {
    fn enabled(&self, m: &Metadata) -> bool {
        self.term.enabled(m) || self.file_wants(m.level())
    }

    fn log(&self, r: &Record) {
        if self.term.matches(r) {
            self.term.log(r);
        }
        if self.file_wants(r.level())
            && let Some(f) = self.file.get()
            && let Ok(mut f) = f.lock()
        {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let _ = writeln!(
                f,
                "{}.{:03} {:<5} {}: {}",
                x86lab::vm::format_utc(now.as_secs()),
                now.subsec_millis(),
                r.level(),
                r.target(),
                r.args()
            );
        }
    }

    fn flush(&self) {
        self.term.flush();
        if let Some(f) = self.file.get()
            && let Ok(mut f) = f.lock()
        {
            let _ = f.flush();
        }
    }
}

/// Installs the logger: the terminal as `RUST_LOG` says (default `warn`), no file yet.
pub fn init() {
    let term = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .build();
    let max = term.filter();
    let tee: &'static Tee = Box::leak(Box::new(Tee { term, file: OnceLock::new() }));
    if log::set_logger(tee).is_ok() {
        log::set_max_level(max);
        let _ = LOGGER.set(tee);
    }
}

/// Appends this process's log records to `path` from now on (once per process).
pub fn open_file(path: &Path) -> std::io::Result<()> {
    let Some(tee) = LOGGER.get() else { return Ok(()) };
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        std::fs::rename(path, old)?;
    }
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    if tee.file.set(Mutex::new(std::io::LineWriter::new(f))).is_ok() {
        log::set_max_level(tee.term.filter().max(FILE_LEVEL));
        log::info!("x86lab {} started: {}", env!("CARGO_PKG_VERSION"), std::env::args().collect::<Vec<_>>().join(" "));
    }
    Ok(())
}
