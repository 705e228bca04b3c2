"""--stage-weights on Cortex-M4 with the STM32L4R5's flash: what staging filters in the arena buys
in estimated board cycles and what it costs in arena and instructions (MLPerf Tiny models).

    python3 bench/bench_stage.py            # print the markdown table (about a minute)
    python3 bench/bench_stage.py --write    # and replace its section in BENCHMARKS.md

Each row is one `profile --target cortex-m4 --stage-weights S` run: instructions counted exactly on
QEMU, cycles estimated (the traced instruction stream priced by targets/cycles.py, and with the
board's flash model, targets/memmodel.py), outputs checked equal to the host build.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from microlith import profiling  # noqa: E402

MODELS = ROOT / "examples" / "models" / "mlperf_tiny"
TARGET = "cortex-m4"
# (label, model file, the budgets measured beside "off"): BYTES budgets are each model's own
# largest filter read 3+ times (staged as it is where its widened copy does not fit), twice that
# (every convolution filter widened), and for ResNet-8 also its middle stage's
CASES = [
    ("KWS DS-CNN", "kws_ref_model.tflite", ("free", 4096, 8192)),
    ("VWW MobileNetV1", "vww_96_int8.tflite", ("free", 16384, 131072)),
    ("IC ResNet-8", "pretrainedResnet_quant.tflite", ("free", 9216, 36864, 73728)),
    ("AD autoencoder", "ad01_int8.tflite", ("free",)),
]


def _row(label: str, budget, r: dict, base: dict, in_ram: bool = False) -> str:
    st = r.get("staged_weights") or {}
    layers = st.get("layers") or {}
    mm = r["memory_model"]
    delta = r["cycles_est_board"] / base["cycles_est_board"] - 1
    name = "off" if budget == 0 else f"`{budget}`" if isinstance(budget, str) else f"{budget:,}"
    name += ", `--weights-in-ram`" if in_ram else ""
    return (f"| {label} | {name} | {len(layers)} ({sum(layers.values()):,} B) | {len(st.get('widened') or [])} | "
            f"{r['arena_bytes']:,} | "
            f"{r['ram_bytes']:,} | {r['instructions']:,} | {r['cycles_est']:,} | "
            f"{mm['flash_load_stall_cycles']:,} | {r['cycles_est_board']:,} | "
            f"{'-' if budget == 0 and not in_ram else f'{delta * 100:+.1f}%'} |")


def table() -> tuple[str, list[int]]:
    """The rows, and the flash load stalls each model's --weights-in-ram row has left."""
    rows = ["| model | --stage-weights | layers staged (bytes copied) | of them widened | arena B | RAM B | "
            "instructions | cycles, zero wait (est.) | flash load stalls (est.) | "
            "cycles with stm32l4r5 flash (est.) | vs off |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    left = []
    for label, f, budgets in CASES:
        base = None
        for budget in (0, *budgets):
            with tempfile.TemporaryDirectory() as tmp:
                r = profiling.profile(str(MODELS / f), TARGET, workdir=tmp, stage_weights=budget)
            assert r["output_matches_host"], (label, budget)
            base = base or r
            rows.append(_row(label, budget, r, base))
        # --- issue 11: no staging, every constant in RAM instead (the start-up code's copy)
        with tempfile.TemporaryDirectory() as tmp:
            r = profiling.profile(str(MODELS / f), TARGET, workdir=tmp, weights_in_ram=True)
        assert r["output_matches_host"], (label, "in RAM")
        rows.append(_row(label, 0, r, base, in_ram=True))
        left.append(r["memory_model"]["flash_load_stall_cycles"])
    return "\n".join(rows), left


# Boards with other flash caches, on the model that gains most on the STM32L4R5
OTHER_BOARDS = ("stm32f746", "stm32u575", "stm32f207", "rp2040")


def other_boards() -> str:
    rows = ["| board | --stage-weights | arena B | instructions | cycles, zero wait (est.) | "
            "cycles with the board's flash (est.) | vs off |", "|---|---|---:|---:|---:|---:|---:|"]
    for board in OTHER_BOARDS:
        base = None
        for budget in (0, "free", 36864, 73728):
            with tempfile.TemporaryDirectory() as tmp:
                r = profiling.profile(str(MODELS / "pretrainedResnet_quant.tflite"), board, workdir=tmp,
                                      stage_weights=budget)
            assert r["output_matches_host"], (board, budget)
            base = base or r
            delta = r["cycles_est_board"] / base["cycles_est_board"] - 1
            name = "off" if budget == 0 else f"`{budget}`" if isinstance(budget, str) else f"{budget:,}"
            rows.append(f"| {board} | {name} | {r['arena_bytes']:,} | {r['instructions']:,} | {r['cycles_est']:,} | "
                        f"{r['cycles_est_board']:,} | {'-' if budget == 0 else f'{delta * 100:+.1f}%'} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="replace the section in BENCHMARKS.md")
    args = ap.parse_args()
    rows, left = table()
    text = (f"{TARGET} on QEMU (mps2-an386), one inference per row, outputs equal to the host build (and "
            "the staged builds byte-exact with TFLM: tests/test_stage_weights.py). `free` stages only the "
            "filters that fit where the arena is free at their layer; a byte budget stages every filter "
            "read at least 3 times whose copy is at most that size and lets the arena grow. A "
            "convolution filter's copy is widened to int16 (twice its bytes) where that fits, for the "
            "two-channel routine (16 instructions and 26 cycles per 24 MACs against the six-pixel "
            "routine's 18 and 31, the loops as the cycle model prices them), else copied as it is. Flash load stalls and the "
            "board cycles come from the stm32l4r5 flash model (5 wait states, 256 B ART data cache; "
            "estimates, see the cycle model validation). Measured with "
            "`python3 bench/bench_stage.py --write`.\n\n" + rows + "\n\n"
            "Staged: convolution filters, and a depthwise layer's DSP group data where it has some "
            "(VWW's stride-2 layer 3; KWS's depthwise layers run the 3x3 planes path). What staging "
            "cannot remove: the copy's own flash reads, the per-channel data of the depthwise 3x3 planes "
            "path (most of VWW's depthwise layers; not staged), the fully connected weights (read once; "
            "AD is almost all of those, so nothing there is staged), and instruction-fetch stalls. "
            "`--weights-in-ram` removes the weights' load stalls, for RAM of the weights' size (the RAM "
            f"column: data + bss + stack); the few left ({min(left):,} to {max(left):,} cycles) come from what "
            "stays in flash, "
            "the layers' parameter structs among it, and the instruction fetches' stay.\n\n"
            "The same ResNet-8 on boards whose flash sits behind other caches (their board files' memory "
            "models: stm32f746, Cortex-M7, 7 wait states behind the core's 4 KB instruction and 4 KB data "
            "caches and 256-bit flash reads; stm32u575, Cortex-M33, 4 wait states behind an 8 KB cache "
            "for instructions and data alike; stm32f207, Cortex-M3, 3 wait states behind a 128 B data "
            "cache of 128-bit lines; rp2040, Cortex-M0+, the Pico's QSPI flash behind a 16 KB XIP cache, "
            "a miss about 56 cycles): staging pays far less where a data cache of a few KB "
            "holds much of a filter, and the widened filters' two-channel routine is what remains. The "
            "Cortex-M3 and M0 copy the filters as they are (no two-channel routine there; the arena still "
            "holds the widened size the DSP builds of the same folder use). On the RP2040 the M0 "
            "convolution reads each filter again for every two pixels, so the 64-channel layers' filters "
            "(18 and 36 KB, more than the XIP cache) kept missing it unless staged (layer 9 alone: 8.4 M "
            "stall cycles, profiled per layer; 64.1 M cycles in all, priced with the RP2040's Cortex-M0+ "
            "table). Code generated for the board (`--target rp2040`, as these rows are) takes such filters "
            "in channel chunks that fit one way of the cache (8 KB), each pixel pair's column gathered once "
            "per chunk: 55.1 M cycles for 1.6% more instructions; staging them (in RAM, no chunks) still "
            "saves about 2%.\n\n"
            + other_boards())
    print(text)
    if args.write:
        from bench_compile import write_section  # one way to replace a section of BENCHMARKS.md
        write_section(ROOT / "BENCHMARKS.md", "bench_stage",
                      f"## Filters staged in the arena (`--stage-weights`)\n\n{text}")
        print(f"updated {ROOT / 'BENCHMARKS.md'}")

if __name__ == "__main__":
    main()
