//! The National Semiconductor PC16550D UART, as a PC's COM port.
//!
//! Source: National Semiconductor *PC16550D Universal Asynchronous Receiver/Transmitter with
//! FIFOs* data sheet (June 1995): Table II (register summary), §8 (registers: LCR, LSR, FCR, IIR
//! with Table IV's interrupt priorities, IER, MCR, MSR, SCR, the divisor latches), §8.7 (FIFO
//! interrupt and timeout rules) and §8.6 (loopback). The PC wiring (OUT2 gating the IRQ line) is
//! from the IBM *PC AT Technical Reference*, "Serial/Parallel Adapter".
//!
//! # What is modelled
//! - All eleven registers: RBR/THR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR, DLL/DLM (DLAB).
//! - 16-byte receive and transmit FIFOs (FCR0), their resets (FCR1, FCR2), the receive trigger
//!   levels 1/4/8/14, and 16450 mode (FIFOs off: one-byte RBR and THR).
//! - Interrupts with Table IV's priorities: receiver line status (OE, PE, FE, BI), received data
//!   available (trigger level reached), character timeout (FIFO mode: data waiting and no FIFO
//!   activity for 4 character times), THR empty, modem status. The THRE interrupt is set when the
//!   THR (FIFO mode: the whole transmit FIFO) empties and when ETBEI is turned on while THRE is
//!   1; it is cleared by reading the IIR while THRE is the reported source, or by writing THR.
//! - LSR: DR, OE, PE, FE, BI, THRE, TEMT and bit 7 (an error waits in the FIFO). PE/FE/BI belong
//!   to the character at the top of the FIFO and show when it gets there.
//! - Loopback (MCR4): the transmitter's output goes to the receiver, nothing reaches the host,
//!   host input waits, and DTR/RTS/OUT1/OUT2 drive DSR/CTS/RI/DCD. MSR delta bits, including TERI.
//! - The PC's IRQ: the chip's INTR output reaches the PIC only while OUT2 (MCR3) is 1 — OUT2 is the
//!   enable of the adapter's IRQ driver — and in loopback, where the chip forces the OUT pins
//!   inactive, the line is therefore off ([`Uart16550::irq_level`]).
//!
//! # Timing
//! A character takes `(1 start + 5..8 data + parity + 1/1.5/2 stop) × 16 × divisor` cycles of
//! the 1.8432 MHz crystal ([`Uart16550::char_time`]). Transmission is real: a byte written to THR
//! moves to the transmit shift register (at once if it is idle), and reaches the host side only
//! when its stop bit ends; THRE and TEMT follow. Host input is paced the same way: it waits on the
//! [`SerialLine`] and enters the receiver one character time at a time, so pasting a long text
//! does not overrun a guest that keeps up. Everything is computed lazily: each access first
//! catches up to its `now`, processing completions in time order, so a late catch-up gives the
//! same result as exact timing and never loses data; [`Uart16550::next_deadline`] says when the
//! next visible change (a completion or a character timeout) happens.
//!
//! # Not modelled
//! - Parity and framing: characters from the host never have parity or framing errors (the
//!   line is assumed to match the LCR); PE/FE come only with an injected break (BI). Sending a
//!   break (LCR6) has no effect on the host or, in loopback, on the receiver.
//! - The THRE-interrupt delay of §8.7 (one character time when the FIFO never held two bytes),
//!   DMA mode signalling (FCR3, RXRDY/TXRDY pins): FCR3 is stored only.
//! - The divisor latches are undefined after reset on the chip; x86lab starts them at 1
//!   (115200 baud), so a guest that never programs them is not slowed down. Divisor 0 counts as
//!   65536 (the baud counter wraps).
//! - Writes to LSR and MSR (factory test only, per the data sheet) are ignored.
//!
//! # Wiring (for the machine)
//! - Build with [`Uart16550::new`]`(COM1_BASE)` (IRQ [`COM1_IRQ`] = 4) and
//!   [`Uart16550::new`]`(COM2_BASE)` (IRQ [`COM2_IRQ`] = 3). Ports `base..base + 8` go to
//!   [`Uart16550::read`]`(port, now)` / [`Uart16550::write`]`(port, value, now)`
//!   ([`Uart16550::contains`] tests a port). Byte-wide registers: a word access uses the low byte.
//! - After every access, after [`Uart16550::receive`], and when the deadline fires (calling
//!   [`Uart16550::update`]`(now)` first): set the PIC line to [`Uart16550::irq_level`], arm
//!   `Timer::Com1`/`Timer::Com2` with [`Uart16550::next_deadline`], and drain
//!   [`Uart16550::take_tx`] into the host sink (stdout, a file or nothing — the sink is the
//!   machine's, like the debug console's; the chip holds no host handles).
//! - When the run ends, call [`Uart16550::flush_tx`] and drain once more so bytes still in the
//!   FIFO or shift register are not lost.
//! - Host input: [`Uart16550::receive`]`(byte, now)` (returns `false` if the line's queue is
//!   full), [`Uart16550::receive_break`], [`Uart16550::set_modem_inputs`] (defaults: CTS, DSR,
//!   DCD asserted, as a null-modem cable to a ready terminal).
//!
//! ```
//! use x86lab::devices::uart16550::{Uart16550, COM1_BASE};
//! use x86lab::machine::clock::Tick;
//!
//! let mut com1 = Uart16550::new(COM1_BASE);
//! let t = Tick::from_millis(1);
//! com1.write(COM1_BASE + 3, 0x80, t); // DLAB
//! com1.write(COM1_BASE, 12, t); // 9600 baud
//! com1.write(COM1_BASE + 1, 0, t);
//! com1.write(COM1_BASE + 3, 0x03, t); // 8N1
//! com1.write(COM1_BASE, b'A', t);
//! assert_eq!(com1.take_tx(), None); // still on the wire
//! let done = com1.next_deadline().unwrap();
//! assert_eq!(done, t.saturating_add(com1.char_time())); // 10 bits at 9600 baud: 1.04 ms
//! com1.update(done);
//! assert_eq!(com1.take_tx(), Some(b'A'));
//! ```

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

use bitflags::bitflags;

use crate::machine::clock::Tick;

/// COM1's base port.
pub const COM1_BASE: u16 = 0x3F8;
/// COM1's IRQ line.
pub const COM1_IRQ: u8 = 4;
/// COM2's base port.
pub const COM2_BASE: u16 = 0x2F8;
/// COM2's IRQ line.
pub const COM2_IRQ: u8 = 3;
/// COM3's base port (shares IRQ 4 with COM1 on PCs).
pub const COM3_BASE: u16 = 0x3E8;
/// COM4's base port (shares IRQ 3 with COM2 on PCs).
pub const COM4_BASE: u16 = 0x2E8;

/// Receiver buffer (read, DLAB = 0).
pub const REG_RBR: u16 = 0;
/// Transmitter holding register (write, DLAB = 0).
pub const REG_THR: u16 = 0;
/// Divisor latch, low byte (DLAB = 1).
pub const REG_DLL: u16 = 0;
/// Interrupt enable register (DLAB = 0).
pub const REG_IER: u16 = 1;
/// Divisor latch, high byte (DLAB = 1).
pub const REG_DLM: u16 = 1;
/// Interrupt identification register (read).
pub const REG_IIR: u16 = 2;
/// FIFO control register (write).
pub const REG_FCR: u16 = 2;
/// Line control register.
pub const REG_LCR: u16 = 3;
/// Modem control register.
pub const REG_MCR: u16 = 4;
/// Line status register.
pub const REG_LSR: u16 = 5;
/// Modem status register.
pub const REG_MSR: u16 = 6;
/// Scratch register.
pub const REG_SCR: u16 = 7;

