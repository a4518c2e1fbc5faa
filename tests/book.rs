//! The book (`book/`) is tested, not just written.
//!
//! 1. **Transcripts.** Every fenced block tagged `x86lab-session` in `book/src/**/*.md` is a shell
//!    session. Each line starting with `$ ` is a command, run from the repository root; the
//!    lines after it, up to the next `$ ` line or the end of the block, are its expected output.
//!    The output compared is the command's stdout followed by its stderr (x86lab writes the guest's
//!    debug console to stdout and its own messages and `--stats` to stderr, always after the run,
//!    so this is also the order a terminal shows them in).
//!
//!    Commands a session may use:
//!    - `x86lab ARGS...`: the real binary (`CARGO_BIN_EXE_x86lab`), killed after 60 s;
//!      `NAME=value` words before it set environment variables (`RUST_LOG=debug x86lab ...`);
//!    - `echo $?`: prints the exit status of the previous command of the same block;
//!    - `ls`, `cat`, `cp`, `rm`, `mkdir`, `cmp`: the host's own tools, to look at and change the
//!      files a lab creates (a VM folder, a snapshot, a disk image);
//!    - anything else (`tools/build-labs --check`, `mdbook`) is not run: put it in a ```sh block.
//!
//!    Arguments are split at spaces; single or double quotes group words. No pipes, no globs.
//!    A last `< FILE` gives the command FILE as its standard input (otherwise stdin is empty):
//!    `x86lab run roms/demo/demo.img --headless < book/labs/shell-tour.txt` types a script into
//!    the demo OS's shell over COM1.
//!
//!    Each block runs in a scratch folder of its own, removed afterwards, in which every entry
//!    of the repository's root (`roms`, `book`, `bios`, ...) is a symbolic link: paths read as
//!    from the repository root, while the files a lab creates (`x86lab new mybox`) stay in the
//!    scratch folder and never collide with another block's or another test run's.
//!
//! 2. **Masking volatile output.** An expected line is compared literally, except:
//!    - a line that is exactly `...` matches any number of lines (zero or more);
//!    - `[..]` inside a line matches any text within that line (possibly empty);
//!    - `{{N}}` inside a line matches a number: digits, optionally with a fraction (`0.412`).
//!
//!    Trailing spaces are ignored on both sides. So `stats: instructions=12345 seconds={{N}}
//!    mips={{N}}` keeps the instruction count (which virtual time makes exact) and masks the
//!    wall-clock figures.
//!
//! 3. **Links.** Every relative link `[text](path.md#anchor)` in the book's Markdown must point to
//!    a file that exists, and the anchor (if any) to a heading of that file (mdBook's id rule:
//!    lower case, spaces to `-`, punctuation dropped). Every chapter in `SUMMARY.md` must exist,
//!    and every `{{#include ...}}` must name an existing file and, with `:anchor`, an existing
//!    `ANCHOR: name` in it.
//!
//! When a chapter's transcript stops matching, this test names the file, the line of the block and
//! the first line that differs; fix the book or the emulator, whichever is wrong.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn book_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "md") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&root().join("book/src"), &mut v);
    v
}

/// A transcript block: the file, the line of its opening fence, and its lines.
struct Session {
    file: PathBuf,
    line: usize,
    lines: Vec<String>,
}

fn sessions(file: &Path, text: &str) -> Vec<Session> {
    let mut out = Vec::new();
    let mut cur: Option<Session> = None;
    let mut fence = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start();
        match cur.as_mut() {
            None => {
                if t.starts_with("```") {
                    let ticks = t.chars().take_while(|&c| c == '`').count();
                    let tag = t[ticks..].trim();
                    if tag == "x86lab-session" {
                        fence = "`".repeat(ticks);
                        cur = Some(Session { file: file.to_path_buf(), line: i + 1, lines: Vec::new() });
                    }
                }
            }
            Some(s) => {
                if t.starts_with(&fence) && t.trim() == fence {
                    out.push(cur.take().unwrap());
                } else {
                    s.lines.push(l.to_string());
                }
            }
        }
    }
    assert!(cur.is_none(), "{}: unclosed x86lab-session block", file.display());
    out
}

