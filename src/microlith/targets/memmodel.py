"""A board's flash timing for the cycle estimate: wait states and the cache or accelerator in
front of flash, read from the board file's "memory_system" block.

QEMU runs every access in zero time, so targets/cycles.py prices instructions as if all memory
answered at once. On a real part, flash needs wait states at the clock used (STM32L4R5: 5 at
120 MHz), and a small cache or accelerator hides most of them. The QEMU plugin
(qemu_plugin/ml_memtrace.c, built here with the host C compiler) sees every instruction fetch
and data load of the measured run and passes the flash ones through a model of that cache:
LRU, the documented capacity and line size, a miss reading one flash word (the "sector") and
costing the wait states. SRAM is taken as zero-wait. The model is approximate: associativity
is taken as documented or else fully associative, bus contention and the core's own fetch
buffer are not modelled, and a miss costs exactly the wait states however it overlaps with
the pipeline.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..ir import MicrolithError

PLUGIN_SOURCE = Path(__file__).resolve().parent / "qemu_plugin" / "ml_memtrace.c"
HOST_CC = ("cc", "gcc", "clang")


def _fig(x):
    return x.get("value") if isinstance(x, dict) else x


@dataclass(frozen=True)
class CacheGeometry:
    line_bytes: int
    sets: int
    ways: int
    sector_bytes: int      # one flash read fills this much of a line

    @property
    def bytes(self) -> int:
        return self.line_bytes * self.sets * self.ways

    def arg(self) -> str:
        return f"{self.line_bytes}:{self.sets}:{self.ways}:{self.sector_bytes}"

    def text(self) -> str:
        assoc = "fully associative" if self.sets == 1 else f"{self.ways}-way"
        return (f"{self.bytes} B, {self.sets * self.ways} lines of {self.line_bytes} B, {assoc}, "
                f"filled {self.sector_bytes} B per flash read")


@dataclass(frozen=True)
class MemorySystem:
    board: str
    wait_states: int
    icache: CacheGeometry | None   # instruction fetches from flash
    dcache: CacheGeometry | None   # data loads from flash
    unified: bool                  # one cache for both (fetches go to dcache)
    prefetch: bool                 # sequential fetch overlaps the previous flash word
    description: str               # what the part has, for the basis text
    fetch_bytes: int = 8           # one flash read when no cache says otherwise
    validation: str = ""           # how this board's estimates compared with published real-board runs
    validation_short: str = ""     # the same in a few words, for the terminal
    stall_unit: str = "wait states"  # what wait_states counts, as the board file names it (a miss's cycles)

    def plugin_args(self) -> list[str]:
        args = [f"ws={self.wait_states}", f"prefetch={int(self.prefetch)}", f"unified={int(self.unified)}",
                f"fetch={self.fetch_bytes}"]
        if self.icache is not None:
            args.append(f"icache={self.icache.arg()}")
        if self.dcache is not None:
            args.append(f"dcache={self.dcache.arg()}")
        return args

    def basis(self) -> str:
        parts = [f"{self.board} flash {self.wait_states} {self.stall_unit}"]
        if self.unified and self.dcache is not None:
            parts.append(f"one cache for fetches and flash data ({self.dcache.text()})")
        else:
            parts.append("instruction fetches " + (f"through a cache ({self.icache.text()})" if self.icache
                                                   else "uncached"))
            parts.append("flash data loads " + (f"through a cache ({self.dcache.text()})" if self.dcache
                                                else "uncached"))
        parts.append("prefetch of the next flash word " + ("on" if self.prefetch else "off"))
        stall = "the wait states" if self.stall_unit == "wait states" else "those cycles"
        text = (", ".join(parts) + f" [{self.description}]; each miss stalls for {stall}, SRAM is "
                "zero-wait, LRU replacement; approximate: bus contention and the core's fetch buffer are "
                "not modelled")
        return text + (f"; known error: {self.validation}" if self.validation else "")

    def summary(self) -> str:
        """basis() in a few words, for the terminal."""
        known = f", known error {self.validation_short}" if self.validation_short else ", not checked against a board"
        return f"with the {self.board} flash model ({self.wait_states} {self.stall_unit}){known}"


def _geometry(block) -> CacheGeometry | None:
    g = _fig(block)
    if not g:
        return None
    return CacheGeometry(int(g["line_bytes"]), int(g["sets"]), int(g["ways"]), int(g["sector_bytes"]))


def memory_system(board: dict | None) -> MemorySystem | None:
    """The board's flash model, or None when its file gives no memory_system block."""
    if not board or not board.get("memory_system"):
        return None
    m = board["memory_system"]
    ws = _fig(m["flash_wait_states"])
    if ws is None:
        return None
    unit = m["flash_wait_states"].get("unit", "wait states") if isinstance(m["flash_wait_states"], dict) \
        else "wait states"
    return MemorySystem(board["name"], int(ws), _geometry(m.get("instruction_cache")),
                        _geometry(m.get("data_cache")), bool(_fig(m.get("unified_cache", False))),
                        bool(_fig(m.get("prefetch", False))), m.get("summary", ""),
                        validation=(m.get("validation") or {}).get("summary", ""),
                        validation_short=(m.get("validation") or {}).get("short", ""), stall_unit=unit)


