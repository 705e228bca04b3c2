"""ONNX-level rewrites run before lowering, for formulas whose pieces have no IR op of their own.

GELU. Exporters before opset 20 write exact GELU as 0.5 * x * (1 + Erf(x / sqrt(2))). TFLM has no
Erf (nor GELU) kernel, so the five nodes are replaced by one Gelu node (the opset-20 op), which
activation.gelu lowers to GELU's tanh approximation. An Erf anywhere else stays an unsupported op.
"""
from __future__ import annotations

import math

import numpy as np

_SQRT2 = math.sqrt(2.0)


def _constants(graph, inits: dict) -> dict[str, np.ndarray]:
    from onnx import numpy_helper
    out = dict(inits)
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.output) == 1:
            for a in node.attribute:
                if a.name == "value" and a.HasField("t"):
                    out[node.output[0]] = numpy_helper.to_array(a.t)
    return out


def _is_const(consts: dict, name: str, value: float) -> bool:
    arr = consts.get(name)
    return arr is not None and arr.size == 1 and arr.dtype.kind == "f" and \
        abs(float(arr.reshape(-1)[0]) - value) <= 1e-6 * abs(value)


def _other(node, name: str) -> str | None:
    """The other input of a binary node that reads `name`."""
    ins = list(node.input)
    if len(ins) != 2 or name not in ins:
        return None
    return ins[1] if ins[0] == name else ins[0]


def fuse_gelu(graph, inits: dict) -> int:
    """Replace each Div/Mul -> Erf -> Add -> Mul -> Mul GELU chain by a Gelu node; returns how many."""
    from onnx import helper
    consts = _constants(graph, inits)
    nodes = list(graph.node)
    producer = {o: n for n in nodes for o in n.output if o}
    readers: dict[str, list] = {}
    for n in nodes:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    outputs = {o.name for o in graph.output}

    def only_reader(name: str, op_type: str):
        rs = readers.get(name, [])
        if name in outputs or len(rs) != 1 or rs[0].op_type != op_type:
            return None
        return rs[0]

    fused = []
    for erf in nodes:
        if erf.op_type != "Erf" or len(erf.input) != 1 or len(erf.output) != 1:
            continue
        scale = producer.get(erf.input[0])
        if scale is None or only_reader(erf.input[0], "Erf") is None:
            continue
        x = None
        if scale.op_type == "Div" and len(scale.input) == 2 and _is_const(consts, scale.input[1], _SQRT2):
            x = scale.input[0]
        elif scale.op_type == "Mul":
            for a, c in (tuple(scale.input), tuple(scale.input)[::-1]):
                if _is_const(consts, c, 1 / _SQRT2):
                    x = a
        if x is None or x in consts:
            continue
        add = only_reader(erf.output[0], "Add")
        if add is None or not _is_const(consts, _other(add, erf.output[0]) or "", 1.0):
            continue
        m1 = only_reader(add.output[0], "Mul")
        if m1 is None:
            continue
        first = _other(m1, add.output[0])
        m2 = only_reader(m1.output[0], "Mul")
        if m2 is None or first is None:
            continue
        second = _other(m2, m1.output[0])
        if not ((first == x and _is_const(consts, second or "", 0.5)) or
                (second == x and _is_const(consts, first, 0.5))):
            continue
        fused.append((scale, erf, add, m1, m2, x))
    if not fused:
        return 0
    drop = {id(n) for chain in fused for n in chain[:4]}
    replace_at = {id(chain[4]): chain for chain in fused}
    new = []
    for n in nodes:
        if id(n) in replace_at:
            chain = replace_at[id(n)]
            new.append(helper.make_node("Gelu", [chain[5]], [n.output[0]], name=n.name or f"gelu_{n.output[0]}",
                                        approximate="none"))
        elif id(n) not in drop:
            new.append(n)
    del graph.node[:]
    graph.node.extend(new)
    return len(fused)
