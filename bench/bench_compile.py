"""Compile the four MLPerf Tiny int8 models: arena (ours vs TFLM's), flash of weights + code,
compile time, and the byte-exact check against TFLM.

    python3 bench/bench_compile.py [--samples 100] [--write]

Arena: microlith's planned arena (in-place layers on, and off). TFLM's arena holds the input and
output tensors while ours uses the caller's buffers for them, so the like-for-like column is ours
plus input and output beside TFLM's arena on the emulated Cortex-M4 (32-bit pointers;
../shared/baselines/tflm_cmsisnn_m4.json). TFLM's smallest arena on the 64-bit host
(tflm_host_arena.json) is larger by its pointer-sized bookkeeping and is listed last. Flash, M4: the
generated folder's code and the constant arrays a linked Cortex-M4 build keeps (`microlith profile`'s
model_code_bytes + weight_bytes_linked: DSP builds link the DSP layouts in place of the row-major
arrays); host: .text + .data of the folder's objects built with gcc -O2, measured with `size` (those
builds compile no DSP layout).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import microlith  # noqa: E402
from microlith.codegen.c import prepare  # noqa: E402
from microlith.targets.host import object_sizes  # noqa: E402

MODELS = ROOT / "examples" / "models" / "mlperf_tiny"
BASELINE = ROOT.parent / "shared" / "baselines" / "tflm_host_arena.json"
BASELINE_M4 = ROOT.parent / "shared" / "baselines" / "tflm_cmsisnn_m4.json"
INT8 = ["kws_ref_model.tflite", "vww_96_int8.tflite", "pretrainedResnet_quant.tflite", "ad01_int8.tflite"]


def m4_linked(path: Path) -> int | None:
    """The folder's code + the weights a linked Cortex-M4 firmware keeps (None without the tools)."""
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        return None
    from microlith import profiling
    r = profiling.profile(path, "cortex-m4", cycles=False)
    return r["model_code_bytes"] + r["weight_bytes_linked"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    a = ap.parse_args()
    base = json.loads(BASELINE.read_text())["models"] if BASELINE.exists() else {}
    base_m4 = json.loads(BASELINE_M4.read_text()).get("tflm_cmsis_nn_O2", {}) if BASELINE_M4.exists() else {}
    rows = []
    for model in INT8:
        path = MODELS / model
        g = microlith.load(path)
        io_bytes = sum(g.t(n).nbytes for n in g.inputs + g.outputs)
        no_inplace = prepare(g, strategy="greedy-noinplace").plan.arena_size
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = microlith.compile(path, Path(tmp) / "c", measure=False)
            seconds = time.perf_counter() - t0
            host = object_sizes(Path(tmp) / "c")
        arm = m4_linked(path)
        ver = microlith.verify(path, samples=a.samples, seed=11)
        tflm = base.get(model, {}).get("min_arena_bytes")
        tflm_m4 = base_m4.get(model, {}).get("arena_bytes")
        rows.append((model, res["arena_bytes"], no_inplace, io_bytes, res["arena_bytes"] + io_bytes, tflm_m4,
                     tflm, res["weight_bytes"] + res.get("layout_bytes", 0),
                     arm, host["text"] + host["data"], seconds,
                     f"{ver['samples'] - ver['mismatched_samples']}/{ver['samples']}"))
    fmt = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731
    lines = ["| model | arena (B) | arena, no in-place (B) | input+output (B) | arena + input+output (B) "
             "| TFLM arena, Cortex-M4 (B) | TFLM arena, 64-bit host (B) | "
             "constant arrays in the folder, every core's layout (B) | flash code+weights, M4 linked (B) | same, host x86-64 objects (B) | compile (s) | "
             "byte-exact vs TFLM |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r[0]} | {fmt(r[1])} | {fmt(r[2])} | {fmt(r[3])} | {fmt(r[4])} | {fmt(r[5])} | "
                     f"{fmt(r[6])} | {fmt(r[7])} | {fmt(r[8])} | {fmt(r[9])} | {r[10]:.2f} | {r[11]} |")
    table = "\n".join(lines)
    print(table)
    if a.write:
        write_section(ROOT / "BENCHMARKS.md", "bench_compile", table +
                      f"\n\nMeasured with `python3 bench/bench_compile.py --samples {a.samples} --write`.")
    return 0


def write_section(path: Path, key: str, body: str) -> None:
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
