//! VM folders: a machine's settings, disks and snapshots kept together.
//!
//! ```text
//! NAME/
//!   NAME.toml        the settings (human-readable, commented; see [`VmConfig`])
//!   fda.img, hda.img the disks' base images (copied in, or created empty by `x86lab new`),
//!                    never written once the VM has run
//!   hda.img.overlay  the blocks the guest wrote, laid over the base (made by the first run;
//!                    see [`crate::devices::overlay`]), so snapshots stay valid for ever
//!   bios.bin         the BIOS, when one other than x86lab's own was given
//!   snapshots/       SNAP.snap files (see [`crate::snapshot`])
//! ```
//!
//! `x86lab run NAME/` reads `NAME.toml`; options given on the command line override its
//! settings for that run only. A config with an unknown key, a bad value or a missing disk is
//! refused with an error naming the file, the line and the key.

use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The settings file, as read. Every key is optional; unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmConfig {
    pub memory: Option<Spanned<u32>>,
    pub bios: Option<Spanned<String>>,
    pub vga_bios: Option<Spanned<String>>,
    pub boot: Option<Spanned<String>>,
    pub ips: Option<Spanned<u64>>,
    pub rtc: Option<Spanned<String>>,
    pub serial: Option<Spanned<String>>,
    pub debugcon: Option<Spanned<String>>,
    #[serde(default)]
    pub disks: Disks,
}

/// The `[disks]` table: image paths relative to the folder.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disks {
    pub fda: Option<Spanned<String>>,
    pub fdb: Option<Spanned<String>>,
    pub hda: Option<Spanned<String>>,
    pub hdb: Option<Spanned<String>>,
    pub hdc: Option<Spanned<String>>,
    pub hdd: Option<Spanned<String>>,
    pub readonly: Option<Spanned<bool>>,
}

/// Settings resolved and checked: paths made absolute (relative to the folder).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub memory: Option<u32>,
    pub bios: Option<PathBuf>,
    pub vga_bios: Option<PathBuf>,
    pub boot: Option<String>,
    pub ips: Option<u64>,
    pub rtc: Option<String>,
    pub serial: Option<String>,
    pub debugcon: Option<String>,
    /// fda, fdb, hda, hdb, hdc, hdd.
    pub disks: [Option<PathBuf>; 6],
    pub readonly: bool,
}

/// A VM folder.
#[derive(Debug, Clone)]
pub struct VmFolder {
    pub dir: PathBuf,
    pub name: String,
}

impl VmFolder {
    /// The folder at `dir` (its name is the folder's last component).
    pub fn at(dir: &Path) -> Result<VmFolder, String> {
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| format!("{}: not a VM folder", dir.display()))?;
        let f = VmFolder { dir: dir.to_path_buf(), name };
        if !f.config_path().is_file() {
            return Err(format!("{}: not a VM folder (no {})", dir.display(), f.config_path().display()));
        }
        Ok(f)
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(format!("{}.toml", self.name))
    }
    pub fn snapshots_dir(&self) -> PathBuf {
        self.dir.join("snapshots")
    }
    /// The file of snapshot `snap` (a bare name; `.snap` is added).
    pub fn snapshot_path(&self, snap: &str) -> Result<PathBuf, String> {
        if snap.is_empty() || snap.contains(['/', '\\']) || snap.starts_with('.') {
            return Err(format!("snapshot name '{snap}': give a plain name (letters, digits, - and _)"));
        }
        Ok(self.snapshots_dir().join(format!("{snap}.snap")))
    }
    /// Reads and checks the settings file.
    pub fn load(&self) -> Result<Resolved, String> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        parse_config(&text, &path, &self.dir)
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Parses and checks a settings file's text. `dir` is where relative paths start.
pub fn parse_config(text: &str, path: &Path, dir: &Path) -> Result<Resolved, String> {
    let at = |span: Range<usize>, key: &str, what: String| {
        format!("{}:{}: {key}: {what}", path.display(), line_of(text, span.start))
    };
    let cfg: VmConfig = toml::from_str(text).map_err(|e| match e.span() {
        Some(s) => {
            let n = line_of(text, s.start);
            let src = text.lines().nth(n - 1).unwrap_or("").trim();
            format!("{}:{n}: {} (in `{src}`)", path.display(), e.message().trim_end())
        }
        None => format!("{}: {}", path.display(), e.message().trim_end()),
    })?;
    let mut r = Resolved::default();
    if let Some(m) = &cfg.memory {
        if !(1..=3072).contains(m.get_ref()) {
            return Err(at(m.span(), "memory", format!("{} MiB: give 1 to 3072", m.get_ref())));
        }
        r.memory = Some(*m.get_ref());
    }
    let file = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<PathBuf>, String> {
        let Some(v) = v else { return Ok(None) };
        let p = dir.join(v.get_ref());
        if !p.is_file() {
            return Err(at(v.span(), key, format!("{}: no such file", p.display())));
        }
        Ok(Some(p))
    };
    r.bios = match &cfg.bios {
        Some(b) if b.get_ref() == "builtin" => None,
        b => file(b, "bios")?,
    };
    r.vga_bios = file(&cfg.vga_bios, "vga_bios")?;
    if let Some(b) = &cfg.boot {
        if !matches!(b.get_ref().as_str(), "a" | "c") {
            return Err(at(
                b.span(),
                "boot",
                format!("'{}': give \"a\" (floppy first) or \"c\" (hard disk first)", b.get_ref()),
            ));
        }
        r.boot = Some(b.get_ref().clone());
    }
    if let Some(i) = &cfg.ips {
        if *i.get_ref() == 0 {
            return Err(at(i.span(), "ips", "0: give a positive number of instructions per second".into()));
        }
        r.ips = Some(*i.get_ref());
    }
    if let Some(t) = &cfg.rtc {
        if t.get_ref() != "host" && crate::devices::rtc_cmos::parse_rtc_time(t.get_ref()).is_none() {
            return Err(at(t.span(), "rtc", format!("'{}': give YYYY-MM-DDTHH:MM:SS (UTC) or \"host\"", t.get_ref())));
        }
        r.rtc = (t.get_ref() != "host").then(|| t.get_ref().clone());
    }
    for (key, v, out) in [("serial", &cfg.serial, &mut r.serial), ("debugcon", &cfg.debugcon, &mut r.debugcon)] {
        if let Some(s) = v {
            let ok = matches!(s.get_ref().as_str(), "stdio" | "none") || s.get_ref().starts_with("file:");
            if !ok {
                return Err(at(s.span(), key, format!("'{}': give \"stdio\", \"none\" or \"file:PATH\"", s.get_ref())));
            }
            *out = Some(s.get_ref().clone());
        }
    }
    let d = &cfg.disks;
    for (i, (key, v)) in [
        ("disks.fda", &d.fda),
        ("disks.fdb", &d.fdb),
        ("disks.hda", &d.hda),
        ("disks.hdb", &d.hdb),
        ("disks.hdc", &d.hdc),
        ("disks.hdd", &d.hdd),
    ]
    .into_iter()
    .enumerate()
    {
        r.disks[i] = file(v, key)?;
    }
    r.readonly = d.readonly.as_ref().is_some_and(|b| *b.get_ref());
    Ok(r)
}

