//! The serial console in a real terminal (tmux): raw mode while running, QEMU's Ctrl-A
//! escapes, and the terminal restored on exit.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        let socket = format!("haltpoint-test-{}", std::process::id());
        let ok = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "50",
                "sh",
            ])
            .status()
            .expect("tmux is installed")
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux { socket }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["-L", &self.socket, "send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-S",
                "-200",
                "-t",
                "0",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `what` appears (or fails with the screen shown).
    fn wait_for(&self, what: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn raw_terminal_ctrl_a_escapes_and_restore() {
    let c = linux_cache();
    for f in ["fw_dynamic.bin", "vmlinux", "initramfs.cpio.gz"] {
        assert!(
            c.join(f).exists(),
            "run `sh tests/linux/fetch.sh` first (make test does)"
        );
    }
    let dir = std::env::temp_dir().join(format!("hp-tty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let before = dir.join("before");
    let after = dir.join("after");
    let t = Tmux::new();
    let cmd = format!(
        "stty -g > {b}; {bin} -M virt -m 512M -nographic -bios {c}/fw_dynamic.bin -kernel {c}/vmlinux \
         -initrd {c}/initramfs.cpio.gz -append 'console=ttyS0 hp=shell quiet'; \
         echo status=$?; stty -g > {a}; echo TEST-$((1+1))-DONE",
        b = before.display(),
        a = after.display(),
        bin = bin(),
        c = c.display()
    );
    t.keys(&[&cmd, "Enter"]);
    t.wait_for("~ #", 300);
    // Raw mode: keys reach the guest one by one and the guest's shell echoes them.
    t.keys(&["echo typed-$((40+2))", "Enter"]);
    t.wait_for("typed-42", 60);
    // Ctrl-A h prints the escape help, Ctrl-A x quits.
    t.keys(&["C-a", "h"]);
    t.wait_for("C-a x    exit emulator", 30);
    t.keys(&["C-a", "x"]);
    let s = t.wait_for("TEST-2-DONE", 30);
    assert!(s.contains("haltpoint: terminated"), "{s}");
    assert!(s.contains("status=0"), "{s}");
    let b = std::fs::read_to_string(&before).unwrap();
    let a = std::fs::read_to_string(&after).unwrap();
    assert_eq!(a, b, "terminal settings were not restored");
    std::fs::remove_dir_all(&dir).ok();
}
