//! The debugger's front end for people and scripts.
//!
//! - At a terminal: a prompt `(x86lab) ` with line editing and history (rustyline); an empty
//!   line repeats `step` or `next`; Ctrl-C pauses a running guest (and at the prompt clears the
//!   line); Ctrl-D or `quit` leaves.
//! - From a script (`--script FILE`) or a pipe: the same commands, one per line (`#` starts a
//!   comment line). There is no prompt; instead each command is echoed as `(x86lab) COMMAND` on
//!   its own line before its output, so a transcript reads like a terminal session and is the
//!   same on every run. The session ends at the end of the input. Ctrl-C (SIGINT) pauses a
//!   running guest; a second one while nothing runs ends the process with status 130.

use super::commands::Action;
use super::{Debugger, interrupt_requested, request_interrupt};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The prompt (and the echo prefix in scripts).
pub const PROMPT: &str = "(x86lab) ";

static RUNNING: AtomicBool = AtomicBool::new(false);
static IDLE_INTERRUPTS: AtomicU32 = AtomicU32::new(0);

/// Installs the process's Ctrl-C handler (once): it pauses a running guest.
pub fn install_ctrlc() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let r = ctrlc::set_handler(|| {
            request_interrupt();
            if !RUNNING.load(Ordering::SeqCst) && IDLE_INTERRUPTS.fetch_add(1, Ordering::SeqCst) >= 1 {
                eprintln!("\nx86lab: interrupted twice while idle: leaving");
                std::process::exit(130);
            }
        });
        if let Err(e) = r {
            log::warn!("cannot install the Ctrl-C handler: {e}");
        }
    });
}

/// Runs one command and prints its output. Returns the exit status when the session ends.
fn run_line(dbg: &mut Debugger, line: &str) -> Option<i32> {
    RUNNING.store(true, Ordering::SeqCst);
    IDLE_INTERRUPTS.store(0, Ordering::SeqCst);
    let out = dbg.execute(line, &mut || false);
    RUNNING.store(false, Ordering::SeqCst);
    let _ = interrupt_requested();
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(out.text.as_bytes());
    let _ = so.flush();
    drop(so);
    match out.action {
        Action::None => None,
        Action::Quit(st) => Some(st),
        Action::Gdb(addr) => {
            match super::gdb::serve(dbg, &addr) {
                Ok(msg) => println!("{msg}"),
                Err(e) => println!("error: {e}"),
            }
            if dbg.ended.is_none() {
                println!("{}", dbg.where_line());
            }
            None
        }
    }
}

/// The session: a banner, then commands from `script`, a pipe, or the terminal until `quit` or
/// the end of the input. Returns the process exit status.
pub fn run(dbg: &mut Debugger, script: Option<&Path>) -> Result<i32, String> {
    install_ctrlc();
    let when = if dbg.m.cpu.icount == 0 {
        "before its first instruction".to_string()
    } else {
        format!("at instruction {} (where the window or a restored snapshot left it)", dbg.m.cpu.icount)
    };
    println!("x86lab debugger: the machine is paused {when}. `help` lists the commands.");
    println!("{}", dbg.where_line());
    if let Some(path) = script {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(run_lines(dbg, text.lines().map(|l| l.to_string())));
    }
    if !std::io::stdin().is_terminal() {
        let lines = std::io::stdin().lock().lines().map_while(Result::ok);
        return Ok(run_lines(dbg, lines));
    }
    interactive(dbg)
}

fn run_lines(dbg: &mut Debugger, lines: impl Iterator<Item = String>) -> i32 {
    for line in lines {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        println!("{PROMPT}{l}");
        if let Some(st) = run_line(dbg, l) {
            return st;
        }
    }
    0
}

fn interactive(dbg: &mut Debugger) -> Result<i32, String> {
    use rustyline::error::ReadlineError;
    let mut rl = rustyline::DefaultEditor::new().map_err(|e| format!("cannot start line editing: {e}"))?;
    let mut last = String::new();
    loop {
        match rl.readline(PROMPT) {
            Ok(line) => {
                let l = line.trim().to_string();
                let l = if l.is_empty() && matches!(last.split_whitespace().next(), Some("s" | "step" | "n" | "next")) {
                    last.clone()
                } else {
                    l
                };
                if l.is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(l.as_str());
                last = l.clone();
                if let Some(st) = run_line(dbg, &l) {
                    return Ok(st);
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return Ok(0),
            Err(e) => return Err(format!("reading the terminal: {e}")),
        }
    }
}
