"""Cycle estimates (targets/cycles.py): the pricing follows the cores' documented timings,
the log parser prices exactly the instructions that ran, and on a real firmware the traced
stream is the measured one."""
import dataclasses
import shutil
from pathlib import Path

import pytest

from microlith import profiling
from microlith.targets import get_target
from microlith.targets.cycles import (
    TIMINGS,
    classify,
    estimate_from_log,
    estimate_from_memtrace,
    price,
)
from microlith.targets.memmodel import (
    CacheGeometry,
    MemorySystem,
    host_cc,
    memory_system,
)

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
AD = MODELS / "ad01_int8.tflite"
_missing = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
needs_cc = pytest.mark.skipif(host_cc() is None, reason="no host C compiler to build the QEMU plugin")
needs_tools = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed "
                                 "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)")


def insns(core, *lines):
    t = TIMINGS[core]
    out = []
    for k, text in enumerate(lines):
        mnem, _, ops = text.partition(" ")
        out.append(classify(0x100 + 2 * k, 2, mnem, ops.strip(), t))
    return out, t


@pytest.mark.parametrize("core, cycles", [("cortex-m4", 3), ("cortex-m3", 3), ("cortex-m0", 4), ("cortex-m7", 2)])
def test_neighbouring_loads(core, cycles):
    # ARMv7-M pipelines neighbouring loads (2 + 1); ARMv6-M does not (2 + 2); M7 loads in 1
    seq, t = insns(core, "ldr r1, [r0]", "ldr r2, [r0, #4]")
    assert price(seq, t) == cycles


def test_it_block_conditions_keep_the_class():
    t = TIMINGS["cortex-m4"]
    assert classify(0, 4, "sdivlt", "r0, r1, r2", t).kind == "div"      # not an ALU op
    assert classify(0, 2, "popeq", "{r4, pc}", t).kind == "pc_write"
    assert classify(0, 2, "movs", "r0, #1", t).kind == "alu"            # "vs" is not a condition here
    assert classify(0, 4, "mls", "r0, r1, r2, r3", t).kind == "mul"


@pytest.mark.parametrize("core, cycles", [("cortex-m4", 2 + 1 + 2), ("cortex-m7", 1 + 1 + 1)])
def test_table_branch_is_a_load_and_a_taken_branch(core, cycles):
    # TBB/TBH load the entry, add it to the PC and refill the pipeline: the block ends there and
    # its successor never starts where it ends, so the refill is added as for any taken branch
    blocks = {0x100: ("k", ["tbb [pc, r0]"]), 0x120: ("k", ["bx lr"]), 0x200: ("m_stop", ["nop"])}
    log = _log(blocks, [0x100, 0x120, 0x200])
    est = estimate_from_log(log, TIMINGS[core], "k", "m_stop")
    assert est.cycles == cycles + TIMINGS[core].branch_taken   # then BX LR: 1 + P
    assert classify(0, 4, "tbh", "[pc, r0, lsl #1]", TIMINGS[core]).kind == "pc_write"


@pytest.mark.parametrize("core, taken, bl, pop_pc", [("cortex-m0", 3, 4, 4 + 2), ("cortex-m0plus", 2, 3, 3 + 2)])
def test_m0_and_m0plus_branch_refills(core, taken, bl, pop_pc):
    """The Cortex-M0+'s two-stage pipeline refills in one cycle, the M0's in two: a taken branch
    3 or 2, BL 4 or 3, POP {r4, r5, pc} 4 + N or 3 + N (N = 2 registers besides the PC)."""
    blocks = {0x100: ("k", ["adds r0, #1", "bne 0x100"]), 0x104: ("k", ["bl 0x200"]),
              0x200: ("k", ["pop {r4, r5, pc}"]), 0x300: ("m_stop", ["nop"])}
    log = _log(blocks, [0x100, 0x100, 0x104, 0x200, 0x300])
    est = estimate_from_log(log, TIMINGS[core], "k", "m_stop")
    # the loop twice (taken, then not), the call, the return (a PC write, taken)
    assert est.cycles == (1 + taken) + (1 + 1) + bl + pop_pc


