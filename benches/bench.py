#!/usr/bin/env python3
"""haltpoint benchmarks, each measured against qemu-system-riscv64 (TCG) in the same run.

- CPU-bound and memory-bound bare-metal workloads (benches/guests): guest MIPS.
  The instruction count is haltpoint's exact retired count (--stats); the workloads do a
  fixed amount of work, so QEMU executes the same instructions.
- Boot of Debian's kernel to the initramfs marker: seconds of wall time.
- gdb: stepi, raw step packets and continue-to-breakpoint rates, `next` over a loop
  line, Ctrl-C latency, and the CPU workload's slowdown with a watchpoint on a page it
  uses all the time.

Speed is measured here, never asserted in tests. Usage: python3 benches/bench.py [names]

The whole-program benchmarks (cpu, mem, boot), stepi and watch run each emulator
HP_BENCH_REPEAT times (default 3), alternating, and keep each one's best: this
machine's timings vary by 10% or more from run to run, and the best run is the least
disturbed one.
"""
import os
import re
import selectors
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HP = os.path.join(ROOT, "target", "release", "haltpoint")
QEMU = shutil.which("qemu-system-riscv64")
GDB = shutil.which("gdb-multiarch")
CPU_ELF = os.path.join(ROOT, "benches", "guests", "cpu.elf")
CACHE = os.environ.get("HALTPOINT_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "haltpoint")
MARKER = b"HALTPOINT-MARKER"
REPEAT = max(1, int(os.environ.get("HP_BENCH_REPEAT", "3")))


# The issues' targets: a ratio to QEMU to reach, or a haltpoint value to stay under.
TARGETS = {
    "cpu-bound guest MIPS": ("ratio", 0.3),
    "mem-bound guest MIPS": ("ratio", 3.0),
    "Debian boot to marker": ("ratio", 1.0),
    "gdb stepi per second": ("ratio", 5.0),
    "watchpoint slowdown": ("under", 1.1),
}


def target(row, ratio):
    """The target column: the target and whether this run met it."""
    kind, want = TARGETS.get(row["what"], (None, None))
    if kind == "ratio" and ratio is not None:
        return f">={want:g}x {'met' if ratio >= want else 'NOT MET'}"
    if kind == "under":
        return f"<{want:g}x {'met' if row['hp'] < want else 'NOT MET'}"
    return ""


def timed(cmd, marker=None, timeout=600):
    """Runs cmd; returns (seconds until marker or exit, exit status, stdout, stderr).
    A run that outlives `timeout` is killed and reported with status None."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = b"", b""
    t_mark = None
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    sel.register(p.stderr, selectors.EVENT_READ)
    open_pipes = 2
    while open_pipes:
        left = t0 + timeout - time.monotonic()
        if left <= 0:
            p.kill()
            p.wait()
            return None, None, out, err
        for key, _ in sel.select(left):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_pipes -= 1
            elif key.fileobj is p.stdout:
                out += chunk
                if marker and t_mark is None and marker in out:
                    t_mark = time.monotonic() - t0
            else:
                err += chunk
    p.wait()
    total = time.monotonic() - t0
    return (t_mark if marker else total), p.returncode, out, err


def best_of(cmds, marker=None):
    """Runs each command REPEAT times, alternating; the best (time, status, out, err)
    of each, or the first failure."""
    best = [None] * len(cmds)
    for _ in range(REPEAT):
        for i, cmd in enumerate(cmds):
            r = timed(cmd, marker=marker)
            if r[0] is None or r[1] != 0:
                best[i] = r
            elif best[i] is None or (best[i][0] is not None and best[i][1] == 0
                                     and r[0] < best[i][0]):
                best[i] = r
    return best


def retired(stderr):
    m = re.search(rb"haltpoint: (\d+) instructions in", stderr)
    return int(m.group(1)) if m else None


def bare(name):
    elf = os.path.join(ROOT, "benches", "guests", name + ".elf")
    args = ["-M", "virt", "-bios", "none", "-nographic", "-kernel", elf]
    runs = best_of([[HP] + args + ["--stats"]] + ([[QEMU] + args] if QEMU else []))
    t_hp, st, _, err = runs[0]
    n = retired(err)
    if st != 0 or n is None:
        print(f"{name}: haltpoint failed (status {st}): {err.decode(errors='replace')[-500:]}")
        return None
    row = {"what": f"{name}-bound guest MIPS", "hp": n / t_hp / 1e6, "unit": "MIPS"}
    if QEMU:
        t_q, st, _, _ = runs[1]
        row["qemu"] = n / t_q / 1e6 if st == 0 else None
    return row


def boot():
    need = ["fw_dynamic.bin", "vmlinux", "initramfs.cpio.gz"]
    if not all(os.path.exists(os.path.join(CACHE, f)) for f in need):
        print("boot: Debian guests missing; run sh tests/linux/fetch.sh")
        return None
    args = ["-M", "virt", "-m", "512M", "-smp", "1", "-nographic",
            "-bios", os.path.join(CACHE, "fw_dynamic.bin"),
            "-kernel", os.path.join(CACHE, "vmlinux"),
            "-initrd", os.path.join(CACHE, "initramfs.cpio.gz"),
            "-append", "console=ttyS0 hp=poweroff"]
    runs = best_of([[HP] + args] + ([[QEMU] + args] if QEMU else []), marker=MARKER)
    t_hp, st, out, _ = runs[0]
    if t_hp is None:
        print(f"boot: haltpoint never reached the marker (status {st})")
        return None
    row = {"what": "Debian boot to marker", "hp": t_hp, "unit": "s", "lower": True}
    if QEMU:
        row["qemu"] = runs[1][0]
    return row


def free_port():
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def start_stopped(cmd_for_port):
    """Starts an emulator waiting for gdb; returns (process, port)."""
    import socket
    port = free_port()
    p = subprocess.Popen(cmd_for_port(port), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Wait for the listening socket without connecting (a connection that closes would
    # count as a debugger that came and went).
    want = ":%04X" % port
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            if any(l.split()[1].endswith(want) and l.split()[3] == "0A" for l in f.readlines()[1:]):
                break
        time.sleep(0.01)
    return p, port


def stopped(exe, elf=CPU_ELF):
    """The command line (given the port) that starts `exe` on `elf`, stopped and waiting
    for gdb."""
    return lambda port: [exe, "-M", "virt", "-bios", "none", "-nographic", "-kernel", elf,
                         "-S", "-gdb", f"tcp:127.0.0.1:{port}"]


def emulators(elf=CPU_ELF):
    return [(who, stopped(exe, elf)) for who, exe in (("hp", HP), ("qemu", QEMU)) if exe]


def gdb_batch(cmd, cmds, symbols=None, timeout=600):
    """Starts an emulator with `cmd` (see `stopped`), runs gdb-multiarch in batch mode
    against it with `cmds` after connecting (with the ELF `symbols`, if given) and kills
    the emulator. Returns (seconds gdb took, its output)."""
    p, port = start_stopped(cmd)
    args = [GDB, "-batch", "-nx"] + ([symbols] if symbols else [])
    for c in [f"target remote :{port}"] + cmds:
        args += ["-ex", c]
    t0 = time.monotonic()
    r = subprocess.run(args, capture_output=True, timeout=timeout)
    t = time.monotonic() - t0
    p.kill()
    p.wait()
    return t, r.stdout + r.stderr


def gdb_stepi(n=2000):
    """stepi per second through gdb-multiarch."""
    if not GDB:
        print("gdb: gdb-multiarch not installed")
        return None
    row = {"what": "gdb stepi per second", "unit": "/s"}
    # Best of REPEAT, alternating: round trips vary with where the scheduler puts gdb.
    for _ in range(REPEAT):
        for who, cmd in emulators():
            t, _ = gdb_batch(cmd, ["set pagination off", "stepi", f"stepi {n}", "kill"])
            row[who] = max(row.get(who, 0), n / t)
    return row


def raw_steps(n=20000):
    """Raw `s` packets per second over the remote protocol, without gdb."""
    import socket

    def packet(body):
        return b"$" + body + b"#" + b"%02x" % (sum(body) % 256)

    def read_reply(so, buf):
        while True:
            i = buf.find(b"#")
            if i >= 0 and len(buf) >= i + 3:
                start = buf.find(b"$")
                reply, buf = buf[start + 1:i], buf[i + 3:]
                so.sendall(b"+")
                return reply, buf
            data = so.recv(65536)
            if not data:
                raise OSError("closed")
            buf += data

    row = {"what": "raw s packets per second", "unit": "/s"}
    for who, cmd in emulators():
        p, port = start_stopped(cmd)
        so = socket.create_connection(("127.0.0.1", port))
        so.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        so.sendall(packet(b"?"))
        _, buf = read_reply(so, buf.lstrip(b"+"))
        t0 = time.monotonic()
        for _ in range(n):
            so.sendall(packet(b"s"))
            _, buf = read_reply(so, buf.lstrip(b"+"))
        row[who] = n / (time.monotonic() - t0)
        so.close()
        p.kill()
        p.wait()
    return row


def gdb_next_line():
    """gdb `next` over a source line that loops 3000 times (tests/guests/lines.c):
    seconds. haltpoint range-steps it (`vCont;r`); QEMU has no range stepping, so gdb
    single-steps each of its instructions there."""
    if not GDB:
        return None
    elf = os.path.join(ROOT, "tests", "guests", "lines.elf")
    row = {"what": "gdb next over a loop line", "unit": "s", "lower": True}
    for who, cmd in emulators(elf):
        t, out = gdb_batch(cmd, ["break main", "continue", "next", "next", "print counter",
                                 "kill"], symbols=elf)
        if b"$1 = 4498501" not in out:
            print(f"next: {who} did not step over the line: {out[-300:]!r}")
            return None
        row[who] = t
    return row


def gdb_continue_to_break(n=500):
    """Continues to a breakpoint in cpu.elf's hot loop and back, per second."""
    if not GDB:
        return None
    row = {"what": "gdb continue-to-break /s", "unit": "/s"}
    for who, cmd in emulators():
        t, _ = gdb_batch(cmd, ["set pagination off", "break *0x80000708", "continue",
                               f"continue {n}", "kill"])
        # `continue N` ignores the breakpoint N-1 times: N stops and resumes in total,
        # but the ignored ones are handled inside gdb too (a round trip each).
        row[who] = n / t
    return row


def watch_cost():
    """The CPU benchmark run to its end under gdb, without a watchpoint and with a write
    watchpoint on a word it never writes on a page it uses all the time (sort_buf's):
    seconds for each, and the slowdown the watchpoint causes. A watched page is QEMU's
    bad case (every access to it leaves the fast path)."""
    if not GDB:
        return []

    def run(cmd, watch):
        # group_open shares a page with sort_buf and is only written by the test
        # harness, which the benchmark does not call.
        t, out = gdb_batch(cmd, (["watch *(long *)&group_open"] if watch else []) + ["continue"],
                           symbols=CPU_ELF, timeout=900)
        # QEMU drops the connection when the guest powers off; haltpoint reports the
        # exit. A watchpoint hit or any other stop is a failure.
        ended = b"exited normally" in out or b"Remote connection closed" in out
        return t if ended and b"Old value" not in out and b"received signal" not in out else None

    exes = emulators()
    best = {}
    for _ in range(REPEAT):
        for who, cmd in exes:
            for watch in (False, True):
                t = run(cmd, watch)
                if t is None:
                    print(f"watch: {who} did not run to the end (watch={watch})")
                    return []
                k = (who, watch)
                best[k] = min(best.get(k, t), t)
    rows = [{"what": "cpu under gdb: s", "unit": "s", "lower": True},
            {"what": "cpu, hot page watched: s", "unit": "s", "lower": True},
            {"what": "watchpoint slowdown", "unit": "x", "lower": True}]
    for who, _ in exes:
        rows[0][who] = best[(who, False)]
        rows[1][who] = best[(who, True)]
        rows[2][who] = best[(who, True)] / best[(who, False)]
    return rows


def qmp_connect(sock):
    """Waits for the QMP unix socket `sock`, connects, reads the greeting and leaves
    capabilities negotiation; returns (socket, file)."""
    import socket
    while not os.path.exists(sock):
        time.sleep(0.01)
    time.sleep(0.05)
    so = socket.socket(socket.AF_UNIX)
    so.connect(sock)
    f = so.makefile("rwb")
    f.readline()
    f.write(b'{"execute":"qmp_capabilities"}\n')
    f.flush()
    f.readline()
    return so, f


def qmp_round_trips(n=5000):
    """query-status requests per second over a unix QMP socket."""
    import tempfile
    row = {"what": "QMP query-status /s", "unit": "/s"}
    for who, exe in (("hp", HP), ("qemu", QEMU)):
        if not exe:
            continue
        d = tempfile.mkdtemp()
        sock = os.path.join(d, "q")
        p = subprocess.Popen([exe, "-M", "virt", "-bios", "none", "-display", "none",
                              "-serial", "none", "-S", "-qmp", f"unix:{sock},server=on,wait=off"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        so, f = qmp_connect(sock)
        req = b'{"execute":"query-status"}\n'
        t0 = time.monotonic()
        for _ in range(n):
            f.write(req)
            f.flush()
            f.readline()
        row[who] = n / (time.monotonic() - t0)
        so.close()
        p.kill()
        p.wait()
    return row


def dumps():
    """Seconds for QMP dump-guest-memory of a booted Debian guest (512 MiB; stopped over
    QMP once its shell is up), per format, for each emulator."""
    import json, tempfile
    need = ["fw_dynamic.bin", "vmlinux", "initramfs.cpio.gz"]
    if not all(os.path.exists(os.path.join(CACHE, f)) for f in need):
        print("dump: Debian guests missing; run sh tests/linux/fetch.sh")
        return None
    formats = ["elf", "kdump-zlib", "kdump-lzo", "kdump-snappy"]
    rows = {f: {"what": f"dump 512 MiB {f}", "unit": "s", "lower": True} for f in formats}
    for who, exe in (("hp", HP), ("qemu", QEMU)):
        if not exe:
            continue
        d = tempfile.mkdtemp()
        sock = os.path.join(d, "q")
        p = subprocess.Popen([exe, "-M", "virt", "-m", "512M", "-smp", "1", "-nographic",
                              "-bios", os.path.join(CACHE, "fw_dynamic.bin"),
                              "-kernel", os.path.join(CACHE, "vmlinux"),
                              "-initrd", os.path.join(CACHE, "initramfs.cpio.gz"),
                              "-append", "console=ttyS0 hp=shell",
                              "-qmp", f"unix:{sock},server=on,wait=off"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            seen = b""
            deadline = time.monotonic() + 300
            while MARKER not in seen:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk or time.monotonic() > deadline:
                    raise TimeoutError("the guest never reached the marker")
                seen = seen[-64:] + chunk
            so, f = qmp_connect(sock)

            def cmd(name, args=None):
                req = {"execute": name}
                if args:
                    req["arguments"] = args
                f.write(json.dumps(req).encode() + b"\n")
                f.flush()
                while True:
                    msg = json.loads(f.readline())
                    if "event" not in msg:
                        return msg

            cmd("stop")
            caps = cmd("query-dump-guest-memory-capability")["return"]["formats"]
            for fmt in formats:
                if fmt not in caps:
                    rows[fmt].setdefault("note", []).append(f"{who}: no {fmt}")
                    continue
                out = os.path.join(d, "dump")
                t0 = time.monotonic()
                r = cmd("dump-guest-memory",
                        {"paging": False, "protocol": f"file:{out}", "format": fmt})
                if "error" in r:
                    rows[fmt].setdefault("note", []).append(f"{who}: {r['error']['desc']}")
                    continue
                rows[fmt][who] = time.monotonic() - t0
                st = os.stat(out)
                rows[fmt].setdefault("note", []).append(
                    f"{who} file {st.st_size >> 20} MiB, {st.st_blocks >> 11} MiB on disk")
                os.remove(out)
            so.close()
        except (OSError, TimeoutError, ValueError, KeyError) as e:
            print(f"dump: {who}: {e}")
        finally:
            p.kill()
            p.wait()
            shutil.rmtree(d, ignore_errors=True)
    return list(rows.values())


def ctrl_c_latency(n=50):
    """Milliseconds from a Ctrl-C (0x03) to the stop reply, while cpu.elf runs."""
    import socket

    def packet(body):
        return b"$" + body + b"#" + b"%02x" % (sum(body) % 256)

    def reply(so):
        buf = b""
        while b"#" not in buf or len(buf) < buf.index(b"#") + 3:
            data = so.recv(65536)
            if not data:
                raise OSError("closed")
            buf += data
        return buf

    row = {"what": "gdb Ctrl-C latency ms", "unit": "ms", "lower": True}
    for who, cmd in emulators():
        p, port = start_stopped(cmd)
        so = socket.create_connection(("127.0.0.1", port))
        so.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        so.sendall(packet(b"QStartNoAckMode"))
        reply(so)
        worst = []
        for _ in range(n):
            so.sendall(packet(b"c"))
            time.sleep(0.02)
            t0 = time.monotonic()
            so.sendall(b"\x03")
            reply(so)
            worst.append((time.monotonic() - t0) * 1000)
        worst.sort()
        row[who] = worst[len(worst) // 2]
        row.setdefault("note", []).append(f"{who} max {worst[-1]:.2f} ms")
        so.close()
        p.kill()
        p.wait()
    return row


def main():
    which = sys.argv[1:] or ["cpu", "mem", "boot", "stepi", "rawstep", "next", "contbreak",
                             "ctrlc", "watch", "qmp", "dump"]
    if not os.path.exists(HP):
        sys.exit("build first: cargo build --release")
    if not QEMU:
        print("note: qemu-system-riscv64 not found (Debian qemu-system-misc); no ratios")
    rows = []
    for w in which:
        r = {"boot": boot, "stepi": gdb_stepi, "rawstep": raw_steps,
             "contbreak": gdb_continue_to_break, "watch": watch_cost, "next": gdb_next_line,
             "qmp": qmp_round_trips, "ctrlc": ctrl_c_latency, "dump": dumps}.get(w, lambda: bare(w))()
        if isinstance(r, list):
            rows.extend(r)
        elif r:
            rows.append(r)
    print()
    print(f"{'benchmark':<28}{'haltpoint':>12}{'QEMU TCG':>12}{'ratio':>10}   target")
    for r in rows:
        if "hp" not in r:
            continue
        q = r.get("qemu")
        ratio = None
        if q:
            ratio = (q / r["hp"]) if r.get("lower") else (r["hp"] / q)
            qs, rs = f"{q:.2f}", f"{ratio:.2f}x"
        else:
            qs, rs = "-", "-"
        print(f"{r['what']:<28}{r['hp']:>9.2f} {r['unit']:<3}{qs:>9} {r['unit']:<3}{rs:>7}"
              f"   {target(r, ratio)}")
        for n in r.get("note", []):
            print(f"    ({n})")
    print("\nratio: haltpoint speed / QEMU speed (above 1 = haltpoint faster)")
    print(f"cpu, mem, boot, stepi, watch: best of {REPEAT} runs each (HP_BENCH_REPEAT)")


if __name__ == "__main__":
    main()
