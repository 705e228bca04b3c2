"""LayerNormalization: MEAN, SUB, MUL, ADD and TFLM's RSQRT (1/sqrt of the variance), all ops
TFLM runs in int8, so the quantized model still runs in TFLM."""
from __future__ import annotations

import numpy as np

from ...ir import Op
from .elementwise import elementwise_const
from .values import Builder, Val, norm_axis


def _mean(b: Builder, x: Val, axes: list[int]) -> Val:
    shape = tuple(1 if k in axes else d for k, d in enumerate(x.shape))
    out = b.emit(Op.MEAN, [x.name, b.const(f"{x.name}_axes", axes)], shape, keep_dims=True)
    return Val(out, shape)


def layer_norm(b: Builder, node, ins, at) -> list:
    if any(node.output[1:]):
        raise b.fail("the Mean and InvStdDev outputs (training) are not supported")
    x = b.plain(b.need_act(ins[0], "X"))
    axis = norm_axis(b, int(at.get("axis", -1)), x.rank)
    axes = list(range(axis, x.rank))
    norm_shape = x.shape[axis:]
    scale = b.need_const(ins[1], "Scale").astype(np.float32)
    bias = b.need_const(ins[2], "B").astype(np.float32) if len(ins) > 2 and ins[2] is not None else None
    for what, c in (("Scale", scale), ("B", bias)):
        if c is not None and np.broadcast_shapes(c.shape, norm_shape) != norm_shape:
            raise b.fail(f"{what} of shape {list(c.shape)} does not broadcast to {list(norm_shape)}")
    centered = Val(b.emit(Op.SUB, [x.name, _mean(b, x, axes).name], x.shape), x.shape)
    square = Val(b.emit(Op.MUL, [centered.name, centered.name], x.shape), x.shape, nonneg=True)
    var = elementwise_const(b, Op.ADD, _mean(b, square, axes), np.float32([at.get("epsilon", 1e-5)]), None)
    inv = b.emit(Op.RSQRT, [var.name], var.shape)
    y = Val(b.emit(Op.MUL, [centered.name, inv], x.shape), x.shape)
    last = bias is None
    y = elementwise_const(b, Op.MUL, y, scale, b.out_name() if last else None)
    if bias is not None:
        y = elementwise_const(b, Op.ADD, y, bias, b.out_name())
    return [y]
