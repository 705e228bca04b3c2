"""Run a graph through the integer-exact numpy reference of each op.

Serves tests (the reference must agree with TFLM byte for byte) and diagnosis (a layer's
expected output without building any C).

State (recurrent ops, ir.Tensor.variable): an op listing input positions in its
`state_inputs` returns, after its outputs, the new value of each of those inputs. run_reference
keeps them in the `state` dict it is given, so a sequence of samples run with one dict carries
the state from sample to sample, as TFLM's interpreter (and the generated NAME_invoke) do;
without a dict every sample starts from the reset state.
"""
from __future__ import annotations

import numpy as np

from .ir import Graph
from .ops import impl_for


def reset_state(g: Graph) -> dict[str, np.ndarray]:
    """Every state tensor as after a reset (TFLM's ResetVariableTensors)."""
    out = {}
    for name in g.state_tensors():
        t = g.t(name)
        out[name] = np.full(t.shape, t.reset_value, dtype=t.np_dtype)
    return out


def run_reference(g: Graph, xs: list[np.ndarray], params: list[dict] | None = None,
                  state: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every tensor's value for one sample: graph inputs, constants, state (its value after the
    sample) and each op's outputs. `state` is updated in place (see the module docstring)."""
    if state is None:
        state = reset_state(g)
    elif not state:
        state.update(reset_state(g))
    values: dict[str, np.ndarray] = {n: np.asarray(x, dtype=g.t(n).np_dtype).reshape(g.t(n).shape)
                                     for n, x in zip(g.inputs, xs)}
    for i, node in enumerate(g.nodes):
        impl = impl_for(node.op)
        p = params[i] if params is not None else impl.prepare(node, g)
        ins = [None if n is None else (values[n] if n in values else state[n] if n in state else g.t(n).data)
               for n in node.inputs]
        outs = impl.reference(node, g, p, ins)
        assert len(outs) == len(node.outputs) + len(impl.state_inputs), (node.op, len(outs))
        for name, arr in zip(node.outputs, outs):
            t = g.t(name)
            arr = np.asarray(arr)
            assert arr.dtype == t.np_dtype and arr.size == t.size, (node.op, name, arr.dtype, arr.shape)
            values[name] = arr.reshape(t.shape)
        for pos, arr in zip(impl.state_inputs, outs[len(node.outputs):]):
            name = node.inputs[pos]
            t = g.t(name)
            assert arr.dtype == t.np_dtype and arr.size == t.size, (node.op, name, arr.dtype, arr.shape)
            state[name] = arr.reshape(t.shape)
    values.update(state)
    return values
