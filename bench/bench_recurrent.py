"""A PyTorch GRU activity classifier, through ONNX, compiled to int8 C and profiled on Cortex-M.

    python3 bench/bench_recurrent.py                 # print the markdown table (about a minute)
    python3 bench/bench_recurrent.py --out out/gru   # keep the ONNX, .tflite and C folder

The model is the one tests/test_recurrent_onnx.py trains: BasicMotions series (6 IMU axes,
100 steps at 10 Hz, averaged to 20 steps of 0.5 s), standardized, -> GRU(6 -> 12) -> last step
-> Linear(12 -> 4), trained 150 full-batch Adam steps on the 40 training series (seed 0),
exported with torch.onnx.export, loaded, quantized (int8, calibrated on the training series),
compiled and checked byte-exact against TFLM. Accuracy is on the 40 held-out series: float
(microlith's float IR, as quantize reports it) and int8 (the generated C, host build). Flash,
RAM and instructions are microlith.profiling.profile (firmware on QEMU, instructions counted
exactly). TFLM's arena is the smallest arena_size with which TFLM's Python interpreter (64-bit
host) allocates and invokes the same int8 .tflite (binary search, one process per try).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

TARGETS = ("cortex-m4", "cortex-m0")

_TRY_ARENA = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
interp = runtime.Interpreter.from_bytes(open(sys.argv[1], "rb").read(), arena_size=int(sys.argv[2]))
d = interp.get_input_details(0)
interp.set_input(np.zeros(d["shape"], d["dtype"]), 0)
interp.invoke()
if len(sys.argv) > 3:
    interp.print_allocations()
"""


def tflm_min_arena(tflite: Path, hi: int = 1 << 20) -> int:
    """Smallest arena_size with which TFLM allocates and invokes the model (TFLM exits the
    process when its arena is too small, so each try runs in its own)."""
    def fits(size: int) -> bool:
        r = subprocess.run([sys.executable, "-c", _TRY_ARENA, str(tflite), str(size)], capture_output=True, check=False,
                           timeout=120)
        return r.returncode == 0
    if not fits(hi):
        raise SystemExit(f"TFLM cannot run {tflite} even with a {hi}-byte arena")
    lo = 0  # fits(lo) is False, fits(hi) is True
    while hi - lo > 16:  # TFLM aligns its buffers to 16 bytes
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    while hi > lo + 1 and fits(hi - 1):
        hi -= 1
    return hi


def tflm_recorded(tflite: Path, arena: int) -> dict:
    """TFLM's RecordingMicroAllocator report after one invoke: total, head (activations) and
    tail (persistent: per-tensor and per-node structs, kernel data) bytes."""
    r = subprocess.run([sys.executable, "-c", _TRY_ARENA, str(tflite), str(arena), "print"], capture_output=True,
                       text=True, timeout=120, check=True)
    found = re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", r.stdout + r.stderr)
    return {k: int(v) for k, v in found}


def measure(work: Path) -> dict:
    from test_recurrent_onnx import host_accuracy, train_gru

    import microlith
    from microlith.profiling import profile

    t0 = time.perf_counter()
    m = train_gru(work)
    info = {"train_s": round(time.perf_counter() - t0, 1), "torch_float_acc": m["torch_float_acc"]}
    g = microlith.load(str(m["onnx"]))
    info["float_ops"] = len(g.nodes)
    q = work / "gru_int8.tflite"
    r = microlith.quantize(g, m["x_train"], str(q), evaluation=m["x_test"], labels=m["y_test"])
    gq = microlith.load(str(q))
    kinds = sorted({n.op.value for n in gq.nodes})
    info.update(float_acc=r["accuracy"]["top1_float"], tflm_int8_acc=r["accuracy"]["top1_int8"],
                int8_ops=len(gq.nodes), op_kinds=", ".join(kinds), tflite_bytes=r["tflite_bytes"])
    np.save(work / "test.npy", m["x_test"])
    c = microlith.compile(str(q), work / "c", name="gru")
    info.update(arena=c["arena_bytes"], weights=c["weight_bytes"])
    info["c_acc"] = host_accuracy(work / "c", c["name"], q, m["x_test"], m["y_test"], work / "host")
    v = microlith.verify(str(q), samples=20, inputs=str(work / "test.npy"))
    info["exact"] = f"{v['samples'] - v['mismatched_samples']}/{v['samples']}"
    info["tflm_arena"] = tflm_min_arena(q)
    info["tflm_recorded"] = tflm_recorded(q, info["tflm_arena"])
    rows = []
    for target in TARGETS:
        t1 = time.perf_counter()
        p = profile(str(q), target, inputs=str(work / "test.npy"))  # the first held-out series
        p["seconds"] = round(time.perf_counter() - t1, 1)
        rows.append(p)
        print(f"  {target}: {p['instructions']:,} instructions ({p['seconds']} s)", file=sys.stderr)
    info["rows"] = rows
    return info


def _n(x) -> str:
    return "-" if x is None else f"{x:,}"


def table(info: dict) -> str:
    rec = info["tflm_recorded"]
    lines = [
        "GRU activity classifier (PyTorch -> ONNX -> microlith): BasicMotions, 6 IMU axes averaged to 20 steps, "
        f"GRU(6 -> 12) unrolled over the 20 steps, last step -> Linear(12 -> 4): {info['int8_ops']} int8 ops "
        f"({info['op_kinds']}). Trained on the 40 training "
        "series; accuracy on the 40 held-out series.",
        "",
        f"- accuracy: float {100 * info['float_acc']:.1f}% (torch {100 * info['torch_float_acc']:.1f}%), "
        f"int8 TFLM {100 * info['tflm_int8_acc']:.1f}%, int8 generated C {100 * info['c_acc']:.1f}%",
        f"- byte-exact against TFLM: {info['exact']} samples (20 random + 40 held-out series)",
        f"- arena: microlith {_n(info['arena'])} B, TFLM (smallest that runs, 64-bit host) {_n(info['tflm_arena'])} B; "
        f"TFLM's own report after invoke: {_n(rec.get('total'))} B = head (activations) {_n(rec.get('head'))} B "
        f"+ tail (per-tensor and per-node structs, kernel data) {_n(rec.get('tail'))} B",
        f"- weights and parameters {_n(info['weights'])} B; .tflite {_n(info['tflite_bytes'])} B",
        "",
        "| target | flash B | RAM B | stack B | arena B | instructions / inference | est. ms | C = host |",
        "|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in info["rows"]:
        ms = r.get("latency_ms_est")
        lines.append(f"| {r['target']} | {_n(r['flash_bytes'])} | {_n(r['ram_bytes'])} | {_n(r['stack_bytes'])} "
                     f"| {_n(r['arena_bytes'])} | {_n(r['instructions'])} | {'-' if ms is None else f'{ms:.2f}'} "
                     f"| {'yes' if r['output_matches_host'] else 'NO'} |")
    lines += ["", "Reproduce: `python3 bench/bench_recurrent.py` (needs torch, arm-none-eabi-gcc and qemu-system-arm)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="keep the model files here")
    a = ap.parse_args(argv)
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        info = measure(a.out)
    else:
        with tempfile.TemporaryDirectory(prefix="microlith-bench-recurrent-") as tmp:
            info = measure(Path(tmp))
    print(table(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
