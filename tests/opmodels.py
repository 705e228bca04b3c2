"""Single-op TFLite models written with the flatbuffers builder, and the byte-exact check.

A test describes one op with the exact edge case it wants (shapes, strides, zero points at the
int8 limits, per-channel scales...), writes it as a .tflite, and `assert_exact` demands that the
numpy reference and the generated C both match TFLM byte for byte on random inputs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import microlith
from microlith.frontends.tflite import load_tflite
from microlith.frontends.tflite_writer import write_tflite
from microlith.ir import Graph, Node, Op, Quant, Tensor
from microlith.reference import run_reference
from microlith.verify import Oracle, random_inputs


def act(name, shape, scale=0.05, zp=0, dtype="int8"):
    """An activation tensor with per-tensor quantization."""
    return Tensor(name, tuple(shape), dtype, Quant((float(scale),), (int(zp),)))


def const(name, data, scale=None, zp=None, axis=0, dtype=None):
    """A constant tensor; scale may be a list (per-channel along `axis`)."""
    data = np.asarray(data)
    dtype = dtype or str(data.dtype)
    quant = None
    if scale is not None:
        scales = tuple(float(s) for s in np.atleast_1d(scale))
        zps = tuple(int(z) for z in np.atleast_1d(zp if zp is not None else [0] * len(scales)))
        quant = Quant(scales, zps, axis)
    return Tensor(name, tuple(data.shape), dtype, quant, data.astype(dtype))


def single_op(op: Op, inputs: list[Tensor | None], outputs: list[Tensor], attrs: dict | None = None,
              graph_inputs: list[str] | None = None) -> Graph:
    tensors = {t.name: t for t in inputs + outputs if t is not None}
    ins = graph_inputs or [t.name for t in inputs if t is not None and not t.is_const]
    node = Node(op, tuple(t.name if t is not None else None for t in inputs),
                tuple(t.name for t in outputs), dict(attrs or {}))
    return Graph("op_" + op.value.lower(), tensors, [node], ins, [t.name for t in outputs])


def write(g: Graph, tmp_path: Path, name: str | None = None) -> Path:
    path = Path(tmp_path) / f"{name or g.name}.tflite"
    path.write_bytes(write_tflite(g))
    return path


def assert_exact(g: Graph, tmp_path: Path, samples: int = 20, seed: int = 0, name: str | None = None,
                 inputs: list[list[np.ndarray]] | None = None) -> dict:
    """The numpy reference and the generated C both equal TFLM, byte for byte."""
    path = write(g, tmp_path, name)
    model = load_tflite(path)
    oracle = Oracle(path.read_bytes(), model)
    rng = np.random.default_rng(seed)
    cases = (inputs or []) + [random_inputs(model, rng) for _ in range(samples)]
    for k, xs in enumerate(cases):
        want = oracle.run(xs)
        got = run_reference(model, xs)
        for w, name_ in zip(want, model.outputs):
            g_ = got[name_]
            w = np.asarray(w).astype(g_.dtype).reshape(-1)
            if w.tobytes() != g_.reshape(-1).tobytes():  # bitwise, also for float outputs
                diff = np.abs(w.astype(np.float64) - g_.reshape(-1).astype(np.float64))
                raise AssertionError(f"numpy reference differs from TFLM on sample {k}: "
                                     f"{np.count_nonzero(diff)} values differ, max |diff| {np.nanmax(diff)}")
    given = None
    if inputs:
        given = Path(tmp_path) / f"{name or g.name}_inputs.npz"
        np.savez(given, *[np.stack([case[k] for case in inputs]) for k in range(len(model.inputs))])
    res = microlith.verify(path, samples=samples, seed=seed + 1, inputs=str(given) if given else None)
    assert res["bit_exact"], res
    return res
