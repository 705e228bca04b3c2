"""Cycle estimates (targets/cycles.py): the pricing follows the cores' documented timings,
the log parser prices exactly the instructions that ran, and on a real firmware the traced
stream is the measured one."""
import shutil
from pathlib import Path

import pytest

from microlith import profiling
from microlith.targets.cycles import TIMINGS, classify, estimate_from_log, price

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
AD = MODELS / "ad01_int8.tflite"
_missing = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
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
    assert top.startswith("ml_fully_connected"), m4["cycles_by_function"]
    board = profiling.profile(AD, "stm32l4r5")
    assert board["latency_ms_est"] == round(board["cycles_est"] / 120e6 * 1e3, 4)
