"""Performance regression guard: instruction counts per model and core, pinned.

    python3 bench/perf_guard.py            # compare with bench/perf_pins.json, exit 1 on drift
    python3 bench/perf_guard.py --update   # re-pin after an intended change (say why in the commit)

Instruction counts on the emulated cores are exact and repeat exactly (docs/EMULATION.md), so a
pin holds to a small tolerance. Drift either way fails: a regression must be fixed, and an
improvement must be pinned so the next regression cannot hide behind it. tests/test_perf_guard.py
runs the check on the models that profile in seconds.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from microlith import profiling

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models" / "mlperf_tiny"
PINS = Path(__file__).resolve().parent / "perf_pins.json"
CORES = ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"]
MODEL_INPUTS = {"kws_ref_model.tflite": "inputs/kws_input_int8.npy", "ad01_int8.tflite": None,
                "pretrainedResnet_quant.tflite": None, "vww_96_int8.tflite": None}
# Configurations beside the defaults, pinned under "MODEL OPTIONS": KWS with its filters staged
# widened (8 KB) is where it meets issue 11's 2.66 M instructions on the Cortex-M4.
CONFIGS = {"kws_ref_model.tflite --stage-weights 8192": dict(stage_weights=8192)}
TOLERANCE = 0.005  # relative; compiler scheduling moves a count by far less


def measure(model: str, core: str) -> int:
    name = model.split(" ")[0]
    inp = MODEL_INPUTS.get(name)
    r = profiling.profile(MODELS / name, core, inputs=MODELS / inp if inp else None, cycles=False,
                          **CONFIGS.get(model, {}))
    return int(r["instructions"])


def check(models, cores, pins: dict) -> list[str]:
    """Problems found: drift beyond the tolerance, or a model/core without a pin."""
    problems = []
    for model in models:
        for core in cores:
            got = measure(model, core)
            want = pins.get(model, {}).get(core)
            if want is None:
                problems.append(f"{model} on {core}: {got:,} instructions, not pinned (run --update)")
            elif abs(got - want) > TOLERANCE * want:
                way = "REGRESSION" if got > want else "improvement not pinned"
                problems.append(f"{model} on {core}: {got:,} instructions, pinned {want:,} "
                                f"({(got - want) / want:+.2%}): {way}")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join([*MODEL_INPUTS, *CONFIGS]))
    ap.add_argument("--cores", default=",".join(CORES))
    ap.add_argument("--update", action="store_true")
    a = ap.parse_args(argv)
    models, cores = a.models.split(","), a.cores.split(",")
    pins = json.loads(PINS.read_text()) if PINS.exists() else {}
    if a.update:
        for model in models:
            for core in cores:
                pins.setdefault(model, {})[core] = measure(model, core)
                print(f"{model} {core}: {pins[model][core]:,}", file=sys.stderr)
        PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
        return 0
    problems = check(models, cores, pins)
    for p in problems:
        print(p)
    print("perf guard: " + ("FAILED" if problems else "all counts within "
                            f"{TOLERANCE:.1%} of their pins"), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
