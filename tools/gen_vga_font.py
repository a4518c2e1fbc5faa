#!/usr/bin/env python3
"""Generates src/devices/vga/font.rs: the 8x16 and 8x8 code page 437 fonts of the x86lab VGA.

The glyphs come from the VGA-style console fonts of Debian's console-setup-linux package
(1.221), which are built from the BDF font u_vga16.bdf (8x16; copyright 2000, 2001 Dmitry
Bolkhovityanov, MIT/X11-style licence, reproduced in the generated file) and the console-setup
VGA 8-line fonts (console-setup's copyright file: "All console fonts are public domain by
nature"). Those fonts are in Unicode order with a PSF1 Unicode table; this tool picks, for each
code page 437 code point, the glyph whose *primary* Unicode mapping is that character (a PSF's
secondary mappings are look-alike substitutes such as single-line boxes for double-line ones),
searching the fonts in a fixed order. The few CP437 characters that no font has as a primary
glyph are taken from a near equivalent (BLACK RIGHT-POINTING POINTER from BLACK RIGHT-POINTING
TRIANGLE) or, for five 8x8 glyphs, drawn here (OWN_8X8 below, our own work, public domain).

Usage:
    apt-get download console-setup-linux
    dpkg-deb -x console-setup-linux_*.deb /tmp/cs
    python3 tools/gen_vga_font.py /tmp/cs/usr/share/consolefonts > src/devices/vga/font.rs
"""
import gzip
import os
import struct
import sys

# CP437 0x01-0x1F and 0x7F as glyphs (the IBM PC's "graphic" control characters).
CP437_LOW = "\u0000☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼"


def cp437(b):
    if b < 0x20:
        return CP437_LOW[b]
    if b == 0x7F:
        return "⌂"
    return bytes([b]).decode("cp437")


# Fonts searched, in this order; the 512-glyph "Full*" and "Uni*" sets have the real box
# drawing and symbol glyphs.
ORDER = ["FullCyrSlav", "FullGreek", "Uni2", "Uni1", "Lat15", "Lat2", "Lat7", "Lat38",
         "CyrSlav", "CyrKoi", "Greek", "Hebrew", "Arabic"]

# When no font has the character itself, the glyph of one of these.
ALTERNATES = {"►": "▶▸", "◄": "◀◂"}

# 8x8 glyphs missing from every console-setup VGA8 font, drawn for x86lab.
OWN_8X8 = {
    "₧": [0xF8, 0xCC, 0xCC, 0xFA, 0xC6, 0xCF, 0xC6, 0xC7],
    "⌐": [0x00, 0x00, 0x00, 0xFC, 0xC0, 0xC0, 0x00, 0x00],
    "∞": [0x00, 0x00, 0x7E, 0xDB, 0xDB, 0x7E, 0x00, 0x00],
    "∩": [0x78, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0x00],
    "≡": [0x00, 0xFC, 0x00, 0x00, 0xFC, 0x00, 0xFC, 0x00],
}


def parse_psf1(path):
    d = gzip.open(path).read()
    if d[:2] != b"\x36\x04":
        raise SystemExit(f"{path}: not a PSF1 font")
    mode, height = d[2], d[3]
    n = 512 if mode & 1 else 256
    glyphs = [d[4 + i * height:4 + (i + 1) * height] for i in range(n)]
    codes = [[] for _ in range(n)]
    if mode & 2:
        p, g = 4 + n * height, 0
        while p + 1 < len(d) and g < n:
            (u,) = struct.unpack_from("<H", d, p)
            p += 2
            if u == 0xFFFF:
                g += 1
            elif u != 0xFFFE:
                codes[g].append(chr(u))
    # primary mapping -> glyph
    return height, {cs[0]: glyphs[i] for i, cs in enumerate(codes) if cs}


