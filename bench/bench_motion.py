"""A MotionBlock pipeline on BasicMotions, profiled on emulated Cortex-M cores.

    python3 bench/bench_motion.py                      # print the markdown table (about a minute)
    python3 bench/bench_motion.py --write              # also replace the marked section of BENCHMARKS.md
    python3 bench/bench_motion.py --out out/motion     # keep the pipeline folders (for microlith profile)

The pipeline is the one tests/test_dsp_motion.py builds: MotionBlock (accelerometer + gyroscope,
6 axes at 10 Hz, 5 s windows every 2.5 s, 82 features) -> int8 MLP 82-16-4 trained on the 40
BasicMotions training series -> softmax summed over the 3 windows of a 10 s series -> argmax.
Accuracy is the compiled C (host build of the generated folder) on the 40 held-out series;
flash, RAM and instructions are `microlith profile FOLDER --target T` (one window: DSP + model
+ post-processing, instructions counted exactly on QEMU).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

BEGIN, END = "<!-- bench_motion:begin -->", "<!-- bench_motion:end -->"
RUNS = [("float", "cortex-m4"), ("fixed", "cortex-m4"), ("fixed", "cortex-m0")]


def _n(x) -> str:
    return "-" if x is None else f"{x:,}"


def measure(work: Path) -> tuple[list[dict], dict]:
    from microlith.pipeline import HostPipeline, Pipeline, profile
    from test_dsp_motion import _train_motion_pipeline, basicmotions

    t0 = time.perf_counter()
    base = _train_motion_pipeline(work)
    x_test, y_test = basicmotions("TEST")
    info = {"train_s": round(time.perf_counter() - t0, 1), "features": base.n_features,
            "python_acc": float(np.mean([base.process(x)["label"] == y for x, y in zip(x_test, y_test)]))}
    rows = []
    folders = {}
    for variant, target in RUNS:
        if variant not in folders:
            p = Pipeline(f"imu_{variant}", base.block, base.model_bytes, base.labels, base.mean, base.std,
                         hop=base.hop, max_samples=base.max_samples, variant=variant)
            folder = work / f"imu_{variant}"
            p.generate_c(folder, sample=x_test[10][:p.block.n_samples])
            host = HostPipeline(folder, p)
            try:
                acc = float(np.mean([host.process(x)["label"] == y for x, y in zip(x_test, y_test)]))
            finally:
                host.close()
            folders[variant] = (folder, acc)
        folder, acc = folders[variant]
        t0 = time.perf_counter()
        r = profile(folder, target)
        r.update(c_acc=acc, seconds=round(time.perf_counter() - t0, 1))
        rows.append(r)
        print(f"  {variant} on {target}: {_n(r['instructions'])} instructions ({r['seconds']} s)", file=sys.stderr)
    return rows, info


def table(rows: list[dict], info: dict) -> str:
    lines = ["MotionBlock (6 axes: +-4 g accelerometer in m/s^2, +-2000 deg/s gyroscope in rad/s; 10 Hz, windows "
             f"of 50 steps = 300 int16 values every 25 steps; {info['features']} features: per axis mean, std, "
             "min, max, rms, zero-crossing rate, jerk rms, 5 ln band energies 0.2-5 Hz after a 0.3 Hz gravity "
             "low-pass; per sensor 5 magnitude statistics) -> int8 MLP 82-16-4 -> softmax summed over the 3 "
             "windows of a 10 s series -> argmax. Data: BasicMotions (tests/data/basicmotions, BSD-3-Clause), "
             "trained on the 40 training series, accuracy on the 40 held-out series "
             f"(numpy + TFLM pipeline: {100 * info['python_acc']:.1f}%). One window (DSP + model + "
             "post-processing) in measurement firmware on QEMU, instructions counted exactly; flash excludes the "
             "test window; RAM = data + bss + stack high-water mark; ms is an estimate (the traced instruction "
             "stream priced by the core's timings, targets/cycles.py, / the clock of the target's reference board).",
             "",
             "| DSP variant | target | flash B | RAM B | stack B | instructions / window | model | DSP + glue "
             "| est. ms | C = host | int8 C accuracy |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|:---:|---:|"]
    for r in rows:
        ms = r.get("latency_ms_est")
        lines.append(f"| {r['variant']} | {r['target']} | {_n(r['flash_bytes'])} | {_n(r['ram_bytes'])} "
                     f"| {_n(r['stack_bytes'])} | {_n(r['instructions'])} | {_n(r['model_instructions'])} "
                     f"| {_n(r['dsp_and_glue_instructions'])} | {'-' if ms is None else f'{ms:.2f}'} "
                     f"| {'yes' if r['output_matches_host'] else 'NO'} | {100 * r['c_acc']:.1f}% |")
    lines += ["", "Reproduce: `python3 bench/bench_motion.py --out out/motion` (about a minute on 2 CPU cores; needs "
              "torch, arm-none-eabi-gcc and qemu-system-arm); each row is then "
              "`microlith profile out/motion/imu_float --target cortex-m4` (or imu_fixed, cortex-m0)."]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    old = path.read_text()
    if BEGIN not in old or END not in old:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} section to replace")
    head, rest = old.split(BEGIN, 1)
    path.write_text(head + f"{BEGIN}\n{text}{END}" + rest.split(END, 1)[1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="update the marked section of BENCHMARKS.md")
    ap.add_argument("--file", type=Path, default=ROOT / "BENCHMARKS.md", help="file for --write")
    ap.add_argument("--json", type=Path, help="also save the raw profiles here")
    ap.add_argument("--out", type=Path, help="keep the trained model and pipeline folders here")
    a = ap.parse_args(argv)
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        rows, info = measure(a.out)
    else:
        with tempfile.TemporaryDirectory(prefix="microlith-bench-motion-") as tmp:
            rows, info = measure(Path(tmp))
    text = table(rows, info)
    print(text)
    if a.json:
        a.json.write_text(json.dumps({"info": info, "rows": rows}, indent=1, default=str))
    if a.write:
        write_section(a.file, text)
        print(f"updated {a.file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
