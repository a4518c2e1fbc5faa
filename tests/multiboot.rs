//! Direct Multiboot kernel boot (`x86lab run --kernel`), through the real command line.
//!
//! The kernels are `roms/tests/multiboot/elf.bin` (an ELF32 executable with two PT_LOAD
//! segments, one with a bss) and `aout.bin` (the a.out kludge), built from their nasm sources by
//! `tools/build-roms` (`mbcheck.inc` is what they check and print on port E9h, see its comment).
//! What the test expects is derived from what it passes: the command line (the kernel's name as
//! given, a space, `--append`), each module's size, FNV-1a hash (computed here) and string,
//! `mem_upper` and the usable ranges of the memory map from `--memory`, the boot loader name.
//! With Bochs's BIOS (when installed) the kernel must see that BIOS's own E820 map. When
//! `qemu-system-i386` is installed, the same kernels with the same arguments under QEMU's
//! `-kernel` must print the same magic, machine state, command line and modules.
//! Bad files are refused with exit status 2 and a message naming the file and the reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const KERNELS: [&str; 2] = ["roms/tests/multiboot/elf.bin", "roms/tests/multiboot/aout.bin"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn x86lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_x86lab"))
        .current_dir(root())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("x86lab runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("x86lab-multiboot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// FNV-1a, 32 bits (what mbcheck.inc computes over each module).
fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811C_9DC5u32, |h, &b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

/// Two modules with known contents: (the --initrd text, the module strings, the contents).
fn modules(dir: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let a = dir.join("one.txt");
    let b = dir.join("two.bin");
    let a_data = b"the first module\n".to_vec();
    let b_data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    std::fs::write(&a, &a_data).unwrap();
    std::fs::write(&b, &b_data).unwrap();
    let a_str = format!("{} root=/dev/x quiet", a.display());
    let b_str = b.display().to_string();
    (format!("{a_str},{b_str}"), vec![(a_str, a_data), (b_str, b_data)])
}

/// The lines a kernel printed between its banner and its result line.
fn kernel_lines(stdout: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stdout);
    let start = text.find("x86lab multiboot test kernel: ").unwrap_or(text.len());
    text[start..].lines().map(str::to_string).collect()
}

/// The lines that must be the same under any Multiboot loader given the same arguments.
fn loader_independent(lines: &[String]) -> Vec<String> {
    let keep = ["x86lab multiboot test kernel:", "magic:", "state:", "cmdline:", "mods:", "mod ", "bss:", "result:"];
    lines.iter().filter(|l| keep.iter().any(|k| l.starts_with(k))).cloned().collect()
}

