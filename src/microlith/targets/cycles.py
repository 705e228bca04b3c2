"""Cycle estimates from the executed instruction stream of an emulated Cortex-M core.

QEMU counts instructions, not cycles: it models no pipeline and no memory timing. This module
captures the exact instruction stream of one inference and prices each instruction with the
timings the core's Technical Reference Manual (TRM) documents, so that a latency figure is a
cycle estimate with a stated basis instead of instructions x a guessed CPI.

Capture (exact), two routes that price the same stream identically (tests/test_cycles.py):
  - a TCG plugin (qemu_plugin/ml_memtrace.c, built by memmodel.plugin_path with the host C
    compiler) counts each translated block's executions and its successor edges, and each
    instruction's data loads by region, for the stretch from the first block of NAME_invoke to
    the next block of the harness's ml_fw_run; the output is one line per block and edge, so
    it stays small and fast however long the run. It also runs the board's flash model
    (memmodel.py). Used whenever a host C compiler exists.
  - QEMU's `-d in_asm,exec,nochain` log: every translated block's instructions once and
    every block execution; blocks x executions give the stream. A logged block that QEMU then
    stops before its first instruction ("Stopped execution of TB chain") did not run, and one
    rewound at an I/O access ran only up to it. No memory model on this route.
The instruction count of that stretch agrees with the -icount timer measurement of the same
firmware (exactly on M4 and M33, 1 fewer on M3 and M7, 10 fewer on M0's SysTick: the timer
method's few instructions around its reads), so the stream priced is the one that was measured.

Pricing (an estimate; what each core's table models and omits is in its `basis`):
  - per-class issue cycles from the TRM's instruction timing table: single loads and stores,
    multiple loads and stores (1+N), multiplies (single cycle or multi-cycle), divides
    (data-dependent, priced at the middle of the documented range), VFP;
  - pipelined neighbouring loads and stores on ARMv7-M (the TRM's "N+1 for N
    neighbouring loads"), the load-use stall where the next instruction uses a loaded
    register as an address;
  - branches: taken or not decided from the next executed block, taken ones pay the
    pipeline refill P; writes to the PC (POP {..pc}, BX) likewise;
  - Cortex-M7: dual issue approximated by pairing neighbouring simple instructions that
    do not depend on each other.
`cycles` assumes zero-wait-state memory. With a board memory model (plugin route, a board file
with a memory_system block), `memory_cycles` adds the flash stalls: wait states on each
instruction fetch and flash data load that misses the board's cache or accelerator
(memmodel.py; approximate). Not modelled either way: bus contention, interrupts, SRAM waits.
"""
from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..ir import MicrolithError

# --------------------------------------------------------------------------- timing tables

@dataclass(frozen=True)
class CoreTiming:
    name: str
    load: int              # single LDR/STR (not pipelined)
    pipelined_mem: bool    # ARMv7-M: a load/store right after another costs 1
    load_use_addr: int     # extra when the next instruction uses a just-loaded register as an address
    mem_multiple_base: int  # LDM/STM/PUSH/POP: base + N
    branch_taken: int      # total cycles of a taken branch (1 + P)
    branch_link: int       # BL (always taken)
    mul: int               # MUL/MULS (32-bit result)
    mla: int               # multiply-accumulate, dual 16-bit (SMLAD) where the core has it
    long_mul: int          # UMULL/SMULL/UMLAL/SMLAL
    div: int               # SDIV/UDIV, the middle of the documented data-dependent range
    dual_issue: bool = False
    basis: str = ""


_V7M = ("ARMv7-M timings: single load/store 2 cycles, N+1 for N neighbouring loads/stores "
        "(pipelined), +1 when a loaded register is the next instruction's address, LDM/STM/PUSH/POP "
        "1+N, taken branch 1+P with P=2 (the TRM gives P=1..3 by target alignment and width), "
        "LDR PC 2+P, TBB/TBH 3+P, ")