/// The crystal on PC serial adapters: 1.8432 MHz, 16 cycles per bit.
pub const UART_CLOCK_HZ: u64 = 1_843_200;
/// Depth of each FIFO.
pub const FIFO_SIZE: usize = 16;
/// Host bytes that can wait on the line before [`Uart16550::receive`] refuses more.
pub const LINE_RX_CAPACITY: usize = 4096;
/// Transmitted bytes kept for the host before the oldest are dropped (counted in
/// [`SerialLine::tx_dropped`]); a machine that drains after every access never gets near it.
pub const LINE_TX_CAPACITY: usize = 1 << 20;

bitflags! {
    /// Interrupt enable register (data sheet §8.5).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Ier: u8 {
        /// Enable received data available interrupt (and the character timeout).
        const ERBFI = 1 << 0;
        /// Enable transmitter holding register empty interrupt.
        const ETBEI = 1 << 1;
        /// Enable receiver line status interrupt.
        const ELSI = 1 << 2;
        /// Enable modem status interrupt.
        const EDSSI = 1 << 3;
    }
}

bitflags! {
    /// FIFO control register (data sheet §8.4). Bits 1 and 2 act and clear themselves.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Fcr: u8 {
        /// FCR0: enable both FIFOs (changing it clears them).
        const FIFO_ENABLE = 1 << 0;
        /// FCR1: clear the receive FIFO (not the shift register).
        const RCVR_FIFO_RESET = 1 << 1;
        /// FCR2: clear the transmit FIFO (not the shift register).
        const XMIT_FIFO_RESET = 1 << 2;
        /// FCR3: DMA mode select (RXRDY/TXRDY pin behaviour; stored only).
        const DMA_MODE = 1 << 3;
        /// FCR6: receiver trigger, low bit.
        const RCVR_TRIGGER_LSB = 1 << 6;
        /// FCR7: receiver trigger, high bit (00 = 1, 01 = 4, 10 = 8, 11 = 14 bytes).
        const RCVR_TRIGGER_MSB = 1 << 7;
    }
}

bitflags! {
    /// Line control register (data sheet §8.1).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Lcr: u8 {
        /// Word length select bit 0 (WLS1:WLS0 = 00..11 for 5..8 bits).
        const WLS0 = 1 << 0;
        /// Word length select bit 1.
        const WLS1 = 1 << 1;
        /// Stop bits: 0 = 1, 1 = 1.5 (5-bit words) or 2.
        const STB = 1 << 2;
        /// Parity enable.
        const PEN = 1 << 3;
        /// Even parity select.
        const EPS = 1 << 4;
        /// Stick parity.
        const STICK_PARITY = 1 << 5;
        /// Break control: hold the serial output spacing.
        const BREAK = 1 << 6;
        /// Divisor latch access bit.
        const DLAB = 1 << 7;
    }
}

bitflags! {
    /// Modem control register (data sheet §8.8).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Mcr: u8 {
        /// Data terminal ready.
        const DTR = 1 << 0;
        /// Request to send.
        const RTS = 1 << 1;
        /// Output 1.
        const OUT1 = 1 << 2;
        /// Output 2 (on a PC: enables the IRQ line).
        const OUT2 = 1 << 3;
        /// Loopback mode.
        const LOOP = 1 << 4;
    }
}

bitflags! {
    /// Line status register (data sheet §8.3).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Lsr: u8 {
        /// Data ready: a character waits in RBR or the receive FIFO.
        const DR = 1 << 0;
        /// Overrun error: a character was lost because the receiver was full.
        const OE = 1 << 1;
        /// Parity error (character at the top of the FIFO).
        const PE = 1 << 2;
        /// Framing error (character at the top of the FIFO).
        const FE = 1 << 3;
        /// Break interrupt (character at the top of the FIFO).
        const BI = 1 << 4;
        /// Transmitter holding register (FIFO mode: transmit FIFO) empty.
        const THRE = 1 << 5;
        /// Transmitter empty: THR/FIFO and shift register both empty.
        const TEMT = 1 << 6;
        /// Error in receiver FIFO: a PE, FE or BI waits in the FIFO.
        const RCVR_FIFO_ERROR = 1 << 7;
    }
}

bitflags! {
    /// Modem status register (data sheet §8.9): four delta bits and four input levels.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Msr: u8 {
        /// Delta clear to send.
        const DCTS = 1 << 0;
        /// Delta data set ready.
        const DDSR = 1 << 1;
        /// Trailing edge ring indicator: RI went from 1 to 0.
        const TERI = 1 << 2;
        /// Delta data carrier detect.
        const DDCD = 1 << 3;
        /// Clear to send.
        const CTS = 1 << 4;
        /// Data set ready.
        const DSR = 1 << 5;
        /// Ring indicator.
        const RI = 1 << 6;
        /// Data carrier detect.
        const DCD = 1 << 7;
    }
}

/// IIR bit 0: no interrupt pending.
pub const IIR_NO_INT: u8 = 0x01;
/// IIR: receiver line status (priority 1).
pub const IIR_RLS: u8 = 0x06;
/// IIR: received data available (priority 2).
pub const IIR_RDA: u8 = 0x04;
/// IIR: character timeout (priority 2, FIFO mode).
pub const IIR_CTI: u8 = 0x0C;
/// IIR: transmitter holding register empty (priority 3).
pub const IIR_THRE: u8 = 0x02;
/// IIR: modem status (priority 4).
pub const IIR_MS: u8 = 0x00;
/// IIR bits 6-7: set when the FIFOs are enabled.
pub const IIR_FIFOS_ENABLED: u8 = 0xC0;

const LSR_CHAR_ERRORS: Lsr = Lsr::PE.union(Lsr::FE).union(Lsr::BI);
const LSR_LINE_STATUS: Lsr = Lsr::OE.union(LSR_CHAR_ERRORS);
const MSR_DELTAS: Msr = Msr::DCTS.union(Msr::DDSR).union(Msr::TERI).union(Msr::DDCD);
const MSR_INPUTS: Msr = Msr::CTS.union(Msr::DSR).union(Msr::RI).union(Msr::DCD);

/// A received character with the errors it arrived with (only PE, FE, BI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxChar {
    /// The data bits.
    pub data: u8,
    /// PE, FE and/or BI.
    pub errors: Lsr,
}

/// What the host puts on the line toward the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineSymbol {
    /// A character.
    Char(u8),
    /// A break (the line held spacing for a character time or more).
    Break,
}

/// The host's end of the serial line: what waits to be received and what was transmitted. Plain
/// data; the machine owns the actual host sink.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialLine {
    /// Symbols the host sent that have not started into the receiver (bounded by
    /// [`LINE_RX_CAPACITY`]).
    pub rx: VecDeque<LineSymbol>,
    /// Characters whose transmission ended, for the host to take (bounded by
    /// [`LINE_TX_CAPACITY`]).
    pub tx: VecDeque<u8>,
    /// Transmitted characters dropped because the host did not take them.
    pub tx_dropped: u64,
    /// The modem input lines the host drives (CTS, DSR, RI, DCD in their MSR positions).
    pub modem_inputs: Msr,
}

