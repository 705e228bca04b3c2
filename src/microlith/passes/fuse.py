"""Activation fusion: RELU, RELU6 and RELU_N1_TO_1 become the fused `activation` of the op
before them, when that op has no other reader (TFLite's fused activation functions).

RELU_N1_TO_1 has no op of its own (TFLM has no kernel for it): the frontend writes a clamp to
[-1, 1] as a MUL by 1 with that fused activation, and it moves into the op before like the
others.
"""
from __future__ import annotations

from ..ir import Node, Op, Tensor
from .rewrite import Const, Pat, PatternMatcher, Rewriter

_FUSABLE = (Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.FULLY_CONNECTED, Op.ADD, Op.SUB, Op.MUL,
            Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D)


def _unfused(node: Node) -> bool:
    return node.attrs.get("activation", "NONE") == "NONE"


def _move_activation(rw: Rewriter, op: Node, after: Node, activation: str) -> bool:
    """`op` takes `after`'s output tensor and applies `activation`; `after` goes away."""
    # In int8 a separate activation requantizes, so fusing would change results: float only.
    if any(rw.t(n.outputs[0]).dtype != "float32" for n in (op, after)):
        return False
    if rw.t(op.outputs[0]).shape != rw.t(after.outputs[0]).shape:
        return False
    rw.replace(op, op.replace(outputs=after.outputs, attrs={**op.attrs, "activation": activation}))
    rw.replace(after, None)
    return True


def fuse_activation(rw: Rewriter, act: Node, op: Node) -> bool:
    return _move_activation(rw, op, act, act.op.value)


def fuse_clamp(rw: Rewriter, clamp: Node, op: Node, one: Tensor) -> bool:
    """MUL(x, 1) with a fused activation is that activation alone."""
    if one.size != 1 or float(one.data.reshape(-1)[0]) != 1.0:
        return False
    return _move_activation(rw, op, clamp, clamp.attrs["activation"])


_op = Pat(_FUSABLE, name="op", where=_unfused)

pm_fuse_activation = PatternMatcher([
    (Pat((Op.RELU, Op.RELU6), name="act", src=(_op,)), fuse_activation),
    (Pat(Op.MUL, name="clamp", src=(_op, Const("one")), where=lambda n: not _unfused(n)), fuse_clamp),
])