TIMINGS = {
    "cortex-m0": CoreTiming(
        "cortex-m0", load=2, pipelined_mem=False, load_use_addr=0, mem_multiple_base=1, branch_taken=3,
        branch_link=4, mul=1, mla=1, long_mul=1, div=1,
        basis="Cortex-M0 TRM (Arm DDI 0432C) table 3-1: loads/stores 2, LDM/STM/PUSH/POP 1+N, POP {pc} "
              "3+N, taken branch 3, BL 4, BX/BLX 3, MULS 1 (the single-cycle multiplier option; parts "
              "built with the small multiplier take 32)"),
    # Boards whose core is a Cortex-M0+ (their file's "timing"; the code is the same ARMv6-M, run
    # on the emulated Cortex-M0): the two-stage pipeline refills in one cycle where the M0's
    # three-stage one takes two.
    "cortex-m0plus": CoreTiming(
        "cortex-m0plus", load=2, pipelined_mem=False, load_use_addr=0, mem_multiple_base=1, branch_taken=2,
        branch_link=3, mul=1, mla=1, long_mul=1, div=1,
        basis="Cortex-M0+ TRM (Arm DDI 0484C) section 3.3, instruction timings (as NXP's LPC800 user "
              "manual reprints the table, e.g. MOV/ADD to PC 2): loads/stores 2, LDM/STM/PUSH/POP 1+N, "
              "POP {pc} 3+N, taken branch 2, BL 3, BX/BLX 2, MULS 1 (the single-cycle multiplier option, "
              "which the RP2040 has); the branch, BL and POP {pc} figures are recalled from the TRM, "
              "not checked against a copy of it"),
    "cortex-m3": CoreTiming(
        "cortex-m3", load=2, pipelined_mem=True, load_use_addr=1, mem_multiple_base=1, branch_taken=3,
        branch_link=3, mul=1, mla=2, long_mul=4, div=7,
        basis="Cortex-M3 TRM (Arm DDI 0337H) table 18-1. " + _V7M
              + "MUL 1, MLA/MLS 2, long multiplies 3-5 (priced 4), SDIV/UDIV 2-12 (priced 7)"),
    "cortex-m4": CoreTiming(
        "cortex-m4", load=2, pipelined_mem=True, load_use_addr=1, mem_multiple_base=1, branch_taken=3,
        branch_link=3, mul=1, mla=1, long_mul=1, div=7,
        basis="Cortex-M4 TRM (Arm DDI 0439B) table 3-1. " + _V7M
              + "MUL/MLA/SMLAD and long multiplies 1, SDIV/UDIV 2-12 (priced 7), VFP loads 2, VMLA 3, "
                "VDIV/VSQRT 14"),
    "cortex-m33": CoreTiming(
        "cortex-m33", load=2, pipelined_mem=True, load_use_addr=1, mem_multiple_base=1, branch_taken=3,
        branch_link=3, mul=1, mla=1, long_mul=1, div=7,
        basis="Cortex-M33 (ARMv8-M Mainline, 3-stage pipeline like Cortex-M4; Arm DDI 0594 gives no "
              "per-instruction table, so the Cortex-M4 table is used). " + _V7M
              + "multiplies 1, SDIV/UDIV 2-12 (priced 7)"),
    "cortex-m7": CoreTiming(
        "cortex-m7", load=1, pipelined_mem=False, load_use_addr=1, mem_multiple_base=1, branch_taken=2,
        branch_link=2, mul=1, mla=1, long_mul=1, div=7, dual_issue=True,
        basis="Cortex-M7 (6-stage superscalar; Arm publishes no cycle table): loads 1 (TCM or cache "
              "hit), taken branch 1+1 (branch target address cache hit assumed), multiplies 1, "
              "SDIV/UDIV priced 7; two neighbouring independent simple instructions (ALU, at most one "
              "load/store, no branch) issue together. A coarse approximation"),
}

# --------------------------------------------------------------------------- classification

_REG = re.compile(r"\b(r\d+|sb|sl|fp|ip|sp|lr|pc)\b")
_COND = ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al")


# Mnemonics whose class matters, as they appear with an IT block's condition appended
# ('sdivlt', 'popeq', 'bxne'); any other conditional form is priced as ALU either way.
_CONDITIONABLE = frozenset((
    "bx", "blx", "bl", "push", "pop", "ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "ldr", "ldrb", "ldrh",
    "ldrsb", "ldrsh", "ldrd", "str", "strb", "strh", "strd", "sdiv", "udiv", "mul", "mla", "mls", "umull",
    "smull", "umlal", "smlal", "vldr", "vstr", "vpush", "vpop", "vldm", "vstm", "vmla", "vmls", "vdiv", "vsqrt"))


