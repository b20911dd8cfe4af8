//! QMP sockets and sessions on the event loop.
//!
//! Each `-qmp` (or `-mon chardev=…,mode=control`) is a listener; unlike QEMU, each
//! accepts any number of clients, and every client negotiates on its own. Requests are
//! answered in order. Events produced while a command runs go out before its reply, as
//! QEMU's do. A client that stops reading is not allowed to stall the guest or to grow
//! memory: past [`HIGH_WATER`] of unsent output haltpoint stops reading its requests,
//! and past [`MAX_BACKLOG`] (events keep coming) it is disconnected.

use super::commands::{self, Ctx, DumpSlot, Info, QmpError};
use super::fds::MonitorFds;
use super::json::{self, Streamer};
use crate::machine::Machine;
use crate::net::{parse_endpoint, Endpoint, Listener, Stream};
use crate::runstate::Event;
use mio::{Registry, Token};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// First token of QMP listeners; clients use tokens from [`CLIENT_TOKENS`].
const LISTEN_TOKENS: usize = 100;
const CLIENT_TOKENS: usize = 1000;
/// Unsent output above which a client's requests are not read.
pub const HIGH_WATER: usize = 1 << 20;
/// Unsent output above which a client is dropped.
pub const MAX_BACKLOG: usize = 16 << 20;
/// Events rate-limited to one per [`RATE_LIMIT`] (QEMU's list, for the events we have).
const RATE_LIMITED: &[&str] = &["WATCHDOG", "RTC_CHANGE"];
const RATE_LIMIT: Duration = Duration::from_secs(1);

/// A `-qmp` or `-chardev socket` + `-mon` endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenSpec {
    pub ep: Endpoint,
    /// Wait for a client before starting the VM (`server=on` without `wait=off`).
    pub wait: bool,
}

/// Parses a `-qmp` device: `unix:PATH,server[=on],wait=off` or
/// `tcp:HOST:PORT,server[=on],wait=off` (`nowait` is accepted too).
pub fn parse_qmp(spec: &str) -> Result<ListenSpec, String> {
    let ep = parse_endpoint("-qmp", spec)?;
    let mut server = false;
    let mut wait = true;
    for opt in spec.split(',').skip(1) {
        match opt {
            "server" | "server=on" => server = true,
            "server=off" => server = false,
            "nowait" | "wait=off" => wait = false,
            "wait" | "wait=on" => wait = true,
            _ => return Err(format!("-qmp {spec}: unknown option '{opt}'")),
        }
    }
    if !server {
        return Err(format!(
            "-qmp {spec}: haltpoint only listens (add server=on,wait=off)"
        ));
    }
    Ok(ListenSpec { ep, wait })
}

struct Client {
    stream: Stream,
    streamer: Streamer,
    out: Vec<u8>,
    sent: usize,
    negotiated: bool,
    listener: usize,
    /// Descriptors passed with SCM_RIGHTS (`getfd`); closed with the connection.
    fds: MonitorFds,
}

impl Client {
    fn backlog(&self) -> usize {
        self.out.len() - self.sent
    }

