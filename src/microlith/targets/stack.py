"""Static worst-case stack bound of generated code on a Cortex-M core.

The bound is the largest sum of frame sizes along any call path from a root function (say
NAME_invoke). Two sources, both from the real build:
  - GCC's -fcallgraph-info=su files (.ci), one per object we compiled: each function's frame
    as the compiler allocated it (static, or dynamic: a VLA or alloca), and its calls,
    including the library calls the compiler inserted itself (memcpy, __aeabi_lmul, ...) and
    a placeholder node for every indirect call;
  - the linked ELF's disassembly (arm-none-eabi-objdump) for code GCC did not compile here:
    newlib's memcpy/memset, libgcc's division helpers, kernels written in assembly. Their
    frame is the sum of every stack-pointer decrement in the function (push, vpush, stmdb
    sp!, sub sp #imm, pre-indexed stores to sp); summing all of them, not just one path's,
    over-approximates and cannot under-count as long as no decrement sits in a loop without
    its matching increment, which compiled and hand-written leaf code does not do.
An indirect call (GCC's placeholder node) may reach any function whose address the compiled
objects take: a relocation that is not a call or jump against a function, found with objdump
-r, outside debug/unwind tables and outside the vector table (read by the hardware, and the
bound gives up if any code refers to it). That is the usual sound over-approximation: C can
only call through a pointer to a function whose address was taken somewhere. It covers the
firmware being analysed; libraries linked in (newlib, libgcc) take no function addresses on
the paths the generated code uses, which their disassembly would show as an unknown frame.
A function whose frame depends on run-time values, an indirect call with no candidate,
an indirect jump in disassembled code, recursion, or a callee found in neither source makes
the bound unknown, with the reason; the bound is never guessed. One indirect jump is followed:
a routine NAME that enters its own code through a frame slot (LDR PC, [SP, #imm]) and carries
an entry table NAME_tab (int16 byte offsets from NAME's start, read-only data: the convolution
routines' ML_CONV_TAB, whose caller fills the slot from that table) jumps inside itself when
every offset in the table lands inside NAME, so its frame stands; otherwise the bound is unknown.
"""
from __future__ import annotations

import bisect
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..ir import MicrolithError

OBJDUMP = "arm-none-eabi-objdump"
NM = "arm-none-eabi-nm"


@dataclass
class Func:
    name: str
    frame: int | None               # bytes; None when it cannot be bounded
    calls: set[str] = field(default_factory=set)
    why: str | None = None          # the reason frame is None, or that a call cannot be followed
    origin: str = ""                # "gcc -fcallgraph-info" or "disassembly"
    indirect: list[str] = field(default_factory=list)  # what its indirect calls may reach


@dataclass
class StackBound:
    root: str
    bytes: int | None
    path: list[tuple[str, int]]     # the deepest call path: (function, frame bytes), root first
    reason: str | None              # why bytes is None
    indirect: dict[str, list[str]] = field(default_factory=dict)  # reached caller -> what it may call

    def describe(self) -> str:
        if self.bytes is None:
            return f"unknown: {self.reason}"
        return " -> ".join(f"{n} ({b})" for n, b in self.path)


# ---------------------------------------------------------------------------- GCC's call graph files