def _base(mnemonic: str) -> str:
    """'ldrb.w' -> 'ldrb', 'bne' -> 'b' (conditional), 'sdivlt' -> 'sdiv' (inside an IT block).
    QEMU's block log disassembles with the IT state (conditions shown), the plugin instruction
    by instruction (none): both give the same class this way."""
    m = mnemonic.split(".")[0]
    if m.startswith("b") and len(m) == 3 and m[1:] in _COND:
        return "bcc"
    if len(m) > 2 and m[-2:] in _COND and m[:-2] in _CONDITIONABLE:
        return m[:-2]
    return m


def _regs(text: str) -> list[str]:
    return _REG.findall(text)


@dataclass
class Insn:
    addr: int
    size: int
    kind: str          # alu, load, store, mem_multi, branch, branch_link, pc_write, mul, mla, long_mul, div, vfp...
    cycles: int        # issue cycles before inter-instruction effects
    dest: tuple = ()   # registers written (for the load-use check)
    addr_regs: tuple = ()  # registers used to form a memory address


def classify(addr: int, size: int, mnemonic: str, ops: str, t: CoreTiming) -> Insn:
    m = _base(mnemonic)
    regs = _regs(ops)
    bracket = ops[ops.find("["):] if "[" in ops else ""
    addr_regs = tuple(_regs(bracket))
    first = regs[:1]
    if m in ("b", "bcc", "cbz", "cbnz"):
        return Insn(addr, size, "branch", 1)
    if m in ("tbb", "tbh"):
        # a load of the table entry, an add and the refill (Cortex-M3/M4 TRM: "at least two
        # cycles for the load, one cycle for the add, and three cycles for the pipeline reload");
        # the refill is priced like any taken branch's P (pc_write adds branch_taken - 1)
        return Insn(addr, size, "pc_write", t.load + 1)
    if m in ("bl", "blx"):
        return Insn(addr, size, "branch_link", t.branch_link)
    if m == "bx":
        return Insn(addr, size, "pc_write", 1)
    if m in ("push", "pop", "ldm", "ldmia", "ldmfd", "ldmdb", "stm", "stmia", "stmea", "stmdb", "stmfd"):
        n = max(1, len(regs) - (0 if m in ("push", "pop") else 1))
        if "-" in ops:  # a register range r4-r7
            lo, hi = re.findall(r"r(\d+)\s*-\s*r(\d+)", ops)[0] if re.findall(r"r(\d+)\s*-\s*r(\d+)", ops) else (0, 0)
            n += int(hi) - int(lo)
        kind = "pc_write" if "pc" in regs[(0 if m in ("push", "pop") else 1):] and m.startswith(("pop", "ldm")) \
            else "mem_multi"
        dest = tuple(regs) if m.startswith(("pop", "ldm")) else ()
        return Insn(addr, size, kind, t.mem_multiple_base + n, dest)
    if m in ("vpush", "vpop", "vldm", "vstm", "vldmia", "vstmia", "vldmdb", "vstmdb"):
        n = max(1, len(re.findall(r"\b[sd]\d+\b", ops)))
        return Insn(addr, size, "mem_multi", 1 + n)
    if m in ("ldrd", "strd"):
        return Insn(addr, size, "mem_multi", 3, tuple(regs[:2]) if m == "ldrd" else (), addr_regs)
    if m.startswith("ldr") or m.startswith("ldrex"):
        kind = "pc_write" if first == ["pc"] else "load"
        return Insn(addr, size, kind, t.load, tuple(first), addr_regs)
    if m.startswith("str"):
        return Insn(addr, size, "store", t.load, (), addr_regs)
    if m in ("vldr", "vstr"):
        return Insn(addr, size, "load" if m == "vldr" else "store", 2 if t.name != "cortex-m7" else 1, (),
                    addr_regs)
    if m in ("sdiv", "udiv"):
        return Insn(addr, size, "div", t.div, tuple(first))
    if m in ("umull", "smull", "umlal", "smlal", "smlald", "smlsld", "smlalbb", "smlalbt", "smlaltb",
             "smlaltt", "umaal"):
        return Insn(addr, size, "mul", t.long_mul, tuple(regs[:2]))
    if m in ("mla", "mls") or m.startswith(("smla", "smlsd", "smmla", "smmls", "usada")):
        return Insn(addr, size, "mul", t.mla, tuple(first))
    if m in ("mul", "muls") or m.startswith(("smul", "smuad", "smusd", "smmul")):
        return Insn(addr, size, "mul", t.mul, tuple(first))
    if m in ("vdiv", "vsqrt"):
        return Insn(addr, size, "vfp", 14)
    if m in ("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms"):
        return Insn(addr, size, "vfp", 3)
    if m.startswith("v"):
        return Insn(addr, size, "vfp", 1)
    if first == ["pc"] and m in ("mov", "add"):
        return Insn(addr, size, "pc_write", 1)
    return Insn(addr, size, "alu", 1, tuple(first))


