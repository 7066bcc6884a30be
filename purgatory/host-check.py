#!/usr/bin/env python3
"""Runs the built purgatory object's verifier in a host process.

Loads target/purgatory/purgatory.o the way the kexos kernel does (ET_REL:
SHF_ALLOC sections packed at their alignment, PROGBITS first, NOBITS after;
RELA relocations of the six accepted types, overflow-checked), at a fixed
address ABOVE 2 GiB, patches the contract symbols, and calls
`purgatory_main` directly (purgatory_start itself needs ring 0: lgdt, lretq).
With purgatory_serial_port = 0 the verifier does no port I/O, so it runs in
user space; on a refusal it executes `cli`, which kills the process with
SIGSEGV: that is how a refusal is observed here.

Checks: good digest -> returns; skip flag with a wrong digest -> returns;
a flipped byte -> refuses; per-region mode (flags bit 1, wrong total) ->
returns, and refuses after a flipped byte; and it times the SHA-256 of the exact object
code (soft backend) over a large region.

Usage: purgatory/host-check.py [OBJECT] [--bench-mib N]
"""
import ctypes
import hashlib
import os
import struct
import subprocess
import sys
import time

LOAD_ADDR = 0x9000_0000   # above 2 GiB: catches any 32-bit absolute relocation
DATA_ADDR = 0xA000_0000   # the "physical" regions to hash
PAGE = 4096

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
PROT_RWX = 7
MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE = 0x02, 0x20, 0x100000

SHT_NOBITS, SHT_RELA, SHT_SYMTAB = 8, 4, 2
SHF_ALLOC = 2
R_NONE, R_64, R_PC32, R_32, R_32S, R_PLT32 = 0, 1, 2, 10, 11, 4


def mmap_fixed(addr, size):
    got = libc.mmap(addr, size, PROT_RWX, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
    if got != addr:
        raise OSError(ctypes.get_errno(), f"mmap at {addr:#x} failed")


class Rel:
    def __init__(self, data):
        self.data = data
        (ident, self.type, self.machine, _, self.entry, _, shoff, _, _, _, _, shentsize, shnum,
         shstrndx) = struct.unpack_from("<16sHHIQQQIHHHHHH", data)
        assert ident[:4] == b"\x7fELF" and self.type == 1 and self.machine == 62
        self.sh = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                   for i in range(shnum)]
        names = self.sh[shstrndx]
        self.names = [self.cstr(names[4] + s[0]) for s in self.sh]
        symtab = next(i for i, s in enumerate(self.sh) if s[1] == SHT_SYMTAB)
        st = self.sh[symtab]
        strtab = self.sh[st[6]]
        self.syms = []
        for off in range(st[4], st[4] + st[5], 24):
            name, info, _, shndx, value, size = struct.unpack_from("<IBBHQQ", data, off)
            self.syms.append((self.cstr(strtab[4] + name), info, shndx, value, size))

    def cstr(self, off):
        return self.data[off:self.data.index(b"\0", off)].decode()


