//! A QMP client, a haltpoint process with QMP sockets, and a minimal gdb
//! remote-protocol client, for the integration tests.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running haltpoint with QMP sockets in a private directory.
pub struct Vm {
    child: Child,
    err: Arc<Mutex<String>>,
    pub dir: PathBuf,
}

/// A fresh private directory.
pub fn tmpdir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("hp-qmp-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Vm {
    /// Starts haltpoint with `args` and `-qmp unix:DIR/q.sock,server=on,wait=off`.
    pub fn start(args: &[&str]) -> Vm {
        let dir = tmpdir("vm");
        let sock = dir.join("q.sock");
        let q = format!("unix:{},server=on,wait=off", sock.display());
        let mut all: Vec<String> = vec!["-display".into(), "none".into()];
        if !args.iter().any(|a| *a == "-M" || *a == "-machine") {
            all.extend(["-M".to_string(), "virt".to_string()]);
        }
        all.extend(args.iter().map(|s| s.to_string()));
        all.extend(["-qmp".to_string(), q]);
        Vm::spawn(&all, dir, &[sock])
    }

    pub fn spawn(args: &[String], dir: PathBuf, wait_for: &[PathBuf]) -> Vm {
        let mut child = Command::new(super::bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn haltpoint");
        let err = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let e2 = err.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                e2.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let vm = Vm { child, err, dir };
        let t = Instant::now();
        while !wait_for.iter().all(|p| p.exists()) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "QMP socket never appeared: {}",
                vm.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        vm
    }

    /// Waits until haltpoint's stderr contains `text` (its reader thread may lag).
    pub fn stderr_has(&self, text: &str) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if self.stderr().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// The port of the gdb server (`-gdb tcp:127.0.0.1:0`), from haltpoint's stderr.
    pub fn gdb_port(&self) -> u16 {
        let t = Instant::now();
        loop {
            if let Some(p) = super::gdb_port(&self.stderr()) {
                return p;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "{}", self.stderr());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.join("q.sock")
    }

    /// A connected client that has read the greeting.
    pub fn client(&self) -> Client {
        Client::connect(&self.sock())
    }

    /// A connected, negotiated client.
    pub fn qmp(&self) -> Client {
        let mut c = self.client();
        assert_eq!(
            c.cmd(json!({"execute": "qmp_capabilities"})),
            json!({"return": {}})
        );
        c
    }

    /// Waits for the process to exit; its status code.
    pub fn wait(&mut self, secs: u64) -> i32 {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "haltpoint did not exit: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- haltpoint stderr ---\n{}", self.stderr());
        }
        assert!(
            !self.stderr().contains("invalid runstate transition"),
            "a run-state transition outside QEMU's table happened:\n{}",
            self.stderr()
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Client {
    r: BufReader<UnixStream>,
    w: UnixStream,
    pub greeting: Value,
    /// Events read while waiting for replies.
    pub events: Vec<Value>,
}

impl Client {
    pub fn connect(p: &PathBuf) -> Client {
        // The socket file appears at bind(), a moment before listen(): retry briefly.
        let t = Instant::now();
        let s = loop {
            match UnixStream::connect(p) {
                Ok(s) => break s,
                Err(e) if t.elapsed() < Duration::from_secs(5) => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("connect to QMP: {e}"),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
            greeting: Value::Null,
            events: Vec::new(),
        };
        c.greeting = c.line().expect("greeting");
        c
    }

    /// How long one read may wait (20 s after `connect`).
    pub fn set_timeout(&mut self, secs: u64) {
        self.w
            .set_read_timeout(Some(Duration::from_secs(secs)))
            .unwrap();
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.w.write_all(raw).unwrap();
    }

    /// The next message; None at EOF.
    pub fn line(&mut self) -> Option<Value> {
        let mut s = String::new();
        match self.r.read_line(&mut s) {
            Ok(0) => None,
            Ok(_) => {
                assert!(s.ends_with("\r\n"), "QMP lines end in CRLF: {s:?}");
                Some(serde_json::from_str(&s).unwrap_or_else(|e| panic!("bad JSON {s:?}: {e}")))
            }
            Err(e) => panic!("QMP read failed: {e}"),
        }
    }

    /// The next reply (events are collected on the way).
    pub fn reply(&mut self) -> Value {
        loop {
            let v = self.line().expect("connection closed before a reply");
            if v.get("event").is_some() {
                self.events.push(v);
            } else {
                return v;
            }
        }
    }

    pub fn cmd(&mut self, v: Value) -> Value {
        self.send(format!("{v}\n").as_bytes());
        self.reply()
    }

    /// Sends `raw` with `fds` attached as SCM_RIGHTS ancillary data, in one sendmsg (as
    /// libvirt and qemu.qmp pass descriptors to QEMU's `getfd`).
    pub fn send_with_fds(&mut self, raw: &[u8], fds: &[RawFd]) {
        send_with_fds(&self.w, raw, fds);
    }

    /// [`Client::cmd`] with `fds` attached to the request.
    pub fn cmd_with_fds(&mut self, v: Value, fds: &[RawFd]) -> Value {
        self.send_with_fds(format!("{v}\n").as_bytes(), fds);
        self.reply()
    }

    pub fn ok(&mut self, name: &str, args: Value) -> Value {
        let r = self.cmd(json!({"execute": name, "arguments": args}));
        r.get("return")
            .cloned()
            .unwrap_or_else(|| panic!("{name} failed: {r}"))
    }

    pub fn err(&mut self, v: Value) -> (String, String) {
        let r = self.cmd(v.clone());
        let e = r
            .get("error")
            .unwrap_or_else(|| panic!("{v} should fail: {r}"));
        (
            e["class"].as_str().unwrap().to_string(),
            e["desc"].as_str().unwrap().to_string(),
        )
    }

    pub fn status(&mut self) -> String {
        self.ok("query-status", json!({}))["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Takes the collected event names.
    pub fn take_events(&mut self) -> Vec<String> {
        std::mem::take(&mut self.events)
            .into_iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    }

    /// Waits for an event named `name` and returns it.
    pub fn wait_event(&mut self, name: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["event"] == name) {
            return self.events.remove(i);
        }
        loop {
            let v = self
                .line()
                .unwrap_or_else(|| panic!("connection closed while waiting for {name}"));
            if v["event"] == name {
                return v;
            }
            self.events.push(v);
        }
    }
}

/// One sendmsg of all of `raw` with `fds` as SCM_RIGHTS (panics on failure).
pub fn send_with_fds(sock: &UnixStream, raw: &[u8], fds: &[RawFd]) {
    assert!(!raw.is_empty() && !fds.is_empty());
    let data_len = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic.
    let (space, len) = unsafe {
        (
            libc::CMSG_SPACE(data_len as u32) as usize,
            libc::CMSG_LEN(data_len as u32) as usize,
        )
    };
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: raw.as_ptr() as *mut libc::c_void,
        iov_len: raw.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer holds CMSG_SPACE(data_len) bytes, so the first header
    // and its data (CMSG_LEN(data_len)) fit; the data is copied unaligned.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        assert!(!c.is_null());
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = len as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(c), data_len);
    }
    // SAFETY: msg describes `raw` (read only by the kernel) and `control`, both live.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, 0) };
    assert_eq!(
        n,
        raw.len() as isize,
        "sendmsg: {}",
        std::io::Error::last_os_error()
    );
}

/// A minimal gdb remote-protocol client (no-ack mode after the first packet).
pub struct Rsp {
    s: std::net::TcpStream,
    ack: bool,
}

impl Rsp {
    pub fn connect(port: u16) -> Rsp {
        Rsp::connect_timeout(port, 20)
    }

    /// Connects; replies (stops) may take up to `secs`.
    pub fn connect_timeout(port: u16, secs: u64) -> Rsp {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
        Rsp { s, ack: true }
    }

    pub fn send(&mut self, p: &str) {
        let sum = p.bytes().fold(0u8, |a, b| a.wrapping_add(b));
        self.s
            .write_all(format!("${p}#{sum:02x}").as_bytes())
            .unwrap();
    }

    pub fn recv(&mut self) -> String {
        let mut byte = [0u8; 1];
        let mut out = Vec::new();
        loop {
            self.s.read_exact(&mut byte).unwrap();
            if byte[0] == b'$' {
                break;
            }
        }
        loop {
            self.s.read_exact(&mut byte).unwrap();
            if byte[0] == b'#' {
                break;
            }
            out.push(byte[0]);
        }
        let mut sum = [0u8; 2];
        self.s.read_exact(&mut sum).unwrap();
        if self.ack {
            self.s.write_all(b"+").unwrap();
        }
        // Run-length encoding: `X*N` is X followed by N - 29 more copies.
        let mut text = Vec::new();
        let mut i = 0;
        while i < out.len() {
            if out[i] == b'*' && i + 1 < out.len() && !text.is_empty() {
                let n = out[i + 1].saturating_sub(29) as usize;
                let last = *text.last().unwrap();
                text.extend(std::iter::repeat_n(last, n));
                i += 2;
            } else {
                text.push(out[i]);
                i += 1;
            }
        }
        String::from_utf8(text).unwrap()
    }

    pub fn packet(&mut self, p: &str) -> String {
        self.send(p);
        let r = self.recv();
        if p == "QStartNoAckMode" && r == "OK" {
            self.ack = false;
        }
        r
    }
}
