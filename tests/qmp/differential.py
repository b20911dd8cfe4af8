#!/usr/bin/env python3
"""Differential test: the same QMP session against qemu-system-riscv64 and haltpoint.

Both run an empty virt machine (-bios none, no kernel) stopped with -S. Each request
goes to both; the replies must match: errors exactly (class and text), successful
returns by shape (keys compared as sets, recursively; scalar values are compared
where both sides are deterministic), events by name and data. The differences that are
expected are listed in KNOWN and explained there.

Usage: differential.py HALTPOINT [QEMU]   (exit status 0 = same behaviour)
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time

# Requests sent to both, in order. Replies compared as described above.
SESSION = [
    {"execute": "query-status"},                       # before negotiation
    {"execute": "qmp_capabilities", "id": 1},
    {"execute": "qmp_capabilities", "id": 2},
    [1],
    {"execute": 1},
    {"execute": "query-status", "foo": 1},
    {"arguments": {}},
    {"execute": "query-status", "arguments": []},
    {"execute": "nosuch", "id": "x"},
    {"execute": "query-status", "id": {"a": [1, None]}},
    {"execute": "stop"},
    {"execute": "query-status"},
    {"execute": "cont"},
    {"execute": "query-status"},
    {"execute": "stop"},
    {"execute": "stop"},
    {"execute": "query-status"},
    {"execute": "system_wakeup"},
    {"execute": "inject-nmi"},
    {"execute": "system_powerdown"},
    {"execute": "query-name"},
    {"execute": "query-target"},
    {"execute": "query-cpus-fast"},
    {"execute": "query-version"},
    {"execute": "set-action", "arguments": {"panic": "bogus"}},
    {"execute": "set-action", "arguments": {"panic": 1}},
    {"execute": "set-action", "arguments": {"foo": 1}},
    {"execute": "set-action", "arguments": {"panic": "pause", "reboot": "reset"}},
    {"execute": "watchdog-set-action"},
    {"execute": "watchdog-set-action", "arguments": {"action": "debug"}},
    {"execute": "memsave", "arguments": {"val": 0, "size": 16, "filename": "/nonexistent/x"}},
    {"execute": "memsave", "arguments": {"val": "x", "size": 1, "filename": "f"}},
    {"execute": "memsave", "arguments": {"val": 1.5, "size": 1, "filename": "f"}},
    {"execute": "memsave", "arguments": {"val": 0, "size": 16, "filename": "@DIR@/m", "cpu-index": 5}},
    {"execute": "memsave", "arguments": {"val": -1, "size": 16, "filename": "@DIR@/m"}},
    {"execute": "pmemsave", "arguments": {"val": 4096, "size": 32, "filename": "@DIR@/pm"}},
    {"execute": "human-monitor-command", "arguments": {}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "info status"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "foo"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "info foo"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": ""}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /2x 0x1000"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /3xg 0x1000"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /5xb 0x1000"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /3dw 0x1000"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /3o 0x1000"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /2u 0x1000"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /2c 0x1000"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /2x"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /2x zz"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "info status", "cpu-index": 3}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "cont"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "info status"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "stop"}},
    # Descriptor passing: {"fd": F, "req": R} sends R with a new file @DIR@/<side>-F
    # attached (SCM_RIGHTS). The VM is paused here, so a dump adds DUMP_COMPLETED only.
    {"execute": "getfd", "arguments": {"fdname": "dumpfd"}},
    {"execute": "getfd"},
    {"fd": "c1", "req": {"execute": "getfd", "arguments": {"fdname": "1x"}}},
    {"fd": "c1", "req": {"execute": "getfd", "arguments": {"fdname": "dumpfd"}}},
    {"fd": "c2", "req": {"execute": "getfd", "arguments": {"fdname": "dumpfd"}}},
    {"execute": "dump-guest-memory", "arguments": {"paging": False, "protocol": "fd:dumpfd"}},
    {"execute": "dump-guest-memory", "arguments": {"paging": False, "protocol": "fd:dumpfd"}},
    {"execute": "closefd", "arguments": {"fdname": "dumpfd"}},
    {"fd": "c3", "req": {"execute": "query-status"}},
    {"execute": "getfd", "arguments": {"fdname": "late"}},
    {"execute": "getfd", "arguments": {"fdname": "late2"}},
    {"execute": "closefd", "arguments": {"fdname": "late"}},
    {"execute": "closefd", "arguments": {"fdname": "late"}},
    {"execute": "dump-guest-memory", "arguments": {"paging": False, "protocol": "fd:nope"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "getfd x"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "getfd"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "getfd a b"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "closefd x"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "closefd"}},
    {"execute": "x-exit-preconfig"},
    {"execute": "system_reset"},
    {"execute": "query-status"},
    {"execute": "cont"},
    {"execute": "system_reset"},
    {"execute": "query-status"},
    {"execute": "query-commands"},
    {"raw": b"{\"execute\": foo}\n"},
    {"raw": b"@\n"},
    {"raw": b"{\"a\":1,\"a\":2}\n"},
    {"raw": b"{\"execute\":\"query-status\",\"id\":01}\n"},
    {"raw": b"{'execute':'query-status','id':'a\"b'}\n"},
    {"raw": b"{\"execute\":\"query-status\",\"id\":\"\\u00e9\"}\n"},
    {"raw": b"{\"execute\":\"query-status\",\"id\":0.1}\n"},
    {"raw": b"{\"execute\":\"query-status\",\"id\":18446744073709551616}\n"},
    {"raw": b"[" * 1100 + b"]" * 1100 + b"\n"},
    {"execute": "quit"},
]

# haltpoint's own commands (not in QEMU): see docs/qmp.md.
OWN_COMMANDS = {"x-query-vmcoreinfo"}

# Expected differences, each with its reason. (path, kind)
KNOWN = {
    # QEMU 7.2 still has StatusInfo.singlestep (deprecated in 8.1, removed in 9.0);
    # haltpoint follows current QEMU.
    "return.singlestep": "QEMU 7.2 only",
    # haltpoint offers no out-of-band execution.
    "QMP.capabilities": "haltpoint offers no oob",
}


def start(cmd, sock):
    p = subprocess.Popen(cmd + ["-qmp", f"unix:{sock},server=on,wait=off"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.settimeout(10)
    return p, s, s.makefile("rb")


def read_reply(f):
    """Events before the reply, and the reply."""
    events = []
    while True:
        line = f.readline()
        if not line:
            return events, None
        v = json.loads(line)
        if "event" in v:
            events.append(v)
        else:
            return events, v


def rest_events(f):
    """Events until the connection closes (QEMU may reset it at exit)."""
    out = []
    try:
        for line in f:
            v = json.loads(line)
            if "event" in v:
                out.append(v)
    except OSError:
        pass
    return out


def shape_diff(a, b, path, out):
    if path in KNOWN:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        ka = {k for k in a if f"{path}.{k}".lstrip(".") not in KNOWN}
        kb = {k for k in b if f"{path}.{k}".lstrip(".") not in KNOWN}
        if ka != kb:
            out.append(f"{path}: keys {sorted(ka)} != {sorted(kb)}")
        for k in ka & kb:
            shape_diff(a[k], b[k], f"{path}.{k}".lstrip("."), out)
    elif isinstance(a, list) and isinstance(b, list):
        if a and b:
            shape_diff(a[0], b[0], path + "[0]", out)
    elif type(a) != type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        out.append(f"{path}: {a!r} vs {b!r}")


def compare(req, qa, ha, problems):
    (qev, q), (hev, h) = qa, ha
    name = req.get("execute") if isinstance(req, dict) else None
    raw = isinstance(req, dict) and "raw" in req
    label = repr(req["raw"][:60]) if raw else json.dumps(req)[:80]
    if [e["event"] for e in qev] != [e["event"] for e in hev]:
        problems.append(f"{label}: events {[e['event'] for e in qev]} vs {[e['event'] for e in hev]}")
    for a, b in zip(qev, hev):
        if a.get("data") != b.get("data"):
            problems.append(f"{label}: event data {a.get('data')} vs {b.get('data')}")
    if q is None or h is None:
        if (q is None) != (h is None):
            problems.append(f"{label}: one side closed: {q} / {h}")
        return
    if "error" in q or "error" in h:
        if q.get("error") != h.get("error") or q.get("id") != h.get("id"):
            problems.append(f"{label}: {q} vs {h}")
        return
    if q.get("id") != h.get("id"):
        problems.append(f"{label}: id {q.get('id')} vs {h.get('id')}")
    rq, rh = q.get("return"), h.get("return")
    if name == "query-commands":
        theirs = {c["name"] for c in rq}
        ours = {c["name"] for c in rh}
        extra = ours - theirs - OWN_COMMANDS
        if extra:
            problems.append(f"query-commands: not QEMU commands: {sorted(extra)}")
        return
    if name == "human-monitor-command":
        if rq != rh:
            problems.append(f"{label}: {rq!r} vs {rh!r}")
        return
    if name in ("query-version",):
        shape_diff(rq, rh, "return", problems)
        return
    d = []
    shape_diff(rq, rh, "return", d)
    problems.extend(f"{label}: {x}" for x in d)
    # Deterministic scalar answers must be equal too.
    if name in ("query-status", "query-target", "query-name") and isinstance(rq, dict):
        for k in rq:
            if f"return.{k}" not in KNOWN and rq.get(k) != rh.get(k):
                problems.append(f"{label}: {k} = {rq.get(k)!r} vs {rh.get(k)!r}")


def main():
    hp = sys.argv[1]
    qemu = sys.argv[2] if len(sys.argv) > 2 else "qemu-system-riscv64"
    d = tempfile.mkdtemp(prefix="hp-diff-")
    base = ["-M", "virt", "-bios", "none", "-display", "none", "-serial", "none", "-S"]
    qp, qs, qf = start([qemu] + base, f"{d}/qemu.sock")
    hp_p, hs, hf = start([hp] + base, f"{d}/hp.sock")
    problems = []
    try:
        gq, gh = json.loads(qf.readline()), json.loads(hf.readline())
        shape_diff(gq, gh, "", problems)
        for req in SESSION:
            if isinstance(req, dict) and "fd" in req:
                data = json.dumps(req["req"]).encode() + b"\n"
                for side, sock in (("qemu", qs), ("hp", hs)):
                    fd = os.open(f"{d}/{side}-{req['fd']}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    socket.send_fds(sock, [data], [fd])
                    os.close(fd)
                compare(req["req"], read_reply(qf), read_reply(hf), problems)
                continue
            if isinstance(req, dict) and "raw" in req:
                data = req["raw"]
            else:
                data = json.dumps(req).replace("@DIR@", d).encode() + b"\n"
            qs.sendall(data)
            hs.sendall(data)
            # A raw input may produce several replies: read until both sides answer a
            # synchronising request.
            if isinstance(req, dict) and "raw" in req:
                sync = b'{"execute":"query-name","id":"sync"}\n'
                qs.sendall(sync)
                hs.sendall(sync)
                while True:
                    a, b = read_reply(qf), read_reply(hf)
                    compare(req, a, b, problems)
                    if a[1] is None or b[1] is None or a[1].get("id") == "sync" or b[1].get("id") == "sync":
                        if (a[1] or {}).get("id") != (b[1] or {}).get("id"):
                            problems.append(f"{req['raw'][:40]!r}: reply counts differ")
                        break
                continue
            a, b = read_reply(qf), read_reply(hf)
            if isinstance(req, dict) and req.get("execute") == "quit":
                # Both send the reply and SHUTDOWN host-qmp-quit; QEMU's order varies.
                rest_q = a[0] + rest_events(qf)
                rest_h = b[0] + rest_events(hf)
                if [e["event"] for e in rest_q] != [e["event"] for e in rest_h]:
                    problems.append(f"quit: events {rest_q} vs {rest_h}")
                compare(req, ([], a[1]), ([], b[1]), problems)
                continue
            compare(req, a, b, problems)
        with open(f"{d}/pm", "rb") as f:
            pm = f.read()
        if pm[:8] != bytes([0x97, 0x02, 0, 0, 0x13, 0x86, 0x82, 0x02]):
            problems.append(f"pmemsave wrote {pm[:8].hex()}")
        # getfd replaced c1 by c2 before the dump: c1 stays empty, c2 is an ELF core.
        for side in ("qemu", "hp"):
            with open(f"{d}/{side}-c1", "rb") as f:
                if f.read(1):
                    problems.append(f"{side}: the replaced descriptor was written to")
            with open(f"{d}/{side}-c2", "rb") as f:
                head = f.read(18)
            if head[:4] != b"\x7fELF" or head[16:18] != b"\x04\x00":
                problems.append(f"{side}: fd dump is not an ELF core: {head.hex()}")
    finally:
        for p in (qp, hp_p):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(d, ignore_errors=True)  # the fd dumps are 128 MiB each
    for p in problems:
        print("DIFF:", p)
    print(f"{len(SESSION)} requests, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