def test_board_timing_tables():
    """A board's cycles are priced with its own core variant where its file names one (the
    RP2040's Cortex-M0+); a core name, and a board without one, with the core's table."""
    from microlith.targets.cycles import timing_of
    assert timing_of("rp2040").name == "cortex-m0plus"
    for target, core in (("cortex-m0", "cortex-m0"), ("nrf51822", "cortex-m0"), ("stm32l4r5", "cortex-m4"),
                         ("stm32f207", "cortex-m3")):
        assert timing_of(target).name == core, target


def test_load_use_as_address_stalls_on_m4():
    seq, t = insns("cortex-m4", "ldr r1, [r0]", "ldr r2, [r1]")
    assert price(seq, t) == 2 + 1 + 1   # pipelined second load, plus the address dependency


@pytest.mark.parametrize("core, cycles", [("cortex-m4", 1 + 4), ("cortex-m3", 2 + 4)])
def test_multiply_accumulate(core, cycles):
    seq, t = insns(core, "mla r0, r1, r2, r0", "pop {r4, r5, r6}")
    assert price(seq, t) == cycles


def _log(blocks, execs):
    """A QEMU in_asm,exec,nochain log: blocks = {pc: (symbol, [text...])}, execs = lines."""
    lines = []
    for pc, (sym, body) in blocks.items():
        lines += ["----------------", f"IN: {sym}"]
        for k, text in enumerate(body):
            mnem, _, ops = text.partition(" ")
            lines.append(f"0x{pc + 2 * k:08x}:  {0xbf00 + k:04x}       {mnem:8} {ops}")
        lines.append("")
    for e in execs:
        if isinstance(e, int):
            sym = next(s for p, (s, _) in blocks.items() if p == e)
            lines.append(f"Trace 0: 0x7f0000{e:06x} [00800408/{e:08x}/00000110/ff020200] {sym}")
        else:
            lines.append(e)
    return [ln + "\n" for ln in lines]


def test_log_prices_taken_and_fallthrough_branches_and_skips_stopped_blocks():
    blocks = {0x100: ("m_invoke", ["movs r0, #0", "bl #0x200"]),
              0x200: ("kernel", ["adds r0, #1", "cmp r0, #2", "bne #0x200"]),
              0x206: ("kernel", ["bx lr"]),
              0x300: ("ml_fw_run", ["ldr r3, [r6, #4]"])}
    log = _log(blocks, [0x100, 0x200, 0x200, "Stopped execution of TB chain before 0x7f0000000200 [00000200] kernel",
                        0x200, 0x206, 0x300])
    t = TIMINGS["cortex-m4"]
    est = estimate_from_log(log, t, "m_invoke", "ml_fw_run")
    # invoke 2 insns (1 + BL 3); kernel twice: once taken (3 - 1 + 3), once falling through (3); bx 1 + 2
    assert est.instructions == 2 + 3 + 3 + 1
    assert est.cycles == (1 + 3) + (2 + 3) + 3 + 3
    assert est.by_function["kernel"] == [7, 11]


def _memtrace(blocks, execs, edges, loads=None, phases=None):
    """The plugin's output for blocks = {id: (pc, symbol, role, [text...])}: one phase of
    execs {id: n}, edges [(a, b, n)] and loads {(id, index): (flash, misses)}, or `phases`, a
    list of such (execs, edges, loads) triples."""
    lines = []
    for k, (ex, ed, ld) in enumerate(phases or [(execs, edges, loads)]):
        lines.append(f"P {k}")
        lines += [f"C {b} {n} 0 0 0" for b, n in ex.items() if n]
        lines += [f"L {b} {i} {ldf} {ldm} 0" for (b, i), (ldf, ldm) in (ld or {}).items()]
        lines += [f"E {a} {b} {n}" for a, b, n in ed]
    for k, (pc, sym, role, body) in blocks.items():
        lines.append(f"B {k} 0x{pc:x} 0x{pc + 2 * len(body):x} {len(body)} {role} {sym}")
        lines += [f"I 0x{pc + 2 * i:x} 2 {text}" for i, text in enumerate(body)]
    lines.append(f"ML-MEMTRACE 2 done=1 phases={len(phases or [0])}")
    return [ln + "\n" for ln in lines]