/// One PC16550D. All fields are plain state; `line` is the host's side of the cable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uart16550 {
    /// The base port (0x3F8 for COM1).
    pub base: u16,
    /// Interrupt enable register.
    pub ier: Ier,
    /// FIFO control as programmed (FIFO enable, DMA mode, trigger level).
    pub fcr: Fcr,
    /// Line control register.
    pub lcr: Lcr,
    /// Modem control register (bits 0-4).
    pub mcr: Mcr,
    /// Divisor latch, low byte.
    pub dll: u8,
    /// Divisor latch, high byte.
    pub dlm: u8,
    /// Scratch register.
    pub scr: u8,
    /// LSR error bits latched until the LSR is read: OE, and PE/FE/BI of characters that reached
    /// the top of the FIFO.
    pub lsr_errors: Lsr,
    /// MSR delta bits, cleared when the MSR is read.
    pub msr_deltas: Msr,
    /// The modem input levels the chip sees now (the host's lines, or MCR in loopback).
    pub msr_inputs: Msr,
    /// Receive FIFO (in 16450 mode it holds at most one character: the RBR).
    pub rx_fifo: VecDeque<RxChar>,
    /// The last character read from RBR (reading an empty receiver returns it again).
    pub rbr: u8,
    /// Transmit FIFO (in 16450 mode at most one byte: the THR).
    pub tx_fifo: VecDeque<u8>,
    /// Transmitter shift register: the character being sent and when its stop bit ends.
    pub tsr: Option<(u8, Tick)>,
    /// Receiver shift register: the symbol arriving from the host and when it is complete.
    pub rsr: Option<(LineSymbol, Tick)>,
    /// THRE interrupt pending.
    pub thre_pending: bool,
    /// Character timeout indication pending.
    pub timeout_pending: bool,
    /// When the timeout timer last restarted (a character in, or one read out, of the FIFO).
    pub rx_activity: Tick,
    /// The host's end of the line.
    pub line: SerialLine,
}

impl Uart16550 {
    /// A UART at `base` in its master-reset state (data sheet Table III), with the host's modem
    /// lines CTS, DSR and DCD asserted.
    pub fn new(base: u16) -> Uart16550 {
        let inputs = Msr::CTS | Msr::DSR | Msr::DCD;
        Uart16550 {
            base,
            ier: Ier::empty(),
            fcr: Fcr::empty(),
            lcr: Lcr::empty(),
            mcr: Mcr::empty(),
            dll: 1,
            dlm: 0,
            scr: 0,
            lsr_errors: Lsr::empty(),
            msr_deltas: Msr::empty(),
            msr_inputs: inputs,
            rx_fifo: VecDeque::with_capacity(FIFO_SIZE),
            rbr: 0,
            tx_fifo: VecDeque::with_capacity(FIFO_SIZE),
            tsr: None,
            rsr: None,
            thre_pending: false,
            timeout_pending: false,
            rx_activity: Tick(0),
            line: SerialLine { modem_inputs: inputs, ..SerialLine::default() },
        }
    }

    /// Whether `port` is one of this UART's eight registers.
    pub fn contains(&self, port: u16) -> bool {
        port.wrapping_sub(self.base) < 8
    }

    fn offset(&self, port: u16) -> u16 {
        port.wrapping_sub(self.base) & 7
    }

    fn fifo_mode(&self) -> bool {
        self.fcr.contains(Fcr::FIFO_ENABLE)
    }

    /// The divisor latch (0 counts as 65536).
    pub fn divisor(&self) -> u32 {
        match u16::from_le_bytes([self.dll, self.dlm]) {
            0 => 65536,
            d => d as u32,
        }
    }

    /// Data bits per character (5-8, from WLS).
    pub fn word_length(&self) -> u32 {
        5 + (self.lcr.bits() & 3) as u32
    }

    /// Time one character takes on the line with the current divisor and LCR.
    pub fn char_time(&self) -> Tick {
        let parity = self.lcr.contains(Lcr::PEN) as u32;
        let stop_halves = match (self.lcr.contains(Lcr::STB), self.word_length()) {
            (false, _) => 2,
            (true, 5) => 3,
            (true, _) => 4,
        };
        let half_bits = 2 * (1 + self.word_length() + parity) + stop_halves;
        // One bit is 16 crystal cycles per divisor count, half a bit is 8.
        Tick::from_cycles(half_bits as u64 * 8 * self.divisor() as u64, UART_CLOCK_HZ)
    }

    fn trigger_level(&self) -> usize {
        [1, 4, 8, 14][(self.fcr.bits() >> 6) as usize & 3]
    }

    fn data_mask(&self) -> u8 {
        (0xFFu16 >> (8 - self.word_length())) as u8
    }

    /// The highest-priority pending interrupt's IIR code (Table IV), if any.
    fn pending_interrupt(&self) -> Option<u8> {
        let ier = self.ier;
        if ier.contains(Ier::ELSI) && self.lsr_errors.intersects(LSR_LINE_STATUS) {
            Some(IIR_RLS)
        } else if ier.contains(Ier::ERBFI) && self.data_available() {
            Some(IIR_RDA)
        } else if ier.contains(Ier::ERBFI) && self.timeout_pending {
            Some(IIR_CTI)
        } else if ier.contains(Ier::ETBEI) && self.thre_pending {
            Some(IIR_THRE)
        } else if ier.contains(Ier::EDSSI) && self.msr_deltas.intersects(MSR_DELTAS) {
            Some(IIR_MS)
        } else {
            None
        }
    }

    /// Received data available: the FIFO reached its trigger level (16450 mode: DR).
    fn data_available(&self) -> bool {
        if self.fifo_mode() { self.rx_fifo.len() >= self.trigger_level() } else { !self.rx_fifo.is_empty() }
    }

    /// The chip's INTR output.
    pub fn intr(&self) -> bool {
        self.pending_interrupt().is_some()
    }

    /// The IRQ line as a PC sees it: INTR gated by OUT2, which loopback forces inactive.
    pub fn irq_level(&self) -> bool {
        self.intr() && self.mcr.contains(Mcr::OUT2) && !self.mcr.contains(Mcr::LOOP)
    }

    /// The line status register's current value (without the read's side effects).
    pub fn lsr(&self) -> Lsr {
        let mut v = self.lsr_errors & LSR_LINE_STATUS;
        v.set(Lsr::DR, !self.rx_fifo.is_empty());
        v.set(Lsr::THRE, self.tx_fifo.is_empty());
        v.set(Lsr::TEMT, self.tx_fifo.is_empty() && self.tsr.is_none());
        // Errors of the top character are in `lsr_errors`; bit 7 also covers those behind it.
        let behind = self.rx_fifo.iter().skip(1).any(|c| !c.errors.is_empty());
        v.set(Lsr::RCVR_FIFO_ERROR, self.fifo_mode() && (v.intersects(LSR_CHAR_ERRORS) || behind));
        v
    }

    /// The modem status register's current value (without clearing the deltas).
    pub fn msr(&self) -> Msr {
        self.msr_deltas | self.msr_inputs
    }

    fn timeout_deadline(&self) -> Option<Tick> {
        if !self.fifo_mode() || self.rx_fifo.is_empty() || self.timeout_pending {
            return None;
        }
        let ct = self.char_time().nanos();
        Some(self.rx_activity.saturating_add(Tick(ct.saturating_mul(4))))
    }