# The smallest way of a flash data cache worth chunking the Cortex-M0/M3 convolution's channels
# for: a chunk must hold at least one channel pair's filter rows (2 K bytes), and the STM32 ART's
# 128-256 B data caches hold none of the MLPerf Tiny models' (K = 27 to 576).
FILTER_CACHE_MIN_BYTES = 4096
_M0_PATH_CORES = ("cortex-m0", "cortex-m3")   # the cores that run the ARMv6-M routines (ML_M0_PATHS)


def filter_cache_bytes(target: str | None) -> tuple[int, int] | None:
    """`compile --target BOARD`: (one way, the whole) of the cache through which the board reads
    flash data, in bytes, when the board's core runs the Cortex-M0/M3 convolution
    (ML_CONV_M0_FILTER_CACHE: a filter larger than 3/4 of the cache goes in channel chunks whose
    rows fit one way, so that the pixel loop finds them cached; one way, so that a chunk's rows,
    read in address order, never evict one another and leave the other way to the code). None for
    a core or the host (code for any board with that core), a board without such a cache, or one
    too small (FILTER_CACHE_MIN_BYTES)."""
    from . import get_target
    if target in (None, "host"):
        return None
    t = get_target(target)
    if t["kind"] != "board" or t.get("core") not in _M0_PATH_CORES:
        return None
    mem = memory_system(t)
    cache = mem.dcache if mem is not None else None
    if cache is None or cache.bytes // cache.ways < FILTER_CACHE_MIN_BYTES:
        return None
    return cache.bytes // cache.ways, cache.bytes


# ---------------------------------------------------------------------------- the plugin

def _cache_root() -> Path:
    if os.environ.get("MICROLITH_CACHE"):
        return Path(os.environ["MICROLITH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "microlith"


def host_cc() -> str | None:
    return next((c for c in HOST_CC if shutil.which(c)), None)


def plugin_path() -> Path:
    """The memory-trace plugin, compiled once per source version into the cache folder."""
    cc = host_cc()
    if cc is None:
        raise MicrolithError("no host C compiler (cc, gcc or clang) to build the QEMU memory-trace plugin")
    src = PLUGIN_SOURCE.read_bytes()
    digest = hashlib.sha256(src + cc.encode()).hexdigest()[:16]
    for root in (_cache_root(), Path(tempfile.gettempdir()) / f"microlith-{os.getuid()}"):
        out = root / "qemu-plugins" / f"ml_memtrace-{digest}.so"
        if out.exists():
            return out
        try:
            return _build(cc, out)
        except OSError:
            continue   # a read-only cache folder: try the next
    raise MicrolithError("no writable folder to build the QEMU memory-trace plugin in")


def _build(cc: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        tmp_so = Path(tmp) / out.name
        res = subprocess.run([cc, "-O2", "-std=c99", "-shared", "-fPIC", "-fvisibility=hidden", "-o", str(tmp_so),
                              str(PLUGIN_SOURCE)], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise MicrolithError(f"building the QEMU memory-trace plugin failed: {res.stderr.strip()[:400]}")
        os.replace(tmp_so, out)   # atomic: concurrent builds leave one complete file
    return out
