"""Float32 references of the reduction and normalization ops (issue 10), with TFLite's float
kernel semantics, for reference_float's table: ARG_MAX/ARG_MIN (first extreme wins), REDUCE_MAX,
REDUCE_MIN, SUM, LOG_SOFTMAX, L2_NORMALIZATION (epsilon 1e-6 as TFLM's l2norm.cc) and CUMSUM."""
from __future__ import annotations

import numpy as np

from .ir import Op

F32 = np.float32


def _axes(x: np.ndarray, values) -> tuple[int, ...]:
    return tuple(sorted({int(a) + x.ndim if a < 0 else int(a) for a in np.asarray(values).reshape(-1)}))


def arg_min_max(node, g, ins, out_shape):
    x = np.asarray(ins[0])
    axis = _axes(x, np.asarray(ins[1]).reshape(-1)[:1])[0]
    idx = x.argmax(axis=axis) if node.op is Op.ARG_MAX else x.argmin(axis=axis)
    return [idx.astype(np.int32).reshape(out_shape)]


def _reducer(fn):
    def run(node, g, ins, out_shape):
        x = np.asarray(ins[0], F32)
        return [np.asarray(fn(x, axis=_axes(x, ins[1])), F32).reshape(out_shape)]
    return run


reduce_max = _reducer(np.max)
reduce_min = _reducer(np.min)
reduce_sum = _reducer(lambda x, axis: x.sum(axis=axis, dtype=np.float64))


def log_softmax(node, g, ins, out_shape):
    x = np.asarray(ins[0], F32)
    d = x - x.max(axis=-1, keepdims=True)
    return [(d - np.log(np.exp(d).sum(axis=-1, keepdims=True))).astype(F32)]


def l2_normalization(node, g, ins, out_shape):
    x = np.asarray(ins[0], F32)
    norm = np.sqrt((x.astype(np.float64) ** 2).sum(axis=-1, keepdims=True))
    return [(x / np.maximum(norm, 1e-6)).astype(F32)]


def cumsum(node, g, ins, out_shape):
    x = np.asarray(ins[0], F32)
    axis = _axes(x, ins[1])[0]
    if node.attrs["reverse"]:
        x = np.flip(x, axis)
    y = np.cumsum(x, axis=axis, dtype=np.float64)
    if node.attrs["exclusive"]:
        y = y - x
    if node.attrs["reverse"]:
        y = np.flip(y, axis)
    return [y.astype(F32)]


RUN = {
    Op.ARG_MAX: arg_min_max,
    Op.ARG_MIN: arg_min_max,
    Op.REDUCE_MAX: reduce_max,
    Op.REDUCE_MIN: reduce_min,
    Op.SUM: reduce_sum,
    Op.LOG_SOFTMAX: log_softmax,
    Op.L2_NORMALIZATION: l2_normalization,
    Op.CUMSUM: cumsum,
}


def mixes_batch(node, g) -> bool:
    """True if the op combines values across axis 0, so samples cannot be stacked there."""
    if node.op not in RUN:
        return False
    rank = len(g.t(node.inputs[0]).shape)
    if node.op in (Op.LOG_SOFTMAX, Op.L2_NORMALIZATION):  # they work along the last axis
        return rank <= 1
    operand = g.t(node.inputs[1])
    if not operand.is_const:
        return True
    values = np.asarray(operand.data).reshape(-1)
    if node.op in (Op.ARG_MAX, Op.ARG_MIN, Op.CUMSUM):  # TFLM reads the first axis value only
        values = values[:1]
    return any(int(a) % max(rank, 1) == 0 for a in values)