    /// The next time the chip's visible state changes by itself: a character finishes sending or
    /// arriving, or the character timeout expires.
    pub fn next_deadline(&self) -> Option<Tick> {
        [self.tsr.map(|(_, t)| t), self.rsr.map(|(_, t)| t), self.timeout_deadline()].into_iter().flatten().min()
    }

    /// Brings the chip up to `now` (call when the deadline fires).
    pub fn update(&mut self, now: Tick) {
        self.advance(now);
    }

    /// Processes every completion due by `now`, in time order (transmit before receive before
    /// timeout at equal times). Bounded: each step consumes a queued character or sets the
    /// timeout flag.
    fn advance(&mut self, now: Tick) {
        loop {
            let tx = self.tsr.map(|(_, t)| t).filter(|&t| t <= now);
            let rx = self.rsr.map(|(_, t)| t).filter(|&t| t <= now);
            let to = self.timeout_deadline().filter(|&t| t <= now);
            let Some(t) = [tx, rx, to].into_iter().flatten().min() else { break };
            if tx == Some(t) {
                self.finish_transmit(t);
            } else if rx == Some(t) {
                self.finish_receive(t);
            } else {
                self.timeout_pending = true;
            }
        }
        self.start_receive(now);
    }

    /// The shift register's character has gone out at `t`.
    fn finish_transmit(&mut self, t: Tick) {
        let Some((byte, _)) = self.tsr.take() else { return };
        if self.mcr.contains(Mcr::LOOP) {
            self.deliver(RxChar { data: byte, errors: Lsr::empty() }, t);
        } else {
            if self.line.tx.len() >= LINE_TX_CAPACITY {
                self.line.tx.pop_front();
                self.line.tx_dropped += 1;
            }
            self.line.tx.push_back(byte);
        }
        self.load_shift_register(t);
    }

    /// Moves the next byte from THR/FIFO into the idle shift register at `t`.
    fn load_shift_register(&mut self, t: Tick) {
        if self.tsr.is_some() {
            return;
        }
        if let Some(b) = self.tx_fifo.pop_front() {
            let b = b & self.data_mask();
            self.tsr = Some((b, t.saturating_add(self.char_time())));
            if self.tx_fifo.is_empty() {
                // The THR (or the whole transmit FIFO) just emptied.
                self.thre_pending = true;
            }
        }
    }

    /// A symbol from the host has fully arrived at `t`.
    fn finish_receive(&mut self, t: Tick) {
        let Some((sym, _)) = self.rsr.take() else { return };
        let ch = match sym {
            LineSymbol::Char(b) => RxChar { data: b & self.data_mask(), errors: Lsr::empty() },
            // A break loads one zero character with BI (§8.3).
            LineSymbol::Break => RxChar { data: 0, errors: Lsr::BI },
        };
        self.deliver(ch, t);
        self.start_receive(t);
    }

    /// Starts the next host symbol into the receiver at `t`, if the receiver is idle and
    /// connected (loopback disconnects it; host input waits).
    ///
    /// The host side behaves like a sender that honours hardware flow control: it does not start
    /// a character while the receive FIFO (or the RBR without FIFOs) is full, so text piped or
    /// pasted before the guest reads its port waits instead of overrunning. A guest that never
    /// reads simply never receives; nothing is lost. (A real line without flow control would
    /// overrun: OE is still modelled for characters that arrive from loopback.)
    fn start_receive(&mut self, t: Tick) {
        if self.rsr.is_some() || self.mcr.contains(Mcr::LOOP) {
            return;
        }
        let capacity = if self.fifo_mode() { FIFO_SIZE } else { 1 };
        if self.rx_fifo.len() >= capacity {
            return;
        }
        if let Some(sym) = self.line.rx.pop_front() {
            self.rsr = Some((sym, t.saturating_add(self.char_time())));
        }
    }

    /// A character reaches the receive FIFO (or RBR) at `t`.
    fn deliver(&mut self, ch: RxChar, t: Tick) {
        if self.fifo_mode() {
            if self.rx_fifo.len() >= FIFO_SIZE {
                // The character in the shift register is overwritten, not transferred (§8.3).
                self.lsr_errors.insert(Lsr::OE);
                return;
            }
            if self.rx_fifo.is_empty() {
                self.lsr_errors.insert(ch.errors);
            }
            self.rx_fifo.push_back(ch);
        } else if let Some(old) = self.rx_fifo.front_mut() {
            // 16450 mode: the new character overwrites the unread one.
            *old = ch;
            self.lsr_errors.insert(Lsr::OE | ch.errors);
        } else {
            self.lsr_errors.insert(ch.errors);
            self.rx_fifo.push_back(ch);
        }
        if !self.timeout_pending {
            self.rx_activity = t;
        }
    }

    /// Recomputes the modem inputs (host lines, or MCR outputs in loopback) and sets the deltas.
    fn update_modem_inputs(&mut self) {
        let new = if self.mcr.contains(Mcr::LOOP) {
            let mut m = Msr::empty();
            m.set(Msr::CTS, self.mcr.contains(Mcr::RTS));
            m.set(Msr::DSR, self.mcr.contains(Mcr::DTR));
            m.set(Msr::RI, self.mcr.contains(Mcr::OUT1));
            m.set(Msr::DCD, self.mcr.contains(Mcr::OUT2));
            m
        } else {
            self.line.modem_inputs & MSR_INPUTS
        };
        let old = self.msr_inputs;
        let changed = old ^ new;
        if changed.contains(Msr::CTS) {
            self.msr_deltas.insert(Msr::DCTS);
        }
        if changed.contains(Msr::DSR) {
            self.msr_deltas.insert(Msr::DDSR);
        }
        if changed.contains(Msr::DCD) {
            self.msr_deltas.insert(Msr::DDCD);
        }
        if old.contains(Msr::RI) && !new.contains(Msr::RI) {
            self.msr_deltas.insert(Msr::TERI);
        }
        self.msr_inputs = new;
    }

    /// `in` from one of the eight registers.
    pub fn read(&mut self, port: u16, now: Tick) -> u8 {
        self.advance(now);
        let dlab = self.lcr.contains(Lcr::DLAB);
        match self.offset(port) {
            REG_DLL if dlab => self.dll,
            REG_RBR => {
                let v = self.read_rbr(now);
                // Room in the receiver: the host's next character may start.
                self.start_receive(now);
                v
            }
            REG_DLM if dlab => self.dlm,
            REG_IER => self.ier.bits(),
            REG_IIR => {
                let id = self.pending_interrupt();
                if id == Some(IIR_THRE) {
                    // Reading the IIR while THRE is the reported source clears it.
                    self.thre_pending = false;
                }
                id.unwrap_or(IIR_NO_INT) | if self.fifo_mode() { IIR_FIFOS_ENABLED } else { 0 }
            }
            REG_LCR => self.lcr.bits(),
            REG_MCR => self.mcr.bits(),
            REG_LSR => {
                let v = self.lsr();
                self.lsr_errors = Lsr::empty();
                v.bits()
            }
            REG_MSR => {
                let v = self.msr();
                self.msr_deltas = Msr::empty();
                v.bits()
            }
            _ => self.scr,
        }
    }