def build(folder, suffix, height):
    fonts = []
    for name in ORDER:
        path = os.path.join(folder, f"{name}-{suffix}.psf.gz")
        if os.path.exists(path):
            h, prim = parse_psf1(path)
            if h != height:
                raise SystemExit(f"{path}: height {h}, expected {height}")
            fonts.append(prim)
    if not fonts:
        raise SystemExit(f"no *-{suffix}.psf.gz fonts in {folder}")

    def find(ch):
        for prim in fonts:
            if ch in prim:
                return prim[ch]
        return None

    table = []
    for b in range(256):
        ch = cp437(b)
        g = bytes(height) if b == 0 else find(ch)
        if g is None:
            for alt in ALTERNATES.get(ch, ""):
                g = find(alt)
                if g is not None:
                    break
        if g is None and height == 8 and ch in OWN_8X8:
            g = bytes(OWN_8X8[ch])
        if g is None:
            raise SystemExit(f"no {suffix} glyph for CP437 {b:#04x} {ch!r}")
        table.append(g)
    return table


def describe(b):
    ch = cp437(b)
    if b == 0:
        return "0x00"
    return f"0x{b:02X} {ch}"


def emit(name, table, height, doc):
    out = [f"/// {doc}", "#[rustfmt::skip]", f"pub const {name}: [u8; {256 * height}] = ["]
    for b, g in enumerate(table):
        out.append("    " + ", ".join(f"0x{x:02X}" for x in g) + f", // {describe(b)}")
    out.append("];")
    return "\n".join(out)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    folder = sys.argv[1]
    f16 = build(folder, "VGA16", 16)
    f8 = build(folder, "VGA8", 8)
    cp = "".join(" " if b in (0x00, 0xFF) else cp437(b) for b in range(256))
    cp_lines = []
    for row in range(16):
        chars = ", ".join(repr_char(c) for c in cp[row * 16:(row + 1) * 16])
        cp_lines.append(f"    {chars},")
    print(HEADER.rstrip())
    print()
    print(emit("FONT_8X16", f16, 16, "The 8x16 font: 256 glyphs of 16 bytes, top row first, bit 7 is the leftmost dot."))
    print()
    print(emit("FONT_8X8", f8, 8, "The 8x8 font (80x50 text): 256 glyphs of 8 bytes, top row first, bit 7 leftmost."))
    print()
    print("/// Code page 437 as Unicode, for text dumps (0x00 and the no-break space 0xFF shown as a space).")
    print("#[rustfmt::skip]")
    print("pub const CP437: [char; 256] = [")
    print("\n".join(cp_lines))
    print("];")


def repr_char(c):
    if c == "'" or c == "\\":
        return f"'\\{c}'"
    return f"'{c}'"


HEADER = """\
// generated by tools/gen_vga_font.py, do not edit
//! Built-in code page 437 fonts for the VGA (8x16 for 80x25 text, 8x8 for 80x50), loaded into
//! plane 2 by [`super::Vga::load_font`] as a VGA BIOS does, and the CP437-to-Unicode table used
//! by text dumps.
//!
//! Source: the VGA console fonts of Debian's console-setup-linux package (1.221). The 8x16
//! glyphs are from u_vga16.bdf, whose licence follows; the 8x8 glyphs are console-setup's VGA8
//! fonts (its copyright file: "All console fonts are public domain by nature"); the 8x8 glyphs
//! for 0x9E, 0xA9, 0xEC, 0xEF and 0xF0, which no VGA8 font has, were drawn for x86lab. See
//! tools/gen_vga_font.py for how glyphs are chosen.
//!
//! ```text
//! Copyright (C) 2000, 2001 by Dmitry Bolkhovityanov.  All Rights Reserved.
//!
//! Permission is hereby granted, free of charge, to any person obtaining a copy
//! of this software and associated documentation files (the "Software"), to deal
//! in the Software without restriction, including without limitation the rights
//! to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
//! copies of the Software, and to permit persons to whom the Software is fur-
//! nished to do so, subject to the following conditions:
//!
//! The above copyright notice and this permission notice shall be included in
//! all copies or substantial portions of the Software.
//!
//! THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
//! IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FIT-
//! NESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.  IN NO EVENT SHALL THE
//! XFREE86 PROJECT BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
//! IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CON-
//! NECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
//!
//! Except as contained in this notice, the name of Dmitry Bolkhovityanov
//! shall not be used in advertising or otherwise to promote the sale, use
//! or other dealings in this Software without prior written authorization
//! from the Dmitry Bolkhovityanov.
//! ```
"""

if __name__ == "__main__":
    main()
