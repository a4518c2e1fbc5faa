//! The REPL's snapshot commands: `save SNAP [DESCRIPTION]`, `restore SNAP`, `snapshots`.
//!
//! A plain name is a file `SNAP.snap` in [`Debugger::snapshot_dir`]: the VM folder's
//! `snapshots/` for `x86lab debug NAME/`, else [`super::DEFAULT_SNAPSHOT_DIR`] in the current
//! directory. A name with a `/` or ending in `.snap` is a path used as given. Restoring is
//! two-phase (see [`crate::snapshot`]): a file that does not fit this machine is refused and the
//! machine is left as it was.

use super::Debugger;
use std::path::PathBuf;

impl Debugger {
    /// The file of snapshot `name`.
    pub fn snapshot_file(&self, name: &str) -> Result<PathBuf, String> {
        if name.is_empty() {
            return Err("give a snapshot name".into());
        }
        if name.contains('/') || name.ends_with(".snap") {
            return Ok(PathBuf::from(name));
        }
        if name.starts_with('.') || name.contains('\\') {
            return Err(format!("snapshot name '{name}': give a plain name (letters, digits, - and _)"));
        }
        Ok(self.snapshot_dir.join(format!("{name}.snap")))
    }

    /// `save SNAP [DESCRIPTION]`.
    pub(super) fn cmd_save(&mut self, rest: &str) -> Result<String, String> {
        let (name, desc) = match rest.split_once(char::is_whitespace) {
            Some((n, d)) => (n, d.trim().to_string()),
            None => (rest, String::new()),
        };
        let path = self.snapshot_file(name)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        }
        let desc =
            if desc.is_empty() { format!("saved in the debugger at instruction {}", self.m.cpu.icount) } else { desc };
        self.m.flush_host();
        let size = crate::snapshot::save(&self.m, &path, &desc).map_err(|e| e.to_string())?;
        log::info!("debugger: saved snapshot {} at instruction {}", path.display(), self.m.cpu.icount);
        Ok(format!("saved {} ({size} bytes) at instruction {}\n", path.display(), self.m.cpu.icount))
    }

    /// `restore SNAP`.
    pub(super) fn cmd_restore(&mut self, rest: &str) -> Result<String, String> {
        let path = self.snapshot_file(rest.trim())?;
        let s = crate::snapshot::restore_into(&mut self.m, &path).map_err(|e| e.to_string())?;
        log::info!("debugger: restored snapshot {} (instruction {})", path.display(), s.icount);
        self.state_replaced();
        Ok(format!(
            "restored {} (instruction {}{})\n{}\n",
            path.display(),
            s.icount,
            if s.description.is_empty() { String::new() } else { format!(": {}", s.description) },
            self.where_line()
        ))
    }

    /// `snapshots`.
    pub(super) fn cmd_snapshots(&self) -> String {
        let list = crate::vm::list_snapshots_in(&self.snapshot_dir);
        if list.is_empty() {
            return format!("no snapshots in {}\n", self.snapshot_dir.display());
        }
        let mut s = format!("snapshots in {}:\n", self.snapshot_dir.display());
        for e in list {
            match e.info {
                Ok(i) => s.push_str(&format!(
                    "  {:<16} {}  {:>12} instructions  {:>9} bytes  {}\n",
                    e.name,
                    crate::vm::format_utc(i.created_unix),
                    i.icount,
                    e.size,
                    i.description
                )),
                Err(err) => s.push_str(&format!("  {:<16} (unreadable: {err})\n", e.name)),
            }
        }
        s
    }

    /// After the machine's state was replaced or edited behind the run control's back (a
    /// restore, `write`, `set REG`): what the debugger remembered about the past no longer
    /// leads here, so the history and the checkpoints for going back start again from now.
    pub fn state_replaced(&mut self) {
        self.ended = None;
        self.history.clear();
        self.prev = super::RegSnap::of(&self.m.cpu);
        self.int_seen.copy_from_slice(&self.m.cpu.interrupt_counts[..]);
        self.last_event = None;
        self.last_stop = None;
        self.timeline_restart();
    }
}