def test_plugin_counts_price_the_same_as_the_log():
    # the stream of test_log_prices_taken_and_fallthrough...: invoke, kernel x2 (taken, then
    # falling through), bx, back in ml_fw_run; given as block and edge counts
    blocks = {0: (0x100, "m_invoke", 1, ["movs r0, #0", "bl #0x200"]),
              1: (0x200, "kernel", 0, ["adds r0, #1", "cmp r0, #2", "bne #0x200"]),
              2: (0x206, "kernel", 0, ["bx lr"]),
              3: (0x300, "ml_fw_run", 2, ["ldr r3, [r6, #4]"])}
    trace = _memtrace(blocks, {0: 1, 1: 2, 2: 1}, [(0, 1, 1), (1, 1, 1), (1, 2, 1), (2, 3, 1)])
    est = estimate_from_memtrace(trace, TIMINGS["cortex-m4"])
    assert (est.instructions, est.cycles) == (2 + 3 + 3 + 1, (1 + 3) + (2 + 3) + 3 + 3)
    assert est.by_function["kernel"] == [7, 11] and est.memory_cycles is None


def test_plugin_phases_split_the_run_at_the_mark():
    # invoke -> kernel (phase 0), the mark function, kernel again (phase 1), back to ml_fw_run:
    # each phase is priced on its own, the mark and the edges into and out of it in neither
    blocks = {0: (0x100, "m_invoke", 1, ["movs r0, #0", "bl #0x200"]),
              1: (0x200, "kernel", 0, ["adds r0, #1", "cmp r0, #2", "bne #0x200"]),
              2: (0x206, "kernel", 0, ["bx lr"]),
              3: (0x300, "ml_fw_run", 2, ["ldr r3, [r6, #4]"]),
              4: (0x400, "ml_fw_stamp", 3, ["ldr r0, [r1]", "bx lr"])}
    first = ({0: 1, 1: 2, 2: 1}, [(0, 1, 1), (1, 1, 1), (1, 2, 1), (2, 4, 1)], None)
    second = ({4: 1, 1: 1, 2: 1}, [(4, 1, 1), (1, 2, 1), (2, 3, 1)], {(4, 0): (1, 1)})
    trace = _memtrace(blocks, None, None, phases=[first, second])
    mem = MemorySystem("b", 5, None, None, False, False, "")
    est = estimate_from_memtrace(trace, TIMINGS["cortex-m4"], mem)
    # phase 0: invoke 1 + BL 3, kernel taken 2 + 3, kernel through 3, bx 1 (its branch into the
    # mark is the hook's); phase 1: kernel through 3, bx 1 + 2 back to ml_fw_run
    assert [(p.instructions, p.cycles) for p in est.phases] == [(2 + 3 + 3 + 1, 4 + 5 + 3 + 1), (3 + 1, 3 + 3)]
    assert (est.instructions, est.cycles) == (13, 19)
    # the mark's flash load miss is the hook's, not the phase's
    assert [p.memory_cycles for p in est.phases] == [0, 0] and est.memory_cycles == 0


def test_plugin_flash_misses_cost_the_wait_states():
    blocks = {0: (0x100, "m_invoke", 1, ["ldr r1, [r0]", "ldr r2, [r0, #4]", "bx lr"]),
              1: (0x300, "ml_fw_run", 2, ["nop"])}
    trace = _memtrace(blocks, {0: 1}, [(0, 1, 1)], loads={(0, 0): (1, 1), (0, 1): (1, 0)})
    mem = MemorySystem("b", 5, None, CacheGeometry(32, 1, 8, 8), False, False, "")
    est = estimate_from_memtrace(trace, TIMINGS["cortex-m4"], mem)
    assert est.cycles == 2 + 1 + 1 + 2          # pipelined loads, bx with its refill
    assert est.memory_cycles == 5 and est.memory_counts["flash_loads"] == 2
    assert est.memory_by_function == {"m_invoke": 5}


