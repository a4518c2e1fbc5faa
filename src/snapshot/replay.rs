//! Input logs: the host input a run gave its guest, with the moment of each event, so that a
//! later run from the same start (power-on, or the same snapshot) replays it exactly
//! (`x86lab run --record-input FILE`, `--replay-input FILE`).
//!
//! The file is text, one event per line after a header:
//!
//! ```text
//! # x86lab input log 1
//! 1234567 61728350 serial 0x68
//! 2345678 117283900 key 30 down
//! ```
//!
//! The fields: the instruction count, the guest time in nanoseconds (time alone moves while a
//! halted CPU skips to its next device event), then `serial BYTE` (a byte typed on COM1) or
//! `key INDEX down|up` (a PC key by its index in [`Key::ALL`]). Events are in order; a file
//! whose events go backwards, or with a bad line, is refused with its line number.

use crate::devices::kbc8042::Key;
use crate::machine::{HostInput, InputEvent};
use std::path::Path;

const HEADER: &str = "# x86lab input log 1";

/// The text of an input log.
pub fn format_log(events: &[InputEvent]) -> String {
    let mut s = format!("{HEADER}\n");
    for e in events {
        let what = match e.input {
            HostInput::Serial(b) => format!("serial {b:#04x}"),
            HostInput::Key(k, down) => {
                let i = Key::ALL.iter().position(|x| *x == k).unwrap_or(0);
                format!("key {i} {}", if down { "down" } else { "up" })
            }
        };
        s.push_str(&format!("{} {} {what}\n", e.icount, e.tick));
    }
    s
}

/// Writes an input log.
pub fn write_log(path: &Path, events: &[InputEvent]) -> Result<(), String> {
    std::fs::write(path, format_log(events)).map_err(|e| format!("{}: cannot write the input log: {e}", path.display()))
}

/// Parses an input log's text (`path` for error messages).
pub fn parse_log(text: &str, path: &Path) -> Result<Vec<InputEvent>, String> {
    let mut out: Vec<InputEvent> = Vec::new();
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == HEADER => {}
        _ => return Err(format!("{}:1: not an x86lab input log (the first line must be `{HEADER}`)", path.display())),
    }
    for (i, line) in lines {
        let n = i + 1;
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = |what: &str| format!("{}:{n}: {what} (in `{l}`)", path.display());
        let f: Vec<&str> = l.split_whitespace().collect();
        let num = |s: &str| -> Option<u64> {
            match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            }
        };
        let (Some(icount), Some(tick)) = (f.first().and_then(|s| num(s)), f.get(1).and_then(|s| num(s))) else {
            return Err(bad("expected INSTRUCTIONS TIME serial BYTE | key INDEX down|up"));
        };
        let input = match f.get(2..) {
            Some(["serial", b]) => HostInput::Serial(
                num(b).and_then(|b| u8::try_from(b).ok()).ok_or_else(|| bad("a serial byte is 0 to 0xff"))?,
            ),
            Some(["key", k, d @ ("down" | "up")]) => {
                let key = num(k).and_then(|k| Key::ALL.get(k as usize).copied()).ok_or_else(|| bad("no such key"))?;
                HostInput::Key(key, *d == "down")
            }
            _ => return Err(bad("expected serial BYTE or key INDEX down|up")),
        };
        let e = InputEvent { icount, tick, input };
        if out.last().is_some_and(|p| (p.icount, p.tick) > (icount, tick)) {
            return Err(bad("events must be in order of time"));
        }
        out.push(e);
    }
    Ok(out)
}

/// Reads an input log.
pub fn read_log(path: &Path) -> Result<Vec<InputEvent>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the input log: {e}", path.display()))?;
    parse_log(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let ev = vec![
            InputEvent { icount: 5, tick: 250, input: HostInput::Serial(b'h') },
            InputEvent { icount: 5, tick: 900, input: HostInput::Key(Key::ALL[3], true) },
            InputEvent { icount: 70, tick: 3500, input: HostInput::Key(Key::ALL[3], false) },
        ];
        let p = Path::new("in.log");
        assert_eq!(parse_log(&format_log(&ev), p).unwrap(), ev);
        assert!(parse_log("hello\n", p).unwrap_err().starts_with("in.log:1:"));
        let e = parse_log(&format!("{HEADER}\n5 10 serial 0x100\n"), p).unwrap_err();
        assert!(e.starts_with("in.log:2:"), "{e}");
        let e = parse_log(&format!("{HEADER}\n5 10 serial 1\n4 10 serial 1\n"), p).unwrap_err();
        assert!(e.starts_with("in.log:3:") && e.contains("order"), "{e}");
        assert!(parse_log(&format!("{HEADER}\n1 1 key 9999 down\n"), p).is_err());
        assert!(parse_log(&format!("{HEADER}\n1 1 mouse 1\n"), p).is_err());
    }
}
