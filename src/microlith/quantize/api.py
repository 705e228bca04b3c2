"""`quantize`: float model + calibration data -> standard int8 (or int16x8) .tflite + accuracy report.

The one public entry of the quantizer; the CLI's `microlith quantize` is a thin layer on it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..ir import Graph, MicrolithError
from .calibrate import METHODS
from .data import DataOptions, load_dataset
from .ptq import (build_int8_graph, check_activation_dtype, check_float_graph, collect_ranges_for,
                  plan_activations)
from .report import evaluate, format_report, int8_inputs


def _io_desc(g: Graph, names: list[str]) -> list[dict]:
    out = []
    for n in names:
        t = g.t(n)
        d = {"name": n, "shape": list(t.shape), "dtype": t.dtype}
        if t.quant is not None:
            d.update(scale=t.quant.scale[0], zero_point=t.quant.zero_point[0])
        out.append(d)
    return out


def quantize(model, calibration, out_path, *, method: str = "percentile", io: str | None = None,
             percentile: float = 99.99, fc_per_channel: bool = False, data_options=None,
             evaluation=None, labels=None, eval_samples: int = 200, per_layer_samples: int = 16,
             report: bool = True, activations: str = "int8") -> dict:
    """Quantize a float model to int8 and write a standard .tflite that TFLM runs.

    model:        float .tflite/.onnx path or IR Graph (int8 weights of hybrid models are
                  dequantized first).
    calibration:  .npy/.npz path, folder of images or WAV files, an array (a batch), or an
                  iterable of samples (an array, or one array per input).
    out_path:     where the int8 .tflite goes.
    method:       "minmax" | "percentile" | "mse" (activation ranges, see quantize.calibrate).
    io:           the activation type (default): model inputs/outputs are int8 (int16);
                  "float": float32 I/O with QUANTIZE at the inputs and DEQUANTIZE at the outputs.
    activations:  "int8" (TFLite's int8 spec) or "int16": TFLite's 16x8 mode (int16 activations
                  with zero point 0, int8 weights, int64 bias), which TFLM runs with its int16
                  kernels; ops without one (HARD_SWISH) are refused.
    fc_per_channel: per-channel FULLY_CONNECTED weights (needs TFLM from 2024 / CMSIS-NN 6+).
    data_options: DataOptions or dict (limit, seed, resize, scale, mean, std, sample_rate,
                  length) for paths; see quantize.data.
    evaluation:   data for the accuracy report (same forms as calibration; default: the
                  first `eval_samples` calibration samples); labels: int class per sample
                  (default: class subfolders of an image/WAV folder, or `labels` in a .npz).
    report:       False skips the accuracy figures (the file is still checked in TFLM).

    Returns a JSON-serializable dict: model, output, method, io, activations, calibration_samples,
    preprocessing, tflite_bytes, ops, requantize_ops, inputs, outputs (with scale and
    zero point), and if report: accuracy (samples, argmax_agreement, output_sqnr_db,
    top1_float/top1_int8 with labels, per_layer, worst_layer) and report_text.
    """
    from ..api import load
    from ..frontends.tflite import parse_tflite
    from ..frontends.tflite_writer import write_tflite
    from ..verify import Oracle

    if method not in METHODS:
        raise MicrolithError(f"unknown calibration method {method!r}; use one of {', '.join(METHODS)}")
    if activations not in ("int8", "int16"):
        raise MicrolithError(f"activations must be 'int8' or 'int16', not {activations!r}")
    io = io or activations
    if io not in (activations, "float"):
        raise MicrolithError(f"io must be '{activations}' (the activation type) or 'float', not {io!r}")
    opts = DataOptions.of(data_options)
    gf = load(model)
    check_float_graph(gf)
    check_activation_dtype(gf, activations)
    cal = load_dataset(calibration, gf, opts, "calibration")
    ranges = collect_ranges_for(gf, cal.samples, method, percentile)
    gq = build_int8_graph(gf, plan_activations(gf, ranges, activations), io, fc_per_channel, activations)
    kind = "int8" if activations == "int8" else "int16x8"
    model_bytes = write_tflite(gq, description=f"microlith {kind} PTQ ({method}) of {gf.source or gf.name}")
    out = Path(out_path)
    if out.parent and not out.parent.exists():
        raise MicrolithError(f"{out}: folder {out.parent} does not exist")
    try:
        out.write_bytes(model_bytes)
    except OSError as e:
        raise MicrolithError(f"{out}: cannot write ({e.strerror})") from None
    written = parse_tflite(model_bytes, str(out))

    result = {
        "model": gf.source or gf.name, "output": os.fspath(out), "method": method, "io": io,
        "activations": activations,
        "calibration_samples": len(cal.samples), "calibration_source": cal.source,
        "preprocessing": cal.notes, "tflite_bytes": len(model_bytes), "ops": len(written.nodes),
        "requantize_ops": gq.meta.get("requantize_ops", 0),
        "inputs": _io_desc(written, written.inputs), "outputs": _io_desc(written, written.outputs),
    }
    if not report:
        Oracle(model_bytes, written).run(int8_inputs(written, cal.samples[0]))  # loads and runs in TFLM
        return result
    if evaluation is None:
        ev_samples = cal.samples[:eval_samples]
        ev_labels = cal.labels[:eval_samples] if cal.labels is not None else None
        result["evaluation_source"] = f"first {len(ev_samples)} calibration samples"
    else:
        ev = load_dataset(evaluation, gf, opts if isinstance(evaluation, (str, os.PathLike)) else None,
                          "evaluation")
        ev_samples, ev_labels = ev.samples, ev.labels
        result["evaluation_source"] = ev.source
    if labels is not None:
        ev_labels = np.asarray(labels).reshape(-1).astype(np.int64)
        if len(ev_labels) != len(ev_samples):
            raise MicrolithError(f"{len(ev_labels)} labels for {len(ev_samples)} evaluation samples")
    acc = evaluate(gf, model_bytes, written, ev_samples, ev_labels, per_layer_samples=per_layer_samples)
    result["accuracy"] = acc
    result["report_text"] = format_report(acc)
    return result
