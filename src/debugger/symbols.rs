//! Symbols: names for addresses, from an ELF file's symbol table (parsed with the `object`
//! crate) or a plain map with one `ADDRESS NAME` per line (`nm` output, `ADDRESS TYPE NAME`,
//! works too). Addresses are linear addresses. Loaded symbols show in disassembly, `x`, stop
//! lines and `info idt`, and can be used wherever an address is expected: `break main`,
//! `x/4d counter+4`.

use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, Default)]
pub struct Symbols {
    by_addr: BTreeMap<u32, String>,
    by_name: HashMap<String, u32>,
}

impl Symbols {
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn insert(&mut self, addr: u32, name: &str) {
        self.by_name.insert(name.to_string(), addr);
        // Prefer the first name seen for an address (often the global one).
        self.by_addr.entry(addr).or_insert_with(|| name.to_string());
    }

    pub fn lookup(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The symbol exactly at `addr`.
    pub fn exact(&self, addr: u32) -> Option<&str> {
        self.by_addr.get(&addr).map(|s| s.as_str())
    }

    /// The nearest symbol at or below `addr` and the distance to it.
    pub fn at_or_before(&self, addr: u32) -> Option<(&str, u32)> {
        self.by_addr.range(..=addr).next_back().map(|(a, n)| (n.as_str(), addr - a))
    }

    /// `<name+0x4>` for an address within 64 KiB after a symbol.
    pub fn describe(&self, addr: u32) -> Option<String> {
        let (n, off) = self.at_or_before(addr)?;
        if off > 0x10000 {
            return None;
        }
        Some(if off == 0 { format!("<{n}>") } else { format!("<{n}+{off:#x}>") })
    }

    /// Loads a file: ELF if it starts with the ELF magic, else a text map. Returns how many
    /// symbols were added.
    pub fn load(&mut self, path: &std::path::Path) -> Result<usize, String> {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if data.starts_with(b"\x7fELF") {
            self.load_elf(&data).map_err(|e| format!("{}: {e}", path.display()))
        } else {
            let text =
                String::from_utf8(data).map_err(|_| format!("{}: neither ELF nor a text map", path.display()))?;
            self.load_map(&text).map_err(|e| format!("{}: {e}", path.display()))
        }
    }

    /// ELF symbols with a name and a value: functions, objects and untyped labels (as nasm
    /// and ld emit them), not sections or files.
    pub fn load_elf(&mut self, data: &[u8]) -> Result<usize, String> {
        use object::{Object, ObjectSymbol, SymbolKind};
        let file = object::File::parse(data).map_err(|e| format!("not a readable ELF file: {e}"))?;
        let mut n = 0;
        for s in file.symbols() {
            if !matches!(s.kind(), SymbolKind::Text | SymbolKind::Data | SymbolKind::Unknown | SymbolKind::Label) {
                continue;
            }
            let Ok(name) = s.name() else { continue };
            if name.is_empty() || s.is_undefined() || s.address() > u32::MAX as u64 {
                continue;
            }
            self.insert(s.address() as u32, name);
            n += 1;
        }
        if n == 0 {
            return Err("the ELF file has no symbols (was it stripped?)".into());
        }
        Ok(n)
    }

    /// `ADDRESS NAME` or `ADDRESS TYPE NAME` lines (hex, with or without 0x); `#` starts a
    /// comment.
    pub fn load_map(&mut self, text: &str) -> Result<usize, String> {
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (addr, name) = match parts.as_slice() {
                [a, name] | [a, _, name] => (*a, *name),
                _ => return Err(format!("line {}: expected ADDRESS NAME", i + 1)),
            };
            let a = addr.trim_start_matches("0x").trim_start_matches("0X");
            let a = u32::from_str_radix(a, 16).map_err(|_| format!("line {}: '{addr}' is not a hex address", i + 1))?;
            self.insert(a, name);
            n += 1;
        }
        if n == 0 {
            return Err("no symbols in the file".into());
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_and_lookup() {
        let mut s = Symbols::default();
        assert_eq!(s.load_map("# comment\n0x1000 start\n00001010 T loop\n"), Ok(2));
        assert_eq!(s.lookup("loop"), Some(0x1010));
        assert_eq!(s.describe(0x1004).as_deref(), Some("<start+0x4>"));
        assert_eq!(s.describe(0x1010).as_deref(), Some("<loop>"));
        assert_eq!(s.describe(0xFFF), None);
        assert!(s.load_map("zz top\n").is_err());
        assert!(s.load_map("1 2 3 4\n").is_err());
    }

    #[test]
    fn elf_symbols() {
        // A minimal ELF32 relocatable file with a .symtab holding `entry` = 0x100 and `data` = 0x200.
        let elf = tiny_elf(&[("entry", 0x100, 2), ("data", 0x200, 1)]);
        let mut s = Symbols::default();
        assert_eq!(s.load_elf(&elf), Ok(2));
        assert_eq!(s.lookup("entry"), Some(0x100));
        assert_eq!(s.lookup("data"), Some(0x200));
        assert!(s.load_elf(b"\x7fELF garbage").is_err());
    }

    /// Builds an ELF32 little-endian file with a null section, .symtab, .strtab and .shstrtab.
    pub(crate) fn tiny_elf(syms: &[(&str, u32, u8)]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 16]; // the null symbol
        for (name, value, typ) in syms {
            let off = strtab.len() as u32;
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
            symtab.extend_from_slice(&off.to_le_bytes());
            symtab.extend_from_slice(&value.to_le_bytes());
            symtab.extend_from_slice(&0u32.to_le_bytes());
            symtab.push(0x10 | typ); // STB_GLOBAL, type
            symtab.push(0);
            symtab.extend_from_slice(&0xFFF1u16.to_le_bytes()); // SHN_ABS
        }
        let shstrtab = b"\0.symtab\0.strtab\0.shstrtab\0".to_vec();
        let mut out = vec![0u8; 52];
        let symtab_off = out.len() as u32;
        out.extend_from_slice(&symtab);
        let strtab_off = out.len() as u32;
        out.extend_from_slice(&strtab);
        let shstr_off = out.len() as u32;
        out.extend_from_slice(&shstrtab);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        let sh_off = out.len() as u32;
        let sh = |name: u32, typ: u32, off: u32, size: u32, link: u32, info: u32, entsize: u32| {
            let mut v = Vec::new();
            for x in [name, typ, 0, 0, off, size, link, info, 4, entsize] {
                v.extend_from_slice(&x.to_le_bytes());
            }
            v
        };
        out.extend(sh(0, 0, 0, 0, 0, 0, 0));
        out.extend(sh(1, 2, symtab_off, symtab.len() as u32, 2, 1, 16));
        out.extend(sh(9, 3, strtab_off, strtab.len() as u32, 0, 0, 0));
        out.extend(sh(17, 3, shstr_off, shstrtab.len() as u32, 0, 0, 0));
        let h = &mut out[..52];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 1; // ELFCLASS32
        h[5] = 1; // little endian
        h[6] = 1; // version
        h[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        h[18..20].copy_from_slice(&3u16.to_le_bytes()); // EM_386
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        h[32..36].copy_from_slice(&sh_off.to_le_bytes());
        h[40..42].copy_from_slice(&52u16.to_le_bytes()); // ehsize
        h[46..48].copy_from_slice(&40u16.to_le_bytes()); // shentsize
        h[48..50].copy_from_slice(&4u16.to_le_bytes()); // shnum
        h[50..52].copy_from_slice(&3u16.to_le_bytes()); // shstrndx
        out
    }
}