# --------------------------------------------------------------------------- pricing a block

@dataclass
class Block:
    pc: int
    end: int                        # address after the last instruction (the fall-through)
    insns: list[Insn]
    symbol: str
    cycles: int = 0                 # issue cycles inside the block, inter-instruction effects included
    first_mem: bool = False
    last_mem: bool = False
    last_dest: tuple = ()
    first_addr_regs: tuple = ()
    tail: str = "alu"               # kind of the last instruction


_MEM = ("load", "store")


def price(insns: list[Insn], t: CoreTiming) -> int:
    cycles = 0
    prev: Insn | None = None
    paired = False
    for ins in insns:
        c = ins.cycles
        if prev is not None:
            if t.pipelined_mem and ins.kind in _MEM and prev.kind in _MEM:
                c -= 1
            if prev.kind == "load" and set(prev.dest) & set(ins.addr_regs):
                c += t.load_use_addr
            if t.dual_issue and not paired and _pairs(prev, ins):
                c -= 1
                paired = True
            else:
                paired = False
        cycles += c
        prev = ins
    return cycles


_SIMPLE = ("alu", "load", "store", "mul")


def _pairs(a: Insn, b: Insn) -> bool:
    """Cortex-M7 approximation: two simple instructions, at most one memory access and one
    multiply, and the second does not read what the first writes."""
    if a.kind not in _SIMPLE or b.kind not in _SIMPLE:
        return False
    if (a.kind in _MEM) and (b.kind in _MEM):
        return False
    if a.kind == "mul" and b.kind == "mul":
        return False
    return not (set(a.dest) & (set(b.addr_regs) | set(b.dest)))


def make_block(pc: int, insns: list[Insn], symbol: str, t: CoreTiming) -> Block:
    b = Block(pc, insns[-1].addr + insns[-1].size if insns else pc, insns, symbol)
    b.cycles = price(insns, t)
    if insns:
        b.first_mem, b.last_mem = insns[0].kind in _MEM, insns[-1].kind in _MEM
        b.last_dest, b.first_addr_regs = insns[-1].dest if insns[-1].kind == "load" else (), insns[0].addr_regs
        b.tail = insns[-1].kind
    return b


# --------------------------------------------------------------------------- the QEMU log

_INSN = re.compile(r"^0x([0-9a-f]+):\s+((?:[0-9a-f]{4} )?[0-9a-f]{4})\s{2,}(\S+)\s*(.*)$")
_TRACE = re.compile(r"^Trace \d+: (0x[0-9a-f]+) \[[0-9a-f]+/([0-9a-f]+)/[0-9a-f]+/[0-9a-f]+\] ?(.*)$")
_REWIND = re.compile(r"^cpu_io_recompile: rewound execution of TB to ([0-9a-f]+)")


@dataclass
class CycleEstimate:
    core: str
    instructions: int
    cycles: int
    blocks: int
    by_function: dict = field(default_factory=dict)   # symbol -> [instructions, cycles]
    basis: str = ""
    # with a board memory model (the plugin route): stall cycles on top of `cycles`
    memory_cycles: int | None = None
    memory_by_function: dict = field(default_factory=dict)   # symbol -> stall cycles
    memory_counts: dict = field(default_factory=dict)        # fetches, misses, loads by region
    memory_basis: str = ""
    memory_summary: str = ""                                 # memory_basis in a few words
    source: str = "log"                                      # "plugin" or "log"
    phases: list = field(default_factory=list)               # PhaseCycles per marked stretch (plugin)


