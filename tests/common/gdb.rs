//! A running haltpoint with a gdb server on the demo guest, and gdb-multiarch in batch
//! mode against it (used by the gdb and dump tests).
//!
//! `Hp::start` runs haltpoint with `-S -gdb tcp::0`, reads the port it bound from its
//! stderr, and always kills it on drop (printing its output on failure).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running haltpoint; killed on drop.
pub struct Hp {
    pub child: Child,
    pub err: Arc<Mutex<String>>,
    pub port: u16,
}

impl Hp {
    pub fn start(extra: &[&str]) -> Hp {
        let demo = super::guest("demo/demo.elf");
        let mut args = vec![
            "-M",
            "virt",
            "-bios",
            "none",
            "-nographic",
            "-kernel",
            &demo,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-S", "-gdb", "tcp::0"]);
        let mut child = Command::new(super::bin())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
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
        let mut hp = Hp {
            child,
            err,
            port: 0,
        };
        hp.port = hp.wait_for(|s| {
            s.split("listening on tcp:127.0.0.1:")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|p| p.parse().ok())
        });
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

    /// Runs gdb in batch mode with `cmds` after connecting; returns its output.
    pub fn gdb(&self, cmds: &[&str]) -> String {
        let target = format!("target remote 127.0.0.1:{}", self.port);
        let elf = super::guest("demo/demo.elf");
        let file = format!("file {elf}");
        let mut args: Vec<&str> = vec![
            "-batch",
            "-nx",
            "-ex",
            "set architecture riscv:rv64",
            "-ex",
            &file,
            "-ex",
            &target,
        ];
        for c in cmds {
            args.push("-ex");
            args.push(c);
        }
        let out = Command::new("timeout")
            .arg("60")
            .arg("gdb-multiarch")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run gdb-multiarch");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("--- gdb ---\n{text}");
        text
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
