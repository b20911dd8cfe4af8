//! Listening sockets for the servers (gdb, QMP): TCP or unix, non-blocking, on mio.
//!
//! - TCP binds where it is told; an empty host means 127.0.0.1 (never all interfaces).
//! - Unix sockets are created with mode 0600 (the umask is narrowed around `bind`, so
//!   there is no window in which others could connect). A stale socket file at the path
//!   is replaced; any other file there is an error.
//! - A unix connection can carry descriptors (SCM_RIGHTS): [`Stream::read_with_fds`]
//!   receives them close-on-exec along with the bytes, for QMP's `getfd`.

use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where a server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(String, u16),
    Unix(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(h, p) => write!(f, "tcp:{h}:{p}"),
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Parses `tcp:[HOST]:PORT`, `unix:PATH` or a bare port (`opt` names the option in
/// errors). Options after the first comma are left to the caller.
pub fn parse_endpoint(opt: &str, spec: &str) -> Result<Endpoint, String> {
    let main = spec.split(',').next().unwrap_or_default();
    if let Some(p) = main.strip_prefix("unix:") {
        if p.is_empty() {
            return Err(format!("{opt} {spec}: missing socket path"));
        }
        return Ok(Endpoint::Unix(PathBuf::from(p)));
    }
    let hp = main.strip_prefix("tcp:").unwrap_or(main);
    let (host, port) = match hp.rsplit_once(':') {
        Some((h, p)) => (h, p),
        None => ("", hp),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{opt} {spec}: expected tcp:[HOST]:PORT or unix:PATH"))?;
    Ok(Endpoint::Tcp(loopback_default(host), port))
}

/// `host` without brackets, or 127.0.0.1 when empty.
pub fn loopback_default(host: &str) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        "127.0.0.1".into()
    } else {
        host.to_string()
    }
}

/// A bound, registered listening socket.
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// An accepted connection.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Stream {
    /// Registers the stream for reads and writes.
    pub fn register(&mut self, registry: &Registry, token: Token) -> std::io::Result<()> {
        let i = Interest::READABLE | Interest::WRITABLE;
        match self {
            Stream::Tcp(s) => {
                let _ = s.set_nodelay(true);
                registry.register(s, token, i)
            }
            Stream::Unix(s) => registry.register(s, token, i),
        }
    }

    /// Reads like [`Read::read`], and on a unix socket also receives the descriptors
    /// sent with SCM_RIGHTS alongside these bytes, appending them to `fds` (close-on-exec;
    /// at most [`MAX_RECV_FDS`] per read: the kernel closes the ones that do not fit).
    /// Over TCP nothing but bytes can arrive.
    pub fn read_with_fds(
        &mut self,
        buf: &mut [u8],
        fds: &mut Vec<std::os::fd::OwnedFd>,
    ) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => {
                use std::os::fd::AsRawFd;
                recv_with_fds(s.as_raw_fd(), buf, fds)
            }
        }
    }

    pub fn deregister(&mut self, registry: &Registry) {
        let _ = match self {
            Stream::Tcp(s) => registry.deregister(s),
            Stream::Unix(s) => registry.deregister(s),
        };
    }
}

/// Descriptors taken from one read (QEMU's socket chardev takes 16 too).
pub const MAX_RECV_FDS: usize = 16;

