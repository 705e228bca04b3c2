"""Folding: ops on constants become constants, x + 0 and x * 1 go, and batch norm goes into
the layer before it.

Batch norm reaches the IR as y = x * scale + shift per channel (the ONNX frontend lowers
BatchNormalization so, as TFLite does), and a plain MUL/ADD/SUB by a per-output-channel
constant after a conv or dense layer is the same thing, so one rule folds all of them:
    conv(x, W, b) * s  ->  conv(x, W * s, b * s)
    conv(x, W, b) + t  ->  conv(x, W, b + t)
Only float graphs: in int8 the rounding of the separate ops would change.
"""
from __future__ import annotations

import numpy as np

from ..ir import MicrolithError, Node, Op, Tensor
from .rewrite import Const, Pat, PatternMatcher, Rewriter

_CLAMP = {"NONE": (-np.inf, np.inf), "RELU": (0.0, np.inf), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


def _act(a: dict, y: np.ndarray) -> np.ndarray:
    lo, hi = _CLAMP[a.get("activation", "NONE")]
    return np.clip(y, lo, hi)


def _int_operand(xs, k):
    return [int(v) for v in np.asarray(xs[k]).reshape(-1)]


# op -> (attrs, input arrays, output shape) -> output array: the layout and element-wise ops
# that meet constants in real models. Other ops go through reference_float, if it is there.
_EVAL = {
    Op.RESHAPE: lambda a, xs, shape: xs[0].reshape(shape),
    Op.SQUEEZE: lambda a, xs, shape: xs[0].reshape(shape),
    Op.TRANSPOSE: lambda a, xs, shape: xs[0].transpose(_int_operand(xs, 1)),
    Op.ADD: lambda a, xs, shape: _act(a, xs[0] + xs[1]),
    Op.SUB: lambda a, xs, shape: _act(a, xs[0] - xs[1]),
    Op.MUL: lambda a, xs, shape: _act(a, xs[0] * xs[1]),
    Op.CONCATENATION: lambda a, xs, shape: _act(a, np.concatenate(xs, axis=a["axis"])),
    Op.PAD: lambda a, xs, shape: np.pad(xs[0], np.asarray(xs[1]).reshape(-1, 2)),
    Op.MEAN: lambda a, xs, shape: xs[0].mean(axis=tuple(_int_operand(xs, 1)), keepdims=True).reshape(shape),
    Op.RELU: lambda a, xs, shape: np.maximum(xs[0], 0),
    Op.RELU6: lambda a, xs, shape: np.clip(xs[0], 0, 6),
    Op.LOGISTIC: lambda a, xs, shape: 1 / (1 + np.exp(-xs[0])),
    Op.TANH: lambda a, xs, shape: np.tanh(xs[0]),
}


def _all_const(node: Node, rw: Rewriter) -> bool:
    return all(x is None or rw.t(x).is_const for x in node.inputs)


def _evaluate(rw: Rewriter, node: Node, ins: list[Tensor], shape: tuple) -> np.ndarray | None:
    if node.op in _EVAL:
        return np.asarray(_EVAL[node.op](node.attrs, [t.data.astype(np.float64) if t.dtype == "float32"
                                                      else t.data for t in ins], shape))
    try:  # the float reference of every op, where this version of microlith has it
        from ..reference_float import run_node
    except ImportError:
        return None
    try:
        return np.asarray(run_node(rw.g, node, [None if x is None else rw.t(x).data for x in node.inputs])[0])
    except MicrolithError:
        return None  # left as an op; whatever is wrong with it is reported where it is compiled


def fold_constant(rw: Rewriter, node: Node) -> bool:
    """An op whose inputs are all constant: compute it now (float and int32 only)."""
    if not _all_const(node, rw) or len(node.outputs) != 1:
        return False
    out = rw.t(node.outputs[0])
    ins = [rw.t(x) for x in node.inputs if x is not None]
    if out.name in rw.g.outputs or out.quant is not None or any(t.quant is not None for t in ins) \
            or out.dtype not in ("float32", "int32"):
        return False
    data = _evaluate(rw, node, ins, out.shape)
    if data is None or data.size != out.size:
        return False
    out.data = data.reshape(out.shape).astype(out.np_dtype)
    rw.replace(node, None)
    return True


def drop_identity(rw: Rewriter, node: Node, k: Tensor) -> bool:
    """x + 0, x - 0, x * 1 (no fused activation, no broadcast growing x): x itself."""
    x, y = rw.t(node.inputs[0]), rw.t(node.outputs[0])
    neutral = 1.0 if node.op is Op.MUL else 0.0
    if (y.dtype != "float32" or x.shape != y.shape or node.attrs.get("activation", "NONE") != "NONE"
            or not np.all(k.data == neutral)):
        return False
    return rw.bypass(node)


pm_fold_constants = PatternMatcher([
    (Pat(None, name="node"), fold_constant),
    (Pat((Op.ADD, Op.SUB, Op.MUL), name="node", src=(None, Const("k"))), drop_identity),
])


# ---------------------------------------------------------------------------------------------
# Batch norm (and any per-channel scale / shift) into the conv or dense layer before it

_LAYERS = (Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.FULLY_CONNECTED)


def _unfused(node: Node) -> bool:
    return node.attrs.get("activation", "NONE") == "NONE"


def _per_channel(rw: Rewriter, layer: Node, c: Tensor) -> np.ndarray | None:
    """`c` as one value per output channel, if it broadcasts only along the channel axis
    (the last one) without growing the layer's output."""
    out = rw.t(layer.outputs[0])
    if out.dtype != "float32" or c.dtype != "float32" or rw.t(layer.inputs[1]).dtype != "float32":
        return None
    data = c.data
    if data.ndim > len(out.shape) or any(d != 1 for d in data.shape[:-1]):
        return None
    last = data.shape[-1] if data.ndim else 1
    cout = out.shape[-1] if out.shape else 1
    if last not in (1, cout):
        return None
    return np.broadcast_to(data.reshape(-1).astype(np.float64), (cout,))


def _bias(rw: Rewriter, layer: Node) -> np.ndarray:
    cout = rw.t(layer.outputs[0]).shape[-1]
    b = layer.inputs[2] if len(layer.inputs) > 2 else None
    return rw.t(b).data.astype(np.float64) if b is not None else np.zeros(cout)


def _rebuild(rw: Rewriter, layer: Node, after: Node, weights: np.ndarray | None, bias: np.ndarray) -> None:
    """`layer` with new weights/bias writes `after`'s output, with `after`'s fused activation;
    `after` goes away."""
    w_name = layer.inputs[1]
    if weights is not None:
        w_name = rw.const(f"{after.outputs[0]}_weights", weights, like=rw.t(layer.inputs[1]))
    b_name = rw.const(f"{after.outputs[0]}_bias", bias.astype(np.float32))
    attrs = {**layer.attrs, "activation": after.attrs.get("activation", "NONE")}
    rw.replace(layer, layer.replace(inputs=(layer.inputs[0], w_name, b_name), outputs=after.outputs,
                                    attrs=attrs))
    rw.replace(after, None)


def fold_scale(rw: Rewriter, mul: Node, layer: Node, k: Tensor) -> bool:
    s = _per_channel(rw, layer, k)
    if s is None:
        return False
    w = rw.t(layer.inputs[1]).data.astype(np.float64)
    if layer.op is Op.DEPTHWISE_CONV_2D:    # [1, Kh, Kw, Cout]
        w = w * s
    else:                                   # [Cout, ...]
        w = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
    _rebuild(rw, layer, mul, w, _bias(rw, layer) * s)
    return True


def fold_shift(rw: Rewriter, add: Node, layer: Node, k: Tensor) -> bool:
    t = _per_channel(rw, layer, k)
    if t is None:
        return False
    _rebuild(rw, layer, add, None, _bias(rw, layer) + (t if add.op is Op.ADD else -t))
    return True


def const_last(rw: Rewriter, node: Node, k: Tensor) -> bool:
    """ADD/MUL(constant, x) -> (x, constant), so the rules below see one form."""
    if rw.t(node.inputs[1]).is_const:
        return False
    rw.replace(node, node.replace(inputs=(node.inputs[1], node.inputs[0])))
    return True


_layer = Pat(_LAYERS, name="layer", where=_unfused)

pm_fold_batchnorm = PatternMatcher([
    (Pat((Op.ADD, Op.MUL), name="node", src=(Const("k"),)), const_last),
    (Pat(Op.MUL, name="mul", src=(_layer, Const("k"))), fold_scale),
    (Pat((Op.ADD, Op.SUB), name="add", src=(_layer, Const("k"))), fold_shift),
])