def estimate_from_log(lines, t: CoreTiming, start_symbol: str, stop_symbol: str) -> CycleEstimate:
    """Price the stretch of a QEMU in_asm,exec,nochain log from the first block of start_symbol
    to the next block of stop_symbol."""
    # One guest pc can have several translations at once (icount splits a block where the
    # instruction budget runs out): a translation is known by its host code address, and is
    # the one executed right after QEMU lists it.
    fresh: dict[int, Block] = {}
    by_host: dict[str, Block] = {}
    collecting: list | None = None
    sym = ""
    pending: Block | None = None   # executed, waiting for the next pc to settle its branch
    pending_n = 0                  # how many of its instructions ran (a rewind cuts it short)
    active = done = False
    total_i = total_c = n_blocks = 0
    by_fn: dict[str, list[int]] = {}

    def settle(b: Block, n: int, next_pc: int | None, prev_tail: tuple) -> None:
        nonlocal total_i, total_c, n_blocks
        insns = b.insns if n == len(b.insns) else b.insns[:n]
        c = b.cycles if n == len(b.insns) else price(insns, t)
        if not insns:
            return
        # effects across the block boundary
        prev_mem, prev_dest = prev_tail
        if t.pipelined_mem and prev_mem and insns[0].kind in _MEM:
            c -= 1
        if prev_dest and set(prev_dest) & set(insns[0].addr_regs):
            c += t.load_use_addr
        last = insns[-1]
        if n == len(b.insns) and next_pc is not None:
            taken = next_pc != b.end
            if last.kind == "branch" and taken:
                c += t.branch_taken - 1
            elif last.kind == "pc_write":
                c += t.branch_taken - 1
        total_i += len(insns)
        total_c += c
        n_blocks += 1
        f = by_fn.setdefault(b.symbol, [0, 0])
        f[0] += len(insns)
        f[1] += c

    tail = (False, ())
    for line in lines:
        if collecting is not None:
            mi = _INSN.match(line)
            if mi:
                addr, hexes, mnem, ops = mi.groups()
                collecting.append(classify(int(addr, 16), 2 * len(hexes.split()), mnem, ops, t))
                continue
            if collecting:
                fresh[collecting[0].addr] = make_block(collecting[0].addr, collecting, sym, t)
            collecting = None
        if line.startswith("IN:"):
            sym = line[3:].strip()
            collecting = []
            continue
        mt = _TRACE.match(line)
        if mt:
            host, pc = mt.group(1), int(mt.group(2), 16)
            symbol = mt.group(3).strip()
            if pc in fresh:
                by_host[host] = fresh.pop(pc)
            if not active and symbol == start_symbol:
                active = True
            elif active and symbol == stop_symbol:
                if pending is not None:
                    settle(pending, pending_n, pc, tail)
                    pending = None
                done = True
                break
            if active:
                if pending is not None:
                    settle(pending, pending_n, pc, tail)
                    last = pending.insns[pending_n - 1] if pending_n else None
                    tail = ((last.kind in _MEM) if last else False,
                            last.dest if last is not None and last.kind == "load" else ())
                b = by_host.get(host)
                if b is None or b.pc != pc:
                    raise MicrolithError(f"cycle trace: block at 0x{pc:08x} executed before it was listed")
                pending, pending_n = b, len(b.insns)
            continue
        if line.startswith("Stopped execution of TB chain") and active:
            # the block logged last never started (an exit request at its entry): not executed
            pending = None
            continue
        mr = _REWIND.match(line)
        if mr and active and pending is not None:
            cut = int(mr.group(1), 16)
            pending_n = sum(1 for i in pending.insns if i.addr < cut)
    if not done:
        raise MicrolithError(f"cycle trace: the log has no complete run of {start_symbol}")
    return CycleEstimate(t.name, total_i, total_c, n_blocks, by_fn, t.basis)


# --------------------------------------------------------------------------- the plugin's counters

_ROLE_STOP = 2
_ROLE_MARK = 3


