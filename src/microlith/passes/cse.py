"""Common subexpressions: two nodes with the same op, attributes and inputs (constants
compared by value) compute the same tensor; the later one goes and its readers read the first.
The frontend makes such twins when one value is brought to another layout in two places."""
from __future__ import annotations

import numpy as np

from ..ir import Node
from .rewrite import Pat, PatternMatcher, Rewriter


def _same_tensor(rw: Rewriter, x: str | None, y: str | None) -> bool:
    if x == y:
        return True
    if x is None or y is None:
        return False
    a, b = rw.t(x), rw.t(y)
    return (a.is_const and b.is_const and a.dtype == b.dtype and a.shape == b.shape and a.quant == b.quant
            and np.array_equal(a.data, b.data))


def _twins(rw: Rewriter, a: Node, b: Node) -> bool:
    if a.op is not b.op or a.attrs != b.attrs or len(a.inputs) != len(b.inputs) or len(a.outputs) != len(b.outputs):
        return False
    if any((rw.t(p).shape, rw.t(p).dtype, rw.t(p).quant) != (rw.t(q).shape, rw.t(q).dtype, rw.t(q).quant)
           for p, q in zip(a.outputs, b.outputs)):
        return False
    return all(_same_tensor(rw, x, y) for x, y in zip(a.inputs, b.inputs))


def merge_duplicate(rw: Rewriter, node: Node) -> bool:
    if any(o in rw.g.outputs for o in node.outputs):
        return False
    for other in rw.g.nodes:
        if other is node:
            return False  # only an earlier twin may replace it
        if _twins(rw, other, node):
            rw.replace(node, None)
            for mine, theirs in zip(node.outputs, other.outputs):
                rw.rename_reads(mine, theirs)
            return True
    return False


pm_cse = PatternMatcher([(Pat(None, name="node"), merge_duplicate)])