/// Splits a command line at spaces, with '...' and "..." grouping.
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut w = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => w.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut w));
                    in_word = false;
                }
            }
            None => {
                w.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(w);
    }
    words
}

/// The host tools a session may run besides `x86lab` (see the module documentation).
const HOST_TOOLS: [&str; 6] = ["ls", "cat", "cp", "rm", "mkdir", "cmp"];

/// A scratch folder for one block: every entry of the repository's root linked into it.
fn scratch_dir(tag: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("x86lab-book-{}-{tag}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in fs::read_dir(root()).map_err(|e| e.to_string())?.flatten() {
        let name = e.file_name();
        if name == ".git" || name == "target" {
            continue;
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(e.path(), dir.join(&name)).map_err(|e| e.to_string())?;
        #[cfg(not(unix))]
        return Err("the book's transcripts need symbolic links (a Unix host)".into());
    }
    Ok(dir)
}

/// Runs one command line in `cwd`; returns (stdout followed by stderr, exit status).
fn run(cmdline: &str, cwd: &Path, last_status: Option<i32>) -> Result<(String, i32), String> {
    let mut words = split_words(cmdline);
    if words == ["echo", "$?"] {
        let st = last_status.ok_or("`echo $?` with no command before it")?;
        return Ok((format!("{st}\n"), 0));
    }
    let mut stdin_file = None;
    if words.len() >= 2 && words[words.len() - 2] == "<" {
        stdin_file = words.pop();
        words.pop();
    }
    let mut env = Vec::new();
    let mut rest = &words[..];
    while let Some((first, tail)) = rest.split_first() {
        match first.split_once('=') {
            Some((k, v)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
                env.push((k.to_string(), v.to_string()));
                rest = tail;
            }
            _ => break,
        }
    }
    let Some((prog, args)) = rest.split_first() else { return Err("empty command".into()) };
    let mut cmd = if prog == "x86lab" {
        Command::new(env!("CARGO_BIN_EXE_x86lab"))
    } else if HOST_TOOLS.contains(&prog.as_str()) {
        Command::new(prog)
    } else {
        return Err(format!("only `x86lab ...`, `echo $?` and {HOST_TOOLS:?} can be replayed, not `{prog}`"));
    };
    let out_dir = cwd.with_extension("out");
    fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let (out_p, err_p) = (out_dir.join("stdout"), out_dir.join("stderr"));
    let stdin = match &stdin_file {
        Some(f) => Stdio::from(fs::File::open(cwd.join(f)).map_err(|e| format!("< {f}: {e}"))?),
        None => Stdio::null(),
    };
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("LC_ALL", "C")
        .stdin(stdin)
        .stdout(fs::File::create(&out_p).map_err(|e| e.to_string())?)
        .stderr(fs::File::create(&err_p).map_err(|e| e.to_string())?);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {prog}: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut text = String::from_utf8_lossy(&fs::read(&out_p).unwrap_or_default()).into_owned();
    text.push_str(&String::from_utf8_lossy(&fs::read(&err_p).unwrap_or_default()));
    let _ = fs::remove_dir_all(&out_dir);
    Ok((text, status.code().unwrap_or(-1)))
}

/// Does one actual line match one expected line (with `[..]` and `{{N}}`)?
fn line_matches(want: &str, got: &str) -> bool {
    fn rec(w: &str, g: &str) -> bool {
        if w.is_empty() {
            return g.is_empty();
        }
        if let Some(rest) = w.strip_prefix("[..]") {
            return (0..=g.len()).filter(|&i| g.is_char_boundary(i)).any(|i| rec(rest, &g[i..]));
        }
        if let Some(rest) = w.strip_prefix("{{N}}") {
            let int = g.bytes().take_while(u8::is_ascii_digit).count();
            if int == 0 {
                return false;
            }
            if rec(rest, &g[int..]) {
                return true;
            }
            if g[int..].starts_with('.') {
                let frac = g[int + 1..].bytes().take_while(u8::is_ascii_digit).count();
                return frac > 0 && rec(rest, &g[int + 1 + frac..]);
            }
            return false;
        }
        let c = w.chars().next().unwrap();
        g.starts_with(c) && rec(&w[c.len_utf8()..], &g[c.len_utf8()..])
    }
    rec(want.trim_end(), got.trim_end())
}

/// Do the actual lines match the expected ones (with `...` lines)? On a mismatch, says where.
fn lines_match(want: &[String], got: &[&str]) -> Result<(), String> {
    fn rec(w: &[String], g: &[&str]) -> bool {
        match w.split_first() {
            None => g.is_empty(),
            Some((first, rest)) if first.trim() == "..." => (0..=g.len()).any(|i| rec(rest, &g[i..])),
            Some((first, rest)) => !g.is_empty() && line_matches(first, g[0]) && rec(rest, &g[1..]),
        }
    }
    if rec(want, got) {
        return Ok(());
    }
    // Find the first expected line that cannot be matched in order, for the message.
    let mut gi = 0;
    for (wi, w) in want.iter().enumerate() {
        if w.trim() == "..." {
            continue;
        }
        let skipping = wi > 0 && want[wi - 1].trim() == "...";
        let found = if skipping {
            (gi..got.len()).find(|&j| line_matches(w, got[j]))
        } else {
            (gi < got.len() && line_matches(w, got[gi])).then_some(gi)
        };
        match found {
            Some(j) => gi = j + 1,
            None => {
                return Err(format!(
                    "expected line {} `{}`, got `{}`",
                    wi + 1,
                    w,
                    got.get(gi).copied().unwrap_or("<end of output>")
                ));
            }
        }
    }
    Err(format!("unexpected extra output from line {}: `{}`", gi + 1, got.get(gi).copied().unwrap_or("")))
}

fn check_session(s: &Session) -> Result<usize, String> {
    let rel = s.file.strip_prefix(root().join("book/src")).unwrap_or(&s.file);
    let file = rel.with_extension("").to_string_lossy().replace(['/', '\\'], "_");
    let cwd = scratch_dir(&format!("{file}-{}", s.line))?;
    let r = replay(s, &cwd);
    let _ = fs::remove_dir_all(&cwd);
    r
}

fn replay(s: &Session, cwd: &Path) -> Result<usize, String> {
    let mut last_status = None;
    let mut commands = 0;
    let mut i = 0;
    while i < s.lines.len() {
        let l = &s.lines[i];
        let Some(cmdline) = l.strip_prefix("$ ") else {
            if l.trim().is_empty() {
                i += 1;
                continue;
            }
            return Err(format!("output line `{l}` before any `$ ` command"));
        };
        let mut j = i + 1;
        while j < s.lines.len() && !s.lines[j].starts_with("$ ") {
            j += 1;
        }
        let mut want: Vec<String> = s.lines[i + 1..j].to_vec();
        while want.last().is_some_and(|l| l.trim().is_empty()) {
            want.pop();
        }
        let (out, status) = run(cmdline, cwd, last_status).map_err(|e| format!("`{cmdline}`: {e}"))?;
        let got: Vec<&str> = out.lines().collect();
        lines_match(&want, &got).map_err(|e| format!("`{cmdline}`: {e}\n--- actual output ---\n{out}"))?;
        if !cmdline.trim().starts_with("echo") {
            last_status = Some(status);
            commands += 1;
        }
        i = j;
    }
    Ok(commands)
}

#[test]
fn transcripts_replay() {
    let files = book_files();
    assert!(!files.is_empty(), "no book/src/**/*.md found");
    let all: Vec<Session> = files.iter().flat_map(|f| sessions(f, &fs::read_to_string(f).unwrap())).collect();
    assert!(!all.is_empty(), "the book has no x86lab-session blocks");
    // Run the sessions on a few threads: most are short ROM runs.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    let chunks: Vec<Vec<&Session>> = (0..threads).map(|t| all.iter().skip(t).step_by(threads).collect()).collect();
    let mut failures = Vec::new();
    let mut commands = 0;
    std::thread::scope(|sc| {
        let hs: Vec<_> = chunks
            .iter()
            .map(|c| {
                sc.spawn(move || {
                    c.iter()
                        .map(|s| (s, check_session(s)))
                        .map(|(s, r)| (format!("{}:{}", s.file.strip_prefix(root()).unwrap().display(), s.line), r))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in hs {
            for (loc, r) in h.join().unwrap() {
                match r {
                    Ok(n) => commands += n,
                    Err(e) => failures.push(format!("{loc}: {e}")),
                }
            }
        }
    });
    assert!(failures.is_empty(), "{} transcript(s) do not match:\n\n{}", failures.len(), failures.join("\n\n"));
    eprintln!("book: {} transcripts, {} commands replayed", all.len(), commands);
}

/// mdBook's heading id: lower case, alphanumerics kept, spaces and '-' to '-', '_' kept,
/// everything else dropped.
fn heading_id(h: &str) -> String {
    let mut id = String::new();
    for c in h.trim().chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            id.extend(c.to_lowercase());
        } else if c.is_whitespace() {
            id.push('-');
        }
    }
    id
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let mut in_code = false;
    for l in text.lines() {
        if l.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(h) = l.strip_prefix('#') {
            let h = h.trim_start_matches('#');
            // Strip inline code ticks and links' text syntax as mdBook does for ids.
            let plain: String = h.chars().filter(|&c| c != '`').collect();
            let id = heading_id(&plain);
            // mdBook numbers duplicates id-1, id-2, ...
            let mut unique = id.clone();
            let mut n = 1;
            while set.contains(&unique) {
                unique = format!("{id}-{n}");
                n += 1;
            }
            set.insert(unique);
        }
        // Explicit anchors: <a id="x"></a> or <span id="x">.
        let mut rest = l;
        while let Some(p) = rest.find("id=\"") {
            let tail = &rest[p + 4..];
            if let Some(e) = tail.find('"') {
                set.insert(tail[..e].to_string());
            }
            rest = &rest[p + 4..];
        }
    }
    set
}

/// Relative Markdown links `](target)` outside code.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_code = false;
    for (i, l) in text.lines().enumerate() {
        if l.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Drop inline code spans.
        let mut plain = String::new();
        for (k, part) in l.split('`').enumerate() {
            if k % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(p) = rest.find("](") {
            let tail = &rest[p + 2..];
            let Some(e) = tail.find(')') else { break };
            let target = tail[..e].split_whitespace().next().unwrap_or("").to_string();
            if !target.contains("://") && !target.starts_with("mailto:") && !target.is_empty() {
                out.push((i + 1, target));
            }
            rest = &tail[e..];
        }
    }
    out
}

#[test]
fn internal_links_resolve() {
    let src = root().join("book/src");
    let mut errors = Vec::new();
    let summary = fs::read_to_string(src.join("SUMMARY.md")).expect("book/src/SUMMARY.md");
    for (line, target) in links(&summary) {
        if !src.join(&target).is_file() {
            errors.push(format!("SUMMARY.md:{line}: chapter {target} does not exist"));
        }
    }
    for f in book_files() {
        let text = fs::read_to_string(&f).unwrap();
        let rel = f.strip_prefix(root()).unwrap().display().to_string();
        for (line, target) in links(&text) {
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let dest = if path.is_empty() { f.clone() } else { f.parent().unwrap().join(path) };
            if !dest.exists() {
                errors.push(format!("{rel}:{line}: link to {target}: {} does not exist", dest.display()));
                continue;
            }
            if let Some(a) = anchor
                && dest.extension().is_some_and(|e| e == "md")
                && !anchors(&fs::read_to_string(&dest).unwrap()).contains(a)
            {
                errors.push(format!("{rel}:{line}: link to {target}: no heading with id `{a}`"));
            }
        }
        // {{#include path[:anchor]}}
        for (i, l) in text.lines().enumerate() {
            let mut rest = l;
            while let Some(p) = rest.find("{{#include ") {
                let tail = &rest[p + 11..];
                if rest[..p].ends_with('\\') {
                    // `\{{#include ...}}` is mdBook's escape: shown literally, not included.
                    rest = tail;
                    continue;
                }
                let Some(e) = tail.find("}}") else { break };
                let spec = tail[..e].trim();
                let (path, anchor) = match spec.split_once(':') {
                    Some((p, a)) => (p, Some(a)),
                    None => (spec, None),
                };
                let dest = f.parent().unwrap().join(path);
                match fs::read_to_string(&dest) {
                    Err(_) => errors.push(format!("{rel}:{}: include {path} does not exist", i + 1)),
                    Ok(code) => {
                        if let Some(a) = anchor.filter(|a| !a.chars().all(|c| c.is_ascii_digit() || c == '-'))
                            && (!code.contains(&format!("ANCHOR: {a}")) || !code.contains(&format!("ANCHOR_END: {a}")))
                        {
                            errors.push(format!("{rel}:{}: include {path}: no ANCHOR {a}", i + 1));
                        }
                    }
                }
                rest = &tail[e..];
            }
        }
    }
    assert!(errors.is_empty(), "broken links in the book:\n{}", errors.join("\n"));
}

#[test]
fn matcher_rules() {
    assert!(line_matches(
        "stats: instructions=5 seconds={{N}} mips={{N}}",
        "stats: instructions=5 seconds=0.012 mips=3.1"
    ));
    assert!(!line_matches("instructions={{N}}", "instructions=x"));
    assert!(line_matches("PASS  [..]", "PASS  add 7FFF+1 = 8000"));
    assert!(line_matches("a[..]c", "ac"));
    let want: Vec<String> = ["first", "...", "last"].iter().map(|s| s.to_string()).collect();
    assert!(lines_match(&want, &["first", "x", "y", "last"]).is_ok());
    assert!(lines_match(&want, &["first", "last"]).is_ok());
    assert!(lines_match(&want, &["first", "x"]).is_err());
    assert_eq!(split_words("x86lab run --rtc '2000 01' a"), ["x86lab", "run", "--rtc", "2000 01", "a"]);
    assert_eq!(heading_id("Exit statuses and `--stats`"), "exit-statuses-and---stats");
}

/// Every option that `--help` lists for any command appears in the command reference
/// (`book/src/use/reference.md`), in backticks: a new option cannot land without its entry.
#[test]
fn reference_covers_every_option() {
    let reference = fs::read_to_string(root().join("book/src/use/reference.md")).expect("reference.md");
    let commands: [&[&str]; 8] = [
        &["--help"],
        &["run", "--help"],
        &["debug", "--help"],
        &["new", "--help"],
        &["snapshot", "--help"],
        &["snapshot", "list", "--help"],
        &["snapshot", "check", "--help"],
        &["snapshot", "delete", "--help"],
    ];
    let mut missing = Vec::new();
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_x86lab")).args(args).output().expect("x86lab runs");
        let help = String::from_utf8_lossy(&out.stdout);
        let mut in_options = false;
        for line in help.lines() {
            if line.starts_with("Options:") {
                in_options = true;
                continue;
            }
            if in_options && !line.is_empty() && !line.starts_with(' ') {
                in_options = false;
            }
            if !in_options {
                continue;
            }
            // An option line: "  -S", "      --bios <ROM>", "  -h, --help".
            let t = line.trim_start();
            if !t.starts_with('-') {
                continue;
            }
            for word in t.split([',', ' ']).filter(|w| w.starts_with('-')) {
                if word == "-h" || word == "--help" {
                    continue;
                }
                if !reference.contains(&format!("`{word}")) {
                    missing.push(format!("x86lab {}: {word}", args.join(" ")));
                }
            }
        }
        // Subcommands: "  run  Run a guest..." under "Commands:".
        let mut in_commands = false;
        for line in help.lines() {
            if line.starts_with("Commands:") {
                in_commands = true;
                continue;
            }
            if in_commands && !line.starts_with(' ') {
                in_commands = false;
            }
            let parent: String = args[..args.len() - 1].iter().map(|a| format!("{a} ")).collect();
            if let Some(cmd) = line.split_whitespace().next().filter(|_| in_commands)
                && cmd != "help"
                && !reference.contains(&format!("x86lab {parent}{cmd}"))
            {
                missing.push(format!("x86lab {}: command {cmd}", args.join(" ")));
            }
        }
    }
    assert!(missing.is_empty(), "book/src/use/reference.md does not mention:\n{}", missing.join("\n"));
}
