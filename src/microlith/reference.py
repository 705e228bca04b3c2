"""Run a graph through the integer-exact numpy reference of each op.

Serves tests (the reference must agree with TFLM byte for byte) and diagnosis (a layer's
expected output without building any C).
"""
from __future__ import annotations

import numpy as np

from .ir import Graph
from .ops import impl_for


def run_reference(g: Graph, xs: list[np.ndarray], params: list[dict] | None = None) -> dict[str, np.ndarray]:
    """Every tensor's value for one sample: graph inputs, constants and each op's outputs."""
    values: dict[str, np.ndarray] = {n: np.asarray(x, dtype=g.t(n).np_dtype).reshape(g.t(n).shape)
                                     for n, x in zip(g.inputs, xs)}
    for i, node in enumerate(g.nodes):
        impl = impl_for(node.op)
        p = params[i] if params is not None else impl.prepare(node, g)
        ins = [None if n is None else (values[n] if n in values else g.t(n).data) for n in node.inputs]
        outs = impl.reference(node, g, p, ins)
        for name, arr in zip(node.outputs, outs):
            t = g.t(name)
            arr = np.asarray(arr)
            assert arr.dtype == t.np_dtype and arr.size == t.size, (node.op, name, arr.dtype, arr.shape)
            values[name] = arr.reshape(t.shape)
    return values
