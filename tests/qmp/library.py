#!/usr/bin/env python3
"""Drives haltpoint with the real `qemu.qmp` library (PyPI), as management tools do.

Usage: library.py HALTPOINT   (exit status 0 = the session behaved)
"""
import asyncio, os, shutil, subprocess, sys, tempfile

from qemu.qmp import QMPClient, ExecuteError


async def session(hp):
    d = tempfile.mkdtemp(prefix="hp-lib-")
    sock = os.path.join(d, "qmp.sock")
    demo = os.path.join(os.path.dirname(__file__), "..", "guests", "reset.elf")
    p = subprocess.Popen([hp, "-M", "virt", "-bios", "none", "-serial", "none",
                          "-kernel", demo, "-S", "-no-reboot", "-no-shutdown",
                          "-qmp", f"unix:{sock},server=on,wait=off"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    for _ in range(500):
        if os.path.exists(sock):
            break
        await asyncio.sleep(0.01)
    qmp = QMPClient("haltpoint-test")
    await qmp.connect(sock)
    try:
        assert qmp.greeting is not None
        st = await qmp.execute("query-status")
        assert st == {"running": False, "status": "prelaunch"}, st
        ver = await qmp.execute("query-version")
        assert ver["package"].startswith("haltpoint"), ver
        try:
            await qmp.execute("no-such-command")
            raise AssertionError("no error for an unknown command")
        except ExecuteError as e:
            assert e.error.error.class_ == "CommandNotFound", e.error.error
            assert e.error.error.desc == "The command no-such-command has not been found"
        names = [c["name"] for c in await qmp.execute("query-commands")]
        assert "human-monitor-command" in names
        with qmp.listener() as listener:
            await qmp.execute("cont")
            seen = []
            async for ev in listener:
                seen.append(ev["event"])
                if ev["event"] == "STOP":
                    break
        # -no-reboot turns the guest's reset into a shutdown, -no-shutdown into a stop.
        assert seen == ["RESUME", "SHUTDOWN", "STOP"], seen
        st = await qmp.execute("query-status")
        assert st["status"] == "shutdown", st
        out = await qmp.execute("human-monitor-command", {"command-line": "info status"})
        assert out == "VM status: paused (shutdown)\r\n", repr(out)
        # Descriptor passing as libvirt does it: send_fd_scm (a byte with SCM_RIGHTS),
        # getfd names it, dump-guest-memory fd:NAME writes into it and takes it.
        core = os.path.join(d, "core")
        fd = os.open(core, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            qmp.send_fd_scm(fd)
        finally:
            os.close(fd)
        assert await qmp.execute("getfd", {"fdname": "core"}) == {}
        await qmp.execute("dump-guest-memory", {"paging": False, "protocol": "fd:core"})
        with open(core, "rb") as f:
            head = f.read(20)
        assert head[:4] == b"\x7fELF" and head[16:20] == b"\x04\x00\xf3\x00", head
        for cmd, want in (("closefd", "File descriptor named 'core' not found"),
                          ("getfd", "No file descriptor supplied via SCM_RIGHTS")):
            try:
                await qmp.execute(cmd, {"fdname": "core"})
                raise AssertionError(f"{cmd} should fail")
            except ExecuteError as e:
                assert e.error.error.desc == want, e.error.error
        await qmp.execute("quit")
    finally:
        try:
            await qmp.disconnect()
        except EOFError:
            pass  # after quit the server closed the socket, as QEMU does
    assert p.wait(timeout=10) == 0
    shutil.rmtree(d, ignore_errors=True)
    print("qemu.qmp session: ok")


if __name__ == "__main__":
    asyncio.run(session(sys.argv[1]))