    fn read_rbr(&mut self, now: Tick) -> u8 {
        if let Some(ch) = self.rx_fifo.pop_front() {
            self.rbr = ch.data;
            if let Some(next) = self.rx_fifo.front() {
                // The next character's errors show once it is at the top.
                self.lsr_errors.insert(next.errors);
            }
        }
        // Reading the FIFO clears a timeout indication and restarts the timer.
        self.timeout_pending = false;
        self.rx_activity = now;
        self.rbr
    }

    /// `out` to one of the eight registers.
    pub fn write(&mut self, port: u16, value: u8, now: Tick) {
        self.advance(now);
        let dlab = self.lcr.contains(Lcr::DLAB);
        match self.offset(port) {
            REG_DLL if dlab => self.dll = value,
            REG_THR => self.write_thr(value, now),
            REG_DLM if dlab => self.dlm = value,
            REG_IER => {
                let new = Ier::from_bits_truncate(value);
                if new.contains(Ier::ETBEI) && !self.ier.contains(Ier::ETBEI) && self.tx_fifo.is_empty() {
                    // Enabling the THRE interrupt while the THR is empty raises it.
                    self.thre_pending = true;
                }
                self.ier = new;
            }
            REG_FCR => self.write_fcr(value),
            REG_LCR => self.lcr = Lcr::from_bits_retain(value),
            REG_MCR => {
                self.mcr = Mcr::from_bits_truncate(value);
                self.update_modem_inputs();
                // Leaving loopback reconnects the receiver to the host.
                self.start_receive(now);
            }
            REG_LSR | REG_MSR => {} // factory test only
            _ => self.scr = value,
        }
    }

    fn write_thr(&mut self, value: u8, now: Tick) {
        if self.fifo_mode() {
            if self.tx_fifo.len() < FIFO_SIZE {
                self.tx_fifo.push_back(value);
            } else {
                log::debug!("uart {:#x}: write to a full transmit FIFO, byte lost", self.base);
            }
        } else if let Some(thr) = self.tx_fifo.front_mut() {
            // 16450 mode with THRE = 0: the byte replaces the one waiting.
            *thr = value;
        } else {
            self.tx_fifo.push_back(value);
        }
        self.thre_pending = false;
        self.load_shift_register(now);
    }

    fn write_fcr(&mut self, value: u8) {
        let new = Fcr::from_bits_truncate(value);
        if new.contains(Fcr::FIFO_ENABLE) != self.fifo_mode() {
            // Switching between FIFO and 16450 mode clears both FIFOs.
            self.clear_rx_fifo();
            self.clear_tx_fifo();
        }
        if !new.contains(Fcr::FIFO_ENABLE) {
            // FCR0 must be 1 for the other bits to be programmed.
            self.fcr = Fcr::empty();
            return;
        }
        if new.contains(Fcr::RCVR_FIFO_RESET) {
            self.clear_rx_fifo();
        }
        if new.contains(Fcr::XMIT_FIFO_RESET) {
            self.clear_tx_fifo();
        }
        self.fcr = new - (Fcr::RCVR_FIFO_RESET | Fcr::XMIT_FIFO_RESET);
    }

    fn clear_rx_fifo(&mut self) {
        self.rx_fifo.clear();
        self.timeout_pending = false;
    }

    fn clear_tx_fifo(&mut self) {
        if !self.tx_fifo.is_empty() {
            self.tx_fifo.clear();
            self.thre_pending = true;
        }
    }

    // ----- host side -----

    /// The host sends `byte` toward the receiver at `now`. It enters the receiver one character
    /// time after the previous one. Returns `false` (and drops it) if the line's queue is full.
    pub fn receive(&mut self, byte: u8, now: Tick) -> bool {
        self.send_symbol(LineSymbol::Char(byte), now)
    }

    /// The host sends a break (received as a zero character with BI).
    pub fn receive_break(&mut self, now: Tick) -> bool {
        self.send_symbol(LineSymbol::Break, now)
    }

    fn send_symbol(&mut self, sym: LineSymbol, now: Tick) -> bool {
        self.advance(now);
        if self.line.rx.len() >= LINE_RX_CAPACITY {
            return false;
        }
        self.line.rx.push_back(sym);
        self.start_receive(now);
        true
    }

    /// The host changes its modem lines (CTS, DSR, RI, DCD bits in MSR positions; the rest is
    /// ignored). Changes show as MSR deltas unless in loopback.
    pub fn set_modem_inputs(&mut self, inputs: Msr, now: Tick) {
        self.advance(now);
        self.line.modem_inputs = inputs & MSR_INPUTS;
        self.update_modem_inputs();
    }

    /// The next transmitted byte, if any (in order).
    pub fn take_tx(&mut self) -> Option<u8> {
        self.line.tx.pop_front()
    }

    /// True when the line is quiet and the guest is ready for the host's next character: not in
    /// loopback, RTS asserted (MCR1: in RS-232 hardware flow control the receiving side raises
    /// RTS when it can take data; a PC BIOS and most drivers set it when they set the port up),
    /// nothing on its way in (host queue, receiver shift register, receive FIFO all empty) and
    /// nothing on its way out (TEMT: the guest's last output is on the host side). The machine's
    /// paced host input (`Machine::serial_paced`) sends a byte only at such moments.
    pub fn ready_for_host_input(&self) -> bool {
        !self.mcr.contains(Mcr::LOOP)
            && self.mcr.contains(Mcr::RTS)
            && self.line.rx.is_empty()
            && self.rsr.is_none()
            && self.rx_fifo.is_empty()
            && self.tx_fifo.is_empty()
            && self.tsr.is_none()
    }