@dataclass
class Phase:
    """One stretch of the plugin's counts (between two marks, or the whole run without marks):
    executions and fetch-model counters per block id, loads per (block id, instruction index),
    and edge counts."""
    execs: dict = field(default_factory=dict)    # id -> (execs, i_fetches, i_misses, i_stall)
    loads: dict = field(default_factory=dict)    # (id, index) -> (flash, flash misses, other)
    edges: list = field(default_factory=list)    # (from id, to id, count)


def read_memtrace(lines):
    """The plugin's output: ({id: block record}, [Phase], reached the stop symbol). A block
    record is a dict with pc, end, role, symbol and insns: (addr, size, mnemonic, operands)."""
    blocks: dict[int, dict] = {}
    phases: list[Phase] = []
    done = False
    cur = None
    for line in lines:
        tag, _, rest = line.rstrip("\n").partition(" ")
        if tag == "C":
            k, n, f, m, st = (int(x) for x in rest.split())
            phases[-1].execs[k] = (n, f, m, st)
        elif tag == "L":
            k, i, f, m, o = (int(x) for x in rest.split())
            phases[-1].loads[(k, i)] = (f, m, o)
        elif tag == "E":
            a, b, n = (int(x) for x in rest.split())
            phases[-1].edges.append((a, b, n))
        elif tag == "P":
            phases.append(Phase())
        elif tag == "I":
            addr, size, text = (rest.split(" ", 2) + [""])[:3]
            mnem, _, ops = text.strip().partition(" ")
            cur["insns"].append((int(addr, 16), int(size), mnem, ops.strip()))
        elif tag == "B":
            f = rest.split(" ", 5)
            cur = {"id": int(f[0]), "pc": int(f[1], 16), "end": int(f[2], 16), "role": int(f[4]),
                   "symbol": f[5] if len(f) > 5 else "?", "insns": []}
            blocks[cur["id"]] = cur
        elif tag == "ML-MEMTRACE":
            done = "done=1" in rest
    return blocks, phases, done


@dataclass
class PhaseCycles:
    """What one phase of a marked run cost (the mark function's own blocks left out)."""
    instructions: int
    cycles: int
    memory_cycles: int


def _price_phase(ph: Phase, recs: dict, blocks: dict, t: CoreTiming, ws: int, by_fn: dict, stall_fn: dict,
                 counts: dict) -> PhaseCycles:
    insns = cyc = stall = 0
    for k, (n, _f, _m, i_stall) in ph.execs.items():
        r = recs[k]
        if r["role"] in (_ROLE_STOP, _ROLE_MARK) or not n:
            continue
        B = blocks[k]
        insns += n * len(B.insns)
        cyc += n * B.cycles
        f = by_fn.setdefault(r["symbol"], [0, 0])
        f[0] += n * len(B.insns)
        f[1] += n * B.cycles
        counts["fetches"] += _f
        counts["fetch_misses"] += _m
        counts["fetch_stall_cycles"] += i_stall
        stall += i_stall
        stall_fn[r["symbol"]] = stall_fn.get(r["symbol"], 0) + i_stall
    for (k, _i), (ldf, ldm, ldo) in ph.loads.items():
        if recs[k]["role"] in (_ROLE_STOP, _ROLE_MARK):
            continue
        counts["flash_loads"] += ldf
        counts["flash_load_misses"] += ldm
        counts["flash_load_stall_cycles"] += ldm * ws
        counts["sram_loads"] += ldo
        stall += ldm * ws
        sym = recs[k]["symbol"]
        stall_fn[sym] = stall_fn.get(sym, 0) + ldm * ws
    for a, b, n in ph.edges:
        ra, rb, A, B = recs[a], recs[b], blocks[a], blocks[b]
        if not A.insns or not B.insns or _ROLE_MARK in (ra["role"], rb["role"]):
            continue   # the call into the mark and the return from it belong to the hook
        if rb["role"] != _ROLE_STOP:
            c = 0
            if t.pipelined_mem and A.last_mem and B.first_mem:
                c -= 1
            if A.last_dest and set(A.last_dest) & set(B.first_addr_regs):
                c += t.load_use_addr
            cyc += n * c
            by_fn.setdefault(rb["symbol"], [0, 0])[1] += n * c
        if (A.tail == "branch" and B.pc != A.end) or A.tail == "pc_write":
            cyc += n * (t.branch_taken - 1)
            by_fn.setdefault(ra["symbol"], [0, 0])[1] += n * (t.branch_taken - 1)
    return PhaseCycles(insns, cyc, stall)