    fn queue(&mut self, v: &Value) {
        self.out.extend_from_slice(json::to_string(v).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Writes what it can. Err when the connection is gone.
    fn flush(&mut self) -> Result<(), ()> {
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return Err(()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent > (1 << 16) && self.sent * 2 > self.out.len() {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }
}

/// The QMP server of one haltpoint process.
pub struct QmpServer {
    listeners: Vec<(Listener, String, bool)>,
    clients: HashMap<Token, Client>,
    next_client: usize,
    pub info: Info,
    /// `dump-guest-memory`'s state; the event loop runs a detached dump.
    pub dump: DumpSlot,
    /// Rate-limited events: when the window ends, and the event held back.
    limited: HashMap<&'static str, (Instant, Option<Event>)>,
    /// Listeners that have had a client (for `wait=on`).
    had_client: Vec<bool>,
}

/// The greeting sent to every new client.
pub fn greeting() -> Value {
    let (major, minor, micro) = commands::QEMU_VERSION;
    json!({"QMP": {
        "version": {
            "qemu": {"micro": micro, "minor": minor, "major": major},
            "package": concat!("haltpoint ", env!("CARGO_PKG_VERSION")),
        },
        "capabilities": [],
    }})
}

fn error_reply(e: &QmpError, id: Option<Value>) -> Value {
    let mut r = json!({"error": {"class": e.class, "desc": e.desc}});
    if let Some(id) = id {
        r["id"] = id;
    }
    r
}

/// Answers one parsed message (or parse error) for a client in negotiation
/// (`negotiated` false) or command mode, with the client's descriptors `fds`. Returns
/// the reply; `negotiated` is updated.
pub fn dispatch(
    m: &mut Machine,
    info: &Info,
    dump: &mut DumpSlot,
    fds: &mut MonitorFds,
    negotiated: &mut bool,
    msg: Result<Value, String>,
) -> Value {
    let mut req = match msg {
        Ok(Value::Object(o)) => o,
        Ok(_) => return error_reply(&QmpError::generic("QMP input must be a JSON object"), None),
        Err(e) => return error_reply(&QmpError::generic(e), None),
    };
    let id = req.remove("id");
    match run(m, info, dump, fds, negotiated, &req) {
        Ok(v) => {
            let mut r = json!({ "return": v });
            if let Some(id) = id {
                r["id"] = id;
            }
            r
        }
        Err(e) => error_reply(&e, id),
    }
}

fn run(
    m: &mut Machine,
    info: &Info,
    dump: &mut DumpSlot,
    fds: &mut MonitorFds,
    negotiated: &mut bool,
    req: &Map<String, Value>,
) -> Result<Value, QmpError> {
    // QEMU's qmp_dispatch_check_obj.
    if let Some(e) = req.get("execute") {
        if !e.is_string() {
            return Err(QmpError::generic(
                "QMP input member 'execute' must be a string",
            ));
        }
    }
    if let Some(a) = req.get("arguments") {
        if !a.is_object() {
            return Err(QmpError::generic(
                "QMP input member 'arguments' must be an object",
            ));
        }
    }
    if let Some(k) = req
        .keys()
        .find(|k| k.as_str() != "execute" && k.as_str() != "arguments")
    {
        return Err(QmpError::generic(format!(
            "QMP input member '{k}' is unexpected"
        )));
    }
    let Some(name) = req.get("execute").and_then(|v| v.as_str()) else {
        return Err(QmpError::generic("QMP input lacks member 'execute'"));
    };
    let empty = Map::new();
    let args = req
        .get("arguments")
        .and_then(|a| a.as_object())
        .unwrap_or(&empty);
    if !*negotiated {
        if name != "qmp_capabilities" {
            return Err(QmpError::not_found(
                "Expecting capabilities negotiation with 'qmp_capabilities'",
            ));
        }
        let cmd = commands::find(name).expect("qmp_capabilities is in the table");
        super::schema::check_args(cmd.args, args).map_err(QmpError::generic)?;
        if let Some(caps) = args.get("enable").and_then(|v| v.as_array()) {
            if let Some(c) = caps.first().and_then(|c| c.as_str()) {
                return Err(QmpError::generic(format!("Capability {c} not available")));
            }
        }
        *negotiated = true;
        return Ok(json!({}));
    }
    let Some(cmd) = commands::find(name) else {
        return Err(QmpError::not_found(format!(
            "The command {name} has not been found"
        )));
    };
    if m.vm.preconfig && !cmd.preconfig {
        return Err(QmpError::generic(format!(
            "The command '{name}' is permitted only after machine initialization has completed"
        )));
    }
    super::schema::check_args(cmd.args, args).map_err(QmpError::generic)?;
    let mut ctx = Ctx { m, info, dump, fds };
    (cmd.run)(&mut ctx, args)
}

/// The wire form of an event.
pub fn event_json(e: &Event) -> Value {
    let d = e.time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut v = json!({
        "event": e.name,
        "timestamp": {"seconds": d.as_secs(), "microseconds": d.subsec_micros()},
    });
    if let Some(data) = &e.data {
        v["data"] = data.clone();
    }
    v
}

impl QmpServer {
    /// Binds every listener.
    pub fn bind(specs: &[ListenSpec], registry: &Registry, info: Info) -> Result<Self, String> {
        let mut listeners = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let (l, desc) = Listener::bind("-qmp", &s.ep, registry, Token(LISTEN_TOKENS + i))?;
            listeners.push((l, desc, s.wait));
        }
        Ok(QmpServer {
            had_client: vec![false; listeners.len()],
            listeners,
            clients: HashMap::new(),
            next_client: CLIENT_TOKENS,
            info,
            dump: DumpSlot::default(),
            limited: HashMap::new(),
        })
    }

    /// Where the listeners are, for messages.
    pub fn descriptions(&self) -> impl Iterator<Item = &str> {
        self.listeners.iter().map(|l| l.1.as_str())
    }

    /// True while a `wait=on` listener has not had a client yet.
    pub fn waiting(&self) -> bool {
        self.listeners
            .iter()
            .zip(&self.had_client)
            .any(|(l, had)| l.2 && !had)
    }

    /// Number of connected clients.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    pub fn owns(&self, t: Token) -> bool {
        (LISTEN_TOKENS..LISTEN_TOKENS + self.listeners.len()).contains(&t.0)
            || self.clients.contains_key(&t)
    }

    /// Handles readiness of a listener or a client.
    pub fn handle_event(&mut self, t: Token, m: &mut Machine, registry: &Registry) {
        if (LISTEN_TOKENS..LISTEN_TOKENS + self.listeners.len()).contains(&t.0) {
            self.accept(t.0 - LISTEN_TOKENS, registry);
            return;
        }
        // Writable or readable: drain output first, so a client blocked on its backlog
        // gets its requests read again.
        self.flush_client(t, registry);
        self.read(t, m, registry);
        self.flush_client(t, registry);
    }

    fn accept(&mut self, idx: usize, registry: &Registry) {
        while let Some(mut stream) = self.listeners[idx].0.accept() {
            let t = Token(self.next_client);
            self.next_client += 1;
            if stream.register(registry, t).is_err() {
                continue;
            }
            self.had_client[idx] = true;
            let mut c = Client {
                stream,
                streamer: Streamer::new(),
                out: Vec::new(),
                sent: 0,
                negotiated: false,
                listener: idx,
                fds: MonitorFds::default(),
            };
            c.queue(&greeting());
            if c.flush().is_ok() {
                log::info!("qmp: client connected on {}", self.listeners[idx].1);
                self.clients.insert(t, c);
            } else {
                c.stream.deregister(registry);
            }
        }
    }

    fn read(&mut self, t: Token, m: &mut Machine, registry: &Registry) {
        let mut buf = [0u8; 8192];
        loop {
            let Some(c) = self.clients.get_mut(&t) else {
                return;
            };
            if c.backlog() > HIGH_WATER {
                return;
            }
            // Descriptors come with the bytes they were sent with; the commands in
            // those bytes (getfd) can claim them. Unclaimed ones are closed when the next
            // read brings others, or with the connection.
            let mut fds = Vec::new();
            let n = match c.stream.read_with_fds(&mut buf, &mut fds) {
                Ok(0) => return self.drop_client(t, registry),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return self.drop_client(t, registry),
            };
            c.fds.received(fds);
            let mut msgs = Vec::new();
            c.streamer.feed(&buf[..n], &mut msgs);
            for msg in msgs {
                let Some(c) = self.clients.get_mut(&t) else {
                    return;
                };
                let mut negotiated = c.negotiated;
                let reply = dispatch(
                    m,
                    &self.info,
                    &mut self.dump,
                    &mut c.fds,
                    &mut negotiated,
                    msg,
                );
                // Events raised by the command go out before its reply.
                self.broadcast(m, registry);
                let Some(c) = self.clients.get_mut(&t) else {
                    return;
                };
                c.negotiated = negotiated;
                c.queue(&reply);
                if m.vm.request.is_some() {
                    // quit/exit: stop here; the event loop finishes the job.
                    return;
                }
            }
        }
    }

    fn flush_client(&mut self, t: Token, registry: &Registry) {
        let Some(c) = self.clients.get_mut(&t) else {
            return;
        };
        if c.flush().is_err() {
            return self.drop_client(t, registry);
        }
        if c.backlog() > MAX_BACKLOG {
            eprintln!("haltpoint: QMP client is not reading its replies; disconnecting it");
            self.drop_client(t, registry);
        }
    }

    fn drop_client(&mut self, t: Token, registry: &Registry) {
        if let Some(mut c) = self.clients.remove(&t) {
            c.stream.deregister(registry);
            log::info!(
                "qmp: client disconnected from {}",
                self.listeners[c.listener].1
            );
        }
    }

    /// Sends the VM's pending events to every negotiated client, with QEMU's rate limits.
    pub fn broadcast(&mut self, m: &mut Machine, registry: &Registry) {
        let now = Instant::now();
        let mut out = Vec::new();
        // Windows that ended: send what they held back and open a new one.
        for (_, (end, held)) in self.limited.iter_mut() {
            if *end <= now {
                if let Some(e) = held.take() {
                    out.push(e);
                    *end = now + RATE_LIMIT;
                }
            }
        }
        self.limited
            .retain(|_, (end, held)| *end > now || held.is_some());
        while let Some(e) = m.vm.events.pop_front() {
            if RATE_LIMITED.contains(&e.name) {
                match self.limited.get_mut(e.name) {
                    Some((_, held)) => {
                        *held = Some(e);
                        continue;
                    }
                    None => {
                        self.limited.insert(e.name, (now + RATE_LIMIT, None));
                    }
                }
            }
            out.push(e);
        }
        if out.is_empty() {
            return;
        }
        let tokens: Vec<Token> = self.clients.keys().copied().collect();
        for t in tokens {
            let Some(c) = self.clients.get_mut(&t) else {
                continue;
            };
            if !c.negotiated {
                continue;
            }
            for e in &out {
                c.queue(&event_json(e));
            }
            self.flush_client(t, registry);
        }
    }

    /// When the event loop must call [`QmpServer::broadcast`] for a held-back event.
    pub fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        self.limited
            .values()
            .filter(|(_, held)| held.is_some())
            .map(|(end, _)| end.saturating_duration_since(now))
            .min()
    }

    /// Sends everything pending, waiting up to `limit` for slow clients (at exit).
    pub fn drain(&mut self, limit: Duration) {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let mut pending = false;
            for c in self.clients.values_mut() {
                if c.flush().is_ok() && c.backlog() > 0 {
                    pending = true;
                }
            }
            if !pending {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmp_options() {
        assert_eq!(
            parse_qmp("unix:/tmp/q,server=on,wait=off"),
            Ok(ListenSpec {
                ep: Endpoint::Unix("/tmp/q".into()),
                wait: false
            })
        );
        assert_eq!(
            parse_qmp("tcp:127.0.0.1:4444,server,nowait").map(|s| s.wait),
            Ok(false)
        );
        assert_eq!(parse_qmp("unix:/tmp/q,server").map(|s| s.wait), Ok(true));
        assert!(parse_qmp("unix:/tmp/q").is_err());
        assert!(parse_qmp("unix:/tmp/q,server,bogus").is_err());
    }
}
