//! The gdb connection: a socket the event loop owns, and a byte framer in front of
//! `gdbstub`.
//!
//! gdbstub's own `TcpStream` connection toggles blocking mode on every read; here the
//! event loop reads the (non-blocking, mio-registered) socket, and [`OutBuf`] collects
//! what gdbstub writes so the loop can send it when the socket is writable.
//!
//! [`Framer`] checks packets before gdbstub sees them: gdbstub treats a bad checksum or
//! an overlong packet as a fatal error, while a debugger (or a noisy line) may send
//! either. Bad packets are answered with `-` (retransmit) and dropped; stray bytes
//! between packets are ignored.

use gdbstub::conn::Connection;
use std::cell::RefCell;
use std::rc::Rc;

/// Largest packet passed to gdbstub (its packet buffer size).
pub const MAX_PACKET: usize = 4096;

/// Output bytes shared between gdbstub's connection and the event loop.
#[derive(Clone, Default)]
pub struct OutBuf(pub Rc<RefCell<Vec<u8>>>);

impl Connection for OutBuf {
    type Error = std::convert::Infallible;

    fn write(&mut self, byte: u8) -> Result<(), Self::Error> {
        self.0.borrow_mut().push(byte);
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Idle,
    Body,
    Sum1,
    Sum2,
}

/// Splits the incoming byte stream into checked packets.
pub struct Framer {
    state: State,
    pkt: Vec<u8>,
    overlong: bool,
}

/// What the framer made of the input so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A single-byte message: `+`, `-` or Ctrl-C (0x03).
    Byte(u8),
    /// A complete packet with a valid checksum, `$...#xx` included.
    Packet(Vec<u8>),
    /// A corrupt or overlong packet: answer `-`.
    Bad,
}

impl Default for Framer {
    fn default() -> Self {
        Framer {
            state: State::Idle,
            pkt: Vec::new(),
            overlong: false,
        }
    }
}

fn hexval(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl Framer {
    /// Feeds one byte; returns a frame when one is complete.
    pub fn feed(&mut self, b: u8) -> Option<Frame> {
        match self.state {
            State::Idle => match b {
                b'$' => {
                    self.pkt.clear();
                    self.pkt.push(b);
                    self.overlong = false;
                    self.state = State::Body;
                    None
                }
                b'+' | b'-' | 0x03 => Some(Frame::Byte(b)),
                _ => None,
            },
            State::Body => {
                if b == b'$' {
                    // A new packet starts inside a truncated one: drop the old one.
                    self.pkt.clear();
                    self.pkt.push(b);
                    self.overlong = false;
                    return Some(Frame::Bad);
                }
                if self.pkt.len() < MAX_PACKET - 3 {
                    self.pkt.push(b);
                } else {
                    self.overlong = true;
                }
                if b == b'#' && !self.overlong {
                    self.state = State::Sum1;
                } else if b == b'#' {
                    self.state = State::Sum1;
                    self.pkt.push(b);
                }
                None
            }
            State::Sum1 => {
                self.pkt.push(b);
                self.state = State::Sum2;
                None
            }
            State::Sum2 => {
                self.pkt.push(b);
                self.state = State::Idle;
                let n = self.pkt.len();
                let body = &self.pkt[1..n - 3];
                let sum = body.iter().fold(0u8, |a, &x| a.wrapping_add(x));
                let given = hexval(self.pkt[n - 2])
                    .zip(hexval(self.pkt[n - 1]))
                    .map(|(h, l)| h << 4 | l);
                if self.overlong || given != Some(sum) {
                    return Some(Frame::Bad);
                }
                Some(Frame::Packet(std::mem::take(&mut self.pkt)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(f: &mut Framer, s: &[u8]) -> Vec<Frame> {
        s.iter().filter_map(|&b| f.feed(b)).collect()
    }

    #[test]
    fn frames() {
        let mut f = Framer::default();
        assert_eq!(
            all(&mut f, b"+$?#3f"),
            vec![Frame::Byte(b'+'), Frame::Packet(b"$?#3f".to_vec())]
        );
        assert_eq!(all(&mut f, b"$?#00"), vec![Frame::Bad]);
        assert_eq!(all(&mut f, b"garbage\xff$?#zz"), vec![Frame::Bad]);
        assert_eq!(
            all(&mut f, b"$g$?#3f"),
            vec![Frame::Bad, Frame::Packet(b"$?#3f".to_vec())]
        );
        let mut long = b"$".to_vec();
        long.extend(std::iter::repeat_n(b'a', 10_000));
        long.extend(b"#00$?#3f");
        assert_eq!(
            all(&mut f, &long),
            vec![Frame::Bad, Frame::Packet(b"$?#3f".to_vec())]
        );
    }
}