def test_board_files_give_the_flash_model():
    l4 = memory_system(get_target("stm32l4r5"))
    assert l4.wait_states == 5 and l4.icache.bytes == 1024 and l4.dcache.bytes == 256 and not l4.unified
    assert memory_system(get_target("stm32u575")).unified
    assert memory_system(get_target("nrf52840")) is None      # no figures in its file: no board model
    # the Pico's XIP: one 16 KB two-way cache of 8-byte lines for code and constants, and a miss's
    # cycles (a quad-I/O read at clk_sys / 2) in place of wait states, named as such
    xip = memory_system(get_target("rp2040"))
    assert xip.unified and xip.icache is None and (xip.dcache.bytes, xip.dcache.ways, xip.dcache.line_bytes) == \
        (16384, 2, 8)
    assert xip.wait_states == 56 and "rp2040 flash 56 clk_sys cycles per XIP cache miss" in xip.basis()
    # the Cortex-M3's board: the STM32F2's ART accelerator as the Cube HAL sets it up, prefetch on
    f2 = memory_system(get_target("stm32f207"))
    assert (f2.wait_states, f2.icache.bytes, f2.dcache.bytes, f2.prefetch, f2.unified) == (3, 1024, 128, True, False)


def test_known_error_is_the_recorded_validation():
    """The flash model's stated error is the one measured against the published real-board
    latencies of both stacks (bench/real_boards_validation.json: TFLM + CMSIS-NN;
    bench/real_boards_validation_onnc.json: ONNC's generated calls of CMSIS-NN), each benchmark
    within 15% of it, and the short form's range covers every row."""
    import json
    import re
    from pathlib import Path
    bench = Path(__file__).resolve().parent.parent / "bench"
    ms = memory_system(get_target("stm32l4r5"))
    text = ms.basis()
    assert "known error" in text
    lo, hi = (float(x) for x in re.match(r"([-+]\d+\.\d)% to ([-+]\d+\.\d)%", ms.validation_short).groups())
    names = {"kws": "KWS", "vww": "VWW", "ic": "IC", "ad": "AD"}
    for name in ("real_boards_validation.json", "real_boards_validation_onnc.json"):
        rec = json.loads((bench / name).read_text())
        assert len(rec["rows"]) in (4, 8), name   # the ONNC record: its mbed OS and Zephyr builds
        for row in rec["rows"]:
            assert abs(row["error_pct"]) <= 15, (name, row)
            assert lo <= row["error_pct"] <= hi, (name, row)
            assert f"{names[row['benchmark']]} {row['error_pct']:+.1f}%" in text, (name, row["benchmark"])


def test_log_rewind_counts_only_the_instructions_that_ran():
    blocks = {0x100: ("m_invoke", ["movs r0, #0", "movs r1, #0", "movs r2, #0"]),
              0x300: ("ml_fw_run", ["nop"])}
    log = _log(blocks, [0x100, "cpu_io_recompile: rewound execution of TB to 00000102", 0x300])
    est = estimate_from_log(log, TIMINGS["cortex-m0"], "m_invoke", "ml_fw_run")
    assert est.instructions == 1


