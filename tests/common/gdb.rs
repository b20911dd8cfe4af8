//! A running haltpoint with a gdb server on the demo guest, and gdb-multiarch in batch
//! mode against it (used by the gdb and dump tests).
//!
//! `Hp::start` runs the demo with `-S -gdb tcp::0` (`Hp::spawn` any command line with
//! `-gdb tcp::0`, `Hp::spawn_console` the same with the console's input on a pipe,
//! `Hp::spawn_unix` with `-gdb unix:PATH`), reads where it listens from its stderr, and
//! always kills it on drop (printing its output on failure).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running haltpoint; killed on drop.
pub struct Hp {
    pub child: Child,
    pub err: Arc<Mutex<String>>,
    /// The guest's console output so far.
    pub out: Arc<Mutex<String>>,
    pub port: u16,
    /// What gdb's `target remote` connects to: `127.0.0.1:PORT` or a socket path.
    pub remote: String,
    /// The console's input, for `Hp::spawn_console`.
    stdin: Option<ChildStdin>,
}

impl Hp {
    /// The demo guest, stopped before its first instruction (`-S`).
    pub fn start(extra: &[&str]) -> Hp {
        let demo = super::guest("demo/demo.elf");
        let mut args = super::bare_args(&demo, extra);
        args.push("-S");
        Hp::spawn(&args)
    }

    /// haltpoint with `args` and `-gdb tcp::0`; its console output is collected.
    pub fn spawn(args: &[&str]) -> Hp {
        Hp::spawn_with(args, false, "tcp::0")
    }

    /// As `spawn`, with the console's input on a pipe (see `send`).
    pub fn spawn_console(args: &[&str]) -> Hp {
        Hp::spawn_with(args, true, "tcp::0")
    }

    /// As `spawn`, with the gdb server on the unix socket `path` (`-gdb unix:PATH`).
    pub fn spawn_unix(args: &[&str], path: &str) -> Hp {
        Hp::spawn_with(args, false, &format!("unix:{path}"))
    }

    fn spawn_with(args: &[&str], console_input: bool, gdb: &str) -> Hp {
        let mut child = Command::new(super::bin())
            .args(args)
            .args(["-gdb", gdb])
            .stdin(if console_input {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn haltpoint");
        let stderr = child.stderr.take().expect("stderr");
        let err = Arc::new(Mutex::new(String::new()));
        let e2 = err.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(l) = line else { break };
                let mut e = e2.lock().unwrap();
                e.push_str(&l);
                e.push('\n');
            }
        });
        let mut stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let o2 = out.clone();
        std::thread::spawn(move || {
            let mut b = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut b) {
                if n == 0 {
                    break;
                }
                o2.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&b[..n]));
            }
        });
        let stdin = child.stdin.take();
        let mut hp = Hp {
            child,
            err,
            out,
            port: 0,
            remote: String::new(),
            stdin,
        };
        let (kind, at) = hp.wait_for(|s| {
            let r = s.split("gdb server listening on ").nth(1)?;
            let (kind, at) = r.split_whitespace().next()?.split_once(':')?;
            Some((kind.to_string(), at.to_string()))
        });
        if kind == "unix" {
            hp.remote = at;
        } else {
            hp.port = at
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port");
            hp.remote = format!("127.0.0.1:{}", hp.port);
        }
        hp
    }

    /// Waits (up to 20 s) until `f` finds something in haltpoint's stderr.
    pub fn wait_for<T>(&self, f: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = f(&self.err.lock().unwrap()) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out; stderr:\n{}",
                self.stderr()
            );
            std::thread::yield_now();
        }
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Waits (up to `secs`) until the console output contains `pat`.
    pub fn wait_console(&self, pat: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.out.lock().unwrap().contains(pat) {
            assert!(
                Instant::now() < deadline,
                "no {pat:?} on the console:\n{}\nstderr:\n{}",
                self.out.lock().unwrap(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `line` (and a newline) on the console (`spawn_console` only).
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("spawned with Hp::spawn_console");
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Runs gdb in batch mode on the demo ELF with `cmds` after connecting.
    pub fn gdb(&self, cmds: &[&str]) -> String {
        self.gdb_elf(Some(&super::guest("demo/demo.elf")), cmds)
    }

    /// Runs gdb in batch mode (with the symbols of `elf`, if any) with `cmds` after
    /// connecting; returns its output.
    pub fn gdb_elf(&self, elf: Option<&str>, cmds: &[&str]) -> String {
        self.gdb_run(elf, cmds, 60)
    }

    /// As `gdb_elf`, with gdb killed after `secs` seconds. Its stdout and stderr (where
    /// it prints `monitor` output) come back interleaved as it wrote them.
    pub fn gdb_run(&self, elf: Option<&str>, cmds: &[&str], secs: u64) -> String {
        let (mut r, w) = std::io::pipe().expect("pipe");
        let mut child = Command::new("timeout")
            .arg(secs.to_string())
            .arg("gdb-multiarch")
            .args(self.gdb_args(elf, cmds))
            .stdin(Stdio::null())
            .stdout(w.try_clone().expect("pipe"))
            .stderr(w)
            .spawn()
            .expect("run gdb-multiarch");
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("read gdb's output");
        let _ = child.wait();
        let text = String::from_utf8_lossy(&out).into_owned();
        eprintln!("--- gdb ---\n{text}");
        text
    }

    /// The arguments of gdb-multiarch in batch mode: load `elf`'s symbols (if any),
    /// connect, run `cmds`.
    pub fn gdb_args(&self, elf: Option<&str>, cmds: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["-batch", "-nx", "-ex", "set architecture riscv:rv64"]
            .map(String::from)
            .to_vec();
        if let Some(e) = elf {
            v.extend(["-ex".into(), format!("file {e}")]);
        }
        v.extend(["-ex".into(), format!("target remote {}", self.remote)]);
        for c in cmds {
            v.extend(["-ex".into(), c.to_string()]);
        }
        v
    }

    /// Waits for haltpoint to exit (up to 20 s); returns its status.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Hp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- haltpoint stderr ---\n{}", self.stderr());
        }
    }
}

pub fn has(out: &str, s: &str) {
    assert!(out.contains(s), "missing {s:?} in gdb output:\n{out}");
}