_NODE = re.compile(r'node:\s*\{\s*title:\s*"([^"]*)"\s*label:\s*"([^"]*)"')
_EDGE = re.compile(r'edge:\s*\{\s*sourcename:\s*"([^"]*)"\s*targetname:\s*"([^"]*)"')
_TITLE = re.compile(r'((?:title|sourcename|targetname):\s*)"([^"]*)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")
INDIRECT = "__indirect_call"


def read_callgraph_info(ci_files) -> tuple[dict[str, Func], set[str]]:
    """Functions defined in the .ci files, and the names called but defined in none of them.
    A function with external linkage keeps its name; a static one, which GCC titles
    'source file:name', becomes 'object:name': a static function defined in a header has one
    copy per object that uses it, each with its own frame."""
    funcs: dict[str, Func] = {}
    called: set[str] = set()
    edges: list[tuple[str, str]] = []
    for ci in ci_files:
        text = Path(ci).read_text(errors="replace")
        obj = Path(ci).stem

        def key(title: str) -> str:
            return f"{obj}:{title.rsplit(':', 1)[1]}" if ":" in title else title

        text = _TITLE.sub(lambda m: m.group(1) + '"' + key(m.group(2)) + '"', text)
        for title, label in _NODE.findall(text):
            m = _FRAME.search(label)
            if m is None:
                continue  # a declaration (callee defined elsewhere) or the indirect-call placeholder
            size, kind = int(m.group(1)), m.group(2)
            # "static": fixed frame; "dynamic,bounded": GCC proved the maximum; "dynamic": a
            # VLA or alloca whose size comes from run-time values.
            frame, why = (None, f"{title} allocates stack at run time (a VLA or alloca: "
                                f"{size} bytes plus a run-time amount)") if kind == "dynamic" else (size, None)
            if title in funcs:
                raise MicrolithError(f"{ci}: function '{title}' is defined in two objects; "
                                     "cannot tell which one a call reaches")
            funcs[title] = Func(title, frame, why=why, origin="gcc -fcallgraph-info")
        edges += _EDGE.findall(text)
    for src, dst in edges:
        if src in funcs:
            funcs[src].calls.add(dst)
            if dst not in funcs:
                called.add(dst)
    return funcs, called


_CALL_RELOCS = {"R_ARM_THM_CALL", "R_ARM_THM_JUMP24", "R_ARM_THM_JUMP19", "R_ARM_THM_JUMP11",
                "R_ARM_THM_JUMP8", "R_ARM_THM_JUMP6", "R_ARM_CALL", "R_ARM_JUMP24", "R_ARM_PC24",
                "R_ARM_THM_PC22", "R_ARM_THM_XPC22", "R_ARM_NONE", "R_ARM_V4BX"}
_TABLES = (".debug", ".ARM.exidx", ".ARM.extab", ".comment", ".note", ".isr_vector")
VECTOR_TABLE = "ml_fw_vectors"


def address_taken(objects, ci: dict[str, Func], objdump: str | None = None) -> set[str]:
    """Functions (as .ci titles when compiled here, else plain names) whose address some
    object takes: every relocation against a function symbol, or against a function's own
    section (-ffunction-sections), that is not a call or jump, in code or data."""
    objdump = objdump or shutil.which(OBJDUMP)
    if objdump is None:
        raise MicrolithError(f"{OBJDUMP} is needed for the stack bound (Arm GNU binutils)")
    by_base: dict[str, list[str]] = {}
    for title in ci:
        by_base.setdefault(title.rsplit(":", 1)[-1], []).append(title)
    taken: set[str] = set()
    for obj in objects:
        res = subprocess.run([objdump, "-t", "-r", str(obj)], capture_output=True, text=True)
        if res.returncode != 0:
            raise MicrolithError(f"{obj}: {OBJDUMP} -r failed: {res.stderr.strip()[:200]}")
        funcs_in: dict[str, str] = {}      # symbol -> function name; section '.text.f' -> 'f'
        section = None
        relocs: list[tuple[str, str, str]] = []
        for line in res.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 6 and " F " in line and parts[-3].startswith("."):
                funcs_in[parts[-1]] = parts[-1]
                funcs_in.setdefault(parts[-3], parts[-1])
            elif line.startswith("RELOCATION RECORDS FOR ["):
                section = line[len("RELOCATION RECORDS FOR ["):].rstrip("]:")
            elif section and len(parts) == 3 and re.fullmatch(r"[0-9a-f]+", parts[0]):
                relocs.append((section, parts[1], parts[2]))
        for section, kind, value in relocs:
            sym = re.split(r"[+-]0x", value)[0]
            if sym == VECTOR_TABLE and not section.startswith(_TABLES):
                raise MicrolithError(f"{obj}: code refers to the vector table, so every exception "
                                     "handler may be called indirectly")
            if kind in _CALL_RELOCS or section.startswith(_TABLES) or sym not in funcs_in:
                continue
            name = funcs_in[sym]
            titles = [t for t in by_base.get(name, []) if t == name or t.endswith(":" + name)]
            # a static function's key names its object: keep the copy compiled into this one
            local = [t for t in titles if t == f"{Path(obj).stem}:{name}"]
            taken.update(local or titles or [name])
    return taken


def resolve_indirect(ci: dict[str, Func], targets: set[str]) -> None:
    """Replace every indirect-call placeholder by the functions it may reach."""
    for f in ci.values():
        if INDIRECT in f.calls and targets:
            f.calls.discard(INDIRECT)
            f.calls |= targets
            f.indirect = sorted(targets)


# ---------------------------------------------------------------------------- the linked ELF

_BLOCK = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
_INSN = re.compile(r"^\s*([0-9a-f]+):\t(\S+)(?:\t(.*))?$")
_TARGET = re.compile(r"^([0-9a-f]+)\s+<")
_BRANCH = re.compile(r"^(b|bl|blx|cbz|cbnz)(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?(\.[nw])?$")
_REGLIST = re.compile(r"\{([^}]*)\}")


def _reg_count(reglist: str) -> tuple[int, int]:
    """(number of registers, bytes each) of '{r4-r7, lr}' or '{d8-d15}'."""
    n, size = 0, 4
    for part in (p.strip() for p in reglist.split(",") if p.strip()):
        if part[0] == "d":
            size = 8
        m = re.fullmatch(r"[rsd](\d+)-[rsd](\d+)", part)
        n += int(m.group(2)) - int(m.group(1)) + 1 if m else 1
    return n, size


def _strip_comment(ops: str) -> str:
    return ops.split("@")[0].split(";")[0].strip()


def _disassembly_frame(name: str, insns: list[tuple[int, str, str]]) -> tuple[int | None, str | None]:
    """Sum of every stack-pointer decrement in one function; None and why when sp moves by
    a run-time amount or is loaded from somewhere."""
    total = 0
    for _addr, mn, ops in insns:
        ops = _strip_comment(ops)
        base = mn.split(".")[0]
        low = ops.replace(" ", "")
        if base in ("push", "vpush") or (base in ("stmdb", "stmfd", "vstmdb") and low.startswith("sp!")):
            m = _REGLIST.search(ops)
            n, size = _reg_count(m.group(1)) if m else (0, 4)
            total += n * size
        elif base.startswith("str") or base.startswith("vstr"):
            m = re.search(r"\[sp,#-(\d+)\]!", low)
            if m:
                total += int(m.group(1))
        elif base in ("pop", "vpop", "ldm", "ldmia", "ldmfd", "vldmia"):
            continue
        elif base in ("stm", "stmia", "stmea") and low.startswith("sp,"):
            continue  # stores into the frame at sp without writeback: sp stays
        elif low.startswith("sp,") or low == "sp":
            m = re.fullmatch(r"sp,(?:sp,)?#(-?\d+)", low)
            if base in ("sub", "subw", "subs") and m and int(m.group(1)) >= 0:
                total += int(m.group(1))
            elif base in ("add", "addw", "adds") and m and int(m.group(1)) >= 0:
                continue  # releases stack
            else:
                return None, f"{name} sets the stack pointer by a run-time amount ('{mn} {ops}')"
        elif base in ("msr",) and ("msp" in low or "psp" in low):
            return None, f"{name} switches stacks ('{mn} {ops}')"
    return total, None


def disassemble(elf: Path, objdump: str | None = None, nm: str | None = None) -> dict[str, Func]:
    """Every function of a linked Thumb ELF, by each of its names (aliases share one Func)."""
    objdump = objdump or shutil.which(OBJDUMP)
    nm = nm or shutil.which(NM)
    if objdump is None or nm is None:
        raise MicrolithError(f"{OBJDUMP} and {NM} are needed for the stack bound (Arm GNU binutils)")
    dis = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    blocks: list[tuple[int, str, list]] = []
    for line in dis.splitlines():
        m = _BLOCK.match(line)
        if m:
            blocks.append((int(m.group(1), 16), m.group(2), []))
            continue
        m = _INSN.match(line)
        if m and blocks and not m.group(2).startswith("."):
            blocks[-1][2].append((int(m.group(1), 16), m.group(2), m.group(3) or ""))
    blocks.sort(key=lambda b: b[0])
    starts = [b[0] for b in blocks]
    syms = subprocess.run([nm, "-S", "--defined-only", str(elf)], capture_output=True, text=True,
                          check=True).stdout
    tables = {}  # NAME_tab -> (address, bytes) of a read-only entry table
    for line in syms.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "Rr" and parts[3].endswith("_tab"):
            tables[parts[3]] = (int(parts[0], 16), int(parts[1], 16))

    def enters_itself(k: int) -> bool:
        """Block k's entry table (if any) lists offsets that all land inside block k."""
        start, name, _ = blocks[k]
        end = blocks[k + 1][0] if k + 1 < len(blocks) else None
        if f"{name}_tab" not in tables or end is None:
            return False
        from .cortexm import elf_bytes  # (cortexm imports this module)
        addr, size = tables[f"{name}_tab"]
        raw = elf_bytes(elf, addr, size)
        offsets = [int.from_bytes(raw[i:i + 2], "little", signed=True) for i in range(0, len(raw) - 1, 2)]
        return len(raw) == size and bool(offsets) and all(0 < o < end - start for o in offsets)

    def block_at(addr: int) -> str | None:
        i = bisect.bisect_right(starts, addr) - 1
        return blocks[i][1] if i >= 0 else None

    funcs: dict[str, Func] = {}
    for k, (start, name, insns) in enumerate(blocks):
        frame, why = _disassembly_frame(name, insns)
        f = Func(name, frame, why=why, origin="disassembly")
        popped = set()
        for _addr, mn, ops in insns:
            base = mn.split(".")[0]
            clean = _strip_comment(ops)
            if base in ("pop", "ldmia", "ldmfd"):
                m = _REGLIST.search(clean)
                popped |= {r.strip() for r in m.group(1).split(",")} if m else set()
            if _BRANCH.match(mn):
                tm = _TARGET.match(clean.split(",")[-1].strip())
                if tm is None:
                    if base == "blx":  # blx rN
                        f.why = f.why or f"{name} makes an indirect call ('{mn} {clean}')"
                        f.frame = None
                    continue
                target = block_at(int(tm.group(1), 16))
                if target is not None and (base in ("bl", "blx") or target != name):
                    f.calls.add(target)  # a call, or a tail jump into another function
            elif base == "bx":
                reg = clean.split()[0] if clean else ""
                if reg != "lr" and reg not in popped:
                    f.frame, f.why = None, f.why or f"{name} jumps to a computed address ('bx {clean}')"
            elif base in ("mov", "ldr") and clean.replace(" ", "").startswith("pc,") \
                    and "[sp]" not in clean and clean.replace(" ", "") != "pc,lr":
                if base == "ldr" and re.fullmatch(r"pc,\[sp,#\d+\]", clean.replace(" ", "")) and enters_itself(k):
                    continue  # into its own unrolled loop, at an offset its table lists
                f.frame, f.why = None, f.why or f"{name} jumps to a computed address ('{mn} {clean}')"
        funcs[name] = f
    # every alias of a block (e.g. __aeabi_idiv and __divsi3) answers with the same record
    by_addr = {start: name for start, name, _ in blocks}
    for line in syms.splitlines():
        parts = line.split()
        if len(parts) == 4:
            parts = [parts[0], parts[2], parts[3]]  # nm -S: address, size, type, name
        if len(parts) == 3 and parts[1] in "TtWw":
            addr = int(parts[0], 16) & ~1
            if addr in by_addr and parts[2] not in funcs:
                funcs[parts[2]] = funcs[by_addr[addr]]
    return funcs


# ---------------------------------------------------------------------------- the bound

def worst_case(root: str, ci: dict[str, Func], elf: dict[str, Func]) -> StackBound:
    """Largest sum of frames over the call paths from `root`."""
    memo: dict[str, tuple[int | None, list, str | None]] = {}
    active: list[str] = []

    def lookup(name: str) -> Func | None:
        return ci.get(name) or elf.get(name)

    def visit(name: str) -> tuple[int | None, list, str | None]:
        if name in memo:
            return memo[name]
        if name in active:
            cycle = active[active.index(name):] + [name]
            return None, [], "recursion: " + " -> ".join(cycle) + " (no bound on its depth)"
        if name == INDIRECT:
            caller = active[-1] if active else root
            return None, [], (f"{caller} makes an indirect call and no compiled object takes the address "
                              "of any function, so its callee is unknown")
        f = lookup(name)
        if f is None:
            caller = f" (called from {active[-1]})" if active else ""
            return None, [], f"{name}{caller} is neither in the compiled objects nor in the linked firmware"
        if f.frame is None:
            return None, [], f.why or f"{name}: frame size unknown"
        active.append(name)
        best, best_path = 0, []
        try:
            for callee in sorted(f.calls):
                b, p, why = visit(callee)
                if b is None:
                    memo[name] = (None, [], why)
                    return memo[name]
                if b > best:
                    best, best_path = b, p
        finally:
            active.pop()
        memo[name] = (f.frame + best, [(name, f.frame)] + best_path, None)
        return memo[name]

    total, path, why = visit(root)
    indirect = {n: f.indirect for n in memo if (f := lookup(n)) is not None and f.indirect}
    return StackBound(root, total, path, why, indirect)


def bound_for_build(ci_files, elf: Path, roots, objects=None) -> dict[str, StackBound]:
    """One StackBound per root name, from one build's .ci files, its objects (default: each
    .ci's .o) and its linked ELF."""
    ci_files = [Path(c) for c in ci_files]
    ci, _ = read_callgraph_info(ci_files)
    if any(INDIRECT in f.calls for f in ci.values()):
        objects = [Path(o) for o in objects] if objects is not None else [c.with_suffix(".o") for c in ci_files]
        resolve_indirect(ci, address_taken(objects, ci))
    funcs = disassemble(elf)
    return {r: worst_case(r, ci, funcs) for r in roots}