@pytest.mark.cortexm
@needs_tools
@pytest.mark.skipif(not AD.exists(), reason=f"{AD} not present")
def test_profile_prices_the_measured_stream():
    """The traced stream has exactly the measured instruction count (profile refuses otherwise),
    the estimate repeats exactly, and an ARMv6-M core needs more cycles per instruction."""
    m4 = profiling.profile(AD, "cortex-m4")
    again = profiling.profile(AD, "cortex-m4")
    m0 = profiling.profile(AD, "cortex-m0")
    assert m4["cycles_est"] == again["cycles_est"] > m4["instructions"]
    assert abs(m0["instructions"] - sum(v["instructions"] for v in m0["cycles_by_function"].values())) <= 32
    assert m4["instructions"] == sum(v["instructions"] for v in m4["cycles_by_function"].values())
    assert m0["cpi_estimate"] > m4["cpi_estimate"] > 1.0
    assert "estimate, not a measurement" in m4["estimate_basis"] and "TRM" in m4["estimate_basis"]
    top = next(iter(m4["cycles_by_function"]))
    assert top.startswith(("ml_fully_connected", "ml_fc_")), m4["cycles_by_function"]   # the FC kernel or its DSP rows
    board = profiling.profile(AD, "stm32l4r5")
    zero_wait = board.get("latency_ms_est_zero_wait", board["latency_ms_est"])   # no plugin: no flash model
    assert zero_wait == round(board["cycles_est"] / 120e6 * 1e3, 4)
    if host_cc() is not None:
        # the flash model: AD's FC weights (264 KB) stream from flash through a 256 B data cache
        mm = board["memory_model"]
        assert board["cycles_est_board"] == board["cycles_est"] + mm["stall_cycles"]
        # each weight is read once: about one 8-byte flash read per 8 weight bytes (plus biases, literals)
        assert mm["flash_loads"] * 4 >= 264192 and 0.9 * 264192 <= mm["flash_load_misses"] * 8 <= 1.2 * 264192
        assert mm["fetch_stall_cycles"] == 5 * mm["fetch_misses"]        # prefetch off: each miss 5 WS
        assert board["latency_ms_est_board"] == round(board["cycles_est_board"] / 120e6 * 1e3, 4)
        assert board["latency_ms_est"] == board["latency_ms_est_board"]   # the headline takes the board's flash
        assert "5 wait states" in board["estimate_basis"]
        # the terminal's few words: the same sources, the validated error, the rest in --json
        short = board["estimate_summary"]
        assert len(short) < len(board["estimate_basis"]) / 4
        for words in ("cortex-m4 timing table", "120 MHz", "stm32l4r5 flash model (5 wait states)",
                      "known error -12.2% to +6.2%", "110 uA/MHz x 3 V"):
            assert words in short, short
        for words in ("cortex-m4 timing table", "120 MHz", "5 wait states", "-12.2% to +6.2%", "110 uA/MHz x 3 V"):
            assert words in board["estimate_basis"], words


@pytest.mark.cortexm
@needs_tools
@needs_cc
@pytest.mark.skipif(not AD.exists(), reason=f"{AD} not present")
@pytest.mark.parametrize("core", ["cortex-m0", "cortex-m7"])
def test_plugin_and_log_price_the_same_stream(core, tmp_path):
    import numpy as np

    from microlith.api import compile as compile_model
    from microlith.api import load
    from microlith.targets.cortexm import FirmwareBuilder
    from microlith.targets.cycles import trace_cycles_log, trace_cycles_plugin
    from microlith.verify import random_inputs
    g = load(AD)
    name = compile_model(g, tmp_path / "c", measure=False)["name"]
    fw = FirmwareBuilder(tmp_path / "c", name, core, tmp_path / "fw").link([random_inputs(g, np.random.default_rng(0))])
    log = trace_cycles_log(fw.elf, core, name, workdir=tmp_path)
    plug = trace_cycles_plugin(fw.elf, core, name, workdir=tmp_path, mem=None)
    assert (plug.instructions, plug.cycles, plug.by_function) == (log.instructions, log.cycles, log.by_function)
    # no wait states: the flash model adds nothing, whatever the caches do
    free = MemorySystem("x", 0, CacheGeometry(32, 1, 4, 8), CacheGeometry(32, 1, 4, 8), False, False, "")
    assert trace_cycles_plugin(fw.elf, core, name, workdir=tmp_path, mem=free).memory_cycles == 0
    # 3 wait states: a cache saves stalls, and without one every flash word entered or loaded pays them
    cached = trace_cycles_plugin(fw.elf, core, name, workdir=tmp_path, mem=dataclasses.replace(free, wait_states=3))
    bare = trace_cycles_plugin(fw.elf, core, name, workdir=tmp_path,
                               mem=dataclasses.replace(free, wait_states=3, icache=None, dcache=None))
    assert 0 < cached.memory_cycles < bare.memory_cycles
    assert bare.memory_counts["flash_load_stall_cycles"] == 3 * bare.memory_counts["flash_loads"]
    if core == "cortex-m0":
        # no plugin (it does not build here, or QEMU lacks plugin support): the block log still prices
        from microlith.ir import MicrolithError
        from microlith.targets import cycles, memmodel

        def broken():
            raise MicrolithError("no plugin")
        mp = pytest.MonkeyPatch()
        mp.setattr(memmodel, "plugin_path", broken)
        try:
            est = cycles.trace_cycles(fw.elf, core, name, workdir=tmp_path)
        finally:
            mp.undo()
        assert est.source == "log" and est.cycles == log.cycles and est.memory_cycles is None