/// What `x86lab new` puts in a folder.
#[derive(Debug, Default, Clone)]
pub struct NewVm {
    pub memory: u32,
    pub bios: Option<PathBuf>,
    pub fda: Option<PathBuf>,
    pub hda: Option<PathBuf>,
    /// Size in bytes of an empty hard disk to create when no `hda` is given.
    pub hda_size: Option<u64>,
    pub rtc: Option<String>,
}

/// Parses a size like `64M`, `1G`, `512K` or a byte count.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("'{s}': give a size like 64M, 512K or 1G"))?;
    let bytes = n.checked_mul(mul).ok_or_else(|| format!("'{s}': too large"))?;
    if bytes == 0 || !bytes.is_multiple_of(512) || bytes > crate::devices::disk::MAX_IMAGE_BYTES {
        return Err(format!("'{s}': a disk must be a non-zero multiple of 512 bytes, at most 4 GiB"));
    }
    Ok(bytes)
}

/// Creates the VM folder `dir` (which must not exist yet).
pub fn create(dir: &Path, v: &NewVm) -> Result<VmFolder, String> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .ok_or_else(|| format!("{}: give a folder name", dir.display()))?;
    if dir.exists() {
        return Err(format!("{}: already exists", dir.display()));
    }
    if !(1..=3072).contains(&v.memory) {
        return Err(format!("--memory {}: give 1 to 3072 MiB", v.memory));
    }
    for p in [&v.bios, &v.fda, &v.hda].into_iter().flatten() {
        if !p.is_file() {
            return Err(format!("{}: no such file", p.display()));
        }
    }
    let fail = |what: &str, e: std::io::Error| format!("{}: {what}: {e}", dir.display());
    std::fs::create_dir_all(dir.join("snapshots")).map_err(|e| fail("cannot create", e))?;
    let copy = |src: &Path, to: &str| -> Result<(), String> {
        std::fs::copy(src, dir.join(to)).map(|_| ()).map_err(|e| format!("{}: cannot copy: {e}", src.display()))
    };
    let mut disks = String::new();
    if let Some(f) = &v.fda {
        copy(f, "fda.img")?;
        disks += "fda = \"fda.img\"\n";
    }
    if let Some(h) = &v.hda {
        copy(h, "hda.img")?;
        disks += "hda = \"hda.img\"\n";
    } else if let Some(size) = v.hda_size {
        let f = std::fs::File::create(dir.join("hda.img")).map_err(|e| fail("cannot create hda.img", e))?;
        f.set_len(size).map_err(|e| fail("cannot size hda.img", e))?;
        disks += "hda = \"hda.img\"\n";
    }
    let bios = if let Some(b) = &v.bios {
        copy(b, "bios.bin")?;
        "\"bios.bin\"".to_string()
    } else {
        "\"builtin\"".to_string()
    };
    let boot = if v.fda.is_some() { "a" } else { "c" };
    let rtc = v.rtc.clone().unwrap_or_else(|| "host".into());
    let text = format!(
        r#"# x86lab virtual machine "{name}". Edit freely; `x86lab run {name}/` reads this file, and
# options on its command line override these settings for one run.
# Paths are relative to this folder.

# Guest RAM in MiB (1 to 3072).
memory = {memory}

# The BIOS: "builtin" for x86lab's own, or a raw ROM image (64 KiB to 1 MiB).
bios = {bios}

# A VGA BIOS option ROM mapped at 0xC0000 (optional).
# vga_bios = "vgabios.bin"

# Boot order: "a" tries the floppy first, "c" the hard disk first.
boot = "{boot}"

# Guest time runs at this many instructions per second (virtual time: runs are reproducible).
ips = {ips}

# The RTC's start time in UTC (YYYY-MM-DDTHH:MM:SS), or "host" for the host's clock.
rtc = "{rtc}"

# Where COM1 and the debug console (port 0xE9) go: "stdio", "none" or "file:PATH".
serial = "stdio"
debugcon = "stdio"

[disks]
# fda/fdb: floppy drives A: and B:; hda/hdb: primary master/slave; hdc/hdd: secondary.
# Each image is a base that x86lab never writes once the VM has run: the guest's writes go
# to IMAGE.overlay beside it (`x86lab disk info`; `x86lab disk export` gives one raw image).
{disks}# Open every image read-only (guest writes fail as on a write-protected disk).
readonly = false
"#,
        memory = v.memory,
        ips = crate::machine::clock::DEFAULT_IPS,
    );
    let f = VmFolder { dir: dir.to_path_buf(), name };
    std::fs::write(f.config_path(), text).map_err(|e| fail("cannot write the settings", e))?;
    Ok(f)
}

