"""The one intermediate representation every stage of microlith reads and writes.

A Graph holds named Tensors and a topologically ordered list of Nodes. Tensors carry
shape, dtype, quantization and (for constants) data; Nodes carry an Op, the names of their
input and output tensors and a small dict of attributes whose keys are fixed per op
(see ATTRS below). Frontends produce this; passes, the planner, the numpy reference and
the C generator consume it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


class MicrolithError(Exception):
    """Bad input or an unmet requirement; the CLI prints it as one line and exits 2."""


class Op(enum.Enum):
    CONV_2D = "CONV_2D"
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"
    MAX_POOL_2D = "MAX_POOL_2D"
    ADD = "ADD"
    SUB = "SUB"
    MUL = "MUL"
    RESHAPE = "RESHAPE"
    SQUEEZE = "SQUEEZE"
    SOFTMAX = "SOFTMAX"
    LOGISTIC = "LOGISTIC"
    TANH = "TANH"
    RELU = "RELU"
    RELU6 = "RELU6"
    LEAKY_RELU = "LEAKY_RELU"
    HARD_SWISH = "HARD_SWISH"
    PAD = "PAD"
    CONCATENATION = "CONCATENATION"
    MEAN = "MEAN"
    QUANTIZE = "QUANTIZE"
    DEQUANTIZE = "DEQUANTIZE"
    STRIDED_SLICE = "STRIDED_SLICE"
    TRANSPOSE = "TRANSPOSE"


# Fused activation names used in attrs["activation"].
ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6")

# Attribute keys each op carries after the frontend. Anything else is a frontend bug.
ATTRS: dict[Op, tuple[str, ...]] = {
    Op.CONV_2D: ("padding", "stride_h", "stride_w", "dilation_h", "dilation_w", "activation"),
    Op.DEPTHWISE_CONV_2D: ("padding", "stride_h", "stride_w", "dilation_h", "dilation_w",
                           "depth_multiplier", "activation"),
    Op.FULLY_CONNECTED: ("activation", "keep_num_dims"),
    Op.AVERAGE_POOL_2D: ("padding", "stride_h", "stride_w", "filter_h", "filter_w", "activation"),
    Op.MAX_POOL_2D: ("padding", "stride_h", "stride_w", "filter_h", "filter_w", "activation"),
    Op.ADD: ("activation",),
    Op.SUB: ("activation",),
    Op.MUL: ("activation",),
    Op.RESHAPE: (),
    Op.SQUEEZE: (),
    Op.SOFTMAX: ("beta",),
    Op.LOGISTIC: (),
    Op.TANH: (),
    Op.RELU: (),
    Op.RELU6: (),
    Op.LEAKY_RELU: ("alpha",),
    Op.HARD_SWISH: (),
    Op.PAD: (),
    Op.CONCATENATION: ("axis", "activation"),
    Op.MEAN: ("keep_dims",),
    Op.QUANTIZE: (),
    Op.DEQUANTIZE: (),
    Op.STRIDED_SLICE: ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                       "shrink_axis_mask", "offset"),
    Op.TRANSPOSE: (),
}

DTYPES = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32,
          "int64": np.int64, "float32": np.float32, "bool": np.bool_}


@dataclass(frozen=True)
class Quant:
    """Affine quantization: real = scale * (q - zero_point), per tensor or along `axis`."""
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_axis(self) -> bool:
        return len(self.scale) > 1


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quant | None = None
    data: np.ndarray | None = None  # set for constants (weights, biases, shape operands)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(DTYPES[self.dtype]).itemsize

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(DTYPES[self.dtype])


@dataclass(frozen=True)
class Node:
    op: Op
    inputs: tuple[str | None, ...]  # None marks an optional input that is absent (e.g. no bias)
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    name: str = ""

    def replace(self, **kw) -> "Node":
        return replace(self, **kw)


@dataclass
class Graph:
    name: str
    tensors: dict[str, Tensor]
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    source: str = ""  # file the graph came from, for error messages
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. tflite tensor indices, for the oracle

    def t(self, name: str) -> Tensor:
        return self.tensors[name]

    def producers(self) -> dict[str, int]:
        return {o: i for i, n in enumerate(self.nodes) for o in n.outputs}

    def consumers(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, n in enumerate(self.nodes):
            for name in n.inputs:
                if name is not None:
                    out.setdefault(name, []).append(i)
        return out

    def activations(self) -> list[str]:
        """Names of non-constant tensors: what lives in the arena (or the I/O buffers)."""
        seen, order = set(), []
        for name in list(self.inputs) + [o for n in self.nodes for o in n.outputs]:
            if name not in seen and not self.tensors[name].is_const:
                seen.add(name)
                order.append(name)
        return order

    def validate(self) -> None:
        """Structural checks every stage may rely on: names resolve, order is topological."""
        where = f"{self.source or self.name}"
        known = {n for n, t in self.tensors.items() if t.is_const} | set(self.inputs)
        for i, node in enumerate(self.nodes):
            for name in node.inputs:
                if name is None:
                    continue
                if name not in self.tensors:
                    raise MicrolithError(f"{where}: op #{i} {node.op.value} reads unknown tensor '{name}'")
                if name not in known:
                    raise MicrolithError(f"{where}: op #{i} {node.op.value} reads tensor '{name}' "
                                         "before any op writes it (graph is not in topological order)")
            for name in node.outputs:
                if name not in self.tensors:
                    raise MicrolithError(f"{where}: op #{i} {node.op.value} writes unknown tensor '{name}'")
                known.add(name)
        for name in self.outputs:
            if name not in known:
                raise MicrolithError(f"{where}: graph output '{name}' is never computed")


def macs(graph: Graph) -> int:
    """Multiply-accumulates of the conv and fully-connected layers (the figure MLPerf quotes)."""
    total = 0
    for node in graph.nodes:
        if node.op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D):
            out = graph.t(node.outputs[0]).shape
            w = graph.t(node.inputs[1]).shape  # conv: [Co,Kh,Kw,Ci]; depthwise: [1,Kh,Kw,Co]
            per_out = w[1] * w[2] * (w[3] if node.op is Op.CONV_2D else 1)
            total += int(np.prod(out)) * per_out
        elif node.op is Op.FULLY_CONNECTED:
            w = graph.t(node.inputs[1]).shape
            total += int(np.prod(graph.t(node.outputs[0]).shape)) * w[1]
    return total
