//! Listening sockets for the servers (gdb, QMP): TCP or unix, non-blocking, on mio.
//!
//! - TCP binds where it is told; an empty host means 127.0.0.1 (never all interfaces).
//! - Unix sockets are created with mode 0600 (the umask is narrowed around `bind`, so
//!   there is no window in which others could connect). A stale socket file at the path
//!   is replaced; any other file there is an error.

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

    pub fn deregister(&mut self, registry: &Registry) {
        let _ = match self {
            Stream::Tcp(s) => registry.deregister(s),
            Stream::Unix(s) => registry.deregister(s),
        };
    }
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