def estimate_from_memtrace(lines, t: CoreTiming, mem=None) -> CycleEstimate:
    """Price the plugin's block counts exactly as estimate_from_log prices the block log: each
    executed block at its table cost, plus, per edge A -> B, the effects across the boundary
    (neighbouring loads and stores pipelined, a load feeding B's first address, A's branch taken
    when B does not start where A ends). With `mem` (memmodel.MemorySystem), the plugin's cache
    misses are priced too: fetch stalls as the plugin computed them, each missed flash data load
    the flash wait states. A run with marks is priced phase by phase (CycleEstimate.phases);
    the totals are their sums."""
    recs, phases, done = read_memtrace(lines)
    if not done:
        raise MicrolithError("cycle trace: the plugin saw no complete run of the measured function")
    blocks = {k: make_block(r["pc"], [classify(a, size, mn, ops, t) for a, size, mn, ops in r["insns"]],
                            r["symbol"], t) for k, r in recs.items()}
    by_fn: dict[str, list[int]] = {}
    stall_fn: dict[str, int] = {}
    counts = dict.fromkeys(("fetches", "fetch_misses", "fetch_stall_cycles", "flash_loads", "flash_load_misses",
                            "flash_load_stall_cycles", "sram_loads"), 0)
    ws = mem.wait_states if mem is not None else 0
    priced = [_price_phase(ph, recs, blocks, t, ws, by_fn, stall_fn, counts) for ph in phases]
    n_blocks = sum(n for ph in phases for k, (n, *_r) in ph.execs.items()
                   if recs[k]["role"] not in (_ROLE_STOP, _ROLE_MARK))
    est = CycleEstimate(t.name, sum(p.instructions for p in priced), sum(p.cycles for p in priced), n_blocks,
                        by_fn, t.basis, source="plugin", phases=priced)
    if mem is not None:
        est.memory_cycles = counts["fetch_stall_cycles"] + counts["flash_load_stall_cycles"]
        est.memory_by_function = stall_fn
        est.memory_counts = counts
        est.memory_basis = mem.basis()
        est.memory_summary = mem.summary()
    return est


def _board_of(target: str) -> dict | None:
    from . import core_of, get_target
    t = get_target(target)
    if t["kind"] == "board":
        return t
    name = core_of(t).get("estimate_board")
    return get_target(name) if name else None


def board_figures(cyc: CycleEstimate, target: str, n_macs: int) -> dict:
    """The profile keys of the memory model: cycles_est_board (cycles_est plus the flash stalls
    of the board's wait states behind its cache), per MAC, the latency at the board's clock,
    and the counts behind them. Empty without a memory model (no plugin, or a board file
    without a memory_system block); the zero-wait keys are left as they are."""
    if cyc.memory_cycles is None:
        return {}
    board = _board_of(target)
    total = cyc.cycles + cyc.memory_cycles
    clock = board["clock_hz"]["value"] if isinstance(board["clock_hz"], dict) else board["clock_hz"]
    return {"cycles_est_board": total,
            "cycles_per_mac_est_board": round(total / n_macs, 3) if n_macs else None,
            "latency_ms_est_board": round(total / clock * 1e3, 4),
            "memory_model": {"board": board["name"], "stall_cycles": cyc.memory_cycles, **cyc.memory_counts,
                             "basis": ("estimate, not a measurement: cycles_est plus flash stalls from every "
                                       "instruction fetch and data load of the run (QEMU plugin) through a model of "
                                       f"the board's flash accelerator: {cyc.memory_basis}; latency_ms_est_board = "
                                       f"cycles_est_board / {clock / 1e6:g} MHz")}}