    /// Finishes at once every transmission in progress or queued (for stopping the machine: the
    /// bytes reach the host side instead of being lost). Timing is not respected.
    pub fn flush_tx(&mut self) {
        let loopback = self.mcr.contains(Mcr::LOOP);
        let pending: Vec<u8> = self.tsr.take().map(|(b, _)| b).into_iter().chain(self.tx_fifo.drain(..)).collect();
        if !pending.is_empty() {
            self.thre_pending = true;
        }
        if loopback {
            return;
        }
        for b in pending {
            if self.line.tx.len() >= LINE_TX_CAPACITY {
                self.line.tx.pop_front();
                self.line.tx_dropped += 1;
            }
            self.line.tx.push_back(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: u16 = COM1_BASE;
    const T0: Tick = Tick::from_millis(1);

    fn port(r: u16) -> u16 {
        B + r
    }

    /// A UART at 115200 8N1 (character time 86.806 µs), with the IRQ enabled through OUT2.
    fn uart() -> Uart16550 {
        let mut u = Uart16550::new(B);
        u.write(port(REG_LCR), 0x80, T0);
        u.write(port(REG_DLL), 1, T0);
        u.write(port(REG_DLM), 0, T0);
        u.write(port(REG_LCR), 0x03, T0);
        u.write(port(REG_MCR), 0x0B, T0); // DTR, RTS, OUT2
        u
    }

    fn iir(u: &mut Uart16550, now: Tick) -> u8 {
        u.read(port(REG_IIR), now) & 0x0F
    }

    fn after(t: Tick, chars: u64, u: &Uart16550) -> Tick {
        Tick(t.0 + chars * u.char_time().0)
    }

    #[test]
    fn reset_state() {
        let mut u = Uart16550::new(B);
        assert_eq!(u.read(port(REG_IER), T0), 0);
        assert_eq!(u.read(port(REG_IIR), T0), 0x01);
        assert_eq!(u.read(port(REG_LCR), T0), 0);
        assert_eq!(u.read(port(REG_MCR), T0), 0);
        assert_eq!(u.read(port(REG_LSR), T0), 0x60);
        assert_eq!(u.read(port(REG_MSR), T0), 0xB0, "host asserts DCD, DSR, CTS");
        assert!(!u.irq_level());
        assert_eq!(u.next_deadline(), None);
    }

    #[test]
    fn divisor_latch() {
        let mut u = Uart16550::new(B);
        u.write(port(REG_IER), 0x05, T0);
        u.write(port(REG_LCR), 0x83, T0);
        u.write(port(REG_DLL), 0x0C, T0);
        u.write(port(REG_DLM), 0x00, T0);
        assert_eq!(u.read(port(REG_DLL), T0), 0x0C);
        assert_eq!(u.read(port(REG_DLM), T0), 0x00);
        u.write(port(REG_LCR), 0x03, T0);
        assert_eq!(u.read(port(REG_IER), T0), 0x05, "DLAB clear: offset 1 is IER again");
        assert_eq!(u.divisor(), 12);
        // 9600 baud, 10 bits: 1/960 s = 1041667 ns (rounded up).
        assert_eq!(u.char_time(), Tick(1_041_667));
        // 7E2: 1 + 7 + 1 + 2 = 11 bits.
        u.write(port(REG_LCR), 0x1E, T0);
        assert_eq!(u.char_time(), Tick(1_145_834));
        // 5 bits with 1.5 stop bits: 7.5 bits.
        u.write(port(REG_LCR), 0x04, T0);
        assert_eq!(u.char_time(), Tick(781_250));
        // Divisor 0 is 65536.
        u.write(port(REG_LCR), 0x83, T0);
        u.write(port(REG_DLL), 0, T0);
        assert_eq!(u.divisor(), 65536);
    }

    #[test]
    fn scratch_register() {
        let mut u = Uart16550::new(B);
        for v in [0x00, 0x55, 0xAA, 0xFF] {
            u.write(port(REG_SCR), v, T0);
            assert_eq!(u.read(port(REG_SCR), T0), v);
        }
    }

    #[test]
    fn transmit_takes_a_character_time_and_sets_thre_temt() {
        let mut u = uart();
        u.write(port(REG_THR), b'h', T0);
        u.write(port(REG_THR), b'i', T0);
        // 'h' is shifting out, 'i' waits in the THR.
        assert_eq!(u.read(port(REG_LSR), T0) & 0x60, 0x00);
        assert_eq!(u.take_tx(), None);
        let t1 = after(T0, 1, &u);
        assert_eq!(u.next_deadline(), Some(t1));
        assert_eq!(u.read(port(REG_LSR), Tick(t1.0 - 1)) & 0x60, 0x00);
        assert_eq!(u.read(port(REG_LSR), t1) & 0x60, 0x20, "THR empty, shift register busy");
        assert_eq!(u.take_tx(), Some(b'h'));
        let t2 = after(T0, 2, &u);
        assert_eq!(u.read(port(REG_LSR), t2) & 0x60, 0x60);
        assert_eq!(u.take_tx(), Some(b'i'));
        assert_eq!(u.next_deadline(), None);
    }

    #[test]
    fn thre_interrupt_behaviour() {
        let mut u = uart();
        assert_eq!(iir(&mut u, T0), 0x01);
        // Enabling ETBEI with the THR empty raises THRE at once.
        u.write(port(REG_IER), 0x02, T0);
        assert!(u.irq_level());
        assert_eq!(iir(&mut u, T0), 0x02);
        // Reading IIR while THRE is the source clears it.
        assert_eq!(iir(&mut u, T0), 0x01);
        assert!(!u.irq_level());
        // A byte to an idle transmitter goes straight to the shift register: THR empty again.
        u.write(port(REG_THR), 1, T0);
        assert_eq!(iir(&mut u, T0), 0x02);
        // The next byte waits in the THR: no interrupt until it moves on.
        u.write(port(REG_THR), 2, T0);
        assert_eq!(iir(&mut u, T0), 0x01);
        let t1 = after(T0, 1, &u);
        u.update(t1);
        assert!(u.irq_level());
        // Writing THR also clears it.
        u.write(port(REG_THR), 3, t1);
        assert!(!u.irq_level());
        // Re-writing IER with ETBEI already set does not raise it again.
        let t2 = after(T0, 2, &u);
        u.update(t2);
        assert_eq!(iir(&mut u, t2), 0x02);
        u.write(port(REG_IER), 0x02, t2);
        assert_eq!(iir(&mut u, t2), 0x01);
        let mut out = Vec::new();
        u.update(after(T0, 3, &u));
        while let Some(b) = u.take_tx() {
            out.push(b);
        }
        assert_eq!(out, vec![1, 2, 3]);
    }

    #[test]
    fn fifo_transmit_thre_when_fifo_empties() {
        let mut u = uart();
        u.write(port(REG_FCR), 0x07, T0);
        u.write(port(REG_IER), 0x02, T0);
        assert_eq!(iir(&mut u, T0), 0x02);
        for b in 0..17u8 {
            u.write(port(REG_THR), b, T0);
        }
        // One in the shift register, 16 in the FIFO; a 17th... fits because the first moved on.
        assert_eq!(u.tx_fifo.len(), 16);
        u.write(port(REG_THR), 99, T0);
        assert_eq!(u.tx_fifo.len(), 16, "a write to a full FIFO is lost");
        assert_eq!(iir(&mut u, T0), 0x01);
        // After 16 characters the last byte moves into the shift register: THRE.
        let t16 = after(T0, 16, &u);
        assert_eq!(iir(&mut u, Tick(t16.0 - 1)), 0x01);
        assert_eq!(iir(&mut u, t16), 0x02);
        assert_eq!(u.read(port(REG_LSR), t16) & 0x60, 0x20);
        u.update(after(T0, 17, &u));
        let out: Vec<u8> = std::iter::from_fn(|| u.take_tx()).collect();
        assert_eq!(out, (0..17).collect::<Vec<u8>>());
    }

    #[test]
    fn fifo_trigger_levels_and_rda() {
        for (fcr, level) in [(0x01u8, 1usize), (0x41, 4), (0x81, 8), (0xC1, 14)] {
            let mut u = uart();
            u.write(port(REG_FCR), fcr, T0);
            u.write(port(REG_IER), 0x01, T0);
            assert_eq!(u.read(port(REG_IIR), T0) & 0xC0, 0xC0, "FIFOs enabled");
            let mut now = T0;
            for n in 1..=16usize {
                assert!(u.receive(n as u8, now));
                now = u.next_deadline().unwrap();
                u.update(now);
                assert_eq!(u.rx_fifo.len(), n);
                let want = if n >= level { 0x04 } else { 0x01 };
                assert_eq!(iir(&mut u, now), want, "trigger {level}, {n} bytes");
            }
            // Reading below the trigger level clears RDA.
            for n in (0..16usize).rev() {
                u.read(port(REG_RBR), now);
                let want = if n >= level { 0x04 } else { 0x01 };
                assert_eq!(iir(&mut u, now), want);
            }
        }
    }

    #[test]
    fn character_timeout() {
        let mut u = uart();
        u.write(port(REG_FCR), 0xC7, T0); // trigger 14
        u.write(port(REG_IER), 0x01, T0);
        u.receive(b'a', T0);
        u.receive(b'b', T0);
        let arrived = after(T0, 2, &u);
        u.update(arrived);
        assert_eq!(u.rx_fifo.len(), 2);
        assert_eq!(iir(&mut u, arrived), 0x01);
        // Four character times after the last arrival: timeout.
        let to = after(arrived, 4, &u);
        assert_eq!(u.next_deadline(), Some(to));
        u.update(Tick(to.0 - 1));
        assert!(!u.irq_level());
        u.update(to);
        assert!(u.irq_level());
        assert_eq!(u.read(port(REG_IIR), to), 0xCC);
        assert_eq!(iir(&mut u, to), 0x0C, "reading IIR does not clear a timeout");
        // Reading a character clears it and restarts the timer.
        assert_eq!(u.read(port(REG_RBR), to), b'a');
        assert_eq!(iir(&mut u, to), 0x01);
        let to2 = after(to, 4, &u);
        assert_eq!(u.next_deadline(), Some(to2));
        u.update(to2);
        assert_eq!(iir(&mut u, to2), 0x0C);
        assert_eq!(u.read(port(REG_RBR), to2), b'b');
        assert_eq!(iir(&mut u, to2), 0x01);
        assert_eq!(u.next_deadline(), None, "empty FIFO: no timeout");
    }

    #[test]
    fn no_timeout_in_16450_mode() {
        let mut u = uart();
        u.write(port(REG_IER), 0x01, T0);
        u.receive(7, T0);
        let t = after(T0, 1, &u);
        u.update(t);
        assert_eq!(iir(&mut u, t), 0x04, "16450 mode: RDA on DR");
        assert_eq!(u.next_deadline(), None);
    }

    // Host input cannot overrun the receiver (it waits while the FIFO is full, see
    // `start_receive`), so the overrun tests feed the receiver through loopback (MCR4, data
    // sheet §8.6), where the transmitter's output enters the receiver with no flow control,
    // exactly like a remote sender that ignores RTS.

    #[test]
    fn overrun_in_16450_mode() {
        let mut u = uart();
        u.write(port(REG_MCR), 0x10, T0); // loopback
        u.write(port(REG_IER), 0x05, T0);
        // The first byte goes straight into the shift register, the second waits in THR.
        u.write(port(REG_THR), 1, T0);
        u.write(port(REG_THR), 2, T0);
        let t = after(T0, 2, &u);
        u.update(t);
        assert_eq!(iir(&mut u, t), 0x06, "line status outranks data");
        assert_eq!(u.read(port(REG_LSR), t) & 0x03, 0x03, "OE and DR");
        assert_eq!(u.read(port(REG_LSR), t) & 0x02, 0, "reading LSR cleared OE");
        assert_eq!(iir(&mut u, t), 0x04);
        assert_eq!(u.read(port(REG_RBR), t), 2, "the new character overwrote the old");
        assert_eq!(u.read(port(REG_LSR), t) & 0x01, 0);
    }

    #[test]
    fn overrun_in_fifo_mode_keeps_the_fifo() {
        let mut u = uart();
        u.write(port(REG_FCR), 0x01, T0);
        u.write(port(REG_MCR), 0x10, T0); // loopback
        // 17 bytes: one in the shift register, 16 in the transmit FIFO.
        for b in 0..17u8 {
            u.write(port(REG_THR), b, T0);
        }
        let t = after(T0, 17, &u);
        u.update(t);
        assert_eq!(u.rx_fifo.len(), 16);
        let lsr = u.read(port(REG_LSR), t);
        assert_eq!(lsr & 0x83, 0x03, "OE, DR; OE is not a FIFO error");
        let got: Vec<u8> = (0..16).map(|_| u.read(port(REG_RBR), t)).collect();
        assert_eq!(got, (0..16).collect::<Vec<u8>>(), "the 17th byte was lost, the FIFO kept");
        assert_eq!(u.read(port(REG_LSR), t) & 0x03, 0, "empty, OE cleared by the first LSR read");
    }

    #[test]
    fn host_input_is_paced_and_not_lost_when_read() {
        let mut u = uart();
        u.write(port(REG_FCR), 0x01, T0);
        let text: Vec<u8> = (0..200u32).map(|i| b'a' + (i % 26) as u8).collect();
        for &b in &text {
            assert!(u.receive(b, T0));
        }
        // A guest that polls LSR every character time reads everything, in order.
        let mut got = Vec::new();
        let mut now = T0;
        for _ in 0..400 {
            now = now.saturating_add(u.char_time());
            while u.read(port(REG_LSR), now) & 1 != 0 {
                got.push(u.read(port(REG_RBR), now));
            }
        }
        assert_eq!(got, text);
        assert_eq!(u.read(port(REG_LSR), now) & 0x02, 0, "no overrun");
    }

    #[test]
    fn line_queue_is_bounded() {
        let mut u = uart();
        let mut accepted = 0;
        for i in 0..LINE_RX_CAPACITY + 100 {
            accepted += u.receive(i as u8, T0) as usize;
        }
        // One symbol is already in the receiver's shift register.
        assert_eq!(accepted, LINE_RX_CAPACITY + 1);
    }

    #[test]
    fn iir_priorities() {
        let mut u = uart();
        // Loopback with DTR and RTS: CTS and DSR stay up, DCD (from OUT2, off) drops: DDCD.
        u.write(port(REG_MCR), 0x13, T0);
        u.write(port(REG_IER), 0x0F, T0);
        // THRE pending (ETBEI turned on with THR empty) is cleared by the THR writes, and set
        // again when the second byte moves into the shift register; the second byte's arrival
        // overruns the first (16450 mode).
        u.write(port(REG_THR), 1, T0);
        u.write(port(REG_THR), 2, T0);
        let t = after(T0, 2, &u);
        u.update(t);
        assert_eq!(iir(&mut u, t), 0x06);
        u.read(port(REG_LSR), t);
        assert_eq!(iir(&mut u, t), 0x04);
        u.read(port(REG_RBR), t);
        assert_eq!(iir(&mut u, t), 0x02);
        // That IIR read cleared THRE; modem status is last.
        assert_eq!(iir(&mut u, t), 0x00);
        assert_eq!(u.read(port(REG_MSR), t), 0x38, "CTS, DSR, DDCD");
        assert_eq!(iir(&mut u, t), 0x01);
        assert!(!u.intr());
    }

    #[test]
    fn out2_gates_the_irq_line() {
        let mut u = uart();
        u.write(port(REG_IER), 0x02, T0);
        assert!(u.intr());
        assert!(u.irq_level());
        u.write(port(REG_MCR), 0x03, T0); // OUT2 off
        assert!(u.intr());
        assert!(!u.irq_level());
        u.write(port(REG_MCR), 0x1B, T0); // OUT2 on, but loopback forces it inactive
        assert!(u.intr());
        assert!(!u.irq_level());
    }

    #[test]
    fn loopback() {
        let mut u = uart();
        u.write(port(REG_FCR), 0x01, T0);
        u.read(port(REG_MSR), T0);
        u.write(port(REG_MCR), 0x10, T0); // loopback, all outputs off
        // Inputs follow the (off) outputs: CTS, DSR, DCD dropped.
        assert_eq!(u.read(port(REG_MSR), T0), 0x0B);
        u.write(port(REG_MCR), 0x1F, T0);
        assert_eq!(u.read(port(REG_MSR), T0), 0xFB, "DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD");
        u.write(port(REG_MCR), 0x1B, T0); // OUT1 off: RI falls, TERI
        assert_eq!(u.read(port(REG_MSR), T0), 0xB4);
        // Transmit loops into the receiver, nothing reaches the host.
        u.write(port(REG_THR), 0x5A, T0);
        u.receive(0x11, T0); // host input waits while the receiver is disconnected
        let t = after(T0, 1, &u);
        u.update(t);
        assert_eq!(u.take_tx(), None);
        assert_eq!(u.read(port(REG_LSR), t) & 0x61, 0x61);
        assert_eq!(u.read(port(REG_RBR), t), 0x5A);
        assert_eq!(u.line.rx.len(), 1);
        // Leaving loopback reconnects the host; its byte arrives a character time later.
        u.write(port(REG_MCR), 0x0B, t);
        assert_eq!(u.read(port(REG_MSR), t) & 0xF0, 0xB0);
        let t2 = after(t, 1, &u);
        u.update(t2);
        assert_eq!(u.read(port(REG_RBR), t2), 0x11);
    }

    #[test]
    fn modem_status_from_host_lines() {
        let mut u = uart();
        u.write(port(REG_IER), 0x08, T0);
        u.set_modem_inputs(Msr::CTS | Msr::DSR | Msr::DCD | Msr::RI, T0);
        assert_eq!(iir(&mut u, T0), 0x01, "RI rising is not a delta");
        u.set_modem_inputs(Msr::CTS | Msr::DSR, T0);
        assert!(u.irq_level());
        assert_eq!(u.read(port(REG_MSR), T0), 0x3C, "TERI, DDCD, DSR, CTS");
        assert_eq!(u.read(port(REG_MSR), T0), 0x30, "deltas clear on read");
        assert!(!u.irq_level());
    }

    #[test]
    fn break_sets_bi_and_fifo_error() {
        let mut u = uart();
        u.write(port(REG_FCR), 0x01, T0);
        u.write(port(REG_IER), 0x04, T0);
        u.receive(b'x', T0);
        u.receive_break(T0);
        let t = after(T0, 2, &u);
        u.update(t);
        assert_eq!(iir(&mut u, t), 0x01, "the break is not at the top yet");
        assert_eq!(u.read(port(REG_LSR), t), 0xE1, "bit 7: an error waits in the FIFO");
        assert_eq!(u.read(port(REG_RBR), t), b'x');
        assert_eq!(iir(&mut u, t), 0x06);
        assert_eq!(u.read(port(REG_LSR), t), 0xF1, "BI with the break character on top");
        assert_eq!(u.read(port(REG_LSR), t), 0x61, "cleared on read, none behind");
        assert_eq!(u.read(port(REG_RBR), t), 0);
    }

    #[test]
    fn fcr_programming_rules() {
        let mut u = uart();
        u.write(port(REG_FCR), 0xC0, T0); // FCR0 = 0: nothing programmed
        assert_eq!(u.fcr, Fcr::empty());
        u.write(port(REG_FCR), 0x81, T0);
        assert_eq!(u.trigger_level(), 8);
        u.receive(1, T0);
        u.update(after(T0, 1, &u));
        assert_eq!(u.rx_fifo.len(), 1);
        // Receiver reset clears the FIFO, keeps the mode.
        u.write(port(REG_FCR), 0x83, after(T0, 1, &u));
        assert!(u.rx_fifo.is_empty());
        assert_eq!(u.trigger_level(), 8);
        // Transmitter reset: queued bytes go, the shift register finishes.
        let t = after(T0, 1, &u);
        for b in 0..4 {
            u.write(port(REG_THR), b, t);
        }
        u.write(port(REG_FCR), 0x85, t);
        assert_eq!(u.read(port(REG_LSR), t) & 0x60, 0x20);
        u.update(after(t, 1, &u));
        assert_eq!(std::iter::from_fn(|| u.take_tx()).collect::<Vec<_>>(), vec![0]);
        // Turning the FIFOs off clears them.
        u.receive(9, after(t, 1, &u));
        u.update(after(t, 2, &u));
        assert_eq!(u.rx_fifo.len(), 1);
        u.write(port(REG_FCR), 0x00, after(t, 2, &u));
        assert!(u.rx_fifo.is_empty());
        assert_eq!(u.read(port(REG_IIR), after(t, 2, &u)) & 0xC0, 0);
    }

    #[test]
    fn word_length_masks_data() {
        let mut u = uart();
        u.write(port(REG_LCR), 0x02, T0); // 7 bits
        u.write(port(REG_THR), 0xFF, T0);
        u.receive(0xC1, T0);
        let t = after(T0, 1, &u);
        u.update(t);
        assert_eq!(u.take_tx(), Some(0x7F));
        assert_eq!(u.read(port(REG_RBR), t), 0x41);
    }

    #[test]
    fn flush_tx_finishes_everything() {
        let mut u = uart();
        u.write(port(REG_FCR), 0x01, T0);
        for &b in b"bye" {
            u.write(port(REG_THR), b, T0);
        }
        u.flush_tx();
        assert_eq!(std::iter::from_fn(|| u.take_tx()).collect::<Vec<_>>(), b"bye");
        assert_eq!(u.read(port(REG_LSR), T0) & 0x60, 0x60);
        assert_eq!(u.next_deadline(), None);
    }

    #[test]
    fn late_catch_up_equals_exact_timing() {
        // The same traffic, caught up at every deadline or only once at the end.
        let run = |exact: bool| {
            let mut u = uart();
            u.write(port(REG_FCR), 0x01, T0);
            u.write(port(REG_MCR), 0x1B, T0); // loopback: transmit feeds receive
            for b in 0..10u8 {
                u.write(port(REG_THR), b, T0);
            }
            let end = after(T0, 20, &u);
            if exact {
                while let Some(t) = u.next_deadline().filter(|&t| t <= end) {
                    u.update(t);
                }
            }
            u.update(end);
            u
        };
        let (a, b) = (run(true), run(false));
        assert_eq!(a, b);
        assert_eq!(a.rx_fifo.iter().map(|c| c.data).collect::<Vec<_>>(), (0..10).collect::<Vec<u8>>());
        assert!(a.timeout_pending);
    }

    #[test]
    fn contains_and_port_offsets() {
        let u = Uart16550::new(COM2_BASE);
        assert!(u.contains(0x2F8) && u.contains(0x2FF));
        assert!(!u.contains(0x2F7) && !u.contains(0x300));
    }

    #[test]
    fn any_guest_writes_never_panic() {
        let mut u = uart();
        let mut now = T0;
        let mut x: u32 = 0x1234_5678;
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let reg = (x & 7) as u16;
            let v = (x >> 8) as u8;
            u.write(port(reg), v, now);
            u.read(port((x >> 16) as u16 & 7), now);
            if i % 3 == 0 {
                u.receive(v, now);
            }
            now = now.saturating_add(Tick(x as u64 % 50_000));
            u.update(now);
            while u.take_tx().is_some() {}
            assert!(u.rx_fifo.len() <= FIFO_SIZE && u.tx_fifo.len() <= FIFO_SIZE);
            assert!(u.line.rx.len() <= LINE_RX_CAPACITY);
        }
        u.read(0xFFFF, now);
        u.write(0, 0xFF, Tick::NEVER);
        u.update(Tick::NEVER);
    }
}
