"""Pooling on Cortex-M4: instructions per input element, the issue-11 target being <= 0.5.

    python3 bench/bench_pool.py            # print the markdown table (about a minute)
    python3 bench/bench_pool.py --write    # and replace its section in BENCHMARKS.md

Each row is one int8 pooling layer as a single-op model, profiled on QEMU (instructions counted
exactly, the layer's own count from --per-layer: the kernel call with its setup, divisions and
stores), in speed mode (every kernel variant) and size mode (the smallest form). The shapes are
the MLPerf Tiny models' global average pools and the max pools of small CNNs.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from microlith import profiling  # noqa: E402
from microlith.ir import Op  # noqa: E402
from opmodels import act, single_op, write  # noqa: E402

# name: (op, input shape, filter, stride, padding)
CASES = [
    ("KWS global average 25x5x64", Op.AVERAGE_POOL_2D, (1, 25, 5, 64), (25, 5), (1, 1), "VALID"),
    ("ResNet-8 global average 8x8x64", Op.AVERAGE_POOL_2D, (1, 8, 8, 64), (8, 8), (1, 1), "VALID"),
    ("VWW global average 3x3x256", Op.AVERAGE_POOL_2D, (1, 3, 3, 256), (3, 3), (1, 1), "VALID"),
    ("1-D CNN max 1x2 / 2, 50x32", Op.MAX_POOL_2D, (1, 1, 50, 32), (1, 2), (1, 2), "VALID"),
    ("1-D CNN max 1x3 / 2, 51x24", Op.MAX_POOL_2D, (1, 1, 51, 24), (1, 3), (1, 2), "SAME"),
    ("CNN max 2x2 / 2, 16x16x32", Op.MAX_POOL_2D, (1, 16, 16, 32), (2, 2), (2, 2), "VALID"),
    ("CNN max 3x3 / 2, 15x15x16", Op.MAX_POOL_2D, (1, 15, 15, 16), (3, 3), (2, 2), "SAME"),
]
MODES = ("speed", "size")
# What the instruction set allows (SSUB8 + SEL: a bytewise max of 4 pairs in 2 instructions; SXTAB16:
# 2 sums per instruction), the reason the rows above 0.5 stay there.
FLOORS = ("Floors by instruction count: a 2x2/2 max needs 3 pairwise maxes (6 instructions) per output "
          "word plus 4 loads and a store, 29 per 64 inputs (0.45), and its loop takes 0.475 (four windows "
          "per turn, speed mode; 0.48 with two, balanced's choice unless a model pools enough to pay for "
          "the longer loop's 0.5 KB), the rest being the steps between rows and the call's fixed cost "
          "(about 20 instructions since the compiler describes the layer: ml_maxpool_params.tile); a 1x3/2 max already spends 0.5 per new input on the maxes alone; "
          "a 3x3/2 max (ml_maxpool_dsp_s2w3, each window column's maximum over its rows taken once and shared by "
          "the two windows that meet there) costs 39 instructions per window and 8 channels in its loop (counted "
          "from the code; 40 and 39.4 measured with the calls and set-up), 1.25-1.27 per input "
          "on 64x64x16 and 63x63x32 (four inputs per output, each read for 1.5 output rows), more on a small one "
          "(15x15: the calls and the groups' set-up); an average costs 0.5 per input in SXTAB16 alone, about "
          "0.63 with the loads, plus 14 instructions per 4 outputs for the division, so a 3x3 window "
          "(VWW) cannot go below about 1.0.")
TARGET = "cortex-m4"
# The cores without the DSP extension, in the default mode: no SIMD, so no 0.5 target; their max
# pooling takes whole words of four channels (a SWAR max) where the data is word aligned.
OTHER_CORES = ("cortex-m3", "cortex-m0")


def _model(tmp: Path, op, shape, filt, stride, padding) -> Path:
    n, h, w, c = shape
    if padding == "SAME":
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    else:
        oh, ow = (h - filt[0]) // stride[0] + 1, (w - filt[1]) // stride[1] + 1
    g = single_op(op, [act("x", shape, 0.05, -128)], [act("y", (n, oh, ow, c), 0.05, -128)],
                  dict(padding=padding, stride_h=stride[0], stride_w=stride[1], filter_h=filt[0],
                       filter_w=filt[1], activation="NONE"))
    return write(g, tmp)


def _per_layer(target: str, mode: str, case) -> int:
    name, op, shape, filt, stride, padding = case
    with tempfile.TemporaryDirectory() as tmp:
        r = profiling.profile(_model(Path(tmp), op, shape, filt, stride, padding), target,
                              per_layer=True, workdir=tmp, cycles=False, optimize=mode)
    assert r["output_matches_host"], (name, target, mode)
    return r["per_layer"][0]["instructions"]


def table() -> str:
    rows = ["| layer | input elements | " + " | ".join(f"{m}: instructions (per element)" for m in MODES)
            + " | <= 0.5 per element | " + " | ".join(f"{t} (per element)" for t in OTHER_CORES) + " |",
            "|---|---:|" + "---:|" * len(MODES) + ":---:|" + "---:|" * len(OTHER_CORES)]
    for case in CASES:
        name, shape = case[0], case[2]
        elems = shape[0] * shape[1] * shape[2] * shape[3]
        counts = [_per_layer(TARGET, mode, case) for mode in MODES]
        best = min(counts) / elems
        others = [_per_layer(t, "balanced", case) for t in OTHER_CORES]
        rows.append(f"| {name} | {elems:,} | " + " | ".join(f"{n:,} ({n / elems:.2f})" for n in counts)
                    + f" | {'yes' if best <= 0.5 else 'no'} | "
                    + " | ".join(f"{n:,} ({n / elems:.2f})" for n in others) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="replace the section in BENCHMARKS.md")
    args = ap.parse_args()
    text = (f"{TARGET} on QEMU, arm-none-eabi-gcc -O2 (size mode: -Os), one inference; the pooling "
            "layer's own instructions over its input elements; the last columns the same on "
            f"{' and '.join(OTHER_CORES)} (balanced, the default), which have no SIMD instructions. "
            "Measured with "
            "`python3 bench/bench_pool.py --write`.\n\n" + table() + "\n\n" + FLOORS)
    print(text)
    if args.write:
        from bench_compile import write_section  # one way to replace a section of BENCHMARKS.md
        write_section(ROOT / "BENCHMARKS.md", "bench_pool", f"## Pooling: instructions per input element\n\n{text}")
        print(f"updated {ROOT / 'BENCHMARKS.md'}")

if __name__ == "__main__":
    main()
