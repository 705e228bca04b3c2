"""MLPerf Tiny int8 models on the emulated Cortex-M4: microlith beside TFLM + CMSIS-NN.

    python3 bench/bench_cortexm.py            # print the markdown table
    python3 bench/bench_cortexm.py --write    # also replace the marked section of BENCHMARKS.md

Instructions are counted exactly on QEMU mps2-an386 (see docs/EMULATION.md); the TFLM figures
come from /work/shared/baselines/tflm_cmsisnn_m4.json, measured the same way. A model that
cannot be compiled yet (an op still missing) gets its error in the row.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from microlith.ir import MicrolithError
from microlith import profiling
from microlith.targets import cortexm

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path("/work/shared/models/mlperf_tiny")
BASELINE = Path("/work/shared/baselines/tflm_cmsisnn_m4.json")
BEGIN, END = "<!-- bench_cortexm:begin -->", "<!-- bench_cortexm:end -->"
ROWS = [("KWS DS-CNN", "kws_ref_model.tflite", "inputs/kws_input_int8.npy"),
        ("VWW MobileNetV1", "vww_96_int8.tflite", None),
        ("IC ResNet-8", "pretrainedResnet_quant.tflite", None),
        ("AD autoencoder", "ad01_int8.tflite", None)]


def _n(x) -> str:
    return "-" if x is None else f"{x:,}"


def measure(models: Path, target: str) -> list[dict]:
    out = []
    for label, fname, inp in ROWS:
        t0 = time.perf_counter()
        try:
            inputs = models / inp if inp else None
            r = profiling.profile(models / fname, target, inputs=inputs)
            r["error"] = None
        except MicrolithError as e:
            r = {"error": str(e)}
        r.update(label=label, file=fname, seconds=round(time.perf_counter() - t0, 1))
        out.append(r)
        print(f"  {label}: {r['error'] or _n(r['instructions']) + ' instructions'} ({r['seconds']} s)",
              file=sys.stderr)
    return out


def table(rows: list[dict], baseline: dict, target: str) -> str:
    base = baseline.get("tflm_cmsis_nn_O2", {})
    est = cortexm.estimate(1, target)
    board = est["estimate_board"]
    clock = cortexm.get_target(board)["clock_hz"]["value"] / 1e6 if board else None
    ms_head = f"est. ms @{clock:g} MHz" if board else "est. ms"
    lines = [f"Target `{target}` (QEMU {cortexm.core_of(target)['qemu']['machine']}, -icount), one inference, "
             "arm-none-eabi-gcc 12.2 -O2. Flash excludes the test input; RAM = data + bss (arena included) "
             "+ stack high-water mark. "
             + (f"Latency is an estimate (instructions x CPI {est['cpi_estimate']} / {clock:g} MHz, the "
                f"{board} clock), not a measurement." if board else "No latency estimate for this target."),
             "",
             f"| model | instructions | instr/MAC | flash B | RAM B | stack B | {ms_head} "
             "| output = host | TFLM+CMSIS-NN instructions (per MAC) | TFLM flash B | TFLM RAM B "
             "| instructions vs TFLM |",
             "|---|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|"]
    for r in rows:
        b = base.get(r["file"], {})
        tflm = f"{_n(b.get('instructions'))} ({b['instructions_per_mac']:.2f})" if b else "-"
        if r["error"]:
            err = r["error"].replace("|", "/")
            lines.append(f"| {r['label']} | error: {err} | | | | | | | {tflm} | {_n(b.get('flash_bytes'))} "
                         f"| {_n(b.get('ram_bytes'))} | |")
            continue
        ratio = f"{r['instructions'] / b['instructions']:.2f}x" if b.get("instructions") else "-"
        ms = "-" if r["latency_ms_est"] is None else f"{r['latency_ms_est']:.1f}"
        lines.append(f"| {r['label']} | {_n(r['instructions'])} | {r['instructions_per_mac']:.2f} "
                     f"| {_n(r['flash_bytes'])} | {_n(r['ram_bytes'])} | {_n(r['stack_bytes'])} | {ms} "
                     f"| {'yes' if r['output_matches_host'] else 'NO'} | {tflm} | {_n(b.get('flash_bytes'))} "
                     f"| {_n(b.get('ram_bytes'))} | {ratio} |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    block = f"{BEGIN}\n{text}{END}\n"
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n## Cortex-M4 (emulated): microlith vs TFLM + CMSIS-NN\n\n" + block
    path.write_text(new)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--models", type=Path, default=MODELS)
    ap.add_argument("--baseline", type=Path, default=BASELINE)
    ap.add_argument("--write", action="store_true", help="update the marked section of BENCHMARKS.md")
    ap.add_argument("--file", type=Path, default=ROOT / "BENCHMARKS.md", help="file for --write")
    ap.add_argument("--json", type=Path, help="also save the raw profiles here")
    a = ap.parse_args(argv)
    baseline = json.loads(a.baseline.read_text()) if a.baseline.exists() else {}
    rows = measure(a.models, a.target)
    text = table(rows, baseline, a.target)
    print(text)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1, default=str))
    if a.write:
        write_section(a.file, text)
        print(f"updated {a.file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