def load(obj):
    """Places and relocates the object at LOAD_ADDR; returns {symbol: address}."""
    alloc = [i for i, s in enumerate(obj.sh) if s[2] & SHF_ALLOC and s[5]]
    order = [i for i in alloc if obj.sh[i][1] != SHT_NOBITS] + \
            [i for i in alloc if obj.sh[i][1] == SHT_NOBITS]
    addr, off = {}, 0
    for i in order:
        align = max(obj.sh[i][8], 1)
        off = (off + align - 1) // align * align
        addr[i] = LOAD_ADDR + off
        off += obj.sh[i][5]
    mmap_fixed(LOAD_ADDR, (off + PAGE - 1) // PAGE * PAGE)
    for i in order:
        if obj.sh[i][1] != SHT_NOBITS:
            ctypes.memmove(addr[i], obj.data[obj.sh[i][4]:obj.sh[i][4] + obj.sh[i][5]], obj.sh[i][5])
    sym_addr = lambda s: addr[s[2]] + s[3]
    counts = {}
    for rs in obj.sh:
        if rs[1] != SHT_RELA or rs[7] not in addr:
            continue
        base = addr[rs[7]]
        for off in range(rs[4], rs[4] + rs[5], 24):
            r_off, info, addend = struct.unpack_from("<QQq", obj.data, off)
            sym, typ = obj.syms[info >> 32], info & 0xffffffff
            assert sym[2] != 0, f"undefined symbol {sym[0]}"
            s, p = sym_addr(sym), base + r_off
            counts[typ] = counts.get(typ, 0) + 1
            if typ == R_NONE:
                continue
            if typ == R_64:
                ctypes.c_uint64.from_address(p).value = (s + addend) & (2**64 - 1)
            elif typ in (R_PC32, R_PLT32):
                v = s + addend - p
                assert -2**31 <= v < 2**31, "PC32 overflow"
                ctypes.c_int32.from_address(p).value = v
            elif typ == R_32:
                v = s + addend
                assert 0 <= v < 2**32, f"R_X86_64_32 overflow at {p:#x}"
                ctypes.c_uint32.from_address(p).value = v
            elif typ == R_32S:
                v = s + addend
                assert -2**31 <= v < 2**31, f"R_X86_64_32S overflow at {p:#x} (value {v:#x})"
                ctypes.c_int32.from_address(p).value = v
            else:
                raise AssertionError(f"relocation type {typ} rejected")
    syms = {s[0]: (sym_addr(s), s[4]) for s in obj.syms if s[1] >> 4 == 1 and s[2] in addr}
    return syms, counts


def patch(syms, name, data):
    at, size = syms[name]
    assert size == len(data), f"{name}: st_size {size} != {len(data)}"
    ctypes.memmove(at, data, size)


def run(obj_path, mode, mib):
    obj = Rel(open(obj_path, "rb").read())
    syms, _ = load(obj)
    sizes = [0x1234, 3 * PAGE + 17, mib << 20]
    total = sum(sizes) + PAGE * len(sizes)
    mmap_fixed(DATA_ADDR, (total + PAGE - 1) // PAGE * PAGE)
    regions, digests, blob, at = [], [], hashlib.sha256(), DATA_ADDR
    seed = os.urandom(4096)
    for n in sizes:
        chunk = (seed * (n // len(seed) + 1))[:n]
        ctypes.memmove(at, chunk, n)
        regions.append((at, n))
        blob.update(chunk)
        digests.append(hashlib.sha256(chunk).digest())
        at += (n + PAGE - 1) // PAGE * PAGE
    table = b"".join(struct.pack("<QQ", a, n) for a, n in regions).ljust(256, b"\0")
    patch(syms, "purgatory_sha_regions", table)
    # skip and per-region modes must not look at the total digest: make it wrong.
    patch(syms, "purgatory_sha256_digest", blob.digest() if mode in ("good", "corrupt") else b"\x55" * 32)
    patch(syms, "purgatory_region_digests", b"".join(digests).ljust(512, b"\0"))
    patch(syms, "entry64_regs", struct.pack("<17Q", *range(17)))
    patch(syms, "purgatory_serial_port", struct.pack("<H", 0))
    flags = {"skip": 1, "per-region": 2, "per-region-corrupt": 2}.get(mode, 0)
    patch(syms, "purgatory_flags", struct.pack("<Q", flags))
    if mode.endswith("corrupt"):
        b = ctypes.c_uint8.from_address(regions[1][0] + 100)
        b.value ^= 0x40
    main = ctypes.CFUNCTYPE(None)(syms["purgatory_main"][0])
    t0 = time.perf_counter_ns()
    main()
    dt = time.perf_counter_ns() - t0
    print(f"returned {dt} {sum(sizes)}")


def cpu_mhz():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    except OSError:
        pass
    return None


def main():
    args = sys.argv[1:]
    if args and args[0] == "--child":
        run(args[1], args[2], int(args[3]))
        return
    mib = 64
    if "--bench-mib" in args:
        i = args.index("--bench-mib")
        mib = int(args[i + 1])
        del args[i:i + 2]
    here = os.path.dirname(os.path.abspath(__file__))
    obj_path = args[0] if args else os.path.join(here, "..", "target", "purgatory", "purgatory.o")

    failed = 0

    def child(mode, n):
        return subprocess.run([sys.executable, __file__, "--child", obj_path, mode, str(n)],
                              capture_output=True, text=True)

    modes = (("good", True), ("skip", True), ("corrupt", False),
             ("per-region", True), ("per-region-corrupt", False))
    for mode, want_return in modes:
        r = child(mode, 1)
        returned = r.returncode == 0 and r.stdout.startswith("returned")
        ok = returned == want_return and (want_return or r.returncode == -11)
        failed += not ok
        print(f"host-check: {mode:18} -> {'returned' if returned else f'refused (exit {r.returncode})'}"
              f" {'ok' if ok else 'FAILED ' + r.stderr[-500:]}")
    r = child("good", mib)
    if r.returncode == 0:
        _, ns, nbytes = r.stdout.split()
        ns, nbytes = int(ns), int(nbytes)
        mhz = cpu_mhz()
        cpb = f", ~{ns * mhz / 1000 / nbytes:.1f} cycles/byte at {mhz:.0f} MHz" if mhz else ""
        print(f"host-check: {'bench':18} -> {nbytes / 2**20:.1f} MiB in {ns / 1e6:.1f} ms"
              f" = {nbytes / 2**20 / (ns / 1e9):.0f} MiB/s{cpb}")
    else:
        failed += 1
        print(f"host-check: bench FAILED {r.returncode} {r.stderr[-500:]}")
    print(f"host-check: {len(modes) + 1 - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
