# haltpoint helpers for gdb. Load with:  source gdb-scripts/haltpoint.py
#
#   hp-priv          the current privilege mode
#   hp-trap          the last trap of S and M mode: cause (named), epc, tval
#   hp-walk VADDR    software page-table walk of VADDR through satp (Sv39/48/57)
#   hp-panic         break on the kernel's panic(); on a hit print the message and backtrace
#
# They use only standard registers and memory (the walk reads physical memory with
# haltpoint's `monitor phys on|off`), so they work on any RV64 target haltpoint serves.
import gdb

PRIV = {0: "U (user)", 1: "S (supervisor)", 3: "M (machine)"}
EXC = {
    0: "instruction address misaligned", 1: "instruction access fault",
    2: "illegal instruction", 3: "breakpoint", 4: "load address misaligned",
    5: "load access fault", 6: "store/AMO address misaligned", 7: "store/AMO access fault",
    8: "environment call from U-mode", 9: "environment call from S-mode",
    11: "environment call from M-mode", 12: "instruction page fault",
    13: "load page fault", 15: "store/AMO page fault",
}
IRQ = {1: "supervisor software", 3: "machine software", 5: "supervisor timer",
       7: "machine timer", 9: "supervisor external", 11: "machine external",
       13: "counter overflow"}


def reg(name):
    return int(gdb.parse_and_eval("$" + name)) & 0xFFFFFFFFFFFFFFFF


def cause_name(c):
    if c >> 63:
        return IRQ.get(c & ~(1 << 63), "reserved") + " interrupt"
    return EXC.get(c, "reserved exception")


class Priv(gdb.Command):
    """Print the current privilege mode."""

    def __init__(self):
        super().__init__("hp-priv", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        p = reg("priv")
        print("privilege: %s" % PRIV.get(p, "reserved (%d)" % p))


class Trap(gdb.Command):
    """Decode the last trap of S and M mode: cause, epc and tval."""

    def __init__(self):
        super().__init__("hp-trap", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        for m in ("s", "m"):
            c = reg(m + "cause")
            print("%scause 0x%x (%s)  %sepc 0x%x  %stval 0x%x"
                  % (m, c, cause_name(c), m, reg(m + "epc"), m, reg(m + "tval")))


class Walk(gdb.Command):
    """Walk the page tables for a virtual address: hp-walk VADDR."""

    def __init__(self):
        super().__init__("hp-walk", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        va = int(gdb.parse_and_eval(arg)) & 0xFFFFFFFFFFFFFFFF
        satp = reg("satp")
        levels = {8: 3, 9: 4, 10: 5}.get(satp >> 60)
        if levels is None:
            print("satp mode %d: no translation, 0x%x is physical" % (satp >> 60, va))
            return
        inf = gdb.selected_inferior()
        table = (satp & ((1 << 44) - 1)) << 12
        gdb.execute("monitor phys on", to_string=True)
        try:
            for level in range(levels - 1, -1, -1):
                idx = (va >> (12 + 9 * level)) & 0x1FF
                addr = table + idx * 8
                pte = int.from_bytes(bytes(inf.read_memory(addr, 8)), "little")
                flags = "".join(f for f, b in zip("VRWXUGAD", range(8)) if pte >> b & 1)
                print("level %d: pte @ 0x%x = 0x%016x [%s]" % (level, addr, pte, flags))
                if not pte & 1:
                    print("invalid: page fault")
                    return
                ppn = (pte >> 10) & ((1 << 44) - 1)
                if pte & 0xA:  # R or X: leaf
                    off = (1 << (12 + 9 * level)) - 1
                    print("0x%x -> physical 0x%x" % (va, ((ppn << 12) & ~off) | (va & off)))
                    return
                table = ppn << 12
            print("no leaf: page fault")
        finally:
            gdb.execute("monitor phys off", to_string=True)


class Panic(gdb.Command):
    """Break on the kernel's panic(); on a hit print the message and the backtrace."""

    def __init__(self):
        super().__init__("hp-panic", gdb.COMMAND_BREAKPOINTS)

    def invoke(self, arg, from_tty):
        PanicBreakpoint(arg or "panic")


def c_string(addr, limit=256):
    """The NUL-terminated string at addr (at most limit bytes; what is readable)."""
    inf = gdb.selected_inferior()
    data = b""
    while len(data) < limit and b"\0" not in data:
        a = addr + len(data)
        n = min(limit - len(data), 4096 - (a & 4095))
        try:
            data += bytes(inf.read_memory(a, n))
        except gdb.MemoryError:
            break
    return data.split(b"\0")[0].decode("utf-8", "replace")


class PanicBreakpoint(gdb.Breakpoint):
    def stop(self):
        # A kernel built with patchable function entries (ftrace) has two symbols per
        # function, the ELF one at the entry nops and the DWARF one after them: gdb
        # puts a location on each (and maybe one past the prologue). Only the first
        # one a call reaches, the lowest, has the format string still in a0.
        locs = [loc.address for loc in getattr(self, "locations", []) if loc.enabled]
        if locs and reg("pc") != min(locs):
            return False
        print("*** kernel panic: %s" % c_string(reg("a0")).rstrip())
        gdb.execute("bt 20")
        return True


Priv()
Trap()
Walk()
Panic()