def trace_cycles(elf: Path, target: str, prefix: str, timeout: float = 600.0, workdir=None) -> CycleEstimate:
    """Run the measurement firmware once more and price the inference: through the counting
    plugin when a host C compiler can build it (with the board's flash model, if its file has
    one), else through QEMU's block log (zero-wait-state memory only)."""
    from . import core_of
    from .memmodel import host_cc
    core = core_of(target)
    t = TIMINGS.get(core["name"])
    if t is None:
        raise MicrolithError(f"{target}: no cycle timing table for core {core['name']}")
    if host_cc() is not None:
        try:
            return trace_cycles_plugin(elf, target, prefix, timeout, workdir)
        except PluginUnavailable:
            pass   # a QEMU without plugin support, or the plugin did not build: the log still prices
    return trace_cycles_log(elf, target, prefix, timeout, workdir)


class PluginUnavailable(MicrolithError):
    """The memory-trace plugin could not be built or loaded (not a failure of the run)."""


def timing_of(target: str | dict) -> CoreTiming:
    """The timing table a target's cycles are priced with: a board's own where its file names one
    ("timing": the RP2040's Cortex-M0+), else its core's. A core target is priced as that core
    (cortex-m0: the Cortex-M0), also where its estimate board is another variant."""
    from . import core_of, get_target
    t = get_target(target) if isinstance(target, str) else target
    variant = t.get("timing") if t["kind"] == "board" else None
    variant = variant.get("value") if isinstance(variant, dict) else variant
    return TIMINGS[variant or core_of(t)["name"]]


def trace_cycles_plugin(elf: Path, target: str, prefix: str, timeout: float = 600.0, workdir=None,
                        mem="board", mark: str | None = None) -> CycleEstimate:
    """The plugin route. mem: "board" (the flash model of the target's board, or of the board
    its core names for estimates), None (no memory model), or a memmodel.MemorySystem.
    mark: a function whose every call splits the run into phases (CycleEstimate.phases)."""
    from . import core_of
    from .cortexm import elf_sections, qemu_command
    from .memmodel import memory_system, plugin_path
    core = core_of(target)
    t = timing_of(target)
    if mem == "board":
        mem = memory_system(_board_of(target))
    flash = core["memory"]["flash"]
    args = [f"start={prefix}_invoke", "stop=ml_fw_run",
            f"flash={flash['origin']:x}:{flash['origin'] + flash['length']:x}"]
    inputs = elf_sections(Path(elf)).get(".ml_inputs")
    if inputs and inputs["size"]:
        # the test inputs sit in flash only in this firmware; a deployment receives them in RAM
        args.append(f"sram_alias={inputs['addr']:x}:{inputs['addr'] + inputs['size']:x}")
    if mem is not None:
        args += mem.plugin_args()
    if mark:
        args.append(f"mark={mark}")
    with tempfile.TemporaryDirectory(prefix="microlith-cycles-", dir=workdir) as tmp:
        out = Path(tmp) / "memtrace.txt"
        try:
            plugin = plugin_path()
        except MicrolithError as e:
            raise PluginUnavailable(str(e)) from None
        cmd = qemu_command(Path(elf), target) + ["-plugin", ",".join([str(plugin), f"out={out}", *args])]
        try:
            res = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise MicrolithError(f"{target}: the cycle trace did not finish within {timeout:g} s") from None
        if not out.exists():
            err = res.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PluginUnavailable(f"{target}: the QEMU memory-trace plugin wrote nothing"
                                    + (f": {err[-1]}" if err else ""))
        with open(out, errors="replace") as f:
            return estimate_from_memtrace(f, t, mem)


def trace_cycles_log(elf: Path, target: str, prefix: str, timeout: float = 600.0, workdir=None) -> CycleEstimate:
    """The block-log route: QEMU's -d in_asm,exec,nochain (no memory model)."""
    from . import core_of
    from .cortexm import qemu_command
    t = timing_of(target)
    with tempfile.TemporaryDirectory(prefix="microlith-cycles-", dir=workdir) as tmp:
        log = Path(tmp) / "qemu.log"
        cmd = qemu_command(Path(elf), target) + ["-d", "in_asm,exec,nochain", "-D", str(log)]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise MicrolithError(f"{target}: the cycle trace did not finish within {timeout:g} s") from None
        with open(log, errors="replace") as f:
            return estimate_from_log(f, t, f"{prefix}_invoke", "ml_fw_run")
