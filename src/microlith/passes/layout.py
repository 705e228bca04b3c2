"""Reshapes and transposes that move no data: dropped, merged, or turned into reshapes.

The ONNX frontend changes layout with explicit TRANSPOSEs wherever ONNX order matters; many
of them move nothing (a [N,1,1,C] -> [N,C,1,1] transpose after a global pool) or undo each
other. These rules leave the one layout change that really moves data.
"""
from __future__ import annotations

import numpy as np

from ..ir import Node, Op
from .rewrite import Const, Pat, PatternMatcher, Rewriter

_RESHAPES = (Op.RESHAPE, Op.SQUEEZE)


def _keeps_shape(rw: Rewriter, node: Node) -> bool:
    x, y = rw.t(node.inputs[0]), rw.t(node.outputs[0])
    return x.shape == y.shape and x.quant == y.quant


def drop_noop(rw: Rewriter, node: Node) -> bool:
    """A reshape to the same shape, an identity transpose, a PAD by nothing."""
    if not _keeps_shape(rw, node):
        return False
    if node.op is Op.TRANSPOSE:
        perm = list(rw.t(node.inputs[1]).data.reshape(-1))
        if perm != list(range(len(perm))):
            return False
    return rw.bypass(node)


def merge_pads(rw: Rewriter, outer: Node, inner: Node, pads, inner_pads) -> bool:
    """pad(pad(x, p1), p2) -> pad(x, p1 + p2): both pad zeros."""
    if rw.t(inner.inputs[0]).quant != rw.t(outer.outputs[0]).quant or pads.shape != inner_pads.shape:
        return False
    total = rw.const(f"{outer.outputs[0]}_pads", (pads.data + inner_pads.data).astype(np.int32))
    rw.replace(outer, outer.replace(inputs=(inner.inputs[0], total)))
    return True


def _reshape_node(rw: Rewriter, node: Node, src: str) -> Node:
    shape = rw.t(node.outputs[0]).shape
    new_shape = rw.const(f"{node.outputs[0]}_shape", np.array(shape, np.int32))
    return Node(Op.RESHAPE, (src, new_shape), node.outputs, {}, name=node.name)


def transpose_to_reshape(rw: Rewriter, node: Node, perm) -> bool:
    """A transpose that moves only size-1 axes keeps the memory order: it is a reshape."""
    shape = rw.t(node.inputs[0]).shape
    moved = [p for p in perm.data.reshape(-1) if shape[p] != 1]
    if moved != sorted(moved) or rw.t(node.inputs[0]).quant != rw.t(node.outputs[0]).quant:
        return False
    rw.replace(node, _reshape_node(rw, node, node.inputs[0]))
    return True


def merge_reshapes(rw: Rewriter, outer: Node, inner: Node) -> bool:
    """reshape(reshape(x)) -> reshape(x); the inner one stays while others read it."""
    if rw.t(inner.inputs[0]).quant != rw.t(outer.outputs[0]).quant:
        return False
    rw.replace(outer, _reshape_node(rw, outer, inner.inputs[0]))
    return True


def merge_transposes(rw: Rewriter, outer: Node, inner: Node, perm, inner_perm) -> bool:
    """transpose(transpose(x, p1), p2) -> transpose(x, p1[p2])."""
    p1, p2 = inner_perm.data.reshape(-1), perm.data.reshape(-1)
    combined = rw.const(f"{outer.outputs[0]}_perm", np.array([p1[k] for k in p2], np.int32))
    rw.replace(outer, outer.replace(inputs=(inner.inputs[0], combined)))
    return True


pm_noop_layout = PatternMatcher([
    (Pat(_RESHAPES + (Op.TRANSPOSE, Op.PAD), name="node"), drop_noop),
    (Pat(Op.TRANSPOSE, name="node", src=(None, Const("perm"))), transpose_to_reshape),
    (Pat(_RESHAPES, name="outer", src=(Pat(_RESHAPES, name="inner", only_use=False),)), merge_reshapes),
    (Pat(Op.TRANSPOSE, name="outer", src=(Pat(Op.TRANSPOSE, name="inner", only_use=False,
                                              src=(None, Const("inner_perm"))), Const("perm"))),
     merge_transposes),
    (Pat(Op.PAD, name="outer", src=(Pat(Op.PAD, name="inner", src=(None, Const("inner_pads"))), Const("pads"))),
     merge_pads),
])


def dense_reads_transpose(rw: Rewriter, fc: Node, flat: Node, tr: Node, perm, w) -> bool:
    """dense(flatten(transpose(x))) -> dense'(flatten(x)), with dense' reading its inputs in x's
    order: the transpose back to ONNX order before a Flatten moves no data any more."""
    x = rw.t(tr.inputs[0])
    p = [int(k) for k in perm.data.reshape(-1)]
    k = x.size // x.shape[0] if x.shape else 0
    if (w.dtype != "float32" or fc.attrs.get("keep_num_dims") or not x.shape or p[0] != 0
            or rw.t(flat.outputs[0]).shape != (x.shape[0], k) or w.shape[-1] != k):
        return False
    # Position j of flatten(transpose(x)) holds element order[j] of flatten(x).
    order = np.arange(k).reshape(x.shape[1:]).transpose([q - 1 for q in p[1:]]).reshape(-1)
    weights = np.empty_like(w.data)
    weights[:, order] = w.data
    new_w = rw.const(f"{fc.outputs[0]}_weights", weights, like=w)
    rw.replace(tr, None)
    rw.replace(flat, _reshape_node(rw, flat, tr.inputs[0]))
    rw.replace(fc, fc.replace(inputs=(fc.inputs[0], new_w) + fc.inputs[2:]))
    return True


pm_dense_layout = PatternMatcher([
    (Pat(Op.FULLY_CONNECTED, name="fc",
         src=(Pat(_RESHAPES, name="flat", src=(Pat(Op.TRANSPOSE, name="tr", src=(None, Const("perm"))),)),
              Const("w"))),
     dense_reads_transpose),
])
