#!/usr/bin/python3
"""Read pages back from a (reassembled) kdump-compressed file, independently of haltpoint.

usage: kdump_page.py FILE PADDR...

Walks the file the way crash does (disk_dump_header, sub header, the second bitmap,
page descriptors) and decompresses each page with the real libraries: zlib (Python's
zlib module), LZO (python3-lzo, i.e. liblzo2's lzo1x_decompress_safe) and Snappy
(python3-snappy). Prints one line per page: `PADDR FLAGS SIZE HEX-OF-THE-4096-BYTES`,
and a first line with the header fields. Run it with Debian's /usr/bin/python3.
"""
import struct
import sys
import zlib


def main():
    path = sys.argv[1]
    data = open(path, "rb").read()
    if data[:8] != b"KDUMP   ":
        sys.exit("no KDUMP signature")
    version, = struct.unpack_from("<i", data, 8)
    machine = data[12 + 4 * 65:12 + 5 * 65].split(b"\0")[0].decode()
    release = data[12 + 2 * 65:12 + 3 * 65].split(b"\0")[0].decode()
    status, block, sub_blocks, bitmap_blocks, mapnr32 = struct.unpack_from("<IiiII", data, 424)
    nr_cpus, = struct.unpack_from("<i", data, 460)
    sub = block
    phys_base, dump_level = struct.unpack_from("<Qi", data, sub)
    off_vmci, size_vmci, off_note, size_note = struct.unpack_from("<QQQQ", data, sub + 32)
    max_mapnr, = struct.unpack_from("<Q", data, sub + 96)
    print(f"version={version} machine={machine} release={release} status={status} "
          f"block={block} nr_cpus={nr_cpus} max_mapnr={max_mapnr:#x} mapnr32={mapnr32:#x} "
          f"phys_base={phys_base:#x} dump_level={dump_level} note={off_note}+{size_note} "
          f"vmcoreinfo={off_vmci}+{size_vmci}")
    bitmap_off = (1 + sub_blocks) * block
    bitmap_len = bitmap_blocks * block // 2
    dumpable = data[bitmap_off + bitmap_len:bitmap_off + 2 * bitmap_len]
    desc_off = (1 + sub_blocks + bitmap_blocks) * block

    def bit(pfn):
        return dumpable[pfn // 8] >> (pfn % 8) & 1

    for arg in sys.argv[2:]:
        pa = int(arg, 0)
        pfn = pa // block
        if pfn >= max_mapnr or not bit(pfn):
            print(f"{pa:#x} excluded")
            continue
        index = sum(bin(b).count("1") for b in dumpable[:pfn // 8])
        index += sum(bit(p) for p in range(pfn - pfn % 8, pfn))
        off, size, flags, page_flags = struct.unpack_from("<QIIQ", data, desc_off + 24 * index)
        raw = data[off:off + size]
        if flags & 1:
            page = zlib.decompress(raw)
        elif flags & 2:
            import lzo
            page = lzo.decompress(raw, False, block)
        elif flags & 4:
            import snappy
            page = snappy.uncompress(raw)
        else:
            page = raw
        if len(page) != block:
            sys.exit(f"{pa:#x}: page of {len(page)} bytes")
        print(f"{pa:#x} {flags} {size} {page.hex()}")


main()
