"""Element-wise arithmetic (Add, Sub, Mul, Div, BatchNormalization) and pass-through ops."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...ir import Op
from .values import (
    Builder,
    Val,
    broadcast,
    cl_const,
    cl_shape,
    ir_shape_of,
    strip_leading_ones,
)


def batch_norm(b: Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    if at.get("training_mode", 0):
        raise b.fail("training_mode=1: export the model in eval mode")
    gamma, beta, mean, var = (b.need_const(v, w).astype(np.float64) for v, w in
                              zip(ins[1:5], ("scale", "B", "input_mean", "input_var")))
    c = x.shape[1] if x.rank > 1 else 1
    if not all(t.size == c for t in (gamma, beta, mean, var)):
        raise b.fail(f"scale/B/mean/var must hold {c} values (one per channel)")
    scale = gamma / np.sqrt(var + float(at.get("epsilon", 1e-5)))
    shift = beta - mean * scale
    # Channel axis 1, broadcast over the rest: an MUL and an ADD (passes fold them into the
    # conv or dense layer before, when there is one).
    per_channel = (c,) + (1,) * (x.rank - 2)
    y = elementwise_const(b, Op.MUL, x, scale.reshape(per_channel), None)
    return [elementwise_const(b, Op.ADD, y, shift.reshape(per_channel), b.out_name())]


# ---------------------------------------------------------------------------------------------
# Element-wise


def elementwise_const(b: Builder, op: Op, x: Val, c: np.ndarray, name: str | None,
                       const_first: bool = False) -> Val:
    shape = broadcast(b, x.shape, c.shape)
    if x.cl and len(shape) != x.rank:
        x = b.plain(x)
    arr = cl_const(c, x.rank) if x.cl else c.reshape((1,) * (len(shape) - c.ndim) + c.shape)
    cname = b.const(f"{name or b.out_name()}_{'k' if op is Op.MUL else 'c'}",
                    strip_leading_ones(arr.astype(np.float32)))
    ins = [cname, x.name] if const_first else [x.name, cname]
    ir_shape = cl_shape(shape) if x.cl else shape
    return Val(b.emit(op, ins, ir_shape, name), shape, cl=x.cl)


def binary(b: Builder, node, ins, at) -> list:
    x, y = ins
    op = {"Add": Op.ADD, "Sub": Op.SUB, "Mul": Op.MUL, "Div": Op.MUL}[node.op_type]
    if node.op_type == "Div":
        if not isinstance(y, np.ndarray):
            raise b.fail("division by a computed tensor is not supported (only by a constant, "
                         "which becomes a MUL by its reciprocal)")
        y = np.asarray(1.0 / y.astype(np.float64))
    if isinstance(y, np.ndarray):
        return [elementwise_const(b, op, b.need_act(x), y.astype(np.float32), b.out_name())]
    if isinstance(x, np.ndarray):
        return [elementwise_const(b, op, b.need_act(y), x.astype(np.float32), b.out_name(),
                                   const_first=True)]
    for v, gate in ((x, y), (y, x)) if op is Op.MUL else ():
        if b.hard_sigmoid_of.get(gate.name) == v.name:
            # v * HardSigmoid(v) with alpha 1/6, beta 1/2 is v's hard swish (exports before opset 14)
            out = b.emit(Op.HARD_SWISH, [v.name], ir_shape_of(v), b.out_name())
            return [replace(v, name=out)]
    shape = broadcast(b, x.shape, y.shape)
    if x.cl != y.cl or (x.cl and x.rank != y.rank):
        if x.rank == y.rank == len(shape) and x.rank in (3, 4):
            x, y = b.channels_last(x), b.channels_last(y)
        else:
            x, y = b.plain(x), b.plain(y)
    cl = x.cl
    ir_shape = cl_shape(shape) if cl else shape
    out = b.emit(op, [x.name, y.name], ir_shape, b.out_name())
    return [Val(out, shape, cl=cl, nonneg=x.nonneg and y.nonneg and op is not Op.SUB)]


def identity(b: Builder, node, ins, at) -> list:
    if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
        raise b.fail("the mask output of Dropout is not supported")
    return [b.need_act(ins[0])]


def cast(b: Builder, node, ins, at) -> list:
    if int(at.get("to", 0)) != 1:  # FLOAT
        raise b.fail("only casts to float32 of float32 tensors are supported")
    return [b.need_act(ins[0])]




def pow_(b: Builder, node, ins, at) -> list:
    """Pow by a constant whole exponent 1, 2 or 3 (GELU's x^3): repeated MUL."""
    x = b.need_act(ins[0], "X")
    if isinstance(ins[1], Val):
        raise b.fail("a computed exponent is not supported")
    exponent = b.need_scalar(ins[1], "exponent Y")
    if exponent not in (1.0, 2.0, 3.0):
        raise b.fail(f"exponent {exponent:g} is not supported (only 1, 2 and 3, as repeated MUL)")
    y, shape = x, ir_shape_of(x)
    for k in range(int(exponent) - 1):
        last = k == int(exponent) - 2
        y = replace(x, name=b.emit(Op.MUL, [y.name, x.name], shape, b.out_name() if last else None),
                    nonneg=x.nonneg or exponent == 2.0)
    return [y]