#[test]
fn kernels_boot_with_the_multiboot_information() {
    let dir = temp_dir("boot");
    let (initrd, mods) = modules(&dir);
    for kernel in KERNELS {
        for memory in [16u64, 40] {
            let mem = memory.to_string();
            let append = "console=e9 answer=42";
            let out = x86lab(&[
                "run",
                "--headless",
                "--serial",
                "none",
                "--memory",
                &mem,
                "--max-instructions",
                "100000000",
                "--kernel",
                kernel,
                "--append",
                append,
                "--initrd",
                &initrd,
            ]);
            let lines = kernel_lines(&out.stdout);
            let d = describe(&out);
            assert_eq!(out.status.code(), Some(1), "the kernel's checks pass (exit value 0): {d}");
            let has = |l: &str| assert!(lines.iter().any(|x| x == l), "{kernel}: no line {l:?}\n{d}");
            has("magic: 2BADB002 ok");
            has("state: PE=1 PG=0 IF=0 VM=0");
            // Flags: memory (0), command line (2), modules (3), memory map (6), loader name (9).
            has("flags: 0000024D");
            has(&format!("mem: lower=639 KiB upper={} KiB", memory * 1024 - 1024));
            has(&format!("cmdline: {kernel} {append}"));
            has("loader: x86lab");
            has("mods: 2");
            for (i, (string, data)) in mods.iter().enumerate() {
                has(&format!("mod {i}: size={} fnv1a={:08X} string={string}", data.len(), fnv1a(data)));
            }
            // The BIOS's E820 map: conventional memory and all RAM above 1 MiB usable.
            has("mmap: base=0000000000000000 len=000000000009FC00 type=1");
            has(&format!("mmap: base=0000000000100000 len={:016X} type=1", (memory - 1) << 20));
            has("bss: zero");
            has("result: 0 failed");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kernel_without_modules_or_append_and_with_bochs_bios() {
    let out =
        x86lab(&["run", "--headless", "--serial", "none", "--max-instructions", "100000000", "--kernel", KERNELS[1]]);
    let lines = kernel_lines(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(lines.contains(&"mods: 0".to_string()), "{lines:?}");
    // QEMU's convention: the file name, a space, and the (empty) --append.
    assert!(lines.contains(&format!("cmdline: {} ", KERNELS[1])), "{lines:?}");

    let bochs = "/usr/share/bochs/BIOS-bochs-legacy";
    if !Path::new(bochs).exists() {
        eprintln!("{bochs} is not installed (apt-get install bochsbios): skipping the Bochs BIOS run");
        return;
    }
    let out = x86lab(&[
        "run",
        "--headless",
        "--serial",
        "none",
        "--max-instructions",
        "200000000",
        "--bios",
        bochs,
        "--kernel",
        KERNELS[0],
    ]);
    let lines = kernel_lines(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // Bochs's BIOS reports its own map (its EBDA at 0x9F000): the kernel gets that one.
    assert!(lines.contains(&"mmap: base=0000000000000000 len=000000000009F000 type=1".to_string()), "{lines:?}");
    assert!(lines.contains(&"mem: lower=636 KiB upper=31744 KiB".to_string()), "{lines:?}");
}

#[test]
fn same_fields_as_qemu() {
    let qemu = "qemu-system-i386";
    if Command::new(qemu).arg("--version").output().is_err() {
        eprintln!("{qemu} is not installed: skipping the cross-check with QEMU's -kernel");
        return;
    }
    let dir = temp_dir("qemu");
    let (initrd, _) = modules(&dir);
    for kernel in KERNELS {
        let append = "a b  c";
        let ours = x86lab(&[
            "run",
            "--headless",
            "--serial",
            "none",
            "--max-instructions",
            "100000000",
            "--kernel",
            kernel,
            "--append",
            append,
            "--initrd",
            &initrd,
        ]);
        let theirs = Command::new(qemu)
            .current_dir(root())
            .args(["-kernel", kernel, "-append", append, "-initrd", &initrd])
            .args(["-debugcon", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-display", "none"])
            .args(["-serial", "none", "-monitor", "none", "-no-reboot", "-m", "32"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(theirs.status.code(), Some(1), "QEMU: {}", describe(&theirs));
        assert_eq!(ours.status.code(), Some(1), "x86lab: {}", describe(&ours));
        let (a, b) =
            (loader_independent(&kernel_lines(&ours.stdout)), loader_independent(&kernel_lines(&theirs.stdout)));
        assert!(a.len() >= 8, "{a:?}");
        assert_eq!(a, b, "{kernel}: x86lab and QEMU disagree");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs x86lab with `args` and checks it refuses with status 2 and a message containing every
/// one of `words`.
fn refused(args: &[&str], words: &[&str]) {
    let out = x86lab(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
    for w in words {
        assert!(err.contains(w), "{args:?}: the message lacks {w:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_kernels_are_refused_with_the_reason() {
    let dir = temp_dir("bad");
    let path = |n: &str| dir.join(n).display().to_string();
    let run = |k: &str| vec!["run".to_string(), "--headless".into(), "--kernel".into(), k.to_string()];
    let aout = std::fs::read(root().join(KERNELS[1])).unwrap();

    // No header at all.
    std::fs::write(path("text.bin"), b"just some text, no kernel here\n".repeat(100)).unwrap();
    let a = run(&path("text.bin"));
    refused(&a.iter().map(String::as_str).collect::<Vec<_>>(), &["text.bin", "no Multiboot header"]);

    // The checksum (header word 2) off by one.
    let mut bad = aout.clone();
    bad[8] = bad[8].wrapping_add(1);
    std::fs::write(path("checksum.bin"), &bad).unwrap();
    let a = run(&path("checksum.bin"));
    refused(&a.iter().map(String::as_str).collect::<Vec<_>>(), &["checksum.bin", "checksum is wrong"]);

    // A Linux bzImage: the setup header's "HdrS" at 0x202.
    let mut linux = vec![0u8; 0x4000];
    linux[0x1FE] = 0x55;
    linux[0x1FF] = 0xAA;
    linux[0x202..0x206].copy_from_slice(b"HdrS");
    std::fs::write(path("bzImage"), &linux).unwrap();
    let a = run(&path("bzImage"));
    refused(&a.iter().map(String::as_str).collect::<Vec<_>>(), &["bzImage", "Linux boot protocol not supported yet"]);

    // A load address in the ROM area (load_addr = header_addr = 0xE0000).
    let mut rom = aout.clone();
    let delta = 0x10_0000u32 - 0xE_0000;
    for field in 3..8 {
        let at = 4 * field;
        let v = u32::from_le_bytes(rom[at..at + 4].try_into().unwrap());
        rom[at..at + 4].copy_from_slice(&(v - delta).to_le_bytes());
    }
    std::fs::write(path("rom.bin"), &rom).unwrap();
    let a = run(&path("rom.bin"));
    refused(&a.iter().map(String::as_str).collect::<Vec<_>>(), &["rom.bin", "0xA0000-0xFFFFF"]);

    // More than the guest's RAM: the ELF's data segment is at 2 MiB, RAM is 1 MiB.
    refused(&["run", "--headless", "--memory", "1", "--kernel", KERNELS[0]], &["elf.bin", "does not fit"]);

    // load_end_addr past the end of the file.
    let mut short = aout.clone();
    short.truncate(64);
    std::fs::write(path("short.bin"), &short).unwrap();
    let a = run(&path("short.bin"));
    refused(&a.iter().map(String::as_str).collect::<Vec<_>>(), &["short.bin", "the file has only"]);

    // A truncated ELF: the program headers cut off.
    let elf = std::fs::read(root().join(KERNELS[0])).unwrap();
    let mut cut = elf[..0x90].to_vec();
    cut[44] = 200; // e_phnum
    std::fs::write(path("cut.elf"), &cut).unwrap();
    let a = run(&path("cut.elf"));
    refused(&a.iter().map(String::as_str).collect::<Vec<_>>(), &["cut.elf", "program headers"]);

    // Missing files: the kernel, a module.
    refused(&["run", "--headless", "--kernel", &path("nope.bin")], &["nope.bin", "cannot open the kernel"]);
    refused(
        &["run", "--headless", "--kernel", KERNELS[0], "--initrd", &format!("{} args", path("nomod"))],
        &["nomod", "module"],
    );
    // --append and --initrd need --kernel.
    let out = x86lab(&["run", "--headless", "--append", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn committed_kernels_match_their_sources() {
    if Command::new("nasm").arg("-v").output().is_err() {
        eprintln!("nasm is not installed: skipping tools/build-roms --check");
        return;
    }
    let out = Command::new("bash").current_dir(root()).args(["tools/build-roms", "--check"]).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for bin in ["roms/tests/multiboot/elf.bin", "roms/tests/multiboot/aout.bin", "roms/firmware/multiboot.bin"] {
        assert!(text.contains(&format!("ok       {bin}")), "{bin} not checked:\n{text}");
    }
}
