//! The serial console on the host side: stdio with QEMU's Ctrl-A escapes, raw terminal.

use std::io::Write;

/// Where UART0 output goes.
pub enum Sink {
    Stdout,
    File(std::fs::File),
    Discard,
}

/// What a byte typed on the console means.
#[derive(Debug, PartialEq, Eq)]
pub enum Key {
    /// Send these bytes to the guest.
    Guest(Vec<u8>),
    /// Ctrl-A x: terminate.
    Exit,
    /// Ctrl-A h: print help.
    Help,
    /// Nothing (the escape prefix itself, or an unbound escape).
    None,
}

/// Tracks the Ctrl-A escape prefix.
#[derive(Default)]
pub struct Escape {
    pending: bool,
}

pub const HELP: &str =
    "C-a h    print this help\r\nC-a x    exit emulator\r\nC-a C-a  sends C-a\r\n";

impl Escape {
    pub fn feed(&mut self, b: u8) -> Key {
        if self.pending {
            self.pending = false;
            return match b {
                b'x' | b'X' => Key::Exit,
                b'h' | b'H' | b'?' => Key::Help,
                0x01 => Key::Guest(vec![0x01]),
                _ => Key::None,
            };
        }
        if b == 0x01 {
            self.pending = true;
            return Key::None;
        }
        Key::Guest(vec![b])
    }
}

impl Sink {
    pub fn write(&mut self, bytes: &[u8]) {
        match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(bytes);
                let _ = out.flush();
            }
            Sink::File(f) => {
                let _ = f.write_all(bytes);
            }
            Sink::Discard => {}
        }
    }
}

/// Puts the terminal on stdin into raw mode and restores it when dropped.
pub struct RawTerminal {
    saved: Option<libc::termios>,
}

impl RawTerminal {
    /// A guard that changes nothing (stdin is not a terminal, or not ours).
    pub fn none() -> RawTerminal {
        RawTerminal { saved: None }
    }

    pub fn enable() -> RawTerminal {
        // SAFETY: isatty, tcgetattr and tcsetattr only read/write the termios struct we
        // own; fd 0 is valid for the life of the process.
        unsafe {
            if libc::isatty(0) != 1 {
                return RawTerminal { saved: None };
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return RawTerminal { saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            // Keep output post-processing so "\n" from the host side still works.
            t.c_oflag |= libc::OPOST;
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawTerminal { saved: Some(saved) }
        }
    }

    pub fn restore(&mut self) {
        if let Some(t) = self.saved.take() {
            // SAFETY: restores the attributes saved in `enable` on the same fd.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        self.restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut e = Escape::default();
        assert_eq!(e.feed(b'a'), Key::Guest(vec![b'a']));
        assert_eq!(e.feed(1), Key::None);
        assert_eq!(e.feed(b'x'), Key::Exit);
        assert_eq!(e.feed(1), Key::None);
        assert_eq!(e.feed(1), Key::Guest(vec![1]));
        assert_eq!(e.feed(1), Key::None);
        assert_eq!(e.feed(b'h'), Key::Help);
    }
}