/// `recvmsg` on a non-blocking unix stream socket: bytes into `buf`, SCM_RIGHTS
/// descriptors into `fds`. Errors are the OS's (WouldBlock when nothing is there).
fn recv_with_fds(
    sock: std::os::fd::RawFd,
    buf: &mut [u8],
    fds: &mut Vec<std::os::fd::OwnedFd>,
) -> std::io::Result<usize> {
    use std::mem::size_of;
    use std::os::fd::{FromRawFd, OwnedFd};
    const INT: usize = size_of::<libc::c_int>();
    // Room for one SCM_RIGHTS message of MAX_RECV_FDS descriptors (u64 for the header's
    // alignment): CMSG_SPACE(16 * 4) is 80 bytes on 64-bit Linux.
    let mut control = [0u64; 16];
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let space = unsafe { libc::CMSG_SPACE((MAX_RECV_FDS * INT) as u32) } as usize;
    let space = space.min(std::mem::size_of_val(&control));
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    let n = loop {
        // SAFETY: msg points at `iov` (which covers `buf`) and at `control`, both live
        // and writable for the lengths given; the kernel writes no further.
        let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    // SAFETY: msg is the header recvmsg filled: msg_control/msg_controllen describe
    // the control bytes it wrote, which is all the CMSG_* macros read.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR return null or a header that lies wholly
        // inside the control buffer; read_unaligned needs no alignment.
        let h = unsafe { std::ptr::read_unaligned(cmsg) };
        if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: as above; CMSG_DATA points inside the same message.
            let data = unsafe { libc::CMSG_DATA(cmsg) };
            let head = data as usize - cmsg as usize;
            let count = (h.cmsg_len as usize).saturating_sub(head) / INT;
            for i in 0..count {
                // SAFETY: the i-th int of the message's data, inside cmsg_len (which
                // the kernel keeps within msg_controllen); unaligned read.
                let fd = unsafe { std::ptr::read_unaligned(data.cast::<libc::c_int>().add(i)) };
                if fd >= 0 {
                    // SAFETY: SCM_RIGHTS installed this descriptor in our table for us;
                    // nothing else owns it.
                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        // SAFETY: as for CMSG_FIRSTHDR; cmsg is a header of this message.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok(n)
}

fn bind_unix_private(path: &Path) -> std::io::Result<UnixListener> {
    // SAFETY: umask only swaps the process's file-creation mask and cannot fail; it is
    // restored right after bind. haltpoint binds its sockets from its single thread.
    let old = unsafe { libc::umask(0o177) };
    let r = UnixListener::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    r
}

impl Listener {
    /// Binds and registers a listener; `opt` names the option in errors. Returns it
    /// with a description of where it listens (the real port when 0 was asked for).
    pub fn bind(
        opt: &str,
        ep: &Endpoint,
        registry: &Registry,
        token: Token,
    ) -> Result<(Listener, String), String> {
        let (mut l, desc) = match ep {
            Endpoint::Tcp(host, port) => {
                let sa: SocketAddr = format!("{host}:{port}")
                    .parse()
                    .or_else(|_| {
                        use std::net::ToSocketAddrs;
                        (host.as_str(), *port)
                            .to_socket_addrs()
                            .ok()
                            .and_then(|mut a| a.next())
                            .ok_or(())
                    })
                    .map_err(|_| format!("{opt}: cannot resolve host '{host}'"))?;
                let l = TcpListener::bind(sa)
                    .map_err(|e| format!("{opt}: cannot listen on {sa}: {e}"))?;
                let local = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
                (Listener::Tcp(l), format!("tcp:{local}"))
            }
            Endpoint::Unix(path) => {
                use std::os::unix::fs::FileTypeExt;
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                    let _ = std::fs::remove_file(path);
                }
                let l = bind_unix_private(path)
                    .map_err(|e| format!("{opt}: cannot listen on {}: {e}", path.display()))?;
                (
                    Listener::Unix(l, path.clone()),
                    format!("unix:{}", path.display()),
                )
            }
        };
        let r = match &mut l {
            Listener::Tcp(x) => registry.register(x, token, Interest::READABLE),
            Listener::Unix(x, _) => registry.register(x, token, Interest::READABLE),
        };
        r.map_err(|e| format!("{opt}: cannot register the socket: {e}"))?;
        Ok((l, desc))
    }

    /// Accepts one pending connection (None when there is none).
    pub fn accept(&self) -> Option<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().ok().map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l, _) => l.accept().ok().map(|(s, _)| Stream::Unix(s)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("-gdb", "tcp::1234"),
            Ok(Endpoint::Tcp("127.0.0.1".into(), 1234))
        );
        assert_eq!(
            parse_endpoint("-gdb", "1234"),
            Ok(Endpoint::Tcp("127.0.0.1".into(), 1234))
        );
        assert_eq!(
            parse_endpoint("-qmp", "tcp:[::1]:5,server"),
            Ok(Endpoint::Tcp("::1".into(), 5))
        );
        assert_eq!(
            parse_endpoint("-qmp", "unix:/tmp/x,server=on"),
            Ok(Endpoint::Unix("/tmp/x".into()))
        );
        assert!(parse_endpoint("-qmp", "unix:").is_err());
        assert!(parse_endpoint("-qmp", "tcp:host:notaport").is_err());
    }

    #[test]
    fn unix_socket_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hp-net-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s");
        let poll = mio::Poll::new().unwrap();
        let (l, _) = Listener::bind(
            "-qmp",
            &Endpoint::Unix(p.clone()),
            poll.registry(),
            Token(1),
        )
        .unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(l);
        assert!(!p.exists(), "the socket file is removed on drop");
        let _ = std::fs::remove_dir(&dir);
    }
}