/// One snapshot in a folder, for `x86lab snapshot list`.
#[derive(Debug, Clone)]
pub struct SnapshotEntry {
    pub name: String,
    pub size: u64,
    pub info: Result<crate::snapshot::Settings, String>,
}

/// The folder's snapshots, by name (partial temporary files are not listed).
pub fn list_snapshots(f: &VmFolder) -> Vec<SnapshotEntry> {
    list_snapshots_in(&f.snapshots_dir())
}

/// The `*.snap` files in `dir`, by name (partial temporary files are not listed).
pub fn list_snapshots_in(dir: &Path) -> Vec<SnapshotEntry> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(stem) = name.strip_suffix(".snap") else { continue };
        if stem.starts_with('.') {
            continue;
        }
        let size = e.metadata().map(|m| m.len()).unwrap_or(0);
        let info = crate::snapshot::info(&p).map_err(|e| e.to_string());
        out.push(SnapshotEntry { name: stem.to_string(), size, info });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for seconds since the Unix epoch.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Resolved, String> {
        parse_config(text, Path::new("vm/vm.toml"), Path::new("/nonexistent-x86lab-dir"))
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = parse("memory = 32\nbogus = 1\n").unwrap_err();
        assert!(e.starts_with("vm/vm.toml:2:") && e.contains("bogus"), "{e}");
        let e = parse("memory = 32\n\nmemory2 = 0\n").unwrap_err();
        assert!(e.contains(":3:"), "{e}");
        let e = parse("ips = 1\nmemory = 0\n").unwrap_err();
        assert!(e.starts_with("vm/vm.toml:2: memory:"), "{e}");
        let e = parse("memory = \"lots\"\n").unwrap_err();
        assert!(e.starts_with("vm/vm.toml:1:"), "{e}");
        let e = parse("[disks]\nhda = \"hda.img\"\n").unwrap_err();
        assert!(e.starts_with("vm/vm.toml:2: disks.hda:") && e.contains("no such file"), "{e}");
        let e = parse("[disks]\nsda = \"x\"\n").unwrap_err();
        assert!(e.contains(":2:") && e.contains("sda"), "{e}");
        let e = parse("boot = \"z\"\n").unwrap_err();
        assert!(e.contains("boot"), "{e}");
        let e = parse("rtc = \"yesterday\"\n").unwrap_err();
        assert!(e.contains("rtc"), "{e}");
    }

    #[test]
    fn good_config_resolves() {
        let r = parse("memory = 16\nbios = \"builtin\"\nboot = \"a\"\nips = 1000\nrtc = \"2000-01-01T00:00:00\"\n")
            .unwrap();
        assert_eq!(r.memory, Some(16));
        assert_eq!(r.bios, None);
        assert_eq!(r.boot.as_deref(), Some("a"));
        assert_eq!(r.rtc.as_deref(), Some("2000-01-01T00:00:00"));
    }

    #[test]
    fn sizes_and_dates() {
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("100").is_err());
        assert!(parse_size("x").is_err());
        assert_eq!(format_utc(946_684_800), "2000-01-01 00:00:00");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20");
    }
}
