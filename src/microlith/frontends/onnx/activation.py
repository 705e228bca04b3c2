"""Activations: Relu, Sigmoid, Tanh, HardSwish, LeakyRelu, Clip, HardSigmoid, Softmax."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...ir import Op
from .elementwise import elementwise_const
from .values import Builder, Val, ir_shape_of, norm_axis


def unary(op: Op, nonneg: bool = False, **attrs):
    def convert(b: Builder, node, ins, at) -> list:
        x = b.need_act(ins[0])
        out = b.emit(op, [x.name], ir_shape_of(x), b.out_name(), **attrs)
        return [replace(x, name=out, nonneg=nonneg or (x.nonneg and op is not Op.TANH))]
    return convert


relu = unary(Op.RELU, nonneg=True)
sigmoid = unary(Op.LOGISTIC, nonneg=True)
tanh = unary(Op.TANH)
hard_swish = unary(Op.HARD_SWISH)


def leaky_relu(b: Builder, node, ins, at) -> list:
    return unary(Op.LEAKY_RELU, alpha=float(at.get("alpha", 0.01)))(b, node, ins, at)


def clip(b: Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    lo, hi = at.get("min"), at.get("max")       # opset < 11: attributes
    if len(ins) > 1 and ins[1] is not None:
        lo = b.need_scalar(ins[1], "min")
    if len(ins) > 2 and ins[2] is not None:
        hi = b.need_scalar(ins[2], "max")
    lo = None if lo is None or lo <= -3.4e38 else float(lo)
    hi = None if hi is None or hi >= 3.4e38 else float(hi)
    if (lo, hi) == (None, None):
        return [x]
    if (lo, hi) == (0.0, 6.0):
        return unary(Op.RELU6, nonneg=True)(b, node, [x], at)
    if (lo, hi) == (0.0, None):
        return unary(Op.RELU, nonneg=True)(b, node, [x], at)
    if (lo, hi) == (-1.0, 1.0):
        # TFLite's RELU_N1_TO_1 lives on as a fused activation only (TFLM has no kernel for the
        # op): a MUL by 1 carries it, and passes move it into the op before when they can.
        one = b.const(f"{b.out_name()}_one", np.float32([1.0]))
        out = b.emit(Op.MUL, [x.name, one], ir_shape_of(x), b.out_name(), activation="RELU_N1_TO_1")
        return [replace(x, name=out, nonneg=False)]
    raise b.fail(f"Clip to [{lo}, {hi}] is not supported; only [0, 6] (RELU6), [-1, 1] "
                 "(RELU_N1_TO_1) and [0, inf) (RELU) are")


def hard_sigmoid(b: Builder, node, ins, at) -> list:
    # max(0, min(1, a*x + b)) = RELU6(6a*x + 6b) / 6
    x = b.need_act(ins[0])
    alpha, beta = float(at.get("alpha", 0.2)), float(at.get("beta", 0.5))
    y = elementwise_const(b, Op.MUL, x, np.float32([6 * alpha]), None)
    y = elementwise_const(b, Op.ADD, y, np.float32([6 * beta]), None)
    y = replace(y, name=b.emit(Op.RELU6, [y.name], ir_shape_of(y)))
    y = replace(elementwise_const(b, Op.MUL, y, np.float32([1 / 6]), b.out_name()), nonneg=True)
    if abs(alpha - 1 / 6) < 1e-6 and beta == 0.5:
        b.hard_sigmoid_of[y.name] = x.name  # x * this is x's hard swish (see binary)
    return [y]


def softmax(b: Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axis = norm_axis(b, int(at.get("axis", -1 if b.opset >= 13 else 1)), x.rank)
    joint = b.opset < 13 and any(d != 1 for d in x.shape[axis + 1:])  # see below
    if x.cl and axis == 1 and not joint:   # the channels are the last IR axis
        out = b.emit(Op.SOFTMAX, [x.name], ir_shape_of(x), b.out_name(), beta=1.0)
        return [replace(x, name=out, nonneg=True)]
    x = b.plain(x)
    if axis == x.rank - 1:
        return [Val(b.emit(Op.SOFTMAX, [x.name], x.shape, b.out_name(), beta=1.0), x.shape, nonneg=True)]
    if joint:
        # Before opset 13 Softmax normalizes over all axes from `axis` on, as one.
        flat = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
        s = b.emit(Op.SOFTMAX, [b.reshape(x, flat)], flat, beta=1.0)
        return [Val(b.reshape(Val(s, flat), x.shape, b.out_name()), x.shape, nonneg=True)]
    # One axis in the middle: move it last and back.
    perm = [k for k in range(x.rank) if k != axis] + [axis]
    moved_shape = tuple(x.shape[p] for p in perm)
    s = b.emit(Op.SOFTMAX, [b.transpose(x.name, tuple(perm), x.shape)], moved_shape, beta=1.0)
    inverse = tuple(int(k) for k in np.argsort(perm))
    return [Val(b.transpose(s, inverse, moved_shape, b.out_name()), x.shape, nonneg=True)]




# GELU's tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written as
# x * sigmoid(x * (A + B x^2)) (0.5 (1 + tanh(u)) = sigmoid(2u)): TFLM has no GELU kernel, and this
# form needs only MUL, ADD and LOGISTIC. It differs from exact (erf) GELU by less than 5e-4.
_GELU_A = 2 * math.sqrt(2 / math.pi)
_GELU_B = 2 * 0.044715 * math.sqrt(2 / math.pi)


def gelu(b: Builder, node, ins, at) -> list:
    """Gelu (opset 20, or the Erf chain patterns.fuse_gelu finds): the tanh approximation for
    both approximate="none" and "tanh"."""
    x = b.need_act(ins[0])
    approx = at.get("approximate", "none")
    if approx not in ("none", "tanh"):
        raise b.fail(f"approximate '{approx}' is not 'none' or 'tanh'")
    shape = ir_shape_of(x)
    x2 = replace(x, name=b.emit(Op.MUL, [x.name, x.name], shape), nonneg=True)
    t = elementwise_const(b, Op.MUL, x2, np.float32([_GELU_B]), None)
    t = elementwise_const(b, Op.ADD, t, np.float32([_GELU_A]), None)
    u = b.emit(Op.MUL, [x.name, t.name], shape)
    s = b.emit(Op.LOGISTIC, [u], shape)
    return [replace(x, name=b.emit(Op.MUL, [x.name, s], shape, b.out_name()), nonneg=False)]
