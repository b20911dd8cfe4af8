//! File descriptors a QMP client passes with SCM_RIGHTS, for `getfd`, `closefd` and
//! `dump-guest-memory` `fd:NAME` (QEMU's monitor/fds.c).
//!
//! Each connection has its own [`MonitorFds`] (QEMU keeps them per monitor; a
//! haltpoint listener accepts several clients, so a connection is the monitor here).
//! Everything in it is an [`OwnedFd`]: a descriptor is closed when it is replaced,
//! closed by name, taken and dropped, or when the connection goes away. None can leak.
//!
//! As in QEMU's socket chardev, descriptors that arrive with one read replace the ones
//! still waiting from an earlier read (which are closed), and `getfd` takes the first of
//! them and closes the others.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::OwnedFd;

/// The descriptors of one QMP connection.
#[derive(Debug, Default)]
pub struct MonitorFds {
    /// Received with the last read that carried any, not yet claimed by `getfd`.
    pending: Vec<OwnedFd>,
    /// Named by `getfd`.
    named: HashMap<String, OwnedFd>,
}

/// `getfd` without a descriptor (QEMU's text).
pub const NO_FD: &str = "No file descriptor supplied via SCM_RIGHTS";

impl MonitorFds {
    /// Descriptors that arrived with one read: they replace (close) those still pending.
    pub fn received(&mut self, fds: Vec<OwnedFd>) {
        if !fds.is_empty() {
            self.pending = fds;
        }
    }

    /// `getfd NAME`: names the first pending descriptor (closing the other pending ones
    /// and any descriptor that had the name). Errors with QEMU's texts.
    pub fn getfd(&mut self, name: &str) -> Result<(), String> {
        let mut pending = std::mem::take(&mut self.pending).into_iter();
        let Some(fd) = pending.next() else {
            return Err(NO_FD.into());
        };
        drop(pending);
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            // QEMU closes the descriptor it took.
            drop(fd);
            return Err("Parameter 'fdname' expects a name not starting with a digit".into());
        }
        self.named.insert(name.to_string(), fd);
        Ok(())
    }

    /// `closefd NAME`.
    pub fn closefd(&mut self, name: &str) -> Result<(), String> {
        match self.named.remove(name) {
            Some(fd) => {
                drop(fd);
                Ok(())
            }
            None => Err(format!("File descriptor named '{name}' not found")),
        }
    }

    /// Takes a named descriptor out of the list (QEMU's monitor_get_fd: the caller owns
    /// it from then on).
    pub fn take(&mut self, name: &str) -> Option<File> {
        self.named.remove(name).map(File::from)
    }

    /// How many descriptors are held (pending and named).
    pub fn len(&self) -> usize {
        self.pending.len() + self.named.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::FromRawFd;

    /// A descriptor to hand over (a pipe's write end) and a probe that tells whether
    /// it was closed (its read end sees EOF once no write end is left). Descriptor
    /// numbers are not compared: other tests' threads reuse them.
    fn fd() -> (OwnedFd, File) {
        let mut p = [0; 2];
        // SAFETY: pipe2 fills two new descriptors that nothing else owns.
        let rc = unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        assert_eq!(rc, 0);
        // SAFETY: both are open and owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(p[1]), File::from_raw_fd(p[0])) }
    }

    fn closed(probe: &mut File) -> bool {
        match probe.read(&mut [0u8; 1]) {
            Ok(0) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            r => panic!("unexpected {r:?}"),
        }
    }

    #[test]
    fn getfd_closefd_take_and_replacement() {
        let mut f = MonitorFds::default();
        assert_eq!(f.getfd("a"), Err(NO_FD.into()));
        assert_eq!(
            f.closefd("a"),
            Err("File descriptor named 'a' not found".into())
        );
        // Two reads with descriptors: the first read's are closed.
        let ((a, mut pa), (b, mut pb), (c, mut pc)) = (fd(), fd(), fd());
        f.received(vec![a]);
        f.received(vec![]);
        assert_eq!(f.len(), 1);
        f.received(vec![b, c]);
        assert!(closed(&mut pa));
        assert_eq!(f.getfd("x"), Ok(()));
        // The first of the batch is named, the rest closed.
        assert!(!closed(&mut pb) && closed(&mut pc));
        assert_eq!(f.len(), 1);
        assert_eq!(f.getfd("y"), Err(NO_FD.into()));
        // Re-using a name closes the old descriptor.
        let (d, mut pd) = fd();
        f.received(vec![d]);
        assert_eq!(f.getfd("x"), Ok(()));
        assert!(closed(&mut pb) && !closed(&mut pd));
        // A name starting with a digit: the descriptor is consumed and closed.
        let (e, mut pe) = fd();
        f.received(vec![e]);
        assert_eq!(
            f.getfd("1x"),
            Err("Parameter 'fdname' expects a name not starting with a digit".into())
        );
        assert!(closed(&mut pe));
        assert_eq!(f.getfd("z"), Err(NO_FD.into()));
        // take hands the descriptor over; the name is gone.
        let file = f.take("x").expect("\"x\" was named by getfd above");
        assert!(f.take("x").is_none());
        assert!(f.is_empty());
        assert!(!closed(&mut pd));
        drop(file);
        assert!(closed(&mut pd));
        // An empty name is a name (QEMU only refuses a leading digit).
        let (g, mut pg) = fd();
        f.received(vec![g]);
        assert_eq!(f.getfd(""), Ok(()));
        assert_eq!(f.closefd(""), Ok(()));
        assert!(closed(&mut pg));
    }
}
