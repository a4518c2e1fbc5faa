//! Host keys (minifb's [`minifb::Key`]) to the PC keyboard's keys ([`Key`] of the 8042 model,
//! which knows their set 1 and set 2 scan codes).
//!
//! minifb names keys by their unshifted symbol on a US layout (on X11, the keysym at level 0),
//! so Shift + 2 arrives as Left Shift and `Key2`, exactly the two make codes a PS/2 keyboard
//! sends: the guest's keyboard layout and Shift handling do the rest. Keys minifb does not
//! report (Print Screen, the ISO key left of Z, F13 and up) are not available.

use crate::devices::kbc8042::Key;
use minifb::Key as HostKey;

/// The PC key for a host key; `None` for keys the PC keyboard lacks.
pub fn pc_key(k: HostKey) -> Option<Key> {
    use HostKey as H;
    Some(match k {
        H::Key0 => Key::Digit0,
        H::Key1 => Key::Digit1,
        H::Key2 => Key::Digit2,
        H::Key3 => Key::Digit3,
        H::Key4 => Key::Digit4,
        H::Key5 => Key::Digit5,
        H::Key6 => Key::Digit6,
        H::Key7 => Key::Digit7,
        H::Key8 => Key::Digit8,
        H::Key9 => Key::Digit9,
        H::A => Key::A,
        H::B => Key::B,
        H::C => Key::C,
        H::D => Key::D,
        H::E => Key::E,
        H::F => Key::F,
        H::G => Key::G,
        H::H => Key::H,
        H::I => Key::I,
        H::J => Key::J,
        H::K => Key::K,
        H::L => Key::L,
        H::M => Key::M,
        H::N => Key::N,
        H::O => Key::O,
        H::P => Key::P,
        H::Q => Key::Q,
        H::R => Key::R,
        H::S => Key::S,
        H::T => Key::T,
        H::U => Key::U,
        H::V => Key::V,
        H::W => Key::W,
        H::X => Key::X,
        H::Y => Key::Y,
        H::Z => Key::Z,
        H::F1 => Key::F1,
        H::F2 => Key::F2,
        H::F3 => Key::F3,
        H::F4 => Key::F4,
        H::F5 => Key::F5,
        H::F6 => Key::F6,
        H::F7 => Key::F7,
        H::F8 => Key::F8,
        H::F9 => Key::F9,
        H::F10 => Key::F10,
        H::F11 => Key::F11,
        H::F12 => Key::F12,
        H::Down => Key::Down,
        H::Left => Key::Left,
        H::Right => Key::Right,
        H::Up => Key::Up,
        H::Apostrophe => Key::Quote,
        H::Backquote => Key::Backquote,
        H::Backslash => Key::Backslash,
        H::Comma => Key::Comma,
        H::Equal => Key::Equal,
        H::LeftBracket => Key::LeftBracket,
        H::Minus => Key::Minus,
        H::Period => Key::Period,
        H::RightBracket => Key::RightBracket,
        H::Semicolon => Key::Semicolon,
        H::Slash => Key::Slash,
        H::Backspace => Key::Backspace,
        H::Delete => Key::Delete,
        H::End => Key::End,
        H::Enter => Key::Enter,
        H::Escape => Key::Escape,
        H::Home => Key::Home,
        H::Insert => Key::Insert,
        H::Menu => Key::Menu,
        H::PageDown => Key::PageDown,
        H::PageUp => Key::PageUp,
        H::Pause => Key::Pause,
        H::Space => Key::Space,
        H::Tab => Key::Tab,
        H::NumLock => Key::NumLock,
        H::CapsLock => Key::CapsLock,
        H::ScrollLock => Key::ScrollLock,
        H::LeftShift => Key::LeftShift,
        H::RightShift => Key::RightShift,
        H::LeftCtrl => Key::LeftCtrl,
        H::RightCtrl => Key::RightCtrl,
        H::NumPad0 => Key::Kp0,
        H::NumPad1 => Key::Kp1,
        H::NumPad2 => Key::Kp2,
        H::NumPad3 => Key::Kp3,
        H::NumPad4 => Key::Kp4,
        H::NumPad5 => Key::Kp5,
        H::NumPad6 => Key::Kp6,
        H::NumPad7 => Key::Kp7,
        H::NumPad8 => Key::Kp8,
        H::NumPad9 => Key::Kp9,
        H::NumPadDot => Key::KpPeriod,
        H::NumPadSlash => Key::KpDivide,
        H::NumPadAsterisk => Key::KpMultiply,
        H::NumPadMinus => Key::KpMinus,
        H::NumPadPlus => Key::KpPlus,
        H::NumPadEnter => Key::KpEnter,
        H::LeftAlt => Key::LeftAlt,
        H::RightAlt => Key::RightAlt,
        H::LeftSuper => Key::LeftMeta,
        H::RightSuper => Key::RightMeta,
        H::F13 | H::F14 | H::F15 | H::Unknown | H::Count => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::kbc8042::ScanCodeSet;

    /// Every minifb key, in discriminant order.
    #[rustfmt::skip]
    const ALL: [HostKey; 108] = {
        use HostKey as H;
        [
            H::Key0, H::Key1, H::Key2, H::Key3, H::Key4, H::Key5, H::Key6, H::Key7, H::Key8, H::Key9,
            H::A, H::B, H::C, H::D, H::E, H::F, H::G, H::H, H::I, H::J, H::K, H::L, H::M, H::N, H::O,
            H::P, H::Q, H::R, H::S, H::T, H::U, H::V, H::W, H::X, H::Y, H::Z, H::F1, H::F2, H::F3,
            H::F4, H::F5, H::F6, H::F7, H::F8, H::F9, H::F10, H::F11, H::F12, H::F13, H::F14,
            H::F15, H::Down, H::Left, H::Right, H::Up, H::Apostrophe, H::Backquote, H::Backslash,
            H::Comma, H::Equal, H::LeftBracket, H::Minus, H::Period, H::RightBracket, H::Semicolon,
            H::Slash, H::Backspace, H::Delete, H::End, H::Enter, H::Escape, H::Home, H::Insert,
            H::Menu, H::PageDown, H::PageUp, H::Pause, H::Space, H::Tab, H::NumLock, H::CapsLock,
            H::ScrollLock, H::LeftShift, H::RightShift, H::LeftCtrl, H::RightCtrl, H::NumPad0,
            H::NumPad1, H::NumPad2, H::NumPad3, H::NumPad4, H::NumPad5, H::NumPad6, H::NumPad7,
            H::NumPad8, H::NumPad9, H::NumPadDot, H::NumPadSlash, H::NumPadAsterisk,
            H::NumPadMinus, H::NumPadPlus, H::NumPadEnter, H::LeftAlt, H::RightAlt, H::LeftSuper,
            H::RightSuper, H::Unknown, H::Count,
        ]
    };

    #[test]
    fn every_pc_key_but_two_is_reachable_and_no_two_host_keys_collide() {
        assert!(ALL.iter().enumerate().all(|(i, k)| *k as usize == i), "the list is minifb's whole enum");
        let mut seen = std::collections::HashSet::new();
        for k in ALL {
            if let Some(pc) = pc_key(k) {
                assert!(seen.insert(pc), "{k:?} maps to {pc:?}, which another host key has");
            }
        }
        let missing: Vec<Key> = Key::ALL.iter().copied().filter(|k| !seen.contains(k)).collect();
        assert_eq!(missing, [Key::PrintScreen, Key::IntlBackslash]);
    }

    #[test]
    fn letters_arrows_and_the_keypad_give_their_set_2_codes() {
        assert_eq!(pc_key(HostKey::A).unwrap().scancodes(ScanCodeSet::Set2, true), [0x1C]);
        assert_eq!(pc_key(HostKey::A).unwrap().scancodes(ScanCodeSet::Set2, false), [0xF0, 0x1C]);
        assert_eq!(pc_key(HostKey::Up).unwrap().scancodes(ScanCodeSet::Set2, true), [0xE0, 0x75]);
        assert_eq!(pc_key(HostKey::NumPadEnter).unwrap().scancodes(ScanCodeSet::Set2, true), [0xE0, 0x5A]);
    }
}
